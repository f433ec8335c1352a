/*
 * The session service and its in-memory registry (see session.h). The
 * registry is a chained hash table of deep copies of struct store_session,
 * keyed by id. Invariants, holding whenever `lock` is free:
 *   - every session in the store is in the table once, with the same fields
 *     (as far as writes went through this service);
 *   - `failed` counts the entries whose status is STORE_SESSION_FAILED;
 *   - `count` is the number of entries.
 */
#include "service/session.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REG_MIN_BUCKETS 64

struct reg_entry {
	struct reg_entry *next;
	uint64_t hash;
	struct store_session s; /* owned deep copy */
	char *qr;               /* owned; the QR on show, memory only */
	_Atomic int64_t last_used_ms; /* the last API use (svc_session_touch) */
	char *pk_options, *pk_code; /* owned; the passkey step on show, memory only */
};

struct svc {
	struct store *st;
	const struct svc_engine_ops *ops; /* NULL until an engine is attached */
	void *eng;
	pthread_rwlock_t lock;            /* guards the table below */
	pthread_mutex_t write_lock;       /* serializes writers (store + table) */
	struct reg_entry **buckets;
	size_t nbuckets;                  /* a power of two */
	size_t count;
	atomic_size_t failed;             /* entries in the failed state */
	pthread_mutex_t wait_mu;          /* guards gen; with `changed` */
	pthread_cond_t changed;           /* broadcast after every registry change */
	uint64_t gen;
};

/* Wakes svc_session_wait after a registry change. */
static void bump(struct svc *s)
{
	pthread_mutex_lock(&s->wait_mu);
	s->gen++;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->wait_mu);
}

static uint64_t id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *id; id++) {
		h ^= (unsigned char)*id;
		h *= 1099511628211ULL;
	}
	return h;
}

static int is_failed(const struct store_session *x)
{
	return x->status == STORE_SESSION_FAILED;
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return Y_OK;
	*dst = strdup(src);
	return *dst ? Y_OK : Y_ENOMEM;
}

/* Deep-copies src into dst; on failure dst holds nothing to release. */
static int session_copy(struct store_session *dst, const struct store_session *src)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst->id, src->id, sizeof(dst->id));
	dst->status = src->status;
	dst->created_at = src->created_at;
	dst->updated_at = src->updated_at;
	dst->connected_at = src->connected_at;
	dst->last_seen_at = src->last_seen_at;
	if (dup_str(&dst->name, src->name) || dup_str(&dst->phone, src->phone) || dup_str(&dst->push_name, src->push_name) ||
	    dup_str(&dst->webhook_url, src->webhook_url) ||
	    dup_str(&dst->webhook_secret, src->webhook_secret) ||
	    dup_str(&dst->webhook_events, src->webhook_events) ||
	    dup_str(&dst->device_jid, src->device_jid) || dup_str(&dst->lid, src->lid) ||
	    dup_str(&dst->reason, src->reason)) {
		store_session_release(dst);
		return Y_ENOMEM;
	}
	return Y_OK;
}

/* The entry of `id`, or NULL. Caller holds `lock` (either mode). */
static struct reg_entry *reg_find(struct svc *s, const char *id, struct reg_entry ***link)
{
	uint64_t h = id_hash(id);
	struct reg_entry **pp = &s->buckets[h & (s->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->hash == h && !strcmp((*pp)->s.id, id)) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

/* Doubles the table when it holds more entries than buckets. Caller holds
 * `lock` for writing. A failed resize keeps the old table (still correct). */
static void reg_grow(struct svc *s)
{
	size_t n = s->nbuckets * 2;
	struct reg_entry **b;

	if (s->count <= s->nbuckets)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct reg_entry *e = s->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

/* Adds (or replaces) a copy of x. Caller holds `lock` for writing. */
static int reg_put(struct svc *s, const struct store_session *x)
{
	struct reg_entry *e = reg_find(s, x->id, NULL);
	struct store_session copy;

	if (session_copy(&copy, x))
		return Y_ENOMEM;
	if (e) {
		if (is_failed(&e->s))
			atomic_fetch_sub(&s->failed, 1);
		store_session_release(&e->s);
		e->s = copy;
	} else {
		e = calloc(1, sizeof(*e));
		if (!e) {
			store_session_release(&copy);
			return Y_ENOMEM;
		}
		e->hash = id_hash(x->id);
		e->s = copy;
		atomic_store(&e->last_used_ms, clock_now_ms());
		e->next = s->buckets[e->hash & (s->nbuckets - 1)];
		s->buckets[e->hash & (s->nbuckets - 1)] = e;
		s->count++;
		reg_grow(s);
	}
	if (is_failed(&e->s))
		atomic_fetch_add(&s->failed, 1);
	return Y_OK;
}

/* Removes `id` if present. Caller holds `lock` for writing. */
static void reg_remove(struct svc *s, const char *id)
{
	struct reg_entry **link, *e = reg_find(s, id, &link);

	if (!e)
		return;
	*link = e->next;
	if (is_failed(&e->s))
		atomic_fetch_sub(&s->failed, 1);
	store_session_release(&e->s);
	free(e->qr);
	free(e->pk_options);
	free(e->pk_code);
	free(e);
	s->count--;
}

static int locked_put(struct svc *s, const struct store_session *x)
{
	int rc;

	pthread_rwlock_wrlock(&s->lock);
	rc = reg_put(s, x);
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

/* Loads every stored session into the (empty) table. */
static int reg_load(struct svc *s)
{
	struct store_cursor cur, next;
	int have_cur = 0, has_next = 1, rc = Y_OK;

	while (has_next && rc == Y_OK) {
		struct store_session *list = NULL;
		size_t n = 0;

		rc = store_session_list(s->st, have_cur ? &cur : NULL, STORE_LIST_MAX, &list, &n, &next,
					&has_next);
		if (rc)
			break;
		for (size_t i = 0; rc == Y_OK && i < n; i++)
			rc = locked_put(s, &list[i]);
		store_sessions_free(list, n);
		cur = next;
		have_cur = 1;
	}
	return rc;
}

static void reg_clear(struct svc *s)
{
	for (size_t i = 0; s->buckets && i < s->nbuckets; i++) {
		struct reg_entry *e = s->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			store_session_release(&e->s);
			free(e->qr);
			free(e->pk_options);
			free(e->pk_code);
			free(e);
		}
	}
	free(s->buckets);
	s->buckets = NULL;
}

int svc_new(struct store *st, struct svc **out)
{
	struct svc *s = calloc(1, sizeof(*s));
	pthread_rwlockattr_t attr;
	int rc;

	*out = NULL;
	if (!s)
		return Y_ENOMEM;
	s->st = st;
	s->nbuckets = REG_MIN_BUCKETS;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets) {
		free(s);
		return Y_ENOMEM;
	}
	/* glibc's default rwlock prefers readers, which can starve a writer
	 * under a steady stream of GETs. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&s->write_lock, NULL);
	pthread_mutex_init(&s->wait_mu, NULL);
	pthread_cond_init(&s->changed, NULL);
	rc = reg_load(s);
	if (rc) {
		svc_free(s);
		return rc;
	}
	*out = s;
	return Y_OK;
}

void svc_free(struct svc *s)
{
	if (!s)
		return;
	reg_clear(s);
	pthread_rwlock_destroy(&s->lock);
	pthread_mutex_destroy(&s->write_lock);
	pthread_mutex_destroy(&s->wait_mu);
	pthread_cond_destroy(&s->changed);
	free(s);
}

void svc_set_engine(struct svc *s, const struct svc_engine_ops *ops, void *eng)
{
	s->ops = ops;
	s->eng = eng;
}

int svc_session_get(struct svc *s, const char *id, struct store_session *out)
{
	struct reg_entry *e;
	int rc = Y_ENOTFOUND;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&s->lock);
	e = reg_find(s, id, NULL);
	if (e)
		rc = session_copy(out, &e->s);
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

int svc_session_exists(struct svc *s, const char *id)
{
	int found;

	pthread_rwlock_rdlock(&s->lock);
	found = reg_find(s, id, NULL) != NULL;
	pthread_rwlock_unlock(&s->lock);
	return found;
}

size_t svc_session_count(struct svc *s)
{
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->count;
	pthread_rwlock_unlock(&s->lock);
	return n;
}

void svc_session_count_by_status(struct svc *s, size_t counts[STORE_SESSION_STATUS_COUNT])
{
	memset(counts, 0, STORE_SESSION_STATUS_COUNT * sizeof(counts[0]));
	pthread_rwlock_rdlock(&s->lock);
	for (size_t b = 0; b < s->nbuckets; b++)
		for (const struct reg_entry *e = s->buckets[b]; e; e = e->next)
			if ((unsigned)e->s.status < STORE_SESSION_STATUS_COUNT)
				counts[e->s.status]++;
	pthread_rwlock_unlock(&s->lock);
}

int svc_session_create(struct svc *s, const char *name, struct store_session *out)
{
	int rc;

	pthread_mutex_lock(&s->write_lock);
	rc = store_session_create(s->st, name, out);
	if (rc == Y_OK && locked_put(s, out) != Y_OK) {
		/* Out of memory: undo, so that store and registry agree. */
		store_session_delete(s->st, out->id);
		store_session_release(out);
		rc = Y_ENOMEM;
	}
	pthread_mutex_unlock(&s->write_lock);
	if (rc == Y_OK) {
		bump(s);
		if (s->ops && s->ops->start)
			s->ops->start(s->eng, out->id);
	}
	return rc;
}

int svc_delete_session(struct svc *s, const char *session_id)
{
	int rc;

	pthread_mutex_lock(&s->write_lock);
	rc = svc_session_exists(s, session_id) ? store_session_delete(s->st, session_id)
					       : Y_ENOTFOUND;
	if (rc == Y_OK) {
		pthread_rwlock_wrlock(&s->lock);
		reg_remove(s, session_id);
		pthread_rwlock_unlock(&s->lock);
	}
	pthread_mutex_unlock(&s->write_lock);
	if (rc == Y_OK) {
		bump(s);
		if (s->ops && s->ops->forget)
			s->ops->forget(s->eng, session_id);
	}
	return rc;
}

/*
 * After a successful store write of session `id`: reads the row back and
 * puts it in the registry. If that read fails (e.g. the database is busy),
 * `patch` applies the same change to the registry's copy, with our own
 * updated_at. Caller holds write_lock.
 */
static int reg_refresh(struct svc *s, const char *id,
		       int (*patch)(struct store_session *x, const void *arg), const void *arg)
{
	struct store_session row, copy;
	struct reg_entry *e;
	int rc;

	memset(&row, 0, sizeof(row));
	if (store_session_get(s->st, id, &row) == Y_OK) {
		rc = locked_put(s, &row);
		store_session_release(&row);
		return rc;
	}
	pthread_rwlock_rdlock(&s->lock);
	e = reg_find(s, id, NULL);
	rc = e ? session_copy(&copy, &e->s) : Y_ENOTFOUND;
	pthread_rwlock_unlock(&s->lock);
	if (rc)
		return rc;
	rc = patch(&copy, arg);
	copy.updated_at = clock_now_ms();
	if (rc == Y_OK)
		rc = locked_put(s, &copy);
	store_session_release(&copy);
	return rc;
}

struct status_change {
	enum store_session_status status;
	const char *phone;
};

static int patch_status(struct store_session *x, const void *arg)
{
	const struct status_change *c = arg;

	x->status = c->status;
	if (c->phone) {
		free(x->phone);
		if (dup_str(&x->phone, c->phone))
			return Y_ENOMEM;
	}
	return Y_OK;
}

int svc_session_set_status(struct svc *s, const char *id, enum store_session_status status,
			   const char *phone)
{
	struct status_change c = { status, phone };
	int rc;

	pthread_mutex_lock(&s->write_lock);
	rc = store_session_set_status(s->st, id, status, phone);
	if (rc == Y_OK)
		rc = reg_refresh(s, id, patch_status, &c);
	pthread_mutex_unlock(&s->write_lock);
	bump(s);
	return rc;
}

struct webhook_change {
	const char *url, *secret, *events;
};

static int patch_webhook(struct store_session *x, const void *arg)
{
	const struct webhook_change *c = arg;
	int rc;

	free(x->webhook_url);
	free(x->webhook_secret);
	free(x->webhook_events);
	if (!c->url) { /* cleared: the store drops secret and events too */
		x->webhook_url = x->webhook_secret = x->webhook_events = NULL;
		return Y_OK;
	}
	rc = dup_str(&x->webhook_url, c->url);
	rc = rc ? rc : dup_str(&x->webhook_secret, c->secret);
	return rc ? rc : dup_str(&x->webhook_events, c->events);
}

int svc_session_set_webhook(struct svc *s, const char *id, const char *url, const char *secret,
			    const char *events)
{
	struct webhook_change c = { url, secret, events };
	int rc;

	pthread_mutex_lock(&s->write_lock);
	rc = store_session_set_webhook(s->st, id, url, secret, events);
	if (rc == Y_OK)
		rc = reg_refresh(s, id, patch_webhook, &c);
	pthread_mutex_unlock(&s->write_lock);
	return rc;
}

/* Applies an engine update to a registry copy (when the store could not be
 * read back). */
static int patch_update(struct store_session *x, const void *arg)
{
	const struct store_session_update *u = arg;
	int rc = Y_OK;

#define SET(field, val)                                   \
	do {                                              \
		free(x->field);                           \
		x->field = NULL;                          \
		if (rc == Y_OK)                           \
			rc = dup_str(&x->field, (val));   \
	} while (0)
	if (u->unlink) {
		SET(phone, NULL);
		SET(push_name, NULL);
		SET(device_jid, NULL);
		SET(lid, NULL);
	}
	x->status = u->status;
	SET(reason, u->reason);
	if (u->phone)
		SET(phone, u->phone);
	if (u->push_name)
		SET(push_name, u->push_name);
	if (u->device_jid)
		SET(device_jid, u->device_jid);
	if (u->lid)
		SET(lid, u->lid);
#undef SET
	if (u->connected_at)
		x->connected_at = u->connected_at;
	if (u->last_seen_at)
		x->last_seen_at = u->last_seen_at;
	return rc;
}

int svc_session_apply(struct svc *s, const char *id, const struct store_session_update *u)
{
	int rc;

	pthread_mutex_lock(&s->write_lock);
	rc = store_session_update(s->st, id, u);
	if (rc == Y_OK)
		rc = reg_refresh(s, id, patch_update, u);
	pthread_mutex_unlock(&s->write_lock);
	bump(s);
	return rc;
}

int svc_session_set_qr(struct svc *s, const char *id, const char *qr)
{
	struct reg_entry *e;
	char *copy = NULL;
	int rc = Y_OK;

	if (qr && !(copy = strdup(qr)))
		return Y_ENOMEM;
	pthread_rwlock_wrlock(&s->lock);
	e = reg_find(s, id, NULL);
	if (e) {
		free(e->qr);
		e->qr = copy;
		copy = NULL;
	} else {
		rc = Y_ENOTFOUND;
	}
	pthread_rwlock_unlock(&s->lock);
	free(copy);
	bump(s);
	return rc;
}

char *svc_session_qr(struct svc *s, const char *id)
{
	struct reg_entry *e;
	char *qr = NULL;

	pthread_rwlock_rdlock(&s->lock);
	e = reg_find(s, id, NULL);
	if (e && e->qr)
		qr = strdup(e->qr);
	pthread_rwlock_unlock(&s->lock);
	return qr;
}

int svc_session_wait(struct svc *s, const char *id,
		     int (*done)(const struct store_session *x, const char *qr, void *arg),
		     void *arg, int timeout_ms)
{
	struct timespec deadline = clock_deadline(CLOCK_REALTIME, timeout_ms);
	uint64_t seen;
	int rc;

	for (;;) {
		struct reg_entry *e;

		pthread_mutex_lock(&s->wait_mu);
		seen = s->gen;
		pthread_mutex_unlock(&s->wait_mu);
		pthread_rwlock_rdlock(&s->lock);
		e = reg_find(s, id, NULL);
		rc = e ? (done(&e->s, e->qr, arg) ? 1 : 0) : Y_ENOTFOUND;
		pthread_rwlock_unlock(&s->lock);
		if (rc)
			return rc;
		pthread_mutex_lock(&s->wait_mu);
		while (s->gen == seen && rc == 0)
			if (pthread_cond_timedwait(&s->changed, &s->wait_mu, &deadline))
				rc = -1;
		pthread_mutex_unlock(&s->wait_mu);
		if (rc == -1)
			return 0;
	}
}

int svc_session_logout(struct svc *s, const char *id)
{
	if (!svc_session_exists(s, id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->logout)
		return Y_ESTATE;
	return s->ops->logout(s->eng, id);
}

int svc_set_wa_version(struct svc *s, const struct wa_version *v)
{
	if (!s->ops || !s->ops->set_version)
		return Y_ESTATE;
	return s->ops->set_version(s->eng, v);
}

int svc_session_restart(struct svc *s, const char *id)
{
	if (!svc_session_exists(s, id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->restart)
		return Y_ESTATE;
	return s->ops->restart(s->eng, id);
}

int svc_session_set_passkey(struct svc *s, const char *id, const char *options,
			    const char *code)
{
	struct reg_entry *e;
	char *o = options ? strdup(options) : NULL, *c = code ? strdup(code) : NULL;
	int rc = Y_OK;

	if ((options && !o) || (code && !c)) {
		free(o);
		free(c);
		return Y_ENOMEM;
	}
	pthread_rwlock_wrlock(&s->lock);
	e = reg_find(s, id, NULL);
	if (e) {
		free(e->pk_options);
		free(e->pk_code);
		e->pk_options = o;
		e->pk_code = c;
		o = c = NULL;
	} else {
		rc = Y_ENOTFOUND;
	}
	pthread_rwlock_unlock(&s->lock);
	free(o);
	free(c);
	bump(s);
	return rc;
}

int svc_session_passkey(struct svc *s, const char *id, char **options, char **code)
{
	struct reg_entry *e;
	int rc = Y_OK;

	*options = *code = NULL;
	pthread_rwlock_rdlock(&s->lock);
	e = reg_find(s, id, NULL);
	if (!e)
		rc = Y_ENOTFOUND;
	else if ((e->pk_options && !(*options = strdup(e->pk_options))) ||
		 (e->pk_code && !(*code = strdup(e->pk_code))))
		rc = Y_ENOMEM;
	pthread_rwlock_unlock(&s->lock);
	if (rc) {
		free(*options);
		free(*code);
		*options = *code = NULL;
	}
	return rc;
}

int svc_session_passkey_submit(struct svc *s, const char *id, const char *assertion,
			       const uint8_t *raw_id, size_t raw_id_len)
{
	if (!svc_session_exists(s, id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->passkey)
		return Y_ESTATE;
	return s->ops->passkey(s->eng, id, assertion, raw_id, raw_id_len);
}

int svc_session_pair_code(struct svc *s, const char *id, const char *phone,
			  char code[SVC_PAIR_CODE_LEN], int timeout_ms)
{
	if (!svc_session_exists(s, id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->pair_code)
		return Y_EUNSUPPORTED;
	return s->ops->pair_code(s->eng, id, phone, code, timeout_ms);
}

int svc_query(struct svc *s, const char *id, const struct svc_query *q, int timeout_ms,
	      svc_lookup_cb done, void *arg)
{
	if (!svc_session_exists(s, id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->query)
		return Y_EUNSUPPORTED;
	return s->ops->query(s->eng, id, q, timeout_ms, done, arg);
}

int svc_contact_lookup(struct svc *s, const char *id, const char *phone, int timeout_ms,
		       svc_lookup_cb done, void *arg)
{
	struct svc_query q = { .kind = SVC_Q_CONTACT, .phone = phone };

	return svc_query(s, id, &q, timeout_ms, done, arg);
}

void svc_session_touch(struct svc *s, const char *id, int start_if_idle, int64_t now_ms)
{
	struct reg_entry *e;
	int wake = 0;

	pthread_rwlock_rdlock(&s->lock);
	e = reg_find(s, id, NULL);
	if (e) {
		atomic_store(&e->last_used_ms, now_ms);
		wake = start_if_idle && e->s.status == STORE_SESSION_DISCONNECTED &&
		       e->s.reason && !strcmp(e->s.reason, "idle");
	}
	pthread_rwlock_unlock(&s->lock);
	if (wake && s->ops && s->ops->start)
		s->ops->start(s->eng, id);
}

int svc_sessions_idle(struct svc *s, int64_t before_ms, void (*fn)(const char *id, void *arg),
		      void *arg)
{
	char (*ids)[STORE_ID_LEN] = NULL;
	size_t n = 0, cap;

	pthread_rwlock_rdlock(&s->lock);
	cap = s->count;
	ids = calloc(cap ? cap : 1, sizeof(*ids));
	for (size_t i = 0; ids && i < s->nbuckets; i++)
		for (struct reg_entry *e = s->buckets[i]; e; e = e->next)
			if (n < cap && e->s.status == STORE_SESSION_CONNECTED &&
			    atomic_load(&e->last_used_ms) <= before_ms)
				memcpy(ids[n++], e->s.id, STORE_ID_LEN);
	pthread_rwlock_unlock(&s->lock);
	if (!ids)
		return Y_ENOMEM;
	for (size_t i = 0; i < n; i++)
		fn(ids[i], arg);
	free(ids);
	return Y_OK;
}

int svc_session_foreach(struct svc *s, void (*fn)(const struct store_session *x, void *arg),
			void *arg)
{
	struct store_session *all;
	size_t n = 0, cap;
	int rc = Y_OK;

	pthread_rwlock_rdlock(&s->lock);
	cap = s->count;
	all = calloc(cap ? cap : 1, sizeof(*all));
	for (size_t i = 0; all && i < s->nbuckets; i++)
		for (struct reg_entry *e = s->buckets[i]; e && rc == Y_OK; e = e->next)
			if (n < cap && (rc = session_copy(&all[n], &e->s)) == Y_OK)
				n++;
	pthread_rwlock_unlock(&s->lock);
	if (!all)
		return Y_ENOMEM;
	for (size_t i = 0; rc == Y_OK && i < n; i++)
		fn(&all[i], arg);
	for (size_t i = 0; i < n; i++)
		store_session_release(&all[i]);
	free(all);
	return rc;
}

int svc_send_text(struct svc *s, const char *session_id, const char *to_jid, const char *text,
		  struct store_message *out, int *retry_after_s)
{
	if (!svc_session_exists(s, session_id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->send_text)
		return Y_ESTATE; /* no WhatsApp engine: nothing is connected */
	return s->ops->send_text(s->eng, session_id, to_jid, text, out, retry_after_s);
}

int svc_send_text_async(struct svc *s, const char *session_id, const char *to_jid,
			const char *text, svc_accepted_cb done, void *arg, int *retry_after_s)
{
	struct store_message m;
	int rc;

	if (!svc_session_exists(s, session_id))
		return Y_ENOTFOUND;
	if (s->ops && s->ops->send_text_async)
		return s->ops->send_text_async(s->eng, session_id, to_jid, text, done, arg,
					       retry_after_s);
	memset(&m, 0, sizeof(m));
	rc = svc_send_text(s, session_id, to_jid, text, &m, retry_after_s);
	if (rc)
		return rc;
	done(arg, Y_OK, &m);
	return Y_OK;
}

int svc_send_media(struct svc *s, const char *session_id, const char *to_jid,
		   const struct svc_media *md, struct store_message *out, int *retry_after_s)
{
	if (!svc_session_exists(s, session_id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->send_media)
		return Y_ESTATE;
	return s->ops->send_media(s->eng, session_id, to_jid, md, out, retry_after_s);
}

int svc_fetch_media(struct svc *s, const char *session_id, const char *url, uint64_t limit,
		    void (*cb)(void *arg, const struct media_fetched *f), void *arg)
{
	if (!svc_session_exists(s, session_id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->fetch_media)
		return Y_ESTATE;
	return s->ops->fetch_media(s->eng, session_id, url, limit, cb, arg);
}

int svc_send_msg(struct svc *s, const char *session_id, const struct svc_outmsg *o,
		 struct store_message *out, int *retry_after_s)
{
	if (!svc_session_exists(s, session_id))
		return Y_ENOTFOUND;
	if (!s->ops || !s->ops->send_msg)
		return Y_ESTATE;
	return s->ops->send_msg(s->eng, session_id, o, out, retry_after_s);
}

int svc_presence(struct svc *s, const char *session_id, int what, const char *jid,
		 const char *state)
{
	struct store_session ss;
	int connected, named;

	if (svc_session_get(s, session_id, &ss))
		return Y_ENOTFOUND;
	connected = ss.status == STORE_SESSION_CONNECTED;
	named = ss.push_name && *ss.push_name;
	store_session_release(&ss);
	if (!connected || !s->ops || !s->ops->presence)
		return Y_ESTATE;
	if (what == SVC_PRESENCE_OWN && !named && !(jid && *jid))
		return Y_EINVAL; /* announced with our name: none known yet */
	return s->ops->presence(s->eng, session_id, what, jid, state);
}

/* Y_OK when session id is connected (and an engine attached), else the
 * error the svc_* calls below answer. */
static int connected_or(struct svc *s, const char *session_id)
{
	struct store_session ss;
	int connected;

	if (svc_session_get(s, session_id, &ss))
		return Y_ENOTFOUND;
	connected = ss.status == STORE_SESSION_CONNECTED;
	store_session_release(&ss);
	return connected && s->ops ? Y_OK : Y_ESTATE;
}

int svc_block(struct svc *s, const char *session_id, const char *jid, const char *action)
{
	int rc = connected_or(s, session_id);

	return rc ? rc : s->ops->block ? s->ops->block(s->eng, session_id, jid, action) : Y_ESTATE;
}

int svc_set_about(struct svc *s, const char *session_id, const char *text)
{
	int rc = connected_or(s, session_id);

	return rc ? rc : s->ops->about ? s->ops->about(s->eng, session_id, text) : Y_ESTATE;
}

int svc_set_push_name(struct svc *s, const char *session_id, const char *name)
{
	int rc = connected_or(s, session_id);

	return rc ? rc : s->ops->push_name ? s->ops->push_name(s->eng, session_id, name) : Y_ESTATE;
}

int svc_appstate_write(struct svc *s, const char *session_id, const struct svc_as_action *a)
{
	int rc = connected_or(s, session_id);

	return rc ? rc : s->ops->appstate ? s->ops->appstate(s->eng, session_id, a) : Y_ESTATE;
}

int svc_mark_chat_read(struct svc *s, const char *session_id, const char *chat,
		       const char *upto_id, size_t *n)
{
	struct store_session ss;
	struct store_message up, *list = NULL;
	const char **ids = NULL;
	size_t k = 0;
	int rc, connected;

	*n = 0;
	if (svc_session_get(s, session_id, &ss))
		return Y_ENOTFOUND;
	connected = ss.status == STORE_SESSION_CONNECTED;
	store_session_release(&ss);
	if (upto_id) {
		rc = store_message_get(s->st, session_id, upto_id, &up);
		if (rc)
			return rc;
		rc = strcmp(up.chat, chat) ? Y_ENOTFOUND : Y_OK;
		store_message_release(&up);
		if (rc)
			return rc;
	}
	if (!connected || !s->ops || !s->ops->mark_read_ids)
		return Y_ESTATE;
	rc = store_chat_unread(s->st, session_id, chat, upto_id, &list, &k);
	if (!rc && k && !(ids = calloc(k, sizeof(*ids))))
		rc = Y_ENOMEM;
	for (size_t i = 0; !rc && i < k; i++)
		ids[i] = list[i].wa_id;
	/* 1:1: one sender, one receipt listing every id */
	if (!rc && k)
		rc = s->ops->mark_read_ids(s->eng, session_id,
					   list[0].from_jid ? list[0].from_jid : chat, ids, k);
	for (size_t i = 0; !rc && i < k; i++)
		rc = store_message_set_status(s->st, list[i].id, "read", NULL);
	if (!rc)
		*n = k;
	free(ids);
	store_messages_free(list, k);
	return rc;
}

int svc_mark_read(struct svc *s, const char *session_id, const char *id,
		  struct store_message *out)
{
	struct store_session ss;
	int rc, connected;

	if (!svc_session_exists(s, session_id))
		return Y_ENOTFOUND;
	rc = store_message_get(s->st, session_id, id, out);
	if (rc)
		return rc;
	if (out->from_me || !out->wa_id) {
		store_message_release(out);
		return Y_EINVAL;
	}
	if (svc_session_get(s, session_id, &ss)) {
		store_message_release(out);
		return Y_ENOTFOUND;
	}
	connected = ss.status == STORE_SESSION_CONNECTED;
	store_session_release(&ss);
	rc = !connected || !s->ops || !s->ops->mark_read
		     ? Y_ESTATE
		     : s->ops->mark_read(s->eng, session_id, out->from_jid ? out->from_jid : out->chat,
					 out->wa_id);
	if (!rc && strcmp(out->status, "read")) {
		rc = store_message_set_status(s->st, id, "read", NULL);
		if (!rc) {
			free(out->status);
			out->status = strdup("read");
			rc = out->status ? Y_OK : Y_ENOMEM;
		}
	}
	if (rc)
		store_message_release(out);
	return rc;
}

int svc_whatsapp_ok(struct svc *s)
{
	if (s->ops && s->ops->healthy)
		return s->ops->healthy(s->eng);
	return atomic_load(&s->failed) == 0;
}
