/* src/wa/media.c against tests/vectors/media.txt (keys from Baileys 7's
 * getMediaKeys, encryption by node:crypto as Baileys' encryptedStream does
 * it; made by tests/vectors/media.mjs): key expansion, one-shot and
 * streamed encryption in chunks of every size, and decryption that refuses
 * every kind of tampering. */
#include "test.h"
#include "util/err.h"
#include "vector.h"
#include "wa/crypto.h"
#include "wa/media.h"

#define VEC_PATH "tests/vectors/media.txt"

static const struct {
	const char *name;
	enum wa_media_type t;
} cases[] = {
	{ "image", WA_MEDIA_IMAGE }, { "video", WA_MEDIA_VIDEO },
	{ "audio", WA_MEDIA_AUDIO }, { "document", WA_MEDIA_DOCUMENT },
	{ "sticker", WA_MEDIA_STICKER }, { "ptt", WA_MEDIA_AUDIO },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const uint8_t *get(const struct vec *v, const char *c, const char *what, size_t *len)
{
	char name[40];

	snprintf(name, sizeof(name), "%s_%s", c, what);
	return vec_get(v, name, len);
}

TEST(info_strings)
{
	CHECK(!strcmp(wa_media_info(WA_MEDIA_IMAGE), "WhatsApp Image Keys"));
	CHECK(!strcmp(wa_media_info(WA_MEDIA_STICKER), "WhatsApp Image Keys"));
	CHECK(!strcmp(wa_media_info(WA_MEDIA_VIDEO), "WhatsApp Video Keys"));
	CHECK(!strcmp(wa_media_info(WA_MEDIA_AUDIO), "WhatsApp Audio Keys"));
	CHECK(!strcmp(wa_media_info(WA_MEDIA_DOCUMENT), "WhatsApp Document Keys"));
	CHECK(!strcmp(wa_media_info(WA_MEDIA_HISTORY), "WhatsApp History Keys"));
	CHECK(!strcmp(wa_media_info(WA_MEDIA_APP_STATE), "WhatsApp App State Keys"));
	CHECK(wa_media_info(WA_MEDIA_NTYPES) == NULL);
	CHECK_EQ_INT(wa_media_type_parse("document"), WA_MEDIA_DOCUMENT);
	CHECK_EQ_INT(wa_media_type_parse("gif"), -1);
	CHECK_EQ_INT(wa_media_type_parse(NULL), -1);
}

TEST(keys_match_baileys)
{
	struct vec v;
	struct wa_media_keys k;

	CHECK_EQ_INT(vec_load(&v, VEC_PATH), 0);
	for (size_t i = 0; i < NCASES; i++) {
		const uint8_t *key = get(&v, cases[i].name, "key", NULL);
		size_t l;

		CHECK_EQ_INT(wa_media_keys_derive(&k, key, cases[i].t), Y_OK);
		CHECK_MEM(k.iv, get(&v, cases[i].name, "iv", &l), 16);
		CHECK_MEM(k.cipher, get(&v, cases[i].name, "cipherkey", &l), 32);
		CHECK_MEM(k.mac, get(&v, cases[i].name, "mackey", &l), 32);
	}
	CHECK_EQ_INT(wa_media_keys_derive(&k, get(&v, "image", "key", NULL), WA_MEDIA_NTYPES),
		     Y_EINVAL);
	vec_free(&v);
}

TEST(encrypt_matches_vector)
{
	struct vec v;

	CHECK_EQ_INT(vec_load(&v, VEC_PATH), 0);
	for (size_t i = 0; i < NCASES; i++) {
		const char *c = cases[i].name;
		struct wa_media_keys k;
		struct wa_media_sums s;
		size_t pl, ul, l, outlen;
		const uint8_t *plain = get(&v, c, "plain", &pl), *up = get(&v, c, "upload", &ul);
		uint8_t *out;

		CHECK_EQ_INT(wa_media_keys_derive(&k, get(&v, c, "key", NULL), cases[i].t), Y_OK);
		CHECK_EQ_INT(wa_media_encrypt(&k, plain, pl, &out, &outlen, &s), Y_OK);
		CHECK_EQ_INT(outlen, ul);
		if (outlen == ul)
			CHECK_MEM(out, up, ul);
		CHECK_MEM(s.file_sha256, get(&v, c, "sha256", &l), 32);
		CHECK_MEM(s.file_enc_sha256, get(&v, c, "encsha256", &l), 32);
		CHECK_MEM(s.mac, up + ul - 10, 10);
		CHECK_EQ_INT(s.file_length, pl);
		CHECK_EQ_INT(s.enc_length, ul);
		free(out);
	}
	vec_free(&v);
}

/* Streams plaintext through an encryptor `step` bytes at a time. */
static size_t enc_stream(const struct wa_media_keys *k, const uint8_t *in, size_t len,
			 size_t step, uint8_t *out, struct wa_media_sums *s)
{
	struct wa_media_enc *e = wa_media_enc_new(k);
	size_t pos = 0, w = 0, n;

	CHECK(e != NULL);
	if (!e)
		return 0;
	while (pos < len) {
		size_t c = len - pos < step ? len - pos : step;

		CHECK_EQ_INT(wa_media_enc_update(e, in + pos, c, out + w, &n), Y_OK);
		CHECK(n <= c + 16);
		pos += c;
		w += n;
	}
	CHECK_EQ_INT(wa_media_enc_final(e, out + w, &n, s), Y_OK);
	w += n;
	CHECK_EQ_INT(wa_media_enc_update(e, in, len, out + w, &n), Y_ESTATE);
	wa_media_enc_free(e);
	return w;
}

static int dec_stream(const struct wa_media_keys *k, const uint8_t *in, size_t len,
		      size_t step, const uint8_t *encsha, const uint8_t *sha, uint8_t *out,
		      size_t *outlen, const char **why)
{
	struct wa_media_dec *d = wa_media_dec_new(k);
	struct wa_media_sums s;
	size_t pos = 0, w = 0, n;
	int rc = Y_OK;

	CHECK(d != NULL);
	if (!d)
		return Y_ENOMEM;
	while (pos < len && rc == Y_OK) {
		size_t c = len - pos < step ? len - pos : step;

		rc = wa_media_dec_update(d, in + pos, c, out + w, &n);
		CHECK(n <= c + 16);
		pos += c;
		w += n;
	}
	if (rc == Y_OK)
		rc = wa_media_dec_final(d, encsha, sha, out + w, &n, &s, why);
	wa_media_dec_free(d);
	*outlen = rc == Y_OK ? w + n : 0;
	return rc;
}

TEST(streamed_in_every_chunk_size)
{
	struct vec v;

	CHECK_EQ_INT(vec_load(&v, VEC_PATH), 0);
	for (size_t i = 0; i < NCASES; i++) {
		const char *c = cases[i].name;
		struct wa_media_keys k;
		struct wa_media_sums s;
		size_t pl, ul, l;
		const uint8_t *plain = get(&v, c, "plain", &pl), *up = get(&v, c, "upload", &ul);
		const uint8_t *sha = get(&v, c, "sha256", &l), *esha = get(&v, c, "encsha256", &l);
		uint8_t *out = malloc(ul + pl + 64);
		const char *why = NULL;

		wa_media_keys_derive(&k, get(&v, c, "key", NULL), cases[i].t);
		for (size_t step = 1; step <= 40; step++) {
			size_t n = enc_stream(&k, plain, pl, step, out, &s);

			CHECK_EQ_INT(n, ul);
			if (n == ul)
				CHECK_MEM(out, up, ul);
			CHECK_MEM(s.file_sha256, sha, 32);
			CHECK_EQ_INT(dec_stream(&k, up, ul, step, esha, sha, out, &n, &why), Y_OK);
			CHECK_EQ_INT(n, pl);
			if (n == pl && pl)
				CHECK_MEM(out, plain, pl);
		}
		free(out);
	}
	vec_free(&v);
}

TEST(decrypt_refuses_tampering)
{
	struct vec v;
	size_t ul, pl, l, n;
	const uint8_t *up, *sha, *esha;
	uint8_t *bad, *out;
	struct wa_media_keys k, other;
	struct wa_media_sums s;
	const char *why = NULL;

	CHECK_EQ_INT(vec_load(&v, VEC_PATH), 0);
	up = get(&v, "document", "upload", &ul);
	get(&v, "document", "plain", &pl);
	sha = get(&v, "document", "sha256", &l);
	esha = get(&v, "document", "encsha256", &l);
	wa_media_keys_derive(&k, get(&v, "document", "key", NULL), WA_MEDIA_DOCUMENT);
	bad = malloc(ul + 16);
	memcpy(bad, up, ul);
	/* the vector as is: accepted */
	CHECK_EQ_INT(wa_media_decrypt(&k, up, ul, esha, sha, &out, &n, &s, &why), Y_OK);
	CHECK_EQ_INT(n, pl);
	CHECK(why == NULL);
	free(out);
	/* one flipped bit anywhere: the mac */
	for (size_t i = 0; i < ul; i += 97) {
		bad[i] ^= 0x20;
		CHECK_EQ_INT(wa_media_decrypt(&k, bad, ul, NULL, NULL, &out, &n, &s, &why),
			     Y_ECRYPTO);
		CHECK(out == NULL);
		CHECK(why && !strcmp(why, "bad mac"));
		bad[i] ^= 0x20;
	}
	/* truncated by a block, by a byte, to the mac alone, to nothing */
	CHECK_EQ_INT(wa_media_decrypt(&k, up, ul - 16, NULL, NULL, &out, &n, &s, &why), Y_ECRYPTO);
	CHECK(!strcmp(why, "bad mac"));
	CHECK_EQ_INT(wa_media_decrypt(&k, up, ul - 1, NULL, NULL, &out, &n, &s, &why), Y_ECRYPTO);
	CHECK(!strcmp(why, "bad length"));
	CHECK_EQ_INT(wa_media_decrypt(&k, up, 10, NULL, NULL, &out, &n, &s, &why), Y_ECRYPTO);
	CHECK(!strcmp(why, "bad length"));
	CHECK_EQ_INT(wa_media_decrypt(&k, up, 9, NULL, NULL, &out, &n, &s, &why), Y_ECRYPTO);
	CHECK(!strcmp(why, "too short"));
	CHECK_EQ_INT(wa_media_decrypt(&k, up, 0, NULL, NULL, &out, &n, &s, &why), Y_ECRYPTO);
	/* the right blob under another type's keys */
	wa_media_keys_derive(&other, get(&v, "document", "key", NULL), WA_MEDIA_IMAGE);
	CHECK_EQ_INT(wa_media_decrypt(&other, up, ul, NULL, NULL, &out, &n, &s, &why), Y_ECRYPTO);
	CHECK(!strcmp(why, "bad mac"));
	/* a good blob with the hashes another message announced */
	bad[0] = esha[0] ^ 1;
	memcpy(bad + 1, esha + 1, 31);
	CHECK_EQ_INT(wa_media_decrypt(&k, up, ul, bad, sha, &out, &n, &s, &why), Y_ECRYPTO);
	CHECK(!strcmp(why, "bad enc sha256"));
	bad[0] = sha[0] ^ 1;
	memcpy(bad + 1, sha + 1, 31);
	CHECK_EQ_INT(wa_media_decrypt(&k, up, ul, esha, bad, &out, &n, &s, &why), Y_ECRYPTO);
	CHECK(!strcmp(why, "bad sha256"));
	free(bad);
	vec_free(&v);
}

/* Bad padding under a valid mac: a sender that knows the keys can make it,
 * so it must be caught after the mac passes. */
TEST(decrypt_refuses_bad_padding)
{
	struct wa_media_keys k;
	uint8_t key[32] = { 7 }, block[64], *out;
	struct wa_media_enc *e;
	struct wa_media_sums s;
	size_t n;
	const char *why;
	uint8_t mac[32];

	wa_media_keys_derive(&k, key, WA_MEDIA_IMAGE);
	/* a block that decrypts to 16 zero bytes (padding byte 0 is invalid):
	 * CBC-encrypt zeros without padding */
	e = wa_media_enc_new(&k);
	{
		uint8_t z[16] = { 0 };

		CHECK_EQ_INT(wa_media_enc_update(e, z, 16, block, &n), Y_OK);
		CHECK_EQ_INT(n, 16);
		CHECK_EQ_INT(wa_media_enc_final(e, block + 16, &n, &s), Y_OK);
		CHECK_EQ_INT(n, 16 + 10); /* the padding block and the mac */
	}
	wa_media_enc_free(e);
	/* keep the first block only (its plaintext is the 16 zeros), re-mac it */
	{
		uint8_t msg[32];

		memcpy(msg, k.iv, 16);
		memcpy(msg + 16, block, 16);
		CHECK_EQ_INT(wa_hmac_sha256(mac, k.mac, 32, msg, 32), Y_OK);
		memcpy(block + 16, mac, 10);
	}
	CHECK_EQ_INT(wa_media_decrypt(&k, block, 26, NULL, NULL, &out, &n, &s, &why), Y_ECRYPTO);
	CHECK(!strcmp(why, "bad padding"));
}

int main(void)
{
	RUN(info_strings);
	RUN(keys_match_baileys);
	RUN(encrypt_matches_vector);
	RUN(streamed_in_every_chunk_size);
	RUN(decrypt_refuses_tampering);
	RUN(decrypt_refuses_bad_padding);
	return test_summary();
}
