#include "api/validate.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/uuid.h"

#include <string.h>
#include <strings.h>

const char *const api_event_names[] = {
	"message.received",   "message.sent", "message.delivered",    "message.read",
	"message.failed",     "session.qr",   "session.connected",    "session.disconnected",
	"session.logged_out", "session.status", "message", "message.ack", "message.media",
	"message.reaction",   "message.edited", "message.revoked", "message.poll_vote",
	"presence", "contact.picture", "message.deleted", "chat.updated", NULL,
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int api_uuid_parse(const char *s, size_t len, char out[37])
{
	if (!s || len != 36)
		return 0;
	memcpy(out, s, 36);
	out[36] = '\0';
	return uuid_valid(out);
}

int api_uuid_bytes(const char *s, unsigned char out[16])
{
	char hex[32];
	size_t n = 0;

	if (!s || strnlen(s, 37) != 36 || !uuid_valid(s))
		return 0;
	for (size_t i = 0, j = 0; i < 36; i++)
		if (s[i] != '-')
			hex[j++] = s[i];
	return codec_hex_decode(hex, sizeof(hex), out, 16, &n) == Y_OK && n == 16;
}

int api_phone_parse(const char *s, char out[API_PHONE_MAX + 1])
{
	size_t n = 0;

	if (!s)
		return 0;
	if (*s == '+')
		s++;
	if (*s < '1' || *s > '9')
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n >= API_PHONE_MAX)
			return 0;
		out[n++] = *s;
	}
	if (n < 7)
		return 0;
	out[n] = '\0';
	return 1;
}

static int is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

const char *api_url_check(const char *s)
{
	const char *p, *h, *he;
	size_t n;

	if (!s)
		return "required";
	n = strnlen(s, API_URL_MAX + 1);
	if (n > API_URL_MAX)
		return "too long";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return "must be printable ASCII without spaces";
	if (!strncasecmp(s, "http://", 7))
		p = s + 7;
	else if (!strncasecmp(s, "https://", 8))
		p = s + 8;
	else
		return "scheme must be http or https";
	/* authority ends at '/', '?' or '#' */
	he = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(he - p)))
		return "user info is not allowed";
	h = p;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(he - h));

		if (!rb || rb == h + 1)
			return "bad IPv6 host";
		for (const char *q = h + 1; q < rb; q++)
			if (hexval(*q) < 0 && *q != ':' && *q != '.')
				return "bad IPv6 host";
		p = rb + 1;
	} else {
		while (p < he && *p != ':') {
			if (!is_host_char(*p))
				return "bad host";
			p++;
		}
		if (p == h)
			return "host is missing";
		if (*h == '.' || *h == '-' || p[-1] == '-')
			return "bad host";
	}
	if (p < he) {
		long port = 0;

		if (*p != ':' || p + 1 == he)
			return "bad port";
		for (p++; p < he; p++) {
			if (*p < '0' || *p > '9')
				return "bad port";
			port = port * 10 + (*p - '0');
			if (port > 65535)
				return "bad port";
		}
		if (port < 1)
			return "bad port";
	}
	return NULL;
}

int api_event_known(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; api_event_names[i]; i++)
		if (!strcmp(name, api_event_names[i]))
			return 1;
	return 0;
}

int api_limit_parse(const char *s, int present, int *out)
{
	long v = 0;

	if (!present) {
		*out = API_LIMIT_DEFAULT;
		return 1;
	}
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (*s - '0');
		if (v > API_LIMIT_MAX)
			return 0;
	}
	if (v < 1)
		return 0;
	*out = (int)v;
	return 1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* n digits at *p as a number (advancing p), or -1. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

int api_time_parse(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;

	if (!s || strlen(s) > 40)
		return 0;
	y = digits(&p, 4);
	if (y < 1970 || *p++ != '-' || (mo = digits(&p, 2)) < 1 || mo > 12 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))))
		return 0;
	if (*p) {
		if ((*p != 'T' && *p != 't') || (p++, (h = digits(&p, 2)) < 0) || h > 23 ||
		    *p++ != ':' || (mi = digits(&p, 2)) < 0 || mi > 59 || *p++ != ':' ||
		    (sec = digits(&p, 2)) < 0 || sec > 59)
			return 0;
		if (*p == '.') {
			int n = 0;

			for (p++; *p >= '0' && *p <= '9'; p++, n++)
				if (n < 3)
					frac = frac * 10 + (*p - '0');
			if (n == 0 || n > 9)
				return 0;
			for (; n < 3; n++)
				frac *= 10;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh = digits(&p, 2), om;

			if (oh < 0 || oh > 23 || *p++ != ':' || (om = digits(&p, 2)) < 0 || om > 59)
				return 0;
			off = sign * (oh * 60 + om);
		} else {
			return 0;
		}
		if (*p)
			return 0;
	}
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off * 60) * 1000 +
	      frac;
	return 1;
}
