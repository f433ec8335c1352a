/*
 * Shared by the stdio test helpers (noise-responder, noise-initiator): one
 * report line of hex on stderr, and 3-byte length-prefixed frames written
 * to stdout.
 */
#ifndef YESAPP_TOOLS_STDIO_FRAMES_H
#define YESAPP_TOOLS_STDIO_FRAMES_H

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "util/err.h"
#include "wa/noise.h"

static void hex_line(const char *label, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s ", label);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", p[i]);
	fputc('\n', stderr);
	fflush(stderr);
}

static int write_all(const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return Y_EIO;
		p += w;
		n -= (size_t)w;
	}
	return Y_OK;
}

static int send_frame(const uint8_t *p, size_t n)
{
	uint8_t hdr[3];

	if (n == 0 || n > WA_NOISE_MAX_FRAME)
		return Y_EINVAL;
	hdr[0] = (uint8_t)(n >> 16);
	hdr[1] = (uint8_t)(n >> 8);
	hdr[2] = (uint8_t)n;
	return write_all(hdr, 3) ?: write_all(p, n);
}

#endif
