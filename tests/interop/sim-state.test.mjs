// `yesapp sim --state FILE`: two Baileys sockets (6, then 7) link and talk,
// the simulator is stopped (SIGTERM, exit 0, state saved), started again
// from the file on another port, and the same Baileys creds log in again
// (the saved Noise root, device keys and Noise statics are what they check)
// and message each other (the saved prekeys, Signal state and LIDs at work).
// A truncated or tampered file is refused at start with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startSim, loadBaileys, client, textFrom } from './sim-lib.mjs';

const build = process.env.YESAPP_BUILD || 'build/asan';

function startFails(file) {
	const r = spawnSync(path.resolve(build, 'yesapp'), ['sim', '--listen', '127.0.0.1:0', '--state', file], {
		encoding: 'utf8',
		timeout: 15000,
	});
	return { code: r.status, out: r.stdout + r.stderr };
}

for (const v of [6, 7]) {
	test(`sim --state: baileys ${v} creds log in and message after a restart`, async () => {
		const lib = await loadBaileys(v);
		const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'yesapp-simstate-'));
		const file = path.join(tmp, 'sim.json');
		let cur = await startSim(['--state', file]);
		// the clients follow whichever simulator is current
		const ref = { get wsUrl() { return cur.wsUrl; }, api: (...a) => cur.api(...a) };
		const A = client(lib, ref, `155500${v}3331`, `A${v}`);
		const B = client(lib, ref, `155500${v}3332`, `B${v}`);
		const aJid = `${A.phone}@s.whatsapp.net`;
		const bJid = `${B.phone}@s.whatsapp.net`;
		try {
			const root1 = (await cur.api('GET', '/sim/info')).json.rootPublicKey;
			A.connect();
			B.connect();
			await A.until(() => A.opens && A.pending, 'A open');
			await B.until(() => B.opens && B.pending, 'B open');
			await A.sock.sendMessage(bJid, { text: 'before the restart' });
			await B.until(() => textFrom(B, A, 'before the restart'), 'B receives before the restart');
			// offline, and what was sent but not yet acknowledged counted as
			// queued: the simulator requeues it when the connection goes (as
			// WhatsApp keeps a message until it is acked), so across a restart
			// unacked stanzas come back queued
			const offline = (j) => ({
				...j,
				devices: j.devices.map((d) => ({ ...d, online: false, queued: (d.queued ?? 0) + (d.unacked ?? 0), unacked: 0 })),
			});
			const devs1 = offline((await cur.api('GET', `/sim/accounts/${A.phone}/devices`)).json);
			assert.equal(devs1.devices.length, 1);

			A.end();
			B.end();
			assert.equal(await cur.stop(), 0, 'sim exits cleanly: ' + cur.stderr());
			assert.ok(fs.existsSync(file), 'state saved at shutdown');
			assert.ok(!fs.existsSync(file + '.tmp'), 'no temp file left');
			assert.equal(fs.statSync(file).mode & 0o077, 0, 'the state file is private');

			const port1 = cur.port;
			cur = await startSim(['--state', file]);
			assert.notEqual(cur.port, port1);
			assert.equal((await cur.api('GET', '/sim/info')).json.rootPublicKey, root1, 'same Noise root');
			assert.deepEqual(offline((await cur.api('GET', `/sim/accounts/${A.phone}/devices`)).json), devs1, 'same devices, offline');
			const opensA = A.opens;
			const opensB = B.opens;
			A.connect();
			B.connect();
			await A.until(() => A.opens > opensA, 'A logs in again');
			await B.until(() => B.opens > opensB, 'B logs in again');
			assert.equal(A.qrs.length, 1, 'no new QR: A logged in with its saved creds');
			assert.equal(B.qrs.length, 1, 'no new QR: B logged in with its saved creds');
			const m = await B.sock.sendMessage(aJid, { text: 'after the restart' });
			const got = await A.until(() => textFrom(A, B, 'after the restart'), 'A receives after the restart');
			assert.equal(got.key.id, m.key.id);
			await A.sock.sendMessage(bJid, { text: 'and back' });
			await B.until(() => textFrom(B, A, 'and back'), 'B receives after the restart');
			const st = (await cur.api('GET', '/sim/stats')).json;
			assert.equal(st.errors, 0);
			assert.equal(st.phoneDecryptFailed, 0);
		} finally {
			A.end();
			B.end();
			await cur.stop();
			fs.rmSync(tmp, { recursive: true, force: true });
		}
	});
}

test('sim --state: truncated or tampered files are refused at start', async () => {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'yesapp-simstate-'));
	const file = path.join(tmp, 'sim.json');
	try {
		const sim = await startSim(['--state', file]);
		assert.equal((await sim.api('POST', '/sim/accounts', { phone: '15550003333' })).status, 201);
		assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
		const saved = fs.readFileSync(file, 'utf8');
		const j = JSON.parse(saved);
		assert.equal(j.accounts.length, 1);
		// the saved file itself is accepted (the refusals below are about the changes)
		const again = await startSim(['--state', file]);
		assert.equal((await again.api('GET', '/sim/accounts/15550003333/devices')).status, 200);
		assert.equal(await again.stop(), 0);

		// refused: truncated, not JSON, a key of the wrong length, a bad phone
		const bad = path.join(tmp, 'bad.json');
		const cases = [
			[saved.slice(0, Math.floor(saved.length / 2)), /sim state: not JSON/],
			['', /sim state: not JSON/],
			[JSON.stringify({ ...j, version: 2 }), /sim state refused/],
			[JSON.stringify({ ...j, root: { ...j.root, pub: j.root.pub.slice(2) } }), /sim state refused/],
			[JSON.stringify({ ...j, accounts: [{ ...j.accounts[0], phone: '+1x' }] }), /sim state refused/],
			[JSON.stringify({ ...j, accounts: [j.accounts[0], j.accounts[0]] }), /sim state refused/],
		];
		for (const [text, re] of cases) {
			fs.writeFileSync(bad, text);
			const r = startFails(bad);
			assert.equal(r.code, 1, r.out);
			assert.match(r.out, re);
			assert.match(r.out, /cannot start/);
		}
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
});
