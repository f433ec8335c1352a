/*
 * A scriptable WhatsApp server for unit tests, built from src/wa/ pieces: a
 * wa_listener on 127.0.0.1 (ephemeral port) and the Noise responder with a
 * certificate chain under a root of its own. Each accepted connection runs
 * the handshake, keeps the ClientPayload, then decodes every node the
 * client sends into fw_conn.rx (owned trees) and hands it to the test's
 * on_node hook. Nothing is answered unless the test says so (answer_pings).
 *
 * Header-only, static: each test binary that includes it gets its own copy.
 * Everything runs on the test's wa_loop; run_until/run_for drive it under
 * deadlines, never with sleeps.
 */
#ifndef YESAPP_TEST_FAKE_WA_H
#define YESAPP_TEST_FAKE_WA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/binary.h"
#include "wa/crypto.h"
#include "wa/frame.h"
#include "wa/node.h"
#include "wa/noise.h"
#include "wa/socket.h"

#define FW_CONNS_MAX 32
#define FW_RX_MAX 128
#define FW_DEADLINE_MS 10000

/* ---- driving the loop ---- */

static bool fw_timed_out;

static inline void fw_deadline_cb(uv_timer_t *t)
{
	fw_timed_out = true;
}

/* Runs the loop until cond(arg) holds or ms pass; returns cond's last value. */
static inline bool run_until_ms(struct wa_loop *l, bool (*cond)(void *), void *arg, uint64_t ms)
{
	uv_timer_t t;
	bool ok;

	fw_timed_out = false;
	uv_timer_init(wa_loop_uv(l), &t);
	uv_timer_start(&t, fw_deadline_cb, ms, 0);
	while (!(ok = cond(arg)) && !fw_timed_out)
		wa_loop_run_once(l, 0);
	uv_close((uv_handle_t *)&t, NULL);
	wa_loop_run_once(l, 1);
	return ok;
}

static inline bool run_until(struct wa_loop *l, bool (*cond)(void *), void *arg)
{
	return run_until_ms(l, cond, arg, FW_DEADLINE_MS);
}

static inline bool fw_never(void *arg)
{
	return false;
}

/* Runs the loop for ms milliseconds. */
static inline void run_for(struct wa_loop *l, uint64_t ms)
{
	run_until_ms(l, fw_never, NULL, ms);
}

static inline uint64_t now_ms(struct wa_loop *l)
{
	uv_update_time(wa_loop_uv(l));
	return uv_now(wa_loop_uv(l));
}

/* ---- the server ---- */

struct fw_server;

struct fw_conn {
	struct fw_server *sv;
	struct wa_socket *s;       /* NULL once closed */
	struct wa_noise nz;
	int step;                  /* 0: ClientHello, 1: ClientFinish, 2: transport */
	bool closed;
	int close_err;
	int dict;
	struct ybuf payload;       /* the ClientPayload */
	struct wa_node *rx[FW_RX_MAX];
	int nrx;
	uint64_t accepted_ms, ready_ms;
};

struct fw_server {
	struct wa_loop *l;
	struct wa_listener *ls;
	struct wa_keypair root;    /* what clients should trust */
	bool have_root;            /* root set by the caller: fw_start keeps it */
	struct wa_keypair signer;  /* what signs the chain: root, unless wrong_root */
	struct wa_keypair inter, stat;
	struct ybuf chain;
	bool wrong_root;           /* sign the chain with another root */
	bool answer_pings;         /* answer <iq xmlns=w:p><ping/></iq> with a result */
	bool abort_on_accept;      /* drop each connection as soon as it is accepted */
	struct fw_conn *c[FW_CONNS_MAX];
	int nc;
	void (*on_ready)(struct fw_conn *c);                          /* after ClientFinish */
	void (*on_node)(struct fw_conn *c, const struct wa_node *n); /* each node received */
	void *ud;
};

static inline int fw_send(struct fw_conn *c, const struct wa_node *n)
{
	struct ybuf pt = YBUF_INIT(WA_FRAME_MAX), ct = YBUF_INIT(0);
	int rc;

	if (!c->s || c->step != 2)
		return Y_ECLOSED;
	rc = wa_binary_encode(n, c->dict, &pt);
	rc = rc ?: wa_noise_encrypt(&c->nz, pt.data, pt.len, &ct);
	rc = rc ?: wa_socket_send_frame(c->s, ct.data, ct.len);
	ybuf_release(&pt);
	ybuf_release(&ct);
	return rc;
}

/* Sends a node and frees it. */
static inline int fw_send_free(struct fw_conn *c, struct wa_node *n)
{
	int rc = n ? fw_send(c, n) : Y_ENOMEM;

	wa_node_free(n);
	return rc;
}

/* A node with attributes: pairs of key, value ending with NULL. */
static inline struct wa_node *fw_node(const char *tag, ...)
{
	struct wa_node *n = wa_node_new(tag);
	va_list ap;
	const char *k;

	va_start(ap, tag);
	while (n && (k = va_arg(ap, const char *))) {
		if (wa_node_add_attr(n, k, va_arg(ap, const char *))) {
			wa_node_free(n);
			n = NULL;
		}
	}
	va_end(ap);
	return n;
}

static inline void fw_answer_ping(struct fw_conn *c, const struct wa_node *n)
{
	const char *xmlns = wa_node_attr(n, "xmlns"), *id = wa_node_attr(n, "id");

	if (wa_node_is(n, "iq") && xmlns && !strcmp(xmlns, "w:p") && id && wa_node_child(n, "ping"))
		fw_send_free(c, fw_node("iq", "id", id, "type", "result", "from", "s.whatsapp.net",
					NULL));
}

static inline void fw_on_frame(struct wa_socket *s, const uint8_t *p, size_t n, void *ud)
{
	struct fw_conn *c = ud;
	struct ybuf out = YBUF_INIT(0);
	struct wa_node *node = NULL;
	int rc;

	if (c->step == 0) {
		c->dict = wa_socket_dict(s);
		rc = wa_noise_read_client_hello(&c->nz, p, n);
		rc = rc ?: wa_noise_server_hello(&c->nz, &c->sv->stat, c->sv->chain.data,
						 c->sv->chain.len, &out);
		rc = rc ?: wa_socket_send_frame(s, out.data, out.len);
		c->step = 1;
	} else if (c->step == 1) {
		rc = wa_noise_read_client_finish(&c->nz, p, n, &c->payload);
		c->step = 2;
		c->ready_ms = now_ms(c->sv->l);
		if (!rc && c->sv->on_ready)
			c->sv->on_ready(c);
	} else {
		rc = wa_noise_decrypt(&c->nz, p, n, &out);
		rc = rc ?: wa_binary_decode(out.data, out.len, c->dict, &node);
		if (!rc && c->nrx < FW_RX_MAX) {
			c->rx[c->nrx++] = node;
			if (c->sv->answer_pings)
				fw_answer_ping(c, node);
			if (c->sv->on_node)
				c->sv->on_node(c, node);
		} else {
			wa_node_free(node);
		}
	}
	ybuf_release(&out);
	if (rc && c->s)
		wa_socket_abort(c->s);
}

static inline void fw_on_close(struct wa_socket *s, int err, const char *reason, void *ud)
{
	struct fw_conn *c = ud;

	c->s = NULL;
	c->closed = true;
	c->close_err = err;
}

static inline void fw_on_accept(struct wa_listener *ls, struct wa_socket *s, void *ud)
{
	static const struct wa_socket_cbs cbs = { NULL, fw_on_frame, NULL, fw_on_close };
	static const uint8_t intro[4] = { 'W', 'A', 6, 3 };
	struct fw_server *sv = ud;
	struct fw_conn *c;

	if (sv->nc >= FW_CONNS_MAX || !(c = calloc(1, sizeof(*c)))) {
		wa_socket_abort(s);
		return;
	}
	c->sv = sv;
	c->s = s;
	c->accepted_ms = now_ms(sv->l);
	ybuf_init(&c->payload, 1 << 16);
	/* the prologue names dictionary 3, which our client announces */
	wa_noise_init(&c->nz, WA_NOISE_RESPONDER, intro);
	sv->c[sv->nc++] = c;
	wa_socket_set_cbs(s, &cbs, c);
	if (sv->abort_on_accept)
		wa_socket_abort(s);
}

static inline int fw_start(struct wa_loop *l, struct fw_server *sv)
{
	struct wa_listener_opts lo = { 0 };
	struct wa_noise_cert_params cp;
	uint64_t now = (uint64_t)time(NULL);
	int rc;

	sv->l = l;
	ybuf_init(&sv->chain, 4096);
	rc = sv->have_root ? Y_OK : wa_keypair_generate(&sv->root);
	rc = rc ?: wa_keypair_generate(&sv->inter);
	rc = rc ?: wa_keypair_generate(&sv->stat);
	if (sv->wrong_root)
		rc = rc ?: wa_keypair_generate(&sv->signer);
	else
		sv->signer = sv->root;
	if (rc)
		return rc;
	cp.root_priv = sv->signer.priv;
	cp.intermediate = &sv->inter;
	cp.intermediate_serial = 7;
	cp.leaf_serial = 8;
	cp.leaf_key = sv->stat.pub;
	cp.not_before = now - 3600;
	cp.not_after = now + 86400;
	rc = wa_noise_cert_chain_build(&cp, &sv->chain);
	return rc ?: wa_listener_new(l, &lo, fw_on_accept, sv, &sv->ls);
}

static inline void fw_url(const struct fw_server *sv, char *out, size_t cap)
{
	snprintf(out, cap, "ws://127.0.0.1:%d/ws/chat", wa_listener_port(sv->ls));
}

/* The newest connection, or NULL. */
static inline struct fw_conn *fw_last(const struct fw_server *sv)
{
	return sv->nc ? sv->c[sv->nc - 1] : NULL;
}

/* The first node of c received from index `from` on with this tag and a
 * child `kid` (NULL: any), or NULL. */
static inline const struct wa_node *fw_find(const struct fw_conn *c, int from, const char *tag,
				     const char *kid)
{
	for (int i = from; c && i < c->nrx; i++)
		if (wa_node_is(c->rx[i], tag) && (!kid || wa_node_child(c->rx[i], kid)))
			return c->rx[i];
	return NULL;
}

/* Frees the connection records; the loop (wa_loop_free) closes what is
 * still open. Call after the clients are freed, before wa_loop_free. */
static inline void fw_release(struct fw_server *sv)
{
	for (int i = 0; i < sv->nc; i++) {
		struct fw_conn *c = sv->c[i];

		if (c->s) {
			wa_socket_set_cbs(c->s, &(struct wa_socket_cbs){ 0 }, NULL);
			wa_socket_abort(c->s);
		}
		for (int k = 0; k < c->nrx; k++)
			wa_node_free(c->rx[k]);
		ybuf_release(&c->payload);
		wa_noise_release(&c->nz);
		free(c);
	}
	sv->nc = 0;
	ybuf_release(&sv->chain);
}

#endif
