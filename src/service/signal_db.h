/*
 * The Signal state of every session in the store (issue 9 §1): a
 * process-wide write-back cache in front of the wa_signal table, handing
 * each session a `struct wa_signal_store` (src/wa/signal_store.h) that
 * src/wa/signal.c runs on.
 *
 * The cache. One budget in bytes for the whole process (an entry costs its
 * key, its record and its bookkeeping). Entries are kept in LRU order and
 * clean ones are evicted as soon as the total is over budget, so an idle
 * session's state drains away under pressure while a busy one's stays warm
 * and its decrypts do not touch SQLite. Absent records are cached too (a
 * peer without a session is asked about on every send). Dirty entries (not
 * yet written) are never evicted: they may hold the cache over budget until
 * the next flush. One-time prekeys a session saves (made for an upload, read
 * at most once, by the pkmsg that uses one) are cold: once flushed they are
 * evicted at the next load or save whatever the budget, unless read first.
 *
 * Threads (the engine's, src/service/engine.h):
 *   loop thread    calls load/save/remove/each of every session's store
 *                  (they take the cache's mutex, never held across SQLite)
 *                  and sigdb_session_open/sigdb_drop_session. A load that
 *                  misses reads the row through the read connection given
 *                  to sigdb_new (store_open_reader, used by no other
 *                  thread): in WAL mode a reader never waits for the writer,
 *                  so a miss costs one indexed SELECT and no lock wait.
 *   worker thread  calls sigdb_flush with the writing store: it copies the
 *                  dirty entries under the mutex, writes them in one
 *                  transaction without it, then marks clean what did not
 *                  change meanwhile. One flusher at a time.
 *   any thread     sigdb_stats, sigdb_seq, sigdb_durable.
 * A save is visible to the next load at once (the dirty entry is the
 * value; a removal is a dirty "absent" entry); an entry becomes evictable
 * only after its write committed, and a read transaction begun after that
 * commit sees it, so a load after an eviction reads the new value.
 *
 * Durability. A crash loses the writes not yet flushed (at most the batch
 * since the last flush). What that means for Signal:
 *  - receiving: the lost state is an older point of the same chains, and
 *    chain keys only derive forward, so the peer's later messages (and a
 *    redelivery of the lost ones) still decrypt (test_signal_db shows it);
 *    a lost pkmsg session or a lost DH step that cannot be redone ends in a
 *    failed decrypt, answered with a retry receipt that makes the peer
 *    rebuild the session. Acknowledge a message to the server only after
 *    the flush that followed its decryption (with the stored message), so
 *    what was acknowledged is never lost.
 *  - sending is stricter: a ciphertext that left with a ratchet state we
 *    then lose makes our next message reuse that message key for another
 *    plaintext (a confidentiality loss, and the peer rejects it as a
 *    duplicate counter). So the send path must not hand an encrypted node
 *    to the socket before the state it produced is durable: take
 *    `seq = sigdb_seq(db)` after encrypting and send once
 *    `sigdb_durable(db, seq)` holds (the worker reports each flush to the
 *    loop, e.g. as a command). A worker that flushes before each batch of
 *    jobs gives the same order for free: any job the loop queues after a
 *    save runs after that save is committed, so its completion command can
 *    release the node.
 * Dirty bytes are bounded only by how often the worker flushes: flush on
 * on_dirty and before each job batch, and they stay a few batches' worth.
 *
 * Session lifetime: the store a session gets holds a reference; freeing it
 * (wa_signal_store_free) leaves its entries, dirty ones until flushed. When
 * a session is deleted or logged out, call sigdb_drop_session on the loop
 * before queuing the job that deletes its rows (store_session_delete /
 * store_creds_delete), so no later flush writes them back; flushes skip
 * sessions that no longer exist in any case.
 *
 * Wiring (engine.c):
 *   start     store_open_reader(DATABASE_URL, &e->sig_reader);
 *             e->sigdb = sigdb_new(e->sig_reader, 0, wake_flush, e);
 *             (wake_flush queues a flush job for the worker)
 *   client    opts.signal_store = sigdb_session_open(e->sigdb, session_id)
 *             before wa_client_new; wa_signal_store_free(it) after
 *             wa_client_free (loop thread)
 *   worker    sigdb_flush(e->sigdb, e->store, NULL) for that job and before
 *             each batch of jobs; after a flush, a command tells the loop,
 *             which sends the nodes whose sigdb_seq mark is now durable
 *   logout /  sigdb_drop_session(e->sigdb, id) on the loop, then the job
 *   delete    with store_creds_delete / store_session_delete
 *   stop      after the last client is freed and the worker drained:
 *             sigdb_flush, sigdb_free, store_close(e->sig_reader)
 */
#ifndef YESAPP_SERVICE_SIGNAL_DB_H
#define YESAPP_SERVICE_SIGNAL_DB_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "wa/signal_store.h"

struct sigdb;

/* The default budget: 64 MiB (a session record is ~1-4 KiB). */
#define SIGDB_DEFAULT_BUDGET (64u << 20)

/*
 * A new cache of at most `budget` bytes of clean entries (0: the default)
 * reading misses through `reader` (borrowed, used only from the loop
 * thread; may be the writing store itself in single-threaded tests).
 * on_dirty(ud), optional, is called without the mutex when the first
 * dirty entry appears after a flush (from the thread that saved), and at
 * the end of a successful flush when entries were saved while it wrote
 * (from the flushing thread): the engine queues a flush job there. After a
 * failed flush it is not called (no retry storm): the engine retries on its
 * next job batch or timer. NULL on ENOMEM.
 */
struct sigdb *sigdb_new(struct store *reader, size_t budget, void (*on_dirty)(void *ud),
			void *ud);
/* Frees every entry (unflushed writes are lost: flush first). Every store
 * from sigdb_session_open must be freed before. NULL is a no-op. */
void sigdb_free(struct sigdb *db);

/* The Signal store of session `session_id` (a UUID); free it with
 * wa_signal_store_free. NULL on ENOMEM or a bad id. */
struct wa_signal_store *sigdb_session_open(struct sigdb *db, const char *session_id);

/* Forgets every cached and unflushed record of the session. */
void sigdb_drop_session(struct sigdb *db, const char *session_id);

/* Writes every dirty entry in one transaction on `writer`. 0 (also when
 * nothing was dirty), Y_EBUSY if another flush is running, or the store's
 * error: the entries stay dirty and the next flush tries again. *written (may be NULL) gets the number of
 * records written. */
int sigdb_flush(struct sigdb *db, struct store *writer, size_t *written);

/* The sequence number of the latest save or remove (0 before any). */
uint64_t sigdb_seq(struct sigdb *db);
/* 1 when every write up to `seq` is committed (or dropped), else 0. */
int sigdb_durable(struct sigdb *db, uint64_t seq);

struct sigdb_stats {
	size_t bytes;       /* all entries */
	size_t dirty_bytes; /* entries not yet committed */
	size_t entries;
	size_t sessions;    /* sessions with a store open or entries cached */
	uint64_t hits, misses, evictions, flushed;
};
void sigdb_stats(struct sigdb *db, struct sigdb_stats *out);

#endif
