#!/usr/bin/env bash
# Media benchmark: our media crypto and receive path beside Baileys 7's own
# media functions, same 20 MB file, interleaved and repeated (bench/lib.sh).
#   bench/media/run.sh quick|full [BUILD_DIR]
# Prints
#   bench media-encrypt ours=<MB/s> peer=<MB/s> ...   encrypt the file into an
#       upload file (ours: src/wa/media.c; peer: Baileys encryptedStream)
#   bench media-download ours=<MB/s> peer=<MB/s> ...  download from a local HTTP
#       host and decrypt into a file (ours: the media thread of
#       src/service/media.c, which also verifies mac and hashes and stores
#       the row; peer: downloadContentFromMessage, which verifies nothing)
#   bench media-download-rss-100mb ours=<KiB> peer=<KiB> ...  peak RSS of
#       that download for a 100 MB file (lower is better)
#   bench media-upload ours=<MB/s> peer=<MB/s> ...  encrypt and upload the
#       20 MB file to the simulator's HTTPS media host (ours: media_upload, the
#       upload thread's sums pass + streamed POST; peer: Baileys
#       encryptedStream + getWAUploadToServer, which writes the encrypted file
#       first)
#   bench media-meta-{jpeg12mp,png3mp,wave60s} ours=<ms> ...  what the upload
#       thread reads before sending (src/service/media_meta.c): a 4000x3000
#       JPEG's and a 2000x1500 PNG's dimensions and 64 px thumbnail, a 60 s
#       voice note's duration and waveform (no peer: Baileys needs jimp or
#       sharp, and ffmpeg, which are not installed; lower is better)
#   bench media-meta-{video1080p,video4k} ours=<ms> ...  a video's dimensions,
#       seconds and thumbnail: its first keyframe found through the sample
#       tables and decoded by openh264 (a 1920x1080 and a 3840x2160 H.264 IDR
#       frame with luma noise, made by openh264's encoder: wa-mkmedia h264noise)
#   bench media-send-rss ours=<KiB> peer=<KiB> ...  peak RSS growth while a
#       100 MB document is sent: `yesapp serve` (multipart upload by curl,
#       encrypt, upload, send) beside a Baileys 7 process's sendMessage of the
#       same file, through the same simulator (bench/media/send-rss.mjs;
#       lower is better)
# Sending end to end through yesapp serve (base64 in, the upload, the send) is
# timed apart: bench/media/upload.mjs.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-quick}
B=${2:-${YESAPP_BUILD:-build}}
case "$mode" in quick|full) ;; *) echo "usage: $0 quick|full [BUILD_DIR]" >&2; exit 2 ;; esac
for x in bench/bench_media tools/wa-media tools/wa-mkmedia; do
	[ -x "$B/$x" ] || { echo "$B/$x is missing: make bench" >&2; exit 1; }
done
. bench/lib.sh
bench_reps "$mode"
T=$(mktemp -d)
bench_atexit "rm -rf '$T'"
# a file, its upload under a key of ours, and a host that serves the upload
prep() { # SIZE NAME
	head -c "$1" /dev/urandom >"$T/$2.plain"
	local key sums
	key=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
	sums=$("$B/tools/wa-media" enc document "$key" "$T/$2.plain" "$T/$2.enc")
	echo "$key" >"$T/$2.key"
	echo "$sums" | sed 's/.*"fileSha256":"\([0-9a-f]*\)".*/\1/' >"$T/$2.sha"
	echo "$sums" | sed 's/.*"fileEncSha256":"\([0-9a-f]*\)".*/\1/' >"$T/$2.encsha"
	node bench/media/serve.mjs "$T/$2.enc" >"$T/$2.port" &
	bench_atexit "kill $!"
	for _ in $(seq 100); do [ -s "$T/$2.port" ] && break; sleep 0.05; done
}
prep 20000000 m20
prep 100000000 m100
url() { echo "http://127.0.0.1:$(cat "$T/$1.port")/v/t62.7119-24/bench.enc"; }
ours_dl() { # NAME
	local d; d=$(mktemp -d "$T/d.XXXX")
	"$B/bench/bench_media" download "$(url "$1")" "$(cat "$T/$1.key")" "$(cat "$T/$1.encsha")" \
		"$(cat "$T/$1.sha")" "$(stat -c %s "$T/$1.plain")" "$d" 2>/dev/null
	cmp -s "$d/media/"*.pdf "$T/$1.plain" || { echo "bench media: our download differs" >&2; return 1; }
	rm -rf "$d"
}
peer_dl() { # NAME
	node bench/media/peer.mjs download "$(url "$1")" "$(cat "$T/$1.key")" "$(stat -c %s "$T/$1.plain")" "$T/peer.out"
	cmp -s "$T/peer.out" "$T/$1.plain" || { echo "bench media: peer download differs" >&2; return 1; }
	rm -f "$T/peer.out"
}
ours_enc_dl() {
	"$B/bench/bench_media" encrypt "$T/m20.plain" "$T/ours.enc" | grep '^encrypt '
	rm -f "$T/ours.enc"
	ours_dl m20 | grep '^download '
	ours_dl m100 | sed -n 's/^rss_kib /rss100 /p'
}
peer_enc_dl() {
	node bench/media/peer.mjs encrypt "$T/m20.plain" | grep '^encrypt '
	peer_dl m20 | grep '^download '
	peer_dl m100 | sed -n 's/^rss_kib /rss100 /p'
}
# the simulator's media host (HTTPS, blobs in memory) for the uploads
bench_sim_tls "$B" "$T"
SIM_INFO=$(curl -fsS "$BENCH_SIM_BASE/sim/info")
node -e 'const i = JSON.parse(process.argv[1]); require("fs").writeFileSync(process.argv[2], i.caCert); console.log(i.mediaHost, i.mediaAuth)' \
	"$SIM_INFO" "$T/ca.pem" >"$T/mediahost"
read -r MHOST MAUTH <"$T/mediahost"
ours_up() { "$B/bench/bench_media" upload "$T/m20.plain" "$MHOST" "$MAUTH" "$T/ca.pem" | grep '^upload '; }
peer_up() { node bench/media/peer.mjs upload "$T/m20.plain" "$MHOST" "$MAUTH" "$T/ca.pem" | grep '^upload '; }
ours() {
	ours_enc_dl
	ours_up
}
peer() {
	peer_enc_dl
	peer_up
}
bench_interleave ours=ours peer=peer
bench_line media-encrypt encrypt MB/s fmt=%.1f
bench_line media-upload upload MB/s fmt=%.1f
bench_line media-download download MB/s fmt=%.1f
bench_line media-download-rss-100mb rss100 KiB lower fmt=%.0f

# sent media's metadata: ours only
"$B/tools/wa-mkmedia" jpeg 4000 3000 "$T/m.jpg"
"$B/tools/wa-mkmedia" png 2000 1500 "$T/m.png"
"$B/tools/wa-mkmedia" opus 3000 "$T/m.ogg"
"$B/tools/wa-mkmedia" h264noise 1920 1080 "$T/m1080.mp4"
"$B/tools/wa-mkmedia" h264noise 3840 2160 "$T/m4k.mp4"
meta_ours() { "$B/bench/bench_media" meta "$T/m.jpg" "$T/m.png" "$T/m.ogg" "$T/m1080.mp4" "$T/m4k.mp4"; }
bench_interleave meta=meta_ours
for f in jpeg:jpeg12mp png:png3mp wave:wave60s video:video1080p video2:video4k; do
	read -r med lo hi n < <(_bench_stats meta "meta-${f%%:*}")
	printf 'bench media-meta-%s ours=%.1fms spread_ours=%.1f..%.1f n=%d\n' "${f#*:}" "$med" "$lo" "$hi" "$n"
done

# peak RSS of sending 100 MB, ours (yesapp serve) beside Baileys 7
YESAPP_BUILD="$B" node bench/media/send-rss.mjs "$BENCH_REPS"
