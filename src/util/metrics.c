/* Counters for /metrics: see metrics.h. */
#include "util/metrics.h"

#include "util/err.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic uint64_t counters[YM_COUNT];

struct label_slot {
	_Atomic int state; /* 0 free, 1 being written, 2 ready */
	char value[YMETRIC_LABEL_MAX + 1];
	_Atomic uint64_t n;
};

static struct {
	struct label_slot slot[YMETRIC_LABELS];
	_Atomic uint64_t other;
} families[YMF_COUNT];

static const struct {
	const char *name, *help;
} counter_info[YM_COUNT] = {
	[YM_MESSAGES_SENT] = { "yesapp_messages_sent_total",
			       "Outbound messages acknowledged by the WhatsApp server." },
	[YM_MESSAGES_RECEIVED] = { "yesapp_messages_received_total",
				   "Inbound messages decrypted and stored." },
	[YM_WEBHOOK_DELIVERIES] = { "yesapp_webhook_deliveries_total",
				    "Webhook deliveries answered with a 2xx status." },
	[YM_WEBHOOK_FAILURES] = { "yesapp_webhook_failures_total",
				  "Webhook delivery attempts that failed." },
	[YM_RECONNECTS] = { "yesapp_reconnects_total",
			    "Reconnects scheduled after a lost WhatsApp connection." },
	[YM_NOISE_HANDSHAKES] = { "yesapp_noise_handshakes_total",
				  "Noise handshakes with the WhatsApp server completed." },
	[YM_NOISE_FAILURES] = { "yesapp_noise_handshake_failures_total",
				"Noise handshakes with the WhatsApp server that failed." },
	[YM_LOOP_LATE_MS] = { "yesapp_loop_late_milliseconds_total",
			      "Milliseconds by which the WhatsApp loop's 1 s beat came late, "
			      "summed over beats at least 50 ms late (a stalled loop shows here)." },
};

static const struct {
	const char *name, *help, *label;
} family_info[YMF_COUNT] = {
	[YMF_MESSAGES_FAILED] = { "yesapp_messages_failed_total",
				  "Outbound messages that failed for good, by reason.", "reason" },
};

void ymetric_add(enum ymetric m, uint64_t n)
{
	if ((unsigned)m < YM_COUNT)
		atomic_fetch_add_explicit(&counters[m], n, memory_order_relaxed);
}

uint64_t ymetric_get(enum ymetric m)
{
	return (unsigned)m < YM_COUNT ? atomic_load_explicit(&counters[m], memory_order_relaxed) :
					0;
}

void ymetric_inc_label(enum ymetric_family f, const char *label)
{
	char v[YMETRIC_LABEL_MAX + 1];

	if ((unsigned)f >= YMF_COUNT)
		return;
	snprintf(v, sizeof(v), "%s", label && *label ? label : "unknown");
	for (int i = 0; i < YMETRIC_LABELS; i++) {
		struct label_slot *sl = &families[f].slot[i];
		int st = atomic_load_explicit(&sl->state, memory_order_acquire);

		if (st == 0) {
			int expect = 0;

			if (atomic_compare_exchange_strong(&sl->state, &expect, 1)) {
				memcpy(sl->value, v, sizeof(v));
				atomic_store_explicit(&sl->state, 2, memory_order_release);
				atomic_fetch_add_explicit(&sl->n, 1, memory_order_relaxed);
				return;
			}
			st = expect;
		}
		while (st == 1) /* another thread is writing this slot's value */
			st = atomic_load_explicit(&sl->state, memory_order_acquire);
		if (!strcmp(sl->value, v)) {
			atomic_fetch_add_explicit(&sl->n, 1, memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&families[f].other, 1, memory_order_relaxed);
}

int ymetric_label_escape(struct ybuf *out, const char *s)
{
	int rc = Y_OK;

	for (; *s && rc == Y_OK; s++) {
		if (*s == '\\')
			rc = ybuf_append_str(out, "\\\\");
		else if (*s == '"')
			rc = ybuf_append_str(out, "\\\"");
		else if (*s == '\n')
			rc = ybuf_append_str(out, "\\n");
		else
			rc = ybuf_append_byte(out, (uint8_t)*s);
	}
	return rc;
}

static int family_write(struct ybuf *out, enum ymetric_family f)
{
	const char *name = family_info[f].name;
	uint64_t other = atomic_load_explicit(&families[f].other, memory_order_relaxed);
	int rc;

	rc = ybuf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, family_info[f].help, name);
	for (int i = 0; rc == Y_OK && i < YMETRIC_LABELS; i++) {
		struct label_slot *sl = &families[f].slot[i];

		if (atomic_load_explicit(&sl->state, memory_order_acquire) != 2)
			continue;
		rc = ybuf_printf(out, "%s{%s=\"", name, family_info[f].label);
		if (rc == Y_OK)
			rc = ymetric_label_escape(out, sl->value);
		if (rc == Y_OK)
			rc = ybuf_printf(out, "\"} %llu\n",
					 (unsigned long long)atomic_load_explicit(
						 &sl->n, memory_order_relaxed));
	}
	if (rc == Y_OK && other)
		rc = ybuf_printf(out, "%s{%s=\"other\"} %llu\n", name, family_info[f].label,
				 (unsigned long long)other);
	return rc;
}

int ymetric_write(struct ybuf *out)
{
	int rc = Y_OK;

	for (int m = 0; rc == Y_OK && m < YM_COUNT; m++)
		rc = ybuf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
				 counter_info[m].name, counter_info[m].help, counter_info[m].name,
				 counter_info[m].name, (unsigned long long)ymetric_get(m));
	for (int f = 0; rc == Y_OK && f < YMF_COUNT; f++)
		rc = family_write(out, f);
	return rc;
}

/* "Threads:" from /proc/self/status, or -1. */
static long proc_threads(void)
{
	char line[256];
	long n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

static long proc_fds(void)
{
	long n = 0;
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static long long proc_rss_bytes(void)
{
	long long size = 0, rss = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

int ymetric_write_process(struct ybuf *out, const char *version, int64_t start_unix_s)
{
	long long rss = proc_rss_bytes();
	long fds = proc_fds(), threads = proc_threads();
	int rc = Y_OK;

	if (rss >= 0)
		rc = ybuf_printf(out,
				 "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
				 "# TYPE process_resident_memory_bytes gauge\n"
				 "process_resident_memory_bytes %lld\n",
				 rss);
	if (rc == Y_OK && fds >= 0)
		rc = ybuf_printf(out,
				 "# HELP process_open_fds Number of open file descriptors.\n"
				 "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
				 fds);
	if (rc == Y_OK && threads >= 0)
		rc = ybuf_printf(out,
				 "# HELP process_threads Number of OS threads.\n"
				 "# TYPE process_threads gauge\nprocess_threads %ld\n",
				 threads);
	if (rc == Y_OK)
		rc = ybuf_printf(out,
				 "# HELP process_start_time_seconds Start time since the Unix epoch.\n"
				 "# TYPE process_start_time_seconds gauge\n"
				 "process_start_time_seconds %lld\n"
				 "# HELP yesapp_build_info The running build.\n"
				 "# TYPE yesapp_build_info gauge\nyesapp_build_info{version=\"",
				 (long long)start_unix_s);
	if (rc == Y_OK)
		rc = ymetric_label_escape(out, version ? version : "unknown");
	if (rc == Y_OK)
		rc = ybuf_append_str(out, "\"} 1\n");
	return rc;
}
