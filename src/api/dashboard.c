#include "api/dashboard.h"
#include "http/http.h"

#include <string.h>

/* Everything the app loads comes from this origin; no inline script or
 * style element (React sets styles through the DOM, which style-src allows);
 * QR images are blob: URLs made from fetched SVG. */
const char dash_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
			"img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
			"manifest-src 'self'; base-uri 'none'; form-action 'none'; "
			"frame-ancestors 'none'";

#define DASH_PATH_MAX 1024

const struct dash_asset *dash_find(const char *path)
{
	size_t i;

	if (!strcmp(path, "/"))
		path = "/index.html";
	for (i = 0; i < dash_nassets; i++)
		if (!strcmp(dash_assets[i].path, path))
			return &dash_assets[i];
	return NULL;
}

/* Whether the entity-tag at p (n bytes, W/ allowed) equals tag. */
static int tag_is(const char *p, size_t n, const char *tag)
{
	if (n >= 2 && p[0] == 'W' && p[1] == '/')
		p += 2, n -= 2;
	return n == strlen(tag) && !memcmp(p, tag, n);
}

int dash_etag_matches(const char *h, const struct dash_asset *a)
{
	while (h && *h) {
		size_t n;

		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		n = strcspn(h, ",");
		while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
			n--;
		if ((n == 1 && *h == '*') || tag_is(h, n, a->etag) || tag_is(h, n, a->gz_etag))
			return 1;
		h += n;
		while (*h && *h != ',')
			h++;
	}
	return 0;
}

void api_dashboard_serve(struct http_req *req)
{
	const char *path = http_req_path(req);
	const struct dash_asset *a;
	struct http_asset_reply r;
	int gz;

	if (!dash_nassets) {
		http_reply_error(req, 404, "NOT_FOUND",
				 "the dashboard is not built into this binary (build it with make)",
				 NULL);
		return;
	}
	a = dash_find(path);
	/* no client-side route is that long: an absurd path is not the app's */
	if (!a && strncmp(path, "/assets/", 8) && strlen(path) <= DASH_PATH_MAX)
		a = dash_find("/index.html"); /* a client-side route */
	if (!a) {
		http_reply_error(req, 404, "NOT_FOUND", "no such file", NULL);
		return;
	}
	gz = a->gz && http_req_accepts_gzip(req);
	memset(&r, 0, sizeof(r));
	r.content_type = a->content_type;
	r.cache_control = a->immutable ? "public, max-age=31536000, immutable" : "no-cache";
	r.etag = gz ? a->gz_etag : a->etag;
	r.vary_encoding = a->gz != NULL;
	r.csp = dash_csp;
	if (dash_etag_matches(http_req_header(req, "If-None-Match"), a)) {
		http_reply_asset(req, 304, &r);
		return;
	}
	r.data = gz ? a->gz : a->data;
	r.len = gz ? a->gz_len : a->len;
	r.gzipped = gz;
	http_reply_asset(req, 200, &r);
}
