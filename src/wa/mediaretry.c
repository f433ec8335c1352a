/* Media retry crypto (see mediaretry.h). */
#include "wa/mediaretry.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

static const char retry_info[] = "WhatsApp Media Retry Notification";

/* Seals pb's packed bytes under media_key's retry key, aad msg_id. */
static int seal(const uint8_t *media_key, const char *msg_id, const uint8_t *iv,
		const ProtobufCMessage *pb, uint8_t **out, size_t *outlen)
{
	struct ybuf b = YBUF_INIT(WA_MEDIA_RETRY_MAX);
	uint8_t key[32];
	int rc;

	*out = NULL;
	*outlen = 0;
	rc = wa_hkdf_sha256(key, sizeof(key), media_key, WA_MEDIA_KEY_LEN, NULL, 0,
			    (const uint8_t *)retry_info, strlen(retry_info));
	rc = rc ?: wa_pb_pack(pb, &b);
	if (!rc && !(*out = malloc(b.len + WA_GCM_TAG_LEN)))
		rc = Y_ENOMEM;
	rc = rc ?: wa_aes_gcm_encrypt(*out, key, iv, WA_MEDIA_RETRY_IV_LEN,
				      (const uint8_t *)msg_id, strlen(msg_id), b.data, b.len);
	if (rc) {
		free(*out);
		*out = NULL;
	} else {
		*outlen = b.len + WA_GCM_TAG_LEN;
	}
	OPENSSL_cleanse(key, sizeof(key));
	ybuf_release(&b);
	return rc;
}

/* Opens ct into a message of type d (caller frees with
 * protobuf_c_message_free_unpacked). */
static int open_pb(const uint8_t *media_key, const char *msg_id, const uint8_t *iv,
		   const uint8_t *ct, size_t len, const ProtobufCMessageDescriptor *d,
		   ProtobufCMessage **msg)
{
	uint8_t key[32], *pt = NULL;
	int rc;

	*msg = NULL;
	if (len < WA_GCM_TAG_LEN || len > WA_MEDIA_RETRY_MAX)
		return Y_EINVAL;
	if (!(pt = malloc(len - WA_GCM_TAG_LEN + 1)))
		return Y_ENOMEM;
	rc = wa_hkdf_sha256(key, sizeof(key), media_key, WA_MEDIA_KEY_LEN, NULL, 0,
			    (const uint8_t *)retry_info, strlen(retry_info));
	rc = rc ?: wa_aes_gcm_decrypt(pt, key, iv, WA_MEDIA_RETRY_IV_LEN, (const uint8_t *)msg_id,
				      strlen(msg_id), ct, len);
	rc = rc ?: wa_pb_unpack(d, pt, len - WA_GCM_TAG_LEN, msg);
	OPENSSL_cleanse(key, sizeof(key));
	free(pt);
	return rc;
}

int wa_media_retry_receipt_seal(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
				const uint8_t iv[WA_MEDIA_RETRY_IV_LEN], uint8_t **out,
				size_t *outlen)
{
	Wa__ServerErrorReceipt r = WA__SERVER_ERROR_RECEIPT__INIT;

	r.stanzaid = (char *)msg_id;
	return seal(media_key, msg_id, iv, &r.base, out, outlen);
}

int wa_media_retry_receipt_open(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
				const uint8_t iv[WA_MEDIA_RETRY_IV_LEN], const uint8_t *ct,
				size_t len, char **stanza_id)
{
	Wa__ServerErrorReceipt *r = NULL;
	int rc = open_pb(media_key, msg_id, iv, ct, len, &wa__server_error_receipt__descriptor,
			 (ProtobufCMessage **)&r);

	*stanza_id = NULL;
	if (!rc && (!r->stanzaid || strcmp(r->stanzaid, msg_id)))
		rc = Y_EINVAL;
	if (!rc && !(*stanza_id = strdup(r->stanzaid)))
		rc = Y_ENOMEM;
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	return rc;
}

int wa_media_retry_notif_seal(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
			      const char *direct_path, enum wa_media_retry_result result,
			      const uint8_t iv[WA_MEDIA_RETRY_IV_LEN], uint8_t **out,
			      size_t *outlen)
{
	Wa__MediaRetryNotification n = WA__MEDIA_RETRY_NOTIFICATION__INIT;

	n.stanzaid = (char *)msg_id;
	n.directpath = (char *)direct_path;
	n.has_result = 1;
	n.result = (Wa__MediaRetryNotification__ResultType)result;
	return seal(media_key, msg_id, iv, &n.base, out, outlen);
}

int wa_media_retry_notif_open(const uint8_t media_key[WA_MEDIA_KEY_LEN], const char *msg_id,
			      const uint8_t iv[WA_MEDIA_RETRY_IV_LEN], const uint8_t *ct, size_t len,
			      int *result, char **direct_path)
{
	Wa__MediaRetryNotification *n = NULL;
	int rc = open_pb(media_key, msg_id, iv, ct, len, &wa__media_retry_notification__descriptor,
			 (ProtobufCMessage **)&n);

	*direct_path = NULL;
	*result = WA_MEDIA_RETRY_GENERAL_ERROR;
	/* a stanzaId, when there, names this message */
	if (!rc && n->stanzaid && strcmp(n->stanzaid, msg_id))
		rc = Y_EINVAL;
	if (!rc && n->has_result)
		*result = (int)n->result;
	if (!rc && n->directpath && !(*direct_path = strdup(n->directpath)))
		rc = Y_ENOMEM;
	if (n)
		protobuf_c_message_free_unpacked(&n->base, NULL);
	return rc;
}
