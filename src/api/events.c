/* /api/v1/events: the event outbox for polling clients and the live stream. */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define EVENT_TYPES_MAX 16

/* The event as the API and the stream show it: {event, eventId, sessionId,
 * occurredAt, ...its fields}. */
static json_t *event_json(const struct store_event *e)
{
	json_t *data = json_loads(e->data, 0, NULL), *o;

	o = json_pack("{s:s, s:I, s:s?, s:o}", "event", e->type, "eventId", (json_int_t)e->id,
		      "sessionId", e->session_id[0] ? e->session_id : NULL, "occurredAt",
		      api_time_json(e->created_at));
	if (o && json_is_object(data))
		json_object_update_missing(o, data);
	json_decref(data);
	return o;
}

/* sessionId (a UUID), types (comma list of known event names) and the id to
 * start after, from the query; answers 400 and returns 0 on bad input.
 * types[] points into buf. */
static int filter_args(struct http_req *req, char sid[STORE_ID_LEN], int *have_sid,
		       char buf[512], const char *types[EVENT_TYPES_MAX + 1], int64_t *after)
{
	const char *v;
	int present = 0, k = 0;
	char *save = NULL;

	*have_sid = 0;
	types[0] = NULL;
	v = http_req_query(req, "sessionId", &present);
	if (present) {
		if (!v || !api_uuid_parse(v, strlen(v), sid)) {
			api_reply_invalid(req, http_json_field_error("sessionId", "must be a UUID"));
			return 0;
		}
		*have_sid = 1;
	}
	v = http_req_query(req, "types", &present);
	if (present) {
		if (!v || strlen(v) >= 512) {
			api_reply_invalid(req, http_json_field_error("types", "too long"));
			return 0;
		}
		strcpy(buf, v);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!api_event_known(t) || k == EVENT_TYPES_MAX) {
				api_reply_invalid(req, http_json_field_error("types",
									     "unknown event name"));
				return 0;
			}
			types[k++] = t;
		}
		types[k] = NULL;
		if (!k) {
			api_reply_invalid(req, http_json_field_error("types", "empty"));
			return 0;
		}
	}
	*after = 0;
	v = http_req_query(req, "after", &present);
	if (present) {
		char *end = NULL;
		long long n = v ? strtoll(v, &end, 10) : -1;

		if (!v || !*v || *end || n < 0) {
			api_reply_invalid(req, http_json_field_error("after",
								     "must be an event id (0 or more)"));
			return 0;
		}
		*after = n;
	}
	return 1;
}

/* GET /api/v1/events?sessionId=&types=&after=&limit=: oldest first, the
 * events with an id above `after`; nextAfter is the id to pass next (the
 * last one shown), null on the last page. */
void api_events_list(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_event *rows = NULL;
	const char *types[EVENT_TYPES_MAX + 1];
	char sid[STORE_ID_LEN], buf[512];
	int64_t after;
	int have_sid, limit, present = 0, has_next = 0, rc;
	size_t n = 0;
	json_t *data, *page;

	const char *lim;

	if (!filter_args(req, sid, &have_sid, buf, types, &after))
		return;
	lim = http_req_query(req, "limit", &present);
	if (!api_limit_parse(lim, present, &limit)) {
		api_reply_invalid(req, http_json_field_error("limit", "must be an integer from 1 to 500"));
		return;
	}
	rc = store_event_list(ctx->st, have_sid ? sid : NULL, after, types[0] ? types : NULL, limit,
			      &rows, &n, &has_next);
	if (rc) {
		api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_EDB : rc);
		return;
	}
	data = json_array();
	for (size_t i = 0; data && i < n; i++)
		if (json_array_append_new(data, event_json(&rows[i]))) {
			json_decref(data);
			data = NULL;
		}
	page = data ? json_pack("{s:o, s:o}", "data", data, "nextAfter",
				has_next ? json_integer((json_int_t)rows[n - 1].id) : json_null())
		    : NULL;
	store_events_free(rows, n);
	if (!page) {
		api_reply_store_error(req, Y_ENOMEM);
		return;
	}
	http_reply_json(req, 200, page);
}
