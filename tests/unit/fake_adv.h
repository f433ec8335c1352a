/*
 * The phone's half of QR pairing for tests: builds the pair-success
 * device identity (ADVSignedDeviceIdentityHMAC) for a companion, genuine or
 * broken in one chosen way. Used by tests/unit/test_client.c and
 * tests/fuzz/fuzz_client_node.c (its seeds). Header-only, static inline.
 *
 * Facts (protocol-map.md §5.1): the account signs 06 00 || details ||
 * companion identity key (06 05 for hosted accounts) with its identity
 * key; the HMAC is HMAC-SHA256(adv secret, [06 05 if hosted] || the
 * serialized ADVSignedDeviceIdentity).
 */
#ifndef YESAPP_TEST_FAKE_ADV_H
#define YESAPP_TEST_FAKE_ADV_H

#include <stdbool.h>
#include <string.h>

#include "util/buf.h"
#include "wa/crypto.h"
#include "wa/node.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

struct adv_spec {
	bool hosted;         /* accountType HOSTED in the HMAC message */
	bool hmac_prefix;    /* HMAC over 06 05 || details (hosted accounts) */
	uint8_t acct_prefix; /* account signature over 06 <this> || ... (00, or 05 hosted) */
	bool wrong_adv;      /* HMAC keyed with another secret */
	bool flip_sig;       /* one bit of the account signature flipped */
	bool long_key;       /* a 33-byte account signature key (its first 32 bytes sign) */
	bool garbage;        /* device-identity bytes that are no protobuf */
	uint32_t key_index;
};

/* Appends the identity to out and the ADVDeviceIdentity bytes to
 * details_out; phone is the account's identity key pair, ident and adv the
 * companion's identity public key and adv secret. */
static inline bool adv_build_identity(const struct adv_spec *sp, const struct wa_keypair *phone,
				      const uint8_t ident[32], const uint8_t adv[32],
				      struct ybuf *out, struct ybuf *details_out)
{
	Wa__ADVDeviceIdentity di = WA__ADVDEVICE_IDENTITY__INIT;
	Wa__ADVSignedDeviceIdentity sdi = WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
	Wa__ADVSignedDeviceIdentityHMAC h = WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
	struct ybuf msg = YBUF_INIT(4096), sd = YBUF_INIT(4096);
	uint8_t sig[WA_SIG_LEN], mac[WA_SHA256_LEN], key[33], adv2[32];
	const uint8_t prefix[2] = { 6, sp->acct_prefix };
	bool ok = false;

	if (sp->garbage)
		return ybuf_append(out, "\xff\xff\xff\x0f\x01", 5) == 0;
	di.has_rawid = di.has_timestamp = di.has_keyindex = 1;
	di.rawid = 12345;
	di.timestamp = 1700000000;
	di.keyindex = sp->key_index;
	if (wa_pb_pack(&di.base, details_out))
		goto out;
	if (ybuf_append(&msg, prefix, 2) || ybuf_append(&msg, details_out->data, details_out->len) ||
	    ybuf_append(&msg, ident, 32) || wa_xeddsa_sign(sig, phone->priv, msg.data, msg.len))
		goto out;
	if (sp->flip_sig)
		sig[10] ^= 0x01;
	memcpy(key, phone->pub, 32);
	key[32] = 0x42;
	sdi.has_details = sdi.has_accountsignaturekey = sdi.has_accountsignature = 1;
	sdi.details.data = details_out->data;
	sdi.details.len = details_out->len;
	sdi.accountsignaturekey.data = key;
	sdi.accountsignaturekey.len = sp->long_key ? 33 : 32;
	sdi.accountsignature.data = sig;
	sdi.accountsignature.len = WA_SIG_LEN;
	if (wa_pb_pack(&sdi.base, &sd))
		goto out;
	ybuf_reset(&msg);
	memcpy(adv2, adv, 32);
	if (sp->wrong_adv)
		adv2[0] ^= 0x80;
	if ((sp->hmac_prefix && ybuf_append(&msg, "\x06\x05", 2)) ||
	    ybuf_append(&msg, sd.data, sd.len) || wa_hmac_sha256(mac, adv2, 32, msg.data, msg.len))
		goto out;
	h.has_details = h.has_hmac = 1;
	h.details.data = sd.data;
	h.details.len = sd.len;
	h.hmac.data = mac;
	h.hmac.len = sizeof(mac);
	if (sp->hosted) {
		h.has_accounttype = 1;
		h.accounttype = WA__ADVENCRYPTION_TYPE__HOSTED;
	}
	ok = wa_pb_pack(&h.base, out) == 0;
out:
	ybuf_release(&msg);
	ybuf_release(&sd);
	return ok;
}

/* <iq from=s.whatsapp.net type=set id xmlns=md><pair-success>
 * <device-identity/> <platform name=android/> <device jid lid/> (jid NULL:
 * a device node without attributes). Caller frees. */
static inline struct wa_node *adv_pair_success(const struct ybuf *ident, const char *id,
					       const char *jid, const char *lid)
{
	struct wa_node *n = wa_node_new("iq"), *ps, *k;

	if (!n || wa_node_add_attr(n, "from", "s.whatsapp.net") ||
	    wa_node_add_attr(n, "type", "set") || wa_node_add_attr(n, "id", id) ||
	    wa_node_add_attr(n, "xmlns", "md") || !(ps = wa_node_add_child(n, "pair-success")))
		goto fail;
	if (!(k = wa_node_add_child(ps, "device-identity")) ||
	    wa_node_set_bytes(k, ident->data, ident->len))
		goto fail;
	if (!(k = wa_node_add_child(ps, "platform")) || wa_node_add_attr(k, "name", "android"))
		goto fail;
	if (!(k = wa_node_add_child(ps, "device")))
		goto fail;
	if (jid && (wa_node_add_attr(k, "jid", jid) || wa_node_add_attr(k, "lid", lid)))
		goto fail;
	return n;
fail:
	wa_node_free(n);
	return NULL;
}

#endif
