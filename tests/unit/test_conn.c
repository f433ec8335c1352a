/*
 * Tests for src/wa/conn.{h,c}: a wa_conn (the initiator) against the
 * scriptable server of fake_wa.h in this process: the handshake and its
 * root check, iq waiters (answers, errors, deadlines, the close), dropping,
 * and the detached connection the fuzz target uses.
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

static const struct wa_conn_cbs ccbs = { c_ready, c_node, c_close };

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

static bool cc_init(struct cc *x, bool wrong_root)
{
	struct wa_conn_opts o;
	struct ybuf pl = YBUF_INIT(1 << 16);
	char url[96];
	int rc;

	memset(x, 0, sizeof(*x));
	cur = x;
	x->sv.wrong_root = wrong_root;
	if (wa_loop_new(NULL, &x->l) || fw_start(x->l, &x->sv) || wa_keypair_generate(&x->noise) ||
	    wa_payload_login(15551234567ull, 1, &pl))
		return false;
	fw_url(&x->sv, url, sizeof(url));
	memset(&o, 0, sizeof(o));
	o.sock.url = url;
	o.sock.dict = 3;
	o.root_pub = x->sv.root.pub;
	o.noise_key = &x->noise;
	o.payload = pl.data;
	o.payload_len = pl.len;
	rc = wa_conn_connect(x->l, &o, &ccbs, x, &x->c);
	ybuf_release(&pl);
	return rc == Y_OK;
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

int main(void)
{
	ylog_min = YLOG_OFF;
	RUN(handshake_and_payload);
	RUN(wrong_root_refused);
	RUN(iq_waiters_answer_error_timeout_close);
	RUN(iq_waiters_closed_by_our_close);
	RUN(drop_calls_nothing);
	RUN(detached_conn);
	return test_summary();
}
