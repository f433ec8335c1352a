/*
 * libFuzzer target for the Signal layer's decoders: arbitrary bytes as a
 * msg / pkmsg to a session that exists, as an skmsg to a group whose sender
 * key exists, as an SKDM, as a padded plaintext and as prekey bundle parts,
 * and tampered genuine messages. The first input byte picks the mode:
 *   0 msg, 1 pkmsg, 2 skmsg (from alice to bob), 3 SKDM, 4 unpad, 5 bundle;
 *   6 a genuine msg from alice with the rest XORed into it;
 *   7 a genuine skmsg from alice with the rest XORed into it;
 *   8 a sequence of messages to bob: chunks of (type byte 1 msg, 2 pkmsg,
 *     3 skmsg, plus 0x80 for "must fail" under FUZZ_SEEDS_EXPECT_OK; 2-byte
 *     big-endian length; bytes), decrypted in order (reaches the ratchet's
 *     skipped keys, duplicates, a pkmsg after a session).
 *
 * Every input gets a fresh world: new stores and endpoints for alice and
 * bob, copies of a template built once from a deterministic random stream
 * (fuzz_rand.h), with the stream put back where it was after the template;
 * so no state is shared between inputs and every input sees the same keys:
 * bob's identity, signed prekey 1 and one-time prekeys 1 and 2; alice has a
 * session with bob (her pkmsg decrypted by bob, bob's answer decrypted by
 * her, so she now sends msg) and bob holds alice's sender key for the group.
 * Seeds written against this world pass the MACs and signatures and reach
 * the ratchet: FUZZ_SIGNAL_WRITE_SEEDS=DIR fuzz_signal writes them (the
 * committed ones in tests/fuzz/corpus/fuzz_signal/) and exits.
 *
 * Assertions (abort):
 *   mode 6: a msg is MACed over its serialized bytes (version, protobuf),
 *     so any changed byte must be rejected; an accepted one must give the
 *     genuine plaintext.
 *   mode 7: an skmsg is signed over everything but its 64-byte signature:
 *     a change there must be rejected. The signature bytes are exempt:
 *     whether libsignal's verify takes a second encoding of a valid
 *     signature (S + L) was not checked, and such a one would forge nothing.
 *     An accepted one must give the genuine plaintext.
 *   mode 4: an unpadded length never exceeds the input.
 *   FUZZ_SEEDS_EXPECT_OK=1 (for checking seeds, not for fuzzing): every
 *     decryption in modes 0-3 and 8 must succeed, except mode-8 chunks
 *     marked 0x80, which must fail; a seed that no longer passes aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa/signal.h"
#include "wa/signal_store.h"
#include "fuzz_rand.h"

struct fz_peer {
	struct wa_signal_identity id;
	struct wa_signal_store *store;
	struct wa_signal *s;
	struct wa_signal_addr addr;
};

static struct fz_peer alice, bob;
static const char *group = "120363000000000042@g.us";
static int expect_ok;

#define GENUINE "genuine plaintext"

static void die(const char *what)
{
	fprintf(stderr, "fuzz_signal: %s\n", what);
	abort();
}

static void peer_setup(struct fz_peer *p, const char *user)
{
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey pk[2];

	if (wa_signal_identity_generate(&p->id) || !(p->store = wa_signal_memstore_new()) ||
	    !(p->s = wa_signal_new(&p->id, p->store)) ||
	    wa_signal_address(&p->addr, user, "s.whatsapp.net", 0, 0, WA_SIGNAL_ADDR_DOMAIN) ||
	    wa_signal_gen_signed_prekey(p->s, 1, &spk) || wa_signal_gen_prekeys(p->s, 1, 2, pk))
		die("setup: peer");
}

static void peer_free(struct fz_peer *p)
{
	wa_signal_free(p->s);
	wa_signal_store_free(p->store);
	memset(p, 0, sizeof(*p));
}

/* The world described in the header, built once into tpl_alice/tpl_bob;
 * each input gets copies of their stores (world_new). */
static struct fz_peer tpl_alice, tpl_bob;
static uint64_t tpl_rand_ctr;

static void world_build(void)
{
	struct wa_signal_bundle b;
	enum wa_signal_type t;
	uint8_t *ct = NULL, *pt = NULL;
	size_t ctn, ptn;

	fuzz_rand_reset(0x5167);
	peer_setup(&alice, "1000");
	peer_setup(&bob, "2000");
	if (wa_signal_own_bundle(bob.s, 1, 1, &b) || wa_signal_session_from_bundle(alice.s, &bob.addr, &b))
		die("setup: session");
	if (wa_signal_encrypt(alice.s, &bob.addr, (const uint8_t *)"hi", 2, &t, &ct, &ctn) ||
	    t != WA_SIGNAL_PKMSG || wa_signal_decrypt(bob.s, &alice.addr, t, ct, ctn, &pt, &ptn))
		die("setup: first message");
	free(ct);
	free(pt);
	if (wa_signal_encrypt(bob.s, &alice.addr, (const uint8_t *)"ho", 2, &t, &ct, &ctn) ||
	    wa_signal_decrypt(alice.s, &bob.addr, t, ct, ctn, &pt, &ptn))
		die("setup: answer");
	free(ct);
	free(pt);
	if (wa_signal_group_create_skdm(alice.s, group, &alice.addr, &ct, &ctn) ||
	    wa_signal_group_process_skdm(bob.s, group, &alice.addr, ct, ctn))
		die("setup: sender key");
	free(ct);
	tpl_alice = alice;
	tpl_bob = bob;
	memset(&alice, 0, sizeof(alice));
	memset(&bob, 0, sizeof(bob));
	tpl_rand_ctr = fuzz_rand_ctr;
}

struct store_copy {
	struct wa_signal_store *from, *to;
	enum wa_signal_kind kind;
	struct ybuf rec;
};

static int copy_record(const char *key, void *arg)
{
	struct store_copy *c = arg;

	ybuf_reset(&c->rec);
	if (c->from->load(c->from->ud, c->kind, key, &c->rec) ||
	    c->to->save(c->to->ud, c->kind, key, c->rec.data, c->rec.len))
		die("store copy");
	return 0;
}

/* A new endpoint over a copy of the template's store: same state, nothing
 * shared. */
static void peer_copy(struct fz_peer *p, const struct fz_peer *t)
{
	struct store_copy c = { t->store, NULL, 0, YBUF_INIT(WA_SIGNAL_STORE_RECORD_MAX) };

	*p = *t;
	if (!(p->store = c.to = wa_signal_memstore_new()))
		die("ENOMEM");
	for (int k = 0; k < WA_SIGNAL_KIND_COUNT; k++) {
		c.kind = (enum wa_signal_kind)k;
		t->store->each(t->store->ud, c.kind, "", copy_record, &c);
	}
	ybuf_release(&c.rec);
	if (!(p->s = wa_signal_new(&p->id, p->store)))
		die("ENOMEM");
}

/* A fresh world for one input: copies of the template's stores, and the
 * random stream where it was when the template was done. */
static void world_new(void)
{
	if (!tpl_alice.s)
		world_build();
	peer_copy(&alice, &tpl_alice);
	peer_copy(&bob, &tpl_bob);
	fuzz_rand_reset(0x5167);
	fuzz_rand_ctr = tpl_rand_ctr;
}

static void world_free(void)
{
	peer_free(&alice);
	peer_free(&bob);
}

/* Splits data into up to n slices at the lengths given by its first bytes. */
static size_t take(const uint8_t **data, size_t *size, size_t want, const uint8_t **out)
{
	size_t n = want < *size ? want : *size;

	*out = n ? *data : NULL;
	*data += n;
	*size -= n;
	return n;
}

static void fuzz_bundle(const uint8_t *data, size_t size)
{
	static const size_t lens[8] = { 4, 1, 32, 3, 32, 64, 3, 32 };
	const uint8_t *p[8];
	size_t n[8];
	struct wa_signal_bundle_wire w;
	struct wa_signal_bundle b;

	for (int i = 0; i < 8; i++) {
		/* a length byte may shorten or lengthen each part */
		size_t want = lens[i];
		if (size && (data[0] & 0x80))
			want = data[0] & 0x7F;
		if (size) {
			data++;
			size--;
		}
		n[i] = take(&data, &size, want, &p[i]);
	}
	w = (struct wa_signal_bundle_wire){ p[0], n[0], p[1], n[1], p[2], n[2], p[3], n[3],
					    p[4], n[4], p[5], n[5], p[6], n[6], p[7], n[7] };
	if (wa_signal_bundle_parse(&b, &w) == 0) {
		/* a parsed bundle goes through session building (signature check) */
		struct wa_signal_addr a;
		if (!wa_signal_address(&a, "3000", "s.whatsapp.net", 0, 1, WA_SIGNAL_ADDR_DOMAIN))
			(void)wa_signal_session_from_bundle(alice.s, &a, &b);
	}
}

/* Bob decrypts one message from alice (type 1 msg, 2 pkmsg, 3 skmsg). */
static int to_bob(unsigned type, const uint8_t *p, size_t n, uint8_t **out, size_t *outn)
{
	if (type == WA_SIGNAL_SKMSG)
		return wa_signal_group_decrypt(bob.s, group, &alice.addr, p, n, out, outn);
	return wa_signal_decrypt(bob.s, &alice.addr, (enum wa_signal_type)type, p, n, out, outn);
}

static void check(int rc, int must_fail)
{
	if (expect_ok && !must_fail && rc)
		die("FUZZ_SEEDS_EXPECT_OK: a decryption failed");
	if (expect_ok && must_fail && !rc)
		die("FUZZ_SEEDS_EXPECT_OK: a decryption that must fail passed");
}

/* Modes 6 and 7: XORs data into a genuine message from alice; an accepted
 * result must come from an unchanged authenticated part (see the header). */
static void tampered(unsigned type, const uint8_t *data, size_t size)
{
	enum wa_signal_type t = WA_SIGNAL_SKMSG;
	uint8_t *ct = NULL, *pt = NULL;
	size_t ctn = 0, ptn = 0, covered;
	int changed = 0;

	if (type == WA_SIGNAL_SKMSG ?
		    wa_signal_group_encrypt(alice.s, group, &alice.addr, (const uint8_t *)GENUINE,
					    strlen(GENUINE), &ct, &ctn) :
		    wa_signal_encrypt(alice.s, &bob.addr, (const uint8_t *)GENUINE, strlen(GENUINE),
				      &t, &ct, &ctn))
		die("genuine message");
	if (t != type)
		die("alice did not send the expected type");
	/* the msg MAC covers every byte; the skmsg signature all but itself */
	covered = type == WA_SIGNAL_SKMSG ? (ctn > 64 ? ctn - 64 : 0) : ctn;
	for (size_t i = 0; i < size && i < ctn; i++) {
		ct[i] ^= data[i];
		if (i < covered && data[i])
			changed = 1;
	}
	if (to_bob(type, ct, ctn, &pt, &ptn) == 0) {
		if (changed)
			die(type == WA_SIGNAL_SKMSG ? "a tampered skmsg was accepted"
						    : "a tampered msg was accepted");
		if (ptn != strlen(GENUINE) || memcmp(pt, GENUINE, ptn))
			die("an accepted message decrypted to other bytes");
	}
	free(ct);
	free(pt);
}

/* Mode 8. */
static void sequence(const uint8_t *p, size_t size)
{
	while (size >= 3) {
		unsigned type = p[0];
		size_t n = ((size_t)p[1] << 8) | p[2];
		uint8_t *out = NULL;
		size_t outn = 0;

		p += 3;
		size -= 3;
		if (n > size)
			n = size;
		if ((type & 0x7F) >= WA_SIGNAL_MSG && (type & 0x7F) <= WA_SIGNAL_SKMSG)
			check(to_bob(type & 0x7F, p, n, &out, &outn), type >> 7);
		free(out);
		p += n;
		size -= n;
	}
}

/* ---- seeds (FUZZ_SIGNAL_WRITE_SEEDS=DIR) ---- */

static void seed_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		die("cannot write a seed");
}

/* A seed: mode byte then the bytes. */
static void seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n + 1);

	if (!b)
		die("ENOMEM");
	b[0] = mode;
	memcpy(b + 1, p, n);
	seed_file(dir, name, b, n + 1);
	free(b);
}

/* Appends one mode-8 chunk. */
static void chunk(uint8_t *buf, size_t *len, uint8_t type, const uint8_t *p, size_t n)
{
	buf[(*len)++] = type;
	buf[(*len)++] = (uint8_t)(n >> 8);
	buf[(*len)++] = (uint8_t)n;
	memcpy(buf + *len, p, n);
	*len += n;
}

static void write_seeds(const char *dir)
{
	uint8_t *m[3], *pk = NULL, *sk = NULL, *skdm = NULL, *pad = NULL, buf[4096];
	size_t mn[3] = { 0 }, pkn = 0, skn = 0, skdmn = 0, padn = 0, len = 0;
	enum wa_signal_type t;
	struct wa_signal_bundle b;

	world_new();
	for (int i = 0; i < 3; i++)
		if (wa_signal_encrypt(alice.s, &bob.addr, (const uint8_t *)GENUINE, strlen(GENUINE),
				      &t, &m[i], &mn[i]) || t != WA_SIGNAL_MSG || mn[i] > 1000)
			die("seed msg");
	if (wa_signal_group_encrypt(alice.s, group, &alice.addr, (const uint8_t *)GENUINE,
				    strlen(GENUINE), &sk, &skn) ||
	    wa_signal_group_create_skdm(alice.s, "fuzz@g.us", &alice.addr, &skdm, &skdmn) ||
	    wa_signal_pad_with((const uint8_t *)GENUINE, strlen(GENUINE), 5, &pad, &padn))
		die("seed skmsg");
	/* a second pkmsg: a new session of alice's on bob's one-time prekey 2 */
	if (wa_signal_own_bundle(bob.s, 1, 2, &b) || wa_signal_session_from_bundle(alice.s, &bob.addr, &b) ||
	    wa_signal_encrypt(alice.s, &bob.addr, (const uint8_t *)GENUINE, strlen(GENUINE), &t, &pk,
			      &pkn) || t != WA_SIGNAL_PKMSG || pkn > 1000)
		die("seed pkmsg");
	seed(dir, "msg", 0, m[0], mn[0]);
	seed(dir, "pkmsg", 1, pk, pkn);
	seed(dir, "skmsg", 2, sk, skn);
	seed(dir, "skdm", 3, skdm, skdmn);
	seed(dir, "padded", 4, pad, padn);
	{
		/* the bundle in fuzz_bundle's layout: each part after a byte below
		 * 0x80 (which keeps its default length) */
		uint8_t reg[4], sid[3], kid[3], type = 0x05, bb[8 + 4 + 1 + 32 + 3 + 32 + 64 + 3 + 32];
		const uint8_t *part[8] = { reg, &type, b.identity, sid, b.skey.pub, b.skey.sig, kid,
					   b.key.pub };
		static const size_t lens[8] = { 4, 1, 32, 3, 32, 64, 3, 32 };
		size_t o = 0;

		wa_signal_put_be32(reg, b.registration_id);
		wa_signal_put_be24(sid, b.skey.id);
		wa_signal_put_be24(kid, b.key.id);
		for (int i = 0; i < 8; i++) {
			bb[o++] = 0;
			memcpy(bb + o, part[i], lens[i]);
			o += lens[i];
		}
		seed(dir, "bundle", 5, bb, o);
	}
	/* mode 6/7 with an all-zero mask: the genuine message, accepted */
	memset(buf, 0, 64);
	seed(dir, "msg_untampered", 6, buf, 64);
	seed(dir, "skmsg_untampered", 7, buf, 64);
	/* a flipped byte in the msg MAC (its last byte) and in the skmsg body */
	memset(buf, 0, sizeof(buf));
	buf[mn[0] - 1] = 1;
	seed(dir, "msg_mac_flip", 6, buf, mn[0]);
	memset(buf, 0, sizeof(buf));
	buf[skn - 65] = 1;
	seed(dir, "skmsg_body_flip", 7, buf, skn - 64);
	/* out of order, a duplicate, then the skmsg and the second pkmsg */
	buf[len++] = 8;
	chunk(buf, &len, WA_SIGNAL_MSG, m[2], mn[2]);
	chunk(buf, &len, WA_SIGNAL_MSG, m[0], mn[0]);
	chunk(buf, &len, WA_SIGNAL_MSG, m[1], mn[1]);
	chunk(buf, &len, WA_SIGNAL_SKMSG, sk, skn);
	chunk(buf, &len, WA_SIGNAL_PKMSG, pk, pkn);
	seed_file(dir, "sequence", buf, len);
	len = 0;
	buf[len++] = 8;
	chunk(buf, &len, WA_SIGNAL_MSG, m[0], mn[0]);
	chunk(buf, &len, 0x80 | WA_SIGNAL_MSG, m[0], mn[0]);
	chunk(buf, &len, 0x80 | WA_SIGNAL_SKMSG, m[1], mn[1]);
	seed_file(dir, "sequence_duplicate", buf, len);
	for (int i = 0; i < 3; i++)
		free(m[i]);
	free(pk);
	free(sk);
	free(skdm);
	free(pad);
	world_free();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_SIGNAL_WRITE_SEEDS");

	expect_ok = getenv("FUZZ_SEEDS_EXPECT_OK") != NULL;
	if (dir) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL;
	size_t outn = 0;
	unsigned mode;

	if (size < 1)
		return 0;
	mode = data[0] % 9;
	data++;
	size--;
	world_new();
	switch (mode) {
	case 0:
	case 1:
	case 2:
		check(to_bob(mode + 1, data, size, &out, &outn), 0);
		break;
	case 3:
		check(wa_signal_group_process_skdm(bob.s, "fuzz@g.us", &alice.addr, data, size), 0);
		break;
	case 4: {
		size_t un;
		if (size && wa_signal_unpad(data, size, &un) == 0 && un > size)
			die("unpadded length beyond the input");
		break;
	}
	case 5:
		fuzz_bundle(data, size);
		break;
	case 6:
		tampered(WA_SIGNAL_MSG, data, size);
		break;
	case 7:
		tampered(WA_SIGNAL_SKMSG, data, size);
		break;
	case 8:
		sequence(data, size);
		break;
	}
	free(out);
	world_free();
	return 0;
}
