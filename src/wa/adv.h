/*
 * ADV device identities (protocol-map.md §5.1 steps 5-9): how a phone
 * vouches for a companion device, for both ends.
 *
 *   phone:      wa_adv_make             -> ADVSignedDeviceIdentityHMAC (pair-success)
 *   companion:  wa_adv_accept           checks the HMAC (our adv secret) and the
 *                                       account signature, adds our device signature
 *   phone:      wa_adv_verify_device    checks the companion's answer (pair-device-sign)
 *
 * Signed messages (XEdDSA, 32-byte Curve25519 keys):
 *   account signature  by the phone:     06 00 || details || companion identity
 *                      (06 05 for hosted accounts)
 *   device signature   by the companion: 06 01 || details || companion identity ||
 *                                        account signature key
 * and the HMAC-SHA256 keyed by the adv secret over the ADVSignedDeviceIdentity
 * bytes (prefixed 06 05 for hosted accounts).
 *
 * Pure functions: no I/O; outputs are appended to caller-owned ybufs.
 */
#ifndef YESAPP_WA_ADV_H
#define YESAPP_WA_ADV_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "wa/crypto.h"

/* What the phone puts in the identity. */
struct wa_adv_details {
	uint32_t raw_id;      /* the phone's random account id (31 bits) */
	uint64_t timestamp;   /* Unix seconds */
	uint32_t key_index;   /* the companion's index in the phone's key list */
};

/* Phone side: appends the ADVSignedDeviceIdentityHMAC vouching for
 * companion identity `companion` with the phone's identity `account`,
 * keyed by the companion's adv secret. */
int wa_adv_make(const struct wa_keypair *account, const struct wa_adv_details *d,
		const uint8_t companion[WA_KEY_LEN], const uint8_t adv_secret[32],
		struct ybuf *out);

/*
 * Companion side: checks a pair-success device identity (the HMAC with
 * adv_secret, the account signature over our identity `self`) and signs it
 * with our identity. On success appends to `account` the full
 * ADVSignedDeviceIdentity (with the account signature key and our device
 * signature: what pkmsgs carry later) and to `reply` the same without the
 * account signature key (the pair-device-sign answer), sets *key_index, and
 * returns NULL. Otherwise returns a short reason ("malformed",
 * "hmac-mismatch", "invalid-signature") and appends nothing useful.
 */
const char *wa_adv_accept(const struct wa_keypair *self, const uint8_t adv_secret[32],
			  const uint8_t *hmac_bytes, size_t len, struct ybuf *account,
			  struct ybuf *reply, uint32_t *key_index);

/*
 * Phone side: checks a companion's pair-device-sign identity (without the
 * account key): the account signature is still ours over `companion`, and
 * the device signature by `companion` covers the details and our account
 * key. 0 (and *key_index), Y_EINVAL (malformed) or Y_ECRYPTO.
 */
int wa_adv_verify_device(const uint8_t *signed_identity, size_t len,
			 const uint8_t account_pub[WA_KEY_LEN], const uint8_t companion[WA_KEY_LEN],
			 uint32_t *key_index);

#endif
