// Helpers for the simulator's interop tests (tests/interop/sim-*.test.mjs):
// start `yesapp sim` on an ephemeral port, call its control API, and run
// unmodified Baileys sockets against it with in-memory auth state.
import { spawn } from 'node:child_process';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const pino = require('pino');

const build = process.env.YESAPP_BUILD || 'build/asan';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function loadBaileys(version) {
	if (version === 6) {
		const b = require('baileys6');
		return { version, waVersion: b.DEFAULT_CONNECTION_CONFIG.version, makeWASocket: b.default || b.makeWASocket, initAuthCreds: b.initAuthCreds, proto: b.proto, downloadMediaMessage: b.downloadMediaMessage };
	}
	const b = await import('baileys7');
	return { version, waVersion: b.DEFAULT_CONNECTION_CONFIG.version, makeWASocket: b.makeWASocket || b.default, initAuthCreds: b.initAuthCreds, proto: b.proto, downloadMediaMessage: b.downloadMediaMessage };
}

// Spawns the simulator and resolves once it logged its port.
export async function startSim(extraArgs = []) {
	const proc = spawn(path.resolve(build, 'yesapp'), ['sim', '--listen', '127.0.0.1:0', ...extraArgs, ...(process.env.SIMLOG ? ['--log-level', 'debug'] : [])], {
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const lines = [];
	let out = '';
	let stderr = '';
	proc.stderr.on('data', (d) => (stderr += d));
	const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)));
	const port = await new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error('sim did not start: ' + stderr)), 15000);
		proc.stdout.on('data', (d) => {
			out += d;
			let i;
			while ((i = out.indexOf('\n')) >= 0) {
				const line = out.slice(0, i);
				out = out.slice(i + 1);
				lines.push(line);
				try {
					const j = JSON.parse(line);
					if (j.message === 'sim listening') {
						clearTimeout(t);
						resolve(j.port);
					}
				} catch {}
			}
		});
		proc.on('exit', () => reject(new Error('sim exited: ' + stderr)));
	});
	const base = `http://127.0.0.1:${port}`;
	return {
		port,
		base,
		lines,
		wsUrl: `ws://127.0.0.1:${port}/ws/chat`,
		stderr: () => stderr,
		async api(method, p, body) {
			const r = await fetch(base + p, {
				method,
				headers: body === undefined ? {} : { 'content-type': 'application/json' },
				body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
			});
			const text = await r.text();
			let json = null;
			try {
				json = JSON.parse(text);
			} catch {}
			return { status: r.status, json, text };
		},
		async stop() {
			if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
			let t;
			const code = await Promise.race([exited, new Promise((r) => (t = setTimeout(() => r('timeout'), 10000)))]);
			clearTimeout(t);
			if (code === 'timeout') proc.kill('SIGKILL');
			if (process.env.SIMLOG) require('node:fs').appendFileSync(process.env.SIMLOG, lines.join('\n') + '\n');
			return code;
		},
	};
}

// One simulator for every test of the calling file: started before the
// first, stopped (and checked to exit 0) after the last. The handle forwards
// to it, so it can be passed to client() at the top level.
export function sharedSim(extraArgs = []) {
	let sim = null;
	before(async () => {
		sim = await startSim(extraArgs);
	});
	after(async () => {
		assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
	});
	return {
		get wsUrl() {
			return sim.wsUrl;
		},
		api: (...a) => sim.api(...a),
	};
}

// In-memory Signal key store in Baileys' shape.
function memKeys() {
	const m = {};
	return {
		get: async (type, ids) => {
			const out = {};
			for (const id of ids) {
				const v = m[type]?.[id];
				if (v !== undefined) out[id] = v;
			}
			return out;
		},
		set: async (data) => {
			for (const t in data) {
				m[t] ||= {};
				for (const id in data[t]) {
					if (data[t][id] == null) delete m[t][id];
					else m[t][id] = data[t][id];
				}
			}
		},
	};
}

// A Baileys socket that links to `phone` by QR through /sim/scan, restarts on
// 515 and records what it sees. Reconnect with c.connect(). opts: wsUrl
// (e.g. the wss URL), agent (Baileys' websocket agent, e.g. an https.Agent
// trusting the simulator's CA), fetchAgent (media), pairCode.
export function client(lib, sim, phone, name, opts = {}) {
	const state = { creds: lib.initAuthCreds(), keys: memKeys() };
	const c = {
		name,
		phone,
		state,
		sock: null,
		opens: 0,
		closes: [],
		qrs: [],
		scans: [],
		upserts: [],
		updates: [],
		pending: false,
		waiters: [],
	};
	const poke = () => {
		for (const w of c.waiters.slice()) w();
	};
	// Resolves with pred()'s first truthy value. pred is checked on each event
	// this client records and, for predicates over state other listeners keep
	// (a test's own sock.ev handler, a server's answers), every 100 ms too.
	c.until = (pred, what, ms = 20000) =>
		new Promise((resolve, reject) => {
			const stop = () => {
				clearTimeout(t);
				clearInterval(tick);
				const i = c.waiters.indexOf(check);
				if (i >= 0) c.waiters.splice(i, 1);
			};
			const check = () => {
				let v;
				try {
					v = pred();
				} catch (e) {
					v = undefined;
				}
				if (v) {
					stop();
					resolve(v);
				}
			};
			const tick = setInterval(check, 100);
			const t = setTimeout(() => {
				stop();
				reject(new Error(`${name}: timeout waiting for ${what}; closes=${JSON.stringify(c.closes)} opens=${c.opens} qrs=${c.qrs.length} scans=${JSON.stringify(c.scans.map((s) => s.status))}`));
			}, ms);
			c.waiters.push(check);
			check();
		});
	c.connect = () => {
		const sock = lib.makeWASocket({
			auth: state,
			waWebSocketUrl: opts.wsUrl || sim.wsUrl,
			logger: pino({ level: process.env.BLOG || 'silent' }).child({ c: name }),
			printQRInTerminal: false,
			defaultQueryTimeoutMs: 8000,
			markOnlineOnConnect: false,
			syncFullHistory: false,
			...(opts.fetchAgent ? { fetchAgent: opts.fetchAgent } : {}),
			...(opts.agent ? { agent: opts.agent } : {}),
		});
		c.sock = sock;
		sock.ev.on('creds.update', (u) => Object.assign(state.creds, u));
		sock.ev.on('connection.update', async (u) => {
			if (u.qr) {
				c.qrs.push(u.qr);
				if (c.qrs.length === 1 && opts.pairCode) {
					c.code = await sock.requestPairingCode(phone);
					const r = await sim.api('POST', '/sim/pair-code', { phone, code: c.code });
					c.scans.push(r);
				} else if (c.qrs.length === 1) {
					const r = await sim.api('POST', '/sim/scan', { phone, qr: u.qr });
					c.scans.push(r);
				}
			}
			if (u.connection === 'open') c.opens++;
			if (u.receivedPendingNotifications) c.pending = true;
			if (u.connection === 'close') {
				const code = u.lastDisconnect?.error?.output?.statusCode;
				c.closes.push(code);
				c.lastErrors = [...(c.lastErrors || []), u.lastDisconnect?.error];
				if (code === 515) c.connect();
			}
			poke();
		});
		sock.ev.on('messages.upsert', (m) => {
			for (const msg of m.messages) c.upserts.push({ type: m.type, key: msg.key, message: msg.message, status: msg.status, pushName: msg.pushName });
			poke();
		});
		sock.ev.on('messages.update', (u) => {
			for (const x of u) c.updates.push({ key: x.key, status: x.update.status });
			poke();
		});
		return sock;
	};
	c.end = () => {
		if (!c.sock) return;
		c.sock.ev.removeAllListeners('connection.update');
		try {
			c.sock.end(undefined);
		} catch {}
	};
	return c;
}

export function textOf(m) {
	return m?.conversation || m?.extendedTextMessage?.text;
}

// The chat JIDs a peer can appear under in c's events: its phone number
// (Baileys 6) or its LID (Baileys 7 is LID-first once it knows the mapping).
function peerJids(peer) {
	const lid = peer.state.creds.me?.lid?.split(':')[0];
	return [`${peer.phone}@s.whatsapp.net`, ...(lid ? [`${lid}@lid`] : [])];
}

// The message with `text` that c received from `peer`, if any.
export function textFrom(c, peer, text) {
	const jids = peerJids(peer);
	return c.upserts.find((u) => !u.key.fromMe && jids.includes(u.key.remoteJid) && textOf(u.message) === text);
}

// Whether c saw its message `id` reach status >= min (3 delivered, 4 read).
// Baileys 7 buffers events: a receipt that arrives before the sender's own
// message event is flushed is folded into it (status on the upsert).
export function statusAtLeast(c, id, min) {
	return (
		c.updates.some((u) => u.key.id === id && u.status >= min) ||
		c.upserts.some((u) => u.key.id === id && u.key.fromMe && u.status >= min)
	);
}

// The options argument that makes `lib.downloadMediaMessage` trust only the simulator's
// media CA: Baileys 6 downloads with axios (an https.Agent), Baileys 7 with
// the global fetch (an undici dispatcher; Node's own undici Agent class is
// reached through its global dispatcher, as the undici package is not
// installed).
export async function mediaOptions(lib, ca) {
	if (lib.version === 6) return { options: { httpsAgent: new https.Agent({ ca }) } };
	const key = Symbol.for('undici.globalDispatcher.1');
	if (!globalThis[key]) await fetch('http://127.0.0.1:1/').catch(() => {});
	const Agent = globalThis[key].constructor;
	return { options: { dispatcher: new Agent({ connect: { ca } }) } };
}
