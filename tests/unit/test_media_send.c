/* Tests of the checks media sending makes before anything is queued
 * (service/media_send.h: sniffing, mimetype against kind and bytes) and of
 * the media_conn answer's parser (client/mediaconn.c). */
#include "test.h"

#include <string.h>

#include "client/client.h"
#include "service/media_send.h"
#include "util/err.h"
#include "wa/node.h"

TEST(sniff_magic_bytes)
{
	static const struct {
		const char *bytes;
		size_t n;
		const char *mime;
	} v[] = {
		{ "\xff\xd8\xff\xe0", 4, "image/jpeg" },
		{ "\x89PNG\r\n\x1a\n", 8, "image/png" },
		{ "RIFF\x10\0\0\0WEBPVP8 ", 16, "image/webp" },
		{ "GIF89a", 6, "image/gif" },
		{ "\0\0\0\x18" "ftypmp42", 12, "video/mp4" },
		{ "OggS\0\x02", 6, "audio/ogg" },
		{ "ID3\x04", 4, "audio/mpeg" },
		{ "%PDF-1.7", 8, "application/pdf" },
		{ "hello world!", 12, NULL },
		{ "\x89PN", 3, NULL },   /* too short to tell */
		{ "RIFF\0\0\0\0WAVE", 12, NULL },
		{ "", 0, NULL },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *got = media_sniff((const uint8_t *)v[i].bytes, v[i].n);

		if (v[i].mime)
			CHECK_EQ_STR(got ? got : "(null)", v[i].mime);
		else
			CHECK(got == NULL);
	}
}

TEST(mimetype_checks)
{
	const char *use = NULL;
	char why[160];

	/* given and sniffed agree; parameters and case do not matter */
	CHECK(!media_mime_check(WA_MEDIA_IMAGE, "image/PNG", "image/png", &use, why, sizeof(why)));
	CHECK_EQ_STR(use, "image/PNG");
	CHECK(!media_mime_check(WA_MEDIA_AUDIO, "audio/ogg; codecs=opus", "audio/ogg", &use, why,
				sizeof(why)));
	CHECK(!media_mime_check(WA_MEDIA_AUDIO, "audio/mp4", "video/mp4", &use, why, sizeof(why)));
	/* absent: sniffed; a document may be anything */
	CHECK(!media_mime_check(WA_MEDIA_VIDEO, NULL, "video/mp4", &use, why, sizeof(why)));
	CHECK_EQ_STR(use, "video/mp4");
	CHECK(!media_mime_check(WA_MEDIA_DOCUMENT, NULL, NULL, &use, why, sizeof(why)));
	CHECK_EQ_STR(use, "application/octet-stream");
	CHECK(!media_mime_check(WA_MEDIA_DOCUMENT, "text/csv", NULL, &use, why, sizeof(why)));
	/* contradictions and misfits */
	CHECK(media_mime_check(WA_MEDIA_IMAGE, "image/jpeg", "image/png", &use, why, sizeof(why)));
	CHECK_EQ_STR(why, "mimetype image/jpeg contradicts the file's bytes (image/png)");
	CHECK(media_mime_check(WA_MEDIA_DOCUMENT, "application/pdf", "image/png", &use, why,
			       sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_IMAGE, NULL, NULL, &use, why, sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_IMAGE, NULL, "application/pdf", &use, why, sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_VIDEO, NULL, "image/png", &use, why, sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_STICKER, NULL, "image/png", &use, why, sizeof(why)));
	CHECK(!media_mime_check(WA_MEDIA_STICKER, NULL, "image/webp", &use, why, sizeof(why)));
	CHECK(media_mime_check(WA_MEDIA_AUDIO, "image/png", NULL, &use, why, sizeof(why)));
}

static struct wa_node *answer(const char *auth, const char *ttl, const char *const *hosts)
{
	struct wa_node *iq = wa_node_new("iq"), *mc = wa_node_add_child(iq, "media_conn");

	if (auth)
		wa_node_add_attr(mc, "auth", auth);
	if (ttl)
		wa_node_add_attr(mc, "ttl", ttl);
	for (; hosts && *hosts; hosts++)
		wa_node_add_attr(wa_node_add_child(mc, "host"), "hostname", *hosts);
	return iq;
}

TEST(media_conn_parse)
{
	static const char *const two[] = { "mmg.whatsapp.net", "127.0.0.1:4433", NULL };
	static const char *const bad[] = { "evil.example/path", "a b", NULL };
	struct wa_media_conn c;
	struct wa_node *n;

	n = answer("AUTH+/=", "300", two);
	CHECK_EQ_INT(wa_media_conn_parse(n, &c), Y_OK);
	CHECK_EQ_STR(c.auth, "AUTH+/=");
	CHECK_EQ_INT(c.ttl_s, 300);
	CHECK_EQ_INT(c.nhosts, 2);
	CHECK_EQ_STR(c.hosts[1], "127.0.0.1:4433");
	wa_node_free(n);
	n = answer(NULL, "300", two); /* no auth */
	CHECK_EQ_INT(wa_media_conn_parse(n, &c), Y_EINVAL);
	wa_node_free(n);
	n = answer("a", "x", two); /* no number */
	CHECK_EQ_INT(wa_media_conn_parse(n, &c), Y_EINVAL);
	wa_node_free(n);
	n = answer("a", "300", bad); /* hosts that are not host names: none left */
	CHECK_EQ_INT(wa_media_conn_parse(n, &c), Y_EINVAL);
	wa_node_free(n);
	CHECK_EQ_INT(wa_media_conn_parse(NULL, &c), Y_EINVAL);
}

int main(void)
{
	RUN(sniff_magic_bytes);
	RUN(mimetype_checks);
	RUN(media_conn_parse);
	return test_summary();
}
