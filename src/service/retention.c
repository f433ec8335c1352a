#include "service/retention.h"
#include "service/media.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS (24LL * 60 * 60 * 1000)

struct retention {
	struct store *st;           /* borrowed */
	int days;
	int64_t interval_ms;
	pthread_t thread;
	pthread_mutex_t lock;       /* guards stop */
	pthread_cond_t wake;        /* on CLOCK_MONOTONIC */
	int stop;
	char *data_dir;             /* retention_media: its media files too (guarded by lock) */
	atomic_uint_fast64_t runs;
};

int retention_prune(struct store *st, int days, int64_t now_ms, int64_t *deleted)
{
	int64_t n = 0;
	int rc;

	if (deleted)
		*deleted = 0;
	if (days <= 0)
		return Y_OK;
	rc = store_prune(st, now_ms - (int64_t)days * DAY_MS, &n);
	if (rc) {
		LOG_ERROR("retention: pruning failed", "{s:s, s:i}", "error", y_strerror(rc),
			  "retentionDays", days);
		return rc;
	}
	LOG_INFO("retention: pruned old rows", "{s:I, s:i}", "deleted", (json_int_t)n,
		 "retentionDays", days);
	if (deleted)
		*deleted = n;
	return Y_OK;
}

static void *retention_main(void *arg)
{
	struct retention *r = arg;
	struct timespec until;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += r->interval_ms / 1000;
		until.tv_nsec += (r->interval_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
			;
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->lock);
		retention_prune(r->st, r->days, clock_now_ms(), NULL);
		pthread_mutex_lock(&r->lock);
		if (r->data_dir) /* the files of the messages just pruned */
			media_sweep(r->st, r->data_dir, RETENTION_MEDIA_SWEEP_MAX);
		pthread_mutex_unlock(&r->lock);
		atomic_fetch_add(&r->runs, 1);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int retention_start(struct store *st, int days, int64_t interval_ms, struct retention **out)
{
	struct retention *r;
	pthread_condattr_t ca;

	*out = NULL;
	if (days <= 0)
		return Y_OK;
	if (interval_ms <= 0)
		return Y_EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return Y_ENOMEM;
	r->st = st;
	r->days = days;
	r->interval_ms = interval_ms;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->thread, NULL, retention_main, r)) {
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return Y_ENOMEM;
	}
	*out = r;
	return Y_OK;
}

uint64_t retention_runs(struct retention *r)
{
	return atomic_load(&r->runs);
}

void retention_stop(struct retention *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r->data_dir);
	free(r);
}

void retention_media(struct retention *r, const char *data_dir)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	free(r->data_dir);
	r->data_dir = data_dir ? strdup(data_dir) : NULL;
	pthread_mutex_unlock(&r->lock);
}
