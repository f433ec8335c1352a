/* ClientPayload builders and decoder. See payload.h. */
#include "wa/payload.h"

#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "wa/crypto.h"
#include "wa/pb.h"
#include "wa.pb-c.h"

const struct wa_version wa_payload_version = { 2, 3000, 1045649367 };

int wa_version_parse3(const char *s, uint32_t out[3])
{
	if (!s)
		return Y_EINVAL;
	for (int i = 0; i < 3; i++) {
		uint64_t v = 0;
		int n = 0;

		for (; *s >= '0' && *s <= '9'; s++, n++) {
			v = v * 10 + (uint64_t)(*s - '0');
			if (n >= 10 || v > UINT32_MAX)
				return Y_EINVAL;
		}
		if (!n || *s != (i < 2 ? '.' : 0))
			return Y_EINVAL;
		if (i < 2)
			s++;
		out[i] = (uint32_t)v;
	}
	return Y_OK;
}

int wa_version_parse(const char *s, struct wa_version *out)
{
	uint32_t part[3];

	if (wa_version_parse3(s, part) || !part[0])
		return Y_EINVAL;
	out->primary = part[0];
	out->secondary = part[1];
	out->tertiary = part[2];
	return Y_OK;
}

void wa_version_format(const struct wa_version *v, char *out, size_t cap)
{
	snprintf(out, cap, "%u.%u.%u", v->primary, v->secondary, v->tertiary);
}

/* Fills the fields common to registration and login (whatsmeow's
 * BaseClientPayload). The sub-structs are owned by the caller's stack. */
static void base_payload(Wa__ClientPayload *p, Wa__ClientPayload__UserAgent *ua,
			 Wa__ClientPayload__UserAgent__AppVersion *av,
			 Wa__ClientPayload__WebInfo *wi, const struct wa_version *v)
{
	if (!v || !v->primary)
		v = &wa_payload_version;
	av->has_primary = av->has_secondary = av->has_tertiary = 1;
	av->primary = v->primary;
	av->secondary = v->secondary;
	av->tertiary = v->tertiary;
	ua->has_platform = 1;
	ua->platform = WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB;
	ua->has_releasechannel = 1;
	ua->releasechannel = WA__CLIENT_PAYLOAD__USER_AGENT__RELEASE_CHANNEL__RELEASE;
	ua->appversion = av;
	ua->mcc = (char *)"000";
	ua->mnc = (char *)"000";
	ua->osversion = (char *)"0.1";
	ua->manufacturer = (char *)"";
	ua->device = (char *)"Desktop";
	ua->osbuildnumber = (char *)"0.1";
	ua->localelanguageiso6391 = (char *)"en";
	ua->localecountryiso31661alpha2 = (char *)"US";
	wi->has_websubplatform = 1;
	wi->websubplatform = WA__CLIENT_PAYLOAD__WEB_INFO__WEB_SUB_PLATFORM__WEB_BROWSER;
	p->useragent = ua;
	p->webinfo = wi;
	p->has_connecttype = 1;
	p->connecttype = WA__CLIENT_PAYLOAD__CONNECT_TYPE__WIFI_UNKNOWN;
	p->has_connectreason = 1;
	p->connectreason = WA__CLIENT_PAYLOAD__CONNECT_REASON__USER_ACTIVATED;
}

int wa_payload_registration(const struct wa_payload_reg *reg, struct ybuf *out)
{
	Wa__ClientPayload p = WA__CLIENT_PAYLOAD__INIT;
	Wa__ClientPayload__UserAgent ua = WA__CLIENT_PAYLOAD__USER_AGENT__INIT;
	Wa__ClientPayload__UserAgent__AppVersion av = WA__CLIENT_PAYLOAD__USER_AGENT__APP_VERSION__INIT;
	Wa__ClientPayload__WebInfo wi = WA__CLIENT_PAYLOAD__WEB_INFO__INIT;
	Wa__ClientPayload__DevicePairingRegistrationData dp =
		WA__CLIENT_PAYLOAD__DEVICE_PAIRING_REGISTRATION_DATA__INIT;
	Wa__DeviceProps props = WA__DEVICE_PROPS__INIT;
	Wa__DeviceProps__AppVersion pv = WA__DEVICE_PROPS__APP_VERSION__INIT;
	Wa__DeviceProps__HistorySyncConfig hs = WA__DEVICE_PROPS__HISTORY_SYNC_CONFIG__INIT;
	struct ybuf pb = YBUF_INIT(4096);
	uint8_t regid[4], skid[3], keytype = 0x05, hash[16];
	char ver[48];
	int n, rc;

	base_payload(&p, &ua, &av, &wi, reg->version);
	p.has_passive = 1;
	p.passive = 0;
	p.has_pull = 1;
	p.pull = 0;

	props.os = (char *)(reg->os ? reg->os : "YesApp");
	pv.has_primary = pv.has_secondary = pv.has_tertiary = 1;
	pv.primary = 0;
	pv.secondary = 1;
	pv.tertiary = 0;
	props.version = &pv;
	props.has_platformtype = 1;
	props.platformtype = WA__DEVICE_PROPS__PLATFORM_TYPE__UNKNOWN;
	props.has_requirefullsync = 1;
	props.requirefullsync = 0;
	hs.has_storagequotamb = 1;
	hs.storagequotamb = 10240;
	hs.has_inlineinitialpayloadine2eemsg = 1;
	hs.inlineinitialpayloadine2eemsg = 1;
	hs.has_supportcallloghistory = 1;
	hs.supportcallloghistory = 1;
	hs.has_supportbotuseragentchathistory = 1;
	hs.supportbotuseragentchathistory = 1;
	hs.has_supportcagreactionsandpolls = 1;
	hs.supportcagreactionsandpolls = 1;
	hs.has_supportbizhostedmsg = 1;
	hs.supportbizhostedmsg = 1;
	hs.has_supportrecentsyncchunkmessagecounttuning = 1;
	hs.supportrecentsyncchunkmessagecounttuning = 1;
	hs.has_supporthostedgroupmsg = 1;
	hs.supporthostedgroupmsg = 1;
	hs.has_supportfbidbotchathistory = 1;
	hs.supportfbidbotchathistory = 1;
	hs.has_supportmessageassociation = 1;
	hs.supportmessageassociation = 1;
	hs.has_supportgrouphistory = 1;
	hs.supportgrouphistory = 1;
	hs.has_thumbnailsyncdayslimit = 1;
	hs.thumbnailsyncdayslimit = 60;
	hs.has_supportmanushistory = 1;
	hs.supportmanushistory = 1;
	hs.has_supporthatchhistory = 1;
	hs.supporthatchhistory = 1;
	props.historysyncconfig = &hs;
	rc = wa_pb_pack(&props.base, &pb);
	if (rc)
		goto out;

	n = snprintf(ver, sizeof(ver), "%u.%u.%u", av.primary, av.secondary, av.tertiary);
	rc = wa_md5(hash, (const uint8_t *)ver, (size_t)n);
	if (rc)
		goto out;
	regid[0] = (uint8_t)(reg->registration_id >> 24);
	regid[1] = (uint8_t)(reg->registration_id >> 16);
	regid[2] = (uint8_t)(reg->registration_id >> 8);
	regid[3] = (uint8_t)reg->registration_id;
	skid[0] = (uint8_t)(reg->signed_prekey_id >> 16);
	skid[1] = (uint8_t)(reg->signed_prekey_id >> 8);
	skid[2] = (uint8_t)reg->signed_prekey_id;
#define SETB(f, ptr, n_) \
	do { \
		dp.has_##f = 1; \
		dp.f.data = (uint8_t *)(ptr); \
		dp.f.len = (n_); \
	} while (0)
	SETB(eregid, regid, 4);
	SETB(ekeytype, &keytype, 1);
	SETB(eident, reg->identity_pub, WA_KEY_LEN);
	SETB(eskeyid, skid, 3);
	SETB(eskeyval, reg->signed_prekey_pub, WA_KEY_LEN);
	SETB(eskeysig, reg->signed_prekey_sig, WA_SIG_LEN);
	SETB(buildhash, hash, 16);
	SETB(deviceprops, pb.data, pb.len);
#undef SETB
	p.devicepairingdata = &dp;
	rc = wa_pb_pack(&p.base, out);
out:
	ybuf_release(&pb);
	return rc;
}

int wa_payload_login(uint64_t username, uint32_t device, struct ybuf *out)
{
	return wa_payload_login_v(username, device, NULL, out);
}

int wa_payload_login_v(uint64_t username, uint32_t device, const struct wa_version *v,
		       struct ybuf *out)
{
	Wa__ClientPayload p = WA__CLIENT_PAYLOAD__INIT;
	Wa__ClientPayload__UserAgent ua = WA__CLIENT_PAYLOAD__USER_AGENT__INIT;
	Wa__ClientPayload__UserAgent__AppVersion av = WA__CLIENT_PAYLOAD__USER_AGENT__APP_VERSION__INIT;
	Wa__ClientPayload__WebInfo wi = WA__CLIENT_PAYLOAD__WEB_INFO__INIT;

	base_payload(&p, &ua, &av, &wi, v);
	p.has_username = 1;
	p.username = username;
	p.has_device = 1;
	p.device = device;
	p.has_passive = 1;
	p.passive = 1;
	p.has_pull = 1;
	p.pull = 1;
	p.has_liddbmigrated = 1;
	p.liddbmigrated = 1;
	p.has_lc = 1;
	p.lc = 1;
	return wa_pb_pack(&p.base, out);
}

int wa_payload_to_json(const uint8_t *data, size_t len, struct ybuf *out)
{
	ProtobufCMessage *pm = NULL, *props = NULL;
	Wa__ClientPayload__DevicePairingRegistrationData *dp;
	struct ybuf main = YBUF_INIT(0), sub = YBUF_INIT(0);
	int rc = wa_pb_unpack(&wa__client_payload__descriptor, data, len, &pm);

	if (rc)
		return rc;
	rc = wa_pb_to_json(pm, &main);
	if (rc)
		goto out;
	dp = ((Wa__ClientPayload *)pm)->devicepairingdata;
	if (dp && dp->has_deviceprops &&
	    !wa_pb_unpack(&wa__device_props__descriptor, dp->deviceprops.data,
			  dp->deviceprops.len, &props)) {
		rc = wa_pb_to_json(props, &sub);
		/* main ends with '}': reopen it for one more member. */
		if (!rc)
			rc = ybuf_append(out, main.data, main.len - 1);
		if (!rc)
			rc = ybuf_printf(out, ",\"devicePropsDecoded\":%s}", (char *)sub.data);
	} else {
		rc = ybuf_append(out, main.data, main.len);
	}
out:
	ybuf_release(&main);
	ybuf_release(&sub);
	if (props)
		protobuf_c_message_free_unpacked(props, NULL);
	protobuf_c_message_free_unpacked(pm, NULL);
	return rc;
}
