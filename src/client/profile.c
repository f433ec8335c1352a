/*
 * Our profile (protocol-map.md §17.7): the "about" text, <iq type="set"
 * xmlns="status"><status>UTF-8</status></iq> as Baileys sends it (whatsmeow
 * moved to a w:mex mutation in 2026-08; the old iq is what the simulator
 * serves). The answer is only logged.
 *
 * Our push name: Baileys and whatsmeow set it through app state
 * (pushNameSetting) for our other devices and announce it in <presence
 * name>, which is what others see as the notify of our messages. We do the
 * latter, keeping the availability we last announced (app-state writes are
 * not implemented yet).
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

int wa_client_set_push_name(struct wa_client *cl, const char *name)
{
	size_t n = name ? strlen(name) : 0;
	int rc = Y_OK;

	if (!n || n >= sizeof(cl->creds.push_name))
		return Y_EINVAL;
	if (strcmp(cl->creds.push_name, name)) {
		memcpy(cl->creds.push_name, name, n + 1);
		cl_creds_changed(cl);
	}
	if (cl->state == WA_CL_CONNECTED && cl->conn)
		rc = wa_client_send_presence(cl, !cl->away, NULL); /* as we last said */
	return rc;
}
