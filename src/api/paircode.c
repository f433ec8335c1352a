/*
 * POST /api/v1/sessions/{id}/pair-code {"phoneNumber"}: linking by pair code
 * instead of QR. The session must be registering (status qr); the engine's
 * client asks WhatsApp for a code and this thread waits for it (up to
 * API_PAIR_CODE_WAIT_MS; the engine's loop never waits for us). The user
 * types the code into WhatsApp on the phone (Linked devices > Link with
 * phone number); the session then connects as after a QR scan.
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"
#include "util/log.h"

#include <string.h>

#define API_PAIR_CODE_WAIT_MS 5000
#define PAIR_PHONE_MIN 8

static int linked(const struct store_session *x)
{
	return x->status == STORE_SESSION_CONNECTED || (x->device_jid && *x->device_jid);
}

static void unavailable(struct http_req *req, const char *why)
{
	http_reply_error(req, 409, "PAIR_CODE_UNAVAILABLE", why, NULL);
}

void api_session_pair_code(struct http_req *req)
{
	static const char *const keys[] = { "phoneNumber", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct store_session x;
	char id[STORE_ID_LEN], phone[API_PHONE_MAX + 1], code[SVC_PAIR_CODE_LEN];
	const char *number;
	json_t *body, *d = NULL;
	int rc, is_linked;

	if (!api_session_id_param(req, id))
		return;
	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "phoneNumber", 1, 1, 32, &number, &d) != Y_OK) {
		json_decref(body);
		api_reply_invalid(req, d);
		return;
	}
	if (!api_phone_parse(number, phone) || strlen(phone) < PAIR_PHONE_MIN) {
		json_decref(body);
		http_reply_error(req, 400, "INVALID_PHONE_NUMBER",
				 "phoneNumber must be an international number: optional +, 8 to 15 "
				 "digits, the first not 0",
				 http_json_field_error("phoneNumber", "not an E.164 number"));
		return;
	}
	json_decref(body);
	memset(&x, 0, sizeof(x));
	rc = svc_session_get(ctx->svc, id, &x);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	is_linked = linked(&x);
	store_session_release(&x);
	if (is_linked) {
		http_reply_error(req, 409, "ALREADY_LINKED",
				 "this session is linked to a phone already; log it out first", NULL);
		return;
	}
	rc = svc_session_pair_code(ctx->svc, id, phone, code, API_PAIR_CODE_WAIT_MS);
	switch (rc) {
	case Y_OK:
		http_reply_json(req, 200, json_pack("{s:s}", "code", code));
		break;
	case Y_ENOTFOUND:
		api_reply_store_error(req, rc);
		break;
	case Y_EEXIST:
		http_reply_error(req, 409, "ALREADY_LINKED",
				 "this session is linked to a phone already; log it out first", NULL);
		break;
	case Y_ESTATE:
		unavailable(req, "the session is not waiting to be linked (no QR on show): restart "
				 "it, then ask again");
		break;
	case Y_EBUSY:
		unavailable(req, "a pair code is being made or entered for this session; try again "
				 "in a moment");
		break;
	case Y_ECLOSED:
		unavailable(req, "the connection to WhatsApp ended meanwhile; try again once the "
				 "session shows a QR");
		break;
	case Y_EINVAL:
		http_reply_error(req, 400, "INVALID_PHONE_NUMBER",
				 "WhatsApp refused a pair code for this number",
				 http_json_field_error("phoneNumber", "refused by WhatsApp"));
		break;
	case Y_EUNSUPPORTED:
		http_reply_error(req, 503, "ENGINE_UNAVAILABLE", "the WhatsApp engine is not running",
				 NULL);
		break;
	case Y_ETIMEOUT:
		http_reply_error(req, 503, "ENGINE_UNAVAILABLE",
				 "WhatsApp did not answer in time; try again", NULL);
		break;
	default:
		LOG_ERROR("pair code failed", "{s:s, s:s}", "session", id, "error", y_strerror(rc));
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		break;
	}
}
