/*
 * Webhook delivery on a thread of its own with libcurl multi (see
 * webhook.h). The thread owns the multi handle and every easy handle; the
 * only things other threads touch are `stop` and curl_multi_wakeup.
 */
#include "service/webhook.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FANOUT_BATCH 500   /* events fanned out per store call */
#define DUE_BATCH 64       /* heads looked at per round */
#define IDLE_POLL_MS 1000  /* longest sleep without a wake-up */

struct xfer {
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	int64_t delivery_id, event_id, started_ms;
	int attempt;
	char session_id[STORE_ID_LEN];
	char *url, *type;
	size_t got;                  /* response bytes read */
	char err[CURL_ERROR_SIZE];
};

struct webhook {
	struct store *st;
	struct svc *svc;
	char *url, *secret, *ca_file;
	char **types;                /* NULL-terminated, NULL = all */
	int retries, backoff_ms, timeout_ms;
	CURLM *multi;
	pthread_t thread;
	atomic_int stop;
	struct xfer *inflight[WEBHOOK_INFLIGHT_MAX];
	int ninflight;
	atomic_uint_fast64_t failed;
};

void webhook_sign(const char *secret, const char *body, size_t len, char out[WEBHOOK_SIG_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	memcpy(out, "sha256=", 7);
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac,
		  &n) || n != 32) {
		memset(out + 7, '0', 64); /* never happens with OpenSSL's SHA-256 */
		n = 0;
	}
	for (unsigned int i = 0; i < n; i++) {
		out[7 + 2 * i] = hex[mac[i] >> 4];
		out[8 + 2 * i] = hex[mac[i] & 15];
	}
	out[WEBHOOK_SIG_LEN - 1] = '\0';
}

static void iso_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, 32, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out + 19, 13, ".%03dZ", (int)(ms % 1000));
}

char *webhook_body(const struct store_event *ev, int64_t ts_s)
{
	json_t *data = json_loads(ev->data, JSON_REJECT_DUPLICATES, NULL), *o;
	char when[32], *text = NULL;

	if (!json_is_object(data)) {
		json_decref(data);
		return NULL;
	}
	iso_time(ev->created_at, when);
	o = json_pack("{s:s, s:I, s:s?, s:I, s:s}", "event", ev->type, "eventId",
		      (json_int_t)ev->id, "sessionId", ev->session_id[0] ? ev->session_id : NULL,
		      "timestamp", (json_int_t)ts_s, "occurredAt", when);
	if (o && !json_object_update_missing(o, data))
		text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	json_decref(data);
	return text;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	(void)p;
	x->got += size * n;
	return x->got > WEBHOOK_BODY_MAX ? 0 : size * n; /* 0 ends the transfer */
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	free(x->body);
	free(x->url);
	free(x->type);
	free(x);
}

/* Records the outcome of attempt x->attempt and ends the delivery or
 * schedules the next attempt. */
static void record(struct webhook *w, struct xfer *x, int http_status, const char *error,
		   int final)
{
	struct store_attempt a;
	int64_t now = clock_now_ms();
	int rc;

	memset(&a, 0, sizeof(a));
	a.delivery_id = x->delivery_id;
	a.attempt = x->attempt;
	a.http_status = http_status;
	a.duration_ms = x->started_ms ? clock_mono_ms() - x->started_ms : 0;
	a.error = error;
	if (!error) {
		a.state = "delivered";
	} else if (final || x->attempt > w->retries) {
		a.state = "failed";
	} else {
		int shift = x->attempt - 1 < 20 ? x->attempt - 1 : 20;

		a.state = "pending";
		a.next_at = now + ((int64_t)w->backoff_ms << shift);
	}
	ymetric_inc(error ? YM_WEBHOOK_FAILURES : YM_WEBHOOK_DELIVERIES);
	rc = store_webhook_attempt(w->st, &a);
	if (rc)
		LOG_ERROR("webhook: cannot record an attempt (it will be made again)",
			  "{s:I, s:s}", "eventId", (json_int_t)x->event_id, "error", y_strerror(rc));
	if (!strcmp(a.state, "failed")) {
		atomic_fetch_add(&w->failed, 1);
		LOG_ERROR("webhook delivery failed", "{s:I, s:s, s:s, s:s, s:i, s:s}", "eventId",
			  (json_int_t)x->event_id, "event", x->type, "sessionId", x->session_id,
			  "url", x->url, "attempts", x->attempt, "error", error);
	} else if (!error) {
		LOG_DEBUG("webhook delivered", "{s:I, s:s, s:i, s:i}", "eventId",
			  (json_int_t)x->event_id, "url", x->url, "status", http_status, "attempt",
			  x->attempt);
	}
}

/* The secret for delivery d, or why it cannot go: its target's URL is no
 * longer the one it was queued for. *secret (caller frees) may be NULL. */
static const char *target_secret(struct webhook *w, const struct store_delivery *d,
				 char **secret)
{
	struct store_session s;
	const char *why = NULL;

	*secret = NULL;
	if (!strcmp(d->kind, "global")) {
		if (!w->url || strcmp(w->url, d->url))
			return "WEBHOOK_URL changed since the event";
		*secret = w->secret ? strdup(w->secret) : NULL;
		return w->secret && !*secret ? "out of memory" : NULL;
	}
	memset(&s, 0, sizeof(s));
	if (svc_session_get(w->svc, d->ev.session_id, &s))
		return "the session is gone";
	if (!s.webhook_url || strcmp(s.webhook_url, d->url))
		why = "the session's webhook changed since the event";
	else if (s.webhook_secret && !(*secret = strdup(s.webhook_secret)))
		why = "out of memory";
	store_session_release(&s);
	return why;
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value,
				     int *ok)
{
	char line[256];
	struct curl_slist *n;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	n = curl_slist_append(l, line);
	if (!n) {
		*ok = 0;
		return l;
	}
	return n;
}

/* Starts attempt d->attempts + 1 of delivery d. */
static void start(struct webhook *w, const struct store_delivery *d)
{
	struct xfer *x = calloc(1, sizeof(*x));
	char *secret = NULL, sig[WEBHOOK_SIG_LEN], num[32], ts[32];
	int64_t now_s = clock_now_ms() / 1000;
	const char *why;
	int ok = 1;

	if (!x || !(x->url = strdup(d->url)) || !(x->type = strdup(d->ev.type))) {
		xfer_free(x);
		return; /* tried again next round */
	}
	x->delivery_id = d->id;
	x->event_id = d->ev.id;
	x->attempt = d->attempts + 1;
	memcpy(x->session_id, d->ev.session_id, STORE_ID_LEN);
	why = target_secret(w, d, &secret);
	if (why) {
		record(w, x, 0, why, 1);
		xfer_free(x);
		return;
	}
	x->body = webhook_body(&d->ev, now_s);
	if (!x->body) {
		free(secret);
		record(w, x, 0, "the event's data is not a JSON object", 1);
		xfer_free(x);
		return;
	}
	x->hdrs = add_header(NULL, "Content-Type", "application/json", &ok);
	x->hdrs = add_header(x->hdrs, "User-Agent", "YesApp-Webhook/1", &ok);
	x->hdrs = add_header(x->hdrs, "Expect", "", &ok); /* no 100-continue round trip */
	x->hdrs = add_header(x->hdrs, "X-YesApp-Event", d->ev.type, &ok);
	snprintf(num, sizeof(num), "%lld", (long long)d->ev.id);
	x->hdrs = add_header(x->hdrs, "X-YesApp-Event-Id", num, &ok);
	snprintf(ts, sizeof(ts), "%lld", (long long)now_s);
	x->hdrs = add_header(x->hdrs, "X-YesApp-Timestamp", ts, &ok);
	if (secret) {
		webhook_sign(secret, x->body, strlen(x->body), sig);
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
		x->hdrs = add_header(x->hdrs, "X-YesApp-Signature", sig, &ok);
	}
	x->easy = curl_easy_init();
	if (!ok || !x->easy) {
		xfer_free(x);
		return;
	}
	curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->err);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (w->ca_file)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, w->ca_file);
	x->started_ms = clock_mono_ms();
	if (curl_multi_add_handle(w->multi, x->easy) != CURLM_OK) {
		xfer_free(x);
		return;
	}
	w->inflight[w->ninflight++] = x;
}

static void finish(struct webhook *w, struct xfer *x, CURLcode res)
{
	long code = 0;
	char why[CURL_ERROR_SIZE + 32];
	int ok;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	/* a 2xx whose body passed our cap is still a success */
	ok = code >= 200 && code <= 299 && (res == CURLE_OK || res == CURLE_WRITE_ERROR);
	if (ok)
		record(w, x, (int)code, NULL, 0);
	else if (res != CURLE_OK && (code == 0 || res != CURLE_WRITE_ERROR))
		/* no answer, or one cut before its end (a 2xx too: a failure) */
		snprintf(why, sizeof(why), "%s", x->err[0] ? x->err : curl_easy_strerror(res));
	else
		snprintf(why, sizeof(why), "HTTP %ld", code);
	if (!ok)
		record(w, x, (int)code, why, 0);
	curl_multi_remove_handle(w->multi, x->easy);
	for (int i = 0; i < w->ninflight; i++) {
		if (w->inflight[i] == x) {
			w->inflight[i] = w->inflight[--w->ninflight];
			break;
		}
	}
	xfer_free(x);
}

static int in_flight(struct webhook *w, int64_t delivery_id)
{
	for (int i = 0; i < w->ninflight; i++)
		if (w->inflight[i]->delivery_id == delivery_id)
			return 1;
	return 0;
}

/* One round: fan out, start what is due; returns the ms to sleep at most. */
static int round_once(struct webhook *w)
{
	struct store_delivery *d = NULL;
	int64_t next_due = 0, now;
	size_t n = 0;
	int events = 0, sleep_ms = IDLE_POLL_MS;

	do {
		if (store_webhook_fanout(w->st, w->url, (const char *const *)w->types, FANOUT_BATCH,
					 &events))
			break;
	} while (events >= FANOUT_BATCH && !atomic_load(&w->stop));
	if (w->ninflight >= WEBHOOK_INFLIGHT_MAX)
		return sleep_ms;
	now = clock_now_ms();
	if (store_webhook_due(w->st, now, DUE_BATCH, &d, &n, &next_due))
		return sleep_ms;
	for (size_t i = 0; i < n && w->ninflight < WEBHOOK_INFLIGHT_MAX; i++)
		if (!in_flight(w, d[i].id))
			start(w, &d[i]);
	store_deliveries_free(d, n);
	if (next_due && next_due - now < sleep_ms)
		sleep_ms = next_due - now < 0 ? 0 : (int)(next_due - now);
	return sleep_ms;
}

static void *run(void *arg)
{
	struct webhook *w = arg;

	while (!atomic_load(&w->stop)) {
		int sleep_ms = round_once(w), running = 0, left = 0, done = 0;
		CURLMsg *m;

		curl_multi_perform(w->multi, &running);
		while ((m = curl_multi_info_read(w->multi, &left))) {
			struct xfer *x = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (x) {
				finish(w, x, m->data.result);
				done = 1;
			}
		}
		if (done)
			continue; /* the next of those (session, URL)s may be due now */
		curl_multi_poll(w->multi, NULL, 0, sleep_ms, NULL);
	}
	return NULL;
}

static char **split_names(const char *list)
{
	size_t n = 1, k = 0;
	char **v, *copy, *save = NULL;

	for (const char *p = list; *p; p++)
		n += *p == ',';
	v = calloc(n + 1, sizeof(*v));
	copy = strdup(list);
	if (!v || !copy) {
		free(v);
		free(copy);
		return NULL;
	}
	for (char *t = strtok_r(copy, ",", &save); t && k < n; t = strtok_r(NULL, ",", &save))
		if (!(v[k++] = strdup(t)))
			break;
	free(copy);
	return v;
}

static void names_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void webhook_free(struct webhook *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->ninflight; i++) {
		curl_multi_remove_handle(w->multi, w->inflight[i]->easy);
		xfer_free(w->inflight[i]);
	}
	if (w->multi)
		curl_multi_cleanup(w->multi);
	free(w->url);
	if (w->secret) {
		OPENSSL_cleanse(w->secret, strlen(w->secret));
		free(w->secret);
	}
	free(w->ca_file);
	names_free(w->types);
	free(w);
}

int webhook_start(struct store *st, struct svc *svc, const struct webhook_opts *o,
		  struct webhook **out)
{
	struct webhook *w;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return Y_EIO;
	w = calloc(1, sizeof(*w));
	if (!w)
		return Y_ENOMEM;
	w->st = st;
	w->svc = svc;
	w->retries = o->retries;
	w->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 1;
	w->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	if ((o->url && !(w->url = strdup(o->url))) ||
	    (o->secret && !(w->secret = strdup(o->secret))) ||
	    (o->ca_file && !(w->ca_file = strdup(o->ca_file))) ||
	    (o->events && !(w->types = split_names(o->events))) ||
	    !(w->multi = curl_multi_init())) {
		webhook_free(w);
		return Y_ENOMEM;
	}
	curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)WEBHOOK_HOST_CONNS);
	curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)WEBHOOK_INFLIGHT_MAX);
	if (pthread_create(&w->thread, NULL, run, w)) {
		webhook_free(w);
		return Y_EIO;
	}
	*out = w;
	return Y_OK;
}

void webhook_wake(void *arg)
{
	struct webhook *w = arg;

	if (w)
		curl_multi_wakeup(w->multi);
}

void webhook_stop(struct webhook *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, 1);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	webhook_free(w);
}

uint64_t webhook_failed(struct webhook *w)
{
	return w ? atomic_load(&w->failed) : 0;
}
