/*
 * The Signal cache in front of the store (see signal_db.h).
 *
 * One chained hash table over (session, kind, key) holds every entry; each
 * entry is also on one of two lists, the clean LRU (front: most recently
 * used) or the dirty list, and on its session's list (for `each` and
 * sigdb_drop_session). A session is a refcounted node (its open store, each
 * of its entries and each in-flight flush write hold a reference), so
 * entries outlive the client that made them. Records hold private keys and
 * chain keys: every copy is wiped before it is freed.
 *
 * Only load and save evict (on the loop thread); a flush only marks entries
 * clean. A one-time prekey written by its session (made for an upload) is
 * cold: once clean it goes to the LRU's far end and the next eviction drops
 * it whatever the budget, as it is read at most once (by the pkmsg that uses
 * it, a miss then); a load that finds it makes it an ordinary entry. So nothing disappears from the cache while the loop is between
 * reading the database and looking at the cache (see sig_each).
 */
#include "service/signal_db.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "wa/crypto.h"

struct node {
	struct node *next;
	size_t refs;
	struct entry *ents; /* this session's entries (sprev/snext) */
	char id[STORE_ID_LEN];
};

struct entry {
	struct entry *hnext;       /* hash chain */
	struct entry *prev, *next; /* the LRU or the dirty list */
	struct entry *sprev, *snext;
	struct node *node;
	uint8_t *data;             /* NULL when absent */
	size_t len;
	uint64_t seq;              /* of the last write (dirty entries) */
	int kind;
	unsigned absent : 1, dirty : 1, cold : 1;
	char key[];
};

struct sigdb {
	pthread_mutex_t mu;
	struct store *reader;
	size_t budget;
	void (*on_dirty)(void *ud);
	void *ud;
	struct entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	/* sentinels of circular lists (allocated: an entry ends in a flexible
	 * array, so it cannot be a member) */
	struct entry *lru, *dirty;
	struct node **nodes; /* hash of the sessions open, by id */
	size_t nnodes, nnode_buckets; /* nnode_buckets: a power of two */
	size_t bytes, dirty_bytes;
	uint64_t seq, durable;
	uint64_t hits, misses, evictions, flushed;
	int flushing;
};

struct handle {
	struct sigdb *db;
	struct node *node;
};

/* ---- lists, hashing, accounting ---- */

static void list_init(struct entry *head)
{
	head->prev = head->next = head;
}

static int list_empty(const struct entry *head)
{
	return head->next == head;
}

static void list_unlink(struct entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

static void list_push_front(struct entry *head, struct entry *e)
{
	e->next = head->next;
	e->prev = head;
	head->next->prev = e;
	head->next = e;
}

static void list_push_back(struct entry *head, struct entry *e)
{
	e->prev = head->prev;
	e->next = head;
	head->prev->next = e;
	head->prev = e;
}

/* A clean entry onto the LRU: cold ones at the end evicted first. */
static void lru_put(struct sigdb *db, struct entry *e)
{
	if (e->cold)
		list_push_back(db->lru, e);
	else
		list_push_front(db->lru, e);
}

static size_t cost(const struct entry *e)
{
	return sizeof(*e) + strlen(e->key) + 1 + e->len;
}

/* Adds (sign 1) or takes away (-1) e's bytes from the totals. */
static void account(struct sigdb *db, const struct entry *e, int sign)
{
	size_t c = cost(e);

	if (sign > 0) {
		db->bytes += c;
		if (e->dirty)
			db->dirty_bytes += c;
	} else {
		db->bytes -= c;
		if (e->dirty)
			db->dirty_bytes -= c;
	}
}

static uint64_t hash(const struct node *n, int kind, const char *key)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)n;

	h = (h ^ (uint64_t)kind) * 1099511628211ull;
	for (; *key; key++) {
		h ^= (uint8_t)*key;
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static struct entry **find(struct sigdb *db, const struct node *n, int kind, const char *key)
{
	struct entry **pp = &db->buckets[hash(n, kind, key) & (db->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->node == n && (*pp)->kind == kind && !strcmp((*pp)->key, key))
			break;
	return pp;
}

static void grow(struct sigdb *db)
{
	size_t nb = db->nbuckets * 2;
	struct entry **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < db->nbuckets; i++) {
		struct entry *e = db->buckets[i], *next;
		for (; e; e = next) {
			size_t j = hash(e->node, e->kind, e->key) & (nb - 1);
			next = e->hnext;
			e->hnext = b[j];
			b[j] = e;
		}
	}
	free(db->buckets);
	db->buckets = b;
	db->nbuckets = nb;
}

/* ---- sessions ---- */

static size_t node_bucket(const struct sigdb *db, const char *id)
{
	uint64_t h = 1469598103934665603ull;

	for (; *id; id++) {
		h ^= (uint8_t)*id;
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 29)) & (db->nnode_buckets - 1);
}

static struct node *node_find(struct sigdb *db, const char *id)
{
	for (struct node *n = db->nodes[node_bucket(db, id)]; n; n = n->next)
		if (!strcmp(n->id, id))
			return n;
	return NULL;
}

/* Doubles the session hash once it holds more sessions than buckets (a
 * failed allocation keeps longer chains, still correct). */
static void node_grow(struct sigdb *db)
{
	size_t old = db->nnode_buckets;
	struct node **b, **prev = db->nodes;

	if (db->nnodes < old || !(b = calloc(old * 2, sizeof(*b))))
		return;
	db->nodes = b;
	db->nnode_buckets = old * 2;
	for (size_t i = 0; i < old; i++)
		for (struct node *n = prev[i], *next; n; n = next) {
			size_t j = node_bucket(db, n->id);

			next = n->next;
			n->next = b[j];
			b[j] = n;
		}
	free(prev);
}

static void node_unref(struct sigdb *db, struct node *n)
{
	if (--n->refs)
		return;
	for (struct node **pp = &db->nodes[node_bucket(db, n->id)]; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	db->nnodes--;
	free(n);
}

/* ---- entries ---- */

static void set_data(struct entry *e, uint8_t *data, size_t len)
{
	if (e->data) {
		wa_wipe(e->data, e->len);
		free(e->data);
	}
	e->data = data;
	e->len = data ? len : 0;
	e->absent = !data;
}

/* A new clean entry (data owned, NULL for absent), linked everywhere. */
static struct entry *entry_add(struct sigdb *db, struct node *n, int kind, const char *key,
			       uint8_t *data, size_t len)
{
	size_t klen = strlen(key);
	struct entry *e = calloc(1, sizeof(*e) + klen + 1);
	struct entry **pp;

	if (!e)
		return NULL;
	memcpy(e->key, key, klen + 1);
	e->kind = kind;
	e->node = n;
	n->refs++;
	set_data(e, data, len);
	pp = find(db, n, kind, key);
	e->hnext = *pp;
	*pp = e;
	list_push_front(db->lru, e);
	e->snext = n->ents;
	if (n->ents)
		n->ents->sprev = e;
	n->ents = e;
	db->count++;
	account(db, e, 1);
	if (db->count > db->nbuckets)
		grow(db);
	return e;
}

static void entry_free(struct sigdb *db, struct entry *e)
{
	struct entry **pp = find(db, e->node, e->kind, e->key);

	*pp = e->hnext;
	list_unlink(e);
	if (e->sprev)
		e->sprev->snext = e->snext;
	else
		e->node->ents = e->snext;
	if (e->snext)
		e->snext->sprev = e->sprev;
	account(db, e, -1);
	db->count--;
	set_data(e, NULL, 0);
	node_unref(db, e->node);
	free(e);
}

/* Marks e written now; 1 if the dirty list was empty before. */
static int mark_dirty(struct sigdb *db, struct entry *e)
{
	int first = list_empty(db->dirty);

	e->seq = ++db->seq;
	if (e->dirty)
		return 0;
	account(db, e, -1);
	e->dirty = 1;
	account(db, e, 1);
	list_unlink(e);
	list_push_front(db->dirty, e);
	return first;
}

static void mark_clean(struct sigdb *db, struct entry *e)
{
	account(db, e, -1);
	e->dirty = 0;
	e->seq = 0;
	account(db, e, 1);
	list_unlink(e);
	lru_put(db, e);
}

static void touch(struct sigdb *db, struct entry *e)
{
	if (!e->dirty) {
		list_unlink(e);
		lru_put(db, e);
	}
}

/* Drops least recently used clean entries while over budget, and the cold
 * ones at the LRU's end at any time, except keep (loop thread). */
static void evict(struct sigdb *db, const struct entry *keep)
{
	for (struct entry *e = db->lru->prev, *prev; e != db->lru; e = prev) {
		prev = e->prev;
		if (db->bytes <= db->budget && !e->cold)
			break;
		if (e != keep) {
			entry_free(db, e);
			db->evictions++;
		}
	}
}

/* ---- the wa_signal_store calls ---- */

static int kind_ok(enum wa_signal_kind kind)
{
	return (unsigned)kind < WA_SIGNAL_KIND_COUNT && (int)kind < STORE_SIGNAL_KINDS;
}

static int sig_load(void *ud, enum wa_signal_kind kind, const char *key, struct ybuf *out)
{
	struct handle *h = ud;
	struct sigdb *db = h->db;
	struct entry *e;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	if (!kind_ok(kind) || strlen(key) > WA_SIGNAL_STORE_KEY_MAX)
		return Y_ENOTFOUND;
	pthread_mutex_lock(&db->mu);
	e = *find(db, h->node, (int)kind, key);
	if (e) {
		db->hits++;
		e->cold = 0; /* read: no longer known to be read at most once */
		touch(db, e);
		rc = e->absent ? Y_ENOTFOUND : ybuf_append(out, e->data, e->len);
		evict(db, e); /* over budget since a flush made entries clean */
		pthread_mutex_unlock(&db->mu);
		return rc;
	}
	db->misses++;
	pthread_mutex_unlock(&db->mu);

	rc = store_signal_get(db->reader, h->node->id, (int)kind, key, &data, &len);
	if (rc && rc != Y_ENOTFOUND)
		return rc;

	pthread_mutex_lock(&db->mu);
	e = *find(db, h->node, (int)kind, key);
	if (e) { /* written meanwhile (from another thread): the cache wins */
		wa_wipe(data, len);
		free(data);
		rc = e->absent ? Y_ENOTFOUND : ybuf_append(out, e->data, e->len);
	} else {
		rc = data ? ybuf_append(out, data, len) : Y_ENOTFOUND;
		e = entry_add(db, h->node, (int)kind, key, data, len);
		if (!e) {
			wa_wipe(data, len);
			free(data);
		}
		evict(db, e);
	}
	pthread_mutex_unlock(&db->mu);
	return rc;
}

/* Sets (data) or removes (data NULL) a record: the common half of save and remove. */
static int sig_write(struct handle *h, int kind, const char *key, uint8_t *copy, size_t len)
{
	struct sigdb *db = h->db;
	struct entry *e;
	int first;

	pthread_mutex_lock(&db->mu);
	e = *find(db, h->node, kind, key);
	if (e && (copy ? !e->absent && e->len == len && !memcmp(e->data, copy, len) : e->absent)) {
		/* unchanged (a re-import, a removal of what is gone) */
		touch(db, e);
		pthread_mutex_unlock(&db->mu);
		if (copy) {
			wa_wipe(copy, len);
			free(copy);
		}
		return 0;
	}
	if (e) {
		account(db, e, -1);
		set_data(e, copy, len);
		account(db, e, 1);
	} else {
		e = entry_add(db, h->node, kind, key, copy, len);
		if (!e) {
			pthread_mutex_unlock(&db->mu);
			if (copy) {
				wa_wipe(copy, len);
				free(copy);
			}
			return Y_ENOMEM;
		}
	}
	e->cold = kind == WA_SIGNAL_PREKEY;
	first = mark_dirty(db, e);
	evict(db, e);
	pthread_mutex_unlock(&db->mu);
	if (first && db->on_dirty)
		db->on_dirty(db->ud);
	return 0;
}

static int sig_save(void *ud, enum wa_signal_kind kind, const char *key, const uint8_t *data,
		    size_t len)
{
	uint8_t *copy;

	if (len > WA_SIGNAL_STORE_RECORD_MAX || strlen(key) > WA_SIGNAL_STORE_KEY_MAX ||
	    !kind_ok(kind))
		return Y_ETOOBIG;
	copy = malloc(len ? len : 1);
	if (!copy)
		return Y_ENOMEM;
	if (len)
		memcpy(copy, data, len);
	return sig_write(ud, (int)kind, key, copy, len);
}

static int sig_remove(void *ud, enum wa_signal_kind kind, const char *key)
{
	if (!kind_ok(kind) || strlen(key) > WA_SIGNAL_STORE_KEY_MAX)
		return 0; /* nothing can be stored under it */
	return sig_write(ud, (int)kind, key, NULL, 0);
}

struct keylist {
	char **k;
	size_t n, cap;
};

static int keylist_add(const char *key, void *arg)
{
	struct keylist *l = arg;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **nk = realloc(l->k, nc * sizeof(*nk));
		if (!nk)
			return Y_ENOMEM;
		l->k = nk;
		l->cap = nc;
	}
	l->k[l->n] = strdup(key);
	if (!l->k[l->n])
		return Y_ENOMEM;
	l->n++;
	return 0;
}

static void keylist_free(struct keylist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->k[i]);
	free(l->k);
}

/*
 * The database's keys, overruled by the cache: a key the cache holds is
 * listed if it holds a record (not if it holds a pending removal), and the
 * cache's own new keys are added. Nothing is evicted between the read and
 * the merge, since only this thread evicts.
 */
static int sig_each(void *ud, enum wa_signal_kind kind, const char *prefix,
		    wa_signal_store_each_fn fn, void *arg)
{
	struct handle *h = ud;
	struct sigdb *db = h->db;
	struct keylist from_db = { 0 }, all = { 0 };
	size_t plen = strlen(prefix);
	int rc;

	if (!kind_ok(kind))
		return 0;
	rc = store_signal_keys(db->reader, h->node->id, (int)kind, prefix, keylist_add, &from_db);
	if (rc)
		goto out;
	pthread_mutex_lock(&db->mu);
	for (size_t i = 0; !rc && i < from_db.n; i++)
		if (!*find(db, h->node, (int)kind, from_db.k[i]))
			rc = keylist_add(from_db.k[i], &all);
	for (struct entry *e = h->node->ents; !rc && e; e = e->snext)
		if (e->kind == (int)kind && !e->absent && !strncmp(e->key, prefix, plen))
			rc = keylist_add(e->key, &all);
	pthread_mutex_unlock(&db->mu);
	for (size_t i = 0; !rc && i < all.n; i++)
		rc = fn(all.k[i], arg);
out:
	keylist_free(&from_db);
	keylist_free(&all);
	return rc;
}

static void sig_destroy(void *ud)
{
	struct handle *h = ud;

	if (!h)
		return;
	pthread_mutex_lock(&h->db->mu);
	node_unref(h->db, h->node);
	pthread_mutex_unlock(&h->db->mu);
	free(h);
}

/* ---- the cache ---- */

struct sigdb *sigdb_new(struct store *reader, size_t budget, void (*on_dirty)(void *ud), void *ud)
{
	struct sigdb *db;

	if (!reader)
		return NULL;
	db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	db->nbuckets = 256;
	db->buckets = calloc(db->nbuckets, sizeof(*db->buckets));
	db->nnode_buckets = 64;
	db->nodes = calloc(db->nnode_buckets, sizeof(*db->nodes));
	db->lru = calloc(1, sizeof(*db->lru));
	db->dirty = calloc(1, sizeof(*db->dirty));
	if (!db->buckets || !db->nodes || !db->lru || !db->dirty) {
		free(db->nodes);
		free(db->buckets);
		free(db->lru);
		free(db->dirty);
		free(db);
		return NULL;
	}
	pthread_mutex_init(&db->mu, NULL);
	db->reader = reader;
	db->budget = budget ? budget : SIGDB_DEFAULT_BUDGET;
	db->on_dirty = on_dirty;
	db->ud = ud;
	list_init(db->lru);
	list_init(db->dirty);
	return db;
}

void sigdb_free(struct sigdb *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->nbuckets; i++)
		while (db->buckets[i])
			entry_free(db, db->buckets[i]);
	for (size_t i = 0; i < db->nnode_buckets; i++)
		while (db->nodes[i]) { /* stores still open: a caller's bug, but free them */
			struct node *n = db->nodes[i];
			db->nodes[i] = n->next;
			free(n);
		}
	free(db->nodes);
	free(db->buckets);
	free(db->lru);
	free(db->dirty);
	pthread_mutex_destroy(&db->mu);
	free(db);
}

struct wa_signal_store *sigdb_session_open(struct sigdb *db, const char *session_id)
{
	struct wa_signal_store *st;
	struct handle *h;
	struct node *n;

	if (!db || !session_id || !*session_id || strlen(session_id) >= STORE_ID_LEN)
		return NULL;
	st = calloc(1, sizeof(*st));
	h = calloc(1, sizeof(*h));
	if (!st || !h)
		goto fail;
	pthread_mutex_lock(&db->mu);
	n = node_find(db, session_id);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&db->mu);
			goto fail;
		}
		snprintf(n->id, sizeof(n->id), "%s", session_id);
		node_grow(db);
		n->next = db->nodes[node_bucket(db, n->id)];
		db->nodes[node_bucket(db, n->id)] = n;
		db->nnodes++;
	}
	n->refs++;
	pthread_mutex_unlock(&db->mu);
	h->db = db;
	h->node = n;
	st->ud = h;
	st->load = sig_load;
	st->save = sig_save;
	st->remove = sig_remove;
	st->each = sig_each;
	st->destroy = sig_destroy;
	return st;
fail:
	free(h);
	free(st);
	return NULL;
}

void sigdb_drop_session(struct sigdb *db, const char *session_id)
{
	struct node *n;

	if (!db || !session_id)
		return;
	pthread_mutex_lock(&db->mu);
	n = node_find(db, session_id);
	if (n) {
		n->refs++; /* keep it while its last entries go */
		while (n->ents)
			entry_free(db, n->ents);
		node_unref(db, n);
	}
	pthread_mutex_unlock(&db->mu);
}

/* One collected write: copies, and a reference on the session. */
struct pending {
	struct node *node;
	uint64_t seq;
	char *key;
};

int sigdb_flush(struct sigdb *db, struct store *writer, size_t *written)
{
	struct store_signal_op *ops = NULL;
	struct pending *p = NULL;
	uint64_t snapshot;
	size_t n = 0, cap = 0;
	int rc = 0, again;

	if (written)
		*written = 0;
	pthread_mutex_lock(&db->mu);
	if (db->flushing) {
		pthread_mutex_unlock(&db->mu);
		return Y_EBUSY;
	}
	for (struct entry *e = db->dirty->next; e != db->dirty; e = e->next)
		cap++;
	if (cap) {
		ops = calloc(cap, sizeof(*ops));
		p = calloc(cap, sizeof(*p));
		if (!ops || !p)
			rc = Y_ENOMEM;
	}
	for (struct entry *e = db->dirty->next; !rc && e != db->dirty; e = e->next) {
		uint8_t *copy = NULL;

		p[n].key = strdup(e->key);
		if (!e->absent && !(copy = malloc(e->len ? e->len : 1)))
			rc = Y_ENOMEM;
		if (!p[n].key || rc) {
			free(p[n].key);
			free(copy);
			rc = Y_ENOMEM;
			break;
		}
		if (copy && e->len)
			memcpy(copy, e->data, e->len);
		p[n].node = e->node;
		p[n].seq = e->seq;
		e->node->refs++;
		ops[n].session_id = e->node->id;
		ops[n].kind = e->kind;
		ops[n].key = p[n].key;
		ops[n].data = copy;
		ops[n].len = e->len;
		n++;
	}
	snapshot = db->seq;
	db->flushing = !rc;
	pthread_mutex_unlock(&db->mu);

	if (!rc)
		rc = store_signal_write(writer, ops, n);

	pthread_mutex_lock(&db->mu);
	for (size_t i = 0; i < n; i++) {
		if (!rc) {
			struct entry *e = *find(db, p[i].node, ops[i].kind, p[i].key);
			if (e && e->dirty && e->seq == p[i].seq)
				mark_clean(db, e);
		}
		node_unref(db, p[i].node);
	}
	if (!rc) {
		if (snapshot > db->durable)
			db->durable = snapshot;
		db->flushed += n;
	}
	db->flushing = 0;
	/* saved during the write: no empty-to-dirty step will announce them */
	again = !rc && !list_empty(db->dirty);
	pthread_mutex_unlock(&db->mu);
	if (again && db->on_dirty)
		db->on_dirty(db->ud);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].data) {
			wa_wipe((void *)ops[i].data, ops[i].len);
			free((void *)ops[i].data);
		}
		free(p[i].key);
	}
	free(ops);
	free(p);
	if (!rc && written)
		*written = n;
	return rc;
}

uint64_t sigdb_seq(struct sigdb *db)
{
	uint64_t s;

	pthread_mutex_lock(&db->mu);
	s = db->seq;
	pthread_mutex_unlock(&db->mu);
	return s;
}

int sigdb_durable(struct sigdb *db, uint64_t seq)
{
	int d;

	pthread_mutex_lock(&db->mu);
	d = seq <= db->durable;
	pthread_mutex_unlock(&db->mu);
	return d;
}

void sigdb_stats(struct sigdb *db, struct sigdb_stats *out)
{
	pthread_mutex_lock(&db->mu);
	out->bytes = db->bytes;
	out->dirty_bytes = db->dirty_bytes;
	out->entries = db->count;
	out->sessions = db->nnodes;
	out->hits = db->hits;
	out->misses = db->misses;
	out->evictions = db->evictions;
	out->flushed = db->flushed;
	pthread_mutex_unlock(&db->mu);
}
