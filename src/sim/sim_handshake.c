/*
 * The handshake of a simulator connection (protocol-map.md §2, §3, §6):
 * the Noise XX responder runs in the pipe (wa_conn_accept: ClientHello,
 * ServerHello with the certificate chain, ClientFinish); here is the
 * ClientPayload it hands over: a registration (pair-device refs) or a login
 * (success, or failure 401 / 405), answered after a short hold. Loop thread.
 */
#include "sim/sim_conn_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/conn.h"
#include "wa/pb.h"

/* The first node after the handshake waits this long. Baileys switches to
 * transport keys only after its ClientFinish write completed plus an async
 * key derivation; a frame arriving earlier is dropped as a handshake frame.
 * The real server is never that quick (a network round trip away). */
#define POST_HANDSHAKE_DELAY_MS 100

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
	if (!n || sim_attrs(n, "from", S_WA, "type", "set", "id", "pair-device-1", "xmlns", "md",
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
		sim_hex(r, sizeof(r), c->refs[i] + 2, false);
		if (!sim_child_bytes(pd, "ref", c->refs[i], strlen(c->refs[i]))) {
			wa_node_free(n);
			return Y_ENOMEM;
		}
	}
	LOG_INFO("sim registration", "{s:I, s:i}", "conn", (json_int_t)c->id, "dict", c->dict);
	return sim_conn_send(c, n);
}

static int send_failure(struct sim_conn *c, const char *reason)
{
	struct wa_node *n = wa_node_new("failure");

	if (!n || sim_attrs(n, "reason", reason, "location", "sim", NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	sim_conn_send(c, n);
	sim_conn_close(c);
	return Y_OK;
}

int sim_conn_stream_error(struct sim_conn *c, const char *code, const char *conflict)
{
	struct wa_node *n = wa_node_new("stream:error"), *k;

	if (!n || sim_attrs(n, "code", code, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	if (conflict &&
	    (!(k = wa_node_add_child(n, "conflict")) || sim_attrs(k, "type", conflict, NULL))) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	sim_conn_send(c, n);
	sim_conn_close(c);
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

		sim_conn_detach(old);
		sim_conn_stream_error(old, NULL, "replaced");
	}
	d->conn = c;
	c->dev = d;
	c->acct = a;
	s->st.logins++;
	sim_device_jid(a, d->id, true, lid, sizeof(lid));
	snprintf(t, sizeof(t), "%llu", (unsigned long long)sim_now_s());
	n = wa_node_new("success");
	if (!n || sim_attrs(n, "t", t, "props", "1", "abprops", "1", "location", "sim", "creation", t,
			    "lid", lid, NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	LOG_INFO("sim login", "{s:s, s:i, s:i}", "phone", phone, "device", (int)d->id, "dict",
		 c->dict);
	return sim_conn_send(c, n);
}

void sim_handshake_stop(struct sim_conn *c)
{
	if (!c->timer)
		return;
	uv_timer_stop(c->timer);
	uv_close((uv_handle_t *)c->timer, sim_timer_closed);
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

	sim_handshake_stop(c);
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
		sim_conn_close(c);
	}
}

int sim_handshake_payload(struct sim_conn *c, const uint8_t *p, size_t n)
{
	Wa__ClientPayload *cp = NULL;
	int rc;

	ybuf_init(&c->payload, SIM_PAYLOAD_MAX);
	rc = ybuf_append(&c->payload, p, n);
	if (rc)
		return rc;
	c->dict = wa_conn_dict(c->wc);
	memcpy(c->client_static, wa_conn_peer_static(c->wc), WA_KEY_LEN);
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
