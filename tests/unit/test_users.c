/* Tests of users, roles and scoped keys (auth/users.h, store_users.c,
 * migrations/0008_users.sql). */
#include "test.h"
#include "tmpdir.h"

#include "auth/apikey.h"
#include "auth/users.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#include <sodium.h>
#include <sqlite3.h>

static char tmp[256];
static int dbn;

static struct store *fresh(char path[300])
{
	struct store *st = NULL;

	snprintf(path, 300, "%s/u%d.sqlite", tmp, ++dbn);
	return store_open(path, &st) == Y_OK ? st : NULL;
}

/* The stored hash is Argon2id v1.3 with exactly the documented parameters,
 * and verifies only the right password. */
TEST(password_hash_is_argon2id_with_documented_parameters)
{
	char h[USERS_PW_HASH_MAX], h2[USERS_PW_HASH_MAX], want[64];

	REQUIRE(users_password_hash("correct horse", h) == Y_OK);
	snprintf(want, sizeof(want), "$argon2id$v=19$m=%llu,t=%llu,p=1$",
		 USERS_PW_MEMLIMIT / 1024, USERS_PW_OPSLIMIT);
	CHECK_EQ_STR(want, "$argon2id$v=19$m=19456,t=2,p=1$");
	CHECK(!strncmp(h, want, strlen(want)));
	CHECK_EQ_INT(crypto_pwhash_str_needs_rehash(h, USERS_PW_OPSLIMIT, USERS_PW_MEMLIMIT), 0);
	CHECK_EQ_INT(users_password_verify(h, "correct horse"), Y_OK);
	CHECK_EQ_INT(users_password_verify(h, "correct horsE"), Y_ECRYPTO);
	CHECK_EQ_INT(users_password_verify(h, ""), Y_ECRYPTO);
	CHECK_EQ_INT(users_password_verify("not a hash", "correct horse"), Y_ECRYPTO);
	/* salted: the same password hashes differently */
	REQUIRE(users_password_hash("correct horse", h2) == Y_OK);
	CHECK(strcmp(h, h2) != 0);
	CHECK_EQ_INT(users_password_hash("short", h2), Y_EINVAL);
	CHECK_EQ_INT(users_password_hash(NULL, h2), Y_EINVAL);
}

static void add_user(struct store *st, const char *email, int role, const char *pw,
		     struct store_user *u)
{
	char h[USERS_PW_HASH_MAX];

	REQUIRE(!pw || users_password_hash(pw, h) == Y_OK);
	REQUIRE(store_user_create(st, email, "", role, pw ? h : NULL, u) == Y_OK);
}

TEST(login_lock_out_and_signin_tokens)
{
	char path[300], token[USERS_TOKEN_HEX + 1], csrf[USERS_TOKEN_HEX + 1];
	struct store *st = fresh(path);
	struct store_user u, got;
	int64_t now = 1700000000000LL, locked = 0;

	REQUIRE(st);
	add_user(st, "a@example.com", STORE_ROLE_OPERATOR, "the password", &u);
	CHECK_EQ_INT(store_user_create(st, "A@EXAMPLE.com", "", STORE_ROLE_VIEWER, NULL, &got),
		     Y_EEXIST);
	CHECK_EQ_INT(users_login(st, "a@example.com", "the password", "127.0.0.1", now, token,
				 &got, &locked), Y_OK);
	CHECK_EQ_INT(strlen(token), USERS_TOKEN_HEX);
	CHECK_EQ_STR(got.id, u.id);
	store_user_release(&got);
	CHECK_EQ_INT(users_signin_check(st, token, now + 1000, &got), Y_OK);
	CHECK_EQ_INT(got.role, STORE_ROLE_OPERATOR);
	store_user_release(&got);
	CHECK_EQ_INT(users_signin_check(st, token, now + USERS_SIGNIN_MS + 1, &got), Y_ENOTFOUND);
	users_csrf_of(token, csrf);
	CHECK(strcmp(csrf, token) != 0);
	CHECK_EQ_INT(strlen(csrf), USERS_TOKEN_HEX);

	/* unknown, wrong, then locked after USERS_LOGIN_MAX_FAILURES */
	CHECK_EQ_INT(users_login(st, "b@example.com", "the password", "", now, token, &got,
				 &locked), Y_ENOTFOUND);
	for (int i = 0; i < USERS_LOGIN_MAX_FAILURES; i++)
		CHECK_EQ_INT(users_login(st, "a@example.com", "not it at all", "", now, token,
					 &got, &locked), Y_ENOTFOUND);
	CHECK_EQ_INT(users_login(st, "a@example.com", "the password", "", now + 1, token, &got,
				 &locked), Y_EBUSY);
	CHECK_EQ_INT(locked, now + USERS_LOCK_MS);
	/* over when the time is */
	CHECK_EQ_INT(users_login(st, "a@example.com", "the password", "", now + USERS_LOCK_MS + 1,
				 token, &got, &locked), Y_OK);
	store_user_release(&got);
	/* disabling ends sign-ins and stops new ones */
	CHECK_EQ_INT(store_user_set_disabled(st, u.id, 1), Y_OK);
	CHECK_EQ_INT(users_signin_check(st, token, now + USERS_LOCK_MS + 2, &got), Y_ENOTFOUND);
	CHECK_EQ_INT(users_login(st, "a@example.com", "the password", "", now + USERS_LOCK_MS + 3,
				 token, &got, &locked), Y_ENOTFOUND);
	/* a user without a password cannot sign in */
	add_user(st, "nopw@example.com", STORE_ROLE_ADMIN, NULL, &got);
	store_user_release(&got);
	CHECK_EQ_INT(users_login(st, "nopw@example.com", "anything goes", "", now, token, &got,
				 &locked), Y_ENOTFOUND);
	store_user_release(&u);
	store_close(st);
}

TEST(keys_roles_scopes_expiry)
{
	char path[300], plain[APIKEY_HEX_LEN + 1], id[STORE_ID_LEN], id2[STORE_ID_LEN];
	struct store *st = fresh(path);
	struct store_user op;
	struct store_session a, b;
	struct store_key_info info;
	uint8_t d[32];
	int64_t now = clock_now_ms();

	REQUIRE(st);
	add_user(st, "op@example.com", STORE_ROLE_OPERATOR, NULL, &op);
	REQUIRE(store_session_create(st, "a", &a) == Y_OK);
	REQUIRE(store_session_create(st, "b", &b) == Y_OK);
	const char *scope[] = { a.id };

	/* above the user's role */
	CHECK_EQ_INT(apikey_create_for(st, "", op.id, STORE_ROLE_ADMIN, 0, 0, NULL, 0, plain, id),
		     Y_EINVAL);
	/* a session that does not exist */
	const char *ghost[] = { "00000000-0000-4000-8000-000000000000" };

	CHECK_EQ_INT(apikey_create_for(st, "", op.id, STORE_ROLE_VIEWER, 0, 1, ghost, 1, plain, id),
		     Y_ENOTFOUND);
	REQUIRE(apikey_create_for(st, "s", op.id, STORE_ROLE_OPERATOR, 0, 1, scope, 1, plain, id) ==
		Y_OK);
	apikey_hash(plain, d);
	REQUIRE(store_key_auth(st, d, now, &info) == Y_OK);
	CHECK_EQ_STR(info.id, id);
	CHECK_EQ_STR(info.user_id, op.id);
	CHECK_EQ_INT(info.role, STORE_ROLE_OPERATOR);
	CHECK_EQ_INT(info.scoped, 1);
	CHECK_EQ_INT(store_key_scope_has(st, id, a.id), Y_OK);
	CHECK_EQ_INT(store_key_scope_has(st, id, b.id), Y_ENOTFOUND);

	struct store_session *rows;
	size_t n;
	int has_next;
	struct store_cursor next;

	REQUIRE(store_session_list_scoped(st, id, NULL, 10, &rows, &n, &next, &has_next) == Y_OK);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_EQ_STR(rows[0].id, a.id);
	store_sessions_free(rows, n);
	REQUIRE(store_session_list_scoped(st, NULL, NULL, 10, &rows, &n, &next, &has_next) == Y_OK);
	CHECK_EQ_INT(n, 2);
	store_sessions_free(rows, n);
	CHECK_EQ_INT(store_key_scope_add(st, id, b.id), Y_OK);
	CHECK_EQ_INT(store_key_scope_has(st, id, b.id), Y_OK);

	/* the lower of key and user counts; expiry; a disabled user */
	REQUIRE(apikey_create_for(st, "e", op.id, STORE_ROLE_VIEWER, now + 1000, 0, NULL, 0, plain,
				  id2) == Y_OK);
	apikey_hash(plain, d);
	CHECK_EQ_INT(store_key_auth(st, d, now, &info), Y_OK);
	CHECK_EQ_INT(info.role, STORE_ROLE_VIEWER);
	CHECK_EQ_INT(info.scoped, 0);
	CHECK_EQ_INT(store_key_auth(st, d, now + 1000, &info), Y_ENOTFOUND);
	CHECK_EQ_INT(store_key_auth(st, d, now + 999, &info), Y_OK);
	CHECK_EQ_INT(store_user_set_disabled(st, op.id, 1), Y_OK);
	CHECK_EQ_INT(store_key_auth(st, d, now, &info), Y_ENOTFOUND);
	CHECK_EQ_INT(store_user_set_disabled(st, op.id, 0), Y_OK);
	CHECK_EQ_INT(store_apikey_revoke(st, id2), Y_OK);
	CHECK_EQ_INT(store_key_auth(st, d, now, &info), Y_ENOTFOUND);

	struct store_key *keys;

	REQUIRE(store_key_list(st, &keys, &n) == Y_OK);
	CHECK_EQ_INT(n, 2);
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ_STR(keys[i].user_email, "op@example.com");
		if (!strcmp(keys[i].k.id, id)) {
			CHECK(keys[i].scoped);
			CHECK(strstr(keys[i].sessions, a.id) && strstr(keys[i].sessions, b.id));
		}
	}
	store_keys_free(keys, n);
	store_session_release(&a);
	store_session_release(&b);
	store_user_release(&op);
	store_close(st);
}

/* A database built at version 7 with keys: after migration they are the
 * keys of an admin user, and still verify with the admin role. */
TEST(single_key_install_migrates_to_an_admin_user)
{
	char path[300], id2[STORE_ID_LEN];
	struct store *st = NULL;
	struct store_key_info info;
	struct store_user *users;
	size_t n;
	uint8_t d[32];

	snprintf(path, sizeof(path), "%s/v7.sqlite", tmp);
	REQUIRE(store_sqlite_open_upto(path, 7, &st) == Y_OK);
	/* at v7 a key is only a digest row */
	apikey_hash("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", d);
	REQUIRE(store_apikey_add(st, d, "first", "0123", id2) == Y_OK);
	store_close(st);

	REQUIRE(store_open(path, &st) == Y_OK);
	REQUIRE(store_user_list(st, &users, &n) == Y_OK);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_STR(users[0].email, "admin@localhost");
		CHECK_EQ_INT(users[0].role, STORE_ROLE_ADMIN);
		CHECK_EQ_INT(users[0].has_password, 0);
		CHECK_EQ_INT(strlen(users[0].id), 36);
		CHECK_EQ_INT(users[0].id[14], '4');
	}
	REQUIRE(store_key_auth(st, d, clock_now_ms(), &info) == Y_OK);
	CHECK_EQ_STR(info.id, id2);
	CHECK_EQ_INT(info.role, STORE_ROLE_ADMIN);
	CHECK_EQ_INT(info.scoped, 0);
	if (n == 1)
		CHECK_EQ_STR(info.user_id, users[0].id);
	store_users_free(users, n);
	/* bootstrap sees the active key and makes none */
	CHECK_EQ_INT(apikey_bootstrap(st, NULL), Y_OK);
	struct store_key *keys;

	REQUIRE(store_key_list(st, &keys, &n) == Y_OK);
	for (size_t i = 0; i < n; i++)
		CHECK(keys[i].user_id[0] != '\0');
	store_keys_free(keys, n);
	store_close(st);
}

/* A fresh install: the bootstrap key belongs to a new admin user. */
TEST(bootstrap_key_gets_an_admin_owner)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_key *keys;
	size_t n;

	REQUIRE(st);
	ylog_set_output(fopen("/dev/null", "w"));
	CHECK_EQ_INT(apikey_bootstrap(st, NULL), Y_OK);
	ylog_set_output(NULL);
	REQUIRE(store_key_list(st, &keys, &n) == Y_OK);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_STR(keys[0].user_email, "admin@localhost");
		CHECK_EQ_INT(keys[0].role, STORE_ROLE_ADMIN);
	}
	store_keys_free(keys, n);
	store_close(st);
}

TEST(audit_rows_page_and_prune)
{
	char path[300];
	struct store *st = fresh(path);
	struct store_audit rows[3] = {
		{ .at = 1000, .actor = "key:k", .method = "POST", .route = "/a", .ip = "1.2.3.4",
		  .status = 201 },
		{ .at = 2000, .actor = "user:u", .method = "DELETE", .route = "/b",
		  .session_id = "s", .status = 204 },
		{ .at = clock_now_ms(), .actor = "key:k", .method = "PUT", .route = "/c",
		  .status = 403 },
	}, *got;
	size_t n;
	int has_next;
	int64_t deleted = 0;

	REQUIRE(st);
	REQUIRE(store_audit_add(st, rows, 3) == Y_OK);
	REQUIRE(store_audit_list(st, 0, 2, &got, &n, &has_next) == Y_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(has_next, 1);
	CHECK_EQ_STR(got[0].route, "/c");
	CHECK_EQ_STR(got[1].session_id, "s");
	int64_t last = got[1].id;

	store_audits_free(got, n);
	REQUIRE(store_audit_list(st, last, 2, &got, &n, &has_next) == Y_OK);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(has_next, 0);
	CHECK_EQ_STR(got[0].ip, "1.2.3.4");
	store_audits_free(got, n);
	CHECK_EQ_INT(store_prune(st, 5000, &deleted), Y_OK);
	CHECK_EQ_INT(deleted, 2);
	REQUIRE(store_audit_list(st, 0, 10, &got, &n, &has_next) == Y_OK);
	CHECK_EQ_INT(n, 1);
	store_audits_free(got, n);
	store_close(st);
}

int main(void)
{
	if (tmpdir_make(tmp, sizeof(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	ylog_min = YLOG_OFF;
	RUN(password_hash_is_argon2id_with_documented_parameters);
	RUN(login_lock_out_and_signin_tokens);
	RUN(keys_roles_scopes_expiry);
	RUN(single_key_install_migrates_to_an_admin_user);
	RUN(bootstrap_key_gets_an_admin_owner);
	RUN(audit_rows_page_and_prune);
	tmpdir_remove(tmp);
	return test_summary();
}
