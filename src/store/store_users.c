/*
 * Users, key owners and scopes, dashboard sign-ins and the audit log: the
 * SQLite side of the store.h calls marked store_users.c (schema in
 * migrations/0008_users.sql). Statements are prepared per call (these are
 * not the hot path, except store_key_auth, which the API caches, and
 * store_key_scope_has, one indexed lookup) under the store's mutex.
 */
#include "store/store.h"
#include "store/store_sqlite_int.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/uuid.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = { [STORE_ROLE_VIEWER] = "viewer",
					  [STORE_ROLE_OPERATOR] = "operator",
					  [STORE_ROLE_ADMIN] = "admin" };

static const char *role_name(int r)
{
	return r >= STORE_ROLE_VIEWER && r <= STORE_ROLE_ADMIN ? role_names[r] : NULL;
}

static int role_of(const unsigned char *t)
{
	for (int r = STORE_ROLE_VIEWER; t && r <= STORE_ROLE_ADMIN; r++)
		if (!strcmp((const char *)t, role_names[r]))
			return r;
	return 0;
}

static int fail(sqlite3 *db, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(db);

	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return Y_EEXIST;
	if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
		return Y_ENOTFOUND;
	LOG_ERROR("store: sqlite error", "{s:s, s:s, s:i}", "op", what, "error", sqlite3_errmsg(db),
		  "code", ext);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return Y_EBUSY;
	return (rc & 0xff) == SQLITE_NOMEM ? Y_ENOMEM : Y_EDB;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK) {
		fail(db, rc, sql);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static void bind_str(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

static void col_id(sqlite3_stmt *s, int i, char out[STORE_ID_LEN])
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(out, STORE_ID_LEN, "%s", t ? (const char *)t : "");
}

/* Steps a statement that returns no rows and finalizes it. Y_ENOTFOUND
 * when want_change and no row changed. */
static int run(sqlite3 *db, sqlite3_stmt *s, int want_change, const char *what)
{
	int rc;

	if (!s)
		return Y_EDB;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return fail(db, rc, what);
	return want_change && sqlite3_changes(db) == 0 ? Y_ENOTFOUND : Y_OK;
}

/* ---- users ---- */

#define USER_COLS_OF(t) t "id, " t "email, " t "display_name, " t "role, " t "disabled, " \
	t "pw_hash IS NOT NULL, " t "failed_logins, " t "locked_until, " t "last_login_at, " \
	t "created_at, " t "updated_at"
#define USER_COLS USER_COLS_OF("")

void store_user_release(struct store_user *u)
{
	if (!u)
		return;
	free(u->email);
	free(u->display_name);
	u->email = u->display_name = NULL;
}

void store_users_free(struct store_user *u, size_t n)
{
	for (size_t i = 0; u && i < n; i++)
		store_user_release(&u[i]);
	free(u);
}

static int read_user(sqlite3_stmt *s, int c, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	col_id(s, c, u->id);
	u->email = col_dup(s, c + 1);
	u->display_name = col_dup(s, c + 2);
	u->role = role_of(sqlite3_column_text(s, c + 3));
	u->disabled = sqlite3_column_int(s, c + 4) != 0;
	u->has_password = sqlite3_column_int(s, c + 5) != 0;
	u->failed_logins = sqlite3_column_int(s, c + 6);
	u->locked_until = sqlite3_column_int64(s, c + 7);
	u->last_login_at = sqlite3_column_int64(s, c + 8);
	u->created_at = sqlite3_column_int64(s, c + 9);
	u->updated_at = sqlite3_column_int64(s, c + 10);
	if (!u->email || !u->display_name) {
		store_user_release(u);
		return Y_ENOMEM;
	}
	return Y_OK;
}

static int user_get_locked(sqlite3 *db, const char *id, const char *email, struct store_user *out,
			   char **pw_hash)
{
	sqlite3_stmt *s = prepare(db, id ? "SELECT " USER_COLS ", pw_hash FROM users WHERE id = ?1"
				     : "SELECT " USER_COLS ", pw_hash FROM users WHERE email = ?1");
	int rc;

	if (pw_hash)
		*pw_hash = NULL;
	if (!s)
		return Y_EDB;
	bind_str(s, 1, id ? id : email);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		rc = read_user(s, 0, out);
		if (!rc && pw_hash && sqlite3_column_type(s, 11) != SQLITE_NULL &&
		    !(*pw_hash = col_dup(s, 11))) {
			store_user_release(out);
			rc = Y_ENOMEM;
		}
	} else {
		rc = rc == SQLITE_DONE ? Y_ENOTFOUND : fail(db, rc, "get user");
	}
	sqlite3_finalize(s);
	return rc;
}

int store_user_create(struct store *st, const char *email, const char *display_name, int role,
		      const char *pw_hash, struct store_user *out)
{
	char id[STORE_ID_LEN];
	int64_t now = clock_now_ms();
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!email || !*email || !role_name(role))
		return Y_EINVAL;
	rc = uuid_v4(id);
	if (rc)
		return rc;
	db = store_sqlite_lock(st);
	s = prepare(db, "INSERT INTO users (id, email, display_name, role, pw_hash, created_at, "
			"updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)");
	if (s) {
		bind_str(s, 1, id);
		bind_str(s, 2, email);
		bind_str(s, 3, display_name ? display_name : "");
		bind_str(s, 4, role_name(role));
		bind_str(s, 5, pw_hash);
		sqlite3_bind_int64(s, 6, now);
	}
	rc = run(db, s, 0, "create user");
	if (!rc)
		rc = user_get_locked(db, id, NULL, out, NULL);
	store_sqlite_unlock(st);
	return rc;
}

int store_user_get(struct store *st, const char *id, const char *email, struct store_user *out,
		   char **pw_hash)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!id && !email)
		return Y_EINVAL;
	rc = user_get_locked(store_sqlite_lock(st), id, email, out, pw_hash);
	store_sqlite_unlock(st);
	return rc;
}

int store_user_list(struct store *st, struct store_user **out, size_t *n)
{
	struct store_user *rows = NULL, *grown;
	size_t count = 0, cap = 0;
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "SELECT " USER_COLS " FROM users ORDER BY created_at, id");
	int rc = s ? SQLITE_OK : Y_EDB;

	*out = NULL;
	*n = 0;
	while (s && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			grown = realloc(rows, cap * sizeof(*rows));
			if (!grown) {
				rc = Y_ENOMEM;
				break;
			}
			rows = grown;
		}
		rc = read_user(s, 0, &rows[count]);
		if (rc)
			break;
		count++;
	}
	if (s)
		rc = rc == SQLITE_DONE ? Y_OK : rc < 0 ? rc : fail(db, rc, "list users");
	sqlite3_finalize(s);
	store_sqlite_unlock(st);
	if (rc) {
		store_users_free(rows, count);
		return rc;
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

static int end_signins_locked(sqlite3 *db, const char *id)
{
	sqlite3_stmt *s = prepare(db, "DELETE FROM web_sessions WHERE user_id = ?1");

	if (s)
		bind_str(s, 1, id);
	return run(db, s, 0, "end sign-ins");
}

int store_user_set_disabled(struct store *st, const char *id, int disabled)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "UPDATE users SET disabled = ?2, updated_at = ?3 WHERE id = ?1");
	int rc;

	if (s) {
		bind_str(s, 1, id);
		sqlite3_bind_int(s, 2, disabled ? 1 : 0);
		sqlite3_bind_int64(s, 3, clock_now_ms());
	}
	rc = run(db, s, 1, "disable user");
	if (!rc && disabled)
		rc = end_signins_locked(db, id);
	store_sqlite_unlock(st);
	return rc;
}

int store_user_update(struct store *st, const char *id, const char *display_name, int role)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc;

	if (role && !role_name(role))
		return Y_EINVAL;
	db = store_sqlite_lock(st);
	s = prepare(db, "UPDATE users SET display_name = coalesce(?2, display_name), "
			"role = coalesce(?3, role), updated_at = ?4 WHERE id = ?1");
	if (s) {
		bind_str(s, 1, id);
		bind_str(s, 2, display_name);
		bind_str(s, 3, role ? role_name(role) : NULL);
		sqlite3_bind_int64(s, 4, clock_now_ms());
	}
	rc = run(db, s, 1, "update user");
	store_sqlite_unlock(st);
	return rc;
}

int store_user_set_password(struct store *st, const char *id, const char *pw_hash)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "UPDATE users SET pw_hash = ?2, failed_logins = 0, "
				      "locked_until = 0, updated_at = ?3 WHERE id = ?1");
	int rc;

	if (s) {
		bind_str(s, 1, id);
		bind_str(s, 2, pw_hash);
		sqlite3_bind_int64(s, 3, clock_now_ms());
	}
	rc = run(db, s, 1, "set password");
	if (!rc)
		rc = end_signins_locked(db, id);
	store_sqlite_unlock(st);
	return rc;
}

int store_user_login_failed(struct store *st, const char *id, int64_t now, int max_failures,
			    int64_t lock_ms, int64_t *locked_until)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "UPDATE users SET "
				      "locked_until = CASE WHEN failed_logins + 1 >= ?3 THEN ?2 + ?4 "
				      "ELSE locked_until END, "
				      "failed_logins = CASE WHEN failed_logins + 1 >= ?3 THEN 0 "
				      "ELSE failed_logins + 1 END WHERE id = ?1 RETURNING locked_until");
	int rc = Y_EDB;

	*locked_until = 0;
	if (s) {
		bind_str(s, 1, id);
		sqlite3_bind_int64(s, 2, now);
		sqlite3_bind_int(s, 3, max_failures);
		sqlite3_bind_int64(s, 4, lock_ms);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			int64_t until = sqlite3_column_int64(s, 0);

			*locked_until = until > now ? until : 0;
			rc = Y_OK;
			while (sqlite3_step(s) == SQLITE_ROW)
				;
		} else {
			rc = rc == SQLITE_DONE ? Y_ENOTFOUND : fail(db, rc, "count failed sign-in");
		}
		sqlite3_finalize(s);
	}
	store_sqlite_unlock(st);
	return rc;
}

int store_user_login_ok(struct store *st, const char *id, int64_t now)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "UPDATE users SET failed_logins = 0, locked_until = 0, "
				      "last_login_at = ?2 WHERE id = ?1");
	int rc;

	if (s) {
		bind_str(s, 1, id);
		sqlite3_bind_int64(s, 2, now);
	}
	rc = run(db, s, 1, "record sign-in");
	store_sqlite_unlock(st);
	return rc;
}

/* ---- keys: owners, roles, scopes ---- */

int store_key_auth(struct store *st, const uint8_t hash[32], int64_t now,
		   struct store_key_info *out)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "SELECT k.id, k.hash, coalesce(k.user_id, ''), k.role, "
				      "coalesce(u.role, 'admin'), k.scoped, k.expires_at, "
				      "coalesce(u.disabled, 0) FROM api_keys k LEFT JOIN users u "
				      "ON u.id = k.user_id WHERE k.revoked = 0");
	int rc = Y_EDB, found = 0;

	memset(out, 0, sizeof(*out));
	/* every active key's digest is compared, with no early exit */
	while (s && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(s, 1);
		int match = h && sqlite3_column_bytes(s, 1) == 32 && !CRYPTO_memcmp(h, hash, 32);

		if (!match || found)
			continue;
		found = 1;
		int64_t exp = sqlite3_column_int64(s, 6);
		int kr = role_of(sqlite3_column_text(s, 3)), ur = role_of(sqlite3_column_text(s, 4));

		if (sqlite3_column_int(s, 7) || (exp > 0 && exp <= now) || !kr || !ur) {
			found = -1; /* matched, but not usable */
			continue;
		}
		col_id(s, 0, out->id);
		col_id(s, 2, out->user_id);
		out->role = kr < ur ? kr : ur;
		out->scoped = sqlite3_column_int(s, 5) != 0;
		out->expires_at = exp;
	}
	if (s)
		rc = rc == SQLITE_DONE ? (found == 1 ? Y_OK : Y_ENOTFOUND) : fail(db, rc, "auth key");
	sqlite3_finalize(s);
	store_sqlite_unlock(st);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int store_key_create(struct store *st, const uint8_t hash[32], const char *name,
		     const char *prefix, const char *user_id, int role, int64_t expires_at,
		     int scoped, const char *const *sessions, size_t nsessions,
		     char id_out[STORE_ID_LEN])
{
	char id[STORE_ID_LEN];
	struct store_user u;
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc;

	if (!role_name(role) || !user_id || expires_at < 0)
		return Y_EINVAL;
	rc = uuid_v4(id);
	if (rc)
		return rc;
	db = store_sqlite_lock(st);
	rc = run(db, prepare(db, "BEGIN IMMEDIATE"), 0, "begin");
	if (rc)
		goto out;
	rc = user_get_locked(db, user_id, NULL, &u, NULL);
	if (!rc) {
		if (role > u.role)
			rc = Y_EINVAL;
		store_user_release(&u);
	}
	if (!rc) {
		s = prepare(db, "INSERT INTO api_keys (id, name, prefix, hash, created_at, user_id, "
				"role, scoped, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
		if (s) {
			bind_str(s, 1, id);
			bind_str(s, 2, name ? name : "");
			bind_str(s, 3, prefix ? prefix : "");
			sqlite3_bind_blob(s, 4, hash, 32, SQLITE_TRANSIENT);
			sqlite3_bind_int64(s, 5, clock_now_ms());
			bind_str(s, 6, user_id);
			bind_str(s, 7, role_name(role));
			sqlite3_bind_int(s, 8, scoped ? 1 : 0);
			sqlite3_bind_int64(s, 9, expires_at);
		}
		rc = run(db, s, 0, "create key");
	}
	for (size_t i = 0; !rc && scoped && i < nsessions; i++) {
		s = prepare(db, "INSERT OR IGNORE INTO api_key_sessions (key_id, session_id) "
				"VALUES (?1, ?2)");
		if (s) {
			bind_str(s, 1, id);
			bind_str(s, 2, sessions[i]);
		}
		rc = run(db, s, 0, "scope key");
	}
	if (!rc)
		rc = run(db, prepare(db, "COMMIT"), 0, "commit");
	if (rc)
		run(db, prepare(db, "ROLLBACK"), 0, "rollback");
	else
		memcpy(id_out, id, STORE_ID_LEN);
out:
	store_sqlite_unlock(st);
	return rc;
}

void store_keys_free(struct store_key *k, size_t n)
{
	for (size_t i = 0; k && i < n; i++) {
		free(k[i].k.name);
		free(k[i].user_email);
		free(k[i].sessions);
	}
	free(k);
}

int store_key_list(struct store *st, struct store_key **out, size_t *n)
{
	struct store_key *rows = NULL, *grown;
	size_t count = 0, cap = 0;
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "SELECT k.id, k.name, k.prefix, k.created_at, k.last_used_at, "
				      "k.revoked, coalesce(k.user_id, ''), u.email, k.role, k.scoped, "
				      "k.expires_at, CASE WHEN k.scoped THEN coalesce((SELECT "
				      "group_concat(session_id, ',') FROM (SELECT session_id FROM "
				      "api_key_sessions WHERE key_id = k.id ORDER BY session_id)), '') "
				      "END FROM api_keys k LEFT JOIN users u ON u.id = k.user_id "
				      "ORDER BY k.created_at DESC, k.id DESC");
	int rc = s ? SQLITE_OK : Y_EDB;

	*out = NULL;
	*n = 0;
	while (s && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_key *k;
		const unsigned char *p;

		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			grown = realloc(rows, cap * sizeof(*rows));
			if (!grown) {
				rc = Y_ENOMEM;
				break;
			}
			rows = grown;
		}
		k = &rows[count++];
		memset(k, 0, sizeof(*k));
		col_id(s, 0, k->k.id);
		k->k.name = col_dup(s, 1);
		p = sqlite3_column_text(s, 2);
		snprintf(k->k.prefix, sizeof(k->k.prefix), "%s", p ? (const char *)p : "");
		k->k.created_at = sqlite3_column_int64(s, 3);
		k->k.last_used_at = sqlite3_column_int64(s, 4);
		k->k.revoked = sqlite3_column_int(s, 5) != 0;
		col_id(s, 6, k->user_id);
		k->user_email = col_dup(s, 7);
		k->role = role_of(sqlite3_column_text(s, 8));
		k->scoped = sqlite3_column_int(s, 9) != 0;
		k->expires_at = sqlite3_column_int64(s, 10);
		k->sessions = col_dup(s, 11);
		if (!k->k.name || (k->scoped && !k->sessions)) {
			rc = Y_ENOMEM;
			break;
		}
	}
	if (s)
		rc = rc == SQLITE_DONE ? Y_OK : rc < 0 ? rc : fail(db, rc, "list keys");
	sqlite3_finalize(s);
	store_sqlite_unlock(st);
	if (rc) {
		store_keys_free(rows, count);
		return rc;
	}
	*out = rows;
	*n = count;
	return Y_OK;
}

int store_key_scope_has(struct store *st, const char *key_id, const char *session_id)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "SELECT 1 FROM api_key_sessions WHERE key_id = ?1 AND "
				      "session_id = ?2");
	int rc = Y_EDB;

	if (s) {
		bind_str(s, 1, key_id);
		bind_str(s, 2, session_id);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_ROW ? Y_OK : rc == SQLITE_DONE ? Y_ENOTFOUND
								  : fail(db, rc, "check scope");
		sqlite3_finalize(s);
	}
	store_sqlite_unlock(st);
	return rc;
}

int store_key_scope_add(struct store *st, const char *key_id, const char *session_id)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "INSERT OR IGNORE INTO api_key_sessions (key_id, session_id) "
				      "VALUES (?1, ?2)");
	int rc;

	if (s) {
		bind_str(s, 1, key_id);
		bind_str(s, 2, session_id);
	}
	rc = run(db, s, 0, "add to scope");
	store_sqlite_unlock(st);
	return rc;
}

int store_keys_adopt(struct store *st)
{
	sqlite3 *db = store_sqlite_lock(st);
	char id[STORE_ID_LEN];
	int rc = uuid_v4(id);
	sqlite3_stmt *s;

	if (!rc) {
		s = prepare(db, "INSERT OR IGNORE INTO users (id, email, display_name, role, "
				"created_at, updated_at) SELECT ?1, 'admin@localhost', "
				"'Administrator', 'admin', ?2, ?2 WHERE NOT EXISTS (SELECT 1 FROM "
				"users WHERE role = 'admin') AND EXISTS (SELECT 1 FROM api_keys "
				"WHERE user_id IS NULL)");
		if (s) {
			bind_str(s, 1, id);
			sqlite3_bind_int64(s, 2, clock_now_ms());
		}
		rc = run(db, s, 0, "make admin user");
	}
	if (!rc)
		rc = run(db, prepare(db, "UPDATE api_keys SET user_id = (SELECT id FROM users WHERE "
					 "role = 'admin' ORDER BY created_at, id LIMIT 1) "
					 "WHERE user_id IS NULL"),
			 0, "adopt keys");
	store_sqlite_unlock(st);
	return rc;
}

/* ---- dashboard sign-ins ---- */

int store_websession_add(struct store *st, const uint8_t hash[32], const char *user_id,
			 int64_t expires_at, const char *ip)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "INSERT INTO web_sessions (token_hash, user_id, created_at, "
				      "expires_at, ip) VALUES (?1, ?2, ?3, ?4, ?5)");
	int rc;

	if (s) {
		sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
		bind_str(s, 2, user_id);
		sqlite3_bind_int64(s, 3, clock_now_ms());
		sqlite3_bind_int64(s, 4, expires_at);
		bind_str(s, 5, ip);
	}
	rc = run(db, s, 0, "add sign-in");
	store_sqlite_unlock(st);
	return rc;
}

int store_websession_find(struct store *st, const uint8_t hash[32], int64_t now,
			  struct store_user *out)
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "SELECT " USER_COLS_OF("u.") " FROM web_sessions w "
				      "JOIN users u ON u.id = w.user_id WHERE w.token_hash = ?1 AND "
				      "w.expires_at > ?2 AND u.disabled = 0");
	int rc = Y_EDB;

	memset(out, 0, sizeof(*out));
	if (s) {
		sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, now);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			rc = read_user(s, 0, out);
		else
			rc = rc == SQLITE_DONE ? Y_ENOTFOUND : fail(db, rc, "find sign-in");
		sqlite3_finalize(s);
	}
	store_sqlite_unlock(st);
	return rc;
}

int store_websession_delete(struct store *st, const uint8_t hash[32])
{
	sqlite3 *db = store_sqlite_lock(st);
	sqlite3_stmt *s = prepare(db, "DELETE FROM web_sessions WHERE token_hash = ?1");
	int rc;

	if (s)
		sqlite3_bind_blob(s, 1, hash, 32, SQLITE_TRANSIENT);
	rc = run(db, s, 0, "end sign-in");
	store_sqlite_unlock(st);
	return rc;
}

/* ---- audit ---- */

int store_audit_add(struct store *st, const struct store_audit *rows, size_t n)
{
	sqlite3 *db = store_sqlite_lock(st);
	int rc = run(db, prepare(db, "BEGIN IMMEDIATE"), 0, "begin");
	sqlite3_stmt *s = rc ? NULL : prepare(db, "INSERT INTO audit_log (at, actor, method, route, "
						  "session_id, ip, status) VALUES (?1, ?2, ?3, ?4, "
						  "?5, ?6, ?7)");

	if (!rc && !s)
		rc = Y_EDB;
	for (size_t i = 0; !rc && i < n; i++) {
		sqlite3_bind_int64(s, 1, rows[i].at);
		bind_str(s, 2, rows[i].actor ? rows[i].actor : "");
		bind_str(s, 3, rows[i].method ? rows[i].method : "");
		bind_str(s, 4, rows[i].route ? rows[i].route : "");
		bind_str(s, 5, rows[i].session_id);
		bind_str(s, 6, rows[i].ip);
		sqlite3_bind_int(s, 7, rows[i].status);
		int step = sqlite3_step(s);

		if (step != SQLITE_DONE)
			rc = fail(db, step, "add audit row");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	if (!rc)
		rc = run(db, prepare(db, "COMMIT"), 0, "commit");
	else
		run(db, prepare(db, "ROLLBACK"), 0, "rollback");
	store_sqlite_unlock(st);
	return rc;
}

void store_audits_free(struct store_audit *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		free(a[i].actor);
		free(a[i].method);
		free(a[i].route);
		free(a[i].session_id);
		free(a[i].ip);
	}
	free(a);
}

int store_audit_list(struct store *st, int64_t before, int limit, struct store_audit **out,
		     size_t *n, int *has_next)
{
	struct store_audit *rows;
	size_t count = 0;
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc = Y_EDB;

	*out = NULL;
	*n = 0;
	*has_next = 0;
	if (limit < 1 || limit > STORE_LIST_MAX)
		return Y_EINVAL;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return Y_ENOMEM;
	db = store_sqlite_lock(st);
	s = prepare(db, "SELECT id, at, actor, method, route, session_id, ip, status FROM audit_log "
			"WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2");
	if (s) {
		sqlite3_bind_int64(s, 1, before);
		sqlite3_bind_int(s, 2, limit + 1);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			struct store_audit *a = &rows[count];

			if (count == (size_t)limit) {
				*has_next = 1;
				break;
			}
			count++;
			a->id = sqlite3_column_int64(s, 0);
			a->at = sqlite3_column_int64(s, 1);
			a->actor = col_dup(s, 2);
			a->method = col_dup(s, 3);
			a->route = col_dup(s, 4);
			a->session_id = col_dup(s, 5);
			a->ip = col_dup(s, 6);
			a->status = sqlite3_column_int(s, 7);
			if (!a->actor || !a->method || !a->route) {
				rc = Y_ENOMEM;
				break;
			}
		}
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? Y_OK : rc < 0 ? rc
							      : fail(db, rc, "list audit");
		sqlite3_finalize(s);
	}
	store_sqlite_unlock(st);
	if (rc) {
		store_audits_free(rows, count);
		*has_next = 0;
		return rc;
	}
	*out = rows;
	*n = count;
	return Y_OK;
}
