/*
 * Noise XX handshake and transport for WhatsApp (both roles), and the
 * server certificate chain. See noise.h; the math follows protocol-map.md
 * §2.1-2.6, checked against whatsmeow socket/noisehandshake.go and
 * handshake.go, and Baileys Utils/noise-handler.js.
 */
#include "wa/noise.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

const uint8_t wa_noise_wa_root_pub[WA_KEY_LEN] = {
	0x14, 0x23, 0x75, 0x57, 0x4d, 0x0a, 0x58, 0x71, 0x66, 0xaa, 0xe7, 0x1e, 0xbe, 0x51, 0x64, 0x37,
	0xc4, 0xa2, 0x8b, 0x73, 0xe3, 0x69, 0x5c, 0x6c, 0xe1, 0xf7, 0xf9, 0x54, 0x5d, 0xa8, 0xee, 0x6b,
};

/* The intermediate certificate's issuer serial (whatsmeow WACertIssuerSerial). */
#define WA_CERT_ISSUER_SERIAL 0

static void iv_for(uint8_t iv[12], uint32_t n)
{
	memset(iv, 0, 8);
	iv[8] = (uint8_t)(n >> 24);
	iv[9] = (uint8_t)(n >> 16);
	iv[10] = (uint8_t)(n >> 8);
	iv[11] = (uint8_t)n;
}

static int mix_hash(struct wa_noise *nz, const uint8_t *data, size_t len)
{
	uint8_t *tmp = malloc(32 + len);
	int rc;

	if (!tmp)
		return Y_ENOMEM;
	memcpy(tmp, nz->h, 32);
	if (len)
		memcpy(tmp + 32, data, len);
	rc = wa_sha256(nz->h, tmp, 32 + len);
	free(tmp);
	return rc;
}

static int mix_key(struct wa_noise *nz, const uint8_t ikm[32])
{
	uint8_t out[64];
	int rc = wa_hkdf_sha256(out, sizeof(out), ikm, 32, nz->ck, 32, NULL, 0);

	if (!rc) {
		memcpy(nz->ck, out, 32);
		memcpy(nz->k, out + 32, 32);
		nz->n = 0;
	}
	wa_wipe(out, sizeof(out));
	return rc;
}

/* MixKey(DH(priv, pub)). */
static int mix_dh(struct wa_noise *nz, const uint8_t priv[32], const uint8_t pub[32])
{
	uint8_t shared[32];
	int rc = wa_x25519(shared, priv, pub);

	if (!rc)
		rc = mix_key(nz, shared);
	wa_wipe(shared, sizeof(shared));
	return rc;
}

/* Handshake Encrypt: *out (malloc'ed, len + 16) = GCM(k, n, aad = h). */
static int hs_encrypt(struct wa_noise *nz, const uint8_t *pt, size_t len, uint8_t **out)
{
	uint8_t iv[12];
	uint8_t *ct = malloc(len + WA_GCM_TAG_LEN);
	int rc;

	*out = NULL;
	if (!ct)
		return Y_ENOMEM;
	iv_for(iv, nz->n);
	rc = wa_aes_gcm_encrypt(ct, nz->k, iv, 12, nz->h, 32, pt, len);
	if (!rc) {
		nz->n++;
		rc = mix_hash(nz, ct, len + WA_GCM_TAG_LEN);
	}
	if (rc) {
		free(ct);
		return rc;
	}
	*out = ct;
	return Y_OK;
}

/* Handshake Decrypt: *out (malloc'ed, len - 16 bytes, at least 1 byte
 * allocated). MixHash(ct) only on success. */
static int hs_decrypt(struct wa_noise *nz, const uint8_t *ct, size_t len, uint8_t **out,
		      size_t *outlen)
{
	uint8_t iv[12];
	uint8_t *pt;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (len < WA_GCM_TAG_LEN)
		return Y_ECRYPTO;
	pt = malloc(len - WA_GCM_TAG_LEN + 1);
	if (!pt)
		return Y_ENOMEM;
	iv_for(iv, nz->n);
	rc = wa_aes_gcm_decrypt(pt, nz->k, iv, 12, nz->h, 32, ct, len);
	if (!rc) {
		nz->n++;
		rc = mix_hash(nz, ct, len);
	}
	if (rc) {
		free(pt);
		return rc;
	}
	*out = pt;
	*outlen = len - WA_GCM_TAG_LEN;
	return Y_OK;
}

/* Derives the transport keys; the initiator writes with the first half. */
static int split(struct wa_noise *nz)
{
	uint8_t out[64];
	int rc = wa_hkdf_sha256(out, sizeof(out), NULL, 0, nz->ck, 32, NULL, 0);

	if (rc)
		return rc;
	if (nz->role == WA_NOISE_INITIATOR) {
		memcpy(nz->wkey, out, 32);
		memcpy(nz->rkey, out + 32, 32);
	} else {
		memcpy(nz->rkey, out, 32);
		memcpy(nz->wkey, out + 32, 32);
	}
	nz->rn = nz->wn = 0;
	wa_wipe(out, sizeof(out));
	wa_wipe(nz->k, sizeof(nz->k));
	wa_wipe(nz->ck, sizeof(nz->ck));
	wa_wipe(&nz->e, sizeof(nz->e));
	nz->state = WA_NOISE_TRANSPORT;
	return Y_OK;
}

static int ensure_ephemeral(struct wa_noise *nz)
{
	if (nz->have_e)
		return Y_OK;
	nz->have_e = 1;
	return wa_keypair_generate(&nz->e);
}

void wa_noise_init(struct wa_noise *nz, enum wa_noise_role role, const uint8_t intro[4])
{
	memset(nz, 0, sizeof(*nz));
	nz->role = role;
	nz->state = WA_NOISE_START;
	memcpy(nz->h, WA_NOISE_PATTERN, 32);
	memcpy(nz->ck, WA_NOISE_PATTERN, 32);
	memcpy(nz->k, WA_NOISE_PATTERN, 32);
	memcpy(nz->root, wa_noise_wa_root_pub, WA_KEY_LEN);
	if (mix_hash(nz, intro, 4))
		nz->state = WA_NOISE_FAILED;
}

void wa_noise_release(struct wa_noise *nz)
{
	wa_wipe(nz, sizeof(*nz));
	nz->state = WA_NOISE_FAILED;
}

void wa_noise_trust_root(struct wa_noise *nz, const uint8_t root_pub[WA_KEY_LEN])
{
	memcpy(nz->root, root_pub, WA_KEY_LEN);
}

void wa_noise_set_clock(struct wa_noise *nz, uint64_t now)
{
	nz->now = now;
}

void wa_noise_set_ephemeral(struct wa_noise *nz, const struct wa_keypair *e)
{
	nz->e = *e;
	nz->have_e = 1;
}

/* ---- Initiator ---- */

int wa_noise_client_hello(struct wa_noise *nz, struct ybuf *out)
{
	Wa__HandshakeMessage msg = WA__HANDSHAKE_MESSAGE__INIT;
	Wa__HandshakeMessage__ClientHello hello = WA__HANDSHAKE_MESSAGE__CLIENT_HELLO__INIT;
	int rc;

	if (nz->role != WA_NOISE_INITIATOR || nz->state != WA_NOISE_START)
		return Y_ESTATE;
	rc = ensure_ephemeral(nz);
	if (!rc)
		rc = mix_hash(nz, nz->e.pub, WA_KEY_LEN);
	if (rc)
		goto out;
	hello.has_ephemeral = 1;
	hello.ephemeral.data = nz->e.pub;
	hello.ephemeral.len = WA_KEY_LEN;
	msg.clienthello = &hello;
	rc = wa_pb_pack(&msg.base, out);
out:
	nz->state = rc ? WA_NOISE_FAILED : WA_NOISE_HELLO_SENT;
	return rc;
}

int wa_noise_read_server_hello(struct wa_noise *nz, const uint8_t *msg, size_t len)
{
	ProtobufCMessage *pm = NULL;
	Wa__HandshakeMessage__ServerHello *sh;
	uint8_t *rs = NULL, *cert = NULL;
	size_t rslen = 0, certlen = 0;
	time_t now;
	int rc;

	if (nz->role != WA_NOISE_INITIATOR || nz->state != WA_NOISE_HELLO_SENT)
		return Y_ESTATE;
	rc = len > WA_NOISE_MAX_FRAME ? Y_ETOOBIG
				      : wa_pb_unpack(&wa__handshake_message__descriptor, msg, len, &pm);
	if (rc)
		goto out;
	sh = ((Wa__HandshakeMessage *)pm)->serverhello;
	rc = Y_EINVAL;
	if (!sh || !sh->has_ephemeral || sh->ephemeral.len != WA_KEY_LEN || !sh->has_static_ ||
	    !sh->has_payload)
		goto out;
	memcpy(nz->re, sh->ephemeral.data, WA_KEY_LEN);
	rc = mix_hash(nz, nz->re, WA_KEY_LEN);
	if (!rc)
		rc = mix_dh(nz, nz->e.priv, nz->re);
	if (!rc)
		rc = hs_decrypt(nz, sh->static_.data, sh->static_.len, &rs, &rslen);
	if (rc)
		goto out;
	rc = Y_ECRYPTO;
	if (rslen != WA_KEY_LEN)
		goto out;
	memcpy(nz->remote_static, rs, WA_KEY_LEN);
	rc = mix_dh(nz, nz->e.priv, nz->remote_static);
	if (!rc)
		rc = hs_decrypt(nz, sh->payload.data, sh->payload.len, &cert, &certlen);
	if (rc)
		goto out;
	now = time(NULL);
	rc = wa_noise_cert_chain_verify(cert, certlen, nz->remote_static, nz->root,
					nz->now ? nz->now : (uint64_t)(now < 0 ? 0 : now));
out:
	free(rs);
	free(cert);
	if (pm)
		protobuf_c_message_free_unpacked(pm, NULL);
	nz->state = rc ? WA_NOISE_FAILED : WA_NOISE_SERVER_READ;
	return rc;
}

int wa_noise_client_finish(struct wa_noise *nz, const struct wa_keypair *noise_key,
			   const uint8_t *payload, size_t payload_len, struct ybuf *out)
{
	Wa__HandshakeMessage msg = WA__HANDSHAKE_MESSAGE__INIT;
	Wa__HandshakeMessage__ClientFinish fin = WA__HANDSHAKE_MESSAGE__CLIENT_FINISH__INIT;
	uint8_t *cs = NULL, *cp = NULL;
	int rc;

	if (nz->role != WA_NOISE_INITIATOR || nz->state != WA_NOISE_SERVER_READ)
		return Y_ESTATE;
	if (payload_len > WA_NOISE_MAX_FRAME - 256)
		return Y_ETOOBIG;
	rc = hs_encrypt(nz, noise_key->pub, WA_KEY_LEN, &cs);
	if (!rc)
		rc = mix_dh(nz, noise_key->priv, nz->re);
	if (!rc)
		rc = hs_encrypt(nz, payload, payload_len, &cp);
	if (rc)
		goto out;
	fin.has_static_ = 1;
	fin.static_.data = cs;
	fin.static_.len = WA_KEY_LEN + WA_GCM_TAG_LEN;
	fin.has_payload = 1;
	fin.payload.data = cp;
	fin.payload.len = payload_len + WA_GCM_TAG_LEN;
	msg.clientfinish = &fin;
	rc = wa_pb_pack(&msg.base, out);
	if (!rc)
		rc = split(nz);
out:
	free(cs);
	free(cp);
	if (rc)
		nz->state = WA_NOISE_FAILED;
	return rc;
}

/* ---- Responder ---- */

int wa_noise_read_client_hello(struct wa_noise *nz, const uint8_t *msg, size_t len)
{
	ProtobufCMessage *pm = NULL;
	Wa__HandshakeMessage__ClientHello *ch;
	int rc;

	if (nz->role != WA_NOISE_RESPONDER || nz->state != WA_NOISE_START)
		return Y_ESTATE;
	rc = len > WA_NOISE_MAX_FRAME ? Y_ETOOBIG
				      : wa_pb_unpack(&wa__handshake_message__descriptor, msg, len, &pm);
	if (rc)
		goto out;
	ch = ((Wa__HandshakeMessage *)pm)->clienthello;
	rc = Y_EINVAL;
	if (!ch || !ch->has_ephemeral || ch->ephemeral.len != WA_KEY_LEN)
		goto out;
	memcpy(nz->re, ch->ephemeral.data, WA_KEY_LEN);
	rc = mix_hash(nz, nz->re, WA_KEY_LEN);
out:
	if (pm)
		protobuf_c_message_free_unpacked(pm, NULL);
	nz->state = rc ? WA_NOISE_FAILED : WA_NOISE_HELLO_READ;
	return rc;
}

int wa_noise_server_hello(struct wa_noise *nz, const struct wa_keypair *static_key,
			  const uint8_t *cert_chain, size_t cert_len, struct ybuf *out)
{
	Wa__HandshakeMessage msg = WA__HANDSHAKE_MESSAGE__INIT;
	Wa__HandshakeMessage__ServerHello sh = WA__HANDSHAKE_MESSAGE__SERVER_HELLO__INIT;
	uint8_t *cs = NULL, *cp = NULL;
	int rc;

	if (nz->role != WA_NOISE_RESPONDER || nz->state != WA_NOISE_HELLO_READ)
		return Y_ESTATE;
	if (cert_len > 65536)
		return Y_ETOOBIG;
	rc = ensure_ephemeral(nz);
	if (!rc)
		rc = mix_hash(nz, nz->e.pub, WA_KEY_LEN);
	if (!rc)
		rc = mix_dh(nz, nz->e.priv, nz->re);
	if (!rc)
		rc = hs_encrypt(nz, static_key->pub, WA_KEY_LEN, &cs);
	if (!rc)
		rc = mix_dh(nz, static_key->priv, nz->re);
	if (!rc)
		rc = hs_encrypt(nz, cert_chain, cert_len, &cp);
	if (rc)
		goto out;
	sh.has_ephemeral = 1;
	sh.ephemeral.data = nz->e.pub;
	sh.ephemeral.len = WA_KEY_LEN;
	sh.has_static_ = 1;
	sh.static_.data = cs;
	sh.static_.len = WA_KEY_LEN + WA_GCM_TAG_LEN;
	sh.has_payload = 1;
	sh.payload.data = cp;
	sh.payload.len = cert_len + WA_GCM_TAG_LEN;
	msg.serverhello = &sh;
	rc = wa_pb_pack(&msg.base, out);
out:
	free(cs);
	free(cp);
	nz->state = rc ? WA_NOISE_FAILED : WA_NOISE_SERVER_SENT;
	return rc;
}

int wa_noise_read_client_finish(struct wa_noise *nz, const uint8_t *msg, size_t len,
				struct ybuf *payload_out)
{
	ProtobufCMessage *pm = NULL;
	Wa__HandshakeMessage__ClientFinish *cf;
	uint8_t *cs = NULL, *pl = NULL;
	size_t cslen = 0, pllen = 0;
	int rc;

	if (nz->role != WA_NOISE_RESPONDER || nz->state != WA_NOISE_SERVER_SENT)
		return Y_ESTATE;
	rc = len > WA_NOISE_MAX_FRAME ? Y_ETOOBIG
				      : wa_pb_unpack(&wa__handshake_message__descriptor, msg, len, &pm);
	if (rc)
		goto out;
	cf = ((Wa__HandshakeMessage *)pm)->clientfinish;
	rc = Y_EINVAL;
	if (!cf || !cf->has_static_ || !cf->has_payload)
		goto out;
	rc = hs_decrypt(nz, cf->static_.data, cf->static_.len, &cs, &cslen);
	if (rc)
		goto out;
	rc = Y_ECRYPTO;
	if (cslen != WA_KEY_LEN)
		goto out;
	memcpy(nz->remote_static, cs, WA_KEY_LEN);
	rc = mix_dh(nz, nz->e.priv, nz->remote_static);
	if (!rc)
		rc = hs_decrypt(nz, cf->payload.data, cf->payload.len, &pl, &pllen);
	if (!rc)
		rc = ybuf_append(payload_out, pl, pllen);
	if (!rc)
		rc = split(nz);
out:
	free(cs);
	if (pl) {
		wa_wipe(pl, pllen);
		free(pl);
	}
	if (pm)
		protobuf_c_message_free_unpacked(pm, NULL);
	if (rc)
		nz->state = WA_NOISE_FAILED;
	return rc;
}

/* ---- Transport ---- */

int wa_noise_encrypt(struct wa_noise *nz, const uint8_t *pt, size_t len, struct ybuf *out)
{
	uint8_t iv[12], *ct;
	int rc;

	if (nz->state != WA_NOISE_TRANSPORT)
		return Y_ESTATE;
	if (len > WA_NOISE_MAX_FRAME - WA_GCM_TAG_LEN)
		return Y_ETOOBIG;
	if (nz->wn == UINT32_MAX)
		return Y_ESTATE; /* never reuse an IV */
	ct = malloc(len + WA_GCM_TAG_LEN);
	if (!ct)
		return Y_ENOMEM;
	iv_for(iv, nz->wn);
	rc = wa_aes_gcm_encrypt(ct, nz->wkey, iv, 12, NULL, 0, pt, len);
	if (!rc)
		rc = ybuf_append(out, ct, len + WA_GCM_TAG_LEN);
	if (!rc)
		nz->wn++;
	free(ct);
	return rc;
}

int wa_noise_decrypt(struct wa_noise *nz, const uint8_t *ct, size_t len, struct ybuf *out)
{
	uint8_t iv[12], *pt;
	int rc;

	if (nz->state != WA_NOISE_TRANSPORT)
		return Y_ESTATE;
	if (len > WA_NOISE_MAX_FRAME)
		return Y_ETOOBIG;
	if (len < WA_GCM_TAG_LEN)
		return Y_ECRYPTO;
	if (nz->rn == UINT32_MAX)
		return Y_ESTATE;
	pt = malloc(len - WA_GCM_TAG_LEN + 1);
	if (!pt)
		return Y_ENOMEM;
	iv_for(iv, nz->rn++);
	rc = wa_aes_gcm_decrypt(pt, nz->rkey, iv, 12, NULL, 0, ct, len);
	if (!rc)
		rc = ybuf_append(out, pt, len - WA_GCM_TAG_LEN);
	free(pt);
	return rc;
}

/* ---- Certificate chain ---- */

/* Packs Details and signs them; fills cert (details/signature malloc'ed). */
static int make_cert(Wa__CertChain__NoiseCertificate *cert, uint32_t serial, uint32_t issuer,
		     const uint8_t *key, uint64_t nb, uint64_t na, const uint8_t *signer_priv)
{
	Wa__CertChain__NoiseCertificate__Details d = WA__CERT_CHAIN__NOISE_CERTIFICATE__DETAILS__INIT;
	struct ybuf b = YBUF_INIT(4096);
	uint8_t *sig = NULL;
	size_t n;
	int rc;

	d.has_serial = 1;
	d.serial = serial;
	d.has_issuerserial = 1;
	d.issuerserial = issuer;
	d.has_key = 1;
	d.key.data = (uint8_t *)key;
	d.key.len = WA_KEY_LEN;
	d.has_notbefore = 1;
	d.notbefore = nb;
	d.has_notafter = 1;
	d.notafter = na;
	rc = wa_pb_pack(&d.base, &b);
	if (rc)
		goto out;
	rc = Y_ENOMEM;
	sig = malloc(WA_SIG_LEN);
	if (!sig)
		goto out;
	rc = wa_xeddsa_sign(sig, signer_priv, b.data, b.len);
	if (rc)
		goto out;
	cert->has_details = 1;
	cert->details.data = ybuf_detach(&b, &n);
	cert->details.len = n;
	rc = cert->details.data ? Y_OK : Y_ENOMEM;
	cert->has_signature = 1;
	cert->signature.data = sig;
	cert->signature.len = WA_SIG_LEN;
	sig = NULL;
out:
	free(sig);
	ybuf_release(&b);
	return rc;
}

int wa_noise_cert_chain_build(const struct wa_noise_cert_params *p, struct ybuf *out)
{
	Wa__CertChain chain = WA__CERT_CHAIN__INIT;
	Wa__CertChain__NoiseCertificate leaf = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
	Wa__CertChain__NoiseCertificate inter = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
	int rc;

	rc = make_cert(&inter, p->intermediate_serial, WA_CERT_ISSUER_SERIAL,
		       p->intermediate->pub, p->not_before, p->not_after, p->root_priv);
	if (!rc)
		rc = make_cert(&leaf, p->leaf_serial, p->intermediate_serial, p->leaf_key,
			       p->not_before, p->not_after, p->intermediate->priv);
	if (rc)
		goto out;
	chain.leaf = &leaf;
	chain.intermediate = &inter;
	rc = wa_pb_pack(&chain.base, out);
out:
	free(leaf.details.data);
	free(leaf.signature.data);
	free(inter.details.data);
	free(inter.signature.data);
	return rc;
}

static int check_validity(const Wa__CertChain__NoiseCertificate__Details *d, uint64_t now)
{
	uint64_t nb = d->has_notbefore ? d->notbefore : 0;
	uint64_t na = d->has_notafter ? d->notafter : 0;

	return (now < nb || now > na) ? Y_ECRYPTO : Y_OK;
}

int wa_noise_cert_chain_verify(const uint8_t *chain, size_t len,
			       const uint8_t server_static[WA_KEY_LEN],
			       const uint8_t root_pub[WA_KEY_LEN], uint64_t now)
{
	ProtobufCMessage *pc = NULL, *pi = NULL, *pl = NULL;
	Wa__CertChain *c;
	Wa__CertChain__NoiseCertificate__Details *id, *ld;
	int rc;

	rc = wa_pb_unpack(&wa__cert_chain__descriptor, chain, len, &pc);
	if (rc)
		goto out;
	c = (Wa__CertChain *)pc;
	rc = Y_EINVAL;
	if (!c->intermediate || !c->leaf || !c->intermediate->has_details ||
	    !c->intermediate->has_signature || !c->leaf->has_details || !c->leaf->has_signature)
		goto out;
	rc = Y_ECRYPTO;
	if (c->intermediate->signature.len != WA_SIG_LEN || c->leaf->signature.len != WA_SIG_LEN)
		goto out;
	if (wa_xeddsa_verify(root_pub, c->intermediate->details.data, c->intermediate->details.len,
			     c->intermediate->signature.data))
		goto out;
	rc = wa_pb_unpack(&wa__cert_chain__noise_certificate__details__descriptor,
			  c->intermediate->details.data, c->intermediate->details.len, &pi);
	if (rc)
		goto out;
	id = (Wa__CertChain__NoiseCertificate__Details *)pi;
	rc = Y_ECRYPTO;
	if ((id->has_issuerserial ? id->issuerserial : 0) != WA_CERT_ISSUER_SERIAL)
		goto out;
	if (!id->has_key || id->key.len != WA_KEY_LEN)
		goto out;
	if (wa_xeddsa_verify(id->key.data, c->leaf->details.data, c->leaf->details.len,
			     c->leaf->signature.data))
		goto out;
	if (check_validity(id, now))
		goto out;
	rc = wa_pb_unpack(&wa__cert_chain__noise_certificate__details__descriptor,
			  c->leaf->details.data, c->leaf->details.len, &pl);
	if (rc)
		goto out;
	ld = (Wa__CertChain__NoiseCertificate__Details *)pl;
	rc = Y_ECRYPTO;
	if ((ld->has_issuerserial ? ld->issuerserial : 0) != (id->has_serial ? id->serial : 0))
		goto out;
	if (!ld->has_key || ld->key.len != WA_KEY_LEN ||
	    wa_memeq_ct(ld->key.data, server_static, WA_KEY_LEN))
		goto out;
	if (check_validity(ld, now))
		goto out;
	rc = Y_OK;
out:
	if (pl)
		protobuf_c_message_free_unpacked(pl, NULL);
	if (pi)
		protobuf_c_message_free_unpacked(pi, NULL);
	if (pc)
		protobuf_c_message_free_unpacked(pc, NULL);
	return rc;
}
