/* Tests of ADV device identities (wa/adv.h): the phone's side made, the
 * companion's side checked and signed, the phone's check of the answer, and
 * every tampered variant refused. */
#include "test.h"

#include "util/buf.h"
#include "util/err.h"
#include "wa/adv.h"
#include "wa/crypto.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

#include <string.h>

struct world {
	struct wa_keypair phone, companion;
	uint8_t adv[32];
	struct wa_adv_details d;
};

static void world_init(struct world *w)
{
	wa_keypair_generate(&w->phone);
	wa_keypair_generate(&w->companion);
	wa_crypto_random(w->adv, sizeof(w->adv));
	w->d.raw_id = 0x1234567;
	w->d.timestamp = 1764000000;
	w->d.key_index = 3;
}

/* Re-signs nothing: rebuilds the HMAC wrapper around a modified
 * ADVSignedDeviceIdentity so that only the inner check can refuse it. */
static void rewrap(const struct world *w, Wa__ADVSignedDeviceIdentity *sdi, int hosted,
		   struct ybuf *out)
{
	Wa__ADVSignedDeviceIdentityHMAC h = WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
	struct ybuf inner = YBUF_INIT(0);
	uint8_t mac[32];

	wa_pb_pack(&sdi->base, &inner);
	wa_hmac_sha256(mac, w->adv, 32, inner.data, inner.len);
	h.has_details = 1;
	h.details.data = inner.data;
	h.details.len = inner.len;
	h.has_hmac = 1;
	h.hmac.data = mac;
	h.hmac.len = 32;
	if (hosted) {
		h.has_accounttype = 1;
		h.accounttype = WA__ADVENCRYPTION_TYPE__HOSTED;
	}
	ybuf_reset(out);
	wa_pb_pack(&h.base, out);
	ybuf_release(&inner);
}

static Wa__ADVSignedDeviceIdentity *inner_of(const struct ybuf *hmac_msg)
{
	Wa__ADVSignedDeviceIdentityHMAC *h = NULL;
	Wa__ADVSignedDeviceIdentity *sdi = NULL;

	if (wa_pb_unpack(&wa__advsigned_device_identity_hmac__descriptor, hmac_msg->data,
			 hmac_msg->len, (ProtobufCMessage **)&h))
		return NULL;
	wa_pb_unpack(&wa__advsigned_device_identity__descriptor, h->details.data, h->details.len,
		     (ProtobufCMessage **)&sdi);
	protobuf_c_message_free_unpacked(&h->base, NULL);
	return sdi;
}

TEST(make_accept_verify_round_trip)
{
	struct world w;
	struct ybuf m = YBUF_INIT(0), acc = YBUF_INIT(0), rep = YBUF_INIT(0);
	Wa__ADVSignedDeviceIdentity *a = NULL, *r = NULL;
	uint32_t ki = 0, ki2 = 0;

	world_init(&w);
	REQUIRE(wa_adv_make(&w.phone, &w.d, w.companion.pub, w.adv, &m) == Y_OK);
	CHECK(wa_adv_accept(&w.companion, w.adv, m.data, m.len, &acc, &rep, &ki) == NULL);
	CHECK_EQ_INT(ki, 3);
	/* the account copy keeps the account key, the reply drops it; both carry
	 * a device signature that verifies over 06 01 || details || us || phone */
	REQUIRE(wa_pb_unpack(&wa__advsigned_device_identity__descriptor, acc.data, acc.len,
			     (ProtobufCMessage **)&a) == Y_OK);
	REQUIRE(wa_pb_unpack(&wa__advsigned_device_identity__descriptor, rep.data, rep.len,
			     (ProtobufCMessage **)&r) == Y_OK);
	CHECK(a->has_accountsignaturekey && a->accountsignaturekey.len == 32);
	CHECK_MEM(a->accountsignaturekey.data, w.phone.pub, 32);
	CHECK(!r->has_accountsignaturekey);
	REQUIRE(a->has_devicesignature && a->devicesignature.len == 64);
	{
		struct ybuf mb = YBUF_INIT(0);

		ybuf_append(&mb, "\x06\x01", 2);
		ybuf_append(&mb, a->details.data, a->details.len);
		ybuf_append(&mb, w.companion.pub, 32);
		ybuf_append(&mb, w.phone.pub, 32);
		CHECK_EQ_INT(wa_xeddsa_verify(w.companion.pub, mb.data, mb.len, a->devicesignature.data),
			     Y_OK);
		mb.data[2] ^= 1;
		CHECK_EQ_INT(wa_xeddsa_verify(w.companion.pub, mb.data, mb.len, a->devicesignature.data),
			     Y_ECRYPTO);
		ybuf_release(&mb);
	}
	/* the phone accepts the reply, and refuses it under other keys */
	CHECK_EQ_INT(wa_adv_verify_device(rep.data, rep.len, w.phone.pub, w.companion.pub, &ki2), Y_OK);
	CHECK_EQ_INT(ki2, 3);
	CHECK_EQ_INT(wa_adv_verify_device(rep.data, rep.len, w.companion.pub, w.companion.pub, &ki2),
		     Y_ECRYPTO);
	CHECK_EQ_INT(wa_adv_verify_device(rep.data, rep.len, w.phone.pub, w.phone.pub, &ki2),
		     Y_ECRYPTO);
	/* a flipped device signature byte */
	r->devicesignature.data[10] ^= 0x40;
	{
		struct ybuf bad = YBUF_INIT(0);

		wa_pb_pack(&r->base, &bad);
		CHECK_EQ_INT(wa_adv_verify_device(bad.data, bad.len, w.phone.pub, w.companion.pub,
						  &ki2), Y_ECRYPTO);
		ybuf_release(&bad);
	}
	/* garbage, and a reply without a device signature */
	CHECK_EQ_INT(wa_adv_verify_device((const uint8_t *)"\xff\xff", 2, w.phone.pub,
					  w.companion.pub, &ki2), Y_EINVAL);
	CHECK_EQ_INT(wa_adv_verify_device(rep.data, 0, w.phone.pub, w.companion.pub, &ki2),
		     Y_EINVAL);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	ybuf_release(&m);
	ybuf_release(&acc);
	ybuf_release(&rep);
}

TEST(tampered_identities_are_refused)
{
	struct world w;
	struct ybuf m = YBUF_INIT(0), acc = YBUF_INIT(0), rep = YBUF_INIT(0), t = YBUF_INIT(0);
	struct wa_keypair other;
	Wa__ADVSignedDeviceIdentity *sdi;
	uint8_t adv2[32];
	uint32_t ki;

	world_init(&w);
	wa_keypair_generate(&other);
	REQUIRE(wa_adv_make(&w.phone, &w.d, w.companion.pub, w.adv, &m) == Y_OK);
	/* another adv secret: the HMAC does not match */
	memcpy(adv2, w.adv, 32);
	adv2[0] ^= 1;
	CHECK_EQ_STR(wa_adv_accept(&w.companion, adv2, m.data, m.len, &acc, &rep, &ki),
		     "hmac-mismatch");
	/* a flipped byte anywhere in the message */
	ybuf_append(&t, m.data, m.len);
	t.data[t.len / 2] ^= 0x08;
	CHECK(wa_adv_accept(&w.companion, w.adv, t.data, t.len, &acc, &rep, &ki) != NULL);
	/* vouching for another companion: the account signature covers it */
	CHECK_EQ_STR(wa_adv_accept(&other, w.adv, m.data, m.len, &acc, &rep, &ki),
		     "invalid-signature");
	/* a flipped account signature byte under a correct HMAC */
	sdi = inner_of(&m);
	REQUIRE(sdi);
	sdi->accountsignature.data[5] ^= 0x01;
	rewrap(&w, sdi, 0, &t);
	CHECK_EQ_STR(wa_adv_accept(&w.companion, w.adv, t.data, t.len, &acc, &rep, &ki),
		     "invalid-signature");
	sdi->accountsignature.data[5] ^= 0x01;
	rewrap(&w, sdi, 0, &t);
	CHECK(wa_adv_accept(&w.companion, w.adv, t.data, t.len, &acc, &rep, &ki) == NULL);
	/* marked hosted: the HMAC and signature prefixes change, so it fails */
	rewrap(&w, sdi, 1, &t);
	CHECK(wa_adv_accept(&w.companion, w.adv, t.data, t.len, &acc, &rep, &ki) != NULL);
	/* an account key of the wrong length */
	sdi->accountsignaturekey.len = 31;
	rewrap(&w, sdi, 0, &t);
	CHECK_EQ_STR(wa_adv_accept(&w.companion, w.adv, t.data, t.len, &acc, &rep, &ki),
		     "malformed");
	sdi->accountsignaturekey.len = 32;
	protobuf_c_message_free_unpacked(&sdi->base, NULL);
	/* not a protobuf at all */
	CHECK_EQ_STR(wa_adv_accept(&w.companion, w.adv, (const uint8_t *)"\x0a\xff", 2, &acc, &rep,
				   &ki), "malformed");
	ybuf_release(&m);
	ybuf_release(&acc);
	ybuf_release(&rep);
	ybuf_release(&t);
}

int main(void)
{
	RUN(make_accept_verify_round_trip);
	RUN(tampered_identities_are_refused);
	return test_summary();
}
