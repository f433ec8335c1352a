/* Known-answer tests for src/wa/crypto.c (RFC / NIST vectors) and XEdDSA. */
#include "test.h"
#include "util/err.h"
#include "wa/crypto.h"

/* Decodes hex into a fixed buffer; returns the length. */
static size_t hx(uint8_t *out, size_t cap, const char *hex)
{
	uint8_t *p = NULL;
	long n = test_unhex(hex, &p);

	if (n < 0 || (size_t)n > cap) {
		free(p);
		fprintf(stderr, "bad hex vector\n");
		abort();
	}
	memcpy(out, p, (size_t)n);
	free(p);
	return (size_t)n;
}

TEST(sha256_abc)
{
	uint8_t md[32], want[32];

	hx(want, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK_EQ_INT(wa_sha256(md, (const uint8_t *)"abc", 3), Y_OK);
	CHECK_MEM(md, want, 32);
}

TEST(hmac_rfc4231)
{
	uint8_t key[20], md[32], want[32];
	const char *jefe = "what do ya want for nothing?";

	memset(key, 0x0b, sizeof(key));
	hx(want, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	CHECK_EQ_INT(wa_hmac_sha256(md, key, 20, (const uint8_t *)"Hi There", 8), Y_OK);
	CHECK_MEM(md, want, 32);
	hx(want, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	CHECK_EQ_INT(wa_hmac_sha256(md, (const uint8_t *)"Jefe", 4, (const uint8_t *)jefe,
				    strlen(jefe)),
		     Y_OK);
	CHECK_MEM(md, want, 32);
}

TEST(hkdf_rfc5869_case1)
{
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	hx(salt, sizeof(salt), "000102030405060708090a0b0c");
	hx(info, sizeof(info), "f0f1f2f3f4f5f6f7f8f9");
	hx(want, sizeof(want),
	   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
	CHECK_EQ_INT(wa_hkdf_sha256(okm, 42, ikm, 22, salt, 13, info, 10), Y_OK);
	CHECK_MEM(okm, want, 42);
}

TEST(hkdf_rfc5869_case3_no_salt_no_info)
{
	uint8_t ikm[22], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	hx(want, sizeof(want),
	   "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
	CHECK_EQ_INT(wa_hkdf_sha256(okm, 42, ikm, 22, NULL, 0, NULL, 0), Y_OK);
	CHECK_MEM(okm, want, 42);
	CHECK_EQ_INT(wa_hkdf_sha256(okm, 0, ikm, 22, NULL, 0, NULL, 0), Y_EINVAL);
}

TEST(x25519_rfc7748)
{
	uint8_t k[32], u[32], out[32], want[32];
	struct wa_keypair a, b;
	uint8_t s1[32], s2[32];

	hx(k, 32, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
	hx(u, 32, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
	hx(want, 32, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	CHECK_EQ_INT(wa_x25519(out, k, u), Y_OK);
	CHECK_MEM(out, want, 32);

	hx(k, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	CHECK_EQ_INT(wa_keypair_from_private(&a, k), Y_OK);
	hx(want, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	CHECK_MEM(a.pub, want, 32);
	hx(k, 32, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	CHECK_EQ_INT(wa_keypair_from_private(&b, k), Y_OK);
	hx(want, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	CHECK_MEM(b.pub, want, 32);
	CHECK_EQ_INT(wa_x25519(s1, a.priv, b.pub), Y_OK);
	CHECK_EQ_INT(wa_x25519(s2, b.priv, a.pub), Y_OK);
	hx(want, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	CHECK_MEM(s1, want, 32);
	CHECK_MEM(s2, want, 32);
}

TEST(x25519_rejects_small_order_point)
{
	uint8_t zero[32] = {0}, out[32];
	struct wa_keypair a;

	CHECK_EQ_INT(wa_keypair_generate(&a), Y_OK);
	CHECK_EQ_INT(wa_x25519(out, a.priv, zero), Y_ECRYPTO);
}

TEST(keypair_is_clamped)
{
	for (int i = 0; i < 16; i++) {
		struct wa_keypair kp;
		CHECK_EQ_INT(wa_keypair_generate(&kp), Y_OK);
		CHECK_EQ_INT(kp.priv[0] & 7, 0);
		CHECK_EQ_INT(kp.priv[31] & 0xc0, 0x40);
	}
}

/* McGrew-Viega GCM test cases 13-16 (AES-256). */
TEST(gcm_mcgrew_viega)
{
	uint8_t key[32], iv[12], pt[64], aad[20], want[80], out[80], back[64];
	size_t ptlen, ctlen;

	memset(key, 0, 32);
	memset(iv, 0, 12);
	/* Case 13: empty plaintext. */
	hx(want, sizeof(want), "530f8afbc74536b9a963b4f1c4cb738b");
	CHECK_EQ_INT(wa_aes_gcm_encrypt(out, key, iv, 12, NULL, 0, NULL, 0), Y_OK);
	CHECK_MEM(out, want, 16);
	CHECK_EQ_INT(wa_aes_gcm_decrypt(back, key, iv, 12, NULL, 0, out, 16), Y_OK);
	/* Case 14. */
	memset(pt, 0, 16);
	hx(want, sizeof(want), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
	CHECK_EQ_INT(wa_aes_gcm_encrypt(out, key, iv, 12, NULL, 0, pt, 16), Y_OK);
	CHECK_MEM(out, want, 32);
	/* Case 15. */
	hx(key, 32, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
	hx(iv, 12, "cafebabefacedbaddecaf888");
	ptlen = hx(pt, sizeof(pt),
		   "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		   "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
	ctlen = hx(want, sizeof(want),
		   "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		   "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
		   "b094dac5d93471bdec1a502270e3cc6c");
	CHECK_EQ_INT(wa_aes_gcm_encrypt(out, key, iv, 12, NULL, 0, pt, ptlen), Y_OK);
	CHECK_MEM(out, want, ctlen);
	/* Case 16: AAD and a 60-byte plaintext. */
	hx(aad, 20, "feedfacedeadbeeffeedfacedeadbeefabaddad2");
	hx(want + 60, 20, "76fc6ece0f4e1768cddf8853bb2d551b");
	CHECK_EQ_INT(wa_aes_gcm_encrypt(out, key, iv, 12, aad, 20, pt, 60), Y_OK);
	CHECK_MEM(out, want, 76);
	CHECK_EQ_INT(wa_aes_gcm_decrypt(back, key, iv, 12, aad, 20, out, 76), Y_OK);
	CHECK_MEM(back, pt, 60);
	/* A flipped bit in ciphertext, tag or AAD fails. */
	out[3] ^= 1;
	CHECK_EQ_INT(wa_aes_gcm_decrypt(back, key, iv, 12, aad, 20, out, 76), Y_ECRYPTO);
	out[3] ^= 1;
	out[75] ^= 0x80;
	CHECK_EQ_INT(wa_aes_gcm_decrypt(back, key, iv, 12, aad, 20, out, 76), Y_ECRYPTO);
	out[75] ^= 0x80;
	aad[0] ^= 1;
	CHECK_EQ_INT(wa_aes_gcm_decrypt(back, key, iv, 12, aad, 20, out, 76), Y_ECRYPTO);
	CHECK_EQ_INT(wa_aes_gcm_decrypt(back, key, iv, 12, NULL, 0, out, 15), Y_ECRYPTO);
}

/* NIST SP 800-38A F.2.5 (CBC-AES256) and F.5.5 (CTR-AES256). */
static const char *sp800_key = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
static const char *sp800_pt = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
			      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

TEST(cbc_sp800_38a)
{
	uint8_t key[32], iv[16], pt[64], want[64];
	uint8_t *ct = NULL, *back = NULL;
	size_t ctlen = 0, backlen = 0;

	hx(key, 32, sp800_key);
	hx(iv, 16, "000102030405060708090a0b0c0d0e0f");
	hx(pt, 64, sp800_pt);
	hx(want, 64, "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
		     "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b");
	CHECK_EQ_INT(wa_aes_cbc_encrypt(&ct, &ctlen, key, iv, pt, 64), Y_OK);
	REQUIRE(ct != NULL);
	/* PKCS#7 adds one full block after the NIST blocks. */
	CHECK_EQ_INT(ctlen, 80);
	CHECK_MEM(ct, want, 64);
	CHECK_EQ_INT(wa_aes_cbc_decrypt(&back, &backlen, key, iv, ct, ctlen), Y_OK);
	CHECK_EQ_INT(backlen, 64);
	if (back)
		CHECK_MEM(back, pt, 64);
	free(back);
	back = NULL;
	/* Wrong length and corrupted padding are errors. */
	CHECK_EQ_INT(wa_aes_cbc_decrypt(&back, &backlen, key, iv, ct, 79), Y_ECRYPTO);
	CHECK_EQ_INT(wa_aes_cbc_decrypt(&back, &backlen, key, iv, ct, 64), Y_ECRYPTO);
	CHECK(back == NULL);
	free(ct);
}

TEST(ctr_sp800_38a)
{
	uint8_t key[32], iv[16], pt[64], want[64], out[64];

	hx(key, 32, sp800_key);
	hx(iv, 16, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
	hx(pt, 64, sp800_pt);
	hx(want, 64, "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
		     "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6");
	CHECK_EQ_INT(wa_aes_ctr(out, key, iv, pt, 64), Y_OK);
	CHECK_MEM(out, want, 64);
	CHECK_EQ_INT(wa_aes_ctr(out, key, iv, out, 64), Y_OK);
	CHECK_MEM(out, pt, 64);
}

/* RFC 7914 section 11 and the widely used RFC 6070-style SHA-256 vector. */
TEST(pbkdf2_sha256)
{
	uint8_t out[64], want[64];

	hx(want, 64, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
		     "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	CHECK_EQ_INT(wa_pbkdf2_sha256(out, 64, (const uint8_t *)"passwd", 6,
				      (const uint8_t *)"salt", 4, 1),
		     Y_OK);
	CHECK_MEM(out, want, 64);
	hx(want, 32, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
	CHECK_EQ_INT(wa_pbkdf2_sha256(out, 32, (const uint8_t *)"password", 8,
				      (const uint8_t *)"salt", 4, 4096),
		     Y_OK);
	CHECK_MEM(out, want, 32);
	CHECK_EQ_INT(wa_pbkdf2_sha256(out, 32, (const uint8_t *)"p", 1, NULL, 0, 0), Y_EINVAL);
}

TEST(xeddsa_round_trip)
{
	struct wa_keypair kp, other;
	uint8_t sig[64];
	const uint8_t msg[] = "message to sign";

	CHECK_EQ_INT(wa_keypair_generate(&kp), Y_OK);
	CHECK_EQ_INT(wa_keypair_generate(&other), Y_OK);
	CHECK_EQ_INT(wa_xeddsa_sign(sig, kp.priv, msg, sizeof(msg)), Y_OK);
	CHECK_EQ_INT(wa_xeddsa_verify(kp.pub, msg, sizeof(msg), sig), Y_OK);
	CHECK_EQ_INT(wa_xeddsa_verify(other.pub, msg, sizeof(msg), sig), Y_ECRYPTO);
	CHECK_EQ_INT(wa_xeddsa_verify(kp.pub, msg, sizeof(msg) - 1, sig), Y_ECRYPTO);
	sig[10] ^= 4;
	CHECK_EQ_INT(wa_xeddsa_verify(kp.pub, msg, sizeof(msg), sig), Y_ECRYPTO);
}

/* A signature made by Baileys 6.17.16 (Utils/crypto.js Curve.sign, i.e.
 * node libsignal's calculateSignature) over a fixed key and message. */
TEST(xeddsa_verifies_baileys_signature)
{
	uint8_t priv[32], pub[32], sig[64];
	struct wa_keypair kp;
	const char *msg = "yesapp xeddsa interop vector";

	hx(priv, 32, "a8abababababababababababababababababababababababababababababab6b");
	hx(pub, 32, "e3712d851a0e5d79b831c5e34ab22b41a198171de209b8b8faca23a11c624859");
	hx(sig, 64, "199ff37dde567dd8d28097e6783ca7178d072bbea5456d11730fbca91cf074d4"
		    "da3ac9983ecd4798a9beecdc85281b3bc4351a4255df1961406bb8ddf471e909");
	CHECK_EQ_INT(wa_keypair_from_private(&kp, priv), Y_OK);
	CHECK_MEM(kp.pub, pub, 32);
	CHECK_EQ_INT(wa_xeddsa_verify(pub, (const uint8_t *)msg, strlen(msg), sig), Y_OK);
	sig[63] ^= 0x01;
	CHECK_EQ_INT(wa_xeddsa_verify(pub, (const uint8_t *)msg, strlen(msg), sig), Y_ECRYPTO);
}

TEST(random_differs)
{
	uint8_t a[32], b[32];

	CHECK_EQ_INT(wa_crypto_random(a, 32), Y_OK);
	CHECK_EQ_INT(wa_crypto_random(b, 32), Y_OK);
	CHECK(memcmp(a, b, 32) != 0);
}

int main(void)
{
	RUN(sha256_abc);
	RUN(hmac_rfc4231);
	RUN(hkdf_rfc5869_case1);
	RUN(hkdf_rfc5869_case3_no_salt_no_info);
	RUN(x25519_rfc7748);
	RUN(x25519_rejects_small_order_point);
	RUN(keypair_is_clamped);
	RUN(gcm_mcgrew_viega);
	RUN(cbc_sp800_38a);
	RUN(ctr_sp800_38a);
	RUN(pbkdf2_sha256);
	RUN(xeddsa_round_trip);
	RUN(xeddsa_verifies_baileys_signature);
	RUN(random_differs);
	return test_summary();
}
