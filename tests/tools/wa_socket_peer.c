/*
 * Helper for tests/interop/socket_ws.test.mjs: one end of a frame socket
 * (src/wa/socket.c) driven from Node, reporting on stdout, one line per event.
 *
 *   wa_socket_peer server
 *       listens on 127.0.0.1:0 (path /ws/chat), prints "port <n>", then for
 *       each connection "open origin=<origin> path=<path>", for each frame
 *       "frame dict=<d> routing=<hex|-> hex=<payload hex>" (and echoes it),
 *       "close err=<code>". A frame "bye" is echoed, then the server closes
 *       (wa_socket_close). Exits when stdin closes.
 *   wa_socket_peer client <url> <dict> <expect> <hex frame>...
 *       connects, sends the frames, prints "open", "frame hex=<hex>" for each
 *       frame received; after <expect> frames closes gracefully. Prints
 *       "close err=<code> reason=<text>" and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/socket.h"

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int unhex(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s) / 2;
	uint8_t *p = malloc(n ? n : 1);

	if (!p || strlen(s) % 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(p);
			return -1;
		}
		p[i] = (uint8_t)v;
	}
	*out = p;
	*len = n;
	return 0;
}

/* ---- server ---- */

static void srv_open(struct wa_socket *s, void *ud)
{
	printf("open origin=%s path=%s\n", wa_socket_origin(s), wa_socket_path(s));
	fflush(stdout);
}

static void srv_frame(struct wa_socket *s, const uint8_t *p, size_t n, void *ud)
{
	size_t rl;
	const uint8_t *r = wa_socket_routing(s, &rl);

	printf("frame dict=%d routing=", wa_socket_dict(s));
	if (r)
		print_hex(r, rl);
	else
		printf("-");
	printf(" hex=");
	print_hex(p, n);
	printf("\n");
	fflush(stdout);
	wa_socket_send_frame(s, p, n);
	if (n == 3 && !memcmp(p, "bye", 3))
		wa_socket_close(s);
}

static void srv_close(struct wa_socket *s, int err, const char *reason, void *ud)
{
	printf("close err=%d\n", err);
	fflush(stdout);
}

static const struct wa_socket_cbs srv_cbs = { srv_open, srv_frame, NULL, srv_close };

static void srv_accept(struct wa_listener *ls, struct wa_socket *s, void *ud)
{
	wa_socket_set_cbs(s, &srv_cbs, NULL);
}

static void stdin_event(uv_poll_t *h, int status, int events)
{
	char buf[256];

	/* stdin closed (or unreadable): stop */
	if (status < 0 || read(0, buf, sizeof(buf)) <= 0)
		uv_stop(h->loop);
}

static int server(void)
{
	struct wa_listener_opts o = { 0 };
	struct wa_listener *ls;
	struct wa_loop *l;
	uv_poll_t in;

	if (wa_loop_new(NULL, &l))
		return 1;
	if (wa_listener_new(l, &o, srv_accept, NULL, &ls)) {
		wa_loop_free(l);
		return 1;
	}
	printf("port %d\n", wa_listener_port(ls));
	fflush(stdout);
	uv_poll_init(wa_loop_uv(l), &in, 0);
	uv_poll_start(&in, UV_READABLE | UV_DISCONNECT, stdin_event);
	uv_run(wa_loop_uv(l), UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&in, NULL);
	wa_loop_free(l);
	return 0;
}

/* ---- client ---- */

static int expect, got, done;

static void cl_open(struct wa_socket *s, void *ud)
{
	printf("open\n");
	fflush(stdout);
}

static void cl_frame(struct wa_socket *s, const uint8_t *p, size_t n, void *ud)
{
	printf("frame hex=");
	print_hex(p, n);
	printf("\n");
	fflush(stdout);
	if (++got == expect)
		wa_socket_close(s);
}

static void cl_close(struct wa_socket *s, int err, const char *reason, void *ud)
{
	printf("close err=%d reason=%s\n", err, reason);
	fflush(stdout);
	done = 1;
}

static const struct wa_socket_cbs cl_cbs = { cl_open, cl_frame, NULL, cl_close };

static int client(int argc, char **argv)
{
	struct wa_socket_opts o = { 0 };
	struct wa_socket *s;
	struct wa_loop *l;
	int rc = 1;

	o.url = argv[0];
	o.dict = atoi(argv[1]);
	expect = atoi(argv[2]);
	if (wa_loop_new(NULL, &l))
		return 1;
	if (wa_socket_connect(l, &o, &cl_cbs, NULL, &s))
		goto out;
	for (int i = 3; i < argc; i++) {
		uint8_t *f;
		size_t n;

		if (unhex(argv[i], &f, &n))
			goto out;
		if (wa_socket_send_frame(s, f, n))
			printf("send failed\n");
		free(f);
	}
	while (!done)
		wa_loop_run_once(l, 0);
	rc = 0;
out:
	wa_loop_free(l);
	return rc;
}

int main(int argc, char **argv)
{
	ylog_min = YLOG_ERROR;
	if (argc >= 2 && !strcmp(argv[1], "server"))
		return server();
	if (argc >= 5 && !strcmp(argv[1], "client"))
		return client(argc - 2, argv + 2);
	fprintf(stderr, "usage: wa_socket_peer server | client URL DICT EXPECT HEX...\n");
	return 2;
}
