/* Tests of the numbered schema migrations of the SQLite store. */
#include "test.h"
#include "tmpdir.h"

#include "store/migrations.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "util/err.h"
#include "util/log.h"

#include <sqlite3.h>

static char tmp[256];
static int dbn;

static void new_path(char path[300])
{
	snprintf(path, 300, "%s/m%d.sqlite", tmp, ++dbn);
}

static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

TEST(embedded_list_is_numbered)
{
	REQUIRE(store_migrations_count >= 2);
	for (int i = 0; i < store_migrations_count; i++) {
		CHECK_EQ_INT(store_migrations[i].version, i + 1);
		CHECK(store_migrations[i].name && *store_migrations[i].name);
		CHECK(store_migrations[i].sql && strlen(store_migrations[i].sql) > 10);
	}
	CHECK_EQ_STR(store_migrations[0].name, "init");
}

TEST(fresh_database_gets_every_version)
{
	char path[300];
	struct store *st;
	int applied = -1, known = -1;

	new_path(path);
	REQUIRE(store_open(path, &st) == Y_OK);
	CHECK_EQ_INT(store_schema_version(st, &applied, &known), Y_OK);
	CHECK_EQ_INT(known, store_migrations_count);
	CHECK_EQ_INT(applied, known);
	store_close(st);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM schema_migrations"), known);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM schema_migrations WHERE version = 1 "
				   "AND name = 'init' AND applied_at > 0"), 1);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				   "name IN ('sessions', 'messages', 'webhook_log', 'api_keys')"), 4);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
				   "name = 'messages_session_ts'"), 1);
}

/* Rows valid at schema versions 1 to 4 (the 0001 tables; 0005 rebuilds
 * messages, migrating rows of this shape). */
#define SEED_V1_UPTO 4
static const char seed_v1[] =
	"INSERT INTO sessions (id, name, status, created_at, updated_at) VALUES "
	"('11111111-1111-4111-8111-111111111111', 'old', 'connected', 1000, 1000);"
	"INSERT INTO messages (id, session_id, chat, from_me, type, body, status, timestamp, "
	"created_at) VALUES ('22222222-2222-4222-8222-222222222222', "
	"'11111111-1111-4111-8111-111111111111', '1@s.whatsapp.net', 0, 'text', '{\"t\":1}', "
	"'received', 1500, 1500);"
	"INSERT INTO api_keys (id, name, prefix, hash, created_at) VALUES "
	"('33333333-3333-4333-8333-333333333333', 'legacy', 'abcdabcd', zeroblob(32), 900);";

TEST(every_older_version_upgrades_with_data_intact)
{
	for (int v = 0; v < store_migrations_count; v++) {
		char path[300];
		struct store *st = NULL;
		int applied = -1, known = -1;
		struct store_session s;
		struct store_message *rows;
		size_t n;
		int has_next;
		struct store_cursor cur;
		uint8_t zero[32] = { 0 };
		char id[STORE_ID_LEN];

		new_path(path);
		REQUIRE(store_sqlite_open_upto(path, v, &st) == Y_OK);
		CHECK_EQ_INT(store_schema_version(st, &applied, &known), Y_OK);
		CHECK_EQ_INT(applied, v);
		store_close(st);
		int seeded = v >= 1 && v <= SEED_V1_UPTO;

		if (seeded)
			REQUIRE(raw_exec(path, seed_v1) == SQLITE_OK);

		REQUIRE(store_open(path, &st) == Y_OK);
		CHECK_EQ_INT(store_schema_version(st, &applied, &known), Y_OK);
		CHECK_EQ_INT(applied, store_migrations_count);
		if (seeded) {
			REQUIRE(store_session_get(st, "11111111-1111-4111-8111-111111111111", &s) ==
				Y_OK);
			CHECK_EQ_STR(s.name, "old");
			CHECK_EQ_INT(s.status, STORE_SESSION_CONNECTED);
			store_session_release(&s);
			REQUIRE(store_message_list(st, "11111111-1111-4111-8111-111111111111", NULL,
						   10, &rows, &n, &cur, &has_next) == Y_OK);
			CHECK_EQ_INT(n, 1);
			if (n == 1)
				CHECK_EQ_STR(rows[0].body, "{\"t\":1}");
			store_messages_free(rows, n);
			CHECK_EQ_INT(store_apikey_find(st, zero, id), Y_OK);
		} else {
			CHECK_EQ_INT(store_apikey_find(st, zero, id), Y_ENOTFOUND);
		}
		store_close(st);
		CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM schema_migrations"),
			     store_migrations_count);
	}
}

TEST(reopen_is_a_no_op)
{
	char path[300];
	struct store *st;
	long long stamp;

	new_path(path);
	REQUIRE(store_open(path, &st) == Y_OK);
	store_close(st);
	stamp = raw_int(path, "SELECT sum(applied_at) FROM schema_migrations");
	REQUIRE(raw_exec(path, "UPDATE schema_migrations SET applied_at = applied_at - 7") ==
		SQLITE_OK);
	REQUIRE(store_open(path, &st) == Y_OK);
	store_close(st);
	REQUIRE(store_open(path, &st) == Y_OK);
	store_close(st);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM schema_migrations"),
		     store_migrations_count);
	CHECK_EQ_INT(raw_int(path, "SELECT sum(applied_at) FROM schema_migrations"),
		     stamp - 7LL * store_migrations_count);
}

TEST(database_from_the_future_is_refused)
{
	char path[300], sql[200];
	struct store *st;
	char *logs = NULL;
	size_t loglen = 0;
	FILE *f;

	new_path(path);
	REQUIRE(store_open(path, &st) == Y_OK);
	store_close(st);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, 'x', 1)",
		 store_migrations_count + 1);
	REQUIRE(raw_exec(path, sql) == SQLITE_OK);

	f = open_memstream(&logs, &loglen);
	REQUIRE(f != NULL);
	ylog_set_output(f);
	ylog_min = YLOG_INFO;
	st = (struct store *)1;
	CHECK_EQ_INT(store_open(path, &st), Y_EVERSION);
	CHECK(st == NULL);
	ylog_set_output(NULL);
	ylog_min = YLOG_OFF;
	fclose(f);
	CHECK(logs && strstr(logs, "newer than this binary"));
	CHECK(logs && strstr(logs, "\"database_version\"") && strstr(logs, "\"error\""));
	free(logs);
	/* still refused, and nothing was changed */
	CHECK_EQ_INT(store_open(path, &st), Y_EVERSION);
	CHECK_EQ_INT(raw_int(path, "SELECT max(version) FROM schema_migrations"),
		     store_migrations_count + 1);
}

TEST(failed_migration_rolls_back_whole_version)
{
	char path[300];
	struct store *st;
	int applied, known;

	new_path(path);
	REQUIRE(store_sqlite_open_upto(path, 1, &st) == Y_OK);
	store_close(st);
	/* Occupy a name that migration 2 creates after its first index. */
	REQUIRE(raw_exec(path, "CREATE TABLE messages_ts (x)") == SQLITE_OK);
	CHECK_EQ_INT(store_open(path, &st), Y_EDB);
	CHECK_EQ_INT(raw_int(path, "SELECT max(version) FROM schema_migrations"), 1);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE "
				   "name = 'messages_session_ts'"), 0);
	REQUIRE(raw_exec(path, "DROP TABLE messages_ts") == SQLITE_OK);
	REQUIRE(store_open(path, &st) == Y_OK);
	CHECK_EQ_INT(store_schema_version(st, &applied, &known), Y_OK);
	CHECK_EQ_INT(applied, known);
	store_close(st);
	CHECK_EQ_INT(store_sqlite_open_upto(path, store_migrations_count + 1, &st), Y_EINVAL);
}

int main(void)
{
	if (tmpdir_make(tmp, sizeof(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	ylog_min = YLOG_OFF;
	RUN(embedded_list_is_numbered);
	RUN(fresh_database_gets_every_version);
	RUN(every_older_version_upgrades_with_data_intact);
	RUN(reopen_is_a_no_op);
	RUN(database_from_the_future_is_refused);
	RUN(failed_migration_rolls_back_whole_version);
	tmpdir_remove(tmp);
	return test_summary();
}
