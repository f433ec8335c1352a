/* Unit tests for src/sim/sim_chunked.c (HTTP/1.1 chunked request bodies). */
#include "test.h"
#include "util/err.h"
#include "sim/sim_chunked.h"

static int decode(const char *in, size_t step, struct ybuf *out, size_t *consumed)
{
	struct sim_chunked c;
	size_t len = strlen(in), off = 0, used;
	int rc = Y_EAGAIN;

	sim_chunked_init(&c);
	while (off < len && rc == Y_EAGAIN) {
		size_t n = len - off < step ? len - off : step;

		rc = sim_chunked_feed(&c, (const uint8_t *)in + off, n, out, &used);
		off += used;
	}
	*consumed = off;
	return rc;
}

TEST(decodes_in_any_split)
{
	const char *in = "5\r\nhello\r\n1A;name=v\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nNEXT";

	for (size_t step = 1; step < 20; step++) {
		struct ybuf out = YBUF_INIT(1024);
		size_t used;

		CHECK(decode(in, step, &out, &used) == Y_OK);
		CHECK(out.len == 31 && !memcmp(out.data, "helloabcdefghijklmnopqrstuvwxyz", 31));
		CHECK(used == strlen(in) - 4); /* NEXT is not part of the body */
		ybuf_release(&out);
	}
}

TEST(skips_trailers)
{
	struct ybuf out = YBUF_INIT(1024);
	size_t used;

	CHECK(decode("2\r\nhi\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n", 3, &out, &used) == Y_OK);
	CHECK(out.len == 2);
	ybuf_release(&out);
}

TEST(refuses_malformed_and_oversized)
{
	static const char *bad[] = {
		"x\r\n", "5\nhello", "5\r\nhelloX\r\n", "\r\n", "00000000000000001\r\n",
		"2\r\nhi\r\n0\r\n\n", "2\r\nhi\r\n0\r\nX\n",
	};
	struct ybuf out = YBUF_INIT(1024), small = YBUF_INIT(4);
	size_t used;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(decode(bad[i], 1, &out, &used) == Y_EINVAL);
		ybuf_reset(&out);
	}
	CHECK(decode("5\r\nhello\r\n0\r\n\r\n", 64, &small, &used) == Y_ETOOBIG);
	CHECK(decode("5\r\nhel", 64, &out, &used) == Y_EAGAIN);
	ybuf_release(&out);
	ybuf_release(&small);
}

int main(void)
{
	RUN(decodes_in_any_split);
	RUN(skips_trailers);
	RUN(refuses_malformed_and_oversized);
	return test_summary();
}
