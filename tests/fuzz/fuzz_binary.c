/*
 * libFuzzer target for the binary node decoder (src/wa/binary.c), both
 * dictionaries. For every input that decodes: the text form must build, the
 * tree must re-encode, and the re-encoding must be a fixed point (decode and
 * encode again give the same bytes and an equal tree).
 *
 * Why not "decode(encode(tree)) == tree": like Baileys, the encoder turns any
 * string holding '@' into a JID, and a raw string may hold one, so the first
 * re-encoding may normalise; after it the bytes must be stable. The encoder
 * may refuse such a string with Y_ETOOBIG when it would nest JIDs deeper
 * than WA_BINARY_MAX_JID_NEST; nothing else may fail.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/binary.h"

static void check(const uint8_t *data, size_t size, int dict)
{
	struct wa_node *n1 = NULL, *n2 = NULL, *n3 = NULL;
	struct ybuf e1 = YBUF_INIT(0), e2 = YBUF_INIT(0), t = YBUF_INIT(0);
	int rc;

	if (wa_binary_decode(data, size, dict, &n1))
		return;
	if (wa_node_to_text(n1, &t))
		abort();
	rc = wa_binary_encode(n1, dict, &e1);
	if (rc == Y_ETOOBIG)
		goto out;
	if (rc)
		abort();
	if (wa_binary_decode(e1.data, e1.len, dict, &n2))
		abort();
	if (wa_binary_encode(n2, dict, &e2))
		abort();
	if (e1.len != e2.len || memcmp(e1.data, e2.data, e1.len))
		abort();
	if (wa_binary_decode(e2.data, e2.len, dict, &n3) || !wa_node_equal(n2, n3))
		abort();
out:
	wa_node_free(n1);
	wa_node_free(n2);
	wa_node_free(n3);
	ybuf_release(&e1);
	ybuf_release(&e2);
	ybuf_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, WA_DICT_V2);
	check(data, size, WA_DICT_V3);
	return 0;
}
