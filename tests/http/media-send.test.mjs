// Sending media (issue 14, docs/media.md "Sending"): a real `yesapp serve`
// linked to `yesapp sim`, unmodified Baileys 6 and 7 sockets as the
// recipients. YesApp sends an image, a document, a voice note, a video and a
// sticker (base64, and one image by URL from a local HTTP server): it
// encrypts and uploads them to the simulator's HTTPS media host through the
// media_conn the session asked for; each Baileys peer receives the message
// and its own downloadMediaMessage decrypts byte-identical files (SHA-256).
// Bad inputs (bad base64, a mimetype the bytes contradict, too big, a URL
// that is not http(s)) get coded 4xx before anything is queued; a URL that
// cannot be fetched fails the message with a reason; a kill -9 right after
// the 202 loses nothing: the message is delivered after the restart (and
// sources of deleted sessions and partial writes are removed at start).
// Real media (made by tests/tools/wa-mkmedia: libjpeg, libpng, libwebp,
// libopus, hand-built MP4 boxes) arrive with what a recipient shows before
// downloading: image width/height and a small jpegThumbnail, sticker
// width/height, video width/height/seconds, audio seconds, a voice note's
// 64-byte waveform; bytes that do not decode go without them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { stopServer, req, assertError, tempDir, removeDir, BUILD } from './lib.mjs';
import { messaging } from './msg-lib.mjs';
import { startSim, loadBaileys, mediaOptions } from '../interop/sim-lib.mjs';

let sim, info, caFile, caDir, files, web, webUrl;
const libs = {};

const rnd = (prefix, n) => Buffer.concat([Buffer.from(prefix, 'binary'), crypto.randomBytes(n)]);
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
// a real file from tests/tools/wa-mkmedia
const mkmedia = (...args) => {
  const dir = tempDir();
  try {
    execFileSync(join(BUILD, 'tools/wa-mkmedia'), [...args.map(String), join(dir, 'f')]);
    return fs.readFileSync(join(dir, 'f'));
  } finally { removeDir(dir); }
};
// a JPEG's size from its SOF marker
function jpegSize(b) {
  assert.equal(b[0], 0xff); assert.equal(b[1], 0xd8);
  for (let i = 2; i + 9 < b.length;) {
    assert.equal(b[i], 0xff, 'a JPEG marker');
    const mk = b[i + 1], len = b.readUInt16BE(i + 2);
    if (mk >= 0xc0 && mk <= 0xc3) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  assert.fail('no SOF in the thumbnail');
}

before(async () => {
  sim = await startSim();
  info = (await sim.api('GET', '/sim/info')).json;
  caDir = tempDir();
  caFile = join(caDir, 'ca.pem');
  fs.writeFileSync(caFile, info.caCert);
  h = await messaging(sim, { key: 'media-send-key-0123456789', prefix: '1558' });
  libs[6] = h.libs[6];
  libs[7] = await loadBaileys(7);
  h.libs[7] = libs[7];
  // a local web server for media given by URL
  files = new Map();
  web = http.createServer((rq, rs) => {
    const f = files.get(rq.url);
    if (!f) { rs.writeHead(404); rs.end('no'); return; }
    rs.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': f.length });
    rs.end(f);
  });
  await new Promise((ok) => web.listen(0, '127.0.0.1', ok));
  webUrl = `http://127.0.0.1:${web.address().port}`;
});
after(async () => { await sim.stop(); removeDir(caDir); await new Promise((ok) => web.close(ok)); });

let h; // msg-lib's helpers: serve, newPhone, until, link, peer
const serve = (env = {}, dataDir = undefined) => h.serve(dataDir, { WA_CA_FILE: caFile, MAX_BODY_BYTES: String(8 << 20), ...env });
const until = (...a) => h.until(...a);
const link = (srv, phone) => h.link(srv, phone);
const peer = (v, phone, name) => h.peer(phone, name, v);
const newPhone = () => h.newPhone();

const received = (B, waId) => B.until(() => B.upserts.find((u) => u.key.id === waId && u.message), `peer gets ${waId}`);
const status = (srv, id, mid, want) => until(`message ${mid} ${want}`, async () => {
  const r = await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${mid}`);
  const ok = want === 'failed' ? ['failed'] : ['sent', 'delivered', 'read']; // sent, or further already
  if (r.body && want !== 'failed' && r.body.status === 'failed') assert.fail(r.text);
  return r.body && ok.includes(r.body.status) ? r.body : null;
});

const media = () => [
  { kind: 'image', bytes: rnd('\x89PNG\r\n\x1a\n', 40000), mimetype: 'image/png', caption: 'a picture ✓' },
  { kind: 'document', bytes: rnd('%PDF-1.7\n', 300000), filename: 'Bericht März 2026.pdf' },
  { kind: 'audio', bytes: rnd('OggS', 20000), ptt: true },
  { kind: 'video', bytes: rnd('\x00\x00\x00\x18ftypmp42', 120000), caption: 'clip' },
  { kind: 'sticker', bytes: rnd('RIFF\x10\x00\x00\x00WEBPVP8 ', 9000) },
];
const field = { image: 'imageMessage', document: 'documentMessage', audio: 'audioMessage', video: 'videoMessage', sticker: 'stickerMessage' };
const mime = { image: 'image/png', document: 'application/pdf', audio: 'audio/ogg; codecs=opus', video: 'video/mp4', sticker: 'image/webp' };

function sendBody(to, f) {
  const b = { to, [f.kind]: { base64: f.bytes.toString('base64') } };
  if (f.mimetype) b[f.kind].mimetype = f.mimetype;
  if (f.filename) b[f.kind].filename = f.filename;
  if (f.caption) b.caption = f.caption;
  if (f.ptt) b.ptt = true;
  return b;
}

async function assertDecrypts(v, B, waId, f) {
  const u = await received(B, waId);
  const m = u.message[field[f.kind]];
  assert.ok(m, `${f.kind}: ${JSON.stringify(Object.keys(u.message))}`);
  assert.equal(m.mimetype, f.expectMime || mime[f.kind], f.kind);
  assert.equal(Number(m.fileLength), f.bytes.length);
  assert.ok(m.directPath && m.url && m.mediaKey?.length === 32, f.kind);
  if (f.caption) assert.equal(m.caption, f.caption);
  if (f.filename) assert.equal(m.fileName, f.filename);
  if (f.ptt) assert.equal(m.ptt, true);
  const meta = f.meta || {};
  for (const k of ['width', 'height', 'seconds']) {
    if (meta[k] === undefined) assert.ok(!m[k], `${f.kind}: no ${k} (${m[k]})`);
    else assert.equal(m[k], meta[k], `${f.kind}: ${k}`);
  }
  if (meta.thumb) assert.deepEqual(jpegSize(Buffer.from(m.jpegThumbnail)), meta.thumb, `${f.kind}: thumbnail size`);
  else assert.ok(!m.jpegThumbnail?.length, `${f.kind}: no thumbnail`);
  if (meta.waveform) {
    const w = [...m.waveform];
    assert.equal(w.length, 64);
    assert.ok(w.every((x) => x >= 0 && x <= 100), `waveform values ${w}`);
    assert.equal(Math.max(...w), 100);
    assert.ok(w[4] < w[32] && w[32] < w[60], `a rising tone rises: ${w}`);
  } else assert.ok(!m.waveform?.length, `${f.kind}: no waveform`);
  const got = await libs[v].downloadMediaMessage({ key: u.key, message: u.message }, 'buffer', await mediaOptions(libs[v], info.caCert));
  assert.equal(sha(got), sha(f.bytes), `${f.kind}: Baileys ${v} decrypts the same bytes`);
}

const realMedia = () => [
  { kind: 'image', bytes: mkmedia('jpeg', 640, 480), expectMime: 'image/jpeg', caption: 'a photo', meta: { width: 640, height: 480, thumb: { width: 64, height: 48 } } },
  // a phone photo stored landscape, shown portrait (Exif Orientation 6)
  { kind: 'image', bytes: mkmedia('jpeg', 640, 480, 6), expectMime: 'image/jpeg', meta: { width: 480, height: 640, thumb: { width: 48, height: 64 } } },
  { kind: 'image', bytes: mkmedia('png', 300, 600), meta: { width: 300, height: 600, thumb: { width: 32, height: 64 } } },
  { kind: 'sticker', bytes: mkmedia('webp', 512, 512), meta: { width: 512, height: 512 } },
  { kind: 'video', bytes: mkmedia('mp4', 1280, 720, 12.6), meta: { width: 1280, height: 720, seconds: 13 } },
  { kind: 'audio', bytes: mkmedia('opus', 150), ptt: true, meta: { seconds: 3, waveform: true } },
  { kind: 'audio', bytes: mkmedia('opus', 250), expectMime: 'audio/ogg', meta: { seconds: 5 } },
];

for (const v of [6, 7]) test(`real media: Baileys ${v} sees width/height, jpegThumbnail, seconds, the voice note's waveform`, async () => {
  const srv = await serve();
  const them = newPhone();
  const B = await peer(v, them, `R${v}`);
  try {
    const id = await link(srv, newPhone());
    const to = `${them}@s.whatsapp.net`;
    for (const f of realMedia()) {
      const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: sendBody(to, f) });
      assert.equal(r.status, 202, r.text);
      await assertDecrypts(v, B, r.body.waId, f);
    }
  } finally {
    B.end();
    await stopServer(srv);
  }
});

for (const v of [6, 7]) test(`YesApp sends image, document, voice note, video, sticker (base64) and an image by URL -> Baileys ${v} decrypts byte-identical files`, async () => {
  const srv = await serve();
  const them = newPhone();
  const B = await peer(v, them, `S${v}`);
  try {
    const id = await link(srv, newPhone());
    const to = `${them}@s.whatsapp.net`;
    for (const f of media()) {
      const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: sendBody(to, f) });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.type, f.kind);
      assert.equal(r.body.status, 'pending');
      assert.equal(r.body.content.media.mimetype, mime[f.kind]);
      assert.equal(r.body.content.media.size, f.bytes.length);
      await assertDecrypts(v, B, r.body.waId, f);
      await status(srv, id, r.body.id, 'sent');
    }
    // the source files are gone once the messages are acked
    await until('sources removed', () => fs.readdirSync(join(srv.dataDir, 'media', 'out')).length === 0);
    // by URL: fetched by the server, mimetype sniffed from the bytes
    const jpeg = rnd('\xff\xd8\xff\xe0\x00\x10JFIF\x00', 50000);
    files.set('/pic.jpg', jpeg);
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to, image: { url: `${webUrl}/pic.jpg` }, caption: 'from a URL' } });
    assert.equal(r.status, 202, r.text);
    const u = await received(B, r.body.waId);
    assert.equal(u.message.imageMessage.mimetype, 'image/jpeg');
    assert.equal(u.message.imageMessage.caption, 'from a URL');
    const got = await libs[v].downloadMediaMessage({ key: u.key, message: u.message }, 'buffer', await mediaOptions(libs[v], info.caCert));
    assert.equal(sha(got), sha(jpeg));
    // a URL that answers 404: the message fails with the reason
    const nf = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to, document: { url: `${webUrl}/missing.pdf` } } });
    assert.equal(nf.status, 202, nf.text);
    const failed = await status(srv, id, nf.body.id, 'failed');
    assert.equal(failed.reason, 'media: fetch failed: HTTP 404');
    // bytes that are not what the URL's mimetype says: failed too
    files.set('/fake.png', rnd('%PDF-1.4\n', 100));
    const fk = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to, image: { url: `${webUrl}/fake.png`, mimetype: 'image/png' } } });
    assert.equal(fk.status, 202, fk.text);
    assert.match((await status(srv, id, fk.body.id, 'failed')).reason, /^media: mimetype image\/png contradicts the file's bytes \(application\/pdf\)$/);
  } finally {
    B.end();
    await stopServer(srv);
  }
});

test('bad media input gets a coded 4xx and queues nothing', async () => {
  const srv = await serve();
  try {
    const id = await link(srv, newPhone());
    const to = '15550001111';
    const send = (body) => req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to, ...body } });
    const png = rnd('\x89PNG\r\n\x1a\n', 100).toString('base64');
    for (const [body, code, status, fieldName] of [
      [{ image: { base64: 'not base64!' } }, 'INVALID_MEDIA', 400, 'image.base64'],
      [{ image: { base64: 'QUJD-_' } }, 'INVALID_MEDIA', 400, 'image.base64'],
      [{ image: { base64: png, mimetype: 'image/jpeg' } }, 'INVALID_MEDIA', 400, 'image.mimetype'],
      [{ video: { base64: png } }, 'INVALID_MEDIA', 400, 'video.base64'],
      [{ sticker: { base64: png } }, 'INVALID_MEDIA', 400, 'sticker.base64'],
      [{ image: { base64: crypto.randomBytes(300).toString('base64') } }, 'INVALID_MEDIA', 400, 'image.base64'],
      [{ sticker: { base64: rnd('RIFF\x10\x00\x00\x00WEBPVP8 ', 1100000).toString('base64') } }, 'MEDIA_TOO_LARGE', 413, null],
      [{ image: { url: 'ftp://127.0.0.1/x.png' } }, 'INVALID_MEDIA', 400, 'image.url'],
      [{ document: { url: 'file:///etc/passwd' } }, 'INVALID_MEDIA', 400, 'document.url'],
      [{ image: { url: 'http://127.0.0.1/a b.png' } }, 'INVALID_MEDIA', 400, 'image.url'],
      [{ image: { url: `${webUrl}/x.png`, base64: png } }, 'INVALID_MEDIA', 400, 'image'],
      [{ image: {} }, 'INVALID_MEDIA', 400, 'image'],
      [{ image: { url: `${webUrl}/x.png`, mimetype: 'video/mp4' } }, 'INVALID_MEDIA', 400, 'image.mimetype'],
      [{ image: { base64: png, extra: 1 } }, 'VALIDATION_ERROR', 400, null],
      [{ image: 'x' }, 'VALIDATION_ERROR', 400, null],
      [{ image: { base64: png }, text: 'both' }, 'VALIDATION_ERROR', 400, null],
      [{ image: { base64: png }, video: { base64: png } }, 'VALIDATION_ERROR', 400, null],
      [{ image: { base64: png }, ptt: true }, 'VALIDATION_ERROR', 400, null],
      [{ audio: { base64: rnd('OggS', 10).toString('base64') }, caption: 'no' }, 'VALIDATION_ERROR', 400, null],
      [{ text: 'hi', caption: 'no' }, 'VALIDATION_ERROR', 400, null],
      // media is one kind of message: not beside a chat kind (issue 15's), not a reply
      [{ image: { base64: png }, location: { latitude: 1, longitude: 2 } }, 'VALIDATION_ERROR', 400, 'location'],
      [{ document: { base64: png }, contacts: [{ name: 'A', phone: '+15550002222' }] }, 'VALIDATION_ERROR', 400, 'contacts'],
      [{ image: { base64: png }, poll: { name: 'Q', options: ['a', 'b'] } }, 'VALIDATION_ERROR', 400, 'poll'],
      [{ image: { base64: png }, quotedMessageId: 'x' }, 'VALIDATION_ERROR', 400, 'quotedMessageId'],
      [{ location: { latitude: 1, longitude: 2 }, caption: 'no' }, 'VALIDATION_ERROR', 400, 'caption'],
      [{ poll: { name: 'Q', options: ['a', 'b'] }, ptt: true }, 'VALIDATION_ERROR', 400, 'ptt'],
    ]) {
      const r = await send(body);
      assertError(r, status, code);
      if (fieldName) assert.equal(r.body.details.field, fieldName, JSON.stringify(body).slice(0, 200));
    }
    const list = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`);
    assert.equal(list.body.data.length, 0, 'nothing was queued');
    assert.deepEqual(fs.readdirSync(join(srv.dataDir, 'media', 'out')), []);
  } finally {
    await stopServer(srv);
  }
});

test('kill -9 right after the 202: the media message is delivered after the restart', async () => {
  const dataDir = tempDir();
  let srv = await serve({}, dataDir);
  const them = newPhone();
  const B = await peer(7, them, 'Kill7');
  try {
    const id = await link(srv, newPhone());
    const f = { kind: 'document', bytes: rnd('%PDF-1.7\n', 200000), filename: 'after-crash.pdf' };
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: sendBody(`${them}@s.whatsapp.net`, f) });
    assert.equal(r.status, 202, r.text);
    srv.proc.kill('SIGKILL');
    await srv.exited;
    // leftovers the restart cleans: a source of a session that is gone, a partial write
    const out = join(dataDir, 'media', 'out');
    const stale = `${crypto.randomUUID()}.3EB0000000000000000000.bin`, partial = `${id}.3EB0FFFFFFFFFFFFFFFFFF.bin.tmp`;
    fs.writeFileSync(join(out, stale), 'x');
    fs.writeFileSync(join(out, partial), 'x');
    srv = await serve({}, dataDir);
    await assertDecrypts(7, B, r.body.waId, f);
    await status(srv, id, r.body.id, 'sent');
    await until('leftovers removed', () => fs.readdirSync(out).length === 0);
  } finally {
    B.end();
    await stopServer(srv, { removeData: true });
  }
});
