/* The passkey step's key derivations (see passkey.h). */
#include "wa/passkey.h"

#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "wa/crypto.h"

#define HANDOFF_INFO "shortcake-passkey-handoff-v1"
#define PAIRING_INFO "Pairing Information Encryption Key"

/* the pair code's base32 alphabet (no 0, I, O, U) */
static const char linking_b32[] = "123456789ABCDEFGHJKLMNPQRSTVWXYZ";

int wa_passkey_handoff_key(const uint8_t adv[32], uint8_t out[32])
{
	return wa_hkdf_sha256(out, 32, adv, 32, NULL, 0, (const uint8_t *)HANDOFF_INFO,
			      strlen(HANDOFF_INFO));
}

int wa_passkey_handoff_proof(const uint8_t key[32], const uint8_t *prologue, size_t len,
			     uint8_t out[32])
{
	return wa_hmac_sha256(out, key, 32, prologue, len);
}

int wa_passkey_commitment(const uint8_t *ident, size_t len, const uint8_t nonce[32],
			  uint8_t out[32])
{
	uint8_t buf[512];

	if (len > sizeof(buf) - 32)
		return Y_EINVAL;
	memcpy(buf, ident, len);
	memcpy(buf + len, nonce, 32);
	return wa_sha256(out, buf, len + 32);
}

int wa_passkey_code(const uint8_t companion_nonce[32], const uint8_t primary_pub[32],
		    const uint8_t primary_nonce[32], char out[WA_PASSKEY_CODE_LEN + 1])
{
	uint8_t in[64], d[WA_SHA256_LEN], b[5];
	uint64_t v = 0;
	int rc;

	memcpy(in, companion_nonce, 32);
	memcpy(in + 32, primary_pub, 32);
	rc = wa_sha256(d, in, sizeof(in));
	if (rc)
		return rc;
	for (int i = 0; i < 5; i++) {
		b[i] = primary_nonce[i] ^ d[i];
		v = (v << 8) | b[i];
	}
	/* 40 bits are 8 base32 digits, most significant first */
	for (int i = 0, o = 0; i < 8; i++) {
		if (i == 4)
			out[o++] = '-';
		out[o++] = linking_b32[(v >> (35 - 5 * i)) & 31];
	}
	out[WA_PASSKEY_CODE_LEN] = 0;
	return Y_OK;
}

int wa_passkey_pairing_key(const uint8_t shared[32], int device_type, const char *ref,
			   size_t ref_len, uint8_t out[32])
{
	char salt[256];
	int n;

	if (ref_len > 200)
		return Y_EINVAL;
	n = snprintf(salt, sizeof(salt), "Companion Pairing %d with ref %.*s", device_type,
		     (int)ref_len, ref);
	if (n < 0 || (size_t)n >= sizeof(salt))
		return Y_EINVAL;
	return wa_hkdf_sha256(out, 32, shared, 32, (const uint8_t *)salt, (size_t)n,
			      (const uint8_t *)PAIRING_INFO, strlen(PAIRING_INFO));
}
