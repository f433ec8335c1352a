/*
 * Unit tests for src/service/signal_db.{h,c} and the Signal / LID calls of
 * the SQLite store: the same conformance checks against the in-memory
 * store and the cached SQLite one, a random differential run with odd
 * keys, the cache's byte bound, persistence across reopening, isolation
 * and cascades, and a real Signal exchange over the store across a
 * "restart" (and a crash before a flush).
 */
#include "test.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include "tmpdir.h"

#include "service/signal_db.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "util/err.h"
#include "wa/signal.h"
#include "wa/signal_store.h"

static char dir[256], dbpath[300];

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

/* A writer store, a reader, a cache and one session's store on a fresh file. */
struct fix {
	struct store *w, *r;
	struct sigdb *db;
	char sid[STORE_ID_LEN], sid2[STORE_ID_LEN];
	struct wa_signal_store *ss;
	_Atomic int dirty_calls, wake;
};

/* What the engine does: wake the flusher. */
static void on_dirty(void *ud)
{
	((struct fix *)ud)->dirty_calls++;
	((struct fix *)ud)->wake = 1;
}

static int fix_open(struct fix *f, size_t budget)
{
	f->db = NULL;
	if (store_open(dbpath, &f->w) || store_open_reader(dbpath, &f->r))
		return -1;
	f->db = sigdb_new(f->r, budget, on_dirty, f);
	return f->db ? 0 : -1;
}

static int fix_new(struct fix *f, size_t budget)
{
	struct store_session s;

	memset(f, 0, sizeof *f);
	if (tmpdir_make(dir, sizeof dir))
		return -1;
	snprintf(dbpath, sizeof dbpath, "%s/db.sqlite", dir);
	if (fix_open(f, budget))
		return -1;
	if (store_session_create(f->w, "a", &s))
		return -1;
	snprintf(f->sid, sizeof f->sid, "%s", s.id);
	store_session_release(&s);
	if (store_session_create(f->w, "b", &s))
		return -1;
	snprintf(f->sid2, sizeof f->sid2, "%s", s.id);
	store_session_release(&s);
	f->ss = sigdb_session_open(f->db, f->sid);
	return f->ss ? 0 : -1;
}

static void fix_close(struct fix *f)
{
	wa_signal_store_free(f->ss);
	f->ss = NULL;
	sigdb_free(f->db);
	store_close(f->r);
	store_close(f->w);
	f->db = NULL;
	f->r = f->w = NULL;
}

static void fix_free(struct fix *f)
{
	fix_close(f);
	tmpdir_remove(dir);
}

/* ---- helpers over any wa_signal_store ---- */

static int get(struct wa_signal_store *st, enum wa_signal_kind k, const char *key, char *out,
	       size_t cap)
{
	struct ybuf b = YBUF_INIT(WA_SIGNAL_STORE_RECORD_MAX);
	int rc = st->load(st->ud, k, key, &b);

	if (!rc) {
		if (b.len >= cap)
			rc = Y_ETOOBIG;
		else {
			if (b.len)
				memcpy(out, b.data, b.len);
			out[b.len] = '\0';
		}
	}
	ybuf_release(&b);
	return rc;
}

static int put(struct wa_signal_store *st, enum wa_signal_kind k, const char *key, const char *v)
{
	return st->save(st->ud, k, key, (const uint8_t *)v, strlen(v));
}

struct keys {
	char k[64][WA_SIGNAL_STORE_KEY_MAX + 1];
	int n;
};

static int collect(const char *key, void *arg)
{
	struct keys *ks = arg;

	if (ks->n >= 64)
		return -1;
	snprintf(ks->k[ks->n++], sizeof ks->k[0], "%s", key);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The keys of kind k with prefix p, sorted, in ks; the walk's result. */
static int list(struct wa_signal_store *st, enum wa_signal_kind k, const char *p, struct keys *ks)
{
	int rc;

	ks->n = 0;
	rc = st->each(st->ud, k, p, collect, ks);
	qsort(ks->k, (size_t)ks->n, sizeof ks->k[0], cmp_str);
	return rc;
}

static int stop_at_first(const char *key, void *arg)
{
	(void)key;
	(*(int *)arg)++;
	return 7;
}

/* ---- conformance: what signal_store.h promises, for any store ---- */

/* `between` is called between steps (a flush for the SQLite store) */
static void conformance(struct wa_signal_store *st, void (*between)(void *), void *arg)
{
	char v[256], big_key[WA_SIGNAL_STORE_KEY_MAX + 2];
	struct keys ks;
	int calls = 0;

	CHECK_EQ_INT(get(st, WA_SIGNAL_SESSION, "111.0", v, sizeof v), Y_ENOTFOUND);
	CHECK_EQ_INT(put(st, WA_SIGNAL_SESSION, "111.0", "s0"), 0);
	CHECK_EQ_INT(put(st, WA_SIGNAL_SESSION, "111.12", "s12"), 0);
	CHECK_EQ_INT(put(st, WA_SIGNAL_SESSION, "1111.3", "other user"), 0);
	CHECK_EQ_INT(put(st, WA_SIGNAL_IDENTITY, "111.0", "id0"), 0);
	between(arg);
	CHECK_EQ_INT(get(st, WA_SIGNAL_SESSION, "111.0", v, sizeof v), 0);
	CHECK_EQ_STR(v, "s0");
	CHECK_EQ_INT(get(st, WA_SIGNAL_IDENTITY, "111.0", v, sizeof v), 0);
	CHECK_EQ_STR(v, "id0"); /* kinds are separate namespaces */

	/* the prefix "<name>." selects one user's devices only */
	CHECK_EQ_INT(list(st, WA_SIGNAL_SESSION, "111.", &ks), 0);
	REQUIRE(ks.n == 2);
	CHECK_EQ_STR(ks.k[0], "111.0");
	CHECK_EQ_STR(ks.k[1], "111.12");
	CHECK_EQ_INT(list(st, WA_SIGNAL_SESSION, "", &ks), 0);
	CHECK_EQ_INT(ks.n, 3);
	CHECK_EQ_INT(list(st, WA_SIGNAL_SENDER_KEY, "", &ks), 0);
	CHECK_EQ_INT(ks.n, 0);
	/* a non-zero return stops the walk and comes back */
	CHECK_EQ_INT(st->each(st->ud, WA_SIGNAL_SESSION, "111.", stop_at_first, &calls), 7);
	CHECK_EQ_INT(calls, 1);

	/* replace, then remove (twice: absent is fine) */
	CHECK_EQ_INT(put(st, WA_SIGNAL_SESSION, "111.0", "s0 again, longer"), 0);
	CHECK_EQ_INT(get(st, WA_SIGNAL_SESSION, "111.0", v, sizeof v), 0);
	CHECK_EQ_STR(v, "s0 again, longer");
	between(arg);
	CHECK_EQ_INT(st->remove(st->ud, WA_SIGNAL_SESSION, "111.12"), 0);
	CHECK_EQ_INT(st->remove(st->ud, WA_SIGNAL_SESSION, "111.12"), 0);
	CHECK_EQ_INT(st->remove(st->ud, WA_SIGNAL_SESSION, "never.1"), 0);
	CHECK_EQ_INT(get(st, WA_SIGNAL_SESSION, "111.12", v, sizeof v), Y_ENOTFOUND);
	CHECK_EQ_INT(list(st, WA_SIGNAL_SESSION, "111.", &ks), 0);
	CHECK_EQ_INT(ks.n, 1);
	between(arg);
	CHECK_EQ_INT(get(st, WA_SIGNAL_SESSION, "111.12", v, sizeof v), Y_ENOTFOUND);
	CHECK_EQ_INT(list(st, WA_SIGNAL_SESSION, "111.", &ks), 0);
	CHECK_EQ_INT(ks.n, 1);

	/* an empty record is a record */
	CHECK_EQ_INT(put(st, WA_SIGNAL_PREKEY, "5", ""), 0);
	between(arg);
	CHECK_EQ_INT(get(st, WA_SIGNAL_PREKEY, "5", v, sizeof v), 0);
	CHECK_EQ_STR(v, "");

	/* limits */
	memset(big_key, 'k', sizeof big_key - 1);
	big_key[sizeof big_key - 1] = '\0'; /* KEY_MAX + 1 */
	CHECK_EQ_INT(put(st, WA_SIGNAL_SESSION, big_key, "x"), Y_ETOOBIG);
	big_key[WA_SIGNAL_STORE_KEY_MAX] = '\0';
	CHECK_EQ_INT(put(st, WA_SIGNAL_SESSION, big_key, "longest key"), 0);
	between(arg);
	CHECK_EQ_INT(get(st, WA_SIGNAL_SESSION, big_key, v, sizeof v), 0);
	CHECK_EQ_STR(v, "longest key");
	CHECK_EQ_INT(st->save(st->ud, WA_SIGNAL_SESSION, "r", (const uint8_t *)"",
			      WA_SIGNAL_STORE_RECORD_MAX + 1), Y_ETOOBIG);
	CHECK_EQ_INT(put(st, WA_SIGNAL_KIND_COUNT, "x", "bad kind"), Y_ETOOBIG);
	CHECK_EQ_INT(get(st, WA_SIGNAL_KIND_COUNT, "x", v, sizeof v), Y_ENOTFOUND);
}

static void nothing(void *arg)
{
	(void)arg;
}

static void flush_fix(void *arg)
{
	struct fix *f = arg;
	size_t n = 0;

	CHECK_EQ_INT(sigdb_flush(f->db, f->w, &n), 0);
	/* and forget what is clean, so the next loads read the database */
	sigdb_drop_session(f->db, f->sid);
}

TEST(conformance_memstore)
{
	struct wa_signal_store *m = wa_signal_memstore_new();

	REQUIRE(m);
	conformance(m, nothing, NULL);
	wa_signal_store_free(m);
}

TEST(conformance_sigdb_cached)
{
	struct fix f;

	REQUIRE(fix_new(&f, 0) == 0);
	conformance(f.ss, nothing, NULL);
	fix_free(&f);
}

TEST(conformance_sigdb_flushed_and_cold)
{
	struct fix f;

	REQUIRE(fix_new(&f, 0) == 0);
	conformance(f.ss, flush_fix, &f);
	fix_free(&f);
}

TEST(conformance_sigdb_tiny_budget)
{
	struct fix f;

	/* 1 byte: every clean entry is evicted at once, every load reads SQLite */
	REQUIRE(fix_new(&f, 1) == 0);
	conformance(f.ss, flush_fix, &f);
	fix_free(&f);
}

/* ---- random differential run with odd keys ---- */

static void odd_key(char *k, size_t cap)
{
	static const char *const parts[] = { ".", "..", "::", "1", "12", "a", "_lid", "\x7f",
					     "\xff", "\xff\xff", "%", "'", "\"" };
	size_t n = 0, want = rnd() % 6 == 0 ? 300 + rnd() % 100 : 1 + rnd() % 6;

	while (n < want && n + 3 < cap) {
		const char *p = parts[rnd() % (sizeof parts / sizeof parts[0])];
		size_t l = strlen(p);
		if (n + l >= cap || n + l > WA_SIGNAL_STORE_KEY_MAX)
			break;
		memcpy(k + n, p, l);
		n += l;
	}
	k[n] = '\0';
}

TEST(differential_odd_keys)
{
	struct wa_signal_store *m = wa_signal_memstore_new();
	char keys[40][WA_SIGNAL_STORE_KEY_MAX + 1];
	struct keys a, b;
	struct fix f;

	REQUIRE(m);
	REQUIRE(fix_new(&f, 4096) == 0);
	for (int i = 0; i < 40; i++)
		odd_key(keys[i], sizeof keys[i]);
	for (int step = 0; step < 3000; step++) {
		const char *k = keys[rnd() % 40];
		enum wa_signal_kind kind = (enum wa_signal_kind)(rnd() % 2);
		char v[32], va[64], vb[64];
		int op = (int)(rnd() % 10);

		if (op < 4) {
			snprintf(v, sizeof v, "v%u", rnd());
			CHECK_EQ_INT(put(m, kind, k, v), put(f.ss, kind, k, v));
		} else if (op < 6) {
			CHECK_EQ_INT(m->remove(m->ud, kind, k), f.ss->remove(f.ss->ud, kind, k));
		} else if (op < 8) {
			int ra = get(m, kind, k, va, sizeof va), rb = get(f.ss, kind, k, vb, sizeof vb);
			CHECK_EQ_INT(ra, rb);
			if (!ra && !rb)
				CHECK_EQ_STR(va, vb);
		} else if (op < 9) {
			char p[WA_SIGNAL_STORE_KEY_MAX + 1];
			snprintf(p, sizeof p, "%.*s", (int)(rnd() % 4), k);
			CHECK_EQ_INT(list(m, kind, p, &a), 0);
			CHECK_EQ_INT(list(f.ss, kind, p, &b), 0);
			CHECK_EQ_INT(a.n, b.n);
			for (int i = 0; i < a.n && i < b.n; i++)
				CHECK_EQ_STR(a.k[i], b.k[i]);
		} else {
			CHECK_EQ_INT(sigdb_flush(f.db, f.w, NULL), 0);
		}
		if (test_failed_checks)
			break;
	}
	wa_signal_store_free(m);
	fix_free(&f);
}

/* ---- the cache ---- */

TEST(cache_bound_in_bytes)
{
	struct sigdb_stats s;
	struct fix f;
	char key[32], rec[1024], out[1100];
	const size_t budget = 64 << 10;

	REQUIRE(fix_new(&f, budget) == 0);
	memset(rec, 'r', sizeof rec - 1);
	rec[sizeof rec - 1] = '\0';
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof key, "%d.0", i);
		rec[0] = (char)('A' + i % 26);
		REQUIRE(put(f.ss, WA_SIGNAL_SESSION, key, rec) == 0);
	}
	/* nothing written yet: dirty entries stay, over budget */
	sigdb_stats(f.db, &s);
	CHECK(s.dirty_bytes > 500 * 1024);
	CHECK_EQ_INT(s.dirty_bytes, s.bytes);
	CHECK_EQ_INT(s.evictions, 0);
	CHECK_EQ_INT(f.dirty_calls, 1); /* once per epoch, not per save */
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.dirty_bytes, 0);
	CHECK_EQ_INT(s.flushed, 500);
	/* every load comes back right and the total stays in budget */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 500; i++) {
			snprintf(key, sizeof key, "%d.0", i);
			CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, key, out, sizeof out), 0);
			CHECK_EQ_INT(out[0], 'A' + i % 26);
			CHECK_EQ_INT(strlen(out), sizeof rec - 1);
			sigdb_stats(f.db, &s);
			CHECK(s.bytes <= budget);
		}
	sigdb_stats(f.db, &s);
	CHECK(s.evictions > 400);
	CHECK(s.misses >= 500);
	/* a small working set stays warm: no further misses */
	{
		uint64_t misses;
		for (int i = 0; i < 10; i++) {
			snprintf(key, sizeof key, "%d.0", i);
			get(f.ss, WA_SIGNAL_SESSION, key, out, sizeof out);
		}
		sigdb_stats(f.db, &s);
		misses = s.misses;
		for (int r = 0; r < 100; r++)
			for (int i = 0; i < 10; i++) {
				snprintf(key, sizeof key, "%d.0", i);
				CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, key, out, sizeof out), 0);
			}
		sigdb_stats(f.db, &s);
		CHECK_EQ_INT(s.misses, misses);
	}
	/* absent records are cached too */
	{
		uint64_t misses;
		CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "nobody.1", out, sizeof out), Y_ENOTFOUND);
		sigdb_stats(f.db, &s);
		misses = s.misses;
		CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "nobody.1", out, sizeof out), Y_ENOTFOUND);
		sigdb_stats(f.db, &s);
		CHECK_EQ_INT(s.misses, misses);
	}
	fix_free(&f);
}

/* One-time prekeys made for an upload are read at most once: flushed, they
 * leave the cache at the next eviction though the budget is far away, and
 * still load (from the database); a session record stays, and a prekey that
 * was read back stays too. */
TEST(uploaded_prekeys_leave_the_cache_once_flushed)
{
	struct sigdb_stats s;
	struct fix f;
	char key[32], out[64];
	size_t before;

	REQUIRE(fix_new(&f, 0) == 0); /* the default budget: 64 MiB */
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "peer.0", "session record") == 0);
	for (int i = 1; i <= 30; i++) {
		snprintf(key, sizeof key, "%d", i);
		REQUIRE(put(f.ss, WA_SIGNAL_PREKEY, key, "prekey record") == 0);
	}
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.entries, 31);
	CHECK_EQ_INT(s.evictions, 0); /* dirty: never evicted */
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.entries, 31); /* a flush only marks them clean */
	before = s.bytes;
	REQUIRE(get(f.ss, WA_SIGNAL_SESSION, "peer.0", out, sizeof out) == 0);
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.entries, 1);
	CHECK_EQ_INT(s.evictions, 30);
	CHECK(s.bytes < before);
	/* still there, from the database; read once, it is an ordinary entry */
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_PREKEY, "7", out, sizeof out), 0);
	CHECK_EQ_STR(out, "prekey record");
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.misses, 1);
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "peer.0", out, sizeof out), 0);
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_PREKEY, "7", out, sizeof out), 0);
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.misses, 1);
	CHECK_EQ_INT(s.entries, 2);
	/* a prekey loaded from the database is not cold either */
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_PREKEY, "8", out, sizeof out), 0);
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "peer.0", out, sizeof out), 0);
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.entries, 3);
	CHECK_EQ_INT(s.evictions, 30);
	fix_free(&f);
}

TEST(idle_session_holds_nothing)
{
	struct wa_signal_store *other;
	struct sigdb_stats s;
	struct fix f;
	char key[32], rec[512];

	REQUIRE(fix_new(&f, 32 << 10) == 0);
	memset(rec, 'x', sizeof rec - 1);
	rec[sizeof rec - 1] = '\0';
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "idle.0", rec) == 0);
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	wa_signal_store_free(f.ss); /* the idle session's client went away */
	f.ss = NULL;
	other = sigdb_session_open(f.db, f.sid2);
	REQUIRE(other);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "busy%d.0", i);
		REQUIRE(put(other, WA_SIGNAL_SESSION, key, rec) == 0);
		if (i % 20 == 19)
			REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	}
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.sessions, 1); /* the idle one's entries (and node) are gone */
	wa_signal_store_free(other);
	f.ss = sigdb_session_open(f.db, f.sid);
	REQUIRE(f.ss);
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "idle.0", rec, sizeof rec), 0);
	fix_free(&f);
}

/* Hundreds of sessions open at once (the session table grows from 64
 * buckets): each sees only its own record, the count follows opens and
 * closes, and one reopened finds its entry again. */
TEST(many_sessions_open)
{
	enum { N = 300 };
	static char ids[N][STORE_ID_LEN];
	struct wa_signal_store *ss[N];
	struct sigdb_stats s;
	struct fix f;
	char rec[32], got[32];

	REQUIRE(fix_new(&f, 0) == 0);
	for (int i = 0; i < N; i++) {
		struct store_session x;
		char name[16];

		snprintf(name, sizeof name, "m%d", i);
		REQUIRE(store_session_create(f.w, name, &x) == 0);
		snprintf(ids[i], sizeof ids[i], "%s", x.id);
		store_session_release(&x);
		ss[i] = sigdb_session_open(f.db, ids[i]);
		REQUIRE(ss[i]);
		snprintf(rec, sizeof rec, "rec-%d", i);
		REQUIRE(put(ss[i], WA_SIGNAL_SESSION, "peer.0", rec) == 0);
	}
	sigdb_stats(f.db, &s);
	CHECK_EQ_INT(s.sessions, N + 1); /* and the fixture's own */
	for (int i = 0; i < N; i++) {
		snprintf(rec, sizeof rec, "rec-%d", i);
		REQUIRE(get(ss[i], WA_SIGNAL_SESSION, "peer.0", got, sizeof got) == 0);
		CHECK_EQ_STR(got, rec);
	}
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	for (int i = 0; i < N; i += 2) {
		wa_signal_store_free(ss[i]);
		ss[i] = NULL;
	}
	ss[0] = sigdb_session_open(f.db, ids[0]);
	REQUIRE(ss[0]);
	REQUIRE(get(ss[0], WA_SIGNAL_SESSION, "peer.0", got, sizeof got) == 0);
	CHECK_EQ_STR(got, "rec-0");
	REQUIRE(get(ss[1], WA_SIGNAL_SESSION, "peer.0", got, sizeof got) == 0);
	CHECK_EQ_STR(got, "rec-1");
	for (int i = 0; i < N; i++)
		wa_signal_store_free(ss[i]);
	fix_free(&f);
}

TEST(durable_sequence)
{
	struct fix f;
	uint64_t seq;

	REQUIRE(fix_new(&f, 0) == 0);
	CHECK_EQ_INT(sigdb_seq(f.db), 0);
	CHECK(sigdb_durable(f.db, 0));
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "p.1", "state 1") == 0);
	seq = sigdb_seq(f.db);
	CHECK(seq > 0);
	CHECK(!sigdb_durable(f.db, seq));
	/* an unchanged save is no write */
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "p.1", "state 1") == 0);
	CHECK_EQ_INT(sigdb_seq(f.db), seq);
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	CHECK(sigdb_durable(f.db, seq));
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "p.1", "state 2") == 0);
	CHECK(!sigdb_durable(f.db, sigdb_seq(f.db)));
	CHECK(sigdb_durable(f.db, seq));
	/* a failed flush keeps entries dirty and durability where it was */
	{
		uint64_t s2 = sigdb_seq(f.db);
		int64_t counts[STORE_SIGNAL_KINDS];
		char v[32];
		struct store *ro = NULL;
		REQUIRE(store_open_reader(dbpath, &ro) == 0);
		CHECK(sigdb_flush(f.db, ro, NULL) != 0); /* query_only refuses writes */
		store_close(ro);
		CHECK(!sigdb_durable(f.db, s2));
		REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
		CHECK(sigdb_durable(f.db, s2));
		sigdb_drop_session(f.db, f.sid);
		CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "p.1", v, sizeof v), 0);
		CHECK_EQ_STR(v, "state 2");
		CHECK_EQ_INT(store_signal_count(f.w, f.sid, counts), 0);
		CHECK_EQ_INT(counts[WA_SIGNAL_SESSION], 1);
	}
	fix_free(&f);
}

/* A flusher thread against a loop thread that saves, removes and loads
 * (checking each load against its own model): writes made during a flush
 * stay dirty and are announced, nothing is lost or reverted. */
struct race {
	struct fix *f;
	_Atomic int stop, flushes;
	int errors;
};

/* Flushes only when woken by on_dirty, as the engine's worker would. */
static void *flusher(void *arg)
{
	struct race *r = arg;

	while (!r->stop || r->f->wake) {
		if (!atomic_exchange(&r->f->wake, 0)) {
			sched_yield();
			continue;
		}
		if (sigdb_flush(r->f->db, r->f->w, NULL))
			r->errors++;
		r->flushes++;
	}
	return NULL;
}

TEST(flush_races_the_loop)
{
	enum { NKEYS = 64, STEPS = 20000 };
	static char model[NKEYS][24]; /* "" = absent */
	struct race r = { 0 };
	pthread_t t;
	struct fix f;
	char key[16], v[64];
	int bad = 0;

	REQUIRE(fix_new(&f, 2048) == 0); /* small: evictions and misses too */
	memset(model, 0, sizeof model);
	r.f = &f;
	REQUIRE(pthread_create(&t, NULL, flusher, &r) == 0);
	/* go on until the flusher ran a fair number of times as well (it may
	 * be starved on a busy machine; 30 s at most) */
	time_t until = time(NULL) + 30;
	for (int i = 0; i < STEPS || (r.flushes < 100 && (i % 1024 || time(NULL) < until)); i++) {
		int k = (int)(rnd() % NKEYS), op = (int)(rnd() % 8);
		snprintf(key, sizeof key, "%d.%d", k, k % 3);
		if (op < 4) {
			char *val = model[k];
			snprintf(val, sizeof model[k], "v%d-%u", i, rnd() % 1000);
			if (put(f.ss, WA_SIGNAL_SESSION, key, val))
				bad++;
		} else if (op < 5) {
			model[k][0] = '\0';
			if (f.ss->remove(f.ss->ud, WA_SIGNAL_SESSION, key))
				bad++;
		} else {
			int rc = get(f.ss, WA_SIGNAL_SESSION, key, v, sizeof v);
			if (model[k][0] ? rc || strcmp(v, model[k]) : rc != Y_ENOTFOUND)
				bad++;
		}
	}
	r.stop = 1;
	pthread_join(t, NULL);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(r.errors, 0);
	CHECK(r.flushes >= 100);
	/* woken flushes alone wrote everything (also what was saved while a
	 * flush was writing), then everything is read back from the database */
	{
		struct sigdb_stats st;
		sigdb_stats(f.db, &st);
		CHECK_EQ_INT(st.dirty_bytes, 0);
	}
	sigdb_drop_session(f.db, f.sid);
	for (int k = 0; k < NKEYS; k++) {
		int rc;
		snprintf(key, sizeof key, "%d.%d", k, k % 3);
		rc = get(f.ss, WA_SIGNAL_SESSION, key, v, sizeof v);
		if (model[k][0]) {
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_STR(v, model[k]);
		} else {
			CHECK_EQ_INT(rc, Y_ENOTFOUND);
		}
	}
	fix_free(&f);
}

/* ---- the database ---- */

TEST(reopen_persists_and_unflushed_is_lost)
{
	struct fix f;
	char v[64];

	REQUIRE(fix_new(&f, 0) == 0);
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "k.1", "kept") == 0);
	REQUIRE(put(f.ss, WA_SIGNAL_SENDER_KEY, "g@g.us::k::1", "group key") == 0);
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "k.2", "never flushed") == 0);
	fix_close(&f); /* a crash: the cache is gone */
	REQUIRE(fix_open(&f, 0) == 0);
	f.ss = sigdb_session_open(f.db, f.sid);
	REQUIRE(f.ss);
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "k.1", v, sizeof v), 0);
	CHECK_EQ_STR(v, "kept");
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SENDER_KEY, "g@g.us::k::1", v, sizeof v), 0);
	CHECK_EQ_STR(v, "group key");
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "k.2", v, sizeof v), Y_ENOTFOUND);
	fix_free(&f);
}

TEST(sessions_isolated_and_cascades)
{
	struct wa_signal_store *two;
	int64_t counts[STORE_SIGNAL_KINDS];
	uint8_t priv[32] = { 1 }, got[32];
	uint32_t ids[2] = { 7, 8 };
	uint8_t privs[2][32] = { { 7 }, { 8 } };
	struct store_creds c;
	struct fix f;
	char v[64];

	REQUIRE(fix_new(&f, 0) == 0);
	two = sigdb_session_open(f.db, f.sid2);
	REQUIRE(two);
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "same.0", "of a") == 0);
	REQUIRE(put(two, WA_SIGNAL_SESSION, "same.0", "of b") == 0);
	REQUIRE(put(two, WA_SIGNAL_PREKEY, "7", "prekey 7 record") == 0);
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	sigdb_drop_session(f.db, f.sid);
	sigdb_drop_session(f.db, f.sid2);
	CHECK_EQ_INT(get(f.ss, WA_SIGNAL_SESSION, "same.0", v, sizeof v), 0);
	CHECK_EQ_STR(v, "of a");
	CHECK_EQ_INT(get(two, WA_SIGNAL_SESSION, "same.0", v, sizeof v), 0);
	CHECK_EQ_STR(v, "of b");

	/* removing a prekey record drops its wa_prekeys row too */
	REQUIRE(store_prekeys_add(f.w, f.sid2, ids, (const uint8_t(*)[32])privs, 2) == 0);
	REQUIRE(two->remove(two->ud, WA_SIGNAL_PREKEY, "7") == 0);
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	CHECK_EQ_INT(store_prekey_get(f.w, f.sid2, 7, got), Y_ENOTFOUND);
	CHECK_EQ_INT(store_prekey_get(f.w, f.sid2, 8, got), 0);

	/* logout (creds delete) wipes b's Signal records, not a's */
	memset(&c, 0, sizeof c);
	memcpy(c.noise_priv, priv, 32);
	REQUIRE(store_creds_put(f.w, f.sid2, &c) == 0);
	REQUIRE(store_creds_delete(f.w, f.sid2) == 0);
	CHECK_EQ_INT(store_signal_count(f.w, f.sid2, counts), 0);
	CHECK_EQ_INT(counts[WA_SIGNAL_SESSION], 0);
	CHECK_EQ_INT(store_signal_count(f.w, f.sid, counts), 0);
	CHECK_EQ_INT(counts[WA_SIGNAL_SESSION], 1);

	/* deleting session a cascades; a dirty write for it is then skipped */
	REQUIRE(store_lid_put(f.w, f.sid, "123456789", "15551234567") == 0);
	REQUIRE(put(f.ss, WA_SIGNAL_SESSION, "late.0", "after delete") == 0);
	REQUIRE(store_session_delete(f.w, f.sid) == 0);
	CHECK_EQ_INT(sigdb_flush(f.db, f.w, NULL), 0);
	CHECK_EQ_INT(store_signal_count(f.w, f.sid, counts), 0);
	for (int k = 0; k < STORE_SIGNAL_KINDS; k++)
		CHECK_EQ_INT(counts[k], 0);
	{
		char *pn = NULL;
		CHECK_EQ_INT(store_lid_get_pn(f.w, f.sid, "123456789", &pn), Y_ENOTFOUND);
		free(pn);
	}
	wa_signal_store_free(two);
	fix_free(&f);
}

TEST(lid_map)
{
	struct fix f;
	char *s = NULL;

	REQUIRE(fix_new(&f, 0) == 0);
	CHECK_EQ_INT(store_lid_get_pn(f.w, f.sid, "111", &s), Y_ENOTFOUND);
	REQUIRE(store_lid_put(f.w, f.sid, "111", "4915550001") == 0);
	REQUIRE(store_lid_get_pn(f.w, f.sid, "111", &s) == 0);
	CHECK_EQ_STR(s, "4915550001");
	free(s);
	REQUIRE(store_lid_get_lid(f.w, f.sid, "4915550001", &s) == 0);
	CHECK_EQ_STR(s, "111");
	free(s);
	CHECK_EQ_INT(store_lid_get_pn(f.w, f.sid2, "111", &s), Y_ENOTFOUND); /* per session */
	/* the number moves to a new LID: the old mapping goes */
	REQUIRE(store_lid_put(f.w, f.sid, "222", "4915550001") == 0);
	CHECK_EQ_INT(store_lid_get_pn(f.w, f.sid, "111", &s), Y_ENOTFOUND);
	REQUIRE(store_lid_get_lid(f.w, f.sid, "4915550001", &s) == 0);
	CHECK_EQ_STR(s, "222");
	free(s);
	/* the LID gets a new number */
	REQUIRE(store_lid_put(f.w, f.sid, "222", "4915550002") == 0);
	CHECK_EQ_INT(store_lid_get_lid(f.w, f.sid, "4915550001", &s), Y_ENOTFOUND);
	CHECK_EQ_INT(store_lid_put(f.w, f.sid, "", "1"), Y_EINVAL);
	CHECK_EQ_INT(store_lid_put(f.w, "no-such-session", "1", "2"), Y_ENOTFOUND);
	fix_free(&f);
}

TEST(reader_and_durability)
{
	struct store *r = NULL;
	struct fix f;

	REQUIRE(fix_new(&f, 0) == 0);
	CHECK_EQ_INT(store_open_reader(":memory:", &r), Y_EINVAL);
	CHECK(store_lid_put(f.r, f.sid, "1", "2") != 0);
	CHECK_EQ_INT(store_sqlite_synchronous(f.w), 1); /* NORMAL after store_open */
	CHECK_EQ_INT(store_set_durability(f.w, STORE_DURABILITY_FULL), 0);
	CHECK_EQ_INT(store_sqlite_synchronous(f.w), 2);
	CHECK_EQ_INT(store_set_durability(f.w, STORE_DURABILITY_NORMAL), 0);
	CHECK_EQ_INT(store_sqlite_synchronous(f.w), 1);
	CHECK_EQ_INT(store_set_durability(f.w, (enum store_durability)7), Y_EINVAL);
	fix_free(&f);
}

/* ---- a real Signal exchange over the store ---- */

struct peer {
	struct wa_signal_identity id;
	struct wa_signal_store *store;
	struct wa_signal *s;
	struct wa_signal_addr addr;
};

static int send_one(struct peer *a, struct peer *b, int *type)
{
	char pt[64];
	enum wa_signal_type t;
	uint8_t *ct = NULL, *out = NULL;
	size_t ctn = 0, outn = 0, n;
	int rc;

	n = (size_t)snprintf(pt, sizeof pt, "message %u", rnd());
	rc = wa_signal_encrypt(a->s, &b->addr, (const uint8_t *)pt, n, &t, &ct, &ctn);
	if (!rc)
		rc = wa_signal_decrypt(b->s, &a->addr, t, ct, ctn, &out, &outn);
	if (!rc && (outn != n || memcmp(out, pt, n)))
		rc = -100;
	free(ct);
	free(out);
	if (type)
		*type = (int)t;
	return rc;
}

/* A process restart for bob: new endpoint, cache and connections. */
static int restart(struct fix *f, struct peer *bob)
{
	wa_signal_free(bob->s);
	bob->s = NULL;
	fix_close(f);
	if (fix_open(f, 0) || !(f->ss = sigdb_session_open(f->db, f->sid)))
		return -1;
	bob->store = f->ss;
	bob->s = wa_signal_new(&bob->id, bob->store);
	return bob->s ? 0 : -1;
}

TEST(signal_round_trip_across_restart)
{
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey pks[3];
	struct wa_signal_bundle b;
	struct peer alice, bob;
	struct fix f;
	int t = 0;

	REQUIRE(fix_new(&f, 0) == 0);
	/* alice in memory, bob (us) over the SQLite store */
	REQUIRE(wa_signal_identity_generate(&alice.id) == 0);
	REQUIRE(wa_signal_identity_generate(&bob.id) == 0);
	alice.store = wa_signal_memstore_new();
	REQUIRE(alice.store);
	alice.s = wa_signal_new(&alice.id, alice.store);
	bob.store = f.ss;
	bob.s = wa_signal_new(&bob.id, bob.store);
	REQUIRE(alice.s && bob.s);
	REQUIRE(wa_signal_address(&alice.addr, "111", "s.whatsapp.net", 0, 0,
				  WA_SIGNAL_ADDR_DOMAIN) == 0);
	REQUIRE(wa_signal_address(&bob.addr, "222", "lid", 0, 5, WA_SIGNAL_ADDR_DOMAIN) == 0);
	REQUIRE(wa_signal_gen_signed_prekey(bob.s, 1, &spk) == 0);
	REQUIRE(wa_signal_gen_prekeys(bob.s, 1, 3, pks) == 0);
	REQUIRE(wa_signal_own_bundle(bob.s, 1, 2, &b) == 0);
	REQUIRE(wa_signal_session_from_bundle(alice.s, &bob.addr, &b) == 0);
	CHECK_EQ_INT(send_one(&alice, &bob, &t), 0);
	CHECK_EQ_INT(t, WA_SIGNAL_PKMSG);
	CHECK_EQ_INT(send_one(&bob, &alice, &t), 0);
	CHECK_EQ_INT(t, WA_SIGNAL_MSG);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(send_one(i % 3 ? &alice : &bob, i % 3 ? &bob : &alice, NULL), 0);
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);
	{
		int64_t counts[STORE_SIGNAL_KINDS];
		REQUIRE(store_signal_count(f.w, f.sid, counts) == 0);
		CHECK_EQ_INT(counts[WA_SIGNAL_SESSION], 1);
		CHECK_EQ_INT(counts[WA_SIGNAL_IDENTITY], 1);
		CHECK_EQ_INT(counts[WA_SIGNAL_PREKEY], 2); /* prekey 2 was consumed */
		CHECK_EQ_INT(counts[WA_SIGNAL_SIGNED_PREKEY], 1);
	}

	/* restart: bob's endpoint, cache and connections are new */
	REQUIRE(restart(&f, &bob) == 0);
	CHECK_EQ_INT(wa_signal_has_session(bob.s, &alice.addr), 1);
	for (int i = 0; i < 6; i++) {
		CHECK_EQ_INT(send_one(i % 2 ? &alice : &bob, i % 2 ? &bob : &alice, &t), 0);
		CHECK_EQ_INT(t, WA_SIGNAL_MSG);
	}
	REQUIRE(sigdb_flush(f.db, f.w, NULL) == 0);

	/* a crash after receiving, before the flush: the receiving chain
	 * still derives alice's later message keys, so her next message
	 * decrypts after the restart */
	CHECK_EQ_INT(send_one(&alice, &bob, NULL), 0);
	CHECK_EQ_INT(send_one(&alice, &bob, NULL), 0);
	REQUIRE(restart(&f, &bob) == 0);
	CHECK_EQ_INT(send_one(&alice, &bob, NULL), 0);
	CHECK_EQ_INT(send_one(&bob, &alice, NULL), 0);
	CHECK_EQ_INT(send_one(&alice, &bob, NULL), 0);

	wa_signal_free(alice.s);
	wa_signal_store_free(alice.store);
	wa_signal_free(bob.s);
	fix_free(&f);
}

int main(void)
{
	RUN(conformance_memstore);
	RUN(conformance_sigdb_cached);
	RUN(conformance_sigdb_flushed_and_cold);
	RUN(conformance_sigdb_tiny_budget);
	RUN(differential_odd_keys);
	RUN(cache_bound_in_bytes);
	RUN(idle_session_holds_nothing);
	RUN(uploaded_prekeys_leave_the_cache_once_flushed);
	RUN(many_sessions_open);
	RUN(durable_sequence);
	RUN(flush_races_the_loop);
	RUN(reopen_persists_and_unflushed_is_lost);
	RUN(sessions_isolated_and_cascades);
	RUN(lid_map);
	RUN(reader_and_durability);
	RUN(signal_round_trip_across_restart);
	return test_summary();
}
