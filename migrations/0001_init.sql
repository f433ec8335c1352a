-- Core tables. Times are milliseconds since the Unix epoch (UTC); ids are
-- UUID v4 text. schema_migrations itself is created by the store code.

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL DEFAULT '',
	prefix       TEXT NOT NULL,
	hash         BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL DEFAULT 0,
	revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);

CREATE TABLE sessions (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL,
	status         TEXT NOT NULL DEFAULT 'pending',
	phone          TEXT,
	push_name      TEXT,
	webhook_url    TEXT,
	webhook_secret TEXT,
	webhook_events TEXT,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);

CREATE TABLE messages (
	id         TEXT PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	wa_id      TEXT,
	chat       TEXT NOT NULL,
	from_me    INTEGER NOT NULL CHECK (from_me IN (0, 1)),
	type       TEXT NOT NULL,
	body       TEXT,
	status     TEXT NOT NULL,
	timestamp  INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE webhook_log (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id  TEXT REFERENCES sessions(id) ON DELETE CASCADE,
	event       TEXT NOT NULL,
	url         TEXT NOT NULL,
	http_status INTEGER NOT NULL DEFAULT 0,
	attempt     INTEGER NOT NULL DEFAULT 1,
	error       TEXT,
	created_at  INTEGER NOT NULL
);
