/*
 * Privacy tokens ("tctoken", docs/engine.md "Privacy tokens"). A contact
 * that talks to us issues us a token (the server's <notification
 * type="privacy_token">), which we keep and attach to our 1:1 messages to
 * it as <tctoken>; after our own 1:1 sends we issue the contact one of ours
 * (<iq xmlns="privacy"><tokens><token jid t type="trusted_contact"/>), at
 * most once per 7-day bucket. Whether tokens go on messages at all is the
 * server's prop 10518 (read from the `w` props iq after login; on until the
 * server says otherwise, as Baileys does, since a missing token is refused
 * with 463 once WhatsApp restricts an account).
 *
 * The table is keyed by the contact's user JID: its LID when the server
 * named one (sender_lid), else what the notification came from. Changes
 * reach the owner through on_tctoken, to persist; it hands them back at
 * start (wa_client_import_tctokens). Loop thread.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/jid.h"

#define TC_BUCKET_S 604800 /* 7 days */
#define TC_BUCKETS 4       /* a token lives through the current bucket and 3 before */

/* Our privacy iq to a contact, in flight: the waiter's ud, owned by the
 * table (the connection drops its waiters silently: cl_tctokens_reset). */
struct tc_issue {
	struct tc_issue *next;
	struct wa_client *cl;
	char key[WA_TCTOKEN_JID_MAX];
	int64_t t;
};

struct cl_tctokens {
	struct cl_tc {
		struct wa_tctoken v;
		bool issuing; /* a tc_issue for it is in flight */
	} *e;
	size_t n, cap;
	struct tc_issue *issues;
};

bool wa_tctoken_expired(int64_t t, int64_t now)
{
	int64_t cutoff = (now / TC_BUCKET_S - (TC_BUCKETS - 1)) * TC_BUCKET_S;

	return t <= 0 || t < cutoff;
}

bool wa_tctoken_should_issue(int64_t sender_t, int64_t now)
{
	return sender_t <= 0 || now / TC_BUCKET_S > sender_t / TC_BUCKET_S;
}

/* A user WhatsApp treats as a person: a phone number or LID user that is
 * neither the PSA account (0) nor a bot number. */
static bool regular_user(const struct wa_jid *j)
{
	static const char *bots[] = { "1313555", "131655500" };
	bool pn = j->server_len == strlen(WA_SERVER_USER) &&
		  !memcmp(j->server, WA_SERVER_USER, j->server_len);
	bool lid = j->server_len == strlen(WA_SERVER_LID) &&
		   !memcmp(j->server, WA_SERVER_LID, j->server_len);

	if ((!pn && !lid) || !j->user_len || (j->user_len == 1 && j->user[0] == '0'))
		return false;
	if (pn)
		for (size_t i = 0; i < sizeof(bots) / sizeof(bots[0]); i++) {
			size_t bl = strlen(bots[i]);

			if (j->user_len == bl + (i ? 2 : 4) && !memcmp(j->user, bots[i], bl))
				return false;
		}
	return true;
}

/* "user@server" of a JID text (any device dropped) into out; false when it
 * is not a regular user's or does not fit. */
static bool user_jid(const char *text, char out[WA_TCTOKEN_JID_MAX])
{
	struct wa_jid j;
	int n;

	if (!text || wa_jid_parse(text, strlen(text), &j) || !regular_user(&j))
		return false;
	n = snprintf(out, WA_TCTOKEN_JID_MAX, "%.*s@%.*s", (int)j.user_len, j.user,
		     (int)j.server_len, j.server);
	return n > 0 && n < WA_TCTOKEN_JID_MAX;
}

static struct cl_tc *tc_find(struct wa_client *cl, const char *jid)
{
	struct cl_tctokens *t = cl->tc;

	for (size_t i = 0; t && jid && jid[0] && i < t->n; i++)
		if (!strcmp(t->e[i].v.jid, jid))
			return &t->e[i];
	return NULL;
}

static struct cl_tc *tc_get(struct wa_client *cl, const char *jid)
{
	struct cl_tctokens *t = cl->tc;
	struct cl_tc *e = tc_find(cl, jid);

	if (e)
		return e;
	if (strlen(jid) >= WA_TCTOKEN_JID_MAX)
		return NULL;
	if (!t && !(t = cl->tc = calloc(1, sizeof(*t))))
		return NULL;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 8;
		struct cl_tc *ne;

		if (t->n >= CL_TCTOKENS_MAX || !(ne = realloc(t->e, nc * sizeof(*ne))))
			return NULL;
		t->e = ne;
		t->cap = nc;
	}
	e = &t->e[t->n++];
	memset(e, 0, sizeof(*e));
	memcpy(e->v.jid, jid, strlen(jid) + 1);
	return e;
}

static void tc_changed(struct wa_client *cl, const struct cl_tc *e)
{
	if (cl->cbs.on_tctoken && !cl->freeing)
		cl->cbs.on_tctoken(cl, &e->v, cl->ud);
}

void cl_tctokens_reset(struct wa_client *cl)
{
	struct cl_tctokens *t = cl->tc;

	if (!t)
		return;
	while (t->issues) {
		struct tc_issue *q = t->issues;

		t->issues = q->next;
		free(q);
	}
	for (size_t i = 0; i < t->n; i++)
		t->e[i].issuing = false;
}

void cl_tctokens_free(struct wa_client *cl)
{
	if (!cl->tc)
		return;
	cl_tctokens_reset(cl);
	free(cl->tc->e);
	free(cl->tc);
	cl->tc = NULL;
}

int wa_client_import_tctokens(struct wa_client *cl, const struct wa_tctoken *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cl_tc *e;

		if (v[i].len > sizeof(v[i].token) || !memchr(v[i].jid, 0, sizeof(v[i].jid)))
			return Y_EINVAL;
		e = tc_get(cl, v[i].jid);
		if (!e)
			return Y_ENOMEM;
		e->v = v[i];
	}
	return Y_OK;
}

const struct wa_tctoken *wa_client_tctoken(struct wa_client *cl, const char *jid)
{
	const struct cl_tc *e = tc_find(cl, jid);

	return e ? &e->v : NULL;
}

/* <notification type="privacy_token" from [sender_lid]><tokens><token jid t
 * type>BYTES</token>...: the issuer's tokens for us. Tokens without a time,
 * of another type, or older than the one held are ignored. */
int cl_tctoken_notification(struct wa_client *cl, const struct wa_node *n)
{
	const struct wa_node *tokens = wa_node_child(n, "tokens");
	char key[WA_TCTOKEN_JID_MAX], lid[WA_TCTOKEN_JID_MAX];
	const char *slid = wa_node_attr(n, "sender_lid");

	if (!tokens || !user_jid(wa_node_attr(n, "from"), key))
		return Y_OK;
	if (user_jid(slid, lid) && strstr(lid, "@" WA_SERVER_LID))
		memcpy(key, lid, sizeof(key));
	for (size_t i = 0; i < 64; i++) {
		const struct wa_node *k = wa_node_child_nth(tokens, "token", i);
		const char *type, *ts;
		const uint8_t *b;
		size_t len = 0;
		char *end;
		long long t;
		struct cl_tc *e;

		if (!k)
			break;
		type = wa_node_attr(k, "type");
		ts = wa_node_attr(k, "t");
		b = wa_node_bytes(k, &len);
		if (!type || strcmp(type, "trusted_contact") || !b || !len ||
		    len > sizeof(e->v.token) || !ts || *ts < '0' || *ts > '9')
			continue;
		t = strtoll(ts, &end, 10);
		if (*end || t <= 0)
			continue;
		e = tc_get(cl, key);
		if (!e) {
			LOG_WARN("client cannot keep a privacy token", "{s:s}", "from", key);
			return Y_OK;
		}
		if (e->v.len && e->v.t > t)
			continue; /* a newer one is held */
		memcpy(e->v.token, b, len);
		e->v.len = len;
		e->v.t = t;
		LOG_DEBUG("client privacy token kept", "{s:s, s:I}", "from", key, "t", (json_int_t)t);
		tc_changed(cl, e);
	}
	return Y_OK;
}

/* The entry of a send to `to` (the stanza's user JID) or `to_pn` (the
 * number a LID send replaced, may be ""). */
static struct cl_tc *tc_for_send(struct wa_client *cl, const char *to, const char *to_pn)
{
	struct cl_tc *e = tc_find(cl, to);

	return e && e->v.len ? e : tc_find(cl, to_pn) ?: e;
}

int cl_tctoken_attach(struct wa_client *cl, struct wa_node *msg, const char *to,
		      const char *to_pn)
{
	struct cl_tc *e;
	struct wa_node *k;
	char key[WA_TCTOKEN_JID_MAX];

	if (!cl->tc_on_1to1 || !user_jid(to, key) || !(e = tc_for_send(cl, key, to_pn)) ||
	    !e->v.len)
		return Y_OK;
	if (wa_tctoken_expired(e->v.t, (int64_t)time(NULL))) {
		/* dropped; when we last issued one is kept */
		LOG_DEBUG("client privacy token expired", "{s:s, s:I}", "from", e->v.jid, "t",
			  (json_int_t)e->v.t);
		e->v.len = 0;
		tc_changed(cl, e);
		return Y_OK;
	}
	k = wa_node_add_child(msg, "tctoken");
	return k && !wa_node_set_bytes(k, e->v.token, e->v.len) ? Y_OK : Y_ENOMEM;
}

static void on_issued(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct tc_issue *q = ud;
	struct wa_client *cl = q->cl;
	struct cl_tc *e = tc_find(cl, q->key);

	(void)n;
	for (struct tc_issue **pp = &cl->tc->issues; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	if (e)
		e->issuing = false;
	if (err || !e) {
		if (cl->conn == c && err != Y_ECLOSED)
			LOG_INFO("client privacy token issue failed", "{s:s, s:s}", "to", q->key,
				 "error", y_strerror(err));
	} else {
		e->v.sender_t = q->t;
		tc_changed(cl, e);
	}
	free(q);
}

void cl_tctoken_issue(struct wa_client *cl, const char *to, const char *to_pn)
{
	char key[WA_TCTOKEN_JID_MAX], pn[WA_TCTOKEN_JID_MAX], t[24];
	int64_t now = (int64_t)time(NULL);
	struct tc_issue *q = NULL;
	struct wa_node *iq, *tokens, *k;
	struct cl_tc *e;
	int rc;

	if (!cl->conn || !user_jid(to, key))
		return;
	e = tc_for_send(cl, key, to_pn);
	if (!e)
		e = tc_get(cl, key);
	if (!e || e->issuing || !wa_tctoken_should_issue(e->v.sender_t, now))
		return;
	/* issued to the number (WhatsApp's default; prop 14303 would ask the LID) */
	if (!to_pn || !user_jid(to_pn, pn))
		memcpy(pn, key, sizeof(pn));
	snprintf(t, sizeof(t), "%lld", (long long)now);
	iq = cl_iq_new(cl, "set", "privacy");
	if (!iq || !(tokens = wa_node_add_child(iq, "tokens")) ||
	    !(k = wa_node_add_child(tokens, "token")) ||
	    cl_attrs(k, "jid", pn, "t", t, "type", "trusted_contact", NULL) ||
	    !(q = calloc(1, sizeof(*q)))) {
		wa_node_free(iq);
		return;
	}
	q->cl = cl;
	memcpy(q->key, e->v.jid, sizeof(q->key));
	q->t = now;
	rc = wa_conn_iq(cl->conn, iq, cl->opts.iq_timeout_ms, on_issued, q);
	wa_node_free(iq);
	if (rc) {
		free(q);
		return;
	}
	q->next = cl->tc->issues; /* cl->tc exists: e is in it */
	cl->tc->issues = q;
	e->issuing = true;
}

/* The props answer: prop 10518 (privacy_token_sending_on_all_1_on_1_messages)
 * says whether tokens go on 1:1 messages. */
static void on_props(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	const struct wa_node *props = !err && n ? wa_node_child(n, "props") : NULL;

	if (cl->conn != c || !props)
		return;
	for (size_t i = 0; i < 4096; i++) {
		const struct wa_node *p = wa_node_child_nth(props, "prop", i);
		const char *name, *value;

		if (!p)
			break;
		name = wa_node_attr(p, "name");
		value = wa_node_attr(p, "value");
		if (!name || !value ||
		    (strcmp(name, "10518") && strcmp(name, "privacy_token_sending_on_all_1_on_1_messages")))
			continue;
		cl->tc_on_1to1 = !strcmp(value, "1") || !strcmp(value, "true");
		LOG_DEBUG("client privacy tokens on 1:1 messages", "{s:b}", "on", (int)cl->tc_on_1to1);
	}
}

int cl_props_fetch(struct wa_client *cl)
{
	struct wa_node *iq = cl_iq_new(cl, "get", "w"), *p;

	if (!iq || !(p = wa_node_add_child(iq, "props")) ||
	    cl_attrs(p, "protocol", "2", "hash", "", NULL)) {
		wa_node_free(iq);
		return Y_ENOMEM;
	}
	return cl_iq_send(cl, iq, on_props);
}
