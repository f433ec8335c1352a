-- Signal state of a session (src/service/signal_db.h) and the LID <-> phone
-- number mapping WhatsApp gives (issue 9 §7).
--
-- wa_signal holds libsignal's own serialized records, one row per
-- (session, kind, key); kind and key are those of src/wa/signal_store.h:
--   0 session        "<name>.<device>"
--   1 identity       "<name>.<device>"   (33-byte 0x05||pub of a peer)
--   2 prekey         "<id>"              (one-time prekey record)
--   3 signed prekey  "<id>"
--   4 sender key     "<group>::<name>::<device>"
-- One-time prekeys also have a row in wa_prekeys (the raw private key and
-- the uploaded flag the engine counts); the record here is what decryption
-- reads. Removing a prekey record (consumed by a peer's pkmsg) deletes its
-- wa_prekeys row in the same transaction.

CREATE TABLE wa_signal (
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	kind       INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 4),
	key        TEXT NOT NULL,
	data       BLOB NOT NULL,
	PRIMARY KEY (session_id, kind, key)
) WITHOUT ROWID;

-- lid and pn are bare users (digits, no device, no server): a LID user and
-- the phone number (E.164 digits) it belongs to. A LID names one number and
-- a number one LID, so both directions are unique within a session.
CREATE TABLE wa_lid_map (
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	lid        TEXT NOT NULL,
	pn         TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (session_id, lid),
	UNIQUE (session_id, pn)
) WITHOUT ROWID;
