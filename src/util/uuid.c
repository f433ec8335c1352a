#include "util/uuid.h"
#include "util/err.h"

#include <openssl/rand.h>
#include <stdint.h>

static const char hexdig[] = "0123456789abcdef";

static void uuid_text(uint8_t b[16], int version, char out[UUID_STR_LEN])
{
	size_t o = 0;

	b[6] = (uint8_t)((b[6] & 0x0f) | (version << 4));
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hexdig[b[i] >> 4];
		out[o++] = hexdig[b[i] & 0x0f];
	}
	out[o] = '\0';
}

int uuid_v4(char out[UUID_STR_LEN])
{
	uint8_t b[16];

	out[0] = '\0';
	if (RAND_bytes(b, sizeof(b)) != 1)
		return Y_ECRYPTO;
	uuid_text(b, 4, out);
	return Y_OK;
}

int uuid_v7(char out[UUID_STR_LEN], int64_t now_ms)
{
	uint64_t t = now_ms < 0 ? 0 : (uint64_t)now_ms;
	uint8_t b[16];

	out[0] = '\0';
	if (RAND_bytes(b + 6, sizeof(b) - 6) != 1)
		return Y_ECRYPTO;
	for (int i = 5; i >= 0; i--, t >>= 8)
		b[i] = (uint8_t)(t & 0xff);
	uuid_text(b, 7, out);
	return Y_OK;
}

int uuid_valid(const char *s)
{
	if (!s)
		return 0;
	for (int i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0; /* also stops at a NUL before 36 chars */
		}
	}
	return s[36] == '\0';
}
