/*
 * Store benchmark: throughput of the calls on the request path, on a
 * temporary SQLite file (WAL, synchronous=NORMAL).
 *   bench_store [quick]     quick: fewer iterations
 * Prints one line per measurement: name, operations, seconds, ops/s.
 */
#include "auth/apikey.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *name, long ops, double secs)
{
	printf("%-28s %8ld ops %8.3f s %10.0f ops/s\n", name, ops, secs, ops / secs);
}

static int rm_entry(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb, (void)f, (void)w;
	return remove(p);
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && !strcmp(argv[1], "quick");
	long n_insert = quick ? 2000 : 20000, n_list = quick ? 500 : 5000;
	long n_verify = quick ? 2000 : 20000;
	char dir[] = "/tmp/yesapp-bench-XXXXXX", path[300];
	char key[APIKEY_HEX_LEN + 1], kid[STORE_ID_LEN], got[STORE_ID_LEN];
	struct store *st = NULL;
	struct store_session s;
	double t;
	int rc = 1;

	ylog_min = YLOG_WARN;
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/db.sqlite", dir);
	if (store_open(path, &st) || store_session_create(st, "bench", &s))
		goto out;

	t = now_s();
	for (long i = 0; i < n_insert; i++) {
		struct store_message m;

		memset(&m, 0, sizeof(m));
		memcpy(m.session_id, s.id, STORE_ID_LEN);
		m.chat = "15551234567@s.whatsapp.net";
		m.type = "text";
		m.body = "{\"text\":\"hello from the benchmark\"}";
		m.status = "received";
		m.timestamp = 1700000000000LL + i;
		if (store_message_insert(st, &m))
			goto out;
	}
	report("message_insert", n_insert, now_s() - t);

	t = now_s();
	for (long i = 0; i < n_list; i++) {
		struct store_message *rows;
		struct store_cursor cur = { 1700000000000LL + n_insert - (i * 37) % n_insert, "" };
		size_t n;
		int more;

		if (store_message_list(st, s.id, i % 2 ? &cur : NULL, 50, &rows, &n, &cur, &more))
			goto out;
		store_messages_free(rows, n);
	}
	report("message_list_page50", n_list, now_s() - t);

	for (int i = 0; i < 5; i++)
		if (apikey_create(st, "bench", key, kid))
			goto out;
	t = now_s();
	for (long i = 0; i < n_verify; i++)
		if (apikey_verify(st, key, got))
			goto out;
	report("apikey_verify_5_keys", n_verify, now_s() - t);

	t = now_s();
	for (long i = 0; i < n_verify; i++) {
		struct store_session g;

		if (store_session_get(st, s.id, &g))
			goto out;
		store_session_release(&g);
	}
	report("session_get", n_verify, now_s() - t);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench_store: a store call failed\n");
	store_session_release(&s);
	store_close(st);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}
