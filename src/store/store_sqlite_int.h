/*
 * What the SQLite store's other files (store_users.c) share with
 * store_sqlite.c. Not for other modules.
 */
#ifndef YESAPP_STORE_SQLITE_INT_H
#define YESAPP_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store.h"

/* Takes the store's mutex (every call is serialized on it) and returns the
 * connection; store_sqlite_unlock gives the mutex back. */
sqlite3 *store_sqlite_lock(struct store *st);
void store_sqlite_unlock(struct store *st);

#endif
