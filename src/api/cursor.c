#include "api/cursor.h"
#include "api/validate.h"
#include "util/codec.h"
#include "util/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define RAW_LEN 37 /* 1 + 8 + 16 + 12 */
#define TAG_LEN 12
#define VERSION 1

static int tag(const uint8_t key[API_CURSOR_KEY_LEN], const char *scope, const uint8_t *raw,
	       size_t n, uint8_t out[TAG_LEN])
{
	uint8_t msg[256 + RAW_LEN], mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	size_t sl = strlen(scope);

	if (sl > 255)
		return Y_EINVAL;
	memcpy(msg, scope, sl);
	msg[sl] = 0;
	memcpy(msg + sl + 1, raw, n);
	if (!HMAC(EVP_sha256(), key, API_CURSOR_KEY_LEN, msg, sl + 1 + n, mac, &maclen) ||
	    maclen < TAG_LEN)
		return Y_ECRYPTO;
	memcpy(out, mac, TAG_LEN);
	return Y_OK;
}

int api_cursor_encode(const uint8_t key[API_CURSOR_KEY_LEN], const char *scope,
		      const struct store_cursor *c, char out[API_CURSOR_LEN + 1])
{
	uint8_t raw[RAW_LEN];
	uint64_t ts = (uint64_t)c->ts;
	int rc;

	if (c->ts < 0)
		return Y_EINVAL;
	raw[0] = VERSION;
	for (int i = 0; i < 8; i++)
		raw[1 + i] = (uint8_t)(ts >> (56 - 8 * i));
	if (!api_uuid_bytes(c->id, raw + 9))
		return Y_EINVAL;
	rc = tag(key, scope, raw, RAW_LEN - TAG_LEN, raw + RAW_LEN - TAG_LEN);
	if (rc)
		return rc;
	if (codec_b64url_encode(raw, RAW_LEN, out) != API_CURSOR_LEN)
		return Y_EINVAL;
	return Y_OK;
}

int api_cursor_decode(const uint8_t key[API_CURSOR_KEY_LEN], const char *scope, const char *text,
		      struct store_cursor *out)
{
	uint8_t raw[RAW_LEN], want[TAG_LEN];
	size_t n = 0;
	uint64_t ts = 0;

	if (!text || strnlen(text, API_CURSOR_LEN + 1) != API_CURSOR_LEN)
		return Y_EINVAL;
	/* The exact unpadded length: one accepted spelling per cursor. */
	if (codec_b64url_decode(text, API_CURSOR_LEN, raw, sizeof(raw), &n) != Y_OK ||
	    n != RAW_LEN)
		return Y_EINVAL;
	if (raw[0] != VERSION)
		return Y_EINVAL;
	if (tag(key, scope, raw, RAW_LEN - TAG_LEN, want) ||
	    CRYPTO_memcmp(want, raw + RAW_LEN - TAG_LEN, TAG_LEN))
		return Y_EINVAL;
	for (int i = 0; i < 8; i++)
		ts = (ts << 8) | raw[1 + i];
	if (ts > INT64_MAX)
		return Y_EINVAL;
	out->ts = (int64_t)ts;
	snprintf(out->id, sizeof(out->id),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", raw[9],
		 raw[10], raw[11], raw[12], raw[13], raw[14], raw[15], raw[16], raw[17], raw[18],
		 raw[19], raw[20], raw[21], raw[22], raw[23], raw[24]);
	return Y_OK;
}
