-- The message object of issue 9: a direction instead of from_me, who sent
-- it to whom (JIDs), the text at the top, the message replied to, why it
-- failed, and when it last changed. `body` stays the structured content
-- (JSON). Today's rows move over: from_me 1 -> outbound (to = chat),
-- 0 -> inbound (from = chat), status queued -> pending.

CREATE TABLE messages_new (
	id         TEXT PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	wa_id      TEXT,
	direction  TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
	from_jid   TEXT,
	to_jid     TEXT,
	chat       TEXT NOT NULL,
	type       TEXT NOT NULL,
	text       TEXT,
	body       TEXT,
	quoted_id  TEXT,
	status     TEXT NOT NULL,
	reason     TEXT,
	timestamp  INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

INSERT INTO messages_new (id, session_id, wa_id, direction, from_jid, to_jid, chat, type, text,
			  body, status, timestamp, created_at, updated_at)
SELECT id, session_id, wa_id,
       CASE from_me WHEN 1 THEN 'outbound' ELSE 'inbound' END,
       CASE from_me WHEN 1 THEN NULL ELSE chat END,
       CASE from_me WHEN 1 THEN chat ELSE NULL END,
       chat, type,
       CASE WHEN json_valid(body) THEN json_extract(body, '$.text') END,
       body,
       CASE status WHEN 'queued' THEN 'pending' ELSE status END,
       timestamp, created_at, created_at
FROM messages;

DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;

CREATE INDEX messages_session_ts ON messages (session_id, timestamp DESC, id DESC);
CREATE INDEX messages_ts ON messages (timestamp);
CREATE UNIQUE INDEX messages_session_wa_id ON messages (session_id, wa_id) WHERE wa_id IS NOT NULL;
-- what is still to send, in the order it was accepted
CREATE INDEX messages_pending ON messages (session_id, created_at, id)
	WHERE status = 'pending' AND direction = 'outbound';
