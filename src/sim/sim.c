/*
 * The simulator's life cycle, its keys and its accounts (see sim.h).
 * Connections live in sim_conn.c, the control API in sim_api.c.
 */
#include "sim/sim_int.h"
#include "wa/payload.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/jid.h"

/* Certificate serials. The shape follows WhatsApp's chain (the
 * intermediate's issuer serial is 0, the root; the leaf names the
 * intermediate's serial); the values themselves are ours: the real servers'
 * serials were not checked. */
#define CERT_INTERMEDIATE_SERIAL 0x0108
#define CERT_LEAF_SERIAL 0x01a7
#define CERT_LIFETIME (30 * 86400)

int sim_phone_norm(const char *in, char out[SIM_PHONE_MAX + 1])
{
	size_t n = 0;

	if (!in)
		return Y_EINVAL;
	if (*in == '+')
		in++;
	for (; *in; in++) {
		if (*in < '0' || *in > '9' || n >= 15)
			return Y_EINVAL;
		out[n++] = *in;
	}
	if (n == 0 || out[0] == '0')
		return Y_EINVAL;
	out[n] = 0;
	return Y_OK;
}

int sim_version_parse(const char *in, uint32_t out[3])
{
	return wa_version_parse3(in, out);
}

struct sim_account *sim_account_find(struct sim *s, const char *phone)
{
	for (struct sim_account *a = s->accounts; a; a = a->next)
		if (!strcmp(a->phone, phone))
			return a;
	return NULL;
}

struct sim_account *sim_account_by_lid(struct sim *s, const char *lid)
{
	for (struct sim_account *a = s->accounts; a; a = a->next)
		if (!strcmp(a->lid, lid))
			return a;
	return NULL;
}

struct sim_account *sim_account_by_jid(struct sim *s, const char *jid, uint32_t *dev,
				       bool *is_lid)
{
	struct wa_jid j;
	char user[SIM_PHONE_MAX + 1];

	if (!jid || wa_jid_parse(jid, strlen(jid), &j) || j.user_len == 0 ||
	    j.user_len > SIM_PHONE_MAX)
		return NULL;
	memcpy(user, j.user, j.user_len);
	user[j.user_len] = 0;
	*dev = j.device;
	if (j.server_len == 3 && !memcmp(j.server, "lid", 3)) {
		*is_lid = true;
		return sim_account_by_lid(s, user);
	}
	*is_lid = false;
	if (j.server_len == 14 && !memcmp(j.server, "s.whatsapp.net", 14))
		return sim_account_find(s, user);
	return NULL;
}

/* A 15-digit LID starting with 1 that collides with no phone and no LID. */
static int new_lid(struct sim *s, char out[SIM_PHONE_MAX + 1])
{
	for (int tries = 0; tries < 100; tries++) {
		uint8_t r[8];
		uint64_t v;

		if (wa_crypto_random(r, sizeof(r)))
			return Y_ECRYPTO;
		memcpy(&v, r, sizeof(v));
		snprintf(out, SIM_PHONE_MAX + 1, "1%014llu",
			 (unsigned long long)(v % 100000000000000ULL));
		if (!sim_account_find(s, out) && !sim_account_by_lid(s, out))
			return Y_OK;
	}
	return Y_EEXIST;
}

static void account_free(struct sim_account *a)
{
	while (a->devices)
		sim_device_remove(a, a->devices);
	wa_signal_free(a->sig);
	wa_signal_store_free(a->store);
	sim_passkey_key_free(a->passkey);
	free(a->tc);
	sim_appstate_free(a->as);
	wa_wipe(a->as_key, sizeof(a->as_key));
	wa_wipe(&a->ident, sizeof(a->ident));
	free(a);
}

struct sim_account *sim_account_get(struct sim *s, const char *phone)
{
	struct sim_account *a = sim_account_find(s, phone);

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	snprintf(a->phone, sizeof(a->phone), "%s", phone);
	a->next_device = 1;
	a->next_prekey = 1;
	if (new_lid(s, a->lid) || wa_signal_identity_generate(&a->ident) ||
	    !(a->store = wa_signal_memstore_new()) || !(a->sig = wa_signal_new(&a->ident, a->store)) ||
	    wa_signal_gen_signed_prekey(a->sig, 1, &a->spk)) {
		account_free(a);
		return NULL;
	}
	a->next = s->accounts;
	s->accounts = a;
	LOG_INFO("sim account created", "{s:s, s:s}", "phone", a->phone, "lid", a->lid);
	return a;
}

struct sim_device *sim_device_find(struct sim_account *a, uint32_t id)
{
	for (struct sim_device *d = a->devices; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

void sim_device_remove(struct sim_account *a, struct sim_device *d)
{
	struct sim_device **pp;

	for (pp = &a->devices; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	while (d->qhead) {
		struct sim_pending *p = d->qhead;

		d->qhead = p->next;
		wa_node_free(p->node);
		free(p);
	}
	sim_device_unacked_free(d);
	while (d->presubs) {
		struct sim_presub *ps = d->presubs;

		d->presubs = ps->next;
		free(ps);
	}
	free(d->prekeys);
	free(d);
}

void sim_accounts_free(struct sim *s)
{
	while (s->accounts) {
		struct sim_account *a = s->accounts;

		s->accounts = a->next;
		if (a->pic_path[0]) /* its picture goes with it */
			sim_media_drop(s, a->pic_path);
		if (a->prev_path[0])
			sim_media_drop(s, a->prev_path);
		account_free(a);
	}
}

static void on_accept(struct wa_listener *ls, struct wa_socket *ws, void *ud)
{
	sim_conn_accept(ud, ws);
}

/* Generates the root, intermediate and static keys unless loaded from the
 * state file, then certifies the static key. */
static int make_keys(struct sim *s, bool loaded)
{
	struct wa_noise_cert_params cp;
	uint64_t now = (uint64_t)time(NULL);
	int rc = Y_OK;

	if (!loaded) {
		rc = wa_keypair_generate(&s->root);
		rc = rc ?: wa_keypair_generate(&s->intermediate);
		rc = rc ?: wa_keypair_generate(&s->static_key);
	}
	if (rc)
		return rc;
	cp.root_priv = s->root.priv;
	cp.intermediate = &s->intermediate;
	cp.intermediate_serial = CERT_INTERMEDIATE_SERIAL;
	cp.leaf_serial = CERT_LEAF_SERIAL;
	cp.leaf_key = s->static_key.pub;
	cp.not_before = now - 3600;
	cp.not_after = now + CERT_LIFETIME;
	return wa_noise_cert_chain_build(&cp, &s->cert_chain);
}

int sim_new(const struct sim_opts *o, struct sim **out)
{
	struct wa_listener_opts lo;
	struct sim *s = calloc(1, sizeof(*s));
	bool loaded = false;
	int rc;

	if (!s)
		return Y_ENOMEM;
	ybuf_init(&s->cert_chain, 4096);
	snprintf(s->host, sizeof(s->host), "%s", o && o->host ? o->host : "127.0.0.1");
	s->certs_dir = o ? o->certs_dir : NULL;
	s->state_file = o ? o->state_file : NULL;
	if (o && o->min_version) {
		rc = sim_version_parse(o->min_version, s->min_version);
		if (rc)
			goto fail;
		s->min_version_on = true;
	}
	if (s->state_file) {
		bool found;

		rc = sim_state_read_file(s, s->state_file, &found);
		if (rc)
			goto fail;
		loaded = found;
		LOG_INFO(found ? "sim state loaded" : "sim state file absent, starting empty",
			 "{s:s}", "file", s->state_file);
	}
	rc = make_keys(s, loaded);
	if (rc)
		goto fail;
	rc = wa_loop_new(NULL, &s->loop);
	if (rc)
		goto fail;
	memset(&lo, 0, sizeof(lo));
	lo.host = s->host;
	lo.port = o ? o->port : 0;
	lo.path = "/ws/chat";
	s->api_http.handle = sim_api_handle;
	s->api_http.ud = s;
	sim_http_attach(&lo, &s->api_http);
	rc = wa_listener_new(s->loop, &lo, on_accept, s, &s->ls);
	if (rc)
		goto fail;
	s->port = wa_listener_port(s->ls);
	if (o && o->defer_tls && o->tls) {
		rc = Y_EINVAL;
		goto fail;
	}
	rc = o && o->defer_tls ? Y_OK : sim_media_start(s);
	if (rc)
		goto fail;
	if (o && o->tls) {
		char cert[300], key[300];

		/* the media host's certificate: one CA trusts both */
		snprintf(cert, sizeof(cert), "%s/cert.pem", s->media_dir);
		snprintf(key, sizeof(key), "%s/key.pem", s->media_dir);
		lo.port = 0;
		lo.cert_file = cert;
		lo.key_file = key;
		rc = wa_listener_new(s->loop, &lo, on_accept, s, &s->wss_ls);
		if (rc)
			goto fail;
		s->wss_port = wa_listener_port(s->wss_ls);
	}
	*out = s;
	return Y_OK;
fail:
	sim_free(s);
	return rc;
}

int sim_port(const struct sim *s)
{
	return s->port;
}

void sim_stop(struct sim *s)
{
	s->stop = true;
	uv_stop(wa_loop_uv(s->loop));
}

static void on_signal(uv_signal_t *h, int signum)
{
	LOG_INFO("sim stopping", "{s:i}", "signal", signum);
	sim_stop(h->data);
}

/* SIGINT/SIGTERM stop the loop. sim_main installs them before it logs
 * "sim listening", so a signal sent as soon as that line is read stops the
 * simulator cleanly instead of killing it. */
static void signals_start(struct sim *s)
{
	uv_loop_t *uv = wa_loop_uv(s->loop);

	if (s->signals_on)
		return;
	s->signals_on = true;
	uv_signal_init(uv, &s->sigint);
	uv_signal_init(uv, &s->sigterm);
	s->sigint.data = s->sigterm.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
}

static void on_state_timer(uv_timer_t *t)
{
	struct sim *s = t->data;
	uint64_t gen = s->state_gen + s->st.nodes_in + s->st.nodes_out;

	int64_t t0 = clock_mono_ms();

	if (gen == s->state_saved_gen || t0 < s->state_next_ms)
		return;
	if (!sim_state_save(s))
		s->state_saved_gen = gen;
	/* a big state (thousands of accounts: tens of MB of JSON) is saved
	 * less often, so saving takes at most 1/SIM_STATE_SAVE_SHARE of the
	 * loop's time */
	s->state_next_ms = clock_mono_ms() + (clock_mono_ms() - t0) * SIM_STATE_SAVE_SHARE;
}

int sim_run(struct sim *s)
{
	uv_loop_t *uv = wa_loop_uv(s->loop);

	if (s->state_file) {
		uv_timer_init(uv, &s->state_timer);
		s->state_timer.data = s;
		uv_timer_start(&s->state_timer, on_state_timer, SIM_STATE_SAVE_MS,
			       SIM_STATE_SAVE_MS);
	}
	while (!s->stop)
		uv_run(uv, UV_RUN_DEFAULT);
	if (s->state_file) {
		uv_close((uv_handle_t *)&s->state_timer, NULL);
		sim_state_save(s);
	}
	if (s->signals_on) {
		uv_close((uv_handle_t *)&s->sigint, NULL);
		uv_close((uv_handle_t *)&s->sigterm, NULL);
		s->signals_on = false;
	}
	uv_run(uv, UV_RUN_NOWAIT);
	return Y_OK;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	if (s->loop) {
		sim_conn_free_all(s);
		wa_loop_free(s->loop);
	}
	sim_accounts_free(s);
	sim_media_free(s);
	ybuf_release(&s->cert_chain);
	wa_wipe(&s->root, sizeof(s->root));
	wa_wipe(&s->intermediate, sizeof(s->intermediate));
	wa_wipe(&s->static_key, sizeof(s->static_key));
	free(s);
}

/* "HOST:PORT" or ":PORT" or "PORT". */
static int parse_listen(const char *v, struct sim_opts *o, char *host, size_t cap)
{
	const char *colon = strrchr(v, ':');
	const char *p = colon ? colon + 1 : v;
	char *end;
	long port = strtol(p, &end, 10);

	if (!*p || *end || port < 0 || port > 65535)
		return Y_EINVAL;
	if (colon && colon != v) {
		if ((size_t)(colon - v) >= cap)
			return Y_EINVAL;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = 0;
		o->host = host;
	}
	o->port = (int)port;
	return Y_OK;
}

int sim_main(int argc, char **argv)
{
	struct sim_opts o = { .host = NULL, .port = 0 };
	char host[64];
	struct sim *s = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if (!strcmp(a, "--listen") && i + 1 < argc)
			v = argv[++i];
		else if (!strncmp(a, "--listen=", 9))
			v = a + 9;
		if (v) {
			if (parse_listen(v, &o, host, sizeof(host))) {
				fprintf(stderr, "yesapp sim: --listen wants HOST:PORT, got \"%s\"\n", v);
				return 2;
			}
			continue;
		}
		if (!strcmp(a, "--state") && i + 1 < argc) {
			o.state_file = argv[++i];
			continue;
		}
		if (!strcmp(a, "--certs") && i + 1 < argc) {
			o.certs_dir = argv[++i];
			continue;
		}
		if (!strcmp(a, "--min-version") && i + 1 < argc) {
			uint32_t mv[3];

			o.min_version = argv[++i];
			if (sim_version_parse(o.min_version, mv)) {
				fprintf(stderr, "yesapp sim: --min-version wants P.S.T (e.g. "
					"2.3000.1045649367), got \"%s\"\n", o.min_version);
				return 2;
			}
			continue;
		}
		if (!strcmp(a, "--tls")) {
			o.tls = true;
			continue;
		}
		if (!strcmp(a, "--log-level") && i + 1 < argc) {
			enum ylog_level l;

			if (ylog_parse_level(argv[++i], &l)) {
				fprintf(stderr, "yesapp sim: bad --log-level\n");
				return 2;
			}
			ylog_min = l;
			continue;
		}
		fprintf(stderr, "yesapp sim: unknown option \"%s\"\n"
			"usage: yesapp sim [--listen HOST:PORT] [--state FILE] [--certs DIR] "
			"[--min-version P.S.T] [--tls] [--log-level L]\n", a);
		return 2;
	}
	rc = sim_new(&o, &s);
	if (rc) {
		fprintf(stderr, "yesapp sim: cannot start: %s\n", y_strerror(rc));
		return 1;
	}
	signals_start(s);
	LOG_INFO("sim listening", "{s:s, s:i, s:s, s:s, s:i}", "host", s->host, "port", s->port,
		 "wsPath", "/ws/chat", "mediaHost", s->media_host, "wssPort", s->wss_port);
	sim_run(s);
	sim_free(s);
	return 0;
}
