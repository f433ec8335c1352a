/*
 * The ClientPayload our client sends in ClientFinish (protocol-map.md §3),
 * built like current whatsmeow (store/clientpayload.go): version, user
 * agent, web info, DeviceProps with a history-sync config.
 */
#ifndef YESAPP_WA_PAYLOAD_H
#define YESAPP_WA_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct wa_version {
	uint32_t primary, secondary, tertiary;
};

/* Parses "P.S.T" (three decimal numbers of at most 10 digits, each fitting
 * 32 bits; P non-zero). 0 or Y_EINVAL. */
int wa_version_parse(const char *s, struct wa_version *out);
/* The same syntax into three numbers, 0.x.y allowed (the simulator's
 * minimum). 0 or Y_EINVAL. */
int wa_version_parse3(const char *s, uint32_t out[3]);
/* Writes "P.S.T" into out (at least 36 bytes). */
void wa_version_format(const struct wa_version *v, char *out, size_t cap);

/* The WhatsApp Web version we announce (whatsmeow HEAD: 2.3000.1045649367). */
extern const struct wa_version wa_payload_version;

/* What a new device registers with. All pointers borrowed. */
struct wa_payload_reg {
	uint32_t registration_id;
	const uint8_t *identity_pub;     /* 32 bytes */
	uint32_t signed_prekey_id;       /* sent as 3 bytes big-endian */
	const uint8_t *signed_prekey_pub;/* 32 bytes */
	const uint8_t *signed_prekey_sig;/* 64 bytes */
	const char *os;                  /* DeviceProps.os; NULL = "YesApp" */
	const struct wa_version *version;/* NULL = wa_payload_version */
};

/* Appends the registration ClientPayload (passive=false, pull=false,
 * devicePairingData with buildHash = MD5 of "p.s.t" and DeviceProps). */
int wa_payload_registration(const struct wa_payload_reg *reg, struct ybuf *out);
/* Appends the login ClientPayload for user `username` (phone number as a
 * number) and device number `device` (passive=true, pull=true,
 * lidDbMigrated=true, lc=1, as whatsmeow). */
int wa_payload_login(uint64_t username, uint32_t device, struct ybuf *out);
/* The same announcing version v (NULL = wa_payload_version). */
int wa_payload_login_v(uint64_t username, uint32_t device, const struct wa_version *v,
		       struct ybuf *out);

/* Decodes a ClientPayload and appends it as one-line JSON (pb.h format);
 * devicePairingData.deviceProps is decoded too and shown as
 * "devicePropsDecoded". Y_EINVAL if the bytes are not a ClientPayload. */
int wa_payload_to_json(const uint8_t *data, size_t len, struct ybuf *out);

#endif
