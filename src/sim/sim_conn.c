/*
 * One simulator connection: the server side of the WhatsApp stream
 * (protocol-map.md §2, §5, §6, §7, §8, §10). Frames come from the socket
 * layer; the first two are the Noise handshake (ClientHello, ClientFinish
 * with the ClientPayload), every later one a Noise transport frame holding
 * one binary node, dispatched on its tag through a table.
 *
 * Ownership: the sim owns its connections (a list); a connection is freed
 * only from its socket's on_close, which the socket layer calls outside any
 * callback of its own, or by sim_conn_free_all. Devices point back at their
 * connection; both links are cleared together (conn_detach).
 */
#include "sim/sim_int.h"
#include "wa/adv.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/log.h"
#include "wa.pb-c.h"
#include "wa/binary.h"
#include "wa/frame.h"
#include "wa/paircode.h"
#include "wa/pb.h"
#include "wa/tokens.h"

#define S_WA "@s.whatsapp.net" /* the server JID (empty user) */
#define PAYLOAD_MAX ((size_t)64 << 10)
/* The first node after the handshake waits this long. Baileys switches to
 * transport keys only after its ClientFinish write completed plus an async
 * key derivation; a frame arriving earlier is dropped as a handshake frame.
 * The real server is never that quick (a network round trip away). */
#define POST_HANDSHAKE_DELAY_MS 100

enum conn_state { C_HELLO, C_FINISH, C_OPEN, C_CLOSING };

struct sim_conn {
	struct sim_conn *prev, *next;
	struct sim *sim;
	struct wa_socket *ws; /* NULL once the socket is gone */
	uint64_t id;
	int state;            /* enum conn_state */
	int dict;             /* WA_DICT_V2 or WA_DICT_V3, from the intro */
	struct wa_noise nz;
	uint8_t client_static[WA_KEY_LEN];
	bool registering;
	struct {
		uint8_t ident[WA_KEY_LEN];
		uint32_t reg_id;
		struct wa_signal_signed_prekey spk;
	} reg;
	char refs[SIM_REFS][SIM_REF_LEN];
	struct {
		bool active;
		struct sim_account *acct;
		uint32_t dev, key_index;
		char iq[SIM_IQ_ID_LEN];
	} pair;
	struct {
		bool active;          /* companion_hello seen */
		bool entered;         /* the phone entered the code */
		char phone[SIM_PHONE_MAX + 1];
		char ref[SIM_REF_LEN];
		uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN]; /* the companion's wrapped ephemeral */
		uint8_t companion_eph[WA_KEY_LEN];
		struct wa_keypair primary_eph;
		struct wa_paircode_job *job; /* the code being checked off the loop */
	} lc;                         /* link-code (pair-code) registration */
	struct sim_account *acct; /* after login */
	struct sim_device *dev;
	uv_timer_t *timer;        /* pending post-handshake answer; owned */
	uv_timer_t *dtimer;       /* sends delayed frames (faults latencyMs); owned */
	struct delayed *dhead, *dtail;
	struct ybuf payload;      /* the ClientPayload, until the timer fires */
	struct ybuf *test_out;    /* sim_conn_test_open: no socket; sent nodes go here */
	struct sim_passkey_link *pk; /* the passkey step in progress (sim_passkey.c) */
};

/* An encrypted frame held back by the latencyMs fault. */
struct delayed {
	struct delayed *next;
	uint64_t due; /* uv_now() */
	size_t len;
	uint8_t data[];
};

/* ---- helpers ---- */

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

static void hexs(const uint8_t *p, size_t n, char *out, bool upper)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* Sets attributes from NULL-terminated key, value pairs; NULL values are
 * skipped. */
static int attrs(struct wa_node *n, ...)
{
	va_list ap;
	const char *k;
	int rc = Y_OK;

	va_start(ap, n);
	while (!rc && (k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		if (v)
			rc = wa_node_add_attr(n, k, v);
	}
	va_end(ap);
	return rc;
}

/* A child with bytes content; NULL on ENOMEM. */
static struct wa_node *child_bytes(struct wa_node *parent, const char *tag, const void *p,
				   size_t n)
{
	struct wa_node *c = wa_node_add_child(parent, tag);

	if (c && wa_node_set_bytes(c, p, n))
		return NULL;
	return c;
}

static const uint8_t *kid_bytes(const struct wa_node *n, const char *tag, size_t *len)
{
	struct wa_node *c = wa_node_child(n, tag);

	*len = 0;
	return c ? wa_node_bytes(c, len) : NULL;
}

static void conn_log_node(struct sim_conn *c, const char *dir, const struct wa_node *n)
{
	struct ybuf t = YBUF_INIT(4096);

	if (ylog_min > YLOG_DEBUG)
		return;
	wa_node_to_text(n, &t);
	LOG_DEBUG("sim node", "{s:I, s:s, s:s}", "conn", (json_int_t)c->id, "dir", dir, "node",
		  t.data ? (const char *)t.data : "");
	ybuf_release(&t);
}

/* Breaks the device <-> connection link. */
static void conn_detach(struct sim_conn *c)
{
	if (c->dev && c->dev->conn == c)
		c->dev->conn = NULL;
	c->dev = NULL;
}

static void conn_close(struct sim_conn *c)
{
	if (c->state == C_CLOSING || (!c->ws && !c->test_out))
		return;
	c->state = C_CLOSING;
	conn_detach(c);
	if (c->ws)
		wa_socket_close(c->ws);
}

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Sends the held frames that are due, in order; re-arms for the next. */
static void on_delay_timer(uv_timer_t *t)
{
	struct sim_conn *c = t->data;
	uint64_t now = uv_now(t->loop);

	while (c->dhead && c->dhead->due <= now) {
		struct delayed *d = c->dhead;
		int rc = c->ws && c->state == C_OPEN ? wa_socket_send_frame(c->ws, d->data, d->len)
						     : Y_ECLOSED;

		c->dhead = d->next;
		if (!c->dhead)
			c->dtail = NULL;
		free(d);
		if (rc && rc != Y_ECLOSED) {
			c->sim->st.errors++;
			conn_close(c);
		}
	}
	if (c->dhead)
		uv_timer_start(t, on_delay_timer, c->dhead->due - now, 0);
}

/* Holds an encrypted frame for latency_ms (frames keep their order). */
static int hold_frame(struct sim_conn *c, const uint8_t *p, size_t n)
{
	struct delayed *d = malloc(sizeof(*d) + n);
	uint64_t now = uv_now(wa_loop_uv(c->sim->loop));

	if (!d)
		return Y_ENOMEM;
	d->next = NULL;
	d->due = now + c->sim->latency_ms;
	if (c->dtail && d->due < c->dtail->due)
		d->due = c->dtail->due;
	d->len = n;
	memcpy(d->data, p, n);
	if (c->dtail)
		c->dtail->next = d;
	else
		c->dhead = d;
	c->dtail = d;
	if (!c->dtimer) {
		c->dtimer = malloc(sizeof(*c->dtimer));
		if (!c->dtimer)
			return Y_ENOMEM;
		uv_timer_init(wa_loop_uv(c->sim->loop), c->dtimer);
		c->dtimer->data = c;
	}
	if (!uv_is_active((uv_handle_t *)c->dtimer))
		uv_timer_start(c->dtimer, on_delay_timer, c->dhead->due - now, 0);
	return Y_OK;
}

/* Encodes, encrypts and queues one node; takes ownership of n. A failure
 * leaves the Noise counter out of step, so the connection is closed. */
static int conn_send(struct sim_conn *c, struct wa_node *n)
{
	struct ybuf pt = YBUF_INIT(WA_FRAME_MAX), ct = YBUF_INIT(WA_FRAME_MAX);
	int rc;

	if (!n)
		return Y_ENOMEM;
	if (c->state != C_OPEN || (!c->ws && !c->test_out)) {
		wa_node_free(n);
		return Y_ECLOSED;
	}
	conn_log_node(c, "out", n);
	rc = wa_binary_encode(n, c->dict, &pt);
	if (c->test_out) { /* 3-byte length, then the plaintext frame */
		uint8_t len[3] = { (uint8_t)(pt.len >> 16), (uint8_t)(pt.len >> 8), (uint8_t)pt.len };

		rc = rc ?: ybuf_append(c->test_out, len, 3);
		rc = rc ?: ybuf_append(c->test_out, pt.data, pt.len);
	} else {
		rc = rc ?: wa_noise_encrypt(&c->nz, pt.data, pt.len, &ct);
		if (!rc && (c->sim->latency_ms || c->dhead))
			rc = hold_frame(c, ct.data, ct.len);
		else if (!rc)
			rc = wa_socket_send_frame(c->ws, ct.data, ct.len);
	}
	wa_node_free(n);
	ybuf_release(&pt);
	ybuf_release(&ct);
	if (rc) {
		LOG_WARN("sim send failed", "{s:I, s:s}", "conn", (json_int_t)c->id, "error",
			 y_strerror(rc));
		c->sim->st.errors++;
		conn_close(c);
		return rc;
	}
	c->sim->st.nodes_out++;
	return Y_OK;
}

/* <iq from=@s.whatsapp.net type=result id=ID/> answering req. */
static struct wa_node *iq_result(const struct wa_node *req)
{
	struct wa_node *n = wa_node_new("iq");

	if (n && attrs(n, "from", S_WA, "type", "result", "id", wa_node_attr(req, "id"), NULL)) {
		wa_node_free(n);
		return NULL;
	}
	return n;
}

/* <iq type=error id><error code text/></iq>, as WhatsApp answers a bad iq. */
static int iq_error(struct sim_conn *c, const struct wa_node *req, const char *code,
		    const char *text)
{
	struct wa_node *n = wa_node_new("iq"), *e;

	if (!n || attrs(n, "from", S_WA, "type", "error", "id", wa_node_attr(req, "id"), NULL) ||
	    !(e = wa_node_add_child(n, "error")) || attrs(e, "code", code, "text", text, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	return conn_send(c, n);
}

static void new_msg_id(char out[24])
{
	uint8_t r[9];

	wa_crypto_random(r, sizeof(r));
	memcpy(out, "3EB0", 4);
	hexs(r, sizeof(r), out + 4, true);
}

static void device_jid(const struct sim_account *a, uint32_t dev, bool lid, char *out, size_t cap)
{
	if (dev)
		snprintf(out, cap, "%s:%u@%s", lid ? a->lid : a->phone, dev,
			 lid ? "lid" : "s.whatsapp.net");
	else
		snprintf(out, cap, "%s@%s", lid ? a->lid : a->phone, lid ? "lid" : "s.whatsapp.net");
}

/* Delivers a stanza to a device now, or queues it (with offline="1") until
 * it reconnects. Takes ownership of n. */
static int deliver(struct sim *s, struct sim_device *d, struct wa_node *n)
{
	struct sim_pending *p;

	if (!n)
		return Y_ENOMEM;
	if (d->conn && d->conn->state == C_OPEN)
		return conn_send(d->conn, n);
	if (d->nq >= SIM_QUEUE_MAX || wa_node_add_attr(n, "offline", "1") ||
	    !(p = calloc(1, sizeof(*p)))) {
		wa_node_free(n);
		return Y_ETOOBIG;
	}
	p->node = n;
	if (d->qtail)
		d->qtail->next = p;
	else
		d->qhead = p;
	d->qtail = p;
	d->nq++;
	s->st.messages_queued++;
	return Y_OK;
}

/* ---- the phone (device 0) as a Signal endpoint ---- */

/* Encrypts a Message from the phone of `a` to its companion d and delivers
 * it as <message category=peer><enc/></message>. */
static int phone_send(struct sim *s, struct sim_account *a, struct sim_device *d,
		      const Wa__Message *m)
{
	struct ybuf pb = YBUF_INIT(1 << 20);
	struct wa_signal_addr addr;
	enum wa_signal_type type;
	uint8_t *padded = NULL, *ct = NULL;
	size_t plen, clen;
	struct wa_node *n = NULL, *enc;
	char id[24], from[64], t[24];
	int rc;

	/* the phone names each peer device by its LID (as phone_receive does) */
	rc = wa_signal_address(&addr, a->lid, "lid", 0, d->id, WA_SIGNAL_ADDR_DOMAIN);
	if (rc)
		goto out;
	if (wa_signal_has_session(a->sig, &addr) != 1) {
		struct wa_signal_bundle b;

		memset(&b, 0, sizeof(b));
		b.registration_id = d->reg_id;
		memcpy(b.identity, d->identity, WA_KEY_LEN);
		b.skey = d->spk;
		if (d->nprekeys) {
			b.has_prekey = 1;
			b.key = d->prekeys[0];
			memmove(d->prekeys, d->prekeys + 1, --d->nprekeys * sizeof(*d->prekeys));
		}
		rc = wa_signal_session_from_bundle(a->sig, &addr, &b);
		if (rc)
			goto out;
	}
	rc = wa_pb_pack(&m->base, &pb);
	rc = rc ?: wa_signal_pad(pb.data, pb.len, &padded, &plen);
	rc = rc ?: wa_signal_encrypt(a->sig, &addr, padded, plen, &type, &ct, &clen);
	if (rc)
		goto out;
	new_msg_id(id);
	device_jid(a, 0, false, from, sizeof(from));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)now_s());
	rc = Y_ENOMEM;
	n = wa_node_new("message");
	if (!n || attrs(n, "from", from, "id", id, "t", t, "type", "text", "category", "peer",
			NULL))
		goto out;
	enc = child_bytes(n, "enc", ct, clen);
	if (!enc || attrs(enc, "v", "2", "type", wa_signal_type_name(type), NULL))
		goto out;
	rc = deliver(s, d, n);
	n = NULL;
out:
	wa_node_free(n);
	free(padded);
	free(ct);
	ybuf_release(&pb);
	if (rc)
		LOG_WARN("sim phone send failed", "{s:s, s:i, s:s}", "phone", a->phone, "device",
			 (int)d->id, "error", y_strerror(rc));
	return rc;
}

/* Right after a new companion's first login: the app-state sync key share
 * and a history-sync notification (protocol-map.md §10 (c)6). */
static int phone_welcome(struct sim *s, struct sim_account *a, struct sim_device *d)
{
	Wa__Message m1 = WA__MESSAGE__INIT, m2 = WA__MESSAGE__INIT;
	Wa__Message__ProtocolMessage p1 = WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
	Wa__Message__ProtocolMessage p2 = WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
	Wa__Message__AppStateSyncKeyShare share = WA__MESSAGE__APP_STATE_SYNC_KEY_SHARE__INIT;
	Wa__Message__AppStateSyncKey key = WA__MESSAGE__APP_STATE_SYNC_KEY__INIT;
	Wa__Message__AppStateSyncKey *keys[1] = { &key };
	Wa__Message__AppStateSyncKeyId kid = WA__MESSAGE__APP_STATE_SYNC_KEY_ID__INIT;
	Wa__Message__AppStateSyncKeyData kd = WA__MESSAGE__APP_STATE_SYNC_KEY_DATA__INIT;
	Wa__Message__AppStateSyncKeyFingerprint fp =
		WA__MESSAGE__APP_STATE_SYNC_KEY_FINGERPRINT__INIT;
	Wa__Message__HistorySyncNotification hs = WA__MESSAGE__HISTORY_SYNC_NOTIFICATION__INIT;
	uint32_t dev_indexes[1] = { 0 };
	uint8_t key_id[6], key_data[32];
	int rc;

	rc = wa_crypto_random(key_id, sizeof(key_id)) ?: wa_crypto_random(key_data, sizeof(key_data));
	if (rc)
		return rc;
	kid.has_keyid = 1;
	kid.keyid.data = key_id;
	kid.keyid.len = sizeof(key_id);
	fp.has_rawid = 1;
	fp.rawid = 1;
	fp.has_currentindex = 1;
	fp.currentindex = 0;
	fp.n_deviceindexes = 1;
	fp.deviceindexes = dev_indexes;
	kd.has_keydata = 1;
	kd.keydata.data = key_data;
	kd.keydata.len = sizeof(key_data);
	kd.fingerprint = &fp;
	kd.has_timestamp = 1;
	kd.timestamp = (int64_t)now_s() * 1000;
	key.keyid = &kid;
	key.keydata = &kd;
	share.n_keys = 1;
	share.keys = keys;
	p1.has_type = 1;
	p1.type = WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__APP_STATE_SYNC_KEY_SHARE;
	p1.appstatesynckeyshare = &share;
	m1.protocolmessage = &p1;

	hs.has_synctype = 1;
	hs.synctype = WA__MESSAGE__HISTORY_SYNC_NOTIFICATION__HISTORY_SYNC_TYPE__NON_BLOCKING_DATA;
	hs.has_chunkorder = 1;
	hs.chunkorder = 1;
	hs.has_progress = 1;
	hs.progress = 100;
	p2.has_type = 1;
	p2.type = WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__HISTORY_SYNC_NOTIFICATION;
	p2.historysyncnotification = &hs;
	m2.protocolmessage = &p2;

	rc = phone_send(s, a, d, &m1) ?: phone_send(s, a, d, &m2);
	wa_wipe(key_data, sizeof(key_data));
	if (!rc)
		d->key_shared = true;
	return rc;
}

/* ---- handshake ---- */

static int on_hello(struct sim_conn *c, const uint8_t *p, size_t n)
{
	struct ybuf out = YBUF_INIT(8192);
	uint8_t intro[4] = { 'W', 'A', WA_FRAME_MAGIC, 0 };
	int rc;

	c->dict = wa_socket_dict(c->ws);
	if (c->dict != WA_DICT_V2 && c->dict != WA_DICT_V3)
		return Y_EUNSUPPORTED;
	intro[3] = (uint8_t)c->dict;
	wa_noise_init(&c->nz, WA_NOISE_RESPONDER, intro);
	rc = wa_noise_read_client_hello(&c->nz, p, n);
	rc = rc ?: wa_noise_server_hello(&c->nz, &c->sim->static_key, c->sim->cert_chain.data,
					 c->sim->cert_chain.len, &out);
	rc = rc ?: wa_socket_send_frame(c->ws, out.data, out.len);
	ybuf_release(&out);
	if (!rc)
		c->state = C_FINISH;
	return rc;
}

/* A registration: keep the companion's keys and offer pair-device refs. */
static int on_register(struct sim_conn *c, const Wa__ClientPayload__DevicePairingRegistrationData *d)
{
	struct wa_node *n, *pd;
	int rc;

	if (!d->has_eident || d->eident.len != WA_KEY_LEN || !d->has_eregid || d->eregid.len != 4 ||
	    !d->has_eskeyid || d->eskeyid.len != 3 || !d->has_eskeyval ||
	    d->eskeyval.len != WA_KEY_LEN || !d->has_eskeysig || d->eskeysig.len != WA_SIG_LEN)
		return Y_EINVAL;
	memcpy(c->reg.ident, d->eident.data, WA_KEY_LEN);
	c->reg.reg_id = wa_signal_get_be32(d->eregid.data);
	c->reg.spk.id = wa_signal_get_be24(d->eskeyid.data);
	memcpy(c->reg.spk.pub, d->eskeyval.data, WA_KEY_LEN);
	memcpy(c->reg.spk.sig, d->eskeysig.data, WA_SIG_LEN);
	c->registering = true;
	c->sim->st.registrations++;

	n = wa_node_new("iq");
	if (!n || attrs(n, "from", S_WA, "type", "set", "id", "pair-device-1", "xmlns", "md",
			NULL) ||
	    !(pd = wa_node_add_child(n, "pair-device"))) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	for (int i = 0; i < SIM_REFS; i++) {
		uint8_t r[16];

		rc = wa_crypto_random(r, sizeof(r));
		if (rc) {
			wa_node_free(n);
			return rc;
		}
		memcpy(c->refs[i], "2@", 2);
		hexs(r, sizeof(r), c->refs[i] + 2, false);
		if (!child_bytes(pd, "ref", c->refs[i], strlen(c->refs[i]))) {
			wa_node_free(n);
			return Y_ENOMEM;
		}
	}
	LOG_INFO("sim registration", "{s:I, s:i}", "conn", (json_int_t)c->id, "dict", c->dict);
	return conn_send(c, n);
}

static int send_failure(struct sim_conn *c, const char *reason)
{
	struct wa_node *n = wa_node_new("failure");

	if (!n || attrs(n, "reason", reason, "location", "sim", NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	conn_send(c, n);
	conn_close(c);
	return Y_OK;
}

static int send_stream_error(struct sim_conn *c, const char *code, const char *conflict)
{
	struct wa_node *n = wa_node_new("stream:error"), *k;

	if (!n || attrs(n, "code", code, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	if (conflict &&
	    (!(k = wa_node_add_child(n, "conflict")) || attrs(k, "type", conflict, NULL))) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	conn_send(c, n);
	conn_close(c);
	return Y_OK;
}

static int on_login(struct sim_conn *c, const Wa__ClientPayload *cp)
{
	struct sim *s = c->sim;
	char phone[24], lid[64], t[24];
	struct sim_account *a;
	struct sim_device *d;
	struct wa_node *n;

	if (!cp->has_username || !cp->has_device)
		return send_failure(c, "400");
	snprintf(phone, sizeof(phone), "%llu", (unsigned long long)cp->username);
	a = sim_account_find(s, phone);
	d = a ? sim_device_find(a, cp->device) : NULL;
	if (!d || wa_memeq_ct(d->noise, c->client_static, WA_KEY_LEN)) {
		LOG_INFO("sim login refused", "{s:s, s:i}", "phone", phone, "device",
			 (int)cp->device);
		return send_failure(c, "401");
	}
	if (d->conn && d->conn != c) {
		struct sim_conn *old = d->conn;

		conn_detach(old);
		send_stream_error(old, NULL, "replaced");
	}
	d->conn = c;
	c->dev = d;
	c->acct = a;
	s->st.logins++;
	device_jid(a, d->id, true, lid, sizeof(lid));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)now_s());
	n = wa_node_new("success");
	if (!n || attrs(n, "t", t, "props", "1", "abprops", "1", "location", "sim", "creation", t,
			"lid", lid, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	LOG_INFO("sim login", "{s:s, s:i, s:i}", "phone", phone, "device", (int)d->id, "dict",
		 c->dict);
	return conn_send(c, n);
}

static void timer_stop(struct sim_conn *c)
{
	if (!c->timer)
		return;
	uv_timer_stop(c->timer);
	uv_close((uv_handle_t *)c->timer, timer_closed);
	c->timer = NULL;
}

/* Whether the ClientPayload's userAgent.appVersion (primary, secondary,
 * tertiary; absent parts count as 0) is below the configured minimum. */
static bool client_outdated(struct sim_conn *c, const Wa__ClientPayload *cp)
{
	const struct sim *s = c->sim;
	const Wa__ClientPayload__UserAgent__AppVersion *v =
		cp->useragent ? cp->useragent->appversion : NULL;
	uint32_t have[3] = { v && v->has_primary ? v->primary : 0,
			     v && v->has_secondary ? v->secondary : 0,
			     v && v->has_tertiary ? v->tertiary : 0 };

	if (!s->min_version_on)
		return false;
	for (int i = 0; i < 3; i++)
		if (have[i] != s->min_version[i]) {
			if (have[i] > s->min_version[i])
				return false;
			LOG_INFO("sim client outdated", "{s:I, s:i, s:i, s:i}", "conn",
				 (json_int_t)c->id, "primary", (int)have[0], "secondary",
				 (int)have[1], "tertiary", (json_int_t)have[2]);
			return true;
		}
	return false;
}

/* The answer to the ClientPayload: pair-device refs or success/failure
 * (405 for a client below the minimum version, as WhatsApp answers one). */
static void on_payload_timer(uv_timer_t *t)
{
	struct sim_conn *c = t->data;
	Wa__ClientPayload *cp = NULL;
	int rc;

	timer_stop(c);
	rc = wa_pb_unpack(&wa__client_payload__descriptor, c->payload.data, c->payload.len,
			  (ProtobufCMessage **)&cp);
	ybuf_release(&c->payload);
	if (!rc && c->state == C_OPEN && client_outdated(c, cp)) {
		c->sim->st.outdated++;
		rc = send_failure(c, "405");
	} else if (!rc && c->state == C_OPEN) {
		rc = cp->devicepairingdata ? on_register(c, cp->devicepairingdata) : on_login(c, cp);
	}
	if (cp)
		protobuf_c_message_free_unpacked(&cp->base, NULL);
	if (rc) {
		LOG_WARN("sim connection error", "{s:I, s:s}", "conn", (json_int_t)c->id, "error",
			 y_strerror(rc));
		c->sim->st.errors++;
		conn_close(c);
	}
}

static int on_finish(struct sim_conn *c, const uint8_t *p, size_t n)
{
	Wa__ClientPayload *cp = NULL;
	int rc;

	ybuf_init(&c->payload, PAYLOAD_MAX);
	rc = wa_noise_read_client_finish(&c->nz, p, n, &c->payload);
	if (rc)
		return rc;
	memcpy(c->client_static, c->nz.remote_static, WA_KEY_LEN);
	/* checked now, answered after POST_HANDSHAKE_DELAY_MS */
	rc = wa_pb_unpack(&wa__client_payload__descriptor, c->payload.data, c->payload.len,
			  (ProtobufCMessage **)&cp);
	if (rc)
		return rc;
	protobuf_c_message_free_unpacked(&cp->base, NULL);
	c->state = C_OPEN;
	c->sim->st.handshakes++;
	c->timer = malloc(sizeof(*c->timer));
	if (!c->timer)
		return Y_ENOMEM;
	uv_timer_init(wa_loop_uv(c->sim->loop), c->timer);
	c->timer->data = c;
	uv_timer_start(c->timer, on_payload_timer, POST_HANDSHAKE_DELAY_MS, 0);
	return Y_OK;
}

/* ---- pairing ---- */

static int b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Decodes base64 (standard or URL alphabet, padding optional) of exactly
 * `want` bytes. 0 or Y_EINVAL. */
static int b64_exact(const char *in, size_t len, uint8_t *out, size_t want)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	while (len && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return Y_EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= want)
				return Y_EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == want ? Y_OK : Y_EINVAL;
}

/* Builds the ADVSignedDeviceIdentityHMAC of pair-success: the phone
 * (account identity) vouches for the companion's identity. */
static int make_device_identity(struct sim_account *a, uint32_t key_index,
				const uint8_t ident[WA_KEY_LEN], const uint8_t adv[32],
				struct ybuf *out)
{
	struct wa_adv_details d;
	struct wa_keypair acct;
	uint8_t raw[4];
	int rc = wa_crypto_random(raw, sizeof(raw));

	if (rc)
		return rc;
	d.raw_id = (((uint32_t)raw[0] << 24) | ((uint32_t)raw[1] << 16) | ((uint32_t)raw[2] << 8) |
		    raw[3]) & 0x7fffffff;
	d.timestamp = now_s();
	d.key_index = key_index;
	memcpy(acct.pub, a->ident.pub, WA_KEY_LEN);
	memcpy(acct.priv, a->ident.priv, WA_KEY_LEN);
	rc = wa_adv_make(&acct, &d, ident, adv, out);
	wa_wipe(&acct, sizeof(acct));
	return rc;
}

/* The phone of `phone` accepts the companion on c: pair-success with an
 * ADV identity HMACed with adv. Writes the device JID into jid. */
static int pair_success(struct sim_conn *c, const char *phone, const uint8_t adv[32], char *jid,
			size_t jid_cap)
{
	struct sim *s = c->sim;
	struct ybuf di = YBUF_INIT(4096);
	struct sim_account *a;
	struct wa_node *n = NULL, *ps, *k;
	char id[SIM_IQ_ID_LEN], devjid[64], lidjid[64];
	int rc;

	a = sim_account_get(s, phone);
	if (!a)
		return Y_ENOMEM;
	c->pair.acct = a;
	c->pair.dev = a->next_device;
	c->pair.key_index = a->key_index + 1;
	rc = make_device_identity(a, c->pair.key_index, c->reg.ident, adv, &di);
	if (rc)
		goto out;
	snprintf(id, sizeof(id), "pair-%llu", (unsigned long long)++s->next_iq);
	device_jid(a, c->pair.dev, false, devjid, sizeof(devjid));
	device_jid(a, c->pair.dev, true, lidjid, sizeof(lidjid));
	rc = Y_ENOMEM;
	n = wa_node_new("iq");
	if (!n || attrs(n, "from", S_WA, "type", "set", "id", id, "xmlns", "md", NULL) ||
	    !(ps = wa_node_add_child(n, "pair-success")) ||
	    !child_bytes(ps, "device-identity", di.data, di.len) ||
	    !(k = wa_node_add_child(ps, "platform")) || attrs(k, "name", "android", NULL) ||
	    !(k = wa_node_add_child(ps, "device")) ||
	    attrs(k, "jid", devjid, "lid", lidjid, NULL))
		goto out;
	rc = conn_send(c, n);
	n = NULL;
	if (rc)
		goto out;
	a->next_device++;
	a->key_index++;
	c->pair.active = true;
	snprintf(c->pair.iq, sizeof(c->pair.iq), "%s", id);
	snprintf(jid, jid_cap, "%s", devjid);
	LOG_INFO("sim pair-success", "{s:s, s:s}", "phone", a->phone, "jid", devjid);
out:
	wa_node_free(n);
	ybuf_release(&di);
	return rc;
}

/* ---- pair code (link code) linking, protocol-map.md §5.2 ---- */

/* companion_hello: keep the wrapped ephemeral key, answer with a ref. */
static int lc_hello(struct sim_conn *c, const struct wa_node *iq, const struct wa_node *lc)
{
	const char *jid = wa_node_attr(lc, "jid");
	const uint8_t *w, *auth;
	size_t wl, al;
	struct wa_jid j;
	struct wa_node *r, *k;
	uint8_t rnd[8];
	char norm[SIM_PHONE_MAX + 1], user[32];

	w = kid_bytes(lc, "link_code_pairing_wrapped_companion_ephemeral_pub", &wl);
	auth = kid_bytes(lc, "companion_server_auth_key_pub", &al);
	if (!c->registering || !jid || wa_jid_parse(jid, strlen(jid), &j) || j.user_len == 0 ||
	    j.user_len >= sizeof(user) || !w || wl != sizeof(c->lc.wrapped) || !auth ||
	    al != WA_KEY_LEN || memcmp(auth, c->client_static, WA_KEY_LEN))
		return iq_error(c, iq, "400", "bad-request");
	memcpy(user, j.user, j.user_len);
	user[j.user_len] = 0;
	if (sim_phone_norm(user, norm))
		return iq_error(c, iq, "400", "bad-request");
	wa_paircode_job_cancel(c->lc.job); /* a new hello replaces the last one */
	c->lc.job = NULL;
	memcpy(c->lc.wrapped, w, wl);
	snprintf(c->lc.phone, sizeof(c->lc.phone), "%s", norm);
	if (wa_crypto_random(rnd, sizeof(rnd)))
		return Y_ECRYPTO;
	memcpy(c->lc.ref, "lc-", 3);
	hexs(rnd, sizeof(rnd), c->lc.ref + 3, false);
	c->lc.active = true;
	c->lc.entered = false;
	r = iq_result(iq);
	if (!r || !(k = wa_node_add_child(r, "link_code_companion_reg")) ||
	    !child_bytes(k, "link_code_pairing_ref", c->lc.ref, strlen(c->lc.ref))) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	LOG_INFO("sim pair-code hello", "{s:s}", "phone", norm);
	return conn_send(c, r);
}

/* The phone's side of the code, computed off the loop (both PBKDF2s): the
 * companion's ephemeral key unwrapped, ours wrapped. Pushes primary_hello. */
static void lc_entered(struct wa_paircode_job *j, void *ud)
{
	struct sim_conn *c = ud;
	struct sim *s = c->sim;
	struct sim_account *a = sim_account_find(s, c->lc.phone);
	struct wa_node *no = NULL, *lc;
	char id[SIM_IQ_ID_LEN], t[24];
	int rc = j->err;

	c->lc.job = NULL;
	if (c->state != C_OPEN)
		return; /* closing: nobody to tell */
	if (!rc && !a)
		rc = Y_ENOTFOUND;
	if (rc)
		goto out;
	memcpy(c->lc.companion_eph, j->unwrapped, WA_KEY_LEN);
	snprintf(id, sizeof(id), "lc-%llu", (unsigned long long)++s->next_iq);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)now_s());
	rc = Y_ENOMEM;
	no = wa_node_new("notification");
	if (!no || attrs(no, "from", S_WA, "type", "link_code_companion_reg", "id", id, "t", t,
			 NULL) ||
	    !(lc = wa_node_add_child(no, "link_code_companion_reg")) ||
	    attrs(lc, "stage", "primary_hello", NULL) ||
	    !child_bytes(lc, "link_code_pairing_ref", c->lc.ref, strlen(c->lc.ref)) ||
	    !child_bytes(lc, "primary_identity_pub", a->ident.pub, WA_KEY_LEN) ||
	    !child_bytes(lc, "link_code_pairing_wrapped_primary_ephemeral_pub", j->wrapped,
			 sizeof(j->wrapped)))
		goto out;
	rc = conn_send(c, no);
	no = NULL;
	if (!rc)
		c->lc.entered = true;
out:
	if (rc) {
		LOG_WARN("sim pair-code entry failed", "{s:I, s:s}", "conn", (json_int_t)c->id,
			 "error", y_strerror(rc));
		s->st.pair_code_failed++;
	}
	wa_node_free(no);
}

int sim_conn_pair_code(struct sim *s, const char *phone, const char *code_in)
{
	struct wa_paircode_job *j = NULL;
	struct sim_conn *c;
	char code[WA_PAIRCODE_LEN + 1];
	int rc;

	if (wa_paircode_normalize(code_in, code))
		return Y_EINVAL;
	for (c = s->conns; c; c = c->next)
		if (c->lc.active && !c->lc.entered && !c->lc.job && c->state == C_OPEN &&
		    !strcmp(c->lc.phone, phone))
			break;
	if (!c)
		return Y_ENOTFOUND;
	if (!sim_account_get(s, phone))
		return Y_ENOMEM;
	rc = wa_paircode_job_new(&j);
	rc = rc ?: wa_keypair_generate(&c->lc.primary_eph);
	if (rc)
		goto out;
	memcpy(j->code, code, sizeof(code));
	j->unwrap = true;
	memcpy(j->wrapped_in, c->lc.wrapped, sizeof(j->wrapped_in));
	j->wrap = true;
	memcpy(j->pub, c->lc.primary_eph.pub, WA_KEY_LEN);
	rc = wa_paircode_job_start(s->loop, j, lc_entered, c);
	if (!rc) {
		c->lc.job = j; /* conn_free cancels it */
		j = NULL;
	}
out:
	wa_paircode_job_free(j);
	wa_wipe(code, sizeof(code));
	return rc;
}

/* companion_finish: open the key bundle, derive the adv secret, pair. */
static int lc_finish(struct sim_conn *c, const struct wa_node *iq, const struct wa_node *lc)
{
	const uint8_t *bundle, *ident, *ref;
	size_t bl, il, rl;
	uint8_t eph[32], idsh[32], plain[WA_PAIRCODE_BUNDLE_PLAIN_LEN], adv[32];
	struct sim_account *a;
	char jid[64];
	int rc;

	bundle = kid_bytes(lc, "link_code_pairing_wrapped_key_bundle", &bl);
	ident = kid_bytes(lc, "companion_identity_public", &il);
	ref = kid_bytes(lc, "link_code_pairing_ref", &rl);
	if (!c->lc.entered || !bundle || bl != WA_PAIRCODE_BUNDLE_LEN || !ident ||
	    il != WA_KEY_LEN || !ref || rl != strlen(c->lc.ref) || memcmp(ref, c->lc.ref, rl) ||
	    memcmp(ident, c->reg.ident, WA_KEY_LEN))
		return iq_error(c, iq, "400", "bad-request");
	a = sim_account_find(c->sim, c->lc.phone);
	if (!a)
		return iq_error(c, iq, "404", "item-not-found");
	rc = wa_x25519(eph, c->lc.primary_eph.priv, c->lc.companion_eph);
	rc = rc ?: wa_paircode_bundle_open(plain, eph, bundle, bl);
	if (rc || memcmp(plain, ident, WA_KEY_LEN) || memcmp(plain + 32, a->ident.pub, WA_KEY_LEN)) {
		/* a wrong code: the two sides hold different ephemeral secrets */
		LOG_INFO("sim pair-code refused", "{s:s}", "phone", c->lc.phone);
		c->sim->st.pair_code_failed++;
		c->lc.active = c->lc.entered = false;
		rc = iq_error(c, iq, "401", "not-authorized");
		goto out;
	}
	rc = wa_x25519(idsh, a->ident.priv, ident);
	rc = rc ?: wa_paircode_adv_secret(adv, eph, idsh, plain + 64);
	rc = rc ?: conn_send(c, iq_result(iq));
	if (rc)
		goto out;
	c->lc.active = false;
	rc = pair_success(c, c->lc.phone, adv, jid, sizeof(jid));
out:
	wa_wipe(eph, sizeof(eph));
	wa_wipe(idsh, sizeof(idsh));
	wa_wipe(plain, sizeof(plain));
	wa_wipe(adv, sizeof(adv));
	return rc;
}

int sim_qr_parse(const char *qr, struct sim_qr *out)
{
	const char *f[6], *hash = strchr(qr, '#');
	size_t fl[6], nf = 0;

	if (hash)
		qr = hash + 1;
	for (const char *p = qr;;) {
		const char *comma = strchr(p, ',');

		if (nf == 6)
			return Y_EINVAL;
		f[nf] = p;
		fl[nf] = comma ? (size_t)(comma - p) : strlen(p);
		nf++;
		if (!comma)
			break;
		p = comma + 1;
	}
	if ((nf != 4 && nf != 5) || fl[0] == 0 || fl[0] >= SIM_REF_LEN)
		return Y_EINVAL;
	out->ref = f[0];
	out->ref_len = fl[0];
	if (b64_exact(f[1], fl[1], out->noise, WA_KEY_LEN) ||
	    b64_exact(f[2], fl[2], out->identity, WA_KEY_LEN) ||
	    b64_exact(f[3], fl[3], out->adv, sizeof(out->adv)))
		return Y_EINVAL;
	return Y_OK;
}

int sim_conn_scan(struct sim *s, const char *phone, const char *qr, char *jid, size_t jid_cap)
{
	struct sim_qr q;
	struct sim_conn *c;

	if (sim_qr_parse(qr, &q))
		return Y_EINVAL;
	for (c = s->conns; c; c = c->next) {
		if (!c->registering || c->state != C_OPEN || c->pair.active)
			continue;
		for (int i = 0; i < SIM_REFS; i++)
			if (strlen(c->refs[i]) == q.ref_len && !memcmp(c->refs[i], q.ref, q.ref_len))
				goto found;
	}
	return Y_ENOTFOUND;
found:
	if (memcmp(q.noise, c->client_static, WA_KEY_LEN) ||
	    memcmp(q.identity, c->reg.ident, WA_KEY_LEN))
		return Y_EINVAL;
	{
		struct sim_account *a = sim_account_find(s, phone);

		if (a && a->passkey) { /* no device yet: jid stays empty */
			if (jid_cap)
				jid[0] = 0;
			return sim_passkey_begin(c, a, q.ref, q.ref_len, q.adv);
		}
	}
	return pair_success(c, phone, q.adv, jid, jid_cap);
}

/* ---- shared with the feature files (sim_int.h) ---- */

int sim_conn_send(struct sim_conn *c, struct wa_node *n)
{
	return conn_send(c, n);
}

struct wa_node *sim_conn_iq_result(const struct wa_node *req)
{
	return iq_result(req);
}

int sim_conn_iq_error(struct sim_conn *c, const struct wa_node *req, const char *code,
		      const char *text)
{
	return iq_error(c, req, code, text);
}

int sim_conn_pair_success(struct sim_conn *c, const char *phone, const uint8_t adv[32],
			  char *jid, size_t jid_cap)
{
	return pair_success(c, phone, adv, jid, jid_cap);
}

const uint8_t *sim_conn_noise_pub(const struct sim_conn *c)
{
	return c->client_static;
}

const uint8_t *sim_conn_identity_pub(const struct sim_conn *c)
{
	return c->reg.ident;
}

struct sim *sim_conn_sim(const struct sim_conn *c)
{
	return c->sim;
}

struct sim_passkey_link **sim_conn_passkey(struct sim_conn *c)
{
	return &c->pk;
}

/* The companion's <pair-device-sign>: the device exists from now on; the
 * stream restarts (515). */
static int on_pair_sign(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *sign = wa_node_child(iq, "pair-device-sign");
	struct wa_node *di = sign ? wa_node_child(sign, "device-identity") : NULL;
	struct sim_account *a = c->pair.acct;
	struct sim_device *d;
	const uint8_t *sig;
	uint32_t ki;
	size_t len;

	c->pair.active = false;
	if (!di || !(sig = wa_node_bytes(di, &len)) || !len)
		return send_stream_error(c, "500", NULL);
	/* the companion must sign what the phone vouched for (as WhatsApp checks) */
	if (wa_adv_verify_device(sig, len, a->ident.pub, c->reg.ident, &ki) ||
	    ki != c->pair.key_index) {
		LOG_WARN("sim pair-device-sign refused: bad device signature", "{s:s}", "phone",
			 a->phone);
		c->sim->st.errors++;
		return send_stream_error(c, "401", NULL);
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return Y_ENOMEM;
	d->acct = a;
	d->id = c->pair.dev;
	d->key_index = c->pair.key_index;
	memcpy(d->identity, c->reg.ident, WA_KEY_LEN);
	d->reg_id = c->reg.reg_id;
	d->spk = c->reg.spk;
	memcpy(d->noise, c->client_static, WA_KEY_LEN);
	d->next = a->devices;
	a->devices = d;
	c->sim->st.pairings++;
	LOG_INFO("sim paired", "{s:s, s:i}", "phone", a->phone, "device", (int)d->id);
	return send_stream_error(c, "515", NULL);
}

/* ---- iqs ---- */

static int iq_prekey_count(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *r = iq_result(iq), *k;
	char v[24];

	snprintf(v, sizeof(v), "%zu", c->dev ? c->dev->nprekeys : 0);
	if (!r || !(k = wa_node_add_child(r, "count")) || attrs(k, "value", v, NULL)) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	return conn_send(c, r);
}

static int iq_prekey_upload(struct sim_conn *c, const struct wa_node *iq)
{
	struct sim_device *d = c->dev;
	struct wa_node *list = wa_node_child(iq, "list");
	size_t nk = 0;

	if (!d)
		return iq_error(c, iq, "401", "not-authorized");
	if (!list)
		return iq_error(c, iq, "400", "bad-request");
	for (uint32_t i = 0; i < list->nkids; i++) {
		const struct wa_node *k = list->kids[i];
		const uint8_t *id, *val;
		size_t il, vl;

		if (!wa_node_is(k, "key"))
			continue;
		id = kid_bytes(k, "id", &il);
		val = kid_bytes(k, "value", &vl);
		if (!id || il != 3 || !val || vl != WA_KEY_LEN)
			return iq_error(c, iq, "400", "bad-request");
		nk++;
	}
	if (d->nprekeys + nk > SIM_PREKEYS_MAX)
		return iq_error(c, iq, "406", "not-acceptable");
	if (nk) {
		struct wa_signal_prekey *p =
			realloc(d->prekeys, (d->nprekeys + nk) * sizeof(*d->prekeys));

		if (!p)
			return Y_ENOMEM;
		d->prekeys = p;
		for (uint32_t i = 0; i < list->nkids; i++) {
			const struct wa_node *k = list->kids[i];
			size_t il, vl;
			const uint8_t *id, *val;

			if (!wa_node_is(k, "key"))
				continue;
			id = kid_bytes(k, "id", &il);
			val = kid_bytes(k, "value", &vl);
			p[d->nprekeys].id = wa_signal_get_be24(id);
			memcpy(p[d->nprekeys].pub, val, WA_KEY_LEN);
			d->nprekeys++;
		}
	}
	c->sim->st.prekey_uploads++;
	LOG_INFO("sim prekeys uploaded", "{s:s, s:i, s:I, s:I}", "phone", d->acct->phone, "device",
		 (int)d->id, "uploaded", (json_int_t)nk, "held", (json_int_t)d->nprekeys);
	return conn_send(c, iq_result(iq));
}

/* Resolves "user[:dev]@server" to an account (by phone or LID). */
static struct sim_account *lookup_jid(struct sim *s, const char *jid, uint32_t *dev, bool *is_lid)
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

static int add_user_error(struct wa_node *list, const char *jid)
{
	struct wa_node *u = wa_node_add_child(list, "user"), *e;

	if (!u || attrs(u, "jid", jid, NULL) || !(e = wa_node_add_child(u, "error")) ||
	    attrs(e, "code", "404", "text", "item-not-found", NULL))
		return Y_ENOMEM;
	return Y_OK;
}

/* One <user jid><registration/><type/><identity/><skey/>[<key/>]</user>. */
static int add_bundle(struct sim *s, struct wa_node *list, const char *jid)
{
	struct sim_account *a;
	struct sim_device *d = NULL;
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey pk;
	const uint8_t *ident;
	uint32_t dev = 0, reg;
	bool is_lid, has_pk = false;
	struct wa_node *u, *k;
	uint8_t b4[4], b3[3];

	a = lookup_jid(s, jid, &dev, &is_lid);
	if (a && dev)
		d = sim_device_find(a, dev);
	if (!a || (dev && !d))
		return add_user_error(list, jid);
	if (d) {
		reg = d->reg_id;
		ident = d->identity;
		spk = d->spk;
		if (d->nprekeys) {
			pk = d->prekeys[0];
			has_pk = true;
			memmove(d->prekeys, d->prekeys + 1, --d->nprekeys * sizeof(*d->prekeys));
		}
	} else {
		reg = a->ident.registration_id;
		ident = a->ident.pub;
		spk = a->spk;
		if (!wa_signal_gen_prekeys(a->sig, a->next_prekey, 1, &pk)) {
			has_pk = true;
			a->next_prekey = a->next_prekey % 0xFFFFFF + 1;
		}
	}
	u = wa_node_add_child(list, "user");
	if (!u || attrs(u, "jid", jid, NULL))
		return Y_ENOMEM;
	wa_signal_put_be32(b4, reg);
	if (!child_bytes(u, "registration", b4, 4) || !child_bytes(u, "type", "\x05", 1) ||
	    !child_bytes(u, "identity", ident, WA_KEY_LEN) || !(k = wa_node_add_child(u, "skey")))
		return Y_ENOMEM;
	wa_signal_put_be24(b3, spk.id);
	if (!child_bytes(k, "id", b3, 3) || !child_bytes(k, "value", spk.pub, WA_KEY_LEN) ||
	    !child_bytes(k, "signature", spk.sig, WA_SIG_LEN))
		return Y_ENOMEM;
	if (has_pk) {
		wa_signal_put_be24(b3, pk.id);
		if (!(k = wa_node_add_child(u, "key")) || !child_bytes(k, "id", b3, 3) ||
		    !child_bytes(k, "value", pk.pub, WA_KEY_LEN))
			return Y_ENOMEM;
	}
	return Y_OK;
}

static int iq_prekey_fetch(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *key = wa_node_child(iq, "key"), *r, *list;

	if (!key || key->content != WA_CONTENT_LIST || key->nkids == 0)
		return iq_error(c, iq, "400", "bad-request");
	r = iq_result(iq);
	if (!r || !(list = wa_node_add_child(r, "list"))) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	for (uint32_t i = 0; i < key->nkids; i++) {
		const char *jid = wa_node_attr(key->kids[i], "jid");

		if (!wa_node_is(key->kids[i], "user") || !jid) {
			wa_node_free(r);
			return iq_error(c, iq, "400", "bad-request");
		}
		if (add_bundle(c->sim, list, jid)) {
			wa_node_free(r);
			return Y_ENOMEM;
		}
	}
	return conn_send(c, r);
}

static int iq_encrypt(struct sim_conn *c, const struct wa_node *iq)
{
	const char *type = wa_node_attr(iq, "type");

	if (!strcmp(type, "get") && wa_node_child(iq, "count"))
		return iq_prekey_count(c, iq);
	if (!strcmp(type, "set") && wa_node_child(iq, "list"))
		return iq_prekey_upload(c, iq);
	if (!strcmp(type, "get") && wa_node_child(iq, "key"))
		return iq_prekey_fetch(c, iq);
	if (!strcmp(type, "set") && wa_node_child(iq, "rotate"))
		return conn_send(c, iq_result(iq));
	return iq_error(c, iq, "400", "bad-request");
}

/* After <active/>: the offline queue, the offline marker, and for a new
 * companion the phone's key share and history notification. */
static int after_active(struct sim_conn *c)
{
	struct sim_device *d = c->dev;
	struct wa_node *ib, *off;
	char count[24];
	size_t sent = 0;
	int rc;

	if (!d)
		return Y_OK;
	while (d->qhead && c->state == C_OPEN) {
		struct sim_pending *p = d->qhead;

		d->qhead = p->next;
		if (!d->qhead)
			d->qtail = NULL;
		d->nq--;
		rc = conn_send(c, p->node);
		free(p);
		if (rc)
			return rc;
		sent++;
	}
	snprintf(count, sizeof(count), "%zu", sent);
	ib = wa_node_new("ib");
	if (!ib || attrs(ib, "from", S_WA, NULL) || !(off = wa_node_add_child(ib, "offline")) ||
	    attrs(off, "count", count, NULL)) {
		wa_node_free(ib);
		return Y_ENOMEM;
	}
	rc = conn_send(c, ib);
	if (!rc && !d->key_shared)
		rc = phone_welcome(c->sim, c->acct, d);
	return rc;
}

static int iq_passive(struct sim_conn *c, const struct wa_node *iq)
{
	int rc = conn_send(c, iq_result(iq));

	if (!rc && wa_node_child(iq, "active"))
		rc = after_active(c);
	return rc;
}

static int add_devices(struct wa_node *u, struct sim_account *a)
{
	struct wa_node *ds = wa_node_add_child(u, "devices"), *dl, *dv;
	char id[16], ki[16];

	if (!ds || !(dl = wa_node_add_child(ds, "device-list")) ||
	    !(dv = wa_node_add_child(dl, "device")) || attrs(dv, "id", "0", NULL))
		return Y_ENOMEM;
	for (struct sim_device *d = a ? a->devices : NULL; d; d = d->next) {
		snprintf(id, sizeof(id), "%u", d->id);
		snprintf(ki, sizeof(ki), "%u", d->key_index);
		if (!(dv = wa_node_add_child(dl, "device")) ||
		    attrs(dv, "id", id, "key-index", ki, NULL))
			return Y_ENOMEM;
	}
	return Y_OK;
}

/* usync: devices, lid and contact protocols, for users given by JID. */
static int iq_usync(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *us = wa_node_child(iq, "usync");
	struct wa_node *query = us ? wa_node_child(us, "query") : NULL;
	struct wa_node *list = us ? wa_node_child(us, "list") : NULL;
	struct wa_node *r, *rus, *rl;
	bool want_dev, want_lid, want_contact;

	if (!us || !query || !list)
		return iq_error(c, iq, "400", "bad-request");
	want_dev = wa_node_child(query, "devices") != NULL;
	want_lid = wa_node_child(query, "lid") != NULL;
	want_contact = wa_node_child(query, "contact") != NULL;
	r = iq_result(iq);
	if (!r || !(rus = wa_node_add_child(r, "usync")) ||
	    attrs(rus, "sid", wa_node_attr(us, "sid"), "index", "0", "last", "true", "mode",
		  wa_node_attr(us, "mode"), "context", wa_node_attr(us, "context"), NULL) ||
	    !(rl = wa_node_add_child(rus, "list")))
		goto nomem;
	for (uint32_t i = 0; list->content == WA_CONTENT_LIST && i < list->nkids; i++) {
		const struct wa_node *qu = list->kids[i];
		const char *jid = wa_node_attr(qu, "jid");
		struct sim_account *a;
		struct wa_node *u, *k;
		uint32_t dev;
		bool is_lid;
		char buf[64];

		if (!wa_node_is(qu, "user") || !jid)
			continue; /* contact lookups by number: not served yet */
		a = lookup_jid(c->sim, jid, &dev, &is_lid);
		if (!(u = wa_node_add_child(rl, "user")) || attrs(u, "jid", jid, NULL))
			goto nomem;
		if (want_dev && add_devices(u, a))
			goto nomem;
		if (want_lid && a && !is_lid) {
			device_jid(a, 0, true, buf, sizeof(buf));
			if (!(k = wa_node_add_child(u, "lid")) || attrs(k, "val", buf, NULL))
				goto nomem;
		}
		if (want_contact && (!(k = wa_node_add_child(u, "contact")) ||
				     attrs(k, "type", a ? "in" : "out", NULL)))
			goto nomem;
	}
	return conn_send(c, r);
nomem:
	wa_node_free(r);
	return Y_ENOMEM;
}

static int iq_app_state(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *sync = wa_node_child(iq, "sync"), *r, *rs, *col;

	if (!sync)
		return iq_error(c, iq, "400", "bad-request");
	r = iq_result(iq);
	if (!r || !(rs = wa_node_add_child(r, "sync")))
		goto nomem;
	for (uint32_t i = 0; sync->content == WA_CONTENT_LIST && i < sync->nkids; i++) {
		const char *name = wa_node_attr(sync->kids[i], "name");
		const char *ver = wa_node_attr(sync->kids[i], "version");

		if (!wa_node_is(sync->kids[i], "collection") || !name)
			continue;
		if (!(col = wa_node_add_child(rs, "collection")) ||
		    attrs(col, "name", name, "version", ver ? ver : "0", NULL))
			goto nomem;
	}
	return conn_send(c, r);
nomem:
	wa_node_free(r);
	return Y_ENOMEM;
}

static int iq_privacy(struct sim_conn *c, const struct wa_node *iq)
{
	static const char *cats[][2] = {
		{ "readreceipts", "all" }, { "last", "all" },	    { "online", "all" },
		{ "profile", "all" },	   { "status", "all" },	    { "groupadd", "all" },
		{ "calladd", "all" },
	};
	struct wa_node *r = iq_result(iq), *p, *k;

	if (!wa_node_child(iq, "privacy"))
		return conn_send(c, r); /* privacy tokens and other sets */
	if (!r || !(p = wa_node_add_child(r, "privacy")))
		goto nomem;
	for (size_t i = 0; i < sizeof(cats) / sizeof(cats[0]); i++)
		if (!(k = wa_node_add_child(p, "category")) ||
		    attrs(k, "name", cats[i][0], "value", cats[i][1], NULL))
			goto nomem;
	return conn_send(c, r);
nomem:
	wa_node_free(r);
	return Y_ENOMEM;
}

static int iq_blocklist(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *r = iq_result(iq);

	if (!r || !wa_node_add_child(r, "list")) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	return conn_send(c, r);
}

static int iq_props(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *r = iq_result(iq), *p, *k;

	if (!wa_node_child(iq, "props"))
		return conn_send(c, r);
	if (!r || !(p = wa_node_add_child(r, "props")) ||
	    attrs(p, "protocol", "2", "hash", "sim1", NULL) || !(k = wa_node_add_child(p, "prop")) ||
	    attrs(k, "name", "sim", "value", "1", NULL)) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	return conn_send(c, r);
}

/* media_conn: where and with which token to upload (sim_media.c). */
static int iq_media(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *r, *m, *h;

	if (!wa_node_child(iq, "media_conn"))
		return iq_error(c, iq, "400", "bad-request");
	r = iq_result(iq);
	if (!r || !(m = wa_node_add_child(r, "media_conn")) ||
	    attrs(m, "auth", c->sim->media_auth, "ttl", "300", "auth_ttl", "21600", "max_buckets",
		  "12", NULL) ||
	    !(h = wa_node_add_child(m, "host")) ||
	    attrs(h, "hostname", c->sim->media_host, "maxContentLengthBytes", "16777216", NULL)) {
		wa_node_free(r);
		return Y_ENOMEM;
	}
	return conn_send(c, r);
}

static int iq_empty(struct sim_conn *c, const struct wa_node *iq)
{
	return conn_send(c, iq_result(iq));
}

static int iq_md(struct sim_conn *c, const struct wa_node *iq)
{
	struct wa_node *lc = wa_node_child(iq, "link_code_companion_reg");
	const char *stage = lc ? wa_node_attr(lc, "stage") : NULL;
	int prc;

	if (sim_passkey_iq(c, iq, &prc))
		return prc;
	if (stage && !strcmp(stage, "companion_hello"))
		return lc_hello(c, iq, lc);
	if (stage && !strcmp(stage, "companion_finish"))
		return lc_finish(c, iq, lc);
	if (wa_node_child(iq, "remove-companion-device") && c->dev && c->acct) {
		/* the companion logs itself out: answer, then unlink it */
		int rc = conn_send(c, iq_result(iq));

		return rc ?: sim_conn_unlink(c->sim, c->acct, c->dev->id);
	}
	return conn_send(c, iq_result(iq));
}

static const struct {
	const char *xmlns;
	int (*fn)(struct sim_conn *c, const struct wa_node *iq);
} iq_table[] = {
	{ "md", iq_md },
	{ "w:m", iq_media },
	{ "w:p", iq_empty },
	{ "encrypt", iq_encrypt },
	{ "passive", iq_passive },
	{ "usync", iq_usync },
	{ "w:sync:app:state", iq_app_state },
	{ "privacy", iq_privacy },
	{ "blocklist", iq_blocklist },
	{ "w", iq_props },
};

static int on_iq(struct sim_conn *c, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id"), *type = wa_node_attr(n, "type");
	const char *xmlns = wa_node_attr(n, "xmlns");

	if (!id || !type)
		return iq_error(c, n, "400", "bad-request");
	if (!strcmp(type, "result") || !strcmp(type, "error")) {
		if (c->pair.active && !strcmp(id, c->pair.iq))
			return on_pair_sign(c, n);
		return Y_OK;
	}
	if (strcmp(type, "get") && strcmp(type, "set"))
		return iq_error(c, n, "400", "bad-request");
	if (!xmlns)
		return iq_error(c, n, "400", "bad-request");
	for (size_t i = 0; i < sizeof(iq_table) / sizeof(iq_table[0]); i++)
		if (!strcmp(xmlns, iq_table[i].xmlns))
			return iq_table[i].fn(c, n);
	c->sim->st.iq_unknown++;
	LOG_DEBUG("sim unknown iq", "{s:s}", "xmlns", xmlns);
	return conn_send(c, iq_result(n));
}

/* ---- messages and receipts ---- */

/* Appends a deep copy of src (attributes, content, children) to parent. */
static int copy_node(struct wa_node *parent, const struct wa_node *src, int depth)
{
	struct wa_node *d;
	int rc = Y_OK;

	if (depth > WA_BINARY_MAX_DEPTH)
		return Y_ETOOBIG;
	d = wa_node_add_child(parent, src->tag);
	if (!d)
		return Y_ENOMEM;
	for (uint32_t i = 0; !rc && i < src->nattrs; i++) {
		const struct wa_attr *a = &src->attrs[i];

		if (a->val.type == WA_VAL_JID)
			rc = wa_node_add_attr_jid(d, a->key, &a->val.jid);
		else
			rc = wa_node_add_attr_len(d, a->key, a->key_len, a->val.str, a->val.len);
	}
	if (rc)
		return rc;
	switch (src->content) {
	case WA_CONTENT_BYTES:
		return wa_node_set_bytes(d, src->bytes, src->nbytes);
	case WA_CONTENT_VALUE:
		if (src->val.type == WA_VAL_JID)
			return wa_node_set_jid(d, &src->val.jid);
		return wa_node_set_text(d, src->val.str, src->val.len);
	case WA_CONTENT_LIST:
		if (!src->nkids)
			return wa_node_set_empty_list(d);
		for (uint32_t i = 0; !rc && i < src->nkids; i++)
			rc = copy_node(d, src->kids[i], depth + 1);
		return rc;
	default:
		return Y_OK;
	}
}

static int send_ack(struct sim_conn *c, const char *cls, const char *id, const char *from,
		    const char *type, const char *error)
{
	struct wa_node *n = wa_node_new("ack");
	char t[24];

	snprintf(t, sizeof(t), "%llu", (unsigned long long)now_s());
	if (!n || attrs(n, "class", cls, "id", id, "from", from, "type", type, "t", t, "error",
			error, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	return conn_send(c, n);
}

/* A message for the primary phone of ra (device 0): the phone decrypts it
 * as a real endpoint would (building the session from a pkmsg, consuming
 * the one-time prekey it names) and checks that it holds a Message. The
 * sender is named by its LID, whatever namespace the stanza used. */
static void phone_receive(struct sim_conn *c, struct sim_account *ra, const struct wa_node *holder,
			  bool lid_mode)
{
	struct sim *s = c->sim;
	struct wa_signal_addr from;
	int ok = 0, seen = 0, last = 0;

	/* one session per sender device whichever namespace the stanza used:
	 * a client keeps its session when it moves a chat from PN to LID */
	(void)lid_mode;
	if (wa_signal_address(&from, c->acct->lid, "lid", 0, c->dev->id, WA_SIGNAL_ADDR_DOMAIN))
		return;
	for (uint32_t i = 0; holder->content == WA_CONTENT_LIST && i < holder->nkids; i++) {
		const struct wa_node *e = holder->kids[i];
		enum wa_signal_type t;
		uint8_t *pt = NULL;
		size_t ptl, unp;
		Wa__Message *m = NULL;

		if (!wa_node_is(e, "enc") || wa_signal_type_parse(wa_node_attr(e, "type"), &t) ||
		    t == WA_SIGNAL_SKMSG)
			continue;
		seen++;
		last = wa_signal_decrypt(ra->sig, &from, t, e->bytes, e->nbytes, &pt, &ptl);
		last = last ?: wa_signal_unpad(pt, ptl, &unp);
		last = last ?: wa_pb_unpack(&wa__message__descriptor, pt, unp,
					    (ProtobufCMessage **)&m);
		if (!last)
			ok++;
		if (m)
			protobuf_c_message_free_unpacked(&m->base, NULL);
		free(pt);
	}
	if (!seen)
		return;
	if (ok) {
		s->st.phone_decrypted++;
	} else {
		s->st.phone_decrypt_failed++;
		LOG_WARN("sim phone could not decrypt", "{s:s, s:s, s:s, s:s}", "phone", ra->phone,
			 "from", c->acct->phone, "address", from.name, "error", y_strerror(last));
	}
}

/* One <to jid><enc/></to> (or the stanza's own <enc> for a direct send):
 * builds the copy the recipient device receives and delivers it. */
static int route_one(struct sim_conn *c, const struct wa_node *msg, const char *to_jid,
		     const struct wa_node *holder, struct sim_account *dest, bool lid_mode)
{
	struct sim *s = c->sim;
	struct sim_account *me = c->acct, *ra;
	struct sim_device *rd;
	struct wa_node *n;
	uint32_t rdev;
	bool rlid;
	char from[64], alt[64], chat_alt[64], t[24], notify[48];
	const char *type = wa_node_attr(msg, "type");

	ra = lookup_jid(s, to_jid, &rdev, &rlid);
	if (!ra)
		return Y_OK; /* unknown user */
	if (rdev == 0) {
		phone_receive(c, ra, holder, lid_mode);
		return Y_OK;
	}
	rd = sim_device_find(ra, rdev);
	if (!rd)
		return Y_OK;
	device_jid(me, c->dev->id, lid_mode, from, sizeof(from));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)now_s());
	snprintf(notify, sizeof(notify), "Sim %s", me->phone);
	n = wa_node_new("message");
	if (!n || attrs(n, "from", from, "id", wa_node_attr(msg, "id"), "t", t, "type",
			type ? type : "text", "notify", notify, NULL))
		goto nomem;
	if (ra == me && dest != me) {
		/* a copy for the sender's other device: keyed by the chat */
		if (attrs(n, "recipient", wa_node_attr(msg, "to"), NULL))
			goto nomem;
		if (dest) {
			device_jid(dest, 0, !lid_mode, chat_alt, sizeof(chat_alt));
			if (attrs(n, lid_mode ? "peer_recipient_pn" : "peer_recipient_lid", chat_alt,
				  NULL))
				goto nomem;
		}
	} else {
		device_jid(me, 0, !lid_mode, alt, sizeof(alt));
		if (attrs(n, lid_mode ? "sender_pn" : "sender_lid", alt, NULL))
			goto nomem;
	}
	for (uint32_t i = 0; holder->content == WA_CONTENT_LIST && i < holder->nkids; i++)
		if (wa_node_is(holder->kids[i], "enc") && copy_node(n, holder->kids[i], 0))
			goto nomem;
	s->st.messages_routed++;
	return deliver(s, rd, n);
nomem:
	wa_node_free(n);
	return Y_ENOMEM;
}

/* Every <enc> under holder has v="2" and a known type. */
static bool encs_valid(const struct wa_node *holder)
{
	int found = 0;

	for (uint32_t i = 0; holder->content == WA_CONTENT_LIST && i < holder->nkids; i++) {
		const struct wa_node *e = holder->kids[i];
		const char *v, *type;
		enum wa_signal_type t;

		if (!wa_node_is(e, "enc"))
			continue;
		v = wa_node_attr(e, "v");
		type = wa_node_attr(e, "type");
		if (!v || strcmp(v, "2") || !type || wa_signal_type_parse(type, &t) ||
		    e->content != WA_CONTENT_BYTES || !e->nbytes)
			return false;
		found++;
	}
	return found > 0;
}

static int on_message(struct sim_conn *c, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id"), *to = wa_node_attr(n, "to");
	struct wa_node *parts = wa_node_child(n, "participants");
	struct sim_account *dest;
	uint32_t ddev;
	bool dlid;
	int rc = Y_OK;

	if (!c->dev)
		return Y_OK;
	if (!id || !to)
		return send_ack(c, "message", id ? id : "", to ? to : S_WA, NULL, "400");
	dest = lookup_jid(c->sim, to, &ddev, &dlid);
	if (parts) {
		/* the whole fan-out is in one namespace: the chat's */
		for (uint32_t i = 0; parts->content == WA_CONTENT_LIST && i < parts->nkids; i++) {
			const struct wa_node *k = parts->kids[i];
			const char *jid = wa_node_attr(k, "jid");
			struct wa_jid j;
			bool klid;

			if (!wa_node_is(k, "to") || !jid || wa_jid_parse(jid, strlen(jid), &j) ||
			    !encs_valid(k))
				return send_ack(c, "message", id, to, NULL, "400");
			klid = j.server_len == 3 && !memcmp(j.server, "lid", 3);
			if (klid != dlid)
				return send_ack(c, "message", id, to, NULL, "400");
		}
		for (uint32_t i = 0; !rc && parts->content == WA_CONTENT_LIST && i < parts->nkids; i++)
			rc = route_one(c, n, wa_node_attr(parts->kids[i], "jid"), parts->kids[i],
				       dest, dlid);
	} else if (encs_valid(n)) {
		rc = route_one(c, n, to, n, dest, dlid);
	} else {
		return send_ack(c, "message", id, to, NULL, "400");
	}
	if (rc && rc != Y_ETOOBIG)
		return rc;
	return send_ack(c, "message", id, to, NULL, NULL);
}

static int on_receipt(struct sim_conn *c, const struct wa_node *n)
{
	struct sim *s = c->sim;
	const char *id = wa_node_attr(n, "id"), *to = wa_node_attr(n, "to");
	const char *type = wa_node_attr(n, "type");
	struct sim_account *a;
	uint32_t rdev, fdev;
	bool rlid;
	char from[64], t[24];
	int rc;

	if (!c->dev)
		return Y_OK;
	if (!id)
		return send_ack(c, "receipt", "", to ? to : S_WA, type, "400");
	rc = send_ack(c, "receipt", id, to ? to : S_WA, type, NULL);
	if (rc || !to)
		return rc;
	if (type && (!strcmp(type, "sender") || !strcmp(type, "peer_msg") ||
		     !strcmp(type, "hist_sync")))
		return Y_OK;
	a = lookup_jid(s, to, &rdev, &rlid);
	if (!a || a == c->acct)
		return Y_OK;
	s->st.receipts++;
	/* a retry names the retrying device; the others speak for the account */
	fdev = type && !strcmp(type, "retry") ? c->dev->id : 0;
	device_jid(c->acct, fdev, rlid, from, sizeof(from));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)now_s());
	for (struct sim_device *d = a->devices; d; d = d->next) {
		struct wa_node *f;

		if (type && !strcmp(type, "retry") && rdev && d->id != rdev)
			continue;
		f = wa_node_new("receipt");
		/* an inactive delivery receipt reaches the sender as plain delivery */
		if (!f || attrs(f, "from", from, "id", id, "t", t, "type",
				type && strcmp(type, "inactive") ? type : NULL, NULL))
			goto nomem;
		for (uint32_t i = 0; n->content == WA_CONTENT_LIST && i < n->nkids; i++)
			if (copy_node(f, n->kids[i], 0))
				goto nomem;
		rc = deliver(s, d, f);
		if (rc && rc != Y_ETOOBIG)
			return rc;
		continue;
nomem:
		wa_node_free(f);
		return Y_ENOMEM;
	}
	return Y_OK;
}

/* ---- node dispatch ---- */

static int on_ignore(struct sim_conn *c, const struct wa_node *n)
{
	return Y_OK;
}

static const struct {
	const char *tag;
	int (*fn)(struct sim_conn *c, const struct wa_node *n);
} node_table[] = {
	{ "iq", on_iq },
	{ "message", on_message },
	{ "receipt", on_receipt },
	{ "ack", on_ignore },
	{ "presence", on_ignore },
	{ "chatstate", on_ignore },
	{ "ib", on_ignore },
};

/* One received node, through the table (borrowed). */
static int conn_dispatch(struct sim_conn *c, const struct wa_node *n)
{
	c->sim->st.nodes_in++;
	conn_log_node(c, "in", n);
	for (size_t i = 0; i < sizeof(node_table) / sizeof(node_table[0]); i++)
		if (wa_node_is(n, node_table[i].tag))
			return node_table[i].fn(c, n);
	return Y_OK;
}

static int on_transport(struct sim_conn *c, const uint8_t *p, size_t len)
{
	struct ybuf pt = YBUF_INIT(WA_FRAME_MAX);
	struct wa_node *n = NULL;
	int rc;

	rc = wa_noise_decrypt(&c->nz, p, len, &pt);
	rc = rc ?: wa_binary_decode(pt.data, pt.len, c->dict, &n);
	ybuf_release(&pt);
	if (rc)
		return rc;
	rc = conn_dispatch(c, n);
	wa_node_free(n);
	return rc;
}

/* ---- socket callbacks ---- */

static void on_frame(struct wa_socket *ws, const uint8_t *p, size_t n, void *ud)
{
	struct sim_conn *c = ud;
	int rc;

	if (c->state == C_CLOSING)
		return;
	if (c->state == C_HELLO)
		rc = on_hello(c, p, n);
	else if (c->state == C_FINISH)
		rc = on_finish(c, p, n);
	else
		rc = on_transport(c, p, n);
	if (rc) {
		LOG_WARN("sim connection error", "{s:I, s:s}", "conn", (json_int_t)c->id, "error",
			 y_strerror(rc));
		c->sim->st.errors++;
		conn_close(c);
	}
}

static void conn_unlink_list(struct sim_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		c->sim->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static void conn_free(struct sim_conn *c)
{
	wa_paircode_job_cancel(c->lc.job);
	timer_stop(c);
	while (c->dhead) {
		struct delayed *d = c->dhead;

		c->dhead = d->next;
		free(d);
	}
	if (c->dtimer) {
		uv_timer_stop(c->dtimer);
		uv_close((uv_handle_t *)c->dtimer, timer_closed);
	}
	ybuf_release(&c->payload);
	sim_passkey_link_free(c->pk);
	conn_detach(c);
	conn_unlink_list(c);
	wa_noise_release(&c->nz);
	free(c);
}

static void on_close(struct wa_socket *ws, int err, const char *reason, void *ud)
{
	struct sim_conn *c = ud;

	LOG_INFO("sim connection closed", "{s:I, s:s}", "conn", (json_int_t)c->id, "reason",
		 reason);
	c->ws = NULL;
	conn_free(c);
}

void sim_conn_accept(struct sim *s, struct wa_socket *ws)
{
	static const struct wa_socket_cbs cbs = { NULL, on_frame, NULL, on_close };
	struct sim_conn *c;

	if (s->refuse_until && uv_now(wa_loop_uv(s->loop)) < s->refuse_until) {
		LOG_INFO("sim connection refused (fault)", NULL);
		wa_socket_abort(ws);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		wa_socket_abort(ws);
		return;
	}
	c->sim = s;
	c->ws = ws;
	c->id = ++s->next_conn_id;
	c->state = C_HELLO;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->st.connections++;
	wa_socket_set_cbs(ws, &cbs, c);
	LOG_INFO("sim connection", "{s:I, s:s}", "conn", (json_int_t)c->id, "origin",
		 wa_socket_origin(ws));
}

void sim_conn_free_all(struct sim *s)
{
	while (s->conns) {
		struct sim_conn *c = s->conns;

		if (c->ws)
			wa_socket_set_cbs(c->ws, NULL, NULL);
		conn_free(c);
	}
}

int sim_conn_unlink(struct sim *s, struct sim_account *a, uint32_t dev)
{
	struct sim_device *d = sim_device_find(a, dev);

	if (!d)
		return Y_ENOTFOUND;
	if (d->conn) {
		struct sim_conn *c = d->conn;
		struct wa_node *n = wa_node_new("stream:error"), *k;

		conn_detach(c);
		if (n && !attrs(n, "code", "401", NULL) && (k = wa_node_add_child(n, "conflict")) &&
		    !attrs(k, "type", "device_removed", NULL))
			conn_send(c, n);
		else
			wa_node_free(n);
		conn_close(c);
	}
	LOG_INFO("sim unlinked", "{s:s, s:i}", "phone", a->phone, "device", (int)dev);
	sim_device_remove(a, d);
	return Y_OK;
}

int sim_conn_prekey_low(struct sim *s, struct sim_device *d, size_t count)
{
	struct wa_node *n;
	struct wa_node *k;
	char id[24], t[24], v[24];

	if (count > d->nprekeys)
		return Y_EINVAL;
	new_msg_id(id);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)now_s());
	snprintf(v, sizeof(v), "%zu", count);
	n = wa_node_new("notification");
	if (!n || attrs(n, "from", S_WA, "type", "encrypt", "id", id, "t", t, NULL) ||
	    !(k = wa_node_add_child(n, "count")) || attrs(k, "value", v, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	/* the server hands out the oldest first: what is left is the newest */
	if (count && count < d->nprekeys)
		memmove(d->prekeys, d->prekeys + (d->nprekeys - count),
			count * sizeof(*d->prekeys));
	d->nprekeys = count;
	s->st.prekey_low++;
	LOG_INFO("sim prekey-low", "{s:s, s:i, s:I}", "phone", d->acct->phone, "device", (int)d->id,
		 "count", (json_int_t)count);
	return deliver(s, d, n);
}

size_t sim_conn_drop_all(struct sim *s)
{
	size_t n = 0;

	for (struct sim_conn *c = s->conns; c; c = c->next)
		if (c->ws && c->state != C_CLOSING) {
			c->state = C_CLOSING;
			conn_detach(c);
			wa_socket_abort(c->ws);
			n++;
		}
	return n;
}

size_t sim_conn_count(const struct sim *s)
{
	size_t n = 0;

	for (const struct sim_conn *c = s->conns; c; c = c->next)
		n++;
	return n;
}

/* ---- test seam (sim_int.h) ---- */

struct sim_conn *sim_conn_test_open(struct sim *s, struct sim_device *d, int dict,
				    struct ybuf *out)
{
	struct sim_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sim = s;
	c->test_out = out;
	c->id = ++s->next_conn_id;
	c->state = C_OPEN;
	c->dict = dict;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	if (d) {
		if (d->conn)
			conn_detach(d->conn);
		memcpy(c->client_static, d->noise, WA_KEY_LEN);
		d->conn = c;
		c->dev = d;
		c->acct = d->acct;
	} else {
		c->registering = true;
	}
	return c;
}

int sim_conn_test_node(struct sim_conn *c, const struct wa_node *n)
{
	int rc;

	if (c->state != C_OPEN)
		return Y_ECLOSED;
	rc = conn_dispatch(c, n);
	if (rc)
		conn_close(c); /* as on_frame does */
	return rc ? rc : c->state == C_OPEN ? Y_OK : Y_ECLOSED;
}
