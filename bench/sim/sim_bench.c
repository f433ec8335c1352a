/*
 * Benchmark of `yesapp sim` as a separate process, driven by our own C
 * client layers: N concurrent websocket connections each run the Noise
 * handshake (verifying the simulator's certificate chain against the root
 * from GET /sim/info) and a registration, until the simulator's encrypted
 * pair-device node arrives. Figures: registrations per second with N in
 * flight (each answer is held 100 ms by the simulator on purpose), and the
 * simulator's resident memory per open connection.
 * Usage: sim_bench YESAPP_BINARY N
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/noise.h"
#include "wa/payload.h"
#include "wa/socket.h"

extern char **environ;

struct cl {
	struct wa_noise nz;
	struct wa_keypair noise_key;
	int step;
};

static int n_total, n_done, n_failed;
static uint8_t root[WA_KEY_LEN];
static uint8_t reg_payload[4096];
static size_t reg_len;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

/* An ephemeral port that was free a moment ago. */
static int free_port(void)
{
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* GET /sim/info over a plain TCP socket; extracts rootPublicKey. */
static int fetch_root(int port)
{
	struct sockaddr_in a = { 0 };
	char buf[8192], *p;
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t r;

	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	dprintf(fd, "GET /sim/info HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
	while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	close(fd);
	buf[got] = 0;
	p = strstr(buf, "\"rootPublicKey\":\"");
	if (!p)
		return -1;
	p += 17;
	for (int i = 0; i < WA_KEY_LEN; i++) {
		unsigned v;

		if (sscanf(p + 2 * i, "%2x", &v) != 1)
			return -1;
		root[i] = (uint8_t)v;
	}
	return 0;
}

static void on_open(struct wa_socket *s, void *ud)
{
	struct cl *c = ud;
	struct ybuf out = YBUF_INIT(0);
	static const uint8_t intro[4] = { 'W', 'A', 6, 3 };

	wa_noise_init(&c->nz, WA_NOISE_INITIATOR, intro);
	wa_noise_trust_root(&c->nz, root);
	wa_keypair_generate(&c->noise_key);
	if (wa_noise_client_hello(&c->nz, &out) || wa_socket_send_frame(s, out.data, out.len))
		wa_socket_abort(s);
	ybuf_release(&out);
}

static void on_frame(struct wa_socket *s, const uint8_t *p, size_t n, void *ud)
{
	struct cl *c = ud;
	struct ybuf out = YBUF_INIT(0);

	if (c->step == 0) {
		if (wa_noise_read_server_hello(&c->nz, p, n) ||
		    wa_noise_client_finish(&c->nz, &c->noise_key, reg_payload, reg_len, &out) ||
		    wa_socket_send_frame(s, out.data, out.len)) {
			n_failed++;
			wa_socket_abort(s);
		}
		c->step = 1;
	} else if (c->step == 1) {
		if (wa_noise_decrypt(&c->nz, p, n, &out))
			n_failed++;
		else
			n_done++;
		c->step = 2;
	}
	ybuf_release(&out);
}

static void on_close(struct wa_socket *s, int err, const char *reason, void *ud)
{
	struct cl *c = ud;

	if (c->step < 2)
		n_failed++;
	wa_noise_release(&c->nz);
	free(c);
}

int main(int argc, char **argv)
{
	static const struct wa_socket_cbs cbs = { on_open, on_frame, NULL, on_close };
	char *args[] = { argc > 1 ? argv[1] : "build/yesapp", "sim", "--listen", NULL,
			 "--log-level", "warn", NULL };
	struct wa_payload_reg reg;
	struct wa_keypair ik, sk;
	uint8_t sig[64];
	struct ybuf pl = YBUF_INIT(0);
	char url[64];
	struct wa_loop *l;
	posix_spawn_file_actions_t fa;
	char listen_arg[32];
	int port;
	pid_t pid;
	long base, loaded;
	double t0, t1;

	n_total = argc > 2 ? atoi(argv[2]) : 1000;
	signal(SIGPIPE, SIG_IGN);
	port = free_port();
	if (port <= 0)
		return 1;
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
	args[3] = listen_arg;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, args[0], &fa, NULL, args, environ))
		return 1;
	for (int i = 0; i < 100 && fetch_root(port); i++)
		usleep(50000);
	if (root[0] == 0 && root[1] == 0) {
		fprintf(stderr, "sim_bench: simulator did not start\n");
		kill(pid, SIGTERM);
		return 1;
	}
	/* a registration payload with syntactically valid keys */
	wa_keypair_generate(&ik);
	wa_keypair_generate(&sk);
	memset(sig, 7, sizeof(sig));
	memset(&reg, 0, sizeof(reg));
	reg.registration_id = 1234;
	reg.identity_pub = ik.pub;
	reg.signed_prekey_id = 1;
	reg.signed_prekey_pub = sk.pub;
	reg.signed_prekey_sig = sig;
	if (wa_payload_registration(&reg, &pl) || pl.len > sizeof(reg_payload))
		return 1;
	memcpy(reg_payload, pl.data, pl.len);
	reg_len = pl.len;
	ybuf_release(&pl);

	usleep(200000);
	base = rss_kib(pid);
	if (wa_loop_new(NULL, &l))
		return 1;
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/chat", port);
	t0 = now_s();
	for (int i = 0; i < n_total; i++) {
		struct wa_socket_opts o = { 0 };
		struct wa_socket *s;
		struct cl *c = calloc(1, sizeof(*c));

		o.url = url;
		o.dict = 3;
		if (!c || wa_socket_connect(l, &o, &cbs, c, &s)) {
			free(c);
			n_failed++;
		}
	}
	while (n_done + n_failed < n_total)
		wa_loop_run_once(l, 0);
	t1 = now_s();
	loaded = rss_kib(pid);
	/* No peer simulator is measured beside ours yet, so these are not
	 * "bench" lines (which need a peer and a ratio): figures go to stderr. */
	fprintf(stderr, "sim-registrations %.0f/s (n=%d in flight, %d failed, "
	       "each answer held 100 ms)\n",
	       n_done / (t1 - t0), n_total, n_failed);
	fprintf(stderr, "sim-conn-memory %.1fKiB (simulator RSS %ld -> %ld KiB "
	       "with %d open connections)\n",
	       n_done ? (double)(loaded - base) / n_done : 0.0, base, loaded, n_done);
	wa_loop_free(l);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return n_failed ? 1 : 0;
}
