/*
 * Input checks shared by the API handlers. None allocates; all are total
 * over any byte string (NULL included) and never read past the given length
 * or the terminating NUL.
 */
#ifndef YESAPP_API_VALIDATE_H
#define YESAPP_API_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#define API_PHONE_MAX 15 /* E.164 digits */
#define API_URL_MAX 2048
#define API_LIMIT_DEFAULT 50
#define API_LIMIT_MAX 500

/* Canonical lower-case UUID text (8-4-4-4-12 hex) of exactly len bytes
 * (need not be NUL-terminated); copies it into out (37 bytes). 1 if valid. */
int api_uuid_parse(const char *s, size_t len, char out[37]);
/* Parses a UUID into 16 bytes; 1 if valid. */
int api_uuid_bytes(const char *s, unsigned char out[16]);

/* E.164 number: optional '+', then 7..15 digits, the first not '0'. Writes
 * the digits (no '+') into out. Returns 1 if valid. */
int api_phone_parse(const char *s, char out[API_PHONE_MAX + 1]);

/* Webhook URL: http or https, a host (name, IPv4, or [IPv6]), optional port
 * 1..65535, no user-info, printable ASCII only, at most API_URL_MAX bytes.
 * Returns NULL if valid, else a static reason. */
const char *api_url_check(const char *s);

/* 1 if name is a known webhook event name. */
int api_event_known(const char *name);
/* The list of known event names, NULL-terminated. */
extern const char *const api_event_names[];

/* The `limit` query argument: absent -> default; else 1..API_LIMIT_MAX in
 * plain decimal. Returns 1 if valid. */
int api_limit_parse(const char *s, int present, int *out);

/* An ISO 8601 time from 1970: YYYY-MM-DD (midnight UTC), or that with
 * THH:MM:SS, an optional fraction (1..9 digits; ms kept) and Z or +HH:MM /
 * -HH:MM. *ms gets ms since the epoch. Returns 1 if valid. */
int api_time_parse(const char *s, int64_t *ms);

#endif
