/*
 * The simulator on its own thread (see sim.h, "in-process"). The thread
 * runs sim_run on the simulator's loop and frees the simulator when the
 * loop ends; other threads only queue jobs and wait for them.
 *
 * A job is shared by the caller and the loop thread, each holding one
 * reference; whoever drops the last one frees it, so a caller that gives up
 * on a timeout leaves the loop thread a job it can still finish safely.
 * Everything a job reads or writes lives in the job itself.
 */
#include "sim/sim_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

struct job {
	struct job *next;
	int refs;         /* guarded by t->mu */
	bool done;        /* guarded by t->mu */
	int rc;
	char phone[SIM_PHONE_MAX + 1];
	char *qr;         /* owned */
	char jid[128];
};

struct sim_thread {
	struct sim *sim;          /* owned by the thread once it runs */
	struct sim_thread_info info;
	pthread_t thread;
	uv_async_t async;         /* loop side: jobs or stop */
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* a job is done */
	struct job *head, *tail;  /* guarded by mu */
	bool stopping;            /* guarded by mu; no job is queued after it */
	bool running;             /* the thread runs (set before other threads call) */
};

/* Drops one reference; frees the job with the last. Called with t->mu held. */
static void job_unref(struct job *j)
{
	if (--j->refs > 0)
		return;
	free(j->qr);
	free(j);
}

/* On the loop thread. */
static void job_run(struct sim *s, struct job *j)
{
	if (!sim_account_get(s, j->phone)) {
		j->rc = Y_ENOMEM;
		return;
	}
	j->rc = sim_conn_scan(s, j->phone, j->qr, j->jid, sizeof(j->jid));
	s->state_gen++; /* an account may be new: save it */
}

static void on_async(uv_async_t *a)
{
	struct sim_thread *t = a->data;
	struct job *list;
	bool stop;

	pthread_mutex_lock(&t->mu);
	list = t->head;
	t->head = t->tail = NULL;
	stop = t->stopping;
	pthread_mutex_unlock(&t->mu);
	while (list) {
		struct job *j = list;

		list = j->next;
		job_run(t->sim, j);
		pthread_mutex_lock(&t->mu);
		j->done = true;
		job_unref(j);
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
	}
	if (stop) { /* nothing is queued after stopping was set */
		uv_close((uv_handle_t *)&t->async, NULL);
		sim_stop(t->sim);
	}
}

static void *thread_main(void *arg)
{
	struct sim_thread *t = arg;

	sim_run(t->sim);
	sim_free(t->sim);
	t->sim = NULL;
	return NULL;
}

int sim_thread_new(const struct sim_opts *o, struct sim_thread **out)
{
	struct sim_thread *t = calloc(1, sizeof(*t));
	struct sim_opts so;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!t)
		return Y_ENOMEM;
	memset(&so, 0, sizeof(so));
	if (o)
		so = *o;
	so.defer_tls = true;
	rc = sim_new(&so, &t->sim);
	if (rc) {
		free(t);
		return rc;
	}
	snprintf(t->info.ws_url, sizeof(t->info.ws_url), "ws://%s:%d/ws/chat", t->sim->host,
		 t->sim->port);
	snprintf(t->info.control_url, sizeof(t->info.control_url), "http://%s:%d/sim",
		 t->sim->host, t->sim->port);
	memcpy(t->info.root_pub, t->sim->root.pub, sizeof(t->info.root_pub));
	for (int i = 0; i < 32; i++)
		snprintf(t->info.root_hex + 2 * i, 3, "%02x", t->info.root_pub[i]);
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = t;
	return Y_OK;
}

int sim_thread_run(struct sim_thread *t)
{
	int rc;

	if (t->running)
		return Y_ESTATE;
	rc = sim_media_start(t->sim);
	if (rc)
		return rc;
	uv_async_init(wa_loop_uv(t->sim->loop), &t->async, on_async);
	t->async.data = t;
	if (pthread_create(&t->thread, NULL, thread_main, t)) {
		uv_close((uv_handle_t *)&t->async, NULL);
		uv_run(wa_loop_uv(t->sim->loop), UV_RUN_NOWAIT);
		return Y_ENOMEM;
	}
	t->running = true;
	return Y_OK;
}

int sim_thread_start(const struct sim_opts *o, struct sim_thread **out)
{
	int rc = sim_thread_new(o, out);

	if (!rc && (rc = sim_thread_run(*out))) {
		sim_thread_stop(*out);
		*out = NULL;
	}
	return rc;
}

const struct sim_thread_info *sim_thread_info(const struct sim_thread *t)
{
	return &t->info;
}

int sim_thread_scan(struct sim_thread *t, const char *phone, const char *qr, char *jid,
		    size_t jid_cap, int timeout_ms)
{
	struct timespec until = clock_deadline(CLOCK_MONOTONIC, timeout_ms > 0 ? timeout_ms : 0);
	struct job *j;
	int rc;

	if (!qr)
		return Y_EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return Y_ENOMEM;
	if (sim_phone_norm(phone, j->phone)) {
		free(j);
		return Y_EINVAL;
	}
	j->qr = strdup(qr);
	if (!j->qr) {
		free(j);
		return Y_ENOMEM;
	}
	j->refs = 2;
	pthread_mutex_lock(&t->mu);
	if (t->stopping || !t->running) {
		pthread_mutex_unlock(&t->mu);
		free(j->qr);
		free(j);
		return Y_ECLOSED;
	}
	if (t->tail)
		t->tail->next = j;
	else
		t->head = j;
	t->tail = j;
	uv_async_send(&t->async);
	/* timeout_ms <= 0 does not wait at all: a timed wait whose deadline
	 * has passed still lets go of the mutex for a moment, in which the
	 * loop could finish the job (a test saw it once) */
	while (!j->done && timeout_ms > 0)
		if (pthread_cond_timedwait(&t->cv, &t->mu, &until))
			break; /* ETIMEDOUT: the job stays the loop's to finish */
	if (j->done) {
		rc = j->rc;
		if (!rc && jid && jid_cap)
			snprintf(jid, jid_cap, "%s", j->jid);
	} else {
		rc = Y_ETIMEOUT;
	}
	job_unref(j);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void sim_thread_stop(struct sim_thread *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stopping = true;
	if (t->running)
		uv_async_send(&t->async);
	pthread_mutex_unlock(&t->mu);
	if (t->running)
		pthread_join(t->thread, NULL);
	else
		sim_free(t->sim); /* never served: nothing changed since it was loaded */
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}
