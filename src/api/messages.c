/* /api/v1/sessions/{id}/messages: history (newest first) and sending. */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

void api_messages_list(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_cursor cur, next;
	struct store_message *list = NULL;
	char id[STORE_ID_LEN], scope[16 + STORE_ID_LEN];
	size_t n = 0;
	int limit, have_cur, has_next = 0, rc;
	json_t *data, *page;

	if (!api_session_use_param(req, id))
		return;
	snprintf(scope, sizeof(scope), "messages:%s", id);
	if (!api_page_args(req, scope, &limit, &cur, &have_cur))
		return;
	rc = store_message_list(ctx->st, id, have_cur ? &cur : NULL, limit, &list, &n, &next,
				&has_next);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	data = json_array();
	for (size_t i = 0; data && i < n; i++)
		if (json_array_append_new(data, api_message_json(&list[i]))) {
			json_decref(data);
			data = NULL;
		}
	store_messages_free(list, n);
	page = data ? json_pack("{s:o}", "data", data) : NULL;
	if (!page || !api_page_next(req, page, scope, has_next, &next)) {
		json_decref(page);
		page = NULL;
	}
	http_reply_json(req, 200, page);
}

/*
 * Validates {"to": E.164 number, "text": 1..4096 chars}, then asks the
 * session service to send. Without a connected WhatsApp session this is
 * 503 SESSION_NOT_CONNECTED; on success 202 with the queued message.
 */
void api_messages_send(struct http_req *req)
{
	static const char *const keys[] = { "to", "text", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct store_message m;
	char id[STORE_ID_LEN], phone[API_PHONE_MAX + 1];
	const char *to, *text;
	json_t *body, *d = NULL;
	int rc;

	if (!api_session_use_param(req, id))
		return;
	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "to", 1, 1, 64, &to, &d) != Y_OK ||
	    http_json_get_string(body, "text", 1, 1, API_TEXT_MAX, &text, &d) != Y_OK) {
		json_decref(body);
		api_reply_invalid(req, d);
		return;
	}
	if (!api_phone_parse(to, phone)) {
		json_decref(body);
		http_reply_error(req, 400, "INVALID_PHONE_NUMBER",
				 "to must be an international number: optional +, 7 to 15 digits",
				 http_json_field_error("to", "not an E.164 number"));
		return;
	}
	memset(&m, 0, sizeof(m));
	rc = svc_send_text(ctx->svc, id, phone, text, &m);
	json_decref(body);
	if (rc == Y_ESTATE) {
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
		return;
	}
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	http_reply_json(req, 202, api_message_json(&m));
	store_message_release(&m);
}
