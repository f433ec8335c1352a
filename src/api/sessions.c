/* /api/v1/sessions and /api/v1/sessions/{id}. */
#include "api/api.h"
#include "http/json.h"
#include "util/err.h"

#include <string.h>

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
	http_reply_json(req, 201, api_session_json(&s));
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
	rc = store_session_list(ctx->st, have_cur ? &cur : NULL, limit, &list, &n, &next, &has_next);
	if (rc) {
		api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_EDB : rc);
		return;
	}
	data = json_array();
	for (size_t i = 0; data && i < n; i++)
		if (json_array_append_new(data, api_session_json(&list[i]))) {
			json_decref(data);
			data = NULL;
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
	struct api_ctx *ctx = http_req_app(req);
	struct store_session s;
	char id[STORE_ID_LEN];
	int rc;

	if (!api_session_id_param(req, id))
		return;
	memset(&s, 0, sizeof(s));
	rc = svc_session_get(ctx->svc, id, &s);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	http_reply_json(req, 200, api_session_json(&s));
	store_session_release(&s);
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
	http_reply_empty(req, 204);
}
