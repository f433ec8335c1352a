/*
 * Fuzzes the app-state decoders of src/wa/appstate.c. The input is
 *   - decoded as a patch, a snapshot and a stored state as received: none
 *     may crash, and a patch no key made is refused;
 *   - when it unpacks as a SyncActionValue, encoded into a patch under a
 *     fixed key and decoded back: that must succeed with the same LTHash
 *     and one mutation (so the decryption, SyncActionData and index JSON
 *     paths are reached with any action bytes).
 */
#include "util/err.h"
#include "wa/appstate.h"
#include "wa/pb.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t key_id[] = { 7, 7 };
static struct wa_appstate_keys keys;

static int get_key(void *ud, const uint8_t *id, size_t len, struct wa_appstate_keys *out)
{
	(void)ud;
	if (len != sizeof(key_id) || memcmp(id, key_id, len))
		return Y_ENOTFOUND;
	*out = keys;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct wa_appstate_state st, next;
	struct wa_appstate_mutations ms = { 0 };
	ProtobufCMessage *v = NULL;
	struct ybuf p = YBUF_INIT(0);

	if (!init) {
		uint8_t k[32] = { 1, 2, 3 };

		if (wa_appstate_keys_expand(&keys, k, 32))
			abort();
		init = 1;
	}
	wa_appstate_state_init(&st);
	wa_appstate_state_init(&next);
	wa_appstate_decode_patch(&st, "regular_high", data, size, get_key, NULL, &ms);
	wa_appstate_decode_snapshot(&st, "regular_low", data, size, get_key, NULL, &ms);
	wa_appstate_mutations_release(&ms);
	wa_appstate_state_load(&st, data, size);
	wa_appstate_state_release(&st);
	if (size < 4096 && !wa_pb_unpack(&wa__sync_action_value__descriptor, data, size, &v)) {
		const char *idx[] = { "mute", "1@s.whatsapp.net" };
		struct wa_appstate_mutation_in in = { WA_APPSTATE_SET, idx, 2,
						      (const Wa__SyncActionValue *)v, 2 };

		if (wa_appstate_encode_patch(&st, "regular_high", key_id, sizeof(key_id), &keys, &in, 1,
					     NULL, &p, &next) ||
		    wa_appstate_decode_patch(&st, "regular_high", p.data, p.len, get_key, NULL, &ms) ||
		    ms.n != 1 || memcmp(st.hash, next.hash, sizeof(st.hash)))
			abort();
		protobuf_c_message_free_unpacked(v, NULL);
	}
	wa_appstate_mutations_release(&ms);
	wa_appstate_state_release(&st);
	wa_appstate_state_release(&next);
	ybuf_release(&p);
	return 0;
}
