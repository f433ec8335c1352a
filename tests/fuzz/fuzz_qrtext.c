/*
 * Fuzz target for src/wa/qrtext.c. The input is a QR text (NUL added).
 * Checks: no crash or over-read (ASan); what parses has a ref within
 * bounds and inside the input, and a type of at most WA_QR_TYPE_MAX
 * characters; built again from its fields (the type "1" when it had none),
 * it parses back to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "wa/qrtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), out[WA_QR_TEXT_MAX];
	struct wa_qr q, r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (wa_qr_parse(text, &q) == Y_OK) {
		const char *type = q.type[0] ? q.type : "1";

		if (q.ref_len == 0 || q.ref_len > WA_QR_REF_MAX || q.ref < text ||
		    q.ref + q.ref_len > text + size || strlen(q.type) > WA_QR_TYPE_MAX)
			abort();
		if (wa_qr_build(q.ref, q.ref_len, q.noise, q.identity, q.adv, type, out,
				sizeof(out)) != Y_OK)
			abort();
		if (wa_qr_parse(out, &r) != Y_OK || r.ref_len != q.ref_len ||
		    memcmp(r.ref, q.ref, q.ref_len) || memcmp(r.noise, q.noise, 32) ||
		    memcmp(r.identity, q.identity, 32) || memcmp(r.adv, q.adv, 32) ||
		    strcmp(r.type, type))
			abort();
	}
	free(text);
	return 0;
}
