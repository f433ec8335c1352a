/*
 * Our profile (protocol-map.md §17.7): the "about" text, <iq type="set"
 * xmlns="status"><status>UTF-8</status></iq> as Baileys sends it (whatsmeow
 * moved to a w:mex mutation in 2026-08; the old iq is what the simulator
 * serves). The answer is only logged.
 */
#include "client/client_int.h"

#include <string.h>

#include "util/err.h"
#include "util/log.h"

static void on_about(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	const char *type = n ? wa_node_attr(n, "type") : NULL;

	if (err || !type || strcmp(type, "result"))
		LOG_WARN("client about text not accepted", "{s:s}", "error",
			 err ? y_strerror(err) : "iq error");
}

int wa_client_set_about(struct wa_client *cl, const char *text)
{
	struct wa_node *iq, *st;

	if (!text)
		return Y_EINVAL;
	if (cl->state != WA_CL_CONNECTED || !cl->conn)
		return Y_ESTATE;
	iq = cl_iq_new(cl, "set", "status");
	if (iq && (!(st = wa_node_add_child(iq, "status")) ||
		   wa_node_set_bytes(st, text, strlen(text)))) {
		wa_node_free(iq);
		iq = NULL;
	}
	return cl_iq_send(cl, iq, on_about);
}
