/* Is a number on WhatsApp (usync, protocol-map.md §7.2): one query per
 * lookup, <user><contact>+digits</contact></user> with the contact and
 * lid protocols, context "interactive", as a phone's contact check does.
 * The answer's <user jid> names the account, <contact type="in"> says it
 * is registered ("out": not), <lid val> gives its LID. Loop thread. */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

#define LOOKUPS_MAX 16 /* lookups waiting per client */

struct cl_lookup {
	struct cl_lookup *next;
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

/* Reads the first <user> of the answer into r. */
static int read_answer(const struct wa_node *n, struct wa_client_contact *r)
{
	const struct wa_node *us = n ? wa_node_child(n, "usync") : NULL;
	const struct wa_node *list = us ? wa_node_child(us, "list") : NULL;
	const struct wa_node *u = list ? wa_node_child(list, "user") : NULL;
	const struct wa_node *ct = u ? wa_node_child(u, "contact") : NULL;
	const struct wa_node *lid = u ? wa_node_child(u, "lid") : NULL;
	const char *jid = u ? wa_node_attr(u, "jid") : NULL, *type;

	memset(r, 0, sizeof(*r));
	if (!ct || wa_node_attr(ct, "error") || wa_node_child(ct, "error"))
		return Y_EINVAL; /* no contact answer, or an error in it */
	type = wa_node_attr(ct, "type");
	r->registered = type && !strcmp(type, "in");
	if (jid && strlen(jid) < sizeof(r->jid))
		snprintf(r->jid, sizeof(r->jid), "%s", jid);
	jid = lid ? wa_node_attr(lid, "val") : NULL;
	if (r->registered && jid && strlen(jid) < sizeof(r->lid))
		snprintf(r->lid, sizeof(r->lid), "%s", jid);
	return Y_OK;
}

static void on_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct cl_lookup *l = ud;
	struct wa_client *cl = l->cl;
	struct wa_client_contact r;

	(void)c; /* a dropped connection calls nobody: l is still listed */
	unlink_lookup(cl, l);
	if (!err)
		err = read_answer(n, &r);
	if (err)
		LOG_WARN("client contact lookup failed", "{s:s}", "error", y_strerror(err));
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

int wa_client_lookup(struct wa_client *cl, const char *phone, wa_client_lookup_cb cb, void *ud)
{
	struct wa_node *iq, *us, *q, *list, *u, *ct;
	struct cl_lookup *l;
	char sid[WA_CONN_ID_LEN], num[24];
	size_t n = phone ? strlen(phone) : 0;
	int rc;

	if (n < 7 || n > 15 || strspn(phone, "0123456789") != n || !cb)
		return Y_EINVAL;
	if (cl->state != WA_CL_CONNECTED || !cl->conn)
		return Y_ESTATE;
	if (cl->nlookups >= LOOKUPS_MAX)
		return Y_EBUSY;
	if (!(l = calloc(1, sizeof(*l))))
		return Y_ENOMEM;
	snprintf(num, sizeof(num), "+%s", phone);
	iq = cl_iq_new(cl, "get", "usync");
	wa_conn_new_id(cl->conn, sid);
	if (!iq || !(us = wa_node_add_child(iq, "usync")) ||
	    cl_attrs(us, "sid", sid, "mode", "query", "last", "true", "index", "0", "context",
		     "interactive", NULL) ||
	    !(q = wa_node_add_child(us, "query")) || !wa_node_add_child(q, "contact") ||
	    !wa_node_add_child(q, "lid") || !(list = wa_node_add_child(us, "list")) ||
	    !(u = wa_node_add_child(list, "user")) || !(ct = wa_node_add_child(u, "contact")) ||
	    wa_node_set_text(ct, num, strlen(num))) {
		wa_node_free(iq);
		free(l);
		return Y_ENOMEM;
	}
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
