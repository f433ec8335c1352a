#include "test.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

TEST(buf_grows_and_caps)
{
	struct ybuf b = YBUF_INIT(10);

	CHECK_EQ_INT(ybuf_append(&b, "hello", 5), Y_OK);
	CHECK_EQ_INT(ybuf_append(&b, "world", 5), Y_OK);
	CHECK_EQ_INT(b.len, 10);
	CHECK_EQ_INT(ybuf_append_byte(&b, '!'), Y_ETOOBIG);
	CHECK_EQ_INT(b.len, 10);
	CHECK_EQ_STR((char *)b.data, "helloworld");
	ybuf_consume(&b, 5);
	CHECK_EQ_STR((char *)b.data, "world");
	ybuf_release(&b);
	CHECK(b.data == NULL);
}

TEST(buf_printf_and_detach)
{
	struct ybuf b = YBUF_INIT(0);
	size_t n;
	uint8_t *p;

	CHECK_EQ_INT(ybuf_printf(&b, "%d-%s", 42, "x"), Y_OK);
	CHECK_EQ_STR((char *)b.data, "42-x");
	p = ybuf_detach(&b, &n);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_STR((char *)p, "42-x");
	CHECK(b.data == NULL && b.len == 0);
	free(p);
	p = ybuf_detach(&b, &n);
	CHECK(p && n == 0 && p[0] == 0);
	free(p);
}

TEST(strerror_covers_table)
{
	for (int e = 0; e > Y_ERR_MIN; e--)
		CHECK(strcmp(y_strerror(e), "unknown error") != 0);
	CHECK_EQ_STR(y_strerror(1), "unknown error");
	CHECK_EQ_STR(y_strerror(Y_ERR_MIN), "unknown error");
}

TEST(log_writes_json_lines_and_filters)
{
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	enum ylog_level lvl;

	REQUIRE(f != NULL);
	CHECK_EQ_INT(ylog_parse_level("WARN", &lvl), Y_OK);
	CHECK_EQ_INT(lvl, YLOG_WARN);
	CHECK_EQ_INT(ylog_parse_level("loud", &lvl), Y_EINVAL);
	ylog_set_output(f);
	ylog_min = YLOG_INFO;
	LOG_DEBUG("hidden", NULL);
	LOG_INFO("shown \"q\"", "{s:s, s:i}", "requestId", "r1", "status", 200);
	ylog_set_output(NULL);
	fclose(f);
	CHECK(strstr(mem, "hidden") == NULL);
	CHECK(strstr(mem, "\"message\":\"shown \\\"q\\\"\"") != NULL);
	CHECK(strstr(mem, "\"requestId\":\"r1\"") != NULL);
	CHECK(strstr(mem, "\"status\":200") != NULL);
	CHECK(strstr(mem, "\"level\":\"info\"") != NULL);
	CHECK(strncmp(mem, "{\"timestamp\":\"20", 16) == 0);
	CHECK(memlen > 0 && mem[memlen - 1] == '\n');
	free(mem);
}

/* Runs fn with logging captured; returns the output (caller frees). */
static char *capture(void (*fn)(void))
{
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);

	if (!f)
		return NULL;
	ylog_set_output(f);
	fn();
	ylog_set_output(NULL);
	fclose(f);
	return mem;
}

/* Nested dispatch points: an inner one (a connection's callback inside a
 * client's timer) restores the outer session on the way out. */
static void log_nested_sessions(void)
{
	const char *prev;

	ylog_min = YLOG_INFO;
	CHECK(ylog_swap_session("outer") == NULL);
	LOG_INFO("l1", NULL);
	prev = ylog_swap_session("inner");
	CHECK_EQ_STR(prev, "outer");
	LOG_INFO("l2", NULL);
	ylog_set_session(prev);
	LOG_INFO("l3", NULL);
	CHECK(ylog_swap_session(NULL) != NULL);
	LOG_INFO("l4", NULL);
	CHECK(ylog_session() == NULL);
}

TEST(log_session_nests_and_restores)
{
	char *out = capture(log_nested_sessions);

	REQUIRE(out != NULL);
	CHECK(strstr(out, "\"message\":\"l1\",\"session\":\"outer\"") != NULL);
	CHECK(strstr(out, "\"message\":\"l2\",\"session\":\"inner\"") != NULL);
	CHECK(strstr(out, "\"message\":\"l3\",\"session\":\"outer\"") != NULL);
	CHECK(strstr(out, "\"message\":\"l4\"}") != NULL);
	free(out);
}

static void log_bad_utf8(void)
{
	ylog_min = YLOG_INFO;
	LOG_INFO("bad \xff msg", "{s:s, s:s, s:i, s:s}", "path", "/a\xc3(b", "user", "ok", "status",
		 200, "k\xe2\x82", "v");
	LOG_INFO("null", "{s:s, s:s?, s:s*, s:i}", "a", (const char *)NULL, "b",
		 (const char *)NULL, "c", (const char *)NULL, "d", 7);
	LOG_INFO("nested", "{s:[i,i], s:s}", "pair", 1, 2, "x", "y");
}

TEST(log_repairs_invalid_utf8_and_keeps_every_field)
{
	char *out = capture(log_bad_utf8), *nl;
	json_t *j;

	REQUIRE(out != NULL);
	nl = strchr(out, '\n');
	REQUIRE(nl != NULL);
	j = json_loadb(out, (size_t)(nl - out), 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "message")), "bad \xef\xbf\xbd msg");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "path")), "/a\xef\xbf\xbd(b");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "user")), "ok");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "status")), 200);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "k\xef\xbf\xbd")), "v");
	CHECK(json_object_get(j, "logError") == NULL);
	json_decref(j);
	/* A NULL string is null (s, s?) or left out (s*); the other fields stay. */
	j = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
	REQUIRE(j != NULL);
	CHECK(json_is_null(json_object_get(j, "a")));
	CHECK(json_is_null(json_object_get(j, "b")));
	CHECK(json_object_get(j, "c") == NULL);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "d")), 7);
	json_decref(j);
	/* Other formats still go through jansson. */
	CHECK(strstr(out, "\"pair\":[1,2],\"x\":\"y\"") != NULL);
	free(out);
}

TEST(utf8_repair_replaces_each_bad_sequence)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain", "plain" },
		{ "h\xc3\xa9llo \xf0\x9f\x98\x80", "h\xc3\xa9llo \xf0\x9f\x98\x80" },
		{ "\xff", "\xef\xbf\xbd" },
		{ "a\xe2\x82", "a\xef\xbf\xbd" },          /* cut short */
		{ "\xe2\x82z", "\xef\xbf\xbdz" },
		{ "\x80\x80x", "\xef\xbf\xbdx" },          /* stray continuations */
		{ "\xc0\xaf/", "\xef\xbf\xbd/" },          /* overlong */
		{ "\xed\xa0\x80!", "\xef\xbf\xbd!" },      /* surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd" },    /* above U+10FFFF */
		{ "x\xfe\xffy", "x\xef\xbf\xbd\xef\xbf\xbdy" },
		{ "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = ylog_utf8_repair(cases[i].in);

		CHECK_EQ_STR(got, cases[i].want);
		free(got);
	}
}

static void log_reals(void)
{
	ylog_min = YLOG_INFO;
	LOG_INFO("r", "{s:f, s:f, s:f}", "durationMs", 3.014, "sum", 0.1 + 0.2, "big", 1234567.25);
}

TEST(log_prints_reals_short)
{
	char *out = capture(log_reals);

	REQUIRE(out != NULL);
	CHECK(strstr(out, "\"durationMs\":3.014,") != NULL);
	CHECK(strstr(out, "\"sum\":0.3,") != NULL);
	CHECK(strstr(out, "\"big\":1234567.25}") != NULL);
	free(out);
}

static const char tricky[] = "q\"\\\n\t\x01/\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

static void log_escapes(void)
{
	ylog_min = YLOG_INFO;
	LOG_INFO(tricky, "{s:s, s:f, s:f, s:f, s:I, s:b, s:n}", "v", tricky, "three", 3.0,
		 "huge", 1e20, "nan", NAN, "big", (json_int_t)-9007199254740993LL, "t", 1, "z");
}

TEST(log_escapes_strings_as_ascii_json)
{
	char *out = capture(log_escapes);
	json_t *j;

	REQUIRE(out != NULL);
	for (const char *p = out; *p; p++)
		CHECK((unsigned char)*p < 0x80);
	CHECK(strstr(out, "\"v\":\"q\\\"\\\\\\n\\t\\u0001/\x7f \\u00e9 \\u20ac \\ud83d\\ude00\"") !=
	      NULL);
	CHECK(strstr(out, "\"three\":3.0,\"huge\":1e+20,\"nan\":null,") != NULL);
	CHECK(strstr(out, "\"big\":-9007199254740993,\"t\":true,\"z\":null}") != NULL);
	j = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "message")), tricky);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "v")), tricky);
	json_decref(j);
	free(out);
}

#define LOG_THREADS 4
#define LOG_LINES 200

static atomic_int level_flips_done;

static void *log_hammer(void *arg)
{
	for (int i = 0; i < LOG_LINES; i++)
		LOG_WARN("hammer", "{s:i, s:i}", "thread", (int)(intptr_t)arg, "i", i);
	return NULL;
}

static void *level_flipper(void *arg)
{
	for (int i = 0; i < 1000; i++)
		atomic_store_explicit(&ylog_min, i % 2 ? YLOG_WARN : YLOG_ERROR,
				      memory_order_relaxed);
	ylog_min = YLOG_WARN;
	atomic_store(&level_flips_done, 1);
	return NULL;
}

static void log_threads(void)
{
	pthread_t t[LOG_THREADS], flip;

	ylog_min = YLOG_WARN;
	pthread_create(&flip, NULL, level_flipper, NULL);
	for (int i = 0; i < LOG_THREADS; i++)
		pthread_create(&t[i], NULL, log_hammer, (void *)(intptr_t)i);
	for (int i = 0; i < LOG_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_join(flip, NULL);
}

TEST(log_level_changes_while_threads_log)
{
	char *out = capture(log_threads), *p;
	int lines = 0, good = 0;

	REQUIRE(out != NULL);
	CHECK_EQ_INT(atomic_load(&level_flips_done), 1);
	CHECK(ylog_on(YLOG_WARN) && !ylog_on(YLOG_INFO)); /* the last store wins */
	/* Every line written is whole JSON: no torn or interleaved lines. */
	for (p = out; *p;) {
		char *nl = strchr(p, '\n');
		json_t *j;

		if (!nl)
			break;
		lines++;
		j = json_loadb(p, (size_t)(nl - p), 0, NULL);
		good += j && !strcmp(json_string_value(json_object_get(j, "message")), "hammer");
		json_decref(j);
		p = nl + 1;
	}
	CHECK_EQ_INT(*p, '\0');
	CHECK(lines <= LOG_THREADS * LOG_LINES);
	CHECK_EQ_INT(good, lines);
	free(out);
}

TEST(log_time_matches_gmtime)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL; /* seeded: the same values every run */

	for (int i = 0; i < 20000; i++) {
		int64_t ms;
		time_t t;
		struct tm tm;
		char want[48], got[32];

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ms = i < 3 ? (int64_t[]){ 0, 951782400000LL, 253402300799999LL }[i]
			   : (int64_t)(x % 253402300800000ULL);
		t = (time_t)(ms / 1000);
		gmtime_r(&t, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(ms % 1000));
		ylog_format_ms(ms, got);
		if (strcmp(got, want)) {
			CHECK_EQ_STR(got, want);
			break;
		}
	}
	{
		char got[32];

		ylog_format_ms(-1, got); /* out of range: the epoch */
		CHECK_EQ_STR(got, "1970-01-01T00:00:00.000Z");
		ylog_format_ms(253402300800000LL, got);
		CHECK_EQ_STR(got, "1970-01-01T00:00:00.000Z");
	}
}

int main(void)
{
	RUN(buf_grows_and_caps);
	RUN(buf_printf_and_detach);
	RUN(strerror_covers_table);
	RUN(log_writes_json_lines_and_filters);
	RUN(log_session_nests_and_restores);
	RUN(log_repairs_invalid_utf8_and_keeps_every_field);
	RUN(utf8_repair_replaces_each_bad_sequence);
	RUN(log_prints_reals_short);
	RUN(log_time_matches_gmtime);
	RUN(log_escapes_strings_as_ascii_json);
	RUN(log_level_changes_while_threads_log);
	return test_summary();
}
