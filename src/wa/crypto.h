/*
 * Crypto helpers for the WhatsApp layers: thin wrappers over OpenSSL 3 EVP,
 * plus XEdDSA signatures through libsignal-protocol-c (whose crypto provider
 * we implement here over OpenSSL). No I/O, no allocation unless stated.
 *
 * All functions return 0 (Y_OK) or a negative Y_* code from util/err.h.
 * Pointers are borrowed for the duration of the call; output buffers are
 * owned by the caller and may not overlap inputs unless stated.
 * Keys are raw 32-byte Curve25519 values (no 0x05 type prefix).
 */
#ifndef YESAPP_WA_CRYPTO_H
#define YESAPP_WA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <signal/signal_protocol.h>

#define WA_KEY_LEN 32
#define WA_SIG_LEN 64
#define WA_GCM_TAG_LEN 16
#define WA_SHA256_LEN 32

/* A Curve25519 key pair. priv is clamped when generated here. */
struct wa_keypair {
	uint8_t pub[WA_KEY_LEN];
	uint8_t priv[WA_KEY_LEN];
};

/* Fills out with n bytes from OpenSSL's CSPRNG. */
int wa_crypto_random(uint8_t *out, size_t n);

/* A fresh key pair: 32 random bytes clamped (priv[0] &= 248, priv[31] &= 127,
 * priv[31] |= 64), pub = X25519(priv, 9). */
int wa_keypair_generate(struct wa_keypair *kp);
/* Fills kp from a given private key (copied as is, not clamped; X25519 clamps
 * internally when deriving pub). */
int wa_keypair_from_private(struct wa_keypair *kp, const uint8_t priv[WA_KEY_LEN]);

/* X25519 agreement. Fails with Y_ECRYPTO on an all-zero result (small-order
 * peer key). */
int wa_x25519(uint8_t out[WA_KEY_LEN], const uint8_t priv[WA_KEY_LEN],
	      const uint8_t pub[WA_KEY_LEN]);

/* XEdDSA (Signal's curve25519 signature) over msg with a Montgomery private
 * key, as libsignal's curve_calculate_signature. Randomized. */
int wa_xeddsa_sign(uint8_t sig[WA_SIG_LEN], const uint8_t priv[WA_KEY_LEN],
		   const uint8_t *msg, size_t len);
/* 0 if sig is a valid XEdDSA signature of msg under pub, else Y_ECRYPTO. */
int wa_xeddsa_verify(const uint8_t pub[WA_KEY_LEN], const uint8_t *msg, size_t len,
		     const uint8_t sig[WA_SIG_LEN]);

int wa_sha256(uint8_t out[WA_SHA256_LEN], const uint8_t *data, size_t len);
int wa_md5(uint8_t out[16], const uint8_t *data, size_t len);
int wa_hmac_sha256(uint8_t out[WA_SHA256_LEN], const uint8_t *key, size_t keylen,
		   const uint8_t *data, size_t len);
int wa_hmac_sha512(uint8_t out[64], const uint8_t *key, size_t keylen, const uint8_t *data,
		   size_t len);
/* HKDF-SHA256 (RFC 5869) extract-and-expand; salt may be NULL/0 (zeros). */
int wa_hkdf_sha256(uint8_t *out, size_t outlen, const uint8_t *ikm, size_t ikmlen,
		   const uint8_t *salt, size_t saltlen, const uint8_t *info, size_t infolen);
int wa_pbkdf2_sha256(uint8_t *out, size_t outlen, const uint8_t *pass, size_t passlen,
		     const uint8_t *salt, size_t saltlen, uint32_t iterations);

/* AES-256-GCM. Encrypt writes len + 16 bytes (ciphertext || tag) to out.
 * Decrypt takes ciphertext || tag (len >= 16), writes len - 16 bytes, and
 * fails with Y_ECRYPTO when the tag does not match (out is then zeroed). */
int wa_aes_gcm_encrypt(uint8_t *out, const uint8_t key[32], const uint8_t *iv, size_t ivlen,
		       const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len);
int wa_aes_gcm_decrypt(uint8_t *out, const uint8_t key[32], const uint8_t *iv, size_t ivlen,
		       const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len);

/* AES-256-CBC with PKCS#7 padding. *out is malloc'ed (caller frees).
 * Decrypt fails with Y_ECRYPTO on bad padding or a length not a multiple of
 * 16. */
int wa_aes_cbc_encrypt(uint8_t **out, size_t *outlen, const uint8_t key[32],
		       const uint8_t iv[16], const uint8_t *in, size_t len);
int wa_aes_cbc_decrypt(uint8_t **out, size_t *outlen, const uint8_t key[32],
		       const uint8_t iv[16], const uint8_t *in, size_t len);

/* AES-256-CTR (encrypt = decrypt) with a 16-byte initial counter block;
 * writes len bytes to out (out may equal in). */
int wa_aes_ctr(uint8_t *out, const uint8_t key[32], const uint8_t iv[16],
	       const uint8_t *in, size_t len);

/* Fills p with a libsignal crypto provider backed by OpenSSL (random,
 * HMAC-SHA256, SHA-512, AES-CTR / AES-CBC-PKCS5 for 128/192/256-bit keys). */
void wa_crypto_signal_provider(signal_crypto_provider *p);
/* A new signal_context with that provider (caller destroys it with
 * signal_context_destroy). */
int wa_crypto_signal_context_new(signal_context **out);

/* Compares n bytes in constant time: 0 if equal. */
int wa_memeq_ct(const void *a, const void *b, size_t n);
/* Zeroes memory in a way the compiler does not drop. */
void wa_wipe(void *p, size_t n);

#endif
