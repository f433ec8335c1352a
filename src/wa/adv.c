/* ADV device identities (see adv.h). */
#include "wa/adv.h"

#include <string.h>

#include "util/err.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

#define ADV_MSG_MAX (1 << 16)

/* msg = prefix(2) || a || b [|| c] */
static int build(struct ybuf *msg, const char prefix[2], const void *a, size_t alen,
		 const uint8_t *b, const uint8_t *c)
{
	ybuf_reset(msg);
	return ybuf_append(msg, prefix, 2) ?: ybuf_append(msg, a, alen) ?:
	       ybuf_append(msg, b, WA_KEY_LEN) ?: (c ? ybuf_append(msg, c, WA_KEY_LEN) : Y_OK);
}

int wa_adv_make(const struct wa_keypair *account, const struct wa_adv_details *d,
		const uint8_t companion[WA_KEY_LEN], const uint8_t adv_secret[32],
		struct ybuf *out)
{
	Wa__ADVDeviceIdentity di = WA__ADVDEVICE_IDENTITY__INIT;
	Wa__ADVSignedDeviceIdentity sdi = WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
	Wa__ADVSignedDeviceIdentityHMAC h = WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
	struct ybuf details = YBUF_INIT(1024), msg = YBUF_INIT(2048), signed_ = YBUF_INIT(2048);
	uint8_t sig[WA_SIG_LEN], mac[WA_SHA256_LEN];
	int rc;

	di.has_rawid = 1;
	di.rawid = d->raw_id;
	di.has_timestamp = 1;
	di.timestamp = d->timestamp;
	di.has_keyindex = 1;
	di.keyindex = d->key_index;
	rc = wa_pb_pack(&di.base, &details);
	rc = rc ?: build(&msg, "\x06\x00", details.data, details.len, companion, NULL);
	rc = rc ?: wa_xeddsa_sign(sig, account->priv, msg.data, msg.len);
	if (rc)
		goto out;
	sdi.has_details = 1;
	sdi.details.data = details.data;
	sdi.details.len = details.len;
	sdi.has_accountsignaturekey = 1;
	sdi.accountsignaturekey.data = (uint8_t *)account->pub;
	sdi.accountsignaturekey.len = WA_KEY_LEN;
	sdi.has_accountsignature = 1;
	sdi.accountsignature.data = sig;
	sdi.accountsignature.len = WA_SIG_LEN;
	rc = wa_pb_pack(&sdi.base, &signed_);
	rc = rc ?: wa_hmac_sha256(mac, adv_secret, 32, signed_.data, signed_.len);
	if (rc)
		goto out;
	h.has_details = 1;
	h.details.data = signed_.data;
	h.details.len = signed_.len;
	h.has_hmac = 1;
	h.hmac.data = mac;
	h.hmac.len = sizeof(mac);
	rc = wa_pb_pack(&h.base, out);
out:
	ybuf_release(&details);
	ybuf_release(&msg);
	ybuf_release(&signed_);
	return rc;
}

const char *wa_adv_accept(const struct wa_keypair *self, const uint8_t adv_secret[32],
			  const uint8_t *hmac_bytes, size_t len, struct ybuf *account,
			  struct ybuf *reply, uint32_t *key_index)
{
	Wa__ADVSignedDeviceIdentityHMAC *h = NULL;
	Wa__ADVSignedDeviceIdentity *sdi = NULL;
	Wa__ADVDeviceIdentity *di = NULL;
	struct ybuf msg = YBUF_INIT(ADV_MSG_MAX);
	uint8_t mac[WA_SHA256_LEN], devsig[WA_SIG_LEN];
	const char *fail = "malformed";
	ProtobufCBinaryData orig_sig = { 0, NULL };
	protobuf_c_boolean orig_has = 0;
	int hosted;

	if (wa_pb_unpack(&wa__advsigned_device_identity_hmac__descriptor, hmac_bytes, len,
			 (ProtobufCMessage **)&h) ||
	    !h->has_details || !h->has_hmac || h->hmac.len != WA_SHA256_LEN)
		goto out;
	hosted = h->has_accounttype && h->accounttype == WA__ADVENCRYPTION_TYPE__HOSTED;
	ybuf_reset(&msg);
	if ((hosted && ybuf_append(&msg, "\x06\x05", 2)) ||
	    ybuf_append(&msg, h->details.data, h->details.len) ||
	    wa_hmac_sha256(mac, adv_secret, 32, msg.data, msg.len))
		goto out;
	if (wa_memeq_ct(mac, h->hmac.data, WA_SHA256_LEN)) {
		fail = "hmac-mismatch";
		goto out;
	}
	if (wa_pb_unpack(&wa__advsigned_device_identity__descriptor, h->details.data,
			 h->details.len, (ProtobufCMessage **)&sdi) ||
	    !sdi->has_details || !sdi->has_accountsignaturekey ||
	    sdi->accountsignaturekey.len != WA_KEY_LEN || !sdi->has_accountsignature ||
	    sdi->accountsignature.len != WA_SIG_LEN)
		goto out;
	if (build(&msg, hosted ? "\x06\x05" : "\x06\x00", sdi->details.data, sdi->details.len,
		  self->pub, NULL))
		goto out;
	if (wa_xeddsa_verify(sdi->accountsignaturekey.data, msg.data, msg.len,
			     sdi->accountsignature.data)) {
		fail = "invalid-signature";
		goto out;
	}
	if (wa_pb_unpack(&wa__advdevice_identity__descriptor, sdi->details.data, sdi->details.len,
			 (ProtobufCMessage **)&di))
		goto out;
	*key_index = di->has_keyindex ? di->keyindex : 0;
	if (build(&msg, "\x06\x01", sdi->details.data, sdi->details.len, self->pub,
		  sdi->accountsignaturekey.data) ||
	    wa_xeddsa_sign(devsig, self->priv, msg.data, msg.len))
		goto out;
	orig_has = sdi->has_devicesignature;
	orig_sig = sdi->devicesignature;
	sdi->has_devicesignature = 1;
	sdi->devicesignature.data = devsig;
	sdi->devicesignature.len = WA_SIG_LEN;
	if (wa_pb_pack(&sdi->base, account))
		goto out;
	sdi->has_accountsignaturekey = 0;
	if (wa_pb_pack(&sdi->base, reply))
		goto out;
	fail = NULL;
out:
	if (sdi) {
		/* hand back what was unpacked, so the free does not touch our buffer */
		if (sdi->devicesignature.data == devsig) {
			sdi->has_devicesignature = orig_has;
			sdi->devicesignature = orig_sig;
		}
		protobuf_c_message_free_unpacked(&sdi->base, NULL);
	}
	if (di)
		protobuf_c_message_free_unpacked(&di->base, NULL);
	if (h)
		protobuf_c_message_free_unpacked(&h->base, NULL);
	ybuf_release(&msg);
	wa_wipe(devsig, sizeof(devsig));
	return fail;
}

int wa_adv_verify_device(const uint8_t *signed_identity, size_t len,
			 const uint8_t account_pub[WA_KEY_LEN], const uint8_t companion[WA_KEY_LEN],
			 uint32_t *key_index)
{
	Wa__ADVSignedDeviceIdentity *sdi = NULL;
	Wa__ADVDeviceIdentity *di = NULL;
	struct ybuf msg = YBUF_INIT(ADV_MSG_MAX);
	int rc = Y_EINVAL;

	if (wa_pb_unpack(&wa__advsigned_device_identity__descriptor, signed_identity, len,
			 (ProtobufCMessage **)&sdi) ||
	    !sdi->has_details || !sdi->has_accountsignature ||
	    sdi->accountsignature.len != WA_SIG_LEN || !sdi->has_devicesignature ||
	    sdi->devicesignature.len != WA_SIG_LEN ||
	    wa_pb_unpack(&wa__advdevice_identity__descriptor, sdi->details.data, sdi->details.len,
			 (ProtobufCMessage **)&di))
		goto out;
	rc = build(&msg, "\x06\x00", sdi->details.data, sdi->details.len, companion, NULL);
	rc = rc ?: wa_xeddsa_verify(account_pub, msg.data, msg.len, sdi->accountsignature.data);
	rc = rc ?: build(&msg, "\x06\x01", sdi->details.data, sdi->details.len, companion,
			 account_pub);
	rc = rc ?: wa_xeddsa_verify(companion, msg.data, msg.len, sdi->devicesignature.data);
	if (!rc)
		*key_index = di->has_keyindex ? di->keyindex : 0;
out:
	if (di)
		protobuf_c_message_free_unpacked(&di->base, NULL);
	if (sdi)
		protobuf_c_message_free_unpacked(&sdi->base, NULL);
	ybuf_release(&msg);
	return rc;
}
