/*
 * An H.264 sync sample decoded by openh264 (see media_h264.h): the SPS read
 * here for the caps (ITU-T H.264 7.3.2.1.1, through the VUI's video signal
 * type), AVCC turned into Annex B, one DecodeFrameNoDelay call.
 */
#include "service/media_h264.h"

#include <stdlib.h>
#include <string.h>
#include <wels/codec_api.h>

#include "util/err.h"

/* ---- the SPS ---- */

/* A bit reader over an RBSP (emulation prevention bytes removed). */
struct bits {
	const uint8_t *p;
	size_t n, at; /* bytes; the next bit */
	bool bad;     /* read past the end */
};

static uint32_t bits_u(struct bits *b, unsigned k)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < k; i++, b->at++) {
		if (b->at >= b->n * 8) {
			b->bad = true;
			return 0;
		}
		v = v << 1 | ((b->p[b->at / 8] >> (7 - b->at % 8)) & 1);
	}
	return v;
}

/* ue(v): at most 31 leading zeros (values up to 2^32 - 2). */
static uint32_t bits_ue(struct bits *b)
{
	unsigned z = 0;

	while (!b->bad && !bits_u(b, 1))
		if (++z > 31) {
			b->bad = true;
			return 0;
		}
	if (b->bad)
		return 0;
	return (uint32_t)(((uint64_t)1 << z) - 1 + bits_u(b, z));
}

/* se(v) */
static int64_t bits_se(struct bits *b)
{
	uint32_t k = bits_ue(b);

	return k & 1 ? (int64_t)(k / 2) + 1 : -(int64_t)(k / 2);
}

/* A scaling_list() of size entries, skipped. */
static void skip_scaling_list(struct bits *b, unsigned size)
{
	int64_t last = 8, next = 8;

	for (unsigned j = 0; j < size && !b->bad; j++) {
		if (next) {
			int64_t d = bits_se(b);

			if (d < -128 || d > 127) {
				b->bad = true;
				return;
			}
			next = (last + d + 256) % 256;
		}
		last = next ? next : last;
	}
}

static bool high_profile(uint32_t p)
{
	static const uint8_t hp[] = { 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135 };

	for (size_t i = 0; i < sizeof(hp); i++)
		if (p == hp[i])
			return true;
	return false;
}

static int sps_parse(struct bits *b, struct media_h264_sps *s)
{
	uint32_t profile, poc, w, h, frame_mbs_only;

	profile = bits_u(b, 8);
	bits_u(b, 16); /* constraint flags, level */
	if (bits_ue(b) > 31)
		return Y_EINVAL; /* seq_parameter_set_id */
	s->chroma = 1, s->depth = 8;
	if (high_profile(profile)) {
		uint32_t dl, dc;

		s->chroma = bits_ue(b);
		if (s->chroma > 3)
			return Y_EINVAL;
		if (s->chroma == 3)
			bits_u(b, 1); /* separate_colour_plane_flag */
		dl = bits_ue(b), dc = bits_ue(b);
		if (dl > 6 || dc > 6)
			return Y_EINVAL;
		s->depth = 8 + (dl > dc ? dl : dc);
		bits_u(b, 1); /* qpprime_y_zero_transform_bypass_flag */
		if (bits_u(b, 1)) /* seq_scaling_matrix_present_flag */
			for (unsigned i = 0; i < (s->chroma != 3 ? 8u : 12u) && !b->bad; i++)
				if (bits_u(b, 1))
					skip_scaling_list(b, i < 6 ? 16 : 64);
	}
	if (bits_ue(b) > 12)
		return Y_EINVAL; /* log2_max_frame_num_minus4 */
	poc = bits_ue(b);
	if (poc == 0) {
		if (bits_ue(b) > 12)
			return Y_EINVAL;
	} else if (poc == 1) {
		uint32_t cycle;

		bits_u(b, 1);
		bits_se(b), bits_se(b);
		cycle = bits_ue(b);
		if (cycle > 255)
			return Y_EINVAL;
		for (uint32_t i = 0; i < cycle && !b->bad; i++)
			bits_se(b);
	} else if (poc != 2) {
		return Y_EINVAL;
	}
	s->refs = bits_ue(b); /* max_num_ref_frames */
	if (s->refs > 16)
		return Y_EINVAL;
	bits_u(b, 1);
	w = bits_ue(b);
	h = bits_ue(b);
	frame_mbs_only = bits_u(b, 1);
	if (b->bad || w >= MEDIA_H264_MAX_SIDE / 16 || h >= MEDIA_H264_MAX_SIDE / 16)
		return Y_EINVAL;
	s->mb_w = w + 1;
	s->mb_h = (h + 1) * (frame_mbs_only ? 1 : 2);
	s->full_range = false;
	if (!frame_mbs_only)
		bits_u(b, 1); /* mb_adaptive_frame_field_flag */
	bits_u(b, 1);         /* direct_8x8_inference_flag */
	if (bits_u(b, 1))     /* frame_cropping_flag */
		bits_ue(b), bits_ue(b), bits_ue(b), bits_ue(b);
	if (bits_u(b, 1)) { /* vui_parameters_present_flag */
		if (bits_u(b, 1) && bits_u(b, 8) == 255) /* aspect_ratio_idc: Extended_SAR */
			bits_u(b, 32);
		if (bits_u(b, 1)) /* overscan_info_present_flag */
			bits_u(b, 1);
		if (bits_u(b, 1)) { /* video_signal_type_present_flag */
			bits_u(b, 3);
			s->full_range = bits_u(b, 1);
		}
	}
	/* a VUI cut short says nothing of the range; the size was read */
	if (b->bad && s->full_range)
		s->full_range = false;
	return Y_OK;
}

int media_h264_sps(const uint8_t *nal, size_t n, struct media_h264_sps *s)
{
	struct bits b = { 0 };
	uint8_t *rbsp;
	size_t k = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	if (n < 2 || (nal[0] & 0x1f) != 7 || (nal[0] & 0x80))
		return Y_EINVAL;
	if (!(rbsp = malloc(n)))
		return Y_ENOMEM;
	for (size_t i = 1, zeros = 0; i < n; i++) {
		if (zeros >= 2 && nal[i] == 3) { /* emulation_prevention_three_byte */
			zeros = 0;
			continue;
		}
		zeros = nal[i] ? 0 : zeros + 1;
		rbsp[k++] = nal[i];
	}
	b.p = rbsp, b.n = k;
	rc = sps_parse(&b, s);
	free(rbsp);
	if (!rc && (s->chroma != 1 || s->depth != 8 || s->mb_h > MEDIA_H264_MAX_SIDE / 16 ||
		    (uint64_t)s->mb_w * s->mb_h > MEDIA_H264_MAX_MBS ||
		    (uint64_t)s->mb_w * s->mb_h * s->refs > MEDIA_H264_MAX_DPB_MBS))
		rc = Y_EINVAL; /* what we do not convert, or too large */
	if (rc)
		memset(s, 0, sizeof(*s));
	return rc;
}

/* ---- AVCC to Annex B ---- */

struct annexb {
	uint8_t *p;
	size_t len, cap;
	int sps;         /* SPS units checked */
	bool full_range; /* the last SPS's */
};

/* Appends a start code and nal[0..n); an SPS must pass media_h264_sps.
 * Only the base layer's kinds reach the decoder: slices (1, 5), SEI (6),
 * SPS (7), PPS (8), delimiters and filler (9-12). The others are dropped:
 * a subset SPS (15, which openh264 parses as an SPS) or a slice extension
 * (20) would get past the caps checked here on the SPS. */
static int put_nal(struct annexb *a, const uint8_t *nal, size_t n)
{
	static const uint8_t sc[4] = { 0, 0, 0, 1 };
	unsigned type;

	if (!n)
		return Y_OK;
	type = nal[0] & 0x1f;
	if (type != 1 && (type < 5 || type > 12))
		return Y_OK;
	if (type == 7) {
		struct media_h264_sps s;
		int rc = media_h264_sps(nal, n, &s);

		if (rc)
			return rc;
		a->sps++;
		a->full_range = s.full_range;
	}
	if (a->cap - a->len < n + 4)
		return Y_EINVAL; /* the buffer was sized from the input: not reached */
	memcpy(a->p + a->len, sc, 4);
	memcpy(a->p + a->len + 4, nal, n);
	a->len += n + 4;
	return Y_OK;
}

/* The avcC's parameter sets and then the sample, as Annex B into *a. */
static int to_annexb(const uint8_t *c, size_t cn, const uint8_t *s, size_t sn, struct annexb *a)
{
	size_t at = 6, nl;
	unsigned count;
	int rc;

	/* avcC: version 1, profile, compatibility, level, 111111 + length
	 * size - 1, 111 + SPS count; the SPSs; PPS count; the PPSs */
	if (cn < 7 || c[0] != 1 || sn > MEDIA_H264_MAX_SAMPLE || cn > MEDIA_H264_MAX_AVCC)
		return Y_EINVAL;
	nl = (size_t)(c[4] & 3) + 1;
	if (nl == 3)
		return Y_EINVAL;
	/* a unit's length becomes a 4-byte start code: the avcC's (2-byte
	 * lengths) grow by at most their size, the sample's by 4 - nl bytes
	 * for each unit of at least nl bytes */
	a->cap = 2 * cn + 8 + sn + (4 - nl) * (sn / nl + 1);
	if (!(a->p = malloc(a->cap)))
		return Y_ENOMEM;
	count = c[5] & 0x1f;
	for (int set = 0; set < 2; set++) {
		for (unsigned i = 0; i < count; i++) {
			size_t n;

			if (cn - at < 2)
				return Y_EINVAL;
			n = (size_t)c[at] << 8 | c[at + 1];
			at += 2;
			if (n > cn - at)
				return Y_EINVAL;
			if ((rc = put_nal(a, c + at, n)))
				return rc;
			at += n;
		}
		if (set == 0) {
			if (at >= cn)
				return Y_EINVAL;
			count = c[at++];
		}
	}
	for (size_t i = 0; i < sn;) {
		size_t n = 0;

		if (sn - i < nl)
			return Y_EINVAL;
		for (size_t k = 0; k < nl; k++)
			n = n << 8 | s[i + k];
		i += nl;
		if (n > sn - i)
			return Y_EINVAL;
		if ((rc = put_nal(a, s + i, n)))
			return rc;
		i += n;
	}
	return a->sps ? Y_OK : Y_EINVAL;
}

/* ---- decoding ---- */

void media_h264_pic_release(struct media_h264_pic *pic)
{
	if (!pic)
		return;
	if (pic->dec) {
		ISVCDecoder *d = pic->dec;

		(*d)->Uninitialize(d);
		WelsDestroyDecoder(d);
	}
	memset(pic, 0, sizeof(*pic));
}

int media_h264_decode(const uint8_t *avcc, size_t avcc_len, const uint8_t *sample,
		      size_t sample_len, struct media_h264_pic *pic)
{
	struct annexb a = { 0 };
	ISVCDecoder *d = NULL;
	SDecodingParam dp;
	SBufferInfo info;
	uint8_t *dst[3] = { NULL, NULL, NULL };
	int level = WELS_LOG_QUIET, rc;
	DECODING_STATE st;

	memset(pic, 0, sizeof(*pic));
	if ((rc = to_annexb(avcc, avcc_len, sample, sample_len, &a)))
		goto out;
	rc = Y_ENOMEM;
	if (WelsCreateDecoder(&d) || !d)
		goto out;
	(*d)->SetOption(d, DECODER_OPTION_TRACE_LEVEL, &level);
	memset(&dp, 0, sizeof(dp));
	dp.eEcActiveIdc = ERROR_CON_DISABLE;
	dp.sVideoProperty.size = sizeof(dp.sVideoProperty);
	dp.sVideoProperty.eVideoBsType = VIDEO_BITSTREAM_AVC;
	rc = Y_EINVAL;
	if ((*d)->Initialize(d, &dp))
		goto out;
	memset(&info, 0, sizeof(info));
	st = (*d)->DecodeFrameNoDelay(d, a.p, (int)a.len, dst, &info);
	if (st == dsErrorFree && info.iBufferStatus != 1) {
		/* held for reordering (profiles with B frames): let it out */
		memset(&info, 0, sizeof(info));
		st = (*d)->FlushFrame(d, dst, &info);
	}
	if (st != dsErrorFree || info.iBufferStatus != 1 || !dst[0] || !dst[1] || !dst[2])
		goto out;
	{
		const SSysMEMBuffer *b = &info.UsrData.sSystemBuffer;

		if (b->iWidth < 2 || b->iHeight < 2 || b->iWidth > MEDIA_H264_MAX_SIDE ||
		    b->iHeight > MEDIA_H264_MAX_SIDE || b->iStride[0] < b->iWidth ||
		    b->iStride[1] < (b->iWidth + 1) / 2 ||
		    (b->iFormat != videoFormatI420 && b->iFormat != 0))
			goto out;
		pic->width = (uint32_t)b->iWidth, pic->height = (uint32_t)b->iHeight;
		pic->stride[0] = b->iStride[0], pic->stride[1] = b->iStride[1];
	}
	for (int i = 0; i < 3; i++)
		pic->plane[i] = dst[i];
	pic->full_range = a.full_range;
	pic->dec = d;
	d = NULL;
	rc = Y_OK;
out:
	if (d) {
		(*d)->Uninitialize(d);
		WelsDestroyDecoder(d);
	}
	free(a.p);
	if (rc)
		memset(pic, 0, sizeof(*pic));
	return rc;
}
