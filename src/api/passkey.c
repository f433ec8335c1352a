/*
 * /api/v1/sessions/{id}/passkey: the passkey step of linking (docs/passkey.md).
 *
 *   GET    .../passkey          {sessionId, status, reason, publicKey (the
 *                               WebAuthn request options WhatsApp sent),
 *                               confirmationCode}; 404 PASSKEY_NOT_REQUIRED
 *   POST   .../passkey          {"assertion": PublicKeyCredential.toJSON()
 *                               (an object, or that JSON as a string)} -> 202
 *                               with the session; 400 INVALID_PASSKEY_ASSERTION
 *                               for a malformed one, 409 PASSKEY_NOT_REQUIRED
 *   POST   .../passkey/confirm  the confirmation code matches the phone's
 *                               (only needed when WhatsApp's handoff proof could
 *                               not be made, see docs/passkey.md) -> 202
 *
 * The assertion is checked for shape only (WhatsApp checks the signature);
 * what goes on to WhatsApp is its canonical compact JSON.
 */
#include "api/api.h"
#include "http/json.h"
#include "util/codec.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define ASSERTION_MAX (16 << 10)
#define FIELD_MAX (8 << 10)
#define RAW_ID_MAX 1024

void api_passkey_decorate(struct svc *svc, const char *id, json_t *session)
{
	char *options = NULL, *code = NULL;

	if (!session)
		return;
	svc_session_passkey(svc, id, &options, &code);
	json_object_set_new(session, "confirmationCode", code ? json_string(code) : json_null());
	free(options);
	free(code);
}

/* A copy of the session (caller releases it). */
static int session_status(struct svc *svc, const char *id, struct store_session *s)
{
	memset(s, 0, sizeof(*s));
	return svc_session_get(svc, id, s);
}

void api_passkey_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_session s;
	char id[STORE_ID_LEN], *options = NULL, *code = NULL;
	json_t *pk;
	int rc;

	if (!api_session_id_param(req, id))
		return;
	rc = session_status(ctx->svc, id, &s);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	svc_session_passkey(ctx->svc, id, &options, &code);
	if (!options) {
		http_reply_error(req, 404, "PASSKEY_NOT_REQUIRED",
				 "this session is not waiting for a passkey (see its status)", NULL);
		goto out;
	}
	/* the options are WhatsApp's JSON; shown as an object when they parse */
	pk = json_loads(options, JSON_REJECT_DUPLICATES, NULL);
	if (!pk)
		pk = json_string(options);
	http_reply_json(req, 200,
			json_pack("{s:s, s:s, s:s?, s:o, s:s?}", "sessionId", id, "status",
				  store_session_status_name(s.status),
				  "reason", s.reason, "publicKey", pk, "confirmationCode", code));
out:
	free(options);
	free(code);
	store_session_release(&s);
}

/* A non-empty base64url string member of o; its decoded length into *len
 * (raw bytes into out when out is not NULL). */
static int b64_field(json_t *o, const char *name, uint8_t *out, size_t cap, size_t *len)
{
	const char *v = json_string_value(json_object_get(o, name));
	uint8_t *tmp;
	size_t vl = v ? strlen(v) : 0;
	int rc;

	if (!vl || vl > FIELD_MAX)
		return Y_EINVAL;
	tmp = malloc(CODEC_B64URL_DEC_MAX(vl) + 1);
	if (!tmp)
		return Y_ENOMEM;
	rc = codec_b64url_decode(v, vl, tmp, CODEC_B64URL_DEC_MAX(vl) + 1, len);
	if (!rc && !*len)
		rc = Y_EINVAL;
	if (!rc && out) {
		if (*len > cap)
			rc = Y_EINVAL;
		else
			memcpy(out, tmp, *len);
	}
	free(tmp);
	return rc;
}

/*
 * Checks the shape of a PublicKeyCredential.toJSON() assertion: id, rawId,
 * type "public-key", response.{clientDataJSON, authenticatorData,
 * signature} (base64url), id equal to rawId. Returns a reason or NULL.
 */
static const char *check_shape(json_t *a, uint8_t *raw, size_t *raw_len)
{
	json_t *r = json_object_get(a, "response");
	const char *id = json_string_value(json_object_get(a, "id"));
	const char *type = json_string_value(json_object_get(a, "type"));
	size_t n;

	if (!json_is_object(a))
		return "assertion must be an object (PublicKeyCredential.toJSON())";
	if (!type || strcmp(type, "public-key"))
		return "type must be \"public-key\"";
	if (b64_field(a, "rawId", raw, RAW_ID_MAX, raw_len))
		return "rawId must be base64url";
	if (!id || strcmp(id, json_string_value(json_object_get(a, "rawId"))))
		return "id must equal rawId";
	if (!json_is_object(r))
		return "response must be an object";
	if (b64_field(r, "clientDataJSON", NULL, 0, &n))
		return "response.clientDataJSON must be base64url";
	if (b64_field(r, "authenticatorData", NULL, 0, &n) || n < 37)
		return "response.authenticatorData must be base64url (37 bytes or more)";
	if (b64_field(r, "signature", NULL, 0, &n))
		return "response.signature must be base64url";
	return NULL;
}

/* 202 with the session, as GET /sessions/{id} shows it. */
static void reply_accepted(struct http_req *req, const char *id)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_session s;
	char *qr;
	json_t *j;
	int rc = session_status(ctx->svc, id, &s);

	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	qr = svc_session_qr(ctx->svc, id);
	j = api_session_json(&s, qr);
	api_passkey_decorate(ctx->svc, id, j);
	http_reply_json(req, 202, j);
	free(qr);
	store_session_release(&s);
}

/* 404 / 409 / 503 unless session id waits for a passkey; 1 when it does. */
static int expect_pending(struct http_req *req, const char *id)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_session s;
	char *options = NULL, *code = NULL;
	int rc = session_status(ctx->svc, id, &s), ok;

	if (rc) {
		api_reply_store_error(req, rc);
		return 0;
	}
	svc_session_passkey(ctx->svc, id, &options, &code);
	ok = options && s.status == STORE_SESSION_PASSKEY_REQUIRED;
	free(options);
	free(code);
	store_session_release(&s);
	if (!ok)
		http_reply_error(req, 409, "PASSKEY_NOT_REQUIRED",
				 "this session is not waiting for a passkey (see its status)", NULL);
	return ok;
}

static void engine_reply(struct http_req *req, const char *id, int rc)
{
	if (rc == Y_ESTATE)
		http_reply_error(req, 503, "ENGINE_UNAVAILABLE", "the WhatsApp engine is not running",
				 NULL);
	else if (rc)
		api_reply_store_error(req, rc);
	else
		reply_accepted(req, id);
}

void api_passkey_post(struct http_req *req)
{
	static const char *const keys[] = { "assertion", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN], *txt = NULL;
	uint8_t raw[RAW_ID_MAX];
	size_t raw_len = 0;
	json_t *body, *a, *parsed = NULL;
	const char *why;

	if (!api_session_id_param(req, id))
		return;
	body = api_body_object(req, keys);
	if (!body)
		return;
	a = json_object_get(body, "assertion");
	if (json_is_string(a)) /* pasted from a console: the JSON as text */
		a = parsed = json_loads(json_string_value(a), JSON_REJECT_DUPLICATES, NULL);
	why = !a ? "assertion is required (an object, or its JSON as a string)"
		 : check_shape(a, raw, &raw_len);
	if (!why && (!(txt = json_dumps(a, JSON_COMPACT)) || strlen(txt) > ASSERTION_MAX))
		why = "assertion too large";
	if (why) {
		http_reply_error(req, 400, "INVALID_PASSKEY_ASSERTION", why,
				 http_json_field_error("assertion", why));
		goto out;
	}
	if (!expect_pending(req, id))
		goto out;
	engine_reply(req, id, svc_session_passkey_submit(ctx->svc, id, txt, raw, raw_len));
out:
	free(txt);
	json_decref(parsed);
	json_decref(body);
}

void api_passkey_confirm(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	char id[STORE_ID_LEN], *options = NULL, *code = NULL;

	if (!api_session_id_param(req, id))
		return;
	if (!expect_pending(req, id))
		return;
	svc_session_passkey(ctx->svc, id, &options, &code);
	free(options);
	if (!code) {
		http_reply_error(req, 409, "PASSKEY_NOT_REQUIRED",
				 "no confirmation code yet: submit the assertion first", NULL);
		return;
	}
	free(code);
	engine_reply(req, id, svc_session_passkey_submit(ctx->svc, id, NULL, NULL, 0));
}
