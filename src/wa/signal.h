/*
 * The Signal layer (protocol-map.md §7): end-to-end encryption as WhatsApp
 * clients do it, over Debian's libsignal-protocol-c.
 *
 *  - keys: identity key pair, registration id, signed prekey (XEdDSA
 *    signature over 0x05||pub), one-time prekeys, and their wire forms
 *    (32-byte raw public keys, 3-byte BE ids, 4-byte BE registration id);
 *  - pairwise sessions: X3DH from a prekey bundle, then the double ratchet;
 *    messages are "pkmsg" (PreKeySignalMessage) or "msg" (SignalMessage);
 *  - sender keys for groups: SKDM create/process, "skmsg" encrypt/decrypt;
 *  - WhatsApp's v2 plaintext padding.
 *
 * A `struct wa_signal` is one endpoint (our device, or a simulated phone):
 * our identity plus a borrowed wa_signal_store holding everything else.
 * It is not thread-safe: use one endpoint from one thread at a time.
 *
 * Errors are Y_* codes (src/util/err.h). Decryption failures map as:
 *   Y_EINVAL        malformed message (bad protobuf, bad key encoding)
 *   Y_ECRYPTO       MAC or signature check failed, bad ciphertext padding
 *   Y_EEXIST        duplicate (replayed) message: its key was already used
 *   Y_ENOTFOUND     no session / no sender key / the prekey it names is gone
 *   Y_EUNSUPPORTED  wrong protocol version
 *   Y_ETOOBIG       input above WA_SIGNAL_MAX_MESSAGE
 * A session is stored only after a message decrypted and verified; a
 * failed decryption leaves it as it was (libsignal may already have saved
 * the sender's identity key of a pkmsg, which is harmless: all identities
 * are trusted, as in Baileys; see cb_is_trusted_identity in signal.c).
 */
#ifndef YESAPP_WA_SIGNAL_H
#define YESAPP_WA_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wa/signal_store.h"

/* Hard limit on ciphertext and plaintext sizes handled here. */
#define WA_SIGNAL_MAX_MESSAGE (4u << 20)
/* Longest address name (user plus "_agent"). */
#define WA_SIGNAL_NAME_MAX 128

/* ---- addresses ---------------------------------------------------------- */

/* A Signal protocol address: a name and a device id. */
struct wa_signal_addr {
	char name[WA_SIGNAL_NAME_MAX + 1];
	uint32_t device;
};

enum wa_signal_addr_style {
	/* whatsmeow and Baileys 7: "user" for s.whatsapp.net, "user_<domain>" for
	 * other domains (lid -> 1, hosted -> 128, hosted.lid -> 129, otherwise the
	 * JID's raw agent when non-zero). */
	WA_SIGNAL_ADDR_DOMAIN = 0,
	/* Baileys 6: the bare user for every server (LID-agnostic). */
	WA_SIGNAL_ADDR_USER_ONLY = 1,
};

/*
 * Fills out with the Signal address of the JID user[:device]@server (with a
 * raw agent byte as decoded from the binary JID, else 0). The name is the
 * user, plus "_<domain>" per `style` (see above); the device is `device`.
 * user must be non-empty and contain neither '.' nor '_' nor ':' nor '@'
 * (libsignal-node rejects '.' in names, and '_' would make names ambiguous).
 * 0 or Y_EINVAL.
 */
int wa_signal_address(struct wa_signal_addr *out, const char *user, const char *server,
		      uint8_t raw_agent, uint32_t device, enum wa_signal_addr_style style);

/* ---- keys ---------------------------------------------------------------- */

/* Our device identity: Curve25519 pair (raw 32-byte keys) and registration id. */
struct wa_signal_identity {
	uint8_t pub[32];
	uint8_t priv[32];
	uint32_t registration_id;
};

/* Generates a new identity key pair and a registration id in 1..16380
 * (libsignal's range; Baileys uses 0..255, whatsmeow 32 bits). */
int wa_signal_identity_generate(struct wa_signal_identity *out);

/* Public half of a signed prekey as the wire carries it. */
struct wa_signal_signed_prekey {
	uint32_t id;      /* 24-bit */
	uint8_t pub[32];
	uint8_t sig[64];  /* XEdDSA(identity priv, 0x05 || pub) */
};

/* Public half of a one-time prekey. */
struct wa_signal_prekey {
	uint32_t id; /* 24-bit, non-zero */
	uint8_t pub[32];
};

/* A prekey bundle: what <iq xmlns=encrypt type=get> returns per device. */
struct wa_signal_bundle {
	uint32_t registration_id;
	uint8_t identity[32];
	struct wa_signal_signed_prekey skey;
	int has_prekey; /* the one-time prekey is optional */
	struct wa_signal_prekey key;
};

/* A bundle as the raw contents of its nodes (all borrowed):
 * <registration> 4 bytes BE, <type> 1 byte (0x05, optional: NULL),
 * <identity> 32, <skey><id> 3 BE, <value> 32, <signature> 64,
 * optional <key><id> 3 BE, <value> 32 (both NULL when absent). */
struct wa_signal_bundle_wire {
	const uint8_t *registration; size_t registration_len;
	const uint8_t *type; size_t type_len;
	const uint8_t *identity; size_t identity_len;
	const uint8_t *skey_id; size_t skey_id_len;
	const uint8_t *skey_value; size_t skey_value_len;
	const uint8_t *skey_signature; size_t skey_signature_len;
	const uint8_t *key_id; size_t key_id_len;
	const uint8_t *key_value; size_t key_value_len;
};

/* Parses the raw parts into out, checking every length (and type == 0x05).
 * Does not verify the signature (session building does). 0 or Y_EINVAL. */
int wa_signal_bundle_parse(struct wa_signal_bundle *out, const struct wa_signal_bundle_wire *w);

/* Big-endian helpers for the wire ids. */
void wa_signal_put_be24(uint8_t out[3], uint32_t v);
void wa_signal_put_be32(uint8_t out[4], uint32_t v);
uint32_t wa_signal_get_be24(const uint8_t in[3]);
uint32_t wa_signal_get_be32(const uint8_t in[4]);

/* Signatures: wa_xeddsa_sign / wa_xeddsa_verify in wa/crypto.h. */

/* ---- the endpoint --------------------------------------------------------- */

struct wa_signal;

/* A new endpoint for identity `id` (copied) over `store` (borrowed: it must
 * outlive the endpoint). NULL on ENOMEM. */
struct wa_signal *wa_signal_new(const struct wa_signal_identity *id, struct wa_signal_store *store);
void wa_signal_free(struct wa_signal *s);

/* Generates a signed prekey with this id, saves it in the store and returns its public half. */
int wa_signal_gen_signed_prekey(struct wa_signal *s, uint32_t id, struct wa_signal_signed_prekey *out);
/* Generates n one-time prekeys with ids first, first+1, ... (24-bit, non-zero,
 * wrapping from 0xFFFFFF to 1), saves them and writes their public halves
 * into out[0..n-1]. */
int wa_signal_gen_prekeys(struct wa_signal *s, uint32_t first, size_t n, struct wa_signal_prekey *out);
/* Puts keys we made earlier (kept in the credentials and the prekey table)
 * into the store: a signed prekey with its signature, a one-time prekey.
 * The public halves are derived (a signed prekey the store holds already,
 * with the same key and signature, is left as it is). 0, Y_EINVAL, Y_ENOMEM
 * or a store error. */
int wa_signal_import_signed_prekey(struct wa_signal *s, uint32_t id, const uint8_t priv[32],
				   const uint8_t sig[64]);
int wa_signal_import_prekey(struct wa_signal *s, uint32_t id, const uint8_t priv[32]);
/* Our own bundle from the store: signed prekey `skey_id`, and one-time
 * prekey `prekey_id` unless it is 0. Y_ENOTFOUND if a key is missing. */
int wa_signal_own_bundle(struct wa_signal *s, uint32_t skey_id, uint32_t prekey_id,
			 struct wa_signal_bundle *out);

/* ---- pairwise sessions ------------------------------------------------------ */

enum wa_signal_type {
	WA_SIGNAL_MSG = 1,   /* "msg": SignalMessage in an established session */
	WA_SIGNAL_PKMSG = 2, /* "pkmsg": PreKeySignalMessage, until the peer answers */
	WA_SIGNAL_SKMSG = 3, /* "skmsg": SenderKeyMessage (groups) */
};

/* "msg", "pkmsg", "skmsg"; NULL for anything else. */
const char *wa_signal_type_name(enum wa_signal_type t);
/* The reverse; 0 or Y_EINVAL. */
int wa_signal_type_parse(const char *name, enum wa_signal_type *out);

/* Builds an outgoing session with addr from a bundle (X3DH initiator);
 * verifies the signed prekey signature (Y_ECRYPTO). Replaces any session. */
int wa_signal_session_from_bundle(struct wa_signal *s, const struct wa_signal_addr *addr,
				  const struct wa_signal_bundle *b);
/* 1 if a session with addr exists, 0 if not, or a negative Y_* code. */
int wa_signal_has_session(struct wa_signal *s, const struct wa_signal_addr *addr);
/* Deletes the session with addr (0 also when absent). */
int wa_signal_delete_session(struct wa_signal *s, const struct wa_signal_addr *addr);
/* Copies the session with `from` (and the identity we keep for it) to `to`,
 * once: when `to` has no session yet and `from` has one. The record is
 * copied as is, so the conversation goes on without a new bundle. The
 * session with `from` stays: a peer that keeps one session per namespace
 * (Baileys 6) goes on using it, and a redelivered pkmsg under the old
 * address is still recognised as a replay. 1 copied, 0 nothing to do, or a
 * negative Y_* code. Used when a contact's phone-number address becomes its
 * LID address. */
int wa_signal_migrate_session(struct wa_signal *s, const struct wa_signal_addr *from,
			      const struct wa_signal_addr *to);
/* Deletes the sessions with every device of `name`; returns how many, or < 0. */
int wa_signal_delete_all_sessions(struct wa_signal *s, const char *name);

/*
 * Encrypts plaintext (already padded, see wa_signal_pad) for addr. On success
 * *type is WA_SIGNAL_PKMSG or WA_SIGNAL_MSG and *out (len *out_len) is the
 * serialized message, which the caller frees. Y_ENOTFOUND without a session.
 */
int wa_signal_encrypt(struct wa_signal *s, const struct wa_signal_addr *addr, const uint8_t *pt,
		      size_t pt_len, enum wa_signal_type *type, uint8_t **out, size_t *out_len);
/* Decrypts a pkmsg or msg from addr; *out (caller frees) is the plaintext,
 * still padded. A pkmsg builds the session (X3DH responder) and consumes
 * the one-time prekey it names. */
int wa_signal_decrypt(struct wa_signal *s, const struct wa_signal_addr *addr,
		      enum wa_signal_type type, const uint8_t *ct, size_t ct_len, uint8_t **out,
		      size_t *out_len);

/* ---- sender keys (groups) ------------------------------------------------------ */

/* The sender key distribution message for our sender key in `group` as
 * `self` (creating the sender key if needed); caller frees *out. */
int wa_signal_group_create_skdm(struct wa_signal *s, const char *group, const struct wa_signal_addr *self,
				uint8_t **out, size_t *out_len);
/* Encrypts to `group` with our sender key as `self` -> skmsg (caller frees).
 * Y_ENOTFOUND if no sender key was created. */
int wa_signal_group_encrypt(struct wa_signal *s, const char *group, const struct wa_signal_addr *self,
			    const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len);
/* Stores the sender key a member `sender` distributed for `group`. */
int wa_signal_group_process_skdm(struct wa_signal *s, const char *group,
				 const struct wa_signal_addr *sender, const uint8_t *skdm, size_t len);
/* Decrypts an skmsg from `sender` in `group` (caller frees *out). */
int wa_signal_group_decrypt(struct wa_signal *s, const char *group, const struct wa_signal_addr *sender,
			    const uint8_t *ct, size_t ct_len, uint8_t **out, size_t *out_len);

/* ---- v2 padding ------------------------------------------------------------------ */

/* Writes in || p bytes of value p (p random in 1..15) into *out (caller
 * frees). 0, Y_ENOMEM or Y_ETOOBIG. */
int wa_signal_pad(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);
/* The same with a caller-chosen p (1..15, else Y_EINVAL); for tests. */
int wa_signal_pad_with(const uint8_t *in, size_t len, unsigned p, uint8_t **out, size_t *out_len);
/* The unpadded length of a padded plaintext: checks that len > 0, the last
 * byte p <= len, and the last p bytes all equal p (as whatsmeow; a p of 0
 * removes nothing, as in whatsmeow and Baileys). 0 or Y_EINVAL. */
int wa_signal_unpad(const uint8_t *in, size_t len, size_t *unpadded_len);

#endif
