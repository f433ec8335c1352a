/*
 * Test and bench helper: src/wa/media.c on files, streamed through a 64 KiB
 * buffer (tests/http/media-crypto.test.mjs holds it against Baileys'
 * encryptedStream; bench/media times it).
 *   wa-media enc TYPE KEYHEX IN OUT   prints {"fileSha256","fileEncSha256",
 *                                     "fileLength"} (hex, bytes)
 *   wa-media dec TYPE KEYHEX IN OUT [ENCSHA256HEX SHA256HEX]
 *                                     prints the same, or "error: WHY" (exit 1)
 * TYPE is a wa_media_type name (image, video, audio, document, sticker).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/err.h"
#include "wa/media.h"

#define CHUNK 65536

static void hex(const uint8_t *p, size_t n, char *out)
{
	codec_hex_encode(p, n, out);
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;

	return codec_hex_decode(s, strlen(s), out, n, &got) || got != n ? -1 : 0;
}

int main(int argc, char **argv)
{
	static uint8_t in[CHUNK], out[CHUNK + 64];
	uint8_t key[32], want_enc[32], want[32];
	struct wa_media_keys k;
	struct wa_media_sums s;
	struct wa_media_enc *e = NULL;
	struct wa_media_dec *d = NULL;
	char h1[65], h2[65];
	const char *why = "i/o error";
	FILE *fi, *fo;
	size_t n, w;
	int t, rc = Y_OK, enc;

	if (argc != 6 && argc != 8) {
		fprintf(stderr, "usage: wa-media enc|dec TYPE KEYHEX IN OUT [ENCSHA SHA]\n");
		return 2;
	}
	enc = !strcmp(argv[1], "enc");
	t = wa_media_type_parse(argv[2]);
	if (t < 0 || unhex(argv[3], key, 32) ||
	    (argc == 8 && (unhex(argv[6], want_enc, 32) || unhex(argv[7], want, 32)))) {
		fprintf(stderr, "wa-media: bad type or hex\n");
		return 2;
	}
	fi = fopen(argv[4], "rb");
	fo = fopen(argv[5], "wb");
	if (!fi || !fo || wa_media_keys_derive(&k, key, (enum wa_media_type)t)) {
		fprintf(stderr, "wa-media: cannot open files\n");
		return 2;
	}
	if (enc)
		e = wa_media_enc_new(&k);
	else
		d = wa_media_dec_new(&k);
	while (rc == Y_OK && (n = fread(in, 1, CHUNK, fi)) > 0) {
		rc = enc ? wa_media_enc_update(e, in, n, out, &w) : wa_media_dec_update(d, in, n, out, &w);
		if (rc == Y_OK && w && fwrite(out, 1, w, fo) != w)
			rc = Y_EIO;
	}
	if (rc == Y_OK && ferror(fi))
		rc = Y_EIO;
	if (rc == Y_OK) {
		rc = enc ? wa_media_enc_final(e, out, &w, &s)
			 : wa_media_dec_final(d, argc == 8 ? want_enc : NULL, argc == 8 ? want : NULL,
					      out, &w, &s, &why);
		if (rc == Y_OK && w && fwrite(out, 1, w, fo) != w)
			rc = Y_EIO;
	}
	wa_media_enc_free(e);
	wa_media_dec_free(d);
	fclose(fi);
	if (fclose(fo) && rc == Y_OK)
		rc = Y_EIO;
	if (rc) {
		printf("error: %s\n", why ? why : y_strerror(rc));
		return 1;
	}
	hex(s.file_sha256, 32, h1);
	hex(s.file_enc_sha256, 32, h2);
	printf("{\"fileSha256\":\"%s\",\"fileEncSha256\":\"%s\",\"fileLength\":%llu}\n", h1, h2,
	       (unsigned long long)s.file_length);
	return 0;
}
