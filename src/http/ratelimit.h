/*
 * A global request rate limiter: one token bucket per client identity (an
 * API key id, or the client IP for requests without a valid key). A bucket
 * holds `per_minute` requests and refills continuously at per_minute/60 per
 * second, so a client may burst up to the limit and then proceeds at the
 * steady rate.
 *
 * Memory is fixed at creation: a table of `slots` buckets. When the probe
 * window of a new identity is full, the bucket idle the longest is reused, so
 * a flood of distinct identities can reset an idle client's bucket but never
 * grows memory. Thread-safe (one mutex). Time is passed in so tests are
 * deterministic.
 */
#ifndef YESAPP_HTTP_RATELIMIT_H
#define YESAPP_HTTP_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct http_ratelimit;

/* per_minute >= 1; slots is rounded up to a power of two (min 64).
 * NULL on ENOMEM or bad arguments. */
struct http_ratelimit *http_ratelimit_new(int per_minute, size_t slots);
void http_ratelimit_free(struct http_ratelimit *rl); /* NULL is a no-op */

/*
 * Takes one request from the bucket of `key` (borrowed; any bytes) at time
 * now_ms (a monotonic clock). Returns 1 if allowed, 0 if limited. On return
 * *remaining is the whole requests left and, when limited, *retry_after the
 * seconds (>= 1) until one request is available again.
 */
int http_ratelimit_hit(struct http_ratelimit *rl, const char *key, size_t keylen, int64_t now_ms,
		       int *remaining, int *retry_after);

#endif
