#include "test.h"
#include "api/cursor.h"
#include "util/err.h"

static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t key2[32] = { 9 };

TEST(roundtrip)
{
	struct store_cursor c = { 1764000000123LL, "0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b" }, d;
	char text[API_CURSOR_LEN + 1];

	REQUIRE(api_cursor_encode(key, "sessions", &c, text) == Y_OK);
	CHECK_EQ_INT(strlen(text), API_CURSOR_LEN);
	for (size_t i = 0; i < API_CURSOR_LEN; i++)
		CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", text[i]));
	memset(&d, 0, sizeof(d));
	REQUIRE(api_cursor_decode(key, "sessions", text, &d) == Y_OK);
	CHECK_EQ_INT(d.ts, c.ts);
	CHECK_EQ_STR(d.id, c.id);
	c.ts = 0;
	REQUIRE(api_cursor_encode(key, "sessions", &c, text) == Y_OK);
	REQUIRE(api_cursor_decode(key, "sessions", text, &d) == Y_OK);
	CHECK_EQ_INT(d.ts, 0);
}

TEST(rejects_forged_and_foreign)
{
	struct store_cursor c = { 42, "0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b" }, d;
	char text[API_CURSOR_LEN + 1], bad[API_CURSOR_LEN + 1];

	REQUIRE(api_cursor_encode(key, "sessions", &c, text) == Y_OK);
	/* Another scope or key. */
	CHECK_EQ_INT(api_cursor_decode(key, "messages:x", text, &d), Y_EINVAL);
	CHECK_EQ_INT(api_cursor_decode(key2, "sessions", text, &d), Y_EINVAL);
	/* Every single-character change is refused. */
	for (size_t i = 0; i < API_CURSOR_LEN; i++) {
		memcpy(bad, text, sizeof(bad));
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		CHECK_EQ_INT(api_cursor_decode(key, "sessions", bad, &d), Y_EINVAL);
	}
}

TEST(rejects_garbage)
{
	struct store_cursor d, c = { 1, "not-a-uuid" };
	char text[API_CURSOR_LEN + 1];
	static const char *const junk[] = {
		"", "abc", "====", "%%%%", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+/", NULL,
	};

	for (int i = 0; junk[i]; i++)
		CHECK_EQ_INT(api_cursor_decode(key, "sessions", junk[i], &d), Y_EINVAL);
	CHECK_EQ_INT(api_cursor_decode(key, "sessions", NULL, &d), Y_EINVAL);
	CHECK_EQ_INT(api_cursor_encode(key, "sessions", &c, text), Y_EINVAL);
	c.ts = -5;
	strcpy(c.id, "0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b");
	CHECK_EQ_INT(api_cursor_encode(key, "sessions", &c, text), Y_EINVAL);
}

int main(void)
{
	RUN(roundtrip);
	RUN(rejects_forged_and_foreign);
	RUN(rejects_garbage);
	return test_summary();
}
