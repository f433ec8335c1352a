/*
 * Unit tests for src/wa/qrtext.c: the pairing QR text built and parsed
 * back (URL form, the bare Baileys 6 form, both base64 alphabets, with and
 * without padding), and malformed texts and arguments refused.
 */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/qrtext.h"

/* base64 of 32 bytes of value v */
static void key64(char out[45], uint8_t v)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t k[33] = { 0 };
	size_t o = 0;

	memset(k, v, 32);
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t x = ((uint32_t)k[i] << 16) | ((uint32_t)k[i + 1] << 8) | k[i + 2];

		out[o++] = a[(x >> 18) & 63];
		out[o++] = a[(x >> 12) & 63];
		out[o++] = a[(x >> 6) & 63];
		out[o++] = a[x & 63];
	}
	out[43] = '=';
	out[44] = 0;
}

TEST(parses_both_forms)
{
	char k1[45], k2[45], k3[45], qr[512];
	struct wa_qr q;

	key64(k1, 1);
	key64(k2, 2);
	key64(k3, 3);
	snprintf(qr, sizeof(qr), "2@abc,%s,%s,%s", k1, k2, k3);
	REQUIRE(wa_qr_parse(qr, &q) == Y_OK);
	CHECK(q.ref_len == 5 && !memcmp(q.ref, "2@abc", 5));
	CHECK(q.noise[0] == 1 && q.noise[31] == 1);
	CHECK(q.identity[0] == 2 && q.adv[31] == 3);
	/* Baileys 7: URL prefix and a fifth field */
	snprintf(qr, sizeof(qr), "https://wa.me/settings/linked_devices#2@abc,%s,%s,%s,1", k1, k2,
		 k3);
	REQUIRE(wa_qr_parse(qr, &q) == Y_OK);
	CHECK(q.ref_len == 5 && q.identity[5] == 2);
	/* without padding too */
	k1[43] = 0;
	snprintf(qr, sizeof(qr), "r,%s,%s,%s", k1, k2, k3);
	CHECK(wa_qr_parse(qr, &q) == Y_OK);
	key64(k1, 1);
	/* refused: field counts, empty ref, short or long keys, bad characters */
	snprintf(qr, sizeof(qr), "r,%s,%s", k1, k2);
	CHECK(wa_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%s,%s,%s,1,2", k1, k2, k3);
	CHECK(wa_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), ",%s,%s,%s", k1, k2, k3);
	CHECK(wa_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,AAAA,%s,%s", k2, k3);
	CHECK(wa_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%sAAAA,%s,%s", k1, k2, k3);
	CHECK(wa_qr_parse(qr, &q) == Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%s,%s,%s", k1, k2, k3);
	qr[5] = '*';
	CHECK(wa_qr_parse(qr, &q) == Y_EINVAL);
	CHECK(wa_qr_parse("", &q) == Y_EINVAL);
}

TEST(builds_and_parses_back)
{
	uint8_t noise[32], ident[32], adv[32];
	char text[WA_QR_TEXT_MAX], ref[WA_QR_REF_MAX + 1];
	struct wa_qr q;

	for (int round = 0; round < 50; round++) {
		size_t rl = 1 + (size_t)round * 5 % WA_QR_REF_MAX;

		REQUIRE(wa_crypto_random(noise, 32) == Y_OK);
		REQUIRE(wa_crypto_random(ident, 32) == Y_OK);
		REQUIRE(wa_crypto_random(adv, 32) == Y_OK);
		for (size_t i = 0; i < rl; i++)
			ref[i] = "2@aZ+/=9"[(i + (size_t)round) % 8];
		REQUIRE(wa_qr_build(ref, rl, noise, ident, adv, round & 1 ? "1" : "e", text,
				    sizeof(text)) == Y_OK);
		CHECK(!strncmp(text, WA_QR_PREFIX, strlen(WA_QR_PREFIX)));
		REQUIRE(wa_qr_parse(text, &q) == Y_OK);
		CHECK(q.ref_len == rl && !memcmp(q.ref, ref, rl));
		CHECK_MEM(q.noise, noise, 32);
		CHECK_MEM(q.identity, ident, 32);
		CHECK_MEM(q.adv, adv, 32);
		CHECK_EQ_STR(q.type, round & 1 ? "1" : "e");
	}
	/* the exact text: standard alphabet, padded, fields in order */
	memset(noise, 0xfb, 32);
	memset(ident, 0, 32);
	memset(adv, 0xff, 32);
	REQUIRE(wa_qr_build("2@x", 3, noise, ident, adv, "1", text, sizeof(text)) == Y_OK);
	CHECK_EQ_STR(text, WA_QR_PREFIX "2@x,"
		     "+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s=,"
		     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,"
		     "//////////////////////////////////////////8=,1");
	/* the bare form has no type */
	REQUIRE(wa_qr_parse(text + strlen(WA_QR_PREFIX), &q) == Y_OK);
	CHECK_EQ_STR(q.type, "1");
	text[strlen(text) - 2] = 0;
	REQUIRE(wa_qr_parse(text + strlen(WA_QR_PREFIX), &q) == Y_OK);
	CHECK_EQ_STR(q.type, "");
}

TEST(build_refuses_what_the_text_cannot_carry)
{
	uint8_t k[32] = { 0 };
	char text[WA_QR_TEXT_MAX], big[WA_QR_REF_MAX + 2];

	memset(big, 'r', sizeof(big));
	CHECK_EQ_INT(wa_qr_build("", 0, k, k, k, "1", text, sizeof(text)), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_build("a,b", 3, k, k, k, "1", text, sizeof(text)), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_build("a#b", 3, k, k, k, "1", text, sizeof(text)), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_build("a\0b", 3, k, k, k, "1", text, sizeof(text)), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_build(big, WA_QR_REF_MAX + 1, k, k, k, "1", text, sizeof(text)),
		     Y_EINVAL);
	CHECK_EQ_INT(wa_qr_build(big, WA_QR_REF_MAX, k, k, k, "abcd", text, sizeof(text)), Y_OK);
	CHECK_EQ_INT(wa_qr_build("r", 1, k, k, k, "", text, sizeof(text)), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_build("r", 1, k, k, k, NULL, text, sizeof(text)), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_build("r", 1, k, k, k, "abcde", text, sizeof(text)), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_build("r", 1, k, k, k, "1,", text, sizeof(text)), Y_EINVAL);
	/* too small: refused, not truncated; one byte more fits */
	{
		size_t need = strlen(WA_QR_PREFIX) + 1 + 3 * 45 + 2 + 1; /* with the NUL */

		CHECK_EQ_INT(wa_qr_build("r", 1, k, k, k, "1", text, need - 1), Y_ETOOBIG);
		CHECK_EQ_STR(text, "");
		CHECK_EQ_INT(wa_qr_build("r", 1, k, k, k, "1", text, need), Y_OK);
		CHECK_EQ_INT((int)strlen(text), (int)need - 1);
	}
}

TEST(parse_refuses_malformed_texts)
{
	char k1[45], k2[45], k3[45], qr[1024], big[WA_QR_REF_MAX + 2];
	struct wa_qr q;

	key64(k1, 1);
	key64(k2, 2);
	key64(k3, 3);
	/* the type: 1..4 letters or digits */
	snprintf(qr, sizeof(qr), "r,%s,%s,%s,", k1, k2, k3);
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%s,%s,%s,12345", k1, k2, k3);
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%s,%s,%s,1 ", k1, k2, k3);
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_EINVAL);
	/* the ref: at most WA_QR_REF_MAX */
	memset(big, 'r', sizeof(big));
	big[WA_QR_REF_MAX + 1] = 0;
	snprintf(qr, sizeof(qr), "%s,%s,%s,%s", big, k1, k2, k3);
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_EINVAL);
	big[WA_QR_REF_MAX] = 0;
	snprintf(qr, sizeof(qr), "%s,%s,%s,%s", big, k1, k2, k3);
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_OK);
	/* keys: a 33rd byte, a bad last character, an empty field */
	snprintf(qr, sizeof(qr), "r,%sAA,%s,%s", k1, k2, k3);
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,,%s,%s", k2, k3);
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_EINVAL);
	snprintf(qr, sizeof(qr), "r,%s,%s,%s", k1, k2, k3);
	qr[strlen(qr) - 2] = '.';
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_EINVAL);
	/* a second '#' in the ref */
	snprintf(qr, sizeof(qr), "https://x#r#2,%s,%s,%s", k1, k2, k3);
	CHECK_EQ_INT(wa_qr_parse(qr, &q), Y_EINVAL);
	/* only a prefix, or nothing after it */
	CHECK_EQ_INT(wa_qr_parse(WA_QR_PREFIX, &q), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_parse(",,,", &q), Y_EINVAL);
	CHECK_EQ_INT(wa_qr_parse(",,,,", &q), Y_EINVAL);
}

int main(void)
{
	RUN(parses_both_forms);
	RUN(builds_and_parses_back);
	RUN(build_refuses_what_the_text_cannot_carry);
	RUN(parse_refuses_malformed_texts);
	return test_summary();
}
