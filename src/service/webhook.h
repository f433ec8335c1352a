/*
 * Webhook delivery (docs/webhooks.md): one thread of its own drives libcurl
 * multi, so a slow or dead receiver never slows the WhatsApp loop, the
 * engine's worker or an HTTP thread. Everything it sends comes from the
 * store's outbox (store.h): it fans new events out into deliveries (the
 * session's webhook, the global WEBHOOK_URL), sends the oldest pending one
 * of each (session, URL) so that one URL gets a session's events in order,
 * and records every attempt (webhook_log) with the delivery's new state in
 * one transaction. Pending deliveries survive a restart and resume.
 *
 * Retries: attempt 1 at once, then after backoff_ms, 2 x backoff_ms, ...
 * (`retries` more); a 2xx ends it, anything else (non-2xx, timeout,
 * refused, TLS) is a failure; after the last one the delivery is failed,
 * logged at error level and counted, and POST .../deliveries/{eventId}/retry
 * queues it again. Redirects are not followed; response bodies are read up
 * to WEBHOOK_BODY_MAX bytes; proxies come from the usual environment.
 *
 * Delivery is at least once: a crash between a receiver's 2xx and our
 * record of it sends that event again after the restart, with the same
 * X-YesApp-Event-Id, so receivers drop repeats by that id.
 *
 * Threads: webhook_start/stop from the thread that owns the server;
 * webhook_wake from any thread (it only signals; the store's event hook
 * calls it with the store's lock held).
 */
#ifndef YESAPP_SERVICE_WEBHOOK_H
#define YESAPP_SERVICE_WEBHOOK_H

#include <stdint.h>

#include "service/session.h"
#include "store/store.h"

#define WEBHOOK_BODY_MAX (64 * 1024) /* response bytes read at most */
#define WEBHOOK_INFLIGHT_MAX 32      /* requests under way at once, overall */
#define WEBHOOK_HOST_CONNS 4         /* connections per receiver host */

struct webhook;

struct webhook_opts {
	const char *url;             /* the global webhook, NULL = none (copied) */
	const char *secret;          /* its HMAC key, NULL = unsigned (copied) */
	const char *events;          /* its filter: comma list, NULL = all (copied) */
	int retries;                 /* attempts after the first */
	int backoff_ms;              /* before the first retry; doubles */
	int timeout_ms;              /* per attempt */
	const char *ca_file;         /* extra CA for https receivers, or NULL (copied) */
};

/* Starts the thread. st and svc are borrowed and must outlive it (the
 * service gives each session's webhook and secret). Y_ENOMEM, Y_EIO. */
int webhook_start(struct store *st, struct svc *svc, const struct webhook_opts *o,
		  struct webhook **out);
/* Something is new in the outbox (or a delivery was queued again). */
void webhook_wake(void *w);
/* Stops the thread: requests under way are dropped unanswered (their
 * deliveries stay pending and go again at the next start). NULL: no-op. */
void webhook_stop(struct webhook *w);
/* Deliveries that ended failed since start (for logs and tests). */
uint64_t webhook_failed(struct webhook *w);

/* ---- exposed for unit tests ---- */
/* "sha256=" and the lowercase hex HMAC-SHA256 of body under secret. */
#define WEBHOOK_SIG_LEN (7 + 64 + 1)
void webhook_sign(const char *secret, const char *body, size_t len, char out[WEBHOOK_SIG_LEN]);
/* The JSON body of an event: {event, eventId, sessionId, timestamp
 * (ts_s, the attempt's time in seconds), occurredAt, ...its fields}; NULL
 * when out of memory or the event's data is not an object. Caller frees. */
char *webhook_body(const struct store_event *ev, int64_t ts_s);

#endif
