/*
 * Opaque pagination cursors. A store_cursor (timestamp + id of the last row)
 * is packed as
 *   version(1) | ts (8, big-endian) | id as 16 UUID bytes | tag (12)
 * and written as unpadded base64url (50 chars). The tag is HMAC-SHA256 under
 * a server secret over a `scope` string ("sessions", "messages:<session>")
 * and the packed fields, truncated to 12 bytes: a cursor that was not issued
 * by this server, or was issued for another list, fails to decode.
 */
#ifndef YESAPP_API_CURSOR_H
#define YESAPP_API_CURSOR_H

#include <stdint.h>

#include "store/store.h"

#define API_CURSOR_LEN 50
#define API_CURSOR_KEY_LEN 32

/* out gets API_CURSOR_LEN chars + NUL. Y_EINVAL if c->id is not a UUID. */
int api_cursor_encode(const uint8_t key[API_CURSOR_KEY_LEN], const char *scope,
		      const struct store_cursor *c, char out[API_CURSOR_LEN + 1]);
/* Y_EINVAL for anything but an untouched cursor of this scope and key. */
int api_cursor_decode(const uint8_t key[API_CURSOR_KEY_LEN], const char *scope, const char *text,
		      struct store_cursor *out);

#endif
