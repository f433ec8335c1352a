/* The pairing QR text: see qrtext.h. */
#include "wa/qrtext.h"

#include <stdbool.h>
#include <string.h>

#include "util/err.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding of n bytes + NUL; out holds 4*ceil(n/3)+1. */
static void b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t x = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			x |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			x |= in[i + 2];
		out[o++] = B64[(x >> 18) & 63];
		out[o++] = B64[(x >> 12) & 63];
		out[o++] = i + 1 < n ? B64[(x >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? B64[x & 63] : '=';
	}
	out[o] = 0;
}

static int b64_val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Decodes base64 (either alphabet, padding optional) of exactly want bytes. */
static int b64_exact(const char *in, size_t len, uint8_t *out, size_t want)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	while (len && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64_val((unsigned char)in[i]);

		if (v < 0)
			return Y_EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= want)
				return Y_EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == want ? Y_OK : Y_EINVAL;
}

static bool type_ok(const char *t, size_t n)
{
	if (n == 0 || n > WA_QR_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'z') ||
		      (t[i] >= 'A' && t[i] <= 'Z')))
			return false;
	return true;
}

int wa_qr_build(const char *ref, size_t ref_len, const uint8_t noise[WA_KEY_LEN],
		const uint8_t identity[WA_KEY_LEN], const uint8_t adv[32], const char *type,
		char *out, size_t cap)
{
	char k[3][45];
	size_t plen = sizeof(WA_QR_PREFIX) - 1, tlen = type ? strlen(type) : 0, need, o;

	if (ref_len == 0 || ref_len > WA_QR_REF_MAX || memchr(ref, ',', ref_len) ||
	    memchr(ref, '#', ref_len) || memchr(ref, 0, ref_len) || !type_ok(type, tlen))
		return Y_EINVAL;
	b64_encode(noise, WA_KEY_LEN, k[0]);
	b64_encode(identity, WA_KEY_LEN, k[1]);
	b64_encode(adv, 32, k[2]);
	need = plen + ref_len + 3 * (1 + 44) + 1 + tlen + 1;
	if (cap < need) {
		if (cap)
			out[0] = 0;
		return Y_ETOOBIG;
	}
	memcpy(out, WA_QR_PREFIX, plen);
	o = plen;
	memcpy(out + o, ref, ref_len);
	o += ref_len;
	for (int i = 0; i < 3; i++) {
		out[o++] = ',';
		memcpy(out + o, k[i], 44);
		o += 44;
	}
	out[o++] = ',';
	memcpy(out + o, type, tlen);
	o += tlen;
	out[o] = 0;
	return Y_OK;
}

int wa_qr_parse(const char *text, struct wa_qr *out)
{
	const char *f[5], *hash = strchr(text, '#');
	size_t fl[5], nf = 0;

	if (hash)
		text = hash + 1;
	for (const char *p = text;;) {
		const char *comma = strchr(p, ',');

		if (nf == 5)
			return Y_EINVAL;
		f[nf] = p;
		fl[nf] = comma ? (size_t)(comma - p) : strlen(p);
		nf++;
		if (!comma)
			break;
		p = comma + 1;
	}
	if ((nf != 4 && nf != 5) || fl[0] == 0 || fl[0] > WA_QR_REF_MAX ||
	    memchr(f[0], '#', fl[0]))
		return Y_EINVAL;
	if (nf == 5 && !type_ok(f[4], fl[4]))
		return Y_EINVAL;
	out->ref = f[0];
	out->ref_len = fl[0];
	if (b64_exact(f[1], fl[1], out->noise, WA_KEY_LEN) ||
	    b64_exact(f[2], fl[2], out->identity, WA_KEY_LEN) ||
	    b64_exact(f[3], fl[3], out->adv, sizeof(out->adv)))
		return Y_EINVAL;
	out->type[0] = 0;
	if (nf == 5) {
		memcpy(out->type, f[4], fl[4]);
		out->type[fl[4]] = 0;
	}
	return Y_OK;
}
