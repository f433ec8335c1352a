/*
 * The WhatsApp client: one linked (or linking) device, speaking the
 * multi-device protocol over a wa_conn (src/wa/conn.h). It links by QR,
 * logs in, keeps the connection alive and reconnects with backoff, uploads
 * prekeys, and reports what happens through callbacks. It knows nothing of
 * HTTP, SQLite or the REST API: credentials come in as a struct wa_creds and
 * changes go out through on_creds / on_prekeys for the owner to persist.
 *
 * struct wa_client_pool  what every client on one loop shares: the loop, the
 *                        server URL and trust settings, the announced
 *                        version, and a process-wide limit on connects per
 *                        second (so thousands of clients coming back after a
 *                        network blip do not stampede).
 * struct wa_client       one device.
 *
 * Threading: everything (every call and every callback) runs on the pool's
 * loop thread. Nothing here is thread-safe; the owner (src/service/engine.c)
 * hands work from other threads to the loop.
 *
 * Lifetime: wa_client_free may be called at any time outside the client's
 * own callbacks; the connection is closed and no callback follows.
 */
#ifndef YESAPP_CLIENT_H
#define YESAPP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wa/crypto.h"
#include "wa/media.h"
#include "wa/payload.h"
#include "wa/signal.h"
#include "wa/socket.h"

/* ---- credentials ---- */

#define WA_CREDS_JID_MAX 96
#define WA_CREDS_ACCOUNT_MAX 512 /* an identity is ~200 bytes */

/* Everything a device keeps across restarts. Public halves are derived. */
struct wa_creds {
	struct wa_keypair noise;             /* Noise static key */
	struct wa_signal_identity identity;  /* Signal identity + registration id */
	uint32_t spk_id;
	struct wa_keypair spk;               /* signed prekey */
	uint8_t spk_sig[WA_SIG_LEN];         /* XEdDSA(identity, 0x05 || spk.pub) */
	uint8_t adv_secret[32];
	/* set once linked */
	uint8_t account[WA_CREDS_ACCOUNT_MAX]; /* ADVSignedDeviceIdentity with our signature */
	size_t account_len;                  /* 0: not linked */
	char jid[WA_CREDS_JID_MAX];          /* PHONE:DEV@s.whatsapp.net, "" until linked */
	char lid[WA_CREDS_JID_MAX];          /* LID:DEV@lid, "" until known */
	char platform[32];                   /* the phone's platform name */
	char push_name[64];
	uint32_t next_prekey_id;             /* the next one-time prekey id to make */
};

/* Fresh keys for a new device (not linked). */
int wa_creds_generate(struct wa_creds *c);
/* 1 if the device is linked (has an account and a JID). */
int wa_creds_linked(const struct wa_creds *c);
/* Recomputes every public half from the private keys (after loading). */
int wa_creds_derive(struct wa_creds *c);
void wa_creds_wipe(struct wa_creds *c);

/* ---- the pool ---- */

struct wa_client_pool;

struct wa_client_pool_opts {
	const char *url;          /* ws:// or wss:// (WhatsApp's by default) */
	const char *ca_file;      /* NULL: system CAs */
	const uint8_t *root_pub;  /* 32 bytes, NULL: WhatsApp's Noise root */
	struct wa_version version;/* 0.0.0: wa_payload_version */
	unsigned connects_per_sec;/* 0: 200 */
	int dict;                 /* 0: 3 (whatsmeow's token dictionary) */
};

/* The pool borrows the loop and copies the options. */
int wa_client_pool_new(struct wa_loop *loop, const struct wa_client_pool_opts *o,
		       struct wa_client_pool **out);
/* Every client of the pool must be freed first. NULL is a no-op. */
void wa_client_pool_free(struct wa_client_pool *p);
/* Changes the announced version for connections made from now on. */
void wa_client_pool_set_version(struct wa_client_pool *p, struct wa_version v);
/* Connects waiting for a slot. */
size_t wa_client_pool_waiting(const struct wa_client_pool *p);

/* ---- a client ---- */

struct wa_client;

enum wa_client_state {
	WA_CL_IDLE,        /* stopped */
	WA_CL_CONNECTING,  /* waiting for a slot, connecting or handshaking */
	WA_CL_QR,          /* registration: showing QR codes */
	WA_CL_PAIRING,     /* scanned: pair-success answered, waiting for 515 */
	WA_CL_CONNECTED,   /* logged in (<success>) */
	WA_CL_WAITING,     /* disconnected, a reconnect is scheduled */
	WA_CL_LOGGED_OUT,  /* unlinked by the phone or the server: credentials are void */
	WA_CL_FAILED,      /* gave up: see the reason; restart to try again */
	WA_CL_PASSKEY,     /* scanned, but WhatsApp wants the account's passkey
			    * (src/client/passkey.c): QR stopped, connection held */
};

/* Why a client is in its state (reasons are stable strings for the API). */
#define WA_REASON_QR_TIMEOUT "qr_timeout"
#define WA_REASON_CLIENT_OUTDATED "client_outdated"
#define WA_REASON_LOGGED_OUT "logged_out"
#define WA_REASON_DEVICE_REMOVED "device_removed"
#define WA_REASON_REPLACED "replaced"
#define WA_REASON_CONNECTION_LOST "connection_lost"
#define WA_REASON_TOO_MANY_FAILURES "too_many_failures"
#define WA_REASON_BANNED "banned"
#define WA_REASON_PAIRING_FAILED "pairing_failed"
#define WA_REASON_PASSKEY_REJECTED "passkey_rejected" /* still WA_CL_PASSKEY: try again */
#define WA_REASON_PASSKEY_TIMEOUT "passkey_timeout"
#define WA_REASON_PAIR_CODE_FAILED "pair_code_failed" /* the phone entered a wrong code */

/* ---- messages ---- */

#define WA_MSG_ID_MAX 64 /* longest WhatsApp message id kept (ours are 22) */

/* An incoming message as on_message hands it up (all borrowed). */
struct wa_client_inbound {
	const char *id;        /* WhatsApp id */
	const char *from;      /* the sender's device JID as the stanza named it */
	const char *chat;      /* the chat's JID: the sender's user JID, or for a
				* copy from our own other device its recipient */
	const char *sender_pn; /* the sender's phone-number JID if known, else NULL */
	const char *sender_lid;/* the sender's LID JID if known, else NULL */
	const char *push_name; /* NULL if none */
	int from_me;           /* sent by our own other device */
	int64_t t;             /* the stanza's time (Unix seconds), 0 if absent */
	const char *text;      /* conversation / extended text, NULL for other kinds */
	const char *quoted_id; /* the message replied to, or NULL */
	const uint8_t *pb;     /* the Message protobuf (unwrapped from a DeviceSentMessage) */
	size_t pb_len;
};

struct wa_media_conn;
struct wa_node;

/* A contact's privacy token (docs/engine.md "Privacy tokens"): jid its user
 * JID ("LID@lid", or "PHONE@s.whatsapp.net" when no LID was named),
 * token[0..len) the bytes it issued us (len 0: none held) and their time t,
 * sender_t when we last issued it ours (0: never); Unix seconds. */
#define WA_TCTOKEN_JID_MAX 64
#define WA_TCTOKEN_MAX 256
struct wa_tctoken {
	char jid[WA_TCTOKEN_JID_MAX];
	uint8_t token[WA_TCTOKEN_MAX];
	size_t len;
	int64_t t, sender_t;
};
/* The 7-day bucket rules (WhatsApp Web's, as Baileys 7 has them): a token
 * of time t is expired at `now` once it is older than the start of the
 * bucket 3 before the current one (a ~28-day window; t <= 0 too); a new
 * token is issued when none was (sender_t <= 0) or the last was in an
 * earlier bucket. Pure functions. */
bool wa_tctoken_expired(int64_t t, int64_t now);
bool wa_tctoken_should_issue(int64_t sender_t, int64_t now);

/* An app-state write (appstate.c, docs/appstate.md): what our other
 * devices (the phone, other companions) should learn. */
enum wa_client_action_kind {
	WA_ACT_DELETE_FOR_ME, /* chat, msg_id, from_me, msg_t: regular_high deleteMessageForMe */
	WA_ACT_PUSH_NAME,     /* name: critical_block setting_pushName */
	WA_ACT_ARCHIVE,       /* chat, on, msg_t (the last message's): regular_low archive */
	WA_ACT_PIN,           /* chat, on: regular_low pin_v1 */
	WA_ACT_MUTE,          /* chat, on, mute_until_ms (-1: forever): regular_high mute */
	WA_ACT_READ,          /* chat, on (read / unread), msg_t: regular_low markChatAsRead */
};
struct wa_client_action {
	enum wa_client_action_kind kind;
	char chat[128];       /* a chat JID as WhatsApp names it */
	char msg_id[128];
	bool from_me, on;
	int64_t msg_t;        /* Unix seconds */
	int64_t mute_until_ms;
	char name[128];
};
struct wa_client_cbs {
	/* The state changed. reason: NULL or a WA_REASON_* / short text,
	 * valid during the call. */
	void (*on_state)(struct wa_client *cl, enum wa_client_state st, const char *reason,
			 void *ud);
	/* A new QR string to show (the wa.me URL form), or NULL when there is
	 * none any more. Valid during the call. */
	void (*on_qr)(struct wa_client *cl, const char *qr, void *ud);
	/* The credentials changed (linked, push name, prekey counter): persist
	 * them. Borrowed for the call. */
	void (*on_creds)(struct wa_client *cl, const struct wa_creds *c, void *ud);
	/*
	 * New one-time prekeys must be kept before they are uploaded: persist
	 * ids[0..n) with their private keys (borrowed for the call), then call
	 * wa_client_prekeys_saved on the loop (from any later loop iteration).
	 */
	void (*on_prekeys)(struct wa_client *cl, const uint32_t *ids, const uint8_t (*priv)[32],
			   size_t n, void *ud);
	/* The server confirmed the upload of prekeys up to id `upto`. Optional. */
	void (*on_prekeys_uploaded)(struct wa_client *cl, uint32_t upto, void *ud);
	/* The passkey step: the WebAuthn request options (JSON text) to show
	 * the user, and once both sides derived it the confirmation code
	 * ("XXXX-XXXX", else NULL); both NULL when the step ended. Borrowed for
	 * the call. Optional. */
	void (*on_passkey)(struct wa_client *cl, const char *options, const char *code, void *ud);
	/* Messaging (send.c, receive.c, receipt.c); all optional. */
	/* A message given to wa_client_send ended: err 0 when the server
	 * acknowledged it (status "sent"); Y_ECLOSED when the connection went
	 * first (send it again, under the same id, once connected); any other
	 * error is final, with reason (e.g. "ack_error_463", "no_devices"). */
	void (*on_sent)(struct wa_client *cl, const char *wa_id, int err, const char *reason,
			void *ud);
	/* A receipt for messages we sent: type NULL (delivered), "read",
	 * "read-self", "played"...; ids[0..n) are WhatsApp ids; from is the
	 * recipient's JID. Borrowed for the call. */
	void (*on_receipt)(struct wa_client *cl, const char *from, const char *type,
			   const char *const *ids, size_t n, void *ud);
	/* A message arrived and was decrypted (already acknowledged and
	 * receipted). Borrowed for the call. Not for the phone's peer
	 * (category="peer") protocol messages. */
	void (*on_message)(struct wa_client *cl, const struct wa_client_inbound *m, void *ud);
	/* The answer to wa_client_media_conn: err 0 with c (borrowed for the
	 * call), else the error and c NULL. Optional. */
	void (*on_media_conn)(struct wa_client *cl, int err, const struct wa_media_conn *c,
			      void *ud);
	/* Presence (presence.c): a contact's "available" / "unavailable"
	 * (last_seen Unix seconds, 0 when not shared), or a chat state
	 * "composing" / "recording" / "paused" in chat `from` (participant:
	 * the member in a group, else NULL). Borrowed for the call. Optional. */
	void (*on_presence)(struct wa_client *cl, const char *from, const char *participant,
			    const char *state, int64_t last_seen, void *ud);
	/* The block list as the server last answered (block.c): jids[0..n),
	 * borrowed for the call. Optional. */
	void (*on_blocklist)(struct wa_client *cl, const char *const *jids, size_t n, void *ud);
	/* The server named a user by both its LID and its phone number (a
	 * usync <lid val>, a message's sender_pn / sender_lid /
	 * peer_recipient_*): lid "LID@lid", pn "PHONE@s.whatsapp.net", bare
	 * user JIDs, borrowed for the call. May be NULL. */
	void (*on_lid_map)(struct wa_client *cl, const char *lid, const char *pn, void *ud);
	/* A contact's privacy token entry changed (tctoken.c): persist it,
	 * replacing what was kept for tk->jid. Borrowed for the call. May be
	 * NULL. */
	void (*on_tctoken)(struct wa_client *cl, const struct wa_tctoken *tk, void *ud);
	/* A message now waits for the Signal state to be durable
	 * (wa_client_opts.state_durable) where none waited: call
	 * wa_client_state_durable once it may be, and again while
	 * wa_client_state_waiting holds, so an owner of many clients visits
	 * only those. Optional (without it, call it on every client). */
	void (*on_state_wait)(struct wa_client *cl, void *ud);
	/* A profile picture changed (profile.c, <notification type="picture">):
	 * jid's (a user or group JID) is now picture id, or removed when id is
	 * NULL; author: who changed it when told (a group's admin), else NULL.
	 * Our own account's too (a change from our other device, or our own
	 * echoed). Borrowed for the call. Optional. */
	void (*on_picture)(struct wa_client *cl, const char *jid, const char *id,
			   const char *author, void *ud);
	/* Our phone answered a media retry (wa_client_media_retry) of message
	 * wa_id: code 0 with the sealed MediaRetryNotification ct (len bytes)
	 * and its 12-byte iv, to open with the message's media key
	 * (wa/mediaretry.h); else code > 0 the phone's <error code>, -1 an
	 * answer without a usable payload (ct, iv NULL). Borrowed for the
	 * call. Optional. */
	void (*on_media_retry)(struct wa_client *cl, const char *wa_id, int code,
			       const uint8_t *ct, size_t len, const uint8_t *iv, void *ud);
	/* App state (appstate.c, docs/appstate.md); optional. Our phone shared
	 * a sync key (id[0..id_len), data[0..len), t its timestamp in ms), or
	 * a collection's state changed (blob as wa_appstate_state_save writes
	 * it): persist it, replacing what was kept under that id / name.
	 * Borrowed for the call. */
	void (*on_appstate_key)(struct wa_client *cl, const uint8_t *id, size_t id_len,
				const uint8_t *data, size_t len, int64_t t, void *ud);
	void (*on_appstate_state)(struct wa_client *cl, const char *name, const uint8_t *blob,
				  size_t len, void *ud);
	/* Another of our devices wrote this (a verified app-state mutation we
	 * understand: archive, pin, mute, read, delete for me, push name).
	 * Borrowed for the call. Optional. */
	void (*on_appstate_action)(struct wa_client *cl, const struct wa_client_action *a, void *ud);
};

struct wa_client_opts {
	unsigned max_attempts;    /* consecutive failed connects before FAILED; 0: 10 */
	uint64_t backoff_min_ms;  /* first reconnect delay; 0: 1000 */
	uint64_t backoff_max_ms;  /* cap; 0: 60000 */
	uint64_t keepalive_ms;    /* ping interval base (20..30 s jittered); 0: 25000 */
	uint64_t iq_timeout_ms;   /* 0: 75000 */
	const char *name;         /* for logs (the session id); copied */
	/* For tests (0: the protocol's durations, which callers should keep):
	 * the first QR's and each later QR's lifetime, how long a ping may go
	 * unanswered, and how long a connection may stay silent. */
	uint64_t qr_first_ms;     /* 0: 60000 */
	uint64_t qr_next_ms;      /* 0: 20000 */
	uint64_t ping_timeout_ms; /* 0: 10000 */
	uint64_t dead_ms;         /* 0: 45000 */
	/* Where the Signal state (sessions, identities, prekeys) lives; borrowed,
	 * must outlive the client. The client seeds it with the signed prekey of
	 * its credentials and adds the one-time prekeys it makes. NULL: the
	 * client cannot send or receive messages. */
	struct wa_signal_store *signal_store;
	/* Optional: a durability gate for that state (src/service/signal_db.h).
	 * An encrypted message leaves only once the state its encryption saved
	 * (up to state_seq()) is durable: until state_durable(seq) holds it
	 * waits, in order, and wa_client_state_durable re-checks. Without the
	 * gate a crash could lose a ratchet step of a ciphertext already sent,
	 * and the next message would reuse its key. Loop thread. */
	/* The delivery receipt and the server ack of a message handed to
	 * on_message wait until the caller reports it stored
	 * (wa_client_message_stored): until then a crash loses nothing, the
	 * server redelivers what we never acknowledged. */
	bool defer_receipts;
	uint64_t (*state_seq)(void *state_ud);
	int (*state_durable)(void *state_ud, uint64_t seq);
	void *state_ud;
};

/* A client with these credentials (copied). Does not connect until
 * wa_client_start. */
int wa_client_new(struct wa_client_pool *p, const struct wa_creds *creds,
		  const struct wa_client_opts *o, const struct wa_client_cbs *cbs, void *ud,
		  struct wa_client **out);
void wa_client_free(struct wa_client *cl); /* NULL is a no-op */
/* The Signal state became durable up to some point: messages held for it
 * (wa_client_opts.state_durable) that may leave now go out, in order. */
void wa_client_state_durable(struct wa_client *cl);
/* Whether messages still wait for the Signal state (see on_state_wait). */
bool wa_client_state_waiting(const struct wa_client *cl);
/* Message `id` (handed to on_message) is stored: its delivery receipt and
 * ack go now (opts.defer_receipts). Unknown ids are ignored. Loop thread. */
void wa_client_message_stored(struct wa_client *cl, const char *id);

/* Connects (registering if not linked, else logging in). From FAILED or
 * LOGGED_OUT it starts over (LOGGED_OUT with fresh credentials, which
 * on_creds reports). No-op when already running. */
int wa_client_start(struct wa_client *cl);
/* Disconnects and stays IDLE. */
void wa_client_stop(struct wa_client *cl);
/*
 * Unlinks this device on WhatsApp's side (remove-companion-device), then
 * closes in WA_CL_LOGGED_OUT; the owner wipes the credentials. A linked
 * client that is not connected now (waiting to reconnect, or connecting)
 * connects first, at once, and unlinks as soon as it is logged in (never
 * announcing WA_CL_CONNECTED); if WhatsApp cannot be reached within
 * WA_LOGOUT_WAIT_MS it ends in WA_CL_LOGGED_OUT all the same, logging that
 * the phone still lists the device. Anything else ends at once.
 */
#define WA_LOGOUT_WAIT_MS 10000
void wa_client_logout(struct wa_client *cl);

/* In WA_CL_PASSKEY: sends the user's WebAuthn assertion (the JSON of
 * PublicKeyCredential.toJSON(), copied) and its raw credential id. The
 * answer shows as on_state (reason passkey_rejected) or on_passkey (a
 * code). Y_ESTATE when no assertion is awaited, Y_EINVAL, Y_ENOMEM. */
int wa_client_passkey_submit(struct wa_client *cl, const char *assertion_json,
			     const uint8_t *raw_id, size_t raw_id_len);
/* The user saw the confirmation code match the phone's: finish linking.
 * Needed only when the client could not prove the handoff itself (the
 * assertion came more than 5 minutes after the request). Y_ESTATE. */
int wa_client_passkey_confirm(struct wa_client *cl);

/* Continues the upload after on_prekeys: err 0 when they were kept. */
void wa_client_prekeys_saved(struct wa_client *cl, int err);

/*
 * Linking by pair code (src/client/paircode.c) instead of QR: the user types
 * the code into the phone of `phone`. Called with the code to show
 * ("ABCD-EFGH", valid during the call) and err 0, or code NULL and an error:
 * Y_ECLOSED (the connection ended first), Y_EINVAL (the server refused the
 * request), Y_ETIMEOUT, Y_ENOMEM, Y_ECRYPTO.
 */
typedef void (*wa_client_pair_code_cb)(struct wa_client *cl, int err, const char *code,
				       void *ud);
/*
 * Asks the server for a pair code for phone (E.164 digits without '+').
 * Only while registering (state QR: after the pair-device refs came); the
 * QR stays valid meanwhile, and a code the phone gets wrong leaves the state
 * QR with reason WA_REASON_PAIR_CODE_FAILED. A new call replaces a code
 * handed out before. Returns Y_EINVAL (malformed phone), Y_ESTATE (not
 * registering), Y_EBUSY (a code is being made, or the phone is entering
 * one) or Y_ENOMEM, and then cb never runs; else 0 and cb runs once from a
 * later loop iteration, unless the client is freed first.
 */
int wa_client_pair_code(struct wa_client *cl, const char *phone, wa_client_pair_code_cb cb,
			void *ud);

/* What the server said of a contact (client/contact.c). A lookup fills
 * registered, jid (the account's phone-number JID as the server names it),
 * lid ("" if not given or not registered) and about (has_about: an about
 * text that is set and not hidden); a picture query fills picture_url and
 * picture_id; setting our picture picture_id (none when removed). */
#define WA_CLIENT_ABOUT_MAX 1024                 /* bytes of an about text */
#define WA_CLIENT_PICTURE_MAX ((size_t)1 << 20)  /* JPEG bytes we upload */
struct wa_client_contact {
	int registered;
	char jid[64];
	char lid[64];
	bool has_about;
	char about[WA_CLIENT_ABOUT_MAX + 1];
	char picture_url[1024];
	char picture_id[32];
};
typedef void (*wa_client_lookup_cb)(struct wa_client *cl, int err,
				    const struct wa_client_contact *c, void *ud);
/*
 * Asks the server (usync contact + lid + status) about phone (E.164 digits,
 * no '+'). Only while connected (Y_ESTATE); at most 16 questions of these
 * three kinds waiting per client (Y_EBUSY).
 * cb is called exactly once, on a later loop iteration, with the answer,
 * Y_ETIMEOUT, Y_EINVAL (a malformed answer) or Y_ECLOSED (the connection
 * ended first; also from inside wa_client_free). Loop thread.
 */
int wa_client_lookup(struct wa_client *cl, const char *phone, wa_client_lookup_cb cb, void *ud);
/* The profile picture URL of user jid (no device), the full image or its
 * preview: as wa_client_lookup, and Y_ENOTFOUND when it has none or hides
 * it from us. */
int wa_client_picture(struct wa_client *cl, const char *jid, bool preview,
		      wa_client_lookup_cb cb, void *ud);
/* Sets our profile picture to jpeg[0..len) (copied; at most
 * WA_CLIENT_PICTURE_MAX, the caller checked it is a JPEG), or removes it
 * (len 0): as wa_client_lookup, Y_EINVAL when the server refused it. */
int wa_client_set_picture(struct wa_client *cl, const uint8_t *jpeg, size_t len,
			  wa_client_lookup_cb cb, void *ud);

/*
 * Messaging. The owner keeps the durable queue; the client sends what it is
 * given in order, one stanza at a time per client (usync device list,
 * prekey bundles for devices without a session, one <enc> per device, a
 * DeviceSentMessage copy to our own other devices).
 */
/* A new message id as WhatsApp clients make them: "3EB0" and 18 upper-case
 * hex digits (SHA-256 over the time, our user (of own_jid, may be NULL) and
 * random bytes). Fix it when the message is accepted, so a resend after a
 * crash reuses it. Thread-safe (it touches no client). */
void wa_client_message_id(const char *own_jid, char out[WA_MSG_ID_MAX]);
/* Puts one-time prekeys made earlier (kept by the owner) into the Signal
 * store, so peers' first messages to them decrypt after a restart. */
int wa_client_import_prekeys(struct wa_client *cl, const uint32_t *ids,
			     const uint8_t (*priv)[32], size_t n);
/*
 * Queues a message: wa_id (as made above), to_jid a user JID
 * (PHONE@s.whatsapp.net or LID@lid), pb/len a serialized Message (copied).
 * Only when connected: Y_ESTATE otherwise (and no callback); Y_EINVAL for a
 * bad JID or id, Y_ENOMEM. On 0, on_sent runs exactly once later, unless the
 * client is freed first.
 */
int wa_client_send(struct wa_client *cl, const char *wa_id, const char *to_jid,
		   const uint8_t *pb, size_t len);
/* Sends a read receipt for ids[0..n) of chat `chat` (the sender's JID as
 * on_message gave it in `from`). Y_ESTATE when not connected. */
int wa_client_mark_read(struct wa_client *cl, const char *from, const char *const *ids,
			size_t n);
/* Presence (presence.c; Y_ESTATE when not connected): our own
 * availability, announced with name `as` or else our push name (Y_EINVAL
 * without either); a chat
 * state for chat `to` ("composing", "recording" or "paused"); a subscription
 * to a contact's presence (user JID), answered later through on_presence. */
int wa_client_send_presence(struct wa_client *cl, bool available, const char *as);
int wa_client_send_chatstate(struct wa_client *cl, const char *to, const char *state);
int wa_client_subscribe_presence(struct wa_client *cl, const char *jid);
/* The block list (block.c; Y_ESTATE when not connected): asks for it, or
 * blocks / unblocks user `jid` (as given: phone or LID JID); the list in
 * the server's answer comes through on_blocklist. */
int wa_client_blocklist(struct wa_client *cl);
int wa_client_block(struct wa_client *cl, const char *jid, bool block);
/* Our about text (profile.c; Y_ESTATE when not connected). */
int wa_client_set_about(struct wa_client *cl, const char *text);
/* Privacy tokens kept by the owner (on_tctoken), handed back at start
 * (copied). Y_EINVAL for an entry with a bad length or jid, Y_ENOMEM. */
int wa_client_import_tctokens(struct wa_client *cl, const struct wa_tctoken *v, size_t n);
/* App state kept by the owner (on_appstate_key / on_appstate_state),
 * handed back at start (copied). Y_EINVAL for a bad key or blob. */
int wa_client_import_appstate_key(struct wa_client *cl, const uint8_t *id, size_t id_len,
				  const uint8_t *data, size_t len, int64_t t);
int wa_client_import_appstate(struct wa_client *cl, const char *name, const uint8_t *blob,
			      size_t len);

/*
 * Queues an app-state write (copied); written in order once connected: the
 * collection's state is fetched first when unknown, the patch goes up at
 * its version, our state follows on success (on_appstate_state), and a
 * version conflict is retried once after taking the patches we missed.
 * Without a sync key from our phone yet, the write waits for it (queued in
 * memory: a restart before the key comes loses it). Y_EBUSY with too many
 * queued, Y_EINVAL for a bad action.
 */
int wa_client_appstate_write(struct wa_client *cl, const struct wa_client_action *a);
/* The entry kept for user JID jid, or NULL (borrowed until the next call
 * into the client). */
const struct wa_tctoken *wa_client_tctoken(struct wa_client *cl, const char *jid);
/* Our push name (profile.c): kept in the credentials (on_creds) and, when
 * connected, announced at once (<presence name> with the availability we
 * last announced, "available" if none, which
 * WhatsApp relays as the notify of our messages). Y_EINVAL for an empty
 * name or one longer than the credentials hold. */
int wa_client_set_push_name(struct wa_client *cl, const char *name);
/* Messages queued or waiting for the server's ack. */
size_t wa_client_sends_pending(const struct wa_client *cl);

/* Where media is uploaded (protocol-map.md §9.3; client/mediaconn.c): the
 * w:m media_conn iq's auth token, its lifetime and the hosts, in order. */
#define WA_MEDIA_CONN_HOSTS 4
struct wa_media_conn {
	char auth[256];
	uint32_t ttl_s;                  /* how long hosts and auth may be used */
	size_t nhosts;
	char hosts[WA_MEDIA_CONN_HOSTS][128];
};
/* Asks the server for a media_conn; the answer goes to cbs.on_media_conn
 * (never when the connection drops first). Y_ESTATE when not connected.
 * Loop thread. */
int wa_client_media_conn(struct wa_client *cl);
/* Asks our own phone to upload the media of received message wa_id again
 * (its host answered 404/410; client/mediaretry.c): the server-error
 * receipt sealed with media_key. chat is the message's chat, participant
 * its sender in a group (else NULL). The answer goes to cbs.on_media_retry
 * (never when the connection drops first: the owner times it out). Y_ESTATE
 * when not connected. Loop thread. */
int wa_client_media_retry(struct wa_client *cl, const char *wa_id, const char *chat,
			  bool from_me, const char *participant,
			  const uint8_t media_key[WA_MEDIA_KEY_LEN]);
/* Parses a media_conn iq result (exposed for tests): Y_OK or Y_EINVAL
 * (no auth, no ttl, no host, a field too long). */
int wa_media_conn_parse(const struct wa_node *iq, struct wa_media_conn *out);

enum wa_client_state wa_client_state(const struct wa_client *cl);
const struct wa_creds *wa_client_creds(const struct wa_client *cl);
/* The QR on show, or NULL. */
const char *wa_client_qr(const struct wa_client *cl);

/* "idle", "connecting", ... for logs. */
const char *wa_client_state_name(enum wa_client_state st);

/* Builds the QR text for a ref: https://wa.me/settings/linked_devices#ref,
 * base64(noise pub), base64(identity pub), base64(adv secret), client type
 * (wa/qrtext.h). Y_ETOOBIG when cap is too small, Y_EINVAL for a ref the
 * text cannot carry. */
int wa_client_qr_text(const struct wa_creds *c, const char *ref, size_t ref_len, char *out,
		      size_t cap);

#endif
