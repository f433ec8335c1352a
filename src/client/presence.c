/*
 * Presence and chat states (protocol-map.md §17.6): our own
 * <presence type="available|unavailable" name>, <chatstate to><composing
 * [media="audio"]/>|<paused/></chatstate> per chat, <presence
 * type="subscribe" to> for a contact, and what the server pushes back:
 * <presence from [type="unavailable"] [last]> and <chatstate from
 * [participant]> with one child. None of these is acknowledged or answered.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

static int send_owned(struct wa_client *cl, struct wa_node *n)
{
	int rc = n ? cl_send(cl, n) : Y_ENOMEM;

	wa_node_free(n);
	return rc;
}

static bool connected(const struct wa_client *cl)
{
	return cl->state == WA_CL_CONNECTED && cl->conn;
}

int wa_client_send_presence(struct wa_client *cl, bool available, const char *as)
{
	struct wa_node *n;
	char name[128];
	size_t k = 0;

	if (!connected(cl))
		return Y_ESTATE;
	/* both libraries insist on a name (others see "-" otherwise); Baileys 7
	 * strips '@' from it */
	for (const char *p = as && *as ? as : cl->creds.push_name; *p && k + 1 < sizeof(name); p++)
		if (*p != '@')
			name[k++] = *p;
	name[k] = 0;
	if (!k)
		return Y_EINVAL;
	cl->away = !available;
	n = wa_node_new("presence");
	if (n && cl_attrs(n, "type", available ? "available" : "unavailable", "name", name, NULL)) {
		wa_node_free(n);
		n = NULL;
	}
	return send_owned(cl, n);
}

int wa_client_send_chatstate(struct wa_client *cl, const char *to, const char *state)
{
	struct wa_node *n, *k;
	bool audio = state && !strcmp(state, "recording");
	struct wa_jid j;

	if (!to || wa_jid_parse(to, strlen(to), &j) || !j.user_len || !state ||
	    (strcmp(state, "composing") && strcmp(state, "paused") && !audio))
		return Y_EINVAL;
	if (!connected(cl))
		return Y_ESTATE;
	n = wa_node_new("chatstate");
	if (!n || wa_node_add_attr(n, "to", to) ||
	    !(k = wa_node_add_child(n, audio || !strcmp(state, "composing") ? "composing" : "paused")) ||
	    (audio && wa_node_add_attr(k, "media", "audio"))) {
		wa_node_free(n);
		n = NULL;
	}
	return send_owned(cl, n);
}

int wa_client_subscribe_presence(struct wa_client *cl, const char *jid)
{
	struct wa_node *n;
	struct wa_jid j;
	char id[32];

	if (!jid || wa_jid_parse(jid, strlen(jid), &j) || !j.user_len || j.device)
		return Y_EINVAL;
	if (!connected(cl))
		return Y_ESTATE;
	snprintf(id, sizeof(id), "ps%08x", (unsigned)rand());
	n = wa_node_new("presence");
	if (n && cl_attrs(n, "type", "subscribe", "to", jid, "id", id, NULL)) {
		wa_node_free(n);
		n = NULL;
	}
	return send_owned(cl, n);
}

int cl_presence_received(struct wa_client *cl, const struct wa_node *n)
{
	const char *from = wa_node_attr(n, "from"), *type = wa_node_attr(n, "type");
	const char *last = wa_node_attr(n, "last");
	uint64_t t = 0;
	struct wa_jid j;

	if (!from || wa_jid_parse(from, strlen(from), &j) || !j.user_len)
		return Y_OK;
	if (type && strcmp(type, "unavailable") && strcmp(type, "available"))
		return Y_OK; /* subscribe and the like are not for us */
	if (last && strcmp(last, "deny"))
		wa_node_attr_u64(n, "last", &t);
	if (cl->cbs.on_presence && !cl->freeing)
		cl->cbs.on_presence(cl, from, NULL,
				    type && !strcmp(type, "unavailable") ? "unavailable" : "available",
				    (int64_t)t, cl->ud);
	return Y_OK;
}

int cl_chatstate_received(struct wa_client *cl, const struct wa_node *n)
{
	const char *from = wa_node_attr(n, "from"), *part = wa_node_attr(n, "participant");
	const char *state = NULL, *media;
	const struct wa_node *k;
	struct wa_jid j;

	if (!from || wa_jid_parse(from, strlen(from), &j) || !j.user_len ||
	    n->content != WA_CONTENT_LIST || n->nkids != 1)
		return Y_OK;
	k = n->kids[0];
	media = wa_node_attr(k, "media");
	if (wa_node_is(k, "composing"))
		state = media && !strcmp(media, "audio") ? "recording" : "composing";
	else if (wa_node_is(k, "paused"))
		state = "paused";
	if (!state) {
		LOG_DEBUG("client chatstate of an unknown kind", "{s:s}", "from", from);
		return Y_OK;
	}
	if (cl->cbs.on_presence && !cl->freeing)
		cl->cbs.on_presence(cl, from, part, state, 0, cl->ud);
	return Y_OK;
}
