/* Tests of retention (service/retention.h): the pruning step and the timer
 * thread that repeats it. */
#include "test.h"
#include "tmpdir.h"

#include "service/retention.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <time.h>

#define DAY (24LL * 60 * 60 * 1000)

static char tmp[256];
static int dbn;

static struct store *fresh(void)
{
	char p[300];
	struct store *st = NULL;

	snprintf(p, sizeof(p), "%s/db%d.sqlite", tmp, ++dbn);
	return store_open(p, &st) == Y_OK ? st : NULL;
}

static int add_message(struct store *st, const char *session, int64_t ts)
{
	struct store_message m;

	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", session);
	m.chat = "15551234567@s.whatsapp.net";
	m.type = "text";
	m.body = "{\"text\":\"x\"}";
	m.status = "received";
	m.timestamp = ts;
	return store_message_insert(st, &m);
}

static size_t count_messages(struct store *st, const char *session)
{
	struct store_message *list = NULL;
	struct store_cursor next;
	size_t n = 0;
	int has_next = 0;

	if (store_message_list(st, session, NULL, STORE_LIST_MAX, &list, &n, &next, &has_next))
		return (size_t)-1;
	store_messages_free(list, n);
	return n;
}

/* A log stream for one test: lines written while it is set. */
static char *log_mem;
static size_t log_len;
static FILE *log_f;

static void log_begin(void)
{
	log_f = open_memstream(&log_mem, &log_len);
	ylog_set_output(log_f);
	ylog_min = YLOG_INFO;
}

static void log_end(void)
{
	ylog_min = YLOG_OFF;
	ylog_set_output(NULL);
	fclose(log_f);
}

TEST(prune_step_deletes_rows_older_than_the_retention)
{
	struct store *st = fresh();
	struct store_session s;
	int64_t now = clock_now_ms(), deleted = -1;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "r", &s) == Y_OK);
	REQUIRE(add_message(st, s.id, now - 40 * DAY) == Y_OK);
	REQUIRE(add_message(st, s.id, now - 31 * DAY) == Y_OK);
	REQUIRE(add_message(st, s.id, now - 29 * DAY) == Y_OK);
	REQUIRE(add_message(st, s.id, now - 1000) == Y_OK);
	REQUIRE(store_webhook_log_add(st, s.id, "message", "http://h.test", 200, 1, NULL) == Y_OK);

	/* 0 keeps everything. */
	CHECK_EQ_INT(retention_prune(st, 0, now, &deleted), Y_OK);
	CHECK_EQ_INT(deleted, 0);
	CHECK_EQ_INT(count_messages(st, s.id), 4);

	log_begin();
	CHECK_EQ_INT(retention_prune(st, 30, now, &deleted), Y_OK);
	log_end();
	CHECK_EQ_INT(deleted, 2);
	CHECK_EQ_INT(count_messages(st, s.id), 2);
	CHECK(log_mem && strstr(log_mem, "\"deleted\":2") && strstr(log_mem, "\"retentionDays\":30"));
	free(log_mem);
	log_mem = NULL;

	/* Seen from two days on, the webhook row (written now) and the
	 * newest message are older than one day as well. */
	CHECK_EQ_INT(retention_prune(st, 1, now + 2 * DAY, &deleted), Y_OK);
	CHECK_EQ_INT(deleted, 3);
	CHECK_EQ_INT(count_messages(st, s.id), 0);
	CHECK_EQ_INT(retention_prune(st, 1, now + 2 * DAY, NULL), Y_OK);
	store_session_release(&s);
	store_close(st);
}

TEST(negative_retention_keeps_everything)
{
	struct store *st = fresh();
	struct store_session s;
	int64_t deleted = -1;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "n", &s) == Y_OK);
	REQUIRE(add_message(st, s.id, 1) == Y_OK); /* 1970 */
	CHECK_EQ_INT(retention_prune(st, -5, clock_now_ms(), &deleted), Y_OK);
	CHECK_EQ_INT(deleted, 0);
	CHECK_EQ_INT(count_messages(st, s.id), 1);
	store_session_release(&s);
	store_close(st);
}

TEST(timer_prunes_repeatedly_and_stops)
{
	struct store *st = fresh();
	struct store_session s;
	struct retention *r = NULL;
	int64_t old = clock_now_ms() - 10 * DAY;
	struct timespec pause = { 0, 10 * 1000000 };

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "t", &s) == Y_OK);
	CHECK_EQ_INT(retention_start(st, 0, 20, &r), Y_OK);
	CHECK(r == NULL); /* keep forever: no thread */
	CHECK_EQ_INT(retention_start(st, 5, 0, &r), Y_EINVAL);
	retention_stop(NULL);

	REQUIRE(retention_start(st, 5, 20, &r) == Y_OK);
	REQUIRE(r != NULL);
	/* Rows written after start go at a later tick; wait (bounded) for
	 * two rounds: one insert, one tick, twice. */
	for (int round = 0; round < 2; round++) {
		uint64_t before;

		REQUIRE(add_message(st, s.id, old) == Y_OK);
		before = retention_runs(r);
		for (int i = 0; i < 1000 && retention_runs(r) < before + 2; i++)
			nanosleep(&pause, NULL);
		CHECK(retention_runs(r) >= before + 2);
		CHECK_EQ_INT(count_messages(st, s.id), 0);
	}
	retention_stop(r);
	/* Stopped: nothing prunes any more. */
	REQUIRE(add_message(st, s.id, old) == Y_OK);
	nanosleep(&pause, NULL);
	nanosleep(&pause, NULL);
	nanosleep(&pause, NULL);
	CHECK_EQ_INT(count_messages(st, s.id), 1);

	/* A long interval still stops at once (the thread waits on a
	 * condition, not in sleep). */
	REQUIRE(retention_start(st, 5, 3600 * 1000, &r) == Y_OK);
	retention_stop(r);
	store_session_release(&s);
	store_close(st);
}

int main(void)
{
	if (tmpdir_make(tmp, sizeof(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	ylog_min = YLOG_OFF;
	RUN(prune_step_deletes_rows_older_than_the_retention);
	RUN(negative_retention_keeps_everything);
	RUN(timer_prunes_repeatedly_and_stops);
	tmpdir_remove(tmp);
	return test_summary();
}
