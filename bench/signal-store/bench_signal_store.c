/*
 * Signal store benchmark: decrypts per second on our side (one session
 * receiving from N peers in turn, 256-byte "msg"s, symmetric ratchet) with
 * the session's records in
 *   memstore   the in-memory wa_signal_store (no database: the ceiling)
 *   warm       src/service/signal_db over SQLite, the cache big enough
 *   cold       the same with a 1-byte budget: every record read from SQLite
 *   warm-full  warm with DURABILITY=full (an fsync per flush)
 * The cache is flushed every FLUSH decrypts, in the timed loop (the worker
 * would do it on its own thread). Ciphertexts are made before timing.
 * Prints "<figure> <decrypts/s>" lines.
 * Usage: bench_signal_store N_PEERS N_MESSAGES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/signal_db.h"
#include "store/store.h"
#include "util/log.h"
#include "wa/signal.h"
#include "wa/signal_store.h"

#define FLUSH 64

struct peer {
	struct wa_signal_identity id;
	struct wa_signal_store *store;
	struct wa_signal *s;
	struct wa_signal_addr addr;
};

struct ct {
	int peer;
	enum wa_signal_type type;
	uint8_t *data;
	size_t len;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, int rc)
{
	fprintf(stderr, "bench_signal_store: %s failed: %d\n", what, rc);
	exit(1);
}

static void peer_init(struct peer *p, struct wa_signal_store *st, const char *user)
{
	int rc;

	if ((rc = wa_signal_identity_generate(&p->id)))
		fail("identity", rc);
	p->store = st;
	p->s = wa_signal_new(&p->id, p->store);
	if (!p->s)
		fail("new", -1);
	if ((rc = wa_signal_address(&p->addr, user, "s.whatsapp.net", 0, 0, WA_SIGNAL_ADDR_DOMAIN)))
		fail("address", rc);
}

static void one(struct peer *a, struct peer *b)
{
	uint8_t pt[256], *ct = NULL, *out = NULL;
	size_t ctn, outn;
	enum wa_signal_type t;
	int rc;

	memset(pt, 'x', sizeof pt);
	if ((rc = wa_signal_encrypt(a->s, &b->addr, pt, sizeof pt, &t, &ct, &ctn)) ||
	    (rc = wa_signal_decrypt(b->s, &a->addr, t, ct, ctn, &out, &outn)))
		fail("exchange", rc);
	free(ct);
	free(out);
}

/* mode: 0 memstore, 1 warm, 2 cold, 3 warm-full */
static double run(int mode, int npeers, int nmsgs, const char *dir)
{
	struct store *w = NULL, *r = NULL;
	struct sigdb *db = NULL;
	struct wa_signal_store *st;
	struct peer us, *them = calloc((size_t)npeers, sizeof *them);
	struct wa_signal_signed_prekey spk;
	struct wa_signal_bundle b;
	struct ct *cts = calloc((size_t)nmsgs, sizeof *cts);
	char path[300], user[32];
	double t0, t;
	int rc;

	if (!them || !cts)
		fail("alloc", -1);
	if (mode == 0) {
		st = wa_signal_memstore_new();
	} else {
		struct store_session s;
		snprintf(path, sizeof path, "%s/bench-%d.sqlite", dir, mode);
		if ((rc = store_open(path, &w)) || (rc = store_open_reader(path, &r)))
			fail("open", rc);
		if (mode == 3 && (rc = store_set_durability(w, STORE_DURABILITY_FULL)))
			fail("durability", rc);
		if ((rc = store_session_create(w, "bench", &s)))
			fail("session", rc);
		db = sigdb_new(r, mode == 2 ? 1 : 0, NULL, NULL);
		st = db ? sigdb_session_open(db, s.id) : NULL;
		store_session_release(&s);
	}
	if (!st)
		fail("store", -1);
	peer_init(&us, st, "1000");
	if ((rc = wa_signal_gen_signed_prekey(us.s, 1, &spk)) ||
	    (rc = wa_signal_own_bundle(us.s, 1, 0, &b)))
		fail("bundle", rc);
	for (int i = 0; i < npeers; i++) {
		snprintf(user, sizeof user, "%d", 2000 + i);
		peer_init(&them[i], wa_signal_memstore_new(), user);
		if ((rc = wa_signal_session_from_bundle(them[i].s, &us.addr, &b)))
			fail("session", rc);
		one(&them[i], &us); /* pkmsg */
		one(&us, &them[i]); /* now both sides send msg */
	}
	if (db && (rc = sigdb_flush(db, w, NULL)))
		fail("flush", rc);
	for (int i = 0; i < nmsgs; i++) {
		uint8_t pt[256];
		memset(pt, 'm', sizeof pt);
		cts[i].peer = i % npeers;
		if ((rc = wa_signal_encrypt(them[cts[i].peer].s, &us.addr, pt, sizeof pt, &cts[i].type,
					    &cts[i].data, &cts[i].len)))
			fail("encrypt", rc);
	}
	t0 = now();
	for (int i = 0; i < nmsgs; i++) {
		uint8_t *out = NULL;
		size_t outn;
		if ((rc = wa_signal_decrypt(us.s, &them[cts[i].peer].addr, cts[i].type, cts[i].data,
					    cts[i].len, &out, &outn)))
			fail("decrypt", rc);
		free(out);
		if (db && (i % FLUSH == FLUSH - 1 || i == nmsgs - 1) && (rc = sigdb_flush(db, w, NULL)))
			fail("flush", rc);
	}
	t = now() - t0;
	for (int i = 0; i < nmsgs; i++)
		free(cts[i].data);
	for (int i = 0; i < npeers; i++) {
		wa_signal_free(them[i].s);
		wa_signal_store_free(them[i].store);
	}
	wa_signal_free(us.s);
	wa_signal_store_free(st);
	sigdb_free(db);
	store_close(r);
	store_close(w);
	free(them);
	free(cts);
	return nmsgs / t;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "memstore", "warm", "cold", "warm-full" };
	int npeers = argc > 1 ? atoi(argv[1]) : 50, nmsgs = argc > 2 ? atoi(argv[2]) : 2000;
	char dir[] = "/tmp/bench-signal-store-XXXXXX";

	if (npeers < 1 || nmsgs < 1 || !mkdtemp(dir))
		fail("arguments", -1);
	ylog_min = YLOG_WARN;
	for (int m = 0; m < 4; m++)
		printf("%s %.1f\n", names[m], run(m, npeers, nmsgs, dir));
	for (int m = 1; m < 4; m++) {
		char p[400];
		static const char *const sfx[] = { "", "-wal", "-shm" };
		for (int k = 0; k < 3; k++) {
			snprintf(p, sizeof p, "%s/bench-%d.sqlite%s", dir, m, sfx[k]);
			unlink(p);
		}
	}
	rmdir(dir);
	return 0;
}
