/* The passkey step's derivations (src/wa/passkey.c) against values computed
 * independently with Python's hashlib/hmac and base64.b32encode (alphabet
 * translated to WhatsApp's linking one); a changed input must change each. */
#include "test.h"
#include "util/err.h"
#include "wa/passkey.h"

static void fill(uint8_t *p, size_t n, unsigned start, unsigned step)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + step * i);
}

static int is_hex(const uint8_t *got, const char *hex)
{
	uint8_t *want = NULL;
	long n = test_unhex(hex, &want);
	int ok = n == 32 && !memcmp(got, want, 32);

	free(want);
	return ok;
}

TEST(handoff_key_and_proof)
{
	uint8_t adv[32], k[32], proof[32];

	fill(adv, 32, 1, 1);
	REQUIRE(wa_passkey_handoff_key(adv, k) == Y_OK);
	CHECK(is_hex(k, "6d5631336e8e224412543a97f576889396610c5addf03cf44e8602c27200a92d"));
	REQUIRE(wa_passkey_handoff_proof(k, (const uint8_t *)"prologue-bytes", 14, proof) == Y_OK);
	CHECK(is_hex(proof, "c37656321bb5ec249837477eae60bf8ebfa99250fc136010fb5aeec75d1dec32"));
	adv[31] ^= 1; /* another adv secret: another key */
	REQUIRE(wa_passkey_handoff_key(adv, k) == Y_OK);
	CHECK(!is_hex(k, "6d5631336e8e224412543a97f576889396610c5addf03cf44e8602c27200a92d"));
}

TEST(confirmation_code)
{
	uint8_t cn[32], pp[32], pn[32];
	char code[WA_PASSKEY_CODE_LEN + 1];

	fill(cn, 32, 0xa0, 1);
	fill(pp, 32, 0x40, 1);
	fill(pn, 32, 0, 0x10);
	REQUIRE(wa_passkey_code(cn, pp, pn, code) == Y_OK);
	CHECK_EQ_STR(code, "66MS-SGBG");
	pn[4] ^= 0x01; /* the last bit of the 40 lands in the last digit */
	REQUIRE(wa_passkey_code(cn, pp, pn, code) == Y_OK);
	CHECK(strcmp(code, "66MS-SGBG") != 0);
	CHECK_EQ_INT(strlen(code), 9);
	CHECK(code[4] == '-');
}

TEST(pairing_key_and_commitment)
{
	uint8_t sh[32], k[32], cn[32], c[32];

	memset(sh, 0x55, 32);
	REQUIRE(wa_passkey_pairing_key(sh, 0, "ref-123", 7, k) == Y_OK);
	CHECK(is_hex(k, "cc897aada1ff3ed759f1bb13fd8430dfa707792a611439e3bb3c2356688bb105"));
	REQUIRE(wa_passkey_pairing_key(sh, 1, "ref-123", 7, k) == Y_OK); /* device type is salt */
	CHECK(!is_hex(k, "cc897aada1ff3ed759f1bb13fd8430dfa707792a611439e3bb3c2356688bb105"));
	fill(cn, 32, 0xa0, 1);
	REQUIRE(wa_passkey_commitment((const uint8_t *)"ident", 5, cn, c) == Y_OK);
	CHECK(is_hex(c, "5193de15f3a7d834ea79a39edcc7cc8c6ad6186c4d91447d22135e5971ebc2ed"));
	CHECK(wa_passkey_pairing_key(sh, 0, "x", 201, k) == Y_EINVAL);
}

int main(void)
{
	RUN(handoff_key_and_proof);
	RUN(confirmation_code);
	RUN(pairing_key_and_commitment);
	return test_summary();
}
