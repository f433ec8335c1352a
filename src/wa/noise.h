/*
 * Noise_XX_25519_AESGCM_SHA256 as WhatsApp uses it (protocol-map.md §2), for
 * both ends: the initiator (our client) and the responder (the simulator).
 * No I/O: callers feed received frame payloads (without the 3-byte length
 * and without the intro header) and send the payloads appended to a ybuf.
 *
 * Initiator:                         Responder:
 *   wa_noise_init(INITIATOR, intro)    wa_noise_init(RESPONDER, intro)
 *   wa_noise_client_hello -> send      wa_noise_read_client_hello <- recv
 *   wa_noise_read_server_hello <- recv wa_noise_server_hello -> send
 *   wa_noise_client_finish -> send     wa_noise_read_client_finish <- recv
 * then wa_noise_encrypt / wa_noise_decrypt for transport frames, and
 * wa_noise_release at the end (wipes the keys).
 *
 * A call out of order returns Y_ESTATE. A handshake step that fails (bad
 * input, failed decryption or certificate check) moves the state to FAILED;
 * every later call returns Y_ESTATE. A transport decrypt failure returns
 * Y_ECRYPTO and leaves the read counter advanced (as whatsmeow does), so the
 * connection should be closed.
 */
#ifndef YESAPP_WA_NOISE_H
#define YESAPP_WA_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "wa/crypto.h"

/* The 32-byte pattern name, used as is (not hashed). */
#define WA_NOISE_PATTERN "Noise_XX_25519_AESGCM_SHA256\0\0\0\0"
/* Largest frame payload (3-byte length). */
#define WA_NOISE_MAX_FRAME ((1u << 24) - 1)

/* WhatsApp's root certificate key (whatsmeow handshake.go WACertPubKey). */
extern const uint8_t wa_noise_wa_root_pub[WA_KEY_LEN];

enum wa_noise_role { WA_NOISE_INITIATOR, WA_NOISE_RESPONDER };

enum wa_noise_state {
	WA_NOISE_START,        /* initiator: send hello; responder: read hello */
	WA_NOISE_HELLO_SENT,   /* initiator waits for ServerHello */
	WA_NOISE_HELLO_READ,   /* responder answers with ServerHello */
	WA_NOISE_SERVER_READ,  /* initiator sends ClientFinish */
	WA_NOISE_SERVER_SENT,  /* responder waits for ClientFinish */
	WA_NOISE_TRANSPORT,    /* handshake done */
	WA_NOISE_FAILED
};

/* Fields are private to noise.c except `state` and `remote_static`
 * (read-only). */
struct wa_noise {
	enum wa_noise_role role;
	enum wa_noise_state state;
	uint8_t h[32], ck[32], k[32];
	uint32_t n;                       /* the shared handshake counter */
	struct wa_keypair e;              /* our ephemeral */
	int have_e;
	uint8_t re[WA_KEY_LEN];           /* remote ephemeral */
	uint8_t remote_static[WA_KEY_LEN];/* server static (initiator) or client noise key */
	uint8_t rkey[32], wkey[32];
	uint32_t rn, wn;                  /* transport counters */
	uint8_t root[WA_KEY_LEN];         /* trusted certificate root */
	uint64_t now;                     /* clock for certificate checks; 0 = time() */
};

/* Starts a handshake. intro is the 4-byte prologue 'W' 'A' 6 DICT. The
 * initiator trusts wa_noise_wa_root_pub until wa_noise_trust_root. */
void wa_noise_init(struct wa_noise *nz, enum wa_noise_role role, const uint8_t intro[4]);
/* Wipes all key material. The struct may be initialised again. */
void wa_noise_release(struct wa_noise *nz);

/* Initiator: trust another root key (e.g. the simulator's) instead of
 * WhatsApp's. */
void wa_noise_trust_root(struct wa_noise *nz, const uint8_t root_pub[WA_KEY_LEN]);
/* Certificate validity is checked against `now` (Unix seconds) instead of
 * the system clock; 0 restores the system clock. */
void wa_noise_set_clock(struct wa_noise *nz, uint64_t now);
/* Uses the given ephemeral key instead of a random one (deterministic
 * tests). Call before the first handshake step. */
void wa_noise_set_ephemeral(struct wa_noise *nz, const struct wa_keypair *e);

/* Initiator, step 1: appends HandshakeMessage{clientHello} to out. */
int wa_noise_client_hello(struct wa_noise *nz, struct ybuf *out);
/* Initiator, step 2: consumes the ServerHello payload and verifies the
 * certificate chain against the trusted root. Y_EINVAL on a malformed
 * message, Y_ECRYPTO on a failed decryption or certificate check. */
int wa_noise_read_server_hello(struct wa_noise *nz, const uint8_t *msg, size_t len);
/* Initiator, step 3: appends HandshakeMessage{clientFinish} carrying our
 * noise static key and the given ClientPayload bytes, then switches to
 * transport keys. noise_key is borrowed. */
int wa_noise_client_finish(struct wa_noise *nz, const struct wa_keypair *noise_key,
			   const uint8_t *payload, size_t payload_len, struct ybuf *out);

/* Responder, step 1: consumes a ClientHello payload. */
int wa_noise_read_client_hello(struct wa_noise *nz, const uint8_t *msg, size_t len);
/* Responder, step 2: appends HandshakeMessage{serverHello} with our static
 * key and the given serialized CertChain. Both borrowed. */
int wa_noise_server_hello(struct wa_noise *nz, const struct wa_keypair *static_key,
			  const uint8_t *cert_chain, size_t cert_len, struct ybuf *out);
/* Responder, step 3: consumes ClientFinish, stores the client's noise key in
 * nz->remote_static and appends the decrypted ClientPayload bytes to
 * payload_out; then switches to transport keys. */
int wa_noise_read_client_finish(struct wa_noise *nz, const uint8_t *msg, size_t len,
				struct ybuf *payload_out);

/* Transport: appends the ciphertext (len + 16 bytes) of one frame to out. */
int wa_noise_encrypt(struct wa_noise *nz, const uint8_t *pt, size_t len, struct ybuf *out);
/* Transport: appends the plaintext of one received frame to out. */
int wa_noise_decrypt(struct wa_noise *nz, const uint8_t *ct, size_t len, struct ybuf *out);

/* ---- Certificate chains (protocol-map.md §2.6) ---- */

struct wa_noise_cert_params {
	const uint8_t *root_priv;          /* signs the intermediate */
	const struct wa_keypair *intermediate; /* signs the leaf */
	uint32_t intermediate_serial;      /* its issuerSerial is always 0 */
	uint32_t leaf_serial;
	const uint8_t *leaf_key;           /* the server's noise static public key */
	uint64_t not_before, not_after;    /* Unix seconds, for both certificates */
};

/* Appends a serialized CertChain{leaf, intermediate} to out. */
int wa_noise_cert_chain_build(const struct wa_noise_cert_params *p, struct ybuf *out);
/*
 * Verifies a serialized CertChain as whatsmeow's verifyServerCert: both
 * signatures 64 bytes, the intermediate signed by root_pub with
 * issuerSerial 0 and a 32-byte key, the leaf signed by that key with
 * issuerSerial = intermediate serial and key == server_static, both validity
 * windows containing now. 0 or Y_EINVAL (malformed) / Y_ECRYPTO (rejected).
 */
int wa_noise_cert_chain_verify(const uint8_t *chain, size_t len,
			       const uint8_t server_static[WA_KEY_LEN],
			       const uint8_t root_pub[WA_KEY_LEN], uint64_t now);

#endif
