/*
 * Pair-code (link code) linking, protocol-map.md §5.2, the companion's side:
 * instead of scanning the QR, the user types a code shown here into the
 * phone. While registering (QR on show), wa_client_pair_code makes a code
 * and an ephemeral key, wraps the key with the code (off the loop: PBKDF2)
 * and sends companion_hello; the server answers with a ref and the code is
 * handed out. When the phone enters it the server pushes primary_hello: the
 * phone's ephemeral key is unwrapped (off the loop again), the key bundle
 * sealed, the adv secret replaced by the one both sides derive, and
 * companion_finish sent. The phone's pair-success then takes the QR path
 * (pair.c). The QR stays valid throughout, as on WhatsApp Web; a finish the
 * server refuses (a wrong code on the phone) restores the QR's adv secret.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/jid.h"
#include "wa/paircode.h"

/* What we announce: Chrome, as the QR's client type (creds.c) and the
 * ClientPayload's web sub-platform; the server checks "Browser (OS)". */
#define PLATFORM_ID "1"
#define PLATFORM_DISPLAY "Chrome (Linux)"
#define PHONE_MAX 15

enum pc_stage {
	PC_WRAPPING,   /* our key is being wrapped off the loop */
	PC_HELLO,      /* companion_hello sent, waiting for the ref */
	PC_WAITING,    /* code handed out, waiting for the phone */
	PC_UNWRAPPING, /* primary_hello came: the phone's key is being unwrapped */
	PC_FINISHING,  /* companion_finish sent */
};

struct cl_paircode {
	enum pc_stage stage;
	char phone[PHONE_MAX + 1];
	char code[WA_PAIRCODE_LEN + 1];
	struct wa_keypair eph;
	uint8_t ref[CL_REF_MAX];
	size_t ref_len;
	uint8_t primary_ident[WA_KEY_LEN];
	uint8_t qr_adv[32];             /* the adv secret the QR carries */
	wa_client_pair_code_cb cb;      /* until the code is handed out */
	void *cb_ud;
	struct wa_paircode_job *job;    /* in flight; cancelled on reset */
};

static void pc_free(struct cl_paircode *pc)
{
	wa_paircode_job_cancel(pc->job);
	wa_wipe(pc, sizeof(*pc));
	free(pc);
}

/* Ends the attempt; a caller still waiting for its code gets err. */
static void pc_end(struct wa_client *cl, int err)
{
	struct cl_paircode *pc = cl->pc;
	wa_client_pair_code_cb cb;
	void *ud;

	if (!pc)
		return;
	cl->pc = NULL;
	cb = pc->cb;
	ud = pc->cb_ud;
	pc_free(pc);
	if (cb && !cl->freeing)
		cb(cl, err, NULL, ud);
}

void cl_paircode_reset(struct wa_client *cl)
{
	pc_end(cl, Y_ECLOSED);
}

static int phone_ok(const char *p)
{
	size_t n = strlen(p);

	if (n < 8 || n > PHONE_MAX || p[0] == '0')
		return 0;
	return strspn(p, "0123456789") == n;
}

/* A child with bytes (or text) content under parent; NULL on ENOMEM. */
static struct wa_node *kid(struct wa_node *parent, const char *tag, const void *p, size_t n,
			   bool text)
{
	struct wa_node *k = wa_node_add_child(parent, tag);

	if (k && (text ? wa_node_set_text(k, p, n) : wa_node_set_bytes(k, p, n)))
		return NULL;
	return k;
}

/* <iq xmlns=md type=set><link_code_companion_reg jid=PHONE@s.whatsapp.net stage>. */
static struct wa_node *lc_iq(struct wa_client *cl, const char *stage, struct wa_node **lc)
{
	struct wa_node *iq = cl_iq_new(cl, "set", "md");
	struct wa_jid j;

	memset(&j, 0, sizeof(j));
	j.user = cl->pc->phone;
	j.user_len = (uint32_t)strlen(cl->pc->phone);
	j.server = WA_SERVER_USER;
	j.server_len = (uint32_t)strlen(WA_SERVER_USER);
	j.kind = WA_JID_PAIR;
	if (!iq || !(*lc = wa_node_add_child(iq, "link_code_companion_reg")) ||
	    wa_node_add_attr_jid(*lc, "jid", &j) || wa_node_add_attr(*lc, "stage", stage)) {
		wa_node_free(iq);
		return NULL;
	}
	return iq;
}

static void on_hello_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_paircode *pc = cl->pc;
	const uint8_t *ref;
	size_t len = 0;
	char shown[WA_PAIRCODE_TEXT_LEN];
	wa_client_pair_code_cb cb;

	if (!pc || pc->stage != PC_HELLO)
		return;
	ref = err ? NULL : cl_kid_bytes(wa_node_child(n, "link_code_companion_reg"),
				       "link_code_pairing_ref", &len);
	if (!ref || !len || len > sizeof(pc->ref)) {
		LOG_WARN("client pair code refused", "{s:s}", "error",
			 y_strerror(err ? err : Y_EINVAL));
		pc_end(cl, err ? err : Y_EINVAL);
		return;
	}
	memcpy(pc->ref, ref, len);
	pc->ref_len = len;
	pc->stage = PC_WAITING;
	cb = pc->cb;
	pc->cb = NULL;
	wa_paircode_display(pc->code, shown);
	LOG_INFO("client pair code ready", NULL);
	cb(cl, Y_OK, shown, pc->cb_ud);
	wa_wipe(shown, sizeof(shown));
}

/* Our key is wrapped: companion_hello, children as whatsmeow sends them. */
static void on_wrapped(struct wa_paircode_job *j, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_paircode *pc = cl->pc;
	struct wa_node *iq, *lc;
	static const uint8_t nonce = 0;
	int rc = j->err;

	pc->job = NULL;
	if (rc)
		goto fail;
	rc = Y_ENOMEM;
	iq = lc_iq(cl, "companion_hello", &lc);
	if (!iq || wa_node_add_attr(lc, "should_show_push_notification", "true") ||
	    !kid(lc, "link_code_pairing_wrapped_companion_ephemeral_pub", j->wrapped,
		 sizeof(j->wrapped), false) ||
	    !kid(lc, "companion_server_auth_key_pub", cl->creds.noise.pub, WA_KEY_LEN, false) ||
	    !kid(lc, "companion_platform_id", PLATFORM_ID, strlen(PLATFORM_ID), true) ||
	    !kid(lc, "companion_platform_display", PLATFORM_DISPLAY, strlen(PLATFORM_DISPLAY),
		 true) ||
	    !kid(lc, "link_code_pairing_nonce", &nonce, 1, false)) {
		wa_node_free(iq);
		goto fail;
	}
	pc->stage = PC_HELLO;
	rc = cl_iq_send(cl, iq, on_hello_answer);
	if (!rc)
		return;
fail:
	pc_end(cl, rc);
}

int wa_client_pair_code(struct wa_client *cl, const char *phone, wa_client_pair_code_cb cb,
			void *ud)
{
	struct cl_paircode *pc;
	struct wa_paircode_job *j = NULL;
	int rc;

	if (!cb || !phone || !phone_ok(phone))
		return Y_EINVAL;
	if (cl->state != WA_CL_QR || !cl->conn || wa_creds_linked(&cl->creds))
		return Y_ESTATE;
	if (cl->pc && cl->pc->stage != PC_WAITING)
		return Y_EBUSY; /* a code is being made, or the phone entered one */
	pc_end(cl, Y_OK);   /* a new code replaces the one handed out */
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return Y_ENOMEM;
	memcpy(pc->phone, phone, strlen(phone) + 1);
	rc = wa_paircode_generate(pc->code);
	rc = rc ?: wa_keypair_generate(&pc->eph);
	rc = rc ?: wa_paircode_job_new(&j);
	if (rc)
		goto fail;
	memcpy(j->code, pc->code, sizeof(j->code));
	memcpy(j->pub, pc->eph.pub, WA_KEY_LEN);
	j->wrap = true;
	pc->stage = PC_WRAPPING;
	pc->cb = cb;
	pc->cb_ud = ud;
	cl->pc = pc;
	rc = wa_paircode_job_start(cl->pool->loop, j, on_wrapped, cl);
	if (rc) {
		cl->pc = NULL;
		goto fail;
	}
	pc->job = j;
	return Y_OK;
fail:
	wa_paircode_job_free(j);
	pc_free(pc);
	return rc;
}

static void on_finish_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_paircode *pc = cl->pc;

	if (!pc || pc->stage != PC_FINISHING)
		return;
	if (!err) {
		/* pair-success follows (pair.c) */
		LOG_INFO("client pair code accepted", NULL);
		pc_end(cl, Y_OK);
		return;
	}
	LOG_INFO("client pair code refused by the phone", "{s:s}", "error", y_strerror(err));
	if (cl->state == WA_CL_QR) {
		/* the QR on show still links */
		memcpy(cl->creds.adv_secret, pc->qr_adv, 32);
		cl_creds_changed(cl);
		pc_end(cl, Y_OK);
		cl_set_state(cl, WA_CL_QR, WA_REASON_PAIR_CODE_FAILED);
		return;
	}
	pc_end(cl, Y_OK);
}

/* The phone's key is unwrapped: seal the bundle, derive the adv secret,
 * companion_finish. */
static void on_unwrapped(struct wa_paircode_job *j, void *ud)
{
	struct wa_client *cl = ud;
	struct cl_paircode *pc = cl->pc;
	uint8_t eph[32], idsh[32], rnd[32], adv[32], bundle[WA_PAIRCODE_BUNDLE_LEN];
	struct wa_node *iq = NULL, *lc;
	int rc = j->err;

	pc->job = NULL;
	rc = rc ?: wa_x25519(eph, pc->eph.priv, j->unwrapped);
	rc = rc ?: wa_x25519(idsh, cl->creds.identity.priv, pc->primary_ident);
	rc = rc ?: wa_crypto_random(rnd, sizeof(rnd));
	rc = rc ?: wa_paircode_bundle_seal(bundle, eph, NULL, NULL, cl->creds.identity.pub,
					   pc->primary_ident, rnd);
	rc = rc ?: wa_paircode_adv_secret(adv, eph, idsh, rnd);
	if (rc)
		goto out;
	rc = Y_ENOMEM;
	iq = lc_iq(cl, "companion_finish", &lc);
	if (!iq || !kid(lc, "link_code_pairing_wrapped_key_bundle", bundle, sizeof(bundle), false) ||
	    !kid(lc, "companion_identity_public", cl->creds.identity.pub, WA_KEY_LEN, false) ||
	    !kid(lc, "link_code_pairing_ref", pc->ref, pc->ref_len, false))
		goto out;
	/* pair-success will be HMACed with the new secret: keep it first */
	memcpy(pc->qr_adv, cl->creds.adv_secret, 32);
	memcpy(cl->creds.adv_secret, adv, 32);
	cl_creds_changed(cl);
	pc->stage = PC_FINISHING;
	rc = cl_iq_send(cl, iq, on_finish_answer);
	iq = NULL;
out:
	wa_node_free(iq);
	if (rc) {
		LOG_WARN("client pair code finish failed", "{s:s}",
			 "error", y_strerror(rc));
		if (pc->stage == PC_FINISHING) {
			memcpy(cl->creds.adv_secret, pc->qr_adv, 32);
			cl_creds_changed(cl);
		}
		pc_end(cl, Y_OK);
	}
	wa_wipe(eph, sizeof(eph));
	wa_wipe(idsh, sizeof(idsh));
	wa_wipe(rnd, sizeof(rnd));
	wa_wipe(adv, sizeof(adv));
}

/* <notification type=link_code_companion_reg><link_code_companion_reg
 * stage=primary_hello>: the phone entered the code. */
int cl_paircode_notification(struct wa_client *cl, const struct wa_node *n)
{
	const struct wa_node *lc = wa_node_child(n, "link_code_companion_reg");
	struct cl_paircode *pc = cl->pc;
	const uint8_t *ref, *wrapped, *ident;
	size_t rl, wl, il;
	struct wa_paircode_job *j = NULL;
	int rc;

	if (!pc || pc->stage != PC_WAITING || !lc)
		return Y_OK;
	ref = cl_kid_bytes(lc, "link_code_pairing_ref", &rl);
	wrapped = cl_kid_bytes(lc, "link_code_pairing_wrapped_primary_ephemeral_pub", &wl);
	ident = cl_kid_bytes(lc, "primary_identity_pub", &il);
	if (!ref || rl != pc->ref_len || memcmp(ref, pc->ref, rl) || !wrapped ||
	    wl != WA_PAIRCODE_WRAPPED_LEN || !ident || il != WA_KEY_LEN) {
		LOG_WARN("client pair code: unexpected primary_hello", NULL);
		return Y_OK;
	}
	memcpy(pc->primary_ident, ident, WA_KEY_LEN);
	rc = wa_paircode_job_new(&j);
	if (rc)
		goto fail;
	memcpy(j->code, pc->code, sizeof(j->code));
	memcpy(j->wrapped_in, wrapped, WA_PAIRCODE_WRAPPED_LEN);
	j->unwrap = true;
	rc = wa_paircode_job_start(cl->pool->loop, j, on_unwrapped, cl);
	if (rc)
		goto fail;
	pc->job = j;
	pc->stage = PC_UNWRAPPING;
	LOG_INFO("client pair code entered on the phone", NULL);
	return Y_OK;
fail:
	wa_paircode_job_free(j);
	pc_end(cl, Y_OK);
	return Y_OK;
}
