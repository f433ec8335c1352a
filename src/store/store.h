/*
 * The storage interface. Everything the server keeps goes through these
 * calls; SQLite (store_sqlite.c) is the embedded default and PostgreSQL will
 * sit behind the same interface. No SQL or driver type leaks out of here.
 *
 * Thread safety: a struct store may be used from several threads at once
 * (the HTTP threads and the WhatsApp loop); the implementation serializes.
 *
 * Strings inside result structs are owned by the struct and freed by the
 * matching *_release(). Ids are UUID v4 strings (36 chars + NUL).
 * Times are milliseconds since the Unix epoch (UTC).
 *
 * Pagination is keyset-based: a list call takes the cursor of the last row
 * of the previous page (or NULL for the first page) and fills `next` when
 * more rows follow. The API layer turns a store_cursor into an opaque string.
 */
#ifndef YESAPP_STORE_H
#define YESAPP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

#define STORE_ID_LEN 37 /* UUID text + NUL */
#define STORE_LIST_MAX 1000 /* the largest page a list call returns; limit is 1..this */

struct store_cursor {
	int64_t ts;                /* the ordering timestamp of the last row */
	char id[STORE_ID_LEN];     /* tie-breaker: the last row's id */
};

/*
 * Opens (creating if needed) the database named by `url`: a file path or
 * "sqlite:PATH"; "postgres://..." returns Y_EUNSUPPORTED for now. Applies
 * pending migrations from the embedded list (migrations/NNNN_*.sql), each in
 * a transaction, recorded in schema_migrations. A database whose schema is
 * newer than this binary is refused with Y_EVERSION (and a logged reason).
 * A file database gets a checkpoint thread of its own (WAL pages copied back
 * off the callers' path; docs/store.md "Checkpoints"), stopped by
 * store_close.
 */
int store_open(const char *url, struct store **out);
void store_close(struct store *st); /* NULL is a no-op */
/* Cheap liveness query (SELECT 1). */
int store_ping(struct store *st);
/* Readiness: writes a probe row and reads it back (waiting at most
 * timeout_ms for the write lock instead of the usual busy timeout).
 * Y_OK, Y_EBUSY (locked by someone else), Y_EDB. */
int store_ready_check(struct store *st, int timeout_ms);

/* ---- backups (file level; no open store needed) ---- */
/* A consistent copy of the database DATABASE_URL names, taken while other
 * connections (a running server) read and write it: SQLite's online backup
 * in one step, so the copy is one snapshot. dest must not exist. Then checks
 * the copy (store_check_file). Y_OK, Y_EINVAL (url), Y_EBUSY, Y_EDB. */
int store_snapshot(const char *url, const char *dest);
/* Opens the SQLite file read-only and runs PRAGMA integrity_check: Y_OK for
 * "ok", Y_EDB for any other answer or a file that is not a database. */
int store_check_file(const char *path);
/* The file path DATABASE_URL names (borrowed from url), or NULL. */
const char *store_url_path(const char *url);
/* Schema version now applied, and the newest this binary knows. */
int store_schema_version(struct store *st, int *applied, int *known);

/* ---- API keys: only SHA-256 digests are stored, never plaintext ---- */
struct store_apikey {
	char id[STORE_ID_LEN];
	char *name;                /* may be "" */
	char prefix[9];            /* up to 8 leading chars of the plaintext key, for display */
	int64_t created_at;
	int64_t last_used_at;      /* 0 if never */
	int revoked;               /* 0/1 */
};
int store_apikey_count_active(struct store *st, int64_t *n);
int store_apikey_add(struct store *st, const uint8_t hash[32], const char *name,
		     const char *prefix, char id_out[STORE_ID_LEN]);
/* Finds an active key by digest. Y_ENOTFOUND if none (or revoked). */
int store_apikey_find(struct store *st, const uint8_t hash[32], char id_out[STORE_ID_LEN]);
/* Records a use at `now`. Writes at most once a minute per key (so
 * last_used_at is exact to a minute); an unknown id is not an error. */
int store_apikey_touch(struct store *st, const char *id, int64_t now);
/* All keys, newest first; *out is an array of *n entries, free with store_apikeys_free. */
int store_apikey_list(struct store *st, struct store_apikey **out, size_t *n);
void store_apikeys_free(struct store_apikey *keys, size_t n);
/* Y_ENOTFOUND if no such id; revoking twice is Y_OK. */
int store_apikey_revoke(struct store *st, const char *id);

/* ---- sessions (one per linked WhatsApp number) ---- */
/*
 * A session's status inside the program. Its text form exists only at the
 * edges: the store's TEXT column and the API's JSON (answers, events,
 * webhook bodies), through the one table behind these two functions.
 */
enum store_session_status {
	STORE_SESSION_PENDING,      /* created; the client is starting */
	STORE_SESSION_QR,           /* showing a QR code (or waiting for a pair code) */
	STORE_SESSION_CONNECTING,   /* linked, connecting or logging in */
	STORE_SESSION_CONNECTED,
	STORE_SESSION_DISCONNECTED, /* lost; reconnecting with backoff */
	STORE_SESSION_LOGGED_OUT,   /* unlinked: credentials wiped; restart to link again */
	STORE_SESSION_FAILED,       /* gave up (see reason); restart to try again */
	STORE_SESSION_PASSKEY_REQUIRED, /* scanned; WhatsApp wants the account's passkey */
};
#define STORE_SESSION_STATUS_COUNT (STORE_SESSION_PASSKEY_REQUIRED + 1)
/* "pending", "qr", ...; NULL for a value outside the enum (a BUG). */
const char *store_session_status_name(enum store_session_status st);
/* Parses the text form (exact, case-sensitive): 0, or Y_EINVAL for NULL or
 * any other text (*out untouched then). */
int store_session_status_parse(const char *name, enum store_session_status *out);

struct store_session {
	char id[STORE_ID_LEN];
	char *name;
	enum store_session_status status;
	char *phone;               /* E.164 digits once linked, else NULL */
	char *push_name;           /* NULL if unknown */
	char *webhook_url;         /* NULL if none */
	char *webhook_secret;      /* NULL if none */
	char *webhook_events;      /* JSON array text, NULL means all events */
	char *device_jid;          /* our linked device's JID (PHONE:DEV@s.whatsapp.net), or NULL */
	char *lid;                 /* our LID (LID:DEV@lid), or NULL */
	char *reason;              /* why the status is what it is (failed, logged_out, ...), or NULL */
	int64_t connected_at;      /* last time it became connected, 0 if never */
	int64_t last_seen_at;      /* last time it was seen connected, 0 if never */
	int64_t created_at;
	int64_t updated_at;
};
void store_session_release(struct store_session *s);
int store_session_create(struct store *st, const char *name, struct store_session *out);
int store_session_get(struct store *st, const char *id, struct store_session *out);
/* Ordered by created_at DESC, id DESC (newest first). limit is
 * 1..STORE_LIST_MAX (else Y_EINVAL). On success *out (caller frees with
 * store_sessions_free, also when *n is 0) holds *n rows; *has_next is 1 when
 * more rows follow, and then *next is the cursor to pass as `after`. */
int store_session_list(struct store *st, const struct store_cursor *after, int limit,
		       struct store_session **out, size_t *n, struct store_cursor *next, int *has_next);
/* The same, only the sessions in a scoped key's scope when scope_key (a key
 * id) is non-NULL. */
int store_session_list_scoped(struct store *st, const char *scope_key,
			      const struct store_cursor *after, int limit,
			      struct store_session **out, size_t *n, struct store_cursor *next,
			      int *has_next);
void store_sessions_free(struct store_session *s, size_t n);
/* Deletes the session and, by cascade, its messages and webhook log. */
int store_session_delete(struct store *st, const char *id);
/* Y_EINVAL for a status outside the enum; Y_ENOTFOUND if no such session.
 * Bumps updated_at. */
int store_session_set_status(struct store *st, const char *id, enum store_session_status status,
			     const char *phone /* NULL keeps */);
/* What the WhatsApp engine writes of a session. status must be in the
 * enum (else Y_EINVAL); strings that are NULL keep the stored value, except reason (NULL clears
 * it); unlink clears phone, push_name, device_jid and lid first (logout);
 * times of 0 keep the stored value. Bumps updated_at. */
struct store_session_update {
	enum store_session_status status;
	const char *reason;
	const char *phone, *push_name, *device_jid, *lid;
	int64_t connected_at, last_seen_at;
	int unlink;
};
int store_session_update(struct store *st, const char *id, const struct store_session_update *u);
/* At start nothing is connected yet: connected and disconnected sessions
 * become connecting, qr ones pending (their QR is gone), in one statement;
 * those disconnected for idleness (reason "idle") stay as they are.
 * *n (may be NULL) gets the number of rows changed. */
int store_sessions_reset_live(struct store *st, int64_t *n);
/* url NULL clears the webhook. events: JSON array text or NULL (all). */
int store_session_set_webhook(struct store *st, const char *id, const char *url,
			      const char *secret, const char *events);

/* ---- server settings changed at run time ---- */
/* *value (caller frees) is the setting's text; Y_ENOTFOUND if unset. */
int store_setting_get(struct store *st, const char *key, char **value);
int store_setting_put(struct store *st, const char *key, const char *value);
/* Removing what is not there is Y_OK. */
int store_setting_delete(struct store *st, const char *key);

/* A session's media settings (migrations/0012): *json (caller frees) is the
 * text put there; Y_ENOTFOUND if none. */
int store_session_media_get(struct store *st, const char *session_id, char **json);
/* Y_ENOTFOUND when the session does not exist. */
int store_session_media_put(struct store *st, const char *session_id, const char *json);

/* ---- WhatsApp credentials of a session (the engine's, see src/client) ---- */
struct store_creds {
	uint8_t noise_priv[32];
	uint8_t identity_priv[32];
	uint32_t registration_id;
	uint32_t spk_id;
	uint8_t spk_priv[32];
	uint8_t spk_sig[64];
	uint8_t adv_secret[32];
	uint8_t *account;          /* owned; NULL (0) until linked */
	size_t account_len;
	char *jid, *lid, *platform, *push_name; /* owned; NULL until known */
	uint32_t next_prekey_id;
};
void store_creds_release(struct store_creds *c); /* wipes the keys too */
/* Inserts or replaces the credentials of session `session_id`.
 * Y_ENOTFOUND if the session does not exist. Borrows c. */
int store_creds_put(struct store *st, const char *session_id, const struct store_creds *c);
/* Y_ENOTFOUND if the session has none. *out released by the caller. */
int store_creds_get(struct store *st, const char *session_id, struct store_creds *out);
/* Deletes the credentials, every prekey and every Signal record (wa_signal)
 * of the session (logout); the LID map stays. Deleting
 * what is not there is Y_OK. */
int store_creds_delete(struct store *st, const char *session_id);

/* One-time prekeys of a session: n private keys with ids first..first+n-1
 * (as given in ids[]), in one transaction. Y_EEXIST if an id is taken. */
int store_prekeys_add(struct store *st, const char *session_id, const uint32_t *ids,
		      const uint8_t (*priv)[32], size_t n);
/* Marks the prekeys with ids up to `upto` (inclusive) uploaded. */
int store_prekeys_mark_uploaded(struct store *st, const char *session_id, uint32_t upto);
/* The private key of prekey `id`; Y_ENOTFOUND if it is gone. */
int store_prekey_get(struct store *st, const char *session_id, uint32_t id, uint8_t priv[32]);
/* Every prekey of the session: *ids and *priv (caller frees both, wiping
 * priv) hold *n entries. */
int store_prekeys_all(struct store *st, const char *session_id, uint32_t **ids,
		      uint8_t (**priv)[32], size_t *n);
/* The same, only those without a Signal prekey record (wa_signal kind 2,
 * key "<id>"): the ones a Signal store kept in this database lacks (made
 * but not flushed before a crash, or made before migration 0007). */
int store_prekeys_unrecorded(struct store *st, const char *session_id, uint32_t **ids,
			     uint8_t (**priv)[32], size_t *n);
/* Removes prekey `id` (consumed by a peer); absent is Y_OK. */
int store_prekey_delete(struct store *st, const char *session_id, uint32_t id);
/* Counts the session's prekeys (all, and those uploaded). */
int store_prekey_count(struct store *st, const char *session_id, int64_t *total,
		       int64_t *uploaded);

/* ---- Signal records of a session (migrations/0006_signal.sql) ----
 * kind and key as in src/wa/signal_store.h (kind 0..4, key at most 400
 * bytes); data is opaque. src/service/signal_db.h caches these. */
#define STORE_SIGNAL_KINDS 5
#define STORE_SIGNAL_KIND_PREKEY 2 /* its removal also deletes the wa_prekeys row */
/* *data (caller frees; wipe it, it holds keys) gets a copy of the record.
 * Y_ENOTFOUND if none. */
int store_signal_get(struct store *st, const char *session_id, int kind, const char *key,
		     uint8_t **data, size_t *len);
/* Calls fn for every key of (session, kind) starting with prefix, in key
 * order, after the rows were read (fn may call the store); a non-zero
 * return stops the walk and is returned. */
int store_signal_keys(struct store *st, const char *session_id, int kind, const char *prefix,
		      int (*fn)(const char *key, void *arg), void *arg);
/* One write of a batch: data NULL removes the record. */
struct store_signal_op {
	const char *session_id;
	int kind;
	const char *key;
	const uint8_t *data;
	size_t len;
};
/* Applies ops[0..n) in order in one transaction (all or none). Writes for
 * sessions that no longer exist are skipped (not an error). */
int store_signal_write(struct store *st, const struct store_signal_op *ops, size_t n);
/* Records of the session, per kind (counts[STORE_SIGNAL_KINDS]). */
int store_signal_count(struct store *st, const char *session_id, int64_t *counts);

/* ---- LID <-> phone number mapping of a session (issue 9 §7) ----
 * lid and pn are bare users (no device, no server). A put replaces any
 * mapping of the same LID or the same number. Y_ENOTFOUND if the session
 * does not exist. */
int store_lid_put(struct store *st, const char *session_id, const char *lid, const char *pn);
/* *pn (caller frees) of a LID, or *lid of a number; Y_ENOTFOUND if unknown. */
int store_lid_get_pn(struct store *st, const char *session_id, const char *lid, char **pn);
int store_lid_get_lid(struct store *st, const char *session_id, const char *pn, char **lid);

/* ---- privacy tokens of a session (docs/engine.md "Privacy tokens") ----
 * One row per contact: jid its user JID ("LID@lid" or "PHONE@s.whatsapp.net"),
 * token[0..len) the bytes it issued us (len 0: none held) and their time t,
 * sender_t when we last issued it ours (0: never); times in Unix seconds. */
#define STORE_TCTOKEN_MAX 256
struct store_tctoken {
	char jid[64];
	uint8_t token[STORE_TCTOKEN_MAX];
	size_t len;
	int64_t t, sender_t;
};
/* Replaces the contact's row; a session that no longer exists is skipped
 * (Y_OK). Y_EINVAL for an empty jid or len past STORE_TCTOKEN_MAX. */
int store_tctoken_put(struct store *st, const char *session_id, const struct store_tctoken *t);
/* Every row of the session: *out (caller frees) holds *n entries. Logging
 * out (store_creds_delete) deletes them. */
int store_tctokens_all(struct store *st, const char *session_id, struct store_tctoken **out,
		       size_t *n);

/* ---- app state of a session (docs/appstate.md) ----
 * STORE_AS_KEY rows: name[0..name_len) a sync key's id, data its key bytes,
 * t its timestamp (ms). STORE_AS_COLLECTION rows: name a collection's name
 * (no NUL), data its state as wa_appstate_state_save writes it. */
#define STORE_APPSTATE_DATA_MAX ((size_t)16 << 20)
enum { STORE_AS_KEY = 0, STORE_AS_COLLECTION = 1 };
struct store_appstate {
	int kind;
	uint8_t name[64];
	size_t name_len;
	uint8_t *data; /* owned by the array store_appstate_all returns */
	size_t len;
	int64_t t;
};
/* Replaces the row (kind, name); a session that no longer exists is
 * skipped (Y_OK). Y_EINVAL for a bad kind, an empty or long name, or data
 * past STORE_APPSTATE_DATA_MAX. */
int store_appstate_put(struct store *st, const char *session_id, const struct store_appstate *r);
/* Every row of the session, keys first (oldest first): *out holds *n
 * entries, freed with store_appstate_free. Logging out
 * (store_creds_delete) deletes them. */
int store_appstate_all(struct store *st, const char *session_id, struct store_appstate **out,
		       size_t *n);
void store_appstate_free(struct store_appstate *v, size_t n);

/* ---- durability ---- */
enum store_durability {
	STORE_DURABILITY_NORMAL = 0, /* WAL, synchronous=NORMAL: survives a process crash */
	STORE_DURABILITY_FULL = 1,   /* WAL, synchronous=FULL: also survives power loss */
};
/* Applies DURABILITY to this connection (store_open starts with NORMAL). */
int store_set_durability(struct store *st, enum store_durability d);
/* A second connection to the database `url` for reads (the engine's, for
 * the Signal cache's misses): no migrations (the schema must be current;
 * Y_EVERSION otherwise), writes refused (query_only). In WAL mode its reads
 * never wait for a writer. Not for ":memory:" (that would be another
 * database). Close with store_close. */
int store_open_reader(const char *url, struct store **out);

/* ---- messages ---- */
struct store_message {
	char id[STORE_ID_LEN];     /* our id */
	char session_id[STORE_ID_LEN];
	char *wa_id;               /* WhatsApp message id (fixed when accepted), or NULL */
	char *chat;                /* peer or group JID */
	int from_me;               /* direction: 1 outbound, 0 inbound */
	char *type;                /* text|image|document|... */
	char *body;                /* JSON text of the content */
	char *status;              /* pending|sent|delivered|read|failed|received */
	int64_t timestamp;         /* ordering time */
	int64_t created_at;
	char *from_jid, *to_jid;   /* who sent it to whom (JIDs), NULL if unknown */
	char *text;                /* the text of a text message, else NULL */
	char *quoted_id;           /* the WhatsApp id replied to, or NULL */
	char *reason;              /* why it failed, or NULL */
	int64_t updated_at;        /* last change (0 on insert: created_at) */
};
void store_message_release(struct store_message *m);
/* Fills m->id (a new UUID) and m->created_at when empty/zero, and
 * m->timestamp (= created_at) when zero. chat, type and status are required
 * (Y_EINVAL). Y_ENOTFOUND if the session does not exist, Y_EEXIST if the id,
 * or the wa_id within the session, is taken. Borrows m's strings. */
int store_message_insert(struct store *st, struct store_message *m);
/*
 * Group commit: inserts the n rows ms[] (each as store_message_insert does,
 * ids and times filled in) in ONE transaction, and gives each stored row
 * as stored in outs[i] (owned copies: caller releases them). rcs[i] is row i's own
 * result: Y_OK, or Y_EINVAL / Y_EEXIST / Y_ENOTFOUND for that row alone
 * (the others are kept). Returns Y_OK once the transaction is committed; any
 * other failure (the database, the commit) fails the whole batch: nothing
 * is stored, every rcs[i] is that error and every outs[i] empty. Borrows
 * ms's strings.
 */
int store_messages_insert_batch(struct store *st, struct store_message *ms, size_t n, int *rcs,
				struct store_message *outs);
/* The message `id` of session `session_id`; Y_ENOTFOUND if none. */
int store_message_get(struct store *st, const char *session_id, const char *id,
		      struct store_message *out);
/* Sets the status (and the WhatsApp id when wa_id is non-NULL) of message
 * `id`. Y_ENOTFOUND if none, Y_EEXIST if wa_id is taken in the session. */
int store_message_set_status(struct store *st, const char *id, const char *status,
			     const char *wa_id /* NULL keeps */);
/* Moves outbound message wa_id of the session to status (with reason, NULL
 * clears it) unless it is already as far (pending < sent = failed <
 * delivered < read: a late delivery receipt does not undo a read).
 * Y_ENOTFOUND when no row changed. */
int store_message_update_wa(struct store *st, const char *session_id, const char *wa_id,
			    const char *status, const char *reason);
/* Many of store_message_update_wa's moves in ONE transaction (the worker
 * batches its status jobs): rcs[i] is move i's own result (Y_OK, Y_ENOTFOUND
 * when no row changed, Y_EINVAL). Returns Y_OK once committed; any other
 * failure changes nothing and is every rcs[i]. Strings borrowed. */
struct store_status_update {
	const char *session_id, *wa_id, *status, *reason;
};
int store_messages_update_wa_batch(struct store *st, const struct store_status_update *u,
				   size_t n, int *rcs);
/* The session's outbound messages still pending, oldest first, at most
 * limit; *out freed with store_messages_free. */
int store_messages_pending(struct store *st, const char *session_id, int limit,
			   struct store_message **out, size_t *n);
/* Outbound messages still pending: of one session, or of all with
 * session_id NULL (the queue depth /metrics shows). */
int store_messages_pending_count(struct store *st, const char *session_id, int64_t *n);
/* Newest first (timestamp DESC, id DESC); the cursor's ts is a timestamp.
 * Y_ENOTFOUND if the session does not exist. */
int store_message_list(struct store *st, const char *session_id, const struct store_cursor *after,
		       int limit, struct store_message **out, size_t *n,
		       struct store_cursor *next, int *has_next);
void store_messages_free(struct store_message *m, size_t n);
/* What GET .../messages narrows to; NULL members, direction < 0 and an
 * unset has_since/has_until do not narrow. */
struct store_message_filter {
	const char *chat;          /* the chat JID */
	int direction;             /* 0 inbound, 1 outbound, -1 both */
	const char *status;        /* one of the statuses (else Y_EINVAL) */
	int has_since, has_until;
	int64_t since, until;      /* timestamp bounds in ms, both inclusive */
};
/* store_message_list narrowed by f (NULL: not narrowed); the cursor is the
 * same kind, so a page's next cursor goes with the same filter. */
int store_message_list_filtered(struct store *st, const char *session_id,
				const struct store_message_filter *f,
				const struct store_cursor *after, int limit,
				struct store_message **out, size_t *n, struct store_cursor *next,
				int *has_next);

/* ---- chats (migrations/0009_chats.sql: kept by triggers on messages) ---- */
struct store_chat {
	struct store_message last; /* its latest message (last.chat is the chat) */
	char *phone;               /* "+digits" (a phone JID, or a LID the map knows), or NULL */
	int64_t unread;            /* inbound messages still "received" (not read by us) */
	bool archived;             /* archived (PATCH .../chats/{chat}, our other devices) */
};
/* Sets a chat's archived flag; Y_ENOTFOUND when the session has no such chat. */
int store_chat_set_archived(struct store *st, const char *session_id, const char *chat,
			    bool archived);
/* The session's chats, latest activity first (the latest message's
 * timestamp DESC, its id DESC); the cursor is that timestamp and id.
 * Y_ENOTFOUND if the session does not exist. */
int store_chat_list(struct store *st, const char *session_id, const struct store_cursor *after,
		    int limit, struct store_chat **out, size_t *n, struct store_cursor *next,
		    int *has_next);
void store_chats_free(struct store_chat *c, size_t n);

/* ---- media of messages (migrations/0010_media.sql, docs/media.md) ---- */
struct store_media {
	char message_id[STORE_ID_LEN];
	char session_id[STORE_ID_LEN];
	char *kind;                /* image|video|audio|document|sticker */
	char *mimetype, *file_name;
	char *url, *direct_path;   /* where to download it */
	uint8_t media_key[32], file_sha256[32], file_enc_sha256[32];
	int64_t file_length;       /* plaintext bytes the sender announced */
	char *state;               /* pending|done|failed|skipped */
	char *path;                /* the file's name under DATA_DIR/media (done) */
	char *reason;              /* why failed or skipped */
	int64_t created_at, updated_at;
};
void store_media_release(struct store_media *m);
/* Adds the media row of an existing message (borrows m's strings);
 * Y_EEXIST if it has one, Y_ENOTFOUND without the message. */
int store_media_insert(struct store *st, const struct store_media *m);
/* The media row of message_id (any session); Y_ENOTFOUND if none. */
int store_media_get(struct store *st, const char *message_id, struct store_media *out);
/* Ends a download: state done (path set) or failed/skipped (reason). A
 * failed one also moves the message to status failed with reason "media: "
 * + reason. Either way a `message.media` event (the message's fields, with
 * mediaUrl, status and reason) is written in the same transaction. */
int store_media_finish(struct store *st, const char *message_id, const char *state,
		       const char *path, const char *reason);
/* A download asked for by the API (POST .../messages/{id}/download): the
 * media row of session_id's message_id, if skipped or failed (or done when
 * redo, its file being gone), goes back to pending with reason
 * STORE_MEDIA_REQUESTED (the media thread then applies no autoDownload
 * setting nor size cap of ours to it, also after a restart), and a failed
 * message back to status received (sent for a copy of our own). prev gets
 * the state it had (pending, done, ...: those are left as they are unless
 * redo). Y_ENOTFOUND when the session's message has no media row. */
#define STORE_MEDIA_REQUESTED "requested"
int store_media_request(struct store *st, const char *session_id, const char *message_id,
			int redo, char prev[16]);
/* A media retry's answer (service/media.h): the pending row of message_id
 * gets url and direct_path and is marked retried (reason STORE_MEDIA_RETRIED,
 * or STORE_MEDIA_REQUESTED_RETRIED when it was requested). Y_ENOTFOUND
 * when there is no pending row. */
#define STORE_MEDIA_RETRIED "retried"
#define STORE_MEDIA_REQUESTED_RETRIED "requested, retried"
int store_media_repath(struct store *st, const char *message_id, const char *url,
		       const char *direct_path);
/* Rows still pending, oldest first, at most limit (freed with
 * store_media_free). */
int store_media_pending(struct store *st, int limit, struct store_media **out, size_t *n);
void store_media_free(struct store_media *m, size_t n);
/* 1 when message_id has a media row, 0 when not, <0 on error. */
int store_media_exists(struct store *st, const char *message_id);
/* ---- message kinds: reactions, edits, revokes (issue 15) ----
 * A reaction, edit or revoke is itself a row (type "reaction", "edit",
 * "revoke"; body as src/service/msgkind.h) and acts on its target, the
 * session's message with WhatsApp id target_wa_id. */
enum { STORE_FX_REACTION = 1, STORE_FX_EDIT = 2, STORE_FX_REVOKE = 3, STORE_FX_VOTE = 4 };
struct store_effect {
	int kind;                 /* STORE_FX_* */
	const char *target_wa_id;
	const char *emoji;        /* REACTION: "" removes the author's reaction */
	const char *text;         /* EDIT: the new text */
};
/*
 * Inserts m (as store_message_insert, without its `message` event) and, in
 * the same transaction, applies fx: an edit replaces the target's text
 * (content.edited, content.history keeps what it replaced), a revoke blanks
 * it (content.revoked, content.previous keeps it). Both only for a target of
 * the same author and direction (a text, for edits); otherwise the row is
 * kept and nothing else changes (*applied 0). For an inbound m that applied,
 * the event `message.reaction`, `message.edited` or `message.revoked`.
 */
int store_message_insert_effect(struct store *st, struct store_message *m,
				const struct store_effect *fx, int *applied);
/* Message wa_id of the session (as store_message_get). */
int store_message_get_wa(struct store *st, const char *session_id, const char *wa_id,
			 struct store_message *out);
/* *json_out (caller frees): the current vote of each voter on poll wa_id
 * (decrypted poll_vote rows, the latest per voter): [{from, fromJid,
 * selected: [names], timestamp}]; from is the voter's phone number (+E.164,
 * through the session's LID map for a LID voter; null when not known). */
int store_poll_votes(struct store *st, const char *session_id, const char *wa_id,
		     char **json_out);
/* *json_out (caller frees): a JSON array of the current reactions to
 * message wa_id, one per author: [{emoji, from, fromJid, fromMe, timestamp}]. */
int store_message_reactions(struct store *st, const char *session_id, const char *wa_id,
			    char **json_out);
/* The inbound messages of chat still "received" (not read) up to message
 * upto_id (by timestamp, then arrival; NULL: all), oldest first, reactions,
 * edits and revokes left out; at most STORE_LIST_MAX. *out freed with
 * store_messages_free. */
int store_chat_unread(struct store *st, const char *session_id, const char *chat,
		      const char *upto_id, struct store_message **out, size_t *n);
/* Deletes message `id` here only ("delete for me"). Y_ENOTFOUND. */
int store_message_delete(struct store *st, const char *session_id, const char *id);

/* ---- webhook delivery log ---- */
/* session_id may be NULL (not tied to a session); error may be NULL.
 * Y_ENOTFOUND if session_id names no session. */
int store_webhook_log_add(struct store *st, const char *session_id, const char *event,
			  const char *url, int http_status, int attempt, const char *error);

/* ---- the event outbox (migrations/0006_events.sql, docs/webhooks.md) ----
 * Every event is a row with a monotonic id, written in the same transaction
 * as the change it describes: store_session_update, store_session_set_status
 * and store_sessions_reset_live add `session.status` themselves when the
 * status or the reason changes. Code inside store_sqlite.c that writes a
 * change with an event (messages: `message`, `message.ack`) calls the
 * private event_add_locked() inside its own transaction; everyone else
 * calls store_event_add. Nothing here waits on delivery. */
struct store_event {
	int64_t id;
	char session_id[STORE_ID_LEN]; /* "" when not tied to a session */
	char *type;                /* "session.status", "message", "message.ack", ... */
	char *data;                /* the event's own fields: JSON object text */
	int64_t created_at;
};
void store_event_release(struct store_event *e);
void store_events_free(struct store_event *e, size_t n);
/* Appends one event (type and data, a JSON object's text, required: else
 * Y_EINVAL); session_id may be NULL. *id_out (may be NULL) gets its id.
 * Y_ENOTFOUND if session_id names no session. */
int store_event_add(struct store *st, const char *session_id, const char *type,
		    const char *data, int64_t *id_out);
/* Called after an event row is written (before its transaction commits:
 * whoever then reads the store waits for the commit, the store being
 * serialized). fn must only signal: it runs with the store's lock held and
 * must not call the store. NULL removes it. Set before other threads use
 * the store. */
void store_set_event_hook(struct store *st, void (*fn)(void *arg), void *arg);
/* Events with id > after, oldest first; session_id NULL for all; types a
 * NULL-terminated list of types to keep, or NULL for all. limit 1..
 * STORE_LIST_MAX; *has_next as the other lists. */
int store_event_list(struct store *st, const char *session_id, int64_t after,
		     const char *const *types, int limit, struct store_event **out, size_t *n,
		     int *has_next);
/* The same, only events of the sessions in scope_key's scope when it is
 * non-NULL (events of no session are then left out too). */
int store_event_list_scoped(struct store *st, const char *scope_key, const char *session_id,
			    int64_t after, const char *const *types, int limit,
			    struct store_event **out, size_t *n, int *has_next);
/* The newest event id (0 when none). */
int store_event_last(struct store *st, int64_t *id);

/* ---- webhook deliveries: the retry queue, one row per (event, URL) ---- */
struct store_delivery {
	int64_t id;
	int attempts;              /* made so far */
	char kind[8];              /* "session" or "global": whose secret signs it */
	char *url;
	struct store_event ev;     /* the event delivered */
};
void store_deliveries_free(struct store_delivery *d, size_t n);
/*
 * Fans the events not yet fanned out (a cursor kept in the store) into
 * pending deliveries, at most `limit` events, in one transaction: one for
 * the session's webhook when its event filter (JSON array text, NULL = all)
 * takes the type, one for the global URL (NULL: none) when global_types
 * (NULL-terminated, NULL = all) takes it; the same URL twice is one
 * delivery (the session's). *events gets the number of events read.
 */
int store_webhook_fanout(struct store *st, const char *global_url,
			 const char *const *global_types, int limit, int *events);
/* The oldest pending delivery of each (session, URL) (so that one URL gets a
 * session's events in order), those due at `now` first, at most limit.
 * *next_due gets the earliest next attempt time among the heads not yet
 * due (0: none). */
int store_webhook_due(struct store *st, int64_t now, int limit, struct store_delivery **out,
		      size_t *n, int64_t *next_due);
/* Records an attempt in one transaction: the webhook_log row (http_status
 * 0 when no answer, error NULL on success) and the delivery's new state
 * ("pending" with next_at, "delivered" or "failed"). */
struct store_attempt {
	int64_t delivery_id;
	int attempt;               /* this attempt's number, 1 for the first */
	int http_status;
	int64_t duration_ms;
	const char *error;
	const char *state;
	int64_t next_at;
};
int store_webhook_attempt(struct store *st, const struct store_attempt *a);
/* Queues event `event_id`'s deliveries of session `session_id` again
 * (attempts from 1, due now), whatever their state. *n gets how many;
 * Y_ENOTFOUND when there are none. */
int store_webhook_replay(struct store *st, const char *session_id, int64_t event_id, int *n);
/* Webhook log rows of a session, newest first (id DESC), those with an id
 * below `before` (0: from the newest); success 1: only 2xx answers, 0: only
 * failures, -1: all. limit 1..STORE_LIST_MAX. */
struct store_hooklog {
	int64_t id, event_id, duration_ms, created_at;
	char *event, *url, *error;
	int http_status, attempt;
};
int store_webhook_log_list(struct store *st, const char *session_id, int64_t before,
			   int success, int limit, struct store_hooklog **out, size_t *n,
			   int *has_next);
void store_hooklogs_free(struct store_hooklog *l, size_t n);

/* Deletes messages whose timestamp, and webhook log rows whose created_at,
 * is older than `before` (ms) (also delivered events, audit rows, expired
 * sign-ins), oldest first, in batches of STORE_PRUNE_BATCH rows a table,
 * each its own transaction: the store's mutex is let go between them, so
 * other callers wait for one batch at the most. *deleted (may be NULL)
 * gets the row count. */
#define STORE_PRUNE_BATCH 1000
int store_prune(struct store *st, int64_t before, int64_t *deleted);
/* One such batch of at most max (> 0) rows a table; *more: some table had
 * max rows to delete (call again). */
int store_prune_batch(struct store *st, int64_t before, int64_t max, int64_t *deleted,
		      bool *more);

/* ---- users, key owners and scopes, sign-ins, audit (store_users.c) ----
 * Roles are numbered as enum http_role (http/router.h) so that the API
 * layer can compare them directly; the database keeps their names. */
#define STORE_ROLE_VIEWER 2
#define STORE_ROLE_OPERATOR 3
#define STORE_ROLE_ADMIN 4

struct store_user {
	char id[STORE_ID_LEN];
	char *email;
	char *display_name;
	int role;                  /* STORE_ROLE_* */
	int disabled;
	int has_password;
	int failed_logins;         /* since the last success or lock-out */
	int64_t locked_until;      /* sign-in refused before this time; 0 = not locked */
	int64_t last_login_at;
	int64_t created_at;
	int64_t updated_at;
};
void store_user_release(struct store_user *u);
void store_users_free(struct store_user *u, size_t n);
/* pw_hash (a crypto_pwhash_str string) may be NULL. Y_EEXIST for an email
 * already used (compared without case), Y_EINVAL for a bad role. */
int store_user_create(struct store *st, const char *email, const char *display_name, int role,
		      const char *pw_hash, struct store_user *out);
/* By id, or by email when id is NULL; *pw_hash (if asked) gets a copy of
 * the hash or NULL (caller frees). Y_ENOTFOUND if none. */
int store_user_get(struct store *st, const char *id, const char *email, struct store_user *out,
		   char **pw_hash);
/* All users, oldest first. */
int store_user_list(struct store *st, struct store_user **out, size_t *n);
/* Disabling also ends the user's sign-ins (their keys stop at once at the
 * next check: store_key_auth refuses keys of disabled users). */
int store_user_set_disabled(struct store *st, const char *id, int disabled);
/* Changes the display name (NULL keeps it) and the role (0 keeps it; the
 * user's keys then count at most at the new role). Y_EINVAL for a bad role. */
int store_user_update(struct store *st, const char *id, const char *display_name, int role);
/* Replaces the hash, clears failures and lock-out, ends the user's sign-ins. */
int store_user_set_password(struct store *st, const char *id, const char *pw_hash);
/* Counts a failed sign-in at now; at max_failures the user is locked until
 * now + lock_ms and the count starts again. *locked_until gets the lock's end
 * (0 if not locked). */
int store_user_login_failed(struct store *st, const char *id, int64_t now, int max_failures,
			    int64_t lock_ms, int64_t *locked_until);
int store_user_login_ok(struct store *st, const char *id, int64_t now);

/* What a presented key may do, from store_key_auth. */
struct store_key_info {
	char id[STORE_ID_LEN];
	char user_id[STORE_ID_LEN]; /* "" for a key no user owns yet */
	int role;                  /* the lower of the key's and its user's */
	int scoped;                /* 1: only the sessions in its scope */
	int64_t expires_at;        /* 0 = never */
};
/* The active key with this digest (compared in constant time over every
 * active key, like store_apikey_find): not revoked, not expired at now, its
 * user not disabled. Y_ENOTFOUND otherwise. */
int store_key_auth(struct store *st, const uint8_t hash[32], int64_t now,
		   struct store_key_info *out);
/* A key owned by user_id with role (at most the user's: Y_EINVAL above it),
 * expiry (0 = never) and, when scoped, the sessions it may touch (each must
 * exist: Y_ENOTFOUND). One transaction. */
int store_key_create(struct store *st, const uint8_t hash[32], const char *name,
		     const char *prefix, const char *user_id, int role, int64_t expires_at,
		     int scoped, const char *const *sessions, size_t nsessions,
		     char id_out[STORE_ID_LEN]);
struct store_key {
	struct store_apikey k;
	char user_id[STORE_ID_LEN];
	char *user_email;          /* NULL if no owner */
	int role;
	int scoped;
	int64_t expires_at;
	char *sessions;            /* comma-separated scope ("" when none), NULL if unscoped */
};
int store_key_list(struct store *st, struct store_key **out, size_t *n);
void store_keys_free(struct store_key *k, size_t n);
/* Y_OK if the key's scope holds the session, else Y_ENOTFOUND. */
int store_key_scope_has(struct store *st, const char *key_id, const char *session_id);
int store_key_scope_add(struct store *st, const char *key_id, const char *session_id);
/* Gives keys no user owns (made by `keys create` without --user, or at
 * bootstrap) to the first admin user, creating admin@localhost (no
 * password) when there is none. */
int store_keys_adopt(struct store *st);

/* Dashboard sign-ins: only the token's SHA-256 is stored. */
int store_websession_add(struct store *st, const uint8_t hash[32], const char *user_id,
			 int64_t expires_at, const char *ip);
/* The signed-in user (enabled, sign-in not expired at now) or Y_ENOTFOUND. */
int store_websession_find(struct store *st, const uint8_t hash[32], int64_t now,
			  struct store_user *out);
int store_websession_delete(struct store *st, const uint8_t hash[32]);

/* The audit log, pruned with the rest after RETENTION_DAYS. */
struct store_audit {
	int64_t id;
	int64_t at;
	char *actor;               /* "key:<id>" or "user:<id>" */
	char *method;
	char *route;               /* the route pattern */
	char *session_id;          /* NULL if none */
	char *ip;
	int status;
};
/* Writes n rows in one transaction (ids are assigned). */
int store_audit_add(struct store *st, const struct store_audit *rows, size_t n);
/* Newest first: rows with id < before (0: from the newest). */
int store_audit_list(struct store *st, int64_t before, int limit, struct store_audit **out,
		     size_t *n, int *has_next);
void store_audits_free(struct store_audit *a, size_t n);
/*
 * Aggregates for the dashboard's overview (GET /api/v1/stats), for every
 * session or one (session_id NULL or an id). Each figure is one SQL
 * aggregate over an index range (messages_ts or messages_session_ts,
 * webhook_log_created or webhook_log_session): no message is read one by one.
 * Buckets are aligned to UTC hours and days: hourly[STORE_STATS_HOURS - 1]
 * is the current hour, daily[STORE_STATS_DAYS - 1] today so far (a
 * timestamp after now_ms counts nowhere). A message
 * counts by its timestamp: outbound and not failed is "sent", inbound is
 * "received", outbound failed is "failed". webhook_failures: delivery
 * attempts without a 2xx answer in the last 24 h. Any thread (the store's
 * lock is held for the queries).
 */
#define STORE_STATS_HOURS 24
#define STORE_STATS_DAYS 30
#define STORE_STATS_STATUSES 16
struct store_msg_counts {
	int64_t sent, received, failed;
};
struct store_stats {
	int nstatus;
	struct {
		char status[24];
		int64_t n;
	} by_status[STORE_STATS_STATUSES]; /* sessions per status, by name */
	int64_t sessions;
	int64_t hour0_ms, day0_ms;         /* the start of hourly[0], daily[0] */
	struct store_msg_counts hourly[STORE_STATS_HOURS];
	struct store_msg_counts daily[STORE_STATS_DAYS];
	int64_t webhook_failures;
};
int store_stats(struct store *st, const char *session_id, int64_t now_ms, struct store_stats *out);

#endif
