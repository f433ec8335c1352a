/*
 * Idle-connection memory of the frame socket (src/wa/socket.c).
 *
 *   socket_bench [--tls DIR] [N]
 *                             fork a listener process, open N idle client
 *                             connections to it on one loop, report the RSS
 *                             growth per connection of both processes
 *   socket_bench [--tls DIR] --serve
 *                             only run a listener on 127.0.0.1:0, print
 *                             "port <n>" and echo frames (peer for the Node
 *                             measurement); exits when stdin closes
 *
 * --tls DIR: wss:// instead of ws://; DIR holds cert.pem and key.pem (the
 * listener's) and ca.pem (what the clients trust), as bench/socket/run.sh
 * makes them with openssl(1).
 *
 * Clients connect in batches of 100; each sends one frame (so the intro header has gone out)
 * and waits for its echo; then the loop idles briefly and RSS is read from
 * /proc. The baseline is taken after one warm-up connection, so one-time
 * costs (the lws context, the client TLS context with the system CAs) are
 * not charged to the connections. Before each reading malloc_trim(0) hands
 * free heap pages back (the handshake's header tables are freed once a
 * connection is up); the live heap (mallinfo2) is reported too.
 */
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "util/err.h"
#include "util/log.h"
#include "wa/socket.h"

#define BATCH 100

static char cert_file[512], key_file[512], ca_file[512]; /* --tls */
static bool tls;

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* ---- server side ---- */

static void srv_frame(struct wa_socket *s, const uint8_t *p, size_t n, void *ud)
{
	wa_socket_send_frame(s, p, n);
}

static const struct wa_socket_cbs srv_cbs = { NULL, srv_frame, NULL, NULL };

static void srv_accept(struct wa_listener *ls, struct wa_socket *s, void *ud)
{
	wa_socket_set_cbs(s, &srv_cbs, NULL);
}

/* SIGUSR1: give free heap pages back before the parent reads our RSS. */
static void trim(uv_signal_t *h, int signum)
{
	malloc_trim(0);
}

static void stdin_closed(uv_poll_t *h, int status, int events)
{
	uv_stop(h->loop);
}

/* Runs a listener until stdin closes; writes the port to out_fd. */
static int serve(int out_fd)
{
	struct wa_listener_opts o = { 0 };
	struct wa_listener *ls;
	struct wa_loop *l;
	uv_poll_t in;
	uv_signal_t sig;
	char msg[32];
	int n;

	if (tls) {
		o.cert_file = cert_file;
		o.key_file = key_file;
	}
	if (wa_loop_new(NULL, &l) || wa_listener_new(l, &o, srv_accept, NULL, &ls))
		return 1;
	n = snprintf(msg, sizeof(msg), "port %d\n", wa_listener_port(ls));
	if (write(out_fd, msg, (size_t)n) != n)
		return 1;
	uv_poll_init(wa_loop_uv(l), &in, 0);
	uv_signal_init(wa_loop_uv(l), &sig);
	uv_signal_start(&sig, trim, SIGUSR1);
	uv_poll_start(&in, UV_READABLE | UV_DISCONNECT, stdin_closed);
	uv_run(wa_loop_uv(l), UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&in, NULL);
	uv_close((uv_handle_t *)&sig, NULL);
	wa_loop_free(l);
	return 0;
}

/* ---- client side ---- */

struct client {
	struct wa_socket *s;
	bool open, echoed, closed;
};

static int n_open, n_echoed, n_closed;

static void cl_open(struct wa_socket *s, void *ud)
{
	((struct client *)ud)->open = true;
	n_open++;
}

static void cl_frame(struct wa_socket *s, const uint8_t *p, size_t n, void *ud)
{
	struct client *c = ud;

	if (!c->echoed) {
		c->echoed = true;
		n_echoed++;
	}
}

static void cl_close(struct wa_socket *s, int err, const char *reason, void *ud)
{
	((struct client *)ud)->closed = true;
	n_closed++;
}

static const struct wa_socket_cbs cl_cbs = { cl_open, cl_frame, NULL, cl_close };

static bool timed_out;

static void deadline(uv_timer_t *t)
{
	timed_out = true;
}

/* Runs the loop until `*count + n_closed >= want` or seconds pass. */
static void run_until(struct wa_loop *l, int *count, int want, int seconds)
{
	uv_timer_t t;

	timed_out = false;
	uv_timer_init(wa_loop_uv(l), &t);
	uv_timer_start(&t, deadline, (uint64_t)seconds * 1000, 0);
	while (*count + n_closed < want && !timed_out)
		wa_loop_run_once(l, 0);
	uv_close((uv_handle_t *)&t, NULL);
	wa_loop_run_once(l, 1);
}

static void idle(struct wa_loop *l, int ms)
{
	uv_timer_t t;

	timed_out = false;
	uv_timer_init(wa_loop_uv(l), &t);
	uv_timer_start(&t, deadline, (uint64_t)ms, 0);
	while (!timed_out)
		wa_loop_run_once(l, 0);
	uv_close((uv_handle_t *)&t, NULL);
	wa_loop_run_once(l, 1);
}

static int connect_n(struct wa_loop *l, const char *url, struct client *cs, int n)
{
	struct wa_socket_opts o = { 0 };

	o.url = url;
	o.dict = 2;
	o.ca_file = tls ? ca_file : NULL;
	for (int i = 0; i < n; i++) {
		if (wa_socket_connect(l, &o, &cl_cbs, &cs[i], &cs[i].s))
			return 1;
		wa_socket_send_frame(cs[i].s, (const uint8_t *)"ping", 4);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int pfd[2], cfd[2], port = 0, n = 1000, rc = 1;
	long c0, c1, s0, s1;
	size_t h0, h1;
	struct client warm = { 0 }, *cs;
	struct wa_loop *l;
	char buf[64], url[96];
	ssize_t got;
	pid_t pid;

	ylog_min = YLOG_ERROR;
	signal(SIGPIPE, SIG_IGN);
	if (argc > 2 && !strcmp(argv[1], "--tls")) {
		snprintf(cert_file, sizeof(cert_file), "%s/cert.pem", argv[2]);
		snprintf(key_file, sizeof(key_file), "%s/key.pem", argv[2]);
		snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", argv[2]);
		tls = true;
		argc -= 2;
		argv += 2;
	}
	if (argc > 1 && !strcmp(argv[1], "--serve"))
		return serve(1);
	if (argc > 1)
		n = atoi(argv[1]);
	if (n <= 0 || pipe(pfd) || pipe(cfd))
		return 2;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		close(cfd[1]);
		dup2(cfd[0], 0);
		_exit(serve(pfd[1]));
	}
	close(pfd[1]);
	close(cfd[0]);
	got = read(pfd[0], buf, sizeof(buf) - 1);
	if (got <= 0 || sscanf((buf[got] = 0, buf), "port %d", &port) != 1)
		goto out_child;
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d/ws/chat", tls ? "wss" : "ws", port);

	if (wa_loop_new(NULL, &l))
		goto out_child;
	cs = calloc((size_t)n, sizeof(*cs));
	/* warm-up: one connection pays for the one-time costs */
	connect_n(l, url, &warm, 1);
	run_until(l, &n_echoed, 1, 10);
	idle(l, 200);
	kill(pid, SIGUSR1);
	idle(l, 100);
	malloc_trim(0);
	c0 = rss_kib(getpid());
	s0 = rss_kib(pid);
	h0 = heap_used();

	/* in batches, as a server bringing sessions up does; all at once, the
	 * handshakes' transient header tables fragment the heap */
	for (int i = 0; i < n; i += BATCH) {
		int k = n - i < BATCH ? n - i : BATCH;

		if (connect_n(l, url, cs + i, k))
			goto out;
		run_until(l, &n_echoed, i + k + 1, 60);
	}
	idle(l, 400);
	kill(pid, SIGUSR1);
	idle(l, 100);
	malloc_trim(0);
	c1 = rss_kib(getpid());
	s1 = rss_kib(pid);
	h1 = heap_used();
	if (n_echoed != n + 1) {
		fprintf(stderr, "socket_bench: only %d of %d connections echoed (%d closed)\n",
			n_echoed - 1, n, n_closed);
		goto out;
	}
	printf("bench socket-idle-memory%s ours=%.2fKiB/conn server=%.2fKiB/conn heap=%.2fKiB/conn "
	       "n=%d client_rss=%ldKiB->%ldKiB server_rss=%ldKiB->%ldKiB live=%zu\n",
	       tls ? "-tls" : "", (double)(c1 - c0) / n, (double)(s1 - s0) / n,
	       (double)(h1 - h0) / 1024.0 / n, n, c0, c1, s0, s1, wa_loop_socket_count(l));
	rc = 0;
out:
	wa_loop_free(l);
	free(cs);
out_child:
	close(cfd[1]); /* the server exits when its stdin closes */
	waitpid(pid, NULL, 0);
	return rc;
}
