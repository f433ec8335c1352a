/*
 * The iqs a simulator connection answers, by xmlns through a table
 * (protocol-map.md §7, §8): prekeys (count, upload, fetch), passive/active
 * (then the offline queue), usync, app state, privacy, blocklist, props,
 * media_conn, md (pair code, passkey, remove-companion-device); unknown
 * ones get an empty result. Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/tokens.h"

static int iq_prekey_count(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *r = sim_conn_iq_result(iq), *k;
	char v[24];

	snprintf(v, sizeof(v), "%zu", c->dev ? c->dev->nprekeys : 0);
	if (!r || !(k = wa_node_add_child(r, "count")) || sim_attrs(k, "value", v, NULL)) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	return sim_conn_send(c, r);
}

static int iq_prekey_upload(struct sim_conn *c, const struct wa_node *iq)
{
	struct sim_device *d = c->dev;
	struct wa_node *list = wa_node_child(iq, "list");
	size_t nk = 0;

	if (!d)
		return sim_conn_iq_error(c, iq, "401", "not-authorized");
	if (!list)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	for (uint32_t i = 0; i < list->nkids; i++) {
		const struct wa_node *k = list->kids[i];
		const uint8_t *id, *val;
		size_t il, vl;

		if (!wa_node_is(k, "key"))
			continue;
		id = sim_kid_bytes(k, "id", &il);
		val = sim_kid_bytes(k, "value", &vl);
		if (!id || il != 3 || !val || vl != WA_KEY_LEN)
			return sim_conn_iq_error(c, iq, "400", "bad-request");
		nk++;
	}
	if (d->nprekeys + nk > SIM_PREKEYS_MAX)
		return sim_conn_iq_error(c, iq, "406", "not-acceptable");
	if (nk) {
		struct wa_signal_prekey *p =
			realloc(d->prekeys, (d->nprekeys + nk) * sizeof(*d->prekeys));

		if (!p)
			return Y_ENOMEM;
		d->prekeys = p;
		for (uint32_t i = 0; i < list->nkids; i++) {
			const struct wa_node *k = list->kids[i];
			size_t il, vl;
			const uint8_t *id, *val;

			if (!wa_node_is(k, "key"))
				continue;
			id = sim_kid_bytes(k, "id", &il);
			val = sim_kid_bytes(k, "value", &vl);
			p[d->nprekeys].id = wa_signal_get_be24(id);
			memcpy(p[d->nprekeys].pub, val, WA_KEY_LEN);
			d->nprekeys++;
		}
	}
	c->sim->st.prekey_uploads++;
	LOG_INFO("sim prekeys uploaded", "{s:s, s:i, s:I, s:I}", "phone", d->acct->phone, "device",
		 (int)d->id, "uploaded", (json_int_t)nk, "held", (json_int_t)d->nprekeys);
	return sim_conn_send(c, sim_conn_iq_result(iq));
}
static int add_user_error(struct wa_node *list, const char *jid)
{
	struct wa_node *u = wa_node_add_child(list, "user"), *e;

	if (!u || sim_attrs(u, "jid", jid, NULL) || !(e = wa_node_add_child(u, "error")) ||
	    sim_attrs(e, "code", "404", "text", "item-not-found", NULL))
		return Y_ENOMEM;
	return Y_OK;
}

/* One <user jid><registration/><type/><identity/><skey/>[<key/>]</user>. */
static int add_bundle(struct sim *s, struct wa_node *list, const char *jid)
{
	struct sim_account *a;
	struct sim_device *d = NULL;
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey pk;
	const uint8_t *ident;
	uint32_t dev = 0, reg;
	bool is_lid, has_pk = false;
	struct wa_node *u, *k;
	uint8_t b4[4], b3[3];

	a = sim_account_by_jid(s, jid, &dev, &is_lid);
	if (a && dev)
		d = sim_device_find(a, dev);
	if (!a || (dev && !d))
		return add_user_error(list, jid);
	if (d) {
		reg = d->reg_id;
		ident = d->identity;
		spk = d->spk;
		if (d->nprekeys) {
			pk = d->prekeys[0];
			has_pk = true;
			memmove(d->prekeys, d->prekeys + 1, --d->nprekeys * sizeof(*d->prekeys));
		}
	} else {
		reg = a->ident.registration_id;
		ident = a->ident.pub;
		spk = a->spk;
		if (!wa_signal_gen_prekeys(a->sig, a->next_prekey, 1, &pk)) {
			has_pk = true;
			a->next_prekey = a->next_prekey % 0xFFFFFF + 1;
		}
	}
	u = wa_node_add_child(list, "user");
	if (!u || sim_attrs(u, "jid", jid, NULL))
		return Y_ENOMEM;
	s->st.prekey_fetches++;
	wa_signal_put_be32(b4, reg);
	if (!sim_child_bytes(u, "registration", b4, 4) || !sim_child_bytes(u, "type", "\x05", 1) ||
	    !sim_child_bytes(u, "identity", ident, WA_KEY_LEN) || !(k = wa_node_add_child(u, "skey")))
		return Y_ENOMEM;
	wa_signal_put_be24(b3, spk.id);
	if (!sim_child_bytes(k, "id", b3, 3) || !sim_child_bytes(k, "value", spk.pub, WA_KEY_LEN) ||
	    !sim_child_bytes(k, "signature", spk.sig, WA_SIG_LEN))
		return Y_ENOMEM;
	if (has_pk) {
		wa_signal_put_be24(b3, pk.id);
		if (!(k = wa_node_add_child(u, "key")) || !sim_child_bytes(k, "id", b3, 3) ||
		    !sim_child_bytes(k, "value", pk.pub, WA_KEY_LEN))
			return Y_ENOMEM;
	}
	return Y_OK;
}

static int iq_prekey_fetch(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *key = wa_node_child(iq, "key"), *r, *list;

	if (!key || key->content != WA_CONTENT_LIST || key->nkids == 0)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	r = sim_conn_iq_result(iq);
	if (!r || !(list = wa_node_add_child(r, "list"))) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	for (uint32_t i = 0; i < key->nkids; i++) {
		const char *jid = wa_node_attr(key->kids[i], "jid");

		if (!wa_node_is(key->kids[i], "user") || !jid) {
			wa_node_free(r);
			return sim_conn_iq_error(c, iq, "400", "bad-request");
		}
		if (add_bundle(c->sim, list, jid)) {
			wa_node_free(r);
			return Y_ENOMEM;
		}
	}
	return sim_conn_send(c, r);
}

static int iq_encrypt(struct sim_conn *c, const struct wa_node *iq)
{
	const char *type = wa_node_attr(iq, "type");

	if (!strcmp(type, "get") && wa_node_child(iq, "count"))
		return iq_prekey_count(c, iq);
	if (!strcmp(type, "set") && wa_node_child(iq, "list"))
		return iq_prekey_upload(c, iq);
	if (!strcmp(type, "get") && wa_node_child(iq, "key"))
		return iq_prekey_fetch(c, iq);
	if (!strcmp(type, "set") && wa_node_child(iq, "rotate"))
		return sim_conn_send(c, sim_conn_iq_result(iq));
	return sim_conn_iq_error(c, iq, "400", "bad-request");
}

/* After <active/>: the offline queue, the offline marker, and for a new
 * companion the phone's key share and history notification. */
static int after_active(struct sim_conn *c)
{
	struct sim_device *d = c->dev;
	struct wa_node *ib, *off;
	char count[24];
	size_t sent = 0;
	int rc;

	if (!d)
		return Y_OK;
	while (d->qhead && c->state == C_OPEN) {
		struct sim_pending *p = d->qhead;

		d->qhead = p->next;
		if (!d->qhead)
			d->qtail = NULL;
		d->nq--;
		sim_device_keep_unacked(d, p->node); /* until acknowledged, as WhatsApp */
		rc = sim_conn_send(c, p->node);
		free(p);
		if (rc)
			return rc;
		sent++;
	}
	snprintf(count, sizeof(count), "%zu", sent);
	ib = wa_node_new("ib");
	if (!ib || sim_attrs(ib, "from", S_WA, NULL) || !(off = wa_node_add_child(ib, "offline")) ||
	    sim_attrs(off, "count", count, NULL)) {
		wa_node_free(ib);
		return Y_ENOMEM;
	}
	rc = sim_conn_send(c, ib);
	if (!rc && !d->key_shared)
		rc = sim_phone_welcome(c->sim, c->acct, d);
	return rc;
}

static int iq_passive(struct sim_conn *c, const struct wa_node *iq)
{
	int rc = sim_conn_send(c, sim_conn_iq_result(iq));

	if (!rc && wa_node_child(iq, "active"))
		rc = after_active(c);
	return rc;
}

static int add_devices(struct wa_node *u, struct sim_account *a)
{
	struct wa_node *ds = wa_node_add_child(u, "devices"), *dl, *dv;
	char id[16], ki[16];

	if (!ds || !(dl = wa_node_add_child(ds, "device-list")) ||
	    !(dv = wa_node_add_child(dl, "device")) || sim_attrs(dv, "id", "0", NULL))
		return Y_ENOMEM;
	for (struct sim_device *d = a ? a->devices : NULL; d; d = d->next) {
		snprintf(id, sizeof(id), "%u", d->id);
		snprintf(ki, sizeof(ki), "%u", d->key_index);
		if (!(dv = wa_node_add_child(dl, "device")) ||
		    sim_attrs(dv, "id", id, "key-index", ki, NULL))
			return Y_ENOMEM;
	}
	return Y_OK;
}

/* A user asked by number (<user><contact>+digits</contact></user>, as a
 * contact check does): its phone-number JID in buf, or NULL. */
static const char *contact_jid(const struct wa_node *user, char *buf, size_t cap)
{
	const struct wa_node *ct = wa_node_child(user, "contact");
	char norm[SIM_PHONE_MAX + 1], num[32];
	size_t n;

	const void *p = NULL;

	n = 0;
	if (ct && ct->content == WA_CONTENT_BYTES) /* a raw string on the wire */
		p = ct->bytes, n = ct->nbytes;
	else if (ct && ct->content == WA_CONTENT_VALUE && ct->val.type == WA_VAL_STR)
		p = ct->val.str, n = ct->val.len; /* packed digits */
	if (!p || n == 0 || n >= sizeof(num))
		return NULL;
	memcpy(num, p, n);
	num[n] = 0;
	if (strlen(num) != n || sim_phone_norm(num, norm))
		return NULL;
	snprintf(buf, cap, "%s@s.whatsapp.net", norm);
	return buf;
}

/* usync: devices, lid and contact protocols, for users given by JID or, for
 * the contact protocol, by number. */
static int iq_usync(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *us = wa_node_child(iq, "usync");
	struct wa_node *query = us ? wa_node_child(us, "query") : NULL;
	struct wa_node *list = us ? wa_node_child(us, "list") : NULL;
	struct wa_node *r, *rus, *rl;
	bool want_dev, want_lid, want_contact, want_status;

	if (!us || !query || !list)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	want_dev = wa_node_child(query, "devices") != NULL;
	want_lid = wa_node_child(query, "lid") != NULL && !(c->acct && c->acct->lid_hidden);
	want_contact = wa_node_child(query, "contact") != NULL;
	want_status = wa_node_child(query, "status") != NULL;
	r = sim_conn_iq_result(iq);
	if (!r || !(rus = wa_node_add_child(r, "usync")) ||
	    sim_attrs(rus, "sid", wa_node_attr(us, "sid"), "index", "0", "last", "true", "mode",
		      wa_node_attr(us, "mode"), "context", wa_node_attr(us, "context"), NULL) ||
	    !(rl = wa_node_add_child(rus, "list")))
		goto nomem;
	for (uint32_t i = 0; list->content == WA_CONTENT_LIST && i < list->nkids; i++) {
		const struct wa_node *qu = list->kids[i];
		const char *jid = wa_node_attr(qu, "jid");
		struct sim_account *a;
		struct wa_node *u, *k;
		uint32_t dev;
		bool is_lid;
		char buf[64], pn[64];

		if (!wa_node_is(qu, "user"))
			continue;
		if (!jid && !(jid = contact_jid(qu, pn, sizeof(pn))))
			continue; /* neither a JID nor a number we can read */
		a = sim_account_by_jid(c->sim, jid, &dev, &is_lid);
		if (!(u = wa_node_add_child(rl, "user")) || sim_attrs(u, "jid", jid, NULL))
			goto nomem;
		if (want_dev && add_devices(u, a))
			goto nomem;
		if (want_lid && a && !is_lid) {
			sim_device_jid(a, 0, true, buf, sizeof(buf));
			if (!(k = wa_node_add_child(u, "lid")) || sim_attrs(k, "val", buf, NULL))
				goto nomem;
		}
		if (want_contact && (!(k = wa_node_add_child(u, "contact")) ||
				     sim_attrs(k, "type", a ? "in" : "out", NULL)))
			goto nomem;
		/* the about text, as bytes even when empty (Baileys reads the content);
		 * hidden from others: <status code="401"/> */
		snprintf(buf, sizeof(buf), "%llu", a ? (unsigned long long)a->about_t : 0ULL);
		if (want_status && a && a->about_hidden && a != c->acct) {
			if (!(k = wa_node_add_child(u, "status")) || sim_attrs(k, "code", "401", NULL))
				goto nomem;
		} else if (want_status && (!(k = wa_node_add_child(u, "status")) ||
					   sim_attrs(k, "t", buf, NULL) ||
					   wa_node_set_bytes(k, a ? a->about : "",
							     a ? strlen(a->about) : 0))) {
			goto nomem;
		}
	}
	return sim_conn_send(c, r);
nomem:
	wa_node_free(r);
	return Y_ENOMEM;
}

static int iq_privacy(struct sim_conn *c, const struct wa_node *iq)
{
	static const char *cats[][2] = {
		{ "readreceipts", "all" }, { "last", "all" },	    { "online", "all" },
		{ "profile", "all" },	   { "status", "all" },	    { "groupadd", "all" },
		{ "calladd", "all" },
	};
	struct wa_node *r = sim_conn_iq_result(iq), *p, *k;
	const struct wa_node *q = wa_node_child(iq, "privacy");
	struct sim_account *a = c->acct;

	if (wa_node_child(iq, "tokens")) {
		wa_node_free(r);
		return sim_tctoken_iq(c, iq, wa_node_child(iq, "tokens"));
	}
	if (!q)
		return sim_conn_send(c, r); /* other sets */
	if (!strcmp(wa_node_attr(iq, "type"), "set")) {
		/* <privacy><category name value/></privacy>: only who sees the
		 * picture and the about text is kept (sim_profile.c, usync) */
		for (uint32_t i = 0; a && q->content == WA_CONTENT_LIST && i < q->nkids; i++) {
			const char *name = wa_node_attr(q->kids[i], "name");
			const char *value = wa_node_attr(q->kids[i], "value");

			if (!wa_node_is(q->kids[i], "category") || !name || !value)
				continue;
			if (!strcmp(name, "profile"))
				a->pic_hidden = !strcmp(value, "none");
			else if (!strcmp(name, "status"))
				a->about_hidden = !strcmp(value, "none");
		}
		return sim_conn_send(c, r);
	}
	if (!r || !(p = wa_node_add_child(r, "privacy")))
		goto nomem;
	for (size_t i = 0; i < sizeof(cats) / sizeof(cats[0]); i++) {
		const char *v = cats[i][1];

		if (a && ((!strcmp(cats[i][0], "profile") && a->pic_hidden) ||
			  (!strcmp(cats[i][0], "status") && a->about_hidden)))
			v = "none";
		if (!(k = wa_node_add_child(p, "category")) ||
		    sim_attrs(k, "name", cats[i][0], "value", v, NULL))
			goto nomem;
	}
	return sim_conn_send(c, r);
nomem:
	wa_node_free(r);
	return Y_ENOMEM;
}

/* The account's block list: a set applies each <item action jid>, and both
 * get and set answer with the list (whatsmeow needs it after a set;
 * protocol-map.md §17.7). Blocking changes nothing else here: whether the
 * real server then drops messages is not known (§17.10). */
static int iq_blocklist(struct sim_conn *c, const struct wa_node *iq)
{
	struct sim_account *a = c->acct;
	struct wa_node *r, *list, *it;
	char dhash[24];

	for (uint32_t i = 0; a && iq->content == WA_CONTENT_LIST && i < iq->nkids; i++) {
		const struct wa_node *k = iq->kids[i];
		const char *act = wa_node_attr(k, "action"), *jid = wa_node_attr(k, "jid");
		size_t at = a->nblocked;

		if (!wa_node_is(k, "item") || !act || !jid || strlen(jid) >= sizeof(a->blocked[0]))
			return sim_conn_iq_error(c, iq, "400", "bad-request");
		for (size_t b = 0; b < a->nblocked; b++)
			if (!strcmp(a->blocked[b], jid))
				at = b;
		if (!strcmp(act, "block") && at == a->nblocked && a->nblocked < SIM_BLOCKED_MAX)
			snprintf(a->blocked[a->nblocked++], sizeof(a->blocked[0]), "%s", jid);
		else if (!strcmp(act, "unblock") && at < a->nblocked)
			memmove(a->blocked[at], a->blocked[at + 1],
				(--a->nblocked - at) * sizeof(a->blocked[0]));
	}
	r = sim_conn_iq_result(iq);
	snprintf(dhash, sizeof(dhash), "%zu", a ? a->nblocked : 0);
	if (!r || !(list = wa_node_add_child(r, "list")) || sim_attrs(list, "dhash", dhash, NULL))
		goto nomem;
	for (size_t b = 0; a && b < a->nblocked; b++)
		if (!(it = wa_node_add_child(list, "item")) ||
		    sim_attrs(it, "jid", a->blocked[b], NULL))
			goto nomem;
	return sim_conn_send(c, r);
nomem:
	wa_node_free(r);
	return Y_ENOMEM;
}

/* <iq type="set" xmlns="status"><status>text</status></iq>: the account's
 * about text (Baileys, whatsmeow before 2026-08). */
static int iq_status(struct sim_conn *c, const struct wa_node *iq)
{
	const struct wa_node *st = wa_node_child(iq, "status");
	size_t n = 0;
	const uint8_t *p = st ? wa_node_bytes(st, &n) : NULL;

	if (!st || !c->acct || n > SIM_ABOUT_MAX)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	memcpy(c->acct->about, p ? (const char *)p : "", n);
	c->acct->about[n] = 0;
	c->acct->about_t = sim_now_s();
	return sim_conn_send(c, sim_conn_iq_result(iq));
}

static int iq_props(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *r = sim_conn_iq_result(iq), *p, *k;

	if (!wa_node_child(iq, "props"))
		return sim_conn_send(c, r);
	if (!r || !(p = wa_node_add_child(r, "props")) ||
	    sim_attrs(p, "protocol", "2", "hash", "sim1", NULL) || !(k = wa_node_add_child(p, "prop")) ||
	    sim_attrs(k, "name", "sim", "value", "1", NULL) ||
	    /* privacy_token_sending_on_all_1_on_1_messages */
	    !(k = wa_node_add_child(p, "prop")) ||
	    sim_attrs(k, "name", "10518", "value", c->sim->tc_prop_off ? "0" : "1", NULL)) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	return sim_conn_send(c, r);
}

/* media_conn: where and with which token to upload (sim_media.c). */
static int iq_media(struct sim_conn *c, const struct wa_node *iq)
{
	struct sim *s = c->sim;
	struct wa_node *r, *m, *h;

	if (!wa_node_child(iq, "media_conn"))
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	r = sim_conn_iq_result(iq);
	if (!r || !(m = wa_node_add_child(r, "media_conn")) ||
	    sim_attrs(m, "auth", s->media_auth, "ttl", "300", "auth_ttl", "21600", "max_buckets",
		      "12", NULL))
		goto fail;
	/* the hosts POST /sim/media/hosts puts first, then the real one */
	for (int i = 0; i <= s->media_nbefore; i++) {
		const char *name = i < s->media_nbefore ? sim_media_host_of(s, s->media_before[i])
							: s->media_host;

		if (!(h = wa_node_add_child(m, "host")) ||
		    sim_attrs(h, "hostname", name, "maxContentLengthBytes", "16777216", NULL))
			goto fail;
	}
	return sim_conn_send(c, r);
fail:
	wa_node_free(r);
	return Y_ENOMEM;
}

static int iq_empty(struct sim_conn *c, const struct wa_node *iq)
{
	return sim_conn_send(c, sim_conn_iq_result(iq));
}

static int iq_md(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *lc = wa_node_child(iq, "link_code_companion_reg");
	const char *stage = lc ? wa_node_attr(lc, "stage") : NULL;
	int prc;

	if (sim_passkey_iq(c, iq, &prc))
		return prc;
	if (stage && !strcmp(stage, "companion_hello"))
		return sim_pair_code_hello(c, iq, lc);
	if (stage && !strcmp(stage, "companion_finish"))
		return sim_pair_code_finish(c, iq, lc);
	if (wa_node_child(iq, "remove-companion-device") && c->dev && c->acct) {
		/* the companion logs itself out: answer, then unlink it */
		int rc = sim_conn_send(c, sim_conn_iq_result(iq));

		return rc ?: sim_conn_unlink(c->sim, c->acct, c->dev->id);
	}
	return sim_conn_send(c, sim_conn_iq_result(iq));
}

static const struct {
	const char *xmlns;
	int (*fn)(struct sim_conn *c, const struct wa_node *iq);
} iq_table[] = {
	{ "md", iq_md },
	{ "w:m", iq_media },
	{ "w:p", iq_empty },
	{ "encrypt", iq_encrypt },
	{ "passive", iq_passive },
	{ "usync", iq_usync },
	{ "w:sync:app:state", sim_appstate_iq },
	{ "privacy", iq_privacy },
	{ "blocklist", iq_blocklist },
	{ "status", iq_status },
	{ "w:profile:picture", sim_profile_picture_iq },
	{ "w", iq_props },
};

int sim_iq(struct sim_conn *c, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id"), *type = wa_node_attr(n, "type");
	const char *xmlns = wa_node_attr(n, "xmlns");

	if (!id || !type)
		return sim_conn_iq_error(c, n, "400", "bad-request");
	if (!strcmp(type, "result") || !strcmp(type, "error")) {
		if (c->pair.active && !strcmp(id, c->pair.iq))
			return sim_pair_sign(c, n);
		return Y_OK;
	}
	if (strcmp(type, "get") && strcmp(type, "set"))
		return sim_conn_iq_error(c, n, "400", "bad-request");
	if (!xmlns)
		return sim_conn_iq_error(c, n, "400", "bad-request");
	for (size_t i = 0; i < sizeof(iq_table) / sizeof(iq_table[0]); i++)
		if (!strcmp(xmlns, iq_table[i].xmlns))
			return iq_table[i].fn(c, n);
	c->sim->st.iq_unknown++;
	LOG_DEBUG("sim unknown iq", "{s:s}", "xmlns", xmlns);
	return sim_conn_send(c, sim_conn_iq_result(n));
}
