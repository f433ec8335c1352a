#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const names[] = {
	[0] = "ok",
	[1] = "need more input",
	[2] = "out of memory",
	[3] = "invalid input",
	[4] = "input too large",
	[5] = "cryptographic failure",
	[6] = "I/O error",
	[7] = "not found",
	[8] = "already exists",
	[9] = "invalid state",
	[10] = "unsupported",
	[11] = "closed",
	[12] = "timed out",
	[13] = "database error",
	[14] = "busy",
	[15] = "truncated input",
	[16] = "incompatible version",
};

const char *y_strerror(int err)
{
	if (err > 0 || err <= Y_ERR_MIN)
		return "unknown error";
	return names[-err];
}

void y_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "BUG at %s:%d: %s\n", file, line, msg);
	abort();
}
