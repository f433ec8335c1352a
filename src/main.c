/*
 * The `yesapp` command line: start-up and subcommands.
 *
 *   yesapp [serve] [options]        run the server (the default)
 *   yesapp keys create [--name N] [--role R] [--user U] [--sessions ID,ID] [--expires D]
 *                                   make an API key and print it once
 *   yesapp keys list                list keys (never their secret)
 *   yesapp keys revoke <id>         revoke a key
 *   yesapp users create|list|disable|enable|passwd ...   (cli_users.h)
 *   yesapp config-table             the settings as a Markdown table
 *   yesapp routes                   the route table with each route's role, as JSON
 *   yesapp sim [--listen H:P]       run the local WhatsApp simulator (src/sim/)
 *   yesapp version | help | --help
 *
 * Every subcommand accepts the settings' flags (e.g. --data-dir) after it.
 * Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration
 * error (the message names the variable or flag).
 */
#include "api/api.h"
#include "auth/apikey.h"
#include "cli_users.h"
#include "server.h"
#include "service/backup.h"
#include "sim/sim.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"
#include "version.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: yesapp [command] [options]\n"
		"\n"
		"commands:\n"
		"  serve                  run the REST API server (the default command)\n"
		"  keys create [--name N] [--role viewer|operator|admin] [--user EMAIL|ID]\n"
		"       [--sessions ID,ID] [--expires 30d|12h|90m|3600s]\n"
		"                         create an API key and print it (shown only once); by\n"
		"                         default an admin key of the first admin user, with\n"
		"                         --sessions limited to those sessions (and the ones it\n"
		"                         creates)\n"
		"  keys list              list API keys: id, name, prefix, created, last used, role,\n"
		"                         user, sessions, expires, revoked\n"
		"  keys revoke <id>       revoke an API key\n"
		"  users create EMAIL --role R [--name N] [--no-password]\n"
		"                         create a user; the password is read from standard input\n"
		"  users list             list users\n"
		"  users disable|enable EMAIL|ID   stop or allow a user's sign-in and keys\n"
		"  users passwd EMAIL|ID  set a password (read from standard input)\n"
		"  backup FILE            write an online backup (database snapshot + DATA_DIR files,\n"
		"                         one tar.gz) while the server runs\n"
		"  restore FILE [--force] restore a backup into DATA_DIR (empty unless --force;\n"
		"                         the server must be stopped)\n"
		"  probe [PATH]           GET PATH (default /health) of the server on this machine\n"
		"                         (PORT, TLS_CERT_FILE); exit 0 on 2xx: for container\n"
		"                         health checks\n"
		"  config-table           print the settings below as a Markdown table\n"
		"  routes                 print the REST routes and the role each needs (JSON);\n"
		"                         exit 1 if a route has no role rule\n"
		"  sim [--listen H:P] [--state FILE] [--certs DIR] [--min-version P.S.T] [--tls]\n"
		"                         run the local WhatsApp simulator (default 127.0.0.1:0)\n"
		"  version                print the version\n"
		"  help, --help, -h       print this help\n"
		"\n"
		"settings (environment variable, or the flag, which wins):\n");
	config_print_help(f);
}

/* Loads the configuration from env and args; prints the reason on error. */
static int load_config(struct config *cfg, int argc, char **argv)
{
	char err[512];

	if (config_load(cfg, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "yesapp: %s\n", err);
		return EXIT_USAGE;
	}
	return 0;
}

static int open_store(const struct config *cfg, struct store **st)
{
	int rc = store_open(cfg->database_url, st);

	if (rc) {
		fprintf(stderr, "yesapp: cannot open the database %s: %s\n", cfg->database_url,
			y_strerror(rc));
		return EXIT_RUNTIME;
	}
	return 0;
}

static int keys_revoke(struct store *st, const char *id)
{
	int rc = store_apikey_revoke(st, id);

	if (rc == Y_ENOTFOUND) {
		fprintf(stderr, "yesapp: no API key with id %s\n", id);
		return EXIT_RUNTIME;
	}
	if (rc) {
		fprintf(stderr, "yesapp: cannot revoke the key: %s\n", y_strerror(rc));
		return EXIT_RUNTIME;
	}
	printf("revoked %s\n", id);
	return 0;
}

/*
 * `yesapp keys <create|list|revoke> ...`: picks out the subcommand's own
 * arguments (--name, the id) and hands the rest to the configuration.
 */
static int cmd_keys(int argc, char **argv)
{
	struct config cfg;
	struct store *st = NULL;
	const char *action = argc > 0 ? argv[0] : NULL, *id = NULL;
	struct cli_key_opts ko = { 0 };
	struct { const char *flag; const char **dst; } opts[] = {
		{ "--name", &ko.name }, { "--role", &ko.role }, { "--user", &ko.user },
		{ "--sessions", &ko.sessions }, { "--expires", &ko.expires },
	};
	char **rest = NULL;
	int nrest = 0, rc;

	if (!action || (strcmp(action, "create") && strcmp(action, "list") &&
			strcmp(action, "revoke"))) {
		fprintf(stderr, "yesapp: keys needs create, list or revoke (see yesapp --help)\n");
		return EXIT_USAGE;
	}
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest)
		return EXIT_RUNTIME;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t o = 0, fl = 0;

		for (; !strcmp(action, "create") && o < sizeof(opts) / sizeof(opts[0]); o++) {
			fl = strlen(opts[o].flag);
			if (!strncmp(a, opts[o].flag, fl) && (a[fl] == '=' || !a[fl]))
				break;
		}
		if (!strcmp(action, "create") && o < sizeof(opts) / sizeof(opts[0])) {
			if (a[fl] == '=') {
				*opts[o].dst = a + fl + 1;
			} else if (i + 1 < argc) {
				*opts[o].dst = argv[++i];
			} else {
				fprintf(stderr, "yesapp: %s: a value is required\n", opts[o].flag);
				rc = EXIT_USAGE;
				goto out_free;
			}
		} else if (!strncmp(a, "--", 2)) {
			/* a setting: "--flag=v" or "--flag v" (booleans: "--flag") */
			rest[nrest++] = argv[i];
			if (config_flag_takes_value(a) && i + 1 < argc)
				rest[nrest++] = argv[++i];
		} else if (!strcmp(action, "revoke") && !id) {
			id = a;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	if (!strcmp(action, "revoke") && !id) {
		fprintf(stderr, "yesapp: keys revoke needs a key id (see yesapp keys list)\n");
		rc = EXIT_USAGE;
		goto out_free;
	}
	rc = load_config(&cfg, nrest, rest);
	if (rc)
		goto out_free;
	ylog_set_output(stderr); /* stdout carries the command's output */
	ylog_min = cfg.log_level > YLOG_WARN ? cfg.log_level : YLOG_WARN;
	rc = open_store(&cfg, &st);
	if (!rc) {
		if (!strcmp(action, "create"))
			rc = cli_keys_create(st, &ko);
		else if (!strcmp(action, "list"))
			rc = cli_keys_list(st);
		else
			rc = keys_revoke(st, id);
	}
	store_close(st);
	config_release(&cfg);
out_free:
	free(rest);
	return rc;
}

/* `yesapp routes`: [{"methods": [...], "pattern", "role", "public"}] on
 * stdout; a row without a rule has role "unset", is named on stderr and
 * makes the exit code 1 (tests/http/roles.test.mjs reads this). */
static int cmd_routes(void)
{
	static const int ms[] = { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE };
	static const char *const mn[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
	json_t *a = json_array();
	char why[512], *text;
	long bad = http_routes_check(api_routes, api_nroutes, why, sizeof(why));

	for (size_t i = 0; a && i < api_nroutes; i++) {
		json_t *m = json_array();

		for (size_t k = 0; m && k < sizeof(ms) / sizeof(ms[0]); k++)
			if (api_routes[i].methods & ms[k])
				json_array_append_new(m, json_string(mn[k]));
		json_array_append_new(a, json_pack("{s:o, s:s, s:s, s:b}", "methods",
						   m ? m : json_null(), "pattern",
						   api_routes[i].pattern, "role",
						   http_role_name(api_routes[i].role), "public",
						   (api_routes[i].flags & HTTP_ROUTE_PUBLIC) != 0));
	}
	text = a ? json_dumps(a, JSON_INDENT(1)) : NULL;
	json_decref(a);
	if (!text)
		return EXIT_RUNTIME;
	printf("%s\n", text);
	free(text);
	if (bad >= 0) {
		fprintf(stderr, "yesapp: %s\n", why);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* `yesapp users <action> ...`: the settings' flags go to the
 * configuration, the rest to cli_users. */
static int cmd_users(int argc, char **argv)
{
	struct config cfg;
	struct store *st = NULL;
	char **rest = NULL, **own = NULL;
	int nrest = 0, nown = 0, rc;

	if (argc < 1 || !cli_users_action_ok(argv[0])) {
		fprintf(stderr, "yesapp: users needs create, list, disable, enable or passwd "
				"(see yesapp --help)\n");
		return EXIT_USAGE;
	}
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	own = calloc((size_t)argc + 1, sizeof(*own));
	if (!rest || !own) {
		free(rest);
		free(own);
		return EXIT_RUNTIME;
	}
	own[nown++] = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--role") || !strcmp(a, "--name")) {
			own[nown++] = argv[i];
			if (i + 1 < argc)
				own[nown++] = argv[++i];
		} else if (!strncmp(a, "--role=", 7) || !strncmp(a, "--name=", 7) ||
			   !strcmp(a, "--no-password") || strncmp(a, "--", 2)) {
			own[nown++] = argv[i];
		} else {
			rest[nrest++] = argv[i];
			if (config_flag_takes_value(a) && i + 1 < argc)
				rest[nrest++] = argv[++i];
		}
	}
	rc = load_config(&cfg, nrest, rest);
	if (!rc) {
		ylog_set_output(stderr);
		ylog_min = cfg.log_level > YLOG_WARN ? cfg.log_level : YLOG_WARN;
		rc = open_store(&cfg, &st);
		if (!rc)
			rc = cli_users(st, nown, own);
		store_close(st);
		config_release(&cfg);
	}
	free(rest);
	free(own);
	return rc;
}

/* yesapp backup FILE | restore FILE [--force], with the usual settings
 * (DATA_DIR, DATABASE_URL) as flags or environment. */
static int cmd_backup(int restore, int argc, char **argv)
{
	struct config cfg;
	struct backup_stats stats;
	const char *file = NULL;
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0, force = 0, rc;

	if (!rest)
		return EXIT_RUNTIME;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (restore && !strcmp(a, "--force")) {
			force = 1;
		} else if (!strncmp(a, "--", 2)) {
			rest[nrest++] = argv[i];
			if (config_flag_takes_value(a) && !strchr(a, '=') && i + 1 < argc)
				rest[nrest++] = argv[++i];
		} else if (!file) {
			file = a;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	if (!file) {
		fprintf(stderr, "yesapp: %s needs a FILE (see yesapp --help)\n",
			restore ? "restore" : "backup");
		free(rest);
		return EXIT_USAGE;
	}
	rc = load_config(&cfg, nrest, rest);
	free(rest);
	if (rc)
		return rc;
	ylog_set_output(stderr);
	ylog_min = cfg.log_level > YLOG_WARN ? cfg.log_level : YLOG_WARN;
	rc = restore ? backup_restore(file, cfg.data_dir, force, &stats) :
		       backup_create(cfg.data_dir, cfg.database_url, file, &stats);
	if (rc == Y_EEXIST)
		fprintf(stderr, "yesapp: %s is not empty: restore refuses without --force\n",
			cfg.data_dir);
	else if (rc)
		fprintf(stderr, "yesapp: %s failed: %s\n", restore ? "restore" : "backup",
			y_strerror(rc));
	else
		fprintf(stderr, "%s %zu files (%llu bytes) %s %s\n",
			restore ? "restored" : "backed up", stats.files, stats.bytes,
			restore ? "into" : "to", restore ? cfg.data_dir : file);
	config_release(&cfg);
	return rc == Y_EEXIST ? EXIT_USAGE : rc ? EXIT_RUNTIME : 0;
}

static size_t probe_discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* yesapp probe [PATH]: the server this configuration describes, on loopback. */
static int cmd_probe(int argc, char **argv)
{
	struct config cfg;
	const char *path = argc > 0 && argv[0][0] == '/' ? argv[0] : "/health";
	char url[512];
	long status = 0;
	CURL *c;
	CURLcode cc;
	int rc = load_config(&cfg, argc > 0 && argv[0][0] == '/' ? argc - 1 : argc,
			     argc > 0 && argv[0][0] == '/' ? argv + 1 : argv);

	if (rc)
		return rc;
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", cfg.tls_cert_file ? "https" : "http",
		 cfg.port, path);
	c = curl_easy_init();
	if (!c) {
		config_release(&cfg);
		return EXIT_RUNTIME;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 4000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, probe_discard);
	/* our own certificate on loopback: its name is not 127.0.0.1 */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK)
		fprintf(stderr, "yesapp: probe %s: %s\n", url, curl_easy_strerror(cc));
	else
		fprintf(stderr, "probe %s: %ld\n", url, status);
	config_release(&cfg);
	return status >= 200 && status < 300 ? 0 : EXIT_RUNTIME;
}

static int cmd_serve(int argc, char **argv)
{
	struct config cfg;
	int rc = load_config(&cfg, argc, argv);

	if (rc)
		return rc;
	ylog_min = cfg.log_level;
	rc = server_run(&cfg);
	config_release(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	for (int i = 1; i < argc; i++) { /* `yesapp keys list --help` too */
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	}

	if (!cmd || (!strncmp(cmd, "--", 2) && strcmp(cmd, "--help") && strcmp(cmd, "--version")))
		return cmd_serve(argc - 1, argv + 1); /* options only: serve */
	if (!strcmp(cmd, "serve"))
		return cmd_serve(argc - 2, argv + 2);
	if (!strcmp(cmd, "keys"))
		return cmd_keys(argc - 2, argv + 2);
	if (!strcmp(cmd, "users"))
		return cmd_users(argc - 2, argv + 2);
	if (!strcmp(cmd, "routes"))
		return cmd_routes();
	if (!strcmp(cmd, "probe"))
		return cmd_probe(argc - 2, argv + 2);
	if (!strcmp(cmd, "backup") || !strcmp(cmd, "restore"))
		return cmd_backup(!strcmp(cmd, "restore"), argc - 2, argv + 2);
	if (!strcmp(cmd, "sim"))
		return sim_main(argc - 2, argv + 2);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("yesapp %s\n", YESAPP_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "config-table")) {
		config_print_markdown(stdout);
		return 0;
	}
	fprintf(stderr, "yesapp: unknown command \"%s\"\n\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
