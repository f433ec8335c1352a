/*
 * Profile pictures as WhatsApp serves them (protocol-map.md §17.7):
 *
 *   <iq type="get" xmlns="w:profile:picture" target=JID><picture type=
 *       "image"|"preview" query="url"/></iq>
 *     -> <picture id type url direct_path/>, or error 404 (none set) or
 *        401 (hidden: its privacy category "profile" is "none");
 *   <iq type="set" xmlns="w:profile:picture"><picture type="image">JPEG
 *       </picture></iq>   (no target, or our own: groups are not simulated)
 *     -> <picture id/>; without a <picture> child the picture is removed;
 *
 * after a change every other device of every account (the owner's other
 * devices included) gets <notification type="picture" from=JID><set jid
 * id/> | <delete jid/></notification>, queued for offline ones as any
 * notification. The JPEG is kept as a blob of the media host (plain bytes,
 * as pps.whatsapp.net serves them), and so is the preview WhatsApp makes of
 * it: its centre square scaled to SIM_PREVIEW_SIDE px (service/media_meta.h);
 * bytes that do not decode are served as their own preview. Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/media_meta.h"
#include "util/err.h"
#include "util/log.h"

#define SIM_PREVIEW_SIDE 96   /* what WhatsApp serves for type="preview" */
#define SIM_PREVIEW_QUALITY 50
#define SIM_PICTURE_PIXELS (4ULL * 1000 * 1000) /* a bigger one gets no preview */

/* The preview of jpeg p[0..n) stored on the media host into path; "" when
 * it cannot be made (not a JPEG we decode; the storage full). */
static void make_preview(struct sim *s, const uint8_t *p, size_t n, char path[64])
{
	struct media_meta m;
	FILE *f = fmemopen((void *)p, n, "rb");

	path[0] = 0;
	if (!f)
		return;
	if (!media_meta_square(f, "image/jpeg", SIM_PREVIEW_SIDE, SIM_PREVIEW_QUALITY,
			       SIM_PICTURE_PIXELS, &m) &&
	    sim_media_put(s, m.thumb, m.thumb_len, "/v/t61.24694-24", ".jpg", path))
		path[0] = 0;
	media_meta_release(&m);
	fclose(f);
}

/* Whether p[0..n) looks like a JPEG file: SOI marker first, EOI last. */
static bool is_jpeg(const uint8_t *p, size_t n)
{
	return n >= 8 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff && p[n - 2] == 0xff &&
	       p[n - 1] == 0xd9;
}

/* Tells every device but the changer's of account a's new picture. */
static int fan_out(struct sim_conn *c, struct sim_account *a)
{
	char jid[64], id[24], t[24], pid[24];

	sim_device_jid(a, 0, false, jid, sizeof(jid));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	snprintf(pid, sizeof(pid), "%llu", (unsigned long long)a->pic_id);
	for (struct sim_account *x = c->sim->accounts; x; x = x->next)
		for (struct sim_device *d = x->devices; d; d = d->next) {
			struct wa_node *n, *k;
			int rc;

			if (d == c->dev)
				continue;
			sim_new_msg_id(id);
			n = wa_node_new("notification");
			if (!n || sim_attrs(n, "from", jid, "type", "picture", "id", id, "t", t, NULL) ||
			    !(k = wa_node_add_child(n, a->pic_path[0] ? "set" : "delete")) ||
			    sim_attrs(k, "jid", jid, "id", a->pic_path[0] ? pid : NULL, NULL)) {
				wa_node_free(n);
				return Y_ENOMEM;
			}
			rc = sim_deliver(c->sim, d, n);
			if (rc && rc != Y_ETOOBIG)
				return rc; /* a full queue loses only this device's notice */
		}
	return Y_OK;
}

static int set_picture(struct sim_conn *c, const struct wa_node *iq)
{
	struct sim_account *a = c->acct;
	const struct wa_node *pic = wa_node_child(iq, "picture");
	const char *target = wa_node_attr(iq, "target");
	struct sim_account *t = NULL;
	struct wa_node *r, *k;
	const uint8_t *p = NULL;
	char path[64], prev[64] = "", pid[24];
	size_t n = 0;
	uint32_t dev;
	bool lid;
	int rc;

	if (target && (!(t = sim_account_by_jid(c->sim, target, &dev, &lid)) || t != a))
		return sim_conn_iq_error(c, iq, "403", "not-authorized");
	if (pic) {
		const char *type = wa_node_attr(pic, "type");

		p = wa_node_bytes(pic, &n);
		if (!type || strcmp(type, "image") || !p || !is_jpeg(p, n))
			return sim_conn_iq_error(c, iq, "400", "bad-request");
		if (n > SIM_PICTURE_MAX)
			return sim_conn_iq_error(c, iq, "413", "too-large");
		rc = sim_media_put(c->sim, p, n, "/v/t61.24694-24", ".jpg", path);
		if (rc == Y_ETOOBIG)
			return sim_conn_iq_error(c, iq, "507", "storage-full");
		if (rc)
			return rc;
		make_preview(c->sim, p, n, prev);
	} else if (!a->pic_path[0]) {
		return sim_conn_send(c, sim_conn_iq_result(iq)); /* nothing to remove */
	}
	if (a->pic_path[0])
		sim_media_drop(c->sim, a->pic_path);
	if (a->prev_path[0])
		sim_media_drop(c->sim, a->prev_path);
	if (pic)
		memcpy(a->pic_path, path, sizeof(path));
	else
		a->pic_path[0] = 0;
	memcpy(a->prev_path, prev, sizeof(prev));
	/* ids grow: a change is never taken for the previous picture */
	a->pic_id = a->pic_id >= sim_now_s() ? a->pic_id + 1 : sim_now_s();
	snprintf(pid, sizeof(pid), "%llu", (unsigned long long)a->pic_id);
	LOG_INFO("sim profile picture", "{s:s, s:s, s:i}", "phone", a->phone, "action",
		 pic ? "set" : "removed", "bytes", (int)n);
	r = sim_conn_iq_result(iq);
	if (!r || (pic && (!(k = wa_node_add_child(r, "picture")) ||
			   sim_attrs(k, "id", pid, NULL)))) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	rc = sim_conn_send(c, r);
	return rc ?: fan_out(c, a);
}

static int get_picture(struct sim_conn *c, const struct wa_node *iq)
{
	const struct wa_node *pic = wa_node_child(iq, "picture");
	const char *type = pic ? wa_node_attr(pic, "type") : NULL;
	const char *target = wa_node_attr(iq, "target");
	struct sim_account *t;
	struct wa_node *r, *k;
	char url[256], dp[128], pid[24];
	uint32_t dev;
	bool lid;

	if (!type || (strcmp(type, "image") && strcmp(type, "preview")))
		return sim_conn_iq_error(c, iq, "400", "bad-request");
	t = target ? sim_account_by_jid(c->sim, target, &dev, &lid) : c->acct;
	if (!t || !t->pic_path[0])
		return sim_conn_iq_error(c, iq, "404", "item-not-found");
	if (t->pic_hidden && t != c->acct)
		return sim_conn_iq_error(c, iq, "401", "not-authorized");
	snprintf(dp, sizeof(dp), "%s?ccb=11-4&oh=sim&oe=0",
		 !strcmp(type, "preview") && t->prev_path[0] ? t->prev_path : t->pic_path);
	snprintf(url, sizeof(url), "https://%s%s", c->sim->media_host, dp);
	snprintf(pid, sizeof(pid), "%llu", (unsigned long long)t->pic_id);
	r = sim_conn_iq_result(iq);
	if (!r || !(k = wa_node_add_child(r, "picture")) ||
	    sim_attrs(k, "id", pid, "type", type, "url", url, "direct_path", dp, NULL)) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	return sim_conn_send(c, r);
}

int sim_profile_picture_iq(struct sim_conn *c, const struct wa_node *iq)
{
	if (!c->acct || !c->dev)
		return sim_conn_iq_error(c, iq, "401", "not-authorized");
	return !strcmp(wa_node_attr(iq, "type"), "set") ? set_picture(c, iq) : get_picture(c, iq);
}
