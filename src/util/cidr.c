/* Address lists for TRUST_PROXY: see cidr.h. */
#include "util/cidr.h"

#include "util/err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

/* addr[16] and v6 from a literal; IPv4-mapped IPv6 becomes IPv4. */
static int parse_ip(const char *s, uint8_t addr[16], uint8_t *v6)
{
	uint8_t b[16];

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, b) == 1) {
		memcpy(addr, b, 4);
		*v6 = 0;
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) != 1)
		return Y_EINVAL;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (!memcmp(b, mapped, 12)) {
		memcpy(addr, b + 12, 4);
		*v6 = 0;
	} else {
		memcpy(addr, b, 16);
		*v6 = 1;
	}
	return 0;
}

int cidr_is_ip(const char *ip)
{
	uint8_t a[16], v6;

	return ip && parse_ip(ip, a, &v6) == 0;
}

int cidr_list_parse(const char *s, struct cidr_list *out)
{
	memset(out, 0, sizeof(*out));
	while (s && *s) {
		char item[64], *slash;
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		struct cidr *c;

		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (!len || len >= sizeof(item) || out->n == CIDR_MAX)
			return Y_EINVAL;
		memcpy(item, s, len);
		item[len] = '\0';
		c = &out->e[out->n];
		slash = strchr(item, '/');
		if (slash)
			*slash = '\0';
		if (parse_ip(item, c->addr, &c->v6))
			return Y_EINVAL;
		c->prefix = c->v6 ? 128 : 32;
		if (slash) {
			char *e;
			long p = strtol(slash + 1, &e, 10);

			if (slash[1] < '0' || slash[1] > '9' || *e || p < 0 || p > c->prefix)
				return Y_EINVAL;
			c->prefix = (uint8_t)p;
		}
		out->n++;
		s = end ? end + 1 : NULL;
		if (end && !*s)
			return Y_EINVAL; /* a trailing comma */
	}
	return out->n ? 0 : Y_EINVAL;
}

static int in_cidr(const struct cidr *c, const uint8_t addr[16], uint8_t v6)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->v6 != v6 || memcmp(c->addr, addr, full))
		return 0;
	if (!rest)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

int cidr_list_match_text(const struct cidr_list *l, const char *ip)
{
	uint8_t a[16], v6;

	if (!l || !ip || parse_ip(ip, a, &v6))
		return 0;
	for (size_t i = 0; i < l->n; i++)
		if (in_cidr(&l->e[i], a, v6))
			return 1;
	return 0;
}

long cidr_last_item(const char *list, size_t len, char *out, size_t outlen)
{
	const char *e = list + len, *b = e, *start;
	size_t n;

	if (!len)
		return -1;
	while (b > list && b[-1] != ',')
		b--;
	start = b;
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	n = (size_t)(e - b);
	if (!outlen)
		return start - list;
	if (n >= outlen)
		n = 0; /* too long to be an address: treated as garbage */
	memcpy(out, b, n);
	out[n] = '\0';
	return start - list;
}

void cidr_forwarded_client(const struct cidr_list *trusted, const char *xff, size_t len,
			   char ip[CIDR_IP_MAX])
{
	char item[CIDR_IP_MAX];
	long at;

	while ((at = cidr_last_item(xff, len, item, sizeof(item))) >= 0) {
		if (!cidr_is_ip(item))
			return;
		memcpy(ip, item, sizeof(item));
		if (!cidr_list_match_text(trusted, item) || at == 0)
			return;
		len = (size_t)at - 1; /* before the comma */
	}
}

/* ---- public addresses (media given by URL) ---- */

struct named_range {
	uint8_t addr[16];
	uint8_t v6, prefix;
	const char *name;
};

#define V4(a, b, c, d) { a, b, c, d }
static const struct named_range not_public[] = {
	{ V4(0, 0, 0, 0), 0, 8, "unspecified" },
	{ V4(10, 0, 0, 0), 0, 8, "private" },
	{ V4(100, 64, 0, 0), 0, 10, "CGNAT" },
	{ V4(127, 0, 0, 0), 0, 8, "loopback" },
	{ V4(169, 254, 0, 0), 0, 16, "link-local" },
	{ V4(172, 16, 0, 0), 0, 12, "private" },
	{ V4(192, 0, 0, 0), 0, 24, "IETF protocol assignments" },
	{ V4(192, 0, 2, 0), 0, 24, "documentation" },
	{ V4(192, 88, 99, 0), 0, 24, "6to4 relay" },
	{ V4(192, 168, 0, 0), 0, 16, "private" },
	{ V4(198, 18, 0, 0), 0, 15, "benchmarking" },
	{ V4(198, 51, 100, 0), 0, 24, "documentation" },
	{ V4(203, 0, 113, 0), 0, 24, "documentation" },
	{ V4(224, 0, 0, 0), 0, 4, "multicast" },
	{ V4(240, 0, 0, 0), 0, 4, "reserved" },
	{ { 0 }, 1, 128, "unspecified" },
	{ { [15] = 1 }, 1, 128, "loopback" },
	{ { 0x01, 0x00 }, 1, 64, "discard" },
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 1, 32, "documentation" },
	{ { 0xfc }, 1, 7, "private" },
	{ { 0xfe, 0x80 }, 1, 10, "link-local" },
	{ { 0xfe, 0xc0 }, 1, 10, "site-local" },
	{ { 0xff }, 1, 8, "multicast" },
};
#undef V4

static int addr_public(const uint8_t *in, int v6, const char **why)
{
	static const uint8_t compat[16] = { 0 };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	uint8_t a[16] = { 0 };

	memcpy(a, in, v6 ? 16 : 4);
	if (v6 && (!memcmp(a, compat, 12) || !memcmp(a, nat64, 12)) &&
	    memcmp(a, compat, 16) && !(a[15] == 1 && !memcmp(a, compat, 15))) {
		memmove(a, a + 12, 4); /* ::a.b.c.d, 64:ff9b::a.b.c.d: the IPv4 address */
		memset(a + 4, 0, 12);
		v6 = 0;
	} else if (v6 && a[0] == 0x20 && a[1] == 0x02) {
		memmove(a, a + 2, 4); /* 6to4: 2002:AABB:CCDD::/48 */
		memset(a + 4, 0, 12);
		v6 = 0;
	}
	for (size_t i = 0; i < sizeof(not_public) / sizeof(not_public[0]); i++) {
		const struct named_range *r = &not_public[i];
		struct cidr c;

		memcpy(c.addr, r->addr, 16);
		c.v6 = r->v6;
		c.prefix = r->prefix;
		if (in_cidr(&c, a, (uint8_t)v6)) {
			if (why)
				*why = r->name;
			return 0;
		}
	}
	if (why)
		*why = NULL;
	return 1;
}

int cidr_addr_public(const struct sockaddr *sa, const char **why)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa && sa->sa_family == AF_INET)
		return addr_public((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr, 0,
				   why);
	if (sa && sa->sa_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		return memcmp(b, mapped, 12) ? addr_public(b, 1, why) : addr_public(b + 12, 0, why);
	}
	if (why)
		*why = "not an IP address";
	return 0;
}

int cidr_ip_public(const char *ip, const char **why)
{
	uint8_t a[16];
	uint8_t v6;

	if (!ip || parse_ip(ip, a, &v6)) {
		if (why)
			*why = "not an IP address";
		return 0;
	}
	return addr_public(a, v6, why); /* parse_ip made a mapped address IPv4 already */
}
