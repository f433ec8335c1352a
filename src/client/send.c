/*
 * Sending a 1:1 message (protocol-map.md §7.3-§7.4, §8.1): the device lists
 * of the peer and of ourselves (usync.c), prekey bundles for the devices we
 * have no Signal session with, one <enc> per device (the peer's get the
 * Message, our own other devices a DeviceSentMessage around it), v2
 * padding, <device-identity> when any <enc> is a pkmsg, then the server's
 * <ack class="message">: sent, or failed with its error. The participant
 * hash of the devices is compared with the one in the ack, as whatsmeow
 * does; a mismatch forgets the cached device lists.
 *
 * One message is prepared at a time (the queue keeps the owner's order);
 * the next one starts as soon as a stanza is out, while acks are awaited.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

struct cl_target {
	char user[WA_SIGNAL_NAME_MAX];
	char server[16];
	uint16_t dev;
	bool own;   /* one of our own other devices: gets the DeviceSentMessage */
	bool skip;  /* no bundle could be had */
};

struct cl_send {
	struct cl_send *next;
	char id[WA_MSG_ID_MAX];
	char to[WA_SIGNAL_NAME_MAX + 24]; /* user@server */
	struct wa_jid to_jid;              /* borrows `to` */
	char to_pn[WA_SIGNAL_NAME_MAX + 24]; /* the phone-number JID a LID send replaced, or "" */
	uint8_t *pb;
	size_t len;
	struct cl_target t[CL_SEND_MAX_DEVICES];
	size_t nt;
	char phash[16];
};

static void start_next(struct wa_client *cl);

void cl_device_jid(const char *user, const char *server, unsigned dev, char *out, size_t cap)
{
	if (dev)
		snprintf(out, cap, "%s:%u@%s", user, dev, server);
	else
		snprintf(out, cap, "%s@%s", user, server);
}

/* ---- the Signal endpoint ---- */

int cl_signal_init(struct wa_client *cl)
{
	int rc;

	if (!cl->opts.signal_store)
		return Y_OK;
	cl->sig = wa_signal_new(&cl->creds.identity, cl->opts.signal_store);
	if (!cl->sig)
		return Y_ENOMEM;
	rc = wa_signal_import_signed_prekey(cl->sig, cl->creds.spk_id, cl->creds.spk.priv,
					    cl->creds.spk_sig);
	if (rc) {
		wa_signal_free(cl->sig);
		cl->sig = NULL;
	}
	return rc;
}

void cl_signal_free(struct wa_client *cl)
{
	wa_signal_free(cl->sig);
	cl->sig = NULL;
}

int wa_client_import_prekeys(struct wa_client *cl, const uint32_t *ids,
			     const uint8_t (*priv)[32], size_t n)
{
	int rc = Y_OK;

	if (!cl->sig)
		return Y_ESTATE;
	for (size_t i = 0; !rc && i < n; i++)
		rc = wa_signal_import_prekey(cl->sig, ids[i], priv[i]);
	return rc;
}

/* ---- ids ---- */

void wa_client_message_id(const char *own_jid, char out[WA_MSG_ID_MAX])
{
	static const char hex[] = "0123456789ABCDEF";
	struct ybuf b = YBUF_INIT(256);
	uint8_t t[8], r[16], h[WA_SHA256_LEN];
	uint64_t now = (uint64_t)time(NULL);
	struct wa_jid j;

	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)(now >> (56 - 8 * i));
	wa_crypto_random(r, sizeof(r));
	ybuf_append(&b, t, sizeof(t));
	if (own_jid && *own_jid && !wa_jid_parse(own_jid, strlen(own_jid), &j))
		ybuf_append(&b, j.user, j.user_len);
	ybuf_append_str(&b, "@c.us");
	ybuf_append(&b, r, sizeof(r));
	if (b.data)
		wa_sha256(h, b.data, b.len);
	else
		memcpy(h, r, 9); /* no memory: random alone */
	ybuf_release(&b);
	memcpy(out, "3EB0", 4);
	for (int i = 0; i < 9; i++) {
		out[4 + 2 * i] = hex[h[i] >> 4];
		out[5 + 2 * i] = hex[h[i] & 15];
	}
	out[22] = 0;
}

/* ---- ending a send ---- */

static void send_free(struct cl_send *s)
{
	free(s->pb);
	free(s);
}

/* s is out of every list: report and free it. */
static void finish(struct wa_client *cl, struct cl_send *s, int err, const char *reason)
{
	cl->nsends--;
	if (err && err != Y_ECLOSED)
		LOG_WARN("client message failed", "{s:s, s:s, s:s}", "id", s->id, "error",
			 y_strerror(err), "reason", reason ? reason : "");
	if (cl->cbs.on_sent && !cl->freeing)
		cl->cbs.on_sent(cl, s->id, err, reason, cl->ud);
	send_free(s);
}

static void fail_active(struct wa_client *cl, int err, const char *reason)
{
	struct cl_send *s = cl->sq_active;

	cl->sq_active = NULL;
	if (s)
		finish(cl, s, err, reason);
	start_next(cl);
}

static void held_free_all(struct wa_client *cl);

void cl_sends_reset(struct wa_client *cl)
{
	struct cl_send *all = NULL, **tail = &all;

	held_free_all(cl); /* their sends are finished below (Y_ECLOSED): resent anew */
	free(cl->devreq);
	cl->devreq = NULL;
	/* in the order they were given: sent ones, the one in hand, the queue */
	*tail = cl->acks;
	while (*tail)
		tail = &(*tail)->next;
	if (cl->sq_active) {
		*tail = cl->sq_active;
		tail = &cl->sq_active->next;
		*tail = NULL;
	}
	*tail = cl->sq_head;
	cl->acks = cl->sq_active = cl->sq_head = cl->sq_tail = NULL;
	while (all) {
		struct cl_send *s = all;

		all = s->next;
		finish(cl, s, Y_ECLOSED, NULL);
	}
}

size_t wa_client_sends_pending(const struct wa_client *cl)
{
	return cl->nsends;
}

/* ---- the durability gate (wa_client_opts.state_durable) ---- */

static void held_free_all(struct wa_client *cl)
{
	while (cl->held_head) {
		struct cl_held *h = cl->held_head;

		cl->held_head = h->next;
		wa_node_free(h->n);
		free(h);
	}
	cl->held_tail = NULL;
}

/* Sends *n now, or takes it (*n = NULL) to send once the Signal state its
 * encryption saved is durable; nodes leave in the order they came. */
int cl_send_durable(struct wa_client *cl, struct wa_node **n)
{
	struct cl_held *h;
	uint64_t seq;

	if (!cl->opts.state_durable || !cl->opts.state_seq)
		return cl_send(cl, *n);
	seq = cl->opts.state_seq(cl->opts.state_ud);
	if (!cl->held_head && cl->opts.state_durable(cl->opts.state_ud, seq))
		return cl_send(cl, *n);
	if (!cl->conn)
		return Y_ECLOSED;
	h = calloc(1, sizeof(*h));
	if (!h)
		return Y_ENOMEM;
	h->n = *n;
	h->seq = seq;
	*n = NULL;
	if (cl->held_tail) {
		cl->held_tail->next = h;
	} else {
		cl->held_head = h;
		if (cl->cbs.on_state_wait)
			cl->cbs.on_state_wait(cl, cl->ud);
	}
	cl->held_tail = h;
	return Y_OK;
}

bool wa_client_state_waiting(const struct wa_client *cl)
{
	return cl->held_head != NULL;
}

void wa_client_state_durable(struct wa_client *cl)
{
	while (cl->held_head && cl->opts.state_durable(cl->opts.state_ud, cl->held_head->seq)) {
		struct cl_held *h = cl->held_head;
		int rc;

		cl->held_head = h->next;
		if (!cl->held_head)
			cl->held_tail = NULL;
		rc = cl_send(cl, h->n);
		wa_node_free(h->n);
		free(h);
		if (rc) {
			/* the connection failed: its close resets the sends */
			held_free_all(cl);
			return;
		}
	}
}

/* ---- encrypting and sending ---- */

static int target_addr(const struct cl_target *t, struct wa_signal_addr *a)
{
	return wa_signal_address(a, t->user, t->server, 0, t->dev, WA_SIGNAL_ADDR_DOMAIN);
}

/* whatsmeow's participantListHashV2: "2:" + base64(SHA-256 of the sorted
 * "user.agent:device@server" strings)[:6 bytes], unpadded. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void participant_hash(struct cl_send *s)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char strs[CL_SEND_MAX_DEVICES][WA_SIGNAL_NAME_MAX + 32];
	char *p[CL_SEND_MAX_DEVICES];
	struct ybuf b = YBUF_INIT(CL_SEND_MAX_DEVICES * sizeof(strs[0]));
	uint8_t h[WA_SHA256_LEN];
	size_t n = 0;

	s->phash[0] = 0;
	for (size_t i = 0; i < s->nt; i++) {
		if (s->t[i].skip)
			continue;
		snprintf(strs[n], sizeof(strs[n]), "%s.0:%u@%s", s->t[i].user, s->t[i].dev,
			 s->t[i].server);
		p[n] = strs[n];
		n++;
	}
	qsort(p, n, sizeof(p[0]), cmp_str);
	for (size_t i = 0; i < n; i++)
		ybuf_append_str(&b, p[i]);
	if (!b.data) {
		ybuf_release(&b);
		return;
	}
	wa_sha256(h, b.data, b.len);
	ybuf_release(&b);
	/* 6 bytes -> 8 characters */
	memcpy(s->phash, "2:", 2);
	for (int g = 0; g < 2; g++) {
		uint32_t v = (uint32_t)h[3 * g] << 16 | (uint32_t)h[3 * g + 1] << 8 | h[3 * g + 2];

		for (int k = 0; k < 4; k++)
			s->phash[2 + 4 * g + k] = b64[(v >> (18 - 6 * k)) & 63];
	}
	s->phash[10] = 0;
}

/* The DeviceSentMessage our own devices get: {destinationJid, message}. */
static int wrap_dsm(const struct cl_send *s, struct ybuf *out)
{
	Wa__Message *inner = NULL;
	Wa__Message outer = WA__MESSAGE__INIT;
	Wa__Message__DeviceSentMessage dsm = WA__MESSAGE__DEVICE_SENT_MESSAGE__INIT;
	int rc = wa_pb_unpack(&wa__message__descriptor, s->pb, s->len, (ProtobufCMessage **)&inner);

	if (rc)
		return rc;
	dsm.destinationjid = (char *)s->to;
	dsm.message = inner;
	outer.devicesentmessage = &dsm;
	outer.messagecontextinfo = inner->messagecontextinfo;
	rc = wa_pb_pack(&outer.base, out);
	protobuf_c_message_free_unpacked(&inner->base, NULL);
	return rc;
}

static int add_enc(struct wa_client *cl, struct wa_node *parts, const struct cl_target *t,
		   const uint8_t *pt, size_t ptl, bool *pkmsg)
{
	struct wa_signal_addr a;
	enum wa_signal_type type;
	uint8_t *ct = NULL;
	size_t clen;
	char jid[WA_SIGNAL_NAME_MAX + 24];
	struct wa_node *to, *enc;
	int rc = target_addr(t, &a);

	rc = rc ?: wa_signal_encrypt(cl->sig, &a, pt, ptl, &type, &ct, &clen);
	if (rc)
		return rc;
	cl_device_jid(t->user, t->server, t->dev, jid, sizeof(jid));
	rc = Y_ENOMEM;
	if ((to = wa_node_add_child(parts, "to")) && !cl_attrs(to, "jid", jid, NULL) &&
	    (enc = wa_node_add_child(to, "enc")) && !wa_node_set_bytes(enc, ct, clen) &&
	    !cl_attrs(enc, "v", "2", "type", wa_signal_type_name(type), NULL))
		rc = Y_OK;
	if (type == WA_SIGNAL_PKMSG)
		*pkmsg = true;
	free(ct);
	return rc;
}

static void encrypt_and_send(struct wa_client *cl)
{
	struct cl_send *s = cl->sq_active;
	struct ybuf dsm = YBUF_INIT(WA_SIGNAL_MAX_MESSAGE);
	uint8_t *ppeer = NULL, *pown = NULL;
	size_t lpeer = 0, lown = 0, nenc = 0, npeer = 0;
	struct wa_node *n = NULL, *parts, *di;
	bool pkmsg = false, any_own = false;
	const char *why = "encrypt_failed";
	struct cl_stanza_kind kind;
	int rc;

	cl_stanza_kind(s->pb, s->len, &kind);
	for (size_t i = 0; i < s->nt; i++)
		any_own |= s->t[i].own && !s->t[i].skip;
	rc = wa_signal_pad(s->pb, s->len, &ppeer, &lpeer);
	if (!rc && any_own) {
		rc = wrap_dsm(s, &dsm);
		rc = rc ?: wa_signal_pad(dsm.data, dsm.len, &pown, &lown);
	}
	if (rc)
		goto fail;
	rc = Y_ENOMEM;
	n = wa_node_new("message");
	if (!n || cl_attrs(n, "id", s->id, "to", s->to, "type", kind.type, NULL) ||
	    (s->to_pn[0] && cl_attrs(n, "peer_recipient_pn", s->to_pn, NULL)) ||
	    !(parts = wa_node_add_child(n, "participants")))
		goto fail;
	for (size_t i = 0; i < s->nt; i++) {
		const struct cl_target *t = &s->t[i];
		int erc;

		if (t->skip)
			continue;
		erc = add_enc(cl, parts, t, t->own ? pown : ppeer, t->own ? lown : lpeer, &pkmsg);
		if (erc == Y_ENOMEM)
			goto fail;
		if (erc) {
			LOG_WARN("client cannot encrypt for a device", "{s:s, s:i, s:s}", "user",
				 t->user, "device", (int)t->dev, "error", y_strerror(erc));
			continue;
		}
		nenc++;
		npeer += !t->own;
	}
	if (!nenc) {
		rc = Y_ECRYPTO;
		goto fail;
	}
	if (!npeer) { /* no device of the recipient has keys: not on WhatsApp */
		rc = Y_ENOTFOUND;
		why = "not_on_whatsapp";
		goto fail;
	}
	if (pkmsg && cl->creds.account_len &&
	    (!(di = wa_node_add_child(n, "device-identity")) ||
	     wa_node_set_bytes(di, cl->creds.account, cl->creds.account_len)))
		goto fail;
	if (cl_tctoken_attach(cl, n, s->to, s->to_pn) || cl_stanza_decorate(n, &kind))
		goto fail;
	participant_hash(s);
	rc = cl_send_durable(cl, &n);
	if (rc) {
		why = NULL;
		rc = Y_ECLOSED;
		goto fail;
	}
	cl->sq_active = NULL;
	cl_recent_keep(cl, s->id, s->to, s->pb, s->len);
	if (!kind.protocol)
		cl_tctoken_issue(cl, s->to, s->to_pn);
	{ /* acks keep the order the messages went out in */
		struct cl_send **pp = &cl->acks;

		while (*pp)
			pp = &(*pp)->next;
		s->next = NULL;
		*pp = s;
	}
	wa_node_free(n);
	free(ppeer);
	free(pown);
	ybuf_release(&dsm);
	start_next(cl);
	return;
fail:
	wa_node_free(n);
	free(ppeer);
	free(pown);
	ybuf_release(&dsm);
	fail_active(cl, rc, why);
}

/* ---- prekey bundles ---- */

int cl_bundle_from_node(const struct wa_node *u, struct wa_signal_bundle *b)
{
	struct wa_signal_bundle_wire w;
	const struct wa_node *sk = wa_node_child(u, "skey"), *k = wa_node_child(u, "key");

	if (!sk || wa_node_child(u, "error"))
		return Y_ENOTFOUND;
	memset(&w, 0, sizeof(w));
	w.registration = cl_kid_bytes(u, "registration", &w.registration_len);
	w.type = cl_kid_bytes(u, "type", &w.type_len);
	w.identity = cl_kid_bytes(u, "identity", &w.identity_len);
	w.skey_id = cl_kid_bytes(sk, "id", &w.skey_id_len);
	w.skey_value = cl_kid_bytes(sk, "value", &w.skey_value_len);
	w.skey_signature = cl_kid_bytes(sk, "signature", &w.skey_signature_len);
	if (k) {
		w.key_id = cl_kid_bytes(k, "id", &w.key_id_len);
		w.key_value = cl_kid_bytes(k, "value", &w.key_value_len);
	}
	return wa_signal_bundle_parse(b, &w);
}

/* One <user jid><registration/>...</user> of the answer: a session with it. */
static void take_bundle(struct wa_client *cl, struct cl_send *s, const struct wa_node *u)
{
	struct wa_signal_bundle b;
	struct wa_signal_addr a;
	const char *jid = wa_node_attr(u, "jid");
	struct wa_jid j;
	int rc;

	if (!jid || wa_jid_parse(jid, strlen(jid), &j))
		return;
	for (size_t i = 0; i < s->nt; i++) {
		struct cl_target *t = &s->t[i];

		if (t->dev != j.device || strlen(t->user) != j.user_len ||
		    memcmp(t->user, j.user, j.user_len) || strlen(t->server) != j.server_len ||
		    memcmp(t->server, j.server, j.server_len))
			continue;
		rc = cl_bundle_from_node(u, &b);
		rc = rc ?: target_addr(t, &a);
		rc = rc ?: wa_signal_session_from_bundle(cl->sig, &a, &b);
		if (rc)
			LOG_WARN("client bad prekey bundle", "{s:s, s:s}", "jid", jid, "error",
				 y_strerror(rc));
		else
			t->skip = false;
		return;
	}
}

static void on_bundles(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_send *s = cl->sq_active;
	const struct wa_node *list;

	if (cl->conn != c || !s)
		return;
	list = !err && n ? wa_node_child(n, "list") : NULL;
	if (!list) {
		fail_active(cl, err ? err : Y_EINVAL, "prekey_fetch_failed");
		return;
	}
	for (uint32_t i = 0; list->content == WA_CONTENT_LIST && i < list->nkids; i++)
		if (wa_node_is(list->kids[i], "user"))
			take_bundle(cl, s, list->kids[i]);
	encrypt_and_send(cl);
}

/* Asks bundles for every target without a session (marked skip until one
 * is built); none missing: encrypts now. */
static void ensure_sessions(struct wa_client *cl)
{
	struct cl_send *s = cl->sq_active;
	struct wa_node *iq = NULL, *key = NULL, *u;
	char jid[WA_SIGNAL_NAME_MAX + 24];
	size_t missing = 0;

	for (size_t i = 0; i < s->nt; i++) {
		struct wa_signal_addr a;
		struct cl_target *t = &s->t[i];

		if (target_addr(t, &a) || wa_signal_has_session(cl->sig, &a) == 1)
			continue;
		if (!iq && (!(iq = cl_iq_new(cl, "get", "encrypt")) ||
			    !(key = wa_node_add_child(iq, "key"))))
			goto nomem;
		cl_device_jid(t->user, t->server, t->dev, jid, sizeof(jid));
		if (!(u = wa_node_add_child(key, "user")) ||
		    cl_attrs(u, "jid", jid, "reason", "identity", NULL))
			goto nomem;
		t->skip = true;
		missing++;
	}
	if (!missing) {
		encrypt_and_send(cl);
		return;
	}
	if (cl_iq_send(cl, iq, on_bundles))
		fail_active(cl, Y_ECLOSED, NULL);
	return;
nomem:
	wa_node_free(iq);
	fail_active(cl, Y_ENOMEM, "out_of_memory");
}

/* ---- device lists ---- */

static void add_targets(struct cl_send *s, const struct cl_devices *d, bool own,
			unsigned self_dev)
{
	for (size_t i = 0; i < d->n && s->nt < CL_SEND_MAX_DEVICES; i++) {
		struct cl_target *t;

		if (own && d->dev[i] == self_dev)
			continue;
		for (size_t k = 0; k < s->nt; k++) /* a message to ourselves */
			if (s->t[k].dev == d->dev[i] && !strcmp(s->t[k].user, d->user) &&
			    !strcmp(s->t[k].server, d->server))
				goto next;
		t = &s->t[s->nt++];
		memset(t, 0, sizeof(*t));
		snprintf(t->user, sizeof(t->user), "%s", d->user);
		snprintf(t->server, sizeof(t->server), "%s", d->server);
		t->dev = d->dev[i];
		t->own = own;
next:;
	}
}

/* LID first (protocol-map.md §13-§14): a message to a phone number whose
 * LID the usync answer gave goes wholly in the LID namespace (to=LID@lid,
 * every <to> and our own devices by LID), as whatsmeow sends. Needs our own
 * LID. Rewrites s->to; true when the send went over. */
static bool go_lid(struct wa_client *cl, struct cl_send *s, const struct cl_devices *peer)
{
	size_t ol = strcspn(cl->creds.lid, ":@");
	char to[sizeof(s->to)];

	if (strcmp(peer->server, WA_SERVER_USER) || !peer->lid[0] || !ol ||
	    strcmp(s->to_jid.server, WA_SERVER_USER))
		return false;
	snprintf(to, sizeof(to), "%s@%s", peer->lid, WA_SERVER_LID);
	if (wa_jid_parse(to, strlen(to), &s->to_jid))
		return false;
	memcpy(s->to_pn, s->to, sizeof(s->to_pn));
	memcpy(s->to, to, sizeof(to));
	wa_jid_parse(s->to, strlen(s->to), &s->to_jid); /* borrows s->to again */
	return true;
}

/* The one-time move of each target's phone-number session (and identity)
 * to its LID address (whatsmeow's MigratePNToLID): the conversation goes on
 * with `msg`, no new bundle is fetched. */
static void migrate_targets(struct wa_client *cl, const struct cl_send *s, const char *peer_pn,
			    const char *own_pn)
{
	for (size_t i = 0; i < s->nt; i++) {
		const struct cl_target *t = &s->t[i];
		struct wa_signal_addr from, to;
		int rc;

		if (wa_signal_address(&from, t->own ? own_pn : peer_pn, WA_SERVER_USER, 0, t->dev,
				      WA_SIGNAL_ADDR_DOMAIN) || target_addr(t, &to))
			continue;
		rc = wa_signal_migrate_session(cl->sig, &from, &to);
		if (rc == 1)
			LOG_INFO("client session moved to the LID address", "{s:s, s:s, s:i}",
				 "from", from.name, "to", to.name, "device", (int)t->dev);
		else if (rc < 0)
			LOG_WARN("client cannot move a session to the LID address",
				 "{s:s, s:s}", "to", to.name, "error", y_strerror(rc));
	}
}

static void on_devices(struct wa_client *cl, int err, const struct cl_devices *d, size_t n)
{
	struct cl_send *s = cl->sq_active;
	struct wa_jid me;

	memset(&me, 0, sizeof(me));
	if (!s)
		return;
	if (err || n != 2) {
		fail_active(cl, err == Y_ECLOSED ? Y_ECLOSED : err ? err : Y_EINVAL,
			    err == Y_ECLOSED ? NULL : "usync_failed");
		return;
	}
	if (!d[0].n) {
		fail_active(cl, Y_ENOTFOUND, "no_devices");
		return;
	}
	wa_jid_parse(cl->creds.jid, strlen(cl->creds.jid), &me);
	s->nt = 0;
	if (go_lid(cl, s, &d[0])) {
		struct cl_devices peer = d[0], own = d[1];

		snprintf(peer.user, sizeof(peer.user), "%s", d[0].lid);
		snprintf(peer.server, sizeof(peer.server), "%s", WA_SERVER_LID);
		snprintf(own.user, sizeof(own.user), "%.*s", (int)strcspn(cl->creds.lid, ":@"),
			 cl->creds.lid);
		snprintf(own.server, sizeof(own.server), "%s", WA_SERVER_LID);
		add_targets(s, &peer, false, me.device);
		add_targets(s, &own, true, me.device);
		migrate_targets(cl, s, d[0].user, d[1].user);
	} else {
		add_targets(s, &d[0], false, me.device);
		add_targets(s, &d[1], true, me.device);
	}
	ensure_sessions(cl);
}

static void start_next(struct wa_client *cl)
{
	if (cl->sq_kicking)
		return;
	cl->sq_kicking = true;
	while (!cl->sq_active && cl->sq_head && cl->conn && cl->state == WA_CL_CONNECTED) {
		struct cl_send *s = cl->sq_head;
		struct wa_jid users[2];
		int rc;

		cl->sq_head = s->next;
		if (!cl->sq_head)
			cl->sq_tail = NULL;
		s->next = NULL;
		cl->sq_active = s;
		users[0] = s->to_jid;
		/* one namespace per stanza: our own devices as the chat is named */
		if (!strcmp(s->to_jid.server, WA_SERVER_LID) && cl->creds.lid[0])
			rc = wa_jid_parse(cl->creds.lid, strlen(cl->creds.lid), &users[1]);
		else if (!strcmp(s->to_jid.server, WA_SERVER_LID))
			rc = Y_EUNSUPPORTED; /* our LID is not known yet */
		else
			rc = wa_jid_parse(cl->creds.jid, strlen(cl->creds.jid), &users[1]);
		users[1].device = 0;
		users[1].kind = WA_JID_PAIR;
		rc = rc ?: cl_devices_get(cl, users, 2, on_devices);
		if (rc) {
			cl->sq_active = NULL;
			finish(cl, s, rc, rc == Y_ECLOSED ? NULL : rc == Y_EUNSUPPORTED ? "own_lid_unknown"
								   : "usync_failed");
		}
	}
	cl->sq_kicking = false;
}

int wa_client_send(struct wa_client *cl, const char *wa_id, const char *to_jid,
		   const uint8_t *pb, size_t len)
{
	struct cl_send *s;
	size_t idlen = wa_id ? strlen(wa_id) : 0;

	if (cl->state != WA_CL_CONNECTED || !cl->conn || !cl->sig)
		return Y_ESTATE;
	if (!idlen || idlen >= WA_MSG_ID_MAX || !to_jid || strlen(to_jid) >= sizeof(s->to) ||
	    !pb || !len || len > WA_SIGNAL_MAX_MESSAGE)
		return Y_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return Y_ENOMEM;
	memcpy(s->id, wa_id, idlen + 1);
	memcpy(s->to, to_jid, strlen(to_jid) + 1);
	if (wa_jid_parse(s->to, strlen(s->to), &s->to_jid) || !s->to_jid.user_len ||
	    s->to_jid.device || (strcmp(s->to_jid.server, WA_SERVER_USER) &&
				 strcmp(s->to_jid.server, WA_SERVER_LID))) {
		free(s);
		return Y_EINVAL;
	}
	s->pb = malloc(len);
	if (!s->pb) {
		free(s);
		return Y_ENOMEM;
	}
	memcpy(s->pb, pb, len);
	s->len = len;
	if (cl->sq_tail)
		cl->sq_tail->next = s;
	else
		cl->sq_head = s;
	cl->sq_tail = s;
	cl->nsends++;
	start_next(cl);
	return Y_OK;
}

/* <ack class="message" id from [error] [phash]> from the server. */
int cl_send_ack(struct wa_client *cl, const struct wa_node *n)
{
	const char *cls = wa_node_attr(n, "class"), *id = wa_node_attr(n, "id");
	const char *error = wa_node_attr(n, "error"), *phash = wa_node_attr(n, "phash");
	struct cl_send **pp, *s;
	char reason[48];

	if (!cls || strcmp(cls, "message") || !id)
		return Y_OK;
	for (pp = &cl->acks; *pp && strcmp((*pp)->id, id); pp = &(*pp)->next)
		;
	s = *pp;
	if (!s)
		return Y_OK;
	*pp = s->next;
	if (phash && s->phash[0] && strcmp(phash, s->phash)) {
		LOG_INFO("client participant hash differs; device lists forgotten",
			 "{s:s, s:s, s:s}", "id", id, "ours", s->phash, "server", phash);
		cl_devices_forget(cl, NULL);
	}
	if (error) {
		snprintf(reason, sizeof(reason), "ack_error_%.32s", error);
		LOG_WARN("client message refused by the server", "{s:s, s:s, s:s}", "id", id, "to",
			 s->to, "error", error);
		finish(cl, s, Y_EINVAL, reason);
	} else {
		finish(cl, s, Y_OK, NULL);
	}
	return Y_OK;
}
