/*
 * Privacy tokens ("tctoken") as the server handles them (docs/sim.md
 * "Privacy tokens"): an account issues a contact a token with
 * <iq xmlns="privacy" type="set"><tokens><token jid t type="trusted_contact"/>;
 * the simulator mints the bytes (t as 8 big-endian bytes, then an
 * HMAC-SHA256 of issuer|contact|t under a key made per simulator run,
 * truncated to 24 bytes), remembers the issue, and tells every companion
 * of the contact with <notification type="privacy_token">. A 1:1 message
 * may carry <tctoken>: it is valid when it is the recipient's token for the
 * sender, minted here, still inside the 28-day window and the recipient
 * did issue the sender one. An account marked restricted
 * (POST /sim/accounts/{phone}/restricted) is WhatsApp's restricted
 * account: its 1:1 messages without a valid token are refused with ack
 * error 463. Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/crypto.h"
#include "wa/jid.h"

#define TC_LEN 32          /* 8 bytes of t, 24 of MAC */
#define TC_BUCKET_S 604800
#define TC_BUCKETS 4
#define TC_PER_IQ 64       /* tokens one iq may issue */

/* The token `issuer` gives `contact` at time t. */
static int tc_mint(struct sim *s, const struct sim_account *issuer,
		   const struct sim_account *contact, uint64_t t, uint8_t out[TC_LEN])
{
	uint8_t mac[WA_SHA256_LEN];
	char msg[3 * SIM_PHONE_MAX + 32];
	int n, rc;

	if (!s->tc_key_set) {
		rc = wa_crypto_random(s->tc_key, sizeof(s->tc_key));
		if (rc)
			return rc;
		s->tc_key_set = true;
	}
	n = snprintf(msg, sizeof(msg), "%s|%s|%llu", issuer->phone, contact->phone,
		     (unsigned long long)t);
	rc = wa_hmac_sha256(mac, s->tc_key, sizeof(s->tc_key), (const uint8_t *)msg, (size_t)n);
	if (rc)
		return rc;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(t >> (56 - 8 * i));
	memcpy(out + 8, mac, TC_LEN - 8);
	return Y_OK;
}

static struct sim_tcissue *tc_issue_find(struct sim_account *issuer,
					 const struct sim_account *contact)
{
	for (size_t i = 0; i < issuer->ntc; i++)
		if (issuer->tc[i].to == contact)
			return &issuer->tc[i];
	return NULL;
}

/* Tells every companion of contact that issuer gave it a token. */
static int tc_notify(struct sim *s, struct sim_account *issuer, struct sim_account *contact,
		     uint64_t t, const uint8_t tok[TC_LEN])
{
	char from[64], lid[64], to[64], id[24], ts[24];
	int rc = Y_OK;

	sim_device_jid(issuer, 0, false, from, sizeof(from));
	sim_device_jid(issuer, 0, true, lid, sizeof(lid));
	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)t);
	for (struct sim_device *d = contact->devices; !rc && d; d = d->next) {
		struct wa_node *n = wa_node_new("notification"), *tokens, *k;

		sim_new_msg_id(id);
		sim_device_jid(contact, 0, contact->lid_first, to, sizeof(to));
		if (!n || sim_attrs(n, "from", from, "type", "privacy_token", "id", id, "t", ts, NULL) ||
		    (!contact->lid_hidden && sim_attrs(n, "sender_lid", lid, NULL)) ||
		    !(tokens = wa_node_add_child(n, "tokens")) ||
		    !(k = wa_node_add_child(tokens, "token")) ||
		    sim_attrs(k, "jid", to, "t", ts, "type", "trusted_contact", NULL) ||
		    wa_node_set_bytes(k, tok, TC_LEN)) {
			wa_node_free(n);
			return Y_ENOMEM;
		}
		rc = sim_deliver(s, d, n);
		if (rc == Y_ETOOBIG) /* its offline queue is full: dropped, as a message would be */
			rc = Y_OK;
	}
	return rc;
}

int sim_tctoken_iq(struct sim_conn *c, const struct wa_node *iq, const struct wa_node *tokens)
{
	struct sim *s = c->sim;
	struct sim_account *me = c->acct;
	int rc = Y_OK;

	if (!me || !c->dev || tokens->content != WA_CONTENT_LIST || !tokens->nkids ||
	    tokens->nkids > TC_PER_IQ)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	/* all or nothing: every <token> is checked before any is issued */
	for (uint32_t i = 0; i < tokens->nkids; i++) {
		const struct wa_node *k = tokens->kids[i];
		const char *jid = wa_node_attr(k, "jid"), *t = wa_node_attr(k, "t");
		const char *type = wa_node_attr(k, "type");
		uint32_t dev;
		bool lid;
		char *end;

		if (!wa_node_is(k, "token") || !jid || !t || !type || strcmp(type, "trusted_contact") ||
		    *t < '1' || *t > '9' || strtoull(t, &end, 10) == 0 || *end || strlen(t) > 12 ||
		    !sim_account_by_jid(s, jid, &dev, &lid) || dev)
			return sim_conn_iq_error(c, iq, "400", "bad-request");
	}
	for (uint32_t i = 0; !rc && i < tokens->nkids; i++) {
		const struct wa_node *k = tokens->kids[i];
		uint32_t dev;
		bool lid;
		struct sim_account *to = sim_account_by_jid(s, wa_node_attr(k, "jid"), &dev, &lid);
		uint64_t t = strtoull(wa_node_attr(k, "t"), NULL, 10);
		struct sim_tcissue *e = tc_issue_find(me, to);
		uint8_t tok[TC_LEN];

		if (to == me)
			continue;
		if (!e) {
			struct sim_tcissue *nv;

			if (me->ntc >= SIM_TCTOKENS_MAX)
				return sim_conn_iq_error(c, iq, "429", "rate-overlimit");
			nv = realloc(me->tc, (me->ntc + 1) * sizeof(*nv));
			if (!nv)
				return Y_ENOMEM;
			me->tc = nv;
			e = &me->tc[me->ntc++];
			e->to = to;
			e->t = 0;
		}
		if (t > e->t)
			e->t = t;
		rc = tc_mint(s, me, to, t, tok);
		rc = rc ?: tc_notify(s, me, to, t, tok);
		s->st.tctoken_issued++;
		LOG_DEBUG("sim privacy token issued", "{s:s, s:s}", "issuer", me->phone, "contact",
			  to->phone);
	}
	if (rc)
		return rc;
	return sim_conn_send(c, sim_conn_iq_result(iq));
}

/* 1 when the <tctoken> bytes are recipient's valid token for sender. */
static bool tc_valid(struct sim *s, struct sim_account *sender, struct sim_account *recipient,
		     const uint8_t *b, size_t len)
{
	uint8_t want[TC_LEN];
	uint64_t t = 0, now = sim_now_s();
	const struct sim_tcissue *e = tc_issue_find(recipient, sender);

	if (!e || len != TC_LEN || !s->tc_key_set)
		return false;
	for (int i = 0; i < 8; i++)
		t = t << 8 | b[i];
	if (t > e->t || t < (now / TC_BUCKET_S - (TC_BUCKETS - 1)) * TC_BUCKET_S)
		return false; /* never issued at that time, or expired */
	return !tc_mint(s, recipient, sender, t, want) && !CRYPTO_memcmp(want, b, TC_LEN);
}

bool sim_tctoken_check(struct sim_conn *c, const struct wa_node *msg, struct sim_account *dest)
{
	struct sim *s = c->sim;
	const struct wa_node *k = wa_node_child(msg, "tctoken");
	const uint8_t *b;
	size_t len = 0;
	bool ok;

	if (!k) {
		s->st.tctoken_missing++;
		ok = false;
	} else {
		b = wa_node_bytes(k, &len);
		ok = b && tc_valid(s, c->acct, dest, b, len);
		if (ok)
			s->st.tctoken_valid++;
		else
			s->st.tctoken_invalid++;
	}
	if (ok || !c->acct->restricted)
		return true;
	s->st.tctoken_refused++;
	LOG_INFO("sim message refused: restricted account without a privacy token",
		 "{s:s, s:s}", "from", c->acct->phone, "to", dest->phone);
	return false;
}
