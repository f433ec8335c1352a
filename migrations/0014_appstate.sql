-- App state (issue 15, docs/appstate.md): per session, the app-state sync
-- keys our phone shared (kind 0: name = the key id, data = the key bytes,
-- t = its timestamp in ms) and each collection's state as we know it
-- (kind 1: name = the collection's name, data = version, LTHash and the
-- value MAC of every live index, as wa_appstate_state_save writes it).
-- Loaded with the credentials at start; deleted with them at logout.
CREATE TABLE wa_appstate (
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	kind       INTEGER NOT NULL,
	name       BLOB NOT NULL,
	data       BLOB NOT NULL,
	t          INTEGER NOT NULL DEFAULT 0,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (session_id, kind, name)
);
