/* Passwords and sign-ins (users.h). */
#include "auth/users.h"
#include "auth/apikey.h"
#include "util/codec.h"
#include "util/err.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(USERS_PW_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");

static int sodium_ready(void)
{
	return sodium_init() >= 0; /* idempotent and thread-safe */
}

int users_password_hash(const char *password, char out[USERS_PW_HASH_MAX])
{
	size_t n = password ? strnlen(password, USERS_PW_MAX + 1) : 0;

	out[0] = '\0';
	if (n < USERS_PW_MIN || n > USERS_PW_MAX)
		return Y_EINVAL;
	if (!sodium_ready())
		return Y_ECRYPTO;
	if (crypto_pwhash_str_alg(out, password, n, USERS_PW_OPSLIMIT, (size_t)USERS_PW_MEMLIMIT,
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return Y_ENOMEM; /* the only documented failure: out of memory */
	return Y_OK;
}

int users_password_verify(const char *hash, const char *password)
{
	size_t n = password ? strnlen(password, USERS_PW_MAX + 1) : 0;

	if (!hash || !password || n > USERS_PW_MAX || !sodium_ready())
		return Y_ECRYPTO;
	return crypto_pwhash_str_verify(hash, password, n) == 0 ? Y_OK : Y_ECRYPTO;
}

/* A hash of no one's password, verified against when there is no user, so
 * that an unknown email takes as long as a wrong password. */
static char dummy_hash[USERS_PW_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_make(void)
{
	if (users_password_hash("not-a-password-anyone-has", dummy_hash))
		dummy_hash[0] = '\0';
}

static void burn_time(const char *password)
{
	pthread_once(&dummy_once, dummy_make);
	if (dummy_hash[0])
		users_password_verify(dummy_hash, password);
}

int users_login(struct store *st, const char *email, const char *password, const char *ip,
		int64_t now, char token[USERS_TOKEN_HEX + 1], struct store_user *user,
		int64_t *locked_until)
{
	char *hash = NULL;
	uint8_t raw[USERS_TOKEN_HEX / 2], digest[32];
	int rc;

	token[0] = '\0';
	*locked_until = 0;
	rc = store_user_get(st, NULL, email, user, &hash);
	if (rc == Y_ENOTFOUND || (!rc && (!hash || user->disabled))) {
		burn_time(password);
		store_user_release(user);
		free(hash);
		return Y_ENOTFOUND;
	}
	if (rc)
		return rc;
	if (user->locked_until > now) {
		*locked_until = user->locked_until;
		store_user_release(user);
		free(hash);
		return Y_EBUSY;
	}
	rc = users_password_verify(hash, password);
	OPENSSL_cleanse(hash, strlen(hash));
	free(hash);
	if (rc) {
		rc = store_user_login_failed(st, user->id, now, USERS_LOGIN_MAX_FAILURES,
					     USERS_LOCK_MS, locked_until);
		store_user_release(user);
		return rc ? rc : Y_ENOTFOUND;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		store_user_release(user);
		return Y_ECRYPTO;
	}
	codec_hex_encode(raw, sizeof(raw), token);
	OPENSSL_cleanse(raw, sizeof(raw));
	apikey_hash(token, digest);
	rc = store_websession_add(st, digest, user->id, now + USERS_SIGNIN_MS, ip);
	if (!rc)
		rc = store_user_login_ok(st, user->id, now);
	if (rc) {
		OPENSSL_cleanse(token, USERS_TOKEN_HEX + 1);
		store_user_release(user);
	}
	return rc;
}

void users_csrf_of(const char *token, char csrf[USERS_TOKEN_HEX + 1])
{
	char buf[USERS_TOKEN_HEX + 16];
	uint8_t d[32];

	snprintf(buf, sizeof(buf), "csrf:%s", token);
	apikey_hash(buf, d);
	codec_hex_encode(d, sizeof(d), csrf);
}

static int token_ok(const char *token)
{
	if (!token || strlen(token) != USERS_TOKEN_HEX)
		return 0;
	for (int i = 0; i < USERS_TOKEN_HEX; i++)
		if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
			return 0;
	return 1;
}

int users_signin_check(struct store *st, const char *token, int64_t now, struct store_user *user)
{
	uint8_t digest[32];

	memset(user, 0, sizeof(*user));
	if (!token_ok(token))
		return Y_ENOTFOUND;
	apikey_hash(token, digest);
	return store_websession_find(st, digest, now, user);
}

int users_logout(struct store *st, const char *token)
{
	uint8_t digest[32];

	if (!token_ok(token))
		return Y_ENOTFOUND;
	apikey_hash(token, digest);
	return store_websession_delete(st, digest);
}
