/*
 * Fuzzes the media retry openers of src/wa/mediaretry.c. The input is
 *   - sealed here under the retry key of a fixed media key (so the
 *     protobuf payloads behind the GCM tag are reached with any bytes):
 *     both openers must answer without crashing, and a receipt they accept
 *     names the message id it was sealed for;
 *   - taken as ciphertext as received: refused (no key makes it).
 */
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/mediaretry.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t media_key[32] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };
static const uint8_t iv[WA_MEDIA_RETRY_IV_LEN] = { 1, 2, 3 };
static const char id[] = "3EB0FUZZ";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char info[] = "WhatsApp Media Retry Notification";
	uint8_t key[32], *ct;
	char *s = NULL;
	int result = 0;

	if (size > WA_MEDIA_RETRY_MAX - WA_GCM_TAG_LEN)
		return 0;
	if (wa_hkdf_sha256(key, 32, media_key, 32, NULL, 0, (const uint8_t *)info, strlen(info)) ||
	    !(ct = malloc(size + WA_GCM_TAG_LEN)) ||
	    wa_aes_gcm_encrypt(ct, key, iv, sizeof(iv), (const uint8_t *)id, strlen(id), data, size))
		abort();
	if (!wa_media_retry_receipt_open(media_key, id, iv, ct, size + WA_GCM_TAG_LEN, &s) &&
	    (!s || strcmp(s, id)))
		abort();
	free(s);
	s = NULL;
	wa_media_retry_notif_open(media_key, id, iv, ct, size + WA_GCM_TAG_LEN, &result, &s);
	free(s);
	s = NULL;
	/* as received: not sealed under this key */
	if (size >= WA_GCM_TAG_LEN &&
	    !wa_media_retry_receipt_open(media_key, id, iv, data, size, &s) && memcmp(data, ct, size))
		abort();
	free(s);
	free(ct);
	return 0;
}
