/*
 * The media download thread (see media.h). It owns the multi handle, every
 * easy handle and every transfer; other threads touch only the queue (under
 * mu) and curl_multi_wakeup.
 */
#include "service/media.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/media_send.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/uuid.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

#define DEFAULT_HOST "https://mmg.whatsapp.net" /* when a message has no url (as Baileys) */
#define IDLE_POLL_MS 1000
#define PENDING_BATCH 1000

struct qent {
	struct qent *next;
	char id[STORE_ID_LEN];
	int attempt;                 /* downloads of it tried before (retries) */
	int host;                    /* which of its URLs (nth_url) */
	int64_t due_ms;              /* a retry: not before this (clock_mono_ms) */
};

struct xfer {
	struct media_svc *m;
	CURL *easy;
	struct store_media row;
	struct wa_media_dec *dec;
	int fd;
	char tmp[600], final[600], name[STORE_ID_LEN + 16];
	uint64_t got, limit;
	const char *fail;            /* why the write callback stopped it */
	int attempt, host;           /* as its qent's */
	char authority[160];         /* host[:port] of the URL, for logs */
	uint8_t buf[CURL_MAX_WRITE_SIZE + 64];
	char err[CURL_ERROR_SIZE];
};

struct media_svc {
	struct store *st;
	char *dir, *ca_file;
	char *trusted_host;          /* the host of opts.wa_url, lower case, or NULL */
	bool auto_download;
	int64_t max_bytes;
	long timeout_ms, backoff_ms;
	CURLM *multi;
	pthread_t thread;
	bool started;
	atomic_int stop;
	pthread_mutex_t mu;
	struct qent *head, *tail;
	size_t nqueued;
	struct xfer *inflight[MEDIA_INFLIGHT_MAX];
	int ninflight;
	struct qent *later;          /* retries waiting for their time (this thread's) */
	pthread_mutex_t hook_mu;     /* held while the expired hook runs or changes */
	media_expired_fn expired;
	void *expired_arg;
	media_conn_fn conn;          /* the session's media_conn hosts (also under hook_mu) */
	void *conn_arg;
};

static const char *const pref_kinds[MEDIA_PREF_KINDS] = { "image", "video", "audio",
							    "document", "sticker" };

int media_prefs_parse(const json_t *o, struct media_prefs *p, const char **field)
{
	static const char *const fields[MEDIA_PREF_KINDS] = { "maxBytes.image", "maxBytes.video",
							      "maxBytes.audio", "maxBytes.document",
							      "maxBytes.sticker" };
	const char *k;
	json_t *v, *mb;

	*field = "body";
	if (!json_is_object(o))
		return Y_EINVAL;
	json_object_foreach((json_t *)o, k, v)
		if (strcmp(k, "autoDownload") && strcmp(k, "maxBytes")) {
			*field = k;
			return Y_EINVAL;
		}
	v = json_object_get(o, "autoDownload");
	if (v && !json_is_boolean(v)) {
		*field = "autoDownload";
		return Y_EINVAL;
	}
	if (v)
		p->auto_download = json_is_true(v);
	mb = json_object_get(o, "maxBytes");
	if (!mb)
		return Y_OK;
	*field = "maxBytes";
	if (!json_is_object(mb))
		return Y_EINVAL;
	json_object_foreach(mb, k, v) {
		int i = 0;

		while (i < MEDIA_PREF_KINDS && strcmp(k, pref_kinds[i]))
			i++;
		if (i == MEDIA_PREF_KINDS) {
			*field = k;
			return Y_EINVAL;
		}
		*field = fields[i];
		if (json_is_null(v)) {
			p->max_bytes[i] = 0;
			continue;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > media_type_limit((enum wa_media_type)i))
			return Y_EINVAL;
		p->max_bytes[i] = json_integer_value(v);
	}
	return Y_OK;
}

json_t *media_prefs_json(const struct media_prefs *p)
{
	json_t *mb = json_object();

	for (int i = 0; mb && i < MEDIA_PREF_KINDS; i++)
		json_object_set_new(mb, pref_kinds[i],
				    p->max_bytes[i] > 0 ? json_integer(p->max_bytes[i]) : json_null());
	return mb ? json_pack("{s:b, s:o}", "autoDownload", p->auto_download, "maxBytes", mb) : NULL;
}

/* The session's settings over the server's; false when it has none (or
 * they cannot be read: the server's then). */
static bool session_prefs(struct media_svc *m, const char *sid, struct media_prefs *p)
{
	char *text = NULL;
	json_t *o;
	const char *field;
	bool ok = false;

	memset(p, 0, sizeof(*p));
	p->auto_download = true;
	if (store_session_media_get(m->st, sid, &text))
		return false;
	o = json_loads(text, 0, NULL);
	ok = o && media_prefs_parse(o, p, &field) == Y_OK;
	json_decref(o);
	free(text);
	return ok;
}

int64_t media_type_limit(enum wa_media_type t)
{
	switch (t) {
	case WA_MEDIA_IMAGE:
	case WA_MEDIA_AUDIO:
		return 16LL << 20;
	case WA_MEDIA_VIDEO:
		return 100LL << 20;
	case WA_MEDIA_STICKER:
		return 1LL << 20;
	case WA_MEDIA_DOCUMENT:
		return 2000LL << 20;
	default:
		return 100LL << 20;
	}
}

/* ---- parsing a received Message ---- */

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int copy32(uint8_t out[32], const ProtobufCBinaryData *b, bool has)
{
	if (!has || b->len != 32)
		return Y_EINVAL;
	memcpy(out, b->data, 32);
	return Y_OK;
}

int media_parse(const uint8_t *pb, size_t len, struct media_in *in)
{
	Wa__Message *msg = NULL, *m;
	int rc = wa_pb_unpack(&wa__message__descriptor, pb, len, (ProtobufCMessage **)&msg);
	const ProtobufCBinaryData *key, *sha, *esha;
	bool hk, hs, he;

	memset(in, 0, sizeof(*in));
	if (rc)
		return Y_ENOTFOUND;
	m = msg->devicesentmessage && msg->devicesentmessage->message
		    ? msg->devicesentmessage->message : msg;
	rc = Y_OK;
#define TAKE(field, kind, LEN, HASLEN)                                                       \
	do {                                                                                 \
		in->type = kind;                                                             \
		in->url = dup_opt(m->field->url);                                            \
		in->direct_path = dup_opt(m->field->directpath);                             \
		in->mimetype = dup_opt(m->field->mimetype);                                  \
		key = &m->field->mediakey;                                                   \
		hk = m->field->has_mediakey;                                                 \
		sha = &m->field->filesha256;                                                 \
		hs = m->field->has_filesha256;                                               \
		esha = &m->field->fileencsha256;                                             \
		he = m->field->has_fileencsha256;                                            \
		in->file_length = m->field->HASLEN ? m->field->LEN : 0;                      \
	} while (0)
	if (m->imagemessage) {
		TAKE(imagemessage, WA_MEDIA_IMAGE, filelength, has_filelength);
		in->caption = dup_opt(m->imagemessage->caption);
		in->width = m->imagemessage->width;
		in->height = m->imagemessage->height;
	} else if (m->videomessage) {
		TAKE(videomessage, WA_MEDIA_VIDEO, filelength, has_filelength);
		in->caption = dup_opt(m->videomessage->caption);
		in->width = m->videomessage->width;
		in->height = m->videomessage->height;
		in->seconds = m->videomessage->seconds;
	} else if (m->audiomessage) {
		TAKE(audiomessage, WA_MEDIA_AUDIO, filelength, has_filelength);
		in->ptt = m->audiomessage->has_ptt && m->audiomessage->ptt;
		in->seconds = m->audiomessage->seconds;
	} else if (m->documentmessage) {
		TAKE(documentmessage, WA_MEDIA_DOCUMENT, filelength, has_filelength);
		in->caption = dup_opt(m->documentmessage->caption);
		in->file_name = dup_opt(m->documentmessage->filename);
	} else if (m->stickermessage) {
		TAKE(stickermessage, WA_MEDIA_STICKER, filelength, has_filelength);
		in->width = m->stickermessage->width;
		in->height = m->stickermessage->height;
	} else {
		rc = Y_ENOTFOUND;
	}
#undef TAKE
	if (rc == Y_OK)
		rc = copy32(in->media_key, key, hk) ?: copy32(in->file_sha256, sha, hs)
						   ?: copy32(in->file_enc_sha256, esha, he);
	if (rc == Y_OK && !in->url && !in->direct_path)
		rc = Y_EINVAL;
	protobuf_c_message_free_unpacked(&msg->base, NULL);
	if (rc)
		media_in_release(in);
	return rc;
}

void media_in_release(struct media_in *in)
{
	free(in->url);
	free(in->direct_path);
	free(in->mimetype);
	free(in->caption);
	free(in->file_name);
	memset(in, 0, sizeof(*in));
}

void media_ext(const char *mimetype, char out[12])
{
	static const char *const known[][2] = {
		{ "image/jpeg", "jpg" }, { "image/png", "png" }, { "image/webp", "webp" },
		{ "image/gif", "gif" }, { "video/mp4", "mp4" }, { "video/3gpp", "3gp" },
		{ "audio/ogg", "ogg" }, { "audio/mpeg", "mp3" }, { "audio/mp4", "m4a" },
		{ "audio/aac", "aac" }, { "application/pdf", "pdf" }, { "text/plain", "txt" },
		{ "application/zip", "zip" },
	};
	size_t n = mimetype ? strcspn(mimetype, "; ") : 0;
	const char *slash = mimetype ? memchr(mimetype, '/', n) : NULL;
	size_t sl;

	for (size_t i = 0; mimetype && i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i][0]) == n && !strncasecmp(mimetype, known[i][0], n)) {
			snprintf(out, 12, "%s", known[i][1]);
			return;
		}
	sl = slash ? n - (size_t)(slash + 1 - mimetype) : 0;
	if (sl && sl < 12) {
		for (size_t i = 0; i < sl; i++) {
			char c = slash[1 + i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
				goto bin;
			out[i] = c;
		}
		out[sl] = 0;
		return;
	}
bin:
	snprintf(out, 12, "bin");
}

/* ---- the queue ---- */

void media_svc_download(struct media_svc *m, const char *message_id)
{
	struct qent *q;

	if (!m || !message_id || !uuid_valid(message_id))
		return;
	q = calloc(1, sizeof(*q));
	if (!q)
		return; /* left pending: resumed at the next start */
	snprintf(q->id, sizeof(q->id), "%s", message_id);
	pthread_mutex_lock(&m->mu);
	if (m->nqueued >= MEDIA_QUEUE_MAX) {
		pthread_mutex_unlock(&m->mu);
		free(q);
		return;
	}
	if (m->tail)
		m->tail->next = q;
	else
		m->head = q;
	m->tail = q;
	m->nqueued++;
	pthread_mutex_unlock(&m->mu);
	curl_multi_wakeup(m->multi);
}

static struct qent *take(struct media_svc *m)
{
	struct qent *q;

	pthread_mutex_lock(&m->mu);
	q = m->head;
	if (q) {
		m->head = q->next;
		if (!m->head)
			m->tail = NULL;
		m->nqueued--;
	}
	pthread_mutex_unlock(&m->mu);
	return q;
}

/* ---- transfers ---- */

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	wa_media_dec_free(x->dec);
	if (x->fd >= 0)
		close(x->fd);
	store_media_release(&x->row);
	free(x);
}

static void finish(struct media_svc *m, const char *id, const char *state, const char *path,
		   const char *reason)
{
	int rc = store_media_finish(m->st, id, state, path, reason);

	if (rc)
		LOG_ERROR("media: cannot record the download's end (retried at the next start)",
			  "{s:s, s:s, s:s}", "messageId", id, "state", state, "error",
			  y_strerror(rc));
	else if (!strcmp(state, "failed"))
		LOG_WARN("media download failed", "{s:s, s:s}", "messageId", id, "reason", reason);
	else
		LOG_INFO("media download ended", "{s:s, s:s}", "messageId", id, "state", state);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return errno == ENOSPC ? Y_ETOOBIG : Y_EIO;
		p += w;
		n -= (size_t)w;
	}
	return Y_OK;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, w = 0;
	int rc;

	x->got += len;
	if (x->got > x->limit) {
		x->fail = "download larger than announced";
		return 0;
	}
	if (wa_media_dec_update(x->dec, (const uint8_t *)p, len, x->buf, &w)) {
		x->fail = "decrypt failed";
		return 0;
	}
	rc = write_all(x->fd, x->buf, w);
	if (rc) {
		x->fail = rc == Y_ETOOBIG ? "disk full" : "write error";
		return 0;
	}
	return len;
}

/* The host of url in lower case (caller frees), or NULL when url is not an
 * http(s) URL with a host. */
static char *url_host(const char *url, bool any_scheme)
{
	CURLU *u = curl_url();
	char *host = NULL, *scheme = NULL, *out = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, url, any_scheme ? CURLU_NON_SUPPORT_SCHEME : 0) ==
			 CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    (any_scheme || !strcmp(scheme, "https") || !strcmp(scheme, "http")) &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && (out = strdup(host)))
		for (char *p = out; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return out;
}

/* Whether media may be fetched from url: an http(s) URL on whatsapp.net
 * or a subdomain, or on the trusted host. */
static bool host_allowed(const struct media_svc *m, const char *url)
{
	char *h = url_host(url, false);
	size_t n = h ? strlen(h) : 0;
	bool ok = h && (!strcmp(h, "whatsapp.net") ||
			(n > 13 && !strcmp(h + n - 13, ".whatsapp.net")) ||
			(m->trusted_host && !strcmp(h, m->trusted_host)));

	free(h);
	return ok;
}

/* The host[:port] of an http(s) URL (the text between "://" and the path). */
static void authority_of(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://");
	size_t n = p ? strcspn(p + 3, "/?#") : 0;

	snprintf(out, cap, "%.*s", (int)n, p ? p + 3 : "");
}

/* The idx-th URL to download row from (docs/media.md "Media hosts"): 0 its
 * own url (or the default host with its direct path), then
 * https://{host}{direct path} for each host of the session's media_conn
 * that is neither the first URL's host nor named before. false when there
 * is no idx-th. */
static bool nth_url(struct media_svc *m, const struct store_media *row, int idx, char *url,
		    size_t cap)
{
	struct wa_media_conn c;
	char first[160];
	bool dp = row->direct_path && row->direct_path[0] == '/';
	int rc = Y_ENOTFOUND, k = 0;

	if (row->url && (!strncmp(row->url, "https://", 8) || !strncmp(row->url, "http://", 7)))
		snprintf(url, cap, "%s", row->url);
	else if (dp)
		snprintf(url, cap, "%s%s", DEFAULT_HOST, row->direct_path);
	else
		return false;
	if (idx == 0)
		return true;
	if (!dp)
		return false;
	authority_of(url, first, sizeof(first));
	pthread_mutex_lock(&m->hook_mu);
	if (m->conn)
		rc = m->conn(m->conn_arg, row->session_id, &c);
	pthread_mutex_unlock(&m->hook_mu);
	for (size_t i = 0; rc == Y_OK && i < c.nhosts; i++) {
		bool seen = !strcasecmp(c.hosts[i], first);

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcasecmp(c.hosts[j], c.hosts[i]);
		if (!seen && ++k == idx) {
			snprintf(url, cap, "https://%s%s", c.hosts[i], row->direct_path);
			return true;
		}
	}
	return false;
}

/* Starts row's download from its host-th URL, or ends it at once
 * (skipped / failed). */
static void start(struct media_svc *m, struct store_media *row, int attempt, int host)
{
	struct xfer *x = NULL;
	char ext[12], url[4096];
	int t = wa_media_type_parse(row->kind);
	int64_t cap;
	struct wa_media_keys k;
	const char *why = "out of memory";
	bool asked;

	if (t < 0) {
		finish(m, row->message_id, "failed", NULL, "unknown media type");
		goto out;
	}
	cap = media_type_limit((enum wa_media_type)t);
	/* asked for by the API (POST .../download): none of our own settings
	 * apply, only WhatsApp's limit */
	asked = row->reason && (!strcmp(row->reason, STORE_MEDIA_REQUESTED) ||
				!strcmp(row->reason, STORE_MEDIA_REQUESTED_RETRIED));
	if (asked && row->file_length > cap) {
		finish(m, row->message_id, "failed", NULL, "larger than WhatsApp's limit for its kind");
		goto out;
	}
	if (asked)
		goto fetch;
	if (m->max_bytes > 0 && m->max_bytes < cap)
		cap = m->max_bytes;
	if (!m->auto_download) {
		finish(m, row->message_id, "skipped", NULL, "autoDownload is off");
		goto out;
	}
	if (row->file_length > cap) {
		finish(m, row->message_id, "skipped", NULL, "over the download size cap");
		goto out;
	}
	{
		struct media_prefs p;

		if (session_prefs(m, row->session_id, &p) && !p.auto_download) {
			finish(m, row->message_id, "skipped", NULL,
			       "autoDownload is off for this session");
			goto out;
		}
		if (t < MEDIA_PREF_KINDS && p.max_bytes[t] > 0 && row->file_length > p.max_bytes[t]) {
			finish(m, row->message_id, "skipped", NULL,
			       "over the session's download size cap");
			goto out;
		}
	}
fetch:
	if (!nth_url(m, row, host, url, sizeof(url)) &&
	    (host == 0 || !nth_url(m, row, host = 0, url, sizeof(url)))) {
		finish(m, row->message_id, "failed", NULL, "no download URL");
		goto out;
	}
	if (!host_allowed(m, url)) {
		finish(m, row->message_id, "failed", NULL, "media host not allowed");
		goto out;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		goto fail;
	x->fd = -1;
	x->m = m;
	x->attempt = attempt;
	x->host = host;
	authority_of(url, x->authority, sizeof(x->authority));
	x->row = *row;
	memset(row, 0, sizeof(*row)); /* x owns it now */
	media_ext(x->row.mimetype, ext);
	snprintf(x->name, sizeof(x->name), "%s.%s", x->row.message_id, ext);
	snprintf(x->tmp, sizeof(x->tmp), "%s/.%s.tmp", m->dir, x->row.message_id);
	snprintf(x->final, sizeof(x->final), "%s/%s", m->dir, x->name);
	/* ciphertext: the plaintext padded to a block, and the mac */
	x->limit = (uint64_t)(x->row.file_length > 0 ? x->row.file_length : cap) + 16 +
		   WA_MEDIA_MAC_LEN;
	if (wa_media_keys_derive(&k, x->row.media_key, (enum wa_media_type)t) ||
	    !(x->dec = wa_media_dec_new(&k))) {
		why = "crypto failure";
		goto fail;
	}
	x->fd = open(x->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (x->fd < 0) {
		why = errno == ENOSPC ? "disk full" : "cannot create the file";
		goto fail;
	}
	x->easy = curl_easy_init();
	if (!x->easy)
		goto fail;
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 20000L);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->err);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "YesApp");
	if (m->ca_file)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, m->ca_file);
	if (curl_multi_add_handle(m->multi, x->easy) != CURLM_OK)
		goto fail;
	m->inflight[m->ninflight++] = x;
	return;
fail:
	if (x) {
		if (x->fd >= 0)
			unlink(x->tmp);
		finish(m, x->row.message_id, "failed", NULL, why);
	} else {
		finish(m, row->message_id, "failed", NULL, why);
	}
	xfer_free(x);
out:
	store_media_release(row);
}

/* Schedules x's row again after a backoff (MEDIA_BACKOFF_MS doubling, at
 * most 30 times it) from its first URL; false when out of memory. */
static bool retry_later(struct media_svc *m, struct xfer *x)
{
	struct qent *q = calloc(1, sizeof(*q));
	int64_t wait = x->attempt < 5 ? m->backoff_ms << x->attempt : 30 * m->backoff_ms;

	if (!q)
		return false;
	unlink(x->tmp);
	snprintf(q->id, sizeof(q->id), "%s", x->row.message_id);
	q->attempt = x->attempt + 1;
	q->due_ms = clock_mono_ms() + wait;
	q->next = m->later;
	m->later = q;
	LOG_WARN("media download failed for now: retried", "{s:s, s:i, s:I, s:s}", "messageId",
		 q->id, "attempt", q->attempt, "inMs", (json_int_t)wait, "error",
		 x->err[0] ? x->err : "server busy");
	return true;
}

/* x's host failed (unreachable, cut off, busy): queues its row at once
 * for its next URL; false when there is none (or out of memory). */
static bool next_host(struct media_svc *m, struct xfer *x, long status)
{
	char url[4096], st[24];
	struct qent *q;

	if (!nth_url(m, &x->row, x->host + 1, url, sizeof(url)) || !(q = calloc(1, sizeof(*q))))
		return false;
	unlink(x->tmp);
	snprintf(q->id, sizeof(q->id), "%s", x->row.message_id);
	q->attempt = x->attempt;
	q->host = x->host + 1;
	q->due_ms = clock_mono_ms();
	q->next = m->later;
	m->later = q;
	snprintf(st, sizeof(st), "HTTP %ld", status);
	LOG_WARN("media download failed on a host: trying the next", "{s:s, s:s, s:s}",
		 "messageId", q->id, "host", x->authority, "error", x->err[0] ? x->err : st);
	return true;
}

/* The first retry whose time has come, taken off m->later; else NULL, and
 * *wait_ms lowered to the time until the next one. */
static struct qent *take_due(struct media_svc *m, long *wait_ms)
{
	int64_t now = clock_mono_ms();

	for (struct qent **pp = &m->later; *pp; pp = &(*pp)->next) {
		struct qent *q = *pp;

		if (q->due_ms <= now) {
			*pp = q->next;
			return q;
		}
		if (q->due_ms - now < *wait_ms)
			*wait_ms = (long)(q->due_ms - now);
	}
	return NULL;
}

static bool retried(const struct store_media *row)
{
	return row->reason && (!strcmp(row->reason, STORE_MEDIA_RETRIED) ||
			       !strcmp(row->reason, STORE_MEDIA_REQUESTED_RETRIED));
}

/* x's file expired on its host: asks the engine (the hook) to have our
 * phone upload it again, once per row; true when asked. */
static bool ask_again(struct media_svc *m, struct xfer *x)
{
	struct store_message msg;
	bool asked = false;

	if (retried(&x->row) ||
	    store_message_get(m->st, x->row.session_id, x->row.message_id, &msg))
		return false;
	if (msg.wa_id && msg.chat) {
		/* in a group the sender is the participant (inbound only) */
		bool group = strstr(msg.chat, "@g.us") != NULL;
		struct media_expired r = { x->row.session_id, x->row.message_id, msg.wa_id,
					   msg.chat, group && !msg.from_me ? msg.from_jid : NULL,
					   msg.from_me != 0, x->row.media_key };

		pthread_mutex_lock(&m->hook_mu);
		asked = m->expired && m->expired(m->expired_arg, &r);
		pthread_mutex_unlock(&m->hook_mu);
	}
	if (asked)
		LOG_INFO("media expired on its host: our phone is asked to upload it again",
			 "{s:s, s:s}", "messageId", x->row.message_id, "waId", msg.wa_id);
	store_message_release(&msg);
	return asked;
}

void media_svc_set_hooks(struct media_svc *m, media_expired_fn expired, media_conn_fn conn,
			 void *arg)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->hook_mu);
	m->expired = expired;
	m->expired_arg = arg;
	m->conn = conn;
	m->conn_arg = arg;
	pthread_mutex_unlock(&m->hook_mu);
}

/* The media host of old (scheme://host[:port], in out), or the default. */
static void retry_url(const char *old, const char *direct_path, char *out, size_t cap)
{
	const char *p = old ? strstr(old, "://") : NULL;
	size_t n = p ? (size_t)(p + 3 - old) + strcspn(p + 3, "/?#") : 0;

	if (p && (!strncmp(old, "https://", 8) || !strncmp(old, "http://", 7)))
		snprintf(out, cap, "%.*s%s", (int)n, old, direct_path);
	else
		snprintf(out, cap, "%s%s", DEFAULT_HOST, direct_path);
}

void media_retry_answered(struct store *st, struct media_svc *m, const char *message_id,
			  const char *direct_path, const char *reason)
{
	struct store_media row;
	char url[4096], why[300];
	int rc;

	if (store_media_get(st, message_id, &row))
		return;
	if (!row.state || strcmp(row.state, "pending")) {
		store_media_release(&row);
		return;
	}
	if (direct_path && direct_path[0] == '/') {
		retry_url(row.url, direct_path, url, sizeof(url));
		rc = store_media_repath(st, message_id, url, direct_path);
		if (rc == Y_OK) {
			LOG_INFO("media uploaded again by our phone: downloading", "{s:s}",
				 "messageId", message_id);
			media_svc_download(m, message_id);
		}
	} else {
		snprintf(why, sizeof(why), "media_expired: %s",
			 reason ? reason : "the phone gave no new path");
		rc = store_media_finish(st, message_id, "failed", NULL, why);
		if (rc == Y_OK)
			LOG_WARN("media download failed", "{s:s, s:s}", "messageId", message_id,
				 "reason", why);
	}
	if (rc)
		LOG_ERROR("media: cannot record a media retry's answer", "{s:s, s:s}", "messageId",
			  message_id, "error", y_strerror(rc));
	store_media_release(&row);
}

/* Ends transfer x after curl is done with it (result res). */
static void done(struct media_svc *m, struct xfer *x, CURLcode res)
{
	struct wa_media_sums s;
	const char *why = NULL;
	char reason[CURL_ERROR_SIZE + 64];
	long status = 0;
	size_t w = 0;
	int rc;

	/* "on every media host" once more than one was tried */
	const char *every = x->host > 0 ? " on every media host" : "";
	bool busy;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	/* the host unreachable, cut off or busy: the next host, else the row
	 * stays pending and is tried again later (and after a restart) */
	busy = (res != CURLE_OK && !x->fail) || status >= 500 || status == 429;
	if (busy && (next_host(m, x, status) || (x->attempt < MEDIA_RETRIES && retry_later(m, x))))
		return;
	if (res != CURLE_OK) {
		const char *e = x->fail ? x->fail : x->err[0] ? x->err : curl_easy_strerror(res);

		if (busy && x->host > 0)
			snprintf(reason, sizeof(reason), "download failed%s: %s", every, e);
		else
			snprintf(reason, sizeof(reason), "%s", e);
		why = reason;
	} else if ((status == 404 || status == 410) && ask_again(m, x)) {
		unlink(x->tmp);
		return; /* pending until the phone answers (media_retry_answered) */
	} else if (status == 404 || status == 410) {
		snprintf(reason, sizeof(reason), "media_expired: HTTP %ld%s", status,
			 retried(&x->row) ? " after the phone uploaded it again" : "");
		why = reason;
	} else if (status != 200) {
		snprintf(reason, sizeof(reason), "download failed%s: HTTP %ld", busy ? every : "",
			 status);
		why = reason;
	} else if (wa_media_dec_final(x->dec, x->row.file_enc_sha256, x->row.file_sha256, x->buf,
				      &w, &s, &why)) {
		/* why: bad mac, bad enc sha256, bad padding, bad sha256, ... */
	} else if ((rc = write_all(x->fd, x->buf, w)) || fsync(x->fd)) {
		why = rc == Y_ETOOBIG || errno == ENOSPC ? "disk full" : "write error";
	} else if (close(x->fd) || (x->fd = -1, rename(x->tmp, x->final))) {
		x->fd = -1;
		why = "cannot store the file";
	}
	if (why) {
		unlink(x->tmp);
		finish(m, x->row.message_id, "failed", NULL, why);
		return;
	}
	{
		/* the rename is durable once the directory is */
		int dfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	finish(m, x->row.message_id, "done", x->name, NULL);
}

static void queue_pending(struct media_svc *m)
{
	struct store_media *rows = NULL;
	size_t n = 0;

	if (store_media_pending(m->st, PENDING_BATCH, &rows, &n))
		return;
	for (size_t i = 0; i < n; i++)
		media_svc_download(m, rows[i].message_id);
	if (n)
		LOG_INFO("media: downloads resumed", "{s:i}", "count", (int)n);
	store_media_free(rows, n);
}

static void *run(void *arg)
{
	struct media_svc *m = arg;

	queue_pending(m);
	while (!atomic_load(&m->stop)) {
		int running = 0, left = 0;
		long wait_ms = IDLE_POLL_MS;
		CURLMsg *msg;
		struct qent *q;

		while (m->ninflight < MEDIA_INFLIGHT_MAX &&
		       ((q = take_due(m, &wait_ms)) || (q = take(m)))) {
			struct store_media row;

			if (store_media_get(m->st, q->id, &row) == Y_OK) {
				if (row.state && !strcmp(row.state, "pending"))
					start(m, &row, q->attempt, q->host);
				else
					store_media_release(&row);
			}
			free(q);
		}
		curl_multi_perform(m->multi, &running);
		while ((msg = curl_multi_info_read(m->multi, &left))) {
			struct xfer *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			curl_multi_remove_handle(m->multi, msg->easy_handle);
			done(m, x, msg->data.result);
			for (int i = 0; i < m->ninflight; i++)
				if (m->inflight[i] == x) {
					m->inflight[i] = m->inflight[--m->ninflight];
					break;
				}
			xfer_free(x);
		}
		curl_multi_poll(m->multi, NULL, 0, wait_ms > 0 ? (int)wait_ms : 1, NULL);
	}
	/* cut: the rows stay pending, the partial files go */
	for (int i = 0; i < m->ninflight; i++) {
		curl_multi_remove_handle(m->multi, m->inflight[i]->easy);
		unlink(m->inflight[i]->tmp);
		xfer_free(m->inflight[i]);
	}
	m->ninflight = 0;
	return NULL;
}

/* Removes partial files a crash left behind (.{id}.tmp). */
static void remove_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.' && n > 5 && !strcmp(e->d_name + n - 4, ".tmp")) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

int media_sweep(struct store *st, const char *data_dir, int limit)
{
	char dir[512], path[800], id[STORE_ID_LEN];
	DIR *d;
	struct dirent *e;
	int removed = 0;

	snprintf(dir, sizeof(dir), "%s/media", data_dir);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : Y_EIO;
	while (removed < limit && (e = readdir(d))) {
		size_t n = strcspn(e->d_name, ".");

		if (n != STORE_ID_LEN - 1 || !e->d_name[n])
			continue; /* not {uuid}.{ext} (temp files start with '.') */
		memcpy(id, e->d_name, n);
		id[n] = 0;
		if (!uuid_valid(id) || store_media_exists(st, id) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!unlink(path))
			removed++;
	}
	closedir(d);
	if (removed)
		LOG_INFO("media: files of deleted messages removed", "{s:i}", "count", removed);
	return removed + media_up_sweep(st, data_dir); /* and sources of deleted sessions */
}

int media_svc_start(struct store *st, const struct media_svc_opts *o, struct media_svc **out)
{
	struct media_svc *m = calloc(1, sizeof(*m));
	char dir[512];

	*out = NULL;
	if (!m)
		return Y_ENOMEM;
	snprintf(dir, sizeof(dir), "%s/media", o->data_dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		LOG_ERROR("media: cannot create the media directory", "{s:s, s:s}", "dir", dir,
			  "error", strerror(errno));
		free(m);
		return Y_EIO;
	}
	remove_tmp(dir);
	m->st = st;
	m->dir = strdup(dir);
	m->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
	m->trusted_host = o->wa_url ? url_host(o->wa_url, true) : NULL;
	m->auto_download = o->auto_download;
	m->max_bytes = o->max_bytes;
	m->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 600000;
	m->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 1000;
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->hook_mu, NULL);
	if (!m->dir || (o->ca_file && !m->ca_file) || !(m->multi = curl_multi_init())) {
		media_svc_stop(m);
		return Y_ENOMEM;
	}
	curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MEDIA_INFLIGHT_MAX);
	if (pthread_create(&m->thread, NULL, run, m)) {
		media_svc_stop(m);
		return Y_ENOMEM;
	}
	m->started = true;
	*out = m;
	return Y_OK;
}

void media_svc_stop(struct media_svc *m)
{
	if (!m)
		return;
	if (m->started) {
		atomic_store(&m->stop, 1);
		curl_multi_wakeup(m->multi);
		pthread_join(m->thread, NULL);
	}
	while (m->head) {
		struct qent *q = m->head;

		m->head = q->next;
		free(q);
	}
	while (m->later) {
		struct qent *q = m->later;

		m->later = q->next;
		free(q);
	}
	if (m->multi)
		curl_multi_cleanup(m->multi);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->hook_mu);
	free(m->dir);
	free(m->ca_file);
	free(m->trusted_host);
	free(m);
}

/* ---- the engine's hooks ---- */

struct store_media *media_message_fill(const uint8_t *pb, size_t len, struct store_message *m)
{
	struct media_in in;
	struct store_media *row = NULL;
	json_t *media = NULL, *body = NULL;
	char id[UUID_STR_LEN], url[64], *text = NULL, *type = NULL, *bj = NULL;

	if (!pb || media_parse(pb, len, &in))
		return NULL;
	if (m->id[0])
		snprintf(id, sizeof(id), "%s", m->id);
	else if (uuid_v4(id))
		goto out;
	snprintf(url, sizeof(url), "/api/v1/media/%s", id);
	media = json_pack("{s:s, s:s?, s:I, s:s?, s:s?}", "kind", wa_media_type_name(in.type),
			  "mimetype", in.mimetype, "size", (json_int_t)in.file_length, "fileName",
			  in.file_name, "caption", in.caption);
	if (media && in.seconds)
		json_object_set_new(media, "seconds", json_integer(in.seconds));
	if (media && in.width && in.height) {
		json_object_set_new(media, "width", json_integer(in.width));
		json_object_set_new(media, "height", json_integer(in.height));
	}
	if (media && in.type == WA_MEDIA_AUDIO)
		json_object_set_new(media, "ptt", json_boolean(in.ptt));
	body = media ? json_pack("{s:O, s:s}", "media", media, "mediaUrl", url) : NULL;
	bj = body ? json_dumps(body, JSON_COMPACT) : NULL;
	type = strdup(wa_media_type_name(in.type));
	text = in.caption ? strdup(in.caption) : NULL;
	row = calloc(1, sizeof(*row));
	if (!bj || !type || (in.caption && !text) || !row)
		goto fail;
	snprintf(row->message_id, sizeof(row->message_id), "%s", id);
	snprintf(row->session_id, sizeof(row->session_id), "%s", m->session_id);
	row->kind = strdup(type);
	row->state = strdup("pending");
	row->mimetype = in.mimetype;
	row->file_name = in.file_name;
	row->url = in.url;
	row->direct_path = in.direct_path;
	in.mimetype = in.file_name = in.url = in.direct_path = NULL;
	memcpy(row->media_key, in.media_key, 32);
	memcpy(row->file_sha256, in.file_sha256, 32);
	memcpy(row->file_enc_sha256, in.file_enc_sha256, 32);
	row->file_length = (int64_t)in.file_length;
	if (!row->kind || !row->state)
		goto fail;
	snprintf(m->id, sizeof(m->id), "%s", id);
	free(m->type);
	m->type = type;
	free(m->body);
	m->body = bj;
	free(m->text);
	m->text = text;
	goto out;
fail:
	if (row) {
		store_media_release(row);
		free(row);
	}
	row = NULL;
	free(bj);
	free(type);
	free(text);
out:
	json_decref(media);
	json_decref(body);
	media_in_release(&in);
	return row;
}

void media_inbound_stored(struct store *st, struct media_svc *m, const struct store_media *row)
{
	int rc = store_media_insert(st, row);

	if (rc) {
		LOG_ERROR("media: cannot store a message's media row", "{s:s, s:s}", "messageId",
			  row->message_id, "error", y_strerror(rc));
		return;
	}
	media_svc_download(m, row->message_id);
}
