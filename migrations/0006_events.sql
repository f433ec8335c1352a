-- The event outbox (src/service/events.h, docs/webhooks.md): one row per
-- thing that happened, written in the same transaction as the change it
-- describes. id is monotonic (AUTOINCREMENT never reuses an id) and is the
-- eventId of webhooks, GET /api/v1/events and the SSE stream. data is the
-- event's own fields as a JSON object, flat beside event/eventId/sessionId.
CREATE TABLE events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
	type       TEXT NOT NULL,
	data       TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX events_session ON events (session_id, id);
CREATE INDEX events_created ON events (created_at);

-- How far the webhook thread has fanned events out into deliveries.
CREATE TABLE event_cursors (
	name     TEXT PRIMARY KEY,
	event_id INTEGER NOT NULL
);

-- One row per (event, target URL): the delivery's state. kind says whose
-- webhook it is ('session': the session's own, 'global': WEBHOOK_URL), and
-- so which secret signs it. Pending rows are the retry queue: they survive
-- a restart. state: pending | delivered | failed.
CREATE TABLE webhook_deliveries (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id   INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
	session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
	url        TEXT NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('session', 'global')),
	state      TEXT NOT NULL DEFAULT 'pending'
		   CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (event_id, url)
);
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (state, session_id, url, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

-- The log rows of webhook attempts now name their event and duration.
ALTER TABLE webhook_log ADD COLUMN event_id INTEGER;
ALTER TABLE webhook_log ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX webhook_log_session_id ON webhook_log (session_id, id);
