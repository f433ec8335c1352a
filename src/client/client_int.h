/*
 * Private to src/client/: the client's state and the functions its files
 * share. One file per feature, as whatsmeow splits it:
 *   client.c     lifecycle, states, reconnect with backoff, the node-tag ->
 *                handler table, stream errors and login failures
 *   pool.c       the shared pool: options and the connect-rate limiter
 *   creds.c      key generation and derivation, the QR text
 *   handshake.c  connecting: the ClientPayload (registration or login)
 *   pair.c       QR pairing: pair-device refs and their rotation,
 *                pair-success (HMAC, account signature, our device signature)
 *   paircode.c   pair-code linking: companion_hello, primary_hello,
 *                companion_finish (its PBKDF2s off the loop)
 *   login.c      <success> and what a client sends after it
 *   keepalive.c  pings and dead-connection detection
 *   prekeys.c    one-time prekeys: count, make, persist, upload
 *   passkey.c    the passkey step of linking (protocol-map.md §13)
 *   usync.c      device lists (usync), cached per client
 *   send.c       sending: prekey bundles, per-device <enc>, server acks
 *   receive.c    incoming messages: decrypt, ack, receipt, retry receipt
 *   receipt.c    receipts for what we sent; read receipts we send
 *   retry.c      answering retry receipts: re-encrypt for the device that asked
 *   msgkind.c    the stanza attributes of each message kind
 *   presence.c   presence and chat states
 *   block.c      the block list
 *   profile.c    our about text
 *   mediaretry.c asking our phone to upload expired media again
 * Everything runs on the pool's loop thread.
 */
#ifndef YESAPP_CLIENT_INT_H
#define YESAPP_CLIENT_INT_H

#include <stdbool.h>
#include <uv.h>

#include "client/client.h"
#include "wa/conn.h"
#include "wa/node.h"

#define CL_REFS_MAX 8          /* pair-device refs kept (WhatsApp sends 6) */
#define CL_REF_MAX 96          /* longest ref accepted */
#define CL_QR_FIRST_MS 60000   /* the first QR lives 60 s, later ones 20 s */
#define CL_QR_NEXT_MS 20000
#define CL_PREKEY_MIN 5        /* the server count below which we upload */
#define CL_PREKEY_BATCH 30     /* prekeys per upload (Baileys' initial count) */
#define CL_PING_TIMEOUT_MS 10000 /* a ping unanswered this long... */
#define CL_DEAD_MS 45000       /* ...or nothing received this long: dead */
#define CL_HANDSHAKE_MS 20000  /* connect to refs/<success>, pairing to 515 */

struct wa_client_pool {
	struct wa_loop *loop;
	char *url, *ca_file;
	uint8_t root[WA_KEY_LEN];
	bool has_root;
	struct wa_version version;
	int dict;
	/* connect limiter: a token bucket refilled connects_per_sec a second */
	unsigned cps;
	double tokens;
	uint64_t refill_ms;
	struct wa_client *wait_head, *wait_tail;
	size_t nwaiting;
	uv_timer_t *timer;     /* armed while clients wait; freed by its close */
	size_t nclients;
};

enum cl_timer {
	T_NONE,
	T_BACKOFF,    /* waiting to reconnect */
	T_QR,         /* the current QR's lifetime */
	T_KEEPALIVE,  /* next ping */
	T_HANDSHAKE,  /* deadline to get refs, <success> or the 515 after pairing */
	T_PASSKEY,    /* the passkey step's deadline */
};

struct cl_passkey;
struct cl_send;
struct cl_devlist;
struct cl_devreq;
struct cl_recent;
struct cl_resend;
struct cl_lookup;
struct cl_tctokens;
struct cl_appstate;

#define CL_SEEN_MIN 8         /* the ring's first size: an idle session gets ~2 messages */
#define CL_SEEN_MAX 512       /* recently received message ids kept (duplicates) */
#define CL_RETRY_SLOTS 64     /* messages we asked retries for */
#define CL_RETRY_MAX 5        /* retry receipts per message (as Baileys, whatsmeow) */
#define CL_DEVICES_TTL_MS (5 * 60 * 1000) /* a cached device list's life (as Baileys) */
#define CL_SEND_MAX_DEVICES 64 /* devices one message goes to */
#define CL_RECENT_MAX 32      /* messages we sent kept for retry receipts */

struct wa_client {
	struct wa_client_pool *pool;
	struct wa_client_cbs cbs;
	void *ud;
	struct wa_client_opts opts; /* opts.name owned */
	struct wa_creds creds;
	enum wa_client_state state;
	struct wa_conn *conn;       /* NULL when not connected */
	uv_timer_t timer;           /* one timer; what it means is `tkind` */
	enum cl_timer tkind;
	bool freeing;
	bool waiting_slot;          /* in the pool's wait list */
	struct wa_client *wait_next;
	unsigned attempts;          /* consecutive failed connects */
	bool logged_in_once;        /* this connection reached <success> */
	bool logout_pending;        /* close after remove-companion-device */
	bool logout_on_login;       /* unlink as soon as logged in (wa_client_logout) */
	uint64_t logout_by;         /* loop time after which it unlinks only locally */
	/* registration */
	char (*refs)[CL_REF_MAX];   /* allocated while showing QRs */
	unsigned nrefs, ref_idx;
	char *qr;                   /* the QR on show (owned) */
	struct cl_paircode *pc;     /* a pair code in use (paircode.c); owned */
	/* keepalive */
	bool ping_out;
	uint64_t ping_sent_ms;
	/* prekeys waiting to be persisted, then uploaded */
	struct wa_signal_prekey *pk_pending;
	size_t npk_pending;
	bool pk_busy;
	/* the passkey step (passkey.c); NULL outside it */
	struct cl_passkey *passkey;
	/* messaging: our Signal endpoint over opts.signal_store (NULL without) */
	struct wa_signal *sig;
	struct cl_send *sq_head, *sq_tail; /* waiting to be prepared, in order */
	struct cl_send *sq_active;         /* being prepared (usync, prekeys) */
	struct cl_send *acks;              /* sent, waiting for the server's ack */
	/* received messages whose receipt and ack wait for the store
	 * (opts.defer_receipts; receive.c), newest first; dropped with the
	 * connection (the server then redelivers them) */
	struct cl_unstored {
		struct cl_unstored *next;
		char id[WA_MSG_ID_MAX];
		struct wa_node *receipt, *ack;
	} *unstored;
	size_t nunstored;
	/* encrypted message nodes waiting for their Signal state to be durable
	 * (opts.state_durable), oldest first; dropped with the connection */
	struct cl_held {
		struct cl_held *next;
		struct wa_node *n;
		uint64_t seq;
	} *held_head, *held_tail;
	size_t nsends;
	bool sq_kicking;                   /* start_next is running (send.c) */
	struct cl_recent *recent;          /* ring of CL_RECENT_MAX sent messages (retry.c) */
	unsigned recent_pos;
	struct cl_resend *resend;          /* the retry being answered (retry.c) */
	struct cl_devlist *devs;           /* device-list cache (usync.c) */
	struct cl_devreq *devreq;          /* the usync in flight (usync.c) */
	struct cl_lookup *lookups;         /* contact lookups waiting (contact.c) */
	size_t nlookups;
	bool away;                         /* our last own presence was unavailable (presence.c) */
	bool media_conn_asked;              /* a media_conn iq in flight (mediaconn.c) */
	/* ring of received ids; done once the message's receipt and ack may
	 * go (stored, or not to be stored): a redelivery of a done one is
	 * receipted and acknowledged again (receive.c). Grown on demand:
	 * seen_n used of seen_cap, from CL_SEEN_MIN doubling to CL_SEEN_MAX,
	 * then the oldest (seen_pos) is overwritten; NULL until the first
	 * message (a full ring is 33 KiB, which every linked session paid for
	 * the two messages the phone sends a new companion) */
	struct cl_seen { char id[WA_MSG_ID_MAX]; bool done; } *seen;
	unsigned seen_n, seen_cap, seen_pos;
	/* messages we asked retries for, CL_RETRY_SLOTS; NULL until the first
	 * message that does not decrypt (receive.c) */
	struct cl_retry { char id[WA_MSG_ID_MAX]; unsigned count; } *retries;
	unsigned retry_pos;
	/* privacy tokens (tctoken.c): what contacts issued us and when we last
	 * issued them ours; NULL until the first */
	struct cl_tctokens *tc;
	bool tc_on_1to1;                   /* the server's prop 10518 (on until it says 0) */
	/* app state (appstate.c): sync keys, collection states, queued
	 * writes; NULL until the first key or write */
	struct cl_appstate *as;
};

/* client.c */
void cl_set_state(struct wa_client *cl, enum wa_client_state st, const char *reason);
void cl_timer_start(struct wa_client *cl, enum cl_timer kind, uint64_t ms);
void cl_timer_stop(struct wa_client *cl);
/* Closes the connection (if any) and schedules a reconnect (or FAILED
 * after too many attempts). */
void cl_disconnected(struct wa_client *cl, const char *reason);
/* Ends for good: state st (LOGGED_OUT / FAILED) with reason. */
/* Sends remove-companion-device on the connection; true when sent (its
 * answer closes the connection, which ends in WA_CL_LOGGED_OUT). */
bool cl_unlink(struct wa_client *cl);
void cl_give_up(struct wa_client *cl, enum wa_client_state st, const char *reason);
void cl_creds_changed(struct wa_client *cl);
/* Sends a node; on failure closes the connection. */
/* cl_send for a node carrying ciphertext: sent now, or taken (*n = NULL)
 * and sent, in order, once the Signal state its encryption saved is durable
 * (wa_client_opts.state_durable; send.c). */
int cl_send_durable(struct wa_client *cl, struct wa_node **n);
/* Received messages waiting for wa_client_message_stored at most; then
 * their receipts go at once. */
#define CL_UNSTORED_MAX 1024
/* Forgets the receipts waiting for the store (the connection went). */
void cl_unstored_reset(struct wa_client *cl);
int cl_send(struct wa_client *cl, const struct wa_node *n);
/* Builds and sends <iq to=s.whatsapp.net id type xmlns> with child `kid`
 * (built by the caller and added with wa_node_add_child to the returned
 * node before sending) — see cl_iq_new / cl_iq_send. */
struct wa_node *cl_iq_new(struct wa_client *cl, const char *type, const char *xmlns);
int cl_iq_send(struct wa_client *cl, struct wa_node *iq, wa_conn_iq_cb cb);
/* <ack id to=from class=tag [type]> for a notification, receipt or call. */
int cl_ack_node(struct wa_client *cl, const struct wa_node *n);
/* Answers an iq from the server with an empty result. */
int cl_iq_result(struct wa_client *cl, const struct wa_node *req);
/* Sets several attributes: pairs of key, value, ending with NULL. */
int cl_attrs(struct wa_node *n, ...);
/* The node's `kid` child's bytes (NULL if missing). */
const uint8_t *cl_kid_bytes(const struct wa_node *n, const char *tag, size_t *len);

/* Delay before reconnect attempt n (1-based): backoff_min_ms doubled per
 * attempt up to backoff_max_ms, then jittered into [d/2, d]. */
uint64_t cl_backoff_ms(const struct wa_client *cl, unsigned n);
/*
 * Hands node n (borrowed) to the node-tag -> handler table as if it had just
 * arrived on cl->conn; returns what the handler returned (an error closes
 * the connection when it comes from wa_conn). The connection's on_node calls
 * it; tests and tests/fuzz/fuzz_client_node.c call it directly, with cl->conn
 * a detached wa_conn (wa_conn_new_detached) or NULL.
 */
int cl_node_received(struct wa_client *cl, const struct wa_node *n);

/* client.c: the callbacks of every client's wa_conn */
extern const struct wa_conn_cbs cl_conn_cbs;

/* pool.c: asks for a connect slot; cl_connect_now runs when granted. */
void cl_pool_request(struct wa_client *cl);
void cl_pool_cancel(struct wa_client *cl);

/* handshake.c */
void cl_connect_now(struct wa_client *cl);

/* pair.c */
int cl_pair_device(struct wa_client *cl, const struct wa_node *iq);
int cl_pair_success(struct wa_client *cl, const struct wa_node *iq);
void cl_qr_next(struct wa_client *cl);
void cl_qr_clear(struct wa_client *cl);
/* The node comes from the server's own JID. */
bool cl_from_server(const struct wa_node *n);

/* paircode.c */
int cl_paircode_notification(struct wa_client *cl, const struct wa_node *n);
/* Ends a pair code in use (the connection is going). */
void cl_paircode_reset(struct wa_client *cl);

/* login.c */
int cl_on_success(struct wa_client *cl, const struct wa_node *n);

/* keepalive.c */
void cl_keepalive_start(struct wa_client *cl);
void cl_keepalive_tick(struct wa_client *cl);

/* passkey.c */
int cl_passkey_request(struct wa_client *cl, const struct wa_node *n);
int cl_passkey_continuation(struct wa_client *cl, const struct wa_node *n);
void cl_passkey_timeout(struct wa_client *cl);
/* Forgets the step (on_passkey NULL, NULL if there was one). */
void cl_passkey_clear(struct wa_client *cl);

/* usync.c: device lists. cl_devices_get answers from the cache or asks
 * the server; done runs (later, or at once from the cache) with err 0 and
 * the devices of every user, or an error. */
struct cl_devices {
	char user[WA_SIGNAL_NAME_MAX];
	char server[16];
	char lid[WA_SIGNAL_NAME_MAX]; /* a phone-number user's LID (usync <lid val>), "" unknown */
	uint16_t dev[CL_SEND_MAX_DEVICES];
	size_t n;
};
typedef void (*cl_devices_cb)(struct wa_client *cl, int err, const struct cl_devices *d,
			      size_t n);
int cl_devices_get(struct wa_client *cl, const struct wa_jid *users, size_t n,
		   cl_devices_cb done);
/* Forgets the cached list of one user (a devices notification), or all. */
void cl_devices_forget(struct wa_client *cl, const char *user);
void cl_devices_free(struct wa_client *cl);
int cl_devices_notification(struct wa_client *cl, const struct wa_node *n);

/* receive.c: reports a LID <-> phone pairing (JIDs, any device part is
 * dropped) to on_lid_map; NULL or ill-formed halves are ignored */
void cl_lid_learnt(struct wa_client *cl, const char *lid_jid, const char *pn_jid);

/* contact.c: ends the lookups asked on a connection that is gone (cl->conn
 * is another, or NULL) with Y_ECLOSED: their waiters were dropped with it */
void cl_lookups_drop(struct wa_client *cl);
/* contact.c: the kinds of question, and the reader of an answer n
 * (borrowed; NULL reads as malformed) into r: 0, Y_ENOTFOUND (no picture,
 * hidden) or Y_EINVAL. Exposed for tests/fuzz/fuzz_client_node.c. */
enum cl_lookup_kind { LK_CONTACT, LK_PICTURE, LK_SET_PICTURE };
int cl_contact_read_answer(enum cl_lookup_kind kind, const struct wa_node *n,
			   struct wa_client_contact *r);

/* send.c */
int cl_send_ack(struct wa_client *cl, const struct wa_node *n);
/* The connection went: every send fails with Y_ECLOSED (quiet when freeing). */
void cl_sends_reset(struct wa_client *cl);
/* Makes our Signal endpoint and seeds its store (at wa_client_new). */
int cl_signal_init(struct wa_client *cl);
void cl_signal_free(struct wa_client *cl);
/* A prekey bundle from <user><registration/><type/><identity/><skey/>[<key/>]
 * (Y_ENOTFOUND for a <user> with <error>, Y_EINVAL when malformed). */
int cl_bundle_from_node(const struct wa_node *u, struct wa_signal_bundle *b);
/* The device JID text "user[:dev]@server" into out. */
void cl_device_jid(const char *user, const char *server, unsigned dev, char *out, size_t cap);

/* msgkind.c: the stanza attributes of a message's kind (§17.0) */
struct cl_stanza_kind {
	const char *type;      /* <message type>: text, reaction, media, poll */
	const char *edit;      /* edit attribute, or NULL */
	const char *mediatype; /* on each <enc>, or NULL */
	const char *polltype;  /* <meta polltype>, or NULL */
	bool hide;             /* decrypt-fail="hide" on each <enc> */
	bool protocol;         /* a protocolMessage (edit, revoke): issues no privacy token */
};
void cl_stanza_kind(const uint8_t *pb, size_t len, struct cl_stanza_kind *k);
/* Adds edit, the <enc> attributes and <meta> to a built <message>. */
int cl_stanza_decorate(struct wa_node *msg, const struct cl_stanza_kind *k);

/* presence.c: <presence> and <chatstate> from the server */
int cl_presence_received(struct wa_client *cl, const struct wa_node *n);
int cl_chatstate_received(struct wa_client *cl, const struct wa_node *n);

/* receive.c */
int cl_message_received(struct wa_client *cl, const struct wa_node *n);
/* The ring of received ids: id's slot, or NULL if not seen lately; mark
 * records id (done as given) and returns its slot, valid until the next
 * mark, or NULL on ENOMEM before the ring has any slot. */
struct cl_seen *cl_seen_find(const struct wa_client *cl, const char *id);
struct cl_seen *cl_seen_mark(struct wa_client *cl, const char *id, bool done);
void cl_receive_free(struct wa_client *cl); /* the ring and the retry slots */

/* retry.c: answering a peer's retry receipt by re-encrypting the message
 * for the device that asked, from a fresh prekey bundle. */
void cl_recent_keep(struct wa_client *cl, const char *id, const char *to, const uint8_t *pb,
		    size_t len);
int cl_retry_received(struct wa_client *cl, const struct wa_node *receipt);
void cl_retry_free(struct wa_client *cl);
void cl_retry_reset(struct wa_client *cl); /* the connection went */

/* receipt.c */
int cl_receipt_received(struct wa_client *cl, const struct wa_node *n);

/* appstate.c: app state (docs/appstate.md). A key share from our phone
 * (the protocolMessage's AppStateSyncKeyShare); a server_sync
 * notification; the connection logged in / went; the client is freed. */
struct Wa__Message__AppStateSyncKeyShare;
void cl_appstate_key_share(struct wa_client *cl,
			   const struct Wa__Message__AppStateSyncKeyShare *sh);
int cl_appstate_notification(struct wa_client *cl, const struct wa_node *n);
void cl_appstate_connected(struct wa_client *cl);
void cl_appstate_reset(struct wa_client *cl);
void cl_appstate_free(struct wa_client *cl);

/* tctoken.c: privacy tokens (docs/engine.md "Privacy tokens") */
#define CL_TCTOKENS_MAX 65536 /* contacts kept per client */
/* A privacy_token notification: keeps the issuer's tokens. */
int cl_tctoken_notification(struct wa_client *cl, const struct wa_node *n);
/* <notification type="picture">: each <set jid id author?> / <delete jid
 * author?> child to on_picture (profile.c). */
int cl_picture_notification(struct wa_client *cl, const struct wa_node *n);
/* mediaretry.c: <notification type="mediaretry"> */
int cl_mediaretry_notification(struct wa_client *cl, const struct wa_node *n);
/* Adds <tctoken> to a 1:1 <message> to user `to` (or `to_pn`, the number a
 * LID send replaced, may be "") when a token from it is held and the
 * server wants them; an expired one is dropped instead. Y_ENOMEM. */
int cl_tctoken_attach(struct wa_client *cl, struct wa_node *msg, const char *to,
		      const char *to_pn);
/* After a 1:1 send (not a protocol message): issues the contact our token
 * unless one was issued in the current 7-day bucket or is in flight. */
void cl_tctoken_issue(struct wa_client *cl, const char *to, const char *to_pn);
/* Asks the server's props (`w` iq); prop 10518 sets tc_on_1to1. */
int cl_props_fetch(struct wa_client *cl);
void cl_tctokens_reset(struct wa_client *cl); /* the connection went */
void cl_tctokens_free(struct wa_client *cl);

/* prekeys.c */
void cl_prekeys_check(struct wa_client *cl);
int cl_prekeys_notification(struct wa_client *cl, const struct wa_node *n);
void cl_prekeys_reset(struct wa_client *cl);

#endif
