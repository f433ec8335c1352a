-- Chats (GET /api/v1/sessions/{id}/chats): one row per session and chat
-- JID with its latest message and how many inbound messages we have not
-- read, kept by triggers in the same transaction as the message rows, so
-- the list is one indexed range and never a scan of the messages.
-- unread counts inbound rows with status 'received' (POST .../read moves
-- them to 'read'). last_message_id is the tie-breaker of the list's order
-- and its cursor (a message is in one chat, so it is unique).

CREATE TABLE chats (
	session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	chat            TEXT NOT NULL,
	last_message_id TEXT NOT NULL,
	last_at         INTEGER NOT NULL,
	unread          INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (session_id, chat)
) WITHOUT ROWID;
CREATE INDEX chats_recent ON chats (session_id, last_at DESC, last_message_id DESC);

-- GET .../messages?chat=: a chat's messages newest first; also what the
-- triggers use to find a chat's latest message after a delete
CREATE INDEX messages_chat_ts ON messages (session_id, chat, timestamp DESC, id DESC);

-- today's messages: the latest of each chat (ties by id, as the list)
INSERT INTO chats (session_id, chat, last_message_id, last_at, unread)
SELECT m.session_id, m.chat,
       (SELECT x.id FROM messages x WHERE x.session_id = m.session_id AND x.chat = m.chat
	ORDER BY x.timestamp DESC, x.id DESC LIMIT 1),
       max(m.timestamp),
       sum(m.direction = 'inbound' AND m.status = 'received')
FROM messages m GROUP BY m.session_id, m.chat;

CREATE TRIGGER chats_msg_insert AFTER INSERT ON messages BEGIN
	INSERT INTO chats (session_id, chat, last_message_id, last_at, unread)
	VALUES (NEW.session_id, NEW.chat, NEW.id, NEW.timestamp,
		NEW.direction = 'inbound' AND NEW.status = 'received')
	ON CONFLICT (session_id, chat) DO UPDATE SET
		last_message_id = CASE WHEN excluded.last_at > last_at OR
			(excluded.last_at = last_at AND excluded.last_message_id > last_message_id)
			THEN excluded.last_message_id ELSE last_message_id END,
		last_at = max(last_at, excluded.last_at),
		unread = unread + excluded.unread;
END;

CREATE TRIGGER chats_msg_status AFTER UPDATE OF status ON messages
WHEN NEW.direction = 'inbound' AND (OLD.status = 'received') <> (NEW.status = 'received')
BEGIN
	UPDATE chats SET unread = max(0, unread + CASE WHEN NEW.status = 'received' THEN 1 ELSE -1 END)
	WHERE session_id = NEW.session_id AND chat = NEW.chat;
END;

-- retention and deletes: the unread count goes down, the latest message is
-- found again (one indexed step), and a chat with no messages left goes
CREATE TRIGGER chats_msg_delete AFTER DELETE ON messages BEGIN
	UPDATE chats SET unread = max(0, unread - (OLD.direction = 'inbound' AND OLD.status = 'received'))
	WHERE session_id = OLD.session_id AND chat = OLD.chat;
	UPDATE chats SET
		last_message_id = (SELECT x.id FROM messages x WHERE x.session_id = OLD.session_id
			AND x.chat = OLD.chat ORDER BY x.timestamp DESC, x.id DESC LIMIT 1),
		last_at = (SELECT x.timestamp FROM messages x WHERE x.session_id = OLD.session_id
			AND x.chat = OLD.chat ORDER BY x.timestamp DESC, x.id DESC LIMIT 1)
	WHERE session_id = OLD.session_id AND chat = OLD.chat AND last_message_id = OLD.id
	AND EXISTS (SELECT 1 FROM messages x WHERE x.session_id = OLD.session_id AND x.chat = OLD.chat);
	DELETE FROM chats WHERE session_id = OLD.session_id AND chat = OLD.chat
	AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.session_id = OLD.session_id AND x.chat = OLD.chat);
END;
