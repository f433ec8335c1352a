/*
 * GET /metrics: Prometheus text format. Counters come from util/metrics.h
 * (lock-free, bumped where things happen), request durations from the HTTP
 * layer, sessions by status from the registry (memory, no SQL), process
 * figures from /proc. A probe route: never rate limited, logged at debug.
 * With METRICS_TOKEN set it wants "Authorization: Bearer TOKEN".
 */
#include "api/api.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/metrics.h"
#include "version.h"

#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int token_ok(const struct api_ctx *ctx, struct http_req *req)
{
	const char *h = http_req_header(req, "Authorization");
	size_t want;

	if (!ctx->metrics_token)
		return 1;
	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	want = strlen(ctx->metrics_token);
	return strlen(h) == want && CRYPTO_memcmp(h, ctx->metrics_token, want) == 0;
}

static int sessions_write(struct svc *svc, struct ybuf *out)
{
	size_t counts[STORE_SESSION_STATUS_COUNT], total = 0;
	int rc;

	svc_session_count_by_status(svc, counts);
	for (int i = 0; i < STORE_SESSION_STATUS_COUNT; i++)
		total += counts[i];
	rc = ybuf_printf(out,
			 "# HELP yesapp_sessions_total Sessions known to the server.\n"
			 "# TYPE yesapp_sessions_total gauge\nyesapp_sessions_total %zu\n"
			 "# HELP yesapp_sessions_active Sessions connected to WhatsApp.\n"
			 "# TYPE yesapp_sessions_active gauge\nyesapp_sessions_active %zu\n"
			 "# HELP yesapp_sessions Sessions by status.\n"
			 "# TYPE yesapp_sessions gauge\n",
			 total, counts[STORE_SESSION_CONNECTED]);
	for (int i = 0; rc == Y_OK && i < STORE_SESSION_STATUS_COUNT; i++)
		rc = ybuf_printf(out, "yesapp_sessions{status=\"%s\"} %zu\n",
				 store_session_status_name((enum store_session_status)i), counts[i]);
	return rc;
}

/* The queue depth from the store (the durable truth: accepted, not yet
 * acknowledged by WhatsApp); one indexed count per scrape. */
static int queue_write(struct store *st, struct ybuf *out)
{
	int64_t n = 0;

	if (store_messages_pending_count(st, NULL, &n) != Y_OK)
		return Y_OK; /* the database's state shows on /ready; skip the gauge */
	return ybuf_printf(out,
			   "# HELP yesapp_queue_depth Outbound messages accepted and not yet "
			   "acknowledged by WhatsApp.\n# TYPE yesapp_queue_depth gauge\n"
			   "yesapp_queue_depth %lld\n",
			   (long long)n);
}

void api_metrics(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct ybuf out = YBUF_INIT(0);
	int64_t up_ms = clock_mono_ms() - ctx->started_ms;
	int rc;

	if (!token_ok(ctx, req)) {
		http_reply_error(req, 401, "UNAUTHORIZED",
				 "/metrics wants Authorization: Bearer METRICS_TOKEN", NULL);
		return;
	}
	rc = ymetric_write(&out);
	if (rc == Y_OK)
		rc = sessions_write(ctx->svc, &out);
	if (rc == Y_OK)
		rc = queue_write(ctx->st, &out);
	if (rc == Y_OK)
		rc = http_server_metrics(http_req_server(req), &out);
	if (rc == Y_OK)
		rc = ymetric_write_process(&out, YESAPP_VERSION,
					   (int64_t)time(NULL) - up_ms / 1000);
	if (rc == Y_OK)
		rc = ybuf_printf(&out,
				 "# HELP yesapp_uptime_seconds Seconds since the server started.\n"
				 "# TYPE yesapp_uptime_seconds gauge\nyesapp_uptime_seconds %.3f\n",
				 (double)up_ms / 1000.0);
	if (rc == Y_OK)
		http_reply_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data,
				 out.len, NULL, NULL);
	else
		http_reply_error(req, 500, "INTERNAL_ERROR", "could not write the metrics", NULL);
	ybuf_release(&out);
}
