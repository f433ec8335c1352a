/*
 * libFuzzer target: the simulator media host's HTTP handler
 * (sim_media_http in src/sim/sim_media.c), called directly with a zeroed
 * struct sim that has only what the handler uses (auth token, host, blobs),
 * fresh per input.
 *
 * Input: requests, each (method byte: 0 GET, 1 POST, else PUT; URI length
 * byte; URI; 2-byte big-endian body length; body). In a URI, the byte '@'
 * stands for the auth token, so seeds can authenticate.
 *
 * Assertions (abort):
 *  - every status is 100..599; a response without a content type is JSON;
 *  - a POST is stored (200) only when the query has the parameter
 *    auth=<token> exactly, the path is under /mms/ and the body is not
 *    empty; the answer names a url and a direct_path;
 *  - a GET of that direct_path then answers 200 with the very bytes stored
 *    (application/octet-stream);
 *  - the host's byte count equals the sum of the stored bodies.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"
#include "util/log.h"

#define TOKEN "0123456789abcdef01234567"

static void die(const char *what)
{
	fprintf(stderr, "fuzz_sim_media: %s\n", what);
	abort();
}

/* Whether the query string q has the parameter auth=TOKEN exactly. */
static int has_auth(const char *q)
{
	size_t tl = strlen("auth=" TOKEN);

	while (*q) {
		size_t n = strcspn(q, "&");

		if (n == tl && !memcmp(q, "auth=" TOKEN, tl))
			return 1;
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

static json_t *json_of(const struct ybuf *b)
{
	json_t *j = json_loadb((const char *)b->data, b->len, 0, NULL);

	if (!j)
		die("a response without a content type is not JSON");
	return j;
}

/* One request; checks the generic rules, and a stored POST's read-back. */
static void request(struct sim *s, const char *method, const char *uri, const uint8_t *body,
		    size_t len, size_t *stored)
{
	struct ybuf resp = YBUF_INIT(SIM_MEDIA_BLOB_MAX + 4096);
	const char *ctype = NULL;
	int st = sim_media_http(s, method, uri, body, len, &resp, &ctype);
	size_t pl = strcspn(uri, "?");
	const char *q = uri[pl] ? uri + pl + 1 : "";

	if (st < 100 || st > 599)
		die("status out of range");
	if (!ctype)
		json_decref(json_of(&resp));
	if (!strcmp(method, "POST") && st == 200) {
		json_t *j = json_of(&resp);
		const char *dp = json_string_value(json_object_get(j, "direct_path"));
		char path[256];
		struct ybuf got = YBUF_INIT(SIM_MEDIA_BLOB_MAX + 4096);
		const char *gct = NULL;

		if (!has_auth(q) || strncmp(uri, "/mms/", 5) || pl < 5 || !len)
			die("a POST was stored without auth=<token>, a /mms/ path or a body");
		if (!dp || !json_is_string(json_object_get(j, "url")) ||
		    strlen(dp) >= sizeof(path))
			die("a stored POST did not name its url and direct_path");
		snprintf(path, sizeof(path), "%s", dp);
		if (sim_media_http(s, "GET", path, NULL, 0, &got, &gct) != 200 || !gct ||
		    strcmp(gct, "application/octet-stream") || got.len != len ||
		    memcmp(got.data, body, len))
			die("a stored blob did not read back");
		*stored += len;
		ybuf_release(&got);
		json_decref(j);
	}
	if (s->media_bytes != *stored)
		die("the host's byte count is not the sum of the stored bodies");
	ybuf_release(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *methods[] = { "GET", "POST", "PUT" };
	struct sim *s = calloc(1, sizeof(*s));
	const uint8_t *p = data, *end = data + size;
	size_t stored = 0;

	ylog_min = YLOG_OFF;
	if (!s)
		return 0;
	snprintf(s->media_auth, sizeof(s->media_auth), "%s", TOKEN);
	snprintf(s->media_host, sizeof(s->media_host), "127.0.0.1:1");
	while (end - p >= 2) {
		const char *method = methods[p[0] < 2 ? p[0] : 2];
		size_t ul = p[1], bl;
		char uri[256 * sizeof(TOKEN)];
		size_t o = 0;

		p += 2;
		if (ul > (size_t)(end - p))
			ul = (size_t)(end - p);
		for (size_t i = 0; i < ul; i++) {
			if (p[i] == '@') {
				memcpy(uri + o, TOKEN, strlen(TOKEN));
				o += strlen(TOKEN);
			} else {
				uri[o++] = p[i] ? (char)p[i] : '_';
			}
		}
		uri[o] = 0;
		p += ul;
		if (end - p < 2)
			bl = 0;
		else {
			bl = ((size_t)p[0] << 8) | p[1];
			p += 2;
		}
		if (bl > (size_t)(end - p))
			bl = (size_t)(end - p);
		request(s, method, uri, bl ? p : NULL, bl, &stored);
		p += bl;
	}
	sim_media_free(s);
	free(s);
	return 0;
}
