/*
 * App state on the simulated server (docs/appstate.md): <iq type="set"
 * xmlns="w:sync:app:state"><sync><collection name version
 * return_snapshot/>…</sync></iq>. The server holds no keys: per account and
 * collection it keeps the patches its devices uploaded as opaque bytes, each
 * numbered with the collection's next version.
 *   - A <collection name version> without children is a fetch: answered
 *     <collection name version=LATEST><patches><patch>…</patch>…</patches>
 *     </collection> with every patch after the asked version, each with its
 *     SyncdPatch.version set (appended as field 1, which a protobuf reader
 *     merges into the message). No snapshots: a device that starts from 0
 *     gets every patch.
 *   - A <collection name version><patch>BYTES</patch></collection> is an
 *     upload: accepted when version is the collection's latest (answered
 *     <collection name version=NEW/>), and every other companion of the
 *     account gets <notification type="server_sync"><collection name
 *     version=NEW/></notification>; a stale version is refused as WhatsApp
 *     does (whatsmeow's sendAppState): <collection name type="error"
 *     version=LATEST><error code="409" text="conflict"/><patches>…the ones
 *     the device missed…</patches></collection>, in a result iq.
 * With the account's as_quiet knob no server_sync goes out (a companion
 * then writes on a stale version and gets the 409: tests of that path).
 * Patches live in memory only (not in `--state`): a restarted simulator
 * starts every collection again at version 0. Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/appstate.h"

#define SIM_AS_PATCH_MAX (256u << 10) /* one patch's bytes */
#define SIM_AS_PATCHES_MAX 4096       /* patches one collection keeps */

struct sim_as_patch {
	uint64_t version;
	uint8_t *p; /* the uploaded bytes with the version appended */
	size_t n;
};

struct sim_appstate {
	struct sim_as_coll {
		struct sim_as_patch *v;
		size_t n, cap;
	} coll[5];
};

static int coll_index(const char *name)
{
	for (int i = 0; name && i < 5; i++)
		if (!strcmp(name, wa_appstate_names[i]))
			return i;
	return -1;
}

void sim_appstate_free(struct sim_appstate *as)
{
	for (int i = 0; as && i < 5; i++) {
		for (size_t j = 0; j < as->coll[i].n; j++)
			free(as->coll[i].v[j].p);
		free(as->coll[i].v);
	}
	free(as);
}

static uint64_t latest(const struct sim_account *a, int ci)
{
	const struct sim_as_coll *c = a->as ? &a->as->coll[ci] : NULL;

	return c && c->n ? c->v[c->n - 1].version : 0;
}

/* Appends to col <patches> with every patch after version `after`. */
static int add_patches(struct wa_node *col, const struct sim_account *a, int ci, uint64_t after)
{
	const struct sim_as_coll *c = a->as ? &a->as->coll[ci] : NULL;
	struct wa_node *ps = wa_node_add_child(col, "patches"), *p;

	if (!ps)
		return Y_ENOMEM;
	for (size_t i = 0; c && i < c->n; i++) {
		if (c->v[i].version <= after)
			continue;
		if (!(p = wa_node_add_child(ps, "patch")) || wa_node_set_bytes(p, c->v[i].p, c->v[i].n))
			return Y_ENOMEM;
	}
	return Y_OK;
}

/* The bytes with SyncdPatch.version = {version} appended (field 1, a
 * SyncdVersion {1: varint}). */
static int numbered(const uint8_t *p, size_t n, uint64_t version, struct sim_as_patch *out)
{
	uint8_t tail[16], *q;
	size_t k = 0, vlen;
	uint8_t v[10];

	for (vlen = 0; vlen == 0 || version; version >>= 7)
		v[vlen++] = (uint8_t)((version & 0x7f) | (version > 0x7f ? 0x80 : 0));
	tail[k++] = 0x0a;
	tail[k++] = (uint8_t)(1 + vlen);
	tail[k++] = 0x08;
	memcpy(tail + k, v, vlen);
	k += vlen;
	if (!(q = malloc(n + k)))
		return Y_ENOMEM;
	memcpy(q, p, n);
	memcpy(q + n, tail, k);
	out->p = q;
	out->n = n + k;
	return Y_OK;
}

/* Tells the account's other companions that collection ci is at version. */
static void fan_out(struct sim_conn *c, struct sim_account *a, int ci, uint64_t version)
{
	char id[24], t[24], v[24];

	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	snprintf(v, sizeof(v), "%llu", (unsigned long long)version);
	for (struct sim_device *d = a->as_quiet ? NULL : a->devices; d; d = d->next) {
		struct wa_node *n, *k;

		if (d == c->dev || d->id == 0)
			continue;
		sim_new_msg_id(id);
		n = wa_node_new("notification");
		if (!n || sim_attrs(n, "from", WA_SERVER_USER, "type", "server_sync", "id", id, "t", t,
				    NULL) ||
		    !(k = wa_node_add_child(n, "collection")) ||
		    sim_attrs(k, "name", wa_appstate_names[ci], "version", v, NULL)) {
			wa_node_free(n);
			return;
		}
		if (sim_deliver(c->sim, d, n))
			LOG_WARN("sim server_sync not delivered", "{s:s, s:i}", "phone", a->phone,
				 "device", (int)d->id);
	}
}

/* An upload to collection ci at version `ver`: added, or refused (409). */
static int upload(struct sim_conn *c, struct wa_node *col, int ci, uint64_t ver,
		  const struct wa_node *patch, bool *notify)
{
	struct sim_account *a = c->acct;
	struct sim_as_coll *cc;
	const uint8_t *p;
	size_t n = 0;
	uint64_t cur = latest(a, ci);
	char v[24];
	struct wa_node *e;
	int rc;

	p = wa_node_bytes(patch, &n);
	if (!p || !n || n > SIM_AS_PATCH_MAX) {
		if (!(e = wa_node_add_child(col, "error")))
			return Y_ENOMEM;
		return sim_attrs(col, "type", "error", NULL) ?:
			sim_attrs(e, "code", "400", "text", "bad-request", NULL);
	}
	if (ver != cur || (a->as && a->as->coll[ci].n >= SIM_AS_PATCHES_MAX)) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)cur);
		if (!(e = wa_node_add_child(col, "error")))
			return Y_ENOMEM;
		rc = sim_attrs(col, "type", "error", "version", v, NULL) ?:
			sim_attrs(e, "code", ver != cur ? "409" : "406",
				  "text", ver != cur ? "conflict" : "not-acceptable", NULL);
		return rc ?: ver != cur ? add_patches(col, a, ci, ver) : Y_OK;
	}
	if (!a->as && !(a->as = calloc(1, sizeof(*a->as))))
		return Y_ENOMEM;
	cc = &a->as->coll[ci];
	if (cc->n == cc->cap) {
		size_t cap = cc->cap ? cc->cap * 2 : 8;
		struct sim_as_patch *nv = realloc(cc->v, cap * sizeof(*nv));

		if (!nv)
			return Y_ENOMEM;
		cc->v = nv;
		cc->cap = cap;
	}
	if ((rc = numbered(p, n, cur + 1, &cc->v[cc->n])))
		return rc;
	cc->v[cc->n++].version = cur + 1;
	snprintf(v, sizeof(v), "%llu", (unsigned long long)(cur + 1));
	*notify = true;
	return sim_attrs(col, "version", v, NULL);
}

int sim_appstate_iq(struct sim_conn *c, const struct wa_node *iq)
{
	const struct wa_node *sync = wa_node_child(iq, "sync");
	struct wa_node *r, *rs, *col;
	bool notify[5] = { false };
	int rc = Y_ENOMEM;

	if (!sync || !c->acct)
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	r = sim_conn_iq_result(iq);
	if (!r || !(rs = wa_node_add_child(r, "sync")))
		goto fail;
	for (uint32_t i = 0; sync->content == WA_CONTENT_LIST && i < sync->nkids; i++) {
		const struct wa_node *k = sync->kids[i], *patch = wa_node_child(k, "patch");
		const char *name = wa_node_attr(k, "name");
		int ci = coll_index(name);
		uint64_t ver = 0;
		char v[24];

		if (!wa_node_is(k, "collection") || !name)
			continue;
		if (!(col = wa_node_add_child(rs, "collection")) || sim_attrs(col, "name", name, NULL))
			goto fail;
		if (ci < 0 || (wa_node_attr(k, "version") && wa_node_attr_u64(k, "version", &ver))) {
			struct wa_node *e = wa_node_add_child(col, "error");

			if (!e || sim_attrs(col, "type", "error", NULL) ||
			    sim_attrs(e, "code", "400", "text", "bad-request", NULL))
				goto fail;
			continue;
		}
		if (patch) {
			if ((rc = upload(c, col, ci, ver, patch, &notify[ci])))
				goto fail;
			continue;
		}
		snprintf(v, sizeof(v), "%llu", (unsigned long long)latest(c->acct, ci));
		if (sim_attrs(col, "version", v, NULL) || add_patches(col, c->acct, ci, ver))
			goto fail;
	}
	rc = sim_conn_send(c, r);
	for (int i = 0; !rc && i < 5; i++)
		if (notify[i])
			fan_out(c, c->acct, i, latest(c->acct, i));
	return rc;
fail:
	wa_node_free(r);
	return rc ? rc : Y_ENOMEM;
}
