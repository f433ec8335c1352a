/*
 * Sign-in, users, keys and the audit log over REST (docs/auth.md):
 *   POST /api/v1/auth/login {email, password}   public; sets the cookie
 *   POST /api/v1/auth/logout, GET /api/v1/auth/me
 *   GET|POST /api/v1/users, GET|PATCH /api/v1/users/{id}     admin
 *   GET|POST /api/v1/keys, DELETE /api/v1/keys/{id}          admin
 *   GET /api/v1/audit?before=&limit=                          admin
 */
#include "api/api.h"
#include "api/validate.h"
#include "auth/apikey.h"
#include "auth/users.h"
#include "http/json.h"
#include "http/ratelimit.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMAIL_MAX 254
#define NAME_MAX_CHARS 100
#define KEY_SESSIONS_MAX 100
#define KEY_EXPIRES_MAX_S (10LL * 365 * 86400)

static json_t *user_json(const struct store_user *u)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:o, s:o, s:o, s:o}", "id", u->id,
			 "email", u->email, "displayName", u->display_name, "role",
			 http_role_name(u->role), "disabled", u->disabled, "hasPassword",
			 u->has_password, "failedLogins", u->failed_logins, "lockedUntil",
			 api_time_json(u->locked_until), "lastLoginAt",
			 api_time_json(u->last_login_at), "createdAt", api_time_json(u->created_at),
			 "updatedAt", api_time_json(u->updated_at));
}

static json_t *sessions_json(const char *list)
{
	json_t *a;
	const char *p = list;

	if (!list)
		return json_null();
	a = json_array();
	while (a && *p) {
		size_t n = strcspn(p, ",");

		json_array_append_new(a, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	return a ? a : json_null();
}

static json_t *key_json(const struct store_key *k)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:b}", "id", k->k.id,
			 "name", k->k.name, "prefix", k->k.prefix, "userId",
			 k->user_id[0] ? json_string(k->user_id) : json_null(), "userEmail",
			 k->user_email ? json_string(k->user_email) : json_null(), "role",
			 http_role_name(k->role), "sessions", sessions_json(k->scoped ? k->sessions
										   : NULL),
			 "expiresAt", api_time_json(k->expires_at), "createdAt",
			 api_time_json(k->k.created_at), "lastUsedAt",
			 api_time_json(k->k.last_used_at), "revoked", k->k.revoked);
}

static int email_ok(const char *e)
{
	const char *at = strchr(e, '@');

	if (!at || at == e || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (const char *p = e; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static void reply_internal(struct http_req *req, int rc)
{
	api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_EDB : rc);
}

/* ---- sign-in ---- */

static void set_cookie(struct http_req *req, const char *token, int64_t max_age_s)
{
	char c[256];

	snprintf(c, sizeof(c), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
		 USERS_COOKIE, token, (long long)max_age_s, http_req_https(req) ? "; Secure" : "");
	http_req_set_cookie(req, c);
}

void api_auth_login(struct http_req *req)
{
	static const char *const keys[] = { "email", "password", NULL };
	struct api_ctx *ctx = http_req_app(req);
	const char *ip = http_req_client_ip(req), *email, *pw;
	char token[USERS_TOKEN_HEX + 1], csrf[USERS_TOKEN_HEX + 1];
	struct store_user u;
	int64_t now = clock_now_ms(), locked = 0;
	int remaining = 0, retry = 0, rc;
	json_t *body, *d = NULL, *o;

	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "email", 1, 1, EMAIL_MAX, &email, &d) != Y_OK ||
	    http_json_get_string(body, "password", 1, 1, USERS_PW_MAX, &pw, &d) != Y_OK) {
		json_decref(body);
		api_reply_invalid(req, d);
		return;
	}
	/* only attempts that would check a password count */
	if (ctx->login_rl && !http_ratelimit_hit(ctx->login_rl, ip, strlen(ip), clock_mono_ms(),
						  &remaining, &retry)) {
		json_decref(body);
		http_req_set_retry_after(req, retry);
		http_reply_error(req, 429, "RATE_LIMIT_EXCEEDED", "too many sign-in attempts",
				 json_pack("{s:i, s:i}", "limit", API_LOGINS_PER_MIN, "retryAfter",
					   retry));
		return;
	}
	rc = users_login(ctx->st, email, pw, ip, now, token, &u, &locked);
	if (rc) {
		struct store_user who;

		/* whose account was tried, when the email is a user's */
		int known = store_user_get(ctx->st, NULL, email, &who, NULL) == Y_OK;

		api_audit_signin(ctx, req, known ? who.id : NULL,
				 rc == Y_EBUSY ? 429 : rc == Y_ENOTFOUND ? 401 : 500);
		if (known)
			store_user_release(&who);
	} else {
		api_audit_signin(ctx, req, u.id, 200);
	}
	json_decref(body);
	if (rc == Y_EBUSY) {
		int secs = (int)((locked - now + 999) / 1000);

		http_req_set_retry_after(req, secs);
		http_reply_error(req, 429, "ACCOUNT_LOCKED",
				 "too many failed sign-ins; try again later",
				 json_pack("{s:i}", "retryAfter", secs));
		return;
	}
	if (rc == Y_ENOTFOUND) {
		http_reply_error(req, 401, "INVALID_CREDENTIALS", "wrong email or password", NULL);
		return;
	}
	if (rc) {
		reply_internal(req, rc);
		return;
	}
	users_csrf_of(token, csrf);
	set_cookie(req, token, USERS_SIGNIN_MS / 1000);
	OPENSSL_cleanse(token, sizeof(token));
	o = json_pack("{s:o, s:s, s:o}", "user", user_json(&u), "csrfToken", csrf, "expiresAt",
		      api_time_json(now + USERS_SIGNIN_MS));
	store_user_release(&u);
	http_reply_json(req, 200, o);
}

void api_auth_logout(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	char token[USERS_TOKEN_HEX + 1];

	if (api_signin_token(req, token)) {
		users_logout(ctx->st, token);
		OPENSSL_cleanse(token, sizeof(token));
		set_cookie(req, "", 0);
	}
	http_reply_empty(req, 204);
}

void api_auth_me(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	const struct http_ident *who = http_req_ident(req);
	char token[USERS_TOKEN_HEX + 1], csrf[USERS_TOKEN_HEX + 1];
	int cookie = (who->app_flags & API_IDENT_COOKIE) != 0;
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "kind", cookie ? "user" : "key", "id",
			      cookie ? who->id + 5 : who->id, "role", http_role_name(who->role),
			      "scoped", (who->app_flags & API_IDENT_SCOPED) != 0);

	if (o && cookie && api_signin_token(req, token)) {
		users_csrf_of(token, csrf);
		OPENSSL_cleanse(token, sizeof(token));
		json_object_set_new(o, "csrfToken", json_string(csrf));
	}
	/* the dashboard checks a file's size against it before sending */
	if (o && ctx->max_body_bytes)
		json_object_set_new(o, "maxBodyBytes", json_integer((json_int_t)ctx->max_body_bytes));
	http_reply_json(req, 200, o);
}

/* ---- users ---- */

/* Answers {"data": [each item as JSON]} for a list the store gave (rc). */
static void reply_items(struct http_req *req, int rc, const void *items, size_t n, size_t size,
			json_t *(*to_json)(const void *item))
{
	json_t *data;

	if (rc) {
		reply_internal(req, rc);
		return;
	}
	data = json_array();
	for (size_t i = 0; data && i < n; i++)
		json_array_append_new(data, to_json((const char *)items + i * size));
	http_reply_json(req, 200, data ? json_pack("{s:o}", "data", data) : NULL);
}

static json_t *user_item(const void *u)
{
	return user_json(u);
}

void api_users_list(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_user *u = NULL;
	size_t n = 0;
	int rc = store_user_list(ctx->st, &u, &n);

	reply_items(req, rc, u, n, sizeof(*u), user_item);
	store_users_free(u, n);
}

static int role_arg(struct http_req *req, json_t *body, int required, int *role)
{
	const char *r = NULL;
	json_t *d = NULL;
	int rc = http_json_get_string(body, "role", required, 1, 16, &r, &d);

	*role = 0;
	if (rc == Y_ENOTFOUND)
		return 1;
	if (rc == Y_OK && !(*role = http_role_parse(r)))
		d = http_json_field_error("role", "must be viewer, operator or admin");
	if (!*role) {
		api_reply_invalid(req, d);
		return 0;
	}
	return 1;
}

void api_users_create(struct http_req *req)
{
	static const char *const keys[] = { "email", "displayName", "role", "password", NULL };
	struct api_ctx *ctx = http_req_app(req);
	const char *email, *name = NULL, *pw = NULL;
	char hash[USERS_PW_HASH_MAX];
	struct store_user u;
	json_t *body, *d = NULL;
	int role, rc;

	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "email", 1, 3, EMAIL_MAX, &email, &d) != Y_OK)
		goto invalid;
	if (!email_ok(email)) {
		d = http_json_field_error("email", "must be an email address");
		goto invalid;
	}
	if (http_json_get_string(body, "displayName", 0, 0, NAME_MAX_CHARS, &name, &d) == Y_EINVAL)
		goto invalid;
	if (http_json_get_string(body, "password", 0, USERS_PW_MIN, USERS_PW_MAX, &pw, &d) ==
	    Y_EINVAL)
		goto invalid;
	if (!role_arg(req, body, 1, &role)) {
		json_decref(body);
		return;
	}
	hash[0] = '\0';
	if (pw && (rc = users_password_hash(pw, hash))) {
		json_decref(body);
		reply_internal(req, rc);
		return;
	}
	rc = store_user_create(ctx->st, email, name, role, pw ? hash : NULL, &u);
	json_decref(body);
	if (rc == Y_EEXIST) {
		http_reply_error(req, 409, "EMAIL_TAKEN", "a user with this email exists", NULL);
		return;
	}
	if (rc) {
		reply_internal(req, rc);
		return;
	}
	http_reply_json(req, 201, user_json(&u));
	store_user_release(&u);
	return;
invalid:
	json_decref(body);
	api_reply_invalid(req, d);
}

static int user_id_param(struct http_req *req, char out[STORE_ID_LEN])
{
	size_t len = 0;
	const char *p = http_req_param(req, 0, &len);

	if (!p || !api_uuid_parse(p, len, out)) {
		api_reply_invalid(req, http_json_field_error("id", "must be a UUID"));
		return 0;
	}
	return 1;
}

static void reply_user(struct http_req *req, const char *id)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_user u;
	int rc = store_user_get(ctx->st, id, NULL, &u, NULL);

	if (rc == Y_ENOTFOUND) {
		http_reply_error(req, 404, "USER_NOT_FOUND", "no such user", NULL);
		return;
	}
	if (rc) {
		reply_internal(req, rc);
		return;
	}
	http_reply_json(req, 200, user_json(&u));
	store_user_release(&u);
}

void api_user_get(struct http_req *req)
{
	char id[STORE_ID_LEN];

	if (user_id_param(req, id))
		reply_user(req, id);
}

/* PATCH {disabled?: bool, password?: string, role?: string, displayName?: string} */
void api_user_patch(struct http_req *req)
{
	static const char *const keys[] = { "disabled", "password", "role", "displayName", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN], hash[USERS_PW_HASH_MAX];
	const char *pw = NULL, *name = NULL;
	json_t *body, *d = NULL, *dis;
	int rc = Y_OK, role = 0;

	if (!user_id_param(req, id))
		return;
	body = api_body_object(req, keys);
	if (!body)
		return;
	dis = json_object_get(body, "disabled");
	if (dis && !json_is_boolean(dis)) {
		d = http_json_field_error("disabled", "must be true or false");
		goto invalid;
	}
	if (http_json_get_string(body, "password", 0, USERS_PW_MIN, USERS_PW_MAX, &pw, &d) ==
	    Y_EINVAL)
		goto invalid;
	if (http_json_get_string(body, "displayName", 0, 0, NAME_MAX_CHARS, &name, &d) == Y_EINVAL)
		goto invalid;
	if (!role_arg(req, body, 0, &role)) {
		json_decref(body);
		return;
	}
	if (name || role)
		rc = store_user_update(ctx->st, id, name, role);
	if (!rc && pw && !(rc = users_password_hash(pw, hash)))
		rc = store_user_set_password(ctx->st, id, hash);
	if (!rc && dis)
		rc = store_user_set_disabled(ctx->st, id, json_is_true(dis));
	json_decref(body);
	if (rc == Y_ENOTFOUND) {
		http_reply_error(req, 404, "USER_NOT_FOUND", "no such user", NULL);
		return;
	}
	if (rc) {
		reply_internal(req, rc);
		return;
	}
	reply_user(req, id);
	return;
invalid:
	json_decref(body);
	api_reply_invalid(req, d);
}

/* ---- keys ---- */

static json_t *key_item(const void *k)
{
	return key_json(k);
}

void api_keys_list(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_key *k = NULL;
	size_t n = 0;
	int rc = store_key_list(ctx->st, &k, &n);

	reply_items(req, rc, k, n, sizeof(*k), key_item);
	store_keys_free(k, n);
}

/* The caller's user: a signed-in one, or the owner of the caller's key. */
static int caller_user(struct api_ctx *ctx, const struct http_ident *who, char out[STORE_ID_LEN])
{
	struct store_key *k = NULL;
	size_t n = 0;
	int rc;

	if (who->app_flags & API_IDENT_COOKIE) {
		snprintf(out, STORE_ID_LEN, "%s", who->id + 5);
		return Y_OK;
	}
	rc = store_key_list(ctx->st, &k, &n);
	for (size_t i = 0; !rc && i < n; i++)
		if (!strcmp(k[i].k.id, who->id)) {
			snprintf(out, STORE_ID_LEN, "%s", k[i].user_id);
			store_keys_free(k, n);
			return out[0] ? Y_OK : Y_ENOTFOUND;
		}
	store_keys_free(k, n);
	return rc ? rc : Y_ENOTFOUND;
}

/* POST {name?, role, userId?, sessions?: [id...], expiresIn?: seconds} */
void api_keys_create(struct http_req *req)
{
	static const char *const keys[] = { "name", "role", "userId", "sessions", "expiresIn",
					    NULL };
	struct api_ctx *ctx = http_req_app(req);
	const char *name = NULL, *uid = NULL, *ids[KEY_SESSIONS_MAX];
	char user[STORE_ID_LEN], sids[KEY_SESSIONS_MAX][STORE_ID_LEN],
		id[STORE_ID_LEN], plain[APIKEY_HEX_LEN + 1];
	json_t *body, *d = NULL, *sess, *exp, *o;
	int64_t expires_at = 0;
	size_t ns = 0;
	int role, rc;

	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "name", 0, 0, NAME_MAX_CHARS, &name, &d) == Y_EINVAL)
		goto invalid;
	if (http_json_get_string(body, "userId", 0, 36, 36, &uid, &d) == Y_EINVAL)
		goto invalid;
	if (uid && !api_uuid_parse(uid, strlen(uid), user)) {
		d = http_json_field_error("userId", "must be a UUID");
		goto invalid;
	}
	sess = json_object_get(body, "sessions");
	if (sess && !json_is_null(sess)) {
		if (!json_is_array(sess) || json_array_size(sess) > KEY_SESSIONS_MAX) {
			d = http_json_field_error("sessions", "must be an array of up to 100 ids");
			goto invalid;
		}
		for (size_t i = 0; i < json_array_size(sess); i++) {
			const char *v = json_string_value(json_array_get(sess, i));

			if (!v || !api_uuid_parse(v, strlen(v), sids[ns])) {
				d = http_json_field_error("sessions", "each must be a session UUID");
				goto invalid;
			}
			ids[ns] = sids[ns];
			ns++;
		}
	}
	exp = json_object_get(body, "expiresIn");
	if (exp && !json_is_null(exp)) {
		if (!json_is_integer(exp) || json_integer_value(exp) < 1 ||
		    json_integer_value(exp) > KEY_EXPIRES_MAX_S) {
			d = http_json_field_error("expiresIn", "must be seconds from 1 to 10 years");
			goto invalid;
		}
		expires_at = clock_now_ms() + (int64_t)json_integer_value(exp) * 1000;
	}
	if (!role_arg(req, body, 1, &role)) {
		json_decref(body);
		return;
	}
	if (sess && !json_is_null(sess) && role == HTTP_ROLE_ADMIN) {
		d = http_json_field_error("role", "a key limited to sessions cannot be admin");
		goto invalid;
	}
	rc = uid ? Y_OK : caller_user(ctx, http_req_ident(req), user);
	if (rc == Y_ENOTFOUND) {
		d = http_json_field_error("userId", "required: the calling key has no user");
		goto invalid;
	}
	if (!rc)
		rc = apikey_create_for(ctx->st, name ? name : "", user, role, expires_at,
				       sess && !json_is_null(sess), ids, ns, plain, id);
	if (rc == Y_EINVAL) {
		d = http_json_field_error("role", "must not be above the user's role");
		goto invalid;
	}
	json_decref(body);
	/* the store does not say which was missing: a given user, or a session
	 * (one call per code: tests/http/openapi.test.mjs reads the literals) */
	if (rc == Y_ENOTFOUND && uid) {
		struct store_user u;
		int urc = store_user_get(ctx->st, user, NULL, &u, NULL);

		if (urc == Y_OK) {
			store_user_release(&u);
		} else if (urc == Y_ENOTFOUND) {
			http_reply_error(req, 404, "USER_NOT_FOUND", "no such user", NULL);
			return;
		} else {
			reply_internal(req, urc);
			return;
		}
	}
	if (rc == Y_ENOTFOUND) {
		http_reply_error(req, 404, "SESSION_NOT_FOUND", "a session in the list does not exist",
				 NULL);
		return;
	}
	if (rc) {
		reply_internal(req, rc);
		return;
	}
	o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", id, "key", plain, "role",
		      http_role_name(role), "userId", json_string(user), "expiresAt",
		      api_time_json(expires_at));
	OPENSSL_cleanse(plain, sizeof(plain));
	http_reply_json(req, 201, o);
	return;
invalid:
	json_decref(body);
	api_reply_invalid(req, d);
}

void api_key_revoke(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN];
	int rc;

	if (!user_id_param(req, id))
		return;
	rc = store_apikey_revoke(ctx->st, id);
	if (rc == Y_ENOTFOUND) {
		http_reply_error(req, 404, "KEY_NOT_FOUND", "no such key", NULL);
		return;
	}
	if (rc) {
		reply_internal(req, rc);
		return;
	}
	http_reply_empty(req, 204);
}

/* ---- audit ---- */

void api_audit_list(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_audit *a = NULL;
	size_t n = 0;
	int present = 0, limit, has_next = 0, rc;
	const char *v = http_req_query(req, "limit", &present);
	long long before = 0;
	json_t *data;

	if (!api_limit_parse(v, present, &limit)) {
		api_reply_invalid(req, http_json_field_error("limit", "must be an integer from 1 to 500"));
		return;
	}
	v = http_req_query(req, "before", &present);
	if (present) {
		char *end = NULL;

		before = v ? strtoll(v, &end, 10) : -1;
		if (!v || !*v || *end || before < 1) {
			api_reply_invalid(req, http_json_field_error("before", "must be an audit id"));
			return;
		}
	}
	api_audit_sync(ctx);
	rc = store_audit_list(ctx->st, before, limit, &a, &n, &has_next);
	if (rc) {
		reply_internal(req, rc);
		return;
	}
	data = json_array();
	for (size_t i = 0; data && i < n; i++)
		json_array_append_new(
			data, json_pack("{s:I, s:o, s:s, s:s, s:s, s:o, s:s, s:i}", "id",
					(json_int_t)a[i].id, "at", api_time_json(a[i].at), "actor",
					a[i].actor, "method", a[i].method, "route", a[i].route,
					"sessionId", a[i].session_id ? json_string(a[i].session_id)
								     : json_null(),
					"ip", a[i].ip ? a[i].ip : "", "status", a[i].status));
	http_reply_json(req, 200,
			data ? json_pack("{s:o, s:o}", "data", data, "nextBefore",
					 has_next ? json_integer((json_int_t)a[n - 1].id)
						  : json_null())
			     : NULL);
	store_audits_free(a, n);
}
