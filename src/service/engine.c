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
#include "util/codec.h"
#include <jansson.h>
#include "wa/pb.h"
#include "wa.pb-c.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"
#include "service/gcommit.h"
#include "service/media_send.h"
#include "service/msgkind.h"
#include "service/signal_db.h"
#include "wa/jid.h"
#include "wa/mediaretry.h"
#include "wa/socket.h"

#define ENGINE_FLUSH_RETRY_MS 200 /* after a failed Signal-state flush */
#define ENGINE_DEF_CPS 1000
#define ESESS_BUCKETS 1024
#define ENGINE_BEAT_MS 1000
#define ENGINE_MEDIA_RETRY_MS 30000 /* our phone's answer to a media retry, at most (default) */
#define ENGINE_LATE_MS 50 /* a beat later than this counts in YM_LOOP_LATE_MS */
#define ENGINE_STUCK_MS 10000
#define ENGINE_DRAIN_MS 100      /* how often throttled queues are looked at */
#define ENGINE_INFLIGHT_MAX 32   /* messages handed to one client, not yet acked */

/* ---- commands (any thread -> loop) ---- */

/* One contact query (made by the HTTP thread, then the loop's): listed in
 * e->lookups from when the loop asks the client until the client's answer,
 * which wa_client_lookup and its kin promise exactly once; `answered` once done() ran
 * (the answer, or the deadline the beat timer checks first). */
struct lookup_wait {
	struct lookup_wait *next;
	struct engine *e;
	uint64_t deadline;         /* uv_now */
	int timeout_ms;
	bool answered;
	svc_lookup_cb done;
	void *arg;
	enum svc_query_kind kind;
	char phone[24];            /* SVC_Q_CONTACT */
	char jid[72];              /* SVC_Q_PICTURE */
	bool preview;
	uint8_t *jpeg;             /* SVC_Q_SET_PICTURE: owned */
	size_t len;
	char id[STORE_ID_LEN];     /* the session */
};

static void lookup_free(struct lookup_wait *lw)
{
	if (lw)
		free(lw->jpeg);
	free(lw);
}

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
	CMD_LOOKUP,     /* a usync contact lookup (phone); answered by a callback */
	CMD_SEND,       /* a message accepted (stored pending): queue it */
	CMD_SIG_DURABLE,/* the worker flushed Signal state: release held messages */
	CMD_MSG_STORED, /* an inbound message (wa_id) is committed: receipt and ack now */
	CMD_SENT_SAVED, /* an outbound message's "sent" (wa_id) is committed: its slot is free */
	CMD_READ,       /* send a read receipt (chat, wa_id) */
	CMD_MEDIA_CONN, /* the uploader needs the session's media_conn */
	CMD_ABOUT,      /* set our about text (assertion = the text) */
	CMD_PUSH_NAME,  /* set our push name (assertion = the name) */
	CMD_BLOCK,      /* block list: chat = JID, phone = "block" | "unblock" | "get" */
	CMD_PRESENCE,   /* presence / chat state / subscribe (seq = SVC_PRESENCE_*, chat, phone = state) */
	CMD_MEDIA_RETRY,/* media expired on its host: ask our phone (wa_id, chat, part, mkey, mid) */
	CMD_APPSTATE,   /* an app-state write (act) */
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
	char chat[72];          /* CMD_READ */
	char (*rids)[WA_MSG_ID_MAX]; /* CMD_READ of several ids (one receipt): owned */
	size_t nrids;
	char wa_id[WA_MSG_ID_MAX];
	uint64_t seq;           /* CMD_PAIR_CODE: the waiter */
	struct lookup_wait *lookup; /* CMD_LOOKUP (owned until the loop takes it) */
	struct omsg *msgs;      /* CMD_SEND, CMD_RUN / CMD_RESTART: to queue, owned */
	uint32_t *pk_ids;       /* CMD_RUN / CMD_RESTART: one-time prekeys kept, owned */
	uint8_t (*pk_priv)[32];
	size_t npk;
	struct wa_tctoken *tcs; /* CMD_RUN / CMD_RESTART: privacy tokens kept, owned */
	size_t ntc;
	struct store_appstate *as; /* CMD_RUN / CMD_RESTART: app state kept, owned */
	size_t nas;
	struct wa_client_action *act; /* CMD_APPSTATE: owned */
	/* CMD_MEDIA_RETRY: our message id, the sender in a group, its media key */
	char mid[STORE_ID_LEN];
	char part[72];
	uint8_t mkey[32];
	bool from_me;
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
	J_MSG_STATUS,    /* outbound messages (by WhatsApp id) moved to a status */
	J_MSG_IN,        /* a message received */
	J_SIG_FLUSH,     /* Signal state was saved: write it (signal_db.h) */
	J_PRESENCE,      /* a presence or chat state arrived: a `presence` event */
	J_PICTURE,       /* a profile picture changed: a `contact.picture` event */
	J_BLOCKLIST,     /* the server's block list (ev_data): kept as a setting */
	J_LID_MAP,       /* a LID and its number learnt (lid, phone: bare users) */
	J_TCTOKEN,       /* a contact's privacy token entry changed (tc) */
	J_MEDIA_RETRY,   /* our phone's answer to a media retry (mid; mr_path or reason) */
	J_APPSTATE,      /* an app-state key or collection state to keep (asr) */
	J_APPSTATE_APPLY,/* another device's app-state write to apply (act) */
};

struct job {
	struct job *next;
	enum job_kind kind;
	char id[STORE_ID_LEN];
	/* J_STATE */
	enum store_session_status status;
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
	/* J_MSG_STATUS: wa ids[0..nwa) to status (reason) */
	char (*wa_ids)[WA_MSG_ID_MAX];
	size_t nwa;
	const char *msg_status;
	/* J_MSG_IN */
	struct store_message *in;
	struct msgkind_in kin;  /* its kind, when it acts on another message */
	/* J_PRESENCE, J_PICTURE: JSON text of the event */
	char *ev_data;
	bool retry;                /* its insert failed: run again (worker) */
	struct store_media *media; /* its media row, if it has media */
	struct store_tctoken *tc;  /* J_TCTOKEN */
	char mid[STORE_ID_LEN];    /* J_MEDIA_RETRY: our message id */
	char *mr_path;             /* J_MEDIA_RETRY: the new direct path, or NULL (reason) */
	struct store_appstate asr; /* J_APPSTATE: asr.data owned */
	struct wa_client_action *act; /* J_APPSTATE_APPLY: owned */
};

/* One outbound message on the loop: accepted (stored pending), waiting in
 * its session's queue, then handed to the client until it is acked. */
struct omsg {
	struct omsg *next;
	char id[STORE_ID_LEN];
	char to_session[STORE_ID_LEN]; /* e->orphans only */
	char wa_id[WA_MSG_ID_MAX];
	char to[72];
	char *text;
	char *type, *body; /* the kind (msgkind.h); NULL type: a plain text */
	uint8_t *pb;    /* a packed media Message (media_send.c), else NULL: a text or a kind */
	size_t pb_len;
	char *src;      /* its source file, removed once the message is acked */
	bool acked;     /* the server acked it; kept (in inflight) until "sent" is committed */
};

/* A session's media_conn (loop writes, uploader reads; under mc_mu). */
struct mconn {
	struct mconn *next;
	char id[STORE_ID_LEN];
	struct wa_media_conn c;
	int64_t expires_ms;  /* clock_mono_ms; 0: none yet */
	int64_t asked_ms;    /* when the loop was last asked for one */
};

/* How many of a session's outbound messages may be pending (HTTP threads,
 * under pend_mu): an upper bound, so most sends need no count(*) of the
 * queue: est >= the pending rows + the sends between their check and their
 * commit (inflight). Only a check adds pending rows; rows leaving pending
 * (sent, failed, deleted) make it stale on the high side, and it is counted
 * again exactly when it reaches QUEUE_MAX. */
struct pend {
	struct pend *next;
	char id[STORE_ID_LEN];
	int64_t est, inflight;
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
	/* Signal state of the client: a view of the engine's sigdb cache (kept
	 * in the store), or memory without a database URL: signal_store_for(). */
	struct wa_signal_store *sigstore;
	/* outbound queue (FIFO) and what the client holds */
	struct omsg *q_head, *q_tail;
	/* handed to the client, until its "sent" is committed
	 * (acked ones too: a crash before the commit sends those again, so
	 * ENGINE_INFLIGHT_MAX bounds what a crash can repeat) */
	struct omsg *inflight;
	struct omsg *rq_head, *rq_tail; /* back from a lost connection, in order */
	size_t nq;
	/* fingerprints of the ids q_append took (a superset of the ids in the
	 * three lists above; open addressing, 0 = empty, NULL: none): a miss
	 * proves an id is not queued without walking the lists */
	uint64_t *seen;
	size_t seen_cap, seen_n;
	double tokens;          /* RATE_LIMIT_MESSAGES bucket */
	uint64_t refill_ms;
	struct esess *drain_next; /* in e->draining while its queue is not empty */
	bool draining;
	struct esess *wait_next;  /* in e->state_waiting while the client holds */
	bool state_waiting;       /* messages for the Signal state (on_state_wait) */
	/* media retries asked of our phone, waiting for its answer (the key
	 * opens it; the beat fails those past their deadline) */
	struct mretry {
		struct mretry *next;
		char wa_id[WA_MSG_ID_MAX];
		char mid[STORE_ID_LEN];
		uint8_t key[32];
		uint64_t deadline; /* uv_now */
	} *mretries;
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
	uv_timer_t drain;          /* sends what the rate limit held back */
	struct lookup_wait *lookups; /* contact lookups the clients are asked (loop thread) */
	struct esess *draining;    /* sessions with messages waiting */
	struct esess *state_waiting; /* clients holding messages until a flush */
	struct omsg *orphans;      /* CMD_SEND before the session's client existed */
	/* media sends (service/media_send.h): the uploader, and the media_conn
	 * each session's client got (mc_mu) */
	struct media_up *up;
	pthread_mutex_t mc_mu;
	struct mconn *mconns;
	atomic_llong heartbeat_ms; /* monotonic time of the last tick */
	/* Signal state in the store (service/signal_db.h); NULL without
	 * opts.db_url: then each session keeps it in memory */
	struct store *sig_reader;  /* the loop's read connection */
	struct sigdb *sigdb;
	atomic_bool sig_flush_queued;
	/* inbound messages whose insert failed (worker thread only), in order:
	 * tried again before every batch and every 200 ms, and while any is
	 * left the Signal state is not flushed (a flushed ratchet step past a
	 * message we never stored would lose it for good) */
	struct job *in_retry;
	/* worker */
	pthread_t worker_thread;
	pthread_mutex_t job_mu;
	pthread_cond_t job_cv;
	struct job *job_head, *job_tail;
	bool worker_stop;
	/* the group commit of plain texts (service/gcommit.h) */
	struct gcommit *gc;
	/* the pending bound of each session sent to (HTTP threads) */
	pthread_mutex_t pend_mu;
	struct pend *pend[ESESS_BUCKETS];
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

static void omsg_free_list(struct omsg *m)
{
	while (m) {
		struct omsg *n = m->next;

		free(m->text);
		free(m->pb);
		free(m->src);
		free(m->type);
		free(m->body);
		free(m);
		m = n;
	}
}

static void cmd_release(struct cmd *c)
{
	if (c->lookup) { /* never run (the engine stopped): answered all the same */
		c->lookup->done(c->lookup->arg, Y_ECLOSED, NULL);
		lookup_free(c->lookup);
	}
	omsg_free_list(c->msgs);
	free(c->tcs);
	if (c->as) {
		for (size_t i = 0; i < c->nas; i++)
			wa_wipe(c->as[i].data, c->as[i].len);
		store_appstate_free(c->as, c->nas);
	}
	free(c->act);
	free(c->pk_ids);
	if (c->pk_priv) {
		wa_wipe(c->pk_priv, c->npk * 32);
		free(c->pk_priv);
	}
	if (c->creds) {
		wa_creds_wipe(c->creds);
		free(c->creds);
	}
	free(c->assertion);
	free(c->raw_id);
	free(c->rids);
	free(c);
}

static void post_cmd(struct engine *e, struct cmd *c)
{
	if (!c)
		return;
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
	free(j->wa_ids);
	msgkind_in_release(&j->kin);
	free(j->ev_data);
	if (j->in) {
		store_message_release(j->in);
		free(j->in);
	}
	if (j->media) {
		store_media_release(j->media);
		free(j->media);
	}
	free(j->ids);
	free(j->tc);
	free(j->mr_path);
	if (j->asr.data) {
		wa_wipe(j->asr.data, j->asr.len);
		free(j->asr.data);
	}
	free(j->act);
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
		j->status = wa_creds_linked(c) ? STORE_SESSION_CONNECTING : STORE_SESSION_PENDING;
		break;
	case WA_CL_QR:
		j->status = STORE_SESSION_QR;
		break;
	case WA_CL_PAIRING:
		j->status = STORE_SESSION_CONNECTING;
		break;
	case WA_CL_CONNECTED:
		j->status = STORE_SESSION_CONNECTED;
		j->at = clock_now_ms();
		cmd(x->e, CMD_BLOCK, x->id, 0, NULL); /* learn the block list ("get") */
		break;
	case WA_CL_WAITING:
		j->status = STORE_SESSION_DISCONNECTED;
		break;
	case WA_CL_LOGGED_OUT:
		j->status = STORE_SESSION_LOGGED_OUT;
		j->unlink = true;
		if (x->e->sigdb) /* before the job that deletes its rows */
			sigdb_drop_session(x->e->sigdb, x->id);
		break;
	case WA_CL_FAILED:
		j->status = STORE_SESSION_FAILED;
		break;
	case WA_CL_PASSKEY:
		j->status = STORE_SESSION_PASSKEY_REQUIRED;
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

/* ---- outbound queues (loop thread) ---- */

static bool omsg_in(const struct omsg *l, const char *id)
{
	for (; l; l = l->next)
		if (!strcmp(l->id, id))
			return true;
	return false;
}

static bool queued_already(const struct esess *x, const char *id)
{
	return omsg_in(x->q_head, id) || omsg_in(x->inflight, id) || omsg_in(x->rq_head, id);
}

static uint64_t id_print(const char *id)
{
	uint64_t h = 1469598103934665603ull;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return h ? h : 1;
}

/* 1 if fingerprint h is in x->seen (0 when there is no set). */
static int seen_has(const struct esess *x, uint64_t h)
{
	for (size_t i = h & (x->seen_cap - 1); x->seen && x->seen[i]; i = (i + 1) & (x->seen_cap - 1))
		if (x->seen[i] == h)
			return 1;
	return 0;
}

static void seen_put(struct esess *x, uint64_t h)
{
	size_t i = h & (x->seen_cap - 1);

	while (x->seen[i] && x->seen[i] != h)
		i = (i + 1) & (x->seen_cap - 1);
	x->seen_n += !x->seen[i];
	x->seen[i] = h;
}

/* Remakes x->seen from the lists (the ids of messages gone leave it), at a
 * size where the next remake comes after as many appends as are queued:
 * O(1) a message. Without memory there is no set (the lists are walked). */
static void seen_remake(struct esess *x)
{
	const struct omsg *lists[] = { x->q_head, x->inflight, x->rq_head };
	size_t live = 0, cap = 64;

	for (int k = 0; k < 3; k++)
		for (const struct omsg *m = lists[k]; m; m = m->next)
			live++;
	while (cap < 4 * (live + 1))
		cap *= 2;
	free(x->seen);
	x->seen = calloc(cap, sizeof(*x->seen));
	x->seen_cap = x->seen ? cap : 0;
	x->seen_n = 0;
	for (int k = 0; x->seen && k < 3; k++)
		for (const struct omsg *m = lists[k]; m; m = m->next)
			seen_put(x, id_print(m->id));
}

static void drain_mark(struct engine *e, struct esess *x)
{
	if (x->draining)
		return;
	x->draining = true;
	x->drain_next = e->draining;
	e->draining = x;
}

static void drain_unmark(struct engine *e, struct esess *x)
{
	for (struct esess **pp = &e->draining; *pp; pp = &(*pp)->drain_next)
		if (*pp == x) {
			*pp = x->drain_next;
			break;
		}
	x->draining = false;
	x->drain_next = NULL;
}

/* x's client holds messages until the Signal state is durable: CMD_SIG_DURABLE
 * visits it (and not every client) */
static void wait_mark(struct engine *e, struct esess *x)
{
	if (x->state_waiting)
		return;
	x->state_waiting = true;
	x->wait_next = e->state_waiting;
	e->state_waiting = x;
}

static void wait_unmark(struct engine *e, struct esess *x)
{
	if (!x->state_waiting)
		return;
	for (struct esess **pp = &e->state_waiting; *pp; pp = &(*pp)->wait_next)
		if (*pp == x) {
			*pp = x->wait_next;
			break;
		}
	x->state_waiting = false;
	x->wait_next = NULL;
}

/* Appends m (taking it) unless a message with its id is there already. */
static void q_append(struct engine *e, struct esess *x, struct omsg *m)
{
	uint64_t h = id_print(m->id);

	m->next = NULL;
	/* a new id (the usual case) is not in the set: no walk of the lists */
	if ((!x->seen || seen_has(x, h)) && queued_already(x, m->id)) {
		omsg_free_list(m);
		return;
	}
	if (!x->seen || 2 * (x->seen_n + 1) > x->seen_cap)
		seen_remake(x);
	if (x->seen)
		seen_put(x, h);
	if (x->q_tail)
		x->q_tail->next = m;
	else
		x->q_head = m;
	x->q_tail = m;
	x->nq++;
	drain_mark(e, x);
}

static void q_append_list(struct engine *e, struct esess *x, struct omsg *list)
{
	while (list) {
		struct omsg *m = list;

		list = m->next;
		q_append(e, x, m);
	}
}

static struct omsg *list_take(struct omsg **pp, const char *wa_id)
{
	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->wa_id, wa_id)) {
			struct omsg *m = *pp;

			*pp = m->next;
			m->next = NULL;
			return m;
		}
	return NULL;
}

static void post_status(struct engine *e, const char *id, const char *const *wa_ids, size_t n,
			const char *status, const char *reason)
{
	struct job *j = job_new(J_MSG_STATUS, id);

	if (!j || !n || !(j->wa_ids = calloc(n, sizeof(*j->wa_ids))) ||
	    (reason && !(j->reason = strdup(reason)))) {
		if (j)
			job_free(j);
		return;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(j->wa_ids[i], sizeof(j->wa_ids[i]), "%s", wa_ids[i]);
	j->nwa = n;
	j->msg_status = status;
	post_job(e, j);
}

/* A text as a Message protobuf: {conversation}. */
static int text_pb(const char *text, struct ybuf *out)
{
	Wa__Message m = WA__MESSAGE__INIT;

	m.conversation = (char *)text;
	return wa_pb_pack(&m.base, out);
}

/* Hands what the rate limit allows to the client; true while messages wait. */
static bool drain_one(struct engine *e, struct esess *x, uint64_t now)
{
	unsigned rate = e->opts.rate_per_min;
	size_t inflight = 0;

	if (x->rq_head) { /* handed out before a connection went: first again */
		for (struct omsg *m = x->rq_head; m; m = m->next)
			x->nq++;
		x->rq_tail->next = x->q_head;
		if (!x->q_head)
			x->q_tail = x->rq_tail;
		x->q_head = x->rq_head;
		x->rq_head = x->rq_tail = NULL;
	}
	if (!x->q_head)
		return false;
	if (x->forgotten || !x->cl || wa_client_state(x->cl) != WA_CL_CONNECTED)
		return true;
	if (rate) {
		x->tokens += (double)(now - x->refill_ms) * rate / 60000.0;
		if (x->tokens > rate)
			x->tokens = rate;
		x->refill_ms = now;
	}
	for (struct omsg *m = x->inflight; m; m = m->next)
		inflight++;
	while (x->q_head && inflight < ENGINE_INFLIGHT_MAX && (!rate || x->tokens >= 1)) {
		struct omsg *m = x->q_head, **pp;
		struct ybuf pb = YBUF_INIT(1 << 20);
		int rc = m->pb     ? Y_OK
			 : m->type ? msgkind_build(m->type, m->body, m->text, &pb)
				    : text_pb(m->text, &pb);

		rc = rc ?: wa_client_send(x->cl, m->wa_id, m->to, m->pb ? m->pb : pb.data,
					  m->pb ? m->pb_len : pb.len);
		ybuf_release(&pb);
		if (rc == Y_ESTATE)
			break;
		x->q_head = m->next;
		if (!x->q_head)
			x->q_tail = NULL;
		x->nq--;
		m->next = NULL;
		if (rc) {
			const char *w = m->wa_id;

			post_status(e, x->id, &w, 1, "failed", "invalid_message");
			omsg_free_list(m);
			continue;
		}
		for (pp = &x->inflight; *pp; pp = &(*pp)->next)
			;
		*pp = m;
		inflight++;
		if (rate)
			x->tokens -= 1;
	}
	return x->q_head != NULL;
}

static void on_drain(uv_timer_t *t)
{
	struct engine *e = t->data;
	uint64_t now = uv_now(t->loop);
	struct esess *x = e->draining, *next;
	const char *prev;

	for (; x; x = next) {
		next = x->drain_next;
		prev = ylog_swap_session(x->id);
		if (!drain_one(e, x, now))
			drain_unmark(e, x);
		ylog_set_session(prev);
	}
}

/* ---- messaging callbacks (loop thread) ---- */

static void on_sent(struct wa_client *cl, const char *wa_id, int err, const char *reason,
		    void *ud)
{
	struct esess *x = ud;
	struct omsg *m = list_take(&x->inflight, wa_id);

	if (!m)
		return;
	if (m->acked) { /* reported already: waits for its commit */
		m->next = x->inflight;
		x->inflight = m;
		return;
	}
	if (err == Y_ECLOSED && !x->forgotten && !x->e->stopping) {
		/* not acked before the connection went: again, same id, in order */
		if (x->rq_tail)
			x->rq_tail->next = m;
		else
			x->rq_head = m;
		x->rq_tail = m;
		drain_mark(x->e, x);
		return;
	}
	if (err != Y_ECLOSED)
		post_status(x->e, x->id, &wa_id, 1, err ? "failed" : "sent", err ? reason : NULL);
	if (m->src) { /* a media message's source: no more use for it */
		unlink(m->src);
		free(m->src);
		m->src = NULL;
	}
	if (err || x->forgotten || x->e->stopping) {
		omsg_free_list(m);
		return;
	}
	/* acked: its slot stays taken until the worker has committed "sent"
	 * (CMD_SENT_SAVED), so a pending row never has a twin on the loop */
	m->acked = true;
	free(m->text);
	free(m->type);
	free(m->body);
	free(m->pb);
	m->text = m->type = m->body = NULL;
	m->pb = NULL;
	m->next = x->inflight;
	x->inflight = m;
}

static void on_receipt(struct wa_client *cl, const char *from, const char *type,
		       const char *const *ids, size_t n, void *ud)
{
	struct esess *x = ud;
	const char *status = NULL;

	if (!type || !strcmp(type, "inactive"))
		status = "delivered";
	else if (!strcmp(type, "read") || !strcmp(type, "read-self") || !strcmp(type, "played"))
		status = "read";
	if (status && !x->forgotten)
		post_status(x->e, x->id, ids, n, status, NULL);
}

static char *user_jid_of(const char *jid)
{
	struct wa_jid j;
	char *out;

	if (!jid || wa_jid_parse(jid, strlen(jid), &j) || !j.user_len)
		return NULL;
	out = malloc(j.user_len + j.server_len + 2);
	if (out)
		sprintf(out, "%.*s@%.*s", (int)j.user_len, j.user, (int)j.server_len, j.server);
	return out;
}

static void on_message(struct wa_client *cl, const struct wa_client_inbound *in, void *ud)
{
	struct esess *x = ud;
	const struct wa_creds *c = wa_client_creds(cl);
	struct job *j;
	struct store_message *m;
	json_t *body;
	char *me = user_jid_of(c->jid);
	char *sender = user_jid_of(in->sender_pn ? in->sender_pn : in->from);
	char *chat = user_jid_of(in->from_me ? in->chat : in->sender_pn ? in->sender_pn : in->chat);

	if (x->forgotten || x->e->stopping || !(j = job_new(J_MSG_IN, x->id)) ||
	    !(m = j->in = calloc(1, sizeof(*m))))
		goto out;
	if (msgkind_parse(in->pb, in->pb_len, &j->kin) == Y_OK) {
		body = json_loads(j->kin.body, 0, NULL);
	} else if (in->text) {
		body = json_pack("{s:s}", "text", in->text);
	} else {
		char *hex = malloc(in->pb_len * 2 + 1);

		if (hex)
			codec_hex_encode(in->pb, in->pb_len, hex);
		body = hex ? json_pack("{s:s}", "protobuf", hex) : NULL;
		free(hex);
	}
	snprintf(m->session_id, sizeof(m->session_id), "%s", x->id);
	m->wa_id = strdup(in->id);
	m->chat = chat;
	chat = NULL;
	m->from_me = in->from_me;
	m->type = strdup(j->kin.type ? j->kin.type : in->text ? "text" : "unknown");
	m->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	m->status = strdup(in->from_me ? "sent" : "received");
	if (in->from_me) { /* a copy of what our own other device sent */
		m->from_jid = me;
		m->to_jid = m->chat ? strdup(m->chat) : NULL;
	} else {
		m->from_jid = sender;
		sender = NULL;
		m->to_jid = me;
	}
	me = NULL;
	m->text = j->kin.type ? dup_or_null(j->kin.text) : in->text ? strdup(in->text) : NULL;
	m->quoted_id = j->kin.quoted_id ? strdup(j->kin.quoted_id)
		       : in->quoted_id ? strdup(in->quoted_id) : NULL;
	m->timestamp = in->t > 0 ? in->t * 1000 : clock_now_ms();
	/* media: its kind, caption and a body with mediaUrl (service/media.c) */
	if (!in->text)
		j->media = media_message_fill(in->pb, in->pb_len, m);
	if (!m->wa_id || !m->chat || !m->type || !m->status) {
		job_free(j);
		goto out;
	}
	post_job(x->e, j);
out:
	free(me);
	free(sender);
	free(chat);
}

/* The media_conn a session's client got: cached for its ttl (loop). */
static void on_media_conn(struct wa_client *cl, int err, const struct wa_media_conn *c, void *ud)
{
	struct esess *x = ud;
	struct engine *e = x->e;

	(void)cl;
	if (err || !c)
		return; /* the uploader asks again */
	pthread_mutex_lock(&e->mc_mu);
	for (struct mconn *m = e->mconns; m; m = m->next)
		if (!strcmp(m->id, x->id)) {
			m->c = *c;
			m->expires_ms = clock_mono_ms() + (int64_t)c->ttl_s * 1000;
			break;
		}
	pthread_mutex_unlock(&e->mc_mu);
}

/* A contact's presence or a chat state: a `presence` event (written by the
 * worker). */
/* Hands the worker an event job of kind k whose data is d (borrowed; NULL:
 * out of memory, nothing posted). */
static void post_event_job(struct esess *x, enum job_kind k, const json_t *d)
{
	struct job *j;

	if (!d || !(j = job_new(k, x->id)))
		return;
	j->ev_data = json_dumps(d, JSON_COMPACT);
	if (j->ev_data)
		post_job(x->e, j);
	else
		job_free(j);
}

static void on_presence(struct wa_client *cl, const char *from, const char *participant,
			const char *state, int64_t last_seen, void *ud)
{
	struct esess *x = ud;
	char *chat = user_jid_of(from), *who = participant ? user_jid_of(participant) : NULL;
	const char *jid = who ? who : chat;
	char phone[40] = "";
	json_t *d;

	if (!chat || x->forgotten || x->e->stopping)
		goto out;
	if (strstr(jid, "@s.whatsapp.net"))
		snprintf(phone, sizeof(phone), "+%.*s", (int)strcspn(jid, "@"), jid);
	d = json_pack("{s:s, s:s?, s:s, s:s}", "chat", chat, "from", phone[0] ? phone : NULL,
		      "fromJid", jid, "state", state);
	if (d && last_seen > 0)
		json_object_set_new(d, "lastSeen", json_integer(last_seen));
	post_event_job(x, J_PRESENCE, d);
	json_decref(d);
out:
	free(chat);
	free(who);
}

/* A profile picture changed (a contact's, a group's, or ours from another
 * device): a `contact.picture` event {jid, phone, pictureId, removed,
 * author}. No picture URL is cached here, so none is dropped: GET
 * .../contacts/{phone}/picture always asks WhatsApp. */
static void on_picture(struct wa_client *cl, const char *jid, const char *id, const char *author,
		       void *ud)
{
	struct esess *x = ud;
	char *who = user_jid_of(jid);
	char phone[40] = "";
	json_t *d = NULL;

	(void)cl;
	if (!who || x->forgotten || x->e->stopping)
		goto out;
	if (strstr(who, "@s.whatsapp.net"))
		snprintf(phone, sizeof(phone), "+%.*s", (int)strcspn(who, "@"), who);
	d = json_pack("{s:s, s:s?, s:s?, s:b, s:s?}", "jid", who, "phone", phone[0] ? phone : NULL,
		      "pictureId", id, "removed", !id, "author", author);
	post_event_job(x, J_PICTURE, d);
out:
	json_decref(d);
	free(who);
}

/* The block list the server answered: kept (by the worker) as the setting
 * "blocklist:<session>", a JSON array of JIDs, for GET .../blocklist. */
static void on_blocklist(struct wa_client *cl, const char *const *jids, size_t n, void *ud)
{
	struct esess *x = ud;
	json_t *a = json_array();
	struct job *j;

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(jids[i]));
	if (a && !x->forgotten && !x->e->stopping && (j = job_new(J_BLOCKLIST, x->id))) {
		j->ev_data = json_dumps(a, JSON_COMPACT);
		if (j->ev_data)
			post_job(x->e, j);
		else
			job_free(j);
	}
	json_decref(a);
}

static void lid_learnt(struct engine *e, const char *id, const char *lid, const char *pn);

/* The client heard a LID and its phone number: kept in wa_lid_map. */
static void on_lid_map(struct wa_client *cl, const char *lid, const char *pn, void *ud)
{
	struct esess *x = ud;

	(void)cl;
	if (!x->forgotten && !x->e->stopping)
		lid_learnt(x->e, x->id, lid, pn);
}

/* A contact's privacy token entry changed: kept in wa_tctokens. */
static void on_tctoken(struct wa_client *cl, const struct wa_tctoken *tk, void *ud)
{
	struct esess *x = ud;
	struct job *j;

	(void)cl;
	if (x->forgotten || x->e->stopping || !(j = job_new(J_TCTOKEN, x->id)))
		return;
	j->tc = calloc(1, sizeof(*j->tc));
	if (!j->tc || tk->len > sizeof(j->tc->token)) {
		job_free(j);
		return;
	}
	snprintf(j->tc->jid, sizeof(j->tc->jid), "%s", tk->jid);
	memcpy(j->tc->token, tk->token, tk->len);
	j->tc->len = tk->len;
	j->tc->t = tk->t;
	j->tc->sender_t = tk->sender_t;
	post_job(x->e, j);
}

/* App state to keep (docs/appstate.md): a sync key our phone shared, or a
 * collection's new state; written by the worker into wa_appstate. */
static void appstate_keep(struct esess *x, int kind, const void *name, size_t name_len,
			  const uint8_t *data, size_t len, int64_t t)
{
	struct job *j;

	if (x->forgotten || x->e->stopping || name_len > sizeof(j->asr.name) ||
	    !(j = job_new(J_APPSTATE, x->id)))
		return;
	if (!(j->asr.data = malloc(len ? len : 1))) {
		job_free(j);
		return;
	}
	j->asr.kind = kind;
	memcpy(j->asr.name, name, name_len);
	j->asr.name_len = name_len;
	memcpy(j->asr.data, data, len);
	j->asr.len = len;
	j->asr.t = t;
	post_job(x->e, j);
}

static void on_appstate_key(struct wa_client *cl, const uint8_t *id, size_t id_len,
			    const uint8_t *data, size_t len, int64_t t, void *ud)
{
	(void)cl;
	appstate_keep(ud, STORE_AS_KEY, id, id_len, data, len, t);
}

static void on_appstate_state(struct wa_client *cl, const char *name, const uint8_t *blob,
			      size_t len, void *ud)
{
	(void)cl;
	appstate_keep(ud, STORE_AS_COLLECTION, name, strlen(name), blob, len, 0);
}

/* Another of our devices wrote to app state: applied by the worker. */
static void on_appstate_action(struct wa_client *cl, const struct wa_client_action *a, void *ud)
{
	struct esess *x = ud;
	struct job *j;

	(void)cl;
	if (x->forgotten || x->e->stopping || !(j = job_new(J_APPSTATE_APPLY, x->id)))
		return;
	if (!(j->act = malloc(sizeof(*j->act)))) {
		job_free(j);
		return;
	}
	*j->act = *a;
	post_job(x->e, j);
}

/* The worker's side of on_appstate_action (docs/appstate.md, the client):
 * a delete for me deletes our row (a `message.deleted` event), an archive
 * sets the chat's flag; each chat change is a `chat.updated` event. */
static int appstate_apply(struct engine *e, const char *sid, const struct wa_client_action *a)
{
	struct store_message m;
	json_t *d = NULL;
	char *txt;
	int rc = Y_OK;

	switch (a->kind) {
	case WA_ACT_DELETE_FOR_ME:
		if (store_message_get_wa(e->st, sid, a->msg_id, &m))
			return Y_OK; /* not here (or gone already) */
		/* WhatsApp ids are unique per sender, not per account: the
		 * mutation's index names who sent it (fromMe) */
		if (m.from_me != a->from_me) {
			store_message_release(&m);
			return Y_OK;
		}
		rc = store_message_delete(e->st, sid, m.id);
		if (!rc)
			d = json_pack("{s:s, s:s, s:s, s:b, s:s}", "messageId", m.id, "waId", a->msg_id, "chat",
				      m.chat ? m.chat : a->chat, "fromMe", m.from_me != 0, "source",
				      "appState");
		store_message_release(&m);
		if (d && (txt = json_dumps(d, JSON_COMPACT))) {
			rc = store_event_add(e->st, sid, "message.deleted", txt, NULL);
			free(txt);
		}
		json_decref(d);
		return rc;
	case WA_ACT_ARCHIVE:
		rc = store_chat_set_archived(e->st, sid, a->chat, a->on);
		if (rc == Y_ENOTFOUND)
			rc = Y_OK; /* no messages of it here: told all the same */
		d = json_pack("{s:s, s:b}", "chat", a->chat, "archived", a->on);
		break;
	case WA_ACT_PIN:
		d = json_pack("{s:s, s:b}", "chat", a->chat, "pinned", a->on);
		break;
	case WA_ACT_MUTE:
		d = json_pack("{s:s, s:b, s:o}", "chat", a->chat, "muted", a->on, "muteUntil",
			      a->on && a->mute_until_ms > 0 ? json_integer(a->mute_until_ms)
							    : json_null());
		break;
	case WA_ACT_READ:
		d = json_pack("{s:s, s:b}", "chat", a->chat, "read", a->on);
		break;
	default:
		return Y_OK; /* our push name from another device: the credentials keep ours */
	}
	if (!rc && d && !json_object_set_new(d, "source", json_string("appState")) &&
	    (txt = json_dumps(d, JSON_COMPACT))) {
		rc = store_event_add(e->st, sid, "chat.updated", txt, NULL);
		free(txt);
	}
	json_decref(d);
	return rc;
}

static void on_state_wait(struct wa_client *cl, void *ud)
{
	struct esess *x = ud;

	wait_mark(x->e, x);
}

/* ---- media retry (docs/media.md "Media retry") ---- */

/* Hands a media retry's outcome to the worker: path (the new direct path)
 * or why it failed. */
static void mretry_outcome(struct engine *e, const char *sid, const char *mid, const char *path,
			   const char *why)
{
	struct job *j = job_new(J_MEDIA_RETRY, sid);

	if (!j)
		return; /* the row stays pending: asked again after a restart */
	snprintf(j->mid, sizeof(j->mid), "%s", mid);
	j->mr_path = path ? strdup(path) : NULL;
	j->reason = why ? strdup(why) : NULL;
	if ((path && !j->mr_path) || (why && !j->reason)) {
		job_free(j);
		return;
	}
	post_job(e, j);
}

/* The media thread's hook: a download answered 404/410. */
static bool mretry_hook(void *arg, const struct media_expired *r)
{
	struct engine *e = arg;
	struct cmd *c;

	if (strlen(r->wa_id) >= WA_MSG_ID_MAX || strlen(r->chat) >= sizeof(c->chat) ||
	    (r->participant && strlen(r->participant) >= sizeof(c->part)) ||
	    !(c = calloc(1, sizeof(*c))))
		return false;
	c->kind = CMD_MEDIA_RETRY;
	snprintf(c->id, sizeof(c->id), "%s", r->session_id);
	snprintf(c->mid, sizeof(c->mid), "%s", r->message_id);
	snprintf(c->wa_id, sizeof(c->wa_id), "%s", r->wa_id);
	snprintf(c->chat, sizeof(c->chat), "%s", r->chat);
	snprintf(c->part, sizeof(c->part), "%s", r->participant ? r->participant : "");
	c->from_me = r->from_me;
	memcpy(c->mkey, r->media_key, sizeof(c->mkey));
	post_cmd(e, c); /* the engine stopping: dropped, the row stays pending */
	return true;
}

static void run_media_retry(struct engine *e, struct esess *x, struct cmd *c)
{
	struct mretry *r = NULL;
	int rc = x && !x->forgotten && x->cl ? Y_OK : Y_ESTATE;

	if (!rc && !(r = calloc(1, sizeof(*r))))
		rc = Y_ENOMEM;
	rc = rc ?: wa_client_media_retry(x->cl, c->wa_id, c->chat, c->from_me,
					 c->part[0] ? c->part : NULL, c->mkey);
	if (!rc) {
		snprintf(r->wa_id, sizeof(r->wa_id), "%s", c->wa_id);
		snprintf(r->mid, sizeof(r->mid), "%s", c->mid);
		memcpy(r->key, c->mkey, sizeof(r->key));
		r->deadline = uv_now(wa_loop_uv(e->loop)) +
			      (e->opts.media_retry_ms ? e->opts.media_retry_ms : ENGINE_MEDIA_RETRY_MS);
		r->next = x->mretries;
		x->mretries = r;
	}
	wa_wipe(c->mkey, sizeof(c->mkey));
	if (rc) {
		free(r);
		LOG_INFO("engine media retry not sent", "{s:s, s:s}", "waId", c->wa_id, "error",
			 y_strerror(rc));
		mretry_outcome(e, c->id, c->mid, NULL,
			       rc == Y_ESTATE ? "not connected to ask the phone" : y_strerror(rc));
	}
}

/* Our phone answered: opened with the media key the request kept. */
static void on_media_retry(struct wa_client *cl, const char *wa_id, int code, const uint8_t *ct,
			   size_t len, const uint8_t *iv, void *ud)
{
	struct esess *x = ud;
	struct mretry **pp = &x->mretries, *r;
	char why[96], *path = NULL;
	int result = -1;

	(void)cl;
	while (*pp && strcmp((*pp)->wa_id, wa_id))
		pp = &(*pp)->next;
	if (!(r = *pp))
		return; /* not asked, or answered already */
	*pp = r->next;
	if (code > 0)
		snprintf(why, sizeof(why), "the phone answered error %d", code);
	else if (code || wa_media_retry_notif_open(r->key, wa_id, iv, ct, len, &result, &path))
		snprintf(why, sizeof(why), "the phone's answer cannot be opened");
	else if (result != WA_MEDIA_RETRY_SUCCESS || !path || path[0] != '/')
		snprintf(why, sizeof(why), "the phone could not upload it again (result %d)", result);
	else
		why[0] = 0; /* the new path */
	mretry_outcome(x->e, x->id, r->mid, why[0] ? NULL : path, why[0] ? why : NULL);
	free(path);
	wa_wipe(r->key, sizeof(r->key));
	free(r);
}

/* The beat: retries unanswered past their deadline fail. */
static void mretries_expire(struct engine *e)
{
	uint64_t now = uv_now(wa_loop_uv(e->loop));
	char why[64];

	for (size_t b = 0; b < ESESS_BUCKETS; b++)
		for (struct esess *x = e->sess[b]; x; x = x->next)
			for (struct mretry **pp = &x->mretries; *pp;) {
				struct mretry *r = *pp;

				if (now < r->deadline) {
					pp = &r->next;
					continue;
				}
				*pp = r->next;
				snprintf(why, sizeof(why), "no answer from the phone in %g s",
					 (double)(e->opts.media_retry_ms ? e->opts.media_retry_ms
								    : ENGINE_MEDIA_RETRY_MS) / 1000);
				mretry_outcome(e, x->id, r->mid, NULL, why);
				wa_wipe(r->key, sizeof(r->key));
				free(r);
			}
}

static const struct wa_client_cbs client_cbs = {
	on_state, on_qr, on_creds, on_prekeys, on_prekeys_uploaded, on_passkey,
	on_sent, on_receipt, on_message, on_media_conn, on_presence, on_blocklist, on_lid_map,
	on_tctoken, on_state_wait, on_picture, on_media_retry, on_appstate_key, on_appstate_state,
	on_appstate_action,
};

/* ---- the uploader's hooks (its thread) ---- */

static int up_conn(void *ud, const char *sid, struct wa_media_conn *c)
{
	struct engine *e = ud;
	int64_t now = clock_mono_ms();
	struct mconn *m;
	bool ask = false;
	int rc = Y_EAGAIN;

	pthread_mutex_lock(&e->mc_mu);
	for (m = e->mconns; m && strcmp(m->id, sid); m = m->next)
		;
	if (!m && (m = calloc(1, sizeof(*m)))) {
		snprintf(m->id, sizeof(m->id), "%s", sid);
		m->next = e->mconns;
		e->mconns = m;
	}
	if (m && m->expires_ms > now + 5000) { /* not about to expire */
		*c = m->c;
		rc = Y_OK;
	} else if (m && now - m->asked_ms >= 3000) {
		m->asked_ms = now;
		ask = true;
	}
	pthread_mutex_unlock(&e->mc_mu);
	if (ask)
		cmd(e, CMD_MEDIA_CONN, sid, 0, NULL);
	return rc;
}

static void up_conn_stale(void *ud, const char *sid)
{
	struct engine *e = ud;

	pthread_mutex_lock(&e->mc_mu);
	for (struct mconn *m = e->mconns; m; m = m->next)
		if (!strcmp(m->id, sid))
			m->expires_ms = 0;
	pthread_mutex_unlock(&e->mc_mu);
}

/* Posts CMD_SEND with om (taken, with c) for stored message mid of
 * session sid, under wa_id, to `to`. */
static void post_send_cmd(struct engine *e, struct cmd *c, struct omsg *om, const char *sid,
			  const char *mid, const char *wa_id, const char *to)
{
	c->kind = CMD_SEND;
	snprintf(c->id, sizeof(c->id), "%s", sid);
	snprintf(om->id, sizeof(om->id), "%s", mid);
	snprintf(om->to_session, sizeof(om->to_session), "%s", sid);
	snprintf(om->wa_id, sizeof(om->wa_id), "%s", wa_id);
	snprintf(om->to, sizeof(om->to), "%s", to);
	c->msgs = om;
	post_cmd(e, c);
}

static void up_ready(void *ud, const char *sid, const char *mid, const char *wa_id,
		     const char *to, uint8_t *pb, size_t len, const char *src)
{
	struct engine *e = ud;
	struct cmd *c = calloc(1, sizeof(*c));
	struct omsg *om = calloc(1, sizeof(*om));

	if (!c || !om || !(om->src = strdup(src)) || strlen(to) >= sizeof(om->to)) {
		LOG_WARN("engine: out of memory; the media message is sent at the next start", NULL);
		free(pb);
		omsg_free_list(om);
		free(c);
		return;
	}
	om->pb = pb;
	om->pb_len = len;
	post_send_cmd(e, c, om, sid, mid, wa_id, to);
}

static void up_failed(void *ud, const char *sid, const char *wa_id, const char *reason)
{
	post_status(ud, sid, &wa_id, 1, "failed", reason);
}

static const struct media_up_ops up_ops = {
	up_conn, up_conn_stale, up_ready, up_failed,
};

/* ---- commands on the loop ---- */

/* The one place a session's Signal store is made: the SQLite-backed cache
 * (kept across restarts), or memory when the engine has no database URL
 * (unit tests). */
static struct wa_signal_store *signal_store_for(struct engine *e, const char *id)
{
	return e->sigdb ? sigdb_session_open(e->sigdb, id) : wa_signal_memstore_new();
}

static uint64_t sig_seq(void *ud)
{
	return sigdb_seq(((struct engine *)ud)->sigdb);
}

static int sig_durable(void *ud, uint64_t seq)
{
	return sigdb_durable(((struct engine *)ud)->sigdb, seq);
}

/* on_dirty of the cache (loop or worker thread): one flush job at a time. */
static void sig_wake_flush(void *ud)
{
	struct engine *e = ud;

	if (!atomic_exchange(&e->sig_flush_queued, true))
		post_job(e, job_new(J_SIG_FLUSH, ""));
}

/* Worker: writes the saved Signal state, then lets the loop send what
 * waited for it. */
static int sig_flush(struct engine *e)
{
	size_t written = 0;
	int rc;

	if (!e->sigdb)
		return Y_OK;
	atomic_store(&e->sig_flush_queued, false);
	rc = sigdb_flush(e->sigdb, e->st, &written);
	if (rc && rc != Y_EBUSY)
		LOG_ERROR("engine cannot write Signal state", "{s:s}", "error", y_strerror(rc));
	if (written)
		cmd(e, CMD_SIG_DURABLE, "", 0, NULL);
	return rc == Y_EBUSY ? Y_OK : rc;
}

static struct esess *esess_create(struct engine *e, const char *id, const struct wa_creds *c)
{
	struct esess *x = calloc(1, sizeof(*x));
	struct wa_client_opts o;

	if (!x)
		return NULL;
	snprintf(x->id, sizeof(x->id), "%s", id);
	x->e = e;
	x->sigstore = signal_store_for(e, id);
	x->tokens = e->opts.rate_per_min;
	x->refill_ms = uv_now(wa_loop_uv(e->loop));
	memset(&o, 0, sizeof(o));
	o.name = id;
	o.backoff_min_ms = e->opts.backoff_min_ms;
	o.backoff_max_ms = e->opts.backoff_max_ms;
	o.max_attempts = e->opts.max_attempts;
	o.signal_store = x->sigstore;
	o.defer_receipts = true; /* acknowledged once J_MSG_IN committed it */
	if (e->sigdb) {
		o.state_seq = sig_seq;
		o.state_durable = sig_durable;
		o.state_ud = e;
	}
	if (!x->sigstore || wa_client_new(e->pool, c, &o, &client_cbs, x, &x->cl)) {
		wa_signal_store_free(x->sigstore);
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
	drain_unmark(e, x);
	wait_unmark(e, x);
	wa_client_free(x->cl); /* no callback follows */
	wa_signal_store_free(x->sigstore);
	/* what was queued stays pending in the store: the next start sends it */
	omsg_free_list(x->q_head);
	omsg_free_list(x->inflight);
	omsg_free_list(x->rq_head);
	free(x->seen);
	/* retries unanswered stay pending: asked again after a restart */
	while (x->mretries) {
		struct mretry *r = x->mretries;

		x->mretries = r->next;
		wa_wipe(r->key, sizeof(r->key));
		free(r);
	}
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

/* ---- contact lookups: the loop answers a deferred HTTP request ---- */

static void lookup_answer(struct lookup_wait *lw, int err, const struct svc_contact *c)
{
	if (lw->answered)
		return;
	lw->answered = true;
	lw->done(lw->arg, err, c);
}

/* Keeps the LID map entry a lookup gave (the user parts of both JIDs). */
static void lid_learnt(struct engine *e, const char *id, const char *lid, const char *pn)
{
	size_t nl = strcspn(lid, ":@"), np = strcspn(pn, ":@");
	struct job *j;

	if (!nl || !np || strcmp(lid + strcspn(lid, "@"), "@lid") ||
	    strcmp(pn + strcspn(pn, "@"), "@s.whatsapp.net") || !(j = job_new(J_LID_MAP, id)))
		return;
	j->lid = strndup(lid, nl);
	j->phone = strndup(pn, np);
	if (!j->lid || !j->phone) {
		job_free(j);
		return;
	}
	post_job(e, j);
}

static void on_lookup(struct wa_client *cl, int err, const struct wa_client_contact *c, void *ud)
{
	struct lookup_wait *lw = ud;
	struct svc_contact out;

	(void)cl;
	memset(&out, 0, sizeof(out));
	if (c) {
		out.registered = c->registered;
		snprintf(out.jid, sizeof(out.jid), "%s", c->jid);
		snprintf(out.lid, sizeof(out.lid), "%s", c->lid);
		out.has_about = c->has_about;
		snprintf(out.about, sizeof(out.about), "%s", c->about);
		snprintf(out.picture_url, sizeof(out.picture_url), "%s", c->picture_url);
		snprintf(out.picture_id, sizeof(out.picture_id), "%s", c->picture_id);
	}
	lookup_answer(lw, err, c ? &out : NULL);
	if (lw->kind == SVC_Q_CONTACT && c && c->registered && c->lid[0])
		lid_learnt(lw->e, lw->id, c->lid, c->jid);
	for (struct lookup_wait **pp = &lw->e->lookups; *pp; pp = &(*pp)->next)
		if (*pp == lw) {
			*pp = lw->next;
			break;
		}
	lookup_free(lw);
}

/* The beat: lookups past their deadline are answered Y_ETIMEOUT (the
 * client's late answer then only frees them). */
static void lookups_expire(struct engine *e)
{
	uint64_t now = uv_now(wa_loop_uv(e->loop));

	for (struct lookup_wait *lw = e->lookups; lw; lw = lw->next)
		if (!lw->answered && now >= lw->deadline)
			lookup_answer(lw, Y_ETIMEOUT, NULL);
}

static void run_lookup(struct engine *e, struct esess *x, struct cmd *c)
{
	struct lookup_wait *lw = c->lookup;
	int rc = Y_ESTATE; /* no client running */

	c->lookup = NULL;
	if (!lw)
		return;
	lw->e = e;
	snprintf(lw->id, sizeof(lw->id), "%s", c->id);
	lw->deadline = uv_now(wa_loop_uv(e->loop)) + (uint64_t)lw->timeout_ms;
	if (x && !x->forgotten) {
		lw->next = e->lookups;
		e->lookups = lw;
		switch (lw->kind) {
		case SVC_Q_CONTACT:
			rc = wa_client_lookup(x->cl, lw->phone, on_lookup, lw);
			break;
		case SVC_Q_PICTURE:
			rc = wa_client_picture(x->cl, lw->jid, lw->preview, on_lookup, lw);
			break;
		case SVC_Q_SET_PICTURE:
			rc = wa_client_set_picture(x->cl, lw->jpeg, lw->len, on_lookup, lw);
			break;
		default:
			rc = Y_EINVAL;
		}
		if (!rc)
			return;
		e->lookups = lw->next;
	}
	lookup_answer(lw, rc, NULL);
	lookup_free(lw);
}

/* Sets the client's push name; the session's copy follows through the
 * worker (a status report that changes nothing else). */
static void push_name_set(struct esess *x, const char *name)
{
	int rc = x && !x->forgotten ? wa_client_set_push_name(x->cl, name) : Y_ESTATE;
	struct job *j;

	if (rc) {
		LOG_INFO("engine push name not set", "{s:s}", "error", y_strerror(rc));
		return;
	}
	if (wa_client_state(x->cl) != WA_CL_CONNECTED || !(j = job_new(J_STATE, x->id)))
		return;
	j->status = STORE_SESSION_CONNECTED;
	if (!(j->push_name = strdup(name))) {
		job_free(j);
		return;
	}
	post_job(x->e, j);
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
			struct omsg **pp = &e->orphans;

			x = esess_create(e, c->id, c->creds);
			if (!x) {
				LOG_ERROR("engine cannot create a client", NULL);
				return;
			}
			if (c->npk && wa_client_import_prekeys(x->cl, c->pk_ids,
							       (const uint8_t(*)[32])c->pk_priv, c->npk))
				LOG_WARN("engine cannot import prekeys", NULL);
			if (c->ntc && wa_client_import_tctokens(x->cl, c->tcs, c->ntc))
				LOG_WARN("engine cannot import privacy tokens", NULL);
			for (size_t i = 0; i < c->nas; i++) {
				const struct store_appstate *r = &c->as[i];
				char name[sizeof(r->name) + 1];
				int arc;

				memcpy(name, r->name, r->name_len);
				name[r->name_len] = 0;
				arc = r->kind == STORE_AS_KEY
					? wa_client_import_appstate_key(x->cl, r->name, r->name_len,
									r->data, r->len, r->t)
					: wa_client_import_appstate(x->cl, name, r->data, r->len);
				if (arc)
					LOG_WARN("engine cannot import app state", "{s:i, s:s}",
						 "kind", r->kind, "error", y_strerror(arc));
			}
			/* accepted while the client did not exist yet */
			while (*pp) {
				struct omsg *m = *pp;

				if (strcmp(m->to_session, c->id)) {
					pp = &m->next;
					continue;
				}
				*pp = m->next;
				q_append(e, x, m);
			}
		}
		/* what the store holds pending (after a restart), oldest first */
		q_append_list(e, x, c->msgs);
		c->msgs = NULL;
		wa_client_start(x->cl);
		break;
	case CMD_READ: {
		const char *one[1] = { c->wa_id }, **ids = c->nrids ? calloc(c->nrids, sizeof(*ids)) : one;
		size_t n = c->nrids ? c->nrids : 1;
		int rc = !ids ? Y_ENOMEM : x && !x->forgotten ? Y_OK : Y_ESTATE;

		for (size_t i = 0; !rc && c->nrids && i < n; i++)
			ids[i] = c->rids[i];
		rc = rc ?: wa_client_mark_read(x->cl, c->chat, ids, n);
		if (ids != one)
			free(ids);

		if (rc)
			LOG_INFO("engine read receipt not sent", "{s:s}", "error", y_strerror(rc));
		break;
	}
	case CMD_ABOUT: {
		int rc = x && !x->forgotten ? wa_client_set_about(x->cl, c->assertion) : Y_ESTATE;

		if (rc)
			LOG_INFO("engine about text not sent", "{s:s}", "error", y_strerror(rc));
		break;
	}
	case CMD_PUSH_NAME:
		push_name_set(x, c->assertion);
		break;
	case CMD_APPSTATE: {
		int rc = x && !x->forgotten ? wa_client_appstate_write(x->cl, c->act) : Y_ESTATE;

		if (rc)
			LOG_INFO("engine app-state write not queued", "{s:s}", "error", y_strerror(rc));
		break;
	}
	case CMD_BLOCK: {
		int rc = !x || x->forgotten ? Y_ESTATE
			 : !c->phone[0] || !strcmp(c->phone, "get") ? wa_client_blocklist(x->cl)
						    : wa_client_block(x->cl, c->chat,
								      !strcmp(c->phone, "block"));

		if (rc)
			LOG_INFO("engine block list request not sent", "{s:s}", "error", y_strerror(rc));
		break;
	}
	case CMD_PRESENCE: {
		int rc = !x || x->forgotten ? Y_ESTATE
			 : c->seq == SVC_PRESENCE_OWN
				 ? wa_client_send_presence(x->cl, !strcmp(c->phone, "available"), c->chat)
			 : c->seq == SVC_PRESENCE_CHATSTATE
				 ? wa_client_send_chatstate(x->cl, c->chat, c->phone)
				 : wa_client_subscribe_presence(x->cl, c->chat);

		if (rc)
			LOG_INFO("engine presence not sent", "{s:s}", "error", y_strerror(rc));
		break;
	}
	case CMD_SEND:
		if (x && !x->forgotten) {
			q_append(e, x, c->msgs);
			drain_one(e, x, uv_now(wa_loop_uv(e->loop)));
		} else if (!x && c->msgs) {
			c->msgs->next = e->orphans;
			e->orphans = c->msgs;
		} else {
			omsg_free_list(c->msgs);
		}
		c->msgs = NULL;
		break;
	case CMD_MEDIA_RETRY:
		run_media_retry(e, x, c);
		break;
	case CMD_MEDIA_CONN:
		if (x && !x->forgotten && x->cl)
			wa_client_media_conn(x->cl); /* not connected: asked again later */
		break;
	case CMD_LOGOUT:
		if (x && !x->forgotten) {
			wa_client_logout(x->cl);
		} else if (!x) {
			struct job *j = job_new(J_STATE, c->id);

			if (j) {
				j->status = STORE_SESSION_LOGGED_OUT;
				j->unlink = true;
				j->reason = strdup(WA_REASON_LOGGED_OUT);
			}
			if (e->sigdb)
				sigdb_drop_session(e->sigdb, c->id);
			post_job(e, j);
		}
		break;
	case CMD_FORGET:
		if (x && !x->forgotten) {
			enum wa_client_state st = wa_client_state(x->cl);

			x->forgotten = true;
			/* a linked client away from WhatsApp reconnects to unlink
			 * first (bounded by WA_LOGOUT_WAIT_MS) */
			if (st == WA_CL_CONNECTED ||
			    ((st == WA_CL_WAITING || st == WA_CL_CONNECTING) &&
			     wa_creds_linked(wa_client_creds(x->cl))))
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
	case CMD_MSG_STORED:
		if (x && !x->forgotten)
			wa_client_message_stored(x->cl, c->wa_id);
		break;
	case CMD_SENT_SAVED:
		if (x) {
			struct omsg *m = list_take(&x->inflight, c->wa_id);

			if (m && !m->acked) { /* not this one: the id went out again */
				m->next = x->inflight;
				x->inflight = m;
			} else if (m) {
				omsg_free_list(m);
				if (x->q_head || x->rq_head)
					drain_mark(e, x);
			}
		}
		break;
	case CMD_SIG_DURABLE: {
		/* only the clients that hold messages (a scan of every client
		 * per flush cost minutes with 10,000 restoring) */
		struct esess *list = e->state_waiting, *y;

		e->state_waiting = NULL;
		while ((y = list)) {
			list = y->wait_next;
			y->wait_next = NULL;
			y->state_waiting = false;
			wa_client_state_durable(y->cl);
			if (wa_client_state_waiting(y->cl))
				wait_mark(e, y);
		}
		break;
	}
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
				j->status = STORE_SESSION_DISCONNECTED;
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
	case CMD_LOOKUP:
		run_lookup(e, x, c);
		break;
	case CMD_SHUTDOWN:
		e->stopping = true;
		for (size_t i = 0; i < ESESS_BUCKETS; i++)
			while (e->sess[i])
				esess_free(e, e->sess[i]);
		wa_client_pool_free(e->pool);
		e->pool = NULL;
		omsg_free_list(e->orphans);
		e->orphans = NULL;
		uv_timer_stop(&e->drain);
		uv_close((uv_handle_t *)&e->drain, NULL);
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
	const char *prev;

	pthread_mutex_lock(&e->cmd_mu);
	list = e->cmd_head;
	e->cmd_head = e->cmd_tail = NULL;
	pthread_mutex_unlock(&e->cmd_mu);
	while (list) {
		struct cmd *c = list;

		list = c->next;
		prev = ylog_swap_session(c->id[0] ? c->id : NULL);
		run_cmd(e, c);
		/* after a session's command: whatever it ran inside kept the
		 * context (engine-wide ones have no session to show) */
		if (c->id[0])
			LOG_DEBUG("engine command done", "{s:i}", "kind", (int)c->kind);
		ylog_set_session(prev);
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

/* An omsg from a stored pending message; NULL if it cannot be sent. */
static struct omsg *omsg_from_store(const struct store_message *r)
{
	struct omsg *m;

	if (!r->wa_id || !r->to_jid || (!r->text && !r->body) || strlen(r->wa_id) >= WA_MSG_ID_MAX ||
	    strlen(r->to_jid) >= sizeof(m->to) || !(m = calloc(1, sizeof(*m))))
		return NULL;
	snprintf(m->id, sizeof(m->id), "%s", r->id);
	snprintf(m->to_session, sizeof(m->to_session), "%s", r->session_id);
	snprintf(m->wa_id, sizeof(m->wa_id), "%s", r->wa_id);
	snprintf(m->to, sizeof(m->to), "%s", r->to_jid);
	/* a plain text is rebuilt from its text; other kinds from their body */
	m->text = r->text ? strdup(r->text) : NULL;
	if (r->type && strcmp(r->type, "text") ? !(m->type = strdup(r->type)) ||
						     !(m->body = strdup(r->body ? r->body : "{}"))
					       : r->body && (!(m->type = strdup("text")) ||
							     !(m->body = strdup(r->body)))) {
		omsg_free_list(m);
		return NULL;
	}
	if (r->text && !m->text) {
		omsg_free_list(m);
		return NULL;
	}
	return m;
}

/* The session's privacy tokens into k (worker). */
static void load_tctokens(struct engine *e, const char *id, struct cmd *k)
{
	struct store_tctoken *v = NULL;
	size_t n = 0;
	int rc = store_tctokens_all(e->st, id, &v, &n);

	if (rc)
		LOG_WARN("engine cannot load privacy tokens", "{s:s}", "error", y_strerror(rc));
	if (n && (k->tcs = calloc(n, sizeof(*k->tcs)))) {
		for (size_t i = 0; i < n; i++) {
			struct wa_tctoken *t = &k->tcs[i];

			snprintf(t->jid, sizeof(t->jid), "%s", v[i].jid);
			t->len = v[i].len <= sizeof(t->token) ? v[i].len : 0;
			memcpy(t->token, v[i].token, t->len);
			t->t = v[i].t;
			t->sender_t = v[i].sender_t;
		}
		k->ntc = n;
	}
	free(v);
}

/* The CMD_RUN / CMD_RESTART for loaded credentials c (taken), with the
 * one-time prekeys kept and the messages still pending. */
static struct cmd *run_cmd_new(struct engine *e, const struct job *j, struct wa_creds *c)
{
	struct cmd *k = calloc(1, sizeof(*k));
	struct store_message *rows = NULL;
	struct omsg **tail;
	size_t n = 0;
	int rc;

	if (!k) {
		wa_creds_wipe(c);
		free(c);
		return NULL;
	}
	k->kind = j->kind == J_LOAD ? CMD_RUN : CMD_RESTART;
	snprintf(k->id, sizeof(k->id), "%s", j->id);
	k->creds = c;
	/* with the Signal state in the database its prekey records are there
	 * already: only the ones it lacks are imported (each import derives a
	 * public key, ~30 X25519 operations per session on the loop, which made
	 * a restart of 10,000 sessions take minutes) */
	rc = e->sigdb ? store_prekeys_unrecorded(e->st, j->id, &k->pk_ids, &k->pk_priv, &k->npk)
		      : store_prekeys_all(e->st, j->id, &k->pk_ids, &k->pk_priv, &k->npk);
	if (rc)
		LOG_WARN("engine cannot load prekeys", "{s:s}", "error", y_strerror(rc));
	load_tctokens(e, j->id, k);
	rc = store_appstate_all(e->st, j->id, &k->as, &k->nas);
	if (rc)
		LOG_WARN("engine cannot load app state", "{s:s}", "error", y_strerror(rc));
	rc = store_messages_pending(e->st, j->id, (int)e->opts.queue_max + 64, &rows, &n);
	if (rc)
		LOG_ERROR("engine cannot load pending messages", "{s:s}", "error", y_strerror(rc));
	tail = &k->msgs;
	for (size_t i = 0; i < n; i++) {
		struct omsg *m;

		if (rows[i].type && wa_media_type_parse(rows[i].type) >= 0) {
			media_up_queue(e->up, rows[i].session_id, rows[i].id); /* uploaded anew */
			continue;
		}
		m = omsg_from_store(&rows[i]);
		if (m) {
			*tail = m;
			tail = &m->next;
		}
	}
	if (n)
		LOG_INFO("engine: pending messages to send", "{s:i}", "count", (int)n);
	store_messages_free(rows, n);
	return k;
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
	post_cmd(e, run_cmd_new(e, j, c));
}

static void do_state(struct engine *e, struct job *j)
{
	struct store_session_update u;
	int rc;

	memset(&u, 0, sizeof(u));
	u.status = j->status;
	u.reason = j->reason;
	u.phone = j->phone;
	u.push_name = j->push_name;
	u.device_jid = j->device_jid;
	u.lid = j->lid;
	u.unlink = j->unlink;
	if (j->status == STORE_SESSION_CONNECTED)
		u.connected_at = u.last_seen_at = j->at;
	if (j->unlink) {
		rc = store_creds_delete(e->st, j->id);
		if (rc)
			LOG_ERROR("engine cannot wipe credentials", "{s:s}", "error", y_strerror(rc));
	}
	rc = svc_session_apply(e->svc, j->id, &u);
	if (rc && rc != Y_ENOTFOUND)
		LOG_ERROR("engine cannot save a status", "{s:s}", "error", y_strerror(rc));
	if (j->status != STORE_SESSION_QR)
		svc_session_set_qr(e->svc, j->id, NULL);
	if (j->status != STORE_SESSION_PASSKEY_REQUIRED)
		svc_session_set_passkey(e->svc, j->id, NULL, NULL);
}

/* A poll vote: decrypted with the poll's secret (worker thread: the store
 * holds the poll), its body then names the options chosen. The voter is the
 * sender; the creator the poll's author, each as a bare phone JID (the
 * namespace our 1:1 chats are filed in). Left encrypted when the poll or
 * the key is not ours to open. */
static void vote_open(struct engine *e, struct job *j)
{
	struct store_message *v = j->in, poll;
	const char *creator;
	char *opened = NULL;
	int rc = store_message_get_wa(e->st, j->id, j->kin.target_id, &poll);

	if (rc) {
		LOG_INFO("engine: a vote on a poll we do not have", "{s:s}", "poll", j->kin.target_id);
		return;
	}
	creator = poll.from_me ? v->to_jid : poll.from_jid;
	if (!strcmp(poll.type, "poll") && creator && v->from_jid)
		rc = msgkind_vote_open(v->body, poll.wa_id, poll.body, creator, v->from_jid, &opened);
	else
		rc = Y_EINVAL;
	if (rc == Y_OK) {
		free(v->body);
		v->body = opened;
	} else {
		LOG_WARN("engine: a poll vote does not open", "{s:s, s:s}", "poll", j->kin.target_id,
			 "error", y_strerror(rc));
	}
	store_message_release(&poll);
}

/* What follows status move i of job j (r: its result): the metrics, and
 * for "sent" the loop told its slot is free (committed or not). */
static void status_moved(struct engine *e, const struct job *j, size_t i, int r)
{
	if (r == Y_OK && !strcmp(j->msg_status, "sent"))
		ymetric_inc(YM_MESSAGES_SENT);
	if (!strcmp(j->msg_status, "sent")) {
		struct cmd *c = calloc(1, sizeof(*c));

		if (c) {
			c->kind = CMD_SENT_SAVED;
			snprintf(c->id, sizeof(c->id), "%s", j->id);
			snprintf(c->wa_id, sizeof(c->wa_id), "%s", j->wa_ids[i]);
			post_cmd(e, c);
		}
	} else if (r == Y_OK && !strcmp(j->msg_status, "failed")) {
		ymetric_inc_label(YMF_MESSAGES_FAILED, j->reason);
	}
}

/* The J_MSG_STATUS jobs j, j->next, ... up to the first of another kind
 * (or the end), in one transaction (store_messages_update_wa_batch), in
 * their order; one by one if that transaction fails. */
static void run_statuses(struct engine *e, struct job *j)
{
	struct store_status_update *u;
	size_t n = 0, k = 0;
	int *rcs, rc = Y_ENOMEM;

	for (struct job *x = j; x && x->kind == J_MSG_STATUS; x = x->next)
		n += x->nwa;
	u = calloc(n ? n : 1, sizeof(*u));
	rcs = calloc(n ? n : 1, sizeof(*rcs));
	for (struct job *x = j; u && rcs && x && x->kind == J_MSG_STATUS; x = x->next)
		for (size_t i = 0; i < x->nwa; i++)
			u[k++] = (struct store_status_update){ x->id, x->wa_ids[i], x->msg_status,
								x->reason };
	if (u && rcs)
		rc = store_messages_update_wa_batch(e->st, u, n, rcs);
	k = 0;
	for (struct job *x = j; x && x->kind == J_MSG_STATUS; x = x->next)
		for (size_t i = 0; i < x->nwa; i++, k++) {
			int r = rc ? store_message_update_wa(e->st, x->id, x->wa_ids[i],
							     x->msg_status, x->reason)
				   : rcs[k];

			if (r && r != Y_ENOTFOUND)
				LOG_ERROR("engine store write failed", "{s:s, s:s}", "job",
					  "message status", "error", y_strerror(r));
			status_moved(e, x, i, r);
		}
	free(u);
	free(rcs);
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
	case J_MSG_STATUS: /* run_batch applies them in runs: run_statuses */
		run_statuses(e, j);
		break;
	case J_SIG_FLUSH:
		break; /* the flush runs at the end of the batch */
	case J_PRESENCE:
		rc = store_event_add(e->st, j->id, "presence", j->ev_data, NULL);
		break;
	case J_PICTURE:
		rc = store_event_add(e->st, j->id, "contact.picture", j->ev_data, NULL);
		break;
	case J_BLOCKLIST: {
		char key[16 + STORE_ID_LEN];

		snprintf(key, sizeof(key), "blocklist:%s", j->id);
		rc = store_setting_put(e->st, key, j->ev_data);
		break;
	}
	case J_LID_MAP:
		rc = store_lid_put(e->st, j->id, j->lid, j->phone);
		break;
	case J_TCTOKEN:
		rc = store_tctoken_put(e->st, j->id, j->tc);
		break;
	case J_APPSTATE:
		rc = store_appstate_put(e->st, j->id, &j->asr);
		break;
	case J_APPSTATE_APPLY:
		rc = appstate_apply(e, j->id, j->act);
		break;
	case J_MEDIA_RETRY:
		media_retry_answered(e->st, e->opts.media, j->mid, j->mr_path, j->reason);
		break;
	case J_MSG_IN:
		if (j->kin.effect == MSGKIND_FX_VOTE)
			vote_open(e, j);
		/* an incoming message is use too (IDLE_DISCONNECT_HOURS) */
		svc_session_touch(e->svc, j->id, 0, clock_now_ms());
		if (j->kin.effect) {
			struct store_effect fx = { (int)j->kin.effect, j->kin.target_id, j->kin.emoji,
						   j->kin.text };

			rc = store_message_insert_effect(e->st, j->in, &fx, NULL);
		} else {
			rc = store_message_insert(e->st, j->in);
		}
		if (rc == Y_OK && j->media) /* the download starts once the row is there */
			media_inbound_stored(e->st, e->opts.media, j->media);
		if (rc == Y_OK && !j->in->from_me)
			ymetric_inc(YM_MESSAGES_RECEIVED);
		if (rc == Y_EEXIST)
			rc = Y_OK; /* a duplicate: kept once */
		j->retry = rc && rc != Y_ENOTFOUND; /* the session gone: nothing to keep */
		if (rc == Y_OK) { /* committed: the client may acknowledge it now */
			struct cmd *c = calloc(1, sizeof(*c));

			if (c) {
				c->kind = CMD_MSG_STORED;
				snprintf(c->id, sizeof(c->id), "%s", j->id);
				snprintf(c->wa_id, sizeof(c->wa_id), "%s", j->in->wa_id);
				post_cmd(e, c);
			}
		}
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

/* Runs a batch of jobs, the inbound messages still to store first, keeps
 * those whose insert failed again, then flushes the Signal state unless
 * one is left. Returns when to try again (0: nothing to try). */
static int64_t run_batch(struct engine *e, struct job *list)
{
	struct job *retry = NULL, **tail = &retry;
	const char *prev;

	if (e->in_retry) {
		struct job *last = e->in_retry;

		while (last->next)
			last = last->next;
		last->next = list;
		list = e->in_retry;
		e->in_retry = NULL;
	}
	while (list) {
		struct job *j = list;

		if (j->kind == J_MSG_STATUS) { /* a run of them: one transaction */
			run_statuses(e, j);
			while (list && list->kind == J_MSG_STATUS) {
				j = list;
				list = j->next;
				job_free(j);
			}
			continue;
		}
		list = j->next;
		j->next = NULL;
		j->retry = false;
		prev = ylog_swap_session(j->id);
		run_job(e, j);
		if (j->id[0])
			LOG_DEBUG("engine job done", "{s:i}", "kind", (int)j->kind);
		ylog_set_session(prev);
		if (j->retry) {
			*tail = j;
			tail = &j->next;
		} else {
			job_free(j);
		}
	}
	e->in_retry = retry;
	if (retry)
		return clock_mono_ms() + ENGINE_FLUSH_RETRY_MS;
	/* then the Signal state saved meanwhile: after the inbound messages
	 * of this batch are committed, so a crash between the two leaves a
	 * message to be redelivered and decrypted again, not a ratchet step
	 * past a message we never stored */
	return sig_flush(e) ? clock_mono_ms() + ENGINE_FLUSH_RETRY_MS : 0;
}

static void *worker_main(void *arg)
{
	struct engine *e = arg;
	int64_t scan_every = e->opts.idle_ms / 2, next_scan = 0, flush_retry = 0;

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
			/* a flush that failed (the database locked), or an inbound
			 * message not stored yet, is tried again by itself: sends
			 * wait for it */
			if (flush_retry && clock_mono_ms() >= flush_retry) {
				pthread_mutex_unlock(&e->job_mu);
				flush_retry = run_batch(e, NULL);
				pthread_mutex_lock(&e->job_mu);
				continue;
			}
			if (flush_retry && (!next_scan || flush_retry < next_scan)) {
				struct timespec until = clock_deadline(CLOCK_REALTIME,
					(int)(flush_retry - clock_mono_ms() > 0 ? flush_retry - clock_mono_ms() : 0));

				pthread_cond_timedwait(&e->job_cv, &e->job_mu, &until);
				continue;
			}
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
		flush_retry = run_batch(e, list);
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
	struct engine *e = eng;
	struct pend **pp;

	pthread_mutex_lock(&e->pend_mu);
	for (pp = &e->pend[id_bucket(id)]; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->id, id)) {
			struct pend *p = *pp;

			*pp = p->next;
			free(p);
			break;
		}
	pthread_mutex_unlock(&e->pend_mu);
	cmd(eng, CMD_FORGET, id, 0, NULL);
}

/* Session id's pending bound, made if missing (pend_mu held); NULL: no memory. */
static struct pend *pend_find(struct engine *e, const char *id, bool make)
{
	struct pend **pp = &e->pend[id_bucket(id)];

	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->id, id))
			return *pp;
	if (!make || !(*pp = calloc(1, sizeof(**pp))))
		return NULL;
	snprintf((*pp)->id, sizeof((*pp)->id), "%s", id);
	(*pp)->est = -1; /* not counted yet */
	return *pp;
}

/* HTTP thread: takes a place in session id's queue, Y_EBUSY when QUEUE_MAX
 * are pending (counted exactly then); pend_done(e, id, stored) follows a
 * Y_OK once the message is stored or given up. */
static int pend_take(struct engine *e, const char *id)
{
	struct pend *p;
	int64_t n;
	int rc = Y_OK;

	pthread_mutex_lock(&e->pend_mu);
	p = pend_find(e, id, true);
	if (!p || p->est < 0 || p->est >= (int64_t)e->opts.queue_max) {
		rc = store_messages_pending_count(e->st, id, &n);
		if (!rc && p)
			p->est = n + p->inflight;
		else if (!rc && n >= (int64_t)e->opts.queue_max)
			rc = Y_EBUSY;
	}
	if (!rc && p && p->est >= (int64_t)e->opts.queue_max)
		rc = Y_EBUSY;
	if (!rc && p) {
		p->est++;
		p->inflight++;
	}
	pthread_mutex_unlock(&e->pend_mu);
	return rc;
}

static void pend_done(struct engine *e, const char *id, bool stored)
{
	struct pend *p;

	pthread_mutex_lock(&e->pend_mu);
	p = pend_find(e, id, false);
	if (p && p->inflight > 0) {
		p->inflight--;
		p->est -= !stored;
	}
	pthread_mutex_unlock(&e->pend_mu);
}

/* HTTP thread: checks the session and takes a place in its queue (pend_take:
 * pend_done follows a Y_OK); *wa_id and *from for a linked one. Y_ESTATE
 * (not linked), Y_EBUSY (queue full). */
/* Y_OK when session_id is linked (wa_id: a fresh message id, from: our
 * JID), Y_ESTATE when not, else the registry's error. */
static int linked_check(struct engine *e, const char *session_id, char wa_id[WA_MSG_ID_MAX],
			char from[64])
{
	struct store_session ss;
	int rc, linked;

	rc = svc_session_get(e->svc, session_id, &ss);
	if (rc)
		return rc;
	linked = ss.device_jid && (ss.status == STORE_SESSION_CONNECTED ||
				   ss.status == STORE_SESSION_CONNECTING ||
				   ss.status == STORE_SESSION_DISCONNECTED);
	if (linked)
		wa_client_message_id(ss.device_jid, wa_id);
	snprintf(from, 64, "%s@s.whatsapp.net", ss.phone ? ss.phone : "");
	store_session_release(&ss);
	return linked ? Y_OK : Y_ESTATE;
}

static int send_check(struct engine *e, const char *session_id, char wa_id[WA_MSG_ID_MAX],
		      char from[64], int *retry_after_s)
{
	int rc = linked_check(e, session_id, wa_id, from);

	if (rc)
		return rc;
	rc = pend_take(e, session_id);
	if (rc == Y_EBUSY) {
		unsigned rate = e->opts.rate_per_min;

		*retry_after_s = rate ? (int)((60 + rate - 1) / rate) : 1;
	}
	return rc;
}

/* Fills outbound row *m from o (pending, o->body as its body); m borrows
 * from o, wa_id and from. */
static void outbound_row(struct store_message *m, const char *session_id, const char *wa_id,
			 const char *from, const struct svc_outmsg *o)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->session_id, sizeof(m->session_id), "%s", session_id);
	m->wa_id = (char *)wa_id;
	m->chat = (char *)o->to_jid;
	m->from_me = 1;
	m->type = (char *)o->type;
	m->body = (char *)o->body;
	m->status = "pending";
	m->from_jid = from[0] != '@' ? (char *)from : NULL;
	m->to_jid = (char *)o->to_jid;
	m->text = (char *)o->text;
	m->quoted_id = (char *)o->quoted_id;
}

/* Stores outbound message *m from o (outbound_row, o->fx applied to its
 * target in the same transaction; committed before the answer). */
static int store_outbound(struct engine *e, struct store_message *m, const char *session_id,
			  const char *wa_id, const char *from, const struct svc_outmsg *o)
{
	outbound_row(m, session_id, wa_id, from, o);
	if (!m->body)
		return Y_ENOMEM;
	return o->fx.kind ? store_message_insert_effect(e->st, m, &o->fx, NULL)
			  : store_message_insert(e->st, m);
}

/* Hands stored message id (wa_id, to, text; type and body for a kind,
 * NULL for a plain text) to session_id's queue on the loop; out of memory:
 * it is sent at the next start. */
static void post_send(struct engine *e, const char *session_id, const char *id,
		      const char *wa_id, const char *to, const char *text, const char *type,
		      const char *body)
{
	struct cmd *c = calloc(1, sizeof(*c));
	struct omsg *om = calloc(1, sizeof(*om));

	if (c && om && (!text || (om->text = strdup(text))) &&
	    (!type || ((om->type = strdup(type)) && (om->body = strdup(body))))) {
		post_send_cmd(e, c, om, session_id, id, wa_id, to);
		return;
	}
	LOG_WARN("engine: out of memory; the message is sent at the next start", NULL);
	omsg_free_list(om);
	free(c);
}

/* HTTP thread: checks the session, stores the message pending (committed
 * before the answer, with its effect on another message if any), then hands
 * it to the loop. */
static int op_send_msg(void *eng, const char *session_id, const struct svc_outmsg *o,
		       struct store_message *out, int *retry_after_s)
{
	struct engine *e = eng;
	struct store_message m;
	char wa_id[WA_MSG_ID_MAX], from[64];
	struct svc_outmsg so = *o;
	struct omsg *om;
	bool plain = !strcmp(o->type, "text") && !o->body;
	json_t *body = NULL;
	char *text_body = NULL;
	int rc;

	if (strlen(o->to_jid) >= sizeof(om->to))
		return Y_EINVAL;
	rc = send_check(e, session_id, wa_id, from, retry_after_s);
	if (rc)
		return rc;
	if (plain) {
		body = json_pack("{s:s}", "text", o->text);
		so.body = text_body = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
	}
	rc = store_outbound(e, &m, session_id, wa_id, from, &so);
	pend_done(e, session_id, rc == Y_OK);
	free(text_body);
	if (rc)
		return rc;
	/* stored: from here on the message exists even if the loop never sees it;
	 * read back before the loop has it (sent, its status may change at once:
	 * the 202 answers it pending) */
	rc = store_message_get(e->st, session_id, m.id, out);
	post_send(e, session_id, m.id, wa_id, o->to_jid, o->text, plain ? NULL : o->type, o->body);
	return rc;
}

static int op_send_text(void *eng, const char *session_id, const char *to_jid, const char *text,
			struct store_message *out, int *retry_after_s);

/* A plain text on its way through the group commit (op_send_text_async):
 * the committer's item, and what it borrows from. */
struct accept {
	struct gcommit_item it; /* first: the committer hands it back */
	char *text, *to, *body;
	char wa_id[WA_MSG_ID_MAX], from[64];
	svc_accepted_cb done;
	void *arg;
};

static void accept_free(struct accept *a)
{
	free(a->text);
	free(a->to);
	free(a->body);
	free(a);
}

/* HTTP thread: as op_send_text, the row handed to the committer (answered
 * by done once its batch is committed). */
static int op_send_text_async(void *eng, const char *session_id, const char *to_jid,
			      const char *text, svc_accepted_cb done, void *arg, int *retry_after_s)
{
	struct engine *e = eng;
	struct svc_outmsg o;
	struct accept *a;
	json_t *body;
	int rc;

	if (strlen(to_jid) >= sizeof(((struct omsg *)0)->to))
		return Y_EINVAL;
	if (!e->gc) { /* no committer thread: one transaction each, answered now */
		struct store_message m;

		rc = op_send_text(eng, session_id, to_jid, text, &m, retry_after_s);
		if (!rc)
			done(arg, Y_OK, &m);
		return rc;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return Y_ENOMEM;
	body = json_pack("{s:s}", "text", text);
	a->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	a->text = strdup(text);
	a->to = strdup(to_jid);
	if (!a->body || !a->text || !a->to) {
		accept_free(a);
		return Y_ENOMEM;
	}
	rc = send_check(e, session_id, a->wa_id, a->from, retry_after_s);
	if (rc) {
		accept_free(a);
		return rc;
	}
	memset(&o, 0, sizeof(o));
	o.to_jid = a->to;
	o.type = "text";
	o.text = a->text;
	o.body = a->body;
	outbound_row(&a->it.m, session_id, a->wa_id, a->from, &o);
	a->done = done;
	a->arg = arg;
	rc = gcommit_submit(e->gc, &a->it);
	if (rc) {
		pend_done(e, session_id, false);
		accept_free(a);
	}
	return rc;
}

/* The committer, after a batch's transaction: each committed row goes to
 * the loop (as op_send_msg hands it), then every caller is answered. */
static void on_committed(void *ud, struct gcommit_item *list)
{
	struct engine *e = ud;

	while (list) {
		struct accept *a = (struct accept *)list;

		list = list->next;
		pend_done(e, a->it.m.session_id, a->it.rc == Y_OK);
		if (a->it.rc == Y_OK)
			post_send(e, a->it.m.session_id, a->it.m.id, a->wa_id, a->to, a->text, NULL,
				  NULL);
		a->done(a->arg, a->it.rc, &a->it.out);
		accept_free(a);
	}
}

static int op_send_text(void *eng, const char *session_id, const char *to_jid, const char *text,
			struct store_message *out, int *retry_after_s)
{
	struct svc_outmsg o;

	memset(&o, 0, sizeof(o));
	o.to_jid = to_jid;
	o.type = "text";
	o.text = text;
	return op_send_msg(eng, session_id, &o, out, retry_after_s);
}

/* HTTP thread (the upload thread for a fetched URL): as op_send_msg, with
 * the source made first (base64 written, or an uploaded or fetched file
 * renamed, to DATA_DIR/media/out/{sessionId}.{waId}.bin, fsync'd) and the
 * upload queued. */
static int op_send_media(void *eng, const char *session_id, const char *to_jid,
			 const struct svc_media *md, struct store_message *out, int *retry_after_s)
{
	struct engine *e = eng;
	struct store_message m;
	struct svc_outmsg o;
	char wa_id[WA_MSG_ID_MAX], from[64], src[600];
	json_t *body, *media;
	int rc;

	if (!e->up)
		return Y_ESTATE;
	if (strlen(to_jid) >= sizeof(((struct omsg *)0)->to))
		return Y_EINVAL;
	rc = send_check(e, session_id, wa_id, from, retry_after_s);
	if (rc)
		return rc;
	if (md->data && (rc = media_up_write_src(e->opts.data_dir, session_id, wa_id, md->data, md->len))) {
		pend_done(e, session_id, false);
		return rc;
	}
	if (md->file && (rc = media_up_adopt_src(e->opts.data_dir, session_id, wa_id, md->file))) {
		pend_done(e, session_id, false);
		return rc;
	}
	/* the shape of a received one (service/media.c); size 0 until a URL is fetched */
	media = json_pack("{s:s, s:s?, s:I, s:s?, s:s?}", "kind", md->kind, "mimetype",
			  md->mimetype, "size", (json_int_t)(md->data || md->file ? md->len : 0), "fileName",
			  md->file_name, "caption", md->caption);
	if (media && md->ptt)
		json_object_set_new(media, "ptt", json_true());
	body = !media ? NULL /* a URL's body is the file already, fetched (api/messages.c) */
	       : md->url ? json_pack("{s:o, s:{s:s, s:s}}", "media", media, "upload", "from", "url",
				     "url", md->url)
			 : json_pack("{s:o, s:{s:s}}", "media", media, "upload", "from",
				     md->data ? "base64" : "upload");
	memset(&o, 0, sizeof(o));
	o.to_jid = to_jid;
	o.type = md->kind;
	o.text = md->caption;
	o.body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	rc = store_outbound(e, &m, session_id, wa_id, from, &o);
	pend_done(e, session_id, rc == Y_OK);
	free((char *)o.body);
	if (rc) {
		if ((md->data || md->file) &&
		    !media_up_src_path(e->opts.data_dir, session_id, wa_id, src, sizeof(src)))
			unlink(src);
		return rc;
	}
	rc = store_message_get(e->st, session_id, m.id, out); /* pending, before the upload */
	media_up_queue(e->up, session_id, m.id); /* stored: the upload may come later */
	return rc;
}

/* Any thread: a session that is not linked is refused before the fetch
 * (it is checked again, with the queue, when the send is accepted). */
static int op_fetch_media(void *eng, const char *session_id, const char *url, uint64_t limit,
			  media_fetched_cb cb, void *arg)
{
	struct engine *e = eng;
	char wa_id[WA_MSG_ID_MAX], from[64];
	int rc;

	if (!e->up)
		return Y_ESTATE;
	rc = linked_check(e, session_id, wa_id, from);
	return rc ? rc : media_up_fetch(e->up, url, limit, cb, arg);
}

/* A command of kind for session_id carrying text (as its assertion). */
static int post_text_cmd(void *eng, enum cmd_kind kind, const char *session_id, const char *text)
{
	struct cmd *c = calloc(1, sizeof(*c));

	if (!c || !(c->assertion = strdup(text))) {
		free(c);
		return Y_ENOMEM;
	}
	c->kind = kind;
	snprintf(c->id, sizeof(c->id), "%s", session_id);
	post_cmd(eng, c);
	return Y_OK;
}

static int op_about(void *eng, const char *session_id, const char *text)
{
	return post_text_cmd(eng, CMD_ABOUT, session_id, text);
}

static int op_push_name(void *eng, const char *session_id, const char *name)
{
	return post_text_cmd(eng, CMD_PUSH_NAME, session_id, name);
}

static int op_appstate(void *eng, const char *session_id, const struct svc_as_action *a)
{
	static const enum wa_client_action_kind kinds[] = {
		[SVC_AS_DELETE_FOR_ME] = WA_ACT_DELETE_FOR_ME, [SVC_AS_ARCHIVE] = WA_ACT_ARCHIVE,
		[SVC_AS_PIN] = WA_ACT_PIN, [SVC_AS_MUTE] = WA_ACT_MUTE, [SVC_AS_READ] = WA_ACT_READ,
	};
	struct cmd *c;

	if ((unsigned)a->kind > SVC_AS_READ || !a->chat || strlen(a->chat) >= sizeof(c->act->chat) ||
	    (a->msg_id && strlen(a->msg_id) >= sizeof(c->act->msg_id)))
		return Y_EINVAL;
	if (!(c = calloc(1, sizeof(*c))) || !(c->act = calloc(1, sizeof(*c->act)))) {
		free(c);
		return Y_ENOMEM;
	}
	c->kind = CMD_APPSTATE;
	snprintf(c->id, sizeof(c->id), "%s", session_id);
	c->act->kind = kinds[a->kind];
	snprintf(c->act->chat, sizeof(c->act->chat), "%s", a->chat);
	snprintf(c->act->msg_id, sizeof(c->act->msg_id), "%s", a->msg_id ? a->msg_id : "");
	c->act->from_me = a->from_me;
	c->act->on = a->on;
	c->act->msg_t = a->msg_t;
	c->act->mute_until_ms = a->mute_until_ms;
	post_cmd(eng, c);
	return Y_OK;
}

static int op_block(void *eng, const char *session_id, const char *jid, const char *action)
{
	struct cmd *c;

	if (strlen(jid) >= sizeof(c->chat) || strlen(action) >= sizeof(c->phone))
		return Y_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return Y_ENOMEM;
	c->kind = CMD_BLOCK;
	snprintf(c->id, sizeof(c->id), "%s", session_id);
	snprintf(c->chat, sizeof(c->chat), "%s", jid);
	snprintf(c->phone, sizeof(c->phone), "%s", action);
	post_cmd(eng, c);
	return Y_OK;
}

static int op_presence(void *eng, const char *session_id, int what, const char *jid,
		       const char *state)
{
	struct cmd *c;

	if ((jid && strlen(jid) >= sizeof(c->chat)) || (state && strlen(state) >= sizeof(c->phone)))
		return Y_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return Y_ENOMEM;
	c->kind = CMD_PRESENCE;
	c->seq = (uint64_t)what;
	snprintf(c->id, sizeof(c->id), "%s", session_id);
	snprintf(c->chat, sizeof(c->chat), "%s", jid ? jid : "");
	snprintf(c->phone, sizeof(c->phone), "%s", state ? state : "");
	post_cmd(eng, c);
	return Y_OK;
}

static int op_mark_read(void *eng, const char *session_id, const char *chat, const char *wa_id)
{
	struct cmd *c;

	if (strlen(chat) >= sizeof(c->chat) || strlen(wa_id) >= sizeof(c->wa_id))
		return Y_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return Y_ENOMEM;
	c->kind = CMD_READ;
	snprintf(c->id, sizeof(c->id), "%s", session_id);
	memcpy(c->chat, chat, strlen(chat) + 1);
	memcpy(c->wa_id, wa_id, strlen(wa_id) + 1);
	post_cmd(eng, c);
	return Y_OK;
}

static int op_mark_read_ids(void *eng, const char *session_id, const char *chat,
			    const char *const *wa_ids, size_t n)
{
	struct cmd *c;

	if (!n || strlen(chat) >= sizeof(c->chat))
		return Y_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (strlen(wa_ids[i]) >= WA_MSG_ID_MAX)
			return Y_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->rids = calloc(n, sizeof(*c->rids)))) {
		free(c);
		return Y_ENOMEM;
	}
	c->kind = CMD_READ;
	snprintf(c->id, sizeof(c->id), "%s", session_id);
	memcpy(c->chat, chat, strlen(chat) + 1);
	for (size_t i = 0; i < n; i++)
		snprintf(c->rids[i], sizeof(c->rids[i]), "%s", wa_ids[i]);
	c->nrids = n;
	post_cmd(eng, c);
	return Y_OK;
}

/* Posts c (kind set, taken) for the loop with a new waiter w and waits up
 * to timeout_ms for the loop to complete it; the waiter's error, or
 * Y_ETIMEOUT. HTTP threads only. */
static int wait_loop_answer(struct engine *e, struct cmd *c, struct pc_wait *w, int timeout_ms)
{
	struct pc_wait **pp;
	struct timespec deadline;

	memset(w, 0, sizeof(*w));
	deadline = clock_deadline(CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&e->pc_mu);
	w->seq = ++e->pc_next;
	w->next = e->pc_waits;
	e->pc_waits = w;
	pthread_mutex_unlock(&e->pc_mu);
	c->seq = w->seq;
	post_cmd(e, c);
	pthread_mutex_lock(&e->pc_mu);
	while (!w->done)
		if (pthread_cond_timedwait(&e->pc_cv, &e->pc_mu, &deadline))
			break;
	for (pp = &e->pc_waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&e->pc_mu);
	return w->done ? w->err : Y_ETIMEOUT;
}

/* A command of kind (CMD_PAIR_CODE) for session id about phone, answered
 * by the loop into w. */
static int ask_loop(struct engine *e, enum cmd_kind kind, const char *id, const char *phone,
		    struct pc_wait *w, int timeout_ms)
{
	struct cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return Y_ENOMEM;
	if (strlen(phone) >= sizeof(c->phone)) {
		free(c);
		return Y_EINVAL;
	}
	c->kind = kind;
	snprintf(c->id, sizeof(c->id), "%s", id);
	memcpy(c->phone, phone, strlen(phone) + 1);
	return wait_loop_answer(e, c, w, timeout_ms);
}

static int op_pair_code(void *eng, const char *id, const char *phone,
			char code[SVC_PAIR_CODE_LEN], int timeout_ms)
{
	struct pc_wait w;
	int rc = ask_loop(eng, CMD_PAIR_CODE, id, phone, &w, timeout_ms);

	if (!rc)
		memcpy(code, w.code, sizeof(w.code));
	return rc;
}

static int op_query(void *eng, const char *id, const struct svc_query *q, int timeout_ms,
		    svc_lookup_cb done, void *arg)
{
	struct cmd *c = calloc(1, sizeof(*c));
	struct lookup_wait *lw = calloc(1, sizeof(*lw));
	const char *key = q->kind == SVC_Q_CONTACT ? q->phone : q->kind == SVC_Q_PICTURE ? q->jid : "";
	size_t cap = q->kind == SVC_Q_CONTACT ? sizeof(lw->phone) : sizeof(lw->jid);

	if (!c || !lw || !key || strlen(key) >= cap ||
	    (q->kind == SVC_Q_SET_PICTURE && q->len && !(lw->jpeg = malloc(q->len)))) {
		int rc = !c || !lw || (key && strlen(key) < cap) ? Y_ENOMEM : Y_EINVAL;

		free(c);
		lookup_free(lw);
		return rc;
	}
	lw->kind = q->kind;
	memcpy(q->kind == SVC_Q_CONTACT ? lw->phone : lw->jid, key, strlen(key) + 1);
	lw->preview = q->preview;
	if (lw->jpeg)
		memcpy(lw->jpeg, q->jpeg, q->len);
	lw->len = lw->jpeg ? q->len : 0;
	lw->timeout_ms = timeout_ms;
	lw->done = done;
	lw->arg = arg;
	c->kind = CMD_LOOKUP;
	c->lookup = lw;
	snprintf(c->id, sizeof(c->id), "%s", id);
	post_cmd(eng, c);
	return Y_OK;
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
	int64_t now = clock_mono_ms();
	int64_t late = now - atomic_exchange(&e->heartbeat_ms, now) - ENGINE_BEAT_MS;

	/* measured on the loop: anything that blocks it delays this beat */
	if (late >= ENGINE_LATE_MS)
		ymetric_add(YM_LOOP_LATE_MS, (uint64_t)late);
	lookups_expire(e);
	mretries_expire(e);
}

static const struct svc_engine_ops engine_ops = {
	.start = op_start,
	.logout = op_logout,
	.restart = op_restart,
	.set_version = op_set_version,
	.send_text = op_send_text,
	.send_text_async = op_send_text_async,
	.send_media = op_send_media,
	.fetch_media = op_fetch_media,
	.send_msg = op_send_msg,
	.presence = op_presence,
	.block = op_block,
	.about = op_about,
	.mark_read = op_mark_read,
	.mark_read_ids = op_mark_read_ids,
	.healthy = op_healthy,
	.forget = op_forget,
	.passkey = op_passkey,
	.pair_code = op_pair_code,
	.query = op_query,
	.push_name = op_push_name,
	.appstate = op_appstate,
};

/* ---- lifecycle ---- */

static void restore_one(const struct store_session *x, void *arg)
{
	struct engine *e = arg;
	enum store_session_status st = x->status;

	if (st == STORE_SESSION_LOGGED_OUT || st == STORE_SESSION_FAILED)
		return;
	if (st == STORE_SESSION_DISCONNECTED && x->reason && !strcmp(x->reason, "idle"))
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
	if (!e->opts.queue_max)
		e->opts.queue_max = 1000;
	pthread_mutex_init(&e->cmd_mu, NULL);
	pthread_mutex_init(&e->job_mu, NULL);
	pthread_cond_init(&e->job_cv, NULL);
	pthread_mutex_init(&e->pc_mu, NULL);
	pthread_cond_init(&e->pc_cv, NULL);
	pthread_mutex_init(&e->mc_mu, NULL);
	pthread_mutex_init(&e->pend_mu, NULL);
	if (o->db_url) {
		rc = store_open_reader(o->db_url, &e->sig_reader);
		if (rc)
			goto fail;
		e->sigdb = sigdb_new(e->sig_reader, 0, sig_wake_flush, e);
		if (!e->sigdb) {
			rc = Y_ENOMEM;
			goto fail;
		}
	}
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
	uv_timer_init(wa_loop_uv(e->loop), &e->drain);
	e->drain.data = e;
	uv_timer_start(&e->drain, on_drain, ENGINE_DRAIN_MS, ENGINE_DRAIN_MS);
	if (pthread_create(&e->worker_thread, NULL, worker_main, e)) {
		rc = Y_ENOMEM;
		uv_close((uv_handle_t *)&e->async, NULL);
		uv_close((uv_handle_t *)&e->beat, NULL);
		uv_close((uv_handle_t *)&e->drain, NULL);
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
		uv_close((uv_handle_t *)&e->drain, NULL);
		rc = Y_ENOMEM;
		goto fail;
	}
	rc = gcommit_new(st, on_committed, e, &e->gc); /* after the loop: it posts there */
	if (rc) {
		LOG_ERROR("engine: no committer thread: texts are committed one by one", "{s:s}",
			  "error", y_strerror(rc));
		e->gc = NULL;
	}
	if (o->data_dir) { /* after the loop: it posts there */
		struct media_up_opts uo = { .data_dir = o->data_dir,
					    .ca_file = o->ca_file,
					    .allow_private = o->media_url_allow_private,
					    .backoff_ms = o->media_backoff_ms };

		rc = media_up_start(st, &uo, &up_ops, e, &e->up);
		if (rc)
			LOG_ERROR("engine: media cannot be sent (no upload thread)", "{s:s}", "error",
				  y_strerror(rc));
	}
	atomic_store(&e->running, 1);
	/* after the loop: they post there; the downloads' other hosts are the uploads' */
	media_svc_set_hooks(o->media, mretry_hook, up_conn, e);
	svc_set_engine(svc, &engine_ops, e);
	svc_session_foreach(svc, restore_one, e);
	*out = e;
	return Y_OK;
fail:
	pthread_mutex_destroy(&e->mc_mu);
	pthread_mutex_destroy(&e->pend_mu);
	wa_client_pool_free(e->pool);
	if (e->loop)
		wa_loop_free(e->loop);
	sigdb_free(e->sigdb);
	store_close(e->sig_reader);
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
	if (e->gc) /* first: it posts to the loop */
		gcommit_stop(e->gc);
	media_up_stop(e->up); /* first: it posts to the loop and the worker */
	media_svc_set_hooks(e->opts.media, NULL, NULL, NULL); /* the media thread too */
	cmd(e, CMD_SHUTDOWN, NULL, 0, NULL);
	pthread_join(e->loop_thread, NULL);
	svc_set_engine(e->svc, NULL, NULL);
	pthread_mutex_lock(&e->job_mu);
	e->worker_stop = true;
	pthread_cond_signal(&e->job_cv);
	pthread_mutex_unlock(&e->job_mu);
	pthread_join(e->worker_thread, NULL);
	if (e->in_retry) /* one last try: what is still not stored stays unflushed */
		run_batch(e, NULL);
	if (e->sigdb && e->in_retry) {
		LOG_ERROR("engine stops with inbound messages not stored: Signal state not written, "
			  "they are redelivered after the restart", NULL);
		while (e->in_retry) {
			struct job *j = e->in_retry;

			e->in_retry = j->next;
			job_free(j);
		}
		sigdb_free(e->sigdb);
		store_close(e->sig_reader);
	} else if (e->sigdb) { /* every client is gone: the last writes, then the cache */
		int rc = sigdb_flush(e->sigdb, e->st, NULL);

		if (rc)
			LOG_ERROR("engine cannot write Signal state at stop", "{s:s}", "error",
				  y_strerror(rc));
		sigdb_free(e->sigdb);
		store_close(e->sig_reader);
	}
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
	media_up_free(e->up);
	gcommit_free(e->gc);
	while (e->mconns) {
		struct mconn *m = e->mconns;

		e->mconns = m->next;
		free(m);
	}
	pthread_mutex_destroy(&e->mc_mu);
	for (int i = 0; i < ESESS_BUCKETS; i++)
		while (e->pend[i]) {
			struct pend *p = e->pend[i];

			e->pend[i] = p->next;
			free(p);
		}
	pthread_mutex_destroy(&e->pend_mu);
	free(e);
}

size_t engine_client_count(struct engine *e)
{
	return atomic_load(&e->nclients);
}
