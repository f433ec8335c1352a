/* Tests of the session service's in-memory registry (service/session.h):
 * loading, write-through to the store, growth, and concurrent use. */
#include "test.h"
#include "tmpdir.h"

#include "service/session.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"

#include <pthread.h>
#include <stdatomic.h>

static char tmp[256];
static int dbn;

static struct store *fresh(void)
{
	char p[300];
	struct store *st = NULL;

	snprintf(p, sizeof(p), "%s/db%d.sqlite", tmp, ++dbn);
	return store_open(p, &st) == Y_OK ? st : NULL;
}

static int str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* 1 if the registry's copy of `id` equals the store's row, field by field. */
static int same_as_store(struct svc *svc, struct store *st, const char *id)
{
	struct store_session a, b;
	int ra = svc_session_get(svc, id, &a), rb = store_session_get(st, id, &b), same;

	if (ra || rb) {
		if (!ra)
			store_session_release(&a);
		if (!rb)
			store_session_release(&b);
		return ra == rb;
	}
	same = !strcmp(a.id, b.id) && str_eq(a.name, b.name) && a.status == b.status &&
	       str_eq(a.phone, b.phone) && str_eq(a.push_name, b.push_name) &&
	       str_eq(a.webhook_url, b.webhook_url) && str_eq(a.webhook_secret, b.webhook_secret) &&
	       str_eq(a.webhook_events, b.webhook_events) && a.created_at == b.created_at &&
	       a.updated_at == b.updated_at;
	store_session_release(&a);
	store_session_release(&b);
	return same;
}

static int fake_health;

static int fake_healthy(void *eng)
{
	return *(int *)eng;
}

static const struct svc_engine_ops fake_ops = { .healthy = fake_healthy };

TEST(registry_loads_stored_sessions)
{
	struct store *st = fresh();
	struct store_session a, b, c;
	struct svc *svc = NULL;

	REQUIRE(st != NULL);
	REQUIRE(store_session_create(st, "a", &a) == Y_OK);
	REQUIRE(store_session_create(st, "b", &b) == Y_OK);
	REQUIRE(store_session_create(st, "c", &c) == Y_OK);
	CHECK_EQ_INT(store_session_set_status(st, b.id, STORE_SESSION_FAILED, NULL), Y_OK);
	CHECK_EQ_INT(store_session_set_webhook(st, c.id, "https://h.test/x", "s", "[\"message\"]"),
		     Y_OK);
	REQUIRE(svc_new(st, &svc) == Y_OK);
	CHECK_EQ_INT(svc_session_count(svc), 3);
	CHECK(same_as_store(svc, st, a.id));
	CHECK(same_as_store(svc, st, b.id));
	CHECK(same_as_store(svc, st, c.id));
	CHECK(svc_session_exists(svc, c.id));
	CHECK(!svc_session_exists(svc, "00000000-0000-4000-8000-000000000000"));
	CHECK_EQ_INT(svc_whatsapp_ok(svc), 0); /* b failed, no engine */
	CHECK_EQ_INT(svc_session_set_status(svc, b.id, STORE_SESSION_DISCONNECTED, NULL), Y_OK);
	CHECK_EQ_INT(svc_whatsapp_ok(svc), 1);
	CHECK_EQ_INT(svc_session_set_status(svc, a.id, STORE_SESSION_FAILED, NULL), Y_OK);
	CHECK_EQ_INT(svc_whatsapp_ok(svc), 0);
	CHECK_EQ_INT(svc_delete_session(svc, a.id), Y_OK);
	CHECK_EQ_INT(svc_whatsapp_ok(svc), 1);
	/* with an engine, readiness is the engine's own health, whatever the
	 * sessions' states */
	CHECK_EQ_INT(svc_session_set_status(svc, b.id, STORE_SESSION_FAILED, NULL), Y_OK);
	svc_set_engine(svc, &fake_ops, &fake_health);
	fake_health = 1;
	CHECK_EQ_INT(svc_whatsapp_ok(svc), 1);
	fake_health = 0;
	CHECK_EQ_INT(svc_whatsapp_ok(svc), 0);
	svc_set_engine(svc, NULL, NULL);
	svc_free(svc);
	store_session_release(&a);
	store_session_release(&b);
	store_session_release(&c);
	store_close(st);
}


TEST(registry_writes_through_to_the_store)
{
	struct store *st = fresh();
	struct store_session s, g;
	struct svc *svc = NULL;
	const char *nope = "00000000-0000-4000-8000-000000000000";

	REQUIRE(st != NULL);
	REQUIRE(svc_new(st, &svc) == Y_OK);
	CHECK_EQ_INT(svc_session_count(svc), 0);
	REQUIRE(svc_session_create(svc, "main", &s) == Y_OK);
	CHECK_EQ_STR(s.name, "main");
	CHECK_EQ_INT(s.status, STORE_SESSION_PENDING);
	CHECK(same_as_store(svc, st, s.id));

	CHECK_EQ_INT(svc_session_set_status(svc, s.id, STORE_SESSION_CONNECTED, "15551234567"), Y_OK);
	REQUIRE(svc_session_get(svc, s.id, &g) == Y_OK);
	CHECK_EQ_INT(g.status, STORE_SESSION_CONNECTED);
	CHECK_EQ_STR(g.phone, "15551234567");
	store_session_release(&g);
	CHECK(same_as_store(svc, st, s.id));
	CHECK_EQ_INT(svc_session_set_status(svc, s.id, (enum store_session_status)STORE_SESSION_STATUS_COUNT, NULL), Y_EINVAL);
	CHECK_EQ_INT(svc_session_set_status(svc, nope, STORE_SESSION_QR, NULL), Y_ENOTFOUND);
	CHECK(same_as_store(svc, st, s.id)); /* refused writes change nothing */

	CHECK_EQ_INT(svc_session_set_webhook(svc, s.id, "https://h.test/a", "sec", "[\"message\"]"),
		     Y_OK);
	REQUIRE(svc_session_get(svc, s.id, &g) == Y_OK);
	CHECK_EQ_STR(g.webhook_url, "https://h.test/a");
	CHECK_EQ_STR(g.webhook_secret, "sec");
	CHECK_EQ_STR(g.webhook_events, "[\"message\"]");
	store_session_release(&g);
	CHECK(same_as_store(svc, st, s.id));
	CHECK_EQ_INT(svc_session_set_webhook(svc, s.id, NULL, "x", "[]"), Y_OK);
	REQUIRE(svc_session_get(svc, s.id, &g) == Y_OK);
	CHECK(!g.webhook_url && !g.webhook_secret && !g.webhook_events);
	store_session_release(&g);
	CHECK(same_as_store(svc, st, s.id));
	CHECK_EQ_INT(svc_session_set_webhook(svc, nope, NULL, NULL, NULL), Y_ENOTFOUND);

	/* A new service over the same store sees the same sessions. */
	svc_free(svc);
	REQUIRE(svc_new(st, &svc) == Y_OK);
	CHECK(same_as_store(svc, st, s.id));

	CHECK_EQ_INT(svc_delete_session(svc, s.id), Y_OK);
	CHECK_EQ_INT(svc_session_get(svc, s.id, &g), Y_ENOTFOUND);
	CHECK_EQ_INT(store_session_get(st, s.id, &g), Y_ENOTFOUND);
	CHECK_EQ_INT(svc_delete_session(svc, s.id), Y_ENOTFOUND);
	CHECK_EQ_INT(svc_session_count(svc), 0);
	CHECK_EQ_INT(svc_send_text(svc, s.id, "15551234567@s.whatsapp.net", "hi", NULL, NULL), Y_ENOTFOUND);
	svc_free(svc);
	svc_free(NULL);
	store_session_release(&s);
	store_close(st);
}

#define MANY 300

TEST(registry_grows_and_finds_every_session)
{
	static char ids[MANY][STORE_ID_LEN];
	struct store *st = fresh();
	struct svc *svc = NULL;
	int found = 0;

	REQUIRE(st != NULL);
	REQUIRE(svc_new(st, &svc) == Y_OK);
	for (int i = 0; i < MANY; i++) {
		struct store_session s;
		char name[24];

		snprintf(name, sizeof(name), "s%d", i);
		REQUIRE(svc_session_create(svc, name, &s) == Y_OK);
		memcpy(ids[i], s.id, STORE_ID_LEN);
		store_session_release(&s);
	}
	CHECK_EQ_INT(svc_session_count(svc), MANY);
	for (int i = 0; i < MANY; i++) {
		struct store_session g;
		char name[24];

		snprintf(name, sizeof(name), "s%d", i);
		if (svc_session_get(svc, ids[i], &g) == Y_OK) {
			found += !strcmp(g.name, name);
			store_session_release(&g);
		}
	}
	CHECK_EQ_INT(found, MANY);
	/* Loading them back (more than one store page) finds them all too. */
	svc_free(svc);
	REQUIRE(svc_new(st, &svc) == Y_OK);
	CHECK_EQ_INT(svc_session_count(svc), MANY);
	for (int i = 0; i < MANY; i += 37)
		CHECK(same_as_store(svc, st, ids[i]));
	svc_free(svc);
	store_close(st);
}

/* ---- concurrency: readers copy sessions while writers change, create and
 * delete them. Threads count their own failures; the main thread checks. */
#define STABLE 8
#define SLOTS 4
#define READERS 4
#define CHURN_ROUNDS 150
#define STATUS_ROUNDS 300

struct shared {
	struct svc *svc;
	char stable[STABLE][STORE_ID_LEN];
	pthread_mutex_t slot_lock;         /* guards churn ids */
	char churn[SLOTS][STORE_ID_LEN];   /* "" = empty */
	atomic_int writers_done;
	atomic_long reads, churn_hits, bad;
};

static void *reader(void *arg)
{
	struct shared *sh = arg;
	unsigned seed = 12345;

	while (atomic_load(&sh->writers_done) < 2) {
		struct store_session g;
		char id[STORE_ID_LEN], want[24];
		int i = (int)(rand_r(&seed) % (STABLE + SLOTS)), rc;

		if (i < STABLE) {
			snprintf(want, sizeof(want), "stable-%d", i);
			rc = svc_session_get(sh->svc, sh->stable[i], &g);
			if (rc != Y_OK || strcmp(g.name, want) ||
			    (g.status != STORE_SESSION_PENDING && g.status != STORE_SESSION_CONNECTED &&
			     g.status != STORE_SESSION_DISCONNECTED))
				atomic_fetch_add(&sh->bad, 1);
		} else {
			pthread_mutex_lock(&sh->slot_lock);
			memcpy(id, sh->churn[i - STABLE], STORE_ID_LEN);
			pthread_mutex_unlock(&sh->slot_lock);
			if (!id[0])
				continue;
			/* The writer may delete it at any moment: either a full
			 * copy or "not found", never anything else. */
			rc = svc_session_get(sh->svc, id, &g);
			if (rc == Y_OK) {
				atomic_fetch_add(&sh->churn_hits, 1);
				if (strcmp(g.name, "churn") || strcmp(g.id, id))
					atomic_fetch_add(&sh->bad, 1);
			} else if (rc != Y_ENOTFOUND) {
				atomic_fetch_add(&sh->bad, 1);
			}
		}
		if (rc == Y_OK)
			store_session_release(&g);
		atomic_fetch_add(&sh->reads, 1);
	}
	return NULL;
}

static void *churner(void *arg)
{
	struct shared *sh = arg;

	for (int r = 0; r < CHURN_ROUNDS; r++) {
		struct store_session s;
		char old[STORE_ID_LEN];
		int slot = r % SLOTS;

		if (svc_session_create(sh->svc, "churn", &s) != Y_OK) {
			atomic_fetch_add(&sh->bad, 1);
			continue;
		}
		pthread_mutex_lock(&sh->slot_lock);
		memcpy(old, sh->churn[slot], STORE_ID_LEN);
		memcpy(sh->churn[slot], s.id, STORE_ID_LEN);
		pthread_mutex_unlock(&sh->slot_lock);
		store_session_release(&s);
		if (old[0] && svc_delete_session(sh->svc, old) != Y_OK)
			atomic_fetch_add(&sh->bad, 1);
	}
	atomic_fetch_add(&sh->writers_done, 1);
	return NULL;
}

static void *status_writer(void *arg)
{
	struct shared *sh = arg;

	for (int r = 0; r < STATUS_ROUNDS; r++)
		if (svc_session_set_status(sh->svc, sh->stable[r % STABLE],
					   r % 2 ? STORE_SESSION_CONNECTED : STORE_SESSION_DISCONNECTED, NULL) != Y_OK)
			atomic_fetch_add(&sh->bad, 1);
	atomic_fetch_add(&sh->writers_done, 1);
	return NULL;
}

TEST(registry_concurrent_readers_and_writers)
{
	static struct shared sh;
	struct store *st = fresh();
	pthread_t rd[READERS], cw, sw;
	struct store_session *list = NULL;
	struct store_cursor next;
	size_t n = 0;
	int has_next = 0, agree = 0;

	REQUIRE(st != NULL);
	memset(&sh, 0, sizeof(sh));
	pthread_mutex_init(&sh.slot_lock, NULL);
	REQUIRE(svc_new(st, &sh.svc) == Y_OK);
	for (int i = 0; i < STABLE; i++) {
		struct store_session s;
		char name[24];

		snprintf(name, sizeof(name), "stable-%d", i);
		REQUIRE(svc_session_create(sh.svc, name, &s) == Y_OK);
		memcpy(sh.stable[i], s.id, STORE_ID_LEN);
		store_session_release(&s);
	}
	for (int i = 0; i < READERS; i++)
		REQUIRE(pthread_create(&rd[i], NULL, reader, &sh) == 0);
	REQUIRE(pthread_create(&cw, NULL, churner, &sh) == 0);
	REQUIRE(pthread_create(&sw, NULL, status_writer, &sh) == 0);
	pthread_join(cw, NULL);
	pthread_join(sw, NULL);
	for (int i = 0; i < READERS; i++)
		pthread_join(rd[i], NULL);

	CHECK_EQ_INT(atomic_load(&sh.bad), 0);
	CHECK(atomic_load(&sh.reads) > 0);
	CHECK(atomic_load(&sh.churn_hits) > 0);
	/* Afterwards the registry and the store hold the same sessions. */
	CHECK_EQ_INT(svc_session_count(sh.svc), STABLE + SLOTS);
	REQUIRE(store_session_list(st, NULL, STORE_LIST_MAX, &list, &n, &next, &has_next) == Y_OK);
	CHECK_EQ_INT(n, STABLE + SLOTS);
	for (size_t i = 0; i < n; i++)
		agree += same_as_store(sh.svc, st, list[i].id);
	CHECK_EQ_INT(agree, STABLE + SLOTS);
	store_sessions_free(list, n);
	svc_free(sh.svc);
	pthread_mutex_destroy(&sh.slot_lock);
	store_close(st);
}

int main(void)
{
	if (tmpdir_make(tmp, sizeof(tmp))) {
		perror("mkdtemp");
		return 1;
	}
	ylog_min = YLOG_OFF;
	RUN(registry_loads_stored_sessions);
	RUN(registry_writes_through_to_the_store);
	RUN(registry_grows_and_finds_every_session);
	RUN(registry_concurrent_readers_and_writers);
	tmpdir_remove(tmp);
	return test_summary();
}
