/* protobuf-c helpers: bounded unpack, pack, JSON dump. See pb.h. */
#include "wa/pb.h"

#include <inttypes.h>
#include <string.h>

#include "util/err.h"

/* Reads a varint at *p (< end); advances *p. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		uint8_t b;

		if (*p >= end)
			return Y_EINVAL;
		b = *(*p)++;
		if (shift == 63 && b > 1)
			return Y_EINVAL;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return Y_OK;
		}
	}
	return Y_EINVAL;
}

/* Walks one message's wire bytes, recursing into known sub-message fields. */
static int check_wire(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
		      int depth)
{
	if (depth > WA_PB_MAX_DEPTH)
		return Y_ETOOBIG;
	while (p < end) {
		uint64_t key, v;
		const ProtobufCFieldDescriptor *f;
		int rc = read_varint(&p, end, &key);

		if (rc)
			return rc;
		if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
			return Y_EINVAL;
		switch (key & 7) {
		case 0:
			rc = read_varint(&p, end, &v);
			if (rc)
				return rc;
			break;
		case 1:
			if (end - p < 8)
				return Y_EINVAL;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return Y_EINVAL;
			p += 4;
			break;
		case 2:
			rc = read_varint(&p, end, &v);
			if (rc)
				return rc;
			if (v > (uint64_t)(end - p))
				return Y_EINVAL;
			f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				rc = check_wire(f->descriptor, p, p + v, depth + 1);
				if (rc)
					return rc;
			}
			p += v;
			break;
		default:
			return Y_EINVAL; /* groups and reserved wire types */
		}
	}
	return Y_OK;
}

int wa_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
		 ProtobufCMessage **out)
{
	static const uint8_t empty[1];
	int rc;

	*out = NULL;
	if (!data)
		data = empty;
	rc = check_wire(d, data, data + len, 0);
	if (rc)
		return rc;
	*out = protobuf_c_message_unpack(d, NULL, len, data);
	return *out ? Y_OK : Y_EINVAL;
}

/* A ProtobufCBuffer that appends to a ybuf and remembers the first error. */
struct ybuf_sink {
	ProtobufCBuffer base;
	struct ybuf *b;
	int rc;
};

static void sink_append(ProtobufCBuffer *buf, size_t len, const uint8_t *data)
{
	struct ybuf_sink *s = (struct ybuf_sink *)buf;

	if (!s->rc)
		s->rc = ybuf_append(s->b, data, len);
}

int wa_pb_pack(const ProtobufCMessage *m, struct ybuf *out)
{
	struct ybuf_sink s = { { sink_append }, out, Y_OK };
	/* Reserving first means the appends below cannot fail half-way. */
	int rc = ybuf_reserve(out, protobuf_c_message_get_packed_size(m));

	if (rc)
		return rc;
	protobuf_c_message_pack_to_buffer(m, &s.base);
	return s.rc;
}

/* ---- JSON dump ---- */

static int json_str(struct ybuf *o, const char *s)
{
	int rc = ybuf_append_byte(o, '"');

	for (; !rc && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			rc = ybuf_printf(o, "\\%c", c);
		else if (c < 0x20)
			rc = ybuf_printf(o, "\\u%04x", c);
		else
			rc = ybuf_append_byte(o, c);
	}
	return rc ? rc : ybuf_append_byte(o, '"');
}

static int json_msg(const ProtobufCMessage *m, struct ybuf *o, int depth);

/* One value of field f stored at p. */
static int json_value(const ProtobufCFieldDescriptor *f, const void *p, struct ybuf *o,
		      int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return ybuf_printf(o, "%" PRId32, *(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return ybuf_printf(o, "%" PRIu32, *(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return ybuf_printf(o, "%" PRId64, *(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return ybuf_printf(o, "%" PRIu64, *(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return ybuf_printf(o, "%.9g", (double)*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return ybuf_printf(o, "%.17g", *(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return ybuf_append_str(o, *(const protobuf_c_boolean *)p ? "true" : "false");
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		return ev ? json_str(o, ev->name) : ybuf_printf(o, "%d", v);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return json_str(o, s ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		int rc = ybuf_append_byte(o, '"');

		for (size_t i = 0; !rc && i < b->len; i++)
			rc = ybuf_printf(o, "%02x", b->data[i]);
		return rc ? rc : ybuf_append_byte(o, '"');
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		return sub ? json_msg(sub, o, depth + 1) : ybuf_append_str(o, "null");
	}
	}
	return Y_EINVAL;
}

static size_t type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static int json_msg(const ProtobufCMessage *m, struct ybuf *o, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const uint8_t *base = (const uint8_t *)m;
	int first = 1, rc;

	if (depth > WA_PB_MAX_DEPTH)
		return Y_ETOOBIG;
	rc = ybuf_append_byte(o, '{');
	for (unsigned i = 0; !rc && i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *val = base + f->offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const uint8_t *arr = *(const uint8_t *const *)val;

			if (n == 0)
				continue;
			rc = ybuf_printf(o, "%s\"%s\":[", first ? "" : ",", f->name);
			for (size_t j = 0; !rc && j < n; j++) {
				if (j)
					rc = ybuf_append_byte(o, ',');
				if (!rc)
					rc = json_value(f, arr + j * type_size(f->type), o, depth);
			}
			if (!rc)
				rc = ybuf_append_byte(o, ']');
			first = 0;
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* quantifier_offset holds the oneof case: the member's id. */
			if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
				if (!*(void *const *)val)
					continue;
			} else if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset)) {
				continue;
			}
		}
		rc = ybuf_printf(o, "%s\"%s\":", first ? "" : ",", f->name);
		if (!rc)
			rc = json_value(f, val, o, depth);
		first = 0;
	}
	return rc ? rc : ybuf_append_byte(o, '}');
}

int wa_pb_to_json(const ProtobufCMessage *m, struct ybuf *out)
{
	return json_msg(m, out, 0);
}
