// Our Noise initiator (src/wa/noise.c via tests/tools/noise-initiator)
// against a responder that shares no code with it: noise-spec.mjs, written
// from the Noise specification with node:crypto, serving a certificate
// chain signed with libsignal-node. That responder is judged in turn by
// unmodified Baileys 6 and 7, which complete the handshake against it.
// Then the failures: a chain signed by another root, and a chain with one
// flipped signature byte, must make our initiator refuse the ServerHello
// and send no ClientFinish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOurInitiator, serverIdentity, captureBaileysPayload } from './judge-lib.mjs';
import { specResponder, randomKeyPair } from './noise-spec.mjs';

for (const version of [6, 7]) {
	test(`Baileys ${version} completes the handshake with the specification responder`, async () => {
		const cap = await captureBaileysPayload(version);
		assert.deepEqual(cap.intro, Buffer.from([0x57, 0x41, 6, version === 6 ? 2 : 3]));
		assert.deepEqual(Buffer.from(cap.clientStatic), Buffer.from(cap.creds.noiseKey.public), 'ClientFinish static = creds.noiseKey');
		const p = cap.lib.proto.ClientPayload.decode(cap.payload);
		assert.deepEqual(Buffer.from(p.devicePairingData.eIdent), Buffer.from(cap.creds.signedIdentityKey.public));
	});
}

test('our initiator completes the handshake and both transport directions', async () => {
	const id = serverIdentity();
	const r = specResponder({ cert: id.cert, staticKey: id.staticKey });
	const res = await runOurInitiator(id.root.pub, r, async (resp, write) => {
		write(resp.send(Buffer.from('hello from the spec responder')));
		// wait for the echo
		for (let i = 0; i < 100 && resp.frames.length === 0; i++) await new Promise((s) => setTimeout(s, 20));
	});
	assert.equal(res.code, 0, res.lines.join(' | '));
	assert.equal(r.error, undefined, String(r.error));
	assert.deepEqual(r.intro, Buffer.from([0x57, 0x41, 6, 3]));
	const srv = res.lines.find((l) => l.startsWith('SERVER_STATIC '));
	assert.equal(srv, 'SERVER_STATIC ' + id.staticKey.pub.toString('hex'));
	const nk = res.lines.find((l) => l.startsWith('NOISE_KEY '));
	assert.equal(nk, 'NOISE_KEY ' + Buffer.from(r.clientStatic).toString('hex'));
	// the ClientPayload decrypted by the spec responder, decoded by Baileys
	const { proto } = await import('baileys7');
	const p = proto.ClientPayload.decode(r.payload);
	assert.equal(String(p.username), '15550001111');
	assert.equal(p.device, 1);
	assert.ok(res.lines.includes('FRAME ' + Buffer.from('hello from the spec responder').toString('hex')), res.lines.join(' | '));
	assert.equal(r.frames.length, 1);
	assert.equal(r.frames[0].toString(), 'echo:hello from the spec responder');
});

test('our initiator refuses a chain signed by another root', async () => {
	const id = serverIdentity();
	const r = specResponder({ cert: id.cert, staticKey: id.staticKey });
	const res = await runOurInitiator(randomKeyPair().pub, r);
	assert.equal(res.code, 1);
	assert.ok(res.lines.some((l) => /^ERROR server hello: /.test(l)), res.lines.join(' | '));
	assert.equal(r.payload, null, 'no ClientFinish was sent');
});

test('our initiator refuses a chain with one flipped signature byte, or another leaf key', async () => {
	const id = serverIdentity();
	// the leaf's signature is the last bytes of CertChain.leaf (field 1,
	// first); the intermediate's are the last bytes of the whole chain
	const leafLen = id.cert[1];
	assert.ok(id.cert[0] === 0x0a && leafLen < 128, "one-byte length of the leaf");
	const cases = {
		'leaf signature': (c) => (c[2 + leafLen - 1] ^= 1),
		'intermediate signature': (c) => (c[c.length - 1] ^= 1),
	};
	for (const [what, flip] of Object.entries(cases)) {
		const cert = Buffer.from(id.cert);
		flip(cert);
		const r = specResponder({ cert, staticKey: id.staticKey });
		const res = await runOurInitiator(id.root.pub, r);
		assert.equal(res.code, 1, what);
		assert.ok(res.lines.some((l) => /^ERROR server hello: /.test(l)), what + ': ' + res.lines.join(' | '));
		assert.equal(r.payload, null, what);
	}
	// a valid chain for another server key: the leaf does not name this server
	const other = serverIdentity();
	const r = specResponder({ cert: id.cert, staticKey: other.staticKey });
	const res = await runOurInitiator(id.root.pub, r);
	assert.equal(res.code, 1);
	assert.equal(r.payload, null);
});
