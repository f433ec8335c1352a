/*
 * `yesapp users ...` and the owner/role/scope parts of `yesapp keys ...`
 * (docs/auth.md). Called by main.c with the store open and the settings'
 * flags already taken out of argv. Passwords are read from standard input
 * (a prompt without echo on a terminal, else its first line), never from
 * the command line. Return exit codes: 0, 1 runtime failure, 2 usage.
 */
#ifndef YESAPP_CLI_USERS_H
#define YESAPP_CLI_USERS_H

#include "store/store.h"

/* argv[0] is the action: create EMAIL --role R [--name N] [--no-password],
 * list, disable EMAIL|ID, enable EMAIL|ID, passwd EMAIL|ID. */
int cli_users(struct store *st, int argc, char **argv);
/* 1 if the action is one cli_users knows. */
int cli_users_action_ok(const char *action);

struct cli_key_opts {
	const char *name;
	const char *role;      /* NULL: admin */
	const char *user;      /* email or id; NULL: the first admin user */
	const char *sessions;  /* "ID,ID"; NULL: not scoped */
	const char *expires;   /* "30d", "12h", "90m", "3600s" or seconds; NULL: never */
};
int cli_keys_create(struct store *st, const struct cli_key_opts *o);
int cli_keys_list(struct store *st);

#endif
