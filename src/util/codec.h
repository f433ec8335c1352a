/*
 * Text encodings of binary data: lower-case hex and base64url (RFC 4648 §5,
 * the URL-safe alphabet, written without '=' padding).
 *
 * Decoders are strict and bounds-checked: they never write more than
 * `outcap` bytes and never read past `len`. Input comes from the network or
 * the user, so anything malformed returns Y_EINVAL and an output buffer that
 * is too small returns Y_ETOOBIG; on error nothing useful is in `out`.
 * Encoders write a NUL-terminated string; the caller sizes `out` with the
 * *_ENC_LEN macros (which include the NUL).
 */
#ifndef YESAPP_CODEC_H
#define YESAPP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define CODEC_HEX_ENC_LEN(n) ((n) * 2 + 1)
#define CODEC_B64URL_ENC_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0) + 1)
/* An upper bound of the decoded size of `len` base64url characters. */
#define CODEC_B64URL_DEC_MAX(len) (((len) / 4) * 3 + 2)

/* Writes 2*len hex chars + NUL into out. Returns the string length. */
size_t codec_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes len hex chars (either case; len must be even) into out.
 * *outlen gets len/2. Y_EINVAL on odd length or a non-hex char. */
int codec_hex_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen);

/* Writes base64url without padding + NUL into out. Returns the string length. */
size_t codec_b64url_encode(const uint8_t *in, size_t len, char *out);
/* Decodes base64url. Accepts the unpadded form and the correctly padded one
 * ('=' only at the end, to a multiple of 4). Rejects the standard alphabet's
 * '+' and '/', whitespace, a length of 1 mod 4 and non-zero trailing bits
 * (so every byte string has exactly one accepted unpadded encoding). */
int codec_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen);
/* The same rules for standard base64 ('+' and '/'; RFC 4648 §4). */
int codec_b64_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen);

#endif
