/*
 * The connection pipe: one WhatsApp connection as a stream of nodes. It
 * stacks the layers of src/wa/ (websocket frames, the Noise handshake, the
 * binary node codec) and adds what every user of a connection needs on top:
 * iq ids, and waiters for iq answers with deadlines.
 *
 * Two roles. The initiator (our client, wa_conn_connect) connects, runs the
 * Noise XX handshake as the initiator (verifying the server's certificate
 * chain against a trusted root) and sends the given ClientPayload in
 * ClientFinish. The responder (the simulator, wa_conn_accept) adopts a
 * socket a wa_listener accepted, answers ClientHello with its static key
 * and certificate chain, and hands the ClientPayload it reads from
 * ClientFinish to on_payload.
 *
 * Threading: everything runs on the wa_loop's thread; nothing is
 * thread-safe. Callback rules are the socket's (wa/socket.h): if
 * wa_conn_connect returns an error no callback is ever called; otherwise
 * on_close runs exactly once, from the loop, and the wa_conn is freed right
 * after it returns. Every waiter still pending then is called first with
 * Y_ECLOSED. A wa_conn is never freed inside one of its own callbacks.
 *
 * Memory: a connection holds its socket, the Noise transport keys, and one
 * small record per pending iq; nothing is sized for the worst case.
 */
#ifndef YESAPP_WA_CONN_H
#define YESAPP_WA_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "wa/crypto.h"
#include "wa/node.h"
#include "wa/socket.h"

struct wa_conn;

struct wa_conn_cbs {
	/* Initiator: the handshake is done and the ClientPayload is on its
	 * way; nodes may be sent from now on. Optional. */
	void (*on_ready)(struct wa_conn *c, void *ud);
	/* One received node (not an iq answer a waiter took). The tree is
	 * borrowed for the call. Return 0, or an error to close the
	 * connection (on_close then gets that error). */
	int (*on_node)(struct wa_conn *c, const struct wa_node *n, void *ud);
	/* The end, exactly once. err as wa_socket_cbs.on_close, plus Y_ECRYPTO
	 * (handshake or transport decryption failed, e.g. an untrusted
	 * certificate), Y_EINVAL (undecodable frame or node) or what on_node
	 * returned. reason: text for logs, valid during the call. */
	void (*on_close)(struct wa_conn *c, int err, const char *reason, void *ud);
	/* Responder: ClientFinish was read; p, n are the decrypted
	 * ClientPayload bytes (borrowed for the call) and wa_conn_peer_static
	 * the client's Noise key. Nodes may be sent from now on. Return 0, or
	 * an error to close the connection. Optional. */
	int (*on_payload)(struct wa_conn *c, const uint8_t *p, size_t n, void *ud);
};

struct wa_conn_opts {
	struct wa_socket_opts sock;        /* url, ca_file, origin, dict, ... */
	const uint8_t *root_pub;           /* 32 bytes; NULL: WhatsApp's root */
	const struct wa_keypair *noise_key;/* our static Noise key (borrowed during the call) */
	const uint8_t *payload;            /* serialized ClientPayload (copied) */
	size_t payload_len;
	/* set as the log context (ylog_set_session) around every callback;
	 * borrowed: must outlive the connection or its wa_conn_drop. NULL: none */
	const char *log_session;
};

/* Starts a connection. 0 (then on_close runs once) or Y_EINVAL / Y_ENOMEM. */
int wa_conn_connect(struct wa_loop *l, const struct wa_conn_opts *o, const struct wa_conn_cbs *cbs,
		    void *ud, struct wa_conn **out);

struct wa_conn_accept_opts {
	/* the server's static Noise key and the serialized CertChain that
	 * certifies it; borrowed: they must outlive the connection */
	const struct wa_keypair *static_key;
	const uint8_t *cert_chain;
	size_t cert_len;
	size_t payload_max;                /* ClientPayload cap; 0: 64 KiB */
	const char *log_session;           /* as wa_conn_opts.log_session */
};

/*
 * Responder: adopts ws, a socket a wa_listener's on_accept was given (its
 * callbacks are replaced; the dictionary comes from its intro). 0 (then
 * on_close runs once) or Y_EINVAL / Y_ENOMEM (ws is left as it was).
 */
int wa_conn_accept(struct wa_loop *l, struct wa_socket *ws, const struct wa_conn_accept_opts *o,
		   const struct wa_conn_cbs *cbs, void *ud, struct wa_conn **out);

/* The peer's static Noise key (initiator: the server's; responder: the
 * client's), valid once on_ready / on_payload ran. */
const uint8_t *wa_conn_peer_static(const struct wa_conn *c);
/* The node dictionary (2 or 3); responder: 0 before the first frame. */
int wa_conn_dict(const struct wa_conn *c);

/*
 * A connection with no socket, already open, for tests and fuzz targets
 * that drive a connection's owner without a peer: nodes sent are encoded
 * (with dictionary dict, 2 or 3) and discarded; iq waiters are kept (and
 * wa_conn_expire fails them as usual); close and abort only mark it closed;
 * on_close never runs. The owner frees it with wa_conn_drop, which frees it
 * at once without calling the waiters left.
 */
int wa_conn_new_detached(int dict, struct wa_conn **out);

/* Encodes, encrypts and queues one node. Y_ESTATE before on_ready,
 * Y_ECLOSED when closing, Y_EBUSY on backpressure (wa_socket_send_frame),
 * codec errors. The node is borrowed. */
int wa_conn_send(struct wa_conn *c, const struct wa_node *n);

/* The two halves of wa_conn_send, for an owner that holds frames back
 * (the simulator's latency fault): seal encodes and encrypts n (borrowed)
 * into out, which must then go out with wa_conn_send_frame in the order
 * sealed (the Noise counter advanced). Same returns as wa_conn_send. */
int wa_conn_seal(struct wa_conn *c, const struct wa_node *n, struct ybuf *out);
int wa_conn_send_frame(struct wa_conn *c, const uint8_t *p, size_t n);

/* A fresh iq id for this connection (unique within it), written into out. */
#define WA_CONN_ID_LEN 24
void wa_conn_new_id(struct wa_conn *c, char out[WA_CONN_ID_LEN]);

/*
 * Called once with the answer to an iq: err 0 and the answer node (type
 * "result"), Y_EINVAL and the node for type "error", Y_ETIMEOUT (n NULL)
 * once the deadline passed (checked by wa_conn_expire), Y_ECLOSED (n NULL)
 * when the connection ends first. The node is borrowed for the call.
 */
typedef void (*wa_conn_iq_cb)(struct wa_conn *c, int err, const struct wa_node *n, void *ud);

/*
 * Sends iq node `n` (borrowed) whose "id" attribute the caller set (e.g.
 * with wa_conn_new_id) and waits for the answer with that id. cb may be
 * NULL (fire and forget, the answer is dropped). timeout_ms 0: no
 * deadline. On an error return cb is never called.
 */
int wa_conn_iq(struct wa_conn *c, const struct wa_node *n, uint64_t timeout_ms, wa_conn_iq_cb cb,
	       void *ud);

/* Fails the waiters whose deadline is at or before now_ms (uv_now) with
 * Y_ETIMEOUT. The owner calls it from a timer it already has. */
void wa_conn_expire(struct wa_conn *c, uint64_t now_ms);

/* Pending iq waiters. */
size_t wa_conn_pending(const struct wa_conn *c);

/* Milliseconds (uv_now) of the last frame received; 0 before any. */
uint64_t wa_conn_last_rx(const struct wa_conn *c);

/* Graceful close / immediate abort, as wa_socket_close / wa_socket_abort. */
void wa_conn_close(struct wa_conn *c);
void wa_conn_abort(struct wa_conn *c);
/* Aborts and forgets the owner: no callback of any kind (waiters included)
 * runs after this call, so the owner may be freed at once. The wa_conn
 * frees itself when its socket is gone. */
void wa_conn_drop(struct wa_conn *c);
/* As wa_conn_drop, but what is queued still goes out first (a graceful
 * close): for a last answer before giving up. */
void wa_conn_drop_flush(struct wa_conn *c);
/* Frees c now, calling nothing (waiters included), and aborts its socket,
 * which the loop frees: for an owner tearing down before wa_loop_free,
 * which never calls on_close. */
void wa_conn_free(struct wa_conn *c);

#endif
