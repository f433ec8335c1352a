-- Indexes for the keyset-paginated lists, the cascades and retention pruning.

CREATE INDEX messages_session_ts ON messages (session_id, timestamp DESC, id DESC);
CREATE INDEX messages_ts ON messages (timestamp);
CREATE UNIQUE INDEX messages_session_wa_id ON messages (session_id, wa_id) WHERE wa_id IS NOT NULL;
CREATE INDEX sessions_created ON sessions (created_at DESC, id DESC);
CREATE INDEX webhook_log_session ON webhook_log (session_id, created_at);
CREATE INDEX webhook_log_created ON webhook_log (created_at);
