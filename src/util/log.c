/*
 * JSON log lines (see log.h). Strings that are not valid UTF-8 are repaired
 * (each invalid sequence becomes U+FFFD) rather than dropped, so a line
 * always keeps every field. Flat field formats ("{s:s, s:i, ...}" with the
 * scalar types s s? s* i I f b n) are built here directly; anything else
 * goes through jansson's json_vpack_ex.
 */
#include "util/log.h"
#include "util/err.h"
#include "util/utf8.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Reals print with 15 significant digits: 3.014, not 3.0139999999999998. */
#define LOG_REAL_DIGITS 15

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

void ylog_timestamp(char out[32])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
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

/* A JSON string of s, repaired if it is not valid UTF-8. */
static json_t *str_json(const char *s)
{
	size_t len = strlen(s);
	char *fixed;
	json_t *j;

	if (utf8_valid((const uint8_t *)s, len))
		return json_stringn_nocheck(s, len);
	fixed = ylog_utf8_repair(s);
	if (!fixed)
		return NULL;
	j = json_string_nocheck(fixed);
	free(fixed);
	return j;
}

static int reserved_key(const char *k)
{
	return !strcmp(k, "timestamp") || !strcmp(k, "level") || !strcmp(k, "message");
}

/* 1 if fmt is a flat object of scalars that add_flat can build. */
static int flat_format(const char *fmt)
{
	if (*fmt != '{')
		return 0;
	return fmt[strspn(fmt, "{}sifbnI?*:, \t\n")] == '\0';
}

/* Adds the fields of a flat format to obj. Returns 0, or -1 with *why set
 * when the format is malformed (the arguments are then not all read). */
static int add_flat(json_t *obj, const char *fmt, va_list ap, const char **why)
{
	const char *p = fmt + 1;

#define SKIP_SEP() while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',' || *p == ':') p++
	for (;;) {
		const char *key;
		json_t *v = NULL;
		char mod;

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
		mod = 0;
		switch (*p++) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (*p == '?' || *p == '*')
				mod = *p++;
			if (s)
				v = str_json(s);
			else if (mod == '*')
				continue;
			else
				v = json_null(); /* jansson refuses a NULL "s"; we keep the line */
			break;
		}
		case 'i':
			v = json_integer(va_arg(ap, int));
			break;
		case 'I':
			v = json_integer(va_arg(ap, json_int_t));
			break;
		case 'f':
			v = json_real(va_arg(ap, double));
			break;
		case 'b':
			v = json_boolean(va_arg(ap, int));
			break;
		case 'n':
			v = json_null();
			break;
		default:
			*why = "unexpected value type";
			return -1;
		}
		if (!key) {
			json_decref(v);
			continue;
		}
		if (reserved_key(key) || !utf8_valid((const uint8_t *)key, strlen(key))) {
			char *k = ylog_utf8_repair(key);

			if (k && !reserved_key(k))
				json_object_set_new_nocheck(obj, k, v);
			else
				json_decref(v);
			free(k);
			continue;
		}
		json_object_set_new_nocheck(obj, key, v);
	}
#undef SKIP_SEP
	return 0;
}

/* Copies the fields of json_vpack_ex's result into obj. */
static void add_packed(json_t *obj, const char *fmt, va_list ap)
{
	json_error_t jerr;
	json_t *fields = json_vpack_ex(&jerr, 0, fmt, ap);
	const char *k;
	json_t *v;

	if (!json_is_object(fields)) {
		json_object_set_new(obj, "logError", json_string(jerr.text));
		json_decref(fields);
		return;
	}
	json_object_foreach(fields, k, v) {
		if (!reserved_key(k))
			json_object_set(obj, k, v);
	}
	json_decref(fields);
}

void ylog_write(enum ylog_level lvl, const char *msg, const char *fields_fmt, ...)
{
	char ts[32];
	json_t *obj;
	char *line;
	size_t len;
	FILE *f;

	ylog_timestamp(ts);
	obj = json_object();
	if (!obj)
		return;
	json_object_set_new_nocheck(obj, "timestamp", json_string_nocheck(ts));
	json_object_set_new_nocheck(obj, "level", json_string_nocheck(ylog_level_name(lvl)));
	json_object_set_new_nocheck(obj, "message", msg ? str_json(msg) : json_null());
	if (fields_fmt) {
		va_list ap;

		va_start(ap, fields_fmt);
		if (flat_format(fields_fmt)) {
			const char *why = NULL;

			if (add_flat(obj, fields_fmt, ap, &why))
				json_object_set_new(obj, "logError", json_string(why));
		} else {
			add_packed(obj, fields_fmt, ap);
		}
		va_end(ap);
	}
	line = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII |
				       JSON_REAL_PRECISION(LOG_REAL_DIGITS));
	json_decref(obj);
	if (!line)
		return;
	len = strlen(line);
	line[len] = '\n'; /* replaces the NUL: written with its length below */
	pthread_mutex_lock(&out_lock);
	f = out_stream ? out_stream : stdout;
	fwrite(line, 1, len + 1, f);
	fflush(f);
	pthread_mutex_unlock(&out_lock);
	free(line);
}
