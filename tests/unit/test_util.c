#include "test.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

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

int main(void)
{
	RUN(buf_grows_and_caps);
	RUN(buf_printf_and_detach);
	RUN(strerror_covers_table);
	RUN(log_writes_json_lines_and_filters);
	return test_summary();
}
