/*
 * Bridge between the Node interop tests (tests/interop/codec.test.mjs) and
 * the C node codec. One process serves many requests, one per line:
 *
 *   D <dict> <hex>          decode a frame (flags byte first)
 *                           -> "OK <hex of our re-encoding> <json>" | "ERR <code>"
 *   E <dict> <json>         encode a node given in canonical JSON (strings only)
 *                           -> "OK <hex>" | "ERR <code>"
 *   G <dict> <seed> <n>     n random nodes with typed JIDs, made here
 *                           -> n lines "N <exact> <hex> <json>", then "END"
 *                              (exact = 0 when the tree holds a form Baileys
 *                              decodes but re-encodes differently)
 *
 * Canonical JSON of a node, the same on both sides:
 *   {"tag":s,"attrs":[[k,v],...],"content":null|{"list":[..]}|{"bytes":hex}|{"str":s}}
 * JIDs are printed as Baileys prints them (no agent in AD JIDs).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/binary.h"

static int unhex(const char *s, size_t n, struct ybuf *out)
{
	if (n % 2)
		return Y_EINVAL;
	for (size_t i = 0; i < n; i += 2) {
		unsigned v;
		char two[3] = { s[i], s[i + 1], 0 };
		if (sscanf(two, "%2x", &v) != 1)
			return Y_EINVAL;
		ybuf_append_byte(out, (uint8_t)v);
	}
	return 0;
}

static void put_hex(struct ybuf *o, const uint8_t *p, size_t n)
{
	static const char h[] = "0123456789abcdef";

	ybuf_reserve(o, n * 2);
	for (size_t i = 0; i < n; i++) {
		char c[2] = { h[p[i] >> 4], h[p[i] & 15] };
		ybuf_append(o, c, 2);
	}
}

static void put_jstr(struct ybuf *o, const char *s, size_t n)
{
	size_t start = 0;

	ybuf_append_byte(o, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		ybuf_append(o, s + start, i - start);
		ybuf_printf(o, "\\u%04x", c);
		start = i + 1;
	}
	ybuf_append(o, s + start, n - start);
	ybuf_append_byte(o, '"');
}

static void put_val(struct ybuf *o, const struct wa_val *v)
{
	if (v->type == WA_VAL_JID) {
		struct wa_jid j = v->jid;
		struct ybuf t = YBUF_INIT(0);
		if (j.kind == WA_JID_AD)
			j.agent = 0; /* Baileys never prints the agent */
		wa_jid_format(&j, &t);
		put_jstr(o, (const char *)t.data, t.len);
		ybuf_release(&t);
	} else {
		put_jstr(o, v->str, v->len);
	}
}

static void put_json(struct ybuf *o, const struct wa_node *n)
{
	ybuf_append_str(o, "{\"tag\":");
	put_jstr(o, n->tag, n->tag_len);
	ybuf_append_str(o, ",\"attrs\":[");
	for (uint32_t i = 0; i < n->nattrs; i++) {
		ybuf_append_str(o, i ? ",[" : "[");
		put_jstr(o, n->attrs[i].key, n->attrs[i].key_len);
		ybuf_append_byte(o, ',');
		put_val(o, &n->attrs[i].val);
		ybuf_append_byte(o, ']');
	}
	ybuf_append_str(o, "],\"content\":");
	switch (n->content) {
	case WA_CONTENT_NONE:
		ybuf_append_str(o, "null");
		break;
	case WA_CONTENT_LIST:
		ybuf_append_str(o, "{\"list\":[");
		for (uint32_t i = 0; i < n->nkids; i++) {
			if (i)
				ybuf_append_byte(o, ',');
			put_json(o, n->kids[i]);
		}
		ybuf_append_str(o, "]}");
		break;
	case WA_CONTENT_BYTES:
		ybuf_append_str(o, "{\"bytes\":\"");
		put_hex(o, n->bytes, n->nbytes);
		ybuf_append_str(o, "\"}");
		break;
	default:
		ybuf_append_str(o, "{\"str\":");
		put_val(o, &n->val);
		ybuf_append_byte(o, '}');
	}
	ybuf_append_byte(o, '}');
}

/* Fills n (tag already set) from canonical JSON. */
static int from_json(struct wa_node *n, json_t *j)
{
	json_t *attrs = json_object_get(j, "attrs"), *c = json_object_get(j, "content");
	size_t i;
	json_t *pair, *x;
	int rc = 0;

	json_array_foreach(attrs, i, pair) {
		json_t *k = json_array_get(pair, 0), *v = json_array_get(pair, 1);
		if (!json_is_string(k) || !json_is_string(v))
			return Y_EINVAL;
		rc = wa_node_add_attr_len(n, json_string_value(k), json_string_length(k),
			json_string_value(v), json_string_length(v));
		if (rc)
			return rc;
	}
	if (!c || json_is_null(c))
		return 0;
	if ((x = json_object_get(c, "list"))) {
		json_t *kid;
		rc = wa_node_set_empty_list(n);
		json_array_foreach(x, i, kid) {
			json_t *t = json_object_get(kid, "tag");
			struct wa_node *k;
			if (!json_is_string(t))
				return Y_EINVAL;
			k = wa_node_add_child(n, json_string_value(t));
			if (!k)
				return Y_ENOMEM;
			rc = from_json(k, kid);
			if (rc)
				return rc;
		}
		return rc;
	}
	if ((x = json_object_get(c, "bytes"))) {
		struct ybuf b = YBUF_INIT(0);
		rc = unhex(json_string_value(x), json_string_length(x), &b);
		if (!rc)
			rc = wa_node_set_bytes(n, b.data, b.len);
		ybuf_release(&b);
		return rc;
	}
	if ((x = json_object_get(c, "str")))
		return wa_node_set_text(n, json_string_value(x), json_string_length(x));
	return Y_EINVAL;
}

/* ---- random nodes with typed JIDs (G) ---- */

static uint64_t rs;

static uint32_t rnd(uint32_t n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return n ? (uint32_t)(rs % n) : 0;
}

static const char *const names[] = { "iq", "message", "receipt", "enc", "participants",
	"to", "user", "device", "list", "ping", "zzz", "my-tag", "a.b", "x_y", "notification" };
static const char *const keys[] = { "id", "type", "to", "from", "t", "xmlns", "v", "count",
	"participant", "recipient", "k-1", "key_x", "mediatype", "phash", "notify" };

static void rand_str(char *buf, size_t cap, size_t *len)
{
	static const char *const pick[] = { "get", "set", "result", "w:p", "s.whatsapp.net",
		"12345", "1.2-3", "ABCDEF09", "abcdef", "Hello, world!", "h\xc3\xa9llo \xe2\x9c\x93",
		"", "lid", "read-self", "2:47DEQpj8", "quote\"back\\slash", "tab\there" };
	uint32_t r = rnd(10);

	if (r < 7) {
		snprintf(buf, cap, "%s", pick[rnd(sizeof(pick) / sizeof(pick[0]))]);
	} else if (r < 9) {
		size_t n = rnd(200) + 1, i;
		for (i = 0; i < n && i + 1 < cap; i++)
			buf[i] = "0123456789-.ABCDEFabcxyz _:"[rnd(r == 7 ? 12 : 27)];
		buf[i] = 0;
	} else {
		size_t n = rnd(cap - 1), i;
		for (i = 0; i < n; i++)
			buf[i] = (char)('a' + rnd(26));
		buf[i] = 0;
	}
	*len = strlen(buf);
}

/* A random typed JID Baileys can decode; *exact = 0 if Baileys' re-encoding
 * of its text differs from ours (device 0 AD, raw agents, FB, interop). */
static void rand_jid(int dict, struct wa_jid *j, char *ubuf, int *exact)
{
	static const char *const users[] = { "15550001111", "", "123456789012345", "1234-5678",
		"status", "abc", "0" };
	uint32_t r = rnd(dict == WA_DICT_V3 ? 10 : 6);

	memset(j, 0, sizeof(*j));
	strcpy(ubuf, users[rnd(sizeof(users) / sizeof(users[0]))]);
	j->user = ubuf;
	j->user_len = (uint32_t)strlen(ubuf);
	j->server = "s.whatsapp.net";
	switch (r) {
	case 0:
	case 1: {
		static const char *const srv[] = { "s.whatsapp.net", "g.us", "lid", "broadcast",
			"newsletter", "hosted", "c.us" };
		j->kind = WA_JID_PAIR;
		j->server = srv[rnd(7)];
		break;
	}
	case 2:
	case 3:
	case 4:
	case 5:
		j->kind = WA_JID_AD;
		j->device = (uint16_t)rnd(256);
		if (dict == WA_DICT_V2) {
			j->agent = (uint8_t)(r % 2);
		} else {
			static const uint8_t ag[] = { 0, 1, 128, 129 };
			j->agent = ag[rnd(4)];
		}
		j->server = wa_jid_ad_server(dict, j->agent);
		if (!j->device)
			*exact = 0;
		break;
	case 6:
		j->kind = WA_JID_AD;
		j->agent = (uint8_t)(2 + rnd(120));
		j->device = (uint16_t)rnd(256);
		j->server = wa_jid_ad_server(dict, j->agent);
		*exact = 0;
		break;
	case 7:
	case 8:
		j->kind = WA_JID_FB;
		j->device = (uint16_t)rnd(65536);
		j->server = "msgr";
		*exact = 0;
		break;
	default:
		j->kind = WA_JID_INTEROP;
		j->device = (uint16_t)rnd(65536);
		j->integrator = (uint16_t)rnd(65536);
		j->server = "interop";
		*exact = 0;
		break;
	}
	if (j->kind == WA_JID_PAIR && j->user_len == 0 && rnd(2))
		j->server = "s.whatsapp.net";
	j->server_len = (uint32_t)strlen(j->server);
}

static void rand_fill(struct wa_node *n, int dict, int depth, int *exact)
{
	int na = (int)rnd(5), used = 0;
	char buf[512], ubuf[32];
	size_t len;
	uint32_t c;

	for (int i = 0; i < na; i++) {
		uint32_t k = rnd(sizeof(keys) / sizeof(keys[0]));
		struct wa_jid j;
		if (used & (1 << k))
			continue;
		used |= 1 << k;
		if (rnd(3) == 0) {
			rand_jid(dict, &j, ubuf, exact);
			wa_node_add_attr_jid(n, keys[k], &j);
		} else {
			rand_str(buf, sizeof(buf), &len);
			wa_node_add_attr_len(n, keys[k], strlen(keys[k]), buf, len);
		}
	}
	c = rnd(depth >= 4 ? 4 : 5);
	if (c == 0) {
		return;
	} else if (c == 1) {
		static const size_t sizes[] = { 0, 1, 31, 255, 256, 300, 4000, 70000 };
		size_t sz = sizes[rnd(8)];
		uint8_t *b;
		if (sz == 70000 && rnd(4))
			sz = 100;
		if (rnd(400) == 0)
			sz = (1 << 20) + rnd(10);
		b = malloc(sz + 1);
		for (size_t i = 0; i < sz; i++)
			b[i] = (uint8_t)rnd(256);
		wa_node_set_bytes(n, b, sz);
		free(b);
	} else if (c == 2) {
		rand_str(buf, sizeof(buf), &len);
		/* a raw string content comes back from Baileys as bytes: keep it
		 * to forms that decode as strings (token, packed, JID) */
		struct wa_jid j;
		if (rnd(2)) {
			rand_jid(dict, &j, ubuf, exact);
			wa_node_set_jid(n, &j);
		} else {
			static const char *const s[] = { "get", "1.2-3", "ABCDEF", "12345678901234567890" };
			const char *p = s[rnd(4)];
			wa_node_set_text(n, p, strlen(p));
		}
	} else if (c == 3) {
		wa_node_set_empty_list(n);
	} else {
		int nk = (int)rnd(6) + 1;
		for (int i = 0; i < nk; i++) {
			struct wa_node *k = wa_node_add_child(n, names[rnd(sizeof(names) / sizeof(names[0]))]);
			rand_fill(k, dict, depth + 1, exact);
		}
	}
}

static void reply(struct ybuf *o)
{
	ybuf_append_byte(o, '\n');
	fwrite(o->data, 1, o->len, stdout);
	fflush(stdout);
	ybuf_reset(o);
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct ybuf o = YBUF_INIT(0);

	while ((n = getline(&line, &cap, stdin)) > 0) {
		int dict, rc;
		char *sp;

		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n < 4)
			continue;
		dict = line[2] - '0';
		sp = line + 4;
		if (line[0] == 'D') {
			struct ybuf in = YBUF_INIT(0), enc = YBUF_INIT(0);
			struct wa_node *node = NULL;
			rc = unhex(sp, strlen(sp), &in);
			if (!rc)
				rc = wa_binary_decode(in.data ? in.data : (const uint8_t *)"", in.len, dict, &node);
			if (!rc)
				rc = wa_binary_encode(node, dict, &enc);
			if (rc) {
				ybuf_printf(&o, "ERR %d", rc);
			} else {
				ybuf_append_str(&o, "OK ");
				put_hex(&o, enc.data, enc.len);
				ybuf_append_byte(&o, ' ');
				put_json(&o, node);
			}
			wa_node_free(node);
			ybuf_release(&in);
			ybuf_release(&enc);
			reply(&o);
		} else if (line[0] == 'E') {
			json_error_t err;
			json_t *j = json_loads(sp, JSON_ALLOW_NUL, &err);
			json_t *t = j ? json_object_get(j, "tag") : NULL;
			struct wa_node *node = t ? wa_node_new(json_string_value(t)) : NULL;
			struct ybuf enc = YBUF_INIT(0);
			rc = node ? from_json(node, j) : Y_EINVAL;
			if (!rc)
				rc = wa_binary_encode(node, dict, &enc);
			if (rc) {
				ybuf_printf(&o, "ERR %d", rc);
			} else {
				ybuf_append_str(&o, "OK ");
				put_hex(&o, enc.data, enc.len);
			}
			wa_node_free(node);
			json_decref(j);
			ybuf_release(&enc);
			reply(&o);
		} else if (line[0] == 'G') {
			unsigned long long seed = 0;
			int count = 0;
			if (sscanf(sp, "%llu %d", &seed, &count) != 2)
				count = 0;
			rs = seed * 0x9E3779B97F4A7C15ull + 1;
			for (int i = 0; i < count; i++) {
				struct wa_node *node = wa_node_new(names[rnd(sizeof(names) / sizeof(names[0]))]);
				struct ybuf enc = YBUF_INIT(0);
				int exact = 1;
				rand_fill(node, dict, 0, &exact);
				rc = wa_binary_encode(node, dict, &enc);
				if (rc) {
					ybuf_printf(&o, "ERR %d", rc);
				} else {
					ybuf_printf(&o, "N %d ", exact);
					put_hex(&o, enc.data, enc.len);
					ybuf_append_byte(&o, ' ');
					put_json(&o, node);
				}
				reply(&o);
				wa_node_free(node);
				ybuf_release(&enc);
			}
			ybuf_append_str(&o, "END");
			reply(&o);
		}
	}
	free(line);
	ybuf_release(&o);
	return 0;
}
