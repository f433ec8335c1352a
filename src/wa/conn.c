/* The connection pipe (see conn.h): socket -> Noise -> nodes, iq waiters. */
#include "wa/conn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/binary.h"
#include "wa/frame.h"
#include "wa/noise.h"

/* A decoded tree may take this much memory (attribute-heavy nodes expand);
 * far above any stanza a client receives, far below the codec's cap. */
#define CONN_TREE_MAX ((size_t)32 << 20)
#define PAYLOAD_MAX_DEFAULT ((size_t)64 << 10)

struct waiter {
	struct waiter *next;
	wa_conn_iq_cb cb;
	void *ud;
	uint64_t deadline;             /* uv_now ms; 0 = none */
	char id[WA_CONN_ID_LEN];
};

/* initiator: CS_HELLO (ServerHello awaited); responder: CS_HELLO
 * (ClientHello awaited), CS_FINISH (ClientFinish awaited) */
enum conn_state { CS_HELLO, CS_FINISH, CS_OPEN, CS_CLOSING };

struct wa_conn {
	struct wa_loop *loop;
	struct wa_socket *ws;
	struct wa_conn_cbs cbs;
	void *ud;
	enum conn_state state;
	int dict;
	int close_err;                 /* an error of ours to report in on_close */
	int dropped;                   /* wa_conn_drop: no more callbacks */
	struct wa_noise nz;
	struct wa_keypair noise_key;   /* wiped after ClientFinish */
	uint8_t *payload;              /* freed after ClientFinish */
	size_t payload_len;
	/* responder */
	bool responder;
	const struct wa_keypair *static_key; /* borrowed */
	const uint8_t *cert_chain;     /* borrowed */
	size_t cert_len, payload_max;
	struct waiter *waiters;
	size_t nwaiters;
	uint64_t last_rx;
	uint32_t next_id;
	char id_prefix[12];
	const char *log_session;
};

/* Every callback into the owner runs with its log context; the one in
 * force before comes back after (a callback may run inside the owner's own
 * call, e.g. a close from wa_conn_drop). ENTER and LEAVE pair in one block. */
#define ENTER(c) const char *log_prev_ = ylog_swap_session((c)->log_session)
#define LEAVE() ylog_set_session(log_prev_)

static void fail(struct wa_conn *c, int err)
{
	if (c->state == CS_CLOSING)
		return;
	c->close_err = err;
	c->state = CS_CLOSING;
	wa_socket_abort(c->ws);
}

static void on_open(struct wa_socket *s, void *ud)
{
	struct wa_conn *c = ud;
	struct ybuf out = YBUF_INIT(0);
	int rc = wa_noise_client_hello(&c->nz, &out);

	rc = rc ?: wa_socket_send_frame(s, out.data, out.len);
	ybuf_release(&out);
	if (rc)
		fail(c, rc);
}

/* Hands an iq answer to its waiter; 1 if one took it. */
static int take_answer(struct wa_conn *c, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id"), *type;
	struct waiter **pp, *w;

	if (!id || !c->waiters || (!wa_node_is(n, "iq") && !wa_node_is(n, "ack")))
		return 0;
	type = wa_node_attr(n, "type");
	if (wa_node_is(n, "iq") && (!type || (strcmp(type, "result") && strcmp(type, "error"))))
		return 0;
	for (pp = &c->waiters; (w = *pp); pp = &w->next)
		if (!strcmp(w->id, id))
			break;
	if (!w)
		return 0;
	*pp = w->next;
	c->nwaiters--;
	if (w->cb) {
		ENTER(c);
		w->cb(c, type && !strcmp(type, "error") ? Y_EINVAL : Y_OK, n, w->ud);
		LEAVE();
	}
	free(w);
	return 1;
}

static int on_transport(struct wa_conn *c, const uint8_t *p, size_t n)
{
	struct ybuf pt = YBUF_INIT(WA_FRAME_MAX);
	struct wa_node *node = NULL;
	int rc;

	rc = wa_noise_decrypt(&c->nz, p, n, &pt);
	rc = rc ?: wa_binary_decode_limited(pt.data, pt.len, c->dict, CONN_TREE_MAX, &node);
	ybuf_release(&pt);
	if (rc)
		return rc;
	if (!take_answer(c, node) && c->cbs.on_node) {
		ENTER(c);
		rc = c->cbs.on_node(c, node, c->ud);
		LEAVE();
	}
	wa_node_free(node);
	return rc;
}

static int on_server_hello(struct wa_conn *c, const uint8_t *p, size_t n)
{
	struct ybuf out = YBUF_INIT(0);
	int rc;

	rc = wa_noise_read_server_hello(&c->nz, p, n);
	rc = rc ?: wa_noise_client_finish(&c->nz, &c->noise_key, c->payload, c->payload_len, &out);
	rc = rc ?: wa_socket_send_frame(c->ws, out.data, out.len);
	ybuf_release(&out);
	wa_wipe(&c->noise_key, sizeof(c->noise_key));
	free(c->payload);
	c->payload = NULL;
	if (rc)
		return rc;
	c->state = CS_OPEN;
	if (c->cbs.on_ready) {
		ENTER(c);
		c->cbs.on_ready(c, c->ud);
		LEAVE();
	}
	return Y_OK;
}

/* Responder: ClientHello, answered with ServerHello (the dictionary is
 * the one the client's intro named). */
static int on_client_hello(struct wa_conn *c, const uint8_t *p, size_t n)
{
	struct ybuf out = YBUF_INIT(0);
	uint8_t intro[4] = { 'W', 'A', WA_FRAME_MAGIC, 0 };
	int rc;

	c->dict = wa_socket_dict(c->ws);
	if (c->dict != 2 && c->dict != 3)
		return Y_EUNSUPPORTED;
	intro[3] = (uint8_t)c->dict;
	wa_noise_init(&c->nz, WA_NOISE_RESPONDER, intro);
	rc = wa_noise_read_client_hello(&c->nz, p, n);
	rc = rc ?: wa_noise_server_hello(&c->nz, c->static_key, c->cert_chain, c->cert_len, &out);
	rc = rc ?: wa_socket_send_frame(c->ws, out.data, out.len);
	ybuf_release(&out);
	if (!rc)
		c->state = CS_FINISH;
	return rc;
}

/* Responder: ClientFinish; its ClientPayload goes to on_payload. */
static int on_client_finish(struct wa_conn *c, const uint8_t *p, size_t n)
{
	struct ybuf pl = YBUF_INIT(c->payload_max);
	int rc = wa_noise_read_client_finish(&c->nz, p, n, &pl);

	if (!rc) {
		c->state = CS_OPEN;
		if (c->cbs.on_payload) {
			ENTER(c);
			rc = c->cbs.on_payload(c, pl.data, pl.len, c->ud);
			LEAVE();
		}
	}
	ybuf_release(&pl);
	return rc;
}

static void on_frame(struct wa_socket *s, const uint8_t *p, size_t n, void *ud)
{
	struct wa_conn *c = ud;
	int rc;

	if (c->state == CS_CLOSING)
		return;
	c->last_rx = uv_now(wa_loop_uv(c->loop));
	if (c->state == CS_OPEN)
		rc = on_transport(c, p, n);
	else if (c->responder)
		rc = c->state == CS_HELLO ? on_client_hello(c, p, n) : on_client_finish(c, p, n);
	else if (c->state == CS_HELLO)
		rc = on_server_hello(c, p, n);
	else
		rc = Y_ESTATE;
	if (rc)
		fail(c, rc);
}

static void on_sock_close(struct wa_socket *s, int err, const char *reason, void *ud)
{
	struct wa_conn *c = ud;
	/* dropped: its owner is gone (no callback), the context stays as it is */
	const char *log_prev_ = ylog_swap_session(c->dropped ? ylog_session() : c->log_session);
	char why[128];

	c->state = CS_CLOSING;
	while (c->waiters) {
		struct waiter *w = c->waiters;

		c->waiters = w->next;
		c->nwaiters--;
		if (w->cb && !c->dropped)
			w->cb(c, Y_ECLOSED, NULL, w->ud);
		free(w);
	}
	if (c->close_err) {
		snprintf(why, sizeof(why), "%s", y_strerror(c->close_err));
		err = c->close_err;
		reason = why;
	}
	if (c->cbs.on_close && !c->dropped)
		c->cbs.on_close(c, err, reason, c->ud);
	LEAVE();
	wa_noise_release(&c->nz);
	wa_wipe(&c->noise_key, sizeof(c->noise_key));
	free(c->payload);
	free(c);
}

static void id_prefix_init(struct wa_conn *c)
{
	uint8_t rnd[4];

	if (wa_crypto_random(rnd, sizeof(rnd)))
		memset(rnd, 0, sizeof(rnd));
	snprintf(c->id_prefix, sizeof(c->id_prefix), "%u.%u", (unsigned)rnd[0] << 8 | rnd[1],
		 (unsigned)rnd[2] << 8 | rnd[3]);
}

int wa_conn_connect(struct wa_loop *l, const struct wa_conn_opts *o, const struct wa_conn_cbs *cbs,
		    void *ud, struct wa_conn **out)
{
	static const struct wa_socket_cbs scbs = { on_open, on_frame, NULL, on_sock_close };
	uint8_t intro[4] = { 'W', 'A', WA_FRAME_MAGIC, 0 };
	struct wa_conn *c;
	int rc;

	*out = NULL;
	if (!o || !o->noise_key || !o->payload || !o->payload_len || !cbs)
		return Y_EINVAL;
	if (o->sock.dict != 2 && o->sock.dict != 3)
		return Y_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return Y_ENOMEM;
	c->payload = malloc(o->payload_len);
	if (!c->payload) {
		free(c);
		return Y_ENOMEM;
	}
	memcpy(c->payload, o->payload, o->payload_len);
	c->payload_len = o->payload_len;
	c->noise_key = *o->noise_key;
	c->loop = l;
	c->cbs = *cbs;
	c->ud = ud;
	c->dict = o->sock.dict;
	c->log_session = o->log_session;
	intro[3] = (uint8_t)c->dict;
	wa_noise_init(&c->nz, WA_NOISE_INITIATOR, intro);
	if (o->root_pub)
		wa_noise_trust_root(&c->nz, o->root_pub);
	id_prefix_init(c);
	rc = wa_socket_connect(l, &o->sock, &scbs, c, &c->ws);
	if (rc) {
		wa_noise_release(&c->nz);
		wa_wipe(&c->noise_key, sizeof(c->noise_key));
		free(c->payload);
		free(c);
		return rc;
	}
	*out = c;
	return Y_OK;
}

int wa_conn_accept(struct wa_loop *l, struct wa_socket *ws, const struct wa_conn_accept_opts *o,
		   const struct wa_conn_cbs *cbs, void *ud, struct wa_conn **out)
{
	static const struct wa_socket_cbs scbs = { NULL, on_frame, NULL, on_sock_close };
	struct wa_conn *c;

	*out = NULL;
	if (!l || !ws || !o || !o->static_key || !o->cert_chain || !cbs)
		return Y_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return Y_ENOMEM;
	c->loop = l;
	c->ws = ws;
	c->cbs = *cbs;
	c->ud = ud;
	c->responder = true;
	c->static_key = o->static_key;
	c->cert_chain = o->cert_chain;
	c->cert_len = o->cert_len;
	c->payload_max = o->payload_max ? o->payload_max : PAYLOAD_MAX_DEFAULT;
	c->log_session = o->log_session;
	id_prefix_init(c);
	wa_socket_set_cbs(ws, &scbs, c);
	*out = c;
	return Y_OK;
}

const uint8_t *wa_conn_peer_static(const struct wa_conn *c)
{
	return c->nz.remote_static;
}

int wa_conn_dict(const struct wa_conn *c)
{
	return c->dict;
}

int wa_conn_new_detached(int dict, struct wa_conn **out)
{
	struct wa_conn *c;

	*out = NULL;
	if (dict != 2 && dict != 3)
		return Y_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return Y_ENOMEM;
	c->state = CS_OPEN;
	c->dict = dict;
	c->dropped = 1; /* no callbacks, ever */
	snprintf(c->id_prefix, sizeof(c->id_prefix), "detached");
	*out = c;
	return Y_OK;
}

int wa_conn_seal(struct wa_conn *c, const struct wa_node *n, struct ybuf *out)
{
	struct ybuf pt = YBUF_INIT(WA_FRAME_MAX - WA_GCM_TAG_LEN);
	int rc;

	if (c->state == CS_CLOSING)
		return Y_ECLOSED;
	if (c->state != CS_OPEN)
		return Y_ESTATE;
	rc = wa_binary_encode(n, c->dict, &pt);
	if (c->ws) /* detached: encoded, then discarded */
		rc = rc ?: wa_noise_encrypt(&c->nz, pt.data, pt.len, out);
	ybuf_release(&pt);
	return rc;
}

int wa_conn_send_frame(struct wa_conn *c, const uint8_t *p, size_t n)
{
	if (c->state == CS_CLOSING)
		return Y_ECLOSED;
	if (c->state != CS_OPEN)
		return Y_ESTATE;
	return c->ws ? wa_socket_send_frame(c->ws, p, n) : Y_OK;
}

int wa_conn_send(struct wa_conn *c, const struct wa_node *n)
{
	struct ybuf ct = YBUF_INIT(0);
	int rc = wa_conn_seal(c, n, &ct);

	rc = rc ?: wa_conn_send_frame(c, ct.data, ct.len);
	ybuf_release(&ct);
	return rc;
}

void wa_conn_new_id(struct wa_conn *c, char out[WA_CONN_ID_LEN])
{
	snprintf(out, WA_CONN_ID_LEN, "%s-%u", c->id_prefix, ++c->next_id);
}

int wa_conn_iq(struct wa_conn *c, const struct wa_node *n, uint64_t timeout_ms, wa_conn_iq_cb cb,
	       void *ud)
{
	const char *id = wa_node_attr(n, "id");
	struct waiter *w;
	int rc;

	if (!id || strlen(id) >= WA_CONN_ID_LEN)
		return Y_EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return Y_ENOMEM;
	rc = wa_conn_send(c, n);
	if (rc) {
		free(w);
		return rc;
	}
	memcpy(w->id, id, strlen(id) + 1);
	w->cb = cb;
	w->ud = ud;
	/* a detached connection has no loop: its owner's clock is uv_now too,
	 * so deadlines there only compare with what wa_conn_expire is given */
	w->deadline = timeout_ms ? (c->loop ? uv_now(wa_loop_uv(c->loop)) : 0) + timeout_ms : 0;
	w->next = c->waiters;
	c->waiters = w;
	c->nwaiters++;
	return Y_OK;
}

void wa_conn_expire(struct wa_conn *c, uint64_t now_ms)
{
	struct waiter **pp = &c->waiters, *w;

	while ((w = *pp)) {
		if (w->deadline && w->deadline <= now_ms) {
			*pp = w->next;
			c->nwaiters--;
			if (w->cb) {
				ENTER(c);
				w->cb(c, Y_ETIMEOUT, NULL, w->ud);
				LEAVE();
			}
			free(w);
			pp = &c->waiters; /* the callback may have changed the list */
		} else {
			pp = &w->next;
		}
	}
}

size_t wa_conn_pending(const struct wa_conn *c)
{
	return c->nwaiters;
}

uint64_t wa_conn_last_rx(const struct wa_conn *c)
{
	return c->last_rx;
}

void wa_conn_close(struct wa_conn *c)
{
	if (c->state == CS_CLOSING)
		return;
	c->state = CS_CLOSING;
	if (c->ws)
		wa_socket_close(c->ws);
}

void wa_conn_abort(struct wa_conn *c)
{
	c->state = CS_CLOSING;
	if (c->ws)
		wa_socket_abort(c->ws);
}

void wa_conn_drop(struct wa_conn *c)
{
	c->dropped = 1;
	memset(&c->cbs, 0, sizeof(c->cbs));
	c->ud = NULL;
	c->log_session = NULL;
	if (!c->ws) { /* detached: nothing will call on_sock_close */
		on_sock_close(NULL, 0, "", c);
		return;
	}
	wa_conn_abort(c);
}

void wa_conn_drop_flush(struct wa_conn *c)
{
	if (!c->ws) {
		wa_conn_drop(c);
		return;
	}
	c->dropped = 1;
	memset(&c->cbs, 0, sizeof(c->cbs));
	c->ud = NULL;
	wa_conn_close(c);
}

void wa_conn_free(struct wa_conn *c)
{
	if (c->ws) {
		wa_socket_set_cbs(c->ws, NULL, NULL);
		wa_socket_abort(c->ws);
	}
	while (c->waiters) {
		struct waiter *w = c->waiters;

		c->waiters = w->next;
		free(w);
	}
	wa_noise_release(&c->nz);
	wa_wipe(&c->noise_key, sizeof(c->noise_key));
	free(c->payload);
	free(c);
}
