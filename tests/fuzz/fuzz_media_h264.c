/*
 * libFuzzer target: the H.264 side of a video's thumbnail
 * (src/service/media_h264.c) from arbitrary bytes. Input: 1 selector byte,
 * then
 *   even: an SPS NAL unit for media_h264_sps;
 *   odd:  a 2-byte big-endian length L, an avcC body of L bytes, then one
 *         sample (length-prefixed NAL units), for media_h264_decode (the
 *         SPS caps, AVCC to Annex B, openh264 itself).
 * Assertions (abort): an SPS read is within the caps (size, reference
 * frames) and 8-bit 4:2:0; a
 * picture is there exactly when Y_OK is answered, of 2..8192 px a side
 * with strides at least its width.
 */
#include <stdio.h>
#include <stdlib.h>

#include "service/media_h264.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		struct media_h264_sps s;

		if (media_h264_sps(data + 1, size - 1, &s) == 0 &&
		    (s.chroma != 1 || s.depth != 8 || !s.mb_w || !s.mb_h ||
		     (uint64_t)s.mb_w * s.mb_h > MEDIA_H264_MAX_MBS ||
		     (uint64_t)s.mb_w * s.mb_h * s.refs > MEDIA_H264_MAX_DPB_MBS ||
		     s.mb_w * 16 > MEDIA_H264_MAX_SIDE || s.mb_h * 16 > MEDIA_H264_MAX_SIDE))
			abort();
	} else if (size >= 3) {
		struct media_h264_pic pic;
		size_t l = (size_t)data[1] << 8 | data[2];
		int rc;

		if (l > size - 3)
			l = size - 3;
		rc = media_h264_decode(data + 3, l, data + 3 + l, size - 3 - l, &pic);
		if (!rc != !!pic.dec ||
		    (!rc && (pic.width < 2 || pic.height < 2 || pic.width > MEDIA_H264_MAX_SIDE ||
			     pic.height > MEDIA_H264_MAX_SIDE || pic.stride[0] < (int)pic.width ||
			     !pic.plane[0] || !pic.plane[1] || !pic.plane[2]))) {
			fprintf(stderr, "fuzz_media_h264: rc %d %ux%u\n", rc, pic.width, pic.height);
			abort();
		}
		media_h264_pic_release(&pic);
	}
	return 0;
}
