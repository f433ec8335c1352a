/*
 * The SQLite implementation of store.h.
 *
 * One connection per struct store, in WAL mode with a busy timeout and
 * foreign keys on. A mutex serializes every call, so the HTTP threads and
 * the WhatsApp loop can share one store. Statements are prepared once, on
 * first use, and cached in st->stmt[] until store_close (each call resets
 * and clears the one it used before returning, still under the mutex).
 *
 * Migrations come from the embedded list (migrations.h) and are applied in
 * order at open, each in its own IMMEDIATE transaction together with its
 * schema_migrations row, so a crash leaves the schema at a whole version and
 * two processes opening the same file at once apply each version once.
 */
#include "store/store.h"
#include "store/migrations.h"
#include "store/store_sqlite.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
/* WAL checkpoints (writer connections on a file): a background thread on
 * its own connection copies the WAL back into the database (PASSIVE: it
 * never blocks a writer) once it holds CKPT_FRAMES pages, so no commit
 * pays for the copy and its two fsyncs while holding the store's mutex;
 * past CKPT_HARD_FRAMES (the thread fell behind) the committing connection
 * checkpoints itself, as SQLite's own auto-checkpoint does at 1000. */
#define CKPT_FRAMES 1000
#define CKPT_HARD_FRAMES 8000
#define TOUCH_INTERVAL_MS 60000

enum stmt_id {
	S_PING,
	S_KEY_COUNT,
	S_KEY_ADD,
	S_KEY_ACTIVE,
	S_KEY_TOUCH,
	S_KEY_LIST,
	S_KEY_REVOKE,
	S_PRUNE_AUDIT,
	S_PRUNE_WEBSESS,
	S_SESS_ADD,
	S_SESS_GET,
	S_SESS_LIST_FIRST,
	S_SESS_LIST_AFTER,
	S_SESS_DELETE,
	S_SESS_STATUS,
	S_SESS_WEBHOOK,
	S_SESS_EXISTS,
	S_SESS_UPDATE,
	S_SESS_UNLINK,
	S_SESS_RESET_LIVE,
	S_SETTING_GET,
	S_SETTING_PUT,
	S_SETTING_DELETE,
	S_SMEDIA_GET,
	S_SMEDIA_PUT,
	S_CREDS_PUT,
	S_CREDS_GET,
	S_CREDS_DELETE,
	S_PREKEYS_DELETE_ALL,
	S_PREKEY_ADD,
	S_PREKEY_MARK,
	S_PREKEY_GET,
	S_PREKEY_DELETE,
	S_PREKEY_COUNT,
	S_MSG_ADD,
	S_CHAT_TOUCH,
	S_MSG_GET,
	S_MSG_LIST_FIRST,
	S_MSG_LIST_AFTER,
	S_MSG_STATUS,
	S_MSG_STATUS_WA,
	S_PREKEYS_ALL,
	S_PREKEYS_UNRECORDED,
	S_MSG_PENDING,
	S_MSG_PENDING_COUNT,
	S_MSG_PENDING_ALL,
	S_HOOKLOG_ADD,
	S_PRUNE_MSG,
	S_PRUNE_HOOKLOG,
	S_SIG_GET,
	S_SIG_KEYS,
	S_SIG_PUT,
	S_SIG_DEL,
	S_SIG_DEL_ALL,
	S_SIG_COUNT,
	S_LID_PUT,
	S_TCTOKEN_PUT,
	S_TCTOKENS_ALL,
	S_TCTOKENS_DELETE_ALL,
	S_APPSTATE_PUT,
	S_CHAT_ARCHIVE,
	S_APPSTATE_ALL,
	S_APPSTATE_DELETE_ALL,
	S_LID_GET_PN,
	S_LID_GET_LID,
	S_PRUNE_EVENTS,
	S_SESS_OLD,
	S_EV_MSG,
	S_EV_ADD,
	S_EV_STATUS,
	S_EV_RESET_LIVE,
	S_EV_LAST,
	S_CURSOR_GET,
	S_CURSOR_PUT,
	S_FAN_MAX,
	S_FAN_SESSION,
	S_FAN_GLOBAL_ALL,
	S_DUE,
	S_DLV_UPDATE,
	S_DLV_LOG,
	S_DLV_REPLAY,
	S_HOOKLOG_LIST,
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S__COUNT
};

#define SESS_COLS "id, name, status, phone, push_name, webhook_url, webhook_secret, " \
	"webhook_events, created_at, updated_at, device_jid, lid, reason, connected_at, " \
	"last_seen_at"
#define SESS_IN_SCOPE(k) "(" k " IS NULL OR id IN (SELECT session_id FROM api_key_sessions " \
	"WHERE key_id = " k "))"
#define CREDS_COLS "noise_priv, identity_priv, registration_id, spk_id, spk_priv, spk_sig, " \
	"adv_secret, account, jid, lid, platform, push_name, next_prekey_id"
#define MSG_COLS "id, session_id, wa_id, chat, direction, type, body, status, timestamp, " \
		 "created_at, from_jid, to_jid, text, quoted_id, reason, updated_at"
/* How far a status has come: updates by receipt never go back (a late
 * delivery receipt after the read one), and failed only ends pending. */
/* "+digits" for a phone-number JID column (user@s.whatsapp.net), else NULL. */
#define MSG_PHONE(col) \
	"(CASE WHEN " col " LIKE '%@s.whatsapp.net' THEN '+' || substr(" col ", 1, " \
	"instr(" col ", '@') - 1) END)"
#define MSG_RANK(x) "(CASE " x " WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 WHEN 'failed' THEN 1 " \
		    "WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 9 END)"

static const char *const stmt_sql[S__COUNT] = {
	[S_PING] = "SELECT 1",
	[S_KEY_COUNT] = "SELECT count(*) FROM api_keys WHERE revoked = 0",
	[S_KEY_ADD] = "INSERT INTO api_keys (id, name, prefix, hash, created_at) "
		      "VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_KEY_ACTIVE] = "SELECT id, hash FROM api_keys WHERE revoked = 0",
	[S_KEY_TOUCH] = "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND last_used_at <= ?3",
	[S_KEY_LIST] = "SELECT id, name, prefix, created_at, last_used_at, revoked FROM api_keys "
		       "ORDER BY created_at DESC, id DESC",
	[S_KEY_REVOKE] = "UPDATE api_keys SET revoked = 1 WHERE id = ?1",
	[S_PRUNE_AUDIT] = "DELETE FROM audit_log WHERE rowid IN (SELECT rowid FROM audit_log "
			  "WHERE at < ?1 ORDER BY at LIMIT ?2)",
	[S_PRUNE_WEBSESS] = "DELETE FROM web_sessions WHERE token_hash IN (SELECT token_hash "
			    "FROM web_sessions WHERE expires_at < ?1 LIMIT ?2)",
	[S_SESS_ADD] = "INSERT INTO sessions (id, name, status, created_at, updated_at) "
		       "VALUES (?1, ?2, 'pending', ?3, ?3)",
	[S_SESS_GET] = "SELECT " SESS_COLS " FROM sessions WHERE id = ?1",
	/* ?4: a scoped key's id (only its sessions), or NULL (all) */
	[S_SESS_LIST_FIRST] = "SELECT " SESS_COLS " FROM sessions WHERE " SESS_IN_SCOPE("?4")
			      " ORDER BY created_at DESC, id DESC LIMIT ?1",
	[S_SESS_LIST_AFTER] = "SELECT " SESS_COLS " FROM sessions "
			      "WHERE (created_at < ?2 OR (created_at = ?2 AND id < ?3)) AND "
			      SESS_IN_SCOPE("?4") " ORDER BY created_at DESC, id DESC LIMIT ?1",
	[S_SESS_DELETE] = "DELETE FROM sessions WHERE id = ?1",
	[S_SESS_STATUS] = "UPDATE sessions SET status = ?2, phone = coalesce(?3, phone), "
			  "updated_at = ?4 WHERE id = ?1",
	[S_SESS_WEBHOOK] = "UPDATE sessions SET webhook_url = ?2, webhook_secret = ?3, "
			   "webhook_events = ?4, updated_at = ?5 WHERE id = ?1",
	[S_SESS_EXISTS] = "SELECT 1 FROM sessions WHERE id = ?1",
	[S_SESS_UPDATE] = "UPDATE sessions SET status = ?2, reason = ?3, "
			  "phone = coalesce(?4, phone), push_name = coalesce(?5, push_name), "
			  "device_jid = coalesce(?6, device_jid), lid = coalesce(?7, lid), "
			  "connected_at = CASE WHEN ?8 > 0 THEN ?8 ELSE connected_at END, "
			  "last_seen_at = CASE WHEN ?9 > 0 THEN ?9 ELSE last_seen_at END, "
			  "updated_at = ?10 WHERE id = ?1",
	[S_SESS_UNLINK] = "UPDATE sessions SET phone = NULL, push_name = NULL, device_jid = NULL, "
			  "lid = NULL WHERE id = ?1",
	[S_SESS_RESET_LIVE] = "UPDATE sessions SET status = CASE status WHEN 'qr' THEN 'pending' "
			      "ELSE 'connecting' END, reason = NULL "
			      "WHERE status IN ('connected', 'disconnected', 'qr') "
			      "AND NOT (status = 'disconnected' AND reason IS 'idle')",
	[S_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
	[S_SETTING_PUT] = "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)",
	[S_SETTING_DELETE] = "DELETE FROM settings WHERE key = ?1",
	[S_SMEDIA_GET] = "SELECT settings FROM session_media_settings WHERE session_id = ?1",
	[S_SMEDIA_PUT] = "INSERT OR REPLACE INTO session_media_settings (session_id, settings, "
			 "updated_at) SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM sessions "
			 "WHERE id = ?1)",
	[S_CREDS_PUT] = "INSERT OR REPLACE INTO wa_creds (session_id, " CREDS_COLS ", updated_at) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[S_CREDS_GET] = "SELECT " CREDS_COLS " FROM wa_creds WHERE session_id = ?1",
	[S_CREDS_DELETE] = "DELETE FROM wa_creds WHERE session_id = ?1",
	[S_PREKEYS_DELETE_ALL] = "DELETE FROM wa_prekeys WHERE session_id = ?1",
	[S_PREKEY_ADD] = "INSERT INTO wa_prekeys (session_id, key_id, priv) VALUES (?1, ?2, ?3)",
	[S_PREKEY_MARK] = "UPDATE wa_prekeys SET uploaded = 1 WHERE session_id = ?1 AND key_id <= ?2",
	[S_PREKEY_GET] = "SELECT priv FROM wa_prekeys WHERE session_id = ?1 AND key_id = ?2",
	[S_PREKEYS_ALL] = "SELECT key_id, priv FROM wa_prekeys WHERE session_id = ?1 ORDER BY key_id",
	[S_PREKEYS_UNRECORDED] = "SELECT key_id, priv FROM wa_prekeys p WHERE session_id = ?1 AND "
				 "NOT EXISTS (SELECT 1 FROM wa_signal g WHERE g.session_id = ?1 AND "
				 "g.kind = 2 AND g.key = CAST(p.key_id AS TEXT)) ORDER BY key_id",
	[S_PREKEY_DELETE] = "DELETE FROM wa_prekeys WHERE session_id = ?1 AND key_id = ?2",
	[S_PREKEY_COUNT] = "SELECT count(*), coalesce(sum(uploaded), 0) FROM wa_prekeys "
			   "WHERE session_id = ?1",
	[S_MSG_ADD] = "INSERT INTO messages (" MSG_COLS ") "
		      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	/* the chat row a message insert moves (migrations/0016_chats_touch.sql) */
	[S_CHAT_TOUCH] = "INSERT INTO chats (session_id, chat, last_message_id, last_at, unread) "
			 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (session_id, chat) DO UPDATE SET "
			 "last_message_id = CASE WHEN excluded.last_at > last_at OR "
			 "(excluded.last_at = last_at AND excluded.last_message_id > last_message_id) "
			 "THEN excluded.last_message_id ELSE last_message_id END, "
			 "last_at = max(last_at, excluded.last_at), unread = unread + excluded.unread",
	[S_MSG_GET] = "SELECT " MSG_COLS " FROM messages WHERE id = ?1 AND session_id = ?2",
	[S_MSG_LIST_FIRST] = "SELECT " MSG_COLS " FROM messages WHERE session_id = ?2 "
			     "ORDER BY timestamp DESC, id DESC LIMIT ?1",
	[S_MSG_LIST_AFTER] = "SELECT " MSG_COLS " FROM messages WHERE session_id = ?2 "
			     "AND (timestamp < ?3 OR (timestamp = ?3 AND id < ?4)) "
			     "ORDER BY timestamp DESC, id DESC LIMIT ?1",
	[S_MSG_STATUS] = "UPDATE messages SET status = ?2, wa_id = coalesce(?3, wa_id), "
			 "updated_at = ?4 WHERE id = ?1",
	[S_MSG_STATUS_WA] = "UPDATE messages SET status = ?3, reason = ?4, updated_at = ?5 "
			    "WHERE session_id = ?1 AND wa_id = ?2 AND direction = 'outbound' AND "
			    MSG_RANK("status") " < " MSG_RANK("?3"),
	[S_MSG_PENDING] = "SELECT " MSG_COLS " FROM messages WHERE session_id = ?1 AND "
			  "status = 'pending' AND direction = 'outbound' ORDER BY created_at, id "
			  "LIMIT ?2",
	[S_MSG_PENDING_COUNT] = "SELECT count(*) FROM messages WHERE session_id = ?1 AND "
				"status = 'pending' AND direction = 'outbound'",
	[S_MSG_PENDING_ALL] = "SELECT count(*) FROM messages WHERE status = 'pending' AND "
			      "direction = 'outbound'",
	[S_HOOKLOG_ADD] = "INSERT INTO webhook_log (session_id, event, url, http_status, attempt, "
			  "error, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_PRUNE_MSG] = "DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages "
			"WHERE timestamp < ?1 ORDER BY timestamp LIMIT ?2)",
	[S_PRUNE_HOOKLOG] = "DELETE FROM webhook_log WHERE rowid IN (SELECT rowid FROM "
			    "webhook_log WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)",
	[S_SIG_GET] = "SELECT data FROM wa_signal WHERE session_id = ?1 AND kind = ?2 AND key = ?3",
	[S_SIG_KEYS] = "SELECT key FROM wa_signal WHERE session_id = ?1 AND kind = ?2 "
		       "AND key >= ?3 AND (?4 IS NULL OR key < ?4) ORDER BY key",
	[S_SIG_PUT] = "INSERT OR REPLACE INTO wa_signal (session_id, kind, key, data) "
		      "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
	[S_SIG_DEL] = "DELETE FROM wa_signal WHERE session_id = ?1 AND kind = ?2 AND key = ?3",
	[S_SIG_DEL_ALL] = "DELETE FROM wa_signal WHERE session_id = ?1",
	[S_SIG_COUNT] = "SELECT kind, count(*) FROM wa_signal WHERE session_id = ?1 GROUP BY kind",
	/* REPLACE also drops the row that held the same pn (UNIQUE) */
	[S_LID_PUT] = "INSERT OR REPLACE INTO wa_lid_map (session_id, lid, pn, updated_at) "
		      "VALUES (?1, ?2, ?3, ?4)",
	[S_TCTOKEN_PUT] = "INSERT OR REPLACE INTO wa_tctokens (session_id, jid, token, t, sender_t, "
			  "updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
			  "WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
	[S_TCTOKENS_ALL] = "SELECT jid, token, t, sender_t FROM wa_tctokens WHERE session_id = ?1 "
			   "ORDER BY jid",
	[S_TCTOKENS_DELETE_ALL] = "DELETE FROM wa_tctokens WHERE session_id = ?1",
	[S_APPSTATE_PUT] = "INSERT OR REPLACE INTO wa_appstate (session_id, kind, name, data, t, "
			   "updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6 "
			   "WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
	[S_APPSTATE_ALL] = "SELECT kind, name, data, t FROM wa_appstate WHERE session_id = ?1 "
			   "ORDER BY kind, t, name",
	[S_APPSTATE_DELETE_ALL] = "DELETE FROM wa_appstate WHERE session_id = ?1",
	[S_CHAT_ARCHIVE] = "UPDATE chats SET archived = ?3 WHERE session_id = ?1 AND chat = ?2",
	[S_LID_GET_PN] = "SELECT pn FROM wa_lid_map WHERE session_id = ?1 AND lid = ?2",
	[S_LID_GET_LID] = "SELECT lid FROM wa_lid_map WHERE session_id = ?1 AND pn = ?2",
	/* events already fanned out and with nothing left to deliver */
	[S_PRUNE_EVENTS] = "DELETE FROM events WHERE id IN (SELECT id FROM events "
			   "WHERE created_at < ?1 AND id <= coalesce("
			   "(SELECT event_id FROM event_cursors WHERE name = 'webhook'), 0) "
			   "AND id NOT IN (SELECT event_id FROM webhook_deliveries "
			   "WHERE state = 'pending') ORDER BY created_at LIMIT ?2)",
	[S_SESS_OLD] = "SELECT status, reason FROM sessions WHERE id = ?1",
	/* a message event (`message`, `message.ack`) from the row as written:
	 * ?1 type, ?2 time, ?3 session, ?4 our id or NULL, ?5 the WhatsApp id */
	[S_EV_MSG] = "INSERT INTO events (session_id, type, data, created_at) SELECT session_id, ?1, "
		     "json_object('messageId', id, 'waId', wa_id, 'direction', direction, "
		     "'from', " MSG_PHONE("from_jid") ", 'fromJid', from_jid, "
		     "'to', " MSG_PHONE("to_jid") ", 'toJid', to_jid, 'chat', chat, "
		     "'type', type, 'text', text, 'status', status, 'reason', reason, "
		     "'quotedMessageId', quoted_id, 'messageTimestamp', timestamp, "
		     "'mediaUrl', CASE WHEN json_valid(body) THEN json_extract(body, '$.mediaUrl') END, "
		     "'content', CASE WHEN json_valid(body) THEN json_remove(json(body), '$.secret', '$.poll.secret') END), ?2 "
		     "FROM messages WHERE session_id = ?3 AND "
		     "(id = ?4 OR (?4 IS NULL AND wa_id = ?5))",
	[S_EV_ADD] = "INSERT INTO events (session_id, type, data, created_at) VALUES (?1, ?2, ?3, ?4)",
	[S_EV_STATUS] = "INSERT INTO events (session_id, type, data, created_at) VALUES (?1, "
			"'session.status', json_object('status', ?2, 'previousStatus', ?3, "
			"'reason', ?4), ?5)",
	[S_EV_RESET_LIVE] = "INSERT INTO events (session_id, type, data, created_at) "
			    "SELECT id, 'session.status', json_object('status', CASE status "
			    "WHEN 'qr' THEN 'pending' ELSE 'connecting' END, 'previousStatus', "
			    "status, 'reason', NULL), ?1 FROM sessions "
			    "WHERE status IN ('connected', 'disconnected', 'qr') "
			    "AND NOT (status = 'disconnected' AND reason IS 'idle') ORDER BY rowid",
	[S_EV_LAST] = "SELECT coalesce(max(id), 0) FROM events",
	[S_CURSOR_GET] = "SELECT event_id FROM event_cursors WHERE name = ?1",
	[S_CURSOR_PUT] = "INSERT OR REPLACE INTO event_cursors (name, event_id) VALUES (?1, ?2)",
	[S_FAN_MAX] = "SELECT coalesce(max(id), 0) FROM (SELECT id FROM events WHERE id > ?1 "
		      "ORDER BY id LIMIT ?2)",
	[S_FAN_SESSION] = "INSERT OR IGNORE INTO webhook_deliveries (event_id, session_id, url, "
			  "kind, next_at, updated_at) SELECT e.id, e.session_id, s.webhook_url, "
			  "'session', ?3, ?3 FROM events e JOIN sessions s ON s.id = e.session_id "
			  "WHERE e.id > ?1 AND e.id <= ?2 AND s.webhook_url IS NOT NULL AND "
			  "(s.webhook_events IS NULL OR EXISTS (SELECT 1 FROM "
			  "json_each(s.webhook_events) j WHERE j.value = e.type)) ORDER BY e.id",
	[S_FAN_GLOBAL_ALL] = "INSERT OR IGNORE INTO webhook_deliveries (event_id, session_id, url, "
			     "kind, next_at, updated_at) SELECT e.id, e.session_id, ?4, 'global', "
			     "?3, ?3 FROM events e WHERE e.id > ?1 AND e.id <= ?2 AND "
			     "(?5 IS NULL OR e.type IN (SELECT value FROM json_each(?5))) "
			     "ORDER BY e.id",
	[S_DUE] = "SELECT d.id, d.attempts, d.kind, d.url, d.next_at, e.id, e.session_id, e.type, "
		  "e.data, e.created_at FROM webhook_deliveries d JOIN events e ON e.id = d.event_id "
		  "WHERE d.id IN (SELECT min(id) FROM webhook_deliveries WHERE state = 'pending' "
		  "GROUP BY session_id, url) ORDER BY d.next_at, d.id LIMIT ?1",
	[S_DLV_UPDATE] = "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, next_at = ?4, "
			 "updated_at = ?5 WHERE id = ?1",
	[S_DLV_LOG] = "INSERT INTO webhook_log (session_id, event, url, http_status, attempt, error, "
		      "created_at, event_id, duration_ms) SELECT d.session_id, e.type, d.url, ?2, "
		      "?3, ?4, ?5, d.event_id, ?6 FROM webhook_deliveries d JOIN events e "
		      "ON e.id = d.event_id WHERE d.id = ?1",
	[S_DLV_REPLAY] = "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, "
			 "next_at = ?3, updated_at = ?3 WHERE event_id = ?2 AND session_id = ?1",
	[S_HOOKLOG_LIST] = "SELECT id, coalesce(event_id, 0), event, url, http_status, attempt, "
			   "error, duration_ms, created_at FROM webhook_log WHERE session_id = ?1 "
			   "AND (?2 = 0 OR id < ?2) AND (?3 < 0 OR (?3 = 1) = "
			   "(http_status BETWEEN 200 AND 299 AND error IS NULL)) ORDER BY id DESC LIMIT ?4",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
};

/* The background checkpointer of a writer connection (see CKPT_FRAMES). */
struct ckpt {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int wake, stop;
};

struct store {
	sqlite3 *db;
	pthread_mutex_t mu;
	struct ckpt *ckpt;    /* NULL: SQLite's auto-checkpoint (memory, readers) */
	int busy_ms;          /* the busy timeout in force (guarded by mu) */
	sqlite3_stmt *stmt[S__COUNT];
	void (*event_hook)(void *arg); /* store_set_event_hook */
	void *event_hook_arg;
};

/* The one mapping between enum store_session_status and its text. */
static const char *const session_statuses[STORE_SESSION_STATUS_COUNT] = {
	[STORE_SESSION_PENDING] = "pending",
	[STORE_SESSION_QR] = "qr",
	[STORE_SESSION_CONNECTING] = "connecting",
	[STORE_SESSION_CONNECTED] = "connected",
	[STORE_SESSION_DISCONNECTED] = "disconnected",
	[STORE_SESSION_LOGGED_OUT] = "logged_out",
	[STORE_SESSION_FAILED] = "failed",
	[STORE_SESSION_PASSKEY_REQUIRED] = "passkey_required",
};
static const char *const message_statuses[] = {
	"pending", "sent", "delivered", "read", "failed", "received", NULL
};

static int in_list(const char *s, const char *const *list)
{
	if (!s)
		return 0;
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

const char *store_session_status_name(enum store_session_status st)
{
	return (unsigned)st < STORE_SESSION_STATUS_COUNT ? session_statuses[st] : NULL;
}

int store_session_status_parse(const char *name, enum store_session_status *out)
{
	for (unsigned i = 0; name && i < STORE_SESSION_STATUS_COUNT; i++)
		if (!strcmp(name, session_statuses[i])) {
			*out = (enum store_session_status)i;
			return Y_OK;
		}
	return Y_EINVAL;
}

/* Logs the connection's last error and maps an SQLite result code to ours. */
static int db_error(struct store *st, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(st->db);

	if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
		return Y_ENOTFOUND;
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return Y_EEXIST;
	LOG_ERROR("store: sqlite error", "{s:s, s:s, s:i}", "op", what, "error",
		  sqlite3_errmsg(st->db), "code", ext);
	/* extended result codes are on: compare the primary code */
	if ((rc & 0xff) == SQLITE_NOMEM)
		return Y_ENOMEM;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return Y_EBUSY;
	return Y_EDB;
}

/* The cached statement `id`, prepared on first use; NULL (logged) on error.
 * Called with the mutex held; the caller resets it with done(). */
static sqlite3_stmt *prep(struct store *st, enum stmt_id id)
{
	if (!st->stmt[id]) {
		int rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    &st->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			db_error(st, rc, stmt_sql[id]);
			st->stmt[id] = NULL;
		}
	}
	return st->stmt[id];
}

static void done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

/* Binds a cursor's id. The cursor is decoded from a client's page token, so
 * its id is not trusted to hold a NUL: read at most the array. */
static void bind_cursor_id(sqlite3_stmt *s, int i, const struct store_cursor *c)
{
	sqlite3_bind_text(s, i, c->id, (int)strnlen(c->id, sizeof(c->id)), SQLITE_TRANSIENT);
}

/* A copy of text column i, or NULL for SQL NULL. Y_ENOMEM if out of memory. */
static int col_str(sqlite3_stmt *s, int i, char **out)
{
	const unsigned char *t;

	*out = NULL;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return Y_OK;
	t = sqlite3_column_text(s, i);
	if (!t)
		return Y_ENOMEM;
	*out = strdup((const char *)t);
	return *out ? Y_OK : Y_ENOMEM;
}

static void col_id(sqlite3_stmt *s, int i, char out[STORE_ID_LEN])
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, STORE_ID_LEN, "%s", t ? (const char *)t : "");
}

/* Runs a statement that returns no rows. Returns Y_OK or an error. */
static int exec_stmt(struct store *st, enum stmt_id id)
{
	sqlite3_stmt *s = prep(st, id);
	int rc;

	if (!s)
		return Y_EDB;
	rc = sqlite3_step(s);
	done(s);
	return rc == SQLITE_DONE ? Y_OK : db_error(st, rc, stmt_sql[id]);
}

static int exec_sql(struct store *st, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		LOG_ERROR("store: sqlite exec failed", "{s:s, s:i}", "error",
			  msg ? msg : sqlite3_errstr(rc), "code", rc);
		sqlite3_free(msg);
		return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? Y_EBUSY : Y_EDB;
	}
	return Y_OK;
}

/* ---- opening and migrations ---- */

/* Creates every missing directory of `path` (like mkdir -p), mode 0700. */
static int make_dirs(const char *path)
{
	char *p = strdup(path);
	int rc = Y_OK;

	if (!p)
		return Y_ENOMEM;
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			LOG_ERROR("store: cannot create directory", "{s:s, s:s}", "path", p, "error",
				  strerror(errno));
			rc = Y_EIO;
			break;
		}
		*c = '/';
	}
	free(p);
	return rc;
}

/*
 * Makes the database file owner-only before SQLite opens it: creates it
 * with mode 0600 when missing and tightens an existing one (and leftover
 * -wal/-shm files). SQLite creates the -wal and -shm files with the mode of
 * the database file, and they hold the same rows (webhook secrets among
 * them) until a checkpoint, so a chmod after opening comes too late.
 * Failures are logged; SQLite then reports what is really wrong.
 */
static int restrict_mode(const char *path)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	size_t n = strlen(path) + 5;
	char *side;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0) {
		if (fchmod(fd, 0600) != 0)
			LOG_WARN("store: cannot restrict the database file mode", "{s:s, s:s}", "path",
				 path, "error", strerror(errno));
		close(fd);
	}
	side = malloc(n);
	if (!side)
		return Y_ENOMEM;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(side, n, "%s%s", path, suffix[i]);
		if (chmod(side, 0600) != 0 && errno != ENOENT)
			LOG_WARN("store: cannot restrict the database file mode", "{s:s, s:s}", "path",
				 side, "error", strerror(errno));
	}
	free(side);
	return Y_OK;
}

/* Newest applied version (0 for none). Checks that versions 1..max are all
 * there. Called inside the migration transaction. */
static int applied_version(struct store *st, int *applied)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db,
				    "SELECT coalesce(max(version), 0), count(*) FROM schema_migrations",
				    -1, &s, NULL);
	int ret = Y_OK;

	if (rc != SQLITE_OK)
		return db_error(st, rc, "read schema_migrations");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		ret = db_error(st, rc, "read schema_migrations");
		goto out;
	}
	*applied = sqlite3_column_int(s, 0);
	if (sqlite3_column_int(s, 1) != *applied) {
		LOG_ERROR("store: schema_migrations has gaps", "{s:i, s:i}", "newest", *applied,
			  "rows", sqlite3_column_int(s, 1));
		ret = Y_EDB;
	}
out:
	sqlite3_finalize(s);
	return ret;
}

static int record_migration(struct store *st, const struct store_migration *m)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db,
				    "INSERT INTO schema_migrations (version, name, applied_at) "
				    "VALUES (?1, ?2, ?3)", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return db_error(st, rc, "record migration");
	sqlite3_bind_int(s, 1, m->version);
	sqlite3_bind_text(s, 2, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, clock_now_ms());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "record migration");
}

/* Applies migrations up to version `upto`, one transaction each. */
static int migrate(struct store *st, int upto)
{
	int rc, applied = 0;

	rc = exec_sql(st, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			  "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
			  "applied_at INTEGER NOT NULL)");
	if (rc)
		return rc;
	for (;;) {
		const struct store_migration *m;

		rc = exec_sql(st, "BEGIN IMMEDIATE");
		if (rc)
			return rc;
		/* Re-read inside the transaction: another process may have
		 * applied the next version meanwhile. */
		rc = applied_version(st, &applied);
		if (rc)
			goto rollback;
		if (applied > store_migrations_count) {
			LOG_ERROR("store: database schema is newer than this binary; upgrade yesapp",
				  "{s:i, s:i}", "database_version", applied, "known_version",
				  store_migrations_count);
			rc = Y_EVERSION;
			goto rollback;
		}
		if (applied >= upto)
			break;
		m = &store_migrations[applied];
		if (m->version != applied + 1)
			BUG("embedded migrations are not numbered 1..n");
		rc = exec_sql(st, m->sql);
		if (!rc)
			rc = record_migration(st, m);
		if (rc) {
			LOG_ERROR("store: migration failed", "{s:i, s:s}", "version", m->version,
				  "name", m->name);
			goto rollback;
		}
		rc = exec_sql(st, "COMMIT");
		if (rc)
			goto rollback;
		LOG_INFO("store: migration applied", "{s:i, s:s}", "version", m->version, "name",
			 m->name);
	}
	return exec_sql(st, "COMMIT");
rollback:
	exec_sql(st, "ROLLBACK");
	return rc;
}

/* Resolves a DATABASE_URL to a SQLite path (borrowed from url). */
static int url_path(const char *url, const char **path)
{
	if (!url || !*url)
		return Y_EINVAL;
	if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
		LOG_ERROR("store: PostgreSQL is not supported yet; use a SQLite path", NULL);
		return Y_EUNSUPPORTED;
	}
	if (!strncmp(url, "sqlite://", 9))
		url += 9;
	else if (!strncmp(url, "sqlite:", 7))
		url += 7;
	if (!*url || strstr(url, "://"))
		return Y_EINVAL;
	*path = url;
	return Y_OK;
}

const char *store_url_path(const char *url)
{
	const char *p = NULL;

	return url_path(url, &p) == Y_OK ? p : NULL;
}

int store_check_file(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int ok = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		ok = v && !strcmp((const char *)v, "ok") && sqlite3_step(s) == SQLITE_DONE;
	}
	if (!ok)
		LOG_ERROR("store: integrity check failed", "{s:s, s:s}", "path", path, "error",
			  db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_finalize(s);
	sqlite3_close(db);
	return ok ? Y_OK : Y_EDB;
}

int store_snapshot(const char *url, const char *dest)
{
	const char *path = NULL;
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc;

	if (url_path(url, &path) != Y_OK || !dest || !access(dest, F_OK))
		return Y_EINVAL;
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
		    SQLITE_OK) {
		LOG_ERROR("store: cannot open for a snapshot", "{s:s, s:s}", "source", path, "error",
			  sqlite3_errmsg(src ? (dst ? dst : src) : NULL));
		rc = Y_EDB;
		goto out;
	}
	sqlite3_busy_timeout(src, BUSY_TIMEOUT_MS);
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		rc = Y_EDB;
		goto out;
	}
	/* -1: every page in one step, inside one read transaction of src */
	do {
		rc = sqlite3_backup_step(b, -1);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(50);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	/* a single self-contained file: readers of the copy make no -wal/-shm
	 * beside it; the server turns WAL on again when it opens it */
	if (rc == SQLITE_DONE)
		rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) == SQLITE_OK ?
			     SQLITE_DONE :
			     SQLITE_ERROR;
	rc = rc == SQLITE_DONE ? Y_OK : Y_EDB;
	if (rc)
		LOG_ERROR("store: snapshot failed", "{s:s, s:s}", "source", path, "error",
			  sqlite3_errmsg(dst));
out:
	sqlite3_close(src);
	sqlite3_close(dst);
	return rc ?: store_check_file(dest);
}

static void *ckpt_main(void *arg)
{
	struct ckpt *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->wake && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->wake = 0;
		pthread_mutex_unlock(&c->mu);
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* After each commit of the writer connection (its mutex held): nframes
 * pages are in the WAL. */
static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int nframes)
{
	struct ckpt *c = arg;

	if (nframes >= CKPT_HARD_FRAMES) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (nframes >= CKPT_FRAMES) {
		pthread_mutex_lock(&c->mu);
		c->wake = 1;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

/* Moves st's checkpoints to a thread of their own; without one (no memory,
 * no thread, the file not opened again) SQLite's auto-checkpoint stays. */
static void ckpt_start(struct store *st, const char *path)
{
	struct ckpt *c = calloc(1, sizeof(*c));

	if (!c)
		return;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    pthread_create(&c->thread, NULL, ckpt_main, c)) {
		LOG_WARN("store: checkpoints stay on the writer (no checkpoint thread)", NULL);
		sqlite3_close(c->db);
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	st->ckpt = c;
	pthread_mutex_lock(&st->mu);
	sqlite3_wal_hook(st->db, ckpt_hook, c); /* replaces the auto-checkpoint */
	pthread_mutex_unlock(&st->mu);
}

static void ckpt_stop(struct store *st)
{
	struct ckpt *c = st->ckpt;

	if (!c)
		return;
	sqlite3_wal_hook(st->db, NULL, NULL);
	sqlite3_wal_autocheckpoint(st->db, 1000);
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	sqlite3_close(c->db); /* first: closing the writer last checkpoints and removes the WAL */
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	st->ckpt = NULL;
}

int store_sqlite_open_upto(const char *url, int upto, struct store **out)
{
	struct store *st = NULL;
	const char *path = NULL;
	int rc;

	*out = NULL;
	rc = url_path(url, &path);
	if (rc)
		return rc;
	if (upto < 0 || upto > store_migrations_count)
		return Y_EINVAL;
	if (strcmp(path, ":memory:") && ((rc = make_dirs(path)) || (rc = restrict_mode(path))))
		return rc;
	st = calloc(1, sizeof(*st));
	if (!st)
		return Y_ENOMEM;
	pthread_mutex_init(&st->mu, NULL);
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		LOG_ERROR("store: cannot open database", "{s:s, s:s}", "path", path, "error",
			  st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		rc = Y_EDB;
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	st->busy_ms = BUSY_TIMEOUT_MS;
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	rc = exec_sql(st, "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; "
			  "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY");
	if (rc)
		goto fail;
	rc = migrate(st, upto);
	if (rc)
		goto fail;
	if (strcmp(path, ":memory:"))
		ckpt_start(st, path);
	*out = st;
	return Y_OK;
fail:
	store_close(st);
	return rc;
}

int store_open(const char *url, struct store **out)
{
	return store_sqlite_open_upto(url, store_migrations_count, out);
}

void store_close(struct store *st)
{
	if (!st)
		return;
	ckpt_stop(st);
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

void store_sqlite_set_busy_timeout(struct store *st, int ms)
{
	pthread_mutex_lock(&st->mu);
	st->busy_ms = ms;
	sqlite3_busy_timeout(st->db, ms);
	pthread_mutex_unlock(&st->mu);
}

int store_ping(struct store *st)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	s = prep(st, S_PING);
	rc = !s ? Y_EDB : sqlite3_step(s);
	if (s)
		rc = rc == SQLITE_ROW && sqlite3_column_int(s, 0) == 1 ? Y_OK : db_error(st, rc, "ping");
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_ready_check(struct store *st, int timeout_ms)
{
	sqlite3_stmt *s;
	char stamp[32];
	int rc;

	pthread_mutex_lock(&st->mu);
	snprintf(stamp, sizeof(stamp), "%lld", (long long)clock_now_ms());
	sqlite3_busy_timeout(st->db, timeout_ms);
	s = prep(st, S_SETTING_PUT);
	if (!s) {
		rc = Y_EDB;
	} else {
		sqlite3_bind_text(s, 1, "ready_probe", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, stamp, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, clock_now_ms());
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "ready probe write");
		done(s);
	}
	if (rc == Y_OK) {
		s = prep(st, S_SETTING_GET);
		if (!s) {
			rc = Y_EDB;
		} else {
			sqlite3_bind_text(s, 1, "ready_probe", -1, SQLITE_STATIC);
			rc = sqlite3_step(s);
			rc = rc == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(s, 0) ?: "",
							 stamp) ?
				     Y_OK :
				     db_error(st, rc == SQLITE_ROW ? SQLITE_CORRUPT : rc,
					      "ready probe read");
			done(s);
		}
	}
	sqlite3_busy_timeout(st->db, st->busy_ms);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_schema_version(struct store *st, int *applied, int *known)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = applied_version(st, applied);
	pthread_mutex_unlock(&st->mu);
	*known = store_migrations_count;
	return rc;
}

/* ---- API keys ---- */

int store_apikey_count_active(struct store *st, int64_t *n)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	s = prep(st, S_KEY_COUNT);
	rc = !s ? Y_EDB : sqlite3_step(s);
	if (s) {
		if (rc == SQLITE_ROW) {
			*n = sqlite3_column_int64(s, 0);
			rc = Y_OK;
		} else {
			rc = db_error(st, rc, "count keys");
		}
	}
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_apikey_add(struct store *st, const uint8_t hash[32], const char *name,
		     const char *prefix, char id_out[STORE_ID_LEN])
{
	sqlite3_stmt *s;
	char id[STORE_ID_LEN];
	int rc = uuid_v4(id);

	if (rc)
		return rc;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_KEY_ADD);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, name ? name : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, prefix ? prefix : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 4, hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "add key");
	if (!rc)
		memcpy(id_out, id, STORE_ID_LEN);
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/*
 * Compares the digest with every active key's digest in constant time
 * (CRYPTO_memcmp, and no early exit on a match) rather than looking it up
 * through the index, so the time taken says nothing about stored digests.
 * There are few keys, so the scan is cheap.
 */
int store_apikey_find(struct store *st, const uint8_t hash[32], char id_out[STORE_ID_LEN])
{
	sqlite3_stmt *s;
	int rc, found = 0;

	pthread_mutex_lock(&st->mu);
	s = prep(st, S_KEY_ACTIVE);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(s, 1);
		int len = sqlite3_column_bytes(s, 1);

		if (h && len == 32 && CRYPTO_memcmp(h, hash, 32) == 0 && !found) {
			col_id(s, 0, id_out);
			found = 1;
		}
	}
	if (rc != SQLITE_DONE)
		rc = db_error(st, rc, "find key");
	else
		rc = found ? Y_OK : Y_ENOTFOUND;
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_apikey_touch(struct store *st, const char *id, int64_t now)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	s = prep(st, S_KEY_TOUCH);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, now - TOUCH_INTERVAL_MS);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "touch key");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_apikey_list(struct store *st, struct store_apikey **out, size_t *n)
{
	struct store_apikey *keys = NULL, *grown;
	size_t count = 0, cap = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_KEY_LIST);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_apikey *k;
		const unsigned char *prefix;

		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			grown = realloc(keys, cap * sizeof(*keys));
			if (!grown) {
				rc = Y_ENOMEM;
				goto out;
			}
			keys = grown;
		}
		k = &keys[count];
		memset(k, 0, sizeof(*k));
		col_id(s, 0, k->id);
		count++;
		if (col_str(s, 1, &k->name)) {
			rc = Y_ENOMEM;
			goto out;
		}
		prefix = sqlite3_column_text(s, 2);
		snprintf(k->prefix, sizeof(k->prefix), "%s", prefix ? (const char *)prefix : "");
		k->created_at = sqlite3_column_int64(s, 3);
		k->last_used_at = sqlite3_column_int64(s, 4);
		k->revoked = sqlite3_column_int(s, 5) != 0;
	}
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "list keys");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_apikeys_free(keys, count);
		return rc;
	}
	*out = keys;
	*n = count;
	return Y_OK;
}

void store_apikeys_free(struct store_apikey *keys, size_t n)
{
	if (!keys)
		return;
	for (size_t i = 0; i < n; i++)
		free(keys[i].name);
	free(keys);
}

/* Runs an UPDATE/DELETE bound by the caller; Y_ENOTFOUND if no row matched. */
static int step_change(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		return db_error(st, rc, what);
	return sqlite3_changes(st->db) > 0 ? Y_OK : Y_ENOTFOUND;
}

int store_apikey_revoke(struct store *st, const char *id)
{
	sqlite3_stmt *s;
	int rc;

	if (!id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_KEY_REVOKE);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, id);
	rc = step_change(st, s, "revoke key");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- sessions ---- */

void store_session_release(struct store_session *x)
{
	if (!x)
		return;
	free(x->name);
	free(x->phone);
	free(x->push_name);
	free(x->webhook_url);
	free(x->webhook_secret);
	free(x->webhook_events);
	free(x->device_jid);
	free(x->lid);
	free(x->reason);
	memset(x, 0, sizeof(*x));
}

void store_sessions_free(struct store_session *x, size_t n)
{
	if (!x)
		return;
	for (size_t i = 0; i < n; i++)
		store_session_release(&x[i]);
	free(x);
}

/* Fills *x from a row of SESS_COLS. On error *x is released. */
static int read_session(sqlite3_stmt *s, struct store_session *x)
{
	int rc;

	memset(x, 0, sizeof(*x));
	col_id(s, 0, x->id);
	rc = col_str(s, 1, &x->name);
	if (!rc && store_session_status_parse((const char *)sqlite3_column_text(s, 2),
					      &x->status)) {
		LOG_ERROR("store: a session row has an unknown status", "{s:s}", "id", x->id);
		rc = Y_EDB;
	}
	rc = rc ? rc : col_str(s, 3, &x->phone);
	rc = rc ? rc : col_str(s, 4, &x->push_name);
	rc = rc ? rc : col_str(s, 5, &x->webhook_url);
	rc = rc ? rc : col_str(s, 6, &x->webhook_secret);
	rc = rc ? rc : col_str(s, 7, &x->webhook_events);
	x->created_at = sqlite3_column_int64(s, 8);
	x->updated_at = sqlite3_column_int64(s, 9);
	rc = rc ? rc : col_str(s, 10, &x->device_jid);
	rc = rc ? rc : col_str(s, 11, &x->lid);
	rc = rc ? rc : col_str(s, 12, &x->reason);
	x->connected_at = sqlite3_column_int64(s, 13);
	x->last_seen_at = sqlite3_column_int64(s, 14);
	if (!rc && !x->name)
		rc = Y_EDB; /* NOT NULL columns */
	if (rc)
		store_session_release(x);
	return rc;
}

/* Reads session `id` with the mutex held. */
static int session_get_locked(struct store *st, const char *id, struct store_session *out)
{
	sqlite3_stmt *s = prep(st, S_SESS_GET);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = read_session(s, out);
	else if (rc == SQLITE_DONE)
		rc = Y_ENOTFOUND;
	else
		rc = db_error(st, rc, "get session");
	done(s);
	return rc;
}

int store_session_create(struct store *st, const char *name, struct store_session *out)
{
	sqlite3_stmt *s;
	char id[STORE_ID_LEN];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!name)
		return Y_EINVAL;
	rc = uuid_v4(id);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_SESS_ADD);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, clock_now_ms());
	rc = sqlite3_step(s);
	done(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "create session");
	if (!rc)
		rc = session_get_locked(st, id, out);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_session_get(struct store *st, const char *id, struct store_session *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = session_get_locked(st, id, out);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_session_list(struct store *st, const struct store_cursor *after, int limit,
		       struct store_session **out, size_t *n, struct store_cursor *next, int *has_next)
{
	return store_session_list_scoped(st, NULL, after, limit, out, n, next, has_next);
}

int store_session_list_scoped(struct store *st, const char *scope_key,
			      const struct store_cursor *after, int limit,
			      struct store_session **out, size_t *n, struct store_cursor *next,
			      int *has_next)
{
	struct store_session *rows = NULL;
	size_t count = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	*has_next = 0;
	if (limit < 1 || limit > STORE_LIST_MAX)
		return Y_EINVAL;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return Y_ENOMEM;
	pthread_mutex_lock(&st->mu);
	s = prep(st, after ? S_SESS_LIST_AFTER : S_SESS_LIST_FIRST);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	sqlite3_bind_int(s, 1, limit + 1); /* one more tells whether a next page exists */
	if (after) {
		sqlite3_bind_int64(s, 2, after->ts);
		bind_cursor_id(s, 3, after);
	}
	bind_text(s, 4, scope_key);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == (size_t)limit) {
			*has_next = 1;
			break;
		}
		rc = read_session(s, &rows[count]);
		if (rc)
			goto out;
		count++;
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = Y_OK;
	else
		rc = db_error(st, rc, "list sessions");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_sessions_free(rows, count);
		*has_next = 0;
		return rc;
	}
	if (*has_next && next) {
		next->ts = rows[count - 1].created_at;
		memcpy(next->id, rows[count - 1].id, STORE_ID_LEN);
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

int store_session_delete(struct store *st, const char *id)
{
	sqlite3_stmt *s;
	int rc;

	if (!id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_SESS_DELETE);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, id);
	rc = step_change(st, s, "delete session");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- the event outbox, part 1: what the session writers need ---- */

/* Appends an event inside the caller's transaction (mutex held); *id_out
 * may be NULL. The one call for code in this file that writes a change with
 * its event (see store.h). */
static int event_add_locked(struct store *st, const char *session_id, const char *type,
			    const char *data, int64_t *id_out)
{
	sqlite3_stmt *s = prep(st, S_EV_ADD);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, session_id);
	bind_text(s, 2, type);
	bind_text(s, 3, data);
	sqlite3_bind_int64(s, 4, clock_now_ms());
	rc = sqlite3_step(s);
	done(s);
	if (rc != SQLITE_DONE)
		return db_error(st, rc, "add event");
	if (id_out)
		*id_out = sqlite3_last_insert_rowid(st->db);
	if (st->event_hook)
		st->event_hook(st->event_hook_arg);
	return Y_OK;
}

/* A `message` / `message.ack` event from message row (id, or the session's
 * wa_id when id is NULL) inside the caller's transaction (mutex held). */
static int message_event_locked(struct store *st, const char *type, const char *session_id,
				const char *id, const char *wa_id)
{
	sqlite3_stmt *s = prep(st, S_EV_MSG);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, type);
	sqlite3_bind_int64(s, 2, clock_now_ms());
	bind_text(s, 3, session_id);
	bind_text(s, 4, id);
	bind_text(s, 5, wa_id);
	rc = sqlite3_step(s);
	done(s);
	if (rc != SQLITE_DONE)
		return db_error(st, rc, "add message event");
	if (st->event_hook && sqlite3_changes(st->db))
		st->event_hook(st->event_hook_arg);
	return Y_OK;
}

/* Reads the status and reason of session id (mutex held). */
static int session_old_locked(struct store *st, const char *id, char **status, char **reason)
{
	sqlite3_stmt *s = prep(st, S_SESS_OLD);
	int rc;

	*status = *reason = NULL;
	if (!s)
		return Y_EDB;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = col_str(s, 0, status);
		rc = rc ? rc : col_str(s, 1, reason);
	} else {
		rc = rc == SQLITE_DONE ? Y_ENOTFOUND : db_error(st, rc, "read session status");
	}
	done(s);
	if (rc) {
		free(*status);
		free(*reason);
		*status = *reason = NULL;
	}
	return rc;
}

static int str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* A session.status event when status or reason changed (mutex held, in
 * the transaction of the change). */
static int status_event_locked(struct store *st, const char *id, const char *status,
			       const char *reason, const char *old_status, const char *old_reason)
{
	sqlite3_stmt *s;
	int rc;

	if (str_same(status, old_status) && str_same(reason, old_reason))
		return Y_OK;
	s = prep(st, S_EV_STATUS);
	if (!s)
		return Y_EDB;
	bind_text(s, 1, id);
	bind_text(s, 2, status);
	bind_text(s, 3, old_status);
	bind_text(s, 4, reason);
	sqlite3_bind_int64(s, 5, clock_now_ms());
	rc = sqlite3_step(s);
	done(s);
	if (rc != SQLITE_DONE)
		return db_error(st, rc, "add session.status event");
	if (st->event_hook)
		st->event_hook(st->event_hook_arg);
	return Y_OK;
}

/* Ends the transaction: COMMIT when rc is Y_OK, else ROLLBACK; returns rc
 * or the COMMIT's failure. */
static int tx_end(struct store *st, int rc)
{
	if (rc) {
		exec_stmt(st, S_ROLLBACK);
		return rc;
	}
	rc = exec_stmt(st, S_COMMIT);
	if (rc)
		exec_stmt(st, S_ROLLBACK);
	return rc;
}

int store_session_set_status(struct store *st, const char *id, enum store_session_status to,
			     const char *phone)
{
	const char *status = store_session_status_name(to);
	char *old_status = NULL, *old_reason = NULL;
	sqlite3_stmt *s;
	int rc;

	if (!id || !status)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc)
		goto out;
	rc = session_old_locked(st, id, &old_status, &old_reason);
	s = rc ? NULL : prep(st, S_SESS_STATUS);
	if (!rc && !s)
		rc = Y_EDB;
	if (!rc) {
		bind_text(s, 1, id);
		bind_text(s, 2, status);
		bind_text(s, 3, phone);
		sqlite3_bind_int64(s, 4, clock_now_ms());
		rc = step_change(st, s, "set session status");
		done(s);
	}
	if (!rc) /* the reason stays what it was */
		rc = status_event_locked(st, id, status, old_reason, old_status, old_reason);
	rc = tx_end(st, rc);
out:
	pthread_mutex_unlock(&st->mu);
	free(old_status);
	free(old_reason);
	return rc;
}

int store_session_set_webhook(struct store *st, const char *id, const char *url,
			      const char *secret, const char *events)
{
	sqlite3_stmt *s;
	int rc;

	if (!id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_SESS_WEBHOOK);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, id);
	bind_text(s, 2, url);
	bind_text(s, 3, url ? secret : NULL); /* clearing the URL clears all three */
	bind_text(s, 4, url ? events : NULL);
	sqlite3_bind_int64(s, 5, clock_now_ms());
	rc = step_change(st, s, "set webhook");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_session_update(struct store *st, const char *id, const struct store_session_update *u)
{
	const char *status = u ? store_session_status_name(u->status) : NULL;
	char *old_status = NULL, *old_reason = NULL;
	sqlite3_stmt *s = NULL;
	int rc;

	if (!id || !status)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc)
		goto out;
	rc = session_old_locked(st, id, &old_status, &old_reason);
	if (!rc && u->unlink) {
		s = prep(st, S_SESS_UNLINK);
		if (!s) {
			rc = Y_EDB;
		} else {
			bind_text(s, 1, id);
			rc = sqlite3_step(s);
			done(s);
			rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "unlink session");
		}
	}
	s = rc ? NULL : prep(st, S_SESS_UPDATE);
	if (!rc && !s)
		rc = Y_EDB;
	if (!rc) {
		bind_text(s, 1, id);
		bind_text(s, 2, status);
		bind_text(s, 3, u->reason);
		bind_text(s, 4, u->phone);
		bind_text(s, 5, u->push_name);
		bind_text(s, 6, u->device_jid);
		bind_text(s, 7, u->lid);
		sqlite3_bind_int64(s, 8, u->connected_at);
		sqlite3_bind_int64(s, 9, u->last_seen_at);
		sqlite3_bind_int64(s, 10, clock_now_ms());
		rc = step_change(st, s, "update session");
		done(s);
	}
	if (!rc)
		rc = status_event_locked(st, id, status, u->reason, old_status, old_reason);
	rc = tx_end(st, rc);
out:
	pthread_mutex_unlock(&st->mu);
	free(old_status);
	free(old_reason);
	return rc;
}

int store_sessions_reset_live(struct store *st, int64_t *n)
{
	sqlite3_stmt *s;
	int64_t changed = 0;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc)
		goto out;
	s = prep(st, S_EV_RESET_LIVE);
	if (!s) {
		rc = Y_EDB;
	} else {
		sqlite3_bind_int64(s, 1, clock_now_ms());
		rc = sqlite3_step(s);
		done(s);
		rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "add reset events");
		if (!rc && sqlite3_changes(st->db) > 0 && st->event_hook)
			st->event_hook(st->event_hook_arg);
	}
	if (!rc)
		rc = exec_stmt(st, S_SESS_RESET_LIVE);
	if (!rc)
		changed = sqlite3_changes(st->db);
	rc = tx_end(st, rc);
out:
	if (n)
		*n = rc ? 0 : changed;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* One text column by key (stmt id q, ?1 the key): *value or Y_ENOTFOUND. */
static int get_text(struct store *st, int q, const char *key, char **value, const char *what)
{
	sqlite3_stmt *s;
	int rc;

	*value = NULL;
	if (!key)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, q);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = col_str(s, 0, value);
	else
		rc = rc == SQLITE_DONE ? Y_ENOTFOUND : db_error(st, rc, what);
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_session_media_get(struct store *st, const char *session_id, char **json)
{
	return get_text(st, S_SMEDIA_GET, session_id, json, "get media settings");
}

/* Runs stmt q with ?1 key, ?2 value, ?3 now: Y_OK, or Y_ENOTFOUND when it
 * changed no row. */
static int put_text(struct store *st, int q, const char *key, const char *value, const char *what)
{
	sqlite3_stmt *s;
	int rc;

	if (!key || !value)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, q);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, key);
	bind_text(s, 2, value);
	sqlite3_bind_int64(s, 3, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc != SQLITE_DONE		    ? db_error(st, rc, what)
	     : sqlite3_changes(st->db) == 0 ? Y_ENOTFOUND
					    : Y_OK;
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_session_media_put(struct store *st, const char *session_id, const char *json)
{
	return put_text(st, S_SMEDIA_PUT, session_id, json, "put media settings");
}

int store_setting_get(struct store *st, const char *key, char **value)
{
	return get_text(st, S_SETTING_GET, key, value, "get setting");
}

int store_setting_put(struct store *st, const char *key, const char *value)
{
	return put_text(st, S_SETTING_PUT, key, value, "put setting");
}

int store_setting_delete(struct store *st, const char *key)
{
	sqlite3_stmt *s;
	int rc;

	if (!key)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_SETTING_DELETE);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, key);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "delete setting");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- WhatsApp credentials and prekeys ---- */

void store_creds_release(struct store_creds *c)
{
	if (!c)
		return;
	if (c->account)
		explicit_bzero(c->account, c->account_len);
	free(c->account);
	free(c->jid);
	free(c->lid);
	free(c->platform);
	free(c->push_name);
	explicit_bzero(c, sizeof(*c));
}

static void bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	if (p)
		sqlite3_bind_blob(s, i, p, (int)n, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

/* Copies blob column i into out, which must be exactly n bytes. */
static int col_fixed(sqlite3_stmt *s, int i, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(s, i);

	if (!p || (size_t)sqlite3_column_bytes(s, i) != n)
		return Y_EDB;
	memcpy(out, p, n);
	return Y_OK;
}

int store_creds_put(struct store *st, const char *session_id, const struct store_creds *c)
{
	sqlite3_stmt *s;
	int rc;

	if (!session_id || !c || c->account_len > (1u << 20))
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_CREDS_PUT);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	bind_blob(s, 2, c->noise_priv, 32);
	bind_blob(s, 3, c->identity_priv, 32);
	sqlite3_bind_int64(s, 4, c->registration_id);
	sqlite3_bind_int64(s, 5, c->spk_id);
	bind_blob(s, 6, c->spk_priv, 32);
	bind_blob(s, 7, c->spk_sig, 64);
	bind_blob(s, 8, c->adv_secret, 32);
	bind_blob(s, 9, c->account, c->account_len);
	bind_text(s, 10, c->jid);
	bind_text(s, 11, c->lid);
	bind_text(s, 12, c->platform);
	bind_text(s, 13, c->push_name);
	sqlite3_bind_int64(s, 14, c->next_prekey_id);
	sqlite3_bind_int64(s, 15, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "put creds");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_creds_get(struct store *st, const char *session_id, struct store_creds *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!session_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_CREDS_GET);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rc = Y_ENOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = db_error(st, rc, "get creds");
		goto out;
	}
	rc = col_fixed(s, 0, out->noise_priv, 32);
	rc = rc ? rc : col_fixed(s, 1, out->identity_priv, 32);
	out->registration_id = (uint32_t)sqlite3_column_int64(s, 2);
	out->spk_id = (uint32_t)sqlite3_column_int64(s, 3);
	rc = rc ? rc : col_fixed(s, 4, out->spk_priv, 32);
	rc = rc ? rc : col_fixed(s, 5, out->spk_sig, 64);
	rc = rc ? rc : col_fixed(s, 6, out->adv_secret, 32);
	if (!rc && sqlite3_column_type(s, 7) == SQLITE_BLOB && sqlite3_column_bytes(s, 7) > 0) {
		size_t n = (size_t)sqlite3_column_bytes(s, 7);

		out->account = malloc(n);
		if (!out->account)
			rc = Y_ENOMEM;
		else {
			memcpy(out->account, sqlite3_column_blob(s, 7), n);
			out->account_len = n;
		}
	}
	rc = rc ? rc : col_str(s, 8, &out->jid);
	rc = rc ? rc : col_str(s, 9, &out->lid);
	rc = rc ? rc : col_str(s, 10, &out->platform);
	rc = rc ? rc : col_str(s, 11, &out->push_name);
	out->next_prekey_id = (uint32_t)sqlite3_column_int64(s, 12);
	if (rc)
		store_creds_release(out);
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Runs statement `id` bound to (session_id [, n]) and expects no rows. */
static int exec_sid(struct store *st, enum stmt_id id, const char *session_id, int64_t n,
		    int bind_n)
{
	sqlite3_stmt *s = prep(st, id);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, session_id);
	if (bind_n)
		sqlite3_bind_int64(s, 2, n);
	rc = sqlite3_step(s);
	done(s);
	return rc == SQLITE_DONE ? Y_OK : db_error(st, rc, stmt_sql[id]);
}

int store_creds_delete(struct store *st, const char *session_id)
{
	int rc;

	if (!session_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (!rc) {
		rc = exec_sid(st, S_CREDS_DELETE, session_id, 0, 0);
		rc = rc ? rc : exec_sid(st, S_PREKEYS_DELETE_ALL, session_id, 0, 0);
		rc = rc ? rc : exec_sid(st, S_TCTOKENS_DELETE_ALL, session_id, 0, 0);
		rc = rc ? rc : exec_sid(st, S_APPSTATE_DELETE_ALL, session_id, 0, 0);
		rc = rc ? rc : exec_sid(st, S_SIG_DEL_ALL, session_id, 0, 0);
		rc = rc ? (exec_stmt(st, S_ROLLBACK), rc) : exec_stmt(st, S_COMMIT);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_prekeys_add(struct store *st, const char *session_id, const uint32_t *ids,
		      const uint8_t (*priv)[32], size_t n)
{
	sqlite3_stmt *s;
	int rc;

	if (!session_id || (n && (!ids || !priv)))
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	for (size_t i = 0; !rc && i < n; i++) {
		s = prep(st, S_PREKEY_ADD);
		if (!s) {
			rc = Y_EDB;
			break;
		}
		bind_text(s, 1, session_id);
		sqlite3_bind_int64(s, 2, ids[i]);
		bind_blob(s, 3, priv[i], 32);
		rc = sqlite3_step(s);
		done(s);
		rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "add prekey");
	}
	if (rc)
		exec_stmt(st, S_ROLLBACK);
	else
		rc = exec_stmt(st, S_COMMIT);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_prekeys_mark_uploaded(struct store *st, const char *session_id, uint32_t upto)
{
	int rc;

	if (!session_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_sid(st, S_PREKEY_MARK, session_id, upto, 1);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_prekey_get(struct store *st, const char *session_id, uint32_t id, uint8_t priv[32])
{
	sqlite3_stmt *s;
	int rc;

	if (!session_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_PREKEY_GET);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	sqlite3_bind_int64(s, 2, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = col_fixed(s, 0, priv, 32);
	else
		rc = rc == SQLITE_DONE ? Y_ENOTFOUND : db_error(st, rc, "get prekey");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_prekey_delete(struct store *st, const char *session_id, uint32_t id)
{
	int rc;

	if (!session_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_sid(st, S_PREKEY_DELETE, session_id, id, 1);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_prekey_count(struct store *st, const char *session_id, int64_t *total,
		       int64_t *uploaded)
{
	sqlite3_stmt *s;
	int rc;

	*total = *uploaded = 0;
	if (!session_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_PREKEY_COUNT);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*total = sqlite3_column_int64(s, 0);
		*uploaded = sqlite3_column_int64(s, 1);
		rc = Y_OK;
	} else {
		rc = db_error(st, rc, "count prekeys");
	}
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- messages ---- */

void store_message_release(struct store_message *m)
{
	if (!m)
		return;
	free(m->wa_id);
	free(m->chat);
	free(m->type);
	free(m->body);
	free(m->status);
	free(m->from_jid);
	free(m->to_jid);
	free(m->text);
	free(m->quoted_id);
	free(m->reason);
	memset(m, 0, sizeof(*m));
}

/* *out = an owned copy of m (strings duplicated). Y_ENOMEM (*out empty). */
static int message_copy(struct store_message *out, const struct store_message *m)
{
	char **dst[] = { &out->wa_id,  &out->chat,	 &out->type, &out->body,      &out->status,
			 &out->from_jid, &out->to_jid, &out->text, &out->quoted_id, &out->reason };
	char *const src[] = { m->wa_id,	 m->chat,  m->type, m->body,	  m->status,
			      m->from_jid, m->to_jid, m->text, m->quoted_id, m->reason };

	*out = *m;
	for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
		*dst[i] = NULL;
	for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
		if (src[i] && !(*dst[i] = strdup(src[i]))) {
			store_message_release(out);
			return Y_ENOMEM;
		}
	return Y_OK;
}

void store_messages_free(struct store_message *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++)
		store_message_release(&m[i]);
	free(m);
}

static int read_message(sqlite3_stmt *s, struct store_message *m)
{
	int rc;

	memset(m, 0, sizeof(*m));
	col_id(s, 0, m->id);
	col_id(s, 1, m->session_id);
	rc = col_str(s, 2, &m->wa_id);
	rc = rc ? rc : col_str(s, 3, &m->chat);
	m->from_me = sqlite3_column_text(s, 4) &&
		     !strcmp((const char *)sqlite3_column_text(s, 4), "outbound");
	rc = rc ? rc : col_str(s, 5, &m->type);
	rc = rc ? rc : col_str(s, 6, &m->body);
	rc = rc ? rc : col_str(s, 7, &m->status);
	m->timestamp = sqlite3_column_int64(s, 8);
	m->created_at = sqlite3_column_int64(s, 9);
	rc = rc ? rc : col_str(s, 10, &m->from_jid);
	rc = rc ? rc : col_str(s, 11, &m->to_jid);
	rc = rc ? rc : col_str(s, 12, &m->text);
	rc = rc ? rc : col_str(s, 13, &m->quoted_id);
	rc = rc ? rc : col_str(s, 14, &m->reason);
	m->updated_at = sqlite3_column_int64(s, 15);
	if (!rc && (!m->chat || !m->type || !m->status))
		rc = Y_EDB;
	if (rc)
		store_message_release(m);
	return rc;
}

/* Whether row m counts as unread in its chat: an inbound message still
 * 'received' that is not an action on another (0011_chat_actions.sql). */
static int message_unread(const struct store_message *m)
{
	static const char *const actions[] = { "reaction", "edit", "revoke", "poll_vote", NULL };

	return !m->from_me && m->status && !strcmp(m->status, "received") &&
	       !in_list(m->type ? m->type : "", actions);
}

/* Moves chat (session_id, chat) to message last_id at last_at if that is
 * its latest by (timestamp, id), and adds unread to its count; creates the
 * row when the chat is new. Inside the caller's transaction (mutex held). */
static int chat_touch_locked(struct store *st, const char *session_id, const char *chat,
			     const char *last_id, int64_t last_at, int64_t unread)
{
	sqlite3_stmt *s = prep(st, S_CHAT_TOUCH);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, session_id);
	bind_text(s, 2, chat);
	bind_text(s, 3, last_id);
	sqlite3_bind_int64(s, 4, last_at);
	sqlite3_bind_int64(s, 5, unread);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "touch chat");
	done(s);
	return rc;
}

/* Inserts row m inside the caller's transaction (mutex held); touch: also
 * moves its chat row (0: the caller does, as a batch does once per chat). */
static int message_add_locked(struct store *st, const struct store_message *m, int touch)
{
	sqlite3_stmt *s = prep(st, S_MSG_ADD);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, m->id);
	bind_text(s, 2, m->session_id);
	bind_text(s, 3, m->wa_id);
	bind_text(s, 4, m->chat);
	bind_text(s, 5, m->from_me ? "outbound" : "inbound");
	bind_text(s, 6, m->type);
	bind_text(s, 7, m->body);
	bind_text(s, 8, m->status);
	sqlite3_bind_int64(s, 9, m->timestamp);
	sqlite3_bind_int64(s, 10, m->created_at);
	bind_text(s, 11, m->from_jid);
	bind_text(s, 12, m->to_jid);
	bind_text(s, 13, m->text);
	bind_text(s, 14, m->quoted_id);
	bind_text(s, 15, m->reason);
	sqlite3_bind_int64(s, 16, m->updated_at);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "insert message");
	done(s);
	if (rc == Y_OK && touch)
		rc = chat_touch_locked(st, m->session_id, m->chat, m->id, m->timestamp,
				       message_unread(m));
	return rc;
}

/* Fills the defaults of a row to insert; Y_EINVAL, or the uuid error. */
static int message_defaults(struct store_message *m)
{
	int rc;

	if (!m->chat || !m->type || !in_list(m->status, message_statuses))
		return Y_EINVAL;
	if (!m->id[0] && (rc = uuid_v7(m->id, clock_now_ms())))
		return rc;
	if (!m->created_at)
		m->created_at = clock_now_ms();
	if (!m->timestamp)
		m->timestamp = m->created_at;
	if (!m->updated_at)
		m->updated_at = m->created_at;
	return Y_OK;
}

int store_message_insert(struct store *st, struct store_message *m)
{
	int rc = message_defaults(m);

	if (rc)
		return rc;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc) {
		pthread_mutex_unlock(&st->mu);
		return rc;
	}
	rc = message_add_locked(st, m, 1);
	/* an inbound message is a `message` event, in the same transaction */
	if (rc == Y_OK && !m->from_me)
		rc = message_event_locked(st, "message", m->session_id, m->id, NULL);
	rc = tx_end(st, rc);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* store_message_get with the mutex held. */
static int message_get_locked(struct store *st, const char *session_id, const char *id,
			      struct store_message *out)
{
	sqlite3_stmt *s = prep(st, S_MSG_GET);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, id);
	bind_text(s, 2, session_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = read_message(s, out);
	else if (rc == SQLITE_DONE)
		rc = Y_ENOTFOUND;
	else
		rc = db_error(st, rc, "get message");
	done(s);
	return rc;
}

int store_message_get(struct store *st, const char *session_id, const char *id,
		      struct store_message *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!session_id || !id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = message_get_locked(st, session_id, id, out);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* One transaction over n rows (the mutex taken here): row(st, arg, i) for
 * each i whose rcs[i] is still Y_OK, into rcs[i]; a result own() does not
 * call the row's own (or one after which SQLite ended the transaction)
 * fails the batch; then after(st, arg), if set, still inside it. Returns
 * Y_OK once committed, else the error, which every rcs[i] becomes. */
static int batch_tx(struct store *st, size_t n, int *rcs,
		    int (*row)(struct store *st, void *arg, size_t i), int (*own)(int rc),
		    int (*after)(struct store *st, void *arg), void *arg)
{
	int rc;

	if (!n)
		return Y_OK;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	for (size_t i = 0; !rc && i < n; i++) {
		if (rcs[i])
			continue;
		rcs[i] = row(st, arg, i);
		if (rcs[i] && (!own(rcs[i]) || sqlite3_get_autocommit(st->db)))
			rc = rcs[i]; /* the transaction is not usable: the batch fails */
	}
	if (!rc && after)
		rc = after(st, arg);
	if (!sqlite3_get_autocommit(st->db))
		rc = tx_end(st, rc);
	pthread_mutex_unlock(&st->mu);
	for (size_t i = 0; rc && i < n; i++)
		rcs[i] = rc;
	return rc;
}

/* A row's own failure, which leaves the batch's transaction usable: SQLite
 * undoes only the failed statement of a constraint error. */
static int insert_own(int rc)
{
	return rc == Y_EINVAL || rc == Y_EEXIST || rc == Y_ENOTFOUND;
}

struct insert_batch {
	struct store_message *ms, *outs;
	int *rcs;
	size_t n;
};

static int insert_row(struct store *st, void *arg, size_t i)
{
	struct store_message *m = &((struct insert_batch *)arg)->ms[i];
	int rc = message_add_locked(st, m, 0); /* chats: insert_after */

	/* an inbound message is a `message` event, as store_message_insert makes */
	if (rc == Y_OK && !m->from_me)
		rc = message_event_locked(st, "message", m->session_id, m->id, NULL);
	return rc;
}

/* qsort_r order of a batch's row indexes (into rows): by session, then chat. */
static int cmp_row_chat(const void *a, const void *b, void *rows)
{
	const struct store_message *x = &((const struct store_message *)rows)[*(const size_t *)a];
	const struct store_message *y = &((const struct store_message *)rows)[*(const size_t *)b];
	int c = strcmp(x->session_id, y->session_id);

	return c ? c : strcmp(x->chat, y->chat);
}

/* Each chat the batch's stored rows are in, moved once: to its latest row
 * by (timestamp, id), unread counted over them (what one chat_touch_locked
 * per row gives). Mutex held. */
static int insert_touch_chats(struct store *st, struct insert_batch *b)
{
	size_t *ix = malloc(b->n * sizeof(*ix)), k = 0;
	int rc = Y_OK;

	if (!ix)
		return Y_ENOMEM;
	for (size_t i = 0; i < b->n; i++)
		if (!b->rcs[i])
			ix[k++] = i;
	qsort_r(ix, k, sizeof(*ix), cmp_row_chat, b->ms);
	for (size_t i = 0, j; !rc && i < k; i = j) {
		const struct store_message *last = &b->ms[ix[i]];
		int64_t unread = 0;

		for (j = i; j < k && !cmp_row_chat(&ix[i], &ix[j], b->ms); j++) {
			const struct store_message *m = &b->ms[ix[j]];

			unread += message_unread(m);
			if (m->timestamp > last->timestamp ||
			    (m->timestamp == last->timestamp && strcmp(m->id, last->id) > 0))
				last = m;
		}
		rc = chat_touch_locked(st, last->session_id, last->chat, last->id, last->timestamp,
				       unread);
	}
	free(ix);
	return rc;
}

/* Moves the batch's chats, then copies each stored row (with its defaults
 * filled in, it is what the commit makes durable: no column is computed by
 * the database) for the caller. */
static int insert_after(struct store *st, void *arg)
{
	struct insert_batch *b = arg;
	int rc = insert_touch_chats(st, b);

	for (size_t i = 0; !rc && i < b->n; i++)
		if (!b->rcs[i])
			rc = message_copy(&b->outs[i], &b->ms[i]);
	return rc;
}

int store_messages_insert_batch(struct store *st, struct store_message *ms, size_t n, int *rcs,
				struct store_message *outs)
{
	struct insert_batch b = { ms, outs, rcs, n };
	int rc;

	for (size_t i = 0; i < n; i++) {
		memset(&outs[i], 0, sizeof(outs[i]));
		rcs[i] = message_defaults(&ms[i]);
	}
	rc = batch_tx(st, n, rcs, insert_row, insert_own, insert_after, &b);
	for (size_t i = 0; rc && i < n; i++)
		store_message_release(&outs[i]);
	return rc;
}

int store_message_set_status(struct store *st, const char *id, const char *status,
			     const char *wa_id)
{
	sqlite3_stmt *s;
	int rc;

	if (!id || !in_list(status, message_statuses))
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_MSG_STATUS);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, id);
	bind_text(s, 2, status);
	bind_text(s, 3, wa_id);
	sqlite3_bind_int64(s, 4, clock_now_ms());
	rc = step_change(st, s, "set message status");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int prekeys_list(struct store *st, int stmt, const char *session_id, uint32_t **ids,
			uint8_t (**priv)[32], size_t *n)
{
	sqlite3_stmt *s;
	size_t cap = 0, count = 0;
	uint32_t *iv = NULL;
	uint8_t (*pv)[32] = NULL;
	int rc;

	*ids = NULL;
	*priv = NULL;
	*n = 0;
	pthread_mutex_lock(&st->mu);
	s = prep(st, stmt);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 1) != 32)
			continue;
		if (count == cap) {
			size_t nc = cap ? cap * 2 : 64;
			uint32_t *ni = realloc(iv, nc * sizeof(*iv));
			uint8_t (*np)[32];

			if (ni)
				iv = ni;
			np = ni ? malloc(nc * 32) : NULL;
			if (!np) {
				rc = Y_ENOMEM;
				goto out;
			}
			if (count)
				memcpy(np, pv, count * 32);
			if (pv)
				explicit_bzero(pv, count * 32);
			free(pv);
			pv = np;
			cap = nc;
		}
		iv[count] = (uint32_t)sqlite3_column_int64(s, 0);
		memcpy(pv[count], sqlite3_column_blob(s, 1), 32);
		count++;
	}
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "list prekeys");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		if (pv)
			explicit_bzero(pv, count * 32);
		free(pv);
		free(iv);
		return rc;
	}
	*ids = iv;
	*priv = pv;
	*n = count;
	return Y_OK;
}

int store_prekeys_all(struct store *st, const char *session_id, uint32_t **ids,
		      uint8_t (**priv)[32], size_t *n)
{
	return prekeys_list(st, S_PREKEYS_ALL, session_id, ids, priv, n);
}

int store_prekeys_unrecorded(struct store *st, const char *session_id, uint32_t **ids,
			     uint8_t (**priv)[32], size_t *n)
{
	return prekeys_list(st, S_PREKEYS_UNRECORDED, session_id, ids, priv, n);
}

/* One status move of store_message_update_wa inside the caller's
 * transaction (mutex held): Y_OK (moved, its event added), Y_ENOTFOUND (no
 * row changed), or the error. */
static int update_wa_locked(struct store *st, const char *session_id, const char *wa_id,
			    const char *status, const char *reason)
{
	sqlite3_stmt *s = prep(st, S_MSG_STATUS_WA);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, session_id);
	bind_text(s, 2, wa_id);
	bind_text(s, 3, status);
	bind_text(s, 4, reason);
	sqlite3_bind_int64(s, 5, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? (sqlite3_changes(st->db) ? Y_OK : Y_ENOTFOUND)
			       : db_error(st, rc, "update message status");
	done(s);
	/* a status that moved is a `message.ack` event, in the same transaction */
	if (rc == Y_OK)
		rc = message_event_locked(st, "message.ack", session_id, NULL, wa_id);
	return rc;
}

int store_message_update_wa(struct store *st, const char *session_id, const char *wa_id,
			    const char *status, const char *reason)
{
	struct store_status_update u = { session_id, wa_id, status, reason };
	int one, rc = store_messages_update_wa_batch(st, &u, 1, &one);

	return rc ? rc : one;
}

static int update_own(int rc)
{
	return rc == Y_ENOTFOUND;
}

static int update_row(struct store *st, void *arg, size_t i)
{
	const struct store_status_update *u = (const struct store_status_update *)arg + i;

	return update_wa_locked(st, u->session_id, u->wa_id, u->status, u->reason);
}

int store_messages_update_wa_batch(struct store *st, const struct store_status_update *u,
				   size_t n, int *rcs)
{
	for (size_t i = 0; i < n; i++)
		rcs[i] = !u[i].session_id || !u[i].wa_id || !in_list(u[i].status, message_statuses)
				 ? Y_EINVAL
				 : Y_OK;
	return batch_tx(st, n, rcs, update_row, update_own, NULL, (void *)u);
}

int store_messages_pending(struct store *st, const char *session_id, int limit,
			   struct store_message **out, size_t *n)
{
	struct store_message *rows;
	size_t count = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!session_id || limit < 1)
		return Y_EINVAL;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return Y_ENOMEM;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_MSG_PENDING);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	sqlite3_bind_int(s, 2, limit);
	while (count < (size_t)limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		rc = read_message(s, &rows[count]);
		if (rc)
			goto out;
		count++;
	}
	rc = count == (size_t)limit || rc == SQLITE_DONE ? Y_OK
							 : db_error(st, rc, "list pending messages");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_messages_free(rows, count);
		return rc;
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

int store_messages_pending_count(struct store *st, const char *session_id, int64_t *n)
{
	sqlite3_stmt *s;
	int rc;

	*n = 0;
	pthread_mutex_lock(&st->mu);
	s = prep(st, session_id ? S_MSG_PENDING_COUNT : S_MSG_PENDING_ALL);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	if (session_id)
		bind_text(s, 1, session_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*n = sqlite3_column_int64(s, 0);
		rc = Y_OK;
	} else {
		rc = db_error(st, rc, "count pending messages");
	}
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int session_exists_locked(struct store *st, const char *id)
{
	sqlite3_stmt *s = prep(st, S_SESS_EXISTS);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, id);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_ROW ? Y_OK : rc == SQLITE_DONE ? Y_ENOTFOUND
							 : db_error(st, rc, "find session");
	done(s);
	return rc;
}

/* Steps s into rows (elements of size bytes, at most limit) with read;
 * one row more sets *has_next. Y_OK, read's error, or the step's. */
static int step_rows(struct store *st, sqlite3_stmt *s, int limit, void *rows, size_t size,
		     int (*read)(sqlite3_stmt *s, void *row), size_t *count, int *has_next,
		     const char *what)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*count == (size_t)limit) {
			*has_next = 1;
			return Y_OK;
		}
		rc = read(s, (char *)rows + *count * size);
		if (rc)
			return rc;
		(*count)++;
	}
	return rc == SQLITE_DONE ? Y_OK : db_error(st, rc, what);
}

static int read_message_row(sqlite3_stmt *s, void *row)
{
	return read_message(s, row);
}

int store_message_list(struct store *st, const char *session_id, const struct store_cursor *after,
		       int limit, struct store_message **out, size_t *n,
		       struct store_cursor *next, int *has_next)
{
	return store_message_list_filtered(st, session_id, NULL, after, limit, out, n, next,
					   has_next);
}

static int filter_empty(const struct store_message_filter *f)
{
	return !f || (!f->chat && f->direction < 0 && !f->status && !f->has_since && !f->has_until);
}

int store_sqlite_message_filter_sql(const struct store_message_filter *f, int after, char *buf,
				    size_t cap)
{
	/* ?1 limit, ?2 session, ?3/?4 the cursor, ?5 chat, ?6 direction,
	 * ?7 status, ?8 since, ?9 until: with chat, the messages_chat_ts
	 * index; else messages_session_ts (the range on timestamp in both) */
	int w = snprintf(buf, cap, "SELECT " MSG_COLS " FROM messages WHERE session_id = ?2%s%s%s%s%s%s"
			 " ORDER BY timestamp DESC, id DESC LIMIT ?1",
			 f && f->chat ? " AND chat = ?5" : "",
			 f && f->direction >= 0 ? " AND direction = ?6" : "",
			 f && f->status ? " AND status = ?7" : "",
			 f && f->has_since ? " AND timestamp >= ?8" : "",
			 f && f->has_until ? " AND timestamp <= ?9" : "",
			 after ? " AND (timestamp < ?3 OR (timestamp = ?3 AND id < ?4))" : "");

	return w > 0 && (size_t)w < cap ? Y_OK : Y_ETOOBIG;
}

int store_message_list_filtered(struct store *st, const char *session_id,
				const struct store_message_filter *f,
				const struct store_cursor *after, int limit,
				struct store_message **out, size_t *n, struct store_cursor *next,
				int *has_next)
{
	struct store_message *rows = NULL;
	size_t count = 0;
	sqlite3_stmt *s = NULL;
	int own = !filter_empty(f); /* a statement of its own, else a cached one */
	char sql[1024];
	int rc;

	*out = NULL;
	*n = 0;
	*has_next = 0;
	if (!session_id || limit < 1 || limit > STORE_LIST_MAX ||
	    (f && f->status && !in_list(f->status, message_statuses)))
		return Y_EINVAL;
	if (own && (rc = store_sqlite_message_filter_sql(f, after != NULL, sql, sizeof(sql))))
		return rc;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return Y_ENOMEM;
	pthread_mutex_lock(&st->mu);
	rc = session_exists_locked(st, session_id);
	if (rc)
		goto out;
	if (own && sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		s = NULL;
	else if (!own)
		s = prep(st, after ? S_MSG_LIST_AFTER : S_MSG_LIST_FIRST);
	if (!s) {
		rc = own ? db_error(st, sqlite3_errcode(st->db), "prepare a message filter") : Y_EDB;
		goto out;
	}
	sqlite3_bind_int(s, 1, limit + 1);
	bind_text(s, 2, session_id);
	if (after) {
		sqlite3_bind_int64(s, 3, after->ts);
		bind_cursor_id(s, 4, after);
	}
	if (own) {
		bind_text(s, 5, f->chat);
		if (f->direction >= 0)
			bind_text(s, 6, f->direction ? "outbound" : "inbound");
		bind_text(s, 7, f->status);
		sqlite3_bind_int64(s, 8, f->since);
		sqlite3_bind_int64(s, 9, f->until);
	}
	rc = step_rows(st, s, limit, rows, sizeof(*rows), read_message_row, &count, has_next,
		       "list messages");
out:
	if (own)
		sqlite3_finalize(s);
	else
		done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_messages_free(rows, count);
		*has_next = 0;
		return rc;
	}
	if (*has_next && next) {
		next->ts = rows[count - 1].timestamp;
		memcpy(next->id, rows[count - 1].id, STORE_ID_LEN);
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

/* ---- chats (migrations/0009_chats.sql) ---- */

/* ?1 limit, ?2 session, ?3/?4 the cursor (last_at, last_message_id): the
 * page is one range of chats_recent, then each chat's latest message by
 * its primary key. The phone: the number of a phone-number JID, or the one
 * the LID map holds for a LID. */
#define CHAT_PHONE "(CASE WHEN chats.chat LIKE '%@s.whatsapp.net' THEN '+' || " \
	"substr(chats.chat, 1, instr(chats.chat, '@') - 1) WHEN chats.chat LIKE '%@lid' THEN " \
	"(SELECT '+' || l.pn FROM wa_lid_map l WHERE l.session_id = chats.session_id AND " \
	"l.lid = substr(chats.chat, 1, instr(chats.chat, '@') - 1)) END)"
#define CHAT_PAGE(where) "SELECT " MSG_COLS ", c_unread, c_phone, c_archived FROM (SELECT " \
	"last_message_id AS c_mid, last_at AS c_at, unread AS c_unread, archived AS c_archived, " \
	CHAT_PHONE " AS c_phone FROM chats " \
	"WHERE session_id = ?2" where " ORDER BY last_at DESC, last_message_id DESC LIMIT ?1) " \
	"JOIN messages ON messages.id = c_mid ORDER BY c_at DESC, c_mid DESC"

static const char *const chat_sql[2] = {
	CHAT_PAGE(""),
	CHAT_PAGE(" AND (last_at < ?3 OR (last_at = ?3 AND last_message_id < ?4))"),
};

const char *store_sqlite_chat_list_sql(int after)
{
	return chat_sql[after != 0];
}

int store_chat_set_archived(struct store *st, const char *session_id, const char *chat,
			    bool archived)
{
	sqlite3_stmt *s;
	int rc;

	if (!session_id || !chat)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_CHAT_ARCHIVE);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	bind_text(s, 2, chat);
	sqlite3_bind_int(s, 3, archived);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? (sqlite3_changes(st->db) ? Y_OK : Y_ENOTFOUND)
			       : db_error(st, rc, "archive a chat");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void store_chats_free(struct store_chat *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].phone);
		store_message_release(&c[i].last);
	}
	free(c);
}

/* A row of a chat page: the message columns, then unread and phone. */
static int read_chat(sqlite3_stmt *s, void *row)
{
	struct store_chat *c = row;
	int rc = read_message(s, &c->last);

	if (!rc && (rc = col_str(s, 17, &c->phone)))
		store_message_release(&c->last);
	c->unread = sqlite3_column_int64(s, 16);
	c->archived = sqlite3_column_int(s, 18) != 0;
	return rc;
}

int store_chat_list(struct store *st, const char *session_id, const struct store_cursor *after,
		    int limit, struct store_chat **out, size_t *n, struct store_cursor *next,
		    int *has_next)
{
	struct store_chat *rows = NULL;
	size_t count = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	*has_next = 0;
	if (!session_id || limit < 1 || limit > STORE_LIST_MAX)
		return Y_EINVAL;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return Y_ENOMEM;
	pthread_mutex_lock(&st->mu);
	rc = session_exists_locked(st, session_id);
	if (rc)
		goto out;
	if (sqlite3_prepare_v2(st->db, chat_sql[after != NULL], -1, &s, NULL) != SQLITE_OK) {
		rc = db_error(st, sqlite3_errcode(st->db), "prepare the chat list");
		goto out;
	}
	sqlite3_bind_int(s, 1, limit + 1);
	bind_text(s, 2, session_id);
	if (after) {
		sqlite3_bind_int64(s, 3, after->ts);
		bind_cursor_id(s, 4, after);
	}
	rc = step_rows(st, s, limit, rows, sizeof(*rows), read_chat, &count, has_next,
		       "list chats");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_chats_free(rows, count);
		*has_next = 0;
		return rc;
	}
	if (*has_next && next) {
		next->ts = rows[count - 1].last.timestamp;
		memcpy(next->id, rows[count - 1].last.id, STORE_ID_LEN);
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

/* ---- webhook log and retention ---- */

int store_webhook_log_add(struct store *st, const char *session_id, const char *event,
			  const char *url, int http_status, int attempt, const char *error)
{
	sqlite3_stmt *s;
	int rc;

	if (!event || !url)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_HOOKLOG_ADD);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	bind_text(s, 2, event);
	bind_text(s, 3, url);
	sqlite3_bind_int(s, 4, http_status);
	sqlite3_bind_int(s, 5, attempt);
	bind_text(s, 6, error);
	sqlite3_bind_int64(s, 7, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "add webhook log");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* At most max rows of one table; *more when it had max. */
static int prune_one(struct store *st, enum stmt_id id, int64_t before, int64_t max,
		     int64_t *deleted, bool *more)
{
	sqlite3_stmt *s = prep(st, id);
	int rc;

	if (!s)
		return Y_EDB;
	sqlite3_bind_int64(s, 1, before);
	sqlite3_bind_int64(s, 2, max);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		int n = sqlite3_changes(st->db);

		*deleted += n;
		if (n >= max)
			*more = true;
	}
	done(s);
	return rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "prune");
}

int store_prune_batch(struct store *st, int64_t before, int64_t max, int64_t *deleted,
		      bool *more)
{
	int64_t count = 0;
	bool again = false;
	int rc;

	if (deleted)
		*deleted = 0;
	if (more)
		*more = false;
	if (max <= 0)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc)
		goto out;
	rc = prune_one(st, S_PRUNE_MSG, before, max, &count, &again);
	if (!rc)
		rc = prune_one(st, S_PRUNE_HOOKLOG, before, max, &count, &again);
	if (!rc)
		rc = prune_one(st, S_PRUNE_EVENTS, before, max, &count, &again);
	if (!rc)
		rc = prune_one(st, S_PRUNE_AUDIT, before, max, &count, &again);
	if (!rc) { /* sign-ins past their expiry, whatever RETENTION_DAYS says */
		int64_t gone = 0;

		rc = prune_one(st, S_PRUNE_WEBSESS, clock_now_ms(), max, &gone, &again);
	}
	if (!rc)
		rc = exec_stmt(st, S_COMMIT);
	if (rc) {
		exec_stmt(st, S_ROLLBACK);
		count = 0;
		again = false;
	}
out:
	pthread_mutex_unlock(&st->mu);
	if (deleted)
		*deleted = count;
	if (more)
		*more = again;
	return rc;
}

int store_prune(struct store *st, int64_t before, int64_t *deleted)
{
	int64_t total = 0;
	bool more = true;
	int rc = Y_OK;

	while (more && !rc) {
		int64_t n = 0;

		rc = store_prune_batch(st, before, STORE_PRUNE_BATCH, &n, &more);
		total += n;
	}
	if (deleted)
		*deleted = total;
	return rc;
}

/* ---- the event outbox, part 2, and webhook deliveries ---- */

void store_event_release(struct store_event *e)
{
	if (!e)
		return;
	free(e->type);
	free(e->data);
	e->type = e->data = NULL;
}

void store_events_free(struct store_event *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		store_event_release(&e[i]);
	free(e);
}

void store_set_event_hook(struct store *st, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&st->mu);
	st->event_hook = fn;
	st->event_hook_arg = arg;
	pthread_mutex_unlock(&st->mu);
}

int store_event_add(struct store *st, const char *session_id, const char *type,
		    const char *data, int64_t *id_out)
{
	int rc;

	if (!type || !*type || !data || data[0] != '{')
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = event_add_locked(st, session_id, type, data, id_out);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* A NULL-terminated list of names as a JSON array text (caller frees), NULL
 * for a NULL list. Names are [A-Za-z0-9._-] only (else Y_EINVAL), so no
 * escaping is needed. */
static int names_json(const char *const *names, char **out)
{
	size_t len = 3, at = 0;
	char *t;

	*out = NULL;
	if (!names)
		return Y_OK;
	for (size_t i = 0; names[i]; i++) {
		size_t n = strlen(names[i]);

		if (!n || n > 64 || strspn(names[i], "abcdefghijklmnopqrstuvwxyz"
					   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
			return Y_EINVAL;
		len += n + 3;
	}
	t = malloc(len);
	if (!t)
		return Y_ENOMEM;
	t[at++] = '[';
	for (size_t i = 0; names[i]; i++)
		at += (size_t)sprintf(t + at, "%s\"%s\"", i ? "," : "", names[i]);
	t[at++] = ']';
	t[at] = '\0';
	*out = t;
	return Y_OK;
}

static int read_event(sqlite3_stmt *s, int col, struct store_event *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(s, col);
	col_id(s, col + 1, e->session_id);
	rc = col_str(s, col + 2, &e->type);
	rc = rc ? rc : col_str(s, col + 3, &e->data);
	e->created_at = sqlite3_column_int64(s, col + 4);
	if (!rc && (!e->type || !e->data))
		rc = Y_EDB;
	if (rc)
		store_event_release(e);
	return rc;
}

int store_event_list(struct store *st, const char *session_id, int64_t after,
		     const char *const *types, int limit, struct store_event **out, size_t *n,
		     int *has_next)
{
	return store_event_list_scoped(st, NULL, session_id, after, types, limit, out, n,
				       has_next);
}

int store_event_list_scoped(struct store *st, const char *scope_key, const char *session_id,
			    int64_t after, const char *const *types, int limit,
			    struct store_event **out, size_t *n, int *has_next)
{
	static const char sql[] = "SELECT id, session_id, type, data, created_at FROM events "
				  "WHERE id > ?1 AND (?2 IS NULL OR session_id = ?2) AND "
				  "(?3 IS NULL OR type IN (SELECT value FROM json_each(?3))) AND "
				  "(?5 IS NULL OR session_id IN (SELECT session_id FROM "
				  "api_key_sessions WHERE key_id = ?5)) "
				  "ORDER BY id LIMIT ?4";
	struct store_event *rows;
	sqlite3_stmt *s = NULL;
	size_t count = 0;
	char *tj;
	int rc;

	*out = NULL;
	*n = 0;
	*has_next = 0;
	if (limit < 1 || limit > STORE_LIST_MAX)
		return Y_EINVAL;
	rc = names_json(types, &tj);
	if (rc)
		return rc;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows) {
		free(tj);
		return Y_ENOMEM;
	}
	pthread_mutex_lock(&st->mu);
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = db_error(st, rc, "list events");
		goto out;
	}
	sqlite3_bind_int64(s, 1, after);
	bind_text(s, 2, session_id);
	bind_text(s, 3, tj);
	sqlite3_bind_int(s, 4, limit + 1);
	bind_text(s, 5, scope_key);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == (size_t)limit) {
			*has_next = 1;
			break;
		}
		rc = read_event(s, 0, &rows[count]);
		if (rc)
			goto out;
		count++;
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "list events");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	free(tj);
	if (rc) {
		store_events_free(rows, count);
		*has_next = 0;
		return rc;
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

/* One int64 from a single-row statement (mutex held); binds none. */
static int scalar_locked(struct store *st, enum stmt_id id, int64_t *v)
{
	sqlite3_stmt *s = prep(st, id);
	int rc;

	if (!s)
		return Y_EDB;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	rc = rc == SQLITE_ROW ? Y_OK : db_error(st, rc, stmt_sql[id]);
	done(s);
	return rc;
}

int store_event_last(struct store *st, int64_t *id)
{
	int rc;

	*id = 0;
	pthread_mutex_lock(&st->mu);
	rc = scalar_locked(st, S_EV_LAST, id);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void store_deliveries_free(struct store_delivery *d, size_t n)
{
	if (!d)
		return;
	for (size_t i = 0; i < n; i++) {
		free(d[i].url);
		store_event_release(&d[i].ev);
	}
	free(d);
}

#define FANOUT_CURSOR "webhook"

int store_webhook_fanout(struct store *st, const char *global_url,
			 const char *const *global_types, int limit, int *events)
{
	int64_t cur = 0, upto = 0, now = clock_now_ms();
	sqlite3_stmt *s;
	char *tj;
	int rc;

	*events = 0;
	if (limit < 1)
		return Y_EINVAL;
	rc = names_json(global_types, &tj);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc)
		goto out;
	s = prep(st, S_CURSOR_GET);
	if (!s) {
		rc = Y_EDB;
		goto end;
	}
	bind_text(s, 1, FANOUT_CURSOR);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		cur = sqlite3_column_int64(s, 0);
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "read fanout cursor");
	done(s);
	if (rc || !(s = prep(st, S_FAN_MAX))) {
		rc = rc ? rc : Y_EDB;
		goto end;
	}
	sqlite3_bind_int64(s, 1, cur);
	sqlite3_bind_int(s, 2, limit);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		upto = sqlite3_column_int64(s, 0);
	rc = rc == SQLITE_ROW ? Y_OK : db_error(st, rc, "fanout range");
	done(s);
	if (rc || upto <= cur)
		goto end;
	for (int k = 0; k < 2 && !rc; k++) {
		if (k == 1 && !global_url)
			break;
		s = prep(st, k ? S_FAN_GLOBAL_ALL : S_FAN_SESSION);
		if (!s) {
			rc = Y_EDB;
			break;
		}
		sqlite3_bind_int64(s, 1, cur);
		sqlite3_bind_int64(s, 2, upto);
		sqlite3_bind_int64(s, 3, now);
		if (k) {
			bind_text(s, 4, global_url);
			bind_text(s, 5, tj);
		}
		rc = sqlite3_step(s);
		done(s);
		rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "fan out events");
	}
	if (!rc && (s = prep(st, S_CURSOR_PUT))) {
		bind_text(s, 1, FANOUT_CURSOR);
		sqlite3_bind_int64(s, 2, upto);
		rc = sqlite3_step(s);
		done(s);
		rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "move fanout cursor");
	} else if (!rc) {
		rc = Y_EDB;
	}
	if (!rc)
		*events = (int)(upto - cur); /* ids have gaps only after a rollback: an upper bound */
end:
	rc = tx_end(st, rc);
	if (rc)
		*events = 0;
out:
	pthread_mutex_unlock(&st->mu);
	free(tj);
	return rc;
}

int store_webhook_due(struct store *st, int64_t now, int limit, struct store_delivery **out,
		      size_t *n, int64_t *next_due)
{
	struct store_delivery *rows;
	size_t count = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	*next_due = 0;
	if (limit < 1 || limit > STORE_LIST_MAX)
		return Y_EINVAL;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return Y_ENOMEM;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_DUE);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	sqlite3_bind_int(s, 1, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_delivery *d = &rows[count];
		int64_t at = sqlite3_column_int64(s, 4);
		const unsigned char *kind = sqlite3_column_text(s, 2);

		if (at > now) { /* ordered by next_at: the rest are later */
			*next_due = at;
			break;
		}
		d->id = sqlite3_column_int64(s, 0);
		d->attempts = sqlite3_column_int(s, 1);
		snprintf(d->kind, sizeof(d->kind), "%s", kind ? (const char *)kind : "");
		rc = col_str(s, 3, &d->url);
		rc = rc ? rc : read_event(s, 5, &d->ev);
		if (!rc && !d->url)
			rc = Y_EDB;
		if (rc) {
			free(d->url);
			goto out;
		}
		count++;
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "due deliveries");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_deliveries_free(rows, count);
		*next_due = 0;
		return rc;
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

int store_webhook_attempt(struct store *st, const struct store_attempt *a)
{
	int64_t now = clock_now_ms();
	sqlite3_stmt *s;
	int rc;

	if (!a || !a->state)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc)
		goto out;
	s = prep(st, S_DLV_LOG);
	if (!s) {
		rc = Y_EDB;
	} else {
		sqlite3_bind_int64(s, 1, a->delivery_id);
		sqlite3_bind_int(s, 2, a->http_status);
		sqlite3_bind_int(s, 3, a->attempt);
		bind_text(s, 4, a->error);
		sqlite3_bind_int64(s, 5, now);
		sqlite3_bind_int64(s, 6, a->duration_ms);
		rc = sqlite3_step(s);
		done(s);
		rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "log webhook attempt");
	}
	if (!rc && (s = prep(st, S_DLV_UPDATE))) {
		sqlite3_bind_int64(s, 1, a->delivery_id);
		bind_text(s, 2, a->state);
		sqlite3_bind_int(s, 3, a->attempt);
		sqlite3_bind_int64(s, 4, a->next_at);
		sqlite3_bind_int64(s, 5, now);
		rc = sqlite3_step(s);
		done(s);
		rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "update delivery");
	} else if (!rc) {
		rc = Y_EDB;
	}
	rc = tx_end(st, rc);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_webhook_replay(struct store *st, const char *session_id, int64_t event_id, int *n)
{
	sqlite3_stmt *s;
	int rc;

	*n = 0;
	if (!session_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_DLV_REPLAY);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	sqlite3_bind_int64(s, 2, event_id);
	sqlite3_bind_int64(s, 3, clock_now_ms());
	rc = sqlite3_step(s);
	done(s);
	if (rc == SQLITE_DONE) {
		*n = sqlite3_changes(st->db);
		rc = *n ? Y_OK : Y_ENOTFOUND;
		if (*n && st->event_hook)
			st->event_hook(st->event_hook_arg); /* wakes the sender */
	} else {
		rc = db_error(st, rc, "replay delivery");
	}
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void store_hooklogs_free(struct store_hooklog *l, size_t n)
{
	if (!l)
		return;
	for (size_t i = 0; i < n; i++) {
		free(l[i].event);
		free(l[i].url);
		free(l[i].error);
	}
	free(l);
}

int store_webhook_log_list(struct store *st, const char *session_id, int64_t before,
			   int success, int limit, struct store_hooklog **out, size_t *n,
			   int *has_next)
{
	struct store_hooklog *rows;
	size_t count = 0;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	*has_next = 0;
	if (!session_id || limit < 1 || limit > STORE_LIST_MAX)
		return Y_EINVAL;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return Y_ENOMEM;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_HOOKLOG_LIST);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	sqlite3_bind_int64(s, 2, before);
	sqlite3_bind_int(s, 3, success);
	sqlite3_bind_int(s, 4, limit + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_hooklog *l = &rows[count];

		if (count == (size_t)limit) {
			*has_next = 1;
			break;
		}
		l->id = sqlite3_column_int64(s, 0);
		l->event_id = sqlite3_column_int64(s, 1);
		rc = col_str(s, 2, &l->event);
		rc = rc ? rc : col_str(s, 3, &l->url);
		l->http_status = sqlite3_column_int(s, 4);
		l->attempt = sqlite3_column_int(s, 5);
		rc = rc ? rc : col_str(s, 6, &l->error);
		l->duration_ms = sqlite3_column_int64(s, 7);
		l->created_at = sqlite3_column_int64(s, 8);
		count++;
		if (rc)
			goto out;
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "list webhook log");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_hooklogs_free(rows, count);
		*has_next = 0;
		return rc;
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

/* ---- Signal records ---- */

static int signal_args_ok(const char *session_id, int kind, const char *key)
{
	return session_id && key && kind >= 0 && kind < STORE_SIGNAL_KINDS;
}

static void bind_sig_key(sqlite3_stmt *s, const char *session_id, int kind, const char *key)
{
	bind_text(s, 1, session_id);
	sqlite3_bind_int(s, 2, kind);
	bind_text(s, 3, key);
}

int store_signal_get(struct store *st, const char *session_id, int kind, const char *key,
		     uint8_t **data, size_t *len)
{
	sqlite3_stmt *s;
	int rc;

	*data = NULL;
	*len = 0;
	if (!signal_args_ok(session_id, kind, key))
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_SIG_GET);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_sig_key(s, session_id, kind, key);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0);

		*data = malloc(n ? n : 1);
		if (!*data) {
			rc = Y_ENOMEM;
			goto out;
		}
		if (n)
			memcpy(*data, b, n);
		*len = n;
		rc = Y_OK;
	} else {
		rc = rc == SQLITE_DONE ? Y_ENOTFOUND : db_error(st, rc, "get signal record");
	}
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* The smallest string above every string starting with prefix (the prefix
 * with its last byte below 0xFF incremented, later bytes cut), written into
 * out; 0 when there is none (every string then qualifies). */
static size_t prefix_upper(const char *prefix, char *out, size_t cap)
{
	size_t n = strlen(prefix);

	if (n >= cap)
		return 0;
	memcpy(out, prefix, n);
	while (n > 0 && (unsigned char)out[n - 1] == 0xFF)
		n--;
	if (n == 0)
		return 0;
	out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
	out[n] = '\0';
	return n;
}

int store_signal_keys(struct store *st, const char *session_id, int kind, const char *prefix,
		      int (*fn)(const char *key, void *arg), void *arg)
{
	char upper[512];
	size_t ulen, plen, n = 0, cap = 0;
	char **keys = NULL;
	sqlite3_stmt *s;
	int rc;

	if (!signal_args_ok(session_id, kind, prefix) || !fn)
		return Y_EINVAL;
	plen = strlen(prefix);
	ulen = prefix_upper(prefix, upper, sizeof upper);
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_SIG_KEYS);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_sig_key(s, session_id, kind, prefix);
	if (ulen)
		sqlite3_bind_text(s, 4, upper, (int)ulen, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);

		if (!k || strncmp(k, prefix, plen))
			continue; /* the range is only a hint: the prefix decides */
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nk = realloc(keys, nc * sizeof(*nk));
			if (!nk) {
				rc = Y_ENOMEM;
				goto out;
			}
			keys = nk;
			cap = nc;
		}
		keys[n] = strdup(k);
		if (!keys[n]) {
			rc = Y_ENOMEM;
			goto out;
		}
		n++;
	}
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "list signal keys");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = fn(keys[i], arg);
		free(keys[i]);
	}
	free(keys);
	return rc;
}

/* Removing a one-time prekey record also drops its wa_prekeys row: the
 * private key is gone once a peer used it. */
static int signal_drop_prekey(struct store *st, const struct store_signal_op *o)
{
	char *end;
	unsigned long id = strtoul(o->key, &end, 10);

	if (o->kind != STORE_SIGNAL_KIND_PREKEY || !*o->key || *end || id > 0xFFFFFF)
		return Y_OK;
	return exec_sid(st, S_PREKEY_DELETE, o->session_id, (int64_t)id, 1);
}

static int signal_write_one(struct store *st, const struct store_signal_op *o)
{
	enum stmt_id id = o->data ? S_SIG_PUT : S_SIG_DEL;
	sqlite3_stmt *s;
	int rc;

	if (!signal_args_ok(o->session_id, o->kind, o->key))
		return Y_EINVAL;
	s = prep(st, id);
	if (!s)
		return Y_EDB;
	bind_sig_key(s, o->session_id, o->kind, o->key);
	if (o->data)
		sqlite3_bind_blob(s, 4, o->len ? (const void *)o->data : "", (int)o->len,
				  SQLITE_STATIC);
	rc = sqlite3_step(s);
	done(s);
	if (rc != SQLITE_DONE)
		return db_error(st, rc, stmt_sql[id]);
	return o->data ? Y_OK : signal_drop_prekey(st, o);
}

int store_signal_write(struct store *st, const struct store_signal_op *ops, size_t n)
{
	int rc;

	if (n && !ops)
		return Y_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (ops[i].data && ops[i].len > INT32_MAX)
			return Y_ETOOBIG;
	if (!n)
		return Y_OK;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	for (size_t i = 0; !rc && i < n; i++)
		rc = signal_write_one(st, &ops[i]);
	if (!rc)
		rc = exec_stmt(st, S_COMMIT);
	else if (sqlite3_get_autocommit(st->db) == 0)
		exec_stmt(st, S_ROLLBACK);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_signal_count(struct store *st, const char *session_id, int64_t *counts)
{
	sqlite3_stmt *s;
	int rc;

	for (int k = 0; k < STORE_SIGNAL_KINDS; k++)
		counts[k] = 0;
	if (!session_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_SIG_COUNT);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int k = sqlite3_column_int(s, 0);
		if (k >= 0 && k < STORE_SIGNAL_KINDS)
			counts[k] = sqlite3_column_int64(s, 1);
	}
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "count signal records");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- app state ---- */

int store_appstate_put(struct store *st, const char *session_id, const struct store_appstate *r)
{
	sqlite3_stmt *s;
	int rc;

	if (!session_id || !r || !r->name_len || r->name_len > sizeof(r->name) ||
	    r->len > STORE_APPSTATE_DATA_MAX || (r->kind != STORE_AS_KEY &&
						 r->kind != STORE_AS_COLLECTION))
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_APPSTATE_PUT);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	sqlite3_bind_int(s, 2, r->kind);
	sqlite3_bind_blob(s, 3, r->name, (int)r->name_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 4, r->len ? r->data : (const void *)"", (int)r->len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, r->t);
	sqlite3_bind_int64(s, 6, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "put app state");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void store_appstate_free(struct store_appstate *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].data);
	free(v);
}

int store_appstate_all(struct store *st, const char *session_id, struct store_appstate **out,
		       size_t *n)
{
	sqlite3_stmt *s;
	struct store_appstate *v = NULL;
	size_t cap = 0, count = 0;
	int rc;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_APPSTATE_ALL);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(s, 0);
		int nl = sqlite3_column_bytes(s, 1), dl = sqlite3_column_bytes(s, 2);
		struct store_appstate *e;

		if ((kind != STORE_AS_KEY && kind != STORE_AS_COLLECTION) || nl <= 0 ||
		    (size_t)nl > sizeof(v->name) || dl < 0 || (size_t)dl > STORE_APPSTATE_DATA_MAX)
			continue; /* not one we wrote */
		if (count == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct store_appstate *nv = realloc(v, nc * sizeof(*v));

			if (!nv) {
				rc = Y_ENOMEM;
				goto out;
			}
			v = nv;
			cap = nc;
		}
		e = &v[count];
		memset(e, 0, sizeof(*e));
		if (!(e->data = malloc(dl ? (size_t)dl : 1))) {
			rc = Y_ENOMEM;
			goto out;
		}
		count++;
		e->kind = kind;
		e->name_len = (size_t)nl;
		memcpy(e->name, sqlite3_column_blob(s, 1), (size_t)nl);
		e->len = (size_t)dl;
		if (dl)
			memcpy(e->data, sqlite3_column_blob(s, 2), (size_t)dl);
		e->t = sqlite3_column_int64(s, 3);
	}
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "list app state");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_appstate_free(v, count);
		return rc;
	}
	*out = v;
	*n = count;
	return Y_OK;
}

/* ---- privacy tokens ---- */

int store_tctoken_put(struct store *st, const char *session_id, const struct store_tctoken *t)
{
	sqlite3_stmt *s;
	int rc;

	if (!session_id || !t || !t->jid[0] || t->len > sizeof(t->token))
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_TCTOKEN_PUT);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	bind_text(s, 2, t->jid);
	sqlite3_bind_blob(s, 3, t->len ? t->token : (const void *)"", (int)t->len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, t->t);
	sqlite3_bind_int64(s, 5, t->sender_t);
	sqlite3_bind_int64(s, 6, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "put tctoken");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_tctokens_all(struct store *st, const char *session_id, struct store_tctoken **out,
		       size_t *n)
{
	sqlite3_stmt *s;
	struct store_tctoken *v = NULL;
	size_t cap = 0, count = 0;
	int rc;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_TCTOKENS_ALL);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *jid = (const char *)sqlite3_column_text(s, 0);
		int len = sqlite3_column_bytes(s, 1);
		struct store_tctoken *e;

		if (!jid || !*jid || strlen(jid) >= sizeof(v->jid) || len < 0 ||
		    (size_t)len > sizeof(v->token))
			continue; /* not one we wrote */
		if (count == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct store_tctoken *nv = realloc(v, nc * sizeof(*v));

			if (!nv) {
				rc = Y_ENOMEM;
				goto out;
			}
			v = nv;
			cap = nc;
		}
		e = &v[count++];
		memset(e, 0, sizeof(*e));
		memcpy(e->jid, jid, strlen(jid) + 1);
		e->len = (size_t)len;
		if (len)
			memcpy(e->token, sqlite3_column_blob(s, 1), (size_t)len);
		e->t = sqlite3_column_int64(s, 2);
		e->sender_t = sqlite3_column_int64(s, 3);
	}
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "list tctokens");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = count;
	return Y_OK;
}

/* ---- LID map ---- */

int store_lid_put(struct store *st, const char *session_id, const char *lid, const char *pn)
{
	sqlite3_stmt *s;
	int rc;

	if (!session_id || !lid || !*lid || !pn || !*pn)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, S_LID_PUT);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	bind_text(s, 2, lid);
	bind_text(s, 3, pn);
	sqlite3_bind_int64(s, 4, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "put lid mapping");
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int lid_get(struct store *st, enum stmt_id id, const char *session_id, const char *v,
		   char **out)
{
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	if (!session_id || !v)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = prep(st, id);
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, session_id);
	bind_text(s, 2, v);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = col_str(s, 0, out);
	else
		rc = rc == SQLITE_DONE ? Y_ENOTFOUND : db_error(st, rc, stmt_sql[id]);
out:
	done(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_lid_get_pn(struct store *st, const char *session_id, const char *lid, char **pn)
{
	return lid_get(st, S_LID_GET_PN, session_id, lid, pn);
}

int store_lid_get_lid(struct store *st, const char *session_id, const char *pn, char **lid)
{
	return lid_get(st, S_LID_GET_LID, session_id, pn, lid);
}

/* ---- durability and the read connection ---- */

int store_set_durability(struct store *st, enum store_durability d)
{
	int rc;

	if (d != STORE_DURABILITY_NORMAL && d != STORE_DURABILITY_FULL)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_sql(st, d == STORE_DURABILITY_FULL ? "PRAGMA synchronous = FULL"
						     : "PRAGMA synchronous = NORMAL");
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_sqlite_synchronous(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int v = -1;

	pthread_mutex_lock(&st->mu);
	if (sqlite3_prepare_v2(st->db, "PRAGMA synchronous", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return v;
}

int store_open_reader(const char *url, struct store **out)
{
	struct store *st = NULL;
	const char *path = NULL;
	sqlite3_stmt *s = NULL;
	int rc, version = -1;

	*out = NULL;
	rc = url_path(url, &path);
	if (rc)
		return rc;
	if (!strcmp(path, ":memory:"))
		return Y_EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return Y_ENOMEM;
	pthread_mutex_init(&st->mu, NULL);
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		LOG_ERROR("store: cannot open the database for reading", "{s:s, s:s}", "path", path,
			  "error", st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		rc = Y_EDB;
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	rc = exec_sql(st, "PRAGMA query_only = ON");
	if (rc)
		goto fail;
	rc = sqlite3_prepare_v2(st->db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
				-1, &s, NULL);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version != store_migrations_count) {
		LOG_ERROR("store: the read connection found another schema version", "{s:i, s:i}",
			  "database_version", version, "known_version", store_migrations_count);
		rc = version < 0 ? Y_EDB : Y_EVERSION;
		goto fail;
	}
	*out = st;
	return Y_OK;
fail:
	store_close(st);
	return rc;
}

/* ---- message kinds: reactions, edits, revokes (issue 15) ----
 * Ad hoc statements (prepared per call): these run once per such message. */

#define ISO_MS(p) "strftime('%Y-%m-%dT%H:%M:%fZ', " p " / 1000.0, 'unixepoch')"

static int adhoc(struct store *st, const char *sql, sqlite3_stmt **s)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, s, NULL);

	return rc == SQLITE_OK ? Y_OK : db_error(st, rc, sql);
}

static int adhoc_run(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? Y_OK : db_error(st, rc, what);
}

/* The target row of an effect, by WhatsApp id (mutex held). */
struct fx_target {
	int found, outbound;
	char id[STORE_ID_LEN];
	char *from_jid, *type, *text;
};

static int fx_target_get(struct store *st, const char *session_id, const char *wa_id,
			 struct fx_target *t)
{
	sqlite3_stmt *s;
	int rc = adhoc(st, "SELECT id, direction, from_jid, type, text FROM messages "
			   "WHERE session_id = ?1 AND wa_id = ?2", &s);

	memset(t, 0, sizeof(*t));
	if (rc)
		return rc;
	bind_text(s, 1, session_id);
	bind_text(s, 2, wa_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		t->found = 1;
		col_id(s, 0, t->id);
		t->outbound = sqlite3_column_text(s, 1) &&
			      !strcmp((const char *)sqlite3_column_text(s, 1), "outbound");
		rc = col_str(s, 2, &t->from_jid);
		rc = rc ? rc : col_str(s, 3, &t->type);
		rc = rc ? rc : col_str(s, 4, &t->text);
	} else {
		rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "find effect target");
	}
	sqlite3_finalize(s);
	return rc;
}

static void fx_target_release(struct fx_target *t)
{
	free(t->from_jid);
	free(t->type);
	free(t->text);
}

static int fx_event_locked(struct store *st, const struct store_message *m,
			   const struct store_effect *fx, const struct fx_target *t)
{
	static const char *const names[] = { NULL, "message.reaction", "message.edited",
					     "message.revoked", "message.poll_vote" };
	sqlite3_stmt *s;
	int rc = adhoc(st,
		       "INSERT INTO events (session_id, type, data, created_at) VALUES (?1, ?2, "
		       "json_patch('{}', json_object('messageId', ?3, 'waId', ?4, 'chat', ?5, "
		       "'from', CASE WHEN ?6 LIKE '%@s.whatsapp.net' THEN '+' || "
		       "substr(?6, 1, instr(?6, '@') - 1) END, 'fromJid', ?6, 'emoji', ?7, "
		       "'removed', CASE WHEN ?7 IS NULL THEN NULL WHEN ?7 = '' THEN json('true') "
		       "ELSE json('false') END, 'text', ?8, 'previousText', ?9, "
		       "'actionId', ?10, 'actionWaId', ?11, 'timestamp', " ISO_MS("?12") ", "
		       "'selected', CASE WHEN json_valid(?14) THEN json_extract(?14, '$.selected') END)), ?13)",
		       &s);

	if (rc)
		return rc;
	bind_text(s, 1, m->session_id);
	bind_text(s, 2, names[fx->kind]);
	bind_text(s, 3, t->found ? t->id : NULL);
	bind_text(s, 4, fx->target_wa_id);
	bind_text(s, 5, m->chat);
	bind_text(s, 6, m->from_jid);
	bind_text(s, 7, fx->kind == STORE_FX_REACTION ? (fx->emoji ? fx->emoji : "") : NULL);
	bind_text(s, 8, fx->kind == STORE_FX_EDIT ? fx->text : NULL);
	bind_text(s, 9, fx->kind != STORE_FX_REACTION ? t->text : NULL);
	bind_text(s, 10, m->id);
	bind_text(s, 11, m->wa_id);
	sqlite3_bind_int64(s, 12, m->timestamp);
	sqlite3_bind_int64(s, 13, clock_now_ms());
	bind_text(s, 14, fx->kind == STORE_FX_VOTE ? m->body : NULL);
	rc = adhoc_run(st, s, "add effect event");
	if (!rc && st->event_hook)
		st->event_hook(st->event_hook_arg);
	return rc;
}

/* Edits and revokes apply only to a message of the same author: ours for
 * ours, the same sender's for theirs (neither library checks; we do). */
static int fx_author_ok(const struct store_message *m, const struct fx_target *t)
{
	if (!t->found || t->outbound != !!m->from_me)
		return 0;
	return m->from_me || (t->from_jid && m->from_jid && !strcmp(t->from_jid, m->from_jid));
}

static int fx_apply_locked(struct store *st, const struct store_message *m,
			   const struct store_effect *fx, const struct fx_target *t)
{
	sqlite3_stmt *s;
	int64_t now = clock_now_ms();
	int rc;

	if (fx->kind == STORE_FX_EDIT)
		rc = adhoc(st,
			   "UPDATE messages SET text = ?3, updated_at = ?4, body = json_set("
			   "json_insert(json_insert(CASE WHEN json_valid(body) THEN body ELSE '{}' END, "
			   "'$.history', json('[]')), '$.history[#]', json_object('text', text, "
			   "'replacedAt', " ISO_MS("?4") ")), '$.text', ?3, '$.edited', json('true'), "
			   "'$.editedAt', " ISO_MS("?4") ") WHERE id = ?1 AND session_id = ?2",
			   &s);
	else
		rc = adhoc(st,
			   "UPDATE messages SET text = NULL, updated_at = ?4, body = json_object("
			   "'revoked', json('true'), 'revokedAt', " ISO_MS("?4") ", 'previous', "
			   "CASE WHEN json_valid(body) THEN json(body) END) "
			   "WHERE id = ?1 AND session_id = ?2",
			   &s);
	if (rc)
		return rc;
	bind_text(s, 1, t->id);
	bind_text(s, 2, m->session_id);
	bind_text(s, 3, fx->kind == STORE_FX_EDIT ? fx->text : NULL);
	sqlite3_bind_int64(s, 4, now);
	return adhoc_run(st, s, "apply effect");
}

int store_message_insert_effect(struct store *st, struct store_message *m,
				const struct store_effect *fx, int *applied)
{
	struct fx_target t;
	int rc = message_defaults(m), ok = 0;

	if (applied)
		*applied = 0;
	if (rc)
		return rc;
	if (!fx || fx->kind < STORE_FX_REACTION || fx->kind > STORE_FX_VOTE || !fx->target_wa_id)
		return Y_EINVAL;
	memset(&t, 0, sizeof(t));
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc) {
		pthread_mutex_unlock(&st->mu);
		return rc;
	}
	rc = message_add_locked(st, m, 1);
	rc = rc ?: fx_target_get(st, m->session_id, fx->target_wa_id, &t);
	if (!rc) {
		/* a reaction is its own record (store_message_reactions reads the
		 * rows); an edit or revoke changes its target, keeping the history */
		if (fx->kind == STORE_FX_REACTION)
			ok = 1;
		else if (fx->kind == STORE_FX_VOTE) /* counted when it was decrypted */
			ok = t.found && m->body && strstr(m->body, "\"selected\":") != NULL;
		else if (fx_author_ok(m, &t) && !(t.type && !strcmp(t.type, "revoke")) &&
			 (fx->kind == STORE_FX_REVOKE || (t.type && !strcmp(t.type, "text"))))
			ok = !(rc = fx_apply_locked(st, m, fx, &t));
		else
			LOG_INFO("store: edit or revoke ignored (unknown target or another author)",
				 "{s:s, s:s}", "target", fx->target_wa_id, "wa_id",
				 m->wa_id ? m->wa_id : "");
	}
	if (!rc && ok && !m->from_me)
		rc = fx_event_locked(st, m, fx, &t);
	rc = tx_end(st, rc);
	pthread_mutex_unlock(&st->mu);
	fx_target_release(&t);
	if (!rc && applied)
		*applied = ok;
	return rc;
}

/* Runs sql with ?1 session_id, ?2 wa_id and returns its one text into *out. */
static int text_query(struct store *st, const char *sql, const char *session_id,
		      const char *wa_id, char **out)
{
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	rc = adhoc(st, sql, &s);
	if (!rc) {
		bind_text(s, 1, session_id);
		bind_text(s, 2, wa_id);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_ROW ? col_str(s, 0, out) : db_error(st, rc, "aggregate query");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_message_reactions(struct store *st, const char *session_id, const char *wa_id,
			    char **json_out)
{
	/* the latest reaction of each author; an empty emoji removed theirs */
	return text_query(st,
		   "SELECT coalesce(json_group_array(json_object('emoji', emoji, 'from', "
		   "CASE WHEN from_jid LIKE '%@s.whatsapp.net' THEN '+' || substr(from_jid, 1, "
		   "instr(from_jid, '@') - 1) END, 'fromJid', from_jid, 'fromMe', "
		   "json(CASE WHEN direction = 'outbound' THEN 'true' ELSE 'false' END), "
		   "'timestamp', " ISO_MS("ts") ")), '[]') FROM ("
		   "SELECT json_extract(body, '$.emoji') AS emoji, from_jid, direction, "
		   "timestamp AS ts, row_number() OVER (PARTITION BY coalesce(from_jid, direction) "
		   "ORDER BY timestamp DESC, created_at DESC, rowid DESC) AS rn FROM messages "
		   "WHERE session_id = ?1 AND type = 'reaction' AND status != 'failed' AND "
		   "json_valid(body) AND json_extract(body, '$.target.id') = ?2) "
		   "WHERE rn = 1 AND emoji != ''",
		   session_id, wa_id, json_out);
}

int store_message_delete(struct store *st, const char *session_id, const char *id)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = adhoc(st, "DELETE FROM messages WHERE session_id = ?1 AND id = ?2", &s);
	if (!rc) {
		bind_text(s, 1, session_id);
		bind_text(s, 2, id);
		rc = adhoc_run(st, s, "delete message");
		if (!rc && !sqlite3_changes(st->db))
			rc = Y_ENOTFOUND;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_chat_unread(struct store *st, const char *session_id, const char *chat,
		      const char *upto_id, struct store_message **out, size_t *n)
{
	struct store_message *rows = calloc(STORE_LIST_MAX, sizeof(*rows));
	size_t count = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!rows)
		return Y_ENOMEM;
	pthread_mutex_lock(&st->mu);
	rc = adhoc(st,
		   "SELECT " MSG_COLS " FROM messages WHERE session_id = ?1 AND chat = ?2 AND "
		   "direction = 'inbound' AND status = 'received' AND (?3 IS NULL OR "
		   "(timestamp, rowid) <= (SELECT timestamp, rowid FROM messages WHERE id = ?3)) AND "
		   "wa_id IS NOT NULL AND type NOT IN ('reaction', 'edit', 'revoke') "
		   "ORDER BY timestamp, id LIMIT ?4",
		   &s);
	if (!rc) {
		bind_text(s, 1, session_id);
		bind_text(s, 2, chat);
		bind_text(s, 3, upto_id);
		sqlite3_bind_int(s, 4, STORE_LIST_MAX);
		while (!rc && (rc = sqlite3_step(s)) == SQLITE_ROW)
			if (!(rc = read_message(s, &rows[count])))
				count++;
		if (rc == SQLITE_DONE)
			rc = Y_OK;
		else if (rc > 0)
			rc = db_error(st, rc, "list unread messages");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_messages_free(rows, count);
		return rc;
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

int store_message_get_wa(struct store *st, const char *session_id, const char *wa_id,
			 struct store_message *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->mu);
	rc = adhoc(st, "SELECT " MSG_COLS " FROM messages WHERE session_id = ?1 AND wa_id = ?2", &s);
	if (!rc) {
		bind_text(s, 1, session_id);
		bind_text(s, 2, wa_id);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_ROW ? read_message(s, out)
		     : rc == SQLITE_DONE ? Y_ENOTFOUND : db_error(st, rc, "get message by wa id");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_poll_votes(struct store *st, const char *session_id, const char *wa_id,
		     char **json_out)
{
	return text_query(st,
		   "SELECT coalesce(json_group_array(json_object('from', CASE WHEN from_jid LIKE "
		   "'%@s.whatsapp.net' THEN '+' || substr(from_jid, 1, instr(from_jid, '@') - 1) "
		   "WHEN from_jid LIKE '%@lid' THEN (SELECT '+' || l.pn FROM wa_lid_map l WHERE "
		   "l.session_id = ?1 AND l.lid = substr(from_jid, 1, instr(from_jid, '@') - 1)) END, "
		   "'fromJid', from_jid, 'selected', json(sel), 'timestamp', " ISO_MS("ts") ")), '[]') "
		   "FROM (SELECT json_extract(body, '$.selected') AS sel, from_jid, timestamp AS ts, "
		   "row_number() OVER (PARTITION BY from_jid ORDER BY json_extract(body, "
		   "'$.senderTimestampMs') DESC, timestamp DESC, rowid DESC) AS rn FROM messages "
		   "WHERE session_id = ?1 AND type = 'poll_vote' AND json_valid(body) AND "
		   "json_extract(body, '$.target.id') = ?2 AND json_extract(body, '$.selected') IS "
		   "NOT NULL) WHERE rn = 1 AND json_array_length(sel) > 0",
		   session_id, wa_id, json_out);
}

/* ---- for the other parts of the SQLite store (store_sqlite_int.h) ---- */

sqlite3 *store_sqlite_lock(struct store *st)
{
	pthread_mutex_lock(&st->mu);
	return st->db;
}

void store_sqlite_unlock(struct store *st)
{
	pthread_mutex_unlock(&st->mu);
}

/* ---- media of messages (migrations/0010_media.sql) ----
 * Statements prepared per call (not in the cached table): media rows change
 * once or twice per message. */

#define MEDIA_COLS "message_id, session_id, kind, mimetype, file_name, url, direct_path, " \
		   "media_key, file_sha256, file_enc_sha256, file_length, state, path, reason, " \
		   "created_at, updated_at"

void store_media_release(struct store_media *m)
{
	if (!m)
		return;
	free(m->kind);
	free(m->mimetype);
	free(m->file_name);
	free(m->url);
	free(m->direct_path);
	free(m->state);
	free(m->path);
	free(m->reason);
	memset(m, 0, sizeof(*m));
}

void store_media_free(struct store_media *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		store_media_release(&m[i]);
	free(m);
}

static sqlite3_stmt *media_prep(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK) {
		db_error(st, rc, sql);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/* Copies blob column i into out when it is exactly n bytes (else zeros). */
static void col_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t n)
{
	const void *b = sqlite3_column_blob(s, i);

	if (b && (size_t)sqlite3_column_bytes(s, i) == n)
		memcpy(out, b, n);
	else
		memset(out, 0, n);
}

static int read_media(sqlite3_stmt *s, struct store_media *m)
{
	int rc;

	memset(m, 0, sizeof(*m));
	col_id(s, 0, m->message_id);
	col_id(s, 1, m->session_id);
	rc = col_str(s, 2, &m->kind);
	rc = rc ?: col_str(s, 3, &m->mimetype);
	rc = rc ?: col_str(s, 4, &m->file_name);
	rc = rc ?: col_str(s, 5, &m->url);
	rc = rc ?: col_str(s, 6, &m->direct_path);
	col_blob(s, 7, m->media_key, sizeof(m->media_key));
	col_blob(s, 8, m->file_sha256, sizeof(m->file_sha256));
	col_blob(s, 9, m->file_enc_sha256, sizeof(m->file_enc_sha256));
	m->file_length = sqlite3_column_int64(s, 10);
	rc = rc ?: col_str(s, 11, &m->state);
	rc = rc ?: col_str(s, 12, &m->path);
	rc = rc ?: col_str(s, 13, &m->reason);
	m->created_at = sqlite3_column_int64(s, 14);
	m->updated_at = sqlite3_column_int64(s, 15);
	if (rc)
		store_media_release(m);
	return rc;
}

int store_media_insert(struct store *st, const struct store_media *m)
{
	static const char *const states[] = { "pending", "done", "failed", "skipped", NULL };
	sqlite3_stmt *s;
	int64_t now = clock_now_ms();
	int rc;

	if (!m->message_id[0] || !m->session_id[0] || !m->kind || !in_list(m->state, states))
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = media_prep(st, "INSERT INTO media (" MEDIA_COLS ") VALUES "
			   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)");
	if (!s) {
		pthread_mutex_unlock(&st->mu);
		return Y_EDB;
	}
	bind_text(s, 1, m->message_id);
	bind_text(s, 2, m->session_id);
	bind_text(s, 3, m->kind);
	bind_text(s, 4, m->mimetype);
	bind_text(s, 5, m->file_name);
	bind_text(s, 6, m->url);
	bind_text(s, 7, m->direct_path);
	sqlite3_bind_blob(s, 8, m->media_key, sizeof(m->media_key), SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 9, m->file_sha256, sizeof(m->file_sha256), SQLITE_TRANSIENT);
	sqlite3_bind_blob(s, 10, m->file_enc_sha256, sizeof(m->file_enc_sha256), SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 11, m->file_length);
	bind_text(s, 12, m->state);
	bind_text(s, 13, m->path);
	bind_text(s, 14, m->reason);
	sqlite3_bind_int64(s, 15, m->created_at ? m->created_at : now);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "insert media");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_media_get(struct store *st, const char *message_id, struct store_media *out)
{
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!message_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = media_prep(st, "SELECT " MEDIA_COLS " FROM media WHERE message_id = ?1");
	if (!s) {
		pthread_mutex_unlock(&st->mu);
		return Y_EDB;
	}
	bind_text(s, 1, message_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = read_media(s, out);
	else
		rc = rc == SQLITE_DONE ? Y_ENOTFOUND : db_error(st, rc, "get media");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_media_exists(struct store *st, const char *message_id)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	s = media_prep(st, "SELECT 1 FROM media WHERE message_id = ?1");
	if (!s) {
		pthread_mutex_unlock(&st->mu);
		return Y_EDB;
	}
	bind_text(s, 1, message_id);
	rc = sqlite3_step(s);
	rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : db_error(st, rc, "media exists");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Runs an UPDATE of sql with ?1 message_id, ?2 text, ?3 now (the lock
 * held). */
static int media_update(struct store *st, const char *sql, const char *message_id,
			const char *text, const char *what)
{
	sqlite3_stmt *s = media_prep(st, sql);
	int rc;

	if (!s)
		return Y_EDB;
	bind_text(s, 1, message_id);
	bind_text(s, 2, text);
	sqlite3_bind_int64(s, 3, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, what);
	sqlite3_finalize(s);
	return rc;
}

int store_media_finish(struct store *st, const char *message_id, const char *state,
		       const char *path, const char *reason)
{
	static const char *const states[] = { "done", "failed", "skipped", NULL };
	sqlite3_stmt *s = NULL;
	char session_id[STORE_ID_LEN] = "", why[300];
	int rc;

	if (!message_id || !in_list(state, states))
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc) {
		pthread_mutex_unlock(&st->mu);
		return rc;
	}
	s = media_prep(st, "UPDATE media SET state = ?2, path = ?3, reason = ?4, updated_at = ?5 "
			   "WHERE message_id = ?1 RETURNING session_id");
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, message_id);
	bind_text(s, 2, state);
	bind_text(s, 3, path);
	bind_text(s, 4, reason);
	sqlite3_bind_int64(s, 5, clock_now_ms());
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		col_id(s, 0, session_id);
	rc = rc == SQLITE_ROW ? Y_OK : rc == SQLITE_DONE ? Y_ENOTFOUND
							   : db_error(st, rc, "finish media");
	sqlite3_finalize(s);
	s = NULL;
	if (rc == Y_OK && !strcmp(state, "failed")) {
		snprintf(why, sizeof(why), "media: %s", reason ? reason : "failed");
		rc = media_update(st, "UPDATE messages SET status = 'failed', reason = ?2, "
				  "updated_at = ?3 WHERE id = ?1", message_id, why, "fail message");
	}
	if (rc == Y_OK)
		rc = message_event_locked(st, "message.media", session_id, message_id, NULL);
out:
	sqlite3_finalize(s);
	rc = tx_end(st, rc);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_media_request(struct store *st, const char *session_id, const char *message_id,
			int redo, char prev[16])
{
	sqlite3_stmt *s = NULL;
	int rc, again = 0;

	prev[0] = 0;
	if (!session_id || !message_id)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = exec_stmt(st, S_BEGIN);
	if (rc) {
		pthread_mutex_unlock(&st->mu);
		return rc;
	}
	s = media_prep(st, "SELECT state FROM media WHERE message_id = ?1 AND session_id = ?2");
	if (!s) {
		rc = Y_EDB;
		goto out;
	}
	bind_text(s, 1, message_id);
	bind_text(s, 2, session_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(s, 0);

		snprintf(prev, 16, "%s", state ? state : "");
		again = !strcmp(prev, "skipped") || !strcmp(prev, "failed") ||
			(redo && !strcmp(prev, "done"));
		rc = Y_OK;
	} else {
		rc = rc == SQLITE_DONE ? Y_ENOTFOUND : db_error(st, rc, "request media");
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc || !again)
		goto out;
	rc = media_update(st, "UPDATE media SET state = 'pending', path = NULL, reason = ?2, "
			  "updated_at = ?3 WHERE message_id = ?1", message_id,
			  STORE_MEDIA_REQUESTED, "request media");
	/* a failed message: the failure was the media's, the message itself
	 * had arrived */
	if (!rc && !strcmp(prev, "failed"))
		rc = media_update(st, "UPDATE messages SET status = CASE direction WHEN 'inbound' "
				  "THEN 'received' ELSE 'sent' END, reason = ?2, updated_at = ?3 "
				  "WHERE id = ?1 AND status = 'failed'", message_id, NULL,
				  "request media");
out:
	sqlite3_finalize(s);
	rc = tx_end(st, rc);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_media_repath(struct store *st, const char *message_id, const char *url,
		       const char *direct_path)
{
	sqlite3_stmt *s;
	int rc;

	if (!message_id || !direct_path)
		return Y_EINVAL;
	pthread_mutex_lock(&st->mu);
	s = media_prep(st, "UPDATE media SET url = ?2, direct_path = ?3, reason = CASE WHEN "
			   "reason = '" STORE_MEDIA_REQUESTED "' THEN '" STORE_MEDIA_REQUESTED_RETRIED
			   "' ELSE '" STORE_MEDIA_RETRIED "' END, updated_at = ?4 "
			   "WHERE message_id = ?1 AND state = 'pending'");
	if (!s) {
		pthread_mutex_unlock(&st->mu);
		return Y_EDB;
	}
	bind_text(s, 1, message_id);
	bind_text(s, 2, url);
	bind_text(s, 3, direct_path);
	sqlite3_bind_int64(s, 4, clock_now_ms());
	rc = sqlite3_step(s);
	rc = rc != SQLITE_DONE ? db_error(st, rc, "repath media")
	     : sqlite3_changes(st->db) > 0 ? Y_OK : Y_ENOTFOUND;
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_media_pending(struct store *st, int limit, struct store_media **out, size_t *n)
{
	sqlite3_stmt *s;
	struct store_media *rows = NULL;
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (limit <= 0)
		return Y_EINVAL;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return Y_ENOMEM;
	pthread_mutex_lock(&st->mu);
	s = media_prep(st, "SELECT " MEDIA_COLS " FROM media WHERE state = 'pending' "
			   "ORDER BY created_at LIMIT ?1");
	if (!s) {
		pthread_mutex_unlock(&st->mu);
		free(rows);
		return Y_EDB;
	}
	sqlite3_bind_int(s, 1, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && cnt < (size_t)limit) {
		rc = read_media(s, &rows[cnt]);
		if (rc)
			break;
		cnt++;
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? Y_OK : rc < 0 ? rc : db_error(st, rc, "media pending");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	if (rc) {
		store_media_free(rows, cnt);
		return rc;
	}
	*out = rows;
	*n = cnt;
	return Y_OK;
}

/* ---- the dashboard's aggregates (store_stats, store.h) ---- */

/* Runs a (bucket, outbound, failed, count) query over [from, to) into
 * buckets[0..n) of width ms. */
static int stats_buckets(struct store *st, const char *sql, const char *session_id,
			 int64_t from, int64_t width, int n, int64_t to, struct store_msg_counts *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return db_error(st, rc, "count messages");
	bind_text(s, 1, session_id);
	sqlite3_bind_int64(s, 2, from);
	sqlite3_bind_int64(s, 3, width);
	sqlite3_bind_int64(s, 4, to);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t b = sqlite3_column_int64(s, 0), c = sqlite3_column_int64(s, 3);

		if (b < 0 || b >= n)
			continue;
		if (!sqlite3_column_int(s, 1))
			out[b].received += c;
		else if (sqlite3_column_int(s, 2))
			out[b].failed += c;
		else
			out[b].sent += c;
	}
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "count messages");
	sqlite3_finalize(s);
	return rc;
}

int store_stats(struct store *st, const char *session_id, int64_t now_ms, struct store_stats *out)
{
	static const char by_status[] =
		"SELECT status, count(*) FROM sessions WHERE ?1 IS NULL OR id = ?1 "
		"GROUP BY status ORDER BY status";
	/* two forms, so that each can use its index */
	static const char msgs_all[] =
		"SELECT (timestamp - ?2) / ?3, direction = 'outbound', status = 'failed', count(*) "
		"FROM messages WHERE ?1 IS NULL AND timestamp >= ?2 AND timestamp < ?4 "
		"GROUP BY 1, 2, 3";
	static const char msgs_one[] =
		"SELECT (timestamp - ?2) / ?3, direction = 'outbound', status = 'failed', count(*) "
		"FROM messages WHERE session_id = ?1 AND timestamp >= ?2 AND timestamp < ?4 "
		"GROUP BY 1, 2, 3";
	static const char hook_all[] =
		"SELECT count(*) FROM webhook_log WHERE created_at >= ?2 "
		"AND NOT (http_status BETWEEN 200 AND 299 AND error IS NULL)";
	static const char hook_one[] =
		"SELECT count(*) FROM webhook_log WHERE session_id = ?1 AND created_at >= ?2 "
		"AND NOT (http_status BETWEEN 200 AND 299 AND error IS NULL)";
	const int64_t hour = 3600000, day = 86400000;
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (now_ms < STORE_STATS_DAYS * day)
		return Y_EINVAL;
	out->hour0_ms = (now_ms / hour - (STORE_STATS_HOURS - 1)) * hour;
	out->day0_ms = (now_ms / day - (STORE_STATS_DAYS - 1)) * day;
	pthread_mutex_lock(&st->mu);
	rc = sqlite3_prepare_v2(st->db, by_status, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = db_error(st, rc, "count sessions");
		goto out;
	}
	bind_text(s, 1, session_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		int64_t n = sqlite3_column_int64(s, 1);

		out->sessions += n;
		if (out->nstatus < STORE_STATS_STATUSES && name) {
			snprintf(out->by_status[out->nstatus].status,
				 sizeof(out->by_status[0].status), "%s", name);
			out->by_status[out->nstatus++].n = n;
		}
	}
	rc = rc == SQLITE_DONE ? Y_OK : db_error(st, rc, "count sessions");
	sqlite3_finalize(s);
	s = NULL;
	if (rc)
		goto out;
	rc = stats_buckets(st, session_id ? msgs_one : msgs_all, session_id, out->hour0_ms, hour,
			   STORE_STATS_HOURS, now_ms + 1, out->hourly);
	if (!rc)
		rc = stats_buckets(st, session_id ? msgs_one : msgs_all, session_id, out->day0_ms,
				   day, STORE_STATS_DAYS, now_ms + 1, out->daily);
	if (rc)
		goto out;
	rc = sqlite3_prepare_v2(st->db, session_id ? hook_one : hook_all, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		rc = db_error(st, rc, "count webhook failures");
		goto out;
	}
	bind_text(s, 1, session_id);
	sqlite3_bind_int64(s, 2, now_ms - day);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->webhook_failures = sqlite3_column_int64(s, 0);
		rc = Y_OK;
	} else {
		rc = db_error(st, rc, "count webhook failures");
	}
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}
