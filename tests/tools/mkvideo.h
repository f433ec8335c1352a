/*
 * A real H.264 MP4 made in memory for tests (tests/unit/test_media_meta.c,
 * tests/tools/wa-mkmedia.c, the fuzz seeds), without ffmpeg (Chromium plays
 * it and shows the frame, turned as the matrix says: tests/http/
 * media-video.test.mjs): one picture
 * (left half red, right half blue) encoded by openh264's encoder
 * (WelsCreateSVCEncoder) as an IDR frame, and muxed by hand into ftyp,
 * moov (mvhd, a video trak: tkhd, mdia: mdhd, hdlr, minf: stbl with stsd
 * avc1+avcC, stts, stsc, stsz, stco or co64, stss) and mdat. Options make
 * the layouts a parser must follow: the keyframe as the second sample after
 * a junk one, one or two chunks, 1/2/4-byte NAL lengths, no stss, 64-bit
 * chunk offsets, moov before or after mdat, a turned track, CABAC, another
 * sample entry (hvc1). mk_h264_mp4 returns a malloc'ed buffer (NULL on
 * failure).
 */
#ifndef YESAPP_TESTS_MKVIDEO_H
#define YESAPP_TESTS_MKVIDEO_H

#include "mkmedia.h"

#include <wels/codec_api.h>

struct mk_video {
	uint32_t w, h;        /* the encoded picture */
	int nal_len;          /* 1, 2 or 4 (0: 4) */
	bool junk_first;      /* sample 1: 300 junk bytes, not a sync sample */
	bool one_chunk;       /* both samples in one chunk (else one chunk each) */
	bool no_stss;         /* no stss box (every sample a sync sample) */
	bool co64;            /* 64-bit chunk offsets */
	bool moov_first;      /* moov before mdat */
	int rot;              /* 0, 90, 180, 270: the tkhd matrix turns it clockwise */
	bool cabac;           /* CABAC (main/high profile) instead of CAVLC */
	const char *fourcc;   /* the sample entry: "avc1" when NULL */
	uint32_t disp_w, disp_h; /* tkhd's size before turning (0: w x h) */
	bool noise;           /* luma noise over the halves: a large keyframe (benchmarks) */
};

/* Left half red, right half blue, as I420 (BT.601, video range). */
static inline void mk_yuv_halves(uint32_t w, uint32_t h, uint8_t *y, uint8_t *u, uint8_t *v)
{
	for (uint32_t j = 0; j < h; j++)
		for (uint32_t i = 0; i < w; i++)
			y[(size_t)j * w + i] = i < w / 2 ? 81 : 41;
	for (uint32_t j = 0; j < h / 2; j++)
		for (uint32_t i = 0; i < w / 2; i++) {
			bool red = i < w / 4;

			u[(size_t)j * (w / 2) + i] = red ? 90 : 240;
			v[(size_t)j * (w / 2) + i] = red ? 240 : 110;
		}
}

/* One IDR frame of v->w x v->h: its SPS, PPS (NAL units without start
 * codes) and the frame's other NAL units as AVCC (v->nal_len-byte big-endian
 * lengths) into *sample. */
static inline bool mk_h264_idr(const struct mk_video *v, struct mkbuf *sps, struct mkbuf *pps,
			       struct mkbuf *sample)
{
	ISVCEncoder *enc = NULL;
	SEncParamExt p;
	SSourcePicture pic;
	SFrameBSInfo info;
	size_t ysz = (size_t)v->w * v->h, csz = (size_t)(v->w / 2) * (v->h / 2);
	uint8_t *yuv = malloc(ysz + 2 * csz);
	int level = WELS_LOG_QUIET, nl = v->nal_len ? v->nal_len : 4;
	bool ok = false;

	if (!yuv || WelsCreateSVCEncoder(&enc) || !enc)
		goto out;
	(*enc)->SetOption(enc, ENCODER_OPTION_TRACE_LEVEL, &level);
	(*enc)->GetDefaultParams(enc, &p);
	p.iUsageType = CAMERA_VIDEO_REAL_TIME;
	p.iPicWidth = (int)v->w, p.iPicHeight = (int)v->h;
	p.iTargetBitrate = 2000000;
	p.iRCMode = RC_QUALITY_MODE;
	p.fMaxFrameRate = 30;
	p.iSpatialLayerNum = 1;
	p.iTemporalLayerNum = 1;
	p.iEntropyCodingModeFlag = v->cabac ? 1 : 0;
	p.sSpatialLayers[0].iVideoWidth = (int)v->w;
	p.sSpatialLayers[0].iVideoHeight = (int)v->h;
	p.sSpatialLayers[0].fFrameRate = 30;
	p.sSpatialLayers[0].iSpatialBitrate = 2000000;
	p.sSpatialLayers[0].uiProfileIdc = v->cabac ? PRO_HIGH : PRO_BASELINE;
	if (v->noise) { /* a fixed fine quantizer: the noise kept, as a camera's detail */
		p.iRCMode = RC_OFF_MODE;
		p.iMinQp = p.iMaxQp = 22;
		p.sSpatialLayers[0].iDLayerQp = 22;
	}
	if ((*enc)->InitializeExt(enc, &p))
		goto out;
	mk_yuv_halves(v->w, v->h, yuv, yuv + ysz, yuv + ysz + csz);
	for (size_t i = 0, x = 2463534242u; v->noise && i < ysz; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift */
		yuv[i] = (uint8_t)(yuv[i] + (x & 15));
	}
	memset(&pic, 0, sizeof(pic));
	pic.iColorFormat = videoFormatI420;
	pic.iPicWidth = (int)v->w, pic.iPicHeight = (int)v->h;
	pic.iStride[0] = (int)v->w, pic.iStride[1] = pic.iStride[2] = (int)v->w / 2;
	pic.pData[0] = yuv, pic.pData[1] = yuv + ysz, pic.pData[2] = yuv + ysz + csz;
	memset(&info, 0, sizeof(info));
	if ((*enc)->EncodeFrame(enc, &pic, &info) || info.eFrameType != videoFrameTypeIDR)
		goto out;
	for (int l = 0; l < info.iLayerNum; l++) {
		const SLayerBSInfo *li = &info.sLayerInfo[l];
		const uint8_t *at = li->pBsBuf;

		for (int k = 0; k < li->iNalCount; at += li->pNalLengthInByte[k], k++) {
			size_t sc = at[2] == 1 ? 3 : 4, n = (size_t)li->pNalLengthInByte[k] - sc;
			const uint8_t *nal = at + sc;
			uint8_t len[4];
			int type = nal[0] & 0x1f;

			if (type == 7) {
				mk_put(sps, nal, n);
			} else if (type == 8) {
				mk_put(pps, nal, n);
			} else {
				mk_be32(len, (uint32_t)n);
				if ((nl < 4 && n >> (8 * nl)) || !mk_put(sample, len + 4 - nl, (size_t)nl) ||
				    !mk_put(sample, nal, n))
					goto out;
			}
		}
	}
	ok = sps->len > 0 && pps->len > 0 && sample->len > 0;
out:
	if (enc) {
		(*enc)->Uninitialize(enc);
		WelsDestroySVCEncoder(enc);
	}
	free(yuv);
	return ok;
}

/* A full box: version/flags 0, then the body. */
static inline void mk_fbox(struct mkbuf *out, const char *type, const struct mkbuf *b)
{
	struct mkbuf x = { 0 };
	static const uint8_t vf[4] = { 0 };

	mk_put(&x, vf, 4);
	if (b->len)
		mk_put(&x, b->p, b->len);
	mk_box(out, type, x.p, x.len);
	free(x.p);
}

static inline void mk_u32(struct mkbuf *b, uint32_t v)
{
	uint8_t x[4];

	mk_be32(x, v);
	mk_put(b, x, 4);
}

/* The video trak; base: mdat's payload's offset in the file. */
static inline void mk_vtrak(struct mkbuf *out, const struct mk_video *v, const struct mkbuf *sps,
			    const struct mkbuf *pps, const size_t *sizes, int ns, uint64_t base)
{
	struct mkbuf trak = { 0 }, mdia = { 0 }, minf = { 0 }, stbl = { 0 }, b = { 0 },
		     entry = { 0 }, avcc = { 0 };
	uint8_t tk[84] = { 0 }, hd[24] = { 0 }, ve[78] = { 0 };
	int32_t m[4] = { 0x10000, 0, 0, 0x10000 }; /* a, b, c, d */
	int nl = v->nal_len ? v->nal_len : 4;
	uint32_t dw = v->disp_w ? v->disp_w : v->w, dh = v->disp_h ? v->disp_h : v->h;

	if (v->rot == 90)
		m[0] = 0, m[1] = 0x10000, m[2] = -0x10000, m[3] = 0;
	else if (v->rot == 180)
		m[0] = -0x10000, m[3] = -0x10000;
	else if (v->rot == 270)
		m[0] = 0, m[1] = -0x10000, m[2] = 0x10000, m[3] = 0;
	tk[3] = 3;             /* flags: enabled, in the movie */
	mk_be32(tk + 12, 1); /* track id */
	for (int i = 0; i < 4; i++)
		mk_be32(tk + 40 + (i < 2 ? i : i + 1) * 4, (uint32_t)m[i]);
	mk_be32(tk + 40 + 32, 0x40000000);
	mk_be32(tk + 76, dw << 16);
	mk_be32(tk + 80, dh << 16);
	mk_box(&trak, "tkhd", tk, sizeof(tk));
	mk_times(&mdia, "mdhd", 0, 90000, (uint64_t)ns * 3000);
	memcpy(hd + 8, "vide", 4);
	mk_box(&mdia, "hdlr", hd, sizeof(hd));

	/* stsd: one visual sample entry with its avcC */
	{
		uint8_t c[6] = { 1, sps->p[1], sps->p[2], sps->p[3], (uint8_t)(0xfc | (nl - 1)),
				 0xe1 };
		uint8_t l[2];

		mk_put(&avcc, c, sizeof(c));
		l[0] = (uint8_t)(sps->len >> 8), l[1] = (uint8_t)sps->len;
		mk_put(&avcc, l, 2);
		mk_put(&avcc, sps->p, sps->len);
		l[0] = 1;
		mk_put(&avcc, l, 1);
		l[0] = (uint8_t)(pps->len >> 8), l[1] = (uint8_t)pps->len;
		mk_put(&avcc, l, 2);
		mk_put(&avcc, pps->p, pps->len);
	}
	ve[7] = 1; /* data reference index */
	ve[24] = (uint8_t)(v->w >> 8), ve[25] = (uint8_t)v->w;
	ve[26] = (uint8_t)(v->h >> 8), ve[27] = (uint8_t)v->h;
	mk_be32(ve + 28, 0x00480000), mk_be32(ve + 32, 0x00480000);
	ve[41] = 1;                      /* frame count */
	ve[74] = 0, ve[75] = 0x18;       /* depth */
	ve[76] = 0xff, ve[77] = 0xff;    /* pre_defined -1 */
	mk_put(&entry, ve, sizeof(ve));
	mk_box(&entry, "avcC", avcc.p, avcc.len);
	mk_u32(&b, 1);
	mk_box(&b, v->fourcc ? v->fourcc : "avc1", entry.p, entry.len);
	mk_fbox(&stbl, "stsd", &b);
	b.len = 0;
	mk_u32(&b, 1), mk_u32(&b, (uint32_t)ns), mk_u32(&b, 3000);
	mk_fbox(&stbl, "stts", &b);
	b.len = 0;
	mk_u32(&b, 1), mk_u32(&b, 1), mk_u32(&b, v->one_chunk ? (uint32_t)ns : 1), mk_u32(&b, 1);
	mk_fbox(&stbl, "stsc", &b);
	b.len = 0;
	mk_u32(&b, 0), mk_u32(&b, (uint32_t)ns);
	for (int i = 0; i < ns; i++)
		mk_u32(&b, (uint32_t)sizes[i]);
	mk_fbox(&stbl, "stsz", &b);
	b.len = 0;
	{
		int nc = v->one_chunk ? 1 : ns;
		uint64_t at = base;

		mk_u32(&b, (uint32_t)nc);
		for (int i = 0; i < nc; i++) {
			if (v->co64)
				mk_u32(&b, (uint32_t)(at >> 32));
			mk_u32(&b, (uint32_t)at);
			at += sizes[i];
		}
		mk_fbox(&stbl, v->co64 ? "co64" : "stco", &b);
	}
	if (!v->no_stss) {
		b.len = 0;
		mk_u32(&b, 1), mk_u32(&b, v->junk_first ? 2 : 1);
		mk_fbox(&stbl, "stss", &b);
	}
	mk_box(&minf, "stbl", stbl.p, stbl.len);
	mk_box(&mdia, "minf", minf.p, minf.len);
	mk_box(&trak, "mdia", mdia.p, mdia.len);
	mk_box(out, "trak", trak.p, trak.len);
	free(trak.p), free(mdia.p), free(minf.p), free(stbl.p), free(b.p), free(entry.p),
		free(avcc.p);
}

/* mvhd, version 0, 1000 a second, with rate 1.0, volume 1.0 and the
 * identity matrix (a player multiplies the track's matrix by it) */
static inline void mk_mvhd(struct mkbuf *out, uint32_t ms)
{
	uint8_t b[100] = { 0 };

	mk_be32(b + 12, 1000);
	mk_be32(b + 16, ms);
	mk_be32(b + 20, 0x10000);
	b[24] = 1;
	mk_be32(b + 36, 0x10000), mk_be32(b + 52, 0x10000), mk_be32(b + 68, 0x40000000);
	mk_be32(b + 96, 2); /* next track id */
	mk_box(out, "mvhd", b, sizeof(b));
}

static inline uint8_t *mk_h264_mp4(const struct mk_video *v, size_t *len)
{
	static const uint8_t ftyp[] = { 'i', 's', 'o', 'm', 0, 0, 2, 0, 'i', 's', 'o', 'm',
					'a', 'v', 'c', '1', 'm', 'p', '4', '1' };
	struct mkbuf sps = { 0 }, pps = { 0 }, idr = { 0 }, mdat = { 0 }, moov = { 0 }, out = { 0 };
	size_t sizes[2];
	int ns = 0;
	uint64_t base;

	if (!mk_h264_idr(v, &sps, &pps, &idr))
		goto fail;
	if (v->junk_first) {
		uint8_t junk[300];

		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 37 + 11);
		mk_put(&mdat, junk, sizeof(junk));
		sizes[ns++] = sizeof(junk);
	}
	mk_put(&mdat, idr.p, idr.len);
	sizes[ns++] = idr.len;
	/* moov's size does not depend on the offsets: made once to learn it */
	mk_mvhd(&moov, (uint32_t)ns * 33);
	mk_vtrak(&moov, v, &sps, &pps, sizes, ns, 0);
	base = 8 + sizeof(ftyp) + 8 + (v->moov_first ? 8 + moov.len : 0);
	moov.len = 0;
	mk_mvhd(&moov, (uint32_t)ns * 33);
	mk_vtrak(&moov, v, &sps, &pps, sizes, ns, base);
	mk_box(&out, "ftyp", ftyp, sizeof(ftyp));
	if (v->moov_first)
		mk_box(&out, "moov", moov.p, moov.len);
	mk_box(&out, "mdat", mdat.p, mdat.len);
	if (!v->moov_first)
		mk_box(&out, "moov", moov.p, moov.len);
	free(sps.p), free(pps.p), free(idr.p), free(mdat.p), free(moov.p);
	*len = out.len;
	return out.p;
fail:
	free(sps.p), free(pps.p), free(idr.p), free(mdat.p), free(moov.p), free(out.p);
	return NULL;
}

#endif
