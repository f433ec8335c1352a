/* TRUST_PROXY's address lists and the X-Forwarded-For walk (util/cidr.h). */
#include "test.h"
#include "util/cidr.h"
#include "util/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

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

/* media URLs (MEDIA_URL_ALLOW_PRIVATE off): what a server may be sent to */
TEST(public_addresses)
{
	static const char *const not_public[][2] = {
		{ "0.0.0.0", "unspecified" },	   { "0.1.2.3", "unspecified" },
		{ "127.0.0.1", "loopback" },	   { "127.255.255.254", "loopback" },
		{ "10.0.0.1", "private" },	   { "172.16.0.1", "private" },
		{ "172.31.255.255", "private" },   { "192.168.1.1", "private" },
		{ "169.254.169.254", "link-local" }, { "100.64.0.1", "CGNAT" },
		{ "100.127.255.255", "CGNAT" },	   { "224.0.0.1", "multicast" },
		{ "239.255.255.250", "multicast" }, { "240.0.0.1", "reserved" },
		{ "255.255.255.255", "reserved" }, { "198.18.0.1", "benchmarking" },
		{ "192.0.2.1", "documentation" },  { "192.0.0.8", "IETF protocol assignments" },
		{ "::", "unspecified" },	   { "::1", "loopback" },
		{ "::ffff:127.0.0.1", "loopback" }, { "::ffff:10.1.2.3", "private" },
		{ "::127.0.0.1", "loopback" },	   { "64:ff9b::a9fe:a9fe", "link-local" },
		{ "2002:c0a8:0101::1", "private" }, { "fc00::1", "private" },
		{ "fd12:3456::1", "private" },	   { "fe80::1", "link-local" },
		{ "febf::1", "link-local" },	   { "fec0::1", "site-local" },
		{ "ff02::1", "multicast" },	   { "2001:db8::1", "documentation" },
		{ "100::1", "discard" },
	};
	static const char *const public[] = { "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255",
					      "100.128.0.1", "100.63.255.255", "169.253.0.1",
					      "223.255.255.255", "192.169.0.1", "2a00:1450::1",
					      "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808",
					      "2002:0808:0808::1" };
	const char *why;

	for (size_t i = 0; i < sizeof(not_public) / sizeof(not_public[0]); i++) {
		why = NULL;
		CHECK(!cidr_ip_public(not_public[i][0], &why));
		CHECK(why && !strcmp(why, not_public[i][1]));
	}
	for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++)
		CHECK(cidr_ip_public(public[i], &why));
	CHECK(!cidr_ip_public("example.com", &why));
	CHECK(!cidr_ip_public(NULL, NULL));
	{
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
		struct sockaddr_in a4 = { .sin_family = AF_INET };
		struct sockaddr un = { .sa_family = AF_UNIX };

		inet_pton(AF_INET6, "::ffff:192.168.0.1", &a6.sin6_addr);
		CHECK(!cidr_addr_public((struct sockaddr *)&a6, &why) && !strcmp(why, "private"));
		inet_pton(AF_INET6, "2a00:1450::1", &a6.sin6_addr);
		CHECK(cidr_addr_public((struct sockaddr *)&a6, NULL));
		inet_pton(AF_INET, "127.0.0.2", &a4.sin_addr);
		CHECK(!cidr_addr_public((struct sockaddr *)&a4, &why) && !strcmp(why, "loopback"));
		inet_pton(AF_INET, "93.184.216.34", &a4.sin_addr);
		CHECK(cidr_addr_public((struct sockaddr *)&a4, NULL));
		CHECK(!cidr_addr_public(&un, NULL));
		CHECK(!cidr_addr_public(NULL, NULL));
	}
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
	RUN(public_addresses);
	RUN(forwarded_for_walks_from_the_right);
	RUN(last_item);
	return test_summary();
}
