#include "test.h"
#include "http/http.h"
#include "http/router.h"
#include "api/api.h"
#include "util/err.h"

static void h1(struct http_req *r) { (void)r; }
static void h2(struct http_req *r) { (void)r; }
static void h3(struct http_req *r) { (void)r; }

static const struct http_route routes[] = {
	{ HTTP_GET, "/health", h1, HTTP_ROUTE_PUBLIC, HTTP_ROLE_PUBLIC },
	{ HTTP_GET | HTTP_POST, "/api/v1/sessions", h2, 0, HTTP_ROLE_VIEWER },
	{ HTTP_GET | HTTP_DELETE, "/api/v1/sessions/{id}", h3, 0, HTTP_ROLE_VIEWER },
	{ HTTP_PUT, "/api/v1/sessions/{id}/webhook", h1, 0, HTTP_ROLE_VIEWER },
	{ HTTP_GET, "/api/v1/sessions/{id}/webhook", h2, 0, HTTP_ROLE_VIEWER },
	{ HTTP_GET, "/a/{x}/b/{y}", h3, 0, HTTP_ROLE_VIEWER },
};
#define NR (sizeof(routes) / sizeof(routes[0]))

TEST(router_literal_and_method)
{
	struct http_match m;

	CHECK_EQ_INT(http_router_match(routes, NR, HTTP_GET, "/health", &m), Y_OK);
	CHECK(m.route == &routes[0]);
	CHECK_EQ_INT(m.nparams, 0);
	CHECK_EQ_INT(http_router_match(routes, NR, HTTP_HEAD, "/health", &m), Y_OK);
	CHECK_EQ_INT(http_router_match(routes, NR, HTTP_POST, "/health", &m), Y_EUNSUPPORTED);
	CHECK_EQ_INT(m.allowed, HTTP_GET | HTTP_HEAD);
	CHECK(m.route == NULL);
	CHECK_EQ_INT(http_router_match(routes, NR, HTTP_POST, "/api/v1/sessions", &m), Y_OK);
	CHECK(m.route == &routes[1]);
}

TEST(router_params)
{
	struct http_match m;
	const char *path = "/api/v1/sessions/abc-123";

	REQUIRE(http_router_match(routes, NR, HTTP_DELETE, path, &m) == Y_OK);
	CHECK(m.route == &routes[2]);
	CHECK_EQ_INT(m.nparams, 1);
	CHECK_EQ_INT(m.params[0].len, 7);
	CHECK(m.params[0].p == path + 17);
	REQUIRE(http_router_match(routes, NR, HTTP_GET, "/a/one/b/two", &m) == Y_OK);
	CHECK_EQ_INT(m.nparams, 2);
	CHECK(!memcmp(m.params[0].p, "one", 3) && m.params[0].len == 3);
	CHECK(!memcmp(m.params[1].p, "two", 3) && m.params[1].len == 3);
}

TEST(router_allow_merges_rows)
{
	struct http_match m;

	CHECK_EQ_INT(http_router_match(routes, NR, HTTP_GET, "/api/v1/sessions/x/webhook", &m), Y_OK);
	CHECK(m.route == &routes[4]);
	CHECK_EQ_INT(http_router_match(routes, NR, HTTP_PUT, "/api/v1/sessions/x/webhook", &m), Y_OK);
	CHECK(m.route == &routes[3]);
	CHECK_EQ_INT(http_router_match(routes, NR, HTTP_DELETE, "/api/v1/sessions/x/webhook", &m),
		     Y_EUNSUPPORTED);
	CHECK_EQ_INT(m.allowed, HTTP_GET | HTTP_HEAD | HTTP_PUT);
}

TEST(router_not_found)
{
	struct http_match m;
	static const char *const bad[] = {
		"", "/", "health", "/health/", "/healthz", "/api/v1/sessions/", "/api/v1/sessions//webhook",
		"/api/v1/sessions/x/y", "/api/v1", "//health", "/a//b/c", "/a/x/b/", NULL,
	};

	for (int i = 0; bad[i]; i++) {
		int rc = http_router_match(routes, NR, HTTP_GET, bad[i], &m);

		if (rc != Y_ENOTFOUND)
			fprintf(stderr, "  path '%s' -> %d\n", bad[i], rc);
		CHECK_EQ_INT(rc, Y_ENOTFOUND);
		CHECK(m.route == NULL);
	}
	CHECK_EQ_INT(http_router_match(routes, NR, HTTP_GET, NULL, &m), Y_ENOTFOUND);
	/* An unknown method on a known path is 405, not 404. */
	CHECK_EQ_INT(http_router_match(routes, NR, 0, "/health", &m), Y_EUNSUPPORTED);
}

TEST(methods_parse_and_format)
{
	char buf[64];

	CHECK_EQ_INT(http_method_parse("GET"), HTTP_GET);
	CHECK_EQ_INT(http_method_parse("DELETE"), HTTP_DELETE);
	CHECK_EQ_INT(http_method_parse("get"), 0);
	CHECK_EQ_INT(http_method_parse("BREW"), 0);
	CHECK_EQ_INT(http_method_parse(NULL), 0);
	http_methods_format(HTTP_GET | HTTP_HEAD | HTTP_DELETE | HTTP_OPTIONS, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "GET, HEAD, DELETE, OPTIONS");
	http_methods_format(HTTP_GET | HTTP_POST, buf, 6);
	CHECK_EQ_STR(buf, "GET");
}

TEST(request_id_and_cors)
{
	char longid[200];

	CHECK(http_request_id_ok("abc-DEF_1.2:3"));
	CHECK(!http_request_id_ok(""));
	CHECK(!http_request_id_ok(NULL));
	CHECK(!http_request_id_ok("a b"));
	CHECK(!http_request_id_ok("x\r\nSet-Cookie: a"));
	memset(longid, 'a', sizeof(longid));
	longid[128] = '\0';
	CHECK(http_request_id_ok(longid));
	longid[128] = 'a';
	longid[129] = '\0';
	CHECK(!http_request_id_ok(longid));

	CHECK(http_cors_allowed("*", "https://x.example"));
	CHECK(http_cors_allowed("https://a.example, https://b.example", "https://b.example"));
	CHECK(http_cors_allowed("https://a.example,https://b.example", "https://a.example"));
	CHECK(!http_cors_allowed("https://a.example", "https://a.example.evil"));
	CHECK(!http_cors_allowed("https://a.example", "https://a.exampl"));
	CHECK(!http_cors_allowed(NULL, "https://a.example"));
	CHECK(!http_cors_allowed("https://a.example", ""));
}

/* Every row of the server's own table carries a role rule; a failure
 * names the route that lacks one. */
TEST(api_routes_all_have_role_rules)
{
	char why[512];
	long bad = http_routes_check(api_routes, api_nroutes, why, sizeof(why));

	if (bad >= 0)
		fprintf(stderr, "  %s\n", why);
	CHECK_EQ_INT(bad, -1);
	REQUIRE(api_nroutes >= 40);
	for (size_t i = 0; i < api_nroutes; i++) {
		const struct http_route *r = &api_routes[i];

		/* what the brief's rule says of each kind of route */
		if (!strncmp(r->pattern, "/api/v1/users", 13) || !strncmp(r->pattern, "/api/v1/keys", 12) ||
		    !strcmp(r->pattern, "/api/v1/audit") ||
		    !strcmp(r->pattern, "/api/v1/logs")) /* log lines of every session */
			CHECK_EQ_INT(r->role, HTTP_ROLE_ADMIN);
		else if (!strncmp(r->pattern, "/api/v1/server/", 15) && r->methods != HTTP_GET)
			CHECK_EQ_INT(r->role, HTTP_ROLE_ADMIN);
		else if ((r->flags & HTTP_ROUTE_PUBLIC) == 0 && r->methods == HTTP_GET)
			CHECK_EQ_INT(r->role, HTTP_ROLE_VIEWER);
		else if ((r->flags & HTTP_ROUTE_PUBLIC) == 0 && strncmp(r->pattern, "/api/v1/auth/", 13))
			CHECK_EQ_INT(r->role, HTTP_ROLE_OPERATOR);
	}
}

static const struct http_route unruled[] = {
	{ HTTP_GET, "/health", h1, HTTP_ROUTE_PUBLIC, HTTP_ROLE_PUBLIC },
	{ HTTP_GET, "/api/v1/things", h1, 0, HTTP_ROLE_VIEWER },
	{ HTTP_POST | HTTP_PUT, "/api/v1/things/{id}", h2, 0, HTTP_ROLE_UNSET },
};
static const struct http_route public_mismatch[] = {
	{ HTTP_GET, "/open", h1, HTTP_ROUTE_PUBLIC, HTTP_ROLE_VIEWER },
};
static const struct http_route public_no_flag[] = {
	{ HTTP_GET, "/api/v1/open", h1, 0, HTTP_ROLE_PUBLIC },
};

TEST(routes_check_names_the_row_without_a_rule)
{
	char why[512];

	CHECK_EQ_INT(http_routes_check(unruled, 3, why, sizeof(why)), 2);
	CHECK(strstr(why, "POST, PUT /api/v1/things/{id} has no role rule") != NULL);
	CHECK_EQ_INT(http_routes_check(unruled, 2, why, sizeof(why)), -1);
	CHECK_EQ_STR(why, "");
	CHECK_EQ_INT(http_routes_check(public_mismatch, 1, why, sizeof(why)), 0);
	CHECK(strstr(why, "/open is HTTP_ROUTE_PUBLIC") != NULL);
	CHECK_EQ_INT(http_routes_check(public_no_flag, 1, why, sizeof(why)), 0);
	CHECK(strstr(why, "without the HTTP_ROUTE_PUBLIC flag") != NULL);
	CHECK_EQ_INT(http_role_parse("viewer"), HTTP_ROLE_VIEWER);
	CHECK_EQ_INT(http_role_parse("operator"), HTTP_ROLE_OPERATOR);
	CHECK_EQ_INT(http_role_parse("admin"), HTTP_ROLE_ADMIN);
	CHECK_EQ_INT(http_role_parse("public"), 0);
	CHECK_EQ_INT(http_role_parse("Admin"), 0);
	CHECK_EQ_INT(http_role_parse(NULL), 0);
	CHECK_EQ_STR(http_role_name(HTTP_ROLE_OPERATOR), "operator");
	CHECK_EQ_STR(http_role_name(99), "unset");
}

TEST(etag_lists)
{
	const char *e = "\"abc\"";

	CHECK(!http_etag_listed(NULL, e, 0));
	CHECK(!http_etag_listed("", e, 0));
	CHECK(http_etag_listed("\"abc\"", e, 0));
	CHECK(!http_etag_listed("\"abc\"", e, 1));
	CHECK(http_etag_listed("W/\"abc\"", e, 0));
	CHECK(http_etag_listed("W/\"abc\"", e, 1));
	CHECK(http_etag_listed("\"x\", W/\"y\" ,\t\"abc\"\t", e, 0));
	CHECK(http_etag_listed("*", e, 0));
	CHECK(!http_etag_listed("*", e, 1));
	CHECK(!http_etag_listed("\"abcd\"", e, 0));
	CHECK(!http_etag_listed("\"ab\"", e, 0));
	CHECK(!http_etag_listed("abc", e, 0));
	CHECK(!http_etag_listed("W/", e, 0));
	CHECK(!http_etag_listed(",,, ,", e, 0));
	CHECK(!http_etag_listed("w/\"abc\"", e, 0)); /* W/ is case-sensitive */
}

int main(void)
{
	RUN(etag_lists);
	RUN(router_literal_and_method);
	RUN(router_params);
	RUN(router_allow_merges_rows);
	RUN(router_not_found);
	RUN(methods_parse_and_format);
	RUN(request_id_and_cors);
	RUN(api_routes_all_have_role_rules);
	RUN(routes_check_names_the_row_without_a_rule);
	return test_summary();
}
