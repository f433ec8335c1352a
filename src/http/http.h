/*
 * The HTTP server: libmicrohttpd glue plus the middleware chain every request
 * passes through, in this order:
 *
 *   request id -> body cap (413) -> identity (X-API-Key or session cookie)
 *   -> rate limit (429) -> CORS preflight -> auth for /api/ (401, 403 CSRF)
 *   -> router (404/405) -> role (403 FORBIDDEN) -> handler
 *
 * Every response carries X-Request-Id, the security headers and, for an
 * allowed Origin, the CORS headers; every request ends in one access-log
 * line {method, path, status, durationMs, requestId}.
 *
 * This layer knows nothing of the store or of WhatsApp: the API layer gives
 * it a route table, an API-key verifier and an opaque `app` pointer.
 *
 * A struct http_req lives from the arrival of the request headers until the
 * response is sent; handlers borrow it and must answer exactly once through
 * one of the http_reply_* calls (a handler that does not answer produces a
 * 500 INTERNAL_ERROR).
 */
#ifndef YESAPP_HTTP_H
#define YESAPP_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "util/buf.h"

#define HTTP_KEY_ID_LEN 64
#define HTTP_REQUEST_ID_MAX 128

struct http_server;
struct http_req;

/* Who is calling, as the verifier (opts.auth) found it. */
struct http_ident {
	char id[HTTP_KEY_ID_LEN];  /* the key's id, or "user:<id>" for a signed-in user */
	int role;                  /* enum http_role */
	unsigned app_flags;        /* the verifier's own; opaque to this layer */
};

struct http_server_opts {
	const char *host;            /* bind address: IPv4/IPv6 literal or host name */
	int port;                    /* 0 = ephemeral (see http_server_port) */
	size_t max_body_bytes;       /* larger bodies get 413 PAYLOAD_TOO_LARGE */
	const char *cors_origins;    /* NULL/"" = no CORS, "*" = any, or "a,b,c" */
	int rate_limit_per_min;      /* per identity; 0 = off */
	unsigned threads;            /* 1 = one epoll thread, N > 1 = pool of N */
	const struct http_route *routes; /* borrowed; must outlive the server */
	size_t nroutes;
	/* Finds who calls: `key` is the X-API-Key header (NULL if absent);
	 * without one the verifier may look at the request's other headers (a
	 * session cookie). Y_OK fills *out (out->id is the rate-limit
	 * identity), Y_ENOTFOUND for no or unknown credentials, Y_ESTATE for a
	 * cookie whose CSRF check failed (403 CSRF_FAILED on a route that
	 * needs auth), other codes are internal failures. Called from server
	 * threads for every request. */
	int (*auth)(void *app, struct http_req *req, const char *key, struct http_ident *out);
	void *app;                   /* borrowed; handed to handlers */
	/* If set, called on the HTTP thread once each request's answer has gone
	 * (or the connection is gone), before the request is freed; it must not
	 * block (the audit log queues). */
	void (*on_done)(void *app, struct http_req *req);
	const char *trust_proxy;     /* TRUST_PROXY list (util/cidr.h) or NULL */
	const char *tls_cert_file;   /* both set: serve HTTPS (read at start) */
	const char *tls_key_file;
	/* Answers GET and HEAD requests outside /api/ that no route matches (the
	 * dashboard's files), on server threads; NULL, or no answer: 404 JSON. */
	void (*fallback)(struct http_req *req);
};

/* Binds and starts serving. *out is freed with http_server_free. Y_EINVAL for
 * bad options, Y_EIO when the address cannot be bound. */
int http_server_start(const struct http_server_opts *opts, struct http_server **out);
/* The bound port (the real one when opts.port was 0). */
int http_server_port(const struct http_server *srv);
/* Stops accepting new connections; requests already under way continue and
 * their responses ask the client to close the connection. */
void http_server_quiesce(struct http_server *srv);
/* Waits until no request is in flight; Y_ETIMEOUT after timeout_ms. */
int http_server_wait_idle(struct http_server *srv, int timeout_ms);
/* Stops the threads, closes every connection, frees. NULL is a no-op. */
void http_server_free(struct http_server *srv);
/* Requests handled since start (all statuses). */
unsigned long long http_server_requests(const struct http_server *srv);
/* Appends yesapp_http_request_duration_seconds (a Prometheus histogram by
 * route template, method and status class, counted lock-free as each request
 * completes) to out. Any thread. */
int http_server_metrics(const struct http_server *srv, struct ybuf *out);

/* ---- for handlers ---- */
void *http_req_app(const struct http_req *req);
/* The server answering the request. */
struct http_server *http_req_server(const struct http_req *req);
int http_req_method(const struct http_req *req);
/* The i-th `{param}` of the matched route; NULL if i is out of range. */
const char *http_req_param(const struct http_req *req, int i, size_t *len);
/* A query-string argument (unescaped, borrowed) or NULL. *present says whether
 * the name appeared at all (also as "?name" without a value). */
const char *http_req_query(const struct http_req *req, const char *name, int *present);
const char *http_req_header(const struct http_req *req, const char *name);
/* 1 if the request's If-None-Match names etag (a quoted entity tag, weak
 * or not) by weak comparison, or is "*": answer 304 then. */
int http_req_etag_match(const struct http_req *req, const char *etag);
/* Adds Retry-After: seconds to the response (backpressure answers). */
void http_req_set_retry_after(struct http_req *req, int seconds);
/* Adds Content-Range: value (copied, cut at 63 bytes) to the response: a
 * 416 answered with http_reply_error says the size this way. */
void http_req_set_content_range(struct http_req *req, const char *value);
/* The request body (NUL-terminated, borrowed); len may be 0. */
const char *http_req_body(const struct http_req *req, size_t *len);
/* The client's address: the peer's, or the one a TRUST_PROXY proxy gave. */
const char *http_req_client_ip(const struct http_req *req);
/* The authenticated key id, or NULL on public routes without a valid key. */
const char *http_req_key_id(const struct http_req *req);
/* Who called, or NULL if not authenticated. */
const struct http_ident *http_req_ident(const struct http_req *req);
/* The matched route's pattern, or NULL. */
const char *http_req_route_pattern(const struct http_req *req);
/* The status answered so far (0 if none). */
int http_req_status(const struct http_req *req);
/* The method as sent ("GET"). */
const char *http_req_method_name(const struct http_req *req);
/* The caller's role (enum http_role); HTTP_ROLE_PUBLIC if not authenticated. */
int http_req_role(const struct http_req *req);
/* 1 if the request came over TLS (ours, or a trusted proxy's). */
int http_req_https(const struct http_req *req);
/* A short note (up to 63 bytes, copied) the handler leaves for the on_done
 * hook, e.g. the id of what it created; "" if none. */
void http_req_set_note(struct http_req *req, const char *note);
const char *http_req_note(const struct http_req *req);
/* Adds a Set-Cookie header (value copied, up to 511 bytes) to the response. */
void http_req_set_cookie(struct http_req *req, const char *value);
const char *http_req_id(const struct http_req *req);

/* Answers with a JSON body (takes ownership of body; NULL -> 500). */
void http_reply_json(struct http_req *req, int status, json_t *body);
/* Answers {"error": code, "message": message, "details": details or {}}
 * (takes ownership of details, may be NULL). */
void http_reply_error(struct http_req *req, int status, const char *code, const char *message,
		      json_t *details);
/* Answers with no body (e.g. 204). */
void http_reply_empty(struct http_req *req, int status);
/* Answers with a body of another type (copied): content_type must outlive
 * the request (a literal); cache_control NULL means no-store; etag (quoted)
 * may be NULL. A 304 passes len 0 and keeps the ETag. */
void http_reply_bytes(struct http_req *req, int status, const char *content_type,
		      const void *data, size_t len, const char *cache_control, const char *etag);

/* Answers with bytes [off, off + len) of the open file fd (taken: closed
 * once sent, or on any failure), sent by libmicrohttpd from the file
 * without reading it into memory. content_type is copied; cache_control
 * NULL means no-store; headers: extra name, value pairs ending with NULL
 * (copied; may be NULL). */
void http_reply_fd(struct http_req *req, int status, const char *content_type, int fd,
		   uint64_t off, uint64_t len, const char *cache_control,
		   const char *const *headers);
/* A stored file (the dashboard's): the body is copied; every string must
 * outlive the request (literals or static data). gzipped: data is gzip
 * (Content-Encoding: gzip, never gzipped again); vary_encoding: the choice
 * between forms depended on Accept-Encoding; csp NULL keeps the API's
 * Content-Security-Policy. */
struct http_asset_reply {
	const char *content_type;
	const void *data;
	size_t len;
	const char *cache_control;
	const char *etag;
	int gzipped;
	int vary_encoding;
	const char *csp;
};
void http_reply_asset(struct http_req *req, int status, const struct http_asset_reply *a);
/* 1 if Accept-Encoding takes gzip (listed, or "*", without q=0). */
int http_req_accepts_gzip(const struct http_req *req);
/* The request's path (without the query), borrowed. */
const char *http_req_path(const struct http_req *req);

/*
 * A streamed answer (Server-Sent Events): 200 with content_type (a literal)
 * and a body of unknown length made by ops->read on an HTTP thread as the
 * client takes it. read writes up to max bytes into buf and returns the
 * count, 0 for "nothing now" (the connection is then suspended, costing no
 * thread, until http_stream_resume), or -1 to end the stream. read must not
 * block. The stream also ends when the server quiesces. ops->done(arg) runs
 * once both the connection and the caller are done (http_stream_release).
 * Returns the caller's reference, or NULL when out of memory (nothing
 * answered then).
 */
struct http_stream;
struct http_stream_ops {
	long (*read)(void *arg, char *buf, size_t max);
	void (*done)(void *arg);
};
struct http_stream *http_reply_stream(struct http_req *req, const char *content_type,
				      const struct http_stream_ops *ops, void *arg);
/* Any thread: read will be called again soon (no-op once closed). */
void http_stream_resume(struct http_stream *st);
/* 1 once the connection is gone (its response freed). */
int http_stream_closed(struct http_stream *st);
void http_stream_release(struct http_stream *st); /* NULL is a no-op */

/*
 * A deferred answer, for a handler whose answer comes from another thread
 * (the engine's loop). The handler calls http_req_defer before it hands the
 * work on and returns without answering: the connection is then suspended,
 * holding no HTTP thread. The other thread, once, calls http_defer_begin,
 * answers the request it returns with http_reply_* / http_req_set_* (unless
 * it is NULL: the client went away, or the server stopped), and
 * http_defer_finish, which sends it (500 if nothing was answered) and drops
 * the handle. NULL from http_req_defer: out of memory, nothing changed.
 */
struct http_defer;
struct http_defer *http_req_defer(struct http_req *req);
struct http_req *http_defer_begin(struct http_defer *d);
void http_defer_finish(struct http_defer *d);
/* Between http_defer_begin and http_defer_finish: 1 when the client is
 * gone (the request is NULL, or its socket was closed or half-closed by
 * the peer: a suspended connection is not watched, so a hang-up during a
 * long wait shows only here), else 0. For a completer about to commit
 * something only a present client should get. */
int http_defer_client_gone(struct http_defer *d);

/*
 * A multipart/form-data body read as it arrives (a HTTP_ROUTE_STREAM
 * route), decoded by libmicrohttpd's post processor. The route's handler,
 * called when the head has arrived, either answers at once (an error: the
 * body is then not read) or calls http_req_read_form, which takes arg.
 * Then, on the request's HTTP thread:
 *   - part(arg, req, ...) for each piece of a part's value, in order: the
 *     part's name, its filename and Content-Type as its headers gave them
 *     (NULL when absent), bytes p[0..n) at offset off of that value (n may be
 *     0). 0 goes on; anything else stops reading (the handler answered with
 *     http_reply_error; the rest of the body is read and dropped, bounded as
 *     a too-big body is, then that answer is sent).
 *   - end(arg, req, ok) once the body is in, unless part stopped: ok is 1
 *     for a whole multipart body, 0 for a malformed or cut one. It answers,
 *     or defers (http_req_defer).
 *   - done(arg) exactly once, when the request ends (also when the client
 *     went away mid-body): arg is not used after it.
 * Returns Y_OK (arg taken), Y_EUNSUPPORTED when the Content-Type is not
 * multipart/form-data, Y_EINVAL when it names no usable boundary, Y_ESTATE
 * outside a HTTP_ROUTE_STREAM handler, Y_ENOMEM; arg is not taken on an
 * error (nothing is answered: the handler answers).
 */
struct http_form_ops {
	int (*part)(void *arg, struct http_req *req, const char *name, const char *filename,
		    const char *content_type, const char *p, uint64_t off, size_t n);
	void (*end)(void *arg, struct http_req *req, int ok);
	void (*done)(void *arg);
};
int http_req_read_form(struct http_req *req, const struct http_form_ops *ops, void *arg);

/* ---- exposed for unit tests ---- */
/* 1 if an incoming X-Request-Id is acceptable to echo: 1..128 chars of
 * [A-Za-z0-9._:-]. */
int http_request_id_ok(const char *s);
/* 1 if the If-None-Match value `list` (NULL: none; entries separated by
 * commas, each a quoted entity tag, W/ for a weak one, or "*") names etag
 * (quoted, without W/): weak_only 0 takes its strong or weak form or "*",
 * 1 only its weak form. Total over any NUL-terminated text. */
int http_etag_listed(const char *list, const char *etag, int weak_only);
/* Returns 1 if origin is allowed by the list ("*" or exact comma-separated
 * entries, surrounding spaces ignored). */
int http_cors_allowed(const char *list, const char *origin);

#endif
