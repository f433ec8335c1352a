/*
 * The simulator's durable state in a file (`yesapp sim --state FILE`):
 * the Noise root, intermediate and server static keys; each account (phone,
 * LID, the phone's Signal identity, signed prekey and whole Signal store);
 * each linked device (id, key index, Signal identity, registration id,
 * signed prekey, prekeys not yet served, Noise static key, whether the phone
 * shared its app-state key) and its offline queue (binary nodes).
 *
 * Format: one JSON object (jansson), bytes as lower-case hex, "version": 1.
 * Written atomically: FILE.tmp, fsync, rename. Loading checks every field's
 * type, length and range and refuses the whole file on the first fault
 * (Y_EINVAL, the reason logged): a corrupt or truncated file never half
 * loads and never crashes.
 *
 * Owned by src/sim/.
 */
#include "sim/sim_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/codec.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/binary.h"
#include "wa/signal_store.h"

#define STATE_VERSION 1
#define STATE_FILE_MAX ((size_t)256 << 20)

/* ---- writing ---- */

static json_t *hex(const uint8_t *b, size_t n)
{
	char *h = malloc(2 * n + 1);
	json_t *j;

	if (!h)
		return NULL;
	codec_hex_encode(b, n, h);
	j = json_string(h);
	free(h);
	return j;
}

static json_t *keypair_json(const struct wa_keypair *k)
{
	return json_pack("{s:o, s:o}", "pub", hex(k->pub, WA_KEY_LEN), "priv",
			 hex(k->priv, WA_KEY_LEN));
}

static json_t *spk_json(const struct wa_signal_signed_prekey *p)
{
	return json_pack("{s:I, s:o, s:o}", "id", (json_int_t)p->id, "pub", hex(p->pub, 32), "sig",
			 hex(p->sig, 64));
}

struct store_walk {
	struct wa_signal_store *st;
	enum wa_signal_kind kind;
	json_t *obj;
	struct ybuf buf;
};

static int store_one(const char *key, void *arg)
{
	struct store_walk *w = arg;
	json_t *v;
	int rc;

	ybuf_reset(&w->buf);
	rc = w->st->load(w->st->ud, w->kind, key, &w->buf);
	if (rc)
		return rc;
	v = hex(w->buf.data, w->buf.len);
	if (!v || json_object_set_new(w->obj, key, v))
		return Y_ENOMEM;
	return Y_OK;
}

/* {"0": {key: hex record, ...}, "1": ...} one object per kind. */
static json_t *store_json(struct wa_signal_store *st)
{
	json_t *out = json_object();
	struct store_walk w = { .st = st };
	int rc = out ? Y_OK : Y_ENOMEM;

	ybuf_init(&w.buf, WA_SIGNAL_STORE_RECORD_MAX);
	for (int k = 0; k < WA_SIGNAL_KIND_COUNT && !rc; k++) {
		char name[12];

		w.kind = (enum wa_signal_kind)k;
		w.obj = json_object();
		snprintf(name, sizeof(name), "%d", k);
		if (!w.obj || json_object_set_new(out, name, w.obj)) {
			rc = Y_ENOMEM;
			break;
		}
		rc = st->each(st->ud, w.kind, "", store_one, &w);
	}
	ybuf_release(&w.buf);
	if (rc) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static json_t *device_json(const struct sim_device *d)
{
	json_t *pks = json_array(), *q = json_array(), *j;
	struct ybuf b;

	ybuf_init(&b, (size_t)16 << 20);
	for (size_t i = 0; pks && i < d->nprekeys; i++)
		json_array_append_new(pks, json_pack("{s:I, s:o}", "id", (json_int_t)d->prekeys[i].id,
						     "pub", hex(d->prekeys[i].pub, 32)));
	for (struct sim_pending *p = d->qhead; q && p; p = p->next) {
		ybuf_reset(&b);
		if (wa_binary_encode(p->node, WA_DICT_V2, &b)) {
			LOG_WARN("sim state: queued stanza not saved", "{s:i}", "device", (int)d->id);
			continue;
		}
		json_array_append_new(q, hex(b.data, b.len));
	}
	ybuf_release(&b);
	j = json_pack("{s:I, s:I, s:o, s:I, s:o, s:o, s:o, s:b, s:o}", "id", (json_int_t)d->id,
		      "keyIndex", (json_int_t)d->key_index, "identity", hex(d->identity, WA_KEY_LEN),
		      "regId", (json_int_t)d->reg_id, "spk", spk_json(&d->spk), "prekeys", pks, "noise",
		      hex(d->noise, WA_KEY_LEN), "keyShared", d->key_shared, "queue", q);
	return j;
}

static json_t *account_json(const struct sim_account *a)
{
	json_t *devs = json_array(), *j;

	for (const struct sim_device *d = a->devices; devs && d; d = d->next) {
		json_t *dj = device_json(d);

		if (!dj || json_array_append_new(devs, dj)) {
			json_decref(devs);
			return NULL;
		}
	}
	j = json_pack("{s:s, s:s, s:{s:o, s:o, s:I}, s:o, s:I, s:I, s:I, s:o, s:o, s:b}", "phone",
		      a->phone, "lid", a->lid, "identity", "pub", hex(a->ident.pub, 32), "priv",
		      hex(a->ident.priv, 32), "regId", (json_int_t)a->ident.registration_id,
		      "spk", spk_json(&a->spk), "nextPrekey", (json_int_t)a->next_prekey,
		      "nextDevice", (json_int_t)a->next_device, "keyIndex",
		      (json_int_t)a->key_index, "store", store_json(a->store), "devices", devs,
		      "lidFirst", a->lid_first);
	/* the app-state sync key its companions hold (absent until minted) */
	if (j && a->as_key_set &&
	    json_object_set_new(j, "appStateKey",
				json_pack("{s:o, s:o}", "id", hex(a->as_key_id, sizeof(a->as_key_id)),
					  "data", hex(a->as_key, sizeof(a->as_key))))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int sim_state_save(struct sim *s)
{
	json_t *root, *accts = json_array();
	char tmp[512];
	char *text = NULL;
	int fd = -1, rc = Y_ENOMEM;
	size_t len, off = 0;

	if (!s->state_file)
		return Y_OK;
	for (struct sim_account *a = s->accounts; accts && a; a = a->next) {
		json_t *aj = account_json(a);

		if (!aj || json_array_append_new(accts, aj)) {
			json_decref(accts);
			accts = NULL;
		}
	}
	root = accts ? json_pack("{s:i, s:o, s:o, s:o, s:o}", "version", STATE_VERSION, "root",
				 keypair_json(&s->root), "intermediate",
				 keypair_json(&s->intermediate), "static", keypair_json(&s->static_key),
				 "accounts", accts)
		     : NULL;
	if (root)
		text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		goto out;
	rc = Y_EIO;
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->state_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	len = strlen(text);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	if (fsync(fd))
		goto out;
	close(fd);
	fd = -1;
	if (rename(tmp, s->state_file))
		goto out;
	rc = Y_OK;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (text) {
		wa_wipe(text, strlen(text));
		free(text);
	}
	if (rc)
		LOG_ERROR("sim state not saved", "{s:s, s:s}", "file", s->state_file, "error",
			  y_strerror(rc));
	return rc;
}

/* ---- reading ---- */

/* Exactly n bytes of hex. */
static int get_hex(json_t *o, const char *key, uint8_t *out, size_t n)
{
	json_t *v = json_object_get(o, key);
	size_t got;

	if (!json_is_string(v) || json_string_length(v) != 2 * n)
		return Y_EINVAL;
	if (codec_hex_decode(json_string_value(v), 2 * n, out, n, &got) || got != n)
		return Y_EINVAL;
	return Y_OK;
}

/* Hex of any length up to max: *out malloc'd (caller frees). */
static int get_hex_alloc(json_t *v, size_t max, uint8_t **out, size_t *n)
{
	size_t len;

	if (!json_is_string(v))
		return Y_EINVAL;
	len = json_string_length(v);
	if (len % 2 || len / 2 > max)
		return Y_EINVAL;
	*out = malloc(len / 2 + 1);
	if (!*out)
		return Y_ENOMEM;
	if (codec_hex_decode(json_string_value(v), len, *out, len / 2 + 1, n)) {
		free(*out);
		*out = NULL;
		return Y_EINVAL;
	}
	return Y_OK;
}

static int get_u32(json_t *o, const char *key, uint32_t max, uint32_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
		return Y_EINVAL;
	*out = (uint32_t)json_integer_value(v);
	return Y_OK;
}

static int get_keypair(json_t *o, const char *key, struct wa_keypair *k)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_object(v))
		return Y_EINVAL;
	return get_hex(v, "pub", k->pub, WA_KEY_LEN) ?: get_hex(v, "priv", k->priv, WA_KEY_LEN);
}

static int get_spk(json_t *o, struct wa_signal_signed_prekey *p)
{
	json_t *v = json_object_get(o, "spk");

	if (!json_is_object(v))
		return Y_EINVAL;
	return get_u32(v, "id", 0xffffff, &p->id) ?: get_hex(v, "pub", p->pub, 32)
						   ?: get_hex(v, "sig", p->sig, 64);
}

static int get_digits(json_t *o, const char *key, char out[SIM_PHONE_MAX + 1])
{
	json_t *v = json_object_get(o, key);
	const char *str = json_string_value(v);

	if (!str || sim_phone_norm(str, out) || strcmp(str, out))
		return Y_EINVAL;
	return Y_OK;
}

static int load_store(json_t *o, struct wa_signal_store *st)
{
	if (!json_is_object(o))
		return Y_EINVAL;
	for (int k = 0; k < WA_SIGNAL_KIND_COUNT; k++) {
		char name[12];
		json_t *kind, *v;
		const char *key;

		snprintf(name, sizeof(name), "%d", k);
		kind = json_object_get(o, name);
		if (!json_is_object(kind))
			return Y_EINVAL;
		json_object_foreach(kind, key, v) {
			uint8_t *rec;
			size_t n;
			int rc;

			if (strlen(key) > WA_SIGNAL_STORE_KEY_MAX)
				return Y_EINVAL;
			rc = get_hex_alloc(v, WA_SIGNAL_STORE_RECORD_MAX, &rec, &n);
			if (rc)
				return rc;
			rc = st->save(st->ud, (enum wa_signal_kind)k, key, rec, n);
			wa_wipe(rec, n);
			free(rec);
			if (rc)
				return rc;
		}
	}
	return Y_OK;
}

static int load_device(json_t *o, struct sim_account *a)
{
	struct sim_device *d;
	json_t *pks = json_object_get(o, "prekeys"), *q = json_object_get(o, "queue");
	json_t *ks = json_object_get(o, "keyShared"), *v;
	size_t i;
	int rc;

	if (!json_is_object(o) || !json_is_array(pks) || !json_is_array(q) || !json_is_boolean(ks) ||
	    json_array_size(pks) > SIM_PREKEYS_MAX || json_array_size(q) > SIM_QUEUE_MAX)
		return Y_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return Y_ENOMEM;
	d->acct = a;
	d->next = a->devices; /* linked first so that errors free it with the account */
	a->devices = d;
	rc = get_u32(o, "id", 255, &d->id) ?: get_u32(o, "keyIndex", UINT32_MAX, &d->key_index)
		?: get_hex(o, "identity", d->identity, WA_KEY_LEN)
		?: get_u32(o, "regId", UINT32_MAX, &d->reg_id) ?: get_spk(o, &d->spk)
		?: get_hex(o, "noise", d->noise, WA_KEY_LEN);
	if (rc)
		return rc;
	if (d->id == 0 || d->id >= a->next_device)
		return Y_EINVAL;
	for (struct sim_device *e = d->next; e; e = e->next)
		if (e->id == d->id)
			return Y_EINVAL;
	d->key_shared = json_is_true(ks);
	if (json_array_size(pks)) {
		d->prekeys = calloc(json_array_size(pks), sizeof(*d->prekeys));
		if (!d->prekeys)
			return Y_ENOMEM;
	}
	json_array_foreach(pks, i, v) {
		if (!json_is_object(v) || get_u32(v, "id", 0xffffff, &d->prekeys[i].id) ||
		    !d->prekeys[i].id || get_hex(v, "pub", d->prekeys[i].pub, 32))
			return Y_EINVAL;
		d->nprekeys++;
	}
	json_array_foreach(q, i, v) {
		struct sim_pending *p;
		uint8_t *b;
		size_t n;

		rc = get_hex_alloc(v, (size_t)16 << 20, &b, &n);
		if (rc)
			return rc;
		p = calloc(1, sizeof(*p));
		rc = p ? wa_binary_decode(b, n, WA_DICT_V2, &p->node) : Y_ENOMEM;
		free(b);
		if (rc) {
			free(p);
			return rc;
		}
		if (d->qtail)
			d->qtail->next = p;
		else
			d->qhead = p;
		d->qtail = p;
		d->nq++;
	}
	return Y_OK;
}

static int load_account(struct sim *s, json_t *o)
{
	struct sim_account *a;
	json_t *id = json_object_get(o, "identity"), *devs = json_object_get(o, "devices"), *v;
	size_t i;
	int rc;

	if (!json_is_object(o) || !json_is_object(id) || !json_is_array(devs))
		return Y_EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return Y_ENOMEM;
	a->next = s->accounts; /* freed with the sim on error */
	s->accounts = a;
	rc = get_digits(o, "phone", a->phone) ?: get_digits(o, "lid", a->lid)
		?: get_hex(id, "pub", a->ident.pub, 32) ?: get_hex(id, "priv", a->ident.priv, 32)
		?: get_u32(id, "regId", 16380, &a->ident.registration_id) ?: get_spk(o, &a->spk)
		?: get_u32(o, "nextPrekey", 0xffffff, &a->next_prekey)
		?: get_u32(o, "nextDevice", 256, &a->next_device)
		?: get_u32(o, "keyIndex", UINT32_MAX, &a->key_index);
	if (rc)
		return rc;
	a->lid_first = json_is_true(json_object_get(o, "lidFirst")); /* absent in older files */
	if ((v = json_object_get(o, "appStateKey"))) { /* absent in older files */
		rc = get_hex(v, "id", a->as_key_id, sizeof(a->as_key_id)) ?:
			get_hex(v, "data", a->as_key, sizeof(a->as_key));
		if (rc)
			return rc;
		a->as_key_set = true;
	}
	for (struct sim_account *b = a->next; b; b = b->next)
		if (!strcmp(b->phone, a->phone) || !strcmp(b->lid, a->lid) ||
		    !strcmp(b->phone, a->lid) || !strcmp(b->lid, a->phone))
			return Y_EINVAL;
	if (a->next_device < 1 || a->next_prekey < 1)
		return Y_EINVAL;
	a->store = wa_signal_memstore_new();
	if (!a->store)
		return Y_ENOMEM;
	rc = load_store(json_object_get(o, "store"), a->store);
	if (rc)
		return rc;
	a->sig = wa_signal_new(&a->ident, a->store);
	if (!a->sig)
		return Y_ENOMEM;
	json_array_foreach(devs, i, v) {
		rc = load_device(v, a);
		if (rc)
			return rc;
	}
	return Y_OK;
}

int sim_state_load(struct sim *s, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *root, *accts, *v;
	size_t i = 0;
	int rc = Y_EINVAL;

	if (len > STATE_FILE_MAX)
		return Y_ETOOBIG;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		LOG_ERROR("sim state: not JSON", "{s:s, s:i}", "error", jerr.text, "line", jerr.line);
		return Y_EINVAL;
	}
	accts = json_object_get(root, "accounts");
	if (!json_is_object(root) || !json_is_integer(json_object_get(root, "version")) ||
	    json_integer_value(json_object_get(root, "version")) != STATE_VERSION ||
	    !json_is_array(accts))
		goto out;
	rc = get_keypair(root, "root", &s->root) ?: get_keypair(root, "intermediate", &s->intermediate)
		?: get_keypair(root, "static", &s->static_key);
	if (rc)
		goto out;
	json_array_foreach(accts, i, v) {
		rc = load_account(s, v);
		if (rc)
			goto out;
	}
	rc = Y_OK;
out:
	if (rc)
		LOG_ERROR("sim state refused", "{s:s, s:I}", "error", y_strerror(rc), "account",
			  (json_int_t)i);
	json_decref(root);
	return rc;
}

int sim_state_read_file(struct sim *s, const char *path, bool *found)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = Y_OK;

	*found = f != NULL;
	if (!f)
		return errno == ENOENT ? Y_OK : Y_EIO;
	for (;;) {
		size_t n;

		if (len == cap) {
			char *t;

			if (cap >= STATE_FILE_MAX) {
				rc = Y_ETOOBIG;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			t = realloc(text, cap);
			if (!t) {
				rc = Y_ENOMEM;
				break;
			}
			text = t;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				rc = Y_EIO;
			break;
		}
	}
	fclose(f);
	if (!rc)
		rc = sim_state_load(s, text, len);
	if (text) {
		wa_wipe(text, cap);
		free(text);
	}
	return rc;
}
