/*
 * Fuzzes the logger with arbitrary bytes as message, field key and field
 * value (the input split at the first two NUL bytes): every line must come
 * out as one valid JSON object that keeps the field, and
 * ylog_utf8_repair's output must always be valid UTF-8 (and equal to its
 * input when that was valid).
 */
#include "util/log.h"
#include "util/utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 3), *msg, *key, *val, *fixed, *mem = NULL;
	size_t memlen = 0;
	FILE *f;
	json_t *j;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = copy[size + 1] = copy[size + 2] = '\0';
	msg = copy;
	key = msg + strlen(msg) + 1;
	val = key + strlen(key) + 1;

	fixed = ylog_utf8_repair(val);
	if (fixed) {
		if (!utf8_valid((const uint8_t *)fixed, strlen(fixed)))
			abort();
		if (utf8_valid((const uint8_t *)val, strlen(val)) && strcmp(fixed, val))
			abort();
		free(fixed);
	}

	f = open_memstream(&mem, &memlen);
	if (f) {
		ylog_set_output(f);
		ylog_min = YLOG_DEBUG;
		LOG_INFO(msg, "{s:s, s:i}", key, val, "n", 1);
		ylog_set_output(NULL);
		fclose(f);
		j = json_loadb(mem, memlen, 0, NULL);
		if (!json_is_object(j) || !json_is_string(json_object_get(j, "message")) ||
		    json_integer_value(json_object_get(j, "n")) != 1)
			abort();
		json_decref(j);
		free(mem);
	}
	free(copy);
	return 0;
}
