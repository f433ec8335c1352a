/*
 * The passkey step of linking (protocol-map.md §13; the node sequence is in
 * src/wa/passkey.h). Some accounts, decided by WhatsApp, must prove their
 * passkey after the phone scanned the QR: the server sends the WebAuthn
 * request options instead of pair-success. The assertion can only be made
 * by a browser on a whatsapp.com origin holding the owner's passkey, so the
 * client surfaces the options (on_passkey), stops the QR rotation, holds the
 * connection for WA_PASSKEY_TIMEOUT_MS, and waits for
 * wa_client_passkey_submit.
 *
 * Stages, each a precondition of the next node:
 *   PK_ASSERTION     options shown, waiting for the user's assertion
 *   PK_REF           <ref/> asked (the assertion is kept meanwhile)
 *   PK_PROLOGUE      <passkey_prologue> sent, waiting for the answer
 *   PK_CONTINUATION  accepted, waiting for crsc_continuation
 *   PK_NONCE         <companion_nonce> sent
 *   PK_CONFIRM       code derived, waiting for wa_client_passkey_confirm
 *   PK_REQUEST       <encrypted_pairing_request> sent; pair-success follows
 * As whatsmeow: the handoff key comes from the adv secret the QR showed,
 * the adv secret is replaced when the request arrives (the new one goes to
 * the phone encrypted), and the handoff proof is sent when the assertion
 * comes within WA_PASSKEY_HANDOFF_MS; then the code needs no confirmation.
 */
#include "client/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "passkey.pb-c.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "wa.pb-c.h"
#include "wa/passkey.h"
#include "wa/pb.h"

#define PK_OPTIONS_MAX (8 << 10)
#define PK_ASSERTION_MAX (16 << 10)
#define PK_CRED_MAX 1024

enum pk_stage { PK_ASSERTION, PK_REF, PK_PROLOGUE, PK_CONTINUATION, PK_NONCE, PK_CONFIRM,
		PK_REQUEST };

struct cl_passkey {
	enum pk_stage stage;
	char *options;             /* owned: the WebAuthn request JSON */
	uint8_t handoff[32];
	uint64_t requested_ms;     /* when the request came (the handoff window) */
	bool proof_sent;
	char *assertion;           /* owned, while PK_REF */
	uint8_t *cred;
	size_t cred_len;
	char ref[CL_REF_MAX];
	struct wa_keypair eph;
	uint8_t nonce[WA_PASSKEY_NONCE_LEN];
	uint8_t key[32];
	char code[WA_PASSKEY_CODE_LEN + 1];
};

/* Adds <tag>bytes</tag> under parent. */
static int kid(struct wa_node *parent, const char *tag, const void *b, size_t len)
{
	struct wa_node *k = wa_node_add_child(parent, tag);

	return k ? wa_node_set_bytes(k, b, len) : Y_ENOMEM;
}

static void report(struct wa_client *cl)
{
	struct cl_passkey *p = cl->passkey;

	if (cl->cbs.on_passkey && !cl->freeing)
		cl->cbs.on_passkey(cl, p ? p->options : NULL, p && p->code[0] ? p->code : NULL,
				   cl->ud);
}

static void drop_assertion(struct cl_passkey *p)
{
	free(p->assertion);
	p->assertion = NULL;
	free(p->cred);
	p->cred = NULL;
	p->cred_len = 0;
}

void cl_passkey_clear(struct wa_client *cl)
{
	struct cl_passkey *p = cl->passkey;

	if (!p)
		return;
	cl->passkey = NULL;
	drop_assertion(p);
	free(p->options);
	wa_wipe(p, sizeof(*p));
	free(p);
	if (cl->cbs.on_passkey && !cl->freeing)
		cl->cbs.on_passkey(cl, NULL, NULL, cl->ud);
}

void cl_passkey_timeout(struct wa_client *cl)
{
	LOG_INFO("client passkey timed out", NULL);
	cl_give_up(cl, WA_CL_FAILED, WA_REASON_PASSKEY_TIMEOUT);
}

/* The step cannot go on: linking failed (restartable). */
static void fail(struct wa_client *cl, const char *why)
{
	LOG_WARN("client passkey step failed", "{s:s}", "why", why);
	cl_give_up(cl, WA_CL_FAILED, WA_REASON_PAIRING_FAILED);
}

/* Takes the options bytes of <passkey_request_options> under n. */
static int take_options(struct wa_client *cl, const struct wa_node *n)
{
	size_t len = 0;
	const uint8_t *o = cl_kid_bytes(n, "passkey_request_options", &len);
	struct cl_passkey *p;

	if (!o || !len || len > PK_OPTIONS_MAX || memchr(o, 0, len))
		return Y_EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->options = malloc(len + 1))) {
		free(p);
		return Y_ENOMEM;
	}
	memcpy(p->options, o, len);
	p->options[len] = 0;
	/* the handoff key is bound to the adv secret the QR showed; a new one
	 * goes to the phone with the pairing request */
	if (wa_passkey_handoff_key(cl->creds.adv_secret, p->handoff) ||
	    wa_crypto_random(cl->creds.adv_secret, sizeof(cl->creds.adv_secret))) {
		free(p->options);
		free(p);
		return Y_ECRYPTO;
	}
	p->requested_ms = (uint64_t)clock_mono_ms();
	p->stage = PK_ASSERTION;
	cl_passkey_clear(cl);
	cl->passkey = p;
	/* the QR is done: hold the connection for the step instead */
	cl_qr_clear(cl);
	cl_timer_start(cl, T_PASSKEY, WA_PASSKEY_TIMEOUT_MS);
	report(cl);
	cl_set_state(cl, WA_CL_PASSKEY, NULL);
	LOG_INFO("client passkey required", NULL);
	return Y_OK;
}

static void on_options(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;

	if (cl->conn != c || cl->state != WA_CL_QR)
		return;
	if (err || take_options(cl, n))
		fail(cl, "no passkey request options");
}

int cl_passkey_request(struct wa_client *cl, const struct wa_node *n)
{
	struct wa_node *iq;
	int rc;

	if (!cl_from_server(n) || cl->state != WA_CL_QR)
		return Y_OK;
	rc = take_options(cl, n);
	if (rc != Y_EINVAL)
		return rc;
	/* unreadable: ask for the options (as whatsmeow does) */
	iq = cl_iq_new(cl, "get", "md");
	if (!iq || !wa_node_add_child(iq, "passkey_request_options")) {
		wa_node_free(iq);
		return Y_ENOMEM;
	}
	return cl_iq_send(cl, iq, on_options);
}

static void on_prologue_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_passkey *p = cl->passkey;

	if (cl->conn != c || !p || p->stage != PK_PROLOGUE)
		return;
	if (err == Y_EINVAL) {
		/* refused: the user may try again while the step lasts */
		p->stage = PK_ASSERTION;
		cl_set_state(cl, WA_CL_PASSKEY, WA_REASON_PASSKEY_REJECTED);
		return;
	}
	if (err) {
		fail(cl, "passkey prologue unanswered");
		return;
	}
	p->stage = PK_CONTINUATION;
}

/* Builds the ProloguePayload (and keeps the ephemeral key and nonce). */
static int prologue_payload(struct wa_client *cl, struct cl_passkey *p, struct ybuf *out)
{
	Wa__PasskeyCompanionEphemeralIdentity ei = WA__PASSKEY_COMPANION_EPHEMERAL_IDENTITY__INIT;
	Wa__PasskeyCompanionCommitment cm = WA__PASSKEY_COMPANION_COMMITMENT__INIT;
	Wa__PasskeyProloguePayload pp = WA__PASSKEY_PROLOGUE_PAYLOAD__INIT;
	struct ybuf ident = YBUF_INIT(512);
	uint8_t hash[32];
	int rc;

	rc = wa_keypair_generate(&p->eph);
	rc = rc ?: wa_crypto_random(p->nonce, sizeof(p->nonce));
	if (rc)
		goto out;
	ei.has_publickey = 1;
	ei.publickey.data = p->eph.pub;
	ei.publickey.len = WA_KEY_LEN;
	ei.has_devicetype = 1; /* the platform type our DeviceProps announce */
	ei.devicetype = WA__DEVICE_PROPS__PLATFORM_TYPE__UNKNOWN;
	ei.ref = p->ref;
	rc = wa_pb_pack(&ei.base, &ident);
	rc = rc ?: wa_passkey_commitment(ident.data, ident.len, p->nonce, hash);
	if (rc)
		goto out;
	cm.has_hash = 1;
	cm.hash.data = hash;
	cm.hash.len = sizeof(hash);
	pp.has_companionephemeralidentity = 1;
	pp.companionephemeralidentity.data = ident.data;
	pp.companionephemeralidentity.len = ident.len;
	pp.commitment = &cm;
	rc = wa_pb_pack(&pp.base, out);
out:
	ybuf_release(&ident);
	return rc;
}

static int send_prologue(struct wa_client *cl, struct cl_passkey *p)
{
	struct ybuf pro = YBUF_INIT(1024);
	struct wa_node *iq = NULL, *k;
	uint8_t proof[32];
	int rc = prologue_payload(cl, p, &pro);

	if (rc)
		goto out;
	p->proof_sent = (uint64_t)clock_mono_ms() - p->requested_ms < WA_PASSKEY_HANDOFF_MS;
	if (p->proof_sent && (rc = wa_passkey_handoff_proof(p->handoff, pro.data, pro.len, proof)))
		goto out;
	rc = Y_ENOMEM;
	iq = cl_iq_new(cl, "set", "md");
	if (!iq || !(k = wa_node_add_child(iq, "passkey_prologue")))
		goto out;
	if (kid(k, "credential_id", p->cred, p->cred_len) ||
	    kid(k, "webauthn_assertion", p->assertion, strlen(p->assertion)) ||
	    kid(k, "prologue_payload", pro.data, pro.len) ||
	    (p->proof_sent && kid(k, "pairing_handoff_proof", proof, 32)))
		goto out;
	drop_assertion(p);
	p->stage = PK_PROLOGUE;
	rc = cl_iq_send(cl, iq, on_prologue_answer);
	iq = NULL;
out:
	wa_node_free(iq);
	ybuf_release(&pro);
	return rc;
}

static void on_ref(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_passkey *p = cl->passkey;
	size_t len = 0;
	const uint8_t *ref;

	if (cl->conn != c || !p || p->stage != PK_REF)
		return;
	ref = err ? NULL : cl_kid_bytes(n, "ref", &len);
	if (!ref || !len || len >= sizeof(p->ref) || memchr(ref, 0, len)) {
		fail(cl, "no ref");
		return;
	}
	memcpy(p->ref, ref, len);
	p->ref[len] = 0;
	if (send_prologue(cl, p))
		fail(cl, "cannot send the passkey prologue");
}

int wa_client_passkey_submit(struct wa_client *cl, const char *assertion_json,
			     const uint8_t *raw_id, size_t raw_id_len)
{
	struct cl_passkey *p = cl->passkey;
	struct wa_node *iq;
	int rc;

	if (cl->state != WA_CL_PASSKEY || !p || p->stage != PK_ASSERTION || !cl->conn)
		return Y_ESTATE;
	if (!assertion_json || !*assertion_json || strlen(assertion_json) > PK_ASSERTION_MAX ||
	    !raw_id || !raw_id_len || raw_id_len > PK_CRED_MAX)
		return Y_EINVAL;
	if (!(p->assertion = strdup(assertion_json)) || !(p->cred = malloc(raw_id_len))) {
		drop_assertion(p);
		return Y_ENOMEM;
	}
	memcpy(p->cred, raw_id, raw_id_len);
	p->cred_len = raw_id_len;
	/* the ref the phone scanned goes into the ephemeral identity */
	iq = cl_iq_new(cl, "get", "md");
	if (!iq || !wa_node_add_child(iq, "ref")) {
		wa_node_free(iq);
		drop_assertion(p);
		return Y_ENOMEM;
	}
	p->stage = PK_REF;
	rc = cl_iq_send(cl, iq, on_ref);
	if (rc) {
		p->stage = PK_ASSERTION;
		drop_assertion(p);
	}
	return rc;
}

static void on_request_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;

	if (cl->conn == c && err && cl->passkey)
		fail(cl, "encrypted pairing request refused");
}

static int send_request(struct wa_client *cl, struct cl_passkey *p)
{
	Wa__PasskeyPairingRequest pr = WA__PASSKEY_PAIRING_REQUEST__INIT;
	Wa__PasskeyEncryptedPairingRequest er = WA__PASSKEY_ENCRYPTED_PAIRING_REQUEST__INIT;
	struct ybuf plain = YBUF_INIT(512), wrapped = YBUF_INIT(1024);
	uint8_t iv[12], ct[512 + WA_GCM_TAG_LEN];
	struct wa_node *iq = NULL;
	int rc;

	pr.has_companionpublickey = pr.has_companionidentitykey = pr.has_advsecret = 1;
	pr.companionpublickey.data = cl->creds.noise.pub;
	pr.companionpublickey.len = WA_KEY_LEN;
	pr.companionidentitykey.data = cl->creds.identity.pub;
	pr.companionidentitykey.len = WA_KEY_LEN;
	pr.advsecret.data = cl->creds.adv_secret;
	pr.advsecret.len = sizeof(cl->creds.adv_secret);
	rc = wa_pb_pack(&pr.base, &plain);
	rc = rc ?: wa_crypto_random(iv, sizeof(iv));
	if (!rc && plain.len > 512)
		rc = Y_ETOOBIG;
	rc = rc ?: wa_aes_gcm_encrypt(ct, p->key, iv, sizeof(iv), NULL, 0, plain.data, plain.len);
	if (rc)
		goto out;
	er.has_encryptedpayload = er.has_iv = 1;
	er.encryptedpayload.data = ct;
	er.encryptedpayload.len = plain.len + WA_GCM_TAG_LEN;
	er.iv.data = iv;
	er.iv.len = sizeof(iv);
	rc = wa_pb_pack(&er.base, &wrapped);
	if (rc)
		goto out;
	rc = Y_ENOMEM;
	iq = cl_iq_new(cl, "set", "md");
	if (!iq || kid(iq, "encrypted_pairing_request", wrapped.data, wrapped.len))
		goto out;
	p->stage = PK_REQUEST;
	rc = cl_iq_send(cl, iq, on_request_answer);
	iq = NULL;
out:
	wa_node_free(iq);
	wa_wipe(plain.data, plain.len);
	ybuf_release(&plain);
	ybuf_release(&wrapped);
	return rc;
}

static void on_nonce_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_passkey *p = cl->passkey;

	if (cl->conn != c || !p || p->stage != PK_NONCE)
		return;
	if (err) {
		fail(cl, "companion nonce refused");
		return;
	}
	p->stage = PK_CONFIRM;
	report(cl); /* the code, to show while the phone shows its own */
	/* with the handoff proof the phone already knows us: no need for the
	 * user to compare codes (whatsmeow's QR channel confirms by itself) */
	if (p->proof_sent && send_request(cl, p))
		fail(cl, "cannot send the pairing request");
}

int cl_passkey_continuation(struct wa_client *cl, const struct wa_node *n)
{
	struct cl_passkey *p = cl->passkey;
	Wa__PasskeyPrimaryEphemeralIdentity *pe = NULL;
	const uint8_t *b;
	size_t len;
	uint8_t shared[32];
	struct wa_node *iq;
	int rc = Y_OK;

	if (!cl_from_server(n) || cl->state != WA_CL_PASSKEY || !p || p->stage != PK_CONTINUATION)
		return Y_OK;
	b = cl_kid_bytes(n, "primary_ephemeral_identity", &len);
	if (!b || wa_pb_unpack(&wa__passkey_primary_ephemeral_identity__descriptor, b, len,
			       (ProtobufCMessage **)&pe) ||
	    !pe->has_publickey || pe->publickey.len != WA_KEY_LEN || !pe->has_nonce ||
	    pe->nonce.len != 32) {
		fail(cl, "malformed primary ephemeral identity");
		goto out;
	}
	if (wa_x25519(shared, p->eph.priv, pe->publickey.data) ||
	    wa_passkey_pairing_key(shared, WA__DEVICE_PROPS__PLATFORM_TYPE__UNKNOWN, p->ref,
				   strlen(p->ref), p->key) ||
	    wa_passkey_code(p->nonce, pe->publickey.data, pe->nonce.data, p->code)) {
		fail(cl, "key agreement failed");
		goto out;
	}
	iq = cl_iq_new(cl, "set", "md");
	if (!iq || kid(iq, "companion_nonce", p->nonce, sizeof(p->nonce))) {
		wa_node_free(iq);
		rc = Y_ENOMEM;
		goto out;
	}
	p->stage = PK_NONCE;
	rc = cl_iq_send(cl, iq, on_nonce_answer);
out:
	wa_wipe(shared, sizeof(shared));
	if (pe)
		protobuf_c_message_free_unpacked(&pe->base, NULL);
	return rc;
}

int wa_client_passkey_confirm(struct wa_client *cl)
{
	struct cl_passkey *p = cl->passkey;

	if (cl->state != WA_CL_PASSKEY || !p || p->stage != PK_CONFIRM || !cl->conn)
		return Y_ESTATE;
	return send_request(cl, p);
}
