#include "util/log.h"
#include "util/err.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum ylog_level ylog_min = YLOG_INFO;

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

void ylog_write(enum ylog_level lvl, const char *msg, const char *fields_fmt, ...)
{
	char ts[32];
	json_t *obj, *fields = NULL;
	char *line;
	FILE *f;

	ylog_timestamp(ts);
	obj = json_object();
	if (!obj)
		return;
	json_object_set_new(obj, "timestamp", json_string(ts));
	json_object_set_new(obj, "level", json_string(ylog_level_name(lvl)));
	json_object_set_new(obj, "message", msg ? json_string(msg) : json_null());
	if (fields_fmt) {
		va_list ap;
		json_error_t jerr;

		va_start(ap, fields_fmt);
		fields = json_vpack_ex(&jerr, 0, fields_fmt, ap);
		va_end(ap);
		if (json_is_object(fields)) {
			const char *k;
			json_t *v;

			json_object_foreach(fields, k, v) {
				if (strcmp(k, "timestamp") && strcmp(k, "level") && strcmp(k, "message"))
					json_object_set(obj, k, v);
			}
		} else {
			json_object_set_new(obj, "logError", json_string(jerr.text));
		}
		json_decref(fields);
	}
	line = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(obj);
	if (!line)
		return;
	pthread_mutex_lock(&out_lock);
	f = out_stream ? out_stream : stdout;
	fputs(line, f);
	fputc('\n', f);
	fflush(f);
	pthread_mutex_unlock(&out_lock);
	free(line);
}
