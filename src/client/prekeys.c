/* One-time prekeys (protocol-map.md §6.2, §6.4): after login the server's
 * count is asked; below CL_PREKEY_MIN a batch is made, handed to the owner
 * to persist (a peer's first message may consume any of them, so they must
 * outlive a crash), and only then uploaded. The server's low-count
 * notification starts the same. */
#include "client/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

static void upload(struct wa_client *cl);

void cl_prekeys_reset(struct wa_client *cl)
{
	free(cl->pk_pending);
	cl->pk_pending = NULL;
	cl->npk_pending = 0;
	cl->pk_busy = false;
}

/* Makes a batch and hands it to the owner. */
static void make_batch(struct wa_client *cl)
{
	uint32_t ids[CL_PREKEY_BATCH];
	uint8_t priv[CL_PREKEY_BATCH][32];
	struct wa_signal_prekey *pub;
	uint32_t id = cl->creds.next_prekey_id ? cl->creds.next_prekey_id : 1;

	if (cl->pk_busy)
		return;
	pub = calloc(CL_PREKEY_BATCH, sizeof(*pub));
	if (!pub)
		return;
	for (size_t i = 0; i < CL_PREKEY_BATCH; i++) {
		struct wa_keypair k;

		if (wa_keypair_generate(&k)) {
			free(pub);
			wa_wipe(priv, sizeof(priv));
			return;
		}
		ids[i] = id;
		pub[i].id = id;
		memcpy(pub[i].pub, k.pub, WA_KEY_LEN);
		memcpy(priv[i], k.priv, 32);
		wa_wipe(&k, sizeof(k));
		/* the Signal store must know it before a peer can use it */
		if (cl->sig && wa_signal_import_prekey(cl->sig, id, priv[i]))
			LOG_WARN("client cannot keep a prekey in the Signal store", NULL);
		id = id >= 0xFFFFFF ? 1 : id + 1;
	}
	free(cl->pk_pending);
	cl->pk_pending = pub;
	cl->npk_pending = CL_PREKEY_BATCH;
	cl->pk_busy = true;
	cl->creds.next_prekey_id = id;
	cl_creds_changed(cl);
	if (cl->cbs.on_prekeys)
		cl->cbs.on_prekeys(cl, ids, (const uint8_t(*)[32])priv, CL_PREKEY_BATCH, cl->ud);
	wa_wipe(priv, sizeof(priv));
	if (!cl->cbs.on_prekeys)
		upload(cl);
}

static void on_upload(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	uint32_t upto;

	if (cl->conn != c)
		return;
	cl->pk_busy = false;
	if (err) {
		LOG_WARN("client prekey upload failed", "{s:s}", 
			 "error", y_strerror(err));
		return;
	}
	upto = cl->npk_pending ? cl->pk_pending[cl->npk_pending - 1].id : 0;
	LOG_INFO("client prekeys uploaded", "{s:i}",  "count",
		 (int)cl->npk_pending);
	free(cl->pk_pending);
	cl->pk_pending = NULL;
	cl->npk_pending = 0;
	if (upto && cl->cbs.on_prekeys_uploaded)
		cl->cbs.on_prekeys_uploaded(cl, upto, cl->ud);
}

static struct wa_node *bytes_kid(struct wa_node *parent, const char *tag, const void *p, size_t n)
{
	struct wa_node *k = wa_node_add_child(parent, tag);

	return k && !wa_node_set_bytes(k, p, n) ? k : NULL;
}

static void upload(struct wa_client *cl)
{
	struct wa_node *iq = cl_iq_new(cl, "set", "encrypt"), *list, *key, *sk;
	uint8_t reg[4], b3[3];
	int ok;

	if (!iq)
		goto fail;
	wa_signal_put_be32(reg, cl->creds.identity.registration_id);
	ok = bytes_kid(iq, "registration", reg, 4) && bytes_kid(iq, "type", "\x05", 1) &&
	     bytes_kid(iq, "identity", cl->creds.identity.pub, WA_KEY_LEN) &&
	     (list = wa_node_add_child(iq, "list"));
	for (size_t i = 0; ok && i < cl->npk_pending; i++) {
		wa_signal_put_be24(b3, cl->pk_pending[i].id);
		ok = (key = wa_node_add_child(list, "key")) && bytes_kid(key, "id", b3, 3) &&
		     bytes_kid(key, "value", cl->pk_pending[i].pub, WA_KEY_LEN);
	}
	wa_signal_put_be24(b3, cl->creds.spk_id);
	ok = ok && (sk = wa_node_add_child(iq, "skey")) && bytes_kid(sk, "id", b3, 3) &&
	     bytes_kid(sk, "value", cl->creds.spk.pub, WA_KEY_LEN) &&
	     bytes_kid(sk, "signature", cl->creds.spk_sig, WA_SIG_LEN);
	if (!ok) {
		wa_node_free(iq);
		goto fail;
	}
	if (cl_iq_send(cl, iq, on_upload) == Y_OK)
		return;
fail:
	cl->pk_busy = false;
}

void wa_client_prekeys_saved(struct wa_client *cl, int err)
{
	if (!cl->pk_busy || !cl->pk_pending)
		return;
	if (err) {
		LOG_WARN("client prekeys not saved; not uploading", NULL);
		cl_prekeys_reset(cl);
		return;
	}
	if (cl->conn && cl->state == WA_CL_CONNECTED)
		upload(cl);
	else
		cl->pk_busy = false; /* kept; the next login counts again */
}

static void on_count(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	const struct wa_node *k = n ? wa_node_child(n, "count") : NULL;
	uint64_t v;

	if (cl->conn != c || err || !k || wa_node_attr_u64(k, "value", &v))
		return;
	if (v < CL_PREKEY_MIN)
		make_batch(cl);
}

void cl_prekeys_check(struct wa_client *cl)
{
	struct wa_node *iq = cl_iq_new(cl, "get", "encrypt");

	if (iq && !wa_node_add_child(iq, "count")) {
		wa_node_free(iq);
		return;
	}
	cl_iq_send(cl, iq, on_count);
}

int cl_prekeys_notification(struct wa_client *cl, const struct wa_node *n)
{
	const struct wa_node *k = wa_node_child(n, "count");
	uint64_t v;

	if (k && !wa_node_attr_u64(k, "value", &v) && v < CL_PREKEY_MIN &&
	    cl->state == WA_CL_CONNECTED)
		make_batch(cl);
	return Y_OK;
}
