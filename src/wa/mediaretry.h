/*
 * Media retry crypto (role-neutral; docs/media.md "Media retry"). When a
 * media host no longer has a file (404/410), a companion device asks its
 * own primary phone to upload it again: a <receipt type="server-error"> to
 * its own JID carrying a ServerErrorReceipt {stanzaId}, and the phone
 * answers with a <notification type="mediaretry"> carrying a
 * MediaRetryNotification {stanzaId, directPath, result}. Both are sealed
 * with AES-256-GCM under the retry key HKDF-SHA256(mediaKey, no salt,
 * "WhatsApp Media Retry Notification", 32 bytes), a 12-byte random iv, the
 * message id as associated data; the ciphertext carries the 16-byte tag at
 * its end (as Baileys' encryptMediaRetryRequest / decryptMediaRetryData and
 * whatsmeow's mediaretry.go). No I/O, no state.
 *
 * Ownership: every *out buffer is malloc'ed, the caller frees it.
 */
#ifndef YESAPP_WA_MEDIARETRY_H
#define YESAPP_WA_MEDIARETRY_H

#include <stddef.h>
#include <stdint.h>

#include "wa/media.h"

#define WA_MEDIA_RETRY_IV_LEN 12
#define WA_MEDIA_RETRY_MAX 4096 /* sealed bytes we open at most */

/* MediaRetryNotification.result */
enum wa_media_retry_result {
	WA_MEDIA_RETRY_GENERAL_ERROR = 0,
	WA_MEDIA_RETRY_SUCCESS = 1,
	WA_MEDIA_RETRY_NOT_FOUND = 2,
	WA_MEDIA_RETRY_DECRYPTION_ERROR = 3,
};

/* Seals ServerErrorReceipt {stanzaId: msg_id} (the requesting device). */
int wa_media_retry_receipt_seal(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
				const uint8_t iv[WA_MEDIA_RETRY_IV_LEN], uint8_t **out,
				size_t *outlen);
/* Opens one (the phone): *stanza_id (caller frees) is its stanzaId, which
 * must be msg_id. Y_ECRYPTO on a bad tag, Y_EINVAL on a bad payload. */
int wa_media_retry_receipt_open(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
				const uint8_t iv[WA_MEDIA_RETRY_IV_LEN], const uint8_t *ct,
				size_t len, char **stanza_id);
/* Seals MediaRetryNotification {stanzaId: msg_id, directPath (may be NULL),
 * result} (the phone). */
int wa_media_retry_notif_seal(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
			      const char *direct_path, enum wa_media_retry_result result,
			      const uint8_t iv[WA_MEDIA_RETRY_IV_LEN], uint8_t **out,
			      size_t *outlen);
/* Opens one (the requesting device): *result, and *direct_path (caller
 * frees; NULL when absent). Y_ECRYPTO on a bad tag, Y_EINVAL on a bad
 * payload or a stanzaId other than msg_id. */
int wa_media_retry_notif_open(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
			      const uint8_t iv[WA_MEDIA_RETRY_IV_LEN], const uint8_t *ct, size_t len,
			      int *result, char **direct_path);

#endif
