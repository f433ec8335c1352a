/*
 * GET /api/v1/sessions/{id}/contacts/{phone}: whether a number is on
 * WhatsApp, with its JID and LID, asked by the session's client (a usync
 * contact query, client/contact.c). The HTTP thread waits up to
 * API_LOOKUP_WAIT_MS for the loop's answer (the loop never waits for it;
 * an answer after that is dropped) and then answers 504.
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/err.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

#define API_LOOKUP_WAIT_MS 8000

/* A JID, or null for none. */
static json_t *jid_or_null(const char *jid)
{
	return jid && *jid ? json_string(jid) : json_null();
}

void api_contact_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct svc_contact c;
	char id[STORE_ID_LEN], phone[API_PHONE_MAX + 1], raw[24], plus[API_PHONE_MAX + 2];
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
	memset(&c, 0, sizeof(c));
	rc = svc_contact_lookup(ctx->svc, id, phone, &c, API_LOOKUP_WAIT_MS);
	switch (rc) {
	case Y_OK:
		snprintf(plus, sizeof(plus), "+%s", phone);
		http_reply_json(req, 200,
				json_pack("{s:s, s:b, s:o, s:o}", "phone", plus, "onWhatsApp",
					  c.registered, "jid", jid_or_null(c.registered ? c.jid : NULL),
					  "lid", jid_or_null(c.registered ? c.lid : NULL)));
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
	default:
		LOG_ERROR("contact lookup failed", "{s:s, s:s}", "session", id, "error",
			  y_strerror(rc));
		http_reply_error(req, 502, "UPSTREAM_ERROR", "WhatsApp's answer was not usable",
				 NULL);
		break;
	}
}
