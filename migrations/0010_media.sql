-- Media of messages (issue 14, docs/media.md): one row per message that
-- carries an image, video, audio, document or sticker. What a download
-- needs (url, direct path, media key, both hashes, length) and where the
-- file went (path: a name under DATA_DIR/media). state: pending (to
-- download; resumed at start), done, failed (reason), skipped (autoDownload
-- off or over the size cap). The row goes with its message; files whose
-- row is gone are removed by the retention job.
CREATE TABLE media (
	message_id      TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
	session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	kind            TEXT NOT NULL,
	mimetype        TEXT,
	file_name       TEXT,
	url             TEXT,
	direct_path     TEXT,
	media_key       BLOB,
	file_sha256     BLOB,
	file_enc_sha256 BLOB,
	file_length     INTEGER NOT NULL DEFAULT 0,
	state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed', 'skipped')),
	path            TEXT,
	reason          TEXT,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX media_pending ON media (created_at) WHERE state = 'pending';
