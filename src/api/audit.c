/*
 * The audit log's writer. The HTTP threads' on_done hook (api_audit_hook)
 * copies a row into a fixed ring under a mutex (no allocation, no I/O) and
 * a thread of its own writes what has gathered to the store in one
 * transaction every AUDIT_FLUSH_MS or as soon as the ring is half full, so
 * a request never waits on the database for its audit row. Rows that find
 * the ring full are counted, logged and dropped (the ring holds
 * AUDIT_RING rows: seconds of a flood of writes).
 *
 * What is audited: every request that needs credentials and is not a read
 * (any method but GET, HEAD, OPTIONS), whatever its answer (a 403 as much
 * as a 201), and every sign-in attempt. GET /api/v1/audit (api/users.c)
 * flushes first, so it shows the requests before it.
 */
#include "api/api.h"
#include "api/validate.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIT_RING 1024
#define AUDIT_FLUSH_MS 200

struct audit_row {
	int64_t at;
	int status;
	char actor[HTTP_KEY_ID_LEN + 8];
	char method[16];
	char route[128];
	char session_id[STORE_ID_LEN];
	char ip[64];
};

struct api_audit {
	struct store *st;
	pthread_mutex_t mu;
	pthread_cond_t cv, flushed;
	pthread_t thread;
	int stop;
	uint64_t head, tail;       /* rows [tail, head) wait in ring */
	uint64_t written;          /* rows handed to the store (or dropped by it) */
	uint64_t dropped;
	struct audit_row ring[AUDIT_RING];
	struct audit_row batch[AUDIT_RING];
};

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* Queues one row: actor (NULL: the caller, "key:<id>" or "user:<id>"). */
static void queue_row(struct api_audit *a, struct http_req *req, const char *actor, int status)
{
	const struct http_ident *who = http_req_ident(req);
	const char *route = http_req_route_pattern(req);
	struct audit_row *r;

	pthread_mutex_lock(&a->mu);
	if (a->head - a->tail >= AUDIT_RING) {
		if (a->dropped++ % 1000 == 0)
			LOG_WARN("audit: ring full, rows dropped", "{s:I}", "dropped",
				 (json_int_t)a->dropped);
		pthread_mutex_unlock(&a->mu);
		return;
	}
	r = &a->ring[a->head % AUDIT_RING];
	r->at = clock_now_ms();
	r->status = status;
	if (actor)
		copy(r->actor, sizeof(r->actor), actor);
	else
		snprintf(r->actor, sizeof(r->actor), "%s%s",
			 who->app_flags & API_IDENT_COOKIE ? "" : "key:", who->id);
	copy(r->method, sizeof(r->method), http_req_method_name(req));
	copy(r->route, sizeof(r->route), route);
	r->session_id[0] = '\0';
	if (route && !strncmp(route, "/api/v1/sessions/{id}", 21)) {
		size_t len = 0;
		const char *p = http_req_param(req, 0, &len);

		if (p && !api_uuid_parse(p, len, r->session_id))
			r->session_id[0] = '\0';
	} else if (route && !strcmp(route, "/api/v1/sessions")) { /* the one it created */
		const char *note = http_req_note(req);

		if (!api_uuid_parse(note, strlen(note), r->session_id))
			r->session_id[0] = '\0';
	}
	copy(r->ip, sizeof(r->ip), http_req_client_ip(req));
	a->head++;
	if (a->head - a->tail >= AUDIT_RING / 2)
		pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

void api_audit_hook(void *app, struct http_req *req)
{
	struct api_ctx *ctx = app;
	const char *route = http_req_route_pattern(req);
	int m = http_req_method(req);

	/* sign-ins are recorded by their handler (api_audit_signin), which
	 * knows whose they were */
	if (!ctx->audit || !route || !http_req_ident(req) || m == HTTP_GET || m == HTTP_HEAD ||
	    m == HTTP_OPTIONS || !strcmp(route, "/api/v1/auth/login"))
		return;
	queue_row(ctx->audit, req, NULL, http_req_status(req));
}

void api_audit_signin(struct api_ctx *ctx, struct http_req *req, const char *user_id, int status)
{
	char actor[STORE_ID_LEN + 8];

	if (!ctx->audit)
		return;
	snprintf(actor, sizeof(actor), user_id ? "user:%s" : "anonymous", user_id);
	queue_row(ctx->audit, req, actor, status);
}

/* Writes what waits (mutex held on entry and on return; dropped while the
 * store works). */
static void flush_locked(struct api_audit *a)
{
	struct store_audit rows[64];
	size_t n = 0;

	while (a->tail < a->head) {
		uint64_t end = a->head;
		size_t k = 0;

		for (uint64_t i = a->tail; i < end; i++)
			a->batch[k++] = a->ring[i % AUDIT_RING];
		a->tail = end;
		pthread_mutex_unlock(&a->mu);
		for (size_t i = 0; i < k; i += n) {
			n = k - i < 64 ? k - i : 64;
			for (size_t j = 0; j < n; j++) {
				struct audit_row *r = &a->batch[i + j];

				rows[j] = (struct store_audit){
					.at = r->at, .actor = r->actor, .method = r->method,
					.route = r->route, .session_id = r->session_id[0] ? r->session_id : NULL,
					.ip = r->ip, .status = r->status,
				};
			}
			int rc = store_audit_add(a->st, rows, n);

			if (rc)
				LOG_ERROR("audit: cannot write rows", "{s:s, s:i}", "error",
					  y_strerror(rc), "rows", (int)n);
		}
		pthread_mutex_lock(&a->mu);
		a->written = end;
	}
	pthread_cond_broadcast(&a->flushed);
}

static void *audit_main(void *arg)
{
	struct api_audit *a = arg;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += AUDIT_FLUSH_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (a->tail == a->head)
			pthread_cond_timedwait(&a->cv, &a->mu, &ts);
		flush_locked(a);
	}
	flush_locked(a);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int api_audit_start(struct api_ctx *ctx)
{
	struct api_audit *a = calloc(1, sizeof(*a));

	if (!a)
		return Y_ENOMEM;
	a->st = ctx->st;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_cond_init(&a->flushed, NULL);
	if (pthread_create(&a->thread, NULL, audit_main, a)) {
		pthread_cond_destroy(&a->flushed);
		pthread_cond_destroy(&a->cv);
		pthread_mutex_destroy(&a->mu);
		free(a);
		return Y_ENOMEM;
	}
	ctx->audit = a;
	return Y_OK;
}

/* Waits (a second at most) until every row queued before the call is
 * written. */
void api_audit_sync(struct api_ctx *ctx)
{
	struct api_audit *a = ctx->audit;
	struct timespec ts;
	uint64_t want;

	if (!a)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	pthread_mutex_lock(&a->mu);
	want = a->head;
	pthread_cond_signal(&a->cv);
	while (a->written < want)
		if (pthread_cond_timedwait(&a->flushed, &a->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&a->mu);
}

void api_audit_stop(struct api_ctx *ctx)
{
	struct api_audit *a = ctx->audit;

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->flushed);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
	ctx->audit = NULL;
}
