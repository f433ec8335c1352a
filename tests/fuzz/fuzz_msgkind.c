/*
 * libFuzzer target: message kinds (src/service/msgkind.c) from arbitrary
 * bytes. Input: 1 selector byte, then
 *   0: a Message protobuf for msgkind_parse; what parses is rebuilt with
 *      msgkind_build from its own type and body (must not fail for the kinds
 *      we send, except when a field the build needs is absent) and parsed
 *      again to the same type;
 *   1: "body\0poll" for msgkind_vote_open (JSON from a peer and our store).
 * Assertion (abort): the rebuild of a parsed text/location keeps its type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/msgkind.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msgkind_in in, again;
	struct ybuf b = YBUF_INIT(1 << 20);

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		if (msgkind_parse(data + 1, size - 1, &in) != Y_OK)
			return 0;
		if (msgkind_build(in.type, in.body, in.text, &b) == Y_OK &&
		    msgkind_parse(b.data, b.len, &again) == Y_OK) {
			if (strcmp(in.type, again.type) && (!strcmp(in.type, "text") ||
							    !strcmp(in.type, "location"))) {
				fprintf(stderr, "fuzz_msgkind: %s rebuilt as %s\n", in.type, again.type);
				abort();
			}
			msgkind_in_release(&again);
		}
		msgkind_in_release(&in);
		ybuf_release(&b);
		return 0;
	}
	{
		char *s = malloc(size), *out = NULL;
		size_t n = size - 1, cut;

		if (!s)
			return 0;
		memcpy(s, data + 1, n);
		s[n] = 0;
		cut = strlen(s);
		if (cut < n && msgkind_vote_open(s, "P1", s + cut + 1, "1@s.whatsapp.net",
						 "2@s.whatsapp.net", &out) == Y_OK)
			free(out);
		free(s);
	}
	return 0;
}
