/* /api/v1/sessions/{id}/messages: history (newest first) and sending. */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_messages_list(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_cursor cur, next;
	struct store_message_filter f;
	struct store_message *list = NULL;
	char id[STORE_ID_LEN], scope[16 + STORE_ID_LEN], chat[API_CHAT_MAX];
	size_t n = 0;
	int limit, have_cur, has_next = 0, rc;
	json_t *data, *page;

	if (!api_session_use_param(req, id))
		return;
	snprintf(scope, sizeof(scope), "messages:%s", id);
	if (!api_page_args(req, scope, &limit, &cur, &have_cur) ||
	    !api_message_filter_args(req, &f, chat))
		return;
	rc = store_message_list_filtered(ctx->st, id, &f, have_cur ? &cur : NULL, limit, &list, &n,
					 &next, &has_next);
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

/* `to` as a JID we can send to: a phone-number or LID user JID (digits
 * before the @), without a device. */
static int parse_to_jid(const char *to, char *out, size_t cap)
{
	const char *at = strchr(to, '@');
	size_t n = at ? (size_t)(at - to) : 0;

	if (!at || n == 0 || n > 32 || (strcmp(at + 1, "s.whatsapp.net") && strcmp(at + 1, "lid")))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (to[i] < '0' || to[i] > '9')
			return 0;
	return snprintf(out, cap, "%s", to) < (int)cap;
}

/*
 * Validates {"to": E.164 number or JID, "text": 1..API_TEXT_MAX chars},
 * then asks the session service to queue it: 202 with the message stored
 * pending; 503 SESSION_NOT_CONNECTED for a session that is not linked;
 * 429 QUEUE_FULL (with Retry-After) when its queue is full.
 */
void api_messages_send(struct http_req *req)
{
	static const char *const keys[] = { "to", "text", "quotedMessageId", "location",
					    "contacts", "poll", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct store_message m;
	char id[STORE_ID_LEN], phone[API_PHONE_MAX + 1], jid[64];
	const char *to, *text = NULL;
	json_t *body, *d = NULL;
	int rc, retry = 0;

	if (!api_session_use_param(req, id))
		return;
	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "to", 1, 1, 64, &to, &d) != Y_OK ||
	    (!api_send_is_kind(body) &&
	     http_json_get_string(body, "text", 1, 1, API_TEXT_MAX, &text, &d) != Y_OK)) {
		json_decref(body);
		api_reply_invalid(req, d);
		return;
	}
	if (strchr(to, '@') ? !parse_to_jid(to, jid, sizeof(jid)) : !api_phone_parse(to, phone)) {
		json_decref(body);
		http_reply_error(req, 400, "INVALID_PHONE_NUMBER",
				 "to must be an international number (optional +, 7 to 15 digits) "
				 "or a JID (digits@s.whatsapp.net, digits@lid)",
				 http_json_field_error("to", "not an E.164 number or a JID"));
		return;
	}
	if (!strchr(to, '@'))
		snprintf(jid, sizeof(jid), "%s@s.whatsapp.net", phone);
	if (api_send_is_kind(body)) { /* a reply, location or contact cards: chatkinds.c */
		api_send_kind(req, id, jid, body);
		json_decref(body);
		return;
	}
	memset(&m, 0, sizeof(m));
	rc = svc_send_text(ctx->svc, id, jid, text, &m, &retry);
	json_decref(body);
	api_reply_accepted(req, rc, retry, &m);
}

void api_reply_accepted(struct http_req *req, int rc, int retry, struct store_message *mp)
{
	struct store_message m = *mp;
	json_t *d;

	if (rc == Y_ESTATE) {
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not linked to WhatsApp", NULL);
		return;
	}
	if (rc == Y_EBUSY) {
		http_req_set_retry_after(req, retry > 0 ? retry : 1);
		http_reply_error(req, 429, "QUEUE_FULL",
				 "too many messages wait to be sent in this session", NULL);
		return;
	}
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	d = api_message_json(&m); /* the message, with messageId beside its id */
	if (d && json_object_set_new(d, "messageId", json_string(m.id))) {
		json_decref(d);
		d = NULL;
	}
	http_reply_json(req, 202, d);
	store_message_release(&m);
}

/* The session id and message id path parameters; 0 after answering 400. */
int api_message_params(struct http_req *req, char sid[STORE_ID_LEN], char mid[STORE_ID_LEN])
{
	size_t len;
	const char *p;

	if (!api_session_use_param(req, sid))
		return 0;
	p = http_req_param(req, 1, &len);
	if (!p || !api_uuid_parse(p, len, mid)) {
		http_reply_error(req, 404, "MESSAGE_NOT_FOUND", "no such message", NULL);
		return 0;
	}
	return 1;
}

/* Answers for one message: 200 with it (released), or the error rc means. */
static void reply_message(struct http_req *req, const char *sid, int rc, struct store_message *m)
{
	struct api_ctx *ctx = http_req_app(req);

	if (rc == Y_ENOTFOUND && svc_session_exists(ctx->svc, sid))
		http_reply_error(req, 404, "MESSAGE_NOT_FOUND", "no such message", NULL);
	else if (rc == Y_EINVAL)
		http_reply_error(req, 400, "VALIDATION_ERROR", "only received messages can be read",
				 NULL);
	else if (rc == Y_ESTATE)
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
	else if (rc)
		api_reply_store_error(req, rc);
	if (rc)
		return;
	http_reply_json(req, 200, api_message_json(m));
	store_message_release(m);
}

/* GET /api/v1/sessions/{id}/messages/{messageId} */
void api_message_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_message m;
	char sid[STORE_ID_LEN], mid[STORE_ID_LEN];

	int rc;
	char *reactions = NULL;
	json_t *j;

	if (!api_message_params(req, sid, mid))
		return;
	rc = svc_session_exists(ctx->svc, sid) ? store_message_get(ctx->st, sid, mid, &m)
					       : Y_ENOTFOUND;
	if (rc || !m.wa_id) {
		reply_message(req, sid, rc, &m);
		return;
	}
	/* with the reactions it has, one per author (issue 15) */
	rc = store_message_reactions(ctx->st, sid, m.wa_id, &reactions);
	j = rc ? NULL : api_message_json(&m);
	if (j && json_object_set_new(j, "reactions", json_loads(reactions, 0, NULL))) {
		json_decref(j);
		j = NULL;
	}
	free(reactions);
	store_message_release(&m);
	if (rc)
		api_reply_store_error(req, rc);
	else
		http_reply_json(req, 200, j);
}

/* POST /api/v1/sessions/{id}/messages/{messageId}/read: a read receipt
 * for an inbound message; 200 with the message (status read). */
void api_message_read(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_message m;
	char sid[STORE_ID_LEN], mid[STORE_ID_LEN];

	if (!api_message_params(req, sid, mid))
		return;
	reply_message(req, sid, svc_mark_read(ctx->svc, sid, mid, &m), &m);
}
