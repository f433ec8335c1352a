/*
 * Our protobufs (src/wa/pb.c, wa.proto) and libsignal's protobufs in one
 * process (docs/protobuf.md): both must work with the one protobuf-c
 * runtime the dynamic linker picks.
 */
#include <dlfcn.h>

#include "test.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

#include <signal/curve.h>
#include <signal/key_helper.h>
#include <signal/ratchet.h>
#include <signal/session_pre_key.h>

#define REQUIRE_OK(expr) \
	do { \
		int req_rc_ = (expr); \
		CHECK_EQ_INT(req_rc_, Y_OK); \
		if (req_rc_) \
			return; \
	} while (0)

/* The runtime every caller binds to is libprotobuf-c's (1.4.x), not the
 * 1.1.1 copy inside libsignal-protocol-c: the first definition in the
 * global lookup scope wins and libsignal's calls go through its PLT. */
TEST(one_protobuf_runtime)
{
	const char *(*ver)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "protobuf_c_version");
	Dl_info info;

	REQUIRE(ver != NULL);
	CHECK_EQ_STR(ver(), protobuf_c_version());
	CHECK(strncmp(ver(), "1.4.", 4) == 0);
	REQUIRE(dladdr((void *)ver, &info) != 0);
	CHECK(info.dli_fname && strstr(info.dli_fname, "libprotobuf-c") != NULL);
}

TEST(our_messages_round_trip)
{
	Wa__Message m = WA__MESSAGE__INIT;
	Wa__Message__ExtendedTextMessage ext = WA__MESSAGE__EXTENDED_TEXT_MESSAGE__INIT;
	Wa__ContextInfo ci = WA__CONTEXT_INFO__INIT;
	Wa__ADVKeyIndexList kil = WA__ADVKEY_INDEX_LIST__INIT;
	uint32_t idx[3] = { 0, 5, 300 };
	struct ybuf b = YBUF_INIT(0), js = YBUF_INIT(0);
	ProtobufCMessage *out = NULL;
	char *mentions[1] = { (char *)"1555@s.whatsapp.net" };

	ext.text = (char *)"hi \"there\"";
	ci.stanzaid = (char *)"ABC";
	ci.n_mentionedjid = 1;
	ci.mentionedjid = mentions;
	ext.contextinfo = &ci;
	m.extendedtextmessage = &ext;
	REQUIRE_OK(wa_pb_pack(&m.base, &b));
	REQUIRE_OK(wa_pb_unpack(&wa__message__descriptor, b.data, b.len, &out));
	CHECK_EQ_STR(((Wa__Message *)out)->extendedtextmessage->text, "hi \"there\"");
	CHECK_EQ_INT(wa_pb_to_json(out, &js), Y_OK);
	CHECK_EQ_STR((char *)js.data, "{\"extendedTextMessage\":{\"text\":\"hi \\\"there\\\"\","
				      "\"contextInfo\":{\"stanzaId\":\"ABC\",\"mentionedJid\":"
				      "[\"1555@s.whatsapp.net\"]}}}");
	protobuf_c_message_free_unpacked(out, NULL);

	/* Packed repeated field (ADVKeyIndexList.validIndexes, field 4). */
	ybuf_reset(&b);
	ybuf_reset(&js);
	kil.has_rawid = 1;
	kil.rawid = 42;
	kil.n_validindexes = 3;
	kil.validindexes = idx;
	REQUIRE_OK(wa_pb_pack(&kil.base, &b));
	CHECK_EQ_INT(b.data[2], 0x22); /* field 4, wire type 2: packed */
	REQUIRE_OK(wa_pb_unpack(&wa__advkey_index_list__descriptor, b.data, b.len, &out));
	CHECK_EQ_INT(wa_pb_to_json(out, &js), Y_OK);
	CHECK_EQ_STR((char *)js.data, "{\"rawId\":42,\"validIndexes\":[0,5,300]}");
	protobuf_c_message_free_unpacked(out, NULL);
	ybuf_release(&b);
	ybuf_release(&js);
}

TEST(unpack_rejects_deep_nesting_and_garbage)
{
	struct ybuf b = YBUF_INIT(0), t = YBUF_INIT(0);
	ProtobufCMessage *out = NULL;
	int levels_ok = 0, rejected = 0;

	/* Wrap Message{extendedTextMessage{contextInfo{quotedMessage: prev}}}
	 * again and again: each wrap adds 3 levels; the innermost contextInfo
	 * of n wraps sits at depth 3n - 1. */
	for (int n = 1; n <= 20 && !rejected; n++) {
		Wa__Message m = WA__MESSAGE__INIT;
		Wa__Message__ExtendedTextMessage e = WA__MESSAGE__EXTENDED_TEXT_MESSAGE__INIT;
		Wa__ContextInfo c = WA__CONTEXT_INFO__INIT;
		ProtobufCMessage *inner = NULL;
		int rc = Y_OK;

		if (b.len)
			rc = wa_pb_unpack(&wa__message__descriptor, b.data, b.len, &inner);
		if (rc == Y_ETOOBIG) {
			rejected = n - 1;
			break;
		}
		CHECK_EQ_INT(rc, Y_OK);
		levels_ok = n - 1;
		c.quotedmessage = (Wa__Message *)inner;
		e.contextinfo = &c;
		m.extendedtextmessage = &e;
		ybuf_reset(&t);
		CHECK_EQ_INT(wa_pb_pack(&m.base, &t), Y_OK);
		ybuf_reset(&b);
		CHECK_EQ_INT(ybuf_append(&b, t.data, t.len), Y_OK);
		if (inner)
			protobuf_c_message_free_unpacked(inner, NULL);
	}
	/* 11 wraps reach depth 32 (accepted), 12 reach 35 (rejected). */
	CHECK_EQ_INT(levels_ok, 11);
	CHECK_EQ_INT(rejected, 12);
	ybuf_release(&b);
	ybuf_release(&t);

	/* Truncated, bad varint and group-typed inputs are errors. */
	CHECK_EQ_INT(wa_pb_unpack(&wa__message__descriptor, (const uint8_t *)"\x0a\x05" "ab", 4, &out),
		     Y_EINVAL);
	CHECK_EQ_INT(wa_pb_unpack(&wa__message__descriptor, (const uint8_t *)"\x0b\x0c", 2, &out),
		     Y_EINVAL);
	CHECK_EQ_INT(wa_pb_unpack(&wa__message__descriptor, (const uint8_t *)"\x08\xff", 2, &out),
		     Y_EINVAL);
	CHECK(out == NULL);
	/* Empty input is a valid empty message. */
	CHECK_EQ_INT(wa_pb_unpack(&wa__message__descriptor, NULL, 0, &out), Y_OK);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
}

/* libsignal serializes keys through its own protobufs; run that next to ours
 * and cross-check its XEdDSA signature with our verifier. */
TEST(libsignal_protobufs_in_same_process)
{
	signal_context *ctx = NULL;
	ratchet_identity_key_pair *ikp = NULL, *ikp2 = NULL;
	session_signed_pre_key *spk = NULL, *spk2 = NULL;
	signal_buffer *ser = NULL, *ser2 = NULL, *pub = NULL, *ipub = NULL;
	Wa__ADVSignedDeviceIdentity id = WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
	struct ybuf b = YBUF_INIT(0);
	ProtobufCMessage *out = NULL;

	REQUIRE_OK(wa_crypto_signal_context_new(&ctx));
	CHECK_EQ_INT(signal_protocol_key_helper_generate_identity_key_pair(&ikp, ctx), 0);
	REQUIRE(ikp != NULL);
	CHECK_EQ_INT(ratchet_identity_key_pair_serialize(&ser, ikp), 0);
	REQUIRE(ser != NULL);
	CHECK_EQ_INT(ratchet_identity_key_pair_deserialize(&ikp2, signal_buffer_data(ser),
							   signal_buffer_len(ser), ctx),
		     0);
	REQUIRE(ikp2 != NULL);
	CHECK_EQ_INT(ec_public_key_compare(ratchet_identity_key_pair_get_public(ikp),
					   ratchet_identity_key_pair_get_public(ikp2)),
		     0);

	CHECK_EQ_INT(signal_protocol_key_helper_generate_signed_pre_key(&spk, ikp, 77, 1000, ctx), 0);
	REQUIRE(spk != NULL);
	CHECK_EQ_INT(session_signed_pre_key_serialize(&ser2, spk), 0);
	REQUIRE(ser2 != NULL);
	CHECK_EQ_INT(session_signed_pre_key_deserialize(&spk2, signal_buffer_data(ser2),
							signal_buffer_len(ser2), ctx),
		     0);
	REQUIRE(spk2 != NULL);
	CHECK_EQ_INT(session_signed_pre_key_get_id(spk2), 77);
	CHECK_EQ_INT(session_signed_pre_key_get_signature_len(spk2), 64);
	/* The signed prekey signature covers 05 || pub under the identity key. */
	CHECK_EQ_INT(ec_public_key_serialize(&pub, ec_key_pair_get_public(
							   session_signed_pre_key_get_key_pair(spk2))),
		     0);
	CHECK_EQ_INT(ec_public_key_serialize(&ipub, ratchet_identity_key_pair_get_public(ikp2)), 0);
	REQUIRE(pub && ipub && signal_buffer_len(pub) == 33 && signal_buffer_len(ipub) == 33);
	CHECK_EQ_INT(wa_xeddsa_verify(signal_buffer_data(ipub) + 1, signal_buffer_data(pub), 33,
				      session_signed_pre_key_get_signature(spk2)),
		     Y_OK);

	/* Our protobufs keep working in between. */
	id.has_details = 1;
	id.details.data = signal_buffer_data(pub);
	id.details.len = 33;
	CHECK_EQ_INT(wa_pb_pack(&id.base, &b), Y_OK);
	CHECK_EQ_INT(wa_pb_unpack(&wa__advsigned_device_identity__descriptor, b.data, b.len, &out),
		     Y_OK);
	CHECK(out && ((Wa__ADVSignedDeviceIdentity *)out)->details.len == 33);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);

	ybuf_release(&b);
	signal_buffer_free(ser);
	signal_buffer_free(ser2);
	signal_buffer_free(pub);
	signal_buffer_free(ipub);
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(spk2);
	SIGNAL_UNREF(ikp);
	SIGNAL_UNREF(ikp2);
	signal_context_destroy(ctx);
}

int main(void)
{
	RUN(one_protobuf_runtime);
	RUN(our_messages_round_trip);
	RUN(unpack_rejects_deep_nesting_and_garbage);
	RUN(libsignal_protobufs_in_same_process);
	return test_summary();
}
