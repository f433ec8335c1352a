/* GET /api/v1/openapi.json: the embedded OpenAPI document (api/openapi.h).
 * Public. Cacheable: "no-cache" (stored, revalidated each time) with an ETag
 * that changes with the document, 304 for a matching If-None-Match; the HTTP
 * layer gzips it (and weakens the ETag then) for a client that accepts gzip. */
#include "api/api.h"
#include "api/openapi.h"

void api_openapi(struct http_req *req)
{
	if (http_req_etag_match(req, api_openapi_etag)) {
		http_reply_bytes(req, 304, NULL, NULL, 0, "no-cache", api_openapi_etag);
		return;
	}
	http_reply_bytes(req, 200, "application/json; charset=utf-8", api_openapi_json,
			 api_openapi_json_len, "no-cache", api_openapi_etag);
}
