/*
 * A strict UTF-8 validator (RFC 3629): rejects overlong forms, UTF-16
 * surrogates (U+D800..U+DFFF), code points above U+10FFFF, stray
 * continuation bytes and sequences cut short by the end of the input.
 * NUL bytes are valid UTF-8; callers that need C strings check separately.
 */
#ifndef YESAPP_UTF8_H
#define YESAPP_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if the len bytes at s are valid UTF-8, else 0. Never reads past len. */
int utf8_valid(const uint8_t *s, size_t len);
/* Like utf8_valid, and on failure stores the offset of the first byte of
 * the first invalid sequence in *bad_at (when bad_at is non-NULL). */
int utf8_check(const uint8_t *s, size_t len, size_t *bad_at);

#endif
