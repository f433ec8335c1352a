/*
 * What a recipient shows of sent media before downloading it (docs/media.md
 * "Sending", issue 14): image and sticker width/height and, for images, a
 * small JPEG thumbnail (jpegThumbnail); video width/height and duration from
 * the MP4/MOV boxes (mvhd, tkhd, mdhd) and a thumbnail of its first H.264
 * keyframe (located through the sample tables, decoded by openh264:
 * media_h264.h); audio duration (MP4, an Ogg Opus
 * stream's last granule, or MP3 frame headers); a voice note's 64-byte waveform (Opus decoded with
 * libopusfile).
 *
 * Everything is bounded: an image over max_pixels (its header's width x
 * height) is not decoded at all (a decompression bomb costs nothing); a JPEG
 * is decoded scaled down (libjpeg scale_denom up to 1/8) so a 20 MP photo
 * costs a fraction of a full decode; a progressive JPEG with more than
 * MEDIA_META_MAX_SCANS scans is given up; the container parsers read only
 * box headers and the few boxes they need (at most MEDIA_META_MAX_BOXES per
 * level, at most MEDIA_META_MAX_TABLE sample-table entries walked, one
 * sample of at most MEDIA_H264_MAX_SAMPLE bytes read and decoded, under
 * media_h264.h's picture caps); the waveform is made only for voice notes up to
 * MEDIA_META_WAVE_MAX_SECONDS. Every field is best effort: bytes that do not
 * parse leave the field unset and the media is sent without it.
 *
 * Thread: the media upload thread (blocking file I/O and decoding); never
 * the loop or an HTTP thread. No global state: any thread may call it.
 */
#ifndef YESAPP_SERVICE_MEDIA_META_H
#define YESAPP_SERVICE_MEDIA_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wa/media.h"

#define MEDIA_META_MAX_PIXELS (100ULL * 1000 * 1000) /* width x height decoded at most */
#define MEDIA_META_THUMB_SIDE 64                     /* the thumbnail's long side, px */
#define MEDIA_META_THUMB_QUALITY 50                  /* its JPEG quality */
#define MEDIA_META_MAX_SCANS 200                     /* progressive JPEG scans */
#define MEDIA_META_MAX_BOXES 4096                    /* MP4 boxes read per level */
#define MEDIA_META_MAX_TABLE (1u << 20)              /* sample-table entries walked */
#define MEDIA_META_WAVE_LEN 64
#define MEDIA_META_WAVE_MAX_SECONDS 300

struct media_meta {
	uint32_t width, height; /* 0 when unknown (both or neither) */
	uint32_t seconds;       /* duration, rounded; valid when has_seconds */
	bool has_seconds;
	uint8_t *thumb; /* a JPEG (malloc'ed), thumb_len bytes, or NULL */
	size_t thumb_len;
	bool has_waveform;
	uint8_t waveform[MEDIA_META_WAVE_LEN]; /* 0..100 each */
};

/*
 * Fills *m (zeroed first) for the file f (read from its start; seeks) of
 * kind t. sniffed: media_sniff's answer for the first bytes (may be NULL);
 * ptt: a voice note (waveform). max_pixels: 0 for MEDIA_META_MAX_PIXELS.
 * Returns Y_OK (whatever could be learned; maybe nothing) or Y_ENOMEM.
 * Release *m with media_meta_release.
 */
int media_meta_probe(FILE *f, enum wa_media_type t, const char *sniffed, bool ptt,
		     uint64_t max_pixels, struct media_meta *m);
void media_meta_release(struct media_meta *m);

/*
 * A profile picture made of the image in f (read from its start; seeks):
 * its centre square (EXIF orientation applied), scaled down to at most
 * side x side (never up; a box filter), as a JPEG of the given quality
 * (1..100) into m->thumb (m->width/height: the image's). sniffed:
 * media_sniff's answer; JPEG, PNG and still WebP are taken. max_pixels
 * bounds the image as for media_meta_probe (0: MEDIA_META_MAX_PIXELS).
 * Y_OK with m->thumb set; Y_EINVAL (not one of those, damaged, too many
 * pixels, animated) or Y_ENOMEM with *m empty. Release *m with
 * media_meta_release.
 */
int media_meta_square(FILE *f, const char *sniffed, uint32_t side, int quality,
		      uint64_t max_pixels, struct media_meta *m);

/* The parsers media_meta_probe uses, for tests and fuzzing. Each returns
 * Y_OK when it set something in *m, else Y_EINVAL (not its format, or
 * damaged) and leaves *m as it was. */
int media_meta_mp4(FILE *f, bool want_dims, struct media_meta *m);
/* A video's thumbnail (m->thumb, when m has none yet): the first sync
 * sample (stss's first, else sample 1) of the first H.264 (avc1/avc3)
 * video track, located through stsc, stco/co64 and stsz, read alone (at
 * most MEDIA_H264_MAX_SAMPLE bytes), decoded (media_h264.h), turned as the
 * track's matrix says and shaped as its tkhd size. Y_OK with m->thumb set,
 * Y_EINVAL (no such track, HEVC, damaged, over a cap) or Y_ENOMEM; m's
 * other fields are left alone. */
int media_meta_video_thumb(FILE *f, struct media_meta *m);
int media_meta_ogg(FILE *f, struct media_meta *m);
/* MP3 (MPEG 1/2/2.5 audio, layers I-III) after any ID3v2 tags: the frame
 * count of a Xing/Info or VBRI header when the first frame has one, else
 * the audio's bytes (up to an ID3v1 tag) at the first frame's bitrate. The
 * first frame is searched in the first 64 KiB and must be followed by
 * another header (or the end). */
int media_meta_mp3(FILE *f, struct media_meta *m);
int media_meta_waveform(FILE *f, struct media_meta *m);
int media_meta_image(FILE *f, const char *sniffed, bool want_thumb, uint64_t max_pixels,
		     struct media_meta *m);

#endif
