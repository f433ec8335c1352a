/*
 * libmicrohttpd glue and the middleware chain (see http.h for the order).
 *
 * Ownership: each connection's current request is a heap struct http_req
 * created on the first access-handler call (headers received) and freed in
 * the request-completed callback, which also writes the access-log line and
 * ends the request's "in flight" count used by graceful shutdown.
 */
#include "http/http.h"
#include "http/gate.h"
#include "http/ratelimit.h"
#include "util/buf.h"
#include "util/cidr.h"
#include "util/err.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <brotli/encode.h>
#include <zlib.h>

#define RATELIMIT_SLOTS 16384
#define CONNECTION_LIMIT 1024
#define CONNECTION_TIMEOUT_S 30
/*
 * A too-big body is read and thrown away before the 413 goes out: a client
 * that is still writing when the server closes gets EPIPE/ECONNRESET instead
 * of the answer (Node fetch, Python requests). Only up to a bound: a body
 * announced by Content-Length up to the larger of DISCARD_FACTOR times
 * MAX_BODY_BYTES and DISCARD_MIN is read to its end; one announced beyond
 * that (or from a client waiting on "Expect: 100-continue") is answered at
 * once and the connection closed; a chunked body is cut off (the connection
 * dropped without an answer) once DISCARD_FACTOR times MAX_BODY_BYTES went by.
 */
#define DISCARD_FACTOR 4             /* times MAX_BODY_BYTES */
#define DISCARD_MIN (32u << 20)      /* bytes */
/*
 * Oversized request heads. libmicrohttpd answers a head that does not fit
 * its per-connection memory pool by itself (an HTML 414 or 431, without our
 * JSON or X-Request-Id), so the pool is made larger than our own limits and
 * we answer past them with a JSON 414 URI_TOO_LONG / 431 HEADERS_TOO_LARGE.
 * A head beyond the pool still gets libmicrohttpd's answer. The pool is
 * allocated per connection but only touched as far as it is used.
 */
#define URI_MAX (8u << 10)           /* bytes of the request target */
#define HEADERS_MAX (16u << 10)      /* bytes of all header lines */
#define MHD_POOL_BYTES (64u << 10)
/* The gate (gate.h) judges a connection's first head up to this size, below
 * the pool, so no head reaches libmicrohttpd's own 431 page. */
#define GATE_HEAD_MAX (48u << 10)

/* Request durations for /metrics: one histogram per (route, status class),
 * the last route slot for requests that matched no route. */
static const double hist_bounds[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
				      0.25,  0.5,   1,    2.5,   5,    10 };
#define HIST_BUCKETS (sizeof(hist_bounds) / sizeof(hist_bounds[0]))
#define HIST_CLASSES 5 /* 1xx..5xx */

struct hist {
	atomic_ullong bucket[HIST_BUCKETS]; /* not cumulative: each counts its own range */
	atomic_ullong count;
	atomic_ullong sum_us;
};

struct http_server {
	struct MHD_Daemon *d;
	struct http_gate *gate;      /* owns the listening socket; NULL over TLS */
	struct hist *hist;           /* (nroutes + 1) * HIST_CLASSES */
	struct http_server_opts o;
	char *cors;                  /* owned copy of o.cors_origins, NULL if none */
	struct http_ratelimit *rl;   /* NULL when rate limiting is off */
	struct cidr_list trusted;    /* TRUST_PROXY; n == 0: none */
	char *tls_cert, *tls_key;    /* PEM text when serving HTTPS, else NULL */
	int port;
	atomic_int in_flight;
	atomic_int quiesced;
	atomic_ullong requests;
};

struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const char *method_name;     /* borrowed from MHD, valid for the request */
	const char *path;            /* borrowed from MHD */
	int method;
	int64_t start_ns;
	struct ybuf body;
	int too_big;
	int head_error;              /* 414 or 431: the head passed our limits */
	int probe;                   /* a HTTP_ROUTE_PROBE route */
	size_t discarded;            /* body bytes dropped after too_big */
	size_t discard_cap;          /* past this many, drop the connection */
	struct http_match match;
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	char ip[INET6_ADDRSTRLEN];   /* the client: the peer, or what a trusted proxy says */
	int https;                   /* came over TLS (ours, or a trusted proxy's) */
	int compressible;            /* the body may be gzipped: Vary: Accept-Encoding */
	int gzipped;                 /* it was: gzip, or brotli when `brotli` */
	int brotli;
	struct http_ident ident;
	int authed;
	char set_cookie[512];        /* "" : none */
	char note[64];               /* http_req_set_note */
	const char *origin;          /* allowed Origin header value, else NULL */
	/* the response */
	int answered;
	int status;
	char *resp;                  /* malloc'd body or NULL */
	size_t resp_len;
	int allow_mask;              /* 405: methods for Allow */
	int retry_after;             /* 429: seconds */
	char content_range[64];      /* "" : none (http_req_set_content_range) */
	int rl_remaining;            /* -1 = no rate-limit headers */
	int preflight;
	const char *content_type;    /* static string; NULL: JSON */
	char cache_control[64];      /* "" : no-store */
	char etag[96];               /* "" : none */
	const char *csp;             /* Content-Security-Policy (a literal); NULL: the API's */
	int vary_encoding;           /* an asset chosen by Accept-Encoding: Vary */
	struct http_stream *stream;  /* a streamed answer, or NULL */
	/* a file answer (http_reply_fd): bytes [file_off, +file_len) of file_fd */
	int has_file, file_fd;
	uint64_t file_off, file_len;
	char *file_ctype;            /* its Content-Type (owned) */
	char **xhdrs;                /* extra headers: name, value, ..., NULL (owned) */
	struct http_defer *defer;    /* a deferred answer, or NULL */
	/* a streamed form body (http_req_read_form) */
	int stream_head;             /* the head of a HTTP_ROUTE_STREAM route is being handled */
	const struct http_form_ops *form;
	void *form_arg;
	struct MHD_PostProcessor *pp;
	int form_stopped;            /* part stopped, or the decoder failed: drop the rest */
	int form_ended;              /* end was called (or skipped after a stop) */
	int drain;                   /* answered from the head: drop the body, then send */
};

/* A deferred answer (http_req_defer). Two references: the request's
 * (dropped when it is sent or the connection ends) and the completer's
 * (http_defer_finish). `mu` orders the completer's answer against the HTTP
 * thread parking (suspending) the connection. */
struct http_defer {
	pthread_mutex_t mu;
	int refs;
	struct http_req *req;        /* NULL once the connection is gone */
	struct MHD_Connection *conn;
	int suspended, done;
};

/* A streamed answer (http_reply_stream). Two references: the response's
 * (dropped when libmicrohttpd frees it) and the handler's. `mu` orders
 * suspending (in the reader, on an HTTP thread) against resuming (any
 * thread), so that a wake-up between "nothing to send" and the suspension
 * is not lost (`kick`). */
struct http_stream {
	pthread_mutex_t mu;
	struct MHD_Connection *conn;
	struct http_server *srv;
	const struct http_stream_ops *ops;
	void *arg;
	int refs, suspended, kick, closed;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int http_request_id_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];

		if (n >= HTTP_REQUEST_ID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return n > 0;
}

int http_cors_allowed(const char *list, const char *origin)
{
	size_t olen;
	const char *p = list;

	if (!list || !origin || !*origin)
		return 0;
	olen = strlen(origin);
	while (*p) {
		const char *e = strchr(p, ',');
		const char *a = p, *b = e ? e : p + strlen(p);

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b - a == 1 && *a == '*')
			return 1;
		if ((size_t)(b - a) == olen && !memcmp(a, origin, olen))
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

/*
 * Request ids only need to be unique, not secret: a UUID-v4-shaped id from a
 * per-thread xorshift generator seeded once from getrandom(), which avoids a
 * CSPRNG call (and its fork check, a getpid syscall) on every request.
 */
static uint64_t next_random(void)
{
	static __thread uint64_t s;

	if (!s) {
		if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s) || !s)
			s = (uint64_t)now_ns() | 1;
	}
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s * 0x2545F4914F6CDD1DULL;
}

static void new_request_id(char out[HTTP_REQUEST_ID_MAX + 1])
{
	uint64_t a = next_random(), b = next_random();

	a = (a & ~0xF000ULL) | 0x4000ULL;                      /* version 4 */
	b = (b & ~(3ULL << 62)) | (2ULL << 62);                /* variant 10 */
	snprintf(out, HTTP_REQUEST_ID_MAX + 1, "%08x-%04x-%04x-%04x-%012llx",
		 (unsigned)(a >> 32), (unsigned)((a >> 16) & 0xFFFF), (unsigned)(a & 0xFFFF),
		 (unsigned)(b >> 48), (unsigned long long)(b & 0xFFFFFFFFFFFFULL));
}

/* ---- handler API ---- */

void *http_req_app(const struct http_req *req)
{
	return req->srv->o.app;
}

struct http_server *http_req_server(const struct http_req *req)
{
	return req->srv;
}

const char *http_req_client_ip(const struct http_req *req)
{
	return req->ip;
}

int http_req_method(const struct http_req *req)
{
	return req->method;
}

const char *http_req_param(const struct http_req *req, int i, size_t *len)
{
	if (i < 0 || i >= req->match.nparams)
		return NULL;
	if (len)
		*len = req->match.params[i].len;
	return req->match.params[i].p;
}

const char *http_req_query(const struct http_req *req, const char *name, int *present)
{
	const char *v = NULL;
	size_t vlen = 0;
	enum MHD_Result r;

	r = MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
					  &vlen);
	if (present)
		*present = r == MHD_YES;
	return r == MHD_YES ? v : NULL;
}

int http_etag_listed(const char *list, const char *etag, int weak_only)
{
	size_t elen = strlen(etag);
	const char *h = list;

	while (h && *h) {
		size_t n;
		int weak = 0;

		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		if (*h == '*' && !weak_only)
			return 1;
		if (!strncmp(h, "W/", 2)) {
			weak = 1;
			h += 2;
		}
		n = strcspn(h, ",");
		while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
			n--;
		if (n == elen && !memcmp(h, etag, n) && (weak || !weak_only))
			return 1;
		h += strcspn(h, ",");
	}
	return 0;
}

static int inm_names(const struct http_req *req, const char *etag, int weak_only)
{
	return http_etag_listed(http_req_header(req, "If-None-Match"), etag, weak_only);
}

int http_req_etag_match(const struct http_req *req, const char *etag)
{
	if (!strncmp(etag, "W/", 2))
		etag += 2;
	return inm_names(req, etag, 0);
}

void http_req_set_retry_after(struct http_req *req, int seconds)
{
	req->retry_after = seconds;
}

void http_req_set_content_range(struct http_req *req, const char *value)
{
	snprintf(req->content_range, sizeof(req->content_range), "%s", value);
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_req_body(const struct http_req *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.data ? (const char *)req->body.data : "";
}

const char *http_req_key_id(const struct http_req *req)
{
	return req->authed ? req->ident.id : NULL;
}

const struct http_ident *http_req_ident(const struct http_req *req)
{
	return req->authed ? &req->ident : NULL;
}

const char *http_req_route_pattern(const struct http_req *req)
{
	return req->match.route ? req->match.route->pattern : NULL;
}

int http_req_status(const struct http_req *req)
{
	return req->answered ? req->status : 0;
}

const char *http_req_method_name(const struct http_req *req)
{
	return req->method_name ? req->method_name : "";
}

int http_req_role(const struct http_req *req)
{
	return req->authed ? req->ident.role : HTTP_ROLE_PUBLIC;
}

int http_req_https(const struct http_req *req)
{
	return req->https;
}

void http_req_set_note(struct http_req *req, const char *note)
{
	snprintf(req->note, sizeof(req->note), "%s", note);
}

const char *http_req_note(const struct http_req *req)
{
	return req->note;
}

void http_req_set_cookie(struct http_req *req, const char *value)
{
	snprintf(req->set_cookie, sizeof(req->set_cookie), "%s", value);
}

const char *http_req_id(const struct http_req *req)
{
	return req->request_id;
}

static void set_answer(struct http_req *req, int status, char *body, size_t len)
{
	if (req->answered) {
		/* A second answer is a programmer error; keep the first. */
		free(body);
		LOG_ERROR("handler answered twice", "{s:s, s:s}", "path", req->path, "requestId",
			  req->request_id);
		return;
	}
	req->answered = 1;
	req->status = status;
	req->resp = body;
	req->resp_len = len;
}

void http_reply_json(struct http_req *req, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!text) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "could not build the response", NULL);
		return;
	}
	set_answer(req, status, text, strlen(text));
}

void http_reply_error(struct http_req *req, int status, const char *code, const char *message,
		      json_t *details)
{
	json_t *o;
	char *text;

	if (!details)
		details = json_object();
	o = json_pack("{s:s, s:s, s:o}", "error", code, "message", message, "details", details);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text) {
		static const char fallback[] =
			"{\"error\":\"INTERNAL_ERROR\",\"message\":\"out of memory\",\"details\":{}}";

		text = strdup(fallback);
		status = 500;
	}
	set_answer(req, status, text, text ? strlen(text) : 0);
}

void http_reply_empty(struct http_req *req, int status)
{
	set_answer(req, status, NULL, 0);
}

void http_reply_bytes(struct http_req *req, int status, const char *content_type,
		      const void *data, size_t len, const char *cache_control, const char *etag)
{
	char *copy = len ? malloc(len) : NULL;

	if (len && !copy) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "out of memory", NULL);
		return;
	}
	if (len)
		memcpy(copy, data, len);
	req->content_type = content_type;
	snprintf(req->cache_control, sizeof(req->cache_control), "%s",
		 cache_control ? cache_control : "");
	snprintf(req->etag, sizeof(req->etag), "%s", etag ? etag : "");
	set_answer(req, status, copy, len);
}

void http_reply_fd(struct http_req *req, int status, const char *content_type, int fd,
		   uint64_t off, uint64_t len, const char *cache_control,
		   const char *const *headers)
{
	size_t n = 0;

	if (req->answered) {
		close(fd);
		set_answer(req, status, NULL, 0); /* logs the second answer */
		return;
	}
	while (headers && headers[n])
		n++;
	req->file_ctype = strdup(content_type);
	req->xhdrs = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; req->xhdrs && i < n; i++)
		if (!(req->xhdrs[i] = strdup(headers[i])))
			n = 0; /* checked below */
	if (!req->file_ctype || !req->xhdrs || (n && !req->xhdrs[n - 1])) {
		close(fd);
		http_reply_error(req, 500, "INTERNAL_ERROR", "out of memory", NULL);
		return;
	}
	req->has_file = 1;
	req->file_fd = fd;
	req->file_off = off;
	req->file_len = len;
	req->content_type = req->file_ctype;
	snprintf(req->cache_control, sizeof(req->cache_control), "%s",
		 cache_control ? cache_control : "");
	set_answer(req, status, NULL, 0);
}

static void file_release(struct http_req *req)
{
	if (req->has_file && req->file_fd >= 0)
		close(req->file_fd);
	req->has_file = 0;
	req->file_fd = -1;
	for (size_t i = 0; req->xhdrs && req->xhdrs[i]; i++)
		free(req->xhdrs[i]);
	free(req->xhdrs);
	req->xhdrs = NULL;
	free(req->file_ctype);
	req->file_ctype = NULL;
}

void http_reply_asset(struct http_req *req, int status, const struct http_asset_reply *a)
{
	http_reply_bytes(req, status, a->content_type, a->data, a->len, a->cache_control, a->etag);
	if (!req->content_type)
		return; /* out of memory: answered with JSON */
	req->gzipped = a->gzipped && a->len;
	req->vary_encoding = a->vary_encoding;
	req->csp = a->csp;
}

const char *http_req_path(const struct http_req *req)
{
	return req->path;
}

/* ---- the middleware chain ---- */

static void stream_unref(struct http_stream *st)
{
	int last;

	pthread_mutex_lock(&st->mu);
	last = --st->refs == 0;
	pthread_mutex_unlock(&st->mu);
	if (!last)
		return;
	st->ops->done(st->arg);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

struct http_stream *http_reply_stream(struct http_req *req, const char *content_type,
				      const struct http_stream_ops *ops, void *arg)
{
	struct http_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	pthread_mutex_init(&st->mu, NULL);
	st->conn = req->conn;
	st->srv = req->srv;
	st->ops = ops;
	st->arg = arg;
	st->refs = 2;
	set_answer(req, 200, NULL, 0);
	req->content_type = content_type;
	req->stream = st;
	return st;
}

void http_stream_resume(struct http_stream *st)
{
	pthread_mutex_lock(&st->mu);
	if (st->closed) {
		/* nothing */
	} else if (st->suspended) {
		st->suspended = 0;
		MHD_resume_connection(st->conn);
	} else {
		st->kick = 1;
	}
	pthread_mutex_unlock(&st->mu);
}

int http_stream_closed(struct http_stream *st)
{
	int c;

	pthread_mutex_lock(&st->mu);
	c = st->closed;
	pthread_mutex_unlock(&st->mu);
	return c;
}

void http_stream_release(struct http_stream *st)
{
	if (st)
		stream_unref(st);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *st = cls;
	long n;

	(void)pos;
	if (atomic_load(&st->srv->quiesced))
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = st->ops->read(st->arg, buf, max);
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > 0)
		return (ssize_t)n;
	pthread_mutex_lock(&st->mu);
	if (st->kick) {
		st->kick = 0; /* woken meanwhile: read again at once */
	} else {
		st->suspended = 1;
		MHD_suspend_connection(st->conn);
	}
	pthread_mutex_unlock(&st->mu);
	return 0;
}

static void stream_free(void *cls)
{
	struct http_stream *st = cls;

	pthread_mutex_lock(&st->mu);
	st->closed = 1;
	pthread_mutex_unlock(&st->mu);
	stream_unref(st);
}

static void peer_ip(struct http_req *req, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(out, outlen, "unknown");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
			  (socklen_t)outlen);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
			  (socklen_t)outlen);
}

struct fwd {
	struct ybuf xff, proto; /* every X-Forwarded-For / -Proto value, comma-joined */
};

static enum MHD_Result collect_fwd(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct fwd *f = cls;
	struct ybuf *b = !strcasecmp(key, "X-Forwarded-For")	 ? &f->xff :
			 !strcasecmp(key, "X-Forwarded-Proto") ? &f->proto :
								 NULL;

	if (b && value && (b->len == 0 || ybuf_append_byte(b, ',') == Y_OK))
		ybuf_append_str(b, value); /* capped: a huge header is cut, then ignored */
	return MHD_YES;
}

/*
 * The client's address and scheme. Only a peer in TRUST_PROXY is believed:
 * X-Forwarded-For is read from the right, skipping proxies we trust, and
 * the first address that is not one of them is the client (an entry that is
 * not an address stops the walk at the last trusted hop); X-Forwarded-Proto's
 * last value says whether the proxy was reached over https.
 */
static void client_of(struct http_req *req)
{
	struct http_server *srv = req->srv;
	struct fwd f = { YBUF_INIT(4096), YBUF_INIT(256) };
	char item[INET6_ADDRSTRLEN];

	peer_ip(req, req->ip, sizeof(req->ip));
	req->https = srv->tls_cert != NULL;
	if (!srv->trusted.n || !cidr_list_match_text(&srv->trusted, req->ip))
		return;
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_fwd, &f);
	/* a header cut at the cap is ignored whole */
	if (f.xff.data && f.xff.len < f.xff.max)
		cidr_forwarded_client(&srv->trusted, (const char *)f.xff.data, f.xff.len, req->ip);
	if (f.proto.data && f.proto.len < f.proto.max &&
	    cidr_last_item((const char *)f.proto.data, f.proto.len, item, sizeof(item)) >= 0)
		req->https = !strcasecmp(item, "https");
	ybuf_release(&f.xff);
	ybuf_release(&f.proto);
}

static int needs_auth(const struct http_req *req, int route_rc)
{
	if (strncmp(req->path, "/api/", 5) && strcmp(req->path, "/api"))
		return 0;
	return !(route_rc == Y_OK && (req->match.route->flags & HTTP_ROUTE_PUBLIC));
}

static void dispatch(struct http_req *req)
{
	struct http_server *srv = req->srv;
	const char *key, *origin;
	int route_rc, rc, auth_broken = 0, csrf_failed = 0, need;
	char ident[80];

	if (req->head_error == 414) {
		http_reply_error(req, 414, "URI_TOO_LONG", "request target too long",
				 json_pack("{s:I}", "maxBytes", (json_int_t)URI_MAX));
		return;
	}
	if (req->head_error == 431) {
		http_reply_error(req, 431, "HEADERS_TOO_LARGE", "request headers too large",
				 json_pack("{s:I}", "maxBytes", (json_int_t)HEADERS_MAX));
		return;
	}
	if (req->too_big) {
		json_t *d = json_pack("{s:I}", "maxBytes", (json_int_t)srv->o.max_body_bytes);

		http_reply_error(req, 413, "PAYLOAD_TOO_LARGE", "request body too large", d);
		return;
	}

	origin = http_req_header(req, "Origin");
	if (origin && srv->cors && http_cors_allowed(srv->cors, origin))
		req->origin = origin;

	/* Identity: a valid API key, else the client address. */
	key = http_req_header(req, "X-API-Key");
	if (srv->o.auth) {
		rc = srv->o.auth(srv->o.app, req, key && *key ? key : NULL, &req->ident);
		if (rc == Y_OK)
			req->authed = 1;
		else if (rc == Y_ESTATE)
			csrf_failed = 1;
		else if (rc != Y_ENOTFOUND) {
			auth_broken = 1; /* could not check: not the client's fault */
			LOG_ERROR("api key check failed", "{s:s, s:s}", "error", y_strerror(rc),
				  "requestId", req->request_id);
		}
	}
	if (req->authed) {
		snprintf(ident, sizeof(ident), "k:%s", req->ident.id);
	} else {
		snprintf(ident, sizeof(ident), "i:%s", req->ip);
	}
	route_rc = http_router_match(srv->o.routes, srv->o.nroutes, req->method, req->path,
				     &req->match);
	req->probe = route_rc == Y_OK && (req->match.route->flags & HTTP_ROUTE_PROBE);
	if (srv->rl && !req->probe) {
		int retry;

		if (!http_ratelimit_hit(srv->rl, ident, strlen(ident), now_ns() / 1000000,
					&req->rl_remaining, &retry)) {
			req->retry_after = retry;
			http_reply_error(req, 429, "RATE_LIMIT_EXCEEDED", "too many requests",
					 json_pack("{s:i, s:i}", "limit", srv->o.rate_limit_per_min,
						   "retryAfter", retry));
			return;
		}
	}

	/* OPTIONS: CORS preflight or a plain question about allowed methods. */
	if (req->method == HTTP_OPTIONS && route_rc != Y_ENOTFOUND) {
		req->allow_mask = req->match.allowed | HTTP_OPTIONS;
		req->preflight = origin && http_req_header(req, "Access-Control-Request-Method");
		http_reply_empty(req, 204);
		return;
	}

	if (needs_auth(req, route_rc) && !req->authed && auth_broken) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "could not check the API key", NULL);
		return;
	}
	if (needs_auth(req, route_rc) && !req->authed && csrf_failed) {
		http_reply_error(req, 403, "CSRF_FAILED",
				 "a request signed in by cookie must carry its X-CSRF-Token header",
				 NULL);
		return;
	}
	if (needs_auth(req, route_rc) && !req->authed) {
		http_reply_error(req, 401, "UNAUTHORIZED",
				 key && *key ? "invalid API key" : "missing X-API-Key header", NULL);
		return;
	}
	if (route_rc == Y_ENOTFOUND && srv->o.fallback && !needs_auth(req, route_rc) &&
	    (req->method == HTTP_GET || req->method == HTTP_HEAD)) {
		srv->o.fallback(req);
		if (!req->answered)
			http_reply_error(req, 404, "NOT_FOUND", "no such route",
					 json_pack("{s:s}", "path", req->path));
		return;
	}
	if (route_rc == Y_ENOTFOUND) {
		http_reply_error(req, 404, "NOT_FOUND", "no such route",
				 json_pack("{s:s}", "path", req->path));
		return;
	}
	if (route_rc == Y_EUNSUPPORTED) {
		char allow[96];

		req->allow_mask = req->match.allowed | HTTP_OPTIONS;
		http_methods_format(req->allow_mask, allow, sizeof(allow));
		http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "method not allowed on this route",
				 json_pack("{s:s, s:s}", "method", req->method_name, "allow", allow));
		return;
	}
	/* a row without a rule (http_routes_check) is for admins only */
	need = req->match.route->role ? req->match.route->role : HTTP_ROLE_ADMIN;
	if (needs_auth(req, route_rc) && req->ident.role < need) {
		http_reply_error(req, 403, "FORBIDDEN", "your role may not do this",
				 json_pack("{s:s, s:s}", "required", http_role_name(need), "role",
					   http_role_name(req->ident.role)));
		return;
	}
	req->stream_head = (req->match.route->flags & HTTP_ROUTE_STREAM) != 0;
	req->match.route->handler(req);
	req->stream_head = 0;
	if (!req->defer && !req->answered && !req->form) {
		LOG_ERROR("handler gave no answer", "{s:s}", "path", req->path);
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
	}
}

static void add_headers(struct http_req *req, struct MHD_Response *r, int has_body)
{
	struct http_server *srv = req->srv;
	char tmp[96];

	MHD_add_response_header(r, "X-Request-Id", req->request_id);
	if (has_body)
		MHD_add_response_header(r, "Content-Type", req->content_type ? req->content_type
								     : "application/json; charset=utf-8");
	if (req->etag[0])
		MHD_add_response_header(r, "ETag", req->etag);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy",
				req->csp ? req->csp : "default-src 'none'; frame-ancestors 'none'");
	/* the rest of helmet's defaults that apply to an API */
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Origin-Agent-Cluster", "?1");
	MHD_add_response_header(r, "X-DNS-Prefetch-Control", "off");
	MHD_add_response_header(r, "X-Download-Options", "noopen");
	MHD_add_response_header(r, "X-Permitted-Cross-Domain-Policies", "none");
	MHD_add_response_header(r, "X-XSS-Protection", "0");
	if (req->https) /* only over TLS: ours or a trusted proxy's */
		MHD_add_response_header(r, "Strict-Transport-Security",
					"max-age=31536000; includeSubDomains");
	MHD_add_response_header(r, "Cache-Control",
				req->cache_control[0] ? req->cache_control : "no-store");
	if (req->allow_mask) {
		http_methods_format(req->allow_mask, tmp, sizeof(tmp));
		MHD_add_response_header(r, "Allow", tmp);
	}
	if (srv->rl && req->rl_remaining >= 0) {
		snprintf(tmp, sizeof(tmp), "%d", srv->o.rate_limit_per_min);
		MHD_add_response_header(r, "X-RateLimit-Limit", tmp);
		snprintf(tmp, sizeof(tmp), "%d", req->rl_remaining);
		MHD_add_response_header(r, "X-RateLimit-Remaining", tmp);
		/* the IETF fields (draft-ietf-httpapi-ratelimit-headers): a token
		 * bucket of `limit` per 60 s, full again after t seconds */
		int lim = srv->o.rate_limit_per_min, used = lim - req->rl_remaining;
		snprintf(tmp, sizeof(tmp), "\"global\";q=%d;w=60", lim);
		MHD_add_response_header(r, "RateLimit-Policy", tmp);
		snprintf(tmp, sizeof(tmp), "\"global\";r=%d;t=%d", req->rl_remaining,
			 used > 0 ? (int)((60LL * used + lim - 1) / lim) : 0);
		MHD_add_response_header(r, "RateLimit", tmp);
	}
	if (req->set_cookie[0])
		MHD_add_response_header(r, "Set-Cookie", req->set_cookie);
	if (req->retry_after > 0) {
		snprintf(tmp, sizeof(tmp), "%d", req->retry_after);
		MHD_add_response_header(r, "Retry-After", tmp);
	}
	if (req->content_range[0])
		MHD_add_response_header(r, "Content-Range", req->content_range);
	if (req->gzipped)
		MHD_add_response_header(r, "Content-Encoding", req->brotli ? "br" : "gzip");
	if (req->origin) {
		int any = !strcmp(srv->cors, "*");

		MHD_add_response_header(r, "Access-Control-Allow-Origin", any ? "*" : req->origin);
		if (!any)
			MHD_add_response_header(r, "Vary",
						req->compressible ? "Origin, Accept-Encoding" : "Origin");
		else if (req->compressible)
			MHD_add_response_header(r, "Vary", "Accept-Encoding");
		MHD_add_response_header(r, "Access-Control-Expose-Headers",
					"X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, "
					"RateLimit, RateLimit-Policy");
		if (req->preflight) {
			http_methods_format(req->allow_mask, tmp, sizeof(tmp));
			MHD_add_response_header(r, "Access-Control-Allow-Methods", tmp);
			MHD_add_response_header(r, "Access-Control-Allow-Headers",
						"Content-Type, X-API-Key, X-Request-Id");
			MHD_add_response_header(r, "Access-Control-Max-Age", "600");
		}
	}
	else if (req->compressible || req->vary_encoding)
		MHD_add_response_header(r, "Vary", "Accept-Encoding");
	if (atomic_load(&srv->quiesced) || req->too_big)
		MHD_add_response_header(r, "Connection", "close");
}

/* Bodies below this are sent as they are: gzip's header and the CPU cost
 * outweigh the bytes saved. */
#define GZIP_MIN 1024

static int compressible_type(const char *ct)
{
	if (!ct)
		return 1; /* JSON */
	return !strncmp(ct, "application/json", 16) || !strncmp(ct, "text/", 5) ||
	       !strncmp(ct, "image/svg+xml", 13) || !strncmp(ct, "application/javascript", 22);
}

/* The weight Accept-Encoding gives the coding `name` (its own entry, else
 * "*"): 0..1, 0 when it is not accepted (absent, or q=0). */
static double coding_weight(const struct http_req *req, const char *name)
{
	const char *h = http_req_header(req, "Accept-Encoding");
	size_t want = strlen(name);
	double own = -1, any = -1;

	while (h && *h) {
		size_t n = strcspn(h, ",");
		const char *semi = memchr(h, ';', n);
		size_t len = semi ? (size_t)(semi - h) : n;
		const char *p = h, *q;
		double w = 1;

		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		q = semi ? strstr(semi, "q=") : NULL;
		if (q && q < h + n)
			w = strtod(q + 2, NULL);
		if (w < 0 || w != w)
			w = 0;
		if (len == want && !strncasecmp(p, name, want))
			own = w;
		else if (len == 1 && *p == '*')
			any = w;
		h += n;
		if (*h == ',')
			h++;
	}
	return own >= 0 ? own : any > 0 ? any : 0;
}

/* Whether Accept-Encoding allows gzip: "gzip" or "*" listed without q=0. */
int http_req_accepts_gzip(const struct http_req *req)
{
	return coding_weight(req, "gzip") > 0;
}

/* The gzipped bytes are another representation: a strong ETag becomes weak
 * (W/"..."), as nginx does, so that it no longer claims byte equality with
 * the plain form; If-None-Match compares weakly (http_req_etag_match). */
static void etag_weaken(struct http_req *req)
{
	size_t n = strlen(req->etag);

	if (!n || !strncmp(req->etag, "W/", 2) || n + 2 >= sizeof(req->etag))
		return;
	memmove(req->etag + 2, req->etag, n + 1);
	memcpy(req->etag, "W/", 2);
}

/* Brotli at this quality for bodies made per request: about gzip's speed
 * at level 6 with smaller output (quality 11 is for files compressed once). */
#define BROTLI_QUALITY 5

/* The body in brotli form, when it helps: 1 done, 0 left as it is. */
static int try_brotli(struct http_req *req)
{
	size_t cap = BrotliEncoderMaxCompressedSize(req->resp_len), n = cap;
	uint8_t *out = cap ? malloc(cap) : NULL;

	if (!out)
		return 0;
	if (!BrotliEncoderCompress(BROTLI_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT,
				   req->resp_len, (const uint8_t *)req->resp, &n, out) ||
	    n >= req->resp_len) {
		free(out);
		return 0;
	}
	free(req->resp);
	req->resp = (char *)out;
	req->resp_len = n;
	req->gzipped = 1;
	req->brotli = 1;
	etag_weaken(req);
	return 1;
}

/* Replaces the body by its brotli or gzip form when the client takes one
 * and it helps; brotli when Accept-Encoding weighs it at least as gzip (a
 * body with an ETag gets the weak form of it, see etag_weaken). A 304 has
 * no body: it echoes the weak form when that is what the client holds. */
static void maybe_gzip(struct http_req *req)
{
	z_stream z;
	uint8_t *out;
	size_t cap;
	double br, gz;

	if (req->status == 304 && req->etag[0] && inm_names(req, req->etag, 1))
		etag_weaken(req);
	if (!req->resp || req->gzipped || !compressible_type(req->content_type) ||
	    req->status == 206)
		return;
	req->compressible = 1;
	if (req->resp_len < GZIP_MIN)
		return;
	br = coding_weight(req, "br");
	gz = coding_weight(req, "gzip");
	if (br > 0 && br >= gz && try_brotli(req))
		return;
	if (gz <= 0)
		return;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	cap = deflateBound(&z, req->resp_len);
	out = malloc(cap);
	if (out) {
		z.next_in = (Bytef *)req->resp;
		z.avail_in = (uInt)req->resp_len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		if (deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out < req->resp_len) {
			free(req->resp);
			req->resp = (char *)out;
			req->resp_len = z.total_out;
			req->gzipped = 1;
			out = NULL;
			etag_weaken(req);
		}
		free(out);
	}
	deflateEnd(&z);
}

static void defer_unref(struct http_defer *d)
{
	int left;

	pthread_mutex_lock(&d->mu);
	left = --d->refs;
	pthread_mutex_unlock(&d->mu);
	if (left)
		return;
	pthread_mutex_destroy(&d->mu);
	free(d);
}

struct http_defer *http_req_defer(struct http_req *req)
{
	struct http_defer *d = req->defer ? NULL : calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	pthread_mutex_init(&d->mu, NULL);
	d->refs = 2;
	d->req = req;
	d->conn = req->conn;
	req->defer = d;
	return d;
}

struct http_req *http_defer_begin(struct http_defer *d)
{
	pthread_mutex_lock(&d->mu);
	return d->req;
}

int http_defer_client_gone(struct http_defer *d)
{
	const union MHD_ConnectionInfo *ci;
	struct pollfd p = { .events = POLLRDHUP };

	if (!d->req)
		return 1;
	ci = MHD_get_connection_info(d->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return 0;
	p.fd = ci->connect_fd;
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

void http_defer_finish(struct http_defer *d)
{
	struct http_req *req = d->req; /* NULL once the connection is gone */

	if (req && !req->answered) /* the completer gave no answer */
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
	d->done = 1;
	if (d->suspended && req) {
		d->suspended = 0;
		MHD_resume_connection(d->conn);
	}
	pthread_mutex_unlock(&d->mu);
	defer_unref(d);
}

static enum MHD_Result send_answer(struct http_req *req);

/* After the handler deferred: sends the answer if it came already, else
 * suspends the connection until http_defer_finish resumes it (then
 * libmicrohttpd calls on_request again, which comes back here). */
static enum MHD_Result defer_park(struct http_req *req)
{
	struct http_defer *d = req->defer;

	pthread_mutex_lock(&d->mu);
	if (!d->done) {
		d->suspended = 1;
		MHD_suspend_connection(req->conn);
		pthread_mutex_unlock(&d->mu);
		return MHD_YES;
	}
	pthread_mutex_unlock(&d->mu);
	req->defer = NULL;
	defer_unref(d);
	return send_answer(req);
}

static enum MHD_Result send_answer(struct http_req *req)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (req->stream) {
		struct http_stream *st = req->stream;

		req->stream = NULL;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st,
						      stream_free);
		if (!r) {
			stream_free(st);
			return MHD_NO;
		}
		add_headers(req, r, 1);
		MHD_add_response_header(r, "X-Accel-Buffering", "no");
		ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (req->has_file) {
		r = MHD_create_response_from_fd_at_offset64(req->file_len, req->file_fd,
							    req->file_off);
		if (!r)
			return MHD_NO; /* the fd is closed in completed() */
		req->file_fd = -1;       /* the response's now */
		add_headers(req, r, 1);
		for (size_t i = 0; req->xhdrs && req->xhdrs[i] && req->xhdrs[i + 1]; i += 2)
			MHD_add_response_header(r, req->xhdrs[i], req->xhdrs[i + 1]);
		ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
		MHD_destroy_response(r);
		return ret;
	}
	maybe_gzip(req);
	if (req->resp)
		r = MHD_create_response_from_buffer(req->resp_len, req->resp, MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO; /* MHD closes the connection; req->resp freed in completed() */
	add_headers(req, r, req->resp != NULL);
	req->resp = NULL; /* now owned by the response */
	ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
	MHD_destroy_response(r);
	return ret;
}

static struct http_req *req_new(struct http_server *srv, struct MHD_Connection *conn,
				const char *url, const char *method)
{
	struct http_req *req = calloc(1, sizeof(*req));
	const char *rid;

	if (!req)
		return NULL;
	req->srv = srv;
	req->conn = conn;
	req->path = url;
	req->method_name = method;
	req->method = http_method_parse(method);
	req->start_ns = now_ns();
	req->rl_remaining = -1;
	ybuf_init(&req->body, srv->o.max_body_bytes);
	client_of(req);
	rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (http_request_id_ok(rid))
		snprintf(req->request_id, sizeof(req->request_id), "%s", rid);
	else
		new_request_id(req->request_id);
	return req;
}

static enum MHD_Result add_header_len(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	size_t *sum = cls;

	*sum += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
	return MHD_YES;
}

/* 414 or 431 when the request head passed our limits, else 0. */
static int head_check(struct MHD_Connection *conn, const char *url)
{
	size_t sum = strlen(url);

	/* the query string comes apart in arguments: count them back in */
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_header_len, &sum);
	if (sum > URI_MAX)
		return 414;
	sum = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_len, &sum);
	return sum > HEADERS_MAX ? 431 : 0;
}

static size_t discard_max(const struct http_server *srv)
{
	size_t f = srv->o.max_body_bytes > SIZE_MAX / DISCARD_FACTOR ?
			   SIZE_MAX :
			   DISCARD_FACTOR * srv->o.max_body_bytes;

	return f > DISCARD_MIN ? f : DISCARD_MIN;
}

/* ---- streamed form bodies ---- */

/* 1 if the request names a HTTP_ROUTE_STREAM route (with its method). */
static int is_stream_route(const struct http_req *req)
{
	struct http_match m;

	return http_router_match(req->srv->o.routes, req->srv->o.nroutes, req->method, req->path,
				 &m) == Y_OK &&
	       (m.route->flags & HTTP_ROUTE_STREAM);
}

static enum MHD_Result form_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *filename, const char *content_type,
				 const char *transfer_encoding, const char *data, uint64_t off,
				 size_t size)
{
	struct http_req *req = cls;

	(void)kind;
	(void)transfer_encoding;
	if (!key || req->form->part(req->form_arg, req, key, filename, content_type,
				    data ? data : "", off, data ? size : 0)) {
		req->form_stopped = 1;
		return MHD_NO;
	}
	return MHD_YES;
}

int http_req_read_form(struct http_req *req, const struct http_form_ops *ops, void *arg)
{
	const char *ct = http_req_header(req, "Content-Type");

	if (!req->stream_head || req->form)
		return Y_ESTATE;
	if (!ct || strncasecmp(ct, "multipart/form-data", 19) ||
	    (ct[19] && ct[19] != ';' && ct[19] != ' '))
		return Y_EUNSUPPORTED;
	req->form = ops; /* form_iter may be called as soon as the post processor exists */
	req->form_arg = arg;
	req->pp = MHD_create_post_processor(req->conn, 16 * 1024, form_iter, req);
	if (!req->pp) {
		req->form = NULL;
		req->form_arg = NULL;
		return Y_EINVAL; /* no boundary (or out of memory) */
	}
	return Y_OK;
}

/* A piece of the body: to the decoder, or dropped (bounded) after a stop. */
static enum MHD_Result form_data(struct http_req *req, const char *p, size_t *n)
{
	if (!req->form_stopped) {
		if (MHD_post_process(req->pp, p, *n) != MHD_YES)
			req->form_stopped = 1; /* a part stopped (answered) or the body is bad */
	} else {
		req->discarded += *n;
		if (req->discarded > discard_max(req->srv))
			return MHD_NO; /* the connection is dropped without an answer */
	}
	*n = 0;
	return MHD_YES;
}

/*
 * A stream route answered from its head (401, 404, 413, 415 ...): as for a
 * too-big body, the body the client is writing is read and dropped before
 * the answer goes out, up to the same bound, unless the client waits on
 * "Expect: 100-continue", sent none, or announced more than the bound.
 * Returns 1 when the answer waits for the end of the body.
 */
static int drain_first(struct http_req *req)
{
	const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Transfer-Encoding");
	const char *expect = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_EXPECT);
	unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;

	if ((expect && !strcasecmp(expect, "100-continue")) || (!te && n == 0) ||
	    n > discard_max(req->srv))
		return 0;
	req->drain = 1;
	req->discard_cap = discard_max(req->srv);
	return 1;
}

/* The body is in: end() unless a part answered already. */
static void form_end(struct http_req *req)
{
	int ok = MHD_destroy_post_processor(req->pp) == MHD_YES && !req->form_stopped;

	req->pp = NULL;
	req->form_ended = 1;
	if (!req->answered)
		req->form->end(req->form_arg, req, ok);
	if (!req->defer && !req->answered) {
		LOG_ERROR("form handler gave no answer", "{s:s}", "path", req->path);
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_req *req = *con_cls;

	if (!req) {
		const char *cl;

		req = req_new(srv, conn, url, method);
		if (!req)
			return MHD_NO;
		*con_cls = req;
		atomic_fetch_add(&srv->in_flight, 1);
		req->head_error = head_check(conn, url);
		if (req->head_error) { /* answered now, without reading a body */
			dispatch(req);
			return send_answer(req);
		}
		if (is_stream_route(req)) { /* handled now; the body goes to its form reader */
			dispatch(req);
			if (req->form && !req->answered)
				return MHD_YES;
			if (!req->defer && drain_first(req))
				return MHD_YES; /* an error: the body is read and dropped first */
			return req->defer ? defer_park(req) : send_answer(req);
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl) {
			char *end;
			unsigned long long n = strtoull(cl, &end, 10);

			if (end != cl && n > srv->o.max_body_bytes) {
				const char *expect = MHD_lookup_connection_value(
					conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);

				req->too_big = 1;
				req->discard_cap = discard_max(srv);
				if (n <= req->discard_cap &&
				    !(expect && !strcasecmp(expect, "100-continue")))
					return MHD_YES; /* read it, then answer */
				/* Answer now, without reading the announced body. */
				dispatch(req);
				return send_answer(req);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size && req->form)
		return form_data(req, upload_data, upload_data_size);
	if (req->form && !req->form_ended) {
		form_end(req);
		return req->defer ? defer_park(req) : send_answer(req);
	}
	if (*upload_data_size) {
		if (req->too_big || req->drain) {
			/* libmicrohttpd cannot answer before the upload ends, so
			 * the rest is discarded, but only up to a bound: past it
			 * the connection is dropped without an answer. */
			req->discarded += *upload_data_size;
			if (req->discarded > req->discard_cap)
				return MHD_NO;
		} else if (ybuf_append(&req->body, upload_data, *upload_data_size) != Y_OK) {
			req->too_big = 1;
			req->discard_cap = DISCARD_FACTOR * srv->o.max_body_bytes;
			req->discarded = req->body.len + *upload_data_size;
			ybuf_release(&req->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->defer)
		return defer_park(req); /* resumed, or the handler has just deferred */
	if (req->drain) {
		req->drain = 0;
		return send_answer(req);
	}
	if (req->answered)
		return MHD_YES; /* already queued (413 on first call) */
	dispatch(req);
	return req->defer ? defer_park(req) : send_answer(req);
}

static void sanitize(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	for (; in && *in && i + 1 < outlen; in++)
		out[i++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[i] = '\0';
}

static void hist_observe(struct http_server *srv, const struct http_req *req)
{
	size_t route = srv->o.nroutes, i = 0;
	uint64_t us = (now_ns() - req->start_ns) / 1000;
	int cls = req->answered ? req->status / 100 - 1 : 4;
	struct hist *h;

	if (req->match.route && req->match.route >= srv->o.routes &&
	    req->match.route < srv->o.routes + srv->o.nroutes)
		route = (size_t)(req->match.route - srv->o.routes);
	if (cls < 0 || cls >= HIST_CLASSES)
		cls = 4;
	h = &srv->hist[route * HIST_CLASSES + (size_t)cls];
	while (i < HIST_BUCKETS && (double)us / 1e6 > hist_bounds[i])
		i++;
	if (i < HIST_BUCKETS)
		atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

int http_server_metrics(const struct http_server *srv, struct ybuf *out)
{
	static const char name[] = "yesapp_http_request_duration_seconds";
	int rc;

	rc = ybuf_printf(out,
			 "# HELP %s HTTP request duration by route template, method and "
			 "status class.\n# TYPE %s histogram\n",
			 name, name);
	for (size_t r = 0; rc == Y_OK && r <= srv->o.nroutes; r++) {
		const struct http_route *rt = r < srv->o.nroutes ? &srv->o.routes[r] : NULL;

		for (int c = 0; rc == Y_OK && c < HIST_CLASSES; c++) {
			const struct hist *h = &srv->hist[r * HIST_CLASSES + (size_t)c];
			unsigned long long n = atomic_load_explicit(&h->count, memory_order_relaxed);
			unsigned long long cum = 0;
			char labels[300], methods[64] = "other";

			if (!n)
				continue;
			if (rt)
				http_methods_format(rt->methods, methods, sizeof(methods));
			/* templates and method names are ours: no quotes or backslashes */
			snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",status=\"%dxx\"",
				 rt ? rt->pattern : "unmatched", methods, c + 1);
			for (size_t i = 0; rc == Y_OK && i < HIST_BUCKETS; i++) {
				cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
				rc = ybuf_printf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels,
						 hist_bounds[i], cum);
			}
			if (rc == Y_OK)
				rc = ybuf_printf(
					out,
					"%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %.6f\n"
					"%s_count{%s} %llu\n",
					name, labels, n, name, labels,
					(double)atomic_load_explicit(&h->sum_us,
								     memory_order_relaxed) / 1e6,
					name, labels, n);
		}
	}
	return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_req *req = *con_cls;

	if (!req)
		return;
	if (ylog_on(req->probe ? YLOG_DEBUG : YLOG_INFO)) {
		char path[257], method[17];
		/* whole microseconds, so the number prints short */
		double ms = (double)((now_ns() - req->start_ns + 500) / 1000) / 1000.0;

		sanitize(req->path, path, sizeof(path));
		sanitize(req->method_name, method, sizeof(method));
		YLOG(req->probe ? YLOG_DEBUG : YLOG_INFO, "request",
		     "{s:s, s:s, s:s, s:i, s:f, s:s, s:b}", "ip", req->ip, "method", method, "path", path,
			 "status", req->answered ? req->status : 0, "durationMs", ms, "requestId",
			 req->request_id, "completed", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	}
	if (srv->o.on_done)
		srv->o.on_done(srv->o.app, req);
	atomic_fetch_add(&srv->requests, 1);
	hist_observe(srv, req);
	if (req->stream)
		stream_free(req->stream); /* answered with a stream that never went out */
	if (req->defer) { /* its answer is still to come: the completer finds no request */
		pthread_mutex_lock(&req->defer->mu);
		req->defer->req = NULL;
		pthread_mutex_unlock(&req->defer->mu);
		defer_unref(req->defer);
	}
	if (req->pp)
		MHD_destroy_post_processor(req->pp);
	if (req->form)
		req->form->done(req->form_arg);
	file_release(req);
	ybuf_release(&req->body);
	free(req->resp);
	free(req);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	LOG_DEBUG("libmicrohttpd", "{s:s}", "detail", msg);
}

/* A whole (small) file as a NUL-terminated string, or NULL. */
static char *read_file(const char *path)
{
	struct ybuf b = YBUF_INIT(1 << 20);
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (ybuf_append(&b, chunk, n) != Y_OK) {
			ybuf_release(&b);
			fclose(f);
			return NULL;
		}
	fclose(f);
	return (char *)ybuf_detach(&b, &n);
}

/* A listening socket on ai (non-blocking), or -errno. */
static int listen_socket(const struct addrinfo *ai)
{
	int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* The gate's thread: a connection whose first head is well-formed. */
static void gate_pass(void *arg, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *srv = arg;

	if (MHD_add_connection(srv->d, fd, addr, addrlen) != MHD_YES) /* fd closed by it */
		LOG_WARN("http: a connection was not taken", "{s:s}", "error", strerror(errno));
}

int http_server_start(const struct http_server_opts *opts, struct http_server **out)
{
	struct http_server *srv;
	struct addrinfo hints, *ai = NULL;
	char portstr[8];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	const union MHD_DaemonInfo *info;
	int rc, lfd = -1;

	*out = NULL;
	if (!opts->routes || !opts->host || opts->port < 0 || opts->port > 65535 ||
	    opts->rate_limit_per_min < 0 || opts->max_body_bytes == 0)
		return Y_EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return Y_ENOMEM;
	srv->o = *opts;
	{
		char why[512];
		long bad = http_routes_check(opts->routes, opts->nroutes, why, sizeof(why));

		if (bad >= 0) /* answered to admins only until the row gets a rule */
			LOG_ERROR("http: a route lacks a role rule", "{s:s}", "problem", why);
	}
	srv->hist = calloc((opts->nroutes + 1) * HIST_CLASSES, sizeof(*srv->hist));
	if (!srv->hist) {
		free(srv);
		return Y_ENOMEM;
	}
	if (opts->trust_proxy && *opts->trust_proxy &&
	    cidr_list_parse(opts->trust_proxy, &srv->trusted)) {
		rc = Y_EINVAL;
		goto fail;
	}
	if (opts->tls_cert_file || opts->tls_key_file) {
		if (!opts->tls_cert_file || !opts->tls_key_file ||
		    !(srv->tls_cert = read_file(opts->tls_cert_file)) ||
		    !(srv->tls_key = read_file(opts->tls_key_file))) {
			LOG_ERROR("cannot read the TLS certificate or key", "{s:s, s:s}", "cert",
				  opts->tls_cert_file ? opts->tls_cert_file : "",
				  "key", opts->tls_key_file ? opts->tls_key_file : "");
			rc = Y_EINVAL;
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	if (srv->o.threads < 1)
		srv->o.threads = 1;
	if (opts->cors_origins && *opts->cors_origins) {
		srv->cors = strdup(opts->cors_origins);
		if (!srv->cors) {
			rc = Y_ENOMEM;
			goto fail;
		}
	}
	srv->o.cors_origins = srv->cors;
	if (opts->rate_limit_per_min > 0) {
		srv->rl = http_ratelimit_new(opts->rate_limit_per_min, RATELIMIT_SLOTS);
		if (!srv->rl) {
			rc = Y_ENOMEM;
			goto fail;
		}
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", opts->port);
	if (getaddrinfo(opts->host, portstr, &hints, &ai) || !ai) {
		LOG_ERROR("cannot resolve HOST", "{s:s}", "host", opts->host);
		rc = Y_EINVAL;
		goto fail;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem tls_opts[] = {
		{ srv->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, srv->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key },
		{ MHD_OPTION_END, 0, NULL },
	};
	/* plain HTTP: the gate listens and hands each connection over */
	if (!srv->tls_cert && (lfd = listen_socket(ai)) < 0) {
		freeaddrinfo(ai);
		LOG_ERROR("cannot listen", "{s:s, s:i, s:s}", "host", opts->host, "port", opts->port,
			  "error", strerror(-lfd));
		rc = Y_EIO;
		goto fail;
	}
	if (lfd >= 0)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	struct MHD_OptionItem sock_opts[] = {
		{ lfd >= 0 ? MHD_OPTION_END : MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr },
		{ MHD_OPTION_END, 0, NULL },
	};
	srv->d = MHD_start_daemon(
		flags, (uint16_t)opts->port, NULL, NULL, on_request, srv,
		MHD_OPTION_ARRAY, sock_opts,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_POOL_BYTES,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
		MHD_OPTION_THREAD_POOL_SIZE, srv->o.threads > 1 ? srv->o.threads : 0u,
		MHD_OPTION_ARRAY, tls_opts,
		MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!srv->d) {
		LOG_ERROR("cannot listen", "{s:s, s:i}", "host", opts->host, "port", opts->port);
		if (lfd >= 0)
			close(lfd);
		rc = Y_EIO;
		goto fail;
	}
	if (lfd >= 0) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);

		srv->port = getsockname(lfd, (struct sockaddr *)&sa, &salen) ? opts->port
			    : sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
						       : ntohs(((struct sockaddr_in *)&sa)->sin_port);
		rc = http_gate_start(lfd, GATE_HEAD_MAX, CONNECTION_LIMIT, CONNECTION_TIMEOUT_S,
				     gate_pass, srv, &srv->gate);
		if (rc) {
			close(lfd);
			goto fail;
		}
	} else {
		info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
		srv->port = info ? info->port : opts->port;
	}
	*out = srv;
	return Y_OK;
fail:
	http_server_free(srv);
	return rc;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_quiesce(struct http_server *srv)
{
	MHD_socket fd;

	if (atomic_exchange(&srv->quiesced, 1))
		return;
	http_gate_quiesce(srv->gate);
	fd = MHD_quiesce_daemon(srv->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

int http_server_wait_idle(struct http_server *srv, int timeout_ms)
{
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000LL;

	while (atomic_load(&srv->in_flight) > 0) {
		struct timespec ts = { 0, 5 * 1000000L };

		if (now_ns() >= deadline)
			return Y_ETIMEOUT;
		nanosleep(&ts, NULL);
	}
	return Y_OK;
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	http_gate_free(srv->gate); /* first: it hands connections to srv->d */
	if (srv->d)
		MHD_stop_daemon(srv->d);
	http_ratelimit_free(srv->rl);
	free(srv->cors);
	free(srv->hist);
	free(srv->tls_cert);
	if (srv->tls_key) {
		OPENSSL_cleanse(srv->tls_key, strlen(srv->tls_key));
		free(srv->tls_key);
	}
	free(srv);
}

unsigned long long http_server_requests(const struct http_server *srv)
{
	return atomic_load(&srv->requests);
}
