/*
 * `yesapp serve`: wires the store, the API keys, the session service, the
 * retention timer, the API and the HTTP server together, then waits for
 * SIGTERM/SIGINT and shuts down gracefully (stop accepting, finish in-flight
 * requests, close the store). Owns everything it creates; the config is borrowed.
 */
#include "server.h"
#include "api/api.h"
#include "api/dashboard.h"
#include "auth/apikey.h"
#include "http/http.h"
#include "service/engine.h"
#include "service/media.h"
#include "service/events.h"
#include "service/retention.h"
#include "service/session.h"
#include "service/webhook.h"
#include "sim/sim.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/payload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* libmicrohttpd runs a pool of this many epoll threads. Measured with wrk on
 * the 2-core dev machine: a pool of 2 served 1.3-1.8x the requests/s of one
 * internal thread (authenticated list, store calls serialized). */
#define SERVER_HTTP_THREADS 2
#define SHUTDOWN_GRACE_MS 10000    /* longest wait for in-flight requests */

/*
 * The secret that signs pagination cursors, kept in DATA_DIR/cursor.key so
 * cursors stay valid across restarts. Created (0600) with random bytes when
 * missing or of the wrong size.
 */
static int load_cursor_key(const char *dir, uint8_t key[API_CURSOR_KEY_LEN])
{
	char path[4096];
	int fd, rc = Y_EIO;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/cursor.key", dir) >= (int)sizeof(path))
		return Y_EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, key, API_CURSOR_KEY_LEN);
		close(fd);
		if (n == API_CURSOR_KEY_LEN)
			return Y_OK;
	}
	if (getrandom(key, API_CURSOR_KEY_LEN, 0) != API_CURSOR_KEY_LEN)
		return Y_EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return Y_EIO;
	if (write(fd, key, API_CURSOR_KEY_LEN) == API_CURSOR_KEY_LEN && fsync(fd) == 0)
		rc = Y_OK;
	close(fd);
	return rc;
}

/*
 * Sandbox mode (SANDBOX, --sandbox): makes the simulator (127.0.0.1, an
 * ephemeral port) and points the engine at it instead of whatever WA_WS_URL
 * and WA_ROOT_KEY say. Logged as a warning so that it can never pass for
 * production. Its thread starts once the engine exists (sim_thread_run says
 * why).
 */
static int sandbox_start(const struct config *cfg, struct engine_opts *eo,
			 struct sim_thread **out)
{
	struct sim_opts so;
	const struct sim_thread_info *si;
	int rc;

	memset(&so, 0, sizeof(so));
	so.host = "127.0.0.1";
	so.state_file = cfg->sandbox_state;
	rc = sim_thread_new(&so, out);
	if (rc) {
		LOG_ERROR("cannot start the sandbox simulator", "{s:s, s:s}", "error", y_strerror(rc),
			  "stateFile", cfg->sandbox_state);
		return rc;
	}
	si = sim_thread_info(*out);
	eo->url = si->ws_url;
	eo->root_pub = si->root_pub;
	LOG_WARN("SANDBOX MODE: sessions connect to the built-in simulator, not to WhatsApp; "
		 "no real number can be linked. Never use this in production.",
		 "{s:b, s:s, s:s, s:s, s:s, s:s?}", "sandbox", 1, "wsUrl", si->ws_url, "controlUrl",
		 si->control_url, "stateFile", cfg->sandbox_state, "ignoredWaWsUrl",
		 cfg->wa_ws_url, "ignoredWaRootKey", cfg->wa_root_key);
	return Y_OK;
}

int server_run(const struct config *cfg)
{
	struct sim_thread *sandbox = NULL;
	struct store *st = NULL;
	struct svc *svc = NULL;
	struct engine *eng = NULL;
	struct engine_opts eo;
	struct media_svc *media = NULL;
	struct media_svc_opts mo;
	uint8_t root[32];
	struct retention *ret = NULL;
	struct events_bell bell;
	struct webhook *hooks = NULL;
	struct webhook_opts wo;
	struct http_server *http = NULL;
	struct api_ctx ctx;
	struct http_server_opts o;
	sigset_t sigs;
	int sig = 0, rc, exit_code = 1;

	/* Block the stop signals before any thread starts so that only
	 * sigwait() below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	api_ctx_init(&ctx);
	events_bell_init(&bell);
	ctx.bell = &bell;
	ctx.started_ms = clock_mono_ms();
	ctx.data_dir = cfg->data_dir;
	ctx.metrics_token = cfg->metrics_token;
	ctx.max_body_bytes = cfg->max_body_bytes;
	ctx.media_url_allow_private = cfg->media_url_allow_private;
	if (mkdir(cfg->data_dir, 0700) && errno != EEXIST) {
		LOG_ERROR("cannot create DATA_DIR", "{s:s, s:s}", "dir", cfg->data_dir, "error",
			  strerror(errno));
		goto out;
	}
	rc = store_open(cfg->database_url, &st);
	if (rc) {
		LOG_ERROR("cannot open the database", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	rc = store_set_durability(st, cfg->durability ? STORE_DURABILITY_FULL
						      : STORE_DURABILITY_NORMAL);
	if (rc) {
		LOG_ERROR("cannot set DURABILITY", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	rc = apikey_bootstrap(st, cfg->api_key);
	if (rc) {
		LOG_ERROR("cannot set up API keys", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	rc = load_cursor_key(cfg->data_dir, ctx.cursor_key);
	if (rc) {
		LOG_ERROR("cannot read or create DATA_DIR/cursor.key", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	/* every event row written from now on rings the bell (the webhook
	 * thread and the live streams listen) */
	store_set_event_hook(st, events_ring, &bell);
	rc = store_sessions_reset_live(st, NULL);
	if (rc) {
		LOG_ERROR("cannot reset session statuses", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	rc = svc_new(st, &svc);
	if (rc) {
		LOG_ERROR("cannot start the session service", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	memset(&eo, 0, sizeof(eo));
	eo.url = cfg->wa_ws_url;
	eo.ca_file = cfg->wa_ca_file;
	if (cfg->wa_root_key) {
		for (int i = 0; i < 32; i++) {
			unsigned v;

			sscanf(cfg->wa_root_key + 2 * i, "%2x", &v); /* validated: 64 hex digits */
			root[i] = (uint8_t)v;
		}
		eo.root_pub = root;
	}
	if (cfg->sandbox && sandbox_start(cfg, &eo, &sandbox))
		goto out;
	/* the version: what PUT /api/v1/server/wa-version stored, else
	 * WA_VERSION, else the built-in one */
	ctx.wa_version_default = wa_payload_version;
	if (cfg->wa_version && !wa_version_parse(cfg->wa_version, &ctx.wa_version_default))
		ctx.wa_version_configured = 1;
	ctx.wa_version = ctx.wa_version_default;
	{
		char *stored = NULL;

		if (store_setting_get(st, "wa_version", &stored) == Y_OK &&
		    !wa_version_parse(stored, &ctx.wa_version))
			ctx.wa_version_set = 1;
		free(stored);
	}
	/* webhooks before the engine, so that its first events go out at once */
	memset(&wo, 0, sizeof(wo));
	wo.url = cfg->webhook_url;
	wo.secret = cfg->webhook_secret;
	wo.events = cfg->webhook_events;
	wo.retries = cfg->webhook_retries;
	wo.backoff_ms = cfg->webhook_backoff_ms;
	wo.timeout_ms = cfg->webhook_timeout_ms;
	wo.ca_file = cfg->wa_ca_file;
	rc = webhook_start(st, svc, &wo, &hooks);
	if (rc) {
		LOG_ERROR("cannot start webhook delivery", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	pthread_mutex_lock(&bell.mu);
	bell.also = webhook_wake;
	bell.also_arg = hooks;
	pthread_mutex_unlock(&bell.mu);
	eo.version = ctx.wa_version;
	eo.idle_ms = cfg->idle_disconnect_ms;
	eo.rate_per_min = cfg->rate_limit_messages > 0 ? (unsigned)cfg->rate_limit_messages : 0;
	eo.queue_max = cfg->queue_max > 0 ? (unsigned)cfg->queue_max : 1000;
	eo.db_url = cfg->database_url;
	/* received media downloads on its own thread (before the engine, which
	 * hands it work) */
	memset(&mo, 0, sizeof(mo));
	mo.data_dir = cfg->data_dir;
	mo.ca_file = cfg->wa_ca_file;
	mo.wa_url = eo.url; /* the sandbox's when SANDBOX is on */
	mo.auto_download = cfg->media_auto_download;
	mo.max_bytes = (int64_t)cfg->media_download_max_mb << 20;
	mo.backoff_ms = cfg->media_backoff_ms;
	rc = media_svc_start(st, &mo, &media);
	if (rc) {
		LOG_ERROR("cannot start media downloads", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	eo.media = media;
	eo.data_dir = cfg->data_dir;
	eo.media_url_allow_private = cfg->media_url_allow_private;
	eo.media_retry_ms = (uint64_t)cfg->media_retry_timeout_ms;
	eo.media_backoff_ms = cfg->media_backoff_ms;
	rc = engine_new(st, svc, &eo, &eng);
	if (rc) {
		LOG_ERROR("cannot start the WhatsApp engine", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	if (sandbox && (rc = sim_thread_run(sandbox))) {
		LOG_ERROR("cannot start the sandbox simulator", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	ctx.sandbox = sandbox;
	ctx.st = st;
	ctx.svc = svc;
	ctx.media = media;
	/* Old rows go now and then every hour (a failure is logged, not fatal:
	 * the next run tries again). */
	retention_prune(st, cfg->retention_days, clock_now_ms(), NULL);
	rc = retention_start(st, cfg->retention_days, RETENTION_INTERVAL_MS, &ret);
	if (rc) {
		LOG_ERROR("cannot start the retention timer", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	media_sweep(st, cfg->data_dir, RETENTION_MEDIA_SWEEP_MAX);
	retention_media(ret, cfg->data_dir);

	rc = api_audit_start(&ctx);
	if (rc) {
		LOG_ERROR("cannot start the audit writer", "{s:s}", "error", y_strerror(rc));
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.host = cfg->host;
	o.port = cfg->port;
	o.max_body_bytes = cfg->max_body_bytes;
	o.cors_origins = cfg->cors_origins;
	o.rate_limit_per_min = cfg->rate_limit_global;
	o.threads = SERVER_HTTP_THREADS;
	o.routes = api_routes;
	o.nroutes = api_nroutes;
	o.auth = api_auth;
	o.on_done = api_audit_hook;
	o.fallback = api_dashboard_serve;
	o.app = &ctx;
	o.trust_proxy = cfg->trust_proxy;
	o.tls_cert_file = cfg->tls_cert_file;
	o.tls_key_file = cfg->tls_key_file;
	rc = http_server_start(&o, &http);
	if (rc)
		goto out;
	LOG_INFO("listening", "{s:s, s:i, s:s}", "host", cfg->host, "port", http_server_port(http),
		 "scheme", cfg->tls_cert_file ? "https" : "http");

	while (sigwait(&sigs, &sig) != 0)
		;
	LOG_INFO("shutting down", "{s:s}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	http_server_quiesce(http);
	if (http_server_wait_idle(http, SHUTDOWN_GRACE_MS) != Y_OK)
		LOG_WARN("requests still running at the end of the grace period", NULL);
	exit_code = 0;
out:
	if (http) {
		unsigned long long served = http_server_requests(http);

		http_server_free(http);
		LOG_INFO("stopped", "{s:I}", "requests", (json_int_t)served);
	}
	api_picture_jobs_wait(&ctx); /* they hand pictures to the engine */
	api_audit_stop(&ctx); /* writes what is queued while the store is open */
	retention_stop(ret);
	engine_free(eng);
	media_svc_stop(media); /* after the engine, which queues downloads */
	sim_thread_stop(sandbox); /* after the engine: its sessions go first */
	/* no event rings the webhook thread once the hook is gone (the store
	 * calls it with its lock held, so none is under way either) */
	if (st)
		store_set_event_hook(st, NULL, NULL);
	webhook_stop(hooks);
	svc_free(svc);
	store_close(st);
	api_ctx_release(&ctx);
	events_bell_destroy(&bell);
	return exit_code;
}
