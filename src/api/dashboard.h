/*
 * The web dashboard's files, embedded at build time (scripts/gen-dashboard.sh
 * writes build/gen/dashboard.c from web/dist) and served by the HTTP server's
 * fallback for GET/HEAD paths outside /api/ (docs/dashboard.md).
 *
 * The table is static, read-only data: any thread may read it.
 */
#ifndef YESAPP_API_DASHBOARD_H
#define YESAPP_API_DASHBOARD_H

#include <stddef.h>

struct http_req;

struct dash_asset {
	const char *path;            /* "/index.html", "/assets/index-AbC123.js" */
	const char *content_type;    /* a literal */
	const unsigned char *data;   /* the file as built */
	size_t len;
	const unsigned char *gz;     /* its gzip form, or NULL when that is not smaller */
	size_t gz_len;
	const char *etag;            /* quoted SHA-256 prefix of data */
	const char *gz_etag;         /* its weak form W/"...": the gzip form's, as
				      * the HTTP layer tags what it gzips */
	int immutable;               /* under /assets/: content-hashed name */
};

extern const struct dash_asset dash_assets[];
extern const size_t dash_nassets; /* 0: built without the dashboard */

/* The Content-Security-Policy the dashboard is served with. */
extern const char dash_csp[];

/* The asset for a request path ("/" is index.html), or NULL. */
const struct dash_asset *dash_find(const char *path);

/* The HTTP fallback handler: the file, index.html for an unknown path that is
 * not under /assets/ (client-side routes), else 404 JSON. */
void api_dashboard_serve(struct http_req *req);

#endif
