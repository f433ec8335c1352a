/*
 * The in-memory wa_signal_store: one chained hash table over (kind, key).
 * Entries own copies of their key and record; the table doubles when it
 * holds more entries than buckets.
 */
#include "wa/signal_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct mem_entry {
	struct mem_entry *next;
	enum wa_signal_kind kind;
	uint8_t *data;
	size_t len;
	char key[]; /* NUL-terminated */
};

struct mem_store {
	struct mem_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	size_t per_kind[WA_SIGNAL_KIND_COUNT];
};

static uint64_t mem_hash(enum wa_signal_kind kind, const char *key)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;

	for (; *key; key++) {
		h ^= (uint8_t)*key;
		h *= 1099511628211ull;
	}
	return h;
}

static struct mem_entry **mem_find(struct mem_store *m, enum wa_signal_kind kind, const char *key)
{
	struct mem_entry **pp = &m->buckets[mem_hash(kind, key) & (m->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->kind == kind && !strcmp((*pp)->key, key))
			break;
	return pp;
}

static int mem_grow(struct mem_store *m)
{
	size_t n = m->nbuckets * 2;
	struct mem_entry **nb;

	if (n > SIZE_MAX / sizeof *nb)
		return Y_ENOMEM;
	nb = calloc(n, sizeof *nb);
	if (!nb)
		return Y_ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct mem_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			size_t b = mem_hash(e->kind, e->key) & (n - 1);
			next = e->next;
			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(m->buckets);
	m->buckets = nb;
	m->nbuckets = n;
	return 0;
}

static int mem_load(void *ud, enum wa_signal_kind kind, const char *key, struct ybuf *out)
{
	struct mem_entry *e = *mem_find(ud, kind, key);

	if (!e)
		return Y_ENOTFOUND;
	return ybuf_append(out, e->data, e->len);
}

static int mem_save(void *ud, enum wa_signal_kind kind, const char *key, const uint8_t *data,
		    size_t len)
{
	struct mem_store *m = ud;
	struct mem_entry **pp, *e;
	size_t klen = strlen(key);
	uint8_t *copy;

	if (len > WA_SIGNAL_STORE_RECORD_MAX || klen > WA_SIGNAL_STORE_KEY_MAX ||
	    (unsigned)kind >= WA_SIGNAL_KIND_COUNT)
		return Y_ETOOBIG;
	copy = malloc(len ? len : 1);
	if (!copy)
		return Y_ENOMEM;
	if (len)
		memcpy(copy, data, len);
	pp = mem_find(m, kind, key);
	if (*pp) {
		free((*pp)->data);
		(*pp)->data = copy;
		(*pp)->len = len;
		return 0;
	}
	e = malloc(sizeof *e + klen + 1);
	if (!e) {
		free(copy);
		return Y_ENOMEM;
	}
	memcpy(e->key, key, klen + 1);
	e->kind = kind;
	e->data = copy;
	e->len = len;
	e->next = NULL;
	*pp = e;
	m->count++;
	m->per_kind[kind]++;
	if (m->count > m->nbuckets)
		(void)mem_grow(m); /* a full table is slower, not wrong */
	return 0;
}

static int mem_remove(void *ud, enum wa_signal_kind kind, const char *key)
{
	struct mem_store *m = ud;
	struct mem_entry **pp = mem_find(m, kind, key), *e = *pp;

	if (!e)
		return 0;
	*pp = e->next;
	free(e->data);
	free(e);
	m->count--;
	m->per_kind[kind]--;
	return 0;
}

static int mem_each(void *ud, enum wa_signal_kind kind, const char *prefix,
		    wa_signal_store_each_fn fn, void *arg)
{
	struct mem_store *m = ud;
	size_t plen = strlen(prefix);

	for (size_t i = 0; i < m->nbuckets; i++)
		for (struct mem_entry *e = m->buckets[i]; e; e = e->next)
			if (e->kind == kind && !strncmp(e->key, prefix, plen)) {
				int rc = fn(e->key, arg);
				if (rc)
					return rc;
			}
	return 0;
}

static void mem_destroy(void *ud)
{
	struct mem_store *m = ud;

	if (!m)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct mem_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e->data);
			free(e);
		}
	}
	free(m->buckets);
	free(m);
}

struct wa_signal_store *wa_signal_memstore_new(void)
{
	struct wa_signal_store *st = calloc(1, sizeof *st);
	struct mem_store *m = calloc(1, sizeof *m);

	if (!st || !m)
		goto fail;
	m->nbuckets = 64;
	m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
	if (!m->buckets)
		goto fail;
	st->ud = m;
	st->load = mem_load;
	st->save = mem_save;
	st->remove = mem_remove;
	st->each = mem_each;
	st->destroy = mem_destroy;
	return st;
fail:
	if (m)
		free(m->buckets);
	free(m);
	free(st);
	return NULL;
}

size_t wa_signal_memstore_count(const struct wa_signal_store *st, enum wa_signal_kind kind)
{
	const struct mem_store *m;

	if (!st || st->load != mem_load || (unsigned)kind >= WA_SIGNAL_KIND_COUNT)
		return 0;
	m = st->ud;
	return m->per_kind[kind];
}

void wa_signal_store_free(struct wa_signal_store *st)
{
	if (!st)
		return;
	if (st->destroy)
		st->destroy(st->ud);
	free(st);
}
