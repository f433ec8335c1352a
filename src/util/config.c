/*
 * The configuration table and its parser. Every setting is one row of
 * `options` below: the parser, `yesapp --help` and the Markdown table in
 * docs/configuration.md (`yesapp config-table`) are all driven by it, so a
 * new setting is a new row plus its field in struct config.
 *
 * Order of precedence: built-in default < environment variable < CLI flag.
 * Defaults are written as text and go through the same parser as user
 * input, so what --help shows is exactly what is used.
 */
#include "util/config.h"
#include "util/cidr.h"
#include "wa/payload.h"
#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum opt_type {
	OPT_INT,     /* int within [min, max] */
	OPT_SIZE,    /* size_t byte count within [min, max] */
	OPT_LEVEL,   /* log level name */
	OPT_HOST,    /* a host name or IP literal */
	OPT_PATH,    /* a non-empty path */
	OPT_DBURL,   /* SQLite path or sqlite:PATH; postgres:// refused for now */
	OPT_WSURL,   /* ws:// or wss:// URL */
	OPT_SECRET,  /* printable ASCII without spaces, 1..max chars */
	OPT_ORIGINS, /* "*" or comma-separated http(s)://origin list */
	OPT_KEY32,   /* 64 hex digits (a 32-byte key) */
	OPT_VERSION, /* a WhatsApp Web version P.S.T */
	OPT_PEMFILE, /* a readable file holding a PEM certificate */
	OPT_BOOL,    /* true/false, 1/0, yes/no, on/off; a bare flag means true */
	OPT_HOURS,   /* a decimal number of hours within [min, max], kept as int64_t ms */
	OPT_PEMKEY,  /* a readable file holding a PEM private key */
	OPT_CIDRS,   /* comma-separated IP addresses and CIDR blocks (util/cidr.h) */
	OPT_HTTPURL, /* an http:// or https:// URL with a host */
	OPT_NAMES,   /* comma-separated names of [a-z0-9._], e.g. event types */
	OPT_DURABILITY, /* normal or full, kept as int 0 or 1 (enum store_durability) */
};

struct option_row {
	const char *env;      /* environment variable */
	const char *flag;     /* CLI flag, without the leading "--" */
	const char *arg;      /* placeholder shown in --help */
	enum opt_type type;
	size_t offset;        /* of the field in struct config */
	const char *def;      /* default as text; NULL = unset */
	const char *def_doc;  /* how the default is shown, when not `def` */
	long long min, max;   /* bounds (OPT_INT, OPT_SIZE; max length for OPT_SECRET) */
	const char *help;
};

#define FIELD(f) offsetof(struct config, f)

static const struct option_row options[] = {
	{ "PORT", "port", "N", OPT_INT, FIELD(port), "3000", NULL, 0, 65535,
	  "TCP port of the REST API (0 picks a free port)" },
	{ "HOST", "host", "ADDR", OPT_HOST, FIELD(host), "0.0.0.0", NULL, 0, 0,
	  "address to listen on" },
	{ "DATA_DIR", "data-dir", "DIR", OPT_PATH, FIELD(data_dir), "./data", NULL, 0, 0,
	  "directory for the database and session files (created if missing)" },
	{ "DATABASE_URL", "database-url", "URL", OPT_DBURL, FIELD(database_url), NULL,
	  "DATA_DIR/db.sqlite", 0, 0,
	  "SQLite file path or sqlite:PATH (postgres:// is not supported yet)" },
	{ "DURABILITY", "durability", "MODE", OPT_DURABILITY, FIELD(durability), "normal", NULL, 0,
	  0, "normal: a commit survives a crash of the process (WAL, synchronous=NORMAL); full: "
	  "also a power loss or OS crash (synchronous=FULL, an fsync per commit, slower)" },
	{ "LOG_LEVEL", "log-level", "LEVEL", OPT_LEVEL, FIELD(log_level), "info", NULL, 0, 0,
	  "debug, info, warn or error" },
	{ "API_KEY", "api-key", "KEY", OPT_SECRET, FIELD(api_key), NULL, "(none)", 0, 256,
	  "an API key to accept (stored hashed); if no key exists one is generated "
	  "and logged once" },
	{ "CORS_ORIGINS", "cors-origins", "LIST", OPT_ORIGINS, FIELD(cors_origins), NULL,
	  "(none)", 0, 0, "allowed browser origins: * or a comma-separated list of "
	  "http(s)://host[:port]" },
	{ "METRICS_TOKEN", "metrics-token", "TOKEN", OPT_SECRET, FIELD(metrics_token), NULL,
	  "(none: open)", 0, 256, "bearer token that GET /metrics must present "
	  "(Authorization: Bearer TOKEN); unset, /metrics is open like /health" },
	{ "TRUST_PROXY", "trust-proxy", "LIST", OPT_CIDRS, FIELD(trust_proxy), NULL, "(none)", 0,
	  0, "reverse proxies (addresses or CIDR blocks, comma-separated) whose X-Forwarded-For "
	  "and X-Forwarded-Proto are believed, for rate limits, logs and HSTS; never from others" },
	{ "TLS_CERT_FILE", "tls-cert-file", "FILE", OPT_PEMFILE, FIELD(tls_cert_file), NULL,
	  "(none: plain HTTP)", 0, 0, "PEM certificate (chain) to serve the API over HTTPS "
	  "directly; needs TLS_KEY_FILE" },
	{ "TLS_KEY_FILE", "tls-key-file", "FILE", OPT_PEMKEY, FIELD(tls_key_file), NULL,
	  "(none)", 0, 0, "PEM private key of TLS_CERT_FILE" },
	{ "RATE_LIMIT_GLOBAL", "rate-limit-global", "N", OPT_INT, FIELD(rate_limit_global), "100",
	  NULL, 0, 1000000, "requests per minute per API key or client IP (0 = unlimited)" },
	{ "RATE_LIMIT_MESSAGES", "rate-limit-messages", "N", OPT_INT, FIELD(rate_limit_messages),
	  "50", NULL, 0, 100000, "messages sent per minute per session (0 = unlimited)" },
	{ "QUEUE_MAX", "queue-max", "N", OPT_INT, FIELD(queue_max), "1000", NULL, 1, 1000000,
	  "outgoing messages queued per session before sends are refused" },
	{ "RETENTION_DAYS", "retention-days", "DAYS", OPT_INT, FIELD(retention_days), "90", NULL,
	  0, 36500, "days to keep messages and webhook logs (0 = forever)" },
	{ "MEDIA_AUTO_DOWNLOAD", "media-auto-download", "", OPT_BOOL, FIELD(media_auto_download),
	  "true", NULL, 0, 0, "download received media to DATA_DIR/media (off: media rows end "
	  "skipped)" },
	{ "MEDIA_DOWNLOAD_MAX_MB", "media-download-max-mb", "MB", OPT_INT,
	  FIELD(media_download_max_mb), "100", NULL, 0, 2000, "largest received file downloaded "
	  "(MiB; 0 = WhatsApp's per-type limits only, which always apply)" },
	{ "MEDIA_BACKOFF_MS", "media-backoff-ms", "MS", OPT_INT, FIELD(media_backoff_ms), "1000",
	  NULL, 10, 60000, "when every media host failed (unreachable, 5xx, 429, a timeout), the "
	  "wait before a download is tried again (doubling, at most 30 times it; 8 tries) or an "
	  "upload (2, 4, 8... times it; 6 tries)" },
	{ "MEDIA_RETRY_TIMEOUT_MS", "media-retry-timeout-ms", "MS", OPT_INT,
	  FIELD(media_retry_timeout_ms), "30000", NULL, 1000, 600000, "longest wait for our "
	  "phone's answer when a received file expired on its host and the phone is asked to "
	  "upload it again (then the message fails media_expired)" },
	{ "MEDIA_URL_ALLOW_PRIVATE", "media-url-allow-private", "", OPT_BOOL,
	  FIELD(media_url_allow_private), "false", NULL, 0, 0, "let media given by URL come from "
	  "loopback, private, link-local, CGNAT, multicast and other non-public addresses (off: "
	  "400 MEDIA_URL_NOT_ALLOWED for such an address literal or localhost; a name, redirect "
	  "or DNS answer leading to one fails the message)" },
	{ "WA_WS_URL", "wa-ws-url", "URL", OPT_WSURL, FIELD(wa_ws_url),
	  "wss://web.whatsapp.com/ws/chat", NULL, 0, 0, "WhatsApp websocket endpoint" },
	{ "WA_ROOT_KEY", "wa-root-key", "HEX", OPT_KEY32, FIELD(wa_root_key), NULL,
	  "(WhatsApp's)", 0, 0, "Noise root public key (64 hex digits) to trust instead of "
	  "WhatsApp's, e.g. rootPublicKey of `yesapp sim`" },
	{ "WA_CA_FILE", "wa-ca-file", "FILE", OPT_PEMFILE, FIELD(wa_ca_file), NULL, "(system CAs)",
	  0, 0, "PEM CA certificate to trust for wss:// and https://, e.g. the simulator's ca.pem" },
	{ "WA_VERSION", "wa-version", "P.S.T", OPT_VERSION, FIELD(wa_version), NULL,
	  "(built in)", 0, 0, "WhatsApp Web version to announce; PUT /api/v1/server/wa-version "
	  "changes it at run time (and that value then wins)" },
	{ "IDLE_DISCONNECT_HOURS", "idle-disconnect-hours", "HOURS", OPT_HOURS,
	  FIELD(idle_disconnect_ms), "0", NULL, 0, 8760,
	  "disconnect a linked session after this many hours without API use (decimals allowed); "
	  "its next use reconnects it. 0 = never (a disconnected number stops receiving)" },
	{ "MAX_BODY_BYTES", "max-body-bytes", "BYTES", OPT_SIZE, FIELD(max_body_bytes), "1048576",
	  "1048576 (1 MiB)", 1024, 64LL << 20, "largest accepted HTTP request body" },
	/* webhooks (src/service/webhook.c, docs/webhooks.md) */
	{ "WEBHOOK_URL", "webhook-url", "URL", OPT_HTTPURL, FIELD(webhook_url), NULL, "(none)", 0,
	  0, "a webhook for every session's events, beside each session's own (PUT "
	  "/api/v1/sessions/{id}/webhook)" },
	{ "WEBHOOK_SECRET", "webhook-secret", "SECRET", OPT_SECRET, FIELD(webhook_secret), NULL,
	  "(none)", 0, 256, "HMAC-SHA256 key signing the WEBHOOK_URL deliveries "
	  "(X-YesApp-Signature); unsigned without it" },
	{ "WEBHOOK_EVENTS", "webhook-events", "LIST", OPT_NAMES, FIELD(webhook_events), NULL,
	  "(all)", 0, 0, "comma-separated event types WEBHOOK_URL gets, e.g. "
	  "session.status,message" },
	{ "WEBHOOK_RETRIES", "webhook-retries", "N", OPT_INT, FIELD(webhook_retries), "2", NULL, 0,
	  20, "attempts after the first before a delivery is failed (replayable)" },
	{ "WEBHOOK_BACKOFF_MS", "webhook-backoff-ms", "MS", OPT_INT, FIELD(webhook_backoff_ms),
	  "1000", NULL, 1, 3600000, "wait before the first retry; doubles for each next one" },
	{ "WEBHOOK_TIMEOUT_MS", "webhook-timeout-ms", "MS", OPT_INT, FIELD(webhook_timeout_ms),
	  "10000", NULL, 100, 300000, "longest wait for a receiver's answer (an attempt "
	  "cut there failed)" },
	/* the sandbox (server.c, src/sim/sim_thread.c) */
	{ "SANDBOX", "sandbox", "", OPT_BOOL, FIELD(sandbox), "false", NULL, 0, 0,
	  "run the built-in WhatsApp simulator in-process and connect every session to it "
	  "instead of WhatsApp (overrides WA_WS_URL and WA_ROOT_KEY); link numbers with "
	  "POST /api/v1/sandbox/scan. Never for production" },
	{ "SANDBOX_STATE", "sandbox-state", "FILE", OPT_PATH, FIELD(sandbox_state), NULL,
	  "DATA_DIR/sandbox.json", 0, 0,
	  "the sandbox simulator's state file (its keys, accounts and linked devices), so "
	  "sandbox sessions stay linked across restarts" },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int is_string_type(enum opt_type t)
{
	return t != OPT_INT && t != OPT_SIZE && t != OPT_LEVEL && t != OPT_BOOL && t != OPT_HOURS &&
	       t != OPT_DURABILITY;
}

/* Parses a whole decimal integer; 0 or Y_EINVAL. */
static int parse_ll(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!*s || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
		return Y_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return Y_EINVAL;
	*out = v;
	return Y_OK;
}

/* Text after "scheme://" up to the first '/', ':' or end must be non-empty. */
static int printable_no_space(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

static int has_host(const char *after_scheme)
{
	size_t n = strcspn(after_scheme, "/:?#");

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)after_scheme[i]) || after_scheme[i] == '@')
			return 0;
	return 1;
}

static int valid_origins(const char *s)
{
	if (!strcmp(s, "*"))
		return 1;
	while (*s) {
		size_t n = strcspn(s, ",");
		const char *host;

		if (!strncmp(s, "http://", 7))
			host = s + 7;
		else if (!strncmp(s, "https://", 8))
			host = s + 8;
		else
			return 0;
		if (host >= s + n || !has_host(host))
			return 0;
		for (const char *c = host; c < s + n; c++) /* origins carry no path */
			if (*c == '/' || isspace((unsigned char)*c))
				return 0;
		s += n;
		if (*s == ',') {
			s++;
			if (!*s)
				return 0;
		}
	}
	return 1;
}

/* 1 if path is a regular file we can read whose first 8 KiB hold a PEM
 * certificate's begin line. */
/* 1 if path is a readable regular file whose first 8 KiB hold `a` (and `b`
 * when not NULL). */
static int file_head_has(const char *path, const char *a, const char *b)
{
	char buf[8192];
	FILE *f;
	size_t n;
	struct stat st;

	if (!*path || stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return memmem(buf, n, a, strlen(a)) && (!b || memmem(buf, n, b, strlen(b)));
}

static int pem_file_ok(const char *path)
{
	return file_head_has(path, "-----BEGIN CERTIFICATE-----", NULL);
}

static int pem_key_ok(const char *path)
{
	return file_head_has(path, "-----BEGIN ", "PRIVATE KEY-----");
}

/*
 * Parses `val` for `o` into cfg. On error fills err with a reason that
 * starts with `who` (the variable name or "--flag").
 */
static int apply(struct config *cfg, const struct option_row *o, const char *val,
		 const char *who, char *err, size_t errlen)
{
	char *field = (char *)cfg + o->offset;
	long long v;
	enum ylog_level lvl;

	switch (o->type) {
	case OPT_INT:
	case OPT_SIZE:
		if (parse_ll(val, &v) || v < o->min || v > o->max) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected an integer from %lld to %lld",
				who, val, o->min, o->max);
			return Y_EINVAL;
		}
		if (o->type == OPT_INT)
			*(int *)field = (int)v;
		else
			*(size_t *)field = (size_t)v;
		return Y_OK;
	case OPT_HOURS: {
		/* digits, optionally a point and more digits: no signs, exponents, "nan" */
		size_t ip = strspn(val, "0123456789"), fp = 0;
		double h;

		if (val[ip] == '.')
			fp = strspn(val + ip + 1, "0123456789");
		if (!ip || (val[ip] && (val[ip] != '.' || !fp || val[ip + 1 + fp])) ||
		    (h = strtod(val, NULL)) < (double)o->min || h > (double)o->max) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected a number of hours from "
				"%lld to %lld (decimals allowed)", who, val, o->min, o->max);
			return Y_EINVAL;
		}
		*(int64_t *)field = (int64_t)(h * 3600000.0 + 0.5);
		return Y_OK;
	}
	case OPT_LEVEL:
		if (ylog_parse_level(val, &lvl) || lvl == YLOG_OFF) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected debug, info, warn or error",
				who, val);
			return Y_EINVAL;
		}
		*(enum ylog_level *)field = lvl;
		return Y_OK;
	case OPT_HOST:
		if (!*val || strlen(val) > 253 || strspn(val, "abcdefghijklmnopqrstuvwxyz"
							  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
							  strlen(val)) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected a host name or IP address",
				who, val);
			return Y_EINVAL;
		}
		break;
	case OPT_PATH:
		if (!*val) {
			set_err(err, errlen, "%s: must not be empty", who);
			return Y_EINVAL;
		}
		break;
	case OPT_DBURL:
		if (!strncmp(val, "postgres://", 11) || !strncmp(val, "postgresql://", 13)) {
			set_err(err, errlen, "%s: PostgreSQL is not supported yet; use a SQLite file path "
				"or sqlite:PATH", who);
			return Y_EINVAL;
		}
		if (!*val || (strstr(val, "://") && strncmp(val, "sqlite://", 9))) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected a SQLite file path or "
				"sqlite:PATH", who, val);
			return Y_EINVAL;
		}
		if (!strcmp(val, "sqlite:") || !strcmp(val, "sqlite://")) {
			set_err(err, errlen, "%s: the SQLite path is empty", who);
			return Y_EINVAL;
		}
		break;
	case OPT_WSURL:
		if (!((!strncmp(val, "wss://", 6) && has_host(val + 6)) ||
		      (!strncmp(val, "ws://", 5) && has_host(val + 5)))) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected a ws:// or wss:// URL",
				who, val);
			return Y_EINVAL;
		}
		break;
	case OPT_SECRET: {
		size_t n = strlen(val);

		if (!n || (long long)n > o->max) {
			set_err(err, errlen, "%s: must be 1 to %lld characters", who, o->max);
			return Y_EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			if (val[i] <= ' ' || val[i] > '~') {
				set_err(err, errlen, "%s: only printable ASCII without spaces is allowed",
					who);
				return Y_EINVAL;
			}
		}
		break;
	}
	case OPT_KEY32:
		if (strlen(val) != 64 || strspn(val, "0123456789abcdefABCDEF") != 64) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected 64 hex digits (a 32-byte "
				"key)", who, val);
			return Y_EINVAL;
		}
		break;
	case OPT_VERSION: {
		struct wa_version ver;

		if (wa_version_parse(val, &ver)) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected a version P.S.T "
				"(e.g. 2.3000.1045649367)", who, val);
			return Y_EINVAL;
		}
		break;
	}
	case OPT_PEMFILE:
		if (!pem_file_ok(val)) {
			set_err(err, errlen, "%s: \"%s\" is not a readable PEM certificate file", who,
				val);
			return Y_EINVAL;
		}
		break;
	case OPT_DURABILITY:
		if (strcmp(val, "normal") && strcmp(val, "full")) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected normal or full", who,
				val);
			return Y_EINVAL;
		}
		*(int *)field = !strcmp(val, "full");
		return Y_OK;
	case OPT_BOOL:
		if (!strcasecmp(val, "true") || !strcmp(val, "1") || !strcasecmp(val, "yes") ||
		    !strcasecmp(val, "on")) {
			*(int *)field = 1;
		} else if (!strcasecmp(val, "false") || !strcmp(val, "0") ||
			   !strcasecmp(val, "no") || !strcasecmp(val, "off")) {
			*(int *)field = 0;
		} else {
			set_err(err, errlen, "%s: invalid value \"%s\": expected true or false", who,
				val);
			return Y_EINVAL;
		}
		return Y_OK;
	case OPT_PEMKEY:
		if (!pem_key_ok(val)) {
			set_err(err, errlen, "%s: \"%s\" is not a readable PEM private key file", who,
				val);
			return Y_EINVAL;
		}
		break;
	case OPT_CIDRS: {
		struct cidr_list l;

		if (cidr_list_parse(val, &l)) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected IP addresses or CIDR "
				"blocks, comma-separated (at most %d)", who, val, CIDR_MAX);
			return Y_EINVAL;
		}
		break;
	}
	case OPT_HTTPURL:
		if (strlen(val) > 2048 || !printable_no_space(val) ||
		    !((!strncmp(val, "https://", 8) && has_host(val + 8)) ||
		      (!strncmp(val, "http://", 7) && has_host(val + 7)))) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected an http:// or "
				"https:// URL with a host", who, val);
			return Y_EINVAL;
		}
		break;
	case OPT_NAMES:
		if (!*val || strspn(val, "abcdefghijklmnopqrstuvwxyz0123456789._,") != strlen(val) ||
		    val[0] == ',' || val[strlen(val) - 1] == ',' || strstr(val, ",,")) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected comma-separated "
				"names such as session.status,message", who, val);
			return Y_EINVAL;
		}
		break;
	case OPT_ORIGINS:
		if (!valid_origins(val)) {
			set_err(err, errlen, "%s: invalid value \"%s\": expected * or a comma-separated "
				"list of http(s)://host[:port] origins", who, val);
			return Y_EINVAL;
		}
		break;
	}
	/* a string setting */
	char *copy = strdup(val);

	if (!copy) {
		set_err(err, errlen, "%s: out of memory", who);
		return Y_ENOMEM;
	}
	free(*(char **)field);
	*(char **)field = copy;
	return Y_OK;
}

static const struct option_row *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strlen(options[i].flag) == len && !strncmp(options[i].flag, name, len))
			return &options[i];
	return NULL;
}

/* A path setting left unset defaults to DATA_DIR/name. */
static int default_in_data_dir(struct config *cfg, char **field, const char *name, char *err,
			       size_t errlen)
{
	size_t n = strlen(cfg->data_dir) + strlen(name) + 2;

	if (*field)
		return Y_OK;
	*field = malloc(n);
	if (!*field) {
		set_err(err, errlen, "out of memory");
		return Y_ENOMEM;
	}
	snprintf(*field, n, "%s/%s", cfg->data_dir, name);
	return Y_OK;
}

int config_flag_takes_value(const char *arg)
{
	const struct option_row *o;

	if (!arg || strncmp(arg, "--", 2) || strchr(arg, '='))
		return 0;
	o = find_flag(arg + 2, strlen(arg + 2));
	return !o || o->type != OPT_BOOL;
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int rc = Y_OK;

	memset(cfg, 0, sizeof(*cfg));
	set_err(err, errlen, "%s", "");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (options[i].def &&
		    apply(cfg, &options[i], options[i].def, options[i].env, err, errlen))
			BUG("a built-in configuration default does not parse");
	}
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const char *v = getenv(options[i].env);

		if (v && *v && (rc = apply(cfg, &options[i], v, options[i].env, err, errlen)))
			goto out;
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val;
		const struct option_row *o;
		char who[64];

		if (strncmp(a, "--", 2) || !a[2]) {
			set_err(err, errlen, "unexpected argument \"%s\"", a);
			rc = Y_EINVAL;
			goto out;
		}
		name = a + 2;
		eq = strchr(name, '=');
		o = find_flag(name, eq ? (size_t)(eq - name) : strlen(name));
		if (!o) {
			set_err(err, errlen, "unknown option \"%.*s\" (see yesapp --help)",
				(int)(eq ? (size_t)(eq - a) : strlen(a)), a);
			rc = Y_EINVAL;
			goto out;
		}
		snprintf(who, sizeof(who), "--%s", o->flag);
		if (eq) {
			val = eq + 1;
		} else if (o->type == OPT_BOOL) {
			val = "true"; /* `--sandbox` alone */
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			set_err(err, errlen, "%s: a value is required", who);
			rc = Y_EINVAL;
			goto out;
		}
		rc = apply(cfg, o, val, who, err, errlen);
		if (rc)
			goto out;
	}
	if ((rc = default_in_data_dir(cfg, &cfg->database_url, "db.sqlite", err, errlen)) ||
	    (rc = default_in_data_dir(cfg, &cfg->sandbox_state, "sandbox.json", err, errlen)))
		goto out;
	if (!cfg->tls_cert_file != !cfg->tls_key_file) {
		set_err(err, errlen, "%s: set TLS_CERT_FILE and TLS_KEY_FILE together",
			cfg->tls_cert_file ? "TLS_KEY_FILE" : "TLS_CERT_FILE");
		rc = Y_EINVAL;
		goto out;
	}
out:
	if (rc) {
		config_release(cfg);
		rc = Y_EINVAL;
	}
	return rc;
}

void config_release(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (is_string_type(options[i].type)) {
			char **p = (char **)((char *)cfg + options[i].offset);

			free(*p);
			*p = NULL;
		}
	}
}

static const char *type_doc(const struct option_row *o, char *buf, size_t len)
{
	switch (o->type) {
	case OPT_INT:
		snprintf(buf, len, "integer %lld..%lld", o->min, o->max);
		return buf;
	case OPT_SIZE:
		snprintf(buf, len, "bytes %lld..%lld", o->min, o->max);
		return buf;
	case OPT_HOURS:
		snprintf(buf, len, "hours %lld..%lld", o->min, o->max);
		return buf;
	case OPT_LEVEL:
		return "debug|info|warn|error";
	case OPT_HOST:
		return "host or IP";
	case OPT_PATH:
		return "path";
	case OPT_DBURL:
		return "path or sqlite:PATH";
	case OPT_WSURL:
		return "ws:// or wss:// URL";
	case OPT_SECRET:
		snprintf(buf, len, "string, up to %lld chars", o->max);
		return buf;
	case OPT_ORIGINS:
		return "* or origin list";
	case OPT_PEMKEY:
		return "PEM key file";
	case OPT_CIDRS:
		return "address/CIDR list";
	case OPT_KEY32:
		return "64 hex digits";
	case OPT_VERSION:
		return "version P.S.T";
	case OPT_PEMFILE:
		return "PEM file";
	case OPT_BOOL:
		return "boolean";
	case OPT_HTTPURL:
		return "http:// or https:// URL";
	case OPT_NAMES:
		return "comma-separated names";
	case OPT_DURABILITY:
		return "normal|full";
	}
	return "?";
}

static const char *default_doc(const struct option_row *o)
{
	return o->def_doc ? o->def_doc : o->def;
}

void config_print_help(FILE *f)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_row *o = &options[i];
		char flag[48];

		if (o->type == OPT_BOOL)
			snprintf(flag, sizeof(flag), "--%s[=BOOL]", o->flag);
		else
			snprintf(flag, sizeof(flag), "--%s %s", o->flag, o->arg);
		fprintf(f, "  %-28s %-20s %s\n", flag, o->env, o->help);
		fprintf(f, "  %-28s %-20s default: %s\n", "", "", default_doc(o));
	}
}

/* Writes s for a Markdown table cell: '|' and '*' are escaped. */
static void md_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '*')
			fputc('\\', f);
		fputc(*s, f);
	}
}

void config_print_markdown(FILE *f)
{
	fprintf(f, "| Variable | Flag | Type | Default | Description |\n");
	fprintf(f, "|---|---|---|---|---|\n");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_row *o = &options[i];
		char buf[64];

		const char *def = default_doc(o);

		fprintf(f, "| `%s` | `--%s` | ", o->env, o->flag);
		md_cell(f, type_doc(o, buf, sizeof(buf)));
		fprintf(f, def[0] == '(' ? " | %s | " : " | `%s` | ", def);
		md_cell(f, o->help);
		fprintf(f, " |\n");
	}
}
