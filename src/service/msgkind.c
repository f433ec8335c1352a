/* Stored message kinds <-> the Message protobuf (msgkind.h). */
#include "service/msgkind.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/err.h"
#include "wa/crypto.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

/* ---- building ---- */

static int hex_member(const json_t *o, const char *k, uint8_t **out, size_t *len);

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A MessageKey from {"id", "remoteJid", "fromMe", "participant"?}, borrowing
 * the JSON's strings. */
static int key_from(const json_t *t, Wa__MessageKey *k)
{
	if (!json_is_object(t) || !jstr(t, "id") || !jstr(t, "remoteJid"))
		return Y_EINVAL;
	k->id = (char *)jstr(t, "id");
	k->remotejid = (char *)jstr(t, "remoteJid");
	k->has_fromme = 1;
	k->fromme = json_is_true(json_object_get(t, "fromMe"));
	k->participant = (char *)jstr(t, "participant");
	return Y_OK;
}

static int build_text(const json_t *b, const char *text, Wa__Message *m,
		      Wa__Message__ExtendedTextMessage *x, Wa__ContextInfo *ci, Wa__Message *qm)
{
	const json_t *q = json_object_get(b, "quoted");

	if (!text)
		return Y_EINVAL;
	if (!json_is_object(q) || !jstr(q, "id")) {
		m->conversation = (char *)text;
		return Y_OK;
	}
	/* a reply: an extendedTextMessage whose contextInfo names the quoted one
	 * (a bare conversation has no contextInfo) */
	x->text = (char *)text;
	ci->stanzaid = (char *)jstr(q, "id");
	ci->participant = (char *)jstr(q, "participant");
	if (jstr(q, "text")) {
		qm->conversation = (char *)jstr(q, "text");
		ci->quotedmessage = qm;
	}
	x->contextinfo = ci;
	m->extendedtextmessage = x;
	return Y_OK;
}

/* A poll: V3 for single choice, V1 otherwise (as Baileys 7), with the
 * 32-byte message secret votes are encrypted under. */
static int build_poll(const json_t *b, Wa__Message *m, Wa__MessageContextInfo *mci,
		      Wa__Message__PollCreationMessage *pc,
		      Wa__Message__PollCreationMessage__Option **pops,
		      Wa__Message__PollCreationMessage__Option ***ppops, uint8_t secret[32])
{
	const json_t *opts = json_object_get(b, "options");
	const char *hex = jstr(b, "secret");
	size_t n = json_array_size(opts), got = 0;

	if (!jstr(b, "name") || n < 2 || n > 12 || !hex || strlen(hex) != 64 ||
	    codec_hex_decode(hex, 64, secret, 32, &got) || got != 32)
		return Y_EINVAL;
	if (!(*pops = calloc(n, sizeof(**pops))) || !(*ppops = calloc(n, sizeof(**ppops))))
		return Y_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		wa__message__poll_creation_message__option__init(&(*pops)[i]);
		if (!json_string_value(json_array_get(opts, i)))
			return Y_EINVAL;
		(*pops)[i].optionname = (char *)json_string_value(json_array_get(opts, i));
		(*ppops)[i] = &(*pops)[i];
	}
	pc->name = (char *)jstr(b, "name");
	pc->n_options = n;
	pc->options = *ppops;
	pc->has_selectableoptionscount = 1;
	pc->selectableoptionscount = (uint32_t)json_integer_value(json_object_get(b, "selectableCount"));
	if (pc->selectableoptionscount == 1)
		m->pollcreationmessagev3 = pc;
	else
		m->pollcreationmessage = pc;
	mci->has_messagesecret = 1;
	mci->messagesecret.data = secret;
	mci->messagesecret.len = 32;
	m->messagecontextinfo = mci;
	return Y_OK;
}

int msgkind_build(const char *type, const char *body, const char *text, struct ybuf *out)
{
	Wa__Message m = WA__MESSAGE__INIT, inner = WA__MESSAGE__INIT, qm = WA__MESSAGE__INIT;
	Wa__Message__ExtendedTextMessage x = WA__MESSAGE__EXTENDED_TEXT_MESSAGE__INIT;
	Wa__ContextInfo ci = WA__CONTEXT_INFO__INIT;
	Wa__MessageKey key = WA__MESSAGE_KEY__INIT;
	Wa__Message__ReactionMessage rm = WA__MESSAGE__REACTION_MESSAGE__INIT;
	Wa__Message__ProtocolMessage pm = WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
	Wa__Message__FutureProofMessage fp = WA__MESSAGE__FUTURE_PROOF_MESSAGE__INIT;
	Wa__Message__LocationMessage lm = WA__MESSAGE__LOCATION_MESSAGE__INIT;
	Wa__Message__ContactsArrayMessage ca = WA__MESSAGE__CONTACTS_ARRAY_MESSAGE__INIT;
	Wa__Message__ContactMessage cm1 = WA__MESSAGE__CONTACT_MESSAGE__INIT;
	Wa__Message__ContactMessage *cms = NULL, **cmp = NULL;
	Wa__MessageContextInfo mci = WA__MESSAGE_CONTEXT_INFO__INIT;
	Wa__Message__PollCreationMessage pc = WA__MESSAGE__POLL_CREATION_MESSAGE__INIT;
	Wa__Message__PollCreationMessage__Option *pops = NULL, **ppops = NULL;
	Wa__Message__PollUpdateMessage pu = WA__MESSAGE__POLL_UPDATE_MESSAGE__INIT;
	Wa__Message__PollEncValue pev = WA__MESSAGE__POLL_ENC_VALUE__INIT;
	uint8_t *vct = NULL, *viv = NULL;
	uint8_t secret[32];
	json_t *b = body ? json_loads(body, 0, NULL) : NULL;
	char dn[32];
	int rc = Y_EINVAL;

	if (!type || (body && !json_is_object(b)))
		goto out;
	if (!strcmp(type, "text")) {
		rc = build_text(b, text ? text : jstr(b, "text"), &m, &x, &ci, &qm);
	} else if (!strcmp(type, "reaction")) {
		if (!jstr(b, "emoji") || (rc = key_from(json_object_get(b, "target"), &key)))
			goto out;
		rm.key = &key;
		rm.text = (char *)jstr(b, "emoji");
		rm.has_sendertimestampms = 1;
		rm.sendertimestampms = json_integer_value(json_object_get(b, "senderTimestampMs"));
		m.reactionmessage = &rm;
	} else if (!strcmp(type, "edit")) {
		/* whatsmeow's form: editedMessage{message{protocolMessage}}; Baileys
		 * and whatsmeow both unwrap it on receipt */
		if (!jstr(b, "text") || (rc = key_from(json_object_get(b, "target"), &key)))
			goto out;
		qm.conversation = (char *)jstr(b, "text");
		pm.key = &key;
		pm.has_type = 1;
		pm.type = WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT;
		pm.editedmessage = &qm;
		pm.has_timestampms = 1;
		pm.timestampms = json_integer_value(json_object_get(b, "timestampMs"));
		inner.protocolmessage = &pm;
		fp.message = &inner;
		m.editedmessage = &fp;
	} else if (!strcmp(type, "revoke")) {
		if ((rc = key_from(json_object_get(b, "target"), &key)))
			goto out;
		pm.key = &key;
		pm.has_type = 1;
		pm.type = WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__REVOKE;
		m.protocolmessage = &pm;
	} else if (!strcmp(type, "location")) {
		if (!json_is_number(json_object_get(b, "latitude")) ||
		    !json_is_number(json_object_get(b, "longitude")))
			goto out;
		lm.has_degreeslatitude = lm.has_degreeslongitude = 1;
		lm.degreeslatitude = json_number_value(json_object_get(b, "latitude"));
		lm.degreeslongitude = json_number_value(json_object_get(b, "longitude"));
		lm.name = (char *)jstr(b, "name");
		lm.address = (char *)jstr(b, "address");
		lm.url = (char *)jstr(b, "url");
		m.locationmessage = &lm;
		rc = Y_OK;
	} else if (!strcmp(type, "poll")) {
		rc = build_poll(b, &m, &mci, &pc, &pops, &ppops, secret);
	} else if (!strcmp(type, "poll_vote")) {
		/* sealed when accepted (msgkind_vote_seal): packed as it is kept */
		size_t ctl = 0, ivl = 0;

		if ((rc = key_from(json_object_get(b, "target"), &key)) ||
		    (rc = hex_member(b, "encPayload", &vct, &ctl)) ||
		    (rc = hex_member(b, "encIv", &viv, &ivl)))
			goto out;
		pev.has_encpayload = pev.has_enciv = 1;
		pev.encpayload.data = vct, pev.encpayload.len = ctl;
		pev.enciv.data = viv, pev.enciv.len = ivl;
		pu.pollcreationmessagekey = &key;
		pu.vote = &pev;
		pu.has_sendertimestampms = 1;
		pu.sendertimestampms = json_integer_value(json_object_get(b, "senderTimestampMs"));
		m.pollupdatemessage = &pu;
	} else if (!strcmp(type, "contacts")) {
		const json_t *list = json_object_get(b, "contacts");
		size_t n = json_array_size(list);

		if (!n || n > 256)
			goto out;
		rc = Y_ENOMEM;
		if (!(cms = calloc(n, sizeof(*cms))) || !(cmp = calloc(n, sizeof(*cmp))))
			goto out;
		rc = Y_EINVAL;
		for (size_t i = 0; i < n; i++) {
			const json_t *c = json_array_get(list, i);

			wa__message__contact_message__init(&cms[i]);
			if (!jstr(c, "vcard"))
				goto out;
			cms[i].displayname = (char *)jstr(c, "name");
			cms[i].vcard = (char *)jstr(c, "vcard");
			cmp[i] = &cms[i];
		}
		if (n == 1) { /* one card is a contactMessage, more an array (as Baileys) */
			cm1 = cms[0];
			m.contactmessage = &cm1;
		} else {
			snprintf(dn, sizeof(dn), "%zu contacts", n);
			ca.displayname = dn;
			ca.n_contacts = n;
			ca.contacts = cmp;
			m.contactsarraymessage = &ca;
		}
		rc = Y_OK;
	}
	if (!rc)
		rc = wa_pb_pack(&m.base, out);
out:
	free(vct);
	free(viv);
	free(cms);
	free(cmp);
	free(pops);
	free(ppops);
	json_decref(b);
	return rc;
}

/* ---- vCards ---- */

/* Appends s with vCard 3.0 escaping (\\ , ; and newlines); an error sticks. */
static int vcard_escape(struct ybuf *b, const char *s)
{
	int rc = Y_OK;

	for (; *s && !rc; s++) {
		if (*s == '\r')
			continue;
		if (*s == '\\' || *s == ',' || *s == ';')
			rc = ybuf_append_byte(b, '\\');
		if (*s == '\n')
			rc = rc ?: ybuf_append_str(b, "\\n");
		else
			rc = rc ?: ybuf_append_byte(b, (uint8_t)*s);
	}
	return rc;
}

char *msgkind_vcard(const char *name, const char *digits)
{
	struct ybuf b = YBUF_INIT(64 * 1024);
	char *out = NULL;
	int rc = ybuf_append_str(&b, "BEGIN:VCARD\nVERSION:3.0\nFN:");

	rc = rc ?: vcard_escape(&b, name);
	rc = rc ?: ybuf_append_str(&b, "\n");
	if (digits && *digits)
		rc = rc ?: ybuf_printf(&b, "TEL;type=CELL;type=VOICE;waid=%s:+%s\n", digits, digits);
	rc = rc ?: ybuf_append_str(&b, "END:VCARD");
	if (!rc)
		out = (char *)ybuf_detach(&b, NULL);
	ybuf_release(&b);
	return out;
}

/* The phone numbers of a vCard's TEL lines: "+digits" from waid= when
 * present, else the digits of the value. */
static json_t *vcard_phones(const char *vc)
{
	json_t *a = json_array();
	const char *p = vc;

	while (a && p && *p) {
		const char *eol = strpbrk(p, "\r\n"), *end = eol ? eol : p + strlen(p);
		size_t len = (size_t)(end - p);

		if (len > 4 && !strncasecmp(p, "TEL", 3) && (p[3] == ';' || p[3] == ':')) {
			char num[24];
			size_t k = 0;
			const char *w = NULL, *colon = memchr(p, ':', len);

			for (const char *q = p; q + 5 < end; q++)
				if (!strncasecmp(q, "waid=", 5)) {
					w = q + 5;
					break;
				}
			for (const char *q = w ? w : colon ? colon + 1 : end; q < end && k < 20; q++) {
				if (*q >= '0' && *q <= '9')
					num[1 + k++] = *q;
				else if (w && (*q == ':' || *q == ';'))
					break;
			}
			if (k >= 5) {
				num[0] = '+';
				num[1 + k] = 0;
				json_array_append_new(a, json_string(num));
			}
		}
		p = eol ? eol + 1 : NULL;
	}
	return a;
}

/* ---- reading ---- */

void msgkind_in_release(struct msgkind_in *m)
{
	if (!m)
		return;
	free(m->type);
	free(m->body);
	free(m->text);
	free(m->quoted_id);
	free(m->target_id);
	free(m->emoji);
	memset(m, 0, sizeof(*m));
}

static json_t *key_json(const Wa__MessageKey *k)
{
	return json_pack("{s:s?, s:s?, s:b, s:s?}", "id", k->id, "remoteJid", k->remotejid, "fromMe",
			 k->has_fromme && k->fromme, "participant", k->participant);
}

static const char *text_of(const Wa__Message *m)
{
	if (!m)
		return NULL;
	if (m->conversation)
		return m->conversation;
	if (m->extendedtextmessage)
		return m->extendedtextmessage->text;
	return NULL;
}

/* The contextInfo of whichever content carries one. */
static const Wa__ContextInfo *context_of(const Wa__Message *m)
{
	if (m->extendedtextmessage)
		return m->extendedtextmessage->contextinfo;
	if (m->locationmessage)
		return m->locationmessage->contextinfo;
	if (m->contactmessage)
		return m->contactmessage->contextinfo;
	if (m->contactsarraymessage)
		return m->contactsarraymessage->contextinfo;
	return NULL;
}

static json_t *contact_json(const Wa__Message__ContactMessage *c)
{
	return json_pack("{s:s?, s:s?, s:o}", "name", c->displayname, "vcard", c->vcard, "phones",
			 c->vcard ? vcard_phones(c->vcard) : json_array());
}

static int dup_to(char **dst, const char *s)
{
	if (!s)
		return Y_OK;
	*dst = strdup(s);
	return *dst ? Y_OK : Y_ENOMEM;
}

/* The effect of a protocolMessage: an edit (type 14) or a revoke (type 0). */
static json_t *parse_protocol(const Wa__Message__ProtocolMessage *pm, struct msgkind_in *out,
			      const char **type)
{
	if (!pm->has_type || !pm->key || !pm->key->id)
		return NULL;
	if (pm->type == WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT) {
		const char *t = text_of(pm->editedmessage);

		*type = "edit";
		out->effect = MSGKIND_FX_EDIT;
		if (dup_to(&out->text, t))
			return NULL;
		return json_pack("{s:s?, s:o, s:I}", "text", t, "target", key_json(pm->key),
				 "timestampMs", (json_int_t)(pm->has_timestampms ? pm->timestampms : 0));
	}
	if (pm->type == WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__REVOKE) {
		*type = "revoke";
		out->effect = MSGKIND_FX_REVOKE;
		return json_pack("{s:o}", "target", key_json(pm->key));
	}
	return NULL;
}

static json_t *hex_json(const ProtobufCBinaryData *d)
{
	char *h = malloc(d->len * 2 + 1);
	json_t *j;

	if (!h)
		return NULL;
	codec_hex_encode(d->data, d->len, h);
	j = json_string(h);
	free(h);
	return j;
}

static json_t *poll_json(const Wa__Message *m)
{
	const Wa__Message__PollCreationMessage *p = m->pollcreationmessage ? m->pollcreationmessage
						    : m->pollcreationmessagev2 ? m->pollcreationmessagev2
									      : m->pollcreationmessagev3;
	const Wa__MessageContextInfo *mci = m->messagecontextinfo;
	json_t *opts = json_array();

	for (size_t i = 0; opts && i < p->n_options; i++)
		json_array_append_new(opts, json_string(p->options[i]->optionname
								 ? p->options[i]->optionname : ""));
	return opts ? json_pack("{s:s?, s:o, s:I, s:o?}", "name", p->name, "options", opts,
				"selectableCount", (json_int_t)p->selectableoptionscount, "secret",
				mci && mci->has_messagesecret ? hex_json(&mci->messagesecret) : NULL)
		    : NULL;
}

static json_t *vote_json(const Wa__Message__PollUpdateMessage *u)
{
	return json_pack("{s:o, s:o?, s:o?, s:I}", "target", key_json(u->pollcreationmessagekey),
			 "encPayload", u->vote->has_encpayload ? hex_json(&u->vote->encpayload) : NULL,
			 "encIv", u->vote->has_enciv ? hex_json(&u->vote->enciv) : NULL,
			 "senderTimestampMs",
			 (json_int_t)(u->has_sendertimestampms ? u->sendertimestampms : 0));
}

/* The bytes of a hex string member into *out (caller frees). */
static int hex_member(const json_t *o, const char *k, uint8_t **out, size_t *len)
{
	const char *h = jstr(o, k);
	size_t n = h ? strlen(h) : 0;

	*out = NULL;
	if (!n || n % 2 || !(*out = malloc(n / 2)))
		return h ? Y_ENOMEM : Y_EINVAL;
	if (codec_hex_decode(h, n, *out, n / 2, len)) {
		free(*out);
		*out = NULL;
		return Y_EINVAL;
	}
	return Y_OK;
}

/* A vote's key and AAD (protocol-map.md §17.5): K = HKDF-SHA256(secret, no
 * salt, id || creator || voter || "Poll Vote"); AES-256-GCM with AAD id ||
 * 0 || voter. info is scratch. */
static int vote_key(const char *poll_id, const char *creator, const char *voter,
		    const uint8_t secret[32], uint8_t key[32], struct ybuf *info, struct ybuf *aad)
{
	int rc = ybuf_append_str(info, poll_id);

	rc = rc ?: ybuf_append_str(info, creator);
	rc = rc ?: ybuf_append_str(info, voter);
	rc = rc ?: ybuf_append_str(info, "Poll Vote");
	rc = rc ?: ybuf_append_str(aad, poll_id);
	rc = rc ?: ybuf_append_byte(aad, 0);
	rc = rc ?: ybuf_append_str(aad, voter);
	return rc ?: wa_hkdf_sha256(key, 32, secret, 32, NULL, 0, info->data, info->len);
}

/* A hex JSON string of p[0..n). */
static json_t *hex_str(const uint8_t *p, size_t n)
{
	ProtobufCBinaryData d = { n, (uint8_t *)p };

	return hex_json(&d);
}

int msgkind_vote_seal(const char *poll_id, const char *poll, const char *creator,
		      const char *voter, const json_t *names, json_t *body)
{
	json_t *p = json_loads(poll, 0, NULL);
	Wa__Message__PollVoteMessage vm = WA__MESSAGE__POLL_VOTE_MESSAGE__INIT;
	ProtobufCBinaryData *hs = NULL;
	uint8_t *secret = NULL, *ct = NULL, key[32], iv[12], (*h)[WA_SHA256_LEN] = NULL;
	struct ybuf info = YBUF_INIT(1024), aad = YBUF_INIT(1024), pt = YBUF_INIT(4096);
	size_t sl = 0, n = json_array_size(names);
	int rc = Y_EINVAL;

	if (!json_is_object(p) || hex_member(p, "secret", &secret, &sl) || sl != 32 ||
	    n > 64)
		goto out;
	rc = Y_ENOMEM;
	if (n && (!(hs = calloc(n, sizeof(*hs))) || !(h = calloc(n, sizeof(*h)))))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *o = json_string_value(json_array_get(names, i));

		if (!o || wa_sha256(h[i], (const uint8_t *)o, strlen(o))) {
			rc = Y_EINVAL;
			goto out;
		}
		hs[i].data = h[i];
		hs[i].len = WA_SHA256_LEN;
	}
	vm.n_selectedoptions = n;
	vm.selectedoptions = hs;
	rc = wa_pb_pack(&vm.base, &pt);
	rc = rc ?: vote_key(poll_id, creator, voter, secret, key, &info, &aad);
	rc = rc ?: wa_crypto_random(iv, sizeof(iv));
	rc = rc ?: (ct = malloc(pt.len + 16)) ? Y_OK : Y_ENOMEM;
	rc = rc ?: wa_aes_gcm_encrypt(ct, key, iv, sizeof(iv), aad.data, aad.len, pt.data, pt.len);
	if (!rc && (json_object_set_new(body, "encPayload", hex_str(ct, pt.len + 16)) ||
		    json_object_set_new(body, "encIv", hex_str(iv, sizeof(iv)))))
		rc = Y_ENOMEM;
out:
	wa_wipe(key, sizeof(key));
	json_decref(p);
	free(secret);
	free(hs);
	free(h);
	free(ct);
	ybuf_release(&info);
	ybuf_release(&aad);
	ybuf_release(&pt);
	return rc;
}

int msgkind_vote_open(const char *body, const char *poll_id, const char *poll,
		      const char *creator, const char *voter, char **out)
{
	json_t *v = json_loads(body, 0, NULL), *p = json_loads(poll, 0, NULL), *sel = NULL;
	uint8_t *ct = NULL, *iv = NULL, *secret = NULL, *pt = NULL, key[32];
	size_t ctl = 0, ivl = 0, sl = 0;
	struct ybuf info = YBUF_INIT(1024), aad = YBUF_INIT(1024);
	Wa__Message__PollVoteMessage *vm = NULL;
	int rc = Y_EINVAL;

	*out = NULL;
	if (!json_is_object(v) || !json_is_object(p) || hex_member(v, "encPayload", &ct, &ctl) ||
	    hex_member(v, "encIv", &iv, &ivl) || hex_member(p, "secret", &secret, &sl) ||
	    sl != 32 || ctl < 16 || !ivl)
		goto out;
	rc = vote_key(poll_id, creator, voter, secret, key, &info, &aad);
	rc = rc ?: (pt = malloc(ctl)) ? Y_OK : Y_ENOMEM;
	rc = rc ?: wa_aes_gcm_decrypt(pt, key, iv, ivl, aad.data, aad.len, ct, ctl);
	rc = rc ?: wa_pb_unpack(&wa__message__poll_vote_message__descriptor, pt, ctl - 16,
				(ProtobufCMessage **)&vm);
	if (rc)
		goto out;
	sel = json_array();
	for (size_t i = 0; sel && i < vm->n_selectedoptions; i++) {
		const json_t *opts = json_object_get(p, "options");
		const char *name = "unknown";

		for (size_t k = 0; k < json_array_size(opts); k++) {
			const char *o = json_string_value(json_array_get(opts, k));
			uint8_t h[WA_SHA256_LEN];

			if (o && !wa_sha256(h, (const uint8_t *)o, strlen(o)) &&
			    vm->selectedoptions[i].len == sizeof(h) &&
			    !memcmp(h, vm->selectedoptions[i].data, sizeof(h))) {
				name = o;
				break;
			}
		}
		json_array_append_new(sel, json_string(name));
	}
	rc = Y_ENOMEM;
	if (sel && !json_object_set_new(v, "selected", sel)) {
		sel = NULL;
		json_object_del(v, "encPayload");
		json_object_del(v, "encIv");
		*out = json_dumps(v, JSON_COMPACT);
		rc = *out ? Y_OK : Y_ENOMEM;
	}
out:
	if (vm)
		protobuf_c_message_free_unpacked(&vm->base, NULL);
	wa_wipe(key, sizeof(key));
	json_decref(sel);
	json_decref(v);
	json_decref(p);
	free(ct);
	free(iv);
	free(secret);
	free(pt);
	ybuf_release(&info);
	ybuf_release(&aad);
	return rc;
}

int msgkind_parse(const uint8_t *pb, size_t len, struct msgkind_in *out)
{
	Wa__Message *msg = NULL;
	const Wa__Message *m;
	const Wa__ContextInfo *ci;
	const char *type = NULL;
	json_t *body = NULL;
	int rc = wa_pb_unpack(&wa__message__descriptor, pb, len, (ProtobufCMessage **)&msg);

	memset(out, 0, sizeof(*out));
	if (rc)
		return Y_EINVAL;
	m = msg;
	/* an edit may come wrapped (whatsmeow) or bare (Baileys): accept both */
	if (m->editedmessage && m->editedmessage->message)
		m = m->editedmessage->message;
	rc = Y_ENOMEM;
	if (m->protocolmessage) {
		body = parse_protocol(m->protocolmessage, out, &type);
		if (!body) {
			rc = out->effect ? Y_ENOMEM : Y_ENOTFOUND;
			goto out;
		}
		if (dup_to(&out->target_id, m->protocolmessage->key->id))
			goto out;
	} else if (m->reactionmessage && m->reactionmessage->key && m->reactionmessage->key->id) {
		const Wa__Message__ReactionMessage *r = m->reactionmessage;

		type = "reaction";
		out->effect = MSGKIND_FX_REACTION;
		body = json_pack("{s:s, s:o, s:I}", "emoji", r->text ? r->text : "", "target",
				 key_json(r->key), "senderTimestampMs",
				 (json_int_t)(r->has_sendertimestampms ? r->sendertimestampms : 0));
		if (dup_to(&out->target_id, r->key->id) || dup_to(&out->emoji, r->text ? r->text : ""))
			goto out;
	} else if (m->pollcreationmessage || m->pollcreationmessagev2 || m->pollcreationmessagev3) {
		body = poll_json(m);
		type = "poll";
	} else if (m->pollupdatemessage && m->pollupdatemessage->pollcreationmessagekey &&
		   m->pollupdatemessage->pollcreationmessagekey->id && m->pollupdatemessage->vote) {
		const Wa__Message__PollUpdateMessage *u = m->pollupdatemessage;

		type = "poll_vote";
		out->effect = MSGKIND_FX_VOTE;
		body = vote_json(u);
		if (dup_to(&out->target_id, u->pollcreationmessagekey->id))
			goto out;
	} else if (m->locationmessage) {
		const Wa__Message__LocationMessage *l = m->locationmessage;

		type = "location";
		body = json_pack("{s:f, s:f, s:s?, s:s?, s:s?}", "latitude", l->degreeslatitude,
				 "longitude", l->degreeslongitude, "name", l->name, "address",
				 l->address, "url", l->url);
	} else if (m->contactmessage || m->contactsarraymessage) {
		json_t *list = json_array();

		type = "contacts";
		if (m->contactmessage && list)
			json_array_append_new(list, contact_json(m->contactmessage));
		for (size_t i = 0; m->contactsarraymessage && list &&
				   i < m->contactsarraymessage->n_contacts; i++)
			json_array_append_new(list, contact_json(m->contactsarraymessage->contacts[i]));
		body = list ? json_pack("{s:o}", "contacts", list) : NULL;
	} else if (text_of(m)) {
		const Wa__ContextInfo *c = context_of(m);

		type = "text";
		if (dup_to(&out->text, text_of(m)))
			goto out;
		body = json_pack("{s:s}", "text", text_of(m));
		if (body && c && c->stanzaid)
			json_object_set_new(body, "quoted",
					    json_pack("{s:s, s:s?, s:s?}", "id", c->stanzaid,
						      "participant", c->participant, "text",
						      text_of(c->quotedmessage)));
	} else {
		rc = Y_ENOTFOUND;
		goto out;
	}
	if (!body)
		goto out;
	ci = context_of(m);
	if (ci && ci->stanzaid && dup_to(&out->quoted_id, ci->stanzaid))
		goto out;
	out->type = strdup(type);
	out->body = json_dumps(body, JSON_COMPACT);
	rc = out->type && out->body ? Y_OK : Y_ENOMEM;
out:
	json_decref(body);
	protobuf_c_message_free_unpacked(&msg->base, NULL);
	if (rc)
		msgkind_in_release(out);
	return rc;
}
