/*
 * UUIDs (RFC 9562) in the canonical lower-case text form
 * "xxxxxxxx-xxxx-Mxxx-Vxxx-xxxxxxxxxxxx" (M the version, V 8, 9, a or b):
 * version 4 (random) and version 7 (Unix milliseconds, then random).
 */
#ifndef YESAPP_UUID_H
#define YESAPP_UUID_H

#include <stdint.h>

#define UUID_STR_LEN 37 /* 36 chars + NUL */

/* Writes a new random UUID into out (from OpenSSL RAND_bytes).
 * Y_OK, or Y_ECRYPTO if the random generator fails (out is then ""). */
int uuid_v4(char out[UUID_STR_LEN]);
/* Writes a new time-ordered UUID: the first 48 bits the Unix time in ms
 * (now_ms), the other 74 free bits random. Ids made later sort after (to
 * the millisecond), so a B-tree keyed by them grows at its right edge
 * instead of touching a random page per insert (message ids: bench
 * messages-accept, docs/store.md). Y_OK or Y_ECRYPTO (out is then ""). */
int uuid_v7(char out[UUID_STR_LEN], int64_t now_ms);
/* 1 if s is a canonical lower-case UUID text of any version (36 chars,
 * hyphens at 8/13/18/23, hex digits elsewhere), else 0. NULL gives 0. */
int uuid_valid(const char *s);

#endif
