/*
 * Unit tests for src/sim/: phone number normalisation, the QR parser, and
 * the control API handler called directly (no sockets involved beyond the
 * listener sim_new opens on an ephemeral port).
 */
#include <jansson.h>

#include "sim/sim_int.h"
#include "test.h"
#include "util/err.h"
#include "util/log.h"

TEST(normalises_phone_numbers)
{
	char out[SIM_PHONE_MAX + 1];

	CHECK(sim_phone_norm("+15550001111", out) == Y_OK && !strcmp(out, "15550001111"));
	CHECK(sim_phone_norm("15550001111", out) == Y_OK && !strcmp(out, "15550001111"));
	CHECK(sim_phone_norm("123456789012345", out) == Y_OK);
	CHECK(sim_phone_norm("1234567890123456", out) == Y_EINVAL); /* 16 digits */
	CHECK(sim_phone_norm("", out) == Y_EINVAL);
	CHECK(sim_phone_norm("+", out) == Y_EINVAL);
	CHECK(sim_phone_norm("0123", out) == Y_EINVAL);
	CHECK(sim_phone_norm("1555 000", out) == Y_EINVAL);
	CHECK(sim_phone_norm("++1555", out) == Y_EINVAL);
	CHECK(sim_phone_norm(NULL, out) == Y_EINVAL);
}

/* base64 of 32 bytes of value v */
static void key64(char out[45], uint8_t v)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t k[33] = { 0 };
	size_t o = 0;

	memset(k, v, 32);
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t x = ((uint32_t)k[i] << 16) | ((uint32_t)k[i + 1] << 8) | k[i + 2];

		out[o++] = a[(x >> 18) & 63];
		out[o++] = a[(x >> 12) & 63];
		out[o++] = a[(x >> 6) & 63];
		out[o++] = a[x & 63];
	}
	out[43] = '=';
	out[44] = 0;
}

TEST(parses_qr_strings)
{
	char k1[45], k2[45], k3[45], qr[512];
	struct sim_qr q;

	key64(k1, 1);
	key64(k2, 2);
	key64(k3, 3);
	snprintf(qr, sizeof(qr), "2@abc,%s,%s,%s", k1, k2, k3);
	REQUIRE(sim_qr_parse(qr, &q) == Y_OK);
	CHECK(q.ref_len == 5 && !memcmp(q.ref, "2@abc", 5));
	CHECK(q.noise[0] == 1 && q.noise[31] == 1);
	CHECK(q.identity[0] == 2 && q.adv[31] == 3);
	/* Baileys 7: URL prefix and a fifth field */
	snprintf(qr, sizeof(qr), "https://wa.me/settings/linked_devices#2@abc,%s,%s,%s,1", k1, k2,
		 k3);
	REQUIRE(sim_qr_parse(qr, &q) == Y_OK);
	CHECK(q.ref_len == 5 && q.identity[5] == 2);
	/* without padding too */
	k1[43] = 0;
	snprintf(qr, sizeof(qr), "r,%s,%s,%s", k1, k2, k3);
	CHECK(sim_qr_parse(qr, &q) == Y_OK);
	key64(k1, 1);
	/* refused: field counts, empty ref, short or long keys, bad characters */
	snprintf(qr, sizeof(qr), "r,%s,%s", k1, k2);
	CHECK(sim_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%s,%s,%s,1,2", k1, k2, k3);
	CHECK(sim_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), ",%s,%s,%s", k1, k2, k3);
	CHECK(sim_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,AAAA,%s,%s", k2, k3);
	CHECK(sim_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%sAAAA,%s,%s", k1, k2, k3);
	CHECK(sim_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%s,%s,%s", k1, k2, k3);
	qr[5] = '*';
	CHECK(sim_qr_parse(qr, &q) == Y_EINVAL);
	CHECK(sim_qr_parse("", &q) == Y_EINVAL);
}

static int call(struct sim *s, const char *m, const char *uri, const char *body, json_t **out)
{
	struct ybuf r = YBUF_INIT(1 << 20);
	const char *ctype = NULL;
	int st = sim_api_handle(s, m, uri, (const uint8_t *)body, body ? strlen(body) : 0, &r,
				&ctype);

	*out = r.len ? json_loadb((const char *)r.data, r.len, 0, NULL) : NULL;
	ybuf_release(&r);
	return st;
}

TEST(control_api_accounts_and_devices)
{
	struct sim_opts o = { "127.0.0.1", 0 };
	struct sim *s = NULL;
	json_t *j = NULL;
	char lid[32] = "";

	REQUIRE(sim_new(&o, &s) == Y_OK);
	CHECK(sim_port(s) > 0);
	CHECK(call(s, "POST", "/sim/accounts", "{\"phone\":\"+15550001111\"}", &j) == 201);
	CHECK(j && !strcmp(json_string_value(json_object_get(j, "phone")), "15550001111"));
	if (j)
		snprintf(lid, sizeof(lid), "%s", json_string_value(json_object_get(j, "lid")));
	json_decref(j);
	CHECK(strlen(lid) == 15 && lid[0] == '1');
	CHECK(call(s, "POST", "/sim/accounts", "{\"phone\":\"15550001111\"}", &j) == 200);
	CHECK(j && !strcmp(json_string_value(json_object_get(j, "lid")), lid));
	json_decref(j);
	CHECK(sim_account_by_lid(s, lid) == sim_account_find(s, "15550001111"));
	CHECK(call(s, "POST", "/sim/accounts", "{\"phone\":7}", &j) == 400);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/accounts", "[1]", &j) == 400);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/accounts", NULL, &j) == 400);
	json_decref(j);
	CHECK(call(s, "GET", "/sim/accounts/+15550001111/devices", NULL, &j) == 200);
	CHECK(j && json_array_size(json_object_get(j, "devices")) == 0);
	json_decref(j);
	CHECK(call(s, "GET", "/sim/accounts/15550009999/devices", NULL, &j) == 404);
	json_decref(j);
	CHECK(call(s, "DELETE", "/sim/accounts/15550001111/devices/0", NULL, &j) == 400);
	json_decref(j);
	CHECK(call(s, "DELETE", "/sim/accounts/15550001111/devices/x", NULL, &j) == 400);
	json_decref(j);
	CHECK(call(s, "DELETE", "/sim/accounts/15550001111/devices/3", NULL, &j) == 404);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/faults", "{\"dropAll\":true}", &j) == 200);
	CHECK(j && json_integer_value(json_object_get(j, "dropped")) == 0);
	json_decref(j);
	CHECK(call(s, "GET", "/sim/info?x=1", NULL, &j) == 200);
	CHECK(j && strlen(json_string_value(json_object_get(j, "rootPublicKey"))) == 64);
	json_decref(j);
	CHECK(call(s, "GET", "/sim/stats", NULL, &j) == 200);
	CHECK(j && json_integer_value(json_object_get(j, "accounts")) == 1);
	json_decref(j);
	CHECK(call(s, "PUT", "/sim/stats", NULL, &j) == 405);
	json_decref(j);
	sim_free(s);
}

int main(void)
{
	ylog_min = YLOG_OFF;
	RUN(normalises_phone_numbers);
	RUN(parses_qr_strings);
	RUN(control_api_accounts_and_devices);
	return test_summary();
}
