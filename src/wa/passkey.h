/*
 * The passkey ("Shortcake") step of companion linking, role-neutral
 * (protocol-map.md §13; facts from whatsmeow 33cfac5 pair-passkey.go):
 *
 *   server -> companion  <notification type=passkey_prologue_request>
 *                        <passkey_request_options> WebAuthn request JSON
 *   companion -> server  iq get md <ref/>            (answer: <ref>)
 *                        iq set md <passkey_prologue> <credential_id>
 *                        <webauthn_assertion> <prologue_payload>
 *                        [<pairing_handoff_proof>]
 *   server -> companion  <notification type=crsc_continuation>
 *                        <primary_ephemeral_identity> (pub, nonce)
 *   companion -> server  iq set md <companion_nonce>
 *   both                 the confirmation code and the AES-GCM key below
 *   companion -> server  iq set md <encrypted_pairing_request>
 *                        (noise pub, identity pub, a new adv secret)
 *   server -> companion  the usual pair-success, HMACed with the new secret
 *
 * Pure functions; the caller owns every buffer.
 */
#ifndef YESAPP_WA_PASSKEY_H
#define YESAPP_WA_PASSKEY_H

#include <stddef.h>
#include <stdint.h>

#define WA_PASSKEY_NONCE_LEN 32
#define WA_PASSKEY_CODE_LEN 9            /* "XXXX-XXXX" */
#define WA_PASSKEY_HANDOFF_MS (5 * 60 * 1000) /* whatsmeow's handoff key lifetime */
#define WA_PASSKEY_TIMEOUT_MS 600000     /* the options' timeout seen on WhatsApp */
#define WA_PASSKEY_RP_ID "whatsapp.com"

/* HKDF-SHA256(ikm = the adv secret the QR showed, no salt,
 * info "shortcake-passkey-handoff-v1") -> 32 bytes. */
int wa_passkey_handoff_key(const uint8_t adv[32], uint8_t out[32]);
/* HMAC-SHA256(handoff key, prologue payload bytes). */
int wa_passkey_handoff_proof(const uint8_t key[32], const uint8_t *prologue, size_t len,
			     uint8_t out[32]);
/* SHA-256(companion ephemeral identity bytes || companion nonce). */
int wa_passkey_commitment(const uint8_t *ident, size_t len, const uint8_t nonce[32],
			  uint8_t out[32]);
/* The confirmation code: the first 5 bytes of SHA-256(companion nonce ||
 * primary ephemeral pub) XOR the primary nonce, in WhatsApp's linking
 * base32 alphabet, as "XXXX-XXXX" (+ NUL). */
int wa_passkey_code(const uint8_t companion_nonce[32], const uint8_t primary_pub[32],
		    const uint8_t primary_nonce[32], char out[WA_PASSKEY_CODE_LEN + 1]);
/* The PairingRequest key: HKDF-SHA256(X25519 shared secret,
 * salt "Companion Pairing <device type> with ref <ref>",
 * info "Pairing Information Encryption Key") -> 32 bytes. Y_EINVAL for a
 * ref too long. */
int wa_passkey_pairing_key(const uint8_t shared[32], int device_type, const char *ref,
			   size_t ref_len, uint8_t out[32]);

#endif
