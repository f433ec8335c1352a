/*
 * Private to the connection files of src/sim/ (sim_conn.c: life cycle,
 * framing, sending, dispatch; sim_handshake.c: Noise and the ClientPayload;
 * sim_pair.c: QR and pair-code pairing; sim_iq.c: the iq table; sim_route.c:
 * messages, receipts, offline queues; sim_phone.c: the simulated phone).
 * Everything here runs on the simulator's loop thread. What the rest of the
 * simulator uses of a connection is in sim_int.h.
 */
#ifndef YESAPP_SIM_CONN_INT_H
#define YESAPP_SIM_CONN_INT_H

#include "sim/sim_int.h"
#include "wa/paircode.h"
#include "wa.pb-c.h"

#define S_WA "@s.whatsapp.net" /* the server JID (empty user) */

/* C_HELLO until the ClientPayload arrived (wa_conn runs the Noise
 * handshake), then C_OPEN */
enum conn_state { C_HELLO, C_OPEN, C_CLOSING };

#define SIM_PAYLOAD_MAX ((size_t)64 << 10) /* a ClientPayload */

struct sim_conn {
	struct sim_conn *prev, *next;
	struct sim *sim;
	struct wa_conn *wc;   /* the pipe (wa/conn.h); NULL once it is gone */
	uint64_t id;
	int state;            /* enum conn_state */
	int dict;             /* WA_DICT_V2 or WA_DICT_V3, from the intro */
	uint8_t client_static[WA_KEY_LEN];
	bool registering;
	struct {
		uint8_t ident[WA_KEY_LEN];
		uint32_t reg_id;
		struct wa_signal_signed_prekey spk;
	} reg;
	char refs[SIM_REFS][SIM_REF_LEN];
	struct {
		bool active;
		struct sim_account *acct;
		uint32_t dev, key_index;
		char iq[SIM_IQ_ID_LEN];
	} pair;
	struct {
		bool active;          /* companion_hello seen */
		bool entered;         /* the phone entered the code */
		char phone[SIM_PHONE_MAX + 1];
		char ref[SIM_REF_LEN];
		uint8_t wrapped[WA_PAIRCODE_WRAPPED_LEN]; /* the companion's wrapped ephemeral */
		uint8_t companion_eph[WA_KEY_LEN];
		struct wa_keypair primary_eph;
		struct wa_paircode_job *job; /* the code being checked off the loop */
	} lc;                         /* link-code (pair-code) registration */
	struct sim_account *acct; /* after login */
	struct sim_device *dev;
	uv_timer_t *timer;        /* pending post-handshake answer; owned */
	uv_timer_t *dtimer;       /* sends delayed frames (faults latencyMs); owned */
	struct delayed *dhead, *dtail;
	struct ybuf payload;      /* the ClientPayload, until the timer fires */
	struct ybuf *test_out;    /* sim_conn_test_open: no socket; sent nodes go here */
	struct sim_passkey_link *pk; /* the passkey step in progress (sim_passkey.c) */
};

/* ---- sim_presence.c: <presence> and <chatstate> (protocol-map.md §17.6, §17.9) ---- */
int sim_presence(struct sim_conn *c, const struct wa_node *n);
int sim_chatstate(struct sim_conn *c, const struct wa_node *n);

/* ---- sim_conn.c: helpers ---- */

uint64_t sim_now_s(void);
/* n bytes as 2n hex digits and a NUL into out. */
void sim_hex(const uint8_t *p, size_t n, char *out, bool upper);
/* Sets attributes from NULL-terminated key, value pairs; NULL values are
 * skipped. */
int sim_attrs(struct wa_node *n, ...);
/* A child with bytes content; NULL on ENOMEM. */
struct wa_node *sim_child_bytes(struct wa_node *parent, const char *tag, const void *p,
				size_t n);
/* The bytes content of n's child tag (NULL, *len 0 when absent). */
const uint8_t *sim_kid_bytes(const struct wa_node *n, const char *tag, size_t *len);
/* "3EB0" and 18 hex digits, as WhatsApp's message ids. */
void sim_new_msg_id(char out[24]);
/* a's device dev as "user[:dev]@s.whatsapp.net" or "...@lid". */
void sim_device_jid(const struct sim_account *a, uint32_t dev, bool lid, char *out, size_t cap);
/* Breaks the device <-> connection link. */
void sim_conn_detach(struct sim_conn *c);
/* Starts closing c (the socket's on_close frees it). */
void sim_conn_close(struct sim_conn *c);
/* uv_close callback freeing a malloc'd handle. */
void sim_timer_closed(uv_handle_t *h);

/* ---- sim_handshake.c ---- */

/* The ClientPayload the pipe read from ClientFinish (borrowed), answered
 * after POST_HANDSHAKE_DELAY_MS (registration refs, success or failure). */
int sim_handshake_payload(struct sim_conn *c, const uint8_t *p, size_t n);
/* Stops and frees the pending answer's timer (conn_free). */
void sim_handshake_stop(struct sim_conn *c);
/* Sends <stream:error code>[<conflict type/>] and closes c. */
int sim_conn_stream_error(struct sim_conn *c, const char *code, const char *conflict);

/* ---- sim_pair.c ---- */

/* link_code_companion_reg stages companion_hello and companion_finish. */
int sim_pair_code_hello(struct sim_conn *c, const struct wa_node *iq, const struct wa_node *lc);
int sim_pair_code_finish(struct sim_conn *c, const struct wa_node *iq, const struct wa_node *lc);
/* The answer to pair-success (<pair-device-sign>): creates the device. */
int sim_pair_sign(struct sim_conn *c, const struct wa_node *iq);

/* ---- sim_iq.c ---- */

/* <iq xmlns="w:profile:picture"> (sim_profile.c): get a user's picture
 * URL, set or remove our own (then every other device hears of it). */
int sim_profile_picture_iq(struct sim_conn *c, const struct wa_node *iq);

/* One received <iq> (borrowed), through the xmlns table. */
int sim_iq(struct sim_conn *c, const struct wa_node *n);

/* ---- sim_route.c ---- */

/* Delivers a stanza to a device now, or queues it (with offline="1") until
 * it reconnects. Takes ownership of n. Y_ETOOBIG when the queue is full. */
int sim_deliver(struct sim *s, struct sim_device *d, struct wa_node *n);
int sim_route_message(struct sim_conn *c, const struct wa_node *n);
int sim_route_receipt(struct sim_conn *c, const struct wa_node *n);
/* <ack class="message" id> from a device: that message is delivered for good. */
int sim_route_ack(struct sim_conn *c, const struct wa_node *n);

/* sim_tctoken.c: privacy tokens. The privacy iq's <tokens> (iq answered
 * here); and for a 1:1 message from c's account to dest, counts its
 * <tctoken> (valid, invalid, missing) and returns false when it must be
 * refused with 463 (a restricted sender without a valid token). */
int sim_tctoken_iq(struct sim_conn *c, const struct wa_node *iq, const struct wa_node *tokens);
bool sim_tctoken_check(struct sim_conn *c, const struct wa_node *msg, struct sim_account *dest);

/* ---- sim_appstate.c: app state (w:sync:app:state), patches kept opaque ---- */
int sim_appstate_iq(struct sim_conn *c, const struct wa_node *iq);

/* ---- sim_phone.c ---- */

/* Right after a new companion's first login: the phone's app-state key
 * share and history-sync notification. */
int sim_phone_welcome(struct sim *s, struct sim_account *a, struct sim_device *d);
/* A message from c's device to ra's phone (device 0): the phone decrypts it
 * (stats phoneDecrypted / phoneDecryptFailed) and remembers the media key
 * and direct path of media in it under msg_id (for media retries). */
void sim_phone_receive(struct sim_conn *c, struct sim_account *ra, const struct wa_node *holder,
		       const char *msg_id, bool lid_mode);
/* A media retry receipt (<receipt type="server-error"> to its own JID)
 * from c's companion: the phone uploads the media again (a new direct
 * path) and answers with <notification type="mediaretry">, or with an
 * <error code="2"/> inside it when it has no such media. */
int sim_phone_media_retry(struct sim_conn *c, const struct wa_node *receipt);

#endif
