/*
 * Unit tests for src/sim/: phone number normalisation, the control API handler called directly (no sockets involved beyond the
 * listener sim_new opens on an ephemeral port), and the state file (saved,
 * loaded back equal; truncated or tampered text refused), versions,
 * /sim/config and /sim/prekey-low, and a wa/socket client doing the Noise
 * hello over the --tls port.
 */
#include <jansson.h>

#include <stdio.h>

#include "sim/sim_int.h"
#include "test.h"
#include "tmpdir.h"
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
	struct sim_opts o = { .host = "127.0.0.1", .port = 0 };
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

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *t = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
	    (t = malloc((size_t)n + 1)) && fread(t, 1, (size_t)n, f) == (size_t)n) {
		t[n] = 0;
		*len = (size_t)n;
	} else {
		free(t);
		t = NULL;
	}
	fclose(f);
	return t;
}

TEST(state_file_round_trip_and_refusals)
{
	char dir[256], file[300];
	struct sim_opts o = { .host = "127.0.0.1", .port = 0 };
	struct sim *s1 = NULL, *s2 = NULL, *t;
	struct sim_account *a, *b;
	struct sim_device *d;
	struct sim_pending *p;
	char *text;
	size_t len = 0;
	int refused = 0, tries = 0;
	bool found = false;

	CHECK(tmpdir_make(dir, sizeof(dir)) == 0);
	snprintf(file, sizeof(file), "%s/state.json", dir);
	o.state_file = file;
	CHECK(sim_new(&o, &s1) == Y_OK);
	a = sim_account_get(s1, "15550001111");
	CHECK(a != NULL && sim_account_get(s1, "15550002222") != NULL);
	/* a companion with a prekey and one queued stanza */
	d = calloc(1, sizeof(*d));
	p = calloc(1, sizeof(*p));
	d->prekeys = calloc(1, sizeof(*d->prekeys));
	CHECK(d && p && d->prekeys);
	d->acct = a;
	d->id = a->next_device++;
	d->key_index = 7;
	d->reg_id = 4242;
	memset(d->identity, 0x11, sizeof(d->identity));
	memset(d->noise, 0x22, sizeof(d->noise));
	d->prekeys[0].id = 5;
	memset(d->prekeys[0].pub, 0x33, 32);
	d->nprekeys = 1;
	d->key_shared = true;
	p->node = wa_node_new("message");
	CHECK(p->node && !wa_node_add_attr(p->node, "id", "ABC123"));
	d->qhead = d->qtail = p;
	d->nq = 1;
	d->next = a->devices;
	a->devices = d;
	CHECK(sim_state_save(s1) == Y_OK);

	/* loaded into a bare struct (a second listener is not needed here; the
	 * interop test starts `yesapp sim --state` itself) */
	s2 = calloc(1, sizeof(*s2));
	CHECK(s2 != NULL && sim_state_read_file(s2, file, &found) == Y_OK && found);
	CHECK(!memcmp(s1->root.pub, s2->root.pub, 32) && !memcmp(s1->root.priv, s2->root.priv, 32));
	CHECK(!memcmp(s1->static_key.pub, s2->static_key.pub, 32));
	b = sim_account_find(s2, "15550001111");
	CHECK(b != NULL && !strcmp(b->lid, a->lid) && !memcmp(b->ident.priv, a->ident.priv, 32));
	CHECK(b && b->ident.registration_id == a->ident.registration_id && b->spk.id == a->spk.id);
	CHECK(b && b->next_device == a->next_device && sim_account_find(s2, "15550002222"));
	d = b ? sim_device_find(b, 1) : NULL;
	CHECK(d != NULL);
	if (d) {
		CHECK(d->key_index == 7 && d->reg_id == 4242 && d->key_shared && d->nprekeys == 1);
		CHECK(d->prekeys[0].id == 5 && d->prekeys[0].pub[31] == 0x33 && d->noise[0] == 0x22);
		CHECK(d->nq == 1 && d->qhead && wa_node_is(d->qhead->node, "message"));
	}
	CHECK(b && wa_signal_memstore_count(b->store, WA_SIGNAL_SIGNED_PREKEY) ==
			   wa_signal_memstore_count(a->store, WA_SIGNAL_SIGNED_PREKEY));
	CHECK(b && wa_signal_memstore_count(b->store, WA_SIGNAL_SIGNED_PREKEY) == 1);

	/* every truncation of the saved text is refused; so is tampering */
	text = slurp(file, &len);
	CHECK(text != NULL && len > 100);
	for (size_t n = 0; text && n < len; n += 1 + n / 16) {
		t = calloc(1, sizeof(*t));
		CHECK(t != NULL);
		refused += sim_state_load(t, text, n) != Y_OK;
		tries++;
		sim_free(t);
	}
	CHECK_EQ_INT(refused, tries);
	if (text) {
		char *v = strstr(text, "\"version\":1");

		t = calloc(1, sizeof(*t));
		CHECK(t && sim_state_load(t, text, len) == Y_OK);
		sim_free(t);
		CHECK(v != NULL);
		if (v) {
			v[10] = '9';
			t = calloc(1, sizeof(*t));
			CHECK(t && sim_state_load(t, text, len) == Y_EINVAL);
			sim_free(t);
		}
	}
	free(text);
	sim_free(s1);
	sim_free(s2);
	tmpdir_remove(dir);
}

TEST(parses_versions)
{
	uint32_t v[3] = { 9, 9, 9 };

	CHECK(sim_version_parse("2.3000.1045649367", v) == Y_OK);
	CHECK(v[0] == 2 && v[1] == 3000 && v[2] == 1045649367);
	CHECK(sim_version_parse("0.0.4294967295", v) == Y_OK && v[2] == 4294967295u);
	CHECK(sim_version_parse("0.0.4294967296", v) == Y_EINVAL); /* 33 bits */
	CHECK(sim_version_parse("1.2.99999999999", v) == Y_EINVAL);
	CHECK(sim_version_parse("2.3000", v) == Y_EINVAL);
	CHECK(sim_version_parse("2.3000.1.4", v) == Y_EINVAL);
	CHECK(sim_version_parse("2..1", v) == Y_EINVAL);
	CHECK(sim_version_parse(".1.2", v) == Y_EINVAL);
	CHECK(sim_version_parse("1.2.3 ", v) == Y_EINVAL);
	CHECK(sim_version_parse("1.2.-3", v) == Y_EINVAL);
	CHECK(sim_version_parse("", v) == Y_EINVAL);
	CHECK(sim_version_parse(NULL, v) == Y_EINVAL);
}

TEST(control_api_config_and_prekey_low)
{
	struct sim_opts o = { .host = "127.0.0.1", .port = 0, .min_version = "2.1.3" };
	struct sim *s = NULL;
	struct sim_account *a;
	struct sim_device *d;
	json_t *j = NULL;

	o.min_version = "2.1";
	CHECK(sim_new(&o, &s) == Y_EINVAL);
	o.min_version = "2.1.3";
	REQUIRE(sim_new(&o, &s) == Y_OK);
	CHECK(call(s, "GET", "/sim/config", NULL, &j) == 200);
	CHECK(j && !strcmp(json_string_value(json_object_get(j, "minVersion")), "2.1.3"));
	json_decref(j);
	CHECK(call(s, "POST", "/sim/config", "{\"minVersion\":\"2.3000.1045649367\"}", &j) == 200);
	CHECK(s->min_version_on && s->min_version[2] == 1045649367);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/config", "{\"minVersion\":\"2.x.1\"}", &j) == 400);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/config", "{\"minVersion\":7}", &j) == 400);
	json_decref(j);
	CHECK(s->min_version_on && s->min_version[2] == 1045649367); /* unchanged by refusals */
	CHECK(call(s, "POST", "/sim/config", "{\"minVersion\":null}", &j) == 200);
	CHECK(j && json_is_null(json_object_get(j, "minVersion")));
	CHECK(!s->min_version_on);
	json_decref(j);
	CHECK(call(s, "DELETE", "/sim/config", NULL, &j) == 405);
	json_decref(j);

	/* prekey-low on an offline device: trimmed now, the notification queued */
	a = sim_account_get(s, "15550001111");
	REQUIRE(a);
	d = calloc(1, sizeof(*d));
	REQUIRE(d);
	d->acct = a;
	d->id = 1;
	d->nprekeys = 10;
	d->prekeys = calloc(10, sizeof(*d->prekeys));
	REQUIRE(d->prekeys);
	for (uint32_t i = 0; i < 10; i++)
		d->prekeys[i].id = 100 + i;
	d->next = a->devices;
	a->devices = d;
	CHECK(call(s, "POST", "/sim/prekey-low", "{\"phone\":\"15550001111\",\"device\":1,\"count\":11}",
		   &j) == 400);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/prekey-low", "{\"phone\":\"15550001111\",\"device\":2}", &j) == 404);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/prekey-low", "{\"phone\":\"15550001111\",\"device\":\"1\"}", &j) ==
	      400);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/prekey-low", "{\"phone\":\"15550001111\",\"device\":1,\"count\":-1}",
		   &j) == 400);
	json_decref(j);
	CHECK(d->nprekeys == 10 && d->nq == 0);
	CHECK(call(s, "POST", "/sim/prekey-low", "{\"phone\":\"15550001111\",\"device\":1,\"count\":3}",
		   &j) == 200);
	CHECK(j && json_is_true(json_object_get(j, "queued")));
	json_decref(j);
	CHECK_EQ_INT(d->nprekeys, 3);
	/* the newest stay (the oldest are handed out first) */
	CHECK(d->prekeys[0].id == 107 && d->prekeys[2].id == 109);
	REQUIRE(d->nq == 1 && d->qhead);
	{
		const struct wa_node *n = d->qhead->node, *c = wa_node_child(n, "count");

		CHECK(wa_node_is(n, "notification"));
		CHECK_EQ_STR(wa_node_attr(n, "type"), "encrypt");
		CHECK_EQ_STR(wa_node_attr(n, "from"), "@s.whatsapp.net");
		CHECK(wa_node_attr(n, "id") && wa_node_attr(n, "t"));
		CHECK(c && !strcmp(wa_node_attr(c, "value"), "3"));
	}
	CHECK(call(s, "GET", "/sim/accounts/15550001111/devices", NULL, &j) == 200);
	CHECK(j && json_integer_value(json_object_get(
			   json_array_get(json_object_get(j, "devices"), 0), "prekeys")) == 3);
	json_decref(j);
	CHECK(call(s, "POST", "/sim/prekey-low", "{\"phone\":\"15550001111\",\"device\":1}", &j) == 200);
	json_decref(j);
	CHECK_EQ_INT(d->nprekeys, 0);
	CHECK_EQ_INT(d->nq, 2);
	CHECK(call(s, "GET", "/sim/stats", NULL, &j) == 200);
	CHECK(j && json_integer_value(json_object_get(j, "prekeyLow")) == 2);
	json_decref(j);
	sim_free(s);
}

/* ---- a C client (wa/socket.h) on the simulator's wss port ---- */

struct wss_peer {
	struct wa_noise nz;
	int frames, closed, close_err, hello_rc;
};

static void wss_frame(struct wa_socket *ws, const uint8_t *p, size_t n, void *ud)
{
	struct wss_peer *w = ud;

	if (w->frames++ == 0)
		w->hello_rc = wa_noise_read_server_hello(&w->nz, p, n);
	wa_socket_close(ws);
}

static void wss_close(struct wa_socket *ws, int err, const char *reason, void *ud)
{
	struct wss_peer *w = ud;

	w->closed = 1;
	w->close_err = err;
}

static void wss_deadline(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

/* Connects to url trusting ca_file (NULL: system CAs), sends a Noise
 * ClientHello and runs the sim's loop until the socket closes (10 s at
 * most). Fills w. */
static void wss_try(struct sim *s, const char *url, const char *ca_file, struct wss_peer *w)
{
	static const struct wa_socket_cbs cbs = { NULL, wss_frame, NULL, wss_close };
	const uint8_t intro[4] = { 'W', 'A', 6, 2 };
	struct wa_socket_opts so = { .url = url, .ca_file = ca_file, .dict = 2 };
	struct ybuf hello = YBUF_INIT(4096);
	struct wa_socket *ws;
	uv_timer_t t;
	int late = 0;

	memset(w, 0, sizeof(*w));
	w->hello_rc = 1;
	wa_noise_init(&w->nz, WA_NOISE_INITIATOR, intro);
	wa_noise_trust_root(&w->nz, s->root.pub);
	if (wa_noise_client_hello(&w->nz, &hello) || wa_socket_connect(s->loop, &so, &cbs, w, &ws)) {
		w->close_err = 99;
		goto out;
	}
	wa_socket_send_frame(ws, hello.data, hello.len);
	uv_timer_init(wa_loop_uv(s->loop), &t);
	t.data = &late;
	uv_timer_start(&t, wss_deadline, 10000, 0);
	while (!w->closed && !late)
		wa_loop_run_once(s->loop, 0);
	uv_close((uv_handle_t *)&t, NULL);
	wa_loop_run_once(s->loop, 1);
out:
	wa_noise_release(&w->nz);
	ybuf_release(&hello);
}

TEST(wss_serves_noise_with_the_media_ca)
{
	char dir[300], certs[320], ca[340], url[128];
	struct sim_opts o = { .host = "127.0.0.1", .port = 0, .tls = true };
	struct sim *s = NULL, *plain = NULL;
	struct wss_peer w;
	json_t *j = NULL;

	REQUIRE(tmpdir_make(dir, sizeof(dir)) == 0);
	snprintf(certs, sizeof(certs), "%s/certs", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", certs);
	o.certs_dir = certs;
	REQUIRE(sim_new(&o, &s) == Y_OK);
	CHECK(s->wss_port > 0 && s->wss_port != sim_port(s));
	CHECK(call(s, "GET", "/sim/info", NULL, &j) == 200);
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d/ws/chat", s->wss_port);
	CHECK(j && !strcmp(json_string_value(json_object_get(j, "wssUrl")), url));
	json_decref(j);

	/* trusting ca.pem: TLS, websocket and a ServerHello whose certificate
	 * chain verifies against the simulator's root */
	wss_try(s, url, ca, &w);
	CHECK_EQ_INT(w.frames, 1);
	CHECK_EQ_INT(w.hello_rc, Y_OK);
	CHECK_EQ_INT(w.close_err, 0);
	/* the system CAs do not trust it: the connection fails, no frame */
	wss_try(s, url, NULL, &w);
	CHECK_EQ_INT(w.frames, 0);
	CHECK_EQ_INT(w.close_err, Y_EIO);
	/* plain ws on the TLS port gets nowhere either */
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", s->wss_port);
	wss_try(s, url, NULL, &w);
	CHECK_EQ_INT(w.frames, 0);
	CHECK(w.close_err != 0);
	/* and the plain port still speaks ws */
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", sim_port(s));
	wss_try(s, url, NULL, &w);
	CHECK_EQ_INT(w.frames, 1);
	CHECK_EQ_INT(w.hello_rc, Y_OK);

	sim_free(s);

	/* without tls there is no wss port */
	o.tls = false;
	REQUIRE(sim_new(&o, &plain) == Y_OK);
	CHECK(plain->wss_port == 0);
	CHECK(call(plain, "GET", "/sim/info", NULL, &j) == 200);
	CHECK(j && json_is_null(json_object_get(j, "wssUrl")));
	json_decref(j);
	sim_free(plain);
	tmpdir_remove(dir);
}

int main(void)
{
	ylog_min = getenv("TLOG") ? YLOG_DEBUG : YLOG_OFF;
	RUN(normalises_phone_numbers);
	RUN(control_api_accounts_and_devices);
	RUN(state_file_round_trip_and_refusals);
	RUN(parses_versions);
	RUN(control_api_config_and_prekey_low);
	RUN(wss_serves_noise_with_the_media_ca);
	return test_summary();
}
