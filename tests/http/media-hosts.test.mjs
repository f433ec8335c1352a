// Media host fallback end to end (issue 14, docs/media.md "Media hosts"): a
// real `yesapp serve` on `yesapp sim`, an unmodified Baileys 7 peer. The
// simulator's media_conn names a dead host (connections refused) and a busy
// one (503 to everything) before its real host (POST /sim/media/hosts).
// Our upload goes through the third host and Baileys decrypts the file;
// a file whose url names the dead host is downloaded through the real one
// with its direct path; with every host down (the real one answering 503
// too) our upload and a download both end failed with a reason.
// MEDIA_BACKOFF_MS=50 keeps the rounds over the hosts short.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import https from 'node:https';
import { stopServer, req } from './lib.mjs';
import { messaging, simWithCa } from './msg-lib.mjs';
import { loadBaileys, client, mediaOptions } from '../interop/sim-lib.mjs';

let sim, info, caFile, lib, h, simc;

before(async () => {
  simc = await simWithCa();
  ({ sim, info, caFile } = simc);
  lib = await loadBaileys(7);
  h = await messaging(sim, { key: 'media-hosts-test-key-0123456789', prefix: '1561' });
});
after(() => simc.stop());

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const until = (...a) => h.until(...a);
const hosts = (body) => sim.api('POST', '/sim/media/hosts', body).then((r) => { assert.equal(r.status, 200, r.text); return r.json; });
const logsOf = (srv, msg, key, v) => srv.logs.filter((l) => l.message === msg && l[key] === v);

test('sim: POST /sim/media/hosts names the hosts and refuses bad settings', async () => {
  const r = await hosts({ before: ['dead', 'busy'] });
  assert.deepEqual(r.before, ['dead', 'busy']);
  assert.equal(r.hosts.length, 3);
  assert.equal(new Set(r.hosts).size, 3, 'three different hosts');
  for (const bad of [{ before: ['gone'] }, { before: ['dead', 'dead', 'busy'] }, { down: 1 }, { urlOnFirst: 'yes' }])
    assert.equal((await sim.api('POST', '/sim/media/hosts', bad)).status, 400, JSON.stringify(bad));
  const off = await hosts({ before: [], urlOnFirst: false, down: false });
  assert.deepEqual(off.hosts, [r.hosts[2]]);
});

test('the first media hosts dead and busy: upload and download go through the next; all down: failed with a reason', async () => {
  // before the session's first media_conn (it keeps one for its ttl)
  const named = await hosts({ before: ['dead', 'busy'], urlOnFirst: false, down: false });
  const [deadHost, busyHost] = named.hosts;
  const srv = await h.serve(undefined, { WA_CA_FILE: caFile, MEDIA_BACKOFF_MS: '50', MAX_BODY_BYTES: String(4 << 20) });
  const B = client(lib, sim, h.newPhone(), 'Hosts7', { fetchAgent: new https.Agent({ ca: info.caCert }) });
  B.connect();
  try {
    await B.until(() => B.opens && B.pending, 'Hosts7 open');
    await B.until(() => B.upserts.some((u) => u.message?.protocolMessage), 'Hosts7: phone protocol messages');
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const send = async (bytes) => {
      const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: B.phone, document: { base64: bytes.toString('base64'), mimetype: 'application/pdf', filename: 'h.pdf' } } });
      assert.equal(r.status, 202, r.text);
      return r.body;
    };
    // Baileys' own upload to the simulator can time out on a loaded machine (ASan; it also
    // goes over the dead and busy hosts first): its setup, not what is under test
    const bsend = async (content) => {
      for (let i = 0; ; i++) {
        try { return await B.sock.sendMessage(`${us}@s.whatsapp.net`, content); } catch (e) {
          if (i >= 2 || !/Media upload failed/.test(e?.message)) throw e;
        }
      }
    };
    const state = (mid) => req(srv, 'GET', `/api/v1/sessions/${id}/messages/${mid}`).then((r) => r.body);

    // 1. our upload: dead (refused), busy (503), then the real host; Baileys decrypts it
    const doc = Buffer.concat([Buffer.from('%PDF-1.7\n'), crypto.randomBytes(50000)]);
    const s1 = await send(doc);
    const u = await B.until(() => B.upserts.find((x) => x.key.id === s1.waId && x.message), 'Baileys gets our document');
    const got = await lib.downloadMediaMessage({ key: u.key, message: u.message }, 'buffer', await mediaOptions(lib, info.caCert));
    assert.equal(sha(got), sha(doc), 'Baileys 7 decrypts what went up through the third host');
    const upTries = logsOf(srv, 'media upload failed on a host: trying the next', 'id', s1.id);
    assert.deepEqual(upTries.map((l) => l.host), [deadHost, busyHost], JSON.stringify(upTries));
    assert.match(upTries[1].reason, /HTTP 503/);

    // 2. a download whose url names the dead host: the busy one next, then the real one with the direct path
    await hosts({ urlOnFirst: true });
    const img = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(30000)]);
    const sent = await bsend({ image: img, mimetype: 'image/jpeg' });
    assert.ok(sent.message.imageMessage.url.includes(deadHost), `the url names the dead host: ${sent.message.imageMessage.url}`);
    const inbound = await until('inbound image', async () => (await h.list(srv, id, 'limit=100')).find((m) => m.waId === sent.key.id));
    const file = await until('the image through the real host', async () => {
      const r = await fetch(`${srv.base}${inbound.content.mediaUrl}`, { headers: { 'X-API-Key': srv.key } });
      return r.status === 200 ? Buffer.from(await r.arrayBuffer()) : (await r.arrayBuffer(), null);
    }).catch((e) => { console.log(JSON.stringify(srv.logs.filter((l) => /media/.test(l.message)))); throw e; });
    assert.equal(sha(file), sha(img), 'stored byte-identical');
    const dlTries = logsOf(srv, 'media download failed on a host: trying the next', 'messageId', inbound.id);
    assert.ok(dlTries.length >= 2 && dlTries.at(-2).host === deadHost && dlTries.at(-1).host === busyHost, JSON.stringify(dlTries));

    // 3. every host down: a received file asked for again fails, and so does our upload
    const put = await req(srv, 'PUT', `/api/v1/sessions/${id}/media-settings`, { body: { autoDownload: false } });
    assert.equal(put.status, 200, put.text);
    const doc2 = crypto.randomBytes(9000);
    const sent2 = await bsend({ document: doc2, mimetype: 'application/pdf', fileName: 'later.pdf' });
    const in2 = await until('inbound document skipped', async () => {
      const m = (await h.list(srv, id, 'limit=100')).find((x) => x.waId === sent2.key.id);
      if (!m) return null;
      const r = await req(srv, 'GET', m.content.mediaUrl);
      return r.status === 404 && r.body.details?.state === 'skipped' ? m : null;
    });
    await hosts({ down: true });
    const dl = await req(srv, 'POST', `/api/v1/sessions/${id}/messages/${in2.id}/download`);
    assert.equal(dl.status, 202, dl.text);
    const f2 = await until('the download failed', async () => {
      const m = await state(in2.id);
      return m.status === 'failed' ? m : null;
    }, 30000);
    assert.equal(f2.reason, 'media: download failed on every media host: HTTP 503');
    assert.ok(logsOf(srv, 'media download failed on a host: trying the next', 'messageId', in2.id).length >= 2, 'went over the hosts');
    const s3 = await send(crypto.randomBytes(5000));
    const f3 = await until('our upload failed', async () => {
      const m = await state(s3.id);
      return m.status === 'failed' ? m : null;
    }, 30000);
    assert.equal(f3.reason, 'media: upload failed on every media host: HTTP 503');
  } finally {
    B.end();
    await hosts({ before: [], urlOnFirst: false, down: false });
    await stopServer(srv, { removeData: true });
  }
});
