/* Tests of the configuration table and parser (util/config.h). */
#include "test.h"

#include "util/config.h"
#include "util/err.h"

static const char *const all_env[] = {
	"PORT", "HOST", "DATA_DIR", "DATABASE_URL", "LOG_LEVEL", "API_KEY", "CORS_ORIGINS",
	"RATE_LIMIT_GLOBAL", "RATE_LIMIT_MESSAGES", "QUEUE_MAX", "RETENTION_DAYS", "WA_WS_URL",
	"MAX_BODY_BYTES", "SANDBOX", "SANDBOX_STATE", "WEBHOOK_URL", "WEBHOOK_SECRET",
	"WEBHOOK_EVENTS", "WEBHOOK_RETRIES", "WEBHOOK_BACKOFF_MS", "WEBHOOK_TIMEOUT_MS", "DURABILITY",
	"MEDIA_AUTO_DOWNLOAD", "MEDIA_DOWNLOAD_MAX_MB", "MEDIA_URL_ALLOW_PRIVATE", NULL
};

static void clear_env(void)
{
	for (int i = 0; all_env[i]; i++)
		unsetenv(all_env[i]);
}

/* Loads with argv given as a NULL-terminated list; returns the code. */
static int load(struct config *c, char *err, const char *const *args)
{
	int argc = 0;

	while (args && args[argc])
		argc++;
	return config_load(c, argc, (char **)args, err, 256);
}

TEST(defaults)
{
	struct config c;
	char err[256];

	clear_env();
	REQUIRE(load(&c, err, NULL) == Y_OK);
	CHECK_EQ_INT(c.port, 3000);
	CHECK_EQ_STR(c.host, "0.0.0.0");
	CHECK_EQ_STR(c.data_dir, "./data");
	CHECK_EQ_STR(c.database_url, "./data/db.sqlite");
	CHECK_EQ_INT(c.log_level, YLOG_INFO);
	CHECK(c.api_key == NULL);
	CHECK(c.cors_origins == NULL);
	CHECK_EQ_INT(c.rate_limit_global, 100);
	CHECK_EQ_INT(c.rate_limit_messages, 50);
	CHECK_EQ_INT(c.queue_max, 1000);
	CHECK_EQ_INT(c.retention_days, 90);
	CHECK_EQ_STR(c.wa_ws_url, "wss://web.whatsapp.com/ws/chat");
	CHECK_EQ_INT(c.max_body_bytes, 1048576);
	CHECK_EQ_INT(c.durability, 0);
	config_release(&c);
	CHECK(c.host == NULL && c.database_url == NULL);
	config_release(&c); /* twice is harmless */
}

TEST(environment)
{
	struct config c;
	char err[256];

	clear_env();
	setenv("PORT", "8080", 1);
	setenv("DATA_DIR", "/var/lib/yesapp", 1);
	setenv("LOG_LEVEL", "debug", 1);
	setenv("API_KEY", "k3y-from-env", 1);
	setenv("CORS_ORIGINS", "http://localhost:5173,https://app.example.com", 1);
	setenv("RETENTION_DAYS", "0", 1);
	setenv("WA_WS_URL", "ws://127.0.0.1:9999/ws/chat", 1);
	setenv("MAX_BODY_BYTES", "2048", 1);
	setenv("DURABILITY", "full", 1);
	setenv("HOST", "", 1); /* empty = unset */
	REQUIRE(load(&c, err, NULL) == Y_OK);
	CHECK_EQ_INT(c.port, 8080);
	CHECK_EQ_STR(c.host, "0.0.0.0");
	CHECK_EQ_STR(c.data_dir, "/var/lib/yesapp");
	CHECK_EQ_STR(c.database_url, "/var/lib/yesapp/db.sqlite");
	CHECK_EQ_INT(c.log_level, YLOG_DEBUG);
	CHECK_EQ_STR(c.api_key, "k3y-from-env");
	CHECK_EQ_STR(c.cors_origins, "http://localhost:5173,https://app.example.com");
	CHECK_EQ_INT(c.retention_days, 0);
	CHECK_EQ_STR(c.wa_ws_url, "ws://127.0.0.1:9999/ws/chat");
	CHECK_EQ_INT(c.max_body_bytes, 2048);
	CHECK_EQ_INT(c.durability, 1);
	config_release(&c);
	clear_env();
}

TEST(flags_override_environment)
{
	static const char *const args[] = { "--port", "3001", "--data-dir=/tmp/x",
		"--log-level=warn", "--database-url", "sqlite:/tmp/other.db", "--cors-origins=*",
		"--queue-max", "5", NULL };
	struct config c;
	char err[256];

	clear_env();
	setenv("PORT", "8080", 1);
	setenv("LOG_LEVEL", "error", 1);
	setenv("QUEUE_MAX", "7", 1);
	REQUIRE(load(&c, err, args) == Y_OK);
	CHECK_EQ_INT(c.port, 3001);
	CHECK_EQ_STR(c.data_dir, "/tmp/x");
	CHECK_EQ_INT(c.log_level, YLOG_WARN);
	CHECK_EQ_STR(c.database_url, "sqlite:/tmp/other.db");
	CHECK_EQ_STR(c.cors_origins, "*");
	CHECK_EQ_INT(c.queue_max, 5);
	config_release(&c);

	/* a later flag wins over an earlier one */
	static const char *const twice[] = { "--port=1", "--port=2", NULL };
	REQUIRE(load(&c, err, twice) == Y_OK);
	CHECK_EQ_INT(c.port, 2);
	config_release(&c);
	clear_env();
}

/* Each invalid value fails with Y_EINVAL and a message naming its source. */
TEST(invalid_values_are_named)
{
	static const struct {
		const char *env, *value, *flag;
	} bad[] = {
		{ "PORT", "abc", "--port" },
		{ "PORT", "65536", "--port" },
		{ "PORT", "-1", "--port" },
		{ "PORT", "80x", "--port" },
		{ "PORT", " 80", "--port" },
		{ "PORT", "99999999999999999999", "--port" },
		{ "HOST", "bad host", "--host" },
		{ "LOG_LEVEL", "loud", "--log-level" },
		{ "LOG_LEVEL", "off", "--log-level" },
		{ "DURABILITY", "FULL", "--durability" },
		{ "DURABILITY", "paranoid", "--durability" },
		{ "DATABASE_URL", "postgres://u@localhost/db", "--database-url" },
		{ "DATABASE_URL", "mysql://localhost/db", "--database-url" },
		{ "DATABASE_URL", "sqlite:", "--database-url" },
		{ "API_KEY", "has space", "--api-key" },
		{ "CORS_ORIGINS", "ftp://x", "--cors-origins" },
		{ "CORS_ORIGINS", "http://a.com/path", "--cors-origins" },
		{ "CORS_ORIGINS", "http://a.com,", "--cors-origins" },
		{ "RATE_LIMIT_GLOBAL", "1000001", "--rate-limit-global" },
		{ "RATE_LIMIT_MESSAGES", "-5", "--rate-limit-messages" },
		{ "QUEUE_MAX", "0", "--queue-max" },
		{ "RETENTION_DAYS", "36501", "--retention-days" },
		{ "WA_WS_URL", "https://web.whatsapp.com/ws/chat", "--wa-ws-url" },
		{ "WA_WS_URL", "wss://", "--wa-ws-url" },
		{ "MAX_BODY_BYTES", "1023", "--max-body-bytes" },
		{ "MAX_BODY_BYTES", "1MiB", "--max-body-bytes" },
	};
	struct config c;
	char err[256], arg[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		clear_env();
		setenv(bad[i].env, bad[i].value, 1);
		CHECK_EQ_INT(load(&c, err, NULL), Y_EINVAL);
		if (strncmp(err, bad[i].env, strlen(bad[i].env)))
			fprintf(stderr, "  env %s=%s: \"%s\"\n", bad[i].env, bad[i].value, err);
		CHECK(strncmp(err, bad[i].env, strlen(bad[i].env)) == 0);
		CHECK(c.host == NULL); /* released on error */

		clear_env();
		snprintf(arg, sizeof(arg), "%s=%s", bad[i].flag, bad[i].value);
		const char *const args[] = { arg, NULL };
		CHECK_EQ_INT(load(&c, err, args), Y_EINVAL);
		CHECK(strncmp(err, bad[i].flag, strlen(bad[i].flag)) == 0);
	}
	clear_env();
	setenv("DATABASE_URL", "postgres://u@localhost/db", 1);
	CHECK_EQ_INT(load(&c, err, NULL), Y_EINVAL);
	CHECK(strstr(err, "not supported") != NULL);
	clear_env();
}

TEST(bad_arguments)
{
	struct config c;
	char err[256];
	const char *const unknown[] = { "--colour=blue", NULL };
	const char *const missing[] = { "--port", NULL };
	const char *const positional[] = { "serve", NULL };
	const char *const bare[] = { "--", NULL };

	clear_env();
	CHECK_EQ_INT(load(&c, err, unknown), Y_EINVAL);
	CHECK(strstr(err, "--colour") != NULL);
	CHECK_EQ_INT(load(&c, err, missing), Y_EINVAL);
	CHECK(strncmp(err, "--port", 6) == 0);
	CHECK_EQ_INT(load(&c, err, positional), Y_EINVAL);
	CHECK(strstr(err, "serve") != NULL);
	CHECK_EQ_INT(load(&c, err, bare), Y_EINVAL);
	/* boundaries are inclusive */
	const char *const edges[] = { "--port=0", "--max-body-bytes=67108864", "--queue-max=1",
		NULL };
	REQUIRE(load(&c, err, edges) == Y_OK);
	CHECK_EQ_INT(c.port, 0);
	CHECK_EQ_INT(c.max_body_bytes, 64 << 20);
	config_release(&c);
}

TEST(help_and_markdown_list_every_setting)
{
	char *h = NULL, *m = NULL;
	size_t hl = 0, ml = 0;
	FILE *f = open_memstream(&h, &hl);

	REQUIRE(f != NULL);
	config_print_help(f);
	fclose(f);
	f = open_memstream(&m, &ml);
	REQUIRE(f != NULL);
	config_print_markdown(f);
	fclose(f);
	for (int i = 0; all_env[i]; i++) {
		char needle[64];

		CHECK(strstr(h, all_env[i]) != NULL);
		snprintf(needle, sizeof(needle), "| `%s` |", all_env[i]);
		CHECK(strstr(m, needle) != NULL);
	}
	CHECK(strstr(h, "--rate-limit-messages") != NULL);
	CHECK(strstr(h, "wss://web.whatsapp.com/ws/chat") != NULL);
	free(h);
	free(m);
}

/* SANDBOX is a boolean: a bare --sandbox means true (it takes no value, so
 * the next argument stays an argument), true/false words either way, and
 * anything else is refused naming the setting. SANDBOX_STATE defaults into
 * DATA_DIR. */
TEST(sandbox_boolean_and_state_file)
{
	struct config c;
	char err[256];

	clear_env();
	REQUIRE(load(&c, err, NULL) == Y_OK);
	CHECK_EQ_INT(c.sandbox, 0);
	CHECK_EQ_STR(c.sandbox_state, "./data/sandbox.json");
	config_release(&c);
	REQUIRE(load(&c, err, (const char *const[]){ "--sandbox", "--port", "7", NULL }) == Y_OK);
	CHECK_EQ_INT(c.sandbox, 1);
	CHECK_EQ_INT(c.port, 7);
	config_release(&c);
	setenv("SANDBOX", "1", 1);
	setenv("DATA_DIR", "/srv/y", 1);
	REQUIRE(load(&c, err, NULL) == Y_OK);
	CHECK_EQ_INT(c.sandbox, 1);
	CHECK_EQ_STR(c.sandbox_state, "/srv/y/sandbox.json");
	config_release(&c);
	REQUIRE(load(&c, err, (const char *const[]){ "--sandbox=false", NULL }) == Y_OK);
	CHECK_EQ_INT(c.sandbox, 0); /* the flag wins */
	config_release(&c);
	setenv("SANDBOX", "Off", 1);
	setenv("SANDBOX_STATE", "/tmp/sb.json", 1);
	REQUIRE(load(&c, err, NULL) == Y_OK);
	CHECK_EQ_INT(c.sandbox, 0);
	CHECK_EQ_STR(c.sandbox_state, "/tmp/sb.json");
	config_release(&c);
	setenv("SANDBOX", "maybe", 1);
	CHECK(load(&c, err, NULL) == Y_EINVAL);
	CHECK(strstr(err, "SANDBOX: invalid value \"maybe\"") != NULL);
	unsetenv("SANDBOX");
	CHECK(load(&c, err, (const char *const[]){ "--sandbox=2", NULL }) == Y_EINVAL);
	CHECK(strstr(err, "--sandbox:") != NULL);
	/* "--sandbox yes" is not a value: "yes" is an unexpected argument */
	CHECK(load(&c, err, (const char *const[]){ "--sandbox", "yes", NULL }) == Y_EINVAL);
	CHECK(strstr(err, "unexpected argument \"yes\"") != NULL);
	CHECK_EQ_INT(config_flag_takes_value("--sandbox"), 0);
	CHECK_EQ_INT(config_flag_takes_value("--sandbox=1"), 0);
	CHECK_EQ_INT(config_flag_takes_value("--sandbox-state"), 1);
	CHECK_EQ_INT(config_flag_takes_value("--port"), 1);
	CHECK_EQ_INT(config_flag_takes_value("--no-such"), 1);
	CHECK_EQ_INT(config_flag_takes_value("sandbox"), 0);
	clear_env();
}

TEST(webhook_settings)
{
	static const char *const bad[][2] = {
		{ "WEBHOOK_URL", "ftp://h/x" }, { "WEBHOOK_URL", "http://" },
		{ "WEBHOOK_URL", "http://h/a b" }, { "WEBHOOK_EVENTS", "a,,b" },
		{ "WEBHOOK_EVENTS", "Session.Status" }, { "WEBHOOK_EVENTS", "a," },
		{ "WEBHOOK_RETRIES", "21" }, { "WEBHOOK_BACKOFF_MS", "0" },
		{ "WEBHOOK_TIMEOUT_MS", "99" },
	};
	struct config c;
	char err[256];

	clear_env();
	REQUIRE(load(&c, err, NULL) == Y_OK);
	CHECK(c.webhook_url == NULL && c.webhook_secret == NULL && c.webhook_events == NULL);
	CHECK_EQ_INT(c.webhook_retries, 2);
	CHECK_EQ_INT(c.webhook_backoff_ms, 1000);
	CHECK_EQ_INT(c.webhook_timeout_ms, 10000);
	config_release(&c);
	setenv("WEBHOOK_URL", "https://hooks.example.com/in?x=1", 1);
	setenv("WEBHOOK_EVENTS", "session.status,message", 1);
	REQUIRE(load(&c, err, (const char *const[]){ "--webhook-secret", "s3cr3t", NULL }) == Y_OK);
	CHECK_EQ_STR(c.webhook_url, "https://hooks.example.com/in?x=1");
	CHECK_EQ_STR(c.webhook_events, "session.status,message");
	CHECK_EQ_STR(c.webhook_secret, "s3cr3t");
	config_release(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		clear_env();
		setenv(bad[i][0], bad[i][1], 1);
		CHECK(load(&c, err, NULL) == Y_EINVAL);
		CHECK(strstr(err, bad[i][0]) != NULL);
	}
	clear_env();
}

int main(void)
{
	RUN(defaults);
	RUN(environment);
	RUN(flags_override_environment);
	RUN(invalid_values_are_named);
	RUN(bad_arguments);
	RUN(help_and_markdown_list_every_setting);
	RUN(sandbox_boolean_and_state_file);
	RUN(webhook_settings);
	return test_summary();
}
