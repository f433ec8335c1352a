/* Tests for src/wa/noise.c (both roles in memory) and src/wa/payload.c. */
#include <stdio.h>

#include "test.h"
#include "vector.h"
#include "util/codec.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/noise.h"
#include "wa/payload.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

#define NOW 1800000000ull

/* test.h's REQUIRE evaluates its condition twice; this one evaluates a call
 * once and stops the test unless it returned Y_OK. */
#define REQUIRE_OK(expr) \
	do { \
		int req_rc_ = (expr); \
		CHECK_EQ_INT(req_rc_, Y_OK); \
		if (req_rc_) \
			return; \
	} while (0)

static const uint8_t intro3[4] = { 'W', 'A', 6, 3 };

/* A server identity: root -> intermediate -> leaf (= static key). */
struct server_keys {
	struct wa_keypair root, inter, st;
	struct ybuf chain;
};

static void seeded_keypair(struct wa_keypair *kp, uint8_t seed)
{
	uint8_t priv[32];

	for (int i = 0; i < 32; i++)
		priv[i] = (uint8_t)(seed * 31 + i * 7 + 1);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	if (wa_keypair_from_private(kp, priv))
		abort();
}

static void server_keys_init(struct server_keys *s, uint64_t nb, uint64_t na)
{
	struct wa_noise_cert_params p;

	seeded_keypair(&s->root, 1);
	seeded_keypair(&s->inter, 2);
	seeded_keypair(&s->st, 3);
	ybuf_init(&s->chain, 0);
	p.root_priv = s->root.priv;
	p.intermediate = &s->inter;
	p.intermediate_serial = 7;
	p.leaf_serial = 8;
	p.leaf_key = s->st.pub;
	p.not_before = nb;
	p.not_after = na;
	if (wa_noise_cert_chain_build(&p, &s->chain))
		abort();
}

/* Runs the handshake up to ServerHello; returns the ServerHello bytes in sh. */
static int run_to_server_hello(struct wa_noise *c, struct wa_noise *s, struct server_keys *k,
			       struct ybuf *sh)
{
	struct ybuf ch = YBUF_INIT(0);
	int rc;

	wa_noise_init(c, WA_NOISE_INITIATOR, intro3);
	wa_noise_init(s, WA_NOISE_RESPONDER, intro3);
	wa_noise_trust_root(c, k->root.pub);
	wa_noise_set_clock(c, NOW);
	rc = wa_noise_client_hello(c, &ch);
	if (!rc)
		rc = wa_noise_read_client_hello(s, ch.data, ch.len);
	if (!rc)
		rc = wa_noise_server_hello(s, &k->st, k->chain.data, k->chain.len, sh);
	ybuf_release(&ch);
	return rc;
}

TEST(handshake_and_transport_both_ways)
{
	struct server_keys k;
	struct wa_noise c, s;
	struct wa_keypair noise_key;
	struct ybuf sh = YBUF_INIT(0), cf = YBUF_INIT(0), got = YBUF_INIT(0);
	struct ybuf ct = YBUF_INIT(0), pt = YBUF_INIT(0);
	const char *payload = "client payload bytes \x01\x02\x00\xff";
	size_t plen = 25;

	server_keys_init(&k, NOW - 100, NOW + 100);
	seeded_keypair(&noise_key, 9);
	REQUIRE_OK(run_to_server_hello(&c, &s, &k, &sh));
	CHECK_EQ_INT(wa_noise_read_server_hello(&c, sh.data, sh.len), Y_OK);
	CHECK_MEM(c.remote_static, k.st.pub, 32);
	CHECK_EQ_INT(wa_noise_client_finish(&c, &noise_key, (const uint8_t *)payload, plen, &cf),
		     Y_OK);
	CHECK_EQ_INT(wa_noise_read_client_finish(&s, cf.data, cf.len, &got), Y_OK);
	CHECK_EQ_INT(got.len, plen);
	CHECK_MEM(got.data, payload, plen);
	CHECK_MEM(s.remote_static, noise_key.pub, 32);
	CHECK_EQ_INT(c.state, WA_NOISE_TRANSPORT);
	CHECK_EQ_INT(s.state, WA_NOISE_TRANSPORT);
	CHECK_MEM(c.wkey, s.rkey, 32);
	CHECK_MEM(c.rkey, s.wkey, 32);
	CHECK(memcmp(c.wkey, c.rkey, 32) != 0);

	/* Several frames each way; counters advance independently. */
	for (int i = 0; i < 5; i++) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "frame %d", i);

		ybuf_reset(&ct);
		ybuf_reset(&pt);
		CHECK_EQ_INT(wa_noise_encrypt(&c, (const uint8_t *)msg, (size_t)n, &ct), Y_OK);
		CHECK_EQ_INT(ct.len, (size_t)n + 16);
		CHECK_EQ_INT(wa_noise_decrypt(&s, ct.data, ct.len, &pt), Y_OK);
		CHECK_EQ_INT(pt.len, n);
		CHECK_MEM(pt.data, msg, (size_t)n);
	}
	for (int i = 0; i < 3; i++) {
		ybuf_reset(&ct);
		ybuf_reset(&pt);
		CHECK_EQ_INT(wa_noise_encrypt(&s, (const uint8_t *)"pong", 4, &ct), Y_OK);
		CHECK_EQ_INT(wa_noise_decrypt(&c, ct.data, ct.len, &pt), Y_OK);
		CHECK_EQ_INT(pt.len, 4);
	}
	/* An empty plaintext is fine (16-byte tag only). */
	ybuf_reset(&ct);
	CHECK_EQ_INT(wa_noise_encrypt(&c, NULL, 0, &ct), Y_OK);
	CHECK_EQ_INT(wa_noise_decrypt(&s, ct.data, ct.len, &pt), Y_OK);
	CHECK_EQ_INT(c.wn, 6);
	CHECK_EQ_INT(s.wn, 3);

	wa_noise_release(&c);
	wa_noise_release(&s);
	ybuf_release(&sh);
	ybuf_release(&cf);
	ybuf_release(&got);
	ybuf_release(&ct);
	ybuf_release(&pt);
	ybuf_release(&k.chain);
}

/* The transport IV is 8 zero bytes + BE32 counter and the AAD is empty:
 * decrypt the second client frame by hand with the derived key. */
TEST(transport_iv_layout)
{
	struct server_keys k;
	struct wa_noise c, s;
	struct wa_keypair nk;
	struct ybuf sh = YBUF_INIT(0), cf = YBUF_INIT(0), got = YBUF_INIT(0), ct = YBUF_INIT(0);
	uint8_t iv[12] = { 0 }, out[8];

	server_keys_init(&k, NOW - 1, NOW + 1);
	seeded_keypair(&nk, 4);
	REQUIRE_OK(run_to_server_hello(&c, &s, &k, &sh));
	REQUIRE_OK(wa_noise_read_server_hello(&c, sh.data, sh.len));
	REQUIRE_OK(wa_noise_client_finish(&c, &nk, (const uint8_t *)"p", 1, &cf));
	REQUIRE_OK(wa_noise_read_client_finish(&s, cf.data, cf.len, &got));
	CHECK_EQ_INT(wa_noise_encrypt(&c, (const uint8_t *)"12345678", 8, &ct), Y_OK);
	ybuf_reset(&ct);
	CHECK_EQ_INT(wa_noise_encrypt(&c, (const uint8_t *)"abcdefgh", 8, &ct), Y_OK);
	iv[11] = 1;
	CHECK_EQ_INT(wa_aes_gcm_decrypt(out, s.rkey, iv, 12, NULL, 0, ct.data, ct.len), Y_OK);
	CHECK_MEM(out, "abcdefgh", 8);
	wa_noise_release(&c);
	wa_noise_release(&s);
	ybuf_release(&sh);
	ybuf_release(&cf);
	ybuf_release(&got);
	ybuf_release(&ct);
	ybuf_release(&k.chain);
}

TEST(tampered_server_hello_rejected)
{
	struct server_keys k;
	struct ybuf sh = YBUF_INIT(0);
	int rejected = 0, tries = 0;

	server_keys_init(&k, NOW - 100, NOW + 100);
	/* Flip one bit at a spread of positions (ephemeral, static, payload). */
	for (size_t pos = 2; ; pos += 7) {
		struct wa_noise c, s;
		int rc;

		ybuf_reset(&sh);
		REQUIRE_OK(run_to_server_hello(&c, &s, &k, &sh));
		if (pos >= sh.len) {
			wa_noise_release(&c);
			wa_noise_release(&s);
			break;
		}
		sh.data[pos] ^= 0x10;
		rc = wa_noise_read_server_hello(&c, sh.data, sh.len);
		tries++;
		if (rc < 0 && c.state == WA_NOISE_FAILED)
			rejected++;
		else
			fprintf(stderr, "  flip at %zu accepted (rc %d)\n", pos, rc);
		wa_noise_release(&c);
		wa_noise_release(&s);
	}
	CHECK(tries > 20);
	CHECK_EQ_INT(rejected, tries);
	ybuf_release(&sh);
	ybuf_release(&k.chain);
}

TEST(tampered_client_finish_rejected)
{
	struct server_keys k;
	struct wa_keypair nk;
	struct ybuf sh = YBUF_INIT(0), cf = YBUF_INIT(0), got = YBUF_INIT(0);
	int tries = 0, rejected = 0;

	server_keys_init(&k, NOW - 100, NOW + 100);
	seeded_keypair(&nk, 5);
	for (size_t pos = 0; ; pos += 5) {
		struct wa_noise c, s;
		int rc;

		ybuf_reset(&sh);
		ybuf_reset(&cf);
		ybuf_reset(&got);
		REQUIRE_OK(run_to_server_hello(&c, &s, &k, &sh));
		REQUIRE_OK(wa_noise_read_server_hello(&c, sh.data, sh.len));
		REQUIRE_OK(wa_noise_client_finish(&c, &nk, (const uint8_t *)"payload!", 8, &cf));
		if (pos >= cf.len) {
			wa_noise_release(&c);
			wa_noise_release(&s);
			break;
		}
		cf.data[pos] ^= 0x01;
		rc = wa_noise_read_client_finish(&s, cf.data, cf.len, &got);
		tries++;
		if (rc < 0 && s.state == WA_NOISE_FAILED && got.len == 0)
			rejected++;
		/* A failed responder refuses transport. */
		CHECK_EQ_INT(wa_noise_encrypt(&s, (const uint8_t *)"x", 1, &got), Y_ESTATE);
		wa_noise_release(&c);
		wa_noise_release(&s);
	}
	CHECK(tries > 10);
	CHECK_EQ_INT(rejected, tries);
	ybuf_release(&sh);
	ybuf_release(&cf);
	ybuf_release(&got);
	ybuf_release(&k.chain);
}

TEST(tampered_or_replayed_transport_frame_rejected)
{
	struct server_keys k;
	struct wa_noise c, s;
	struct wa_keypair nk;
	struct ybuf sh = YBUF_INIT(0), cf = YBUF_INIT(0), got = YBUF_INIT(0);
	struct ybuf ct = YBUF_INIT(0), pt = YBUF_INIT(0);

	server_keys_init(&k, NOW - 100, NOW + 100);
	seeded_keypair(&nk, 6);
	REQUIRE_OK(run_to_server_hello(&c, &s, &k, &sh));
	REQUIRE_OK(wa_noise_read_server_hello(&c, sh.data, sh.len));
	REQUIRE_OK(wa_noise_client_finish(&c, &nk, (const uint8_t *)"p", 1, &cf));
	REQUIRE_OK(wa_noise_read_client_finish(&s, cf.data, cf.len, &got));

	CHECK_EQ_INT(wa_noise_encrypt(&s, (const uint8_t *)"hello", 5, &ct), Y_OK);
	ct.data[1] ^= 0x40;
	CHECK_EQ_INT(wa_noise_decrypt(&c, ct.data, ct.len, &pt), Y_ECRYPTO);
	CHECK_EQ_INT(pt.len, 0);
	/* Too short to hold a tag. */
	CHECK_EQ_INT(wa_noise_decrypt(&c, ct.data, 15, &pt), Y_ECRYPTO);
	/* A frame encrypted under a counter the reader has passed fails:
	 * replaying an accepted frame is rejected too. */
	ybuf_reset(&ct);
	CHECK_EQ_INT(wa_noise_encrypt(&c, (const uint8_t *)"once", 4, &ct), Y_OK);
	CHECK_EQ_INT(wa_noise_decrypt(&s, ct.data, ct.len, &pt), Y_OK);
	CHECK_EQ_INT(wa_noise_decrypt(&s, ct.data, ct.len, &pt), Y_ECRYPTO);
	/* A frame encrypted by the reader itself (wrong direction) fails. */
	ybuf_reset(&ct);
	CHECK_EQ_INT(wa_noise_encrypt(&c, (const uint8_t *)"dir", 3, &ct), Y_OK);
	CHECK_EQ_INT(wa_noise_decrypt(&c, ct.data, ct.len, &pt), Y_ECRYPTO);

	wa_noise_release(&c);
	wa_noise_release(&s);
	ybuf_release(&sh);
	ybuf_release(&cf);
	ybuf_release(&got);
	ybuf_release(&ct);
	ybuf_release(&pt);
	ybuf_release(&k.chain);
}

TEST(chain_from_other_root_rejected_unless_trusted)
{
	struct server_keys k;
	struct wa_noise c, s;
	struct ybuf sh = YBUF_INIT(0);

	server_keys_init(&k, NOW - 100, NOW + 100);
	/* Default trust: WhatsApp's root, which did not sign this chain. */
	REQUIRE_OK(run_to_server_hello(&c, &s, &k, &sh));
	wa_noise_trust_root(&c, wa_noise_wa_root_pub);
	CHECK_EQ_INT(wa_noise_read_server_hello(&c, sh.data, sh.len), Y_ECRYPTO);
	CHECK_EQ_INT(c.state, WA_NOISE_FAILED);
	wa_noise_release(&c);
	wa_noise_release(&s);

	/* A freshly initialised initiator trusts WhatsApp's root. */
	wa_noise_init(&c, WA_NOISE_INITIATOR, intro3);
	CHECK_MEM(c.root, wa_noise_wa_root_pub, 32);
	wa_noise_release(&c);

	/* The chain verifies against its own root only. */
	CHECK_EQ_INT(wa_noise_cert_chain_verify(k.chain.data, k.chain.len, k.st.pub, k.root.pub, NOW),
		     Y_OK);
	CHECK_EQ_INT(wa_noise_cert_chain_verify(k.chain.data, k.chain.len, k.st.pub,
						wa_noise_wa_root_pub, NOW),
		     Y_ECRYPTO);
	CHECK_EQ_INT(wa_noise_cert_chain_verify(k.chain.data, k.chain.len, k.st.pub, k.inter.pub,
						NOW),
		     Y_ECRYPTO);
	/* The leaf must carry the server's static key. */
	CHECK_EQ_INT(wa_noise_cert_chain_verify(k.chain.data, k.chain.len, k.root.pub, k.root.pub,
						NOW),
		     Y_ECRYPTO);
	ybuf_release(&sh);
	ybuf_release(&k.chain);
}

TEST(expired_or_future_chain_rejected)
{
	struct server_keys k;
	struct wa_noise c, s;
	struct ybuf sh = YBUF_INIT(0);

	server_keys_init(&k, NOW - 1000, NOW - 1);
	REQUIRE_OK(run_to_server_hello(&c, &s, &k, &sh));
	CHECK_EQ_INT(wa_noise_read_server_hello(&c, sh.data, sh.len), Y_ECRYPTO);
	wa_noise_release(&c);
	wa_noise_release(&s);
	CHECK_EQ_INT(wa_noise_cert_chain_verify(k.chain.data, k.chain.len, k.st.pub, k.root.pub,
						NOW - 500),
		     Y_OK);
	CHECK_EQ_INT(wa_noise_cert_chain_verify(k.chain.data, k.chain.len, k.st.pub, k.root.pub,
						NOW - 1001),
		     Y_ECRYPTO);
	ybuf_release(&k.chain);
	ybuf_release(&sh);

	server_keys_init(&k, NOW + 10, NOW + 1000);
	CHECK_EQ_INT(wa_noise_cert_chain_verify(k.chain.data, k.chain.len, k.st.pub, k.root.pub, NOW),
		     Y_ECRYPTO);
	ybuf_release(&k.chain);
}

/* Builds one signed certificate with arbitrary details. */
static void signed_cert(Wa__CertChain__NoiseCertificate *cert, struct ybuf *det, uint8_t sig[64],
			uint32_t serial, uint32_t issuer, const uint8_t *key,
			const uint8_t *signer_priv)
{
	Wa__CertChain__NoiseCertificate__Details d = WA__CERT_CHAIN__NOISE_CERTIFICATE__DETAILS__INIT;

	d.has_serial = d.has_issuerserial = d.has_key = d.has_notbefore = d.has_notafter = 1;
	d.serial = serial;
	d.issuerserial = issuer;
	d.key.data = (uint8_t *)key;
	d.key.len = 32;
	d.notbefore = NOW - 10;
	d.notafter = NOW + 10;
	if (wa_pb_pack(&d.base, det) || wa_xeddsa_sign(sig, signer_priv, det->data, det->len))
		abort();
	cert->has_details = cert->has_signature = 1;
	cert->details.data = det->data;
	cert->details.len = det->len;
	cert->signature.data = sig;
	cert->signature.len = 64;
}

static int verify_custom(uint32_t inter_serial, uint32_t inter_issuer, uint32_t leaf_issuer,
			 int drop_leaf)
{
	struct server_keys k;
	Wa__CertChain chain = WA__CERT_CHAIN__INIT;
	Wa__CertChain__NoiseCertificate leaf = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
	Wa__CertChain__NoiseCertificate inter = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
	struct ybuf d1 = YBUF_INIT(0), d2 = YBUF_INIT(0), out = YBUF_INIT(0);
	uint8_t s1[64], s2[64];
	int rc;

	server_keys_init(&k, 0, 0);
	signed_cert(&inter, &d1, s1, inter_serial, inter_issuer, k.inter.pub, k.root.priv);
	signed_cert(&leaf, &d2, s2, 99, leaf_issuer, k.st.pub, k.inter.priv);
	chain.intermediate = &inter;
	chain.leaf = drop_leaf ? NULL : &leaf;
	if (wa_pb_pack(&chain.base, &out))
		abort();
	rc = wa_noise_cert_chain_verify(out.data, out.len, k.st.pub, k.root.pub, NOW);
	ybuf_release(&d1);
	ybuf_release(&d2);
	ybuf_release(&out);
	ybuf_release(&k.chain);
	return rc;
}

TEST(chain_serial_rules)
{
	CHECK_EQ_INT(verify_custom(5, 0, 5, 0), Y_OK);
	/* The intermediate must be issued by serial 0 (the root). */
	CHECK_EQ_INT(verify_custom(5, 1, 5, 0), Y_ECRYPTO);
	/* The leaf must name the intermediate as its issuer. */
	CHECK_EQ_INT(verify_custom(5, 0, 6, 0), Y_ECRYPTO);
	/* Both certificates are required. */
	CHECK_EQ_INT(verify_custom(5, 0, 5, 1), Y_EINVAL);
	/* Garbage is an error, not a crash. */
	CHECK(wa_noise_cert_chain_verify((const uint8_t *)"\x0a\xff", 2, wa_noise_wa_root_pub,
					 wa_noise_wa_root_pub, NOW) < 0);
}

TEST(prologue_mismatch_fails)
{
	static const uint8_t intro2[4] = { 'W', 'A', 6, 2 };
	struct server_keys k;
	struct wa_noise c, s;
	struct ybuf ch = YBUF_INIT(0), sh = YBUF_INIT(0);

	server_keys_init(&k, NOW - 100, NOW + 100);
	wa_noise_init(&c, WA_NOISE_INITIATOR, intro3);
	wa_noise_init(&s, WA_NOISE_RESPONDER, intro2);
	wa_noise_trust_root(&c, k.root.pub);
	wa_noise_set_clock(&c, NOW);
	CHECK_EQ_INT(wa_noise_client_hello(&c, &ch), Y_OK);
	CHECK_EQ_INT(wa_noise_read_client_hello(&s, ch.data, ch.len), Y_OK);
	CHECK_EQ_INT(wa_noise_server_hello(&s, &k.st, k.chain.data, k.chain.len, &sh), Y_OK);
	CHECK_EQ_INT(wa_noise_read_server_hello(&c, sh.data, sh.len), Y_ECRYPTO);
	wa_noise_release(&c);
	wa_noise_release(&s);
	ybuf_release(&ch);
	ybuf_release(&sh);
	ybuf_release(&k.chain);
}

TEST(calls_out_of_order_are_state_errors)
{
	struct wa_noise c, s;
	struct ybuf b = YBUF_INIT(0);
	struct wa_keypair kp;

	seeded_keypair(&kp, 3);
	wa_noise_init(&c, WA_NOISE_INITIATOR, intro3);
	wa_noise_init(&s, WA_NOISE_RESPONDER, intro3);
	CHECK_EQ_INT(wa_noise_read_server_hello(&c, (const uint8_t *)"", 0), Y_ESTATE);
	CHECK_EQ_INT(wa_noise_client_finish(&c, &kp, NULL, 0, &b), Y_ESTATE);
	CHECK_EQ_INT(wa_noise_encrypt(&c, (const uint8_t *)"x", 1, &b), Y_ESTATE);
	CHECK_EQ_INT(wa_noise_decrypt(&c, (const uint8_t *)"x", 1, &b), Y_ESTATE);
	CHECK_EQ_INT(wa_noise_read_client_hello(&c, (const uint8_t *)"", 0), Y_ESTATE);
	CHECK_EQ_INT(wa_noise_client_hello(&s, &b), Y_ESTATE);
	CHECK_EQ_INT(wa_noise_server_hello(&s, &kp, NULL, 0, &b), Y_ESTATE);
	/* An empty ClientHello (no ephemeral) is malformed and fails the state. */
	CHECK_EQ_INT(wa_noise_read_client_hello(&s, (const uint8_t *)"", 0), Y_EINVAL);
	CHECK_EQ_INT(s.state, WA_NOISE_FAILED);
	CHECK_EQ_INT(wa_noise_read_client_hello(&s, (const uint8_t *)"", 0), Y_ESTATE);
	CHECK_EQ_INT(b.len, 0);
	wa_noise_release(&c);
	wa_noise_release(&s);
	ybuf_release(&b);
}

/* Decodes a ClientPayload with protobuf-c for field checks. */
static Wa__ClientPayload *decode_payload(struct ybuf *b)
{
	ProtobufCMessage *m = NULL;

	if (wa_pb_unpack(&wa__client_payload__descriptor, b->data, b->len, &m))
		return NULL;
	return (Wa__ClientPayload *)m;
}

TEST(registration_payload_fields)
{
	struct wa_keypair ident, spk;
	uint8_t sig[64], md5[16];
	struct wa_payload_reg reg = { 0 };
	struct ybuf b = YBUF_INIT(0), js = YBUF_INIT(0);
	Wa__ClientPayload *p;
	Wa__ClientPayload__DevicePairingRegistrationData *dp;

	seeded_keypair(&ident, 10);
	seeded_keypair(&spk, 11);
	memset(sig, 0x5a, sizeof(sig));
	reg.registration_id = 0x01020304;
	reg.identity_pub = ident.pub;
	reg.signed_prekey_id = 1;
	reg.signed_prekey_pub = spk.pub;
	reg.signed_prekey_sig = sig;
	CHECK_EQ_INT(wa_payload_registration(&reg, &b), Y_OK);
	p = decode_payload(&b);
	REQUIRE(p != NULL);
	CHECK(!p->has_username && !p->has_device);
	CHECK(p->has_passive && !p->passive && p->has_pull && !p->pull);
	CHECK(p->useragent && p->useragent->appversion);
	if (p->useragent && p->useragent->appversion) {
		CHECK_EQ_INT(p->useragent->appversion->primary, 2);
		CHECK_EQ_INT(p->useragent->appversion->secondary, 3000);
		CHECK_EQ_INT(p->useragent->appversion->tertiary, 1045649367);
		CHECK_EQ_INT(p->useragent->platform, WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB);
		CHECK_EQ_STR(p->useragent->device, "Desktop");
	}
	dp = p->devicepairingdata;
	REQUIRE(dp != NULL);
	CHECK_EQ_INT(dp->eregid.len, 4);
	CHECK_MEM(dp->eregid.data, "\x01\x02\x03\x04", 4);
	CHECK_EQ_INT(dp->ekeytype.len, 1);
	CHECK_EQ_INT(dp->ekeytype.data[0], 5);
	CHECK_EQ_INT(dp->eident.len, 32);
	CHECK_MEM(dp->eident.data, ident.pub, 32);
	CHECK_EQ_INT(dp->eskeyid.len, 3);
	CHECK_MEM(dp->eskeyid.data, "\x00\x00\x01", 3);
	CHECK_MEM(dp->eskeyval.data, spk.pub, 32);
	CHECK_MEM(dp->eskeysig.data, sig, 64);
	wa_md5(md5, (const uint8_t *)"2.3000.1045649367", 17);
	CHECK_EQ_INT(dp->buildhash.len, 16);
	CHECK_MEM(dp->buildhash.data, md5, 16);
	CHECK_EQ_INT(wa_payload_to_json(b.data, b.len, &js), Y_OK);
	CHECK(strstr((char *)js.data, "\"appVersion\":{\"primary\":2,\"secondary\":3000,"
				      "\"tertiary\":1045649367}") != NULL);
	CHECK(strstr((char *)js.data, "\"platform\":\"WEB\"") != NULL);
	CHECK(strstr((char *)js.data, "\"eSkeyId\":\"000001\"") != NULL);
	CHECK(strstr((char *)js.data, "\"buildHash\":\"9fa53af9421567b114e33c9bb1ef7db2\"") !=
	      NULL);
	CHECK(strstr((char *)js.data, "\"devicePropsDecoded\":{\"os\":\"YesApp\"") != NULL);
	CHECK(strstr((char *)js.data, "\"storageQuotaMb\":10240") != NULL);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	ybuf_release(&b);
	ybuf_release(&js);
}

TEST(login_payload_fields)
{
	struct ybuf b = YBUF_INIT(0), js = YBUF_INIT(0);
	Wa__ClientPayload *p;

	CHECK_EQ_INT(wa_payload_login(15550001111ull, 7, &b), Y_OK);
	p = decode_payload(&b);
	REQUIRE(p != NULL);
	CHECK(p->has_username && p->username == 15550001111ull);
	CHECK(p->has_device && p->device == 7);
	CHECK(p->has_passive && p->passive);
	CHECK(p->has_pull && p->pull);
	CHECK(p->has_liddbmigrated && p->liddbmigrated);
	CHECK(p->has_lc && p->lc == 1);
	CHECK(p->devicepairingdata == NULL);
	CHECK_EQ_INT(wa_payload_to_json(b.data, b.len, &js), Y_OK);
	CHECK(strstr((char *)js.data, "\"username\":15550001111") != NULL);
	CHECK(strstr((char *)js.data, "\"connectType\":\"WIFI_UNKNOWN\"") != NULL);
	CHECK(strstr((char *)js.data, "devicePropsDecoded") == NULL);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	ybuf_release(&b);
	ybuf_release(&js);
}

/* ---- The transcript vector from the Noise specification ----
 * tests/vectors/noise_xx.txt is computed by tests/vectors/noise_xx.mjs from
 * the Noise specification with node:crypto (tests/interop/noise-spec.mjs),
 * not from this code; both our roles replay it with its fixed keys. */

static void vec_keypair(const struct vec *v, const char *name, struct wa_keypair *kp)
{
	if (wa_keypair_from_private(kp, vec_get(v, name, NULL)))
		abort();
}

static uint64_t vec_now(const struct vec *v)
{
	const uint8_t *b = vec_get(v, "now", NULL);
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = t << 8 | b[i];
	return t;
}

TEST(spec_vector_replayed_by_both_roles)
{
	struct vec v;
	struct wa_noise c, s;
	struct wa_keypair ie, is, re, rs;
	struct ybuf m1 = YBUF_INIT(0), m2 = YBUF_INIT(0), m3 = YBUF_INIT(0);
	struct ybuf got = YBUF_INIT(0), ct = YBUF_INIT(0);
	const uint8_t *prologue, *cert, *payload, *msg2;
	size_t plen, clen, m2len;

	REQUIRE(vec_load(&v, "tests/vectors/noise_xx.txt") == 0);
	prologue = vec_get(&v, "prologue", NULL);
	cert = vec_get(&v, "cert_chain", &clen);
	payload = vec_get(&v, "client_payload", &plen);
	vec_keypair(&v, "initiator_ephemeral_priv", &ie);
	vec_keypair(&v, "initiator_static_priv", &is);
	vec_keypair(&v, "responder_ephemeral_priv", &re);
	vec_keypair(&v, "responder_static_priv", &rs);
	VEC_EQ(is.pub, 32, "initiator_static_pub");
	VEC_EQ(rs.pub, 32, "responder_static_pub");

	wa_noise_init(&c, WA_NOISE_INITIATOR, prologue);
	wa_noise_init(&s, WA_NOISE_RESPONDER, prologue);
	VEC_EQ(c.h, 32, "h_after_prologue");
	wa_noise_set_ephemeral(&c, &ie);
	wa_noise_set_ephemeral(&s, &re);
	wa_noise_trust_root(&c, vec_get(&v, "root_pub", NULL));
	wa_noise_set_clock(&c, vec_now(&v));

	/* -> e: WhatsApp hashes no empty payload here (the vector's h1), unlike
	 * the specification's literal §5.3 (h1_strict_spec). */
	CHECK_EQ_INT(wa_noise_client_hello(&c, &m1), Y_OK);
	VEC_EQ(m1.data, m1.len, "msg1");
	VEC_EQ(c.h, 32, "h1");
	CHECK(memcmp(c.h, vec_get(&v, "h1_strict_spec", NULL), 32) != 0);
	CHECK_EQ_INT(wa_noise_read_client_hello(&s, m1.data, m1.len), Y_OK);
	VEC_EQ(s.h, 32, "h1");

	/* <- e, ee, s, es with the certificate chain as payload */
	CHECK_EQ_INT(wa_noise_server_hello(&s, &rs, cert, clen, &m2), Y_OK);
	VEC_EQ(m2.data, m2.len, "msg2");
	VEC_EQ(s.h, 32, "h2");
	VEC_EQ(s.ck, 32, "ck2");
	msg2 = vec_get(&v, "msg2", &m2len);
	CHECK_EQ_INT(wa_noise_read_server_hello(&c, msg2, m2len), Y_OK);
	VEC_EQ(c.h, 32, "h2");
	VEC_EQ(c.ck, 32, "ck2");
	VEC_EQ(c.remote_static, 32, "responder_static_pub");

	/* -> s, se with the ClientPayload, then Split */
	CHECK_EQ_INT(wa_noise_client_finish(&c, &is, payload, plen, &m3), Y_OK);
	VEC_EQ(m3.data, m3.len, "msg3");
	VEC_EQ(c.h, 32, "h3");
	VEC_EQ(c.wkey, 32, "key_initiator_to_responder");
	VEC_EQ(c.rkey, 32, "key_responder_to_initiator");
	CHECK_EQ_INT(wa_noise_read_client_finish(&s, m3.data, m3.len, &got), Y_OK);
	VEC_EQ(got.data, got.len, "client_payload");
	VEC_EQ(s.remote_static, 32, "initiator_static_pub");
	VEC_EQ(s.rkey, 32, "key_initiator_to_responder");
	VEC_EQ(s.wkey, 32, "key_responder_to_initiator");

	/* first transport frame each way */
	CHECK_EQ_INT(wa_noise_encrypt(&c, (const uint8_t *)"ping", 4, &ct), Y_OK);
	VEC_EQ(ct.data, ct.len, "ping_ct");
	ybuf_reset(&ct);
	CHECK_EQ_INT(wa_noise_encrypt(&s, (const uint8_t *)"pong", 4, &ct), Y_OK);
	VEC_EQ(ct.data, ct.len, "pong_ct");

	wa_noise_release(&c);
	wa_noise_release(&s);
	ybuf_release(&m1);
	ybuf_release(&m2);
	ybuf_release(&m3);
	ybuf_release(&got);
	ybuf_release(&ct);
	vec_free(&v);
}

/* The vector's ServerHello with one flipped byte, or the right bytes under
 * another root or outside the validity window, must be refused: the replay
 * above is not vacuous. */
TEST(spec_vector_broken_inputs_fail)
{
	struct vec v;
	struct wa_keypair ie, other;
	const uint8_t *prologue, *msg2;
	size_t m2len;
	uint8_t *bad;
	int accepted = 0, tries = 0;

	REQUIRE(vec_load(&v, "tests/vectors/noise_xx.txt") == 0);
	prologue = vec_get(&v, "prologue", NULL);
	msg2 = vec_get(&v, "msg2", &m2len);
	vec_keypair(&v, "initiator_ephemeral_priv", &ie);
	vec_keypair(&v, "responder_ephemeral_priv", &other); /* any key but the root */
	bad = malloc(m2len);
	REQUIRE(bad != NULL);
	for (int mode = 0; mode < 4; mode++) {
		for (size_t pos = 4; pos < m2len; pos += (mode == 0 ? 5 : m2len)) {
			struct wa_noise c;
			struct ybuf m1 = YBUF_INIT(0);
			int rc;

			memcpy(bad, msg2, m2len);
			wa_noise_init(&c, WA_NOISE_INITIATOR, prologue);
			wa_noise_set_ephemeral(&c, &ie);
			wa_noise_trust_root(&c, mode == 1 ? other.pub : vec_get(&v, "root_pub", NULL));
			wa_noise_set_clock(&c, mode == 2 ? 1900000001 : mode == 3 ? 1699999999 : vec_now(&v));
			if (mode == 0)
				bad[pos] ^= 0x01;
			rc = wa_noise_client_hello(&c, &m1);
			if (!rc)
				rc = wa_noise_read_server_hello(&c, bad, m2len);
			tries++;
			if (rc == Y_OK) {
				accepted++;
				fprintf(stderr, "  mode %d flip %zu accepted\n", mode, pos);
			}
			wa_noise_release(&c);
			ybuf_release(&m1);
		}
	}
	CHECK(tries > 40);
	CHECK_EQ_INT(accepted, 0);
	free(bad);
	vec_free(&v);
}

int main(void)
{
	RUN(handshake_and_transport_both_ways);
	RUN(transport_iv_layout);
	RUN(tampered_server_hello_rejected);
	RUN(tampered_client_finish_rejected);
	RUN(tampered_or_replayed_transport_frame_rejected);
	RUN(chain_from_other_root_rejected_unless_trusted);
	RUN(expired_or_future_chain_rejected);
	RUN(chain_serial_rules);
	RUN(prologue_mismatch_fails);
	RUN(calls_out_of_order_are_state_errors);
	RUN(registration_payload_fields);
	RUN(login_payload_fields);
	RUN(spec_vector_replayed_by_both_roles);
	RUN(spec_vector_broken_inputs_fail);
	return test_summary();
}
