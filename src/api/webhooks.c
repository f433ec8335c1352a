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
