/*
 * Test and bench helper: appends N events of session SESSION_ID to the
 * outbox through the store API (as a flood the engine could have written),
 * in one process, before the server starts.
 * Usage: seed_events DATABASE_URL SESSION_ID N
 */
#include "store/store.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct store *st = NULL;
	int n, rc;

	if (argc != 4 || (n = atoi(argv[3])) < 0) {
		fprintf(stderr, "usage: seed_events DATABASE_URL SESSION_ID N\n");
		return 2;
	}
	rc = store_open(argv[1], &st);
	for (int i = 0; rc == Y_OK && i < n; i++) {
		char data[96];

		snprintf(data, sizeof(data), "{\"status\":\"connected\",\"seq\":%d}", i);
		rc = store_event_add(st, argv[2], "session.status", data, NULL);
	}
	store_close(st);
	if (rc) {
		fprintf(stderr, "seed_events: %s\n", y_strerror(rc));
		return 1;
	}
	return 0;
}
