/*
 * Unit tests for src/wa/signal.{h,c} and src/wa/signal_store.{h,c}: two C
 * endpoints (alice, bob) over in-memory stores exchange pairwise and group
 * messages; bad input is rejected with the documented codes.
 */
#include "test.h"

#include "util/err.h"
#include "wa/crypto.h"
#include "wa/signal.h"
#include "wa/signal_store.h"

#define NPREKEYS 5

struct peer {
	struct wa_signal_identity id;
	struct wa_signal_store *store;
	struct wa_signal *s;
	struct wa_signal_addr addr; /* how the other side names this peer */
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey pks[NPREKEYS];
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* Deterministic test data (xorshift64*). */
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static int peer_init(struct peer *p, const char *user, uint32_t device)
{
	memset(p, 0, sizeof *p);
	if (wa_signal_identity_generate(&p->id))
		return -1;
	p->store = wa_signal_memstore_new();
	if (!p->store)
		return -1;
	p->s = wa_signal_new(&p->id, p->store);
	if (!p->s)
		return -1;
	if (wa_signal_address(&p->addr, user, "s.whatsapp.net", 0, device, WA_SIGNAL_ADDR_DOMAIN))
		return -1;
	if (wa_signal_gen_signed_prekey(p->s, 1, &p->spk))
		return -1;
	return wa_signal_gen_prekeys(p->s, 1, NPREKEYS, p->pks) ? -1 : 0;
}

static void peer_release(struct peer *p)
{
	wa_signal_free(p->s);
	wa_signal_store_free(p->store);
}

/* Encrypts pt from a to b and decrypts it at b; returns the type used, or a negative code. */
static int send_one(struct peer *a, struct peer *b, const uint8_t *pt, size_t n)
{
	enum wa_signal_type t;
	uint8_t *ct = NULL, *out = NULL;
	size_t ctn = 0, outn = 0;
	int rc = wa_signal_encrypt(a->s, &b->addr, pt, n, &t, &ct, &ctn);

	if (rc)
		return rc;
	rc = wa_signal_decrypt(b->s, &a->addr, t, ct, ctn, &out, &outn);
	if (!rc && (outn != n || memcmp(out, pt, n)))
		rc = -100;
	free(ct);
	free(out);
	return rc ? rc : (int)t;
}

/* alice builds a session from bob's bundle with prekey 1. */
static int connect_peers(struct peer *alice, struct peer *bob)
{
	struct wa_signal_bundle b;
	int rc = wa_signal_own_bundle(bob->s, 1, bob->pks[0].id, &b);

	return rc ? rc : wa_signal_session_from_bundle(alice->s, &bob->addr, &b);
}

TEST(address_naming)
{
	struct wa_signal_addr a;

	CHECK_EQ_INT(wa_signal_address(&a, "1234", "s.whatsapp.net", 0, 3, WA_SIGNAL_ADDR_DOMAIN), 0);
	CHECK_EQ_STR(a.name, "1234");
	CHECK_EQ_INT(a.device, 3);
	CHECK_EQ_INT(wa_signal_address(&a, "1234", "lid", 0, 0, WA_SIGNAL_ADDR_DOMAIN), 0);
	CHECK_EQ_STR(a.name, "1234_1");
	CHECK_EQ_INT(wa_signal_address(&a, "1234", "hosted", 0, 99, WA_SIGNAL_ADDR_DOMAIN), 0);
	CHECK_EQ_STR(a.name, "1234_128");
	CHECK_EQ_INT(wa_signal_address(&a, "1234", "hosted.lid", 0, 99, WA_SIGNAL_ADDR_DOMAIN), 0);
	CHECK_EQ_STR(a.name, "1234_129");
	CHECK_EQ_INT(wa_signal_address(&a, "1234", "msgr", 7, 0, WA_SIGNAL_ADDR_DOMAIN), 0);
	CHECK_EQ_STR(a.name, "1234_7");
	CHECK_EQ_INT(wa_signal_address(&a, "1234", "lid", 0, 2, WA_SIGNAL_ADDR_USER_ONLY), 0);
	CHECK_EQ_STR(a.name, "1234");
	CHECK_EQ_INT(a.device, 2);
	CHECK_EQ_INT(wa_signal_address(&a, "", "lid", 0, 0, WA_SIGNAL_ADDR_DOMAIN), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_address(&a, "12.3", "s.whatsapp.net", 0, 0, WA_SIGNAL_ADDR_DOMAIN), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_address(&a, "12_3", "s.whatsapp.net", 0, 0, WA_SIGNAL_ADDR_DOMAIN), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_address(&a, "123", NULL, 0, 0, WA_SIGNAL_ADDR_DOMAIN), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_address(&a, "123", "lid", 0, 0x80000000u, WA_SIGNAL_ADDR_DOMAIN), Y_EINVAL);
}

TEST(keys_and_wire_forms)
{
	struct peer p;
	struct wa_signal_bundle b, parsed;
	uint8_t reg[4], sid[3], kid[3], type = 5, signed_data[33];
	struct wa_signal_bundle_wire w;

	REQUIRE(peer_init(&p, "100", 0) == 0);
	CHECK(p.id.registration_id >= 1 && p.id.registration_id <= 16380);
	for (int i = 0; i < NPREKEYS; i++)
		CHECK_EQ_INT(p.pks[i].id, i + 1);
	CHECK_EQ_INT(wa_signal_memstore_count(p.store, WA_SIGNAL_PREKEY), NPREKEYS);
	CHECK_EQ_INT(wa_signal_memstore_count(p.store, WA_SIGNAL_SIGNED_PREKEY), 1);
	/* the signed prekey is signed over 0x05 || pub with the identity key */
	signed_data[0] = 5;
	memcpy(signed_data + 1, p.spk.pub, 32);
	CHECK_EQ_INT(wa_xeddsa_verify(p.id.pub, signed_data, 33, p.spk.sig), 0);
	signed_data[5] ^= 1;
	CHECK_EQ_INT(wa_xeddsa_verify(p.id.pub, signed_data, 33, p.spk.sig), Y_ECRYPTO);

	REQUIRE(wa_signal_own_bundle(p.s, 1, 3, &b) == 0);
	CHECK_EQ_INT(b.registration_id, p.id.registration_id);
	CHECK_MEM(b.identity, p.id.pub, 32);
	CHECK_MEM(b.skey.pub, p.spk.pub, 32);
	CHECK_EQ_INT(b.key.id, 3);
	CHECK_MEM(b.key.pub, p.pks[2].pub, 32);
	CHECK_EQ_INT(wa_signal_own_bundle(p.s, 2, 0, &b), Y_ENOTFOUND);
	CHECK_EQ_INT(wa_signal_own_bundle(p.s, 1, 99, &b), Y_ENOTFOUND);
	REQUIRE(wa_signal_own_bundle(p.s, 1, 3, &b) == 0);

	wa_signal_put_be32(reg, b.registration_id);
	wa_signal_put_be24(sid, 0x010203);
	wa_signal_put_be24(kid, b.key.id);
	CHECK(sid[0] == 1 && sid[1] == 2 && sid[2] == 3);
	CHECK_EQ_INT(wa_signal_get_be24(sid), 0x010203);
	wa_signal_put_be24(sid, b.skey.id);
	w = (struct wa_signal_bundle_wire){ reg, 4, &type, 1, b.identity, 32, sid, 3, b.skey.pub, 32,
					    b.skey.sig, 64, kid, 3, b.key.pub, 32 };
	REQUIRE(wa_signal_bundle_parse(&parsed, &w) == 0);
	CHECK(!memcmp(&parsed, &b, sizeof b));
	/* every length is checked; the one-time key is optional but all-or-nothing */
	w.identity_len = 33;
	CHECK_EQ_INT(wa_signal_bundle_parse(&parsed, &w), Y_EINVAL);
	w.identity_len = 32;
	w.skey_id_len = 4;
	CHECK_EQ_INT(wa_signal_bundle_parse(&parsed, &w), Y_EINVAL);
	w.skey_id_len = 3;
	w.skey_signature_len = 63;
	CHECK_EQ_INT(wa_signal_bundle_parse(&parsed, &w), Y_EINVAL);
	w.skey_signature_len = 64;
	type = 6;
	CHECK_EQ_INT(wa_signal_bundle_parse(&parsed, &w), Y_EINVAL);
	type = 5;
	w.key_value = NULL;
	CHECK_EQ_INT(wa_signal_bundle_parse(&parsed, &w), Y_EINVAL);
	w.key_id = NULL;
	CHECK_EQ_INT(wa_signal_bundle_parse(&parsed, &w), 0);
	CHECK_EQ_INT(parsed.has_prekey, 0);
	w.registration_len = 2;
	CHECK_EQ_INT(wa_signal_bundle_parse(&parsed, &w), Y_EINVAL);
	peer_release(&p);
}

TEST(prekey_ids_wrap)
{
	struct peer p;
	struct wa_signal_prekey k[3];

	REQUIRE(peer_init(&p, "101", 0) == 0);
	CHECK_EQ_INT(wa_signal_gen_prekeys(p.s, 0xFFFFFE, 3, k), 0);
	CHECK_EQ_INT(k[0].id, 0xFFFFFE);
	CHECK_EQ_INT(k[1].id, 0xFFFFFF);
	CHECK_EQ_INT(k[2].id, 1);
	CHECK_EQ_INT(wa_signal_gen_prekeys(p.s, 0, 1, k), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_gen_prekeys(p.s, 0x1000000, 1, k), Y_EINVAL);
	peer_release(&p);
}

TEST(session_exchange_with_ratchet_steps)
{
	struct peer alice, bob;
	uint8_t pt[300];

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 3) == 0);
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &bob.addr), 0);
	REQUIRE(connect_peers(&alice, &bob) == 0);
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &bob.addr), 1);

	/* alice's messages are pkmsg until bob answers; bob consumes prekey 1 once */
	for (int i = 0; i < 3; i++) {
		size_t n = 1 + rnd() % sizeof pt;
		fill(pt, n);
		CHECK_EQ_INT(send_one(&alice, &bob, pt, n), WA_SIGNAL_PKMSG);
	}
	CHECK_EQ_INT(wa_signal_memstore_count(bob.store, WA_SIGNAL_PREKEY), NPREKEYS - 1);
	CHECK_EQ_INT(wa_signal_has_session(bob.s, &alice.addr), 1);
	CHECK_EQ_INT(wa_signal_memstore_count(bob.store, WA_SIGNAL_IDENTITY), 1);

	/* then bursts in alternating directions, each turn a DH ratchet step */
	for (int round = 0; round < 8; round++) {
		struct peer *from = round % 2 ? &alice : &bob, *to = round % 2 ? &bob : &alice;
		int burst = 1 + (int)(rnd() % 4);
		for (int i = 0; i < burst; i++) {
			size_t n = rnd() % sizeof pt;
			fill(pt, n);
			CHECK_EQ_INT(send_one(from, to, pt, n), WA_SIGNAL_MSG);
		}
	}
	peer_release(&alice);
	peer_release(&bob);
}

TEST(session_without_one_time_prekey)
{
	struct peer alice, bob;
	struct wa_signal_bundle b;
	uint8_t pt[16] = "no one-time key";

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 0) == 0);
	REQUIRE(wa_signal_own_bundle(bob.s, 1, 0, &b) == 0);
	REQUIRE(wa_signal_session_from_bundle(alice.s, &bob.addr, &b) == 0);
	CHECK_EQ_INT(send_one(&alice, &bob, pt, sizeof pt), WA_SIGNAL_PKMSG);
	CHECK_EQ_INT(send_one(&bob, &alice, pt, sizeof pt), WA_SIGNAL_MSG);
	CHECK_EQ_INT(send_one(&alice, &bob, pt, sizeof pt), WA_SIGNAL_MSG);
	CHECK_EQ_INT(wa_signal_memstore_count(bob.store, WA_SIGNAL_PREKEY), NPREKEYS);
	peer_release(&alice);
	peer_release(&bob);
}

TEST(bad_bundle_signature_rejected)
{
	struct peer alice, bob;
	struct wa_signal_bundle b;

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 0) == 0);
	REQUIRE(wa_signal_own_bundle(bob.s, 1, 1, &b) == 0);
	b.skey.sig[10] ^= 0x40;
	CHECK_EQ_INT(wa_signal_session_from_bundle(alice.s, &bob.addr, &b), Y_ECRYPTO);
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &bob.addr), 0);
	b.skey.sig[10] ^= 0x40;
	b.skey.pub[0] ^= 1;
	CHECK_EQ_INT(wa_signal_session_from_bundle(alice.s, &bob.addr, &b), Y_ECRYPTO);
	peer_release(&alice);
	peer_release(&bob);
}

/* Encrypts count messages a -> b into cts[] (caller frees). */
static int encrypt_many(struct peer *a, struct peer *b, int count, uint8_t **cts, size_t *lens,
			enum wa_signal_type *types, uint8_t (*pts)[32])
{
	for (int i = 0; i < count; i++) {
		fill(pts[i], 32);
		int rc = wa_signal_encrypt(a->s, &b->addr, pts[i], 32, &types[i], &cts[i], &lens[i]);
		if (rc)
			return rc;
	}
	return 0;
}

TEST(out_of_order_replay_and_tamper)
{
	struct peer alice, bob;
	uint8_t pt[32], *cts[6], pts[6][32], *out = NULL;
	size_t lens[6], outn;
	enum wa_signal_type types[6];
	static const int order[6] = { 4, 0, 5, 2, 1, 3 };

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 0) == 0);
	REQUIRE(connect_peers(&alice, &bob) == 0);
	fill(pt, sizeof pt);
	REQUIRE(send_one(&alice, &bob, pt, sizeof pt) == WA_SIGNAL_PKMSG);
	REQUIRE(send_one(&bob, &alice, pt, sizeof pt) == WA_SIGNAL_MSG);

	REQUIRE(encrypt_many(&alice, &bob, 6, cts, lens, types, pts) == 0);
	for (int k = 0; k < 6; k++) {
		int i = order[k];
		CHECK_EQ_INT(types[i], WA_SIGNAL_MSG);
		if (i == 2) {
			/* a flipped ciphertext byte and a flipped MAC byte both fail, and
			 * leave the session able to decrypt the genuine message */
			cts[i][lens[i] - 12] ^= 0x01;
			CHECK_EQ_INT(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_MSG, cts[i], lens[i], &out, &outn), Y_ECRYPTO);
			cts[i][lens[i] - 12] ^= 0x01;
			cts[i][lens[i] - 1] ^= 0x80;
			CHECK_EQ_INT(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_MSG, cts[i], lens[i], &out, &outn), Y_ECRYPTO);
			cts[i][lens[i] - 1] ^= 0x80;
			/* truncated input is malformed, not a crash */
			CHECK(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_MSG, cts[i], 5, &out, &outn) < 0);
		}
		REQUIRE(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_MSG, cts[i], lens[i], &out, &outn) == 0);
		CHECK_EQ_INT(outn, 32);
		CHECK_MEM(out, pts[i], 32);
		free(out);
		out = NULL;
	}
	/* replays of any of them are rejected as duplicates */
	CHECK_EQ_INT(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_MSG, cts[3], lens[3], &out, &outn), Y_EEXIST);
	CHECK_EQ_INT(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_MSG, cts[0], lens[0], &out, &outn), Y_EEXIST);
	/* the wrong type for the bytes is malformed */
	CHECK(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_PKMSG, cts[0], lens[0], &out, &outn) < 0);
	for (int i = 0; i < 6; i++)
		free(cts[i]);
	/* and the session still works both ways */
	CHECK_EQ_INT(send_one(&bob, &alice, pt, sizeof pt), WA_SIGNAL_MSG);
	CHECK_EQ_INT(send_one(&alice, &bob, pt, sizeof pt), WA_SIGNAL_MSG);
	peer_release(&alice);
	peer_release(&bob);
}

TEST(replayed_pkmsg_rejected)
{
	struct peer alice, bob;
	uint8_t pt[20] = "first contact", *ct = NULL, *out = NULL;
	size_t ctn, outn;
	enum wa_signal_type t;

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 0) == 0);
	REQUIRE(connect_peers(&alice, &bob) == 0);
	REQUIRE(wa_signal_encrypt(alice.s, &bob.addr, pt, sizeof pt, &t, &ct, &ctn) == 0);
	CHECK_EQ_INT(t, WA_SIGNAL_PKMSG);
	CHECK_EQ_INT(ct[0], 0x33);
	REQUIRE(wa_signal_decrypt(bob.s, &alice.addr, t, ct, ctn, &out, &outn) == 0);
	free(out);
	out = NULL;
	CHECK_EQ_INT(wa_signal_decrypt(bob.s, &alice.addr, t, ct, ctn, &out, &outn), Y_EEXIST);
	CHECK(out == NULL);
	free(ct);
	peer_release(&alice);
	peer_release(&bob);
}

TEST(too_far_ahead_rejected)
{
	struct peer alice, bob;
	uint8_t pt[4] = { 1, 2, 3, 4 }, *ct = NULL, *out = NULL;
	size_t ctn = 0, outn;
	enum wa_signal_type t;
	int i;

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 0) == 0);
	REQUIRE(connect_peers(&alice, &bob) == 0);
	REQUIRE(send_one(&alice, &bob, pt, sizeof pt) == WA_SIGNAL_PKMSG);
	REQUIRE(send_one(&bob, &alice, pt, sizeof pt) == WA_SIGNAL_MSG);
	/* skipping more than 2000 message keys is refused (bounded memory) */
	for (i = 0; i < 2002; i++) {
		free(ct);
		ct = NULL;
		REQUIRE(wa_signal_encrypt(alice.s, &bob.addr, pt, sizeof pt, &t, &ct, &ctn) == 0);
	}
	CHECK(wa_signal_decrypt(bob.s, &alice.addr, t, ct, ctn, &out, &outn) < 0);
	free(ct);
	peer_release(&alice);
	peer_release(&bob);
}

TEST(no_session_and_bad_arguments)
{
	struct peer alice, bob;
	uint8_t pt[4] = { 0 }, *ct = NULL, *out = NULL, junk[64];
	size_t ctn, outn;
	enum wa_signal_type t;
	struct wa_signal_addr bad, stranger;

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 0) == 0);
	CHECK_EQ_INT(wa_signal_encrypt(alice.s, &bob.addr, pt, 4, &t, &ct, &ctn), Y_ENOTFOUND);
	REQUIRE(connect_peers(&alice, &bob) == 0);
	REQUIRE(send_one(&alice, &bob, pt, 4) == WA_SIGNAL_PKMSG);
	/* a msg that alice believes comes from someone she has no session with */
	REQUIRE(wa_signal_encrypt(bob.s, &alice.addr, pt, 4, &t, &ct, &ctn) == 0);
	CHECK_EQ_INT(t, WA_SIGNAL_MSG);
	REQUIRE(wa_signal_address(&stranger, "999", "s.whatsapp.net", 0, 0, WA_SIGNAL_ADDR_DOMAIN) == 0);
	CHECK_EQ_INT(wa_signal_decrypt(alice.s, &stranger, WA_SIGNAL_MSG, ct, ctn, &out, &outn), Y_ENOTFOUND);
	free(ct);
	ct = NULL;
	/* garbage of every length is rejected without a crash */
	for (size_t n = 0; n <= sizeof junk; n++) {
		fill(junk, n);
		if (n)
			junk[0] = 0x33;
		CHECK(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_MSG, junk, n, &out, &outn) < 0);
		CHECK(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_PKMSG, junk, n, &out, &outn) < 0);
	}
	CHECK_EQ_INT(wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_SKMSG, junk, 10, &out, &outn), Y_EINVAL);
	bad = bob.addr;
	bad.name[0] = 0;
	CHECK_EQ_INT(wa_signal_encrypt(alice.s, &bad, pt, 4, &t, &ct, &ctn), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_encrypt(alice.s, &bob.addr, pt, WA_SIGNAL_MAX_MESSAGE + 1, &t, &ct, &ctn), Y_ETOOBIG);
	/* deleting the session removes it */
	CHECK_EQ_INT(wa_signal_delete_all_sessions(alice.s, bob.addr.name), 1);
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &bob.addr), 0);
	peer_release(&alice);
	peer_release(&bob);
}

TEST(sessions_per_device)
{
	struct peer alice, bob0, bob1;
	uint8_t pt[8] = "hello";

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob0, "222", 0) == 0);
	REQUIRE(peer_init(&bob1, "222", 7) == 0);
	REQUIRE(connect_peers(&alice, &bob0) == 0);
	REQUIRE(connect_peers(&alice, &bob1) == 0);
	CHECK_EQ_INT(send_one(&alice, &bob0, pt, sizeof pt), WA_SIGNAL_PKMSG);
	CHECK_EQ_INT(send_one(&alice, &bob1, pt, sizeof pt), WA_SIGNAL_PKMSG);
	CHECK_EQ_INT(wa_signal_memstore_count(alice.store, WA_SIGNAL_SESSION), 2);
	CHECK_EQ_INT(wa_signal_delete_session(alice.s, &bob1.addr), 0);
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &bob1.addr), 0);
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &bob0.addr), 1);
	CHECK_EQ_INT(wa_signal_delete_all_sessions(alice.s, "222"), 1);
	CHECK_EQ_INT(wa_signal_memstore_count(alice.store, WA_SIGNAL_SESSION), 0);
	peer_release(&alice);
	peer_release(&bob0);
	peer_release(&bob1);
}

/* A conversation under bob's phone-number address moves to his LID address
 * once: the next messages go on in the same session (msg, not pkmsg), in
 * both directions, with alice's identity record for bob kept. */
TEST(session_moves_to_lid)
{
	struct peer alice, bob;
	struct wa_signal_addr pn, lid, alice_lid;
	uint8_t pt[8] = "moved";

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 3) == 0);
	REQUIRE(connect_peers(&alice, &bob) == 0);
	CHECK_EQ_INT(send_one(&alice, &bob, pt, sizeof pt), WA_SIGNAL_PKMSG);
	CHECK_EQ_INT(send_one(&bob, &alice, pt, sizeof pt), WA_SIGNAL_MSG);
	pn = bob.addr;
	REQUIRE(wa_signal_address(&lid, "987654321", "lid", 0, 3, WA_SIGNAL_ADDR_DOMAIN) == 0);
	REQUIRE(wa_signal_address(&alice_lid, "555", "lid", 0, 0, WA_SIGNAL_ADDR_DOMAIN) == 0);
	CHECK_EQ_INT(wa_signal_migrate_session(alice.s, &pn, &lid), 1);
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &pn), 1); /* kept */
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &lid), 1);
	CHECK_EQ_INT(wa_signal_memstore_count(alice.store, WA_SIGNAL_IDENTITY), 2);
	/* once: nothing left to move, and a LID session is never overwritten */
	CHECK_EQ_INT(wa_signal_migrate_session(alice.s, &pn, &lid), 0);
	/* bob moves alice too; both go on under the new names */
	CHECK_EQ_INT(wa_signal_migrate_session(bob.s, &alice.addr, &alice_lid), 1);
	bob.addr = lid;
	alice.addr = alice_lid;
	CHECK_EQ_INT(send_one(&alice, &bob, pt, sizeof pt), WA_SIGNAL_MSG);
	CHECK_EQ_INT(send_one(&bob, &alice, pt, sizeof pt), WA_SIGNAL_MSG);
	CHECK_EQ_INT(wa_signal_migrate_session(alice.s, &lid, &lid), 0);
	pn.name[0] = 0;
	CHECK_EQ_INT(wa_signal_migrate_session(alice.s, &pn, &lid), Y_EINVAL);
	peer_release(&alice);
	peer_release(&bob);
}

TEST(group_sender_keys)
{
	struct peer alice, bob, carol;
	const char *group = "120363000000000001@g.us";
	uint8_t *skdm = NULL, *cts[5], pts[5][32], *out = NULL;
	size_t skdm_len, lens[5], outn;

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 0) == 0);
	REQUIRE(peer_init(&carol, "333", 0) == 0);
	/* no sender key yet */
	CHECK_EQ_INT(wa_signal_group_encrypt(alice.s, group, &alice.addr, pts[0], 32, &cts[0], &lens[0]), Y_ENOTFOUND);
	REQUIRE(wa_signal_group_create_skdm(alice.s, group, &alice.addr, &skdm, &skdm_len) == 0);
	CHECK_EQ_INT(skdm[0], 0x33);
	REQUIRE(wa_signal_group_process_skdm(bob.s, group, &alice.addr, skdm, skdm_len) == 0);
	free(skdm);
	for (int i = 0; i < 5; i++) {
		fill(pts[i], 32);
		REQUIRE(wa_signal_group_encrypt(alice.s, group, &alice.addr, pts[i], 32, &cts[i], &lens[i]) == 0);
		CHECK_EQ_INT(cts[i][0], 0x33);
	}
	/* out of order, with a tampered one and a replay */
	static const int order[5] = { 1, 0, 4, 2, 3 };
	for (int k = 0; k < 5; k++) {
		int i = order[k];
		if (i == 4) {
			cts[i][lens[i] - 70] ^= 1; /* inside the ciphertext, covered by the signature */
			CHECK_EQ_INT(wa_signal_group_decrypt(bob.s, group, &alice.addr, cts[i], lens[i], &out, &outn), Y_ECRYPTO);
			cts[i][lens[i] - 70] ^= 1;
		}
		REQUIRE(wa_signal_group_decrypt(bob.s, group, &alice.addr, cts[i], lens[i], &out, &outn) == 0);
		CHECK_EQ_INT(outn, 32);
		CHECK_MEM(out, pts[i], 32);
		free(out);
		out = NULL;
	}
	CHECK_EQ_INT(wa_signal_group_decrypt(bob.s, group, &alice.addr, cts[2], lens[2], &out, &outn), Y_EEXIST);
	/* carol never got the SKDM */
	CHECK_EQ_INT(wa_signal_group_decrypt(carol.s, group, &alice.addr, cts[2], lens[2], &out, &outn), Y_ENOTFOUND);
	CHECK(wa_signal_group_process_skdm(carol.s, group, &alice.addr, cts[2], 7) < 0);
	for (int i = 0; i < 5; i++)
		free(cts[i]);
	peer_release(&alice);
	peer_release(&bob);
	peer_release(&carol);
}

TEST(padding)
{
	uint8_t in[40], *p = NULL;
	size_t n, un;
	int seen[16] = { 0 };

	fill(in, sizeof in);
	for (unsigned k = 1; k <= 15; k++) {
		REQUIRE(wa_signal_pad_with(in, sizeof in, k, &p, &n) == 0);
		CHECK_EQ_INT(n, sizeof in + k);
		CHECK_EQ_INT(p[n - 1], k);
		CHECK_EQ_INT(wa_signal_unpad(p, n, &un), 0);
		CHECK_EQ_INT(un, sizeof in);
		CHECK_MEM(p, in, sizeof in);
		free(p);
	}
	for (int i = 0; i < 400; i++) {
		REQUIRE(wa_signal_pad(in, 3, &p, &n) == 0);
		CHECK(n >= 4 && n <= 18);
		seen[n - 3]++;
		CHECK_EQ_INT(wa_signal_unpad(p, n, &un), 0);
		CHECK_EQ_INT(un, 3);
		free(p);
	}
	for (int k = 1; k <= 15; k++)
		CHECK(seen[k] > 0); /* every pad length occurs */
	CHECK_EQ_INT(seen[0], 0);
	/* an empty body pads and unpads too */
	REQUIRE(wa_signal_pad_with(NULL, 0, 4, &p, &n) == 0);
	CHECK_EQ_INT(wa_signal_unpad(p, n, &un), 0);
	CHECK_EQ_INT(un, 0);
	free(p);
	CHECK_EQ_INT(wa_signal_pad_with(in, 4, 0, &p, &n), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_pad_with(in, 4, 16, &p, &n), Y_EINVAL);

	static const uint8_t zero[] = { 'a', 0 }, toolong[] = { 3, 3 }, mixed[] = { 'a', 2, 3, 3 },
			     ok[] = { 'a', 'b', 2, 2 };
	/* a last byte 0 removes nothing: whatsmeow (isValidPadding of an empty
	 * suffix) and Baileys (unpadRandomMax16) both accept it */
	CHECK_EQ_INT(wa_signal_unpad(zero, sizeof zero, &un), 0);
	CHECK_EQ_INT(un, sizeof zero);
	CHECK_EQ_INT(wa_signal_unpad(toolong, sizeof toolong, &un), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_unpad(mixed, sizeof mixed, &un), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_unpad(ok, 0, &un), Y_EINVAL);
	CHECK_EQ_INT(wa_signal_unpad(ok, sizeof ok, &un), 0);
	CHECK_EQ_INT(un, 2);
}

/* A store that forwards to a memstore and fails on demand, as a database might. */
struct flaky {
	struct wa_signal_store *inner;
	int fail_load, fail_save;
};

static int flaky_load(void *ud, enum wa_signal_kind k, const char *key, struct ybuf *out)
{
	struct flaky *f = ud;
	return f->fail_load ? Y_EDB : f->inner->load(f->inner->ud, k, key, out);
}

static int flaky_save(void *ud, enum wa_signal_kind k, const char *key, const uint8_t *d, size_t n)
{
	struct flaky *f = ud;
	return f->fail_save ? Y_EDB : f->inner->save(f->inner->ud, k, key, d, n);
}

static int flaky_remove(void *ud, enum wa_signal_kind k, const char *key)
{
	struct flaky *f = ud;
	return f->inner->remove(f->inner->ud, k, key);
}

static int flaky_each(void *ud, enum wa_signal_kind k, const char *prefix, wa_signal_store_each_fn fn,
		      void *arg)
{
	struct flaky *f = ud;
	return f->fail_load ? Y_EDB : f->inner->each(f->inner->ud, k, prefix, fn, arg);
}

TEST(store_errors_are_reported)
{
	struct peer alice, bob;
	struct flaky f = { 0 };
	struct wa_signal_store st = { &f, flaky_load, flaky_save, flaky_remove, flaky_each, NULL };
	uint8_t pt[16] = "stored or not", *ct = NULL, *out = NULL;
	size_t ctn, outn;
	enum wa_signal_type t;

	REQUIRE(peer_init(&alice, "111", 0) == 0);
	REQUIRE(peer_init(&bob, "222", 0) == 0);
	/* alice's endpoint now runs over the flaky store wrapping her memstore */
	f.inner = alice.store;
	wa_signal_free(alice.s);
	alice.s = wa_signal_new(&alice.id, &st);
	REQUIRE(alice.s != NULL);
	REQUIRE(connect_peers(&alice, &bob) == 0);
	f.fail_save = 1;
	CHECK_EQ_INT(wa_signal_encrypt(alice.s, &bob.addr, pt, sizeof pt, &t, &ct, &ctn), Y_EDB);
	CHECK(ct == NULL);
	f.fail_save = 0;
	f.fail_load = 1;
	CHECK_EQ_INT(wa_signal_has_session(alice.s, &bob.addr), Y_EDB);
	CHECK_EQ_INT(wa_signal_encrypt(alice.s, &bob.addr, pt, sizeof pt, &t, &ct, &ctn), Y_EDB);
	CHECK_EQ_INT(wa_signal_delete_all_sessions(alice.s, bob.addr.name), Y_EDB);
	f.fail_load = 0;
	/* nothing was half-stored: the session still works */
	CHECK_EQ_INT(send_one(&alice, &bob, pt, sizeof pt), WA_SIGNAL_PKMSG);
	CHECK_EQ_INT(send_one(&bob, &alice, pt, sizeof pt), WA_SIGNAL_MSG);
	/* a failing save on the receiving side fails the decryption */
	REQUIRE(wa_signal_encrypt(bob.s, &alice.addr, pt, sizeof pt, &t, &ct, &ctn) == 0);
	f.fail_save = 1;
	CHECK_EQ_INT(wa_signal_decrypt(alice.s, &bob.addr, t, ct, ctn, &out, &outn), Y_EDB);
	f.fail_save = 0;
	CHECK_EQ_INT(wa_signal_decrypt(alice.s, &bob.addr, t, ct, ctn, &out, &outn), 0);
	free(out);
	free(ct);
	peer_release(&alice);
	peer_release(&bob);
}

static int count_key(const char *key, void *arg)
{
	(void)key;
	(*(int *)arg)++;
	return 0;
}

/* A restart imports the signed prekey of the credentials again: a store
 * holding it already (same id, key and signature) is left as it is, any
 * difference replaces the record. */
TEST(signed_prekey_import_again)
{
	struct wa_signal_identity id;
	struct wa_signal_store *st = wa_signal_memstore_new();
	struct wa_signal *s1, *s2;
	struct wa_keypair a, b;
	struct wa_signal_bundle bun;
	uint8_t sig_a[64], sig_b[64];

	REQUIRE(st != NULL);
	REQUIRE(wa_signal_identity_generate(&id) == 0);
	REQUIRE(wa_keypair_generate(&a) == 0 && wa_keypair_generate(&b) == 0);
	fill(sig_a, sizeof sig_a);
	fill(sig_b, sizeof sig_b);
	s1 = wa_signal_new(&id, st);
	REQUIRE(s1 != NULL);
	REQUIRE(wa_signal_import_signed_prekey(s1, 1, a.priv, sig_a) == 0);
	wa_signal_free(s1);
	s2 = wa_signal_new(&id, st); /* the next run, on the same store */
	REQUIRE(s2 != NULL);
	CHECK_EQ_INT(wa_signal_import_signed_prekey(s2, 1, a.priv, sig_a), 0);
	REQUIRE(wa_signal_own_bundle(s2, 1, 0, &bun) == 0);
	CHECK_MEM(bun.skey.pub, a.pub, 32);
	CHECK_MEM(bun.skey.sig, sig_a, 64);
	CHECK_EQ_INT(wa_signal_memstore_count(st, WA_SIGNAL_SIGNED_PREKEY), 1);
	/* the same id with another signature, then another key */
	CHECK_EQ_INT(wa_signal_import_signed_prekey(s2, 1, a.priv, sig_b), 0);
	REQUIRE(wa_signal_own_bundle(s2, 1, 0, &bun) == 0);
	CHECK_MEM(bun.skey.sig, sig_b, 64);
	CHECK_EQ_INT(wa_signal_import_signed_prekey(s2, 1, b.priv, sig_b), 0);
	REQUIRE(wa_signal_own_bundle(s2, 1, 0, &bun) == 0);
	CHECK_MEM(bun.skey.pub, b.pub, 32);
	wa_signal_free(s2);
	wa_signal_store_free(st);
}

TEST(memstore)
{
	struct wa_signal_store *st = wa_signal_memstore_new();
	struct ybuf b = YBUF_INIT(1 << 20);
	char key[32];
	int n = 0;

	REQUIRE(st != NULL);
	CHECK_EQ_INT(st->load(st->ud, WA_SIGNAL_SESSION, "a.1", &b), Y_ENOTFOUND);
	for (int i = 0; i < 1000; i++) { /* forces several table growths */
		snprintf(key, sizeof key, "%d.%d", i / 10, i % 10);
		REQUIRE(st->save(st->ud, WA_SIGNAL_SESSION, key, (const uint8_t *)key, strlen(key)) == 0);
	}
	CHECK_EQ_INT(st->save(st->ud, WA_SIGNAL_PREKEY, "1.1", (const uint8_t *)"x", 1), 0);
	CHECK_EQ_INT(wa_signal_memstore_count(st, WA_SIGNAL_SESSION), 1000);
	CHECK_EQ_INT(st->load(st->ud, WA_SIGNAL_SESSION, "42.7", &b), 0);
	CHECK_EQ_INT(b.len, 4);
	CHECK_MEM(b.data, "42.7", 4);
	CHECK_EQ_INT(st->save(st->ud, WA_SIGNAL_SESSION, "42.7", (const uint8_t *)"new", 3), 0);
	ybuf_reset(&b);
	CHECK_EQ_INT(st->load(st->ud, WA_SIGNAL_SESSION, "42.7", &b), 0);
	CHECK_EQ_INT(b.len, 3);
	CHECK_EQ_INT(st->each(st->ud, WA_SIGNAL_SESSION, "1.", count_key, &n), 0);
	CHECK_EQ_INT(n, 10); /* "1.0".."1.9", not "10.x" */
	CHECK_EQ_INT(st->remove(st->ud, WA_SIGNAL_SESSION, "42.7"), 0);
	CHECK_EQ_INT(st->remove(st->ud, WA_SIGNAL_SESSION, "42.7"), 0);
	CHECK_EQ_INT(st->load(st->ud, WA_SIGNAL_SESSION, "42.7", &b), Y_ENOTFOUND);
	CHECK_EQ_INT(wa_signal_memstore_count(st, WA_SIGNAL_SESSION), 999);
	CHECK_EQ_INT(wa_signal_memstore_count(st, WA_SIGNAL_PREKEY), 1);
	ybuf_release(&b);
	wa_signal_store_free(st);
	wa_signal_store_free(NULL);
}

int main(void)
{
	RUN(address_naming);
	RUN(keys_and_wire_forms);
	RUN(prekey_ids_wrap);
	RUN(session_exchange_with_ratchet_steps);
	RUN(session_without_one_time_prekey);
	RUN(bad_bundle_signature_rejected);
	RUN(out_of_order_replay_and_tamper);
	RUN(replayed_pkmsg_rejected);
	RUN(too_far_ahead_rejected);
	RUN(no_session_and_bad_arguments);
	RUN(sessions_per_device);
	RUN(session_moves_to_lid);
	RUN(group_sender_keys);
	RUN(padding);
	RUN(store_errors_are_reported);
	RUN(signed_prekey_import_again);
	RUN(memstore);
	return test_summary();
}
