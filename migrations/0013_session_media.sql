-- Per-session media settings (issue 14, docs/media.md "autoDownload per
-- session"): what the session downloads of received media, as the JSON the
-- API took ({"autoDownload": bool, "maxBytes": {"image": n, ...}}). No row:
-- the server's MEDIA_AUTO_DOWNLOAD and MEDIA_DOWNLOAD_MAX_MB. Goes with its
-- session.
CREATE TABLE session_media_settings (
	session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
	settings   TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
