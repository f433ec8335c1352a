/*
 * Sending media (docs/media.md "Sending"): the upload thread. The HTTP
 * thread has stored the message pending, its body naming the source (a
 * file DATA_DIR/media/out/{sessionId}.{waId}.bin written and fsync'd before the 202, or
 * an http(s) URL), and queued its id here. The thread, one message at a
 * time: fetches a URL into that file (size-capped, timed out, http/https
 * only) and checks its bytes against the kind and mimetype; asks the engine
 * for the session's media_conn (hosts + auth, cached by the engine until
 * its ttl); encrypts the file twice, streamed in 64 KiB chunks (a first
 * pass for fileEncSha256, which names the upload, a second one feeding the
 * POST: never the whole file in memory); POSTs it to
 * https://{host}/mms/{type}/{token}?auth=&token=; then gives the engine the
 * packed Message (url, direct path, media key, both hashes, length,
 * mimetype, caption, file name, ptt, and what service/media_meta.h read
 * from the file once per message: width/height, seconds, jpegThumbnail,
 * waveform) to send as a text is sent. A failure
 * ends the message failed with a reason ("media: fetch failed: HTTP 404",
 * "media: upload failed: ...", ...). A session not connected yet, or a
 * media_conn not answered yet, is waited for (tried again every 1..5 s).
 *
 * Ownership: media_up_start borrows st and ops/ud (they outlive the
 * uploader), copies the options. media_up_queue: any thread.
 */
#ifndef YESAPP_SERVICE_MEDIA_SEND_H
#define YESAPP_SERVICE_MEDIA_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "store/store.h"
#include "wa/media.h"

#define MEDIA_UP_CHUNK (64 * 1024)
#define MEDIA_UP_TRIES 6            /* uploads tried (5xx, unreachable) before failing */
#define MEDIA_FETCH_TIMEOUT_MS 120000

struct media_up;

struct media_up_ops {
	/* The session's media_conn: Y_OK with *c, else Y_EAGAIN (asked for;
	 * try again later). Upload thread. */
	int (*conn)(void *ud, const char *sid, struct wa_media_conn *c);
	/* A stale auth (the host refused it): forget the cached one. */
	void (*conn_stale)(void *ud, const char *sid);
	/* The Message is packed: send pb[0..len) (taken: malloc'ed) as message
	 * mid (WhatsApp id wa_id) to `to`; src is the source file to remove
	 * once the message is acked. Upload thread. */
	void (*ready)(void *ud, const char *sid, const char *mid, const char *wa_id,
		      const char *to, uint8_t *pb, size_t len, const char *src);
	/* The message failed for good (reason as above). Upload thread. */
	void (*failed)(void *ud, const char *sid, const char *wa_id, const char *reason);
};

struct media_up_opts {
	const char *data_dir;  /* sources live in data_dir/media/out (made if missing) */
	const char *ca_file;   /* WA_CA_FILE or NULL: for the media hosts */
	long fetch_timeout_ms; /* a URL fetch's whole time; 0: MEDIA_FETCH_TIMEOUT_MS */
	long backoff_ms;       /* MEDIA_BACKOFF_MS: a round over the media_conn hosts that
				* failed is tried again 2x, 4x, ... this later; 0: 1000 */
	bool allow_private;    /* MEDIA_URL_ALLOW_PRIVATE; else every connection of a fetch
				* (each redirect hop) must go to a public address */
};

/*
 * Whether a media URL (http(s), checked by the caller) may be fetched, as
 * far as its text tells: with allow_private always; else an address
 * literal (any form getaddrinfo reads with AI_NUMERICHOST) must be public
 * and "localhost" (or a name under it) is refused. Never resolves a name
 * (no DNS, does not block: HTTP threads call it): a name passes here and
 * the fetch (media_fetch) refuses any non-public address it would connect
 * to (each redirect hop's, DNS rebinding). NULL when fine, else why
 * ("resolves to a loopback address (127.0.0.1)") in why_buf.
 */
const char *media_url_check(const char *url, bool allow_private, char *why_buf, size_t cap);

/*
 * Fetches url (http/https, redirects followed, each connection's address
 * checked as above unless allow_private) appending its body to fd (the
 * caller's: not closed, not synced), at most limit bytes, within
 * timeout_ms. Y_OK, Y_EUNSUPPORTED when a connection was refused as
 * non-public ("media: fetch failed: not allowed to connect to a loopback
 * address 127.0.0.1"), or Y_EIO with why ("media: fetch failed: HTTP 404",
 * "...: larger than N bytes"). Blocks: any thread but the loop.
 */
int media_fetch(const char *url, int fd, uint64_t limit, bool allow_private, long timeout_ms,
		char *why, size_t cap);
/* As media_fetch, with Y_ETOOBIG for a body over limit, and *status (not
 * NULL) the last answer's HTTP status (0: none came). */
int media_fetch_status(const char *url, int fd, uint64_t limit, bool allow_private,
		       long timeout_ms, long *status, char *why, size_t cap);

/* A URL fetched before a send is accepted (media_up_fetch). rc: Y_OK,
 * Y_EUNSUPPORTED (a connection to a non-public address refused),
 * Y_ETOOBIG (over the limit), Y_EIO (why says: "media: fetch failed: HTTP
 * 404", a curl error, ...), Y_ECLOSED (the uploader stopped first). */
struct media_fetched {
	int rc;
	const char *tmp;      /* Y_OK: the written, fsync'd file data_dir/media/out/up-{uuid}.tmp,
			       * the callback's (media_up_adopt_src it, or unlink it) */
	uint64_t len;         /* its size, >= 1 */
	const uint8_t *head;  /* its first headn (<= 16) bytes */
	size_t headn;
	long http_status;     /* the last answer's status, 0 when none came */
	const char *why;      /* the failure, in words */
};
/* Called exactly once per fetch, on the upload thread (or in media_up_free
 * with Y_ECLOSED); f and its strings are valid during the call only. */
typedef void (*media_fetched_cb)(void *arg, const struct media_fetched *f);

int media_up_start(struct store *st, const struct media_up_opts *o,
		   const struct media_up_ops *ops, void *ud, struct media_up **out);
/* Stops the thread (it calls ops no more); queued messages stay pending
 * (queued again at the next start by the engine). media_up_queue may still
 * be called until media_up_free. NULL is a no-op for both. */
void media_up_stop(struct media_up *u);
void media_up_free(struct media_up *u);
/* Queues message mid of session sid (stored pending, body as above). */
void media_up_queue(struct media_up *u, const char *sid, const char *mid);
/* Queues a fetch of url (http(s), checked by media_url_check) into a
 * source file of at most limit bytes, timed out and address-checked as the
 * uploader's fetches are; the upload thread runs it in turn with the
 * messages and calls cb(arg, ...) once. Y_OK; Y_ENOMEM or Y_ESTATE (u
 * NULL): cb never runs. Any thread. */
int media_up_fetch(struct media_up *u, const char *url, uint64_t limit, media_fetched_cb cb,
		   void *arg);

/* Where an upload went: the host's answer. */
struct media_uploaded {
	char url[1024], direct_path[1024];
};
/* What the upload thread does with a source file once it has a media_conn
 * (docs/media.md "Sending" 3, "Media hosts"): a fresh random media key
 * (into key), a first pass over fd for the sums, then the second pass
 * streamed as the body of POST https://{host}/mms/{type}/{token} to each
 * host of mc in turn while one cannot be reached or answers 5xx/429. Y_OK
 * with *sums and *up; Y_EAGAIN (every host failed that way: worth a later
 * round), Y_ESTATE (401/403: the auth is stale), else final; why on
 * failure. log_id names the upload in logs. fd is read from its start
 * (twice), not closed. Blocks: any thread but the loop. */
int media_upload(const struct wa_media_conn *mc, const char *ca_file, enum wa_media_type t, int fd,
		 const char *log_id, uint8_t key[WA_MEDIA_KEY_LEN], struct wa_media_sums *sums,
		 struct media_uploaded *up, char *why, size_t cap);

/* data_dir/media/out/{sid}.{wa_id}.bin */
int media_up_src_path(const char *data_dir, const char *sid, const char *wa_id, char *out,
		      size_t cap);
/* Writes p[0..n) to wa_id's source file (a temp file, fsync, rename, fsync
 * of the directory). Y_OK, Y_EIO, Y_ENOSPC-like errors as Y_EIO. */
int media_up_write_src(const char *data_dir, const char *sid, const char *wa_id, const uint8_t *p,
		       size_t n);
/* An upload's temp file: data_dir/media/out/up-{uuid}.tmp (written to
 * path), opened for writing; the fd, or -1. A crash leaves it to
 * media_up_start, which removes every .tmp there. */
int media_up_open_tmp(const char *data_dir, char *path, size_t cap);
/* Makes the written, fsync'd file tmp wa_id's source file (rename, fsync
 * of the directory). Y_OK or Y_EIO (tmp is then left to the caller). */
int media_up_adopt_src(const char *data_dir, const char *sid, const char *wa_id,
		       const char *tmp);
/* Removes the sources of sessions that are gone (deleted with their
 * messages); returns how many. Called by media_sweep. */
int media_up_sweep(struct store *st, const char *data_dir);

/* The mimetype the first bytes p[0..n) show (n >= 12 recommended):
 * image/jpeg, image/png, image/webp, image/gif, video/mp4, audio/ogg,
 * audio/mpeg, application/pdf; NULL when none of them. */
const char *media_sniff(const uint8_t *p, size_t n);
/*
 * Checks a kind's mimetype: given (the caller's, may be NULL) against
 * sniffed (media_sniff's, may be NULL). *use gets the mimetype to send
 * (given, else sniffed, else a default for documents). Returns NULL when
 * fine, else why not ("mimetype contradicts the file's bytes (image/png)",
 * "an image must be an image/ type", "cannot tell the mimetype; give one").
 * why_buf holds the message.
 */
const char *media_mime_check(enum wa_media_type t, const char *given, const char *sniffed,
			     const char **use, char *why_buf, size_t cap);

#endif
