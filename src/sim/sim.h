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
	 * changes and when sim_run returns; NULL: memory only */
	const char *state_file;
	/* "P.S.T": clients whose ClientPayload appVersion is lower get
	 * <failure reason="405"/> (client outdated); NULL: no check. A
	 * malformed value fails sim_new with Y_EINVAL. */
	const char *min_version;
	/* also serve /ws/chat (and /sim) over TLS on a second port, with the
	 * media host's certificate (the same CA) */
	bool tls;
};

/* Creates the simulator and starts listening (keys are generated here).
 * Y_EIO if the port cannot be bound, Y_ENOMEM. Caller frees with sim_free. */
int sim_new(const struct sim_opts *o, struct sim **out);

/* The bound port. */
int sim_port(const struct sim *s);

/* Runs the loop until sim_stop is called (or SIGINT/SIGTERM in sim_main). */
int sim_run(struct sim *s);

/* Asks sim_run to return after the current iteration. */
void sim_stop(struct sim *s);

/* Closes every connection and frees everything. NULL is a no-op. */
void sim_free(struct sim *s);

/* The `yesapp sim [--listen HOST:PORT] [--state FILE] [--certs DIR]
 * [--min-version P.S.T] [--tls] [--log-level L]` subcommand; argv
 * starts after "sim". Returns the process exit code. */
int sim_main(int argc, char **argv);

#endif
