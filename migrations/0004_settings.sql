-- Server-wide settings changed at run time through the API (e.g. the
-- WhatsApp Web version); a row here wins over the configured default.

CREATE TABLE settings (
	key        TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
