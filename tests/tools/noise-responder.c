/*
 * Test helper for tests/interop/noise.test.mjs: the server side of the
 * WhatsApp Noise handshake over stdin/stdout.
 *
 * stdin:  the bytes of the client's binary websocket messages, in order
 *         (optional "ED" routing prefix, the 4-byte intro 'W' 'A' 6 DICT,
 *         then 3-byte big-endian length-prefixed frames; message boundaries
 *         do not matter).
 * stdout: length-prefixed frames for the client (ServerHello, then one
 *         transport frame carrying <iq type=set id=yesapp1><pair-device>
 *         <ref>REF</ref></pair-device></iq>, encoded with raw strings only).
 * stderr: one report per line: "INTRO <dict>", "CLIENT_STATIC <hex>",
 *         "PAYLOAD <json>", "FRAME <hex plaintext>", "ERROR <reason>".
 * Exits 0 at end of input, 1 on any protocol error.
 *
 * Usage: noise-responder [REF]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/noise.h"
#include "wa/payload.h"
#include "stdio_frames.h"

/* Appends a BINARY_8 string. */
static int put_str(struct ybuf *b, const char *s)
{
	size_t n = strlen(s);

	if (n > 255)
		return Y_EINVAL;
	return ybuf_append_byte(b, 252) ?: ybuf_append_byte(b, (uint8_t)n) ?: ybuf_append(b, s, n);
}

/* flags 0, then <iq type=set id=yesapp1><pair-device><ref>REF</ref>... */
static int pair_device_node(struct ybuf *b, const char *ref)
{
	static const uint8_t list1[2] = { 248, 1 };
	int rc = ybuf_append_byte(b, 0);

	rc = rc ?: ybuf_append(b, "\xf8\x06", 2) ?: put_str(b, "iq") ?: put_str(b, "type") ?:
		put_str(b, "set") ?: put_str(b, "id") ?: put_str(b, "yesapp1");
	rc = rc ?: ybuf_append(b, list1, 2) ?: ybuf_append(b, "\xf8\x02", 2) ?:
		put_str(b, "pair-device");
	rc = rc ?: ybuf_append(b, list1, 2) ?: ybuf_append(b, "\xf8\x02", 2) ?: put_str(b, "ref") ?:
		put_str(b, ref);
	return rc;
}

static void seeded(struct wa_keypair *kp, uint8_t seed)
{
	uint8_t priv[32];

	for (int i = 0; i < 32; i++)
		priv[i] = (uint8_t)(seed + i * 13);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	wa_keypair_from_private(kp, priv);
}

int main(int argc, char **argv)
{
	const char *ref = argc > 1 ? argv[1] : "yesapp-test-ref";
	struct ybuf in = YBUF_INIT(WA_NOISE_MAX_FRAME + 4096);
	struct ybuf out = YBUF_INIT(0), pl = YBUF_INIT(0), chain = YBUF_INIT(0);
	struct wa_keypair root, inter, st;
	struct wa_noise_cert_params cp;
	struct wa_noise nz;
	int have_intro = 0, frames = 0, rc = Y_OK;
	uint8_t chunk[65536];
	const char *why = "";

	seeded(&root, 1);
	seeded(&inter, 2);
	seeded(&st, 3);
	cp.root_priv = root.priv;
	cp.intermediate = &inter;
	cp.intermediate_serial = 1;
	cp.leaf_serial = 2;
	cp.leaf_key = st.pub;
	cp.not_before = (uint64_t)time(NULL) - 3600;
	cp.not_after = (uint64_t)time(NULL) + 86400;
	if (wa_noise_cert_chain_build(&cp, &chain)) {
		fprintf(stderr, "ERROR cert chain\n");
		return 1;
	}

	for (;;) {
		ssize_t r = read(STDIN_FILENO, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		rc = ybuf_append(&in, chunk, (size_t)r);
		if (rc) {
			why = "input too big";
			goto fail;
		}
		if (!have_intro) {
			size_t skip = 0;

			if (in.len >= 2 && in.data[0] == 'E' && in.data[1] == 'D') {
				if (in.len < 7)
					continue;
				skip = 7 + (((size_t)in.data[4] << 16) | ((size_t)in.data[5] << 8) |
					    in.data[6]);
			}
			if (in.len < skip + 4)
				continue;
			if (in.data[skip] != 'W' || in.data[skip + 1] != 'A' || in.data[skip + 2] != 6) {
				rc = Y_EINVAL;
				why = "bad intro";
				goto fail;
			}
			wa_noise_init(&nz, WA_NOISE_RESPONDER, in.data + skip);
			fprintf(stderr, "INTRO %u\n", in.data[skip + 3]);
			fflush(stderr);
			ybuf_consume(&in, skip + 4);
			have_intro = 1;
		}
		while (in.len >= 3) {
			size_t n = ((size_t)in.data[0] << 16) | ((size_t)in.data[1] << 8) | in.data[2];
			const uint8_t *f = in.data + 3;

			if (n == 0) {
				rc = Y_EINVAL;
				why = "empty frame";
				goto fail;
			}
			if (in.len < n + 3)
				break;
			ybuf_reset(&out);
			ybuf_reset(&pl);
			if (frames == 0) {
				rc = wa_noise_read_client_hello(&nz, f, n);
				why = "client hello";
				if (!rc)
					rc = wa_noise_server_hello(&nz, &st, chain.data, chain.len, &out);
				if (!rc)
					rc = send_frame(out.data, out.len);
			} else if (frames == 1) {
				rc = wa_noise_read_client_finish(&nz, f, n, &pl);
				why = "client finish";
				if (rc)
					goto fail;
				hex_line("CLIENT_STATIC", nz.remote_static, WA_KEY_LEN);
				ybuf_reset(&out);
				rc = wa_payload_to_json(pl.data, pl.len, &out);
				if (rc)
					goto fail;
				fprintf(stderr, "PAYLOAD %s\n", (char *)out.data);
				fflush(stderr);
				/* Baileys switches to transport keys asynchronously. */
				usleep(100 * 1000);
				ybuf_reset(&pl);
				ybuf_reset(&out);
				rc = pair_device_node(&pl, ref);
				if (!rc)
					rc = wa_noise_encrypt(&nz, pl.data, pl.len, &out);
				if (!rc)
					rc = send_frame(out.data, out.len);
			} else {
				rc = wa_noise_decrypt(&nz, f, n, &pl);
				why = "transport frame";
				if (!rc)
					hex_line("FRAME", pl.data, pl.len);
			}
			if (rc)
				goto fail;
			frames++;
			ybuf_consume(&in, n + 3);
		}
	}
	ybuf_release(&in);
	ybuf_release(&out);
	ybuf_release(&pl);
	ybuf_release(&chain);
	if (have_intro)
		wa_noise_release(&nz);
	return 0;
fail:
	fprintf(stderr, "ERROR %s: %s\n", why, y_strerror(rc));
	ybuf_release(&in);
	ybuf_release(&out);
	ybuf_release(&pl);
	ybuf_release(&chain);
	if (have_intro)
		wa_noise_release(&nz);
	return 1;
}
