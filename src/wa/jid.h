/*
 * WhatsApp JIDs ("user@server" addresses) as typed values, as the binary
 * node format carries them (protocol-map.md §4.5).
 *
 * A struct wa_jid never owns its strings: user and server are borrowed from
 * whoever filled it (a decoded node's arena, a static token, or the string
 * given to wa_jid_parse()). They are not necessarily NUL-terminated: always
 * use the lengths.
 */
#ifndef YESAPP_WA_JID_H
#define YESAPP_WA_JID_H

#include <stddef.h>
#include <stdint.h>

struct ybuf;
struct wa_val;

/* How the JID travels on the wire. */
enum wa_jid_kind {
	WA_JID_PAIR = 0,    /* JID_PAIR: user, server */
	WA_JID_AD = 1,      /* AD_JID: agent/domain byte, device byte, user */
	WA_JID_FB = 2,      /* FB_JID: user, device u16, server ("msgr") */
	WA_JID_INTEROP = 3, /* INTEROP_JID: user, device, integrator, server ("interop") */
};

/* AD_JID domain types (whatsmeow types/jid.go, Baileys 7 WAJIDDomains). */
enum {
	WA_DOMAIN_WHATSAPP = 0,
	WA_DOMAIN_LID = 1,
	WA_DOMAIN_HOSTED = 128,
	WA_DOMAIN_HOSTED_LID = 129,
};

#define WA_SERVER_USER "s.whatsapp.net"
#define WA_SERVER_LID "lid"
#define WA_SERVER_HOSTED "hosted"
#define WA_SERVER_HOSTED_LID "hosted.lid"
#define WA_SERVER_GROUP "g.us"
#define WA_SERVER_BROADCAST "broadcast"
#define WA_SERVER_NEWSLETTER "newsletter"
#define WA_SERVER_MSGR "msgr"
#define WA_SERVER_INTEROP "interop"

struct wa_jid {
	const char *user;    /* never NULL; "" when absent; borrowed */
	const char *server;  /* never NULL; borrowed */
	uint32_t user_len;
	uint32_t server_len;
	uint16_t device;     /* AD: 0..255; FB, INTEROP: 0..65535; PAIR: 0 */
	uint16_t integrator; /* INTEROP only */
	uint8_t agent;       /* AD only: the raw domain-type/agent byte */
	uint8_t kind;        /* enum wa_jid_kind */
	/* private: set by the decoder when the user or server part was itself a
	 * JID on the wire (only odd peers do that), so the part re-encodes
	 * exactly; user/server then hold its text form. NULL otherwise. */
	const struct wa_val *user_jid;
	const struct wa_val *server_jid;
};

/*
 * Parses the text forms Baileys and whatsmeow print:
 *   "user@server"            -> PAIR ("@server" gives an empty user)
 *   "user:dev@server"        -> AD (agent from the server: lid 1, hosted 128,
 *                               hosted.lid 129, else 0), dev 0..255
 *   "user_agent:dev@server"  -> AD with a raw agent 0..255
 *   "user:dev@msgr"          -> FB, dev 0..65535
 *   "integ-user:dev@interop" -> INTEROP
 * As Baileys does, a JID without ":dev" is a PAIR even on hosted servers.
 * Strict: numbers must be plain decimal in range, the server non-empty and
 * without '@'. Returns 0 or Y_EINVAL. `out` borrows from `s`.
 */
int wa_jid_parse(const char *s, size_t len, struct wa_jid *out);

/*
 * Appends the text form (inverse of wa_jid_parse; the agent is printed only
 * for a non-zero agent on s.whatsapp.net, device 0 of an AD JID is not
 * printed, as Baileys' jidEncode does). Returns 0, Y_ENOMEM or Y_ETOOBIG.
 */
int wa_jid_format(const struct wa_jid *jid, struct ybuf *out);

/* Length of the text form, without a terminator. */
size_t wa_jid_text_len(const struct wa_jid *jid);

/* Writes the text form into buf (cap bytes, NUL-terminated); returns the
 * length, or Y_ETOOBIG if it does not fit. */
int wa_jid_to_str(const struct wa_jid *jid, char *buf, size_t cap);

/* 1 if all fields are equal (strings by content). */
int wa_jid_equal(const struct wa_jid *a, const struct wa_jid *b);

/* The server an AD_JID agent byte designates (static string), with the
 * rules of the given dictionary version's reference client: v2 (Baileys 6)
 * maps any non-zero agent to "lid"; v3 knows lid, hosted and hosted.lid. */
const char *wa_jid_ad_server(int dict, uint8_t agent);

#endif
