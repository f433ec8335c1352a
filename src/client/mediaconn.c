/*
 * The media_conn iq (protocol-map.md §9.3): <iq xmlns="w:m" type="set"
 * to="s.whatsapp.net"><media_conn/></iq>, answered with
 * <media_conn auth ttl auth_ttl max_buckets><host hostname/>...</media_conn>.
 * The owner caches the answer for ttl seconds (service/engine.c).
 */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

int wa_media_conn_parse(const struct wa_node *iq, struct wa_media_conn *out)
{
	const struct wa_node *mc = iq ? wa_node_child(iq, "media_conn") : NULL;
	const char *auth = mc ? wa_node_attr(mc, "auth") : NULL;
	const char *ttl = mc ? wa_node_attr(mc, "ttl") : NULL;
	char *end;
	unsigned long t;

	memset(out, 0, sizeof(*out));
	if (!auth || !*auth || strlen(auth) >= sizeof(out->auth) || !ttl)
		return Y_EINVAL;
	t = strtoul(ttl, &end, 10);
	if (end == ttl || *end || t == 0 || t > 7 * 86400UL)
		return Y_EINVAL;
	memcpy(out->auth, auth, strlen(auth) + 1);
	out->ttl_s = (uint32_t)t;
	for (uint32_t i = 0; mc->content == WA_CONTENT_LIST && i < mc->nkids; i++) {
		const char *h = wa_node_is(mc->kids[i], "host") ? wa_node_attr(mc->kids[i], "hostname")
							       : NULL;

		/* a host name is letters, digits, '.', '-', ':' (a port) */
		if (!h || !*h || strlen(h) >= sizeof(out->hosts[0]) ||
		    strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") !=
			    strlen(h) ||
		    out->nhosts >= WA_MEDIA_CONN_HOSTS)
			continue;
		memcpy(out->hosts[out->nhosts++], h, strlen(h) + 1);
	}
	return out->nhosts ? Y_OK : Y_EINVAL;
}

static void on_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct wa_media_conn mc;

	cl->media_conn_asked = false;
	if (cl->conn != c)
		return;
	if (!err)
		err = wa_media_conn_parse(n, &mc);
	if (err)
		LOG_WARN("client media_conn failed", "{s:s}", "error", y_strerror(err));
	if (cl->cbs.on_media_conn && !cl->freeing)
		cl->cbs.on_media_conn(cl, err, err ? NULL : &mc, cl->ud);
}

int wa_client_media_conn(struct wa_client *cl)
{
	struct wa_node *iq;
	int rc;

	if (cl->state != WA_CL_CONNECTED || !cl->conn)
		return Y_ESTATE;
	if (cl->media_conn_asked)
		return Y_OK; /* one in flight: its answer serves both */
	iq = cl_iq_new(cl, "set", "w:m");
	if (!iq || !wa_node_add_child(iq, "media_conn")) {
		wa_node_free(iq);
		return Y_ENOMEM;
	}
	rc = cl_iq_send(cl, iq, on_answer);
	if (!rc)
		cl->media_conn_asked = true;
	return rc;
}
