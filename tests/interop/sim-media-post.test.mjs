// A plain Node https POST of a large body to the simulator's media host
// (tests/interop/sim-media-post.test.mjs). Node writes a large Buffer to its
// TLS socket in 16 KiB records as fast as the socket takes them; such a POST
// of 16 MB or more once stalled until libwebsockets' timeout cut it (see
// docs/sim.md "Media"). Each body must be stored whole, well before that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import crypto from 'node:crypto';
import { sharedSim } from './sim-lib.mjs';

const sim = sharedSim(['--tls']);

function post(host, ca, path, body, timeoutMs) {
	const [hostname, port] = host.split(':');
	return new Promise((resolve, reject) => {
		const req = https.request({ hostname, port: Number(port), path, method: 'POST', ca,
			headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (d) => (text += d));
			res.on('end', () => resolve({ status: res.statusCode, text }));
			res.on('error', reject);
		});
		req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
		req.on('error', reject);
		req.end(body);
	});
}

function get(host, ca, path) {
	const [hostname, port] = host.split(':');
	return new Promise((resolve, reject) => {
		https.get({ hostname, port: Number(port), path, ca }, (res) => {
			const parts = [];
			res.on('data', (d) => parts.push(d));
			res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts) }));
			res.on('error', reject);
		}).on('error', reject);
	});
}

for (const mb of [20, 50]) {
	test(`a Node https POST of ${mb} MB to the media host is stored whole and fast`, async () => {
		const info = (await sim.api('GET', '/sim/info')).json;
		const body = crypto.randomBytes(mb * 1000 * 1000);
		const token = crypto.createHash('sha256').update(body).digest('base64url');
		const t0 = Date.now();
		/* well under libwebsockets' 20 s timeout, which a stall ran into */
		const r = await post(info.mediaHost, info.caCert,
			`/mms/document/${token}?auth=${info.mediaAuth}&token=${token}`, body, 15000);
		const ms = Date.now() - t0;
		assert.equal(r.status, 200, r.text);
		const j = JSON.parse(r.text);
		assert.ok(j.direct_path?.startsWith('/'), r.text);
		const back = await get(info.mediaHost, info.caCert, j.direct_path);
		assert.equal(back.status, 200);
		assert.equal(back.body.length, body.length);
		assert.ok(back.body.equals(body), 'the stored blob is the body posted');
		console.log(`${mb} MB posted in ${ms} ms`);
	});
}
