/* Tests of API key creation, verification and bootstrap (auth/apikey.h). */
#include "test.h"
#include "tmpdir.h"

#include "auth/apikey.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

#include <ctype.h>
#include <sqlite3.h>

static char tmp[256];
static int dbn;

static struct store *fresh(char path[300])
{
	struct store *st = NULL;

	snprintf(path, 300, "%s/k%d.sqlite", tmp, ++dbn);
	return store_open(path, &st) == Y_OK ? st : NULL;
}

static int is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Counts the "API Key: " lines in logs and copies the first key into key. */
static int logged_keys(const char *logs, char key[65])
{
	int n = 0;

	key[0] = '\0';
	for (const char *p = logs; p && (p = strstr(p, "API Key: ")); p += 9) {
		if (!n)
			snprintf(key, 65, "%.64s", p + 9);
		n++;
	}
	return n;
}

/* Runs apikey_bootstrap with the log captured into *logs (caller frees). */
static int bootstrap_logged(struct store *st, const char *configured, char **logs)
{
	size_t len = 0;
	FILE *f = open_memstream(logs, &len);
	int rc;

	if (!f)
		return -1000;
	ylog_set_output(f);
	ylog_min = YLOG_ERROR; /* the key line must appear even when warnings are filtered */
	rc = apikey_bootstrap(st, configured);
	ylog_set_output(NULL);
	ylog_min = YLOG_OFF;
	fclose(f);
	return rc;
}

TEST(hash_is_sha256)
{
	uint8_t d[32], *want = NULL;

	apikey_hash("abc", d);
	REQUIRE(test_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
			   &want) == 32);
	CHECK_MEM(d, want, 32);
	free(want);
}

TEST(create_verify_revoke)
{
	char path[300], key[APIKEY_HEX_LEN + 1], key2[APIKEY_HEX_LEN + 1];
	char id[STORE_ID_LEN], id2[STORE_ID_LEN], got[STORE_ID_LEN];
	struct store *st = fresh(path);
	struct store_apikey *keys;
	size_t n;

	REQUIRE(st != NULL);
	REQUIRE(apikey_create(st, "ci", key, id) == Y_OK);
	REQUIRE(apikey_create(st, NULL, key2, id2) == Y_OK);
	CHECK(is_hex64(key) && is_hex64(key2) && strcmp(key, key2));
	REQUIRE(apikey_verify(st, key, got) == Y_OK);
	CHECK_EQ_STR(got, id);
	REQUIRE(apikey_verify(st, key2, got) == Y_OK);
	CHECK_EQ_STR(got, id2);

	char wrong[APIKEY_HEX_LEN + 1];
	memcpy(wrong, key, sizeof(wrong));
	wrong[63] = wrong[63] == '0' ? '1' : '0';
	CHECK_EQ_INT(apikey_verify(st, wrong, got), Y_ENOTFOUND);
	CHECK_EQ_INT(apikey_verify(st, "", got), Y_ENOTFOUND);
	CHECK_EQ_INT(apikey_verify(st, NULL, got), Y_ENOTFOUND);
	char *huge = malloc(2000);
	REQUIRE(huge != NULL);
	memset(huge, 'a', 1999);
	huge[1999] = '\0';
	CHECK_EQ_INT(apikey_verify(st, huge, got), Y_ENOTFOUND);
	free(huge);

	REQUIRE(store_apikey_list(st, &keys, &n) == Y_OK);
	CHECK_EQ_INT(n, 2);
	for (size_t i = 0; i < n; i++) {
		const char *k = !strcmp(keys[i].id, id) ? key : key2;

		CHECK(strncmp(keys[i].prefix, k, 8) == 0 && strlen(keys[i].prefix) == 8);
		CHECK(keys[i].last_used_at > 0); /* verify recorded the use */
	}
	store_apikeys_free(keys, n);

	CHECK_EQ_INT(store_apikey_revoke(st, id), Y_OK);
	CHECK_EQ_INT(apikey_verify(st, key, got), Y_ENOTFOUND);
	CHECK_EQ_INT(apikey_verify(st, key2, got), Y_OK);
	store_close(st);

	/* the plaintext is nowhere in the database file */
	FILE *f = fopen(path, "rb");
	REQUIRE(f != NULL);
	static char content[1 << 20];
	size_t len = fread(content, 1, sizeof(content) - 1, f);
	fclose(f);
	CHECK(len > 0);
	CHECK(memmem(content, len, key, 64) == NULL);
	CHECK(memmem(content, len, key2, 64) == NULL);
}

TEST(bootstrap_generates_and_logs_once)
{
	char path[300], key[65], got[STORE_ID_LEN];
	struct store *st = fresh(path);
	char *logs = NULL;
	int64_t active = -1;

	REQUIRE(st != NULL);
	REQUIRE(bootstrap_logged(st, NULL, &logs) == Y_OK);
	CHECK_EQ_INT(logged_keys(logs, key), 1);
	CHECK(is_hex64(key));
	CHECK_EQ_INT(apikey_verify(st, key, got), Y_OK);
	free(logs);
	logs = NULL;

	/* a restart with a key present logs nothing and adds nothing */
	REQUIRE(bootstrap_logged(st, NULL, &logs) == Y_OK);
	CHECK_EQ_INT(logged_keys(logs, key), 0);
	CHECK_EQ_INT(store_apikey_count_active(st, &active), Y_OK);
	CHECK_EQ_INT(active, 1);
	free(logs);
	store_close(st);
}

TEST(bootstrap_with_configured_key)
{
	char path[300], key[65], got[STORE_ID_LEN], first[STORE_ID_LEN];
	struct store *st = fresh(path);
	char *logs = NULL;
	int64_t active = -1;

	REQUIRE(st != NULL);
	REQUIRE(bootstrap_logged(st, "my-configured-secret-key", &logs) == Y_OK);
	CHECK_EQ_INT(logged_keys(logs, key), 0); /* nothing generated */
	CHECK(strstr(logs, "my-configured-secret-key") == NULL); /* never logged */
	free(logs);
	logs = NULL;
	REQUIRE(apikey_verify(st, "my-configured-secret-key", first) == Y_OK);
	REQUIRE(bootstrap_logged(st, "my-configured-secret-key", &logs) == Y_OK);
	free(logs);
	logs = NULL;
	CHECK_EQ_INT(store_apikey_count_active(st, &active), Y_OK);
	CHECK_EQ_INT(active, 1); /* not stored twice */

	/* once revoked, a restart does not bring it back; a new key is made */
	REQUIRE(store_apikey_revoke(st, first) == Y_OK);
	REQUIRE(bootstrap_logged(st, "my-configured-secret-key", &logs) == Y_OK);
	CHECK_EQ_INT(apikey_verify(st, "my-configured-secret-key", got), Y_ENOTFOUND);
	CHECK_EQ_INT(logged_keys(logs, key), 1);
	CHECK_EQ_INT(apikey_verify(st, key, got), Y_OK);
	free(logs);
	store_close(st);
}

/* The prefix kept in clear (listings, logs) must not give a configured key
 * away: API_KEY may be as short as one character, and a prefix of 8
 * showed a short key whole. At most a quarter of a key is shown. */
TEST(prefix_never_reveals_a_configured_key)
{
	static const char *const keys[] = { "k3y-8chr", "Tr0ub4dor&3", "my-configured-secret-key" };
	char path[300];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct store *st = fresh(path);
		struct store_apikey *list = NULL;
		size_t n = 0, len = 0, klen = strlen(keys[i]);
		char *logs = NULL;
		FILE *f;

		REQUIRE(st != NULL);
		f = open_memstream(&logs, &len);
		REQUIRE(f != NULL);
		ylog_set_output(f);
		ylog_min = YLOG_DEBUG; /* every line, the info one with the prefix too */
		CHECK_EQ_INT(apikey_bootstrap(st, keys[i]), Y_OK);
		ylog_set_output(NULL);
		ylog_min = YLOG_OFF;
		fclose(f);
		CHECK(strstr(logs, keys[i]) == NULL);
		REQUIRE(store_apikey_list(st, &list, &n) == Y_OK);
		REQUIRE(n == 1);
		CHECK(strlen(list[0].prefix) * 4 <= klen);
		CHECK(!strncmp(list[0].prefix, keys[i], strlen(list[0].prefix)));
		store_apikeys_free(list, n);
		free(logs);
		store_close(st);
	}
}

int main(void)
{
	if (tmpdir_make(tmp, sizeof(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	ylog_min = YLOG_OFF;
	RUN(hash_is_sha256);
	RUN(create_verify_revoke);
	RUN(bootstrap_generates_and_logs_once);
	RUN(bootstrap_with_configured_key);
	RUN(prefix_never_reveals_a_configured_key);
	tmpdir_remove(tmp);
	return test_summary();
}
