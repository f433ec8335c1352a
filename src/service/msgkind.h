/*
 * Message kinds beyond plain text (issue 15, protocol-map.md §17): the
 * stored form of a message (its type and its `body`, the JSON the API shows
 * as `content`) to and from the E2E Message protobuf.
 *
 * Stored bodies (one JSON object per type):
 *   text      {"text", "quoted"?: {"id", "participant"?, "text"?}}
 *   reaction  {"emoji" ("" removes), "target": {"id", "remoteJid", "fromMe",
 *              "participant"?}, "senderTimestampMs"}
 *   edit      {"text", "target": {...}, "timestampMs"}
 *   revoke    {"target": {...}}
 *   location  {"latitude", "longitude", "name"?, "address"?, "url"?}
 *   contacts  {"contacts": [{"name", "vcard", "phones": ["+digits"...]}]}
 *   poll      {"name", "options": [..], "selectableCount", "secret": hex}
 *   poll_vote {"target": {...}, "encPayload": hex, "encIv": hex,
 *              "senderTimestampMs"} as it arrives; once decrypted
 *              (msgkind_vote_open) "selected": [option names] instead;
 *              ours (msgkind_vote_seal) keeps both
 *
 * Outbound rows keep exactly this, so a message accepted before a crash is
 * rebuilt byte for byte (but for protobuf field order) after the restart.
 * Pure functions: any thread.
 */
#ifndef YESAPP_SERVICE_MSGKIND_H
#define YESAPP_SERVICE_MSGKIND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"

/* What an arriving message does to another one. */
enum msgkind_effect {
	MSGKIND_FX_NONE,
	MSGKIND_FX_REACTION, /* target gets (or loses, emoji "") the sender's reaction */
	MSGKIND_FX_EDIT,     /* target's text becomes `text` */
	MSGKIND_FX_REVOKE,   /* target deleted for everyone */
	MSGKIND_FX_VOTE,     /* a vote on poll target (to decrypt with its secret) */
};

struct msgkind_in {
	char *type;       /* "text", "reaction", ... (owned) */
	char *body;       /* JSON object text as above (owned) */
	char *text;       /* the text (text, edit), else NULL */
	char *quoted_id;  /* contextInfo.stanzaId, else NULL */
	enum msgkind_effect effect;
	char *target_id;  /* the WhatsApp id the effect applies to */
	char *emoji;      /* MSGKIND_FX_REACTION */
};

/* Reads a decrypted Message (already unwrapped from a DeviceSentMessage).
 * Y_ENOTFOUND when it is none of the kinds above (the caller stores it as
 * it did before), Y_EINVAL when it is not a Message, Y_ENOMEM. */
int msgkind_parse(const uint8_t *pb, size_t len, struct msgkind_in *out);
void msgkind_in_release(struct msgkind_in *m);

/* The Message protobuf for a stored outbound (type, body); text is the row's
 * text (used when body is NULL: a plain text). Y_EINVAL for a body that does
 * not fit its type, Y_ENOMEM. */
int msgkind_build(const char *type, const char *body, const char *text, struct ybuf *out);

/* Decrypts a vote (protocol-map.md §17.5): body is the poll_vote body as
 * parsed, poll the poll's stored body, creator and voter the bare JIDs the
 * voter used. On success *out (caller frees) is the vote's body with
 * "selected" (option names; a hash matching none counts as "unknown") in
 * place of the ciphertext. Y_ECRYPTO when the key does not open it. */
int msgkind_vote_open(const char *body, const char *poll_id, const char *poll,
		      const char *creator, const char *voter, char **out);

/* Seals our vote (the reverse of msgkind_vote_open): the option names
 * (a JSON array of strings, each hashed; empty withdraws the vote) as a
 * PollVoteMessage encrypted for poll poll_id (its stored body poll) by
 * voter, the poll created by creator (bare JIDs), with a random IV; sets
 * "encPayload" and "encIv" (hex) in body. Y_EINVAL when the poll has no
 * secret or a name is not a string, Y_ENOMEM. */
int msgkind_vote_seal(const char *poll_id, const char *poll, const char *creator,
		      const char *voter, const json_t *names, json_t *body);

/* A vCard 3.0 for one contact: FN, and a TEL with waid= for the number
 * (E.164 digits without '+'). Caller frees. NULL on ENOMEM. */
char *msgkind_vcard(const char *name, const char *digits);

#endif
