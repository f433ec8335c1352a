/*
 * Binary node encoder and decoder. See binary.h.
 *
 * Encoding rules (Baileys 6 for dict v2, Baileys 7 for v3, WABinary/encode.js):
 *  - list size = 1 + 2*attrs + (content ? 1 : 0): LIST_EMPTY, LIST_8, LIST_16;
 *  - a string is written as: the empty string -> v2: token 0 (byte 00),
 *    v3: BINARY_8 of length 0; a single-byte token; a double-byte token;
 *    NIBBLE_8 if <= 127 chars of [0-9.-]; HEX_8 if <= 127 chars of [0-9A-F];
 *    if it contains '@', the JID Baileys' jidDecode makes of it; else raw
 *    BINARY_8/20/32;
 *  - a string turned into a JID is AD_JID when it has a non-empty ":device"
 *    part (even ":0"), else JID_PAIR; the domain byte is 1 for "@lid" and 0
 *    otherwise in v2, and lid 1 / hosted 128 / hosted.lid 129 / else the
 *    "_agent" number in v3; the agent never appears in the user; the one
 *    deviation: "x@" (empty server), which Baileys makes undecodable, is raw;
 *  - typed JIDs (struct wa_jid) are written in their own kind, exactly.
 * Decoding renders AD_JID servers per dict (wa_jid_ad_server).
 */
#include "wa/binary.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/buf.h"
#include "util/err.h"

enum {
	T_LIST_EMPTY = 0,
	T_DICT_0 = 236,
	T_DICT_3 = 239,
	T_INTEROP_JID = 245,
	T_FB_JID = 246,
	T_AD_JID = 247,
	T_LIST_8 = 248,
	T_LIST_16 = 249,
	T_JID_PAIR = 250,
	T_HEX_8 = 251,
	T_BINARY_8 = 252,
	T_BINARY_20 = 253,
	T_BINARY_32 = 254,
	T_NIBBLE_8 = 255,
	PACKED_MAX = 127,
};

/* ================= encoder ================= */

struct enc {
	uint8_t *p;
	size_t len, cap;
	int dict;
	int err; /* sticky: once set, writes are dropped */
};

static int enc_grow(struct enc *e, size_t n)
{
	size_t ncap = e->cap ? e->cap : 256;
	uint8_t *p;

	if (n > SIZE_MAX / 4 - e->len) {
		e->err = Y_ETOOBIG;
		return 0;
	}
	while (ncap < e->len + n)
		ncap *= 2;
	p = realloc(e->p, ncap);
	if (!p) {
		e->err = Y_ENOMEM;
		return 0;
	}
	e->p = p;
	e->cap = ncap;
	return 1;
}

static inline void put(struct enc *e, const void *src, size_t n)
{
	if (e->err || (e->cap - e->len < n && !enc_grow(e, n)))
		return;
	memcpy(e->p + e->len, src, n);
	e->len += n;
}

static inline void put1(struct enc *e, uint8_t b)
{
	if (e->err || (e->cap == e->len && !enc_grow(e, 1)))
		return;
	e->p[e->len++] = b;
}

static inline void put2(struct enc *e, uint8_t a, uint8_t b)
{
	uint8_t x[2] = { a, b };

	put(e, x, 2);
}

static void fail(struct enc *e, int err)
{
	if (!e->err)
		e->err = err;
}

static void write_byte_length(struct enc *e, size_t len)
{
	if (len >= (1u << 20)) {
		uint8_t x[5] = { T_BINARY_32, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			(uint8_t)(len >> 8), (uint8_t)len };
		if ((uint64_t)len > UINT32_MAX) {
			fail(e, Y_ETOOBIG);
			return;
		}
		put(e, x, 5);
	} else if (len >= 256) {
		uint8_t x[4] = { T_BINARY_20, (uint8_t)((len >> 16) & 0x0f), (uint8_t)(len >> 8),
			(uint8_t)len };
		put(e, x, 4);
	} else {
		put2(e, T_BINARY_8, (uint8_t)len);
	}
}

static void write_raw(struct enc *e, const void *s, size_t len)
{
	write_byte_length(e, len);
	put(e, s, len);
}

static uint8_t nib(char c)
{
	if (c >= '0' && c <= '9')
		return (uint8_t)(c - '0');
	if (c == '-')
		return 10;
	if (c == '.')
		return 11;
	return (uint8_t)(c - 'A' + 10); /* hex A-F */
}

static void write_packed(struct enc *e, uint8_t tag, const char *s, size_t len)
{
	uint8_t buf[2 + 64];
	size_t n = 0, i;

	buf[n++] = tag;
	buf[n++] = (uint8_t)(((len + 1) / 2) | (len % 2 ? 0x80 : 0));
	for (i = 0; i + 1 < len; i += 2)
		buf[n++] = (uint8_t)(nib(s[i]) << 4 | nib(s[i + 1]));
	if (len % 2)
		buf[n++] = (uint8_t)(nib(s[len - 1]) << 4 | 0x0f);
	put(e, buf, n);
}

static void write_string(struct enc *e, const char *s, size_t len, int nest);
static void write_jid(struct enc *e, const struct wa_jid *j, int nest);

/* A JID part: exactly the JID it was decoded from, else a string. */
static void write_part(struct enc *e, const char *s, size_t len, const struct wa_val *jid, int nest)
{
	if (jid && jid->type == WA_VAL_JID)
		write_jid(e, &jid->jid, nest + 1);
	else
		write_string(e, s, len, nest);
}

static void write_jid(struct enc *e, const struct wa_jid *j, int nest)
{
	if (nest > WA_BINARY_MAX_JID_NEST) {
		fail(e, Y_ETOOBIG);
		return;
	}
	switch (j->kind) {
	case WA_JID_AD:
		if (j->device > 255) {
			fail(e, Y_EINVAL);
			return;
		}
		put1(e, T_AD_JID);
		put2(e, j->agent, (uint8_t)j->device);
		write_part(e, j->user, j->user_len, j->user_jid, nest);
		return;
	case WA_JID_FB:
	case WA_JID_INTEROP:
		put1(e, j->kind == WA_JID_FB ? T_FB_JID : T_INTEROP_JID);
		write_part(e, j->user, j->user_len, j->user_jid, nest);
		put2(e, (uint8_t)(j->device >> 8), (uint8_t)j->device);
		if (j->kind == WA_JID_INTEROP)
			put2(e, (uint8_t)(j->integrator >> 8), (uint8_t)j->integrator);
		break;
	case WA_JID_PAIR:
		put1(e, T_JID_PAIR);
		if (j->user_len)
			write_part(e, j->user, j->user_len, j->user_jid, nest);
		else
			put1(e, T_LIST_EMPTY);
		break;
	default:
		fail(e, Y_EINVAL);
		return;
	}
	if (!j->server_len) {
		fail(e, Y_EINVAL);
		return;
	}
	write_part(e, j->server, j->server_len, j->server_jid, nest);
}

/* Leading decimal digits as JS Number()/parseInt() would read them, masked
 * to a byte as Baileys' pushByte does. Returns -1 if there are none. Only
 * plain digits are understood (JS also reads " 1", "0x1", "1e2": never
 * produced by any client). */
static int js_byte(const char *s, size_t len, int whole)
{
	uint32_t v = 0;
	size_t i;

	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		v = (v * 10 + (uint32_t)(s[i] - '0')) & 0xffffff;
	if (i == 0 || (whole && i != len))
		return -1;
	if (i > 9)
		return -1; /* beyond what we mirror exactly; Baileys differs */
	return (int)(v & 0xff);
}

/* Baileys' jidDecode + writeJid for a string containing '@' (see top). */
static void write_string_jid(struct enc *e, const char *s, size_t len, const char *at, int nest)
{
	struct wa_jid j;
	const char *uc = s, *colon, *dend, *us, *aend;
	size_t uclen = (size_t)(at - s), ualen;

	memset(&j, 0, sizeof(j));
	j.server = at + 1;
	j.server_len = (uint32_t)(len - uclen - 1);
	if (!j.server_len) {
		/* "x@": Baileys writes a JID with an empty server that no decoder
		 * accepts (its own neither); we keep the string raw instead. */
		write_raw(e, s, len);
		return;
	}
	colon = uclen ? memchr(uc, ':', uclen) : NULL;
	ualen = colon ? (size_t)(colon - uc) : uclen;
	j.kind = WA_JID_PAIR;
	if (colon) {
		const char *d = colon + 1;
		size_t rest = uclen - ualen - 1;
		dend = rest ? memchr(d, ':', rest) : NULL;
		size_t dlen = dend ? (size_t)(dend - d) : rest;
		if (dlen) { /* "" is falsy in JS: no device */
			int v = js_byte(d, dlen, 1);
			j.kind = WA_JID_AD;
			j.device = (uint16_t)(v < 0 ? 0 : v);
		}
	}
	us = ualen ? memchr(uc, '_', ualen) : NULL;
	j.user = uc;
	j.user_len = (uint32_t)(us ? (size_t)(us - uc) : ualen);
	if (j.kind == WA_JID_AD) {
		const char *srv = j.server;
		size_t sl = j.server_len;
		if (sl == 3 && !memcmp(srv, "lid", 3)) {
			j.agent = WA_DOMAIN_LID;
		} else if (e->dict == WA_DICT_V3 && sl == 6 && !memcmp(srv, "hosted", 6)) {
			j.agent = WA_DOMAIN_HOSTED;
		} else if (e->dict == WA_DICT_V3 && sl == 10 && !memcmp(srv, "hosted.lid", 10)) {
			j.agent = WA_DOMAIN_HOSTED_LID;
		} else if (e->dict == WA_DICT_V3 && us) {
			const char *a = us + 1;
			size_t rest = ualen - (size_t)(us - uc) - 1;
			aend = rest ? memchr(a, '_', rest) : NULL;
			int v = js_byte(a, aend ? (size_t)(aend - a) : rest, 0);
			j.agent = (uint8_t)(v < 0 ? 0 : v);
		}
	}
	write_jid(e, &j, nest + 1);
}

static void write_string(struct enc *e, const char *s, size_t len, int nest)
{
	int table;
	unsigned index;
	int nibble = 1, hex = 1;
	const char *at;

	if (len == 0) {
		if (e->dict == WA_DICT_V2)
			put1(e, T_LIST_EMPTY); /* token 0 is "" */
		else
			put2(e, T_BINARY_8, 0);
		return;
	}
	if (wa_tokens_lookup(e->dict, s, len, &table, &index)) {
		if (table < 0)
			put1(e, (uint8_t)index);
		else
			put2(e, (uint8_t)(T_DICT_0 + table), (uint8_t)index);
		return;
	}
	if (len <= PACKED_MAX) {
		for (size_t i = 0; i < len && (nibble || hex); i++) {
			char c = s[i];
			int digit = c >= '0' && c <= '9';
			if (!digit && c != '-' && c != '.')
				nibble = 0;
			if (!digit && !(c >= 'A' && c <= 'F'))
				hex = 0;
		}
		if (nibble) {
			write_packed(e, T_NIBBLE_8, s, len);
			return;
		}
		if (hex) {
			write_packed(e, T_HEX_8, s, len);
			return;
		}
	}
	at = memchr(s, '@', len);
	if (at && nest < 0)
		fail(e, Y_EINVAL); /* a name holding '@' would travel as a JID */
	else if (at)
		write_string_jid(e, s, len, at, nest);
	else
		write_raw(e, s, len);
}

static void write_list_start(struct enc *e, size_t n)
{
	if (n == 0)
		put1(e, T_LIST_EMPTY);
	else if (n < 256)
		put2(e, T_LIST_8, (uint8_t)n);
	else if (n <= 0xffff) {
		uint8_t x[3] = { T_LIST_16, (uint8_t)(n >> 8), (uint8_t)n };
		put(e, x, 3);
	} else
		fail(e, Y_ETOOBIG);
}

/* A tag or key: a string that must not turn into a JID (nest -1 tells
 * write_string to refuse '@'). */
static void write_name(struct enc *e, const char *s, size_t len)
{
	write_string(e, s, len, -1);
}

static void write_val(struct enc *e, const struct wa_val *v)
{
	if (v->type == WA_VAL_JID)
		write_jid(e, &v->jid, 1);
	else
		write_string(e, v->str, v->len, 0);
}

static void write_node(struct enc *e, const struct wa_node *n, int depth)
{
	if (depth > WA_BINARY_MAX_DEPTH) {
		fail(e, Y_ETOOBIG);
		return;
	}
	if (!n->tag_len) {
		fail(e, Y_EINVAL);
		return;
	}
	write_list_start(e, 1 + 2 * (size_t)n->nattrs + (n->content != WA_CONTENT_NONE));
	write_name(e, n->tag, n->tag_len);
	for (uint32_t i = 0; i < n->nattrs && !e->err; i++) {
		write_name(e, n->attrs[i].key, n->attrs[i].key_len);
		write_val(e, &n->attrs[i].val);
	}
	switch (n->content) {
	case WA_CONTENT_NONE:
		break;
	case WA_CONTENT_LIST:
		write_list_start(e, n->nkids);
		for (uint32_t i = 0; i < n->nkids && !e->err; i++)
			write_node(e, n->kids[i], depth + 1);
		break;
	case WA_CONTENT_BYTES:
		write_raw(e, n->bytes, n->nbytes);
		break;
	case WA_CONTENT_VALUE:
		write_val(e, &n->val);
		break;
	default:
		fail(e, Y_EINVAL);
	}
}

static int encode(const struct wa_node *node, int dict, struct ybuf *out, int flags_byte)
{
	struct enc e = { NULL, 0, 0, dict, 0 };
	int rc;

	if (!wa_tokens_valid_dict(dict))
		return Y_EINVAL;
	if (flags_byte)
		put1(&e, 0);
	write_node(&e, node, 0);
	rc = e.err ? e.err : ybuf_append(out, e.p, e.len);
	free(e.p);
	return rc;
}

int wa_binary_encode(const struct wa_node *node, int dict, struct ybuf *out)
{
	return encode(node, dict, out, 1);
}

int wa_binary_encode_node(const struct wa_node *node, int dict, struct ybuf *out)
{
	return encode(node, dict, out, 0);
}

/* ================= decoder ================= */

struct dec {
	const uint8_t *p, *end;
	int dict;
	struct wa_arena *a;
	const char *const *single; /* this dict's single-byte tokens */
	const uint8_t *single_len;
};

/* An arena allocation failed: over the tree cap, or out of memory. */
static int oom(const struct dec *d)
{
	return wa_arena_over(d->a) ? Y_ETOOBIG : Y_ENOMEM;
}

#define NEED(d, n) do { if ((size_t)((d)->end - (d)->p) < (size_t)(n)) return Y_ETRUNC; } while (0)

static size_t left(const struct dec *d)
{
	return (size_t)(d->end - d->p);
}

static int read_byte(struct dec *d, uint8_t *out)
{
	NEED(d, 1);
	*out = *d->p++;
	return Y_OK;
}

/* Nibble and hex alphabets; 0 marks a value that is invalid (nibble 12..14)
 * or the pad (15), which may only end an odd-length string. */
static const char nib_chars[16] = "0123456789-.";
static const char hex_chars[16] = "0123456789ABCDE";

static int read_packed(struct dec *d, uint8_t tag, struct wa_val *v)
{
	const char *alpha = tag == T_NIBBLE_8 ? nib_chars : hex_chars;
	uint8_t start;
	size_t nbytes, nchars;
	char *s;
	int rc = read_byte(d, &start), odd;

	if (rc)
		return rc;
	nbytes = start & 0x7f;
	odd = (start & 0x80) != 0;
	NEED(d, nbytes);
	if (odd && nbytes == 0)
		return Y_EINVAL;
	nchars = nbytes * 2 - (size_t)odd;
	s = wa_arena_alloc(d->a, nbytes * 2 + 1);
	if (!s)
		return oom(d);
	for (size_t i = 0; i < nbytes; i++) {
		uint8_t x = d->p[i];
		char hi = alpha[x >> 4], lo = alpha[x & 0x0f];
		/* hex 'F' (15) is the one value the table cannot hold */
		if (!hi) {
			if (tag != T_HEX_8 || (x >> 4) != 15)
				return Y_EINVAL;
			hi = 'F';
		}
		if (!lo) {
			if ((x & 0x0f) != 15 || (tag == T_NIBBLE_8 && !(odd && i == nbytes - 1)))
				return Y_EINVAL;
			lo = 'F';
		} else if (odd && i == nbytes - 1) {
			return Y_EINVAL; /* the pad nibble must be 15 */
		}
		s[2 * i] = hi;
		s[2 * i + 1] = lo;
	}
	d->p += nbytes;
	s[nchars] = 0;
	v->str = s;
	v->len = (uint32_t)nchars;
	v->type = WA_VAL_STR;
	return Y_OK;
}

static int read_len(struct dec *d, uint8_t tag, size_t *len)
{
	const uint8_t *p;

	if (tag == T_BINARY_8) {
		NEED(d, 1);
		*len = d->p[0];
		d->p += 1;
	} else if (tag == T_BINARY_20) {
		NEED(d, 3);
		p = d->p;
		*len = ((size_t)(p[0] & 0x0f) << 16) | ((size_t)p[1] << 8) | p[2];
		d->p += 3;
	} else {
		NEED(d, 4);
		p = d->p;
		*len = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
		d->p += 4;
	}
	NEED(d, *len);
	return Y_OK;
}

static int read_value(struct dec *d, uint8_t tag, struct wa_val *v, int nest);

static inline int read_part(struct dec *d, struct wa_val *v, int nest)
{
	uint8_t t;

	NEED(d, 1);
	t = *d->p++;
	if (t >= 1 && t < WA_TOKENS_SINGLE_COUNT) { /* the common case, inline */
		v->type = WA_VAL_STR;
		v->str = d->single[t];
		v->len = d->single_len[t];
		return Y_OK;
	}
	return read_value(d, t, v, nest);
}

static int read_u16(struct dec *d, uint16_t *out)
{
	NEED(d, 2);
	*out = (uint16_t)(d->p[0] << 8 | d->p[1]);
	d->p += 2;
	return Y_OK;
}

/* A JID part that was itself a JID is kept (in the arena) for exact
 * re-encoding; see struct wa_jid. */
static int keep_part(struct dec *d, const struct wa_val *part, const struct wa_val **out)
{
	struct wa_val *copy;

	*out = NULL;
	if (part->type != WA_VAL_JID)
		return Y_OK;
	copy = wa_arena_alloc(d->a, sizeof(*copy));
	if (!copy)
		return oom(d);
	*copy = *part;
	*out = copy;
	return Y_OK;
}

static int read_jid(struct dec *d, uint8_t tag, struct wa_val *v, int nest)
{
	struct wa_jid *j = &v->jid;
	struct wa_val part;
	size_t tlen;
	char *t;
	int rc;

	if (nest > WA_BINARY_MAX_JID_NEST)
		return Y_ETOOBIG;
	memset(j, 0, sizeof(*j));
	if (tag == T_AD_JID) {
		NEED(d, 2);
		j->kind = WA_JID_AD;
		j->agent = d->p[0];
		j->device = d->p[1];
		d->p += 2;
		rc = read_part(d, &part, nest + 1);
		if (!rc)
			rc = keep_part(d, &part, &j->user_jid);
		if (rc)
			return rc;
		j->user = part.str;
		j->user_len = part.len;
		j->server = wa_jid_ad_server(d->dict, j->agent);
		j->server_len = (uint32_t)strlen(j->server);
	} else {
		j->kind = tag == T_JID_PAIR ? WA_JID_PAIR : tag == T_FB_JID ? WA_JID_FB : WA_JID_INTEROP;
		rc = read_part(d, &part, nest + 1);
		if (!rc)
			rc = keep_part(d, &part, &j->user_jid);
		if (rc)
			return rc;
		j->user = part.str;
		j->user_len = part.len;
		if (tag != T_JID_PAIR)
			rc = read_u16(d, &j->device);
		if (!rc && tag == T_INTEROP_JID)
			rc = read_u16(d, &j->integrator);
		if (!rc)
			rc = read_part(d, &part, nest + 1);
		if (!rc)
			rc = keep_part(d, &part, &j->server_jid);
		if (rc)
			return rc;
		if (part.len == 0)
			return Y_EINVAL; /* a JID needs a server */
		j->server = part.str;
		j->server_len = part.len;
	}
	tlen = wa_jid_text_len(j);
	if (tlen > UINT32_MAX - 1)
		return Y_ETOOBIG;
	t = wa_arena_alloc(d->a, tlen + 1);
	if (!t)
		return oom(d);
	wa_jid_to_str(j, t, tlen + 1);
	v->str = t;
	v->len = (uint32_t)tlen;
	v->type = WA_VAL_JID;
	return Y_OK;
}

static int read_value(struct dec *d, uint8_t tag, struct wa_val *v, int nest)
{
	const char *tok;
	size_t len;
	int rc;

	v->type = WA_VAL_STR;
	if (tag >= 1 && tag < WA_TOKENS_SINGLE_COUNT) {
		v->str = d->single[tag];
		v->len = d->single_len[tag];
		return Y_OK;
	}
	switch (tag) {
	case T_LIST_EMPTY:
		v->str = "";
		v->len = 0;
		return Y_OK;
	case T_DICT_0:
	case T_DICT_0 + 1:
	case T_DICT_0 + 2:
	case T_DICT_3:
		NEED(d, 1);
		tok = wa_tokens_double(d->dict, tag - T_DICT_0, d->p[0], &len);
		d->p++;
		v->str = tok;
		v->len = (uint32_t)len;
		return Y_OK;
	case T_BINARY_8:
	case T_BINARY_20:
	case T_BINARY_32: {
		char *s;
		rc = read_len(d, tag, &len);
		if (rc)
			return rc;
		s = wa_arena_alloc(d->a, len + 1);
		if (!s)
			return oom(d);
		memcpy(s, d->p, len);
		s[len] = 0;
		d->p += len;
		v->str = s;
		v->len = (uint32_t)len;
		return Y_OK;
	}
	case T_NIBBLE_8:
	case T_HEX_8:
		return read_packed(d, tag, v);
	case T_JID_PAIR:
	case T_AD_JID:
	case T_FB_JID:
	case T_INTEROP_JID:
		return read_jid(d, tag, v, nest);
	default:
		return Y_EINVAL;
	}
}

static int read_list_size(struct dec *d, uint8_t tag, size_t *n)
{
	if (tag == T_LIST_EMPTY) {
		*n = 0;
	} else if (tag == T_LIST_8) {
		NEED(d, 1);
		*n = d->p[0];
		d->p += 1;
	} else if (tag == T_LIST_16) {
		NEED(d, 2);
		*n = (size_t)d->p[0] << 8 | d->p[1];
		d->p += 2;
	} else {
		return Y_EINVAL;
	}
	return Y_OK;
}

/* Reads a tag or attribute key: a string, never a JID. */
static int read_name(struct dec *d, const char **s, uint32_t *len)
{
	struct wa_val v;
	int rc = read_part(d, &v, 1);

	if (rc)
		return rc;
	/* a name holding '@' would be re-encoded as a JID: never valid */
	if (v.type != WA_VAL_STR || (v.len && memchr(v.str, '@', v.len)))
		return Y_EINVAL;
	*s = v.str;
	*len = v.len;
	return Y_OK;
}

static int read_node(struct dec *d, struct wa_node *n, int depth)
{
	uint8_t t;
	size_t size, nattrs;
	int rc;

	if (depth > WA_BINARY_MAX_DEPTH)
		return Y_ETOOBIG;
	n->arena = d->a;
	rc = read_byte(d, &t);
	if (!rc)
		rc = read_list_size(d, t, &size);
	if (rc)
		return rc;
	if (size == 0)
		return Y_EINVAL;
	rc = read_name(d, &n->tag, &n->tag_len);
	if (rc)
		return rc;
	if (n->tag_len == 0)
		return Y_EINVAL;
	nattrs = (size - 1) >> 1;
	if (nattrs) {
		if (nattrs * 2 > left(d))
			return Y_ETRUNC;
		n->attrs = wa_arena_alloc(d->a, nattrs * sizeof(*n->attrs));
		if (!n->attrs)
			return oom(d);
		n->nattrs = n->attrs_cap = (uint32_t)nattrs;
		for (size_t i = 0; i < nattrs; i++) {
			struct wa_attr *at = &n->attrs[i];
			rc = read_name(d, &at->key, &at->key_len);
			if (!rc)
				rc = read_part(d, &at->val, 1);
			if (rc)
				return rc;
		}
	}
	if (size % 2)
		return Y_OK;
	rc = read_byte(d, &t);
	if (rc)
		return rc;
	if (t == T_LIST_EMPTY || t == T_LIST_8 || t == T_LIST_16) {
		size_t nk;
		struct wa_node *kids;
		rc = read_list_size(d, t, &nk);
		if (rc)
			return rc;
		n->content = WA_CONTENT_LIST;
		if (!nk)
			return Y_OK;
		if (nk * 3 > left(d))
			return Y_ETRUNC; /* every node takes at least 3 bytes */
		n->kids = wa_arena_alloc(d->a, nk * sizeof(*n->kids));
		kids = wa_arena_alloc(d->a, nk * sizeof(*kids));
		if (!n->kids || !kids)
			return oom(d);
		memset(kids, 0, nk * sizeof(*kids));
		n->nkids = n->kids_cap = (uint32_t)nk;
		for (size_t i = 0; i < nk; i++) {
			n->kids[i] = &kids[i];
			rc = read_node(d, &kids[i], depth + 1);
			if (rc)
				return rc;
		}
		return Y_OK;
	}
	if (t == T_BINARY_8 || t == T_BINARY_20 || t == T_BINARY_32) {
		size_t len;
		uint8_t *b;
		rc = read_len(d, t, &len);
		if (rc)
			return rc;
		b = wa_arena_alloc(d->a, len ? len : 1);
		if (!b)
			return oom(d);
		memcpy(b, d->p, len);
		d->p += len;
		n->bytes = b;
		n->nbytes = len;
		n->content = WA_CONTENT_BYTES;
		return Y_OK;
	}
	n->content = WA_CONTENT_VALUE;
	return read_value(d, t, &n->val, 1);
}

static int decode_node(const uint8_t *data, size_t len, int dict, size_t max_tree,
	struct wa_node **out)
{
	struct dec d = { data, data + len, dict, NULL, NULL, NULL };
	struct wa_node *root;
	int rc;

	*out = NULL;
	d.single = wa_tokens_single_table(dict, &d.single_len);
	if (!d.single)
		return Y_EINVAL;
	/* One arena chunk sized for the usual expansion of a stanza. */
	root = wa_node_new_root_sized(len * 4 + 512);
	if (!root)
		return Y_ENOMEM;
	d.a = root->arena;
	wa_arena_set_limit(d.a, max_tree);
	rc = read_node(&d, root, 0);
	root->arena = d.a;
	root->is_root = 1;
	if (!rc && d.p != d.end)
		rc = Y_EINVAL; /* leftover bytes */
	if (rc) {
		wa_node_free(root);
		return rc;
	}
	*out = root;
	return Y_OK;
}

int wa_binary_decode_node(const uint8_t *data, size_t len, int dict, struct wa_node **out)
{
	return decode_node(data, len, dict, WA_BINARY_MAX_TREE, out);
}

static int inflate_capped(const uint8_t *in, size_t len, size_t cap, uint8_t **out, size_t *outlen)
{
	z_stream zs;
	size_t size = len * 4 + 1024;
	uint8_t *buf;
	int zrc, rc = Y_OK;

	if (size > cap)
		size = cap;
	buf = malloc(size ? size : 1);
	if (!buf)
		return Y_ENOMEM;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK) {
		free(buf);
		return Y_ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	zs.next_out = buf;
	zs.avail_out = (uInt)size;
	for (;;) {
		zrc = inflate(&zs, Z_NO_FLUSH);
		if (zrc == Z_STREAM_END)
			break;
		if (zrc == Z_BUF_ERROR && zs.avail_in == 0) {
			rc = Y_ETRUNC;
			break;
		}
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			rc = zrc == Z_MEM_ERROR ? Y_ENOMEM : Y_EINVAL;
			break;
		}
		if (zs.avail_out == 0) {
			size_t used = size;
			uint8_t *nb;
			if (size >= cap) {
				rc = Y_ETOOBIG;
				break;
			}
			size = size * 2 > cap ? cap : size * 2;
			nb = realloc(buf, size);
			if (!nb) {
				rc = Y_ENOMEM;
				break;
			}
			buf = nb;
			zs.next_out = buf + used;
			zs.avail_out = (uInt)(size - used);
		}
	}
	if (!rc && (zs.avail_in != 0 || len > UINT32_MAX))
		rc = Y_EINVAL; /* bytes after the zlib stream */
	*outlen = zs.total_out;
	inflateEnd(&zs);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	return Y_OK;
}

int wa_binary_decode_limited(const uint8_t *data, size_t len, int dict, size_t max_tree,
	struct wa_node **out)
{
	uint8_t *plain;
	size_t plen;
	int rc;

	*out = NULL;
	if (len < 1)
		return Y_ETRUNC;
	if (!(data[0] & WA_BINARY_FLAG_ZLIB))
		return decode_node(data + 1, len - 1, dict, max_tree, out);
	rc = inflate_capped(data + 1, len - 1, WA_BINARY_MAX_INFLATE, &plain, &plen);
	if (rc)
		return rc;
	rc = decode_node(plain, plen, dict, max_tree, out);
	free(plain);
	return rc;
}

int wa_binary_decode(const uint8_t *data, size_t len, int dict, struct wa_node **out)
{
	return wa_binary_decode_limited(data, len, dict, WA_BINARY_MAX_TREE, out);
}
