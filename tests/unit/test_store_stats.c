/* store_stats: the dashboard's aggregates (GET /api/v1/stats). */
#include "test.h"
#include "tmpdir.h"

#include "store/store.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#define HOUR 3600000LL
#define DAY 86400000LL

static void add(struct store *st, const char *sid, int from_me, const char *status, int64_t ts)
{
	struct store_message m;

	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", sid);
	m.chat = "15550001111@s.whatsapp.net";
	m.from_me = from_me;
	m.type = "text";
	m.body = "{\"text\":\"x\"}";
	m.text = "x";
	m.status = (char *)status;
	m.timestamp = ts;
	m.created_at = ts;
	CHECK_EQ_INT(store_message_insert(st, &m), Y_OK);
}

static int64_t status_n(const struct store_stats *s, const char *name)
{
	for (int i = 0; i < s->nstatus; i++)
		if (!strcmp(s->by_status[i].status, name))
			return s->by_status[i].n;
	return -1;
}

TEST(stats_counts_sessions_messages_and_webhook_failures)
{
	char dir[256], url[300];
	struct store *st = NULL;
	struct store_session a, b;
	struct store_stats s;
	int64_t now = clock_now_ms(), hour_start = now / HOUR * HOUR, day_start = now / DAY * DAY;

	ylog_min = YLOG_ERROR;
	CHECK(tmpdir_make(dir, sizeof(dir)) == 0);
	snprintf(url, sizeof(url), "sqlite:%s/db.sqlite", dir);
	CHECK_EQ_INT(store_open(url, &st), Y_OK);
	if (!st)
		return;
	CHECK_EQ_INT(store_session_create(st, "a", &a), Y_OK);
	CHECK_EQ_INT(store_session_create(st, "b", &b), Y_OK);
	CHECK_EQ_INT(store_session_set_status(st, a.id, STORE_SESSION_CONNECTED, "15550001111"), Y_OK);

	add(st, a.id, 1, "delivered", hour_start + 1);    /* this hour, today */
	add(st, a.id, 1, "failed", hour_start + 2);
	add(st, a.id, 0, "received", hour_start + 3);
	add(st, b.id, 1, "sent", hour_start - HOUR + 5);  /* the hour before */
	add(st, a.id, 1, "sent", day_start - DAY + 7);    /* yesterday */
	add(st, a.id, 0, "received", day_start - 40 * DAY); /* too old for either series */
	add(st, a.id, 1, "sent", now + 2 * HOUR);          /* in the future: not counted */
	CHECK_EQ_INT(store_webhook_log_add(st, a.id, "message", "http://127.0.0.1:9/h", 500, 1, "x"),
		     Y_OK);
	CHECK_EQ_INT(store_webhook_log_add(st, a.id, "message", "http://127.0.0.1:9/h", 0, 2, "refused"),
		     Y_OK);
	CHECK_EQ_INT(store_webhook_log_add(st, b.id, "message", "http://127.0.0.1:9/h", 200, 1, NULL),
		     Y_OK);

	CHECK_EQ_INT(store_stats(st, NULL, now, &s), Y_OK);
	CHECK_EQ_INT(s.sessions, 2);
	CHECK_EQ_INT(status_n(&s, "connected"), 1);
	CHECK_EQ_INT(s.hour0_ms, hour_start - 23 * HOUR);
	CHECK_EQ_INT(s.day0_ms, day_start - 29 * DAY);
	CHECK_EQ_INT(s.hourly[23].sent, 1);
	CHECK_EQ_INT(s.hourly[23].failed, 1);
	CHECK_EQ_INT(s.hourly[23].received, 1);
	CHECK_EQ_INT(s.hourly[22].sent, 1);
	/* yesterday's, and the hour before's when this is the day's first hour */
	CHECK_EQ_INT(s.daily[28].sent, 1 + (hour_start == day_start));
	CHECK_EQ_INT(s.daily[29].sent + s.daily[29].failed + s.daily[29].received,
		     3 + (hour_start != day_start));
	int64_t total = 0;
	for (int i = 0; i < STORE_STATS_DAYS; i++)
		total += s.daily[i].sent + s.daily[i].received + s.daily[i].failed;
	CHECK_EQ_INT(total, 5); /* the old and the future one are out */
	CHECK_EQ_INT(s.webhook_failures, 2);

	/* one session */
	CHECK_EQ_INT(store_stats(st, b.id, now, &s), Y_OK);
	CHECK_EQ_INT(s.sessions, 1);
	CHECK_EQ_INT(s.hourly[23].sent + s.hourly[23].failed + s.hourly[23].received, 0);
	CHECK_EQ_INT(s.hourly[22].sent, 1);
	CHECK_EQ_INT(s.webhook_failures, 0);
	CHECK_EQ_INT(store_stats(st, "00000000-0000-4000-8000-000000000000", now, &s), Y_OK);
	CHECK_EQ_INT(s.sessions, 0);
	CHECK_EQ_INT(store_stats(st, NULL, 5, &s), Y_EINVAL);

	store_session_release(&a);
	store_session_release(&b);
	store_close(st);
	tmpdir_remove(dir);
}

int main(void)
{
	RUN(stats_counts_sessions_messages_and_webhook_failures);
	return test_summary();
}
