/*
 * libFuzzer target: unpack each of our top-level protobuf messages from
 * arbitrary bytes through wa_pb_unpack, dump it as JSON and pack it again.
 * Input: 1 selector byte, then the message bytes.
 *
 * Assertion (abort): whatever unpacks round-trips. With x = unpack(input),
 * pack(x) must unpack again (our pre-walk accepts what protobuf-c writes),
 * to a y that packs to the same bytes (pack(unpack(pack(x))) == pack(x)) and
 * dumps to the same JSON as x. The input itself need not equal pack(x):
 * protobuf allows other encodings of the same message (field order,
 * non-minimal varints, repeated scalars packed or not, a sub-message split
 * in two, the last of two oneof members).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/payload.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

static const ProtobufCMessageDescriptor *const types[] = {
	&wa__handshake_message__descriptor,
	&wa__cert_chain__descriptor,
	&wa__cert_chain__noise_certificate__details__descriptor,
	&wa__client_payload__descriptor,
	&wa__device_props__descriptor,
	&wa__advsigned_device_identity_hmac__descriptor,
	&wa__advsigned_device_identity__descriptor,
	&wa__advdevice_identity__descriptor,
	&wa__advkey_index_list__descriptor,
	&wa__advsigned_key_index_list__descriptor,
	&wa__message__descriptor,
};

static void fail(const char *what, const ProtobufCMessageDescriptor *d)
{
	fprintf(stderr, "fuzz_proto: %s: %s\n", d->name, what);
	abort();
}

static int same(const struct ybuf *a, const struct ybuf *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

/* x was unpacked from the input and packed into re; checks the round trip. */
static void round_trip(const ProtobufCMessage *x, const struct ybuf *re, int js_ok,
		       const struct ybuf *js)
{
	ProtobufCMessage *y = NULL;
	struct ybuf js2 = YBUF_INIT(1 << 22), re2 = YBUF_INIT(1 << 22);

	if (wa_pb_unpack(x->descriptor, re->data, re->len, &y) != Y_OK)
		fail("pack(x) does not unpack", x->descriptor);
	if (wa_pb_pack(y, &re2) != Y_OK || !same(re, &re2))
		fail("pack(unpack(pack(x))) != pack(x)", x->descriptor);
	if (js_ok && (wa_pb_to_json(y, &js2) != Y_OK || !same(js, &js2)))
		fail("unpack(pack(x)) dumps other JSON than x", x->descriptor);
	protobuf_c_message_free_unpacked(y, NULL);
	ybuf_release(&js2);
	ybuf_release(&re2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *m = NULL;
	struct ybuf js = YBUF_INIT(1 << 22), re = YBUF_INIT(1 << 22);
	const ProtobufCMessageDescriptor *d;

	if (size < 1)
		return 0;
	d = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	if (wa_pb_unpack(d, data + 1, size - 1, &m) == Y_OK) {
		int js_ok = wa_pb_to_json(m, &js) == Y_OK;

		if (wa_pb_pack(m, &re) == Y_OK)
			round_trip(m, &re, js_ok, &js);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (d == &wa__client_payload__descriptor) {
		ybuf_reset(&js);
		(void)wa_payload_to_json(data + 1, size - 1, &js);
	}
	ybuf_release(&js);
	ybuf_release(&re);
	return 0;
}
