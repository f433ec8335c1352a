/* HTTP/1.1 chunked request bodies: see sim_chunked.h. */
#include "sim/sim_chunked.h"

#include "util/err.h"

#define LINE_MAX_BYTES 4096 /* a chunk extension or trailer line */

enum {
	CK_SIZE,       /* hex digits */
	CK_EXT,        /* ";ext" until CR */
	CK_SIZE_LF,    /* LF after the size line */
	CK_DATA,       /* chunk data */
	CK_DATA_CR,    /* CR after the data */
	CK_DATA_LF,    /* LF after the data */
	CK_TRAILER,    /* start of a trailer line (or the final CRLF) */
	CK_TRAILER_LINE, /* inside a trailer line */
	CK_TRAILER_LF, /* LF ending a trailer line */
	CK_FINAL_LF,   /* LF of the final empty line */
	CK_DONE,
	CK_ERROR,
};

void sim_chunked_init(struct sim_chunked *c)
{
	c->state = CK_SIZE;
	c->left = 0;
	c->digits = 0;
	c->line = 0;
}

static int hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int sim_chunked_feed(struct sim_chunked *c, const uint8_t *in, size_t len, struct ybuf *out,
		    size_t *used)
{
	size_t i = 0;
	int rc;

	*used = 0;
	if (c->state == CK_ERROR)
		return Y_EINVAL;
	while (i < len && c->state != CK_DONE) {
		uint8_t ch = in[i];

		switch (c->state) {
		case CK_SIZE: {
			int v = hexval(ch);

			if (v >= 0) {
				if (++c->digits > 16)
					goto bad;
				c->left = (c->left << 4) | (uint64_t)v;
			} else if (c->digits && (ch == ';' || ch == ' ' || ch == '\t')) {
				c->state = CK_EXT;
				c->line = 0;
			} else if (c->digits && ch == '\r') {
				c->state = CK_SIZE_LF;
			} else {
				goto bad;
			}
			i++;
			break;
		}
		case CK_EXT:
			if (ch == '\r')
				c->state = CK_SIZE_LF;
			else if (ch == '\n' || ++c->line > LINE_MAX_BYTES)
				goto bad;
			i++;
			break;
		case CK_SIZE_LF:
			if (ch != '\n')
				goto bad;
			i++;
			c->digits = 0;
			c->state = c->left ? CK_DATA : CK_TRAILER;
			break;
		case CK_DATA: {
			size_t n = len - i;

			if ((uint64_t)n > c->left)
				n = (size_t)c->left;
			rc = ybuf_append(out, in + i, n);
			if (rc)
				return rc;
			i += n;
			c->left -= n;
			if (!c->left)
				c->state = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
			if (ch != '\r')
				goto bad;
			c->state = CK_DATA_LF;
			i++;
			break;
		case CK_DATA_LF:
			if (ch != '\n')
				goto bad;
			c->state = CK_SIZE;
			i++;
			break;
		case CK_TRAILER:
			if (ch == '\r') {
				c->state = CK_FINAL_LF;
			} else if (ch == '\n') {
				goto bad;
			} else {
				c->state = CK_TRAILER_LINE;
				c->line = 1;
			}
			i++;
			break;
		case CK_TRAILER_LINE:
			if (ch == '\r')
				c->state = CK_TRAILER_LF;
			else if (ch == '\n' || ++c->line > LINE_MAX_BYTES)
				goto bad;
			i++;
			break;
		case CK_TRAILER_LF:
			if (ch != '\n')
				goto bad;
			c->state = CK_TRAILER;
			i++;
			break;
		case CK_FINAL_LF:
			if (ch != '\n')
				goto bad;
			c->state = CK_DONE;
			i++;
			break;
		default:
			goto bad;
		}
	}
	*used = i;
	return c->state == CK_DONE ? Y_OK : Y_EAGAIN;
bad:
	c->state = CK_ERROR;
	*used = i;
	return Y_EINVAL;
}
