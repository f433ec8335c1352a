#include "util/codec.h"

#include <stdbool.h>

#include "util/err.h"

static const char hex_digits[] = "0123456789abcdef";
static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t codec_hex_encode(const uint8_t *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
	return 2 * len;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int codec_hex_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen)
{
	if (len % 2)
		return Y_EINVAL;
	if (len / 2 > outcap)
		return Y_ETOOBIG;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(in[i]), lo = hex_value(in[i + 1]);

		if (hi < 0 || lo < 0)
			return Y_EINVAL;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = len / 2;
	return Y_OK;
}

size_t codec_b64url_encode(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64url_alphabet[v >> 18];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64_value(char c, bool std)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (std ? '+' : '-'))
		return 62;
	if (c == (std ? '/' : '_'))
		return 63;
	return -1;
}

static int b64_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen,
		      bool std)
{
	size_t n = len, need, o = 0, i = 0;
	uint32_t v;

	/* Strip correct padding: only with a total length that is a multiple
	 * of 4, at most two '=' and never a whole group of them. */
	if (n && in[n - 1] == '=') {
		if (n % 4)
			return Y_EINVAL;
		n--;
		if (n && in[n - 1] == '=')
			n--;
		if (n % 4 == 0 || n % 4 == 1)
			return Y_EINVAL;
	}
	if (n % 4 == 1)
		return Y_EINVAL;
	need = (n / 4) * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > outcap)
		return Y_ETOOBIG;
	for (; i + 4 <= n; i += 4) {
		int a = b64_value(in[i], std), b = b64_value(in[i + 1], std);
		int c = b64_value(in[i + 2], std), d = b64_value(in[i + 3], std);

		if (a < 0 || b < 0 || c < 0 || d < 0)
			return Y_EINVAL;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (n - i >= 2) {
		int a = b64_value(in[i], std), b = b64_value(in[i + 1], std);
		int c = n - i == 3 ? b64_value(in[i + 2], std) : 0;

		if (a < 0 || b < 0 || c < 0)
			return Y_EINVAL;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
		out[o++] = (uint8_t)(v >> 16);
		if (n - i == 3) {
			out[o++] = (uint8_t)(v >> 8);
			if (v & 0xff) /* bits beyond the last byte must be zero */
				return Y_EINVAL;
		} else if (v & 0xffff) {
			return Y_EINVAL;
		}
	}
	*outlen = o;
	return Y_OK;
}

int codec_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen)
{
	return b64_decode(in, len, out, outcap, outlen, false);
}

int codec_b64_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen)
{
	return b64_decode(in, len, out, outcap, outlen, true);
}
