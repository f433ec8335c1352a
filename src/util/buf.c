#include "util/buf.h"
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t limit(const struct ybuf *b)
{
	return b->max ? b->max : SIZE_MAX / 2;
}

void ybuf_init(struct ybuf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void ybuf_release(struct ybuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int ybuf_reserve(struct ybuf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *p;

	if (extra > limit(b) - b->len)
		return Y_ETOOBIG;
	need = b->len + extra;
	if (need <= b->cap && b->data)
		return Y_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 4 ? need : ncap * 2;
	if (ncap > limit(b))
		ncap = limit(b);
	p = realloc(b->data, ncap + 1);
	if (!p)
		return Y_ENOMEM;
	b->data = p;
	b->cap = ncap;
	b->data[b->len] = 0;
	return Y_OK;
}

int ybuf_append(struct ybuf *b, const void *p, size_t n)
{
	int rc = ybuf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return Y_OK;
}

int ybuf_append_byte(struct ybuf *b, uint8_t c)
{
	return ybuf_append(b, &c, 1);
}

int ybuf_append_str(struct ybuf *b, const char *s)
{
	return ybuf_append(b, s, strlen(s));
}

int ybuf_printf(struct ybuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return Y_EINVAL;
	rc = ybuf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return Y_OK;
}

void ybuf_consume(struct ybuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = 0;
}

void ybuf_reset(struct ybuf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

uint8_t *ybuf_detach(struct ybuf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (!p) {
		p = calloc(1, 1);
		if (!p)
			return NULL;
	}
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
