// Interop: real Baileys clients (6.17.16 and 7.0.0-rc14) complete the Noise
// handshake against our C responder (tests/tools/noise-responder.c) through a
// local websocket server, and our side decodes their registration payload.
// Then the responder sends an encrypted <iq><pair-device><ref/></pair-device>
// node: Baileys must decrypt it (it shows a QR built from our ref) and answer
// with an encrypted <iq type=result>, which our side decrypts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws');
const pino = require('pino');

const build = process.env.YESAPP_BUILD || 'build/asan';
const tool = path.resolve(build, 'tools', 'noise-responder');
const REF = 'yesapp-ref-0123';

function hex(b) {
	return Buffer.from(b).toString('hex');
}

// Starts the responder and a ws server that pipes bytes both ways.
async function startServer() {
	const child = spawn(tool, [REF], { stdio: ['pipe', 'pipe', 'pipe'] });
	const lines = [];
	const waiters = [];
	let errBuf = '';
	child.stderr.on('data', (d) => {
		errBuf += d.toString();
		let i;
		while ((i = errBuf.indexOf('\n')) >= 0) {
			const line = errBuf.slice(0, i);
			errBuf = errBuf.slice(i + 1);
			lines.push(line);
			for (const w of waiters.slice()) w();
		}
	});
	const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
	const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
	await new Promise((resolve) => wss.on('listening', resolve));
	const conns = [];
	wss.on('connection', (ws, req) => {
		conns.push(ws);
		ws.on('message', (data, isBinary) => {
			if (isBinary) child.stdin.write(data);
		});
		child.stdout.on('data', (d) => {
			if (ws.readyState === ws.OPEN) ws.send(d);
		});
	});
	const waitLine = (prefix, ms = 20000) =>
		new Promise((resolve, reject) => {
			const check = () => {
				const l = lines.find((x) => x.startsWith(prefix + ' '));
				if (l) {
					clearTimeout(t);
					waiters.splice(waiters.indexOf(check), 1);
					resolve(l.slice(prefix.length + 1));
					return true;
				}
				const e = lines.find((x) => x.startsWith('ERROR '));
				if (e) {
					clearTimeout(t);
					waiters.splice(waiters.indexOf(check), 1);
					reject(new Error('responder: ' + e));
					return true;
				}
				return false;
			};
			const t = setTimeout(() => {
				waiters.splice(waiters.indexOf(check), 1);
				reject(new Error(`timeout waiting for ${prefix}; got ${JSON.stringify(lines)}`));
			}, ms);
			waiters.push(check);
			check();
		});
	const stop = async () => {
		for (const c of conns) c.terminate();
		await new Promise((resolve) => wss.close(resolve));
		child.stdin.end();
		const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
		const code = await exited;
		clearTimeout(timer);
		return code;
	};
	return { port: wss.address().port, waitLine, stop, lines };
}

function memoryAuth(initAuthCreds) {
	const creds = initAuthCreds();
	const store = {};
	return {
		creds,
		keys: {
			get: async (type, ids) => {
				const out = {};
				for (const id of ids) {
					const v = store[`${type}-${id}`];
					if (v !== undefined) out[id] = v;
				}
				return out;
			},
			set: async (data) => {
				for (const type of Object.keys(data)) {
					for (const id of Object.keys(data[type])) {
						store[`${type}-${id}`] = data[type][id];
					}
				}
			},
		},
	};
}

async function handshake(lib, wantDict, wantVersion) {
	const srv = await startServer();
	const auth = memoryAuth(lib.initAuthCreds);
	const { creds } = auth;
	let sock;
	try {
		const qr = new Promise((resolve) => {
			sock = lib.makeWASocket({
				waWebSocketUrl: `ws://127.0.0.1:${srv.port}/ws/chat`,
				auth,
				printQRInTerminal: false,
				logger: pino({ level: 'silent' }),
				connectTimeoutMs: 20000,
				markOnlineOnConnect: false,
			});
			sock.ev.on('connection.update', (u) => {
				if (u.qr) resolve(u.qr);
			});
		});

		assert.equal(Number(await srv.waitLine('INTRO')), wantDict);
		const clientStatic = await srv.waitLine('CLIENT_STATIC');
		assert.equal(clientStatic, hex(creds.noiseKey.public), 'handshake static = creds.noiseKey');

		const p = JSON.parse(await srv.waitLine('PAYLOAD'));
		const dp = p.devicePairingData;
		assert.ok(dp, 'registration payload carries devicePairingData');
		assert.equal(dp.eIdent, hex(creds.signedIdentityKey.public));
		const regid = Buffer.alloc(4);
		regid.writeUInt32BE(creds.registrationId);
		assert.equal(dp.eRegid, regid.toString('hex'));
		assert.equal(dp.eKeytype, '05');
		assert.equal(dp.eSkeyId, '000001');
		assert.equal(dp.eSkeyVal, hex(creds.signedPreKey.keyPair.public));
		assert.equal(dp.eSkeySig, hex(creds.signedPreKey.signature));
		const v = p.userAgent.appVersion;
		assert.deepEqual([v.primary, v.secondary, v.tertiary], wantVersion);
		assert.equal(dp.buildHash, createHash('md5').update(wantVersion.join('.')).digest('hex'));
		assert.equal(p.userAgent.platform, 'WEB');
		assert.equal(p.passive, false);
		assert.equal(p.pull, false);
		assert.equal(p.username, undefined);
		assert.equal(p.connectType, 'WIFI_UNKNOWN');
		assert.equal(p.connectReason, 'USER_ACTIVATED');
		assert.ok(p.devicePropsDecoded && typeof p.devicePropsDecoded.os === 'string');

		// Server -> client transport: Baileys decrypted our pair-device node.
		const q = await qr;
		assert.ok(q.includes(REF), `QR ${q} carries our ref`);
		assert.ok(q.includes(Buffer.from(creds.noiseKey.public).toString('base64')));
		// Client -> server transport: its <iq type=result id=yesapp1> reply.
		const frame = await srv.waitLine('FRAME');
		assert.ok(frame.includes(hex('yesapp1')), 'reply carries our iq id');
	} finally {
		if (sock) {
			sock.ev.removeAllListeners('connection.update');
			try {
				sock.end(undefined);
			} catch {}
		}
		const code = await srv.stop();
		assert.equal(code, 0, `responder exit code; stderr: ${srv.lines.join(' | ')}`);
	}
}

test('baileys 6.17.16 completes the handshake with our responder (dict v2)', async () => {
	const lib6 = require('baileys6');
	await handshake(
		{ makeWASocket: lib6.default || lib6.makeWASocket, initAuthCreds: lib6.initAuthCreds },
		2,
		[2, 3000, 1019707846],
	);
});

test('baileys 7.0.0-rc14 completes the handshake with our responder (dict v3)', async () => {
	const lib7 = await import('baileys7');
	await handshake(
		{ makeWASocket: lib7.makeWASocket || lib7.default, initAuthCreds: lib7.initAuthCreds },
		3,
		[2, 3000, 1043857760],
	);
});
