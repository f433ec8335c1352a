/*
 * The WhatsApp frame socket on libwebsockets + libuv: see socket.h.
 *
 * libwebsockets always runs on a "foreign" libuv loop here, whether the
 * caller owns it or wa_loop does, so tear-down is the same in both cases.
 * Each wa_socket is tied to its lws connection (wsi) through the wsi's
 * opaque user data; when lws reports the end of the connection the socket is
 * detached from the wsi, moved to the loop's zombie list and handed to its
 * on_close from a uv_idle callback, outside any lws callback, then freed.
 */
#include "wa/socket.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/frame.h"

#define ORIGIN_DEFAULT "https://web.whatsapp.com"
#define PATH_DEFAULT "/ws/chat"
#define FRAG_SIZE 16384          /* largest websocket fragment we write */
#define WRITE_BUDGET (256 * 1024) /* bytes per writable callback, for fairness */
#define RX_BUFFER 1024           /* lws per-connection receive buffer */
#define TEXT_MAX 512             /* origin, path, reason strings */
#define TLS_PENDING_MAX 64       /* connections with read-but-unserviced TLS data */
#define CLOSE_ACK_SECS 3         /* how long a closing socket waits for the peer's close */
/* lws 4.1 keeps LWS_WRITE_CLOSE (4) private; the wire opcode is 8. */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)

enum sock_state { S_CONNECTING, S_OPEN, S_CLOSING, S_DEAD };

/* One queued websocket message: LWS_PRE bytes of headroom, then the bytes. */
struct qitem {
	struct qitem *next;
	size_t len;   /* message bytes */
	size_t off;   /* bytes already handed to lws */
	uint8_t buf[];
};

struct wa_socket {
	struct wa_loop *loop;
	struct lws *wsi;               /* NULL once lws is done with it */
	struct wa_socket *prev, *next; /* the loop's live list, then its zombie list */
	struct wa_socket_cbs cbs;
	void *ud;
	struct wa_frame_enc enc;
	struct wa_frame_dec dec;
	struct qitem *qhead, *qtail;
	size_t qbytes, qmax;
	char *origin, *path;           /* server side, from the upgrade request */
	char *reason;                  /* set when the end is known */
	int err;
	uint8_t state;                 /* enum sock_state */
	bool server;
	bool busy;                     /* Y_EBUSY returned; on_drain owed */
	bool err_set;                  /* err/reason hold the first cause */
	bool abort_req;
	bool close_sent;               /* our close frame is out; waiting for the peer's */
	struct dial *dial;             /* client: address being resolved */
};

struct client_vhost {
	struct client_vhost *next;
	char *ca_file; /* NULL: system CAs */
	struct lws_vhost *vh;
};

struct wa_listener {
	struct wa_listener *next;
	struct wa_loop *loop;
	struct lws_vhost *vh;
	char *path;
	int port;
	size_t accepted;
	size_t queue_max, frame_max;
	wa_listener_accept_cb on_accept;
	wa_listener_other_cb on_other;
	void *other_ud;
	void *ud;
};

struct wa_loop {
	uv_loop_t *uv;
	uv_loop_t own;
	bool owns;
	struct lws_context *ctx;       /* NULL once lws has finished tearing down */
	struct client_vhost *clients;
	struct wa_listener *listeners;
	struct wa_socket *live;
	struct wa_socket *zombies;
	size_t nlive;
	int nresolving;                /* getaddrinfo requests in flight */
	int nwork;                     /* wa_loop_work jobs in flight */
	uv_idle_t sweep;
	/* Connections whose TLS layer holds decrypted bytes lws has not read
	 * yet (see tls_pending_note); serviced from tls_kick. */
	struct lws *tls_pending[TLS_PENDING_MAX];
	size_t ntls_pending;
	uv_idle_t tls_kick;
	bool dying;
};

/* No lws idle pings or hang-ups: keepalive belongs to the WhatsApp layer. */
static const lws_retry_bo_t no_validity = { 0 };

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len);

static const struct lws_protocols protocols[] = {
	{ "wa", callback, 0, RX_BUFFER, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void log_from_lws(int level, const char *line)
{
	char msg[TEXT_MAX];
	size_t n = strlen(line);

	if (n >= sizeof(msg))
		n = sizeof(msg) - 1;
	memcpy(msg, line, n);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	msg[n] = 0;
	if (level & LLL_ERR)
		LOG_WARN("lws", "{s:s}", "line", msg);
	else
		LOG_DEBUG("lws", "{s:s}", "line", msg);
}

static char *dup_text(const char *s, size_t n)
{
	char *p;

	if (n > TEXT_MAX)
		n = TEXT_MAX;
	p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

/* ---- sockets: life cycle ---- */

static void queue_free(struct wa_socket *s)
{
	struct qitem *q, *next;

	for (q = s->qhead; q; q = next) {
		next = q->next;
		free(q);
	}
	s->qhead = s->qtail = NULL;
	s->qbytes = 0;
}

static void sock_free(struct wa_socket *s)
{
	queue_free(s);
	wa_frame_enc_release(&s->enc);
	wa_frame_dec_release(&s->dec);
	free(s->origin);
	free(s->path);
	free(s->reason);
	free(s);
}

/* Records the first cause of the end; later ones are ignored. */
static void set_err(struct wa_socket *s, int err, const char *reason, size_t len)
{
	if (s->err_set)
		return;
	s->err_set = true;
	s->err = err;
	s->reason = dup_text(reason, len);
}

static struct wa_socket *sock_new(struct wa_loop *l, bool server, size_t qmax, size_t fmax)
{
	struct wa_socket *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = l;
	s->server = server;
	s->qmax = qmax ? qmax : WA_SOCKET_QUEUE_DEFAULT;
	wa_frame_dec_init(&s->dec, server ? WA_FRAME_DEC_SERVER : WA_FRAME_DEC_CLIENT, fmax);
	s->next = l->live;
	if (l->live)
		l->live->prev = s;
	l->live = s;
	l->nlive++;
	return s;
}

static void sweep_cb(uv_idle_t *h);
static void undial(struct wa_socket *s);

/* The connection is over: detach from lws and schedule on_close. */
static void sock_dead(struct wa_socket *s, struct lws *wsi, int err, const char *reason,
		      size_t len)
{
	struct wa_loop *l = s->loop;

	if (s->state == S_DEAD)
		return;
	if (wsi)
		lws_set_opaque_user_data(wsi, NULL);
	s->wsi = NULL;
	s->state = S_DEAD;
	set_err(s, err, reason, len);
	queue_free(s);
	if (s->prev)
		s->prev->next = s->next;
	else
		l->live = s->next;
	if (s->next)
		s->next->prev = s->prev;
	l->nlive--;
	s->prev = NULL;
	s->next = l->zombies;
	l->zombies = s;
	if (!l->dying)
		uv_idle_start(&l->sweep, sweep_cb);
}

/* Runs after lws callbacks: hands dead sockets to on_close, then frees them.
 * Only the sockets dead at entry are handled; new ones wait for the next turn. */
static void sweep_cb(uv_idle_t *h)
{
	struct wa_loop *l = h->data;
	struct wa_socket *s = l->zombies, *next;

	l->zombies = NULL;
	uv_idle_stop(&l->sweep);
	for (; s; s = next) {
		next = s->next;
		if (s->cbs.on_close)
			s->cbs.on_close(s, s->err, s->reason ? s->reason : y_strerror(s->err),
					s->ud);
		sock_free(s);
	}
	if (l->zombies)
		uv_idle_start(&l->sweep, sweep_cb);
}

/* ---- sockets: I/O ---- */

static int enqueue(struct wa_socket *s, const uint8_t *p, size_t n, bool raw)
{
	size_t hdr, total, w = 0;
	struct qitem *q;
	int rc;

	if (s->state == S_CLOSING || s->state == S_DEAD)
		return Y_ECLOSED;
	if (n == 0)
		return Y_EINVAL;
	if (n > WA_FRAME_MAX)
		return Y_ETOOBIG;
	hdr = raw ? 0 : wa_frame_enc_overhead(&s->enc);
	total = hdr + n;
	if (s->qbytes && total > s->qmax - (s->qbytes < s->qmax ? s->qbytes : s->qmax)) {
		s->busy = true;
		return Y_EBUSY;
	}
	q = malloc(sizeof(*q) + LWS_PRE + total);
	if (!q)
		return Y_ENOMEM;
	if (!raw) {
		rc = wa_frame_enc_header(&s->enc, n, q->buf + LWS_PRE, hdr, &w);
		if (rc) {
			free(q);
			return rc;
		}
	}
	memcpy(q->buf + LWS_PRE + w, p, n);
	q->len = total;
	q->off = 0;
	q->next = NULL;
	if (s->qtail)
		s->qtail->next = q;
	else
		s->qhead = q;
	s->qtail = q;
	s->qbytes += total;
	if (s->state == S_OPEN && s->wsi)
		lws_callback_on_writable(s->wsi);
	return Y_OK;
}

int wa_socket_send_frame(struct wa_socket *s, const uint8_t *p, size_t n)
{
	return enqueue(s, p, n, false);
}

int wa_socket_send_raw(struct wa_socket *s, const uint8_t *p, size_t n)
{
	return enqueue(s, p, n, true);
}

size_t wa_socket_queued(const struct wa_socket *s)
{
	return s->qbytes;
}

/* Writes queued messages while the socket takes them. Returns -1 to have
 * lws close the connection. */
static int on_writable(struct wa_socket *s, struct lws *wsi)
{
	size_t budget = WRITE_BUDGET;

	if (s->abort_req)
		return -1;
	while (s->qhead) {
		struct qitem *q = s->qhead;
		size_t chunk = q->len - q->off;
		int flags;

		if (chunk > FRAG_SIZE)
			chunk = FRAG_SIZE;
		flags = lws_write_ws_flags(LWS_WRITE_BINARY, q->off == 0, q->off + chunk == q->len);
		if (lws_write(wsi, q->buf + LWS_PRE + q->off, chunk, (enum lws_write_protocol)flags) <
		    0) {
			set_err(s, Y_EIO, "write failed", 12);
			return -1;
		}
		q->off += chunk;
		s->qbytes -= chunk;
		if (q->off == q->len) {
			s->qhead = q->next;
			if (!s->qhead)
				s->qtail = NULL;
			free(q);
		}
		if (budget <= chunk || lws_send_pipe_choked(wsi))
			break;
		budget -= chunk;
	}
	if (s->busy && s->qbytes <= s->qmax / 2 && s->state == S_OPEN) {
		s->busy = false;
		if (s->cbs.on_drain)
			s->cbs.on_drain(s, s->ud);
	}
	if (s->abort_req)
		return -1;
	if (s->qhead) {
		lws_callback_on_writable(wsi);
	} else if (s->state == S_CLOSING && !s->close_sent) {
		/* The closing handshake (RFC 6455 §7.1.1), done here because lws
		 * 4.1 on libuv drops the close frame that lws_close_reason() asks
		 * for when a writable callback returns -1. After our close we keep
		 * reading (and dropping) until the peer's close arrives: closing
		 * the TCP socket with unread bytes makes the kernel send a reset,
		 * and the peer then loses what it had not read yet, our last
		 * frames and the close among them. A peer that does not answer is
		 * dropped after CLOSE_ACK_SECS. */
		uint8_t cf[LWS_PRE + 2];

		cf[LWS_PRE] = LWS_CLOSE_STATUS_NORMAL >> 8;
		cf[LWS_PRE + 1] = LWS_CLOSE_STATUS_NORMAL & 0xff;
		if (lws_write(wsi, cf + LWS_PRE, 2, WS_WRITE_CLOSE) < 0)
			return -1;
		s->close_sent = true;
		lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_ACK_SECS);
	}
	return 0;
}

/* Feeds received bytes to the frame decoder and delivers whole frames. */
static int on_receive(struct wa_socket *s, struct lws *wsi, const uint8_t *in, size_t len)
{
	const uint8_t *f;
	size_t fl;
	int rc;

	if (!lws_frame_is_binary(wsi))
		return 0; /* WhatsApp data is binary only; text is ignored */
	while (s->state == S_OPEN) {
		rc = wa_frame_dec_next(&s->dec, &in, &len, &f, &fl);
		if (rc == Y_EAGAIN)
			break;
		if (rc) {
			set_err(s, rc, y_strerror(rc), strlen(y_strerror(rc)));
			s->state = S_CLOSING;
			queue_free(s);
			lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, NULL, 0);
			return -1;
		}
		if (s->cbs.on_frame)
			s->cbs.on_frame(s, f, fl, s->ud);
	}
	return 0;
}

static void on_open(struct wa_socket *s, struct lws *wsi)
{
	if (s->state != S_CONNECTING)
		return;
	s->state = S_OPEN;
	s->wsi = wsi;
	if (s->qhead)
		lws_callback_on_writable(wsi);
	if (s->cbs.on_open)
		s->cbs.on_open(s, s->ud);
}

/* Server: an upgrade request arrived. Accept it only on the listener's path;
 * create the socket. Returns non-zero to refuse. */
static int on_filter(struct lws *wsi)
{
	struct wa_listener *ls = lws_get_vhost_user(lws_get_vhost(wsi));
	struct wa_socket *s;
	char buf[TEXT_MAX];
	int n;

	if (!ls || ls->loop->dying)
		return 1;
	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_GET_URI);
	if (n <= 0 || strcmp(buf, ls->path) != 0)
		return 1;
	s = sock_new(ls->loop, true, ls->queue_max, ls->frame_max);
	if (!s)
		return 1;
	s->path = dup_text(buf, (size_t)n);
	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_ORIGIN);
	s->origin = dup_text(buf, n > 0 ? (size_t)n : 0);
	if (!s->path || !s->origin ||
	    wa_frame_enc_init(&s->enc, WA_FRAME_NO_INTRO, NULL, 0) != Y_OK) {
		sock_dead(s, NULL, Y_ENOMEM, "out of memory", 13);
		return 1;
	}
	s->ud = ls->ud;
	s->wsi = wsi;
	lws_set_opaque_user_data(wsi, s);
	return 0;
}

/* What a listener's websockets do not use (plain HTTP requests and their
 * connections) goes to its on_other. Without one, or once the loop is going
 * away, a new request is answered 404. */
static int other(struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct lws_vhost *vh = wsi ? lws_get_vhost(wsi) : NULL;
	struct wa_listener *ls = vh ? lws_get_vhost_user(vh) : NULL;

	if (reason == LWS_CALLBACK_HTTP && (!ls || !ls->on_other || ls->loop->dying)) {
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return -1;
	}
	return ls && ls->on_other ? ls->on_other(ls->other_ud, wsi, reason, user, in, len) : 0;
}

static int dispatch(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct wa_socket *s = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	char buf[64];

	/* A client aborted while lws was still connecting: lws may have
	 * replaced our kill timeout with its own connect timeout since, so
	 * refuse the next step of the connection instead (lws then closes it). */
	if (s && s->abort_req) {
		switch (reason) {
		case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
		case LWS_CALLBACK_CLIENT_ESTABLISHED:
		case LWS_CALLBACK_CLIENT_RECEIVE:
		case LWS_CALLBACK_CLIENT_WRITEABLE:
			return -1;
		default:
			break;
		}
	}

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_filter(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		if (s) {
			struct wa_listener *ls = lws_get_vhost_user(lws_get_vhost(wsi));

			ls->accepted++;
			if (ls->on_accept)
				ls->on_accept(ls, s, ls->ud);
			on_open(s, wsi);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (s)
			on_open(s, wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return s ? on_receive(s, wsi, in, len) : 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return s ? on_writable(s, wsi) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (s && s->close_sent)
			return -1; /* the answer to our close: the handshake is done */
		if (s) {
			const uint8_t *b = in;
			int code = len >= 2 ? (b[0] << 8) | b[1] : 0;
			int n = snprintf(buf, sizeof(buf), "peer closed (%d)", code);

			set_err(s, Y_ECLOSED, buf, (size_t)n);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (s)
			sock_dead(s, wsi, Y_EIO, in ? (const char *)in : "connection failed",
				  in ? strnlen(in, len ? len : TEXT_MAX) : 17);
		return 0;
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (s)
			sock_dead(s, wsi, Y_ECLOSED, "connection closed", 17);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (s)
			sock_dead(s, wsi, Y_EIO, "connection lost", 15);
		return 0;
	default:
		return other(wsi, (int)reason, user, in, len);
	}
}

/* ---- TLS data already read from the socket ----
 *
 * libwebsockets reads a TLS connection a buffer at a time (its
 * pt_serv_buf_size, 4 KiB), so a 16 KiB TLS record leaves decrypted bytes
 * inside OpenSSL (SSL_pending) that no socket event will announce. lws
 * 4.1's libuv glue services such connections from a uv_idle, but stops that
 * idle after one pass even when bytes are still pending (fixed upstream
 * after 4.1, "libuv: fix idle being stopped when there is still pending
 * stuff"): a peer that sends a large body fast and then waits for the
 * answer left its last records unread until lws' timeout cut the
 * connection (a Node https POST of 16 MB or more to the simulator's media
 * host). So after each read callback a connection that still has pending
 * bytes is noted, and tls_kick hands it a POLLIN until they are read. */

static void tls_kick_cb(uv_idle_t *h);

static struct wa_loop *loop_of(struct lws *wsi)
{
	return wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
}

static void tls_pending_note(struct lws *wsi)
{
	struct wa_loop *l = loop_of(wsi);
	SSL *ssl;

	if (!l || l->dying || !lws_is_ssl(wsi) || !(ssl = lws_get_ssl(wsi)) ||
	    SSL_pending(ssl) <= 0)
		return;
	for (size_t i = 0; i < l->ntls_pending; i++)
		if (l->tls_pending[i] == wsi)
			return;
	/* beyond that many at once, the others wait for their next socket
	 * event as they would without this */
	if (l->ntls_pending == TLS_PENDING_MAX)
		return;
	l->tls_pending[l->ntls_pending++] = wsi;
	uv_idle_start(&l->tls_kick, tls_kick_cb);
}

static void tls_pending_forget(struct lws *wsi)
{
	struct wa_loop *l = loop_of(wsi);

	for (size_t i = 0; l && i < l->ntls_pending; i++)
		if (l->tls_pending[i] == wsi) {
			l->tls_pending[i] = l->tls_pending[--l->ntls_pending];
			return;
		}
}

/* Each connection noted at entry gets one read; one that still has bytes
 * after it is noted again by its read callback (the next turn). */
static void tls_kick_cb(uv_idle_t *h)
{
	struct wa_loop *l = h->data;
	size_t n = l->ntls_pending;

	uv_idle_stop(h);
	while (n-- > 0 && l->ntls_pending > 0 && !l->dying) {
		struct lws *wsi = l->tls_pending[0];
		struct lws_pollfd pfd;

		l->tls_pending[0] = l->tls_pending[--l->ntls_pending];
		pfd.fd = lws_get_socket_fd(wsi);
		pfd.events = LWS_POLLIN;
		pfd.revents = LWS_POLLIN;
		if (pfd.fd >= 0)
			lws_service_fd(l->ctx, &pfd);
	}
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	int rc;

	if (reason == LWS_CALLBACK_WSI_DESTROY)
		tls_pending_forget(wsi);
	rc = dispatch(wsi, reason, user, in, len);
	if (!rc && (reason == LWS_CALLBACK_HTTP_BODY || reason == LWS_CALLBACK_RECEIVE ||
		    reason == LWS_CALLBACK_CLIENT_RECEIVE))
		tls_pending_note(wsi);
	return rc;
}

void wa_socket_close(struct wa_socket *s)
{
	if (s->state == S_DEAD || s->state == S_CLOSING)
		return;
	set_err(s, 0, "closed", 6);
	if (s->state == S_CONNECTING) {
		wa_socket_abort(s);
		return;
	}
	s->state = S_CLOSING;
	lws_callback_on_writable(s->wsi);
}

void wa_socket_abort(struct wa_socket *s)
{
	if (s->state == S_DEAD || s->abort_req)
		return;
	set_err(s, 0, "aborted", 7);
	s->abort_req = true;
	s->state = S_CLOSING;
	queue_free(s);
	undial(s);
	if (s->wsi) {
		/* An asynchronous kill, then a poke through lws' event pipe: from
		 * outside lws' callbacks nothing else makes lws look at its timers. */
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		lws_cancel_service(s->loop->ctx);
	} else
		sock_dead(s, NULL, 0, "aborted", 7);
}

void wa_socket_set_cbs(struct wa_socket *s, const struct wa_socket_cbs *cbs, void *ud)
{
	if (cbs)
		s->cbs = *cbs;
	else
		memset(&s->cbs, 0, sizeof(s->cbs));
	s->ud = ud;
}

const char *wa_socket_origin(const struct wa_socket *s)
{
	return s->origin ? s->origin : "";
}

const char *wa_socket_path(const struct wa_socket *s)
{
	return s->path ? s->path : "";
}

int wa_socket_dict(const struct wa_socket *s)
{
	return s->dec.dict;
}

const uint8_t *wa_socket_routing(const struct wa_socket *s, size_t *len)
{
	*len = s->dec.routing.len;
	return s->dec.routing.len ? s->dec.routing.data : NULL;
}

/* ---- client connect ---- */

static struct lws_vhost *client_vhost(struct wa_loop *l, const char *ca_file)
{
	struct lws_context_creation_info info;
	struct client_vhost *c;

	for (c = l->clients; c; c = c->next)
		if ((!c->ca_file && !ca_file) || (c->ca_file && ca_file && !strcmp(c->ca_file, ca_file)))
			return c->vh;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (ca_file && !(c->ca_file = strdup(ca_file))) {
		free(c);
		return NULL;
	}
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = c->ca_file;
	info.retry_and_idle_policy = &no_validity;
	info.vhost_name = "wa-client";
	c->vh = lws_create_vhost(l->ctx, &info);
	if (!c->vh) {
		free(c->ca_file);
		free(c);
		return NULL;
	}
	c->next = l->clients;
	l->clients = c;
	return c->vh;
}

/* A client connection waiting for its address (lws 4.1 as packaged
 * resolves names with a blocking getaddrinfo, which would stall the whole
 * loop; names are resolved on libuv's thread pool first). */
struct dial {
	uv_getaddrinfo_t req;
	struct wa_loop *loop;
	struct wa_socket *s; /* NULL once the socket stopped waiting */
	struct lws_vhost *vh;
	int port;
	bool tls;
	char addr[TEXT_MAX], path[TEXT_MAX], host[TEXT_MAX], origin[TEXT_MAX];
};

/* Hands the connection to lws; address is an IP literal. */
static void dial(struct wa_socket *s, const struct dial *d, const char *address)
{
	struct lws_client_connect_info ci;
	struct lws *wsi;

	memset(&ci, 0, sizeof(ci));
	ci.context = s->loop->ctx;
	ci.vhost = d->vh;
	ci.address = address;
	ci.port = d->port;
	ci.path = d->path;
	ci.host = d->host; /* also the TLS server name and the name verified */
	/* lws 4.1 itself sends "Pragma: no-cache" and "Cache-Control: no-cache",
	 * as whatsmeow does; the test checks they go out once. */
	ci.origin = d->origin;
	ci.protocol = NULL; /* WhatsApp Web asks for no subprotocol */
	ci.local_protocol_name = protocols[0].name;
	ci.ietf_version_or_minus_one = -1;
	ci.ssl_connection = d->tls ? LCCSCF_USE_SSL : 0;
	ci.opaque_user_data = s;
	ci.retry_and_idle_policy = &no_validity;
	wsi = lws_client_connect_via_info(&ci);
	if (s->state == S_DEAD)
		return; /* failed inside the call; on_close comes from the loop */
	if (!wsi) {
		sock_dead(s, NULL, Y_EIO, "connect failed", 14);
		return;
	}
	s->wsi = wsi;
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct dial *d = req->data;
	struct wa_socket *s = d->s;
	struct addrinfo *a, *pick = res;
	char ip[64], msg[128];
	int n;

	d->loop->nresolving--;
	if (s) {
		s->dial = NULL;
		for (a = res; a; a = a->ai_next) /* IPv4 first */
			if (a->ai_family == AF_INET) {
				pick = a;
				break;
			}
		if (status || !pick || uv_ip_name(pick->ai_addr, ip, sizeof(ip))) {
			n = snprintf(msg, sizeof(msg), "cannot resolve %s: %s", d->addr,
				     uv_strerror(status ? status : UV_EAI_NONAME));
			sock_dead(s, NULL, Y_EIO, msg, (size_t)n);
		} else {
			dial(s, d, ip);
		}
	}
	uv_freeaddrinfo(res);
	free(d);
}

/* A socket stops waiting for its address (abort, loop going away). */
static void undial(struct wa_socket *s)
{
	if (!s->dial)
		return;
	s->dial->s = NULL;
	uv_cancel((uv_req_t *)&s->dial->req);
	s->dial = NULL;
}

int wa_socket_connect(struct wa_loop *l, const struct wa_socket_opts *o,
		      const struct wa_socket_cbs *cbs, void *ud, struct wa_socket **out)
{
	struct addrinfo hints;
	struct wa_frame_enc enc;
	struct in6_addr ipbuf;
	char url[TEXT_MAX];
	const char *prot, *addr, *p;
	struct dial *d;
	struct wa_socket *s;
	int port, rc;
	bool tls, literal;

	if (!o || !o->url || strlen(o->url) >= sizeof(url) || l->dying)
		return Y_EINVAL;
	memcpy(url, o->url, strlen(o->url) + 1);
	if (lws_parse_uri(url, &prot, &addr, &port, &p))
		return Y_EINVAL;
	if (!strcmp(prot, "wss"))
		tls = true;
	else if (!strcmp(prot, "ws"))
		tls = false;
	else
		return Y_EINVAL;
	if (!*addr || port <= 0 || port > 65535 ||
	    (o->origin && strlen(o->origin) >= sizeof(d->origin)))
		return Y_EINVAL;
	rc = wa_frame_enc_init(&enc, o->dict, o->routing, o->routing_len);
	if (rc)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d) {
		wa_frame_enc_release(&enc);
		return Y_ENOMEM;
	}
	d->loop = l;
	d->port = port;
	d->tls = tls;
	snprintf(d->addr, sizeof(d->addr), "%s", addr);
	snprintf(d->path, sizeof(d->path), "/%s", p);
	if ((tls && port == 443) || (!tls && port == 80))
		snprintf(d->host, sizeof(d->host), "%s", addr);
	else
		snprintf(d->host, sizeof(d->host), "%s:%d", addr, port);
	snprintf(d->origin, sizeof(d->origin), "%s", o->origin ? o->origin : ORIGIN_DEFAULT);
	d->vh = client_vhost(l, tls ? o->ca_file : NULL);
	s = d->vh ? sock_new(l, false, o->queue_max, o->frame_max) : NULL;
	if (!s) {
		rc = d->vh ? Y_ENOMEM : Y_EIO;
		free(d);
		wa_frame_enc_release(&enc);
		return rc;
	}
	s->enc = enc;
	if (cbs)
		s->cbs = *cbs;
	s->ud = ud;
	*out = s;

	literal = inet_pton(AF_INET, d->addr, &ipbuf) == 1 || inet_pton(AF_INET6, d->addr, &ipbuf) == 1;
	if (literal) {
		dial(s, d, d->addr);
		free(d);
		return Y_OK;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	d->s = s;
	d->req.data = d;
	if (uv_getaddrinfo(l->uv, &d->req, resolved, d->addr, NULL, &hints)) {
		free(d);
		sock_dead(s, NULL, Y_EIO, "cannot resolve", 14);
		return Y_OK;
	}
	s->dial = d;
	l->nresolving++;
	return Y_OK;
}

/* ---- listener ---- */

int wa_listener_new(struct wa_loop *l, const struct wa_listener_opts *o,
		    wa_listener_accept_cb on_accept, void *ud, struct wa_listener **out)
{
	struct lws_context_creation_info info;
	struct wa_listener *ls;

	if (!o || o->port < 0 || o->port > 65535 || l->dying ||
	    (!o->cert_file) != (!o->key_file))
		return Y_EINVAL;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return Y_ENOMEM;
	ls->loop = l;
	ls->on_accept = on_accept;
	ls->ud = ud;
	ls->queue_max = o->queue_max;
	ls->frame_max = o->frame_max;
	ls->on_other = o->on_other;
	ls->other_ud = o->other_ud;
	ls->path = strdup(o->path ? o->path : PATH_DEFAULT);
	if (!ls->path) {
		free(ls);
		return Y_ENOMEM;
	}
	memset(&info, 0, sizeof(info));
	info.port = o->port;
	info.iface = o->host ? o->host : "127.0.0.1";
	info.protocols = protocols;
	info.user = ls;
	info.vhost_name = "wa-listener";
	info.retry_and_idle_policy = &no_validity;
	info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_DISABLE_IPV6;
	if (o->cert_file) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = o->cert_file;
		info.ssl_private_key_filepath = o->key_file;
		/* HTTP/1.1 only: websocket upgrades and our HTTP handler speak it;
		 * lws' h2 path does not reach on_http's answers */
		info.alpn = "http/1.1";
	}
	ls->vh = lws_create_vhost(l->ctx, &info);
	if (!ls->vh) {
		free(ls->path);
		free(ls);
		return Y_EIO;
	}
	ls->port = lws_get_vhost_listen_port(ls->vh);
	ls->next = l->listeners;
	l->listeners = ls;
	*out = ls;
	return Y_OK;
}

int wa_listener_port(const struct wa_listener *ls)
{
	return ls->port;
}

size_t wa_listener_accepted(const struct wa_listener *ls)
{
	return ls->accepted;
}

/* ---- loop ---- */

int wa_loop_new(uv_loop_t *uv, struct wa_loop **out)
{
	static bool log_set;
	struct lws_context_creation_info info;
	struct wa_loop *l;
	void *loops[1];

	if (!log_set) {
		/* YESAPP_LWS_LOG=<lws level bits> sends lws' own log to stderr */
		const char *e = getenv("YESAPP_LWS_LOG");

		if (e)
			lws_set_log_level(atoi(e), NULL);
		else
			lws_set_log_level(LLL_ERR | LLL_WARN, log_from_lws);
		log_set = true;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return Y_ENOMEM;
	if (uv) {
		l->uv = uv;
	} else {
		if (uv_loop_init(&l->own)) {
			free(l);
			return Y_EIO;
		}
		l->uv = &l->own;
		l->owns = true;
	}
	uv_idle_init(l->uv, &l->sweep);
	l->sweep.data = l;
	uv_idle_init(l->uv, &l->tls_kick);
	l->tls_kick.data = l;

	memset(&info, 0, sizeof(info));
	loops[0] = l->uv;
	info.foreign_loops = loops;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN; /* else lws prefixes http:// */
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.pcontext = &l->ctx;
	info.user = l; /* loop_of */
	info.timeout_secs = 20;
	info.retry_and_idle_policy = &no_validity;
	l->ctx = lws_create_context(&info);
	if (!l->ctx) {
		LOG_ERROR("wa_loop: libwebsockets context failed (is its libuv plugin installed?)",
			  NULL);
		uv_close((uv_handle_t *)&l->sweep, NULL);
		uv_close((uv_handle_t *)&l->tls_kick, NULL);
		uv_run(l->uv, UV_RUN_NOWAIT);
		if (l->owns)
			uv_loop_close(&l->own);
		free(l);
		return Y_EIO;
	}
	*out = l;
	return Y_OK;
}

uv_loop_t *wa_loop_uv(struct wa_loop *l)
{
	return l->uv;
}

int wa_loop_run_once(struct wa_loop *l, int nowait)
{
	return uv_run(l->uv, nowait ? UV_RUN_NOWAIT : UV_RUN_ONCE);
}

size_t wa_loop_socket_count(const struct wa_loop *l)
{
	return l->nlive;
}

static void work_run(uv_work_t *req)
{
	struct wa_work *w = req->data;

	w->work(w);
}

static void work_after(uv_work_t *req, int status)
{
	struct wa_work *w = req->data;

	w->loop->nwork--;
	w->done(w);
}

int wa_loop_work(struct wa_loop *l, struct wa_work *w)
{
	w->loop = l;
	w->req.data = w;
	if (uv_queue_work(l->uv, &w->req, work_run, work_after))
		return Y_EIO;
	l->nwork++;
	return Y_OK;
}

static void count_closing(uv_handle_t *h, void *arg)
{
	if (uv_is_closing(h))
		(*(int *)arg)++;
}

/* Runs the loop until no handle is closing (lws closes asynchronously). */
static void settle(struct wa_loop *l)
{
	for (int i = 0; i < 1000; i++) {
		int closing = 0;

		uv_run(l->uv, UV_RUN_NOWAIT);
		uv_walk(l->uv, count_closing, &closing);
		if (!closing)
			return;
	}
}

void wa_loop_free(struct wa_loop *l)
{
	struct wa_socket *s, *next;

	if (!l)
		return;
	l->dying = true;
	uv_idle_stop(&l->sweep);
	uv_idle_stop(&l->tls_kick);
	l->ntls_pending = 0;
	for (s = l->live; s; s = s->next)
		undial(s);
	/* Close everything, then finish lws' tear-down (its second step is
	 * asked for again once its handles have closed, as lws requires for a
	 * foreign loop). */
	lws_context_destroy(l->ctx);
	for (int i = 0; l->ctx && i < 100; i++) {
		settle(l);
		if (l->ctx)
			lws_context_destroy(l->ctx);
	}
	if (l->ctx)
		LOG_ERROR("wa_loop: libwebsockets did not finish tearing down", NULL);
	while (l->nresolving > 0) /* cancelled or finishing lookups report back */
		uv_run(l->uv, UV_RUN_ONCE);
	while (l->nwork > 0) /* thread-pool jobs cannot be cancelled once running */
		uv_run(l->uv, UV_RUN_ONCE);
	for (s = l->live; s; s = next) {
		next = s->next;
		sock_free(s);
	}
	for (s = l->zombies; s; s = next) {
		next = s->next;
		sock_free(s);
	}
	while (l->clients) {
		struct client_vhost *c = l->clients;

		l->clients = c->next;
		free(c->ca_file);
		free(c);
	}
	while (l->listeners) {
		struct wa_listener *ls = l->listeners;

		l->listeners = ls->next;
		free(ls->path);
		free(ls);
	}
	uv_close((uv_handle_t *)&l->sweep, NULL);
	uv_close((uv_handle_t *)&l->tls_kick, NULL);
	settle(l);
	if (l->owns && uv_loop_close(&l->own))
		LOG_ERROR("wa_loop: uv loop still has handles", NULL);
	free(l);
}
