/*
 * Presence and chat states as WhatsApp relays them (protocol-map.md §17.6,
 * §17.9): an account is available or not as its devices last said
 * (<presence type name>), its push name as they last named it (relayed as
 * the notify attribute of its messages); a device that subscribes (<presence
 * type="subscribe" to>) gets the contact's current <presence from [type]
 * [last]> at once and on every change while it is connected; a
 * <chatstate to> goes to the recipient's connected devices with `from` the
 * sender's bare JID, in the namespace the sender named the chat in. None is
 * acknowledged, none is queued for offline devices. Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* <presence from=who [type="unavailable"] [last]> to device d. */
static void tell(struct sim_device *d, const struct sim_account *who, bool lid)
{
	struct wa_node *n = wa_node_new("presence");
	char from[64], last[24];

	if (!d->conn || !n) {
		wa_node_free(n);
		return;
	}
	sim_device_jid(who, 0, lid, from, sizeof(from));
	snprintf(last, sizeof(last), "%llu", (unsigned long long)who->last_seen);
	if (sim_attrs(n, "from", from, NULL) ||
	    (!who->available && sim_attrs(n, "type", "unavailable", "last",
					  who->last_seen ? last : NULL, NULL))) {
		wa_node_free(n);
		return;
	}
	sim_conn_send(d->conn, n);
}

/* Every connected subscriber of a hears of its change. */
static void fan_out(struct sim *s, const struct sim_account *a)
{
	for (struct sim_account *x = s->accounts; x; x = x->next)
		for (struct sim_device *d = x->devices; d; d = d->next)
			for (struct sim_presub *ps = d->presubs; ps; ps = ps->next)
				if (ps->who == a && d->conn)
					tell(d, a, ps->lid);
}

static int subscribe(struct sim_conn *c, const struct wa_node *n)
{
	struct sim_account *who;
	struct sim_presub *ps;
	uint32_t dev;
	bool lid;

	who = sim_account_by_jid(c->sim, wa_node_attr(n, "to"), &dev, &lid);
	if (!who)
		return Y_OK; /* nobody by that name: nothing ever comes */
	for (ps = c->dev->presubs; ps && ps->who != who; ps = ps->next)
		;
	if (!ps) {
		if (!(ps = calloc(1, sizeof(*ps))))
			return Y_ENOMEM;
		ps->who = who;
		ps->next = c->dev->presubs;
		c->dev->presubs = ps;
	}
	ps->lid = lid;
	tell(c->dev, who, lid);
	return Y_OK;
}

int sim_presence(struct sim_conn *c, const struct wa_node *n)
{
	const char *type = wa_node_attr(n, "type");
	struct sim_account *a = c->acct;
	const char *name;
	bool avail;

	if (!c->dev || !a || !type)
		return Y_OK;
	if (!strcmp(type, "subscribe"))
		return subscribe(c, n);
	if (strcmp(type, "available") && strcmp(type, "unavailable"))
		return Y_OK;
	avail = !strcmp(type, "available");
	name = wa_node_attr(n, "name");
	if (name && *name && strlen(name) <= SIM_NAME_MAX)
		memcpy(a->name, name, strlen(name) + 1); /* the push name relayed as notify */
	if (avail == a->available && a->last_seen)
		return Y_OK;
	a->available = avail;
	a->last_seen = sim_now_s();
	fan_out(c->sim, a);
	return Y_OK;
}

int sim_chatstate(struct sim_conn *c, const struct wa_node *n)
{
	struct sim_account *ra;
	const struct wa_node *k;
	uint32_t dev;
	bool lid;
	char from[64];

	if (!c->dev || !c->acct || n->content != WA_CONTENT_LIST || n->nkids != 1)
		return Y_OK;
	k = n->kids[0];
	if (!wa_node_is(k, "composing") && !wa_node_is(k, "paused"))
		return Y_OK;
	ra = sim_account_by_jid(c->sim, wa_node_attr(n, "to"), &dev, &lid);
	if (!ra || ra == c->acct)
		return Y_OK;
	/* from: the sender's bare JID, whatever the sender put there */
	sim_device_jid(c->acct, 0, lid, from, sizeof(from));
	for (struct sim_device *d = ra->devices; d; d = d->next) {
		struct wa_node *out, *kid;
		const char *media = wa_node_attr(k, "media");

		if (!d->conn)
			continue;
		out = wa_node_new("chatstate");
		if (!out || sim_attrs(out, "from", from, NULL) ||
		    !(kid = wa_node_add_child(out, wa_node_is(k, "composing") ? "composing" : "paused")) ||
		    (media && sim_attrs(kid, "media", media, NULL))) {
			wa_node_free(out);
			return Y_ENOMEM;
		}
		sim_conn_send(d->conn, out);
	}
	return Y_OK;
}
