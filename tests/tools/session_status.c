/*
 * Test helper: sets a session's status through the store API (for states
 * that only an engine would reach, such as "failed").
 * Usage: session_status DATABASE_URL SESSION_ID STATUS
 * Exits 0, 1 on a store error (unknown session, invalid status), 2 on usage.
 */
#include "store/store.h"
#include "util/err.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	enum store_session_status status;
	struct store *st = NULL;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: session_status DATABASE_URL SESSION_ID STATUS\n");
		return 2;
	}
	rc = store_session_status_parse(argv[3], &status); /* the text edge */
	if (!rc)
		rc = store_open(argv[1], &st);
	if (!rc)
		rc = store_session_set_status(st, argv[2], status, NULL);
	store_close(st);
	if (rc) {
		fprintf(stderr, "session_status: %s\n", y_strerror(rc));
		return 1;
	}
	return 0;
}
