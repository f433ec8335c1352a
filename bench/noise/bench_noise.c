/*
 * Benchmark: full Noise XX handshakes per second (initiator + responder in
 * one process, including certificate-chain verification) and transport
 * throughput (encrypt + decrypt of 16 KiB frames).
 * Usage: bench_noise [quick]
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "wa/noise.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const uint8_t intro[4] = { 'W', 'A', 6, 3 };
	int quick = argc > 1 && !strcmp(argv[1], "quick");
	int hs = quick ? 50 : 1000, frames = quick ? 2000 : 50000;
	struct wa_keypair root, inter, st, nk;
	struct ybuf chain = YBUF_INIT(0), a = YBUF_INIT(0), b = YBUF_INIT(0), c = YBUF_INIT(0);
	struct wa_noise_cert_params p;
	struct wa_noise cl, sv;
	static uint8_t frame[16384];
	double t0, t1;

	wa_keypair_generate(&root);
	wa_keypair_generate(&inter);
	wa_keypair_generate(&st);
	wa_keypair_generate(&nk);
	p.root_priv = root.priv;
	p.intermediate = &inter;
	p.intermediate_serial = 1;
	p.leaf_serial = 2;
	p.leaf_key = st.pub;
	p.not_before = (uint64_t)time(NULL) - 60;
	p.not_after = (uint64_t)time(NULL) + 3600;
	if (wa_noise_cert_chain_build(&p, &chain))
		return 1;

	t0 = now_s();
	for (int i = 0; i < hs; i++) {
		ybuf_reset(&a);
		ybuf_reset(&b);
		ybuf_reset(&c);
		wa_noise_init(&cl, WA_NOISE_INITIATOR, intro);
		wa_noise_init(&sv, WA_NOISE_RESPONDER, intro);
		wa_noise_trust_root(&cl, root.pub);
		if (wa_noise_client_hello(&cl, &a) || wa_noise_read_client_hello(&sv, a.data, a.len) ||
		    wa_noise_server_hello(&sv, &st, chain.data, chain.len, &b) ||
		    wa_noise_read_server_hello(&cl, b.data, b.len))
			return 1;
		ybuf_reset(&a);
		if (wa_noise_client_finish(&cl, &nk, (const uint8_t *)"payload", 7, &a) ||
		    wa_noise_read_client_finish(&sv, a.data, a.len, &c))
			return 1;
		if (i + 1 < hs) {
			wa_noise_release(&cl);
			wa_noise_release(&sv);
		}
	}
	t1 = now_s();
	printf("noise_handshake: %d handshakes in %.3f s = %.0f /s (both sides, cert verify)\n", hs,
	       t1 - t0, hs / (t1 - t0));

	t0 = now_s();
	for (int i = 0; i < frames; i++) {
		ybuf_reset(&a);
		ybuf_reset(&b);
		if (wa_noise_encrypt(&cl, frame, sizeof(frame), &a) ||
		    wa_noise_decrypt(&sv, a.data, a.len, &b))
			return 1;
	}
	t1 = now_s();
	printf("noise_transport: %d x 16 KiB encrypt+decrypt in %.3f s = %.0f MiB/s\n", frames,
	       t1 - t0, frames * 16.0 / 1024.0 / (t1 - t0));
	wa_noise_release(&cl);
	wa_noise_release(&sv);
	ybuf_release(&a);
	ybuf_release(&b);
	ybuf_release(&c);
	ybuf_release(&chain);
	return 0;
}
