/* Tests of UUID v4 generation and validation (util/uuid.h). */
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
	RUN(validation);
	return test_summary();
}
