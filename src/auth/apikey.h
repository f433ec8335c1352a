/*
 * API keys: 32 random bytes, hex-encoded (64 chars) for the user; only their
 * SHA-256 digest is stored. Presented keys are hashed and looked up; the
 * digest comparison is constant-time.
 */
#ifndef YESAPP_APIKEY_H
#define YESAPP_APIKEY_H

#include <stdint.h>

#include "store/store.h"

#define APIKEY_HEX_LEN 64

void apikey_hash(const char *plaintext, uint8_t out[32]);
/*
 * Called at start-up. If `configured` (the API_KEY setting) is non-NULL it is
 * stored (hashed) unless already present. If afterwards no active key exists,
 * a new one is generated, stored, and logged exactly once in a line
 * containing "API Key: <64 hex chars>". Keys no user owns then become the
 * first admin user's (store_keys_adopt).
 */
int apikey_bootstrap(struct store *st, const char *configured);
/* Generates and stores a new key. plaintext gets 64 hex chars + NUL. */
int apikey_create(struct store *st, const char *name, char plaintext[APIKEY_HEX_LEN + 1],
		  char id_out[STORE_ID_LEN]);
/* A key owned by user_id with a role (no higher than the user's: Y_EINVAL),
 * an expiry (0 = never) and, when scoped, the sessions it may touch (see
 * store_key_create). plaintext gets 64 hex chars + NUL. */
int apikey_create_for(struct store *st, const char *name, const char *user_id, int role,
		      int64_t expires_at, int scoped, const char *const *sessions, size_t nsessions,
		      char plaintext[APIKEY_HEX_LEN + 1], char id_out[STORE_ID_LEN]);
/* Y_OK (and the key's id) if `presented` is an active key, else Y_ENOTFOUND. */
int apikey_verify(struct store *st, const char *presented, char id_out[STORE_ID_LEN]);

#endif
