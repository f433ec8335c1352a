/*
 * API keys (apikey.h). A key is 32 bytes from RAND_bytes shown to the user
 * once as 64 hex chars; the store keeps only its SHA-256 digest and the first
 * 8 chars (to tell keys apart in listings; fewer for a short configured key,
 * see prefix_of). Verification hashes the presented key and compares digests
 * in constant time (store_apikey_find uses CRYPTO_memcmp over every active
 * key).
 */
#include "auth/apikey.h"
#include "util/clock.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/log.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define PRESENTED_MAX 512 /* longer presented keys are rejected unhashed */

/* SHA-256 fetched once: with EVP_sha256() OpenSSL 3 looks the
 * implementation up again on every digest (a locked provider-store search),
 * a measurable cost when every request hashes its key. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

void apikey_hash(const char *plaintext, uint8_t out[32])
{
	unsigned int n = 0;

	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md ||
	    EVP_Digest(plaintext, strlen(plaintext), out, &n, sha256_md, NULL) != 1 || n != 32)
		BUG("SHA-256 failed");
}

/* The part of a key kept in clear to tell keys apart: its first 8 chars,
 * but never more than a quarter of it (a configured API_KEY may be short,
 * and its prefix is listed and logged). */
static void prefix_of(const char *plaintext, char prefix[9])
{
	size_t n = strnlen(plaintext, 32) / 4;

	snprintf(prefix, 9, "%.*s", (int)(n < 8 ? n : 8), plaintext);
}

/* A new random key: its text, digest and displayed prefix. */
static int key_make(char plaintext[APIKEY_HEX_LEN + 1], uint8_t digest[32], char prefix[9])
{
	uint8_t raw[APIKEY_HEX_LEN / 2];

	plaintext[0] = '\0';
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return Y_ECRYPTO;
	codec_hex_encode(raw, sizeof(raw), plaintext);
	OPENSSL_cleanse(raw, sizeof(raw));
	apikey_hash(plaintext, digest);
	prefix_of(plaintext, prefix);
	return Y_OK;
}

int apikey_create(struct store *st, const char *name, char plaintext[APIKEY_HEX_LEN + 1],
		  char id_out[STORE_ID_LEN])
{
	uint8_t digest[32];
	char prefix[9];
	int rc = key_make(plaintext, digest, prefix);

	if (!rc)
		rc = store_apikey_add(st, digest, name, prefix, id_out);
	if (!rc)
		rc = store_keys_adopt(st);
	if (rc)
		OPENSSL_cleanse(plaintext, APIKEY_HEX_LEN + 1);
	return rc;
}

int apikey_create_for(struct store *st, const char *name, const char *user_id, int role,
		      int64_t expires_at, int scoped, const char *const *sessions, size_t nsessions,
		      char plaintext[APIKEY_HEX_LEN + 1], char id_out[STORE_ID_LEN])
{
	uint8_t digest[32];
	char prefix[9];
	int rc = key_make(plaintext, digest, prefix);

	if (!rc)
		rc = store_key_create(st, digest, name, prefix, user_id, role, expires_at, scoped,
				      sessions, nsessions, id_out);
	if (rc)
		OPENSSL_cleanse(plaintext, APIKEY_HEX_LEN + 1);
	return rc;
}

int apikey_verify(struct store *st, const char *presented, char id_out[STORE_ID_LEN])
{
	uint8_t digest[32];
	int rc;

	if (!presented || !*presented || strnlen(presented, PRESENTED_MAX + 1) > PRESENTED_MAX)
		return Y_ENOTFOUND;
	apikey_hash(presented, digest);
	rc = store_apikey_find(st, digest, id_out);
	if (!rc)
		store_apikey_touch(st, id_out, clock_now_ms()); /* best effort */
	return rc;
}

int apikey_bootstrap(struct store *st, const char *configured)
{
	char id[STORE_ID_LEN], key[APIKEY_HEX_LEN + 1];
	int64_t active = 0;
	int rc;

	if (configured && *configured) {
		uint8_t digest[32];
		char prefix[9];

		apikey_hash(configured, digest);
		rc = store_apikey_find(st, digest, id);
		if (rc == Y_ENOTFOUND) {
			prefix_of(configured, prefix);
			rc = store_apikey_add(st, digest, "API_KEY", prefix, id);
			if (rc == Y_EEXIST) {
				/* stored but revoked: a revocation is not undone by restarting */
				LOG_WARN("apikey: the configured API_KEY has been revoked; not accepting it",
					 "{s:s}", "prefix", prefix);
				rc = Y_OK;
			} else if (!rc) {
				LOG_INFO("apikey: stored the configured API_KEY", "{s:s, s:s}", "id", id,
					 "prefix", prefix);
			}
		}
		if (rc)
			return rc;
	}
	rc = store_apikey_count_active(st, &active);
	if (!rc)
		rc = store_keys_adopt(st); /* the configured key, or one from before users */
	if (rc || active > 0)
		return rc;
	rc = apikey_create(st, "bootstrap", key, id);
	if (rc)
		return rc;
	/* The only time this key is ever shown; bypasses the level filter. */
	char msg[128];

	snprintf(msg, sizeof(msg), "API Key: %s", key);
	ylog_write(YLOG_WARN, msg, "{s:s, s:s}", "id", id, "note",
		   "generated because no API key exists; it is shown only this once");
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(msg, sizeof(msg));
	return Y_OK;
}
