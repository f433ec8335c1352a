/*
 * Media benchmark, our side (bench/media/run.sh runs it beside
 * bench/media/peer.mjs, Baileys' own functions, on the same file):
 *   bench_media encrypt FILE OUT        encrypt FILE with src/wa/media.c, 64 KiB
 *                                       at a time, into OUT (what an upload sends)
 *   bench_media download URL KEYHEX ENCSHA SHA LEN DIR
 *                                       the product's receive path: a media row in
 *                                       a store under DIR, the media thread
 *                                       (service/media.c) downloads URL through
 *                                       libcurl, decrypts, verifies and stores it
 *   bench_media upload FILE HOST AUTH CA what the upload thread does with a source
 *                                       file and a media_conn (service/media_send.c
 *                                       media_upload): a fresh key, the sums pass,
 *                                       then the encrypted body streamed in a POST to
 *                                       https://HOST/mms/document/... (CA trusted);
 *                                       prints "upload <MB/s>"
 *   bench_media meta JPEG PNG OGG MP4 MP4  what the upload thread reads before sending
 *                                       (service/media_meta.c): a JPEG's and a
 *                                       PNG's dimensions and thumbnail, a voice
 *                                       note's duration and waveform, two videos'
 *                                       dimensions and keyframe thumbnail; prints
 *                                       "meta-jpeg|meta-png|meta-wave|meta-video|
 *                                       meta-video2 <ms>"
 * Prints "<figure> <MB/s>" (MB = 10^6 bytes of plaintext) and "rss_kib <peak
 * RSS>"; exits 1 when the result is not right.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "service/media.h"
#include "service/media_meta.h"
#include "service/media_send.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/log.h"
#include "util/uuid.h"
#include "wa/crypto.h"
#include "wa/media.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;

	return codec_hex_decode(s, strlen(s), out, n, &got) || got != n ? -1 : 0;
}

static int encrypt(const char *in, const char *outp)
{
	static uint8_t buf[65536], out[65536 + 64];
	uint8_t key[32];
	struct wa_media_keys k;
	struct wa_media_sums s;
	struct wa_media_enc *e;
	FILE *fi = fopen(in, "rb"), *fo = fopen(outp, "wb");
	size_t n, w;
	double t0;

	if (!fi || !fo || wa_crypto_random(key, 32))
		return 1;
	t0 = now_s();
	wa_media_keys_derive(&k, key, WA_MEDIA_DOCUMENT);
	e = wa_media_enc_new(&k);
	while ((n = fread(buf, 1, sizeof(buf), fi)) > 0) {
		if (wa_media_enc_update(e, buf, n, out, &w) || fwrite(out, 1, w, fo) != w)
			return 1;
	}
	if (wa_media_enc_final(e, out, &w, &s) || fwrite(out, 1, w, fo) != w || fclose(fo))
		return 1;
	wa_media_enc_free(e);
	fclose(fi);
	printf("encrypt %.2f\n", (double)s.file_length / 1e6 / (now_s() - t0));
	printf("rss_kib %ld\n", rss_kib());
	return 0;
}

/* The receive path: a session, an inbound message and its media row in a
 * fresh store under dir; the media thread downloads url; timed from the
 * queueing to the row's end. */
static int download(char **a)
{
	char db[600];
	struct store *st = NULL;
	struct store_session sess;
	struct store_message m;
	struct store_media row, got;
	struct media_svc *ms = NULL;
	struct media_svc_opts o;
	double t0, t;
	int rc;

	memset(&row, 0, sizeof(row));
	if (unhex(a[1], row.media_key, 32) || unhex(a[2], row.file_enc_sha256, 32) ||
	    unhex(a[3], row.file_sha256, 32))
		return 2;
	ylog_set_output(stderr);
	snprintf(db, sizeof(db), "%s/db.sqlite", a[5]);
	if (store_open(db, &st) || store_session_create(st, "bench", &sess))
		return 1;
	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "%s", sess.id);
	m.chat = "15551234567@s.whatsapp.net";
	m.type = "document";
	m.body = "{}";
	m.status = "received";
	m.from_me = 0;
	if (store_message_insert(st, &m))
		return 1;
	snprintf(row.message_id, sizeof(row.message_id), "%s", m.id);
	snprintf(row.session_id, sizeof(row.session_id), "%s", sess.id);
	row.kind = "document";
	row.mimetype = "application/pdf";
	row.url = a[0];
	row.state = "pending";
	row.file_length = atoll(a[4]);
	if (store_media_insert(st, &row))
		return 1;
	memset(&o, 0, sizeof(o));
	o.data_dir = a[5];
	o.wa_url = "ws://127.0.0.1/"; /* the local host serving the upload */
	o.auto_download = true;
	t0 = now_s();
	if (media_svc_start(st, &o, &ms)) /* queues the pending row itself */
		return 1;
	for (;;) {
		rc = store_media_get(st, m.id, &got);
		if (rc == Y_OK && strcmp(got.state, "pending"))
			break;
		store_media_release(&got);
		usleep(2000);
	}
	t = now_s() - t0;
	rc = strcmp(got.state, "done");
	if (rc)
		fprintf(stderr, "bench_media: download %s: %s\n", got.state, got.reason);
	store_media_release(&got);
	media_svc_stop(ms);
	store_session_release(&sess);
	store_close(st);
	if (rc)
		return 1;
	printf("download %.2f\n", (double)atoll(a[4]) / 1e6 / t);
	printf("rss_kib %ld\n", rss_kib());
	return 0;
}

/* One probe of file p as kind t: its milliseconds, or -1 when it did not
 * give what it should (a thumbnail, a waveform). */
static double meta_one(const char *p, enum wa_media_type t, bool ptt)
{
	FILE *f = fopen(p, "rb");
	uint8_t head[16];
	size_t n;
	struct media_meta m;
	double t0, ms;
	bool ok;

	if (!f)
		return -1;
	n = fread(head, 1, sizeof(head), f);
	t0 = now_s();
	ok = media_meta_probe(f, t, media_sniff(head, n), ptt, 0, &m) == Y_OK;
	ms = (now_s() - t0) * 1e3;
	ok = ok && (ptt ? m.has_waveform && m.has_seconds : m.thumb && m.width);
	media_meta_release(&m);
	fclose(f);
	return ok ? ms : -1;
}

static int meta(char **a)
{
	static const char *names[] = { "meta-jpeg", "meta-png", "meta-wave", "meta-video",
				       "meta-video2" };
	static const enum wa_media_type kinds[] = { WA_MEDIA_IMAGE, WA_MEDIA_IMAGE, WA_MEDIA_AUDIO,
						    WA_MEDIA_VIDEO, WA_MEDIA_VIDEO };

	for (int i = 0; i < 5; i++) {
		double ms = meta_one(a[i], kinds[i], i == 2);

		if (ms < 0) {
			fprintf(stderr, "bench_media: %s gave no metadata\n", a[i]);
			return 1;
		}
		printf("%s %.2f\n", names[i], ms);
	}
	return 0;
}

static int upload(char **a)
{
	struct wa_media_conn mc = { .nhosts = 1, .ttl_s = 300 };
	struct wa_media_sums sums;
	struct media_uploaded up;
	uint8_t key[WA_MEDIA_KEY_LEN];
	char why[300];
	int fd = open(a[0], O_RDONLY | O_CLOEXEC), rc;
	double t0;

	if (fd < 0 || strlen(a[1]) >= sizeof(mc.hosts[0]) || strlen(a[2]) >= sizeof(mc.auth))
		return 1;
	snprintf(mc.hosts[0], sizeof(mc.hosts[0]), "%s", a[1]);
	snprintf(mc.auth, sizeof(mc.auth), "%s", a[2]);
	t0 = now_s();
	rc = media_upload(&mc, a[3], WA_MEDIA_DOCUMENT, fd, "bench", key, &sums, &up, why,
			  sizeof(why));
	close(fd);
	if (rc || up.direct_path[0] != '/') {
		fprintf(stderr, "bench_media upload: %s\n", rc ? why : "no direct path");
		return 1;
	}
	printf("upload %.2f\n", (double)sums.file_length / 1e6 / (now_s() - t0));
	printf("rss_kib %ld\n", rss_kib());
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "meta"))
		return meta(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "encrypt"))
		return encrypt(argv[2], argv[3]);
	if (argc == 8 && !strcmp(argv[1], "download"))
		return download(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "upload"))
		return upload(argv + 2);
	fprintf(stderr, "usage: bench_media encrypt FILE OUT | download URL KEY ENCSHA SHA LEN DIR | "
			"upload FILE HOST AUTH CA | meta JPEG PNG OGG MP4 MP4\n");
	return 2;
}
