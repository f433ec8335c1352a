/* The gate in front of libmicrohttpd: see gate.h. */
#include "http/gate.h"

#include "http/http.h"
#include "util/err.h"
#include "util/log.h"
#include "util/uuid.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define GATE_DRAIN_MS 2000          /* after an answer: read and drop this long */
#define GATE_DRAIN_MAX (1u << 20)   /* ... or this many bytes, then close */
#define GATE_ACCEPT_RETRY_MS 100    /* out of descriptors: try accepting again */

/* ---- judging a head (pure) ---- */

static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static enum http_head_verdict bad(struct http_head_problem *why, int status, const char *code,
				  const char *message)
{
	why->status = status;
	why->code = code;
	why->message = message;
	return status == 505 ? HTTP_HEAD_BAD_VERSION
	       : status == 414 ? HTTP_HEAD_URI_TOO_LONG
	       : status == 431 ? HTTP_HEAD_TOO_LARGE
			       : HTTP_HEAD_BAD;
}

static enum http_head_verdict bad_line(struct http_head_problem *why, const char *message)
{
	return bad(why, 400, "MALFORMED_REQUEST", message);
}

/* The request line l[0..n), without its line end: method SP target SP
 * version, one space each (RFC 9112 3; libmicrohttpd would read a target
 * with spaces in it as something else). */
static enum http_head_verdict request_line(const char *l, size_t n, struct http_head_problem *why)
{
	size_t m = 0, t;
	const char *ver;

	while (m < n && tchar((unsigned char)l[m]))
		m++;
	if (!m || m == n || l[m] != ' ')
		return bad_line(why, "the request line does not start with a method and a space");
	for (t = m + 1; t < n && l[t] != ' '; t++)
		if (ctl((unsigned char)l[t]))
			return bad_line(why, "the request target holds a control character");
	if (t == m + 1)
		return bad_line(why, "the request line has no target");
	if (t == n)
		return bad_line(why, "the request line has no HTTP version");
	ver = l + t + 1;
	if (n - t - 1 != 8 || memcmp(ver, "HTTP/", 5) || ver[5] < '0' || ver[5] > '9' ||
	    ver[6] != '.' || ver[7] < '0' || ver[7] > '9')
		return bad_line(why, "the request line does not end in one space and HTTP/<major>.<minor>");
	if (ver[5] != '1')
		return bad(why, 505, "HTTP_VERSION_NOT_SUPPORTED", "only HTTP/1.0 and HTTP/1.1 are served");
	return HTTP_HEAD_MORE;
}

static bool name_is(const char *l, size_t n, const char *name)
{
	if (strlen(name) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = l[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != name[i])
			return false;
	}
	return true;
}

/* A Content-Length value: 1#(digits), every element the same. Its value in
 * *out; false when malformed or when elements differ. */
static bool content_length(const char *s, size_t n, uint64_t *out)
{
	bool any = false;
	uint64_t first = 0;
	size_t i = 0;

	for (;;) {
		uint64_t v = 0;
		size_t digits = 0;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (++digits > 18)
				return false;
			v = v * 10 + (uint64_t)(s[i++] - '0');
		}
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (!digits || (any && v != first))
			return false;
		first = v;
		any = true;
		if (i == n)
			break;
		if (s[i++] != ',')
			return false;
	}
	*out = first;
	return true;
}

/* The first valid X-Request-Id among the lines of buf[0..len), whatever
 * else is wrong with them, into why->request_id. */
static void find_request_id(const char *buf, size_t len, struct http_head_problem *why)
{
	static const char name[] = "x-request-id:";
	const size_t nl = sizeof(name) - 1;

	for (size_t p = 0; p < len;) {
		const char *e = memchr(buf + p, '\n', len - p);
		size_t n = e ? (size_t)(e - (buf + p)) : len - p;

		if (n > nl && name_is(buf + p, nl, name)) {
			const char *val = buf + p + nl;
			size_t vn = n - nl;

			while (vn && (val[vn - 1] == '\r' || val[vn - 1] == ' ' || val[vn - 1] == '\t'))
				vn--;
			while (vn && (*val == ' ' || *val == '\t'))
				val++, vn--;
			if (vn && vn < sizeof(why->request_id)) {
				memcpy(why->request_id, val, vn);
				why->request_id[vn] = '\0';
				if (http_request_id_ok(why->request_id))
					return;
				why->request_id[0] = '\0';
			}
		}
		if (!e)
			break;
		p += n + 1;
	}
}

static enum http_head_verdict judge_head(const char *buf, size_t len, size_t max,
					 struct http_head_problem *why);

enum http_head_verdict http_head_check(const char *buf, size_t len, size_t max,
				       struct http_head_problem *why)
{
	enum http_head_verdict v = judge_head(buf, len, max, why);

	if (v != HTTP_HEAD_MORE && v != HTTP_HEAD_OK)
		find_request_id(buf, len < max ? len : max, why);
	return v;
}

static enum http_head_verdict judge_head(const char *buf, size_t len, size_t max,
					 struct http_head_problem *why)
{
	size_t p = 0, lim = len < max ? len : max;
	bool have_cl = false, first_field = true;
	uint64_t cl = 0;
	const char *e;
	enum http_head_verdict v;

	memset(why, 0, sizeof(*why));
	while (p < lim && (buf[p] == '\r' || buf[p] == '\n')) /* empty lines before it */
		p++;
	e = memchr(buf + p, '\n', lim - p);
	why->max_bytes = max;
	if (!e)
		return len >= max ? bad(why, 414, "URI_TOO_LONG", "request line too long")
				  : HTTP_HEAD_MORE;
	{
		size_t n = (size_t)(e - (buf + p));

		if (n && buf[p + n - 1] == '\r')
			n--;
		if ((v = request_line(buf + p, n, why)) != HTTP_HEAD_MORE)
			return v;
	}
	p = (size_t)(e - buf) + 1;
	for (;;) {
		const char *l = buf + p, *colon;
		size_t n;

		e = memchr(l, '\n', lim - p);
		if (!e)
			return len >= max ? bad(why, 431, "HEADERS_TOO_LARGE",
						"request headers too large")
					  : HTTP_HEAD_MORE;
		n = (size_t)(e - l);
		p += n + 1;
		if (n && l[n - 1] == '\r')
			n--;
		if (!n)
			return HTTP_HEAD_OK;
		for (size_t i = 0; i < n; i++)
			if (ctl((unsigned char)l[i]))
				return bad_line(why, "a header line holds a control character");
		if (l[0] == ' ' || l[0] == '\t') { /* obs-fold: part of the field before */
			if (first_field)
				return bad_line(why, "the first header line starts with whitespace");
			continue;
		}
		first_field = false;
		colon = memchr(l, ':', n);
		if (!colon)
			return bad_line(why, "a header line has no colon");
		for (const char *c = l; c < colon; c++)
			if (!tchar((unsigned char)*c))
				return bad_line(why, "a header name is not a token");
		if (colon == l)
			return bad_line(why, "a header line has an empty name");
		{
			const char *val = colon + 1;
			size_t vn = (size_t)(l + n - val), nn = (size_t)(colon - l);

			if (name_is(l, nn, "content-length")) {
				uint64_t x;

				if (!content_length(val, vn, &x) || (have_cl && x != cl))
					return bad(why, 400, "INVALID_CONTENT_LENGTH",
						   "Content-Length is not one number");
				have_cl = true;
				cl = x;
			}
		}
	}
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

size_t http_head_answer(const struct http_head_problem *why, char *out, size_t cap)
{
	char rid[sizeof(why->request_id)], body[512];
	int bn, n;

	if (why->request_id[0])
		snprintf(rid, sizeof(rid), "%s", why->request_id);
	else if (uuid_v4(rid) != Y_OK)
		snprintf(rid, sizeof(rid), "none");
	/* code and message are our own static texts: nothing to escape */
	if (why->status == 414 || why->status == 431)
		bn = snprintf(body, sizeof(body),
			      "{\"error\":\"%s\",\"message\":\"%s\",\"details\":{\"maxBytes\":%zu}}",
			      why->code, why->message, why->max_bytes);
	else
		bn = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\",\"details\":{}}",
			      why->code, why->message);
	if (bn < 0 || (size_t)bn >= sizeof(body))
		return 0;
	n = snprintf(out, cap,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: application/json; charset=utf-8\r\n"
		     "Content-Length: %d\r\n"
		     "Connection: close\r\n"
		     "Cache-Control: no-store\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "X-Request-Id: %s\r\n"
		     "\r\n%s",
		     why->status, reason_phrase(why->status), bn, rid, body);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* ---- the thread ---- */

struct pend {
	struct pend *prev, *next;
	int fd;
	bool draining;          /* answered: reading what is left, then close */
	size_t seen;            /* bytes peeked last time */
	size_t dropped;         /* while draining */
	int64_t deadline;       /* mono ms */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct http_gate {
	int lfd, ep, evfd;
	bool accepting;         /* lfd is in the epoll set */
	int64_t accept_retry;   /* mono ms; 0: none */
	size_t head_max;
	unsigned max_pending, npend;
	int idle_ms;
	http_gate_pass_fn pass;
	void *arg;
	struct pend *list;
	char *buf;              /* head_max + 1 */
	pthread_t th;
	bool started;
	atomic_bool stop, quiesce;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void unlink_pend(struct http_gate *g, struct pend *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		g->list = p->next;
	if (p->next)
		p->next->prev = p->prev;
	g->npend--;
	epoll_ctl(g->ep, EPOLL_CTL_DEL, p->fd, NULL);
}

static void close_pend(struct http_gate *g, struct pend *p)
{
	unlink_pend(g, p);
	close(p->fd);
	free(p);
}

static void listen_on(struct http_gate *g, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &g->lfd };

	if (g->lfd < 0 || on == g->accepting)
		return;
	if (epoll_ctl(g->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, g->lfd, on ? &ev : NULL) == 0)
		g->accepting = on;
}

static void accept_all(struct http_gate *g)
{
	while (g->lfd >= 0 && g->npend < g->max_pending) {
		struct pend *p = calloc(1, sizeof(*p));
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };

		if (!p) {
			g->accept_retry = mono_ms() + GATE_ACCEPT_RETRY_MS;
			listen_on(g, false);
			return;
		}
		p->addrlen = sizeof(p->addr);
		p->fd = accept4(g->lfd, (struct sockaddr *)&p->addr, &p->addrlen,
				SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (p->fd < 0) {
			int err = errno;

			free(p);
			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
				LOG_WARN("http: cannot accept now", "{s:s}", "error", strerror(err));
				g->accept_retry = mono_ms() + GATE_ACCEPT_RETRY_MS;
				listen_on(g, false);
			}
			return; /* EAGAIN, or a connection that went before it was taken */
		}
		p->deadline = mono_ms() + g->idle_ms;
		ev.data.ptr = p;
		if (epoll_ctl(g->ep, EPOLL_CTL_ADD, p->fd, &ev)) {
			close(p->fd);
			free(p);
			continue;
		}
		p->next = g->list;
		if (g->list)
			g->list->prev = p;
		g->list = p;
		g->npend++;
	}
	if (g->npend >= g->max_pending)
		listen_on(g, false); /* the rest wait in the backlog */
}

static void drain(struct http_gate *g, struct pend *p)
{
	for (;;) {
		ssize_t n = recv(p->fd, g->buf, g->head_max + 1, 0);

		if (n > 0) {
			p->dropped += (size_t)n;
			if (p->dropped <= GATE_DRAIN_MAX)
				continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			return;
		}
		close_pend(g, p); /* the client's end, an error, or enough */
		return;
	}
}

static void judge(struct http_gate *g, struct pend *p, uint32_t events)
{
	struct http_head_problem why;
	enum http_head_verdict v;
	ssize_t n;

	if (p->draining) {
		drain(g, p);
		return;
	}
	n = recv(p->fd, g->buf, g->head_max + 1, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* gone before a whole head */
		close_pend(g, p);
		return;
	}
	v = http_head_check(g->buf, (size_t)n, g->head_max, &why);
	if (v == HTTP_HEAD_MORE) {
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			close_pend(g, p); /* it will send no more */
			return;
		}
		if ((size_t)n > p->seen) /* progress: the idle clock starts again */
			p->deadline = mono_ms() + g->idle_ms;
		p->seen = (size_t)n;
		return;
	}
	if (v == HTTP_HEAD_OK) {
		unlink_pend(g, p);
		g->pass(g->arg, p->fd, (const struct sockaddr *)&p->addr, p->addrlen);
		free(p);
		return;
	}
	{
		char ans[1024];
		size_t len = http_head_answer(&why, ans, sizeof(ans));

		LOG_DEBUG("http: request head refused before the server", "{s:i, s:s}", "status",
			  why.status, "error", why.code);
		if (len)
			(void)send(p->fd, ans, len, MSG_NOSIGNAL);
		/* the rest of what it sends is read and dropped, so closing
		 * does not reset the connection before the answer is read */
		shutdown(p->fd, SHUT_WR);
		p->draining = true;
		p->deadline = mono_ms() + GATE_DRAIN_MS;
		drain(g, p);
	}
}

static void *gate_main(void *arg)
{
	struct http_gate *g = arg;
	struct epoll_event evs[64];

	while (!atomic_load(&g->stop)) {
		int64_t now = mono_ms(), wait = 1000;
		int n;

		for (struct pend *p = g->list; p; p = p->next)
			if (p->deadline - now < wait)
				wait = p->deadline - now;
		if (g->accept_retry && g->accept_retry - now < wait)
			wait = g->accept_retry - now;
		n = epoll_wait(g->ep, evs, 64, wait < 0 ? 0 : (int)wait);
		for (int i = 0; i < n; i++) {
			void *ptr = evs[i].data.ptr;

			if (ptr == &g->evfd) {
				uint64_t x;

				(void)!read(g->evfd, &x, sizeof(x));
			} else if (ptr == &g->lfd) {
				accept_all(g);
			} else {
				judge(g, ptr, evs[i].events);
			}
		}
		if (atomic_load(&g->quiesce) && g->lfd >= 0) {
			listen_on(g, false);
			close(g->lfd);
			g->lfd = -1;
		}
		now = mono_ms();
		for (struct pend *p = g->list, *next; p; p = next) {
			next = p->next;
			if (p->deadline <= now)
				close_pend(g, p);
		}
		if (g->accept_retry && now >= g->accept_retry)
			g->accept_retry = 0;
		if (!g->accepting && !g->accept_retry && g->npend < g->max_pending && g->lfd >= 0) {
			listen_on(g, true);
			accept_all(g);
		}
	}
	return NULL;
}

static void wake(struct http_gate *g)
{
	uint64_t one = 1;

	(void)!write(g->evfd, &one, sizeof(one));
}

int http_gate_start(int listen_fd, size_t head_max, unsigned max_pending, int idle_s,
		    http_gate_pass_fn pass, void *arg, struct http_gate **out)
{
	struct http_gate *g;
	struct epoll_event ev = { .events = EPOLLIN };

	*out = NULL;
	if (listen_fd < 0 || !head_max || !max_pending || idle_s <= 0 || !pass)
		return Y_EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return Y_ENOMEM;
	g->lfd = listen_fd;
	g->head_max = head_max;
	g->max_pending = max_pending;
	g->idle_ms = idle_s * 1000;
	g->pass = pass;
	g->arg = arg;
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	g->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	g->buf = malloc(head_max + 1);
	ev.data.ptr = &g->evfd;
	if (g->ep < 0 || g->evfd < 0 || !g->buf || epoll_ctl(g->ep, EPOLL_CTL_ADD, g->evfd, &ev))
		goto fail;
	listen_on(g, true);
	if (!g->accepting || pthread_create(&g->th, NULL, gate_main, g))
		goto fail;
	g->started = true;
	*out = g;
	return Y_OK;
fail:
	http_gate_free(g);
	return Y_EIO;
}

void http_gate_quiesce(struct http_gate *g)
{
	if (!g)
		return;
	atomic_store(&g->quiesce, true);
	wake(g);
}

void http_gate_free(struct http_gate *g)
{
	if (!g)
		return;
	if (g->started) {
		atomic_store(&g->stop, true);
		wake(g);
		pthread_join(g->th, NULL);
	}
	while (g->list)
		close_pend(g, g->list);
	if (g->lfd >= 0)
		close(g->lfd);
	if (g->ep >= 0)
		close(g->ep);
	if (g->evfd >= 0)
		close(g->evfd);
	free(g->buf);
	free(g);
}
