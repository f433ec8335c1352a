/*
 * Private to src/sim/: the simulator's state. Accounts own their devices;
 * the sim owns accounts and connections. A device points at its current
 * connection (borrowed; cleared when the connection ends) and a connection
 * points at its device (borrowed; devices outlive connections, except on
 * unlink, which detaches them first).
 */
#ifndef YESAPP_SIM_INT_H
#define YESAPP_SIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"
#include "sim/sim_http.h"
#include "util/buf.h"
#include "wa/crypto.h"
#include "wa/node.h"
#include "wa/noise.h"
#include "wa/signal.h"
#include "wa/socket.h"

#define SIM_PHONE_MAX 20    /* digits of an E.164 number, and of a LID */
#define SIM_REFS 6          /* pair-device refs per registration, as WhatsApp */
#define SIM_REF_LEN 48
#define SIM_PREKEYS_MAX 2000 /* one-time prekeys kept per companion */
#define SIM_QUEUE_MAX 1000  /* offline stanzas kept per device */
#define SIM_IQ_ID_LEN 40
#define SIM_MEDIA_BLOB_MAX ((size_t)128 << 20)  /* one uploaded blob (a 100 MB test file fits) */
#define SIM_MEDIA_TOTAL_MAX ((size_t)768 << 20) /* all blobs together */

struct sim_conn;
struct sim_blob;
struct sim_passkey_key;
struct sim_passkey_link;

struct sim_device;
/* Unacknowledged messages of d back to the front of its offline queue
 * (its connection ended). */
void sim_device_requeue_unacked(struct sim_device *d);
/* Keeps a copy of message n (other stanzas are ignored) sent to d on its
 * connection until d acknowledges it (bounded: past SIM_QUEUE_MAX the
 * oldest are trusted delivered). Also for the offline queue's messages. */
void sim_device_keep_unacked(struct sim_device *d, const struct wa_node *n);
/* Frees d's unacknowledged messages. */
void sim_device_unacked_free(struct sim_device *d);

/* A stanza waiting for an offline device. */
struct sim_pending {
	struct sim_pending *next;
	struct wa_node *node; /* owned */
};

/* A linked companion (device >= 1). */
struct sim_device {
	struct sim_device *next;
	struct sim_account *acct;      /* borrowed: the owner */
	uint32_t id;
	uint32_t key_index;
	uint8_t identity[WA_KEY_LEN];  /* its Signal identity (eIdent) */
	uint32_t reg_id;
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey *prekeys; /* uploaded, served first in first out */
	size_t nprekeys;
	uint8_t noise[WA_KEY_LEN];     /* its Noise static key: logins must match */
	struct sim_conn *conn;         /* borrowed; NULL while offline */
	bool key_shared;               /* the phone sent its app-state key share */
	struct sim_pending *qhead, *qtail;
	size_t nq;
	/* message stanzas sent to its connection and not yet acknowledged
	 * (<ack class="message">), as WhatsApp keeps them: when the
	 * connection ends they go back to the front of the offline queue */
	struct sim_unacked {
		struct sim_unacked *next;
		char id[64];
		int dict;
		struct ybuf enc; /* the stanza, binary-encoded */
	} *unacked;
	size_t nunacked;
	/* accounts whose presence it subscribed to (sim_presence.c) */
	struct sim_presub {
		struct sim_presub *next;
		struct sim_account *who; /* borrowed; accounts live as long as the sim */
		bool lid;                /* named by its LID: answer in that namespace */
	} *presubs;
};

/* An account: a phone number, its LID, its primary phone (device 0, a Signal
 * endpoint with its own store) and its companions. */
#define SIM_BLOCKED_MAX 64
#define SIM_ABOUT_MAX 1024 /* bytes */
#define SIM_TCTOKENS_MAX 4096 /* contacts an account issued privacy tokens to */
#define SIM_PICTURE_MAX ((size_t)2 << 20) /* a profile picture's JPEG bytes */
#define SIM_NAME_MAX 100 /* a push name's bytes */

struct sim_account {
	struct sim_account *next;
	char phone[SIM_PHONE_MAX + 1];
	char lid[SIM_PHONE_MAX + 1];
	struct wa_signal_identity ident;
	struct wa_signal_store *store; /* owned */
	struct wa_signal *sig;         /* owned */
	struct wa_signal_signed_prekey spk;
	uint32_t next_prekey;          /* phone one-time prekeys are made on demand */
	uint32_t next_device;
	uint32_t key_index;
	struct sim_device *devices;
	struct sim_passkey_key *passkey; /* owned; set: linking needs the passkey step */
	/* presence (sim_presence.c): the last <presence> of any of its devices */
	bool available;
	uint64_t last_seen;            /* Unix seconds of the last change, 0: never */
	/* its block list (sim_iq.c, xmlns blocklist): user JIDs as given */
	char blocked[SIM_BLOCKED_MAX][64];
	size_t nblocked;
	/* its "about" text (<iq xmlns="status">), served by usync <status/> */
	char about[SIM_ABOUT_MAX + 1];
	uint64_t about_t;              /* when it was set, 0: never */
	/* its profile picture (sim_profile.c): a blob of the media host, or none */
	char pic_path[64];             /* direct path, "" for none */
	char prev_path[64];            /* its 96 px preview's, "" when not made (served: pic_path) */
	uint64_t pic_id;               /* its id, new on every change */
	/* its push name, as its devices last announced it (<presence name>) */
	char name[SIM_NAME_MAX + 1];
	/* privacy (<iq xmlns="privacy"> set): category "profile" / "status"
	 * "none" hides its picture / about from every other account (there
	 * are no address books here: any other value shows them to all) */
	bool pic_hidden, about_hidden;
	/* a migrated account (POST /sim/accounts/{phone}/lid-first): messages and
	 * receipts reach its devices with the other party named by LID
	 * (from=LID:dev@lid, sender_pn), whatever namespace the stanza used */
	bool lid_first;
	/* an account whose client predates LIDs (POST .../lid-hidden): no <lid>
	 * in the usync answers it gets, no sender_lid / peer_recipient_lid on
	 * what reaches it by phone number */
	bool lid_hidden;
	/* privacy tokens it issued (sim_tctoken.c): to whom, the latest t */
	struct sim_tcissue {
		struct sim_account *to; /* borrowed; accounts live as long as the sim */
		uint64_t t;
	} *tc;
	size_t ntc;
	/* a restricted account (POST .../restricted): its 1:1 messages without
	 * a valid privacy token are refused with 463 */
	bool restricted;
	/* app state (sim_appstate.c): the one sync key its phone shares with
	 * every companion (minted at the first), and per collection the patches
	 * its devices uploaded, opaque (the server holds no keys) */
	bool as_key_set;
	uint8_t as_key_id[6], as_key[32];
	/* test knobs (POST /sim/accounts/{phone}/app-state-key-held and
	 * /app-state-quiet): the phone holds its key share back from companions
	 * that log in (shared when released); uploads are announced to no one */
	bool as_key_held, as_quiet;
	struct sim_appstate *as; /* owned; NULL until the first upload */
};

/* sim_appstate.c: frees an account's patches (NULL: nothing). */
void sim_appstate_free(struct sim_appstate *as);

struct sim_stats {
	uint64_t connections, handshakes, registrations, logins, pairings;
	uint64_t nodes_in, nodes_out, messages_routed, messages_queued, receipts;
	uint64_t iq_unknown, errors;
	uint64_t phone_decrypted, phone_decrypt_failed; /* messages to device 0 */
	uint64_t outdated;        /* connections refused with failure 405 */
	uint64_t prekey_low;      /* prekey-low notifications sent */
	uint64_t prekey_uploads;  /* encrypt set <list> iqs accepted */
	uint64_t pair_code_failed;/* pair codes refused (a wrong code: the bundle did not open) */
	uint64_t prekey_fetches;  /* bundles served by encrypt get <key> (one per user asked) */
	/* privacy tokens (sim_tctoken.c): issued by a privacy iq, and how the
	 * 1:1 messages' <tctoken> checked; refused: 463s sent */
	uint64_t tctoken_issued, tctoken_valid, tctoken_invalid, tctoken_missing, tctoken_refused;
};

#define SIM_PHONE_MEDIA_MAX 256

struct sim {
	struct wa_loop *loop;
	struct wa_listener *ls;
	struct sim_http api_http;   /* the control API on ls (and wss_ls) */
	uv_signal_t sigint, sigterm;
	bool signals_on;
	/* --state FILE (sim_state.c): saved every SIM_STATE_SAVE_MS when
	 * state_gen moved (a big state less often: SIM_STATE_SAVE_SHARE), and
	 * at the end of sim_run */
	const char *state_file;
	uv_timer_t state_timer;
	uint64_t state_gen, state_saved_gen;
	int64_t state_next_ms; /* clock_mono_ms() before which no save starts */
	bool stop;
	int port;
	char host[64];
	/* Noise: the server static key, certified by an intermediate that the
	 * root signs (protocol-map.md §2.6). */
	struct wa_keypair root, intermediate, static_key;
	struct ybuf cert_chain;
	struct sim_account *accounts;
	struct sim_conn *conns;
	uint64_t next_conn_id, next_iq;
	struct sim_stats st;
	/* media host (sim_media.c): HTTPS with a CA made at start */
	struct wa_listener *media_ls;
	struct sim_http media_http;
	char media_dir[256];     /* dir with the server cert and key */
	bool media_dir_tmp;      /* made by us (removed at exit), not --certs */
	const char *certs_dir;   /* --certs DIR or NULL (owned by the caller) */
	char *ca_pem;            /* the CA certificate, PEM */
	char media_auth[32];     /* the auth token media_conn hands out */
	char media_host[80];     /* "127.0.0.1:PORT" */
	struct sim_blob *blobs;
	size_t media_bytes;
	/* POST /sim/media/tamper: the next uploads are stored damaged
	 * (1 a byte flipped, 2 cut short by 5 bytes) or expired (4: their
	 * path answers 410 until a phone uploads them again; 5 lost: 410 and
	 * never uploaded again; 6 silent: 410 and the phone never answers a
	 * retry; 7 reexpired: 410, and so does every copy uploaded again),
	 * media_tamper_n of them */
	int media_tamper, media_tamper_n;
	int media_unavailable_n; /* the next GETs of blobs answer 503 */
	/* POST /sim/media/hosts: media_conn names these hosts before the real
	 * one (SIM_HOST_DEAD: a bound port that refuses connections;
	 * SIM_HOST_BUSY: an HTTPS host answering 503 to everything); with
	 * media_url_first an upload's answer names the first of them in its
	 * url (a host gone since); media_down: the real host answers 503 too */
	int media_before[2], media_nbefore;
	bool media_url_first, media_down;
	int media_dead_fd;       /* the dead host's socket (bound, never listening) */
	bool media_dead_open;
	char media_dead_host[80], media_busy_host[80];
	struct wa_listener *media_busy_ls;
	struct sim_http media_busy_http;
	/* what the phones decrypted of media messages (sim_phone.c), for
	 * their answers to media retry receipts: a ring */
	struct sim_phone_media {
		char phone[24], id[80], path[64];
		uint8_t key[32];
	} phone_media[SIM_PHONE_MEDIA_MAX];
	unsigned phone_media_next;
	/* faults (POST /sim/faults) */
	uint32_t latency_ms;     /* every outgoing node waits this long */
	uint64_t refuse_until;   /* uv_now() before which connections are refused */
	bool ignore_acks;        /* message acks are not taken: they stay unacked */
	/* the key privacy tokens are minted with (sim_tctoken.c), made at the
	 * first issue: tokens do not outlive the simulator's run */
	uint8_t tc_key[32];
	bool tc_key_set;
	bool tc_prop_off;        /* POST /sim/config privacyTokens false: prop 10518 = 0 */
	/* POST /sim/config, --min-version */
	bool min_version_on;
	uint32_t min_version[3]; /* primary, secondary, tertiary */
	/* --tls: /ws/chat over wss on its own port (media host's cert) */
	struct wa_listener *wss_ls;
	int wss_port;            /* 0 without --tls */
};

/* ---- accounts (sim.c) ---- */

/* Normalises "+15550001111" / "15550001111" into digits (1..15 of them).
 * 0 or Y_EINVAL. */
int sim_phone_norm(const char *in, char out[SIM_PHONE_MAX + 1]);
struct sim_account *sim_account_find(struct sim *s, const char *phone);
struct sim_account *sim_account_by_lid(struct sim *s, const char *lid);
/* Resolves "user[:dev]@s.whatsapp.net" or "user[:dev]@lid" to an account;
 * *dev and *is_lid say which device and namespace. NULL when unknown. */
struct sim_account *sim_account_by_jid(struct sim *s, const char *jid, uint32_t *dev,
				       bool *is_lid);
/* Finds or creates (with fresh phone keys). NULL on ENOMEM. */
struct sim_account *sim_account_get(struct sim *s, const char *phone);
struct sim_device *sim_device_find(struct sim_account *a, uint32_t id);
/* Parses "P.S.T" (three decimal numbers, each fitting 32 bits, nothing
 * else) into out. 0 or Y_EINVAL. */
int sim_version_parse(const char *in, uint32_t out[3]);
/* Frees every account and its devices (sim_free; fuzz_sim_node between
 * inputs). Connections must be gone or detached first. */
void sim_accounts_free(struct sim *s);
/* Removes and frees a device (its connection, if any, must be detached). */
void sim_device_remove(struct sim_account *a, struct sim_device *d);

/* ---- connections (sim_conn.c and the files sim_conn_int.h names) ---- */

/* Adopts an accepted websocket. */
void sim_conn_accept(struct sim *s, struct wa_socket *ws);
/* Closes and forgets every connection (sim_free). */
void sim_conn_free_all(struct sim *s);
/* The phone of `phone` scanned `qr`: sends pair-success to the companion
 * that showed it (qr parsed by wa/qrtext.h). On success writes the new
 * device JID into jid. Y_ENOTFOUND (no connection shows that ref), Y_EINVAL
 * (malformed QR or its keys do not match the connection's), Y_ENOMEM. */
int sim_conn_scan(struct sim *s, const char *phone, const char *qr, char *jid, size_t jid_cap);
/* The phone of `phone` entered the pair code shown by the companion that
 * asked for one for this number: sends it primary_hello. Y_ENOTFOUND (no
 * such companion waiting), Y_EINVAL (not 8 characters). */
int sim_conn_pair_code(struct sim *s, const char *phone, const char *code);
/* Unlinks a companion: logs its connection out (stream:error 401
 * device_removed) and deletes it. Y_ENOTFOUND. */
int sim_conn_unlink(struct sim *s, struct sim_account *a, uint32_t dev);
/* Sends device d of a the notification WhatsApp sends when a companion's
 * one-time prekeys run low (<notification type=encrypt><count value/>),
 * after keeping only its first `count` prekeys (so the prekey count the
 * device asks for next agrees), queued if the device is offline.
 * Y_EINVAL (count above what the device holds), Y_ENOMEM. */
int sim_conn_prekey_low(struct sim *s, struct sim_device *d, size_t count);
/* Drops every connection now (faults dropAll). Returns how many. */
size_t sim_conn_drop_all(struct sim *s);
size_t sim_conn_count(const struct sim *s);

/* Test seam (tests/fuzz/fuzz_sim_node.c; compiled always, no other use): a
 * connection with no socket and no Noise, already past the handshake. With
 * d, it is d's logged-in connection (d->conn points at it; a previous one is
 * detached); with d NULL, a companion that sent a registration payload.
 * Every node it sends is appended to out (borrowed; must outlive the
 * connection) as a 3-byte big-endian length and the binary-encoded frame.
 * Freed by sim_conn_free_all. NULL on ENOMEM. */
struct sim_conn *sim_conn_test_open(struct sim *s, struct sim_device *d, int dict,
				    struct ybuf *out);
/* Dispatches one received node (borrowed) as a decrypted frame would be.
 * 0 while the connection stays open; the handler's error, after which the
 * connection is closed as the socket path would close it; Y_ECLOSED when
 * it is (or got) closed. */
int sim_conn_test_node(struct sim_conn *c, const struct wa_node *n);

/* For the feature files (sim_passkey.c): what the connection files share. */
/* Encrypts and sends n (taken, even on failure). */
int sim_conn_send(struct sim_conn *c, struct wa_node *n);
/* <iq type=result id> answering req; NULL on ENOMEM. */
struct wa_node *sim_conn_iq_result(const struct wa_node *req);
int sim_conn_iq_error(struct sim_conn *c, const struct wa_node *req, const char *code,
		      const char *text);
/* pair-success for the companion on c, HMACed with adv; jid as sim_conn_scan. */
int sim_conn_pair_success(struct sim_conn *c, const char *phone, const uint8_t adv[32],
			  char *jid, size_t jid_cap);
/* The companion's Noise static key and Signal identity (registration). */
const uint8_t *sim_conn_noise_pub(const struct sim_conn *c);
const uint8_t *sim_conn_identity_pub(const struct sim_conn *c);
struct sim *sim_conn_sim(const struct sim_conn *c);
/* The connection's passkey linking state (owned by it, freed with it). */
struct sim_passkey_link **sim_conn_passkey(struct sim_conn *c);

/* ---- the passkey step (sim_passkey.c, protocol-map.md §13) ---- */

/* The phone of account a (which requires the step) scanned the QR of c:
 * sends passkey_prologue_request instead of pair-success. ref and adv are
 * the QR's. */
int sim_passkey_begin(struct sim_conn *c, struct sim_account *a, const char *ref,
		      size_t ref_len, const uint8_t adv[32]);
/* An md iq of the step (<ref>, <passkey_request_options>,
 * <passkey_prologue>, <companion_nonce>, <encrypted_pairing_request>):
 * returns 1 and sets *rc when it was one, else 0. */
int sim_passkey_iq(struct sim_conn *c, const struct wa_node *iq, int *rc);
void sim_passkey_link_free(struct sim_passkey_link *l); /* NULL is a no-op */
void sim_passkey_key_free(struct sim_passkey_key *k);   /* NULL is a no-op */
/* GET/POST /sim/accounts/{phone}/passkey. */
int sim_passkey_api(struct sim *s, struct sim_account *a, const char *method,
		    const uint8_t *body, size_t len, struct ybuf *resp);

/* ---- media host (sim_media.c) ---- */

enum { SIM_HOST_DEAD = 1, SIM_HOST_BUSY = 2 };
/* "127.0.0.1:PORT" of a SIM_HOST_* host. */
const char *sim_media_host_of(const struct sim *s, int kind);

/* Makes the CA and certificate and starts the HTTPS listener. */
int sim_media_start(struct sim *s);
/* The media host's HTTP handler (its sim_http; also driven
 * directly by tests/fuzz/fuzz_sim_media.c). Uses only s->media_auth,
 * s->media_host and the blobs, so a zeroed struct sim with those set will
 * do; sim_media_free releases the blobs. */
int sim_media_http(void *ud, const char *method, const char *uri, const uint8_t *body,
		   size_t len, struct ybuf *resp, const char **ctype);

/* ---- durable state (sim_state.c) ---- */
#define SIM_STATE_SAVE_MS 1000
#define SIM_STATE_SAVE_SHARE 20 /* the next save waits 20 times the last one's duration */
/* Writes the state to s->state_file (temp file + rename). No-op without one. */
int sim_state_save(struct sim *s);
/* Loads a state file's text into a fresh sim (no accounts yet): keys,
 * accounts, devices, queues. Y_EINVAL (reason logged) for any fault; what
 * was loaded before it stays for sim_free. */
int sim_state_load(struct sim *s, const char *text, size_t len);
/* Reads path and loads it; *found false (and 0) when it does not exist. */
int sim_state_read_file(struct sim *s, const char *path, bool *found);
/* Frees the blobs and the CA, removes the temp files (the listener goes
 * with the loop). */
void sim_media_free(struct sim *s);
/* Keeps a copy of p[0..n) as a blob of the media host at a new direct path
 * under dir ("/v/t62.7119-24") ending in ext (".enc"), written to path.
 * Y_ETOOBIG past the store's total, Y_ENOMEM. */
int sim_media_put(struct sim *s, const uint8_t *p, size_t n, const char *dir, const char *ext,
		  char path[64]);
/* Drops the blob at direct path `path` (no-op if none). */
void sim_media_drop(struct sim *s, const char *path);
/* A phone uploads the blob at direct path `path` (its query ignored) again:
 * a copy at a new path (written to out), not expired (unless the blob is
 * reexpired: the copy is too). Y_ENOTFOUND (unknown, or lost), Y_EAGAIN
 * (silent: the phone is not to answer at all). */
int sim_media_rehost(struct sim *s, const char *path, char out[64]);

/* ---- control API (sim_api.c) ---- */

/* For the feature files' routes: answers json j (taken) / {"error": msg}
 * with status; the request body as a JSON object or NULL. */
struct json_t;
int sim_api_reply(struct ybuf *resp, int status, struct json_t *j);
int sim_api_error(struct ybuf *resp, int status, const char *msg);
struct json_t *sim_api_body(const uint8_t *body, size_t len);

int sim_api_handle(void *ud, const char *method, const char *uri, const uint8_t *body,
		   size_t len, struct ybuf *resp, const char **content_type);

#endif
