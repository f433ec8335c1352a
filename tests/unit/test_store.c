/* Tests of the SQLite store (store.h) on temporary databases. */
#include "test.h"
#include "tmpdir.h"

#include "store/store.h"
#include "store/store_sqlite.h"
#include "service/webhook.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/uuid.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

static char tmp[256];
static int dbn;

/* Opens a fresh database file in the temp directory; path (if non-NULL,
 * 300 bytes) gets its file name. */
static struct store *fresh(char *path)
{
	char p[300];
	struct store *st = NULL;

	snprintf(p, sizeof(p), "%s/db%d.sqlite", tmp, ++dbn);
	if (path)
		memcpy(path, p, sizeof(p));
	if (store_open(p, &st) != Y_OK)
		return NULL;
	return st;
}

/* Runs a single-integer query on the database file directly. */
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

static void fill_hash(uint8_t h[32], uint8_t seed)
{
	for (int i = 0; i < 32; i++)
		h[i] = (uint8_t)(seed * 31 + i);
}

static int add_message(struct store *st, const char *sid, int64_t ts, const char *wa_id)
{
	struct store_message m;

	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", sid);
	m.chat = "15551234567@s.whatsapp.net";
	m.type = "text";
	m.body = "{\"text\":\"hi\"}";
	m.status = "pending";
	m.wa_id = (char *)wa_id;
	m.timestamp = ts;
	return store_message_insert(st, &m);
}

TEST(open_creates_dirs_wal_and_refuses_postgres)
{
	char url[400], path[300];
	struct store *st = (struct store *)1;
	struct stat sb;
	int applied = -1, known = -1;

	snprintf(path, sizeof(path), "%s/a/b/db.sqlite", tmp);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	REQUIRE(store_open(url, &st) == Y_OK);
	CHECK(stat(path, &sb) == 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600); /* webhook secrets live here */
	CHECK_EQ_INT(store_ping(st), Y_OK);
	CHECK_EQ_INT(store_schema_version(st, &applied, &known), Y_OK);
	CHECK(known >= 2);
	CHECK_EQ_INT(applied, known);
	store_close(st);
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK);
	REQUIRE(sqlite3_step(s) == SQLITE_ROW);
	CHECK_EQ_STR((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);

	st = (struct store *)1;
	CHECK_EQ_INT(store_open("postgres://u:p@localhost/db", &st), Y_EUNSUPPORTED);
	CHECK(st == NULL);
	CHECK_EQ_INT(store_open("", &st), Y_EINVAL);
	CHECK_EQ_INT(store_open("mysql://x", &st), Y_EINVAL);
	snprintf(url, sizeof(url), "%s/not-a-dir", tmp);
	FILE *f = fopen(url, "w");
	REQUIRE(f != NULL);
	fclose(f);
	snprintf(url, sizeof(url), "%s/not-a-dir/db.sqlite", tmp);
	CHECK(store_open(url, &st) != Y_OK);
	store_close(NULL);
}

/* The one table between the status enum and its text: every value has a
 * distinct name that parses back to it; nothing else parses; and a row whose
 * TEXT column holds an unknown status is refused, not read as some status. */
TEST(session_status_text_map_and_parse)
{
	static const char *const bad[] = { "", "bogus", "Connected", "connected ", " qr",
					   "logged-out", "passkey", "failedx", NULL };
	enum store_session_status got;
	char path[300], sql[256];
	struct store *st = fresh(path);
	struct store_session s, g;
	sqlite3 *db = NULL;

	for (int i = 0; i < STORE_SESSION_STATUS_COUNT; i++) {
		const char *name = store_session_status_name((enum store_session_status)i);

		REQUIRE(name != NULL);
		got = (enum store_session_status)-1;
		CHECK_EQ_INT(store_session_status_parse(name, &got), Y_OK);
		CHECK_EQ_INT(got, i);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(name, store_session_status_name((enum store_session_status)j)));
	}
	CHECK_EQ_STR(store_session_status_name(STORE_SESSION_PENDING), "pending");
	CHECK_EQ_STR(store_session_status_name(STORE_SESSION_PASSKEY_REQUIRED), "passkey_required");
	CHECK(store_session_status_name((enum store_session_status)STORE_SESSION_STATUS_COUNT) ==
	      NULL);
	CHECK(store_session_status_name((enum store_session_status)-1) == NULL);
	for (int i = 0; bad[i]; i++) {
		got = STORE_SESSION_QR;
		CHECK_EQ_INT(store_session_status_parse(bad[i], &got), Y_EINVAL);
		CHECK_EQ_INT(got, STORE_SESSION_QR); /* untouched */
	}
	CHECK_EQ_INT(store_session_status_parse(NULL, &got), Y_EINVAL);

	/* the column as the store writes it, and a row it would never write */
	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "x", &s) == Y_OK);
	CHECK_EQ_INT(store_session_set_status(st, s.id, STORE_SESSION_LOGGED_OUT, NULL), Y_OK);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM sessions WHERE id = '%s' AND status = 'logged_out'", s.id);
	CHECK_EQ_INT(raw_int(path, sql), 1);
	snprintf(sql, sizeof(sql), "UPDATE sessions SET status = 'bogus' WHERE id = '%s'", s.id);
	REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM sessions WHERE status = 'bogus'"), 1);
	CHECK_EQ_INT(store_session_get(st, s.id, &g), Y_EDB);
	store_session_release(&s);
	store_close(st);
}

TEST(session_crud_and_webhook)
{
	struct store *st = fresh(NULL);
	struct store_session s, g;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "main", &s) == Y_OK);
	CHECK(uuid_valid(s.id));
	CHECK_EQ_STR(s.name, "main");
	CHECK_EQ_INT(s.status, STORE_SESSION_PENDING);
	CHECK(s.phone == NULL && s.webhook_url == NULL && s.webhook_events == NULL);
	CHECK(s.created_at > 0 && s.created_at == s.updated_at);

	CHECK_EQ_INT(store_session_set_status(st, s.id, STORE_SESSION_CONNECTED, "15551234567"), Y_OK);
	CHECK_EQ_INT(store_session_set_status(st, s.id, STORE_SESSION_QR, NULL), Y_OK);
	CHECK_EQ_INT(store_session_set_status(st, s.id, (enum store_session_status)STORE_SESSION_STATUS_COUNT, NULL), Y_EINVAL);
	CHECK_EQ_INT(store_session_set_status(st, "nope", STORE_SESSION_QR, NULL), Y_ENOTFOUND);
	REQUIRE(store_session_get(st, s.id, &g) == Y_OK);
	CHECK_EQ_INT(g.status, STORE_SESSION_QR);
	CHECK_EQ_STR(g.phone, "15551234567"); /* NULL kept the phone */
	CHECK(g.updated_at >= g.created_at);
	store_session_release(&g);

	CHECK_EQ_INT(store_session_set_webhook(st, s.id, "https://example.test/hook", "sec",
					       "[\"message\"]"), Y_OK);
	REQUIRE(store_session_get(st, s.id, &g) == Y_OK);
	CHECK_EQ_STR(g.webhook_url, "https://example.test/hook");
	CHECK_EQ_STR(g.webhook_secret, "sec");
	CHECK_EQ_STR(g.webhook_events, "[\"message\"]");
	store_session_release(&g);
	CHECK_EQ_INT(store_session_set_webhook(st, s.id, NULL, "ignored", "[]"), Y_OK);
	REQUIRE(store_session_get(st, s.id, &g) == Y_OK);
	CHECK(g.webhook_url == NULL && g.webhook_secret == NULL && g.webhook_events == NULL);
	store_session_release(&g);
	CHECK_EQ_INT(store_session_set_webhook(st, "nope", NULL, NULL, NULL), Y_ENOTFOUND);

	CHECK_EQ_INT(store_session_delete(st, s.id), Y_OK);
	CHECK_EQ_INT(store_session_get(st, s.id, &g), Y_ENOTFOUND);
	CHECK_EQ_INT(store_session_delete(st, s.id), Y_ENOTFOUND);
	store_session_release(&s);
	store_session_release(NULL);
	store_close(st);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(session_pages_have_no_gaps_or_duplicates)
{
	enum { N = 23, PAGE = 5 };
	struct store *st = fresh(NULL);
	char *made[N], *seen[N + 1];
	size_t nseen = 0;
	struct store_cursor cur;
	int has_next = 1, pages = 0;
	int64_t prev_ts = INT64_MAX;
	char prev_id[STORE_ID_LEN] = "\x7f";

	REQUIRE(st != NULL);
	for (int i = 0; i < N; i++) {
		struct store_session s;

		REQUIRE(store_session_create(st, "s", &s) == Y_OK);
		made[i] = strdup(s.id);
		store_session_release(&s);
	}
	while (has_next) {
		struct store_session *rows;
		size_t n;

		REQUIRE(store_session_list(st, pages ? &cur : NULL, PAGE, &rows, &n, &cur,
					   &has_next) == Y_OK);
		pages++;
		CHECK(n == PAGE || !has_next);
		for (size_t i = 0; i < n && nseen < N + 1; i++) {
			/* strictly descending by (created_at, id) */
			CHECK(rows[i].created_at < prev_ts ||
			      (rows[i].created_at == prev_ts && strcmp(rows[i].id, prev_id) < 0));
			prev_ts = rows[i].created_at;
			snprintf(prev_id, sizeof(prev_id), "%s", rows[i].id);
			seen[nseen++] = strdup(rows[i].id);
		}
		store_sessions_free(rows, n);
		REQUIRE(pages <= N);
	}
	CHECK_EQ_INT(pages, (N + PAGE - 1) / PAGE);
	REQUIRE(nseen == N);
	qsort(made, N, sizeof(char *), cmp_str);
	qsort(seen, N, sizeof(char *), cmp_str);
	for (int i = 0; i < N; i++)
		CHECK_EQ_STR(made[i], seen[i]);
	for (int i = 0; i < N; i++) {
		free(made[i]);
		free(seen[i]);
	}
	struct store_session *rows = (struct store_session *)1;
	size_t n = 9;
	CHECK_EQ_INT(store_session_list(st, NULL, 0, &rows, &n, &cur, &has_next), Y_EINVAL);
	CHECK_EQ_INT(store_session_list(st, NULL, STORE_LIST_MAX + 1, &rows, &n, &cur, &has_next),
		     Y_EINVAL);
	CHECK(rows == NULL && n == 0);
	store_close(st);
}

TEST(message_pages_survive_ties_and_new_inserts)
{
	enum { N = 47, PAGE = 10 };
	struct store *st = fresh(NULL);
	struct store_session s, other;
	struct store_cursor cur;
	int has_next = 1, pages = 0, seen_old = 0;
	char seen[N + 1][STORE_ID_LEN];
	size_t nseen = 0;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	REQUIRE(store_session_create(st, "b", &other) == Y_OK);
	for (int i = 0; i < N; i++) /* timestamps repeat: only the id breaks ties */
		REQUIRE(add_message(st, s.id, 1000 + i / 4, NULL) == Y_OK);
	for (int i = 0; i < 5; i++)
		REQUIRE(add_message(st, other.id, 1000 + i, NULL) == Y_OK);
	while (has_next) {
		struct store_message *rows;
		size_t n;

		REQUIRE(store_message_list(st, s.id, pages ? &cur : NULL, PAGE, &rows, &n, &cur,
					   &has_next) == Y_OK);
		if (pages == 0) /* a newer message arriving between pages is not repeated */
			REQUIRE(add_message(st, s.id, 999999, NULL) == Y_OK);
		pages++;
		for (size_t i = 0; i < n; i++) {
			CHECK_EQ_STR(rows[i].session_id, s.id);
			for (size_t k = 0; k < nseen; k++)
				CHECK(strcmp(seen[k], rows[i].id) != 0);
			if (nseen < N + 1)
				memcpy(seen[nseen++], rows[i].id, STORE_ID_LEN);
			if (rows[i].timestamp < 999999)
				seen_old++;
		}
		store_messages_free(rows, n);
		REQUIRE(pages <= N);
	}
	CHECK_EQ_INT(seen_old, N);
	CHECK_EQ_INT(nseen, N);

	struct store_message *rows;
	size_t n;
	CHECK_EQ_INT(store_message_list(st, "no-such-session", NULL, 10, &rows, &n, &cur, &has_next),
		     Y_ENOTFOUND);
	REQUIRE(store_message_list(st, other.id, NULL, 10, &rows, &n, &cur, &has_next) == Y_OK);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(has_next, 0);
	store_messages_free(rows, n);
	store_session_release(&s);
	store_session_release(&other);
	store_close(st);
}

TEST(message_insert_get_status)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_message m, g;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	memset(&m, 0, sizeof(m));
	memcpy(m.session_id, s.id, STORE_ID_LEN);
	m.chat = "123@g.us";
	m.type = "text";
	m.status = "pending";
	m.from_me = 1;
	REQUIRE(store_message_insert(st, &m) == Y_OK);
	CHECK(uuid_valid(m.id));
	CHECK(m.created_at > 0 && m.timestamp == m.created_at);
	REQUIRE(store_message_get(st, s.id, m.id, &g) == Y_OK);
	CHECK_EQ_STR(g.chat, "123@g.us");
	CHECK_EQ_INT(g.from_me, 1);
	CHECK(g.body == NULL && g.wa_id == NULL);
	store_message_release(&g);
	CHECK_EQ_INT(store_message_insert(st, &m), Y_EEXIST); /* same id */

	CHECK_EQ_INT(store_message_set_status(st, m.id, "sent", "3EB0ABCDEF"), Y_OK);
	CHECK_EQ_INT(store_message_set_status(st, m.id, "delivered", NULL), Y_OK);
	CHECK_EQ_INT(store_message_set_status(st, m.id, "lost", NULL), Y_EINVAL);
	CHECK_EQ_INT(store_message_set_status(st, "nope", "read", NULL), Y_ENOTFOUND);
	REQUIRE(store_message_get(st, s.id, m.id, &g) == Y_OK);
	CHECK_EQ_STR(g.status, "delivered");
	CHECK_EQ_STR(g.wa_id, "3EB0ABCDEF");
	store_message_release(&g);
	CHECK_EQ_INT(add_message(st, s.id, 5, "3EB0ABCDEF"), Y_EEXIST); /* wa_id taken */
	CHECK_EQ_INT(store_message_get(st, "other", m.id, &g), Y_ENOTFOUND);

	CHECK_EQ_INT(add_message(st, "no-such-session", 5, NULL), Y_ENOTFOUND);
	memset(&m, 0, sizeof(m));
	memcpy(m.session_id, s.id, STORE_ID_LEN);
	m.chat = "x";
	m.type = "text";
	m.status = "weird";
	CHECK_EQ_INT(store_message_insert(st, &m), Y_EINVAL);
	m.status = "pending";
	m.chat = NULL;
	CHECK_EQ_INT(store_message_insert(st, &m), Y_EINVAL);
	store_session_release(&s);
	store_close(st);
}

/* A row of session sid for the batch test (status, wa_id given). */
static void batch_row(struct store_message *m, const char *sid, const char *status,
		      const char *wa_id, int from_me)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->session_id, STORE_ID_LEN, "%s", sid);
	m->chat = m->to_jid = "15550001111@s.whatsapp.net";
	m->type = "text";
	m->text = "hi";
	m->status = (char *)status;
	m->wa_id = (char *)wa_id;
	m->from_me = from_me;
}

/* Group commit: one transaction for many rows, each row's own failure
 * kept to itself, every stored row read back; a database that cannot be
 * written fails the whole batch and stores nothing. */
TEST(message_batch_insert_rows_fail_alone)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_session s;
	struct store_message ms[5], outs[5], g;
	struct store_event *ev = NULL;
	size_t nev = 0;
	int rcs[5], more = 0;
	sqlite3 *other = NULL;
	static const char *const only_message[] = { "message", NULL };

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	batch_row(&ms[0], s.id, "pending", "3EB0B0", 1);
	batch_row(&ms[1], "no-such-session", "pending", "3EB0B1", 1);
	batch_row(&ms[2], s.id, "weird", "3EB0B2", 1);
	batch_row(&ms[3], s.id, "pending", "3EB0B0", 1); /* the wa_id of row 0 */
	batch_row(&ms[4], s.id, "received", "3EB0B4", 0);
	REQUIRE(store_messages_insert_batch(st, ms, 5, rcs, outs) == Y_OK);
	CHECK_EQ_INT(rcs[0], Y_OK);
	CHECK_EQ_INT(rcs[1], Y_ENOTFOUND);
	CHECK_EQ_INT(rcs[2], Y_EINVAL);
	CHECK_EQ_INT(rcs[3], Y_EEXIST);
	CHECK_EQ_INT(rcs[4], Y_OK);
	CHECK(uuid_valid(ms[0].id) && uuid_valid(ms[4].id));
	CHECK_EQ_STR(outs[0].id, ms[0].id);
	CHECK_EQ_STR(outs[0].status, "pending");
	CHECK_EQ_STR(outs[0].wa_id, "3EB0B0");
	CHECK_EQ_INT(outs[0].from_me, 1);
	CHECK_EQ_STR(outs[4].status, "received");
	CHECK(outs[1].chat == NULL && outs[2].chat == NULL && outs[3].chat == NULL);
	REQUIRE(store_message_get(st, s.id, ms[0].id, &g) == Y_OK); /* committed */
	/* what the batch gave is the row as the database holds it */
	CHECK_EQ_STR(outs[0].chat, g.chat);
	CHECK_EQ_STR(outs[0].type, g.type);
	CHECK_EQ_STR(outs[0].body ? outs[0].body : "-", g.body ? g.body : "-");
	CHECK_EQ_STR(outs[0].to_jid ? outs[0].to_jid : "-", g.to_jid ? g.to_jid : "-");
	CHECK_EQ_INT(outs[0].timestamp, g.timestamp);
	CHECK_EQ_INT(outs[0].created_at, g.created_at);
	CHECK_EQ_INT(outs[0].updated_at, g.updated_at);
	CHECK(outs[0].timestamp > 0 && outs[0].updated_at == outs[0].created_at);
	store_message_release(&g);
	for (int i = 0; i < 5; i++)
		store_message_release(&outs[i]);
	CHECK_EQ_INT(store_message_get(st, s.id, ms[3].id, &g), Y_ENOTFOUND);
	/* the inbound row is a `message` event, as store_message_insert makes */
	REQUIRE(store_event_list(st, s.id, 0, only_message, 10, &ev, &nev, &more) == Y_OK);
	CHECK_EQ_INT(nev, 1);
	CHECK(nev == 1 && !strcmp(ev[0].type, "message"));
	store_events_free(ev, nev);
	CHECK_EQ_INT(store_messages_insert_batch(st, ms, 0, rcs, outs), Y_OK);

	/* another connection holds the write lock: all fail, none stored */
	store_sqlite_set_busy_timeout(st, 50);
	REQUIRE(sqlite3_open(path, &other) == SQLITE_OK);
	REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
	batch_row(&ms[0], s.id, "pending", "3EB0C0", 1);
	batch_row(&ms[1], s.id, "pending", "3EB0C1", 1);
	CHECK_EQ_INT(store_messages_insert_batch(st, ms, 2, rcs, outs), Y_EBUSY);
	CHECK_EQ_INT(rcs[0], Y_EBUSY);
	CHECK_EQ_INT(rcs[1], Y_EBUSY);
	CHECK(outs[0].chat == NULL && outs[1].chat == NULL);
	REQUIRE(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(other);
	CHECK_EQ_INT(store_message_get(st, s.id, ms[0].id, &g), Y_ENOTFOUND);
	REQUIRE(store_messages_insert_batch(st, ms, 2, rcs, outs) == Y_OK); /* recovers */
	CHECK_EQ_INT(rcs[0] | rcs[1], Y_OK);
	store_message_release(&outs[0]);
	store_message_release(&outs[1]);
	store_session_release(&s);
	store_close(st);
}

/* The worker's status moves in one transaction: each keeps its own result
 * (forward only, unknown ids and bad statuses alone), each move an event. */
TEST(message_status_batch_moves_each_alone)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_message ms[2], outs[2], g;
	struct store_event *ev = NULL;
	size_t nev = 0;
	int rcs[5], more = 0;
	static const char *const only_ack[] = { "message.ack", NULL };

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	batch_row(&ms[0], s.id, "pending", "3EB0D0", 1);
	batch_row(&ms[1], s.id, "pending", "3EB0D1", 1);
	REQUIRE(store_messages_insert_batch(st, ms, 2, rcs, outs) == Y_OK);
	store_message_release(&outs[0]);
	store_message_release(&outs[1]);
	{
		struct store_status_update u[5] = {
			{ s.id, "3EB0D0", "sent", NULL },
			{ s.id, "3EB0NONE", "sent", NULL },
			{ s.id, "3EB0D1", "bogus", NULL },
			{ s.id, "3EB0D1", "read", NULL },
			{ s.id, "3EB0D1", "delivered", NULL }, /* not backwards */
		};

		REQUIRE(store_messages_update_wa_batch(st, u, 5, rcs) == Y_OK);
	}
	CHECK_EQ_INT(rcs[0], Y_OK);
	CHECK_EQ_INT(rcs[1], Y_ENOTFOUND);
	CHECK_EQ_INT(rcs[2], Y_EINVAL);
	CHECK_EQ_INT(rcs[3], Y_OK);
	CHECK_EQ_INT(rcs[4], Y_ENOTFOUND);
	REQUIRE(store_message_get(st, s.id, ms[0].id, &g) == Y_OK);
	CHECK_EQ_STR(g.status, "sent");
	store_message_release(&g);
	REQUIRE(store_message_get(st, s.id, ms[1].id, &g) == Y_OK);
	CHECK_EQ_STR(g.status, "read");
	store_message_release(&g);
	REQUIRE(store_event_list(st, s.id, 0, only_ack, 10, &ev, &nev, &more) == Y_OK);
	CHECK_EQ_INT(nev, 2);
	store_events_free(ev, nev);
	CHECK_EQ_INT(store_messages_update_wa_batch(st, NULL, 0, rcs), Y_OK);
	store_session_release(&s);
	store_close(st);
}

/* Outbound messages by WhatsApp id: statuses only move forward, pending
 * ones list oldest first and count; prekeys come back with their keys. */
TEST(message_status_by_wa_id_pending_and_prekeys)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_message m, g, *rows;
	size_t n;
	int64_t cnt;
	const char *wa[3] = { "3EB0AAAA", "3EB0BBBB", "3EB0CCCC" };
	uint32_t ids[2] = { 7, 8 }, *got_ids;
	uint8_t priv[2][32], (*got_priv)[32];

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	for (int i = 0; i < 3; i++) {
		memset(&m, 0, sizeof(m));
		memcpy(m.session_id, s.id, STORE_ID_LEN);
		m.chat = m.to_jid = "15550001111@s.whatsapp.net";
		m.type = "text";
		m.text = "hi";
		m.status = "pending";
		m.from_me = 1;
		m.wa_id = (char *)wa[i];
		m.created_at = 1000 + i;
		REQUIRE(store_message_insert(st, &m) == Y_OK);
	}
	REQUIRE(store_messages_pending_count(st, s.id, &cnt) == Y_OK);
	CHECK_EQ_INT(cnt, 3);
	CHECK_EQ_INT(store_message_update_wa(st, s.id, wa[0], "read", NULL), Y_OK);
	CHECK_EQ_INT(store_message_update_wa(st, s.id, wa[0], "delivered", NULL), Y_ENOTFOUND);
	CHECK_EQ_INT(store_message_update_wa(st, s.id, wa[0], "sent", NULL), Y_ENOTFOUND);
	CHECK_EQ_INT(store_message_update_wa(st, s.id, wa[1], "failed", "ack_error_463"), Y_OK);
	CHECK_EQ_INT(store_message_update_wa(st, s.id, wa[1], "sent", NULL), Y_ENOTFOUND);
	CHECK_EQ_INT(store_message_update_wa(st, s.id, "3EB0NONE", "sent", NULL), Y_ENOTFOUND);
	CHECK_EQ_INT(store_message_update_wa(st, s.id, wa[2], "bogus", NULL), Y_EINVAL);
	REQUIRE(store_messages_pending(st, s.id, 10, &rows, &n) == Y_OK);
	REQUIRE(n == 1);
	CHECK_EQ_STR(rows[0].wa_id, wa[2]);
	CHECK_EQ_STR(rows[0].text, "hi");
	CHECK_EQ_STR(rows[0].to_jid, "15550001111@s.whatsapp.net");
	REQUIRE(store_message_get(st, s.id, rows[0].id, &g) == Y_OK);
	CHECK_EQ_INT(g.from_me, 1);
	store_message_release(&g);
	store_messages_free(rows, n);
	{
		struct store_cursor next;
		int has_next, found = 0;

		REQUIRE(store_message_list(st, s.id, NULL, 10, &rows, &n, &next, &has_next) == Y_OK);
		for (size_t i = 0; i < n; i++)
			if (!strcmp(rows[i].wa_id, wa[1]) && !strcmp(rows[i].status, "failed") &&
			    rows[i].reason && !strcmp(rows[i].reason, "ack_error_463") &&
			    rows[i].updated_at >= rows[i].created_at)
				found++;
		CHECK_EQ_INT(found, 1);
		store_messages_free(rows, n);
	}

	memset(priv, 0x5a, sizeof(priv));
	priv[1][0] = 1;
	REQUIRE(store_creds_put(st, s.id, &(struct store_creds){ .registration_id = 1 }) == Y_OK);
	REQUIRE(store_prekeys_add(st, s.id, ids, (const uint8_t(*)[32])priv, 2) == Y_OK);
	REQUIRE(store_prekeys_all(st, s.id, &got_ids, &got_priv, &n) == Y_OK);
	REQUIRE(n == 2);
	CHECK(got_ids[0] == 7 && got_ids[1] == 8);
	CHECK(!memcmp(got_priv, priv, sizeof(priv)));
	free(got_ids);
	free(got_priv);
	/* without Signal records both are unrecorded; once prekey 7 has its
	 * record (kind 2, key "7") only 8 is, and a record of another kind
	 * or another session with that key does not count */
	REQUIRE(store_prekeys_unrecorded(st, s.id, &got_ids, &got_priv, &n) == Y_OK);
	CHECK_EQ_INT((int)n, 2);
	free(got_ids);
	free(got_priv);
	{
		static const uint8_t rec[] = { 1, 2, 3 };
		struct store_session other;
		struct store_signal_op ops[] = {
			{ s.id, 2, "7", rec, sizeof(rec) },
			{ s.id, 3, "8", rec, sizeof(rec) },
			{ NULL, 2, "8", rec, sizeof(rec) },
		};

		REQUIRE(store_session_create(st, "other", &other) == Y_OK);
		ops[2].session_id = other.id;
		REQUIRE(store_signal_write(st, ops, 3) == Y_OK);
		REQUIRE(store_prekeys_unrecorded(st, s.id, &got_ids, &got_priv, &n) == Y_OK);
		REQUIRE(n == 1);
		CHECK(got_ids[0] == 8);
		CHECK(!memcmp(got_priv[0], priv[1], 32));
		free(got_ids);
		free(got_priv);
		store_session_release(&other);
	}
	store_session_release(&s);
	store_close(st);
}

TEST(delete_cascades_to_messages_and_webhook_log)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_session a, b;
	char q[200];

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &a) == Y_OK);
	REQUIRE(store_session_create(st, "b", &b) == Y_OK);
	for (int i = 0; i < 3; i++) {
		REQUIRE(add_message(st, a.id, 100 + i, NULL) == Y_OK);
		REQUIRE(add_message(st, b.id, 100 + i, NULL) == Y_OK);
	}
	CHECK_EQ_INT(store_webhook_log_add(st, a.id, "message", "http://127.0.0.1:9/h", 500, 1,
					   "server error"), Y_OK);
	CHECK_EQ_INT(store_webhook_log_add(st, b.id, "message", "http://127.0.0.1:9/h", 200, 1,
					   NULL), Y_OK);
	CHECK_EQ_INT(store_webhook_log_add(st, NULL, "startup", "http://127.0.0.1:9/h", 0, 1,
					   NULL), Y_OK);
	CHECK_EQ_INT(store_webhook_log_add(st, "no-such", "x", "http://h", 0, 1, NULL),
		     Y_ENOTFOUND);
	CHECK_EQ_INT(store_webhook_log_add(st, a.id, NULL, "http://h", 0, 1, NULL), Y_EINVAL);
	REQUIRE(store_session_delete(st, a.id) == Y_OK);
	store_close(st);

	snprintf(q, sizeof(q), "SELECT count(*) FROM messages WHERE session_id = '%s'", a.id);
	CHECK_EQ_INT(raw_int(path, q), 0);
	snprintf(q, sizeof(q), "SELECT count(*) FROM webhook_log WHERE session_id = '%s'", a.id);
	CHECK_EQ_INT(raw_int(path, q), 0);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM messages"), 3);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM webhook_log"), 2);
	store_session_release(&a);
	store_session_release(&b);
}

TEST(apikeys_add_find_touch_revoke)
{
	struct store *st = fresh(NULL);
	uint8_t h1[32], h2[32], h3[32];
	char id1[STORE_ID_LEN], id2[STORE_ID_LEN], found[STORE_ID_LEN];
	struct store_apikey *keys;
	size_t n;
	int64_t active = -1;

	REQUIRE(st != NULL);
	fill_hash(h1, 1);
	fill_hash(h2, 2);
	fill_hash(h3, 3);
	CHECK_EQ_INT(store_apikey_count_active(st, &active), Y_OK);
	CHECK_EQ_INT(active, 0);
	REQUIRE(store_apikey_add(st, h1, "ci", "0123abcd", id1) == Y_OK);
	REQUIRE(store_apikey_add(st, h2, NULL, "ffff0000", id2) == Y_OK);
	CHECK(uuid_valid(id1) && uuid_valid(id2) && strcmp(id1, id2));
	CHECK_EQ_INT(store_apikey_add(st, h1, "dup", "0123abcd", found), Y_EEXIST);
	CHECK_EQ_INT(store_apikey_count_active(st, &active), Y_OK);
	CHECK_EQ_INT(active, 2);

	REQUIRE(store_apikey_find(st, h1, found) == Y_OK);
	CHECK_EQ_STR(found, id1);
	REQUIRE(store_apikey_find(st, h2, found) == Y_OK);
	CHECK_EQ_STR(found, id2);
	CHECK_EQ_INT(store_apikey_find(st, h3, found), Y_ENOTFOUND);
	for (int i = 0; i < 32; i++) { /* every byte of the digest counts */
		uint8_t near[32];

		memcpy(near, h1, 32);
		near[i] ^= 0x01;
		CHECK_EQ_INT(store_apikey_find(st, near, found), Y_ENOTFOUND);
	}

	int64_t now = clock_now_ms();
	CHECK_EQ_INT(store_apikey_touch(st, id1, now), Y_OK);
	CHECK_EQ_INT(store_apikey_touch(st, id1, now + 1000), Y_OK); /* within a minute: kept */
	CHECK_EQ_INT(store_apikey_touch(st, "unknown", now), Y_OK);
	REQUIRE(store_apikey_list(st, &keys, &n) == Y_OK);
	REQUIRE(n == 2);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(keys[i].id, id1)) {
			CHECK_EQ_STR(keys[i].name, "ci");
			CHECK_EQ_STR(keys[i].prefix, "0123abcd");
			CHECK_EQ_INT(keys[i].last_used_at, now);
		} else {
			CHECK_EQ_STR(keys[i].name, "");
			CHECK_EQ_INT(keys[i].last_used_at, 0);
		}
		CHECK_EQ_INT(keys[i].revoked, 0);
		CHECK(keys[i].created_at > 0);
	}
	CHECK(keys[0].created_at > keys[1].created_at ||
	      (keys[0].created_at == keys[1].created_at && strcmp(keys[0].id, keys[1].id) > 0));
	store_apikeys_free(keys, n);
	CHECK_EQ_INT(store_apikey_touch(st, id1, now + 61000), Y_OK);

	CHECK_EQ_INT(store_apikey_revoke(st, id1), Y_OK);
	CHECK_EQ_INT(store_apikey_revoke(st, id1), Y_OK); /* twice is fine */
	CHECK_EQ_INT(store_apikey_revoke(st, "no-such-id"), Y_ENOTFOUND);
	CHECK_EQ_INT(store_apikey_find(st, h1, found), Y_ENOTFOUND);
	CHECK_EQ_INT(store_apikey_count_active(st, &active), Y_OK);
	CHECK_EQ_INT(active, 1);
	REQUIRE(store_apikey_list(st, &keys, &n) == Y_OK);
	REQUIRE(n == 2);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ_INT(keys[i].revoked, !strcmp(keys[i].id, id1));
		if (!strcmp(keys[i].id, id1))
			CHECK_EQ_INT(keys[i].last_used_at, now + 61000);
	}
	store_apikeys_free(keys, n);
	store_apikeys_free(NULL, 0);
	store_close(st);
}

/* Retention deletes in bounded batches, each its own transaction, so that
 * the store's mutex is let go between them (the API and the workers wait
 * for one batch at the most, not for the whole backlog). */
TEST(prune_goes_in_bounded_batches)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_session s;
	int64_t deleted = -1, now = clock_now_ms();
	bool more = false;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	for (int i = 0; i < 25; i++)
		REQUIRE(add_message(st, s.id, now - 10 * 86400000LL + i, NULL) == Y_OK);
	REQUIRE(add_message(st, s.id, now, NULL) == Y_OK);
	CHECK_EQ_INT(store_prune_batch(st, now - 86400000LL, 10, &deleted, &more), Y_OK);
	CHECK_EQ_INT(deleted, 10);
	CHECK(more);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM messages"), 16);
	/* the oldest went first */
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM messages WHERE timestamp < (SELECT min(timestamp) FROM messages)"), 0);
	CHECK_EQ_INT(store_prune_batch(st, now - 86400000LL, 10, &deleted, &more), Y_OK);
	CHECK_EQ_INT(deleted, 10);
	CHECK(more);
	CHECK_EQ_INT(store_prune_batch(st, now - 86400000LL, 10, &deleted, &more), Y_OK);
	CHECK_EQ_INT(deleted, 5);
	CHECK(!more);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM messages"), 1);
	/* store_prune goes batch after batch to the end */
	for (int i = 0; i < 2500; i++)
		REQUIRE(add_message(st, s.id, now - 10 * 86400000LL + i, NULL) == Y_OK);
	CHECK_EQ_INT(store_prune(st, now - 86400000LL, &deleted), Y_OK);
	CHECK_EQ_INT(deleted, 2500);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM messages"), 1);
	store_session_release(&s);
	store_close(st);
}

TEST(prune_deletes_only_older_rows)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_session s;
	int64_t deleted = -1;
	int64_t now = clock_now_ms();

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	REQUIRE(add_message(st, s.id, now - 10 * 86400000LL, NULL) == Y_OK);
	REQUIRE(add_message(st, s.id, now - 5 * 86400000LL, NULL) == Y_OK);
	REQUIRE(add_message(st, s.id, now, NULL) == Y_OK);
	REQUIRE(store_webhook_log_add(st, s.id, "message", "http://h", 200, 1, NULL) == Y_OK);

	CHECK_EQ_INT(store_prune(st, now - 20 * 86400000LL, &deleted), Y_OK);
	CHECK_EQ_INT(deleted, 0);
	CHECK_EQ_INT(store_prune(st, now - 7 * 86400000LL, &deleted), Y_OK);
	CHECK_EQ_INT(deleted, 1);
	CHECK_EQ_INT(store_prune(st, now - 7 * 86400000LL, NULL), Y_OK);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM messages"), 2);
	CHECK_EQ_INT(store_prune(st, now + 60000, &deleted), Y_OK);
	CHECK_EQ_INT(deleted, 3); /* two messages + one webhook log row */
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM webhook_log"), 0);
	CHECK_EQ_INT(raw_int(path, "SELECT count(*) FROM sessions"), 1);
	store_session_release(&s);
	store_close(st);
}

struct writer_arg {
	struct store *st;
	const char *sid;
	int base;
	int failures;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;

	for (int i = 0; i < 100; i++) {
		if (add_message(a->st, a->sid, a->base + i, NULL) != Y_OK)
			a->failures++;
		if (store_ping(a->st) != Y_OK)
			a->failures++;
	}
	return NULL;
}

TEST(threads_share_one_store)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_session s;
	pthread_t th[4];
	struct writer_arg args[4];
	char q[200];

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct writer_arg){ st, s.id, i * 1000, 0 };
		REQUIRE(pthread_create(&th[i], NULL, writer, &args[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(args[i].failures, 0);
	}
	store_close(st);
	snprintf(q, sizeof(q), "SELECT count(*) FROM messages WHERE session_id = '%s'", s.id);
	CHECK_EQ_INT(raw_int(path, q), 400);
	store_session_release(&s);
}

TEST(locked_database_is_busy_not_a_crash)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_session s;
	sqlite3 *other = NULL;

	REQUIRE(st != NULL);
	store_sqlite_set_busy_timeout(st, 50);
	REQUIRE(sqlite3_open(path, &other) == SQLITE_OK);
	REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
	CHECK_EQ_INT(store_session_create(st, "x", &s), Y_EBUSY);
	CHECK(s.name == NULL);
	REQUIRE(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(other);
	REQUIRE(store_session_create(st, "x", &s) == Y_OK); /* and it recovers */
	store_session_release(&s);
	store_close(st);
}

/* The -wal and -shm files hold the same rows as the database (webhook
 * secrets among them) until a checkpoint: they must be owner-only from the
 * moment SQLite creates them, whatever the umask. */
TEST(wal_and_shm_files_are_owner_only)
{
	char path[300], side[320];
	struct store_session s;
	struct store *st;
	struct stat sb;
	mode_t old = umask(022);

	st = fresh(path);
	umask(old);
	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "perm", &s) == Y_OK);
	CHECK_EQ_INT(store_session_set_webhook(st, s.id, "https://example.test/h", "s3cret", NULL),
		     Y_OK);
	snprintf(side, sizeof(side), "%s-wal", path);
	REQUIRE(stat(side, &sb) == 0); /* still open: the WAL file exists */
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	snprintf(side, sizeof(side), "%s-shm", path);
	REQUIRE(stat(side, &sb) == 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	CHECK(stat(path, &sb) == 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0600);
	store_session_release(&s);
	store_close(st);
}

/* A cursor comes from a client-supplied page token: an id without a NUL
 * inside its 37 bytes must not make the store read past the struct. */
TEST(cursor_id_without_nul_is_not_overread)
{
	struct store *st = fresh(NULL);
	struct store_session s, *rows = NULL;
	struct store_message *msgs = NULL;
	struct store_cursor *cur;
	size_t n = 9;
	int more = 1;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "c", &s) == Y_OK);
	/* exactly sizeof(*cur) on the heap, so ASan sees any byte beyond it */
	cur = malloc(sizeof(*cur));
	REQUIRE(cur != NULL);
	memset(cur, 'f', sizeof(*cur));
	cur->ts = INT64_MAX;
	CHECK_EQ_INT(store_session_list(st, cur, 10, &rows, &n, NULL, &more), Y_OK);
	CHECK_EQ_INT(n, 1); /* "ffff...f" sorts after every UUID at the same ts */
	store_sessions_free(rows, n);
	CHECK_EQ_INT(store_message_list(st, s.id, cur, 10, &msgs, &n, NULL, &more), Y_OK);
	CHECK_EQ_INT(n, 0);
	store_messages_free(msgs, n);
	free(cur);
	store_session_release(&s);
	store_close(st);
}

TEST(session_update_unlink_and_reset_live)
{
	struct store *st = fresh(NULL);
	struct store_session s, g;
	struct store_session_update u;
	int64_t n = -1;

	REQUIRE(st);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	memset(&u, 0, sizeof(u));
	u.status = STORE_SESSION_CONNECTED;
	u.phone = "15550001111";
	u.device_jid = "15550001111:2@s.whatsapp.net";
	u.lid = "99:2@lid";
	u.push_name = "Bob";
	u.connected_at = 1234;
	u.last_seen_at = 1235;
	CHECK_EQ_INT(store_session_update(st, s.id, &u), Y_OK);
	REQUIRE(store_session_get(st, s.id, &g) == Y_OK);
	CHECK_EQ_INT(g.status, STORE_SESSION_CONNECTED);
	CHECK_EQ_STR(g.phone, "15550001111");
	CHECK_EQ_STR(g.device_jid, "15550001111:2@s.whatsapp.net");
	CHECK_EQ_STR(g.lid, "99:2@lid");
	CHECK_EQ_STR(g.push_name, "Bob");
	CHECK(g.reason == NULL);
	CHECK_EQ_INT(g.connected_at, 1234);
	CHECK_EQ_INT(g.last_seen_at, 1235);
	store_session_release(&g);
	/* NULL strings and zero times keep; a reason is set */
	memset(&u, 0, sizeof(u));
	u.status = STORE_SESSION_DISCONNECTED;
	u.reason = "connection_lost";
	CHECK_EQ_INT(store_session_update(st, s.id, &u), Y_OK);
	REQUIRE(store_session_get(st, s.id, &g) == Y_OK);
	CHECK_EQ_INT(g.status, STORE_SESSION_DISCONNECTED);
	CHECK_EQ_STR(g.reason, "connection_lost");
	CHECK_EQ_STR(g.phone, "15550001111");
	CHECK_EQ_INT(g.connected_at, 1234);
	store_session_release(&g);
	/* start-up: nothing is connected yet */
	CHECK_EQ_INT(store_sessions_reset_live(st, &n), Y_OK);
	CHECK_EQ_INT(n, 1);
	REQUIRE(store_session_get(st, s.id, &g) == Y_OK);
	CHECK_EQ_INT(g.status, STORE_SESSION_CONNECTING);
	CHECK(g.reason == NULL);
	store_session_release(&g);
	/* unlink (logout) drops what names the device */
	memset(&u, 0, sizeof(u));
	u.status = STORE_SESSION_LOGGED_OUT;
	u.reason = "device_removed";
	u.unlink = 1;
	CHECK_EQ_INT(store_session_update(st, s.id, &u), Y_OK);
	REQUIRE(store_session_get(st, s.id, &g) == Y_OK);
	CHECK_EQ_INT(g.status, STORE_SESSION_LOGGED_OUT);
	CHECK(g.phone == NULL && g.device_jid == NULL && g.lid == NULL && g.push_name == NULL);
	store_session_release(&g);
	CHECK_EQ_INT(store_sessions_reset_live(st, &n), Y_OK);
	CHECK_EQ_INT(n, 0); /* logged_out stays */
	/* bad input */
	u.status = (enum store_session_status)STORE_SESSION_STATUS_COUNT;
	CHECK_EQ_INT(store_session_update(st, s.id, &u), Y_EINVAL);
	u.status = STORE_SESSION_QR;
	CHECK_EQ_INT(store_session_update(st, "00000000-0000-4000-8000-000000000000", &u), Y_ENOTFOUND);
	store_session_release(&s);
	store_close(st);
}

TEST(creds_prekeys_and_settings)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_creds c, g;
	uint32_t ids[3] = { 7, 8, 9 };
	uint8_t account[5] = { 0x0a, 0x03, 'a', 'b', 'c' };
	uint8_t priv[3][32], k[32];
	int64_t total, up;
	char *v = NULL;

	REQUIRE(st);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	CHECK_EQ_INT(store_creds_get(st, s.id, &g), Y_ENOTFOUND);
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < 32; i++) {
		c.noise_priv[i] = (uint8_t)i;
		c.identity_priv[i] = (uint8_t)(i + 1);
		c.spk_priv[i] = (uint8_t)(i + 2);
		c.adv_secret[i] = (uint8_t)(i + 3);
	}
	memset(c.spk_sig, 9, sizeof(c.spk_sig));
	c.registration_id = 4242;
	c.spk_id = 1;
	c.next_prekey_id = 31;
	CHECK_EQ_INT(store_creds_put(st, s.id, &c), Y_OK);
	REQUIRE(store_creds_get(st, s.id, &g) == Y_OK);
	CHECK_MEM(g.noise_priv, c.noise_priv, 32);
	CHECK_MEM(g.identity_priv, c.identity_priv, 32);
	CHECK_MEM(g.spk_priv, c.spk_priv, 32);
	CHECK_MEM(g.spk_sig, c.spk_sig, 64);
	CHECK_MEM(g.adv_secret, c.adv_secret, 32);
	CHECK_EQ_INT(g.registration_id, 4242);
	CHECK_EQ_INT(g.next_prekey_id, 31);
	CHECK(g.account == NULL && g.jid == NULL);
	store_creds_release(&g);
	/* linked: account and JIDs replace the row */
	c.account = account;
	c.account_len = sizeof(account);
	c.jid = "15550001111:2@s.whatsapp.net";
	c.lid = "99:2@lid";
	c.platform = "android";
	CHECK_EQ_INT(store_creds_put(st, s.id, &c), Y_OK);
	REQUIRE(store_creds_get(st, s.id, &g) == Y_OK);
	CHECK_EQ_INT(g.account_len, 5);
	CHECK_MEM(g.account, account, 5);
	CHECK_EQ_STR(g.jid, "15550001111:2@s.whatsapp.net");
	CHECK_EQ_STR(g.platform, "android");
	CHECK(g.push_name == NULL);
	store_creds_release(&g);
	/* prekeys: all or nothing */
	for (int i = 0; i < 3; i++)
		memset(priv[i], 0x10 + i, 32);
	CHECK_EQ_INT(store_prekeys_add(st, s.id, ids, (const uint8_t(*)[32])priv, 3), Y_OK);
	CHECK_EQ_INT(store_prekeys_add(st, s.id, ids + 2, (const uint8_t(*)[32])priv, 1), Y_EEXIST);
	CHECK_EQ_INT(store_prekey_count(st, s.id, &total, &up), Y_OK);
	CHECK_EQ_INT(total, 3);
	CHECK_EQ_INT(up, 0);
	CHECK_EQ_INT(store_prekeys_mark_uploaded(st, s.id, 8), Y_OK);
	CHECK_EQ_INT(store_prekey_count(st, s.id, &total, &up), Y_OK);
	CHECK_EQ_INT(up, 2);
	CHECK_EQ_INT(store_prekey_get(st, s.id, 9, k), Y_OK);
	CHECK_MEM(k, priv[2], 32);
	CHECK_EQ_INT(store_prekey_delete(st, s.id, 9), Y_OK);
	CHECK_EQ_INT(store_prekey_get(st, s.id, 9, k), Y_ENOTFOUND);
	CHECK_EQ_INT(store_prekey_delete(st, s.id, 9), Y_OK);
	/* logout wipes creds and prekeys */
	CHECK_EQ_INT(store_creds_delete(st, s.id), Y_OK);
	CHECK_EQ_INT(store_creds_get(st, s.id, &g), Y_ENOTFOUND);
	CHECK_EQ_INT(store_prekey_count(st, s.id, &total, &up), Y_OK);
	CHECK_EQ_INT(total, 0);
	/* unknown session: refused by the foreign key */
	CHECK_EQ_INT(store_creds_put(st, "00000000-0000-4000-8000-000000000000", &c), Y_ENOTFOUND);
	/* deleting the session cascades */
	CHECK_EQ_INT(store_creds_put(st, s.id, &c), Y_OK);
	CHECK_EQ_INT(store_prekeys_add(st, s.id, ids, (const uint8_t(*)[32])priv, 1), Y_OK);
	CHECK_EQ_INT(store_session_delete(st, s.id), Y_OK);
	CHECK_EQ_INT(store_creds_get(st, s.id, &g), Y_ENOTFOUND);
	CHECK_EQ_INT(store_prekey_get(st, s.id, 7, k), Y_ENOTFOUND);
	/* settings */
	CHECK_EQ_INT(store_setting_get(st, "wa_version", &v), Y_ENOTFOUND);
	CHECK_EQ_INT(store_setting_put(st, "wa_version", "2.3000.1"), Y_OK);
	CHECK_EQ_INT(store_setting_put(st, "wa_version", "2.3000.2"), Y_OK);
	REQUIRE(store_setting_get(st, "wa_version", &v) == Y_OK);
	CHECK_EQ_STR(v, "2.3000.2");
	free(v);
	CHECK_EQ_INT(store_setting_delete(st, "wa_version"), Y_OK);
	CHECK_EQ_INT(store_setting_get(st, "wa_version", &v), Y_ENOTFOUND);
	store_session_release(&s);
	store_close(st);
}

/* Privacy tokens: a put replaces the contact's row, an empty token is kept
 * (our issue time still matters), rows of an unknown session are skipped,
 * logging out (store_creds_delete) removes them. */
TEST(tctokens_put_list_and_logout)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_tctoken t, *v = NULL;
	size_t n = 0;

	REQUIRE(st);
	REQUIRE(store_session_create(st, "tc", &s) == Y_OK);
	memset(&t, 0, sizeof(t));
	snprintf(t.jid, sizeof(t.jid), "88880001111@lid");
	memcpy(t.token, "abc", 3);
	t.len = 3;
	t.t = 1700000000;
	CHECK_EQ_INT(store_tctoken_put(st, s.id, &t), Y_OK);
	t.len = 0;           /* dropped once expired... */
	t.sender_t = 1700000500; /* ...our issue time kept */
	CHECK_EQ_INT(store_tctoken_put(st, s.id, &t), Y_OK);
	snprintf(t.jid, sizeof(t.jid), "15550001111@s.whatsapp.net");
	memset(t.token, 0xee, sizeof(t.token));
	t.len = sizeof(t.token);
	CHECK_EQ_INT(store_tctoken_put(st, s.id, &t), Y_OK);
	CHECK_EQ_INT(store_tctoken_put(st, "no-such-session", &t), Y_OK);
	t.len = sizeof(t.token) + 1;
	CHECK_EQ_INT(store_tctoken_put(st, s.id, &t), Y_EINVAL);
	REQUIRE(store_tctokens_all(st, s.id, &v, &n) == Y_OK);
	REQUIRE(n == 2);
	CHECK_EQ_STR(v[0].jid, "15550001111@s.whatsapp.net");
	CHECK_EQ_INT(v[0].len, STORE_TCTOKEN_MAX);
	CHECK_EQ_INT(v[0].token[STORE_TCTOKEN_MAX - 1], 0xee);
	CHECK_EQ_STR(v[1].jid, "88880001111@lid");
	CHECK_EQ_INT(v[1].len, 0);
	CHECK_EQ_INT(v[1].t, 1700000000);
	CHECK_EQ_INT(v[1].sender_t, 1700000500);
	free(v);
	REQUIRE(store_tctokens_all(st, "no-such-session", &v, &n) == Y_OK);
	CHECK_EQ_INT(n, 0);
	free(v);
	CHECK_EQ_INT(store_creds_delete(st, s.id), Y_OK);
	REQUIRE(store_tctokens_all(st, s.id, &v, &n) == Y_OK);
	CHECK_EQ_INT(n, 0);
	free(v);
	store_session_release(&s);
	store_close(st);
}

/* App state: keys and collection states by (kind, name), replaced on put,
 * keys first; an unknown session is skipped; logging out removes them. */
TEST(appstate_put_list_and_logout)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_appstate r, *v = NULL;
	uint8_t data[200];
	size_t n = 0;

	REQUIRE(st);
	REQUIRE(store_session_create(st, "as", &s) == Y_OK);
	memset(&r, 0, sizeof(r));
	memset(data, 0x5a, sizeof(data));
	r.kind = STORE_AS_COLLECTION;
	memcpy(r.name, "regular_high", 12);
	r.name_len = 12;
	r.data = data;
	r.len = 140;
	CHECK_EQ_INT(store_appstate_put(st, s.id, &r), Y_OK);
	r.len = 200; /* replaces it */
	CHECK_EQ_INT(store_appstate_put(st, s.id, &r), Y_OK);
	r.kind = STORE_AS_KEY;
	memcpy(r.name, "\0\1\2\3\4\5", 6);
	r.name_len = 6;
	r.len = 32;
	r.t = 1700000000123;
	CHECK_EQ_INT(store_appstate_put(st, s.id, &r), Y_OK);
	CHECK_EQ_INT(store_appstate_put(st, "no-such-session", &r), Y_OK);
	r.kind = 7;
	CHECK_EQ_INT(store_appstate_put(st, s.id, &r), Y_EINVAL);
	r.kind = STORE_AS_KEY;
	r.name_len = 0;
	CHECK_EQ_INT(store_appstate_put(st, s.id, &r), Y_EINVAL);
	REQUIRE(store_appstate_all(st, s.id, &v, &n) == Y_OK);
	REQUIRE(n == 2);
	CHECK_EQ_INT(v[0].kind, STORE_AS_KEY);
	CHECK_EQ_INT(v[0].name_len, 6);
	CHECK_EQ_INT(v[0].name[5], 5);
	CHECK_EQ_INT(v[0].len, 32);
	CHECK_EQ_INT(v[0].t, 1700000000123);
	CHECK_EQ_INT(v[1].kind, STORE_AS_COLLECTION);
	CHECK_EQ_INT(v[1].len, 200);
	CHECK_EQ_INT(v[1].data[199], 0x5a);
	store_appstate_free(v, n);
	CHECK_EQ_INT(store_creds_delete(st, s.id), Y_OK);
	REQUIRE(store_appstate_all(st, s.id, &v, &n) == Y_OK);
	CHECK_EQ_INT(n, 0);
	store_appstate_free(v, n);
	store_session_release(&s);
	store_close(st);
}

static int hook_rings;
static void count_ring(void *arg)
{
	(void)arg;
	hook_rings++;
}

/* The outbox: a status change writes its session.status event in the same
 * transaction (none when nothing changed), ids grow, the hook rings; the
 * fan-out honours filters, deduplicates one URL, keeps order per (session,
 * URL); attempts are logged; a replay queues a failed delivery again. */
TEST(event_outbox_and_deliveries)
{
	static const char *const only_status[] = { "session.status", NULL };
	struct store *st = fresh(NULL);
	struct store_session a, b;
	struct store_session_update u = { .status = STORE_SESSION_QR };
	struct store_event *ev = NULL;
	struct store_delivery *d = NULL;
	struct store_hooklog *l = NULL;
	struct store_attempt at;
	size_t n = 0;
	int more = 0, events = 0, q = 0;
	int64_t next = 0, id = 0, last = 0;

	CHECK(st != NULL);
	store_set_event_hook(st, count_ring, NULL);
	CHECK_EQ_INT(store_session_create(st, "a", &a), Y_OK);
	CHECK_EQ_INT(store_session_create(st, "b", &b), Y_OK);
	CHECK_EQ_INT(store_session_set_webhook(st, a.id, "http://h/a", "s", NULL), Y_OK);
	CHECK_EQ_INT(store_session_set_webhook(st, b.id, "http://h/b", NULL, "[\"message\"]"),
		     Y_OK);
	CHECK_EQ_INT(store_session_update(st, a.id, &u), Y_OK);
	CHECK_EQ_INT(store_session_update(st, a.id, &u), Y_OK); /* no change: no event */
	u.status = STORE_SESSION_CONNECTED;
	CHECK_EQ_INT(store_session_update(st, a.id, &u), Y_OK);
	CHECK_EQ_INT(store_session_update(st, b.id, &u), Y_OK);
	CHECK_EQ_INT(store_event_add(st, b.id, "message", "{\"text\":\"hi\"}", &id), Y_OK);
	CHECK_EQ_INT(store_event_add(st, b.id, "message", "not json", NULL), Y_EINVAL);
	CHECK_EQ_INT(store_event_add(st, "no-such", "message", "{}", NULL), Y_ENOTFOUND);
	CHECK_EQ_INT(hook_rings, 4);
	CHECK_EQ_INT(store_event_last(st, &last), Y_OK);
	CHECK_EQ_INT((int)last, (int)id);
	CHECK_EQ_INT(store_event_list(st, a.id, 0, NULL, 10, &ev, &n, &more), Y_OK);
	CHECK_EQ_INT((int)n, 2);
	CHECK_EQ_STR(ev[0].type, "session.status");
	CHECK_EQ_STR(ev[0].data, "{\"status\":\"qr\",\"previousStatus\":\"pending\",\"reason\":null}");
	CHECK(ev[1].id > ev[0].id);
	store_events_free(ev, n);
	CHECK_EQ_INT(store_event_list(st, NULL, 0, only_status, 1, &ev, &n, &more), Y_OK);
	CHECK_EQ_INT((int)n, 1);
	CHECK_EQ_INT(more, 1);
	store_events_free(ev, n);

	/* a's hook takes all (2 status events), b's only the message; the
	 * global URL is a's: one delivery each, not two */
	CHECK_EQ_INT(store_webhook_fanout(st, "http://h/a", only_status, 100, &events), Y_OK);
	CHECK_EQ_INT(events, 4);
	CHECK_EQ_INT(store_webhook_fanout(st, "http://h/a", only_status, 100, &events), Y_OK);
	CHECK_EQ_INT(events, 0); /* the cursor moved */
	CHECK_EQ_INT(store_webhook_due(st, clock_now_ms() + 1, 10, &d, &n, &next), Y_OK);
	/* heads: a@h/a (its first status), b@h/a (global, status), b@h/b (message) */
	CHECK_EQ_INT((int)n, 3);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(d[i].ev.session_id, a.id)) {
			CHECK_EQ_STR(d[i].kind, "session");
			CHECK_EQ_STR(d[i].ev.type, "session.status");
			CHECK(strstr(d[i].ev.data, "\"qr\"") != NULL); /* the older one first */
			memset(&at, 0, sizeof(at));
			at.delivery_id = d[i].id;
			at.attempt = 1;
			at.error = "refused";
			at.state = "failed";
			CHECK_EQ_INT(store_webhook_attempt(st, &at), Y_OK);
			q = (int)d[i].ev.id;
		}
	}
	store_deliveries_free(d, n);
	/* a's next event waits behind nothing now (the failed one is done) */
	CHECK_EQ_INT(store_webhook_due(st, clock_now_ms() + 1, 10, &d, &n, &next), Y_OK);
	CHECK_EQ_INT((int)n, 3);
	store_deliveries_free(d, n);
	CHECK_EQ_INT(store_webhook_log_list(st, a.id, 0, 0, 10, &l, &n, &more), Y_OK);
	CHECK_EQ_INT((int)n, 1);
	CHECK_EQ_STR(l[0].error, "refused");
	CHECK_EQ_INT((int)l[0].event_id, q);
	store_hooklogs_free(l, n);
	CHECK_EQ_INT(store_webhook_log_list(st, a.id, 0, 1, 10, &l, &n, &more), Y_OK);
	CHECK_EQ_INT((int)n, 0);
	store_hooklogs_free(l, n);
	CHECK_EQ_INT(store_webhook_replay(st, a.id, q, &events), Y_OK);
	CHECK_EQ_INT(events, 1);
	CHECK_EQ_INT(store_webhook_replay(st, a.id, 999999, &events), Y_ENOTFOUND);
	CHECK_EQ_INT(store_webhook_due(st, clock_now_ms() + 1, 10, &d, &n, &next), Y_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].ev.session_id, a.id))
			CHECK_EQ_INT((int)d[i].ev.id, q); /* the replayed one is a's head again */
	store_deliveries_free(d, n);
	store_session_release(&a);
	store_session_release(&b);
	store_close(st);
}

/* RFC 4231 test case 2 and the body's shape. */
TEST(webhook_signature_and_body)
{
	struct store_event e = { .id = 7, .session_id = "s1", .type = "session.status",
				 .data = "{\"status\":\"qr\",\"event\":\"spoof\"}", .created_at = 1000 };
	char sig[WEBHOOK_SIG_LEN], *body;
	const char *data = "what do ya want for nothing?";

	webhook_sign("Jefe", data, strlen(data), sig);
	CHECK_EQ_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	body = webhook_body(&e, 1234);
	CHECK(body != NULL);
	CHECK_EQ_STR(body, "{\"event\":\"session.status\",\"eventId\":7,\"sessionId\":\"s1\","
			   "\"timestamp\":1234,\"occurredAt\":\"1970-01-01T00:00:01.000Z\","
			   "\"status\":\"qr\"}");
	free(body);
	e.data = "[1]";
	CHECK(webhook_body(&e, 1) == NULL);
}

int main(void)
{
	if (tmpdir_make(tmp, sizeof(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	ylog_min = YLOG_OFF; /* the refusals below log errors on purpose */
	RUN(open_creates_dirs_wal_and_refuses_postgres);
	RUN(session_crud_and_webhook);
	RUN(session_status_text_map_and_parse);
	RUN(session_pages_have_no_gaps_or_duplicates);
	RUN(message_pages_survive_ties_and_new_inserts);
	RUN(message_insert_get_status);
	RUN(message_status_by_wa_id_pending_and_prekeys);
	RUN(message_batch_insert_rows_fail_alone);
	RUN(message_status_batch_moves_each_alone);
	RUN(delete_cascades_to_messages_and_webhook_log);
	RUN(apikeys_add_find_touch_revoke);
	RUN(prune_goes_in_bounded_batches);
	RUN(prune_deletes_only_older_rows);
	RUN(threads_share_one_store);
	RUN(locked_database_is_busy_not_a_crash);
	RUN(wal_and_shm_files_are_owner_only);
	RUN(cursor_id_without_nul_is_not_overread);
	RUN(session_update_unlink_and_reset_live);
	RUN(creds_prekeys_and_settings);
	RUN(tctokens_put_list_and_logout);
	RUN(appstate_put_list_and_logout);
	RUN(event_outbox_and_deliveries);
	RUN(webhook_signature_and_body);
	tmpdir_remove(tmp);
	return test_summary();
}
