/*
 * Server configuration: one table (config.c) lists every setting with its
 * environment variable, CLI flag, type, default, bounds and help text. The
 * same table feeds the parser, `yesapp --help` and the README table.
 * Environment first, CLI flags override. An invalid value stops start-up
 * with a message naming the variable.
 */
#ifndef YESAPP_CONFIG_H
#define YESAPP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/log.h"

struct config {
	int port;                 /* PORT, --port (3000); 0 = ephemeral */
	char *host;               /* HOST, --host (0.0.0.0) */
	char *data_dir;           /* DATA_DIR, --data-dir (./data) */
	char *database_url;       /* DATABASE_URL, --database-url (DATA_DIR/db.sqlite) */
	int durability;           /* DURABILITY (normal): 0 normal, 1 full (= enum store_durability) */
	enum ylog_level log_level;/* LOG_LEVEL, --log-level (info) */
	char *api_key;            /* API_KEY, --api-key (NULL) */
	char *cors_origins;       /* CORS_ORIGINS, --cors-origins (NULL = none) comma list or "*" */
	char *metrics_token;      /* METRICS_TOKEN: bearer token for /metrics, NULL = open */
	char *trust_proxy;        /* TRUST_PROXY: proxy addresses/CIDRs, NULL = none */
	char *tls_cert_file;      /* TLS_CERT_FILE: PEM chain, NULL = plain HTTP */
	char *tls_key_file;       /* TLS_KEY_FILE: PEM key (set with the cert, or neither) */
	int rate_limit_global;    /* RATE_LIMIT_GLOBAL (100 requests/min per client key or IP) */
	int rate_limit_messages;  /* RATE_LIMIT_MESSAGES (50/min per session) */
	int queue_max;            /* QUEUE_MAX (1000) */
	int retention_days;       /* RETENTION_DAYS (90) */
	int media_auto_download;  /* MEDIA_AUTO_DOWNLOAD (true) */
	int media_download_max_mb;/* MEDIA_DOWNLOAD_MAX_MB (100; 0 = per-type limits only) */
	int media_retry_timeout_ms; /* MEDIA_RETRY_TIMEOUT_MS (30000) */
	int media_backoff_ms;     /* MEDIA_BACKOFF_MS (1000) */
	int media_url_allow_private; /* MEDIA_URL_ALLOW_PRIVATE (false) */
	char *wa_ws_url;          /* WA_WS_URL (wss://web.whatsapp.com/ws/chat) */
	size_t max_body_bytes;    /* MAX_BODY_BYTES (1 MiB) */
	char *wa_root_key;        /* WA_ROOT_KEY: 64 hex digits, NULL = WhatsApp's root */
	char *wa_ca_file;         /* WA_CA_FILE: PEM CA file, NULL = system CAs */
	char *wa_version;         /* WA_VERSION: P.S.T, NULL = built in */
	int64_t idle_disconnect_ms; /* IDLE_DISCONNECT_HOURS (0 = off), in ms */
	int sandbox;              /* SANDBOX, --sandbox (false): the in-process simulator */
	char *sandbox_state;      /* SANDBOX_STATE (DATA_DIR/sandbox.json) */
	char *webhook_url;        /* WEBHOOK_URL: http(s) URL, NULL = none */
	char *webhook_secret;     /* WEBHOOK_SECRET, NULL = unsigned */
	char *webhook_events;     /* WEBHOOK_EVENTS: comma list, NULL = all */
	int webhook_retries;      /* WEBHOOK_RETRIES (2) */
	int webhook_backoff_ms;   /* WEBHOOK_BACKOFF_MS (1000), doubling */
	int webhook_timeout_ms;   /* WEBHOOK_TIMEOUT_MS (10000) */
};

/* Fills cfg from env and argv (argv[0] is the first argument after the
 * subcommand). Flags are "--name value" or "--name=value"; an environment
 * variable set to "" counts as unset. On error writes a one-line reason
 * naming the variable or flag into err and returns Y_EINVAL (cfg is then
 * released). On success the caller releases cfg with config_release. */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);
void config_release(struct config *cfg);
/* 1 if the argument "--flag" (no "=value") takes the next argument as its
 * value: every setting but the booleans (`--sandbox`) does; unknown flags
 * are assumed to. 0 for anything else. */
int config_flag_takes_value(const char *arg);
/* Prints the settings table for --help. */
void config_print_help(FILE *f);
/* Prints the settings as a Markdown table (docs/configuration.md). */
void config_print_markdown(FILE *f);

#endif
