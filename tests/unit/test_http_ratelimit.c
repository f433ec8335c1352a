#include "test.h"
#include "http/ratelimit.h"

TEST(burst_then_limited)
{
	struct http_ratelimit *rl = http_ratelimit_new(5, 64);
	int rem, retry;

	REQUIRE(rl);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(http_ratelimit_hit(rl, "a", 1, 1000, &rem, &retry), 1);
		CHECK_EQ_INT(rem, 4 - i);
	}
	CHECK_EQ_INT(http_ratelimit_hit(rl, "a", 1, 1000, &rem, &retry), 0);
	CHECK_EQ_INT(rem, 0);
	/* 5/min = one request per 12 s. */
	CHECK_EQ_INT(retry, 12);
	/* Another identity has its own bucket. */
	CHECK_EQ_INT(http_ratelimit_hit(rl, "b", 1, 1000, &rem, &retry), 1);
	http_ratelimit_free(rl);
}

TEST(refills_over_time)
{
	struct http_ratelimit *rl = http_ratelimit_new(60, 64);
	int rem, retry;

	REQUIRE(rl);
	for (int i = 0; i < 60; i++)
		CHECK_EQ_INT(http_ratelimit_hit(rl, "k", 1, 0, &rem, &retry), 1);
	CHECK_EQ_INT(http_ratelimit_hit(rl, "k", 1, 0, &rem, &retry), 0);
	CHECK_EQ_INT(retry, 1);
	CHECK_EQ_INT(http_ratelimit_hit(rl, "k", 1, 500, &rem, &retry), 0);
	CHECK_EQ_INT(http_ratelimit_hit(rl, "k", 1, 1000, &rem, &retry), 1);
	CHECK_EQ_INT(http_ratelimit_hit(rl, "k", 1, 1000, &rem, &retry), 0);
	/* A long pause fills the bucket but never beyond its capacity. */
	CHECK_EQ_INT(http_ratelimit_hit(rl, "k", 1, 10 * 60000, &rem, &retry), 1);
	CHECK_EQ_INT(rem, 59);
	/* Time going backwards does not add tokens. */
	CHECK_EQ_INT(http_ratelimit_hit(rl, "k", 1, 5, &rem, &retry), 1);
	CHECK_EQ_INT(rem, 58);
	http_ratelimit_free(rl);
}

TEST(many_identities_bounded)
{
	struct http_ratelimit *rl = http_ratelimit_new(2, 64);
	int rem, retry, allowed = 0;
	char key[32];

	REQUIRE(rl);
	/* Far more identities than slots: memory is fixed, every new one is allowed. */
	for (int i = 0; i < 10000; i++) {
		int n = snprintf(key, sizeof(key), "ip-%d", i);
		allowed += http_ratelimit_hit(rl, key, (size_t)n, i, &rem, &retry);
	}
	CHECK_EQ_INT(allowed, 10000);
	/* A hot identity stays limited while others churn (it is touched last). */
	CHECK_EQ_INT(http_ratelimit_hit(rl, "hot", 3, 20000, &rem, &retry), 1);
	CHECK_EQ_INT(http_ratelimit_hit(rl, "hot", 3, 20000, &rem, &retry), 1);
	CHECK_EQ_INT(http_ratelimit_hit(rl, "hot", 3, 20000, &rem, &retry), 0);
	CHECK_EQ_INT(retry, 30);
	http_ratelimit_free(rl);
}

TEST(bad_arguments)
{
	CHECK(http_ratelimit_new(0, 64) == NULL);
	CHECK(http_ratelimit_new(-1, 64) == NULL);
	http_ratelimit_free(NULL);
}

int main(void)
{
	RUN(burst_then_limited);
	RUN(refills_over_time);
	RUN(many_identities_bounded);
	RUN(bad_arguments);
	return test_summary();
}
