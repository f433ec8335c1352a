#include "api/api.h"
#include "api/validate.h"
#include "auth/apikey.h"
#include "http/ratelimit.h"
#include "http/json.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

/* Each row's last field is the least role it needs (http/router.h; a row
 * without one fails test_http_router and is answered to admins only). */
#define PUBLIC HTTP_ROLE_PUBLIC
#define VIEWER HTTP_ROLE_VIEWER
#define OPERATOR HTTP_ROLE_OPERATOR
#define ADMIN HTTP_ROLE_ADMIN
const struct http_route api_routes[] = {
	{ HTTP_GET, "/health", api_health, HTTP_ROUTE_PUBLIC | HTTP_ROUTE_PROBE, PUBLIC },
	{ HTTP_GET, "/ready", api_ready, HTTP_ROUTE_PUBLIC | HTTP_ROUTE_PROBE, PUBLIC },
	{ HTTP_GET, "/metrics", api_metrics, HTTP_ROUTE_PUBLIC | HTTP_ROUTE_PROBE, PUBLIC },
	{ HTTP_POST, "/api/v1/sessions", api_sessions_create, 0, OPERATOR },
	{ HTTP_GET, "/api/v1/sessions", api_sessions_list, 0, VIEWER },
	{ HTTP_GET, "/api/v1/sessions/{id}", api_session_get, 0, VIEWER },
	{ HTTP_DELETE, "/api/v1/sessions/{id}", api_session_delete, 0, OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/qr.png", api_session_qr_png, 0, VIEWER },
	{ HTTP_GET, "/api/v1/sessions/{id}/qr.svg", api_session_qr_svg, 0, VIEWER },
	{ HTTP_POST, "/api/v1/sessions/{id}/logout", api_session_logout, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/restart", api_session_restart, 0, OPERATOR },
	{ HTTP_GET, "/api/v1/server/wa-version", api_wa_version_get, 0, VIEWER },
	{ HTTP_PUT, "/api/v1/server/wa-version", api_wa_version_put, 0, ADMIN },
	{ HTTP_DELETE, "/api/v1/server/wa-version", api_wa_version_delete, 0, ADMIN },
	{ HTTP_GET, "/api/v1/sessions/{id}/passkey", api_passkey_get, 0, VIEWER },
	{ HTTP_POST, "/api/v1/sessions/{id}/passkey", api_passkey_post, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/passkey/confirm", api_passkey_confirm, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/pair-code", api_session_pair_code, 0, OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/messages", api_messages_list, 0, VIEWER },
	{ HTTP_POST, "/api/v1/sessions/{id}/messages", api_messages_send, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/messages/media", api_messages_send_media,
	  HTTP_ROUTE_STREAM, OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/messages/{mid}", api_message_get, 0, VIEWER },
	{ HTTP_PATCH, "/api/v1/sessions/{id}/messages/{mid}", api_message_edit, 0, OPERATOR },
	{ HTTP_DELETE, "/api/v1/sessions/{id}/messages/{mid}", api_message_delete, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/messages/{mid}/reaction", api_message_react, 0,
	  OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/messages/{mid}/poll", api_message_poll, 0, VIEWER },
	{ HTTP_POST, "/api/v1/sessions/{id}/messages/{mid}/poll/vote", api_message_poll_vote, 0,
	  OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/messages/{mid}/read", api_message_read, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/messages/{mid}/download", api_media_download, 0,
	  OPERATOR },
	{ HTTP_GET, "/api/v1/media/{mid}", api_media_get, 0, VIEWER },
	{ HTTP_GET, "/api/v1/sessions/{id}/media-settings", api_media_settings_get, 0, VIEWER },
	{ HTTP_PUT, "/api/v1/sessions/{id}/media-settings", api_media_settings_put, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/presence", api_presence_set, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/presence/subscribe", api_presence_subscribe, 0,
	  OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/chats", api_chats_list, 0, VIEWER },
	{ HTTP_POST, "/api/v1/sessions/{id}/chats/{chat}/typing", api_chat_typing, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/sessions/{id}/chats/{chat}/read", api_chat_read, 0, OPERATOR },
	{ HTTP_PATCH, "/api/v1/sessions/{id}/chats/{chat}", api_chat_patch, 0, OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/contacts/{phone}", api_contact_get, 0, VIEWER },
	{ HTTP_GET, "/api/v1/sessions/{id}/contacts/{phone}/picture", api_contact_picture, 0,
	  VIEWER },
	{ HTTP_GET, "/api/v1/sessions/{id}/blocklist", api_blocklist_get, 0, VIEWER },
	{ HTTP_POST, "/api/v1/sessions/{id}/blocklist", api_blocklist_post, 0, OPERATOR },
	{ HTTP_PUT, "/api/v1/sessions/{id}/profile/about", api_profile_about, 0, OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/profile", api_profile_get, 0, VIEWER },
	{ HTTP_PUT, "/api/v1/sessions/{id}/profile/name", api_profile_name, 0, OPERATOR },
	{ HTTP_PUT, "/api/v1/sessions/{id}/profile/picture", api_profile_picture_put, 0,
	  OPERATOR },
	{ HTTP_DELETE, "/api/v1/sessions/{id}/profile/picture", api_profile_picture_delete, 0,
	  OPERATOR },
	{ HTTP_PUT, "/api/v1/sessions/{id}/webhook", api_webhook_put, 0, OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/webhook", api_webhook_get, 0, VIEWER },
	{ HTTP_DELETE, "/api/v1/sessions/{id}/webhook", api_webhook_delete, 0, OPERATOR },
	{ HTTP_GET, "/api/v1/sessions/{id}/webhook/logs", api_webhook_logs, 0, VIEWER },
	{ HTTP_POST, "/api/v1/sessions/{id}/webhook/deliveries/{eventId}/retry", api_webhook_retry,
	  0, OPERATOR },
	{ HTTP_GET, "/api/v1/events", api_events_list, 0, VIEWER },
	{ HTTP_GET, "/api/v1/events/stream", api_events_stream, 0, VIEWER },
	{ HTTP_GET, "/api/v1/openapi.json", api_openapi, HTTP_ROUTE_PUBLIC, PUBLIC },
	{ HTTP_GET, "/api/v1/sandbox", api_sandbox_get, 0, VIEWER },
	{ HTTP_POST, "/api/v1/sandbox/scan", api_sandbox_scan, 0, OPERATOR },
	{ HTTP_POST, "/api/v1/auth/login", api_auth_login, HTTP_ROUTE_PUBLIC, PUBLIC },
	{ HTTP_POST, "/api/v1/auth/logout", api_auth_logout, 0, VIEWER },
	{ HTTP_GET, "/api/v1/auth/me", api_auth_me, 0, VIEWER },
	{ HTTP_GET, "/api/v1/users", api_users_list, 0, ADMIN },
	{ HTTP_POST, "/api/v1/users", api_users_create, 0, ADMIN },
	{ HTTP_GET, "/api/v1/users/{id}", api_user_get, 0, ADMIN },
	{ HTTP_PATCH, "/api/v1/users/{id}", api_user_patch, 0, ADMIN },
	{ HTTP_GET, "/api/v1/keys", api_keys_list, 0, ADMIN },
	{ HTTP_POST, "/api/v1/keys", api_keys_create, 0, ADMIN },
	{ HTTP_DELETE, "/api/v1/keys/{id}", api_key_revoke, 0, ADMIN },
	{ HTTP_GET, "/api/v1/audit", api_audit_list, 0, ADMIN },
	/* the dashboard's (issue 12): logs show every session, so admins only */
	{ HTTP_GET, "/api/v1/logs", api_logs_list, 0, ADMIN },
	{ HTTP_GET, "/api/v1/stats", api_stats_get, 0, VIEWER },
};
#undef PUBLIC
#undef VIEWER
#undef OPERATOR
#undef ADMIN
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

void api_ctx_init(struct api_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	pthread_mutex_init(&ctx->auth_lock, NULL);
	pthread_mutex_init(&ctx->version_lock, NULL);
	pthread_mutex_init(&ctx->stream_lock, NULL);
	pthread_mutex_init(&ctx->pic_lock, NULL);
	pthread_cond_init(&ctx->pic_cond, NULL);
	ctx->login_rl = http_ratelimit_new(API_LOGINS_PER_MIN, 1024);
}

void api_ctx_release(struct api_ctx *ctx)
{
	api_streams_wait(ctx, 5000);
	api_audit_stop(ctx);
	http_ratelimit_free(ctx->login_rl);
	ctx->login_rl = NULL;
	pthread_mutex_destroy(&ctx->stream_lock);
	pthread_mutex_destroy(&ctx->auth_lock);
	pthread_mutex_destroy(&ctx->version_lock);
	api_picture_jobs_wait(ctx);
	pthread_cond_destroy(&ctx->pic_cond);
	pthread_mutex_destroy(&ctx->pic_lock);
	OPENSSL_cleanse(ctx->auth_cache, sizeof(ctx->auth_cache));
	OPENSSL_cleanse(ctx->cursor_key, sizeof(ctx->cursor_key));
}

/*
 * Civil date from days since 1970-01-01 (proleptic Gregorian), the
 * well-known era-based method. Pure arithmetic: unlike gmtime_r it takes no
 * libc time-zone lock, which HTTP threads would contend on.
 */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int api_time_format(int64_t ms, char out[API_TIME_LEN])
{
	int64_t days, y;
	unsigned mo, d, secs;

	if (ms <= 0 || ms > 253402300799999LL) /* up to 9999-12-31T23:59:59.999Z */
		return 0;
	days = ms / 86400000;
	secs = (unsigned)(ms / 1000 % 86400);
	civil_from_days(days, &y, &mo, &d);
	snprintf(out, API_TIME_LEN, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", (int)y, mo, d, secs / 3600,
		 secs / 60 % 60, secs % 60, (unsigned)(ms % 1000));
	return 1;
}

json_t *api_time_json(int64_t ms)
{
	char out[API_TIME_LEN];

	return api_time_format(ms, out) ? json_string(out) : json_null();
}

void api_reply_invalid(struct http_req *req, json_t *details)
{
	http_reply_error(req, 400, "VALIDATION_ERROR", "invalid request", details);
}

int api_session_id_param(struct http_req *req, char out[STORE_ID_LEN])
{
	size_t len = 0;
	const char *p = http_req_param(req, 0, &len);

	if (!p || !api_uuid_parse(p, len, out)) {
		api_reply_invalid(req, http_json_field_error("id", "must be a UUID"));
		return 0;
	}
	return api_scope_check(req, out);
}

int api_session_use_param(struct http_req *req, char out[STORE_ID_LEN])
{
	struct api_ctx *ctx = http_req_app(req);

	if (!api_session_id_param(req, out))
		return 0;
	svc_session_touch(ctx->svc, out, 1, clock_now_ms());
	return 1;
}

int api_page_args(struct http_req *req, const char *scope, int *limit, struct store_cursor *cur,
		  int *have_cursor)
{
	struct api_ctx *ctx = http_req_app(req);
	int present = 0;
	const char *v = http_req_query(req, "limit", &present);

	*have_cursor = 0;
	if (!api_limit_parse(v, present, limit)) {
		json_t *d = http_json_field_error("limit", "must be an integer from 1 to 500");

		api_reply_invalid(req, d);
		return 0;
	}
	v = http_req_query(req, "cursor", &present);
	if (present) {
		if (!v || api_cursor_decode(ctx->cursor_key, scope, v, cur) != Y_OK) {
			api_reply_invalid(req, http_json_field_error("cursor", "invalid cursor"));
			return 0;
		}
		*have_cursor = 1;
	}
	return 1;
}

int api_page_next(struct http_req *req, json_t *page, const char *scope, int has_next,
		  const struct store_cursor *next)
{
	struct api_ctx *ctx = http_req_app(req);
	char text[API_CURSOR_LEN + 1];

	if (!has_next)
		return json_object_set_new(page, "nextCursor", json_null()) == 0;
	if (api_cursor_encode(ctx->cursor_key, scope, next, text) != Y_OK)
		return 0;
	return json_object_set_new(page, "nextCursor", json_string(text)) == 0;
}

void api_reply_store_error(struct http_req *req, int rc)
{
	if (rc == Y_ENOTFOUND) {
		http_reply_error(req, 404, "SESSION_NOT_FOUND", "no such session", NULL);
		return;
	}
	LOG_ERROR("store error", "{s:s, s:s}", "error", y_strerror(rc), "requestId", http_req_id(req));
	http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
}

json_t *api_body_object(struct http_req *req, const char *const *allowed)
{
	size_t len;
	const char *body = http_req_body(req, &len);
	json_t *o = NULL, *d = NULL;

	if (http_json_parse_object(body, len, &o, &d) != Y_OK ||
	    http_json_only_keys(o, allowed, &d) != Y_OK) {
		json_decref(o);
		api_reply_invalid(req, d);
		return NULL;
	}
	return o;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *api_session_json(const struct store_session *s, const char *qr)
{
	json_t *webhook = json_null(), *o;

	if (s->webhook_url) {
		json_t *events = s->webhook_events ? json_loads(s->webhook_events, 0, NULL) : NULL;

		webhook = json_pack("{s:s, s:o, s:b}", "url", s->webhook_url, "events",
				    events ? events : json_null(), "hasSecret", s->webhook_secret != NULL);
	}
	o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", s->id,
		      "name", str_or_null(s->name), "status",
		      json_string(store_session_status_name(s->status)), "reason",
		      str_or_null(s->reason), "phone", str_or_null(s->phone), "pushName",
		      str_or_null(s->push_name), "deviceJid", str_or_null(s->device_jid), "lid",
		      str_or_null(s->lid), "qrCode", str_or_null(qr), "webhook",
		      webhook ? webhook : json_null(), "createdAt", api_time_json(s->created_at),
		      "updatedAt", api_time_json(s->updated_at));
	if (o && (json_object_set_new(o, "connectedAt", api_time_json(s->connected_at)) ||
		  json_object_set_new(o, "lastSeenAt", api_time_json(s->last_seen_at)))) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* "+digits" for a phone-number JID (user[:dev]@s.whatsapp.net), else the
 * JID itself (a LID, a group), or null. */
static json_t *jid_phone_json(const char *jid)
{
	const char *at = jid ? strchr(jid, '@') : NULL;
	size_t n;
	char buf[40];

	if (!jid)
		return json_null();
	if (!at || strcmp(at + 1, "s.whatsapp.net"))
		return json_string(jid);
	n = strcspn(jid, ":@");
	if (n == 0 || n > 20)
		return json_string(jid);
	for (size_t i = 0; i < n; i++)
		if (jid[i] < '0' || jid[i] > '9')
			return json_string(jid);
	snprintf(buf, sizeof(buf), "+%.*s", (int)n, jid);
	return json_string(buf);
}

json_t *api_message_json(const struct store_message *m)
{
	json_t *body = m->body ? json_loads(m->body, JSON_DECODE_ANY, NULL) : NULL;

	if (m->type && !strcmp(m->type, "poll") && json_is_object(body))
		json_object_del(body, "secret"); /* the poll's vote key stays here */

	return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:o, s:o, s:o}",
			 "id", m->id, "sessionId", m->session_id, "waId", str_or_null(m->wa_id),
			 "direction", m->from_me ? "outbound" : "inbound",
			 "from", jid_phone_json(m->from_jid), "fromJid", str_or_null(m->from_jid),
			 "to", jid_phone_json(m->to_jid), "toJid", str_or_null(m->to_jid),
			 "chat", str_or_null(m->chat), "type", str_or_null(m->type),
			 "text", str_or_null(m->text), "content", body ? body : json_null(),
			 "quotedMessageId", str_or_null(m->quoted_id),
			 "status", str_or_null(m->status), "reason", str_or_null(m->reason),
			 "timestamp", api_time_json(m->timestamp),
			 "createdAt", api_time_json(m->created_at),
			 "updatedAt", api_time_json(m->updated_at ? m->updated_at : m->created_at));
}
