/*
 * The WhatsApp frame socket: websocket connections carrying 3-byte-length
 * frames (wa/frame.h), on libwebsockets driven by a libuv loop. Owned by the
 * wa/socket layer; it knows nothing of Noise, nodes, HTTP API or storage.
 *
 * struct wa_loop      one libuv loop + one libwebsockets context. Any number
 *                     of sockets and listeners share it.
 * struct wa_socket    one websocket connection (client, or accepted by a
 *                     listener). Binary messages only; frames in and out.
 * struct wa_listener  a websocket server on 127.0.0.1 (or another address)
 *                     accepting upgrades on one path (e.g. /ws/chat).
 *
 * Threading: everything runs on the loop's thread; no call is thread-safe.
 *
 * Callback rules (as libuv's): if a call that takes callbacks returns an
 * error, none of them is ever called; if it returns 0, on_close is called
 * exactly once, always from the loop (never from inside the call itself), and
 * nothing is called after it. The library owns every wa_socket and frees it
 * right after on_close returns; the pointer is invalid from then on. Sockets
 * are never freed inside a callback of their own: close and abort only mark
 * them, and the memory goes after the loop iteration.
 */
#ifndef YESAPP_WA_SOCKET_H
#define YESAPP_WA_SOCKET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct wa_loop;
struct wa_socket;
struct wa_listener;

/* ---- loop ---- */

/*
 * Creates a loop. uv: the caller's libuv loop (borrowed; it must outlive the
 * wa_loop), or NULL to have wa_loop own one (run it with wa_loop_run).
 * Y_EIO if libwebsockets cannot start (e.g. its libuv plugin is missing),
 * Y_ENOMEM.
 */
int wa_loop_new(uv_loop_t *uv, struct wa_loop **out);

/* The libuv loop (the caller's or the owned one). */
uv_loop_t *wa_loop_uv(struct wa_loop *l);

/* Runs the loop once: uv_run(uv, UV_RUN_ONCE), or UV_RUN_NOWAIT if nowait.
 * Returns uv_run's result (non-zero: more work pending). Not from a callback. */
int wa_loop_run_once(struct wa_loop *l, int nowait);

/*
 * Closes every socket and listener still open (their on_close is not called),
 * tears libwebsockets down (running the uv loop until it is finished) and frees
 * the loop; closes the uv loop only if it owns it. Must not be called from a
 * callback of the loop. NULL is a no-op.
 */
void wa_loop_free(struct wa_loop *l);

/* Live sockets (open, connecting or closing; not yet handed to on_close). */
size_t wa_loop_socket_count(const struct wa_loop *l);

/*
 * Work off the loop: w->work(w) runs on libuv's thread pool, then
 * w->done(w) on the loop. The caller owns w (it must stay valid until done
 * runs) and sets work and done; the other fields are private. An owner that
 * goes away meanwhile cannot cancel a running job: it marks the job so done
 * only frees it. wa_loop_free waits for every job still out. Y_EIO if libuv
 * refuses (done then never runs).
 */
struct wa_work {
	void (*work)(struct wa_work *w); /* on a pool thread: touch only w's data */
	void (*done)(struct wa_work *w); /* on the loop */
	uv_work_t req;                   /* private */
	struct wa_loop *loop;            /* private */
};
int wa_loop_work(struct wa_loop *l, struct wa_work *w);

/* ---- sockets ---- */

struct wa_socket_cbs {
	/* The websocket is up (client: upgrade answered; server: accepted). */
	void (*on_open)(struct wa_socket *s, void *ud);
	/* One whole frame (payload without the length). p is valid only during
	 * the call. Frames keep coming until on_close or wa_socket_close/abort. */
	void (*on_frame)(struct wa_socket *s, const uint8_t *p, size_t n, void *ud);
	/* After wa_socket_send_frame returned Y_EBUSY: the write queue has drained
	 * to at most half its cap; sending may resume. Optional. */
	void (*on_drain)(struct wa_socket *s, void *ud);
	/*
	 * Called once at the end. err: 0 if closed through wa_socket_close or
	 * wa_socket_abort; Y_ECLOSED if the peer closed; Y_EIO if the connection
	 * failed (refused, reset, TLS, upgrade refused, timeout); Y_EINVAL,
	 * Y_ETOOBIG, Y_EUNSUPPORTED if the peer broke the framing (see frame.h);
	 * Y_ENOMEM. reason: text for logs (never NULL), valid during the call.
	 */
	void (*on_close)(struct wa_socket *s, int err, const char *reason, void *ud);
};

struct wa_socket_opts {
	const char *url;      /* ws://host[:port]/path or wss://...; required */
	const char *ca_file;  /* wss: PEM file of CAs to trust; NULL: system CAs */
	const char *origin;   /* NULL: "https://web.whatsapp.com" */
	int dict;             /* intro header dictionary byte (2: Baileys 6, 3: whatsmeow) */
	const uint8_t *routing; /* optional routing info for the ED prefix (copied) */
	size_t routing_len;
	size_t queue_max;     /* write queue cap in bytes; 0: WA_SOCKET_QUEUE_DEFAULT */
	size_t frame_max;     /* largest frame accepted; 0: WA_FRAME_MAX */
};

#define WA_SOCKET_QUEUE_DEFAULT ((size_t)4 << 20)

/*
 * Starts a client connection. A host name is first resolved on libuv's
 * thread pool (IPv4 preferred), so the loop never blocks on DNS; the name
 * stays in the Host header and is what TLS verifies. cbs is copied; ud is
 * passed to the callbacks.
 * Returns 0 (then on_close runs exactly once, even if the connection fails
 * at once) or Y_EINVAL (bad URL or options), Y_ENOMEM; *out is set on 0.
 * Frames may be sent before on_open: they wait in the queue.
 */
int wa_socket_connect(struct wa_loop *l, const struct wa_socket_opts *o,
		      const struct wa_socket_cbs *cbs, void *ud, struct wa_socket **out);

/*
 * Queues one frame (copied; the header and, on a client's first frame, the
 * intro are added). Returns 0, or Y_EBUSY when the queue would exceed its cap
 * (nothing queued; on_drain follows), Y_EINVAL (n == 0), Y_ETOOBIG
 * (n > WA_FRAME_MAX), Y_ECLOSED (closing or closed), Y_ENOMEM. A frame larger
 * than the cap is accepted when the queue is empty.
 */
int wa_socket_send_frame(struct wa_socket *s, const uint8_t *p, size_t n);

/* Queues bytes to go out verbatim as one binary websocket message (no frame
 * header): for simulators and tests that need odd message shapes. Same
 * returns as wa_socket_send_frame. */
int wa_socket_send_raw(struct wa_socket *s, const uint8_t *p, size_t n);

/* Bytes waiting in the write queue. */
size_t wa_socket_queued(const struct wa_socket *s);

/* Graceful close: sends what is queued, then a websocket close (1000), and
 * waits (reading and dropping what still arrives) for the peer's close, at
 * most a few seconds; on_close(err 0) follows. No more frames are delivered.
 * Idempotent. */
void wa_socket_close(struct wa_socket *s);

/* Drops the connection now without flushing; on_close(err 0) follows.
 * Idempotent; may follow wa_socket_close. */
void wa_socket_abort(struct wa_socket *s);

/* Replaces the callbacks and user data (e.g. a listener's on_accept adopts
 * the socket). cbs is copied. */
void wa_socket_set_cbs(struct wa_socket *s, const struct wa_socket_cbs *cbs, void *ud);

/* Server side: the Origin header and path of the upgrade request ("" if none),
 * the intro's dictionary byte (-1 until the first frame arrived) and the ED
 * routing info (NULL, 0 if none). Pointers live as long as the socket. */
const char *wa_socket_origin(const struct wa_socket *s);
const char *wa_socket_path(const struct wa_socket *s);
int wa_socket_dict(const struct wa_socket *s);
const uint8_t *wa_socket_routing(const struct wa_socket *s, size_t *len);

/* ---- listener ---- */

struct lws;

/*
 * Optional, for a listener that serves more than its websockets on the same
 * port (the simulator's plain HTTP, src/sim/sim_http.c): every
 * libwebsockets callback of its connections that are not its websockets,
 * as a libwebsockets protocol callback (reason: an enum
 * lws_callback_reasons; user: what lws_set_wsi_user set, else NULL), with
 * the listener's other_ud. Runs on the loop.
 */
typedef int (*wa_listener_other_cb)(void *ud, struct lws *wsi, int reason, void *user,
				    void *in, size_t len);

struct wa_listener_opts {
	const char *host;     /* address to bind; NULL: "127.0.0.1" */
	int port;             /* 0: ephemeral (see wa_listener_port) */
	const char *path;     /* upgrade path; NULL: "/ws/chat" */
	const char *cert_file; /* PEM certificate chain and key: both set = TLS (wss) */
	const char *key_file;
	size_t queue_max;     /* per accepted socket; 0: WA_SOCKET_QUEUE_DEFAULT */
	size_t frame_max;     /* 0: WA_FRAME_MAX */
	/* Optional: what is not a websocket upgrade on path; without it plain
	 * requests are answered 404. */
	wa_listener_other_cb on_other;
	void *other_ud;
};

/*
 * Called for each accepted websocket (after the upgrade on the right path).
 * The socket starts with no callbacks but this one's user data: call
 * wa_socket_set_cbs to receive its frames and its on_close. If no on_close is
 * set, the socket is still freed by the library when it closes.
 */
typedef void (*wa_listener_accept_cb)(struct wa_listener *ls, struct wa_socket *s, void *ud);

/* Starts listening. Y_EIO if the address cannot be bound or TLS files fail,
 * Y_EINVAL, Y_ENOMEM. */
int wa_listener_new(struct wa_loop *l, const struct wa_listener_opts *o,
		    wa_listener_accept_cb on_accept, void *ud, struct wa_listener **out);

/* The port actually bound. */
int wa_listener_port(const struct wa_listener *ls);

/* Connections accepted so far. */
size_t wa_listener_accepted(const struct wa_listener *ls);

#endif
