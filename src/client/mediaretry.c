/*
 * Media retry (docs/media.md "Media retry"): asking our own phone to upload
 * a received file again after its host answered 404/410, and handing its
 * answer up. The request is <receipt type="server-error" id to=OWN_JID> with
 * the sealed ServerErrorReceipt (wa/mediaretry.h) and <rmr jid from_me
 * participant?>; the answer a <notification type="mediaretry" id> from our
 * own account with <encrypt><enc_p/><enc_iv/></encrypt> or <error code/>.
 * The client keeps no state: the owner holds the media key and opens the
 * answer (cbs.on_media_retry).
 */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "wa/crypto.h"
#include "wa/mediaretry.h"

/* The user part of a JID ("123:4@s.whatsapp.net" -> "123"), its length. */
static size_t jid_user(const char *jid)
{
	return jid ? strcspn(jid, ":@") : 0;
}

int wa_client_media_retry(struct wa_client *cl, const char *wa_id, const char *chat,
			  bool from_me, const char *participant,
			  const uint8_t media_key[WA_MEDIA_KEY_LEN])
{
	uint8_t iv[WA_MEDIA_RETRY_IV_LEN], *ct = NULL;
	size_t ctl = 0, ul = jid_user(cl->creds.jid);
	char to[WA_CREDS_JID_MAX + 24];
	struct wa_node *r = NULL, *enc, *k;
	int rc;

	if (cl->state != WA_CL_CONNECTED || !cl->conn || !ul)
		return Y_ESTATE;
	if (!wa_id || !*wa_id || !chat || !*chat)
		return Y_EINVAL;
	snprintf(to, sizeof(to), "%.*s@s.whatsapp.net", (int)ul, cl->creds.jid);
	rc = wa_crypto_random(iv, sizeof(iv));
	rc = rc ?: wa_media_retry_receipt_seal(media_key, wa_id, iv, &ct, &ctl);
	if (rc)
		return rc;
	rc = Y_ENOMEM;
	r = wa_node_new("receipt");
	if (!r || cl_attrs(r, "id", wa_id, "to", to, "type", "server-error", NULL) ||
	    !(enc = wa_node_add_child(r, "encrypt")) || !(k = wa_node_add_child(enc, "enc_p")) ||
	    wa_node_set_bytes(k, ct, ctl) || !(k = wa_node_add_child(enc, "enc_iv")) ||
	    wa_node_set_bytes(k, iv, sizeof(iv)) || !(k = wa_node_add_child(r, "rmr")) ||
	    cl_attrs(k, "jid", chat, "from_me", from_me ? "true" : "false", NULL) ||
	    (participant && *participant && cl_attrs(k, "participant", participant, NULL)))
		goto out;
	rc = cl_send(cl, r);
out:
	wa_node_free(r);
	free(ct);
	return rc;
}

int cl_mediaretry_notification(struct wa_client *cl, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id"), *from = wa_node_attr(n, "from");
	const struct wa_node *err = wa_node_child(n, "error"), *enc = wa_node_child(n, "encrypt");
	const uint8_t *ct = NULL, *iv = NULL;
	size_t ctl = 0, ivl = 0, ul = jid_user(cl->creds.jid);
	int code = 0;

	/* only our own phone answers these */
	if (!id || !from || !ul || jid_user(from) != ul || strncmp(from, cl->creds.jid, ul))
		return Y_OK;
	if (err) {
		const char *c = wa_node_attr(err, "code");

		code = c ? atoi(c) : 0;
		if (code <= 0)
			code = -1; /* an error without a usable code */
	} else if (enc) {
		ct = cl_kid_bytes(enc, "enc_p", &ctl);
		iv = cl_kid_bytes(enc, "enc_iv", &ivl);
		if (!ct || !iv || ivl != WA_MEDIA_RETRY_IV_LEN || !ctl || ctl > WA_MEDIA_RETRY_MAX) {
			ct = iv = NULL;
			code = -1;
		}
	} else {
		code = -1;
	}
	if (cl->cbs.on_media_retry && !cl->freeing)
		cl->cbs.on_media_retry(cl, id, code, ct, ctl, iv, cl->ud);
	return Y_OK;
}
