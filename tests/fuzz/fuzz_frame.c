/*
 * Fuzz target for src/wa/frame.c. The first input byte picks the decoder mode
 * and a chunking pattern; the rest is fed to the decoder in chunks. Checks:
 * no crash or over-read (ASan), every frame is non-empty and within the cap,
 * Y_EAGAIN always consumes all input, and every frame re-encoded and decoded
 * again (client mode, byte by byte) comes back identical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "wa/frame.h"

static void check_roundtrip(const uint8_t *f, size_t fl)
{
	struct wa_frame_enc e;
	struct wa_frame_dec d;
	struct ybuf b = YBUF_INIT(0);
	const uint8_t *out = NULL;
	size_t outlen = 0;
	int got = 0;

	if (wa_frame_enc_init(&e, WA_FRAME_NO_INTRO, NULL, 0) || wa_frame_enc_append(&e, f, fl, &b))
		abort();
	wa_frame_dec_init(&d, WA_FRAME_DEC_CLIENT, 0);
	for (size_t i = 0; i < b.len; i++) {
		const uint8_t *p = b.data + i;
		size_t n = 1;
		int rc = wa_frame_dec_next(&d, &p, &n, &out, &outlen);

		if (rc == Y_OK) {
			if (i != b.len - 1 || outlen != fl || memcmp(out, f, fl))
				abort();
			got = 1;
		} else if (rc != Y_EAGAIN || n != 0) {
			abort();
		}
	}
	if (!got)
		abort();
	wa_frame_dec_release(&d);
	wa_frame_enc_release(&e);
	ybuf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wa_frame_dec d;
	size_t off = 1, max;
	uint8_t ctl;
	int rc = Y_EAGAIN;

	if (size < 1)
		return 0;
	ctl = data[0];
	max = (ctl & 0x40) ? 64 : 0;
	wa_frame_dec_init(&d, (ctl & 0x80) ? WA_FRAME_DEC_SERVER : WA_FRAME_DEC_CLIENT, max);
	while (off < size) {
		size_t step = (ctl & 0x3f) ? (size_t)(ctl & 0x3f) : size;
		size_t chunk = step < size - off ? step : size - off;
		const uint8_t *p = data + off;
		size_t n = chunk;
		const uint8_t *f;
		size_t fl;

		while ((rc = wa_frame_dec_next(&d, &p, &n, &f, &fl)) == Y_OK) {
			if (fl == 0 || fl > (max ? max : WA_FRAME_MAX) || fl > size)
				abort();
			check_roundtrip(f, fl);
		}
		if (rc == Y_EAGAIN && n != 0)
			abort();
		if (rc != Y_EAGAIN)
			break;
		off += chunk;
	}
	if (d.routing.len > size)
		abort();
	wa_frame_dec_release(&d);
	return 0;
}
