/* Fuzzes the gate's head judge (src/http/gate.h): any bytes get a verdict
 * without reading past them; a problem always has an answer that fits; and
 * a head judged whole and well-formed was "more" at every shorter length,
 * so a head that arrives in pieces is never refused half-way. */
#include "http/gate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head_problem why;
	enum http_head_verdict v;
	size_t max;
	char *copy, out[1024];

	if (size < 1)
		return 0;
	max = 16 + data[0] * 4; /* limits small enough for the fuzzer to pass them */
	data++, size--;
	copy = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	v = http_head_check(copy, size, max, &why);
	if (v == HTTP_HEAD_MORE || v == HTTP_HEAD_OK) {
		if (why.status)
			abort();
	} else {
		if (!why.status || !why.code || !why.message || !http_head_answer(&why, out, sizeof(out)))
			abort();
	}
	if (v == HTTP_HEAD_OK)
		for (size_t n = 0; n < size && n < 512; n++) {
			enum http_head_verdict w = http_head_check(copy, n, max, &why);

			if (w != HTTP_HEAD_MORE && w != HTTP_HEAD_OK)
				abort();
		}
	free(copy);
	return 0;
}
