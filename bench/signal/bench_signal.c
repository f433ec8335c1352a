/*
 * Signal layer benchmark (our side): prints one line per figure,
 *   <figure> <operations per second>
 * for bench/signal/run.sh, which sets it beside libsignal-node (peer.mjs).
 *   session   X3DH from a bundle + first pkmsg encrypted and decrypted
 *   msg-pingpong  a 256-byte msg each way in turn (a DH ratchet step per message)
 *   msg-burst     256-byte msgs in one direction (symmetric ratchet only)
 *   skmsg     a 256-byte group message encrypted and decrypted
 * Usage: bench_signal N_SESSIONS N_MESSAGES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wa/signal.h"
#include "wa/signal_store.h"

struct peer {
	struct wa_signal_identity id;
	struct wa_signal_store *store;
	struct wa_signal *s;
	struct wa_signal_addr addr;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, int rc)
{
	fprintf(stderr, "bench_signal: %s failed: %d\n", what, rc);
	exit(1);
}

static void peer_init(struct peer *p, const char *user, size_t prekeys)
{
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey *pk = calloc(prekeys + 1, sizeof *pk);
	int rc;

	if (!pk || (rc = wa_signal_identity_generate(&p->id)))
		fail("identity", -1);
	p->store = wa_signal_memstore_new();
	p->s = p->store ? wa_signal_new(&p->id, p->store) : NULL;
	if (!p->s)
		fail("new", -2);
	if ((rc = wa_signal_address(&p->addr, user, "s.whatsapp.net", 0, 0, WA_SIGNAL_ADDR_DOMAIN)) ||
	    (rc = wa_signal_gen_signed_prekey(p->s, 1, &spk)) ||
	    (prekeys && (rc = wa_signal_gen_prekeys(p->s, 1, prekeys, pk))))
		fail("keys", rc);
	free(pk);
}

static void peer_release(struct peer *p)
{
	wa_signal_free(p->s);
	wa_signal_store_free(p->store);
}

static void send_msg(struct peer *a, struct peer *b, const uint8_t *pt, size_t n)
{
	enum wa_signal_type t;
	uint8_t *ct, *out;
	size_t ctn, outn;
	int rc;

	if ((rc = wa_signal_encrypt(a->s, &b->addr, pt, n, &t, &ct, &ctn)))
		fail("encrypt", rc);
	if ((rc = wa_signal_decrypt(b->s, &a->addr, t, ct, ctn, &out, &outn)))
		fail("decrypt", rc);
	if (outn != n || memcmp(out, pt, n))
		fail("plaintext", -3);
	free(ct);
	free(out);
}

int main(int argc, char **argv)
{
	size_t nsess = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
	size_t nmsg = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	struct peer alice, bob;
	uint8_t pt[256];
	char user[32];
	double t0;
	int rc;

	for (size_t i = 0; i < sizeof pt; i++)
		pt[i] = (uint8_t)(i * 7 + 1);
	peer_init(&bob, "2000", nsess);

	/* sessions: a fresh initiator identity each time, one prekey each */
	t0 = now();
	for (size_t i = 0; i < nsess; i++) {
		struct wa_signal_bundle b;
		snprintf(user, sizeof user, "%zu", 10000 + i);
		peer_init(&alice, user, 0);
		if ((rc = wa_signal_own_bundle(bob.s, 1, (uint32_t)(i + 1), &b)) ||
		    (rc = wa_signal_session_from_bundle(alice.s, &bob.addr, &b)))
			fail("session", rc);
		send_msg(&alice, &bob, pt, sizeof pt);
		if (i + 1 < nsess)
			peer_release(&alice);
	}
	printf("session %.1f\n", (double)nsess / (now() - t0));

	send_msg(&bob, &alice, pt, sizeof pt);
	t0 = now();
	for (size_t i = 0; i < nmsg; i++)
		send_msg(i % 2 ? &alice : &bob, i % 2 ? &bob : &alice, pt, sizeof pt);
	printf("msg-pingpong %.1f\n", (double)nmsg / (now() - t0));

	t0 = now();
	for (size_t i = 0; i < nmsg; i++)
		send_msg(&alice, &bob, pt, sizeof pt);
	printf("msg-burst %.1f\n", (double)nmsg / (now() - t0));

	{
		const char *g = "120363000000000001@g.us";
		uint8_t *skdm, *ct, *out;
		size_t n, ctn, outn;
		if ((rc = wa_signal_group_create_skdm(alice.s, g, &alice.addr, &skdm, &n)) ||
		    (rc = wa_signal_group_process_skdm(bob.s, g, &alice.addr, skdm, n)))
			fail("skdm", rc);
		free(skdm);
		t0 = now();
		for (size_t i = 0; i < nmsg; i++) {
			if ((rc = wa_signal_group_encrypt(alice.s, g, &alice.addr, pt, sizeof pt, &ct, &ctn)) ||
			    (rc = wa_signal_group_decrypt(bob.s, g, &alice.addr, ct, ctn, &out, &outn)))
				fail("skmsg", rc);
			free(ct);
			free(out);
		}
		printf("skmsg %.1f\n", (double)nmsg / (now() - t0));
	}
	peer_release(&alice);
	peer_release(&bob);
	return 0;
}
