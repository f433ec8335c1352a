/*
 * Fuzz target for src/sim/sim_chunked.c. The first byte picks a chunk size for
 * feeding; the rest is fed in pieces. Checks: no crash or over-read (ASan),
 * the output never exceeds its cap or the input size, Y_EAGAIN uses all
 * input, an error is sticky, and the same input fed in one piece gives the
 * same result and (below the output cap) the same output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "sim/sim_chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_chunked a, b;
	struct ybuf oa = YBUF_INIT(4096), ob = YBUF_INIT(4096);
	size_t step, off = 0, used;
	int ra = Y_EAGAIN, rb;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	sim_chunked_init(&a);
	while (off < size && ra == Y_EAGAIN) {
		size_t n = size - off < step ? size - off : step;

		ra = sim_chunked_feed(&a, data + off, n, &oa, &used);
		if (used > n || (ra == Y_EAGAIN && used != n))
			abort();
		off += used;
	}
	if (ra == Y_EINVAL && sim_chunked_feed(&a, data, size, &oa, &used) != Y_EINVAL)
		abort();
	sim_chunked_init(&b);
	rb = sim_chunked_feed(&b, data, size, &ob, &used);
	if (ra != rb)
		abort();
	/* past the cap, how much was kept depends on how the input was split */
	if (ra != Y_ETOOBIG && (oa.len != ob.len || (oa.len && memcmp(oa.data, ob.data, oa.len))))
		abort();
	if (oa.len > size || oa.len > 4096)
		abort();
	ybuf_release(&oa);
	ybuf_release(&ob);
	return 0;
}
