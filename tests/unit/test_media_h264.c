/* src/service/media_h264.c: the SPS read for the caps on hand-written
 * parameter sets (a bit writer below: sizes, high profiles with scaling
 * lists, 4:2:2 and 10-bit refused, the VUI's range, emulation prevention,
 * truncation), and media_h264_decode on openh264's own output
 * (tests/tools/mkvideo.h): the picture's size and colours, and damaged
 * configurations refused. */
#include "../tools/mkvideo.h"
#include "service/media_h264.h"
#include "test.h"
#include "util/err.h"

struct bw {
	uint8_t p[256];
	size_t bit;
};

static void put_u(struct bw *w, uint32_t v, unsigned k)
{
	for (unsigned i = k; i-- > 0; w->bit++)
		if (v >> i & 1)
			w->p[w->bit / 8] |= (uint8_t)(0x80 >> (w->bit % 8));
}

static void put_ue(struct bw *w, uint32_t v)
{
	uint64_t x = (uint64_t)v + 1;
	unsigned k = 0;

	while (x >> (k + 1))
		k++;
	put_u(w, 0, k);
	put_u(w, (uint32_t)x, k + 1);
}

static void put_se(struct bw *w, int32_t v)
{
	put_ue(w, v > 0 ? (uint32_t)(2 * v - 1) : (uint32_t)(-2 * v));
}

struct sps_in {
	uint32_t profile, chroma, depth_luma, w_mbs, h_units;
	bool field, scaling, vui_range, full_range;
	uint32_t poc, refs; /* refs 0: 1 */
};

/* An SPS NAL unit (header 0x67) into *w: its length in bytes. */
static size_t mk_sps(const struct sps_in *s, struct bw *w)
{
	memset(w, 0, sizeof(*w));
	put_u(w, 0x67, 8);
	put_u(w, s->profile, 8);
	put_u(w, 0, 8);  /* constraints */
	put_u(w, 40, 8); /* level 4.0 */
	put_ue(w, 0);
	if (s->profile == 100 || s->profile == 110 || s->profile == 122) {
		put_ue(w, s->chroma);
		put_ue(w, s->depth_luma);
		put_ue(w, 0);
		put_u(w, 0, 1);
		put_u(w, s->scaling, 1);
		for (int i = 0; s->scaling && i < 8; i++) {
			put_u(w, i % 2, 1);
			for (int j = 0; i % 2 && j < (i < 6 ? 16 : 64); j++)
				put_se(w, j == 3 ? -8 : 1);
		}
	}
	put_ue(w, 0); /* log2_max_frame_num_minus4 */
	put_ue(w, s->poc);
	if (s->poc == 0)
		put_ue(w, 2);
	else if (s->poc == 1) {
		put_u(w, 0, 1);
		put_se(w, -3), put_se(w, 2);
		put_ue(w, 2);
		put_se(w, 1), put_se(w, -1);
	}
	put_ue(w, s->refs ? s->refs : 1); /* max_num_ref_frames */
	put_u(w, 0, 1);
	put_ue(w, s->w_mbs - 1);
	put_ue(w, s->h_units - 1);
	put_u(w, !s->field, 1);
	if (s->field)
		put_u(w, 0, 1);
	put_u(w, 1, 1); /* direct_8x8 */
	put_u(w, 0, 1); /* no cropping */
	put_u(w, s->vui_range, 1);
	if (s->vui_range) {
		put_u(w, 1, 1), put_u(w, 255, 8), put_u(w, 4, 16), put_u(w, 3, 16); /* SAR 4:3 */
		put_u(w, 0, 1);
		put_u(w, 1, 1), put_u(w, 5, 3), put_u(w, s->full_range, 1);
		put_u(w, 0, 1);
	}
	put_u(w, 1, 1); /* rbsp stop bit */
	return (w->bit + 7) / 8;
}

static int sps_of(const struct sps_in *in, struct media_h264_sps *s)
{
	struct bw w;
	size_t n = mk_sps(in, &w);

	return media_h264_sps(w.p, n, s);
}

TEST(sps_sizes_and_caps)
{
	struct media_h264_sps s;

	/* 1920x1088 baseline */
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 120, .h_units = 68, .poc = 2 },
			    &s),
		     Y_OK);
	CHECK_EQ_INT(s.mb_w, 120);
	CHECK_EQ_INT(s.mb_h, 68);
	CHECK(!s.full_range);
	/* 3840x2160 high, field coding (map units of two rows), poc 1 */
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 100, .chroma = 1, .w_mbs = 240,
					      .h_units = 68, .field = true, .poc = 1,
					      .scaling = true },
			    &s),
		     Y_OK);
	CHECK_EQ_INT(s.mb_w, 240);
	CHECK_EQ_INT(s.mb_h, 136);
	/* the VUI's full range, after an extended SAR */
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 100, .chroma = 1, .w_mbs = 40,
					      .h_units = 30, .vui_range = true,
					      .full_range = true },
			    &s),
		     Y_OK);
	CHECK(s.full_range);
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 100, .chroma = 1, .w_mbs = 40,
					      .h_units = 30, .vui_range = true },
			    &s),
		     Y_OK);
	CHECK(!s.full_range);
	/* over the caps: 4096x4096 (65536 MBs), 8208 px wide, 16 x 8224 */
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 256, .h_units = 256 }, &s),
		     Y_EINVAL);
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 513, .h_units = 1 }, &s),
		     Y_EINVAL);
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 1, .h_units = 257,
					      .field = true },
			    &s),
		     Y_EINVAL);
	/* reference frames: 3840x2160 with 5 (162000 MBs kept), not 6
	 * (194400); 1920x1088 with 16; never 17 */
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 240, .h_units = 135,
					      .refs = 5 },
			    &s),
		     Y_OK);
	CHECK_EQ_INT(s.refs, 5);
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 240, .h_units = 135,
					      .refs = 6 },
			    &s),
		     Y_EINVAL);
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 120, .h_units = 68,
					      .refs = 16 },
			    &s),
		     Y_OK);
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 2, .h_units = 2,
					      .refs = 17 },
			    &s),
		     Y_EINVAL);
	/* just under: 36864 MBs */
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 66, .w_mbs = 256, .h_units = 144 }, &s),
		     Y_OK);
	/* not 8-bit 4:2:0 */
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 122, .chroma = 2, .w_mbs = 40,
					      .h_units = 30 },
			    &s),
		     Y_EINVAL);
	CHECK_EQ_INT(sps_of(&(struct sps_in){ .profile = 110, .chroma = 1, .depth_luma = 2,
					      .w_mbs = 40, .h_units = 30 },
			    &s),
		     Y_EINVAL);
	CHECK_EQ_INT(s.mb_w, 0); /* emptied */
}

TEST(sps_damaged)
{
	struct media_h264_sps s;
	struct bw w;
	size_t n = mk_sps(&(struct sps_in){ .profile = 66, .w_mbs = 120, .h_units = 68 }, &w);
	uint8_t e[300];
	size_t k = 0;

	/* every truncation before the size is read fails */
	for (size_t cut = 0; cut < 8; cut++)
		CHECK_EQ_INT(media_h264_sps(w.p, cut, &s), Y_EINVAL);
	/* not an SPS (a PPS header), the forbidden bit */
	w.p[0] = 0x68;
	CHECK_EQ_INT(media_h264_sps(w.p, n, &s), Y_EINVAL);
	w.p[0] = 0xe7;
	CHECK_EQ_INT(media_h264_sps(w.p, n, &s), Y_EINVAL);
	w.p[0] = 0x67;
	/* emulation prevention: a 1 x 1 MB SPS with constraints and level 0
	 * (bytes 00 00), then an 03 as an encoder inserts it: read without it */
	memset(&w, 0, sizeof(w));
	put_u(&w, 0x67, 8), put_u(&w, 66, 8), put_u(&w, 0, 8), put_u(&w, 40, 8);
	put_ue(&w, 0), put_ue(&w, 0), put_ue(&w, 2), put_ue(&w, 1), put_u(&w, 0, 1);
	put_ue(&w, 0), put_ue(&w, 0), put_u(&w, 1, 1), put_u(&w, 1, 1), put_u(&w, 0, 1),
		put_u(&w, 0, 1), put_u(&w, 1, 1);
	n = (w.bit + 7) / 8;
	w.p[3] = 0;
	for (size_t i = 0; i < n; i++) {
		e[k++] = w.p[i];
		if (i == 3)
			e[k++] = 3; /* 00 00 then 03: removed before parsing */
	}
	CHECK_EQ_INT(media_h264_sps(e, k, &s), Y_OK);
	CHECK_EQ_INT(s.mb_w, 1);
	CHECK_EQ_INT(s.mb_h, 1);
	/* a ue(v) of more than 31 leading zeros */
	memset(&w, 0, sizeof(w));
	put_u(&w, 0x67, 8), put_u(&w, 66, 8), put_u(&w, 0, 8), put_u(&w, 40, 8);
	put_u(&w, 0, 20), put_u(&w, 0, 20), put_u(&w, 1, 1);
	CHECK_EQ_INT(media_h264_sps(w.p, (w.bit + 7) / 8, &s), Y_EINVAL);
}

/* An avcC body for sps and pps with NAL lengths of nl bytes. */
static size_t mk_avcc(const struct mkbuf *sps, const struct mkbuf *pps, int nl, uint8_t *c)
{
	size_t n = 0;

	c[n++] = 1, c[n++] = sps->p[1], c[n++] = sps->p[2], c[n++] = sps->p[3];
	c[n++] = (uint8_t)(0xfc | (nl - 1)), c[n++] = 0xe1;
	c[n++] = (uint8_t)(sps->len >> 8), c[n++] = (uint8_t)sps->len;
	memcpy(c + n, sps->p, sps->len), n += sps->len;
	c[n++] = 1;
	c[n++] = (uint8_t)(pps->len >> 8), c[n++] = (uint8_t)pps->len;
	memcpy(c + n, pps->p, pps->len), n += pps->len;
	return n;
}

TEST(decode_openh264_frame)
{
	struct mk_video v = { .w = 176, .h = 100 };
	struct mkbuf sps = { 0 }, pps = { 0 }, smp = { 0 };
	struct media_h264_pic pic;
	uint8_t c[512];
	size_t cn;

	CHECK(mk_h264_idr(&v, &sps, &pps, &smp));
	if (!sps.len || sps.len + pps.len > 400)
		return;
	cn = mk_avcc(&sps, &pps, 4, c);
	CHECK_EQ_INT(media_h264_decode(c, cn, smp.p, smp.len, &pic), Y_OK);
	CHECK_EQ_INT(pic.width, 176);
	CHECK_EQ_INT(pic.height, 100); /* cropped from 112 */
	if (pic.dec) {
		/* the encoded levels: left Y 81 V 240, right Y 41 U 240 */
		const uint8_t *y = pic.plane[0] + 50 * pic.stride[0];
		const uint8_t *u = pic.plane[1] + 25 * pic.stride[1];
		const uint8_t *vv = pic.plane[2] + 25 * pic.stride[1];

		CHECK(y[10] > 70 && y[10] < 92 && y[160] > 30 && y[160] < 52);
		CHECK(vv[5] > 220 && u[80] > 220);
		CHECK(!pic.full_range);
	}
	media_h264_pic_release(&pic);
	CHECK(pic.dec == NULL);
	/* 3-byte NAL lengths do not exist */
	c[4] = 0xfe;
	CHECK_EQ_INT(media_h264_decode(c, cn, smp.p, smp.len, &pic), Y_EINVAL);
	c[4] = 0xff;
	/* a NAL length one past the sample's end */
	smp.p[3]++;
	CHECK_EQ_INT(media_h264_decode(c, cn, smp.p, smp.len, &pic), Y_EINVAL);
	smp.p[3]--;
	/* no SPS in the avcC (count 0): nothing checked, nothing decoded */
	c[5] = 0xe0;
	CHECK_EQ_INT(media_h264_decode(c, cn, smp.p, smp.len, &pic), Y_EINVAL);
	c[5] = 0xe1;
	/* the IDR cut short: its length past the sample, or (its length made
	 * to fit) a decoder error, not a patched picture */
	CHECK_EQ_INT(media_h264_decode(c, cn, smp.p, smp.len / 2, &pic), Y_EINVAL);
	{
		uint8_t cut[64];

		memcpy(cut, smp.p, sizeof(cut));
		mk_be32(cut, sizeof(cut) - 4);
		CHECK_EQ_INT(media_h264_decode(c, cn, cut, sizeof(cut), &pic), Y_EINVAL);
	}
	/* units outside the base layer never reach the decoder: a subset SPS
	 * (15) that openh264 would parse as an SPS past our caps, a slice
	 * extension (20), data partitions (2): dropped, the IDR decodes */
	{
		static const uint8_t junk[] = { 0x6f, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		size_t xn = 3 * (4 + sizeof(junk)) + smp.len, at = 0;
		uint8_t *x = malloc(xn);

		REQUIRE(x != NULL);
		for (int k = 0; k < 3; k++) {
			static const uint8_t types[] = { 0x6f, 0x74, 0x42 };

			mk_be32(x + at, sizeof(junk));
			memcpy(x + at + 4, junk, sizeof(junk));
			x[at + 4] = types[k];
			at += 4 + sizeof(junk);
		}
		memcpy(x + at, smp.p, smp.len);
		CHECK_EQ_INT(media_h264_decode(c, cn, x, xn, &pic), Y_OK);
		CHECK_EQ_INT(pic.width, 176);
		media_h264_pic_release(&pic);
		free(x);
	}
	/* version 2 */
	c[0] = 2;
	CHECK_EQ_INT(media_h264_decode(c, cn, smp.p, smp.len, &pic), Y_EINVAL);
	c[0] = 1;
	CHECK(pic.dec == NULL);
	/* over the sample cap */
	CHECK_EQ_INT(media_h264_decode(c, cn, smp.p, MEDIA_H264_MAX_SAMPLE + 1, &pic), Y_EINVAL);
	free(sps.p), free(pps.p), free(smp.p);
}

int main(void)
{
	RUN(sps_sizes_and_caps);
	RUN(sps_damaged);
	RUN(decode_openh264_frame);
	return test_summary();
}
