/* Connecting: the socket, the Noise handshake and the ClientPayload, which
 * registers a new device or logs a linked one in (protocol-map.md §2-§3). */
#include "client/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/jid.h"

/* The login payload's username and device, from our JID. */
static int login_ids(const struct wa_creds *c, uint64_t *user, uint32_t *dev)
{
	struct wa_jid j;
	uint64_t u = 0;

	if (wa_jid_parse(c->jid, strlen(c->jid), &j) || !j.user_len || j.user_len > 19)
		return Y_EINVAL;
	for (uint32_t i = 0; i < j.user_len; i++) {
		if (j.user[i] < '0' || j.user[i] > '9')
			return Y_EINVAL;
		u = u * 10 + (uint64_t)(j.user[i] - '0');
	}
	*user = u;
	*dev = j.device;
	return Y_OK;
}

static int build_payload(struct wa_client *cl, struct ybuf *out)
{
	const struct wa_creds *c = &cl->creds;

	if (wa_creds_linked(c)) {
		uint64_t user;
		uint32_t dev;
		int rc = login_ids(c, &user, &dev);

		return rc ?: wa_payload_login_v(user, dev, &cl->pool->version, out);
	} else {
		struct wa_payload_reg reg;

		memset(&reg, 0, sizeof(reg));
		reg.registration_id = c->identity.registration_id;
		reg.identity_pub = c->identity.pub;
		reg.signed_prekey_id = c->spk_id;
		reg.signed_prekey_pub = c->spk.pub;
		reg.signed_prekey_sig = c->spk_sig;
		reg.os = "YesApp";
		reg.version = &cl->pool->version;
		return wa_payload_registration(&reg, out);
	}
}

void cl_connect_now(struct wa_client *cl)
{
	struct wa_client_pool *p = cl->pool;
	struct ybuf pl = YBUF_INIT(1 << 16);
	struct wa_conn_opts o;
	int rc;

	if (cl->conn || cl->freeing)
		return;
	cl->logged_in_once = false;
	rc = build_payload(cl, &pl);
	if (rc) {
		ybuf_release(&pl);
		LOG_ERROR("client cannot build its payload", "{s:s}", 
			  "error", y_strerror(rc));
		cl_give_up(cl, WA_CL_FAILED, "bad_credentials");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.sock.url = p->url;
	o.sock.ca_file = p->ca_file;
	o.sock.dict = p->dict;
	o.sock.queue_max = 1 << 20;
	o.sock.frame_max = 8 << 20;
	o.root_pub = p->has_root ? p->root : NULL;
	o.noise_key = &cl->creds.noise;
	o.payload = pl.data;
	o.payload_len = pl.len;
	o.log_session = cl->opts.name;
	rc = wa_conn_connect(p->loop, &o, &cl_conn_cbs, cl, &cl->conn);
	ybuf_release(&pl);
	if (!rc)
		cl_timer_start(cl, T_HANDSHAKE, CL_HANDSHAKE_MS);
	if (rc) {
		cl->conn = NULL;
		LOG_WARN("client cannot connect", "{s:s}",  "error",
			 y_strerror(rc));
		cl_disconnected(cl, "connect_failed");
	}
}
