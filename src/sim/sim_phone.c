/*
 * The simulated primary phone (device 0) of an account as a Signal
 * endpoint: what it sends a new companion (app-state key share, history
 * sync notification) and what it receives (decrypted, counted in stats).
 * Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/crypto.h"
#include "wa/mediaretry.h"
#include "wa/pb.h"

/* Encrypts a Message from the phone of `a` to its companion d and delivers
 * it as <message category=peer><enc/></message>. */
static int phone_send(struct sim *s, struct sim_account *a, struct sim_device *d,
		      const Wa__Message *m)
{
	struct ybuf pb = YBUF_INIT(1 << 20);
	struct wa_signal_addr addr;
	enum wa_signal_type type;
	uint8_t *padded = NULL, *ct = NULL;
	size_t plen, clen;
	struct wa_node *n = NULL, *enc;
	char id[24], from[64], t[24];
	int rc;

	/* the phone names each peer device by its LID (as sim_phone_receive does) */
	rc = wa_signal_address(&addr, a->lid, "lid", 0, d->id, WA_SIGNAL_ADDR_DOMAIN);
	if (rc)
		goto out;
	if (wa_signal_has_session(a->sig, &addr) != 1) {
		struct wa_signal_bundle b;

		memset(&b, 0, sizeof(b));
		b.registration_id = d->reg_id;
		memcpy(b.identity, d->identity, WA_KEY_LEN);
		b.skey = d->spk;
		if (d->nprekeys) {
			b.has_prekey = 1;
			b.key = d->prekeys[0];
			memmove(d->prekeys, d->prekeys + 1, --d->nprekeys * sizeof(*d->prekeys));
		}
		rc = wa_signal_session_from_bundle(a->sig, &addr, &b);
		if (rc)
			goto out;
	}
	rc = wa_pb_pack(&m->base, &pb);
	rc = rc ?: wa_signal_pad(pb.data, pb.len, &padded, &plen);
	rc = rc ?: wa_signal_encrypt(a->sig, &addr, padded, plen, &type, &ct, &clen);
	if (rc)
		goto out;
	sim_new_msg_id(id);
	sim_device_jid(a, 0, false, from, sizeof(from));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	rc = Y_ENOMEM;
	n = wa_node_new("message");
	if (!n || sim_attrs(n, "from", from, "id", id, "t", t, "type", "text", "category", "peer",
			    NULL))
		goto out;
	enc = sim_child_bytes(n, "enc", ct, clen);
	if (!enc || sim_attrs(enc, "v", "2", "type", wa_signal_type_name(type), NULL))
		goto out;
	rc = sim_deliver(s, d, n);
	n = NULL;
out:
	wa_node_free(n);
	free(padded);
	free(ct);
	ybuf_release(&pb);
	if (rc)
		LOG_WARN("sim phone send failed", "{s:s, s:i, s:s}", "phone", a->phone, "device",
			 (int)d->id, "error", y_strerror(rc));
	return rc;
}

/* Right after a new companion's first login: the app-state sync key share
 * and a history-sync notification (protocol-map.md §10 (c)6). Nothing while
 * the account holds its key back (as_key_held): sent when it is released
 * (sim_phone_key_release), or at the next login. */
int sim_phone_welcome(struct sim *s, struct sim_account *a, struct sim_device *d)
{
	Wa__Message m1 = WA__MESSAGE__INIT, m2 = WA__MESSAGE__INIT;
	Wa__Message__ProtocolMessage p1 = WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
	Wa__Message__ProtocolMessage p2 = WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
	Wa__Message__AppStateSyncKeyShare share = WA__MESSAGE__APP_STATE_SYNC_KEY_SHARE__INIT;
	Wa__Message__AppStateSyncKey key = WA__MESSAGE__APP_STATE_SYNC_KEY__INIT;
	Wa__Message__AppStateSyncKey *keys[1] = { &key };
	Wa__Message__AppStateSyncKeyId kid = WA__MESSAGE__APP_STATE_SYNC_KEY_ID__INIT;
	Wa__Message__AppStateSyncKeyData kd = WA__MESSAGE__APP_STATE_SYNC_KEY_DATA__INIT;
	Wa__Message__AppStateSyncKeyFingerprint fp =
		WA__MESSAGE__APP_STATE_SYNC_KEY_FINGERPRINT__INIT;
	Wa__Message__HistorySyncNotification hs = WA__MESSAGE__HISTORY_SYNC_NOTIFICATION__INIT;
	uint32_t dev_indexes[1] = { 0 };
	int rc;

	if (a->as_key_held)
		return Y_OK;
	/* one key per account, shared with every companion (a phone's app
	 * state is one: what one companion writes, the others must read) */
	if (!a->as_key_set) {
		rc = wa_crypto_random(a->as_key_id, sizeof(a->as_key_id)) ?:
			wa_crypto_random(a->as_key, sizeof(a->as_key));
		if (rc)
			return rc;
		a->as_key_set = true;
	}
	kid.has_keyid = 1;
	kid.keyid.data = a->as_key_id;
	kid.keyid.len = sizeof(a->as_key_id);
	fp.has_rawid = 1;
	fp.rawid = 1;
	fp.has_currentindex = 1;
	fp.currentindex = 0;
	fp.n_deviceindexes = 1;
	fp.deviceindexes = dev_indexes;
	kd.has_keydata = 1;
	kd.keydata.data = a->as_key;
	kd.keydata.len = sizeof(a->as_key);
	kd.fingerprint = &fp;
	kd.has_timestamp = 1;
	kd.timestamp = (int64_t)sim_now_s() * 1000;
	key.keyid = &kid;
	key.keydata = &kd;
	share.n_keys = 1;
	share.keys = keys;
	p1.has_type = 1;
	p1.type = WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__APP_STATE_SYNC_KEY_SHARE;
	p1.appstatesynckeyshare = &share;
	m1.protocolmessage = &p1;

	hs.has_synctype = 1;
	hs.synctype = WA__MESSAGE__HISTORY_SYNC_NOTIFICATION__HISTORY_SYNC_TYPE__NON_BLOCKING_DATA;
	hs.has_chunkorder = 1;
	hs.chunkorder = 1;
	hs.has_progress = 1;
	hs.progress = 100;
	p2.has_type = 1;
	p2.type = WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__HISTORY_SYNC_NOTIFICATION;
	p2.historysyncnotification = &hs;
	m2.protocolmessage = &p2;

	rc = phone_send(s, a, d, &m1) ?: phone_send(s, a, d, &m2);
	if (!rc)
		d->key_shared = true;
	return rc;
}

/* A message for the primary phone of ra (device 0): the phone decrypts it
 * as a real endpoint would (building the session from a pkmsg, consuming
 * the one-time prekey it names) and checks that it holds a Message. The
 * sender is named by its LID, whatever namespace the stanza used. */
/* Remembers the media of m (a phone of ra decrypted it) under msg_id. */
static void remember_media(struct sim *s, const struct sim_account *ra, const char *msg_id,
			   const Wa__Message *m)
{
	const ProtobufCBinaryData *key = NULL;
	const char *path = NULL;
	struct sim_phone_media *e;

	if (m->devicesentmessage && m->devicesentmessage->message)
		m = m->devicesentmessage->message;
#define MEDIA_OF(f)                                                              \
	else if (m->f && m->f->has_mediakey)                                     \
		key = &m->f->mediakey, path = m->f->directpath
	if (0)
		;
	MEDIA_OF(imagemessage);
	MEDIA_OF(videomessage);
	MEDIA_OF(audiomessage);
	MEDIA_OF(documentmessage);
	MEDIA_OF(stickermessage);
#undef MEDIA_OF
	if (!msg_id || !key || key->len != 32 || !path || strlen(path) >= sizeof(e->path) ||
	    strlen(msg_id) >= sizeof(e->id))
		return;
	e = &s->phone_media[s->phone_media_next++ % SIM_PHONE_MEDIA_MAX];
	snprintf(e->phone, sizeof(e->phone), "%s", ra->phone);
	snprintf(e->id, sizeof(e->id), "%s", msg_id);
	snprintf(e->path, sizeof(e->path), "%s", path);
	memcpy(e->key, key->data, 32);
}

void sim_phone_receive(struct sim_conn *c, struct sim_account *ra, const struct wa_node *holder,
		       const char *msg_id, bool lid_mode)
{
	struct sim *s = c->sim;
	struct wa_signal_addr from;
	int ok = 0, seen = 0, last = 0;

	/* one session per sender device whichever namespace the stanza used:
	 * a client keeps its session when it moves a chat from PN to LID */
	(void)lid_mode;
	if (wa_signal_address(&from, c->acct->lid, "lid", 0, c->dev->id, WA_SIGNAL_ADDR_DOMAIN))
		return;
	for (uint32_t i = 0; holder->content == WA_CONTENT_LIST && i < holder->nkids; i++) {
		const struct wa_node *e = holder->kids[i];
		enum wa_signal_type t;
		uint8_t *pt = NULL;
		size_t ptl, unp;
		Wa__Message *m = NULL;

		if (!wa_node_is(e, "enc") || wa_signal_type_parse(wa_node_attr(e, "type"), &t) ||
		    t == WA_SIGNAL_SKMSG)
			continue;
		seen++;
		last = wa_signal_decrypt(ra->sig, &from, t, e->bytes, e->nbytes, &pt, &ptl);
		last = last ?: wa_signal_unpad(pt, ptl, &unp);
		last = last ?: wa_pb_unpack(&wa__message__descriptor, pt, unp,
					    (ProtobufCMessage **)&m);
		if (!last) {
			ok++;
			remember_media(s, ra, msg_id, m);
		}
		if (m)
			protobuf_c_message_free_unpacked(&m->base, NULL);
		free(pt);
	}
	if (!seen)
		return;
	if (ok) {
		s->st.phone_decrypted++;
	} else {
		s->st.phone_decrypt_failed++;
		LOG_WARN("sim phone could not decrypt", "{s:s, s:s, s:s, s:s}", "phone", ra->phone,
			 "from", c->acct->phone, "address", from.name, "error", y_strerror(last));
	}
}

int sim_phone_media_retry(struct sim_conn *c, const struct wa_node *receipt)
{
	struct sim *s = c->sim;
	const char *id = wa_node_attr(receipt, "id");
	const struct wa_node *enc = wa_node_child(receipt, "encrypt"),
			     *rmr = wa_node_child(receipt, "rmr");
	const uint8_t *ct = NULL, *iv = NULL;
	size_t ctl = 0, ivl = 0, sealed_len = 0;
	struct sim_phone_media *e = NULL;
	uint8_t niv[WA_MEDIA_RETRY_IV_LEN], *sealed = NULL;
	char *stanza = NULL, path[64], from[64], t[24];
	struct wa_node *n = NULL, *x;
	int rc;

	if (!id || !rmr)
		return Y_OK;
	if (enc) {
		ct = wa_node_child(enc, "enc_p") ? wa_node_bytes(wa_node_child(enc, "enc_p"), &ctl) : NULL;
		iv = wa_node_child(enc, "enc_iv") ? wa_node_bytes(wa_node_child(enc, "enc_iv"), &ivl)
						  : NULL;
	}
	for (unsigned i = 0; i < SIM_PHONE_MEDIA_MAX; i++)
		if (!strcmp(s->phone_media[i].phone, c->acct->phone) &&
		    !strcmp(s->phone_media[i].id, id))
			e = &s->phone_media[i];
	/* the phone checks the request as the media key opens it */
	if (e && (!ct || !iv || ivl != WA_MEDIA_RETRY_IV_LEN ||
		  wa_media_retry_receipt_open(e->key, id, iv, ct, ctl, &stanza)))
		e = NULL;
	free(stanza);
	rc = e ? sim_media_rehost(s, e->path, path) : Y_ENOTFOUND;
	if (rc == Y_EAGAIN) { /* tamper silent: no answer ever */
		LOG_INFO("sim phone leaves a media retry unanswered", "{s:s, s:s}", "phone",
			 c->acct->phone, "id", id);
		return Y_OK;
	}
	if (!rc) {
		snprintf(e->path, sizeof(e->path), "%s", path);
		rc = wa_crypto_random(niv, sizeof(niv));
		rc = rc ?: wa_media_retry_notif_seal(e->key, id, path, WA_MEDIA_RETRY_SUCCESS, niv,
						     &sealed, &sealed_len);
		if (rc)
			return rc;
	}
	sim_device_jid(c->acct, 0, false, from, sizeof(from));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	rc = Y_ENOMEM;
	n = wa_node_new("notification");
	if (!n || sim_attrs(n, "from", from, "id", id, "t", t, "type", "mediaretry", NULL))
		goto out;
	if (sealed) {
		x = wa_node_add_child(n, "encrypt");
		if (!x || !sim_child_bytes(x, "enc_p", sealed, sealed_len) ||
		    !sim_child_bytes(x, "enc_iv", niv, sizeof(niv)))
			goto out;
	} else if (!(x = wa_node_add_child(n, "error")) || sim_attrs(x, "code", "2", NULL)) {
		goto out; /* not on this phone (any more) */
	}
	x = wa_node_add_child(n, "rmr");
	if (!x)
		goto out;
	/* the message's key, as the request named it */
	for (int i = 0; i < 3; i++) {
		static const char *const keys[] = { "jid", "from_me", "participant" };
		const char *v = wa_node_attr(rmr, keys[i]);

		if (v && wa_node_add_attr(x, keys[i], v))
			goto out;
	}
	LOG_INFO("sim phone answered a media retry", "{s:s, s:s, s:b}", "phone", c->acct->phone,
		 "id", id, "uploaded", sealed != NULL);
	rc = sim_deliver(s, c->dev, n);
	n = NULL;
out:
	wa_node_free(n);
	free(sealed);
	return rc;
}
