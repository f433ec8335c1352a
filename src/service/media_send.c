/*
 * The media upload thread (see media_send.h). One message at a time with a
 * blocking libcurl easy handle: uploads are rare next to texts, and one
 * thread keeps a session's media in the order it was accepted.
 */
#include "service/media_send.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <sys/socket.h>
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
#include <time.h>
#include <unistd.h>

#include "service/media.h"
#include "service/media_meta.h"
#include "util/buf.h"
#include "util/cidr.h"
#include "util/clock.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/log.h"
#include "util/uuid.h"
#include "wa/crypto.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

struct upjob {
	struct upjob *next;
	char sid[STORE_ID_LEN], mid[STORE_ID_LEN];
	int tries;       /* uploads tried */
	int waits;       /* media_conn waits */
	int64_t due_ms;
	bool probed;     /* meta is filled (once: a retry does not decode again) */
	struct media_meta meta;
	/* a fetch before a send is accepted (media_up_fetch), not a message: */
	char *url;
	uint64_t limit;
	media_fetched_cb cb;
	void *arg;
};

static void job_free(struct upjob *j)
{
	media_meta_release(&j->meta);
	free(j->url);
	free(j);
}

struct media_up {
	struct store *st;
	const struct media_up_ops *ops;
	void *ud;
	char *dir, *ca_file;
	long fetch_timeout_ms;
	long backoff_ms;
	bool allow_private;
	pthread_t thread;
	bool started;
	atomic_int stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct upjob *head, *tail;
};

/* ---- sniffing ---- */

const char *media_sniff(const uint8_t *p, size_t n)
{
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return "image/jpeg";
	if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
		return "image/webp";
	if (n >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6)))
		return "image/gif";
	if (n >= 12 && !memcmp(p + 4, "ftyp", 4))
		return "video/mp4";
	if (n >= 4 && !memcmp(p, "OggS", 4))
		return "audio/ogg";
	if (n >= 3 && (!memcmp(p, "ID3", 3) || (p[0] == 0xff && (p[1] & 0xe0) == 0xe0)))
		return "audio/mpeg";
	if (n >= 5 && !memcmp(p, "%PDF-", 5))
		return "application/pdf";
	return NULL;
}

/* Whether mimetype m (parameters ignored) names what sniffed found. */
static bool mime_matches(const char *m, const char *sniffed)
{
	static const char *const mp4[] = { "video/mp4", "audio/mp4", "audio/m4a", "audio/x-m4a",
					   "audio/aac", "video/3gpp", "audio/3gpp",
					   "video/quicktime", NULL };
	size_t n = strcspn(m, "; ");

	if (!strcmp(sniffed, "video/mp4")) {
		for (int i = 0; mp4[i]; i++)
			if (strlen(mp4[i]) == n && !strncasecmp(m, mp4[i], n))
				return true;
		return false;
	}
	if (!strcmp(sniffed, "audio/ogg"))
		return (n == 9 && !strncasecmp(m, "audio/ogg", 9)) ||
		       (n == 10 && !strncasecmp(m, "audio/opus", 10)) ||
		       (n == 9 && !strncasecmp(m, "video/ogg", 9));
	if (!strcmp(sniffed, "audio/mpeg"))
		return (n == 10 && !strncasecmp(m, "audio/mpeg", 10)) ||
		       (n == 9 && !strncasecmp(m, "audio/mp3", 9));
	if (!strcmp(sniffed, "image/jpeg"))
		return (n == 10 && !strncasecmp(m, "image/jpeg", 10)) ||
		       (n == 9 && !strncasecmp(m, "image/jpg", 9));
	return strlen(sniffed) == n && !strncasecmp(m, sniffed, n);
}

const char *media_mime_check(enum wa_media_type t, const char *given, const char *sniffed,
			     const char **use, char *why_buf, size_t cap)
{
	const char *m = given && *given ? given : sniffed;
	const char *want = t == WA_MEDIA_IMAGE ? "image/" : t == WA_MEDIA_VIDEO ? "video/"
			 : t == WA_MEDIA_AUDIO ? "audio/" : NULL;

	*use = m;
	if (given && *given && sniffed && !mime_matches(given, sniffed)) {
		snprintf(why_buf, cap, "mimetype %.64s contradicts the file's bytes (%s)", given,
			 sniffed);
		return why_buf;
	}
	if (!m) {
		if (t == WA_MEDIA_DOCUMENT) {
			*use = "application/octet-stream";
			return NULL;
		}
		snprintf(why_buf, cap, "cannot tell the %s's mimetype from its bytes; give one",
			 wa_media_type_name(t));
		return why_buf;
	}
	if (want && strncasecmp(m, want, strlen(want)) &&
	    !(t == WA_MEDIA_AUDIO && sniffed && !strcmp(sniffed, "video/mp4"))) {
		snprintf(why_buf, cap, "a %s must be %s* (got %.64s)", wa_media_type_name(t), want, m);
		return why_buf;
	}
	if (t == WA_MEDIA_STICKER && strcasecmp(m, "image/webp")) {
		snprintf(why_buf, cap, "a sticker must be image/webp (got %.64s)", m);
		return why_buf;
	}
	return NULL;
}

/* ---- source files ---- */

int media_up_src_path(const char *data_dir, const char *sid, const char *wa_id, char *out,
		      size_t cap)
{
	int n = snprintf(out, cap, "%s/media/out/%s.%s.bin", data_dir, sid, wa_id);

	return n > 0 && (size_t)n < cap ? Y_OK : Y_EINVAL;
}

static int make_dirs(const char *data_dir)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/media", data_dir);
	if (mkdir(p, 0700) && errno != EEXIST)
		return Y_EIO;
	snprintf(p, sizeof(p), "%s/media/out", data_dir);
	if (mkdir(p, 0700) && errno != EEXIST)
		return Y_EIO;
	return Y_OK;
}

static int fsync_dir(const char *path)
{
	char d[600];
	char *slash;
	int fd, rc;

	snprintf(d, sizeof(d), "%s", path);
	slash = strrchr(d, '/');
	if (!slash)
		return Y_EINVAL;
	*slash = 0;
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return Y_EIO;
	rc = fsync(fd) ? Y_EIO : Y_OK;
	close(fd);
	return rc;
}

int media_up_write_src(const char *data_dir, const char *sid, const char *wa_id, const uint8_t *p,
		       size_t n)
{
	char path[600], tmp[620];
	int fd, rc = Y_OK;

	if (make_dirs(data_dir) || media_up_src_path(data_dir, sid, wa_id, path, sizeof(path)))
		return Y_EIO;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return Y_EIO;
	while (n && !rc) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = Y_EIO;
		else {
			p += w;
			n -= (size_t)w;
		}
	}
	if (!rc && fsync(fd))
		rc = Y_EIO;
	if (close(fd) && !rc)
		rc = Y_EIO;
	if (!rc && rename(tmp, path))
		rc = Y_EIO;
	if (rc)
		unlink(tmp);
	return rc ?: fsync_dir(path);
}

int media_up_open_tmp(const char *data_dir, char *path, size_t cap)
{
	char id[UUID_STR_LEN];
	int n;

	if (make_dirs(data_dir) || uuid_v4(id))
		return -1;
	n = snprintf(path, cap, "%s/media/out/up-%s.tmp", data_dir, id);
	if (n <= 0 || (size_t)n >= cap)
		return -1;
	return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

int media_up_adopt_src(const char *data_dir, const char *sid, const char *wa_id,
		       const char *tmp)
{
	char path[600];

	if (media_up_src_path(data_dir, sid, wa_id, path, sizeof(path)) || rename(tmp, path))
		return Y_EIO;
	return fsync_dir(path);
}

int media_up_sweep(struct store *st, const char *data_dir)
{
	char dir[600], p[900], sid[STORE_ID_LEN];
	struct store_session ss;
	struct dirent *e;
	int removed = 0, rc;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/media/out", data_dir);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) < STORE_ID_LEN || e->d_name[STORE_ID_LEN - 1] != '.')
			continue;
		memcpy(sid, e->d_name, STORE_ID_LEN - 1);
		sid[STORE_ID_LEN - 1] = 0;
		rc = store_session_get(st, sid, &ss);
		if (rc == Y_OK)
			store_session_release(&ss);
		if (rc != Y_ENOTFOUND)
			continue; /* its session is there (or we cannot tell) */
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		removed += unlink(p) == 0;
	}
	closedir(d);
	if (removed)
		LOG_INFO("media: sources of deleted sessions removed", "{s:i}", "count", removed);
	return removed;
}

/* ---- fetching a URL ---- */

struct fetch {
	int fd;
	uint64_t got, limit;
	bool too_big, write_err;
	bool allow_private;
	char refused[96];      /* "" or the address a connection was refused to, and why */
};

/* Every connection of a fetch, each redirect hop's too, goes through here
 * with the address libcurl resolved: the check is on the address connected
 * to, so a second DNS answer (rebinding) cannot slip past it. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch *f = arg;
	const char *why = NULL;

	(void)purpose;
	if (!f->allow_private && !cidr_addr_public(&a->addr, &why)) {
		char ip[CIDR_IP_MAX] = "?";

		if (a->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof(ip));
		else if (a->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof(ip));
		snprintf(f->refused, sizeof(f->refused), "%s address %s", why ? why : "non-public", ip);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Whether host (no brackets) is "localhost" or a name under it (RFC 6761:
 * always loopback), a final dot allowed. */
static bool is_localhost(const char *host)
{
	size_t n = strlen(host);

	if (n && host[n - 1] == '.')
		n--;
	return (n == 9 && !strncasecmp(host, "localhost", 9)) ||
	       (n > 10 && !strncasecmp(host + n - 10, ".localhost", 10));
}

const char *media_url_check(const char *url, bool allow_private, char *why_buf, size_t cap)
{
	/* AI_NUMERICHOST: an address literal in any form getaddrinfo takes
	 * (127.1, 0x7f000001, [::ffff:127.0.0.1]) and never a DNS lookup */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST }, *res = NULL;
	CURLU *cu = allow_private ? NULL : curl_url();
	char *host = NULL, ip[CIDR_IP_MAX];
	const char *why = NULL, *out = NULL;
	size_t n;

	if (allow_private)
		return NULL;
	if (!cu || curl_url_set(cu, CURLUPART_URL, url, 0) ||
	    curl_url_get(cu, CURLUPART_HOST, &host, 0) || !host) {
		snprintf(why_buf, cap, "url has no host libcurl can read");
		out = why_buf;
		goto done;
	}
	n = strlen(host);
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') { /* an IPv6 literal */
		memmove(host, host + 1, n - 2);
		host[n - 2] = 0;
	}
	if (is_localhost(host)) {
		snprintf(why_buf, cap, "url's host resolves to a loopback address (%.64s); "
			 "MEDIA_URL_ALLOW_PRIVATE=true allows it", host);
		out = why_buf;
		goto done;
	}
	if (getaddrinfo(host, NULL, &hints, &res))
		goto done; /* a name: the fetch checks each address it connects to */
	for (struct addrinfo *ai = res; ai && !out; ai = ai->ai_next)
		if (!cidr_addr_public(ai->ai_addr, &why)) {
			getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST);
			snprintf(why_buf, cap,
				 "url's host resolves to a %s address (%s); MEDIA_URL_ALLOW_PRIVATE=true "
				 "allows it", why ? why : "non-public", ip);
			out = why_buf;
		}
done:
	if (res)
		freeaddrinfo(res);
	curl_free(host);
	curl_url_cleanup(cu);
	return out;
}

static size_t on_fetch_data(char *p, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t len = size * n, off = 0;

	if (f->got + len > f->limit) {
		f->too_big = true;
		return 0;
	}
	while (off < len) {
		ssize_t w = write(f->fd, p + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			f->write_err = true;
			return 0;
		}
		off += (size_t)w;
	}
	f->got += len;
	return len;
}

int media_fetch(const char *url, int fd, uint64_t limit, bool allow_private, long timeout_ms,
		char *why, size_t cap)
{
	return media_fetch_status(url, fd, limit, allow_private, timeout_ms, NULL, why, cap);
}

int media_fetch_status(const char *url, int fd, uint64_t limit, bool allow_private,
		       long timeout_ms, long *status, char *why, size_t cap)
{
	char err[CURL_ERROR_SIZE] = "";
	struct fetch f = { .fd = fd, .limit = limit, .allow_private = allow_private };
	CURL *h = curl_easy_init();
	CURLcode res;
	long code = 0;
	int rc = Y_EIO;

	if (!h) {
		snprintf(why, cap, "media: cannot fetch (out of resources)");
		return Y_EIO;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 15000L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)limit);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_fetch_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "YesApp");
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &f);
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (status)
		*status = code;
	if (f.too_big || res == CURLE_FILESIZE_EXCEEDED)
		snprintf(why, cap, "media: fetch failed: larger than %llu bytes",
			 (unsigned long long)limit),
		rc = Y_ETOOBIG;
	else if (f.write_err)
		snprintf(why, cap, "media: fetch failed: cannot write (disk full?)");
	else if (f.refused[0])
		snprintf(why, cap, "media: fetch failed: not allowed to connect to a %s", f.refused),
		rc = Y_EUNSUPPORTED;
	else if (res != CURLE_OK)
		snprintf(why, cap, "media: fetch failed: %.100s", err[0] ? err : curl_easy_strerror(res));
	else if (code < 200 || code > 299)
		snprintf(why, cap, "media: fetch failed: HTTP %ld", code);
	else if (!f.got)
		snprintf(why, cap, "media: fetch failed: empty body");
	else
		rc = Y_OK;
	curl_easy_cleanup(h);
	return rc;
}

/* Fetches url into path (through path.tmp); *why on failure. */
static int fetch_url(struct media_up *u, const char *url, const char *path, uint64_t limit,
		     char *why, size_t cap)
{
	char tmp[620];
	int fd, rc = Y_EIO;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, cap, "media: cannot fetch (out of resources)");
		return Y_EIO;
	}
	rc = media_fetch(url, fd, limit, u->allow_private, u->fetch_timeout_ms, why, cap);
	if (!rc && fsync(fd)) {
		snprintf(why, cap, "media: fetch failed: cannot write (disk full?)");
		rc = Y_EIO;
	}
	if (close(fd) && !rc)
		rc = Y_EIO;
	if (!rc && rename(tmp, path))
		rc = Y_EIO;
	if (rc)
		unlink(tmp);
	return rc;
}

/* ---- encrypting and uploading ---- */

/* Reads fd from its start through an encryptor; the POST's read callback. */
struct encstream {
	int fd;
	struct wa_media_enc *enc;
	uint8_t in[MEDIA_UP_CHUNK];
	uint8_t out[MEDIA_UP_CHUNK + 32];
	size_t outlen, outpos;
	bool done, failed;
	struct wa_media_sums sums;
};

static int es_open(struct encstream *s, int fd, const struct wa_media_keys *k)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return Y_EIO;
	s->enc = wa_media_enc_new(k);
	return s->enc ? Y_OK : Y_ENOMEM;
}

/* Refills s->out; false at the end (or after a failure). */
static bool es_fill(struct encstream *s)
{
	ssize_t r;

	if (s->done || s->failed)
		return false;
	do
		r = read(s->fd, s->in, sizeof(s->in));
	while (r < 0 && errno == EINTR);
	s->outpos = 0;
	if (r < 0 || (r > 0 && wa_media_enc_update(s->enc, s->in, (size_t)r, s->out, &s->outlen)) ||
	    (r == 0 && wa_media_enc_final(s->enc, s->out, &s->outlen, &s->sums))) {
		s->failed = true;
		return false;
	}
	s->done = r == 0;
	return true;
}

static size_t on_read(char *p, size_t size, size_t n, void *arg)
{
	struct encstream *s = arg;
	size_t want = size * n, k;

	while (s->outpos == s->outlen)
		if (!es_fill(s))
			return s->failed ? CURL_READFUNC_ABORT : 0;
	k = s->outlen - s->outpos < want ? s->outlen - s->outpos : want;
	memcpy(p, s->out + s->outpos, k);
	s->outpos += k;
	return k;
}

struct resp {
	char buf[4096];
	size_t len;
};

static size_t on_resp(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	if (len > sizeof(r->buf) - 1 - r->len)
		return 0;
	memcpy(r->buf + r->len, p, len);
	r->len += len;
	r->buf[r->len] = 0;
	return len;
}

static const char *upload_path(enum wa_media_type t)
{
	return t == WA_MEDIA_STICKER ? "image" : wa_media_type_name(t);
}

/* One POST to host; Y_OK, Y_EAGAIN (worth trying again), Y_ESTATE (auth
 * refused), else final; why on failure. */
static int post_one(const char *ca_file, const char *host, const char *auth, const char *token,
		    enum wa_media_type t, int fd, const struct wa_media_keys *k,
		    const struct wa_media_sums *want, struct media_uploaded *up, char *why,
		    size_t cap)
{
	struct encstream *s = malloc(sizeof(*s));
	struct resp *r = calloc(1, sizeof(*r));
	char url[1600], err[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char *eauth = h ? curl_easy_escape(h, auth, 0) : NULL;
	json_t *j = NULL;
	const char *jurl, *jdp;
	CURLcode res;
	long code = 0;
	int rc = Y_ENOMEM;

	if (!s || !r || !h || !eauth || es_open(s, fd, k)) {
		snprintf(why, cap, "media: upload failed: out of resources");
		goto out;
	}
	snprintf(url, sizeof(url), "https://%s/mms/%s/%s?auth=%s&token=%s", host, upload_path(t),
		 token, eauth, token);
	hdr = curl_slist_append(hdr, "Origin: https://web.whatsapp.com");
	hdr = hdr ? curl_slist_append(hdr, "Content-Type: application/octet-stream") : NULL;
	/* no "Expect: 100-continue" (libcurl's for large bodies): a host that
	 * does not answer it costs a second's wait per upload; neither Baileys
	 * nor whatsmeow send it */
	hdr = hdr ? curl_slist_append(hdr, "Expect:") : NULL;
	if (!hdr)
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)want->enc_length);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, s);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_resp);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 15000L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L); /* stalled 60 s: cut */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	if (ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (s->failed) {
		snprintf(why, cap, "media: upload failed: cannot read the source");
		rc = Y_EIO;
	} else if (res != CURLE_OK) {
		snprintf(why, cap, "media: upload failed: %.100s",
			 err[0] ? err : curl_easy_strerror(res));
		rc = Y_EAGAIN;
	} else if (code != 200) {
		snprintf(why, cap, "media: upload failed: HTTP %ld", code);
		rc = code == 401 || code == 403 ? Y_ESTATE
		     : code >= 500 || code == 429 ? Y_EAGAIN : Y_EIO;
	} else if (!s->done || memcmp(s->sums.file_enc_sha256, want->file_enc_sha256, 32)) {
		snprintf(why, cap, "media: upload failed: the source changed while it was sent");
		rc = Y_EIO;
	} else if (!(j = json_loads(r->buf, 0, NULL)) ||
		   !(jurl = json_string_value(json_object_get(j, "url"))) ||
		   !(jdp = json_string_value(json_object_get(j, "direct_path"))) ||
		   strlen(jurl) >= sizeof(up->url) || strlen(jdp) >= sizeof(up->direct_path)) {
		snprintf(why, cap, "media: upload failed: bad answer from the media host");
		rc = Y_EIO;
	} else {
		snprintf(up->url, sizeof(up->url), "%s", jurl);
		snprintf(up->direct_path, sizeof(up->direct_path), "%s", jdp);
		rc = Y_OK;
	}
out:
	json_decref(j);
	curl_slist_free_all(hdr);
	curl_free(eauth);
	if (h)
		curl_easy_cleanup(h);
	if (s)
		wa_media_enc_free(s->enc);
	free(s);
	free(r);
	return rc;
}

/* The first pass: the sums an encryption of fd under k ends with. */
static int sums_of(int fd, const struct wa_media_keys *k, struct wa_media_sums *sums)
{
	struct encstream *s = malloc(sizeof(*s));
	int rc;

	if (!s)
		return Y_ENOMEM;
	rc = es_open(s, fd, k);
	while (!rc && es_fill(s))
		;
	if (!rc && (s->failed || !s->done))
		rc = Y_EIO;
	if (!rc)
		*sums = s->sums;
	wa_media_enc_free(s->enc);
	free(s);
	return rc;
}

int media_upload(const struct wa_media_conn *mc, const char *ca_file, enum wa_media_type t, int fd,
		 const char *log_id, uint8_t key[WA_MEDIA_KEY_LEN], struct wa_media_sums *sums,
		 struct media_uploaded *up, char *why, size_t cap)
{
	struct wa_media_keys k;
	char token[CODEC_B64URL_ENC_LEN(32)];
	int rc = wa_crypto_random(key, WA_MEDIA_KEY_LEN);

	rc = rc ?: wa_media_keys_derive(&k, key, t);
	rc = rc ?: sums_of(fd, &k, sums);
	if (rc) {
		snprintf(why, cap, "media: cannot encrypt the source");
		return Y_EIO;
	}
	codec_b64url_encode(sums->file_enc_sha256, 32, token);
	/* each host in turn while they cannot be reached or are busy (as
	 * Baileys' getWAUploadToServer and whatsmeow's upload do) */
	rc = Y_EAGAIN;
	for (size_t i = 0; i < mc->nhosts && rc == Y_EAGAIN; i++) {
		rc = post_one(ca_file, mc->hosts[i], mc->auth, token, t, fd, &k, sums, up, why, cap);
		if (rc == Y_EAGAIN && i + 1 < mc->nhosts)
			LOG_WARN("media upload failed on a host: trying the next", "{s:s, s:s, s:s}",
				 "id", log_id, "host", mc->hosts[i], "reason", why);
		else if (rc == Y_EAGAIN && i > 0 && !strncmp(why, "media: upload failed: ", 22)) {
			char last[256];

			snprintf(last, sizeof(last), "%s", why + 22);
			snprintf(why, cap, "media: upload failed on every media host: %s", last);
		}
	}
	wa_wipe(&k, sizeof(k));
	return rc;
}

/* ---- the Message ---- */

struct outmedia {
	enum wa_media_type type;
	const char *mimetype, *caption, *file_name;
	bool ptt;
	const struct media_meta *meta; /* dimensions, seconds, thumbnail, waveform */
	uint8_t key[WA_MEDIA_KEY_LEN];
	struct wa_media_sums sums;
	struct media_uploaded up;
};

#define BIN(x, n) ((ProtobufCBinaryData){ .len = (n), .data = (uint8_t *)(x) })

static int pack_message(const struct outmedia *o, uint8_t **pb, size_t *len)
{
	Wa__Message msg = WA__MESSAGE__INIT;
	Wa__Message__ImageMessage im = WA__MESSAGE__IMAGE_MESSAGE__INIT;
	Wa__Message__VideoMessage vm = WA__MESSAGE__VIDEO_MESSAGE__INIT;
	Wa__Message__AudioMessage am = WA__MESSAGE__AUDIO_MESSAGE__INIT;
	Wa__Message__DocumentMessage dm = WA__MESSAGE__DOCUMENT_MESSAGE__INIT;
	Wa__Message__StickerMessage sm = WA__MESSAGE__STICKER_MESSAGE__INIT;
	struct ybuf b = YBUF_INIT(WA_SIGNAL_MAX_MESSAGE);
	char *url = (char *)o->up.url, *dp = (char *)o->up.direct_path;
	char *mime = (char *)o->mimetype, *cap = (char *)o->caption;
	ProtobufCBinaryData key = BIN(o->key, 32), sha = BIN(o->sums.file_sha256, 32),
			    esha = BIN(o->sums.file_enc_sha256, 32);
	int64_t ts = (int64_t)time(NULL);
	const struct media_meta *mt = o->meta;
	int rc;

/* what a recipient shows before downloading, where we know it */
#define DIMS(x)                                                                          \
	do {                                                                             \
		if (mt && mt->width)                                                     \
			(x).has_width = (x).has_height = 1, (x).width = mt->width,       \
			(x).height = mt->height;                                         \
	} while (0)
#define SECONDS(x)                                                                       \
	do {                                                                             \
		if (mt && mt->has_seconds)                                               \
			(x).has_seconds = 1, (x).seconds = mt->seconds;                  \
	} while (0)
/* what every kind carries: where, the key, both hashes, the length */
#define COMMON(x)                                                                        \
	do {                                                                             \
		(x).url = url, (x).directpath = dp, (x).mimetype = mime;                 \
		(x).has_mediakey = (x).has_filesha256 = (x).has_fileencsha256 = 1;       \
		(x).mediakey = key, (x).filesha256 = sha, (x).fileencsha256 = esha;      \
		(x).has_filelength = (x).has_mediakeytimestamp = 1;                      \
		(x).filelength = o->sums.file_length, (x).mediakeytimestamp = ts;        \
	} while (0)
	switch (o->type) {
	case WA_MEDIA_IMAGE:
		COMMON(im);
		im.caption = cap;
		DIMS(im);
		if (mt && mt->thumb)
			im.has_jpegthumbnail = 1, im.jpegthumbnail = BIN(mt->thumb, mt->thumb_len);
		msg.imagemessage = &im;
		break;
	case WA_MEDIA_VIDEO:
		COMMON(vm);
		vm.caption = cap;
		DIMS(vm);
		SECONDS(vm);
		if (mt && mt->thumb)
			vm.has_jpegthumbnail = 1, vm.jpegthumbnail = BIN(mt->thumb, mt->thumb_len);
		msg.videomessage = &vm;
		break;
	case WA_MEDIA_AUDIO:
		COMMON(am);
		am.has_ptt = o->ptt, am.ptt = o->ptt;
		SECONDS(am);
		if (mt && mt->has_waveform)
			am.has_waveform = 1,
			am.waveform = BIN(mt->waveform, MEDIA_META_WAVE_LEN);
		msg.audiomessage = &am;
		break;
	case WA_MEDIA_DOCUMENT:
		COMMON(dm);
		dm.caption = cap;
		dm.filename = (char *)o->file_name, dm.title = (char *)o->file_name;
		msg.documentmessage = &dm;
		break;
	case WA_MEDIA_STICKER:
		COMMON(sm);
		DIMS(sm);
		msg.stickermessage = &sm;
		break;
	default:
		return Y_EINVAL;
	}
#undef COMMON
#undef DIMS
#undef SECONDS
	rc = wa_pb_pack(&msg.base, &b);
	if (rc) {
		ybuf_release(&b);
		return rc;
	}
	*pb = b.data; /* taken */
	*len = b.len;
	return Y_OK;
}

/* ---- one message ---- */

/* Y_OK (handed to the engine or dropped), Y_EAGAIN (again at j->due_ms),
 * else failed with why. */
static int process(struct media_up *u, struct upjob *j, char *why, size_t cap)
{
	struct store_message m;
	struct outmedia o;
	struct wa_media_conn mc;
	struct stat sb;
	json_t *body = NULL, *media, *upl;
	const char *kind, *url, *file, *given;
	char src[600], mwhy[160];
	uint8_t head[16];
	ssize_t hn;
	int fd = -1, rc;

	rc = store_message_get(u->st, j->sid, j->mid, &m);
	if (rc == Y_ENOTFOUND)
		return Y_OK; /* deleted meanwhile */
	if (rc) {
		j->due_ms = clock_mono_ms() + 2000;
		return Y_EAGAIN;
	}
	memset(&o, 0, sizeof(o));
	if (strcmp(m.status, "pending") || !m.wa_id || !m.to_jid) {
		rc = Y_OK; /* sent already */
		goto out;
	}
	body = m.body ? json_loads(m.body, 0, NULL) : NULL;
	media = json_object_get(body, "media");
	upl = json_object_get(body, "upload");
	kind = json_string_value(json_object_get(media, "kind"));
	url = json_string_value(json_object_get(upl, "url"));
	file = json_string_value(json_object_get(upl, "from"));
	if (file && strcmp(file, "base64") && strcmp(file, "upload"))
		file = NULL; /* "url" */
	given = json_string_value(json_object_get(media, "mimetype"));
	rc = Y_EINVAL;
	if (!kind || wa_media_type_parse(kind) < 0 || (!url && !file) ||
	    media_up_src_path(u->dir, j->sid, m.wa_id, src, sizeof(src))) {
		snprintf(why, cap, "media: bad stored message");
		goto out;
	}
	o.type = (enum wa_media_type)wa_media_type_parse(kind);
	o.caption = m.text;
	o.file_name = json_string_value(json_object_get(media, "fileName"));
	o.ptt = json_is_true(json_object_get(media, "ptt"));
	if (access(src, F_OK)) {
		if (!url) {
			snprintf(why, cap, "media: the source file is gone");
			goto out;
		}
		if (fetch_url(u, url, src, (uint64_t)media_type_limit(o.type), why, cap))
			goto out;
	}
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) || (hn = read(fd, head, sizeof(head))) < 0) {
		snprintf(why, cap, "media: cannot read the source file");
		goto out;
	}
	if (!sb.st_size || sb.st_size > media_type_limit(o.type)) {
		snprintf(why, cap, "media: %s of %lld bytes (WhatsApp takes 1..%lld)", kind,
			 (long long)sb.st_size, (long long)media_type_limit(o.type));
		goto out;
	}
	if (media_mime_check(o.type, given, media_sniff(head, (size_t)hn), &o.mimetype, mwhy,
			     sizeof(mwhy))) {
		snprintf(why, cap, "media: %s", mwhy);
		goto out;
	}
	if (!j->probed) { /* before media_conn: a wait or retry does not decode again */
		FILE *mf = fopen(src, "rb");

		if (!mf || media_meta_probe(mf, o.type, media_sniff(head, (size_t)hn), o.ptt, 0,
					    &j->meta))
			LOG_WARN("media meta not read", "{s:s}", "id", j->mid);
		if (mf)
			fclose(mf);
		j->probed = true;
	}
	o.meta = &j->meta;
	rc = u->ops->conn(u->ud, j->sid, &mc);
	if (rc) {
		j->waits++;
		j->due_ms = clock_mono_ms() + (j->waits < 5 ? 1000 : 5000);
		rc = Y_EAGAIN;
		goto out;
	}
	rc = media_upload(&mc, u->ca_file, o.type, fd, j->mid, o.key, &o.sums, &o.up, why, cap);
	if (rc == Y_ESTATE) {
		u->ops->conn_stale(u->ud, j->sid);
		rc = Y_EAGAIN;
	}
	if (rc == Y_EAGAIN) {
		if (++j->tries >= MEDIA_UP_TRIES) {
			rc = Y_EIO;
			goto out;
		}
		LOG_WARN("media upload to try again", "{s:s, s:s}", "id", j->mid, "reason", why);
		j->due_ms = clock_mono_ms() + (u->backoff_ms << j->tries);
		goto out;
	}
	if (rc)
		goto out;
	{
		uint8_t *pb = NULL;
		size_t len = 0;

		rc = pack_message(&o, &pb, &len);
		if (rc) {
			snprintf(why, cap, "media: cannot pack the message");
			goto out;
		}
		LOG_INFO("media uploaded", "{s:s, s:s, s:I}", "id", j->mid, "kind", kind, "bytes",
			 (json_int_t)o.sums.file_length);
		u->ops->ready(u->ud, j->sid, j->mid, m.wa_id, m.to_jid, pb, len, src);
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc && rc != Y_EAGAIN) {
		LOG_WARN("media send failed", "{s:s, s:s}", "id", j->mid, "reason", why);
		u->ops->failed(u->ud, j->sid, m.wa_id ? m.wa_id : "", why);
		if (m.wa_id && !media_up_src_path(u->dir, j->sid, m.wa_id, src, sizeof(src)))
			unlink(src);
		rc = Y_OK;
	}
	json_decref(body);
	store_message_release(&m);
	return rc;
}

/* A fetch job (media_up_fetch): the URL's body into an up-{uuid}.tmp
 * file, fsync'd, then handed to the callback, which owns it. */
static void fetch_job(struct media_up *u, struct upjob *j)
{
	struct media_fetched f = { .rc = Y_EIO };
	char tmp[600], why[256] = "media: cannot fetch (out of resources)";
	uint8_t head[16];
	struct stat sb;
	ssize_t hn = -1;
	int fd = media_up_open_tmp(u->dir, tmp, sizeof(tmp));

	if (fd >= 0) {
		f.rc = media_fetch_status(j->url, fd, j->limit, u->allow_private,
					  u->fetch_timeout_ms, &f.http_status, why, sizeof(why));
		if (!f.rc && (fsync(fd) || fstat(fd, &sb))) {
			snprintf(why, sizeof(why), "media: fetch failed: cannot write (disk full?)");
			f.rc = Y_EIO;
		}
		if (close(fd) && !f.rc)
			f.rc = Y_EIO;
		if (!f.rc && (fd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0) {
			hn = read(fd, head, sizeof(head));
			close(fd);
		}
		if (!f.rc && hn < 0) {
			snprintf(why, sizeof(why), "media: cannot read the fetched file");
			f.rc = Y_EIO;
		}
		if (f.rc)
			unlink(tmp);
	}
	if (!f.rc) {
		f.tmp = tmp;
		f.len = (uint64_t)sb.st_size;
		f.head = head;
		f.headn = (size_t)hn;
	}
	f.why = why;
	j->cb(j->arg, &f);
}

static void append(struct media_up *u, struct upjob *j);

int media_up_fetch(struct media_up *u, const char *url, uint64_t limit, media_fetched_cb cb,
		   void *arg)
{
	struct upjob *j = u ? calloc(1, sizeof(*j)) : NULL;

	if (!u)
		return Y_ESTATE;
	if (!j || !(j->url = strdup(url))) {
		free(j);
		return Y_ENOMEM;
	}
	j->limit = limit;
	j->cb = cb;
	j->arg = arg;
	pthread_mutex_lock(&u->mu);
	append(u, j);
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return Y_OK;
}

/* ---- the thread ---- */

/* Appends j (mu held). */
static void append(struct media_up *u, struct upjob *j)
{
	j->next = NULL;
	if (u->tail)
		u->tail->next = j;
	else
		u->head = j;
	u->tail = j;
}

void media_up_queue(struct media_up *u, const char *sid, const char *mid)
{
	struct upjob *j;

	if (!u || !(j = calloc(1, sizeof(*j))))
		return; /* stays pending: queued again at the next start */
	snprintf(j->sid, sizeof(j->sid), "%s", sid);
	snprintf(j->mid, sizeof(j->mid), "%s", mid);
	pthread_mutex_lock(&u->mu);
	append(u, j);
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

/* The first job that is due (taken), or NULL with *wait_ms until one is. */
static struct upjob *take_due(struct media_up *u, int64_t *wait_ms)
{
	int64_t now = clock_mono_ms();

	*wait_ms = 1000;
	for (struct upjob **pp = &u->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
		struct upjob *j = *pp;

		if (j->due_ms <= now) {
			*pp = j->next;
			if (u->tail == j)
				u->tail = prev;
			j->next = NULL;
			return j;
		}
		if (j->due_ms - now < *wait_ms)
			*wait_ms = j->due_ms - now;
	}
	return NULL;
}

static void *run(void *arg)
{
	struct media_up *u = arg;
	char why[256];

	pthread_mutex_lock(&u->mu);
	while (!atomic_load(&u->stop)) {
		int64_t wait_ms;
		struct upjob *j = take_due(u, &wait_ms);

		if (!j) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait_ms / 1000;
			ts.tv_nsec += (wait_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&u->cv, &u->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&u->mu);
		ylog_set_session(j->sid);
		why[0] = 0;
		if (j->cb) {
			fetch_job(u, j);
			job_free(j);
			pthread_mutex_lock(&u->mu);
		} else if (process(u, j, why, sizeof(why)) == Y_EAGAIN) {
			pthread_mutex_lock(&u->mu);
			append(u, j);
		} else {
			job_free(j);
			pthread_mutex_lock(&u->mu);
		}
		ylog_set_session(NULL);
	}
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

/* Partial writes a crash left in out_dir (a .tmp is never a source). */
static void remove_tmp(const char *data_dir)
{
	char dir[600], p[900];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/media/out", data_dir);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n > 4 && !strcmp(e->d_name + n - 4, ".tmp")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	closedir(d);
}

int media_up_start(struct store *st, const struct media_up_opts *o,
		   const struct media_up_ops *ops, void *ud, struct media_up **out)
{
	struct media_up *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return Y_ENOMEM;
	u->st = st;
	u->ops = ops;
	u->ud = ud;
	u->dir = strdup(o->data_dir);
	u->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
	u->fetch_timeout_ms = o->fetch_timeout_ms > 0 ? o->fetch_timeout_ms : MEDIA_FETCH_TIMEOUT_MS;
	u->allow_private = o->allow_private;
	u->backoff_ms = o->backoff_ms > 0 ? o->backoff_ms : 1000;
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	if (u->dir)
		remove_tmp(u->dir); /* before anyone writes there */
	if (!u->dir || (o->ca_file && !u->ca_file) || make_dirs(u->dir) ||
	    pthread_create(&u->thread, NULL, run, u)) {
		media_up_free(u);
		return Y_EIO;
	}
	u->started = true;
	*out = u;
	return Y_OK;
}

void media_up_stop(struct media_up *u)
{
	if (!u || !u->started)
		return;
	pthread_mutex_lock(&u->mu);
	atomic_store(&u->stop, 1);
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
	pthread_join(u->thread, NULL);
	u->started = false;
}

void media_up_free(struct media_up *u)
{
	if (!u)
		return;
	media_up_stop(u);
	while (u->head) {
		struct upjob *j = u->head;

		u->head = j->next;
		if (j->cb) { /* never fetched: its caller is answered all the same */
			struct media_fetched f = { .rc = Y_ECLOSED, .why = "media: stopping" };

			j->cb(j->arg, &f);
		}
		job_free(j);
	}
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
	free(u->dir);
	free(u->ca_file);
	free(u);
}
