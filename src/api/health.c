/* GET /health (liveness) and GET /ready (readiness). Both public. */
#include "api/api.h"
#include "util/clock.h"
#include "util/err.h"

#include <sys/stat.h>
#include <unistd.h>

void api_health(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	json_int_t up = (clock_mono_ms() - ctx->started_ms) / 1000;

	http_reply_json(req, 200, json_pack("{s:s, s:I, s:b}", "status", "healthy", "uptime", up,
					    "sandbox", ctx->sandbox != NULL));
}

/* DATA_DIR exists, is a directory, and this process may create files in it. */
static int storage_ok(const char *dir)
{
	struct stat sb;

	return dir && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && access(dir, W_OK | X_OK) == 0;
}

void api_ready(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	int db = store_ping(ctx->st) == Y_OK;
	int storage = storage_ok(ctx->data_dir);
	int wa = svc_whatsapp_ok(ctx->svc);
	int ready = db && storage && wa;

	http_reply_json(req, ready ? 200 : 503,
			json_pack("{s:b, s:{s:b, s:b, s:b}}", "ready", ready, "checks", "database", db,
				  "storage", storage, "whatsapp", wa));
}
