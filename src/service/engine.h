/*
 * The WhatsApp engine: the glue between the session service (session.h)
 * and the clients (src/client/). It owns two threads:
 *
 *   the loop thread   one libuv loop driving every WhatsApp socket and every
 *                     client (never a thread per session). Nothing on it
 *                     touches SQLite or waits on a lock held across SQLite.
 *   the worker        applies what the loop reports (status, QR, credentials,
 *                     prekeys) to the store and the registry, and loads
 *                     credentials for the loop. Jobs are taken in batches.
 *
 * HTTP threads call the svc_engine_ops (through svc_*): each queues a
 * command and returns at once; the loop takes commands from a mutex-guarded
 * list woken by uv_async; the one exception, pair_code, then waits (up to
 * its timeout, on a condition variable) for the loop to hand the code back
 * (the loop never waits for it). The loop hands work to the worker the same way
 * (list + condition variable). Completions the loop waits for (prekeys
 * kept) come back as commands. Every queue is FIFO, so what one session
 * reports is applied in order.
 *
 * At start every session that was linked or linking (status pending, qr,
 * connecting, connected, disconnected) is started again; connects are
 * paced by the client pool's limit.
 */
#ifndef YESAPP_SERVICE_ENGINE_H
#define YESAPP_SERVICE_ENGINE_H

#include <stdint.h>

#include "service/session.h"
#include "store/store.h"
#include "wa/payload.h"

struct engine;

struct engine_opts {
	const char *url;          /* WA_WS_URL */
	const char *ca_file;      /* WA_CA_FILE or NULL */
	const uint8_t *root_pub;  /* 32 bytes (WA_ROOT_KEY) or NULL: WhatsApp's */
	struct wa_version version;/* 0.0.0: wa_payload_version */
	unsigned connects_per_sec;/* 0: 500 */
	/* reconnect policy (0: the client's defaults) */
	uint64_t backoff_min_ms, backoff_max_ms;
	unsigned max_attempts;
	/* IDLE_DISCONNECT_HOURS in ms: a connected session unused this long is
	 * disconnected (status disconnected, reason "idle") and started again
	 * by its next use (svc_session_touch). 0: never. */
	int64_t idle_ms;
};

/* Starts the threads, attaches itself to svc (svc_set_engine) and starts
 * the sessions to restore. store and svc are borrowed and must outlive it. */
int engine_new(struct store *st, struct svc *svc, const struct engine_opts *o,
	       struct engine **out);
/* Stops every client (statuses are left as they are, so the next start
 * restores the same sessions), finishes the worker's queue, joins both
 * threads. Call before svc_free. NULL is a no-op. */
void engine_free(struct engine *e);

/* Clients alive on the loop (for tests and metrics; approximate while
 * commands are in flight). */
size_t engine_client_count(struct engine *e);

#endif
