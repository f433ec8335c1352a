/* Fuzzes the request-input decoders: strict JSON bodies and the field
 * checks the API applies to them, the router, the query/path checks, and
 * TRUST_PROXY's list parser and X-Forwarded-For walk, If-None-Match lists, and
 * the Cookie header reader of the dashboard sign-in. */
#include "api/api.h"
#include "api/validate.h"
#include "http/http.h"
#include "http/json.h"
#include "http/router.h"
#include "util/cidr.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void h(struct http_req *r) { (void)r; }

static const struct http_route routes[] = {
	{ HTTP_GET, "/health", h, HTTP_ROUTE_PUBLIC, HTTP_ROLE_PUBLIC },
	{ HTTP_GET | HTTP_POST, "/api/v1/sessions", h, 0, HTTP_ROLE_VIEWER },
	{ HTTP_GET | HTTP_DELETE, "/api/v1/sessions/{id}", h, 0, HTTP_ROLE_OPERATOR },
	{ HTTP_GET | HTTP_PUT, "/api/v1/sessions/{id}/webhook", h, 0, HTTP_ROLE_OPERATOR },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "name", "to", "text", "url", "secret", "events", NULL };
	char *s = malloc(size + 1);
	json_t *o = NULL, *d = NULL;
	struct http_match m;
	const char *v;
	char out[64];
	int lim;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (http_json_parse_object((const char *)data, size, &o, &d) == Y_OK) {
		if (d || !json_is_object(o))
			abort();
		json_decref(d);
		d = NULL;
		http_json_only_keys(o, keys, &d);
		json_decref(d);
		for (size_t i = 0; keys[i]; i++) {
			d = NULL;
			if (http_json_get_string(o, keys[i], i & 1, 1, 100, &v, &d) == Y_OK) {
				api_phone_parse(v, out);
				api_url_check(v);
				api_event_known(v);
			}
			json_decref(d);
		}
		json_decref(o);
	} else {
		if (o || !d)
			abort();
		json_decref(d);
	}

	if (http_router_match(routes, 4, HTTP_GET, s, &m) == Y_OK) {
		for (int i = 0; i < m.nparams; i++) {
			if (m.params[i].p < s || m.params[i].p + m.params[i].len > s + size)
				abort();
			api_uuid_parse(m.params[i].p, m.params[i].len, out);
		}
	}
	{
		char tok[65];

		/* a value found is a copy that fits, NUL-terminated */
		if (api_cookie_value(s, "yesapp_session", tok, sizeof(tok)) && strlen(tok) >= 65)
			abort();
	}
	api_uuid_parse(s, size, out);
	api_phone_parse(s, out);
	api_url_check(s);
	api_limit_parse(s, 1, &lim);
	{
		static struct cidr_list trusted;
		static int have;
		struct cidr_list l;
		char ip[CIDR_IP_MAX] = "10.0.0.1";

		if (!have)
			have = cidr_list_parse("10.0.0.0/8, ::1, fd00::/8", &trusted) == Y_OK;
		if (cidr_list_parse(s, &l) == Y_OK && (l.n == 0 || l.n > CIDR_MAX))
			abort();
		cidr_forwarded_client(&trusted, (const char *)data, size, ip);
		if (strcmp(ip, "10.0.0.1") && !cidr_is_ip(ip))
			abort(); /* the walk only ever yields an address */
		{ /* media URL guard: public only for an address, and says why not */
			const char *why = NULL;
			int pub = cidr_ip_public(s, &why);

			if ((pub && (!cidr_is_ip(s) || why)) || (!pub && !why))
				abort();
		}
	}
	/* If-None-Match: the weak-only answer implies the plain one; the text
	 * itself as the tag when it is one (a list of one names itself) */
	if (http_etag_listed(s, "\"a\"", 1) && !http_etag_listed(s, "\"a\"", 0))
		abort();
	if (size >= 2 && s[0] == '"' && s[size - 1] == '"' && !memchr(s, ',', size) &&
	    strlen(s) == size && !http_etag_listed(s, s, 0))
		abort();
	http_utf8_chars(s, size);
	free(s);
	return 0;
}
