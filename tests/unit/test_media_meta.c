/* src/service/media_meta.c on real files made in memory
 * (tests/tools/mkmedia.h: libjpeg, libpng, libwebp, libopus, hand-built MP4
 * boxes and Ogg pages): dimensions, the thumbnail's size and colours, scaled
 * JPEG decoding, the pixel cap against headers that claim huge images, MP4
 * durations and dimensions in every layout, a video's thumbnail from a real
 * H.264 keyframe (tests/tools/mkvideo.h: openh264's encoder) in every
 * sample-table layout, Ogg Opus durations and the waveform's shape, damaged
 * and truncated files. */
#include "../tools/mkvideo.h"
#include "service/media_meta.h"
#include "service/media_send.h"
#include "test.h"
#include "util/err.h"

#include <zlib.h>

static FILE *mem(const uint8_t *p, size_t n)
{
	return fmemopen((void *)p, n, "rb");
}

/* m's thumbnail decoded: its size and the RGB of pixel (x, y). */
static bool thumb_px(const struct media_meta *m, uint32_t *w, uint32_t *h, uint32_t x, uint32_t y,
		     uint8_t rgb[3])
{
	struct jpeg_decompress_struct c;
	struct jpeg_error_mgr e;
	uint8_t *row;

	if (!m->thumb || m->thumb_len < 4 || m->thumb[0] != 0xff || m->thumb[1] != 0xd8)
		return false;
	c.err = jpeg_std_error(&e);
	jpeg_create_decompress(&c);
	jpeg_mem_src(&c, m->thumb, m->thumb_len);
	jpeg_read_header(&c, TRUE);
	c.out_color_space = JCS_RGB;
	jpeg_start_decompress(&c);
	*w = c.output_width, *h = c.output_height;
	row = malloc((size_t)c.output_width * 3);
	while (c.output_scanline < c.output_height) {
		uint32_t at = c.output_scanline;

		jpeg_read_scanlines(&c, &row, 1);
		if (at == y && x < *w)
			memcpy(rgb, row + x * 3, 3);
	}
	jpeg_finish_decompress(&c);
	jpeg_destroy_decompress(&c);
	free(row);
	return true;
}

static int probe(const uint8_t *p, size_t n, enum wa_media_type t, bool ptt, uint64_t maxpx,
		 struct media_meta *m)
{
	FILE *f = mem(p, n);
	int rc = media_meta_probe(f, t, media_sniff(p, n), ptt, maxpx, m);

	fclose(f);
	return rc;
}

/* A w x h image of kind fmt: dims, a thumbnail of tw x th whose left is
 * dark red and right bright red (the gradient, averaged). */
static void check_image(const char *what, uint8_t *p, size_t n, uint32_t w, uint32_t h,
			uint32_t tw, uint32_t th)
{
	struct media_meta m;
	uint32_t gw = 0, gh = 0;
	uint8_t left[3] = { 0 }, right[3] = { 0 };

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, w);
	CHECK_EQ_INT(m.height, h);
	CHECK(thumb_px(&m, &gw, &gh, 0, th / 2, left));
	thumb_px(&m, &gw, &gh, tw - 1, th / 2, right);
	CHECK_EQ_INT(gw, tw);
	CHECK_EQ_INT(gh, th);
	CHECK(left[0] < 60 && right[0] > 195);
	CHECK(m.thumb_len > 100 && m.thumb_len < 4000);
	if (m.thumb_len >= 4000)
		fprintf(stderr, "  %s: thumbnail of %zu bytes\n", what, m.thumb_len);
	media_meta_release(&m);
	/* a sticker: dimensions only */
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_STICKER, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, w);
	CHECK(m.thumb == NULL);
	media_meta_release(&m);
	free(p);
}

TEST(jpeg_dims_and_thumbnail)
{
	size_t n = 0;
	uint8_t *p;

	p = mk_jpeg(640, 480, false, &n);
	check_image("jpeg 640x480", p, n, 640, 480, 64, 48);
	p = mk_jpeg(300, 1200, false, &n);
	check_image("jpeg tall", p, n, 300, 1200, 16, 64);
	p = mk_jpeg(40, 20, false, &n);
	check_image("jpeg small", p, n, 40, 20, 40, 20);
	p = mk_jpeg(1000, 500, true, &n);
	check_image("jpeg progressive", p, n, 1000, 500, 64, 32);
	/* 12 MP: decoded at 1/8 */
	p = mk_jpeg(4000, 3000, false, &n);
	check_image("jpeg 12 MP", p, n, 4000, 3000, 64, 48);
}

/* A photo stored 640 x 480 and shown turned (EXIF): the dimensions and the
 * thumbnail as shown. */
TEST(jpeg_exif_orientation)
{
	struct media_meta m;
	size_t n = 0;
	uint32_t w = 0, h = 0;
	uint8_t top[3] = { 0 }, bottom[3] = { 0 }, left[3] = { 0 }, right[3] = { 0 };
	uint8_t *p = mk_jpeg_o(640, 480, false, 6, &n);

	CHECK_EQ_INT(probe(p, n, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 480);
	CHECK_EQ_INT(m.height, 640);
	/* turned 90 degrees clockwise: the stored bottom (green) is on the left,
	 * the stored left (no red) on top */
	CHECK(thumb_px(&m, &w, &h, 24, 0, top));
	thumb_px(&m, &w, &h, 24, 63, bottom);
	thumb_px(&m, &w, &h, 0, 32, left);
	thumb_px(&m, &w, &h, 47, 32, right);
	CHECK_EQ_INT(w, 48);
	CHECK_EQ_INT(h, 64);
	CHECK(top[0] < 60 && bottom[0] > 195);
	CHECK(left[1] > 195 && right[1] < 60);
	media_meta_release(&m);
	free(p);
	/* 3: upside down, same size; the stored right (red) is on the left */
	p = mk_jpeg_o(640, 480, false, 3, &n);
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 640);
	CHECK(thumb_px(&m, &w, &h, 0, 24, left));
	CHECK_EQ_INT(w, 64);
	CHECK(left[0] > 195);
	media_meta_release(&m);
	free(p);
	/* a damaged Exif: as stored */
	p = mk_jpeg_o(640, 480, false, 6, &n);
	for (size_t i = 0; i + 4 < n; i++)
		if (!memcmp(p + i, "MM\0*", 4)) {
			p[i + 7] = 0xf0; /* IFD0 past the end */
			break;
		}
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 640);
	media_meta_release(&m);
	free(p);
}

TEST(png_and_webp_dims_and_thumbnail)
{
	size_t n = 0;
	struct media_meta m;
	uint8_t *p;
	uint32_t w, h;
	uint8_t px[3] = { 0 };

	p = mk_png(500, 250, 255, false, &n);
	check_image("png rgb", p, n, 500, 250, 64, 32);
	p = mk_png(300, 200, 255, true, &n);
	check_image("png interlaced", p, n, 300, 200, 64, 43);
	p = mk_webp(300, 200, &n);
	check_image("webp", p, n, 300, 200, 64, 43);
	/* fully transparent: put over white */
	p = mk_png(100, 100, 0, false, &n);
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK(thumb_px(&m, &w, &h, 10, 10, px));
	CHECK(px[0] > 245 && px[1] > 245 && px[2] > 245);
	media_meta_release(&m);
	free(p);
	/* interlaced above 4 MP: not decoded whole, dimensions only */
	p = mk_png(2100, 2100, 255, true, &n);
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 2100);
	CHECK(m.thumb == NULL);
	media_meta_release(&m);
	free(p);
}

static void put32(uint8_t *p, uint32_t v)
{
	mk_be32(p, v);
}

static size_t be32_at(const uint8_t *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

TEST(pixel_cap_refuses_bombs)
{
	/* a PNG whose header claims 100000 x 100000 (its IHDR CRC right) */
	uint8_t png[8 + 25 + 12] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	struct media_meta m;
	uint8_t *p;
	size_t n = 0;

	put32(png + 8, 13);
	memcpy(png + 12, "IHDR", 4);
	put32(png + 16, 100000);
	put32(png + 20, 100000);
	png[24] = 8, png[25] = 2;
	put32(png + 29, (uint32_t)crc32(0, png + 12, 17));
	put32(png + 33, 0);
	memcpy(png + 37, "IEND", 4);
	put32(png + 41, (uint32_t)crc32(0, png + 37, 4));
	CHECK_EQ_INT(probe(png, sizeof(png), WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 0);
	CHECK(m.thumb == NULL);
	media_meta_release(&m);
	/* a JPEG whose SOF claims 60000 x 60000 */
	p = mk_jpeg(16, 16, false, &n);
	for (size_t i = 2; i + 9 < n; i++)
		if (p[i] == 0xff && p[i + 1] == 0xc0) {
			p[i + 5] = 0xea, p[i + 6] = 0x60, p[i + 7] = 0xea, p[i + 8] = 0x60;
			break;
		}
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 0);
	CHECK(m.thumb == NULL);
	media_meta_release(&m);
	free(p);
	/* the cap is the caller's: 640 x 480 over 1000 pixels */
	p = mk_jpeg(640, 480, false, &n);
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_IMAGE, false, 1000, &m), Y_OK);
	CHECK_EQ_INT(m.width, 0);
	CHECK(m.thumb == NULL);
	media_meta_release(&m);
	free(p);
}

TEST(damaged_images_give_nothing)
{
	struct media_meta m;
	uint8_t *p;
	size_t n = 0;
	uint8_t junk[4000];
	static const uint8_t gif[] = { 'G', 'I', 'F', '8', '9', 'a', 0x40, 0x01, 0xf0, 0x00, 0, 0 };

	srand(7);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	memcpy(junk, "\x89PNG\r\n\x1a\n", 8);
	CHECK_EQ_INT(probe(junk, sizeof(junk), WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 0);
	CHECK(m.thumb == NULL);
	memcpy(junk, "\xff\xd8\xff\xe0", 4);
	CHECK_EQ_INT(probe(junk, sizeof(junk), WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 0);
	CHECK(m.thumb == NULL);
	/* a JPEG cut in half: the header's dimensions, a thumbnail of what is there or none */
	p = mk_jpeg(640, 480, false, &n);
	CHECK_EQ_INT(probe(p, n / 2, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 640);
	media_meta_release(&m);
	free(p);
	/* a WebP cut after its header: dimensions, no thumbnail */
	p = mk_webp(300, 200, &n);
	CHECK_EQ_INT(probe(p, 40, WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 300);
	CHECK(m.thumb == NULL);
	media_meta_release(&m);
	free(p);
	/* GIF: the logical screen */
	CHECK_EQ_INT(probe(gif, sizeof(gif), WA_MEDIA_IMAGE, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, 320);
	CHECK_EQ_INT(m.height, 240);
}

static int square(const uint8_t *p, size_t n, uint32_t side, uint64_t maxpx, struct media_meta *m)
{
	FILE *f = mem(p, n);
	int rc = media_meta_square(f, media_sniff(p, n), side, 50, maxpx, m);

	fclose(f);
	return rc;
}

/* A w x h gradient (red rises left to right, green top to bottom) made a
 * profile picture of side: a side x side JPEG of its centre square, so its
 * edges show the colours of the square's edges (lo..hi of 255), not the
 * image's. */
static void check_square(const char *what, uint8_t *p, size_t n, uint32_t side, uint32_t out,
			 int dir, int ch, int lo, int hi)
{
	struct media_meta m;
	uint32_t w = 0, h = 0;
	uint8_t a[3] = { 0 }, b[3] = { 0 };

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(square(p, n, side, 0, &m), Y_OK);
	/* channel ch of the first and last column (dir 0) or row (dir 1),
	 * mid-way across */
	CHECK(thumb_px(&m, &w, &h, dir ? out / 2 : 0, dir ? 0 : out / 2, a));
	thumb_px(&m, &w, &h, dir ? out / 2 : out - 1, dir ? out - 1 : out / 2, b);
	CHECK_EQ_INT(w, out);
	CHECK_EQ_INT(h, out);
	if (abs(a[ch] - lo) > 12 || abs(b[ch] - hi) > 12) {
		fprintf(stderr, "  %s: edges %d..%d, want %d..%d\n", what, a[ch], b[ch], lo, hi);
		CHECK(0);
	}
	media_meta_release(&m);
	free(p);
}

TEST(square_pictures)
{
	struct media_meta m;
	size_t n = 0;
	uint8_t *p;

	/* wide: columns 400..1199 of 1600 kept, scaled to 640 */
	p = mk_jpeg(1600, 800, false, &n);
	check_square("jpeg wide", p, n, 640, 640, 0, 0, 64, 191);
	/* the same, the 96 px preview (decoded at 1/8) */
	p = mk_jpeg(1600, 800, false, &n);
	check_square("jpeg preview", p, n, 96, 96, 0, 0, 64, 191);
	/* 12 MP, decoded at 1/4: columns 500..3499 of 4000 */
	p = mk_jpeg(4000, 3000, false, &n);
	check_square("jpeg 12 MP", p, n, 640, 640, 0, 0, 32, 223);
	/* tall PNG, smaller than 640: not scaled up; rows 300..899 kept */
	p = mk_png(600, 1200, 255, false, &n);
	check_square("png tall", p, n, 640, 600, 1, 1, 64, 191);
	p = mk_png(900, 300, 255, true, &n);
	check_square("png interlaced", p, n, 640, 300, 0, 0, 85, 170);
	/* WebP: libwebp crops and scales */
	p = mk_webp(900, 300, &n);
	check_square("webp", p, n, 200, 200, 0, 0, 85, 170);
	/* a photo stored 800 x 600 and shown turned (EXIF 6): the stored
	 * columns 100..699 kept, shown top to bottom */
	p = mk_jpeg_o(800, 600, false, 6, &n);
	check_square("jpeg turned", p, n, 640, 600, 1, 0, 32, 223);
	/* refused: over the pixel cap, GIF, junk, bad arguments; *m empty */
	p = mk_jpeg(640, 480, false, &n);
	CHECK_EQ_INT(square(p, n, 640, 1000, &m), Y_EINVAL);
	CHECK(m.thumb == NULL);
	CHECK_EQ_INT(square(p, 100, 640, 0, &m), Y_EINVAL);
	CHECK(m.thumb == NULL);
	CHECK_EQ_INT(square(p, n, 0, 0, &m), Y_EINVAL);
	free(p);
	{
		static const uint8_t gif[] = { 'G', 'I', 'F', '8', '9', 'a', 0x40, 0x01, 0xf0, 0x00, 0, 0 };

		CHECK_EQ_INT(square(gif, sizeof(gif), 640, 0, &m), Y_EINVAL);
		CHECK(m.thumb == NULL);
	}
}

static void check_mp4(int ver, bool moov_last, bool rot, bool mvhd, uint32_t w, uint32_t h,
		      uint32_t secs)
{
	struct media_meta m;
	size_t n = 0;
	uint8_t *p = mk_mp4(w, h, 12.6, ver, moov_last, rot, mvhd, 3000, &n);

	CHECK_EQ_INT(probe(p, n, WA_MEDIA_VIDEO, false, 0, &m), Y_OK);
	CHECK(m.has_seconds);
	CHECK_EQ_INT(m.seconds, secs);
	CHECK_EQ_INT(m.width, rot ? h : w);
	CHECK_EQ_INT(m.height, rot ? w : h);
	/* as audio: the duration, no dimensions */
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_AUDIO, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.seconds, secs);
	CHECK_EQ_INT(m.width, 0);
	/* every truncation: never more than the whole file says */
	for (size_t cut = 0; cut < n; cut += 7) {
		FILE *f = mem(p, cut);

		memset(&m, 0, sizeof(m));
		if (media_meta_mp4(f, true, &m) == Y_OK)
			CHECK(m.seconds == secs || m.width == (rot ? h : w));
		fclose(f);
	}
	free(p);
}

TEST(mp4_duration_and_dimensions)
{
	check_mp4(0, false, false, true, 1280, 720, 13);
	check_mp4(1, false, false, true, 1280, 720, 13);
	check_mp4(0, true, false, true, 640, 360, 13);
	check_mp4(1, true, true, true, 1920, 1080, 13);
	check_mp4(0, false, false, false, 320, 240, 13); /* the tracks' durations */
}

TEST(mp4_box_layouts)
{
	struct media_meta m;
	size_t n = 0;
	uint8_t *p = mk_mp4(640, 480, 3, 0, true, false, true, 100, &n), *q;
	FILE *f;

	/* mdat with a 64-bit size, moov to the end with size 0 */
	q = malloc(n + 8);
	{
		size_t ftyp = be32_at(p), mdat = be32_at(p + ftyp), moov = n - ftyp - mdat;

		memcpy(q, p, ftyp);
		put32(q + ftyp, 1);
		memcpy(q + ftyp + 4, "mdat", 4);
		mk_be64(q + ftyp + 8, mdat + 8);
		memcpy(q + ftyp + 16, p + ftyp + 8, mdat - 8);
		memcpy(q + ftyp + mdat + 8, p + ftyp + mdat, moov);
		put32(q + ftyp + mdat + 8, 0);
	}
	f = mem(q, n + 8);
	memset(&m, 0, sizeof(m));
	CHECK_EQ_INT(media_meta_mp4(f, true, &m), Y_OK);
	CHECK_EQ_INT(m.seconds, 3);
	CHECK_EQ_INT(m.width, 640);
	fclose(f);
	/* a box larger than the file: nothing past it */
	put32(q + be32_at(p), 1);
	mk_be64(q + be32_at(p) + 8, 1ULL << 62);
	f = mem(q, n + 8);
	memset(&m, 0, sizeof(m));
	CHECK_EQ_INT(media_meta_mp4(f, true, &m), Y_EINVAL);
	CHECK(!m.has_seconds && !m.width);
	fclose(f);
	/* not an MP4 */
	f = mem((const uint8_t *)"%PDF-1.7 and more bytes", 23);
	CHECK_EQ_INT(media_meta_mp4(f, true, &m), Y_EINVAL);
	fclose(f);
	free(q);
	free(p);
}

/* A video's thumbnail: its size and whether its left and right (or top and
 * bottom: turned) are red and blue; reddish: R high, B low. */
static bool reddish(const uint8_t *c)
{
	return c[0] > 150 && c[2] < 110;
}

static bool bluish(const uint8_t *c)
{
	return c[2] > 150 && c[0] < 110;
}

/* v's MP4: dimensions as shown, a thumbnail of tw x th whose first (left,
 * or top when vertical) half is red and second blue, or the other way
 * round when swapped. */
static void check_video(const char *what, const struct mk_video *v, uint32_t w, uint32_t h,
			uint32_t tw, uint32_t th, bool vertical, bool swapped)
{
	struct media_meta m;
	size_t n = 0;
	uint8_t *p = mk_h264_mp4(v, &n);
	uint8_t a[3] = { 0 }, b[3] = { 0 };
	uint32_t gw = 0, gh = 0;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_VIDEO, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, w);
	CHECK_EQ_INT(m.height, h);
	CHECK(m.thumb != NULL);
	if (!m.thumb)
		fprintf(stderr, "  %s: no thumbnail\n", what);
	if (vertical) {
		thumb_px(&m, &gw, &gh, tw / 2, 1, a);
		thumb_px(&m, &gw, &gh, tw / 2, th - 2, b);
	} else {
		thumb_px(&m, &gw, &gh, 1, th / 2, a);
		thumb_px(&m, &gw, &gh, tw - 2, th / 2, b);
	}
	CHECK_EQ_INT(gw, tw);
	CHECK_EQ_INT(gh, th);
	if (!(swapped ? bluish(a) && reddish(b) : reddish(a) && bluish(b))) {
		fprintf(stderr, "  %s: %u,%u,%u then %u,%u,%u\n", what, a[0], a[1], a[2], b[0], b[1],
			b[2]);
		CHECK(!"colours as encoded");
	}
	CHECK(m.thumb_len > 100 && m.thumb_len < 4000);
	media_meta_release(&m);
	free(p);
}

TEST(video_thumbnail)
{
	struct mk_video v = { .w = 320, .h = 240 };

	check_video("320x240", &v, 320, 240, 64, 48, false, false);
	/* not a multiple of 16 (the SPS crops), the keyframe second after a
	 * junk sample in the same chunk (its offset: the junk's size added) */
	v = (struct mk_video){ .w = 352, .h = 200, .junk_first = true, .one_chunk = true };
	check_video("352x200 second sample, one chunk", &v, 352, 200, 64, 36, false, false);
	/* ... in a chunk of its own, 64-bit offsets, moov first, 2-byte lengths */
	v = (struct mk_video){ .w = 200, .h = 352, .junk_first = true, .co64 = true,
			       .moov_first = true, .nal_len = 2 };
	check_video("200x352 co64 moov first", &v, 200, 352, 36, 64, false, false);
	/* 1-byte NAL lengths (a small picture), no stss: sample 1 */
	v = (struct mk_video){ .w = 48, .h = 32, .nal_len = 1, .no_stss = true };
	check_video("48x32 1-byte lengths, no stss", &v, 48, 32, 48, 32, false, false);
	/* CABAC, high profile */
	v = (struct mk_video){ .w = 640, .h = 360, .cabac = true };
	check_video("640x360 cabac", &v, 640, 360, 64, 36, false, false);
	/* turned by the track's matrix: shown (and thumbnailed) turned */
	v = (struct mk_video){ .w = 320, .h = 240, .rot = 90 };
	check_video("turned 90", &v, 240, 320, 48, 64, true, false);
	v.rot = 270;
	check_video("turned 270", &v, 240, 320, 48, 64, true, true);
	v.rot = 180;
	check_video("turned 180", &v, 320, 240, 64, 48, false, true);
	/* shown at the track's size (anamorphic: 2:1 from a 4:3 picture) */
	v = (struct mk_video){ .w = 320, .h = 240, .disp_w = 640, .disp_h = 320 };
	check_video("shown 2:1", &v, 640, 320, 64, 32, false, false);
	/* shown at twice its decoded size: the thumbnail is no larger than the
	 * picture (more cells than pixels would leave some white) */
	v = (struct mk_video){ .w = 48, .h = 32, .disp_w = 96, .disp_h = 64 };
	check_video("48x32 shown 96x64", &v, 96, 64, 48, 32, false, false);
}

/* A video made of v, changed by fn, gives dimensions but no thumbnail. */
static void check_no_thumb(const char *what, const struct mk_video *v,
			   void (*fn)(uint8_t *p, size_t *n))
{
	struct media_meta m;
	size_t n = 0;
	uint8_t *p = mk_h264_mp4(v, &n);

	CHECK(p != NULL);
	if (!p)
		return;
	if (fn) { /* whole, it has one */
		CHECK_EQ_INT(probe(p, n, WA_MEDIA_VIDEO, false, 0, &m), Y_OK);
		CHECK(m.thumb != NULL);
		media_meta_release(&m);
		fn(p, &n);
	}
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_VIDEO, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.width, v->w);
	CHECK(m.thumb == NULL);
	if (m.thumb)
		fprintf(stderr, "  %s: a thumbnail\n", what);
	media_meta_release(&m);
	free(p);
}

/* The first occurrence of the 4 bytes s in p[0..n), or NULL. */
static uint8_t *find4(uint8_t *p, size_t n, const char *s)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (!memcmp(p + i, s, 4))
			return p + i;
	return NULL;
}

static void sample_size_huge(uint8_t *p, size_t *n)
{
	uint8_t *z = find4(p, *n, "stsz");

	put32(z + 4 + 12, 5u << 20); /* the first entry: 5 MiB (over the cap) */
}

static void sample_size_past_end(uint8_t *p, size_t *n)
{
	uint8_t *z = find4(p, *n, "stsz");

	put32(z + 4 + 12, (uint32_t)*n);
}

static void stss_zero(uint8_t *p, size_t *n)
{
	put32(find4(p, *n, "stss") + 4 + 8, 0); /* sample 0 does not exist */
}

static void stss_beyond(uint8_t *p, size_t *n)
{
	put32(find4(p, *n, "stss") + 4 + 8, 3); /* of 2 samples */
}

static void stsc_chunk_beyond(uint8_t *p, size_t *n)
{
	put32(find4(p, *n, "stsc") + 4 + 8, 2); /* first chunk 2 of 1 */
}

static void stsc_second_entry(uint8_t *p, size_t *n)
{
	put32(find4(p, *n, "stsc") + 4 + 16, 2); /* sample description 2 */
}

static void avcc_gone(uint8_t *p, size_t *n)
{
	memcpy(find4(p, *n, "avcC"), "xxxx", 4);
}

static void avcc_sps_long(uint8_t *p, size_t *n)
{
	uint8_t *c = find4(p, *n, "avcC") + 4;

	c[6] = 0x7f; /* the SPS's length past the box */
}

static void sample_flipped(uint8_t *p, size_t *n)
{
	/* the IDR's first NAL length (after the 300 junk bytes) says more */
	uint8_t *d = find4(p, *n, "mdat") + 4 + 300;

	put32(d, 0x00100000);
}

TEST(video_thumbnail_refused)
{
	struct mk_video v = { .w = 320, .h = 240, .junk_first = true, .one_chunk = true };

	check_no_thumb("hvc1", &(struct mk_video){ .w = 320, .h = 240, .fourcc = "hvc1" }, NULL);
	/* without stss the first sample (junk) is the keyframe: nothing */
	check_no_thumb("junk first, no stss",
		       &(struct mk_video){ .w = 320, .h = 240, .junk_first = true, .no_stss = true },
		       NULL);
	check_no_thumb("sample over the cap", &v, sample_size_huge);
	check_no_thumb("sample past the end", &v, sample_size_past_end);
	check_no_thumb("stss sample 0", &v, stss_zero);
	check_no_thumb("stss beyond", &v, stss_beyond);
	check_no_thumb("stsc chunk beyond", &v, stsc_chunk_beyond);
	check_no_thumb("another sample entry", &v, stsc_second_entry);
	check_no_thumb("no avcC", &v, avcc_gone);
	check_no_thumb("avcC SPS too long", &v, avcc_sps_long);
	check_no_thumb("NAL length past the sample", &v, sample_flipped);
}

/* Cut anywhere, or with bytes overwritten: never a crash; a thumbnail only
 * from the whole file (moov first: a cut loses the sample). */
TEST(video_thumbnail_truncated_and_damaged)
{
	struct mk_video v = { .w = 160, .h = 96, .moov_first = true, .junk_first = true };
	struct media_meta m;
	size_t n = 0;
	uint8_t *p = mk_h264_mp4(&v, &n), *q;
	unsigned thumbs = 0;

	CHECK(p != NULL);
	if (!p)
		return;
	for (size_t cut = 0; cut < n; cut++) {
		CHECK_EQ_INT(probe(p, cut, WA_MEDIA_VIDEO, false, 0, &m), Y_OK);
		thumbs += m.thumb != NULL;
		media_meta_release(&m);
	}
	CHECK_EQ_INT(thumbs, 0);
	q = malloc(n);
	for (size_t i = 0; q && i < n; i++) {
		memcpy(q, p, n);
		q[i] ^= (uint8_t)(0x5a + i);
		CHECK_EQ_INT(probe(q, n, WA_MEDIA_VIDEO, false, 0, &m), Y_OK);
		CHECK(!m.width == !m.height);
		CHECK(!m.thumb || (m.thumb_len > 4 && m.thumb[0] == 0xff && m.thumb[1] == 0xd8));
		media_meta_release(&m);
	}
	free(q);
	free(p);
}

TEST(ogg_opus_duration_and_waveform)
{
	struct media_meta m;
	size_t n = 0;
	uint8_t *p = mk_opus(150, &n); /* 3 s */
	FILE *f;

	CHECK(p != NULL);
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_AUDIO, true, 0, &m), Y_OK);
	CHECK(m.has_seconds);
	CHECK_EQ_INT(m.seconds, 3);
	CHECK(m.has_waveform);
	{
		int top = 0;

		for (int i = 0; i < MEDIA_META_WAVE_LEN; i++) {
			CHECK(m.waveform[i] <= 100);
			if (m.waveform[i] > top)
				top = m.waveform[i];
		}
		CHECK_EQ_INT(top, 100);
		/* the tone gets louder: so does the waveform */
		CHECK(m.waveform[4] < 30);
		CHECK(m.waveform[4] < m.waveform[20] && m.waveform[20] < m.waveform[40] &&
		      m.waveform[40] < m.waveform[60]);
		CHECK(m.waveform[62] > 85);
	}
	/* not a voice note: the duration only */
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_AUDIO, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.seconds, 3);
	CHECK(!m.has_waveform);
	/* cut: the last whole page's granule */
	f = mem(p, n / 2);
	memset(&m, 0, sizeof(m));
	CHECK_EQ_INT(media_meta_ogg(f, &m), Y_OK);
	CHECK(m.seconds >= 1 && m.seconds <= 2);
	fclose(f);
	/* an Ogg stream that is not Opus */
	memcpy(p + 28, "Vorbis", 6);
	f = mem(p, n);
	memset(&m, 0, sizeof(m));
	CHECK_EQ_INT(media_meta_ogg(f, &m), Y_EINVAL);
	CHECK(!m.has_seconds);
	fclose(f);
	free(p);
	/* a long one: 40 s */
	p = mk_opus(2000, &n);
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_AUDIO, true, 0, &m), Y_OK);
	CHECK_EQ_INT(m.seconds, 40);
	CHECK(m.has_waveform && m.waveform[63] > 85);
	free(p);
}

/* media_meta_mp3 on p..n: its seconds, or -1 (Y_EINVAL, nothing set). */
static int mp3_secs(const uint8_t *p, size_t n)
{
	struct media_meta m;
	FILE *f = mem(p, n);
	int rc;

	memset(&m, 0, sizeof(m));
	rc = media_meta_mp3(f, &m);
	fclose(f);
	if (rc != Y_OK || !m.has_seconds)
		return rc == Y_EINVAL && !m.has_seconds ? -1 : -2;
	return (int)m.seconds;
}

TEST(mp3_duration)
{
	struct media_meta m;
	size_t n = 0, n2 = 0;
	/* constant 128 kbps, 417 frames of 24 ms: 10.008 s */
	uint8_t *p = mk_mp3(417, 9, 9, 0, false, &n), *q;

	CHECK(p != NULL);
	CHECK_EQ_STR(media_sniff(p, n), "audio/mpeg");
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_AUDIO, false, 0, &m), Y_OK);
	CHECK(m.has_seconds);
	CHECK_EQ_INT(m.seconds, 10);
	free(p);
	/* behind an ID3v2 tag and before an ID3v1 one: the same */
	p = mk_mp3(417, 9, 9, 0, true, &n);
	CHECK_EQ_STR(media_sniff(p, n), "audio/mpeg");
	CHECK_EQ_INT(probe(p, n, WA_MEDIA_AUDIO, false, 0, &m), Y_OK);
	CHECK_EQ_INT(m.seconds, 10);
	free(p);
	/* variable bitrate: a 320 kbps first frame, then 250 frames at 64 kbps
	 * (6 s). Read at the first frame's bitrate it would be 1 s: the Xing
	 * and VBRI frame counts say 6 */
	p = mk_mp3(251, 14, 5, 0, false, &n);
	CHECK_EQ_INT(mp3_secs(p, n), 1);
	free(p);
	p = mk_mp3(251, 14, 5, 'X', true, &n);
	CHECK_EQ_INT(mp3_secs(p, n), 6);
	/* "Info" (LAME's name for a constant-bitrate Xing header) too */
	memcpy(p + 10 + 1000 + 36, "Info", 4);
	CHECK_EQ_INT(mp3_secs(p, n), 6);
	/* a Xing header without the frames flag: the bitrate then */
	p[10 + 1000 + 43] = 0;
	CHECK_EQ_INT(mp3_secs(p, n), 1);
	free(p);
	p = mk_mp3(251, 14, 5, 'V', false, &n);
	CHECK_EQ_INT(mp3_secs(p, n), 6);
	/* every truncation: nothing or a duration up to the whole one, never a
	 * read past the end (ASan) */
	q = mk_mp3(40, 9, 9, 'X', true, &n2);
	for (size_t k = 0; k <= n2; k++) {
		int s = mp3_secs(q, k);

		CHECK(s == -1 || (s >= 0 && s <= 1));
	}
	/* junk: a lone sync word, a header whose next frame is not one, an
	 * ID3 tag larger than the file, a reserved version, a free bitrate */
	{
		uint8_t junk[2000];

		memset(junk, 0x55, sizeof(junk));
		junk[100] = 0xff, junk[101] = 0xfb, junk[102] = 0x94, junk[103] = 0;
		CHECK_EQ_INT(mp3_secs(junk, sizeof(junk)), -1);
		memcpy(junk, "ID3\x04\x00\x00\x7f\x7f\x7f\x7f", 10);
		CHECK_EQ_INT(mp3_secs(junk, sizeof(junk)), -1);
		CHECK_EQ_INT(mp3_secs(junk, 3), -1);
	}
	memcpy(q, p, 4); /* q's ID3 tag gone: p's first header at 0 */
	q[1] = 0xeb;      /* version bits 01: reserved */
	CHECK_EQ_INT(mp3_secs(q, 400), -1);
	p[2] &= 0x0f;     /* bitrate index 0: free format */
	CHECK_EQ_INT(mp3_secs(p, 960 + 4), -1);
	free(p);
	free(q);
}

int main(void)
{
	RUN(jpeg_dims_and_thumbnail);
	RUN(jpeg_exif_orientation);
	RUN(png_and_webp_dims_and_thumbnail);
	RUN(pixel_cap_refuses_bombs);
	RUN(damaged_images_give_nothing);
	RUN(square_pictures);
	RUN(mp4_duration_and_dimensions);
	RUN(mp4_box_layouts);
	RUN(video_thumbnail);
	RUN(video_thumbnail_refused);
	RUN(video_thumbnail_truncated_and_damaged);
	RUN(ogg_opus_duration_and_waveform);
	RUN(mp3_duration);
	return test_summary();
}
