-- Users, roles and scoped API keys (docs/auth.md).
--
-- role is 'viewer' (read only), 'operator' (sessions, messages, webhooks)
-- or 'admin' (server settings, users, keys, audit). pw_hash is a libsodium
-- crypto_pwhash_str string (Argon2id); NULL means no password sign-in (the
-- admin user this migration makes for the keys already there).
CREATE TABLE users (
	id              TEXT PRIMARY KEY,
	email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
	display_name    TEXT NOT NULL DEFAULT '',
	role            TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
	pw_hash         TEXT,
	disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	failed_logins   INTEGER NOT NULL DEFAULT 0,
	locked_until    INTEGER NOT NULL DEFAULT 0,
	last_login_at   INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);

-- Each key belongs to a user and has a role no higher than the user's
-- (checked where keys are made, and the lower of the two is what counts).
-- scoped = 1: the key may touch only the sessions in api_key_sessions.
-- expires_at 0: never.
ALTER TABLE api_keys ADD COLUMN user_id TEXT REFERENCES users(id) ON DELETE CASCADE;
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
	CHECK (role IN ('viewer', 'operator', 'admin'));
ALTER TABLE api_keys ADD COLUMN scoped INTEGER NOT NULL DEFAULT 0 CHECK (scoped IN (0, 1));
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE api_key_sessions (
	key_id     TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	PRIMARY KEY (key_id, session_id)
) WITHOUT ROWID;
CREATE INDEX api_key_sessions_session ON api_key_sessions (session_id);

-- Single-key installs keep working: the keys already there become the keys
-- of an admin user (no password; give it one with `yesapp users passwd`).
INSERT INTO users (id, email, display_name, role, created_at, updated_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
	     substr(hex(randomblob(2)), 2) || '-' ||
	     substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' ||
	     hex(randomblob(6))),
       'admin@localhost', 'Administrator', 'admin',
       CAST(strftime('%s', 'now') AS INTEGER) * 1000,
       CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE EXISTS (SELECT 1 FROM api_keys);
UPDATE api_keys SET user_id = (SELECT id FROM users WHERE email = 'admin@localhost'), role = 'admin';

-- Dashboard sign-ins: only the SHA-256 of the cookie's token is kept.
CREATE TABLE web_sessions (
	token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	ip         TEXT
) WITHOUT ROWID;
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- Who did what: actor is 'key:<id>' or 'user:<id>', route the matched
-- pattern ("/api/v1/sessions/{id}"), session_id the session it touched.
-- Pruned after RETENTION_DAYS with the rest.
CREATE TABLE audit_log (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	at         INTEGER NOT NULL,
	actor      TEXT NOT NULL,
	method     TEXT NOT NULL,
	route      TEXT NOT NULL,
	session_id TEXT,
	ip         TEXT,
	status     INTEGER NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
