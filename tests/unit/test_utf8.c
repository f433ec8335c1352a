/* Tests of the strict UTF-8 validator (util/utf8.h). */
#include "test.h"

#include "util/utf8.h"

static int valid(const char *hex)
{
	uint8_t *b = NULL;
	long n = test_unhex(hex, &b);
	int v = n >= 0 && utf8_valid(b, (size_t)n);

	free(b);
	return v;
}

TEST(accepts_well_formed)
{
	CHECK(valid(""));
	CHECK(valid("00"));           /* NUL is valid UTF-8 */
	CHECK(valid("7f"));
	CHECK(valid("c280"));         /* U+0080 */
	CHECK(valid("dfbf"));         /* U+07FF */
	CHECK(valid("e0a080"));       /* U+0800 */
	CHECK(valid("ed9fbf"));       /* U+D7FF */
	CHECK(valid("ee8080"));       /* U+E000 */
	CHECK(valid("efbfbf"));       /* U+FFFF */
	CHECK(valid("f0908080"));     /* U+10000 */
	CHECK(valid("f48fbfbf"));     /* U+10FFFF */
	CHECK(valid("48c3a96c6c6f20f09f918b")); /* "Héllo 👋" */
}

TEST(rejects_ill_formed)
{
	CHECK(!valid("80"));          /* lone continuation */
	CHECK(!valid("bf"));
	CHECK(!valid("c0af"));        /* overlong '/' */
	CHECK(!valid("c1bf"));
	CHECK(!valid("e080af"));      /* overlong 3-byte */
	CHECK(!valid("e09fbf"));
	CHECK(!valid("f08080af"));    /* overlong 4-byte */
	CHECK(!valid("f08fbfbf"));
	CHECK(!valid("eda080"));      /* U+D800 surrogate */
	CHECK(!valid("edbfbf"));      /* U+DFFF */
	CHECK(!valid("f4908080"));    /* U+110000 */
	CHECK(!valid("f5808080"));
	CHECK(!valid("ff"));
	CHECK(!valid("fe"));
	CHECK(!valid("c2"));          /* truncated */
	CHECK(!valid("e0a0"));
	CHECK(!valid("f09080"));
	CHECK(!valid("c241"));        /* bad continuation */
	CHECK(!valid("e0a041"));
	CHECK(!valid("f0908041"));
}

TEST(reports_first_bad_offset)
{
	const uint8_t s[] = { 'a', 'b', 0xc3, 0xa9, 0xed, 0xa0, 0x80, 'z' };
	size_t at = 99;

	CHECK_EQ_INT(utf8_check(s, sizeof(s), &at), 0);
	CHECK_EQ_INT(at, 4);
	CHECK_EQ_INT(utf8_check(s, 4, &at), 1);
	/* a truncated sequence at the very end does not read past len */
	CHECK_EQ_INT(utf8_check(s, 3, &at), 0);
	CHECK_EQ_INT(at, 2);
}

int main(void)
{
	RUN(accepts_well_formed);
	RUN(rejects_ill_formed);
	RUN(reports_first_bad_offset);
	return test_summary();
}
