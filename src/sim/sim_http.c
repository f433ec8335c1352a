/*
 * Plain HTTP on a wa_listener's port: see sim_http.h. Each request is tied
 * to its libwebsockets connection's user pointer (lws_set_wsi_user) from
 * LWS_CALLBACK_HTTP until LWS_CALLBACK_CLOSED_HTTP or its answer is out.
 */
#include "sim/sim_http.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_chunked.h"
#include "util/err.h"

#define TEXT_MAX 512 /* a query argument */
#define URI_MAX 512

/* A plain HTTP request, tied to its wsi's user pointer. */
struct http_req {
	char method[8];
	char uri[URI_MAX];
	struct ybuf body;
	struct ybuf resp; /* LWS_PRE headroom, headers, body */
	int status;
	bool too_big;
	bool chunked;          /* Transfer-Encoding: chunked, decoded here */
	bool answered;
	struct sim_chunked ck;
	size_t sent;     /* bytes of resp (after LWS_PRE) written */
	uint8_t *chunk;  /* LWS_PRE + HTTP_CHUNK: what one writable sends */
};

#define HTTP_BODY_DEFAULT ((size_t)64 << 10)
#define HTTP_RESP_MAX ((size_t)1 << 20)
#define HTTP_HDR_ROOM 512
/* libwebsockets puts one timeout (the context's timeout_secs, 20 s) on a
 * transaction as it begins and never renews it by itself: a 100 MB upload
 * or download on a loaded machine was cut while still moving (Baileys:
 * "Media upload failed on all hosts", a download "terminated"). So each
 * body chunk received renews it, and an answer goes out HTTP_CHUNK bytes
 * per writable callback (never copied whole into libwebsockets' send
 * buffer), renewing it each time. */
#define HTTP_CHUNK ((size_t)64 << 10)
#define HTTP_SEND_SECS 30

static void http_req_free(struct lws *wsi, struct http_req *r)
{
	if (!r)
		return;
	ybuf_release(&r->body);
	ybuf_release(&r->resp);
	free(r->chunk);
	free(r);
	lws_set_wsi_user(wsi, NULL);
}

/* Runs the handler and asks for a writable callback to send the answer. */
static int http_answer(struct lws *wsi, struct sim_http *h, struct http_req *r)
{
	struct ybuf body = YBUF_INIT(h->resp_max ? h->resp_max : HTTP_RESP_MAX);
	const char *ctype = "application/json";
	uint8_t *start, *p, *end;
	int st;

	if (r->too_big) {
		st = 413;
		ybuf_append_str(&body, "{\"error\":\"body too large\"}");
	} else {
		st = h->handle(h->ud, r->method, r->uri, r->body.len ? r->body.data : NULL,
			       r->body.len, &body, &ctype);
		if (st < 100 || st > 599)
			st = 500;
	}
	r->status = st;
	if (ybuf_reserve(&r->resp, LWS_PRE + HTTP_HDR_ROOM + body.len)) {
		ybuf_release(&body);
		return -1;
	}
	start = r->resp.data + LWS_PRE;
	p = start;
	end = start + HTTP_HDR_ROOM;
	if (lws_add_http_common_headers(wsi, (unsigned int)st, ctype, body.len, &p,
					end) ||
	    lws_finalize_http_header(wsi, &p, end)) {
		ybuf_release(&body);
		return -1;
	}
	r->resp.len = (size_t)(p - r->resp.data);
	if (body.len)
		ybuf_append(&r->resp, body.data, body.len);
	ybuf_release(&body);
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_writable(struct lws *wsi, struct http_req *r)
{
	size_t n;

	size_t left;
	bool final;

	if (!r || !r->resp.len)
		return 0;
	left = r->resp.len - LWS_PRE - r->sent;
	n = left < HTTP_CHUNK ? left : HTTP_CHUNK;
	final = n == left;
	if (!r->chunk && !(r->chunk = malloc(LWS_PRE + HTTP_CHUNK))) {
		http_req_free(wsi, r);
		return -1;
	}
	/* lws_write may use the LWS_PRE bytes in front of what it sends */
	memcpy(r->chunk + LWS_PRE, r->resp.data + LWS_PRE + r->sent, n);
	if (lws_write(wsi, r->chunk + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
	    (int)n) {
		http_req_free(wsi, r);
		return -1;
	}
	r->sent += n;
	if (!final) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, HTTP_SEND_SECS);
		lws_callback_on_writable(wsi);
		return 0;
	}
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	http_req_free(wsi, r);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_begin(struct lws *wsi, struct sim_http *h, const char *uri)
{
	static const struct { int tok; const char *m; } methods[] = {
		{ WSI_TOKEN_GET_URI, "GET" },
		{ WSI_TOKEN_POST_URI, "POST" },
		{ WSI_TOKEN_DELETE_URI, "DELETE" },
		{ WSI_TOKEN_PUT_URI, "PUT" },
	};
	struct http_req *r;
	char clen[32];

	r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	ybuf_init(&r->body, h->body_max ? h->body_max : HTTP_BODY_DEFAULT);
	ybuf_init(&r->resp, LWS_PRE + HTTP_HDR_ROOM + (h->resp_max ? h->resp_max : HTTP_RESP_MAX));
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (lws_hdr_total_length(wsi, (enum lws_token_indexes)methods[i].tok) > 0) {
			snprintf(r->method, sizeof(r->method), "%s", methods[i].m);
			break;
		}
	snprintf(r->uri, sizeof(r->uri), "%s", uri ? uri : "/");
	/* lws keeps each URI argument as its own (URL-decoded) fragment, and
	 * lws_hdr_copy would join them with ','; rebuild "?a=1&b=2". */
	for (int i = 0;; i++) {
		char q[TEXT_MAX];
		size_t u = strlen(r->uri);

		if (lws_hdr_copy_fragment(wsi, q, sizeof(q), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		snprintf(r->uri + u, sizeof(r->uri) - u, "%c%s", i ? '&' : '?', q);
	}
	lws_set_wsi_user(wsi, r);
	if (!r->method[0]) {
		snprintf(r->method, sizeof(r->method), "OTHER");
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		/* lws 4.1 passes a chunked body raw and never completes it */
		r->chunked = true;
		sim_chunked_init(&r->ck);
		return 0;
	}
	if (lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
	    strtoull(clen, NULL, 10) > 0)
		return 0; /* the body follows */
	return http_answer(wsi, h, r);
}

static int http_body(struct lws *wsi, struct sim_http *h, struct http_req *r, const void *in,
		     size_t len)
{
	if (!r)
		return -1;
	/* libwebsockets put one timeout (its context's timeout_secs) on the
	 * whole transaction when it began: renew it while the body moves */
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, HTTP_SEND_SECS);
	if (r->answered)
		return 0;
	if (r->chunked) {
		size_t used;
		int rc = sim_chunked_feed(&r->ck, in, len, &r->body, &used);

		if (rc == Y_EAGAIN)
			return 0;
		if (rc == Y_EINVAL)
			return -1;
		if (rc)
			r->too_big = true;
		r->answered = true;
		return http_answer(wsi, h, r);
	}
	if (!r->too_big && ybuf_append(&r->body, in, len))
		r->too_big = true;
	return 0;
}

/* The listener's on_other: libwebsockets callbacks of its connections that
 * are not its websockets. */
static int on_lws(void *ud, struct lws *wsi, int reason, void *user, void *in, size_t len)
{
	struct sim_http *h = ud;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_begin(wsi, h, in);
	case LWS_CALLBACK_HTTP_BODY:
		return http_body(wsi, h, user, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!user)
			return -1;
		if (((struct http_req *)user)->answered)
			return 0;
		return http_answer(wsi, h, user);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_writable(wsi, user);
	case LWS_CALLBACK_CLOSED_HTTP:
		http_req_free(wsi, user);
		return 0;
	default:
		return 0;
	}
}

void sim_http_attach(struct wa_listener_opts *lo, struct sim_http *h)
{
	lo->on_other = on_lws;
	lo->other_ud = h;
}
