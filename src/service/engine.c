/* The WhatsApp engine: loop thread, worker thread, queues (see engine.h). */
#include "service/engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/jid.h"
#include "wa/socket.h"

#define ENGINE_DEF_CPS 500
#define ESESS_BUCKETS 1024
#define ENGINE_BEAT_MS 1000
#define ENGINE_STUCK_MS 10000

/* ---- commands (any thread -> loop) ---- */

enum cmd_kind {
	CMD_RUN,        /* creds loaded: create the client if needed and start it */
	CMD_RESTART,    /* creds loaded: stop and start */
	CMD_LOGOUT,
	CMD_FORGET,     /* the session was deleted */
	CMD_FREE,       /* free a forgotten client (outside its callbacks) */
	CMD_PREKEYS_SAVED,
	CMD_VERSION,    /* a new version to announce */
	CMD_IDLE,       /* unused for IDLE_DISCONNECT_HOURS: disconnect */
	CMD_PASSKEY,    /* submit an assertion, or confirm the code */
	CMD_PAIR_CODE,  /* ask the client for a pair code; an HTTP thread waits (seq) */
	CMD_SHUTDOWN,
};

struct cmd {
	struct cmd *next;
	enum cmd_kind kind;
	char id[STORE_ID_LEN];
	int err;
	struct wa_creds *creds; /* CMD_RUN / CMD_RESTART: owned */
	struct wa_version version; /* CMD_VERSION */
	/* CMD_PASSKEY: owned; no assertion = confirm the code */
	char *assertion;
	uint8_t *raw_id;
	size_t raw_id_len;
	char phone[24];         /* CMD_PAIR_CODE */
	uint64_t seq;           /* CMD_PAIR_CODE: the waiter */
};

/* ---- jobs (loop or HTTP -> worker) ---- */

enum job_kind {
	J_LOAD,          /* load or make credentials, then CMD_RUN */
	J_LOAD_RESTART,  /* the same, then CMD_RESTART */
	J_STATE,
	J_QR,
	J_CREDS,
	J_PREKEYS,
	J_PREKEYS_UPLOADED,
	J_PASSKEY,       /* the passkey options and code on show */
};

struct job {
	struct job *next;
	enum job_kind kind;
	char id[STORE_ID_LEN];
	/* J_STATE */
	enum svc_status status;
	char *reason, *phone, *device_jid, *lid, *push_name;
	int64_t at;
	bool unlink;
	/* J_QR */
	char *qr;
	/* J_PASSKEY */
	char *pk_options, *pk_code;
	/* J_CREDS */
	struct wa_creds *creds;
	/* J_PREKEYS */
	uint32_t *ids;
	uint8_t (*priv)[32];
	size_t n;
	uint32_t upto;
};

/* One session's client, on the loop. */
struct esess {
	struct esess *next;
	char id[STORE_ID_LEN];
	struct engine *e;
	struct wa_client *cl;
	bool forgotten;
	bool outdated;  /* failed as client_outdated: a new version restarts it */
	uint64_t pc_seq;        /* the pair-code waiter the client will answer, 0: none */
};

struct engine {
	struct store *st;
	struct svc *svc;
	struct engine_opts opts;
	uint8_t root[32];
	char *url, *ca_file;
	/* loop thread */
	pthread_t loop_thread;
	struct wa_loop *loop;
	struct wa_client_pool *pool;
	uv_async_t async;
	pthread_mutex_t cmd_mu;
	struct cmd *cmd_head, *cmd_tail;
	struct esess *sess[ESESS_BUCKETS];
	atomic_size_t nclients;
	bool stopping; /* loop thread only */
	bool loop_done;
	bool closed;   /* guarded by cmd_mu: the async handle is gone */
	atomic_int running;
	uv_timer_t beat;           /* ticks on the loop: the loop turns */
	atomic_llong heartbeat_ms; /* monotonic time of the last tick */
	/* worker */
	pthread_t worker_thread;
	pthread_mutex_t job_mu;
	pthread_cond_t job_cv;
	struct job *job_head, *job_tail;
	bool worker_stop;
	/* pair-code waiters (HTTP threads, on their stacks) */
	pthread_mutex_t pc_mu;
	pthread_cond_t pc_cv;
	struct pc_wait *pc_waits;
	uint64_t pc_next;
};

static const struct svc_engine_ops engine_ops;

/* ---- helpers ---- */

static unsigned id_bucket(const char *id)
{
	unsigned h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % ESESS_BUCKETS;
}

static struct esess *esess_find(struct engine *e, const char *id)
{
	for (struct esess *x = e->sess[id_bucket(id)]; x; x = x->next)
		if (!strcmp(x->id, id))
			return x;
	return NULL;
}

static void esess_remove(struct engine *e, struct esess *x)
{
	struct esess **pp = &e->sess[id_bucket(x->id)];

	for (; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			return;
		}
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static void cmd_release(struct cmd *c)
{
	if (c->creds) {
		wa_creds_wipe(c->creds);
		free(c->creds);
	}
	free(c->assertion);
	free(c->raw_id);
	free(c);
}

static void post_cmd(struct engine *e, struct cmd *c)
{
	pthread_mutex_lock(&e->cmd_mu);
	if (e->closed) { /* the loop has ended: nobody would run it */
		pthread_mutex_unlock(&e->cmd_mu);
		cmd_release(c);
		return;
	}
	c->next = NULL;
	if (e->cmd_tail)
		e->cmd_tail->next = c;
	else
		e->cmd_head = c;
	e->cmd_tail = c;
	pthread_mutex_unlock(&e->cmd_mu);
	uv_async_send(&e->async);
}

static int cmd(struct engine *e, enum cmd_kind kind, const char *id, int err,
	       struct wa_creds *creds)
{
	struct cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return Y_ENOMEM;
	c->kind = kind;
	c->err = err;
	c->creds = creds;
	if (id)
		snprintf(c->id, sizeof(c->id), "%s", id);
	post_cmd(e, c);
	return Y_OK;
}

static void job_free(struct job *j)
{
	free(j->reason);
	free(j->phone);
	free(j->device_jid);
	free(j->lid);
	free(j->push_name);
	free(j->qr);
	free(j->pk_options);
	free(j->pk_code);
	if (j->creds) {
		wa_creds_wipe(j->creds);
		free(j->creds);
	}
	free(j->ids);
	if (j->priv) {
		wa_wipe(j->priv, j->n * 32);
		free(j->priv);
	}
	free(j);
}

static struct job *job_new(enum job_kind kind, const char *id)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j) {
		j->kind = kind;
		snprintf(j->id, sizeof(j->id), "%s", id);
	}
	return j;
}

static void post_job(struct engine *e, struct job *j)
{
	if (!j)
		return; /* out of memory: logged by the caller's absence of effect */
	pthread_mutex_lock(&e->job_mu);
	if (e->job_tail)
		e->job_tail->next = j;
	else
		e->job_head = j;
	e->job_tail = j;
	pthread_cond_signal(&e->job_cv);
	pthread_mutex_unlock(&e->job_mu);
}

/* ---- client callbacks (loop thread) ---- */

/* The phone number of a device JID (its user part), into out. */
static void jid_phone(const char *jid, char *out, size_t cap)
{
	struct wa_jid j;

	out[0] = 0;
	if (jid && *jid && !wa_jid_parse(jid, strlen(jid), &j) && j.user_len < cap) {
		memcpy(out, j.user, j.user_len);
		out[j.user_len] = 0;
	}
}

static void on_state(struct wa_client *cl, enum wa_client_state st, const char *reason, void *ud)
{
	struct esess *x = ud;
	struct engine *e = x->e;
	const struct wa_creds *c = wa_client_creds(cl);
	struct job *j;
	char phone[32];

	x->outdated = st == WA_CL_FAILED && reason && !strcmp(reason, WA_REASON_CLIENT_OUTDATED);
	if (e->stopping || x->forgotten) {
		if (x->forgotten && (st == WA_CL_LOGGED_OUT || st == WA_CL_IDLE ||
				     st == WA_CL_FAILED))
			cmd(e, CMD_FREE, x->id, 0, NULL);
		return;
	}
	j = job_new(J_STATE, x->id);
	if (!j)
		return;
	switch (st) {
	case WA_CL_IDLE:
		job_free(j);
		return; /* stopped on purpose: the stored status stays */
	case WA_CL_CONNECTING:
		j->status = wa_creds_linked(c) ? SVC_CONNECTING : SVC_PENDING;
		break;
	case WA_CL_QR:
		j->status = SVC_QR;
		break;
	case WA_CL_PAIRING:
		j->status = SVC_CONNECTING;
		break;
	case WA_CL_CONNECTED:
		j->status = SVC_CONNECTED;
		j->at = clock_now_ms();
		break;
	case WA_CL_WAITING:
		j->status = SVC_DISCONNECTED;
		break;
	case WA_CL_LOGGED_OUT:
		j->status = SVC_LOGGED_OUT;
		j->unlink = true;
		break;
	case WA_CL_FAILED:
		j->status = SVC_FAILED;
		break;
	case WA_CL_PASSKEY:
		j->status = SVC_PASSKEY_REQUIRED;
		break;
	}
	j->reason = dup_or_null(reason);
	if (!j->unlink && wa_creds_linked(c)) {
		jid_phone(c->jid, phone, sizeof(phone));
		j->phone = dup_or_null(phone);
		j->device_jid = dup_or_null(c->jid);
		j->lid = dup_or_null(c->lid);
		j->push_name = dup_or_null(c->push_name);
	}
	post_job(e, j);
}

static void on_qr(struct wa_client *cl, const char *qr, void *ud)
{
	struct esess *x = ud;
	struct job *j;

	if (x->e->stopping || x->forgotten)
		return;
	j = job_new(J_QR, x->id);
	if (j && qr && !(j->qr = strdup(qr))) {
		job_free(j);
		return;
	}
	post_job(x->e, j);
}

static void on_creds(struct wa_client *cl, const struct wa_creds *c, void *ud)
{
	struct esess *x = ud;
	struct job *j;

	if (x->forgotten)
		return;
	j = job_new(J_CREDS, x->id);
	if (j && !(j->creds = malloc(sizeof(*j->creds)))) {
		job_free(j);
		return;
	}
	if (j)
		*j->creds = *c;
	post_job(x->e, j);
}

static void on_prekeys(struct wa_client *cl, const uint32_t *ids, const uint8_t (*priv)[32],
		       size_t n, void *ud)
{
	struct esess *x = ud;
	struct job *j = job_new(J_PREKEYS, x->id);

	if (!j || !(j->ids = malloc(n * sizeof(*ids))) || !(j->priv = malloc(n * 32))) {
		if (j)
			job_free(j);
		wa_client_prekeys_saved(cl, Y_ENOMEM);
		return;
	}
	memcpy(j->ids, ids, n * sizeof(*ids));
	memcpy(j->priv, priv, n * 32);
	j->n = n;
	post_job(x->e, j);
}

static void on_prekeys_uploaded(struct wa_client *cl, uint32_t upto, void *ud)
{
	struct esess *x = ud;
	struct job *j = job_new(J_PREKEYS_UPLOADED, x->id);

	if (j)
		j->upto = upto;
	post_job(x->e, j);
}

static void on_passkey(struct wa_client *cl, const char *options, const char *code, void *ud)
{
	struct esess *x = ud;
	struct job *j;

	if (x->e->stopping || x->forgotten)
		return;
	j = job_new(J_PASSKEY, x->id);
	if (j && ((options && !(j->pk_options = strdup(options))) ||
		  (code && !(j->pk_code = strdup(code))))) {
		job_free(j);
		return;
	}
	post_job(x->e, j);
}

static const struct wa_client_cbs client_cbs = {
	on_state, on_qr, on_creds, on_prekeys, on_prekeys_uploaded, on_passkey,
};

/* ---- commands on the loop ---- */

static struct esess *esess_create(struct engine *e, const char *id, const struct wa_creds *c)
{
	struct esess *x = calloc(1, sizeof(*x));
	struct wa_client_opts o;

	if (!x)
		return NULL;
	snprintf(x->id, sizeof(x->id), "%s", id);
	x->e = e;
	memset(&o, 0, sizeof(o));
	o.name = id;
	o.backoff_min_ms = e->opts.backoff_min_ms;
	o.backoff_max_ms = e->opts.backoff_max_ms;
	o.max_attempts = e->opts.max_attempts;
	if (wa_client_new(e->pool, c, &o, &client_cbs, x, &x->cl)) {
		free(x);
		return NULL;
	}
	x->next = e->sess[id_bucket(id)];
	e->sess[id_bucket(id)] = x;
	atomic_fetch_add(&e->nclients, 1);
	return x;
}

static void pc_complete(struct engine *e, uint64_t seq, int err, const char *code);

static void esess_free(struct engine *e, struct esess *x)
{
	if (x->pc_seq)
		pc_complete(e, x->pc_seq, Y_ECLOSED, NULL);
	esess_remove(e, x);
	wa_client_free(x->cl);
	atomic_fetch_sub(&e->nclients, 1);
	free(x);
}

/* ---- pair code: the loop answers an HTTP thread that waits ---- */

/* One HTTP thread waiting for a pair code (on its stack, listed in
 * e->pc_waits while it waits). The loop finds it by seq, so a waiter that
 * gave up is simply not found. */
struct pc_wait {
	struct pc_wait *next;
	uint64_t seq;
	bool done;
	int err;
	char code[SVC_PAIR_CODE_LEN];
};

static void pc_complete(struct engine *e, uint64_t seq, int err, const char *code)
{
	pthread_mutex_lock(&e->pc_mu);
	for (struct pc_wait *w = e->pc_waits; w; w = w->next)
		if (w->seq == seq) {
			w->done = true;
			w->err = err;
			if (code)
				snprintf(w->code, sizeof(w->code), "%s", code);
			pthread_cond_broadcast(&e->pc_cv);
			break;
		}
	pthread_mutex_unlock(&e->pc_mu);
}

static void on_pair_code(struct wa_client *cl, int err, const char *code, void *ud)
{
	struct esess *x = ud;
	uint64_t seq = x->pc_seq;

	x->pc_seq = 0;
	if (seq)
		pc_complete(x->e, seq, err, code);
}

static void run_pair_code(struct engine *e, struct esess *x, struct cmd *c)
{
	int rc;

	if (!x || x->forgotten) {
		rc = Y_ESTATE; /* no client running: the session is stopped */
	} else if (wa_creds_linked(wa_client_creds(x->cl)) ||
		   wa_client_state(x->cl) == WA_CL_CONNECTED) {
		rc = Y_EEXIST;
	} else {
		rc = wa_client_pair_code(x->cl, c->phone, on_pair_code, x);
		if (!rc) {
			if (x->pc_seq) /* an earlier waiter whose code is replaced */
				pc_complete(e, x->pc_seq, Y_EBUSY, NULL);
			x->pc_seq = c->seq;
			return;
		}
	}
	pc_complete(e, c->seq, rc, NULL);
}

static void run_cmd(struct engine *e, struct cmd *c)
{
	struct esess *x = esess_find(e, c->id);

	if (e->stopping && c->kind != CMD_SHUTDOWN)
		return;
	switch (c->kind) {
	case CMD_RUN:
	case CMD_RESTART:
		if (x && x->forgotten)
			return;
		if (x && c->kind == CMD_RESTART) {
			/* a new client on what the store holds now (fresh keys after a
			 * logout; the worker applied every earlier write first) */
			esess_free(e, x);
			x = NULL;
		}
		if (!x) {
			x = esess_create(e, c->id, c->creds);
			if (!x) {
				LOG_ERROR("engine cannot create a client", NULL);
				return;
			}
		}
		wa_client_start(x->cl);
		break;
	case CMD_LOGOUT:
		if (x && !x->forgotten) {
			wa_client_logout(x->cl);
		} else if (!x) {
			struct job *j = job_new(J_STATE, c->id);

			if (j) {
				j->status = SVC_LOGGED_OUT;
				j->unlink = true;
				j->reason = strdup(WA_REASON_LOGGED_OUT);
			}
			post_job(e, j);
		}
		break;
	case CMD_FORGET:
		if (x && !x->forgotten) {
			x->forgotten = true;
			if (wa_client_state(x->cl) == WA_CL_CONNECTED)
				wa_client_logout(x->cl); /* CMD_FREE follows its LOGGED_OUT */
			else
				esess_free(e, x);
		}
		break;
	case CMD_FREE:
		if (x && x->forgotten)
			esess_free(e, x);
		break;
	case CMD_PREKEYS_SAVED:
		if (x)
			wa_client_prekeys_saved(x->cl, c->err);
		break;
	case CMD_VERSION: {
		char v[40];
		size_t n = 0;

		wa_client_pool_set_version(e->pool, c->version);
		for (size_t i = 0; i < ESESS_BUCKETS; i++)
			for (struct esess *y = e->sess[i]; y; y = y->next)
				if (y->outdated && !y->forgotten) {
					y->outdated = false;
					wa_client_start(y->cl);
					n++;
				}
		wa_version_format(&c->version, v, sizeof(v));
		LOG_INFO("engine: WhatsApp Web version changed", "{s:s, s:i}", "version", v,
			 "restarted", (int)n);
		break;
	}
	case CMD_IDLE:
		if (x && !x->forgotten && wa_client_state(x->cl) == WA_CL_CONNECTED) {
			struct job *j = job_new(J_STATE, c->id);

			wa_client_stop(x->cl); /* IDLE: reports nothing itself */
			if (j) {
				j->status = SVC_DISCONNECTED;
				j->reason = strdup("idle");
			}
			post_job(e, j);
			LOG_INFO("engine: disconnected for idleness", NULL);
		}
		break;
	case CMD_PASSKEY: {
		int rc = Y_ESTATE;

		if (x && !x->forgotten)
			rc = c->assertion ? wa_client_passkey_submit(x->cl, c->assertion, c->raw_id,
								     c->raw_id_len)
					  : wa_client_passkey_confirm(x->cl);
		if (rc)
			LOG_INFO("engine passkey command not taken", "{s:s}", "error", y_strerror(rc));
		break;
	}
	case CMD_PAIR_CODE:
		run_pair_code(e, x, c);
		break;
	case CMD_SHUTDOWN:
		e->stopping = true;
		for (size_t i = 0; i < ESESS_BUCKETS; i++)
			while (e->sess[i])
				esess_free(e, e->sess[i]);
		wa_client_pool_free(e->pool);
		e->pool = NULL;
		pthread_mutex_lock(&e->cmd_mu);
		e->closed = true;
		pthread_mutex_unlock(&e->cmd_mu);
		uv_close((uv_handle_t *)&e->async, NULL);
		uv_timer_stop(&e->beat);
		uv_close((uv_handle_t *)&e->beat, NULL);
		e->loop_done = true;
		atomic_store(&e->running, 0);
		break;
	}
}

static void on_async(uv_async_t *a)
{
	struct engine *e = a->data;
	struct cmd *list;

	pthread_mutex_lock(&e->cmd_mu);
	list = e->cmd_head;
	e->cmd_head = e->cmd_tail = NULL;
	pthread_mutex_unlock(&e->cmd_mu);
	while (list) {
		struct cmd *c = list;

		list = c->next;
		ylog_set_session(c->id[0] ? c->id : NULL);
		run_cmd(e, c);
		ylog_set_session(NULL);
		cmd_release(c);
	}
}

static void on_tick(uv_timer_t *t)
{
}

static void *loop_main(void *arg)
{
	struct engine *e = arg;
	uv_timer_t tick;

	while (!e->loop_done)
		wa_loop_run_once(e->loop, 0);
	/* the clients aborted their sockets: let them close (and their
	 * connections free themselves) before the loop goes, for up to 2 s; a
	 * ticking timer makes each blocking run return */
	uv_timer_init(wa_loop_uv(e->loop), &tick);
	uv_timer_start(&tick, on_tick, 10, 10);
	for (int i = 0; i < 200 && wa_loop_socket_count(e->loop) > 0; i++)
		wa_loop_run_once(e->loop, 0);
	uv_close((uv_handle_t *)&tick, NULL);
	wa_loop_run_once(e->loop, 1);
	if (wa_loop_socket_count(e->loop))
		LOG_WARN("engine: sockets still open at shutdown", "{s:i}", "sockets",
			 (int)wa_loop_socket_count(e->loop));
	wa_loop_free(e->loop);
	e->loop = NULL;
	return NULL;
}

/* ---- the worker ---- */

static void creds_to_store(const struct wa_creds *c, struct store_creds *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->noise_priv, c->noise.priv, 32);
	memcpy(s->identity_priv, c->identity.priv, 32);
	s->registration_id = c->identity.registration_id;
	s->spk_id = c->spk_id;
	memcpy(s->spk_priv, c->spk.priv, 32);
	memcpy(s->spk_sig, c->spk_sig, 64);
	memcpy(s->adv_secret, c->adv_secret, 32);
	s->account = c->account_len ? (uint8_t *)c->account : NULL;
	s->account_len = c->account_len;
	s->jid = c->jid[0] ? (char *)c->jid : NULL;
	s->lid = c->lid[0] ? (char *)c->lid : NULL;
	s->platform = c->platform[0] ? (char *)c->platform : NULL;
	s->push_name = c->push_name[0] ? (char *)c->push_name : NULL;
	s->next_prekey_id = c->next_prekey_id;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	if (src && strlen(src) < cap)
		memcpy(dst, src, strlen(src) + 1);
}

static int creds_from_store(const struct store_creds *s, struct wa_creds *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->noise.priv, s->noise_priv, 32);
	memcpy(c->identity.priv, s->identity_priv, 32);
	c->identity.registration_id = s->registration_id;
	c->spk_id = s->spk_id;
	memcpy(c->spk.priv, s->spk_priv, 32);
	memcpy(c->spk_sig, s->spk_sig, 64);
	memcpy(c->adv_secret, s->adv_secret, 32);
	if (s->account_len > sizeof(c->account))
		return Y_EINVAL;
	if (s->account_len)
		memcpy(c->account, s->account, s->account_len);
	c->account_len = s->account_len;
	copy_str(c->jid, sizeof(c->jid), s->jid);
	copy_str(c->lid, sizeof(c->lid), s->lid);
	copy_str(c->platform, sizeof(c->platform), s->platform);
	copy_str(c->push_name, sizeof(c->push_name), s->push_name);
	c->next_prekey_id = s->next_prekey_id;
	return wa_creds_derive(c);
}

static int put_creds(struct engine *e, const char *id, const struct wa_creds *c)
{
	struct store_creds sc;

	creds_to_store(c, &sc);
	return store_creds_put(e->st, id, &sc);
}

static void do_load(struct engine *e, struct job *j)
{
	struct wa_creds *c = calloc(1, sizeof(*c));
	struct store_creds sc;
	int rc;

	if (!c)
		return;
	rc = store_creds_get(e->st, j->id, &sc);
	if (rc == Y_OK) {
		rc = creds_from_store(&sc, c);
		store_creds_release(&sc);
	} else if (rc == Y_ENOTFOUND) {
		rc = wa_creds_generate(c);
		rc = rc ?: put_creds(e, j->id, c);
	}
	if (rc) {
		if (rc != Y_ENOTFOUND)
			LOG_ERROR("engine cannot load credentials", "{s:s}", "error", y_strerror(rc));
		wa_creds_wipe(c);
		free(c);
		return;
	}
	if (cmd(e, j->kind == J_LOAD ? CMD_RUN : CMD_RESTART, j->id, 0, c)) {
		wa_creds_wipe(c);
		free(c);
	}
}

static void do_state(struct engine *e, struct job *j)
{
	struct store_session_update u;
	int rc;

	memset(&u, 0, sizeof(u));
	u.status = svc_status_name(j->status);
	u.reason = j->reason;
	u.phone = j->phone;
	u.push_name = j->push_name;
	u.device_jid = j->device_jid;
	u.lid = j->lid;
	u.unlink = j->unlink;
	if (j->status == SVC_CONNECTED)
		u.connected_at = u.last_seen_at = j->at;
	if (j->unlink) {
		rc = store_creds_delete(e->st, j->id);
		if (rc)
			LOG_ERROR("engine cannot wipe credentials", "{s:s}", "error", y_strerror(rc));
	}
	rc = svc_session_apply(e->svc, j->id, &u);
	if (rc && rc != Y_ENOTFOUND)
		LOG_ERROR("engine cannot save a status", "{s:s}", "error", y_strerror(rc));
	if (j->status != SVC_QR)
		svc_session_set_qr(e->svc, j->id, NULL);
	if (j->status != SVC_PASSKEY_REQUIRED)
		svc_session_set_passkey(e->svc, j->id, NULL, NULL);
}

static void run_job(struct engine *e, struct job *j)
{
	int rc = Y_OK;

	switch (j->kind) {
	case J_LOAD:
	case J_LOAD_RESTART:
		do_load(e, j);
		break;
	case J_STATE:
		do_state(e, j);
		break;
	case J_QR:
		svc_session_set_qr(e->svc, j->id, j->qr);
		break;
	case J_PASSKEY:
		svc_session_set_passkey(e->svc, j->id, j->pk_options, j->pk_code);
		break;
	case J_CREDS:
		rc = put_creds(e, j->id, j->creds);
		break;
	case J_PREKEYS:
		rc = store_prekeys_add(e->st, j->id, j->ids, (const uint8_t(*)[32])j->priv, j->n);
		cmd(e, CMD_PREKEYS_SAVED, j->id, rc, NULL);
		break;
	case J_PREKEYS_UPLOADED:
		rc = store_prekeys_mark_uploaded(e->st, j->id, j->upto);
		break;
	}
	if (rc && rc != Y_ENOTFOUND)
		LOG_ERROR("engine store write failed", "{s:i, s:s}", "job", (int)j->kind, "error",
			  y_strerror(rc));
}

static void idle_one(const char *id, void *arg)
{
	cmd(arg, CMD_IDLE, id, 0, NULL);
}

/* Every connected session unused for opts.idle_ms gets a CMD_IDLE. */
static void idle_scan(struct engine *e)
{
	svc_sessions_idle(e->svc, clock_now_ms() - e->opts.idle_ms, idle_one, e);
}

static void *worker_main(void *arg)
{
	struct engine *e = arg;
	int64_t scan_every = e->opts.idle_ms / 2, next_scan = 0;

	if (scan_every > 60000)
		scan_every = 60000;
	if (scan_every < 200)
		scan_every = 200;
	if (e->opts.idle_ms > 0)
		next_scan = clock_mono_ms() + scan_every;
	for (;;) {
		struct job *list;

		pthread_mutex_lock(&e->job_mu);
		while (!e->job_head && !e->worker_stop) {
			if (next_scan && clock_mono_ms() >= next_scan) {
				pthread_mutex_unlock(&e->job_mu);
				idle_scan(e);
				next_scan = clock_mono_ms() + scan_every;
				pthread_mutex_lock(&e->job_mu);
				continue;
			}
			if (next_scan) {
				struct timespec until = clock_deadline(CLOCK_REALTIME,
					(int)(next_scan - clock_mono_ms() > 0 ? next_scan - clock_mono_ms() : 0));

				pthread_cond_timedwait(&e->job_cv, &e->job_mu, &until);
			} else {
				pthread_cond_wait(&e->job_cv, &e->job_mu);
			}
		}
		list = e->job_head;
		e->job_head = e->job_tail = NULL;
		pthread_mutex_unlock(&e->job_mu);
		if (!list)
			break; /* stop asked and nothing left */
		while (list) {
			struct job *j = list;

			list = j->next;
			ylog_set_session(j->id);
			run_job(e, j);
			ylog_set_session(NULL);
			job_free(j);
		}
	}
	return NULL;
}

/* ---- svc_engine_ops (HTTP threads) ---- */

static int op_load(struct engine *e, const char *id, enum job_kind kind)
{
	struct job *j = job_new(kind, id);

	if (!j)
		return Y_ENOMEM;
	post_job(e, j);
	return Y_OK;
}

static int op_start(void *eng, const char *id)
{
	return op_load(eng, id, J_LOAD);
}

static int op_restart(void *eng, const char *id)
{
	return op_load(eng, id, J_LOAD_RESTART);
}

static int op_logout(void *eng, const char *id)
{
	return cmd(eng, CMD_LOGOUT, id, 0, NULL);
}

static int op_passkey(void *eng, const char *id, const char *assertion, const uint8_t *raw_id,
		      size_t raw_id_len)
{
	struct cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return Y_ENOMEM;
	c->kind = CMD_PASSKEY;
	snprintf(c->id, sizeof(c->id), "%s", id);
	if (assertion && (!(c->assertion = strdup(assertion)) ||
			  !(c->raw_id = malloc(raw_id_len ? raw_id_len : 1)))) {
		cmd_release(c);
		return Y_ENOMEM;
	}
	if (assertion) {
		memcpy(c->raw_id, raw_id, raw_id_len);
		c->raw_id_len = raw_id_len;
	}
	post_cmd(eng, c);
	return Y_OK;
}

static void op_forget(void *eng, const char *id)
{
	cmd(eng, CMD_FORGET, id, 0, NULL);
}

static int op_send_text(void *eng, const char *session_id, const char *phone, const char *text,
			struct store_message *out)
{
	return Y_ESTATE; /* messaging is the next step of the engine */
}

static int op_pair_code(void *eng, const char *id, const char *phone,
			char code[SVC_PAIR_CODE_LEN], int timeout_ms)
{
	struct engine *e = eng;
	struct cmd *c = calloc(1, sizeof(*c));
	struct pc_wait w, **pp;
	struct timespec deadline;
	int rc;

	if (!c)
		return Y_ENOMEM;
	if (strlen(phone) >= sizeof(c->phone)) {
		free(c);
		return Y_EINVAL;
	}
	memset(&w, 0, sizeof(w));
	deadline = clock_deadline(CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&e->pc_mu);
	w.seq = ++e->pc_next;
	w.next = e->pc_waits;
	e->pc_waits = &w;
	pthread_mutex_unlock(&e->pc_mu);
	c->kind = CMD_PAIR_CODE;
	c->seq = w.seq;
	snprintf(c->id, sizeof(c->id), "%s", id);
	memcpy(c->phone, phone, strlen(phone) + 1);
	post_cmd(e, c);
	pthread_mutex_lock(&e->pc_mu);
	while (!w.done)
		if (pthread_cond_timedwait(&e->pc_cv, &e->pc_mu, &deadline))
			break;
	for (pp = &e->pc_waits; *pp; pp = &(*pp)->next)
		if (*pp == &w) {
			*pp = w.next;
			break;
		}
	pthread_mutex_unlock(&e->pc_mu);
	rc = w.done ? w.err : Y_ETIMEOUT;
	if (!rc)
		memcpy(code, w.code, sizeof(w.code));
	return rc;
}

static int op_set_version(void *eng, const struct wa_version *v)
{
	struct cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return Y_ENOMEM;
	c->kind = CMD_VERSION;
	c->version = *v;
	post_cmd(eng, c);
	return Y_OK;
}

/* Healthy while the loop runs and turns: a loop stuck for
 * ENGINE_STUCK_MS (a callback that never returns) is not. */
static int op_healthy(void *eng)
{
	struct engine *e = eng;

	return atomic_load(&e->running) &&
	       clock_mono_ms() - atomic_load(&e->heartbeat_ms) < ENGINE_STUCK_MS;
}

static void on_beat(uv_timer_t *t)
{
	struct engine *e = t->data;

	atomic_store(&e->heartbeat_ms, clock_mono_ms());
}

static const struct svc_engine_ops engine_ops = {
	.start = op_start,
	.logout = op_logout,
	.restart = op_restart,
	.set_version = op_set_version,
	.send_text = op_send_text,
	.healthy = op_healthy,
	.forget = op_forget,
	.passkey = op_passkey,
	.pair_code = op_pair_code,
};

/* ---- lifecycle ---- */

static void restore_one(const struct store_session *x, void *arg)
{
	struct engine *e = arg;
	enum svc_status st;

	if (svc_status_parse(x->status, &st))
		return;
	if (st == SVC_LOGGED_OUT || st == SVC_FAILED)
		return;
	if (st == SVC_DISCONNECTED && x->reason && !strcmp(x->reason, "idle"))
		return; /* stays down until its next use */
	op_start(e, x->id);
}

int engine_new(struct store *st, struct svc *svc, const struct engine_opts *o,
	       struct engine **out)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct wa_client_pool_opts po;
	int rc;

	*out = NULL;
	if (!e)
		return Y_ENOMEM;
	e->st = st;
	e->svc = svc;
	e->opts = *o;
	pthread_mutex_init(&e->cmd_mu, NULL);
	pthread_mutex_init(&e->job_mu, NULL);
	pthread_cond_init(&e->job_cv, NULL);
	pthread_mutex_init(&e->pc_mu, NULL);
	pthread_cond_init(&e->pc_cv, NULL);
	rc = wa_loop_new(NULL, &e->loop);
	if (rc)
		goto fail;
	memset(&po, 0, sizeof(po));
	po.url = o->url;
	po.ca_file = o->ca_file;
	po.root_pub = o->root_pub;
	po.version = o->version;
	po.connects_per_sec = o->connects_per_sec ? o->connects_per_sec : ENGINE_DEF_CPS;
	rc = wa_client_pool_new(e->loop, &po, &e->pool);
	if (rc)
		goto fail;
	uv_async_init(wa_loop_uv(e->loop), &e->async, on_async);
	e->async.data = e;
	uv_timer_init(wa_loop_uv(e->loop), &e->beat);
	e->beat.data = e;
	atomic_store(&e->heartbeat_ms, clock_mono_ms());
	uv_timer_start(&e->beat, on_beat, ENGINE_BEAT_MS, ENGINE_BEAT_MS);
	if (pthread_create(&e->worker_thread, NULL, worker_main, e)) {
		rc = Y_ENOMEM;
		uv_close((uv_handle_t *)&e->async, NULL);
		uv_close((uv_handle_t *)&e->beat, NULL);
		goto fail;
	}
	if (pthread_create(&e->loop_thread, NULL, loop_main, e)) {
		pthread_mutex_lock(&e->job_mu);
		e->worker_stop = true;
		pthread_cond_signal(&e->job_cv);
		pthread_mutex_unlock(&e->job_mu);
		pthread_join(e->worker_thread, NULL);
		uv_close((uv_handle_t *)&e->async, NULL);
		uv_close((uv_handle_t *)&e->beat, NULL);
		rc = Y_ENOMEM;
		goto fail;
	}
	atomic_store(&e->running, 1);
	svc_set_engine(svc, &engine_ops, e);
	svc_session_foreach(svc, restore_one, e);
	*out = e;
	return Y_OK;
fail:
	wa_client_pool_free(e->pool);
	if (e->loop)
		wa_loop_free(e->loop);
	pthread_mutex_destroy(&e->cmd_mu);
	pthread_mutex_destroy(&e->job_mu);
	pthread_cond_destroy(&e->job_cv);
	pthread_mutex_destroy(&e->pc_mu);
	pthread_cond_destroy(&e->pc_cv);
	free(e);
	return rc;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	cmd(e, CMD_SHUTDOWN, NULL, 0, NULL);
	pthread_join(e->loop_thread, NULL);
	svc_set_engine(e->svc, NULL, NULL);
	pthread_mutex_lock(&e->job_mu);
	e->worker_stop = true;
	pthread_cond_signal(&e->job_cv);
	pthread_mutex_unlock(&e->job_mu);
	pthread_join(e->worker_thread, NULL);
	while (e->cmd_head) { /* posted by the worker after the loop ended */
		struct cmd *c = e->cmd_head;

		e->cmd_head = c->next;
		cmd_release(c);
	}
	pthread_mutex_destroy(&e->cmd_mu);
	pthread_mutex_destroy(&e->job_mu);
	pthread_cond_destroy(&e->job_cv);
	pthread_mutex_destroy(&e->pc_mu);
	pthread_cond_destroy(&e->pc_cv);
	free(e);
}

size_t engine_client_count(struct engine *e)
{
	return atomic_load(&e->nclients);
}
