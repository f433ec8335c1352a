// Media retry end to end (issue 14, docs/media.md "Media retry"): a real
// `yesapp serve` linked to `yesapp sim`, an unmodified Baileys 7 peer. The
// simulator keeps the image's upload expired (410): our first download gets
// 410, we send our own phone the server-error receipt, the phone uploads the
// file again and answers with the sealed mediaretry notification, and we
// download from the new path: stored byte-identical, `message.media` received.
// The give-up paths: the upload is lost (the phone has it no more and answers
// <error code=2>) -> the message fails with reason media_expired; a phone that
// never answers -> failed media_expired after MEDIA_RETRY_TIMEOUT_MS (3 s
// here, 30 s by default); a phone whose new copy expires too -> a second 410
// fails it, asked once only (no loop).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { stopServer, req } from './lib.mjs';
import { messaging, simWithCa } from './msg-lib.mjs';
import { loadBaileys, client, sleep } from '../interop/sim-lib.mjs';

let sim, info, caFile, lib, h, simc;

before(async () => {
  simc = await simWithCa();
  ({ sim, info, caFile } = simc);
  lib = await loadBaileys(7);
  h = await messaging(sim, { key: 'media-retry-test-key-0123456789', prefix: '1558' });
});
after(() => simc.stop());

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const until = (...a) => h.until(...a);

// A server (env over WA_CA_FILE), a Baileys 7 peer B and a linked session:
// { srv, B, id, to, send, inbound, stop }.
async function setup(env = {}) {
  const srv = await h.serve(undefined, { WA_CA_FILE: caFile, ...env });
  const B = client(lib, sim, h.newPhone(), 'Retry7', { fetchAgent: new https.Agent({ ca: info.caCert }) });
  B.connect();
  const stop = async () => {
    B.end();
    await sim.api('POST', '/sim/media/tamper', { mode: 'off' });
    await stopServer(srv, { removeData: true });
  };
  try {
    await B.until(() => B.opens && B.pending, 'Retry7 open');
    await B.until(() => B.upserts.some((u) => u.message?.protocolMessage), 'Retry7: phone protocol messages');
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const to = `${us}@s.whatsapp.net`;
    // Baileys' own upload to the simulator's host can time out on a loaded machine (ASan):
    // that is its setup, not the retry under test, so it is tried again
    const send = async (jid, content) => {
      for (let i = 0; ; i++) {
        try { return await B.sock.sendMessage(jid, content); } catch (e) {
          if (i >= 3 || !/Media upload failed/.test(e?.message)) throw e;
        }
      }
    };
    const inbound = (waId) => until(`inbound ${waId}`, async () => (await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`)).body.data.find((m) => m.waId === waId));
    const failed = (waId, ms) => until(`${waId} failed`, async () => {
      const x = await inbound(waId);
      return x.status === 'failed' ? x : null;
    }, ms);
    return { srv, B, id, to, send, inbound, failed, stop };
  } catch (e) { await stop(); throw e; }
}
const asked = (srv, mid) => srv.logs.filter((l) => l.message === 'media expired on its host: our phone is asked to upload it again' && l.messageId === mid).length;

test('an expired image (410): our phone is asked, uploads it again, the retry lands byte-identical; a lost one fails media_expired', async () => {
  const { srv, id, to, send, inbound, failed, stop } = await setup();
  try {
    // expired: 410 first, then the phone's new path
    assert.equal((await sim.api('POST', '/sim/media/tamper', { mode: 'expired', count: 4 })).json.mode, 'expired'); // 4: the tries of send()
    const img = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(30000)]);
    const sent = await send(to, { image: img, mimetype: 'image/jpeg', caption: 'old one' });
    const m = await inbound(sent.key.id);
    const got = await until('the image after the retry', async () => {
      const r = await fetch(`${srv.base}${m.content.mediaUrl}`, { headers: { 'X-API-Key': srv.key } });
      return r.status === 200 ? Buffer.from(await r.arrayBuffer()) : (await r.arrayBuffer(), null);
    }).catch((e) => { console.log(JSON.stringify(srv.logs.filter((l) => /media/.test(l.message)))); throw e; });
    assert.equal(sha(got), sha(img), 'byte-identical after the retry');
    assert.ok(srv.logs.some((l) => l.message === 'media expired on its host: our phone is asked to upload it again' && l.messageId === m.id), 'the first download got 410 and asked');
    assert.ok(srv.logs.some((l) => l.message === 'media uploaded again by our phone: downloading' && l.messageId === m.id), 'the phone answered with a new path');
    const done = await inbound(sent.key.id);
    assert.equal(done.status, 'received');
    const ev = await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=message.media&limit=100`);
    assert.equal(ev.status, 200, ev.text);
    assert.ok(ev.body.data.some((e) => e.event === 'message.media' && e.messageId === m.id && e.status === 'received'), 'message.media says it is stored');

    // lost: the phone answers <error code=2>: failed, media_expired
    assert.equal((await sim.api('POST', '/sim/media/tamper', { mode: 'lost', count: 4 })).json.mode, 'lost');
    const doc = crypto.randomBytes(9000);
    const sent2 = await send(to, { document: doc, mimetype: 'application/pdf', fileName: 'gone.pdf' });
    const f = await failed(sent2.key.id);
    assert.match(f.reason, /^media: media_expired: the phone answered error 2$/);
    const r = await req(srv, 'GET', f.content.mediaUrl);
    assert.equal(r.status, 404);
    assert.equal(r.body.details.state, 'failed');
    assert.ok(srv.logs.some((l) => l.message === 'media expired on its host: our phone is asked to upload it again' && l.messageId === f.id), 'asked before giving up');
    assert.ok(!fs.readdirSync(join(srv.dataDir, 'media')).some((n) => n.startsWith(f.id) || n.includes(`.${f.id}.tmp`)), 'no file kept');
  } finally { await stop(); }
});

test('a phone that never answers: failed media_expired after MEDIA_RETRY_TIMEOUT_MS; a new copy that expires too: failed once, no loop', async () => {
  const t = await setup({ MEDIA_RETRY_TIMEOUT_MS: '3000' });
  try {
    // silent: the image expires (410) and the phone leaves the receipt unanswered
    assert.equal((await sim.api('POST', '/sim/media/tamper', { mode: 'silent', count: 4 })).json.mode, 'silent');
    const img = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(20000)]);
    const sent = await t.send(t.to, { image: img, mimetype: 'image/jpeg' });
    const m = await t.inbound(sent.key.id);
    await until('the phone asked', async () => asked(t.srv, m.id) === 1);
    const t0 = Date.now();
    const f = await t.failed(sent.key.id, 15000);
    const waited = Date.now() - t0;
    assert.equal(f.reason, 'media: media_expired: no answer from the phone in 3 s');
    assert.ok(waited >= 1500 && waited < 10000, `gave up after the 3 s timeout (${waited} ms after the ask was logged)`);
    assert.equal((await req(t.srv, 'GET', f.content.mediaUrl)).body.details.state, 'failed');

    // reexpired: the phone uploads it again, and that copy answers 410 too: failed, asked once
    assert.equal((await sim.api('POST', '/sim/media/tamper', { mode: 'reexpired', count: 4 })).json.mode, 'reexpired');
    const doc = crypto.randomBytes(7000);
    const sent2 = await t.send(t.to, { document: doc, mimetype: 'application/pdf', fileName: 'twice.pdf' });
    const f2 = await t.failed(sent2.key.id, 15000);
    assert.equal(f2.reason, 'media: media_expired: HTTP 410 after the phone uploaded it again');
    assert.ok(t.srv.logs.some((l) => l.message === 'media uploaded again by our phone: downloading' && l.messageId === f2.id), 'the phone answered with a new path');
    await sleep(2500); // a loop would ask again within this
    assert.equal(asked(t.srv, f2.id), 1, 'asked once, not again after the second 410');
    const again = await t.inbound(sent2.key.id);
    assert.equal(again.status, 'failed');
    assert.ok(!fs.readdirSync(join(t.srv.dataDir, 'media')).some((n) => n.startsWith(f2.id) || n.includes(`.${f2.id}.tmp`)), 'no file kept');
  } finally { await t.stop(); }
});
