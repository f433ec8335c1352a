/* App state (syncd) crypto (see appstate.h). */
#include "wa/appstate.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "util/err.h"
#include "wa/crypto.h"
#include "wa/pb.h"

const char *const wa_appstate_names[5] = {
	"critical_block", "critical_unblock_low", "regular_high", "regular", "regular_low",
};

static const char keys_info[] = "WhatsApp Mutation Keys";
static const char lthash_info[] = "WhatsApp Patch Integrity";

int wa_appstate_name_valid(const char *name)
{
	for (size_t i = 0; name && i < 5; i++)
		if (!strcmp(name, wa_appstate_names[i]))
			return 1;
	return 0;
}

int wa_appstate_keys_expand(struct wa_appstate_keys *k, const uint8_t *key_data, size_t len)
{
	uint8_t out[160];
	int rc;

	if (!len)
		return Y_EINVAL;
	rc = wa_hkdf_sha256(out, sizeof(out), key_data, len, NULL, 0, (const uint8_t *)keys_info,
			    strlen(keys_info));
	if (!rc) {
		memcpy(k->index, out, 32);
		memcpy(k->value_enc, out + 32, 32);
		memcpy(k->value_mac, out + 64, 32);
		memcpy(k->snapshot_mac, out + 96, 32);
		memcpy(k->patch_mac, out + 128, 32);
	}
	OPENSSL_cleanse(out, sizeof(out));
	return rc;
}

static int lthash_op(uint8_t *hash, const uint8_t *value_mac, int sub)
{
	uint8_t x[WA_APPSTATE_HASH_LEN];
	int rc = wa_hkdf_sha256(x, sizeof(x), value_mac, WA_APPSTATE_MAC_LEN, NULL, 0,
				(const uint8_t *)lthash_info, strlen(lthash_info));

	if (rc)
		return rc;
	for (size_t i = 0; i < WA_APPSTATE_HASH_LEN; i += 2) {
		uint16_t a = (uint16_t)(hash[i] | hash[i + 1] << 8);
		uint16_t b = (uint16_t)(x[i] | x[i + 1] << 8);
		uint16_t r = sub ? (uint16_t)(a - b) : (uint16_t)(a + b);

		hash[i] = (uint8_t)r;
		hash[i + 1] = (uint8_t)(r >> 8);
	}
	return 0;
}

int wa_appstate_lthash_add(uint8_t hash[WA_APPSTATE_HASH_LEN],
			   const uint8_t value_mac[WA_APPSTATE_MAC_LEN])
{
	return lthash_op(hash, value_mac, 0);
}

int wa_appstate_lthash_sub(uint8_t hash[WA_APPSTATE_HASH_LEN],
			   const uint8_t value_mac[WA_APPSTATE_MAC_LEN])
{
	return lthash_op(hash, value_mac, 1);
}

/* ---- state ---- */

void wa_appstate_state_init(struct wa_appstate_state *st)
{
	memset(st, 0, sizeof(*st));
}

void wa_appstate_state_release(struct wa_appstate_state *st)
{
	free(st->macs);
	free(st->slots);
	wa_appstate_state_init(st);
}

int wa_appstate_state_copy(struct wa_appstate_state *dst, const struct wa_appstate_state *src)
{
	struct wa_appstate_mac *m = NULL;

	if (src->n && !(m = malloc(src->n * sizeof(*m))))
		return Y_ENOMEM;
	if (src->n)
		memcpy(m, src->macs, src->n * sizeof(*m));
	wa_appstate_state_release(dst);
	dst->version = src->version;
	memcpy(dst->hash, src->hash, sizeof(dst->hash));
	dst->macs = m;
	dst->n = dst->cap = src->n;
	return 0;
}

/* ---- the index of live entries by index MAC ---- */

#define SLOT_GONE UINT32_MAX

/* Where index_mac's probe sequence starts (an HMAC output: its first bytes
 * are as good as any hash of it). */
static size_t slot_home(const struct wa_appstate_state *st, const uint8_t *index_mac)
{
	uint64_t k;

	memcpy(&k, index_mac, sizeof(k));
	return (size_t)k & (st->nslots - 1);
}

/* The slot holding index_mac, or -1. */
static ssize_t slot_find(const struct wa_appstate_state *st, const uint8_t *index_mac)
{
	size_t j = slot_home(st, index_mac);

	for (size_t probes = 0; probes < st->nslots; probes++, j = (j + 1) & (st->nslots - 1)) {
		uint32_t v = st->slots[j];

		if (!v)
			return -1;
		if (v != SLOT_GONE &&
		    !memcmp(st->macs[v - 1].index_mac, index_mac, WA_APPSTATE_MAC_LEN))
			return (ssize_t)j;
	}
	return -1;
}

/* Indexes entry pos, whose index MAC is not indexed yet. */
static void slot_put(struct wa_appstate_state *st, size_t pos)
{
	size_t j = slot_home(st, st->macs[pos].index_mac);

	while (st->slots[j] && st->slots[j] != SLOT_GONE)
		j = (j + 1) & (st->nslots - 1);
	if (st->slots[j] == SLOT_GONE)
		st->ntomb--;
	st->slots[j] = (uint32_t)pos + 1;
}

/* Makes the index current and roomy enough for one more entry: at most
 * half full, a quarter of it tombstones at most (else rebuilt). */
static int index_ready(struct wa_appstate_state *st)
{
	size_t ns = 64;
	uint32_t *t;

	if (st->slots && 2 * (st->n + 1 + st->ntomb) <= st->nslots && 4 * st->ntomb <= st->nslots)
		return 0;
	while (ns < 4 * (st->n + 1))
		ns <<= 1;
	if (!(t = calloc(ns, sizeof(*t))))
		return Y_ENOMEM;
	free(st->slots);
	st->slots = t;
	st->nslots = ns;
	st->ntomb = 0;
	for (size_t i = 0; i < st->n; i++)
		slot_put(st, i);
	return 0;
}

/* Applies one mutation to st's hash and live indexes. */
static int state_apply(struct wa_appstate_state *st, enum wa_appstate_op op,
		       const uint8_t *index_mac, const uint8_t *value_mac)
{
	ssize_t j, i;
	int rc;

	if ((rc = index_ready(st)))
		return rc;
	j = slot_find(st, index_mac);
	i = j < 0 ? -1 : (ssize_t)st->slots[j] - 1;
	if (i >= 0 && (rc = wa_appstate_lthash_sub(st->hash, st->macs[i].value_mac)))
		return rc;
	if (op == WA_APPSTATE_REMOVE) {
		if (i >= 0) {
			size_t last = --st->n;

			st->slots[j] = SLOT_GONE;
			st->ntomb++;
			if ((size_t)i != last) { /* the last entry moves into i's place */
				ssize_t k;

				st->macs[i] = st->macs[last];
				k = slot_find(st, st->macs[i].index_mac); /* finds last's slot */
				if (k >= 0)
					st->slots[k] = (uint32_t)i + 1;
				else /* cannot happen; rebuilt at the next use */
					st->ntomb = st->nslots;
			}
		}
		return 0;
	}
	if ((rc = wa_appstate_lthash_add(st->hash, value_mac)))
		return rc;
	if (i < 0) {
		if (st->n >= WA_APPSTATE_MACS_MAX)
			return Y_ETOOBIG;
		if (st->n == st->cap) {
			size_t cap = st->cap ? st->cap * 2 : 16;
			struct wa_appstate_mac *m = realloc(st->macs, cap * sizeof(*m));

			if (!m)
				return Y_ENOMEM;
			st->macs = m;
			st->cap = cap;
		}
		i = (ssize_t)st->n++;
		memcpy(st->macs[i].index_mac, index_mac, WA_APPSTATE_MAC_LEN);
		slot_put(st, (size_t)i);
	}
	memcpy(st->macs[i].value_mac, value_mac, WA_APPSTATE_MAC_LEN);
	return 0;
}

static void put_u64be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_u64be(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int wa_appstate_state_save(const struct wa_appstate_state *st, struct ybuf *out)
{
	uint8_t head[8 + WA_APPSTATE_HASH_LEN + 4];
	int rc;

	put_u64be(head, st->version);
	memcpy(head + 8, st->hash, WA_APPSTATE_HASH_LEN);
	head[136] = (uint8_t)(st->n >> 24);
	head[137] = (uint8_t)(st->n >> 16);
	head[138] = (uint8_t)(st->n >> 8);
	head[139] = (uint8_t)st->n;
	rc = ybuf_append(out, head, sizeof(head));
	if (!rc && st->n)
		rc = ybuf_append(out, st->macs, st->n * sizeof(*st->macs));
	return rc;
}

int wa_appstate_state_load(struct wa_appstate_state *st, const uint8_t *p, size_t len)
{
	size_t n;

	wa_appstate_state_release(st);
	if (len < 140)
		return Y_EINVAL;
	n = (size_t)p[136] << 24 | (size_t)p[137] << 16 | (size_t)p[138] << 8 | p[139];
	if (n > WA_APPSTATE_MACS_MAX || len != 140 + n * sizeof(struct wa_appstate_mac))
		return Y_EINVAL;
	if (n && !(st->macs = malloc(n * sizeof(*st->macs))))
		return Y_ENOMEM;
	st->version = get_u64be(p);
	memcpy(st->hash, p + 8, WA_APPSTATE_HASH_LEN);
	if (n)
		memcpy(st->macs, p + 140, n * sizeof(*st->macs));
	st->n = st->cap = n;
	return 0;
}

/* ---- MACs ---- */

int wa_appstate_snapshot_mac(uint8_t out[WA_APPSTATE_MAC_LEN],
			     const uint8_t hash[WA_APPSTATE_HASH_LEN], uint64_t version,
			     const char *name, const uint8_t key[32])
{
	uint8_t buf[WA_APPSTATE_HASH_LEN + 8 + 64];
	size_t nl = strlen(name);

	if (nl > 64)
		return Y_EINVAL;
	memcpy(buf, hash, WA_APPSTATE_HASH_LEN);
	put_u64be(buf + WA_APPSTATE_HASH_LEN, version);
	memcpy(buf + WA_APPSTATE_HASH_LEN + 8, name, nl);
	return wa_hmac_sha256(out, key, 32, buf, WA_APPSTATE_HASH_LEN + 8 + nl);
}

/* HMAC-SHA256(patch key, snapshotMac || value MACs || u64be(version) || name). */
static int patch_mac(uint8_t out[32], const uint8_t *snap_mac, size_t snap_len,
		     const uint8_t *const *value_macs, size_t n, uint64_t version, const char *name,
		     const uint8_t key[32])
{
	struct ybuf b = YBUF_INIT(0);
	uint8_t v[8];
	int rc;

	put_u64be(v, version);
	rc = ybuf_append(&b, snap_mac, snap_len);
	for (size_t i = 0; !rc && i < n; i++)
		rc = ybuf_append(&b, value_macs[i], WA_APPSTATE_MAC_LEN);
	rc = rc ?: ybuf_append(&b, v, 8);
	rc = rc ?: ybuf_append_str(&b, name);
	rc = rc ?: wa_hmac_sha256(out, key, 32, b.data, b.len);
	ybuf_release(&b);
	return rc;
}

/* HMAC-SHA512(value-MAC key, [op+1] || keyId || data || u64be(len(keyId)+1))[:32]. */
static int value_mac(uint8_t out[32], enum wa_appstate_op op, const uint8_t *data, size_t len,
		     const uint8_t *key_id, size_t key_id_len, const uint8_t key[32])
{
	struct ybuf b = YBUF_INIT(0);
	uint8_t opb = (uint8_t)(op + 1), tail[8], full[64];
	int rc;

	put_u64be(tail, key_id_len + 1);
	rc = ybuf_append(&b, &opb, 1);
	rc = rc ?: ybuf_append(&b, key_id, key_id_len);
	rc = rc ?: ybuf_append(&b, data, len);
	rc = rc ?: ybuf_append(&b, tail, 8);
	rc = rc ?: wa_hmac_sha512(full, key, 32, b.data, b.len);
	if (!rc)
		memcpy(out, full, 32);
	ybuf_release(&b);
	return rc;
}

/* ---- index JSON ---- */

int wa_appstate_index_json(const char *const *index, size_t n, struct ybuf *out)
{
	int rc = ybuf_append_byte(out, '[');

	for (size_t i = 0; !rc && i < n; i++) {
		const unsigned char *s = (const unsigned char *)index[i];

		rc = i ? ybuf_append_byte(out, ',') : 0;
		rc = rc ?: ybuf_append_byte(out, '"');
		for (; !rc && *s; s++) {
			switch (*s) {
			case '"': rc = ybuf_append_str(out, "\\\""); break;
			case '\\': rc = ybuf_append_str(out, "\\\\"); break;
			case '\b': rc = ybuf_append_str(out, "\\b"); break;
			case '\f': rc = ybuf_append_str(out, "\\f"); break;
			case '\n': rc = ybuf_append_str(out, "\\n"); break;
			case '\r': rc = ybuf_append_str(out, "\\r"); break;
			case '\t': rc = ybuf_append_str(out, "\\t"); break;
			default:
				rc = *s < 0x20 ? ybuf_printf(out, "\\u%04x", *s)
					       : ybuf_append_byte(out, *s);
			}
		}
		rc = rc ?: ybuf_append_byte(out, '"');
	}
	return rc ?: ybuf_append_byte(out, ']');
}

/* ---- encode ---- */

int wa_appstate_encode_patch(const struct wa_appstate_state *st, const char *name,
			     const uint8_t *key_id, size_t key_id_len,
			     const struct wa_appstate_keys *keys,
			     const struct wa_appstate_mutation_in *m, size_t n, const uint8_t *ivs,
			     struct ybuf *out, struct wa_appstate_state *next)
{
	Wa__SyncdMutation *muts = NULL, **mutp = NULL;
	Wa__SyncdRecord *recs = NULL;
	Wa__SyncdIndex *idx = NULL;
	Wa__SyncdValue *val = NULL;
	uint8_t (*vmacs)[32] = NULL, (*imacs)[32] = NULL, snap[32], pmac[32];
	const uint8_t **vmacp = NULL;
	struct ybuf *blobs = NULL;
	struct wa_appstate_state work;
	Wa__KeyId kid = WA__KEY_ID__INIT;
	Wa__SyncdPatch patch = WA__SYNCD_PATCH__INIT;
	int rc = Y_ENOMEM;

	wa_appstate_state_init(&work);
	if (!n || n > WA_APPSTATE_MUTATIONS_MAX || !key_id_len ||
	    key_id_len > WA_APPSTATE_KEYID_MAX || !wa_appstate_name_valid(name))
		return Y_EINVAL;
	muts = calloc(n, sizeof(*muts));
	mutp = calloc(n, sizeof(*mutp));
	recs = calloc(n, sizeof(*recs));
	idx = calloc(n, sizeof(*idx));
	val = calloc(n, sizeof(*val));
	vmacs = calloc(n, sizeof(*vmacs));
	imacs = calloc(n, sizeof(*imacs));
	vmacp = calloc(n, sizeof(*vmacp));
	blobs = calloc(n, sizeof(*blobs));
	if (!muts || !mutp || !recs || !idx || !val || !vmacs || !imacs || !vmacp || !blobs)
		goto out;
	if ((rc = wa_appstate_state_copy(&work, st)))
		goto out;
	kid.has_id = 1;
	kid.id.data = (uint8_t *)key_id;
	kid.id.len = key_id_len;
	for (size_t i = 0; i < n; i++) {
		Wa__SyncActionData d = WA__SYNC_ACTION_DATA__INIT;
		struct ybuf ij = YBUF_INIT(0), pt = YBUF_INIT(0);
		uint8_t iv[16], *ct = NULL;
		size_t ctlen = 0;

		if (!m[i].value || m[i].index_n == 0 || m[i].index_n > WA_APPSTATE_INDEX_MAX ||
		    (m[i].op != WA_APPSTATE_SET && m[i].op != WA_APPSTATE_REMOVE)) {
			rc = Y_EINVAL;
			goto out;
		}
		ybuf_init(&blobs[i], 0);
		rc = wa_appstate_index_json(m[i].index, m[i].index_n, &ij);
		if (!rc) {
			d.has_index = 1;
			d.index.data = ij.data;
			d.index.len = ij.len;
			d.value = (Wa__SyncActionValue *)m[i].value;
			d.has_padding = 1;
			d.padding.data = NULL;
			d.padding.len = 0;
			d.has_version = 1;
			d.version = m[i].version;
			rc = wa_pb_pack(&d.base, &pt);
		}
		if (!rc) {
			if (ivs)
				memcpy(iv, ivs + 16 * i, 16);
			else
				rc = wa_crypto_random(iv, 16);
		}
		rc = rc ?: wa_aes_cbc_encrypt(&ct, &ctlen, keys->value_enc, iv, pt.data, pt.len);
		rc = rc ?: ybuf_append(&blobs[i], iv, 16);
		rc = rc ?: ybuf_append(&blobs[i], ct, ctlen);
		rc = rc ?: value_mac(vmacs[i], m[i].op, blobs[i].data, blobs[i].len, key_id,
				     key_id_len, keys->value_mac);
		rc = rc ?: ybuf_append(&blobs[i], vmacs[i], 32);
		rc = rc ?: wa_hmac_sha256(imacs[i], keys->index, 32, ij.data, ij.len);
		rc = rc ?: state_apply(&work, m[i].op, imacs[i], vmacs[i]);
		free(ct);
		ybuf_release(&ij);
		ybuf_release(&pt);
		if (rc)
			goto out;
		wa__syncd_index__init(&idx[i]);
		idx[i].has_blob = 1;
		idx[i].blob.data = imacs[i];
		idx[i].blob.len = 32;
		wa__syncd_value__init(&val[i]);
		val[i].has_blob = 1;
		val[i].blob.data = blobs[i].data;
		val[i].blob.len = blobs[i].len;
		wa__syncd_record__init(&recs[i]);
		recs[i].index = &idx[i];
		recs[i].value = &val[i];
		recs[i].keyid = &kid;
		wa__syncd_mutation__init(&muts[i]);
		muts[i].has_operation = 1;
		muts[i].operation = (Wa__SyncdMutation__SyncdOperation)m[i].op;
		muts[i].record = &recs[i];
		mutp[i] = &muts[i];
		vmacp[i] = vmacs[i];
	}
	work.version = st->version + 1;
	rc = wa_appstate_snapshot_mac(snap, work.hash, work.version, name, keys->snapshot_mac);
	rc = rc ?: patch_mac(pmac, snap, 32, vmacp, n, work.version, name, keys->patch_mac);
	if (rc)
		goto out;
	patch.n_mutations = n;
	patch.mutations = mutp;
	patch.has_snapshotmac = 1;
	patch.snapshotmac.data = snap;
	patch.snapshotmac.len = 32;
	patch.has_patchmac = 1;
	patch.patchmac.data = pmac;
	patch.patchmac.len = 32;
	patch.keyid = &kid;
	rc = wa_pb_pack(&patch.base, out);
	if (!rc) {
		wa_appstate_state_release(next);
		*next = work;
		wa_appstate_state_init(&work);
	}
out:
	for (size_t i = 0; blobs && i < n; i++)
		ybuf_release(&blobs[i]);
	wa_appstate_state_release(&work);
	free(muts);
	free(mutp);
	free(recs);
	free(idx);
	free(val);
	free(vmacs);
	free(imacs);
	free(vmacp);
	free(blobs);
	return rc;
}

/* ---- decode ---- */

static void mutation_release(struct wa_appstate_mutation *m)
{
	free(m->index_json);
	for (size_t i = 0; i < m->index_n; i++)
		free(m->index[i]);
	free(m->index);
	if (m->data)
		protobuf_c_message_free_unpacked(&m->data->base, NULL);
	memset(m, 0, sizeof(*m));
}

void wa_appstate_mutations_release(struct wa_appstate_mutations *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		mutation_release(&ms->v[i]);
	free(ms->v);
	memset(ms, 0, sizeof(*ms));
}

/* Parses index JSON (an array of 1..WA_APPSTATE_INDEX_MAX strings). */
static int parse_index(struct wa_appstate_mutation *m, const uint8_t *p, size_t len)
{
	json_t *a;
	size_t n;
	int rc = 0;

	if (!len || len > 65536 || !(m->index_json = malloc(len + 1)))
		return len ? Y_ENOMEM : Y_EINVAL;
	memcpy(m->index_json, p, len);
	m->index_json[len] = 0;
	a = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(a) || !(n = json_array_size(a)) || n > WA_APPSTATE_INDEX_MAX) {
		json_decref(a);
		return Y_EINVAL;
	}
	if (!(m->index = calloc(n, sizeof(char *)))) {
		json_decref(a);
		return Y_ENOMEM;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		json_t *s = json_array_get(a, i);

		if (!json_is_string(s))
			rc = Y_EINVAL;
		else if (!(m->index[i] = strdup(json_string_value(s))))
			rc = Y_ENOMEM;
		else
			m->index_n = i + 1;
	}
	json_decref(a);
	return rc;
}

static int keyid_ok(const Wa__KeyId *k)
{
	return k && k->has_id && k->id.len && k->id.len <= WA_APPSTATE_KEYID_MAX;
}

/* Verifies and opens one record into m (op given), not touching any state. */
static int open_record(const Wa__SyncdRecord *r, enum wa_appstate_op op, wa_appstate_key_fn get_key,
		       void *ud, struct wa_appstate_mutation *m)
{
	struct wa_appstate_keys k;
	const uint8_t *blob;
	uint8_t mac[32], imac[32], *pt = NULL;
	size_t blen, ptlen = 0;
	ProtobufCMessage *msg = NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	m->op = op;
	if (!r || !r->index || !r->index->has_blob || r->index->blob.len != 32 || !r->value ||
	    !r->value->has_blob || !keyid_ok(r->keyid))
		return Y_EINVAL;
	blob = r->value->blob.data;
	blen = r->value->blob.len;
	/* iv + at least one block + MAC */
	if (blen < 16 + 16 + 32 || (blen - 48) % 16)
		return Y_EINVAL;
	if ((rc = get_key(ud, r->keyid->id.data, r->keyid->id.len, &k)))
		return rc;
	rc = value_mac(mac, op, blob, blen - 32, r->keyid->id.data, r->keyid->id.len, k.value_mac);
	if (!rc && wa_memeq_ct(mac, blob + blen - 32, 32))
		rc = Y_ECRYPTO;
	rc = rc ?: wa_aes_cbc_decrypt(&pt, &ptlen, k.value_enc, blob, blob + 16, blen - 48);
	rc = rc ?: wa_pb_unpack(&wa__sync_action_data__descriptor, pt, ptlen, &msg);
	if (!rc) {
		m->data = (Wa__SyncActionData *)msg;
		if (!m->data->has_index)
			rc = Y_EINVAL;
	}
	rc = rc ?: wa_hmac_sha256(imac, k.index, 32, m->data->index.data, m->data->index.len);
	if (!rc && wa_memeq_ct(imac, r->index->blob.data, 32))
		rc = Y_ECRYPTO;
	rc = rc ?: parse_index(m, m->data->index.data, m->data->index.len);
	if (!rc) {
		m->version = m->data->has_version ? m->data->version : 0;
		memcpy(m->index_mac, r->index->blob.data, 32);
		memcpy(m->value_mac, blob + blen - 32, 32);
	}
	free(pt);
	OPENSSL_cleanse(&k, sizeof(k));
	if (rc)
		mutation_release(m);
	return rc;
}

static int push_mutation(struct wa_appstate_mutations *ms, struct wa_appstate_mutation *m)
{
	if (ms->n == ms->cap) {
		size_t cap = ms->cap ? ms->cap * 2 : 8;
		struct wa_appstate_mutation *v = realloc(ms->v, cap * sizeof(*v));

		if (!v)
			return Y_ENOMEM;
		ms->v = v;
		ms->cap = cap;
	}
	ms->v[ms->n++] = *m;
	return 0;
}

/* Opens records r[0..n) (ops[i], or all SET when ops is NULL) applying them to
 * work and collecting them into tmp. */
static int open_all(Wa__SyncdMutation *const *muts, Wa__SyncdRecord *const *recs, size_t n,
		    uint64_t version, wa_appstate_key_fn get_key, void *ud,
		    struct wa_appstate_state *work, struct wa_appstate_mutations *tmp)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < n; i++) {
		struct wa_appstate_mutation m;
		const Wa__SyncdRecord *r = muts ? (muts[i] ? muts[i]->record : NULL) : recs[i];
		enum wa_appstate_op op = WA_APPSTATE_SET;

		if (muts && muts[i] && muts[i]->has_operation) {
			if (muts[i]->operation != WA__SYNCD_MUTATION__SYNCD_OPERATION__SET &&
			    muts[i]->operation != WA__SYNCD_MUTATION__SYNCD_OPERATION__REMOVE)
				return Y_EINVAL;
			op = (enum wa_appstate_op)muts[i]->operation;
		}
		if ((rc = open_record(r, op, get_key, ud, &m)))
			break;
		m.patch_version = version;
		rc = state_apply(work, op, m.index_mac, m.value_mac);
		if (!rc && (rc = push_mutation(tmp, &m)))
			mutation_release(&m);
		else if (rc)
			mutation_release(&m);
	}
	return rc;
}

/* Moves tmp's mutations to the end of out (tmp is left empty); on
 * Y_ENOMEM neither changes (the room is made first, so no mutation is ever
 * in both). */
static int move_all(struct wa_appstate_mutations *out, struct wa_appstate_mutations *tmp)
{
	if (out->cap - out->n < tmp->n) {
		size_t cap = out->n + tmp->n;
		struct wa_appstate_mutation *v = realloc(out->v, cap * sizeof(*v));

		if (!v)
			return Y_ENOMEM;
		out->v = v;
		out->cap = cap;
	}
	if (tmp->n)
		memcpy(out->v + out->n, tmp->v, tmp->n * sizeof(*tmp->v));
	out->n += tmp->n;
	free(tmp->v);
	memset(tmp, 0, sizeof(*tmp));
	return 0;
}

static int check_mac(const uint8_t *got, size_t got_len, const uint8_t *want)
{
	return got_len != 32 || wa_memeq_ct(got, want, 32) ? Y_ECRYPTO : 0;
}

/* The end of a decode: work (at version) must make the expected snapshot
 * MAC; then the mutations go to out and work becomes *st. */
static int commit(struct wa_appstate_state *st, struct wa_appstate_state *work, uint64_t version,
		  const char *name, const uint8_t *key, const uint8_t *want, size_t want_len,
		  struct wa_appstate_mutations *out, struct wa_appstate_mutations *tmp)
{
	uint8_t mac[32];
	int rc;

	work->version = version;
	rc = wa_appstate_snapshot_mac(mac, work->hash, version, name, key);
	rc = rc ?: check_mac(want, want_len, mac);
	rc = rc ?: move_all(out, tmp);
	if (!rc) {
		wa_appstate_state_release(st);
		*st = *work;
		wa_appstate_state_init(work);
	}
	return rc;
}

int wa_appstate_decode_patch(struct wa_appstate_state *st, const char *name, const uint8_t *data,
			     size_t len, wa_appstate_key_fn get_key, void *ud,
			     struct wa_appstate_mutations *out)
{
	ProtobufCMessage *msg = NULL;
	Wa__SyncdPatch *p;
	struct wa_appstate_state work;
	struct wa_appstate_mutations tmp = { 0 };
	struct wa_appstate_keys k;
	const uint8_t **vmacs = NULL;
	uint8_t mac[32];
	uint64_t version;
	int rc;

	wa_appstate_state_init(&work);
	if (len > WA_APPSTATE_PATCH_MAX || !wa_appstate_name_valid(name))
		return Y_EINVAL;
	if ((rc = wa_pb_unpack(&wa__syncd_patch__descriptor, data, len, &msg)))
		return rc;
	p = (Wa__SyncdPatch *)msg;
	version = p->version && p->version->has_version ? p->version->version : st->version + 1;
	if (p->externalmutations) {
		rc = Y_EUNSUPPORTED;
		goto out;
	}
	if (version <= st->version || p->n_mutations > WA_APPSTATE_MUTATIONS_MAX ||
	    !keyid_ok(p->keyid) || !p->has_snapshotmac || !p->has_patchmac) {
		rc = Y_EINVAL;
		goto out;
	}
	if ((rc = get_key(ud, p->keyid->id.data, p->keyid->id.len, &k)))
		goto out;
	if (p->n_mutations && !(vmacs = calloc(p->n_mutations, sizeof(*vmacs)))) {
		rc = Y_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < p->n_mutations; i++) {
		const Wa__SyncdRecord *r = p->mutations[i] ? p->mutations[i]->record : NULL;

		if (!r || !r->value || !r->value->has_blob || r->value->blob.len < 32) {
			rc = Y_EINVAL;
			goto out;
		}
		vmacs[i] = r->value->blob.data + r->value->blob.len - 32;
	}
	rc = patch_mac(mac, p->snapshotmac.data, p->snapshotmac.len, vmacs, p->n_mutations, version,
		       name, k.patch_mac);
	rc = rc ?: check_mac(p->patchmac.data, p->patchmac.len, mac);
	rc = rc ?: wa_appstate_state_copy(&work, st);
	rc = rc ?: open_all(p->mutations, NULL, p->n_mutations, version, get_key, ud, &work, &tmp);
	rc = rc ?: commit(st, &work, version, name, k.snapshot_mac, p->snapshotmac.data,
			  p->snapshotmac.len, out, &tmp);
out:
	OPENSSL_cleanse(&k, sizeof(k));
	free(vmacs);
	wa_appstate_mutations_release(&tmp);
	wa_appstate_state_release(&work);
	protobuf_c_message_free_unpacked(msg, NULL);
	return rc;
}

int wa_appstate_decode_snapshot(struct wa_appstate_state *st, const char *name,
				const uint8_t *data, size_t len, wa_appstate_key_fn get_key,
				void *ud, struct wa_appstate_mutations *out)
{
	ProtobufCMessage *msg = NULL;
	Wa__SyncdSnapshot *s;
	struct wa_appstate_state work;
	struct wa_appstate_mutations tmp = { 0 };
	struct wa_appstate_keys k;
	int rc;

	wa_appstate_state_init(&work);
	memset(&k, 0, sizeof(k));
	if (len > WA_APPSTATE_PATCH_MAX || !wa_appstate_name_valid(name))
		return Y_EINVAL;
	if ((rc = wa_pb_unpack(&wa__syncd_snapshot__descriptor, data, len, &msg)))
		return rc;
	s = (Wa__SyncdSnapshot *)msg;
	if (!s->version || !s->version->has_version || s->n_records > WA_APPSTATE_MUTATIONS_MAX ||
	    !keyid_ok(s->keyid) || !s->has_mac) {
		rc = Y_EINVAL;
		goto out;
	}
	rc = get_key(ud, s->keyid->id.data, s->keyid->id.len, &k);
	rc = rc ?: open_all(NULL, s->records, s->n_records, s->version->version, get_key, ud, &work,
			    &tmp);
	rc = rc ?: commit(st, &work, s->version->version, name, k.snapshot_mac, s->mac.data,
			  s->mac.len, out, &tmp);
out:
	OPENSSL_cleanse(&k, sizeof(k));
	wa_appstate_mutations_release(&tmp);
	wa_appstate_state_release(&work);
	protobuf_c_message_free_unpacked(msg, NULL);
	return rc;
}
