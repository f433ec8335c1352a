/*
 * Fuzz target for the simulator's input parsers that take text from the
 * control API: the whole API handler (routes, JSON bodies, phone numbers,
 * device numbers; the QR text parser has fuzz_qrtext). The first byte picks
 * the method; the URI runs to the first '\n', the body follows.
 * Checks: no crash or over-read (ASan), every status is a valid HTTP code,
 * every response is JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"
#include "util/err.h"
#include "util/log.h"

static struct sim *sim;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *methods[] = { "GET", "POST", "DELETE", "PUT" };
	struct ybuf resp = YBUF_INIT(1 << 20);
	const char *ctype = NULL;
	char *text, *nl;
	const char *uri, *body;
	int st;

	if (!sim) {
		struct sim_opts o = { .host = "127.0.0.1", .port = 0 };

		ylog_min = YLOG_OFF;
		if (sim_new(&o, &sim))
			abort();
	}
	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	nl = strchr(text, '\n');
	uri = text;
	body = "";
	if (nl) {
		*nl = 0;
		body = nl + 1;
	}
	st = sim_api_handle(sim, methods[data[0] & 3], uri, (const uint8_t *)body, strlen(body),
			    &resp, &ctype);
	if (st < 100 || st > 599)
		abort();
	if (resp.len) {
		json_t *j = json_loadb((const char *)resp.data, resp.len, 0, NULL);

		if (!j)
			abort();
		json_decref(j);
	}
	ybuf_release(&resp);
	free(text);
	return 0;
}
