/*
 * Where the Signal layer keeps its state: a small key-value interface of
 * ours that src/wa/signal.c maps libsignal-protocol-c's five store callback
 * tables onto, and an in-memory implementation (the simulator keeps its
 * state in memory; a SQL-backed implementation for the client comes later).
 *
 * Records are opaque bytes (libsignal's own serialization). Keys are short
 * printable strings chosen by signal.c, per kind:
 *   SESSION        "<name>.<device>"           (a session record)
 *   IDENTITY       "<name>.<device>"           (33-byte 0x05||pub of a peer)
 *   PREKEY         "<id>" decimal              (a one-time prekey record)
 *   SIGNED_PREKEY  "<id>" decimal              (a signed prekey record)
 *   SENDER_KEY     "<group>::<name>::<device>" (a sender key record)
 * Names never contain '.', so the prefix "<name>." selects all devices of
 * one user.
 *
 * Ownership: the store copies what it is given; `load` appends a copy into
 * the caller's buffer. A store is used by one thread at a time.
 */
#ifndef YESAPP_WA_SIGNAL_STORE_H
#define YESAPP_WA_SIGNAL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum wa_signal_kind {
	WA_SIGNAL_SESSION = 0,
	WA_SIGNAL_IDENTITY = 1,
	WA_SIGNAL_PREKEY = 2,
	WA_SIGNAL_SIGNED_PREKEY = 3,
	WA_SIGNAL_SENDER_KEY = 4,
	WA_SIGNAL_KIND_COUNT
};

/* Longest key a store must accept (bytes, excluding the NUL). */
#define WA_SIGNAL_STORE_KEY_MAX 400
/* Largest record; a session record with many skipped message keys stays far below. */
#define WA_SIGNAL_STORE_RECORD_MAX (16u << 20)

/* Called by `each` once per matching key; a non-zero return stops the walk
 * and is passed back. The key is only valid during the call. */
typedef int (*wa_signal_store_each_fn)(const char *key, void *arg);

struct wa_signal_store {
	void *ud; /* private to the implementation */
	/* Appends the record into out. 0, Y_ENOTFOUND, Y_ETOOBIG, Y_ENOMEM, Y_EDB. */
	int (*load)(void *ud, enum wa_signal_kind kind, const char *key, struct ybuf *out);
	/* Inserts or replaces. 0, Y_ENOMEM, Y_ETOOBIG, Y_EDB. */
	int (*save)(void *ud, enum wa_signal_kind kind, const char *key, const uint8_t *data,
		    size_t len);
	/* Removes; 0 also when absent. */
	int (*remove)(void *ud, enum wa_signal_kind kind, const char *key);
	/* Calls fn for every key of `kind` starting with `prefix` (order unspecified).
	 * fn must not modify the store. */
	int (*each)(void *ud, enum wa_signal_kind kind, const char *prefix, wa_signal_store_each_fn fn,
		    void *arg);
	/* Releases ud; called by wa_signal_store_free. May be NULL. */
	void (*destroy)(void *ud);
};

/* A new empty in-memory store (a hash table). Caller frees with
 * wa_signal_store_free. NULL on ENOMEM. */
struct wa_signal_store *wa_signal_memstore_new(void);
/* Number of records of `kind` in an in-memory store (for tests and metrics). */
size_t wa_signal_memstore_count(const struct wa_signal_store *st, enum wa_signal_kind kind);

/* Destroys any store (calls its destroy) and frees the struct. NULL is a no-op. */
void wa_signal_store_free(struct wa_signal_store *st);

#endif
