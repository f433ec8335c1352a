/*
 * Test helper: holds the write lock of a SQLite database until stdin closes,
 * so an HTTP test can make the server's database fail for real.
 * Usage: db_lock DB_PATH   (prints "locked" once the lock is held)
 */
#include <sqlite3.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	int c;

	if (argc != 2 || sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		fprintf(stderr, "usage: db_lock DB_PATH (an existing database)\n");
		sqlite3_close(db);
		return 2;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "db_lock: %s\n", err ? err : "?");
		sqlite3_free(err);
		sqlite3_close(db);
		return 1;
	}
	puts("locked");
	fflush(stdout);
	while ((c = getchar()) != EOF)
		;
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	return 0;
}
