/*
 * WhatsApp media crypto (protocol-map.md §9.1-§9.2), role-neutral: the
 * media key expanded with HKDF-SHA256 (no salt, a per-type info string) into
 * iv, cipher key, MAC key and ref key; AES-256-CBC with PKCS#7; a MAC of
 * HMAC-SHA256(macKey, iv || ciphertext) cut to 10 bytes appended; the
 * SHA-256 of the plaintext (fileSha256) and of ciphertext || mac
 * (fileEncSha256).
 *
 * Both directions stream: a context is fed chunks of any size and writes at
 * most len + 16 bytes per update, so a file of any length goes through a
 * fixed buffer. No I/O, no threads; a context belongs to its caller and is
 * used by one thread at a time. Errors are Y_* codes (util/err.h).
 */
#ifndef YESAPP_WA_MEDIA_H
#define YESAPP_WA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WA_MEDIA_KEY_LEN 32
#define WA_MEDIA_MAC_LEN 10
#define WA_MEDIA_HASH_LEN 32

enum wa_media_type {
	WA_MEDIA_IMAGE,
	WA_MEDIA_VIDEO,
	WA_MEDIA_AUDIO,
	WA_MEDIA_DOCUMENT,
	WA_MEDIA_STICKER,
	WA_MEDIA_HISTORY,   /* md-msg-hist */
	WA_MEDIA_APP_STATE, /* md-app-state */
	WA_MEDIA_NTYPES
};

/* The HKDF info string of a type ("WhatsApp Image Keys"; stickers use the
 * image keys, as both Baileys and whatsmeow do), NULL for a bad type. */
const char *wa_media_info(enum wa_media_type t);
/* The name a type goes by in upload paths and JSON ("image", "video",
 * "audio", "document", "sticker", "md-msg-hist", "md-app-state"). */
const char *wa_media_type_name(enum wa_media_type t);
/* The type named name (as above), or -1. */
int wa_media_type_parse(const char *name);

struct wa_media_keys {
	uint8_t iv[16];
	uint8_t cipher[32];
	uint8_t mac[32];
	uint8_t ref[32];
};

/* Expands media_key (32 bytes) for type t into k. */
int wa_media_keys_derive(struct wa_media_keys *k, const uint8_t media_key[WA_MEDIA_KEY_LEN],
			 enum wa_media_type t);

/* What an encryption or a verified decryption ends with. */
struct wa_media_sums {
	uint8_t file_sha256[WA_MEDIA_HASH_LEN];     /* of the plaintext */
	uint8_t file_enc_sha256[WA_MEDIA_HASH_LEN]; /* of ciphertext || mac */
	uint8_t mac[WA_MEDIA_MAC_LEN];
	uint64_t file_length;                       /* plaintext bytes */
	uint64_t enc_length;                        /* ciphertext + mac bytes */
};

struct wa_media_enc;
struct wa_media_dec;

/* An encryptor with keys k (copied). NULL on ENOMEM / a crypto failure. */
struct wa_media_enc *wa_media_enc_new(const struct wa_media_keys *k);
/* Encrypts len bytes of plaintext; writes *outlen <= len + 16 bytes. */
int wa_media_enc_update(struct wa_media_enc *e, const uint8_t *in, size_t len, uint8_t *out,
			size_t *outlen);
/* Writes the last block and the mac (*outlen <= 16 + 10 bytes) and fills
 * sums. The context is spent afterwards (only _free). */
int wa_media_enc_final(struct wa_media_enc *e, uint8_t *out, size_t *outlen,
		       struct wa_media_sums *sums);
void wa_media_enc_free(struct wa_media_enc *e);

/* A decryptor of an upload (ciphertext || mac) with keys k (copied). */
struct wa_media_dec *wa_media_dec_new(const struct wa_media_keys *k);
/* Takes len bytes of the upload, writes *outlen <= len + 16 bytes of
 * plaintext. The last 10 bytes seen are held back as the mac. Plaintext
 * handed out before _final is unverified: keep it aside until _final says
 * Y_OK. */
int wa_media_dec_update(struct wa_media_dec *d, const uint8_t *in, size_t len, uint8_t *out,
			size_t *outlen);
/*
 * Ends the upload: checks the mac (HMAC over iv || ciphertext), the padding,
 * and, when given (non-NULL), the expected fileEncSha256 and fileSha256;
 * writes the last plaintext (*outlen <= 16) and fills sums. Y_OK, or
 * Y_ECRYPTO with *why one of "too short", "bad length", "bad mac",
 * "bad enc sha256", "bad padding", "bad sha256" (checked in that order, the
 * mac and the enc hash before anything is decrypted further).
 */
int wa_media_dec_final(struct wa_media_dec *d, const uint8_t *want_enc_sha256,
		       const uint8_t *want_sha256, uint8_t *out, size_t *outlen,
		       struct wa_media_sums *sums, const char **why);
void wa_media_dec_free(struct wa_media_dec *d);

/* One-shot forms over whole buffers (tests, fuzzing, small blobs): *out is
 * malloc'ed (caller frees). */
int wa_media_encrypt(const struct wa_media_keys *k, const uint8_t *in, size_t len,
		     uint8_t **out, size_t *outlen, struct wa_media_sums *sums);
int wa_media_decrypt(const struct wa_media_keys *k, const uint8_t *in, size_t len,
		     const uint8_t *want_enc_sha256, const uint8_t *want_sha256, uint8_t **out,
		     size_t *outlen, struct wa_media_sums *sums, const char **why);

#endif
