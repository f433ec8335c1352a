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

void api_dashboard_serve(struct http_req *req)
{
	const char *path = http_req_path(req);
	const struct dash_asset *a;
	struct http_asset_reply r;
	int gz;

	if (!dash_nassets) {
		http_reply_error(req, 404, "NOT_FOUND",
				 "the dashboard is not built into this binary (build it with make)",
				 json_pack("{s:s}", "path", path));
		return;
	}
	a = dash_find(path);
	/* no client-side route is that long: an absurd path is not the app's */
	if (!a && strncmp(path, "/assets/", 8) && strlen(path) <= DASH_PATH_MAX)
		a = dash_find("/index.html"); /* a client-side route */
	if (!a) {
		http_reply_error(req, 404, "NOT_FOUND", "no such file", json_pack("{s:s}", "path", path));
		return;
	}
	gz = a->gz && http_req_accepts_gzip(req);
	memset(&r, 0, sizeof(r));
	r.content_type = a->content_type;
	r.cache_control = a->immutable ? "public, max-age=31536000, immutable" : "no-cache";
	r.etag = gz ? a->gz_etag : a->etag;
	r.vary_encoding = a->gz != NULL;
	r.csp = dash_csp;
	/* weak comparison: the plain tag names the gzip form's W/ one too */
	if (http_req_etag_match(req, a->etag)) {
		http_reply_asset(req, 304, &r);
		return;
	}
	r.data = gz ? a->gz : a->data;
	r.len = gz ? a->gz_len : a->len;
	r.gzipped = gz;
	http_reply_asset(req, 200, &r);
}
