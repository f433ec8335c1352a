/*
 * Our profile (protocol-map.md §17.7): the "about" text, <iq type="set"
 * xmlns="status"><status>UTF-8</status></iq> as Baileys sends it (whatsmeow
 * moved to a w:mex mutation in 2026-08; the old iq is what the simulator
 * serves). The answer is only logged.
 *
 * Our push name: Baileys and whatsmeow set it through app state
 * (pushNameSetting) for our other devices and announce it in <presence
 * name>, which is what others see as the notify of our messages. We do
 * both: <presence name> keeping the availability we last announced, and a
 * setting_pushName mutation in critical_block (appstate.c) once our phone
 * shared an app-state key.
 *
 * A picture changed: <notification type="picture" from=JID><set jid=JID
 * id=PICTURE_ID author?/></notification>, or <delete jid author?/> when it
 * was removed (whatsmeow's handlePictureNotification, Baileys'
 * contacts.update imgUrl "changed"/"removed"). The child's jid names whose
 * picture it is; without one, the notification's from. Other children
 * (<request>, hashed jids) are skipped.
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
	{ /* and our other devices learn it through app state (without a key
	   * from our phone yet: only the presence) */
		struct wa_client_action a = { .kind = WA_ACT_PUSH_NAME };

		memcpy(a.name, name, n + 1 <= sizeof(a.name) ? n + 1 : 0);
		if (n + 1 <= sizeof(a.name) && wa_client_appstate_write(cl, &a) == Y_EBUSY)
			LOG_WARN("client push name not written to app state", "{s:s}", "reason",
				 "queue full");
	}
	return rc;
}

int cl_picture_notification(struct wa_client *cl, const struct wa_node *n)
{
	const char *from = wa_node_attr(n, "from");

	for (uint32_t i = 0; n->content == WA_CONTENT_LIST && i < n->nkids; i++) {
		const struct wa_node *k = n->kids[i];
		bool set = wa_node_is(k, "set");
		const char *jid = wa_node_attr(k, "jid"), *id = wa_node_attr(k, "id");

		if (!set && !wa_node_is(k, "delete"))
			continue;
		if (!jid)
			jid = from;
		if (!jid || !strchr(jid, '@') || (set && (!id || !*id)))
			continue; /* nothing to tell */
		if (cl->cbs.on_picture && !cl->freeing)
			cl->cbs.on_picture(cl, jid, set ? id : NULL, wa_node_attr(k, "author"),
					   cl->ud);
	}
	return Y_OK;
}
