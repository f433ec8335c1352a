// Simulator controls judged by unmodified Baileys 6 and 7:
//  - minimum client version (--min-version, POST /sim/config): an older
//    client gets <failure reason="405"/> (client outdated) and Baileys ends
//    the connection with statusCode 405; at or above the minimum it links
//    and logs in;
//  - prekey-low (POST /sim/prekey-low): the encrypt notification with the
//    count WhatsApp sends when a companion's one-time prekeys run low; Baileys
//    uploads a batch when the count is below its threshold (5), not when it
//    is not;
//  - TLS (--tls): Baileys links over wss:// trusting only the CA from
//    /sim/info, the same CA as the media host's; without it, no connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startSim, loadBaileys, client, sleep } from './sim-lib.mjs';

async function poll(fn, pred, what, ms = 15000) {
	const end = Date.now() + ms;
	let v;
	while (Date.now() < end) {
		v = await fn();
		if (pred(v)) return v;
		await sleep(100);
	}
	throw new Error(`timeout waiting for ${what}: last ${JSON.stringify(v)}`);
}

test('--min-version: a malformed value is a usage error (exit 2)', () => {
	const bin = path.resolve(process.env.YESAPP_BUILD || 'build/asan', 'yesapp');
	for (const bad of ['2.3000', 'x.y.z', '1.2.3.4', '1.2.99999999999']) {
		const r = spawnSync(bin, ['sim', '--listen', '127.0.0.1:0', '--min-version', bad], { encoding: 'utf8', timeout: 10000 });
		assert.equal(r.status, 2, bad);
		assert.match(r.stderr, /--min-version wants P\.S\.T/);
	}
});

for (const version of [6, 7]) {
	test(`minVersion: Baileys ${version} refused with 405 below it, links and logs in at or above it`, async () => {
		const lib = await loadBaileys(version);
		const [p, s, t] = lib.waVersion;
		const above = `${p}.${s}.${t + 1}`;
		const same = `${p}.${s}.${t}`;
		const below = `${p}.${s}.${t - 1}`;
		const phone = `1555000710${version}`;
		const sim = await startSim(['--min-version', above]);
		const c = client(lib, sim, phone, `mv${version}`);
		try {
			let r = await sim.api('GET', '/sim/config');
			assert.deepEqual(r.json, { minVersion: above, privacyTokens: true }, 'the flag set it');
			// a registration from an older client: refused before any QR
			c.connect();
			await c.until(() => c.closes.length >= 1, 'refused registration');
			assert.deepEqual(c.closes, [405]);
			assert.equal(c.lastErrors[0].message, 'Connection Failure');
			assert.equal(c.lastErrors[0].data?.reason, '405');
			assert.equal(c.qrs.length, 0, 'no pair-device refs for an outdated client');
			assert.equal(c.opens, 0);
			r = await sim.api('GET', '/sim/stats');
			assert.equal(r.json.outdated, 1);
			assert.equal(r.json.registrations, 0);

			// the minimum at exactly Baileys' version: equal is not older
			r = await sim.api('POST', '/sim/config', { minVersion: same });
			assert.equal(r.status, 200);
			assert.equal(r.json.minVersion, same);
			c.connect();
			await c.until(() => c.opens >= 1, 'linked', 30000);
			assert.deepEqual(c.closes, [405, 515]);

			// raised above it: the next login is refused the same way
			r = await sim.api('POST', '/sim/config', { minVersion: above });
			assert.equal(r.status, 200);
			r = await sim.api('POST', '/sim/faults', { dropAll: true });
			assert.equal(r.json.dropped, 1);
			await c.until(() => c.closes.length >= 3, 'dropped');
			c.connect();
			await c.until(() => c.closes.length >= 4, 'refused login');
			assert.equal(c.closes[3], 405);
			assert.equal(c.opens, 1, 'no login while outdated');

			// lowered below it: logs in again with the same creds
			r = await sim.api('POST', '/sim/config', { minVersion: below });
			assert.equal(r.json.minVersion, below);
			c.connect();
			await c.until(() => c.opens >= 2, 'logged in again');
			r = await sim.api('GET', '/sim/stats');
			assert.equal(r.json.outdated, 2);
			assert.equal(r.json.logins, 2);

			// cleared; malformed values refused and leave it as it was
			r = await sim.api('POST', '/sim/config', { minVersion: null });
			assert.deepEqual(r.json, { minVersion: null, privacyTokens: true });
			for (const bad of [{ minVersion: '2.3000' }, { minVersion: 2 }, { minVersion: '2.3000.x' }, { privacyTokens: 1 }, '[]']) {
				r = await sim.api('POST', '/sim/config', bad);
				assert.equal(r.status, 400, JSON.stringify(bad));
			}
			r = await sim.api('GET', '/sim/config');
			assert.deepEqual(r.json, { minVersion: null, privacyTokens: true });
		} finally {
			c.end();
			assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
		}
	});

	test(`prekey-low: Baileys ${version} uploads prekeys when told the count is below 5, not otherwise`, async () => {
		const lib = await loadBaileys(version);
		const phone = `1555000720${version}`;
		const sim = await startSim();
		const c = client(lib, sim, phone, `pk${version}`);
		const device = async () => (await sim.api('GET', `/sim/accounts/${phone}/devices`)).json.devices[0];
		const stats = async () => (await sim.api('GET', '/sim/stats')).json;
		try {
			c.connect();
			await c.until(() => c.opens >= 1 && c.pending, 'open', 30000);
			await poll(device, (d) => d.prekeys > 5, 'first upload');
			const uploads0 = (await stats()).prekeyUploads;
			assert.ok(uploads0 >= 1);

			// at Baileys' threshold: trimmed, notified, no upload
			let r = await sim.api('POST', '/sim/prekey-low', { phone, device: 1, count: 5 });
			assert.equal(r.status, 200, r.text);
			assert.deepEqual(r.json, { count: 5, queued: false });
			assert.equal((await device()).prekeys, 5);
			await sleep(1500);
			assert.equal((await stats()).prekeyUploads, uploads0, 'count 5 is not low for Baileys');
			assert.equal((await device()).prekeys, 5);

			// none left: Baileys uploads a batch; the count the sim serves grows
			r = await sim.api('POST', '/sim/prekey-low', { phone, device: 1 });
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.count, 0);
			const after = await poll(device, (d) => d.prekeys > 0, 'upload after prekey-low');
			assert.equal((await stats()).prekeyUploads, uploads0 + 1);
			// from 0, what the device holds is the one batch it uploaded (Baileys 6:
			// 30, Baileys 7: 5), enough to be above the threshold again
			assert.ok(after.prekeys >= 5, `uploaded ${after.prekeys}`);
			assert.equal((await stats()).prekeyLow, 2);

			// refusals
			r = await sim.api('POST', '/sim/prekey-low', { phone, device: 1, count: after.prekeys + 1 });
			assert.equal(r.status, 400);
			r = await sim.api('POST', '/sim/prekey-low', { phone, device: 9 });
			assert.equal(r.status, 404);
			r = await sim.api('POST', '/sim/prekey-low', { phone: 'x', device: 1 });
			assert.equal(r.status, 400);
			assert.equal((await device()).prekeys, after.prekeys, 'refusals change nothing');
		} finally {
			c.end();
			assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
		}
	});

	test(`tls: Baileys ${version} links over wss:// trusting the sim's CA, and not without it`, async () => {
		const lib = await loadBaileys(version);
		const phone = `1555000730${version}`;
		const sim = await startSim(['--tls']);
		const info = (await sim.api('GET', '/sim/info')).json;
		const agent = new https.Agent({ ca: info.caCert });
		const untrusting = client(lib, sim, phone, `notls${version}`, { wsUrl: info.wssUrl });
		const c = client(lib, sim, phone, `tls${version}`, { wsUrl: info.wssUrl, agent, fetchAgent: agent });
		try {
			assert.match(info.wssUrl, /^wss:\/\/127\.0\.0\.1:\d+\/ws\/chat$/);
			assert.notEqual(info.wssUrl.split(':')[2], info.wsUrl.split(':')[2], 'a port of its own');
			// no CA: the TLS handshake fails, the sim sees no connection
			untrusting.connect();
			await untrusting.until(() => untrusting.closes.length >= 1, 'TLS refused');
			assert.equal(untrusting.opens, 0);
			assert.match(String(untrusting.lastErrors[0]?.message), /certificate|self[- ]signed|issuer/i);
			assert.equal((await sim.api('GET', '/sim/stats')).json.connections, 0);
			untrusting.end();

			c.connect();
			await c.until(() => c.opens >= 1, 'linked over wss', 30000);
			assert.deepEqual(c.closes, [515]);
			const st = (await sim.api('GET', '/sim/stats')).json;
			assert.equal(st.pairings, 1);
			assert.equal(st.logins, 1);
			const devs = (await sim.api('GET', `/sim/accounts/${phone}/devices`)).json.devices;
			assert.equal(devs.length, 1);
			assert.equal(devs[0].online, true);
			// the same CA trusts the media host
			const status = await new Promise((resolve, reject) => {
				const [host, port] = info.mediaHost.split(':');
				https.get({ host, port: Number(port), path: '/nothing', agent }, (res) => {
					res.resume();
					resolve(res.statusCode);
				}).on('error', reject);
			});
			assert.equal(status, 404);
		} finally {
			untrusting.end();
			c.end();
			assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
		}
	});
}
