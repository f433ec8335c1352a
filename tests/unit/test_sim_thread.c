/*
 * Unit tests for src/sim/sim_thread.c: the simulator on its own thread.
 * What it reports (URLs with the bound port, the root key in hex), scans
 * handed to the loop thread from several threads at once (bad phone,
 * malformed QR, a ref no connection shows), a caller that gives up at once
 * (the loop finishes the job and frees it: ASan watches), and a stop that
 * saves the accounts the scans made into the state file. Run under ASan, the
 * exit's leak check also holds the two-step start (new, other loops, run).
 */
#include <pthread.h>
#include <stdio.h>

#include "sim/sim_int.h"
#include "test.h"
#include "tmpdir.h"
#include "util/err.h"
#include "util/log.h"

/* A QR in the wa.me form with keys of bytes 1, 2, 3 and a ref no one shows. */
static const char QR_UNKNOWN_REF[] =
	"https://wa.me/settings/linked_devices#2@nosuchref,"
	"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,"
	"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,"
	"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=,1";

TEST(reports_where_it_listens)
{
	struct sim_opts o = { .host = "127.0.0.1", .port = 0 };
	struct sim_thread *t = NULL;
	const struct sim_thread_info *si;
	struct wa_loop *other = NULL;
	char hex[65];
	int port = 0;

	REQUIRE(sim_thread_start(&o, &t) == Y_OK);
	si = sim_thread_info(t);
	CHECK(sscanf(si->ws_url, "ws://127.0.0.1:%d/ws/chat", &port) == 1 && port > 0);
	snprintf(hex, sizeof(hex), "http://127.0.0.1:%d/sim", port);
	CHECK_EQ_STR(si->control_url, hex);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", si->root_pub[i]);
	CHECK_EQ_STR(si->root_hex, hex);
	CHECK(strspn(si->root_hex, "0123456789abcdef") == 64);
	sim_thread_stop(t);
	sim_thread_stop(NULL);

	/* made but never run: calls are refused, the stop still frees it */
	REQUIRE(sim_thread_new(&o, &t) == Y_OK);
	CHECK(strncmp(sim_thread_info(t)->ws_url, "ws://127.0.0.1:", 15) == 0);
	CHECK_EQ_INT(sim_thread_scan(t, "15550001111", QR_UNKNOWN_REF, NULL, 0, 1000), Y_ECLOSED);
	sim_thread_stop(t);
	/* made, another loop made (as serve makes the engine's), then run:
	 * in the other order LeakSanitizer reports the media host's SSL_CTX
	 * at exit (sim_thread_run says why) */
	REQUIRE(sim_thread_new(&o, &t) == Y_OK);
	REQUIRE(wa_loop_new(NULL, &other) == Y_OK);
	REQUIRE(sim_thread_run(t) == Y_OK);
	CHECK_EQ_INT(sim_thread_run(t), Y_ESTATE);
	CHECK_EQ_INT(sim_thread_scan(t, "15550001111", QR_UNKNOWN_REF, NULL, 0, 5000),
		     Y_ENOTFOUND);
	wa_loop_free(other);
	sim_thread_stop(t);
}

struct worker {
	struct sim_thread *t;
	int n, notfound, other;
	char phone[24];
};

static void *scan_many(void *arg)
{
	struct worker *w = arg;
	char jid[128];

	for (int i = 0; i < w->n; i++) {
		int rc = sim_thread_scan(w->t, w->phone, QR_UNKNOWN_REF, jid, sizeof(jid), 5000);

		if (rc == Y_ENOTFOUND)
			w->notfound++;
		else
			w->other++;
	}
	return NULL;
}

TEST(scans_run_on_the_loop_thread)
{
	char dir[256], file[300], jid[128] = "untouched", *text = NULL;
	struct sim_opts o = { .host = "127.0.0.1", .port = 0 };
	struct sim_thread *t = NULL;
	struct worker w[4];
	pthread_t th[4];
	FILE *f;
	long n;

	REQUIRE(tmpdir_make(dir, sizeof(dir)) == 0);
	snprintf(file, sizeof(file), "%s/sandbox.json", dir);
	o.state_file = file;
	REQUIRE(sim_thread_start(&o, &t) == Y_OK);

	/* refused before reaching the loop, or by the QR parser on it */
	CHECK_EQ_INT(sim_thread_scan(t, "0123", QR_UNKNOWN_REF, jid, sizeof(jid), 5000), Y_EINVAL);
	CHECK_EQ_INT(sim_thread_scan(t, "1555x", QR_UNKNOWN_REF, jid, sizeof(jid), 5000),
		     Y_EINVAL);
	CHECK_EQ_INT(sim_thread_scan(t, "15550001111", NULL, jid, sizeof(jid), 5000), Y_EINVAL);
	CHECK_EQ_INT(sim_thread_scan(t, "15550001111", "not a qr", jid, sizeof(jid), 5000),
		     Y_EINVAL);
	/* well formed, but no connection shows that ref */
	CHECK_EQ_INT(sim_thread_scan(t, "+15550001111", QR_UNKNOWN_REF, jid, sizeof(jid), 5000),
		     Y_ENOTFOUND);
	CHECK_EQ_STR(jid, "untouched");

	/* several HTTP-like threads at once */
	for (int i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].t = t;
		w[i].n = 50;
		snprintf(w[i].phone, sizeof(w[i].phone), "155500022%02d", i & 3);
		REQUIRE(pthread_create(&th[i], NULL, scan_many, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(w[i].notfound, 50);
		CHECK_EQ_INT(w[i].other, 0);
	}

	/* a caller that does not wait: it holds the lock from queueing to its
	 * (already passed) deadline, so the loop cannot have answered; the loop
	 * still runs the job later and frees it */
	CHECK_EQ_INT(sim_thread_scan(t, "15550003333", QR_UNKNOWN_REF, jid, sizeof(jid), 0),
		     Y_ETIMEOUT);

	sim_thread_stop(t);
	/* the stop saved what the scans did on the loop: the accounts */
	f = fopen(file, "rb");
	CHECK(f != NULL);
	if (f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
	    (text = calloc(1, (size_t)n + 1)))
		CHECK(fread(text, 1, (size_t)n, f) == (size_t)n);
	if (f)
		fclose(f);
	CHECK(text && strstr(text, "\"15550001111\""));
	CHECK(text && strstr(text, "\"15550002203\""));
	CHECK(text && strstr(text, "\"15550003333\"")); /* the abandoned job ran */
	CHECK(text && !strstr(text, "\"15550004444\"")); /* and no account is invented */
	free(text);

	/* the next start loads it: the same root key */
	{
		struct sim_thread *t2 = NULL;
		char root[65];

		REQUIRE(sim_thread_start(&o, &t2) == Y_OK);
		snprintf(root, sizeof(root), "%s", sim_thread_info(t2)->root_hex);
		sim_thread_stop(t2);
		o.state_file = NULL;
		REQUIRE(sim_thread_start(&o, &t2) == Y_OK);
		CHECK(strcmp(root, sim_thread_info(t2)->root_hex) != 0); /* a fresh one differs */
		sim_thread_stop(t2);
		o.state_file = file;
		REQUIRE(sim_thread_start(&o, &t2) == Y_OK);
		CHECK_EQ_STR(sim_thread_info(t2)->root_hex, root);
		sim_thread_stop(t2);
	}
	tmpdir_remove(dir);
}

int main(void)
{
	ylog_min = getenv("TLOG") ? YLOG_DEBUG : YLOG_OFF;
	RUN(reports_where_it_listens);
	RUN(scans_run_on_the_loop_thread);
	return test_summary();
}
