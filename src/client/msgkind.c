/*
 * The stanza attributes a message's kind asks for (protocol-map.md §17.0):
 * <message type> ("text", "reaction", "media", "poll"), the `edit` attribute
 * (1 edit, 7 sender revoke or reaction removal), and on every <enc>
 * `decrypt-fail="hide"` (edits, revokes, reactions: whatsmeow's choice) and
 * `mediatype` (contact cards; media: image, video or gif, audio or ptt,
 * document, sticker), plus <meta polltype="creation"> for polls.
 * Read from the Message protobuf itself, as whatsmeow does, so whoever
 * queues a message needs to know nothing of stanzas.
 */
#include "client/client_int.h"

#include <string.h>

#include "util/err.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

void cl_stanza_kind(const uint8_t *pb, size_t len, struct cl_stanza_kind *k)
{
	Wa__Message *m = NULL;
	const Wa__Message *c;

	memset(k, 0, sizeof(*k));
	k->type = "text";
	if (wa_pb_unpack(&wa__message__descriptor, pb, len, (ProtobufCMessage **)&m))
		return;
	c = m->editedmessage && m->editedmessage->message ? m->editedmessage->message : m;
	k->protocol = m->protocolmessage || c->protocolmessage;
	if (c->reactionmessage) {
		k->type = "reaction";
		k->hide = true;
		if (!c->reactionmessage->text || !*c->reactionmessage->text)
			k->edit = "7";
	} else if (c->protocolmessage && c->protocolmessage->has_type) {
		if (c->protocolmessage->type == WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT)
			k->edit = "1";
		else if (c->protocolmessage->type == WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__REVOKE)
			k->edit = "7"; /* we only revoke our own messages */
		k->hide = k->edit != NULL;
	} else if (c->imagemessage || c->videomessage || c->audiomessage || c->documentmessage ||
		   c->stickermessage) {
		k->type = "media";
		k->mediatype = c->imagemessage ? "image"
			       : c->videomessage ? (c->videomessage->gifplayback ? "gif" : "video")
			       : c->audiomessage ? (c->audiomessage->ptt ? "ptt" : "audio")
			       : c->documentmessage ? "document"
						    : "sticker";
	} else if (c->contactmessage) {
		k->type = "media";
		k->mediatype = "vcard";
	} else if (c->contactsarraymessage) {
		k->type = "media";
		k->mediatype = "contact_array";
	} else if (c->pollcreationmessage || c->pollcreationmessagev2 || c->pollcreationmessagev3) {
		k->type = "poll";
		k->polltype = "creation";
	} else if (c->pollupdatemessage) {
		k->type = "poll";
		k->polltype = "vote";
		k->hide = true;
	}
	protobuf_c_message_free_unpacked(&m->base, NULL);
}

int cl_stanza_decorate(struct wa_node *msg, const struct cl_stanza_kind *k)
{
	struct wa_node *parts = wa_node_child(msg, "participants"), *meta;

	if (k->edit && wa_node_add_attr(msg, "edit", k->edit))
		return Y_ENOMEM;
	for (uint32_t i = 0; parts && parts->content == WA_CONTENT_LIST && i < parts->nkids; i++) {
		struct wa_node *enc = wa_node_child(parts->kids[i], "enc");

		if (!enc)
			continue;
		if ((k->hide && wa_node_add_attr(enc, "decrypt-fail", "hide")) ||
		    (k->mediatype && wa_node_add_attr(enc, "mediatype", k->mediatype)))
			return Y_ENOMEM;
	}
	if (k->polltype && (!(meta = wa_node_add_child(msg, "meta")) ||
			    wa_node_add_attr(meta, "polltype", k->polltype)))
		return Y_ENOMEM;
	return Y_OK;
}
