/* /api/v1/sessions/{id}/webhook: one webhook per session. */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

/* events: absent/null = all events; else a non-empty array of distinct known
 * names. On success *text is new JSON text (caller frees) or NULL for all. */
static int check_events(const json_t *body, char **text, json_t **d)
{
	json_t *ev = json_object_get(body, "events");
	size_t i, j;
	json_t *v;

	*text = NULL;
	if (!ev || json_is_null(ev))
		return Y_OK;
	if (!json_is_array(ev) || json_array_size(ev) == 0) {
		*d = http_json_field_error("events", "must be a non-empty array of event names");
		return Y_EINVAL;
	}
	json_array_foreach(ev, i, v) {
		if (!json_is_string(v) || !api_event_known(json_string_value(v))) {
			json_t *known = json_array();

			for (j = 0; api_event_names[j]; j++)
				json_array_append_new(known, json_string(api_event_names[j]));
			*d = http_json_field_error("events", "unknown event name");
			if (*d) {
				json_object_set_new(*d, "index", json_integer((json_int_t)i));
				json_object_set_new(*d, "known", known);
			} else {
				json_decref(known);
			}
			return Y_EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (json_equal(v, json_array_get(ev, j))) {
				*d = http_json_field_error("events", "duplicate event name");
				return Y_EINVAL;
			}
		}
	}
	*text = json_dumps(ev, JSON_COMPACT);
	return *text ? Y_OK : Y_ENOMEM;
}

static void reply_webhook(struct http_req *req, const struct store_session *s)
{
	json_t *events = s->webhook_events ? json_loads(s->webhook_events, 0, NULL) : NULL;

	http_reply_json(req, 200,
			json_pack("{s:s, s:o, s:b}", "url", s->webhook_url, "events",
				  events ? events : json_null(), "hasSecret", s->webhook_secret != NULL));
}

void api_webhook_put(struct http_req *req)
{
	static const char *const keys[] = { "url", "secret", "events", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct store_session s;
	char id[STORE_ID_LEN], *events = NULL;
	const char *url, *secret, *why;
	json_t *body, *d = NULL;
	int rc;

	if (!api_session_use_param(req, id))
		return;
	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "url", 1, 1, API_URL_MAX, &url, &d) != Y_OK)
		goto invalid;
	why = api_url_check(url);
	if (why) {
		d = http_json_field_error("url", why);
		goto invalid;
	}
	rc = http_json_get_string(body, "secret", 0, 1, API_SECRET_MAX, &secret, &d);
	if (rc != Y_OK && rc != Y_ENOTFOUND)
		goto invalid;
	rc = check_events(body, &events, &d);
	if (rc == Y_ENOMEM) {
		json_decref(body);
		api_reply_store_error(req, rc);
		return;
	}
	if (rc)
		goto invalid;
	rc = svc_session_set_webhook(ctx->svc, id, url, secret, events);
	free(events);
	json_decref(body);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	memset(&s, 0, sizeof(s));
	rc = svc_session_get(ctx->svc, id, &s);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	reply_webhook(req, &s);
	store_session_release(&s);
	return;
invalid:
	json_decref(body);
	api_reply_invalid(req, d);
}

/* 404 SESSION_NOT_FOUND for an unknown session, 404 NOT_FOUND when the
 * session has no webhook. */
void api_webhook_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_session s;
	char id[STORE_ID_LEN];
	int rc;

	if (!api_session_use_param(req, id))
		return;
	memset(&s, 0, sizeof(s));
	rc = svc_session_get(ctx->svc, id, &s);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	if (s.webhook_url)
		reply_webhook(req, &s);
	else
		http_reply_error(req, 404, "NOT_FOUND", "this session has no webhook", NULL);
	store_session_release(&s);
}

/* 204 whether or not a webhook was set. */
void api_webhook_delete(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN];
	int rc;

	if (!api_session_use_param(req, id))
		return;
	rc = svc_session_set_webhook(ctx->svc, id, NULL, NULL, NULL);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	http_reply_empty(req, 204);
}

/* A positive decimal id (1..2^53) from text of len bytes; 0 if malformed. */
static int64_t parse_event_id(const char *p, size_t len)
{
	int64_t v = 0;

	if (!p || !len || len > 16)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v > 0 && v <= (INT64_C(1) << 53) ? v : 0;
}

static json_t *hooklog_json(const struct store_hooklog *l)
{
	return json_pack("{s:I, s:I, s:s, s:s, s:i, s:b, s:i, s:I, s:s?, s:o}", "id",
			 (json_int_t)l->id, "eventId", (json_int_t)l->event_id, "event", l->event,
			 "url", l->url, "statusCode", l->http_status, "success",
			 l->http_status >= 200 && l->http_status <= 299 && !l->error, "attempt", l->attempt,
			 "durationMs", (json_int_t)l->duration_ms, "error", l->error, "createdAt",
			 api_time_json(l->created_at));
}

/* GET .../webhook/logs?limit=&cursor=&success=true|false: newest first. The
 * cursor carries the last row's id (as its ts) and the session's id. */
void api_webhook_logs(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_hooklog *rows = NULL;
	struct store_cursor cur, next;
	char id[STORE_ID_LEN], scope[64];
	const char *v;
	json_t *data, *page;
	size_t n = 0;
	int limit, have_cur, has_next = 0, success = -1, present = 0, rc;

	if (!api_session_use_param(req, id))
		return;
	snprintf(scope, sizeof(scope), "webhook-logs:%s", id);
	if (!api_page_args(req, scope, &limit, &cur, &have_cur))
		return;
	v = http_req_query(req, "success", &present);
	if (present) {
		if (v && !strcmp(v, "true")) {
			success = 1;
		} else if (v && !strcmp(v, "false")) {
			success = 0;
		} else {
			api_reply_invalid(req, http_json_field_error("success", "must be true or false"));
			return;
		}
	}
	if (!svc_session_exists(ctx->svc, id)) {
		api_reply_store_error(req, Y_ENOTFOUND);
		return;
	}
	rc = store_webhook_log_list(ctx->st, id, have_cur ? cur.ts : 0, success, limit, &rows, &n,
				    &has_next);
	if (rc) {
		api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_EDB : rc);
		return;
	}
	data = json_array();
	for (size_t i = 0; data && i < n; i++)
		if (json_array_append_new(data, hooklog_json(&rows[i]))) {
			json_decref(data);
			data = NULL;
		}
	if (has_next) {
		next.ts = rows[n - 1].id;
		memcpy(next.id, id, STORE_ID_LEN);
	}
	store_hooklogs_free(rows, n);
	page = data ? json_pack("{s:o}", "data", data) : NULL;
	if (!page || !api_page_next(req, page, scope, has_next, &next)) {
		json_decref(page);
		api_reply_store_error(req, Y_ENOMEM);
		return;
	}
	http_reply_json(req, 200, page);
}

/* POST .../webhook/deliveries/{eventId}/retry: 202 with how many deliveries
 * of that event were queued again; 404 NOT_FOUND when it had none. */
void api_webhook_retry(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN];
	size_t len = 0;
	const char *p;
	int64_t ev;
	int n = 0, rc;

	if (!api_session_use_param(req, id))
		return;
	p = http_req_param(req, 1, &len);
	ev = parse_event_id(p, len);
	if (!ev) {
		api_reply_invalid(req, http_json_field_error("eventId", "must be a positive integer"));
		return;
	}
	if (!svc_session_exists(ctx->svc, id)) {
		api_reply_store_error(req, Y_ENOTFOUND);
		return;
	}
	rc = store_webhook_replay(ctx->st, id, ev, &n);
	if (rc == Y_ENOTFOUND) {
		http_reply_error(req, 404, "NOT_FOUND", "no webhook delivery of this event", NULL);
		return;
	}
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	http_reply_json(req, 202, json_pack("{s:I, s:i}", "eventId", (json_int_t)ev, "queued", n));
}
