// src/wa/media.c (through build/<flavour>/tools/wa-media) against Baileys'
// own media functions: Baileys 6 and 7 encryptedStream on a file, our C
// decrypts it and, given the same media key, encrypts the file to the very
// same bytes; Baileys' downloadEncryptedContent decrypts what our C
// encrypted; a flipped byte is refused by us (Baileys checks nothing).
// Also: the committed tests/vectors/media.txt is what its script computes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join, dirname } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compute, vectorPath } from '../vectors/media.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.YESAPP_BUILD || join(root, 'build/asan');
const tool = join(build, 'tools/wa-media');

const peers = {
	baileys6: await import('baileys6/lib/Utils/messages-media.js'),
	baileys7: await import('baileys7/lib/Utils/messages-media.js')
};

const tmp = fs.mkdtempSync(join(os.tmpdir(), 'yesapp-media-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const run = (...args) => {
	const r = spawnSync(tool, args, { encoding: 'utf8' });
	return { code: r.status, out: r.stdout.trim(), err: r.stderr };
};

test('the committed vector file is what tests/vectors/media.mjs computes', async () => {
	assert.equal(fs.readFileSync(vectorPath, 'utf8'), await compute());
});

for (const [name, peer] of Object.entries(peers)) {
	for (const [type, size] of [['image', 70001], ['document', 1 << 20], ['audio', 16], ['video', 0]]) {
		test(`${name} encryptedStream ${type} ${size} B: our C decrypts it and re-encrypts the same bytes`, async () => {
			const plainPath = join(tmp, `${name}-${type}.plain`);
			const plain = crypto.randomBytes(size);
			fs.writeFileSync(plainPath, plain);
			const r = await peer.encryptedStream({ url: plainPath }, type);
			// Baileys 7 writes the upload to a file, Baileys 6 hands a stream
			if (!r.encFilePath) {
				const chunks = [];
				for await (const c of r.encWriteStream) chunks.push(c);
				r.encFilePath = join(tmp, `${name}-${type}.enc`);
				fs.writeFileSync(r.encFilePath, Buffer.concat(chunks));
			}
			const up = fs.readFileSync(r.encFilePath);
			const key = Buffer.from(r.mediaKey).toString('hex');
			const encSha = Buffer.from(r.fileEncSha256).toString('hex');
			const fileSha = Buffer.from(r.fileSha256).toString('hex');
			// decrypt Baileys' upload, checking its announced hashes
			const dec = run('dec', type, key, r.encFilePath, join(tmp, 'dec'), encSha, fileSha);
			assert.equal(dec.code, 0, dec.out + dec.err);
			assert.ok(fs.readFileSync(join(tmp, 'dec')).equals(plain));
			// our encryption under the same key: byte-identical upload
			const enc = run('enc', type, key, plainPath, join(tmp, 'enc'));
			assert.equal(enc.code, 0, enc.err);
			const sums = JSON.parse(enc.out);
			assert.ok(fs.readFileSync(join(tmp, 'enc')).equals(up), 'uploads differ');
			assert.equal(sums.fileSha256, fileSha);
			assert.equal(sums.fileEncSha256, encSha);
			assert.equal(sums.fileLength, r.fileLength);
			assert.equal(sums.fileEncSha256, sha(up));
			// one flipped byte: refused (the mac), nothing claimed good
			if (up.length > 10) {
				const bad = Buffer.from(up);
				bad[bad.length >> 1] ^= 1;
				fs.writeFileSync(join(tmp, 'bad'), bad);
				const t = run('dec', type, key, join(tmp, 'bad'), join(tmp, 'dec2'));
				assert.equal(t.code, 1);
				assert.equal(t.out, 'error: bad mac');
			}
			fs.rmSync(r.encFilePath, { force: true });
		});
	}

	test(`${name} downloadContentFromMessage decrypts what our C encrypted`, async () => {
		const plain = crypto.randomBytes(300000);
		const key = crypto.randomBytes(32);
		fs.writeFileSync(join(tmp, 'p2'), plain);
		const enc = run('enc', 'document', key.toString('hex'), join(tmp, 'p2'), join(tmp, 'e2'));
		assert.equal(enc.code, 0, enc.err);
		const blob = fs.readFileSync(join(tmp, 'e2'));
		const srv = http.createServer((req, res) => {
			res.writeHead(200, { 'content-type': 'application/octet-stream' });
			res.end(blob);
		});
		await new Promise((r) => srv.listen(0, '127.0.0.1', r));
		try {
			const url = `http://127.0.0.1:${srv.address().port}/blob`;
			const stream = await peer.downloadContentFromMessage({ mediaKey: key, url }, 'document');
			const chunks = [];
			for await (const c of stream) chunks.push(c);
			// Baileys leaves the 10 mac bytes undecrypted (protocol-map.md §9.2)
			assert.ok(Buffer.concat(chunks).equals(plain));
		} finally {
			srv.close();
		}
	});
}
