/*
 * Tests for src/client/: a wa_client against the scriptable server of
 * fake_wa.h (a wa_listener and the Noise responder on 127.0.0.1, in this
 * process). The server plays WhatsApp and the phone: it sends pair-device
 * refs, pair-success identities (genuine and broken ones), <success>,
 * stream errors and login failures, and answers pings or stays silent.
 *
 * Durations are shortened through wa_client_opts (qr_first_ms, qr_next_ms,
 * keepalive_ms, ping_timeout_ms, backoff_*): the tests check the client's
 * behaviour against the durations it was given, and check separately that
 * the defaults are the protocol's.
 */
#include <openssl/evp.h>
#include <stdbool.h>
#include <uv.h>

#include "test.h"
#include "fake_adv.h"
#include "fake_wa.h"

#include "client/client_int.h"
#include "util/log.h"

#define QR_PREFIX "https://wa.me/settings/linked_devices#"
#define PHONE_JID "15551234567:3@s.whatsapp.net"
#define PHONE_LID "98765432101234:3@lid"

/* ---- what a client reported ---- */

#define REC_MAX 64

struct rec {
	struct wa_loop *l;
	enum wa_client_state st[REC_MAX];
	char reason[REC_MAX][48];
	uint64_t st_ms[REC_MAX];
	int nst;
	char qr[16][512];
	uint64_t qr_ms[16];
	int nqr, nqr_null;
	int ncreds;
	struct wa_creds creds; /* the last reported */
};

static void r_state(struct wa_client *cl, enum wa_client_state st, const char *reason, void *ud)
{
	struct rec *r = ud;

	if (r->nst < REC_MAX) {
		r->st[r->nst] = st;
		snprintf(r->reason[r->nst], sizeof(r->reason[0]), "%s", reason ? reason : "");
		r->st_ms[r->nst] = now_ms(r->l);
		r->nst++;
	}
}

static void r_qr(struct wa_client *cl, const char *qr, void *ud)
{
	struct rec *r = ud;

	if (!qr) {
		r->nqr_null++;
		return;
	}
	if (r->nqr < 16) {
		snprintf(r->qr[r->nqr], sizeof(r->qr[0]), "%s", qr);
		r->qr_ms[r->nqr] = now_ms(r->l);
		r->nqr++;
	}
}

static void r_creds(struct wa_client *cl, const struct wa_creds *c, void *ud)
{
	struct rec *r = ud;

	r->ncreds++;
	r->creds = *c;
}

static const struct wa_client_cbs rec_cbs = { .on_state = r_state, .on_qr = r_qr, .on_creds = r_creds };

static const char *last_reason(const struct rec *r)
{
	return r->nst ? r->reason[r->nst - 1] : "";
}

/* ---- fixture: loop, fake server, pool, one client ---- */

struct fx {
	struct wa_loop *l;
	struct fw_server sv;
	struct wa_client_pool *p;
	struct wa_client *cl;
	struct wa_creds creds; /* what the client was given */
	struct rec r;
	/* server script */
	int nrefs;             /* pair-device refs sent on ready to unlinked clients */
	bool send_success;     /* <success> on ready to linked clients */
};

static void fx_on_ready(struct fw_conn *c)
{
	struct fx *f = c->sv->ud;
	struct wa_node *n, *pd, *r;
	char ref[32];

	if (f->nrefs) {
		n = fw_node("iq", "from", "s.whatsapp.net", "type", "set", "id", "pd-1", "xmlns",
			    "md", NULL);
		pd = n ? wa_node_add_child(n, "pair-device") : NULL;
		for (int i = 0; pd && i < f->nrefs; i++) {
			snprintf(ref, sizeof(ref), "2@ref-%d-AbC+/=", i);
			r = wa_node_add_child(pd, "ref");
			if (r)
				wa_node_set_bytes(r, ref, strlen(ref));
		}
		fw_send_free(c, n);
	} else if (f->send_success) {
		fw_send_free(c, fw_node("success", "t", "1700000000", "lid", PHONE_LID, NULL));
	}
}

/* Starts everything; the client is made (not started) with opts o. */
static bool fx_init(struct fx *f, bool linked, const struct wa_client_opts *o)
{
	struct wa_client_pool_opts po = { 0 };
	char url[96];

	memset(f, 0, sizeof(*f));
	if (wa_loop_new(NULL, &f->l))
		return false;
	f->r.l = f->l;
	f->sv.ud = f;
	f->sv.on_ready = fx_on_ready;
	if (fw_start(f->l, &f->sv) || wa_creds_generate(&f->creds))
		return false;
	if (linked) {
		memset(f->creds.account, 0xab, 40);
		f->creds.account_len = 40;
		snprintf(f->creds.jid, sizeof(f->creds.jid), "%s", PHONE_JID);
		f->send_success = true;
	} else {
		f->nrefs = 3;
	}
	fw_url(&f->sv, url, sizeof(url));
	po.url = url;
	po.root_pub = f->sv.root.pub;
	po.connects_per_sec = 1000;
	return !wa_client_pool_new(f->l, &po, &f->p) &&
	       !wa_client_new(f->p, &f->creds, o, &rec_cbs, &f->r, &f->cl);
}

static bool no_sockets(void *a)
{
	return wa_loop_socket_count(a) == 0;
}

static void fx_release(struct fx *f)
{
	wa_client_free(f->cl);
	wa_client_pool_free(f->p);
	/* let the dropped connections finish, so that they free themselves */
	for (int i = 0; i < f->sv.nc; i++)
		if (f->sv.c[i]->s)
			wa_socket_abort(f->sv.c[i]->s);
	run_until_ms(f->l, no_sockets, f->l, 3000);
	fw_release(&f->sv);
	wa_loop_free(f->l);
	wa_creds_wipe(&f->creds);
}

static bool c_state_is(struct fx *f, enum wa_client_state st)
{
	return f->cl && wa_client_state(f->cl) == st;
}

static bool in_qr(void *a) { return c_state_is(a, WA_CL_QR); }
static bool in_connected(void *a) { return c_state_is(a, WA_CL_CONNECTED); }
static bool in_failed(void *a) { return c_state_is(a, WA_CL_FAILED); }
static bool in_waiting(void *a) { return c_state_is(a, WA_CL_WAITING); }

static bool ended(void *a)
{
	struct fx *f = a;

	return c_state_is(f, WA_CL_FAILED) || c_state_is(f, WA_CL_LOGGED_OUT) ||
	       c_state_is(f, WA_CL_WAITING) || c_state_is(f, WA_CL_IDLE);
}

/* ---- the QR text ---- */

/* Decodes standard base64 of exactly 32 bytes (44 characters, one '='). */
static bool b64_32(const char *s, size_t len, uint8_t out[32])
{
	uint8_t buf[48];

	if (len != 44 || s[43] != '=' || s[42] == '=')
		return false;
	return EVP_DecodeBlock(buf, (const unsigned char *)s, 44) == 33 &&
	       (memcpy(out, buf, 32), true);
}

/* True if qr is the wa.me URL for ref with c's noise key, identity key and
 * adv secret, client type 1. */
static bool qr_matches(const char *qr, const struct wa_creds *c, const char *ref)
{
	const char *p, *f[5];
	size_t len[5];
	uint8_t k[32];
	int nf = 0;

	if (strncmp(qr, QR_PREFIX, strlen(QR_PREFIX)))
		return false;
	p = qr + strlen(QR_PREFIX);
	while (nf < 5) {
		const char *comma = strchr(p, ',');

		f[nf] = p;
		len[nf] = comma ? (size_t)(comma - p) : strlen(p);
		nf++;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (nf != 5 || strchr(f[4], ','))
		return false;
	if (len[0] != strlen(ref) || memcmp(f[0], ref, len[0]))
		return false;
	if (!b64_32(f[1], len[1], k) || memcmp(k, c->noise.pub, 32))
		return false;
	if (!b64_32(f[2], len[2], k) || memcmp(k, c->identity.pub, 32))
		return false;
	if (!b64_32(f[3], len[3], k) || memcmp(k, c->adv_secret, 32))
		return false;
	return len[4] == 1 && f[4][0] == '1';
}

TEST(qr_text_format)
{
	struct wa_creds c, other;
	char qr[512], bad[512];

	REQUIRE(wa_creds_generate(&c) == Y_OK && wa_creds_generate(&other) == Y_OK);
	REQUIRE(wa_client_qr_text(&c, "2@abc", 5, qr, sizeof(qr)) == Y_OK);
	CHECK(qr_matches(qr, &c, "2@abc"));
	/* the judge refuses what is not this QR */
	CHECK(!qr_matches(qr, &other, "2@abc"));
	CHECK(!qr_matches(qr, &c, "2@abd"));
	snprintf(bad, sizeof(bad), "%s", qr);
	bad[strlen(QR_PREFIX) + 8] ^= 1; /* inside the noise key's base64 */
	CHECK(!qr_matches(bad, &c, "2@abc"));
	snprintf(bad, sizeof(bad), "https://wa.me/settings/linked_device#%s",
		 qr + strlen(QR_PREFIX));
	CHECK(!qr_matches(bad, &c, "2@abc"));
	/* too small a buffer is refused, not truncated */
	CHECK_EQ_INT(wa_client_qr_text(&c, "2@abc", 5, qr, 100), Y_ETOOBIG);
	wa_creds_wipe(&c);
	wa_creds_wipe(&other);
}

TEST(qr_defaults_are_the_protocols)
{
	struct fx f;
	const struct wa_client_opts o = { 0 };

	REQUIRE(fx_init(&f, false, &o));
	CHECK_EQ_INT(f.cl->opts.qr_first_ms, 60000);
	CHECK_EQ_INT(f.cl->opts.qr_next_ms, 20000);
	CHECK_EQ_INT(f.cl->opts.ping_timeout_ms, 10000);
	CHECK_EQ_INT(f.cl->opts.dead_ms, 45000);
	CHECK_EQ_INT(f.cl->opts.max_attempts, 10);
	fx_release(&f);
}

static bool got_iq(void *a)
{
	struct fx *f = a;

	return fw_find(fw_last(&f->sv), 0, "iq", NULL) != NULL;
}

/* The refs become QRs in order, the first lives qr_first_ms, the next ones
 * qr_next_ms, and after the last one the client stops with qr_timeout. */
TEST(qr_rotation_and_timeout)
{
	struct fx f;
	const struct wa_client_opts o = { .qr_first_ms = 300, .qr_next_ms = 120, .name = "qr" };
	char ref[32];

	REQUIRE(fx_init(&f, false, &o));
	REQUIRE(wa_client_start(f.cl) == Y_OK);
	REQUIRE(run_until(f.l, in_qr, &f));
	CHECK_EQ_INT(f.r.nqr, 1);
	CHECK(wa_client_qr(f.cl) && !strcmp(wa_client_qr(f.cl), f.r.qr[0]));
	/* the pair-device iq was acknowledged */
	CHECK(run_until(f.l, got_iq, &f));
	CHECK_EQ_STR(wa_node_attr(fw_find(fw_last(&f.sv), 0, "iq", NULL), "type"), "result");
	CHECK_EQ_STR(wa_node_attr(fw_find(fw_last(&f.sv), 0, "iq", NULL), "id"), "pd-1");
	REQUIRE(run_until(f.l, in_failed, &f));
	CHECK_EQ_STR(last_reason(&f.r), WA_REASON_QR_TIMEOUT);
	REQUIRE(f.r.nqr == 3);
	for (int i = 0; i < 3; i++) {
		snprintf(ref, sizeof(ref), "2@ref-%d-AbC+/=", i);
		CHECK(qr_matches(f.r.qr[i], &f.creds, ref));
	}
	/* lifetimes: never shorter than asked, at most 150 ms late */
	{
		uint64_t d1 = f.r.qr_ms[1] - f.r.qr_ms[0], d2 = f.r.qr_ms[2] - f.r.qr_ms[1];
		uint64_t d3 = f.r.st_ms[f.r.nst - 1] - f.r.qr_ms[2];

		CHECK(d1 >= 299 && d1 <= 450);
		CHECK(d2 >= 119 && d2 <= 270);
		CHECK(d3 >= 119 && d3 <= 270);
		if (d1 < 299 || d1 > 450 || d2 < 119 || d2 > 270 || d3 < 119 || d3 > 270)
			fprintf(stderr, "  qr lifetimes %llu %llu %llu\n", (unsigned long long)d1,
				(unsigned long long)d2, (unsigned long long)d3);
	}
	CHECK(wa_client_qr(f.cl) == NULL);
	CHECK(f.r.nqr_null >= 1);
	/* it stays stopped: no new connection */
	{
		int nc = f.sv.nc;

		run_for(f.l, 300);
		CHECK_EQ_INT(f.sv.nc, nc);
		CHECK_EQ_INT(wa_client_state(f.cl), WA_CL_FAILED);
	}
	fx_release(&f);
}

/* ---- pair-success: the phone's identity, genuine and broken ---- */

static void send_pair_success(struct fw_conn *c, const struct ybuf *ident, const char *jid)
{
	fw_send_free(c, adv_pair_success(ident, "ps-1", jid, PHONE_LID));
}

/* The client's answer to ps-1, once it came. */
static const struct wa_node *ps_answer(struct fx *f)
{
	struct fw_conn *c = fw_last(&f->sv);

	for (int i = 0; c && i < c->nrx; i++) {
		const char *id = wa_node_attr(c->rx[i], "id");

		if (wa_node_is(c->rx[i], "iq") && id && !strcmp(id, "ps-1"))
			return c->rx[i];
	}
	return NULL;
}

static bool left_qr(void *a)
{
	return !c_state_is(a, WA_CL_QR);
}

static bool has_ps_answer(void *a)
{
	return ps_answer(a) != NULL;
}

/* Runs a pairing with the phone identity built from sp: QR shown, the
 * phone reads the keys from the QR, sends pair-success; returns the
 * client's answer (NULL if none within the deadline). */
static const struct wa_node *pair_with(struct fx *f, const struct adv_spec *sp,
				       struct wa_keypair *phone, struct ybuf *details,
				       const char *jid)
{
	struct ybuf ident = YBUF_INIT(8192);
	uint8_t id_pub[32], adv[32];
	const char *q;
	bool ok;

	if (wa_client_start(f->cl) || !run_until(f->l, in_qr, f))
		return NULL;
	/* what the phone knows comes from the QR */
	q = wa_client_qr(f->cl);
	ok = q && qr_matches(q, &f->creds, "2@ref-0-AbC+/=") &&
	     b64_32(strchr(strchr(q + strlen(QR_PREFIX), ',') + 1, ',') + 1, 44, id_pub) &&
	     b64_32(strchr(strchr(strchr(q + strlen(QR_PREFIX), ',') + 1, ',') + 1, ',') + 1, 44,
		    adv);
	if (!ok || wa_keypair_generate(phone) ||
	    !adv_build_identity(sp, phone, id_pub, adv, &ident, details)) {
		ybuf_release(&ident);
		return NULL;
	}
	send_pair_success(fw_last(&f->sv), &ident, jid);
	ybuf_release(&ident);
	if (!run_until(f->l, has_ps_answer, f))
		return NULL;
	run_until(f->l, left_qr, f); /* FAILED on a refusal, PAIRING on a success */
	return ps_answer(f);
}

/* A refused pair-success: an iq error answer, FAILED pairing_failed,
 * nothing signed, no credentials reported. */
static void expect_refused(const struct adv_spec *sp, const char *jid, const char *why)
{
	struct fx f;
	const struct wa_client_opts o = { .name = "pair-bad" };
	struct wa_keypair phone;
	struct ybuf details = YBUF_INIT(4096);
	const struct wa_node *a, *e;

	REQUIRE(fx_init(&f, false, &o));
	a = pair_with(&f, sp, &phone, &details, jid);
	CHECK(a != NULL);
	if (a) {
		CHECK_EQ_STR(wa_node_attr(a, "type"), "error");
		e = wa_node_child(a, "error");
		CHECK(e && !strcmp(wa_node_attr(e, "code") ?: "", "401"));
		CHECK(e && !strcmp(wa_node_attr(e, "text") ?: "", why));
		CHECK(!wa_node_child(a, "pair-device-sign"));
	}
	CHECK_EQ_INT(wa_client_state(f.cl), WA_CL_FAILED);
	CHECK_EQ_STR(last_reason(&f.r), WA_REASON_PAIRING_FAILED);
	CHECK_EQ_INT(f.r.ncreds, 0);
	CHECK(!wa_creds_linked(wa_client_creds(f.cl)));
	ybuf_release(&details);
	fx_release(&f);
}

/* A genuine identity: accepted, answered with our device signature, which
 * verifies over 06 01 || details || identity || account key. */
static void expect_accepted(const struct adv_spec *sp)
{
	struct fx f;
	const struct wa_client_opts o = { .name = "pair-ok" };
	struct wa_keypair phone;
	struct ybuf details = YBUF_INIT(4096), msg = YBUF_INIT(4096);
	const struct wa_node *a, *sign, *k;
	Wa__ADVSignedDeviceIdentity *r = NULL, *acc = NULL;
	const uint8_t *b;
	size_t blen;
	uint8_t bad[WA_SIG_LEN];

	REQUIRE(fx_init(&f, false, &o));
	a = pair_with(&f, sp, &phone, &details, PHONE_JID);
	REQUIRE(a != NULL);
	CHECK_EQ_STR(wa_node_attr(a, "type"), "result");
	sign = wa_node_child(a, "pair-device-sign");
	k = sign ? wa_node_child(sign, "device-identity") : NULL;
	REQUIRE(k != NULL);
	CHECK_EQ_INT(atoi(wa_node_attr(k, "key-index") ?: "-1"), sp->key_index);
	b = wa_node_bytes(k, &blen);
	REQUIRE(b && wa_pb_unpack(&wa__advsigned_device_identity__descriptor, b, blen,
				  (ProtobufCMessage **)&r) == Y_OK);
	/* what goes back omits the account signature key */
	CHECK(!r->has_accountsignaturekey);
	CHECK(r->has_details && r->details.len == details.len &&
	      !memcmp(r->details.data, details.data, details.len));
	REQUIRE(r->has_devicesignature && r->devicesignature.len == WA_SIG_LEN);
	ybuf_append(&msg, "\x06\x01", 2);
	ybuf_append(&msg, details.data, details.len);
	ybuf_append(&msg, f.creds.identity.pub, 32);
	ybuf_append(&msg, phone.pub, 32);
	CHECK_EQ_INT(wa_xeddsa_verify(f.creds.identity.pub, msg.data, msg.len,
				      r->devicesignature.data), 0);
	/* the judge refuses a flipped byte and another prefix */
	memcpy(bad, r->devicesignature.data, WA_SIG_LEN);
	bad[5] ^= 0x20;
	CHECK(wa_xeddsa_verify(f.creds.identity.pub, msg.data, msg.len, bad) != 0);
	msg.data[1] = 0x00;
	CHECK(wa_xeddsa_verify(f.creds.identity.pub, msg.data, msg.len,
			       r->devicesignature.data) != 0);
	/* state and credentials: linked, the full identity kept */
	CHECK_EQ_INT(wa_client_state(f.cl), WA_CL_PAIRING);
	CHECK_EQ_INT(f.r.ncreds, 1);
	CHECK(wa_creds_linked(&f.r.creds));
	CHECK_EQ_STR(f.r.creds.jid, PHONE_JID);
	CHECK_EQ_STR(f.r.creds.lid, PHONE_LID);
	CHECK_EQ_STR(f.r.creds.platform, "android");
	REQUIRE(wa_pb_unpack(&wa__advsigned_device_identity__descriptor, f.r.creds.account,
			     f.r.creds.account_len, (ProtobufCMessage **)&acc) == Y_OK);
	CHECK(acc->has_accountsignaturekey && acc->accountsignaturekey.len == 32 &&
	      !memcmp(acc->accountsignaturekey.data, phone.pub, 32));
	CHECK(acc->has_devicesignature &&
	      !memcmp(acc->devicesignature.data, r->devicesignature.data, WA_SIG_LEN));
	protobuf_c_message_free_unpacked(&acc->base, NULL);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	ybuf_release(&details);
	ybuf_release(&msg);
	fx_release(&f);
}

TEST(pair_success_genuine_accepted)
{
	expect_accepted(&(struct adv_spec){ .acct_prefix = 0x00, .key_index = 4 });
}

TEST(pair_success_genuine_hosted_accepted)
{
	expect_accepted(&(struct adv_spec){ .hosted = true, .hmac_prefix = true,
					   .acct_prefix = 0x05, .key_index = 2 });
}

TEST(pair_success_wrong_hmac_refused)
{
	expect_refused(&(struct adv_spec){ .wrong_adv = true, .key_index = 1 }, PHONE_JID,
		       "hmac-mismatch");
}

TEST(pair_success_flipped_account_signature_refused)
{
	expect_refused(&(struct adv_spec){ .flip_sig = true, .key_index = 1 }, PHONE_JID,
		       "invalid-signature");
}

/* Hosted account, but the account signature carries the E2EE prefix 06 00. */
TEST(pair_success_hosted_prefix_mismatch_refused)
{
	expect_refused(&(struct adv_spec){ .hosted = true, .hmac_prefix = true,
					  .acct_prefix = 0x00, .key_index = 1 },
		       PHONE_JID, "invalid-signature");
}

/* Hosted account, but the HMAC was computed without the 06 05 prefix. */
TEST(pair_success_hosted_hmac_prefix_mismatch_refused)
{
	expect_refused(&(struct adv_spec){ .hosted = true, .hmac_prefix = false,
					  .acct_prefix = 0x05, .key_index = 1 },
		       PHONE_JID, "hmac-mismatch");
}

/* Malformed device identities: a 33-byte account key (whose first 32 bytes
 * did sign), bytes that are no protobuf, no device JID. */
TEST(pair_success_malformed_refused)
{
	expect_refused(&(struct adv_spec){ .long_key = true, .key_index = 1 }, PHONE_JID,
		       "malformed");
	expect_refused(&(struct adv_spec){ .garbage = true }, PHONE_JID, "malformed");
	expect_refused(&(struct adv_spec){ .key_index = 1 }, NULL, "malformed");
}

/* After pairing the server's 515 makes the client reconnect at once (not
 * after a backoff) and log in; <success> connects it. */
TEST(stream_error_515_reconnects_at_once)
{
	struct fx f;
	const struct wa_client_opts o = { .backoff_min_ms = 5000, .name = "515" };
	struct wa_keypair phone;
	struct ybuf details = YBUF_INIT(4096);
	struct wa_creds linked;
	Wa__ClientPayload *pl = NULL;
	uint64_t t0;

	REQUIRE(fx_init(&f, false, &o));
	REQUIRE(pair_with(&f, &(struct adv_spec){ .key_index = 1 }, &phone, &details, PHONE_JID));
	REQUIRE(wa_client_state(f.cl) == WA_CL_PAIRING);
	linked = f.r.creds;
	f.nrefs = 0;
	f.send_success = true;
	REQUIRE(f.sv.nc == 1);
	t0 = now_ms(f.l);
	fw_send_free(fw_last(&f.sv), fw_node("stream:error", "code", "515", NULL));
	REQUIRE(run_until(f.l, in_connected, &f));
	CHECK_EQ_INT(f.sv.nc, 2);
	CHECK(now_ms(f.l) - t0 < 1000); /* far below the 5 s backoff */
	for (int i = 0; i < f.r.nst; i++)
		CHECK(f.r.st[i] != WA_CL_WAITING);
	/* the second connection logged in as the paired device */
	REQUIRE(wa_pb_unpack(&wa__client_payload__descriptor, f.sv.c[1]->payload.data,
			     f.sv.c[1]->payload.len, (ProtobufCMessage **)&pl) == Y_OK);
	CHECK(pl->has_username && pl->username == 15551234567ull);
	CHECK(pl->has_device && pl->device == 3);
	CHECK(!pl->devicepairingdata);
	protobuf_c_message_free_unpacked(&pl->base, NULL);
	CHECK_EQ_STR(wa_client_creds(f.cl)->jid, linked.jid);
	ybuf_release(&details);
	wa_creds_wipe(&linked);
	fx_release(&f);
}

/* ---- a logged-in client and what the server ends it with ---- */

struct end_case {
	struct wa_node *(*make)(void);
	enum wa_client_state st;
	const char *reason;
	bool reconnects; /* a new connection follows (after the backoff) */
};

static struct wa_node *n_401(void) { return fw_node("stream:error", "code", "401", NULL); }
static struct wa_node *n_503(void) { return fw_node("stream:error", "code", "503", NULL); }
static struct wa_node *n_conflict(const char *type)
{
	struct wa_node *n = fw_node("stream:error", NULL), *k;

	if (n && (k = wa_node_add_child(n, "conflict")))
		wa_node_add_attr(k, "type", type);
	return n;
}
static struct wa_node *n_removed(void) { return n_conflict("device_removed"); }
static struct wa_node *n_replaced(void) { return n_conflict("replaced"); }
static struct wa_node *n_f405(void) { return fw_node("failure", "reason", "405", NULL); }
static struct wa_node *n_f500(void) { return fw_node("failure", "reason", "500", NULL); }
static struct wa_node *n_f999(void) { return fw_node("failure", "reason", "999", NULL); }

static void run_end_case(const struct end_case *ec)
{
	struct fx f;
	const struct wa_client_opts o = { .backoff_min_ms = 200, .backoff_max_ms = 200,
					  .name = "end" };

	REQUIRE(fx_init(&f, true, &o));
	REQUIRE(wa_client_start(f.cl) == Y_OK);
	REQUIRE(run_until(f.l, in_connected, &f));
	CHECK_EQ_STR(wa_client_creds(f.cl)->lid, PHONE_LID); /* from <success lid> */
	fw_send_free(fw_last(&f.sv), ec->make());
	REQUIRE(run_until(f.l, ended, &f));
	CHECK_EQ_INT(wa_client_state(f.cl), ec->st);
	CHECK_EQ_STR(last_reason(&f.r), ec->reason);
	run_for(f.l, 600);
	if (ec->reconnects) {
		CHECK(f.sv.nc >= 2);
		CHECK_EQ_INT(wa_client_state(f.cl), WA_CL_CONNECTED);
	} else {
		CHECK_EQ_INT(f.sv.nc, 1);
		CHECK_EQ_INT(wa_client_state(f.cl), ec->st);
	}
	fx_release(&f);
}

static bool got_status_ack(void *a)
{
	const struct fx *f = a;
	const struct wa_node *k = fw_find(fw_last(&f->sv), 0, "ack", NULL);

	return k && !strcmp(wa_node_attr(k, "class") ?: "", "status");
}

/* A node the client has no handler for (here <status>, §13) is still
 * acknowledged, with its id, class and from; one without an id is not. */
TEST(unknown_node_acknowledged)
{
	struct fx f;
	const struct wa_client_opts o = { .name = "ack-all" };
	const struct wa_node *k;

	REQUIRE(fx_init(&f, true, &o));
	REQUIRE(wa_client_start(f.cl) == Y_OK);
	REQUIRE(run_until(f.l, in_connected, &f));
	fw_send_free(fw_last(&f.sv), fw_node("status", "from", "s.whatsapp.net", NULL));
	fw_send_free(fw_last(&f.sv), fw_node("status", "id", "st-1", "from", "s.whatsapp.net", NULL));
	REQUIRE(run_until(f.l, got_status_ack, &f));
	k = fw_find(fw_last(&f.sv), 0, "ack", NULL);
	CHECK_EQ_STR(wa_node_attr(k, "id"), "st-1");
	CHECK_EQ_STR(wa_node_attr(k, "to"), "s.whatsapp.net");
	CHECK_EQ_INT(wa_client_state(f.cl), WA_CL_CONNECTED);
	fx_release(&f);
}

TEST(stream_error_401_logs_out)
{
	run_end_case(&(struct end_case){ n_401, WA_CL_LOGGED_OUT, WA_REASON_DEVICE_REMOVED, false });
}

TEST(conflict_device_removed_logs_out)
{
	run_end_case(&(struct end_case){ n_removed, WA_CL_LOGGED_OUT, WA_REASON_DEVICE_REMOVED,
					 false });
}

TEST(conflict_replaced_fails)
{
	run_end_case(&(struct end_case){ n_replaced, WA_CL_FAILED, WA_REASON_REPLACED, false });
}

TEST(failure_405_client_outdated)
{
	run_end_case(&(struct end_case){ n_f405, WA_CL_FAILED, WA_REASON_CLIENT_OUTDATED, false });
}

/* The controls: errors that are not final reconnect after the backoff. */
TEST(other_stream_error_and_failure_reconnect)
{
	run_end_case(&(struct end_case){ n_503, WA_CL_WAITING, "stream_error", true });
	run_end_case(&(struct end_case){ n_f500, WA_CL_WAITING, "login_failure", true });
	run_end_case(&(struct end_case){ n_f999, WA_CL_WAITING, "login_failure", true });
}

/* ---- backoff ---- */

TEST(backoff_grows_with_jitter_within_bounds)
{
	struct fx f;
	const struct wa_client_opts o = { .backoff_min_ms = 1000, .backoff_max_ms = 60000 };

	REQUIRE(fx_init(&f, true, &o));
	for (unsigned n = 1; n <= 12; n++) {
		uint64_t d = 1000ull << (n - 1 < 6 ? n - 1 : 6), lo = UINT64_MAX, hi = 0;
		uint64_t seen[8] = { 0 };
		int distinct = 0;

		if (d > 60000)
			d = 60000;
		for (int i = 0; i < 400; i++) {
			uint64_t v = cl_backoff_ms(f.cl, n);
			bool dup = false;

			CHECK(v >= d / 2 && v <= d);
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
			for (int k = 0; k < distinct && k < 8; k++)
				dup |= seen[k] == v;
			if (!dup && distinct < 8)
				seen[distinct++] = v;
		}
		/* jittered: spread over the range, not one value */
		CHECK(distinct == 8);
		CHECK(lo < d / 2 + d / 10);
		CHECK(hi > d - d / 10);
	}
	fx_release(&f);
}

/* A server that drops every connection: the client retries with growing
 * delays and parks in FAILED too_many_failures after max_attempts. */
TEST(backoff_then_too_many_failures)
{
	struct fx f;
	const struct wa_client_opts o = { .backoff_min_ms = 40, .backoff_max_ms = 160,
					  .max_attempts = 4, .name = "flaky" };
	int nc;

	REQUIRE(fx_init(&f, true, &o));
	f.sv.abort_on_accept = true;
	REQUIRE(wa_client_start(f.cl) == Y_OK);
	REQUIRE(run_until(f.l, in_failed, &f));
	CHECK_EQ_STR(last_reason(&f.r), WA_REASON_TOO_MANY_FAILURES);
	CHECK_EQ_INT(f.sv.nc, 5); /* the first try and 4 retries */
	for (int i = 1; i < f.sv.nc && i < 5; i++) {
		uint64_t d = 40ull << (i - 1), gap = f.sv.c[i]->accepted_ms - f.sv.c[i - 1]->accepted_ms;

		if (d > 160)
			d = 160;
		CHECK(gap + 1 >= d / 2);
		CHECK(gap <= d + 150);
		if (gap + 1 < d / 2 || gap > d + 150)
			fprintf(stderr, "  retry %d after %llu ms, expected %llu..%llu\n", i,
				(unsigned long long)gap, (unsigned long long)d / 2,
				(unsigned long long)d);
	}
	{
		int nwait = 0;

		for (int i = 0; i < f.r.nst; i++)
			nwait += f.r.st[i] == WA_CL_WAITING;
		CHECK_EQ_INT(nwait, 4);
	}
	nc = f.sv.nc;
	run_for(f.l, 500);
	CHECK_EQ_INT(f.sv.nc, nc); /* parked */
	/* a restart starts over */
	f.sv.abort_on_accept = false;
	REQUIRE(wa_client_start(f.cl) == Y_OK);
	CHECK(run_until(f.l, in_connected, &f));
	fx_release(&f);
}

/* ---- keepalive ---- */

static int count_pings(const struct fw_conn *c)
{
	int n = 0;

	for (int i = 0; c && i < c->nrx; i++) {
		const char *x = wa_node_attr(c->rx[i], "xmlns");

		n += wa_node_is(c->rx[i], "iq") && x && !strcmp(x, "w:p") &&
		     wa_node_child(c->rx[i], "ping");
	}
	return n;
}

/* A server that answers pings keeps the connection; one that stops is
 * found dead within keepalive interval (+20%) + ping timeout. */
static void keepalive_case(uint64_t iq_timeout_ms)
{
	struct fx f;
	const struct wa_client_opts o = { .keepalive_ms = 200, .ping_timeout_ms = 150,
					  .dead_ms = 10000, .iq_timeout_ms = iq_timeout_ms,
					  .backoff_min_ms = 5000, .name = "ka" };
	uint64_t t0, dt;

	REQUIRE(fx_init(&f, true, &o));
	f.sv.answer_pings = true;
	REQUIRE(wa_client_start(f.cl) == Y_OK);
	REQUIRE(run_until(f.l, in_connected, &f));
	run_for(f.l, 1200);
	CHECK_EQ_INT(wa_client_state(f.cl), WA_CL_CONNECTED);
	CHECK(count_pings(fw_last(&f.sv)) >= 4);
	CHECK_EQ_INT(f.sv.nc, 1);
	/* the server goes silent */
	f.sv.answer_pings = false;
	t0 = now_ms(f.l);
	REQUIRE(run_until_ms(f.l, in_waiting, &f, 5000));
	dt = now_ms(f.l) - t0;
	CHECK_EQ_STR(last_reason(&f.r), WA_REASON_CONNECTION_LOST);
	/* at most one interval (<= 240 ms) to the next ping, then 150 ms */
	CHECK(dt >= 150 && dt <= 240 + 150 + 100);
	if (dt < 150 || dt > 490)
		fprintf(stderr, "  dead after %llu ms\n", (unsigned long long)dt);
	fx_release(&f);
}

TEST(keepalive_detects_dead_server)
{
	keepalive_case(0);
}

/* An iq timeout shorter than the ping timeout must not hide the silence. */
TEST(keepalive_detects_dead_server_with_short_iq_timeout)
{
	keepalive_case(60);
}

/* The ring of received ids (duplicate detection) costs what a session
 * received, not its worst case: CL_SEEN_MIN slots for a few messages, grown
 * up to CL_SEEN_MAX, then the oldest ids are forgotten first. */
TEST(seen_ring_grows_on_demand_and_forgets_the_oldest)
{
	struct wa_client cl = { 0 };
	char id[32];
	struct cl_seen *e;
	unsigned lost = 0, found = 0;

	CHECK(!cl_seen_find(&cl, "ID0"));
	CHECK(!cl.seen);
	for (unsigned i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "ID%u", i);
		CHECK(cl_seen_mark(&cl, id, i == 1) != NULL);
	}
	CHECK_EQ_INT(cl.seen_cap, CL_SEEN_MIN);
	REQUIRE((e = cl_seen_find(&cl, "ID1")) != NULL);
	CHECK(e->done);
	REQUIRE((e = cl_seen_find(&cl, "ID0")) != NULL);
	CHECK(!e->done);
	CHECK(!cl_seen_find(&cl, "ID3"));
	for (unsigned i = 3; i < CL_SEEN_MAX + 10; i++) {
		snprintf(id, sizeof(id), "ID%u", i);
		CHECK(cl_seen_mark(&cl, id, true) != NULL);
	}
	CHECK_EQ_INT(cl.seen_cap, CL_SEEN_MAX);
	CHECK_EQ_INT(cl.seen_n, CL_SEEN_MAX);
	for (unsigned i = 0; i < CL_SEEN_MAX + 10; i++) {
		snprintf(id, sizeof(id), "ID%u", i);
		e = cl_seen_find(&cl, id);
		if (i < 10)
			lost += e == NULL;
		else
			found += e && !strcmp(e->id, id);
	}
	CHECK_EQ_INT(lost, 10);
	CHECK_EQ_INT(found, CL_SEEN_MAX);
	cl_receive_free(&cl);
	CHECK(!cl.seen && !cl.seen_n && !cl.seen_cap);
	CHECK(!cl_seen_find(&cl, "ID20"));
}

int main(void)
{
	ylog_min = YLOG_OFF;
	RUN(qr_text_format);
	RUN(qr_defaults_are_the_protocols);
	RUN(qr_rotation_and_timeout);
	RUN(pair_success_genuine_accepted);
	RUN(pair_success_genuine_hosted_accepted);
	RUN(pair_success_wrong_hmac_refused);
	RUN(pair_success_flipped_account_signature_refused);
	RUN(pair_success_hosted_prefix_mismatch_refused);
	RUN(pair_success_hosted_hmac_prefix_mismatch_refused);
	RUN(pair_success_malformed_refused);
	RUN(stream_error_515_reconnects_at_once);
	RUN(unknown_node_acknowledged);
	RUN(stream_error_401_logs_out);
	RUN(conflict_device_removed_logs_out);
	RUN(conflict_replaced_fails);
	RUN(failure_405_client_outdated);
	RUN(other_stream_error_and_failure_reconnect);
	RUN(backoff_grows_with_jitter_within_bounds);
	RUN(backoff_then_too_many_failures);
	RUN(keepalive_detects_dead_server);
	RUN(keepalive_detects_dead_server_with_short_iq_timeout);
	RUN(seen_ring_grows_on_demand_and_forgets_the_oldest);
	return test_summary();
}
