/*
 * libFuzzer target: decoded nodes fed to a logged-in simulator connection
 * (src/sim/sim_conn.c through its test seam, sim_conn_test_open and
 * sim_conn_test_node in sim_int.h: no socket, no Noise).
 *
 * Every input gets a fresh world built from a restarted deterministic
 * random stream (fuzz_rand.h): account A (15550001111) with companions 1
 * (online, the sender) and 2 (offline: routed stanzas queue), account B
 * (15550002222) with companion 1 online. Companion keys are real Signal
 * keys, so the phone can encrypt to them (<active/> makes it send the key
 * share) and seeds can carry messages the phone decrypts.
 *
 * Input: 1 flags byte (bit 0: dictionary v3 instead of v2; bit 1: send from
 * B's connection; bit 2: from a registering companion with no device), then
 * chunks of (2-byte big-endian length, a binary frame as the Noise layer
 * would hand it over). Each chunk is decoded and dispatched; a chunk that
 * does not decode, or a handler error, ends the input (the real connection
 * would be closed).
 *
 * Assertions (abort):
 *  - every node the simulator sends, on any connection, decodes again with
 *    the connection's dictionary (it copies client nodes into routed ones);
 *  - an <iq type=get|set id=X> handled without closing the connection is
 *    answered on it by an <iq id=X type=result|error> (a client waits for
 *    that answer).
 * FUZZ_SIM_NODE_WRITE_SEEDS=DIR fuzz_sim_node writes the seeds (committed in
 * tests/fuzz/corpus/fuzz_sim_node/) and exits. FUZZ_SEEDS_EXPECT_OK=1 (seed
 * check, tests/fuzz/run.sh): every chunk must decode and be handled without
 * closing the connection, and no message to the phone may fail to decrypt.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"
#include "util/err.h"
#include "util/log.h"
#include "wa.pb-c.h"
#include "wa/binary.h"
#include "wa/pb.h"
#include "wa/signal_store.h"
#include "wa/tokens.h"
#include "fuzz_rand.h"

#define PHONE_A "15550001111"
#define PHONE_B "15550002222"

/* A companion's own Signal endpoint (the simulator keeps only its public
 * keys); seeds use it to encrypt to the phone. */
struct comp {
	struct wa_signal_identity id;
	struct wa_signal_store *store;
	struct wa_signal *s;
};

static struct sim *sim;
static struct sim_account *acct_a, *acct_b;
static struct comp comps[3]; /* A1, A2, B1 */
static struct ybuf out_a = YBUF_INIT(1 << 22), out_b = YBUF_INIT(1 << 22),
		   out_r = YBUF_INIT(1 << 22);
static struct sim_conn *conn_a, *conn_b, *conn_r;
static int expect_ok;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_sim_node: %s\n", what);
	abort();
}

static struct sim_device *add_device(struct sim_account *a, uint32_t id, struct comp *k)
{
	struct sim_device *d = calloc(1, sizeof(*d));
	struct wa_signal_prekey pk[2];

	if (!d || wa_signal_identity_generate(&k->id) || !(k->store = wa_signal_memstore_new()) ||
	    !(k->s = wa_signal_new(&k->id, k->store)) || wa_signal_gen_signed_prekey(k->s, 1, &d->spk) ||
	    wa_signal_gen_prekeys(k->s, 1, 2, pk) || !(d->prekeys = malloc(sizeof(pk))))
		die("setup: device");
	d->acct = a;
	d->id = id;
	d->key_index = id;
	memcpy(d->identity, k->id.pub, WA_KEY_LEN);
	d->reg_id = k->id.registration_id;
	memcpy(d->prekeys, pk, sizeof(pk));
	d->nprekeys = 2;
	wa_crypto_random(d->noise, sizeof(d->noise));
	d->next = a->devices;
	a->devices = d;
	if (a->next_device <= id)
		a->next_device = id + 1;
	a->key_index = id;
	return d;
}

static void sim_at_exit(void)
{
	sim_free(sim);
	sim = NULL;
}

static void world_new(int dict)
{
	struct sim_device *a1, *b1;

	if (!sim) {
		struct sim_opts o = { .host = "127.0.0.1", .port = 0 };

		ylog_min = getenv("FUZZ_SIM_NODE_LOG") ? YLOG_INFO : YLOG_OFF;
		if (sim_new(&o, &sim))
			die("sim_new");
		atexit(sim_at_exit); /* removes the media host's temp dir */
	}
	fuzz_rand_reset(0x5113);
	memset(&sim->st, 0, sizeof(sim->st));
	if (!(acct_a = sim_account_get(sim, PHONE_A)) || !(acct_b = sim_account_get(sim, PHONE_B)))
		die("setup: accounts");
	a1 = add_device(acct_a, 1, &comps[0]);
	add_device(acct_a, 2, &comps[1]);
	b1 = add_device(acct_b, 1, &comps[2]);
	ybuf_reset(&out_a);
	ybuf_reset(&out_b);
	ybuf_reset(&out_r);
	if (!(conn_a = sim_conn_test_open(sim, a1, dict, &out_a)) ||
	    !(conn_b = sim_conn_test_open(sim, b1, dict, &out_b)) ||
	    !(conn_r = sim_conn_test_open(sim, NULL, dict, &out_r)))
		die("setup: connections");
}

static void world_free(void)
{
	sim_conn_free_all(sim);
	sim_accounts_free(sim);
	for (int i = 0; i < 3; i++) {
		wa_signal_free(comps[i].s);
		wa_signal_store_free(comps[i].store);
	}
	memset(comps, 0, sizeof(comps));
}

/* Decodes every frame in out (3-byte length, frame) from `from` on; calls
 * fn on each (may be NULL). Aborts on a frame that does not decode. */
static int scan_out(const struct ybuf *out, size_t from, int dict, const char *want_id)
{
	size_t o = from;
	int answered = 0;

	while (o < out->len) {
		size_t n;
		struct wa_node *nd = NULL;

		if (out->len - o < 3)
			die("truncated output frame");
		n = ((size_t)out->data[o] << 16) | ((size_t)out->data[o + 1] << 8) | out->data[o + 2];
		o += 3;
		if (n > out->len - o)
			die("truncated output frame");
		if (wa_binary_decode(out->data + o, n, dict, &nd))
			die("the simulator sent a frame that does not decode");
		if (want_id && wa_node_is(nd, "iq")) {
			const char *id = wa_node_attr(nd, "id"), *t = wa_node_attr(nd, "type");

			if (id && t && !strcmp(id, want_id) &&
			    (!strcmp(t, "result") || !strcmp(t, "error")))
				answered = 1;
		}
		wa_node_free(nd);
		o += n;
	}
	return answered;
}

/* ---- seeds ---- */

static struct wa_node *iq(const char *id, const char *type, const char *xmlns)
{
	struct wa_node *n = wa_node_new("iq");

	if (!n || wa_node_add_attr(n, "id", id) || wa_node_add_attr(n, "type", type) ||
	    wa_node_add_attr(n, "xmlns", xmlns) || wa_node_add_attr(n, "to", "s.whatsapp.net"))
		die("seed node");
	return n;
}

static struct wa_node *kid(struct wa_node *p, const char *tag)
{
	struct wa_node *k = wa_node_add_child(p, tag);

	if (!k)
		die("seed node");
	return k;
}

static void attr(struct wa_node *n, const char *k, const char *v)
{
	if (wa_node_add_attr(n, k, v))
		die("seed node");
}

/* <message id to type=text><enc v=2 type>ct</enc></message> */
static struct wa_node *message(const char *id, const char *to, const char *type,
			       const uint8_t *ct, size_t n)
{
	struct wa_node *m = wa_node_new("message"), *e;

	if (!m)
		die("seed node");
	attr(m, "id", id);
	attr(m, "to", to);
	attr(m, "type", "text");
	e = kid(m, "enc");
	attr(e, "v", "2");
	attr(e, "type", type);
	if (wa_node_set_bytes(e, ct, n))
		die("seed node");
	return m;
}

/* A text message from companion A1 to its phone, Signal-encrypted. */
static struct wa_node *to_phone(void)
{
	Wa__Message m = WA__MESSAGE__INIT;
	struct ybuf pb = YBUF_INIT(1 << 16);
	struct wa_signal_bundle b;
	struct wa_signal_addr ph;
	enum wa_signal_type t = WA_SIGNAL_PKMSG;
	uint8_t *pad = NULL, *ct = NULL;
	size_t padn = 0, ctn = 0;
	struct wa_node *n;

	m.conversation = "to my phone";
	memset(&b, 0, sizeof(b));
	b.registration_id = acct_a->ident.registration_id;
	memcpy(b.identity, acct_a->ident.pub, WA_KEY_LEN);
	b.skey = acct_a->spk;
	if (wa_signal_address(&ph, PHONE_A, "s.whatsapp.net", 0, 0, WA_SIGNAL_ADDR_DOMAIN) ||
	    wa_signal_session_from_bundle(comps[0].s, &ph, &b) || wa_pb_pack(&m.base, &pb) ||
	    wa_signal_pad(pb.data, pb.len, &pad, &padn) ||
	    wa_signal_encrypt(comps[0].s, &ph, pad, padn, &t, &ct, &ctn))
		die("seed: message to the phone");
	n = message("3EB0SEEDPHONE", PHONE_A "@s.whatsapp.net", wa_signal_type_name(t), ct, ctn);
	free(pad);
	free(ct);
	ybuf_release(&pb);
	return n;
}

/* Writes flags and nodes (taken, freed) as a seed. */
static void seed(const char *dir, const char *name, uint8_t flags, struct wa_node **nodes,
		 size_t nn)
{
	struct ybuf b = YBUF_INIT(1 << 20), fr = YBUF_INIT(1 << 20);
	char path[512];
	FILE *f;

	ybuf_append_byte(&b, flags);
	for (size_t i = 0; i < nn; i++) {
		uint8_t h[2];

		ybuf_reset(&fr);
		if (wa_binary_encode(nodes[i], flags & 1 ? WA_DICT_V3 : WA_DICT_V2, &fr) ||
		    fr.len > 0xFFFF)
			die("seed encode");
		h[0] = (uint8_t)(fr.len >> 8);
		h[1] = (uint8_t)fr.len;
		ybuf_append(&b, h, 2);
		ybuf_append(&b, fr.data, fr.len);
		wa_node_free(nodes[i]);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f))
		die("cannot write a seed");
	ybuf_release(&b);
	ybuf_release(&fr);
}

static void write_seeds(const char *dir)
{
	struct wa_node *n[8], *k, *u;
	uint8_t junk[40] = { 0x33, 0x08 };

	world_new(WA_DICT_V2);
	/* login sequence as Baileys does it */
	n[0] = iq("1", "set", "passive");
	kid(n[0], "active");
	n[1] = iq("2", "get", "encrypt");
	kid(n[1], "count");
	n[2] = iq("3", "set", "w:m");
	kid(n[2], "media_conn");
	n[3] = iq("4", "get", "privacy");
	kid(n[3], "privacy");
	n[4] = iq("5", "get", "w");
	k = kid(n[4], "props");
	attr(k, "protocol", "2");
	seed(dir, "login", 0, n, 5);
	/* usync for B, then a prekey fetch for B's devices */
	n[0] = iq("6", "get", "usync");
	k = kid(n[0], "usync");
	attr(k, "sid", "1");
	attr(k, "mode", "query");
	attr(k, "context", "message");
	u = kid(k, "query");
	kid(u, "devices");
	kid(u, "lid");
	u = kid(kid(k, "list"), "user");
	attr(u, "jid", PHONE_B "@s.whatsapp.net");
	n[1] = iq("7", "get", "encrypt");
	k = kid(kid(n[1], "key"), "user");
	attr(k, "jid", PHONE_B ":1@s.whatsapp.net");
	seed(dir, "usync_prekeys", 1, n, 2);
	/* messages: to B (online), to A's offline companion 2, to the phone,
	 * with participants; then a receipt and a presence */
	n[0] = message("3EB0SEED0001", PHONE_B ":1@s.whatsapp.net", "msg", junk, sizeof(junk));
	n[1] = message("3EB0SEED0002", PHONE_A ":2@s.whatsapp.net", "pkmsg", junk, sizeof(junk));
	n[2] = to_phone();
	n[3] = wa_node_new("message");
	attr(n[3], "id", "3EB0SEED0003");
	attr(n[3], "to", PHONE_B "@s.whatsapp.net");
	attr(n[3], "type", "text");
	k = kid(kid(n[3], "participants"), "to");
	attr(k, "jid", PHONE_B ":1@s.whatsapp.net");
	k = kid(k, "enc");
	attr(k, "v", "2");
	attr(k, "type", "msg");
	wa_node_set_bytes(k, junk, sizeof(junk));
	n[4] = wa_node_new("receipt");
	attr(n[4], "id", "3EB0SEED0001");
	attr(n[4], "to", PHONE_B "@s.whatsapp.net");
	attr(n[4], "type", "read");
	n[5] = wa_node_new("presence");
	attr(n[5], "type", "available");
	seed(dir, "messages", 0, n, 6);
	/* app state, prekey upload, an unknown namespace, a bad iq */
	n[0] = iq("8", "set", "w:sync:app:state");
	k = kid(kid(n[0], "sync"), "collection");
	attr(k, "name", "regular");
	attr(k, "version", "0");
	n[1] = iq("9", "set", "encrypt");
	kid(n[1], "registration");
	n[2] = iq("10", "get", "no:such:xmlns");
	n[3] = wa_node_new("iq");
	attr(n[3], "type", "get");
	n[4] = iq("11", "get", "blocklist");
	seed(dir, "misc_iq", 1, n, 5);
	/* profile: our push name in a presence, a picture set, read back by B's
	 * number and ours, removed, a bad one (not a JPEG), one for another
	 * user (refused), then the picture hidden by privacy */
	{
		static const uint8_t jpg[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F',
					       0, 1, 2, 3, 0xff, 0xd9 };

		n[0] = wa_node_new("presence");
		attr(n[0], "type", "available");
		attr(n[0], "name", "Seed name");
		n[1] = iq("13", "set", "w:profile:picture");
		k = kid(n[1], "picture");
		attr(k, "type", "image");
		if (wa_node_set_bytes(k, jpg, sizeof(jpg)))
			die("seed node");
		n[2] = iq("14", "get", "w:profile:picture");
		attr(n[2], "target", PHONE_A "@s.whatsapp.net");
		k = kid(n[2], "picture");
		attr(k, "type", "preview");
		attr(k, "query", "url");
		n[3] = iq("15", "get", "w:profile:picture");
		attr(n[3], "target", PHONE_B "@s.whatsapp.net");
		k = kid(n[3], "picture");
		attr(k, "type", "image");
		attr(k, "query", "url");
		n[4] = iq("16", "set", "w:profile:picture");
		n[5] = iq("17", "set", "w:profile:picture");
		k = kid(n[5], "picture");
		attr(k, "type", "image");
		if (wa_node_set_bytes(k, jpg, 4))
			die("seed node");
		n[6] = iq("18", "set", "w:profile:picture");
		attr(n[6], "target", PHONE_B "@s.whatsapp.net");
		n[7] = iq("19", "set", "privacy");
		k = kid(kid(n[7], "privacy"), "category");
		attr(k, "name", "profile");
		attr(k, "value", "none");
		seed(dir, "profile_picture", 0, n, 8);
	}
	/* a registering companion asks for a pair code */
	n[0] = iq("12", "set", "md");
	k = kid(n[0], "link_code_companion_reg");
	attr(k, "jid", PHONE_A "@s.whatsapp.net");
	attr(k, "stage", "companion_hello");
	attr(k, "should_show_push_notification", "true");
	seed(dir, "registering_pair_code", 4, n, 1);
	/* privacy tokens: A issues B one; A's message to B carries a token
	 * (not one B issued: counted invalid) */
	n[0] = iq("13", "set", "privacy");
	k = kid(kid(n[0], "tokens"), "token");
	attr(k, "jid", PHONE_B "@s.whatsapp.net");
	attr(k, "t", "1700000000");
	attr(k, "type", "trusted_contact");
	n[1] = message("3EB0SEED0004", PHONE_B ":1@s.whatsapp.net", "msg", junk, sizeof(junk));
	if (wa_node_set_bytes(kid(n[1], "tctoken"), junk, 32))
		die("seed node");
	seed(dir, "tctoken", 0, n, 2);
	world_free();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_SIM_NODE_WRITE_SEEDS");

	expect_ok = getenv("FUZZ_SEEDS_EXPECT_OK") != NULL;

	if (dir) {
		write_seeds(dir);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	int dict;
	struct sim_conn *c;
	struct ybuf *out;

	if (size < 1)
		return 0;
	dict = data[0] & 1 ? WA_DICT_V3 : WA_DICT_V2;
	world_new(dict);
	c = data[0] & 4 ? conn_r : data[0] & 2 ? conn_b : conn_a;
	out = data[0] & 4 ? &out_r : data[0] & 2 ? &out_b : &out_a;
	while (end - p >= 2) {
		size_t n = ((size_t)p[0] << 8) | p[1], before = out->len;
		struct wa_node *nd = NULL;
		const char *id, *type;
		char idc[SIM_IQ_ID_LEN + 64];
		int rc;

		p += 2;
		if (n > (size_t)(end - p))
			n = (size_t)(end - p);
		rc = wa_binary_decode(p, n, dict, &nd);
		p += n;
		if (rc && expect_ok)
			die("FUZZ_SEEDS_EXPECT_OK: a chunk does not decode");
		if (rc)
			break;
		id = wa_node_attr(nd, "id");
		type = wa_node_attr(nd, "type");
		snprintf(idc, sizeof(idc), "%s", id ? id : "");
		rc = sim_conn_test_node(c, nd);
		if (!rc && wa_node_is(nd, "iq") && id && type &&
		    (!strcmp(type, "get") || !strcmp(type, "set")) &&
		    !scan_out(out, before, dict, idc))
			die("an iq get/set was not answered");
		wa_node_free(nd);
		if (rc && expect_ok)
			die("FUZZ_SEEDS_EXPECT_OK: a node closed the connection");
		if (rc)
			break;
	}
	if (expect_ok && sim->st.phone_decrypt_failed)
		die("FUZZ_SEEDS_EXPECT_OK: the phone failed to decrypt a message");
	if (getenv("FUZZ_SIM_NODE_STATS"))
		fprintf(stderr, "routed %llu queued %llu phone_decrypted %llu failed %llu out %zu/%zu/%zu\n",
			(unsigned long long)sim->st.messages_routed,
			(unsigned long long)sim->st.messages_queued,
			(unsigned long long)sim->st.phone_decrypted,
			(unsigned long long)sim->st.phone_decrypt_failed, out_a.len, out_b.len, out_r.len);
	scan_out(&out_a, 0, dict, NULL);
	scan_out(&out_b, 0, dict, NULL);
	scan_out(&out_r, 0, dict, NULL);
	world_free();
	return 0;
}
