/*
 * A bad WhatsApp server for tests/http/engine-badserver.test.mjs: the
 * scriptable server of tests/unit/fake_wa.h (a wa_listener on 127.0.0.1,
 * an ephemeral port, and the Noise responder) that answers every completed
 * handshake with <failure reason=N/>, a reason the client may not know.
 *
 *   wa-badserver [--root-priv HEX] [--failure N]
 *
 * --root-priv: the root that signs the certificate chain (64 hex digits,
 * e.g. the simulator's from its --state file); without it a fresh root, so
 * that clients trusting another root refuse the chain. --failure: the
 * reason (default 999). Prints {"port":N,"root":"<hex pub>"} on one line,
 * then serves until SIGTERM or SIGINT, and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/fake_wa.h"
#include "util/log.h"

static const char *failure_reason = "999";
static bool stopping;

static void on_ready(struct fw_conn *c)
{
	fw_send_free(c, fw_node("failure", "reason", failure_reason, NULL));
}

static void on_signal(uv_signal_t *h, int sig)
{
	stopping = true;
}

static int unhex32(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fw_server sv;
	struct wa_loop *l;
	uv_signal_t sterm, sint;

	memset(&sv, 0, sizeof(sv));
	ylog_min = YLOG_OFF;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--root-priv") && i + 1 < argc) {
			if (unhex32(argv[++i], sv.root.priv) ||
			    wa_keypair_from_private(&sv.root, sv.root.priv)) {
				fprintf(stderr, "wa-badserver: bad --root-priv\n");
				return 2;
			}
			sv.have_root = true;
		} else if (!strcmp(argv[i], "--failure") && i + 1 < argc) {
			failure_reason = argv[++i];
		} else {
			fprintf(stderr, "usage: wa-badserver [--root-priv HEX] [--failure N]\n");
			return 2;
		}
	}
	sv.on_ready = on_ready;
	if (wa_loop_new(NULL, &l) || fw_start(l, &sv)) {
		fprintf(stderr, "wa-badserver: cannot start\n");
		return 1;
	}
	uv_signal_init(wa_loop_uv(l), &sterm);
	uv_signal_init(wa_loop_uv(l), &sint);
	uv_signal_start(&sterm, on_signal, SIGTERM);
	uv_signal_start(&sint, on_signal, SIGINT);
	printf("{\"port\":%d,\"root\":\"", wa_listener_port(sv.ls));
	for (int i = 0; i < 32; i++)
		printf("%02x", sv.root.pub[i]);
	printf("\"}\n");
	fflush(stdout);
	while (!stopping)
		wa_loop_run_once(l, 0);
	uv_close((uv_handle_t *)&sterm, NULL);
	uv_close((uv_handle_t *)&sint, NULL);
	fw_release(&sv);
	wa_loop_free(l);
	return 0;
}
