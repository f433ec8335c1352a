/*
 * The router: a static table of (method mask, path pattern, handler) rows.
 * Patterns are literal segments and `{name}` placeholders that match exactly
 * one non-empty segment ("/api/v1/sessions/{id}/webhook"). Matching does no
 * allocation: captured parameters point into the path the caller passed, so
 * they live as long as that string.
 *
 * The table is owned by the caller (usually a static array) and must outlive
 * every match made with it.
 */
#ifndef YESAPP_HTTP_ROUTER_H
#define YESAPP_HTTP_ROUTER_H

#include <stddef.h>

struct http_req;

enum http_method {
	HTTP_GET = 1,
	HTTP_POST = 2,
	HTTP_PUT = 4,
	HTTP_DELETE = 8,
	HTTP_PATCH = 16,
	HTTP_OPTIONS = 32,
	HTTP_HEAD = 64,
};

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_SEGMENTS 16

/* Route flags. */
#define HTTP_ROUTE_PUBLIC 1 /* no API key needed even under /api/ */
/* A probe (/health, /ready): never rate limited (behind a proxy every client
 * shares one address, and a busy bot must not make the orchestrator think
 * the server is dead) and logged at debug, not info, on every call. */
#define HTTP_ROUTE_PROBE 2
/* A streamed body (http.h http_req_read_form): the handler runs as soon as
 * the request head has passed the middleware chain, before the body is
 * read, and MAX_BODY_BYTES does not apply (the handler caps what it takes). */
#define HTTP_ROUTE_STREAM 4

typedef void (*http_handler)(struct http_req *req);

/*
 * The least role a caller needs for a route (docs/auth.md). Every row of a
 * table must name one: 0 (HTTP_ROLE_UNSET, what a row written as
 * { methods, pattern, handler, flags } gets) is a missing rule, reported by
 * http_routes_check and refused at run time to everyone but admins. Roles
 * are ordered: a higher one may do everything a lower one may.
 */
enum http_role {
	HTTP_ROLE_UNSET = 0,
	HTTP_ROLE_PUBLIC = 1,   /* no credentials (goes with HTTP_ROUTE_PUBLIC) */
	HTTP_ROLE_VIEWER = 2,   /* read-only */
	HTTP_ROLE_OPERATOR = 3, /* sessions, messages, webhooks */
	HTTP_ROLE_ADMIN = 4,    /* server settings, users, keys, audit */
};

struct http_route {
	int methods;          /* mask of enum http_method */
	const char *pattern;  /* "/api/v1/sessions/{id}" */
	http_handler handler;
	int flags;
	int role;             /* enum http_role; must not be HTTP_ROLE_UNSET */
};

/* "viewer" -> HTTP_ROLE_VIEWER, "operator", "admin"; 0 for anything else. */
int http_role_parse(const char *s);
/* "public", "viewer", "operator", "admin", or "unset". */
const char *http_role_name(int role);
/*
 * Checks that every row carries a rule: a role from PUBLIC to ADMIN, and
 * PUBLIC exactly when the row has HTTP_ROUTE_PUBLIC. Returns the index of
 * the first bad row (why gets "GET /api/v1/x has no role rule: ...") or -1.
 */
long http_routes_check(const struct http_route *routes, size_t n, char *why, size_t whylen);

struct http_param {
	const char *p;        /* borrowed: points into the matched path */
	size_t len;
};

struct http_match {
	const struct http_route *route; /* NULL unless Y_OK */
	int allowed;          /* methods accepted on this path (for Allow) */
	int nparams;
	struct http_param params[HTTP_MAX_PARAMS];
};

/* "GET" -> HTTP_GET ...; 0 for anything else. */
int http_method_parse(const char *s);
/* Writes "GET, HEAD, POST" style text for a method mask into out. */
void http_methods_format(int mask, char *out, size_t outlen);

/*
 * Matches method+path against the table. HEAD is served by GET routes.
 * Returns Y_OK (m->route and params filled), Y_ENOTFOUND (no pattern fits the
 * path), or Y_EUNSUPPORTED (the path exists but not for this method;
 * m->allowed holds the methods that would be accepted).
 */
int http_router_match(const struct http_route *routes, size_t n, int method, const char *path,
		      struct http_match *m);

#endif
