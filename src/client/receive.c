/*
 * Incoming messages (protocol-map.md §8.2-§8.3, §8.5): decrypt the pkmsg
 * or msg meant for this device, unpad, unwrap a DeviceSentMessage (a copy
 * from our own other device), hand the Message up, then the delivery
 * receipt and the ack. A message that does not decrypt gets a retry receipt
 * (at most CL_RETRY_MAX per id) and an ack; one already seen (its id in the
 * ring of recent ids, or its Signal key used already) is not handed up
 * twice, and is receipted and acknowledged again once stored. Group
 * messages (skmsg) are acknowledged and not decrypted yet.
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

struct cl_seen *cl_seen_find(const struct wa_client *cl, const char *id)
{
	for (unsigned i = 0; i < cl->seen_n; i++)
		if (!strcmp(cl->seen[i].id, id))
			return &cl->seen[i];
	return NULL;
}

struct cl_seen *cl_seen_mark(struct wa_client *cl, const char *id, bool done)
{
	struct cl_seen *e;

	if (cl->seen_n == cl->seen_cap && cl->seen_cap < CL_SEEN_MAX) {
		unsigned cap = cl->seen_cap ? cl->seen_cap * 2 : CL_SEEN_MIN;
		struct cl_seen *s;

		cap = cap < CL_SEEN_MAX ? cap : CL_SEEN_MAX;
		/* on ENOMEM the ring keeps its size and overwrites its oldest */
		if ((s = realloc(cl->seen, cap * sizeof(*s)))) {
			cl->seen = s;
			cl->seen_cap = cap;
		} else if (!cl->seen_cap) {
			return NULL;
		}
	}
	if (cl->seen_n < cl->seen_cap) {
		e = &cl->seen[cl->seen_n++];
	} else {
		e = &cl->seen[cl->seen_pos];
		cl->seen_pos = (cl->seen_pos + 1) % cl->seen_cap;
	}
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->done = done;
	return e;
}

void cl_receive_free(struct wa_client *cl)
{
	free(cl->seen);
	cl->seen = NULL;
	cl->seen_n = cl->seen_cap = cl->seen_pos = 0;
	free(cl->retries);
	cl->retries = NULL;
	cl->retry_pos = 0;
}

/* How many retries we asked for id, counting this one (1 when there is no
 * memory to count them in). */
static unsigned retry_count(struct wa_client *cl, const char *id)
{
	if (!cl->retries && !(cl->retries = calloc(CL_RETRY_SLOTS, sizeof(*cl->retries))))
		return 1;
	for (unsigned i = 0; i < CL_RETRY_SLOTS; i++)
		if (!strcmp(cl->retries[i].id, id))
			return ++cl->retries[i].count;
	snprintf(cl->retries[cl->retry_pos].id, sizeof(cl->retries[0].id), "%s", id);
	cl->retries[cl->retry_pos].count = 1;
	cl->retry_pos = (cl->retry_pos + 1) % CL_RETRY_SLOTS;
	return 1;
}

/* <ack id to=from class="message" type [participant] [recipient] [error]>,
 * or NULL on ENOMEM. */
static struct wa_node *ack_node(const struct wa_node *m, const char *error)
{
	const char *type = wa_node_attr(m, "type"), *part = wa_node_attr(m, "participant");
	const char *rcpt = wa_node_attr(m, "recipient");
	struct wa_node *a = wa_node_new("ack");

	if (a && !cl_attrs(a, "id", wa_node_attr(m, "id"), "to", wa_node_attr(m, "from"), "class",
			   "message", NULL) &&
	    (!type || !wa_node_add_attr(a, "type", type)) &&
	    (!part || !wa_node_add_attr(a, "participant", part)) &&
	    (!rcpt || !wa_node_add_attr(a, "recipient", rcpt)) &&
	    (!error || !wa_node_add_attr(a, "error", error)))
		return a;
	wa_node_free(a);
	return NULL;
}

/* The delivery receipt: plain, "sender" for our own devices' copies,
 * "peer_msg" for the phone's peer messages; NULL on ENOMEM. */
static struct wa_node *receipt_node(const struct wa_node *m)
{
	const char *cat = wa_node_attr(m, "category"), *rcpt = wa_node_attr(m, "recipient");
	const char *part = wa_node_attr(m, "participant");
	const char *type = cat && !strcmp(cat, "peer") ? "peer_msg" : rcpt ? "sender" : NULL;
	struct wa_node *r = wa_node_new("receipt");

	if (r && !cl_attrs(r, "id", wa_node_attr(m, "id"), "to", wa_node_attr(m, "from"), NULL) &&
	    (!type || !wa_node_add_attr(r, "type", type)) &&
	    (!part || !wa_node_add_attr(r, "participant", part)) &&
	    (!rcpt || !wa_node_add_attr(r, "recipient", rcpt)))
		return r;
	wa_node_free(r);
	return NULL;
}

static int send_owned(struct wa_client *cl, struct wa_node *n)
{
	int rc = n ? cl_send(cl, n) : Y_ENOMEM;

	wa_node_free(n);
	return rc;
}

static int message_ack(struct wa_client *cl, const struct wa_node *m, const char *error)
{
	return send_owned(cl, ack_node(m, error));
}

static int delivery_receipt(struct wa_client *cl, const struct wa_node *m)
{
	return send_owned(cl, receipt_node(m));
}

/* ---- receipts that wait for the message to be stored (opts.defer_receipts) ---- */

/* Keeps the receipt and the ack of message m until wa_client_message_stored;
 * past CL_UNSTORED_MAX waiting, they go at once (the server redelivering a
 * message we have not acknowledged is the safe side; holding without bound
 * is not). */
static int defer_receipts(struct wa_client *cl, const struct wa_node *m)
{
	struct cl_unstored *u;

	if (cl->nunstored >= CL_UNSTORED_MAX || !(u = calloc(1, sizeof(*u))))
		return Y_ENOMEM;
	snprintf(u->id, sizeof(u->id), "%s", wa_node_attr(m, "id"));
	u->receipt = receipt_node(m);
	u->ack = ack_node(m, NULL);
	if (!u->receipt || !u->ack) {
		wa_node_free(u->receipt);
		wa_node_free(u->ack);
		free(u);
		return Y_ENOMEM;
	}
	u->next = cl->unstored;
	cl->unstored = u;
	cl->nunstored++;
	return Y_OK;
}

/* Whether the receipt and ack of id wait in cl->unstored already. */
static bool unstored_has(const struct wa_client *cl, const char *id)
{
	for (const struct cl_unstored *u = cl->unstored; u; u = u->next)
		if (!strcmp(u->id, id))
			return true;
	return false;
}

void wa_client_message_stored(struct wa_client *cl, const char *id)
{
	struct cl_seen *e = cl_seen_find(cl, id);

	if (e)
		e->done = true; /* a later redelivery is acknowledged at once */
	for (struct cl_unstored **pp = &cl->unstored; *pp; pp = &(*pp)->next) {
		struct cl_unstored *u = *pp;

		if (strcmp(u->id, id))
			continue;
		*pp = u->next;
		cl->nunstored--;
		if (cl->conn && send_owned(cl, u->receipt) == Y_OK)
			send_owned(cl, u->ack);
		else
			wa_node_free(u->ack);
		free(u);
		return;
	}
}

void cl_unstored_reset(struct wa_client *cl)
{
	while (cl->unstored) {
		struct cl_unstored *u = cl->unstored;

		cl->unstored = u->next;
		wa_node_free(u->receipt);
		wa_node_free(u->ack);
		free(u);
	}
	cl->nunstored = 0;
}

static int retry_receipt(struct wa_client *cl, const struct wa_node *m, unsigned count)
{
	const char *t = wa_node_attr(m, "t"), *part = wa_node_attr(m, "participant");
	struct wa_node *r = wa_node_new("receipt"), *k, *reg;
	char cnt[12];
	uint8_t b4[4];
	int rc = Y_ENOMEM;

	snprintf(cnt, sizeof(cnt), "%u", count);
	wa_signal_put_be32(b4, cl->creds.identity.registration_id);
	if (r && !cl_attrs(r, "id", wa_node_attr(m, "id"), "to", wa_node_attr(m, "from"), "type",
			   "retry", NULL) &&
	    (!part || !wa_node_add_attr(r, "participant", part)) &&
	    (k = wa_node_add_child(r, "retry")) &&
	    !cl_attrs(k, "count", cnt, "id", wa_node_attr(m, "id"), "t", t ? t : "0", "v", "1",
		      NULL) &&
	    (reg = wa_node_add_child(r, "registration")) && !wa_node_set_bytes(reg, b4, 4))
		rc = cl_send(cl, r);
	wa_node_free(r);
	return rc;
}

static char *dup_user_jid(const struct wa_jid *j)
{
	char *s = malloc(j->user_len + j->server_len + 2);

	if (s)
		sprintf(s, "%.*s@%.*s", (int)j->user_len, j->user, (int)j->server_len, j->server);
	return s;
}

static bool is_peer(const struct wa_node *m)
{
	const char *cat = wa_node_attr(m, "category");

	return cat && !strcmp(cat, "peer");
}

static bool server_is(const struct wa_jid *j, const char *server)
{
	return j->server_len == strlen(server) && !memcmp(j->server, server, j->server_len);
}

void cl_lid_learnt(struct wa_client *cl, const char *lid_jid, const char *pn_jid)
{
	size_t nl = lid_jid ? strcspn(lid_jid, ":@") : 0, np = pn_jid ? strcspn(pn_jid, ":@") : 0;
	char lid[WA_SIGNAL_NAME_MAX + 8], pn[WA_SIGNAL_NAME_MAX + 24];

	if (!nl || !np || nl >= WA_SIGNAL_NAME_MAX || np >= WA_SIGNAL_NAME_MAX ||
	    strcmp(lid_jid + strcspn(lid_jid, "@"), "@lid") ||
	    strcmp(pn_jid + strcspn(pn_jid, "@"), "@" WA_SERVER_USER) || !cl->cbs.on_lid_map ||
	    cl->freeing)
		return;
	snprintf(lid, sizeof(lid), "%.*s@lid", (int)nl, lid_jid);
	snprintf(pn, sizeof(pn), "%.*s@%s", (int)np, pn_jid, WA_SERVER_USER);
	cl->cbs.on_lid_map(cl, lid, pn, cl->ud);
}

/* The Signal address to decrypt with (protocol-map.md §14). From a LID
 * (from=LID:dev@lid, sender_pn): the LID address, after moving a
 * phone-number session from before once, so an existing conversation goes
 * on. From a phone number with sender_lid, a `msg` for which we hold no
 * phone-number session but a LID one is on the session we moved (Baileys 7
 * keys one session by LID whatever namespace its stanza uses); Baileys 6
 * keeps one session per namespace, so a phone-number session is used as
 * such. *a is the stanza's address on entry. */
static void decrypt_address(struct wa_client *cl, const struct wa_node *m, const struct wa_jid *from,
			    enum wa_signal_type type, struct wa_signal_addr *a,
			    struct wa_signal_addr *lid_alt)
{
	bool by_lid = server_is(from, WA_SERVER_LID);
	const char *alt = wa_node_attr(m, by_lid ? "sender_pn" : "sender_lid");
	struct wa_jid aj;
	struct wa_signal_addr other;
	char user[WA_SIGNAL_NAME_MAX];
	int rc;

	if ((!by_lid && !server_is(from, WA_SERVER_USER)) || !alt ||
	    wa_jid_parse(alt, strlen(alt), &aj) || !aj.user_len || aj.user_len >= sizeof(user) ||
	    !server_is(&aj, by_lid ? WA_SERVER_USER : WA_SERVER_LID))
		return;
	memcpy(user, aj.user, aj.user_len);
	user[aj.user_len] = 0;
	if (wa_signal_address(&other, user, by_lid ? WA_SERVER_USER : WA_SERVER_LID, 0,
			      from->device, WA_SIGNAL_ADDR_DOMAIN))
		return;
	if (!by_lid) {
		if (wa_signal_has_session(cl->sig, &other) != 1)
			return;
		if (type == WA_SIGNAL_MSG && wa_signal_has_session(cl->sig, a) == 0)
			*a = other;
		else
			*lid_alt = other; /* tried if the stanza's address cannot decrypt it */
		return;
	}
	rc = wa_signal_migrate_session(cl->sig, &other, a);
	if (rc == 1)
		LOG_INFO("client session moved to the LID address", "{s:s, s:s, s:i}", "from",
			 other.name, "to", a->name, "device", (int)a->device);
	else if (rc < 0)
		LOG_WARN("client cannot move a session to the LID address", "{s:s, s:s}", "to",
			 a->name, "error", y_strerror(rc));
}

/* The JID's user is ours (by phone number or LID). */
static bool own_user(const struct wa_client *cl, const struct wa_jid *j)
{
	const char *mine[2] = { cl->creds.jid, cl->creds.lid };

	for (int i = 0; i < 2; i++) {
		size_t n = strcspn(mine[i], ":@");

		if (n && n == j->user_len && !memcmp(mine[i], j->user, n))
			return true;
	}
	return false;
}

/* Hands a decrypted Message up. */
static int hand_up(struct wa_client *cl, const struct wa_node *m, const struct wa_jid *from,
		   const uint8_t *pt, size_t len)
{
	Wa__Message *msg = NULL, *inner;
	struct wa_client_inbound in;
	struct ybuf packed = YBUF_INIT(WA_SIGNAL_MAX_MESSAGE);
	const char *rcpt = wa_node_attr(m, "recipient");
	const char *spn = wa_node_attr(m, "sender_pn"), *slid = wa_node_attr(m, "sender_lid");
	char *user = dup_user_jid(from);
	uint64_t t = 0;
	int rc = wa_pb_unpack(&wa__message__descriptor, pt, len, (ProtobufCMessage **)&msg);

	if (rc || !user)
		goto out;
	memset(&in, 0, sizeof(in));
	inner = msg;
	in.pb = pt;
	in.pb_len = len;
	if (msg->devicesentmessage && msg->devicesentmessage->message) {
		inner = msg->devicesentmessage->message;
		in.from_me = 1;
		rc = wa_pb_pack(&inner->base, &packed);
		if (rc)
			goto out;
		in.pb = packed.data;
		in.pb_len = packed.len;
	}
	in.id = wa_node_attr(m, "id");
	in.from = wa_node_attr(m, "from");
	in.from_me |= rcpt != NULL || own_user(cl, from);
	in.chat = rcpt ? rcpt
		: msg->devicesentmessage && msg->devicesentmessage->destinationjid
			? msg->devicesentmessage->destinationjid : user;
	in.sender_pn = spn ? spn : server_is(from, WA_SERVER_USER) ? user : NULL;
	in.sender_lid = slid ? slid : server_is(from, WA_SERVER_LID) ? user : NULL;
	cl_lid_learnt(cl, in.sender_lid, in.sender_pn);
	if (rcpt) { /* our copy: the chat by both names */
		const char *prl = wa_node_attr(m, "peer_recipient_lid");
		const char *prp = wa_node_attr(m, "peer_recipient_pn");

		cl_lid_learnt(cl, prl ? prl : rcpt, prp ? prp : rcpt);
		if (prp && !strchr(rcpt, ':') && !strcmp(rcpt + strcspn(rcpt, "@"), "@lid"))
			in.chat = prp; /* the API names chats by phone where it can */
	}
	in.push_name = wa_node_attr(m, "notify");
	if (!wa_node_attr_u64(m, "t", &t))
		in.t = (int64_t)t;
	if (inner->conversation) {
		in.text = inner->conversation;
	} else if (inner->extendedtextmessage) {
		in.text = inner->extendedtextmessage->text;
		if (inner->extendedtextmessage->contextinfo)
			in.quoted_id = inner->extendedtextmessage->contextinfo->stanzaid;
	}
	/* our phone's app-state keys (docs/appstate.md) */
	if (inner->protocolmessage && inner->protocolmessage->has_type &&
	    inner->protocolmessage->type ==
		    WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__APP_STATE_SYNC_KEY_SHARE &&
	    own_user(cl, from))
		cl_appstate_key_share(cl, inner->protocolmessage->appstatesynckeyshare);
	/* the phone's peer messages (app-state keys, history-sync notices) are
	 * protocol, not chat: receipted, not handed up */
	if (cl->cbs.on_message && !cl->freeing && !is_peer(m))
		cl->cbs.on_message(cl, &in, cl->ud);
out:
	if (msg)
		protobuf_c_message_free_unpacked(&msg->base, NULL);
	ybuf_release(&packed);
	free(user);
	return rc;
}

int cl_message_received(struct wa_client *cl, const struct wa_node *m)
{
	const char *id = wa_node_attr(m, "id"), *from = wa_node_attr(m, "from");
	const struct wa_node *enc = NULL;
	struct wa_jid j;
	struct wa_signal_addr a, lid_alt = { .name = "" };
	enum wa_signal_type type = 0;
	uint8_t *pt = NULL;
	size_t ptl = 0, unp = 0;
	struct cl_seen *sn;
	int rc;

	if (!id || !from || !*id || strlen(id) >= WA_MSG_ID_MAX)
		return Y_OK;
	if (!cl->sig)
		return Y_OK; /* not acknowledged: the server keeps it */
	if (wa_node_attr_jid(m, "from", &j) || !j.user_len)
		return message_ack(cl, m, "487");
	if ((sn = cl_seen_find(cl, id))) {
		/* a redelivery (the server had no ack from us, e.g. the connection
		 * dropped first): acknowledged once its row is committed, so the
		 * server stops redelivering it; until then its receipt and ack
		 * wait for wa_client_message_stored like the first copy's */
		if (!sn->done)
			return unstored_has(cl, id) || defer_receipts(cl, m) == Y_OK
				       ? Y_OK : message_ack(cl, m, NULL);
		rc = delivery_receipt(cl, m);
		return rc ?: message_ack(cl, m, NULL);
	}
	for (uint32_t i = 0; m->content == WA_CONTENT_LIST && i < m->nkids; i++) {
		const struct wa_node *e = m->kids[i];

		if (wa_node_is(e, "enc") && !wa_signal_type_parse(wa_node_attr(e, "type"), &type) &&
		    type != WA_SIGNAL_SKMSG && e->content == WA_CONTENT_BYTES) {
			enc = e;
			break;
		}
	}
	if (!enc) {
		LOG_INFO("client message without an enc for us", "{s:s}", "id", id);
		return message_ack(cl, m, wa_node_child(m, "enc") ? NULL : "488");
	}
	{
		/* the JID's parts are borrowed and not NUL-terminated: copy them */
		char user[WA_SIGNAL_NAME_MAX], server[32];

		if (j.user_len >= sizeof(user) || j.server_len >= sizeof(server))
			return message_ack(cl, m, "487");
		memcpy(user, j.user, j.user_len);
		user[j.user_len] = 0;
		memcpy(server, j.server, j.server_len);
		server[j.server_len] = 0;
		if (wa_signal_address(&a, user, server, j.agent, j.device, WA_SIGNAL_ADDR_DOMAIN))
			return message_ack(cl, m, "487");
	}
	decrypt_address(cl, m, &j, type, &a, &lid_alt);
	rc = wa_signal_decrypt(cl->sig, &a, type, enc->bytes, enc->nbytes, &pt, &ptl);
	if (rc && rc != Y_EEXIST && lid_alt.name[0]) {
		/* e.g. a redelivered pkmsg whose session moved to the LID address:
		 * a missing prekey fails without saving anything, so this is clean */
		free(pt);
		pt = NULL;
		rc = wa_signal_decrypt(cl->sig, &lid_alt, type, enc->bytes, enc->nbytes, &pt, &ptl);
	}
	rc = rc ?: wa_signal_unpad(pt, ptl, &unp);
	if (rc == Y_EEXIST) {
		/* its key was used already: a replay of what we had. The Signal
		 * state is flushed only after the batch's inbound rows commit
		 * (service/engine.c), so it was stored: acknowledge it, or the
		 * server redelivers it on every connection */
		free(pt);
		cl_seen_mark(cl, id, true);
		LOG_INFO("client message redelivered after it was stored", "{s:s}", "id", id);
		rc = delivery_receipt(cl, m);
		return rc ?: message_ack(cl, m, NULL);
	}
	if (rc) {
		unsigned n = retry_count(cl, id);

		free(pt);
		LOG_WARN("client cannot decrypt a message", "{s:s, s:s, s:s, s:i}", "id", id, "from",
			 from, "error", y_strerror(rc), "retry", (int)n);
		if (n <= CL_RETRY_MAX && (rc = retry_receipt(cl, m, n)))
			return rc;
		return message_ack(cl, m, NULL);
	}
	cl_seen_mark(cl, id, true);
	if (hand_up(cl, m, &j, pt, unp)) {
		free(pt);
		LOG_WARN("client message is not a Message", "{s:s}", "id", id);
		return message_ack(cl, m, "491");
	}
	free(pt);
	/* handed up to be stored: its receipt and ack wait for the store, so a
	 * crash before the row is committed leaves it for the server to
	 * redeliver instead of losing it */
	if (cl->opts.defer_receipts && cl->cbs.on_message && !is_peer(m) &&
	    defer_receipts(cl, m) == Y_OK) {
		/* looked up again: the ring moves when it grows */
		if ((sn = cl_seen_find(cl, id)))
			sn->done = false;
		return Y_OK;
	}
	rc = delivery_receipt(cl, m);
	return rc ?: message_ack(cl, m, NULL);
}
