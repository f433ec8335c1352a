/*
 * GET /api/v1/media/{messageId} (docs/media.md, docs/api.md): a received
 * message's media file, streamed from DATA_DIR/media by libmicrohttpd from
 * the file (http_reply_fd), with Content-Type (the sender's mimetype),
 * Content-Length, ETag (from the file's SHA-256, which the download
 * verified), Last-Modified, Accept-Ranges, Content-Disposition for
 * documents, and single byte ranges (206 / 416). An id that is not a UUID,
 * names no media row, or whose media is not downloaded is 404: the file
 * name comes from the row, never from the request.
 */
#include "api/api.h"
#include "http/http.h"
#include "http/json.h"
#include "service/media.h"
#include "store/store.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The mimetype as a header value: printable ASCII without quotes or
 * controls, else application/octet-stream. */
static const char *safe_type(const char *t)
{
	if (!t || !*t || strlen(t) > 100)
		return "application/octet-stream";
	for (const char *p = t; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			return "application/octet-stream";
	return t;
}

/* Content-Disposition: attachment with the file name as an ASCII fallback
 * (other bytes as '_') and as RFC 5987 UTF-8 percent-encoding. */
static void disposition(const char *name, char *out, size_t cap)
{
	char ascii[128], enc[400];
	size_t a = 0, e = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || strchr("-._~", *p);

		/* one '_' per character: UTF-8 continuation bytes add none */
		if (a < sizeof(ascii) - 1 && (*p & 0xc0) != 0x80)
			ascii[a++] = plain || *p == ' ' ? (char)*p : '_';
		if (e < sizeof(enc) - 4) {
			if (plain)
				enc[e++] = (char)*p;
			else
				e += (size_t)snprintf(enc + e, 4, "%%%02X", *p);
		}
	}
	ascii[a] = enc[e] = 0;
	snprintf(out, cap, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, enc);
}

/* Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range against
 * size: 1 with [*off, *off + *len), 0 for no usable Range (serve it all:
 * absent, malformed, several ranges), -1 when unsatisfiable (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	uint64_t a = 0, b = 0;
	bool has_a = false, has_b = false;
	const char *p;

	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	p = h + 6;
	while (*p >= '0' && *p <= '9') {
		if (a > (UINT64_MAX - 9) / 10)
			return 0;
		a = a * 10 + (uint64_t)(*p++ - '0');
		has_a = true;
	}
	if (*p++ != '-')
		return 0;
	while (*p >= '0' && *p <= '9') {
		if (b > (UINT64_MAX - 9) / 10)
			return 0;
		b = b * 10 + (uint64_t)(*p++ - '0');
		has_b = true;
	}
	if (*p || (!has_a && !has_b))
		return 0;
	if (!has_a) { /* the last b bytes */
		if (b == 0 || size == 0)
			return -1;
		*len = b < size ? b : size;
		*off = size - *len;
		return 1;
	}
	if (has_b && b < a)
		return 0;
	if (a >= size)
		return -1;
	*off = a;
	*len = (has_b && b < size - 1 ? b : size - 1) - a + 1;
	return 1;
}

/* 416 RANGE_NOT_SATISFIABLE with Content-Range: bytes * /size. */
static void range_not_satisfiable(struct http_req *req, const char *crange, uint64_t size)
{
	http_req_set_content_range(req, crange);
	http_reply_error(req, 416, "RANGE_NOT_SATISFIABLE", "the range is outside the file",
			 json_pack("{s:s, s:I}", "contentRange", crange, "size", (json_int_t)size));
}

static void not_found(struct http_req *req, const char *id, const char *state,
		      const char *reason)
{
	http_reply_error(req, 404, "MEDIA_NOT_FOUND",
			 state ? "the message's media is not downloaded" : "no media with this id",
			 json_pack("{s:s, s:s?, s:s?}", "messageId", id, "state", state, "reason",
				   reason));
}

void api_media_get(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_media m;
	char id[STORE_ID_LEN], path[4096], etag[40], lm[40], crange[80], disp[700];
	const char *hdrs[12];
	size_t n = 0, nh = 0;
	const char *p = http_req_param(req, 0, &n);
	uint64_t off = 0, len, size;
	struct stat sb;
	struct tm tm;
	int fd, r, rc;

	if (!p || n != STORE_ID_LEN - 1) {
		not_found(req, "", NULL, NULL);
		return;
	}
	memcpy(id, p, n);
	id[n] = 0;
	if (!uuid_valid(id)) {
		not_found(req, "", NULL, NULL);
		return;
	}
	rc = store_media_get(ctx->st, id, &m);
	if (rc) {
		if (rc == Y_ENOTFOUND)
			not_found(req, id, NULL, NULL);
		else
			api_reply_store_error(req, rc);
		return;
	}
	/* the stored name is "{id}.{ext}": nothing else is opened */
	if (strcmp(m.state, "done") || !m.path || strncmp(m.path, id, n) || m.path[n] != '.' ||
	    strchr(m.path, '/') || !ctx->data_dir) {
		not_found(req, id, m.state, m.reason);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/media/%s", ctx->data_dir, m.path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		not_found(req, id, "missing", NULL);
		goto out;
	}
	size = (uint64_t)sb.st_size;
	etag[0] = '"';
	codec_hex_encode(m.file_sha256, 16, etag + 1);
	strcat(etag, "\"");
	gmtime_r(&sb.st_mtime, &tm);
	strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	hdrs[nh++] = "ETag";
	hdrs[nh++] = etag;
	hdrs[nh++] = "Last-Modified";
	hdrs[nh++] = lm;
	hdrs[nh++] = "Accept-Ranges";
	hdrs[nh++] = "bytes";
	if (!strcmp(m.kind, "document")) {
		disposition(m.file_name && *m.file_name ? m.file_name : m.path, disp, sizeof(disp));
		hdrs[nh++] = "Content-Disposition";
		hdrs[nh++] = disp;
	}
	/* a list, weak forms and * too (as the other ETagged routes) */
	if (http_req_etag_match(req, etag)) {
		close(fd);
		http_reply_bytes(req, 304, "application/octet-stream", NULL, 0,
				 "private, max-age=86400", etag);
		goto out;
	}
	len = size;
	r = parse_range(http_req_header(req, "Range"), size, &off, &len);
	if (r < 0) {
		close(fd);
		snprintf(crange, sizeof(crange), "bytes */%" PRIu64, size);
		range_not_satisfiable(req, crange, size);
		goto out;
	}
	if (r > 0) {
		snprintf(crange, sizeof(crange), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off,
			 off + len - 1, size);
		hdrs[nh++] = "Content-Range";
		hdrs[nh++] = crange;
	}
	hdrs[nh] = NULL;
	http_reply_fd(req, r > 0 ? 206 : 200, safe_type(m.mimetype), fd, off, len,
		      "private, max-age=86400", hdrs);
out:
	store_media_release(&m);
}

/* Whether done row m's file is there, as GET /api/v1/media/{id} would
 * open it. */
static bool stored_file_there(const struct api_ctx *ctx, const struct store_media *m)
{
	size_t n = strlen(m->message_id);
	char path[4096];
	struct stat sb;

	if (strcmp(m->state, "done") || !m->path || strncmp(m->path, m->message_id, n) ||
	    m->path[n] != '.' || strchr(m->path, '/') || !ctx->data_dir)
		return false;
	snprintf(path, sizeof(path), "%s/media/%s", ctx->data_dir, m->path);
	return !lstat(path, &sb) && S_ISREG(sb.st_mode);
}

static void nothing_to_download(struct http_req *req, const char *mid, const char *why)
{
	http_reply_error(req, 409, "NOTHING_TO_DOWNLOAD", why,
			 json_pack("{s:s}", "messageId", mid));
}

/* POST /api/v1/sessions/{id}/messages/{mid}/download (docs/media.md): a
 * received media message that was skipped or whose download failed is
 * downloaded now, whatever the autoDownload settings and caps say (202,
 * state pending; the message.media event tells the end); one already
 * stored is 200 (state done); one under way 202. A message without media
 * to fetch (a text, media we sent, over WhatsApp's limit) is 409. */
void api_media_download(struct http_req *req)
{
	struct api_ctx *ctx = http_req_app(req);
	struct store_message msg;
	struct store_media m;
	char sid[STORE_ID_LEN], mid[STORE_ID_LEN], prev[16], url[64];
	int rc, t;

	if (!api_message_params(req, sid, mid))
		return;
	rc = svc_session_exists(ctx->svc, sid) ? store_message_get(ctx->st, sid, mid, &msg)
					       : Y_ENOTFOUND;
	if (rc == Y_ENOTFOUND && svc_session_exists(ctx->svc, sid)) {
		http_reply_error(req, 404, "MESSAGE_NOT_FOUND", "no such message", NULL);
		return;
	}
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	store_message_release(&msg);
	rc = store_media_get(ctx->st, mid, &m);
	if (rc == Y_ENOTFOUND || (rc == Y_OK && strcmp(m.session_id, sid))) {
		if (rc == Y_OK)
			store_media_release(&m);
		nothing_to_download(req, mid, "the message carries no received media");
		return;
	}
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	snprintf(url, sizeof(url), "/api/v1/media/%s", mid);
	if (stored_file_there(ctx, &m)) {
		store_media_release(&m);
		http_reply_json(req, 200, json_pack("{s:s, s:s, s:s}", "messageId", mid, "state",
						    "done", "mediaUrl", url));
		return;
	}
	t = wa_media_type_parse(m.kind);
	if (t < 0 || m.file_length > media_type_limit((enum wa_media_type)t)) {
		store_media_release(&m);
		nothing_to_download(req, mid, "the media is larger than WhatsApp's limit for its kind");
		return;
	}
	store_media_release(&m);
	/* a done row whose file went missing is fetched again too */
	rc = store_media_request(ctx->st, sid, mid, 1, prev);
	if (rc) {
		api_reply_store_error(req, rc);
		return;
	}
	/* a pending one is queued or under way already: queueing it twice
	 * would start two downloads of it */
	if (strcmp(prev, "pending"))
		media_svc_download(ctx->media, mid);
	http_reply_json(req, 202, json_pack("{s:s, s:s, s:s}", "messageId", mid, "state",
					    "pending", "mediaUrl", url));
}

/* The session's media settings as stored, over the defaults; 0 after
 * answering (no such session: 404; a store failure). */
static int load_prefs(struct http_req *req, const char *sid, struct media_prefs *p)
{
	struct api_ctx *ctx = http_req_app(req);
	char *text = NULL;
	const char *field;
	json_t *o;
	int rc;

	memset(p, 0, sizeof(*p));
	p->auto_download = true;
	if (!svc_session_exists(ctx->svc, sid)) {
		api_reply_store_error(req, Y_ENOTFOUND);
		return 0;
	}
	rc = store_session_media_get(ctx->st, sid, &text);
	if (rc == Y_ENOTFOUND)
		return 1;
	if (rc) {
		api_reply_store_error(req, rc);
		return 0;
	}
	o = json_loads(text, 0, NULL);
	if (o)
		media_prefs_parse(o, p, &field); /* stored after the same checks */
	json_decref(o);
	free(text);
	return 1;
}

/* GET /api/v1/sessions/{id}/media-settings: {autoDownload, maxBytes: {kind: n | null}}. */
void api_media_settings_get(struct http_req *req)
{
	char sid[STORE_ID_LEN];
	struct media_prefs p;

	if (!api_session_use_param(req, sid) || !load_prefs(req, sid, &p))
		return;
	http_reply_json(req, 200, media_prefs_json(&p));
}

/* PUT /api/v1/sessions/{id}/media-settings: {autoDownload?, maxBytes?: {kind?: n | null}}
 * over what the session has (docs/media.md); 200 with the result. */
void api_media_settings_put(struct http_req *req)
{
	static const char *const keys[] = { "autoDownload", "maxBytes", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN];
	struct media_prefs p;
	const char *field;
	json_t *body, *out = NULL;
	char *text = NULL;
	int rc;

	if (!api_session_use_param(req, sid))
		return;
	body = api_body_object(req, keys);
	if (!body)
		return;
	if (!load_prefs(req, sid, &p)) { /* also: no such session */
		json_decref(body);
		return;
	}
	if (media_prefs_parse(body, &p, &field)) { /* field may be a key of body: answer first */
		api_reply_invalid(req, http_json_field_error(
					       field, !strcmp(field, "autoDownload")
							      ? "must be a boolean"
							      : "must be an object of image, video, audio, "
								"document, sticker: bytes (0..the kind's "
								"WhatsApp limit) or null"));
		json_decref(body);
		return;
	}
	json_decref(body);
	out = media_prefs_json(&p);
	text = out ? json_dumps(out, JSON_COMPACT) : NULL;
	rc = text ? store_session_media_put(ctx->st, sid, text) : Y_ENOMEM;
	free(text);
	if (rc) {
		json_decref(out);
		api_reply_store_error(req, rc);
		return;
	}
	http_reply_json(req, 200, out);
}
