#include "http/router.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
	int m;
	const char *name;
} method_names[] = {
	{ HTTP_GET, "GET" },       { HTTP_HEAD, "HEAD" },	 { HTTP_POST, "POST" },
	{ HTTP_PUT, "PUT" },       { HTTP_PATCH, "PATCH" }, { HTTP_DELETE, "DELETE" },
	{ HTTP_OPTIONS, "OPTIONS" },
};

int http_method_parse(const char *s)
{
	if (!s)
		return 0;
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (!strcmp(s, method_names[i].name))
			return method_names[i].m;
	return 0;
}

void http_methods_format(int mask, char *out, size_t outlen)
{
	size_t used = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (!(mask & method_names[i].m))
			continue;
		int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
				 method_names[i].name);
		if (n < 0 || (size_t)n >= outlen - used) {
			out[used] = '\0'; /* drop a name that did not fit whole */
			return;
		}
		used += (size_t)n;
	}
}

/*
 * Matches one pattern against the path, segment by segment. Both start with
 * '/'. Placeholders capture one non-empty segment. Returns 1 on a match.
 */
static int match_pattern(const char *pat, const char *path, struct http_match *m)
{
	int np = 0;

	if (*pat != '/' || *path != '/')
		return 0;
	while (*pat) {
		const char *pe, *se;

		if (*pat != '/' || *path != '/')
			return 0;
		pat++;
		path++;
		pe = strchr(pat, '/');
		if (!pe)
			pe = pat + strlen(pat);
		se = strchr(path, '/');
		if (!se)
			se = path + strlen(path);
		if (pe - pat >= 2 && pat[0] == '{' && pe[-1] == '}') {
			if (se == path || np >= HTTP_MAX_PARAMS)
				return 0;
			m->params[np].p = path;
			m->params[np].len = (size_t)(se - path);
			np++;
		} else if (pe - pat != se - path || memcmp(pat, path, (size_t)(pe - pat))) {
			return 0;
		}
		pat = pe;
		path = se;
	}
	if (*path)
		return 0;
	m->nparams = np;
	return 1;
}

int http_router_match(const struct http_route *routes, size_t n, int method, const char *path,
		      struct http_match *m)
{
	int want = method == HTTP_HEAD ? HTTP_GET : method;
	int found_path = 0;

	memset(m, 0, sizeof(*m));
	if (!path)
		return Y_ENOTFOUND;
	for (size_t i = 0; i < n; i++) {
		struct http_match tmp;

		memset(&tmp, 0, sizeof(tmp));
		if (!match_pattern(routes[i].pattern, path, &tmp))
			continue;
		found_path = 1;
		m->allowed |= routes[i].methods;
		if ((routes[i].methods & want) && !m->route) {
			m->route = &routes[i];
			m->nparams = tmp.nparams;
			memcpy(m->params, tmp.params, sizeof(tmp.params));
		}
	}
	if (m->allowed & HTTP_GET)
		m->allowed |= HTTP_HEAD;
	if (m->route)
		return Y_OK;
	return found_path ? Y_EUNSUPPORTED : Y_ENOTFOUND;
}

static const char *const role_names[] = { "unset", "public", "viewer", "operator", "admin" };

int http_role_parse(const char *s)
{
	for (int r = HTTP_ROLE_VIEWER; s && r <= HTTP_ROLE_ADMIN; r++)
		if (!strcmp(s, role_names[r]))
			return r;
	return 0;
}

const char *http_role_name(int role)
{
	return role >= 0 && role <= HTTP_ROLE_ADMIN ? role_names[role] : "unset";
}

long http_routes_check(const struct http_route *routes, size_t n, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		const struct http_route *r = &routes[i];
		int pub = (r->flags & HTTP_ROUTE_PUBLIC) != 0;
		const char *what = NULL;
		char methods[96];

		if (r->role < HTTP_ROLE_PUBLIC || r->role > HTTP_ROLE_ADMIN)
			what = "has no role rule: give the row a role (HTTP_ROLE_VIEWER for a "
			       "read-only GET, HTTP_ROLE_OPERATOR for sessions/messages/webhooks, "
			       "HTTP_ROLE_ADMIN for server settings, users, keys, audit)";
		else if (pub && r->role != HTTP_ROLE_PUBLIC)
			what = "is HTTP_ROUTE_PUBLIC but its role is not HTTP_ROLE_PUBLIC";
		else if (!pub && r->role == HTTP_ROLE_PUBLIC)
			what = "has HTTP_ROLE_PUBLIC without the HTTP_ROUTE_PUBLIC flag";
		if (!what)
			continue;
		http_methods_format(r->methods, methods, sizeof(methods));
		if (why && whylen)
			snprintf(why, whylen, "route %s %s %s", methods, r->pattern, what);
		return (long)i;
	}
	if (why && whylen)
		why[0] = '\0';
	return -1;
}
