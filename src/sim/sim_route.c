/*
 * Message and receipt routing between simulated devices (protocol-map.md
 * §10): the <participants> fan-out in the chat's namespace, copies for the
 * sender's own devices, server acks, receipts forwarded to the sender's
 * devices, and delivery now or into a device's offline queue. Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/binary.h"
#include "wa/frame.h"
#include "wa/jid.h"

/* Delivers a stanza to a device now, or queues it (with offline="1") until
 * it reconnects. Takes ownership of n. */
/* A copy of message n sent to d, kept until d acknowledges it (bounded:
 * past SIM_QUEUE_MAX the oldest are trusted delivered). */
void sim_device_keep_unacked(struct sim_device *d, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id");
	struct sim_unacked *u;

	if (!d->conn || !wa_node_is(n, "message") || !id || strlen(id) >= sizeof(u->id) ||
	    d->nunacked >= SIM_QUEUE_MAX ||
	    !(u = calloc(1, sizeof(*u))))
		return;
	ybuf_init(&u->enc, WA_FRAME_MAX);
	u->dict = d->conn->dict;
	if (wa_binary_encode_node(n, u->dict, &u->enc)) {
		ybuf_release(&u->enc);
		free(u);
		return;
	}
	snprintf(u->id, sizeof(u->id), "%s", id);
	u->next = d->unacked;
	d->unacked = u;
	d->nunacked++;
}

void sim_device_unacked_free(struct sim_device *d)
{
	while (d->unacked) {
		struct sim_unacked *u = d->unacked;

		d->unacked = u->next;
		ybuf_release(&u->enc);
		free(u);
	}
	d->nunacked = 0;
}

void sim_device_requeue_unacked(struct sim_device *d)
{
	/* the list is newest first: pushing each to the queue's front leaves
	 * them oldest first, ahead of what was queued while they were out */
	while (d->unacked) {
		struct sim_unacked *u = d->unacked;
		struct wa_node *n = NULL;
		struct sim_pending *p;

		d->unacked = u->next;
		d->nunacked--;
		if (!wa_binary_decode_node(u->enc.data, u->enc.len, u->dict, &n) &&
		    (wa_node_attr(n, "offline") || !wa_node_add_attr(n, "offline", "1")) &&
		    (p = calloc(1, sizeof(*p)))) {
			p->node = n;
			p->next = d->qhead;
			d->qhead = p;
			if (!d->qtail)
				d->qtail = p;
			d->nq++;
			n = NULL;
		}
		wa_node_free(n);
		ybuf_release(&u->enc);
		free(u);
	}
}

int sim_route_ack(struct sim_conn *c, const struct wa_node *n)
{
	const char *cls = wa_node_attr(n, "class"), *id = wa_node_attr(n, "id");
	struct sim_device *d = c->dev;

	if (!d || !id || !cls || strcmp(cls, "message") || c->sim->ignore_acks)
		return Y_OK;
	for (struct sim_unacked **pp = &d->unacked; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->id, id)) {
			struct sim_unacked *u = *pp;

			*pp = u->next;
			d->nunacked--;
			ybuf_release(&u->enc);
			free(u);
			break;
		}
	return Y_OK;
}

int sim_deliver(struct sim *s, struct sim_device *d, struct wa_node *n)
{
	struct sim_pending *p;

	if (!n)
		return Y_ENOMEM;
	if (d->conn && d->conn->state == C_OPEN) {
		sim_device_keep_unacked(d, n);
		return sim_conn_send(d->conn, n);
	}
	if (d->nq >= SIM_QUEUE_MAX || wa_node_add_attr(n, "offline", "1") ||
	    !(p = calloc(1, sizeof(*p)))) {
		wa_node_free(n);
		return Y_ETOOBIG;
	}
	p->node = n;
	if (d->qtail)
		d->qtail->next = p;
	else
		d->qhead = p;
	d->qtail = p;
	d->nq++;
	s->st.messages_queued++;
	return Y_OK;
}

/* Appends a deep copy of src (attributes, content, children) to parent. */
static int copy_node(struct wa_node *parent, const struct wa_node *src, int depth)
{
	struct wa_node *d;
	int rc = Y_OK;

	if (depth > WA_BINARY_MAX_DEPTH)
		return Y_ETOOBIG;
	d = wa_node_add_child(parent, src->tag);
	if (!d)
		return Y_ENOMEM;
	for (uint32_t i = 0; !rc && i < src->nattrs; i++) {
		const struct wa_attr *a = &src->attrs[i];

		if (a->val.type == WA_VAL_JID)
			rc = wa_node_add_attr_jid(d, a->key, &a->val.jid);
		else
			rc = wa_node_add_attr_len(d, a->key, a->key_len, a->val.str, a->val.len);
	}
	if (rc)
		return rc;
	switch (src->content) {
	case WA_CONTENT_BYTES:
		return wa_node_set_bytes(d, src->bytes, src->nbytes);
	case WA_CONTENT_VALUE:
		if (src->val.type == WA_VAL_JID)
			return wa_node_set_jid(d, &src->val.jid);
		return wa_node_set_text(d, src->val.str, src->val.len);
	case WA_CONTENT_LIST:
		if (!src->nkids)
			return wa_node_set_empty_list(d);
		for (uint32_t i = 0; !rc && i < src->nkids; i++)
			rc = copy_node(d, src->kids[i], depth + 1);
		return rc;
	default:
		return Y_OK;
	}
}

static int send_ack(struct sim_conn *c, const char *cls, const char *id, const char *from,
		    const char *type, const char *error)
{
	struct wa_node *n = wa_node_new("ack");
	char t[24];

	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	if (!n || sim_attrs(n, "class", cls, "id", id, "from", from, "type", type, "t", t, "error",
			    error, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	return sim_conn_send(c, n);
}
/* One <to jid><enc/></to> (or the stanza's own <enc> for a direct send):
 * builds the copy the recipient device receives and delivers it. */
static int route_one(struct sim_conn *c, const struct wa_node *msg, const char *to_jid,
		     const struct wa_node *holder, struct sim_account *dest, bool lid_mode)
{
	struct sim *s = c->sim;
	struct sim_account *me = c->acct, *ra;
	struct sim_device *rd;
	struct wa_node *n;
	uint32_t rdev;
	bool rlid;
	char from[64], alt[64], chat_alt[64], t[24], notify[SIM_NAME_MAX + 1];
	const char *type = wa_node_attr(msg, "type");

	ra = sim_account_by_jid(s, to_jid, &rdev, &rlid);
	if (!ra)
		return Y_OK; /* unknown user */
	if (rdev == 0) {
		sim_phone_receive(c, ra, holder, wa_node_attr(msg, "id"), lid_mode);
		return Y_OK;
	}
	rd = sim_device_find(ra, rdev);
	if (!rd)
		return Y_OK;
	/* a migrated (LID-first) account hears of everyone by LID */
	lid_mode = lid_mode || ra->lid_first;
	sim_device_jid(me, c->dev->id, lid_mode, from, sizeof(from));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	/* the sender's push name, or a made-up one until it announced one */
	if (me->name[0])
		memcpy(notify, me->name, sizeof(notify));
	else
		snprintf(notify, sizeof(notify), "Sim %s", me->phone);
	n = wa_node_new("message");
	if (!n || sim_attrs(n, "from", from, "id", wa_node_attr(msg, "id"), "t", t, "type",
			    type ? type : "text", "notify", notify, NULL))
		goto nomem;
	if (ra == me && dest != me) {
		/* a copy for the sender's other device: keyed by the chat, in the
		 * namespace of from */
		if (dest)
			sim_device_jid(dest, 0, lid_mode, alt, sizeof(alt));
		if (sim_attrs(n, "recipient", dest ? alt : wa_node_attr(msg, "to"), NULL))
			goto nomem;
		if (dest && (lid_mode || !ra->lid_hidden)) {
			sim_device_jid(dest, 0, !lid_mode, chat_alt, sizeof(chat_alt));
			if (sim_attrs(n, lid_mode ? "peer_recipient_pn" : "peer_recipient_lid", chat_alt,
				      NULL))
				goto nomem;
		}
	} else if (lid_mode || !ra->lid_hidden) {
		sim_device_jid(me, 0, !lid_mode, alt, sizeof(alt));
		if (sim_attrs(n, lid_mode ? "sender_pn" : "sender_lid", alt, NULL))
			goto nomem;
	}
	for (uint32_t i = 0; holder->content == WA_CONTENT_LIST && i < holder->nkids; i++)
		if (wa_node_is(holder->kids[i], "enc") && copy_node(n, holder->kids[i], 0))
			goto nomem;
	/* what the message kind put on the stanza travels unchanged (§17.9):
	 * the edit attribute and the <meta> of polls */
	if (wa_node_attr(msg, "edit") && sim_attrs(n, "edit", wa_node_attr(msg, "edit"), NULL))
		goto nomem;
	if (wa_node_child(msg, "meta") && copy_node(n, wa_node_child(msg, "meta"), 0))
		goto nomem;
	s->st.messages_routed++;
	return sim_deliver(s, rd, n);
nomem:
	wa_node_free(n);
	return Y_ENOMEM;
}

/* Every <enc> under holder has v="2" and a known type. */
static bool encs_valid(const struct wa_node *holder)
{
	int found = 0;

	for (uint32_t i = 0; holder->content == WA_CONTENT_LIST && i < holder->nkids; i++) {
		const struct wa_node *e = holder->kids[i];
		const char *v, *type;
		enum wa_signal_type t;

		if (!wa_node_is(e, "enc"))
			continue;
		v = wa_node_attr(e, "v");
		type = wa_node_attr(e, "type");
		if (!v || strcmp(v, "2") || !type || wa_signal_type_parse(type, &t) ||
		    e->content != WA_CONTENT_BYTES || !e->nbytes)
			return false;
		found++;
	}
	return found > 0;
}

int sim_route_message(struct sim_conn *c, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id"), *to = wa_node_attr(n, "to");
	struct wa_node *parts = wa_node_child(n, "participants");
	struct sim_account *dest;
	uint32_t ddev;
	bool dlid;
	int rc = Y_OK;

	if (!c->dev)
		return Y_OK;
	if (!id || !to)
		return send_ack(c, "message", id ? id : "", to ? to : S_WA, NULL, "400");
	dest = sim_account_by_jid(c->sim, to, &ddev, &dlid);
	if (!parts && !encs_valid(n))
		return send_ack(c, "message", id, to, NULL, "400");
	if (parts) {
		/* the whole fan-out is in one namespace: the chat's */
		for (uint32_t i = 0; parts->content == WA_CONTENT_LIST && i < parts->nkids; i++) {
			const struct wa_node *k = parts->kids[i];
			const char *jid = wa_node_attr(k, "jid");
			struct wa_jid j;
			bool klid;

			if (!wa_node_is(k, "to") || !jid || wa_jid_parse(jid, strlen(jid), &j) ||
			    !encs_valid(k))
				return send_ack(c, "message", id, to, NULL, "400");
			klid = j.server_len == 3 && !memcmp(j.server, "lid", 3);
			if (klid != dlid)
				return send_ack(c, "message", id, to, NULL, "400");
		}
	}
	/* a 1:1 message to someone else (not the phone's peer messages) */
	if (dest && dest != c->acct && !sim_tctoken_check(c, n, dest))
		return send_ack(c, "message", id, to, NULL, "463");
	if (parts) {
		for (uint32_t i = 0; !rc && parts->content == WA_CONTENT_LIST && i < parts->nkids; i++)
			rc = route_one(c, n, wa_node_attr(parts->kids[i], "jid"), parts->kids[i],
				       dest, dlid);
	} else {
		rc = route_one(c, n, to, n, dest, dlid);
	}
	if (rc && rc != Y_ETOOBIG)
		return rc;
	return send_ack(c, "message", id, to, NULL, NULL);
}

int sim_route_receipt(struct sim_conn *c, const struct wa_node *n)
{
	struct sim *s = c->sim;
	const char *id = wa_node_attr(n, "id"), *to = wa_node_attr(n, "to");
	const char *type = wa_node_attr(n, "type");
	struct sim_account *a;
	uint32_t rdev, fdev;
	bool rlid;
	char from[64], t[24];
	int rc;

	if (!c->dev)
		return Y_OK;
	if (!id)
		return send_ack(c, "receipt", "", to ? to : S_WA, type, "400");
	rc = send_ack(c, "receipt", id, to ? to : S_WA, type, NULL);
	if (rc || !to)
		return rc;
	if (type && (!strcmp(type, "sender") || !strcmp(type, "peer_msg") ||
		     !strcmp(type, "hist_sync")))
		return Y_OK;
	a = sim_account_by_jid(s, to, &rdev, &rlid);
	/* a companion asking its own phone to upload media again */
	if (type && !strcmp(type, "server-error"))
		return a == c->acct ? sim_phone_media_retry(c, n) : Y_OK;
	if (!a || a == c->acct)
		return Y_OK;
	s->st.receipts++;
	/* a retry names the retrying device; the others speak for the account */
	fdev = type && !strcmp(type, "retry") ? c->dev->id : 0;
	/* forwarded in the namespace it was addressed in, or by LID to a
	 * migrated account */
	sim_device_jid(c->acct, fdev, rlid || a->lid_first, from, sizeof(from));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	for (struct sim_device *d = a->devices; d; d = d->next) {
		struct wa_node *f;

		if (type && !strcmp(type, "retry") && rdev && d->id != rdev)
			continue;
		f = wa_node_new("receipt");
		/* an inactive delivery receipt reaches the sender as plain delivery */
		if (!f || sim_attrs(f, "from", from, "id", id, "t", t, "type",
				    type && strcmp(type, "inactive") ? type : NULL, NULL))
			goto nomem;
		for (uint32_t i = 0; n->content == WA_CONTENT_LIST && i < n->nkids; i++)
			if (copy_node(f, n->kids[i], 0))
				goto nomem;
		rc = sim_deliver(s, d, f);
		if (rc && rc != Y_ETOOBIG)
			return rc;
		continue;
nomem:
		wa_node_free(f);
		return Y_ENOMEM;
	}
	return Y_OK;
}
