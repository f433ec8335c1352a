-- The WhatsApp client engine: what a linked session shows, its credentials,
-- and the one-time prekeys it has made. Keys are raw 32-byte values (BLOB);
-- public halves are derived from the private ones, so only these are kept.

ALTER TABLE sessions ADD COLUMN device_jid TEXT;
ALTER TABLE sessions ADD COLUMN lid TEXT;
ALTER TABLE sessions ADD COLUMN reason TEXT;
ALTER TABLE sessions ADD COLUMN connected_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;

-- One row per session that has keys (made when its client first starts).
-- account is the ADVSignedDeviceIdentity (with our device signature) that
-- WhatsApp gave at pairing; NULL until the session is linked.
CREATE TABLE wa_creds (
	session_id     TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
	noise_priv     BLOB NOT NULL CHECK (length(noise_priv) = 32),
	identity_priv  BLOB NOT NULL CHECK (length(identity_priv) = 32),
	registration_id INTEGER NOT NULL,
	spk_id         INTEGER NOT NULL,
	spk_priv       BLOB NOT NULL CHECK (length(spk_priv) = 32),
	spk_sig        BLOB NOT NULL CHECK (length(spk_sig) = 64),
	adv_secret     BLOB NOT NULL CHECK (length(adv_secret) = 32),
	account        BLOB,
	jid            TEXT,
	lid            TEXT,
	platform       TEXT,
	push_name      TEXT,
	next_prekey_id INTEGER NOT NULL DEFAULT 1,
	updated_at     INTEGER NOT NULL
);

-- One-time prekeys: kept from creation until a peer's pkmsg consumes them.
CREATE TABLE wa_prekeys (
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	key_id     INTEGER NOT NULL,
	priv       BLOB NOT NULL CHECK (length(priv) = 32),
	uploaded   INTEGER NOT NULL DEFAULT 0 CHECK (uploaded IN (0, 1)),
	PRIMARY KEY (session_id, key_id)
);
