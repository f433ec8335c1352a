-- A chat's unread count counts messages, not actions on them: an inbound
-- reaction, edit, delete for everyone or poll vote (issue 15's rows of type
-- reaction, edit, revoke, poll_vote) stays 'received' for ever (marking a
-- chat read sends no receipt for it), so counting it left such chats unread
-- for good. The chats triggers of 0009_chats.sql again, with that rule, and
-- the counts recomputed.
DROP TRIGGER chats_msg_insert;
DROP TRIGGER chats_msg_status;
DROP TRIGGER chats_msg_delete;

CREATE TRIGGER chats_msg_insert AFTER INSERT ON messages BEGIN
	INSERT INTO chats (session_id, chat, last_message_id, last_at, unread)
	VALUES (NEW.session_id, NEW.chat, NEW.id, NEW.timestamp,
		NEW.direction = 'inbound' AND NEW.status = 'received' AND
		coalesce(NEW.type, '') NOT IN ('reaction', 'edit', 'revoke', 'poll_vote'))
	ON CONFLICT (session_id, chat) DO UPDATE SET
		last_message_id = CASE WHEN excluded.last_at > last_at OR
			(excluded.last_at = last_at AND excluded.last_message_id > last_message_id)
			THEN excluded.last_message_id ELSE last_message_id END,
		last_at = max(last_at, excluded.last_at),
		unread = unread + excluded.unread;
END;

CREATE TRIGGER chats_msg_status AFTER UPDATE OF status ON messages
WHEN NEW.direction = 'inbound' AND (OLD.status = 'received') <> (NEW.status = 'received') AND
     coalesce(NEW.type, '') NOT IN ('reaction', 'edit', 'revoke', 'poll_vote')
BEGIN
	UPDATE chats SET unread = max(0, unread + CASE WHEN NEW.status = 'received' THEN 1 ELSE -1 END)
	WHERE session_id = NEW.session_id AND chat = NEW.chat;
END;

CREATE TRIGGER chats_msg_delete AFTER DELETE ON messages BEGIN
	UPDATE chats SET unread = max(0, unread - (OLD.direction = 'inbound' AND OLD.status = 'received' AND
		coalesce(OLD.type, '') NOT IN ('reaction', 'edit', 'revoke', 'poll_vote')))
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

UPDATE chats SET unread = (SELECT count(*) FROM messages m WHERE m.session_id = chats.session_id
	AND m.chat = chats.chat AND m.direction = 'inbound' AND m.status = 'received'
	AND coalesce(m.type, '') NOT IN ('reaction', 'edit', 'revoke', 'poll_vote'));
