/*
 * Receipts (protocol-map.md §8.4): the server's receipts for what we sent
 * (delivered, read, played...) are acknowledged and handed up with every id
 * they name (the id attribute and <list><item id/>); read receipts we send
 * for what we received.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/log.h"

#define RECEIPT_IDS_MAX 256

int cl_receipt_received(struct wa_client *cl, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id"), *from = wa_node_attr(n, "from");
	const char *type = wa_node_attr(n, "type");
	const struct wa_node *list = wa_node_child(n, "list");
	const char *ids[RECEIPT_IDS_MAX];
	size_t nids = 0;
	int rc = cl_ack_node(cl, n);

	if (rc || !id || !from)
		return rc;
	if (type && !strcmp(type, "retry"))
		return cl_retry_received(cl, n);
	ids[nids++] = id;
	for (uint32_t i = 0; list && list->content == WA_CONTENT_LIST && i < list->nkids; i++) {
		const char *x = wa_node_is(list->kids[i], "item") ? wa_node_attr(list->kids[i], "id")
								  : NULL;

		if (x && nids < RECEIPT_IDS_MAX)
			ids[nids++] = x;
	}
	if (cl->cbs.on_receipt && !cl->freeing)
		cl->cbs.on_receipt(cl, from, type, ids, nids, cl->ud);
	return Y_OK;
}

int wa_client_mark_read(struct wa_client *cl, const char *from, const char *const *ids,
			size_t n)
{
	struct wa_node *r, *list = NULL, *item;
	char t[24];
	int rc = Y_ENOMEM;

	if (cl->state != WA_CL_CONNECTED || !cl->conn)
		return Y_ESTATE;
	if (!from || !n || !ids[0])
		return Y_EINVAL;
	snprintf(t, sizeof(t), "%lld", (long long)time(NULL));
	r = wa_node_new("receipt");
	if (!r || cl_attrs(r, "id", ids[0], "to", from, "type", "read", "t", t, NULL))
		goto out;
	for (size_t i = 1; i < n; i++)
		if ((!list && !(list = wa_node_add_child(r, "list"))) ||
		    !(item = wa_node_add_child(list, "item")) || cl_attrs(item, "id", ids[i], NULL))
			goto out;
	rc = cl_send(cl, r);
out:
	wa_node_free(r);
	return rc;
}
