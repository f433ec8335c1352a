/* /api/v1/server/wa-version: the WhatsApp Web version the engine announces.
 * When WhatsApp answers "client outdated" (405) every session fails at once
 * with reason client_outdated; a newer version set here (stored, so it
 * survives restarts, and winning over WA_VERSION) brings them back. */
#include "api/api.h"
#include "http/json.h"
#include "util/err.h"

#include <string.h>

#define SETTING_WA_VERSION "wa_version"

static void reply_version(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct wa_version v, d;
	char vs[40], ds[40];
	int set;

	pthread_mutex_lock(&ctx->version_lock);
	v = ctx->wa_version;
	set = ctx->wa_version_set;
	pthread_mutex_unlock(&ctx->version_lock);
	d = ctx->wa_version_default;
	wa_version_format(&v, vs, sizeof(vs));
	wa_version_format(&d, ds, sizeof(ds));
	http_reply_json(req, 200, json_pack("{s:s, s:s, s:s}", "version", vs, "source",
					    set ? "api" : ctx->wa_version_configured ? "config" : "built-in",
					    "default", ds));
}

void api_wa_version_get(struct http_req *req)
{
	reply_version(req);
}

/* Puts v in force: the engine first (it queues and returns), then ours. */
static int apply(struct http_req *req, const struct wa_version *v, int set)
{
	struct api_ctx *ctx = http_req_app(req);
	int rc = svc_set_wa_version(ctx->svc, v);

	if (rc == Y_ESTATE)
		rc = Y_OK; /* no engine (tests of the API alone): the setting still holds */
	if (rc) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "could not change the version", NULL);
		return rc;
	}
	pthread_mutex_lock(&ctx->version_lock);
	ctx->wa_version = *v;
	ctx->wa_version_set = set;
	pthread_mutex_unlock(&ctx->version_lock);
	return Y_OK;
}

void api_wa_version_put(struct http_req *req)
{
	static const char *const keys[] = { "version", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct wa_version v;
	char text[40];
	const char *s;
	json_t *body, *d = NULL;
	int rc;

	body = api_body_object(req, keys);
	if (!body)
		return;
	if (http_json_get_string(body, "version", 1, 1, 32, &s, &d) != Y_OK) {
		json_decref(body);
		api_reply_invalid(req, d);
		return;
	}
	if (wa_version_parse(s, &v)) {
		json_decref(body);
		http_reply_error(req, 400, "INVALID_VERSION",
				 "version must be P.S.T, e.g. 2.3000.1045649367",
				 http_json_field_error("version", "expected three dot-separated numbers"));
		return;
	}
	json_decref(body);
	wa_version_format(&v, text, sizeof(text));
	rc = store_setting_put(ctx->st, SETTING_WA_VERSION, text);
	if (rc) {
		api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_EDB : rc);
		return;
	}
	if (apply(req, &v, 1) == Y_OK)
		reply_version(req);
}

void api_wa_version_delete(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	int rc = store_setting_delete(ctx->st, SETTING_WA_VERSION);

	if (rc) {
		api_reply_store_error(req, rc == Y_ENOTFOUND ? Y_EDB : rc);
		return;
	}
	if (apply(req, &ctx->wa_version_default, 0) == Y_OK)
		reply_version(req);
}
