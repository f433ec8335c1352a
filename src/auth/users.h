/*
 * Users' passwords and dashboard sign-ins (docs/auth.md).
 *
 * Passwords are hashed with Argon2id (libsodium crypto_pwhash_str_alg,
 * crypto_pwhash_ALG_ARGON2ID13) at USERS_PW_OPSLIMIT passes over
 * USERS_PW_MEMLIMIT bytes, one lane: the OWASP minimum for Argon2id
 * (m=19 MiB, t=2, p=1). The stored string is self-describing
 * ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash"), so the parameters can be
 * raised later and old hashes still verify.
 *
 * A sign-in is a random 32-byte token (64 hex chars) in an HTTP-only cookie;
 * the store keeps its SHA-256. Its CSRF token is derived from it
 * (users_csrf_of), so it needs no storage: a page that can read it was given
 * it by the server, and a cross-site page cannot read the cookie.
 *
 * All calls may be made from any thread; hashing takes tens of milliseconds
 * of one core and USERS_PW_MEMLIMIT of memory.
 */
#ifndef YESAPP_USERS_H
#define YESAPP_USERS_H

#include <stdint.h>

#include "store/store.h"

#define USERS_PW_OPSLIMIT 2ULL
#define USERS_PW_MEMLIMIT (19456ULL * 1024) /* 19 MiB */
#define USERS_PW_HASH_MAX 128   /* crypto_pwhash_STRBYTES */
#define USERS_PW_MIN 8          /* characters (bytes) */
#define USERS_PW_MAX 256
#define USERS_TOKEN_HEX 64
#define USERS_LOGIN_MAX_FAILURES 5               /* in a row, then locked */
#define USERS_LOCK_MS (15LL * 60 * 1000)          /* for this long */
#define USERS_SIGNIN_MS (12LL * 3600 * 1000)      /* a sign-in lasts */
#define USERS_COOKIE "yesapp_session"

/* Y_OK; Y_EINVAL for a password outside USERS_PW_MIN..MAX; Y_ENOMEM. */
int users_password_hash(const char *password, char out[USERS_PW_HASH_MAX]);
/* Y_OK when password matches hash, else Y_ECRYPTO. */
int users_password_verify(const char *hash, const char *password);

/*
 * Signs in: Y_OK fills token (the cookie's value), *user and the sign-in is
 * stored; Y_ENOTFOUND for an unknown email, a wrong password, a disabled
 * user or one without a password (all alike, and taking as long); Y_EBUSY
 * while the user is locked out (*locked_until says until when). A wrong
 * password counts towards the lock-out.
 */
int users_login(struct store *st, const char *email, const char *password, const char *ip,
		int64_t now, char token[USERS_TOKEN_HEX + 1], struct store_user *user,
		int64_t *locked_until);
/* The CSRF token of a sign-in token. */
void users_csrf_of(const char *token, char csrf[USERS_TOKEN_HEX + 1]);
/* The user signed in with token (Y_OK), or Y_ENOTFOUND. */
int users_signin_check(struct store *st, const char *token, int64_t now, struct store_user *user);
int users_logout(struct store *st, const char *token);

#endif
