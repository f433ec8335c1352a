-- A message insert no longer updates its chat row through a trigger: the
-- store does it in the same transaction (store_sqlite.c chat_touch_locked),
-- once per chat for a batch of accepted messages. The trigger cost about
-- half of an insert (an AFTER INSERT trigger runs as a sub-program with a
-- copy of the row: ~28 us of ~125 us per row for an empty trigger body on
-- the project machine, ~60 us with this upsert; bench/RESULTS.md
-- 2026-12-04). Same rules as 0011_chat_actions.sql: the latest message by
-- (timestamp, id), unread counting inbound 'received' rows that are not
-- reactions, edits, revokes or poll votes.
DROP TRIGGER chats_msg_insert;
