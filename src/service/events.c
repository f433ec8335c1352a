/* The event bell (see events.h). */
#include "service/events.h"
#include "util/clock.h"

#include <time.h>

void events_bell_init(struct events_bell *b)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	b->rings = 0;
	b->also = NULL;
	b->also_arg = NULL;
}

void events_bell_destroy(struct events_bell *b)
{
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->mu);
}

void events_ring(void *arg)
{
	struct events_bell *b = arg;
	void (*also)(void *);
	void *also_arg;

	pthread_mutex_lock(&b->mu);
	b->rings++;
	pthread_cond_broadcast(&b->cond);
	also = b->also;
	also_arg = b->also_arg;
	pthread_mutex_unlock(&b->mu);
	if (also)
		also(also_arg);
}

uint64_t events_rings(struct events_bell *b)
{
	uint64_t n;

	pthread_mutex_lock(&b->mu);
	n = b->rings;
	pthread_mutex_unlock(&b->mu);
	return n;
}

uint64_t events_wait(struct events_bell *b, uint64_t seen, int timeout_ms)
{
	struct timespec deadline = clock_deadline(CLOCK_MONOTONIC, timeout_ms);
	uint64_t n;

	pthread_mutex_lock(&b->mu);
	while (b->rings == seen &&
	       pthread_cond_timedwait(&b->cond, &b->mu, &deadline) == 0)
		;
	n = b->rings;
	pthread_mutex_unlock(&b->mu);
	return n;
}
