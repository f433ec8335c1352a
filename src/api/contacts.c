/*
 * GET /api/v1/sessions/{id}/contacts/{phone}: whether a number is on
 * WhatsApp, with its JID and LID, asked by the session's client (a usync
 * contact query, client/contact.c). The request is deferred
 * (http_req_defer: its connection suspended, no HTTP thread held) until the
 * loop's answer, or API_LOOKUP_WAIT_MS (the engine's beat: 504).
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_LOOKUP_WAIT_MS 8000

/* A JID, or null for none. */
static json_t *jid_or_null(const char *jid)
{
	return jid && *jid ? json_string(jid) : json_null();
}

/* A lookup on its way: the deferred request and the number asked. */
struct lookup_req {
	struct http_defer *d;
	char phone[API_PHONE_MAX + 1];
	char session[STORE_ID_LEN];
};

/* Answers req for the lookup's outcome. */
static void reply_lookup(struct http_req *req, const struct lookup_req *lr, int rc,
			 const struct svc_contact *c)
{
	char plus[API_PHONE_MAX + 2];

	switch (rc) {
	case Y_OK:
		snprintf(plus, sizeof(plus), "+%s", lr->phone);
		http_reply_json(req, 200,
				json_pack("{s:s, s:b, s:o, s:o}", "phone", plus, "onWhatsApp",
					  c->registered, "jid", jid_or_null(c->registered ? c->jid : NULL),
					  "lid", jid_or_null(c->registered ? c->lid : NULL)));
		break;
	case Y_ENOTFOUND:
		api_reply_store_error(req, rc);
		break;
	case Y_ESTATE:
	case Y_ECLOSED:
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
		break;
	case Y_EBUSY:
		http_req_set_retry_after(req, 1);
		http_reply_error(req, 429, "RATE_LIMIT_EXCEEDED",
				 "too many lookups wait for WhatsApp in this session", NULL);
		break;
	case Y_EUNSUPPORTED:
		http_reply_error(req, 503, "ENGINE_UNAVAILABLE", "the WhatsApp engine is not running",
				 NULL);
		break;
	case Y_ETIMEOUT:
		http_reply_error(req, 504, "UPSTREAM_TIMEOUT", "WhatsApp did not answer in time",
				 NULL);
		break;
	default: {
		/* on the loop (inside the client's callback) the session is the
		 * thread's already; on an HTTP thread it is set here, so the line
		 * names it once either way */
		const char *prev = ylog_swap_session(lr->session);

		LOG_ERROR("contact lookup failed", "{s:s}", "error", y_strerror(rc));
		ylog_set_session(prev);
		http_reply_error(req, 502, "UPSTREAM_ERROR", "WhatsApp's answer was not usable",
				 NULL);
		break;
	}
	}
}

/* The lookup's outcome (on the engine's loop, or on the HTTP thread when it
 * could not be queued): answers the deferred request, if it is still there. */
static void lookup_done(void *arg, int err, const struct svc_contact *c)
{
	struct lookup_req *lr = arg;
	struct http_req *req = http_defer_begin(lr->d);

	if (req)
		reply_lookup(req, lr, err, c);
	http_defer_finish(lr->d);
	free(lr);
}

void api_contact_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct lookup_req *lr;
	char id[STORE_ID_LEN], phone[API_PHONE_MAX + 1], raw[24];
	const char *p;
	size_t len;
	int rc;

	if (!api_session_use_param(req, id))
		return;
	p = http_req_param(req, 1, &len);
	if (!p || len >= sizeof(raw)) {
		p = NULL;
	} else {
		memcpy(raw, p, len);
		raw[len] = 0;
	}
	if (!p || !api_phone_parse(raw, phone)) {
		http_reply_error(req, 400, "INVALID_PHONE_NUMBER",
				 "phone must be an international number (optional +, 7 to 15 digits)",
				 http_json_field_error("phone", "not an E.164 number"));
		return;
	}
	lr = calloc(1, sizeof(*lr));
	if (!lr || !(lr->d = http_req_defer(req))) {
		free(lr);
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		return;
	}
	memcpy(lr->phone, phone, sizeof(phone));
	memcpy(lr->session, id, sizeof(id));
	/* deferred before it is handed on: the loop may answer at once */
	rc = svc_contact_lookup(ctx->svc, id, phone, API_LOOKUP_WAIT_MS, lookup_done, lr);
	if (rc)
		lookup_done(lr, rc, NULL);
}
