// Faults through `yesapp sim` (POST /sim/faults), seen by unmodified
// Baileys 6 and 7 sockets (one simulator for both): latencyMs delays every
// node the server sends, dropAll cuts every connection, refuseForMs turns
// new connections away until it expires; then the socket logs in again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedSim, loadBaileys, client, sleep } from './sim-lib.mjs';

const ping = (c) => c.sock.query({ tag: 'iq', attrs: { to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] });

const sim = sharedSim();

for (const v of [6, 7]) {
	test(`faults seen by baileys ${v}: latencyMs, dropAll, refuseForMs`, async () => {
		const lib = await loadBaileys(v);
		const c = client(lib, sim, `155500${v}9999`, `f${v}`);
		try {
			c.connect();
			await c.until(() => c.opens && c.pending, 'open');
			let t0 = Date.now();
			await ping(c);
			const base = Date.now() - t0;
			let r = await sim.api('POST', '/sim/faults', { latencyMs: 400 });
			assert.equal(r.status, 200);
			t0 = Date.now();
			await ping(c);
			assert.ok(Date.now() - t0 >= 390, `answer held back ${Date.now() - t0} ms (${base} ms without)`);
			r = await sim.api('POST', '/sim/faults', { latencyMs: 0 });
			assert.equal(r.json.latencyMs, 0);
			await ping(c); // still answered, in order, once latency is off

			r = await sim.api('POST', '/sim/faults', { latencyMs: -1 });
			assert.equal(r.status, 400);

			const closes = c.closes.length;
			r = await sim.api('POST', '/sim/faults', { refuseForMs: 1500, dropAll: true });
			assert.equal(r.json.dropped, 1);
			await c.until(() => c.closes.length >= closes + 1, 'dropped');
			c.connect(); // refused while the fault lasts
			await c.until(() => c.closes.length >= closes + 2, 'refused');
			assert.equal(c.opens, 1);
			await sleep(1600);
			c.connect();
			await c.until(() => c.opens === 2, 'reconnected after the refusal window');
			await ping(c);
		} finally {
			c.end();
		}
	});
}
