/* Token tables and string -> token lookup. See tokens.h. */
#include "wa/tokens.h"

#include <string.h>

#include "wa/tokens_gen.inc"

struct dict_tables {
	const char *const *single;
	const uint8_t *single_len;
	const char *const (*dbl)[256];
	const uint8_t (*dbl_len)[256];
	const uint16_t *hash;
	size_t maxlen;
};

static const struct dict_tables dicts[2] = {
	{ v2_single, v2_single_len, v2_double, v2_double_len, v2_hash, WA_TOKENS_V2_MAXLEN },
	{ v3_single, v3_single_len, v3_double, v3_double_len, v3_hash, WA_TOKENS_V3_MAXLEN },
};

static const struct dict_tables *tables(int dict)
{
	if (dict == WA_DICT_V2)
		return &dicts[0];
	if (dict == WA_DICT_V3)
		return &dicts[1];
	return NULL;
}

int wa_tokens_valid_dict(int dict)
{
	return tables(dict) != NULL;
}

const char *wa_tokens_single(int dict, unsigned index, size_t *len)
{
	const struct dict_tables *t = tables(dict);

	if (!t || index == 0 || index >= WA_TOKENS_SINGLE_COUNT)
		return NULL;
	*len = t->single_len[index];
	return t->single[index];
}

const char *const *wa_tokens_single_table(int dict, const uint8_t **lens)
{
	const struct dict_tables *t = tables(dict);

	if (!t)
		return NULL;
	*lens = t->single_len;
	return t->single;
}

const char *wa_tokens_double(int dict, unsigned table, unsigned index, size_t *len)
{
	const struct dict_tables *t = tables(dict);

	if (!t || table > 3 || index > 255)
		return NULL;
	*len = t->dbl_len[table][index];
	return t->dbl[table][index];
}

/* FNV-1a, 32 bit: must match fnv1a() in scripts/gen-tokens.mjs. */
static uint32_t fnv1a(const char *s, size_t len)
{
	uint32_t h = 0x811c9dc5u;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x01000193u;
	}
	return h;
}

int wa_tokens_lookup(int dict, const char *s, size_t len, int *table, unsigned *index)
{
	const struct dict_tables *t = tables(dict);
	uint32_t h;

	if (!t || len == 0 || len > t->maxlen)
		return 0;
	h = fnv1a(s, len) & (WA_TOKENS_HASH_SIZE - 1);
	for (;;) {
		unsigned code = t->hash[h];
		const char *tok;
		size_t tlen;

		if (!code)
			return 0;
		code--;
		if (code < 256) {
			tok = t->single[code];
			tlen = t->single_len[code];
		} else {
			tok = t->dbl[(code - 256) >> 8][code & 0xff];
			tlen = t->dbl_len[(code - 256) >> 8][code & 0xff];
		}
		if (tlen == len && memcmp(tok, s, len) == 0) {
			*table = code < 256 ? -1 : (int)((code - 256) >> 8);
			*index = code & 0xff;
			return 1;
		}
		h = (h + 1) & (WA_TOKENS_HASH_SIZE - 1);
	}
}
