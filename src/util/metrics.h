/*
 * Process-wide counters for Prometheus (/metrics). Incrementing is a relaxed
 * atomic add: any thread, lock-free, no allocation, so hot paths (the loop,
 * HTTP threads, the worker) count without contention. Reading (the /metrics
 * handler) sees each counter's own latest value, not one consistent snapshot
 * of all, which is what Prometheus expects of counters.
 *
 * Labeled counters keep up to YMETRIC_LABELS distinct label values per
 * family; the first use of a value claims a slot with a compare-and-swap, and
 * values beyond that many are counted under "other", so a flood of odd
 * reasons cannot grow memory or the scrape.
 */
#ifndef YESAPP_UTIL_METRICS_H
#define YESAPP_UTIL_METRICS_H

#include <stdint.h>

#include "util/buf.h"

enum ymetric {
	YM_MESSAGES_SENT,      /* outbound messages the server acknowledged */
	YM_MESSAGES_RECEIVED,  /* inbound messages decrypted and stored */
	YM_WEBHOOK_DELIVERIES, /* webhook POSTs answered 2xx */
	YM_WEBHOOK_FAILURES,   /* webhook attempts that failed (to be retried or given up) */
	YM_RECONNECTS,         /* reconnects scheduled after a lost connection */
	YM_NOISE_HANDSHAKES,   /* Noise handshakes completed by clients */
	YM_NOISE_FAILURES,     /* Noise handshakes that failed */
	YM_LOOP_LATE_MS,       /* ms the WhatsApp loop's beat came late (>= 50 ms at a time) */
	YM_COUNT
};

enum ymetric_family {
	YMF_MESSAGES_FAILED, /* outbound messages that failed for good, by reason */
	YMF_COUNT
};

#define YMETRIC_LABELS 32
#define YMETRIC_LABEL_MAX 48 /* longer label values are cut */

void ymetric_add(enum ymetric m, uint64_t n);
static inline void ymetric_inc(enum ymetric m)
{
	ymetric_add(m, 1);
}
uint64_t ymetric_get(enum ymetric m);
/* Counts one under label value `label` (NULL or empty: "unknown"). */
void ymetric_inc_label(enum ymetric_family f, const char *label);

/* Appends every counter in Prometheus text format (HELP, TYPE, samples). */
int ymetric_write(struct ybuf *out);
/* Appends the process metrics: resident memory, open fds, threads, start
 * time (Unix seconds) and build info with `version`. */
int ymetric_write_process(struct ybuf *out, const char *version, int64_t start_unix_s);

/* Writes s as a Prometheus label value (backslash, quote and newline escaped). */
int ymetric_label_escape(struct ybuf *out, const char *s);

#endif
