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
#include "wa/adv.h"
#include "wa/jid.h"
#include "wa/qrtext.h"

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

bool cl_from_server(const struct wa_node *n)
{
	return from_server(n);
}

static void show_qr(struct wa_client *cl)
{
	char text[WA_QR_TEXT_MAX];
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

	if (!from_server(iq) || (cl->state != WA_CL_QR && cl->state != WA_CL_PASSKEY))
		return Y_OK;
	di = cl_kid_bytes(ps, "device-identity", &dilen);
	if (!di || !jid || wa_jid_parse(jid, strlen(jid), &j) || strlen(jid) >= WA_CREDS_JID_MAX) {
		fail = "malformed";
	} else {
		struct wa_keypair self;

		memcpy(self.pub, cl->creds.identity.pub, WA_KEY_LEN);
		memcpy(self.priv, cl->creds.identity.priv, WA_KEY_LEN);
		fail = wa_adv_accept(&self, cl->creds.adv_secret, di, dilen, &account, &reply,
				     &key_index);
		wa_wipe(&self, sizeof(self));
	}
	if (fail) {
		LOG_WARN("client pairing refused", "{s:s}",  "why",
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
	cl_passkey_clear(cl);
	cl_set_state(cl, WA_CL_PAIRING, NULL);
	cl_timer_start(cl, T_HANDSHAKE, CL_HANDSHAKE_MS); /* until the 515 */
	cl_creds_changed(cl);
	LOG_INFO("client paired", "{s:s}",  "jid", jid);
	rc = cl_send(cl, n);
	if (rc == Y_EBUSY)
		rc = Y_OK;
out:
	wa_node_free(n);
	ybuf_release(&account);
	ybuf_release(&reply);
	return rc;
}
