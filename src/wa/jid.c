/* JID parsing and formatting. See jid.h. */
#include "wa/jid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/tokens.h"

static int streq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* Plain decimal (1..5 digits) no greater than max. */
static int parse_num(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return Y_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return Y_EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return Y_EINVAL;
	*out = v;
	return Y_OK;
}

static const char *find(const char *s, size_t len, char c)
{
	return len ? memchr(s, c, len) : NULL;
}

int wa_jid_parse(const char *s, size_t len, struct wa_jid *out)
{
	const char *at = find(s, len, '@'), *colon, *us;
	const char *user = s, *server;
	size_t ulen, slen;
	unsigned dev = 0, agent = 0, integ = 0;
	int has_dev = 0;

	memset(out, 0, sizeof(*out));
	if (!at)
		return Y_EINVAL;
	ulen = (size_t)(at - s);
	server = at + 1;
	slen = len - ulen - 1;
	if (slen == 0 || find(server, slen, '@'))
		return Y_EINVAL;
	colon = find(user, ulen, ':');
	if (colon) {
		size_t dlen = ulen - (size_t)(colon - user) - 1;
		unsigned max = (streq(server, slen, WA_SERVER_MSGR) ||
			streq(server, slen, WA_SERVER_INTEROP)) ? 65535 : 255;
		if (parse_num(colon + 1, dlen, max, &dev))
			return Y_EINVAL;
		ulen = (size_t)(colon - user);
		has_dev = 1;
	}
	out->server = server;
	out->server_len = (uint32_t)slen;
	if (streq(server, slen, WA_SERVER_MSGR) && has_dev) {
		out->kind = WA_JID_FB;
	} else if (streq(server, slen, WA_SERVER_INTEROP) && has_dev) {
		const char *dash = find(user, ulen, '-');
		if (!dash || parse_num(user, (size_t)(dash - user), 65535, &integ))
			return Y_EINVAL;
		ulen -= (size_t)(dash - user) + 1;
		user = dash + 1;
		out->kind = WA_JID_INTEROP;
		out->integrator = (uint16_t)integ;
	} else {
		us = find(user, ulen, '_');
		if (us) {
			if (!has_dev || parse_num(us + 1, ulen - (size_t)(us - user) - 1, 255, &agent))
				return Y_EINVAL;
			ulen = (size_t)(us - user);
		}
		if (has_dev) {
			out->kind = WA_JID_AD;
			if (streq(server, slen, WA_SERVER_LID))
				agent = WA_DOMAIN_LID;
			else if (streq(server, slen, WA_SERVER_HOSTED))
				agent = WA_DOMAIN_HOSTED;
			else if (streq(server, slen, WA_SERVER_HOSTED_LID))
				agent = WA_DOMAIN_HOSTED_LID;
			else if (!streq(server, slen, WA_SERVER_USER))
				return Y_EINVAL; /* AD JIDs exist only on these servers */
			out->agent = (uint8_t)agent;
		} else {
			out->kind = WA_JID_PAIR;
		}
	}
	if (find(user, ulen, ':'))
		return Y_EINVAL;
	out->user = user;
	out->user_len = (uint32_t)ulen;
	out->device = (uint16_t)dev;
	return Y_OK;
}

static int show_agent(const struct wa_jid *j)
{
	return j->kind == WA_JID_AD && j->agent &&
		streq(j->server, j->server_len, WA_SERVER_USER);
}

static char *put_uint(char *p, unsigned v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Writes the text form into p (room for wa_jid_text_len() bytes). */
static size_t render(const struct wa_jid *j, char *p)
{
	char *start = p;

	if (j->kind == WA_JID_INTEROP) {
		p = put_uint(p, j->integrator);
		*p++ = '-';
	}
	memcpy(p, j->user, j->user_len);
	p += j->user_len;
	if (show_agent(j)) {
		*p++ = '_';
		p = put_uint(p, j->agent);
	}
	if (j->kind == WA_JID_FB || j->kind == WA_JID_INTEROP ||
	    (j->kind == WA_JID_AD && j->device)) {
		*p++ = ':';
		p = put_uint(p, j->device);
	}
	*p++ = '@';
	memcpy(p, j->server, j->server_len);
	p += j->server_len;
	return (size_t)(p - start);
}

static size_t digits(unsigned v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

size_t wa_jid_text_len(const struct wa_jid *j)
{
	size_t n = (size_t)j->user_len + 1 + j->server_len;

	if (j->kind == WA_JID_INTEROP)
		n += digits(j->integrator) + 1;
	if (show_agent(j))
		n += 1 + digits(j->agent);
	if (j->kind == WA_JID_FB || j->kind == WA_JID_INTEROP ||
	    (j->kind == WA_JID_AD && j->device))
		n += 1 + digits(j->device);
	return n;
}

int wa_jid_format(const struct wa_jid *jid, struct ybuf *out)
{
	size_t n = wa_jid_text_len(jid);
	char small[128];
	int rc;

	if (n < sizeof(small)) {
		render(jid, small);
		return ybuf_append(out, small, n);
	}
	{
		char *tmp = malloc(n);
		if (!tmp)
			return Y_ENOMEM;
		render(jid, tmp);
		rc = ybuf_append(out, tmp, n);
		free(tmp);
	}
	return rc;
}

int wa_jid_to_str(const struct wa_jid *jid, char *buf, size_t cap)
{
	size_t n = wa_jid_text_len(jid);

	if (n + 1 > cap || n > INT32_MAX)
		return Y_ETOOBIG;
	render(jid, buf);
	buf[n] = 0;
	return (int)n;
}

int wa_jid_equal(const struct wa_jid *a, const struct wa_jid *b)
{
	return a->kind == b->kind && a->agent == b->agent && a->device == b->device &&
		a->integrator == b->integrator && a->user_len == b->user_len &&
		a->server_len == b->server_len &&
		memcmp(a->user, b->user, a->user_len) == 0 &&
		memcmp(a->server, b->server, a->server_len) == 0;
}

const char *wa_jid_ad_server(int dict, uint8_t agent)
{
	if (dict == WA_DICT_V2)
		return agent ? WA_SERVER_LID : WA_SERVER_USER;
	switch (agent) {
	case WA_DOMAIN_LID:
		return WA_SERVER_LID;
	case WA_DOMAIN_HOSTED:
		return WA_SERVER_HOSTED;
	case WA_DOMAIN_HOSTED_LID:
		return WA_SERVER_HOSTED_LID;
	default:
		return WA_SERVER_USER;
	}
}
