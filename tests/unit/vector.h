/*
 * Protocol vectors for the unit tests: tests/vectors/NAME.txt files of
 * "name hex" lines ('#' starts a comment), made by the tests/vectors/NAME.mjs
 * scripts from node:crypto (not from our code). Paths are relative to the
 * repository root, where tests/run.sh and make run the unit tests.
 */
#ifndef YESAPP_TEST_VECTOR_H
#define YESAPP_TEST_VECTOR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"

#define VEC_MAX 48
struct vec {
	char name[VEC_MAX][40];
	uint8_t *val[VEC_MAX];
	size_t len[VEC_MAX];
	int n;
};

/* Reads a vector file; -1 if it cannot be opened. */
static int vec_load(struct vec *v, const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");

	memset(v, 0, sizeof(*v));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && v->n < VEC_MAX) {
		char *sp = strchr(line, ' ');
		size_t hl;

		if (line[0] == '#' || !sp || (size_t)(sp - line) >= sizeof(v->name[0]))
			continue;
		memcpy(v->name[v->n], line, (size_t)(sp - line));
		hl = strcspn(sp + 1, "\r\n");
		v->val[v->n] = malloc(hl / 2 + 1);
		if (!v->val[v->n] ||
		    codec_hex_decode(sp + 1, hl, v->val[v->n], hl / 2 + 1, &v->len[v->n])) {
			free(v->val[v->n]);
			break;
		}
		v->n++;
	}
	fclose(f);
	return 0;
}

static void vec_free(struct vec *v)
{
	for (int i = 0; i < v->n; i++)
		free(v->val[i]);
}

/* The named value; aborts if the file lacks it (a broken vector file). */
static const uint8_t *vec_get(const struct vec *v, const char *name, size_t *len)
{
	for (int i = 0; i < v->n; i++)
		if (!strcmp(v->name[i], name)) {
			if (len)
				*len = v->len[i];
			return v->val[i];
		}
	fprintf(stderr, "  vector lacks %s\n", name);
	abort();
}

#define VEC_EQ(buf, blen, name) \
	do { \
		size_t vl_; \
		const uint8_t *vv_ = vec_get(&v, name, &vl_); \
		CHECK_EQ_INT((blen), vl_); \
		if ((size_t)(blen) == vl_) \
			CHECK_MEM((buf), vv_, vl_); \
	} while (0)

#endif
