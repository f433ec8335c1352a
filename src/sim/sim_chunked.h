/*
 * HTTP/1.1 chunked transfer coding, request side (pure: no I/O). Used by
 * the simulator's plain HTTP (sim_http.c), which needs it because
 * libwebsockets 4.1 hands a chunked request body over raw and never signals
 * its end.
 *
 * An incremental state machine: feed any split of the bytes; the decoded
 * data is appended to a capped ybuf. Chunk extensions are skipped, trailer
 * lines are skipped; sizes are bounded (16 hex digits at most, and the
 * output buffer's cap).
 */
#ifndef YESAPP_SIM_CHUNKED_H
#define YESAPP_SIM_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct sim_chunked {
	/* private */
	int state;
	uint64_t left;   /* data bytes left in the current chunk, or the size read so far */
	int digits;
	size_t line;     /* bytes of the current extension or trailer line */
};

void sim_chunked_init(struct sim_chunked *c);

/*
 * Decodes in[0..len), appending chunk data to out. Returns Y_OK once the
 * last chunk and the trailer are complete (*used tells how many input bytes
 * that took; the rest is not part of the body), Y_EAGAIN when all input was
 * used and more is needed, Y_EINVAL on malformed input (sticky), or
 * out's Y_ETOOBIG / Y_ENOMEM.
 */
int sim_chunked_feed(struct sim_chunked *c, const uint8_t *in, size_t len, struct ybuf *out,
		    size_t *used);

#endif
