/*
 * The in-memory form of a WhatsApp binary node ("binary XML"): a tag,
 * attributes in order, and content that is nothing, a list of child nodes,
 * bytes, or a string-ish value (a string or a typed JID).
 *
 * Ownership: a whole tree lives in one arena owned by its root. Nodes,
 * strings and bytes reachable from a root stay valid until
 * wa_node_free(root); nothing inside a tree is freed on its own. Builders
 * copy every string and byte range they are given.
 *
 * Fields are read-only for users; build trees only through the API.
 * Every string is NUL-terminated and also carries its length (raw strings
 * from the network may contain NUL bytes).
 */
#ifndef YESAPP_WA_NODE_H
#define YESAPP_WA_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "wa/jid.h"

struct ybuf;
struct wa_arena;

enum wa_val_type {
	WA_VAL_STR = 0, /* a string: token, packed or raw on the wire */
	WA_VAL_JID = 1, /* a typed JID (JID_PAIR/AD_JID/FB_JID/INTEROP_JID) */
};

/* An attribute value or string content. For a JID, str holds its text
 * form (wa_jid_format), so every value can be read as a string. */
struct wa_val {
	const char *str;
	uint32_t len;
	uint8_t type; /* enum wa_val_type */
	struct wa_jid jid; /* valid when type == WA_VAL_JID */
};

struct wa_attr {
	const char *key;
	uint32_t key_len;
	struct wa_val val;
};

enum wa_content {
	WA_CONTENT_NONE = 0,
	WA_CONTENT_LIST = 1,  /* kids[0..nkids) (possibly empty) */
	WA_CONTENT_BYTES = 2, /* bytes[0..nbytes), BINARY_8/20/32 on the wire */
	WA_CONTENT_VALUE = 3, /* val: string or JID */
};

struct wa_node {
	const char *tag;
	uint32_t tag_len;
	uint32_t nattrs;
	struct wa_attr *attrs;
	uint8_t content; /* enum wa_content */
	uint32_t nkids;
	struct wa_node **kids;
	const uint8_t *bytes;
	size_t nbytes;
	struct wa_val val;
	/* private */
	uint32_t attrs_cap, kids_cap;
	struct wa_arena *arena;
	int is_root;
};

/* ---- building ---- */

/* A new root node with its own arena. NULL on ENOMEM. Caller frees with
 * wa_node_free(). */
struct wa_node *wa_node_new(const char *tag);

/* Frees a root and everything in its tree. No-op for NULL. Passing a
 * non-root node is a programmer error (BUG). */
void wa_node_free(struct wa_node *root);

/* Appends a child with tag to parent's list content (making the content a
 * list) and returns it; it belongs to the parent's tree. NULL on ENOMEM or if
 * the parent already has non-list content. */
struct wa_node *wa_node_add_child(struct wa_node *parent, const char *tag);

/* Appends attributes (keeps insertion order; duplicate keys are not
 * checked). Strings are copied. Return 0 or Y_ENOMEM / Y_EINVAL. */
int wa_node_add_attr(struct wa_node *n, const char *key, const char *value);
int wa_node_add_attr_len(struct wa_node *n, const char *key, size_t key_len,
	const char *value, size_t value_len);
int wa_node_add_attr_jid(struct wa_node *n, const char *key, const struct wa_jid *jid);

/* Sets the content (replacing any content that is not a list with
 * children). Data is copied. 0, Y_ENOMEM, or Y_EINVAL if n has children. */
int wa_node_set_bytes(struct wa_node *n, const void *data, size_t len);
int wa_node_set_text(struct wa_node *n, const char *s, size_t len);
int wa_node_set_jid(struct wa_node *n, const struct wa_jid *jid);
/* Makes the content an empty list (encoded as LIST_EMPTY). */
int wa_node_set_empty_list(struct wa_node *n);

/* ---- reading ---- */

/* 1 if n's tag is `tag`. */
int wa_node_is(const struct wa_node *n, const char *tag);

/* The attribute with key, or NULL. */
const struct wa_val *wa_node_attr_val(const struct wa_node *n, const char *key);

/* The attribute's string (a JID's text form), or NULL if absent. */
const char *wa_node_attr(const struct wa_node *n, const char *key);

/* The attribute as a JID: a typed JID is copied, a string is parsed with
 * wa_jid_parse (out borrows from the tree). 0, Y_ENOTFOUND, Y_EINVAL. */
int wa_node_attr_jid(const struct wa_node *n, const char *key, struct wa_jid *out);

/* The attribute as an unsigned decimal number. 0, Y_ENOTFOUND, Y_EINVAL. */
int wa_node_attr_u64(const struct wa_node *n, const char *key, uint64_t *out);

/* The first child with tag, or NULL (also when n has no list content). */
struct wa_node *wa_node_child(const struct wa_node *n, const char *tag);

/* The n-th child with tag (0-based), or NULL. */
struct wa_node *wa_node_child_nth(const struct wa_node *n, const char *tag, size_t nth);

/* Bytes content, or NULL (with *len 0) if the content is not bytes. */
const uint8_t *wa_node_bytes(const struct wa_node *n, size_t *len);

/* Appends a one-line XML-like text form for logs and debugging:
 *   <iq id="1" to="@s.whatsapp.net" type="get"><ping/></iq>
 * Bytes content of up to 32 bytes shows as {hex:0a1b..}, longer as
 * {bytes:N}; string content as "..."; non-printable characters are escaped
 * as \xNN. Returns 0 or a ybuf error. */
int wa_node_to_text(const struct wa_node *n, struct ybuf *out);

/* Nodes and values counted the same way trees compare in tests: 1 if equal
 * (same tags, attributes in order, content kind and content; JIDs by fields). */
int wa_node_equal(const struct wa_node *a, const struct wa_node *b);

/* ---- arena (used by the decoder; private to src/wa/) ---- */
struct wa_node *wa_node_new_root_sized(size_t arena_hint);
void *wa_arena_alloc(struct wa_arena *a, size_t n);
/* Caps the arena's total size (later chunks fail); wa_arena_over() tells
 * whether an allocation failed for that reason rather than ENOMEM. */
void wa_arena_set_limit(struct wa_arena *a, size_t limit);
int wa_arena_over(const struct wa_arena *a);

#endif
