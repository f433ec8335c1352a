/*
 * QR rendering (see qr.h): libqrencode makes the module matrix, libpng
 * writes the PNG into a ybuf through png_set_write_fn.
 */
#include "util/qr.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* The module matrix for text, or an error. */
static int encode(const char *text, QRcode **out)
{
	QRcode *q;

	if (!text || !*text)
		return Y_EINVAL;
	errno = 0;
	q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_L);
	if (!q)
		return errno == ENOMEM ? Y_ENOMEM : errno == ERANGE ? Y_ETOOBIG : Y_EINVAL;
	*out = q;
	return Y_OK;
}

static int dark(const QRcode *q, int x, int y)
{
	return q->data[y * q->width + x] & 1;
}

struct png_sink {
	struct ybuf *out;
	int rc;
};

static void png_write(png_structp png, png_bytep p, size_t n)
{
	struct png_sink *s = png_get_io_ptr(png);
	int rc = ybuf_append(s->out, p, n);

	if (rc) {
		s->rc = rc;
		png_error(png, "ybuf");
	}
}

static void png_flush(png_structp png)
{
}

/* libpng reports errors by longjmp; keep it quiet on stderr. */
static void png_err(png_structp png, png_const_charp msg)
{
	png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
}

int yqr_png(const char *text, int scale, int margin, struct ybuf *out)
{
	QRcode *q = NULL;
	png_structp png = NULL;
	png_infop info = NULL;
	uint8_t *volatile row = NULL;
	struct png_sink sink = { out, Y_OK };
	size_t side, rowbytes;
	int rc;

	if (!out || scale < 1 || scale > YQR_SCALE_MAX || margin < 0 || margin > YQR_MARGIN_MAX)
		return Y_EINVAL;
	rc = encode(text, &q);
	if (rc)
		return rc;
	side = ((size_t)q->width + 2 * (size_t)margin) * (size_t)scale;
	rowbytes = (side + 7) / 8;
	rc = Y_ENOMEM;
	row = malloc(rowbytes);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_err, png_warn);
	info = png ? png_create_info_struct(png) : NULL;
	if (!row || !info)
		goto out;
	if (setjmp(png_jmpbuf(png))) {
		rc = sink.rc ? sink.rc : Y_ENOMEM;
		goto out;
	}
	png_set_write_fn(png, &sink, png_write, png_flush);
	png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 1, PNG_COLOR_TYPE_GRAY,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(png, 9);
	png_write_info(png, info);
	for (size_t py = 0; py < side; py++) {
		long my = (long)(py / (size_t)scale) - margin;

		memset(row, 0xff, rowbytes);
		for (size_t px = 0; my >= 0 && my < q->width && px < side; px++) {
			long mx = (long)(px / (size_t)scale) - margin;

			if (mx >= 0 && mx < q->width && dark(q, (int)mx, (int)my))
				row[px / 8] &= (uint8_t)~(0x80 >> (px % 8));
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	rc = Y_OK;
out:
	png_destroy_write_struct(&png, &info);
	free(row);
	QRcode_free(q);
	return rc;
}

int yqr_svg(const char *text, int margin, struct ybuf *out)
{
	QRcode *q = NULL;
	int rc, side;

	if (!out || margin < 0 || margin > YQR_MARGIN_MAX)
		return Y_EINVAL;
	rc = encode(text, &q);
	if (rc)
		return rc;
	side = q->width + 2 * margin;
	rc = ybuf_printf(out,
			 "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
			 "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
			 "fill=\"#fff\"/><path fill=\"#000\" d=\"",
			 side, side, side, side);
	for (int y = 0; !rc && y < q->width; y++)
		for (int x = 0; !rc && x < q->width;) {
			int run = 0;

			while (x + run < q->width && dark(q, x + run, y))
				run++;
			if (run)
				rc = ybuf_printf(out, "M%d %dh%dv1h-%dz", x + margin, y + margin, run,
						 run);
			x += run ? run : 1;
		}
	rc = rc ?: ybuf_append_str(out, "\"/></svg>\n");
	QRcode_free(q);
	return rc;
}
