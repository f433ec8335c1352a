/*
 * Fuzz target for the client's node handlers: src/client's node-tag table
 * (cl_node_received, client_int.h) and what it reaches (pair-device refs,
 * pair-success checks and signing, <success>, login failures, stream
 * errors, notifications (the prekey upload, privacy tokens), ib, iqs from the server,
 * incoming messages (decrypt, unpad, Message unpack, receipts, retry
 * receipts), receipts and acks for what we sent), and the readers of the
 * answers to contact questions (usync contact/status, profile pictures),
 * without a socket: the client's connection is a detached wa_conn
 * (wa/conn.h), so what the client sends is encoded and dropped.
 *
 * Input: byte 0 picks the client's state: bit 0 clear, a linked client
 * logged in (CONNECTED, with an in-memory Signal store holding its signed
 * prekey, so a seed's pkmsg decrypts); set, an unlinked client showing QR codes (it was
 * handed a genuine pair-device first). The rest is one frame for
 * wa_binary_decode (flags byte, then the node; dictionary 3). Every input
 * gets a fresh client; its keys are fixed, so that seeds can carry a
 * pair-success whose HMAC and signatures verify.
 *
 * Checks: no crash, leak, over-read or undefined behaviour (ASan/UBSan);
 * with FUZZ_SEEDS_EXPECT_OK set, the pkmsg seeds must decrypt and be handed up;
 * the state afterwards is one of the enum's; an unlinked client becomes
 * linked only by a pair-success it accepted (state PAIRING, a JID that
 * parses, an account it can unpack).
 *
 * Seeds: FUZZ_CLIENT_NODE_SEEDS=DIR build/fuzz/fuzz_client_node -runs=0
 * writes them to DIR (tests/fuzz/corpus/fuzz_client_node/ is that output).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/fake_adv.h"
#include "client/client_int.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/binary.h"
#include "wa/jid.h"
#include "wa/pb.h"
#include "wa/signal.h"
#include "wa.pb-c.h"

#define PHONE_JID "15551234567:3@s.whatsapp.net"

static struct wa_loop *loop;
static struct wa_client_pool *pool;
static struct wa_creds base_creds;   /* fixed keys, unlinked */
static struct wa_signal_store *sigstore; /* per input */
static struct wa_keypair phone;       /* the phone's account key, fixed */

static int fixed_keys(void)
{
	uint8_t p[32];
	int rc;

	memset(&base_creds, 0, sizeof(base_creds));
	memset(base_creds.noise.priv, 0x11, 32);
	memset(base_creds.identity.priv, 0x22, 32);
	/* clamped, as generated keys are: XEdDSA signatures with it verify */
	base_creds.identity.priv[0] &= 248;
	base_creds.identity.priv[31] = (base_creds.identity.priv[31] & 127) | 64;
	memset(base_creds.spk.priv, 0x33, 32);
	memset(base_creds.adv_secret, 0x44, 32);
	base_creds.identity.registration_id = 4242;
	base_creds.spk_id = 1;
	base_creds.next_prekey_id = 1;
	rc = wa_creds_derive(&base_creds);
	memset(p, 0x55, 32);
	return rc ?: wa_keypair_from_private(&phone, p);
}

static int setup(void)
{
	/* connects fail at once (no socket): a 515 or a backoff goes nowhere */
	struct wa_client_pool_opts po = { .url = "bogus://nowhere", .connects_per_sec = 1000 };

	ylog_min = YLOG_OFF;
	if (wa_loop_new(NULL, &loop) || wa_client_pool_new(loop, &po, &pool))
		return -1;
	return fixed_keys();
}

static struct wa_node *pair_device(void)
{
	struct wa_node *n = wa_node_new("iq"), *pd, *r;

	if (!n || cl_attrs(n, "from", "s.whatsapp.net", "type", "set", "id", "pd-1", "xmlns",
			   "md", NULL) ||
	    !(pd = wa_node_add_child(n, "pair-device")) || !(r = wa_node_add_child(pd, "ref")) ||
	    wa_node_set_bytes(r, "2@first", 7) || !(r = wa_node_add_child(pd, "ref")) ||
	    wa_node_set_bytes(r, "2@second", 8)) {
		wa_node_free(n);
		return NULL;
	}
	return n;
}

/* Messages the client handed up for the current input. */
static int handed_up;

static void on_message(struct wa_client *cl, const struct wa_client_inbound *m, void *ud)
{
	if (!m->id || !m->from || !m->chat || (!m->pb && m->pb_len))
		abort();
	handed_up++;
}

/* A picture change: a JID, and an id that is a string when set. */
static void on_picture(struct wa_client *cl, const char *jid, const char *id, const char *author,
		       void *ud)
{
	(void)cl, (void)ud, (void)author;
	if (!jid || !strchr(jid, '@') || (id && !*id))
		abort();
}

static const struct wa_client_cbs fuzz_cbs = { .on_message = on_message,
					       .on_picture = on_picture };

/* A fresh client in the state byte 0 asks for. */
static struct wa_client *fresh_client(int qr)
{
	struct wa_client_opts o = { .name = "fuzz", .signal_store = sigstore };
	struct wa_creds c = base_creds;
	struct wa_client *cl;
	struct wa_node *pd;

	if (!qr) {
		memset(c.account, 0xab, 40);
		c.account_len = 40;
		snprintf(c.jid, sizeof(c.jid), "%s", PHONE_JID);
	}
	if (wa_client_new(pool, &c, &o, &fuzz_cbs, NULL, &cl))
		abort();
	if (wa_conn_new_detached(3, &cl->conn))
		abort();
	if (!qr) {
		cl->state = WA_CL_CONNECTED;
		return cl;
	}
	pd = pair_device();
	if (!pd || cl_node_received(cl, pd) || cl->state != WA_CL_QR || !wa_client_qr(cl))
		abort();
	wa_node_free(pd);
	return cl;
}

static void check_after(struct wa_client *cl, int qr)
{
	const struct wa_creds *c = wa_client_creds(cl);
	Wa__ADVSignedDeviceIdentity *a = NULL;
	struct wa_jid j;

	if ((unsigned)cl->state > WA_CL_FAILED)
		abort();
	if (!qr || !wa_creds_linked(c))
		return;
	/* linked from QR: only through an accepted pair-success */
	if (cl->state != WA_CL_PAIRING || wa_jid_parse(c->jid, strlen(c->jid), &j) ||
	    c->account_len > sizeof(c->account) ||
	    wa_pb_unpack(&wa__advsigned_device_identity__descriptor, c->account, c->account_len,
			 (ProtobufCMessage **)&a) ||
	    !a->has_devicesignature || a->devicesignature.len != WA_SIG_LEN)
		abort();
	protobuf_c_message_free_unpacked(&a->base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wa_client *cl;
	struct wa_node *n = NULL;
	int qr;

	if (!loop && setup())
		abort();
	if (size < 2)
		return 0;
	qr = data[0] & 1;
	if (wa_binary_decode(data + 1, size - 1, 3, &n))
		return 0;
	if (!(sigstore = wa_signal_memstore_new()))
		abort();
	cl = fresh_client(qr);
	handed_up = 0;
	cl_node_received(cl, n);
	check_after(cl, qr);
	/* a kept privacy token is within bounds and has a time; the seed's is
	 * kept under the issuer's LID */
	if (!qr && wa_node_is(n, "notification")) {
		const struct wa_tctoken *t = wa_client_tctoken(cl, "99990001111@lid");

		if (t && (t->len > sizeof(t->token) || (t->len && t->t <= 0)))
			abort();
		if (getenv("FUZZ_SEEDS_EXPECT_OK") && wa_node_attr(n, "id") &&
		    !strcmp(wa_node_attr(n, "id"), "n-tc") &&
		    (!t || t->len != 16 || t->t != 1700000000))
			abort();
	}
	/* the node as the answer to each kind of contact question */
	for (int k = LK_CONTACT; k <= LK_SET_PICTURE; k++) {
		struct wa_client_contact r;
		int rc = cl_contact_read_answer((enum cl_lookup_kind)k, n, &r);

		if ((rc && rc != Y_EINVAL && rc != Y_ENOTFOUND) || (!rc && (r.jid[sizeof(r.jid) - 1] ||
		    r.about[sizeof(r.about) - 1] || r.picture_url[sizeof(r.picture_url) - 1])))
			abort();
		if (!rc && r.has_about && strlen(r.about) == 0)
			abort(); /* an about is never empty */
	}
	/* FUZZ_SEEDS_EXPECT_OK (tests/fuzz/run.sh): the pkmsg seeds decrypt */
	if (getenv("FUZZ_SEEDS_EXPECT_OK") && !qr && wa_node_is(n, "message") &&
	    wa_node_attr(n, "id") && !strcmp(wa_node_attr(n, "id"), "3EB0AABBCCDDEEFF001122") &&
	    handed_up != 1)
		abort();
	wa_node_free(n);
	wa_client_free(cl);
	wa_signal_store_free(sigstore);
	sigstore = NULL;
	wa_loop_run_once(loop, 1); /* the client's timer closes */
	return 0;
}

/* ---- seeds ---- */

static void write_seed(const char *dir, const char *name, int qr, struct wa_node *n)
{
	struct ybuf b = YBUF_INIT(1 << 20);
	char path[512];
	FILE *f;

	if (!n || ybuf_append_byte(&b, (uint8_t)qr) || wa_binary_encode(n, 3, &b))
		abort();
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f))
		abort();
	ybuf_release(&b);
	wa_node_free(n);
}

static struct wa_node *node(const char *tag, ...)
{
	struct wa_node *n = wa_node_new(tag);
	va_list ap;
	const char *k;

	va_start(ap, tag);
	while (n && (k = va_arg(ap, const char *)))
		if (wa_node_add_attr(n, k, va_arg(ap, const char *)))
			abort();
	va_end(ap);
	return n;
}

static struct wa_node *with_kid(struct wa_node *n, const char *tag, const char *k, const char *v)
{
	struct wa_node *c = n ? wa_node_add_child(n, tag) : NULL;

	if (!c || (k && wa_node_add_attr(c, k, v)))
		abort();
	return n;
}

static struct wa_node *pair_success_seed(const struct adv_spec *sp)
{
	struct ybuf ident = YBUF_INIT(8192), details = YBUF_INIT(4096);
	struct wa_node *n;

	if (!adv_build_identity(sp, &phone, base_creds.identity.pub, base_creds.adv_secret, &ident,
				&details))
		abort();
	n = adv_pair_success(&ident, "ps-1", PHONE_JID, "98765432101234:3@lid");
	ybuf_release(&ident);
	ybuf_release(&details);
	return n;
}

/* The fixed credentials carry no signed-prekey signature (the client never
 * checks its own): the peer's session building does, so sign it here. */
static int sign_spk(struct wa_signal_bundle *b)
{
	uint8_t msg[33] = { 0x05 };

	memcpy(msg + 1, b->skey.pub, 32);
	return wa_xeddsa_sign(b->skey.sig, base_creds.identity.priv, msg, sizeof(msg));
}

/* A message from `from` to our fixed client: a pkmsg built from
 * our bundle (identity and signed prekey of base_creds, no one-time
 * prekey) holding Message{conversation}, so it decrypts. */
static struct wa_node *pkmsg_seed(const char *from)
{
	struct wa_signal_store *st = wa_signal_memstore_new(), *ours = wa_signal_memstore_new();
	struct wa_signal_identity id;
	struct wa_signal *peer, *me;
	struct wa_signal_bundle b;
	struct wa_signal_addr to;
	enum wa_signal_type type;
	Wa__Message m = WA__MESSAGE__INIT;
	struct ybuf pb = YBUF_INIT(4096);
	uint8_t *padded, *ct;
	size_t plen, clen;
	struct wa_node *n, *enc;

	if (!st || !ours || wa_signal_identity_generate(&id) || !(peer = wa_signal_new(&id, st)) ||
	    !(me = wa_signal_new(&base_creds.identity, ours)) ||
	    wa_signal_import_signed_prekey(me, base_creds.spk_id, base_creds.spk.priv,
					   base_creds.spk_sig) ||
	    wa_signal_own_bundle(me, base_creds.spk_id, 0, &b) || sign_spk(&b) ||
	    wa_signal_address(&to, "15551234567", "s.whatsapp.net", 0, 3, WA_SIGNAL_ADDR_DOMAIN) ||
	    wa_signal_session_from_bundle(peer, &to, &b))
		abort();
	m.conversation = "hello fuzz";
	if (wa_pb_pack(&m.base, &pb) || wa_signal_pad(pb.data, pb.len, &padded, &plen) ||
	    wa_signal_encrypt(peer, &to, padded, plen, &type, &ct, &clen))
		abort();
	n = node("message", "from", from, "id", "3EB0AABBCCDDEEFF001122",
		 "t", "1700000000", "type", "text", "notify", "Peer", NULL);
	enc = n ? wa_node_add_child(n, "enc") : NULL;
	if (!enc || wa_node_set_bytes(enc, ct, clen) ||
	    cl_attrs(enc, "v", "2", "type", wa_signal_type_name(type), NULL))
		abort();
	free(padded);
	free(ct);
	ybuf_release(&pb);
	wa_signal_free(peer);
	wa_signal_free(me);
	wa_signal_store_free(st);
	wa_signal_store_free(ours);
	return n;
}

static void write_seeds(const char *dir)
{
	struct wa_node *n, *k;

	write_seed(dir, "pair-device", 1, pair_device());
	write_seed(dir, "pair-success", 1, pair_success_seed(&(struct adv_spec){ .key_index = 1 }));
	write_seed(dir, "pair-success-hosted", 1,
		   pair_success_seed(&(struct adv_spec){ .hosted = true, .hmac_prefix = true,
							 .acct_prefix = 5, .key_index = 2 }));
	write_seed(dir, "pair-success-bad-sig", 1,
		   pair_success_seed(&(struct adv_spec){ .flip_sig = true, .key_index = 1 }));
	write_seed(dir, "success", 0, node("success", "t", "1700000000", "lid",
					   "98765432101234:3@lid", NULL));
	write_seed(dir, "failure-405", 0, node("failure", "reason", "405", NULL));
	write_seed(dir, "failure-401", 0, node("failure", "reason", "401", NULL));
	write_seed(dir, "stream-error-515", 0, node("stream:error", "code", "515", NULL));
	write_seed(dir, "stream-error-401", 0, node("stream:error", "code", "401", NULL));
	write_seed(dir, "stream-error-replaced", 0,
		   with_kid(node("stream:error", NULL), "conflict", "type", "replaced"));
	write_seed(dir, "stream-error-device-removed", 0,
		   with_kid(node("stream:error", NULL), "conflict", "type", "device_removed"));
	write_seed(dir, "notification-encrypt-count", 0,
		   with_kid(node("notification", "from", "s.whatsapp.net", "type", "encrypt", "id",
				 "n-1", NULL),
			    "count", "value", "3"));
	write_seed(dir, "ib-offline", 0, with_kid(node("ib", "from", "s.whatsapp.net", NULL),
						 "offline", "count", "0"));
	write_seed(dir, "ib-downgrade", 0, with_kid(node("ib", "from", "s.whatsapp.net", NULL),
						   "downgrade_webclient", NULL, NULL));
	/* answers to contact questions: a picture, none, a usync with status */
	n = with_kid(node("iq", "from", "s.whatsapp.net", "type", "result", "id", "pic-1", NULL),
		     "picture", "url", "https://pps.whatsapp.net/v/t61.24694-24/1.jpg?oe=0");
	if (wa_node_add_attr(n->kids[0], "id", "1733230000"))
		abort();
	write_seed(dir, "iq-picture", 0, n);
	n = with_kid(node("iq", "from", "s.whatsapp.net", "type", "error", "id", "pic-2", NULL),
		     "error", "code", "404");
	write_seed(dir, "iq-picture-none", 0, n);
	{
		struct wa_node *u, *st;

		n = node("iq", "from", "s.whatsapp.net", "type", "result", "id", "us-1", NULL);
		u = wa_node_add_child(wa_node_add_child(wa_node_add_child(n, "usync"), "list"), "user");
		if (!u || wa_node_add_attr(u, "jid", "15550002222@s.whatsapp.net") ||
		    !with_kid(u, "contact", "type", "in") || !(st = wa_node_add_child(u, "status")) ||
		    wa_node_add_attr(st, "t", "1733230000") || wa_node_set_bytes(st, "Available", 9))
			abort();
		write_seed(dir, "iq-usync-status", 0, n);
	}
	write_seed(dir, "iq-ping", 0,
		   with_kid(node("iq", "from", "s.whatsapp.net", "type", "get", "id", "p-1", "xmlns",
				 "urn:xmpp:ping", NULL),
			    "ping", NULL, NULL));
	n = node("receipt", "from", "15550001111@s.whatsapp.net", "id", "r-1", NULL);
	write_seed(dir, "receipt", 0, n);
	write_seed(dir, "xmlstreamend", 0, node("xmlstreamend", NULL));
	write_seed(dir, "message-pkmsg", 0, pkmsg_seed("15550001111:2@s.whatsapp.net"));
	/* from our own phone: a message of ours without a DeviceSentMessage */
	write_seed(dir, "message-pkmsg-own-phone", 0, pkmsg_seed("15551234567@s.whatsapp.net"));
	n = node("message", "from", "15550001111:2@s.whatsapp.net", "id", "3EB0X", "type", "text",
		 NULL);
	k = n ? wa_node_add_child(n, "enc") : NULL;
	if (!k || wa_node_set_bytes(k, "\x33garbage", 8) || cl_attrs(k, "v", "2", "type", "msg", NULL))
		abort();
	write_seed(dir, "message-bad-msg", 0, n);
	n = node("receipt", "from", "15550001111@s.whatsapp.net", "id", "3EB0A", "type", "read",
		 NULL);
	k = n ? wa_node_add_child(n, "list") : NULL;
	if (!k || !(k = wa_node_add_child(k, "item")) || cl_attrs(k, "id", "3EB0B", NULL))
		abort();
	write_seed(dir, "receipt-read-list", 0, n);
	n = node("receipt", "from", "15550001111:2@s.whatsapp.net", "id", "3EB0A", "type", "retry",
		 NULL);
	k = n ? wa_node_add_child(n, "retry") : NULL;
	if (!k || cl_attrs(k, "count", "1", "id", "3EB0A", "t", "1700000000", "v", "1", NULL))
		abort();
	write_seed(dir, "receipt-retry", 0, n);
	write_seed(dir, "ack-message-error", 0,
		   node("ack", "class", "message", "id", "3EB0A", "from", "15550001111@s.whatsapp.net",
			"error", "463", "phash", "2:abcdefgh", NULL));
	write_seed(dir, "notification-devices", 0,
		   node("notification", "from", "15550001111@s.whatsapp.net", "type", "devices", "id",
			"n-2", NULL));
	n = node("notification", "from", "15550001111@s.whatsapp.net", "type", "privacy_token",
		 "id", "n-tc", "sender_lid", "99990001111@lid", NULL);
	{ /* one token kept, one without a time, one of another type */
		static const char *const t[][2] = { { "1700000000", "trusted_contact" },
						     { NULL, "trusted_contact" },
						     { "1700000001", "other" } };
		struct wa_node *tokens = n ? wa_node_add_child(n, "tokens") : NULL;

		for (size_t i = 0; i < 3; i++) {
			k = tokens ? wa_node_add_child(tokens, "token") : NULL;
			if (!k || cl_attrs(k, "jid", PHONE_JID, "type", t[i][1], NULL) ||
			    (t[i][0] && cl_attrs(k, "t", t[i][0], NULL)) ||
			    wa_node_set_bytes(k, (const uint8_t *)"token-bytes-0123", 16))
				abort();
		}
	}
	write_seed(dir, "notification-privacy-token", 0, n);
	/* a picture set (with an author), one removed, one child without a jid */
	n = node("notification", "from", "15550001111@s.whatsapp.net", "type", "picture", "id",
		 "n-pic", NULL);
	if (!n || !(k = wa_node_add_child(n, "set")) ||
	    cl_attrs(k, "jid", "15550001111@s.whatsapp.net", "id", "1733230000", "author",
		     "15550001111@s.whatsapp.net", NULL) ||
	    !(k = wa_node_add_child(n, "delete")) ||
	    cl_attrs(k, "jid", "15550002222@s.whatsapp.net", NULL) ||
	    !wa_node_add_child(n, "set"))
		abort();
	write_seed(dir, "notification-picture", 0, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_CLIENT_NODE_SEEDS");

	if (setup())
		abort();
	if (dir)
		write_seeds(dir);
	return 0;
}
