/* Pair-code crypto (see paircode.h). */
#include "wa/paircode.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define BUNDLE_INFO "link_code_pairing_key_bundle_encryption_key"
#define ADV_INFO "adv_secret"

static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTVWXYZ";

void wa_paircode_encode(const uint8_t rnd[5], char out[WA_PAIRCODE_LEN + 1])
{
	uint64_t v = 0;

	for (int i = 0; i < 5; i++)
		v = (v << 8) | rnd[i];
	for (int i = 0; i < WA_PAIRCODE_LEN; i++)
		out[i] = alphabet[(v >> (35 - 5 * i)) & 31];
	out[WA_PAIRCODE_LEN] = 0;
}

int wa_paircode_generate(char out[WA_PAIRCODE_LEN + 1])
{
	uint8_t rnd[5];

	if (wa_crypto_random(rnd, sizeof(rnd)))
		return Y_ECRYPTO;
	wa_paircode_encode(rnd, out);
	return Y_OK;
}

int wa_paircode_normalize(const char *in, char out[WA_PAIRCODE_LEN + 1])
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		if (*p == '-')
			continue;
		if (*p <= ' ' || *p > '~' || n >= WA_PAIRCODE_LEN)
			return Y_EINVAL;
		out[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	}
	out[n] = 0;
	return n == WA_PAIRCODE_LEN ? Y_OK : Y_EINVAL;
}

void wa_paircode_display(const char *code, char out[WA_PAIRCODE_TEXT_LEN])
{
	memcpy(out, code, 4);
	out[4] = '-';
	memcpy(out + 5, code + 4, 4);
	out[9] = 0;
}

static int code_key(uint8_t key[32], const char *code, const uint8_t salt[32])
{
	if (!code || strlen(code) != WA_PAIRCODE_LEN)
		return Y_EINVAL;
	return wa_pbkdf2_sha256(key, 32, (const uint8_t *)code, WA_PAIRCODE_LEN, salt, 32,
				WA_PAIRCODE_ITERATIONS);
}

int wa_paircode_wrap(uint8_t out[WA_PAIRCODE_WRAPPED_LEN], const char *code,
		     const uint8_t pub[WA_KEY_LEN], const uint8_t *salt, const uint8_t *iv)
{
	uint8_t key[32];
	int rc;

	if (salt)
		memcpy(out, salt, 32);
	if (iv)
		memcpy(out + 32, iv, 16);
	rc = (!salt && wa_crypto_random(out, 32)) || (!iv && wa_crypto_random(out + 32, 16))
		     ? Y_ECRYPTO
		     : Y_OK;
	rc = rc ?: code_key(key, code, out);
	rc = rc ?: wa_aes_ctr(out + 48, key, out + 32, pub, WA_KEY_LEN);
	wa_wipe(key, sizeof(key));
	return rc;
}

int wa_paircode_unwrap(uint8_t pub[WA_KEY_LEN], const char *code,
		       const uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN])
{
	uint8_t key[32];
	int rc = code_key(key, code, wrapped);

	rc = rc ?: wa_aes_ctr(pub, key, wrapped + 32, wrapped + 48, WA_KEY_LEN);
	wa_wipe(key, sizeof(key));
	return rc;
}

static int bundle_key(uint8_t key[32], const uint8_t eph_shared[32], const uint8_t salt[32])
{
	return wa_hkdf_sha256(key, 32, eph_shared, 32, salt, 32, (const uint8_t *)BUNDLE_INFO,
			      strlen(BUNDLE_INFO));
}

int wa_paircode_bundle_seal(uint8_t out[WA_PAIRCODE_BUNDLE_LEN], const uint8_t eph_shared[32],
			    const uint8_t *salt, const uint8_t *nonce,
			    const uint8_t companion_ident[WA_KEY_LEN],
			    const uint8_t primary_ident[WA_KEY_LEN], const uint8_t adv_random[32])
{
	uint8_t key[32], plain[WA_PAIRCODE_BUNDLE_PLAIN_LEN];
	int rc;

	if (salt)
		memcpy(out, salt, 32);
	if (nonce)
		memcpy(out + 32, nonce, 12);
	rc = (!salt && wa_crypto_random(out, 32)) || (!nonce && wa_crypto_random(out + 32, 12))
		     ? Y_ECRYPTO
		     : Y_OK;
	memcpy(plain, companion_ident, 32);
	memcpy(plain + 32, primary_ident, 32);
	memcpy(plain + 64, adv_random, 32);
	rc = rc ?: bundle_key(key, eph_shared, out);
	rc = rc ?: wa_aes_gcm_encrypt(out + 44, key, out + 32, 12, NULL, 0, plain, sizeof(plain));
	wa_wipe(key, sizeof(key));
	wa_wipe(plain, sizeof(plain));
	return rc;
}

int wa_paircode_bundle_open(uint8_t plain[WA_PAIRCODE_BUNDLE_PLAIN_LEN],
			    const uint8_t eph_shared[32], const uint8_t *bundle, size_t len)
{
	uint8_t key[32];
	int rc;

	if (!bundle || len != WA_PAIRCODE_BUNDLE_LEN)
		return Y_EINVAL;
	rc = bundle_key(key, eph_shared, bundle);
	rc = rc ?: wa_aes_gcm_decrypt(plain, key, bundle + 32, 12, NULL, 0, bundle + 44, len - 44);
	wa_wipe(key, sizeof(key));
	return rc;
}

int wa_paircode_adv_secret(uint8_t out[32], const uint8_t eph_shared[32],
			   const uint8_t ident_shared[32], const uint8_t adv_random[32])
{
	uint8_t ikm[96];
	int rc;

	memcpy(ikm, eph_shared, 32);
	memcpy(ikm + 32, ident_shared, 32);
	memcpy(ikm + 64, adv_random, 32);
	rc = wa_hkdf_sha256(out, 32, ikm, sizeof(ikm), NULL, 0, (const uint8_t *)ADV_INFO,
			    strlen(ADV_INFO));
	wa_wipe(ikm, sizeof(ikm));
	return rc;
}

/* ---- off the loop ---- */

int wa_paircode_job_new(struct wa_paircode_job **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? Y_OK : Y_ENOMEM;
}

void wa_paircode_job_free(struct wa_paircode_job *j)
{
	if (!j)
		return;
	wa_wipe(j, sizeof(*j));
	free(j);
}

static void job_work(struct wa_work *w)
{
	struct wa_paircode_job *j = (struct wa_paircode_job *)((char *)w -
							       offsetof(struct wa_paircode_job, work));

	j->err = Y_OK;
	if (j->unwrap)
		j->err = wa_paircode_unwrap(j->unwrapped, j->code, j->wrapped_in);
	if (!j->err && j->wrap)
		j->err = wa_paircode_wrap(j->wrapped, j->code, j->pub, NULL, NULL);
}

static void job_done(struct wa_work *w)
{
	struct wa_paircode_job *j = (struct wa_paircode_job *)((char *)w -
							       offsetof(struct wa_paircode_job, work));

	if (!j->cancelled)
		j->cb(j, j->ud);
	wa_paircode_job_free(j);
}

int wa_paircode_job_start(struct wa_loop *l, struct wa_paircode_job *j,
			  void (*cb)(struct wa_paircode_job *j, void *ud), void *ud)
{
	if (!cb || (!j->wrap && !j->unwrap))
		return Y_EINVAL;
	j->cb = cb;
	j->ud = ud;
	j->work.work = job_work;
	j->work.done = job_done;
	return wa_loop_work(l, &j->work);
}

void wa_paircode_job_cancel(struct wa_paircode_job *j)
{
	if (j)
		j->cancelled = true;
}
