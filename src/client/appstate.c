/*
 * App state, the client's side (docs/appstate.md; crypto in wa/appstate.c).
 *
 * Keys: our phone shares app-state sync keys in a protocolMessage
 * APP_STATE_SYNC_KEY_SHARE from our own account; each is kept here and
 * handed to the owner (on_appstate_key) to persist. We write with the
 * newest (by timestamp, then arrival).
 *
 * Writes (wa_client_appstate_write) queue in order and run one at a time
 * on the loop: when the collection's state is not known on this
 * connection, it is fetched first (<iq set xmlns=w:sync:app:state><sync>
 * <collection name version return_snapshot/></sync>, every patch after our
 * version verified and applied); then the patch goes up at our version and,
 * once the server took it, our state moves on (on_appstate_state). A 409
 * (another device wrote first) carries the patches we missed: applied, and
 * the write tried once more. Any other refusal drops the write (logged).
 * Before our phone has shared a key, writes wait in the queue (memory only)
 * and go once it comes (cl_appstate_key_share kicks the queue).
 *
 * A server_sync notification (another device wrote) has the collection
 * fetched (after any write in flight): every mutation of the patches it
 * verifies that we understand (archive, pin, mute, read, delete for me,
 * push name) goes to the owner as a struct wa_client_action
 * (on_appstate_action), as do those of the patches a fetch before a write
 * or a 409 brings.
 *
 * Loop thread only, like the rest of the client.
 */
#include "client/client_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/appstate.h"
#include "wa/crypto.h"

#define CL_AS_KEYS_MAX 64  /* sync keys kept */
#define CL_AS_QUEUE_MAX 256 /* writes waiting */
#define CL_AS_FETCH_ROUNDS 16 /* has_more_patches answers followed per fetch */

struct cl_as_key {
	uint8_t id[WA_APPSTATE_KEYID_MAX];
	size_t id_len;
	uint8_t data[32];
	int64_t t;
};

struct cl_as_job {
	struct cl_as_job *next;
	struct wa_client_action a;
	bool retried; /* a 409 was answered once */
};

struct cl_appstate {
	struct cl_as_key keys[CL_AS_KEYS_MAX];
	size_t nkeys;
	struct wa_appstate_state st[5];
	bool known[5];      /* fetched on this connection (or written by us since) */
	struct cl_as_job *head, *tail;
	size_t njobs;
	bool want[5];       /* a server_sync asked for a fetch */
	bool busy;          /* an iq of ours in flight */
	int op_ci;          /* its collection */
	unsigned rounds;    /* has_more_patches answers followed */
	unsigned timeouts;  /* iqs in a row the server did not answer */
	struct wa_appstate_state next; /* the state our upload leads to */
};

/* iqs in a row left unanswered on a live connection before the head write
 * is dropped (each waits the iq timeout first, so this also paces them) */
#define CL_AS_TIMEOUTS_MAX 3

static struct cl_appstate *as_get(struct wa_client *cl)
{
	if (!cl->as && (cl->as = calloc(1, sizeof(*cl->as))))
		for (int i = 0; i < 5; i++)
			wa_appstate_state_init(&cl->as->st[i]);
	return cl->as;
}

static int coll_of(enum wa_client_action_kind k)
{
	switch (k) { /* indexes into wa_appstate_names */
	case WA_ACT_PUSH_NAME: return 0; /* critical_block */
	case WA_ACT_DELETE_FOR_ME:
	case WA_ACT_MUTE: return 2; /* regular_high */
	default: return 4; /* regular_low: archive, pin, markChatAsRead */
	}
}

static int coll_index(const char *name)
{
	for (int i = 0; name && i < 5; i++)
		if (!strcmp(name, wa_appstate_names[i]))
			return i;
	return -1;
}

static void job_pop(struct cl_appstate *as)
{
	struct cl_as_job *j = as->head;

	if (!j)
		return;
	as->head = j->next;
	if (!as->head)
		as->tail = NULL;
	as->njobs--;
	free(j);
}

void cl_appstate_free(struct wa_client *cl)
{
	struct cl_appstate *as = cl->as;

	if (!as)
		return;
	while (as->head)
		job_pop(as);
	for (int i = 0; i < 5; i++)
		wa_appstate_state_release(&as->st[i]);
	wa_appstate_state_release(&as->next);
	wa_wipe(as->keys, sizeof(as->keys));
	free(as);
	cl->as = NULL;
}

void cl_appstate_reset(struct wa_client *cl)
{
	if (!cl->as)
		return;
	cl->as->busy = false; /* its iq's answer goes nowhere now */
	memset(cl->as->known, 0, sizeof(cl->as->known));
}

/* ---- keys ---- */

static int key_put(struct wa_client *cl, const uint8_t *id, size_t id_len, const uint8_t *data,
		   size_t len, int64_t t)
{
	struct cl_appstate *as;
	struct cl_as_key *k = NULL;

	if (!id_len || id_len > WA_APPSTATE_KEYID_MAX || len != 32)
		return Y_EINVAL;
	if (!(as = as_get(cl)))
		return Y_ENOMEM;
	for (size_t i = 0; i < as->nkeys && !k; i++)
		if (as->keys[i].id_len == id_len && !memcmp(as->keys[i].id, id, id_len))
			k = &as->keys[i];
	if (!k && as->nkeys == CL_AS_KEYS_MAX) { /* forget the oldest */
		memmove(as->keys, as->keys + 1, (CL_AS_KEYS_MAX - 1) * sizeof(*as->keys));
		as->nkeys--;
	}
	if (!k)
		k = &as->keys[as->nkeys++];
	memcpy(k->id, id, id_len);
	k->id_len = id_len;
	memcpy(k->data, data, 32);
	k->t = t;
	return Y_OK;
}

/* The key we write with: the newest by timestamp, the last given on a tie. */
static const struct cl_as_key *key_latest(const struct cl_appstate *as)
{
	const struct cl_as_key *best = NULL;

	for (size_t i = 0; as && i < as->nkeys; i++)
		if (!best || as->keys[i].t >= best->t)
			best = &as->keys[i];
	return best;
}

static int get_key(void *ud, const uint8_t *id, size_t len, struct wa_appstate_keys *out)
{
	const struct cl_appstate *as = ud;

	for (size_t i = 0; i < as->nkeys; i++)
		if (as->keys[i].id_len == len && !memcmp(as->keys[i].id, id, len))
			return wa_appstate_keys_expand(out, as->keys[i].data, 32);
	return Y_ENOTFOUND;
}

int wa_client_import_appstate_key(struct wa_client *cl, const uint8_t *id, size_t id_len,
				  const uint8_t *data, size_t len, int64_t t)
{
	return key_put(cl, id, id_len, data, len, t);
}

int wa_client_import_appstate(struct wa_client *cl, const char *name, const uint8_t *blob,
			      size_t len)
{
	int ci = coll_index(name);
	struct cl_appstate *as;

	if (ci < 0)
		return Y_EINVAL;
	if (!(as = as_get(cl)))
		return Y_ENOMEM;
	return wa_appstate_state_load(&as->st[ci], blob, len);
}

static void kick(struct wa_client *cl);

void cl_appstate_key_share(struct wa_client *cl, const Wa__Message__AppStateSyncKeyShare *sh)
{
	size_t added = 0;

	for (size_t i = 0; sh && i < sh->n_keys; i++) {
		const Wa__Message__AppStateSyncKey *k = sh->keys[i];
		const Wa__Message__AppStateSyncKeyData *d = k ? k->keydata : NULL;
		int64_t t;

		if (!k || !k->keyid || !k->keyid->has_keyid || !d || !d->has_keydata)
			continue;
		t = d->has_timestamp ? d->timestamp : 0;
		if (key_put(cl, k->keyid->keyid.data, k->keyid->keyid.len, d->keydata.data,
			    d->keydata.len, t))
			continue;
		added++;
		if (cl->cbs.on_appstate_key && !cl->freeing)
			cl->cbs.on_appstate_key(cl, k->keyid->keyid.data, k->keyid->keyid.len,
						d->keydata.data, d->keydata.len, t, cl->ud);
	}
	if (added) {
		LOG_INFO("client got app-state keys", "{s:i}", "keys", (int)added);
		kick(cl); /* writes queued before the key */
	}
}

/* ---- the collection's state ---- */

static void state_changed(struct wa_client *cl, int ci)
{
	struct ybuf b = YBUF_INIT(0);

	if (cl->cbs.on_appstate_state && !cl->freeing &&
	    !wa_appstate_state_save(&cl->as->st[ci], &b))
		cl->cbs.on_appstate_state(cl, wa_appstate_names[ci], b.data, b.len, cl->ud);
	ybuf_release(&b);
}

/* Another device's mutation m as an action, if it is one we understand. */
static bool as_action(const struct wa_appstate_mutation *m, struct wa_client_action *a)
{
	const Wa__SyncActionValue *v = m->data ? m->data->value : NULL;
	const char *k = m->index_n ? m->index[0] : "";

	memset(a, 0, sizeof(*a));
	if (m->op != WA_APPSTATE_SET || !v)
		return false;
	if (!strcmp(k, "setting_pushName") && v->pushnamesetting && v->pushnamesetting->name) {
		a->kind = WA_ACT_PUSH_NAME;
		snprintf(a->name, sizeof(a->name), "%s", v->pushnamesetting->name);
		return a->name[0] != 0;
	}
	if (m->index_n < 2 || !m->index[1][0] || strlen(m->index[1]) >= sizeof(a->chat))
		return false;
	snprintf(a->chat, sizeof(a->chat), "%s", m->index[1]);
	if (!strcmp(k, "archive") && v->archivechataction) {
		a->kind = WA_ACT_ARCHIVE;
		a->on = v->archivechataction->archived;
	} else if (!strcmp(k, "pin_v1") && v->pinaction) {
		a->kind = WA_ACT_PIN;
		a->on = v->pinaction->pinned;
	} else if (!strcmp(k, "mute") && v->muteaction) {
		a->kind = WA_ACT_MUTE;
		a->on = v->muteaction->muted;
		a->mute_until_ms = a->on && v->muteaction->has_muteendtimestamp
					   ? v->muteaction->muteendtimestamp : a->on ? -1 : 0;
	} else if (!strcmp(k, "markChatAsRead") && v->markchatasreadaction) {
		a->kind = WA_ACT_READ;
		a->on = v->markchatasreadaction->read;
	} else if (!strcmp(k, "deleteMessageForMe") && m->index_n >= 4 &&
		   strlen(m->index[2]) < sizeof(a->msg_id) && m->index[2][0]) {
		a->kind = WA_ACT_DELETE_FOR_ME;
		snprintf(a->msg_id, sizeof(a->msg_id), "%s", m->index[2]);
		a->from_me = !strcmp(m->index[3], "1");
		if (v->deletemessageformeaction && v->deletemessageformeaction->has_messagetimestamp)
			a->msg_t = v->deletemessageformeaction->messagetimestamp;
	} else {
		return false;
	}
	return true;
}

/* Verifies and applies every <patch> of col (under <patches> or col itself)
 * to collection ci; 0, or the first patch's error (the state then stays at
 * the last good one). */
static int apply_patches(struct wa_client *cl, int ci, const struct wa_node *col)
{
	struct cl_appstate *as = cl->as;
	const struct wa_node *ps = wa_node_child(col, "patches");
	struct wa_appstate_mutations ms = { 0 };
	uint64_t before = as->st[ci].version;
	int rc = 0;

	if (!ps)
		ps = col;
	for (uint32_t i = 0; !rc && ps->content == WA_CONTENT_LIST && i < ps->nkids; i++) {
		const uint8_t *p;
		size_t n = 0;

		if (!wa_node_is(ps->kids[i], "patch") || !(p = wa_node_bytes(ps->kids[i], &n)))
			continue;
		rc = wa_appstate_decode_patch(&as->st[ci], wa_appstate_names[ci], p, n, get_key, as,
					      &ms);
	}
	for (size_t i = 0; i < ms.n && cl->cbs.on_appstate_action && !cl->freeing; i++) {
		struct wa_client_action a;

		if (as_action(&ms.v[i], &a))
			cl->cbs.on_appstate_action(cl, &a, cl->ud);
	}
	wa_appstate_mutations_release(&ms);
	if (rc)
		LOG_WARN("client app-state patch refused", "{s:s, s:s}", "collection",
			 wa_appstate_names[ci], "error", y_strerror(rc));
	if (as->st[ci].version != before)
		state_changed(cl, ci);
	return rc;
}

/* The <collection> answer for ci in an app-state iq result (NULL if none). */
static const struct wa_node *answer_collection(const struct wa_node *n, int ci)
{
	const struct wa_node *sync = n ? wa_node_child(n, "sync") : NULL;

	for (uint32_t i = 0; sync && sync->content == WA_CONTENT_LIST && i < sync->nkids; i++) {
		const char *name = wa_node_attr(sync->kids[i], "name");

		if (wa_node_is(sync->kids[i], "collection") && name &&
		    !strcmp(name, wa_appstate_names[ci]))
			return sync->kids[i];
	}
	return NULL;
}

/* <iq set w:sync:app:state><sync><collection name version
 * return_snapshot="false">[<patch>bytes</patch>]</collection></sync></iq> */
static int send_collection(struct wa_client *cl, int ci, const struct ybuf *patch,
			   wa_conn_iq_cb cb)
{
	struct wa_node *iq = cl_iq_new(cl, "set", "w:sync:app:state"), *sync, *col, *p;
	char v[24];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)cl->as->st[ci].version);
	if (!iq || !(sync = wa_node_add_child(iq, "sync")) ||
	    !(col = wa_node_add_child(sync, "collection")) ||
	    /* no snapshots: they come as external blobs, which we do not fetch */
	    cl_attrs(col, "name", wa_appstate_names[ci], "version", v, "return_snapshot", "false",
		     NULL) ||
	    (patch && (!(p = wa_node_add_child(col, "patch")) ||
		       wa_node_set_bytes(p, patch->data, patch->len)))) {
		wa_node_free(iq);
		return Y_ENOMEM;
	}
	return cl_iq_send(cl, iq, cb);
}

/* ---- writes ---- */

/* Builds the mutation of action a and encodes the patch into out, the
 * state after it into as->next. */
static int encode_action(struct cl_appstate *as, const struct wa_client_action *a, int ci,
			 struct ybuf *out)
{
	const struct cl_as_key *key = key_latest(as);
	Wa__SyncActionValue v = WA__SYNC_ACTION_VALUE__INIT;
	Wa__SyncActionValue__DeleteMessageForMeAction del =
		WA__SYNC_ACTION_VALUE__DELETE_MESSAGE_FOR_ME_ACTION__INIT;
	Wa__SyncActionValue__PushNameSetting pn = WA__SYNC_ACTION_VALUE__PUSH_NAME_SETTING__INIT;
	Wa__SyncActionValue__ArchiveChatAction arch = WA__SYNC_ACTION_VALUE__ARCHIVE_CHAT_ACTION__INIT;
	Wa__SyncActionValue__PinAction pin = WA__SYNC_ACTION_VALUE__PIN_ACTION__INIT;
	Wa__SyncActionValue__MuteAction mute = WA__SYNC_ACTION_VALUE__MUTE_ACTION__INIT;
	Wa__SyncActionValue__MarkChatAsReadAction read =
		WA__SYNC_ACTION_VALUE__MARK_CHAT_AS_READ_ACTION__INIT;
	Wa__SyncActionValue__SyncActionMessageRange range =
		WA__SYNC_ACTION_VALUE__SYNC_ACTION_MESSAGE_RANGE__INIT;
	const char *idx[5];
	struct wa_appstate_mutation_in m = { WA_APPSTATE_SET, idx, 2, &v, 3 };
	struct wa_appstate_keys k;
	int rc;

	if (!key)
		return Y_ESTATE;
	v.has_timestamp = 1;
	v.timestamp = (int64_t)clock_now_ms();
	range.has_lastmessagetimestamp = a->msg_t > 0;
	range.lastmessagetimestamp = a->msg_t;
	idx[1] = a->chat;
	switch (a->kind) {
	case WA_ACT_DELETE_FOR_ME: /* as Baileys' chatModify deleteForMe */
		idx[0] = "deleteMessageForMe";
		idx[2] = a->msg_id;
		idx[3] = a->from_me ? "1" : "0";
		idx[4] = "0"; /* the participant: none in a 1:1 chat */
		m.index_n = 5;
		del.has_deletemedia = 1;
		del.deletemedia = 0;
		del.has_messagetimestamp = 1;
		del.messagetimestamp = a->msg_t;
		v.deletemessageformeaction = &del;
		break;
	case WA_ACT_PUSH_NAME:
		idx[0] = "setting_pushName";
		m.index_n = 1;
		m.version = 1;
		pn.name = (char *)a->name;
		v.pushnamesetting = &pn;
		break;
	case WA_ACT_ARCHIVE:
		idx[0] = "archive";
		arch.has_archived = 1;
		arch.archived = a->on;
		arch.messagerange = &range;
		v.archivechataction = &arch;
		break;
	case WA_ACT_PIN:
		idx[0] = "pin_v1";
		m.version = 5;
		pin.has_pinned = 1;
		pin.pinned = a->on;
		v.pinaction = &pin;
		break;
	case WA_ACT_MUTE:
		idx[0] = "mute";
		m.version = 2;
		mute.has_muted = 1;
		mute.muted = a->on;
		mute.has_muteendtimestamp = a->on;
		mute.muteendtimestamp = a->mute_until_ms ? a->mute_until_ms : -1;
		v.muteaction = &mute;
		break;
	case WA_ACT_READ:
		idx[0] = "markChatAsRead";
		read.has_read = 1;
		read.read = a->on;
		read.messagerange = &range;
		v.markchatasreadaction = &read;
		break;
	default:
		return Y_EINVAL;
	}
	rc = wa_appstate_keys_expand(&k, key->data, 32);
	rc = rc ?: wa_appstate_encode_patch(&as->st[ci], wa_appstate_names[ci], key->id,
					    key->id_len, &k, &m, 1, NULL, out, &as->next);
	wa_wipe(&k, sizeof(k));
	return rc;
}

static void write_done(struct wa_client *cl, const char *why)
{
	struct cl_appstate *as = cl->as;

	if (why && as->head)
		LOG_WARN("client app-state write dropped", "{s:s, s:i, s:s}", "collection",
			 wa_appstate_names[coll_of(as->head->a.kind)], "kind", (int)as->head->a.kind,
			 "reason", why);
	job_pop(as);
	as->busy = false;
	kick(cl);
}

/* An iq of ours got no answer (Y_ETIMEOUT) or the connection went
 * (Y_ECLOSED: tried again once connected, cl_appstate_connected). A
 * timeout on a live connection is tried again at once, a few times, then
 * the head write is dropped, or the wanted fetch given up: nothing else
 * would wake the queue. */
static void iq_lost(struct wa_client *cl, int err, int ci)
{
	struct cl_appstate *as = cl->as;

	as->busy = false;
	if (err != Y_ETIMEOUT)
		return;
	if (++as->timeouts < CL_AS_TIMEOUTS_MAX) {
		kick(cl);
		return;
	}
	as->timeouts = 0;
	as->want[ci] = false;
	if (as->head && coll_of(as->head->a.kind) == ci)
		write_done(cl, "no answer from the server");
	else
		kick(cl);
}

static void on_fetched(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_appstate *as = cl->as;
	const struct wa_node *col;
	const char *more;
	int ci;

	(void)c;
	if (!as || !as->busy)
		return;
	ci = as->op_ci;
	if (err == Y_ECLOSED || err == Y_ETIMEOUT) {
		iq_lost(cl, err, ci);
		return;
	}
	as->timeouts = 0;
	col = err ? NULL : answer_collection(n, ci);
	if (!col || (wa_node_attr(col, "type") && !strcmp(wa_node_attr(col, "type"), "error")) ||
	    apply_patches(cl, ci, col)) {
		as->want[ci] = false;
		if (as->head && coll_of(as->head->a.kind) == ci)
			write_done(cl, col ? "the collection's patches did not verify"
					   : "the collection could not be fetched");
		else
			as->busy = false;
		kick(cl);
		return;
	}
	more = wa_node_attr(col, "has_more_patches");
	as->busy = false;
	if (more && !strcmp(more, "true") && ++as->rounds < CL_AS_FETCH_ROUNDS) {
		kick(cl); /* known is still false: fetch on */
		return;
	}
	as->rounds = 0;
	as->known[ci] = true;
	as->want[ci] = false;
	kick(cl);
}

static void on_uploaded(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_appstate *as = cl->as;
	const struct wa_node *col, *e;
	const char *type, *code;
	int ci;

	(void)c;
	if (!as || !as->busy || !as->head)
		return;
	ci = as->op_ci;
	if (err == Y_ECLOSED || err == Y_ETIMEOUT) {
		as->known[ci] = false; /* it may have landed: fetched before the next try */
		iq_lost(cl, err, ci);
		return;
	}
	as->timeouts = 0;
	col = err ? NULL : answer_collection(n, ci);
	type = col ? wa_node_attr(col, "type") : NULL;
	if (!col) {
		write_done(cl, "the server refused the patch");
		return;
	}
	if (type && !strcmp(type, "error")) {
		e = wa_node_child(col, "error");
		code = e ? wa_node_attr(e, "code") : NULL;
		if (code && !strcmp(code, "409") && !as->head->retried) {
			/* another device wrote first: take what we missed, once more */
			as->head->retried = true;
			LOG_INFO("client app-state conflict, retried", "{s:s}", "collection",
				 wa_appstate_names[ci]);
			if (apply_patches(cl, ci, col))
				as->known[ci] = false; /* fetched again before the retry */
			as->busy = false;
			kick(cl);
			return;
		}
		write_done(cl, code && !strcmp(code, "409") ? "a version conflict twice"
							     : "the server refused the patch");
		return;
	}
	if (wa_appstate_state_copy(&as->st[ci], &as->next) == Y_OK)
		state_changed(cl, ci);
	LOG_INFO("client app-state written", "{s:s, s:I}", "collection", wa_appstate_names[ci],
		 "version", (json_int_t)as->st[ci].version);
	write_done(cl, NULL);
}

/* Runs the head write's next step, if nothing is in flight. */
static void kick(struct wa_client *cl)
{
	struct cl_appstate *as = cl->as;
	struct ybuf patch = YBUF_INIT(0);
	int ci, rc;

	if (!as || as->busy || cl->state != WA_CL_CONNECTED || !cl->conn || !key_latest(as))
		return;
	for (ci = 0; !as->head && ci < 5 && !as->want[ci]; ci++)
		;
	if (as->head)
		ci = coll_of(as->head->a.kind);
	else if (ci == 5)
		return; /* nothing to do */
	as->op_ci = ci;
	if (!as->known[ci] || as->want[ci]) {
		as->busy = true;
		if ((rc = send_collection(cl, ci, NULL, on_fetched)))
			as->busy = false;
		return;
	}
	rc = encode_action(as, &as->head->a, ci, &patch);
	if (rc) {
		ybuf_release(&patch);
		write_done(cl, y_strerror(rc));
		return;
	}
	as->busy = true;
	if (send_collection(cl, ci, &patch, on_uploaded))
		as->busy = false;
	ybuf_release(&patch);
}

void cl_appstate_connected(struct wa_client *cl)
{
	kick(cl);
}

int cl_appstate_notification(struct wa_client *cl, const struct wa_node *n)
{
	for (uint32_t i = 0; cl->as && n->content == WA_CONTENT_LIST && i < n->nkids; i++) {
		int ci = coll_index(wa_node_attr(n->kids[i], "name"));

		if (wa_node_is(n->kids[i], "collection") && ci >= 0)
			cl->as->want[ci] = true; /* another device wrote: fetched */
	}
	kick(cl);
	return Y_OK;
}

int wa_client_appstate_write(struct wa_client *cl, const struct wa_client_action *a)
{
	struct cl_appstate *as;
	struct cl_as_job *j;

	if (!a || (unsigned)a->kind > WA_ACT_READ ||
	    (a->kind == WA_ACT_PUSH_NAME ? !a->name[0] : !a->chat[0]) ||
	    (a->kind == WA_ACT_DELETE_FOR_ME && !a->msg_id[0]))
		return Y_EINVAL;
	if (!(as = as_get(cl)))
		return Y_ENOMEM;
	if (as->njobs >= CL_AS_QUEUE_MAX)
		return Y_EBUSY;
	if (!(j = calloc(1, sizeof(*j))))
		return Y_ENOMEM;
	j->a = *a;
	j->a.chat[sizeof(j->a.chat) - 1] = j->a.msg_id[sizeof(j->a.msg_id) - 1] =
		j->a.name[sizeof(j->a.name) - 1] = 0;
	if (as->tail)
		as->tail->next = j;
	else
		as->head = j;
	as->tail = j;
	as->njobs++;
	kick(cl);
	return Y_OK;
}
