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
