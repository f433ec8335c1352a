/*
 * Tests for src/wa/socket.{h,c}: a wa_listener and wa_socket clients on one
 * loop in one process, all on 127.0.0.1 with ephemeral ports. No sleeps: the
 * loop is driven until a condition holds, under a deadline that fails the test.
 */
#include <stdbool.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#include <uv.h>

#include "test.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/socket.h"

#define DEADLINE_MS 10000

/* REQUIRE() evaluates its condition twice: calls with effects go through this. */
static int rc_;

/* ---- driving the loop ---- */

static bool timed_out;

static void deadline_cb(uv_timer_t *t)
{
	timed_out = true;
}

/* Runs the loop until cond(arg) holds; false if the deadline passed first. */
static bool run_until(struct wa_loop *l, bool (*cond)(void *), void *arg)
{
	uv_timer_t t;
	bool ok;

	timed_out = false;
	uv_timer_init(wa_loop_uv(l), &t);
	uv_timer_start(&t, deadline_cb, DEADLINE_MS, 0);
	while (!(ok = cond(arg)) && !timed_out)
		wa_loop_run_once(l, 0);
	uv_close((uv_handle_t *)&t, NULL);
	wa_loop_run_once(l, 1);
	return ok;
}

/* ---- a recording peer: counts and stores what a socket saw ---- */

struct peer {
	struct wa_socket *s;
	int opened, closed, drained, nframes;
	int close_err;
	char reason[128];
	struct ybuf frames; /* each frame as <len24><payload> */
	int echo;           /* send every frame back */
	int next_seq;       /* backpressure test: expected sequence number */
	int seq_errors;
	int dict_at_first;
	char origin[128];
};

static void p_open(struct wa_socket *s, void *ud)
{
	struct peer *p = ud;

	p->opened++;
	snprintf(p->origin, sizeof(p->origin), "%s", wa_socket_origin(s));
}

static void p_frame(struct wa_socket *s, const uint8_t *f, size_t n, void *ud)
{
	struct peer *p = ud;
	uint8_t h[3] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };

	if (p->nframes == 0)
		p->dict_at_first = wa_socket_dict(s);
	p->nframes++;
	if (p->frames.max != 1) { /* max 1 = don't store */
		ybuf_append(&p->frames, h, 3);
		ybuf_append(&p->frames, f, n);
	}
	if (n >= 4 && p->frames.max == 1) {
		int seq = (f[0] << 24) | (f[1] << 16) | (f[2] << 8) | f[3];
		if (seq != p->next_seq)
			p->seq_errors++;
		p->next_seq = seq + 1;
	}
	if (p->echo)
		wa_socket_send_frame(s, f, n);
}

static void p_drain(struct wa_socket *s, void *ud)
{
	((struct peer *)ud)->drained++;
}

static void p_close(struct wa_socket *s, int err, const char *reason, void *ud)
{
	struct peer *p = ud;

	p->closed++;
	p->close_err = err;
	snprintf(p->reason, sizeof(p->reason), "%s", reason);
	p->s = NULL;
}

static const struct wa_socket_cbs peer_cbs = { p_open, p_frame, p_drain, p_close };

static void peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	ybuf_init(&p->frames, 0);
	p->dict_at_first = -2;
}

/* ---- a server that hands accepted sockets to peers from a pool ---- */

struct server {
	struct wa_listener *ls;
	struct peer *peers;
	int npeers, accepted;
	int echo;
	size_t store_max;
};

static void on_accept(struct wa_listener *ls, struct wa_socket *s, void *ud)
{
	struct server *sv = ud;
	struct peer *p;

	if (sv->accepted >= sv->npeers) {
		wa_socket_abort(s);
		return;
	}
	p = &sv->peers[sv->accepted++];
	p->s = s;
	p->echo = sv->echo;
	if (sv->store_max)
		p->frames.max = sv->store_max;
	wa_socket_set_cbs(s, &peer_cbs, p);
}

static bool start_server(struct wa_loop *l, struct server *sv, int npeers)
{
	struct wa_listener_opts o = { 0 };

	sv->peers = calloc((size_t)npeers, sizeof(*sv->peers));
	sv->npeers = npeers;
	for (int i = 0; i < npeers; i++)
		peer_init(&sv->peers[i]);
	return wa_listener_new(l, &o, on_accept, sv, &sv->ls) == Y_OK;
}

static void free_server(struct server *sv)
{
	for (int i = 0; i < sv->npeers; i++)
		ybuf_release(&sv->peers[i].frames);
	free(sv->peers);
}

static int connect_peer(struct wa_loop *l, struct server *sv, const char *path, struct peer *p)
{
	char url[128];
	struct wa_socket_opts o = { 0 };

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d%s", wa_listener_port(sv->ls), path);
	o.url = url;
	o.dict = 2;
	return wa_socket_connect(l, &o, &peer_cbs, p, &p->s);
}

static bool is_open(void *arg)
{
	struct peer *p = arg;
	return p->opened || p->closed;
}

static bool is_closed(void *arg)
{
	return ((struct peer *)arg)->closed > 0;
}

struct want_frames {
	struct peer *p;
	int n;
};

static bool has_frames(void *arg)
{
	struct want_frames *w = arg;
	return w->p->nframes >= w->n || w->p->closed;
}

/* A loop on the caller's uv loop, as the app will use it. */
struct fixture {
	uv_loop_t uv;
	struct wa_loop *l;
	struct server sv;
};

static bool fixture_init(struct fixture *fx, int npeers)
{
	memset(fx, 0, sizeof(*fx));
	uv_loop_init(&fx->uv);
	if (wa_loop_new(&fx->uv, &fx->l) != Y_OK)
		return false;
	return start_server(fx->l, &fx->sv, npeers);
}

static void fixture_release(struct fixture *fx)
{
	wa_loop_free(fx->l);
	free_server(&fx->sv);
	CHECK_EQ_INT(uv_loop_close(&fx->uv), 0);
}

/* ---- tests ---- */

TEST(frames_both_ways_with_origin_and_intro)
{
	struct fixture fx;
	struct peer c;
	struct want_frames w;
	struct peer *sp;

	rc_ = fixture_init(&fx, 1);
	REQUIRE(rc_);
	peer_init(&c);
	rc_ = connect_peer(fx.l, &fx.sv, "/ws/chat", &c);
	CHECK_EQ_INT(rc_, Y_OK);
	CHECK(run_until(fx.l, is_open, &c));
	CHECK_EQ_INT(c.opened, 1);
	CHECK_EQ_INT(fx.sv.accepted, 1);
	sp = &fx.sv.peers[0];
	CHECK_EQ_INT(sp->opened, 1);
	CHECK_EQ_STR(sp->origin, "https://web.whatsapp.com");
	CHECK_EQ_STR(wa_socket_path(sp->s), "/ws/chat");
	CHECK_EQ_INT(wa_socket_dict(sp->s), -1);

	CHECK_EQ_INT(wa_socket_send_frame(c.s, (const uint8_t *)"hello", 5), Y_OK);
	CHECK_EQ_INT(wa_socket_send_frame(c.s, (const uint8_t *)"again", 5), Y_OK);
	w.p = sp;
	w.n = 2;
	CHECK(run_until(fx.l, has_frames, &w));
	CHECK_EQ_INT(sp->dict_at_first, 2);
	CHECK(sp->frames.len == 16 && !memcmp(sp->frames.data, "\0\0\5hello\0\0\5again", 16));

	CHECK_EQ_INT(wa_socket_send_frame(sp->s, (const uint8_t *)"world", 5), Y_OK);
	w.p = &c;
	w.n = 1;
	CHECK(run_until(fx.l, has_frames, &w));
	CHECK(c.frames.len == 8 && !memcmp(c.frames.data, "\0\0\5world", 8));
	CHECK_EQ_INT(c.closed, 0);
	CHECK_EQ_INT(wa_loop_socket_count(fx.l), 2);

	ybuf_release(&c.frames);
	fixture_release(&fx);
}

/* The server writes raw websocket messages: one frame split over three
 * messages (cut inside the length too), then five frames in one message. */
TEST(split_and_coalesced_messages)
{
	struct fixture fx;
	struct peer c;
	struct want_frames w;
	struct ybuf stream = YBUF_INIT(0);
	static const uint8_t five[] = "\0\0\1a\0\0\2bb\0\0\1c\0\0\3ddd\0\0\1e";
	size_t big = 100000, cuts[2] = { 2, 40001 };
	uint8_t *payload = malloc(big);

	rc_ = fixture_init(&fx, 1);
	REQUIRE(rc_);
	peer_init(&c);
	rc_ = connect_peer(fx.l, &fx.sv, "/ws/chat", &c);
	CHECK(rc_ == Y_OK && run_until(fx.l, is_open, &c) && c.opened);
	REQUIRE(fx.sv.accepted == 1);

	for (size_t i = 0; i < big; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	{
		uint8_t h[3] = { (uint8_t)(big >> 16), (uint8_t)(big >> 8), (uint8_t)big };
		ybuf_append(&stream, h, 3);
		ybuf_append(&stream, payload, big);
	}
	CHECK_EQ_INT(wa_socket_send_raw(fx.sv.peers[0].s, stream.data, cuts[0]), Y_OK);
	CHECK_EQ_INT(wa_socket_send_raw(fx.sv.peers[0].s, stream.data + cuts[0], cuts[1] - cuts[0]),
		     Y_OK);
	CHECK_EQ_INT(wa_socket_send_raw(fx.sv.peers[0].s, stream.data + cuts[1],
					stream.len - cuts[1]), Y_OK);
	CHECK_EQ_INT(wa_socket_send_raw(fx.sv.peers[0].s, five, sizeof(five) - 1), Y_OK);
	w.p = &c;
	w.n = 6;
	CHECK(run_until(fx.l, has_frames, &w));
	CHECK_EQ_INT(c.nframes, 6);
	REQUIRE(c.frames.len == stream.len + sizeof(five) - 1);
	CHECK(!memcmp(c.frames.data, stream.data, stream.len));
	CHECK(!memcmp(c.frames.data + stream.len, five, sizeof(five) - 1));

	/* and a 1 MiB frame from the client, written as 16 KiB fragments */
	{
		size_t n = 1 << 20;
		uint8_t *m = malloc(n);
		struct peer *sp = &fx.sv.peers[0];

		for (size_t i = 0; i < n; i++)
			m[i] = (uint8_t)(i ^ (i >> 8));
		CHECK_EQ_INT(wa_socket_send_frame(c.s, m, n), Y_OK);
		w.p = sp;
		w.n = 1;
		CHECK(run_until(fx.l, has_frames, &w));
		CHECK(sp->frames.len == n + 3 && !memcmp(sp->frames.data + 3, m, n));
		free(m);
	}
	free(payload);
	ybuf_release(&stream);
	ybuf_release(&c.frames);
	fixture_release(&fx);
}

struct bp {
	struct peer *c, *srv;
	int sent, total, busy;
	struct wa_socket *s;
};

static void bp_send(struct bp *b)
{
	uint8_t f[4096];

	memset(f, 0x5a, sizeof(f));
	while (b->sent < b->total) {
		int rc;

		f[0] = (uint8_t)(b->sent >> 24);
		f[1] = (uint8_t)(b->sent >> 16);
		f[2] = (uint8_t)(b->sent >> 8);
		f[3] = (uint8_t)b->sent;
		rc = wa_socket_send_frame(b->s, f, sizeof(f));
		if (rc == Y_EBUSY) {
			b->busy++;
			return;
		}
		CHECK_EQ_INT(rc, Y_OK);
		if (rc)
			return;
		CHECK(wa_socket_queued(b->s) <= 65536);
		b->sent++;
	}
}

static struct bp *bp_cur;

static void bp_drain(struct wa_socket *s, void *ud)
{
	((struct peer *)ud)->drained++;
	bp_send(bp_cur);
}

static bool bp_done(void *arg)
{
	struct bp *b = arg;
	return b->srv->nframes >= b->total || b->c->closed || b->srv->closed;
}

TEST(backpressure_busy_then_drain_keeps_order)
{
	struct fixture fx;
	struct peer c;
	struct bp b = { 0 };
	struct wa_socket_cbs cbs = peer_cbs;
	struct wa_socket_opts o = { 0 };
	char url[128];

	rc_ = fixture_init(&fx, 1);
	REQUIRE(rc_);
	fx.sv.store_max = 1; /* server peer checks sequence numbers instead */
	peer_init(&c);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", wa_listener_port(fx.sv.ls));
	o.url = url;
	o.dict = 2;
	o.queue_max = 65536;
	cbs.on_drain = bp_drain;
	rc_ = wa_socket_connect(fx.l, &o, &cbs, &c, &c.s);
	REQUIRE(rc_ == Y_OK);
	b.c = &c;
	b.s = c.s;
	b.total = 2000; /* 8 MiB through a 64 KiB queue */
	bp_cur = &b;
	bp_send(&b); /* before open: fills the queue, must hit Y_EBUSY */
	CHECK_EQ_INT(b.busy, 1);
	CHECK_EQ_INT(b.sent, 15); /* 15 * (4096 + 3) + 7 fits in 64 KiB, 16 does not */
	CHECK(run_until(fx.l, is_open, &c));
	REQUIRE(fx.sv.accepted == 1);
	b.srv = &fx.sv.peers[0];
	CHECK(run_until(fx.l, bp_done, &b));
	CHECK_EQ_INT(b.srv->nframes, b.total);
	CHECK_EQ_INT(b.srv->seq_errors, 0);
	CHECK(b.busy > 1);
	CHECK_EQ_INT(c.drained, b.busy);
	CHECK_EQ_INT(c.closed, 0);
	ybuf_release(&c.frames);
	fixture_release(&fx);
}

TEST(peer_close_and_abort_are_reported)
{
	struct fixture fx;
	struct peer c1, c2;
	struct peer *s1, *s2;

	rc_ = fixture_init(&fx, 2);
	REQUIRE(rc_);
	peer_init(&c1);
	peer_init(&c2);
	rc_ = connect_peer(fx.l, &fx.sv, "/ws/chat", &c1);
	CHECK(rc_ == Y_OK && run_until(fx.l, is_open, &c1) && c1.opened);
	rc_ = connect_peer(fx.l, &fx.sv, "/ws/chat", &c2);
	CHECK(rc_ == Y_OK && run_until(fx.l, is_open, &c2) && c2.opened);
	REQUIRE(fx.sv.accepted == 2);
	s1 = &fx.sv.peers[0];
	s2 = &fx.sv.peers[1];

	/* server closes gracefully after a last frame: the client gets both */
	CHECK_EQ_INT(wa_socket_send_frame(s1->s, (const uint8_t *)"bye", 3), Y_OK);
	wa_socket_close(s1->s);
	CHECK_EQ_INT(wa_socket_send_frame(s1->s, (const uint8_t *)"late", 4), Y_ECLOSED);
	CHECK(run_until(fx.l, is_closed, &c1));
	CHECK_EQ_INT(c1.nframes, 1);
	CHECK_EQ_INT(c1.close_err, Y_ECLOSED);
	CHECK_EQ_STR(c1.reason, "peer closed (1000)");
	CHECK(run_until(fx.l, is_closed, s1));
	CHECK_EQ_INT(s1->close_err, 0);
	CHECK_EQ_INT(s1->closed, 1);

	/* client aborts: the server sees the connection end */
	wa_socket_abort(c2.s);
	wa_socket_abort(c2.s); /* idempotent */
	CHECK(run_until(fx.l, is_closed, &c2));
	CHECK_EQ_INT(c2.close_err, 0);
	CHECK(run_until(fx.l, is_closed, s2));
	CHECK_EQ_INT(s2->close_err, Y_ECLOSED);
	CHECK_EQ_INT(c1.closed + c2.closed + s1->closed + s2->closed, 4);
	CHECK_EQ_INT(wa_loop_socket_count(fx.l), 0);
	ybuf_release(&c1.frames);
	ybuf_release(&c2.frames);
	fixture_release(&fx);
}

TEST(bad_framing_closes_with_error)
{
	struct fixture fx;
	struct peer c;

	rc_ = fixture_init(&fx, 1);
	REQUIRE(rc_);
	peer_init(&c);
	rc_ = connect_peer(fx.l, &fx.sv, "/ws/chat", &c);
	CHECK(rc_ == Y_OK && run_until(fx.l, is_open, &c) && c.opened);
	REQUIRE(fx.sv.accepted == 1);
	/* no intro header: the server-side decoder refuses */
	CHECK_EQ_INT(wa_socket_send_raw(c.s, (const uint8_t *)"XA\6\2\0\0\1z", 8), Y_OK);
	CHECK(run_until(fx.l, is_closed, &c));
	CHECK(run_until(fx.l, is_closed, &fx.sv.peers[0]));
	CHECK_EQ_INT(fx.sv.peers[0].close_err, Y_EINVAL);
	CHECK_EQ_INT(fx.sv.peers[0].nframes, 0);
	CHECK_EQ_INT(c.close_err, Y_ECLOSED);
	CHECK_EQ_STR(c.reason, "peer closed (1002)");
	ybuf_release(&c.frames);
	fixture_release(&fx);
}

TEST(connect_refused_and_wrong_path)
{
	struct fixture fx;
	struct peer c, d;
	uv_tcp_t tcp;
	struct sockaddr_in sa;
	struct sockaddr_storage bound;
	int blen = sizeof(bound), port;
	char url[128];
	struct wa_socket_opts o = { 0 };

	rc_ = fixture_init(&fx, 1);
	REQUIRE(rc_);
	/* a port that was just free: bind, read it, close */
	uv_tcp_init(&fx.uv, &tcp);
	uv_ip4_addr("127.0.0.1", 0, &sa);
	CHECK_EQ_INT(uv_tcp_bind(&tcp, (const struct sockaddr *)&sa, 0), 0);
	uv_tcp_getsockname(&tcp, (struct sockaddr *)&bound, &blen);
	port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	uv_close((uv_handle_t *)&tcp, NULL);
	wa_loop_run_once(fx.l, 1);

	peer_init(&c);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", port);
	o.url = url;
	o.dict = 2;
	rc_ = wa_socket_connect(fx.l, &o, &peer_cbs, &c, &c.s);
	CHECK_EQ_INT(rc_, Y_OK);
	CHECK_EQ_INT(c.closed, 0); /* never from inside the call */
	CHECK(run_until(fx.l, is_closed, &c));
	CHECK_EQ_INT(c.closed, 1);
	CHECK_EQ_INT(c.opened, 0);
	CHECK_EQ_INT(c.close_err, Y_EIO);

	peer_init(&d);
	rc_ = connect_peer(fx.l, &fx.sv, "/not/chat", &d);
	CHECK_EQ_INT(rc_, Y_OK);
	CHECK(run_until(fx.l, is_closed, &d));
	CHECK_EQ_INT(d.opened, 0);
	CHECK_EQ_INT(d.close_err, Y_EIO);
	CHECK_EQ_INT(fx.sv.accepted, 0);

	/* argument errors: no callbacks, an error code */
	o.url = "http://127.0.0.1:1/x";
	CHECK_EQ_INT(wa_socket_connect(fx.l, &o, &peer_cbs, &c, &c.s), Y_EINVAL);
	o.url = url;
	o.dict = 300;
	CHECK_EQ_INT(wa_socket_connect(fx.l, &o, &peer_cbs, &c, &c.s), Y_EINVAL);
	wa_loop_run_once(fx.l, 1);
	CHECK_EQ_INT(c.closed, 1);
	ybuf_release(&c.frames);
	ybuf_release(&d.frames);
	fixture_release(&fx);
}

/* ---- the client's upgrade request, as a plain TCP server sees it ---- */

struct raw_srv {
	uv_tcp_t listener, conn;
	bool accepted, done;
	char req[4096];
	size_t len;
};

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct raw_srv *r = h->data;

	b->base = r->req + r->len;
	b->len = sizeof(r->req) - 1 - r->len;
}

static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct raw_srv *r = st->data;

	if (n > 0) {
		r->len += (size_t)n;
		r->req[r->len] = 0;
	}
	if (n < 0 || strstr(r->req, "\r\n\r\n") || r->len >= sizeof(r->req) - 1) {
		r->done = true;
		uv_read_stop(st);
		uv_close((uv_handle_t *)st, NULL); /* no answer: the client fails */
	}
}

static void raw_conn(uv_stream_t *ls, int status)
{
	struct raw_srv *r = ls->data;

	if (status || r->accepted)
		return;
	uv_tcp_init(ls->loop, &r->conn);
	r->conn.data = r;
	if (uv_accept(ls, (uv_stream_t *)&r->conn) == 0) {
		r->accepted = true;
		uv_read_start((uv_stream_t *)&r->conn, raw_alloc, raw_read);
	} else {
		uv_close((uv_handle_t *)&r->conn, NULL);
	}
}

/* True if the request has exactly one header line "name: value" (name
 * compared case-insensitively) and no other line with that name. */
static bool has_header(const char *req, const char *line)
{
	size_t n = strlen(line), name = (size_t)(strchr(line, ':') - line) + 1;
	int exact = 0, same_name = 0;

	for (const char *p = strstr(req, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, line, name))
			same_name++;
		if (!strncasecmp(p + 2, line, name) && !strncmp(p + 2 + name, line + name, n - name) &&
		    p[2 + n] == '\r')
			exact++;
	}
	return exact == 1 && same_name == 1;
}

TEST(client_sends_whatsapp_web_headers)
{
	struct fixture fx;
	struct raw_srv r = { 0 };
	struct peer c;
	struct sockaddr_in sa;
	struct sockaddr_storage bound;
	int blen = sizeof(bound);
	char url[128];
	struct wa_socket_opts o = { 0 };

	rc_ = fixture_init(&fx, 1);
	REQUIRE(rc_);
	uv_tcp_init(&fx.uv, &r.listener);
	r.listener.data = &r;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	CHECK_EQ_INT(uv_tcp_bind(&r.listener, (const struct sockaddr *)&sa, 0), 0);
	CHECK_EQ_INT(uv_listen((uv_stream_t *)&r.listener, 4, raw_conn), 0);
	uv_tcp_getsockname(&r.listener, (struct sockaddr *)&bound, &blen);
	/* by name: resolved first, and the Host header keeps the name */
	snprintf(url, sizeof(url), "ws://localhost:%d/ws/chat",
		 ntohs(((struct sockaddr_in *)&bound)->sin_port));
	peer_init(&c);
	o.url = url;
	o.dict = 3;
	rc_ = wa_socket_connect(fx.l, &o, &peer_cbs, &c, &c.s);
	CHECK_EQ_INT(rc_, Y_OK);
	CHECK(run_until(fx.l, is_closed, &c));
	CHECK(r.done);
	CHECK(!strncmp(r.req, "GET /ws/chat HTTP/1.1\r\n", 23));
	CHECK(has_header(r.req, "Origin: https://web.whatsapp.com"));
	CHECK(has_header(r.req, "Cache-Control: no-cache"));
	CHECK(has_header(r.req, "Pragma: no-cache"));
	if (test_failed_checks)
		fprintf(stderr, "  request was:\n%s", r.req);
	CHECK(has_header(r.req, "Upgrade: websocket"));
	{
		char host[160];

		snprintf(host, sizeof(host), "Host: %s", url + 5);
		*strchr(host, '/') = 0;
		CHECK(has_header(r.req, host));
	}
	CHECK(!strcasestr(r.req, "Sec-WebSocket-Protocol"));
	CHECK(!strcasestr(r.req, "Sec-WebSocket-Extensions"));
	CHECK_EQ_INT(c.close_err, Y_EIO);
	CHECK_EQ_INT(c.opened, 0);
	uv_close((uv_handle_t *)&r.listener, NULL);
	ybuf_release(&c.frames);
	fixture_release(&fx);
}

/* ---- TLS: a CA made here, a wss listener, clients trusting it or not ---- */

static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *cn, bool ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ca) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
					  "DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, signer, EVP_sha256());
	X509_NAME_free(name);
	return x;
}

static bool write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	return ok;
}

/* Writes ca.pem, cert.pem, key.pem into dir. */
static bool make_pki(const char *dir)
{
	EVP_PKEY *cak = EVP_EC_gen("P-256"), *k = EVP_EC_gen("P-256");
	X509 *ca = make_cert(cak, cak, NULL, "yesapp test CA", true);
	X509 *leaf = make_cert(k, cak, ca, "localhost", false);
	char p[256];
	bool ok;

	snprintf(p, sizeof(p), "%s/ca.pem", dir);
	ok = write_pem(p, ca, NULL);
	snprintf(p, sizeof(p), "%s/cert.pem", dir);
	ok = ok && write_pem(p, leaf, NULL);
	snprintf(p, sizeof(p), "%s/key.pem", dir);
	ok = ok && write_pem(p, NULL, k);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
	return ok;
}

TEST(tls_listener_and_client_with_own_ca)
{
	char dir[] = "/tmp/yesapp-socket-tls-XXXXXX", ca[256], cert[256], key[256], url[128];
	struct wa_listener_opts lo = { 0 };
	struct wa_socket_opts o = { 0 };
	struct fixture fx;
	struct server tsv = { 0 };
	struct peer c, d;
	struct want_frames w;

	REQUIRE(mkdtemp(dir));
	rc_ = make_pki(dir);
	REQUIRE(rc_);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	rc_ = fixture_init(&fx, 1);
	REQUIRE(rc_);
	tsv.peers = calloc(2, sizeof(*tsv.peers));
	tsv.npeers = 2;
	peer_init(&tsv.peers[0]);
	peer_init(&tsv.peers[1]);
	tsv.echo = 1;
	lo.cert_file = cert;
	lo.key_file = key;
	rc_ = wa_listener_new(fx.l, &lo, on_accept, &tsv, &tsv.ls);
	CHECK_EQ_INT(rc_, Y_OK);
	if (rc_ == Y_OK) {
		snprintf(url, sizeof(url), "wss://127.0.0.1:%d/ws/chat", wa_listener_port(tsv.ls));
		o.url = url;
		o.dict = 2;
		o.ca_file = ca;
		peer_init(&c);
		rc_ = wa_socket_connect(fx.l, &o, &peer_cbs, &c, &c.s);
		CHECK_EQ_INT(rc_, Y_OK);
		CHECK_EQ_INT(wa_socket_send_frame(c.s, (const uint8_t *)"over tls", 8), Y_OK);
		w.p = &c;
		w.n = 1;
		CHECK(run_until(fx.l, has_frames, &w));
		CHECK(c.frames.len == 11 && !memcmp(c.frames.data, "\0\0\10over tls", 11));
		CHECK_EQ_INT(tsv.peers[0].dict_at_first, 2);

		/* system CAs do not know our CA: the handshake fails */
		o.ca_file = NULL;
		peer_init(&d);
		rc_ = wa_socket_connect(fx.l, &o, &peer_cbs, &d, &d.s);
		CHECK_EQ_INT(rc_, Y_OK);
		CHECK(run_until(fx.l, is_closed, &d));
		CHECK_EQ_INT(d.opened, 0);
		CHECK_EQ_INT(d.close_err, Y_EIO);
		ybuf_release(&c.frames);
		ybuf_release(&d.frames);
	}
	fixture_release(&fx);
	free_server(&tsv);
	unlink(ca);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

/* Host names are resolved off the loop (libuv's thread pool), then dialled;
 * a socket may be aborted, or its loop freed, while its name resolves. */
TEST(connects_by_name_and_aborts_while_resolving)
{
	struct fixture fx;
	struct peer c, d;
	struct want_frames w;
	struct wa_socket_opts o = { 0 };
	char url[128];

	rc_ = fixture_init(&fx, 2);
	REQUIRE(rc_);
	snprintf(url, sizeof(url), "ws://localhost:%d/ws/chat", wa_listener_port(fx.sv.ls));
	o.url = url;
	o.dict = 2;
	peer_init(&c);
	rc_ = wa_socket_connect(fx.l, &o, &peer_cbs, &c, &c.s);
	CHECK_EQ_INT(rc_, Y_OK);
	CHECK_EQ_INT(wa_socket_send_frame(c.s, (const uint8_t *)"named", 5), Y_OK);
	CHECK(run_until(fx.l, is_open, &c));
	CHECK_EQ_INT(c.opened, 1);
	REQUIRE(fx.sv.accepted == 1);
	w.p = &fx.sv.peers[0];
	w.n = 1;
	CHECK(run_until(fx.l, has_frames, &w));
	CHECK(w.p->frames.len == 8 && !memcmp(w.p->frames.data, "\0\0\5named", 8));

	peer_init(&d);
	rc_ = wa_socket_connect(fx.l, &o, &peer_cbs, &d, &d.s);
	CHECK_EQ_INT(rc_, Y_OK);
	wa_socket_abort(d.s);
	CHECK_EQ_INT(d.closed, 0);
	CHECK(run_until(fx.l, is_closed, &d));
	CHECK_EQ_INT(d.close_err, 0);
	CHECK_EQ_INT(d.opened, 0);
	/* and one left resolving when the loop is freed */
	peer_init(&d);
	rc_ = wa_socket_connect(fx.l, &o, &peer_cbs, &d, &d.s);
	CHECK_EQ_INT(rc_, Y_OK);
	ybuf_release(&c.frames);
	ybuf_release(&d.frames);
	fixture_release(&fx);
	CHECK_EQ_INT(d.closed, 0);
}

/* ---- plain HTTP and garbage at the listener ---- */

struct raw_cli {
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_write_t wreq;
	const char *send;
	char resp[2048];
	size_t len;
	bool done;
};

static void rc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct raw_cli *r = h->data;

	b->base = r->resp + r->len;
	b->len = sizeof(r->resp) - 1 - r->len;
}

static void rc_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct raw_cli *r = st->data;

	if (n > 0) {
		r->len += (size_t)n;
		r->resp[r->len] = 0;
	}
	if (n < 0 || r->len >= sizeof(r->resp) - 1) {
		r->done = true; /* the server closed (or we have enough) */
		uv_close((uv_handle_t *)st, NULL);
	}
}

static void rc_connected(uv_connect_t *req, int status)
{
	struct raw_cli *r = req->data;
	uv_buf_t b = uv_buf_init((char *)r->send, (unsigned)strlen(r->send));

	if (status) {
		r->done = true;
		uv_close((uv_handle_t *)&r->tcp, NULL);
		return;
	}
	uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, NULL);
	uv_read_start((uv_stream_t *)&r->tcp, rc_alloc, rc_read);
}

static bool rc_done(void *arg)
{
	return ((struct raw_cli *)arg)->done;
}

static void raw_request(struct fixture *fx, struct raw_cli *r, const char *send)
{
	struct sockaddr_in sa;

	memset(r, 0, sizeof(*r));
	r->send = send;
	uv_tcp_init(&fx->uv, &r->tcp);
	r->tcp.data = r;
	r->creq.data = r;
	uv_ip4_addr("127.0.0.1", wa_listener_port(fx->sv.ls), &sa);
	uv_tcp_connect(&r->creq, &r->tcp, (const struct sockaddr *)&sa, rc_connected);
	CHECK(run_until(fx->l, rc_done, r));
}

TEST(listener_refuses_plain_http_and_garbage)
{
	struct fixture fx;
	struct raw_cli r;
	struct peer c;

	rc_ = fixture_init(&fx, 1);
	REQUIRE(rc_);
	raw_request(&fx, &r, "GET /ws/chat HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK(!strncmp(r.resp, "HTTP/1.1 404", 12));
	raw_request(&fx, &r, "\x16\x03\x01garbage\r\n\r\n\r\n");
	CHECK(r.done);
	raw_request(&fx, &r, "GET /ws/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			     "Connection: Upgrade\r\nSec-WebSocket-Version: 99\r\n\r\n");
	CHECK(strncmp(r.resp, "HTTP/1.1 101", 12) != 0);
	CHECK_EQ_INT(fx.sv.accepted, 0);
	/* still serving */
	peer_init(&c);
	rc_ = connect_peer(fx.l, &fx.sv, "/ws/chat", &c);
	CHECK(rc_ == Y_OK && run_until(fx.l, is_open, &c) && c.opened);
	CHECK_EQ_INT(fx.sv.accepted, 1);
	ybuf_release(&c.frames);
	fixture_release(&fx);
}

/* ---- closing and aborting from inside callbacks ---- */

struct cbt {
	struct peer p;
	int mode; /* 0 abort in on_open, 1 close in on_frame, 2 reconnect in on_close */
	struct fixture *fx;
	struct peer *again;
};

static void cbt_open(struct wa_socket *s, void *ud)
{
	struct cbt *t = ud;

	p_open(s, &t->p);
	if (t->mode == 0)
		wa_socket_abort(s);
	if (t->mode == 2)
		wa_socket_close(s);
}

static void cbt_frame(struct wa_socket *s, const uint8_t *f, size_t n, void *ud)
{
	struct cbt *t = ud;

	p_frame(s, f, n, &t->p);
	if (t->mode == 1)
		wa_socket_close(s);
}

static void cbt_close(struct wa_socket *s, int err, const char *reason, void *ud)
{
	struct cbt *t = ud;

	p_close(s, err, reason, &t->p);
	if (t->mode == 2 && t->again) {
		/* a new connection from inside on_close */
		rc_ = connect_peer(t->fx->l, &t->fx->sv, "/ws/chat", t->again);
		t->again = NULL;
	}
}

static const struct wa_socket_cbs cbt_cbs = { cbt_open, cbt_frame, NULL, cbt_close };

/* server side: abort inside on_frame */
static void srv_abort_frame(struct wa_socket *s, const uint8_t *f, size_t n, void *ud)
{
	p_frame(s, f, n, ud);
	wa_socket_abort(s);
	CHECK_EQ_INT(wa_socket_send_frame(s, f, n), Y_ECLOSED);
}

static bool cbt_all_done(void *arg)
{
	struct cbt *t = arg;

	return t[0].p.closed && t[1].p.closed && t[2].p.closed;
}

TEST(close_and_abort_inside_callbacks)
{
	static const uint8_t two[] = "\0\0\1a\0\0\1b";
	struct fixture fx;
	struct cbt t[3];
	struct peer again, d;
	struct wa_socket_opts o = { 0 };
	struct wa_socket_cbs sc = peer_cbs;
	char url[128];

	rc_ = fixture_init(&fx, 8);
	REQUIRE(rc_);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", wa_listener_port(fx.sv.ls));
	o.url = url;
	o.dict = 2;
	memset(t, 0, sizeof(t));
	peer_init(&again);
	for (int i = 0; i < 3; i++) {
		peer_init(&t[i].p);
		t[i].mode = i;
		t[i].fx = &fx;
		rc_ = wa_socket_connect(fx.l, &o, &cbt_cbs, &t[i], &t[i].p.s);
		CHECK_EQ_INT(rc_, Y_OK);
	}
	t[2].again = &again;
	/* mode 1 needs two frames in one message from its server side */
	CHECK(run_until(fx.l, is_open, &t[1].p));
	for (int i = 0; i < fx.sv.accepted; i++)
		if (fx.sv.peers[i].s && !fx.sv.peers[i].closed)
			wa_socket_send_raw(fx.sv.peers[i].s, two, sizeof(two) - 1);
	CHECK(run_until(fx.l, cbt_all_done, t));
	CHECK(run_until(fx.l, is_open, &again));
	CHECK_EQ_INT(again.opened, 1);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(t[i].p.closed, 1);
	CHECK_EQ_INT(t[0].p.close_err, 0);
	CHECK_EQ_INT(t[1].p.close_err, 0);
	CHECK_EQ_INT(t[1].p.nframes, 1); /* nothing delivered after close */
	CHECK_EQ_INT(t[2].p.close_err, 0);

	/* the server aborts from inside on_frame */
	peer_init(&d);
	rc_ = connect_peer(fx.l, &fx.sv, "/ws/chat", &d);
	CHECK(rc_ == Y_OK && run_until(fx.l, is_open, &d));
	{
		struct peer *sp = &fx.sv.peers[fx.sv.accepted - 1];

		sc.on_frame = srv_abort_frame;
		wa_socket_set_cbs(sp->s, &sc, sp);
		CHECK_EQ_INT(wa_socket_send_frame(d.s, (const uint8_t *)"x", 1), Y_OK);
		CHECK(run_until(fx.l, is_closed, &d));
		CHECK(run_until(fx.l, is_closed, sp));
		CHECK_EQ_INT(sp->close_err, 0);
		CHECK_EQ_INT(sp->closed, 1);
		CHECK_EQ_INT(d.close_err, Y_ECLOSED);
	}
	for (int i = 0; i < 3; i++)
		ybuf_release(&t[i].p.frames);
	ybuf_release(&again.frames);
	ybuf_release(&d.frames);
	fixture_release(&fx);
}

/* ---- many connections on one loop ---- */

#define MANY 250
#define MANY_FRAMES 3

static bool all_echoed(void *arg)
{
	struct peer *cs = arg;

	for (int i = 0; i < MANY; i++)
		if (cs[i].nframes < MANY_FRAMES && !cs[i].closed)
			return false;
	return true;
}

static bool all_closed(void *arg)
{
	struct peer *cs = arg;

	for (int i = 0; i < MANY; i++)
		if (!cs[i].closed)
			return false;
	return true;
}

TEST(many_connections_share_one_loop)
{
	struct fixture fx;
	struct peer *cs = calloc(MANY, sizeof(*cs));
	int ok = 0, bad = 0;

	rc_ = fixture_init(&fx, MANY);
	REQUIRE(rc_);
	fx.sv.echo = 1;
	for (int i = 0; i < MANY; i++) {
		char f[32];
		int n;

		peer_init(&cs[i]);
		rc_ = connect_peer(fx.l, &fx.sv, "/ws/chat", &cs[i]);
		CHECK_EQ_INT(rc_, Y_OK);
		for (int k = 0; k < MANY_FRAMES; k++) {
			n = snprintf(f, sizeof(f), "conn %d frame %d", i, k);
			CHECK_EQ_INT(wa_socket_send_frame(cs[i].s, (const uint8_t *)f, (size_t)n), Y_OK);
		}
	}
	CHECK(run_until(fx.l, all_echoed, cs));
	CHECK_EQ_INT(fx.sv.accepted, MANY);
	CHECK_EQ_INT(wa_loop_socket_count(fx.l), 2 * MANY);
	for (int i = 0; i < MANY; i++) {
		struct ybuf want = YBUF_INIT(0);

		for (int k = 0; k < MANY_FRAMES; k++) {
			char f[32];
			int n = snprintf(f, sizeof(f), "conn %d frame %d", i, k);
			uint8_t h[3] = { 0, 0, (uint8_t)n };

			ybuf_append(&want, h, 3);
			ybuf_append(&want, f, (size_t)n);
		}
		if (cs[i].nframes == MANY_FRAMES && cs[i].frames.len == want.len &&
		    !memcmp(cs[i].frames.data, want.data, want.len) && !cs[i].closed)
			ok++;
		else
			bad++;
		ybuf_release(&want);
	}
	CHECK_EQ_INT(ok, MANY);
	CHECK_EQ_INT(bad, 0);
	for (int i = 0; i < MANY; i++)
		if (cs[i].s)
			wa_socket_close(cs[i].s);
	CHECK(run_until(fx.l, all_closed, cs));
	for (int i = 0; i < MANY; i++) {
		if (cs[i].close_err != 0)
			bad++;
		ybuf_release(&cs[i].frames);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(run_until(fx.l, all_closed, fx.sv.peers));
	CHECK_EQ_INT(wa_loop_socket_count(fx.l), 0);
	free(cs);
	fixture_release(&fx);
}

/* The loop can own its uv loop too, and free open sockets at the end. */
TEST(owned_loop_frees_open_sockets)
{
	struct wa_loop *l = NULL;
	struct server sv = { 0 };
	struct peer c;

	rc_ = wa_loop_new(NULL, &l);
	REQUIRE(rc_ == Y_OK);
	rc_ = start_server(l, &sv, 1);
	REQUIRE(rc_);
	CHECK(wa_listener_port(sv.ls) > 0);
	peer_init(&c);
	rc_ = connect_peer(l, &sv, "/ws/chat", &c);
	CHECK(rc_ == Y_OK && run_until(l, is_open, &c) && c.opened);
	CHECK_EQ_INT(wa_loop_socket_count(l), 2);
	wa_loop_free(l); /* no on_close for what was still open */
	CHECK_EQ_INT(c.closed, 0);
	ybuf_release(&c.frames);
	free_server(&sv);
}

int main(void)
{
	ylog_min = YLOG_ERROR;
	RUN(frames_both_ways_with_origin_and_intro);
	RUN(split_and_coalesced_messages);
	RUN(backpressure_busy_then_drain_keeps_order);
	RUN(peer_close_and_abort_are_reported);
	RUN(bad_framing_closes_with_error);
	RUN(connect_refused_and_wrong_path);
	RUN(client_sends_whatsapp_web_headers);
	RUN(tls_listener_and_client_with_own_ca);
	RUN(connects_by_name_and_aborts_while_resolving);
	RUN(listener_refuses_plain_http_and_garbage);
	RUN(close_and_abort_inside_callbacks);
	RUN(many_connections_share_one_loop);
	RUN(owned_loop_frees_open_sockets);
	return test_summary();
}
