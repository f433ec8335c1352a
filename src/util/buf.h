/*
 * A growable byte buffer with a hard cap. Everything fed from the network is
 * collected in one of these: growth beyond `max` fails with Y_ETOOBIG instead
 * of allocating without bound. The data is always followed by a NUL byte (not
 * counted in len), so text can be used as a C string.
 *
 * Fields are read-only outside buf.c; change them only through the API.
 */
#ifndef YESAPP_BUF_H
#define YESAPP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ybuf {
	uint8_t *data; /* NULL until the first append */
	size_t len;    /* bytes in use */
	size_t cap;    /* bytes allocated (excluding the NUL) */
	size_t max;    /* hard limit for len; 0 means SIZE_MAX/2 */
};

#define YBUF_INIT(maxbytes) { NULL, 0, 0, (maxbytes) }

void ybuf_init(struct ybuf *b, size_t max);
/* Frees the storage; the buffer may be used again (empty). */
void ybuf_release(struct ybuf *b);
/* Makes room for `extra` more bytes. Y_ETOOBIG past max, Y_ENOMEM. */
int ybuf_reserve(struct ybuf *b, size_t extra);
int ybuf_append(struct ybuf *b, const void *p, size_t n);
int ybuf_append_byte(struct ybuf *b, uint8_t c);
int ybuf_append_str(struct ybuf *b, const char *s);
int ybuf_printf(struct ybuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (n <= len). */
void ybuf_consume(struct ybuf *b, size_t n);
void ybuf_reset(struct ybuf *b);
/* Hands the storage to the caller (who frees it); the buffer becomes empty.
 * Returns an allocated empty string for an empty buffer, NULL on ENOMEM. */
uint8_t *ybuf_detach(struct ybuf *b, size_t *len);

#endif
