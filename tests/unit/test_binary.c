/* Tests for src/wa/binary.c, node.c, jid.c and tokens.c: protocol vectors,
 * every size class, zlib frames, malformed input. */
#include <zlib.h>

#include "test.h"
#include "util/buf.h"
#include "util/err.h"
#include "wa/binary.h"

static char *hex(const uint8_t *p, size_t n)
{
	static char s[1 << 16];
	size_t i;

	for (i = 0; i < n && i * 2 + 2 < sizeof(s); i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	s[2 * i] = 0;
	return s;
}

/* Encodes a node whose content is the string s (v dict) and returns the hex
 * of the content bytes after the fixed prefix "F8 02 <tag>". */
static char *enc_str(int dict, const char *s)
{
	struct wa_node *n = wa_node_new("iq");
	struct ybuf b = YBUF_INIT(0);
	static char out[4096];

	wa_node_set_text(n, s, strlen(s));
	if (wa_binary_encode_node(n, dict, &b) != 0) {
		strcpy(out, "ERR");
	} else {
		const char *h = hex(b.data + 3, b.len - 3);
		size_t hl = strlen(h) < sizeof(out) - 1 ? strlen(h) : sizeof(out) - 1;
		memcpy(out, h, hl);
		out[hl] = 0;
	}
	wa_node_free(n);
	ybuf_release(&b);
	return out;
}

TEST(packed_and_jid_vectors)
{
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "1.2-3"), "ff831b2a3f");
	CHECK_EQ_STR(enc_str(WA_DICT_V3, "1.2-3"), "ff831b2a3f");
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "@s.whatsapp.net"), "fa0003");
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "15550001111:3@s.whatsapp.net"), "f70003ff8615550001111f");
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "15550001111:3@s.whatsapp.net"),
		enc_str(WA_DICT_V3, "15550001111:3@s.whatsapp.net"));
	CHECK_EQ_STR(enc_str(WA_DICT_V3, "ABC123"), "fb03abc123");        /* hex */
	CHECK_EQ_STR(enc_str(WA_DICT_V3, "abc"), "fc03616263");           /* raw */
	/* "lid" is no v2 token: raw; it is a v3 token (118 = 0x76); "1" is v2 token 0x35 */
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "1@lid"), "fa35fc036c6964");
	CHECK_EQ_STR(enc_str(WA_DICT_V3, "1@lid"), "fa5576");
}

TEST(empty_string_per_dict)
{
	CHECK_EQ_STR(enc_str(WA_DICT_V2, ""), "00");
	CHECK_EQ_STR(enc_str(WA_DICT_V3, ""), "fc00");
}

TEST(ping_iq_both_dicts)
{
	static const char *want[2] = { "00f80a1e08350efa00030431195ff801f80150",
		"00f80a19085511fa000304291657f801f80156" };
	int dicts[2] = { WA_DICT_V2, WA_DICT_V3 };

	for (int i = 0; i < 2; i++) {
		struct wa_node *iq = wa_node_new("iq"), *back = NULL;
		struct wa_jid to;
		struct ybuf b = YBUF_INIT(0), t = YBUF_INIT(0);

		int prc = wa_jid_parse("@s.whatsapp.net", 15, &to);
		REQUIRE(prc == 0);
		wa_node_add_attr(iq, "id", "1");
		wa_node_add_attr_jid(iq, "to", &to);
		wa_node_add_attr(iq, "type", "get");
		wa_node_add_attr(iq, "xmlns", "w:p");
		{
			struct wa_node *ping = wa_node_add_child(iq, "ping");
			REQUIRE(ping != NULL);
		}
		CHECK_EQ_INT(wa_binary_encode(iq, dicts[i], &b), 0);
		CHECK_EQ_STR(hex(b.data, b.len), want[i]);
		/* string "to" encodes the same as the typed JID */
		{
			struct wa_node *iq2 = wa_node_new("iq");
			struct ybuf b2 = YBUF_INIT(0);
			wa_node_add_attr(iq2, "id", "1");
			wa_node_add_attr(iq2, "to", "@s.whatsapp.net");
			wa_node_add_attr(iq2, "type", "get");
			wa_node_add_attr(iq2, "xmlns", "w:p");
			wa_node_add_child(iq2, "ping");
			CHECK_EQ_INT(wa_binary_encode(iq2, dicts[i], &b2), 0);
			CHECK(b2.len == b.len && memcmp(b2.data, b.data, b.len) == 0);
			ybuf_release(&b2);
			wa_node_free(iq2);
		}
		CHECK_EQ_INT(wa_binary_decode(b.data, b.len, dicts[i], &back), 0);
		REQUIRE(back != NULL);
		CHECK(wa_node_equal(iq, back));
		CHECK_EQ_INT(wa_node_to_text(back, &t), 0);
		CHECK_EQ_STR((char *)t.data,
			"<iq id=\"1\" to=\"@s.whatsapp.net\" type=\"get\" xmlns=\"w:p\"><ping/></iq>");
		CHECK(wa_node_child(back, "ping") != NULL);
		CHECK(wa_node_child(back, "pong") == NULL);
		CHECK_EQ_STR(wa_node_attr(back, "xmlns"), "w:p");
		{
			struct wa_jid j;
			uint64_t id = 0;
			CHECK_EQ_INT(wa_node_attr_jid(back, "to", &j), 0);
			CHECK_EQ_INT(j.kind, WA_JID_PAIR);
			CHECK_EQ_INT(j.user_len, 0);
			CHECK_EQ_INT(wa_node_attr_u64(back, "id", &id), 0);
			CHECK_EQ_INT(id, 1);
			CHECK_EQ_INT(wa_node_attr_u64(back, "type", &id), Y_EINVAL);
			CHECK_EQ_INT(wa_node_attr_jid(back, "nope", &j), Y_ENOTFOUND);
		}
		wa_node_free(back);
		wa_node_free(iq);
		ybuf_release(&b);
		ybuf_release(&t);
	}
}

/* Encodes a node with bytes content of n bytes; checks header and round trip. */
static void size_class(int dict, size_t n, const char *hdr)
{
	struct wa_node *m = wa_node_new("enc"), *back = NULL;
	struct ybuf b = YBUF_INIT(0);
	uint8_t *data = malloc(n + 1);
	size_t got;
	const uint8_t *p;

	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 7 + 1);
	wa_node_set_bytes(m, data, n);
	CHECK_EQ_INT(wa_binary_encode(m, dict, &b), 0);
	/* 00 F8 02 <enc token> <hdr> */
	CHECK_EQ_STR(hex(b.data + 4, strlen(hdr) / 2), hdr);
	CHECK_EQ_INT(wa_binary_decode(b.data, b.len, dict, &back), 0);
	if (back) {
		p = wa_node_bytes(back, &got);
		CHECK_EQ_INT(got, n);
		CHECK(p && memcmp(p, data, n) == 0);
		CHECK(wa_node_equal(m, back));
	}
	wa_node_free(back);
	wa_node_free(m);
	ybuf_release(&b);
	free(data);
}

TEST(bytes_size_classes)
{
	size_class(WA_DICT_V2, 0, "fc00");
	size_class(WA_DICT_V2, 255, "fcff");
	size_class(WA_DICT_V3, 256, "fd000100");
	size_class(WA_DICT_V3, (1 << 20) - 1, "fd0fffff");
	size_class(WA_DICT_V2, 1 << 20, "fe00100000");
}

TEST(list_size_classes)
{
	for (int k = 0; k < 3; k++) {
		size_t nk = k == 0 ? 0 : k == 1 ? 255 : 300;
		struct wa_node *root = wa_node_new("list"), *back = NULL;
		struct ybuf b = YBUF_INIT(0);

		if (nk == 0)
			wa_node_set_empty_list(root);
		for (size_t i = 0; i < nk; i++)
			wa_node_add_child(root, "item");
		CHECK_EQ_INT(wa_binary_encode(root, WA_DICT_V3, &b), 0);
		if (k == 0)
			CHECK_EQ_STR(hex(b.data + 4, 1), "00");
		else if (k == 1)
			CHECK_EQ_STR(hex(b.data + 4, 2), "f8ff");
		else
			CHECK_EQ_STR(hex(b.data + 4, 3), "f9012c");
		CHECK_EQ_INT(wa_binary_decode(b.data, b.len, WA_DICT_V3, &back), 0);
		CHECK(back && back->content == WA_CONTENT_LIST && back->nkids == nk);
		CHECK(back && wa_node_equal(root, back));
		wa_node_free(back);
		wa_node_free(root);
		ybuf_release(&b);
	}
	/* 300 attributes need LIST_16 for the node itself */
	{
		struct wa_node *n = wa_node_new("x"), *back = NULL;
		struct ybuf b = YBUF_INIT(0);
		char k[16];
		for (int i = 0; i < 300; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			wa_node_add_attr(n, k, "v");
		}
		CHECK_EQ_INT(wa_binary_encode(n, WA_DICT_V2, &b), 0);
		CHECK_EQ_STR(hex(b.data + 1, 3), "f90259");
		CHECK_EQ_INT(wa_binary_decode(b.data, b.len, WA_DICT_V2, &back), 0);
		CHECK(back && wa_node_equal(n, back));
		wa_node_free(back);
		wa_node_free(n);
		ybuf_release(&b);
	}
}

TEST(tokens_and_double_tokens)
{
	int table;
	unsigned idx;
	size_t len;

	CHECK(wa_tokens_lookup(WA_DICT_V2, "iq", 2, &table, &idx) && table == -1 && idx == 30);
	CHECK(wa_tokens_lookup(WA_DICT_V3, "iq", 2, &table, &idx) && table == -1 && idx == 25);
	CHECK(!wa_tokens_lookup(WA_DICT_V2, "lid", 3, &table, &idx));
	CHECK(wa_tokens_lookup(WA_DICT_V3, "lid", 3, &table, &idx) && idx == 118);
	CHECK(wa_tokens_lookup(WA_DICT_V3, "read-self", 9, &table, &idx) && table == 0 && idx == 0);
	CHECK(!wa_tokens_lookup(WA_DICT_V3, "", 0, &table, &idx));
	CHECK_EQ_STR(wa_tokens_single(WA_DICT_V3, 3, &len), "s.whatsapp.net");
	CHECK(wa_tokens_single(WA_DICT_V3, 0, &len) == NULL);
	CHECK(wa_tokens_single(WA_DICT_V3, 236, &len) == NULL);
	/* every token maps back to itself */
	for (int d = 2; d <= 3; d++) {
		int bad = 0;
		for (unsigned i = 1; i < 236; i++) {
			const char *s = wa_tokens_single(d, i, &len);
			if (!wa_tokens_lookup(d, s, len, &table, &idx) || table != -1 || idx != i)
				bad++;
		}
		for (unsigned t = 0; t < 4; t++)
			for (unsigned i = 0; i < 256; i++) {
				const char *s = wa_tokens_double(d, t, i, &len);
				if (!wa_tokens_lookup(d, s, len, &table, &idx) || table != (int)t || idx != i)
					bad++;
			}
		CHECK_EQ_INT(bad, 0);
	}
	CHECK_EQ_STR(enc_str(WA_DICT_V3, "read-self"), "ec00");
}

TEST(jid_parse_format)
{
	struct { const char *in; int kind, agent, dev; const char *user, *server; } ok[] = {
		{ "123@s.whatsapp.net", WA_JID_PAIR, 0, 0, "123", "s.whatsapp.net" },
		{ "@s.whatsapp.net", WA_JID_PAIR, 0, 0, "", "s.whatsapp.net" },
		{ "123:4@s.whatsapp.net", WA_JID_AD, 0, 4, "123", "s.whatsapp.net" },
		{ "123:0@s.whatsapp.net", WA_JID_AD, 0, 0, "123", "s.whatsapp.net" },
		{ "123:4@lid", WA_JID_AD, 1, 4, "123", "lid" },
		{ "123:4@hosted", WA_JID_AD, 128, 4, "123", "hosted" },
		{ "123:4@hosted.lid", WA_JID_AD, 129, 4, "123", "hosted.lid" },
		{ "123_7:4@s.whatsapp.net", WA_JID_AD, 7, 4, "123", "s.whatsapp.net" },
		{ "123@hosted", WA_JID_PAIR, 0, 0, "123", "hosted" },
		{ "1234-5678@g.us", WA_JID_PAIR, 0, 0, "1234-5678", "g.us" },
		{ "99:300@msgr", WA_JID_FB, 0, 300, "99", "msgr" },
	};
	const char *bad[] = { "", "abc", "a@", "a:x@s.whatsapp.net", "a:256@s.whatsapp.net",
		"a:1:2@s.whatsapp.net", "a_1@s.whatsapp.net", "a:1@g.us", "a@b@c", "x-1:2@interop" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct wa_jid j;
		char buf[64];
		int rc = wa_jid_parse(ok[i].in, strlen(ok[i].in), &j);
		CHECK_EQ_INT(rc, 0);
		if (rc)
			continue;
		CHECK_EQ_INT(j.kind, ok[i].kind);
		CHECK_EQ_INT(j.agent, ok[i].agent);
		CHECK_EQ_INT(j.device, ok[i].dev);
		CHECK(j.user_len == strlen(ok[i].user) && !memcmp(j.user, ok[i].user, j.user_len));
		CHECK(j.server_len == strlen(ok[i].server) && !memcmp(j.server, ok[i].server, j.server_len));
		CHECK(wa_jid_to_str(&j, buf, sizeof(buf)) > 0);
		if (strcmp(ok[i].in, "123:0@s.whatsapp.net"))
			CHECK_EQ_STR(buf, ok[i].in);
		else
			CHECK_EQ_STR(buf, "123@s.whatsapp.net"); /* device 0 is not printed */
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wa_jid j;
		CHECK_EQ_INT(wa_jid_parse(bad[i], strlen(bad[i]), &j), Y_EINVAL);
	}
	{
		struct wa_jid j;
		char buf[64];
		CHECK_EQ_INT(wa_jid_parse("5-77:3@interop", 14, &j), 0);
		CHECK_EQ_INT(j.kind, WA_JID_INTEROP);
		CHECK_EQ_INT(j.integrator, 5);
		CHECK(wa_jid_to_str(&j, buf, sizeof(buf)) > 0);
		CHECK_EQ_STR(buf, "5-77:3@interop");
		CHECK_EQ_INT(wa_jid_to_str(&j, buf, 5), Y_ETOOBIG);
	}
}

TEST(string_to_jid_rules_per_dict)
{
	/* Baileys 6 drops the agent; Baileys 7 uses it as the domain byte.
	 * "12" is a single-byte token: 0xae in v2, 0xcf in v3. */
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "12_5:2@s.whatsapp.net"), "f70002ae");
	CHECK_EQ_STR(enc_str(WA_DICT_V3, "12_5:2@s.whatsapp.net"), "f70502cf");
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "12:2@hosted"), "f70002ae");
	CHECK_EQ_STR(enc_str(WA_DICT_V3, "12:2@hosted"), "f78002cf");
	CHECK(strncmp(enc_str(WA_DICT_V3, "12@hosted"), "fa", 2) == 0); /* no device: JID_PAIR */
	/* ":0" is an AD_JID; "a:" has no device */
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "12:0@s.whatsapp.net"), "f70000ae");
	CHECK(strncmp(enc_str(WA_DICT_V2, "12:@s.whatsapp.net"), "fa", 2) == 0);
	/* an empty server cannot be decoded by anyone: kept raw */
	CHECK_EQ_STR(enc_str(WA_DICT_V2, "12@"), "fc03313240");
	/* decoding an AD_JID with agent 128: v2 (Baileys 6) says lid, v3 hosted */
	{
		static const uint8_t frame[] = { 0, 0xf8, 0x02, 0x0a, 0xf7, 0x80, 0x02, 0xff, 0x01, 0x12 };
		struct wa_node *n = NULL;
		CHECK_EQ_INT(wa_binary_decode(frame, sizeof(frame), WA_DICT_V2, &n), 0);
		CHECK(n && n->content == WA_CONTENT_VALUE && !strcmp(n->val.str, "12:2@lid"));
		wa_node_free(n);
		CHECK_EQ_INT(wa_binary_decode(frame, sizeof(frame), WA_DICT_V3, &n), 0);
		CHECK(n && !strcmp(n->val.str, "12:2@hosted"));
		wa_node_free(n);
	}
}

TEST(zlib_frames)
{
	struct wa_node *n = wa_node_new("message"), *back = NULL;
	struct ybuf b = YBUF_INIT(0);
	uint8_t z[4096], big[8192];
	uLongf zl = sizeof(z) - 1;
	uint8_t *tail;

	memset(big, 'a', sizeof(big));
	wa_node_add_attr(n, "id", "ABCDEF0123");
	wa_node_set_bytes(n, big, sizeof(big));
	{
		int erc = wa_binary_encode(n, WA_DICT_V3, &b);
		REQUIRE(erc == 0);
	}
	{
		int zrc = compress2(z + 1, &zl, b.data + 1, b.len - 1, 9);
		REQUIRE(zrc == Z_OK);
	}
	z[0] = WA_BINARY_FLAG_ZLIB;
	CHECK_EQ_INT(wa_binary_decode(z, zl + 1, WA_DICT_V3, &back), 0);
	CHECK(back && wa_node_equal(n, back));
	wa_node_free(back);
	CHECK_EQ_INT(wa_binary_decode(z, zl, WA_DICT_V3, &back), Y_ETRUNC);   /* cut */
	tail = z + zl + 1;
	*tail = 0;
	CHECK_EQ_INT(wa_binary_decode(z, zl + 2, WA_DICT_V3, &back), Y_EINVAL); /* trailing */
	z[3] ^= 0xff;
	CHECK(wa_binary_decode(z, zl + 1, WA_DICT_V3, &back) < 0);            /* corrupt */
	CHECK(back == NULL);
	wa_node_free(n);
	ybuf_release(&b);
}

TEST(zlib_bomb_is_capped)
{
	size_t n = WA_BINARY_MAX_INFLATE + 1024;
	uint8_t *plain = calloc(1, n);
	uLongf zl = compressBound(n);
	uint8_t *z = malloc(zl + 1);
	struct wa_node *back = NULL;

	REQUIRE(plain && z);
	{
		int zrc = compress2(z + 1, &zl, plain, n, 9);
		REQUIRE(zrc == Z_OK);
	}
	z[0] = 2;
	CHECK_EQ_INT(wa_binary_decode(z, zl + 1, WA_DICT_V2, &back), Y_ETOOBIG);
	CHECK(back == NULL);
	free(plain);
	free(z);
}

TEST(malformed_inputs)
{
	static const struct { const char *hex; int err; } cases[] = {
		{ "", Y_ETRUNC },                       /* no flags byte */
		{ "00", Y_ETRUNC },                     /* no node */
		{ "0000", Y_EINVAL },                   /* LIST_EMPTY as node */
		{ "00f800", Y_EINVAL },                 /* list size 0 */
		{ "00f8", Y_ETRUNC },
		{ "00f901", Y_ETRUNC },
		{ "00f80100", Y_EINVAL },               /* empty tag */
		{ "00f801f0", Y_EINVAL },               /* tag byte 240 unused */
		{ "00f801f8", Y_EINVAL },               /* list tag as string */
		{ "00f8011e1e", Y_EINVAL },             /* leftover byte */
		{ "00f8031e08", Y_ETRUNC },             /* attribute value missing */
		{ "00f8ff1e", Y_ETRUNC },               /* 127 attributes claimed */
		{ "00f8021ef8ff", Y_ETRUNC },           /* 255 children claimed */
		{ "00f8021ef9ffff", Y_ETRUNC },         /* 65535 children claimed */
		{ "00f8021efcff00", Y_ETRUNC },         /* bytes beyond input */
		{ "00f8021efd0fffff", Y_ETRUNC },
		{ "00f8021efeffffffff", Y_ETRUNC },
		{ "00f8021eec", Y_ETRUNC },             /* double token without index */
		{ "00f8021eff02", Y_ETRUNC },           /* packed body missing */
		{ "00f8021eff01cc", Y_EINVAL },         /* nibble 12 */
		{ "00f8021eff8112", Y_EINVAL },         /* odd length, pad is not F */
		{ "00f8021eff80", Y_EINVAL },           /* odd flag, zero length */
		{ "00f8021eff01f1", Y_EINVAL },         /* pad nibble inside */
		{ "00f8021efa0100", Y_EINVAL },         /* JID pair without server */
		{ "00f8021efa01", Y_ETRUNC },
		{ "00f8021ef70001", Y_ETRUNC },         /* AD JID without user */
		{ "00f8021ef600", Y_ETRUNC },           /* FB JID cut */
		{ "00f8021ef5010000", Y_ETRUNC },       /* interop JID cut */
		{ "00f802fa0003", Y_EINVAL },           /* JID as tag */
		{ "00f8031efa000308", Y_EINVAL },       /* JID as key */
		{ "02", Y_ETRUNC },                     /* zlib flag, no stream */
		{ "02ffff", Y_EINVAL },                 /* not zlib */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *p = NULL;
		long n = test_unhex(cases[i].hex, &p);
		struct wa_node *out = (struct wa_node *)1;
		int rc;

		REQUIRE(n >= 0);
		rc = wa_binary_decode(p, (size_t)n, WA_DICT_V3, &out);
		if (rc != cases[i].err)
			fprintf(stderr, "  case %zu (%s): got %d want %d\n", i, cases[i].hex, rc,
				cases[i].err);
		CHECK_EQ_INT(rc, cases[i].err);
		CHECK(out == NULL);
		free(p);
	}
}

TEST(deep_nesting_is_refused)
{
	/* 100 nested nodes: F8 02 <tok> F8 01 ... */
	struct ybuf b = YBUF_INIT(0);
	struct wa_node *out = NULL, *root = wa_node_new("a"), *cur = root;

	ybuf_append_byte(&b, 0);
	for (int i = 0; i < 100; i++) {
		uint8_t x[5] = { 0xf8, 0x02, 0x1e, 0xf8, 0x01 };
		ybuf_append(&b, x, 5);
	}
	ybuf_append(&b, "\xf8\x01\x1e", 3);
	CHECK_EQ_INT(wa_binary_decode(b.data, b.len, WA_DICT_V2, &out), Y_ETOOBIG);
	CHECK(out == NULL);
	for (int i = 0; i < 100; i++)
		cur = wa_node_add_child(cur, "a");
	ybuf_reset(&b);
	CHECK_EQ_INT(wa_binary_encode(root, WA_DICT_V2, &b), Y_ETOOBIG);
	wa_node_free(root);
	ybuf_release(&b);
}

TEST(builder_errors_and_text)
{
	struct wa_node *n = wa_node_new("message");
	struct ybuf b = YBUF_INIT(0), t = YBUF_INIT(0);
	uint8_t raw[40] = { 1, 2, 0xff };
	struct wa_node *enc;

	CHECK(wa_node_set_text(n, "x", 1) == 0);
	CHECK(wa_node_add_child(n, "enc") == NULL); /* content is a string */
	wa_node_free(n);
	n = wa_node_new("message");
	wa_node_add_attr_len(n, "q", 1, "a\"b\n", 4);
	enc = wa_node_add_child(n, "enc");
	wa_node_set_bytes(enc, raw, 3);
	wa_node_set_bytes(wa_node_add_child(n, "big"), raw, 40);
	CHECK_EQ_INT(wa_node_set_bytes(n, raw, 1), Y_EINVAL);
	CHECK_EQ_INT(wa_node_to_text(n, &t), 0);
	CHECK_EQ_STR((char *)t.data,
		"<message q=\"a\\x22b\\x0a\"><enc>{hex:0102ff}</enc><big>{bytes:40}</big></message>");
	wa_node_free(n);
	n = wa_node_new("");
	CHECK_EQ_INT(wa_binary_encode(n, WA_DICT_V2, &b), Y_EINVAL);
	wa_node_free(n);
	n = wa_node_new("a@b");
	CHECK_EQ_INT(wa_binary_encode(n, WA_DICT_V2, &b), Y_EINVAL);
	CHECK_EQ_INT(wa_binary_encode(n, 4, &b), Y_EINVAL);
	wa_node_free(n);
	wa_node_free(NULL);
	ybuf_release(&b);
	ybuf_release(&t);
}

TEST(accessors)
{
	struct wa_node *n = wa_node_new("list"), *back = NULL;
	struct ybuf b = YBUF_INIT(0), t = YBUF_INIT(0);
	char user[300];
	struct wa_jid j;
	size_t len = 99;
	uint64_t v = 0;

	memset(user, '7', sizeof(user) - 1);
	user[sizeof(user) - 1] = 0;
	wa_node_add_attr(n, "big", "18446744073709551615");
	wa_node_add_attr(n, "over", "18446744073709551616");
	wa_node_add_attr(n, "neg", "-1");
	for (int i = 0; i < 3; i++) {
		struct wa_node *c = wa_node_add_child(n, i == 1 ? "other" : "item");
		char id[4] = { (char)('a' + i), 0 };
		wa_node_add_attr(c, "id", id);
	}
	int rc = wa_binary_encode(n, WA_DICT_V3, &b); /* REQUIRE evaluates twice */
	REQUIRE(rc == 0);
	rc = wa_binary_decode(b.data, b.len, WA_DICT_V3, &back);
	REQUIRE(rc == 0);
	CHECK_EQ_INT(wa_node_attr_u64(back, "big", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ_INT(wa_node_attr_u64(back, "over", &v), Y_EINVAL);
	CHECK_EQ_INT(wa_node_attr_u64(back, "neg", &v), Y_EINVAL);
	CHECK_EQ_STR(wa_node_attr(wa_node_child_nth(back, "item", 1), "id"), "c");
	CHECK(wa_node_child_nth(back, "item", 2) == NULL);
	CHECK_EQ_STR(wa_node_attr(wa_node_child(back, "other"), "id"), "b");
	CHECK(wa_node_bytes(back, &len) == NULL && len == 0);
	CHECK(wa_node_attr_val(back, "missing") == NULL);
	CHECK(wa_node_is(back, "list") && !wa_node_is(back, "lis"));
	/* a long user takes the heap path of wa_jid_format */
	rc = wa_jid_parse("x@s.whatsapp.net", 16, &j);
	REQUIRE(rc == 0);
	j.user = user;
	j.user_len = (uint32_t)strlen(user);
	CHECK_EQ_INT(wa_jid_format(&j, &t), 0);
	CHECK_EQ_INT(t.len, 299 + 15);
	CHECK(t.data && !memcmp(t.data + 299, "@s.whatsapp.net", 15));
	wa_node_free(back);
	wa_node_free(n);
	ybuf_release(&b);
	ybuf_release(&t);
}

TEST(tree_memory_is_capped)
{
	/* 2000 children with 20 attributes each: ~84 KB in, a few MB of tree */
	struct wa_node *n = wa_node_new("list"), *back = NULL;
	struct ybuf b = YBUF_INIT(0);
	int rc;

	for (int i = 0; i < 2000; i++) {
		struct wa_node *c = wa_node_add_child(n, "item");
		for (int k = 0; k < 20; k++)
			wa_node_add_attr(c, k % 2 ? "id" : "type", "get");
	}
	rc = wa_binary_encode(n, WA_DICT_V2, &b);
	REQUIRE(rc == 0);
	CHECK_EQ_INT(wa_binary_decode_limited(b.data, b.len, WA_DICT_V2, 1 << 20, &back), Y_ETOOBIG);
	CHECK(back == NULL);
	CHECK_EQ_INT(wa_binary_decode(b.data, b.len, WA_DICT_V2, &back), 0);
	CHECK(back && wa_node_equal(n, back));
	wa_node_free(back);
	wa_node_free(n);
	ybuf_release(&b);
}

int main(void)
{
	RUN(packed_and_jid_vectors);
	RUN(empty_string_per_dict);
	RUN(ping_iq_both_dicts);
	RUN(bytes_size_classes);
	RUN(list_size_classes);
	RUN(tokens_and_double_tokens);
	RUN(jid_parse_format);
	RUN(string_to_jid_rules_per_dict);
	RUN(zlib_frames);
	RUN(zlib_bomb_is_capped);
	RUN(malformed_inputs);
	RUN(deep_nesting_is_refused);
	RUN(builder_errors_and_text);
	RUN(accessors);
	RUN(tree_memory_is_capped);
	return test_summary();
}
