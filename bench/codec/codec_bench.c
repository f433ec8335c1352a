/*
 * Our side of the codec benchmark (bench/codec/run.sh): decodes every frame
 * of the corpus written by make-corpus.mjs and re-encodes the decoded
 * trees, each for about SECONDS seconds of CPU time (the machine is shared)
 * after an untimed warm-up of SECONDS / 2, as peer_bench.mjs does.
 * Usage: codec_bench <2|3> <corpus> <seconds>
 * Prints on one line: decode_nodes_per_s=.. decode_mb_per_s=..
 * encode_nodes_per_s=.. encode_mb_per_s=.. (per CPU second) and the same
 * per wall-clock second as decode_wall_nodes_per_s=.. and so on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "wa/binary.h"

static double seconds(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct corpus {
	const uint8_t **frame;
	size_t *len, n, bytes;
	struct wa_node **tree;
	int dict;
};

/* One pass over the corpus: decode every frame, or encode every tree into
 * a reused buffer (as a connection would). 0, or -1 on a codec failure. */
static int pass(const struct corpus *c, int encode, struct ybuf *out)
{
	for (size_t i = 0; i < c->n; i++) {
		struct wa_node *t;

		if (encode) {
			ybuf_reset(out);
			if (wa_binary_encode(c->tree[i], c->dict, out))
				return -1;
		} else {
			if (wa_binary_decode(c->frame[i], c->len[i], c->dict, &t))
				return -1;
			wa_node_free(t);
		}
	}
	return 0;
}

/* Passes until secs of CPU time (the machine is shared) have gone; prints
 * "<op>_nodes_per_s=.. <op>_mb_per_s=.. <op>_wall_nodes_per_s=..
 * <op>_wall_mb_per_s=.. ". secs <= 0 still makes one pass. */
static int measure(const struct corpus *c, int encode, double secs, struct ybuf *out, int print)
{
	const char *op = encode ? "encode" : "decode";
	double c0 = seconds(CLOCK_PROCESS_CPUTIME_ID), w0 = seconds(CLOCK_MONOTONIC), dt, dw;
	size_t rounds = 0;

	do {
		if (pass(c, encode, out))
			return -1;
		rounds++;
		dt = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
	} while (dt < secs);
	dw = seconds(CLOCK_MONOTONIC) - w0;
	if (print)
		printf("%s_nodes_per_s=%.0f %s_mb_per_s=%.2f %s_wall_nodes_per_s=%.0f %s_wall_mb_per_s=%.2f ",
		       op, (double)(rounds * c->n) / dt, op, (double)(rounds * c->bytes) / dt / 1e6, op,
		       (double)(rounds * c->n) / dw, op, (double)(rounds * c->bytes) / dw / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 3 ? atof(argv[3]) : 0;
	FILE *f = argc > 3 ? fopen(argv[2], "rb") : NULL;
	struct ybuf file = YBUF_INIT(0), out = YBUF_INIT(0);
	struct corpus c = { .dict = argc > 3 ? atoi(argv[1]) : 0 };
	size_t off = 0, got;
	uint8_t chunk[65536];

	if (!f) {
		fprintf(stderr, "usage: codec_bench <2|3> <corpus> <seconds>\n");
		return 2;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ybuf_append(&file, chunk, got);
	fclose(f);
	while (off + 4 <= file.len) {
		const uint8_t *p = file.data + off;
		size_t l = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		c.frame = realloc(c.frame, (c.n + 1) * sizeof(*c.frame));
		c.len = realloc(c.len, (c.n + 1) * sizeof(*c.len));
		c.frame[c.n] = p + 4;
		c.len[c.n] = l;
		c.bytes += l;
		c.n++;
		off += 4 + l;
	}
	c.tree = calloc(c.n, sizeof(*c.tree));
	for (size_t i = 0; i < c.n; i++) {
		if (wa_binary_decode(c.frame[i], c.len[i], c.dict, &c.tree[i])) {
			fprintf(stderr, "frame %zu does not decode\n", i);
			return 1;
		}
	}
	for (int encode = 0; encode <= 1; encode++) {
		if (measure(&c, encode, secs / 2, &out, 0) || measure(&c, encode, secs, &out, 1)) {
			fprintf(stderr, "codec failure\n");
			return 1;
		}
	}
	printf("\n");
	for (size_t i = 0; i < c.n; i++)
		wa_node_free(c.tree[i]);
	free(c.tree);
	free(c.frame);
	free(c.len);
	ybuf_release(&file);
	ybuf_release(&out);
	return 0;
}
