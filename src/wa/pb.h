/*
 * Helpers around protobuf-c for our generated messages (build/gen/wa.pb-c.h):
 * a bounded unpack, pack into a capped buffer, and a JSON-ish text dump for
 * tests and debug logs.
 */
#ifndef YESAPP_WA_PB_H
#define YESAPP_WA_PB_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "util/buf.h"

/* Deepest nesting of sub-messages wa_pb_unpack accepts. */
#define WA_PB_MAX_DEPTH 32

/*
 * Unpacks len bytes as message type d. Before handing the bytes to
 * protobuf-c it walks the wire format and rejects malformed input, group
 * wire types and nesting deeper than WA_PB_MAX_DEPTH (protobuf-c itself
 * recurses without a limit). On success *out is set and the caller frees it
 * with protobuf_c_message_free_unpacked(*out, NULL). Y_EINVAL on bad input,
 * Y_ETOOBIG on excessive nesting.
 */
int wa_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
		 ProtobufCMessage **out);

/* Appends the packed form of m to out (Y_ETOOBIG past out's cap). */
int wa_pb_pack(const ProtobufCMessage *m, struct ybuf *out);

/*
 * Appends m as a single-line JSON object to out: field names as in the
 * .proto, enums by name (number if unknown), bytes as lowercase hex strings,
 * repeated fields as arrays, absent optional fields omitted.
 */
int wa_pb_to_json(const ProtobufCMessage *m, struct ybuf *out);

#endif
