/*
 * wa-signal: one Signal endpoint of ours (src/wa/signal.h over an in-memory
 * store) driven by line-oriented JSON on stdin, for the Node interop tests
 * (tests/interop/signal.test.mjs). One request per line, one reply per line:
 *   {"cmd":"init","user":"111","server":"s.whatsapp.net","device":0,"prekeys":5}
 *   {"cmd":"bundle","prekey_id":1}            -> the wire parts of our bundle
 *   {"cmd":"session","user":..,"server":..,"device":..,"bundle":{wire parts}}
 *   {"cmd":"encrypt","user":..,"server":..,"device":..,"plaintext":hex}
 *   {"cmd":"decrypt","user":..,"server":..,"device":..,"type":"pkmsg","ciphertext":hex}
 *   {"cmd":"has_session", address}
 *   {"cmd":"prekey_count"}
 *   {"cmd":"sign","data":hex}                 -> XEdDSA with our identity key
 *   {"cmd":"verify","pub":hex,"data":hex,"sig":hex}
 *   {"cmd":"skdm","group":g}                  -> our sender key distribution message
 *   {"cmd":"group_encrypt","group":g,"plaintext":hex}
 *   {"cmd":"process_skdm","group":g, address, "skdm":hex}
 *   {"cmd":"group_decrypt","group":g, address, "ciphertext":hex}
 *   {"cmd":"pad","plaintext":hex} / {"cmd":"unpad","data":hex}
 *   {"cmd":"address","user":u,"server":s,"agent":n,"device":d,"style":"domain"|"user"}
 * Replies are {"ok":true,...} or {"ok":false,"error":"<y_strerror>"}.
 * Bytes travel as lowercase hex. Exits at end of input.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "wa/crypto.h"
#include "wa/signal.h"
#include "wa/signal_store.h"

#define LINE_MAX_BYTES (16u << 20)

static struct wa_signal_identity self_id;
static struct wa_signal_store *store;
static struct wa_signal *sig;
static struct wa_signal_addr self_addr;
static size_t n_prekeys;

static char *hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);

	if (!s)
		abort();
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = 0;
	return s;
}

static int unhex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the hex string field `key` of o into *out (caller frees). */
static int get_bytes(json_t *o, const char *key, uint8_t **out, size_t *n)
{
	const char *s = json_string_value(json_object_get(o, key));
	size_t len;

	*out = NULL;
	*n = 0;
	if (!s)
		return Y_EINVAL;
	len = strlen(s);
	if (len % 2)
		return Y_EINVAL;
	*out = malloc(len / 2 + 1);
	if (!*out)
		return Y_ENOMEM;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = unhex_nibble(s[2 * i]), lo = unhex_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(*out);
			*out = NULL;
			return Y_EINVAL;
		}
		(*out)[i] = (uint8_t)(hi << 4 | lo);
	}
	*n = len / 2;
	return 0;
}

static void set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char *h = hex(p, n);
	json_object_set_new(o, key, json_string(h));
	free(h);
}

static int get_addr(json_t *req, struct wa_signal_addr *a)
{
	const char *user = json_string_value(json_object_get(req, "user"));
	const char *server = json_string_value(json_object_get(req, "server"));
	json_int_t dev = json_integer_value(json_object_get(req, "device"));

	if (dev < 0 || dev > INT32_MAX)
		return Y_EINVAL;
	return wa_signal_address(a, user, server ? server : "s.whatsapp.net", 0, (uint32_t)dev,
				 WA_SIGNAL_ADDR_DOMAIN);
}

static int cmd_init(json_t *req, json_t *rep)
{
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey *pks = NULL;
	json_int_t n = json_integer_value(json_object_get(req, "prekeys"));
	json_t *arr;
	int rc;

	if (sig || n < 0 || n > 1000)
		return Y_EINVAL;
	rc = get_addr(req, &self_addr);
	if (!rc)
		rc = wa_signal_identity_generate(&self_id);
	if (rc)
		return rc;
	store = wa_signal_memstore_new();
	sig = store ? wa_signal_new(&self_id, store) : NULL;
	pks = calloc((size_t)n + 1, sizeof *pks);
	if (!sig || !pks) {
		free(pks);
		return Y_ENOMEM;
	}
	rc = wa_signal_gen_signed_prekey(sig, 1, &spk);
	if (!rc)
		rc = wa_signal_gen_prekeys(sig, 1, (size_t)n, pks);
	if (rc) {
		free(pks);
		return rc;
	}
	n_prekeys = (size_t)n;
	set_hex(rep, "identity", self_id.pub, 32);
	json_object_set_new(rep, "registration_id", json_integer(self_id.registration_id));
	json_object_set_new(rep, "name", json_string(self_addr.name));
	json_object_set_new(rep, "spk", json_pack("{s:i}", "id", (json_int_t)spk.id));
	set_hex(json_object_get(rep, "spk"), "pub", spk.pub, 32);
	set_hex(json_object_get(rep, "spk"), "sig", spk.sig, 64);
	arr = json_array();
	for (size_t i = 0; i < (size_t)n; i++) {
		json_t *k = json_pack("{s:i}", "id", (json_int_t)pks[i].id);
		set_hex(k, "pub", pks[i].pub, 32);
		json_array_append_new(arr, k);
	}
	json_object_set_new(rep, "prekeys", arr);
	free(pks);
	return 0;
}

static int cmd_bundle(json_t *req, json_t *rep)
{
	struct wa_signal_bundle b;
	json_int_t pk = json_integer_value(json_object_get(req, "prekey_id"));
	uint8_t reg[4], sid[3], kid[3], type = 5;
	json_t *w;
	int rc = wa_signal_own_bundle(sig, 1, (uint32_t)pk, &b);

	if (rc)
		return rc;
	wa_signal_put_be32(reg, b.registration_id);
	wa_signal_put_be24(sid, b.skey.id);
	w = json_object();
	set_hex(w, "registration", reg, 4);
	set_hex(w, "type", &type, 1);
	set_hex(w, "identity", b.identity, 32);
	set_hex(w, "skey_id", sid, 3);
	set_hex(w, "skey_value", b.skey.pub, 32);
	set_hex(w, "skey_signature", b.skey.sig, 64);
	if (b.has_prekey) {
		wa_signal_put_be24(kid, b.key.id);
		set_hex(w, "key_id", kid, 3);
		set_hex(w, "key_value", b.key.pub, 32);
	}
	json_object_set_new(rep, "bundle", w);
	return 0;
}

static int cmd_session(json_t *req, json_t *rep)
{
	static const char *names[8] = { "registration", "type", "identity", "skey_id",
					"skey_value", "skey_signature", "key_id", "key_value" };
	json_t *jb = json_object_get(req, "bundle");
	uint8_t *p[8] = { 0 };
	size_t n[8] = { 0 };
	struct wa_signal_bundle_wire w;
	struct wa_signal_bundle b;
	struct wa_signal_addr a;
	int rc = get_addr(req, &a);

	(void)rep;
	for (int i = 0; !rc && i < 8; i++)
		if (json_object_get(jb, names[i]))
			rc = get_bytes(jb, names[i], &p[i], &n[i]);
	if (rc)
		goto out;
	w = (struct wa_signal_bundle_wire){ p[0], n[0], p[1], n[1], p[2], n[2], p[3], n[3],
					    p[4], n[4], p[5], n[5], p[6], n[6], p[7], n[7] };
	rc = wa_signal_bundle_parse(&b, &w);
	if (!rc)
		rc = wa_signal_session_from_bundle(sig, &a, &b);
out:
	for (int i = 0; i < 8; i++)
		free(p[i]);
	return rc;
}

static int cmd_encrypt(json_t *req, json_t *rep)
{
	struct wa_signal_addr a;
	uint8_t *pt = NULL, *ct = NULL;
	size_t ptn, ctn;
	enum wa_signal_type t;
	int rc = get_addr(req, &a);

	if (!rc)
		rc = get_bytes(req, "plaintext", &pt, &ptn);
	if (!rc)
		rc = wa_signal_encrypt(sig, &a, pt, ptn, &t, &ct, &ctn);
	if (!rc) {
		json_object_set_new(rep, "type", json_string(wa_signal_type_name(t)));
		set_hex(rep, "ciphertext", ct, ctn);
	}
	free(pt);
	free(ct);
	return rc;
}

static int cmd_decrypt(json_t *req, json_t *rep)
{
	struct wa_signal_addr a;
	uint8_t *pt = NULL, *ct = NULL;
	size_t ptn, ctn;
	enum wa_signal_type t;
	int rc = get_addr(req, &a);

	if (!rc)
		rc = wa_signal_type_parse(json_string_value(json_object_get(req, "type")), &t);
	if (!rc)
		rc = get_bytes(req, "ciphertext", &ct, &ctn);
	if (!rc)
		rc = wa_signal_decrypt(sig, &a, t, ct, ctn, &pt, &ptn);
	if (!rc)
		set_hex(rep, "plaintext", pt, ptn);
	free(pt);
	free(ct);
	return rc;
}

static int cmd_has_session(json_t *req, json_t *rep)
{
	struct wa_signal_addr a;
	int rc = get_addr(req, &a);

	if (!rc)
		rc = wa_signal_has_session(sig, &a);
	if (rc < 0)
		return rc;
	json_object_set_new(rep, "has_session", json_boolean(rc == 1));
	return 0;
}

static int cmd_sign(json_t *req, json_t *rep)
{
	uint8_t *data = NULL, s[64];
	size_t n;
	int rc = get_bytes(req, "data", &data, &n);

	if (!rc)
		rc = wa_xeddsa_sign(s, self_id.priv, data, n);
	if (!rc)
		set_hex(rep, "sig", s, 64);
	free(data);
	return rc;
}

static int cmd_verify(json_t *req, json_t *rep)
{
	uint8_t *pub = NULL, *data = NULL, *s = NULL;
	size_t pn, dn, sn;
	int rc = get_bytes(req, "pub", &pub, &pn);

	if (!rc)
		rc = get_bytes(req, "data", &data, &dn);
	if (!rc)
		rc = get_bytes(req, "sig", &s, &sn);
	if (!rc && (pn != 32 || sn != 64))
		rc = Y_EINVAL;
	if (!rc)
		json_object_set_new(rep, "valid", json_boolean(wa_xeddsa_verify(pub, data, dn, s) == 0));
	free(pub);
	free(data);
	free(s);
	return rc;
}

static int cmd_group(json_t *req, json_t *rep, const char *cmd)
{
	const char *group = json_string_value(json_object_get(req, "group"));
	struct wa_signal_addr a;
	uint8_t *in = NULL, *out = NULL;
	size_t inn = 0, outn = 0;
	int rc = 0;

	if (!strcmp(cmd, "skdm")) {
		rc = wa_signal_group_create_skdm(sig, group, &self_addr, &out, &outn);
		if (!rc)
			set_hex(rep, "skdm", out, outn);
	} else if (!strcmp(cmd, "group_encrypt")) {
		rc = get_bytes(req, "plaintext", &in, &inn);
		if (!rc)
			rc = wa_signal_group_encrypt(sig, group, &self_addr, in, inn, &out, &outn);
		if (!rc)
			set_hex(rep, "ciphertext", out, outn);
	} else if (!strcmp(cmd, "process_skdm")) {
		rc = get_addr(req, &a);
		if (!rc)
			rc = get_bytes(req, "skdm", &in, &inn);
		if (!rc)
			rc = wa_signal_group_process_skdm(sig, group, &a, in, inn);
	} else {
		rc = get_addr(req, &a);
		if (!rc)
			rc = get_bytes(req, "ciphertext", &in, &inn);
		if (!rc)
			rc = wa_signal_group_decrypt(sig, group, &a, in, inn, &out, &outn);
		if (!rc)
			set_hex(rep, "plaintext", out, outn);
	}
	free(in);
	free(out);
	return rc;
}

static int cmd_pad(json_t *req, json_t *rep, int unpad)
{
	uint8_t *in = NULL, *out = NULL;
	size_t inn, outn;
	int rc = get_bytes(req, unpad ? "data" : "plaintext", &in, &inn);

	if (!rc && unpad) {
		rc = wa_signal_unpad(in, inn, &outn);
		if (!rc)
			set_hex(rep, "plaintext", in, outn);
	} else if (!rc) {
		rc = wa_signal_pad(in, inn, &out, &outn);
		if (!rc)
			set_hex(rep, "data", out, outn);
	}
	free(in);
	free(out);
	return rc;
}

static int cmd_address(json_t *req, json_t *rep)
{
	const char *style = json_string_value(json_object_get(req, "style"));
	json_int_t agent = json_integer_value(json_object_get(req, "agent"));
	json_int_t dev = json_integer_value(json_object_get(req, "device"));
	struct wa_signal_addr a;
	int rc;

	if (!style || agent < 0 || agent > 255 || dev < 0 || dev > UINT32_MAX)
		return Y_EINVAL;
	rc = wa_signal_address(&a, json_string_value(json_object_get(req, "user")),
			       json_string_value(json_object_get(req, "server")), (uint8_t)agent,
			       (uint32_t)dev,
			       !strcmp(style, "user") ? WA_SIGNAL_ADDR_USER_ONLY : WA_SIGNAL_ADDR_DOMAIN);
	if (rc)
		return rc;
	json_object_set_new(rep, "name", json_string(a.name));
	json_object_set_new(rep, "device", json_integer(a.device));
	return 0;
}

static int dispatch(json_t *req, json_t *rep)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (!cmd)
		return Y_EINVAL;
	if (!strcmp(cmd, "init"))
		return cmd_init(req, rep);
	if (!strcmp(cmd, "pad") || !strcmp(cmd, "unpad"))
		return cmd_pad(req, rep, !strcmp(cmd, "unpad"));
	if (!strcmp(cmd, "verify"))
		return cmd_verify(req, rep);
	if (!strcmp(cmd, "address"))
		return cmd_address(req, rep);
	if (!sig)
		return Y_ESTATE;
	if (!strcmp(cmd, "bundle"))
		return cmd_bundle(req, rep);
	if (!strcmp(cmd, "session"))
		return cmd_session(req, rep);
	if (!strcmp(cmd, "encrypt"))
		return cmd_encrypt(req, rep);
	if (!strcmp(cmd, "decrypt"))
		return cmd_decrypt(req, rep);
	if (!strcmp(cmd, "has_session"))
		return cmd_has_session(req, rep);
	if (!strcmp(cmd, "prekey_count")) {
		json_object_set_new(rep, "count",
				    json_integer((json_int_t)wa_signal_memstore_count(store, WA_SIGNAL_PREKEY)));
		return 0;
	}
	if (!strcmp(cmd, "sign"))
		return cmd_sign(req, rep);
	if (!strcmp(cmd, "skdm") || !strcmp(cmd, "group_encrypt") || !strcmp(cmd, "process_skdm") ||
	    !strcmp(cmd, "group_decrypt"))
		return cmd_group(req, rep, cmd);
	return Y_EUNSUPPORTED;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		json_error_t jerr;
		json_t *req, *rep = json_object();
		char *out;
		int rc;

		if ((size_t)len > LINE_MAX_BYTES)
			rc = Y_ETOOBIG;
		else if (!(req = json_loadb(line, (size_t)len, 0, &jerr)))
			rc = Y_EINVAL;
		else {
			rc = dispatch(req, rep);
			json_decref(req);
		}
		if (rc) {
			json_decref(rep);
			rep = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", y_strerror(rc), "code", rc);
		} else {
			json_object_set_new(rep, "ok", json_true());
		}
		out = json_dumps(rep, JSON_COMPACT);
		printf("%s\n", out);
		fflush(stdout);
		free(out);
		json_decref(rep);
	}
	free(line);
	wa_signal_free(sig);
	wa_signal_store_free(store);
	return 0;
}
