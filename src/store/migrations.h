/*
 * The schema migrations embedded in the binary, generated at build time
 * from migrations/NNNN_name.sql by scripts/gen-migrations.sh into
 * $(GEN)/migrations.c. Versions run 1..store_migrations_count without gaps,
 * in order. Read-only; used by the store implementations.
 */
#ifndef YESAPP_STORE_MIGRATIONS_H
#define YESAPP_STORE_MIGRATIONS_H

struct store_migration {
	int version;
	const char *name; /* the file name between "NNNN_" and ".sql" */
	const char *sql;  /* the whole file, NUL-terminated */
};

extern const struct store_migration store_migrations[];
extern const int store_migrations_count;

#endif
