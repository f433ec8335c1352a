/* Device lists (protocol-map.md §7.2): who a message must be encrypted to.
 * Asked with one usync query for the users not in the cache, kept for
 * CL_DEVICES_TTL_MS, forgotten when the server says a user's devices
 * changed (<notification type="devices">). */
#include "client/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

struct cl_devlist {
	struct cl_devlist *next;
	struct cl_devices d;
	uint64_t at_ms;
};

#define DEVREQ_MAX 8 /* users per query (a message asks for two) */

struct cl_devreq {
	struct wa_client *cl;
	struct cl_devices want[DEVREQ_MAX];
	size_t n;
	cl_devices_cb done;
};

static uint64_t now_ms(struct wa_client *cl)
{
	return uv_now(wa_loop_uv(cl->pool->loop));
}

static int fill_user(struct cl_devices *d, const struct wa_jid *j)
{
	memset(d, 0, sizeof(*d));
	if (!j->user_len || j->user_len >= sizeof(d->user) || j->server_len >= sizeof(d->server))
		return Y_EINVAL;
	memcpy(d->user, j->user, j->user_len);
	memcpy(d->server, j->server, j->server_len);
	return Y_OK;
}

static struct cl_devlist *cache_find(struct wa_client *cl, const struct cl_devices *u)
{
	for (struct cl_devlist *x = cl->devs; x; x = x->next)
		if (!strcmp(x->d.user, u->user) && !strcmp(x->d.server, u->server))
			return x;
	return NULL;
}

static void cache_put(struct wa_client *cl, const struct cl_devices *d)
{
	struct cl_devlist *x = cache_find(cl, d);

	if (!x) {
		x = calloc(1, sizeof(*x));
		if (!x)
			return;
		x->next = cl->devs;
		cl->devs = x;
	}
	x->d = *d;
	x->at_ms = now_ms(cl);
}

void cl_devices_forget(struct wa_client *cl, const char *user)
{
	struct cl_devlist **pp = &cl->devs;

	while (*pp) {
		struct cl_devlist *x = *pp;

		if (!user || !strcmp(x->d.user, user)) {
			*pp = x->next;
			free(x);
		} else {
			pp = &x->next;
		}
	}
}

void cl_devices_free(struct wa_client *cl)
{
	cl_devices_forget(cl, NULL);
	free(cl->devreq);
	cl->devreq = NULL;
}

/* Reads <user jid><devices><device-list><device id/>... of the answer into
 * the wanted user it names. */
static void read_user(struct cl_devreq *r, const struct wa_node *u)
{
	struct wa_jid j;
	struct cl_devices got;
	const struct wa_node *ds = wa_node_child(u, "devices");
	const struct wa_node *dl = ds ? wa_node_child(ds, "device-list") : NULL;
	const struct wa_node *ln = wa_node_child(u, "lid");
	const char *lid = ln ? wa_node_attr(ln, "val") : NULL;
	size_t ll = lid ? strcspn(lid, ":@") : 0;

	if (!dl || wa_node_attr_jid(u, "jid", &j) || fill_user(&got, &j))
		return;
	/* <lid val="LID@lid"/> beside a phone-number user's devices */
	if (ll && ll < sizeof(got.lid) && !strcmp(lid + ll, "@lid") &&
	    !strcmp(got.server, WA_SERVER_USER)) {
		char pn[WA_SIGNAL_NAME_MAX + 24];

		memcpy(got.lid, lid, ll);
		got.lid[ll] = 0;
		cl_device_jid(got.user, got.server, 0, pn, sizeof(pn));
		cl_lid_learnt(r->cl, lid, pn);
	}
	for (size_t i = 0; i < r->n; i++) {
		struct cl_devices *w = &r->want[i];

		if (strcmp(w->user, got.user) || strcmp(w->server, got.server))
			continue;
		memcpy(w->lid, got.lid, sizeof(w->lid));
		w->n = 0;
		for (uint32_t k = 0; dl->content == WA_CONTENT_LIST && k < dl->nkids; k++) {
			uint64_t id;

			if (!wa_node_is(dl->kids[k], "device") ||
			    wa_node_attr_u64(dl->kids[k], "id", &id) || id > 255 ||
			    w->n >= CL_SEND_MAX_DEVICES)
				continue;
			w->dev[w->n++] = (uint16_t)id;
		}
	}
}

static void on_usync(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_devreq *r = cl->devreq;
	const struct wa_node *us, *list;

	if (cl->conn != c || !r)
		return;
	cl->devreq = NULL;
	us = !err && n ? wa_node_child(n, "usync") : NULL;
	list = us ? wa_node_child(us, "list") : NULL;
	if (!list) {
		LOG_WARN("client usync failed", "{s:s}", "error", y_strerror(err ? err : Y_EINVAL));
		r->done(cl, err ? err : Y_EINVAL, NULL, 0);
		free(r);
		return;
	}
	for (uint32_t i = 0; list->content == WA_CONTENT_LIST && i < list->nkids; i++)
		if (wa_node_is(list->kids[i], "user"))
			read_user(r, list->kids[i]);
	for (size_t i = 0; i < r->n; i++)
		cache_put(cl, &r->want[i]);
	r->done(cl, 0, r->want, r->n);
	free(r);
}

static int ask(struct wa_client *cl, struct cl_devreq *r)
{
	struct wa_node *iq = cl_iq_new(cl, "get", "usync"), *us, *q, *list, *u;
	char sid[WA_CONN_ID_LEN], jid[WA_SIGNAL_NAME_MAX + 24];
	int ok;

	if (!iq)
		return Y_ENOMEM;
	wa_conn_new_id(cl->conn, sid);
	ok = (us = wa_node_add_child(iq, "usync")) &&
	     !cl_attrs(us, "sid", sid, "mode", "query", "last", "true", "index", "0", "context",
		       "message", NULL) &&
	     (q = wa_node_add_child(us, "query")) && (u = wa_node_add_child(q, "devices")) &&
	     !cl_attrs(u, "version", "2", NULL) && wa_node_add_child(q, "lid") &&
	     (list = wa_node_add_child(us, "list"));
	for (size_t i = 0; ok && i < r->n; i++) {
		cl_device_jid(r->want[i].user, r->want[i].server, 0, jid, sizeof(jid));
		ok = (u = wa_node_add_child(list, "user")) && !cl_attrs(u, "jid", jid, NULL);
	}
	if (!ok) {
		wa_node_free(iq);
		return Y_ENOMEM;
	}
	cl->devreq = r;
	ok = cl_iq_send(cl, iq, on_usync);
	if (ok)
		cl->devreq = NULL;
	return ok;
}

int cl_devices_get(struct wa_client *cl, const struct wa_jid *users, size_t n,
		   cl_devices_cb done)
{
	struct cl_devreq *r;
	bool all_cached = true;
	uint64_t now = now_ms(cl);
	int rc;

	if (n > DEVREQ_MAX || cl->devreq)
		return Y_EBUSY;
	r = calloc(1, sizeof(*r));
	if (!r)
		return Y_ENOMEM;
	r->cl = cl;
	r->n = n;
	r->done = done;
	for (size_t i = 0; i < n; i++) {
		struct cl_devlist *x;

		if ((rc = fill_user(&r->want[i], &users[i]))) {
			free(r);
			return rc;
		}
		x = cache_find(cl, &r->want[i]);
		if (x && now - x->at_ms < CL_DEVICES_TTL_MS)
			r->want[i] = x->d;
		else
			all_cached = false;
	}
	if (all_cached) {
		done(cl, 0, r->want, r->n);
		free(r);
		return Y_OK;
	}
	rc = ask(cl, r);
	if (rc)
		free(r);
	return rc;
}

/* <notification type="devices" from="USER@server">: that user's devices
 * changed; the next message asks again. */
int cl_devices_notification(struct wa_client *cl, const struct wa_node *n)
{
	struct wa_jid j;
	char user[WA_SIGNAL_NAME_MAX];

	if (wa_node_attr_jid(n, "from", &j) || !j.user_len || j.user_len >= sizeof(user))
		return Y_OK;
	memcpy(user, j.user, j.user_len);
	user[j.user_len] = 0;
	cl_devices_forget(cl, user);
	return Y_OK;
}
