/*
 * Deterministic randomness for fuzz targets (a header, not a target: the
 * Makefile builds only tests/fuzz/fuzz_*.c). fuzz_rand_reset installs, in
 * place of OpenSSL's generator, a SHA-256 counter stream restarted from
 * `seed`. wa_crypto_random and libsignal's crypto provider both draw from
 * RAND_bytes, so every key, prekey, signature nonce and ratchet key made
 * after a reset is the same in every process: seeds written once keep
 * passing MACs and signatures, and a target that resets at the start of each
 * input gives every input the same fresh world.
 *
 * For fuzzing only: the stream is predictable by design.
 */
#ifndef YESAPP_FUZZ_RAND_H
#define YESAPP_FUZZ_RAND_H

#define OPENSSL_SUPPRESS_DEPRECATED /* RAND_set_rand_method is the only hook */
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

static uint64_t fuzz_rand_seed, fuzz_rand_ctr;

static int fuzz_rand_bytes(unsigned char *buf, int num)
{
	while (num > 0) {
		uint8_t in[16], out[SHA256_DIGEST_LENGTH];
		int n = num < (int)sizeof(out) ? num : (int)sizeof(out);

		memcpy(in, &fuzz_rand_seed, 8);
		memcpy(in + 8, &fuzz_rand_ctr, 8);
		fuzz_rand_ctr++;
		SHA256(in, sizeof(in), out);
		memcpy(buf, out, (size_t)n);
		buf += n;
		num -= n;
	}
	return 1;
}

static int fuzz_rand_status(void)
{
	return 1;
}

static const RAND_METHOD fuzz_rand_method = {
	NULL, fuzz_rand_bytes, NULL, NULL, fuzz_rand_bytes, fuzz_rand_status,
};

/* Restarts the stream; installs it on first use. */
static void fuzz_rand_reset(uint64_t seed)
{
	if (RAND_get_rand_method() != &fuzz_rand_method)
		RAND_set_rand_method(&fuzz_rand_method);
	fuzz_rand_seed = seed;
	fuzz_rand_ctr = 0;
}

#endif
