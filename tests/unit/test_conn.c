/*
 * Tests for src/wa/conn.{h,c}: a wa_conn (the initiator) against the
 * scriptable server of fake_wa.h in this process: the handshake and its
 * root check, iq waiters (answers, errors, deadlines, the close), dropping,
 * and the detached connection the fuzz target uses; then the responder role
 * (wa_conn_accept) against our own initiator: the payload handed over,
 * nodes both ways, sealed frames sent later in order, an unknown
 * dictionary refused, and wa_conn_free before the loop goes.
 */
#include <stdbool.h>
#include <uv.h>

#include "test.h"
#include "fake_wa.h"

#include "util/log.h"
#include "wa/conn.h"
#include "wa/payload.h"

struct cc {
	struct wa_loop *l;
	struct fw_server sv;
	struct wa_conn *c;
	struct wa_keypair noise;
	int ready, closed, close_err;
	int nodes;
	int waiters_at_close; /* waiter calls seen when on_close ran */
	/* waiter results by slot: calls, last err, had a node */
	int calls[8], err[8], node[8];
	int total_calls;
};

static struct cc *cur;

static void c_ready(struct wa_conn *c, void *ud)
{
	((struct cc *)ud)->ready++;
}

static int c_node(struct wa_conn *c, const struct wa_node *n, void *ud)
{
	((struct cc *)ud)->nodes++;
	return Y_OK;
}

static void c_close(struct wa_conn *c, int err, const char *reason, void *ud)
{
	struct cc *x = ud;

	x->closed++;
	x->close_err = err;
	x->waiters_at_close = x->total_calls;
	x->c = NULL;
}

static const struct wa_conn_cbs ccbs = { c_ready, c_node, c_close, NULL };

static void w_cb(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	int slot = (int)(intptr_t)ud;

	cur->calls[slot]++;
	cur->err[slot] = err;
	cur->node[slot] = n != NULL;
	cur->total_calls++;
}

static bool is_ready(void *a) { return ((struct cc *)a)->ready > 0; }
static bool is_closed(void *a) { return ((struct cc *)a)->closed > 0; }
static bool no_sockets(void *a) { return wa_loop_socket_count(a) == 0; }

/* Connects x->c (a fresh noise key, a login payload for user:dev) to url. */
static bool cc_connect(struct cc *x, const char *url, const uint8_t *root, int dict,
		       uint64_t user, uint32_t dev)
{
	struct wa_conn_opts o;
	struct ybuf pl = YBUF_INIT(1 << 16);
	int rc;

	if (wa_keypair_generate(&x->noise) || wa_payload_login(user, dev, &pl))
		return false;
	memset(&o, 0, sizeof(o));
	o.sock.url = url;
	o.sock.dict = dict;
	o.root_pub = root;
	o.noise_key = &x->noise;
	o.payload = pl.data;
	o.payload_len = pl.len;
	rc = wa_conn_connect(x->l, &o, &ccbs, x, &x->c);
	ybuf_release(&pl);
	return rc == Y_OK;
}

static bool cc_init(struct cc *x, bool wrong_root)
{
	char url[96];

	memset(x, 0, sizeof(*x));
	cur = x;
	x->sv.wrong_root = wrong_root;
	if (wa_loop_new(NULL, &x->l) || fw_start(x->l, &x->sv))
		return false;
	fw_url(&x->sv, url, sizeof(url));
	return cc_connect(x, url, x->sv.root.pub, 3, 15551234567ull, 1);
}

static void cc_release(struct cc *x)
{
	if (x->c)
		wa_conn_drop(x->c);
	for (int i = 0; i < x->sv.nc; i++)
		if (x->sv.c[i]->s)
			wa_socket_abort(x->sv.c[i]->s);
	run_until_ms(x->l, no_sockets, x->l, 3000);
	fw_release(&x->sv);
	wa_loop_free(x->l);
}

static struct wa_node *iq(struct wa_conn *c, char id[WA_CONN_ID_LEN])
{
	wa_conn_new_id(c, id);
	return fw_node("iq", "id", id, "type", "get", "xmlns", "test", "to", "s.whatsapp.net",
		       NULL);
}

static int send_iq(struct cc *x, int slot, uint64_t timeout, char id[WA_CONN_ID_LEN])
{
	struct wa_node *n = iq(x->c, id);
	int rc = n ? wa_conn_iq(x->c, n, timeout, w_cb, (void *)(intptr_t)slot) : Y_ENOMEM;

	wa_node_free(n);
	return rc;
}

/* The server's copy of what the client sent, by id. */
static bool server_has(void *a)
{
	struct cc *x = a;

	return fw_last(&x->sv) && fw_last(&x->sv)->nrx >= 4;
}

/* The server has read our ClientFinish (it may come after our on_ready). */
static bool server_got_payload(void *a)
{
	struct cc *x = a;

	return x->sv.nc == 1 && x->sv.c[0]->payload.len > 0;
}

TEST(handshake_and_payload)
{
	struct cc x;

	REQUIRE(cc_init(&x, false));
	REQUIRE(run_until(x.l, is_ready, &x));
	CHECK_EQ_INT(x.ready, 1);
	CHECK(run_until(x.l, server_got_payload, &x));
	REQUIRE(x.sv.nc == 1);
	/* the server got our static key and the payload we gave */
	CHECK_MEM(x.sv.c[0]->nz.remote_static, x.noise.pub, 32);
	CHECK(x.sv.c[0]->payload.len > 0);
	cc_release(&x);
}

/* A chain signed by another root than the one we trust: no ready, the
 * close says Y_ECRYPTO. */
TEST(wrong_root_refused)
{
	struct cc x;

	REQUIRE(cc_init(&x, true));
	REQUIRE(run_until(x.l, is_closed, &x));
	CHECK_EQ_INT(x.ready, 0);
	CHECK_EQ_INT(x.close_err, Y_ECRYPTO);
	CHECK_EQ_INT(x.closed, 1);
	cc_release(&x);
}

TEST(iq_waiters_answer_error_timeout_close)
{
	struct cc x;
	char id[5][WA_CONN_ID_LEN];
	uint64_t t0;

	REQUIRE(cc_init(&x, false));
	REQUIRE(run_until(x.l, is_ready, &x));
	t0 = now_ms(x.l);
	REQUIRE(send_iq(&x, 0, 50, id[0]) == Y_OK);   /* times out */
	REQUIRE(send_iq(&x, 1, 0, id[1]) == Y_OK);    /* no deadline: closed */
	REQUIRE(send_iq(&x, 2, 60000, id[2]) == Y_OK);/* far deadline: closed */
	REQUIRE(send_iq(&x, 3, 60000, id[3]) == Y_OK);/* answered */
	REQUIRE(send_iq(&x, 4, 60000, id[4]) == Y_OK);/* answered with an error */
	CHECK(strcmp(id[0], id[1]) && strcmp(id[1], id[2]));
	CHECK_EQ_INT(wa_conn_pending(x.c), 5);
	REQUIRE(run_until(x.l, server_has, &x));
	run_for(x.l, 50);
	{
		struct fw_conn *s = fw_last(&x.sv);

		/* a get with a waited id is no answer: it goes to on_node */
		fw_send_free(s, fw_node("iq", "id", id[3], "type", "get", "from", "s.whatsapp.net",
					NULL));
		fw_send_free(s, fw_node("iq", "id", id[3], "type", "result", "from",
					"s.whatsapp.net", NULL));
		fw_send_free(s, fw_node("iq", "id", id[4], "type", "error", "from",
					"s.whatsapp.net", NULL));
	}
	run_for(x.l, 200);
	CHECK_EQ_INT(x.nodes, 1);
	CHECK_EQ_INT(x.calls[3], 1);
	CHECK_EQ_INT(x.err[3], Y_OK);
	CHECK_EQ_INT(x.node[3], 1);
	CHECK_EQ_INT(x.calls[4], 1);
	CHECK_EQ_INT(x.err[4], Y_EINVAL);
	CHECK_EQ_INT(wa_conn_pending(x.c), 3);
	/* before the deadline nothing expires; at it, only slot 0, once */
	wa_conn_expire(x.c, t0 + 10);
	CHECK_EQ_INT(x.calls[0], 0);
	wa_conn_expire(x.c, now_ms(x.l));
	CHECK(now_ms(x.l) >= t0 + 50);
	CHECK_EQ_INT(x.calls[0], 1);
	CHECK_EQ_INT(x.err[0], Y_ETIMEOUT);
	CHECK_EQ_INT(x.node[0], 0);
	wa_conn_expire(x.c, now_ms(x.l) + 1000);
	CHECK_EQ_INT(x.calls[0], 1);
	CHECK_EQ_INT(x.calls[1] + x.calls[2], 0);
	CHECK_EQ_INT(wa_conn_pending(x.c), 2);
	/* the server closes: every waiter left gets Y_ECLOSED, before on_close */
	wa_socket_abort(fw_last(&x.sv)->s);
	REQUIRE(run_until(x.l, is_closed, &x));
	for (int i = 1; i <= 2; i++) {
		CHECK_EQ_INT(x.calls[i], 1);
		CHECK_EQ_INT(x.err[i], Y_ECLOSED);
		CHECK_EQ_INT(x.node[i], 0);
	}
	CHECK_EQ_INT(x.waiters_at_close, x.total_calls);
	CHECK_EQ_INT(x.total_calls, 5);
	CHECK_EQ_INT(x.closed, 1);
	cc_release(&x);
}

/* Our own close fails the waiters too; a late answer reaches no one. */
TEST(iq_waiters_closed_by_our_close)
{
	struct cc x;
	char id[3][WA_CONN_ID_LEN];

	REQUIRE(cc_init(&x, false));
	REQUIRE(run_until(x.l, is_ready, &x));
	for (int i = 0; i < 3; i++)
		REQUIRE(send_iq(&x, i, 0, id[i]) == Y_OK);
	wa_conn_close(x.c);
	CHECK_EQ_INT(send_iq(&x, 5, 0, id[0]), Y_ECLOSED); /* no waiter added */
	REQUIRE(run_until(x.l, is_closed, &x));
	for (int i = 0; i < 3; i++)
		CHECK(x.calls[i] == 1 && x.err[i] == Y_ECLOSED);
	CHECK_EQ_INT(x.calls[5], 0);
	CHECK_EQ_INT(x.total_calls, 3);
	cc_release(&x);
}

/* After wa_conn_drop nothing is called, waiters included. */
TEST(drop_calls_nothing)
{
	struct cc x;
	char id[WA_CONN_ID_LEN];

	REQUIRE(cc_init(&x, false));
	REQUIRE(run_until(x.l, is_ready, &x));
	REQUIRE(send_iq(&x, 0, 0, id) == Y_OK);
	wa_conn_drop(x.c);
	x.c = NULL;
	run_until_ms(x.l, no_sockets, x.l, 3000);
	CHECK_EQ_INT(wa_loop_socket_count(x.l), 0);
	CHECK_EQ_INT(x.total_calls, 0);
	CHECK_EQ_INT(x.closed, 0);
	cc_release(&x);
}

/* The detached connection: sends encode (a node the codec refuses is
 * refused), waiters are kept, close only marks it, drop frees it. */
TEST(detached_conn)
{
	struct wa_conn *c;
	struct wa_node *n, *bad;
	char id[WA_CONN_ID_LEN];
	struct cc x;

	memset(&x, 0, sizeof(x));
	cur = &x;
	CHECK_EQ_INT(wa_conn_new_detached(1, &c), Y_EINVAL);
	REQUIRE(wa_conn_new_detached(3, &c) == Y_OK);
	n = iq(c, id);
	REQUIRE(n);
	CHECK_EQ_INT(wa_conn_send(c, n), Y_OK);
	CHECK_EQ_INT(wa_conn_iq(c, n, 10, w_cb, (void *)(intptr_t)0), Y_OK);
	CHECK_EQ_INT(wa_conn_pending(c), 1);
	bad = wa_node_new("");
	CHECK(bad && wa_conn_send(c, bad) != Y_OK);
	wa_node_free(bad);
	wa_conn_expire(c, UINT64_MAX);
	CHECK(x.calls[0] == 1 && x.err[0] == Y_ETIMEOUT);
	CHECK_EQ_INT(wa_conn_pending(c), 0);
	CHECK_EQ_INT(wa_conn_iq(c, n, 0, w_cb, (void *)(intptr_t)1), Y_OK);
	wa_conn_close(c);
	CHECK_EQ_INT(wa_conn_send(c, n), Y_ECLOSED);
	wa_node_free(n);
	wa_conn_drop(c); /* ASan checks it is all freed */
	CHECK_EQ_INT(x.calls[1], 0);
}

/* A callback of the connection run inside its owner's own call (an expiry
 * from the owner's timer, the close inside wa_conn_drop) leaves the log
 * session the owner had set as it was, not cleared. */
TEST(callbacks_restore_the_outer_log_session)
{
	struct wa_conn *c;
	struct wa_node *n;
	char id[WA_CONN_ID_LEN];
	struct cc x;

	memset(&x, 0, sizeof(x));
	cur = &x;
	REQUIRE(wa_conn_new_detached(3, &c) == Y_OK);
	n = iq(c, id);
	REQUIRE(n);
	CHECK_EQ_INT(wa_conn_iq(c, n, 10, w_cb, (void *)(intptr_t)0), Y_OK);
	wa_node_free(n);
	ylog_set_session("outer");
	wa_conn_expire(c, UINT64_MAX);
	CHECK(x.calls[0] == 1 && x.err[0] == Y_ETIMEOUT);
	CHECK(ylog_session() && !strcmp(ylog_session(), "outer"));
	wa_conn_drop(c); /* detached: its close runs now, inside this call */
	CHECK(ylog_session() && !strcmp(ylog_session(), "outer"));
	ylog_set_session(NULL);
}

/* ---- the responder role ---- */

struct rs {
	struct wa_loop *l;
	struct wa_listener *ls;
	struct wa_keypair root, inter, stat;
	struct ybuf chain;
	struct wa_conn *srv;           /* the accepted side */
	struct ybuf payload;           /* what on_payload got */
	uint8_t peer[32];
	int payloads, srv_nodes, srv_closed, srv_close_err;
	char last_tag[32];
	bool free_in_close;            /* wa_conn_free the server side at accept */
};

static int r_payload(struct wa_conn *c, const uint8_t *p, size_t n, void *ud)
{
	struct rs *r = ud;

	r->payloads++;
	memcpy(r->peer, wa_conn_peer_static(c), 32);
	return ybuf_append(&r->payload, p, n);
}

static int r_node(struct wa_conn *c, const struct wa_node *n, void *ud)
{
	struct rs *r = ud;

	r->srv_nodes++;
	snprintf(r->last_tag, sizeof(r->last_tag), "%s", n->tag);
	return Y_OK;
}

static void r_close(struct wa_conn *c, int err, const char *reason, void *ud)
{
	struct rs *r = ud;

	r->srv_closed++;
	r->srv_close_err = err;
	r->srv = NULL;
}

static const struct wa_conn_cbs rcbs = { NULL, r_node, r_close, r_payload };

static void r_accept(struct wa_listener *ls, struct wa_socket *s, void *ud)
{
	struct rs *r = ud;
	struct wa_conn_accept_opts o = { &r->stat, r->chain.data, r->chain.len, 0, NULL };

	if (wa_conn_accept(r->l, s, &o, &rcbs, r, &r->srv))
		wa_socket_abort(s);
}

static bool rs_init(struct rs *r)
{
	struct wa_listener_opts lo = { 0 };
	struct wa_noise_cert_params cp;
	uint64_t now = (uint64_t)time(NULL);

	memset(r, 0, sizeof(*r));
	ybuf_init(&r->chain, 4096);
	ybuf_init(&r->payload, 1 << 16);
	if (wa_loop_new(NULL, &r->l) || wa_keypair_generate(&r->root) ||
	    wa_keypair_generate(&r->inter) || wa_keypair_generate(&r->stat))
		return false;
	cp.root_priv = r->root.priv;
	cp.intermediate = &r->inter;
	cp.intermediate_serial = 3;
	cp.leaf_serial = 4;
	cp.leaf_key = r->stat.pub;
	cp.not_before = now - 60;
	cp.not_after = now + 3600;
	return !wa_noise_cert_chain_build(&cp, &r->chain) &&
	       !wa_listener_new(r->l, &lo, r_accept, r, &r->ls);
}

static bool rs_connect(struct rs *r, struct cc *x, int dict)
{
	char url[96];

	memset(x, 0, sizeof(*x));
	cur = x;
	x->l = r->l;
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", wa_listener_port(r->ls));
	return cc_connect(x, url, r->root.pub, dict, 15557654321ull, 2);
}

static void rs_release(struct rs *r, struct cc *x)
{
	if (x->c)
		wa_conn_drop(x->c);
	if (r->srv)
		wa_conn_abort(r->srv);
	run_until_ms(r->l, no_sockets, r->l, 3000);
	ybuf_release(&r->chain);
	ybuf_release(&r->payload);
	wa_loop_free(r->l);
}

static bool got_payload(void *a) { return ((struct rs *)a)->payloads > 0; }
static bool srv_two_nodes(void *a) { return ((struct rs *)a)->srv_nodes >= 2; }
static bool cli_three_nodes(void *a) { return ((struct cc *)a)->nodes >= 3; }
static bool srv_closed(void *a) { return ((struct rs *)a)->srv_closed > 0; }

TEST(responder_takes_the_payload_and_nodes_flow_both_ways)
{
	struct ybuf want = YBUF_INIT(1 << 16), sealed = YBUF_INIT(0);
	struct wa_node *n;
	struct rs r;
	struct cc x;

	REQUIRE(rs_init(&r));
	REQUIRE(rs_connect(&r, &x, 2));
	REQUIRE(wa_payload_login(15557654321ull, 2, &want) == Y_OK);
	REQUIRE(run_until(r.l, got_payload, &r));
	REQUIRE(r.srv);
	CHECK_EQ_INT(r.payloads, 1);
	CHECK(r.payload.len == want.len && !memcmp(r.payload.data, want.data, want.len));
	CHECK_MEM(r.peer, x.noise.pub, 32);
	CHECK_EQ_INT(wa_conn_dict(r.srv), 2);
	/* the client's view of the server's key */
	REQUIRE(run_until(r.l, is_ready, &x));
	CHECK_MEM(wa_conn_peer_static(x.c), r.stat.pub, 32);
	/* client -> server */
	n = fw_node("presence", "type", "available", NULL);
	REQUIRE(n && wa_conn_send(x.c, n) == Y_OK);
	wa_node_free(n);
	n = fw_node("ib", NULL);
	REQUIRE(n && wa_conn_send(x.c, n) == Y_OK);
	wa_node_free(n);
	CHECK(run_until(r.l, srv_two_nodes, &r));
	CHECK_EQ_STR(r.last_tag, "ib");
	/* server -> client: one sealed now and sent after a plain send would
	 * break the Noise counter, so seal two, then send both in order */
	n = fw_node("success", "t", "1", NULL);
	REQUIRE(n && wa_conn_send(r.srv, n) == Y_OK);
	REQUIRE(wa_conn_seal(r.srv, n, &sealed) == Y_OK);
	REQUIRE(wa_conn_send_frame(r.srv, sealed.data, sealed.len) == Y_OK);
	sealed.len = 0;
	REQUIRE(wa_conn_seal(r.srv, n, &sealed) == Y_OK);
	REQUIRE(wa_conn_send_frame(r.srv, sealed.data, sealed.len) == Y_OK);
	wa_node_free(n);
	CHECK(run_until(r.l, cli_three_nodes, &x));
	CHECK_EQ_INT(x.closed, 0);
	ybuf_release(&want);
	ybuf_release(&sealed);
	rs_release(&r, &x);
}

TEST(responder_refuses_an_unknown_dictionary)
{
	struct rs r;
	struct cc x;

	REQUIRE(rs_init(&r));
	/* wa_conn_connect takes only 2 or 3: speak 4 through a raw socket */
	{
		struct wa_socket_opts so = { 0 };
		struct wa_socket *s;
		static const struct wa_socket_cbs none = { NULL, NULL, NULL, NULL };
		char url[96];
		const uint8_t junk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

		snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", wa_listener_port(r.ls));
		so.url = url;
		so.dict = 4;
		REQUIRE(wa_socket_connect(r.l, &so, &none, NULL, &s) == Y_OK);
		REQUIRE(wa_socket_send_frame(s, junk, sizeof(junk)) == Y_OK);
		CHECK(run_until(r.l, srv_closed, &r));
		CHECK_EQ_INT(r.srv_close_err, Y_EUNSUPPORTED);
		CHECK_EQ_INT(r.payloads, 0);
	}
	memset(&x, 0, sizeof(x));
	rs_release(&r, &x);
}

TEST(responder_free_before_the_loop)
{
	struct rs r;
	struct cc x;

	REQUIRE(rs_init(&r));
	REQUIRE(rs_connect(&r, &x, 3));
	REQUIRE(run_until(r.l, got_payload, &r));
	REQUIRE(r.srv);
	wa_conn_free(r.srv); /* no callback: srv_closed stays 0; ASan checks the memory */
	r.srv = NULL;
	CHECK(run_until(r.l, is_closed, &x));
	CHECK_EQ_INT(r.srv_closed, 0);
	rs_release(&r, &x);
}

int main(void)
{
	ylog_min = YLOG_OFF;
	RUN(handshake_and_payload);
	RUN(wrong_root_refused);
	RUN(iq_waiters_answer_error_timeout_close);
	RUN(iq_waiters_closed_by_our_close);
	RUN(drop_calls_nothing);
	RUN(detached_conn);
	RUN(callbacks_restore_the_outer_log_session);
	RUN(responder_takes_the_payload_and_nodes_flow_both_ways);
	RUN(responder_refuses_an_unknown_dictionary);
	RUN(responder_free_before_the_loop);
	return test_summary();
}
