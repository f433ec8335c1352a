/* Tests of UUID v4 and v7 generation and validation (util/uuid.h). */
#include "test.h"

#include "util/err.h"
#include "util/uuid.h"

TEST(v4_has_version_variant_and_form)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN];

	for (int i = 0; i < 200; i++) {
		REQUIRE(uuid_v4(a) == Y_OK);
		CHECK_EQ_INT(strlen(a), 36);
		CHECK(uuid_valid(a));
		CHECK(a[14] == '4');
		CHECK(strchr("89ab", a[19]) != NULL);
	}
	REQUIRE(uuid_v4(b) == Y_OK);
	CHECK(strcmp(a, b) != 0);
}

TEST(v7_time_first_then_random)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];

	/* 2026-12-04T00:00:00Z = 1796342400000 ms = 0x01a2 3e59 c400 */
	REQUIRE(uuid_v7(a, 1796342400000LL) == Y_OK);
	CHECK(uuid_valid(a));
	CHECK(!strncmp(a, "01a23e59-c400-7", 15));
	CHECK(strchr("89ab", a[19]) != NULL);
	REQUIRE(uuid_v7(b, 1796342400000LL) == Y_OK);
	CHECK(strcmp(a, b) != 0); /* same millisecond, other random bits */
	REQUIRE(uuid_v7(c, 1796342400001LL) == Y_OK);
	CHECK(strcmp(c, a) > 0 && strcmp(c, b) > 0); /* later sorts after */
	REQUIRE(uuid_v7(c, 0) == Y_OK);
	CHECK(!strncmp(c, "00000000-0000-7", 15));
}

TEST(validation)
{
	CHECK(uuid_valid("123e4567-e89b-42d3-a456-426614174000"));
	CHECK(!uuid_valid("123E4567-e89b-42d3-a456-426614174000")); /* upper case */
	CHECK(!uuid_valid("123e4567-e89b-42d3-a456-42661417400"));  /* short */
	CHECK(!uuid_valid("123e4567-e89b-42d3-a456-4266141740000")); /* long */
	CHECK(!uuid_valid("123e4567e-89b-42d3-a456-426614174000"));  /* hyphen moved */
	CHECK(!uuid_valid("123e4567-e89b-42d3-a456-42661417400g"));
	CHECK(!uuid_valid(""));
	CHECK(!uuid_valid(NULL));
}

int main(void)
{
	RUN(v4_has_version_variant_and_form);
	RUN(v7_time_first_then_random);
	RUN(validation);
	return test_summary();
}
