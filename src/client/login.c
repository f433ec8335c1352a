/* <success>: the device is logged in (protocol-map.md §6.1-§6.2). */
#include "client/client_int.h"

#include <string.h>

#include "util/err.h"
#include "util/log.h"

static void on_passive(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;

	if (err && cl->conn == c)
		LOG_WARN("client passive iq failed", "{s:s}",  "error",
			 y_strerror(err));
}

int cl_on_success(struct wa_client *cl, const struct wa_node *n)
{
	const char *lid = wa_node_attr(n, "lid");
	struct wa_node *iq;
	int rc;

	if (!wa_creds_linked(&cl->creds))
		return Y_OK; /* as whatsmeow: a success on an unpaired device is ignored */
	if (lid && strlen(lid) < sizeof(cl->creds.lid) && strcmp(lid, cl->creds.lid)) {
		memcpy(cl->creds.lid, lid, strlen(lid) + 1);
		cl_creds_changed(cl);
	}
	cl->attempts = 0;
	cl->logged_in_once = true;
	if (cl->logout_on_login) { /* wa_client_logout while we were away */
		cl->logout_on_login = false;
		if (cl_unlink(cl))
			return Y_OK;
		cl_give_up(cl, WA_CL_LOGGED_OUT, WA_REASON_LOGGED_OUT);
		return Y_OK;
	}
	cl_set_state(cl, WA_CL_CONNECTED, NULL);
	cl_keepalive_start(cl);
	/* prekeys first (Baileys waits on the count before going active) */
	cl_prekeys_check(cl);
	if (cl_props_fetch(cl))
		LOG_WARN("client cannot ask for the server's props", NULL);
	iq = cl_iq_new(cl, "set", "passive");
	if (!iq || !wa_node_add_child(iq, "active")) {
		wa_node_free(iq);
		return Y_ENOMEM;
	}
	rc = cl_iq_send(cl, iq, on_passive);
	cl_appstate_connected(cl); /* app-state writes queued while away */
	return rc;
}
