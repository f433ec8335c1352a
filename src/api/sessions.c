/* /api/v1/sessions and /api/v1/sessions/{id}. */
#include "api/api.h"
#include "http/json.h"
#include "service/media.h"
#include "service/retention.h"
#include "util/err.h"
#include "util/qr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long POST /sessions waits for the first QR, and logout/restart for
 * their effect, before answering with what is there. */
#define API_SESSION_WAIT_MS 3000
#define API_QR_PNG_SCALE 8
#define API_QR_MARGIN 4

/* Answers 200/201 with session `id` as the registry has it now. */
static void reply_session(struct http_req *req, int status, const char *id)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_session s;
	char *qr;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = svc_session_get(ctx->svc, id, &s);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	qr = svc_session_qr(ctx->svc, id);
	{
		json_t *j = api_session_json(&s, qr);

		api_passkey_decorate(ctx->svc, id, j);
		http_reply_json(req, status, j);
	}
	free(qr);
	store_session_release(&s);
}

/* Done once a new session left pending (and shows its QR when on QR). */
static int has_qr_or_moved(const struct store_session *x, const char *qr, void *arg)
{
	return x->status != STORE_SESSION_PENDING && (x->status != STORE_SESSION_QR || qr);
}

void api_sessions_create(struct http_req *req)
{
	static const char *const keys[] = { "name", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct store_session s;
	json_t *body, *d = NULL;
	const char *name;
	int rc;

	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "name", 1, 1, API_SESSION_NAME_MAX, &name, &d) != Y_OK)
		goto invalid;
	for (const char *p = name; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			d = http_json_field_error("name", "must not contain control characters");
			goto invalid;
		}
	}
	memset(&s, 0, sizeof(s));
	rc = svc_session_create(ctx->svc, name, &s);
	json_decref(body);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	/* a scoped key's new session joins its scope */
	if (api_scope_key(req) && (rc = store_key_scope_add(ctx->st, api_scope_key(req), s.id))) {
		svc_delete_session(ctx->svc, s.id);
		store_session_release(&s);
		api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_EDB : rc);
		return;
	}
	http_req_set_note(req, s.id); /* for the audit row */
	/* the engine started the client: show its first QR if it comes soon */
	svc_session_wait(ctx->svc, s.id, has_qr_or_moved, NULL, API_SESSION_WAIT_MS);
	reply_session(req, 201, s.id);
	store_session_release(&s);
	return;
invalid:
	json_decref(body);
	api_reply_invalid(req, d);
}

void api_sessions_list(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_cursor cur, next;
	struct store_session *list = NULL;
	size_t n = 0;
	int limit, have_cur, has_next = 0, rc;
	json_t *data, *page;

	if (!api_page_args(req, "sessions", &limit, &cur, &have_cur))
		return;
	rc = store_session_list_scoped(ctx->st, api_scope_key(req), have_cur ? &cur : NULL, limit,
				       &list, &n, &next, &has_next);
	if (rc) {
		api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_EDB : rc);
		return;
	}
	data = json_array();
	for (size_t i = 0; data && i < n; i++) {
		/* the live copy, so the list and GET /sessions/{id} agree */
		struct store_session live;
		char *qr = svc_session_qr(ctx->svc, list[i].id);
		int live_ok = svc_session_get(ctx->svc, list[i].id, &live) == Y_OK;

		json_t *sj = api_session_json(live_ok ? &live : &list[i], qr);

		api_passkey_decorate(ctx->svc, list[i].id, sj);
		if (json_array_append_new(data, sj)) {
			json_decref(data);
			data = NULL;
		}
		if (live_ok)
			store_session_release(&live);
		free(qr);
	}
	store_sessions_free(list, n);
	page = data ? json_pack("{s:o}", "data", data) : NULL;
	if (!page || !api_page_next(req, page, "sessions", has_next, &next)) {
		json_decref(page);
		page = NULL;
	}
	http_reply_json(req, 200, page);
}

void api_session_get(struct http_req *req)
{
	char id[STORE_ID_LEN];

	if (!api_session_use_param(req, id))
		return;
	reply_session(req, 200, id);
}

/* The QR image of a session: 404 QR_NOT_AVAILABLE when none is on show.
 * A QR lives 20-60 s, so it may be cached that long, keyed by its ETag. */
static void reply_qr(struct http_req *req, int svg)
{
	struct api_ctx *ctx = http_req_app(req);
	struct ybuf img = YBUF_INIT(1 << 20);
	char id[STORE_ID_LEN], etag[40];
	uint64_t h = 1469598103934665603ULL;
	char *qr;
	int rc;

	if (!api_session_id_param(req, id))
		return;
	if (!svc_session_exists(ctx->svc, id)) {
		api_reply_store_error(req, Y_ENOTFOUND);
		return;
	}
	qr = svc_session_qr(ctx->svc, id);
	if (!qr) {
		http_reply_error(req, 404, "QR_NOT_AVAILABLE",
				 "this session shows no QR code now (see its status)", NULL);
		return;
	}
	for (const char *p = qr; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(etag, sizeof(etag), "\"%016llx%s\"", (unsigned long long)h, svg ? "s" : "p");
	if (http_req_etag_match(req, etag)) {
		free(qr);
		http_reply_bytes(req, 304, NULL, NULL, 0, "private, max-age=20", etag);
		return;
	}
	rc = svg ? yqr_svg(qr, API_QR_MARGIN, &img) : yqr_png(qr, API_QR_PNG_SCALE, API_QR_MARGIN, &img);
	free(qr);
	if (rc) {
		ybuf_release(&img);
		http_reply_error(req, 500, "INTERNAL_ERROR", "could not draw the QR code", NULL);
		return;
	}
	http_reply_bytes(req, 200, svg ? "image/svg+xml" : "image/png", img.data, img.len,
			 "private, max-age=20", etag);
	ybuf_release(&img);
}

void api_session_qr_png(struct http_req *req)
{
	reply_qr(req, 0);
}

void api_session_qr_svg(struct http_req *req)
{
	reply_qr(req, 1);
}

static int is_logged_out(const struct store_session *x, const char *qr, void *arg)
{
	return x->status == STORE_SESSION_LOGGED_OUT;
}

/* A restarted session is back once it shows a QR or is connected. */
static int restarted(const struct store_session *x, const char *qr, void *arg)
{
	return (qr && x->status == STORE_SESSION_QR) || x->status == STORE_SESSION_CONNECTED;
}

/* POST .../logout and .../restart answer with the session once the change
 * shows (or after API_SESSION_WAIT_MS with what is there). */
static void engine_call(struct http_req *req, int (*call)(struct svc *, const char *),
			int (*done)(const struct store_session *, const char *, void *))
{
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN];
	int rc;

	if (!api_session_id_param(req, id))
		return;
	rc = call(ctx->svc, id);
	if (rc == Y_ESTATE) {
		http_reply_error(req, 503, "ENGINE_UNAVAILABLE", "the WhatsApp engine is not running",
				 NULL);
		return;
	}
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	svc_session_wait(ctx->svc, id, done, NULL, API_SESSION_WAIT_MS);
	reply_session(req, 200, id);
}

void api_session_logout(struct http_req *req)
{
	engine_call(req, svc_session_logout, is_logged_out);
}

void api_session_restart(struct http_req *req)
{
	engine_call(req, svc_session_restart, restarted);
}

/* Deleting answers 204 No Content; an unknown id is 404 SESSION_NOT_FOUND. */
void api_session_delete(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN];
	int rc;

	if (!api_session_id_param(req, id))
		return;
	rc = svc_delete_session(ctx->svc, id);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	/* its messages' media files go with it (their rows went in cascade) */
	if (ctx->data_dir)
		media_sweep(ctx->st, ctx->data_dir, RETENTION_MEDIA_SWEEP_MAX);
	http_reply_empty(req, 204);
}
