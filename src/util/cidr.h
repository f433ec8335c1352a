/*
 * Address lists ("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8"): TRUST_PROXY's
 * parser and matcher. IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4
 * entries. A list is immutable once parsed and may be read by any thread.
 */
#ifndef YESAPP_UTIL_CIDR_H
#define YESAPP_UTIL_CIDR_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define CIDR_MAX 64 /* entries in one list */

struct cidr {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	uint8_t v6;       /* 1: IPv6 */
	uint8_t prefix;   /* bits */
};

struct cidr_list {
	size_t n;
	struct cidr e[CIDR_MAX];
};

/* Parses a comma-separated list (spaces around entries allowed; an entry
 * without "/bits" is one address). 0, or Y_EINVAL naming nothing more (an
 * empty entry, a bad address, a prefix out of range, too many entries). */
int cidr_list_parse(const char *s, struct cidr_list *out);
/* 1 if the textual address `ip` (IPv4 or IPv6 literal) is in the list. */
int cidr_list_match_text(const struct cidr_list *l, const char *ip);
/* 1 if `ip` is an IPv4 or IPv6 literal. */
int cidr_is_ip(const char *ip);

/*
 * 0 when the address (AF_INET or AF_INET6; anything else too) is one a
 * server must not be sent to on a stranger's word: unspecified, loopback,
 * private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
 * (169.254/16, fe80::/10), CGNAT (100.64/10), multicast, reserved and
 * documentation ranges, benchmarking (198.18/15), 192.0.0/24, site-local
 * fec0::/10, discard 100::/64; IPv6 forms that carry an IPv4 address
 * (mapped ::ffff:0:0/96, compatible ::/96, NAT64 64:ff9b::/96, 6to4
 * 2002::/16) are judged by that address. 1 for a public address. why
 * (may be NULL) gets the range's name ("loopback", "private", ...).
 */
int cidr_addr_public(const struct sockaddr *sa, const char **why);
/* The same for a textual IPv4 or IPv6 literal; 0 also when not one. */
int cidr_ip_public(const char *ip, const char **why);

#define CIDR_IP_MAX 46 /* INET6_ADDRSTRLEN */

/*
 * The client behind trusted proxies, from an X-Forwarded-For list (len
 * bytes, comma-separated, any number of headers joined by commas): walking
 * from the right, each address replaces `ip` (CIDR_IP_MAX bytes, holding the
 * peer on entry) and the walk stops after the first one that is not in
 * `trusted`; an entry that is not an address stops it before. So `ip` ends as
 * the nearest untrusted hop, or the last trusted one when garbage or the
 * list's end came first.
 */
void cidr_forwarded_client(const struct cidr_list *trusted, const char *xff, size_t len,
			   char ip[CIDR_IP_MAX]);
/* The last comma-separated item of list[0..len), trimmed of spaces and tabs,
 * into out (empty when it does not fit); returns the offset where that item
 * starts, or -1 for an empty list. */
long cidr_last_item(const char *list, size_t len, char *out, size_t outlen);

#endif
