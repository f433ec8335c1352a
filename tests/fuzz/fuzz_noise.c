/*
 * libFuzzer target: the Noise responder and initiator fed arbitrary
 * handshake and transport bytes. Keys are fixed so runs are reproducible.
 * Input: 1 mode byte, then chunks of (2-byte big-endian length, bytes).
 *   mode 0: responder reads chunk 1 as ClientHello, answers, reads chunk 2
 *           as ClientFinish, decrypts the rest as transport frames.
 *   mode 1: initiator sends ClientHello, reads chunk 1 as ServerHello,
 *           finishes if that passed, decrypts the rest.
 *   mode 2: a real handshake up to ServerHello; chunk 1 is XORed into the
 *           ServerHello before the initiator reads it.
 *   mode 3: a real handshake up to ClientFinish; chunk 1 is XORed into it
 *           before the responder reads it; the rest are transport frames.
 *   mode 4: chunk 1 is a CertChain to verify against the fixed root.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/noise.h"

#define NOW 1800000000ull

static struct wa_keypair root, inter, st, ce, se, nk;
static struct ybuf chain = YBUF_INIT(0);
static int ready;

static void seeded(struct wa_keypair *kp, uint8_t seed)
{
	uint8_t priv[32];

	for (int i = 0; i < 32; i++)
		priv[i] = (uint8_t)(seed * 17 + i * 3 + 1);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	wa_keypair_from_private(kp, priv);
}

static void setup(void)
{
	struct wa_noise_cert_params p;

	seeded(&root, 1);
	seeded(&inter, 2);
	seeded(&st, 3);
	seeded(&ce, 4);
	seeded(&se, 5);
	seeded(&nk, 6);
	p.root_priv = root.priv;
	p.intermediate = &inter;
	p.intermediate_serial = 1;
	p.leaf_serial = 2;
	p.leaf_key = st.pub;
	p.not_before = NOW - 1000;
	p.not_after = NOW + 1000;
	wa_noise_cert_chain_build(&p, &chain);
	ready = 1;
}

/* Next chunk from the input; 0 when exhausted. */
static int next(const uint8_t **p, const uint8_t *end, const uint8_t **c, size_t *n)
{
	size_t len;

	if (end - *p < 2)
		return 0;
	len = ((size_t)(*p)[0] << 8) | (*p)[1];
	*p += 2;
	if (len > (size_t)(end - *p))
		len = (size_t)(end - *p);
	*c = *p;
	*n = len;
	*p += len;
	return 1;
}

static void xor_into(struct ybuf *b, const uint8_t *c, size_t n)
{
	for (size_t i = 0; i < n && i < b->len; i++)
		b->data[i] ^= c[i];
}

static void drain(struct wa_noise *nz, const uint8_t **p, const uint8_t *end, struct ybuf *tmp)
{
	const uint8_t *c;
	size_t n;

	while (next(p, end, &c, &n)) {
		ybuf_reset(tmp);
		wa_noise_decrypt(nz, c, n, tmp);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t intro[4] = { 'W', 'A', 6, 3 };
	const uint8_t *p = data + 1, *end = data + size, *c;
	struct wa_noise cl, sv;
	struct ybuf a = YBUF_INIT(1 << 20), b = YBUF_INIT(1 << 20), t = YBUF_INIT(1 << 20);
	size_t n;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	wa_noise_init(&cl, WA_NOISE_INITIATOR, intro);
	wa_noise_init(&sv, WA_NOISE_RESPONDER, intro);
	wa_noise_set_ephemeral(&cl, &ce);
	wa_noise_set_ephemeral(&sv, &se);
	wa_noise_trust_root(&cl, root.pub);
	wa_noise_set_clock(&cl, NOW);

	switch (data[0] % 5) {
	case 0:
		if (next(&p, end, &c, &n) && wa_noise_read_client_hello(&sv, c, n) == Y_OK &&
		    wa_noise_server_hello(&sv, &st, chain.data, chain.len, &a) == Y_OK &&
		    next(&p, end, &c, &n) && wa_noise_read_client_finish(&sv, c, n, &b) == Y_OK)
			drain(&sv, &p, end, &t);
		break;
	case 1:
		if (wa_noise_client_hello(&cl, &a) == Y_OK && next(&p, end, &c, &n) &&
		    wa_noise_read_server_hello(&cl, c, n) == Y_OK &&
		    wa_noise_client_finish(&cl, &nk, c, n, &b) == Y_OK)
			drain(&cl, &p, end, &t);
		break;
	case 2:
		if (wa_noise_client_hello(&cl, &a) == Y_OK &&
		    wa_noise_read_client_hello(&sv, a.data, a.len) == Y_OK &&
		    wa_noise_server_hello(&sv, &st, chain.data, chain.len, &b) == Y_OK) {
			if (next(&p, end, &c, &n))
				xor_into(&b, c, n);
			if (wa_noise_read_server_hello(&cl, b.data, b.len) == Y_OK) {
				ybuf_reset(&a);
				if (wa_noise_client_finish(&cl, &nk, (const uint8_t *)"x", 1, &a) == Y_OK)
					drain(&cl, &p, end, &t);
			}
		}
		break;
	case 3:
		if (wa_noise_client_hello(&cl, &a) == Y_OK &&
		    wa_noise_read_client_hello(&sv, a.data, a.len) == Y_OK &&
		    wa_noise_server_hello(&sv, &st, chain.data, chain.len, &b) == Y_OK &&
		    wa_noise_read_server_hello(&cl, b.data, b.len) == Y_OK) {
			ybuf_reset(&a);
			ybuf_reset(&b);
			if (wa_noise_client_finish(&cl, &nk, (const uint8_t *)"payload", 7, &a) == Y_OK) {
				if (next(&p, end, &c, &n))
					xor_into(&a, c, n);
				if (wa_noise_read_client_finish(&sv, a.data, a.len, &b) == Y_OK)
					drain(&sv, &p, end, &t);
			}
		}
		break;
	default:
		if (next(&p, end, &c, &n))
			wa_noise_cert_chain_verify(c, n, st.pub, root.pub, NOW);
		break;
	}
	wa_noise_release(&cl);
	wa_noise_release(&sv);
	ybuf_release(&a);
	ybuf_release(&b);
	ybuf_release(&t);
	return 0;
}
