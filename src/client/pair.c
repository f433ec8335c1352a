/* QR pairing (protocol-map.md §5.1): the server's pair-device refs become
 * QR codes that rotate; the phone's pair-success is checked (HMAC with our
 * adv secret, the account signature) and answered with our device
 * signature. */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/jid.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

#define QR_TEXT_MAX 512

/* The server's own JID: an empty user at s.whatsapp.net (as a typed JID or
 * the text "@s.whatsapp.net" / "s.whatsapp.net"). */
static bool from_server(const struct wa_node *n)
{
	const char *from = wa_node_attr(n, "from");
	struct wa_jid j;

	if (!from)
		return false;
	if (!strcmp(from, WA_SERVER_USER))
		return true;
	return !wa_node_attr_jid(n, "from", &j) && j.user_len == 0 &&
	       j.server_len == strlen(WA_SERVER_USER) &&
	       !memcmp(j.server, WA_SERVER_USER, j.server_len);
}

static void show_qr(struct wa_client *cl)
{
	char text[QR_TEXT_MAX];
	const char *ref = cl->refs[cl->ref_idx];

	if (wa_client_qr_text(&cl->creds, ref, strlen(ref), text, sizeof(text)))
		return;
	free(cl->qr);
	cl->qr = strdup(text);
	if (cl->cbs.on_qr && !cl->freeing)
		cl->cbs.on_qr(cl, cl->qr, cl->ud);
}

void cl_qr_clear(struct wa_client *cl)
{
	bool had = cl->qr != NULL;

	free(cl->qr);
	cl->qr = NULL;
	free(cl->refs);
	cl->refs = NULL;
	cl->nrefs = cl->ref_idx = 0;
	if (had && cl->cbs.on_qr && !cl->freeing)
		cl->cbs.on_qr(cl, NULL, cl->ud);
}

void cl_qr_next(struct wa_client *cl)
{
	if (cl->state != WA_CL_QR || !cl->refs)
		return;
	if (cl->ref_idx + 1 >= cl->nrefs) {
		/* every ref shown and none scanned: stop, as WhatsApp Web does */
		cl_give_up(cl, WA_CL_FAILED, WA_REASON_QR_TIMEOUT);
		return;
	}
	cl->ref_idx++;
	show_qr(cl);
	cl_timer_start(cl, T_QR, cl->opts.qr_next_ms);
}

int cl_pair_device(struct wa_client *cl, const struct wa_node *iq)
{
	const struct wa_node *pd = wa_node_child(iq, "pair-device");
	unsigned n = 0;
	int rc;

	if (!from_server(iq) || wa_creds_linked(&cl->creds))
		return Y_OK;
	rc = cl_iq_result(cl, iq);
	if (rc)
		return rc;
	free(cl->refs);
	cl->refs = calloc(CL_REFS_MAX, sizeof(*cl->refs));
	if (!cl->refs)
		return Y_ENOMEM;
	for (uint32_t i = 0; pd && i < pd->nkids && n < CL_REFS_MAX; i++) {
		const struct wa_node *r = pd->kids[i];
		const char *s = NULL;
		size_t len = 0;

		if (!wa_node_is(r, "ref"))
			continue;
		if (r->content == WA_CONTENT_BYTES)
			s = (const char *)wa_node_bytes(r, &len);
		else if (r->content == WA_CONTENT_VALUE) {
			s = r->val.str;
			len = r->val.len;
		}
		/* refs go into a comma-separated QR: printable, no comma */
		if (!s || !len || len >= CL_REF_MAX || memchr(s, ',', len) || memchr(s, 0, len))
			continue;
		memcpy(cl->refs[n], s, len);
		cl->refs[n][len] = 0;
		n++;
	}
	if (!n) {
		cl_give_up(cl, WA_CL_FAILED, "no_qr_refs");
		return Y_OK;
	}
	cl->nrefs = n;
	cl->ref_idx = 0;
	cl->attempts = 0;
	show_qr(cl); /* the QR first, so that whoever sees "qr" finds it */
	cl_set_state(cl, WA_CL_QR, NULL);
	cl_timer_start(cl, T_QR, cl->opts.qr_first_ms);
	return Y_OK;
}

static int reply_error(struct wa_client *cl, const struct wa_node *req, const char *code,
		       const char *text)
{
	struct wa_node *n = wa_node_new("iq"), *e;
	const char *id = wa_node_attr(req, "id");
	int rc;

	if (!n || cl_attrs(n, "id", id ? id : "", "to", WA_SERVER_USER, "type", "error", NULL) ||
	    !(e = wa_node_add_child(n, "error")) || cl_attrs(e, "code", code, "text", text, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	rc = cl_send(cl, n);
	wa_node_free(n);
	return rc;
}

static void copy_attr(const struct wa_node *n, const char *key, char *out, size_t cap)
{
	const char *v = n ? wa_node_attr(n, key) : NULL;

	if (v && strlen(v) < cap)
		memcpy(out, v, strlen(v) + 1);
}

/*
 * Checks the device identity the phone sent and signs it. On success
 * `account` gets the full ADVSignedDeviceIdentity (with the account
 * signature key and our device signature: what pkmsgs carry later) and
 * `reply` the same without the account signature key (what goes back).
 * *key_index is the identity's key index. Returns a static failure text, or
 * NULL on success.
 */
static const char *check_and_sign(const struct wa_creds *c, const uint8_t *hmac_bytes, size_t len,
				  struct ybuf *account, struct ybuf *reply, uint32_t *key_index)
{
	Wa__ADVSignedDeviceIdentityHMAC *h = NULL;
	Wa__ADVSignedDeviceIdentity *sdi = NULL;
	Wa__ADVDeviceIdentity *di = NULL;
	struct ybuf msg = YBUF_INIT(1 << 16);
	uint8_t mac[WA_SHA256_LEN], devsig[WA_SIG_LEN];
	const char *fail = "malformed";
	ProtobufCBinaryData orig_sig = { 0, NULL };
	protobuf_c_boolean orig_has = 0;
	bool hosted;

	if (wa_pb_unpack(&wa__advsigned_device_identity_hmac__descriptor, hmac_bytes, len,
			 (ProtobufCMessage **)&h) ||
	    !h->has_details || !h->has_hmac || h->hmac.len != WA_SHA256_LEN)
		goto out;
	hosted = h->has_accounttype && h->accounttype == WA__ADVENCRYPTION_TYPE__HOSTED;
	/* HMAC-SHA256(adv secret, [06 05 for hosted accounts] || details) */
	if ((hosted && ybuf_append(&msg, "\x06\x05", 2)) ||
	    ybuf_append(&msg, h->details.data, h->details.len) ||
	    wa_hmac_sha256(mac, c->adv_secret, sizeof(c->adv_secret), msg.data, msg.len))
		goto out;
	if (wa_memeq_ct(mac, h->hmac.data, WA_SHA256_LEN)) {
		fail = "hmac-mismatch";
		goto out;
	}
	if (wa_pb_unpack(&wa__advsigned_device_identity__descriptor, h->details.data,
			 h->details.len, (ProtobufCMessage **)&sdi) ||
	    !sdi->has_details || !sdi->has_accountsignaturekey ||
	    sdi->accountsignaturekey.len != WA_KEY_LEN || !sdi->has_accountsignature ||
	    sdi->accountsignature.len != WA_SIG_LEN)
		goto out;
	/* account signature over [06 00 | 06 05] || details || our identity */
	ybuf_reset(&msg);
	if (ybuf_append(&msg, hosted ? "\x06\x05" : "\x06\x00", 2) ||
	    ybuf_append(&msg, sdi->details.data, sdi->details.len) ||
	    ybuf_append(&msg, c->identity.pub, WA_KEY_LEN))
		goto out;
	if (wa_xeddsa_verify(sdi->accountsignaturekey.data, msg.data, msg.len,
			     sdi->accountsignature.data)) {
		fail = "invalid-signature";
		goto out;
	}
	if (wa_pb_unpack(&wa__advdevice_identity__descriptor, sdi->details.data, sdi->details.len,
			 (ProtobufCMessage **)&di))
		goto out;
	*key_index = di->has_keyindex ? di->keyindex : 0;
	/* our device signature: 06 01 || details || our identity || account key */
	ybuf_reset(&msg);
	if (ybuf_append(&msg, "\x06\x01", 2) ||
	    ybuf_append(&msg, sdi->details.data, sdi->details.len) ||
	    ybuf_append(&msg, c->identity.pub, WA_KEY_LEN) ||
	    ybuf_append(&msg, sdi->accountsignaturekey.data, WA_KEY_LEN) ||
	    wa_xeddsa_sign(devsig, c->identity.priv, msg.data, msg.len))
		goto out;
	orig_has = sdi->has_devicesignature;
	orig_sig = sdi->devicesignature;
	sdi->has_devicesignature = 1;
	sdi->devicesignature.data = devsig;
	sdi->devicesignature.len = WA_SIG_LEN;
	if (wa_pb_pack(&sdi->base, account))
		goto out;
	sdi->has_accountsignaturekey = 0;
	if (wa_pb_pack(&sdi->base, reply))
		goto out;
	sdi->has_accountsignaturekey = 1; /* so the free below sees what it unpacked */
	fail = NULL;
out:
	if (sdi && sdi->devicesignature.data == devsig) {
		/* the unpacked message frees what it unpacked, not our buffer */
		sdi->has_devicesignature = orig_has;
		sdi->devicesignature = orig_sig;
	}
	if (di)
		protobuf_c_message_free_unpacked(&di->base, NULL);
	if (sdi)
		protobuf_c_message_free_unpacked(&sdi->base, NULL);
	if (h)
		protobuf_c_message_free_unpacked(&h->base, NULL);
	ybuf_release(&msg);
	wa_wipe(devsig, sizeof(devsig));
	return fail;
}

int cl_pair_success(struct wa_client *cl, const struct wa_node *iq)
{
	const struct wa_node *ps = wa_node_child(iq, "pair-success");
	const struct wa_node *dev = wa_node_child(ps, "device");
	const struct wa_node *plat = wa_node_child(ps, "platform");
	const struct wa_node *biz = wa_node_child(ps, "biz");
	const uint8_t *di;
	size_t dilen;
	struct ybuf account = YBUF_INIT(WA_CREDS_ACCOUNT_MAX), reply = YBUF_INIT(WA_CREDS_ACCOUNT_MAX);
	struct wa_node *n = NULL, *sign, *k;
	const char *fail, *jid = dev ? wa_node_attr(dev, "jid") : NULL;
	struct wa_jid j;
	uint32_t key_index = 0;
	char ki[16];
	int rc = Y_OK;

	if (!from_server(iq) || cl->state != WA_CL_QR)
		return Y_OK;
	di = cl_kid_bytes(ps, "device-identity", &dilen);
	if (!di || !jid || wa_jid_parse(jid, strlen(jid), &j) || strlen(jid) >= WA_CREDS_JID_MAX) {
		fail = "malformed";
	} else {
		fail = check_and_sign(&cl->creds, di, dilen, &account, &reply, &key_index);
	}
	if (fail) {
		LOG_WARN("client pairing refused", "{s:s, s:s}", "session", cl->opts.name, "why",
			 fail);
		reply_error(cl, iq, "401", fail);
		if (cl->conn) { /* let the error answer go out before closing */
			wa_conn_drop_flush(cl->conn);
			cl->conn = NULL;
		}
		cl_give_up(cl, WA_CL_FAILED, WA_REASON_PAIRING_FAILED);
		goto out;
	}
	snprintf(ki, sizeof(ki), "%u", key_index);
	n = wa_node_new("iq");
	rc = Y_ENOMEM;
	if (!n || cl_attrs(n, "id", wa_node_attr(iq, "id") ?: "", "to", WA_SERVER_USER, "type",
			   "result", NULL) ||
	    !(sign = wa_node_add_child(n, "pair-device-sign")) ||
	    !(k = wa_node_add_child(sign, "device-identity")) ||
	    wa_node_add_attr(k, "key-index", ki) || wa_node_set_bytes(k, reply.data, reply.len))
		goto out;
	/* the device is ours from here: keep it before answering */
	memcpy(cl->creds.account, account.data, account.len);
	cl->creds.account_len = account.len;
	memcpy(cl->creds.jid, jid, strlen(jid) + 1);
	cl->creds.lid[0] = 0;
	copy_attr(dev, "lid", cl->creds.lid, sizeof(cl->creds.lid));
	copy_attr(plat, "name", cl->creds.platform, sizeof(cl->creds.platform));
	copy_attr(biz, "name", cl->creds.push_name, sizeof(cl->creds.push_name));
	cl_qr_clear(cl);
	cl_set_state(cl, WA_CL_PAIRING, NULL);
	cl_timer_start(cl, T_HANDSHAKE, CL_HANDSHAKE_MS); /* until the 515 */
	cl_creds_changed(cl);
	LOG_INFO("client paired", "{s:s, s:s}", "session", cl->opts.name, "jid", jid);
	rc = cl_send(cl, n);
	if (rc == Y_EBUSY)
		rc = Y_OK;
out:
	wa_node_free(n);
	ybuf_release(&account);
	ybuf_release(&reply);
	return rc;
}
