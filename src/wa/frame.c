/*
 * WhatsApp frame codec: see frame.h. No I/O; every read is checked against
 * the bytes the caller handed in.
 */
#include "wa/frame.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static void put24(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static size_t get24(const uint8_t *p)
{
	return ((size_t)p[0] << 16) | ((size_t)p[1] << 8) | p[2];
}

int wa_frame_enc_init(struct wa_frame_enc *e, int dict, const uint8_t *routing,
		      size_t routing_len)
{
	size_t n;
	uint8_t *p;

	e->prefix = NULL;
	e->prefix_len = 0;
	if (dict == WA_FRAME_NO_INTRO)
		return routing_len ? Y_EINVAL : Y_OK;
	if (dict < 0 || dict > 255 || (routing_len && !routing))
		return Y_EINVAL;
	if (routing_len > WA_FRAME_MAX)
		return Y_ETOOBIG;
	n = WA_FRAME_INTRO_SIZE + (routing ? WA_FRAME_ED_SIZE + routing_len : 0);
	p = malloc(n);
	if (!p)
		return Y_ENOMEM;
	e->prefix = p;
	e->prefix_len = n;
	if (routing) {
		*p++ = 'E';
		*p++ = 'D';
		*p++ = 0;
		*p++ = 1;
		put24(p, routing_len);
		p += 3;
		if (routing_len)
			memcpy(p, routing, routing_len);
		p += routing_len;
	}
	p[0] = 'W';
	p[1] = 'A';
	p[2] = WA_FRAME_MAGIC;
	p[3] = (uint8_t)dict;
	return Y_OK;
}

void wa_frame_enc_release(struct wa_frame_enc *e)
{
	free(e->prefix);
	e->prefix = NULL;
	e->prefix_len = 0;
}

size_t wa_frame_enc_overhead(const struct wa_frame_enc *e)
{
	return e->prefix_len + WA_FRAME_LEN_SIZE;
}

int wa_frame_enc_header(struct wa_frame_enc *e, size_t len, uint8_t *out, size_t cap,
			size_t *written)
{
	size_t n = wa_frame_enc_overhead(e);

	if (len == 0)
		return Y_EINVAL;
	if (len > WA_FRAME_MAX || cap < n)
		return Y_ETOOBIG;
	if (e->prefix_len)
		memcpy(out, e->prefix, e->prefix_len);
	put24(out + e->prefix_len, len);
	wa_frame_enc_release(e);
	*written = n;
	return Y_OK;
}

int wa_frame_enc_append(struct wa_frame_enc *e, const uint8_t *p, size_t len, struct ybuf *out)
{
	size_t n = wa_frame_enc_overhead(e), w;
	int rc;

	if (len == 0)
		return Y_EINVAL;
	if (len > WA_FRAME_MAX)
		return Y_ETOOBIG;
	rc = ybuf_reserve(out, n + len);
	if (rc)
		return rc;
	rc = wa_frame_enc_header(e, len, out->data + out->len, n, &w);
	if (rc)
		return rc;
	memcpy(out->data + out->len + w, p, len);
	out->len += w + len;
	out->data[out->len] = 0;
	return Y_OK;
}

/* Decoder states, in stream order. */
enum {
	ST_PREFIX,  /* server: 'E' (ED prefix) or 'W' (intro) expected */
	ST_ED,      /* server: collecting the 7-byte ED header */
	ST_ROUTING, /* server: collecting need bytes of routing info */
	ST_INTRO,   /* server: collecting the 4-byte intro */
	ST_HDR,     /* collecting a 3-byte frame length */
	ST_BODY,    /* collecting need payload bytes */
};

void wa_frame_dec_init(struct wa_frame_dec *d, enum wa_frame_dec_mode mode, size_t max_frame)
{
	memset(d, 0, sizeof(*d));
	d->mode = mode;
	d->dict = -1;
	d->max = (max_frame == 0 || max_frame > WA_FRAME_MAX) ? WA_FRAME_MAX : max_frame;
	d->state = mode == WA_FRAME_DEC_SERVER ? ST_PREFIX : ST_HDR;
	ybuf_init(&d->routing, d->max);
	ybuf_init(&d->body, d->max);
}

void wa_frame_dec_release(struct wa_frame_dec *d)
{
	ybuf_release(&d->routing);
	ybuf_release(&d->body);
}

bool wa_frame_dec_intro_done(const struct wa_frame_dec *d)
{
	return d->state == ST_HDR || d->state == ST_BODY;
}

/* Moves bytes into hb until it holds want bytes. True when complete. */
static bool collect(struct wa_frame_dec *d, size_t want, const uint8_t **p, size_t *n)
{
	size_t take = want - d->hn;

	if (take > *n)
		take = *n;
	memcpy(d->hb + d->hn, *p, take);
	d->hn = (uint8_t)(d->hn + take);
	*p += take;
	*n -= take;
	return d->hn == want;
}

static int fail(struct wa_frame_dec *d, int rc)
{
	d->err = rc;
	return rc;
}

int wa_frame_dec_next(struct wa_frame_dec *d, const uint8_t **in, size_t *inlen,
		      const uint8_t **frame, size_t *flen)
{
	const uint8_t *p = *in;
	size_t n = *inlen, take;
	int rc = Y_EAGAIN;
	bool done;

	if (d->err)
		return d->err;
	if (d->drop_body) {
		/* Idle connections hold no buffer. */
		ybuf_release(&d->body);
		d->drop_body = false;
	}
	while (n > 0) {
		switch (d->state) {
		case ST_PREFIX:
			if (p[0] == 'E') {
				d->state = ST_ED;
			} else if (p[0] == 'W') {
				d->state = ST_INTRO;
			} else {
				rc = fail(d, Y_EINVAL);
				goto out;
			}
			d->hn = 0;
			break;
		case ST_ED:
			done = collect(d, WA_FRAME_ED_SIZE, &p, &n);
			/* check the fixed bytes as soon as they arrive */
			if (memcmp(d->hb, "ED\x00\x01", d->hn < 4 ? d->hn : 4) != 0) {
				rc = fail(d, Y_EINVAL);
				goto out;
			}
			if (!done)
				break;
			d->need = get24(d->hb + 4);
			if (d->need > d->max) {
				rc = fail(d, Y_ETOOBIG);
				goto out;
			}
			d->hn = 0;
			d->state = d->need ? ST_ROUTING : ST_INTRO;
			break;
		case ST_ROUTING:
			take = d->need < n ? d->need : n;
			rc = ybuf_append(&d->routing, p, take);
			if (rc) {
				rc = fail(d, rc);
				goto out;
			}
			rc = Y_EAGAIN;
			p += take;
			n -= take;
			d->need -= take;
			if (d->need == 0)
				d->state = ST_INTRO;
			break;
		case ST_INTRO:
			done = collect(d, WA_FRAME_INTRO_SIZE, &p, &n);
			if (memcmp(d->hb, "WA", d->hn < 2 ? d->hn : 2) != 0) {
				rc = fail(d, Y_EINVAL);
				goto out;
			}
			if (d->hn > 2 && d->hb[2] != WA_FRAME_MAGIC) {
				rc = fail(d, Y_EUNSUPPORTED);
				goto out;
			}
			if (!done)
				break;
			d->dict = d->hb[3];
			d->hn = 0;
			d->state = ST_HDR;
			break;
		case ST_HDR:
			if (!collect(d, WA_FRAME_LEN_SIZE, &p, &n))
				break;
			d->need = get24(d->hb);
			d->hn = 0;
			if (d->need == 0) {
				rc = fail(d, Y_EINVAL);
				goto out;
			}
			if (d->need > d->max) {
				rc = fail(d, Y_ETOOBIG);
				goto out;
			}
			d->state = ST_BODY;
			break;
		case ST_BODY:
			if (d->body.len == 0 && n >= d->need) {
				/* Whole frame in the input: no copy. */
				*frame = p;
				*flen = d->need;
			} else {
				take = d->need - d->body.len;
				if (take > n)
					take = n;
				rc = ybuf_append(&d->body, p, take);
				if (rc) {
					rc = fail(d, rc);
					goto out;
				}
				rc = Y_EAGAIN;
				p += take;
				n -= take;
				if (d->body.len < d->need)
					break;
				*frame = d->body.data;
				*flen = d->body.len;
				d->drop_body = true;
				d->state = ST_HDR;
				rc = Y_OK;
				goto out;
			}
			p += d->need;
			n -= d->need;
			d->state = ST_HDR;
			rc = Y_OK;
			goto out;
		default:
			BUG("wa_frame_dec: bad state");
		}
	}
out:
	*in = p;
	*inlen = n;
	return rc;
}
