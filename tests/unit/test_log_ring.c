/* The ring of recent log lines behind GET /api/v1/logs (util/log.h). */
#include "test.h"
#include "util/log.h"

#include <jansson.h>
#include <pthread.h>

static struct ylog_ring_line out[YLOG_RING_SLOTS + 8];
static FILE *sink;

static void quiet(void)
{
	if (!sink)
		sink = tmpfile();
	ylog_set_output(sink);
	ylog_min = YLOG_DEBUG;
	ylog_ring_clear();
}

static json_t *parse(const struct ylog_ring_line *l)
{
	return json_loads(l->text, JSON_REJECT_DUPLICATES, NULL);
}

TEST(ring_keeps_lines_oldest_first_and_filters)
{
	size_t n;
	json_t *j;

	quiet();
	LOG_DEBUG("one", NULL);
	LOG_INFO("two", "{s:i}", "n", 2);
	LOG_WARN("three", "{s:s}", "sessionId", "0b0c4a2e-7f6c-4c59-9d8e-1c2b3a4d5e6f");
	ylog_set_session("11111111-2222-4333-8444-555555555555");
	LOG_ERROR("four", NULL);
	ylog_set_session(NULL);
	n = ylog_ring_read(YLOG_DEBUG, NULL, out, 10);
	CHECK_EQ_INT(n, 4);
	j = parse(&out[0]);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "message")), "one");
	json_decref(j);
	j = parse(&out[3]);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "message")), "four");
	json_decref(j);
	CHECK(out[0].seq < out[1].seq && out[2].seq < out[3].seq);

	n = ylog_ring_read(YLOG_WARN, NULL, out, 10);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(out[0].level, YLOG_WARN);
	CHECK_EQ_INT(out[1].level, YLOG_ERROR);

	n = ylog_ring_read(YLOG_DEBUG, "0b0c4a2e-7f6c-4c59-9d8e-1c2b3a4d5e6f", out, 10);
	CHECK_EQ_INT(n, 1);
	CHECK(strstr(out[0].text, "\"three\"") != NULL);
	n = ylog_ring_read(YLOG_DEBUG, "11111111-2222-4333-8444-555555555555", out, 10);
	CHECK_EQ_INT(n, 1);
	CHECK(strstr(out[0].text, "\"four\"") != NULL);
	CHECK_EQ_INT(ylog_ring_read(YLOG_DEBUG, "nobody", out, 10), 0);

	/* max: the newest ones */
	n = ylog_ring_read(YLOG_DEBUG, NULL, out, 2);
	CHECK_EQ_INT(n, 2);
	CHECK(strstr(out[0].text, "\"three\"") && strstr(out[1].text, "\"four\""));
	/* below ylog_min: not written, not kept */
	ylog_min = YLOG_INFO;
	LOG_DEBUG("hidden", NULL);
	CHECK_EQ_INT(ylog_ring_read(YLOG_DEBUG, NULL, out, 10), 4);
}

TEST(ring_is_bounded_and_overwrites_the_oldest)
{
	size_t n;

	quiet();
	for (int i = 0; i < YLOG_RING_SLOTS + 100; i++)
		LOG_INFO("line", "{s:i}", "i", i);
	n = ylog_ring_read(YLOG_DEBUG, NULL, out, YLOG_RING_SLOTS + 8);
	CHECK_EQ_INT(n, YLOG_RING_SLOTS);
	CHECK_EQ_INT(out[0].seq, 101);
	CHECK_EQ_INT(out[n - 1].seq, YLOG_RING_SLOTS + 100);
	CHECK(strstr(out[0].text, "\"i\":100}") != NULL);
}

TEST(ring_shortens_a_long_line_to_valid_json)
{
	static char big[5000];
	json_t *j;

	quiet();
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big + 509, "\xc3\xa9\xc3\xa9", 4); /* a 2-byte character across the cut */
	ylog_set_session("11111111-2222-4333-8444-555555555555");
	LOG_INFO(big, "{s:s}", "more", big);
	ylog_set_session(NULL);
	CHECK_EQ_INT(ylog_ring_read(YLOG_DEBUG, NULL, out, 4), 1);
	CHECK(strlen(out[0].text) < YLOG_RING_LINE);
	j = parse(&out[0]);
	CHECK(j != NULL);
	CHECK(json_is_true(json_object_get(j, "truncated")));
	CHECK_EQ_STR(json_string_value(json_object_get(j, "level")), "info");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "session")),
		     "11111111-2222-4333-8444-555555555555");
	CHECK(strlen(json_string_value(json_object_get(j, "message"))) <= 511);
	CHECK_EQ_STR(out[0].session, "11111111-2222-4333-8444-555555555555");
	json_decref(j);
}

#define WRITERS 4
#define PER_WRITER 3000

static void *writer(void *arg)
{
	for (int i = 0; i < PER_WRITER; i++)
		LOG_INFO("w", "{s:i, s:i}", "t", (int)(intptr_t)arg, "i", i);
	return NULL;
}

TEST(ring_takes_writers_and_readers_on_many_threads)
{
	pthread_t t[WRITERS];
	size_t n;
	int bad = 0;

	quiet();
	for (int i = 0; i < WRITERS; i++)
		pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i);
	for (int r = 0; r < 50; r++) {
		n = ylog_ring_read(YLOG_DEBUG, NULL, out, YLOG_RING_SLOTS);
		for (size_t i = 0; i < n; i++) {
			json_t *j = parse(&out[i]);

			bad += !j || (i && out[i].seq <= out[i - 1].seq);
			json_decref(j);
		}
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_INT(bad, 0);
	n = ylog_ring_read(YLOG_DEBUG, NULL, out, YLOG_RING_SLOTS);
	CHECK_EQ_INT(n, YLOG_RING_SLOTS);
	CHECK_EQ_INT(out[n - 1].seq, WRITERS * PER_WRITER);
}

int main(void)
{
	RUN(ring_keeps_lines_oldest_first_and_filters);
	RUN(ring_is_bounded_and_overwrites_the_oldest);
	RUN(ring_shortens_a_long_line_to_valid_json);
	RUN(ring_takes_writers_and_readers_on_many_threads);
	ylog_set_output(NULL);
	if (sink)
		fclose(sink);
	return test_summary();
}
