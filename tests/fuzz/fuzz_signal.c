/*
 * libFuzzer target for the Signal layer's decoders: arbitrary bytes as a
 * msg / pkmsg to a session that exists, as an skmsg to a group whose sender
 * key exists, as an SKDM, as a padded plaintext and as prekey bundle parts.
 * The first input byte picks the decoder. The endpoints are set up once
 * (alice and bob with an established session and a sender key) and are
 * deliberately shared across inputs, as a long-running client would be.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wa/signal.h"
#include "wa/signal_store.h"

struct fz_peer {
	struct wa_signal_identity id;
	struct wa_signal_store *store;
	struct wa_signal *s;
	struct wa_signal_addr addr;
};

static struct fz_peer alice, bob;
static const char *group = "120363000000000042@g.us";

static void die(const char *what)
{
	(void)what;
	abort(); /* setup failure is a bug, not a finding */
}

static void peer_setup(struct fz_peer *p, const char *user)
{
	struct wa_signal_signed_prekey spk;
	struct wa_signal_prekey pk[2];

	if (wa_signal_identity_generate(&p->id) || !(p->store = wa_signal_memstore_new()) ||
	    !(p->s = wa_signal_new(&p->id, p->store)) ||
	    wa_signal_address(&p->addr, user, "s.whatsapp.net", 0, 0, WA_SIGNAL_ADDR_DOMAIN) ||
	    wa_signal_gen_signed_prekey(p->s, 1, &spk) || wa_signal_gen_prekeys(p->s, 1, 2, pk))
		die("peer");
}

static void setup(void)
{
	struct wa_signal_bundle b;
	enum wa_signal_type t;
	uint8_t *ct = NULL, *pt = NULL;
	size_t ctn, ptn;

	peer_setup(&alice, "1000");
	peer_setup(&bob, "2000");
	if (wa_signal_own_bundle(bob.s, 1, 1, &b) || wa_signal_session_from_bundle(alice.s, &bob.addr, &b))
		die("session");
	if (wa_signal_encrypt(alice.s, &bob.addr, (const uint8_t *)"hi", 2, &t, &ct, &ctn) ||
	    wa_signal_decrypt(bob.s, &alice.addr, t, ct, ctn, &pt, &ptn))
		die("first message");
	free(ct);
	free(pt);
	if (wa_signal_group_create_skdm(alice.s, group, &alice.addr, &ct, &ctn) ||
	    wa_signal_group_process_skdm(bob.s, group, &alice.addr, ct, ctn))
		die("sender key");
	free(ct);
}

/* Splits data into up to n slices at the lengths given by its first bytes. */
static size_t take(const uint8_t **data, size_t *size, size_t want, const uint8_t **out)
{
	size_t n = want < *size ? want : *size;

	*out = n ? *data : NULL;
	*data += n;
	*size -= n;
	return n;
}

static void fuzz_bundle(const uint8_t *data, size_t size)
{
	static const size_t lens[8] = { 4, 1, 32, 3, 32, 64, 3, 32 };
	const uint8_t *p[8];
	size_t n[8];
	struct wa_signal_bundle_wire w;
	struct wa_signal_bundle b;

	for (int i = 0; i < 8; i++) {
		/* a length byte may shorten or lengthen each part */
		size_t want = lens[i];
		if (size && (data[0] & 0x80))
			want = data[0] & 0x7F;
		if (size) {
			data++;
			size--;
		}
		n[i] = take(&data, &size, want, &p[i]);
	}
	w = (struct wa_signal_bundle_wire){ p[0], n[0], p[1], n[1], p[2], n[2], p[3], n[3],
					    p[4], n[4], p[5], n[5], p[6], n[6], p[7], n[7] };
	if (wa_signal_bundle_parse(&b, &w) == 0) {
		/* a parsed bundle goes through session building (signature check) */
		struct wa_signal_addr a;
		if (!wa_signal_address(&a, "3000", "s.whatsapp.net", 0, 1, WA_SIGNAL_ADDR_DOMAIN))
			(void)wa_signal_session_from_bundle(alice.s, &a, &b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t *out = NULL;
	size_t outn = 0;
	unsigned mode;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	mode = data[0] % 6;
	data++;
	size--;
	switch (mode) {
	case 0:
		(void)wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_MSG, data, size, &out, &outn);
		break;
	case 1:
		(void)wa_signal_decrypt(bob.s, &alice.addr, WA_SIGNAL_PKMSG, data, size, &out, &outn);
		break;
	case 2:
		(void)wa_signal_group_decrypt(bob.s, group, &alice.addr, data, size, &out, &outn);
		break;
	case 3:
		(void)wa_signal_group_process_skdm(bob.s, "fuzz@g.us", &alice.addr, data, size);
		break;
	case 4: {
		size_t un;
		if (size && wa_signal_unpad(data, size, &un) == 0 && un > size)
			abort();
		break;
	}
	case 5:
		fuzz_bundle(data, size);
		break;
	}
	free(out);
	return 0;
}
