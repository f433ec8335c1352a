/*
 * Test helper: src/wa/appstate.c from the command line
 * (tests/interop/appstate.test.mjs holds it against Baileys' own
 * encodeSyncdPatch / decodeSyncdPatch / decodePatches / decodeSyncdSnapshot).
 * One sync key (KEYID and KEY in hex); a STATE is the hex of
 * wa_appstate_state_save's blob, "-" for a new collection.
 *   wa-appstate encode NAME KEYID KEY STATE MUTATIONS
 *       MUTATIONS: JSON [{"op":"set"|"remove","index":[..],"version":n,
 *       "value":"<hex of a packed SyncActionValue>"}]; prints
 *       {"patch":hex,"state":hex,"version":n,"hash":hex}
 *   wa-appstate decode NAME KEYID KEY STATE PATCHHEX
 *   wa-appstate decode-snapshot NAME KEYID KEY SNAPSHOTHEX
 *       print {"state":hex,"version":n,"hash":hex,"mutations":[{"op","index",
 *       "version","value":hex}]}
 * A failure prints "error: CODE" and exits 1; bad arguments exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/codec.h"
#include "util/err.h"
#include "wa/appstate.h"
#include "wa/pb.h"

struct key {
	uint8_t id[WA_APPSTATE_KEYID_MAX];
	size_t id_len;
	struct wa_appstate_keys keys;
};

static int get_key(void *ud, const uint8_t *id, size_t len, struct wa_appstate_keys *out)
{
	const struct key *k = ud;

	if (len != k->id_len || memcmp(id, k->id, len))
		return Y_ENOTFOUND;
	*out = k->keys;
	return 0;
}

/* Decodes hex s into a malloc'ed buffer. */
static uint8_t *unhex(const char *s, size_t *n)
{
	size_t len = strlen(s);
	uint8_t *p = malloc(len / 2 + 1);

	if (!p || codec_hex_decode(s, len, p, len / 2 + 1, n)) {
		free(p);
		return NULL;
	}
	return p;
}

static json_t *hexj(const uint8_t *p, size_t n)
{
	char *h = malloc(2 * n + 1);
	json_t *j;

	if (!h)
		exit(1);
	codec_hex_encode(p, n, h);
	j = json_string(h);
	free(h);
	return j;
}

static void print_state(json_t *o, const struct wa_appstate_state *st)
{
	struct ybuf b = YBUF_INIT(0);

	if (wa_appstate_state_save(st, &b))
		exit(1);
	json_object_set_new(o, "state", hexj(b.data, b.len));
	json_object_set_new(o, "version", json_integer((json_int_t)st->version));
	json_object_set_new(o, "hash", hexj(st->hash, sizeof(st->hash)));
	ybuf_release(&b);
}

static int do_encode(const char *name, struct key *k, struct wa_appstate_state *st,
		     const char *mjson)
{
	json_t *a = json_loads(mjson, 0, NULL), *o;
	size_t n = json_array_size(a);
	struct wa_appstate_mutation_in *m = calloc(n ? n : 1, sizeof(*m));
	ProtobufCMessage **vals = calloc(n ? n : 1, sizeof(*vals));
	const char ***idx = calloc(n ? n : 1, sizeof(*idx));
	struct wa_appstate_state next;
	struct ybuf out = YBUF_INIT(0);
	int rc = 0;

	wa_appstate_state_init(&next);
	if (!json_is_array(a) || !m || !vals || !idx)
		return 2;
	for (size_t i = 0; !rc && i < n; i++) {
		json_t *e = json_array_get(a, i), *ix = json_object_get(e, "index");
		const char *op = json_string_value(json_object_get(e, "op"));
		const char *hv = json_string_value(json_object_get(e, "value"));
		uint8_t *v;
		size_t vn = 0;

		if (!op || !hv || !json_is_array(ix) || !(v = unhex(hv, &vn)))
			return 2;
		m[i].op = strcmp(op, "remove") ? WA_APPSTATE_SET : WA_APPSTATE_REMOVE;
		m[i].version = (int32_t)json_integer_value(json_object_get(e, "version"));
		m[i].index_n = json_array_size(ix);
		idx[i] = calloc(m[i].index_n + 1, sizeof(char *));
		for (size_t j = 0; j < m[i].index_n; j++)
			idx[i][j] = json_string_value(json_array_get(ix, j));
		m[i].index = idx[i];
		rc = wa_pb_unpack(&wa__sync_action_value__descriptor, v, vn, &vals[i]);
		m[i].value = (const Wa__SyncActionValue *)vals[i];
		free(v);
	}
	rc = rc ?: wa_appstate_encode_patch(st, name, k->id, k->id_len, &k->keys, m, n, NULL, &out,
					    &next);
	if (rc) {
		printf("error: %s\n", y_strerror(rc));
		return 1;
	}
	o = json_object();
	json_object_set_new(o, "patch", hexj(out.data, out.len));
	print_state(o, &next);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	for (size_t i = 0; i < n; i++) {
		free(idx[i]);
		protobuf_c_message_free_unpacked(vals[i], NULL);
	}
	free(idx);
	free(vals);
	free(m);
	json_decref(a);
	ybuf_release(&out);
	wa_appstate_state_release(&next);
	return 0;
}

static int do_decode(const char *name, struct key *k, struct wa_appstate_state *st,
		     const char *hex, int snapshot)
{
	struct wa_appstate_mutations ms = { 0 };
	json_t *o, *arr;
	size_t n = 0;
	uint8_t *p = unhex(hex, &n);
	int rc;

	if (!p)
		return 2;
	rc = snapshot ? wa_appstate_decode_snapshot(st, name, p, n, get_key, k, &ms)
		      : wa_appstate_decode_patch(st, name, p, n, get_key, k, &ms);
	free(p);
	if (rc) {
		printf("error: %s\n", y_strerror(rc));
		return 1;
	}
	o = json_object();
	print_state(o, st);
	arr = json_array();
	for (size_t i = 0; i < ms.n; i++) {
		json_t *e = json_object(), *ix = json_array();
		struct ybuf vb = YBUF_INIT(0);

		for (size_t j = 0; j < ms.v[i].index_n; j++)
			json_array_append_new(ix, json_string(ms.v[i].index[j]));
		json_object_set_new(e, "op", json_string(ms.v[i].op ? "remove" : "set"));
		json_object_set_new(e, "index", ix);
		json_object_set_new(e, "version", json_integer(ms.v[i].version));
		if (ms.v[i].data->value && wa_pb_pack(&ms.v[i].data->value->base, &vb))
			exit(1);
		json_object_set_new(e, "value", hexj(vb.data ? vb.data : (uint8_t *)"", vb.len));
		json_array_append_new(arr, e);
		ybuf_release(&vb);
	}
	json_object_set_new(o, "mutations", arr);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	wa_appstate_mutations_release(&ms);
	return 0;
}

int main(int argc, char **argv)
{
	struct key k;
	struct wa_appstate_state st;
	uint8_t *kid, *key, *sb;
	size_t kn = 0, kl = 0, sn = 0;
	const char *op = argc > 1 ? argv[1] : "";
	int snapshot = !strcmp(op, "decode-snapshot"), rc;

	wa_appstate_state_init(&st);
	if (argc != (snapshot ? 6 : 7) || !(kid = unhex(argv[3], &kn)) || !kn ||
	    kn > sizeof(k.id) || !(key = unhex(argv[4], &kl))) {
		fprintf(stderr, "usage: wa-appstate encode|decode|decode-snapshot NAME KEYID KEY "
				"[STATE] ARG\n");
		return 2;
	}
	memcpy(k.id, kid, kn);
	k.id_len = kn;
	if (wa_appstate_keys_expand(&k.keys, key, kl))
		return 2;
	if (!snapshot && strcmp(argv[5], "-")) {
		if (!(sb = unhex(argv[5], &sn)) || wa_appstate_state_load(&st, sb, sn))
			return 2;
		free(sb);
	}
	if (!strcmp(op, "encode"))
		rc = do_encode(argv[2], &k, &st, argv[6]);
	else if (!strcmp(op, "decode") || snapshot)
		rc = do_decode(argv[2], &k, &st, argv[snapshot ? 5 : 6], snapshot);
	else
		rc = 2;
	free(kid);
	free(key);
	wa_appstate_state_release(&st);
	return rc;
}
