/*
 * QR codes for showing a pairing string (the "ref,noise,identity,adv" text a
 * companion shows WhatsApp's phone app) as an image: PNG (libpng) or SVG.
 *
 * The text is encoded in byte mode at error correction level L. Why L: the
 * code is shown on a screen, where modules are never damaged or dirty, and a
 * WhatsApp pairing string (about 240 bytes) then fits version 10 (57x57
 * modules) instead of version 13 (69x69) at level M: fewer, larger modules
 * for the same picture size scan more easily. whatsmeow's documented example
 * renders the same string at level L too (qrterminal.L).
 *
 * Both functions append to out (caller owns it and its cap; nothing is
 * appended on error beyond what was already there before a cap was hit).
 * Returns Y_OK, Y_EINVAL (NULL or empty text, scale or margin out of
 * range), Y_ETOOBIG (the text does not fit the largest QR code, version 40,
 * or the image would pass out's cap), Y_ENOMEM.
 */
#ifndef YESAPP_QR_H
#define YESAPP_QR_H

#include "util/buf.h"

#define YQR_SCALE_MAX 32
#define YQR_MARGIN_MAX 16

/* A 1-bit grayscale PNG: scale pixels per module (1..YQR_SCALE_MAX), margin
 * modules of white quiet zone on each side (0..YQR_MARGIN_MAX; 4 is the
 * standard's). Dark modules are black (0), the rest white (1). */
int yqr_png(const char *text, int scale, int margin, struct ybuf *out);

/* A compact SVG: viewBox in modules (size + 2 margin), a white background
 * rect and one black <path> drawing each row's runs of dark modules as
 * 1-module-high rectangles ("M x yhNv1h-Nz"), shape-rendering="crispEdges".
 * margin as for yqr_png. */
int yqr_svg(const char *text, int margin, struct ybuf *out);

#endif
