/*
 * GET /health (liveness: the process answers) and GET /ready (readiness: a
 * database write and read, DATA_DIR writable with room left, the WhatsApp
 * loop turning). Both public probes: never rate limited, logged at debug.
 */
#include "api/api.h"
#include "util/clock.h"
#include "util/err.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

void api_health(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	json_int_t up = (clock_mono_ms() - ctx->started_ms) / 1000;

	http_reply_json(req, 200, json_pack("{s:s, s:I, s:b}", "status", "healthy", "uptime", up,
					    "sandbox", ctx->sandbox != NULL));
}

/* Free space DATA_DIR must keep for /ready to pass. */
#define READY_MIN_FREE_BYTES (64ull << 20)
/* How long /ready's database write may wait for the lock. */
#define READY_DB_TIMEOUT_MS 1000

/* DATA_DIR is a directory in which this process can create a file (tried for
 * real: access() says yes to root on a read-only mount) with enough room
 * left; *free_bytes gets the space available to us. */
static int storage_ok(const char *dir, unsigned long long *free_bytes)
{
	struct statvfs vs;
	struct stat sb;
	char path[4096];
	int fd, n;

	*free_bytes = 0;
	if (!dir || stat(dir, &sb) || !S_ISDIR(sb.st_mode))
		return 0;
	if (statvfs(dir, &vs) == 0)
		*free_bytes = (unsigned long long)vs.f_bavail * vs.f_frsize;
	n = snprintf(path, sizeof(path), "%s/.ready-%ld", dir, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	unlink(path);
	return *free_bytes >= READY_MIN_FREE_BYTES;
}

void api_ready(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	unsigned long long free_bytes;
	int db = store_ready_check(ctx->st, READY_DB_TIMEOUT_MS) == Y_OK;
	int storage = storage_ok(ctx->data_dir, &free_bytes);
	int wa = svc_whatsapp_ok(ctx->svc);
	int ready = db && storage && wa;

	http_reply_json(req, ready ? 200 : 503,
			json_pack("{s:b, s:{s:b, s:b, s:b}, s:I}", "ready", ready, "checks",
				  "database", db, "storage", storage, "whatsapp", wa, "freeBytes",
				  (json_int_t)free_bytes));
}
