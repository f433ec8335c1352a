/* Keepalive: a ping every 20-30 s (jittered, as whatsmeow); a connection
 * whose ping goes unanswered for 10 s, or that received nothing for 45 s,
 * is dead and is replaced. The same tick expires iq waiters. */
#include "client/client_int.h"

#include "util/err.h"
#include "util/log.h"

static uint64_t interval(const struct wa_client *cl)
{
	uint8_t r = 0;
	uint64_t base = cl->opts.keepalive_ms;

	wa_crypto_random(&r, 1);
	/* base - 20% .. base + 20% */
	return base - base / 5 + (base * 2 / 5) * r / 255;
}

void cl_keepalive_start(struct wa_client *cl)
{
	cl->ping_out = false;
	cl_timer_start(cl, T_KEEPALIVE, interval(cl));
}

static void on_pong(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;

	if (cl->conn != c)
		return;
	/* any answer, even an error, shows it is alive; a timeout does not */
	if (err == Y_OK || err == Y_EINVAL)
		cl->ping_out = false;
}

void cl_keepalive_tick(struct wa_client *cl)
{
	uint64_t now = uv_now(wa_loop_uv(cl->pool->loop));
	struct wa_node *iq;

	if (!cl->conn || cl->state != WA_CL_CONNECTED)
		return;
	wa_conn_expire(cl->conn, now);
	if (!cl->conn)
		return; /* a waiter's timeout closed it */
	if ((cl->ping_out && now - cl->ping_sent_ms >= cl->opts.ping_timeout_ms) ||
	    now - wa_conn_last_rx(cl->conn) >= cl->opts.dead_ms) {
		LOG_INFO("client connection dead", NULL);
		cl_disconnected(cl, WA_REASON_CONNECTION_LOST);
		return;
	}
	if (!cl->ping_out) {
		iq = cl_iq_new(cl, "get", "w:p");
		if (iq && !wa_node_add_child(iq, "ping")) {
			wa_node_free(iq);
			iq = NULL;
		}
		if (iq && cl_iq_send(cl, iq, on_pong) == Y_OK) {
			cl->ping_out = true;
			cl->ping_sent_ms = now;
		}
	}
	cl_timer_start(cl, T_KEEPALIVE, cl->ping_out ? cl->opts.ping_timeout_ms : interval(cl));
}
