/*
 * The text of a pairing QR code (protocol-map.md §5.1 step 3), for both
 * ends: the companion builds it from a pair-device ref and its keys, the
 * phone (the simulator) parses what was scanned.
 *
 *   https://wa.me/settings/linked_devices#ref,noise,identity,adv,clientType
 *
 * noise, identity: the companion's Noise static and Signal identity public
 * keys; adv: its 32-byte adv secret; each standard base64 with padding.
 * clientType: one short code (PairClientType: "1" Chrome, ...). Older
 * clients (Baileys 6) show the bare "ref,noise,identity,adv".
 *
 * Pure functions: no I/O, no allocation.
 */
#ifndef YESAPP_WA_QRTEXT_H
#define YESAPP_WA_QRTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "wa/crypto.h"

#define WA_QR_PREFIX "https://wa.me/settings/linked_devices#"
#define WA_QR_REF_MAX 256     /* longest ref accepted */
#define WA_QR_TYPE_MAX 4      /* longest clientType accepted */
/* the longest text wa_qr_build makes, with its NUL */
#define WA_QR_TEXT_MAX (sizeof(WA_QR_PREFIX) + WA_QR_REF_MAX + 3 * 45 + WA_QR_TYPE_MAX + 4)

struct wa_qr {
	const char *ref;       /* borrowed from the parsed text, not NUL-terminated */
	size_t ref_len;
	uint8_t noise[WA_KEY_LEN], identity[WA_KEY_LEN], adv[32];
	char type[WA_QR_TYPE_MAX + 1]; /* "" when the text had no fifth field */
};

/*
 * Builds the URL form into out. ref: 1..WA_QR_REF_MAX bytes without ',' or
 * '#'; type: 1..WA_QR_TYPE_MAX letters or digits. Y_EINVAL for either,
 * Y_ETOOBIG when cap is too small (nothing usable is left in out).
 */
int wa_qr_build(const char *ref, size_t ref_len, const uint8_t noise[WA_KEY_LEN],
		const uint8_t identity[WA_KEY_LEN], const uint8_t adv[32], const char *type,
		char *out, size_t cap);

/*
 * Parses a NUL-terminated QR text: anything up to the first '#' is skipped
 * (the URL), then 4 or 5 comma-separated fields (the ref as wa_qr_build
 * takes it, the type too when present); each key must decode
 * (standard or URL alphabet, padding optional) to exactly its size. 0 or
 * Y_EINVAL (out is then unspecified).
 */
int wa_qr_parse(const char *text, struct wa_qr *out);

#endif
