// Media end to end (issue 14, docs/media.md): a real `yesapp serve` linked to
// `yesapp sim`, unmodified Baileys 6 and 7 sockets as peers. Baileys sends an
// image, a document, a voice note, a video and a sticker (encrypted and
// uploaded to the simulator's HTTPS media host by Baileys itself) -> we
// download, verify and store each; GET /api/v1/media/{id} returns the same
// bytes (SHA-256), with Content-Type, ETag, Last-Modified,
// Content-Disposition for the document, single ranges (206 / 416) and 304;
// the `message` event carries mediaUrl; a blob damaged on the simulator
// (a flipped byte, a cut tail) -> the message `failed` with the reason and
// no file kept; ids that try to leave the media folder -> 404; deleting the
// session removes its files; a file the disk cannot take fails its one
// message and the server goes on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { join, resolve } from 'node:path';
import { startServer, stopServer, req, assertError, tempDir, removeDir, BIN } from './lib.mjs';
import { startSim, sleep, loadBaileys, client } from '../interop/sim-lib.mjs';

const Database = createRequire(import.meta.url)('better-sqlite3');
let sim, root, info, caFile, caDir;
const libs = {};

before(async () => {
  sim = await startSim();
  info = (await sim.api('GET', '/sim/info')).json;
  root = info.rootPublicKey;
  caDir = tempDir();
  caFile = join(caDir, 'ca.pem');
  fs.writeFileSync(caFile, info.caCert);
  libs[6] = await loadBaileys(6);
  libs[7] = await loadBaileys(7);
});
after(async () => { await sim.stop(); removeDir(caDir); });

const KEY = 'media-test-key-0123456789';
const serve = (env = {}, dataDir = undefined) => startServer({
  dataDir,
  env: { WA_WS_URL: sim.wsUrl, WA_ROOT_KEY: root, WA_CA_FILE: caFile, API_KEY: KEY, RATE_LIMIT_MESSAGES: '0', ...env },
}).then((srv) => { srv.key = KEY; return srv; });

let seq = 0;
const newPhone = () => `1557${String(process.pid % 1000).padStart(3, '0')}${String(seq++).padStart(4, '0')}`;

async function until(what, fn, ms = 30000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const v = await fn();
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function link(srv, phone) {
  await sim.api('POST', '/sim/accounts', { phone });
  const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'media' } });
  assert.equal(c.status, 201, c.text);
  const s = c.body.qrCode ? c.body : await until('a QR', async () => {
    const r = await req(srv, 'GET', `/api/v1/sessions/${c.body.id}`);
    return r.body.qrCode ? r.body : null;
  });
  const scan = await sim.api('POST', '/sim/scan', { phone, qr: s.qrCode });
  assert.equal(scan.status, 200, scan.text);
  await until('connected', async () => {
    const r = await req(srv, 'GET', `/api/v1/sessions/${s.id}`);
    return r.body && r.body.status === 'connected';
  });
  return s.id;
}

async function peer(v, phone, name) {
  const B = client(libs[v], sim, phone, name, { fetchAgent: new https.Agent({ ca: info.caCert }) });
  B.connect();
  await B.until(() => B.opens && B.pending, `${name} open`);
  await B.until(() => B.upserts.some((u) => u.message?.protocolMessage), `${name}: phone protocol messages`);
  return B;
}

const inbound = (srv, id, waId) => until(`inbound ${waId}`, async () => {
  const r = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`);
  return r.body.data.find((m) => m.waId === waId);
});
const settled = (srv, id, waId) => until(`media of ${waId} settled`, async () => {
  const m = await inbound(srv, id, waId);
  if (m.status === 'failed') return m;
  const r = await fetch(`${srv.base}${m.content.mediaUrl}`, { headers: { 'X-API-Key': KEY } });
  if (r.status === 200) return m;
  await r.arrayBuffer();
  return null;
});
const get = (srv, path, headers = {}) => fetch(`${srv.base}${path}`, { headers: { 'X-API-Key': KEY, ...headers } });
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const rnd = (prefix, n) => Buffer.concat([Buffer.from(prefix, 'binary'), crypto.randomBytes(n)]);

for (const v of [6, 7]) test(`Baileys ${v} sends image, document, voice note, video, sticker -> stored byte-identical, served with ranges`, async () => {
  const srv = await serve();
  const B = await peer(v, newPhone(), `M${v}`);
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const to = `${us}@s.whatsapp.net`;
    const files = [
      { kind: 'image', content: { image: rnd('\x89PNG\r\n\x1a\n', 40000), mimetype: 'image/png', caption: 'a picture ✓' }, ext: 'png' },
      { kind: 'document', content: { document: rnd('%PDF-1.7\n', 300000), mimetype: 'application/pdf', fileName: 'Bericht März 2026.pdf' }, ext: 'pdf' },
      { kind: 'audio', content: { audio: rnd('OggS', 20000), mimetype: 'audio/ogg; codecs=opus', ptt: true, seconds: 3 }, ext: 'ogg' },
      { kind: 'video', content: { video: rnd('\x00\x00\x00\x18ftypmp42', 120000), mimetype: 'video/mp4', caption: 'clip', seconds: 2 }, ext: 'mp4' },
      { kind: 'sticker', content: { sticker: rnd('RIFF\x10\x00\x00\x00WEBPVP8 ', 9000), mimetype: 'image/webp' }, ext: 'webp' },
    ];
    for (const f of files) {
      const bytes = f.content[f.kind === 'audio' ? 'audio' : f.kind];
      const sent = await B.sock.sendMessage(to, f.content);
      const m = await settled(srv, id, sent.key.id);
      assert.equal(m.status, 'received', JSON.stringify(m));
      assert.equal(m.type, f.kind);
      assert.equal(m.content.mediaUrl, `/api/v1/media/${m.id}`);
      assert.equal(m.content.media.kind, f.kind);
      assert.equal(m.content.media.size, bytes.length);
      assert.equal(m.content.media.mimetype, f.content.mimetype);
      if (f.content.caption) assert.equal(m.text, f.content.caption);
      if (f.kind === 'document') assert.equal(m.content.media.fileName, f.content.fileName);
      if (f.kind === 'audio') assert.equal(m.content.media.ptt, true);
      const r = await get(srv, m.content.mediaUrl);
      assert.equal(r.status, 200);
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(sha(body), sha(bytes), `${f.kind}: the same bytes`);
      assert.equal(r.headers.get('content-type'), f.content.mimetype);
      assert.equal(r.headers.get('content-length'), String(bytes.length));
      assert.equal(r.headers.get('etag'), `"${sha(bytes).slice(0, 32)}"`);
      assert.ok(Date.parse(r.headers.get('last-modified')) > 0);
      assert.equal(r.headers.get('accept-ranges'), 'bytes');
      // the file on disk: DATA_DIR/media/{id}.{ext}, nothing left over
      assert.equal(sha(fs.readFileSync(join(srv.dataDir, 'media', `${m.id}.${f.ext}`))), sha(bytes));
      if (f.kind === 'document') {
        assert.equal(r.headers.get('content-disposition'),
          `attachment; filename="Bericht M_rz 2026.pdf"; filename*=UTF-8''Bericht%20M%C3%A4rz%202026.pdf`);
        // single ranges: first bytes, a middle slice, the tail, open-ended
        for (const [range, a, b] of [['bytes=0-99', 0, 99], ['bytes=1000-1999', 1000, 1999],
          ['bytes=-500', bytes.length - 500, bytes.length - 1], [`bytes=${bytes.length - 10}-`, bytes.length - 10, bytes.length - 1],
          [`bytes=5-${bytes.length + 1000}`, 5, bytes.length - 1]]) {
          const p = await get(srv, m.content.mediaUrl, { Range: range });
          assert.equal(p.status, 206, range);
          assert.equal(p.headers.get('content-range'), `bytes ${a}-${b}/${bytes.length}`);
          assert.ok(Buffer.from(await p.arrayBuffer()).equals(bytes.subarray(a, b + 1)), range);
        }
        // through req(): lib.mjs checks these answers against src/api/openapi.json
        const bad = await req(srv, 'GET', m.content.mediaUrl, { headers: { Range: `bytes=${bytes.length}-` } });
        assertError(bad, 416, 'RANGE_NOT_SATISFIABLE');
        assert.equal(bad.headers.get('content-range'), `bytes */${bytes.length}`);
        assert.deepEqual(bad.body.details, { contentRange: `bytes */${bytes.length}`, size: bytes.length });
        // several ranges: the whole file (allowed by RFC 9110)
        const multi = await get(srv, m.content.mediaUrl, { Range: 'bytes=0-1,5-6' });
        assert.equal(multi.status, 200);
        assert.equal(Buffer.from(await multi.arrayBuffer()).length, bytes.length);
        const nm = await req(srv, 'GET', m.content.mediaUrl, { headers: { 'If-None-Match': r.headers.get('etag') } });
        assert.equal(nm.status, 304);
        assert.equal(nm.headers.get('etag'), r.headers.get('etag'));
        // a list and the weak form name it too (weak comparison, as the other ETagged routes)
        for (const inm of [`"0000", ${r.headers.get('etag')}`, `W/${r.headers.get('etag')}`]) {
          assert.equal((await req(srv, 'GET', m.content.mediaUrl, { headers: { 'If-None-Match': inm } })).status, 304, inm);
        }
        assert.equal((await req(srv, 'GET', m.content.mediaUrl, { headers: { 'If-None-Match': '"0000"', Range: 'bytes=0-0' } })).status, 206);
      } else {
        assert.equal(r.headers.get('content-disposition'), null);
      }
    }
    // the `message` events link the files; `message.media` tells they are there
    const ev = await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=message,message.media&limit=100`);
    assert.equal(ev.status, 200, ev.text);
    const msgs = (await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`)).body.data.filter((m) => m.content?.mediaUrl);
    assert.equal(msgs.length, files.length);
    for (const m of msgs) {
      assert.ok(ev.body.data.some((e) => e.event === 'message' && e.messageId === m.id && e.mediaUrl === m.content.mediaUrl), m.id);
      assert.ok(ev.body.data.some((e) => e.event === 'message.media' && e.messageId === m.id && e.status === 'received'), m.id);
    }
    // a damaged blob on the media host: the message failed, nothing kept
    for (const [mode, reasons] of [['flip', ['media: bad mac']], ['truncate', ['media: bad mac', 'media: bad length']]]) {
      assert.equal((await sim.api('POST', '/sim/media/tamper', { mode })).status, 200);
      const sent = await B.sock.sendMessage(to, { document: rnd('%PDF-1.7\n', 5000), mimetype: 'application/pdf', fileName: `${mode}.pdf` });
      const m = await settled(srv, id, sent.key.id);
      assert.equal(m.status, 'failed', mode);
      assert.ok(reasons.includes(m.reason), `${mode}: ${m.reason}`);
      assertError(await req(srv, 'GET', m.content.mediaUrl), 404, 'MEDIA_NOT_FOUND');
      assert.ok(!fs.readdirSync(join(srv.dataDir, 'media')).some((n) => n.includes(m.id)), 'no file kept');
      const fe = await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=message.media&limit=100`);
      assert.ok(fe.body.data.some((e) => e.messageId === m.id && e.status === 'failed' && e.reason === m.reason));
    }
    // a message whose URL names another host (not whatsapp.net, not the
    // WhatsApp server we trust): refused without a request
    const lure = await B.sock.relayMessage(to, { documentMessage: {
      url: 'http://localhost:9/internal', mimetype: 'application/pdf', fileName: 'lure.pdf',
      mediaKey: crypto.randomBytes(32), fileSha256: crypto.randomBytes(32), fileEncSha256: crypto.randomBytes(32),
      fileLength: 10, directPath: '/v/t62.7119-24/lure.enc' } }, {});
    const lm = await settled(srv, id, lure);
    assert.equal(lm.status, 'failed');
    assert.equal(lm.reason, 'media: media host not allowed');
    // ids that name no media, or try to leave the folder: 404
    for (const bad of ['00000000-0000-4000-8000-000000000000', '..%2F..%2Fdb.sqlite', '%2E%2E', 'x'.repeat(36),
      `${msgs[0].id}.png`, encodeURIComponent(`../${msgs[0].id}`)]) {
      const r = await req(srv, 'GET', `/api/v1/media/${bad}`);
      assert.equal(r.status, 404, bad);
      assert.ok(r.body && r.body.error, bad);
    }
    assertError(await req(srv, 'GET', msgs[0].content.mediaUrl, { key: 'wrong-key' }), 401, 'UNAUTHORIZED');
    // deleting the session removes its files
    const del = await req(srv, 'DELETE', `/api/v1/sessions/${id}`);
    assert.equal(del.status, 204, del.text);
    // (media/out holds the sources of media being sent: none here)
    assert.deepEqual(fs.readdirSync(join(srv.dataDir, 'media')).filter((n) => n !== 'out'), []);
    assert.deepEqual(fs.readdirSync(join(srv.dataDir, 'media', 'out')), []);
  } finally {
    B.end();
    await stopServer(srv);
  }
});

const rssKiB = (pid, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

test('a 100 MB document from Baileys 7 is stored byte-identical with bounded server memory', async () => {
  // ASan keeps freed blocks in a quarantine (256 MB by default), which the
  // TLS reads of a long download fill: a small one measures our memory
  const srv = await serve({ ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || 'detect_leaks=1'}:quarantine_size_mb=4` });
  const B = await peer(7, newPhone(), 'Big7');
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const big = crypto.randomBytes(100 * 1000 * 1000);
    const before = rssKiB(srv.proc.pid, 'VmRSS');
    const sent = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { document: big, mimetype: 'application/zip', fileName: 'big.zip' });
    const m = await until('the 100 MB document', async () => {
      const x = await inbound(srv, id, sent.key.id);
      const r = await req(srv, 'GET', `/api/v1/media/${x.id}`, { headers: { Range: 'bytes=0-0' } });
      return r.status === 206 ? x : null;
    }, 120000);
    const peak = rssKiB(srv.proc.pid, 'VmHWM');
    // the whole file never sits in our memory: the peak grew far less than 100 MB
    assert.ok(peak - before < 40 * 1024, `peak RSS grew by ${peak - before} KiB (before ${before} KiB)`);
    if (process.env.MEDIA_DEBUG) console.log(`peak RSS growth ${peak - before} KiB`);
    const file = join(srv.dataDir, 'media', `${m.id}.zip`);
    assert.equal(fs.statSync(file).size, big.length);
    assert.equal(sha(fs.readFileSync(file)), sha(big));
    const tail = await get(srv, m.content.mediaUrl, { Range: `bytes=${big.length - 1000}-` });
    assert.equal(tail.status, 206);
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(big.subarray(big.length - 1000)));
  } finally {
    B.end();
    await stopServer(srv);
  }
});

test('a file the disk cannot take fails its one message and keeps nothing; the server goes on storing the next one', async () => {
  // The server runs with a 20 MB limit per file (RLIMIT_FSIZE, SIGXFSZ
  // ignored: writes past it fail with EFBIG as a full disk fails them with
  // ENOSPC); its database stays far below that.
  const dir = tempDir();
  const wrap = join(dir, 'yesapp-fsize');
  fs.writeFileSync(wrap, `#!/bin/sh\ntrap '' XFSZ\nexec prlimit --fsize=20000000 -- ${JSON.stringify(resolve(BIN))} "$@"\n`, { mode: 0o755 });
  const srv = await startServer({ bin: wrap, env: { WA_WS_URL: sim.wsUrl, WA_ROOT_KEY: root, WA_CA_FILE: caFile, API_KEY: KEY, RATE_LIMIT_MESSAGES: '0' } });
  srv.key = KEY;
  const B = await peer(7, newPhone(), 'Full7');
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const big = rnd('%PDF-1.7\n', 25 * 1000 * 1000);
    const sent = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { document: big, mimetype: 'application/pdf', fileName: 'big.pdf' });
    const m = await settled(srv, id, sent.key.id);
    assert.equal(m.status, 'failed', JSON.stringify(m));
    assert.ok(['media: disk full', 'media: write error'].includes(m.reason), m.reason);
    assert.deepEqual(fs.readdirSync(join(srv.dataDir, 'media')).filter((f) => f.startsWith(m.id) || f.includes(`${m.id}.tmp`)), [], 'no file or temp file kept');
    const r = await get(srv, m.content.mediaUrl);
    assert.notEqual(r.status, 200);
    await r.arrayBuffer();
    // the server and the session go on: a small document lands byte-identical
    const small = rnd('%PDF-1.7\n', 50000);
    const sent2 = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { document: small, mimetype: 'application/pdf', fileName: 'small.pdf' });
    const m2 = await settled(srv, id, sent2.key.id);
    assert.equal(m2.status, 'received', JSON.stringify(m2));
    const g = await get(srv, m2.content.mediaUrl);
    assert.equal(g.status, 200);
    assert.equal(sha(Buffer.from(await g.arrayBuffer())), sha(small));
  } finally {
    B.end();
    await stopServer(srv);
    removeDir(dir);
  }
});

test('a media host down for a while: the download is retried, survives kill -9 while pending, and lands after the restart', async () => {
  const dataDir = tempDir();
  let srv = await serve({}, dataDir);
  const B = await peer(6, newPhone(), 'Down6');
  try {
    const us = newPhone();
    const id = await link(srv, us);
    assert.equal((await sim.api('POST', '/sim/media/tamper', { mode: 'unavailable', count: 1000 })).status, 200);
    const doc = rnd('%PDF-1.7\n', 70000);
    const sent = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { document: doc, mimetype: 'application/pdf', fileName: 'later.pdf' });
    const m = await inbound(srv, id, sent.key.id);
    await until('a retry scheduled', async () => srv.logs.filter((l) => l.message === 'media download failed for now: retried' && l.messageId === m.id).length >= 2).catch((e) => { console.log(JSON.stringify(srv.logs.filter((l) => /media/.test(l.message)))); throw e; });
    const r = await req(srv, 'GET', m.content.mediaUrl);
    assertError(r, 404, 'MEDIA_NOT_FOUND');
    assert.equal(r.body.details.state, 'pending', 'a host that is down does not fail the message');
    assert.equal((await inbound(srv, id, sent.key.id)).status, 'received');
    srv.proc.kill('SIGKILL');
    await srv.exited;
    assert.equal((await sim.api('POST', '/sim/media/tamper', { mode: 'off' })).status, 200);
    srv = await serve({}, dataDir);
    const got = await until('the download after the restart', async () => {
      const x = await get(srv, m.content.mediaUrl);
      return x.status === 200 ? Buffer.from(await x.arrayBuffer()) : (await x.arrayBuffer(), null);
    });
    assert.equal(sha(got), sha(doc));
    assert.ok(srv.logs.some((l) => l.message === 'media: downloads resumed'), 'resumed from the pending row');
    assert.ok(!fs.readdirSync(join(dataDir, 'media')).some((n) => n.endsWith('.tmp')), 'no partial file left');
  } finally {
    B.end();
    await stopServer(srv, { removeData: true });
  }
});

test('RETENTION_DAYS: an old media message goes with its file, a recent one stays', async () => {
  const dataDir = tempDir();
  let srv = await serve({}, dataDir);
  const B = await peer(6, newPhone(), 'Old6');
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const to = `${us}@s.whatsapp.net`;
    const old = await settled(srv, id, (await B.sock.sendMessage(to, { image: rnd('\x89PNG\r\n\x1a\n', 3000), mimetype: 'image/png' })).key.id);
    const recent = await settled(srv, id, (await B.sock.sendMessage(to, { image: rnd('\x89PNG\r\n\x1a\n', 3000), mimetype: 'image/png' })).key.id);
    const file = (m) => join(dataDir, 'media', `${m.id}.png`);
    assert.ok(fs.existsSync(file(old)) && fs.existsSync(file(recent)));
    await stopServer(srv, { removeData: false });
    const db = new Database(join(dataDir, 'db.sqlite'));
    db.prepare('UPDATE messages SET timestamp = ? WHERE id = ?').run(Date.now() - 3 * 86400000, old.id);
    db.close();
    srv = await serve({ RETENTION_DAYS: '2' }, dataDir);
    assert.ok(!fs.existsSync(file(old)), 'the old message\'s file is gone');
    assertError(await req(srv, 'GET', old.content.mediaUrl), 404, 'MEDIA_NOT_FOUND');
    assert.ok(fs.existsSync(file(recent)), 'the recent one stays');
    assert.equal((await get(srv, recent.content.mediaUrl)).status, 200);
  } finally {
    B.end();
    await stopServer(srv, { removeData: true });
  }
});

test('per-session media settings: autoDownload off or over a kind\'s cap -> the row is skipped with its reason; others download; persisted', async () => {
  const dataDir = tempDir();
  let srv = await serve({}, dataDir);
  const B = await peer(7, newPhone(), 'Pref7');
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const to = `${us}@s.whatsapp.net`;
    const path = `/api/v1/sessions/${id}/media-settings`;
    const all = { image: null, video: null, audio: null, document: null, sticker: null };
    assert.deepEqual((await req(srv, 'GET', path)).body, { autoDownload: true, maxBytes: all });
    for (const [body, fieldName] of [
      [{ autoDownload: 'no' }, 'autoDownload'], [{ maxBytes: { gif: 1 } }, 'gif'], [{ maxBytes: { image: -1 } }, 'maxBytes.image'],
      [{ maxBytes: { sticker: 2 << 20 } }, 'maxBytes.sticker'], [{ maxBytes: { video: 1.5 } }, 'maxBytes.video'], [{ maxBytes: 3 }, 'maxBytes'],
    ]) {
      const r = await req(srv, 'PUT', path, { body });
      assertError(r, 400, 'VALIDATION_ERROR');
      assert.equal(r.body.details.field, fieldName, JSON.stringify(body));
    }
    assertError(await req(srv, 'PUT', path, { body: { other: 1 } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'GET', `/api/v1/sessions/${crypto.randomUUID()}/media-settings`), 404, 'SESSION_NOT_FOUND');
    // off: an image is not downloaded, GET media says why
    let r = await req(srv, 'PUT', path, { body: { autoDownload: false } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { autoDownload: false, maxBytes: all });
    const skipped = async (waId, reason) => until(`skipped ${waId}`, async () => {
      const m = await inbound(srv, id, waId);
      const g = await req(srv, 'GET', m.content.mediaUrl);
      if (g.status !== 404 || g.body.details.state !== 'skipped') return null;
      assertError(g, 404, 'MEDIA_NOT_FOUND');
      assert.equal(g.body.details.reason, reason);
      return m;
    });
    await skipped((await B.sock.sendMessage(to, { image: rnd('\x89PNG\r\n\x1a\n', 3000), mimetype: 'image/png' })).key.id, 'autoDownload is off for this session');
    // on, images capped at 2000 bytes: a 3000-byte image skipped, a small one and a document downloaded
    r = await req(srv, 'PUT', path, { body: { autoDownload: true, maxBytes: { image: 2000 } } });
    assert.deepEqual(r.body, { autoDownload: true, maxBytes: { ...all, image: 2000 } });
    await skipped((await B.sock.sendMessage(to, { image: rnd('\x89PNG\r\n\x1a\n', 3000), mimetype: 'image/png' })).key.id, 'over the session\'s download size cap');
    const small = rnd('\x89PNG\r\n\x1a\n', 1000);
    const ok = await settled(srv, id, (await B.sock.sendMessage(to, { image: small, mimetype: 'image/png' })).key.id);
    assert.equal(sha(Buffer.from(await (await get(srv, ok.content.mediaUrl)).arrayBuffer())), sha(small));
    const doc = rnd('%PDF-1.7\n', 5000);
    const d = await settled(srv, id, (await B.sock.sendMessage(to, { document: doc, mimetype: 'application/pdf', fileName: 'd.pdf' })).key.id);
    assert.equal(sha(Buffer.from(await (await get(srv, d.content.mediaUrl)).arrayBuffer())), sha(doc));
    // a partial PUT keeps the rest; the settings survive a restart
    r = await req(srv, 'PUT', path, { body: { maxBytes: { video: 1234 } } });
    assert.deepEqual(r.body, { autoDownload: true, maxBytes: { ...all, image: 2000, video: 1234 } });
    await stopServer(srv, { removeData: false });
    srv = await serve({}, dataDir);
    assert.deepEqual((await req(srv, 'GET', path)).body, { autoDownload: true, maxBytes: { ...all, image: 2000, video: 1234 } });
  } finally {
    B.end();
    await stopServer(srv, { removeData: true });
  }
});

test('POST .../messages/{id}/download: a skipped or failed media message is fetched on demand (202, then stored byte-identical), 200 once stored, 409/404 when there is nothing to fetch', async () => {
  const dataDir = tempDir();
  let srv = await serve({}, dataDir);
  const B = await peer(7, newPhone(), 'Demand7');
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const to = `${us}@s.whatsapp.net`;
    const dl = (mid) => req(srv, 'POST', `/api/v1/sessions/${id}/messages/${mid}/download`);
    const stored = (m) => until(`${m.id} stored`, async () => {
      const g = await get(srv, m.content.mediaUrl);
      if (g.status !== 200) { await g.arrayBuffer(); return null; }
      return Buffer.from(await g.arrayBuffer());
    });
    // autoDownload off: the image is skipped; on demand it downloads anyway
    assert.equal((await req(srv, 'PUT', `/api/v1/sessions/${id}/media-settings`, { body: { autoDownload: false } })).status, 200);
    const img = rnd('\x89PNG\r\n\x1a\n', 3000);
    const m = await inbound(srv, id, (await B.sock.sendMessage(to, { image: img, mimetype: 'image/png' })).key.id);
    await until('skipped', async () => (await req(srv, 'GET', m.content.mediaUrl)).body?.details?.state === 'skipped');
    let r = await dl(m.id);
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.body, { messageId: m.id, state: 'pending', mediaUrl: m.content.mediaUrl });
    assert.equal(sha(await stored(m)), sha(img));
    const ev = await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=message.media&limit=100`);
    assert.deepEqual(ev.body.data.filter((e) => e.messageId === m.id).map((e) => e.status), ['received', 'received'], 'skipped, then stored');
    r = await dl(m.id);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { messageId: m.id, state: 'done', mediaUrl: m.content.mediaUrl });
    // over a cap of the session's: skipped, fetched on demand
    assert.equal((await req(srv, 'PUT', `/api/v1/sessions/${id}/media-settings`, { body: { autoDownload: true, maxBytes: { document: 1000 } } })).status, 200);
    const doc = rnd('%PDF-1.7\n', 5000);
    const d = await inbound(srv, id, (await B.sock.sendMessage(to, { document: doc, mimetype: 'application/pdf', fileName: 'big.pdf' })).key.id);
    await until('skipped', async () => (await req(srv, 'GET', d.content.mediaUrl)).body?.details?.reason === 'over the session\'s download size cap');
    assert.equal((await dl(d.id)).status, 202);
    assert.equal(sha(await stored(d)), sha(doc));
    // a failed download (the row and the message marked so while the server
    // was down, the blob still on the host) and a stored file gone missing:
    // both fetched again, the message back to received
    await stopServer(srv, { removeData: false });
    const db = new Database(join(dataDir, 'db.sqlite'));
    db.prepare("UPDATE media SET state = 'failed', path = NULL, reason = 'download failed: HTTP 404' WHERE message_id = ?").run(m.id);
    db.prepare("UPDATE messages SET status = 'failed', reason = 'media: download failed: HTTP 404' WHERE id = ?").run(m.id);
    db.close();
    for (const n of fs.readdirSync(join(dataDir, 'media'))) if (n.startsWith(d.id) || n.startsWith(m.id)) fs.unlinkSync(join(dataDir, 'media', n));
    srv = await serve({}, dataDir);
    assert.equal((await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${m.id}`)).body.status, 'failed');
    assert.equal((await dl(m.id)).status, 202);
    const back = await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${m.id}`);
    assert.equal(back.body.status, 'received');
    assert.equal(back.body.reason ?? null, null);
    assert.equal(sha(await stored(m)), sha(img));
    assert.equal((await dl(d.id)).status, 202, 'a done row whose file is gone');
    assert.equal(sha(await stored(d)), sha(doc));
    // nothing to fetch: a text, media we sent; no such message or session
    const text = await inbound(srv, id, (await B.sock.sendMessage(to, { text: 'no media' })).key.id);
    r = await dl(text.id);
    assertError(r, 409, 'NOTHING_TO_DOWNLOAD');
    assert.equal(r.body.details.messageId, text.id);
    const sent = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: B.phone, image: { base64: img.toString('base64'), mimetype: 'image/png' } } });
    assert.equal(sent.status, 202, sent.text);
    assertError(await dl(sent.body.id), 409, 'NOTHING_TO_DOWNLOAD');
    assertError(await dl(crypto.randomUUID()), 404, 'MESSAGE_NOT_FOUND');
    assertError(await dl('not-a-uuid'), 404, 'MESSAGE_NOT_FOUND');
    assertError(await req(srv, 'POST', `/api/v1/sessions/${crypto.randomUUID()}/messages/${m.id}/download`), 404, 'SESSION_NOT_FOUND');
  } finally {
    B.end();
    await stopServer(srv, { removeData: true });
  }
});
