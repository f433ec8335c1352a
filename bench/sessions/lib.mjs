// Shared by bench/sessions/ours.mjs and peer.mjs.
import { readFileSync } from 'node:fs';
import { sleep } from '../../tests/interop/sim-lib.mjs';
import { req } from '../../tests/http/lib.mjs';

// Links at most this many sessions at a time (each waits on its own QR,
// scan and login), as a user script bringing many numbers up would.
export const LINK_PARALLEL = Number(process.env.SESSIONS_PARALLEL || 50);

// VmRSS of a process (default: this one) in KiB.
export function rssKiB(pid = 'self') {
	return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

// Lets the connections go idle (logins finish their prekey and passive iqs),
// then collects this process' garbage.
export async function settle(ms = 1500) {
	await sleep(ms);
	if (global.gc) global.gc();
	await sleep(100);
}

// Runs fn(i) for i in [from, to), LINK_PARALLEL at a time.
export async function linkAll(from, to, fn) {
	let next = from;
	const worker = async () => {
		while (next < to) await fn(next++);
	};
	await Promise.all(Array.from({ length: Math.min(LINK_PARALLEL, to - from) }, worker));
}

// The simulator's control API at base. A request on a pooled keep-alive
// connection that the simulator closed as idle meanwhile fails before it is
// sent ("other side closed"); it is retried, at most 3 times.
export function simApi(base) {
	return async (method, p, body) => {
		for (let attempt = 1; ; attempt++) {
			try {
				const r = await fetch(base + p, {
					method,
					headers: body === undefined ? {} : { 'content-type': 'application/json' },
					body: body === undefined ? undefined : JSON.stringify(body),
				});
				const text = await r.text();
				return { status: r.status, json: text ? JSON.parse(text) : null, text };
			} catch (e) {
				if (attempt >= 3 || e?.cause?.code !== 'UND_ERR_SOCKET') throw e;
				await sleep(50);
			}
		}
	};
}

// GET /api/v1/sessions/{id} on srv until pred(session) holds; its body.
export async function waitSession(srv, id, pred, what, ms = 120000) {
	const end = Date.now() + ms;
	for (;;) {
		const r = await req(srv, 'GET', `/api/v1/sessions/${id}`);
		if (r.status === 200 && pred(r.body)) return r.body;
		if (Date.now() > end) throw new Error(`session ${id}: no ${what} in ${ms} ms: ${r.text}`);
		await sleep(100);
	}
}

// Links a new session of srv to a new simulator account phone by QR (the
// REST API and /sim/scan, simulator control API api); its id once connected.
export async function linkOurs(srv, api, phone, name) {
	await api('POST', '/sim/accounts', { phone });
	const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name } });
	if (c.status !== 201) throw new Error(`create: ${c.status} ${c.text}`);
	const s = c.body.qrCode ? c.body : await waitSession(srv, c.body.id, (x) => x.qrCode, 'QR');
	const scan = await api('POST', '/sim/scan', { phone, qr: s.qrCode });
	if (scan.status !== 200) throw new Error(`scan: ${scan.status} ${scan.text}`);
	await waitSession(srv, c.body.id, (x) => x.status === 'connected', 'connected');
	return c.body.id;
}

// Baileys 6 races its own handshake (bench/sessions/peer.mjs says how): a
// socket of client c that gets a second raw frame is ended and connected
// again (counts.races++), and the AES-GCM rejection it causes is left to
// the caller's unhandledRejection handler (counts.pending++ to expect one).
// c.connect() also runs on a 515 restart: every socket gets the watch.
export function watchRaces(c, counts) {
	const connect = c.connect;
	c.connect = () => {
		const sock = connect();
		let raw = 0;
		sock.ws.on('frame', (f) => {
			if (!(f instanceof Uint8Array) || ++raw < 2 || c.sock !== sock) return;
			counts.races++;
			counts.pending++;
			c.end();
			setImmediate(() => c.connect());
		});
		return sock;
	};
}
