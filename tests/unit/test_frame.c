/* Tests for src/wa/frame.{h,c}: the WhatsApp 3-byte length framing. */
#include "test.h"
#include "util/err.h"
#include "wa/frame.h"

/* REQUIRE() evaluates its condition twice: calls with effects go through this. */
static int rc_;

/* Decodes all of in (fed in chunks of `step` bytes, 0 = all at once) and
 * appends each frame as <len24><payload> to out. Returns the final code
 * (Y_EAGAIN when the input ended cleanly between or inside frames). */
static int decode_all(struct wa_frame_dec *d, const uint8_t *in, size_t len, size_t step,
		      struct ybuf *out, int *nframes)
{
	size_t off = 0;
	int rc = Y_EAGAIN;

	*nframes = 0;
	while (off < len) {
		size_t chunk = step && step < len - off ? step : len - off;
		const uint8_t *p = in + off;
		size_t n = chunk;
		const uint8_t *f;
		size_t fl;

		while ((rc = wa_frame_dec_next(d, &p, &n, &f, &fl)) == Y_OK) {
			uint8_t h[3] = { (uint8_t)(fl >> 16), (uint8_t)(fl >> 8), (uint8_t)fl };
			ybuf_append(out, h, 3);
			ybuf_append(out, f, fl);
			(*nframes)++;
		}
		if (rc != Y_EAGAIN)
			return rc;
		if (n != 0)
			return Y_ESTATE; /* EAGAIN must mean all input consumed */
		off += chunk;
	}
	return rc;
}

TEST(encodes_vectors_with_intro_once)
{
	struct wa_frame_enc e;
	struct ybuf out = YBUF_INIT(0);

	rc_ = wa_frame_enc_init(&e, 2, NULL, 0);
	REQUIRE(rc_ == Y_OK);
	CHECK_EQ_INT(wa_frame_enc_overhead(&e), 7);
	CHECK_EQ_INT(wa_frame_enc_append(&e, (const uint8_t *)"abc", 3, &out), Y_OK);
	CHECK_EQ_INT(wa_frame_enc_overhead(&e), 3);
	CHECK_EQ_INT(wa_frame_enc_append(&e, (const uint8_t *)"xy", 2, &out), Y_OK);
	REQUIRE(out.len == 7 + 3 + 3 + 2);
	CHECK_MEM(out.data, "WA\x06\x02\x00\x00\x03" "abc" "\x00\x00\x02" "xy", out.len);
	wa_frame_enc_release(&e);
	ybuf_release(&out);
}

TEST(encodes_length_big_endian)
{
	struct wa_frame_enc e;
	uint8_t h[8];
	size_t w = 0;

	rc_ = wa_frame_enc_init(&e, WA_FRAME_NO_INTRO, NULL, 0);
	REQUIRE(rc_ == Y_OK);
	CHECK_EQ_INT(wa_frame_enc_header(&e, 0x0a0b0c, h, sizeof(h), &w), Y_OK);
	CHECK_EQ_INT(w, 3);
	CHECK_MEM(h, "\x0a\x0b\x0c", 3);
	CHECK_EQ_INT(wa_frame_enc_header(&e, WA_FRAME_MAX, h, sizeof(h), &w), Y_OK);
	CHECK_MEM(h, "\xff\xff\xff", 3);
	CHECK_EQ_INT(wa_frame_enc_header(&e, 256, h, sizeof(h), &w), Y_OK);
	CHECK_MEM(h, "\x00\x01\x00", 3);
	wa_frame_enc_release(&e);
}

TEST(encoder_refuses_zero_and_oversize)
{
	struct wa_frame_enc e;
	struct ybuf out = YBUF_INIT(0);
	uint8_t h[8];
	size_t w = 99;

	rc_ = wa_frame_enc_init(&e, 3, NULL, 0);
	REQUIRE(rc_ == Y_OK);
	CHECK_EQ_INT(wa_frame_enc_header(&e, 0, h, sizeof(h), &w), Y_EINVAL);
	CHECK_EQ_INT(wa_frame_enc_header(&e, (size_t)1 << 24, h, sizeof(h), &w), Y_ETOOBIG);
	CHECK_EQ_INT(wa_frame_enc_header(&e, 5, h, 6, &w), Y_ETOOBIG); /* room for 7 needed */
	CHECK_EQ_INT(w, 99);
	CHECK_EQ_INT(wa_frame_enc_append(&e, (const uint8_t *)"", 0, &out), Y_EINVAL);
	CHECK_EQ_INT(out.len, 0);
	/* the failures did not consume the intro */
	CHECK_EQ_INT(wa_frame_enc_overhead(&e), 7);
	CHECK_EQ_INT(wa_frame_enc_append(&e, (const uint8_t *)"q", 1, &out), Y_OK);
	CHECK_MEM(out.data, "WA\x06\x03\x00\x00\x01q", 8);
	wa_frame_enc_release(&e);
	ybuf_release(&out);
	CHECK_EQ_INT(wa_frame_enc_init(&e, 256, NULL, 0), Y_EINVAL);
	CHECK_EQ_INT(wa_frame_enc_init(&e, WA_FRAME_NO_INTRO, (const uint8_t *)"r", 1), Y_EINVAL);
	CHECK_EQ_INT(wa_frame_enc_init(&e, 2, (const uint8_t *)"r", (size_t)1 << 24), Y_ETOOBIG);
}

TEST(encodes_ed_prefix_before_intro)
{
	struct wa_frame_enc e;
	struct ybuf out = YBUF_INIT(0);
	const uint8_t ri[] = { 0x08, 0x02, 0x08, 0x05 };

	rc_ = wa_frame_enc_init(&e, 2, ri, sizeof(ri));
	REQUIRE(rc_ == Y_OK);
	CHECK_EQ_INT(wa_frame_enc_overhead(&e), 7 + 4 + 4 + 3);
	CHECK_EQ_INT(wa_frame_enc_append(&e, (const uint8_t *)"Z", 1, &out), Y_OK);
	CHECK_EQ_INT(wa_frame_enc_append(&e, (const uint8_t *)"Y", 1, &out), Y_OK);
	REQUIRE(out.len == 18 + 1 + 4);
	CHECK_MEM(out.data, "ED\x00\x01\x00\x00\x04\x08\x02\x08\x05WA\x06\x02\x00\x00\x01Z\x00\x00\x01Y",
		  out.len);
	wa_frame_enc_release(&e);
	ybuf_release(&out);
}

TEST(decodes_coalesced_frames_one_by_one)
{
	const uint8_t in[] = "\x00\x00\x03" "abc" "\x00\x00\x01" "d" "\x00\x00\x02" "ef";
	struct wa_frame_dec d;
	const uint8_t *p = in, *f = NULL;
	size_t n = sizeof(in) - 1, fl = 0;

	wa_frame_dec_init(&d, WA_FRAME_DEC_CLIENT, 0);
	CHECK_EQ_INT(wa_frame_dec_next(&d, &p, &n, &f, &fl), Y_OK);
	CHECK_EQ_INT(fl, 3);
	CHECK_MEM(f, "abc", 3);
	CHECK_EQ_INT(n, sizeof(in) - 1 - 6);
	CHECK_EQ_INT(wa_frame_dec_next(&d, &p, &n, &f, &fl), Y_OK);
	CHECK_EQ_INT(fl, 1);
	CHECK_MEM(f, "d", 1);
	CHECK_EQ_INT(wa_frame_dec_next(&d, &p, &n, &f, &fl), Y_OK);
	CHECK_EQ_INT(fl, 2);
	CHECK_MEM(f, "ef", 2);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(wa_frame_dec_next(&d, &p, &n, &f, &fl), Y_EAGAIN);
	wa_frame_dec_release(&d);
}

/* Builds a stream of frames with lengths 1, 2, 300, 5000, 70000 and checks
 * that splitting it at every byte position up to the last frame's body (two
 * chunks) and feeding it byte by byte gives the same frames. */
TEST(decodes_split_at_every_position)
{
	static const size_t lens[] = { 1, 2, 300, 5000, 70000 };
	struct wa_frame_enc e;
	struct ybuf stream = YBUF_INIT(0), want = YBUF_INIT(0), got = YBUF_INIT(0);
	uint32_t seed = 12345;
	int nf;

	rc_ = wa_frame_enc_init(&e, 2, NULL, 0);
	REQUIRE(rc_ == Y_OK);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *pl = malloc(lens[i]);
		for (size_t j = 0; j < lens[i]; j++) {
			seed = seed * 1103515245u + 12345u;
			pl[j] = (uint8_t)(seed >> 16);
		}
		rc_ = wa_frame_enc_append(&e, pl, lens[i], &stream);
	REQUIRE(rc_ == Y_OK);
		free(pl);
	}
	wa_frame_enc_release(&e);
	/* the frames as the client-mode decoder should return them */
	ybuf_append(&want, stream.data + 4, stream.len - 4);

	/* every cut inside the prefix and the first four frames, then a few
	 * inside the big one (each cut there costs a 70 KB copy) */
	for (size_t cut = 0; cut <= stream.len; cut = cut < 5330 ? cut + 1 : cut + 997) {
		struct wa_frame_dec d;
		int n1 = 0, n2 = 0, rc;

		wa_frame_dec_init(&d, WA_FRAME_DEC_SERVER, 0);
		ybuf_reset(&got);
		rc = decode_all(&d, stream.data, cut, 0, &got, &n1);
		if (rc == Y_EAGAIN || cut == 0)
			rc = decode_all(&d, stream.data + cut, stream.len - cut, 0, &got, &n2);
		if (rc != Y_EAGAIN || n1 + n2 != 5 || got.len != want.len ||
		    memcmp(got.data, want.data, want.len) || d.dict != 2) {
			CHECK(!"split decode differs");
			fprintf(stderr, "  cut at %zu: rc %d frames %d\n", cut, rc, n1 + n2);
			wa_frame_dec_release(&d);
			break;
		}
		wa_frame_dec_release(&d);
	}
	{
		struct wa_frame_dec d;

		wa_frame_dec_init(&d, WA_FRAME_DEC_SERVER, 0);
		ybuf_reset(&got);
		CHECK_EQ_INT(decode_all(&d, stream.data, stream.len, 1, &got, &nf), Y_EAGAIN);
		CHECK_EQ_INT(nf, 5);
		CHECK(got.len == want.len && !memcmp(got.data, want.data, want.len));
		wa_frame_dec_release(&d);
	}
	ybuf_release(&stream);
	ybuf_release(&want);
	ybuf_release(&got);
}

TEST(decoder_refuses_zero_length_and_oversize)
{
	struct wa_frame_dec d;
	struct ybuf got = YBUF_INIT(0);
	int nf;

	wa_frame_dec_init(&d, WA_FRAME_DEC_CLIENT, 0);
	CHECK_EQ_INT(decode_all(&d, (const uint8_t *)"\x00\x00\x01" "a" "\x00\x00\x00" "b", 8, 0,
				&got, &nf), Y_EINVAL);
	CHECK_EQ_INT(nf, 1);
	/* sticky */
	{
		const uint8_t *p = (const uint8_t *)"\x00\x00\x01z", *f;
		size_t n = 4, fl;
		CHECK_EQ_INT(wa_frame_dec_next(&d, &p, &n, &f, &fl), Y_EINVAL);
	}
	wa_frame_dec_release(&d);

	wa_frame_dec_init(&d, WA_FRAME_DEC_CLIENT, 100);
	CHECK_EQ_INT(decode_all(&d, (const uint8_t *)"\x00\x00\x64", 3, 0, &got, &nf), Y_EAGAIN);
	wa_frame_dec_release(&d);
	wa_frame_dec_init(&d, WA_FRAME_DEC_CLIENT, 100);
	CHECK_EQ_INT(decode_all(&d, (const uint8_t *)"\x00\x00\x65", 3, 0, &got, &nf), Y_ETOOBIG);
	wa_frame_dec_release(&d);
	ybuf_release(&got);
}

TEST(server_mode_parses_intro_and_ed_prefix)
{
	static const uint8_t in[] = "ED\x00\x01\x00\x00\x03" "RIx" "WA\x06\x03" "\x00\x00\x02" "hi";
	struct wa_frame_dec d;
	struct ybuf got = YBUF_INIT(0);
	int nf;

	for (size_t step = 1; step <= sizeof(in) - 1; step++) {
		wa_frame_dec_init(&d, WA_FRAME_DEC_SERVER, 0);
		ybuf_reset(&got);
		CHECK_EQ_INT(decode_all(&d, in, sizeof(in) - 1, step, &got, &nf), Y_EAGAIN);
		CHECK_EQ_INT(nf, 1);
		CHECK_EQ_INT(d.dict, 3);
		CHECK(wa_frame_dec_intro_done(&d));
		CHECK(d.routing.len == 3 && !memcmp(d.routing.data, "RIx", 3));
		CHECK(got.len == 5 && !memcmp(got.data, "\x00\x00\x02hi", 5));
		wa_frame_dec_release(&d);
	}
	/* empty routing info */
	wa_frame_dec_init(&d, WA_FRAME_DEC_SERVER, 0);
	CHECK_EQ_INT(decode_all(&d, (const uint8_t *)"ED\x00\x01\x00\x00\x00WA\x06\x02\x00\x00\x01!",
				15, 0, &got, &nf), Y_EAGAIN);
	CHECK_EQ_INT(nf, 1);
	CHECK_EQ_INT(d.dict, 2);
	CHECK_EQ_INT(d.routing.len, 0);
	wa_frame_dec_release(&d);
	ybuf_release(&got);
}

TEST(server_mode_truncated_and_malformed_prefixes)
{
	static const struct {
		const char *in;
		size_t len;
		int rc;
		int intro;
	} v[] = {
		{ "W", 1, Y_EAGAIN, 0 },
		{ "WA\x06", 3, Y_EAGAIN, 0 },
		{ "WA\x06\x02", 4, Y_EAGAIN, 1 },
		{ "WA\x06\x02\x00\x00", 6, Y_EAGAIN, 1 },
		{ "ED\x00\x01\x00", 5, Y_EAGAIN, 0 },
		{ "ED\x00\x01\x00\x00\x05RI", 9, Y_EAGAIN, 0 },
		{ "ED\x00\x01\x00\x00\x01RWA", 10, Y_EAGAIN, 0 },
		{ "X", 1, Y_EINVAL, 0 },
		{ "\x00\x00\x01z", 4, Y_EINVAL, 0 }, /* frame without intro */
		{ "WB\x06\x02", 4, Y_EINVAL, 0 },
		{ "WA\x05\x02", 4, Y_EUNSUPPORTED, 0 },
		{ "EX\x00\x01\x00\x00\x00", 7, Y_EINVAL, 0 },
		{ "ED\x00\x02\x00\x00\x00", 7, Y_EINVAL, 0 },
		{ "ED\x00\x01\x00\x00\x00" "ED", 9, Y_EINVAL, 0 }, /* ED twice */
		{ "E", 1, Y_EAGAIN, 0 },
		{ "EE", 2, Y_EINVAL, 0 },
		{ "WW", 2, Y_EINVAL, 0 },
		{ "ED\x00\x01\x00\x00\x01R" "XA\x06\x02", 12, Y_EINVAL, 0 },
		{ "ED\x00\x01\x01\x00\x00", 7, Y_ETOOBIG, 0 }, /* routing over the cap */
		{ "WA\x06\x02\x00\x00\x00", 7, Y_EINVAL, 1 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct wa_frame_dec d;
		struct ybuf got = YBUF_INIT(0);
		int nf, rc;

		wa_frame_dec_init(&d, WA_FRAME_DEC_SERVER, 1000);
		rc = decode_all(&d, (const uint8_t *)v[i].in, v[i].len, 0, &got, &nf);
		if (rc != v[i].rc || nf != 0 || wa_frame_dec_intro_done(&d) != !!v[i].intro) {
			CHECK(!"prefix vector");
			fprintf(stderr, "  vector %zu: rc %d (want %d) intro %d\n", i, rc, v[i].rc,
				wa_frame_dec_intro_done(&d));
		}
		wa_frame_dec_release(&d);
		ybuf_release(&got);
	}
}

TEST(round_trip_random_chunks)
{
	uint32_t seed = 7;
	struct ybuf stream = YBUF_INIT(0), want = YBUF_INIT(0), got = YBUF_INIT(0);

	for (int round = 0; round < 50; round++) {
		struct wa_frame_enc e;
		struct wa_frame_dec d;
		size_t off = 0;
		int nf;

		ybuf_reset(&stream);
		ybuf_reset(&want);
		ybuf_reset(&got);
		rc_ = wa_frame_enc_init(&e, WA_FRAME_NO_INTRO, NULL, 0);
	REQUIRE(rc_ == Y_OK);
		for (int i = 0; i < 20; i++) {
			uint8_t pl[600];
			size_t len;

			seed = seed * 1103515245u + 12345u;
			len = 1 + (seed >> 8) % sizeof(pl);
			for (size_t j = 0; j < len; j++)
				pl[j] = (uint8_t)(j * 31 + (size_t)i);
			rc_ = wa_frame_enc_append(&e, pl, len, &stream);
	REQUIRE(rc_ == Y_OK);
		}
		wa_frame_enc_release(&e);
		wa_frame_dec_init(&d, WA_FRAME_DEC_CLIENT, 0);
		while (off < stream.len) {
			size_t chunk;

			seed = seed * 1103515245u + 12345u;
			chunk = 1 + (seed >> 8) % 900;
			if (chunk > stream.len - off)
				chunk = stream.len - off;
			CHECK_EQ_INT(decode_all(&d, stream.data + off, chunk, 0, &got, &nf), Y_EAGAIN);
			off += chunk;
		}
		CHECK(got.len == stream.len && !memcmp(got.data, stream.data, stream.len));
		CHECK_EQ_INT(d.body.len, 0);
		wa_frame_dec_release(&d);
	}
	ybuf_release(&stream);
	ybuf_release(&want);
	ybuf_release(&got);
}

int main(void)
{
	RUN(encodes_vectors_with_intro_once);
	RUN(encodes_length_big_endian);
	RUN(encoder_refuses_zero_and_oversize);
	RUN(encodes_ed_prefix_before_intro);
	RUN(decodes_coalesced_frames_one_by_one);
	RUN(decodes_split_at_every_position);
	RUN(decoder_refuses_zero_length_and_oversize);
	RUN(server_mode_parses_intro_and_ed_prefix);
	RUN(server_mode_truncated_and_malformed_prefixes);
	RUN(round_trip_random_chunks);
	return test_summary();
}
