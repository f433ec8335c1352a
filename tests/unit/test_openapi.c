/*
 * The embedded OpenAPI document (src/api/openapi.json) against the route
 * table (api_routes in src/api/common.c): every route with every method is
 * described, the document describes nothing the table lacks, every $ref
 * resolves, every operation has responses and a unique operationId, and
 * each operation's "x-yesapp-role" names its row's role (http_role_name:
 * "public", "viewer", "operator", "admin"), so the document cannot drift
 * from what the HTTP layer enforces. The
 * checker itself is first run on small documents made to fail, so that a
 * pass means something.
 */
#include "test.h"
#include "api/api.h"
#include "api/openapi.h"
#include "auth/users.h"
#include "http/router.h"

#include <jansson.h>
#include <stdarg.h>

static const struct {
	int bit;
	const char *name; /* as OpenAPI spells it */
	const char *upper;
} methods[] = {
	{ HTTP_GET, "get", "GET" },          { HTTP_POST, "post", "POST" },
	{ HTTP_PUT, "put", "PUT" },          { HTTP_DELETE, "delete", "DELETE" },
	{ HTTP_PATCH, "patch", "PATCH" },    { HTTP_OPTIONS, "options", "OPTIONS" },
	{ HTTP_HEAD, "head", "HEAD" },       { 0, "trace", "TRACE" },
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* Problems found by one check_doc call; printed only when `loud`. */
static int problems;
static int loud;

static void problem(const char *fmt, ...)
{
	va_list ap;

	problems++;
	if (!loud)
		return;
	va_start(ap, fmt);
	fputs("  openapi: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The value a local JSON pointer ("#/a/b~1c") names in doc, or NULL. */
static json_t *resolve(json_t *doc, const char *ref)
{
	json_t *cur = doc;
	char tok[256];

	if (strncmp(ref, "#/", 2))
		return NULL;
	ref += 2;
	while (cur) {
		size_t n = 0;

		while (*ref && *ref != '/' && n + 1 < sizeof(tok)) {
			if (ref[0] == '~' && ref[1] == '1') {
				tok[n++] = '/';
				ref += 2;
			} else if (ref[0] == '~' && ref[1] == '0') {
				tok[n++] = '~';
				ref += 2;
			} else {
				tok[n++] = *ref++;
			}
		}
		tok[n] = '\0';
		if (json_is_object(cur))
			cur = json_object_get(cur, tok);
		else
			cur = NULL; /* our documents point into objects only */
		if (!*ref)
			return cur;
		if (*ref != '/')
			return NULL;
		ref++;
	}
	return NULL;
}

static void check_refs(json_t *doc, json_t *node, const char *where)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(node)) {
		json_t *ref = json_object_get(node, "$ref");

		if (ref && (!json_is_string(ref) || !resolve(doc, json_string_value(ref))))
			problem("%s: $ref %s does not resolve", where,
				json_is_string(ref) ? json_string_value(ref) : "(not a string)");
		json_object_foreach(node, k, v) {
			char sub[512];

			snprintf(sub, sizeof(sub), "%s/%s", where, k);
			check_refs(doc, v, sub);
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, v) {
			char sub[512];

			snprintf(sub, sizeof(sub), "%s/%zu", where, i);
			check_refs(doc, v, sub);
		}
	}
}

static const struct http_route *find_route(const struct http_route *routes, size_t n,
					   const char *pattern)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(routes[i].pattern, pattern))
			return &routes[i];
	return NULL;
}

/* Methods of all the table's rows with this pattern (a path may have one row
 * per method). */
static int route_methods(const struct http_route *routes, size_t n, const char *pattern)
{
	int mask = 0;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(routes[i].pattern, pattern))
			mask |= routes[i].methods;
	return mask;
}

/* Checks doc against the table; returns the number of problems. */
static int check_doc(json_t *doc, const struct http_route *routes, size_t n)
{
	json_t *paths = json_object_get(doc, "paths"), *ids = json_object(), *item, *op;
	const char *path, *k;

	problems = 0;
	if (!json_is_string(json_object_get(doc, "openapi")) ||
	    strcmp(json_string_value(json_object_get(doc, "openapi")), "3.1.0"))
		problem("\"openapi\" is not \"3.1.0\"");
	if (!json_is_object(paths)) {
		problem("no \"paths\" object");
		json_decref(ids);
		return problems;
	}
	/* the table -> the document */
	for (size_t i = 0; i < n; i++) {
		item = json_object_get(paths, routes[i].pattern);
		for (size_t m = 0; m < NMETHODS; m++) {
			if (!(routes[i].methods & methods[m].bit))
				continue;
			if (!json_is_object(item) || !json_object_get(item, methods[m].name)) {
				problem("route %s %s (src/api/common.c) is not described: add "
					"paths[\"%s\"].%s to src/api/openapi.json",
					methods[m].upper, routes[i].pattern, routes[i].pattern,
					methods[m].name);
				continue;
			}
			op = json_object_get(item, methods[m].name);
			k = json_string_value(json_object_get(op, "x-yesapp-role"));
			if (!k || strcmp(k, http_role_name(routes[i].role)))
				problem("%s %s: \"x-yesapp-role\" is %s%s%s in "
					"src/api/openapi.json but the route's role is \"%s\" "
					"in src/api/common.c",
					methods[m].upper, routes[i].pattern, k ? "\"" : "",
					k ? k : "missing", k ? "\"" : "",
					http_role_name(routes[i].role));
		}
	}
	/* the document -> the table */
	json_object_foreach(paths, path, item) {
		int mask = route_methods(routes, n, path);

		if (!find_route(routes, n, path)) {
			problem("paths[\"%s\"] (src/api/openapi.json) matches no route of "
				"src/api/common.c",
				path);
			continue;
		}
		for (size_t m = 0; m < NMETHODS; m++) {
			op = json_object_get(item, methods[m].name);
			if (!op)
				continue;
			/* HEAD is served by GET routes, OPTIONS by the HTTP layer:
			 * neither is a row of the table, so neither is described */
			if (!(mask & methods[m].bit) || !methods[m].bit ||
			    methods[m].bit == HTTP_HEAD || methods[m].bit == HTTP_OPTIONS) {
				problem("%s %s is in src/api/openapi.json but not a route of "
					"src/api/common.c",
					methods[m].upper, path);
				continue;
			}
			k = json_string_value(json_object_get(op, "operationId"));
			if (!k || !*k)
				problem("%s %s has no operationId", methods[m].upper, path);
			else if (json_object_get(ids, k))
				problem("%s %s: operationId \"%s\" is used twice", methods[m].upper,
					path, k);
			else
				json_object_set_new(ids, k, json_true());
			if (!json_is_object(json_object_get(op, "responses")) ||
			    !json_object_size(json_object_get(op, "responses")))
				problem("%s %s has no responses", methods[m].upper, path);
		}
	}
	json_decref(ids);
	check_refs(doc, doc, "#");
	return problems;
}

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &err);

	if (!doc)
		fprintf(stderr, "  openapi: does not parse: %s at line %d, column %d\n", err.text,
			err.line, err.column);
	return doc;
}

static void h(struct http_req *r) { (void)r; }

static const struct http_route small[] = {
	{ HTTP_GET, "/a", h, 0, HTTP_ROLE_VIEWER },
	{ HTTP_POST, "/a", h, 0, HTTP_ROLE_VIEWER },
	{ HTTP_PUT | HTTP_DELETE, "/a/{id}", h, 0, HTTP_ROLE_VIEWER },
};
#define NSMALL (sizeof(small) / sizeof(small[0]))

#define OPR(id, role)                                                                    \
	"{\"operationId\":\"" id "\",\"x-yesapp-role\":\"" role "\",\"responses\":{\"200\":{"  \
	"\"description\":\"x\"}}}"
#define OP(id) OPR(id, "viewer")

TEST(checker_passes_a_matching_document)
{
	json_t *doc = load("{\"openapi\":\"3.1.0\",\"paths\":{"
			   "\"/a\":{\"get\":" OP("a1") ",\"post\":" OP("a2") "},"
			   "\"/a/{id}\":{\"put\":" OP("a3") ",\"delete\":" OP("a4") "}}}");

	REQUIRE(doc);
	CHECK_EQ_INT(check_doc(doc, small, NSMALL), 0);
	json_decref(doc);
}

TEST(checker_finds_each_kind_of_mismatch)
{
	/* DELETE /a/{id} missing; PATCH /a and /b not in the table; a3 twice;
	 * a2 without responses; one $ref dangling; HEAD described */
	json_t *doc = load(
		"{\"openapi\":\"3.1.0\",\"components\":{\"schemas\":{\"S\":{\"type\":\"object\"}}},"
		"\"paths\":{"
		"\"/a\":{\"get\":" OP("a1") ",\"post\":{\"operationId\":\"a2\","
		"\"x-yesapp-role\":\"viewer\"},"
		"\"patch\":" OP("a5") ",\"head\":" OP("a6") "},"
		"\"/a/{id}\":{\"put\":{\"operationId\":\"a3\",\"x-yesapp-role\":\"viewer\","
		"\"responses\":{\"200\":{"
		"\"description\":\"x\",\"content\":{\"application/json\":{\"schema\":"
		"{\"$ref\":\"#/components/schemas/Nope\"}}}}}}},"
		"\"/b\":{\"get\":" OP("a3") "}}}");
	json_t *ok_ref = load("{\"openapi\":\"3.1.0\",\"paths\":{},\"x\":{\"$ref\":\"#/paths\"},"
			      "\"y\":{\"a/b\":{},\"$ref\":\"#/y/a~1b\"}}");

	REQUIRE(doc);
	REQUIRE(ok_ref);
	/* 1 missing DELETE, PATCH, HEAD, /b, a2 without responses, the $ref */
	CHECK_EQ_INT(check_doc(doc, small, NSMALL), 6);
	/* a3 twice: only if /b were a route, so check it alone */
	{
		static const struct http_route two[] = {
			{ HTTP_GET, "/b", h, 0, HTTP_ROLE_VIEWER },
			{ HTTP_GET, "/c", h, 0, HTTP_ROLE_VIEWER },
		};
		json_t *d2 = load("{\"openapi\":\"3.1.0\",\"paths\":{\"/b\":{\"get\":" OP("x")
				  "},\"/c\":{\"get\":" OP("x") "}}}");

		REQUIRE(d2);
		CHECK_EQ_INT(check_doc(d2, two, 2), 1);
		json_decref(d2);
	}
	/* a resolvable pointer (with ~1) is no problem; the table lacks nothing */
	CHECK_EQ_INT(check_doc(ok_ref, small, 0), 0);
	json_decref(ok_ref);
	json_decref(doc);
}

TEST(checker_finds_a_role_that_is_not_the_tables)
{
	static const struct http_route roles[] = {
		{ HTTP_GET, "/p", h, HTTP_ROUTE_PUBLIC, HTTP_ROLE_PUBLIC },
		{ HTTP_POST, "/p", h, 0, HTTP_ROLE_OPERATOR },
		{ HTTP_DELETE, "/p", h, 0, HTTP_ROLE_ADMIN },
	};
	/* all three right */
	json_t *ok = load("{\"openapi\":\"3.1.0\",\"paths\":{\"/p\":{"
			  "\"get\":" OPR("p1", "public") ",\"post\":" OPR("p2", "operator")
			  ",\"delete\":" OPR("p3", "admin") "}}}");
	/* post says viewer (too low), delete says operator, get has none */
	json_t *bad = load("{\"openapi\":\"3.1.0\",\"paths\":{\"/p\":{\"get\":{\"operationId\":"
			   "\"p1\",\"responses\":{\"200\":{\"description\":\"x\"}}},\"post\":"
			   OPR("p2", "viewer") ",\"delete\":" OPR("p3", "operator") "}}}");
	/* a role that is no role's name */
	json_t *odd = load("{\"openapi\":\"3.1.0\",\"paths\":{\"/p\":{"
			   "\"get\":" OPR("p1", "Public") ",\"post\":" OPR("p2", "operator")
			   ",\"delete\":" OPR("p3", "admin") "}}}");

	REQUIRE(ok);
	REQUIRE(bad);
	REQUIRE(odd);
	CHECK_EQ_INT(check_doc(ok, roles, 3), 0);
	CHECK_EQ_INT(check_doc(bad, roles, 3), 3);
	CHECK_EQ_INT(check_doc(odd, roles, 3), 1);
	json_decref(odd);
	json_decref(bad);
	json_decref(ok);
}

TEST(embedded_document_matches_the_route_table)
{
	json_t *doc;

	CHECK_EQ_INT(strlen(api_openapi_json), api_openapi_json_len);
	doc = load(api_openapi_json);
	REQUIRE(doc);
	loud = 1;
	CHECK_EQ_INT(check_doc(doc, api_routes, api_nroutes), 0);
	loud = 0;
	json_decref(doc);
}

TEST(embedded_document_basics)
{
	json_t *doc = load(api_openapi_json), *v;

	REQUIRE(doc);
	/* X-API-Key is the default security; the public routes opt out */
	v = resolve(doc, "#/components/securitySchemes/apiKey");
	REQUIRE(v);
	CHECK_EQ_STR(json_string_value(json_object_get(v, "in")), "header");
	CHECK_EQ_STR(json_string_value(json_object_get(v, "name")), "X-API-Key");
	CHECK(json_object_get(json_array_get(json_object_get(doc, "security"), 0), "apiKey"));
	/* or the dashboard's sign-in cookie (api/auth.c), the other default */
	v = resolve(doc, "#/components/securitySchemes/cookieAuth");
	REQUIRE(v);
	CHECK_EQ_STR(json_string_value(json_object_get(v, "type")), "apiKey");
	CHECK_EQ_STR(json_string_value(json_object_get(v, "in")), "cookie");
	CHECK_EQ_STR(json_string_value(json_object_get(v, "name")), USERS_COOKIE);
	CHECK(json_object_get(json_array_get(json_object_get(doc, "security"), 1), "cookieAuth"));
	CHECK_EQ_INT(json_array_size(json_object_get(doc, "security")), 2);
	for (size_t i = 0; i < api_nroutes; i++) {
		json_t *item = json_object_get(json_object_get(doc, "paths"), api_routes[i].pattern);
		int pub = (api_routes[i].flags & HTTP_ROUTE_PUBLIC) != 0;

		for (size_t m = 0; m < NMETHODS; m++) {
			json_t *op = json_object_get(item, methods[m].name), *sec, *req;
			int open;
			size_t j;

			if (!(api_routes[i].methods & methods[m].bit) || !op)
				continue;
			/* public: "security": [] (none), or one requirement is {}
			 * (optional); else the document's default (apiKey) holds */
			sec = json_object_get(op, "security");
			open = json_is_array(sec) && !json_array_size(sec);
			json_array_foreach(sec, j, req)
				if (json_is_object(req) && !json_object_size(req))
					open = 1;
			if (open != pub) {
				fprintf(stderr, "  openapi: %s %s is %s in the table but %s in the "
						"document (security)\n",
					methods[m].upper, api_routes[i].pattern,
					pub ? "public" : "keyed", open ? "public" : "keyed");
				CHECK(open == pub);
			}
		}
	}
	v = json_array_get(json_object_get(doc, "servers"), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(v, "url")), "/");
	json_decref(doc);
}

TEST(etag_names_the_bytes)
{
	CHECK(api_openapi_etag[0] == '"');
	CHECK(api_openapi_etag[strlen(api_openapi_etag) - 1] == '"');
	CHECK(strlen(api_openapi_etag) > 4);
}

int main(void)
{
	RUN(checker_passes_a_matching_document);
	RUN(checker_finds_each_kind_of_mismatch);
	RUN(checker_finds_a_role_that_is_not_the_tables);
	RUN(embedded_document_matches_the_route_table);
	RUN(embedded_document_basics);
	RUN(etag_names_the_bytes);
	return test_summary();
}
