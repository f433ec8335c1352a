/*
 * Chats and message filters in the store (migrations/0009_chats.sql,
 * store_chat_list, store_message_list_filtered): the triggers keep the
 * latest message and the unread count through inserts, reads and deletes;
 * pages have no gaps; the queries' plans search indexes (no scan of the
 * messages or chats); and the ISO 8601 parser of since/until.
 */
#include "test.h"
#include "tmpdir.h"

#include <sqlite3.h>

#include "api/validate.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "util/err.h"

static char tmp[256];
static int dbn;

static struct store *fresh(char *path)
{
	char p[300];
	struct store *st = NULL;

	snprintf(p, sizeof(p), "%s/db%d.sqlite", tmp, ++dbn);
	if (path)
		memcpy(path, p, sizeof(p));
	return store_open(p, &st) == Y_OK ? st : NULL;
}

static int add_typed(struct store *st, const char *sid, const char *chat, int inbound, int64_t ts,
		     const char *type, char id_out[STORE_ID_LEN])
{
	struct store_message m;
	int rc;

	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", sid);
	m.chat = (char *)chat;
	m.from_me = !inbound;
	m.type = (char *)type;
	m.status = (char *)(inbound ? "received" : "pending");
	m.timestamp = ts;
	rc = store_message_insert(st, &m);
	if (id_out)
		memcpy(id_out, m.id, STORE_ID_LEN);
	return rc;
}

static int add(struct store *st, const char *sid, const char *chat, int inbound, int64_t ts,
	       char id_out[STORE_ID_LEN])
{
	return add_typed(st, sid, chat, inbound, ts, "text", id_out);
}

/* Runs one statement with ?1 = arg on the database file; its first step's
 * result (SQLITE_ROW, SQLITE_DONE or an error). */
static int raw_exec(const char *path, const char *sql, const char *arg)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int rc = SQLITE_ERROR;

	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

/* The session's chats (one page of up to 100) into *rows, or NULL. */
static struct store_chat *page(struct store *st, const char *sid, struct store_chat **rows,
			       size_t *n)
{
	int has_next;

	if (*rows)
		store_chats_free(*rows, *n);
	*rows = NULL;
	if (store_chat_list(st, sid, NULL, 100, rows, n, NULL, &has_next) != Y_OK)
		return NULL;
	return *rows;
}

TEST(chats_follow_inserts_reads_and_deletes)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_session s, other;
	struct store_chat *c = NULL;
	size_t n = 0;
	char a1[STORE_ID_LEN], a2[STORE_ID_LEN], b1[STORE_ID_LEN];

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	REQUIRE(store_session_create(st, "b", &other) == Y_OK);
	REQUIRE(add(st, s.id, "111@s.whatsapp.net", 1, 1000, a1) == Y_OK);
	REQUIRE(add(st, s.id, "222@lid", 1, 2000, b1) == Y_OK);
	REQUIRE(add(st, s.id, "111@s.whatsapp.net", 1, 3000, a2) == Y_OK);
	REQUIRE(add(st, s.id, "111@s.whatsapp.net", 0, 2500, NULL) == Y_OK); /* older than a2 */
	REQUIRE(add(st, other.id, "111@s.whatsapp.net", 1, 9000, NULL) == Y_OK);
	REQUIRE(store_lid_put(st, s.id, "222", "4915550001") == Y_OK);
	REQUIRE(page(st, s.id, &c, &n) != NULL);
	REQUIRE(n == 2);
	CHECK_EQ_STR(c[0].last.chat, "111@s.whatsapp.net");
	CHECK_EQ_STR(c[0].last.id, a2);
	CHECK_EQ_STR(c[0].phone, "+111");
	CHECK_EQ_INT(c[0].unread, 2);
	CHECK_EQ_STR(c[1].last.chat, "222@lid");
	CHECK_EQ_STR(c[1].phone, "+4915550001"); /* from the LID map */
	CHECK_EQ_INT(c[1].unread, 1);
	/* reading one: unread goes down; status moves that do not leave
	 * "received" change nothing */
	REQUIRE(store_message_set_status(st, a1, "read", NULL) == Y_OK);
	REQUIRE(store_message_set_status(st, a1, "read", NULL) == Y_OK);
	REQUIRE(page(st, s.id, &c, &n) != NULL);
	CHECK_EQ_INT(c[0].unread, 1);
	/* a new message moves its chat to the top */
	REQUIRE(add(st, s.id, "222@lid", 0, 4000, NULL) == Y_OK);
	REQUIRE(page(st, s.id, &c, &n) != NULL && n == 2);
	CHECK_EQ_STR(c[0].last.chat, "222@lid");
	CHECK_EQ_INT(c[0].unread, 1);
	CHECK(c[0].last.from_me);
	/* retention: deleted rows leave the counts, a chat with none left goes */
	int64_t deleted = 0;

	REQUIRE(store_prune(st, 2600, &deleted) == Y_OK);
	CHECK_EQ_INT(deleted, 3); /* a1, b1, the outbound 2500 */
	REQUIRE(page(st, s.id, &c, &n) != NULL && n == 2);
	CHECK_EQ_STR(c[0].last.chat, "222@lid");
	CHECK_EQ_INT(c[0].unread, 0);
	CHECK_EQ_STR(c[1].last.id, a2);
	CHECK_EQ_INT(c[1].unread, 1);
	/* deleting a chat's latest message: the one before it is the latest */
	REQUIRE(add(st, s.id, "111@s.whatsapp.net", 1, 3100, a1) == Y_OK);
	REQUIRE(raw_exec(path, "DELETE FROM messages WHERE id = ?1", a1) == SQLITE_DONE);
	REQUIRE(page(st, s.id, &c, &n) != NULL && n == 2);
	CHECK_EQ_STR(c[1].last.id, a2);
	CHECK_EQ_INT(c[1].last.timestamp, 3000);
	CHECK_EQ_INT(c[1].unread, 1);
	REQUIRE(store_prune(st, 3500, &deleted) == Y_OK);
	REQUIRE(page(st, s.id, &c, &n) != NULL);
	CHECK_EQ_INT(n, 1);
	/* the other session's chat was never in this list, and is still there */
	REQUIRE(page(st, other.id, &c, &n) != NULL);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(n ? c[0].unread : 0, 1);
	REQUIRE(store_session_delete(st, other.id) == Y_OK);
	CHECK_EQ_INT(raw_exec(path, "SELECT 1 FROM chats WHERE session_id = ?1", other.id),
		     SQLITE_DONE);
	store_chats_free(c, n);
	store_session_release(&s);
	store_session_release(&other);
	store_close(st);
}

/* Reactions, edits, deletes and poll votes act on messages: they are
 * never unread (a chat read sends no receipt for them, so counting them
 * would leave the chat unread for good: migrations/0011_chat_actions.sql). */
TEST(actions_on_messages_are_not_unread)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_chat *c = NULL;
	size_t n = 0;
	char t1[STORE_ID_LEN], r1[STORE_ID_LEN];
	static const char *const kinds[] = { "reaction", "edit", "revoke", "poll_vote" };

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	REQUIRE(add(st, s.id, "333@s.whatsapp.net", 1, 1000, t1) == Y_OK);
	for (int i = 0; i < 4; i++)
		REQUIRE(add_typed(st, s.id, "333@s.whatsapp.net", 1, 2000 + i, kinds[i],
				  i ? NULL : r1) == Y_OK);
	REQUIRE(page(st, s.id, &c, &n) != NULL && n == 1);
	CHECK_EQ_INT(c[0].unread, 1); /* the text only */
	REQUIRE(store_message_set_status(st, t1, "read", NULL) == Y_OK);
	REQUIRE(page(st, s.id, &c, &n) != NULL && n == 1);
	CHECK_EQ_INT(c[0].unread, 0);
	/* a status move or a delete of an action leaves the count alone */
	REQUIRE(store_message_set_status(st, r1, "read", NULL) == Y_OK);
	int64_t gone = 0;

	REQUIRE(store_prune(st, 2001, &gone) == Y_OK); /* t1 and the reaction */
	CHECK_EQ_INT(gone, 2);
	REQUIRE(page(st, s.id, &c, &n) != NULL && n == 1);
	CHECK_EQ_INT(c[0].unread, 0);
	store_chats_free(c, n);
	store_session_release(&s);
	store_close(st);
}

/* A batch insert (store_messages_insert_batch: the group commit of
 * accepted messages) moves each chat once, to the latest of its rows by
 * (timestamp, id), with the unread ones counted; a row refused inside the
 * batch (a duplicate WhatsApp id) moves nothing. Rows in any order. */
TEST(batch_inserts_move_each_chat_once)
{
	enum { N = 7 };
	static const struct {
		const char *chat;
		int inbound;
		int64_t ts;
		const char *type;
		const char *wa;
	} rows[N] = {
		{ "444@s.whatsapp.net", 1, 5000, "text", "W1" },
		{ "555@s.whatsapp.net", 0, 7000, "text", "W2" },
		{ "444@s.whatsapp.net", 1, 9000, "text", "W3" },     /* 444's latest */
		{ "444@s.whatsapp.net", 1, 6000, "reaction", "W4" }, /* not unread */
		{ "555@s.whatsapp.net", 1, 6500, "text", "W5" },
		{ "444@s.whatsapp.net", 1, 9500, "text", "W1" },     /* duplicate id: refused */
		{ "666@s.whatsapp.net", 0, 100, "text", "W6" },
	};
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_message ms[N], outs[N];
	struct store_chat *c = NULL;
	size_t n = 0;
	int rcs[N];

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	/* the chat existed before: the batch adds to its count */
	REQUIRE(add(st, s.id, "444@s.whatsapp.net", 1, 4000, NULL) == Y_OK);
	memset(ms, 0, sizeof(ms));
	for (int i = 0; i < N; i++) {
		snprintf(ms[i].session_id, sizeof(ms[i].session_id), "%s", s.id);
		ms[i].chat = (char *)rows[i].chat;
		ms[i].from_me = !rows[i].inbound;
		ms[i].type = (char *)rows[i].type;
		ms[i].wa_id = (char *)rows[i].wa;
		ms[i].status = (char *)(rows[i].inbound ? "received" : "pending");
		ms[i].timestamp = rows[i].ts;
	}
	REQUIRE(store_messages_insert_batch(st, ms, N, rcs, outs) == Y_OK);
	for (int i = 0; i < N; i++) {
		CHECK_EQ_INT(rcs[i], i == 5 ? Y_EEXIST : Y_OK);
		if (!rcs[i])
			store_message_release(&outs[i]);
	}
	REQUIRE(page(st, s.id, &c, &n) != NULL);
	REQUIRE(n == 3);
	CHECK_EQ_STR(c[0].last.chat, "444@s.whatsapp.net");
	CHECK_EQ_STR(c[0].last.id, ms[2].id);
	CHECK_EQ_INT(c[0].last.timestamp, 9000);
	CHECK_EQ_INT(c[0].unread, 3); /* before, W1, W3 */
	CHECK_EQ_STR(c[1].last.chat, "555@s.whatsapp.net");
	CHECK_EQ_STR(c[1].last.id, ms[1].id); /* 7000 over the inbound 6500 */
	CHECK_EQ_INT(c[1].unread, 1);
	CHECK_EQ_STR(c[2].last.chat, "666@s.whatsapp.net");
	CHECK_EQ_INT(c[2].unread, 0);
	store_chats_free(c, n);
	store_session_release(&s);
	store_close(st);
}

TEST(chat_pages_have_no_gaps_or_duplicates)
{
	enum { N = 23, PAGE = 5 };
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_cursor cur;
	int has_next = 1, pages = 0, seen = 0;
	char chat[40];

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	for (int i = 0; i < N; i++) { /* ties on the time: the id breaks them */
		snprintf(chat, sizeof(chat), "%d@s.whatsapp.net", 1000 + i);
		REQUIRE(add(st, s.id, chat, 1, 5000 + i / 3, NULL) == Y_OK);
	}
	int64_t last_ts = INT64_MAX;
	char last_id[STORE_ID_LEN] = "~";

	while (has_next) {
		struct store_chat *rows;
		size_t n;

		REQUIRE(store_chat_list(st, s.id, pages ? &cur : NULL, PAGE, &rows, &n, &cur,
					&has_next) == Y_OK);
		for (size_t i = 0; i < n; i++) {
			/* strictly after the previous one in (time DESC, id DESC) */
			CHECK(rows[i].last.timestamp < last_ts ||
			      (rows[i].last.timestamp == last_ts && strcmp(rows[i].last.id, last_id) < 0));
			last_ts = rows[i].last.timestamp;
			memcpy(last_id, rows[i].last.id, STORE_ID_LEN);
			seen++;
		}
		store_chats_free(rows, n);
		pages++;
		REQUIRE(pages < 20);
	}
	CHECK_EQ_INT(seen, N);
	CHECK_EQ_INT(pages, (N + PAGE - 1) / PAGE);
	struct store_chat *rows;
	size_t n;

	CHECK_EQ_INT(store_chat_list(st, "00000000-0000-4000-8000-000000000000", NULL, 5, &rows,
				     &n, NULL, &has_next), Y_ENOTFOUND);
	store_session_release(&s);
	store_close(st);
}

TEST(message_filters_narrow_the_list)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	struct store_message_filter f;
	struct store_message *rows;
	size_t n;
	int has_next;
	char id[STORE_ID_LEN];

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	for (int i = 0; i < 12; i++)
		REQUIRE(add(st, s.id, i % 3 ? "111@s.whatsapp.net" : "222@s.whatsapp.net", i % 2,
			    1000 * (i + 1), id) == Y_OK);
	memset(&f, 0, sizeof(f));
	f.direction = -1;
	f.chat = "222@s.whatsapp.net";
	REQUIRE(store_message_list_filtered(st, s.id, &f, NULL, 100, &rows, &n, NULL, &has_next) ==
		Y_OK);
	CHECK_EQ_INT(n, 4); /* i = 0, 3, 6, 9 */
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_STR(rows[i].chat, "222@s.whatsapp.net");
	store_messages_free(rows, n);
	f.direction = 0; /* inbound: odd i -> 3, 9 */
	REQUIRE(store_message_list_filtered(st, s.id, &f, NULL, 100, &rows, &n, NULL, &has_next) ==
		Y_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(n ? rows[0].timestamp : 0, 10000);
	store_messages_free(rows, n);
	memset(&f, 0, sizeof(f));
	f.direction = -1;
	f.status = "pending"; /* outbound: even i */
	f.has_since = 1;
	f.since = 3000;
	f.has_until = 1;
	f.until = 9000;
	REQUIRE(store_message_list_filtered(st, s.id, &f, NULL, 2, &rows, &n, NULL, &has_next) ==
		Y_OK);
	/* even i with 3000 <= 1000 (i + 1) <= 9000: i = 2, 4, 6, 8 -> 9000, 7000 first */
	CHECK_EQ_INT(n, 2);
	CHECK(has_next);
	CHECK_EQ_INT(n ? rows[0].timestamp : 0, 9000);
	CHECK_EQ_INT(n > 1 ? rows[1].timestamp : 0, 7000);
	struct store_cursor cur = { .ts = rows[1].timestamp };

	memcpy(cur.id, rows[1].id, STORE_ID_LEN);
	store_messages_free(rows, n);
	REQUIRE(store_message_list_filtered(st, s.id, &f, &cur, 10, &rows, &n, NULL, &has_next) ==
		Y_OK);
	CHECK_EQ_INT(n, 2);
	CHECK(!has_next);
	CHECK_EQ_INT(n ? rows[0].timestamp : 0, 5000);
	store_messages_free(rows, n);
	f.status = "queued";
	CHECK_EQ_INT(store_message_list_filtered(st, s.id, &f, NULL, 10, &rows, &n, NULL,
						 &has_next), Y_EINVAL);
	store_session_release(&s);
	store_close(st);
}

/* Every row of the plan of sql on the database file at path searches an
 * index or a primary key (no "SCAN" of a table). */
static int plan_searches(const char *path, const char *sql, int nparams)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	char q[2048];
	int ok = 1, rows = 0;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "  plan: %s\n", sqlite3_errmsg(db));
		ok = 0;
	}
	for (int i = 1; ok && i <= nparams; i++)
		sqlite3_bind_int(s, i, 1);
	while (ok && sqlite3_step(s) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(s, 3);

		rows++;
		/* the materialized page of chats (LIMIT rows) is read whole */
		if (d && !strncmp(d, "SCAN", 4) && strncmp(d, "SCAN (subquery", 14) &&
		    strncmp(d, "SCAN CONSTANT", 13)) {
			fprintf(stderr, "  plan row: %s\n  of: %s\n", d, sql);
			ok = 0;
		}
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return ok && rows > 0;
}

TEST(chat_and_filter_queries_use_indexes)
{
	char path[300], sql[1024];
	struct store *st = fresh(path);
	struct store_message_filter f;

	REQUIRE(st != NULL);
	CHECK(plan_searches(path, store_sqlite_chat_list_sql(0), 2));
	CHECK(plan_searches(path, store_sqlite_chat_list_sql(1), 4));
	memset(&f, 0, sizeof(f));
	f.direction = -1;
	f.chat = "x";
	f.has_since = f.has_until = 1;
	for (int after = 0; after < 2; after++) {
		REQUIRE(store_sqlite_message_filter_sql(&f, after, sql, sizeof(sql)) == Y_OK);
		CHECK(strstr(sql, "chat = ?5") != NULL);
		CHECK(plan_searches(path, sql, 9));
	}
	f.chat = NULL;
	f.direction = 1;
	f.status = "sent";
	REQUIRE(store_sqlite_message_filter_sql(&f, 1, sql, sizeof(sql)) == Y_OK);
	CHECK(plan_searches(path, sql, 9));
	store_close(st);
}

/* A vote of `from` on poll P1 choosing `opt`, as the engine stores an opened one. */
static int add_vote(struct store *st, const char *sid, const char *from, const char *opt,
		    int64_t ts)
{
	char body[160];
	struct store_message m;

	snprintf(body, sizeof(body),
		 "{\"target\":{\"id\":\"P1\"},\"selected\":[\"%s\"],\"senderTimestampMs\":%lld}",
		 opt, (long long)ts);
	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", sid);
	m.chat = m.from_jid = (char *)from;
	m.type = "poll_vote";
	m.status = "received";
	m.body = body;
	m.timestamp = ts;
	return store_message_insert(st, &m);
}

/* The poll tally names each voter by phone number next to the JID: a LID
 * voter through the session's LID map, null when the map does not know it. */
TEST(poll_voters_have_phone_numbers)
{
	struct store *st = fresh(NULL);
	struct store_session s;
	char *json = NULL;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &s) == Y_OK);
	REQUIRE(store_lid_put(st, s.id, "222", "4915550001") == Y_OK);
	REQUIRE(add_vote(st, s.id, "111@s.whatsapp.net", "a", 1000) == Y_OK);
	REQUIRE(add_vote(st, s.id, "222@lid", "b", 2000) == Y_OK);
	REQUIRE(add_vote(st, s.id, "333@lid", "a", 3000) == Y_OK);
	REQUIRE(store_poll_votes(st, s.id, "P1", &json) == Y_OK && json);
	CHECK(strstr(json, "\"from\":\"+111\",\"fromJid\":\"111@s.whatsapp.net\"") != NULL);
	CHECK(strstr(json, "\"from\":\"+4915550001\",\"fromJid\":\"222@lid\"") != NULL);
	CHECK(strstr(json, "\"from\":null,\"fromJid\":\"333@lid\"") != NULL);
	free(json);
	store_session_release(&s);
	store_close(st);
}

TEST(iso_times_parse_strictly)
{
	int64_t ms = -1;

	CHECK(api_time_parse("1970-01-01T00:00:00Z", &ms) && ms == 0);
	CHECK(api_time_parse("2026-01-02T03:04:05.678Z", &ms) && ms == 1767323045678LL);
	CHECK(api_time_parse("2026-01-02T03:04:05.6789Z", &ms) && ms == 1767323045678LL);
	CHECK(api_time_parse("2026-01-02T04:04:05+01:00", &ms) && ms == 1767323045000LL);
	CHECK(api_time_parse("2026-01-02T02:34:05-00:30", &ms) && ms == 1767323045000LL);
	CHECK(api_time_parse("2026-01-02", &ms) && ms == 1767312000000LL);
	CHECK(api_time_parse("2024-02-29", &ms));
	CHECK(!api_time_parse("2023-02-29", &ms));
	CHECK(!api_time_parse("1900-03-01", &ms));
	CHECK(!api_time_parse("2026-13-01", &ms));
	CHECK(!api_time_parse("2026-04-31", &ms));
	CHECK(!api_time_parse("2026-01-02T24:00:00Z", &ms));
	CHECK(!api_time_parse("2026-01-02T03:04:05", &ms)); /* no zone */
	CHECK(!api_time_parse("2026-01-02T03:04:05.Z", &ms));
	CHECK(!api_time_parse("2026-01-02T03:04:05Zjunk", &ms));
	CHECK(!api_time_parse("2026-01-02T03:04", &ms));
	CHECK(!api_time_parse("", &ms));
	CHECK(!api_time_parse(NULL, &ms));
	CHECK(!api_time_parse("yesterday", &ms));
	CHECK(!api_time_parse("2026-01-0", &ms));
}

int main(void)
{
	if (tmpdir_make(tmp, sizeof(tmp)))
		return 1;
	RUN(chats_follow_inserts_reads_and_deletes);
	RUN(actions_on_messages_are_not_unread);
	RUN(batch_inserts_move_each_chat_once);
	RUN(chat_pages_have_no_gaps_or_duplicates);
	RUN(message_filters_narrow_the_list);
	RUN(chat_and_filter_queries_use_indexes);
	RUN(iso_times_parse_strictly);
	RUN(poll_voters_have_phone_numbers);
	tmpdir_remove(tmp);
	return test_summary();
}
