/*
 * Strict JSON request-body helpers (jansson). Every failure returns Y_EINVAL
 * and hands back a `details` object (caller owns it, json_decref) that the
 * API puts into its 400 VALIDATION_ERROR body:
 *   parse errors  {"reason": "...", "line": L, "column": C, "position": P}
 *   field errors  {"field": "name", "reason": "..."}
 * Parsing rejects invalid UTF-8, \u0000, duplicate keys, trailing data and
 * any top-level value that is not an object.
 */
#ifndef YESAPP_HTTP_JSON_H
#define YESAPP_HTTP_JSON_H

#include <jansson.h>
#include <stddef.h>

/* A new {"field": field, "reason": reason} object (NULL on ENOMEM). */
json_t *http_json_field_error(const char *field, const char *reason);

/* Parses body[0..len) (need not be NUL-terminated) into a new object *out
 * (caller owns). */
int http_json_parse_object(const char *body, size_t len, json_t **out, json_t **details);

/* Fails on the first key of obj not listed in `allowed` (NULL-terminated). */
int http_json_only_keys(const json_t *obj, const char *const *allowed, json_t **details);

/*
 * Reads a string member. Missing or null: Y_ENOTFOUND with *out NULL when
 * !required (no details), Y_EINVAL "required" when required. Not a string,
 * or fewer than min_chars / more than max_chars code points: Y_EINVAL.
 * *out is borrowed from obj.
 */
int http_json_get_string(const json_t *obj, const char *key, int required, size_t min_chars,
			 size_t max_chars, const char **out, json_t **details);

/* Number of UTF-8 code points in a valid UTF-8 string. */
size_t http_utf8_chars(const char *s, size_t len);

#endif
