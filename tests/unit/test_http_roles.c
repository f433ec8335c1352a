/* The HTTP layer's role check (http.c dispatch): a caller below a route's
 * role gets 403 FORBIDDEN naming both roles, a row without a rule is for
 * admins only, the verifier's Y_ESTATE is 403 CSRF_FAILED, and on_done sees
 * every request. A real server on 127.0.0.1 and libcurl. */
#include "test.h"

#include "http/http.h"
#include "http/router.h"
#include "util/err.h"
#include "util/log.h"

#include <curl/curl.h>
#include <stdatomic.h>

static void ok(struct http_req *r)
{
	http_reply_json(r, 200, json_pack("{s:s}", "role", http_role_name(http_req_role(r))));
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/api/v1/open", ok, HTTP_ROUTE_PUBLIC, HTTP_ROLE_PUBLIC },
	{ HTTP_GET, "/api/v1/read", ok, 0, HTTP_ROLE_VIEWER },
	{ HTTP_POST, "/api/v1/write", ok, 0, HTTP_ROLE_OPERATOR },
	{ HTTP_PUT, "/api/v1/admin", ok, 0, HTTP_ROLE_ADMIN },
	{ HTTP_GET, "/api/v1/norule", ok, 0, HTTP_ROLE_UNSET },
};

static atomic_int done_calls;

/* key "v" viewer, "o" operator, "a" admin, "c" a cookie whose CSRF check
 * failed; anything else unknown. */
static int auth(void *app, struct http_req *req, const char *key, struct http_ident *out)
{
	static const char *const k[] = { "v", "o", "a" };

	(void)app;
	(void)req;
	if (!key)
		return Y_ENOTFOUND;
	if (!strcmp(key, "c"))
		return Y_ESTATE;
	for (int i = 0; i < 3; i++)
		if (!strcmp(key, k[i])) {
			memset(out, 0, sizeof(*out));
			snprintf(out->id, sizeof(out->id), "id-%s", key);
			out->role = HTTP_ROLE_VIEWER + i;
			return Y_OK;
		}
	return Y_ENOTFOUND;
}

static void on_done(void *app, struct http_req *req)
{
	(void)app;
	(void)req;
	atomic_fetch_add(&done_calls, 1);
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), add = sz * n;

	if (have + add < 1024) {
		memcpy(buf + have, p, add);
		buf[have + add] = '\0';
	}
	return sz * n;
}

/* Status of method path with key (NULL: none); body into buf. */
static long call(int port, const char *method, const char *path, const char *key, char buf[1024])
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], hdr[64];
	long status = -1;

	buf[0] = '\0';
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	if (key) {
		snprintf(hdr, sizeof(hdr), "X-API-Key: %s", key);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

TEST(roles_are_enforced_by_the_http_layer)
{
	struct http_server_opts o;
	struct http_server *srv = NULL;
	char b[1024];
	int port;

	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.max_body_bytes = 4096;
	o.threads = 1;
	o.routes = routes;
	o.nroutes = sizeof(routes) / sizeof(routes[0]);
	o.auth = auth;
	o.on_done = on_done;
	REQUIRE(http_server_start(&o, &srv) == Y_OK);
	port = http_server_port(srv);

	CHECK_EQ_INT(call(port, "GET", "/api/v1/open", NULL, b), 200);
	CHECK_EQ_INT(call(port, "GET", "/api/v1/read", NULL, b), 401);
	CHECK_EQ_INT(call(port, "GET", "/api/v1/read", "v", b), 200);
	CHECK(strstr(b, "\"viewer\"") != NULL);
	CHECK_EQ_INT(call(port, "POST", "/api/v1/write", "v", b), 403);
	CHECK(strstr(b, "\"FORBIDDEN\"") && strstr(b, "\"required\":\"operator\"") &&
	      strstr(b, "\"role\":\"viewer\""));
	CHECK_EQ_INT(call(port, "POST", "/api/v1/write", "o", b), 200);
	CHECK_EQ_INT(call(port, "POST", "/api/v1/write", "a", b), 200);
	CHECK_EQ_INT(call(port, "PUT", "/api/v1/admin", "o", b), 403);
	CHECK_EQ_INT(call(port, "PUT", "/api/v1/admin", "a", b), 200);
	/* no rule: admins only */
	CHECK_EQ_INT(call(port, "GET", "/api/v1/norule", "o", b), 403);
	CHECK(strstr(b, "\"required\":\"admin\"") != NULL);
	CHECK_EQ_INT(call(port, "GET", "/api/v1/norule", "a", b), 200);
	/* CSRF failure is a 403 of its own, on routes that need auth only */
	CHECK_EQ_INT(call(port, "POST", "/api/v1/write", "c", b), 403);
	CHECK(strstr(b, "\"CSRF_FAILED\"") != NULL);
	CHECK_EQ_INT(call(port, "GET", "/api/v1/open", "c", b), 200);
	/* the role check comes after routing: 404/405 are unchanged */
	CHECK_EQ_INT(call(port, "GET", "/api/v1/write", "v", b), 405);
	CHECK_EQ_INT(call(port, "GET", "/api/v1/nothing", "v", b), 404);
	http_server_quiesce(srv);
	http_server_wait_idle(srv, 2000);
	http_server_free(srv);
	CHECK_EQ_INT(atomic_load(&done_calls), 14); /* one per request above */
}

int main(void)
{
	ylog_min = YLOG_OFF;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	RUN(roles_are_enforced_by_the_http_layer);
	curl_global_cleanup();
	return test_summary();
}
