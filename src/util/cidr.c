/* Address lists for TRUST_PROXY: see cidr.h. */
#include "util/cidr.h"

#include "util/err.h"

#include <arpa/inet.h>
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
