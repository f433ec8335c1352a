/* src/wa/paircode.c against tests/vectors/paircode.txt (node:crypto, made
 * by tests/vectors/paircode.mjs), each check also shown failing on a
 * broken input. */
#include <stdio.h>

#include "test.h"
#include "vector.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/paircode.h"
#include "wa/socket.h"

#define VEC_PATH "tests/vectors/paircode.txt"

static const char *vec_code(const struct vec *v, const char *name, char out[9])
{
	size_t n;
	const uint8_t *p = vec_get(v, name, &n);

	if (n != 8)
		abort();
	memcpy(out, p, 8);
	out[8] = 0;
	return out;
}

TEST(code_encoding_matches_vector)
{
	struct vec v;
	char got[9], want[9];
	uint8_t b[5];

	REQUIRE(vec_load(&v, VEC_PATH) == 0);
	wa_paircode_encode(vec_get(&v, "code_bytes_0", NULL), got);
	CHECK_EQ_STR(got, vec_code(&v, "code_0_ascii", want));
	wa_paircode_encode(vec_get(&v, "code_bytes_1", NULL), got);
	CHECK_EQ_STR(got, vec_code(&v, "code_1_ascii", want));
	wa_paircode_encode(vec_get(&v, "code_bytes_2", NULL), got);
	CHECK_EQ_STR(got, vec_code(&v, "code_2_ascii", want));
	/* one flipped bit changes the code */
	memcpy(b, vec_get(&v, "code_bytes_2", NULL), 5);
	b[4] ^= 1;
	wa_paircode_encode(b, got);
	CHECK(strcmp(got, want) != 0);
	vec_free(&v);
}

TEST(generated_codes_use_the_alphabet)
{
	char c[9];

	for (int i = 0; i < 200; i++) {
		REQUIRE(wa_paircode_generate(c) == Y_OK);
		CHECK_EQ_INT(strlen(c), 8);
		CHECK(strspn(c, "123456789ABCDEFGHJKLMNPQRSTVWXYZ") == 8);
	}
}

TEST(normalize_and_display)
{
	char c[9], d[10];

	CHECK_EQ_INT(wa_paircode_normalize("abcd-efgh", c), Y_OK);
	CHECK_EQ_STR(c, "ABCDEFGH");
	CHECK_EQ_INT(wa_paircode_normalize("ABCDEFGH", c), Y_OK);
	wa_paircode_display(c, d);
	CHECK_EQ_STR(d, "ABCD-EFGH");
	CHECK_EQ_INT(wa_paircode_normalize("ABCD-EFG", c), Y_EINVAL);
	CHECK_EQ_INT(wa_paircode_normalize("ABCD-EFGHI", c), Y_EINVAL);
	CHECK_EQ_INT(wa_paircode_normalize("ABCD EFGH", c), Y_EINVAL);
	CHECK_EQ_INT(wa_paircode_normalize("", c), Y_EINVAL);
}

TEST(wrap_and_unwrap_match_vector)
{
	struct vec v;
	char code[9], wrong[9];
	uint8_t w[WA_PAIRCODE_WRAPPED_LEN], pub[32];
	struct wa_keypair kp;

	REQUIRE(vec_load(&v, VEC_PATH) == 0);
	vec_code(&v, "code_2_ascii", code);
	REQUIRE(wa_keypair_from_private(&kp, vec_get(&v, "companion_eph_priv", NULL)) == 0);
	VEC_EQ(kp.pub, 32, "companion_eph_pub");
	REQUIRE(wa_paircode_wrap(w, code, kp.pub, vec_get(&v, "wrap_salt", NULL),
				 vec_get(&v, "wrap_iv", NULL)) == Y_OK);
	VEC_EQ(w, sizeof(w), "wrapped_companion");
	REQUIRE(wa_paircode_unwrap(pub, code, vec_get(&v, "wrapped_companion", NULL)) == Y_OK);
	VEC_EQ(pub, 32, "companion_eph_pub");
	/* a wrong code unwraps to another key, silently */
	memcpy(wrong, code, 9);
	wrong[7] = wrong[7] == 'Z' ? 'Y' : 'Z';
	REQUIRE(wa_paircode_unwrap(pub, wrong, vec_get(&v, "wrapped_companion", NULL)) == Y_OK);
	CHECK(memcmp(pub, kp.pub, 32) != 0);
	/* so does a wrong salt (the key) or iv */
	memcpy(w, vec_get(&v, "wrapped_companion", NULL), sizeof(w));
	w[0] ^= 1;
	REQUIRE(wa_paircode_unwrap(pub, code, w) == Y_OK);
	CHECK(memcmp(pub, kp.pub, 32) != 0);
	/* random salt and iv: a different wrapping of the same key */
	REQUIRE(wa_paircode_wrap(w, code, kp.pub, NULL, NULL) == Y_OK);
	CHECK(memcmp(w, vec_get(&v, "wrapped_companion", NULL), 48) != 0);
	REQUIRE(wa_paircode_unwrap(pub, code, w) == Y_OK);
	CHECK_MEM(pub, kp.pub, 32);
	CHECK_EQ_INT(wa_paircode_wrap(w, "SHORT", kp.pub, NULL, NULL), Y_EINVAL);
	vec_free(&v);
}

TEST(bundle_and_adv_secret_match_vector)
{
	struct vec v;
	uint8_t b[WA_PAIRCODE_BUNDLE_LEN], plain[96], shared[32], ishared[32], adv[32];
	struct wa_keypair ce, pe, ci, pi;

	REQUIRE(vec_load(&v, VEC_PATH) == 0);
	REQUIRE(wa_keypair_from_private(&ce, vec_get(&v, "companion_eph_priv", NULL)) == 0);
	REQUIRE(wa_keypair_from_private(&pe, vec_get(&v, "primary_eph_priv", NULL)) == 0);
	REQUIRE(wa_keypair_from_private(&ci, vec_get(&v, "companion_ident_priv", NULL)) == 0);
	REQUIRE(wa_keypair_from_private(&pi, vec_get(&v, "primary_ident_priv", NULL)) == 0);
	VEC_EQ(pi.pub, 32, "primary_ident_pub");
	/* both sides reach the same shared secrets */
	REQUIRE(wa_x25519(shared, ce.priv, pe.pub) == 0);
	VEC_EQ(shared, 32, "eph_shared");
	REQUIRE(wa_x25519(shared, pe.priv, ce.pub) == 0);
	VEC_EQ(shared, 32, "eph_shared");
	REQUIRE(wa_x25519(ishared, pi.priv, ci.pub) == 0);
	VEC_EQ(ishared, 32, "ident_shared");

	REQUIRE(wa_paircode_bundle_seal(b, shared, vec_get(&v, "bundle_salt", NULL),
					vec_get(&v, "bundle_nonce", NULL), ci.pub, pi.pub,
					vec_get(&v, "adv_random", NULL)) == Y_OK);
	VEC_EQ(b, sizeof(b), "bundle");
	REQUIRE(wa_paircode_bundle_open(plain, shared, b, sizeof(b)) == Y_OK);
	CHECK_MEM(plain, ci.pub, 32);
	CHECK_MEM(plain + 32, pi.pub, 32);
	CHECK_MEM(plain + 64, vec_get(&v, "adv_random", NULL), 32);
	REQUIRE(wa_paircode_adv_secret(adv, shared, ishared, plain + 64) == Y_OK);
	VEC_EQ(adv, 32, "adv_secret");

	/* tampered: a flipped ciphertext, tag, salt or nonce byte fails the tag */
	for (size_t at = 0; at < sizeof(b); at += 7) {
		b[at] ^= 0x40;
		CHECK_EQ_INT(wa_paircode_bundle_open(plain, shared, b, sizeof(b)), Y_ECRYPTO);
		b[at] ^= 0x40;
	}
	b[sizeof(b) - 1] ^= 1;
	CHECK_EQ_INT(wa_paircode_bundle_open(plain, shared, b, sizeof(b)), Y_ECRYPTO);
	b[sizeof(b) - 1] ^= 1;
	/* another shared secret (a wrong code upstream) fails too */
	shared[0] ^= 1;
	CHECK_EQ_INT(wa_paircode_bundle_open(plain, shared, b, sizeof(b)), Y_ECRYPTO);
	shared[0] ^= 1;
	CHECK_EQ_INT(wa_paircode_bundle_open(plain, shared, b, sizeof(b) - 1), Y_EINVAL);
	REQUIRE(wa_paircode_bundle_open(plain, shared, b, sizeof(b)) == Y_OK);
	/* the adv secret depends on every input */
	ishared[5] ^= 1;
	REQUIRE(wa_paircode_adv_secret(adv, shared, ishared, plain + 64) == Y_OK);
	CHECK(memcmp(adv, vec_get(&v, "adv_secret", NULL), 32) != 0);
	vec_free(&v);
}

/* ---- off the loop ---- */

struct job_result {
	int calls, err;
	uint8_t unwrapped[32], wrapped[80];
};

static void job_cb(struct wa_paircode_job *j, void *ud)
{
	struct job_result *r = ud;

	r->calls++;
	r->err = j->err;
	memcpy(r->unwrapped, j->unwrapped, 32);
	memcpy(r->wrapped, j->wrapped, 80);
}

TEST(job_runs_off_the_loop_and_cancel_silences_it)
{
	struct vec v;
	struct wa_loop *l = NULL;
	struct wa_paircode_job *j = NULL, *j2 = NULL;
	struct job_result r, r2;
	char code[9];
	uint8_t pub[32];

	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	REQUIRE(vec_load(&v, VEC_PATH) == 0);
	REQUIRE(wa_loop_new(NULL, &l) == 0);
	vec_code(&v, "code_2_ascii", code);
	REQUIRE(wa_paircode_job_new(&j) == 0);
	memcpy(j->code, code, 9);
	j->unwrap = true;
	memcpy(j->wrapped_in, vec_get(&v, "wrapped_companion", NULL), 80);
	j->wrap = true;
	memcpy(j->pub, vec_get(&v, "primary_eph_pub", NULL), 32);
	REQUIRE(wa_paircode_job_start(l, j, job_cb, &r) == 0);
	/* a second one, cancelled at once: its callback never runs */
	REQUIRE(wa_paircode_job_new(&j2) == 0);
	memcpy(j2->code, code, 9);
	j2->wrap = true;
	REQUIRE(wa_paircode_job_start(l, j2, job_cb, &r2) == 0);
	wa_paircode_job_cancel(j2);
	CHECK_EQ_INT(r.calls, 0); /* not inside start */
	for (int i = 0; i < 1000 && !r.calls; i++)
		wa_loop_run_once(l, 0);
	CHECK_EQ_INT(r.calls, 1);
	CHECK_EQ_INT(r.err, Y_OK);
	VEC_EQ(r.unwrapped, 32, "companion_eph_pub");
	REQUIRE(wa_paircode_unwrap(pub, code, r.wrapped) == Y_OK);
	CHECK_MEM(pub, vec_get(&v, "primary_eph_pub", NULL), 32);
	/* nothing to do is refused, and the caller keeps the job */
	REQUIRE(wa_paircode_job_new(&j) == 0);
	CHECK_EQ_INT(wa_paircode_job_start(l, j, job_cb, &r), Y_EINVAL);
	wa_paircode_job_free(j);
	wa_loop_free(l); /* waits for the cancelled one */
	CHECK_EQ_INT(r2.calls, 0);
	vec_free(&v);
}

int main(void)
{
	RUN(code_encoding_matches_vector);
	RUN(generated_codes_use_the_alphabet);
	RUN(normalize_and_display);
	RUN(wrap_and_unwrap_match_vector);
	RUN(bundle_and_adv_secret_match_vector);
	RUN(job_runs_off_the_loop_and_cancel_silences_it);
	return test_summary();
}
