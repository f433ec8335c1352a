/*
 * `yesapp sim`: a local WhatsApp server (simulator) that unmodified clients
 * (Baileys 6 and 7, our own client) connect to. One libuv loop serves, on one
 * port, the websocket /ws/chat (Noise, binary nodes) and a JSON control API
 * under /sim (see docs in sim_api.c). State is in memory, optionally saved
 * to a file (sim_state.c).
 *
 * Owned by src/sim/. Nothing here is thread-safe: everything runs on the
 * loop's thread.
 */
#ifndef YESAPP_SIM_H
#define YESAPP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim;

struct sim_opts {
	const char *host; /* address to bind; NULL: 127.0.0.1 */
	int port;         /* 0: ephemeral */
	/* media TLS: load ca.pem, cert.pem, key.pem from here, or make them
	 * here when none exists; NULL: a fresh CA in a temp dir */
	const char *certs_dir;
	/* durable state: loaded at start when the file exists (a corrupt one
	 * fails sim_new with Y_EINVAL), saved atomically each second while it
	 * changes (at most 1/20 of the loop's time: a state of thousands of
	 * accounts is saved less often) and when sim_run returns; NULL: memory
	 * only */
	const char *state_file;
	/* "P.S.T": clients whose ClientPayload appVersion is lower get
	 * <failure reason="405"/> (client outdated); NULL: no check. A
	 * malformed value fails sim_new with Y_EINVAL. */
	const char *min_version;
	/* also serve /ws/chat (and /sim) over TLS on a second port, with the
	 * media host's certificate (the same CA) */
	bool tls;
	/* make no TLS listener yet: sim_thread_run starts the media host
	 * (see there why); not with tls */
	bool defer_tls;
};

/* Creates the simulator and starts listening (keys are generated here).
 * Y_EIO if the port cannot be bound, Y_ENOMEM. Caller frees with sim_free. */
int sim_new(const struct sim_opts *o, struct sim **out);

/* The bound port. */
int sim_port(const struct sim *s);

/* Runs the loop until sim_stop is called (or SIGINT/SIGTERM, whose handlers
 * only sim_main installs). */
int sim_run(struct sim *s);

/* Asks sim_run to return after the current iteration. */
void sim_stop(struct sim *s);

/* Closes every connection and frees everything. NULL is a no-op. */
void sim_free(struct sim *s);

/* ---- in-process (sim_thread.c): `yesapp serve --sandbox` ---- */

/*
 * A simulator on its own thread, with its own loop, inside a process that
 * does other work (the REST server). The thread owns the simulator: no
 * other thread touches its state. Calls below are thread-safe unless
 * noted; each hands its work to the loop thread (a mutex-guarded list woken
 * by uv_async) and waits for the answer, bounded by a timeout.
 */
struct sim_thread;

/* How a client reaches and trusts it; fixed for the simulator's life. */
struct sim_thread_info {
	char ws_url[96];      /* ws://127.0.0.1:PORT/ws/chat */
	char control_url[96]; /* http://127.0.0.1:PORT/sim (the control API) */
	uint8_t root_pub[32]; /* the Noise root public key */
	char root_hex[65];    /* the same in hex */
};

/* Creates the simulator as sim_new does (o is borrowed for the call;
 * o->state_file must outlive the thread), bound but not yet served, and
 * without its TLS media host. Errors as sim_new. The caller starts it with
 * sim_thread_run and ends it with sim_thread_stop (run or not). */
int sim_thread_new(const struct sim_opts *o, struct sim_thread **out);

/* Starts the media host (HTTPS) and runs the loop on a new thread, without
 * signal handlers. Why two steps: libwebsockets 4.1 registers its OpenSSL
 * ex-data indexes again each time a context is created (wa_loop_new), and
 * the TLS contexts of vhosts made before that are then never freed (ASan
 * reports the media host's SSL_CTX and its CA store leaked at exit). So a
 * process makes its other wa_loops between the two calls. Y_EIO, Y_ENOMEM
 * (then only sim_thread_stop is valid). */
int sim_thread_run(struct sim_thread *t);

/* sim_thread_new then sim_thread_run. */
int sim_thread_start(const struct sim_opts *o, struct sim_thread **out);

/* Read-only, valid until sim_thread_stop. */
const struct sim_thread_info *sim_thread_info(const struct sim_thread *t);

/* The phone of `phone` ("+" optional, 1..15 digits; its account is created
 * when missing) scans `qr`: the companion showing it gets pair-success.
 * Waits up to timeout_ms (<= 0: not at all, Y_ETIMEOUT at once; the job
 * still runs on the loop). On success writes the new device JID into jid.
 * Y_EINVAL (bad phone; or a malformed QR, or keys that do not match the
 * connection showing it), Y_ENOTFOUND (no connection shows that ref now),
 * Y_ETIMEOUT (the loop did not answer in time; the scan may still happen),
 * Y_ECLOSED (stopping), Y_ENOMEM. */
int sim_thread_scan(struct sim_thread *t, const char *phone, const char *qr, char *jid,
		    size_t jid_cap, int timeout_ms);

/* Answers pending calls, stops the loop (the state file is saved), joins
 * the thread and frees everything. Call it once no thread will use t
 * again (a call racing with it fails with Y_ECLOSED). NULL is a no-op. */
void sim_thread_stop(struct sim_thread *t);

/* The `yesapp sim [--listen HOST:PORT] [--state FILE] [--certs DIR]
 * [--min-version P.S.T] [--tls] [--log-level L]` subcommand; argv
 * starts after "sim". Returns the process exit code. */
int sim_main(int argc, char **argv);

#endif
