/*
 * UUID version 4 (random, RFC 9562) in the canonical lower-case text form
 * "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx" (V is 8, 9, a or b).
 */
#ifndef YESAPP_UUID_H
#define YESAPP_UUID_H

#define UUID_STR_LEN 37 /* 36 chars + NUL */

/* Writes a new random UUID into out (from OpenSSL RAND_bytes).
 * Y_OK, or Y_ECRYPTO if the random generator fails (out is then ""). */
int uuid_v4(char out[UUID_STR_LEN]);
/* 1 if s is a canonical lower-case UUID text of any version (36 chars,
 * hyphens at 8/13/18/23, hex digits elsewhere), else 0. NULL gives 0. */
int uuid_valid(const char *s);

#endif
