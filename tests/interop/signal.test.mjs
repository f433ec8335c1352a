// Interop of our Signal layer (src/wa/signal.c over libsignal-protocol-c) with
// the libsignal npm package Baileys uses (node_modules/libsignal 6.0.0), with
// the sender-key code of Baileys 6 (WASignalGroup) and Baileys 7
// (lib/Signal/Group), and with both Baileys' address naming. Our side is the helper
// build/<flavour>/tools/wa-signal, driven with JSON lines over stdin/stdout.
// Deterministic test data (seeded PRNG); keys are random as in real use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.YESAPP_BUILD || join(root, 'build/asan');
const require = createRequire(join(root, 'package.json'));
const libsignal = require('libsignal');
const group6 = require(join(root, 'node_modules/baileys6/WASignalGroup/index.js'));
const group7 = await import(join(root, 'node_modules/baileys7/lib/Signal/Group/index.js'));
// The two Baileys sender-key implementations, with how each stores and revives a record.
const groupImpls = {
	'Baileys 6 (WASignalGroup)': {
		...group6, freeze: (r) => r.serialize(), revive: (k) => new group6.SenderKeyRecord(k),
	},
	'Baileys 7 (Signal/Group)': {
		...group7, freeze: (r) => Buffer.from(JSON.stringify(r.serialize())),
		revive: (k) => group7.SenderKeyRecord.deserialize(k),
	},
};
require(join(root, 'node_modules/baileys6/lib/index.js')); // loads Baileys' module cycle in its own order
const generics = require(join(root, 'node_modules/baileys6/lib/Utils/generics.js'));
const { curve, keyhelper, ProtocolAddress, SessionBuilder, SessionCipher, SessionRecord } = libsignal;

// ---- seeded test data ----
let seed = 0x2545f491;
function rnd() {
	seed ^= seed << 13; seed >>>= 0;
	seed ^= seed >>> 17;
	seed ^= seed << 5; seed >>>= 0;
	return seed;
}
function bytes(n) {
	const b = Buffer.alloc(n);
	for (let i = 0; i < n; i++) b[i] = rnd() & 0xff;
	return b;
}

// ---- our C endpoint ----
const procs = [];
class CPeer {
	constructor() {
		this.proc = spawn(join(build, 'tools/wa-signal'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
		this.waiting = [];
		this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
		createInterface({ input: this.proc.stdout, crlfDelay: Infinity }).on('line', (l) => {
			this.waiting.shift()(JSON.parse(l));
		});
		procs.push(this);
	}
	call(req) {
		return new Promise((resolve) => {
			this.waiting.push(resolve);
			this.proc.stdin.write(JSON.stringify(req) + '\n');
		});
	}
	async ok(req) {
		const r = await this.call(req);
		assert.equal(r.ok, true, `${req.cmd}: ${r.error}`);
		return r;
	}
	async close() {
		this.proc.stdin.end();
		return this.exited;
	}
}

after(async () => {
	for (const p of procs) if (p.proc.exitCode === null) await p.close();
});

// ---- a Node endpoint as Baileys sets it up: in-memory storage that keeps
// serialized records, as Baileys' auth state does ----
class NodePeer {
	constructor(user, device, nPrekeys = 3, group = groupImpls['Baileys 6 (WASignalGroup)']) {
		this.group = group;
		this.addr = new ProtocolAddress(user, device);
		this.identity = curve.generateKeyPair();
		this.registrationId = keyhelper.generateRegistrationId();
		this.signedPreKey = keyhelper.generateSignedPreKey(this.identity, 1);
		this.preKeys = new Map();
		for (let i = 1; i <= nPrekeys; i++) this.preKeys.set(i, keyhelper.generatePreKey(i).keyPair);
		this.sessions = new Map();
		this.senderKeys = new Map();
	}
	async loadSession(id) {
		const s = this.sessions.get(id);
		return s ? SessionRecord.deserialize(s) : undefined;
	}
	async storeSession(id, record) { this.sessions.set(id, record.serialize()); }
	async isTrustedIdentity() { return true; }
	async loadPreKey(id) { return this.preKeys.get(Number(id)); }
	async removePreKey(id) { this.preKeys.delete(Number(id)); }
	async loadSignedPreKey() { return this.signedPreKey.keyPair; }
	async getOurRegistrationId() { return this.registrationId; }
	async getOurIdentity() { return this.identity; }
	async loadSenderKey(name) {
		const k = this.senderKeys.get(name.toString());
		return k ? this.group.revive(k) : new this.group.SenderKeyRecord();
	}
	async storeSenderKey(name, record) { this.senderKeys.set(name.toString(), this.group.freeze(record)); }

	// Our bundle in the wire form of <iq xmlns=encrypt> (raw 32-byte keys, BE ids).
	wireBundle(preKeyId) {
		const be = (v, n) => { const b = Buffer.alloc(n); b.writeUIntBE(v, 0, n); return b.toString('hex'); };
		const w = {
			registration: be(this.registrationId, 4),
			type: '05',
			identity: this.identity.pubKey.subarray(1).toString('hex'),
			skey_id: be(this.signedPreKey.keyId, 3),
			skey_value: this.signedPreKey.keyPair.pubKey.subarray(1).toString('hex'),
			skey_signature: this.signedPreKey.signature.toString('hex'),
		};
		if (preKeyId) {
			w.key_id = be(preKeyId, 3);
			w.key_value = this.preKeys.get(preKeyId).pubKey.subarray(1).toString('hex');
		}
		return w;
	}
	cipher(addr) { return new SessionCipher(this, addr); }
}

// A wire bundle from the C side -> the device object libsignal's initOutgoing
// takes, converted the way Baileys' parseAndInjectE2ESessions does.
function deviceFromWire(w) {
	const key = (hex) => Buffer.concat([Buffer.from([5]), Buffer.from(hex, 'hex')]);
	const dev = {
		registrationId: Buffer.from(w.registration, 'hex').readUInt32BE(0),
		identityKey: key(w.identity),
		signedPreKey: {
			keyId: Buffer.from(w.skey_id, 'hex').readUIntBE(0, 3),
			publicKey: key(w.skey_value),
			signature: Buffer.from(w.skey_signature, 'hex'),
		},
	};
	if (w.key_id) dev.preKey = { keyId: Buffer.from(w.key_id, 'hex').readUIntBE(0, 3), publicKey: key(w.key_value) };
	return dev;
}

// Y_* codes from src/util/err.h, as the helper reports them
const Y_EINVAL = -3, Y_ECRYPTO = -5, Y_EEXIST = -8;

const typeName = (t) => (t === 3 ? 'pkmsg' : t === 1 || t === 2 ? 'msg' : `?${t}`);

async function nodeToC(node, c, cAddr, nodeUser, nodeDevice, pt) {
	const enc = await node.cipher(cAddr).encrypt(pt);
	const ct = Buffer.from(enc.body, 'binary');
	const r = await c.ok({ cmd: 'decrypt', user: nodeUser, device: nodeDevice, type: typeName(enc.type), ciphertext: ct.toString('hex') });
	assert.equal(r.plaintext, pt.toString('hex'));
	return { type: typeName(enc.type), ct };
}

async function cToNode(c, node, cAddr, nodeUser, nodeDevice, pt) {
	const r = await c.ok({ cmd: 'encrypt', user: nodeUser, device: nodeDevice, plaintext: pt.toString('hex') });
	const ct = Buffer.from(r.ciphertext, 'hex');
	const cipher = node.cipher(cAddr);
	const out = r.type === 'pkmsg' ? await cipher.decryptPreKeyWhisperMessage(ct) : await cipher.decryptWhisperMessage(ct);
	assert.deepEqual(Buffer.from(out), pt);
	return { type: r.type, ct };
}

test('address naming matches Baileys 7 (user_domain) and Baileys 6 (bare user)', async () => {
	await import(join(root, 'node_modules/baileys7/lib/index.js')); // settles its import cycles first
	const b7 = await import(join(root, 'node_modules/baileys7/lib/Signal/libsignal.js'));
	const b6 = require(join(root, 'node_modules/baileys6/lib/Signal/libsignal.js'));
	const keys = { get: async () => ({}), set: async () => {}, transaction: async (f) => f() };
	const logger = { child: () => logger, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
	const r7 = b7.makeLibSignalRepository({ creds: {}, keys }, logger, async () => []);
	const r6 = b6.makeLibSignalRepository({ creds: {}, keys });
	const c = new CPeer();
	const jids = ['491701234567@s.whatsapp.net', '491701234567:12@s.whatsapp.net', '100000000000001:3@lid',
		'100000000000001@lid', '491701234567:99@hosted', '100000000000001:99@hosted.lid', '123456_7:2@msgr'];
	for (const jid of jids) {
		// decoded as a binary JID arrives: user, agent, device, server
		const [left, server] = jid.split('@');
		const [userAgent, device] = left.split(':');
		const [user, agent] = userAgent.split('_');
		const parts = { user, server, agent: Number(agent || 0), device: Number(device || 0) };
		const d = await c.ok({ cmd: 'address', ...parts, style: 'domain' });
		assert.equal(`${d.name}.${d.device}`, r7.jidToSignalProtocolAddress(jid), jid);
		const u = await c.ok({ cmd: 'address', ...parts, style: 'user' });
		assert.equal(`${u.name}.${u.device}`, r6.jidToSignalProtocolAddress(jid), jid);
	}
	assert.equal((await c.call({ cmd: 'address', user: '12.3', server: 'lid', agent: 0, device: 0, style: 'domain' })).code, Y_EINVAL);
	assert.equal(await c.close(), 0);
});

test('XEdDSA: C signatures verify in libsignal-node and the other way round', async () => {
	const c = new CPeer();
	const me = await c.ok({ cmd: 'init', user: '111', device: 0, prekeys: 1 });
	const ik = Buffer.concat([Buffer.from([5]), Buffer.from(me.identity, 'hex')]);
	// the signed prekey: signature over 0x05 || pub with the identity key
	const spkPub = Buffer.concat([Buffer.from([5]), Buffer.from(me.spk.pub, 'hex')]);
	assert.equal(curve.verifySignature(ik, spkPub, Buffer.from(me.spk.sig, 'hex')), true);
	const bad = Buffer.from(me.spk.sig, 'hex');
	bad[7] ^= 1;
	assert.equal(curve.verifySignature(ik, spkPub, bad), false);
	// arbitrary data signed by C
	for (let i = 0; i < 5; i++) {
		const data = bytes(1 + (rnd() % 200));
		const s = await c.ok({ cmd: 'sign', data: data.toString('hex') });
		assert.equal(curve.verifySignature(ik, data, Buffer.from(s.sig, 'hex')), true);
		data[0] ^= 0x80;
		assert.equal(curve.verifySignature(ik, data, Buffer.from(s.sig, 'hex')), false);
	}
	// Node signs (as Baileys signs its signed prekey), C verifies
	const node = new NodePeer('222', 0);
	const pub = node.identity.pubKey.subarray(1).toString('hex');
	const v = await c.ok({ cmd: 'verify', pub, data: node.signedPreKey.keyPair.pubKey.toString('hex'), sig: node.signedPreKey.signature.toString('hex') });
	assert.equal(v.valid, true);
	for (let i = 0; i < 5; i++) {
		const data = bytes(1 + (rnd() % 200));
		const sig = curve.calculateSignature(node.identity.privKey, data);
		assert.equal((await c.ok({ cmd: 'verify', pub, data: data.toString('hex'), sig: sig.toString('hex') })).valid, true);
		sig[40] ^= 4;
		assert.equal((await c.ok({ cmd: 'verify', pub, data: data.toString('hex'), sig: sig.toString('hex') })).valid, false);
	}
	assert.equal(await c.close(), 0);
});

test('Node builds a session from our C bundle: pkmsg to C, C replies msg, ratchet steps both ways', async () => {
	const c = new CPeer();
	const me = await c.ok({ cmd: 'init', user: '111', device: 0, prekeys: 4 });
	const cAddr = new ProtocolAddress(me.name, 0);
	const node = new NodePeer('222', 3);
	const { bundle } = await c.ok({ cmd: 'bundle', prekey_id: 2 });
	await new SessionBuilder(node, cAddr).initOutgoing(deviceFromWire(bundle));

	// Node sends pkmsg until C answers; C consumes one-time prekey 2
	for (let i = 0; i < 2; i++) {
		const r = await nodeToC(node, c, cAddr, '222', 3, bytes(1 + (rnd() % 300)));
		assert.equal(r.type, 'pkmsg');
	}
	assert.equal((await c.ok({ cmd: 'prekey_count' })).count, 3);
	assert.equal((await c.ok({ cmd: 'has_session', user: '222', device: 3 })).has_session, true);
	// C's first answer is a msg (it is the responder), and from then on both send msg
	for (let round = 0; round < 8; round++) {
		const burst = 1 + (rnd() % 3);
		for (let i = 0; i < burst; i++) {
			const pt = bytes(rnd() % 400);
			const r = round % 2 === 0 ? await cToNode(c, node, cAddr, '222', 3, pt) : await nodeToC(node, c, cAddr, '222', 3, pt);
			assert.equal(r.type, 'msg');
		}
	}
	// a bundle without a one-time prekey (the server ran out of them)
	const node2 = new NodePeer('222', 4);
	const { bundle: bare } = await c.ok({ cmd: 'bundle', prekey_id: 0 });
	assert.equal(bare.key_id, undefined);
	await new SessionBuilder(node2, cAddr).initOutgoing(deviceFromWire(bare));
	assert.equal((await nodeToC(node2, c, cAddr, '222', 4, bytes(40))).type, 'pkmsg');
	assert.equal((await cToNode(c, node2, cAddr, '222', 4, bytes(40))).type, 'msg');
	assert.equal((await nodeToC(node2, c, cAddr, '222', 4, bytes(40))).type, 'msg');
	assert.equal((await c.ok({ cmd: 'prekey_count' })).count, 3);
	assert.equal(await c.close(), 0);
});

test('C builds a session from a Node bundle and sends first; several messages each way', async () => {
	const c = new CPeer();
	const me = await c.ok({ cmd: 'init', user: '111', device: 0, prekeys: 1 });
	const cAddr = new ProtocolAddress(me.name, 0);
	const node = new NodePeer('333', 0, 3);
	await c.ok({ cmd: 'session', user: '333', device: 0, bundle: node.wireBundle(2) });

	const first = await cToNode(c, node, cAddr, '333', 0, bytes(50));
	assert.equal(first.type, 'pkmsg');
	assert.equal(node.preKeys.has(2), false, 'Node consumed the one-time prekey');
	assert.equal((await cToNode(c, node, cAddr, '333', 0, bytes(10))).type, 'pkmsg');
	for (let round = 0; round < 6; round++) {
		const burst = 1 + (rnd() % 4);
		for (let i = 0; i < burst; i++) {
			const pt = bytes(1 + (rnd() % 200));
			const r = round % 2 === 0 ? await nodeToC(node, c, cAddr, '333', 0, pt) : await cToNode(c, node, cAddr, '333', 0, pt);
			assert.equal(r.type, 'msg');
		}
	}
	// a bundle without a one-time prekey works too (another Node device)
	const node2 = new NodePeer('333', 5, 0);
	await c.ok({ cmd: 'session', user: '333', device: 5, bundle: node2.wireBundle(0) });
	assert.equal((await cToNode(c, node2, cAddr, '333', 5, bytes(33))).type, 'pkmsg');
	assert.equal((await nodeToC(node2, c, cAddr, '333', 5, bytes(33))).type, 'msg');
	// a Node bundle whose signature does not match is refused by C
	const forged = node.wireBundle(1);
	forged.skey_signature = forged.skey_signature.replace(/^../, (h) => ((parseInt(h, 16) ^ 1) + 0x100).toString(16).slice(1));
	const r = await c.call({ cmd: 'session', user: '333', device: 9, bundle: forged });
	assert.equal(r.ok, false);
	assert.equal(r.code, Y_ECRYPTO);
	assert.equal(await c.close(), 0);
});

test('C rejects Node messages that are tampered with or replayed', async () => {
	const c = new CPeer();
	const me = await c.ok({ cmd: 'init', user: '111', device: 0, prekeys: 2 });
	const cAddr = new ProtocolAddress(me.name, 0);
	const node = new NodePeer('444', 0);
	const { bundle } = await c.ok({ cmd: 'bundle', prekey_id: 1 });
	await new SessionBuilder(node, cAddr).initOutgoing(deviceFromWire(bundle));
	const first = await nodeToC(node, c, cAddr, '444', 0, bytes(20));
	let r = await c.call({ cmd: 'decrypt', user: '444', device: 0, type: 'pkmsg', ciphertext: first.ct.toString('hex') });
	assert.equal(r.ok, false);
	assert.equal(r.code, Y_EEXIST); // a duplicate
	await cToNode(c, node, cAddr, '444', 0, bytes(5));
	const enc = await node.cipher(cAddr).encrypt(bytes(64));
	const ct = Buffer.from(enc.body, 'binary');
	const tampered = Buffer.from(ct);
	tampered[tampered.length - 20] ^= 1;
	r = await c.call({ cmd: 'decrypt', user: '444', device: 0, type: 'msg', ciphertext: tampered.toString('hex') });
	assert.equal(r.ok, false);
	assert.equal(r.code, Y_ECRYPTO);
	// the genuine message still decrypts, once
	r = await c.ok({ cmd: 'decrypt', user: '444', device: 0, type: 'msg', ciphertext: ct.toString('hex') });
	r = await c.call({ cmd: 'decrypt', user: '444', device: 0, type: 'msg', ciphertext: ct.toString('hex') });
	assert.equal(r.code, Y_EEXIST);
	assert.equal(await c.close(), 0);
});

test('v2 padding: C pads, Baileys unpads; Baileys pads, C unpads', async () => {
	const c = new CPeer();
	const lens = new Set();
	for (let i = 0; i < 40; i++) {
		const pt = bytes(rnd() % 50);
		const { data } = await c.ok({ cmd: 'pad', plaintext: pt.toString('hex') });
		const padded = Buffer.from(data, 'hex');
		const p = padded.length - pt.length;
		assert.ok(p >= 1 && p <= 15);
		lens.add(p);
		assert.deepEqual(Buffer.from(generics.unpadRandomMax16(padded)), pt);
		const theirs = generics.writeRandomPadMax16(pt);
		const r = await c.ok({ cmd: 'unpad', data: theirs.toString('hex') });
		assert.equal(r.plaintext, pt.toString('hex'));
	}
	assert.ok(lens.size > 5, 'pad lengths vary');
	const r = await c.call({ cmd: 'unpad', data: '61620203' }); // pad 3 claimed, bytes differ
	assert.equal(r.code, Y_EINVAL);
	assert.equal(await c.close(), 0);
});

for (const [implName, group] of Object.entries(groupImpls)) {
	test(`sender keys: C and ${implName} exchange SKDMs and skmsgs`, async () => {
		const c = new CPeer();
		const me = await c.ok({ cmd: 'init', user: '111', device: 0, prekeys: 0 });
		const gid = '120363000000000777@g.us';
		const node = new NodePeer('555', 2, 0, group);
		// C -> Node
		const { skdm } = await c.ok({ cmd: 'skdm', group: gid });
		const cName = new group.SenderKeyName(gid, new ProtocolAddress(me.name, 0));
		await new group.GroupSessionBuilder(node).process(cName, new group.SenderKeyDistributionMessage(null, null, null, null, Buffer.from(skdm, 'hex')));
		const cipherC = new group.GroupCipher(node, cName);
		for (let i = 0; i < 6; i++) {
			const pt = bytes(1 + (rnd() % 100));
			const { ciphertext } = await c.ok({ cmd: 'group_encrypt', group: gid, plaintext: pt.toString('hex') });
			assert.deepEqual(Buffer.from(await cipherC.decrypt(Buffer.from(ciphertext, 'hex'))), pt);
		}
		// Node -> C
		const nName = new group.SenderKeyName(gid, node.addr);
		const dist = await new group.GroupSessionBuilder(node).create(nName);
		await c.ok({ cmd: 'process_skdm', group: gid, user: '555', device: 2, skdm: Buffer.from(dist.serialize()).toString('hex') });
		const cipherN = new group.GroupCipher(node, nName);
		for (let i = 0; i < 6; i++) {
			const pt = bytes(1 + (rnd() % 100));
			const ct = Buffer.from(await cipherN.encrypt(pt));
			const r = await c.ok({ cmd: 'group_decrypt', group: gid, user: '555', device: 2, ciphertext: ct.toString('hex') });
			assert.equal(r.plaintext, pt.toString('hex'));
			if (i === 5) {
				const again = await c.call({ cmd: 'group_decrypt', group: gid, user: '555', device: 2, ciphertext: ct.toString('hex') });
				assert.equal(again.code, Y_EEXIST);
				ct[ct.length - 70] ^= 1; // inside the signed part
				const bad = await c.call({ cmd: 'group_decrypt', group: gid, user: '555', device: 2, ciphertext: ct.toString('hex') });
				assert.equal(bad.code, Y_ECRYPTO);
			}
		}
		assert.equal(await c.close(), 0);
	});
}
