/*
 * Crypto helpers over OpenSSL 3 EVP, and the libsignal crypto provider.
 * See crypto.h for the contract of each function.
 */
#include "wa/crypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <signal/curve.h>

#include "util/err.h"

int wa_memeq_ct(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) ? 1 : 0;
}

void wa_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

int wa_crypto_random(uint8_t *out, size_t n)
{
	if (n > INT32_MAX)
		return Y_EINVAL;
	if (n == 0)
		return Y_OK;
	return RAND_bytes(out, (int)n) == 1 ? Y_OK : Y_ECRYPTO;
}

/* ---- Curve25519 ---- */

int wa_keypair_from_private(struct wa_keypair *kp, const uint8_t priv[WA_KEY_LEN])
{
	EVP_PKEY *pk;
	size_t publen = WA_KEY_LEN;
	int rc = Y_ECRYPTO;

	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WA_KEY_LEN);
	if (!pk)
		return Y_ECRYPTO;
	if (EVP_PKEY_get_raw_public_key(pk, kp->pub, &publen) == 1 && publen == WA_KEY_LEN) {
		memmove(kp->priv, priv, WA_KEY_LEN);
		rc = Y_OK;
	}
	EVP_PKEY_free(pk);
	return rc;
}

int wa_keypair_generate(struct wa_keypair *kp)
{
	uint8_t priv[WA_KEY_LEN];
	int rc;

	rc = wa_crypto_random(priv, sizeof(priv));
	if (rc)
		return rc;
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
	rc = wa_keypair_from_private(kp, priv);
	wa_wipe(priv, sizeof(priv));
	return rc;
}

int wa_x25519(uint8_t out[WA_KEY_LEN], const uint8_t priv[WA_KEY_LEN],
	      const uint8_t pub[WA_KEY_LEN])
{
	EVP_PKEY *me = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t outlen = WA_KEY_LEN;
	static const uint8_t zero[WA_KEY_LEN];
	int rc = Y_ECRYPTO;

	me = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WA_KEY_LEN);
	peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, WA_KEY_LEN);
	if (!me || !peer)
		goto out;
	ctx = EVP_PKEY_CTX_new(me, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1)
		goto out;
	if (EVP_PKEY_derive(ctx, out, &outlen) != 1 || outlen != WA_KEY_LEN)
		goto out;
	/* OpenSSL already rejects an all-zero secret; keep the check explicit. */
	if (!wa_memeq_ct(out, zero, WA_KEY_LEN))
		goto out;
	rc = Y_OK;
out:
	if (rc)
		wa_wipe(out, WA_KEY_LEN);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(me);
	EVP_PKEY_free(peer);
	return rc;
}

/* ---- Hashes, MACs, KDFs ---- */

static int digest(const char *name, uint8_t *out, unsigned want, const uint8_t *data, size_t len)
{
	unsigned n = 0;
	int ok;
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);

	if (!md)
		return Y_ECRYPTO;
	ok = EVP_Digest(data, len, out, &n, md, NULL) == 1 && n == want;
	EVP_MD_free(md);
	return ok ? Y_OK : Y_ECRYPTO;
}

int wa_sha256(uint8_t out[WA_SHA256_LEN], const uint8_t *data, size_t len)
{
	return digest("SHA256", out, WA_SHA256_LEN, data, len);
}

int wa_md5(uint8_t out[16], const uint8_t *data, size_t len)
{
	return digest("MD5", out, 16, data, len);
}

int wa_hmac_sha256(uint8_t out[WA_SHA256_LEN], const uint8_t *key, size_t keylen,
		   const uint8_t *data, size_t len)
{
	size_t n = 0;
	static const uint8_t nokey[1];

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, keylen ? key : nokey, keylen, data,
		       len, out, WA_SHA256_LEN, &n) || n != WA_SHA256_LEN)
		return Y_ECRYPTO;
	return Y_OK;
}

int wa_hmac_sha512(uint8_t out[64], const uint8_t *key, size_t keylen, const uint8_t *data,
		   size_t len)
{
	size_t n = 0;
	static const uint8_t nokey[1];

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA512", NULL, keylen ? key : nokey, keylen, data,
		       len, out, 64, &n) || n != 64)
		return Y_ECRYPTO;
	return Y_OK;
}

int wa_hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *ikm, size_t ikmlen,
		   const uint8_t *salt, size_t saltlen, const uint8_t *info, size_t infolen)
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *ctx;
	OSSL_PARAM params[5], *p = params;
	static uint8_t empty[1];
	uint8_t zsalt[WA_SHA256_LEN] = {0};
	int rc = Y_ECRYPTO;

	if (outlen == 0 || outlen > 255 * WA_SHA256_LEN)
		return Y_EINVAL;
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		return Y_ECRYPTO;
	ctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!ctx)
		return Y_ECRYPTO;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 ikmlen ? (void *)ikm : empty, ikmlen);
	if (saltlen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
							 saltlen);
	else
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, zsalt,
							 sizeof(zsalt));
	if (infolen)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
							 infolen);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, outlen, params) == 1)
		rc = Y_OK;
	EVP_KDF_CTX_free(ctx);
	return rc;
}

int wa_pbkdf2_sha256(uint8_t *out, size_t outlen, const uint8_t *pass, size_t passlen,
		     const uint8_t *salt, size_t saltlen, uint32_t iterations)
{
	static const uint8_t empty[1];

	if (iterations == 0 || iterations > INT32_MAX || passlen > INT32_MAX ||
	    saltlen > INT32_MAX || outlen > INT32_MAX)
		return Y_EINVAL;
	if (PKCS5_PBKDF2_HMAC((const char *)(passlen ? pass : empty), (int)passlen,
			      saltlen ? salt : empty, (int)saltlen, (int)iterations,
			      EVP_sha256(), (int)outlen, out) != 1)
		return Y_ECRYPTO;
	return Y_OK;
}

/* ---- AES ---- */

int wa_aes_gcm_encrypt(uint8_t *out, const uint8_t key[32], const uint8_t *iv, size_t ivlen,
		       const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len)
{
	EVP_CIPHER_CTX *c;
	int n, rc = Y_ECRYPTO;

	if (len > INT32_MAX - 32 || aadlen > INT32_MAX || ivlen == 0 || ivlen > 64)
		return Y_EINVAL;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return Y_ENOMEM;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, key, iv) != 1)
		goto out;
	if (aadlen && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len && EVP_EncryptUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(c, out + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, WA_GCM_TAG_LEN, out + len) != 1)
		goto out;
	rc = Y_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int wa_aes_gcm_decrypt(uint8_t *out, const uint8_t key[32], const uint8_t *iv, size_t ivlen,
		       const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len)
{
	EVP_CIPHER_CTX *c;
	uint8_t tag[WA_GCM_TAG_LEN];
	size_t ctlen;
	int n, rc = Y_ECRYPTO;

	if (len < WA_GCM_TAG_LEN)
		return Y_ECRYPTO;
	if (len > INT32_MAX || aadlen > INT32_MAX || ivlen == 0 || ivlen > 64)
		return Y_EINVAL;
	ctlen = len - WA_GCM_TAG_LEN;
	memcpy(tag, in + ctlen, WA_GCM_TAG_LEN);
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return Y_ENOMEM;
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) != 1 ||
	    EVP_DecryptInit_ex(c, NULL, NULL, key, iv) != 1)
		goto out;
	if (aadlen && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (ctlen && EVP_DecryptUpdate(c, out, &n, in, (int)ctlen) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, WA_GCM_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(c, out + ctlen, &n) != 1)
		goto out;
	rc = Y_OK;
out:
	if (rc && ctlen)
		wa_wipe(out, ctlen);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* One-shot AES in a given EVP mode; padding on/off. *out is malloc'ed. */
static int aes_oneshot(uint8_t **out, size_t *outlen, const EVP_CIPHER *cipher, int enc,
		       int pad, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
		       size_t len)
{
	EVP_CIPHER_CTX *c;
	uint8_t *buf;
	int n1 = 0, n2 = 0, rc = Y_ECRYPTO;

	*out = NULL;
	*outlen = 0;
	if (len > INT32_MAX - 32)
		return Y_EINVAL;
	buf = malloc(len + 32);
	if (!buf)
		return Y_ENOMEM;
	c = EVP_CIPHER_CTX_new();
	if (!c) {
		free(buf);
		return Y_ENOMEM;
	}
	if (EVP_CipherInit_ex(c, cipher, NULL, key, iv, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, pad) != 1)
		goto out;
	if (len && EVP_CipherUpdate(c, buf, &n1, in, (int)len) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, buf + n1, &n2) != 1)
		goto out;
	*out = buf;
	*outlen = (size_t)n1 + (size_t)n2;
	buf = NULL;
	rc = Y_OK;
out:
	if (buf) {
		wa_wipe(buf, len + 32);
		free(buf);
	}
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int wa_aes_cbc_encrypt(uint8_t **out, size_t *outlen, const uint8_t key[32],
		       const uint8_t iv[16], const uint8_t *in, size_t len)
{
	return aes_oneshot(out, outlen, EVP_aes_256_cbc(), 1, 1, key, iv, in, len);
}

int wa_aes_cbc_decrypt(uint8_t **out, size_t *outlen, const uint8_t key[32],
		       const uint8_t iv[16], const uint8_t *in, size_t len)
{
	if (len == 0 || len % 16) {
		*out = NULL;
		*outlen = 0;
		return Y_ECRYPTO;
	}
	return aes_oneshot(out, outlen, EVP_aes_256_cbc(), 0, 1, key, iv, in, len);
}

int wa_aes_ctr(uint8_t *out, const uint8_t key[32], const uint8_t iv[16],
	       const uint8_t *in, size_t len)
{
	EVP_CIPHER_CTX *c;
	int n, rc = Y_ECRYPTO;

	if (len > INT32_MAX)
		return Y_EINVAL;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return Y_ENOMEM;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, key, iv) != 1)
		goto out;
	if (len && EVP_EncryptUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	rc = Y_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* ---- libsignal crypto provider ---- */

static int sp_random(uint8_t *data, size_t len, void *user)
{
	return wa_crypto_random(data, len) ? SG_ERR_UNKNOWN : 0;
}

static int sp_hmac_init(void **ctx, const uint8_t *key, size_t keylen, void *user)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];
	static const uint8_t nokey[1];

	EVP_MAC_free(mac);
	if (!c)
		return SG_ERR_NOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(c, keylen ? key : nokey, keylen, params) != 1) {
		EVP_MAC_CTX_free(c);
		return SG_ERR_UNKNOWN;
	}
	*ctx = c;
	return 0;
}

static int sp_hmac_update(void *ctx, const uint8_t *data, size_t len, void *user)
{
	return EVP_MAC_update(ctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int sp_hmac_final(void *ctx, signal_buffer **output, void *user)
{
	uint8_t md[WA_SHA256_LEN];
	size_t n = 0;

	if (EVP_MAC_final(ctx, md, &n, sizeof(md)) != 1 || n != sizeof(md))
		return SG_ERR_UNKNOWN;
	*output = signal_buffer_create(md, n);
	wa_wipe(md, sizeof(md)); /* ratchet chain and message keys */
	return *output ? 0 : SG_ERR_NOMEM;
}

static void sp_hmac_cleanup(void *ctx, void *user)
{
	EVP_MAC_CTX_free(ctx);
}

static int sp_sha512_init(void **ctx, void *user)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c)
		return SG_ERR_NOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha512(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return SG_ERR_UNKNOWN;
	}
	*ctx = c;
	return 0;
}

static int sp_sha512_update(void *ctx, const uint8_t *data, size_t len, void *user)
{
	return EVP_DigestUpdate(ctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int sp_sha512_final(void *ctx, signal_buffer **output, void *user)
{
	uint8_t md[64];
	unsigned n = 0;
	int rc = SG_ERR_UNKNOWN;

	if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != sizeof(md))
		goto out;
	/* The provider contract: leave the context ready for reuse. */
	if (EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) != 1)
		goto out;
	*output = signal_buffer_create(md, n);
	rc = *output ? 0 : SG_ERR_NOMEM;
out:
	wa_wipe(md, sizeof(md)); /* XEdDSA hashes the private key into its nonce here */
	return rc;
}

static void sp_sha512_cleanup(void *ctx, void *user)
{
	EVP_MD_CTX_free(ctx);
}

static const EVP_CIPHER *sp_cipher(int cipher, size_t keylen)
{
	if (cipher == SG_CIPHER_AES_CBC_PKCS5) {
		if (keylen == 16)
			return EVP_aes_128_cbc();
		if (keylen == 24)
			return EVP_aes_192_cbc();
		if (keylen == 32)
			return EVP_aes_256_cbc();
	} else if (cipher == SG_CIPHER_AES_CTR_NOPADDING) {
		if (keylen == 16)
			return EVP_aes_128_ctr();
		if (keylen == 24)
			return EVP_aes_192_ctr();
		if (keylen == 32)
			return EVP_aes_256_ctr();
	}
	return NULL;
}

static int sp_crypt(signal_buffer **output, int cipher, int enc, const uint8_t *key,
		    size_t keylen, const uint8_t *iv, size_t ivlen, const uint8_t *in, size_t len)
{
	const EVP_CIPHER *ev = sp_cipher(cipher, keylen);
	uint8_t *out = NULL;
	size_t outlen = 0;
	int rc;

	if (!ev || ivlen != 16)
		return SG_ERR_UNKNOWN;
	rc = aes_oneshot(&out, &outlen, ev, enc, cipher == SG_CIPHER_AES_CBC_PKCS5, key, iv, in,
			 len);
	if (rc)
		return rc == Y_ENOMEM ? SG_ERR_NOMEM : SG_ERR_UNKNOWN;
	*output = signal_buffer_create(out, outlen);
	wa_wipe(out, outlen);
	free(out);
	return *output ? 0 : SG_ERR_NOMEM;
}

static int sp_encrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t keylen,
		      const uint8_t *iv, size_t ivlen, const uint8_t *pt, size_t ptlen, void *user)
{
	return sp_crypt(output, cipher, 1, key, keylen, iv, ivlen, pt, ptlen);
}

static int sp_decrypt(signal_buffer **output, int cipher, const uint8_t *key, size_t keylen,
		      const uint8_t *iv, size_t ivlen, const uint8_t *ct, size_t ctlen, void *user)
{
	return sp_crypt(output, cipher, 0, key, keylen, iv, ivlen, ct, ctlen);
}

void wa_crypto_signal_provider(signal_crypto_provider *p)
{
	memset(p, 0, sizeof(*p));
	p->random_func = sp_random;
	p->hmac_sha256_init_func = sp_hmac_init;
	p->hmac_sha256_update_func = sp_hmac_update;
	p->hmac_sha256_final_func = sp_hmac_final;
	p->hmac_sha256_cleanup_func = sp_hmac_cleanup;
	p->sha512_digest_init_func = sp_sha512_init;
	p->sha512_digest_update_func = sp_sha512_update;
	p->sha512_digest_final_func = sp_sha512_final;
	p->sha512_digest_cleanup_func = sp_sha512_cleanup;
	p->encrypt_func = sp_encrypt;
	p->decrypt_func = sp_decrypt;
}

int wa_crypto_signal_context_new(signal_context **out)
{
	signal_crypto_provider p;
	signal_context *ctx = NULL;

	*out = NULL;
	if (signal_context_create(&ctx, NULL) != 0)
		return Y_ENOMEM;
	wa_crypto_signal_provider(&p);
	if (signal_context_set_crypto_provider(ctx, &p) != 0) {
		signal_context_destroy(ctx);
		return Y_ECRYPTO;
	}
	*out = ctx;
	return Y_OK;
}

/* ---- XEdDSA through libsignal ---- */

/* One process-wide context for signing (libsignal only reads it; its
 * provider callbacks are thread-safe). Never destroyed. */
static signal_context *xed_ctx;
static pthread_once_t xed_once = PTHREAD_ONCE_INIT;

static void xed_init(void)
{
	if (wa_crypto_signal_context_new(&xed_ctx))
		xed_ctx = NULL;
}

int wa_xeddsa_sign(uint8_t sig[WA_SIG_LEN], const uint8_t priv[WA_KEY_LEN],
		   const uint8_t *msg, size_t len)
{
	ec_private_key *key = NULL;
	signal_buffer *s = NULL;
	int rc = Y_ECRYPTO;

	pthread_once(&xed_once, xed_init);
	if (!xed_ctx)
		return Y_ENOMEM;
	if (curve_decode_private_point(&key, priv, WA_KEY_LEN, xed_ctx) != 0)
		goto out;
	if (curve_calculate_signature(xed_ctx, &s, key, msg, len) != 0 ||
	    signal_buffer_len(s) != WA_SIG_LEN)
		goto out;
	memcpy(sig, signal_buffer_data(s), WA_SIG_LEN);
	rc = Y_OK;
out:
	signal_buffer_free(s);
	if (key)
		SIGNAL_UNREF(key);
	return rc;
}

int wa_xeddsa_verify(const uint8_t pub[WA_KEY_LEN], const uint8_t *msg, size_t len,
		     const uint8_t sig[WA_SIG_LEN])
{
	ec_public_key *key = NULL;
	uint8_t enc[1 + WA_KEY_LEN];
	int rc;

	pthread_once(&xed_once, xed_init);
	if (!xed_ctx)
		return Y_ENOMEM;
	enc[0] = 0x05; /* DJB key type */
	memcpy(enc + 1, pub, WA_KEY_LEN);
	if (curve_decode_point(&key, enc, sizeof(enc), xed_ctx) != 0)
		return Y_ECRYPTO;
	rc = curve_verify_signature(key, msg, len, sig, WA_SIG_LEN);
	if (key)
		SIGNAL_UNREF(key);
	return rc == 1 ? Y_OK : Y_ECRYPTO;
}
