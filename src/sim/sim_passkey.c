/*
 * The passkey ("Shortcake") step of linking, as the server and the phone
 * play it (protocol-map.md §13, src/wa/passkey.h for the node sequence).
 * POST /sim/accounts/{phone}/passkey makes an account require it; the
 * account's passkey is an ES256 (ECDSA P-256) key: either the caller's
 * public key, or a test key the sim makes and hands out (private half too,
 * so that tests can sign assertions as an authenticator would).
 *
 * What the sim checks of an assertion (WebAuthn Level 2, §7.2 "Verifying an
 * Authentication Assertion", the parts a relying party owns):
 *   - <credential_id> and the JSON's rawId are the account's credential;
 *   - clientDataJSON: type "webauthn.get", the challenge it issued, an
 *     https origin on whatsapp.com or a subdomain;
 *   - authenticatorData: rpIdHash = SHA-256("whatsapp.com"), user present
 *     and user verified flags (the options ask userVerification=required);
 *   - the signature: ECDSA P-256 over authenticatorData ||
 *     SHA-256(clientDataJSON), DER-encoded.
 * Then the optional handoff proof (HMAC under the key derived from the QR's
 * adv secret), the commitment to the companion nonce, and the encrypted
 * PairingRequest (the companion's noise and identity keys must be those the
 * QR showed). What WhatsApp answers to a refused assertion is not known: the
 * sim answers <iq type=error code=401> and lets the companion try again.
 *
 * Everything runs on the sim's loop thread. A link's state belongs to its
 * connection (freed with it); a key belongs to its account.
 */
#include "sim/sim_int.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passkey.pb-c.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/pb.h"
#include "wa/passkey.h"

#define S_WA "@s.whatsapp.net"
#define CRED_ID_LEN 16
#define ASSERTION_MAX (16 << 10)
#define FIELD_MAX (8 << 10)

struct sim_passkey_key {
	EVP_PKEY *pub;                 /* owned */
	uint8_t cred_id[64];
	size_t cred_id_len;
	char *priv_pem;                /* owned; only for a key the sim made */
	char *pub_pem;                 /* owned */
	unsigned accepted, refused;    /* assertions */
	char last_error[96];
	char last_code[WA_PASSKEY_CODE_LEN + 1]; /* what the phone showed last */
	bool last_handoff;             /* the last prologue carried a valid proof */
};

enum link_stage {
	L_OPTIONS,   /* options sent, waiting for <passkey_prologue> */
	L_NONCE,     /* continuation sent, waiting for <companion_nonce> */
	L_REQUEST,   /* code shown, waiting for <encrypted_pairing_request> */
};

struct sim_passkey_link {
	struct sim_account *acct;      /* borrowed (accounts outlive connections) */
	enum link_stage stage;
	char ref[SIM_REF_LEN];
	uint8_t adv[32];               /* the QR's adv secret */
	uint8_t challenge[32];
	char *options;                 /* owned: the WebAuthn request JSON */
	uint8_t ident[256];            /* the CompanionEphemeralIdentity bytes */
	size_t ident_len;
	uint8_t commitment[32];
	uint8_t companion_eph[WA_KEY_LEN];
	int device_type;
	struct wa_keypair primary_eph;
	uint8_t primary_nonce[32];
	uint8_t key[32];               /* the PairingRequest key */
};

void sim_passkey_key_free(struct sim_passkey_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pub);
	free(k->priv_pem);
	free(k->pub_pem);
	free(k);
}

void sim_passkey_link_free(struct sim_passkey_link *l)
{
	if (!l)
		return;
	free(l->options);
	wa_wipe(l, sizeof(*l));
	free(l);
}

/* ---- keys ---- */

static char *pem_of(EVP_PKEY *k, bool priv)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (!b)
		return NULL;
	if (priv ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_bio_PUBKEY(b, k)) {
		n = BIO_get_mem_data(b, &data);
		if (n > 0 && (out = malloc((size_t)n + 1))) {
			memcpy(out, data, (size_t)n);
			out[n] = 0;
		}
	}
	BIO_free(b);
	return out;
}

/* A P-256 public key from PEM; NULL if it is anything else. */
static EVP_PKEY *pub_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	char group[32];
	size_t gl = 0;

	BIO_free(b);
	if (k && (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
		  !EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &gl) ||
		  strcmp(group, "prime256v1"))) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

/* The key for POST .../passkey: the caller's, or a new test key. */
static struct sim_passkey_key *key_new(const char *pub_pem, const char *cred_b64)
{
	struct sim_passkey_key *k = calloc(1, sizeof(*k));
	EVP_PKEY *gen = NULL;

	if (!k)
		return NULL;
	if (pub_pem) {
		k->pub = pub_from_pem(pub_pem);
	} else {
		gen = EVP_EC_gen("P-256");
		if (gen && (k->priv_pem = pem_of(gen, true)))
			k->pub = gen;
		else
			EVP_PKEY_free(gen);
	}
	if (!k->pub || !(k->pub_pem = pem_of(k->pub, false)))
		goto fail;
	if (cred_b64) {
		if (codec_b64url_decode(cred_b64, strlen(cred_b64), k->cred_id, sizeof(k->cred_id),
					&k->cred_id_len) ||
		    !k->cred_id_len)
			goto fail;
	} else {
		k->cred_id_len = CRED_ID_LEN;
		if (wa_crypto_random(k->cred_id, CRED_ID_LEN))
			goto fail;
	}
	return k;
fail:
	sim_passkey_key_free(k);
	return NULL;
}

/* ---- the assertion ---- */

/* A base64url string member of o, decoded into a fresh buffer. */
static uint8_t *b64_member(json_t *o, const char *name, size_t *len)
{
	const char *s = json_string_value(json_object_get(o, name));
	size_t sl = s ? strlen(s) : 0;
	uint8_t *p;

	*len = 0;
	if (!s || !sl || sl > FIELD_MAX || !(p = malloc(CODEC_B64URL_DEC_MAX(sl) + 1)))
		return NULL;
	if (codec_b64url_decode(s, sl, p, CODEC_B64URL_DEC_MAX(sl) + 1, len)) {
		free(p);
		return NULL;
	}
	return p;
}

/* An https origin on whatsapp.com or one of its subdomains. */
static bool origin_ok(const char *o)
{
	static const char dom[] = "whatsapp.com";
	size_t n;

	if (!o || strncmp(o, "https://", 8))
		return false;
	o += 8;
	n = strlen(o);
	if (n == sizeof(dom) - 1)
		return !strcmp(o, dom);
	return n > sizeof(dom) && !strcmp(o + n - (sizeof(dom) - 1), dom) &&
	       o[n - sizeof(dom)] == '.';
}

/* Checks the assertion; a static reason on refusal, NULL when it verifies. */
static const char *check_assertion(const struct sim_passkey_key *k,
				   const struct sim_passkey_link *l, const uint8_t *cred,
				   size_t cred_len, const uint8_t *json, size_t json_len)
{
	json_t *a = NULL, *r, *cd = NULL;
	uint8_t *raw = NULL, *cdj = NULL, *ad = NULL, *sig = NULL;
	size_t raw_len, cdj_len, ad_len, sig_len;
	uint8_t rp[32], h[32], *msg = NULL;
	char chal[CODEC_B64URL_ENC_LEN(32)];
	const char *why = "malformed assertion";
	EVP_MD_CTX *md = NULL;

	if (!cred || !json || json_len > ASSERTION_MAX ||
	    !(a = json_loadb((const char *)json, json_len, JSON_REJECT_DUPLICATES, NULL)) ||
	    !json_is_object(a) || !(r = json_object_get(a, "response")) || !json_is_object(r))
		goto out;
	raw = b64_member(a, "rawId", &raw_len);
	cdj = b64_member(r, "clientDataJSON", &cdj_len);
	ad = b64_member(r, "authenticatorData", &ad_len);
	sig = b64_member(r, "signature", &sig_len);
	if (!raw || !cdj || !ad || !sig)
		goto out;
	if (raw_len != cred_len || memcmp(raw, cred, cred_len)) {
		why = "credential_id and rawId differ";
		goto out;
	}
	if (cred_len != k->cred_id_len || memcmp(cred, k->cred_id, cred_len)) {
		why = "unknown credential";
		goto out;
	}
	cd = json_loadb((const char *)cdj, cdj_len, 0, NULL);
	codec_b64url_encode(l->challenge, sizeof(l->challenge), chal);
	if (!cd || !json_is_object(cd)) {
		why = "clientDataJSON is not JSON";
		goto out;
	}
	if (!json_is_string(json_object_get(cd, "type")) ||
	    strcmp(json_string_value(json_object_get(cd, "type")), "webauthn.get")) {
		why = "clientDataJSON type is not webauthn.get";
		goto out;
	}
	if (!json_is_string(json_object_get(cd, "challenge")) ||
	    strcmp(json_string_value(json_object_get(cd, "challenge")), chal)) {
		why = "challenge mismatch";
		goto out;
	}
	if (!origin_ok(json_string_value(json_object_get(cd, "origin")))) {
		why = "origin is not https on whatsapp.com";
		goto out;
	}
	if (wa_sha256(rp, (const uint8_t *)WA_PASSKEY_RP_ID, strlen(WA_PASSKEY_RP_ID)) ||
	    ad_len < 37 || memcmp(ad, rp, 32)) {
		why = "rpIdHash is not whatsapp.com's";
		goto out;
	}
	if ((ad[32] & 0x05) != 0x05) {
		why = "user not present or not verified";
		goto out;
	}
	if (wa_sha256(h, cdj, cdj_len) || !(msg = malloc(ad_len + 32)))
		goto out;
	memcpy(msg, ad, ad_len);
	memcpy(msg + ad_len, h, 32);
	md = EVP_MD_CTX_new();
	why = "bad signature";
	if (md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pub) == 1 &&
	    EVP_DigestVerify(md, sig, sig_len, msg, ad_len + 32) == 1)
		why = NULL;
out:
	EVP_MD_CTX_free(md);
	free(msg);
	free(raw);
	free(cdj);
	free(ad);
	free(sig);
	json_decref(cd);
	json_decref(a);
	return why;
}

/* ---- nodes ---- */

static struct wa_node *notification(struct sim *s, const char *type)
{
	struct wa_node *n = wa_node_new("notification");
	char id[SIM_IQ_ID_LEN], t[24];

	snprintf(id, sizeof(id), "pk-%llu", (unsigned long long)++s->next_iq);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)time(NULL));
	if (n && (wa_node_add_attr(n, "from", S_WA) || wa_node_add_attr(n, "type", type) ||
		  wa_node_add_attr(n, "id", id) || wa_node_add_attr(n, "t", t))) {
		wa_node_free(n);
		return NULL;
	}
	return n;
}

static struct wa_node *bytes_child(struct wa_node *parent, const char *tag, const void *p,
				   size_t n)
{
	struct wa_node *c = wa_node_add_child(parent, tag);

	return c && !wa_node_set_bytes(c, p, n) ? c : NULL;
}

static char *options_json(const uint8_t challenge[32])
{
	char chal[CODEC_B64URL_ENC_LEN(32)];
	json_t *o;
	char *txt;

	codec_b64url_encode(challenge, 32, chal);
	/* the shape seen from WhatsApp (whatsmeow's types.WebAuthnPublicKey) */
	o = json_pack("{s:s, s:i, s:s, s:[], s:s, s:{s:b}}", "challenge", chal, "timeout",
		      WA_PASSKEY_TIMEOUT_MS, "rpId", WA_PASSKEY_RP_ID, "allowCredentials",
		      "userVerification", "required", "extensions", "uvm", 1);
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return txt;
}

int sim_passkey_begin(struct sim_conn *c, struct sim_account *a, const char *ref,
		      size_t ref_len, const uint8_t adv[32])
{
	struct sim_passkey_link **slot = sim_conn_passkey(c), *l;
	struct wa_node *n, *o;

	if (ref_len >= SIM_REF_LEN)
		return Y_EINVAL;
	sim_passkey_link_free(*slot);
	*slot = l = calloc(1, sizeof(*l));
	if (!l)
		return Y_ENOMEM;
	l->acct = a;
	l->stage = L_OPTIONS;
	memcpy(l->ref, ref, ref_len);
	memcpy(l->adv, adv, 32);
	if (wa_crypto_random(l->challenge, sizeof(l->challenge)) ||
	    !(l->options = options_json(l->challenge)))
		return Y_ENOMEM;
	n = notification(sim_conn_sim(c), "passkey_prologue_request");
	if (!n || !(o = bytes_child(n, "passkey_request_options", l->options,
				    strlen(l->options)))) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	LOG_INFO("sim passkey requested", "{s:s}", "phone", a->phone);
	return sim_conn_send(c, n);
}

static int refuse(struct sim_conn *c, const struct wa_node *iq, struct sim_passkey_key *k,
		  const char *why)
{
	if (k) {
		k->refused++;
		snprintf(k->last_error, sizeof(k->last_error), "%s", why);
	}
	LOG_INFO("sim passkey refused", "{s:s}", "why", why);
	return sim_conn_iq_error(c, iq, "401", "not-authorized");
}

/* <passkey_prologue>: the assertion, then the continuation. */
static int on_prologue(struct sim_conn *c, struct sim_passkey_link *l, const struct wa_node *iq,
		       const struct wa_node *p)
{
	struct sim_passkey_key *k = l->acct->passkey;
	const struct wa_node *cn = wa_node_child(p, "credential_id");
	const struct wa_node *an = wa_node_child(p, "webauthn_assertion");
	const struct wa_node *pn = wa_node_child(p, "prologue_payload");
	const struct wa_node *hn = wa_node_child(p, "pairing_handoff_proof");
	const uint8_t *cred = NULL, *asr = NULL, *pro = NULL, *proof = NULL;
	size_t cred_len = 0, asr_len = 0, pro_len = 0, proof_len = 0;
	Wa__PasskeyProloguePayload *pp = NULL;
	Wa__PasskeyCompanionEphemeralIdentity *ei = NULL;
	Wa__PasskeyPrimaryEphemeralIdentity pe = WA__PASSKEY_PRIMARY_EPHEMERAL_IDENTITY__INIT;
	struct ybuf peb = YBUF_INIT(256);
	uint8_t hk[32], mac[32];
	struct wa_node *n = NULL;
	const char *why;
	int rc;

	if (cn)
		cred = wa_node_bytes(cn, &cred_len);
	if (an)
		asr = wa_node_bytes(an, &asr_len);
	if (pn)
		pro = wa_node_bytes(pn, &pro_len);
	if (hn)
		proof = wa_node_bytes(hn, &proof_len);
	if (!k || l->stage != L_OPTIONS)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	why = check_assertion(k, l, cred, cred_len, asr, asr_len);
	if (why)
		return refuse(c, iq, k, why);
	if (!pro || wa_pb_unpack(&wa__passkey_prologue_payload__descriptor, pro, pro_len,
				 (ProtobufCMessage **)&pp) ||
	    !pp->has_companionephemeralidentity || !pp->commitment || !pp->commitment->has_hash ||
	    pp->commitment->hash.len != 32 || pp->companionephemeralidentity.len > sizeof(l->ident) ||
	    wa_pb_unpack(&wa__passkey_companion_ephemeral_identity__descriptor,
			 pp->companionephemeralidentity.data, pp->companionephemeralidentity.len,
			 (ProtobufCMessage **)&ei) ||
	    !ei->has_publickey || ei->publickey.len != WA_KEY_LEN || !ei->ref ||
	    strcmp(ei->ref, l->ref)) {
		rc = refuse(c, iq, k, "malformed prologue payload");
		goto out;
	}
	k->last_handoff = false;
	if (proof) {
		if (wa_passkey_handoff_key(l->adv, hk) ||
		    wa_passkey_handoff_proof(hk, pro, pro_len, mac) || proof_len != 32 ||
		    wa_memeq_ct(mac, proof, 32)) {
			rc = refuse(c, iq, k, "bad handoff proof");
			goto out;
		}
		k->last_handoff = true;
	}
	memcpy(l->ident, pp->companionephemeralidentity.data, pp->companionephemeralidentity.len);
	l->ident_len = pp->companionephemeralidentity.len;
	memcpy(l->commitment, pp->commitment->hash.data, 32);
	memcpy(l->companion_eph, ei->publickey.data, WA_KEY_LEN);
	l->device_type = ei->has_devicetype ? ei->devicetype : 0;
	rc = wa_keypair_generate(&l->primary_eph);
	rc = rc ?: wa_crypto_random(l->primary_nonce, 32);
	if (rc)
		goto out;
	pe.has_publickey = pe.has_nonce = 1;
	pe.publickey.data = l->primary_eph.pub;
	pe.publickey.len = WA_KEY_LEN;
	pe.nonce.data = l->primary_nonce;
	pe.nonce.len = 32;
	rc = wa_pb_pack(&pe.base, &peb);
	rc = rc ?: sim_conn_send(c, sim_conn_iq_result(iq));
	if (rc)
		goto out;
	k->accepted++;
	k->last_error[0] = 0;
	l->stage = L_NONCE;
	n = notification(sim_conn_sim(c), "crsc_continuation");
	rc = Y_ENOMEM;
	if (!n || !bytes_child(n, "primary_ephemeral_identity", peb.data, peb.len))
		goto out;
	rc = sim_conn_send(c, n);
	n = NULL;
out:
	wa_node_free(n);
	if (ei)
		protobuf_c_message_free_unpacked(&ei->base, NULL);
	if (pp)
		protobuf_c_message_free_unpacked(&pp->base, NULL);
	ybuf_release(&peb);
	wa_wipe(hk, sizeof(hk));
	return rc;
}

/* <companion_nonce>: the commitment holds; both sides now know the code. */
static int on_nonce(struct sim_conn *c, struct sim_passkey_link *l, const struct wa_node *iq,
		    const struct wa_node *nn)
{
	struct sim_passkey_key *k = l->acct->passkey;
	size_t len = 0;
	const uint8_t *nonce = wa_node_bytes(nn, &len);
	uint8_t h[32], shared[32];
	int rc;

	if (l->stage != L_NONCE || !nonce || len != 32)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	if (wa_passkey_commitment(l->ident, l->ident_len, nonce, h) ||
	    wa_memeq_ct(h, l->commitment, 32))
		return refuse(c, iq, k, "companion nonce does not match the commitment");
	rc = wa_passkey_code(nonce, l->primary_eph.pub, l->primary_nonce, k->last_code);
	rc = rc ?: wa_x25519(shared, l->primary_eph.priv, l->companion_eph);
	rc = rc ?: wa_passkey_pairing_key(shared, l->device_type, l->ref, strlen(l->ref), l->key);
	wa_wipe(shared, sizeof(shared));
	if (rc)
		return rc;
	l->stage = L_REQUEST;
	LOG_INFO("sim passkey code shown", "{s:s}", "phone", l->acct->phone);
	return sim_conn_send(c, sim_conn_iq_result(iq));
}

/* <encrypted_pairing_request>: the companion's keys and its new adv secret;
 * then the usual pair-success. */
static int on_request(struct sim_conn *c, struct sim_passkey_link **slot,
		      const struct wa_node *iq, const struct wa_node *rn)
{
	struct sim_passkey_link *l = *slot;
	struct sim_passkey_key *k = l->acct->passkey;
	Wa__PasskeyEncryptedPairingRequest *er = NULL;
	Wa__PasskeyPairingRequest *pr = NULL;
	size_t len = 0;
	const uint8_t *p = wa_node_bytes(rn, &len);
	uint8_t plain[512], adv[32];
	char jid[64], phone[SIM_PHONE_MAX + 1];
	int rc;

	if (l->stage != L_REQUEST || !p)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	if (wa_pb_unpack(&wa__passkey_encrypted_pairing_request__descriptor, p, len,
			 (ProtobufCMessage **)&er) ||
	    !er->has_encryptedpayload || !er->has_iv || er->iv.len != 12 ||
	    er->encryptedpayload.len < WA_GCM_TAG_LEN ||
	    er->encryptedpayload.len - WA_GCM_TAG_LEN > sizeof(plain) ||
	    wa_aes_gcm_decrypt(plain, l->key, er->iv.data, 12, NULL, 0, er->encryptedpayload.data,
			       er->encryptedpayload.len) ||
	    wa_pb_unpack(&wa__passkey_pairing_request__descriptor, plain,
			 er->encryptedpayload.len - WA_GCM_TAG_LEN, (ProtobufCMessage **)&pr) ||
	    !pr->has_companionpublickey || pr->companionpublickey.len != WA_KEY_LEN ||
	    !pr->has_companionidentitykey || pr->companionidentitykey.len != WA_KEY_LEN ||
	    !pr->has_advsecret || pr->advsecret.len != 32 ||
	    memcmp(pr->companionpublickey.data, sim_conn_noise_pub(c), WA_KEY_LEN) ||
	    memcmp(pr->companionidentitykey.data, sim_conn_identity_pub(c), WA_KEY_LEN)) {
		rc = refuse(c, iq, k, "bad encrypted pairing request");
		goto out;
	}
	memcpy(adv, pr->advsecret.data, 32);
	snprintf(phone, sizeof(phone), "%s", l->acct->phone);
	rc = sim_conn_send(c, sim_conn_iq_result(iq));
	if (rc)
		goto out;
	sim_passkey_link_free(l);
	*slot = NULL;
	rc = sim_conn_pair_success(c, phone, adv, jid, sizeof(jid));
out:
	if (pr)
		protobuf_c_message_free_unpacked(&pr->base, NULL);
	if (er)
		protobuf_c_message_free_unpacked(&er->base, NULL);
	wa_wipe(plain, sizeof(plain));
	wa_wipe(adv, sizeof(adv));
	return rc;
}

int sim_passkey_iq(struct sim_conn *c, const struct wa_node *iq, int *rc)
{
	struct sim_passkey_link **slot = sim_conn_passkey(c), *l = *slot;
	const struct wa_node *kid = iq->content == WA_CONTENT_LIST && iq->nkids ? iq->kids[0] : NULL;
	struct wa_node *r, *k;

	if (!kid)
		return 0;
	if (wa_node_is(kid, "ref") || wa_node_is(kid, "passkey_request_options")) {
		bool opts = wa_node_is(kid, "passkey_request_options");

		if (!l) {
			*rc = sim_conn_iq_error(c, iq, "404", "item-not-found");
			return 1;
		}
		r = sim_conn_iq_result(iq);
		k = r ? (opts ? bytes_child(r, "passkey_request_options", l->options,
					    strlen(l->options))
			      : bytes_child(r, "ref", l->ref, strlen(l->ref)))
		      : NULL;
		if (!k) {
			wa_node_free(r);
			*rc = Y_ENOMEM;
			return 1;
		}
		*rc = sim_conn_send(c, r);
		return 1;
	}
	if (!wa_node_is(kid, "passkey_prologue") && !wa_node_is(kid, "companion_nonce") &&
	    !wa_node_is(kid, "encrypted_pairing_request"))
		return 0;
	if (!l)
		*rc = sim_conn_iq_error(c, iq, "400", "bad-request");
	else if (wa_node_is(kid, "passkey_prologue"))
		*rc = on_prologue(c, l, iq, kid);
	else if (wa_node_is(kid, "companion_nonce"))
		*rc = on_nonce(c, l, iq, kid);
	else
		*rc = on_request(c, slot, iq, kid);
	return 1;
}

/* ---- control API ---- */

static json_t *key_json(const struct sim_account *a, bool with_priv)
{
	const struct sim_passkey_key *k = a->passkey;
	char cred[CODEC_B64URL_ENC_LEN(64)];
	json_t *o;

	if (!k)
		return json_pack("{s:s, s:b}", "phone", a->phone, "required", 0);
	codec_b64url_encode(k->cred_id, k->cred_id_len, cred);
	o = json_pack("{s:s, s:b, s:s, s:s, s:s, s:i, s:i, s:s?, s:s?, s:b}", "phone", a->phone,
		      "required", 1, "rpId", WA_PASSKEY_RP_ID, "credentialId", cred,
		      "publicKeyPem", k->pub_pem, "accepted", (int)k->accepted, "refused",
		      (int)k->refused, "lastError", k->last_error[0] ? k->last_error : NULL,
		      "confirmationCode", k->last_code[0] ? k->last_code : NULL, "handoffProof",
		      k->last_handoff);
	if (o && with_priv && k->priv_pem)
		json_object_set_new(o, "privateKeyPem", json_string(k->priv_pem));
	return o;
}

int sim_passkey_api(struct sim *s, struct sim_account *a, const char *method,
		    const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j;
	json_t *req;
	const char *pem, *cred;
	struct sim_passkey_key *k = NULL;

	if (!strcmp(method, "GET"))
		return sim_api_reply(resp, 200, key_json(a, false));
	if (strcmp(method, "POST"))
		return sim_api_error(resp, 405, "GET or POST expected");
	j = sim_api_body(body, len);
	req = j ? json_object_get(j, "required") : NULL;
	pem = j ? json_string_value(json_object_get(j, "publicKeyPem")) : NULL;
	cred = j ? json_string_value(json_object_get(j, "credentialId")) : NULL;
	if (!json_is_boolean(req)) {
		json_decref(j);
		return sim_api_error(resp, 400, "{\"required\": true|false} expected");
	}
	if (json_is_true(req)) {
		k = key_new(pem, cred);
		if (!k) {
			json_decref(j);
			return sim_api_error(resp, 400,
					     "publicKeyPem must be a P-256 public key (PEM) and "
					     "credentialId base64url");
		}
	}
	json_decref(j);
	sim_passkey_key_free(a->passkey);
	a->passkey = k;
	LOG_INFO("sim passkey", "{s:s, s:b}", "phone", a->phone, "required", k != NULL);
	return sim_api_reply(resp, 200, key_json(a, true));
}
