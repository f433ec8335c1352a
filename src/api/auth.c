/*
 * Who calls (api.h api_auth): an API key, through a small cache, or the
 * dashboard's sign-in cookie; and the scope check every session route
 * makes (api_scope_check, called by api_session_id_param).
 */
#include "api/api.h"
#include "auth/apikey.h"
#include "auth/users.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

_Static_assert(STORE_ROLE_VIEWER == HTTP_ROLE_VIEWER && STORE_ROLE_OPERATOR == HTTP_ROLE_OPERATOR &&
		       STORE_ROLE_ADMIN == HTTP_ROLE_ADMIN,
	       "store and HTTP roles are numbered alike");

static int key_auth(struct api_ctx *ctx, const char *key, struct http_ident *out)
{
	struct api_auth_entry *e;
	struct store_key_info info;
	uint8_t digest[32];
	int64_t now = clock_mono_ms(), wall = clock_now_ms();
	int rc;

	if (strnlen(key, 257) > 256)
		return Y_ENOTFOUND;
	apikey_hash(key, digest);
	e = &ctx->auth_cache[digest[0] % API_AUTH_CACHE_SLOTS];
	pthread_mutex_lock(&ctx->auth_lock);
	if (e->expires_ms > now && !CRYPTO_memcmp(e->digest, digest, sizeof(digest)) &&
	    (!e->key_expires_at || e->key_expires_at > wall)) {
		*out = e->ident;
		pthread_mutex_unlock(&ctx->auth_lock);
		return Y_OK;
	}
	pthread_mutex_unlock(&ctx->auth_lock);
	rc = store_key_auth(ctx->st, digest, wall, &info);
	if (rc != Y_OK)
		return rc;
	store_apikey_touch(ctx->st, info.id, wall); /* best effort */
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", info.id);
	out->role = info.role;
	out->app_flags = info.scoped ? API_IDENT_SCOPED : 0;
	pthread_mutex_lock(&ctx->auth_lock);
	memcpy(e->digest, digest, sizeof(digest));
	e->ident = *out;
	e->key_expires_at = info.expires_at;
	e->expires_ms = now + API_AUTH_CACHE_TTL_MS;
	pthread_mutex_unlock(&ctx->auth_lock);
	return Y_OK;
}

int api_cookie_value(const char *header, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (const char *p = header; p && *p;) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			len -= nl + 1;
			if (len >= outlen)
				return 0;
			memcpy(out, p + nl + 1, len);
			out[len] = '\0';
			return 1;
		}
		p = end;
	}
	return 0;
}

int api_signin_token(struct http_req *req, char out[USERS_TOKEN_HEX + 1])
{
	const char *header = http_req_header(req, "Cookie");

	return header && api_cookie_value(header, USERS_COOKIE, out, USERS_TOKEN_HEX + 1);
}

static int cookie_auth(struct api_ctx *ctx, struct http_req *req, struct http_ident *out)
{
	const char *sent;
	char token[USERS_TOKEN_HEX + 1], csrf[USERS_TOKEN_HEX + 1];
	struct store_user u;
	int m = http_req_method(req), rc;

	if (!api_signin_token(req, token))
		return Y_ENOTFOUND;
	rc = users_signin_check(ctx->st, token, clock_now_ms(), &u);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "user:%s", u.id);
	out->role = u.role;
	out->app_flags = API_IDENT_COOKIE;
	store_user_release(&u);
	/* a state-changing request must echo the sign-in's CSRF token */
	if (m != HTTP_GET && m != HTTP_HEAD && m != HTTP_OPTIONS) {
		users_csrf_of(token, csrf);
		sent = http_req_header(req, "X-CSRF-Token");
		if (!sent || strlen(sent) != USERS_TOKEN_HEX ||
		    CRYPTO_memcmp(sent, csrf, USERS_TOKEN_HEX))
			rc = Y_ESTATE;
	}
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}

int api_auth(void *app, struct http_req *req, const char *key, struct http_ident *out)
{
	struct api_ctx *ctx = app;

	if (key)
		return key_auth(ctx, key, out);
	return cookie_auth(ctx, req, out);
}

const char *api_scope_key(struct http_req *req)
{
	const struct http_ident *who = http_req_ident(req);

	return who && (who->app_flags & API_IDENT_SCOPED) ? who->id : NULL;
}

int api_scope_check(struct http_req *req, const char *id)
{
	struct api_ctx *ctx = http_req_app(req);
	const char *key = api_scope_key(req);
	int rc;

	if (!key)
		return 1;
	rc = store_key_scope_has(ctx->st, key, id);
	if (rc == Y_OK)
		return 1;
	/* the same answer as for a session that does not exist */
	api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_ENOTFOUND : rc);
	return 0;
}
