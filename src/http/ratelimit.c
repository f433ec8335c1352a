#include "http/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PROBE 8
/* Tokens are kept in units of 1/60000 request: each millisecond adds
 * `per_minute` units, a request costs 60000. Integers only. */
#define COST 60000

struct bucket {
	uint64_t hash;    /* 0 = empty slot */
	int64_t tokens;   /* in units, 0..per_minute*COST */
	int64_t last_ms;  /* time of the last refill */
};

struct http_ratelimit {
	pthread_mutex_t lock;
	int per_minute;
	size_t mask;
	uint64_t seed;
	struct bucket *b;
};

/* FNV-1a with a per-process seed, finished with a 64-bit mixer. */
static uint64_t key_hash(uint64_t seed, const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)key[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h ? h : 1;
}

struct http_ratelimit *http_ratelimit_new(int per_minute, size_t slots)
{
	struct http_ratelimit *rl;
	size_t n = 64;

	if (per_minute < 1 || slots > ((size_t)1 << 24))
		return NULL;
	while (n < slots)
		n <<= 1;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->b = calloc(n, sizeof(*rl->b));
	if (!rl->b) {
		free(rl);
		return NULL;
	}
	if (getrandom(&rl->seed, sizeof(rl->seed), 0) != (ssize_t)sizeof(rl->seed))
		rl->seed = (uint64_t)(uintptr_t)rl;
	rl->per_minute = per_minute;
	rl->mask = n - 1;
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

void http_ratelimit_free(struct http_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->b);
	free(rl);
}

static void refill(const struct http_ratelimit *rl, struct bucket *b, int64_t now_ms)
{
	int64_t cap = (int64_t)rl->per_minute * COST;

	if (now_ms > b->last_ms) {
		int64_t dt = now_ms - b->last_ms;

		/* dt * per_minute cannot overflow before the bucket is full. */
		if (dt >= 60000)
			b->tokens = cap;
		else
			b->tokens += dt * rl->per_minute;
		if (b->tokens > cap)
			b->tokens = cap;
		b->last_ms = now_ms;
	}
}

int http_ratelimit_hit(struct http_ratelimit *rl, const char *key, size_t keylen, int64_t now_ms,
		       int *remaining, int *retry_after)
{
	uint64_t h = key_hash(rl->seed, key, keylen);
	struct bucket *b = NULL, *oldest = NULL;
	int allowed;

	pthread_mutex_lock(&rl->lock);
	for (size_t i = 0; i < PROBE; i++) {
		struct bucket *c = &rl->b[(h + i) & rl->mask];

		if (c->hash == h) {
			b = c;
			break;
		}
		if (c->hash == 0) {
			if (!oldest || oldest->hash != 0)
				oldest = c;
			continue;
		}
		if (!oldest || (oldest->hash != 0 && c->last_ms < oldest->last_ms))
			oldest = c;
	}
	if (!b) {
		b = oldest;
		b->hash = h;
		b->tokens = (int64_t)rl->per_minute * COST;
		b->last_ms = now_ms;
	}
	refill(rl, b, now_ms);
	if (b->tokens >= COST) {
		b->tokens -= COST;
		allowed = 1;
		*retry_after = 0;
	} else {
		int64_t missing_ms = (COST - b->tokens + rl->per_minute - 1) / rl->per_minute;

		allowed = 0;
		*retry_after = (int)((missing_ms + 999) / 1000);
		if (*retry_after < 1)
			*retry_after = 1;
	}
	*remaining = (int)(b->tokens / COST);
	pthread_mutex_unlock(&rl->lock);
	return allowed;
}
