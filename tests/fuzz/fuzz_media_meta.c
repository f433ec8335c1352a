/*
 * libFuzzer target: sent media's metadata (src/service/media_meta.c) from
 * arbitrary bytes. Input: 1 selector byte, then the file:
 *   0: an image (the decoder media_sniff names: JPEG, PNG, WebP, GIF), with
 *      a thumbnail, under a 4 MP cap; with bit 0x40 of the selector, made a
 *      profile picture instead (media_meta_square, 640 px, or 96 with 0x20);
 *   1: MP4/MOV boxes, then a video's thumbnail (the sample tables to the
 *      first H.264 keyframe, decoded); 2: Ogg Opus pages, then MP3 frames
 *      (the same bytes);
 *   3: the Opus waveform (libopusfile);
 *   4: media_meta_probe as the upload thread calls it, every kind.
 * Assertions (abort): width and height are both set or neither; a
 * thumbnail is a JPEG (FF D8) of some bytes; waveform values are 0..100; a
 * picture is there exactly when Y_OK is answered.
 */
#include <stdio.h>
#include <stdlib.h>

#include "service/media_meta.h"
#include "service/media_send.h"

static void check(const struct media_meta *m)
{
	if (!m->width != !m->height || (m->thumb && (m->thumb_len < 4 || m->thumb[0] != 0xff ||
						      m->thumb[1] != 0xd8))) {
		fprintf(stderr, "fuzz_media_meta: %ux%u thumb %zu\n", m->width, m->height,
			m->thumb_len);
		abort();
	}
	for (int i = 0; m->has_waveform && i < MEDIA_META_WAVE_LEN; i++)
		if (m->waveform[i] > 100)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct media_meta m = { 0 };
	const char *sniffed;
	FILE *f;

	if (size < 2 || !(f = fmemopen((void *)(data + 1), size - 1, "rb")))
		return 0;
	sniffed = media_sniff(data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		if (data[0] & 0x40) {
			int rc = media_meta_square(f, sniffed, data[0] & 0x20 ? 96 : 640, 50, 4u << 20,
						   &m);

			if (!rc != !!m.thumb)
				abort();
		} else {
			media_meta_image(f, sniffed, true, 4u << 20, &m);
		}
		break;
	case 1:
		media_meta_mp4(f, true, &m);
		if (media_meta_video_thumb(f, &m) == 0 && !m.thumb)
			abort();
		break;
	case 2:
		media_meta_ogg(f, &m);
		media_meta_mp3(f, &m);
		break;
	case 3:
		media_meta_waveform(f, &m);
		break;
	default: {
		static const enum wa_media_type kinds[] = { WA_MEDIA_IMAGE, WA_MEDIA_VIDEO,
							    WA_MEDIA_AUDIO, WA_MEDIA_STICKER };

		media_meta_probe(f, kinds[(data[0] / 5) % 4], sniffed, data[0] & 0x80, 4u << 20,
				 &m);
		break;
	}
	}
	check(&m);
	media_meta_release(&m);
	fclose(f);
	return 0;
}
