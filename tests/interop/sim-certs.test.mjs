// `yesapp sim --certs DIR`: the media host's CA and certificate are made in
// DIR on first start and loaded from it afterwards, so a client that trusts
// the CA once keeps trusting the simulator across restarts; a directory with
// unreadable, mismatched or missing files is refused at start (exit 1, a
// clear message), never half-trusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { startSim } from './sim-lib.mjs';

const build = process.env.YESAPP_BUILD || 'build/asan';

// GET over HTTPS to host:port trusting only `ca`; resolves the status code
// or rejects with the TLS error.
function httpsGet(hostPort, ca, p = '/no-such-blob') {
	const [host, port] = hostPort.split(':');
	return new Promise((resolve, reject) => {
		const req = https.get({ host, port: Number(port), path: p, ca, servername: 'localhost' }, (res) => {
			res.resume();
			res.on('end', () => resolve(res.statusCode));
		});
		req.on('error', reject);
	});
}

function startFails(dir) {
	const r = spawnSync(path.resolve(build, 'yesapp'), ['sim', '--listen', '127.0.0.1:0', '--certs', dir], {
		encoding: 'utf8',
		timeout: 15000,
	});
	return { code: r.status, out: r.stdout + r.stderr };
}

test('sim --certs: made once, loaded after a restart, bad directories refused', async () => {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'yesapp-simcerts-'));
	const dir = path.join(tmp, 'certs'); // does not exist yet: the sim creates it
	try {
		let sim = await startSim(['--certs', dir]);
		let info;
		try {
			info = (await sim.api('GET', '/sim/info')).json;
			assert.match(info.caCert, /^-----BEGIN CERTIFICATE-----/);
			for (const f of ['ca.pem', 'cert.pem', 'key.pem']) assert.ok(fs.existsSync(path.join(dir, f)), f);
			assert.equal(fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'), info.caCert);
			assert.equal(fs.statSync(path.join(dir, 'key.pem')).mode & 0o077, 0, 'key.pem is private');
			assert.equal(await httpsGet(info.mediaHost, info.caCert), 404);
			// without the CA the media host is not trusted
			await assert.rejects(httpsGet(info.mediaHost, undefined), /self[- ]signed|unable to (get|verify)/i);
		} finally {
			assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
		}
		const certBefore = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');

		sim = await startSim(['--certs', dir]);
		try {
			const again = (await sim.api('GET', '/sim/info')).json;
			assert.equal(again.caCert, info.caCert, 'the same CA after a restart');
			assert.notEqual(again.mediaHost, info.mediaHost);
			// a client that kept the first CA trusts the restarted simulator
			assert.equal(await httpsGet(again.mediaHost, info.caCert), 404);
		} finally {
			assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
		}
		assert.equal(fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'), certBefore, 'loaded, not remade');

		// a second directory, made by another start, for mismatched files
		const other = path.join(tmp, 'other');
		sim = await startSim(['--certs', other]);
		assert.equal(await sim.stop(), 0);

		const bad = path.join(tmp, 'bad');
		const reset = () => {
			fs.rmSync(bad, { recursive: true, force: true });
			fs.cpSync(dir, bad, { recursive: true });
		};
		reset();
		fs.writeFileSync(path.join(bad, 'cert.pem'), certBefore.slice(0, certBefore.length / 2));
		let r = startFails(bad);
		assert.equal(r.code, 1, r.out);
		assert.match(r.out, /unreadable PEM/);
		assert.match(r.out, /cannot start/);

		reset();
		fs.copyFileSync(path.join(other, 'key.pem'), path.join(bad, 'key.pem'));
		r = startFails(bad);
		assert.equal(r.code, 1, r.out);
		assert.match(r.out, /not cert\.pem's key/);

		reset();
		fs.copyFileSync(path.join(other, 'ca.pem'), path.join(bad, 'ca.pem'));
		r = startFails(bad);
		assert.equal(r.code, 1, r.out);
		assert.match(r.out, /not signed by ca\.pem/);

		reset();
		fs.unlinkSync(path.join(bad, 'key.pem'));
		r = startFails(bad);
		assert.equal(r.code, 1, r.out);
		assert.match(r.out, /need all of ca\.pem, cert\.pem, key\.pem or none/);
		assert.ok(!fs.existsSync(path.join(bad, 'key.pem')), 'a partial directory is left alone');
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
});
