// The simulator's Noise certificate chain judged by libsignal-node's
// curve.verifySignature, not by Baileys: Baileys 7's Curve.verify (and so its
// chain check) answers true to any signature, shown below; Baileys 6 does not
// check signatures at all. The chain is fetched by connecting as a client
// with the specification-written initiator (noise-spec.mjs), which also
// yields the server static key the leaf must name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startSim } from './sim-lib.mjs';
import { libsignalVerify, flipped } from './judge-lib.mjs';
import { HandshakeState, randomKeyPair, encodeHandshake, decodeHandshake, frame, FrameReader } from './noise-spec.mjs';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

// Handshakes up to the ServerHello; resolves { cert, serverStatic }.
async function fetchChain(wsUrl) {
	const prologue = Buffer.from([0x57, 0x41, 6, 3]);
	const hs = new HandshakeState({ initiator: true, prologue, s: randomKeyPair(), e: randomKeyPair() });
	const ws = new WebSocket(wsUrl);
	try {
		return await new Promise((resolve, reject) => {
			const t = setTimeout(() => reject(new Error('no ServerHello')), 10000);
			const fr = new FrameReader();
			ws.on('error', reject);
			ws.on('open', () => ws.send(Buffer.concat([prologue, frame(encodeHandshake('clientHello', hs.writeMessage()))])));
			ws.on('message', (d) => {
				try {
					for (const f of fr.push(Buffer.from(d))) {
						const m = hs.readMessage(decodeHandshake('serverHello', f));
						clearTimeout(t);
						resolve({ cert: m.payload, serverStatic: hs.rs });
					}
				} catch (e) {
					clearTimeout(t);
					reject(e);
				}
			});
		});
	} finally {
		ws.terminate();
	}
}

test("the simulator's certificate chain verifies under /sim/info's root, and tampering fails", async () => {
	const sim = await startSim();
	try {
		const info = await sim.api('GET', '/sim/info');
		const root = Buffer.from(info.json.rootPublicKey, 'hex');
		const { cert, serverStatic } = await fetchChain(sim.wsUrl);
		const { proto, Curve } = await import('baileys7');
		const chain = proto.CertChain.decode(cert);
		const D = proto.CertChain.NoiseCertificate.Details;
		const inter = chain.intermediate, leaf = chain.leaf;
		const di = D.decode(inter.details), dl = D.decode(leaf.details);
		const now = Math.floor(Date.now() / 1000);

		assert.equal(libsignalVerify(root, inter.details, inter.signature), true, 'intermediate signed by the root');
		assert.equal(di.issuerSerial, 0);
		assert.equal(di.key.length, 32);
		assert.equal(libsignalVerify(di.key, leaf.details, leaf.signature), true, 'leaf signed by the intermediate');
		assert.equal(dl.issuerSerial, di.serial);
		assert.deepEqual(Buffer.from(dl.key), Buffer.from(serverStatic), 'leaf names the server static key');
		for (const d of [di, dl]) assert.ok(Number(d.notBefore) <= now && now <= Number(d.notAfter), 'validity window');

		// tampered variants: each must be refused by libsignal
		assert.equal(libsignalVerify(root, inter.details, flipped(inter.signature, 5)), false, 'flipped intermediate signature');
		assert.equal(libsignalVerify(root, flipped(inter.details, 3), inter.signature), false, 'flipped intermediate details');
		assert.equal(libsignalVerify(di.key, leaf.details, flipped(leaf.signature, 40)), false, 'flipped leaf signature');
		assert.equal(libsignalVerify(di.key, flipped(leaf.details, 3), leaf.signature), false, 'flipped leaf details');
		assert.equal(libsignalVerify(randomKeyPair().pub, inter.details, inter.signature), false, 'another root');
		assert.equal(libsignalVerify(root, leaf.details, leaf.signature), false, 'leaf is not signed by the root');

		// why Baileys is no judge here: its wrapper accepts the tampered one
		assert.equal(Curve.verify(root, inter.details, flipped(inter.signature, 5)), true, "Baileys 7's Curve.verify says true to a flipped signature");
	} finally {
		assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
	}
});
