/*
 * Small real media files made in memory for tests (tests/unit/test_media_meta.c,
 * tests/tools/wa-mkmedia.c): JPEG (libjpeg), PNG (libpng), WebP (libwebp)
 * of a gradient (red grows left to right, green top to bottom); an MP4 of
 * hand-built boxes (ftyp, mdat, moov: mvhd, a video and a sound trak); an
 * Ogg Opus stream (libopus) of a 440 Hz tone whose loudness rises linearly
 * from 5 % to 100 %; an MP3 of silent hand-built frames. Each mk_* returns a malloc'ed buffer (NULL on failure).
 */
#ifndef YESAPP_TESTS_MKMEDIA_H
#define YESAPP_TESTS_MKMEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <math.h>
#include <opus.h>
#include <png.h>
#include <webp/encode.h>

struct mkbuf {
	uint8_t *p;
	size_t len, cap;
};

static inline bool mk_put(struct mkbuf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *q;

		while (cap < b->len + n)
			cap *= 2;
		if (!(q = realloc(b->p, cap)))
			return false;
		b->p = q, b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return true;
}

static inline uint8_t *mk_gradient(uint32_t w, uint32_t h, int bpp, uint8_t alpha)
{
	uint8_t *px = malloc((size_t)w * h * (size_t)bpp);

	if (!px)
		return NULL;
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint8_t *p = px + ((size_t)y * w + x) * (size_t)bpp;

			p[0] = (uint8_t)(w > 1 ? x * 255 / (w - 1) : 0);
			p[1] = (uint8_t)(h > 1 ? y * 255 / (h - 1) : 0);
			p[2] = 128;
			if (bpp == 4)
				p[3] = alpha;
		}
	return px;
}

/* orient 2..8: an Exif APP1 (big-endian TIFF) with that Orientation */
static inline uint8_t *mk_jpeg_o(uint32_t w, uint32_t h, bool progressive, int orient,
				 size_t *len)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	unsigned char *out = NULL;
	unsigned long n = 0;
	uint8_t *px = mk_gradient(w, h, 3, 0);

	if (!px)
		return NULL;
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &n);
	c.image_width = w, c.image_height = h, c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 80, TRUE);
	if (progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	if (orient > 1) {
		uint8_t exif[] = { 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, '*', 0, 0, 0, 8,
				   0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)orient, 0, 0,
				   0, 0, 0, 0 };

		jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof(exif));
	}
	while (c.next_scanline < h) {
		JSAMPROW r = px + (size_t)c.next_scanline * w * 3;

		jpeg_write_scanlines(&c, &r, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(px);
	*len = n;
	return out;
}

static inline uint8_t *mk_jpeg(uint32_t w, uint32_t h, bool progressive, size_t *len)
{
	return mk_jpeg_o(w, h, progressive, 1, len);
}

static inline void mk_png_write(png_structp p, png_bytep d, png_size_t n)
{
	if (!mk_put(png_get_io_ptr(p), d, n))
		png_error(p, "oom");
}

static inline void mk_png_flush(png_structp p)
{
	(void)p;
}

/* RGBA with the given alpha when alpha < 255, else RGB. */
static inline uint8_t *mk_png(uint32_t w, uint32_t h, uint8_t alpha, bool interlace, size_t *len)
{
	int bpp = alpha < 255 ? 4 : 3;
	uint8_t *px = mk_gradient(w, h, bpp, alpha);
	struct mkbuf b = { 0 };
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop i = p ? png_create_info_struct(p) : NULL;

	if (!px || !i) {
		free(px);
		return NULL;
	}
	png_set_write_fn(p, &b, mk_png_write, mk_png_flush);
	png_set_compression_level(p, 1);
	png_set_IHDR(p, i, w, h, 8, bpp == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
		     interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p, i);
	{
		int passes = png_set_interlace_handling(p);

		for (int k = 0; k < passes; k++)
			for (uint32_t y = 0; y < h; y++)
				png_write_row(p, px + (size_t)y * w * (size_t)bpp);
	}
	png_write_end(p, i);
	png_destroy_write_struct(&p, &i);
	free(px);
	*len = b.len;
	return b.p;
}

static inline uint8_t *mk_webp(uint32_t w, uint32_t h, size_t *len)
{
	uint8_t *px = mk_gradient(w, h, 3, 0), *out = NULL, *copy = NULL;
	size_t n = px ? WebPEncodeRGB(px, (int)w, (int)h, (int)w * 3, 80, &out) : 0;

	if (n && (copy = malloc(n)))
		memcpy(copy, out, n);
	WebPFree(out);
	free(px);
	*len = n;
	return copy;
}

/* ---- MP4 boxes ---- */

static inline void mk_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
	p[3] = (uint8_t)v;
}

static inline void mk_be64(uint8_t *p, uint64_t v)
{
	mk_be32(p, (uint32_t)(v >> 32));
	mk_be32(p + 4, (uint32_t)v);
}

/* A box of type with body b[0..n) appended to out. */
static inline bool mk_box(struct mkbuf *out, const char *type, const void *b, size_t n)
{
	uint8_t h[8];

	mk_be32(h, (uint32_t)(8 + n));
	memcpy(h + 4, type, 4);
	return mk_put(out, h, 8) && mk_put(out, b, n);
}

/* mvhd or mdhd, version 0 or 1 */
static inline void mk_times(struct mkbuf *out, const char *type, int ver, uint32_t scale,
			    uint64_t dur)
{
	uint8_t b[120] = { 0 };
	size_t n;

	b[0] = (uint8_t)ver;
	if (ver == 1) {
		mk_be32(b + 20, scale);
		mk_be64(b + 24, dur);
		n = 32;
	} else {
		mk_be32(b + 12, scale);
		mk_be32(b + 16, (uint32_t)dur);
		n = 20;
	}
	if (!strcmp(type, "mvhd"))
		n += 80; /* rate, volume, matrix, next track id */
	else
		n += 4; /* language, quality */
	mk_box(out, type, b, n);
}

static inline void mk_trak(struct mkbuf *out, int ver, const char *handler, uint32_t w,
			   uint32_t h, int rot, uint32_t scale, uint64_t dur)
{
	struct mkbuf trak = { 0 }, mdia = { 0 };
	uint8_t tk[96] = { 0 }, hd[24] = { 0 };
	size_t n = ver == 1 ? 96 : 84, mat = ver == 1 ? 52 : 40;

	tk[0] = (uint8_t)ver;
	/* the matrix: identity, or turned 90 degrees */
	mk_be32(tk + mat, rot ? 0 : 0x10000);
	mk_be32(tk + mat + 4, rot ? 0x10000 : 0);
	mk_be32(tk + mat + 12, rot ? (uint32_t)-0x10000 : 0);
	mk_be32(tk + mat + 16, rot ? 0 : 0x10000);
	mk_be32(tk + mat + 32, 0x40000000);
	mk_be32(tk + n - 8, w << 16);
	mk_be32(tk + n - 4, h << 16);
	mk_box(&trak, "tkhd", tk, n);
	mk_times(&mdia, "mdhd", ver, scale, dur);
	memcpy(hd + 8, handler, 4);
	mk_box(&mdia, "hdlr", hd, sizeof(hd));
	mk_box(&trak, "mdia", mdia.p, mdia.len);
	mk_box(out, "trak", trak.p, trak.len);
	free(trak.p);
	free(mdia.p);
}

/* ftyp, mdat (bytes of payload), moov (first or last); ver 0/1 boxes;
 * rot: the video turned 90 degrees; with_mvhd: the movie's duration (else
 * only the tracks'). A video trak w x h (none when w == 0) and a sound
 * trak, both `seconds` long. */
static inline uint8_t *mk_mp4(uint32_t w, uint32_t h, double seconds, int ver, bool moov_last,
			      bool rot, bool with_mvhd, size_t mdat_bytes, size_t *len)
{
	struct mkbuf out = { 0 }, moov = { 0 };
	static const uint8_t ftyp[] = { 'i', 's', 'o', 'm', 0, 0, 2, 0, 'i', 's', 'o', 'm',
					'm', 'p', '4', '2' };
	uint8_t *mdat = calloc(1, mdat_bytes + 1);

	if (!mdat)
		return NULL;
	if (with_mvhd)
		mk_times(&moov, "mvhd", ver, 1000, (uint64_t)(seconds * 1000 + 0.5));
	if (w)
		mk_trak(&moov, ver, "vide", w, h, rot, 90000, (uint64_t)(seconds * 90000 + 0.5));
	mk_trak(&moov, ver, "soun", 0, 0, 0, 44100, (uint64_t)(seconds * 44100 + 0.5));
	mk_box(&out, "ftyp", ftyp, sizeof(ftyp));
	if (!moov_last)
		mk_box(&out, "moov", moov.p, moov.len);
	mk_box(&out, "mdat", mdat, mdat_bytes);
	if (moov_last)
		mk_box(&out, "moov", moov.p, moov.len);
	free(moov.p);
	free(mdat);
	*len = out.len;
	return out.p;
}

/* ---- Ogg Opus ---- */

static inline uint32_t mk_ogg_crc(const uint8_t *p, size_t n)
{
	uint32_t crc = 0;

	for (size_t i = 0; i < n; i++) {
		crc ^= (uint32_t)p[i] << 24;
		for (int k = 0; k < 8; k++)
			crc = crc & 0x80000000u ? crc << 1 ^ 0x04c11db7u : crc << 1;
	}
	return crc;
}

/* One page holding one packet (< 255 * 255 bytes). */
static inline bool mk_ogg_page(struct mkbuf *out, int flags, uint64_t granule, uint32_t seq,
			       const uint8_t *pkt, size_t n)
{
	uint8_t h[27 + 255] = { 'O', 'g', 'g', 'S', 0 };
	size_t segs = n / 255 + 1, start = out->len;
	uint32_t crc;

	h[5] = (uint8_t)flags;
	for (int i = 0; i < 8; i++)
		h[6 + i] = (uint8_t)(granule >> (8 * i));
	h[14] = 0x5e, h[15] = 0x11, h[16] = 0x0c, h[17] = 0x0a; /* serial */
	for (int i = 0; i < 4; i++)
		h[18 + i] = (uint8_t)(seq >> (8 * i));
	h[26] = (uint8_t)segs;
	for (size_t i = 0; i < segs; i++)
		h[27 + i] = (uint8_t)(i + 1 < segs ? 255 : n % 255);
	if (!mk_put(out, h, 27 + segs) || !mk_put(out, pkt, n))
		return false;
	crc = mk_ogg_crc(out->p + start, out->len - start);
	for (int i = 0; i < 4; i++)
		out->p[start + 22 + i] = (uint8_t)(crc >> (8 * i));
	return true;
}

/* frames of 20 ms (960 samples at 48 kHz), mono */
static inline uint8_t *mk_opus(unsigned frames, size_t *len)
{
	struct mkbuf out = { 0 };
	int err = 0;
	opus_int32 skip = 0;
	OpusEncoder *e = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	uint8_t head[19] = { 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 1 };
	static const uint8_t tags[] = { 'O', 'p', 'u', 's', 'T', 'a', 'g', 's', 4, 0, 0, 0,
					'y', 'e', 's', 'a', 0, 0, 0, 0 };
	float pcm[960];
	uint8_t pkt[1500];
	uint32_t seq = 0;

	if (!e)
		return NULL;
	opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(&skip));
	head[10] = (uint8_t)skip, head[11] = (uint8_t)(skip >> 8);
	head[12] = 0x80, head[13] = 0xbb; /* 48000 */
	mk_ogg_page(&out, 2, 0, seq++, head, sizeof(head));
	mk_ogg_page(&out, 0, 0, seq++, tags, sizeof(tags));
	for (unsigned f = 0; f < frames; f++) {
		for (int i = 0; i < 960; i++) {
			double t = (double)(f * 960 + (unsigned)i), total = (double)frames * 960;
			double amp = 0.05 + 0.95 * t / total;

			pcm[i] = (float)(amp * 0.8 * sin(2 * M_PI * 440 * t / 48000));
		}
		opus_int32 n = opus_encode_float(e, pcm, 960, pkt, sizeof(pkt));

		if (n < 0)
			break;
		mk_ogg_page(&out, f + 1 == frames ? 4 : 0, (uint64_t)skip + (uint64_t)(f + 1) * 960,
			    seq++, pkt, (size_t)n);
	}
	opus_encoder_destroy(e);
	*len = out.len;
	return out.p;
}

/* An MP3 of hand-built MPEG-1 Layer III frames, 48 kHz stereo (1152
 * samples, 24 ms each), side information and payload zero (silence):
 * the first frame at bitrate index first_bi, the frames-1 others at bi
 * (index 9: 128 kbps, 384 bytes; 5: 64 kbps; 14: 320 kbps). tag 'X' / 'V':
 * the first frame holds a Xing / VBRI header counting the frames-1 others;
 * 0: none. id3: a 1000-byte ID3v2 tag first and an ID3v1 tag last. */
static inline uint8_t *mk_mp3(unsigned frames, unsigned first_bi, unsigned bi, int tag, bool id3,
			      size_t *len)
{
	static const unsigned kbps[15] = { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128,
					   160, 192, 224, 256, 320 };
	struct mkbuf out = { 0 };
	uint8_t fr[960 * 2];
	bool ok = true;

	if (id3) {
		uint8_t h[10] = { 'I', 'D', '3', 4, 0, 0, 0, 0, 1000 >> 7, 1000 & 0x7f };
		uint8_t body[1000] = { 0 };

		ok = mk_put(&out, h, sizeof(h)) && mk_put(&out, body, sizeof(body));
	}
	for (unsigned f = 0; ok && f < frames; f++) {
		unsigned b = f ? bi : first_bi, n = 3 * kbps[b & 15]; /* 144 * kbps / 48 */

		memset(fr, 0, n);
		fr[0] = 0xff, fr[1] = 0xfb, fr[2] = (uint8_t)((b & 15) << 4 | 1 << 2), fr[3] = 0;
		if (!f && tag == 'X') {
			memcpy(fr + 36, "Xing", 4);
			mk_be32(fr + 40, 1); /* frames field present */
			mk_be32(fr + 44, frames - 1);
		} else if (!f && tag == 'V') {
			memcpy(fr + 36, "VBRI", 4);
			fr[41] = 1; /* version 1 */
			mk_be32(fr + 50, frames - 1);
		}
		ok = n >= 96 && mk_put(&out, fr, n);
	}
	if (ok && id3) {
		uint8_t v1[128] = { 'T', 'A', 'G' };

		ok = mk_put(&out, v1, sizeof(v1));
	}
	if (!ok) {
		free(out.p);
		return NULL;
	}
	*len = out.len;
	return out.p;
}

#endif
