/*
 * The WhatsApp binary node codec ("WABinary", protocol-map.md §4): turns a
 * struct wa_node tree into the bytes of one transport frame's plaintext and
 * back. Pure functions: no I/O, no global state, thread-safe.
 *
 * The dictionary version (WA_DICT_V2 for Baileys 6 peers, WA_DICT_V3 for
 * Baileys 7 / whatsmeow / WhatsApp) is chosen per connection from the intro
 * header and passed to every call. Encoding reproduces Baileys' choices for
 * that version byte for byte; see binary.c for the rules.
 */
#ifndef YESAPP_WA_BINARY_H
#define YESAPP_WA_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "wa/node.h"
#include "wa/tokens.h"

struct ybuf;

/* Hard limits for decoding. */
#define WA_BINARY_MAX_DEPTH 64            /* nested nodes */
#define WA_BINARY_MAX_JID_NEST 256        /* JIDs nested in JID parts */
#define WA_BINARY_MAX_INFLATE (16u << 20) /* zlib output cap (flag 0x02) */
#define WA_BINARY_MAX_TREE (64u << 20)    /* memory of one decoded tree */

/* Leading flags byte. */
#define WA_BINARY_FLAG_ZLIB 0x02

/*
 * Appends the flags byte 0x00 and the encoded node to out. The tree is
 * borrowed. Returns 0; Y_EINVAL for an unknown dict, an empty tag, a JID
 * that cannot be written (empty server, AD device > 255), a tag or key
 * containing '@' (it would travel as a JID); Y_ETOOBIG for more than 65535
 * children, nesting over the decoder's limits, or when out's cap is
 * reached; Y_ENOMEM. On error out may hold a partial node: reset it.
 */
int wa_binary_encode(const struct wa_node *node, int dict, struct ybuf *out);

/* The same without the flags byte (for embedding and tests). */
int wa_binary_encode_node(const struct wa_node *node, int dict, struct ybuf *out);

/*
 * Decodes one frame plaintext: the flags byte (inflating the rest when
 * flag 0x02 is set, at most WA_BINARY_MAX_INFLATE bytes), then exactly one
 * node. The input is borrowed and not referenced afterwards. On success
 * *out is a new root the caller frees with wa_node_free().
 * Errors: Y_ETRUNC (input ends inside a structure), Y_EINVAL (bad tag,
 * token, nibble, JID, empty tag, JID or '@' in a tag or key, leftover bytes),
 * Y_ETRUNC also for a list, attribute or byte count the rest of the input
 * cannot hold (checked before allocating, so memory stays proportional to
 * the input), Y_ETOOBIG (nesting deeper than the limits, inflated size over
 * the cap, tree memory over WA_BINARY_MAX_TREE: attribute-heavy input
 * expands up to ~50x), Y_ENOMEM.
 */
int wa_binary_decode(const uint8_t *data, size_t len, int dict, struct wa_node **out);

/* The same with another cap on the decoded tree's memory (bytes). */
int wa_binary_decode_limited(const uint8_t *data, size_t len, int dict, size_t max_tree,
	struct wa_node **out);

/* Decodes a node without the flags byte (no decompression). */
int wa_binary_decode_node(const uint8_t *data, size_t len, int dict, struct wa_node **out);

#endif
