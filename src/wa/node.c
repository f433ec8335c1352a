/*
 * Node trees: a bump arena per tree, builders, accessors and the text form.
 * See node.h.
 */
#include "wa/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"

struct chunk {
	struct chunk *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

struct wa_arena {
	struct chunk *head;
	size_t next_size;
	size_t total; /* bytes of all chunks */
	size_t limit; /* 0: none */
	int over;     /* an allocation failed because of limit */
};

#define CHUNK_MIN 1024
#define CHUNK_MAX (1u << 20)

static struct chunk *chunk_new(struct wa_arena *a, size_t size)
{
	struct chunk *c;

	if (a->limit && (size > a->limit || a->total > a->limit - size)) {
		a->over = 1;
		return NULL;
	}
	c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	a->total += size;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

void *wa_arena_alloc(struct wa_arena *a, size_t n)
{
	struct chunk *c = a->head;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	if (!c || c->size - c->used < need) {
		size_t size = a->next_size;
		if (need > size / 2) {
			/* a big block gets a chunk of its own behind the head */
			struct chunk *big = chunk_new(a, need);
			if (!big)
				return NULL;
			if (c) {
				big->next = c->next;
				c->next = big;
			} else {
				a->head = big;
			}
			big->used = need;
			return big->data;
		}
		c = chunk_new(a, size);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
		if (a->next_size < CHUNK_MAX)
			a->next_size *= 2;
	}
	p = (char *)c->data + c->used;
	c->used += need;
	return p;
}

void wa_arena_set_limit(struct wa_arena *a, size_t limit)
{
	a->limit = limit;
}

int wa_arena_over(const struct wa_arena *a)
{
	return a->over;
}

static void arena_free(struct wa_arena *a)
{
	struct chunk *c = a->head, *next;

	while (c) {
		next = c->next;
		free(c);
		c = next;
	}
}

static char *arena_strdup(struct wa_arena *a, const char *s, size_t len)
{
	char *p = wa_arena_alloc(a, len + 1);

	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = 0;
	return p;
}

struct wa_node *wa_node_new_root_sized(size_t hint)
{
	struct wa_arena tmp = { NULL, CHUNK_MIN, 0, 0, 0 };
	struct wa_arena *a;
	struct wa_node *n;

	if (hint > CHUNK_MAX)
		hint = CHUNK_MAX;
	while (tmp.next_size < hint)
		tmp.next_size *= 2;
	a = wa_arena_alloc(&tmp, sizeof(*a));
	n = a ? wa_arena_alloc(&tmp, sizeof(*n)) : NULL;
	if (!n) {
		arena_free(&tmp);
		return NULL;
	}
	*a = tmp;
	memset(n, 0, sizeof(*n));
	n->arena = a;
	n->is_root = 1;
	n->tag = "";
	return n;
}

struct wa_node *wa_node_new(const char *tag)
{
	struct wa_node *n = wa_node_new_root_sized(CHUNK_MIN);
	size_t len = strlen(tag);

	if (!n)
		return NULL;
	n->tag = arena_strdup(n->arena, tag, len);
	n->tag_len = (uint32_t)len;
	if (!n->tag) {
		wa_node_free(n);
		return NULL;
	}
	return n;
}

void wa_node_free(struct wa_node *root)
{
	struct wa_arena a;

	if (!root)
		return;
	if (!root->is_root)
		BUG("wa_node_free on a non-root node");
	a = *root->arena; /* the arena struct lives inside its own chunks */
	arena_free(&a);
}

/* Grows an arena array of pointers/structs (old storage stays in the arena). */
static void *grow(struct wa_arena *a, void *old, uint32_t count, uint32_t *cap, size_t elem)
{
	uint32_t ncap;
	void *p;

	if (count < *cap)
		return old;
	if (count >= UINT32_MAX / 2)
		return NULL;
	ncap = *cap ? *cap * 2 : 4;
	p = wa_arena_alloc(a, ncap * elem);
	if (!p)
		return NULL;
	if (count)
		memcpy(p, old, count * elem);
	*cap = ncap;
	return p;
}

struct wa_node *wa_node_add_child(struct wa_node *parent, const char *tag)
{
	struct wa_arena *a = parent->arena;
	struct wa_node **kids, *c;
	size_t len = strlen(tag);

	if (parent->content != WA_CONTENT_NONE && parent->content != WA_CONTENT_LIST)
		return NULL;
	kids = grow(a, parent->kids, parent->nkids, &parent->kids_cap, sizeof(*kids));
	c = kids ? wa_arena_alloc(a, sizeof(*c)) : NULL;
	if (!c)
		return NULL;
	parent->kids = kids;
	memset(c, 0, sizeof(*c));
	c->arena = a;
	c->tag = arena_strdup(a, tag, len);
	if (!c->tag)
		return NULL;
	c->tag_len = (uint32_t)len;
	parent->content = WA_CONTENT_LIST;
	parent->kids[parent->nkids++] = c;
	return c;
}

static struct wa_attr *new_attr(struct wa_node *n, const char *key, size_t key_len)
{
	struct wa_attr *attrs, *at;

	if (key_len > UINT32_MAX)
		return NULL;
	attrs = grow(n->arena, n->attrs, n->nattrs, &n->attrs_cap, sizeof(*attrs));
	if (!attrs)
		return NULL;
	n->attrs = attrs;
	at = &attrs[n->nattrs];
	memset(at, 0, sizeof(*at));
	at->key = arena_strdup(n->arena, key, key_len);
	if (!at->key)
		return NULL;
	at->key_len = (uint32_t)key_len;
	n->nattrs++;
	return at;
}

static int set_str_val(struct wa_arena *a, struct wa_val *v, const char *s, size_t len)
{
	if (len > UINT32_MAX)
		return Y_ETOOBIG;
	v->str = arena_strdup(a, s, len);
	if (!v->str)
		return Y_ENOMEM;
	v->len = (uint32_t)len;
	v->type = WA_VAL_STR;
	return Y_OK;
}

/* Copies jid into the arena and renders its text form. */
static int set_jid_val(struct wa_arena *a, struct wa_val *v, const struct wa_jid *jid)
{
	struct wa_jid j = *jid;
	size_t tlen = wa_jid_text_len(jid);
	char *t;

	j.user_jid = j.server_jid = NULL; /* parts are copied as strings */
	j.user = arena_strdup(a, jid->user, jid->user_len);
	j.server = arena_strdup(a, jid->server, jid->server_len);
	t = wa_arena_alloc(a, tlen + 1);
	if (!j.user || !j.server || !t)
		return Y_ENOMEM;
	if (wa_jid_to_str(&j, t, tlen + 1) < 0)
		return Y_EINVAL;
	v->type = WA_VAL_JID;
	v->jid = j;
	v->str = t;
	v->len = (uint32_t)tlen;
	return Y_OK;
}

int wa_node_add_attr_len(struct wa_node *n, const char *key, size_t key_len,
	const char *value, size_t value_len)
{
	struct wa_attr *at = new_attr(n, key, key_len);

	if (!at)
		return Y_ENOMEM;
	return set_str_val(n->arena, &at->val, value, value_len);
}

int wa_node_add_attr(struct wa_node *n, const char *key, const char *value)
{
	return wa_node_add_attr_len(n, key, strlen(key), value, strlen(value));
}

int wa_node_add_attr_jid(struct wa_node *n, const char *key, const struct wa_jid *jid)
{
	struct wa_attr *at = new_attr(n, key, strlen(key));

	if (!at)
		return Y_ENOMEM;
	return set_jid_val(n->arena, &at->val, jid);
}

static int can_set(struct wa_node *n)
{
	return !(n->content == WA_CONTENT_LIST && n->nkids);
}

int wa_node_set_bytes(struct wa_node *n, const void *data, size_t len)
{
	uint8_t *p;

	if (!can_set(n))
		return Y_EINVAL;
	p = wa_arena_alloc(n->arena, len ? len : 1);
	if (!p)
		return Y_ENOMEM;
	if (len)
		memcpy(p, data, len);
	n->bytes = p;
	n->nbytes = len;
	n->content = WA_CONTENT_BYTES;
	return Y_OK;
}

int wa_node_set_text(struct wa_node *n, const char *s, size_t len)
{
	int rc;

	if (!can_set(n))
		return Y_EINVAL;
	rc = set_str_val(n->arena, &n->val, s, len);
	if (!rc)
		n->content = WA_CONTENT_VALUE;
	return rc;
}

int wa_node_set_jid(struct wa_node *n, const struct wa_jid *jid)
{
	int rc;

	if (!can_set(n))
		return Y_EINVAL;
	rc = set_jid_val(n->arena, &n->val, jid);
	if (!rc)
		n->content = WA_CONTENT_VALUE;
	return rc;
}

int wa_node_set_empty_list(struct wa_node *n)
{
	if (!can_set(n))
		return Y_EINVAL;
	n->content = WA_CONTENT_LIST;
	n->nkids = 0;
	return Y_OK;
}

static int name_is(const char *s, uint32_t len, const char *lit)
{
	size_t l = strlen(lit);

	return l == len && memcmp(s, lit, l) == 0;
}

int wa_node_is(const struct wa_node *n, const char *tag)
{
	return name_is(n->tag, n->tag_len, tag);
}

const struct wa_val *wa_node_attr_val(const struct wa_node *n, const char *key)
{
	size_t l = strlen(key);

	for (uint32_t i = 0; i < n->nattrs; i++)
		if (n->attrs[i].key_len == l && memcmp(n->attrs[i].key, key, l) == 0)
			return &n->attrs[i].val;
	return NULL;
}

const char *wa_node_attr(const struct wa_node *n, const char *key)
{
	const struct wa_val *v = wa_node_attr_val(n, key);

	return v ? v->str : NULL;
}

int wa_node_attr_jid(const struct wa_node *n, const char *key, struct wa_jid *out)
{
	const struct wa_val *v = wa_node_attr_val(n, key);

	if (!v)
		return Y_ENOTFOUND;
	if (v->type == WA_VAL_JID) {
		*out = v->jid;
		return Y_OK;
	}
	return wa_jid_parse(v->str, v->len, out);
}

int wa_node_attr_u64(const struct wa_node *n, const char *key, uint64_t *out)
{
	const struct wa_val *v = wa_node_attr_val(n, key);
	uint64_t x = 0;

	if (!v)
		return Y_ENOTFOUND;
	if (v->len == 0 || v->len > 20)
		return Y_EINVAL;
	for (uint32_t i = 0; i < v->len; i++) {
		unsigned d = (unsigned)(v->str[i] - '0');
		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return Y_EINVAL;
		x = x * 10 + d;
	}
	*out = x;
	return Y_OK;
}

struct wa_node *wa_node_child_nth(const struct wa_node *n, const char *tag, size_t nth)
{
	if (n->content != WA_CONTENT_LIST)
		return NULL;
	for (uint32_t i = 0; i < n->nkids; i++)
		if (wa_node_is(n->kids[i], tag) && nth-- == 0)
			return n->kids[i];
	return NULL;
}

struct wa_node *wa_node_child(const struct wa_node *n, const char *tag)
{
	return wa_node_child_nth(n, tag, 0);
}

const uint8_t *wa_node_bytes(const struct wa_node *n, size_t *len)
{
	if (n->content != WA_CONTENT_BYTES) {
		*len = 0;
		return NULL;
	}
	*len = n->nbytes;
	return n->bytes;
}

/* ---- text form ---- */

static int put_escaped(struct ybuf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;
	int rc = 0;

	for (size_t i = 0; i < len && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>')
			continue;
		if (c >= 0x80)
			continue; /* UTF-8 passes through */
		rc = ybuf_append(out, s + start, i - start);
		if (!rc) {
			char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
			rc = ybuf_append(out, esc, 4);
		}
		start = i + 1;
	}
	if (!rc)
		rc = ybuf_append(out, s + start, len - start);
	return rc;
}

static int text(const struct wa_node *n, struct ybuf *out, int depth)
{
	int rc;

	if (depth > 256)
		return Y_ETOOBIG;
	rc = ybuf_append_byte(out, '<');
	if (!rc)
		rc = put_escaped(out, n->tag, n->tag_len);
	for (uint32_t i = 0; i < n->nattrs && !rc; i++) {
		const struct wa_attr *at = &n->attrs[i];
		rc = ybuf_append_byte(out, ' ');
		if (!rc)
			rc = put_escaped(out, at->key, at->key_len);
		if (!rc)
			rc = ybuf_append(out, "=\"", 2);
		if (!rc)
			rc = put_escaped(out, at->val.str, at->val.len);
		if (!rc)
			rc = ybuf_append_byte(out, '"');
	}
	if (rc)
		return rc;
	if (n->content == WA_CONTENT_NONE)
		return ybuf_append(out, "/>", 2);
	rc = ybuf_append_byte(out, '>');
	if (rc)
		return rc;
	switch (n->content) {
	case WA_CONTENT_LIST:
		for (uint32_t i = 0; i < n->nkids && !rc; i++)
			rc = text(n->kids[i], out, depth + 1);
		break;
	case WA_CONTENT_BYTES:
		if (n->nbytes <= 32) {
			rc = ybuf_append(out, "{hex:", 5);
			for (size_t i = 0; i < n->nbytes && !rc; i++)
				rc = ybuf_printf(out, "%02x", n->bytes[i]);
			if (!rc)
				rc = ybuf_append_byte(out, '}');
		} else {
			rc = ybuf_printf(out, "{bytes:%zu}", n->nbytes);
		}
		break;
	default:
		rc = ybuf_append_byte(out, '"');
		if (!rc)
			rc = put_escaped(out, n->val.str, n->val.len);
		if (!rc)
			rc = ybuf_append_byte(out, '"');
		break;
	}
	if (!rc)
		rc = ybuf_append(out, "</", 2);
	if (!rc)
		rc = put_escaped(out, n->tag, n->tag_len);
	if (!rc)
		rc = ybuf_append_byte(out, '>');
	return rc;
}

int wa_node_to_text(const struct wa_node *n, struct ybuf *out)
{
	return text(n, out, 0);
}

static int val_equal(const struct wa_val *a, const struct wa_val *b)
{
	if (a->type != b->type)
		return 0;
	if (a->type == WA_VAL_JID)
		return wa_jid_equal(&a->jid, &b->jid);
	return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

int wa_node_equal(const struct wa_node *a, const struct wa_node *b)
{
	if (a->tag_len != b->tag_len || memcmp(a->tag, b->tag, a->tag_len) ||
	    a->nattrs != b->nattrs || a->content != b->content)
		return 0;
	for (uint32_t i = 0; i < a->nattrs; i++) {
		const struct wa_attr *x = &a->attrs[i], *y = &b->attrs[i];
		if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) ||
		    !val_equal(&x->val, &y->val))
			return 0;
	}
	switch (a->content) {
	case WA_CONTENT_LIST:
		if (a->nkids != b->nkids)
			return 0;
		for (uint32_t i = 0; i < a->nkids; i++)
			if (!wa_node_equal(a->kids[i], b->kids[i]))
				return 0;
		return 1;
	case WA_CONTENT_BYTES:
		return a->nbytes == b->nbytes && (a->nbytes == 0 ||
			memcmp(a->bytes, b->bytes, a->nbytes) == 0);
	case WA_CONTENT_VALUE:
		return val_equal(&a->val, &b->val);
	default:
		return 1;
	}
}
