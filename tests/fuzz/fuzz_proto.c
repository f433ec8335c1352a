/*
 * libFuzzer target: unpack each of our top-level protobuf messages from
 * arbitrary bytes through wa_pb_unpack, dump it as JSON and pack it again.
 * Input: 1 selector byte, then the message bytes.
 */
#include <stddef.h>
#include <stdint.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *m = NULL;
	struct ybuf js = YBUF_INIT(1 << 22), re = YBUF_INIT(1 << 22);
	const ProtobufCMessageDescriptor *d;

	if (size < 1)
		return 0;
	d = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	if (wa_pb_unpack(d, data + 1, size - 1, &m) == Y_OK) {
		(void)wa_pb_to_json(m, &js);
		(void)wa_pb_pack(m, &re);
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
