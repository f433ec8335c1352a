// Generates tests/vectors/noise_xx.txt, the WhatsApp Noise XX transcript
// computed by tests/interop/noise-spec.mjs (written from the Noise
// specification with node:crypto; no line of our C code involved), with
// fixed keys. The certificate chain in it is signed with libsignal-node's
// XEdDSA (curve.calculateSignature, deterministic). tests/unit/test_noise.c
// replays it against src/wa/noise.c; tests/interop/noise-vector.test.mjs
// checks the committed file is what this script computes.
//
//   node tests/vectors/noise_xx.mjs          print the vector
//   node tests/vectors/noise_xx.mjs --write  rewrite tests/vectors/noise_xx.txt
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { HandshakeState, keyPairFromPrivate, encodeHandshake, decodeHandshake } from '../interop/noise-spec.mjs';

const require = createRequire(import.meta.url);
const curve = require('libsignal/src/curve.js');

function fixedKey(name) {
	const k = crypto.createHash('sha256').update('yesapp noise vector: ' + name).digest();
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	return keyPairFromPrivate(k);
}

function varint(n) {
	const b = [];
	let v = BigInt(n);
	while (v > 127n) {
		b.push(Number(v & 127n) | 128);
		v >>= 7n;
	}
	b.push(Number(v));
	return Buffer.from(b);
}
const fld = (no, bytes) => Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes]);
const num = (no, v) => Buffer.concat([varint(no << 3), varint(v)]);

// CertChain{leaf=1, intermediate=2}, NoiseCertificate{details=1,
// signature=2}, Details{serial=1, issuerSerial=2, key=3, notBefore=4,
// notAfter=5} (protocol-map.md §2.6).
export function certChain({ rootPriv, inter, leafKey, interSerial, leafSerial, notBefore, notAfter }) {
	const details = (serial, issuer, key) =>
		Buffer.concat([num(1, serial), num(2, issuer), fld(3, key), num(4, notBefore), num(5, notAfter)]);
	const di = details(interSerial, 0, inter.pub);
	const dl = details(leafSerial, interSerial, leafKey);
	const cert = (d, priv) => Buffer.concat([fld(1, d), fld(2, curve.calculateSignature(priv, d))]);
	return Buffer.concat([fld(1, cert(dl, inter.priv)), fld(2, cert(di, rootPriv))]);
}

export function makeVector() {
	const prologue = Buffer.from([0x57, 0x41, 6, 3]);
	const ie = fixedKey('initiator ephemeral');
	const is = fixedKey('initiator static (noise key)');
	const re = fixedKey('responder ephemeral');
	const rs = fixedKey('responder static');
	const root = fixedKey('certificate root');
	const inter = fixedKey('certificate intermediate');
	const now = 1800000000;
	const cert = certChain({ rootPriv: root.priv, inter, leafKey: rs.pub, interSerial: 7, leafSerial: 8, notBefore: 1700000000, notAfter: 1900000000 });
	const payload = Buffer.from('yesapp vector: ClientPayload bytes go here \x00\x01\xff');

	const log = [];
	const I = new HandshakeState({ initiator: true, prologue, s: is, e: ie, log: (x) => log.push(x) });
	const R = new HandshakeState({ initiator: false, prologue, s: rs, e: re });
	const h0 = Buffer.from(I.h);
	const m1 = encodeHandshake('clientHello', I.writeMessage());
	R.readMessage(decodeHandshake('clientHello', m1));
	const m2 = encodeHandshake('serverHello', R.writeMessage(cert));
	const got = I.readMessage(decodeHandshake('serverHello', m2));
	if (!got.payload.equals(cert)) throw new Error('cert round trip');
	const w3 = I.writeMessage(payload);
	const m3 = encodeHandshake('clientFinish', w3);
	const r3 = R.readMessage(decodeHandshake('clientFinish', m3));
	if (!r3.payload.equals(payload)) throw new Error('payload round trip');
	const [i2r, r2i] = w3.split;
	const ping = i2r.encryptWithAd(Buffer.alloc(0), Buffer.from('ping'));
	const pong = r3.split[1].encryptWithAd(Buffer.alloc(0), Buffer.from('pong'));

	// The same first message with the specification's MixHash of the empty
	// message-1 payload, which WhatsApp leaves out (noise-spec.mjs header).
	const S = new HandshakeState({ initiator: true, prologue, s: is, e: ie, hashEmptyFirstPayload: true });
	S.writeMessage();

	return {
		prologue,
		h_after_prologue: h0,
		initiator_ephemeral_priv: ie.priv,
		initiator_static_priv: is.priv,
		initiator_static_pub: is.pub,
		responder_ephemeral_priv: re.priv,
		responder_static_priv: rs.priv,
		responder_static_pub: rs.pub,
		root_pub: root.pub,
		now: Buffer.from(now.toString(16).padStart(16, '0'), 'hex'),
		cert_chain: cert,
		client_payload: payload,
		msg1: m1,
		h1: log[0].h,
		h1_strict_spec: S.h,
		msg2: m2,
		h2: log[1].h,
		ck2: log[1].ck,
		msg3: m3,
		h3: log[2].h,
		key_initiator_to_responder: i2r.k,
		key_responder_to_initiator: r2i.k,
		ping_ct: ping,
		pong_ct: pong,
	};
}

export function vectorText(v = makeVector()) {
	const head =
		'# WhatsApp Noise XX transcript from the Noise specification (tests/vectors/noise_xx.mjs).\n' +
		'# Generated: do not edit. "name hex" per line; now is Unix seconds, 8 bytes big-endian.\n';
	return head + Object.entries(v).map(([k, b]) => `${k} ${Buffer.from(b).toString('hex')}`).join('\n') + '\n';
}

export const vectorPath = fileURLToPath(new URL('./noise_xx.txt', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const t = vectorText();
	if (process.argv.includes('--write')) fs.writeFileSync(vectorPath, t);
	else process.stdout.write(t);
}
