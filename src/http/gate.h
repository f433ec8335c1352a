/*
 * The gate: what reaches the HTTP server before libmicrohttpd does.
 *
 * libmicrohttpd answers some broken requests by itself, with an HTML page
 * and none of our headers (a request line without an HTTP version, a header
 * line without a colon, a head larger than its connection pool, an
 * unsupported HTTP version), or closes without a word ("GARBAGE"), or waits
 * for a body whose length it cannot know (two Content-Length headers that
 * disagree). The gate owns the listening socket instead: it accepts each
 * connection, looks at the head of its first request without reading it
 * (MSG_PEEK), and either hands the socket to libmicrohttpd untouched
 * (MHD_add_connection, through the pass callback) or answers the problem
 * itself with our JSON error body {error, message, details} and an
 * X-Request-Id (the client's, when it sent a valid one), then closes.
 *
 * Only the first request of a connection is looked at: later ones on a
 * kept-alive connection, and everything over native TLS (where the gate is
 * not used), keep libmicrohttpd's own answers. Bodies are never looked at
 * (a malformed chunked body still gets libmicrohttpd's answer).
 *
 * Threads: http_gate_start starts one thread that runs accept, the peeks
 * and the answers (epoll, edge-triggered; never blocks on one client).
 * pass is called on that thread. http_gate_quiesce and http_gate_free may
 * be called from any one thread, once each.
 */
#ifndef YESAPP_HTTP_GATE_H
#define YESAPP_HTTP_GATE_H

#include <stddef.h>
#include <sys/socket.h>

/* What a request head looks like so far (http_head_check). */
enum http_head_verdict {
	HTTP_HEAD_MORE = 0,     /* well-formed so far, not complete */
	HTTP_HEAD_OK,           /* complete and well-formed: hand it over */
	HTTP_HEAD_BAD,          /* 400 (code and message say why) */
	HTTP_HEAD_BAD_VERSION,  /* 505: an HTTP version other than 1.x */
	HTTP_HEAD_URI_TOO_LONG, /* 414: the request line passed the limit unfinished */
	HTTP_HEAD_TOO_LARGE,    /* 431: the head passed the limit unfinished */
};

struct http_head_problem {
	int status;             /* 400, 414, 431 or 505; 0 for MORE and OK */
	const char *code;       /* static: "MALFORMED_REQUEST", ... */
	const char *message;    /* static, for people */
	size_t max_bytes;       /* the limit (details.maxBytes of a 414 / 431) */
	char request_id[65];    /* a valid X-Request-Id the client sent, else "" */
};

/*
 * Judges the start of a connection's bytes, buf[0..len), as the head of an
 * HTTP/1.x request (RFC 9112: empty lines before the request line are
 * skipped; method SP target SP HTTP/1.x, one space each, the target
 * without spaces or control characters; header lines name ":" value, or obs-fold
 * continuations; Content-Length digits, several ones equal). max bounds the
 * whole head: a head not finished within max bytes is too large (414 if
 * still in its request line). Pure: no allocation, no I/O; fuzzed.
 */
enum http_head_verdict http_head_check(const char *buf, size_t len, size_t max,
				       struct http_head_problem *why);

/* Writes the answer to a problem (status line, headers, JSON body) into
 * out; returns its length, or 0 if it does not fit. */
size_t http_head_answer(const struct http_head_problem *why, char *out, size_t cap);

/* Hands an accepted, non-blocking socket on; it owns fd from then on
 * (closes it on failure, as MHD_add_connection does). */
typedef void (*http_gate_pass_fn)(void *arg, int fd, const struct sockaddr *addr,
				  socklen_t addrlen);

struct http_gate;

/*
 * Starts the gate on listen_fd (bound and listening; taken: closed by
 * http_gate_quiesce or http_gate_free). At most max_pending connections are
 * looked at at once (more wait in the listen backlog); one silent for
 * idle_s seconds before its head is complete is closed. Y_OK or an error.
 */
int http_gate_start(int listen_fd, size_t head_max, unsigned max_pending, int idle_s,
		    http_gate_pass_fn pass, void *arg, struct http_gate **out);
/* Stops accepting (closes the listening socket); connections already
 * accepted are still judged and handed on. */
void http_gate_quiesce(struct http_gate *g);
/* Stops the thread, closes every connection not handed on. NULL: no-op. */
void http_gate_free(struct http_gate *g);

#endif
