/*
 * Internals of the SQLite store that tests need. Not for other modules.
 */
#ifndef YESAPP_STORE_SQLITE_H
#define YESAPP_STORE_SQLITE_H

#include "store/store.h"

/* store_open, but applies migrations only up to version `upto` (for tests
 * that build a database at an older schema version). */
int store_sqlite_open_upto(const char *url, int upto, struct store **out);
/* Changes how long a call waits for another connection's lock before it
 * fails with Y_EBUSY (default 5000 ms). */
void store_sqlite_set_busy_timeout(struct store *st, int ms);

/* The connection's PRAGMA synchronous (1 NORMAL, 2 FULL), or < 0 on error. */
int store_sqlite_synchronous(struct store *st);

/* The SQL of a filtered message page into buf (Y_ETOOBIG if it does not
 * fit), and of a chat page (with a cursor when after != 0): for tests that
 * check the query plans use indexes. */
int store_sqlite_message_filter_sql(const struct store_message_filter *f, int after, char *buf,
				    size_t cap);
const char *store_sqlite_chat_list_sql(int after);

#endif
