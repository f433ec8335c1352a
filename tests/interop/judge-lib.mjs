// Helpers for the judge-*.test.mjs suites: a server identity signed with
// libsignal-node, the specification-written responder (noise-spec.mjs)
// served to unmodified Baileys over a local websocket, and our C initiator
// (tests/tools/noise-initiator) driven over stdio.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { specResponder, randomKeyPair } from './noise-spec.mjs';
import { certChain } from '../vectors/noise_xx.mjs';
import { loadBaileys } from './sim-lib.mjs';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws');
const pino = require('pino');

const build = process.env.YESAPP_BUILD || 'build/asan';
export const initiatorTool = path.resolve(build, 'tools', 'noise-initiator');

// root -> intermediate -> leaf (= the server's static key), valid for an
// hour around now.
export function serverIdentity() {
	const root = randomKeyPair();
	const inter = randomKeyPair();
	const staticKey = randomKeyPair();
	const now = Math.floor(Date.now() / 1000);
	const cert = certChain({ rootPriv: root.priv, inter, leafKey: staticKey.pub, interSerial: 1, leafSerial: 2, notBefore: now - 3600, notAfter: now + 3600 });
	return { root, inter, staticKey, cert };
}

// Runs our initiator against a responder; resolves with its exit code, its
// stderr lines and the responder. `afterHandshake(r, write)` may send
// transport frames; stdin closes after it returns.
export function runOurInitiator(rootPub, responder, afterHandshake) {
	return new Promise((resolve, reject) => {
		const child = spawn(initiatorTool, ['connect', Buffer.from(rootPub).toString('hex')], { stdio: ['pipe', 'pipe', 'pipe'] });
		let err = '';
		let done = false;
		const t = setTimeout(() => child.kill('SIGKILL'), 15000);
		child.stderr.on('data', (d) => (err += d));
		child.stdout.on('data', async (d) => {
			try {
				const out = responder.push(d);
				if (out.length) child.stdin.write(out);
				if (responder.payload && !done) {
					done = true;
					if (afterHandshake) await afterHandshake(responder, (b) => child.stdin.write(b));
					child.stdin.end();
				}
			} catch (e) {
				responder.error = e;
				child.stdin.end();
			}
		});
		child.on('error', reject);
		child.on('exit', (code) => {
			clearTimeout(t);
			resolve({ code, lines: err.split('\n').filter(Boolean), responder });
		});
	});
}

// Serves the specification responder to one unmodified Baileys client and
// resolves with { payload (raw ClientPayload bytes), clientStatic, creds,
// intro } once its ClientFinish is decrypted. `login` makes Baileys believe
// it is linked already (creds.me set), so it sends its login payload.
export async function captureBaileysPayload(version, { login = false } = {}) {
	const lib = await loadBaileys(version);
	const id = serverIdentity();
	const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
	await new Promise((r) => wss.on('listening', r));
	const creds = lib.initAuthCreds();
	if (login) creds.me = { id: '15550001111:1@s.whatsapp.net', name: 'judge' };
	let sock;
	try {
		const got = new Promise((resolve, reject) => {
			const t = setTimeout(() => reject(new Error('Baileys sent no ClientFinish')), 20000);
			wss.on('connection', (ws) => {
				const r = specResponder({ cert: id.cert, staticKey: id.staticKey });
				ws.on('message', (data, isBinary) => {
					if (!isBinary) return;
					try {
						const out = r.push(Buffer.from(data));
						if (out.length) ws.send(out);
						if (r.payload) {
							clearTimeout(t);
							resolve({ payload: r.payload, clientStatic: r.clientStatic, intro: r.intro });
						}
					} catch (e) {
						clearTimeout(t);
						reject(e);
					}
				});
			});
		});
		sock = lib.makeWASocket({
			waWebSocketUrl: `ws://127.0.0.1:${wss.address().port}/ws/chat`,
			auth: { creds, keys: { get: async () => ({}), set: async () => {} } },
			printQRInTerminal: false,
			logger: pino({ level: 'silent' }),
			markOnlineOnConnect: false,
		});
		const res = await got;
		return { ...res, creds, lib };
	} finally {
		if (sock) {
			sock.ev.removeAllListeners('connection.update');
			try {
				sock.end(undefined);
			} catch {}
		}
		for (const c of wss.clients) c.terminate();
		await new Promise((r) => wss.close(r));
	}
}

// Our ClientPayloads as printed by tests/tools/noise-initiator.
export function ourRegistrationPayload(creds) {
	const hex = (b) => Buffer.from(b).toString('hex');
	return Buffer.from(
		execFileSync(initiatorTool, [
			'payload',
			'reg',
			String(creds.registrationId),
			hex(creds.signedIdentityKey.public),
			String(creds.signedPreKey.keyId),
			hex(creds.signedPreKey.keyPair.public),
			hex(creds.signedPreKey.signature),
		]).toString().trim(),
		'hex',
	);
}
export function ourLoginPayload(user, device) {
	return Buffer.from(execFileSync(initiatorTool, ['payload', 'login', String(user), String(device)]).toString().trim(), 'hex');
}

// libsignal-node's own verdict on an XEdDSA signature: curve.verifySignature
// returns curve25519-js's boolean (it throws only on a malformed key,
// message or signature length). Never pass its 4th argument (isInit), which
// makes it return true unchecked. `pub` is a 32-byte key (0x05 is added).
const curve = require('libsignal/src/curve.js');
export function libsignalVerify(pub, msg, sig) {
	return curve.verifySignature(Buffer.concat([Buffer.from([5]), Buffer.from(pub)]), Buffer.from(msg), Buffer.from(sig));
}

export function flipped(buf, at = 0) {
	const b = Buffer.from(buf);
	b[at] ^= 0x01;
	return b;
}

// The two ADV signatures a linked companion holds (creds.account), the
// messages they sign as whatsmeow pair.go and Baileys'
// configureSuccessfulPairing build them:
//   account: by the phone's accountSignatureKey over 06 00 || details || identity
//   device:  by the companion's identity key over
//            06 01 || details || identity || accountSignatureKey
// where identity is the companion's 32-byte identity public key.
export function advMessages(creds) {
	const a = creds.account;
	const ident = Buffer.from(creds.signedIdentityKey.public);
	return {
		account: { key: a.accountSignatureKey, msg: Buffer.concat([Buffer.from([6, 0]), a.details, ident]), sig: a.accountSignature },
		device: { key: ident, msg: Buffer.concat([Buffer.from([6, 1]), a.details, ident, a.accountSignatureKey]), sig: a.deviceSignature },
	};
}
