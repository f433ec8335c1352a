-- Privacy tokens (issue 9 point 3, docs/engine.md "Privacy tokens"): per
-- session and contact (its user JID, by LID when the server named one), the
-- token bytes the contact issued us and their time (`t`, Unix seconds; an
-- empty token: none held, or dropped once expired), and when we last issued
-- the contact one of ours (`sender_t`, 0: never), which decides the next
-- issue (one per 7-day bucket). Loaded with the credentials at start.
CREATE TABLE wa_tctokens (
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	jid        TEXT NOT NULL,
	token      BLOB NOT NULL,
	t          INTEGER NOT NULL DEFAULT 0,
	sender_t   INTEGER NOT NULL DEFAULT 0,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (session_id, jid)
);
