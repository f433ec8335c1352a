/*
 * Test helper for tests/interop/judge-*.test.mjs: our client side
 * (src/wa/noise.c initiator, src/wa/payload.c) for outside judges.
 *
 *   noise-initiator payload reg REGID IDENT SPKID SPK SIG
 *       prints our registration ClientPayload as hex on stdout (IDENT, SPK
 *       32-byte and SIG 64-byte hex; REGID, SPKID decimal)
 *   noise-initiator payload login USER DEVICE
 *       prints our login ClientPayload as hex on stdout
 *   noise-initiator connect ROOT
 *       the client end of a handshake over stdin/stdout, trusting the
 *       32-byte hex root key ROOT: writes the intro 'W' 'A' 6 3 and the
 *       ClientHello frame to stdout, reads 3-byte length-prefixed frames from
 *       stdin; after the ServerHello it sends ClientFinish with a login
 *       payload (user 15550001111, device 1) and then answers every
 *       transport frame with one carrying "echo:" + its plaintext.
 *       stderr, one report per line: "SERVER_STATIC <hex>",
 *       "NOISE_KEY <hex>", "FRAME <hex plaintext>", "ERROR <reason>".
 *       Exits 0 at end of input after a completed handshake, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/codec.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/noise.h"
#include "wa/payload.h"
#include "stdio_frames.h"

static const uint8_t intro[4] = { 'W', 'A', 6, 3 };

/* Decodes exactly n bytes of hex from s. */
static int hex_arg(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;

	if (strlen(s) != 2 * n || codec_hex_decode(s, 2 * n, out, n, &got) || got != n)
		return Y_EINVAL;
	return Y_OK;
}

static int print_payload(int argc, char **argv)
{
	struct ybuf out = YBUF_INIT(0);
	uint8_t ident[32], spk[32], sig[64];
	int rc = Y_EINVAL;

	if (argc == 8 && !strcmp(argv[2], "reg")) {
		struct wa_payload_reg reg = { 0 };

		if (hex_arg(argv[4], ident, 32) || hex_arg(argv[6], spk, 32) ||
		    hex_arg(argv[7], sig, 64))
			goto out;
		reg.registration_id = (uint32_t)strtoul(argv[3], NULL, 10);
		reg.identity_pub = ident;
		reg.signed_prekey_id = (uint32_t)strtoul(argv[5], NULL, 10);
		reg.signed_prekey_pub = spk;
		reg.signed_prekey_sig = sig;
		rc = wa_payload_registration(&reg, &out);
	} else if (argc == 5 && !strcmp(argv[2], "login")) {
		rc = wa_payload_login(strtoull(argv[3], NULL, 10), (uint32_t)strtoul(argv[4], NULL, 10),
				      &out);
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < out.len; i++)
		printf("%02x", out.data[i]);
	printf("\n");
out:
	if (rc)
		fprintf(stderr, "ERROR payload: %s\n", y_strerror(rc));
	ybuf_release(&out);
	return rc ? 1 : 0;
}

static int connect_stdio(const char *root_hex)
{
	struct ybuf in = YBUF_INIT(WA_NOISE_MAX_FRAME + 4096);
	struct ybuf out = YBUF_INIT(0), pl = YBUF_INIT(0), pt = YBUF_INIT(0);
	struct wa_keypair noise_key;
	struct wa_noise nz;
	uint8_t root[32], chunk[65536];
	int frames = 0, rc;
	const char *why = "arguments";

	wa_noise_init(&nz, WA_NOISE_INITIATOR, intro);
	rc = hex_arg(root_hex, root, 32);
	if (rc)
		goto out;
	wa_noise_trust_root(&nz, root);
	why = "client hello";
	rc = wa_keypair_generate(&noise_key);
	if (!rc)
		rc = ybuf_append(&out, intro, 4);
	if (!rc)
		rc = ybuf_append(&out, "\0\0\0", 3); /* length, patched below */
	if (!rc)
		rc = wa_noise_client_hello(&nz, &out);
	if (rc)
		goto out;
	out.data[4] = (uint8_t)((out.len - 7) >> 16);
	out.data[5] = (uint8_t)((out.len - 7) >> 8);
	out.data[6] = (uint8_t)(out.len - 7);
	rc = write_all(out.data, out.len);
	if (rc)
		goto out;
	hex_line("NOISE_KEY", noise_key.pub, 32);
	for (;;) {
		ssize_t r = read(STDIN_FILENO, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		why = "input too big";
		rc = ybuf_append(&in, chunk, (size_t)r);
		if (rc)
			goto out;
		while (in.len >= 3) {
			size_t n = ((size_t)in.data[0] << 16) | ((size_t)in.data[1] << 8) | in.data[2];
			const uint8_t *f = in.data + 3;

			if (in.len < n + 3)
				break;
			ybuf_reset(&out);
			ybuf_reset(&pl);
			ybuf_reset(&pt);
			if (frames == 0) {
				why = "server hello";
				rc = wa_noise_read_server_hello(&nz, f, n);
				if (rc)
					goto out;
				hex_line("SERVER_STATIC", nz.remote_static, 32);
				why = "client finish";
				rc = wa_payload_login(15550001111ull, 1, &pl);
				if (!rc)
					rc = wa_noise_client_finish(&nz, &noise_key, pl.data, pl.len, &out);
				if (!rc)
					rc = send_frame(out.data, out.len);
			} else {
				why = "transport frame";
				rc = wa_noise_decrypt(&nz, f, n, &pt);
				if (rc)
					goto out;
				hex_line("FRAME", pt.data, pt.len);
				rc = ybuf_append(&pl, "echo:", 5);
				if (!rc)
					rc = ybuf_append(&pl, pt.data, pt.len);
				if (!rc)
					rc = wa_noise_encrypt(&nz, pl.data, pl.len, &out);
				if (!rc)
					rc = send_frame(out.data, out.len);
			}
			if (rc)
				goto out;
			frames++;
			ybuf_consume(&in, n + 3);
		}
	}
	why = "end of input before the handshake completed";
	rc = nz.state == WA_NOISE_TRANSPORT ? Y_OK : Y_ESTATE;
out:
	if (rc)
		fprintf(stderr, "ERROR %s: %s\n", why, y_strerror(rc));
	wa_noise_release(&nz);
	wa_wipe(&noise_key, sizeof(noise_key));
	ybuf_release(&in);
	ybuf_release(&out);
	ybuf_release(&pl);
	ybuf_release(&pt);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "payload"))
		return print_payload(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "connect"))
		return connect_stdio(argv[2]);
	fprintf(stderr, "usage: noise-initiator payload reg REGID IDENT SPKID SPK SIG\n"
			"       noise-initiator payload login USER DEVICE\n"
			"       noise-initiator connect ROOT\n");
	return 2;
}
