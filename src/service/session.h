/*
 * The session service: what the API asks of WhatsApp sessions, kept apart
 * from HTTP so the real client can plug in later. Until a WhatsApp engine is
 * attached (svc_set_engine), nothing is ever connected: sends answer
 * Y_ESTATE, which the API turns into 503 SESSION_NOT_CONNECTED. Nothing here
 * pretends to deliver.
 *
 * The service keeps an in-memory registry of every session, loaded from the
 * store by svc_new and updated write-through by the svc_session_* writers
 * (store first, then memory), so that reading a session never touches the
 * database. The store stays the source of truth on disk; sessions must only
 * be created, deleted or changed through this service while it runs.
 * Readers share a rwlock (writers preferred); writers are serialized by a
 * mutex held across the store write and the registry update, so the registry
 * applies writes in the store's order.
 *
 * The service borrows the store; both must outlive it. Thread-safe as long as
 * the engine's callbacks are.
 */
#ifndef YESAPP_SERVICE_SESSION_H
#define YESAPP_SERVICE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "wa/payload.h"

struct svc;

#define SVC_PAIR_CODE_LEN 16 /* "ABCD-EFGH" and room */

/* What a contact query found (svc_query): a lookup fills registered, jid,
 * lid and about; a picture query picture_url and picture_id; setting our
 * picture picture_id ("" when removed). */
struct svc_contact {
	int registered;
	char jid[64];              /* the phone-number JID */
	char lid[64];              /* its LID JID, or "" */
	int has_about;             /* about is set (and not hidden from us) */
	char about[1025];
	char picture_url[1024];
	char picture_id[32];
};
enum svc_query_kind { SVC_Q_CONTACT, SVC_Q_PICTURE, SVC_Q_SET_PICTURE };
/* A question for WhatsApp about a contact or our profile (borrowed). */
struct svc_query {
	enum svc_query_kind kind;
	const char *phone;         /* SVC_Q_CONTACT: E.164 digits */
	const char *jid;           /* SVC_Q_PICTURE: the user's JID */
	int preview;               /* SVC_Q_PICTURE: the small image */
	const uint8_t *jpeg;       /* SVC_Q_SET_PICTURE: copied; len 0 removes */
	size_t len;
};
/* c is NULL unless err is Y_OK. */
typedef void (*svc_lookup_cb)(void *arg, int err, const struct svc_contact *c);
/* An accepted message committed (rc Y_OK, *m the row: the callee releases
 * it) or refused (rc the error, m empty). */
typedef void (*svc_accepted_cb)(void *arg, int rc, struct store_message *m);

/* A message to send, of any kind (src/service/msgkind.h). */
struct svc_outmsg {
	const char *to_jid;       /* user@s.whatsapp.net or user@lid */
	const char *type;         /* "text", "reaction", "edit", "revoke", "location", ... */
	const char *body;         /* its stored body (JSON text) */
	const char *text;         /* the row's text, or NULL */
	const char *quoted_id;    /* the WhatsApp id replied to, or NULL */
	struct store_effect fx;   /* kind 0: none */
};

enum { SVC_PRESENCE_OWN = 0, SVC_PRESENCE_CHATSTATE = 1, SVC_PRESENCE_SUBSCRIBE = 2 };

/*
 * What a WhatsApp engine provides. Every callback gets the `eng` pointer
 * passed to svc_set_engine. Threading contract: they are called from HTTP
 * threads (and from svc_* callers); none blocks on the engine's loop or on
 * WhatsApp: they queue the work and return. Results show up later in the
 * registry (svc_session_apply / svc_session_set_qr, called by the engine).
 */
struct svc_media;
struct media_fetched; /* service/media_send.h */

/* An app-state write (docs/appstate.md): chat (and msg_id, from_me, msg_t
 * of the message) for DELETE_FOR_ME; on = archived / pinned / muted / read,
 * msg_t the chat's last message time (Unix seconds) for ARCHIVE and READ,
 * mute_until_ms for MUTE (-1: forever). Borrowed for the call. */
enum svc_as_kind { SVC_AS_DELETE_FOR_ME, SVC_AS_ARCHIVE, SVC_AS_PIN, SVC_AS_MUTE, SVC_AS_READ };
struct svc_as_action {
	enum svc_as_kind kind;
	const char *chat, *msg_id;
	bool from_me, on;
	int64_t msg_t, mute_until_ms;
};

struct svc_engine_ops {
	/* Starts (or resumes) the client of a session: a new one shows a QR,
	 * a linked one reconnects. Y_ENOMEM. */
	int (*start)(void *eng, const char *session_id);
	/* Unlinks the session on WhatsApp's side (when connected), wipes its
	 * credentials and leaves it logged_out. */
	int (*logout)(void *eng, const char *session_id);
	/* Stops and starts the client again (from failed or logged_out too). */
	int (*restart)(void *eng, const char *session_id);
	/* Announces version v from the next connection on, and restarts the
	 * sessions that failed as client_outdated. */
	int (*set_version)(void *eng, const struct wa_version *v);
	/* Accepts a text for to_jid (user@s.whatsapp.net or user@lid): stored
	 * pending (committed) before it returns, then sent by the loop in
	 * order. Y_ESTATE when the session is not linked (pending, qr,
	 * logged_out, failed); Y_EBUSY when QUEUE_MAX messages wait already
	 * (*retry_after_s then says when to try again). On success fills *out
	 * (owned by the caller, released with store_message_release). */
	int (*send_text)(void *eng, const char *session_id, const char *to_jid, const char *text,
			 struct store_message *out, int *retry_after_s);
	/* send_text answered later, through a group commit (service/gcommit.h):
	 * the checks (Y_ESTATE, Y_EBUSY with *retry_after_s) are made before
	 * it returns, the row is stored with others in one transaction. Y_OK:
	 * done(arg, rc, m) runs exactly once, on another thread, after that
	 * transaction (rc Y_OK: *m is the row read back, for done to release;
	 * else m is empty); any other return: done never runs. Text and to_jid
	 * are copied. Optional (svc_send_text_async falls back to send_text). */
	int (*send_text_async)(void *eng, const char *session_id, const char *to_jid,
			       const char *text, svc_accepted_cb done, void *arg,
			       int *retry_after_s);
	/* The same for media (struct svc_media, docs/media.md "Sending"): the
	 * source (base64 bytes written to DATA_DIR and fsync'd, or the URL) is
	 * stored before the answer; the upload runs later. Optional. */
	int (*send_media)(void *eng, const char *session_id, const char *to_jid,
			  const struct svc_media *md, struct store_message *out,
			  int *retry_after_s);
	/* A media URL fetched before its send is accepted, by the upload
	 * thread (media_up_fetch, service/media_send.h); Y_ESTATE at once for
	 * a session that is not linked. Optional. */
	int (*fetch_media)(void *eng, const char *session_id, const char *url, uint64_t limit,
			   void (*cb)(void *arg, const struct media_fetched *f), void *arg);
	/* Accepts a message of any kind (msgkind.h) as send_text does; fx
	 * (kind 0: none) is applied to its target in the same transaction
	 * (store_message_insert_effect). */
	int (*send_msg)(void *eng, const char *session_id, const struct svc_outmsg *o,
			struct store_message *out, int *retry_after_s);
	/* Presence (queued to the loop; Y_ESTATE when not connected):
	 * what SVC_PRESENCE_* says, for chat/contact `jid` (for our own: the
	 * name to announce, or NULL for the push name). */
	int (*presence)(void *eng, const char *session_id, int what, const char *jid,
			const char *state);
	/* One read receipt for messages wa_ids[0..n) of one sender in chat
	 * (queued; Y_EINVAL for n 0 or overlong ids). */
	int (*mark_read_ids)(void *eng, const char *session_id, const char *chat,
			     const char *const *wa_ids, size_t n);
	/* Sets our about text (queued). */
	int (*about)(void *eng, const char *session_id, const char *text);
	/* Blocks or unblocks (action "block" / "unblock") user jid, or with
	 * action "get" asks for the list; queued, the list is kept later. */
	int (*block)(void *eng, const char *session_id, const char *jid, const char *action);
	/* Sends a read receipt for message wa_id received in chat (queued to
	 * the loop; Y_ESTATE when the session is not connected). */
	int (*mark_read)(void *eng, const char *session_id, const char *chat, const char *wa_id);
	/* 1 while the engine runs without a failed session, else 0. */
	int (*healthy)(void *eng);
	/* A session was deleted: drop its connection. */
	void (*forget)(void *eng, const char *session_id);
	/* The passkey step: submits a WebAuthn assertion (JSON text and raw
	 * credential id, copied), or with assertion NULL confirms the code. The
	 * outcome shows in the registry. Y_ENOMEM. */
	int (*passkey)(void *eng, const char *session_id, const char *assertion,
		       const uint8_t *raw_id, size_t raw_id_len);
	/*
	 * The one call that waits: asks the client of a registering session
	 * for a pair code for phone (E.164 digits) and waits up to timeout_ms
	 * on the calling thread for it (the loop never waits for the caller).
	 * Writes "ABCD-EFGH" into code. Y_EEXIST: the session is linked;
	 * Y_ESTATE: it is not registering (no QR on show); Y_EBUSY: a code is
	 * being made or entered; Y_ECLOSED: the connection ended first;
	 * Y_EINVAL: WhatsApp refused; Y_ETIMEOUT.
	 */
	int (*pair_code)(void *eng, const char *session_id, const char *phone,
			 char code[SVC_PAIR_CODE_LEN], int timeout_ms);
	/*
	 * Queues query q (copied) for the session's client: a usync contact
	 * lookup (GET .../contacts/{phone}), a profile picture URL, or setting
	 * our picture; and returns. done(arg, err, contact) runs once on the
	 * loop thread: Y_OK with the answer, Y_ENOTFOUND (no picture, or
	 * hidden), Y_ESTATE (not connected), Y_EBUSY (too many questions
	 * waiting), Y_ECLOSED (the connection or the engine ended first),
	 * Y_ETIMEOUT (no answer in timeout_ms, to about a second), Y_EINVAL
	 * (an answer we cannot read, or a refusal). On an error return done
	 * is never called.
	 */
	int (*query)(void *eng, const char *session_id, const struct svc_query *q, int timeout_ms,
		     svc_lookup_cb done, void *arg);
	/* Sets our push name (queued; kept in the credentials and announced). */
	int (*push_name)(void *eng, const char *session_id, const char *name);
	/* Queues an app-state write (copied; docs/appstate.md): our other
	 * devices learn it once the loop wrote it. */
	int (*appstate)(void *eng, const char *session_id, const struct svc_as_action *a);
};

/* Creates the service and loads every stored session into the registry. */
int svc_new(struct store *st, struct svc **out);
void svc_free(struct svc *s); /* NULL is a no-op */
/* Attaches an engine (ops and eng borrowed, must outlive the service). */
void svc_set_engine(struct svc *s, const struct svc_engine_ops *ops, void *eng);

/* ---- the registry ---- */
/* Copies session `id` into *out (caller releases with store_session_release)
 * without touching the store. Y_ENOTFOUND if unknown, Y_ENOMEM. */
int svc_session_get(struct svc *s, const char *id, struct store_session *out);
/* 1 if session `id` is known, else 0. */
int svc_session_exists(struct svc *s, const char *id);
/* Number of sessions in the registry. */
size_t svc_session_count(struct svc *s);
/* Sessions per status (counts[status]), for metrics. */
void svc_session_count_by_status(struct svc *s, size_t counts[STORE_SESSION_STATUS_COUNT]);
/* Creates a session in the store and the registry; *out as store_session_create. */
int svc_session_create(struct svc *s, const char *name, struct store_session *out);
/* Deletes a session (and its messages); Y_ENOTFOUND if unknown. */
int svc_delete_session(struct svc *s, const char *session_id);
/* As store_session_set_status, then the registry follows. */
int svc_session_set_status(struct svc *s, const char *id, enum store_session_status status,
			   const char *phone /* NULL keeps */);
/* As store_session_set_webhook, then the registry follows. */
int svc_session_set_webhook(struct svc *s, const char *id, const char *url, const char *secret,
			    const char *events);

/* What the engine writes: as store_session_update (store first, then the
 * registry), and wakes svc_session_wait. Y_ENOTFOUND for a deleted session. */
int svc_session_apply(struct svc *s, const char *id, const struct store_session_update *u);
/* The QR on show for a session (memory only: it lives seconds); NULL
 * clears. Y_ENOTFOUND, Y_ENOMEM. */
int svc_session_set_qr(struct svc *s, const char *id, const char *qr);
/* A copy of the QR on show (caller frees), or NULL (none, or unknown). */
char *svc_session_qr(struct svc *s, const char *id);
/* The passkey step on show (memory only, like the QR): the WebAuthn request
 * options JSON and the confirmation code, each NULL when absent. */
int svc_session_set_passkey(struct svc *s, const char *id, const char *options,
			    const char *code);
/* Copies of both (caller frees each); Y_ENOTFOUND, Y_ENOMEM. */
int svc_session_passkey(struct svc *s, const char *id, char **options, char **code);
/* As svc_engine_ops.passkey; Y_ENOTFOUND, Y_ESTATE without an engine. */
int svc_session_passkey_submit(struct svc *s, const char *id, const char *assertion,
			       const uint8_t *raw_id, size_t raw_id_len);
/*
 * Waits up to timeout_ms for done(session, qr, arg) to return non-zero,
 * calling it now and after every change of the session. The session and qr
 * are borrowed for the call (qr may be NULL). Returns 1 when done, 0 on
 * timeout, Y_ENOTFOUND if the session is (or becomes) unknown. For HTTP
 * threads: never call it from the engine's loop.
 */
int svc_session_wait(struct svc *s, const char *id,
		     int (*done)(const struct store_session *x, const char *qr, void *arg),
		     void *arg, int timeout_ms);
/* Engine calls from the API; Y_ENOTFOUND for an unknown session, Y_ESTATE
 * without an engine. */
int svc_session_logout(struct svc *s, const char *id);
/* The engine's set_version; Y_ESTATE without an engine. */
int svc_set_wa_version(struct svc *s, const struct wa_version *v);
int svc_session_restart(struct svc *s, const char *id);
/* The engine's pair_code (see svc_engine_ops); Y_ENOTFOUND for an
 * unknown session, Y_EUNSUPPORTED without an engine. Waits: HTTP threads
 * only. */
int svc_session_pair_code(struct svc *s, const char *id, const char *phone,
			  char code[SVC_PAIR_CODE_LEN], int timeout_ms);
/* The engine's lookup (see svc_engine_ops): Y_ENOTFOUND for an unknown
 * session, Y_EUNSUPPORTED without an engine (done not called then). Does
 * not wait. */
int svc_contact_lookup(struct svc *s, const char *id, const char *phone, int timeout_ms,
		       svc_lookup_cb done, void *arg);
/* The engine's query (see svc_engine_ops), the same way. */
int svc_query(struct svc *s, const char *id, const struct svc_query *q, int timeout_ms,
	      svc_lookup_cb done, void *arg);
/*
 * A use of session `id` (an API call about it) at now_ms. With start_if_idle,
 * a session the engine disconnected for idleness (disconnected, reason
 * "idle") is started again: the lazy start of IDLE_DISCONNECT_HOURS.
 */
void svc_session_touch(struct svc *s, const char *id, int start_if_idle, int64_t now_ms);
/* Calls fn (outside the registry's lock) with the id of every connected
 * session whose last use is at or before `before_ms`. */
int svc_sessions_idle(struct svc *s, int64_t before_ms, void (*fn)(const char *id, void *arg),
		      void *arg);

/* Calls fn for the id of every session (ids copied before the calls). */
int svc_session_foreach(struct svc *s, void (*fn)(const struct store_session *x, void *arg),
			void *arg);

/* Y_ENOTFOUND for an unknown session, Y_ESTATE when it is not linked,
 * Y_EBUSY when its queue is full (see send_text above). */
int svc_send_text(struct svc *s, const char *session_id, const char *to_jid, const char *text,
		  struct store_message *out, int *retry_after_s);
/* As svc_send_text, answered through done (see send_text_async): Y_OK, and
 * done runs exactly once (maybe before this returns), or the error and it
 * never runs. */
int svc_send_text_async(struct svc *s, const char *session_id, const char *to_jid,
			const char *text, svc_accepted_cb done, void *arg, int *retry_after_s);
/* A media message to send (validated by the API: kind, mimetype, sizes). */
struct svc_media {
	const char *kind;          /* image, video, audio, document, sticker */
	const char *mimetype;      /* NULL: sniffed later (a URL) */
	const char *file_name;     /* documents; may be NULL */
	const char *caption;       /* may be NULL */
	bool ptt;                  /* audio as a voice note */
	const uint8_t *data;       /* the bytes (base64 decoded), or NULL */
	size_t len;                /* of data, or of file */
	const char *file;          /* else a written, fsync'd file (a multipart upload)
				    * that becomes the source, or NULL */
	const char *url;           /* else fetched by the uploader: http(s) only */
};
int svc_send_media(struct svc *s, const char *session_id, const char *to_jid,
		   const struct svc_media *md, struct store_message *out, int *retry_after_s);
/* The engine's fetch_media: Y_OK and cb runs exactly once (on the upload
 * thread), else Y_ENOTFOUND, Y_ESTATE (not linked, no uploader), Y_ENOMEM
 * and it never runs. */
int svc_fetch_media(struct svc *s, const char *session_id, const char *url, uint64_t limit,
		    void (*cb)(void *arg, const struct media_fetched *f), void *arg);
/* As svc_send_text, for a message of any kind. */
int svc_send_msg(struct svc *s, const char *session_id, const struct svc_outmsg *o,
		 struct store_message *out, int *retry_after_s);
/* The engine's presence (Y_ENOTFOUND, Y_ESTATE when not connected,
 * Y_EINVAL for our own without a name: none given, no push name known). */
int svc_presence(struct svc *s, const char *session_id, int what, const char *jid,
		 const char *state);
/* The engine's block (Y_ENOTFOUND, Y_ESTATE when not connected). The list
 * as WhatsApp last answered is the setting "blocklist:<session id>". */
int svc_block(struct svc *s, const char *session_id, const char *jid, const char *action);
/* The engine's about (Y_ENOTFOUND, Y_ESTATE when not connected). */
int svc_set_about(struct svc *s, const char *session_id, const char *text);
/* The engine's push name (Y_ENOTFOUND, Y_ESTATE when not connected); the
 * session's push_name follows once the loop took it. */
int svc_set_push_name(struct svc *s, const char *session_id, const char *name);
/* Queues an app-state write for the session's other devices (Y_ESTATE when
 * not connected). */
int svc_appstate_write(struct svc *s, const char *session_id, const struct svc_as_action *a);
/* Marks a chat read up to message `upto_id` (our id; NULL: everything):
 * every inbound message of the chat still `received` at or before it gets
 * one read receipt and status read. *n gets how many. Y_ENOTFOUND (session,
 * or upto_id not in that chat), Y_ESTATE (not connected). */
int svc_mark_chat_read(struct svc *s, const char *session_id, const char *chat,
		       const char *upto_id, size_t *n);
/* Marks inbound message `id` read (stored status read) and sends the read
 * receipt. Y_ENOTFOUND (session or message), Y_EINVAL (not an inbound
 * message), Y_ESTATE (the session is not connected). *out is the message. */
int svc_mark_read(struct svc *s, const char *session_id, const char *id,
		  struct store_message *out);
/*
 * The WhatsApp readiness check. With an engine: what the engine reports.
 * Without one: 1 unless a session is in the failed state, since no engine
 * runs that could be failing.
 */
int svc_whatsapp_ok(struct svc *s);

#endif
