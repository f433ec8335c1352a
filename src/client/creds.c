/* Device credentials: generation, derivation, the QR text (client.h). */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "wa/qrtext.h"

int wa_creds_generate(struct wa_creds *c)
{
	uint8_t msg[1 + WA_KEY_LEN];
	int rc;

	memset(c, 0, sizeof(*c));
	rc = wa_keypair_generate(&c->noise);
	rc = rc ?: wa_signal_identity_generate(&c->identity);
	rc = rc ?: wa_keypair_generate(&c->spk);
	rc = rc ?: wa_crypto_random(c->adv_secret, sizeof(c->adv_secret));
	if (rc)
		goto out;
	c->spk_id = 1;
	c->next_prekey_id = 1;
	msg[0] = 0x05;
	memcpy(msg + 1, c->spk.pub, WA_KEY_LEN);
	rc = wa_xeddsa_sign(c->spk_sig, c->identity.priv, msg, sizeof(msg));
out:
	if (rc)
		wa_creds_wipe(c);
	return rc;
}

int wa_creds_linked(const struct wa_creds *c)
{
	return c->account_len > 0 && c->jid[0];
}

int wa_creds_derive(struct wa_creds *c)
{
	struct wa_keypair k;
	int rc;

	rc = wa_keypair_from_private(&k, c->noise.priv);
	if (!rc)
		c->noise = k;
	rc = rc ?: wa_keypair_from_private(&k, c->identity.priv);
	if (!rc)
		memcpy(c->identity.pub, k.pub, WA_KEY_LEN);
	rc = rc ?: wa_keypair_from_private(&k, c->spk.priv);
	if (!rc)
		c->spk = k;
	wa_wipe(&k, sizeof(k));
	return rc;
}

void wa_creds_wipe(struct wa_creds *c)
{
	wa_wipe(c, sizeof(*c));
}

int wa_client_qr_text(const struct wa_creds *c, const char *ref, size_t ref_len, char *out,
		      size_t cap)
{
	/* client type "1": Chrome, the browser we announce (protocol-map §5.1) */
	return wa_qr_build(ref, ref_len, c->noise.pub, c->identity.pub, c->adv_secret, "1", out,
			   cap);
}
