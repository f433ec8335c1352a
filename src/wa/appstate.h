/*
 * App state (syncd) crypto, role-neutral (docs/appstate.md). WhatsApp keeps
 * per-account settings (push name, archive, pin, mute, read, delete-for-me)
 * in collections (critical_block, critical_unblock_low, regular_high,
 * regular_low, regular) of encrypted mutations. One device writes a
 * SyncdPatch; the server numbers it and the other devices fetch it.
 *
 * Keys: a 32-byte app-state sync key (shared by the phone in an
 * APP_STATE_SYNC_KEY_SHARE) expands with HKDF-SHA256(no salt, "WhatsApp
 * Mutation Keys", 160) into index, value-encryption, value-MAC, snapshot-MAC
 * and patch-MAC keys, 32 bytes each.
 *
 * A mutation's record: index blob = HMAC-SHA256(index key, index JSON);
 * value blob = iv(16) || AES-256-CBC(SyncActionData) || value MAC, the value
 * MAC being HMAC-SHA512(value-MAC key, [op + 1] || keyId || iv||ciphertext ||
 * u64be(len(keyId) + 1)) cut to 32 bytes.
 *
 * Integrity: a collection's state is its version and a 128-byte LTHash: the
 * pointwise sum (little-endian uint16, wrapping) of HKDF-SHA256(value MAC,
 * no salt, "WhatsApp Patch Integrity", 128) over every live SET. A SET over a
 * live index first subtracts that index's old value MAC; a REMOVE only
 * subtracts. Snapshot MAC = HMAC-SHA256(snapshot key, hash || u64be(version)
 * || name); patch MAC = HMAC-SHA256(patch key, snapshotMac || each value MAC
 * || u64be(version) || name). So a state also keeps the value MAC of every
 * live index (struct wa_appstate_mac).
 *
 * No I/O, no threads: every function works on what it is given. Decoders
 * are bounded (WA_APPSTATE_*_MAX) and fuzzed (tests/fuzz/fuzz_appstate.c).
 */
#ifndef YESAPP_WA_APPSTATE_H
#define YESAPP_WA_APPSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "wa.pb-c.h"

#define WA_APPSTATE_HASH_LEN 128
#define WA_APPSTATE_MAC_LEN 32
#define WA_APPSTATE_KEYID_MAX 64     /* key id bytes we accept */
#define WA_APPSTATE_PATCH_MAX (4u << 20) /* patch or snapshot bytes we decode */
#define WA_APPSTATE_MUTATIONS_MAX 20000 /* mutations in one patch or snapshot */
#define WA_APPSTATE_MACS_MAX 200000  /* live indexes one state keeps */
#define WA_APPSTATE_INDEX_MAX 16     /* strings in one index */

/* The collections, in the order whatsmeow lists them. */
extern const char *const wa_appstate_names[5];
/* 1 if name is one of wa_appstate_names. */
int wa_appstate_name_valid(const char *name);

enum wa_appstate_op {
	WA_APPSTATE_SET = 0,
	WA_APPSTATE_REMOVE = 1,
};

/* The five keys one sync key expands to. */
struct wa_appstate_keys {
	uint8_t index[32];
	uint8_t value_enc[32];
	uint8_t value_mac[32];
	uint8_t snapshot_mac[32];
	uint8_t patch_mac[32];
};

int wa_appstate_keys_expand(struct wa_appstate_keys *k, const uint8_t *key_data, size_t len);

/* LTHash add / subtract of one value MAC. */
int wa_appstate_lthash_add(uint8_t hash[WA_APPSTATE_HASH_LEN],
			   const uint8_t value_mac[WA_APPSTATE_MAC_LEN]);
int wa_appstate_lthash_sub(uint8_t hash[WA_APPSTATE_HASH_LEN],
			   const uint8_t value_mac[WA_APPSTATE_MAC_LEN]);

/* One live index of a collection and its SET's value MAC. */
struct wa_appstate_mac {
	uint8_t index_mac[WA_APPSTATE_MAC_LEN];
	uint8_t value_mac[WA_APPSTATE_MAC_LEN];
};

/* A collection's state as one device knows it. Embedded: _init/_release. */
struct wa_appstate_state {
	uint64_t version;
	uint8_t hash[WA_APPSTATE_HASH_LEN];
	struct wa_appstate_mac *macs; /* owned */
	size_t n, cap;
	/* private: an open-addressing index of macs by index MAC (position + 1,
	 * 0 empty, UINT32_MAX removed), built when first needed, so applying a
	 * patch costs its mutations, not mutations x live entries */
	uint32_t *slots;
	size_t nslots, ntomb;
};

void wa_appstate_state_init(struct wa_appstate_state *st);
void wa_appstate_state_release(struct wa_appstate_state *st);
/* dst (initialised or released) becomes a deep copy of src. */
int wa_appstate_state_copy(struct wa_appstate_state *dst, const struct wa_appstate_state *src);
/* Storage form: u64be version || hash || u32be n || n × (index MAC, value
 * MAC). Load replaces st (bounded; Y_EINVAL on a bad blob, st then empty). */
int wa_appstate_state_save(const struct wa_appstate_state *st, struct ybuf *out);
int wa_appstate_state_load(struct wa_appstate_state *st, const uint8_t *p, size_t len);

int wa_appstate_snapshot_mac(uint8_t out[WA_APPSTATE_MAC_LEN],
			     const uint8_t hash[WA_APPSTATE_HASH_LEN], uint64_t version,
			     const char *name, const uint8_t key[32]);

/* One mutation to write. index: index_n strings (JSON-encoded here, as
 * JSON.stringify does); value: the action (its timestamp set by the
 * caller); version: the action's version (e.g. 3 for deleteMessageForMe). */
struct wa_appstate_mutation_in {
	enum wa_appstate_op op;
	const char *const *index;
	size_t index_n;
	const Wa__SyncActionValue *value;
	int32_t version;
};

/*
 * Encodes a SyncdPatch of n mutations on top of st for collection name with
 * sync key key_id/keys, appending its bytes to out (without a version: the
 * server numbers it, st->version + 1). ivs: n × 16 bytes, or NULL for
 * random ones. *next (initialised or released) receives the state after
 * the patch; st is left as is.
 */
int wa_appstate_encode_patch(const struct wa_appstate_state *st, const char *name,
			     const uint8_t *key_id, size_t key_id_len,
			     const struct wa_appstate_keys *keys,
			     const struct wa_appstate_mutation_in *m, size_t n, const uint8_t *ivs,
			     struct ybuf *out, struct wa_appstate_state *next);

/* One decoded mutation (owned by a struct wa_appstate_mutations). */
struct wa_appstate_mutation {
	enum wa_appstate_op op;
	char *index_json;     /* NUL-terminated */
	char **index;         /* index_n strings */
	size_t index_n;
	Wa__SyncActionData *data; /* data->value may be NULL */
	int32_t version;      /* the action's version */
	uint64_t patch_version;
	uint8_t index_mac[WA_APPSTATE_MAC_LEN];
	uint8_t value_mac[WA_APPSTATE_MAC_LEN];
};

struct wa_appstate_mutations {
	struct wa_appstate_mutation *v;
	size_t n, cap;
};

void wa_appstate_mutations_release(struct wa_appstate_mutations *ms);

/* Finds the expanded keys of key_id: 0, Y_ENOTFOUND when unknown. */
typedef int (*wa_appstate_key_fn)(void *ud, const uint8_t *key_id, size_t len,
				  struct wa_appstate_keys *out);

/*
 * Decodes and verifies one patch of collection name on top of *st: patch
 * MAC, every value MAC and index MAC, then the snapshot MAC of the state it
 * leads to. The patch's version is its own, or st->version + 1 when absent
 * (as Baileys reads the server's answer); it must be above st->version. On
 * success *st is the new state and the mutations are appended to out; on
 * failure neither changes. Y_ECRYPTO on a MAC or decryption failure,
 * Y_ENOTFOUND on an unknown key, Y_EINVAL on malformed bytes,
 * Y_EUNSUPPORTED on external mutations (not fetched here).
 */
int wa_appstate_decode_patch(struct wa_appstate_state *st, const char *name, const uint8_t *data,
			     size_t len, wa_appstate_key_fn get_key, void *ud,
			     struct wa_appstate_mutations *out);

/* Decodes and verifies a SyncdSnapshot (all records SET, MAC over the state
 * they make); on success *st is replaced by that state and the mutations
 * appended to out. Errors as wa_appstate_decode_patch. */
int wa_appstate_decode_snapshot(struct wa_appstate_state *st, const char *name,
				const uint8_t *data, size_t len, wa_appstate_key_fn get_key,
				void *ud, struct wa_appstate_mutations *out);

/* Appends index as a JSON array of strings (JSON.stringify's escaping). */
int wa_appstate_index_json(const char *const *index, size_t n, struct ybuf *out);

#endif
