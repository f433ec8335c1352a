/*
 * Test helper: src/wa/mediaretry.c from the command line
 * (tests/interop/media-retry.test.mjs holds it against Baileys'
 * encryptMediaRetryRequest / decryptMediaRetryData). Hex in, hex out:
 *   wa-mediaretry seal-receipt KEY ID IV          prints the sealed receipt
 *   wa-mediaretry open-receipt KEY ID IV CT       prints its stanzaId
 *   wa-mediaretry seal-notif KEY ID IV RESULT PATH|-   prints the sealed notification
 *   wa-mediaretry open-notif KEY ID IV CT         prints {"result":n,"directPath":s|null}
 * A failure prints "error: CODE" and exits 1; bad arguments exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/err.h"
#include "wa/mediaretry.h"

static int unhex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	return codec_hex_decode(s, strlen(s), out, cap, n) ? -1 : 0;
}

static void print_hex(const uint8_t *p, size_t n)
{
	char *h = malloc(2 * n + 1);

	if (!h)
		exit(1);
	codec_hex_encode(p, n, h);
	puts(h);
	free(h);
}

int main(int argc, char **argv)
{
	static uint8_t ct[WA_MEDIA_RETRY_MAX + 1];
	uint8_t key[32], iv[WA_MEDIA_RETRY_IV_LEN], *out = NULL;
	size_t kn = 0, ivn = 0, ctn = 0, outlen = 0;
	char *s = NULL;
	int rc, result = 0;
	const char *op = argc > 1 ? argv[1] : "";

	if (argc < 5 || unhex(argv[2], key, sizeof(key), &kn) || kn != 32 ||
	    unhex(argv[4], iv, sizeof(iv), &ivn) || ivn != sizeof(iv) ||
	    (argc == 6 && strcmp(op, "seal-notif") && unhex(argv[5], ct, sizeof(ct), &ctn))) {
		fprintf(stderr, "usage: wa-mediaretry seal-receipt|open-receipt|seal-notif|open-notif "
				"KEYHEX ID IVHEX [CTHEX | RESULT PATH]\n");
		return 2;
	}
	if (!strcmp(op, "seal-receipt") && argc == 5)
		rc = wa_media_retry_receipt_seal(key, argv[3], iv, &out, &outlen);
	else if (!strcmp(op, "seal-notif") && argc == 7)
		rc = wa_media_retry_notif_seal(key, argv[3], strcmp(argv[6], "-") ? argv[6] : NULL,
					       (enum wa_media_retry_result)atoi(argv[5]), iv, &out,
					       &outlen);
	else if (!strcmp(op, "open-receipt") && argc == 6)
		rc = wa_media_retry_receipt_open(key, argv[3], iv, ct, ctn, &s);
	else if (!strcmp(op, "open-notif") && argc == 6)
		rc = wa_media_retry_notif_open(key, argv[3], iv, ct, ctn, &result, &s);
	else
		return 2;
	if (rc) {
		printf("error: %s\n", y_strerror(rc));
		return 1;
	}
	if (out)
		print_hex(out, outlen);
	else if (!strcmp(op, "open-receipt"))
		puts(s);
	else if (s)
		printf("{\"result\":%d,\"directPath\":\"%s\"}\n", result, s);
	else
		printf("{\"result\":%d,\"directPath\":null}\n", result);
	free(out);
	free(s);
	return 0;
}
