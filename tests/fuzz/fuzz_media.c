/*
 * Fuzzes the media decrypt/verify path of src/wa/media.c. The first input
 * byte picks a mode and a chunk size; the rest is
 *   mode 0: an upload (ciphertext || mac) as received: decrypting must
 *           refuse it (the mac) unless it is a real one, never crash;
 *   mode 1: ciphertext the input gives, with a valid mac computed here, so
 *           the padding and length checks after the mac are reached: a
 *           refusal may only be "bad length" or "bad padding";
 *   mode 2: plaintext: encrypted, then decrypted again, must round-trip
 *           exactly with matching hashes, and with one byte flipped (at a
 *           place the input picks) must fail on the mac.
 * In every mode the upload is also decrypted streamed in chunks of the
 * picked size and must give the same answer and the same bytes as the
 * one-shot call.
 */
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/media.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t media_key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

/* Streamed decryption; the same contract as wa_media_decrypt. */
static int dec_chunks(const struct wa_media_keys *k, const uint8_t *in, size_t len, size_t step,
		      uint8_t *out, size_t *outlen, const char **why)
{
	struct wa_media_dec *d = wa_media_dec_new(k);
	struct wa_media_sums s;
	size_t pos = 0, w = 0, n;
	int rc = Y_OK;

	if (!d)
		abort();
	while (pos < len && rc == Y_OK) {
		size_t c = len - pos < step ? len - pos : step;

		rc = wa_media_dec_update(d, in + pos, c, out + w, &n);
		if (n > c + 16)
			abort();
		pos += c;
		w += n;
	}
	if (rc == Y_OK)
		rc = wa_media_dec_final(d, NULL, NULL, out + w, &n, &s, why);
	*outlen = rc == Y_OK ? w + n : 0;
	wa_media_dec_free(d);
	return rc;
}

/* One-shot and streamed decryption agree; returns the one-shot answer. */
static int check_dec(const struct wa_media_keys *k, const uint8_t *up, size_t ul, size_t step,
		     const char **why)
{
	uint8_t *a = NULL, *b = malloc(ul + 64);
	size_t al = 0, bl = 0;
	struct wa_media_sums s;
	const char *why2 = NULL;
	int rc, rc2;

	if (!b)
		abort();
	rc = wa_media_decrypt(k, up, ul, NULL, NULL, &a, &al, &s, why);
	rc2 = dec_chunks(k, up, ul, step, b, &bl, &why2);
	if (rc != rc2 || (rc && strcmp(*why, why2)) || al != bl || (al && memcmp(a, b, al)))
		abort();
	if (rc == Y_OK && (al != s.file_length || ul != s.enc_length))
		abort();
	free(a);
	free(b);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wa_media_keys k;
	struct wa_media_sums s;
	const char *why = NULL;
	size_t step, len;
	uint8_t mode;
	const uint8_t *p;

	if (size < 2)
		return 0;
	mode = data[0] % 3;
	step = (size_t)(data[0] >> 2) * 37 % 4099 + 1;
	p = data + 2;
	len = size - 2;
	if (wa_media_keys_derive(&k, media_key, (enum wa_media_type)(data[1] % WA_MEDIA_NTYPES)))
		abort();
	if (mode == 0) {
		check_dec(&k, p, len, step, &why);
	} else if (mode == 1) {
		uint8_t *up = malloc(len + 16 + 10), mac[32];
		uint8_t *msg = malloc(len + 16);

		if (!up || !msg)
			abort();
		memcpy(msg, k.iv, 16);
		memcpy(msg + 16, p, len);
		if (wa_hmac_sha256(mac, k.mac, 32, msg, len + 16))
			abort();
		memcpy(up, p, len);
		memcpy(up + len, mac, 10);
		if (check_dec(&k, up, len + 10, step, &why) &&
		    strcmp(why, "bad length") && strcmp(why, "bad padding"))
			abort();
		free(up);
		free(msg);
	} else {
		uint8_t *up = NULL, *pt = NULL;
		size_t ul = 0, pl = 0;

		if (wa_media_encrypt(&k, p, len, &up, &ul, &s) || ul != (len / 16 + 1) * 16 + 10)
			abort();
		if (check_dec(&k, up, ul, step, &why) ||
		    wa_media_decrypt(&k, up, ul, s.file_enc_sha256, s.file_sha256, &pt, &pl, &s,
				     &why) ||
		    pl != len || (len && memcmp(pt, p, len)))
			abort();
		up[(size_t)data[1] * 131 % ul] ^= 0x80;
		if (check_dec(&k, up, ul, step, &why) != Y_ECRYPTO || strcmp(why, "bad mac"))
			abort();
		free(up);
		free(pt);
	}
	return 0;
}
