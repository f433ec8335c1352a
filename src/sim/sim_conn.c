/*
 * One simulator connection: the server side of the WhatsApp stream
 * (protocol-map.md §2, §5, §6, §7, §8, §10). Frames come from the socket
 * layer; the first two are the Noise handshake (sim_handshake.c), every
 * later one a Noise transport frame holding one binary node, dispatched on
 * its tag through a table (iqs: sim_iq.c; messages and receipts:
 * sim_route.c). This file holds the connection's life, sending (with the
 * latencyMs fault) and the dispatch.
 *
 * Ownership: the sim owns its connections (a list); a connection is freed
 * only from its socket's on_close, which the socket layer calls outside any
 * callback of its own, or by sim_conn_free_all. Devices point back at their
 * connection; both links are cleared together (sim_conn_detach).
 */
#include "sim/sim_conn_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/binary.h"
#include "wa/conn.h"
#include "wa/frame.h"

/* An encrypted frame held back by the latencyMs fault. */
struct delayed {
	struct delayed *next;
	uint64_t due; /* uv_now() */
	size_t len;
	uint8_t data[];
};

/* ---- helpers ---- */

uint64_t sim_now_s(void)
{
	return (uint64_t)time(NULL);
}

void sim_hex(const uint8_t *p, size_t n, char *out, bool upper)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* Sets attributes from NULL-terminated key, value pairs; NULL values are
 * skipped. */
int sim_attrs(struct wa_node *n, ...)
{
	va_list ap;
	const char *k;
	int rc = Y_OK;

	va_start(ap, n);
	while (!rc && (k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		if (v)
			rc = wa_node_add_attr(n, k, v);
	}
	va_end(ap);
	return rc;
}

/* A child with bytes content; NULL on ENOMEM. */
struct wa_node *sim_child_bytes(struct wa_node *parent, const char *tag, const void *p,
				size_t n)
{
	struct wa_node *c = wa_node_add_child(parent, tag);

	if (c && wa_node_set_bytes(c, p, n))
		return NULL;
	return c;
}

const uint8_t *sim_kid_bytes(const struct wa_node *n, const char *tag, size_t *len)
{
	struct wa_node *c = wa_node_child(n, tag);

	*len = 0;
	return c ? wa_node_bytes(c, len) : NULL;
}

static void conn_log_node(struct sim_conn *c, const char *dir, const struct wa_node *n)
{
	struct ybuf t = YBUF_INIT(4096);

	if (ylog_min > YLOG_DEBUG)
		return;
	wa_node_to_text(n, &t);
	LOG_DEBUG("sim node", "{s:I, s:s, s:s}", "conn", (json_int_t)c->id, "dir", dir, "node",
		  t.data ? (const char *)t.data : "");
	ybuf_release(&t);
}

/* Breaks the device <-> connection link. */
void sim_conn_detach(struct sim_conn *c)
{
	if (c->dev && c->dev->conn == c) {
		c->dev->conn = NULL;
		sim_device_requeue_unacked(c->dev);
	}
	c->dev = NULL;
}

void sim_conn_close(struct sim_conn *c)
{
	if (c->state == C_CLOSING || (!c->wc && !c->test_out))
		return;
	c->state = C_CLOSING;
	sim_conn_detach(c);
	if (c->wc)
		wa_conn_close(c->wc);
}

void sim_timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Sends the held frames that are due, in order; re-arms for the next. */
static void on_delay_timer(uv_timer_t *t)
{
	struct sim_conn *c = t->data;
	uint64_t now = uv_now(t->loop);

	while (c->dhead && c->dhead->due <= now) {
		struct delayed *d = c->dhead;
		int rc = c->wc && c->state == C_OPEN ? wa_conn_send_frame(c->wc, d->data, d->len)
						     : Y_ECLOSED;

		c->dhead = d->next;
		if (!c->dhead)
			c->dtail = NULL;
		free(d);
		if (rc && rc != Y_ECLOSED) {
			c->sim->st.errors++;
			sim_conn_close(c);
		}
	}
	if (c->dhead)
		uv_timer_start(t, on_delay_timer, c->dhead->due - now, 0);
}

/* Holds an encrypted frame for latency_ms (frames keep their order). */
static int hold_frame(struct sim_conn *c, const uint8_t *p, size_t n)
{
	struct delayed *d = malloc(sizeof(*d) + n);
	uint64_t now = uv_now(wa_loop_uv(c->sim->loop));

	if (!d)
		return Y_ENOMEM;
	d->next = NULL;
	d->due = now + c->sim->latency_ms;
	if (c->dtail && d->due < c->dtail->due)
		d->due = c->dtail->due;
	d->len = n;
	memcpy(d->data, p, n);
	if (c->dtail)
		c->dtail->next = d;
	else
		c->dhead = d;
	c->dtail = d;
	if (!c->dtimer) {
		c->dtimer = malloc(sizeof(*c->dtimer));
		if (!c->dtimer)
			return Y_ENOMEM;
		uv_timer_init(wa_loop_uv(c->sim->loop), c->dtimer);
		c->dtimer->data = c;
	}
	if (!uv_is_active((uv_handle_t *)c->dtimer))
		uv_timer_start(c->dtimer, on_delay_timer, c->dhead->due - now, 0);
	return Y_OK;
}

/* Encodes, encrypts and queues one node; takes ownership of n. A failure
 * leaves the Noise counter out of step, so the connection is closed. */
int sim_conn_send(struct sim_conn *c, struct wa_node *n)
{
	struct ybuf pt = YBUF_INIT(WA_FRAME_MAX), ct = YBUF_INIT(WA_FRAME_MAX);
	int rc;

	if (!n)
		return Y_ENOMEM;
	if (c->state != C_OPEN || (!c->wc && !c->test_out)) {
		wa_node_free(n);
		return Y_ECLOSED;
	}
	conn_log_node(c, "out", n);
	if (c->test_out) { /* 3-byte length, then the plaintext frame */
		uint8_t len[3];

		rc = wa_binary_encode(n, c->dict, &pt);
		len[0] = (uint8_t)(pt.len >> 16);
		len[1] = (uint8_t)(pt.len >> 8);
		len[2] = (uint8_t)pt.len;
		rc = rc ?: ybuf_append(c->test_out, len, 3);
		rc = rc ?: ybuf_append(c->test_out, pt.data, pt.len);
	} else {
		rc = wa_conn_seal(c->wc, n, &ct);
		if (!rc && (c->sim->latency_ms || c->dhead))
			rc = hold_frame(c, ct.data, ct.len);
		else if (!rc)
			rc = wa_conn_send_frame(c->wc, ct.data, ct.len);
	}
	wa_node_free(n);
	ybuf_release(&pt);
	ybuf_release(&ct);
	if (rc) {
		LOG_WARN("sim send failed", "{s:I, s:s}", "conn", (json_int_t)c->id, "error",
			 y_strerror(rc));
		c->sim->st.errors++;
		sim_conn_close(c);
		return rc;
	}
	c->sim->st.nodes_out++;
	return Y_OK;
}

/* <iq from=@s.whatsapp.net type=result id=ID/> answering req. */
struct wa_node *sim_conn_iq_result(const struct wa_node *req)
{
	struct wa_node *n = wa_node_new("iq");

	if (n && sim_attrs(n, "from", S_WA, "type", "result", "id", wa_node_attr(req, "id"), NULL)) {
		wa_node_free(n);
		return NULL;
	}
	return n;
}

/* <iq type=error id><error code text/></iq>, as WhatsApp answers a bad iq. */
int sim_conn_iq_error(struct sim_conn *c, const struct wa_node *req, const char *code,
		      const char *text)
{
	struct wa_node *n = wa_node_new("iq"), *e;

	if (!n || sim_attrs(n, "from", S_WA, "type", "error", "id", wa_node_attr(req, "id"), NULL) ||
	    !(e = wa_node_add_child(n, "error")) || sim_attrs(e, "code", code, "text", text, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	return sim_conn_send(c, n);
}

void sim_new_msg_id(char out[24])
{
	uint8_t r[9];

	wa_crypto_random(r, sizeof(r));
	memcpy(out, "3EB0", 4);
	sim_hex(r, sizeof(r), out + 4, true);
}

void sim_device_jid(const struct sim_account *a, uint32_t dev, bool lid, char *out, size_t cap)
{
	if (dev)
		snprintf(out, cap, "%s:%u@%s", lid ? a->lid : a->phone, dev,
			 lid ? "lid" : "s.whatsapp.net");
	else
		snprintf(out, cap, "%s@%s", lid ? a->lid : a->phone, lid ? "lid" : "s.whatsapp.net");
}

/* ---- shared with the feature files (sim_int.h) ---- */

const uint8_t *sim_conn_noise_pub(const struct sim_conn *c)
{
	return c->client_static;
}

const uint8_t *sim_conn_identity_pub(const struct sim_conn *c)
{
	return c->reg.ident;
}

struct sim *sim_conn_sim(const struct sim_conn *c)
{
	return c->sim;
}

struct sim_passkey_link **sim_conn_passkey(struct sim_conn *c)
{
	return &c->pk;
}

/* ---- node dispatch ---- */

static int on_ignore(struct sim_conn *c, const struct wa_node *n)
{
	return Y_OK;
}

static const struct {
	const char *tag;
	int (*fn)(struct sim_conn *c, const struct wa_node *n);
} node_table[] = {
	{ "iq", sim_iq },
	{ "message", sim_route_message },
	{ "receipt", sim_route_receipt },
	{ "ack", sim_route_ack },
	{ "presence", sim_presence },
	{ "chatstate", sim_chatstate },
	{ "ib", on_ignore },
};

/* One received node, through the table (borrowed). */
static int conn_dispatch(struct sim_conn *c, const struct wa_node *n)
{
	c->sim->st.nodes_in++;
	conn_log_node(c, "in", n);
	for (size_t i = 0; i < sizeof(node_table) / sizeof(node_table[0]); i++)
		if (wa_node_is(n, node_table[i].tag))
			return node_table[i].fn(c, n);
	return Y_OK;
}

/* ---- the pipe's callbacks (wa/conn.h) ---- */

/* A received node: dispatched; a handler's error closes the connection
 * gracefully (what was queued, an error answer included, goes out). */
static int on_node(struct wa_conn *wc, const struct wa_node *n, void *ud)
{
	struct sim_conn *c = ud;
	int rc;

	if (c->state != C_OPEN)
		return Y_OK;
	rc = conn_dispatch(c, n);
	if (rc) {
		LOG_WARN("sim connection error", "{s:I, s:s}", "conn", (json_int_t)c->id, "error",
			 y_strerror(rc));
		c->sim->st.errors++;
		sim_conn_close(c);
	}
	return Y_OK;
}

static int on_payload(struct wa_conn *wc, const uint8_t *p, size_t n, void *ud)
{
	return sim_handshake_payload(ud, p, n);
}

static void conn_unlink_list(struct sim_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->sim->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static void conn_free(struct sim_conn *c)
{
	wa_paircode_job_cancel(c->lc.job);
	sim_handshake_stop(c);
	while (c->dhead) {
		struct delayed *d = c->dhead;

		c->dhead = d->next;
		free(d);
	}
	if (c->dtimer) {
		uv_timer_stop(c->dtimer);
		uv_close((uv_handle_t *)c->dtimer, sim_timer_closed);
	}
	ybuf_release(&c->payload);
	sim_passkey_link_free(c->pk);
	sim_conn_detach(c);
	conn_unlink_list(c);
	free(c);
}

/* The end (wa_conn frees itself after this). A failure of the pipe (the
 * handshake, a frame that does not decrypt or decode) counts as an error;
 * the peer going away does not. */
static void on_close(struct wa_conn *wc, int err, const char *reason, void *ud)
{
	struct sim_conn *c = ud;

	if (err && err != Y_ECLOSED && err != Y_EIO) {
		LOG_WARN("sim connection error", "{s:I, s:s}", "conn", (json_int_t)c->id, "error",
			 reason);
		c->sim->st.errors++;
	}
	LOG_INFO("sim connection closed", "{s:I, s:s}", "conn", (json_int_t)c->id, "reason",
		 reason);
	c->wc = NULL;
	conn_free(c);
}

void sim_conn_accept(struct sim *s, struct wa_socket *ws)
{
	static const struct wa_conn_cbs cbs = { NULL, on_node, on_close, on_payload };
	struct wa_conn_accept_opts o = { &s->static_key, s->cert_chain.data, s->cert_chain.len,
					 SIM_PAYLOAD_MAX, NULL };
	struct sim_conn *c;

	if (s->refuse_until && uv_now(wa_loop_uv(s->loop)) < s->refuse_until) {
		LOG_INFO("sim connection refused (fault)", NULL);
		wa_socket_abort(ws);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		wa_socket_abort(ws);
		return;
	}
	if (wa_conn_accept(s->loop, ws, &o, &cbs, c, &c->wc)) {
		free(c);
		wa_socket_abort(ws);
		return;
	}
	c->sim = s;
	c->id = ++s->next_conn_id;
	c->state = C_HELLO;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->st.connections++;
	LOG_INFO("sim connection", "{s:I, s:s}", "conn", (json_int_t)c->id, "origin",
		 wa_socket_origin(ws));
}

void sim_conn_free_all(struct sim *s)
{
	while (s->conns) {
		struct sim_conn *c = s->conns;

		if (c->wc)
			wa_conn_free(c->wc);
		c->wc = NULL;
		conn_free(c);
	}
}

int sim_conn_unlink(struct sim *s, struct sim_account *a, uint32_t dev)
{
	struct sim_device *d = sim_device_find(a, dev);

	if (!d)
		return Y_ENOTFOUND;
	if (d->conn) {
		struct sim_conn *c = d->conn;
		struct wa_node *n = wa_node_new("stream:error"), *k;

		sim_conn_detach(c);
		if (n && !sim_attrs(n, "code", "401", NULL) && (k = wa_node_add_child(n, "conflict")) &&
		    !sim_attrs(k, "type", "device_removed", NULL))
			sim_conn_send(c, n);
		else
			wa_node_free(n);
		sim_conn_close(c);
	}
	LOG_INFO("sim unlinked", "{s:s, s:i}", "phone", a->phone, "device", (int)dev);
	sim_device_remove(a, d);
	return Y_OK;
}

int sim_conn_prekey_low(struct sim *s, struct sim_device *d, size_t count)
{
	struct wa_node *n;
	struct wa_node *k;
	char id[24], t[24], v[24];

	if (count > d->nprekeys)
		return Y_EINVAL;
	sim_new_msg_id(id);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	snprintf(v, sizeof(v), "%zu", count);
	n = wa_node_new("notification");
	if (!n || sim_attrs(n, "from", S_WA, "type", "encrypt", "id", id, "t", t, NULL) ||
	    !(k = wa_node_add_child(n, "count")) || sim_attrs(k, "value", v, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	/* the server hands out the oldest first: what is left is the newest */
	if (count && count < d->nprekeys)
		memmove(d->prekeys, d->prekeys + (d->nprekeys - count),
			count * sizeof(*d->prekeys));
	d->nprekeys = count;
	s->st.prekey_low++;
	LOG_INFO("sim prekey-low", "{s:s, s:i, s:I}", "phone", d->acct->phone, "device", (int)d->id,
		 "count", (json_int_t)count);
	return sim_deliver(s, d, n);
}

size_t sim_conn_drop_all(struct sim *s)
{
	size_t n = 0;

	for (struct sim_conn *c = s->conns; c; c = c->next)
		if (c->wc && c->state != C_CLOSING) {
			c->state = C_CLOSING;
			sim_conn_detach(c);
			wa_conn_abort(c->wc);
			n++;
		}
	return n;
}

size_t sim_conn_count(const struct sim *s)
{
	size_t n = 0;

	for (const struct sim_conn *c = s->conns; c; c = c->next)
		n++;
	return n;
}

/* ---- test seam (sim_int.h) ---- */

struct sim_conn *sim_conn_test_open(struct sim *s, struct sim_device *d, int dict,
				    struct ybuf *out)
{
	struct sim_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sim = s;
	c->test_out = out;
	c->id = ++s->next_conn_id;
	c->state = C_OPEN;
	c->dict = dict;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	if (d) {
		if (d->conn)
			sim_conn_detach(d->conn);
		memcpy(c->client_static, d->noise, WA_KEY_LEN);
		d->conn = c;
		c->dev = d;
		c->acct = d->acct;
	} else {
		c->registering = true;
	}
	return c;
}

int sim_conn_test_node(struct sim_conn *c, const struct wa_node *n)
{
	int rc;

	if (c->state != C_OPEN)
		return Y_ECLOSED;
	rc = conn_dispatch(c, n);
	if (rc)
		sim_conn_close(c); /* as on_node does */
	return rc ? rc : c->state == C_OPEN ? Y_OK : Y_ECLOSED;
}

