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
 *
 * It also owns a third thread, the committer (service/gcommit.h):
 * send_text_async (an HTTP thread) checks the session and hands a plain
 * text's row to it; it commits every row waiting in one transaction, then
 * queues their CMD_SEND and answers their callers (group commit).
 *
 * Messages: send_text (an HTTP thread) stores the message pending with its
 * WhatsApp id fixed, commits, then queues CMD_SEND. Each session has one
 * FIFO on the loop, drained at rate_per_min into the client (at most
 * ENGINE_INFLIGHT_MAX whose "sent" is not yet committed, acked or not:
 * so a crash can send at most that many again, under their same ids); a
 * message whose connection went before the server's ack goes first again
 * under the same id. Status
 * changes (sent, delivered, read, failed) and received messages go to the
 * worker as jobs (J_MSG_STATUS, J_MSG_IN), never to SQLite from the loop.
 * A (re)started session's pending messages are loaded with its credentials.
 * Signal state lives in the store behind a cache (service/signal_db.h)
 * when db_url is set, else in memory (signal_store_for in engine.c).
 */
#ifndef YESAPP_SERVICE_ENGINE_H
#define YESAPP_SERVICE_ENGINE_H

#include <stdint.h>

#include "service/media.h"
#include "service/session.h"
#include "store/store.h"
#include "wa/payload.h"

struct engine;

struct engine_opts {
	const char *url;          /* WA_WS_URL */
	const char *ca_file;      /* WA_CA_FILE or NULL */
	const uint8_t *root_pub;  /* 32 bytes (WA_ROOT_KEY) or NULL: WhatsApp's */
	struct wa_version version;/* 0.0.0: wa_payload_version */
	unsigned connects_per_sec;/* 0: 1000 */
	/* reconnect policy (0: the client's defaults) */
	uint64_t backoff_min_ms, backoff_max_ms;
	unsigned max_attempts;
	/* IDLE_DISCONNECT_HOURS in ms: a connected session unused this long is
	 * disconnected (status disconnected, reason "idle") and started again
	 * by its next use (svc_session_touch). 0: never. */
	int64_t idle_ms;
	/* Outgoing messages: RATE_LIMIT_MESSAGES per minute per session (a
	 * token bucket holding a minute's worth; 0 = unlimited) and QUEUE_MAX
	 * waiting per session before sends are refused (0: 1000). */
	unsigned rate_per_min;
	unsigned queue_max;
	/* DATABASE_URL: the engine opens its own read connection on it for the
	 * Signal state cache (service/signal_db.h), whose writes the worker
	 * batches. NULL: Signal state in memory only (lost at restart). */
	const char *db_url;
	/* Received media is downloaded there (service/media.h); NULL: media
	 * rows are stored pending and downloaded at a later start. Borrowed. */
	struct media_svc *media;
	/* DATA_DIR: media to send is kept in data_dir/media/out until acked
	 * (service/media_send.h). NULL: media cannot be sent (Y_ESTATE). */
	const char *data_dir;
	/* MEDIA_URL_ALLOW_PRIVATE: media URLs may name non-public addresses */
	int media_url_allow_private;
	/* MEDIA_RETRY_TIMEOUT_MS: a media retry unanswered this long by our
	 * phone fails the message media_expired. 0: 30 s. */
	uint64_t media_retry_ms;
	/* MEDIA_BACKOFF_MS for the upload thread (media_up_opts). 0: 1 s. */
	long media_backoff_ms;
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
