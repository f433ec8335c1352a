// src/wa/mediaretry.c (through build/<flavour>/tools/wa-mediaretry) against
// Baileys 6 and 7's own media retry functions (docs/media.md "Media retry"):
// the receipt Baileys' encryptMediaRetryRequest seals, our C opens (and,
// given the same iv, seals to the very same bytes); the notification our C
// seals, Baileys' decryptMediaRetryData opens with the result and the new
// direct path; a flipped byte, another message id or another media key is
// refused by us. And `yesapp sim`'s side, judged by Baileys 7: an upload
// kept "expired" (its path answers 410), the receiver's
// updateMediaMessage (a server-error receipt to its own phone) gets a new
// direct path from the simulated phone, and the download then gives the
// same bytes; a message the phone never saw gets the phone's error.
import { test } from 'node:test';
import https from 'node:https';
import { startSim, loadBaileys, client, mediaOptions } from './sim-lib.mjs';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.YESAPP_BUILD || join(root, 'build/asan');
const tool = join(build, 'tools/wa-mediaretry');
const peers = {
  baileys6: await import('baileys6/lib/Utils/messages-media.js'),
  baileys7: await import('baileys7/lib/Utils/messages-media.js'),
};
const run = (...args) => {
  const r = spawnSync(tool, args.map(String), { encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr };
};
const hex = (b) => Buffer.from(b).toString('hex');
const child = (node, tag) => node.content.find((c) => c.tag === tag);

for (const [name, lib] of Object.entries(peers)) {
  test(`${name} encryptMediaRetryRequest: our C opens the receipt and seals the same bytes`, async () => {
    const mediaKey = crypto.randomBytes(32);
    const key = { id: '3EB0' + crypto.randomBytes(8).toString('hex').toUpperCase(), remoteJid: '15550001111@s.whatsapp.net', fromMe: false };
    const node = await lib.encryptMediaRetryRequest(key, mediaKey, '15550002222:3@s.whatsapp.net');
    assert.equal(node.tag, 'receipt');
    assert.deepEqual(node.attrs, { id: key.id, to: '15550002222@s.whatsapp.net', type: 'server-error' });
    assert.deepEqual(child(node, 'rmr').attrs, { jid: key.remoteJid, from_me: 'false', participant: undefined });
    const enc = child(node, 'encrypt');
    const ct = child(enc, 'enc_p').content, iv = child(enc, 'enc_iv').content;
    assert.equal(iv.length, 12);
    let r = run('open-receipt', hex(mediaKey), key.id, hex(iv), hex(ct));
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(r.out, key.id);
    r = run('seal-receipt', hex(mediaKey), key.id, hex(iv));
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, hex(ct), 'the same sealed bytes');
    // refused: a flipped byte, another message id (the associated data), another key
    const bad = Buffer.from(ct);
    bad[bad.length - 3] ^= 1;
    for (const args of [[hex(mediaKey), key.id, hex(iv), hex(bad)], [hex(mediaKey), key.id + 'X', hex(iv), hex(ct)],
      [hex(crypto.randomBytes(32)), key.id, hex(iv), hex(ct)], [hex(mediaKey), key.id, hex(iv), hex(ct.subarray(0, 10))]]) {
      r = run('open-receipt', ...args);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^error: /);
    }
  });

  test(`${name} decryptMediaRetryData opens the notification our C seals`, async () => {
    const mediaKey = crypto.randomBytes(32);
    const id = '3EB0' + crypto.randomBytes(8).toString('hex').toUpperCase();
    const iv = crypto.randomBytes(12);
    const path = '/v/t62.7119-24/' + crypto.randomBytes(6).toString('hex') + '.enc?ccb=11-4&oh=sim&oe=0';
    let r = run('seal-notif', hex(mediaKey), id, hex(iv), 1, path);
    assert.equal(r.code, 0, r.err);
    let n = await lib.decryptMediaRetryData({ ciphertext: Buffer.from(r.out, 'hex'), iv }, mediaKey, id);
    assert.equal(n.result, 1, 'SUCCESS');
    assert.equal(n.directPath, path);
    assert.equal(n.stanzaId, id);
    // and back: our C opens it too; NOT_FOUND carries no path
    assert.deepEqual(JSON.parse(run('open-notif', hex(mediaKey), id, hex(iv), r.out).out), { result: 1, directPath: path });
    r = run('seal-notif', hex(mediaKey), id, hex(iv), 2, '-');
    n = await lib.decryptMediaRetryData({ ciphertext: Buffer.from(r.out, 'hex'), iv }, mediaKey, id);
    assert.equal(n.result, 2, 'NOT_FOUND');
    assert.ok(!n.directPath);
    assert.deepEqual(JSON.parse(run('open-notif', hex(mediaKey), id, hex(iv), r.out).out), { result: 2, directPath: null });
    assert.equal(run('open-notif', hex(mediaKey), id + 'X', hex(iv), r.out).code, 1);
  });
}

const within = (p, ms, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out: ${what}`)), ms))]);

test('yesapp sim: an expired upload (410) is uploaded again by the phone when Baileys 7 asks (updateMediaMessage)', async () => {
  const sim = await startSim();
  const info = (await sim.api('GET', '/sim/info')).json;
  const lib = await loadBaileys(7);
  const base = `1559${String(process.pid % 1000).padStart(3, '0')}`;
  const peers = [];
  try {
    for (const [phone, name] of [[`${base}0001`, 'RetryA'], [`${base}0002`, 'RetryB']]) {
      const c = client(lib, sim, phone, name, { fetchAgent: new https.Agent({ ca: info.caCert }) });
      peers.push(c);
      c.connect();
      await c.until(() => c.opens && c.pending, `${name} open`);
    }
    const [A, B] = peers;
    const bad = await sim.api('POST', '/sim/media/tamper', { mode: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal((await sim.api('POST', '/sim/media/tamper', { mode: 'expired' })).json.mode, 'expired');
    const doc = crypto.randomBytes(5000);
    const sent = await A.sock.sendMessage(`${B.phone}@s.whatsapp.net`, { document: doc, mimetype: 'application/pdf', fileName: 'old.pdf' });
    const u = await B.until(() => B.upserts.find((x) => x.key.id === sent.key.id && x.message), 'B gets the document');
    const opts = await mediaOptions(lib, info.caCert);
    await assert.rejects(lib.downloadMediaMessage(u, 'buffer', opts), (e) => /410/.test(`${e?.message} ${e?.output?.statusCode ?? ''} ${e?.data?.status ?? ''}`) || (console.log(e), false));
    await B.sock.refreshMediaConn(true); // Baileys builds the new URL from its media host
    const oldPath = u.message.documentMessage.directPath;
    const updated = await within(B.sock.updateMediaMessage(u), 10000, 'updateMediaMessage');
    assert.notEqual(updated.message.documentMessage.directPath, oldPath);
    const got = await lib.downloadMediaMessage(updated, 'buffer', opts);
    assert.equal(crypto.createHash('sha256').update(got).digest('hex'), crypto.createHash('sha256').update(doc).digest('hex'));
    // a message the phone never saw: its error, as Baileys reports it
    const unknown = { key: { ...u.key, id: '3EB0' + crypto.randomBytes(8).toString('hex').toUpperCase() }, message: u.message };
    await assert.rejects(within(B.sock.updateMediaMessage(unknown), 10000, 'updateMediaMessage of an unknown message'), /Failed to re-upload media \(2\)/);
  } finally {
    for (const c of peers) c.end();
    await sim.stop();
  }
});
