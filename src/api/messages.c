/* /api/v1/sessions/{id}/messages: history (newest first) and sending. */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "service/media.h"
#include "service/media_send.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <unistd.h>

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

static const char *const media_kinds[] = { "image", "video", "audio", "document", "sticker",
					     NULL };

/* The one media key body has ("image" ...), NULL for none; *many when more. */
static const char *media_kind(const json_t *body, int *many)
{
	const char *k = NULL;

	*many = 0;
	for (int i = 0; media_kinds[i]; i++)
		if (json_object_get(body, media_kinds[i])) {
			*many += k != NULL;
			k = k ? k : media_kinds[i];
		}
	return k;
}

static int bad_media(struct http_req *req, const char *field, const char *msg)
{
	http_reply_error(req, 400, "INVALID_MEDIA", msg, http_json_field_error(field, msg));
	return 0;
}

static bool url_ok(const char *u)
{
	size_t n = strlen(u);

	if (strncasecmp(u, "http://", 7) && strncasecmp(u, "https://", 8))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
			return false;
	return n > 8 && !strchr(u + 7 + (u[4] == 's' || u[4] == 'S'), '\\');
}

static bool mimetype_ok(const char *m)
{
	size_t n = strcspn(m, ";"), slash = strcspn(m, "/");

	if (slash == 0 || slash >= n - 1 || slash >= n)
		return false;
	for (size_t i = 0; m[i]; i++)
		if ((unsigned char)m[i] < ' ' || (unsigned char)m[i] > '~')
			return false;
	return true;
}

/* A file uploaded as multipart/form-data (POST .../messages/media): written
 * and fsync'd to path, len bytes, its first bytes head[0..headn). */
struct upload_src {
	const char *path;
	uint64_t len;
	const uint8_t *head;
	size_t headn;
};

static int too_large(struct http_req *req, const char *kind, int64_t limit)
{
	http_reply_error(req, 413, "MEDIA_TOO_LARGE", "the file is larger than WhatsApp takes",
			 json_pack("{s:s, s:I}", "kind", kind, "maxBytes", (json_int_t)limit));
	return 0;
}

/* Reads the media object of kind into md (strings borrowed from body,
 * *data malloc'ed: caller frees); the bytes are base64 in it, or a URL, or
 * (up not NULL) the uploaded file; 0 after answering 4xx. */
static int read_media(struct http_req *req, const json_t *body, const char *kind,
		      const struct upload_src *up, struct svc_media *md, uint8_t **data)
{
	static const char *const keys[] = { "url", "base64", "mimetype", "filename", NULL };
	const json_t *o = json_object_get(body, kind);
	enum wa_media_type t = (enum wa_media_type)wa_media_type_parse(kind);
	int64_t limit = media_type_limit(t);
	const char *b64 = NULL, *url = NULL, *use = NULL, *sniffed, *why;
	char field[32], whybuf[160];
	json_t *d = NULL;
	size_t n, cap;

	*data = NULL;
	memset(md, 0, sizeof(*md));
	md->kind = kind;
	if (!json_is_object(o)) {
		snprintf(field, sizeof(field), "%s", kind);
		api_reply_invalid(req, http_json_field_error(field, "must be an object"));
		return 0;
	}
	if (http_json_only_keys(o, keys, &d) != Y_OK ||
	    (http_json_get_string(o, "url", 0, 1, 4096, &url, &d) == Y_EINVAL) ||
	    (http_json_get_string(o, "base64", 0, 1, SIZE_MAX, &b64, &d) == Y_EINVAL) ||
	    (http_json_get_string(o, "mimetype", 0, 3, 127, &md->mimetype, &d) == Y_EINVAL) ||
	    (http_json_get_string(o, "filename", 0, 1, 255, &md->file_name, &d) == Y_EINVAL)) {
		api_reply_invalid(req, d);
		return 0;
	}
	snprintf(field, sizeof(field), "%s.%s", kind, up ? "file" : url ? "url" : "base64");
	if (!up && !url == !b64)
		return bad_media(req, kind, "give exactly one of url and base64");
	if (md->mimetype && !mimetype_ok(md->mimetype)) {
		snprintf(field, sizeof(field), "%s.mimetype", kind);
		return bad_media(req, field, "mimetype must look like type/subtype");
	}
	if (md->file_name && strpbrk(md->file_name, "/\\")) {
		snprintf(field, sizeof(field), "%s.filename", kind);
		return bad_media(req, field, "filename must not contain / or \\");
	}
	if (url) {
		if (!url_ok(url))
			return bad_media(req, field, "url must be an http:// or https:// URL");
		why = media_url_check(url, ((struct api_ctx *)http_req_app(req))->media_url_allow_private,
				      whybuf, sizeof(whybuf));
		if (why) {
			http_reply_error(req, 400, "MEDIA_URL_NOT_ALLOWED", why,
					 http_json_field_error(field, why));
			return 0;
		}
		md->url = url;
		if (md->mimetype && (why = media_mime_check(t, md->mimetype, NULL, &use, whybuf,
							     sizeof(whybuf)))) {
			snprintf(field, sizeof(field), "%s.mimetype", kind);
			return bad_media(req, field, why);
		}
		return 1;
	}
	if (up) {
		if ((int64_t)up->len > limit)
			return too_large(req, kind, limit);
		md->file = up->path;
		md->len = (size_t)up->len;
		sniffed = media_sniff(up->head, up->headn);
	} else {
		n = strlen(b64);
		if ((int64_t)(n / 4) * 3 > limit + 3) /* too big before decoding anything */
			return too_large(req, kind, limit);
		cap = n / 4 * 3 + 3;
		*data = malloc(cap);
		if (!*data) {
			http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
			return 0;
		}
		if (codec_b64_decode(b64, n, *data, cap, &md->len) || !md->len)
			return bad_media(req, field,
					 "base64 is not valid standard base64 (RFC 4648 §4)");
		if ((int64_t)md->len > limit)
			return too_large(req, kind, limit);
		md->data = *data;
		sniffed = media_sniff(md->data, md->len);
	}
	why = media_mime_check(t, md->mimetype, sniffed, &use, whybuf, sizeof(whybuf));
	if (why) {
		snprintf(field, sizeof(field), "%s.%s", kind,
			 md->mimetype ? "mimetype" : up ? "file" : "base64");
		return bad_media(req, field, why);
	}
	md->mimetype = use; /* borrowed from body, or a static string */
	return 1;
}

/*
 * Validates {"to": E.164 number or JID} with exactly one of "text"
 * (1..API_TEXT_MAX chars, "quotedMessageId"? for a reply), "location",
 * "contacts", "poll" (those and replies: chatkinds.c), or one of "image" |
 * "video" | "audio" | "document" | "sticker": {"url" | "base64",
 * "mimetype"?, "filename"?}, "caption"?, "ptt"?; then asks the session
 * service to queue it: 202 with the message stored pending; 503
 * SESSION_NOT_CONNECTED for a session that is not linked; 429 QUEUE_FULL
 * (with Retry-After) when its queue is full; media: 400 INVALID_MEDIA, 413
 * MEDIA_TOO_LARGE (docs/media.md "Sending").
 */
static const char *const send_keys[] = { "to",	    "text",	"quotedMessageId", "location",
					 "contacts", "poll",	"image",	   "video",
					 "audio",    "document", "sticker",	   "caption",
					 "ptt",	     NULL };

static void send_body(struct http_req *req, const char *id, json_t *body,
		      const struct upload_src *up);

void api_messages_send(struct http_req *req)
{
	char id[STORE_ID_LEN];
	json_t *body;

	if (!api_session_use_param(req, id))
		return;
	body = api_body_object(req, send_keys);
	if (body)
		send_body(req, id, body, NULL);
}

/* The committer's answer to a deferred text (svc_send_text_async). */
static void text_accepted(void *arg, int rc, struct store_message *m)
{
	struct http_defer *d = arg;
	struct http_req *req = http_defer_begin(d);

	if (req)
		api_reply_accepted(req, rc, 0, m);
	else
		store_message_release(m); /* the client went away; the message stays */
	http_defer_finish(d);
}

/* Sends text to jid: the answer is deferred until the message's group
 * commit (the connection waits, holding no HTTP thread); refusals known
 * at once (503, 429, ...) are answered through the same handle. */
static void send_text_deferred(struct http_req *req, const char *id, const char *jid,
			       const char *text)
{
	struct api_ctx *ctx = http_req_app(req);
	struct http_defer *d = http_req_defer(req);
	struct store_message none;
	int rc, retry = 0;

	if (!d) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		return;
	}
	rc = svc_send_text_async(ctx->svc, id, jid, text, text_accepted, d, &retry);
	if (rc == Y_OK)
		return; /* text_accepted answers */
	memset(&none, 0, sizeof(none));
	if (http_defer_begin(d)) /* the handler's own request: still there */
		api_reply_accepted(req, rc, retry, &none);
	http_defer_finish(d);
}

/* WhatsApp's apps send a voice note's ogg with its codec named. */
static void ptt_mime(struct svc_media *md)
{
	if (md->ptt && md->mimetype && !strcasecmp(md->mimetype, "audio/ogg"))
		md->mimetype = "audio/ogg; codecs=opus";
}

/* A media send whose URL is fetched before it is accepted (docs/media.md
 * "Sending"): the request is deferred (no HTTP thread waits) while the
 * upload thread fetches; then the row is stored and 202 answered, or a 4xx
 * and nothing stored. Everything the send needs is copied here. */
struct urlsend {
	struct http_defer *d;
	struct svc *svc;
	char sid[STORE_ID_LEN], jid[64];
	const char *kind; /* static (media_kinds) */
	char *url, *mimetype, *file_name, *caption;
	bool ptt;
};

static void urlsend_free(struct urlsend *us)
{
	free(us->url);
	free(us->mimetype);
	free(us->file_name);
	free(us->caption);
	free(us);
}

/* The 4xx for a fetch that failed (f->rc not Y_OK). */
static void url_failed(struct http_req *req, const struct urlsend *us, const struct media_fetched *f)
{
	char field[32];
	json_t *d;

	snprintf(field, sizeof(field), "%s.url", us->kind);
	if (f->rc == Y_ETOOBIG) {
		too_large(req, us->kind, media_type_limit((enum wa_media_type)wa_media_type_parse(us->kind)));
	} else if (f->rc == Y_EUNSUPPORTED) { /* the name resolved to a non-public address */
		http_reply_error(req, 400, "MEDIA_URL_NOT_ALLOWED", f->why,
				 http_json_field_error(field, f->why));
	} else if (f->rc == Y_ECLOSED) {
		http_reply_error(req, 503, "ENGINE_UNAVAILABLE", "the WhatsApp engine is not running",
				 NULL);
	} else {
		d = http_json_field_error(field, f->why);
		if (d && f->http_status > 0)
			json_object_set_new(d, "httpStatus", json_integer(f->http_status));
		http_reply_error(req, 422, "MEDIA_FETCH_FAILED", f->why, d);
	}
}

/* The fetched file checked against the kind and mimetype, then stored as
 * the message's source and the message accepted (202), or refused. */
static void url_accept(struct http_req *req, const struct urlsend *us, const struct media_fetched *f)
{
	enum wa_media_type t = (enum wa_media_type)wa_media_type_parse(us->kind);
	struct store_message m;
	struct svc_media md;
	const char *use = NULL, *why;
	char field[32], whybuf[160];
	int rc, retry = 0;

	why = media_mime_check(t, us->mimetype, media_sniff(f->head, f->headn), &use, whybuf,
			       sizeof(whybuf));
	if (why) {
		unlink(f->tmp);
		snprintf(field, sizeof(field), "%s.%s", us->kind, us->mimetype ? "mimetype" : "url");
		bad_media(req, field, why);
		return;
	}
	memset(&md, 0, sizeof(md));
	md.kind = us->kind;
	md.mimetype = use;
	md.file_name = us->file_name;
	md.caption = us->caption;
	md.ptt = us->ptt;
	md.file = f->tmp;
	md.len = (size_t)f->len;
	md.url = us->url;
	ptt_mime(&md);
	memset(&m, 0, sizeof(m));
	rc = svc_send_media(us->svc, us->sid, us->jid, &md, &m, &retry);
	if (rc)
		unlink(f->tmp); /* not taken (gone already when the store failed after) */
	api_reply_accepted(req, rc, retry, &m);
}

/* The upload thread's answer to a fetch (media_up_fetch). */
static void url_fetched(void *arg, const struct media_fetched *f)
{
	struct urlsend *us = arg;
	struct http_req *req = http_defer_begin(us->d);

	if (!req || http_defer_client_gone(us->d)) { /* the client went away: nothing is stored */
		if (f->tmp)
			unlink(f->tmp);
	} else if (f->rc) {
		url_failed(req, us, f);
	} else {
		url_accept(req, us, f);
	}
	http_defer_finish(us->d);
	urlsend_free(us);
}

/* Defers req and hands md's URL to the upload thread (url_fetched goes on). */
static void send_url_deferred(struct http_req *req, const char *id, const char *jid,
			      const struct svc_media *md)
{
	struct api_ctx *ctx = http_req_app(req);
	struct urlsend *us = calloc(1, sizeof(*us));
	struct store_message none;
	int rc;

	if (!us || !(us->url = strdup(md->url)) ||
	    (md->mimetype && !(us->mimetype = strdup(md->mimetype))) ||
	    (md->file_name && !(us->file_name = strdup(md->file_name))) ||
	    (md->caption && !(us->caption = strdup(md->caption))) || !(us->d = http_req_defer(req))) {
		if (us)
			urlsend_free(us);
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		return;
	}
	us->svc = ctx->svc;
	snprintf(us->sid, sizeof(us->sid), "%s", id);
	snprintf(us->jid, sizeof(us->jid), "%s", jid);
	us->kind = md->kind;
	us->ptt = md->ptt;
	rc = svc_fetch_media(ctx->svc, id, md->url,
			     (uint64_t)media_type_limit((enum wa_media_type)wa_media_type_parse(md->kind)),
			     url_fetched, us);
	if (rc == Y_OK)
		return; /* url_fetched answers */
	memset(&none, 0, sizeof(none));
	if (http_defer_begin(us->d)) /* the handler's own request: still there */
		api_reply_accepted(req, rc, 0, &none);
	http_defer_finish(us->d);
	urlsend_free(us);
}

/* The checks and the send for a body of send_keys (taken); up: the media
 * object's bytes are that uploaded file. */
static void send_body(struct http_req *req, const char *id, json_t *body,
		      const struct upload_src *up)
{
	static const char *const chat_keys[] = { "text", "quotedMessageId", "location", "contacts",
						 "poll", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct store_message m;
	struct svc_media md;
	char phone[API_PHONE_MAX + 1], jid[64];
	const char *to, *text = NULL, *kind, *caption = NULL, *other = NULL;
	uint8_t *data = NULL;
	json_t *d = NULL, *ptt;
	int rc, retry = 0, many, chatkind;

	kind = media_kind(body, &many);
	chatkind = api_send_is_kind(body);
	for (int i = 0; kind && chat_keys[i] && !other; i++)
		if (json_object_get(body, chat_keys[i]))
			other = chat_keys[i]; /* a media message beside a text, location, ... */
	ptt = json_object_get(body, "ptt");
	if (http_json_get_string(body, "to", 1, 1, 64, &to, &d) != Y_OK ||
	    (!kind && !chatkind &&
	     http_json_get_string(body, "text", 1, 1, API_TEXT_MAX, &text, &d) != Y_OK) ||
	    http_json_get_string(body, "caption", 0, 1, API_TEXT_MAX, &caption, &d) == Y_EINVAL) {
		json_decref(body);
		api_reply_invalid(req, d);
		return;
	}
	if (many || other || (!kind && (caption || ptt)) || (ptt && !json_is_boolean(ptt)) ||
	    (ptt && strcmp(kind, "audio")) ||
	    (caption && (!strcmp(kind, "audio") || !strcmp(kind, "sticker")))) {
		api_reply_invalid(
			req,
			http_json_field_error(
				many ? kind
				: other ? other
				: !kind ? (caption ? "caption" : "ptt")
				: ptt && (!json_is_boolean(ptt) || strcmp(kind, "audio")) ? "ptt"
											   : "caption",
				many || (other && strcmp(other, "text") &&
					 strcmp(other, "quotedMessageId"))
					? "give exactly one of text, location, contacts, poll, image, "
					  "video, audio, document, sticker"
				: other && !strcmp(other, "quotedMessageId") ? "replies are texts"
				: other ? "a media message has a caption, not a text"
				: ptt && !json_is_boolean(ptt) ? "must be a boolean"
				: ptt			       ? "ptt is for audio messages"
							       : "not for this kind of message"));
		json_decref(body); /* after: ptt is borrowed from it */
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
	if (kind && !read_media(req, body, kind, up, &md, &data)) {
		free(data);
		json_decref(body);
		return;
	}
	if (!kind && chatkind) { /* a reply, location, contact cards or poll: chatkinds.c */
		api_send_kind(req, id, jid, body);
		json_decref(body);
		return;
	}
	if (!kind) { /* a plain text: through the group commit */
		send_text_deferred(req, id, jid, text);
		json_decref(body); /* after: text is borrowed from it (copied by the call) */
		return;
	}
	memset(&m, 0, sizeof(m)); /* media: committed on this thread (media_send.h) */
	md.caption = caption;
	md.ptt = json_is_true(ptt);
	if (md.url) { /* fetched first, the answer deferred */
		send_url_deferred(req, id, jid, &md);
		json_decref(body); /* after: md's strings are borrowed from it (copied) */
		return;
	}
	ptt_mime(&md);
	rc = svc_send_media(ctx->svc, id, jid, &md, &m, &retry);
	free(data);
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

/* ---- POST /api/v1/sessions/{id}/messages/media (multipart/form-data) ---- */

/* The form's text fields; each in a capped buffer (bytes). */
enum { UF_TO, UF_TYPE, UF_CAPTION, UF_FILENAME, UF_MIMETYPE, UF_PTT, UF_QUOTED, UF_N };
static const char *const uf_names[UF_N] = { "to",	"type", "caption", "filename",
					    "mimetype", "ptt",	"quotedMessageId" };
static const size_t uf_caps[UF_N] = { 64, 16, API_TEXT_MAX * 4, 255 * 4, 127, 5, 128 };

struct upform {
	struct api_ctx *ctx;
	char sid[STORE_ID_LEN];
	char path[600];          /* the temp file; "" once handed on */
	int fd;
	uint64_t len, cap;       /* file bytes so far, the most taken */
	uint8_t head[16];
	size_t headn;
	int nfiles;              /* file parts seen */
	char part_type[128];     /* the file part's Content-Type, "" if none */
	char part_name[256];     /* its filename (base name), "" if none */
	struct ybuf f[UF_N];
	int seen[UF_N];
};

static void upform_done(void *arg)
{
	struct upform *u = arg;

	if (u->fd >= 0)
		close(u->fd);
	if (u->path[0])
		unlink(u->path); /* not handed on: nothing was accepted */
	for (int i = 0; i < UF_N; i++)
		ybuf_release(&u->f[i]);
	free(u);
}

/* 400 VALIDATION_ERROR for a form field; 1 (stops the body). */
static int form_error(struct http_req *req, const char *field, const char *msg)
{
	http_reply_error(req, 400, "VALIDATION_ERROR", msg, http_json_field_error(field, msg));
	return 1;
}

static int file_piece(struct upform *u, struct http_req *req, const char *filename,
		      const char *ctype, const char *p, uint64_t off, size_t n)
{
	if (off == 0 && n && u->len) /* a second file part */
		return form_error(req, "file", "give one file part");
	if (off == 0 && !u->nfiles++) {
		const char *base = filename ? filename : "";

		for (const char *q = base; *q; q++)
			if (*q == '/' || *q == '\\')
				base = q + 1; /* some clients send a path */
		snprintf(u->part_name, sizeof(u->part_name), "%s", base);
		snprintf(u->part_type, sizeof(u->part_type), "%s", ctype ? ctype : "");
	}
	if (u->len + n > u->cap) {
		http_reply_error(req, 413, "MEDIA_TOO_LARGE", "the file is larger than WhatsApp takes",
				 json_pack("{s:I}", "maxBytes", (json_int_t)u->cap));
		return 1;
	}
	if (u->headn < sizeof(u->head)) {
		size_t k = n < sizeof(u->head) - u->headn ? n : sizeof(u->head) - u->headn;

		memcpy(u->head + u->headn, p, k);
		u->headn += k;
	}
	for (size_t done = 0; done < n;) {
		ssize_t w = write(u->fd, p + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			LOG_WARN("upload: cannot write the file", "{s:s}", "error", strerror(errno));
			api_reply_store_error(req, Y_EIO);
			return 1;
		}
		done += (size_t)w;
	}
	u->len += n;
	return 0;
}

static int upform_part(void *arg, struct http_req *req, const char *name, const char *filename,
		       const char *ctype, const char *p, uint64_t off, size_t n)
{
	struct upform *u = arg;
	int i;

	if (!strcmp(name, "file"))
		return file_piece(u, req, filename, ctype, p, off, n);
	for (i = 0; i < UF_N && strcmp(name, uf_names[i]); i++)
		;
	if (i == UF_N)
		return form_error(req, name, "unknown field");
	if (off == 0 && n && u->seen[i])
		return form_error(req, name, "given twice");
	u->seen[i] |= n > 0;
	if (ybuf_append(&u->f[i], p, n) != Y_OK)
		return form_error(req, name, "too long");
	if (i == UF_TYPE && u->f[i].len) { /* a known kind caps the file at its own limit */
		int t = wa_media_type_parse((const char *)u->f[i].data);

		if (t >= 0 && media_type_limit((enum wa_media_type)t) < (int64_t)u->cap)
			u->cap = (uint64_t)media_type_limit((enum wa_media_type)t);
	}
	return 0;
}

/* The kind a mimetype suggests when the form names none. */
static const char *default_kind(const char *mime)
{
	return !mime ? "document"
	       : !strncasecmp(mime, "image/", 6) ? "image"
	       : !strncasecmp(mime, "video/", 6) ? "video"
	       : !strncasecmp(mime, "audio/", 6) ? "audio"
						   : "document";
}

/* Field i as a JSON string in o under key; 0 after answering (not UTF-8). */
static int put_field(struct http_req *req, struct upform *u, int i, json_t *o, const char *key)
{
	json_t *v;

	if (!u->seen[i])
		return 1;
	v = json_stringn((const char *)u->f[i].data, u->f[i].len);
	if (!v) {
		form_error(req, uf_names[i], "must be UTF-8 text");
		return 0;
	}
	json_object_set_new(o, key, v);
	return 1;
}

static void upform_end(void *arg, struct http_req *req, int ok)
{
	struct upform *u = arg;
	struct upload_src up = { .path = u->path, .len = u->len, .head = u->head };
	const char *mime = NULL, *kind;
	json_t *body = NULL, *media = NULL;
	char kindbuf[17];

	for (int i = 0; i < UF_N; i++)
		if (ybuf_append_byte(&u->f[i], 0) != Y_OK) { /* NUL-terminate (room was kept) */
			http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
			return;
		}
	if (!ok) {
		http_reply_error(req, 400, "MALFORMED_MULTIPART",
				 "the body is not a whole multipart/form-data body",
				 json_pack("{s:s}", "reason", "malformed or cut off"));
		return;
	}
	if (!u->len) {
		form_error(req, "file",
			   u->nfiles ? "must not be empty" : "required");
		return;
	}
	up.headn = u->headn;
	if (u->seen[UF_MIMETYPE])
		mime = (const char *)u->f[UF_MIMETYPE].data;
	else if (u->part_type[0] && strncasecmp(u->part_type, "application/octet-stream", 24))
		mime = u->part_type; /* what the client labelled the part with */
	kind = u->seen[UF_TYPE] ? (const char *)u->f[UF_TYPE].data
	       : default_kind(mime ? mime : media_sniff(u->head, u->headn));
	if (wa_media_type_parse(kind) < 0) {
		form_error(req, "type",
			   "must be image, video, audio, document or sticker");
		return;
	}
	snprintf(kindbuf, sizeof(kindbuf), "%s", kind);
	body = json_object();
	media = json_object();
	if (!body || !media || json_object_set(body, kindbuf, media)) {
		json_decref(body);
		json_decref(media);
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		return;
	}
	if (!put_field(req, u, UF_TO, body, "to") || !put_field(req, u, UF_CAPTION, body, "caption") ||
	    !put_field(req, u, UF_QUOTED, body, "quotedMessageId") ||
	    !put_field(req, u, UF_FILENAME, media, "filename")) {
		json_decref(body);
		json_decref(media);
		return;
	}
	if (mime)
		json_object_set_new(media, "mimetype", json_string(mime));
	if (!u->seen[UF_FILENAME] && u->part_name[0]) /* dropped when not UTF-8 */
		json_object_set_new(media, "filename", json_string(u->part_name));
	if (u->seen[UF_PTT]) {
		const char *v = (const char *)u->f[UF_PTT].data;

		json_object_set_new(body, "ptt", !strcmp(v, "true")    ? json_true()
						 : !strcmp(v, "false") ? json_false()
								       : json_string(v));
	}
	json_decref(media);
	if (!json_object_get(body, "to")) {
		json_decref(body);
		form_error(req, "to", "required");
		return;
	}
	if (fsync(u->fd) || close(u->fd)) {
		u->fd = -1;
		json_decref(body);
		api_reply_store_error(req, Y_EIO);
		return;
	}
	u->fd = -1;
	send_body(req, u->sid, body, &up); /* takes body; on a 202 the file is the source now */
	if (http_req_status(req) == 202)
		u->path[0] = 0;
}

/*
 * POST /api/v1/sessions/{id}/messages/media: a multipart/form-data body with
 * a `file` part and the fields `to`, `type`?, `caption`?, `filename`?,
 * `mimetype`?, `ptt`? — what the JSON send takes for media — streamed to a
 * temp file under DATA_DIR/media/out (capped at WhatsApp's limit for the
 * kind), then checked and sent as a base64 one is (docs/media.md). Called
 * when the head has arrived (HTTP_ROUTE_STREAM).
 */
void api_messages_send_media(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	const char *cl = http_req_header(req, "Content-Length");
	uint64_t most = (uint64_t)media_type_limit(WA_MEDIA_DOCUMENT);
	struct upform *u;
	int rc;

	u = calloc(1, sizeof(*u));
	if (!u) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		return;
	}
	u->fd = -1;
	if (!api_session_use_param(req, u->sid)) {
		free(u);
		return;
	}
	if (cl && strtoull(cl, NULL, 10) > most + (1u << 20)) { /* answered before the body */
		free(u);
		http_reply_error(req, 413, "MEDIA_TOO_LARGE", "the file is larger than WhatsApp takes",
				 json_pack("{s:I}", "maxBytes", (json_int_t)most));
		return;
	}
	u->ctx = ctx;
	u->cap = most;
	for (int i = 0; i < UF_N; i++)
		ybuf_init(&u->f[i], uf_caps[i] + 1);
	u->fd = media_up_open_tmp(ctx->data_dir, u->path, sizeof(u->path));
	if (u->fd < 0) {
		u->path[0] = 0;
		upform_done(u);
		api_reply_store_error(req, Y_EIO);
		return;
	}
	{
		static const struct http_form_ops ops = { upform_part, upform_end, upform_done };

		rc = http_req_read_form(req, &ops, u);
	}
	if (rc == Y_OK)
		return;
	upform_done(u);
	if (rc == Y_EUNSUPPORTED)
		http_reply_error(req, 415, "UNSUPPORTED_MEDIA_TYPE",
				 "the body must be multipart/form-data",
				 json_pack("{s:s}", "reason", "Content-Type: multipart/form-data"));
	else if (rc == Y_EINVAL)
		http_reply_error(req, 400, "MALFORMED_MULTIPART",
				 "the Content-Type names no multipart boundary",
				 json_pack("{s:s}", "reason", "no boundary"));
	else
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
}
