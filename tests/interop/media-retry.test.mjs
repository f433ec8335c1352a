// src/wa/mediaretry.c (through build/<flavour>/tools/wa-mediaretry) against
// Baileys 6 and 7's own media retry functions (docs/media.md "Media retry"):
// the receipt Baileys' encryptMediaRetryRequest seals, our C opens (and,
// given the same iv, seals to the very same bytes); the notification our C
// seals, Baileys' decryptMediaRetryData opens with the result and the new
// direct path; a flipped byte, another message id or another media key is
// refused by us.
import { test } from 'node:test';
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
