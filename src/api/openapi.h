/*
 * The OpenAPI 3.1 document of the API (src/api/openapi.json, the source of
 * truth), embedded at build time by scripts/gen-openapi.sh into
 * $(GEN)/openapi.c and served by GET /api/v1/openapi.json (api/openapi.c).
 * Read-only, any thread. tests/unit/test_openapi.c holds it to the route
 * table (api_routes).
 */
#ifndef YESAPP_API_OPENAPI_H
#define YESAPP_API_OPENAPI_H

#include <stddef.h>

extern const char api_openapi_json[];    /* the file's bytes, NUL-terminated */
extern const size_t api_openapi_json_len; /* without the NUL */
extern const char api_openapi_etag[];    /* "\"crc-size\"", quoted */

#endif
