/* /api/v1/events: the event outbox for polling clients and the live stream. */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "service/events.h"
#include "util/clock.h"
#include "util/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	if (have_sid && !api_scope_check(req, sid))
		return;
	rc = store_event_list_scoped(ctx->st, api_scope_key(req), have_sid ? sid : NULL, after,
				     types[0] ? types : NULL, limit, &rows, &n, &has_next);
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

/* ---- the live stream: GET /api/v1/events/stream (Server-Sent Events) ----
 * One thread per stream (API_STREAMS_MAX at most) waits on the event bell,
 * with a 1 s tick, and resumes the suspended connection; the reading itself
 * happens on an HTTP thread in stream_read, which never blocks. */
struct sse {
	struct api_ctx *ctx;
	struct http_stream *hs;
	int slot;                    /* in ctx->stream_keys */
	char sid[STORE_ID_LEN];
	int have_sid;
	char scope[HTTP_KEY_ID_LEN]; /* a scoped key's id: only its sessions' events; "" = all */
	char typebuf[512];
	const char *types[EVENT_TYPES_MAX + 1];
	int64_t last_id;             /* the last event sent */
	int64_t last_write_ms;       /* monotonic */
	char *out;                   /* formatted, not yet sent: out[off..len) */
	size_t off, len, cap;
};

static int sse_append(struct sse *x, const char *s, size_t n)
{
	if (x->len + n > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *p;

		while (cap < x->len + n)
			cap *= 2;
		p = realloc(x->out, cap);
		if (!p)
			return Y_ENOMEM;
		x->out = p;
		x->cap = cap;
	}
	memcpy(x->out + x->len, s, n);
	x->len += n;
	return Y_OK;
}

/* Formats the next events after last_id: "id: N\nevent: TYPE\ndata: JSON\n\n". */
static int sse_fill(struct sse *x)
{
	struct store_event *rows = NULL;
	size_t n = 0;
	int more = 0, rc;

	rc = store_event_list_scoped(x->ctx->st, x->scope[0] ? x->scope : NULL,
				     x->have_sid ? x->sid : NULL, x->last_id,
				     x->types[0] ? x->types : NULL, 100, &rows, &n, &more);
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *o = event_json(&rows[i]);
		char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		char head[160];
		int hn = snprintf(head, sizeof(head), "id: %lld\nevent: %s\ndata: ",
				  (long long)rows[i].id, rows[i].type);

		json_decref(o);
		if (!text || hn < 0 || hn >= (int)sizeof(head)) {
			free(text);
			rc = Y_ENOMEM;
			break;
		}
		/* compact JSON has no raw newline, so one data: line holds it */
		rc = sse_append(x, head, (size_t)hn);
		rc = rc ? rc : sse_append(x, text, strlen(text));
		rc = rc ? rc : sse_append(x, "\n\n", 2);
		free(text);
		if (!rc)
			x->last_id = rows[i].id;
	}
	store_events_free(rows, n);
	return rc;
}

static long sse_read(void *arg, char *buf, size_t max)
{
	struct sse *x = arg;
	size_t k;

	if (x->off == x->len) {
		x->off = x->len = 0;
		if (sse_fill(x))
			return -1;
		if (!x->len && clock_mono_ms() - x->last_write_ms >= API_STREAM_HEARTBEAT_MS &&
		    sse_append(x, ": heartbeat\n\n", 13))
			return -1;
		if (!x->len)
			return 0;
	}
	k = x->len - x->off < max ? x->len - x->off : max;
	memcpy(buf, x->out + x->off, k);
	x->off += k;
	x->last_write_ms = clock_mono_ms();
	return (long)k;
}

static void sse_done(void *arg)
{
	struct sse *x = arg;
	struct api_ctx *ctx = x->ctx;

	pthread_mutex_lock(&ctx->stream_lock);
	ctx->stream_keys[x->slot][0] = '\0';
	ctx->nstreams--;
	pthread_mutex_unlock(&ctx->stream_lock);
	free(x->out);
	free(x);
}

static const struct http_stream_ops sse_ops = { sse_read, sse_done };

static void *sse_waker(void *arg)
{
	struct sse *x = arg;
	struct http_stream *hs = x->hs;
	struct events_bell *bell = x->ctx->bell;
	uint64_t seen = bell ? events_rings(bell) : 0;

	while (!http_stream_closed(hs)) {
		if (bell)
			seen = events_wait(bell, seen, 1000);
		else
			usleep(1000 * 1000);
		http_stream_resume(hs); /* new events, a heartbeat due, or a shutdown */
	}
	http_stream_release(hs); /* may free x */
	return NULL;
}

/* A slot for key `key`, or -1 when the key or the server has its fill. */
static int stream_slot(struct api_ctx *ctx, const char *key)
{
	int free_slot = -1, mine = 0;

	pthread_mutex_lock(&ctx->stream_lock);
	for (int i = 0; i < API_STREAMS_MAX; i++) {
		if (!ctx->stream_keys[i][0]) {
			if (free_slot < 0)
				free_slot = i;
		} else if (!strcmp(ctx->stream_keys[i], key)) {
			mine++;
		}
	}
	if (mine >= API_STREAMS_PER_KEY)
		free_slot = -1;
	if (free_slot >= 0) {
		snprintf(ctx->stream_keys[free_slot], HTTP_KEY_ID_LEN, "%s", key);
		ctx->nstreams++;
	}
	pthread_mutex_unlock(&ctx->stream_lock);
	return free_slot;
}

/* GET /api/v1/events/stream?sessionId=&types=&after=: events as they are
 * written, after `after` or the Last-Event-ID header (a resume), else only
 * new ones; a heartbeat comment every API_STREAM_HEARTBEAT_MS of silence;
 * 429 TOO_MANY_STREAMS past API_STREAMS_PER_KEY per key or
 * API_STREAMS_MAX in all. */
void api_events_stream(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	const char *key = http_req_key_id(req), *lei;
	struct sse *x = calloc(1, sizeof(*x));
	pthread_attr_t attr;
	pthread_t t;
	int64_t after = 0;
	int present = 0;

	if (!x) {
		api_reply_store_error(req, Y_ENOMEM);
		return;
	}
	if (!filter_args(req, x->sid, &x->have_sid, x->typebuf, x->types, &after) ||
	    (x->have_sid && !api_scope_check(req, x->sid))) {
		free(x);
		return;
	}
	if (api_scope_key(req))
		snprintf(x->scope, sizeof(x->scope), "%s", api_scope_key(req));
	http_req_query(req, "after", &present);
	lei = http_req_header(req, "Last-Event-ID");
	if (lei && *lei) {
		char *end = NULL;
		long long v = strtoll(lei, &end, 10);

		if (*end || v < 0) {
			free(x);
			api_reply_invalid(req, http_json_field_error("Last-Event-ID",
								     "must be an event id"));
			return;
		}
		after = v;
		present = 1;
	}
	if (!present && store_event_last(ctx->st, &after)) {
		free(x);
		api_reply_store_error(req, Y_EDB);
		return;
	}
	x->ctx = ctx;
	x->last_id = after;
	x->last_write_ms = clock_mono_ms();
	x->slot = stream_slot(ctx, key ? key : "");
	if (x->slot < 0) {
		free(x);
		http_reply_error(req, 429, "TOO_MANY_STREAMS", "too many event streams open", NULL);
		return;
	}
	/* the first bytes go at once, so that the client sees the stream open */
	if (sse_append(x, "retry: 2000\n\n", 13)) {
		sse_done(x);
		api_reply_store_error(req, Y_ENOMEM);
		return;
	}
	x->hs = http_reply_stream(req, "text/event-stream", &sse_ops, x);
	if (!x->hs) {
		sse_done(x);
		api_reply_store_error(req, Y_ENOMEM);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, sse_waker, x)) {
		/* no waker: the stream ends at its first pause */
		http_stream_resume(x->hs);
		http_stream_release(x->hs);
	}
	pthread_attr_destroy(&attr);
}

void api_streams_wait(struct api_ctx *ctx, int timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;

	for (;;) {
		int n;

		pthread_mutex_lock(&ctx->stream_lock);
		n = ctx->nstreams;
		pthread_mutex_unlock(&ctx->stream_lock);
		if (!n || clock_mono_ms() >= end)
			return;
		usleep(10 * 1000);
	}
}
