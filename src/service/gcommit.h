/*
 * Group commit of accepted messages (POST /messages, issue 9): one thread,
 * the committer, that takes every row waiting, inserts them all in ONE
 * transaction (store_messages_insert_batch: each row copied as stored),
 * commits, then hands the batch to done(). While one batch commits the next
 * one gathers, so the cost of a commit (BEGIN IMMEDIATE, the WAL append, the
 * store's mutex) is paid once per batch instead of once per message, and no
 * caller is answered before its row is durable.
 *
 * Ownership: gcommit_new borrows st (it outlives the committer); an item
 * given to gcommit_submit is the committer's until done() gets it back,
 * its m strings stay the submitter's (alive until done). done() runs on the
 * committer thread, once per batch, with the batch's items in the order
 * they were submitted; it takes the list, with each item's rc set and, for
 * rc == Y_OK, its out filled (the row as stored, for done to release).
 */
#ifndef YESAPP_SERVICE_GCOMMIT_H
#define YESAPP_SERVICE_GCOMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The most rows one transaction takes (what waits beyond it goes next). */
#define GCOMMIT_BATCH_MAX 512

struct gcommit_item {
	struct gcommit_item *next; /* private: the committer's list */
	struct store_message m;    /* the row to insert (store_message_insert's rules) */
	int rc;                    /* set before done: the row's result */
	struct store_message out;  /* set before done: the row read back (rc == Y_OK) */
};

struct gcommit;

typedef void (*gcommit_done_fn)(void *ud, struct gcommit_item *list);

/* Starts the committer thread. Y_ENOMEM, Y_EIO (no thread). */
int gcommit_new(struct store *st, gcommit_done_fn done, void *ud, struct gcommit **out);
/* Any thread: queues it (taken until done gets it back) and returns at
 * once. Y_ESTATE once gcommit_free has begun (it is not taken then). */
int gcommit_submit(struct gcommit *g, struct gcommit_item *it);
/* Commits and hands back what is queued, then joins the thread; later
 * submits get Y_ESTATE. Idempotent (from one thread). */
void gcommit_stop(struct gcommit *g);
/* gcommit_stop unless done already, then frees. NULL is a no-op. */
void gcommit_free(struct gcommit *g);
/* Batches committed and rows they held since start (any thread). */
void gcommit_stats(struct gcommit *g, uint64_t *batches, uint64_t *rows);

#endif
