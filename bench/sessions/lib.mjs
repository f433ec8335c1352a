// Shared by bench/sessions/ours.mjs and peer.mjs.
import { readFileSync } from 'node:fs';
import { sleep } from '../../tests/interop/sim-lib.mjs';

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
