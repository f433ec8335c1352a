/*
 * A minimal unit-test harness. Each test file defines its tests with TEST()
 * and lists them in main() with RUN(); the binary prints one line per test
 * and a final "N passed, N failed" line, and exits non-zero on any failure.
 *
 *   TEST(parses_empty) { CHECK(parse("") == Y_EINVAL); }
 *   int main(void) { RUN(parses_empty); return test_summary(); }
 */
#ifndef YESAPP_TEST_H
#define YESAPP_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_checks;
static int test_passed, test_failed;
static const char *test_current;

#define TEST(name) static void name(void)

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			test_failed_checks++; \
			fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
				test_current, #cond); \
		} \
	} while (0)

#define CHECK_EQ_INT(a, b) \
	do { \
		long long va_ = (long long)(a), vb_ = (long long)(b); \
		if (va_ != vb_) { \
			test_failed_checks++; \
			fprintf(stderr, "  %s:%d: %s: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, test_current, #a, #b, va_, vb_); \
		} \
	} while (0)

#define CHECK_EQ_STR(a, b) \
	do { \
		const char *sa_ = (a), *sb_ = (b); \
		if (!sa_ || !sb_ || strcmp(sa_, sb_)) { \
			test_failed_checks++; \
			fprintf(stderr, "  %s:%d: %s: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, \
				__LINE__, test_current, #a, #b, sa_ ? sa_ : "(null)", \
				sb_ ? sb_ : "(null)"); \
		} \
	} while (0)

#define CHECK_MEM(a, b, n) \
	do { \
		if (memcmp((a), (b), (n))) { \
			test_failed_checks++; \
			fprintf(stderr, "  %s:%d: %s: memory %s == %s failed\n", __FILE__, __LINE__, \
				test_current, #a, #b); \
		} \
	} while (0)

/* Stops the current test (after a failed CHECK that later code depends on).
 * cond is evaluated once, so it may have side effects. */
#define REQUIRE(cond) \
	do { \
		int require_before_ = test_failed_checks; \
		CHECK(cond); \
		if (test_failed_checks != require_before_) \
			return; \
	} while (0)

#define RUN(name) test_run(#name, name)

static inline void test_run(const char *name, void (*fn)(void))
{
	int before = test_failed_checks;

	test_current = name;
	fn();
	if (test_failed_checks == before) {
		test_passed++;
		printf("ok %s\n", name);
	} else {
		test_failed++;
		printf("FAIL %s\n", name);
	}
	fflush(stdout);
}

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}

/* Decodes a hex string into out (caller frees). Returns length or -1. */
static inline long test_unhex(const char *hex, uint8_t **out)
{
	size_t n = strlen(hex);
	uint8_t *p;

	if (n % 2)
		return -1;
	p = malloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
			free(p);
			return -1;
		}
		p[i] = (uint8_t)v;
	}
	*out = p;
	return (long)(n / 2);
}

#endif
