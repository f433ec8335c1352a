/*
 * Test helper: inserts N messages into a session through the store API, with
 * timestamps base+0..N-1 ms (some repeated, to exercise id tie-breaks).
 * Usage: seed_messages DATABASE_URL SESSION_ID N
 */
#include "store/store.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct store *st = NULL;
	int n, rc;

	if (argc != 4 || (n = atoi(argv[3])) < 0) {
		fprintf(stderr, "usage: seed_messages DATABASE_URL SESSION_ID N\n");
		return 2;
	}
	rc = store_open(argv[1], &st);
	for (int i = 0; rc == Y_OK && i < n; i++) {
		struct store_message m;
		char body[64];

		memset(&m, 0, sizeof(m));
		snprintf(m.session_id, sizeof(m.session_id), "%s", argv[2]);
		snprintf(body, sizeof(body), "{\"text\":\"message %d\"}", i);
		m.chat = "4915112345678@s.whatsapp.net";
		m.from_me = i % 2;
		m.type = "text";
		m.body = body;
		m.status = i % 2 ? "sent" : "received";
		m.timestamp = 1700000000000LL + i / 3; /* three messages per millisecond */
		rc = store_message_insert(st, &m);
	}
	store_close(st);
	if (rc) {
		fprintf(stderr, "seed_messages: %s\n", y_strerror(rc));
		return 1;
	}
	return 0;
}
