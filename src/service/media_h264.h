/*
 * One H.264 picture decoded for a sent video's thumbnail (media_meta.c,
 * docs/media.md "What a recipient sees first", issue 14): an MP4 track's
 * decoder configuration (the avcC box: SPS, PPS, NAL length size) and one
 * sync sample (length-prefixed NAL units) become an Annex B access unit,
 * decoded by openh264 (libopenh264, its decoder only; one thread, the
 * caller's).
 *
 * No I/O. Bounded before the decoder sees anything: every NAL length is
 * checked against its buffer; every SPS (the avcC's and any in the sample)
 * is parsed here first and must be 8-bit 4:2:0 of at most
 * MEDIA_H264_MAX_MBS macroblocks and MEDIA_H264_MAX_SIDE pixels a side,
 * with at most MEDIA_H264_MAX_DPB_MBS macroblocks in its reference frames
 * (openh264 allocates them all up front: a 3840x2160 SPS costs ~106 MB
 * with 1 reference frame, ~178 MB with 5, the most allowed, and would cost
 * ~376 MB with 16), so the decoder never allocates for more; a sample over
 * MEDIA_H264_MAX_SAMPLE bytes is refused (the caller checks it before
 * reading it). openh264 has no time limit of its own: the work is bounded
 * by those caps (one frame, one sample). Its error concealment is off, so a
 * damaged sample gives no picture rather than a patched one.
 *
 * Thread: any (no global state); media_meta calls it on the media upload
 * thread.
 */
#ifndef YESAPP_SERVICE_MEDIA_H264_H
#define YESAPP_SERVICE_MEDIA_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEDIA_H264_MAX_MBS 36864           /* level 5.1's MaxFS: 4096x2304, 3840x2160 */
#define MEDIA_H264_MAX_DPB_MBS 184320      /* level 5.1's MaxDpbMbs: reference frames x MBs */
#define MEDIA_H264_MAX_SIDE 8192           /* px, either side */
#define MEDIA_H264_MAX_SAMPLE (4u << 20)   /* bytes of the one sample decoded */
#define MEDIA_H264_MAX_AVCC 65536          /* bytes of an avcC box's body */

/* What a sequence parameter set says (the parts the caps need). */
struct media_h264_sps {
	uint32_t mb_w, mb_h;  /* the frame in macroblocks (16 x 16) */
	uint32_t refs;        /* max_num_ref_frames: the decoder keeps as many */
	uint32_t chroma;      /* chroma_format_idc: 1 is 4:2:0 */
	uint32_t depth;       /* luma and chroma bits (the larger) */
	bool full_range;      /* the VUI's video_full_range_flag */
};

/*
 * Parses the SPS NAL unit nal[0..n) (its header byte first, emulation
 * prevention bytes in place). Y_OK with *s filled, or Y_EINVAL (not an SPS,
 * truncated, out of range).
 */
int media_h264_sps(const uint8_t *nal, size_t n, struct media_h264_sps *s);

/* A decoded picture: borrowed from the decoder it holds, valid until
 * media_h264_pic_release. */
struct media_h264_pic {
	const uint8_t *plane[3]; /* Y, U, V (4:2:0: U and V are half size) */
	int stride[2];           /* Y's, then U's and V's */
	uint32_t width, height;  /* as shown (the SPS's cropping applied) */
	bool full_range;         /* 0..255 levels (else 16..235) */
	void *dec;               /* private: the decoder */
};

/*
 * Decodes the sample (AVCC: NAL units each after a big-endian length of the
 * avcC's size) with the SPS and PPS of avcc[0..avcc_len) (an avcC box's
 * body). Y_OK with *pic set (release it), Y_EINVAL (damaged, not decodable,
 * over a cap: *pic empty) or Y_ENOMEM.
 */
int media_h264_decode(const uint8_t *avcc, size_t avcc_len, const uint8_t *sample,
		      size_t sample_len, struct media_h264_pic *pic);
void media_h264_pic_release(struct media_h264_pic *pic);

#endif
