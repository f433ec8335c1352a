/*
 * WhatsApp media crypto over OpenSSL 3 EVP (see media.h). An encryptor or a
 * decryptor is one AES-256-CBC context, one HMAC-SHA256 and two SHA-256
 * digests running side by side over the stream.
 */
#include "wa/media.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "wa/crypto.h"

static const struct {
	const char *name, *info;
} types[WA_MEDIA_NTYPES] = {
	[WA_MEDIA_IMAGE] = { "image", "WhatsApp Image Keys" },
	[WA_MEDIA_VIDEO] = { "video", "WhatsApp Video Keys" },
	[WA_MEDIA_AUDIO] = { "audio", "WhatsApp Audio Keys" },
	[WA_MEDIA_DOCUMENT] = { "document", "WhatsApp Document Keys" },
	[WA_MEDIA_STICKER] = { "sticker", "WhatsApp Image Keys" },
	[WA_MEDIA_HISTORY] = { "md-msg-hist", "WhatsApp History Keys" },
	[WA_MEDIA_APP_STATE] = { "md-app-state", "WhatsApp App State Keys" },
};

const char *wa_media_info(enum wa_media_type t)
{
	return (unsigned)t < WA_MEDIA_NTYPES ? types[t].info : NULL;
}

const char *wa_media_type_name(enum wa_media_type t)
{
	return (unsigned)t < WA_MEDIA_NTYPES ? types[t].name : NULL;
}

int wa_media_type_parse(const char *name)
{
	for (int i = 0; name && i < WA_MEDIA_NTYPES; i++)
		if (!strcmp(types[i].name, name))
			return i;
	return -1;
}

int wa_media_keys_derive(struct wa_media_keys *k, const uint8_t media_key[WA_MEDIA_KEY_LEN],
			 enum wa_media_type t)
{
	uint8_t x[112];
	const char *info = wa_media_info(t);
	int rc;

	if (!info)
		return Y_EINVAL;
	rc = wa_hkdf_sha256(x, sizeof(x), media_key, WA_MEDIA_KEY_LEN, NULL, 0,
			    (const uint8_t *)info, strlen(info));
	if (rc == Y_OK) {
		memcpy(k->iv, x, 16);
		memcpy(k->cipher, x + 16, 32);
		memcpy(k->mac, x + 48, 32);
		memcpy(k->ref, x + 80, 32);
	}
	wa_wipe(x, sizeof(x));
	return rc;
}

/* What both directions run: the cipher, the MAC, and the two digests. */
struct media_ctx {
	EVP_CIPHER_CTX *aes;
	EVP_MAC_CTX *hmac;
	EVP_MD_CTX *sha_plain, *sha_enc;
	uint64_t plain_len, enc_len;
	bool done;
};

static void ctx_release(struct media_ctx *c)
{
	EVP_CIPHER_CTX_free(c->aes);
	EVP_MAC_CTX_free(c->hmac);
	EVP_MD_CTX_free(c->sha_plain);
	EVP_MD_CTX_free(c->sha_enc);
}

static int ctx_init(struct media_ctx *c, const struct wa_media_keys *k, bool enc)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	int ok;

	memset(c, 0, sizeof(*c));
	c->aes = EVP_CIPHER_CTX_new();
	c->hmac = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	c->sha_plain = EVP_MD_CTX_new();
	c->sha_enc = EVP_MD_CTX_new();
	ok = c->aes && c->hmac && c->sha_plain && c->sha_enc &&
	     EVP_CipherInit_ex(c->aes, EVP_aes_256_cbc(), NULL, k->cipher, k->iv, enc ? 1 : 0) &&
	     EVP_MAC_init(c->hmac, k->mac, sizeof(k->mac), params) &&
	     EVP_MAC_update(c->hmac, k->iv, sizeof(k->iv)) &&
	     EVP_DigestInit_ex(c->sha_plain, EVP_sha256(), NULL) &&
	     EVP_DigestInit_ex(c->sha_enc, EVP_sha256(), NULL);
	if (!ok) {
		ctx_release(c);
		memset(c, 0, sizeof(*c));
		return Y_ECRYPTO;
	}
	return Y_OK;
}

/* The first 10 bytes of the HMAC so far. */
static int ctx_mac(struct media_ctx *c, uint8_t mac[WA_MEDIA_MAC_LEN])
{
	uint8_t full[32];
	size_t n = 0;

	if (!EVP_MAC_final(c->hmac, full, &n, sizeof(full)) || n != sizeof(full))
		return Y_ECRYPTO;
	memcpy(mac, full, WA_MEDIA_MAC_LEN);
	return Y_OK;
}

/* ---- encryption ---- */

struct wa_media_enc {
	struct media_ctx c;
};

struct wa_media_enc *wa_media_enc_new(const struct wa_media_keys *k)
{
	struct wa_media_enc *e = calloc(1, sizeof(*e));

	if (e && ctx_init(&e->c, k, true)) {
		free(e);
		return NULL;
	}
	return e;
}

/* Accounts for n bytes of ciphertext just produced. */
static int enc_out(struct media_ctx *c, const uint8_t *p, size_t n)
{
	if (!n)
		return Y_OK;
	if (!EVP_MAC_update(c->hmac, p, n) || !EVP_DigestUpdate(c->sha_enc, p, n))
		return Y_ECRYPTO;
	c->enc_len += n;
	return Y_OK;
}

int wa_media_enc_update(struct wa_media_enc *e, const uint8_t *in, size_t len, uint8_t *out,
			size_t *outlen)
{
	int n = 0;

	*outlen = 0;
	if (e->c.done || len > (size_t)INT32_MAX - 32)
		return e->c.done ? Y_ESTATE : Y_ETOOBIG;
	if (!len)
		return Y_OK;
	if (!EVP_DigestUpdate(e->c.sha_plain, in, len) ||
	    !EVP_EncryptUpdate(e->c.aes, out, &n, in, (int)len))
		return Y_ECRYPTO;
	e->c.plain_len += len;
	*outlen = (size_t)n;
	return enc_out(&e->c, out, (size_t)n);
}

int wa_media_enc_final(struct wa_media_enc *e, uint8_t *out, size_t *outlen,
		       struct wa_media_sums *sums)
{
	int n = 0, rc;
	unsigned int dl = 0;

	*outlen = 0;
	if (e->c.done)
		return Y_ESTATE;
	e->c.done = true;
	if (!EVP_EncryptFinal_ex(e->c.aes, out, &n))
		return Y_ECRYPTO;
	rc = enc_out(&e->c, out, (size_t)n);
	rc = rc ?: ctx_mac(&e->c, sums->mac);
	if (rc)
		return rc;
	memcpy(out + n, sums->mac, WA_MEDIA_MAC_LEN);
	if (!EVP_DigestUpdate(e->c.sha_enc, sums->mac, WA_MEDIA_MAC_LEN) ||
	    !EVP_DigestFinal_ex(e->c.sha_enc, sums->file_enc_sha256, &dl) ||
	    !EVP_DigestFinal_ex(e->c.sha_plain, sums->file_sha256, &dl))
		return Y_ECRYPTO;
	sums->file_length = e->c.plain_len;
	sums->enc_length = e->c.enc_len + WA_MEDIA_MAC_LEN;
	*outlen = (size_t)n + WA_MEDIA_MAC_LEN;
	return Y_OK;
}

void wa_media_enc_free(struct wa_media_enc *e)
{
	if (!e)
		return;
	ctx_release(&e->c);
	free(e);
}

/* ---- decryption ---- */

struct wa_media_dec {
	struct media_ctx c;
	uint8_t tail[WA_MEDIA_MAC_LEN]; /* the last bytes seen: maybe the mac */
	size_t ntail;
};

struct wa_media_dec *wa_media_dec_new(const struct wa_media_keys *k)
{
	struct wa_media_dec *d = calloc(1, sizeof(*d));

	if (d && ctx_init(&d->c, k, false)) {
		free(d);
		return NULL;
	}
	return d;
}

/* Decrypts n bytes of ciphertext into out (n + 16 at most). */
static int dec_feed(struct wa_media_dec *d, const uint8_t *p, size_t n, uint8_t *out,
		    size_t *outlen)
{
	int w = 0;

	*outlen = 0;
	if (!n)
		return Y_OK;
	if (!EVP_MAC_update(d->c.hmac, p, n) || !EVP_DecryptUpdate(d->c.aes, out, &w, p, (int)n))
		return Y_ECRYPTO;
	d->c.enc_len += n;
	if (w && !EVP_DigestUpdate(d->c.sha_plain, out, (size_t)w))
		return Y_ECRYPTO;
	d->c.plain_len += (size_t)w;
	*outlen = (size_t)w;
	return Y_OK;
}

int wa_media_dec_update(struct wa_media_dec *d, const uint8_t *in, size_t len, uint8_t *out,
			size_t *outlen)
{
	size_t nproc, k, m, w1 = 0, w2 = 0;
	int rc;

	*outlen = 0;
	if (d->c.done || len > (size_t)INT32_MAX - 32)
		return d->c.done ? Y_ESTATE : Y_ETOOBIG;
	if (!len)
		return Y_OK;
	if (!EVP_DigestUpdate(d->c.sha_enc, in, len))
		return Y_ECRYPTO;
	if (d->ntail + len <= WA_MEDIA_MAC_LEN) {
		memcpy(d->tail + d->ntail, in, len);
		d->ntail += len;
		return Y_OK;
	}
	/* all but the last 10 bytes of tail || in are ciphertext */
	nproc = d->ntail + len - WA_MEDIA_MAC_LEN;
	k = nproc < d->ntail ? nproc : d->ntail;
	rc = dec_feed(d, d->tail, k, out, &w1);
	memmove(d->tail, d->tail + k, d->ntail - k);
	d->ntail -= k;
	m = nproc - k;
	rc = rc ?: dec_feed(d, in, m, out + w1, &w2);
	if (rc)
		return rc;
	memcpy(d->tail + d->ntail, in + m, len - m);
	d->ntail += len - m;
	*outlen = w1 + w2;
	return Y_OK;
}

int wa_media_dec_final(struct wa_media_dec *d, const uint8_t *want_enc_sha256,
		       const uint8_t *want_sha256, uint8_t *out, size_t *outlen,
		       struct wa_media_sums *sums, const char **why)
{
	unsigned int dl = 0;
	int w = 0;

	*outlen = 0;
	*why = "bad state";
	if (d->c.done)
		return Y_ESTATE;
	d->c.done = true;
	memset(sums, 0, sizeof(*sums));
	*why = "too short";
	if (d->ntail < WA_MEDIA_MAC_LEN)
		return Y_ECRYPTO;
	*why = "bad length";
	if (!d->c.enc_len || d->c.enc_len % 16)
		return Y_ECRYPTO;
	*why = "crypto failure";
	if (ctx_mac(&d->c, sums->mac) ||
	    !EVP_DigestFinal_ex(d->c.sha_enc, sums->file_enc_sha256, &dl))
		return Y_ECRYPTO;
	sums->enc_length = d->c.enc_len + WA_MEDIA_MAC_LEN;
	*why = "bad mac";
	if (wa_memeq_ct(sums->mac, d->tail, WA_MEDIA_MAC_LEN))
		return Y_ECRYPTO;
	*why = "bad enc sha256";
	if (want_enc_sha256 && wa_memeq_ct(sums->file_enc_sha256, want_enc_sha256, 32))
		return Y_ECRYPTO;
	*why = "bad padding";
	if (!EVP_DecryptFinal_ex(d->c.aes, out, &w))
		return Y_ECRYPTO;
	*why = "crypto failure";
	if ((w && !EVP_DigestUpdate(d->c.sha_plain, out, (size_t)w)) ||
	    !EVP_DigestFinal_ex(d->c.sha_plain, sums->file_sha256, &dl))
		return Y_ECRYPTO;
	sums->file_length = d->c.plain_len + (size_t)w;
	*why = "bad sha256";
	if (want_sha256 && wa_memeq_ct(sums->file_sha256, want_sha256, 32))
		return Y_ECRYPTO;
	*why = NULL;
	*outlen = (size_t)w;
	return Y_OK;
}

void wa_media_dec_free(struct wa_media_dec *d)
{
	if (!d)
		return;
	ctx_release(&d->c);
	wa_wipe(d->tail, sizeof(d->tail));
	free(d);
}

/* ---- one-shot ---- */

int wa_media_encrypt(const struct wa_media_keys *k, const uint8_t *in, size_t len,
		     uint8_t **out, size_t *outlen, struct wa_media_sums *sums)
{
	struct wa_media_enc *e;
	uint8_t *buf;
	size_t a = 0, b = 0;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (len > (size_t)INT32_MAX - 64)
		return Y_ETOOBIG;
	buf = malloc(len + 16 + WA_MEDIA_MAC_LEN);
	e = buf ? wa_media_enc_new(k) : NULL;
	if (!e) {
		free(buf);
		return Y_ENOMEM;
	}
	rc = wa_media_enc_update(e, in, len, buf, &a);
	rc = rc ?: wa_media_enc_final(e, buf + a, &b, sums);
	wa_media_enc_free(e);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = a + b;
	return Y_OK;
}

int wa_media_decrypt(const struct wa_media_keys *k, const uint8_t *in, size_t len,
		     const uint8_t *want_enc_sha256, const uint8_t *want_sha256, uint8_t **out,
		     size_t *outlen, struct wa_media_sums *sums, const char **why)
{
	struct wa_media_dec *d;
	uint8_t *buf;
	size_t a = 0, b = 0;
	int rc;

	*out = NULL;
	*outlen = 0;
	*why = "too big";
	if (len > (size_t)INT32_MAX - 64)
		return Y_ETOOBIG;
	*why = "out of memory";
	buf = malloc(len + 32);
	d = buf ? wa_media_dec_new(k) : NULL;
	if (!d) {
		free(buf);
		return Y_ENOMEM;
	}
	rc = wa_media_dec_update(d, in, len, buf, &a);
	if (rc)
		*why = "crypto failure";
	rc = rc ?: wa_media_dec_final(d, want_enc_sha256, want_sha256, buf + a, &b, sums, why);
	wa_media_dec_free(d);
	if (rc) {
		wa_wipe(buf, len + 32);
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = a + b;
	return Y_OK;
}
