#include "test.h"
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"

#include <time.h>

TEST(uuid)
{
	char out[37];
	unsigned char b[16];

	CHECK(api_uuid_parse("0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5bXYZ", 36, out));
	CHECK_EQ_STR(out, "0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b");
	CHECK(!api_uuid_parse("0F8E2A4C-1B3D-4E5F-8A9B-0C1D2E3F4A5B", 36, out));
	CHECK(!api_uuid_parse("0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5", 35, out));
	CHECK(!api_uuid_parse("0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5bb", 37, out));
	CHECK(!api_uuid_parse("0f8e2a4c11b3d-4e5f-8a9b-0c1d2e3f4a5b", 36, out));
	CHECK(!api_uuid_parse("0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5g", 36, out));
	CHECK(!api_uuid_parse(NULL, 36, out));
	REQUIRE(api_uuid_bytes("0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b", b));
	CHECK_EQ_INT(b[0], 0x0f);
	CHECK_EQ_INT(b[15], 0x5b);
	CHECK(!api_uuid_bytes("0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5bX", b));
}

TEST(phone)
{
	char out[API_PHONE_MAX + 1];

	CHECK(api_phone_parse("+4915112345678", out));
	CHECK_EQ_STR(out, "4915112345678");
	CHECK(api_phone_parse("14155550100", out));
	CHECK_EQ_STR(out, "14155550100");
	CHECK(api_phone_parse("123456789012345", out));
	static const char *const bad[] = { "", "+", "0123456789", "+0491511", "123456",
		"1234567890123456", "+49 151 1234", "49-151-1234", "abc", "++49151123456",
		"4915112345678@s.whatsapp.net", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK(!api_phone_parse(bad[i], out));
	CHECK(!api_phone_parse(NULL, out));
}

TEST(url)
{
	static const char *const good[] = { "http://example.com", "https://example.com/hook?a=1",
		"https://127.0.0.1:8080/x", "http://[::1]:9000/h", "HTTPS://EXAMPLE.COM", "http://a", NULL };
	static const char *const bad[] = { "", "ftp://example.com", "example.com", "http://",
		"http:///path", "https://user:pw@example.com/", "http://exa mple.com", "http://example.com:0",
		"http://example.com:65536", "http://example.com:abc", "http://ex_ample.com",
		"javascript:alert(1)", "http://[]/", "http://[zz]/", "http://example.com:/", "http://-a.com",
		"https://ex\xc3\xa4mple.com", NULL };

	for (int i = 0; good[i]; i++) {
		const char *why = api_url_check(good[i]);
		if (why)
			fprintf(stderr, "  %s: %s\n", good[i], why);
		CHECK(why == NULL);
	}
	for (int i = 0; bad[i]; i++) {
		if (!api_url_check(bad[i]))
			fprintf(stderr, "  accepted %s\n", bad[i]);
		CHECK(api_url_check(bad[i]) != NULL);
	}
	CHECK(api_url_check(NULL) != NULL);
	char big[API_URL_MAX + 10];
	strcpy(big, "https://a.example/");
	memset(big + 18, 'x', sizeof(big) - 19);
	big[sizeof(big) - 1] = '\0';
	CHECK(api_url_check(big) != NULL);
	big[API_URL_MAX] = '\0';
	CHECK(api_url_check(big) == NULL);
}

TEST(limit_and_events)
{
	int v = -1;

	CHECK(api_limit_parse(NULL, 0, &v));
	CHECK_EQ_INT(v, API_LIMIT_DEFAULT);
	CHECK(api_limit_parse("1", 1, &v));
	CHECK_EQ_INT(v, 1);
	CHECK(api_limit_parse("500", 1, &v));
	CHECK_EQ_INT(v, 500);
	static const char *const bad[] = { "0", "501", "-1", "", "1e2", " 5", "5 ", "99999999999999999999", "abc", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK(!api_limit_parse(bad[i], 1, &v));
	CHECK(!api_limit_parse(NULL, 1, &v));
	CHECK(api_event_known("message.received"));
	CHECK(!api_event_known("message.*"));
	CHECK(!api_event_known(""));
	CHECK(!api_event_known(NULL));
}

TEST(json_strict)
{
	json_t *o, *d;
	const char *s;
	static const char *const allowed[] = { "name", NULL };
	int rc;

	CHECK_EQ_INT(http_json_parse_object("{\"name\":\"x\"}", 12, &o, &d), Y_OK);
	CHECK(d == NULL);
	CHECK_EQ_INT(http_json_only_keys(o, allowed, &d), Y_OK);
	CHECK_EQ_INT(http_json_get_string(o, "name", 1, 1, 3, &s, &d), Y_OK);
	CHECK_EQ_STR(s, "x");
	CHECK_EQ_INT(http_json_get_string(o, "other", 0, 1, 3, &s, &d), Y_ENOTFOUND);
	CHECK_EQ_INT(http_json_get_string(o, "other", 1, 1, 3, &s, &d), Y_EINVAL);
	CHECK_EQ_STR(json_string_value(json_object_get(d, "reason")), "required");
	json_decref(d);
	json_decref(o);

	static const char *const broken[] = { "", "{", "[]", "\"x\"", "1", "null", "{\"a\":1,\"a\":2}",
		"{\"a\":\"\\u0000\"}", "{\"a\":\"\xff\"}", "{} x", "{'a':1}", NULL };
	for (int i = 0; broken[i]; i++) {
		o = NULL;
		d = NULL;
		CHECK_EQ_INT(http_json_parse_object(broken[i], strlen(broken[i]), &o, &d), Y_EINVAL);
		CHECK(o == NULL);
		CHECK(json_is_string(json_object_get(d, "reason")));
		json_decref(d);
	}

	rc = http_json_parse_object("{\"name\":5,\"x\":1}", 16, &o, &d);
	REQUIRE(rc == Y_OK);
	CHECK_EQ_INT(http_json_only_keys(o, allowed, &d), Y_EINVAL);
	CHECK_EQ_STR(json_string_value(json_object_get(d, "field")), "x");
	json_decref(d);
	CHECK_EQ_INT(http_json_get_string(o, "name", 1, 1, 3, &s, &d), Y_EINVAL);
	CHECK_EQ_STR(json_string_value(json_object_get(d, "reason")), "must be a string");
	json_decref(d);
	json_decref(o);

	/* Lengths count code points: "äöü" is 3 characters, 6 bytes. */
	rc = http_json_parse_object("{\"name\":\"\xc3\xa4\xc3\xb6\xc3\xbc\"}", 17, &o, &d);
	REQUIRE(rc == Y_OK);
	CHECK_EQ_INT(http_json_get_string(o, "name", 1, 1, 3, &s, &d), Y_OK);
	CHECK_EQ_INT(http_json_get_string(o, "name", 1, 1, 2, &s, &d), Y_EINVAL);
	json_decref(d);
	json_decref(o);
}

TEST(iso_times)
{
	char out[API_TIME_LEN];
	static const struct {
		int64_t ms;
		const char *iso;
	} cases[] = {
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ 951782400000LL, "2000-02-29T00:00:00.000Z" },
		{ 1764000000123LL, "2025-11-24T16:00:00.123Z" },
		{ 4102444799999LL, "2099-12-31T23:59:59.999Z" },
		{ 253402300799999LL, "9999-12-31T23:59:59.999Z" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		REQUIRE(api_time_format(cases[i].ms, out));
		CHECK_EQ_STR(out, cases[i].iso);
	}
	/* Every day boundary for 1000 years matches gmtime_r. */
	for (int64_t day = 0; day < 365243; day += 7) {
		int64_t ms = day * 86400000LL + 43200000;
		time_t t = (time_t)(ms / 1000);
		struct tm tm;
		char want[API_TIME_LEN];

		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
		REQUIRE(api_time_format(ms, out));
		if (strcmp(out, want)) {
			CHECK_EQ_STR(out, want);
			return;
		}
	}
	CHECK(!api_time_format(0, out));
	CHECK(!api_time_format(-5, out));
	CHECK(!api_time_format(253402300800000LL, out));
	json_t *j = api_time_json(0);
	CHECK(json_is_null(j));
	json_decref(j);
}

int main(void)
{
	RUN(uuid);
	RUN(phone);
	RUN(url);
	RUN(limit_and_events);
	RUN(json_strict);
	RUN(iso_times);
	return test_summary();
}
