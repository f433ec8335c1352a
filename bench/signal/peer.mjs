// Signal benchmark, peer side: the same figures as bench_signal.c with the
// libsignal npm package Baileys uses (6.0.0) and Baileys 6's WASignalGroup,
// each endpoint keeping serialized records in memory as Baileys' auth state
// does. Usage: node bench/signal/peer.mjs N_SESSIONS N_MESSAGES
// Prints "<figure> <operations per second>" lines.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(join(root, 'package.json'));
const { curve, keyhelper, ProtocolAddress, SessionBuilder, SessionCipher, SessionRecord } = require('libsignal');
const group = require(join(root, 'node_modules/baileys6/WASignalGroup/index.js'));

const nsess = Number(process.argv[2] || 200);
const nmsg = Number(process.argv[3] || 2000);

class Peer {
	constructor(user, nPrekeys) {
		this.addr = new ProtocolAddress(user, 0);
		this.identity = curve.generateKeyPair();
		this.registrationId = keyhelper.generateRegistrationId();
		this.signedPreKey = keyhelper.generateSignedPreKey(this.identity, 1);
		this.preKeys = new Map();
		for (let i = 1; i <= nPrekeys; i++) this.preKeys.set(i, keyhelper.generatePreKey(i).keyPair);
		this.sessions = new Map();
		this.senderKeys = new Map();
	}
	async loadSession(id) { const s = this.sessions.get(id); return s ? SessionRecord.deserialize(s) : undefined; }
	async storeSession(id, r) { this.sessions.set(id, r.serialize()); }
	async isTrustedIdentity() { return true; }
	async loadPreKey(id) { return this.preKeys.get(Number(id)); }
	async removePreKey(id) { this.preKeys.delete(Number(id)); }
	async loadSignedPreKey() { return this.signedPreKey.keyPair; }
	async getOurRegistrationId() { return this.registrationId; }
	async getOurIdentity() { return this.identity; }
	async loadSenderKey(n) { const k = this.senderKeys.get(n.toString()); return k ? new group.SenderKeyRecord(k) : new group.SenderKeyRecord(); }
	async storeSenderKey(n, r) { this.senderKeys.set(n.toString(), r.serialize()); }
	bundle(preKeyId) {
		return {
			registrationId: this.registrationId,
			identityKey: this.identity.pubKey,
			signedPreKey: { keyId: 1, publicKey: this.signedPreKey.keyPair.pubKey, signature: this.signedPreKey.signature },
			preKey: { keyId: preKeyId, publicKey: this.preKeys.get(preKeyId).pubKey },
		};
	}
}

const pt = Buffer.alloc(256, 0).map((_, i) => (i * 7 + 1) & 0xff);

async function send(a, b, data) {
	const enc = await new SessionCipher(a, b.addr).encrypt(data);
	const c = new SessionCipher(b, a.addr);
	const body = Buffer.from(enc.body, 'binary');
	const out = enc.type === 3 ? await c.decryptPreKeyWhisperMessage(body) : await c.decryptWhisperMessage(body);
	if (!Buffer.from(out).equals(data)) throw new Error('plaintext mismatch');
}

const now = () => Number(process.hrtime.bigint()) / 1e9;
const bob = new Peer('2000', nsess);
let alice;
let t0 = now();
for (let i = 0; i < nsess; i++) {
	alice = new Peer(String(10000 + i), 0);
	await new SessionBuilder(alice, bob.addr).initOutgoing(bob.bundle(i + 1));
	await send(alice, bob, pt);
}
console.log(`session ${(nsess / (now() - t0)).toFixed(1)}`);

await send(bob, alice, pt);
t0 = now();
for (let i = 0; i < nmsg; i++) await (i % 2 ? send(alice, bob, pt) : send(bob, alice, pt));
console.log(`msg-pingpong ${(nmsg / (now() - t0)).toFixed(1)}`);

t0 = now();
for (let i = 0; i < nmsg; i++) await send(alice, bob, pt);
console.log(`msg-burst ${(nmsg / (now() - t0)).toFixed(1)}`);

const g = '120363000000000001@g.us';
const name = new group.SenderKeyName(g, alice.addr);
const dist = await new group.GroupSessionBuilder(alice).create(name);
await new group.GroupSessionBuilder(bob).process(name, new group.SenderKeyDistributionMessage(null, null, null, null, dist.serialize()));
const enc = new group.GroupCipher(alice, name), dec = new group.GroupCipher(bob, name);
t0 = now();
for (let i = 0; i < nmsg; i++) {
	const ct = await enc.encrypt(pt);
	const out = await dec.decrypt(ct);
	if (!Buffer.from(out).equals(pt)) throw new Error('group plaintext mismatch');
}
console.log(`skmsg ${(nmsg / (now() - t0)).toFixed(1)}`);
