/* TRUST_PROXY's address lists and the X-Forwarded-For walk (util/cidr.h). */
#include "test.h"
#include "util/cidr.h"
#include "util/err.h"

TEST(parses_lists_and_refuses_bad_ones)
{
	struct cidr_list l;

	CHECK_EQ_INT(cidr_list_parse("127.0.0.1", &l), Y_OK);
	CHECK_EQ_INT(l.n, 1);
	CHECK_EQ_INT(l.e[0].prefix, 32);
	CHECK_EQ_INT(cidr_list_parse(" 10.0.0.0/8 , ::1,fd00::/8 ", &l), Y_OK);
	CHECK_EQ_INT(l.n, 3);
	CHECK_EQ_INT(l.e[1].prefix, 128);
	CHECK_EQ_INT(l.e[2].v6, 1);
	CHECK_EQ_INT(cidr_list_parse("0.0.0.0/0", &l), Y_OK);
	static const char *const bad[] = { "", ",", "1.2.3.4,", ",1.2.3.4", "1.2.3.4,,5.6.7.8",
					    "1.2.3.4/33", "::1/129", "1.2.3.4/", "1.2.3.4/-1",
					    "1.2.3.4/x", "1.2.3", "host.example", "1.2.3.4/8/8",
					    "256.1.1.1", "1.2.3.4 5.6.7.8" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_list_parse(bad[i], &l) != Y_EINVAL) {
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
			CHECK(0);
		}
	char many[2000] = "";
	for (int i = 0; i <= CIDR_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.0.%d",
			 i ? "," : "", i);
	CHECK_EQ_INT(cidr_list_parse(many, &l), Y_EINVAL); /* one too many */
}

TEST(matches_prefixes_and_mapped_addresses)
{
	struct cidr_list l;

	CHECK_EQ_INT(cidr_list_parse("10.0.0.0/8,192.168.1.128/25,2001:db8::/33", &l), Y_OK);
	CHECK(cidr_list_match_text(&l, "10.255.1.2"));
	CHECK(!cidr_list_match_text(&l, "11.0.0.1"));
	CHECK(cidr_list_match_text(&l, "192.168.1.200"));
	CHECK(!cidr_list_match_text(&l, "192.168.1.127"));
	CHECK(cidr_list_match_text(&l, "::ffff:10.1.1.1"));
	CHECK(cidr_list_match_text(&l, "2001:db8:7fff::1"));
	CHECK(!cidr_list_match_text(&l, "2001:db8:8000::1"));
	CHECK(!cidr_list_match_text(&l, "garbage"));
	CHECK(!cidr_list_match_text(&l, ""));
	CHECK_EQ_INT(cidr_list_parse("0.0.0.0/0", &l), Y_OK);
	CHECK(cidr_list_match_text(&l, "8.8.8.8"));
	CHECK(!cidr_list_match_text(&l, "::1")); /* v4 entries never match v6 */
}

static void walk(const char *trusted, const char *xff, const char *peer, const char *want)
{
	struct cidr_list l;
	char ip[CIDR_IP_MAX];

	CHECK_EQ_INT(cidr_list_parse(trusted, &l), Y_OK);
	snprintf(ip, sizeof(ip), "%s", peer);
	cidr_forwarded_client(&l, xff, strlen(xff), ip);
	if (strcmp(ip, want))
		fprintf(stderr, "  XFF \"%s\": got %s, want %s\n", xff, ip, want);
	CHECK_EQ_STR(ip, want);
}

TEST(forwarded_for_walks_from_the_right)
{
	walk("10.0.0.0/8", "203.0.113.5", "10.0.0.1", "203.0.113.5");
	walk("10.0.0.0/8", "6.6.6.6, 203.0.113.5", "10.0.0.1", "203.0.113.5");
	walk("10.0.0.0/8", "203.0.113.5, 10.9.9.9", "10.0.0.1", "203.0.113.5");
	walk("10.0.0.0/8", "10.1.1.1, 10.2.2.2", "10.0.0.1", "10.1.1.1");
	walk("10.0.0.0/8", "junk", "10.0.0.1", "10.0.0.1");
	walk("10.0.0.0/8", "203.0.113.5, junk, 10.2.2.2", "10.0.0.1", "10.2.2.2");
	walk("10.0.0.0/8", "", "10.0.0.1", "10.0.0.1");
	walk("10.0.0.0/8", ",", "10.0.0.1", "10.0.0.1");
	walk("10.0.0.0/8", " 2001:db8::1 ", "10.0.0.1", "2001:db8::1");
	walk("10.0.0.0/8", "1.2.3.4:5678", "10.0.0.1", "10.0.0.1"); /* ports are not addresses */
	char longx[300];
	memset(longx, '1', sizeof(longx) - 1);
	longx[sizeof(longx) - 1] = '\0';
	walk("10.0.0.0/8", longx, "10.0.0.1", "10.0.0.1");
}

TEST(last_item)
{
	char out[8];

	CHECK_EQ_INT(cidr_last_item("", 0, out, sizeof(out)), -1);
	CHECK_EQ_INT(cidr_last_item("a, bc ", 6, out, sizeof(out)), 2);
	CHECK_EQ_STR(out, "bc");
	CHECK_EQ_INT(cidr_last_item("abcdefghij", 10, out, sizeof(out)), 0);
	CHECK_EQ_STR(out, ""); /* does not fit */
}

int main(void)
{
	RUN(parses_lists_and_refuses_bad_ones);
	RUN(matches_prefixes_and_mapped_addresses);
	RUN(forwarded_for_walks_from_the_right);
	RUN(last_item);
	return test_summary();
}
