/* Tests of hex and base64url (util/codec.h), with RFC 4648 vectors. */
#include "test.h"

#include "util/codec.h"
#include "util/err.h"

TEST(hex_round_trip_and_errors)
{
	const uint8_t in[] = { 0x00, 0x01, 0xab, 0xff, 0x10 };
	char enc[CODEC_HEX_ENC_LEN(sizeof(in))];
	uint8_t out[8];
	size_t n = 99;

	CHECK_EQ_INT(codec_hex_encode(in, sizeof(in), enc), 10);
	CHECK_EQ_STR(enc, "0001abff10");
	CHECK_EQ_INT(codec_hex_decode("0001ABff10", 10, out, sizeof(out), &n), Y_OK);
	CHECK_EQ_INT(n, 5);
	CHECK_MEM(out, in, 5);
	CHECK_EQ_INT(codec_hex_decode("", 0, out, 0, &n), Y_OK);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(codec_hex_decode("abc", 3, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_hex_decode("zz", 2, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_hex_decode("0g", 2, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_hex_decode("0001", 4, out, 1, &n), Y_ETOOBIG);
	CHECK_EQ_INT(codec_hex_encode(in, 0, enc), 0);
	CHECK_EQ_STR(enc, "");
}

/* RFC 4648 §10 vectors, unpadded, plus bytes that differ between alphabets. */
TEST(b64url_vectors)
{
	static const struct {
		const char *plain, *enc;
	} v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	};
	char enc[32];
	uint8_t out[32];
	size_t n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t len = strlen(v[i].plain);

		CHECK_EQ_INT(codec_b64url_encode((const uint8_t *)v[i].plain, len, enc),
			     strlen(v[i].enc));
		CHECK_EQ_STR(enc, v[i].enc);
		CHECK(CODEC_B64URL_ENC_LEN(len) == strlen(v[i].enc) + 1);
		n = 99;
		CHECK_EQ_INT(codec_b64url_decode(v[i].enc, strlen(v[i].enc), out, sizeof(out), &n),
			     Y_OK);
		CHECK_EQ_INT(n, len);
		CHECK_MEM(out, v[i].plain, len);
	}
	const uint8_t odd[] = { 0xfb, 0xff, 0xbf };
	codec_b64url_encode(odd, 3, enc);
	CHECK_EQ_STR(enc, "-_-_");
	CHECK_EQ_INT(codec_b64url_decode("-_-_", 4, out, sizeof(out), &n), Y_OK);
	CHECK_MEM(out, odd, 3);
}

TEST(b64url_padding_and_strictness)
{
	uint8_t out[16];
	size_t n;

	CHECK_EQ_INT(codec_b64url_decode("Zg==", 4, out, sizeof(out), &n), Y_OK);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(codec_b64url_decode("Zm8=", 4, out, sizeof(out), &n), Y_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(codec_b64url_decode("Zg=", 3, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("Z===", 4, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("====", 4, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("Zm9v=", 5, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("Z=g=", 4, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("Z", 1, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("Zm9vY", 5, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("+/+/", 4, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("Zm 9", 4, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("Zh", 2, out, sizeof(out), &n), Y_EINVAL); /* trailing bits */
	CHECK_EQ_INT(codec_b64url_decode("Zm9", 3, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("Zm9vYmFy", 8, out, 5, &n), Y_ETOOBIG);
	CHECK_EQ_INT(codec_b64url_decode("Zm9vYmFy", 8, out, 6, &n), Y_OK);
}

TEST(b64url_round_trips_every_length)
{
	uint8_t in[64], out[64];
	char enc[CODEC_B64URL_ENC_LEN(64)];
	uint32_t x = 12345; /* seeded LCG */

	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t n = 0, elen;

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (uint8_t)(x >> 16);
		}
		elen = codec_b64url_encode(in, len, enc);
		CHECK_EQ_INT(elen + 1, CODEC_B64URL_ENC_LEN(len));
		CHECK(CODEC_B64URL_DEC_MAX(elen) >= len);
		CHECK_EQ_INT(codec_b64url_decode(enc, elen, out, len, &n), Y_OK);
		CHECK_EQ_INT(n, len);
		CHECK_MEM(out, in, len);
	}
}

/* Standard base64 (RFC 4648 §4): the same rules, '+' and '/' instead. */
TEST(b64_standard_alphabet)
{
	uint8_t out[16];
	size_t n = 0;

	CHECK_EQ_INT(codec_b64_decode("Zm9vYmFy", 8, out, sizeof(out), &n), Y_OK);
	CHECK_EQ_INT(n, 6);
	CHECK_MEM(out, "foobar", 6);
	CHECK_EQ_INT(codec_b64_decode("+/8=", 4, out, sizeof(out), &n), Y_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(out[0], 0xfb);
	CHECK_EQ_INT(out[1], 0xff);
	CHECK_EQ_INT(codec_b64_decode("-_8", 3, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64url_decode("+/8", 3, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64_decode("Zm9v YmFy", 9, out, sizeof(out), &n), Y_EINVAL);
	CHECK_EQ_INT(codec_b64_decode("Zm9vYmFy", 8, out, 5, &n), Y_ETOOBIG);
}

int main(void)
{
	RUN(hex_round_trip_and_errors);
	RUN(b64url_vectors);
	RUN(b64url_padding_and_strictness);
	RUN(b64url_round_trips_every_length);
	RUN(b64_standard_alphabet);
	return test_summary();
}
