/* Questions about a contact, each answered exactly once through a
 * wa_client_lookup_cb (dropped connections included). Loop thread.
 *
 * Is a number on WhatsApp (usync, protocol-map.md §7.2): one query per
 * lookup, <user><contact>+digits</contact></user> with the contact, lid and
 * status protocols, context "interactive", as a phone's contact check does.
 * The answer's <user jid> names the account, <contact type="in"> says it
 * is registered ("out": not), <lid val> gives its LID, <status> its about
 * text (bytes; an error inside when hidden).
 *
 * A profile picture (protocol-map.md §17.7): <iq type="get"
 * xmlns="w:profile:picture" target=JID><picture type="image"|"preview"
 * query="url"/></iq>, answered <picture id url/> or an error (404 none,
 * 401/403 hidden by privacy); setting ours: type="set" with
 * <picture type="image">JPEG</picture> (none: removed), answered <picture
 * id/>. */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

#define LOOKUPS_MAX 16 /* lookups waiting per client */

struct cl_lookup {
	struct cl_lookup *next;
	enum cl_lookup_kind kind;
	struct wa_client *cl;
	struct wa_conn *conn;      /* the connection it was asked on */
	wa_client_lookup_cb cb;
	void *ud;
};

static void unlink_lookup(struct wa_client *cl, struct cl_lookup *l)
{
	for (struct cl_lookup **pp = &cl->lookups; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			cl->nlookups--;
			return;
		}
}

/* Reads the first <user> of a usync answer into r. */
static int read_contact(const struct wa_node *n, struct wa_client_contact *r)
{
	const struct wa_node *us = n ? wa_node_child(n, "usync") : NULL;
	const struct wa_node *list = us ? wa_node_child(us, "list") : NULL;
	const struct wa_node *u = list ? wa_node_child(list, "user") : NULL;
	const struct wa_node *ct = u ? wa_node_child(u, "contact") : NULL;
	const struct wa_node *lid = u ? wa_node_child(u, "lid") : NULL;
	const struct wa_node *st = u ? wa_node_child(u, "status") : NULL;
	const char *jid = u ? wa_node_attr(u, "jid") : NULL, *type;
	const uint8_t *about;
	size_t alen = 0;

	if (!ct || wa_node_attr(ct, "error") || wa_node_child(ct, "error"))
		return Y_EINVAL; /* no contact answer, or an error in it */
	type = wa_node_attr(ct, "type");
	r->registered = type && !strcmp(type, "in");
	if (jid && strlen(jid) < sizeof(r->jid))
		snprintf(r->jid, sizeof(r->jid), "%s", jid);
	jid = lid ? wa_node_attr(lid, "val") : NULL;
	if (r->registered && jid && strlen(jid) < sizeof(r->lid))
		snprintf(r->lid, sizeof(r->lid), "%s", jid);
	/* an about text that is there, readable and not hidden; else none */
	about = st && !wa_node_attr(st, "error") && !wa_node_attr(st, "code") &&
			!wa_node_child(st, "error")
			? wa_node_bytes(st, &alen) : NULL;
	if (r->registered && about && alen && alen < sizeof(r->about) &&
	    !memchr(about, 0, alen)) {
		memcpy(r->about, about, alen);
		r->about[alen] = 0;
		r->has_about = true;
	}
	return Y_OK;
}

/* An <iq type="error"> as an error code: Y_ENOTFOUND for none / hidden. */
static int iq_error(const struct wa_node *n)
{
	const struct wa_node *e = wa_node_child(n, "error");
	const char *code = e ? wa_node_attr(e, "code") : NULL;

	if (code && (!strcmp(code, "404") || !strcmp(code, "401") || !strcmp(code, "403")))
		return Y_ENOTFOUND;
	return Y_EINVAL;
}

/* A picture answer: its <picture id [url]> (the url for a get). */
static int read_picture(const struct wa_node *n, bool want_url, struct wa_client_contact *r)
{
	const char *type = n ? wa_node_attr(n, "type") : NULL;
	const struct wa_node *pic = n ? wa_node_child(n, "picture") : NULL;
	const char *id = pic ? wa_node_attr(pic, "id") : NULL;
	const char *url = pic ? wa_node_attr(pic, "url") : NULL;

	if (type && !strcmp(type, "error"))
		return iq_error(n);
	if (!type || strcmp(type, "result"))
		return Y_EINVAL;
	if (!want_url)
		return Y_OK; /* a removal answers with nothing */
	if (!url || strncmp(url, "https://", 8) || strlen(url) >= sizeof(r->picture_url))
		return Y_EINVAL;
	snprintf(r->picture_url, sizeof(r->picture_url), "%s", url);
	if (id && strlen(id) < sizeof(r->picture_id))
		snprintf(r->picture_id, sizeof(r->picture_id), "%s", id);
	return Y_OK;
}

int cl_contact_read_answer(enum cl_lookup_kind kind, const struct wa_node *n,
			   struct wa_client_contact *r)
{
	memset(r, 0, sizeof(*r));
	switch (kind) {
	case LK_CONTACT:
		return read_contact(n, r);
	case LK_PICTURE:
		return read_picture(n, true, r);
	case LK_SET_PICTURE: {
		const struct wa_node *pic = n ? wa_node_child(n, "picture") : NULL;
		const char *id = pic ? wa_node_attr(pic, "id") : NULL;
		int rc = read_picture(n, false, r);

		if (!rc && id && strlen(id) < sizeof(r->picture_id))
			snprintf(r->picture_id, sizeof(r->picture_id), "%s", id);
		return rc;
	}
	}
	return Y_EINVAL;
}

static void on_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct cl_lookup *l = ud;
	struct wa_client *cl = l->cl;
	struct wa_client_contact r;

	(void)c; /* a dropped connection calls nobody: l is still listed */
	unlink_lookup(cl, l);
	/* an <iq type="error"> comes as Y_EINVAL with its node: read its code */
	if (!err || (err == Y_EINVAL && n && l->kind != LK_CONTACT))
		err = cl_contact_read_answer(l->kind, n, &r);
	if (err && err != Y_ENOTFOUND)
		LOG_WARN("client contact query failed", "{s:s, s:i}", "error", y_strerror(err),
			 "kind", (int)l->kind);
	l->cb(cl, err, err ? NULL : &r, l->ud);
	free(l);
}

void cl_lookups_drop(struct wa_client *cl)
{
	struct cl_lookup **pp = &cl->lookups;

	while (*pp) {
		struct cl_lookup *l = *pp;

		if (l->conn != cl->conn) {
			*pp = l->next;
			cl->nlookups--;
			l->cb(cl, Y_ECLOSED, NULL, l->ud);
			free(l);
		} else {
			pp = &l->next;
		}
	}
}

/* Sends iq (taken) as a query of kind; cb answers it exactly once. */
static int ask(struct wa_client *cl, enum cl_lookup_kind kind, struct wa_node *iq,
	       wa_client_lookup_cb cb, void *ud)
{
	struct cl_lookup *l;
	int rc;

	if (!iq)
		return Y_ENOMEM;
	if (cl->nlookups >= LOOKUPS_MAX || !(l = calloc(1, sizeof(*l)))) {
		wa_node_free(iq);
		return cl->nlookups >= LOOKUPS_MAX ? Y_EBUSY : Y_ENOMEM;
	}
	l->kind = kind;
	l->cl = cl;
	l->conn = cl->conn;
	l->cb = cb;
	l->ud = ud;
	l->next = cl->lookups;
	cl->lookups = l;
	cl->nlookups++;
	rc = wa_conn_iq(cl->conn, iq, cl->opts.iq_timeout_ms, on_answer, l);
	wa_node_free(iq);
	if (rc) {
		unlink_lookup(cl, l);
		free(l);
	}
	return rc;
}

static int check_ready(struct wa_client *cl, wa_client_lookup_cb cb)
{
	if (!cb)
		return Y_EINVAL;
	if (cl->state != WA_CL_CONNECTED || !cl->conn)
		return Y_ESTATE;
	return cl->nlookups >= LOOKUPS_MAX ? Y_EBUSY : Y_OK;
}

int wa_client_lookup(struct wa_client *cl, const char *phone, wa_client_lookup_cb cb, void *ud)
{
	struct wa_node *iq, *us, *q, *list, *u, *ct;
	char sid[WA_CONN_ID_LEN], num[24];
	size_t n = phone ? strlen(phone) : 0;
	int rc;

	if (n < 7 || n > 15 || strspn(phone, "0123456789") != n)
		return Y_EINVAL;
	if ((rc = check_ready(cl, cb)))
		return rc;
	snprintf(num, sizeof(num), "+%s", phone);
	iq = cl_iq_new(cl, "get", "usync");
	wa_conn_new_id(cl->conn, sid);
	if (!iq || !(us = wa_node_add_child(iq, "usync")) ||
	    cl_attrs(us, "sid", sid, "mode", "query", "last", "true", "index", "0", "context",
		     "interactive", NULL) ||
	    !(q = wa_node_add_child(us, "query")) || !wa_node_add_child(q, "contact") ||
	    !wa_node_add_child(q, "lid") || !wa_node_add_child(q, "status") ||
	    !(list = wa_node_add_child(us, "list")) ||
	    !(u = wa_node_add_child(list, "user")) || !(ct = wa_node_add_child(u, "contact")) ||
	    wa_node_set_text(ct, num, strlen(num))) {
		wa_node_free(iq);
		return Y_ENOMEM;
	}
	return ask(cl, LK_CONTACT, iq, cb, ud);
}

int wa_client_picture(struct wa_client *cl, const char *jid, bool preview,
		      wa_client_lookup_cb cb, void *ud)
{
	struct wa_node *iq, *pic;
	struct wa_jid j;
	int rc;

	if (!jid || wa_jid_parse(jid, strlen(jid), &j) || !j.user_len || j.device)
		return Y_EINVAL;
	if ((rc = check_ready(cl, cb)))
		return rc;
	iq = cl_iq_new(cl, "get", "w:profile:picture");
	if (iq && (cl_attrs(iq, "target", jid, NULL) || !(pic = wa_node_add_child(iq, "picture")) ||
		   cl_attrs(pic, "type", preview ? "preview" : "image", "query", "url", NULL))) {
		wa_node_free(iq);
		iq = NULL;
	}
	return ask(cl, LK_PICTURE, iq, cb, ud);
}

int wa_client_set_picture(struct wa_client *cl, const uint8_t *jpeg, size_t len,
			  wa_client_lookup_cb cb, void *ud)
{
	struct wa_node *iq, *pic;
	int rc;

	if (len && (!jpeg || len > WA_CLIENT_PICTURE_MAX))
		return Y_EINVAL;
	if ((rc = check_ready(cl, cb)))
		return rc;
	iq = cl_iq_new(cl, "set", "w:profile:picture");
	if (iq && len && (!(pic = wa_node_add_child(iq, "picture")) ||
			  cl_attrs(pic, "type", "image", NULL) || wa_node_set_bytes(pic, jpeg, len))) {
		wa_node_free(iq);
		iq = NULL;
	}
	return ask(cl, LK_SET_PICTURE, iq, cb, ud);
}
