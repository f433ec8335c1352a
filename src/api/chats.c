/*
 * GET /api/v1/sessions/{id}/chats (latest activity first, with each chat's
 * latest message and unread count) and the filters of GET .../messages
 * (chat, direction, status, since, until). HTTP threads; the store does
 * the work with indexes (migrations/0009_chats.sql).
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

/* A chat JID as the store keeps it: user@server for a person (phone
 * number or LID), a group or a broadcast list; no device part. */
static int chat_jid_ok(const char *s)
{
	static const char *const servers[] = { "s.whatsapp.net", "lid", "g.us", "broadcast",
					       "newsletter", NULL };
	const char *at = strchr(s, '@');
	size_t n = at ? (size_t)(at - s) : 0;

	if (!at || n == 0 || n > 40)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return 0;
	for (size_t i = 0; servers[i]; i++)
		if (!strcmp(at + 1, servers[i]))
			return 1;
	return 0;
}

int api_message_filter_args(struct http_req *req, struct store_message_filter *f,
			    char chat[API_CHAT_MAX])
{
	static const char *const statuses[] = { "pending", "sent", "delivered", "read", "failed",
						"received", NULL };
	const char *v, *bad = NULL, *why = NULL;
	char phone[API_PHONE_MAX + 1];
	int present;

	memset(f, 0, sizeof(*f));
	f->direction = -1;
	v = http_req_query(req, "chat", &present);
	if (present) {
		if (v && strchr(v, '@') && strlen(v) < API_CHAT_MAX && chat_jid_ok(v))
			snprintf(chat, API_CHAT_MAX, "%s", v);
		else if (v && !strchr(v, '@') && api_phone_parse(v, phone))
			snprintf(chat, API_CHAT_MAX, "%s@s.whatsapp.net", phone);
		else
			bad = "chat", why = "a JID (digits@s.whatsapp.net, digits@lid, …@g.us) or "
					    "an international number";
		f->chat = chat;
	}
	v = http_req_query(req, "direction", &present);
	if (!bad && present) {
		if (v && (!strcmp(v, "in") || !strcmp(v, "inbound")))
			f->direction = 0;
		else if (v && (!strcmp(v, "out") || !strcmp(v, "outbound")))
			f->direction = 1;
		else
			bad = "direction", why = "in or out";
	}
	v = http_req_query(req, "status", &present);
	if (!bad && present) {
		for (size_t i = 0; v && statuses[i] && !f->status; i++)
			if (!strcmp(v, statuses[i]))
				f->status = statuses[i];
		if (!f->status)
			bad = "status",
			why = "pending, sent, delivered, read, failed or received";
	}
	v = http_req_query(req, "since", &present);
	if (!bad && present && !(f->has_since = api_time_parse(v, &f->since)))
		bad = "since", why = "an ISO 8601 time (2026-01-02T03:04:05Z or 2026-01-02)";
	v = http_req_query(req, "until", &present);
	if (!bad && present && !(f->has_until = api_time_parse(v, &f->until)))
		bad = "until", why = "an ISO 8601 time (2026-01-02T03:04:05Z or 2026-01-02)";
	if (!bad && f->has_since && f->has_until && f->until < f->since)
		bad = "until", why = "must not be before since";
	if (bad) {
		api_reply_invalid(req, http_json_field_error(bad, why));
		return 0;
	}
	return 1;
}

static json_t *chat_json(const struct store_chat *c)
{
	return json_pack("{s:s, s:o, s:n, s:o, s:I, s:o, s:b}", "chat", c->last.chat, "phone",
			 c->phone ? json_string(c->phone) : json_null(), "name", "lastMessage",
			 api_message_json(&c->last), "unread", (json_int_t)c->unread,
			 "lastMessageAt", api_time_json(c->last.timestamp), "archived", c->archived);
}

void api_chats_list(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_cursor cur, next;
	struct store_chat *list = NULL;
	char id[STORE_ID_LEN], scope[16 + STORE_ID_LEN];
	size_t n = 0;
	int limit, have_cur, has_next = 0, rc;
	json_t *data, *page;

	if (!api_session_use_param(req, id))
		return;
	snprintf(scope, sizeof(scope), "chats:%s", id);
	if (!api_page_args(req, scope, &limit, &cur, &have_cur))
		return;
	rc = store_chat_list(ctx->st, id, have_cur ? &cur : NULL, limit, &list, &n, &next,
			     &has_next);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	data = json_array();
	for (size_t i = 0; data && i < n; i++)
		if (json_array_append_new(data, chat_json(&list[i]))) {
			json_decref(data);
			data = NULL;
		}
	store_chats_free(list, n);
	page = data ? json_pack("{s:o}", "data", data) : NULL;
	if (!page || !api_page_next(req, page, scope, has_next, &next)) {
		json_decref(page);
		page = NULL;
	}
	http_reply_json(req, 200, page);
}
