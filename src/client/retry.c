/*
 * Answering a retry receipt (protocol-map.md §8.5): a device of the peer
 * could not decrypt a message we sent. As whatsmeow does, the message is
 * found among the last CL_RECENT_MAX we sent, our session with that device
 * is dropped, a fresh prekey bundle fetched, and the message re-encrypted
 * for that device alone (a pkmsg), sent with device_fanout="false" and the
 * retry count on the <enc>. One retry is answered at a time; one arriving
 * meanwhile is dropped (the peer asks again), and a count above
 * CL_RETRY_MAX is ignored. Not yet: a retry from our own other device gets
 * the plain Message, not a DeviceSentMessage; <keys> in the receipt are
 * not used (a bundle is always fetched, as Baileys does).
 */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

struct cl_recent {
	char id[WA_MSG_ID_MAX];
	char to[WA_SIGNAL_NAME_MAX + 24];
	uint8_t *pb;
	size_t len;
};

struct cl_resend {
	char id[WA_MSG_ID_MAX];
	char to[WA_SIGNAL_NAME_MAX + 24];  /* the chat (user JID) */
	char dev_jid[WA_SIGNAL_NAME_MAX + 24]; /* the device that asked */
	struct wa_signal_addr addr;
	unsigned count;
	uint8_t *pb;
	size_t len;
};

void cl_recent_keep(struct wa_client *cl, const char *id, const char *to, const uint8_t *pb,
		    size_t len)
{
	struct cl_recent *r;

	if (!cl->recent && !(cl->recent = calloc(CL_RECENT_MAX, sizeof(*cl->recent))))
		return;
	r = &cl->recent[cl->recent_pos];
	free(r->pb);
	memset(r, 0, sizeof(*r));
	if (!(r->pb = malloc(len)))
		return;
	memcpy(r->pb, pb, len);
	r->len = len;
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->to, sizeof(r->to), "%s", to);
	cl->recent_pos = (cl->recent_pos + 1) % CL_RECENT_MAX;
}

static void resend_free(struct cl_resend *r)
{
	if (r)
		free(r->pb);
	free(r);
}

void cl_retry_reset(struct wa_client *cl)
{
	resend_free(cl->resend);
	cl->resend = NULL;
}

void cl_retry_free(struct wa_client *cl)
{
	for (unsigned i = 0; cl->recent && i < CL_RECENT_MAX; i++)
		free(cl->recent[i].pb);
	free(cl->recent);
	cl->recent = NULL;
	resend_free(cl->resend);
	cl->resend = NULL;
}

static void resend_send(struct wa_client *cl, struct cl_resend *r)
{
	uint8_t *padded = NULL, *ct = NULL;
	size_t plen, clen;
	enum wa_signal_type type;
	struct wa_node *n = NULL, *parts, *to, *enc, *di;
	char cnt[12];
	int rc;

	snprintf(cnt, sizeof(cnt), "%u", r->count);
	rc = wa_signal_pad(r->pb, r->len, &padded, &plen);
	rc = rc ?: wa_signal_encrypt(cl->sig, &r->addr, padded, plen, &type, &ct, &clen);
	if (rc)
		goto out;
	rc = Y_ENOMEM;
	n = wa_node_new("message");
	if (!n || cl_attrs(n, "id", r->id, "to", r->to, "type", "text", "device_fanout", "false",
			   NULL) ||
	    !(parts = wa_node_add_child(n, "participants")) || !(to = wa_node_add_child(parts, "to")) ||
	    cl_attrs(to, "jid", r->dev_jid, NULL) || !(enc = wa_node_add_child(to, "enc")) ||
	    wa_node_set_bytes(enc, ct, clen) ||
	    cl_attrs(enc, "v", "2", "type", wa_signal_type_name(type), "count", cnt, NULL))
		goto out;
	if (type == WA_SIGNAL_PKMSG && cl->creds.account_len &&
	    (!(di = wa_node_add_child(n, "device-identity")) ||
	     wa_node_set_bytes(di, cl->creds.account, cl->creds.account_len)))
		goto out;
	rc = cl_send_durable(cl, &n); /* a new encryption: same rule as a send */
	if (!rc)
		LOG_INFO("client answered a retry receipt", "{s:s, s:s, s:i}", "id", r->id, "device",
			 r->dev_jid, "count", (int)r->count);
out:
	if (rc)
		LOG_WARN("client cannot answer a retry receipt", "{s:s, s:s}", "id", r->id, "error",
			 y_strerror(rc));
	wa_node_free(n);
	free(padded);
	free(ct);
}

static void on_bundle(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_resend *r = cl->resend;
	const struct wa_node *list, *u;
	struct wa_signal_bundle b;
	int rc = err ? err : Y_EINVAL;

	if (cl->conn != c || !r)
		return;
	cl->resend = NULL;
	list = !err && n ? wa_node_child(n, "list") : NULL;
	u = list ? wa_node_child(list, "user") : NULL;
	if (u) {
		rc = cl_bundle_from_node(u, &b);
		rc = rc ?: wa_signal_session_from_bundle(cl->sig, &r->addr, &b);
	}
	if (rc)
		LOG_WARN("client retry: no bundle for the device", "{s:s, s:s}", "device", r->dev_jid,
			 "error", y_strerror(rc));
	else
		resend_send(cl, r);
	resend_free(r);
}

/* <receipt type="retry" id from=DEVICE><retry count id t v/>...</receipt> */
int cl_retry_received(struct wa_client *cl, const struct wa_node *rc_node)
{
	const char *id = wa_node_attr(rc_node, "id"), *from = wa_node_attr(rc_node, "from");
	const struct wa_node *rt = wa_node_child(rc_node, "retry");
	struct cl_recent *m = NULL;
	struct cl_resend *r;
	struct wa_node *iq, *key, *u;
	struct wa_jid j;
	char user[WA_SIGNAL_NAME_MAX], server[16];
	uint64_t count = 1;

	if (!id || !from || !cl->sig || wa_jid_parse(from, strlen(from), &j) || !j.user_len ||
	    j.user_len >= sizeof(user) || j.server_len >= sizeof(server))
		return Y_OK;
	if (rt)
		wa_node_attr_u64(rt, "count", &count);
	for (unsigned i = 0; cl->recent && i < CL_RECENT_MAX; i++)
		if (cl->recent[i].pb && !strcmp(cl->recent[i].id, id))
			m = &cl->recent[i];
	if (!m || count > CL_RETRY_MAX || cl->resend) {
		LOG_INFO("client retry receipt not answered", "{s:s, s:s, s:b, s:i}", "id", id, "from",
			 from, "known", m != NULL, "count", (int)count);
		return Y_OK;
	}
	memcpy(user, j.user, j.user_len);
	user[j.user_len] = 0;
	memcpy(server, j.server, j.server_len);
	server[j.server_len] = 0;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->pb = malloc(m->len)) ||
	    wa_signal_address(&r->addr, user, server, 0, j.device, WA_SIGNAL_ADDR_DOMAIN)) {
		resend_free(r);
		return Y_OK;
	}
	memcpy(r->pb, m->pb, m->len);
	r->len = m->len;
	r->count = (unsigned)count;
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->to, sizeof(r->to), "%s", m->to);
	cl_device_jid(user, server, j.device, r->dev_jid, sizeof(r->dev_jid));
	/* a new session, as whatsmeow does when the peer could not decrypt */
	wa_signal_delete_session(cl->sig, &r->addr);
	iq = cl_iq_new(cl, "get", "encrypt");
	if (!iq || !(key = wa_node_add_child(iq, "key")) || !(u = wa_node_add_child(key, "user")) ||
	    cl_attrs(u, "jid", r->dev_jid, "reason", "identity", NULL)) {
		wa_node_free(iq);
		resend_free(r);
		return Y_OK;
	}
	cl->resend = r;
	if (cl_iq_send(cl, iq, on_bundle)) {
		cl->resend = NULL;
		resend_free(r);
	}
	return Y_OK;
}
