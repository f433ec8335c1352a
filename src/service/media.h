/*
 * The media service (docs/media.md): downloads of received media on a
 * thread of its own with libcurl multi, streamed from the socket through
 * the decryptor (wa/media.h) into DATA_DIR/media/.{messageId}.tmp, verified
 * (mac, both hashes), then renamed to DATA_DIR/media/{messageId}.{ext}. The
 * WhatsApp loop never waits for it: the engine's worker stores the media
 * row (store_media_insert, state pending) and calls media_svc_download,
 * which only queues the id and wakes the thread. The thread reads and ends
 * rows with the store (store_media_get / store_media_finish): a failed
 * check marks the message failed with the reason and keeps no file. Rows
 * still pending at start (a crash or stop mid-download) are queued again.
 * A host that cannot be reached, cuts the download off, or answers 5xx or
 * 429: the next host is tried at once (the session's media_conn hosts with
 * the direct path, media_svc_set_hooks), and when every host failed the
 * round is tried again (MEDIA_BACKOFF_MS, 1 s, doubling up to 30 times it,
 * MEDIA_RETRIES times; the row stays pending meanwhile). A 404 or 410 (the file expired on its host)
 * asks the engine to have our phone upload it again (media_svc_set_hooks;
 * docs/media.md "Media retry"): the row stays pending until the answer
 * (media_retry_answered); once only — a second 404/410 fails it
 * (media_expired). Anything else ends the row at once.
 *
 * Ownership: media_svc_start borrows st (must outlive the service) and
 * copies the options. media_svc_download may be called from any thread.
 */
#ifndef YESAPP_SERVICE_MEDIA_H
#define YESAPP_SERVICE_MEDIA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h" /* struct wa_media_conn */
#include "store/store.h"
#include "wa/media.h"

#define MEDIA_INFLIGHT_MAX 4      /* downloads at once */
#define MEDIA_QUEUE_MAX 100000    /* ids waiting; beyond, left pending until restart */
#define MEDIA_RETRIES 8           /* tries again after an unreachable host or a 5xx/429 */

struct media_svc;

struct media_svc_opts {
	const char *data_dir;        /* files go to data_dir/media (made if missing) */
	const char *ca_file;         /* WA_CA_FILE or NULL: system CAs */
	bool auto_download;          /* false: rows end "skipped" */
	int64_t max_bytes;           /* MEDIA_DOWNLOAD_MAX_MB in bytes; 0: per-type limits only */
	long timeout_ms;             /* a download's whole time; 0: 10 minutes */
	long backoff_ms;             /* MEDIA_BACKOFF_MS: the wait before a round over the
				      * hosts is tried again (doubling, at most 30 times it);
				      * 0: 1000 */
	/* WA_WS_URL: media is fetched only from *.whatsapp.net and this URL's
	 * host (the WhatsApp server we were told to trust, e.g. the simulator),
	 * so a message cannot point our server at any other host. NULL: only
	 * *.whatsapp.net. */
	const char *wa_url;
};

int media_svc_start(struct store *st, const struct media_svc_opts *o, struct media_svc **out);
/* Stops the thread (downloads under way are cut; their rows stay pending
 * and resume at the next start). NULL is a no-op. */
void media_svc_stop(struct media_svc *m);
/* What a download that answered 404/410 needs to be asked for again:
 * the message's WhatsApp id, chat, direction, sender in a group (else
 * NULL) and media key. Borrowed for the call. */
struct media_expired {
	const char *session_id, *message_id, *wa_id, *chat, *participant;
	bool from_me;
	const uint8_t *media_key;
};
/* Called on the media thread; true when the ask is on its way (the row
 * stays pending), false: the row fails (media_expired). */
typedef bool (*media_expired_fn)(void *arg, const struct media_expired *r);
/* The hosts to try after the message's own url fails (docs/media.md
 * "Media hosts"): Y_OK with the session's media_conn in *c, else none now
 * (asking for one is the callee's business). Called on the media thread
 * under the hook lock; must not block. */
typedef int (*media_conn_fn)(void *arg, const char *session_id, struct wa_media_conn *c);
/* Sets (NULL: removes) both hooks, each called with arg; once it returns,
 * the old ones are not running nor called again. Any thread. */
void media_svc_set_hooks(struct media_svc *m, media_expired_fn expired, media_conn_fn conn,
			 void *arg);
/* The phone's answer to a media retry (the engine's worker): direct_path
 * the new path (the download is queued again from the old URL's host with
 * it), or NULL and reason why it failed (the row fails with
 * "media_expired: " + reason). A row no longer pending is left alone. */
void media_retry_answered(struct store *st, struct media_svc *m, const char *message_id,
			  const char *direct_path, const char *reason);
/* Queues message_id's download (its media row must be stored). */
void media_svc_download(struct media_svc *m, const char *message_id);
/* Removes files of DATA_DIR/media that belong to no media row any more
 * (their message was deleted by retention or with its session), at most
 * limit a call; returns how many went, or <0. Any thread but the loop. */
int media_sweep(struct store *st, const char *data_dir, int limit);

/* WhatsApp's size limits per type (bytes), as its apps apply them. */
int64_t media_type_limit(enum wa_media_type t);

/*
 * A session's own media settings (PUT /api/v1/sessions/{id}/media-settings,
 * stored as JSON by store_session_media_put): autoDownload, and a cap in
 * bytes per kind (image, video, audio, document, sticker; 0: none of its
 * own). WhatsApp's per-type limits and MEDIA_DOWNLOAD_MAX_MB always apply
 * too, MEDIA_AUTO_DOWNLOAD=false too.
 */
#define MEDIA_PREF_KINDS 5 /* WA_MEDIA_IMAGE .. WA_MEDIA_STICKER */
struct media_prefs {
	bool auto_download;
	int64_t max_bytes[MEDIA_PREF_KINDS];
};
/* Parses {"autoDownload"?: bool, "maxBytes"?: {"image"?: n, ...}} (n an
 * integer 0..the kind's limit) into p, which holds the values to keep for
 * what is absent. Y_OK, or Y_EINVAL with *field naming the bad one
 * ("maxBytes.video", a literal or a key of o). */
int media_prefs_parse(const json_t *o, struct media_prefs *p, const char **field);
/* {"autoDownload", "maxBytes": {every kind: its own cap or null}}. */
json_t *media_prefs_json(const struct media_prefs *p);

/* What a received Message carries as media (media_parse); strings owned. */
struct media_in {
	enum wa_media_type type;
	bool ptt;                    /* an audio message that is a voice note */
	char *url, *direct_path, *mimetype, *caption, *file_name;
	uint8_t media_key[32], file_sha256[32], file_enc_sha256[32];
	uint64_t file_length;
	uint32_t seconds, width, height;
};
/* Fills in from a packed Message: Y_OK, Y_ENOTFOUND when it has no image,
 * video, audio, document or sticker, Y_EINVAL when the media lacks a
 * 32-byte key or hash. */
int media_parse(const uint8_t *pb, size_t len, struct media_in *in);
void media_in_release(struct media_in *in);
/* A file extension for a mimetype (parameters ignored): jpg, png, webp,
 * mp4, ogg, mp3, pdf, ...; the subtype when short and plain; else "bin". */
void media_ext(const char *mimetype, char out[12]);


/* The engine's hooks (service/engine.c; the loop, then the worker):
 * media_message_fill makes an inbound message row m with media from its
 * packed Message: m->id (a new UUID), type (the kind), text (the caption)
 * and body {"media":{kind, mimetype, size, fileName, caption, seconds,
 * width, height, ptt}, "mediaUrl":"/api/v1/media/{id}"}; returns the media
 * row to store once m is (caller frees with store_media_release + free), or
 * NULL when pb has no media (m untouched). No I/O.
 * media_inbound_stored (worker, after m's insert): stores the row (pending)
 * and queues the download on m (may be NULL: the row stays pending). */
struct store_media *media_message_fill(const uint8_t *pb, size_t len, struct store_message *m);
void media_inbound_stored(struct store *st, struct media_svc *m, const struct store_media *row);

#endif
