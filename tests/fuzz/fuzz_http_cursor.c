/* Fuzzes the pagination cursor decoder: any text must decode or fail
 * cleanly, and whatever decodes must re-encode to the same text. */
#include "api/cursor.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[API_CURSOR_KEY_LEN] = { 7 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[128], again[API_CURSOR_LEN + 1];
	struct store_cursor c;

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	if (api_cursor_decode(key, "sessions", text, &c) == Y_OK) {
		if (api_cursor_encode(key, "sessions", &c, again) != Y_OK || strcmp(again, text))
			abort();
	}
	/* Valid cursors built from fuzz bytes round-trip. */
	if (size >= 8) {
		memset(&c, 0, sizeof(c));
		memcpy(&c.ts, data, 8);
		c.ts &= INT64_MAX;
		strcpy(c.id, "0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b");
		struct store_cursor d;
		if (api_cursor_encode(key, "s", &c, again) != Y_OK ||
		    api_cursor_decode(key, "s", again, &d) != Y_OK || d.ts != c.ts)
			abort();
	}
	return 0;
}
