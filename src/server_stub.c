/*
 * TEMPORARY: a weak stand-in for server_run() so that `yesapp` links before
 * the HTTP server (branch `http`) is merged. The real definition is strong
 * and wins at link time; delete this file when merging it. It never serves:
 * it says so and fails.
 */
#include "server.h"

#include <stdio.h>

__attribute__((weak)) int server_run(const struct config *cfg)
{
	(void)cfg;
	fprintf(stderr, "yesapp: the HTTP server is not built into this binary\n");
	return 1;
}
