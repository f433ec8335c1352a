/*
 * Sent media's dimensions, durations, thumbnail and waveform (see
 * media_meta.h). Images through libjpeg(-turbo), libpng and libwebp, a JPEG
 * thumbnail made by a box filter over the (scaled) decoded rows; MP4 and
 * Ogg read by hand, box and page headers bounds-checked against the file;
 * a video's keyframe found through its sample tables and decoded by
 * media_h264.c (openh264), then made a thumbnail as an image's rows;
 * Opus decoded by libopusfile.
 */
#include "service/media_meta.h"

#include <jpeglib.h>
#include <opusfile.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <webp/decode.h>

#include "service/media_h264.h"
#include "util/err.h"

void media_meta_release(struct media_meta *m)
{
	if (!m)
		return;
	free(m->thumb);
	m->thumb = NULL;
	m->thumb_len = 0;
}

/* ---- file helpers ---- */

static int64_t file_size(FILE *f)
{
	off_t n;

	if (fseeko(f, 0, SEEK_END))
		return -1;
	n = ftello(f);
	return n < 0 ? -1 : (int64_t)n;
}

/* Reads exactly n bytes at off. */
static bool read_at(FILE *f, uint64_t off, void *p, size_t n)
{
	if (off > (uint64_t)INT64_MAX || fseeko(f, (off_t)off, SEEK_SET))
		return false;
	return fread(p, 1, n, f) == n;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* dur / scale rounded to the nearest second (at least 1 when dur > 0);
 * false when it does not fit. */
static bool to_seconds(uint64_t dur, uint64_t scale, uint32_t *out)
{
	uint64_t q, r;

	if (!scale)
		return false;
	q = dur / scale;
	r = dur % scale;
	if (r >= scale - r)
		q++;
	if (!q && dur)
		q = 1;
	if (q > UINT32_MAX)
		return false;
	*out = (uint32_t)q;
	return true;
}

/* m's duration dur / scale (to_seconds): Y_OK, or Y_EINVAL when it does
 * not fit (m untouched). */
static int put_seconds(struct media_meta *m, uint64_t dur, uint64_t scale)
{
	uint32_t secs;

	if (!to_seconds(dur, scale, &secs))
		return Y_EINVAL;
	m->seconds = secs;
	m->has_seconds = true;
	return Y_OK;
}

/* ---- MP4 / MOV ---- */

#define FOURCC(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

struct box {
	uint32_t type;
	uint64_t start, body, end; /* the box, its payload, its end */
};

/* The box at off inside [off, end): false when it does not fit. */
static bool box_at(FILE *f, uint64_t off, uint64_t end, struct box *b)
{
	uint8_t h[16];
	uint64_t size;

	if (end < off || end - off < 8 || !read_at(f, off, h, 8))
		return false;
	size = be32(h);
	b->type = be32(h + 4);
	b->start = off;
	b->body = off + 8;
	if (size == 1) {
		if (end - off < 16 || !read_at(f, off + 8, h + 8, 8))
			return false;
		size = be64(h + 8);
		b->body = off + 16;
	} else if (size == 0) {
		size = end - off; /* to the end of its parent */
	}
	if (size < b->body - off || size > end - off)
		return false;
	b->end = off + size;
	return true;
}

/* The first box of type in [off, end), false when none. */
static bool find_box(FILE *f, uint64_t off, uint64_t end, uint32_t type, struct box *out)
{
	struct box b;

	for (int n = 0; n < MEDIA_META_MAX_BOXES && box_at(f, off, end, &b); n++) {
		if (b.type == type) {
			*out = b;
			return true;
		}
		off = b.end;
	}
	return false;
}

/* A full box's (mvhd, mdhd) timescale and duration; false when damaged. */
static bool read_times(FILE *f, const struct box *b, uint64_t *scale, uint64_t *dur)
{
	uint8_t p[32];
	uint64_t len = b->end - b->body;

	if (len < 4 || !read_at(f, b->body, p, 4))
		return false;
	if (p[0] == 1) {
		if (len < 32 || !read_at(f, b->body, p, 32))
			return false;
		*scale = be32(p + 20);
		*dur = be64(p + 24);
		return true;
	}
	if (len < 20 || !read_at(f, b->body, p, 20))
		return false;
	*scale = be32(p + 12);
	*dur = be32(p + 16);
	if (*dur == UINT32_MAX)
		*dur = UINT64_MAX; /* "unknown" */
	return true;
}

struct trak {
	bool video;
	uint32_t width, height; /* as shown (turned as its matrix says) */
	int orient;             /* the matrix as an EXIF orientation: 1, 3, 6, 8 */
	uint64_t scale, dur;
	bool has_times;
};

/* A tkhd matrix's turn (a, b, c, d in 16.16) as an EXIF orientation: 6 is
 * 90 degrees clockwise (b > 0, c < 0), 8 is 270, 3 is 180; else 1 (flips
 * and skews are shown as stored). */
static int matrix_orient(int32_t a, int32_t b, int32_t c, int32_t d)
{
	if (a == 0 && d == 0 && b > 0 && c < 0)
		return 6;
	if (a == 0 && d == 0 && b < 0 && c > 0)
		return 8;
	if (b == 0 && c == 0 && a < 0 && d < 0)
		return 3;
	return 1;
}

static void read_trak(FILE *f, const struct box *t, struct trak *k)
{
	struct box b, md;
	uint8_t p[96];

	memset(k, 0, sizeof(*k));
	k->orient = 1;
	if (find_box(f, t->body, t->end, FOURCC('t', 'k', 'h', 'd'), &b)) {
		uint64_t len = b.end - b.body;
		size_t need = 0, mat = 0;

		if (len >= 4 && read_at(f, b.body, p, 4)) {
			need = p[0] == 1 ? 96 : 84;
			mat = p[0] == 1 ? 52 : 40;
		}
		if (need && len >= need && read_at(f, b.body, p, need)) {
			int32_t a = (int32_t)be32(p + mat), bb = (int32_t)be32(p + mat + 4);

			k->orient = matrix_orient(a, bb, (int32_t)be32(p + mat + 12),
						  (int32_t)be32(p + mat + 16));
			k->width = be32(p + need - 8) >> 16;
			k->height = be32(p + need - 4) >> 16;
			if (a == 0 && bb != 0) { /* turned 90 or 270 degrees */
				uint32_t w = k->width;

				k->width = k->height;
				k->height = w;
			}
		}
	}
	if (!find_box(f, t->body, t->end, FOURCC('m', 'd', 'i', 'a'), &md))
		return;
	if (find_box(f, md.body, md.end, FOURCC('h', 'd', 'l', 'r'), &b) && b.end - b.body >= 12 &&
	    read_at(f, b.body, p, 12))
		k->video = be32(p + 8) == FOURCC('v', 'i', 'd', 'e');
	if (find_box(f, md.body, md.end, FOURCC('m', 'd', 'h', 'd'), &b))
		k->has_times = read_times(f, &b, &k->scale, &k->dur);
}

int media_meta_mp4(FILE *f, bool want_dims, struct media_meta *m)
{
	int64_t size = file_size(f);
	struct box moov, b;
	uint64_t scale = 0, dur = 0, off;
	uint32_t secs = 0, w = 0, h = 0;
	bool has_secs = false, from_tracks;

	if (size < 8 || !find_box(f, 0, (uint64_t)size, FOURCC('m', 'o', 'o', 'v'), &moov))
		return Y_EINVAL;
	if (find_box(f, moov.body, moov.end, FOURCC('m', 'v', 'h', 'd'), &b) &&
	    read_times(f, &b, &scale, &dur) && dur && dur != UINT64_MAX)
		has_secs = to_seconds(dur, scale, &secs);
	from_tracks = !has_secs; /* no movie duration: the longest track's */
	off = moov.body;
	for (int n = 0; n < MEDIA_META_MAX_BOXES && box_at(f, off, moov.end, &b); n++, off = b.end) {
		struct trak k;
		uint32_t s;

		if (b.type != FOURCC('t', 'r', 'a', 'k'))
			continue;
		read_trak(f, &b, &k);
		if (k.video && !w && k.width && k.height)
			w = k.width, h = k.height;
		if (from_tracks && k.has_times && k.dur && k.dur != UINT64_MAX &&
		    to_seconds(k.dur, k.scale, &s) && (!has_secs || s > secs))
			secs = s, has_secs = true;
	}
	if (!has_secs && !(want_dims && w))
		return Y_EINVAL;
	if (has_secs)
		m->seconds = secs, m->has_seconds = true;
	if (want_dims && w)
		m->width = w, m->height = h;
	return Y_OK;
}

/* ---- Ogg Opus ---- */

#define OGG_HDR 27
#define OGG_MAX_PAGE (OGG_HDR + 255 + 255 * 255)

/* A page header at p[0..n): its serial, granule and whole length; false
 * when p is not a whole page. */
static bool page_at(const uint8_t *p, size_t n, uint32_t *serial, uint64_t *granule,
		     size_t *len)
{
	size_t body = 0, segs;

	if (n < OGG_HDR || memcmp(p, "OggS", 4) || p[4] != 0)
		return false;
	segs = p[26];
	if (n < OGG_HDR + segs)
		return false;
	for (size_t i = 0; i < segs; i++)
		body += p[OGG_HDR + i];
	if (n - OGG_HDR - segs < body)
		return false;
	*granule = le64(p + 6);
	*serial = (uint32_t)p[14] | (uint32_t)p[15] << 8 | (uint32_t)p[16] << 16 |
		  (uint32_t)p[17] << 24;
	*len = OGG_HDR + segs + body;
	return true;
}

int media_meta_ogg(FILE *f, struct media_meta *m)
{
	int64_t size = file_size(f);
	uint8_t *buf;
	size_t n, len, at;
	uint32_t serial, s;
	uint64_t granule, last = UINT64_MAX, skip;
	int rc = Y_EINVAL;

	if (size < OGG_HDR + 19 || !(buf = malloc(OGG_MAX_PAGE)))
		return size < OGG_HDR + 19 ? Y_EINVAL : Y_ENOMEM;
	/* the first page holds OpusHead (one packet, 19+ bytes): the pre-skip */
	n = (size_t)(size < OGG_MAX_PAGE ? size : OGG_MAX_PAGE);
	/* ogg_page: the body holds at least the first lacing value's bytes */
	if (!read_at(f, 0, buf, n) || !page_at(buf, n, &serial, &granule, &len) || buf[26] < 1 ||
	    buf[OGG_HDR] < 19 || memcmp(buf + OGG_HDR + buf[26], "OpusHead", 8))
		goto out;
	skip = (uint64_t)buf[OGG_HDR + buf[26] + 10] | (uint64_t)buf[OGG_HDR + buf[26] + 11] << 8;
	/* the last page of that stream with a granule: within the last
	 * OGG_MAX_PAGE bytes */
	at = (size_t)(size < OGG_MAX_PAGE ? 0 : size - OGG_MAX_PAGE);
	n = (size_t)(size - (int64_t)at);
	if (!read_at(f, at, buf, n))
		goto out;
	for (size_t i = 0; i + OGG_HDR <= n; i++) {
		if (buf[i] != 'O' || !page_at(buf + i, n - i, &s, &granule, &len) || s != serial ||
		    granule == UINT64_MAX)
			continue;
		last = granule;
	}
	if (last != UINT64_MAX && last > skip)
		rc = put_seconds(m, last - skip, 48000);
out:
	free(buf);
	return rc;
}

/* ---- MP3 (MPEG audio frames) ---- */

#define MPA_SCAN (64 * 1024) /* bytes searched for the first frame after the tags */
#define MPA_ID3_MAX 8        /* ID3v2 tags skipped one after the other */

struct mpa {
	uint32_t rate, spf, len, bps; /* sample rate, samples per frame, bytes, bits/s */
	bool v1, mono;
};

/* An MPEG audio frame header (layers I-III, MPEG 1, 2, 2.5): false for a
 * bad sync, a reserved version/layer/rate, a free or bad bitrate. */
static bool mpa_header(const uint8_t *h, struct mpa *f)
{
	static const uint16_t kbps[2][3][15] = {
		{ /* MPEG 2 and 2.5: layer I, II, III */
		  { 0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256 },
		  { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160 },
		  { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160 } },
		{ /* MPEG 1 */
		  { 0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448 },
		  { 0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384 },
		  { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320 } },
	};
	static const uint32_t rates[3] = { 44100, 48000, 32000 };
	unsigned ver = (h[1] >> 3) & 3, layer = (h[1] >> 1) & 3, bi = h[2] >> 4,
		 ri = (h[2] >> 2) & 3, pad = (h[2] >> 1) & 1;
	unsigned li; /* 0: layer I, 1: II, 2: III */

	if (h[0] != 0xff || (h[1] & 0xe0) != 0xe0 || ver == 1 || layer == 0 || bi == 0 ||
	    bi == 15 || ri == 3)
		return false;
	li = 3 - layer;
	f->v1 = ver == 3;
	f->rate = rates[ri] >> (ver == 3 ? 0 : ver == 2 ? 1 : 2);
	f->bps = (uint32_t)kbps[f->v1][li][bi] * 1000;
	f->spf = li == 0 ? 384 : li == 1 || f->v1 ? 1152 : 576;
	f->mono = (h[3] >> 6) == 3;
	/* bytes: samples / 8 * bitrate / rate, padded by a slot (4 bytes in layer I) */
	f->len = li == 0 ? (12 * f->bps / f->rate + pad) * 4 : f->spf / 8 * f->bps / f->rate + pad;
	return f->len >= 4;
}

/* The bytes of the ID3v2 tags at the file's start (0 when none). */
static uint64_t id3_skip(FILE *f, uint64_t size)
{
	uint64_t off = 0;
	uint8_t h[10];

	for (int i = 0; i < MPA_ID3_MAX && off + 10 <= size && read_at(f, off, h, 10) &&
			!memcmp(h, "ID3", 3);
	     i++) {
		uint32_t n = 0;

		for (int k = 6; k < 10; k++) {
			if (h[k] & 0x80)
				return off; /* not syncsafe: not a tag */
			n = n << 7 | h[k];
		}
		off += 10 + (uint64_t)n + ((h[5] & 0x10) ? 10 : 0); /* a footer */
	}
	return off;
}

int media_meta_mp3(FILE *f, struct media_meta *m)
{
	int64_t fsz = file_size(f);
	uint64_t size = fsz > 0 ? (uint64_t)fsz : 0, start, end = size, first = 0, frames = 0;
	uint8_t *buf = NULL, h[4], t[3], x[64];
	size_t n, xl;
	struct mpa a, b;
	bool found = false;
	unsigned side;
	int rc = Y_EINVAL;

	if (size < 4)
		return Y_EINVAL;
	start = id3_skip(f, size);
	if (size >= 128 + 4 && read_at(f, size - 128, t, 3) && !memcmp(t, "TAG", 3))
		end = size - 128; /* an ID3v1 tag */
	if (start >= end || end - start < 4)
		return Y_EINVAL;
	n = (size_t)(end - start < MPA_SCAN ? end - start : MPA_SCAN);
	if (!(buf = malloc(n)))
		return Y_ENOMEM;
	if (!read_at(f, start, buf, n))
		goto out;
	/* the first frame: a header followed by another one where its length
	 * says (or by the end of the audio) */
	for (size_t i = 0; !found && i + 4 <= n; i++) {
		uint64_t next;

		if (buf[i] != 0xff || !mpa_header(buf + i, &a))
			continue;
		next = start + i + a.len;
		if (next > end)
			continue;
		found = next + 4 > end || (read_at(f, next, h, 4) && mpa_header(h, &b) &&
					   b.rate == a.rate && b.v1 == a.v1);
		first = start + i;
	}
	if (!found)
		goto out;
	/* a Xing/Info header after the side information, or VBRI 32 bytes
	 * in: the frame count of the whole stream (VBR files) */
	xl = a.len < sizeof(x) ? a.len : sizeof(x);
	if (!read_at(f, first, x, xl))
		goto out;
	side = a.v1 ? (a.mono ? 17 : 32) : (a.mono ? 9 : 17);
	if (4 + side + 12 <= xl &&
	    (!memcmp(x + 4 + side, "Xing", 4) || !memcmp(x + 4 + side, "Info", 4)) &&
	    (be32(x + 4 + side + 4) & 1))
		frames = be32(x + 4 + side + 8);
	else if (36 + 18 <= xl && !memcmp(x + 36, "VBRI", 4))
		frames = be32(x + 36 + 14);
	rc = frames ? put_seconds(m, frames * a.spf, a.rate)
		    : put_seconds(m, (end - first) * 8, a.bps); /* a constant bitrate */
out:
	free(buf);
	return rc;
}

/* ---- voice-note waveform ---- */

static int of_read(void *s, unsigned char *p, int n)
{
	size_t r = fread(p, 1, (size_t)n, s);

	return ferror((FILE *)s) ? -1 : (int)r;
}

static int of_seek(void *s, opus_int64 off, int whence)
{
	return fseeko(s, (off_t)off, whence);
}

static opus_int64 of_tell(void *s)
{
	return (opus_int64)ftello(s);
}

int media_meta_waveform(FILE *f, struct media_meta *m)
{
	const OpusFileCallbacks cb = { of_read, of_seek, of_tell, NULL };
	OggOpusFile *of;
	opus_int64 total, pos = 0;
	double sum[MEDIA_META_WAVE_LEN] = { 0 }, mean[MEDIA_META_WAVE_LEN], max = 0;
	uint64_t cnt[MEDIA_META_WAVE_LEN] = { 0 };
	float *pcm;
	int err = 0, holes = 0, rc = Y_EINVAL;

	rewind(f);
	of = op_open_callbacks(f, &cb, NULL, 0, &err);
	if (!of)
		return Y_EINVAL;
	total = op_pcm_total(of, -1);
	if (total <= 0 || total > (opus_int64)MEDIA_META_WAVE_MAX_SECONDS * 48000) {
		op_free(of);
		return Y_EINVAL;
	}
	if (!(pcm = malloc(2 * 5760 * sizeof(*pcm)))) {
		op_free(of);
		return Y_ENOMEM;
	}
	for (;;) {
		int r = op_read_float_stereo(of, pcm, 2 * 5760);

		if (r == OP_HOLE && ++holes < 64)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		for (int i = 0; i < r; i++, pos++) {
			opus_int64 b = pos * MEDIA_META_WAVE_LEN / total;
			float v = (pcm[2 * i] + pcm[2 * i + 1]) / 2;

			if (b >= MEDIA_META_WAVE_LEN)
				b = MEDIA_META_WAVE_LEN - 1;
			sum[b] += v < 0 ? -v : v;
			cnt[b]++;
		}
	}
	for (int i = 0; i < MEDIA_META_WAVE_LEN; i++) {
		mean[i] = cnt[i] ? sum[i] / (double)cnt[i] : 0;
		if (mean[i] > max)
			max = mean[i];
	}
	/* loudest bucket 100, as WhatsApp's own waveforms */
	for (int i = 0; i < MEDIA_META_WAVE_LEN; i++) {
		double v = max > 0 ? mean[i] / max * 100 + 0.5 : 0;

		m->waveform[i] = (uint8_t)(v > 100 ? 100 : v);
	}
	m->has_waveform = true;
	rc = Y_OK;
out:
	free(pcm);
	op_free(of);
	return rc;
}

/* ---- images ---- */

/* What to make of an image: the whole of it with its long side scaled down
 * to side (a thumbnail), or its centre square scaled down to side x side (a
 * profile picture); never scaled up. */
struct shape {
	uint32_t side;
	bool square;
	int quality; /* of the JPEG */
};

static const struct shape thumb_shape = { MEDIA_META_THUMB_SIDE, false, MEDIA_META_THUMB_QUALITY };

/* A box filter from sw x sh rows (RGB), of which the cw x ch region at (cx,
 * cy) is kept, down to tw x th. */
struct thumb {
	uint32_t sw, sh, cx, cy, cw, ch, tw, th, y;
	uint32_t *acc; /* tw * th * 4: r, g, b, count */
	int orient;    /* EXIF orientation 2..8 to apply when encoding; else as stored */
	int quality;
};

/* The size s makes of a w x h image. */
static void shape_fit(const struct shape *s, uint32_t w, uint32_t h, uint32_t *tw, uint32_t *th)
{
	uint64_t t;

	if (s->square) {
		t = w < h ? w : h;
		*tw = *th = t < s->side ? (uint32_t)t : s->side;
	} else if (w <= s->side && h <= s->side) {
		*tw = w, *th = h;
	} else if (w >= h) {
		t = ((uint64_t)h * s->side + w / 2) / w;
		*tw = s->side, *th = t ? (uint32_t)t : 1;
	} else {
		t = ((uint64_t)w * s->side + h / 2) / h;
		*th = s->side, *tw = t ? (uint32_t)t : 1;
	}
}

/* A filter from sw x sh rows to what s makes of an aw x ah picture (the
 * source's shape, or the one it is shown at: a video's track size). */
static int thumb_init_as(struct thumb *t, uint32_t sw, uint32_t sh, uint32_t aw, uint32_t ah,
			 const struct shape *s)
{
	memset(t, 0, sizeof(*t));
	if (!sw || !sh || !aw || !ah)
		return Y_EINVAL;
	t->sw = sw, t->sh = sh;
	t->cw = sw, t->ch = sh;
	if (s->square) {
		t->cw = t->ch = sw < sh ? sw : sh;
		t->cx = (sw - t->cw) / 2, t->cy = (sh - t->ch) / 2;
	}
	shape_fit(s, aw, ah, &t->tw, &t->th);
	/* shown larger than it was decoded (a small video with a larger track
	 * size): never more cells than source pixels, or some stay empty
	 * (white); the shape is kept */
	if (t->tw > t->cw || t->th > t->ch) {
		uint64_t tw = t->tw, th = t->th;

		if (tw * t->ch > th * t->cw) {
			t->tw = t->cw;
			t->th = (uint32_t)((th * t->cw + tw / 2) / tw);
		} else {
			t->th = t->ch;
			t->tw = (uint32_t)((tw * t->ch + th / 2) / th);
		}
		t->tw = t->tw ? t->tw : 1, t->th = t->th ? t->th : 1;
	}
	t->quality = s->quality;
	t->acc = calloc((size_t)t->tw * t->th * 4, sizeof(*t->acc));
	return t->acc ? Y_OK : Y_ENOMEM;
}

static int thumb_init(struct thumb *t, uint32_t sw, uint32_t sh, const struct shape *s)
{
	return thumb_init_as(t, sw, sh, sw, sh, s);
}

/* The next source row: sw pixels of bpp bytes (3: RGB; 4: RGBA, put over
 * white). */
static void thumb_row(struct thumb *t, const uint8_t *px, int bpp)
{
	uint32_t *row, ox = 0;
	uint64_t frac = 0;

	if (t->y >= t->cy + t->ch)
		return;
	if (t->y < t->cy) { /* above the kept region */
		t->y++;
		return;
	}
	row = t->acc + (size_t)((uint64_t)(t->y - t->cy) * t->th / t->ch) * t->tw * 4;
	t->y++;
	px += (size_t)t->cx * bpp;
	for (uint32_t x = 0; x < t->cw; x++, px += bpp) {
		uint32_t *a = row + (size_t)ox * 4;

		if (bpp == 4) {
			uint32_t al = px[3], bg = 255 * (255 - al);

			a[0] += (px[0] * al + bg) / 255;
			a[1] += (px[1] * al + bg) / 255;
			a[2] += (px[2] * al + bg) / 255;
		} else {
			a[0] += px[0], a[1] += px[1], a[2] += px[2];
		}
		a[3]++;
		/* ox = floor((x + 1) * tw / cw) */
		frac += t->tw;
		if (frac >= t->cw)
			frac -= t->cw, ox++;
	}
}

struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
};

static void j_exit(j_common_ptr c)
{
	longjmp(((struct jerr *)c->err)->jb, 1);
}

static void j_quiet(j_common_ptr c)
{
	(void)c;
}

/* An error manager that longjmps to e->jb and prints nothing. */
static struct jpeg_error_mgr *j_err(struct jerr *e)
{
	jpeg_std_error(&e->pub);
	e->pub.error_exit = j_exit;
	e->pub.output_message = j_quiet;
	return &e->pub;
}

struct jenc {
	struct jpeg_compress_struct c;
	struct jerr e;
	uint8_t *rgb, *out;
	unsigned long len;
};

static void jenc_work(struct jenc *d, uint32_t w, uint32_t h, int quality)
{
	jpeg_create_compress(&d->c);
	jpeg_mem_dest(&d->c, &d->out, &d->len);
	d->c.image_width = w;
	d->c.image_height = h;
	d->c.input_components = 3;
	d->c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&d->c);
	jpeg_set_quality(&d->c, quality, TRUE);
	d->c.optimize_coding = TRUE;
	jpeg_start_compress(&d->c, TRUE);
	while (d->c.next_scanline < d->c.image_height) {
		JSAMPROW r = d->rgb + (size_t)d->c.next_scanline * w * 3;

		jpeg_write_scanlines(&d->c, &r, 1);
	}
	jpeg_finish_compress(&d->c);
}

/* Where displayed pixel (x, y) of an image stored w x h with EXIF
 * orientation o is stored. */
static size_t oriented(int o, uint32_t w, uint32_t h, uint32_t x, uint32_t y)
{
	uint32_t sx = x, sy = y;

	switch (o) {
	case 2: sx = w - 1 - x; break;
	case 3: sx = w - 1 - x, sy = h - 1 - y; break;
	case 4: sy = h - 1 - y; break;
	case 5: sx = y, sy = x; break;
	case 6: sx = y, sy = h - 1 - x; break;
	case 7: sx = w - 1 - y, sy = h - 1 - x; break;
	case 8: sx = w - 1 - y, sy = x; break;
	default: break;
	}
	return (size_t)sy * w + sx;
}

/* The averaged thumbnail, turned as its orientation says, as a JPEG into
 * m->thumb. */
static int thumb_encode(const struct thumb *t, struct media_meta *m)
{
	struct jenc *d = calloc(1, sizeof(*d));
	bool turned = t->orient >= 5 && t->orient <= 8;
	uint32_t w = turned ? t->th : t->tw, h = turned ? t->tw : t->th;
	int rc = Y_ENOMEM;

	if (!d || !(d->rgb = malloc((size_t)w * h * 3)))
		goto out;
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			const uint32_t *a = t->acc + oriented(t->orient, t->tw, t->th, x, y) * 4;
			uint8_t *o = d->rgb + ((size_t)y * w + x) * 3;

			for (int c = 0; c < 3; c++)
				o[c] = (uint8_t)(a[3] ? (a[c] + a[3] / 2) / a[3] : 255);
		}
	d->c.err = j_err(&d->e);
	if (setjmp(d->e.jb) == 0) {
		jenc_work(d, w, h, t->quality);
		m->thumb = d->out;
		m->thumb_len = d->len;
		d->out = NULL;
	}
	jpeg_destroy_compress(&d->c);
	rc = m->thumb ? Y_OK : Y_ENOMEM;
	free(d->out);
out:
	if (d)
		free(d->rgb);
	free(d);
	return rc;
}

/* What a decoder into a thumbnail holds: the filter, a pixel buffer, its
 * answer. */
struct dec {
	struct thumb t;
	uint8_t *px;
	int rc;
};

/* All rows are in: the thumbnail into m. */
static void dec_finish(struct dec *b, struct media_meta *m)
{
	if (thumb_encode(&b->t, m) == Y_ENOMEM)
		b->rc = Y_ENOMEM;
}

/* Frees what b holds; its answer. */
static int dec_end(struct dec *b)
{
	free(b->px);
	free(b->t.acc);
	return b->rc;
}

struct jdec {
	struct jpeg_decompress_struct c;
	struct jerr e;
	struct jpeg_progress_mgr pm;
	struct dec b;
};

/* Gives up a progressive JPEG with very many scans (each one a pass over
 * the whole image's coefficients). */
static void j_progress(j_common_ptr c)
{
	if (c->is_decompressor &&
	    ((struct jpeg_decompress_struct *)c)->input_scan_number > MEDIA_META_MAX_SCANS)
		j_exit(c);
}

static uint32_t exif_u(const uint8_t *p, bool le, int n)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint32_t)p[le ? i : n - 1 - i] << (8 * i);
	return v;
}

/* The Orientation tag (0x0112) of IFD0 in an APP1 "Exif" payload; 1 when
 * none or damaged. */
static int exif_orientation(const uint8_t *p, size_t n)
{
	const uint8_t *t = p + 6;
	size_t tn, ifd, cnt;
	bool le;

	if (n < 6 + 8 || memcmp(p, "Exif\0\0", 6))
		return 1;
	tn = n - 6;
	if (!memcmp(t, "II*\0", 4))
		le = true;
	else if (!memcmp(t, "MM\0*", 4))
		le = false;
	else
		return 1;
	ifd = exif_u(t + 4, le, 4);
	if (ifd > tn || tn - ifd < 2)
		return 1;
	cnt = exif_u(t + ifd, le, 2);
	for (size_t i = 0; i < cnt && i < 256; i++) {
		size_t at = ifd + 2 + i * 12;
		uint32_t v;

		if (at > tn || tn - at < 12)
			return 1;
		if (exif_u(t + at, le, 2) != 0x0112 || exif_u(t + at + 2, le, 2) != 3)
			continue;
		v = exif_u(t + at + 8, le, 2);
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 1;
}

static void jdec_work(struct jdec *d, FILE *f, const struct shape *s, uint64_t max_pixels,
		      struct media_meta *m)
{
	int orient = 1;

	uint32_t w, h, tw, th, lng, tl;
	unsigned denom = 1;

	jpeg_create_decompress(&d->c);
	d->c.mem->max_memory_to_use = 64L << 20; /* a progressive image's coefficients */
	d->pm.progress_monitor = j_progress;
	d->c.progress = &d->pm;
	jpeg_stdio_src(&d->c, f);
	jpeg_save_markers(&d->c, JPEG_APP0 + 1, 0xffff);
	jpeg_read_header(&d->c, TRUE);
	w = d->c.image_width, h = d->c.image_height;
	if (!w || !h || (uint64_t)w * h > max_pixels)
		return;
	for (jpeg_saved_marker_ptr k = d->c.marker_list; k && orient == 1; k = k->next)
		orient = exif_orientation(k->data, k->data_length);
	/* as shown: a photo stored turned 90 or 270 degrees */
	if (orient >= 5)
		m->width = h, m->height = w;
	else
		m->width = w, m->height = h;
	d->b.rc = Y_OK;
	if (!s)
		return;
	/* decoded scaled: the smallest size still at least the thumbnail's (a
	 * square's: its short side) */
	shape_fit(s, w, h, &tw, &th);
	if (s->square)
		lng = w < h ? w : h;
	else
		lng = w > h ? w : h;
	tl = tw > th ? tw : th;
	for (unsigned dn = 8; dn > 1; dn /= 2)
		if ((lng + dn - 1) / dn >= tl) {
			denom = dn;
			break;
		}
	d->c.scale_num = 1;
	d->c.scale_denom = denom;
	d->c.out_color_space = JCS_RGB;
	d->c.dct_method = JDCT_IFAST;
	d->c.do_fancy_upsampling = FALSE;
	jpeg_start_decompress(&d->c);
	if (d->c.output_components != 3 || thumb_init(&d->b.t, d->c.output_width,
						      d->c.output_height, s) ||
	    !(d->b.px = malloc((size_t)d->c.output_width * 3)))
		return;
	d->b.t.orient = orient;
	while (d->c.output_scanline < d->c.output_height) {
		JSAMPROW r = d->b.px;

		if (jpeg_read_scanlines(&d->c, &r, 1) != 1)
			return;
		thumb_row(&d->b.t, d->b.px, 3);
	}
	dec_finish(&d->b, m);
}

static int image_jpeg(FILE *f, const struct shape *s, uint64_t max_pixels, struct media_meta *m)
{
	struct jdec *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return Y_ENOMEM;
	d->b.rc = Y_EINVAL;
	rewind(f);
	d->c.err = j_err(&d->e);
	if (setjmp(d->e.jb) == 0)
		jdec_work(d, f, s, max_pixels, m);
	jpeg_destroy_decompress(&d->c);
	rc = dec_end(&d->b);
	free(d);
	return rc;
}

#define PNG_MAX_INTERLACED_PIXELS (4u << 20) /* decoded whole: 16 MiB RGBA */

struct pdec {
	png_structp p;
	png_infop i;
	struct dec b;
	png_bytep *rows;
};

static void p_err(png_structp p, png_const_charp msg)
{
	(void)msg;
	png_longjmp(p, 1);
}

static void p_warn(png_structp p, png_const_charp msg)
{
	(void)p, (void)msg;
}

static void pdec_work(struct pdec *d, FILE *f, const struct shape *s, uint64_t max_pixels,
		      struct media_meta *m)
{
	png_uint_32 w, h;
	int depth, color, inter, passes;
	size_t rb;

	png_init_io(d->p, f);
	png_read_info(d->p, d->i);
	png_get_IHDR(d->p, d->i, &w, &h, &depth, &color, &inter, NULL, NULL);
	if (!w || !h || (uint64_t)w * h > max_pixels)
		return;
	m->width = w, m->height = h;
	d->b.rc = Y_OK;
	if (!s)
		return;
	png_set_strip_16(d->p);
	if (color == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(d->p);
	if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(d->p);
	if (png_get_valid(d->p, d->i, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(d->p);
	else if (!(color & PNG_COLOR_MASK_ALPHA))
		png_set_add_alpha(d->p, 0xff, PNG_FILLER_AFTER);
	if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(d->p);
	passes = png_set_interlace_handling(d->p);
	png_read_update_info(d->p, d->i);
	rb = png_get_rowbytes(d->p, d->i);
	if (rb != (size_t)w * 4 || (passes > 1 && (uint64_t)w * h > PNG_MAX_INTERLACED_PIXELS))
		return; /* dimensions only */
	if (thumb_init(&d->b.t, w, h, s))
		return;
	if (passes > 1) { /* interlaced: all rows at once */
		if (!(d->b.px = malloc(rb * h)) || !(d->rows = malloc(sizeof(*d->rows) * h)))
			return;
		for (png_uint_32 y = 0; y < h; y++)
			d->rows[y] = d->b.px + rb * y;
		png_read_image(d->p, d->rows);
		for (png_uint_32 y = 0; y < h; y++)
			thumb_row(&d->b.t, d->rows[y], 4);
	} else {
		if (!(d->b.px = malloc(rb)))
			return;
		for (png_uint_32 y = 0; y < h; y++) {
			png_read_row(d->p, d->b.px, NULL);
			thumb_row(&d->b.t, d->b.px, 4);
		}
	}
	dec_finish(&d->b, m);
}

static int image_png(FILE *f, const struct shape *s, uint64_t max_pixels, struct media_meta *m)
{
	struct pdec *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return Y_ENOMEM;
	d->b.rc = Y_EINVAL;
	rewind(f);
	d->p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, p_err, p_warn);
	d->i = d->p ? png_create_info_struct(d->p) : NULL;
	if (d->i && setjmp(png_jmpbuf(d->p)) == 0)
		pdec_work(d, f, s, max_pixels, m);
	png_destroy_read_struct(d->p ? &d->p : NULL, d->i ? &d->i : NULL, NULL);
	free(d->rows);
	rc = dec_end(&d->b);
	free(d);
	return rc;
}

#define WEBP_MAX_BYTES (32u << 20)

static int image_webp(FILE *f, const struct shape *s, uint64_t max_pixels, struct media_meta *m)
{
	int64_t size = file_size(f);
	WebPBitstreamFeatures ft;
	WebPDecoderConfig cfg;
	struct thumb t;
	uint32_t tw, th, c;
	uint8_t *buf;
	size_t n;
	int rc = Y_EINVAL;

	if (size < 12)
		return Y_EINVAL;
	n = (size_t)(size < 4096 ? size : 4096);
	if (!(buf = malloc(n)))
		return Y_ENOMEM;
	if (!read_at(f, 0, buf, n) || WebPGetFeatures(buf, n, &ft) != VP8_STATUS_OK ||
	    ft.width <= 0 || ft.height <= 0 || (uint64_t)ft.width * (uint64_t)ft.height > max_pixels)
		goto out;
	m->width = (uint32_t)ft.width, m->height = (uint32_t)ft.height;
	rc = Y_OK;
	if (!s || ft.has_animation || size > WEBP_MAX_BYTES || !WebPInitDecoderConfig(&cfg))
		goto out;
	if (n != (size_t)size) { /* the whole file, to decode it */
		uint8_t *all = realloc(buf, (size_t)size);

		if (!all) {
			rc = Y_ENOMEM;
			goto out;
		}
		buf = all;
		n = (size_t)size;
		if (!read_at(f, 0, buf, n))
			goto out;
	}
	/* libwebp crops (a square's centre) and scales while decoding: rows of
	 * the thumbnail's size */
	shape_fit(s, m->width, m->height, &tw, &th);
	if (s->square) {
		c = m->width < m->height ? m->width : m->height;
		cfg.options.use_cropping = 1;
		cfg.options.crop_left = (int)((m->width - c) / 2);
		cfg.options.crop_top = (int)((m->height - c) / 2);
		cfg.options.crop_width = cfg.options.crop_height = (int)c;
	}
	cfg.options.use_scaling = 1;
	cfg.options.scaled_width = (int)tw;
	cfg.options.scaled_height = (int)th;
	cfg.output.colorspace = MODE_RGBA;
	if (thumb_init(&t, tw, th, s)) {
		rc = Y_ENOMEM;
		goto out;
	}
	if (WebPDecode(buf, n, &cfg) == VP8_STATUS_OK && cfg.output.width == (int)t.tw &&
	    cfg.output.height == (int)t.th) {
		for (uint32_t y = 0; y < t.th; y++)
			thumb_row(&t, cfg.output.u.RGBA.rgba + (size_t)y * cfg.output.u.RGBA.stride, 4);
		if (thumb_encode(&t, m) == Y_ENOMEM)
			rc = Y_ENOMEM;
	}
	WebPFreeDecBuffer(&cfg.output);
	free(t.acc);
out:
	free(buf);
	return rc;
}

static int image_gif(FILE *f, uint64_t max_pixels, struct media_meta *m)
{
	uint8_t h[10];
	uint32_t w, ht;

	if (!read_at(f, 0, h, sizeof(h)) || memcmp(h, "GIF8", 4))
		return Y_EINVAL;
	w = (uint32_t)h[6] | (uint32_t)h[7] << 8;
	ht = (uint32_t)h[8] | (uint32_t)h[9] << 8;
	if (!w || !ht || (uint64_t)w * ht > max_pixels)
		return Y_EINVAL;
	m->width = w, m->height = ht;
	return Y_OK;
}

/* ---- a video's thumbnail: its first H.264 keyframe ---- */

/* A full box's table of count entries of width bytes after hdr bytes (past
 * version and flags): false when its count does not fit the box. */
struct table {
	uint64_t at, count; /* the first entry's offset */
	unsigned width;
};

static bool table_of(FILE *f, const struct box *b, unsigned hdr, unsigned width, struct table *t)
{
	uint8_t p[4];
	uint64_t len = b->end - b->body;

	/* the count is the u32 just before the entries */
	if (len < 4 + hdr || hdr < 4 || !read_at(f, b->body + hdr, p, 4))
		return false;
	t->count = be32(p);
	t->at = b->body + hdr + 4;
	t->width = width;
	return t->count <= (len - hdr - 4) / width;
}

/* Entry i's u32 (field k of it) or u64 (width 8). */
static bool table_u(FILE *f, const struct table *t, uint64_t i, unsigned k, uint64_t *v)
{
	uint8_t p[8];

	if (i >= t->count)
		return false;
	if (t->width == 8) {
		if (!read_at(f, t->at + i * 8, p, 8))
			return false;
		*v = be64(p);
		return true;
	}
	if (!read_at(f, t->at + i * t->width + k * 4, p, 4))
		return false;
	*v = be32(p);
	return true;
}

/* Where sample n (1-based) of stbl lies: its file offset and size, from
 * stsc (chunk runs), stco/co64 (chunk offsets) and stsz (sizes); false
 * when the tables do not hold it or it is not of the first sample entry. */
static bool sample_at(FILE *f, const struct box *stbl, uint64_t n, uint64_t *off, uint64_t *size)
{
	struct box b;
	struct table sc, co, sz;
	uint64_t base = 1, fixed, chunk = 0, first = 0, sdi = 0, sum = 0, v;
	uint8_t p[8];

	/* stsz: one size for every sample (no entries), or a table */
	if (!find_box(f, stbl->body, stbl->end, FOURCC('s', 't', 's', 'z'), &b) ||
	    b.end - b.body < 12 || !read_at(f, b.body + 4, p, 8))
		return false;
	fixed = be32(p);
	if (n > be32(p + 4) || (!fixed && !table_of(f, &b, 8, 4, &sz)))
		return false;
	if (!find_box(f, stbl->body, stbl->end, FOURCC('s', 't', 'c', 'o'), &b)) {
		if (!find_box(f, stbl->body, stbl->end, FOURCC('c', 'o', '6', '4'), &b) ||
		    !table_of(f, &b, 4, 8, &co))
			return false;
	} else if (!table_of(f, &b, 4, 4, &co)) {
		return false;
	}
	if (!find_box(f, stbl->body, stbl->end, FOURCC('s', 't', 's', 'c'), &b) ||
	    !table_of(f, &b, 4, 12, &sc))
		return false;
	/* the runs of chunks of the same sample count, to sample n's chunk */
	for (uint64_t i = 0, prev = 0; i < sc.count && i < MEDIA_META_MAX_TABLE && !chunk; i++) {
		uint64_t fc, spc, next = co.count + 1, k;

		if (!table_u(f, &sc, i, 0, &fc) || !table_u(f, &sc, i, 1, &spc) ||
		    !table_u(f, &sc, i, 2, &sdi) ||
		    (i + 1 < sc.count && !table_u(f, &sc, i + 1, 0, &next)))
			return false;
		if (fc <= prev || (i == 0 && fc != 1) || next <= fc || next > co.count + 1 || !spc)
			return false;
		prev = fc;
		if (n - base < (next - fc) * spc) {
			k = (n - base) / spc;
			chunk = fc + k;
			first = base + k * spc;
		}
		base += (next - fc) * spc;
	}
	if (!chunk || sdi != 1 || !table_u(f, &co, chunk - 1, 0, off))
		return false;
	/* the samples before it in its chunk */
	if (n - first > MEDIA_META_MAX_TABLE)
		return false;
	if (fixed) {
		sum = (n - first) * fixed;
		*size = fixed;
	} else {
		for (uint64_t s = first; s < n; s++) {
			if (!table_u(f, &sz, s - 1, 0, &v))
				return false;
			sum += v;
		}
		if (!table_u(f, &sz, n - 1, 0, size))
			return false;
	}
	if (*off > UINT64_MAX - sum)
		return false;
	*off += sum;
	return true;
}

/* The first sync sample's number: stss's first entry, or 1 without stss
 * (every sample is one); 0 when none. */
static uint64_t first_sync(FILE *f, const struct box *stbl)
{
	struct box b;
	struct table t;
	uint64_t n;

	if (!find_box(f, stbl->body, stbl->end, FOURCC('s', 't', 's', 's'), &b))
		return 1;
	if (!table_of(f, &b, 4, 4, &t) || !table_u(f, &t, 0, 0, &n))
		return 0;
	return n;
}

/* The avcC of stbl's first sample entry (avc1 or avc3) into a malloc'ed
 * *out; Y_EUNSUPPORTED for another codec (HEVC, ...), Y_EINVAL when
 * damaged. */
static int avcc_of(FILE *f, const struct box *stbl, uint8_t **out, size_t *len)
{
	struct box sd, e, c;
	struct table t;

	if (!find_box(f, stbl->body, stbl->end, FOURCC('s', 't', 's', 'd'), &sd) ||
	    !table_of(f, &sd, 4, 8, &t) || !t.count || !box_at(f, t.at, sd.end, &e))
		return Y_EINVAL;
	if (e.type != FOURCC('a', 'v', 'c', '1') && e.type != FOURCC('a', 'v', 'c', '3'))
		return Y_EUNSUPPORTED;
	/* a visual sample entry: 78 bytes, then its boxes */
	if (e.end - e.body < 78 || !find_box(f, e.body + 78, e.end, FOURCC('a', 'v', 'c', 'C'), &c) ||
	    c.end - c.body > MEDIA_H264_MAX_AVCC || c.end - c.body < 7)
		return Y_EINVAL;
	*len = (size_t)(c.end - c.body);
	if (!(*out = malloc(*len)))
		return Y_ENOMEM;
	if (!read_at(f, c.body, *out, *len)) {
		free(*out);
		*out = NULL;
		return Y_EINVAL;
	}
	return Y_OK;
}

/* BT.601 YCbCr to 0..255: (v + 128) / 256 of a sum in 1/256 units,
 * clamped. */
static uint8_t clamp8(int32_t v)
{
	v += 128;
	return v < 0 ? 0 : v >= 256 * 256 ? 255 : (uint8_t)(v >> 8);
}

static void yuv_rgb(int y, int u, int v, bool full, uint8_t *o)
{
	int32_t c = full ? y * 256 : (y - 16) * 298, d = u - 128, e = v - 128;

	if (full) {
		o[0] = clamp8(c + 359 * e);
		o[1] = clamp8(c - 88 * d - 183 * e);
		o[2] = clamp8(c + 454 * d);
	} else {
		o[0] = clamp8(c + 409 * e);
		o[1] = clamp8(c - 100 * d - 208 * e);
		o[2] = clamp8(c + 516 * d);
	}
}

/* The decoded picture into m->thumb, shown as the track says (aw x ah
 * before turning; 0: the picture's). A large picture is sampled every
 * step-th pixel and row (still 4 samples a thumbnail pixel at least). */
static int pic_thumb(const struct media_h264_pic *pic, uint32_t aw, uint32_t ah, int orient,
		     struct media_meta *m)
{
	uint32_t lng = pic->width > pic->height ? pic->width : pic->height;
	uint32_t step = lng / (MEDIA_META_THUMB_SIDE * 4), sw, sh;
	struct dec b = { .rc = Y_OK };

	if (!step)
		step = 1;
	sw = (pic->width + step - 1) / step, sh = (pic->height + step - 1) / step;
	if (!aw || !ah)
		aw = pic->width, ah = pic->height;
	if ((b.rc = thumb_init_as(&b.t, sw, sh, aw, ah, &thumb_shape)))
		return dec_end(&b);
	if (!(b.px = malloc((size_t)sw * 3))) {
		b.rc = Y_ENOMEM;
		return dec_end(&b);
	}
	b.t.orient = orient;
	for (uint32_t y = 0; y < pic->height; y += step) {
		const uint8_t *py = pic->plane[0] + (size_t)y * (size_t)pic->stride[0];
		const uint8_t *pu = pic->plane[1] + (size_t)(y / 2) * (size_t)pic->stride[1];
		const uint8_t *pv = pic->plane[2] + (size_t)(y / 2) * (size_t)pic->stride[1];

		for (uint32_t x = 0, i = 0; x < pic->width; x += step, i++)
			yuv_rgb(py[x], pu[x / 2], pv[x / 2], pic->full_range, b.px + (size_t)i * 3);
		thumb_row(&b.t, b.px, 3);
	}
	dec_finish(&b, m);
	return dec_end(&b);
}

/* The trak's thumbnail: Y_OK (made), Y_EINVAL (not H.264, damaged, over a
 * cap) or Y_ENOMEM. */
static int trak_thumb(FILE *f, const struct box *trak, const struct trak *k, int64_t fsize,
		      struct media_meta *m)
{
	struct box md, mi, st;
	struct media_h264_pic pic;
	uint8_t *avcc = NULL, *sample = NULL;
	size_t alen = 0;
	uint64_t n, off, size;
	bool turned = k->orient == 6 || k->orient == 8;
	int rc;

	if (!find_box(f, trak->body, trak->end, FOURCC('m', 'd', 'i', 'a'), &md) ||
	    !find_box(f, md.body, md.end, FOURCC('m', 'i', 'n', 'f'), &mi) ||
	    !find_box(f, mi.body, mi.end, FOURCC('s', 't', 'b', 'l'), &st))
		return Y_EINVAL;
	if ((rc = avcc_of(f, &st, &avcc, &alen)))
		return rc;
	rc = Y_EINVAL;
	if (!(n = first_sync(f, &st)) || !sample_at(f, &st, n, &off, &size) || !size ||
	    size > MEDIA_H264_MAX_SAMPLE || off > (uint64_t)fsize || size > (uint64_t)fsize - off)
		goto out;
	rc = Y_ENOMEM;
	if (!(sample = malloc((size_t)size)))
		goto out;
	rc = Y_EINVAL;
	if (!read_at(f, off, sample, (size_t)size))
		goto out;
	if ((rc = media_h264_decode(avcc, alen, sample, (size_t)size, &pic)))
		goto out;
	rc = pic_thumb(&pic, turned ? k->height : k->width, turned ? k->width : k->height, k->orient,
		       m);
	media_h264_pic_release(&pic);
out:
	free(avcc);
	free(sample);
	return rc;
}

int media_meta_video_thumb(FILE *f, struct media_meta *m)
{
	int64_t size = file_size(f);
	struct box moov, b;
	uint64_t off;

	if (m->thumb || size < 8 || !find_box(f, 0, (uint64_t)size, FOURCC('m', 'o', 'o', 'v'), &moov))
		return Y_EINVAL;
	off = moov.body;
	for (int n = 0; n < MEDIA_META_MAX_BOXES && box_at(f, off, moov.end, &b); n++, off = b.end) {
		struct trak k;
		int rc;

		if (b.type != FOURCC('t', 'r', 'a', 'k'))
			continue;
		read_trak(f, &b, &k);
		if (!k.video || (rc = trak_thumb(f, &b, &k, size, m)) == Y_EUNSUPPORTED)
			continue;
		if (rc == Y_OK && !m->thumb)
			rc = Y_EINVAL;
		return rc; /* the first H.264 video track only */
	}
	return Y_EINVAL;
}

int media_meta_image(FILE *f, const char *sniffed, bool want_thumb, uint64_t max_pixels,
		     struct media_meta *m)
{
	if (!sniffed)
		return Y_EINVAL;
	if (!max_pixels)
		max_pixels = MEDIA_META_MAX_PIXELS;
	if (!strcmp(sniffed, "image/jpeg"))
		return image_jpeg(f, want_thumb ? &thumb_shape : NULL, max_pixels, m);
	if (!strcmp(sniffed, "image/png"))
		return image_png(f, want_thumb ? &thumb_shape : NULL, max_pixels, m);
	if (!strcmp(sniffed, "image/webp"))
		return image_webp(f, want_thumb ? &thumb_shape : NULL, max_pixels, m);
	if (!strcmp(sniffed, "image/gif"))
		return image_gif(f, max_pixels, m);
	return Y_EINVAL;
}

int media_meta_square(FILE *f, const char *sniffed, uint32_t side, int quality,
		      uint64_t max_pixels, struct media_meta *m)
{
	const struct shape s = { side, true, quality };
	int rc = Y_EINVAL;

	memset(m, 0, sizeof(*m));
	if (!sniffed || !side || quality < 1 || quality > 100)
		return Y_EINVAL;
	if (!max_pixels)
		max_pixels = MEDIA_META_MAX_PIXELS;
	if (!strcmp(sniffed, "image/jpeg"))
		rc = image_jpeg(f, &s, max_pixels, m);
	else if (!strcmp(sniffed, "image/png"))
		rc = image_png(f, &s, max_pixels, m);
	else if (!strcmp(sniffed, "image/webp"))
		rc = image_webp(f, &s, max_pixels, m);
	if (!rc && !m->thumb)
		rc = Y_EINVAL; /* dimensions read, pixels not (damaged, animated) */
	if (rc)
		media_meta_release(m);
	return rc;
}

int media_meta_probe(FILE *f, enum wa_media_type t, const char *sniffed, bool ptt,
		     uint64_t max_pixels, struct media_meta *m)
{
	int rc = Y_EINVAL;

	memset(m, 0, sizeof(*m));
	switch (t) {
	case WA_MEDIA_IMAGE:
		rc = media_meta_image(f, sniffed, true, max_pixels, m);
		break;
	case WA_MEDIA_STICKER:
		rc = media_meta_image(f, sniffed, false, max_pixels, m);
		break;
	case WA_MEDIA_VIDEO:
		rc = media_meta_mp4(f, true, m);
		if (rc != Y_ENOMEM && media_meta_video_thumb(f, m) == Y_ENOMEM)
			rc = Y_ENOMEM;
		break;
	case WA_MEDIA_AUDIO:
		if (sniffed && !strcmp(sniffed, "audio/ogg")) {
			rc = media_meta_ogg(f, m);
			if (ptt && rc != Y_ENOMEM)
				rc = media_meta_waveform(f, m);
		} else if (sniffed && !strcmp(sniffed, "audio/mpeg")) {
			rc = media_meta_mp3(f, m);
		} else {
			rc = media_meta_mp4(f, false, m);
		}
		break;
	default:
		break;
	}
	return rc == Y_ENOMEM ? Y_ENOMEM : Y_OK;
}
