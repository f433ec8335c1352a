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
 * Keys are seeded and the rest of the randomness (XEdDSA nonces of the
 * chain) comes from fuzz_rand.h, so the genuine messages are the same in
 * every process. FUZZ_NOISE_WRITE_SEEDS=DIR fuzz_noise writes the seeds that
 * pass (responder_real, initiator_server_hello, cert_chain) into DIR and
 * exits; tests/fuzz/corpus/fuzz_noise/ holds them.
 *
 * Assertions (abort, a crash for libFuzzer):
 *   modes 2 and 3: a tampered message may be accepted only when it means the
 *     same as the genuine one. "The same" is decided on the decoded
 *     HandshakeMessage, not on bytes: the authenticated fields of the step
 *     (ServerHello: ephemeral, static, payload; ClientFinish: static,
 *     payload) must be present and byte-equal to the genuine ones. So
 *     re-encodings that protobuf accepts (a non-minimal varint, an unknown
 *     field, another top-level field such as a clientHello, a field repeated
 *     with the genuine value last) are allowed to pass; any change to an
 *     authenticated value (ciphertext, tag, ephemeral key, even its ignored
 *     top bit: the raw bytes are hashed) must be rejected. An accepted step
 *     must also yield the genuine peer key (mode 2: the server static; mode 3:
 *     the client noise key and the exact payload).
 *   mode 4: an accepted chain must carry the genuine certificate details
 *     (signatures may differ: XEdDSA signatures are randomised, though the
 *     fuzzer cannot make a new valid one).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/noise.h"
#include "wa/pb.h"
#include "wa.pb-c.h"
#include "fuzz_rand.h"

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

	fuzz_rand_reset(1);
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

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_noise: %s\n", what);
	abort();
}

static int same_bytes(protobuf_c_boolean ha, ProtobufCBinaryData a, protobuf_c_boolean hb,
		      ProtobufCBinaryData b)
{
	return ha && hb && a.len == b.len && (!a.len || !memcmp(a.data, b.data, a.len));
}

/* 1 when msg decodes to a HandshakeMessage whose authenticated fields of
 * one step (which: 3 serverHello, 4 clientFinish) equal genuine's. */
static int same_meaning(const uint8_t *genuine, size_t glen, const uint8_t *msg, size_t len,
			int which)
{
	ProtobufCMessage *pg = NULL, *pm = NULL;
	int same = 0;

	if (wa_pb_unpack(&wa__handshake_message__descriptor, genuine, glen, &pg))
		fail("genuine message does not decode");
	if (wa_pb_unpack(&wa__handshake_message__descriptor, msg, len, &pm) == Y_OK) {
		Wa__HandshakeMessage *g = (Wa__HandshakeMessage *)pg, *m = (Wa__HandshakeMessage *)pm;

		if (which == 3 && g->serverhello && m->serverhello) {
			Wa__HandshakeMessage__ServerHello *a = g->serverhello, *b = m->serverhello;

			same = same_bytes(a->has_ephemeral, a->ephemeral, b->has_ephemeral, b->ephemeral) &&
			       same_bytes(a->has_static_, a->static_, b->has_static_, b->static_) &&
			       same_bytes(a->has_payload, a->payload, b->has_payload, b->payload);
		} else if (which == 4 && g->clientfinish && m->clientfinish) {
			Wa__HandshakeMessage__ClientFinish *a = g->clientfinish, *b = m->clientfinish;

			same = same_bytes(a->has_static_, a->static_, b->has_static_, b->static_) &&
			       same_bytes(a->has_payload, a->payload, b->has_payload, b->payload);
		}
	}
	protobuf_c_message_free_unpacked(pg, NULL);
	if (pm)
		protobuf_c_message_free_unpacked(pm, NULL);
	return same;
}

/* 1 when a CertChain's two certificates carry the genuine details bytes. */
static int same_details(const uint8_t *c, size_t n)
{
	ProtobufCMessage *pg = NULL, *pm = NULL;
	int same = 0;

	if (wa_pb_unpack(&wa__cert_chain__descriptor, chain.data, chain.len, &pg))
		fail("genuine chain does not decode");
	if (wa_pb_unpack(&wa__cert_chain__descriptor, c, n, &pm) == Y_OK) {
		Wa__CertChain *g = (Wa__CertChain *)pg, *m = (Wa__CertChain *)pm;

		same = g->leaf && m->leaf && g->intermediate && m->intermediate &&
		       same_bytes(g->leaf->has_details, g->leaf->details, m->leaf->has_details,
				  m->leaf->details) &&
		       same_bytes(g->intermediate->has_details, g->intermediate->details,
				  m->intermediate->has_details, m->intermediate->details);
	}
	protobuf_c_message_free_unpacked(pg, NULL);
	if (pm)
		protobuf_c_message_free_unpacked(pm, NULL);
	return same;
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

static void put_chunk(FILE *f, const uint8_t *p, size_t n)
{
	uint8_t h[2] = { (uint8_t)(n >> 8), (uint8_t)n };

	fwrite(h, 1, 2, f);
	fwrite(p, 1, n, f);
}

/* Writes the seeds made of genuine messages (see the header). */
static void write_seeds(const char *dir)
{
	static const uint8_t intro[4] = { 'W', 'A', 6, 3 };
	struct wa_noise cl, sv;
	struct ybuf ch = YBUF_INIT(1 << 16), sh = YBUF_INIT(1 << 16), cf = YBUF_INIT(1 << 16);
	struct ybuf pl = YBUF_INIT(1 << 16), fr = YBUF_INIT(1 << 16);
	char path[512];
	FILE *f;

	wa_noise_init(&cl, WA_NOISE_INITIATOR, intro);
	wa_noise_init(&sv, WA_NOISE_RESPONDER, intro);
	wa_noise_set_ephemeral(&cl, &ce);
	wa_noise_set_ephemeral(&sv, &se);
	wa_noise_trust_root(&cl, root.pub);
	wa_noise_set_clock(&cl, NOW);
	if (wa_noise_client_hello(&cl, &ch) || wa_noise_read_client_hello(&sv, ch.data, ch.len) ||
	    wa_noise_server_hello(&sv, &st, chain.data, chain.len, &sh) ||
	    wa_noise_read_server_hello(&cl, sh.data, sh.len) ||
	    wa_noise_client_finish(&cl, &nk, (const uint8_t *)"payload", 7, &cf) ||
	    wa_noise_read_client_finish(&sv, cf.data, cf.len, &pl) ||
	    wa_noise_encrypt(&cl, (const uint8_t *)"frame", 5, &fr))
		fail("genuine handshake failed");
	snprintf(path, sizeof(path), "%s/responder_real", dir);
	if (!(f = fopen(path, "wb")))
		fail("cannot write seeds");
	fputc(0, f);
	put_chunk(f, ch.data, ch.len);
	put_chunk(f, cf.data, cf.len);
	put_chunk(f, fr.data, fr.len);
	fclose(f);
	snprintf(path, sizeof(path), "%s/initiator_server_hello", dir);
	if (!(f = fopen(path, "wb")))
		fail("cannot write seeds");
	fputc(1, f);
	put_chunk(f, sh.data, sh.len);
	fclose(f);
	snprintf(path, sizeof(path), "%s/cert_chain", dir);
	if (!(f = fopen(path, "wb")))
		fail("cannot write seeds");
	fputc(4, f);
	put_chunk(f, chain.data, chain.len);
	fclose(f);
	wa_noise_release(&cl);
	wa_noise_release(&sv);
	ybuf_release(&ch);
	ybuf_release(&sh);
	ybuf_release(&cf);
	ybuf_release(&pl);
	ybuf_release(&fr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_NOISE_WRITE_SEEDS");

	setup();
	if (dir) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t intro[4] = { 'W', 'A', 6, 3 };
	const uint8_t *p = data + 1, *end = data + size, *c;
	struct wa_noise cl, sv;
	struct ybuf a = YBUF_INIT(1 << 20), b = YBUF_INIT(1 << 20), t = YBUF_INIT(1 << 20);
	struct ybuf g = YBUF_INIT(1 << 20); /* the genuine message before tampering */
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
			ybuf_reset(&g);
			if (ybuf_append(&g, b.data, b.len))
				break;
			if (next(&p, end, &c, &n))
				xor_into(&b, c, n);
			if (wa_noise_read_server_hello(&cl, b.data, b.len) == Y_OK) {
				if (!same_meaning(g.data, g.len, b.data, b.len, 3))
					fail("a tampered ServerHello was accepted");
				if (memcmp(cl.remote_static, st.pub, WA_KEY_LEN))
					fail("an accepted ServerHello named another server key");
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
				if (ybuf_append(&g, a.data, a.len))
					break;
				if (next(&p, end, &c, &n))
					xor_into(&a, c, n);
				if (wa_noise_read_client_finish(&sv, a.data, a.len, &b) == Y_OK) {
					if (!same_meaning(g.data, g.len, a.data, a.len, 4))
						fail("a tampered ClientFinish was accepted");
					if (memcmp(sv.remote_static, nk.pub, WA_KEY_LEN) || b.len != 7 ||
					    memcmp(b.data, "payload", 7))
						fail("an accepted ClientFinish changed its key or payload");
					drain(&sv, &p, end, &t);
				}
			}
		}
		break;
	default:
		if (next(&p, end, &c, &n) &&
		    wa_noise_cert_chain_verify(c, n, st.pub, root.pub, NOW) == Y_OK &&
		    !same_details(c, n))
			fail("a chain with changed certificate details was accepted");
		break;
	}
	wa_noise_release(&cl);
	wa_noise_release(&sv);
	ybuf_release(&a);
	ybuf_release(&b);
	ybuf_release(&t);
	ybuf_release(&g);
	return 0;
}
