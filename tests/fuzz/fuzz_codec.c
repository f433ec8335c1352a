/*
 * Fuzzes the text decoders of util/: hex, base64url and the UTF-8
 * validator. Beyond "no crash, no over-read", it checks invariants:
 * whatever decodes re-encodes to the canonical form, and the validator's
 * answer agrees with a decoder written independently here.
 */
#include "util/codec.h"
#include "util/err.h"
#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>

/* An independent, slow reference: decodes one code point at a time. */
static int ref_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;

		if (s[i] < 0x80) {
			i++;
			continue;
		} else if ((s[i] & 0xe0) == 0xc0) {
			n = 2, cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 3, cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 4, cp = s[i] & 0x07;
		} else {
			return 0;
		}
		if (len - i < n)
			return 0;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
			return 0;
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copies so ASan catches any read past the input. */
	char *text = malloc(size ? size : 1);
	uint8_t *out = malloc(CODEC_B64URL_DEC_MAX(size) + size / 2 + 1); /* fits either decoder */
	char *enc = malloc(size * 2 + 8);
	size_t n;

	if (!text || !out || !enc)
		goto out;
	memcpy(text, data, size);

	if (codec_hex_decode(text, size, out, size / 2 + 1, &n) == Y_OK) {
		codec_hex_encode(out, n, enc);
		for (size_t i = 0; i < size; i++)
			if (enc[i] != (text[i] >= 'A' && text[i] <= 'F' ? text[i] + 32 : text[i]))
				abort();
	}
	if (codec_b64url_decode(text, size, out, CODEC_B64URL_DEC_MAX(size), &n) == Y_OK) {
		size_t elen = codec_b64url_encode(out, n, enc);
		size_t unpadded = size;

		while (unpadded && text[unpadded - 1] == '=')
			unpadded--;
		if (elen != unpadded || memcmp(enc, text, elen))
			abort();
	}
	if (utf8_valid(data, size) != ref_utf8(data, size))
		abort();
out:
	free(text);
	free(out);
	free(enc);
	return 0;
}
