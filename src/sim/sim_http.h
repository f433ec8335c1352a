/*
 * Plain HTTP on a wa_listener's port, for the simulator's control API and
 * media host (src/wa knows no HTTP: its listener hands what is not one of
 * its websockets to wa_listener_opts.on_other, and this file answers it).
 * One request at a time per connection, the whole body buffered (chunked
 * bodies decoded by sim_chunked.h), one answer with Content-Length.
 * Runs on the listener's loop thread.
 */
#ifndef YESAPP_SIM_HTTP_H
#define YESAPP_SIM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "wa/socket.h"

/*
 * One request: method ("GET", "POST", "DELETE", "PUT", else "OTHER"), the
 * path with its query string, the whole body (NULL, 0 if none), all valid
 * during the call only. Append the response body to resp (capped at
 * resp_max) and return the status code; the content type is
 * application/json unless *content_type is set (to a string that outlives
 * the call).
 */
typedef int (*sim_http_cb)(void *ud, const char *method, const char *uri, const uint8_t *body,
			   size_t len, struct ybuf *resp, const char **content_type);

struct sim_http {
	sim_http_cb handle;
	void *ud;           /* handle's first argument */
	size_t body_max;    /* request bodies above this get 413; 0: 64 KiB */
	size_t resp_max;    /* response body cap; 0: 1 MiB */
};

/* Makes the listener that lo describes serve h (borrowed: it must outlive
 * the listener) on plain HTTP requests. */
void sim_http_attach(struct wa_listener_opts *lo, struct sim_http *h);

#endif
