/*
 * /api/v1/sandbox: the built-in simulator of `yesapp serve --sandbox`
 * (src/sim/sim_thread.c). POST /api/v1/sandbox/scan plays the phone: the
 * simulator's phone of `phone` scans the session's current QR. The scan
 * runs on the simulator's own thread (sim_thread_scan); this thread only
 * waits for its answer. Without --sandbox the scan is 404 SANDBOX_DISABLED.
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "sim/sim.h"
#include "util/err.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

/* How long a scan waits for the simulator's thread, then for the session
 * to be connected (it answers with the status reached by then). */
#define API_SANDBOX_SCAN_MS 5000
#define API_SANDBOX_LINK_MS 5000

void api_sandbox_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	const struct sim_thread_info *si = ctx->sandbox ? sim_thread_info(ctx->sandbox) : NULL;

	http_reply_json(req, 200,
			json_pack("{s:b, s:s?, s:s?, s:s?}", "enabled", si != NULL, "wsUrl",
				  si ? si->ws_url : NULL, "controlUrl", si ? si->control_url : NULL,
				  "rootPublicKey", si ? si->root_hex : NULL));
}

static int is_linked(const struct store_session *x, const char *qr, void *arg)
{
	return x->status == STORE_SESSION_CONNECTED || x->status == STORE_SESSION_FAILED ||
	       x->status == STORE_SESSION_LOGGED_OUT;
}

static void no_qr(struct http_req *req)
{
	http_reply_error(req, 409, "QR_NOT_AVAILABLE",
			 "this session shows no QR code now (see its status; restart it to link "
			 "again)", NULL);
}

void api_sandbox_scan(struct http_req *req)
{
	static const char *const keys[] = { "sessionId", "phone", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN], phone[API_PHONE_MAX + 1], jid[128];
	const char *sid, *ph;
	struct store_session s;
	json_t *body, *d = NULL;
	char *qr;
	int rc;

	if (!ctx->sandbox) {
		http_reply_error(req, 404, "SANDBOX_DISABLED",
				 "the sandbox is off: start the server with --sandbox (or SANDBOX=1)",
				 NULL);
		return;
	}
	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "sessionId", 1, 1, 64, &sid, &d) != Y_OK)
		goto invalid;
	if (!api_uuid_parse(sid, strlen(sid), id)) {
		d = http_json_field_error("sessionId", "must be a UUID");
		goto invalid;
	}
	if (http_json_get_string(body, "phone", 1, 1, 64, &ph, &d) != Y_OK)
		goto invalid;
	if (!api_phone_parse(ph, phone)) {
		json_decref(body);
		http_reply_error(req, 400, "INVALID_PHONE_NUMBER",
				 "phone must be an international number: optional +, 7 to 15 digits",
				 http_json_field_error("phone", "not an E.164 number"));
		return;
	}
	json_decref(body);
	if (!api_scope_check(req, id))
		return;
	if (!svc_session_exists(ctx->svc, id)) {
		api_reply_store_error(req, Y_ENOTFOUND);
		return;
	}
	qr = svc_session_qr(ctx->svc, id);
	if (!qr) {
		no_qr(req);
		return;
	}
	rc = sim_thread_scan(ctx->sandbox, phone, qr, jid, sizeof(jid), API_SANDBOX_SCAN_MS);
	free(qr);
	if (rc == Y_ENOTFOUND) { /* the QR rotated or the connection went meanwhile */
		no_qr(req);
		return;
	}
	if (rc == Y_ETIMEOUT || rc == Y_ECLOSED) {
		http_reply_error(req, 503, "SANDBOX_UNAVAILABLE",
				 "the sandbox simulator did not answer; try again", NULL);
		return;
	}
	if (rc) {
		LOG_ERROR("sandbox scan failed", "{s:s, s:s, s:s}", "session", id, "error",
			  y_strerror(rc), "requestId", http_req_id(req));
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		return;
	}
	LOG_INFO("sandbox scan", "{s:s, s:s, s:s}", "session", id, "phone", phone, "deviceJid", jid);
	/* the client pairs, restarts its stream and logs in: wait for that */
	svc_session_wait(ctx->svc, id, is_linked, NULL, API_SANDBOX_LINK_MS);
	memset(&s, 0, sizeof(s));
	rc = svc_session_get(ctx->svc, id, &s);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	http_reply_json(req, 200,
			json_pack("{s:s, s:s, s:s, s:s}", "sessionId", id, "phone", phone,
				  "deviceJid", jid, "status", store_session_status_name(s.status)));
	store_session_release(&s);
	return;
invalid:
	json_decref(body);
	api_reply_invalid(req, d);
}
