/*
 * Contacts and our profile, asked of WhatsApp by the session's client:
 *
 *   GET    .../contacts/{phone}          on WhatsApp? its JID, LID and about
 *                                        (a usync contact + lid + status query)
 *   GET    .../contacts/{phone}/picture  its profile picture URL (404: none or hidden)
 *   GET    .../profile                   our push name, about and picture URL
 *   PUT    .../profile/name              our push name (202, queued)
 *   PUT    .../profile/picture           our picture from a JPEG, PNG or WebP (base64
 *                                        or a URL), made square and small first
 *   DELETE .../profile/picture           removes it
 *
 * The questions are deferred (http_req_defer: the connection suspended, no
 * HTTP thread held) until the loop's answer, or API_LOOKUP_WAIT_MS (the
 * engine's beat: 504). GET .../profile asks twice in a row (our own number's
 * usync status, then our picture), each under its own deadline.
 */
#include "api/api.h"
#include "api/validate.h"
#include "http/json.h"
#include "service/media_meta.h"
#include "service/media_send.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_LOOKUP_WAIT_MS 8000
#define API_PICTURE_SOURCE_MAX ((size_t)5 << 20) /* image bytes we take (base64 or URL) */
#define API_PICTURE_MAX_PIXELS (40ULL * 1000 * 1000) /* its width x height, at most */
#define API_PICTURE_SIDE 640     /* what is sent: a square, at most this side (Baileys': 640) */
#define API_PICTURE_QUALITY 50   /* its JPEG quality (Baileys': 50) */
#define API_PICTURE_FETCH_MS 30000
#define API_PICTURE_JOBS 4       /* pictures being made at once (threads) */
#define API_PUSH_NAME_MAX 25              /* characters, as WhatsApp's apps allow */

/* A JID (or any text), or null for none. */
static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

enum ask_what { ASK_CONTACT, ASK_PICTURE, ASK_PROFILE_ABOUT, ASK_PROFILE_PICTURE, ASK_SET, ASK_REMOVE };

/* A question on its way: the deferred request and what it is about. */
struct lookup_req {
	struct http_defer *d;
	struct api_ctx *ctx;
	enum ask_what what;
	char phone[API_PHONE_MAX + 1];
	char session[STORE_ID_LEN];
	char jid[72];
	int preview;
	char *name;           /* ASK_PROFILE_*: our push name, or NULL */
	json_t *about;        /* ASK_PROFILE_PICTURE: what the first step found */
};

static void lookup_req_free(struct lookup_req *lr)
{
	if (!lr)
		return;
	free(lr->name);
	json_decref(lr->about);
	free(lr);
}

/* The answer to a successful question. */
static void reply_ok(struct http_req *req, struct lookup_req *lr, int rc,
		     const struct svc_contact *c)
{
	char plus[API_PHONE_MAX + 2];

	snprintf(plus, sizeof(plus), "+%s", lr->phone);
	switch (lr->what) {
	case ASK_CONTACT:
		http_reply_json(req, 200,
				json_pack("{s:s, s:b, s:o, s:o, s:o}", "phone", plus, "onWhatsApp",
					  c->registered, "jid",
					  str_or_null(c->registered ? c->jid : NULL), "lid",
					  str_or_null(c->registered ? c->lid : NULL), "about",
					  str_or_null(c->has_about ? c->about : NULL)));
		break;
	case ASK_PICTURE:
		http_reply_json(req, 200,
				json_pack("{s:s, s:s, s:o, s:s}", "phone", plus, "url", c->picture_url,
					  "id", str_or_null(c->picture_id), "type",
					  lr->preview ? "preview" : "image"));
		break;
	case ASK_PROFILE_PICTURE:
		http_reply_json(req, 200,
				json_pack("{s:s, s:o, s:O, s:o, s:o}", "phone", plus, "name",
					  str_or_null(lr->name), "about", lr->about, "pictureUrl",
					  str_or_null(rc ? NULL : c->picture_url), "pictureId",
					  str_or_null(rc ? NULL : c->picture_id)));
		break;
	case ASK_SET:
		http_reply_json(req, 200, json_pack("{s:o}", "pictureId", str_or_null(c->picture_id)));
		break;
	case ASK_REMOVE:
		http_reply_json(req, 200, json_pack("{s:n}", "pictureId"));
		break;
	case ASK_PROFILE_ABOUT:
		break; /* never answered here: a second question follows */
	}
}

/* Answers req for the question's outcome. */
static void reply_lookup(struct http_req *req, struct lookup_req *lr, int rc,
			 const struct svc_contact *c)
{
	switch (rc) {
	case Y_OK:
		reply_ok(req, lr, rc, c);
		break;
	case Y_ENOTFOUND:
		if (lr->what == ASK_PROFILE_PICTURE) /* no picture of ours: null */
			reply_ok(req, lr, rc, NULL);
		else if (lr->what == ASK_PICTURE)
			http_reply_error(req, 404, "PICTURE_NOT_FOUND",
					 "no profile picture, or it is hidden from this session",
					 NULL);
		else
			api_reply_store_error(req, rc);
		break;
	case Y_EINVAL:
		if (lr->what == ASK_SET) {
			http_reply_error(req, 422, "PICTURE_REFUSED", "WhatsApp refused the picture",
					 NULL);
			break;
		}
		/* else an answer we cannot read */
		/* fall through */
	default: {
		/* on the loop (inside the client's callback) the session is the
		 * thread's already; on an HTTP thread it is set here, so the line
		 * names it once either way */
		const char *prev = ylog_swap_session(lr->session);

		LOG_ERROR("contact query failed", "{s:s, s:i}", "error", y_strerror(rc), "what",
			  (int)lr->what);
		ylog_set_session(prev);
		http_reply_error(req, 502, "UPSTREAM_ERROR", "WhatsApp's answer was not usable",
				 NULL);
		break;
	}
	case Y_ESTATE:
	case Y_ECLOSED:
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
		break;
	case Y_EBUSY:
		http_req_set_retry_after(req, 1);
		http_reply_error(req, 429, "RATE_LIMIT_EXCEEDED",
				 "too many questions wait for WhatsApp in this session", NULL);
		break;
	case Y_EUNSUPPORTED:
		http_reply_error(req, 503, "ENGINE_UNAVAILABLE", "the WhatsApp engine is not running",
				 NULL);
		break;
	case Y_ETIMEOUT:
		http_reply_error(req, 504, "UPSTREAM_TIMEOUT", "WhatsApp did not answer in time",
				 NULL);
		break;
	}
}

static void lookup_done(void *arg, int err, const struct svc_contact *c);

/* Hands lr's question (q) to the engine; on a refusal answers at once. */
static void ask(struct lookup_req *lr, const struct svc_query *q)
{
	int rc = svc_query(lr->ctx->svc, lr->session, q, API_LOOKUP_WAIT_MS, lookup_done, lr);

	if (rc)
		lookup_done(lr, rc, NULL);
}

/* GET .../profile's second step: our picture, after our about. */
static int profile_next(struct lookup_req *lr, int err, const struct svc_contact *c)
{
	struct svc_query q = { .kind = SVC_Q_PICTURE, .jid = lr->jid };

	if (err)
		return err;
	lr->about = str_or_null(c->has_about ? c->about : NULL);
	if (!lr->about)
		return Y_ENOMEM;
	lr->what = ASK_PROFILE_PICTURE;
	ask(lr, &q);
	return Y_OK;
}

/* The question's outcome (on the engine's loop, or on the HTTP thread when it
 * could not be queued): answers the deferred request, if it is still there. */
static void lookup_done(void *arg, int err, const struct svc_contact *c)
{
	struct lookup_req *lr = arg;
	struct http_req *req;

	if (lr->what == ASK_PROFILE_ABOUT && !(err = profile_next(lr, err, c)))
		return; /* lr lives on with the next question */
	req = http_defer_begin(lr->d);
	if (req)
		reply_lookup(req, lr, err, c);
	http_defer_finish(lr->d);
	lookup_req_free(lr);
}

/* A new question for req's session (param 0), deferred; NULL when answered
 * (an unknown session, no memory). */
static struct lookup_req *begin(struct http_req *req, enum ask_what what)
{
	struct lookup_req *lr;

	if (!(lr = calloc(1, sizeof(*lr)))) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		return NULL;
	}
	if (!api_session_use_param(req, lr->session)) {
		free(lr);
		return NULL;
	}
	lr->ctx = http_req_app(req);
	lr->what = what;
	return lr;
}

/* Defers req and asks q: the loop may answer at once, so deferred first. */
static void defer_and_ask(struct http_req *req, struct lookup_req *lr, const struct svc_query *q)
{
	if (!(lr->d = http_req_defer(req))) {
		lookup_req_free(lr);
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		return;
	}
	ask(lr, q);
}

/* Reads the {phone} parameter (index 1) into lr; answers 400 when bad. */
static int phone_param(struct http_req *req, struct lookup_req *lr)
{
	char raw[24];
	size_t len;
	const char *p = http_req_param(req, 1, &len);

	if (p && len < sizeof(raw)) {
		memcpy(raw, p, len);
		raw[len] = 0;
		if (api_phone_parse(raw, lr->phone))
			return 1;
	}
	http_reply_error(req, 400, "INVALID_PHONE_NUMBER",
			 "phone must be an international number (optional +, 7 to 15 digits)",
			 http_json_field_error("phone", "not an E.164 number"));
	return 0;
}

/* begin(), then the {phone} parameter (index 1) read into it; NULL when
 * answered (a bad number: 400). */
static struct lookup_req *begin_phone(struct http_req *req, enum ask_what what)
{
	struct lookup_req *lr = begin(req, what);

	if (lr && !phone_param(req, lr)) {
		lookup_req_free(lr);
		return NULL;
	}
	return lr;
}

void api_contact_get(struct http_req *req)
{
	struct lookup_req *lr = begin_phone(req, ASK_CONTACT);
	struct svc_query q = { .kind = SVC_Q_CONTACT };

	if (!lr)
		return;
	q.phone = lr->phone;
	defer_and_ask(req, lr, &q);
}

/* GET .../contacts/{phone}/picture[?type=image|preview] (preview is the
 * default, as the apps show it in lists). */
void api_contact_picture(struct http_req *req)
{
	struct lookup_req *lr = begin_phone(req, ASK_PICTURE);
	struct svc_query q = { .kind = SVC_Q_PICTURE };
	const char *type = http_req_query(req, "type", NULL);

	if (!lr)
		return;
	if (type && strcmp(type, "image") && strcmp(type, "preview")) {
		lookup_req_free(lr);
		api_reply_invalid(req, http_json_field_error("type", "image or preview"));
		return;
	}
	snprintf(lr->jid, sizeof(lr->jid), "%s@s.whatsapp.net", lr->phone);
	lr->preview = !type || !strcmp(type, "preview");
	q.jid = lr->jid;
	q.preview = lr->preview;
	defer_and_ask(req, lr, &q);
}

/* Fills lr->phone and lr->name from the session; answers when it cannot
 * (unknown: 404, not linked: 503). */
static int own_account(struct http_req *req, struct lookup_req *lr)
{
	struct store_session ss;
	int rc = svc_session_get(lr->ctx->svc, lr->session, &ss);

	if (rc) {
		api_reply_store_error(req, rc);
		return 0;
	}
	if (ss.phone && strlen(ss.phone) <= API_PHONE_MAX)
		snprintf(lr->phone, sizeof(lr->phone), "%s", ss.phone);
	lr->name = ss.push_name ? strdup(ss.push_name) : NULL;
	rc = ss.status == STORE_SESSION_CONNECTED && lr->phone[0];
	store_session_release(&ss);
	if (!rc)
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
	return rc;
}

void api_profile_get(struct http_req *req)
{
	struct lookup_req *lr = begin(req, ASK_PROFILE_ABOUT);
	struct svc_query q = { .kind = SVC_Q_CONTACT };

	if (!lr)
		return;
	if (!own_account(req, lr)) {
		lookup_req_free(lr);
		return;
	}
	snprintf(lr->jid, sizeof(lr->jid), "%s@s.whatsapp.net", lr->phone);
	q.phone = lr->phone;
	defer_and_ask(req, lr, &q);
}

/* PUT .../profile/name {"name"}: 1 to 25 characters, announced at once. */
void api_profile_name(struct http_req *req)
{
	static const char *const keys[] = { "name", NULL };
	struct api_ctx *ctx = http_req_app(req);
	char sid[STORE_ID_LEN];
	const char *name = NULL;
	json_t *body, *d = NULL;
	int rc;

	if (!api_session_use_param(req, sid) || !(body = api_body_object(req, keys)))
		return;
	if (http_json_get_string(body, "name", 1, 1, API_PUSH_NAME_MAX, &name, &d) ||
	    strlen(name) > 60 || strspn(name, " ") == strlen(name)) {
		api_reply_invalid(req, d ? d : http_json_field_error("name",
								     "1 to 25 characters, not blank"));
	} else if ((rc = svc_set_push_name(ctx->svc, sid, name)) == Y_ESTATE) {
		http_reply_error(req, 503, "SESSION_NOT_CONNECTED",
				 "the session is not connected to WhatsApp", NULL);
	} else if (rc) {
		api_reply_store_error(req, rc);
	} else {
		http_reply_json(req, 202, json_pack("{s:s}", "name", name));
	}
	json_decref(body);
}

/* ---- our picture from any image: made square and small off the HTTP
 * threads ---- */

/* A picture on its way to the engine: the source (bytes, or a URL to fetch)
 * turned into WhatsApp's JPEG by pic_run on a thread of its own. */
struct pic_job {
	struct lookup_req *lr;
	uint8_t *src; /* the decoded base64, or NULL */
	size_t len;
	char *url;    /* else this, checked already */
};

enum pic_err { PIC_INTERNAL, PIC_FETCH, PIC_NOT_ALLOWED, PIC_UNREADABLE };

/* Answers lr's deferred request with an error (any thread); why: the
 * fetch's failure. */
static void pic_fail(struct lookup_req *lr, enum pic_err e, const char *field, const char *why)
{
	struct http_req *req = http_defer_begin(lr->d);

	if (req && e == PIC_FETCH)
		http_reply_error(req, 422, "MEDIA_FETCH_FAILED", why,
				 http_json_field_error("url", why));
	else if (req && e == PIC_NOT_ALLOWED) /* the name resolved to a non-public address */
		http_reply_error(req, 400, "MEDIA_URL_NOT_ALLOWED", why,
				 http_json_field_error("url", why));
	else if (req && e == PIC_UNREADABLE)
		http_reply_error(req, 400, "VALIDATION_ERROR", "the picture cannot be read",
				 http_json_field_error(field, "not a JPEG, PNG or still WebP "
								"image of at most 40 megapixels"));
	else if (req)
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
	http_defer_finish(lr->d);
	lookup_req_free(lr);
}

/* The source as a stream: the bytes, or the URL's body fetched into a
 * temporary file; NULL after answering. */
static FILE *pic_open(struct pic_job *j)
{
	struct api_ctx *ctx = j->lr->ctx;
	char why[200];
	FILE *f;
	int rc;

	if (!(f = j->src ? fmemopen(j->src, j->len, "rb") : tmpfile())) {
		pic_fail(j->lr, PIC_INTERNAL, NULL, NULL);
		return NULL;
	}
	if (j->src)
		return f;
	rc = media_fetch(j->url, fileno(f), API_PICTURE_SOURCE_MAX, ctx->media_url_allow_private,
			 API_PICTURE_FETCH_MS, why, sizeof(why));
	if (rc) {
		fclose(f);
		pic_fail(j->lr, rc == Y_EUNSUPPORTED ? PIC_NOT_ALLOWED : PIC_FETCH, "url", why);
		return NULL;
	}
	rewind(f); /* written through its descriptor */
	return f;
}

static void *pic_run(void *arg)
{
	struct pic_job *j = arg;
	struct api_ctx *ctx = j->lr->ctx;
	struct svc_query q = { .kind = SVC_Q_SET_PICTURE };
	struct media_meta m = { 0 };
	uint8_t head[16];
	size_t hn;
	FILE *f = pic_open(j);

	if (f) {
		hn = fread(head, 1, sizeof(head), f);
		if (media_meta_square(f, media_sniff(head, hn), API_PICTURE_SIDE,
				      API_PICTURE_QUALITY, API_PICTURE_MAX_PIXELS, &m)) {
			pic_fail(j->lr, PIC_UNREADABLE, j->url ? "url" : "base64", NULL);
		} else {
			q.jpeg = m.thumb;
			q.len = m.thumb_len;
			ask(j->lr, &q); /* the engine copied the bytes */
		}
		fclose(f);
	}
	media_meta_release(&m);
	free(j->src);
	free(j->url);
	free(j);
	pthread_mutex_lock(&ctx->pic_lock);
	ctx->pic_jobs--;
	pthread_cond_broadcast(&ctx->pic_cond);
	pthread_mutex_unlock(&ctx->pic_lock);
	return NULL;
}

/* Defers req and starts j's thread; answers when it cannot (429: as many
 * pictures are being made as API_PICTURE_JOBS). Takes j. */
static void pic_start(struct http_req *req, struct pic_job *j)
{
	struct api_ctx *ctx = j->lr->ctx;
	pthread_attr_t at;
	pthread_t t;
	int busy;

	pthread_mutex_lock(&ctx->pic_lock);
	busy = ctx->pic_jobs >= API_PICTURE_JOBS;
	if (!busy)
		ctx->pic_jobs++;
	pthread_mutex_unlock(&ctx->pic_lock);
	if (busy) {
		http_req_set_retry_after(req, 1);
		http_reply_error(req, 429, "RATE_LIMIT_EXCEEDED",
				 "too many pictures are being prepared; try again", NULL);
		goto fail;
	}
	if (!(j->lr->d = http_req_defer(req))) {
		http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
		goto fail_counted;
	}
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, pic_run, j)) {
		pthread_attr_destroy(&at);
		pic_fail(j->lr, PIC_INTERNAL, NULL, NULL);
		j->lr = NULL;
		goto fail_counted;
	}
	pthread_attr_destroy(&at);
	return;
fail_counted:
	pthread_mutex_lock(&ctx->pic_lock);
	ctx->pic_jobs--;
	pthread_cond_broadcast(&ctx->pic_cond);
	pthread_mutex_unlock(&ctx->pic_lock);
fail:
	lookup_req_free(j->lr);
	free(j->src);
	free(j->url);
	free(j);
}

void api_picture_jobs_wait(struct api_ctx *ctx)
{
	pthread_mutex_lock(&ctx->pic_lock);
	while (ctx->pic_jobs > 0)
		pthread_cond_wait(&ctx->pic_cond, &ctx->pic_lock);
	pthread_mutex_unlock(&ctx->pic_lock);
}

static void too_large(struct http_req *req)
{
	http_reply_error(req, 413, "MEDIA_TOO_LARGE", "the picture is larger than 5 MiB",
			 json_pack("{s:I}", "maxBytes", (json_int_t)API_PICTURE_SOURCE_MAX));
}

/* PUT .../profile/picture {"base64"} | {"url"}: a JPEG, PNG or WebP image of
 * at most 5 MiB, made what WhatsApp's apps send (its centre square, at most
 * API_PICTURE_SIDE px, a JPEG) and set. */
void api_profile_picture_put(struct http_req *req)
{
	static const char *const keys[] = { "base64", "url", NULL };
	struct api_ctx *ctx = http_req_app(req);
	struct lookup_req *lr = begin(req, ASK_SET);
	struct pic_job *j = NULL;
	json_t *body = NULL, *d = NULL;
	const char *b64 = NULL, *url = NULL, *bad;
	char whybuf[200];
	size_t n, cap;

	if (!lr || !(body = api_body_object(req, keys)))
		goto out;
	if (http_json_get_string(body, "base64", 0, 1, SIZE_MAX, &b64, &d) == Y_EINVAL ||
	    http_json_get_string(body, "url", 0, 1, 4096, &url, &d) == Y_EINVAL) {
		api_reply_invalid(req, d);
		goto out;
	}
	if (!b64 == !url) {
		api_reply_invalid(req, http_json_field_error(b64 ? "url" : "base64",
							     "give exactly one of base64 and url"));
		goto out;
	}
	if (url && (bad = api_url_check(url))) {
		api_reply_invalid(req, http_json_field_error("url", bad));
		goto out;
	}
	if (url && (bad = media_url_check(url, ctx->media_url_allow_private, whybuf,
					  sizeof(whybuf)))) {
		http_reply_error(req, 400, "MEDIA_URL_NOT_ALLOWED", bad,
				 http_json_field_error("url", bad));
		goto out;
	}
	if (!(j = calloc(1, sizeof(*j))))
		goto oom;
	if (url && !(j->url = strdup(url)))
		goto oom;
	if (b64) {
		n = strlen(b64);
		cap = n / 4 * 3 + 3;
		if (n / 4 * 3 > API_PICTURE_SOURCE_MAX + 3) {
			too_large(req);
			goto out;
		}
		if (!(j->src = malloc(cap)))
			goto oom;
		if (codec_b64_decode(b64, n, j->src, cap, &j->len) || !j->len) {
			api_reply_invalid(req, http_json_field_error(
						       "base64", "not valid standard base64 (RFC 4648 §4)"));
			goto out;
		}
		if (j->len > API_PICTURE_SOURCE_MAX) {
			too_large(req);
			goto out;
		}
	}
	j->lr = lr;
	pic_start(req, j); /* takes j and lr */
	j = NULL;
	lr = NULL;
	goto out;
oom:
	http_reply_error(req, 500, "INTERNAL_ERROR", "internal error", NULL);
out:
	if (j) {
		free(j->src);
		free(j->url);
		free(j);
	}
	lookup_req_free(lr);
	json_decref(body);
}

void api_profile_picture_delete(struct http_req *req)
{
	struct lookup_req *lr = begin(req, ASK_REMOVE);
	struct svc_query q = { .kind = SVC_Q_SET_PICTURE };

	if (lr)
		defer_and_ask(req, lr, &q);
}
