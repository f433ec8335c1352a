/*
 * GET /api/v1/logs?level=&sessionId=&limit= : the newest lines of the log
 * ring (util/log.h), oldest first, filtered by minimum level and session.
 * HTTP threads; the ring's lock is held only while lines are copied out.
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

void api_logs_list(struct http_req *req)
{
	enum ylog_level min = YLOG_DEBUG;
	char session[37];
	int present = 0, limit;
	const char *v;
	struct ylog_ring_line *lines;
	size_t n, i;
	json_t *data, *page;

	v = http_req_query(req, "level", &present);
	if (present && (!v || ylog_parse_level(v, &min) != 0 || min == YLOG_OFF)) {
		api_reply_invalid(req, http_json_field_error("level", "must be debug, info, warn or error"));
		return;
	}
	v = http_req_query(req, "sessionId", &present);
	if (present && (!v || !api_uuid_parse(v, strlen(v), session))) {
		api_reply_invalid(req, http_json_field_error("sessionId", "must be a UUID"));
		return;
	}
	if (!present)
		session[0] = '\0';
	v = http_req_query(req, "limit", &present);
	if (!api_limit_parse(v, present, &limit)) {
		api_reply_invalid(req, http_json_field_error("limit", "must be an integer from 1 to 500"));
		return;
	}
	lines = malloc((size_t)limit * sizeof(*lines));
	if (!lines) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "out of memory", NULL);
		return;
	}
	n = ylog_ring_read(min, session[0] ? session : NULL, lines, (size_t)limit);
	data = json_array();
	for (i = 0; data && i < n; i++) {
		json_t *o = json_loads(lines[i].text, JSON_REJECT_DUPLICATES, NULL);

		if (!json_is_object(o)) { /* every line is an object; never seen */
			json_decref(o);
			o = json_pack("{s:s}", "raw", lines[i].text);
		}
		if (o)
			json_object_set_new(o, "seq", json_integer((json_int_t)lines[i].seq));
		json_array_append_new(data, o);
	}
	free(lines);
	page = data ? json_pack("{s:o}", "data", data) : NULL;
	http_reply_json(req, 200, page);
}
