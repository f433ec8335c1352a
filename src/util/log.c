/*
 * JSON log lines (see log.h). Strings that are not valid UTF-8 are repaired
 * (each invalid sequence becomes U+FFFD) rather than dropped, so a line
 * always keeps every field. Lines are written straight into a buffer:
 * flat field formats ("{s:s, s:i, ...}" with the scalar types s s? s* i I f
 * b n) without jansson, anything else through jansson's json_vpack_ex. A
 * line longer than LOG_LINE_MAX is dropped. Lines to stdout (no stream set)
 * go straight to file descriptor 1 with write(2), bypassing stdio: stdout
 * then carries only log lines (as in `yesapp serve`).
 */
#include "util/log.h"
#include "util/err.h"
#include "util/buf.h"
#include "util/utf8.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Reals print with 15 significant digits: 3.014, not 3.0139999999999998. */
#define LOG_REAL_DIGITS 15
#define LOG_LINE_MAX (1 << 20) /* a longer line is not written */

_Atomic enum ylog_level ylog_min = YLOG_INFO;

static FILE *out_stream;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

int ylog_parse_level(const char *s, enum ylog_level *out)
{
	if (!s)
		return Y_EINVAL;
	for (int i = 0; i <= YLOG_OFF; i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum ylog_level)i;
			return Y_OK;
		}
	}
	if (!strcasecmp(s, "warning")) {
		*out = YLOG_WARN;
		return Y_OK;
	}
	return Y_EINVAL;
}

const char *ylog_level_name(enum ylog_level lvl)
{
	if ((int)lvl < 0 || lvl > YLOG_OFF)
		return "unknown";
	return level_names[lvl];
}

void ylog_set_output(FILE *f)
{
	pthread_mutex_lock(&out_lock);
	out_stream = f;
	pthread_mutex_unlock(&out_lock);
}

/* Civil date from days since 1970-01-01 (proleptic Gregorian, the
 * era-based method). Pure arithmetic: gmtime_r would take libc's time-zone
 * lock on every log line, which the HTTP threads contend on. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

void ylog_format_ms(int64_t ms, char out[32])
{
	int64_t days, y, secs;
	unsigned m, d, rem;
	char *p = out;

	if (ms < 0 || ms > 253402300799999LL) /* outside years 1970..9999 */
		ms = 0;
	days = ms / 86400000;
	rem = (unsigned)(ms % 86400000);
	civil_from_days(days, &y, &m, &d);
	secs = rem / 1000;
	p = put_digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, (unsigned)(secs / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(secs / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (unsigned)(secs % 60), 2);
	*p++ = '.';
	p = put_digits(p, rem % 1000, 3);
	*p++ = 'Z';
	*p = '\0';
}

void ylog_timestamp(char out[32])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ylog_format_ms((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, out);
}

/* Length of the invalid sequence at s (1..4 bytes, never past len): its
 * first byte and the continuation bytes that follow it. */
static size_t bad_len(const unsigned char *s, size_t len)
{
	size_t n = 1;

	while (n < len && n < 4 && (s[n] & 0xc0) == 0x80)
		n++;
	return n;
}

char *ylog_utf8_repair(const char *s)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), off = 0, bad, o = 0;
	char *out;

	/* At worst every byte becomes three. */
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	while (off < len) {
		if (utf8_check(p + off, len - off, &bad)) {
			memcpy(out + o, p + off, len - off);
			o += len - off;
			break;
		}
		memcpy(out + o, p + off, bad);
		o += bad;
		memcpy(out + o, fffd, 3);
		o += 3;
		off += bad + bad_len(p + off + bad, len - off - bad);
	}
	out[o] = '\0';
	return out;
}

/* Appends s as a JSON string, ASCII only (like jansson's
 * JSON_ENSURE_ASCII): s must be valid UTF-8. */
static void put_str_valid(struct ybuf *b, const unsigned char *s)
{
	static const char hex[] = "0123456789abcdef";

	ybuf_append_byte(b, '"');
	while (*s) {
		const unsigned char *run = s;
		unsigned cp;
		char esc[13];

		while (*s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
			s++;
		if (s > run)
			ybuf_append(b, run, (size_t)(s - run));
		if (!*s)
			break;
		if (*s < 0x80) {
			cp = *s++;
		} else if (*s < 0xe0) {
			cp = (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu);
			s += 2;
		} else if (*s < 0xf0) {
			cp = (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
			s += 3;
		} else {
			cp = (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 |
			     (s[3] & 0x3fu);
			s += 4;
		}
		switch (cp) {
		case '"': ybuf_append(b, "\\\"", 2); continue;
		case '\\': ybuf_append(b, "\\\\", 2); continue;
		case '\b': ybuf_append(b, "\\b", 2); continue;
		case '\f': ybuf_append(b, "\\f", 2); continue;
		case '\n': ybuf_append(b, "\\n", 2); continue;
		case '\r': ybuf_append(b, "\\r", 2); continue;
		case '\t': ybuf_append(b, "\\t", 2); continue;
		default: break;
		}
		if (cp >= 0x10000) { /* a surrogate pair */
			unsigned v = cp - 0x10000, hi = 0xd800 | (v >> 10), lo = 0xdc00 | (v & 0x3ff);

			memcpy(esc, "\\u", 2);
			for (int i = 0; i < 4; i++)
				esc[2 + i] = hex[(hi >> (12 - 4 * i)) & 0xf];
			memcpy(esc + 6, "\\u", 2);
			for (int i = 0; i < 4; i++)
				esc[8 + i] = hex[(lo >> (12 - 4 * i)) & 0xf];
			ybuf_append(b, esc, 12);
		} else {
			memcpy(esc, "\\u", 2);
			for (int i = 0; i < 4; i++)
				esc[2 + i] = hex[(cp >> (12 - 4 * i)) & 0xf];
			ybuf_append(b, esc, 6);
		}
	}
	ybuf_append_byte(b, '"');
}

/* Appends s as a JSON string, repaired first if it is not valid UTF-8. */
static void put_str(struct ybuf *b, const char *s)
{
	char *fixed;

	if (utf8_valid((const uint8_t *)s, strlen(s))) {
		put_str_valid(b, (const unsigned char *)s);
		return;
	}
	fixed = ylog_utf8_repair(s);
	put_str_valid(b, (const unsigned char *)(fixed ? fixed : "?"));
	free(fixed);
}

/* Appends a real as jansson would with JSON_REAL_PRECISION(LOG_REAL_DIGITS);
 * NaN and infinities (not JSON) become null. */
static void put_real(struct ybuf *b, double v)
{
	char tmp[40];

	if (isnan(v) || isinf(v)) {
		ybuf_append(b, "null", 4);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%.*g", LOG_REAL_DIGITS, v);
	ybuf_append_str(b, tmp);
	if (!strpbrk(tmp, ".e"))
		ybuf_append(b, ".0", 2);
}

static int reserved_key(const char *k)
{
	return !strcmp(k, "timestamp") || !strcmp(k, "level") || !strcmp(k, "message");
}

/* 1 if fmt is a flat object of scalars that put_flat can write. */
static int flat_format(const char *fmt)
{
	if (*fmt != '{')
		return 0;
	return fmt[strspn(fmt, "{}sifbnI?*:, \t\n")] == '\0';
}

/* Appends ,"key":value for each field of a flat format. Returns 0, or -1
 * with *why set when the format is malformed (the arguments are then not
 * all read). A repeated key is written twice (jansson would keep one). */
static int put_flat(struct ybuf *b, const char *fmt, va_list ap, const char **why)
{
	const char *p = fmt + 1;

#define SKIP_SEP() while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',' || *p == ':') p++
	for (;;) {
		const char *key, *s = NULL;
		char num[32], type, mod = 0;
		double real = 0;

		SKIP_SEP();
		if (*p == '}')
			break;
		if (*p != 's') {
			*why = "expected a key (s)";
			return -1;
		}
		p++;
		key = va_arg(ap, const char *);
		SKIP_SEP();
		num[0] = '\0';
		type = *p++;
		switch (type) {
		case 's':
			s = va_arg(ap, const char *);
			if (*p == '?' || *p == '*')
				mod = *p++;
			if (!s && mod == '*')
				continue; /* left out */
			break;
		case 'i':
			snprintf(num, sizeof(num), "%d", va_arg(ap, int));
			break;
		case 'I':
			snprintf(num, sizeof(num), "%lld", (long long)va_arg(ap, json_int_t));
			break;
		case 'f':
			real = va_arg(ap, double);
			break;
		case 'b':
			snprintf(num, sizeof(num), "%s", va_arg(ap, int) ? "true" : "false");
			break;
		case 'n':
			snprintf(num, sizeof(num), "null");
			break;
		default:
			*why = "unexpected value type";
			return -1;
		}
		if (!key)
			continue;
		if (reserved_key(key))
			continue;
		ybuf_append_byte(b, ',');
		put_str(b, key);
		ybuf_append_byte(b, ':');
		if (type == 's')
			s ? put_str(b, s) : (void)ybuf_append(b, "null", 4); /* NULL "s": null */
		else if (type == 'f')
			put_real(b, real);
		else
			ybuf_append_str(b, num);
	}
#undef SKIP_SEP
	return 0;
}

/* Appends the fields of json_vpack_ex's result (other formats). */
static void put_packed(struct ybuf *b, const char *fmt, va_list ap)
{
	json_error_t jerr;
	json_t *fields = json_vpack_ex(&jerr, 0, fmt, ap);
	char *text;

	if (!json_is_object(fields)) {
		json_decref(fields);
		ybuf_append(b, ",\"logError\":", 12);
		put_str(b, jerr.text);
		return;
	}
	json_object_del(fields, "timestamp");
	json_object_del(fields, "level");
	json_object_del(fields, "message");
	text = json_dumps(fields, JSON_COMPACT | JSON_ENSURE_ASCII |
					  JSON_REAL_PRECISION(LOG_REAL_DIGITS));
	json_decref(fields);
	if (text && strlen(text) > 2) { /* "{...}" without its braces */
		ybuf_append_byte(b, ',');
		ybuf_append(b, text + 1, strlen(text) - 2);
	}
	free(text);
}

/* Writes the line with one write(2) when it can: on a pipe, lines of up to
 * PIPE_BUF bytes stay whole without a lock, so the HTTP threads do not queue
 * behind each other's system call. */
static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere to report a failed log write */
		p += w;
		n -= (size_t)w;
	}
}

static _Thread_local const char *tl_session;

/* ---- the ring of recent lines (log.h) ---- */

static struct ylog_ring_line ring[YLOG_RING_SLOTS];
static uint64_t ring_seq; /* lines ever put; ring[(seq - 1) % SLOTS] is the newest */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

/* The session a line is about: the thread's, else its first "sessionId". */
static void line_session(const char *line, size_t len, char out[YLOG_SESSION_MAX])
{
	static const char key[] = "\"sessionId\":\"";
	const char *p = tl_session, *end;
	size_t n;

	out[0] = '\0';
	if (!p) {
		p = memmem(line, len, key, sizeof(key) - 1);
		if (!p)
			return;
		p += sizeof(key) - 1;
		end = memchr(p, '"', (size_t)(line + len - p));
		n = end ? (size_t)(end - p) : 0;
	} else {
		n = strlen(p);
	}
	if (n && n < YLOG_SESSION_MAX) {
		memcpy(out, p, n);
		out[n] = '\0';
	}
}

/* A line too long for a slot, shortened: timestamp, level, the start of the
 * message (cut on a character boundary), session, "truncated". */
static void shorten(struct ybuf *b, const char *ts, enum ylog_level lvl, const char *msg,
		    const char *session)
{
	char cut[512];
	size_t n = msg ? strnlen(msg, sizeof(cut) - 1) : 0;

	while (n && msg[n] && ((unsigned char)msg[n] & 0xC0) == 0x80)
		n--; /* do not split a UTF-8 sequence */
	if (n)
		memcpy(cut, msg, n);
	cut[n] = '\0';
	ybuf_append(b, "{\"timestamp\":\"", 14);
	ybuf_append_str(b, ts);
	ybuf_append(b, "\",\"level\":\"", 11);
	ybuf_append_str(b, ylog_level_name(lvl));
	ybuf_append(b, "\",\"message\":", 12);
	put_str(b, cut);
	if (session[0]) {
		ybuf_append(b, ",\"session\":", 11);
		put_str(b, session);
	}
	ybuf_append(b, ",\"truncated\":true}", 18);
}

static void ring_put(enum ylog_level lvl, const char *ts, const char *msg, const uint8_t *line,
		     size_t len)
{
	struct ybuf small = YBUF_INIT(YLOG_RING_LINE);
	struct ylog_ring_line *slot;
	char session[YLOG_SESSION_MAX];

	line_session((const char *)line, len, session);
	if (len >= YLOG_RING_LINE) {
		shorten(&small, ts, lvl, msg, session);
		line = small.data;
		len = small.len < YLOG_RING_LINE ? small.len : 0;
	}
	pthread_mutex_lock(&ring_lock);
	slot = &ring[ring_seq % YLOG_RING_SLOTS];
	slot->seq = ++ring_seq;
	slot->level = lvl;
	memcpy(slot->session, session, sizeof(session));
	if (len)
		memcpy(slot->text, line, len);
	slot->text[len] = '\0';
	pthread_mutex_unlock(&ring_lock);
	ybuf_release(&small);
}

size_t ylog_ring_read(enum ylog_level min, const char *session, struct ylog_ring_line *out,
		      size_t max)
{
	size_t n = 0;
	uint64_t s;

	pthread_mutex_lock(&ring_lock);
	/* from the newest back, filling out from its end (so oldest first),
	 * then moved to its start */
	for (s = ring_seq; s > 0 && ring_seq - s < YLOG_RING_SLOTS && n < max; s--) {
		const struct ylog_ring_line *l = &ring[(s - 1) % YLOG_RING_SLOTS];

		if (l->level < min || (session && strcmp(l->session, session)))
			continue;
		out[max - 1 - n] = *l;
		n++;
	}
	pthread_mutex_unlock(&ring_lock);
	if (n && n < max)
		memmove(out, out + (max - n), n * sizeof(*out));
	return n;
}

void ylog_ring_clear(void)
{
	pthread_mutex_lock(&ring_lock);
	memset(ring, 0, sizeof(ring));
	ring_seq = 0;
	pthread_mutex_unlock(&ring_lock);
}

void ylog_set_session(const char *id)
{
	tl_session = id;
}

const char *ylog_session(void)
{
	return tl_session;
}

const char *ylog_swap_session(const char *id)
{
	const char *prev = tl_session;

	tl_session = id;
	return prev;
}

void ylog_write(enum ylog_level lvl, const char *msg, const char *fields_fmt, ...)
{
	struct ybuf b = YBUF_INIT(LOG_LINE_MAX);
	char ts[32];
	FILE *f;

	ylog_timestamp(ts);
	if (ybuf_reserve(&b, 256))
		return;
	ybuf_append(&b, "{\"timestamp\":\"", 14);
	ybuf_append_str(&b, ts);
	ybuf_append(&b, "\",\"level\":\"", 11);
	ybuf_append_str(&b, ylog_level_name(lvl));
	ybuf_append(&b, "\",\"message\":", 12);
	if (msg)
		put_str(&b, msg);
	else
		ybuf_append(&b, "null", 4);
	if (tl_session) {
		ybuf_append(&b, ",\"session\":", 11);
		put_str(&b, tl_session);
	}
	if (fields_fmt) {
		va_list ap;

		va_start(ap, fields_fmt);
		if (flat_format(fields_fmt)) {
			const char *why = NULL;

			if (put_flat(&b, fields_fmt, ap, &why)) {
				ybuf_append(&b, ",\"logError\":", 12);
				put_str(&b, why);
			}
		} else {
			put_packed(&b, fields_fmt, ap);
		}
		va_end(ap);
	}
	if (ybuf_append(&b, "}\n", 2) == Y_OK) {
		ring_put(lvl, ts, msg, b.data, b.len - 1);
		pthread_mutex_lock(&out_lock);
		f = out_stream;
		if (f) {
			fwrite(b.data, 1, b.len, f);
			fflush(f);
		}
		pthread_mutex_unlock(&out_lock);
		if (!f)
			write_all(STDOUT_FILENO, b.data, b.len);
	}
	ybuf_release(&b);
}
