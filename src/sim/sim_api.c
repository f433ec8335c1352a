/*
 * The simulator's control API: JSON over plain HTTP on the simulator's port
 * (same listener as /ws/chat), under /sim.
 *
 *   GET    /sim/info                          {rootPublicKey, caCert, wsUrl, wssUrl, mediaHost,
 *                                             mediaAuth} (wssUrl: with --tls, else null;
 *                                             mediaAuth: media_conn's auth, for benchmarks
 *                                             that upload without a WhatsApp connection)
 *   GET    /sim/stats                         counters
 *   POST   /sim/accounts {"phone"}            201 created / 200 existing: {phone, lid}
 *   GET    /sim/accounts/{phone}/devices      {phone, lid, devices:[{id, jid, lid, keyIndex, online,
 *                                             prekeys, unacked, queued}]} (prekeys: one-time
 *                                             prekeys held; unacked: messages sent to it
 *                                             and not acknowledged; queued: stanzas
 *                                             waiting for it to connect)
 *   DELETE /sim/accounts/{phone}/devices/{d}  unlink: the companion is logged out
 *   POST   /sim/accounts/{phone}/passkey {"required"[, "publicKeyPem",
 *          "credentialId"]}                    linking this account needs the passkey
 *                                              step (sim_passkey.c); without a key the
 *                                              sim makes a test key and returns it
 *   GET    /sim/accounts/{phone}/passkey      the step as the phone sees it
 *   POST   /sim/accounts/{phone}/lid-first {"on":bool}
 *                                             a migrated account: what reaches its
 *                                             devices names the other party by LID
 *                                             (from=LID:dev@lid + sender_pn, receipts
 *                                             from the LID): {phone, lid, lidFirst}
 *   GET    /sim/accounts/{phone}/lid-first    {phone, lid, lidFirst}
 *   POST   /sim/accounts/{phone}/lid-hidden {"on":bool}
 *                                             the account's client predates LIDs:
 *                                             no <lid> in its usync answers, no
 *                                             sender_lid / peer_recipient_lid on
 *                                             what reaches it: {phone, lid, lidHidden}
 *   POST   /sim/accounts/{phone}/restricted {"on":bool}
 *                                             WhatsApp's restricted account: its 1:1
 *                                             messages without a valid privacy token
 *                                             are refused (ack error 463):
 *                                             {phone, lid, restricted}
 *   GET    /sim/accounts/{phone}/restricted   {phone, lid, restricted}
 *   POST   /sim/accounts/{phone}/app-state-key-held {"on":bool}
 *                                             the phone holds its app-state key share
 *                                             back from companions that log in; false
 *                                             shares it with those online at once:
 *                                             {phone, lid, appStateKeyHeld}
 *   POST   /sim/accounts/{phone}/app-state-quiet {"on":bool}
 *                                             app-state uploads are announced to no
 *                                             companion (no server_sync), so the next
 *                                             write of another is stale (409):
 *                                             {phone, lid, appStateQuiet}
 *   POST   /sim/scan {"phone","qr"}           the phone scans a QR: {jid}, or
 *                                              {jid:null, passkeyRequired:true}
 *   POST   /sim/pair-code {"phone","code"}    the phone enters a pair code: {ok}; the
 *                                             companion hears of it a moment later (the
 *                                             code's PBKDF2 runs off the loop); a wrong
 *                                             code counts in /sim/stats pairCodeFailed
 *   POST   /sim/faults {"dropAll":true, "latencyMs":N, "refuseForMs":N}
 *                                             dropAll: drop every connection now;
 *                                             latencyMs: delay every outgoing node
 *                                             (0 ends it); refuseForMs: refuse new
 *                                             connections for N ms; ignoreAcks
 *                                             true|false: message acks are not
 *                                             taken while true: {dropped}
 *   POST   /sim/media/tamper {"mode":"flip"|"truncate"|"expired"|"lost"|"silent"|"reexpired"|
 *                          "unavailable"|"off"[, "count"]}
 *   POST   /sim/media/hosts {"before":["dead"|"busy"...], "urlOnFirst":bool, "down":bool}
 *                                             the next count (1) media uploads are
 *                                             stored damaged, or (unavailable) the
 *                                             next count downloads answer 503: {mode, count}
 *   GET    /sim/config                        {minVersion, privacyTokens}
 *   POST   /sim/config {"minVersion":"P.S.T"|null, "privacyTokens":bool}
 *                                             clients whose appVersion is lower get
 *                                             <failure reason=405/> (null: no minimum);
 *                                             privacyTokens: the props answer's 10518
 *                                             (tokens on 1:1 messages; true by default),
 *                                             read by clients at login
 *   POST   /sim/prekey-low {"phone","device"[,"count"]}
 *                                             keeps the device's newest count (default 0)
 *                                             prekeys and sends it the encrypt
 *                                             notification <count value=count/>:
 *                                             {count, queued}
 *
 * Errors: {"error": text} with 400 (bad JSON or fields), 404 (unknown
 * account, device, ref or route), 405 (method), 500.
 */
#include "sim/sim_conn_int.h"
#include "sim/sim_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

static int reply(struct ybuf *resp, int status, json_t *j)
{
	char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!txt)
		return 500;
	if (ybuf_append_str(resp, txt))
		status = 500;
	free(txt);
	return status;
}

static int error(struct ybuf *resp, int status, const char *msg)
{
	return reply(resp, status, json_pack("{s:s}", "error", msg));
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* Parses a JSON object body; NULL if it is not one. */
static json_t *body_object(const uint8_t *body, size_t len)
{
	json_t *j;

	if (!body || !len)
		return NULL;
	j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int get_info(struct sim *s, struct ybuf *resp)
{
	char key[2 * WA_KEY_LEN + 1], url[128];

	char wss[128];

	hex(s->root.pub, WA_KEY_LEN, key);
	snprintf(url, sizeof(url), "ws://%s:%d/ws/chat", s->host, s->port);
	snprintf(wss, sizeof(wss), "wss://%s:%d/ws/chat", s->host, s->wss_port);
	return reply(resp, 200,
		     json_pack("{s:s, s:s?, s:s, s:s?, s:s?, s:s?}", "rootPublicKey", key, "caCert",
			       s->ca_pem, "wsUrl", url, "wssUrl", s->wss_port ? wss : NULL,
			       "mediaHost", s->media_host[0] ? s->media_host : NULL, "mediaAuth",
			       s->media_host[0] ? s->media_auth : NULL));
}

static int get_stats(struct sim *s, struct ybuf *resp)
{
	size_t accounts = 0, devices = 0;

	for (struct sim_account *a = s->accounts; a; a = a->next) {
		accounts++;
		for (struct sim_device *d = a->devices; d; d = d->next)
			devices++;
	}
	return reply(resp, 200,
		     json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			       "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}",
			       "accounts", (json_int_t)accounts, "devices", (json_int_t)devices,
			       "connectionsOpen", (json_int_t)sim_conn_count(s), "connections",
			       (json_int_t)s->st.connections, "handshakes",
			       (json_int_t)s->st.handshakes, "registrations",
			       (json_int_t)s->st.registrations, "logins", (json_int_t)s->st.logins,
			       "pairings", (json_int_t)s->st.pairings, "nodesIn",
			       (json_int_t)s->st.nodes_in, "nodesOut", (json_int_t)s->st.nodes_out,
			       "messagesRouted", (json_int_t)s->st.messages_routed,
			       "messagesQueued", (json_int_t)s->st.messages_queued, "receipts",
			       (json_int_t)s->st.receipts, "iqUnknown", (json_int_t)s->st.iq_unknown,
			       "errors", (json_int_t)s->st.errors, "phoneDecrypted",
			       (json_int_t)s->st.phone_decrypted, "phoneDecryptFailed",
			       (json_int_t)s->st.phone_decrypt_failed, "outdated",
			       (json_int_t)s->st.outdated, "prekeyLow", (json_int_t)s->st.prekey_low,
			       "prekeyUploads", (json_int_t)s->st.prekey_uploads, "pairCodeFailed",
			       (json_int_t)s->st.pair_code_failed, "prekeyFetches",
			       (json_int_t)s->st.prekey_fetches, "tctoken", "issued",
			       (json_int_t)s->st.tctoken_issued, "valid",
			       (json_int_t)s->st.tctoken_valid, "invalid",
			       (json_int_t)s->st.tctoken_invalid, "missing",
			       (json_int_t)s->st.tctoken_missing, "refused",
			       (json_int_t)s->st.tctoken_refused));
}

static int post_account(struct sim *s, const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j = body_object(body, len);
	const char *phone = j ? json_string_value(json_object_get(j, "phone")) : NULL;
	char norm[SIM_PHONE_MAX + 1];
	struct sim_account *a;
	int created, st;

	if (!phone || sim_phone_norm(phone, norm)) {
		json_decref(j);
		return error(resp, 400, "phone: digits of an E.164 number expected");
	}
	json_decref(j);
	created = !sim_account_find(s, norm);
	a = sim_account_get(s, norm);
	if (!a)
		return error(resp, 500, "out of memory");
	st = created ? 201 : 200;
	return reply(resp, st,
		     json_pack("{s:s, s:s, s:b}", "phone", a->phone, "lid", a->lid, "created",
			       created));
}

static int post_scan(struct sim *s, const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j = body_object(body, len);
	const char *phone = j ? json_string_value(json_object_get(j, "phone")) : NULL;
	const char *qr = j ? json_string_value(json_object_get(j, "qr")) : NULL;
	char norm[SIM_PHONE_MAX + 1], jid[128];
	int rc;

	if (!phone || !qr || sim_phone_norm(phone, norm)) {
		json_decref(j);
		return error(resp, 400, "phone and qr expected");
	}
	rc = sim_conn_scan(s, norm, qr, jid, sizeof(jid));
	json_decref(j);
	if (rc == Y_ENOTFOUND)
		return error(resp, 404, "no connection shows this QR");
	if (rc == Y_EINVAL)
		return error(resp, 400, "malformed QR, or its keys do not match the connection");
	if (rc)
		return error(resp, 500, y_strerror(rc));
	if (!jid[0]) /* the account must pass the passkey step first */
		return reply(resp, 200, json_pack("{s:n, s:b}", "jid", "passkeyRequired", 1));
	return reply(resp, 200, json_pack("{s:s}", "jid", jid));
}

static int post_pair_code(struct sim *s, const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j = body_object(body, len);
	const char *phone = j ? json_string_value(json_object_get(j, "phone")) : NULL;
	const char *code = j ? json_string_value(json_object_get(j, "code")) : NULL;
	char norm[SIM_PHONE_MAX + 1];
	int rc;

	if (!phone || !code || sim_phone_norm(phone, norm)) {
		json_decref(j);
		return error(resp, 400, "phone and code expected");
	}
	rc = sim_conn_pair_code(s, norm, code);
	json_decref(j);
	if (rc == Y_ENOTFOUND)
		return error(resp, 404, "no companion waits for a code for this number");
	if (rc == Y_EINVAL)
		return error(resp, 400, "the code has 8 characters");
	if (rc)
		return error(resp, 500, y_strerror(rc));
	return reply(resp, 200, json_pack("{s:b}", "ok", 1));
}

/* {"mode":"flip"|"truncate"|"expired"|"lost"|"silent"|"reexpired"|"unavailable"|"off",
 * "count":N (1)}:
 * the next N uploads are kept damaged (a byte flipped in the middle, or the
 * last 5 bytes cut), so that a downloader's checks can be seen refusing
 * them, or expired (their path answers 410 until the phone uploads them
 * again on a media retry receipt; lost: expired and gone from the phone too,
 * which answers a retry with <error code=2>; silent: expired and the phone never
 * answers a retry; reexpired: expired, and so is every copy the phone uploads again); or
 * the next N downloads answer 503 (a host down for a while). */
static int post_media_tamper(struct sim *s, const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j = body_object(body, len), *c;
	const char *mode;
	int m, n;

	if (!j)
		return error(resp, 400, "a JSON object expected");
	mode = json_string_value(json_object_get(j, "mode"));
	c = json_object_get(j, "count");
	m = !mode ? -1 : !strcmp(mode, "off") ? 0 : !strcmp(mode, "flip") ? 1
	    : !strcmp(mode, "truncate") ? 2 : !strcmp(mode, "unavailable") ? 3
	    : !strcmp(mode, "expired") ? 4 : !strcmp(mode, "lost") ? 5
	    : !strcmp(mode, "silent") ? 6 : !strcmp(mode, "reexpired") ? 7 : -1;
	if (m < 0 || (c && (!json_is_integer(c) || json_integer_value(c) < 1 ||
			    json_integer_value(c) > 1000))) {
		json_decref(j);
		return error(resp, 400,
			     "mode flip|truncate|expired|lost|silent|reexpired|unavailable|off, "
			     "count 1..1000 expected");
	}
	n = c ? (int)json_integer_value(c) : 1;
	json_decref(j); /* mode and c were j's */
	if (m == 3) {
		s->media_unavailable_n = n;
		return reply(resp, 200, json_pack("{s:s, s:i}", "mode", "unavailable", "count",
						  s->media_unavailable_n));
	}
	s->media_tamper = m;
	s->media_tamper_n = m ? n : 0;
	if (!m)
		s->media_unavailable_n = 0;
	static const char *const names[] = { "off", "flip", "truncate", "unavailable", "expired",
					     "lost", "silent", "reexpired" };
	return reply(resp, 200, json_pack("{s:s, s:i}", "mode", names[m], "count",
					  s->media_tamper_n));
}

/* {"before":["dead"|"busy", ...at most 2], "urlOnFirst":bool, "down":bool}
 * (each optional: absent keeps it): the hosts media_conn names before the
 * real one, whether upload answers name the first of them in their url,
 * whether the real host answers 503 to everything. Answers the whole
 * setting with the hosts media_conn now names. */
static int post_media_hosts(struct sim *s, const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j = body_object(body, len), *b, *u, *d, *hosts, *before;
	int kinds[2], n = 0;
	size_t i;
	json_t *v;

	if (!j)
		return error(resp, 400, "a JSON object expected");
	b = json_object_get(j, "before");
	u = json_object_get(j, "urlOnFirst");
	d = json_object_get(j, "down");
	if ((b && (!json_is_array(b) || json_array_size(b) > 2)) || (u && !json_is_boolean(u)) ||
	    (d && !json_is_boolean(d)))
		goto bad;
	json_array_foreach(b, i, v) {
		const char *k = json_string_value(v);

		if (!k || (strcmp(k, "dead") && strcmp(k, "busy")))
			goto bad;
		kinds[n++] = !strcmp(k, "dead") ? SIM_HOST_DEAD : SIM_HOST_BUSY;
	}
	if (b) {
		memcpy(s->media_before, kinds, sizeof(kinds[0]) * (size_t)n);
		s->media_nbefore = n;
	}
	if (u)
		s->media_url_first = json_is_true(u);
	if (d)
		s->media_down = json_is_true(d);
	json_decref(j);
	hosts = json_array();
	before = json_array();
	for (int k = 0; hosts && before && k < s->media_nbefore; k++) {
		json_array_append_new(before, json_string(s->media_before[k] == SIM_HOST_DEAD
								  ? "dead" : "busy"));
		json_array_append_new(hosts, json_string(sim_media_host_of(s, s->media_before[k])));
	}
	if (hosts)
		json_array_append_new(hosts, json_string(s->media_host));
	return reply(resp, 200, json_pack("{s:o*, s:b, s:b, s:o*}", "before", before, "urlOnFirst",
					  s->media_url_first, "down", s->media_down, "hosts",
					  hosts));
bad:
	json_decref(j);
	return error(resp, 400, "before: up to 2 of dead|busy, urlOnFirst and down booleans expected");
}

static int post_faults(struct sim *s, const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j = body_object(body, len);
	size_t dropped = 0;

	if (!j)
		return error(resp, 400, "a JSON object expected");
	json_t *lat = json_object_get(j, "latencyMs"), *ref = json_object_get(j, "refuseForMs");

	if ((lat && (!json_is_integer(lat) || json_integer_value(lat) < 0 ||
		     json_integer_value(lat) > 60000)) ||
	    (ref && (!json_is_integer(ref) || json_integer_value(ref) < 0 ||
		     json_integer_value(ref) > 3600000))) {
		json_decref(j);
		return error(resp, 400, "latencyMs 0..60000, refuseForMs 0..3600000 expected");
	}
	if (lat)
		s->latency_ms = (uint32_t)json_integer_value(lat);
	if (ref)
		s->refuse_until = uv_now(wa_loop_uv(s->loop)) + (uint64_t)json_integer_value(ref);
	json_t *ign = json_object_get(j, "ignoreAcks");

	if (ign && !json_is_boolean(ign)) {
		json_decref(j);
		return error(resp, 400, "ignoreAcks: true or false");
	}
	if (ign)
		s->ignore_acks = json_is_true(ign);
	if (json_is_true(json_object_get(j, "dropAll")))
		dropped = sim_conn_drop_all(s);
	json_decref(j);
	return reply(resp, 200,
		     json_pack("{s:I, s:I}", "dropped", (json_int_t)dropped, "latencyMs",
			       (json_int_t)s->latency_ms));
}

static int config_reply(struct sim *s, struct ybuf *resp)
{
	char v[40];

	snprintf(v, sizeof(v), "%u.%u.%u", s->min_version[0], s->min_version[1],
		 s->min_version[2]);
	return reply(resp, 200, json_pack("{s:s?, s:b}", "minVersion", s->min_version_on ? v : NULL,
					  "privacyTokens", (int)!s->tc_prop_off));
}

static int post_config(struct sim *s, const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j = body_object(body, len), *mv, *pt;
	uint32_t v[3];

	if (!j)
		return error(resp, 400, "a JSON object expected");
	pt = json_object_get(j, "privacyTokens");
	if (pt && !json_is_boolean(pt)) {
		json_decref(j);
		return error(resp, 400, "privacyTokens: true or false");
	}
	mv = json_object_get(j, "minVersion");
	if (mv && !json_is_null(mv) &&
	    (!json_is_string(mv) || sim_version_parse(json_string_value(mv), v))) {
		json_decref(j);
		return error(resp, 400, "minVersion: \"P.S.T\" (e.g. \"2.3000.1045649367\") or null");
	}
	if (mv && json_is_null(mv)) {
		s->min_version_on = false;
		memset(s->min_version, 0, sizeof(s->min_version));
	} else if (mv) {
		s->min_version_on = true;
		memcpy(s->min_version, v, sizeof(v));
	}
	if (pt)
		s->tc_prop_off = !json_is_true(pt);
	json_decref(j);
	LOG_INFO("sim config", "{s:b, s:b}", "minVersion", s->min_version_on, "privacyTokens",
		 (int)!s->tc_prop_off);
	return config_reply(s, resp);
}

static int post_prekey_low(struct sim *s, const uint8_t *body, size_t len, struct ybuf *resp)
{
	json_t *j = body_object(body, len);
	const char *phone = j ? json_string_value(json_object_get(j, "phone")) : NULL;
	json_t *dev = j ? json_object_get(j, "device") : NULL;
	json_t *cnt = j ? json_object_get(j, "count") : NULL;
	char norm[SIM_PHONE_MAX + 1];
	struct sim_account *a;
	struct sim_device *d;
	json_int_t count = cnt ? json_integer_value(cnt) : 0;
	int rc;

	if (!phone || sim_phone_norm(phone, norm) || !json_is_integer(dev) ||
	    json_integer_value(dev) < 1 || json_integer_value(dev) > 255 ||
	    (cnt && (!json_is_integer(cnt) || count < 0 || count > SIM_PREKEYS_MAX))) {
		json_decref(j);
		return error(resp, 400, "phone, device (1..255) and optional count (0..2000) expected");
	}
	a = sim_account_find(s, norm);
	d = a ? sim_device_find(a, (uint32_t)json_integer_value(dev)) : NULL;
	json_decref(j);
	if (!d)
		return error(resp, 404, "no such device");
	rc = sim_conn_prekey_low(s, d, (size_t)count);
	if (rc == Y_EINVAL)
		return error(resp, 400, "count is above the prekeys the device holds");
	if (rc == Y_ETOOBIG)
		return error(resp, 507, "the device's offline queue is full");
	if (rc)
		return error(resp, 500, y_strerror(rc));
	return reply(resp, 200, json_pack("{s:I, s:b}", "count", count, "queued", d->conn == NULL));
}

static int get_devices(struct sim *s, struct sim_account *a, struct ybuf *resp)
{
	json_t *arr = json_array();
	char jid[64], lid[64];

	if (!arr)
		return 500;
	for (struct sim_device *d = a->devices; d; d = d->next) {
		snprintf(jid, sizeof(jid), "%s:%u@s.whatsapp.net", a->phone, d->id);
		snprintf(lid, sizeof(lid), "%s:%u@lid", a->lid, d->id);
		json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:i, s:b, s:I, s:I, s:I}", "id",
						     (int)d->id, "jid", jid, "lid", lid, "keyIndex",
						     (int)d->key_index, "online", d->conn != NULL,
						     "prekeys", (json_int_t)d->nprekeys, "unacked",
						     (json_int_t)d->nunacked, "queued",
						     (json_int_t)d->nq));
	}
	return reply(resp, 200,
		     json_pack("{s:s, s:s, s:o}", "phone", a->phone, "lid", a->lid, "devices", arr));
}

/* /sim/accounts/{phone}/lid-first, /lid-hidden, /restricted, /app-state-quiet and
 * /app-state-key-held: one boolean each */
static int lid_flag_api(struct sim_account *a, bool *flag, const char *name, const char *method,
			const uint8_t *body, size_t len, struct ybuf *resp)
{
	if (!strcmp(method, "POST")) {
		json_t *j = json_loadb((const char *)body, len, 0, NULL);
		json_t *on = json_object_get(j, "on");

		if (!json_is_boolean(on)) {
			json_decref(j);
			return error(resp, 400, "on (boolean) expected");
		}
		*flag = json_is_true(on);
		json_decref(j);
		LOG_INFO("sim account flag", "{s:s, s:b}", "phone", a->phone, name, (int)*flag);
	} else if (strcmp(method, "GET")) {
		return error(resp, 405, "GET or POST expected");
	}
	return reply(resp, 200, json_pack("{s:s, s:s, s:b}", "phone", a->phone, "lid", a->lid, name,
					  (int)*flag));
}

/* /sim/accounts/{phone}/... */
static int accounts_route(struct sim *s, const char *method, const char *rest,
			  const uint8_t *body, size_t len, struct ybuf *resp)
{
	char phone[32], norm[SIM_PHONE_MAX + 1];
	const char *slash = strchr(rest, '/');
	struct sim_account *a;
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	if (n == 0 || n >= sizeof(phone))
		return error(resp, 404, "no such route");
	memcpy(phone, rest, n);
	phone[n] = 0;
	if (sim_phone_norm(phone, norm))
		return error(resp, 400, "bad phone number");
	a = sim_account_find(s, norm);
	if (!a)
		return error(resp, 404, "no such account");
	rest += n;
	if (!strcmp(rest, "/passkey"))
		return sim_passkey_api(s, a, method, body, len, resp);
	if (!strcmp(rest, "/lid-first"))
		return lid_flag_api(a, &a->lid_first, "lidFirst", method, body, len, resp);
	if (!strcmp(rest, "/lid-hidden"))
		return lid_flag_api(a, &a->lid_hidden, "lidHidden", method, body, len, resp);
	if (!strcmp(rest, "/restricted"))
		return lid_flag_api(a, &a->restricted, "restricted", method, body, len, resp);
	if (!strcmp(rest, "/app-state-quiet"))
		return lid_flag_api(a, &a->as_quiet, "appStateQuiet", method, body, len, resp);
	if (!strcmp(rest, "/app-state-key-held")) {
		int st = lid_flag_api(a, &a->as_key_held, "appStateKeyHeld", method, body, len, resp);

		/* released: the companions online that went without it get it now */
		for (struct sim_device *d = a->devices; st == 200 && !a->as_key_held && d; d = d->next)
			if (d->id && d->conn && !d->key_shared)
				sim_phone_welcome(s, a, d);
		return st;
	}
	if (!strcmp(rest, "/devices")) {
		if (strcmp(method, "GET"))
			return error(resp, 405, "GET expected");
		return get_devices(s, a, resp);
	}
	if (!strncmp(rest, "/devices/", 9)) {
		char *end;
		unsigned long dev = strtoul(rest + 9, &end, 10);

		if (strcmp(method, "DELETE"))
			return error(resp, 405, "DELETE expected");
		if (!rest[9] || *end || dev == 0 || dev > 255)
			return error(resp, 400, "bad device number");
		if (sim_conn_unlink(s, a, (uint32_t)dev))
			return error(resp, 404, "no such device");
		return reply(resp, 200, json_pack("{s:b}", "unlinked", 1));
	}
	return error(resp, 404, "no such route");
}

int sim_api_handle(void *ud, const char *method, const char *uri, const uint8_t *body,
		   size_t len, struct ybuf *resp, const char **content_type)
{
	struct sim *s = ud;
	char path[256];
	size_t n = strcspn(uri, "?");
	int st;

	if (n >= sizeof(path))
		return error(resp, 404, "no such route");
	memcpy(path, uri, n);
	path[n] = 0;
	if (strcmp(method, "GET"))
		s->state_gen++; /* may change durable state: save it */
	if (!strcmp(path, "/sim/info"))
		st = strcmp(method, "GET") ? error(resp, 405, "GET expected") : get_info(s, resp);
	else if (!strcmp(path, "/sim/stats"))
		st = strcmp(method, "GET") ? error(resp, 405, "GET expected") : get_stats(s, resp);
	else if (!strcmp(path, "/sim/accounts"))
		st = strcmp(method, "POST") ? error(resp, 405, "POST expected")
					    : post_account(s, body, len, resp);
	else if (!strcmp(path, "/sim/scan"))
		st = strcmp(method, "POST") ? error(resp, 405, "POST expected")
					    : post_scan(s, body, len, resp);
	else if (!strcmp(path, "/sim/pair-code"))
		st = strcmp(method, "POST") ? error(resp, 405, "POST expected")
					    : post_pair_code(s, body, len, resp);
	else if (!strcmp(path, "/sim/faults"))
		st = strcmp(method, "POST") ? error(resp, 405, "POST expected")
					    : post_faults(s, body, len, resp);
	else if (!strcmp(path, "/sim/config"))
		st = !strcmp(method, "GET")    ? config_reply(s, resp)
		     : !strcmp(method, "POST") ? post_config(s, body, len, resp)
					       : error(resp, 405, "GET or POST expected");
	else if (!strcmp(path, "/sim/prekey-low"))
		st = strcmp(method, "POST") ? error(resp, 405, "POST expected")
					    : post_prekey_low(s, body, len, resp);
	else if (!strcmp(path, "/sim/media/tamper"))
		st = strcmp(method, "POST") ? error(resp, 405, "POST expected")
					    : post_media_tamper(s, body, len, resp);
	else if (!strcmp(path, "/sim/media/hosts"))
		st = strcmp(method, "POST") ? error(resp, 405, "POST expected")
					    : post_media_hosts(s, body, len, resp);
	else if (!strncmp(path, "/sim/accounts/", 14))
		st = accounts_route(s, method, path + 14, body, len, resp);
	else
		st = error(resp, 404, "no such route");
	LOG_INFO("sim api", "{s:s, s:s, s:i}", "method", method, "path", path, "status", st);
	return st;
}

int sim_api_reply(struct ybuf *resp, int status, struct json_t *j)
{
	return reply(resp, status, j);
}

int sim_api_error(struct ybuf *resp, int status, const char *msg)
{
	return error(resp, status, msg);
}

struct json_t *sim_api_body(const uint8_t *body, size_t len)
{
	return body_object(body, len);
}
