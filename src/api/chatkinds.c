/*
 * Issue 15, what people do in a chat beyond plain text: replies, locations
 * and contact cards (through POST .../messages), reactions, edits, deletes,
 * presence and typing. Each builds the stored body of its kind
 * (src/service/msgkind.h) and hands it to the session service like a text.
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "service/msgkind.h"
#include "util/clock.h"
#include "util/codec.h"
#include "wa/crypto.h"
#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_EDIT_WINDOW_MS (15 * 60 * 1000) /* WhatsApp's help centre: 15 minutes */
#define API_CONTACTS_MAX 20
#define API_VCARD_MAX 16384

/* ---- one grapheme cluster ---- */

/* Decodes one code point of valid UTF-8 (the JSON parser checked it). */
static uint32_t next_cp(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t c = *s;
	int n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;

	if (n)
		c &= 0x3F >> n;
	for (int i = 1; i <= n; i++)
		c = c << 6 | (s[i] & 0x3F);
	*p = s + n + 1;
	return c;
}

/* Code points that extend the cluster before them (a simplification of
 * UAX #29 that covers emoji: combining marks, variation selectors, skin
 * tones, the keycap, tags). */
static int extends(uint32_t c)
{
	return (c >= 0x300 && c <= 0x36F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
	       (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE00 && c <= 0xFE0F) ||
	       (c >= 0xFE20 && c <= 0xFE2F) || (c >= 0x1F3FB && c <= 0x1F3FF) ||
	       (c >= 0xE0020 && c <= 0xE007F) || (c >= 0xE0100 && c <= 0xE01EF);
}

static int regional(uint32_t c)
{
	return c >= 0x1F1E6 && c <= 0x1F1FF;
}

/* 1 if s (valid UTF-8) is at most one grapheme cluster: one base, its
 * extenders, ZWJ joins to further bases, or one pair of regional
 * indicators (a flag). */
static int api_one_grapheme(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	int after_zwj = 0;

	if (!*p)
		return 1;
	c = next_cp(&p);
	if (c == 0x200D || extends(c))
		return 0;
	if (regional(c)) {
		if (!*p || !regional(next_cp(&p)))
			return 0;
	}
	while (*p) {
		c = next_cp(&p);
		if (c == 0x200D) {
			if (after_zwj)
				return 0;
			after_zwj = 1;
		} else if (extends(c)) {
			if (after_zwj)
				return 0;
		} else if (after_zwj && c >= 0x2000 && !regional(c)) {
			after_zwj = 0; /* a ZWJ sequence: 👩‍💻 */
		} else {
			return 0;
		}
	}
	return !after_zwj;
}

/* ---- the message acted on ---- */

/* The target {id} of .../messages/{mid}: loaded into *m, or 0 after 404. */
static int load_target(struct http_req *req, char sid[STORE_ID_LEN], struct store_message *m)
{
	struct api_ctx *ctx = http_req_app(req);
	char mid[STORE_ID_LEN];
	int rc;

	if (!api_message_params(req, sid, mid))
		return 0;
	rc = svc_session_exists(ctx->svc, sid) ? store_message_get(ctx->st, sid, mid, m)
					       : Y_ENOTFOUND;
	if (rc == Y_OK && !m->wa_id) {
		store_message_release(m);
		rc = Y_ENOTFOUND;
	}
	if (rc == Y_ENOTFOUND)
		http_reply_error(req, 404, "MESSAGE_NOT_FOUND", "no such message", NULL);
	else if (rc)
		api_reply_store_error(req, rc);
	return rc == Y_OK;
}

/* The key of target t as the one acting on it names it (1:1 chats). */
static json_t *target_json(const struct store_message *t)
{
	return json_pack("{s:s, s:s, s:b}", "id", t->wa_id, "remoteJid", t->chat, "fromMe",
			 t->from_me);
}

static int is_revoked(const struct store_message *t)
{
	return t->body && strstr(t->body, "\"revoked\":true") != NULL;
}

/* Stores and queues o with body b (taken); answers. */
static void send_body(struct http_req *req, const char *sid, struct svc_outmsg *o, json_t *b)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_message m;
	char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
	int rc, retry = 0;

	if (!text) {
		json_decref(b);
		http_reply_error(req, 500, "INTERNAL_ERROR", "out of memory", NULL);
		return;
	}
	o->body = text;
	memset(&m, 0, sizeof(m));
	rc = svc_send_msg(ctx->svc, sid, o, &m, &retry); /* o may borrow from b */
	free(text);
	json_decref(b);
	api_reply_accepted(req, rc, retry, &m);
}

/* ---- POST .../messages with quotedMessageId, location or contacts ---- */

int api_send_is_kind(const json_t *body)
{
	return json_object_get(body, "quotedMessageId") || json_object_get(body, "location") ||
	       json_object_get(body, "contacts") || json_object_get(body, "poll");
}

static json_t *location_body(const json_t *l, json_t **d)
{
	static const char *const keys[] = { "latitude", "longitude", "name", "address", "url",
					     NULL };
	const json_t *la = json_object_get(l, "latitude"), *lo = json_object_get(l, "longitude");
	const char *name = NULL, *addr = NULL, *url = NULL;

	if (!json_is_object(l)) {
		*d = http_json_field_error("location", "must be an object");
		return NULL;
	}
	if (http_json_only_keys(l, keys, d))
		return NULL;
	if (!json_is_number(la) || !isfinite(json_number_value(la)) ||
	    fabs(json_number_value(la)) > 90) {
		*d = http_json_field_error("location.latitude", "a number from -90 to 90");
		return NULL;
	}
	if (!json_is_number(lo) || !isfinite(json_number_value(lo)) ||
	    fabs(json_number_value(lo)) > 180) {
		*d = http_json_field_error("location.longitude", "a number from -180 to 180");
		return NULL;
	}
	if (http_json_get_string(l, "name", 0, 1, 256, &name, d) == Y_EINVAL ||
	    http_json_get_string(l, "address", 0, 1, 1024, &addr, d) == Y_EINVAL ||
	    http_json_get_string(l, "url", 0, 1, 2048, &url, d) == Y_EINVAL)
		return NULL;
	return json_pack("{s:f, s:f, s:s?, s:s?, s:s?}", "latitude", json_number_value(la),
			 "longitude", json_number_value(lo), "name", name, "address", addr, "url",
			 url);
}

/* One card: {"name", "phone"} (we write the vCard) or {"name"?, "vcard"}. */
static json_t *contact_body(const json_t *c, size_t i, json_t **d)
{
	static const char *const keys[] = { "name", "phone", "vcard", NULL };
	const char *name = NULL, *phone = NULL, *vcard = NULL;
	char digits[API_PHONE_MAX + 1], field[40];
	json_t *o;
	char *made = NULL;

	snprintf(field, sizeof(field), "contacts[%zu]", i);
	if (!json_is_object(c)) {
		*d = http_json_field_error(field, "must be an object");
		return NULL;
	}
	if (http_json_only_keys(c, keys, d) ||
	    http_json_get_string(c, "name", !json_object_get(c, "vcard"), 1, 256, &name, d) ||
	    http_json_get_string(c, "vcard", 0, 1, API_VCARD_MAX, &vcard, d) == Y_EINVAL ||
	    http_json_get_string(c, "phone", !vcard, 1, 20, &phone, d) == Y_EINVAL)
		return NULL;
	if (vcard && (strncmp(vcard, "BEGIN:VCARD", 11) || !strstr(vcard, "END:VCARD"))) {
		*d = http_json_field_error(field, "vcard must be a vCard (BEGIN:VCARD ... END:VCARD)");
		return NULL;
	}
	if (!vcard && !api_phone_parse(phone, digits)) {
		*d = http_json_field_error(field, "phone must be an international number");
		return NULL;
	}
	if (!vcard && !(vcard = made = msgkind_vcard(name, digits)))
		return NULL;
	o = json_pack("{s:s?, s:s}", "name", name, "vcard", vcard);
	free(made);
	return o;
}

static json_t *contacts_body(const json_t *list, json_t **d)
{
	json_t *arr;

	if (!json_is_array(list) || !json_array_size(list) ||
	    json_array_size(list) > API_CONTACTS_MAX) {
		*d = http_json_field_error("contacts", "an array of 1 to 20 contacts");
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < json_array_size(list); i++) {
		json_t *c = contact_body(json_array_get(list, i), i, d);

		if (!c || json_array_append_new(arr, c)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr ? json_pack("{s:o}", "contacts", arr) : NULL;
}

/* {"name", "options": 2..12 distinct, "selectableCount"?: 0 (any) .. n,
 * default 1 (single choice)} plus a fresh 32-byte secret. */
static json_t *poll_body(const json_t *p, json_t **d)
{
	static const char *const keys[] = { "name", "options", "selectableCount", NULL };
	const json_t *opts = json_object_get(p, "options"), *cnt = json_object_get(p, "selectableCount");
	const char *name = NULL;
	uint8_t secret[32];
	char hex[65];
	size_t n = json_array_size(opts);
	json_t *list;

	if (!json_is_object(p)) {
		*d = http_json_field_error("poll", "must be an object");
		return NULL;
	}
	if (http_json_only_keys(p, keys, d) ||
	    http_json_get_string(p, "name", 1, 1, 255, &name, d))
		return NULL;
	if (!json_is_array(opts) || n < 2 || n > 12) {
		*d = http_json_field_error("poll.options", "2 to 12 options");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *o = json_string_value(json_array_get(opts, i));

		for (size_t k = 0; o && k < i; k++)
			if (!strcmp(o, json_string_value(json_array_get(opts, k))))
				o = NULL;
		if (!o || !*o || http_utf8_chars(o, strlen(o)) > 100) {
			*d = http_json_field_error("poll.options",
						   "distinct texts of 1 to 100 characters");
			return NULL;
		}
	}
	if (cnt && (!json_is_integer(cnt) || json_integer_value(cnt) < 0 ||
		    json_integer_value(cnt) > (json_int_t)n)) {
		*d = http_json_field_error("poll.selectableCount",
					   "0 (any number) up to the number of options");
		return NULL;
	}
	if (wa_crypto_random(secret, sizeof(secret)))
		return NULL;
	codec_hex_encode(secret, sizeof(secret), hex);
	list = json_deep_copy(opts);
	return list ? json_pack("{s:s, s:o, s:I, s:s}", "name", name, "options", list,
				"selectableCount", cnt ? json_integer_value(cnt) : (json_int_t)1,
				"secret", hex)
		    : NULL;
}

/* A reply: the quoted message's id, author and text. */
static json_t *quoted_json(struct http_req *req, const char *sid, const char *qid, json_t **d,
			   int *answered)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_message q;
	char uuid[STORE_ID_LEN];
	json_t *o;

	if (!api_uuid_parse(qid, strlen(qid), uuid) || store_message_get(ctx->st, sid, uuid, &q)) {
		http_reply_error(req, 404, "MESSAGE_NOT_FOUND", "the quoted message does not exist",
				 http_json_field_error("quotedMessageId", "no such message"));
		*answered = 1;
		return NULL;
	}
	o = q.wa_id ? json_pack("{s:s, s:s?, s:s?}", "id", q.wa_id, "participant", q.from_jid,
				"text", q.text)
		    : NULL;
	if (!q.wa_id)
		*d = http_json_field_error("quotedMessageId", "the message has no WhatsApp id");
	store_message_release(&q);
	return o;
}

void api_send_kind(struct http_req *req, const char *sid, const char *to_jid, json_t *body)
{
	const json_t *loc = json_object_get(body, "location"), *cts = json_object_get(body, "contacts");
	const json_t *poll = json_object_get(body, "poll");
	const char *text = NULL, *qid = NULL;
	struct svc_outmsg o;
	json_t *b = NULL, *d = NULL, *q;
	int answered = 0;

	memset(&o, 0, sizeof(o));
	o.to_jid = to_jid;
	if (!!loc + !!cts + !!poll + !!json_object_get(body, "text") != 1) {
		api_reply_invalid(req, http_json_field_error(
					       "text", "give exactly one of text, location, contacts, poll"));
		return;
	}
	if (loc) {
		o.type = "location";
		b = location_body(loc, &d);
	} else if (cts) {
		o.type = "contacts";
		b = contacts_body(cts, &d);
	} else if (poll) {
		o.type = "poll";
		b = poll_body(poll, &d);
	} else if (!http_json_get_string(body, "text", 1, 1, API_TEXT_MAX, &text, &d)) {
		o.type = "text";
		o.text = text;
		b = json_pack("{s:s}", "text", text);
	}
	if (b && json_object_get(body, "quotedMessageId")) {
		if (http_json_get_string(body, "quotedMessageId", 1, 1, 64, &qid, &d) ||
		    strcmp(o.type, "text")) {
			if (!d)
				d = http_json_field_error("quotedMessageId", "replies are texts");
			json_decref(b);
			b = NULL;
		} else if ((q = quoted_json(req, sid, qid, &d, &answered))) {
			o.quoted_id = json_string_value(json_object_get(q, "id"));
			json_object_set_new(b, "quoted", q);
		} else {
			json_decref(b);
			b = NULL;
		}
	}
	if (answered)
		return;
	if (!b) {
		api_reply_invalid(req, d);
		return;
	}
	json_decref(d);
	send_body(req, sid, &o, b);
}

/* ---- reactions, edits, deletes ---- */

/* The common start of an action on message {mid}: the target in *t and the
 * one string field `key` of the body in *val (min..max characters). NULL
 * after answering (t released); else the body, which *val borrows. */
static json_t *action_begin(struct http_req *req, char sid[STORE_ID_LEN], struct store_message *t,
			    const char *key, size_t min, size_t max, const char **val)
{
	const char *keys[] = { key, NULL };
	json_t *body, *d = NULL;

	if (!load_target(req, sid, t))
		return NULL;
	body = api_body_object(req, keys);
	if (body && http_json_get_string(body, key, 1, min, max, val, &d)) {
		api_reply_invalid(req, d);
		json_decref(body);
		body = NULL;
	}
	if (!body)
		store_message_release(t);
	return body;
}

/* An outbound message of `type` acting on target t. */
static void action_out(struct svc_outmsg *o, const struct store_message *t, const char *type,
		       int fx)
{
	memset(o, 0, sizeof(*o));
	o->to_jid = t->chat;
	o->type = type;
	o->fx.kind = fx;
	o->fx.target_wa_id = t->wa_id;
}

void api_message_react(struct http_req *req)
{
	struct store_message t;
	struct svc_outmsg o;
	char sid[STORE_ID_LEN];
	const char *emoji = NULL;
	json_t *body = action_begin(req, sid, &t, "emoji", 0, 16, &emoji);

	if (!body)
		return;
	if (!api_one_grapheme(emoji)) {
		api_reply_invalid(req, http_json_field_error("emoji", "one emoji (one grapheme "
								      "cluster), or \"\" to remove"));
	} else {
		action_out(&o, &t, "reaction", STORE_FX_REACTION);
		o.fx.emoji = emoji;
		send_body(req, sid, &o,
			  json_pack("{s:s, s:o, s:I}", "emoji", emoji, "target", target_json(&t),
				    "senderTimestampMs", (json_int_t)clock_now_ms()));
	}
	json_decref(body);
	store_message_release(&t);
}

void api_message_edit(struct http_req *req)
{
	struct store_message t;
	struct svc_outmsg o;
	char sid[STORE_ID_LEN];
	const char *text = NULL;
	json_t *body = action_begin(req, sid, &t, "text", 1, API_TEXT_MAX, &text);

	if (!body)
		return;
	if (!t.from_me || strcmp(t.type, "text") || is_revoked(&t) || !strcmp(t.status, "failed")) {
		http_reply_error(req, 409, "MESSAGE_NOT_EDITABLE",
				 "only texts this session sent (not deleted, not failed) can be "
				 "edited",
				 NULL);
	} else if (clock_now_ms() - t.timestamp > API_EDIT_WINDOW_MS) {
		http_reply_error(req, 409, "EDIT_WINDOW_EXPIRED",
				 "WhatsApp allows edits for 15 minutes after sending", NULL);
	} else {
		action_out(&o, &t, "edit", STORE_FX_EDIT);
		o.text = o.fx.text = text;
		send_body(req, sid, &o,
			  json_pack("{s:s, s:o, s:I}", "text", text, "target", target_json(&t),
				    "timestampMs", (json_int_t)clock_now_ms()));
	}
	json_decref(body);
	store_message_release(&t);
}

void api_message_delete(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_message t;
	struct svc_outmsg o;
	char sid[STORE_ID_LEN];
	int present = 0, rc;
	const char *fe = http_req_query(req, "forEveryone", &present);

	if (present && (!fe || (strcmp(fe, "true") && strcmp(fe, "false")))) {
		api_reply_invalid(req, http_json_field_error("forEveryone", "true or false"));
		return;
	}
	if (!load_target(req, sid, &t))
		return;
	if (!fe || strcmp(fe, "true")) { /* for me: here, and our other devices by app state */
		rc = store_message_delete(ctx->st, sid, t.id);
		if (rc) {
			api_reply_store_error(req, rc);
		} else {
			struct svc_as_action a = { SVC_AS_DELETE_FOR_ME, t.chat, t.wa_id, t.from_me != 0,
						   false, t.timestamp / 1000, 0 };
			int arc = t.wa_id && t.chat ? svc_appstate_write(ctx->svc, sid, &a) : Y_ESTATE;

			http_reply_json(req, 200, json_pack("{s:s, s:b, s:s}", "id", t.id, "deleted", 1,
							    "appState",
							    arc ? "not_connected" : "queued"));
		}
		store_message_release(&t);
		return;
	}
	if (!t.from_me || is_revoked(&t) || !strcmp(t.status, "failed") ||
	    !strcmp(t.type, "revoke")) {
		http_reply_error(req, 409, "MESSAGE_NOT_REVOCABLE",
				 "only messages this session sent can be deleted for everyone", NULL);
		store_message_release(&t);
		return;
	}
	action_out(&o, &t, "revoke", STORE_FX_REVOKE);
	send_body(req, sid, &o, json_pack("{s:o}", "target", target_json(&t)));
	store_message_release(&t);
}

/* ---- presence and typing ---- */

static void reply_presence(struct http_req *req, const char *key, int rc, const char *state)
{
	if (rc == Y_ENOTFOUND)
		http_reply_error(req, 404, "SESSION_NOT_FOUND", "no such session", NULL);
	else if (rc == Y_ESTATE)
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
	else if (rc == Y_EINVAL)
		http_reply_error(req, 409, "PUSH_NAME_UNKNOWN",
				 "WhatsApp has not told this session its push name yet", NULL);
	else if (rc)
		api_reply_store_error(req, rc);
	else
		http_reply_json(req, 202, json_pack("{s:s}", key, state));
}

void api_presence_set(struct http_req *req)
{
	static const char *const keys[] = { "state", "name", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN];
	const char *st = NULL, *name = NULL;
	json_t *body, *d = NULL;

	if (!api_session_use_param(req, sid) || !(body = api_body_object(req, keys)))
		return;
	if (http_json_get_string(body, "state", 1, 1, 16, &st, &d) ||
	    (strcmp(st, "available") && strcmp(st, "unavailable")))
		api_reply_invalid(req, d ? d : http_json_field_error("state",
								     "available or unavailable"));
	else if (http_json_get_string(body, "name", 0, 1, 25, &name, &d) == Y_EINVAL ||
		 (name && strlen(name) > 60))
		api_reply_invalid(req, d ? d : http_json_field_error("name", "at most 60 bytes"));
	else
		reply_presence(req, "state", svc_presence(ctx->svc, sid, SVC_PRESENCE_OWN, name, st),
			       st);
	json_decref(body);
}

/* A chat JID (or E.164 number) into jid; 0 if it is neither. */
static int chat_jid(const char *s, size_t len, char *jid, size_t cap)
{
	char tmp[72], digits[API_PHONE_MAX + 1];
	const char *at;

	if (!len || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	at = strchr(tmp, '@');
	if (!at)
		return api_phone_parse(tmp, digits) &&
		       snprintf(jid, cap, "%s@s.whatsapp.net", digits) < (int)cap;
	if (at == tmp || (strcmp(at, "@s.whatsapp.net") && strcmp(at, "@lid")))
		return 0;
	for (const char *p = tmp; p < at; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return snprintf(jid, cap, "%s", tmp) < (int)cap;
}

/* The {chat} path parameter as a JID (72 bytes); 0 after answering 400. */
static int chat_param(struct http_req *req, char jid[72]);

/* The session, the chat and the body of a .../chats/{chat}/... call; NULL
 * after answering. */
static json_t *chat_begin(struct http_req *req, char sid[STORE_ID_LEN], char jid[72],
			  const char *const *keys)
{
	if (!api_session_use_param(req, sid) || !chat_param(req, jid))
		return NULL;
	return api_body_object(req, keys);
}

static int chat_param(struct http_req *req, char jid[72])
{
	size_t len = 0;
	const char *chat = http_req_param(req, 1, &len);

	if (chat && chat_jid(chat, len, jid, 72))
		return 1;
	http_reply_error(req, 400, "INVALID_PHONE_NUMBER",
			 "the chat must be an international number or a JID",
			 http_json_field_error("chat", "not a number or a JID"));
	return 0;
}

void api_chat_typing(struct http_req *req)
{
	static const char *const keys[] = { "state", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN], jid[72];
	const char *st = NULL;
	json_t *body, *d = NULL;

	if (!(body = chat_begin(req, sid, jid, keys)))
		return;
	if (http_json_get_string(body, "state", 1, 1, 16, &st, &d) ||
	    (strcmp(st, "composing") && strcmp(st, "recording") && strcmp(st, "paused")))
		api_reply_invalid(req, d ? d : http_json_field_error(
							"state", "composing, recording or paused"));
	else
		reply_presence(req, "state",
			       svc_presence(ctx->svc, sid, SVC_PRESENCE_CHATSTATE, jid, st), st);
	json_decref(body);
}

void api_presence_subscribe(struct http_req *req)
{
	static const char *const keys[] = { "to", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN], jid[72];
	const char *to = NULL;
	json_t *body, *d = NULL;

	if (!api_session_use_param(req, sid) || !(body = api_body_object(req, keys)))
		return;
	if (http_json_get_string(body, "to", 1, 1, 64, &to, &d) ||
	    !chat_jid(to, strlen(to), jid, sizeof(jid)))
		api_reply_invalid(req, d ? d : http_json_field_error("to", "a number or a JID"));
	else
		reply_presence(req, "state",
			       svc_presence(ctx->svc, sid, SVC_PRESENCE_SUBSCRIBE, jid, NULL),
			       "subscribed");
	json_decref(body);
}

/* ---- POST .../chats/{chat}/read {"messageId"?} ---- */

void api_chat_read(struct http_req *req)
{
	static const char *const keys[] = { "messageId", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN], jid[72], mid[STORE_ID_LEN];
	const char *m = NULL;
	size_t n = 0;
	json_t *body = NULL, *d = NULL;
	int rc;

	if (!(body = chat_begin(req, sid, jid, keys)))
		return;
	if (http_json_get_string(body, "messageId", 0, 1, 64, &m, &d) == Y_EINVAL) {
		api_reply_invalid(req, d);
		json_decref(body);
		return;
	}
	if (m && !api_uuid_parse(m, strlen(m), mid))
		rc = Y_ENOTFOUND;
	else
		rc = svc_mark_chat_read(ctx->svc, sid, jid, m ? mid : NULL, &n);
	json_decref(body);
	if (rc == Y_ENOTFOUND && !svc_session_exists(ctx->svc, sid))
		http_reply_error(req, 404, "SESSION_NOT_FOUND", "no such session", NULL);
	else if (rc == Y_ENOTFOUND)
		http_reply_error(req, 404, "MESSAGE_NOT_FOUND", "no such message in this chat",
				 http_json_field_error("messageId", "no such message in this chat"));
	else if (rc == Y_ESTATE)
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
	else if (rc)
		api_reply_store_error(req, rc);
	else
		http_reply_json(req, 200, json_pack("{s:s, s:I}", "chat", jid, "read", (json_int_t)n));
}

/* ---- PATCH .../chats/{chat} {archived?, pinned?, muted?, muteUntil?, read?} ----
 * Each field given is an app-state write for our other devices
 * (docs/appstate.md): archive / pin_v1 / markChatAsRead in regular_low,
 * mute in regular_high. muteUntil (Unix ms, in the future) mutes until
 * then; muted true without it mutes for ever. */

void api_chat_patch(struct http_req *req)
{
	static const char *const keys[] = { "archived", "pinned", "muted", "muteUntil", "read",
					    NULL };
	static const struct { const char *key; enum svc_as_kind kind; } flags[] = {
		{ "archived", SVC_AS_ARCHIVE }, { "pinned", SVC_AS_PIN },
		{ "muted", SVC_AS_MUTE }, { "read", SVC_AS_READ },
	};
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN], jid[72];
	json_t *body, *until, *out = NULL;
	const char *bad = NULL, *why = NULL;
	int64_t until_ms = 0;
	int rc = 0, any = 0;

	if (!(body = chat_begin(req, sid, jid, keys)))
		return;
	until = json_object_get(body, "muteUntil");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && !bad; i++) {
		json_t *v = json_object_get(body, flags[i].key);

		if (v && !json_is_boolean(v))
			bad = flags[i].key, why = "must be a boolean";
		any |= v != NULL;
	}
	if (!bad && until && !json_is_null(until)) {
		until_ms = json_is_integer(until) ? (int64_t)json_integer_value(until) : 0;
		if (until_ms <= clock_now_ms())
			bad = "muteUntil", why = "Unix milliseconds in the future";
		else if (json_is_false(json_object_get(body, "muted")))
			bad = "muteUntil", why = "not with muted false";
		any = 1;
	}
	if (!bad && !any)
		bad = "archived", why = "give at least one of archived, pinned, muted, muteUntil, read";
	if (bad) {
		api_reply_invalid(req, http_json_field_error(bad, why));
		json_decref(body);
		return;
	}
	out = json_pack("{s:s, s:s}", "chat", jid, "appState", "queued");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && !rc; i++) {
		json_t *v = json_object_get(body, flags[i].key);
		struct svc_as_action a = { flags[i].kind, jid, NULL, false, false, 0, 0 };

		if (flags[i].kind == SVC_AS_MUTE && !v && until_ms)
			v = json_true();
		else if (v)
			json_incref(v);
		if (!v)
			continue;
		a.on = json_is_true(v);
		a.mute_until_ms = flags[i].kind == SVC_AS_MUTE && a.on ? (until_ms ? until_ms : -1) : 0;
		rc = svc_appstate_write(ctx->svc, sid, &a);
		if (!rc && flags[i].kind == SVC_AS_ARCHIVE) /* kept here too (no row: nothing) */
			store_chat_set_archived(ctx->st, sid, jid, a.on);
		json_object_set_new(out, flags[i].key, v);
		if (flags[i].kind == SVC_AS_MUTE)
			json_object_set_new(out, "muteUntil",
					    a.on && until_ms ? json_integer((json_int_t)until_ms)
							     : json_null());
	}
	json_decref(body);
	if (rc == Y_ENOTFOUND)
		http_reply_error(req, 404, "SESSION_NOT_FOUND", "no such session", NULL);
	else if (rc == Y_ESTATE)
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
	else if (rc)
		api_reply_store_error(req, rc);
	else
		http_reply_json(req, 202, json_incref(out));
	json_decref(out);
}

/* ---- GET .../messages/{mid}/poll: the tally ---- */

void api_message_poll(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_message t;
	char sid[STORE_ID_LEN], *votes = NULL;
	json_t *poll = NULL, *vs = NULL, *opts, *out = NULL;
	size_t unknown = 0;
	int rc;

	if (!load_target(req, sid, &t))
		return;
	if (strcmp(t.type, "poll")) {
		http_reply_error(req, 404, "MESSAGE_NOT_FOUND", "the message is not a poll", NULL);
		store_message_release(&t);
		return;
	}
	rc = store_poll_votes(ctx->st, sid, t.wa_id, &votes);
	poll = rc ? NULL : json_loads(t.body, 0, NULL);
	vs = rc ? NULL : json_loads(votes, 0, NULL);
	opts = json_array();
	/* each option with its voters ({from, fromJid}: the phone number next to
	 * the JID, as everywhere in the API); a vote naming no option counts as
	 * unknown */
	for (size_t i = 0; opts && i < json_array_size(json_object_get(poll, "options")); i++) {
		const char *o = json_string_value(json_array_get(json_object_get(poll, "options"), i));
		json_t *voters = json_array();

		for (size_t k = 0; voters && k < json_array_size(vs); k++) {
			const json_t *v = json_array_get(vs, k), *sel = json_object_get(v, "selected");

			for (size_t x = 0; x < json_array_size(sel); x++)
				if (o && !strcmp(o, json_string_value(json_array_get(sel, x)) ?: ""))
					json_array_append_new(
						voters, json_pack("{s:O?, s:O?}", "from",
								  json_object_get(v, "from"),
								  "fromJid",
								  json_object_get(v, "fromJid")));
		}
		json_array_append_new(opts, json_pack("{s:s?, s:I, s:o}", "name", o, "votes",
						      (json_int_t)json_array_size(voters), "voters",
						      voters ? voters : json_array()));
	}
	for (size_t k = 0; k < json_array_size(vs); k++) {
		const json_t *sel = json_object_get(json_array_get(vs, k), "selected");

		for (size_t x = 0; x < json_array_size(sel); x++)
			unknown += !strcmp(json_string_value(json_array_get(sel, x)) ?: "", "unknown");
	}
	if (poll && vs && opts)
		out = json_pack("{s:s, s:O?, s:O?, s:o, s:I, s:I, s:O}", "messageId", t.id, "name",
				json_object_get(poll, "name"), "selectableCount",
				json_object_get(poll, "selectableCount"), "options", opts, "unknown",
				(json_int_t)unknown, "voters", (json_int_t)json_array_size(vs), "votes",
				vs);
	else
		json_decref(opts);
	if (rc)
		api_reply_store_error(req, rc);
	else
		http_reply_json(req, 200, out);
	json_decref(poll);
	json_decref(vs);
	free(votes);
	store_message_release(&t);
}

/* ---- POST .../messages/{mid}/poll/vote {"options"}: our vote ---- */

/* Whether the option names in sel (an array) are all options of poll p,
 * none twice, and at most its selectableCount (0: any number). */
static int vote_ok(const json_t *p, const json_t *sel)
{
	const json_t *opts = json_object_get(p, "options");
	json_int_t most = json_integer_value(json_object_get(p, "selectableCount"));
	size_t n = json_array_size(sel);

	if (!json_is_array(sel) || (most > 0 && (json_int_t)n > most))
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *o = json_string_value(json_array_get(sel, i));
		int known = 0;

		if (!o)
			return 0;
		for (size_t k = 0; k < json_array_size(opts) && !known; k++)
			known = !strcmp(o, json_string_value(json_array_get(opts, k)) ?: "");
		for (size_t k = 0; k < i && known; k++)
			known = strcmp(o, json_string_value(json_array_get(sel, k)));
		if (!known)
			return 0;
	}
	return 1;
}

/* Our vote on poll {mid} (ours or received), sealed with the poll's secret
 * as WhatsApp does (msgkind_vote_seal) and sent as a pollUpdateMessage to
 * the poll's chat; kept with the options named, so GET .../poll counts it
 * (our latest vote replaces the earlier one; [] withdraws it). */
void api_message_poll_vote(struct http_req *req)
{
	static const char *const keys[] = { "options", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct store_message t;
	struct store_session ss;
	struct svc_outmsg o;
	char sid[STORE_ID_LEN], me[72];
	json_t *body, *poll = NULL, *out = NULL;
	const json_t *sel;
	int rc;

	if (!load_target(req, sid, &t))
		return;
	if (!(body = api_body_object(req, keys)))
		goto done;
	sel = json_object_get(body, "options");
	if (strcmp(t.type, "poll") || !(poll = json_loads(t.body ? t.body : "", 0, NULL))) {
		http_reply_error(req, 404, "MESSAGE_NOT_FOUND", "the message is not a poll", NULL);
		goto done;
	}
	if (!vote_ok(poll, sel)) {
		api_reply_invalid(req, http_json_field_error(
					       "options", "names of the poll's options, none twice, at "
							  "most selectableCount of them ([] withdraws)"));
		goto done;
	}
	if (svc_session_get(ctx->svc, sid, &ss)) {
		api_reply_store_error(req, Y_ENOTFOUND);
		goto done;
	}
	snprintf(me, sizeof(me), "%s@s.whatsapp.net", ss.phone ? ss.phone : "");
	store_session_release(&ss);
	if (me[0] == '@') {
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
		goto done;
	}
	/* the poll's creator: us, or its sender (bare phone JIDs, as votes
	 * on our polls are opened) */
	out = json_pack("{s:o, s:O, s:I}", "target", target_json(&t), "selected", sel,
			"senderTimestampMs", (json_int_t)clock_now_ms());
	rc = out ? msgkind_vote_seal(t.wa_id, t.body, t.from_me ? me : t.from_jid, me, sel, out)
		 : Y_ENOMEM;
	if (rc == Y_EINVAL) {
		http_reply_error(req, 409, "POLL_NOT_VOTABLE",
				 "the poll has no secret to seal a vote with", NULL);
		goto done;
	}
	if (rc) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "out of memory", NULL);
		goto done;
	}
	action_out(&o, &t, "poll_vote", 0);
	send_body(req, sid, &o, out);
	out = NULL;
done:
	json_decref(out);
	json_decref(poll);
	json_decref(body);
	store_message_release(&t);
}

/* ---- the block list ---- */

/* GET .../blocklist: the list as WhatsApp last answered (asked at every
 * login and after each change), {"data": [JID...]}. */
void api_blocklist_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN], key[16 + STORE_ID_LEN], *v = NULL;
	json_t *list;
	int rc;

	if (!api_session_use_param(req, sid))
		return;
	if (!svc_session_exists(ctx->svc, sid)) {
		http_reply_error(req, 404, "SESSION_NOT_FOUND", "no such session", NULL);
		return;
	}
	snprintf(key, sizeof(key), "blocklist:%s", sid);
	rc = store_setting_get(ctx->st, key, &v);
	if (rc && rc != Y_ENOTFOUND) {
		api_reply_store_error(req, rc);
		return;
	}
	list = v ? json_loads(v, 0, NULL) : json_array();
	free(v);
	if (!json_is_array(list)) {
		json_decref(list);
		list = json_array();
	}
	http_reply_json(req, 200, json_pack("{s:o}", "data", list));
}

/* POST .../blocklist {"jid": number or JID, "action": "block"|"unblock"} */
void api_blocklist_post(struct http_req *req)
{
	static const char *const keys[] = { "jid", "action", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN], jid[72];
	const char *who = NULL, *act = NULL;
	json_t *body, *d = NULL;

	if (!api_session_use_param(req, sid) || !(body = api_body_object(req, keys)))
		return;
	if (http_json_get_string(body, "jid", 1, 1, 64, &who, &d) ||
	    !chat_jid(who, strlen(who), jid, sizeof(jid)))
		api_reply_invalid(req, d ? d : http_json_field_error("jid", "a number or a JID"));
	else if (http_json_get_string(body, "action", 1, 1, 16, &act, &d) ||
		 (strcmp(act, "block") && strcmp(act, "unblock")))
		api_reply_invalid(req, d ? d : http_json_field_error("action", "block or unblock"));
	else
		reply_presence(req, "action", svc_block(ctx->svc, sid, jid, act), act);
	json_decref(body);
}

/* PUT .../profile/about {"text"}: our about text, 0-139 characters. */
void api_profile_about(struct http_req *req)
{
	static const char *const keys[] = { "text", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN];
	const char *text = NULL;
	json_t *body, *d = NULL;

	if (!api_session_use_param(req, sid) || !(body = api_body_object(req, keys)))
		return;
	if (http_json_get_string(body, "text", 1, 0, 139, &text, &d))
		api_reply_invalid(req, d);
	else
		reply_presence(req, "about", svc_set_about(ctx->svc, sid, text), text);
	json_decref(body);
}
