/*
 * WhatsApp frame codec (pure: no I/O). Owned by the wa/socket layer.
 *
 * On the websocket, the WhatsApp stream is a sequence of frames, each a
 * 3-byte big-endian payload length followed by the payload. The client puts
 * a 4-byte intro header 'W' 'A' 0x06 DICT before its first frame only, and
 * optionally (Baileys with routing info) an "ED" prefix before that:
 *   'E' 'D' 0x00 0x01 <len: 3 bytes BE> <routing info: len bytes>
 * Server-to-client frames carry no header. Websocket message boundaries mean
 * nothing: a message may hold several frames or part of one.
 *
 * The encoder writes headers; the decoder is an incremental state machine
 * fed arbitrary chunks that hands out whole frames one by one. In server mode
 * it first parses the optional ED prefix and the intro header.
 */
#ifndef YESAPP_WA_FRAME_H
#define YESAPP_WA_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define WA_FRAME_LEN_SIZE 3
#define WA_FRAME_MAX ((size_t)(1u << 24) - 1) /* largest payload */
#define WA_FRAME_INTRO_SIZE 4
#define WA_FRAME_MAGIC 0x06
#define WA_FRAME_ED_SIZE 7 /* 'E' 'D' 00 01 len24, before the routing info */
#define WA_FRAME_NO_INTRO (-1) /* dict value for a server-side encoder */

/* ---- encoder ---- */

struct wa_frame_enc {
	/* private */
	uint8_t *prefix;   /* ED prefix + intro, sent before the first frame; NULL once sent */
	size_t prefix_len;
};

/*
 * dict: the dictionary byte of the intro header (0..255), or
 * WA_FRAME_NO_INTRO for the server side (no intro, no ED prefix).
 * routing/routing_len: optional routing info for the ED prefix (copied;
 * NULL/0 for none; needs an intro). Y_EINVAL, Y_ETOOBIG (>= 1<<24), Y_ENOMEM.
 */
int wa_frame_enc_init(struct wa_frame_enc *e, int dict, const uint8_t *routing,
		      size_t routing_len);
void wa_frame_enc_release(struct wa_frame_enc *e);

/* Header bytes the next wa_frame_enc_header() will write: 3, plus the
 * prefix while it has not been written. */
size_t wa_frame_enc_overhead(const struct wa_frame_enc *e);

/*
 * Writes the header for a payload of len bytes into out (room for cap bytes)
 * and sets *written. The prefix (intro, ED) goes out with the first header
 * only. Y_EINVAL for len 0 (never sent: it stalls Baileys' parser), Y_ETOOBIG
 * for len > WA_FRAME_MAX or cap too small. On error nothing is written and
 * the encoder is unchanged.
 */
int wa_frame_enc_header(struct wa_frame_enc *e, size_t len, uint8_t *out, size_t cap,
			size_t *written);

/* Appends header + payload to out (same errors as wa_frame_enc_header, plus
 * those of the buffer). On error out and the encoder are unchanged. */
int wa_frame_enc_append(struct wa_frame_enc *e, const uint8_t *p, size_t len, struct ybuf *out);

/* ---- decoder ---- */

enum wa_frame_dec_mode {
	WA_FRAME_DEC_CLIENT = 0, /* frames only (what a client receives) */
	WA_FRAME_DEC_SERVER = 1, /* [ED prefix] intro header, then frames */
};

struct wa_frame_dec {
	/* read-only */
	int dict;            /* server mode: intro dictionary byte, -1 until parsed */
	struct ybuf routing; /* server mode: ED routing info (empty if none) */
	/* private */
	int mode;
	int state;
	int err;             /* sticky error */
	uint8_t hb[WA_FRAME_ED_SIZE];
	uint8_t hn;          /* bytes in hb */
	size_t need;         /* payload (or routing info) bytes of the current item */
	size_t max;          /* largest accepted frame */
	bool drop_body;      /* body was handed out: release it on the next call */
	struct ybuf body;    /* a partial frame spanning chunks */
};

/* max_frame: largest accepted payload, 0 or > WA_FRAME_MAX means WA_FRAME_MAX.
 * Partial frames and routing info are buffered up to that cap. */
void wa_frame_dec_init(struct wa_frame_dec *d, enum wa_frame_dec_mode mode, size_t max_frame);
void wa_frame_dec_release(struct wa_frame_dec *d);

/*
 * Consumes bytes from *in, *inlen (advancing them) until one whole frame is
 * available: returns 0 with *frame and *flen set. The frame points into the
 * input or into the decoder and stays valid until the next call or release.
 * Returns Y_EAGAIN when all input was consumed without completing a frame
 * (feed more). Errors are sticky: Y_EINVAL (bad prefix or intro, zero-length
 * frame), Y_EUNSUPPORTED (intro magic is not 0x06), Y_ETOOBIG (frame or
 * routing info over the cap), Y_ENOMEM.
 */
int wa_frame_dec_next(struct wa_frame_dec *d, const uint8_t **in, size_t *inlen,
		      const uint8_t **frame, size_t *flen);

/* True once the server-mode prefix and intro have been parsed (always true in
 * client mode). */
bool wa_frame_dec_intro_done(const struct wa_frame_dec *d);

#endif
