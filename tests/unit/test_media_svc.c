/* src/service/media.c without the network: what a received Message's media
 * becomes (media_parse, media_message_fill), file extensions, the per-type
 * limits, and media_sweep removing only files without a media row. */
#include "test.h"
#include "tmpdir.h"
#include "service/media.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/uuid.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t key[32], sha[32], esha[32];

/* A packed Message with a document (or, with image, an image), optionally
 * inside a deviceSentMessage. */
static void pack_doc(struct ybuf *out, bool image, bool wrapped, size_t keylen)
{
	Wa__Message m = WA__MESSAGE__INIT, outer = WA__MESSAGE__INIT;
	Wa__Message__DocumentMessage d = WA__MESSAGE__DOCUMENT_MESSAGE__INIT;
	Wa__Message__ImageMessage im = WA__MESSAGE__IMAGE_MESSAGE__INIT;
	Wa__Message__DeviceSentMessage ds = WA__MESSAGE__DEVICE_SENT_MESSAGE__INIT;

	if (image) {
		im.url = "https://127.0.0.1:1/v/x.enc";
		im.mimetype = "image/jpeg";
		im.caption = "cap";
		im.has_mediakey = im.has_filesha256 = im.has_fileencsha256 = 1;
		im.mediakey.data = key;
		im.mediakey.len = keylen;
		im.filesha256.data = sha;
		im.filesha256.len = 32;
		im.fileencsha256.data = esha;
		im.fileencsha256.len = 32;
		im.has_filelength = 1;
		im.filelength = 1234;
		im.has_width = im.has_height = 1;
		im.width = 640;
		im.height = 480;
		m.imagemessage = &im;
	} else {
		d.directpath = "/v/t62.7119-24/abc.enc?ccb=11-4";
		d.mimetype = "application/pdf";
		d.filename = "a \"b\".pdf";
		d.has_mediakey = d.has_filesha256 = d.has_fileencsha256 = 1;
		d.mediakey.data = key;
		d.mediakey.len = keylen;
		d.filesha256.data = sha;
		d.filesha256.len = 32;
		d.fileencsha256.data = esha;
		d.fileencsha256.len = 32;
		d.has_filelength = 1;
		d.filelength = 99;
		m.documentmessage = &d;
	}
	if (wrapped) {
		ds.destinationjid = "1555@s.whatsapp.net";
		ds.message = &m;
		outer.devicesentmessage = &ds;
		REQUIRE(wa_pb_pack(&outer.base, out) == Y_OK);
	} else {
		REQUIRE(wa_pb_pack(&m.base, out) == Y_OK);
	}
}

TEST(parse_document_and_image)
{
	struct ybuf b = YBUF_INIT(1 << 16);
	struct media_in in;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i, sha[i] = (uint8_t)(i + 1), esha[i] = (uint8_t)(i + 2);
	pack_doc(&b, false, false, 32);
	CHECK_EQ_INT(media_parse(b.data, b.len, &in), Y_OK);
	CHECK_EQ_INT(in.type, WA_MEDIA_DOCUMENT);
	CHECK(in.url == NULL);
	CHECK(in.direct_path && !strcmp(in.direct_path, "/v/t62.7119-24/abc.enc?ccb=11-4"));
	CHECK(in.file_name && !strcmp(in.file_name, "a \"b\".pdf"));
	CHECK_EQ_INT(in.file_length, 99);
	CHECK_MEM(in.media_key, key, 32);
	CHECK_MEM(in.file_sha256, sha, 32);
	CHECK_MEM(in.file_enc_sha256, esha, 32);
	media_in_release(&in);
	ybuf_reset(&b);
	pack_doc(&b, true, true, 32); /* our own other device's copy */
	CHECK_EQ_INT(media_parse(b.data, b.len, &in), Y_OK);
	CHECK_EQ_INT(in.type, WA_MEDIA_IMAGE);
	CHECK(in.caption && !strcmp(in.caption, "cap"));
	CHECK_EQ_INT(in.width, 640);
	media_in_release(&in);
	/* a 31-byte key: refused, nothing kept */
	ybuf_reset(&b);
	pack_doc(&b, false, false, 31);
	CHECK_EQ_INT(media_parse(b.data, b.len, &in), Y_EINVAL);
	CHECK(in.direct_path == NULL);
	/* text, and garbage: not media */
	CHECK_EQ_INT(media_parse((const uint8_t *)"\x0a\x02hi", 4, &in), Y_ENOTFOUND);
	CHECK_EQ_INT(media_parse((const uint8_t *)"\xff\xff\xff", 3, &in), Y_ENOTFOUND);
	ybuf_release(&b);
}

TEST(fill_makes_row_and_body)
{
	struct ybuf b = YBUF_INIT(1 << 16);
	struct store_message m;
	struct store_media *row;
	json_t *body;
	char url[64];

	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", "00000000-0000-4000-8000-000000000001");
	m.type = strdup("unknown");
	m.body = strdup("{\"protobuf\":\"00\"}");
	pack_doc(&b, true, false, 32);
	row = media_message_fill(b.data, b.len, &m);
	REQUIRE(row != NULL);
	CHECK(uuid_valid(m.id));
	CHECK(!strcmp(row->message_id, m.id));
	CHECK(!strcmp(row->session_id, m.session_id));
	CHECK(!strcmp(m.type, "image") && !strcmp(row->kind, "image"));
	CHECK(m.text && !strcmp(m.text, "cap"));
	CHECK(!strcmp(row->state, "pending"));
	CHECK_EQ_INT(row->file_length, 1234);
	body = json_loads(m.body, 0, NULL);
	REQUIRE(body != NULL);
	snprintf(url, sizeof(url), "/api/v1/media/%s", m.id);
	CHECK(!strcmp(json_string_value(json_object_get(body, "mediaUrl")), url));
	CHECK(!strcmp(json_string_value(json_object_get(json_object_get(body, "media"), "mimetype")),
		      "image/jpeg"));
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(body, "media"), "width")), 640);
	json_decref(body);
	store_media_release(row);
	free(row);
	store_message_release(&m);
	/* not media: the row untouched */
	memset(&m, 0, sizeof(m));
	CHECK(media_message_fill((const uint8_t *)"\x0a\x02hi", 4, &m) == NULL);
	CHECK(m.id[0] == 0 && m.type == NULL);
	ybuf_release(&b);
}

TEST(extensions_and_limits)
{
	char e[12];

	media_ext("image/jpeg", e);
	CHECK(!strcmp(e, "jpg"));
	media_ext("audio/ogg; codecs=opus", e);
	CHECK(!strcmp(e, "ogg"));
	media_ext("APPLICATION/PDF", e);
	CHECK(!strcmp(e, "pdf"));
	media_ext("application/x-tar", e);
	CHECK(!strcmp(e, "bin")); /* '-' is not kept */
	media_ext("image/heic", e);
	CHECK(!strcmp(e, "heic"));
	media_ext("text/../../etc", e);
	CHECK(!strcmp(e, "bin"));
	media_ext("nonsense", e);
	CHECK(!strcmp(e, "bin"));
	media_ext(NULL, e);
	CHECK(!strcmp(e, "bin"));
	media_ext("application/averyveryverylongsubtype", e);
	CHECK(!strcmp(e, "bin"));
	CHECK_EQ_INT(media_type_limit(WA_MEDIA_IMAGE), 16 << 20);
	CHECK(media_type_limit(WA_MEDIA_DOCUMENT) > media_type_limit(WA_MEDIA_VIDEO));
	CHECK(media_type_limit(WA_MEDIA_STICKER) < media_type_limit(WA_MEDIA_IMAGE));
}

TEST(sweep_removes_only_orphans)
{
	char dir[256], db[300], p[400];
	struct store *st = NULL;
	struct store_session s;
	struct store_message m;
	struct store_media r;
	FILE *f;

	REQUIRE(tmpdir_make(dir, sizeof(dir)) == 0);
	snprintf(db, sizeof(db), "%s/db.sqlite", dir);
	REQUIRE(store_open(db, &st) == Y_OK);
	REQUIRE(store_session_create(st, "s", &s) == Y_OK);
	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", s.id);
	m.chat = "1@s.whatsapp.net";
	m.type = "image";
	m.body = "{}";
	m.status = "received";
	REQUIRE(store_message_insert(st, &m) == Y_OK);
	memset(&r, 0, sizeof(r));
	snprintf(r.message_id, sizeof(r.message_id), "%s", m.id);
	snprintf(r.session_id, sizeof(r.session_id), "%s", s.id);
	r.kind = "image";
	r.state = "pending";
	CHECK_EQ_INT(store_media_insert(st, &r), Y_OK);
	CHECK_EQ_INT(store_media_insert(st, &r), Y_EEXIST);
	CHECK_EQ_INT(store_media_finish(st, m.id, "done", "x.jpg", NULL), Y_OK);
	snprintf(p, sizeof(p), "%s/media", dir);
	mkdir(p, 0700);
	/* the row's file, an orphan, a temp file and a stranger */
	const char *names[] = { NULL, "00000000-0000-4000-8000-0000000000aa.jpg",
				".00000000-0000-4000-8000-0000000000bb.tmp", "notes.txt" };
	char own[64];

	snprintf(own, sizeof(own), "%s.jpg", m.id);
	names[0] = own;
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/media/%s", dir, names[i]);
		f = fopen(p, "w");
		REQUIRE(f != NULL);
		fclose(f);
	}
	CHECK_EQ_INT(media_sweep(st, dir, 100), 1);
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/media/%s", dir, names[i]);
		CHECK_EQ_INT(access(p, F_OK) == 0, i != 1);
	}
	/* the session goes: its rows cascade, the sweep takes the file */
	CHECK_EQ_INT(store_session_delete(st, s.id), Y_OK);
	CHECK_EQ_INT(store_media_exists(st, m.id), 0);
	CHECK_EQ_INT(media_sweep(st, dir, 100), 1);
	snprintf(p, sizeof(p), "%s/media/%s", dir, own);
	CHECK(access(p, F_OK) != 0);
	store_session_release(&s);
	store_close(st);
	tmpdir_remove(dir);
}

int main(void)
{
	RUN(parse_document_and_image);
	RUN(fill_makes_row_and_body);
	RUN(extensions_and_limits);
	RUN(sweep_removes_only_orphans);
	return test_summary();
}
