/*
 * The block list (protocol-map.md §17.7): <iq type="get" xmlns="blocklist">
 * answered with <list [dhash]><item jid/>...</list>, and <iq type="set"
 * xmlns="blocklist"><item action="block|unblock" jid/></iq> answered with
 * the updated <list> (whatsmeow needs it; Baileys ignores it). We send the
 * JID as given (Baileys 6's form); every answer that carries a <list> is
 * handed up through on_blocklist.
 */
#include "client/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

#define CL_BLOCKLIST_MAX 4096 /* entries handed up at most */

static void on_list(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	const struct wa_node *list = !err && n ? wa_node_child(n, "list") : NULL;
	const char **jids;
	size_t k = 0;

	if (cl->conn != c || cl->freeing)
		return;
	if (!list) {
		LOG_INFO("client block list: no list in the answer", "{s:s}", "error",
			 y_strerror(err ? err : Y_EINVAL));
		return;
	}
	jids = calloc(list->content == WA_CONTENT_LIST && list->nkids ? list->nkids : 1,
		      sizeof(*jids));
	if (!jids)
		return;
	for (uint32_t i = 0; list->content == WA_CONTENT_LIST && i < list->nkids &&
			     k < CL_BLOCKLIST_MAX; i++) {
		const char *jid = wa_node_is(list->kids[i], "item") ? wa_node_attr(list->kids[i], "jid")
								     : NULL;
		struct wa_jid j;

		if (jid && !wa_jid_parse(jid, strlen(jid), &j) && j.user_len)
			jids[k++] = jid;
	}
	if (cl->cbs.on_blocklist)
		cl->cbs.on_blocklist(cl, jids, k, cl->ud);
	free(jids);
}

int wa_client_blocklist(struct wa_client *cl)
{
	if (cl->state != WA_CL_CONNECTED || !cl->conn)
		return Y_ESTATE;
	return cl_iq_send(cl, cl_iq_new(cl, "get", "blocklist"), on_list);
}

int wa_client_block(struct wa_client *cl, const char *jid, bool block)
{
	struct wa_node *iq, *item;
	struct wa_jid j;

	if (!jid || wa_jid_parse(jid, strlen(jid), &j) || !j.user_len || j.device)
		return Y_EINVAL;
	if (cl->state != WA_CL_CONNECTED || !cl->conn)
		return Y_ESTATE;
	iq = cl_iq_new(cl, "set", "blocklist");
	if (iq && (!(item = wa_node_add_child(iq, "item")) ||
		   cl_attrs(item, "action", block ? "block" : "unblock", "jid", jid, NULL))) {
		wa_node_free(iq);
		iq = NULL;
	}
	return cl_iq_send(cl, iq, on_list);
}
