/*
 * The event bell: rung by the store each time an event row is written
 * (store_set_event_hook), so that the webhook thread and the live streams
 * look at the outbox at once instead of polling it. Carries no data: the
 * outbox in the store is the only source of events (store.h).
 *
 * Threads: events_ring is what the store's hook calls, with the store's lock
 * held: it only takes the bell's own mutex and calls the `also` callback,
 * which must only signal too. events_wait is for any other thread.
 */
#ifndef YESAPP_SERVICE_EVENTS_H
#define YESAPP_SERVICE_EVENTS_H

#include <pthread.h>
#include <stdint.h>

struct events_bell {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint64_t rings;             /* guarded by mu */
	void (*also)(void *arg);    /* called after each ring; set and read under mu */
	void *also_arg;
};

void events_bell_init(struct events_bell *b);
void events_bell_destroy(struct events_bell *b);
/* The store hook (arg is the bell). */
void events_ring(void *arg);
/* The number of rings so far. */
uint64_t events_rings(struct events_bell *b);
/* Waits up to timeout_ms for the count to pass `seen`; returns the count. */
uint64_t events_wait(struct events_bell *b, uint64_t seen, int timeout_ms);

#endif
