/* src/wa/appstate.c on its own (the crypto is judged by Baileys in
 * tests/interop/appstate.test.mjs): LTHash add/subtract, state storage,
 * encode/decode round trips over SET, overwrite and REMOVE, and a failed
 * decode leaving the state untouched. */
#include "test.h"
#include "util/err.h"
#include "wa/appstate.h"

static const uint8_t key_id[] = { 0, 0, 0, 1 };
static struct wa_appstate_keys keys;

static int get_key(void *ud, const uint8_t *id, size_t len, struct wa_appstate_keys *out)
{
	(void)ud;
	if (len != sizeof(key_id) || memcmp(id, key_id, len))
		return Y_ENOTFOUND;
	*out = keys;
	return 0;
}

static void setup(void)
{
	uint8_t k[32];

	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(i * 7);
	if (wa_appstate_keys_expand(&keys, k, sizeof(k)))
		abort();
}

TEST(lthash_add_then_sub_is_identity)
{
	uint8_t h[128] = { 0 }, zero[128] = { 0 }, mac[32] = { 1, 2, 3 }, mac2[32] = { 9 };

	CHECK(wa_appstate_lthash_add(h, mac) == 0);
	CHECK(memcmp(h, zero, 128) != 0);
	CHECK(wa_appstate_lthash_add(h, mac2) == 0);
	CHECK(wa_appstate_lthash_sub(h, mac) == 0);
	CHECK(wa_appstate_lthash_sub(h, mac2) == 0);
	CHECK_MEM(h, zero, 128);
}

TEST(index_json_escapes_as_json_stringify)
{
	const char *idx[] = { "a\"b\\c", "\n\x01", "zo\xc3\xab" };
	struct ybuf b = YBUF_INIT(0);

	CHECK(wa_appstate_index_json(idx, 3, &b) == 0);
	CHECK_EQ_STR((char *)b.data, "[\"a\\\"b\\\\c\",\"\\n\\u0001\",\"zo\xc3\xab\"]");
	ybuf_release(&b);
}

static int encode(const struct wa_appstate_state *st, const char *name, const char *jid,
		  enum wa_appstate_op op, int muted, struct ybuf *out, struct wa_appstate_state *next)
{
	Wa__SyncActionValue v = WA__SYNC_ACTION_VALUE__INIT;
	Wa__SyncActionValue__MuteAction m = WA__SYNC_ACTION_VALUE__MUTE_ACTION__INIT;
	const char *idx[] = { "mute", jid };
	struct wa_appstate_mutation_in in = { op, idx, 2, &v, 2 };

	v.has_timestamp = 1;
	v.timestamp = 1000;
	m.has_muted = 1;
	m.muted = muted;
	v.muteaction = &m;
	return wa_appstate_encode_patch(st, name, key_id, sizeof(key_id), &keys, &in, 1, NULL, out,
					next);
}

TEST(round_trip_set_overwrite_remove)
{
	struct wa_appstate_state w, r, e0;
	struct wa_appstate_mutations ms = { 0 };
	struct ybuf p = YBUF_INIT(0);
	uint8_t zero[128] = { 0 };

	wa_appstate_state_init(&w);
	wa_appstate_state_init(&r);
	wa_appstate_state_init(&e0);
	/* SET a, SET b, SET a again, REMOVE a, REMOVE b: back to the empty hash */
	const char *jids[] = { "1@s.whatsapp.net", "2@s.whatsapp.net", "1@s.whatsapp.net",
			       "1@s.whatsapp.net", "2@s.whatsapp.net" };
	for (int i = 0; i < 5; i++) {
		ybuf_reset(&p);
		REQUIRE(encode(&w, "regular_high", jids[i], i < 3 ? WA_APPSTATE_SET : WA_APPSTATE_REMOVE,
			       i & 1, &p, &w) == 0);
		CHECK_EQ_INT(w.version, i + 1);
		CHECK(wa_appstate_decode_patch(&r, "regular_high", p.data, p.len, get_key, NULL, &ms) == 0);
		CHECK_EQ_INT(r.version, i + 1);
		CHECK_MEM(r.hash, w.hash, 128);
		CHECK_EQ_INT(r.n, w.n);
		if (i == 2)
			CHECK_EQ_INT(r.n, 2);
	}
	CHECK_MEM(r.hash, zero, 128);
	CHECK_EQ_INT(r.n, 0);
	REQUIRE(ms.n == 5);
	CHECK_EQ_STR(ms.v[1].index[1], "2@s.whatsapp.net");
	CHECK_EQ_INT(ms.v[3].op, WA_APPSTATE_REMOVE);
	CHECK(ms.v[1].data->value && ms.v[1].data->value->muteaction &&
	      ms.v[1].data->value->muteaction->muted);
	CHECK_EQ_INT(ms.v[4].patch_version, 5);
	/* the last patch again: not above our version */
	CHECK(wa_appstate_decode_patch(&r, "regular_high", p.data, p.len, get_key, NULL, &ms) ==
	      Y_ECRYPTO);
	wa_appstate_mutations_release(&ms);
	ybuf_release(&p);
	wa_appstate_state_release(&w);
	wa_appstate_state_release(&r);
	wa_appstate_state_release(&e0);
}

/* Thousands of live entries in one patch, then half of them removed and
 * some set again, in the order a real account's collection sees them: the
 * hash is always the sum of the live value MACs and the count right (the
 * index of entries by index MAC is rebuilt, grown and tombstoned here). */
TEST(many_entries_set_remove_reset)
{
	enum { N = 3000 };
	static char jids[N][32];
	static const char *idx[N][2];
	Wa__SyncActionValue v = WA__SYNC_ACTION_VALUE__INIT;
	Wa__SyncActionValue__MuteAction mu = WA__SYNC_ACTION_VALUE__MUTE_ACTION__INIT;
	static struct wa_appstate_mutation_in in[N];
	struct wa_appstate_state w, r;
	struct wa_appstate_mutations ms = { 0 };
	struct ybuf p = YBUF_INIT(0);
	size_t k;

	wa_appstate_state_init(&w);
	wa_appstate_state_init(&r);
	v.has_timestamp = 1;
	v.timestamp = 1000;
	mu.has_muted = 1;
	mu.muted = 1;
	v.muteaction = &mu;
	for (int i = 0; i < N; i++) {
		snprintf(jids[i], sizeof(jids[i]), "%d@s.whatsapp.net", 1000 + i);
		idx[i][0] = "mute";
		idx[i][1] = jids[i];
		in[i] = (struct wa_appstate_mutation_in){ WA_APPSTATE_SET, idx[i], 2, &v, 2 };
	}
	/* 1: all N set */
	REQUIRE(wa_appstate_encode_patch(&w, "regular_high", key_id, sizeof(key_id), &keys, in, N,
					 NULL, &p, &w) == 0);
	REQUIRE(wa_appstate_decode_patch(&r, "regular_high", p.data, p.len, get_key, NULL, &ms) == 0);
	CHECK_EQ_INT(r.n, N);
	/* 2: every even one removed, and the first 100 odd ones set again */
	for (k = 0; k < N / 2; k++)
		in[k] = (struct wa_appstate_mutation_in){ WA_APPSTATE_REMOVE, idx[2 * k], 2, &v, 2 };
	for (size_t j = 0; j < 100; j++, k++)
		in[k] = (struct wa_appstate_mutation_in){ WA_APPSTATE_SET, idx[2 * j + 1], 2, &v, 2 };
	ybuf_reset(&p);
	REQUIRE(wa_appstate_encode_patch(&w, "regular_high", key_id, sizeof(key_id), &keys, in, k,
					 NULL, &p, &w) == 0);
	REQUIRE(wa_appstate_decode_patch(&r, "regular_high", p.data, p.len, get_key, NULL, &ms) == 0);
	CHECK_EQ_INT(r.n, N / 2);
	CHECK_EQ_INT(w.n, N / 2);
	CHECK_MEM(r.hash, w.hash, 128);
	/* 3: the even ones back: N again, and removing a missing one changes nothing */
	for (k = 0; k < N / 2; k++)
		in[k] = (struct wa_appstate_mutation_in){ WA_APPSTATE_SET, idx[2 * k], 2, &v, 2 };
	ybuf_reset(&p);
	REQUIRE(wa_appstate_encode_patch(&w, "regular_high", key_id, sizeof(key_id), &keys, in, k,
					 NULL, &p, &w) == 0);
	REQUIRE(wa_appstate_decode_patch(&r, "regular_high", p.data, p.len, get_key, NULL, &ms) == 0);
	CHECK_EQ_INT(r.n, N);
	{
		uint8_t sum[128] = { 0 };

		for (size_t i = 0; i < r.n; i++)
			REQUIRE(wa_appstate_lthash_add(sum, r.macs[i].value_mac) == 0);
		CHECK_MEM(sum, r.hash, 128);
		for (size_t i = 0; i + 1 < r.n && i < 200; i++) /* no entry twice */
			for (size_t j = i + 1; j < r.n; j++)
				CHECK(memcmp(r.macs[i].index_mac, r.macs[j].index_mac, 32) != 0);
	}
	wa_appstate_mutations_release(&ms);
	ybuf_release(&p);
	wa_appstate_state_release(&w);
	wa_appstate_state_release(&r);
}

TEST(failed_decode_leaves_state_and_output)
{
	struct wa_appstate_state w, r, before;
	struct wa_appstate_mutations ms = { 0 };
	struct ybuf p = YBUF_INIT(0), a = YBUF_INIT(0), b = YBUF_INIT(0);

	wa_appstate_state_init(&w);
	wa_appstate_state_init(&r);
	wa_appstate_state_init(&before);
	REQUIRE(encode(&w, "regular_high", "1@s.whatsapp.net", WA_APPSTATE_SET, 1, &p, &w) == 0);
	REQUIRE(wa_appstate_decode_patch(&r, "regular_high", p.data, p.len, get_key, NULL, &ms) == 0);
	ybuf_reset(&p);
	REQUIRE(encode(&w, "regular_high", "2@s.whatsapp.net", WA_APPSTATE_SET, 1, &p, &w) == 0);
	REQUIRE(wa_appstate_state_copy(&before, &r) == 0);
	/* every single flipped byte is refused, or (a tag turned into an
	 * unknown field: the operation then defaults to SET) means the same */
	for (size_t i = 0; i < p.len; i++) {
		struct wa_appstate_state t;
		struct wa_appstate_mutations tm = { 0 };
		int rc;

		wa_appstate_state_init(&t);
		REQUIRE(wa_appstate_state_copy(&t, &before) == 0);
		p.data[i] ^= 0x10;
		rc = wa_appstate_decode_patch(&t, "regular_high", p.data, p.len, get_key, NULL, &tm);
		p.data[i] ^= 0x10;
		if (!rc) {
			CHECK(tm.n == 1 && tm.v[0].op == WA_APPSTATE_SET);
			CHECK_MEM(t.hash, w.hash, 128);
		}
		wa_appstate_mutations_release(&tm);
		wa_appstate_state_release(&t);
	}
	CHECK(wa_appstate_decode_patch(&r, "regular_low", p.data, p.len, get_key, NULL, &ms) ==
	      Y_ECRYPTO);
	CHECK_EQ_INT(ms.n, 1);
	CHECK(wa_appstate_state_save(&r, &a) == 0 && wa_appstate_state_save(&before, &b) == 0);
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len));
	CHECK(wa_appstate_decode_patch(&r, "regular_high", p.data, p.len, get_key, NULL, &ms) == 0);
	CHECK_EQ_INT(ms.n, 2);
	wa_appstate_mutations_release(&ms);
	ybuf_release(&p);
	ybuf_release(&a);
	ybuf_release(&b);
	wa_appstate_state_release(&w);
	wa_appstate_state_release(&r);
	wa_appstate_state_release(&before);
}

TEST(state_save_load)
{
	struct wa_appstate_state w, l;
	struct ybuf p = YBUF_INIT(0), s = YBUF_INIT(0), s2 = YBUF_INIT(0);

	wa_appstate_state_init(&w);
	wa_appstate_state_init(&l);
	REQUIRE(encode(&w, "regular_low", "1@s.whatsapp.net", WA_APPSTATE_SET, 1, &p, &w) == 0);
	REQUIRE(wa_appstate_state_save(&w, &s) == 0);
	CHECK(wa_appstate_state_load(&l, s.data, s.len) == 0);
	CHECK(wa_appstate_state_save(&l, &s2) == 0);
	CHECK(s.len == s2.len && !memcmp(s.data, s2.data, s.len));
	CHECK_EQ_INT(l.version, 1);
	CHECK(wa_appstate_state_load(&l, s.data, s.len - 1) == Y_EINVAL);
	CHECK(wa_appstate_state_load(&l, s.data, 10) == Y_EINVAL);
	CHECK_EQ_INT(l.n, 0);
	ybuf_release(&p);
	ybuf_release(&s);
	ybuf_release(&s2);
	wa_appstate_state_release(&w);
	wa_appstate_state_release(&l);
}

TEST(bad_arguments)
{
	struct wa_appstate_state w;
	struct ybuf p = YBUF_INIT(0);

	wa_appstate_state_init(&w);
	CHECK(encode(&w, "nonsense", "1@s.whatsapp.net", WA_APPSTATE_SET, 1, &p, &w) == Y_EINVAL);
	CHECK(wa_appstate_name_valid("critical_block") && !wa_appstate_name_valid("x"));
	CHECK(wa_appstate_decode_patch(&w, "regular", (const uint8_t *)"", 0, get_key, NULL,
				       &(struct wa_appstate_mutations){ 0 }) != 0);
	wa_appstate_state_release(&w);
}

int main(void)
{
	setup();
	RUN(lthash_add_then_sub_is_identity);
	RUN(index_json_escapes_as_json_stringify);
	RUN(round_trip_set_overwrite_remove);
	RUN(many_entries_set_remove_reset);
	RUN(failed_decode_leaves_state_and_output);
	RUN(state_save_load);
	RUN(bad_arguments);
	return test_summary();
}
