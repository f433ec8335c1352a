/*
 * Pairing on a simulator connection (protocol-map.md §5): the phone's scan
 * of a QR (sim_conn_scan), pair-success with the ADV identity the phone
 * signs, the companion's pair-device-sign that creates the device, and
 * pair-code linking (companion_hello, the phone entering the code off the
 * loop, companion_finish). Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/adv.h"
#include "wa/jid.h"
#include "wa/qrtext.h"

/* Builds the ADVSignedDeviceIdentityHMAC of pair-success: the phone
 * (account identity) vouches for the companion's identity. */
static int make_device_identity(struct sim_account *a, uint32_t key_index,
				const uint8_t ident[WA_KEY_LEN], const uint8_t adv[32],
				struct ybuf *out)
{
	struct wa_adv_details d;
	struct wa_keypair acct;
	uint8_t raw[4];
	int rc = wa_crypto_random(raw, sizeof(raw));

	if (rc)
		return rc;
	d.raw_id = (((uint32_t)raw[0] << 24) | ((uint32_t)raw[1] << 16) | ((uint32_t)raw[2] << 8) |
		    raw[3]) & 0x7fffffff;
	d.timestamp = sim_now_s();
	d.key_index = key_index;
	memcpy(acct.pub, a->ident.pub, WA_KEY_LEN);
	memcpy(acct.priv, a->ident.priv, WA_KEY_LEN);
	rc = wa_adv_make(&acct, &d, ident, adv, out);
	wa_wipe(&acct, sizeof(acct));
	return rc;
}

/* The phone of `phone` accepts the companion on c: pair-success with an
 * ADV identity HMACed with adv. Writes the device JID into jid. */
int sim_conn_pair_success(struct sim_conn *c, const char *phone, const uint8_t adv[32], char *jid,
			  size_t jid_cap)
{
	struct sim *s = c->sim;
	struct ybuf di = YBUF_INIT(4096);
	struct sim_account *a;
	struct wa_node *n = NULL, *ps, *k;
	char id[SIM_IQ_ID_LEN], devjid[64], lidjid[64];
	int rc;

	a = sim_account_get(s, phone);
	if (!a)
		return Y_ENOMEM;
	c->pair.acct = a;
	c->pair.dev = a->next_device;
	c->pair.key_index = a->key_index + 1;
	rc = make_device_identity(a, c->pair.key_index, c->reg.ident, adv, &di);
	if (rc)
		goto out;
	snprintf(id, sizeof(id), "pair-%llu", (unsigned long long)++s->next_iq);
	sim_device_jid(a, c->pair.dev, false, devjid, sizeof(devjid));
	sim_device_jid(a, c->pair.dev, true, lidjid, sizeof(lidjid));
	rc = Y_ENOMEM;
	n = wa_node_new("iq");
	if (!n || sim_attrs(n, "from", S_WA, "type", "set", "id", id, "xmlns", "md", NULL) ||
	    !(ps = wa_node_add_child(n, "pair-success")) ||
	    !sim_child_bytes(ps, "device-identity", di.data, di.len) ||
	    !(k = wa_node_add_child(ps, "platform")) || sim_attrs(k, "name", "android", NULL) ||
	    !(k = wa_node_add_child(ps, "device")) ||
	    sim_attrs(k, "jid", devjid, "lid", lidjid, NULL))
		goto out;
	rc = sim_conn_send(c, n);
	n = NULL;
	if (rc)
		goto out;
	a->next_device++;
	a->key_index++;
	c->pair.active = true;
	snprintf(c->pair.iq, sizeof(c->pair.iq), "%s", id);
	snprintf(jid, jid_cap, "%s", devjid);
	LOG_INFO("sim pair-success", "{s:s, s:s}", "phone", a->phone, "jid", devjid);
out:
	wa_node_free(n);
	ybuf_release(&di);
	return rc;
}

/* ---- pair code (link code) linking, protocol-map.md §5.2 ---- */

/* companion_hello: keep the wrapped ephemeral key, answer with a ref. */
int sim_pair_code_hello(struct sim_conn *c, const struct wa_node *iq, const struct wa_node *lc)
{
	const char *jid = wa_node_attr(lc, "jid");
	const uint8_t *w, *auth;
	size_t wl, al;
	struct wa_jid j;
	struct wa_node *r, *k;
	uint8_t rnd[8];
	char norm[SIM_PHONE_MAX + 1], user[32];

	w = sim_kid_bytes(lc, "link_code_pairing_wrapped_companion_ephemeral_pub", &wl);
	auth = sim_kid_bytes(lc, "companion_server_auth_key_pub", &al);
	if (!c->registering || !jid || wa_jid_parse(jid, strlen(jid), &j) || j.user_len == 0 ||
	    j.user_len >= sizeof(user) || !w || wl != sizeof(c->lc.wrapped) || !auth ||
	    al != WA_KEY_LEN || memcmp(auth, c->client_static, WA_KEY_LEN))
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	memcpy(user, j.user, j.user_len);
	user[j.user_len] = 0;
	if (sim_phone_norm(user, norm))
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	wa_paircode_job_cancel(c->lc.job); /* a new hello replaces the last one */
	c->lc.job = NULL;
	memcpy(c->lc.wrapped, w, wl);
	snprintf(c->lc.phone, sizeof(c->lc.phone), "%s", norm);
	if (wa_crypto_random(rnd, sizeof(rnd)))
		return Y_ECRYPTO;
	memcpy(c->lc.ref, "lc-", 3);
	sim_hex(rnd, sizeof(rnd), c->lc.ref + 3, false);
	c->lc.active = true;
	c->lc.entered = false;
	r = sim_conn_iq_result(iq);
	if (!r || !(k = wa_node_add_child(r, "link_code_companion_reg")) ||
	    !sim_child_bytes(k, "link_code_pairing_ref", c->lc.ref, strlen(c->lc.ref))) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	LOG_INFO("sim pair-code hello", "{s:s}", "phone", norm);
	return sim_conn_send(c, r);
}

/* The phone's side of the code, computed off the loop (both PBKDF2s): the
 * companion's ephemeral key unwrapped, ours wrapped. Pushes primary_hello. */
static void lc_entered(struct wa_paircode_job *j, void *ud)
{
	struct sim_conn *c = ud;
	struct sim *s = c->sim;
	struct sim_account *a = sim_account_find(s, c->lc.phone);
	struct wa_node *no = NULL, *lc;
	char id[SIM_IQ_ID_LEN], t[24];
	int rc = j->err;

	c->lc.job = NULL;
	if (c->state != C_OPEN)
		return; /* closing: nobody to tell */
	if (!rc && !a)
		rc = Y_ENOTFOUND;
	if (rc)
		goto out;
	memcpy(c->lc.companion_eph, j->unwrapped, WA_KEY_LEN);
	snprintf(id, sizeof(id), "lc-%llu", (unsigned long long)++s->next_iq);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	rc = Y_ENOMEM;
	no = wa_node_new("notification");
	if (!no || sim_attrs(no, "from", S_WA, "type", "link_code_companion_reg", "id", id, "t", t,
			     NULL) ||
	    !(lc = wa_node_add_child(no, "link_code_companion_reg")) ||
	    sim_attrs(lc, "stage", "primary_hello", NULL) ||
	    !sim_child_bytes(lc, "link_code_pairing_ref", c->lc.ref, strlen(c->lc.ref)) ||
	    !sim_child_bytes(lc, "primary_identity_pub", a->ident.pub, WA_KEY_LEN) ||
	    !sim_child_bytes(lc, "link_code_pairing_wrapped_primary_ephemeral_pub", j->wrapped,
			     sizeof(j->wrapped)))
		goto out;
	rc = sim_conn_send(c, no);
	no = NULL;
	if (!rc)
		c->lc.entered = true;
out:
	if (rc) {
		LOG_WARN("sim pair-code entry failed", "{s:I, s:s}", "conn", (json_int_t)c->id,
			 "error", y_strerror(rc));
		s->st.pair_code_failed++;
	}
	wa_node_free(no);
}

int sim_conn_pair_code(struct sim *s, const char *phone, const char *code_in)
{
	struct wa_paircode_job *j = NULL;
	struct sim_conn *c;
	char code[WA_PAIRCODE_LEN + 1];
	int rc;

	if (wa_paircode_normalize(code_in, code))
		return Y_EINVAL;
	for (c = s->conns; c; c = c->next)
		if (c->lc.active && !c->lc.entered && !c->lc.job && c->state == C_OPEN &&
		    !strcmp(c->lc.phone, phone))
			break;
	if (!c)
		return Y_ENOTFOUND;
	if (!sim_account_get(s, phone))
		return Y_ENOMEM;
	rc = wa_paircode_job_new(&j);
	rc = rc ?: wa_keypair_generate(&c->lc.primary_eph);
	if (rc)
		goto out;
	memcpy(j->code, code, sizeof(code));
	j->unwrap = true;
	memcpy(j->wrapped_in, c->lc.wrapped, sizeof(j->wrapped_in));
	j->wrap = true;
	memcpy(j->pub, c->lc.primary_eph.pub, WA_KEY_LEN);
	rc = wa_paircode_job_start(s->loop, j, lc_entered, c);
	if (!rc) {
		c->lc.job = j; /* conn_free cancels it */
		j = NULL;
	}
out:
	wa_paircode_job_free(j);
	wa_wipe(code, sizeof(code));
	return rc;
}

/* companion_finish: open the key bundle, derive the adv secret, pair. */
int sim_pair_code_finish(struct sim_conn *c, const struct wa_node *iq, const struct wa_node *lc)
{
	const uint8_t *bundle, *ident, *ref;
	size_t bl, il, rl;
	uint8_t eph[32], idsh[32], plain[WA_PAIRCODE_BUNDLE_PLAIN_LEN], adv[32];
	struct sim_account *a;
	char jid[64];
	int rc;

	bundle = sim_kid_bytes(lc, "link_code_pairing_wrapped_key_bundle", &bl);
	ident = sim_kid_bytes(lc, "companion_identity_public", &il);
	ref = sim_kid_bytes(lc, "link_code_pairing_ref", &rl);
	if (!c->lc.entered || !bundle || bl != WA_PAIRCODE_BUNDLE_LEN || !ident ||
	    il != WA_KEY_LEN || !ref || rl != strlen(c->lc.ref) || memcmp(ref, c->lc.ref, rl) ||
	    memcmp(ident, c->reg.ident, WA_KEY_LEN))
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	a = sim_account_find(c->sim, c->lc.phone);
	if (!a)
		return sim_conn_iq_error(c, iq, "404", "item-not-found");
	rc = wa_x25519(eph, c->lc.primary_eph.priv, c->lc.companion_eph);
	rc = rc ?: wa_paircode_bundle_open(plain, eph, bundle, bl);
	if (rc || memcmp(plain, ident, WA_KEY_LEN) || memcmp(plain + 32, a->ident.pub, WA_KEY_LEN)) {
		/* a wrong code: the two sides hold different ephemeral secrets */
		LOG_INFO("sim pair-code refused", "{s:s}", "phone", c->lc.phone);
		c->sim->st.pair_code_failed++;
		c->lc.active = c->lc.entered = false;
		rc = sim_conn_iq_error(c, iq, "401", "not-authorized");
		goto out;
	}
	rc = wa_x25519(idsh, a->ident.priv, ident);
	rc = rc ?: wa_paircode_adv_secret(adv, eph, idsh, plain + 64);
	rc = rc ?: sim_conn_send(c, sim_conn_iq_result(iq));
	if (rc)
		goto out;
	c->lc.active = false;
	rc = sim_conn_pair_success(c, c->lc.phone, adv, jid, sizeof(jid));
out:
	wa_wipe(eph, sizeof(eph));
	wa_wipe(idsh, sizeof(idsh));
	wa_wipe(plain, sizeof(plain));
	wa_wipe(adv, sizeof(adv));
	return rc;
}

int sim_conn_scan(struct sim *s, const char *phone, const char *qr, char *jid, size_t jid_cap)
{
	struct wa_qr q;
	struct sim_conn *c;

	if (wa_qr_parse(qr, &q))
		return Y_EINVAL;
	for (c = s->conns; c; c = c->next) {
		if (!c->registering || c->state != C_OPEN || c->pair.active)
			continue;
		for (int i = 0; i < SIM_REFS; i++)
			if (strlen(c->refs[i]) == q.ref_len && !memcmp(c->refs[i], q.ref, q.ref_len))
				goto found;
	}
	return Y_ENOTFOUND;
found:
	if (memcmp(q.noise, c->client_static, WA_KEY_LEN) ||
	    memcmp(q.identity, c->reg.ident, WA_KEY_LEN))
		return Y_EINVAL;
	{
		struct sim_account *a = sim_account_find(s, phone);

		if (a && a->passkey) { /* no device yet: jid stays empty */
			if (jid_cap)
				jid[0] = 0;
			return sim_passkey_begin(c, a, q.ref, q.ref_len, q.adv);
		}
	}
	return sim_conn_pair_success(c, phone, q.adv, jid, jid_cap);
}

/* The companion's <pair-device-sign>: the device exists from now on; the
 * stream restarts (515). */
int sim_pair_sign(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *sign = wa_node_child(iq, "pair-device-sign");
	struct wa_node *di = sign ? wa_node_child(sign, "device-identity") : NULL;
	struct sim_account *a = c->pair.acct;
	struct sim_device *d;
	const uint8_t *sig;
	uint32_t ki;
	size_t len;

	c->pair.active = false;
	if (!di || !(sig = wa_node_bytes(di, &len)) || !len)
		return sim_conn_stream_error(c, "500", NULL);
	/* the companion must sign what the phone vouched for (as WhatsApp checks) */
	if (wa_adv_verify_device(sig, len, a->ident.pub, c->reg.ident, &ki) ||
	    ki != c->pair.key_index) {
		LOG_WARN("sim pair-device-sign refused: bad device signature", "{s:s}", "phone",
			 a->phone);
		c->sim->st.errors++;
		return sim_conn_stream_error(c, "401", NULL);
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return Y_ENOMEM;
	d->acct = a;
	d->id = c->pair.dev;
	d->key_index = c->pair.key_index;
	memcpy(d->identity, c->reg.ident, WA_KEY_LEN);
	d->reg_id = c->reg.reg_id;
	d->spk = c->reg.spk;
	memcpy(d->noise, c->client_static, WA_KEY_LEN);
	d->next = a->devices;
	a->devices = d;
	c->sim->st.pairings++;
	LOG_INFO("sim paired", "{s:s, s:i}", "phone", a->phone, "device", (int)d->id);
	return sim_conn_stream_error(c, "515", NULL);
}
