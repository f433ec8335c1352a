/* Tests of the checks media sending makes before anything is queued
 * (service/media_send.h: sniffing, mimetype against kind and bytes) and of
 * the media_conn answer's parser (client/mediaconn.c). */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "service/media_send.h"
#include "util/err.h"
#include "wa/node.h"

TEST(sniff_magic_bytes)
{
	static const struct {
		const char *bytes;
		size_t n;
		const char *mime;
	} v[] = {
		{ "\xff\xd8\xff\xe0", 4, "image/jpeg" },
		{ "\x89PNG\r\n\x1a\n", 8, "image/png" },
		{ "RIFF\x10\0\0\0WEBPVP8 ", 16, "image/webp" },
		{ "GIF89a", 6, "image/gif" },
		{ "\0\0\0\x18" "ftypmp42", 12, "video/mp4" },
		{ "OggS\0\x02", 6, "audio/ogg" },
		{ "ID3\x04", 4, "audio/mpeg" },
		{ "%PDF-1.7", 8, "application/pdf" },
		{ "hello world!", 12, NULL },
		{ "\x89PN", 3, NULL },   /* too short to tell */
		{ "RIFF\0\0\0\0WAVE", 12, NULL },
		{ "", 0, NULL },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *got = media_sniff((const uint8_t *)v[i].bytes, v[i].n);

		if (v[i].mime)
			CHECK_EQ_STR(got ? got : "(null)", v[i].mime);
		else
			CHECK(got == NULL);
	}
}

TEST(mimetype_checks)
{
	const char *use = NULL;
	char why[160];

	/* given and sniffed agree; parameters and case do not matter */
	CHECK(!media_mime_check(WA_MEDIA_IMAGE, "image/PNG", "image/png", &use, why, sizeof(why)));
	CHECK_EQ_STR(use, "image/PNG");
	CHECK(!media_mime_check(WA_MEDIA_AUDIO, "audio/ogg; codecs=opus", "audio/ogg", &use, why,
				sizeof(why)));
	CHECK(!media_mime_check(WA_MEDIA_AUDIO, "audio/mp4", "video/mp4", &use, why, sizeof(why)));
	/* absent: sniffed; a document may be anything */
	CHECK(!media_mime_check(WA_MEDIA_VIDEO, NULL, "video/mp4", &use, why, sizeof(why)));
	CHECK_EQ_STR(use, "video/mp4");
	CHECK(!media_mime_check(WA_MEDIA_DOCUMENT, NULL, NULL, &use, why, sizeof(why)));
	CHECK_EQ_STR(use, "application/octet-stream");
	CHECK(!media_mime_check(WA_MEDIA_DOCUMENT, "text/csv", NULL, &use, why, sizeof(why)));
	/* contradictions and misfits */
	CHECK(media_mime_check(WA_MEDIA_IMAGE, "image/jpeg", "image/png", &use, why, sizeof(why)));
	CHECK_EQ_STR(why, "mimetype image/jpeg contradicts the file's bytes (image/png)");
	CHECK(media_mime_check(WA_MEDIA_DOCUMENT, "application/pdf", "image/png", &use, why,
			       sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_IMAGE, NULL, NULL, &use, why, sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_IMAGE, NULL, "application/pdf", &use, why, sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_VIDEO, NULL, "image/png", &use, why, sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_STICKER, NULL, "image/png", &use, why, sizeof(why)));
	CHECK(!media_mime_check(WA_MEDIA_STICKER, NULL, "image/webp", &use, why, sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_AUDIO, "image/png", NULL, &use, why, sizeof(why)));
}

static struct wa_node *answer(const char *auth, const char *ttl, const char *const *hosts)
{
	struct wa_node *iq = wa_node_new("iq"), *mc = wa_node_add_child(iq, "media_conn");

	if (auth)
		wa_node_add_attr(mc, "auth", auth);
	if (ttl)
		wa_node_add_attr(mc, "ttl", ttl);
	for (; hosts && *hosts; hosts++)
		wa_node_add_attr(wa_node_add_child(mc, "host"), "hostname", *hosts);
	return iq;
}

TEST(media_conn_parse)
{
	static const char *const two[] = { "mmg.whatsapp.net", "127.0.0.1:4433", NULL };
	static const char *const bad[] = { "evil.example/path", "a b", NULL };
	struct wa_media_conn c;
	struct wa_node *n;

	n = answer("AUTH+/=", "300", two);
	CHECK_EQ_INT(wa_media_conn_parse(n, &c), Y_OK);
	CHECK_EQ_STR(c.auth, "AUTH+/=");
	CHECK_EQ_INT(c.ttl_s, 300);
	CHECK_EQ_INT(c.nhosts, 2);
	CHECK_EQ_STR(c.hosts[1], "127.0.0.1:4433");
	wa_node_free(n);
	n = answer(NULL, "300", two); /* no auth */
	CHECK_EQ_INT(wa_media_conn_parse(n, &c), Y_EINVAL);
	wa_node_free(n);
	n = answer("a", "x", two); /* no number */
	CHECK_EQ_INT(wa_media_conn_parse(n, &c), Y_EINVAL);
	wa_node_free(n);
	n = answer("a", "300", bad); /* hosts that are not host names: none left */
	CHECK_EQ_INT(wa_media_conn_parse(n, &c), Y_EINVAL);
	wa_node_free(n);
	CHECK_EQ_INT(wa_media_conn_parse(NULL, &c), Y_EINVAL);
}

/* ---- media_fetch against a local HTTP server that misbehaves ---- */

enum web_mode { WEB_SILENT, WEB_ENDLESS, WEB_DECLARED, WEB_EXACT };

struct web {
	int lfd, port;
	enum web_mode mode;
	pthread_t th;
};

/* One connection: reads the request head, then answers as mode says
 * (send with MSG_NOSIGNAL: the client hangs up at the cap). */
static void *web_run(void *arg)
{
	struct web *w = arg;
	char buf[4096];
	int c = accept(w->lfd, NULL, NULL);

	if (c < 0)
		return NULL;
	if (read(c, buf, sizeof(buf)) <= 0) /* the request (small: one read) */
		goto out;
	if (w->mode == WEB_SILENT) {
		/* until the client gives up, or 5 s (a fetch without a timeout
		 * then fails the test instead of hanging it) */
		struct timeval tv = { .tv_sec = 5 };

		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (read(c, buf, sizeof(buf)) > 0)
			;
	} else if (w->mode == WEB_ENDLESS) {
		/* no Content-Length: the body ends when the connection does */
		const char *h = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";

		memset(buf, 'x', sizeof(buf));
		if (send(c, h, strlen(h), MSG_NOSIGNAL) < 0)
			goto out;
		for (int i = 0; i < 1000; i++) /* 4 MB at most */
			if (send(c, buf, sizeof(buf), MSG_NOSIGNAL) <= 0)
				break;
	} else {
		size_t n = w->mode == WEB_DECLARED ? 200000 : 1000;
		int hl = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);

		if (send(c, buf, (size_t)hl, MSG_NOSIGNAL) < 0)
			goto out;
		memset(buf, 'y', sizeof(buf));
		while (n > 0) {
			ssize_t k = send(c, buf, n < sizeof(buf) ? n : sizeof(buf), MSG_NOSIGNAL);

			if (k <= 0)
				break;
			n -= (size_t)k;
		}
	}
out:
	close(c);
	return NULL;
}

static int web_start(struct web *w, enum web_mode mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	w->mode = mode;
	w->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->lfd < 0 || bind(w->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(w->lfd, 4) ||
	    getsockname(w->lfd, (struct sockaddr *)&a, &al))
		return -1;
	w->port = ntohs(a.sin_port);
	return pthread_create(&w->th, NULL, web_run, w);
}

static void web_stop(struct web *w)
{
	pthread_join(w->th, NULL);
	close(w->lfd);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Fetches from a fresh server in mode; *size the bytes written to the fd. */
static int fetch_from(enum web_mode mode, uint64_t limit, long timeout_ms, char *why, size_t cap,
		      off_t *size, double *secs)
{
	struct web w;
	char url[64];
	FILE *f = tmpfile();
	struct stat sb;
	double t0;
	int rc;

	if (!f)
		return -100;
	if (web_start(&w, mode)) {
		fclose(f);
		return -100;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/m.bin", w.port);
	t0 = now_s();
	rc = media_fetch(url, fileno(f), limit, true, timeout_ms, why, cap);
	*secs = now_s() - t0;
	web_stop(&w);
	*size = fstat(fileno(f), &sb) ? -1 : sb.st_size;
	fclose(f);
	return rc;
}

TEST(fetch_timeout_and_size_cap)
{
	char why[256];
	off_t size;
	double secs;

	/* a host that takes the request and never answers: cut at the timeout */
	why[0] = 0;
	CHECK_EQ_INT(fetch_from(WEB_SILENT, 100000, 400, why, sizeof(why), &size, &secs), Y_EIO);
	CHECK(!strncmp(why, "media: fetch failed: ", 21));
	CHECK(strstr(why, "imed out") != NULL); /* libcurl's "Operation timed out ..." */
	CHECK(secs >= 0.35 && secs < 5);
	CHECK_EQ_INT(size, 0);
	/* a body with no length that goes past the cap: stopped at the cap */
	why[0] = 0;
	CHECK_EQ_INT(fetch_from(WEB_ENDLESS, 100000, 10000, why, sizeof(why), &size, &secs), Y_ETOOBIG);
	CHECK_EQ_STR(why, "media: fetch failed: larger than 100000 bytes");
	CHECK(size <= 100000);
	/* a Content-Length past the cap: refused */
	why[0] = 0;
	CHECK_EQ_INT(fetch_from(WEB_DECLARED, 100000, 10000, why, sizeof(why), &size, &secs), Y_ETOOBIG);
	CHECK_EQ_STR(why, "media: fetch failed: larger than 100000 bytes");
	CHECK(size <= 100000);
	/* exactly the cap: fetched whole */
	why[0] = 0;
	CHECK_EQ_INT(fetch_from(WEB_EXACT, 1000, 10000, why, sizeof(why), &size, &secs), Y_OK);
	CHECK_EQ_INT(size, 1000);
}

int main(void)
{
	RUN(sniff_magic_bytes);
	RUN(mimetype_checks);
	RUN(media_conn_parse);
	RUN(fetch_timeout_and_size_cap);
	return test_summary();
}
