/* The gate in front of libmicrohttpd (src/http/gate.h): how heads are
 * judged, what the answer looks like, and the thread on a real socket. */
#include "test.h"
#include "http/gate.h"
#include "util/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX 4096

static enum http_head_verdict judge(const char *s, struct http_head_problem *why)
{
	return http_head_check(s, strlen(s), MAX, why);
}

TEST(well_formed_heads_pass)
{
	static const char *const ok[] = {
		"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /health HTTP/1.0\r\n\r\n",
		"GET /health HTTP/1.1\n\n",                       /* bare LF line ends */
		"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",       /* empty lines first */
		"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n",
		"GET / HTTP/1.1\r\nX-A: a\r\n  folded on\r\n\r\n",
		"GET / HTTP/1.1\r\nX-Key: \xff\xfe\r\nX-Empty:\r\n\r\n",
		"M-SEARCH * HTTP/1.1\r\n\r\n",
	};
	struct http_head_problem why;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_EQ_INT(judge(ok[i], &why), HTTP_HEAD_OK);
		CHECK_EQ_INT(why.status, 0);
	}
}

TEST(unfinished_heads_want_more)
{
	static const char *const more[] = {
		"", "\r\n", "GET", "GET / HTTP/1.1", "GET / HTTP/1.1\r\nHost: x",
		"GET / HTTP/1.1\r\nHost: x\r\n", "GET / HTTP/1.1\r\nContent-Le",
	};
	struct http_head_problem why;

	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		CHECK_EQ_INT(judge(more[i], &why), HTTP_HEAD_MORE);
}

TEST(broken_heads_are_refused_with_a_reason)
{
	static const struct {
		const char *head;
		enum http_head_verdict v;
		int status;
		const char *code;
	} bad[] = {
		{ "GARBAGE\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET /health\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET  /health HTTP/1.1\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET /he alth HTTP/1.1\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET /health HTTP/1.1 \r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "G\x01T / HTTP/1.1\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET / HTTQ/1.1\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET / HTTP/1.11\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET / HTTP/9.9\r\n\r\n", HTTP_HEAD_BAD_VERSION, 505, "HTTP_VERSION_NOT_SUPPORTED" },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP_HEAD_BAD_VERSION, 505,
		  "HTTP_VERSION_NOT_SUPPORTED" },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET / HTTP/1.1\r\nBad Name: y\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET / HTTP/1.1\r\n: y\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET / HTTP/1.1\r\n folded first\r\n\r\n", HTTP_HEAD_BAD, 400,
		  "MALFORMED_REQUEST" },
		{ "GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", HTTP_HEAD_BAD, 400, "MALFORMED_REQUEST" },
		{ "GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", HTTP_HEAD_BAD, 400,
		  "INVALID_CONTENT_LENGTH" },
		{ "GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", HTTP_HEAD_BAD,
		  400, "INVALID_CONTENT_LENGTH" },
		{ "GET / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", HTTP_HEAD_BAD, 400,
		  "INVALID_CONTENT_LENGTH" },
		{ "GET / HTTP/1.1\r\nContent-Length: \r\n\r\n", HTTP_HEAD_BAD, 400,
		  "INVALID_CONTENT_LENGTH" },
		{ "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTP_HEAD_BAD,
		  400, "INVALID_CONTENT_LENGTH" },
	};
	struct http_head_problem why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(judge(bad[i].head, &why), bad[i].v);
		CHECK_EQ_INT(why.status, bad[i].status);
		CHECK_EQ_STR(why.code, bad[i].code);
		CHECK(why.message && *why.message);
	}
	/* a verdict comes from complete lines only: what follows cannot undo it */
	CHECK_EQ_INT(judge("GARBAGE\r\nHost", &why), HTTP_HEAD_BAD);
}

TEST(heads_past_the_limit)
{
	static char big[MAX + 100];
	struct http_head_problem why;

	/* a request line that does not end within the limit: 414 */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	CHECK_EQ_INT(http_head_check(big, MAX - 1, MAX, &why), HTTP_HEAD_MORE);
	CHECK_EQ_INT(http_head_check(big, MAX, MAX, &why), HTTP_HEAD_URI_TOO_LONG);
	CHECK_EQ_INT(why.status, 414);
	CHECK_EQ_INT(why.max_bytes, MAX);
	/* headers that do not end within it: 431, even when the end comes later */
	memcpy(big, "GET / HTTP/1.1\r\nX-A: ", 21);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	CHECK_EQ_INT(http_head_check(big, MAX - 1, MAX, &why), HTTP_HEAD_MORE);
	CHECK_EQ_INT(http_head_check(big, sizeof(big), MAX, &why), HTTP_HEAD_TOO_LARGE);
	CHECK_EQ_STR(why.code, "HEADERS_TOO_LARGE");
}

TEST(the_answer_is_json_with_the_clients_request_id)
{
	struct http_head_problem why;
	char out[1024];
	size_t n;

	CHECK_EQ_INT(judge("GET / HTTP/1.1\r\nX-Request-Id:  trace-42 \r\nOops\r\n\r\n", &why),
		     HTTP_HEAD_BAD);
	CHECK_EQ_STR(why.request_id, "trace-42");
	n = http_head_answer(&why, out, sizeof(out));
	CHECK(n > 0 && n < sizeof(out));
	CHECK(!strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26));
	CHECK(strstr(out, "\r\nX-Request-Id: trace-42\r\n") != NULL);
	CHECK(strstr(out, "\r\nConnection: close\r\n") != NULL);
	CHECK(strstr(out, "\r\n\r\n{\"error\":\"MALFORMED_REQUEST\",\"message\":\"a header line has "
			  "no colon\",\"details\":{}}") != NULL);
	{ /* Content-Length is the body's */
		const char *body = strstr(out, "\r\n\r\n") + 4, *cl = strstr(out, "Content-Length: ");

		CHECK(cl && (size_t)atoi(cl + 16) == strlen(body));
	}
	/* an id that is not valid is not echoed: a UUID instead */
	CHECK_EQ_INT(judge("GET / HTTP/1.1\r\nX-Request-Id: a b\r\nOops\r\n\r\n", &why),
		     HTTP_HEAD_BAD);
	CHECK_EQ_STR(why.request_id, "");
	n = http_head_answer(&why, out, sizeof(out));
	CHECK(n > 0 && strstr(out, "X-Request-Id: ") && strlen(strstr(out, "X-Request-Id: ")) > 50);
	/* 414 / 431 say their limit */
	{
		static char big[MAX + 1];

		memset(big, 'a', sizeof(big));
		memcpy(big, "GET /", 5);
		CHECK_EQ_INT(http_head_check(big, sizeof(big), MAX, &why), HTTP_HEAD_URI_TOO_LONG);
		n = http_head_answer(&why, out, sizeof(out));
		CHECK(n > 0 && strstr(out, "HTTP/1.1 414 URI Too Long\r\n") == out);
		CHECK(strstr(out, "\"details\":{\"maxBytes\":4096}") != NULL);
	}
	CHECK_EQ_INT(http_head_answer(&why, out, 40), 0); /* does not fit: nothing */
}

/* ---- the thread, on a real socket ---- */

static atomic_int passed_fds;

static void on_pass(void *arg, int fd, const struct sockaddr *addr, socklen_t len)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0); /* the head is still there */

	(void)arg;
	if (n > 0 && addr->sa_family == AF_INET && len == sizeof(struct sockaddr_in) &&
	    !strncmp(buf, "GET /ok HTTP/1.1\r\n", 18)) {
		static const char reply[] = "HTTP/1.1 204 No Content\r\n\r\n";

		(void)!send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
		atomic_fetch_add(&passed_fds, 1);
	}
	close(fd);
}

static int listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Everything the server sends until it closes (or 3 s). */
static size_t read_all(int fd, char *out, size_t cap)
{
	size_t got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (got + 1 < cap && poll(&p, 1, 3000) == 1) {
		ssize_t n = recv(fd, out + got, cap - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	return got;
}

TEST(the_gate_hands_good_heads_on_and_answers_bad_ones)
{
	struct http_gate *g;
	int port = 0, lfd = listener(&port), c;
	char out[2048];

	CHECK(lfd >= 0);
	CHECK_EQ_INT(http_gate_start(lfd, MAX, 8, 1, on_pass, NULL, &g), Y_OK);
	/* a good head, sent in two pieces: handed on, bytes intact */
	c = dial(port);
	CHECK(c >= 0);
	CHECK_EQ_INT(send(c, "GET /ok HTT", 11, 0), 11);
	usleep(50000);
	CHECK_EQ_INT(send(c, "P/1.1\r\nHost: x\r\n\r\n", 18, 0), 18);
	read_all(c, out, sizeof(out));
	CHECK_EQ_STR(out, "HTTP/1.1 204 No Content\r\n\r\n");
	close(c);
	CHECK_EQ_INT(atomic_load(&passed_fds), 1);
	/* a bad one with a body behind it: our answer arrives whole, then the close */
	c = dial(port);
	{
		static char body[200000];

		memset(body, 'b', sizeof(body));
		CHECK_EQ_INT(send(c, "GARBAGE\r\n\r\n", 11, 0), 11);
		(void)!send(c, body, sizeof(body), MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	read_all(c, out, sizeof(out));
	CHECK(strstr(out, "HTTP/1.1 400 Bad Request\r\n") == out);
	CHECK(strstr(out, "{\"error\":\"MALFORMED_REQUEST\"") != NULL);
	close(c);
	/* one that sends nothing is closed after the idle time (1 s here) */
	c = dial(port);
	{
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		CHECK_EQ_INT(read_all(c, out, sizeof(out)), 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		CHECK(b.tv_sec - a.tv_sec < 3); /* closed by the gate, not by read_all's 3 s */
	}
	close(c);
	CHECK_EQ_INT(atomic_load(&passed_fds), 1);
	/* quiesced: no new connection is taken */
	http_gate_quiesce(g);
	usleep(100000);
	c = dial(port);
	CHECK(c < 0);
	if (c >= 0)
		close(c);
	http_gate_free(g);
}

int main(void)
{
	RUN(well_formed_heads_pass);
	RUN(unfinished_heads_want_more);
	RUN(broken_heads_are_refused_with_a_reason);
	RUN(heads_past_the_limit);
	RUN(the_answer_is_json_with_the_clients_request_id);
	RUN(the_gate_hands_good_heads_on_and_answers_bad_ones);
	return test_summary();
}
