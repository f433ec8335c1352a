/*
 * The REST API: route table, handlers (one file per resource) and the
 * helpers they share. The handlers reach the store and the session service
 * through struct api_ctx, handed to the HTTP layer as its `app` pointer.
 *
 * Error codes (body {"error","message","details"}):
 *   VALIDATION_ERROR 400, INVALID_PHONE_NUMBER 400, UNAUTHORIZED 401,
 *   NOT_FOUND 404, SESSION_NOT_FOUND 404, METHOD_NOT_ALLOWED 405,
 *   QR_NOT_AVAILABLE 404 (409 on the sandbox scan), INVALID_VERSION 400, ALREADY_LINKED 409,
 *   PAIR_CODE_UNAVAILABLE 409, PAYLOAD_TOO_LARGE 413, RATE_LIMIT_EXCEEDED 429,
 *   INTERNAL_ERROR 500, SESSION_NOT_CONNECTED 503, ENGINE_UNAVAILABLE 503,
 *   INVALID_PASSKEY_ASSERTION 400, PASSKEY_NOT_REQUIRED 409 (404 on GET .../passkey),
 *   SANDBOX_DISABLED 404, SANDBOX_UNAVAILABLE 503, MESSAGE_NOT_FOUND 404,
 *   QUEUE_FULL 429, TOO_MANY_STREAMS 429, FORBIDDEN 403, CSRF_FAILED 403,
 *   INVALID_CREDENTIALS 401, ACCOUNT_LOCKED 429, USER_NOT_FOUND 404,
 *   KEY_NOT_FOUND 404, EMAIL_TAKEN 409, UPSTREAM_ERROR 502,
 *   UPSTREAM_TIMEOUT 504, NOTHING_TO_DOWNLOAD 409, MEDIA_FETCH_FAILED 422 (PUT .../profile/picture
 *   by URL).
 * Every route, its answers and their codes are described in src/api/openapi.json
 * (tests/unit/test_openapi.c fails when a row of api_routes is missing there).
 */
#ifndef YESAPP_API_H
#define YESAPP_API_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "api/cursor.h"
#include "http/http.h"
#include "service/session.h"
#include "store/store.h"

struct sim_thread;
struct media_svc;
struct events_bell;
struct http_ratelimit;
struct api_audit;

#define API_SESSION_NAME_MAX 100
#define API_TEXT_MAX 65536 /* characters (code points) of a text message */
#define API_SECRET_MAX 256

#define API_STREAMS_MAX 32         /* live event streams at once */
#define API_STREAMS_PER_KEY 4      /* of them per API key */
#define API_STREAM_HEARTBEAT_MS 15000

#define API_AUTH_CACHE_SLOTS 64
#define API_AUTH_CACHE_TTL_MS 2000

#define API_LOGINS_PER_MIN 10       /* sign-in attempts per client address */

/* http_ident.app_flags */
#define API_IDENT_SCOPED 1         /* a key limited to its sessions (api_scope_key) */
#define API_IDENT_COOKIE 2         /* a dashboard sign-in, not a key */

/* A verified key, remembered briefly so that a busy client does not cost a
 * database lookup per request. Only successes are cached. */
struct api_auth_entry {
	uint8_t digest[32];
	struct http_ident ident;
	int64_t key_expires_at;    /* wall clock, the key's own expiry; 0 = never */
	int64_t expires_ms;        /* monotonic; 0 = empty */
};

/* Set up with api_ctx_init, torn down with api_ctx_release. */
struct api_ctx {
	struct store *st;          /* borrowed */
	struct svc *svc;           /* borrowed */
	const char *data_dir;      /* borrowed; checked by /ready */
	struct sim_thread *sandbox;/* borrowed; NULL unless serve --sandbox (api/sandbox.c) */
	struct events_bell *bell;  /* borrowed; rung for each new event (api/events.c), or NULL */
	uint8_t cursor_key[API_CURSOR_KEY_LEN];
	int64_t started_ms;        /* monotonic, for /health uptime */
	const char *metrics_token; /* borrowed; METRICS_TOKEN, NULL = /metrics open */
	size_t max_body_bytes;     /* MAX_BODY_BYTES, told by GET /api/v1/auth/me (0: not told) */
	int media_url_allow_private; /* MEDIA_URL_ALLOW_PRIVATE */
	struct media_svc *media;   /* borrowed; downloads asked for (api/media.c), or NULL:
				    * those rows wait pending for a start that has one */
	/* the WhatsApp Web version: the default (WA_VERSION or built in) and
	 * the one in force (the default, or what PUT .../wa-version stored) */
	struct wa_version wa_version_default;
	int wa_version_configured;  /* 1 if the default came from WA_VERSION */
	pthread_mutex_t version_lock; /* private: guards the two below */
	struct wa_version wa_version;
	int wa_version_set;         /* 1 if the API's stored value is in force */
	pthread_mutex_t stream_lock; /* private: guards the streams' keys (api/events.c) */
	char stream_keys[API_STREAMS_MAX][HTTP_KEY_ID_LEN]; /* "" = free slot */
	int nstreams;
	pthread_mutex_t auth_lock; /* private: guards auth_cache */
	struct api_auth_entry auth_cache[API_AUTH_CACHE_SLOTS];
	struct http_ratelimit *login_rl; /* owned: sign-in attempts per address */
	struct api_audit *audit;   /* owned: the audit log's writer (api/audit.c), or NULL */
	pthread_mutex_t pic_lock;  /* private: guards pic_jobs (api/contacts.c) */
	pthread_cond_t pic_cond;   /* signalled when a picture job ends */
	int pic_jobs;              /* pictures being made (fetched, scaled) on threads */
};

void api_ctx_init(struct api_ctx *ctx);
/* Waits for the threads making pictures (PUT .../profile/picture) to end:
 * each ends within its fetch's timeout. Before the engine stops, as they
 * hand their picture to it. */
void api_picture_jobs_wait(struct api_ctx *ctx);
/* Waits (a few seconds at most) for the event streams' threads to end. */
void api_ctx_release(struct api_ctx *ctx);

extern const struct http_route api_routes[];
extern const size_t api_nroutes;

/* The HTTP layer's verifier (app is a struct api_ctx, api/auth.c): an
 * X-API-Key, or else the dashboard's sign-in cookie (with its CSRF check on
 * state-changing methods). A key that verified is trusted for
 * API_AUTH_CACHE_TTL_MS without asking the store again, so a key revoked by
 * `yesapp keys revoke` (another process) stops working within that time. */
int api_auth(void *app, struct http_req *req, const char *key, struct http_ident *out);
/* The HTTP layer's on_done hook: queues the audit row of a state-changing
 * request (api/audit.c). */
void api_audit_hook(void *app, struct http_req *req);
/* Starts / stops the audit writer thread (NULL-safe stop flushes). */
int api_audit_start(struct api_ctx *ctx);
void api_audit_stop(struct api_ctx *ctx);
/* Queues a sign-in attempt's row: actor "user:<id>" (the user whose email
 * was given, when known) or "anonymous". */
void api_audit_signin(struct api_ctx *ctx, struct http_req *req, const char *user_id, int status);
/* Waits (a second at most) until the rows queued so far are written. */
void api_audit_sync(struct api_ctx *ctx);

/* The value of cookie `name` in a Cookie header ("a=b; name=v"), copied
 * into out: 1, or 0 if absent or not shorter than outlen (exposed for the
 * fuzzer). */
int api_cookie_value(const char *header, const char *name, char *out, size_t outlen);
/* The sign-in cookie's token (64 hex chars) into out: 1 if the request has
 * one (not checked), else 0. */
int api_signin_token(struct http_req *req, char out[65]);
/* The id of the caller's key if it is scoped (sees only its sessions),
 * else NULL (api/auth.c). */
const char *api_scope_key(struct http_req *req);
/* 1 if the caller may touch session id; else answers 404
 * SESSION_NOT_FOUND (as for a missing session) and returns 0. */
int api_scope_check(struct http_req *req, const char *id);

/* ---- shared by the handlers (api/common.c) ---- */
#define API_TIME_LEN 48
/* ISO-8601 UTC with milliseconds ("2026-01-02T03:04:05.678Z") for ms since
 * the epoch in 1..year 9999; returns 0 (out untouched) outside that range. */
int api_time_format(int64_t ms, char out[API_TIME_LEN]);
/* The same as a new JSON string; JSON null outside the range (e.g. 0). */
json_t *api_time_json(int64_t ms);
/* Validates the {id} path parameter into out; answers 400 and returns 0 if
 * malformed. */
int api_session_id_param(struct http_req *req, char out[STORE_ID_LEN]);
/* The same for a request that uses the session (reads it, its messages or
 * its webhook, sends): records the use and wakes a session disconnected for
 * idleness (IDLE_DISCONNECT_HOURS). Lifecycle calls (logout, restart,
 * delete) use api_session_id_param. */
int api_session_use_param(struct http_req *req, char out[STORE_ID_LEN]);
/* Reads `limit` and `cursor` for a list in `scope`; answers 400 and returns 0
 * on bad input. *have_cursor says whether *cur was filled. */
int api_page_args(struct http_req *req, const char *scope, int *limit, struct store_cursor *cur,
		  int *have_cursor);
/* Adds "nextCursor" (string or null) to a page object; 0 on failure. */
int api_page_next(struct http_req *req, json_t *page, const char *scope, int has_next,
		  const struct store_cursor *next);
/* Answers a store failure: Y_ENOTFOUND -> 404 SESSION_NOT_FOUND, else 500. */
void api_reply_store_error(struct http_req *req, int rc);
/* Parses the body as a strict JSON object with only `allowed` keys; answers
 * 400 and returns NULL on failure. Caller owns the result. */
json_t *api_body_object(struct http_req *req, const char *const *allowed);
/* Answers 400 VALIDATION_ERROR with details (taken). */
void api_reply_invalid(struct http_req *req, json_t *details);

/* The session as the API shows it; qr (borrowed, may be NULL) is the QR on
 * show. */
json_t *api_session_json(const struct store_session *s, const char *qr);
json_t *api_message_json(const struct store_message *m);
/* The filters of GET .../messages (api/chats.c): chat (a JID or an
 * international number, written into chat), direction (in|out), status,
 * since and until (ISO 8601). Answers 400 VALIDATION_ERROR naming the
 * field and returns 0 on a bad value. */
#define API_CHAT_MAX 64
int api_message_filter_args(struct http_req *req, struct store_message_filter *f,
			    char chat[API_CHAT_MAX]);
/* Adds "confirmationCode" (the passkey step's, or null) to a session's
 * JSON (api/passkey.c). */
void api_passkey_decorate(struct svc *svc, const char *id, json_t *session);

/* handlers */
void api_health(struct http_req *req);
void api_ready(struct http_req *req);
void api_metrics(struct http_req *req);
void api_sessions_create(struct http_req *req);
void api_sessions_list(struct http_req *req);
void api_session_get(struct http_req *req);
void api_session_delete(struct http_req *req);
void api_session_qr_png(struct http_req *req);
void api_session_qr_svg(struct http_req *req);
void api_session_logout(struct http_req *req);
void api_session_restart(struct http_req *req);
void api_wa_version_get(struct http_req *req);
void api_wa_version_put(struct http_req *req);
void api_wa_version_delete(struct http_req *req);
void api_session_pair_code(struct http_req *req); /* api/paircode.c */
void api_messages_list(struct http_req *req);
void api_messages_send(struct http_req *req);
void api_messages_send_media(struct http_req *req);
void api_media_settings_get(struct http_req *req);
void api_media_settings_put(struct http_req *req);
void api_message_get(struct http_req *req);
void api_message_read(struct http_req *req);
/* messages.c: answers a send: 202 with *m (released), or the error rc means
 * (503, 429 with Retry-After, store errors). */
void api_reply_accepted(struct http_req *req, int rc, int retry, struct store_message *m);
/* The {id} and {mid} path parameters; 0 after answering (404). */
int api_message_params(struct http_req *req, char sid[STORE_ID_LEN], char mid[STORE_ID_LEN]);
/* chatkinds.c (issue 15): kinds beyond plain text. */
int api_send_is_kind(const json_t *body); /* quotedMessageId, location or contacts */
void api_send_kind(struct http_req *req, const char *sid, const char *to_jid, json_t *body);
void api_message_react(struct http_req *req);   /* POST .../messages/{mid}/reaction */
void api_message_edit(struct http_req *req);    /* PATCH .../messages/{mid} */
void api_message_delete(struct http_req *req);  /* DELETE .../messages/{mid} */
void api_presence_set(struct http_req *req);    /* POST .../presence */
void api_presence_subscribe(struct http_req *req); /* POST .../presence/subscribe */
void api_chat_typing(struct http_req *req);     /* POST .../chats/{chat}/typing */
void api_chat_read(struct http_req *req);       /* POST .../chats/{chat}/read */
void api_chat_patch(struct http_req *req);      /* PATCH .../chats/{chat} (app state) */
void api_message_poll(struct http_req *req);    /* GET .../messages/{mid}/poll */
void api_message_poll_vote(struct http_req *req); /* POST .../messages/{mid}/poll/vote */
void api_blocklist_get(struct http_req *req);   /* GET .../blocklist */
void api_blocklist_post(struct http_req *req);  /* POST .../blocklist */
void api_profile_about(struct http_req *req);   /* PUT .../profile/about */
void api_chats_list(struct http_req *req);     /* api/chats.c */
void api_contact_get(struct http_req *req);    /* api/contacts.c */
void api_contact_picture(struct http_req *req);        /* GET .../contacts/{phone}/picture */
void api_profile_get(struct http_req *req);            /* GET .../profile */
void api_profile_name(struct http_req *req);           /* PUT .../profile/name */
void api_profile_picture_put(struct http_req *req);    /* PUT .../profile/picture */
void api_profile_picture_delete(struct http_req *req); /* DELETE .../profile/picture */
void api_media_get(struct http_req *req);     /* api/media.c */
void api_media_download(struct http_req *req);
void api_webhook_put(struct http_req *req);
void api_webhook_get(struct http_req *req);
void api_webhook_delete(struct http_req *req);
void api_webhook_logs(struct http_req *req);
void api_webhook_retry(struct http_req *req);
void api_events_list(struct http_req *req);   /* api/events.c */
void api_events_stream(struct http_req *req);
/* Waits up to timeout_ms for every stream's thread to end (api/events.c). */
void api_streams_wait(struct api_ctx *ctx, int timeout_ms);
void api_passkey_get(struct http_req *req);
void api_passkey_post(struct http_req *req);
void api_passkey_confirm(struct http_req *req);
void api_openapi(struct http_req *req); /* api/openapi.c */
void api_sandbox_get(struct http_req *req);
void api_sandbox_scan(struct http_req *req);
void api_auth_login(struct http_req *req);     /* api/users.c */
void api_auth_logout(struct http_req *req);
void api_auth_me(struct http_req *req);
void api_users_list(struct http_req *req);
void api_users_create(struct http_req *req);
void api_user_get(struct http_req *req);
void api_user_patch(struct http_req *req);
void api_keys_list(struct http_req *req);
void api_keys_create(struct http_req *req);
void api_key_revoke(struct http_req *req);
void api_audit_list(struct http_req *req);
void api_logs_list(struct http_req *req);   /* api/logs.c */
void api_stats_get(struct http_req *req);   /* api/stats.c */

#endif
