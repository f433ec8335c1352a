// Our ClientPayloads (src/wa/payload.c, printed by tests/tools/noise-initiator)
// judged by Baileys: decoded with Baileys' own proto.ClientPayload.decode
// (and DeviceProps.decode) of versions 6 and 7, and compared field by field
// with the payload each Baileys itself sends, captured on the wire by the
// specification-written responder (judge-lib.mjs). The registration
// payloads are built from the very keys Baileys registered with, so key
// fields must be equal byte for byte. Every difference must be listed in
// EXPECTED with both values; anything else, or a listed field that changed,
// fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { captureBaileysPayload, ourRegistrationPayload, ourLoginPayload } from './judge-lib.mjs';

const md5 = (s) => createHash('md5').update(s).digest('hex');
const OUR_VERSION = '2.3000.1045649367';
const B6 = '2.3000.1019707846';
const B7 = '2.3000.1043857760';

// Decodes with the given Baileys' proto; flattens to { 'a.b.c': value }
// with bytes as hex and enums as names.
function flat(lib, bytes) {
	const P = lib.proto;
	const msg = P.ClientPayload.decode(bytes);
	const o = P.ClientPayload.toObject(msg, { longs: String, enums: String, bytes: Buffer });
	if (msg.devicePairingData?.deviceProps) o.devicePairingData.deviceProps = P.DeviceProps.toObject(P.DeviceProps.decode(msg.devicePairingData.deviceProps), { longs: String, enums: String, bytes: Buffer });
	const out = {};
	const walk = (v, p) => {
		if (Buffer.isBuffer(v) || v instanceof Uint8Array) out[p] = Buffer.from(v).toString('hex');
		else if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v[k], p ? `${p}.${k}` : k);
		else out[p] = v;
	};
	walk(o, '');
	return out;
}

// [path, ours, baileys] for every field that differs.
function diff(ours, theirs) {
	const keys = [...new Set([...Object.keys(ours), ...Object.keys(theirs)])].sort();
	return keys.filter((k) => ours[k] !== theirs[k]).map((k) => [k, ours[k], theirs[k]]);
}

// The intended differences, with why. `undefined` = field absent.
const HSC = 'devicePairingData.deviceProps.historySyncConfig';
const DP = 'devicePairingData.deviceProps';
// Fields a Baileys proto does not know are dropped by its decode and so are
// invisible to that judge: Baileys 6 knows only the first five
// historySyncConfig fields and no lidDbMigrated; Baileys 7 knows all but
// supportManusHistory and supportHatchHistory. Those are checked by our own
// .proto only (tests/unit/test_noise.c).
const EXPECTED = {
	6: {
		registration: [
			// we announce whatsmeow's newer WhatsApp Web version
			['userAgent.appVersion.tertiary', 1045649367, 1019707846],
			['devicePairingData.buildHash', md5(OUR_VERSION), md5(B6)],
			// whatsmeow sends an empty manufacturer; Baileys omits it
			['userAgent.manufacturer', '', undefined],
			// our own device name and whatsmeow's DeviceProps; Baileys names
			// its browser config (Ubuntu/Chrome) and sends no version
			[`${DP}.os`, 'YesApp', 'Ubuntu'],
			[`${DP}.platformType`, 'UNKNOWN', 'CHROME'],
			[`${DP}.version.primary`, 0, undefined],
			[`${DP}.version.secondary`, 1, undefined],
			[`${DP}.version.tertiary`, 0, undefined],
			// whatsmeow's history-sync config, which Baileys 6 does not send
			[`${HSC}.storageQuotaMb`, 10240, undefined],
			[`${HSC}.inlineInitialPayloadInE2EeMsg`, true, undefined],
			[`${HSC}.supportCallLogHistory`, true, undefined],
			[`${HSC}.supportBotUserAgentChatHistory`, true, undefined],
			[`${HSC}.supportCagReactionsAndPolls`, true, undefined],
		],
		login: [
			['userAgent.appVersion.tertiary', 1045649367, 1019707846],
			['userAgent.manufacturer', '', undefined],
			// whatsmeow logs in passive (Baileys 6 does not), lc=1; our
			// lidDbMigrated=true is unknown to Baileys 6's proto
			['passive', true, false],
			['lc', 1, undefined],
		],
	},
	7: {
		registration: [
			['userAgent.appVersion.tertiary', 1045649367, 1043857760],
			['devicePairingData.buildHash', md5(OUR_VERSION), md5(B7)],
			['userAgent.manufacturer', '', undefined],
			// Baileys 7 defaults to a macOS browser and full history sync
			[`${DP}.os`, 'YesApp', 'Mac OS'],
			[`${DP}.platformType`, 'UNKNOWN', 'CHROME'],
			[`${DP}.version.primary`, 0, 10],
			[`${DP}.version.secondary`, 1, 15],
			[`${DP}.version.tertiary`, 0, 7],
			[`${DP}.requireFullSync`, false, true],
			// whatsmeow's history-sync config against Baileys 7's (the other
			// nine fields are equal)
			[`${HSC}.supportCallLogHistory`, true, false],
			[`${HSC}.supportGroupHistory`, true, false],
			[`${HSC}.thumbnailSyncDaysLimit`, 60, undefined],
		],
		login: [
			['userAgent.appVersion.tertiary', 1045649367, 1043857760],
			['userAgent.manufacturer', '', undefined],
			// both passive; Baileys 7 says its LID database is NOT migrated
			['lidDbMigrated', true, false],
			['lc', 1, undefined],
		],
	},
};

function judge(version, kind, lib, ours, theirs) {
	const got = diff(flat(lib, ours), flat(lib, theirs));
	if (process.env.JUDGE_DEBUG) console.error(version, kind, JSON.stringify(got));
	const want = [...EXPECTED[version][kind]].sort((a, b) => (a[0] < b[0] ? -1 : 1));
	assert.deepEqual(got, want, `Baileys ${version} ${kind}: differences other than the documented ones`);
}

for (const version of [6, 7]) {
	test(`registration payload vs Baileys ${version}'s, field by field`, async () => {
		const cap = await captureBaileysPayload(version);
		const ours = ourRegistrationPayload(cap.creds);
		judge(version, 'registration', cap.lib, ours, cap.payload);
		// the key material is really compared: change one field of ours and
		// the judge must object
		const P = cap.lib.proto;
		const m = P.ClientPayload.decode(ours);
		m.devicePairingData.eSkeySig = Buffer.from(m.devicePairingData.eSkeySig).fill(0, 0, 1);
		assert.throws(() => judge(version, 'registration', cap.lib, P.ClientPayload.encode(m).finish(), cap.payload), /documented/);
		const m2 = P.ClientPayload.decode(ours);
		m2.connectType = P.ClientPayload.ConnectType.CELLULAR_UNKNOWN;
		assert.throws(() => judge(version, 'registration', cap.lib, P.ClientPayload.encode(m2).finish(), cap.payload), /documented/);
	});

	test(`login payload vs Baileys ${version}'s, field by field`, async () => {
		const cap = await captureBaileysPayload(version, { login: true });
		const ours = ourLoginPayload(15550001111, 1);
		judge(version, 'login', cap.lib, ours, cap.payload);
		const P = cap.lib.proto;
		const m = P.ClientPayload.decode(ourLoginPayload(15550001112, 1));
		assert.throws(() => judge(version, 'login', cap.lib, P.ClientPayload.encode(m).finish(), cap.payload), /documented/);
		m.username = 15550001111;
		m.device = 2;
		assert.throws(() => judge(version, 'login', cap.lib, P.ClientPayload.encode(m).finish(), cap.payload), /documented/);
	});
}
