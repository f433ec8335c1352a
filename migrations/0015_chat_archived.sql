-- A chat's archived flag (docs/appstate.md): set by PATCH .../chats/{chat}
-- and by our other devices' app-state archive mutations; shown in GET
-- .../chats. A chat whose last message goes loses its row, and the flag.
ALTER TABLE chats ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
