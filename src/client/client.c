/* The client's lifecycle and node dispatch (see client.h, client_int.h). */
#include "client/client_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"
#include "wa/jid.h"

#define DEF_MAX_ATTEMPTS 10
#define DEF_BACKOFF_MIN 1000
#define DEF_BACKOFF_MAX 60000
#define DEF_KEEPALIVE 25000
#define DEF_IQ_TIMEOUT 75000

static const char *const state_names[] = {
	[WA_CL_IDLE] = "idle",           [WA_CL_CONNECTING] = "connecting",
	[WA_CL_QR] = "qr",               [WA_CL_PAIRING] = "pairing",
	[WA_CL_CONNECTED] = "connected", [WA_CL_WAITING] = "waiting",
	[WA_CL_LOGGED_OUT] = "logged_out", [WA_CL_FAILED] = "failed",
	[WA_CL_PASSKEY] = "passkey",
};

const char *wa_client_state_name(enum wa_client_state st)
{
	return (unsigned)st < sizeof(state_names) / sizeof(state_names[0]) ? state_names[st] : "?";
}

/* ---- small helpers shared by the feature files ---- */

int cl_attrs(struct wa_node *n, ...)
{
	va_list ap;
	const char *k;
	int rc = Y_OK;

	va_start(ap, n);
	while (rc == Y_OK && (k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		rc = wa_node_add_attr(n, k, v);
	}
	va_end(ap);
	return rc;
}

const uint8_t *cl_kid_bytes(const struct wa_node *n, const char *tag, size_t *len)
{
	const struct wa_node *k = wa_node_child(n, tag);

	*len = 0;
	return k ? wa_node_bytes(k, len) : NULL;
}

int cl_send(struct wa_client *cl, const struct wa_node *n)
{
	int rc;

	if (!cl->conn)
		return Y_ECLOSED;
	rc = wa_conn_send(cl->conn, n);
	if (rc && rc != Y_EBUSY) {
		LOG_WARN("client send failed", "{s:s}",  "error",
			 y_strerror(rc));
		wa_conn_abort(cl->conn);
	}
	return rc;
}

struct wa_node *cl_iq_new(struct wa_client *cl, const char *type, const char *xmlns)
{
	struct wa_node *n = wa_node_new("iq");
	char id[WA_CONN_ID_LEN];

	if (!n || !cl->conn)
		goto fail;
	wa_conn_new_id(cl->conn, id);
	if (cl_attrs(n, "id", id, "to", WA_SERVER_USER, "type", type, "xmlns", xmlns, NULL))
		goto fail;
	return n;
fail:
	wa_node_free(n);
	return NULL;
}

int cl_iq_send(struct wa_client *cl, struct wa_node *iq, wa_conn_iq_cb cb)
{
	int rc;

	if (!iq)
		return Y_ENOMEM;
	rc = cl->conn ? wa_conn_iq(cl->conn, iq, cl->opts.iq_timeout_ms, cb, cl) : Y_ECLOSED;
	wa_node_free(iq);
	return rc;
}

int cl_iq_result(struct wa_client *cl, const struct wa_node *req)
{
	struct wa_node *n = wa_node_new("iq");
	const char *id = wa_node_attr(req, "id"), *from = wa_node_attr(req, "from");
	int rc;

	if (!n || cl_attrs(n, "id", id ? id : "", "to", from ? from : WA_SERVER_USER, "type",
			   "result", NULL)) {
		wa_node_free(n);
		return Y_ENOMEM;
	}
	rc = cl_send(cl, n);
	wa_node_free(n);
	return rc;
}

/* ---- state, timer ---- */

void cl_set_state(struct wa_client *cl, enum wa_client_state st, const char *reason)
{
	if (cl->state == st && !reason)
		return;
	LOG_INFO("client state", "{s:s, s:s, s:s}",  "from",
		 wa_client_state_name(cl->state), "to", wa_client_state_name(st), "reason",
		 reason ? reason : "");
	cl->state = st;
	if (cl->cbs.on_state && !cl->freeing)
		cl->cbs.on_state(cl, st, reason, cl->ud);
}

static void on_timer(uv_timer_t *t)
{
	struct wa_client *cl = t->data;
	enum cl_timer kind = cl->tkind;
	const char *log_prev = ylog_swap_session(cl->opts.name);

	cl->tkind = T_NONE;
	switch (kind) {
	case T_BACKOFF:
		cl_pool_request(cl);
		break;
	case T_QR:
		cl_qr_next(cl);
		break;
	case T_KEEPALIVE:
		cl_keepalive_tick(cl);
		break;
	case T_HANDSHAKE:
		LOG_INFO("client handshake timed out", "{s:s}", 
			 "state", wa_client_state_name(cl->state));
		cl_disconnected(cl, "handshake_timeout");
		break;
	case T_PASSKEY:
		cl_passkey_timeout(cl);
		break;
	case T_NONE:
		break;
	}
	ylog_set_session(log_prev);
}

void cl_timer_start(struct wa_client *cl, enum cl_timer kind, uint64_t ms)
{
	cl->tkind = kind;
	uv_timer_start(&cl->timer, on_timer, ms, 0);
}

void cl_timer_stop(struct wa_client *cl)
{
	cl->tkind = T_NONE;
	uv_timer_stop(&cl->timer);
}

void cl_creds_changed(struct wa_client *cl)
{
	if (cl->cbs.on_creds && !cl->freeing)
		cl->cbs.on_creds(cl, &cl->creds, cl->ud);
}

/* Delay before reconnect attempt n (1-based): exponential with full jitter
 * in [d/2, d], so that many clients spread out. */
uint64_t cl_backoff_ms(const struct wa_client *cl, unsigned n)
{
	uint64_t d = cl->opts.backoff_min_ms;
	uint8_t r[2] = { 0, 0 };

	for (unsigned i = 1; i < n && d < cl->opts.backoff_max_ms; i++)
		d *= 2;
	if (d > cl->opts.backoff_max_ms)
		d = cl->opts.backoff_max_ms;
	wa_crypto_random(r, sizeof(r));
	return d / 2 + (d / 2) * (((unsigned)r[0] << 8) | r[1]) / 65535;
}

static void drop_conn(struct wa_client *cl)
{
	if (cl->conn) {
		struct wa_conn *c = cl->conn;

		cl->conn = NULL;
		wa_conn_drop(c); /* no callback of it reaches us any more */
	}
	cl_timer_stop(cl);
	cl_pool_cancel(cl);
	cl_qr_clear(cl);
	cl_passkey_clear(cl);
	cl_paircode_reset(cl);
	cl->ping_out = false;
	cl->pk_busy = false;
	cl_sends_reset(cl);
	cl_retry_reset(cl);
	cl_tctokens_reset(cl);
	cl_appstate_reset(cl);
	cl_unstored_reset(cl);
	cl_lookups_drop(cl); /* after cl->conn is cleared: every one */
	cl->media_conn_asked = false; /* its answer, if any, goes nowhere */
}

void cl_give_up(struct wa_client *cl, enum wa_client_state st, const char *reason)
{
	drop_conn(cl);
	cl->attempts = 0;
	cl_set_state(cl, st, reason);
}

void cl_disconnected(struct wa_client *cl, const char *reason)
{
	drop_conn(cl);
	if (cl->state == WA_CL_IDLE || cl->state == WA_CL_LOGGED_OUT || cl->state == WA_CL_FAILED)
		return;
	if (cl->logout_pending) {
		cl->logout_pending = false;
		cl->logout_on_login = false;
		cl_set_state(cl, WA_CL_LOGGED_OUT, WA_REASON_LOGGED_OUT);
		return;
	}
	uint64_t now = uv_now(cl->timer.loop), delay;

	if (cl->logout_on_login && now >= cl->logout_by) {
		cl->logout_on_login = false;
		LOG_WARN("client logged out without reaching WhatsApp: the phone still lists "
			 "this device until it is removed there", "{s:s}", "reason",
			 reason ? reason : WA_REASON_CONNECTION_LOST);
		cl_give_up(cl, WA_CL_LOGGED_OUT, WA_REASON_LOGGED_OUT);
		return;
	}
	cl->attempts++;
	if (cl->attempts > cl->opts.max_attempts && !cl->logout_on_login) {
		cl_give_up(cl, WA_CL_FAILED, WA_REASON_TOO_MANY_FAILURES);
		return;
	}
	cl_set_state(cl, WA_CL_WAITING, reason ? reason : WA_REASON_CONNECTION_LOST);
	ymetric_inc(YM_RECONNECTS);
	delay = cl_backoff_ms(cl, cl->attempts);
	/* a logout waiting for a connection ends by its deadline, not later */
	if (cl->logout_on_login && delay > cl->logout_by - now)
		delay = cl->logout_by - now;
	cl_timer_start(cl, T_BACKOFF, delay);
}

/* ---- nodes from the server ---- */

static int on_iq(struct wa_client *cl, const struct wa_node *n)
{
	const char *type = wa_node_attr(n, "type");
	const struct wa_node *first = n->content == WA_CONTENT_LIST && n->nkids ? n->kids[0] : NULL;

	if (!type)
		return Y_OK;
	if (first && wa_node_is(first, "pair-device"))
		return cl_pair_device(cl, n);
	if (first && wa_node_is(first, "pair-success"))
		return cl_pair_success(cl, n);
	if (!strcmp(type, "get") && first && wa_node_is(first, "ping"))
		return cl_iq_result(cl, n);
	if (!strcmp(type, "get") || !strcmp(type, "set"))
		return cl_iq_result(cl, n); /* acknowledged, not acted on */
	return Y_OK;
}

/* <stream:error code [<conflict type>]> */
static int on_stream_error(struct wa_client *cl, const struct wa_node *n)
{
	const char *code = wa_node_attr(n, "code");
	const struct wa_node *conflict = wa_node_child(n, "conflict");
	const char *ctype = conflict ? wa_node_attr(conflict, "type") : NULL;

	LOG_INFO("client stream error", "{s:s, s:s}",  "code",
		 code ? code : "", "conflict", ctype ? ctype : "");
	if (code && !strcmp(code, "515")) {
		/* restart required (after pairing): reconnect now, not a failure */
		drop_conn(cl);
		cl->attempts = 0;
		cl_set_state(cl, WA_CL_CONNECTING, NULL);
		cl_pool_request(cl);
		return Y_OK;
	}
	if ((code && !strcmp(code, "401")) || (ctype && !strcmp(ctype, "device_removed"))) {
		cl_give_up(cl, WA_CL_LOGGED_OUT, WA_REASON_DEVICE_REMOVED);
		return Y_OK;
	}
	if (ctype && !strcmp(ctype, "replaced")) {
		/* another connection of this device took over: reconnecting would
		 * fight it, so stop here (as whatsmeow's StreamReplaced) */
		cl_give_up(cl, WA_CL_FAILED, WA_REASON_REPLACED);
		return Y_OK;
	}
	cl_disconnected(cl, "stream_error");
	return Y_OK;
}

/* <failure reason=N> after a login or registration. */
static int on_failure(struct wa_client *cl, const struct wa_node *n)
{
	const char *r = wa_node_attr(n, "reason");
	int code = r ? atoi(r) : 0;

	LOG_INFO("client login failure", "{s:i}",  "reason", code);
	switch (code) {
	case 401:
	case 403:
		cl_give_up(cl, WA_CL_LOGGED_OUT, WA_REASON_LOGGED_OUT);
		break;
	case 402:
	case 406:
		cl_give_up(cl, WA_CL_FAILED, WA_REASON_BANNED);
		break;
	case 405:
		cl_give_up(cl, WA_CL_FAILED, WA_REASON_CLIENT_OUTDATED);
		break;
	default:
		cl_disconnected(cl, "login_failure");
		break;
	}
	return Y_OK;
}

/* Notifications, receipts and calls are acknowledged so the server stops
 * resending them. */
int cl_ack_node(struct wa_client *cl, const struct wa_node *n)
{
	const char *id = wa_node_attr(n, "id"), *from = wa_node_attr(n, "from");
	const char *type = wa_node_attr(n, "type");
	struct wa_node *a;
	int rc;

	if (!id || !from)
		return Y_OK;
	a = wa_node_new("ack");
	if (!a || cl_attrs(a, "id", id, "class", n->tag, "to", from, NULL) ||
	    (type && wa_node_is(n, "notification") && wa_node_add_attr(a, "type", type))) {
		wa_node_free(a);
		return Y_ENOMEM;
	}
	rc = cl_send(cl, a);
	wa_node_free(a);
	return rc;
}

static int on_notification(struct wa_client *cl, const struct wa_node *n)
{
	const char *type = wa_node_attr(n, "type");
	int rc = cl_ack_node(cl, n);

	if (!rc && type && !strcmp(type, "devices"))
		rc = cl_devices_notification(cl, n);
	else if (!rc && type && !strcmp(type, "encrypt"))
		rc = cl_prekeys_notification(cl, n);
	else if (!rc && type && !strcmp(type, "passkey_prologue_request"))
		rc = cl_passkey_request(cl, n);
	else if (!rc && type && !strcmp(type, "crsc_continuation"))
		rc = cl_passkey_continuation(cl, n);
	else if (!rc && type && !strcmp(type, "link_code_companion_reg"))
		rc = cl_paircode_notification(cl, n);
	else if (!rc && type && !strcmp(type, "privacy_token"))
		rc = cl_tctoken_notification(cl, n);
	else if (!rc && type && !strcmp(type, "picture"))
		rc = cl_picture_notification(cl, n);
	else if (!rc && type && !strcmp(type, "mediaretry"))
		rc = cl_mediaretry_notification(cl, n);
	else if (!rc && type && !strcmp(type, "server_sync"))
		rc = cl_appstate_notification(cl, n);
	return rc;
}

static int on_ib(struct wa_client *cl, const struct wa_node *n)
{
	if (wa_node_child(n, "downgrade_webclient")) {
		cl_give_up(cl, WA_CL_FAILED, "multidevice_mismatch");
		return Y_OK;
	}
	return Y_OK; /* offline marker, dirty bits: nothing to do yet */
}

static int on_call(struct wa_client *cl, const struct wa_node *n)
{
	return cl_ack_node(cl, n);
}

static int on_xmlstreamend(struct wa_client *cl, const struct wa_node *n)
{
	cl_disconnected(cl, "stream_end");
	return Y_OK;
}

/* The node-tag -> handler table (whatsmeow's nodeHandlers). Without a
 * Signal store messages are left unacknowledged, so the server keeps them. */
static const struct {
	const char *tag;
	int (*fn)(struct wa_client *cl, const struct wa_node *n);
} node_table[] = {
	{ "iq", on_iq },
	{ "success", cl_on_success },
	{ "failure", on_failure },
	{ "stream:error", on_stream_error },
	{ "xmlstreamend", on_xmlstreamend },
	{ "notification", on_notification },
	{ "receipt", cl_receipt_received },
	{ "call", on_call },
	{ "ib", on_ib },
	{ "message", cl_message_received },
	{ "ack", cl_send_ack },
	{ "presence", cl_presence_received },
	{ "chatstate", cl_chatstate_received },
};

int cl_node_received(struct wa_client *cl, const struct wa_node *n)
{
	for (size_t i = 0; i < sizeof(node_table) / sizeof(node_table[0]); i++)
		if (wa_node_is(n, node_table[i].tag))
			return node_table[i].fn(cl, n);
	LOG_DEBUG("client unhandled node", "{s:s}",  "tag", n->tag);
	/* every node the server numbered is acknowledged, known or not
	 * (whatsmeow a7ea5638): a <status> and whatever comes next are not
	 * redelivered forever */
	return cl_ack_node(cl, n);
}

static int on_node(struct wa_conn *c, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;

	return cl->conn == c ? cl_node_received(cl, n) : Y_OK;
}

static void on_close(struct wa_conn *c, int err, const char *reason, void *ud)
{
	struct wa_client *cl = ud;

	if (cl->conn != c)
		return; /* one we dropped on purpose */
	cl->conn = NULL;
	LOG_INFO("client connection closed", "{s:s, s:s}",  "error",
		 y_strerror(err), "reason", reason);
	if (err == Y_ECRYPTO)
		ymetric_inc(YM_NOISE_FAILURES);
	cl_disconnected(cl, err == Y_ECRYPTO ? "handshake_failed" : WA_REASON_CONNECTION_LOST);
}

static void on_ready(struct wa_conn *c, void *ud)
{
	ymetric_inc(YM_NOISE_HANDSHAKES);
}

const struct wa_conn_cbs cl_conn_cbs = { on_ready, on_node, on_close, NULL };

/* ---- public ---- */

int wa_client_new(struct wa_client_pool *p, const struct wa_creds *creds,
		  const struct wa_client_opts *o, const struct wa_client_cbs *cbs, void *ud,
		  struct wa_client **out)
{
	struct wa_client *cl = calloc(1, sizeof(*cl));

	*out = NULL;
	if (!cl)
		return Y_ENOMEM;
	if (o)
		cl->opts = *o;
	cl->opts.name = strdup(o && o->name ? o->name : "");
	if (!cl->opts.name) {
		free(cl);
		return Y_ENOMEM;
	}
	cl->tc_on_1to1 = true; /* until the server's props say otherwise */
	if (!cl->opts.max_attempts)
		cl->opts.max_attempts = DEF_MAX_ATTEMPTS;
	if (!cl->opts.backoff_min_ms)
		cl->opts.backoff_min_ms = DEF_BACKOFF_MIN;
	if (!cl->opts.backoff_max_ms)
		cl->opts.backoff_max_ms = DEF_BACKOFF_MAX;
	if (cl->opts.backoff_max_ms < cl->opts.backoff_min_ms)
		cl->opts.backoff_max_ms = cl->opts.backoff_min_ms;
	if (!cl->opts.keepalive_ms)
		cl->opts.keepalive_ms = DEF_KEEPALIVE;
	if (!cl->opts.iq_timeout_ms)
		cl->opts.iq_timeout_ms = DEF_IQ_TIMEOUT;
	if (!cl->opts.qr_first_ms)
		cl->opts.qr_first_ms = CL_QR_FIRST_MS;
	if (!cl->opts.qr_next_ms)
		cl->opts.qr_next_ms = CL_QR_NEXT_MS;
	if (!cl->opts.ping_timeout_ms)
		cl->opts.ping_timeout_ms = CL_PING_TIMEOUT_MS;
	if (!cl->opts.dead_ms)
		cl->opts.dead_ms = CL_DEAD_MS;
	cl->pool = p;
	if (cbs)
		cl->cbs = *cbs;
	cl->ud = ud;
	cl->creds = *creds;
	if (cl_signal_init(cl)) {
		wa_creds_wipe(&cl->creds);
		free((char *)cl->opts.name);
		free(cl);
		return Y_ENOMEM;
	}
	uv_timer_init(wa_loop_uv(p->loop), &cl->timer);
	cl->timer.data = cl;
	p->nclients++;
	*out = cl;
	return Y_OK;
}

static void client_closed(uv_handle_t *h)
{
	struct wa_client *cl = h->data;

	wa_creds_wipe(&cl->creds);
	free((char *)cl->opts.name);
	free(cl);
}

void wa_client_free(struct wa_client *cl)
{
	if (!cl)
		return;
	cl->freeing = true;
	drop_conn(cl);
	free(cl->pk_pending);
	cl->pk_pending = NULL;
	cl_devices_free(cl);
	cl_retry_free(cl);
	cl_tctokens_free(cl);
	cl_appstate_free(cl);
	cl_signal_free(cl);
	cl_receive_free(cl);
	cl->pool->nclients--;
	uv_close((uv_handle_t *)&cl->timer, client_closed);
}

int wa_client_start(struct wa_client *cl)
{
	if (cl->state != WA_CL_IDLE && cl->state != WA_CL_FAILED &&
	    cl->state != WA_CL_LOGGED_OUT)
		return Y_OK;
	if (cl->state == WA_CL_LOGGED_OUT) {
		struct wa_creds fresh;
		int rc = wa_creds_generate(&fresh);

		if (rc)
			return rc;
		wa_creds_wipe(&cl->creds);
		cl->creds = fresh;
		wa_creds_wipe(&fresh);
		cl_prekeys_reset(cl);
		cl_signal_free(cl); /* the old identity's sessions are void */
		cl_tctokens_free(cl); /* and the tokens contacts gave it */
		cl_appstate_free(cl); /* and its phone's app-state keys */
		cl_devices_free(cl);
		if (cl_signal_init(cl))
			LOG_WARN("client cannot make its Signal endpoint", NULL);
		cl_creds_changed(cl);
	}
	cl->attempts = 0;
	cl->logout_pending = false;
	cl->logout_on_login = false;
	cl_set_state(cl, WA_CL_CONNECTING, NULL);
	cl_pool_request(cl);
	return Y_OK;
}

void wa_client_stop(struct wa_client *cl)
{
	drop_conn(cl);
	cl->attempts = 0;
	cl_set_state(cl, WA_CL_IDLE, NULL);
}

static void on_logout_answer(struct wa_conn *c, int err, const struct wa_node *n, void *ud)
{
	struct wa_client *cl = ud;

	if (cl->conn == c)
		wa_conn_close(c); /* on_close then ends in LOGGED_OUT */
}

bool cl_unlink(struct wa_client *cl)
{
	struct wa_node *iq = cl_iq_new(cl, "set", "md"), *k;

	if (iq && (k = wa_node_add_child(iq, "remove-companion-device")) &&
	    !cl_attrs(k, "jid", cl->creds.jid, "reason", "user_initiated", NULL)) {
		cl->logout_pending = true;
		if (cl_iq_send(cl, iq, on_logout_answer) == Y_OK)
			return true;
		cl->logout_pending = false;
	} else {
		wa_node_free(iq);
	}
	return false;
}

void wa_client_logout(struct wa_client *cl)
{
	if (cl->state == WA_CL_CONNECTED && cl->conn && cl->creds.jid[0] && cl_unlink(cl))
		return;
	if ((cl->state == WA_CL_WAITING || cl->state == WA_CL_CONNECTING) &&
	    wa_creds_linked(&cl->creds) && cl->creds.jid[0]) {
		if (!cl->logout_on_login) {
			cl->logout_on_login = true;
			cl->logout_by = uv_now(cl->timer.loop) + WA_LOGOUT_WAIT_MS;
			LOG_INFO("client logout waits for a connection to unlink", "{s:s}", "state",
				 wa_client_state_name(cl->state));
		}
		if (cl->state == WA_CL_WAITING) { /* reconnect now, not after the backoff */
			cl_timer_stop(cl);
			cl_set_state(cl, WA_CL_CONNECTING, NULL);
			cl_pool_request(cl);
		}
		return;
	}
	cl_give_up(cl, WA_CL_LOGGED_OUT, WA_REASON_LOGGED_OUT);
}

enum wa_client_state wa_client_state(const struct wa_client *cl)
{
	return cl->state;
}

const struct wa_creds *wa_client_creds(const struct wa_client *cl)
{
	return &cl->creds;
}

const char *wa_client_qr(const struct wa_client *cl)
{
	return cl->qr;
}
