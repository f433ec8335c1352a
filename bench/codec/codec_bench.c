/*
 * Our side of the codec benchmark (bench/codec/run.sh): decodes every frame
 * of the corpus written by make-corpus.mjs and re-encodes the decoded
 * trees, each for about SECONDS seconds of CPU time (the machine is shared).
 * Usage: codec_bench <2|3> <corpus> <seconds>
 * Prints: decode_nodes_per_s=.. decode_mb_per_s=.. encode_nodes_per_s=.. encode_mb_per_s=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "wa/binary.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int dict = argc > 3 ? atoi(argv[1]) : 0;
	double secs = argc > 3 ? atof(argv[3]) : 0, t0, dt;
	FILE *f = argc > 3 ? fopen(argv[2], "rb") : NULL;
	struct ybuf file = YBUF_INIT(0), out = YBUF_INIT(0);
	const uint8_t **frame = NULL;
	size_t *len = NULL, n = 0, bytes = 0, off = 0, rounds;
	struct wa_node **tree;
	uint8_t chunk[65536];
	size_t got;

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
		frame = realloc(frame, (n + 1) * sizeof(*frame));
		len = realloc(len, (n + 1) * sizeof(*len));
		frame[n] = p + 4;
		len[n] = l;
		bytes += l;
		n++;
		off += 4 + l;
	}
	tree = calloc(n, sizeof(*tree));
	for (size_t i = 0; i < n; i++) {
		if (wa_binary_decode(frame[i], len[i], dict, &tree[i])) {
			fprintf(stderr, "frame %zu does not decode\n", i);
			return 1;
		}
	}
	/* decode */
	rounds = 0;
	t0 = now();
	do {
		for (size_t i = 0; i < n; i++) {
			struct wa_node *t;
			if (wa_binary_decode(frame[i], len[i], dict, &t))
				return 1;
			wa_node_free(t);
		}
		rounds++;
		dt = now() - t0;
	} while (dt < secs);
	printf("decode_nodes_per_s=%.0f decode_mb_per_s=%.2f ", (double)(rounds * n) / dt,
		(double)(rounds * bytes) / dt / 1e6);
	/* encode (into a reused buffer, as a connection would) */
	rounds = 0;
	t0 = now();
	do {
		for (size_t i = 0; i < n; i++) {
			ybuf_reset(&out);
			if (wa_binary_encode(tree[i], dict, &out))
				return 1;
		}
		rounds++;
		dt = now() - t0;
	} while (dt < secs);
	printf("encode_nodes_per_s=%.0f encode_mb_per_s=%.2f\n", (double)(rounds * n) / dt,
		(double)(rounds * bytes) / dt / 1e6);
	for (size_t i = 0; i < n; i++)
		wa_node_free(tree[i]);
	free(tree);
	free(frame);
	free(len);
	ybuf_release(&file);
	ybuf_release(&out);
	return 0;
}
