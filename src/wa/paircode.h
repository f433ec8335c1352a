/*
 * Pair-code (link code) crypto, protocol-map.md §5.2: role-neutral, used by
 * the client (src/client/paircode.c, the companion) and the simulator's
 * phone (src/sim/sim_conn.c, the primary).
 *
 *   code         5 random bytes in base32 over 123456789ABCDEFGHJKLMNPQRSTVWXYZ
 *                (most significant bits first): 8 characters, shown
 *                "ABCD-EFGH".
 *   wrapped key  salt(32) || iv(16) || AES-256-CTR(PBKDF2-HMAC-SHA256(code,
 *                salt, 2<<16, 32), iv, ephemeral pub(32)): 80 bytes. Both
 *                sides wrap their ephemeral key so; unwrapping with a wrong
 *                code gives a different key, not an error.
 *   key bundle   salt(32) || nonce(12) || AES-256-GCM(HKDF-SHA256(ephemeral
 *                shared, salt, "link_code_pairing_key_bundle_encryption_key"),
 *                nonce, companion identity || primary identity || adv
 *                random, no aad) with its tag: 156 bytes.
 *   adv secret   HKDF-SHA256(ephemeral shared || identity shared || adv
 *                random, no salt, "adv_secret", 32).
 *
 * The PBKDF2 costs tens of milliseconds: struct wa_paircode_job runs wraps
 * and unwraps on libuv's thread pool for an owner that may go away first.
 *
 * Every function returns 0, Y_EINVAL (bad argument) or Y_ECRYPTO.
 */
#ifndef YESAPP_WA_PAIRCODE_H
#define YESAPP_WA_PAIRCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wa/crypto.h"
#include "wa/socket.h"

#define WA_PAIRCODE_LEN 8             /* characters, no dash */
#define WA_PAIRCODE_TEXT_LEN 10       /* "ABCD-EFGH" and its NUL */
#define WA_PAIRCODE_ITERATIONS (2u << 16)
#define WA_PAIRCODE_WRAPPED_LEN 80
#define WA_PAIRCODE_BUNDLE_PLAIN_LEN 96
#define WA_PAIRCODE_BUNDLE_LEN (32 + 12 + WA_PAIRCODE_BUNDLE_PLAIN_LEN + WA_GCM_TAG_LEN)

/* The code of 5 bytes (8 characters and a NUL). */
void wa_paircode_encode(const uint8_t rnd[5], char out[WA_PAIRCODE_LEN + 1]);
/* A fresh random code. */
int wa_paircode_generate(char out[WA_PAIRCODE_LEN + 1]);
/* A code as a person types it: dashes dropped, letters upper-cased; any
 * other printable ASCII kept (Baileys lets apps choose their own code).
 * Y_EINVAL unless 8 characters remain. */
int wa_paircode_normalize(const char *in, char out[WA_PAIRCODE_LEN + 1]);
/* "ABCD-EFGH" from "ABCDEFGH". */
void wa_paircode_display(const char *code, char out[WA_PAIRCODE_TEXT_LEN]);

/* Wraps pub with code (8 characters). salt and iv: NULL for random ones. */
int wa_paircode_wrap(uint8_t out[WA_PAIRCODE_WRAPPED_LEN], const char *code,
		     const uint8_t pub[WA_KEY_LEN], const uint8_t *salt, const uint8_t *iv);
/* The key wrapped in `wrapped`, with code. */
int wa_paircode_unwrap(uint8_t pub[WA_KEY_LEN], const char *code,
		       const uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN]);

/* The companion seals the bundle. salt (32) and nonce (12): NULL for
 * random ones. */
int wa_paircode_bundle_seal(uint8_t out[WA_PAIRCODE_BUNDLE_LEN], const uint8_t eph_shared[32],
			    const uint8_t *salt, const uint8_t *nonce,
			    const uint8_t companion_ident[WA_KEY_LEN],
			    const uint8_t primary_ident[WA_KEY_LEN], const uint8_t adv_random[32]);
/* The primary opens it: Y_ECRYPTO when the tag does not match (wrong
 * shared secret, tampered bytes), Y_EINVAL for a wrong length. plain gets
 * companion identity || primary identity || adv random. */
int wa_paircode_bundle_open(uint8_t plain[WA_PAIRCODE_BUNDLE_PLAIN_LEN],
			    const uint8_t eph_shared[32], const uint8_t *bundle, size_t len);
/* The adv secret both sides derive (the identity shared secret is
 * X25519(companion identity, primary identity) from either side). */
int wa_paircode_adv_secret(uint8_t out[32], const uint8_t eph_shared[32],
			   const uint8_t ident_shared[32], const uint8_t adv_random[32]);

/*
 * A wrap and/or an unwrap with one code, off the loop. Fill the inputs of
 * a job from wa_paircode_job_new, then start it: cb(job, ud) runs once on
 * the loop with the outputs, and the job is freed when cb returns (copy
 * what you need). An owner going away first calls wa_paircode_job_cancel:
 * cb never runs and the job frees itself when the thread is done. If start
 * fails, the caller still owns the job (wa_paircode_job_free).
 */
struct wa_paircode_job {
	/* in */
	char code[WA_PAIRCODE_LEN + 1];
	bool unwrap;                            /* unwrap `wrapped_in` into `unwrapped` */
	uint8_t wrapped_in[WA_PAIRCODE_WRAPPED_LEN];
	bool wrap;                              /* wrap `pub` into `wrapped` (random salt, iv) */
	uint8_t pub[WA_KEY_LEN];
	/* out */
	int err;
	uint8_t unwrapped[WA_KEY_LEN];
	uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN];
	/* private */
	struct wa_work work;
	void (*cb)(struct wa_paircode_job *j, void *ud);
	void *ud;
	bool cancelled;
};
int wa_paircode_job_new(struct wa_paircode_job **out);
int wa_paircode_job_start(struct wa_loop *l, struct wa_paircode_job *j,
			  void (*cb)(struct wa_paircode_job *j, void *ud), void *ud);
void wa_paircode_job_cancel(struct wa_paircode_job *j);
void wa_paircode_job_free(struct wa_paircode_job *j); /* not started or failed to start; NULL ok */

#endif
