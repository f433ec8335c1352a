/*
 * Writes a small real media file (tests/tools/mkmedia.h) for the HTTP tests:
 *   wa-mkmedia jpeg|png|webp W H OUT
 *   wa-mkmedia jpeg W H ORIENT OUT      (with an Exif Orientation 2..8)
 *   wa-mkmedia mp4 W H SECONDS OUT     (a video trak W x H and a sound trak)
 *   wa-mkmedia h264 W H ROT OUT        (a real H.264 MP4 of one IDR frame,
 *                                      left half red, right half blue, turned
 *                                      ROT degrees clockwise: tests/tools/mkvideo.h)
 *   wa-mkmedia h264 W H ROT LAYOUT OUT (the same laid out as LAYOUT's letters say:
 *                                      o one chunk, c co64, m moov first, 2 2-byte
 *                                      NAL lengths, n no junk sample and no stss,
 *                                      b CABAC (high profile); - for none)
 *   wa-mkmedia h264noise W H OUT       (the same with luma noise: a large keyframe)
 *   wa-mkmedia jpegpx IN               (decodes the JPEG IN with libjpeg: prints
 *                                      "W H" and a line of its RGB pixels in hex)
 *   wa-mkmedia vthumb IN OUT           (the thumbnail media_meta_probe makes of the
 *                                      video IN, as a JPEG into OUT; exit 1 if none)
 *   wa-mkmedia opus FRAMES OUT         (20 ms frames of a rising tone)
 *   wa-mkmedia mp3 FRAMES FIRST_BI BI TAG OUT  (24 ms silent frames, TAG X, V or -;
 *                                      with ID3v2 and ID3v1 tags)
 */
#include "mkvideo.h"
#include "service/media_meta.h"

/* The JPEG file in decoded (libjpeg: a judge of what we encoded) to stdout. */
static int jpeg_pixels(const char *in)
{
	struct jpeg_decompress_struct c;
	struct jpeg_error_mgr e;
	FILE *f = fopen(in, "rb");
	uint8_t *row;

	if (!f)
		return 1;
	c.err = jpeg_std_error(&e); /* exits on a damaged file */
	jpeg_create_decompress(&c);
	jpeg_stdio_src(&c, f);
	jpeg_read_header(&c, TRUE);
	c.out_color_space = JCS_RGB;
	jpeg_start_decompress(&c);
	printf("%u %u\n", c.output_width, c.output_height);
	row = malloc((size_t)c.output_width * 3);
	while (row && c.output_scanline < c.output_height) {
		jpeg_read_scanlines(&c, &row, 1);
		for (size_t i = 0; i < (size_t)c.output_width * 3; i++)
			printf("%02x", row[i]);
	}
	printf("\n");
	jpeg_finish_decompress(&c);
	jpeg_destroy_decompress(&c);
	free(row);
	fclose(f);
	return 0;
}

/* Our thumbnail of the video in (service/media_meta.c) into out. */
static int video_thumb(const char *in, const char *out)
{
	FILE *f = fopen(in, "rb"), *o;
	struct media_meta m;
	int rc = 1;

	if (!f)
		return 1;
	if (!media_meta_probe(f, WA_MEDIA_VIDEO, "video/mp4", false, 0, &m) && m.thumb &&
	    (o = fopen(out, "wb"))) {
		rc = fwrite(m.thumb, 1, m.thumb_len, o) != m.thumb_len;
		rc |= fclose(o) != 0;
	}
	media_meta_release(&m);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	uint8_t *p = NULL;
	size_t n = 0;
	const char *out = argv[argc - 1];
	FILE *f;

	if (argc == 3 && !strcmp(argv[1], "jpegpx"))
		return jpeg_pixels(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "vthumb"))
		return video_thumb(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "jpeg"))
		p = mk_jpeg((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), false, &n);
	else if (argc == 6 && !strcmp(argv[1], "jpeg"))
		p = mk_jpeg_o((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), false, atoi(argv[4]),
			      &n);
	else if (argc == 5 && !strcmp(argv[1], "png"))
		p = mk_png((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), 255, false, &n);
	else if (argc == 5 && !strcmp(argv[1], "webp"))
		p = mk_webp((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), &n);
	else if (argc == 6 && !strcmp(argv[1], "mp4"))
		p = mk_mp4((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]), atof(argv[4]), 0, true,
			   false, true, 50000, &n);
	else if ((argc == 6 || argc == 7) && !strcmp(argv[1], "h264")) {
		const char *l = argc == 7 ? argv[5] : "";
		struct mk_video v = { .w = (uint32_t)atoi(argv[2]), .h = (uint32_t)atoi(argv[3]),
				      .rot = atoi(argv[4]), .junk_first = !strchr(l, 'n'),
				      .no_stss = strchr(l, 'n') != NULL,
				      .one_chunk = strchr(l, 'o') != NULL,
				      .co64 = strchr(l, 'c') != NULL,
				      .moov_first = strchr(l, 'm') != NULL,
				      .nal_len = strchr(l, '2') ? 2 : 4,
				      .cabac = strchr(l, 'b') != NULL };

		p = mk_h264_mp4(&v, &n);
	} else if (argc == 5 && !strcmp(argv[1], "h264noise")) {
		struct mk_video v = { .w = (uint32_t)atoi(argv[2]), .h = (uint32_t)atoi(argv[3]),
				      .noise = true };

		p = mk_h264_mp4(&v, &n);
	} else if (argc == 4 && !strcmp(argv[1], "opus"))
		p = mk_opus((unsigned)atoi(argv[2]), &n);
	else if (argc == 7 && !strcmp(argv[1], "mp3"))
		p = mk_mp3((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]),
			   argv[5][0] == '-' ? 0 : argv[5][0], true, &n);
	else {
		fprintf(stderr, "usage: wa-mkmedia jpeg|png|webp W H OUT | jpeg W H ORIENT OUT | "
				"mp4 W H SECONDS OUT | h264 W H ROT [LAYOUT] OUT | h264noise W H OUT | "
				"jpegpx IN | vthumb IN OUT | "
				"opus FRAMES OUT | mp3 FRAMES FIRST_BI BI X|V|- OUT\n");
		return 2;
	}
	if (!p || !(f = fopen(out, "wb")) || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "wa-mkmedia: cannot make %s\n", out);
		return 1;
	}
	free(p);
	return 0;
}
