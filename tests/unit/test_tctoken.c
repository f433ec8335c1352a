/*
 * Privacy tokens in the client (src/client/tctoken.c): the 7-day bucket
 * rules with a fixed clock, what a privacy_token notification keeps (and
 * ignores), and what a 1:1 <message> gets: the token while it is fresh,
 * nothing (and the token dropped, our issue time kept) once expired or when
 * the server's prop 10518 is off. No connection: the client is driven
 * through its private entry points (client_int.h).
 */
#include <time.h>

#include "test.h"

#include "client/client_int.h"
#include "util/err.h"
#include "util/log.h"
#include "wa/node.h"

#define WEEK 604800

static struct wa_loop *loop;
static struct wa_client_pool *pool;
static struct wa_tctoken last; /* what on_tctoken reported last */
static int changes;

static void on_tctoken(struct wa_client *cl, const struct wa_tctoken *tk, void *ud)
{
	(void)cl;
	(void)ud;
	last = *tk;
	changes++;
}

static struct wa_client *new_client(void)
{
	static const struct wa_client_cbs cbs = { .on_tctoken = on_tctoken };
	struct wa_creds c;
	struct wa_client *cl = NULL;

	if (wa_creds_generate(&c) || wa_client_new(pool, &c, NULL, &cbs, NULL, &cl))
		return NULL;
	wa_creds_wipe(&c);
	changes = 0;
	return cl;
}

TEST(bucket_rules_with_a_fixed_clock)
{
	const int64_t now = 2900LL * WEEK + 12345; /* inside bucket 2900 */
	const int64_t cutoff = 2897LL * WEEK;      /* the start of bucket 2900 - 3 */

	CHECK(!wa_tctoken_expired(now, now));
	CHECK(!wa_tctoken_expired(cutoff, now));
	CHECK(wa_tctoken_expired(cutoff - 1, now));
	CHECK(wa_tctoken_expired(now - 29LL * 86400, now)); /* past the ~28-day window */
	CHECK(!wa_tctoken_expired(now - 21LL * 86400, now));
	CHECK(wa_tctoken_expired(0, now));
	CHECK(wa_tctoken_expired(-5, now));
	/* a bucket boundary: the same token expires one second later */
	CHECK(!wa_tctoken_expired(cutoff, 2900LL * WEEK + WEEK - 1));
	CHECK(wa_tctoken_expired(cutoff, 2900LL * WEEK + WEEK));

	CHECK(wa_tctoken_should_issue(0, now));
	CHECK(!wa_tctoken_should_issue(2900LL * WEEK, now));
	CHECK(!wa_tctoken_should_issue(now, now));
	CHECK(wa_tctoken_should_issue(2900LL * WEEK - 1, now)); /* last bucket */
	CHECK(!wa_tctoken_should_issue(now, 2901LL * WEEK - 1));
	CHECK(wa_tctoken_should_issue(now, 2901LL * WEEK));
}

static struct wa_node *notification(const char *from, const char *sender_lid)
{
	struct wa_node *n = wa_node_new("notification");

	if (!n || wa_node_add_attr(n, "from", from) || wa_node_add_attr(n, "type", "privacy_token") ||
	    wa_node_add_attr(n, "id", "n1") || !wa_node_add_child(n, "tokens") ||
	    (sender_lid && wa_node_add_attr(n, "sender_lid", sender_lid))) {
		wa_node_free(n);
		return NULL;
	}
	return n;
}

static int add_token(struct wa_node *n, const char *t, const char *type, const uint8_t *b,
		     size_t len)
{
	struct wa_node *k = wa_node_add_child(wa_node_child(n, "tokens"), "token");

	if (!k || wa_node_add_attr(k, "jid", "15550009999@s.whatsapp.net") ||
	    (type && wa_node_add_attr(k, "type", type)) || (t && wa_node_add_attr(k, "t", t)))
		return Y_ENOMEM;
	return len ? wa_node_set_bytes(k, b, len) : Y_OK;
}

TEST(notification_keeps_the_newest_trusted_contact_token_by_lid)
{
	struct wa_client *cl = new_client();
	struct wa_node *n;
	const struct wa_tctoken *t;
	uint8_t big[WA_TCTOKEN_MAX + 1];

	REQUIRE(cl);
	memset(big, 7, sizeof(big));
	/* by the issuer's LID when named; ignored: no t, another type, no
	 * bytes, too long, t not a number */
	n = notification("15550001111@s.whatsapp.net", "88880001111@lid");
	REQUIRE(n);
	REQUIRE(!add_token(n, NULL, "trusted_contact", (const uint8_t *)"no-time", 7));
	REQUIRE(!add_token(n, "1700000000", "other", (const uint8_t *)"other", 5));
	REQUIRE(!add_token(n, "1700000000", "trusted_contact", NULL, 0));
	REQUIRE(!add_token(n, "1700000000", "trusted_contact", big, sizeof(big)));
	REQUIRE(!add_token(n, "17x", "trusted_contact", (const uint8_t *)"bad-t", 5));
	REQUIRE(!add_token(n, "1700000100", "trusted_contact", (const uint8_t *)"good-100", 8));
	CHECK_EQ_INT(cl_tctoken_notification(cl, n), Y_OK);
	wa_node_free(n);
	t = wa_client_tctoken(cl, "88880001111@lid");
	REQUIRE(t);
	CHECK_EQ_INT(t->len, 8);
	CHECK_MEM(t->token, "good-100", 8);
	CHECK_EQ_INT(t->t, 1700000100);
	CHECK(!wa_client_tctoken(cl, "15550001111@s.whatsapp.net"));
	CHECK_EQ_INT(changes, 1);
	CHECK_EQ_STR(last.jid, "88880001111@lid");

	/* an older one does not replace it; a newer one does */
	n = notification("15550001111@s.whatsapp.net", "88880001111@lid");
	REQUIRE(n && !add_token(n, "1700000050", "trusted_contact", (const uint8_t *)"old", 3));
	REQUIRE(!add_token(n, "1700000200", "trusted_contact", (const uint8_t *)"new-200", 7));
	cl_tctoken_notification(cl, n);
	wa_node_free(n);
	t = wa_client_tctoken(cl, "88880001111@lid");
	CHECK_EQ_INT(t->len, 7);
	CHECK_EQ_INT(t->t, 1700000200);
	CHECK_EQ_INT(changes, 2);

	/* without sender_lid: by the JID it came from (its device dropped) */
	n = notification("15550002222:3@s.whatsapp.net", NULL);
	REQUIRE(n && !add_token(n, "1700000000", "trusted_contact", (const uint8_t *)"pn", 2));
	cl_tctoken_notification(cl, n);
	wa_node_free(n);
	CHECK(wa_client_tctoken(cl, "15550002222@s.whatsapp.net"));

	/* not a regular user: the PSA account, a bot number, a group */
	n = notification("0@s.whatsapp.net", NULL);
	REQUIRE(n && !add_token(n, "1700000000", "trusted_contact", (const uint8_t *)"psa", 3));
	cl_tctoken_notification(cl, n);
	wa_node_free(n);
	n = notification("13135550001@s.whatsapp.net", NULL);
	REQUIRE(n && !add_token(n, "1700000000", "trusted_contact", (const uint8_t *)"bot", 3));
	cl_tctoken_notification(cl, n);
	wa_node_free(n);
	n = notification("123-456@g.us", NULL);
	REQUIRE(n && !add_token(n, "1700000000", "trusted_contact", (const uint8_t *)"grp", 3));
	cl_tctoken_notification(cl, n);
	wa_node_free(n);
	CHECK(!wa_client_tctoken(cl, "0@s.whatsapp.net"));
	CHECK(!wa_client_tctoken(cl, "13135550001@s.whatsapp.net"));
	CHECK(!wa_client_tctoken(cl, "123-456@g.us"));
	CHECK_EQ_INT(changes, 3);
	wa_client_free(cl);
	wa_loop_run_once(loop, 1);
}

static const struct wa_node *tctoken_of(const struct wa_node *msg, size_t *len)
{
	const struct wa_node *k = wa_node_child(msg, "tctoken");

	*len = 0;
	return k && wa_node_bytes(k, len) ? k : NULL;
}

TEST(fresh_token_attached_expired_one_dropped)
{
	struct wa_client *cl = new_client();
	int64_t now = (int64_t)time(NULL);
	struct wa_tctoken v[2];
	struct wa_node *m;
	size_t len;

	REQUIRE(cl);
	memset(v, 0, sizeof(v));
	snprintf(v[0].jid, sizeof(v[0].jid), "77770001111@lid");
	memcpy(v[0].token, "fresh-token", 11);
	v[0].len = 11;
	v[0].t = now - 86400;
	snprintf(v[1].jid, sizeof(v[1].jid), "15550003333@s.whatsapp.net");
	memcpy(v[1].token, "stale-token", 11);
	v[1].len = 11;
	v[1].t = now - 40LL * 86400; /* past the 28-day window */
	v[1].sender_t = now - 2 * 86400;
	REQUIRE(wa_client_import_tctokens(cl, v, 2) == Y_OK);

	/* a LID send finds the token kept by LID; one by number (to_pn) too */
	m = wa_node_new("message");
	REQUIRE(m);
	CHECK_EQ_INT(cl_tctoken_attach(cl, m, "77770001111@lid", ""), Y_OK);
	CHECK(tctoken_of(m, &len) && len == 11);
	CHECK_MEM(wa_node_bytes(wa_node_child(m, "tctoken"), &len), "fresh-token", 11);
	wa_node_free(m);
	m = wa_node_new("message");
	CHECK_EQ_INT(cl_tctoken_attach(cl, m, "66660001111@lid", "15550003333@s.whatsapp.net"),
		     Y_OK);
	CHECK(!tctoken_of(m, &len)); /* expired: not attached */
	wa_node_free(m);
	/* ...and dropped, reported with our own issue time kept */
	CHECK_EQ_INT(changes, 1);
	CHECK_EQ_STR(last.jid, "15550003333@s.whatsapp.net");
	CHECK_EQ_INT(last.len, 0);
	CHECK_EQ_INT(last.sender_t, now - 2 * 86400);
	CHECK_EQ_INT(wa_client_tctoken(cl, "15550003333@s.whatsapp.net")->len, 0);

	/* the server's prop 10518 off: nothing attached */
	cl->tc_on_1to1 = false;
	m = wa_node_new("message");
	CHECK_EQ_INT(cl_tctoken_attach(cl, m, "77770001111@lid", ""), Y_OK);
	CHECK(!tctoken_of(m, &len));
	wa_node_free(m);
	/* a group is never 1:1 */
	cl->tc_on_1to1 = true;
	m = wa_node_new("message");
	CHECK_EQ_INT(cl_tctoken_attach(cl, m, "123-456@g.us", ""), Y_OK);
	CHECK(!tctoken_of(m, &len));
	wa_node_free(m);

	/* a bad import is refused */
	v[0].len = WA_TCTOKEN_MAX + 1;
	CHECK_EQ_INT(wa_client_import_tctokens(cl, v, 1), Y_EINVAL);
	wa_client_free(cl);
	wa_loop_run_once(loop, 1);
}

int main(void)
{
	struct wa_client_pool_opts po = { .url = "bogus://nowhere", .connects_per_sec = 1000 };

	ylog_min = YLOG_OFF;
	if (wa_loop_new(NULL, &loop) || wa_client_pool_new(loop, &po, &pool))
		return 1;
	RUN(bucket_rules_with_a_fixed_clock);
	RUN(notification_keeps_the_newest_trusted_contact_token_by_lid);
	RUN(fresh_token_attached_expired_one_dropped);
	wa_client_pool_free(pool);
	wa_loop_free(loop);
	return test_summary();
}
