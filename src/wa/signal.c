/*
 * The Signal layer over libsignal-protocol-c (see signal.h). This file owns
 * the glue: libsignal's five store callback tables mapped onto our
 * wa_signal_store, key generation and wire forms, and the session / group
 * ciphers. libsignal objects are reference counted (SIGNAL_UNREF); every
 * function below releases what it created at its single exit.
 */
#include "wa/signal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curve.h>
#include <group_cipher.h>
#include <group_session_builder.h>
#include <key_helper.h>
#include <protocol.h>
#include <ratchet.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <signal_protocol.h>

#include "util/err.h"
#include "wa/crypto.h"

#define DJB_TYPE 0x05
/* Longest group id accepted for sender key names. */
#define GROUP_MAX 200

struct wa_signal {
	struct wa_signal_identity id;
	struct wa_signal_store *store; /* borrowed */
	signal_context *ctx;
	signal_protocol_store_context *sctx;
	int store_err; /* the first Y_* error a store callback hit, 0 if none */
};

/* Maps a libsignal error to ours. Decoding errors are mapped by the callers
 * (they know whether a failure came from parsing). */
static int sg_err(const struct wa_signal *s, int rc)
{
	if (rc >= 0)
		return 0;
	if (s && s->store_err)
		return s->store_err;
	switch (rc) {
	case SG_ERR_NOMEM: return Y_ENOMEM;
	case SG_ERR_INVAL: return Y_EINVAL;
	case SG_ERR_DUPLICATE_MESSAGE: return Y_EEXIST;
	case SG_ERR_INVALID_KEY_ID: return Y_ENOTFOUND;
	case SG_ERR_NO_SESSION: return Y_ENOTFOUND;
	case SG_ERR_INVALID_VERSION: return Y_EUNSUPPORTED;
	case SG_ERR_LEGACY_MESSAGE: return Y_EUNSUPPORTED;
	case SG_ERR_INVALID_PROTO_BUF: return Y_EINVAL;
	default: return Y_ECRYPTO;
	}
}

/* Decodes a raw 32-byte Curve25519 public key. */
static int decode_pub(signal_context *ctx, const uint8_t raw[32], ec_public_key **out)
{
	uint8_t ser[33];

	ser[0] = DJB_TYPE;
	memcpy(ser + 1, raw, 32);
	return curve_decode_point(out, ser, sizeof ser, ctx) ? Y_EINVAL : 0;
}

/* Writes the raw 32 bytes of a public key. */
static int encode_pub(const ec_public_key *key, uint8_t out[32])
{
	signal_buffer *b = NULL;
	int rc = Y_ENOMEM;

	if (ec_public_key_serialize(&b, key))
		goto out;
	rc = Y_ECRYPTO;
	if (signal_buffer_len(b) != 33 || signal_buffer_data(b)[0] != DJB_TYPE)
		goto out;
	memcpy(out, signal_buffer_data(b) + 1, 32);
	rc = 0;
out:
	signal_buffer_free(b);
	return rc;
}

/* ---- addresses -------------------------------------------------------------- */

int wa_signal_address(struct wa_signal_addr *out, const char *user, const char *server,
		      uint8_t raw_agent, uint32_t device, enum wa_signal_addr_style style)
{
	unsigned domain = 0;
	size_t ulen;
	int n;

	if (!out || !user || !*user || device > INT32_MAX)
		return Y_EINVAL;
	ulen = strlen(user);
	if (ulen > WA_SIGNAL_NAME_MAX - 4 || strpbrk(user, "._:@"))
		return Y_EINVAL;
	if (style == WA_SIGNAL_ADDR_DOMAIN) {
		if (!server)
			return Y_EINVAL;
		if (!strcmp(server, "s.whatsapp.net"))
			domain = 0;
		else if (!strcmp(server, "lid"))
			domain = 1;
		else if (!strcmp(server, "hosted"))
			domain = 128;
		else if (!strcmp(server, "hosted.lid"))
			domain = 129;
		else
			domain = raw_agent;
	} else if (style != WA_SIGNAL_ADDR_USER_ONLY) {
		return Y_EINVAL;
	}
	if (domain)
		n = snprintf(out->name, sizeof out->name, "%s_%u", user, domain);
	else
		n = snprintf(out->name, sizeof out->name, "%s", user);
	if (n < 0 || (size_t)n >= sizeof out->name)
		return Y_EINVAL;
	out->device = device;
	return 0;
}

static int addr_ok(const struct wa_signal_addr *a)
{
	size_t n;

	if (!a || a->device > INT32_MAX)
		return 0;
	n = strnlen(a->name, sizeof a->name);
	return n > 0 && n < sizeof a->name && !strchr(a->name, '.');
}

static signal_protocol_address to_sg_addr(const struct wa_signal_addr *a)
{
	signal_protocol_address sa = { a->name, strlen(a->name), (int32_t)a->device };
	return sa;
}

/* Store key "<name>.<device>" of a libsignal address. */
static int addr_key(char *out, size_t cap, const signal_protocol_address *a)
{
	int n;

	if (a->name_len == 0 || a->name_len > WA_SIGNAL_NAME_MAX || a->device_id < 0)
		return SG_ERR_INVAL;
	n = snprintf(out, cap, "%.*s.%d", (int)a->name_len, a->name, (int)a->device_id);
	return n > 0 && (size_t)n < cap ? 0 : SG_ERR_INVAL;
}

/* Store key "<group>::<name>::<device>" of a sender key name. */
static int sender_key(char *out, size_t cap, const signal_protocol_sender_key_name *k)
{
	int n;

	if (k->group_id_len == 0 || k->group_id_len > GROUP_MAX || k->sender.name_len == 0 ||
	    k->sender.name_len > WA_SIGNAL_NAME_MAX || k->sender.device_id < 0)
		return SG_ERR_INVAL;
	n = snprintf(out, cap, "%.*s::%.*s::%d", (int)k->group_id_len, k->group_id,
		     (int)k->sender.name_len, k->sender.name, (int)k->sender.device_id);
	return n > 0 && (size_t)n < cap ? 0 : SG_ERR_INVAL;
}

/* ---- store glue -------------------------------------------------------------------- */

/* Records a store failure so the public call can return it instead of the
 * generic libsignal error it turns into. */
static int store_fail(struct wa_signal *s, int yrc)
{
	if (!s->store_err)
		s->store_err = yrc;
	return yrc == Y_ENOMEM ? SG_ERR_NOMEM : SG_ERR_UNKNOWN;
}

/* Loads kind/key into a new signal_buffer: 1 found, 0 absent, < 0 error. */
static int st_load(struct wa_signal *s, enum wa_signal_kind kind, const char *key, signal_buffer **out)
{
	struct ybuf b = YBUF_INIT(WA_SIGNAL_STORE_RECORD_MAX);
	int rc = s->store->load(s->store->ud, kind, key, &b);

	if (rc == Y_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc) {
		rc = store_fail(s, rc);
		goto out;
	}
	*out = signal_buffer_create(b.data ? b.data : (const uint8_t *)"", b.len);
	rc = *out ? 1 : store_fail(s, Y_ENOMEM);
out:
	if (b.data)
		wa_wipe(b.data, b.len);
	ybuf_release(&b);
	return rc;
}

static int st_save(struct wa_signal *s, enum wa_signal_kind kind, const char *key, const uint8_t *data,
		   size_t len)
{
	int rc = s->store->save(s->store->ud, kind, key, data, len);
	return rc ? store_fail(s, rc) : 0;
}

static int st_contains(struct wa_signal *s, enum wa_signal_kind kind, const char *key)
{
	signal_buffer *b = NULL;
	int rc = st_load(s, kind, key, &b);

	signal_buffer_bzero_free(b);
	return rc;
}

static int st_remove(struct wa_signal *s, enum wa_signal_kind kind, const char *key)
{
	int rc = s->store->remove(s->store->ud, kind, key);
	return rc ? store_fail(s, rc) : 0;
}

static int cb_load_session(signal_buffer **record, signal_buffer **user_record,
			   const signal_protocol_address *a, void *ud)
{
	char key[WA_SIGNAL_STORE_KEY_MAX];

	(void)user_record;
	if (addr_key(key, sizeof key, a))
		return SG_ERR_INVAL;
	return st_load(ud, WA_SIGNAL_SESSION, key, record);
}

struct devices_walk {
	signal_int_list *list;
	size_t prefix_len;
};

static int collect_device(const char *key, void *arg)
{
	struct devices_walk *w = arg;
	const char *d = key + w->prefix_len;
	char *end;
	long v = strtol(d, &end, 10);

	if (*d && !*end && v >= 0 && v <= INT32_MAX)
		return signal_int_list_push_back(w->list, (int)v) ? Y_ENOMEM : 0;
	return 0;
}

static int cb_sub_device_sessions(signal_int_list **sessions, const char *name, size_t name_len,
				  void *ud)
{
	struct wa_signal *s = ud;
	char prefix[WA_SIGNAL_NAME_MAX + 2];
	struct devices_walk w;
	int rc;

	if (name_len == 0 || name_len > WA_SIGNAL_NAME_MAX)
		return SG_ERR_INVAL;
	snprintf(prefix, sizeof prefix, "%.*s.", (int)name_len, name);
	w.prefix_len = name_len + 1;
	w.list = signal_int_list_alloc();
	if (!w.list)
		return SG_ERR_NOMEM;
	rc = s->store->each(s->store->ud, WA_SIGNAL_SESSION, prefix, collect_device, &w);
	if (rc) {
		signal_int_list_free(w.list);
		return store_fail(s, rc < 0 ? rc : Y_EDB);
	}
	*sessions = w.list;
	return (int)signal_int_list_size(w.list);
}

static int cb_store_session(const signal_protocol_address *a, uint8_t *record, size_t len,
			    uint8_t *user_record, size_t user_len, void *ud)
{
	char key[WA_SIGNAL_STORE_KEY_MAX];

	(void)user_record;
	(void)user_len;
	if (addr_key(key, sizeof key, a))
		return SG_ERR_INVAL;
	return st_save(ud, WA_SIGNAL_SESSION, key, record, len);
}

static int cb_contains_session(const signal_protocol_address *a, void *ud)
{
	char key[WA_SIGNAL_STORE_KEY_MAX];

	if (addr_key(key, sizeof key, a))
		return 0;
	return st_contains(ud, WA_SIGNAL_SESSION, key) == 1;
}

static int cb_delete_session(const signal_protocol_address *a, void *ud)
{
	char key[WA_SIGNAL_STORE_KEY_MAX];
	int had;

	if (addr_key(key, sizeof key, a))
		return SG_ERR_INVAL;
	had = st_contains(ud, WA_SIGNAL_SESSION, key);
	if (had < 0)
		return had;
	if (had && st_remove(ud, WA_SIGNAL_SESSION, key))
		return SG_ERR_UNKNOWN;
	return had;
}

static int cb_delete_all_sessions(const char *name, size_t name_len, void *ud)
{
	signal_int_list *devs = NULL;
	int n = cb_sub_device_sessions(&devs, name, name_len, ud);
	int rc = n;

	for (int i = 0; n > 0 && i < n; i++) {
		signal_protocol_address a = { name, name_len, signal_int_list_at(devs, (unsigned)i) };
		if (cb_delete_session(&a, ud) < 0) {
			rc = SG_ERR_UNKNOWN;
			break;
		}
	}
	if (devs)
		signal_int_list_free(devs);
	return rc;
}

static void id_key(char out[16], uint32_t id)
{
	snprintf(out, 16, "%u", (unsigned)id);
}

static int cb_load_pre_key(signal_buffer **record, uint32_t id, void *ud)
{
	char key[16];
	int rc;

	id_key(key, id);
	rc = st_load(ud, WA_SIGNAL_PREKEY, key, record);
	return rc == 1 ? SG_SUCCESS : rc == 0 ? SG_ERR_INVALID_KEY_ID : rc;
}

static int cb_store_pre_key(uint32_t id, uint8_t *record, size_t len, void *ud)
{
	char key[16];

	id_key(key, id);
	return st_save(ud, WA_SIGNAL_PREKEY, key, record, len);
}

static int cb_contains_pre_key(uint32_t id, void *ud)
{
	char key[16];

	id_key(key, id);
	return st_contains(ud, WA_SIGNAL_PREKEY, key) == 1;
}

static int cb_remove_pre_key(uint32_t id, void *ud)
{
	char key[16];

	id_key(key, id);
	return st_remove(ud, WA_SIGNAL_PREKEY, key);
}

static int cb_load_signed_pre_key(signal_buffer **record, uint32_t id, void *ud)
{
	char key[16];
	int rc;

	id_key(key, id);
	rc = st_load(ud, WA_SIGNAL_SIGNED_PREKEY, key, record);
	return rc == 1 ? SG_SUCCESS : rc == 0 ? SG_ERR_INVALID_KEY_ID : rc;
}

static int cb_store_signed_pre_key(uint32_t id, uint8_t *record, size_t len, void *ud)
{
	char key[16];

	id_key(key, id);
	return st_save(ud, WA_SIGNAL_SIGNED_PREKEY, key, record, len);
}

static int cb_contains_signed_pre_key(uint32_t id, void *ud)
{
	char key[16];

	id_key(key, id);
	return st_contains(ud, WA_SIGNAL_SIGNED_PREKEY, key) == 1;
}

static int cb_remove_signed_pre_key(uint32_t id, void *ud)
{
	char key[16];

	id_key(key, id);
	return st_remove(ud, WA_SIGNAL_SIGNED_PREKEY, key);
}

static int cb_get_identity_key_pair(signal_buffer **pub, signal_buffer **priv, void *ud)
{
	struct wa_signal *s = ud;
	uint8_t ser[33];

	ser[0] = DJB_TYPE;
	memcpy(ser + 1, s->id.pub, 32);
	*pub = signal_buffer_create(ser, sizeof ser);
	*priv = signal_buffer_create(s->id.priv, 32);
	if (!*pub || !*priv) {
		signal_buffer_free(*pub);
		signal_buffer_bzero_free(*priv);
		*pub = *priv = NULL;
		return SG_ERR_NOMEM;
	}
	return 0;
}

static int cb_get_local_registration_id(void *ud, uint32_t *id)
{
	*id = ((struct wa_signal *)ud)->id.registration_id;
	return 0;
}

static int cb_save_identity(const signal_protocol_address *a, uint8_t *key_data, size_t key_len,
			    void *ud)
{
	char key[WA_SIGNAL_STORE_KEY_MAX];

	if (addr_key(key, sizeof key, a))
		return SG_ERR_INVAL;
	if (!key_data)
		return st_remove(ud, WA_SIGNAL_IDENTITY, key);
	return st_save(ud, WA_SIGNAL_IDENTITY, key, key_data, key_len);
}

/* Every identity is trusted, as in Baileys; a changed identity replaces the
 * stored one (save_identity). whatsmeow trusts on first use and, with its
 * default AutoTrustIdentity, answers a changed key by deleting the old
 * identity and session and retrying, which ends in the same state. Nothing
 * reports identity changes yet (a client may want an event for them). */
static int cb_is_trusted_identity(const signal_protocol_address *a, uint8_t *key_data, size_t key_len,
				  void *ud)
{
	(void)a;
	(void)key_data;
	(void)key_len;
	(void)ud;
	return 1;
}

static int cb_store_sender_key(const signal_protocol_sender_key_name *k, uint8_t *record, size_t len,
			       uint8_t *user_record, size_t user_len, void *ud)
{
	char key[WA_SIGNAL_STORE_KEY_MAX];

	(void)user_record;
	(void)user_len;
	if (sender_key(key, sizeof key, k))
		return SG_ERR_INVAL;
	return st_save(ud, WA_SIGNAL_SENDER_KEY, key, record, len);
}

static int cb_load_sender_key(signal_buffer **record, signal_buffer **user_record,
			      const signal_protocol_sender_key_name *k, void *ud)
{
	char key[WA_SIGNAL_STORE_KEY_MAX];

	(void)user_record;
	if (sender_key(key, sizeof key, k))
		return SG_ERR_INVAL;
	return st_load(ud, WA_SIGNAL_SENDER_KEY, key, record);
}

/* ---- the endpoint --------------------------------------------------------------------- */

struct wa_signal *wa_signal_new(const struct wa_signal_identity *id, struct wa_signal_store *store)
{
	struct wa_signal *s;

	if (!id || !store || !store->load || !store->save || !store->remove || !store->each)
		return NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->id = *id;
	s->store = store;
	if (wa_crypto_signal_context_new(&s->ctx) ||
	    signal_protocol_store_context_create(&s->sctx, s->ctx))
		goto fail;
	{
		signal_protocol_session_store ss = {
			.load_session_func = cb_load_session,
			.get_sub_device_sessions_func = cb_sub_device_sessions,
			.store_session_func = cb_store_session,
			.contains_session_func = cb_contains_session,
			.delete_session_func = cb_delete_session,
			.delete_all_sessions_func = cb_delete_all_sessions,
			.user_data = s,
		};
		signal_protocol_pre_key_store pk = {
			.load_pre_key = cb_load_pre_key,
			.store_pre_key = cb_store_pre_key,
			.contains_pre_key = cb_contains_pre_key,
			.remove_pre_key = cb_remove_pre_key,
			.user_data = s,
		};
		signal_protocol_signed_pre_key_store spk = {
			.load_signed_pre_key = cb_load_signed_pre_key,
			.store_signed_pre_key = cb_store_signed_pre_key,
			.contains_signed_pre_key = cb_contains_signed_pre_key,
			.remove_signed_pre_key = cb_remove_signed_pre_key,
			.user_data = s,
		};
		signal_protocol_identity_key_store ik = {
			.get_identity_key_pair = cb_get_identity_key_pair,
			.get_local_registration_id = cb_get_local_registration_id,
			.save_identity = cb_save_identity,
			.is_trusted_identity = cb_is_trusted_identity,
			.user_data = s,
		};
		signal_protocol_sender_key_store sk = {
			.store_sender_key = cb_store_sender_key,
			.load_sender_key = cb_load_sender_key,
			.user_data = s,
		};
		if (signal_protocol_store_context_set_session_store(s->sctx, &ss) ||
		    signal_protocol_store_context_set_pre_key_store(s->sctx, &pk) ||
		    signal_protocol_store_context_set_signed_pre_key_store(s->sctx, &spk) ||
		    signal_protocol_store_context_set_identity_key_store(s->sctx, &ik) ||
		    signal_protocol_store_context_set_sender_key_store(s->sctx, &sk))
			goto fail;
	}
	return s;
fail:
	wa_signal_free(s);
	return NULL;
}

void wa_signal_free(struct wa_signal *s)
{
	if (!s)
		return;
	if (s->sctx)
		signal_protocol_store_context_destroy(s->sctx);
	if (s->ctx)
		signal_context_destroy(s->ctx);
	wa_wipe(&s->id, sizeof s->id);
	free(s);
}

/* ---- keys ----------------------------------------------------------------------------- */

int wa_signal_identity_generate(struct wa_signal_identity *out)
{
	struct wa_keypair kp;
	uint32_t r = 0;
	int rc;

	if (!out)
		return Y_EINVAL;
	rc = wa_keypair_generate(&kp);
	if (!rc)
		rc = wa_crypto_random((uint8_t *)&r, sizeof r);
	if (rc)
		goto out;
	memcpy(out->pub, kp.pub, 32);
	memcpy(out->priv, kp.priv, 32);
	out->registration_id = r % 16380 + 1; /* libsignal's range */
out:
	wa_wipe(&kp, sizeof kp);
	return rc;
}

static int identity_pair(struct wa_signal *s, ratchet_identity_key_pair **out)
{
	ec_public_key *pub = NULL;
	ec_private_key *priv = NULL;
	int rc = decode_pub(s->ctx, s->id.pub, &pub);

	if (rc)
		goto out;
	rc = Y_EINVAL;
	if (curve_decode_private_point(&priv, s->id.priv, 32, s->ctx))
		goto out;
	rc = ratchet_identity_key_pair_create(out, pub, priv) ? Y_ENOMEM : 0;
out:
	SIGNAL_UNREF(pub);
	SIGNAL_UNREF(priv);
	return rc;
}

int wa_signal_gen_signed_prekey(struct wa_signal *s, uint32_t id, struct wa_signal_signed_prekey *out)
{
	ratchet_identity_key_pair *ikp = NULL;
	session_signed_pre_key *spk = NULL;
	int rc;

	if (!s || !out || id > 0xFFFFFF)
		return Y_EINVAL;
	s->store_err = 0;
	rc = identity_pair(s, &ikp);
	if (rc)
		goto out;
	rc = signal_protocol_key_helper_generate_signed_pre_key(&spk, ikp, id,
								 (uint64_t)time(NULL) * 1000, s->ctx);
	if (rc) {
		rc = sg_err(s, rc);
		goto out;
	}
	rc = sg_err(s, signal_protocol_signed_pre_key_store_key(s->sctx, spk));
	if (rc)
		goto out;
	out->id = id;
	rc = encode_pub(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)), out->pub);
	if (rc)
		goto out;
	if (session_signed_pre_key_get_signature_len(spk) != 64) {
		rc = Y_ECRYPTO;
		goto out;
	}
	memcpy(out->sig, session_signed_pre_key_get_signature(spk), 64);
out:
	SIGNAL_UNREF(ikp);
	SIGNAL_UNREF(spk);
	return rc;
}

int wa_signal_gen_prekeys(struct wa_signal *s, uint32_t first, size_t n, struct wa_signal_prekey *out)
{
	uint32_t id = first;

	if (!s || (n && !out) || first == 0 || first > 0xFFFFFF)
		return Y_EINVAL;
	s->store_err = 0;
	for (size_t i = 0; i < n; i++) {
		ec_key_pair *kp = NULL;
		session_pre_key *pk = NULL;
		int rc;

		rc = curve_generate_key_pair(s->ctx, &kp) ? Y_ECRYPTO : 0;
		if (!rc)
			rc = session_pre_key_create(&pk, id, kp) ? Y_ENOMEM : 0;
		if (!rc)
			rc = sg_err(s, signal_protocol_pre_key_store_key(s->sctx, pk));
		if (!rc)
			rc = encode_pub(ec_key_pair_get_public(kp), out[i].pub);
		out[i].id = id;
		SIGNAL_UNREF(pk);
		SIGNAL_UNREF(kp);
		if (rc)
			return rc;
		id = id == 0xFFFFFF ? 1 : id + 1;
	}
	return 0;
}

/* A key pair from a raw private key (the public half derived). */
static int pair_from_priv(struct wa_signal *s, const uint8_t raw[32], ec_key_pair **out)
{
	ec_private_key *priv = NULL;
	ec_public_key *pub = NULL;
	int rc = Y_EINVAL;

	if (curve_decode_private_point(&priv, raw, 32, s->ctx))
		goto out;
	rc = Y_ECRYPTO;
	if (curve_generate_public_key(&pub, priv))
		goto out;
	rc = ec_key_pair_create(out, pub, priv) ? Y_ENOMEM : 0;
out:
	SIGNAL_UNREF(pub);
	SIGNAL_UNREF(priv);
	return rc;
}

/* Whether the store holds signed prekey `id` with this private key and
 * signature already: a lookup instead of deriving the public half (an X25519
 * operation per session start, a good share of a mass restart). */
static bool signed_prekey_stored(struct wa_signal *s, uint32_t id, const uint8_t priv[32],
				 const uint8_t sig[64])
{
	session_signed_pre_key *spk = NULL;
	signal_buffer *b = NULL;
	bool same = false;

	if (signal_protocol_signed_pre_key_load_key(s->sctx, &spk, id) < 0 || !spk) {
		s->store_err = 0; /* absent (or unreadable): imported as new */
		return false;
	}
	if (session_signed_pre_key_get_signature_len(spk) == 64 &&
	    !memcmp(session_signed_pre_key_get_signature(spk), sig, 64) &&
	    !ec_private_key_serialize(&b, ec_key_pair_get_private(session_signed_pre_key_get_key_pair(spk))) &&
	    signal_buffer_len(b) == 32 && !memcmp(signal_buffer_data(b), priv, 32))
		same = true;
	if (b)
		signal_buffer_bzero_free(b);
	SIGNAL_UNREF(spk);
	return same;
}

int wa_signal_import_signed_prekey(struct wa_signal *s, uint32_t id, const uint8_t priv[32],
				   const uint8_t sig[64])
{
	ec_key_pair *kp = NULL;
	session_signed_pre_key *spk = NULL;
	int rc;

	if (!s || !priv || !sig || id > 0xFFFFFF)
		return Y_EINVAL;
	s->store_err = 0;
	if (signed_prekey_stored(s, id, priv, sig))
		return Y_OK; /* a durable store has it from an earlier run */
	rc = pair_from_priv(s, priv, &kp);
	if (!rc)
		rc = session_signed_pre_key_create(&spk, id, (uint64_t)time(NULL) * 1000, kp, sig, 64)
			     ? Y_ENOMEM : 0;
	if (!rc)
		rc = sg_err(s, signal_protocol_signed_pre_key_store_key(s->sctx, spk));
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(kp);
	return rc;
}

int wa_signal_import_prekey(struct wa_signal *s, uint32_t id, const uint8_t priv[32])
{
	ec_key_pair *kp = NULL;
	session_pre_key *pk = NULL;
	int rc;

	if (!s || !priv || id == 0 || id > 0xFFFFFF)
		return Y_EINVAL;
	s->store_err = 0;
	rc = pair_from_priv(s, priv, &kp);
	if (!rc)
		rc = session_pre_key_create(&pk, id, kp) ? Y_ENOMEM : 0;
	if (!rc)
		rc = sg_err(s, signal_protocol_pre_key_store_key(s->sctx, pk));
	SIGNAL_UNREF(pk);
	SIGNAL_UNREF(kp);
	return rc;
}

int wa_signal_own_bundle(struct wa_signal *s, uint32_t skey_id, uint32_t prekey_id,
			 struct wa_signal_bundle *out)
{
	session_signed_pre_key *spk = NULL;
	session_pre_key *pk = NULL;
	int rc;

	if (!s || !out)
		return Y_EINVAL;
	s->store_err = 0;
	memset(out, 0, sizeof *out);
	rc = sg_err(s, signal_protocol_signed_pre_key_load_key(s->sctx, &spk, skey_id));
	if (rc)
		goto out;
	out->registration_id = s->id.registration_id;
	memcpy(out->identity, s->id.pub, 32);
	out->skey.id = skey_id;
	rc = encode_pub(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)), out->skey.pub);
	if (rc)
		goto out;
	if (session_signed_pre_key_get_signature_len(spk) != 64) {
		rc = Y_ECRYPTO;
		goto out;
	}
	memcpy(out->skey.sig, session_signed_pre_key_get_signature(spk), 64);
	if (prekey_id) {
		rc = sg_err(s, signal_protocol_pre_key_load_key(s->sctx, &pk, prekey_id));
		if (rc)
			goto out;
		out->has_prekey = 1;
		out->key.id = prekey_id;
		rc = encode_pub(ec_key_pair_get_public(session_pre_key_get_key_pair(pk)), out->key.pub);
	}
out:
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(pk);
	return rc;
}

void wa_signal_put_be24(uint8_t out[3], uint32_t v)
{
	out[0] = (uint8_t)(v >> 16);
	out[1] = (uint8_t)(v >> 8);
	out[2] = (uint8_t)v;
}

void wa_signal_put_be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

uint32_t wa_signal_get_be24(const uint8_t in[3])
{
	return (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
}

uint32_t wa_signal_get_be32(const uint8_t in[4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

int wa_signal_bundle_parse(struct wa_signal_bundle *out, const struct wa_signal_bundle_wire *w)
{
	if (!out || !w)
		return Y_EINVAL;
	memset(out, 0, sizeof *out);
	if (!w->registration || w->registration_len != 4 || !w->identity || w->identity_len != 32 ||
	    !w->skey_id || w->skey_id_len != 3 || !w->skey_value || w->skey_value_len != 32 ||
	    !w->skey_signature || w->skey_signature_len != 64)
		return Y_EINVAL;
	if (w->type && (w->type_len != 1 || w->type[0] != DJB_TYPE))
		return Y_EINVAL;
	if (!w->key_id != !w->key_value)
		return Y_EINVAL;
	if (w->key_id && (w->key_id_len != 3 || w->key_value_len != 32))
		return Y_EINVAL;
	out->registration_id = wa_signal_get_be32(w->registration);
	memcpy(out->identity, w->identity, 32);
	out->skey.id = wa_signal_get_be24(w->skey_id);
	memcpy(out->skey.pub, w->skey_value, 32);
	memcpy(out->skey.sig, w->skey_signature, 64);
	if (w->key_id) {
		out->has_prekey = 1;
		out->key.id = wa_signal_get_be24(w->key_id);
		memcpy(out->key.pub, w->key_value, 32);
	}
	return 0;
}

/* ---- pairwise sessions ----------------------------------------------------------------------- */

const char *wa_signal_type_name(enum wa_signal_type t)
{
	switch (t) {
	case WA_SIGNAL_MSG: return "msg";
	case WA_SIGNAL_PKMSG: return "pkmsg";
	case WA_SIGNAL_SKMSG: return "skmsg";
	}
	return NULL;
}

int wa_signal_type_parse(const char *name, enum wa_signal_type *out)
{
	if (!name || !out)
		return Y_EINVAL;
	if (!strcmp(name, "msg"))
		*out = WA_SIGNAL_MSG;
	else if (!strcmp(name, "pkmsg"))
		*out = WA_SIGNAL_PKMSG;
	else if (!strcmp(name, "skmsg"))
		*out = WA_SIGNAL_SKMSG;
	else
		return Y_EINVAL;
	return 0;
}

int wa_signal_session_from_bundle(struct wa_signal *s, const struct wa_signal_addr *addr,
				  const struct wa_signal_bundle *b)
{
	ec_public_key *ik = NULL, *spk = NULL, *pk = NULL;
	session_pre_key_bundle *bundle = NULL;
	session_builder *builder = NULL;
	signal_protocol_address sa;
	uint8_t signed_data[33];
	int rc;

	if (!s || !addr_ok(addr) || !b)
		return Y_EINVAL;
	s->store_err = 0;
	/* Checked here (libsignal checks it too) so that a bad signature is
	 * reported as such and not as a malformed key. */
	signed_data[0] = DJB_TYPE;
	memcpy(signed_data + 1, b->skey.pub, 32);
	rc = wa_xeddsa_verify(b->identity, signed_data, sizeof signed_data, b->skey.sig);
	if (rc)
		goto out;
	rc = decode_pub(s->ctx, b->identity, &ik);
	if (!rc)
		rc = decode_pub(s->ctx, b->skey.pub, &spk);
	if (!rc && b->has_prekey)
		rc = decode_pub(s->ctx, b->key.pub, &pk);
	if (rc)
		goto out;
	sa = to_sg_addr(addr);
	rc = session_pre_key_bundle_create(&bundle, b->registration_id, (int)addr->device,
					   b->has_prekey ? b->key.id : 0, pk, b->skey.id, spk,
					   b->skey.sig, 64, ik);
	if (rc) {
		rc = sg_err(s, rc);
		goto out;
	}
	rc = session_builder_create(&builder, s->sctx, &sa, s->ctx);
	if (!rc)
		rc = session_builder_process_pre_key_bundle(builder, bundle);
	rc = sg_err(s, rc);
out:
	session_builder_free(builder);
	SIGNAL_UNREF(bundle);
	SIGNAL_UNREF(ik);
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(pk);
	return rc;
}

int wa_signal_has_session(struct wa_signal *s, const struct wa_signal_addr *addr)
{
	signal_protocol_address sa;
	int rc;

	if (!s || !addr_ok(addr))
		return Y_EINVAL;
	s->store_err = 0;
	sa = to_sg_addr(addr);
	rc = signal_protocol_session_contains_session(s->sctx, &sa);
	if (s->store_err)
		return s->store_err;
	return rc == 1;
}

int wa_signal_delete_session(struct wa_signal *s, const struct wa_signal_addr *addr)
{
	signal_protocol_address sa;

	if (!s || !addr_ok(addr))
		return Y_EINVAL;
	s->store_err = 0;
	sa = to_sg_addr(addr);
	return sg_err(s, signal_protocol_session_delete_session(s->sctx, &sa));
}

int wa_signal_migrate_session(struct wa_signal *s, const struct wa_signal_addr *from,
			      const struct wa_signal_addr *to)
{
	signal_protocol_address fa, ta;
	char fkey[WA_SIGNAL_STORE_KEY_MAX + 1], tkey[WA_SIGNAL_STORE_KEY_MAX + 1];
	struct ybuf b = YBUF_INIT(WA_SIGNAL_STORE_RECORD_MAX);
	int rc;

	if (!s || !addr_ok(from) || !addr_ok(to))
		return Y_EINVAL;
	rc = wa_signal_has_session(s, to);
	if (rc)
		return rc < 0 ? rc : 0;
	rc = wa_signal_has_session(s, from);
	if (rc <= 0)
		return rc;
	fa = to_sg_addr(from);
	ta = to_sg_addr(to);
	if (addr_key(fkey, sizeof fkey, &fa) || addr_key(tkey, sizeof tkey, &ta))
		return Y_EINVAL;
	for (int kind = WA_SIGNAL_IDENTITY; kind >= WA_SIGNAL_SESSION; kind--) {
		b.len = 0;
		rc = s->store->load(s->store->ud, (enum wa_signal_kind)kind, fkey, &b);
		if (rc == Y_ENOTFOUND && kind == WA_SIGNAL_IDENTITY)
			continue; /* no identity kept: the first message saves it */
		rc = rc ?: s->store->save(s->store->ud, (enum wa_signal_kind)kind, tkey, b.data, b.len);
		if (rc)
			goto out;
	}
	rc = 1;
out:
	if (b.data)
		wa_wipe(b.data, b.len);
	ybuf_release(&b);
	return rc;
}

int wa_signal_delete_all_sessions(struct wa_signal *s, const char *name)
{
	int rc;

	if (!s || !name || !*name || strlen(name) > WA_SIGNAL_NAME_MAX || strchr(name, '.'))
		return Y_EINVAL;
	s->store_err = 0;
	rc = signal_protocol_session_delete_all_sessions(s->sctx, name, strlen(name));
	return rc < 0 ? sg_err(s, rc) : rc;
}

/* Copies a signal_buffer into a fresh malloc'd block for the caller. */
static int hand_out(const signal_buffer *b, uint8_t **out, size_t *out_len)
{
	size_t n = signal_buffer_len((signal_buffer *)b);
	uint8_t *p = malloc(n ? n : 1);

	if (!p)
		return Y_ENOMEM;
	if (n)
		memcpy(p, signal_buffer_data((signal_buffer *)b), n);
	*out = p;
	*out_len = n;
	return 0;
}

int wa_signal_encrypt(struct wa_signal *s, const struct wa_signal_addr *addr, const uint8_t *pt,
		      size_t pt_len, enum wa_signal_type *type, uint8_t **out, size_t *out_len)
{
	session_cipher *cipher = NULL;
	ciphertext_message *msg = NULL;
	signal_protocol_address sa;
	int rc;

	if (!s || !addr_ok(addr) || (!pt && pt_len) || !type || !out || !out_len)
		return Y_EINVAL;
	if (pt_len > WA_SIGNAL_MAX_MESSAGE)
		return Y_ETOOBIG;
	s->store_err = 0;
	sa = to_sg_addr(addr);
	rc = wa_signal_has_session(s, addr);
	if (rc <= 0) {
		rc = rc ? rc : Y_ENOTFOUND;
		goto out;
	}
	rc = session_cipher_create(&cipher, s->sctx, &sa, s->ctx);
	if (!rc)
		rc = session_cipher_encrypt(cipher, pt ? pt : (const uint8_t *)"", pt_len, &msg);
	rc = sg_err(s, rc);
	if (rc)
		goto out;
	switch (ciphertext_message_get_type(msg)) {
	case CIPHERTEXT_PREKEY_TYPE: *type = WA_SIGNAL_PKMSG; break;
	case CIPHERTEXT_SIGNAL_TYPE: *type = WA_SIGNAL_MSG; break;
	default: rc = Y_ECRYPTO; goto out;
	}
	rc = hand_out(ciphertext_message_get_serialized(msg), out, out_len);
out:
	session_cipher_free(cipher);
	SIGNAL_UNREF(msg);
	return rc;
}

int wa_signal_decrypt(struct wa_signal *s, const struct wa_signal_addr *addr,
		      enum wa_signal_type type, const uint8_t *ct, size_t ct_len, uint8_t **out,
		      size_t *out_len)
{
	session_cipher *cipher = NULL;
	pre_key_signal_message *pkmsg = NULL;
	signal_message *msg = NULL;
	signal_buffer *pt = NULL;
	signal_protocol_address sa;
	int rc;

	if (!s || !addr_ok(addr) || !ct || !out || !out_len)
		return Y_EINVAL;
	if (ct_len > WA_SIGNAL_MAX_MESSAGE)
		return Y_ETOOBIG;
	s->store_err = 0;
	sa = to_sg_addr(addr);
	if (type == WA_SIGNAL_PKMSG)
		rc = pre_key_signal_message_deserialize(&pkmsg, ct, ct_len, s->ctx);
	else if (type == WA_SIGNAL_MSG)
		rc = signal_message_deserialize(&msg, ct, ct_len, s->ctx);
	else
		return Y_EINVAL;
	if (rc) {
		/* A parse failure: a bad version byte is "unsupported", the rest malformed. */
		rc = (rc == SG_ERR_INVALID_VERSION || rc == SG_ERR_LEGACY_MESSAGE) ? Y_EUNSUPPORTED
		     : rc == SG_ERR_NOMEM ? Y_ENOMEM : Y_EINVAL;
		goto out;
	}
	rc = session_cipher_create(&cipher, s->sctx, &sa, s->ctx);
	if (!rc && pkmsg)
		rc = session_cipher_decrypt_pre_key_signal_message(cipher, pkmsg, NULL, &pt);
	else if (!rc)
		rc = session_cipher_decrypt_signal_message(cipher, msg, NULL, &pt);
	rc = sg_err(s, rc);
	if (rc)
		goto out;
	rc = hand_out(pt, out, out_len);
out:
	session_cipher_free(cipher);
	SIGNAL_UNREF(pkmsg);
	SIGNAL_UNREF(msg);
	signal_buffer_bzero_free(pt);
	return rc;
}

/* ---- sender keys ------------------------------------------------------------------------------- */

static int sk_name(signal_protocol_sender_key_name *k, const char *group, const struct wa_signal_addr *a)
{
	size_t glen;

	if (!group || !addr_ok(a))
		return Y_EINVAL;
	glen = strlen(group);
	if (glen == 0 || glen > GROUP_MAX)
		return Y_EINVAL;
	k->group_id = group;
	k->group_id_len = glen;
	k->sender = to_sg_addr(a);
	return 0;
}

int wa_signal_group_create_skdm(struct wa_signal *s, const char *group, const struct wa_signal_addr *self,
				uint8_t **out, size_t *out_len)
{
	group_session_builder *builder = NULL;
	sender_key_distribution_message *skdm = NULL;
	signal_protocol_sender_key_name k;
	int rc;

	if (!s || !out || !out_len || sk_name(&k, group, self))
		return Y_EINVAL;
	s->store_err = 0;
	rc = group_session_builder_create(&builder, s->sctx, s->ctx);
	if (!rc)
		rc = group_session_builder_create_session(builder, &skdm, &k);
	rc = sg_err(s, rc);
	if (!rc)
		rc = hand_out(ciphertext_message_get_serialized((ciphertext_message *)skdm), out, out_len);
	group_session_builder_free(builder);
	SIGNAL_UNREF(skdm);
	return rc;
}

int wa_signal_group_encrypt(struct wa_signal *s, const char *group, const struct wa_signal_addr *self,
			    const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len)
{
	group_cipher *cipher = NULL;
	ciphertext_message *msg = NULL;
	signal_protocol_sender_key_name k;
	int rc;

	if (!s || !out || !out_len || (!pt && pt_len) || sk_name(&k, group, self))
		return Y_EINVAL;
	if (pt_len > WA_SIGNAL_MAX_MESSAGE)
		return Y_ETOOBIG;
	s->store_err = 0;
	rc = group_cipher_create(&cipher, s->sctx, &k, s->ctx);
	if (!rc)
		rc = group_cipher_encrypt(cipher, pt ? pt : (const uint8_t *)"", pt_len, &msg);
	rc = sg_err(s, rc);
	if (!rc)
		rc = hand_out(ciphertext_message_get_serialized(msg), out, out_len);
	group_cipher_free(cipher);
	SIGNAL_UNREF(msg);
	return rc;
}

int wa_signal_group_process_skdm(struct wa_signal *s, const char *group,
				 const struct wa_signal_addr *sender, const uint8_t *data, size_t len)
{
	group_session_builder *builder = NULL;
	sender_key_distribution_message *skdm = NULL;
	signal_protocol_sender_key_name k;
	int rc;

	if (!s || !data || sk_name(&k, group, sender))
		return Y_EINVAL;
	if (len > WA_SIGNAL_MAX_MESSAGE)
		return Y_ETOOBIG;
	s->store_err = 0;
	rc = sender_key_distribution_message_deserialize(&skdm, data, len, s->ctx);
	if (rc) {
		rc = rc == SG_ERR_NOMEM ? Y_ENOMEM : rc == SG_ERR_INVALID_VERSION ? Y_EUNSUPPORTED : Y_EINVAL;
		goto out;
	}
	rc = group_session_builder_create(&builder, s->sctx, s->ctx);
	if (!rc)
		rc = group_session_builder_process_session(builder, &k, skdm);
	rc = sg_err(s, rc);
out:
	group_session_builder_free(builder);
	SIGNAL_UNREF(skdm);
	return rc;
}

int wa_signal_group_decrypt(struct wa_signal *s, const char *group, const struct wa_signal_addr *sender,
			    const uint8_t *ct, size_t ct_len, uint8_t **out, size_t *out_len)
{
	group_cipher *cipher = NULL;
	sender_key_message *msg = NULL;
	signal_buffer *pt = NULL;
	signal_protocol_sender_key_name k;
	int rc;

	if (!s || !ct || !out || !out_len || sk_name(&k, group, sender))
		return Y_EINVAL;
	if (ct_len > WA_SIGNAL_MAX_MESSAGE)
		return Y_ETOOBIG;
	s->store_err = 0;
	rc = sender_key_message_deserialize(&msg, ct, ct_len, s->ctx);
	if (rc) {
		rc = rc == SG_ERR_NOMEM ? Y_ENOMEM : rc == SG_ERR_INVALID_VERSION ? Y_EUNSUPPORTED : Y_EINVAL;
		goto out;
	}
	rc = group_cipher_create(&cipher, s->sctx, &k, s->ctx);
	if (!rc)
		rc = group_cipher_decrypt(cipher, msg, NULL, &pt);
	rc = sg_err(s, rc);
	if (!rc)
		rc = hand_out(pt, out, out_len);
out:
	group_cipher_free(cipher);
	SIGNAL_UNREF(msg);
	signal_buffer_bzero_free(pt);
	return rc;
}

/* ---- v2 padding ----------------------------------------------------------------------------------- */

int wa_signal_pad_with(const uint8_t *in, size_t len, unsigned p, uint8_t **out, size_t *out_len)
{
	uint8_t *buf;

	if ((!in && len) || !out || !out_len || p < 1 || p > 15)
		return Y_EINVAL;
	if (len > WA_SIGNAL_MAX_MESSAGE)
		return Y_ETOOBIG;
	buf = malloc(len + p);
	if (!buf)
		return Y_ENOMEM;
	if (len)
		memcpy(buf, in, len);
	memset(buf + len, (int)p, p);
	*out = buf;
	*out_len = len + p;
	return 0;
}

int wa_signal_pad(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t r;

	if (wa_crypto_random(&r, 1))
		return Y_ECRYPTO;
	r &= 0x0F;
	return wa_signal_pad_with(in, len, r ? r : 15, out, out_len);
}

int wa_signal_unpad(const uint8_t *in, size_t len, size_t *unpadded_len)
{
	uint8_t p;

	if (!in || !len || !unpadded_len)
		return Y_EINVAL;
	p = in[len - 1];
	if (p > len)
		return Y_EINVAL;
	for (size_t i = len - p; i < len; i++)
		if (in[i] != p)
			return Y_EINVAL;
	*unpadded_len = len - p;
	return 0;
}
