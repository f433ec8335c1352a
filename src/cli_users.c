/* `yesapp users ...` and `yesapp keys create|list` (cli_users.h). */
#include "cli_users.h"
#include "auth/apikey.h"
#include "auth/users.h"
#include "http/router.h"
#include "util/clock.h"
#include "util/err.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char *const actions[] = { "create", "list", "disable", "enable", "passwd", NULL };

int cli_users_action_ok(const char *action)
{
	for (int i = 0; action && actions[i]; i++)
		if (!strcmp(action, actions[i]))
			return 1;
	return 0;
}

static void format_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !gmtime_r(&t, &tm)) {
		snprintf(out, 32, "-");
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One line from stdin into buf without its newline; with echo off on a
 * terminal. 0 on success. */
static int read_line(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), echo_off = 0;
	size_t n;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		if (!tcgetattr(STDIN_FILENO, &old)) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			echo_off = !tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		}
	}
	if (!fgets(buf, (int)len, stdin))
		buf[0] = '\0';
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return n ? 0 : -1;
}

/* A new password's hash from stdin (asked twice on a terminal). */
static int password_from_stdin(char hash[USERS_PW_HASH_MAX])
{
	char pw[USERS_PW_MAX + 2], again[USERS_PW_MAX + 2];
	int rc = EXIT_USAGE;

	if (read_line("password: ", pw, sizeof(pw))) {
		fprintf(stderr, "yesapp: no password given on standard input\n");
		goto out;
	}
	if (isatty(STDIN_FILENO) &&
	    (read_line("again: ", again, sizeof(again)) || strcmp(pw, again))) {
		fprintf(stderr, "yesapp: the passwords differ\n");
		goto out;
	}
	int hrc = users_password_hash(pw, hash);

	if (hrc == Y_EINVAL) {
		fprintf(stderr, "yesapp: a password has %d to %d characters\n", USERS_PW_MIN,
			USERS_PW_MAX);
		goto out;
	}
	rc = hrc ? EXIT_RUNTIME : 0;
	if (hrc)
		fprintf(stderr, "yesapp: cannot hash the password: %s\n", y_strerror(hrc));
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(again, sizeof(again));
	return rc;
}

/* A user by email (has an '@') or id. */
static int find_user(struct store *st, const char *who, struct store_user *u)
{
	int rc = strchr(who, '@') ? store_user_get(st, NULL, who, u, NULL)
				  : store_user_get(st, who, NULL, u, NULL);

	if (rc == Y_ENOTFOUND)
		fprintf(stderr, "yesapp: no user %s (see yesapp users list)\n", who);
	else if (rc)
		fprintf(stderr, "yesapp: cannot read users: %s\n", y_strerror(rc));
	return rc;
}

static int users_create(struct store *st, int argc, char **argv)
{
	const char *email = NULL, *role = NULL, *name = NULL;
	char hash[USERS_PW_HASH_MAX];
	int nopw = 0, r, rc;
	struct store_user u;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--role") && i + 1 < argc)
			role = argv[++i];
		else if (!strncmp(argv[i], "--role=", 7))
			role = argv[i] + 7;
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strncmp(argv[i], "--name=", 7))
			name = argv[i] + 7;
		else if (!strcmp(argv[i], "--no-password"))
			nopw = 1;
		else if (!email && argv[i][0] != '-')
			email = argv[i];
		else {
			fprintf(stderr, "yesapp: users create: unexpected %s\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!email || !strchr(email, '@')) {
		fprintf(stderr, "yesapp: users create needs an email address\n");
		return EXIT_USAGE;
	}
	r = http_role_parse(role ? role : "");
	if (!r) {
		fprintf(stderr, "yesapp: --role must be viewer, operator or admin\n");
		return EXIT_USAGE;
	}
	if (!nopw && (rc = password_from_stdin(hash)))
		return rc;
	rc = store_user_create(st, email, name ? name : "", r, nopw ? NULL : hash, &u);
	OPENSSL_cleanse(hash, sizeof(hash));
	if (rc == Y_EEXIST) {
		fprintf(stderr, "yesapp: a user with email %s exists\n", email);
		return EXIT_RUNTIME;
	}
	if (rc) {
		fprintf(stderr, "yesapp: cannot create the user: %s\n", y_strerror(rc));
		return EXIT_RUNTIME;
	}
	printf("%s\n", u.id);
	fprintf(stderr, "created user %s (%s)\n", u.email, http_role_name(u.role));
	store_user_release(&u);
	return 0;
}

static int users_list(struct store *st)
{
	struct store_user *u;
	size_t n;
	int rc = store_user_list(st, &u, &n);

	if (rc) {
		fprintf(stderr, "yesapp: cannot list users: %s\n", y_strerror(rc));
		return EXIT_RUNTIME;
	}
	printf("%-36s  %-28s  %-8s  %-8s  %-20s  %s\n", "ID", "EMAIL", "ROLE", "PASSWORD",
	       "LAST LOGIN", "DISABLED");
	for (size_t i = 0; i < n; i++) {
		char last[32];

		format_time(u[i].last_login_at, last);
		printf("%-36s  %-28s  %-8s  %-8s  %-20s  %s\n", u[i].id, u[i].email,
		       http_role_name(u[i].role), u[i].has_password ? "set" : "-", last,
		       u[i].disabled ? "yes" : "no");
	}
	store_users_free(u, n);
	return 0;
}

int cli_users(struct store *st, int argc, char **argv)
{
	struct store_user u;
	char hash[USERS_PW_HASH_MAX];
	const char *action = argv[0];
	int rc;

	if (!strcmp(action, "create"))
		return users_create(st, argc, argv);
	if (!strcmp(action, "list"))
		return argc == 1 ? users_list(st) : EXIT_USAGE;
	if (argc != 2) {
		fprintf(stderr, "yesapp: users %s needs one user (email or id)\n", action);
		return EXIT_USAGE;
	}
	if (find_user(st, argv[1], &u))
		return EXIT_RUNTIME;
	if (!strcmp(action, "passwd")) {
		rc = password_from_stdin(hash);
		if (!rc && (rc = store_user_set_password(st, u.id, hash))) {
			fprintf(stderr, "yesapp: cannot set the password: %s\n", y_strerror(rc));
			rc = EXIT_RUNTIME;
		}
		OPENSSL_cleanse(hash, sizeof(hash));
	} else {
		rc = store_user_set_disabled(st, u.id, !strcmp(action, "disable"));
		if (rc) {
			fprintf(stderr, "yesapp: cannot change the user: %s\n", y_strerror(rc));
			rc = EXIT_RUNTIME;
		}
	}
	if (!rc)
		printf("%s %s\n", !strcmp(action, "passwd") ? "password set for" :
			!strcmp(action, "disable") ? "disabled" : "enabled", u.email);
	store_user_release(&u);
	return rc;
}

/* "30d" / "12h" / "90m" / "3600s" / "3600" -> seconds; -1 if malformed. */
static long long duration_s(const char *s)
{
	char *end = NULL;
	long long v = strtoll(s, &end, 10), mul = 1;

	if (end == s || v <= 0)
		return -1;
	if (*end == 'd')
		mul = 86400;
	else if (*end == 'h')
		mul = 3600;
	else if (*end == 'm')
		mul = 60;
	else if (*end && *end != 's')
		return -1;
	if (*end && end[1])
		return -1;
	if (v > 10LL * 365 * 86400 / mul)
		return -1;
	return v * mul;
}

/* The first admin user, made (admin@localhost, no password) if none. */
static int default_user(struct store *st, struct store_user *out)
{
	struct store_user *u;
	size_t n;
	int rc = store_user_list(st, &u, &n);

	for (size_t i = 0; !rc && i < n; i++)
		if (u[i].role == STORE_ROLE_ADMIN && !u[i].disabled) {
			rc = store_user_get(st, u[i].id, NULL, out, NULL);
			store_users_free(u, n);
			return rc;
		}
	if (!rc)
		store_users_free(u, n);
	return rc ? rc : store_user_create(st, "admin@localhost", "Administrator",
					   STORE_ROLE_ADMIN, NULL, out);
}

#define CLI_SESSIONS_MAX 100

int cli_keys_create(struct store *st, const struct cli_key_opts *o)
{
	char key[APIKEY_HEX_LEN + 1], id[STORE_ID_LEN], buf[CLI_SESSIONS_MAX * 40];
	const char *ids[CLI_SESSIONS_MAX];
	int role = o->role ? http_role_parse(o->role) : STORE_ROLE_ADMIN, rc;
	long long exp_s = o->expires ? duration_s(o->expires) : 0;
	size_t ns = 0;
	struct store_user u;

	if (!role) {
		fprintf(stderr, "yesapp: --role must be viewer, operator or admin\n");
		return EXIT_USAGE;
	}
	if (exp_s < 0) {
		fprintf(stderr, "yesapp: --expires takes a duration: 30d, 12h, 90m or 3600s\n");
		return EXIT_USAGE;
	}
	if (o->sessions) {
		char *save = NULL;

		if (strlen(o->sessions) >= sizeof(buf)) {
			fprintf(stderr, "yesapp: --sessions: at most %d ids\n", CLI_SESSIONS_MAX);
			return EXIT_USAGE;
		}
		strcpy(buf, o->sessions);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (ns == CLI_SESSIONS_MAX || strlen(t) != 36) {
				fprintf(stderr, "yesapp: --sessions takes up to %d session ids, "
						"comma-separated\n", CLI_SESSIONS_MAX);
				return EXIT_USAGE;
			}
			ids[ns++] = t;
		}
		if (role == STORE_ROLE_ADMIN) {
			fprintf(stderr, "yesapp: a key limited to sessions cannot be admin "
					"(give --role operator or viewer)\n");
			return EXIT_USAGE;
		}
	}
	rc = o->user ? find_user(st, o->user, &u) : default_user(st, &u);
	if (rc)
		return EXIT_RUNTIME;
	rc = apikey_create_for(st, o->name ? o->name : "", u.id, role,
			       exp_s ? clock_now_ms() + exp_s * 1000 : 0, o->sessions != NULL, ids,
			       ns, key, id);
	if (rc == Y_EINVAL)
		fprintf(stderr, "yesapp: the key's role (%s) is above its user's (%s)\n",
			http_role_name(role), http_role_name(u.role));
	else if (rc == Y_ENOTFOUND)
		fprintf(stderr, "yesapp: a session in --sessions does not exist\n");
	else if (rc)
		fprintf(stderr, "yesapp: cannot create a key: %s\n", y_strerror(rc));
	if (rc) {
		store_user_release(&u);
		return EXIT_RUNTIME;
	}
	printf("%s\n", key);
	OPENSSL_cleanse(key, sizeof(key));
	fprintf(stderr, "created API key %s%s%s (%s, user %s%s); it is shown only this once\n", id,
		o->name ? " named " : "", o->name ? o->name : "", http_role_name(role), u.email,
		o->sessions ? ", limited to its sessions" : "");
	store_user_release(&u);
	return 0;
}

int cli_keys_list(struct store *st)
{
	struct store_key *k;
	size_t n;
	int rc = store_key_list(st, &k, &n);

	if (rc) {
		fprintf(stderr, "yesapp: cannot list keys: %s\n", y_strerror(rc));
		return EXIT_RUNTIME;
	}
	printf("%-36s  %-16s  %-8s  %-20s  %-20s  %-8s  %-24s  %-20s  %-20s  %s\n", "ID", "NAME",
	       "PREFIX", "CREATED", "LAST USED", "ROLE", "USER", "SESSIONS", "EXPIRES", "REVOKED");
	for (size_t i = 0; i < n; i++) {
		char created[32], used[32], expires[32];

		format_time(k[i].k.created_at, created);
		format_time(k[i].k.last_used_at, used);
		format_time(k[i].expires_at, expires);
		printf("%-36s  %-16s  %-8s  %-20s  %-20s  %-8s  %-24s  %-20s  %-20s  %s\n", k[i].k.id,
		       k[i].k.name && *k[i].k.name ? k[i].k.name : "-", k[i].k.prefix, created, used,
		       http_role_name(k[i].role), k[i].user_email ? k[i].user_email : "-",
		       !k[i].scoped ? "all" : *k[i].sessions ? k[i].sessions : "none", expires,
		       k[i].k.revoked ? "yes" : "no");
	}
	store_keys_free(k, n);
	return 0;
}
