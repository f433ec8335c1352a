/* The client pool: shared options and the connect-rate limiter (client.h). */
#include "client/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

#define DEF_CPS 200

int wa_client_pool_new(struct wa_loop *loop, const struct wa_client_pool_opts *o,
		       struct wa_client_pool **out)
{
	struct wa_client_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return Y_ENOMEM;
	p->timer = malloc(sizeof(*p->timer));
	p->url = strdup(o && o->url ? o->url : "wss://web.whatsapp.com/ws/chat");
	p->ca_file = o && o->ca_file ? strdup(o->ca_file) : NULL;
	if (!p->timer || !p->url || (o && o->ca_file && !p->ca_file)) {
		free(p->timer);
		free(p->url);
		free(p->ca_file);
		free(p);
		return Y_ENOMEM;
	}
	if (o && o->root_pub) {
		memcpy(p->root, o->root_pub, WA_KEY_LEN);
		p->has_root = true;
	}
	p->version = o && o->version.primary ? o->version : wa_payload_version;
	p->dict = o && o->dict ? o->dict : 3;
	p->cps = o && o->connects_per_sec ? o->connects_per_sec : DEF_CPS;
	p->tokens = p->cps / 10.0 > 1 ? p->cps / 10.0 : 1; /* a small burst at once */
	p->loop = loop;
	uv_timer_init(wa_loop_uv(loop), p->timer);
	p->timer->data = p;
	p->refill_ms = uv_now(wa_loop_uv(loop));
	*out = p;
	return Y_OK;
}

static void timer_freed(uv_handle_t *h)
{
	free(h);
}

void wa_client_pool_free(struct wa_client_pool *p)
{
	if (!p)
		return;
	uv_timer_stop(p->timer);
	uv_close((uv_handle_t *)p->timer, timer_freed);
	free(p->url);
	free(p->ca_file);
	free(p);
}

void wa_client_pool_set_version(struct wa_client_pool *p, struct wa_version v)
{
	if (v.primary)
		p->version = v;
}

size_t wa_client_pool_waiting(const struct wa_client_pool *p)
{
	return p->nwaiting;
}

static void refill(struct wa_client_pool *p)
{
	uint64_t now = uv_now(wa_loop_uv(p->loop));
	double burst = p->cps / 10.0 > 1 ? p->cps / 10.0 : 1;

	p->tokens += (double)(now - p->refill_ms) * p->cps / 1000.0;
	if (p->tokens > burst)
		p->tokens = burst;
	p->refill_ms = now;
}

static void on_pool_timer(uv_timer_t *t);

static void arm(struct wa_client_pool *p)
{
	uint64_t ms = p->cps >= 1000 ? 1 : 1000 / p->cps;

	if (p->wait_head && !uv_is_active((uv_handle_t *)p->timer))
		uv_timer_start(p->timer, on_pool_timer, ms, 0);
}

static void on_pool_timer(uv_timer_t *t)
{
	struct wa_client_pool *p = t->data;

	refill(p);
	while (p->wait_head && p->tokens >= 1) {
		struct wa_client *cl = p->wait_head;
		const char *log_prev;

		p->wait_head = cl->wait_next;
		if (!p->wait_head)
			p->wait_tail = NULL;
		cl->wait_next = NULL;
		cl->waiting_slot = false;
		p->nwaiting--;
		p->tokens -= 1;
		log_prev = ylog_swap_session(cl->opts.name);
		cl_connect_now(cl);
		ylog_set_session(log_prev);
	}
	arm(p);
}

void cl_pool_request(struct wa_client *cl)
{
	struct wa_client_pool *p = cl->pool;

	if (cl->waiting_slot || cl->conn)
		return;
	if (cl->state != WA_CL_CONNECTING)
		cl_set_state(cl, WA_CL_CONNECTING, NULL);
	refill(p);
	if (!p->wait_head && p->tokens >= 1) {
		p->tokens -= 1;
		cl_connect_now(cl);
		return;
	}
	cl->waiting_slot = true;
	cl->wait_next = NULL;
	if (p->wait_tail)
		p->wait_tail->wait_next = cl;
	else
		p->wait_head = cl;
	p->wait_tail = cl;
	p->nwaiting++;
	arm(p);
}

void cl_pool_cancel(struct wa_client *cl)
{
	struct wa_client_pool *p = cl->pool;
	struct wa_client **pp, *prev = NULL;

	if (!cl->waiting_slot)
		return;
	for (pp = &p->wait_head; *pp; prev = *pp, pp = &(*pp)->wait_next) {
		if (*pp == cl) {
			*pp = cl->wait_next;
			if (p->wait_tail == cl)
				p->wait_tail = prev;
			p->nwaiting--;
			break;
		}
	}
	cl->waiting_slot = false;
	cl->wait_next = NULL;
}
