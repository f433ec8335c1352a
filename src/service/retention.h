/*
 * Retention: deletes messages and webhook log rows older than RETENTION_DAYS
 * (0 keeps everything), once at start-up and then periodically on a timer
 * thread of its own. The store is borrowed and must outlive the timer.
 */
#ifndef YESAPP_SERVICE_RETENTION_H
#define YESAPP_SERVICE_RETENTION_H

#include <stdint.h>

#include "store/store.h"

#define RETENTION_INTERVAL_MS (60 * 60 * 1000) /* how often the timer prunes */

struct retention;

/*
 * One pruning step: deletes rows older than `days` days before `now_ms`
 * (ms since the epoch) and logs how many went. days <= 0 deletes nothing.
 * *deleted (may be NULL) gets the row count.
 */
int retention_prune(struct store *st, int days, int64_t now_ms, int64_t *deleted);

/* Starts a thread that runs retention_prune(st, days, now) every
 * interval_ms (the first time after one interval). days <= 0 starts
 * nothing: *out is NULL and the result Y_OK. */
int retention_start(struct store *st, int days, int64_t interval_ms, struct retention **out);
/* How many pruning steps the thread has finished (for tests). */
uint64_t retention_runs(struct retention *r);
/* Wakes the thread, waits for it to end and frees it. NULL is a no-op. */
void retention_stop(struct retention *r);
/* After each run, also removes the files under data_dir/media whose
 * message is gone (media_sweep), at most RETENTION_MEDIA_SWEEP_MAX a run.
 * NULL r is a no-op; data_dir is copied. */
#define RETENTION_MEDIA_SWEEP_MAX 100000
void retention_media(struct retention *r, const char *data_dir);

#endif
