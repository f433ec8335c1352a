/* Group commit of accepted messages: see gcommit.h. */
#include "service/gcommit.h"

#include "util/err.h"
#include "util/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct gcommit {
	struct store *st;
	gcommit_done_fn done;
	void *ud;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gcommit_item *head, *tail; /* waiting, FIFO (mu) */
	bool stop;                        /* mu */
	/* the committer's own: one batch's rows, as the store takes them */
	struct store_message ms[GCOMMIT_BATCH_MAX], outs[GCOMMIT_BATCH_MAX];
	int rcs[GCOMMIT_BATCH_MAX];
	atomic_uint_fast64_t batches, rows;
};

/* Takes up to GCOMMIT_BATCH_MAX waiting items (mu held); NULL if none. */
static struct gcommit_item *take(struct gcommit *g, size_t *n)
{
	struct gcommit_item *list = g->head, *last = NULL, *it = list;

	*n = 0;
	for (; it && *n < GCOMMIT_BATCH_MAX; it = it->next, ++*n)
		last = it;
	g->head = it;
	if (!it)
		g->tail = NULL;
	if (last)
		last->next = NULL;
	return list;
}

/* One transaction for the n items of list, then done(). */
static void commit(struct gcommit *g, struct gcommit_item *list, size_t n)
{
	struct gcommit_item *it;
	size_t i;
	int rc;

	for (it = list, i = 0; it; it = it->next, i++)
		g->ms[i] = it->m; /* strings borrowed from the item */
	rc = store_messages_insert_batch(g->st, g->ms, n, g->rcs, g->outs);
	if (rc)
		LOG_WARN("accept: a group commit failed", "{s:s, s:I}", "error", y_strerror(rc),
			 "rows", (json_int_t)n);
	for (it = list, i = 0; it; it = it->next, i++) {
		memcpy(it->m.id, g->ms[i].id, sizeof(it->m.id)); /* filled in by the insert */
		it->m.created_at = g->ms[i].created_at;
		it->m.timestamp = g->ms[i].timestamp;
		it->m.updated_at = g->ms[i].updated_at;
		it->rc = g->rcs[i];
		it->out = g->outs[i]; /* moved: done releases it */
	}
	atomic_fetch_add(&g->batches, 1);
	atomic_fetch_add(&g->rows, n);
	g->done(g->ud, list);
}

static void *run(void *arg)
{
	struct gcommit *g = arg;
	struct gcommit_item *list;
	size_t n;

	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (!g->head && !g->stop)
			pthread_cond_wait(&g->cv, &g->mu);
		if (!g->head)
			break; /* stopping, nothing left */
		list = take(g, &n);
		pthread_mutex_unlock(&g->mu);
		commit(g, list, n);
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

int gcommit_new(struct store *st, gcommit_done_fn done, void *ud, struct gcommit **out)
{
	struct gcommit *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return Y_ENOMEM;
	g->st = st;
	g->done = done;
	g->ud = ud;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	if (pthread_create(&g->thread, NULL, run, g)) {
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g);
		return Y_EIO;
	}
	*out = g;
	return Y_OK;
}

int gcommit_submit(struct gcommit *g, struct gcommit_item *it)
{
	bool wake;

	pthread_mutex_lock(&g->mu);
	if (g->stop) {
		pthread_mutex_unlock(&g->mu);
		return Y_ESTATE;
	}
	it->next = NULL;
	wake = !g->head; /* the committer waits only on an empty list */
	if (g->tail)
		g->tail->next = it;
	else
		g->head = it;
	g->tail = it;
	if (wake)
		pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return Y_OK;
}

void gcommit_stop(struct gcommit *g)
{
	bool was;

	pthread_mutex_lock(&g->mu);
	was = g->stop;
	g->stop = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	if (!was) {
		pthread_join(g->thread, NULL); /* it empties the list before it ends */
		LOG_INFO("accept: group commits at stop", "{s:I, s:I}", "batches",
			 (json_int_t)atomic_load(&g->batches), "rows",
			 (json_int_t)atomic_load(&g->rows));
	}
}

void gcommit_free(struct gcommit *g)
{
	if (!g)
		return;
	gcommit_stop(g);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

void gcommit_stats(struct gcommit *g, uint64_t *batches, uint64_t *rows)
{
	*batches = atomic_load(&g->batches);
	*rows = atomic_load(&g->rows);
}
