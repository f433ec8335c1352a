#include "http/json.h"
#include "util/err.h"

#include <string.h>

json_t *http_json_field_error(const char *field, const char *reason)
{
	return json_pack("{s:s, s:s}", "field", field, "reason", reason);
}

int http_json_parse_object(const char *body, size_t len, json_t **out, json_t **details)
{
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	*details = NULL;
	if (len == 0) {
		*details = json_pack("{s:s}", "reason", "request body is empty; expected a JSON object");
		return Y_EINVAL;
	}
	v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		/* jansson may quote the offending input in its message: keep
		 * printable ASCII only so the reason is valid UTF-8. */
		for (char *p = jerr.text; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		*details = json_pack("{s:s, s:i, s:i, s:i}", "reason", jerr.text, "line", jerr.line,
				     "column", jerr.column, "position", jerr.position);
		return Y_EINVAL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		*details = json_pack("{s:s}", "reason", "request body must be a JSON object");
		return Y_EINVAL;
	}
	*out = v;
	return Y_OK;
}

int http_json_only_keys(const json_t *obj, const char *const *allowed, json_t **details)
{
	const char *k;
	json_t *v;

	*details = NULL;
	json_object_foreach((json_t *)obj, k, v) {
		int ok = 0;

		for (size_t i = 0; allowed[i]; i++) {
			if (!strcmp(k, allowed[i])) {
				ok = 1;
				break;
			}
		}
		if (!ok) {
			*details = http_json_field_error(k, "unknown field");
			return Y_EINVAL;
		}
	}
	return Y_OK;
}

size_t http_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

int http_json_get_string(const json_t *obj, const char *key, int required, size_t min_chars,
			 size_t max_chars, const char **out, json_t **details)
{
	json_t *v = json_object_get(obj, key);
	size_t chars;

	*out = NULL;
	*details = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return Y_ENOTFOUND;
		*details = http_json_field_error(key, "required");
		return Y_EINVAL;
	}
	if (!json_is_string(v)) {
		*details = http_json_field_error(key, "must be a string");
		return Y_EINVAL;
	}
	chars = http_utf8_chars(json_string_value(v), json_string_length(v));
	if (chars < min_chars) {
		*details = http_json_field_error(key, min_chars == 1 ? "must not be empty" : "too short");
		return Y_EINVAL;
	}
	if (chars > max_chars) {
		*details = http_json_field_error(key, "too long");
		if (*details)
			json_object_set_new(*details, "maxLength", json_integer((json_int_t)max_chars));
		return Y_EINVAL;
	}
	*out = json_string_value(v);
	return Y_OK;
}
