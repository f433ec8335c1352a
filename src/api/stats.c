/*
 * GET /api/v1/stats?sessionId= : the dashboard's overview figures, from
 * store_stats (SQL aggregates over index ranges; see store.h). HTTP threads.
 * A key scoped to sessions must name one of its own (sessionId).
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/clock.h"
#include "util/err.h"

#include <string.h>

static json_t *series(const struct store_msg_counts *b, int n, int64_t start, int64_t width)
{
	json_t *a = json_array();

	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:o, s:I, s:I, s:I}", "start",
						   api_time_json(start + i * width), "sent",
						   (json_int_t)b[i].sent, "received",
						   (json_int_t)b[i].received, "failed",
						   (json_int_t)b[i].failed));
	return a;
}

void api_stats_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_stats s;
	char id[37];
	int present = 0, rc;
	const char *v = http_req_query(req, "sessionId", &present);
	json_t *by, *body;
	const struct store_msg_counts *today;

	if (present && (!v || !api_uuid_parse(v, strlen(v), id))) {
		api_reply_invalid(req, http_json_field_error("sessionId", "must be a UUID"));
		return;
	}
	/* a key scoped to sessions sees figures of one of its own sessions only:
	 * server-wide counts would tell it of the others */
	if (api_scope_key(req) && !present) {
		api_reply_invalid(req, http_json_field_error("sessionId",
							     "required for a key scoped to sessions"));
		return;
	}
	if (present && !api_scope_check(req, id))
		return;
	rc = store_stats(ctx->st, present ? id : NULL, clock_now_ms(), &s);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	if (present && !s.sessions) {
		api_reply_store_error(req, Y_ENOTFOUND);
		return;
	}
	by = json_object();
	for (int i = 0; by && i < s.nstatus; i++)
		json_object_set_new(by, s.by_status[i].status, json_integer(s.by_status[i].n));
	today = &s.daily[STORE_STATS_DAYS - 1];
	body = json_pack("{s:{s:I, s:o}, s:{s:I, s:I, s:I}, s:I, s:o, s:o}", "sessions", "total",
			 (json_int_t)s.sessions, "byStatus", by, "messagesToday", "sent",
			 (json_int_t)today->sent, "received", (json_int_t)today->received, "failed",
			 (json_int_t)today->failed, "webhookFailures",
			 (json_int_t)s.webhook_failures, "hourly",
			 series(s.hourly, STORE_STATS_HOURS, s.hour0_ms, 3600000), "daily",
			 series(s.daily, STORE_STATS_DAYS, s.day0_ms, 86400000));
	http_reply_json(req, 200, body);
}
