/* Message kinds (issue 15): the stored body <-> Message protobuf
 * (service/msgkind.c), the stanza attributes of each kind
 * (client/msgkind.c), and what reactions, edits and revokes do in the store. */
#include "test.h"
#include "tmpdir.h"

#include <jansson.h>
#include <string.h>

#include "client/client_int.h"
#include "service/msgkind.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/crypto.h"
#include "wa/pb.h"
#include "util/codec.h"
#include "wa.pb-c.h"

static char tmp[256];

/* Builds (type, body) and reads it back. */
static int round_trip(const char *type, const char *body, const char *text, struct msgkind_in *in,
		      struct cl_stanza_kind *k)
{
	struct ybuf b = YBUF_INIT(1 << 20);
	int rc = msgkind_build(type, body, text, &b);

	if (!rc) {
		cl_stanza_kind(b.data, b.len, k);
		rc = msgkind_parse(b.data, b.len, in);
	}
	ybuf_release(&b);
	return rc;
}

TEST(kinds_round_trip_with_their_stanza_attributes)
{
	struct msgkind_in in;
	struct cl_stanza_kind k;
	const char *target = "\"target\":{\"id\":\"3EB0AA\",\"remoteJid\":\"1@s.whatsapp.net\","
			     "\"fromMe\":true}";
	char body[512];

	snprintf(body, sizeof(body), "{\"emoji\":\"\\ud83d\\udc4d\",%s,\"senderTimestampMs\":5}",
		 target);
	REQUIRE(round_trip("reaction", body, NULL, &in, &k) == Y_OK);
	CHECK_EQ_STR(in.type, "reaction");
	CHECK_EQ_INT(in.effect, MSGKIND_FX_REACTION);
	CHECK_EQ_STR(in.target_id, "3EB0AA");
	CHECK_EQ_STR(in.emoji, "\xF0\x9F\x91\x8D");
	CHECK_EQ_STR(k.type, "reaction");
	CHECK(k.hide && !k.edit);
	msgkind_in_release(&in);

	snprintf(body, sizeof(body), "{\"emoji\":\"\",%s,\"senderTimestampMs\":5}", target);
	REQUIRE(round_trip("reaction", body, NULL, &in, &k) == Y_OK);
	CHECK_EQ_STR(in.emoji, "");
	CHECK_EQ_STR(k.edit, "7"); /* whatsmeow marks a removal */
	msgkind_in_release(&in);

	snprintf(body, sizeof(body), "{\"text\":\"new\",%s,\"timestampMs\":9}", target);
	REQUIRE(round_trip("edit", body, "new", &in, &k) == Y_OK);
	CHECK_EQ_STR(in.type, "edit");
	CHECK_EQ_INT(in.effect, MSGKIND_FX_EDIT);
	CHECK_EQ_STR(in.text, "new");
	CHECK_EQ_STR(k.edit, "1");
	CHECK_EQ_STR(k.type, "text");
	msgkind_in_release(&in);

	snprintf(body, sizeof(body), "{%s}", target);
	REQUIRE(round_trip("revoke", body, NULL, &in, &k) == Y_OK);
	CHECK_EQ_INT(in.effect, MSGKIND_FX_REVOKE);
	CHECK_EQ_STR(k.edit, "7");
	msgkind_in_release(&in);

	REQUIRE(round_trip("location", "{\"latitude\":-33.5,\"longitude\":151.25,\"name\":\"S\"}",
			   NULL, &in, &k) == Y_OK);
	CHECK_EQ_STR(in.type, "location");
	CHECK(strstr(in.body, "\"latitude\":-33.5") && strstr(in.body, "\"name\":\"S\""));
	CHECK_EQ_STR(k.type, "text");
	msgkind_in_release(&in);

	REQUIRE(round_trip("contacts",
			   "{\"contacts\":[{\"name\":\"A\",\"vcard\":\"BEGIN:VCARD\\nTEL;waid=4915112345678:+49 151"
			   "\\nEND:VCARD\"},{\"name\":\"B\",\"vcard\":\"BEGIN:VCARD\\nTEL:+1 555 "
			   "0100\\nEND:VCARD\"}]}",
			   NULL, &in, &k) == Y_OK);
	CHECK_EQ_STR(in.type, "contacts");
	CHECK(strstr(in.body, "\"phones\":[\"+4915112345678\"]") != NULL);
	CHECK(strstr(in.body, "\"phones\":[\"+15550100\"]") != NULL);
	CHECK_EQ_STR(k.type, "media");
	CHECK_EQ_STR(k.mediatype, "contact_array");
	msgkind_in_release(&in);

	REQUIRE(round_trip("text", "{\"text\":\"re\",\"quoted\":{\"id\":\"Q1\",\"text\":\"orig\"}}",
			   "re", &in, &k) == Y_OK);
	CHECK_EQ_STR(in.type, "text");
	CHECK_EQ_STR(in.quoted_id, "Q1");
	CHECK(strstr(in.body, "\"quoted\":{\"id\":\"Q1\"") != NULL);
	msgkind_in_release(&in);

	/* bodies that do not fit their type are refused */
	struct ybuf b = YBUF_INIT(4096);
	CHECK_EQ_INT(msgkind_build("reaction", "{\"emoji\":\"x\"}", NULL, &b), Y_EINVAL);
	CHECK_EQ_INT(msgkind_build("location", "{\"latitude\":1}", NULL, &b), Y_EINVAL);
	CHECK_EQ_INT(msgkind_build("contacts", "{\"contacts\":[]}", NULL, &b), Y_EINVAL);
	CHECK_EQ_INT(msgkind_build("nope", "{}", NULL, &b), Y_EINVAL);
	CHECK_EQ_INT(msgkind_build("text", "[1]", NULL, &b), Y_EINVAL);
	ybuf_release(&b);
}

/* Baileys sends an edit as a bare protocolMessage, whatsmeow wrapped in
 * editedMessage: both are edits. Other protocol messages are not ours. */
TEST(edit_forms_and_foreign_protocol_messages)
{
	Wa__Message m = WA__MESSAGE__INIT, nm = WA__MESSAGE__INIT;
	Wa__Message__ProtocolMessage pm = WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
	Wa__MessageKey key = WA__MESSAGE_KEY__INIT;
	struct ybuf b = YBUF_INIT(4096);
	struct msgkind_in in;

	key.id = "T1";
	nm.conversation = "bare edit";
	pm.key = &key;
	pm.has_type = 1;
	pm.type = WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT;
	pm.editedmessage = &nm;
	m.protocolmessage = &pm;
	REQUIRE(wa_pb_pack(&m.base, &b) == Y_OK);
	REQUIRE(msgkind_parse(b.data, b.len, &in) == Y_OK);
	CHECK_EQ_INT(in.effect, MSGKIND_FX_EDIT);
	CHECK_EQ_STR(in.target_id, "T1");
	CHECK_EQ_STR(in.text, "bare edit");
	msgkind_in_release(&in);
	ybuf_reset(&b);
	pm.type = WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__HISTORY_SYNC_NOTIFICATION;
	REQUIRE(wa_pb_pack(&m.base, &b) == Y_OK);
	CHECK_EQ_INT(msgkind_parse(b.data, b.len, &in), Y_ENOTFOUND);
	CHECK_EQ_INT(msgkind_parse((const uint8_t *)"\xff\xff\xff", 3, &in), Y_EINVAL);
	ybuf_release(&b);
}

static void insert(struct store *st, const char *sid, const char *wa_id, int from_me,
		   const char *from, const char *type, const char *body, const char *text,
		   const struct store_effect *fx, int *applied)
{
	struct store_message m;

	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", sid);
	m.wa_id = (char *)wa_id;
	m.chat = "1@s.whatsapp.net";
	m.from_me = from_me;
	m.type = (char *)type;
	m.body = (char *)body;
	m.text = (char *)text;
	m.from_jid = (char *)from;
	m.status = from_me ? "sent" : "received";
	if (fx)
		CHECK_EQ_INT(store_message_insert_effect(st, &m, fx, applied), Y_OK);
	else
		CHECK_EQ_INT(store_message_insert(st, &m), Y_OK);
}

TEST(store_effects_check_the_author_and_keep_history)
{
	char p[300], *r = NULL;
	struct store *st = NULL;
	struct store_session s;
	struct store_message got;
	int applied = -1;
	const char *peer = "1@s.whatsapp.net", *other = "2@s.whatsapp.net";

	snprintf(p, sizeof(p), "%s/kinds.sqlite", tmp);
	REQUIRE(store_open(p, &st) == Y_OK);
	REQUIRE(store_session_create(st, "k", &s) == Y_OK);
	insert(st, s.id, "W1", 0, peer, "text", "{\"text\":\"one\"}", "one", NULL, NULL);
	insert(st, s.id, "W2", 1, NULL, "text", "{\"text\":\"mine\"}", "mine", NULL, NULL);

	/* someone else's edit of the peer's message: kept as a row, not applied */
	struct store_effect ed = { STORE_FX_EDIT, "W1", NULL, "hijacked" };
	insert(st, s.id, "E1", 0, other, "edit", "{}", "hijacked", &ed, &applied);
	CHECK_EQ_INT(applied, 0);
	/* the peer editing our message: not applied either */
	struct store_effect ed2 = { STORE_FX_EDIT, "W2", NULL, "theirs" };
	insert(st, s.id, "E2", 0, peer, "edit", "{}", "theirs", &ed2, &applied);
	CHECK_EQ_INT(applied, 0);
	/* the peer editing its own: applied, history kept */
	struct store_effect ed3 = { STORE_FX_EDIT, "W1", NULL, "two" };
	insert(st, s.id, "E3", 0, peer, "edit", "{}", "two", &ed3, &applied);
	CHECK_EQ_INT(applied, 1);
	{
		struct store_message *list = NULL;
		struct store_cursor next;
		size_t n = 0;
		int more = 0;

		REQUIRE(store_message_list(st, s.id, NULL, 50, &list, &n, &next, &more) == Y_OK);
		for (size_t i = 0; i < n; i++)
			if (list[i].wa_id && !strcmp(list[i].wa_id, "W1")) {
				REQUIRE(store_message_get(st, s.id, list[i].id, &got) == Y_OK);
				CHECK_EQ_STR(got.text, "two");
				CHECK(strstr(got.body, "\"history\":[{\"text\":\"one\"") != NULL);
				CHECK(strstr(got.body, "\"edited\":true") != NULL);
				store_message_release(&got);
			}
		store_messages_free(list, n);
	}
	/* reactions: one per author, the latest counts, "" removes */
	struct store_effect rx = { STORE_FX_REACTION, "W2", "\xF0\x9F\x91\x8D", NULL };
	insert(st, s.id, "R1", 0, peer, "reaction",
	       "{\"emoji\":\"\xF0\x9F\x91\x8D\",\"target\":{\"id\":\"W2\"}}", NULL, &rx, &applied);
	insert(st, s.id, "R2", 0, other, "reaction", "{\"emoji\":\"x\",\"target\":{\"id\":\"W2\"}}",
	       NULL, &rx, &applied);
	REQUIRE(store_message_reactions(st, s.id, "W2", &r) == Y_OK);
	CHECK(strstr(r, "\"emoji\":\"x\"") && strstr(r, "\"emoji\":\"\xF0\x9F\x91\x8D\""));
	free(r);
	struct store_effect rm = { STORE_FX_REACTION, "W2", "", NULL };
	insert(st, s.id, "R3", 0, peer, "reaction", "{\"emoji\":\"\",\"target\":{\"id\":\"W2\"}}",
	       NULL, &rm, &applied);
	REQUIRE(store_message_reactions(st, s.id, "W2", &r) == Y_OK);
	CHECK(strstr(r, "\"emoji\":\"x\"") && !strstr(r, "\xF0\x9F\x91\x8D"));
	free(r);
	/* a revoke by another sender does nothing; by the author, blanks it */
	struct store_effect rv = { STORE_FX_REVOKE, "W1", NULL, NULL };
	insert(st, s.id, "V1", 0, other, "revoke", "{}", NULL, &rv, &applied);
	CHECK_EQ_INT(applied, 0);
	insert(st, s.id, "V2", 0, peer, "revoke", "{}", NULL, &rv, &applied);
	CHECK_EQ_INT(applied, 1);
	/* the effect of a duplicate (same WhatsApp id) is not applied twice */
	{
		struct store_message m;

		memset(&m, 0, sizeof(m));
		snprintf(m.session_id, sizeof(m.session_id), "%s", s.id);
		m.wa_id = "V2";
		m.chat = (char *)peer;
		m.type = "revoke";
		m.status = "received";
		m.from_jid = (char *)peer;
		CHECK_EQ_INT(store_message_insert_effect(st, &m, &rv, &applied), Y_EEXIST);
	}
	/* events: one edit and one revoke, two reactions and a removal */
	{
		const char *const types[] = { "message.edited", "message.revoked", "message.reaction",
					      NULL };
		struct store_event *ev = NULL;
		size_t n = 0;
		int more = 0, edits = 0, revokes = 0, reacts = 0;

		REQUIRE(store_event_list(st, s.id, 0, types, 100, &ev, &n, &more) == Y_OK);
		for (size_t i = 0; i < n; i++) {
			edits += !strcmp(ev[i].type, "message.edited");
			revokes += !strcmp(ev[i].type, "message.revoked");
			reacts += !strcmp(ev[i].type, "message.reaction");
			if (!strcmp(ev[i].type, "message.edited"))
				CHECK(strstr(ev[i].data, "\"previousText\":\"one\"") &&
				      strstr(ev[i].data, "\"text\":\"two\""));
		}
		CHECK_EQ_INT(edits, 1);
		CHECK_EQ_INT(revokes, 1);
		CHECK_EQ_INT(reacts, 3);
		store_events_free(ev, n);
	}
	/* delete for me */
	CHECK_EQ_INT(store_message_delete(st, s.id, "00000000-0000-4000-8000-000000000000"),
		     Y_ENOTFOUND);
	store_session_release(&s);
	store_close(st);
}

/* Media goes as <message type="media"> with the <enc> mediatype its
 * Message names (a voice note "ptt", a looping video "gif"). */
TEST(media_messages_have_their_mediatype)
{
	Wa__Message__ImageMessage im = WA__MESSAGE__IMAGE_MESSAGE__INIT;
	Wa__Message__VideoMessage vm = WA__MESSAGE__VIDEO_MESSAGE__INIT;
	Wa__Message__AudioMessage am = WA__MESSAGE__AUDIO_MESSAGE__INIT;
	Wa__Message__DocumentMessage dm = WA__MESSAGE__DOCUMENT_MESSAGE__INIT;
	Wa__Message__StickerMessage sm = WA__MESSAGE__STICKER_MESSAGE__INIT;
	const char *want[] = { "image", "video", "gif", "audio", "ptt", "document", "sticker" };

	for (int i = 0; i < 7; i++) {
		Wa__Message m = WA__MESSAGE__INIT;
		struct cl_stanza_kind k;
		struct ybuf b = YBUF_INIT(4096);

		im.mimetype = "image/jpeg";
		vm.has_gifplayback = i == 2;
		vm.gifplayback = i == 2;
		am.has_ptt = i == 4;
		am.ptt = i == 4;
		m.imagemessage = i == 0 ? &im : NULL;
		m.videomessage = i == 1 || i == 2 ? &vm : NULL;
		m.audiomessage = i == 3 || i == 4 ? &am : NULL;
		m.documentmessage = i == 5 ? &dm : NULL;
		m.stickermessage = i == 6 ? &sm : NULL;
		REQUIRE(wa_pb_pack(&m.base, &b) == Y_OK);
		cl_stanza_kind(b.data, b.len, &k);
		CHECK_EQ_STR(k.type, "media");
		CHECK_EQ_STR(k.mediatype, want[i]);
		CHECK(!k.hide && !k.edit && !k.polltype);
		ybuf_release(&b);
	}
}

/* A vote encrypted as protocol-map.md §17.5 says opens with the right JIDs
 * and names its options; with another voter's JID it does not. */
TEST(poll_round_trip_and_vote_decryption)
{
	const char *poll_body = "{\"name\":\"Q\",\"options\":[\"a\",\"b\"],\"selectableCount\":1,"
				"\"secret\":\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"}";
	struct msgkind_in in;
	struct cl_stanza_kind k;
	uint8_t secret[32], key[32], iv[12] = { 7 }, h[WA_SHA256_LEN], ct[64 + 16];
	struct ybuf b = YBUF_INIT(4096), info = YBUF_INIT(256), aad = YBUF_INIT(256);
	Wa__Message__PollVoteMessage vm = WA__MESSAGE__POLL_VOTE_MESSAGE__INIT;
	ProtobufCBinaryData sel;
	char body[512], ivh[25], cth[2 * sizeof(ct) + 1], *opened = NULL;

	REQUIRE(round_trip("poll", poll_body, NULL, &in, &k) == Y_OK);
	CHECK_EQ_STR(in.type, "poll");
	CHECK(strstr(in.body, "\"secret\":\"000102") != NULL);
	CHECK_EQ_STR(k.type, "poll");
	CHECK_EQ_STR(k.polltype, "creation");
	msgkind_in_release(&in);
	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)i;
	wa_sha256(h, (const uint8_t *)"b", 1);
	sel.data = h;
	sel.len = sizeof(h);
	vm.n_selectedoptions = 1;
	vm.selectedoptions = &sel;
	REQUIRE(wa_pb_pack(&vm.base, &b) == Y_OK && b.len <= 64);
	ybuf_append_str(&info, "P1");
	ybuf_append_str(&info, "1@s.whatsapp.net");
	ybuf_append_str(&info, "2@s.whatsapp.net");
	ybuf_append_str(&info, "Poll Vote");
	ybuf_append_str(&aad, "P1");
	ybuf_append_byte(&aad, 0);
	ybuf_append_str(&aad, "2@s.whatsapp.net");
	REQUIRE(wa_hkdf_sha256(key, 32, secret, 32, NULL, 0, info.data, info.len) == Y_OK);
	REQUIRE(wa_aes_gcm_encrypt(ct, key, iv, sizeof(iv), aad.data, aad.len, b.data, b.len) == Y_OK);
	codec_hex_encode(iv, sizeof(iv), ivh);
	codec_hex_encode(ct, b.len + 16, cth);
	snprintf(body, sizeof(body), "{\"target\":{\"id\":\"P1\"},\"encPayload\":\"%s\",\"encIv\":\"%s\"}",
		 cth, ivh);
	REQUIRE(msgkind_vote_open(body, "P1", poll_body, "1@s.whatsapp.net", "2@s.whatsapp.net",
				  &opened) == Y_OK);
	CHECK(strstr(opened, "\"selected\":[\"b\"]") && !strstr(opened, "encPayload"));
	free(opened);
	CHECK_EQ_INT(msgkind_vote_open(body, "P1", poll_body, "1@s.whatsapp.net", "3@s.whatsapp.net",
				       &opened), Y_ECRYPTO);
	CHECK(opened == NULL);
	CHECK_EQ_INT(msgkind_vote_open("{}", "P1", poll_body, "1@s.whatsapp.net", "2@s.whatsapp.net",
				       &opened), Y_EINVAL);
	/* our own vote: sealed, built as a pollUpdateMessage, parsed and
	 * opened back by the voter's key only */
	{
		json_t *v = json_pack("{s:{s:s, s:s, s:b}, s:[s], s:I}", "target", "id", "P1",
				      "remoteJid", "1@s.whatsapp.net", "fromMe", 0, "selected",
				      "b", "senderTimestampMs", (json_int_t)5);
		json_t *names = json_pack("[s, s]", "a", "b");
		char *vb;

		REQUIRE(v && names);
		REQUIRE(msgkind_vote_seal("P1", poll_body, "1@s.whatsapp.net", "2@s.whatsapp.net",
					  json_object_get(v, "selected"), v) == Y_OK);
		vb = json_dumps(v, JSON_COMPACT);
		REQUIRE(round_trip("poll_vote", vb, NULL, &in, &k) == Y_OK);
		CHECK_EQ_STR(in.type, "poll_vote");
		CHECK_EQ_STR(in.target_id, "P1");
		CHECK_EQ_STR(k.polltype, "vote");
		REQUIRE(msgkind_vote_open(in.body, "P1", poll_body, "1@s.whatsapp.net",
					  "2@s.whatsapp.net", &opened) == Y_OK);
		CHECK(strstr(opened, "\"selected\":[\"b\"]") != NULL);
		free(opened);
		CHECK_EQ_INT(msgkind_vote_open(in.body, "P1", poll_body, "1@s.whatsapp.net",
					       "3@s.whatsapp.net", &opened), Y_ECRYPTO);
		msgkind_in_release(&in);
		free(vb);
		/* a poll without a secret, a name that is not a string */
		CHECK_EQ_INT(msgkind_vote_seal("P1", "{\"options\":[\"a\"]}", "1@s.whatsapp.net",
					       "2@s.whatsapp.net", names, v), Y_EINVAL);
		json_array_append_new(names, json_integer(1));
		CHECK_EQ_INT(msgkind_vote_seal("P1", poll_body, "1@s.whatsapp.net",
					       "2@s.whatsapp.net", names, v), Y_EINVAL);
		json_decref(names);
		json_decref(v);
	}
	ybuf_release(&b);
	ybuf_release(&info);
	ybuf_release(&aad);
}

int main(void)
{
	if (tmpdir_make(tmp, sizeof(tmp)))
		return 1;
	ylog_min = YLOG_OFF;
	RUN(kinds_round_trip_with_their_stanza_attributes);
	RUN(edit_forms_and_foreign_protocol_messages);
	RUN(store_effects_check_the_author_and_keep_history);
	RUN(poll_round_trip_and_vote_decryption);
	RUN(media_messages_have_their_mediatype);
	tmpdir_remove(tmp);
	return test_summary();
}
