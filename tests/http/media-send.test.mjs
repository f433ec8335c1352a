// Sending media (issue 14, docs/media.md "Sending"): a real `yesapp serve`
// linked to `yesapp sim`, unmodified Baileys 6 and 7 sockets as the
// recipients. YesApp sends an image, a document, a voice note, a video and a
// sticker (base64, and one image by URL from a local HTTP server): it
// encrypts and uploads them to the simulator's HTTPS media host through the
// media_conn the session asked for; each Baileys peer receives the message
// and its own downloadMediaMessage decrypts byte-identical files (SHA-256).
// Bad inputs (bad base64, a mimetype the bytes contradict, too big, a URL
// that is not http(s), or one that cannot be fetched: the answer waits for
// the fetch) get coded 4xx before anything is queued; a kill -9 right after
// the 202 loses nothing: the message is delivered after the restart (and
// sources of deleted sessions and partial writes are removed at start).
// Real media (made by tests/tools/wa-mkmedia: libjpeg, libpng, libwebp,
// libopus, hand-built MP4 boxes) arrive with what a recipient shows before
// downloading: image width/height and a small jpegThumbnail, sticker
// width/height, video width/height/seconds and (real H.264 made by
// openh264's encoder) a jpegThumbnail of its first keyframe, audio seconds, a voice note's
// 64-byte waveform; bytes that do not decode go without them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { startServer, stopServer, req, assertError, tempDir, removeDir } from './lib.mjs';
import { messaging, mkmedia, jpegSize, jpegPixels, fileServer, loopbackName } from './msg-lib.mjs';
import { startSim, loadBaileys, mediaOptions } from '../interop/sim-lib.mjs';

let sim, info, caFile, caDir, files, web, webUrl;
const libs = {};

const rnd = (prefix, n) => Buffer.concat([Buffer.from(prefix, 'binary'), crypto.randomBytes(n)]);
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

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
  ({ web, url: webUrl } = await fileServer(files));
});
after(async () => { await sim.stop(); removeDir(caDir); await new Promise((ok) => web.close(ok)); });

let h; // msg-lib's helpers: serve, newPhone, until, link, peer
// the URL fetches of these tests come from 127.0.0.1: allowed
const serve = (env = {}, dataDir = undefined) => h.serve(dataDir, { WA_CA_FILE: caFile, MAX_BODY_BYTES: String(8 << 20), MEDIA_URL_ALLOW_PRIVATE: 'true', ...env });
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
  assert.equal(m.mimetype, f.expectMime || f.wantMime || mime[f.kind], f.kind);
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
  if (meta.halves) { // a video's first frame: red then blue, side by side or (turned) one above the other
    const j = jpegPixels(Buffer.from(m.jpegThumbnail));
    const [a, b] = meta.halves === 'across' ? [j.px(1, j.height >> 1), j.px(j.width - 2, j.height >> 1)]
      : [j.px(j.width >> 1, 1), j.px(j.width >> 1, j.height - 2)];
    const red = (c) => c[0] > 150 && c[2] < 110, blue = (c) => c[2] > 150 && c[0] < 110;
    assert.ok(red(a) && blue(b), `${f.kind}: the frame's colours in the thumbnail: ${a} then ${b}`);
  }
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
  // real H.264 (openh264's encoder, tests/tools/mkvideo.h): one keyframe after
  // a junk sample, left half red, right half blue; the thumbnail is that
  // frame (the sample tables followed, decoded), shown as the track says
  { kind: 'video', bytes: mkmedia('h264', 352, 200, 0), caption: 'a clip', meta: { width: 352, height: 200, seconds: 1, thumb: { width: 64, height: 36 }, halves: 'across' } },
  { kind: 'video', bytes: mkmedia('h264', 320, 240, 90), meta: { width: 240, height: 320, seconds: 1, thumb: { width: 48, height: 64 }, halves: 'down' } },
  { kind: 'audio', bytes: mkmedia('opus', 150), ptt: true, meta: { seconds: 3, waveform: true } },
  { kind: 'audio', bytes: mkmedia('opus', 250), expectMime: 'audio/ogg', meta: { seconds: 5 } },
  // MP3 (hand-built silent frames, ID3v2 and ID3v1 tags): 417 frames of 24 ms
  // at a constant 128 kbps; a VBR file whose Xing / VBRI header counts 375 frames
  // after a 320 kbps first one (its bitrate alone would say 2 s, not 9)
  { kind: 'audio', bytes: mkmedia('mp3', 417, 9, 9, '-'), expectMime: 'audio/mpeg', meta: { seconds: 10 } },
  { kind: 'audio', bytes: mkmedia('mp3', 376, 14, 5, 'X'), expectMime: 'audio/mpeg', meta: { seconds: 9 } },
  { kind: 'audio', bytes: mkmedia('mp3', 376, 14, 5, 'V'), expectMime: 'audio/mpeg', meta: { seconds: 9 } },
];

for (const v of [6, 7]) test(`real media: Baileys ${v} sees width/height, jpegThumbnail (also of H.264 videos), seconds (also of MP3s), the voice note's waveform`, async () => {
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
// Sends each of media() with post(f), checks the 202 and that Baileys v decrypts it;
// the source files are gone once the messages are acked.
async function sendEach(v, B, srv, id, post) {
  for (const f of media()) {
    const r = await post(f);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.type, f.kind);
    assert.equal(r.body.status, 'pending');
    assert.equal(r.body.content.media.mimetype, mime[f.kind]);
    assert.equal(r.body.content.media.size, f.bytes.length);
    await assertDecrypts(v, B, r.body.waId, f);
    await status(srv, id, r.body.id, 'sent');
  }
  await until('sources removed', () => fs.readdirSync(join(srv.dataDir, 'media', 'out')).length === 0);
}

for (const v of [6, 7]) test(`YesApp sends image, document, voice note, video, sticker (base64) and an image by URL -> Baileys ${v} decrypts byte-identical files`, async () => {
  const srv = await serve();
  const them = newPhone();
  const B = await peer(v, them, `S${v}`);
  try {
    const id = await link(srv, newPhone());
    const to = `${them}@s.whatsapp.net`;
    await sendEach(v, B, srv, id, (f) => req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: sendBody(to, f) }));
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
    // a URL that answers 404: refused before anything is stored (422, the status in details)
    const count = async () => (await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`)).body.data.length;
    const stored = await count();
    const nf = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to, document: { url: `${webUrl}/missing.pdf` } } });
    assertError(nf, 422, 'MEDIA_FETCH_FAILED');
    assert.equal(nf.body.message, 'media: fetch failed: HTTP 404');
    assert.equal(nf.body.details.httpStatus, 404);
    assert.equal(nf.body.details.field, 'document.url');
    // bytes that are not what the URL's mimetype says: 400, nothing stored either
    files.set('/fake.png', rnd('%PDF-1.4\n', 100));
    const fk = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to, image: { url: `${webUrl}/fake.png`, mimetype: 'image/png' } } });
    assertError(fk, 400, 'INVALID_MEDIA');
    assert.match(fk.body.message, /^mimetype image\/png contradicts the file's bytes \(application\/pdf\)$/);
    assert.equal(await count(), stored, 'the refused URLs stored no message');
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
    files.set('/big.webp', rnd('RIFF\x10\x00\x00\x00WEBPVP8 ', 1100000)); // over a sticker's cap
    files.set('/notpic.bin', crypto.randomBytes(300));
    const closedPort = await new Promise((ok) => { const l = net.createServer().listen(0, '127.0.0.1', () => { const p = l.address().port; l.close(() => ok(p)); }); });
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
      // fetched before the answer (the request waits, deferred): refused, nothing stored
      [{ image: { url: `${webUrl}/nothing-here.png` } }, 'MEDIA_FETCH_FAILED', 422, 'image.url'],
      [{ image: { url: `http://127.0.0.1:${closedPort}/x.png` } }, 'MEDIA_FETCH_FAILED', 422, 'image.url'],
      [{ sticker: { url: `${webUrl}/big.webp` } }, 'MEDIA_TOO_LARGE', 413, null],
      [{ image: { url: `${webUrl}/notpic.bin` } }, 'INVALID_MEDIA', 400, 'image.url'],
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
      [{ audio: { base64: rnd('OggS', 10).toString('base64') }, ptt: 'yes' }, 'VALIDATION_ERROR', 400, 'ptt'], // was read after it was freed
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

// ---- POST .../messages/media: the same media as multipart/form-data ----

// The FormData a browser or Node client sends for f (fields as the JSON send's).
function uploadForm(to, f, { type = f.kind, partType } = {}) {
  const fd = new FormData();
  if (type) fd.append('type', type);
  fd.append('to', to);
  if (f.caption) fd.append('caption', f.caption);
  if (f.mimetype) fd.append('mimetype', f.mimetype);
  if (f.ptt) fd.append('ptt', 'true');
  fd.append('file', new Blob([f.bytes], partType ? { type: partType } : {}), f.filename || 'upload.bin');
  return fd;
}

const upload = (srv, id, body, headers = {}) => req(srv, 'POST', `/api/v1/sessions/${id}/messages/media`, { body, headers });

for (const v of [6, 7]) test(`multipart upload (Node fetch + FormData): each type -> Baileys ${v} decrypts byte-identical files`, async () => {
  const srv = await serve();
  const them = newPhone();
  const B = await peer(v, them, `U${v}`);
  try {
    const id = await link(srv, newPhone());
    const to = `${them}@s.whatsapp.net`;
    // without `type` but for a sticker and a document: the kind follows the mimetype
    await sendEach(v, B, srv, id, (f) => upload(srv, id, uploadForm(to, f, { type: f.kind === 'sticker' || f.kind === 'document' ? f.kind : undefined })));
  } finally {
    B.end();
    await stopServer(srv);
  }
});

test('multipart upload from curl -F and from Python: delivered byte-identical; the part\'s file name and type are used', async () => {
  const { spawnSync } = await import('node:child_process');
  const srv = await serve();
  const them = newPhone();
  const B = await peer(7, them, 'UC7');
  const dir = tempDir();
  try {
    const id = await link(srv, newPhone());
    const to = `${them}@s.whatsapp.net`;
    const url = `${srv.base}/api/v1/sessions/${id}/messages/media`;
    // curl: a PDF whose part says application/pdf, its file name from the part, no type field
    const pdf = { kind: 'document', bytes: rnd('%PDF-1.5\n', 700000), filename: 'from curl.pdf', caption: 'über curl' };
    fs.writeFileSync(join(dir, 'a.pdf'), pdf.bytes);
    const c = spawnSync('curl', ['-sS', '-H', `X-API-Key: ${srv.key}`, '-F', `to=${to}`, '-F', `caption=${pdf.caption}`,
      '-F', `file=@${join(dir, 'a.pdf')};type=application/pdf;filename=${pdf.filename}`, url], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    const cr = JSON.parse(c.stdout);
    assert.equal(cr.type, 'document', c.stdout);
    assert.equal(cr.content.media.fileName, pdf.filename);
    await assertDecrypts(7, B, cr.waId, pdf);
    // Python: requests when installed, else urllib with a body made by hand
    const jpeg = { kind: 'image', bytes: rnd('\xff\xd8\xff\xe0\x00\x10JFIF\x00', 90000), caption: 'from python', wantMime: 'image/jpeg' };
    fs.writeFileSync(join(dir, 'p.jpg'), jpeg.bytes);
    const py = `
import json, sys, uuid
url, key, to, path = sys.argv[1:5]
data = open(path, 'rb').read()
try:
    import requests
    r = requests.post(url, headers={'X-API-Key': key}, data={'to': to, 'caption': 'from python'},
                      files={'file': ('p.jpg', data, 'image/jpeg')})
    print(r.status_code); print(r.text)
except ImportError:
    import urllib.request
    b = uuid.uuid4().hex
    def part(name, value, extra=''):
        return (f'--{b}\\r\\nContent-Disposition: form-data; name="{name}"{extra}\\r\\n\\r\\n').encode() + value + b'\\r\\n'
    body = part('to', to.encode()) + part('caption', b'from python') + \\
        part('file', data, '; filename="p.jpg"\\r\\nContent-Type: image/jpeg') + f'--{b}--\\r\\n'.encode()
    q = urllib.request.Request(url, data=body, method='POST', headers={'X-API-Key': key, 'Content-Type': f'multipart/form-data; boundary={b}'})
    with urllib.request.urlopen(q) as r:
        print(r.status); print(r.read().decode())
`;
    const p = spawnSync('python3', ['-c', py, url, srv.key, to, join(dir, 'p.jpg')], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const [code, ...rest] = p.stdout.trim().split('\n');
    assert.equal(code, '202', p.stdout);
    const pr = JSON.parse(rest.join('\n'));
    assert.equal(pr.type, 'image');
    assert.equal(pr.content.media.mimetype, 'image/jpeg');
    await assertDecrypts(7, B, pr.waId, jpeg);
  } finally {
    B.end();
    removeDir(dir);
    await stopServer(srv);
  }
});

test('multipart upload: every malformed or refused body gets a coded 4xx and queues nothing, leaves no file', async () => {
  const srv = await serve();
  try {
    const id = await link(srv, newPhone());
    const to = '15550001111';
    const png = rnd('\x89PNG\r\n\x1a\n', 100);
    const form = (fields, file = png, opts = {}) => {
      const fd = new FormData();
      for (const [k, v] of fields) fd.append(k, v);
      if (file) fd.append('file', new Blob([file], opts), 'x.bin');
      return fd;
    };
    const B = 'b0undary42';
    const raw = (text, ct = `multipart/form-data; boundary=${B}`) => upload(srv, id, Buffer.from(text, 'latin1'), { 'Content-Type': ct });
    const whole = `--${B}\r\nContent-Disposition: form-data; name="to"\r\n\r\n${to}\r\n--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n${png.toString('latin1')}\r\n--${B}--\r\n`;
    for (const [what, send, status, code, fieldName] of [
      ['JSON body', () => upload(srv, id, JSON.stringify({ to }), { 'Content-Type': 'application/json' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['urlencoded', () => upload(srv, id, 'to=1', { 'Content-Type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['no boundary', () => raw(whole, 'multipart/form-data'), 400, 'MALFORMED_MULTIPART'],
      ['cut off before the closing boundary', () => raw(whole.slice(0, whole.length - 12)), 400, 'MALFORMED_MULTIPART'],
      ['cut off inside part headers', () => raw(`--${B}\r\nContent-Disposition: form-da`), 400, 'MALFORMED_MULTIPART'],
      ['garbage after a boundary', () => raw(`--${B}\r\nContent-Disposition: form-data; name="to"\r\n\r\n${to}\r\n--${B}xx garbage`), 400, 'MALFORMED_MULTIPART'],
      ['no parts at all', () => raw('just some text'), 400, 'VALIDATION_ERROR', 'file'],
      ['no file', () => upload(srv, id, form([['to', to]], null)), 400, 'VALIDATION_ERROR', 'file'],
      ['empty file', () => upload(srv, id, form([['to', to]], Buffer.alloc(0))), 400, 'VALIDATION_ERROR', 'file'],
      ['no to', () => upload(srv, id, form([])), 400, 'VALIDATION_ERROR', 'to'],
      ['bad to', () => upload(srv, id, form([['to', 'nobody']])), 400, 'INVALID_PHONE_NUMBER', 'to'],
      ['unknown field', () => upload(srv, id, form([['to', to], ['extra', '1']])), 400, 'VALIDATION_ERROR', 'extra'],
      ['a field twice', () => upload(srv, id, form([['to', to], ['to', to]])), 400, 'VALIDATION_ERROR', 'to'],
      ['two files', () => { const fd = form([['to', to]]); fd.append('file', new Blob([png]), 'y.png'); return upload(srv, id, fd); }, 400, 'VALIDATION_ERROR', 'file'],
      ['bad type', () => upload(srv, id, form([['to', to], ['type', 'gif']])), 400, 'VALIDATION_ERROR', 'type'],
      ['ptt not a boolean', () => upload(srv, id, form([['to', to], ['type', 'audio'], ['ptt', 'yes']], rnd('OggS', 10))), 400, 'VALIDATION_ERROR', 'ptt'],
      ['ptt on an image', () => upload(srv, id, form([['to', to], ['ptt', 'true']])), 400, 'VALIDATION_ERROR', 'ptt'],
      ['caption on a sticker', () => upload(srv, id, form([['to', to], ['type', 'sticker'], ['caption', 'x']], rnd('RIFF\x10\x00\x00\x00WEBPVP8 ', 50))), 400, 'VALIDATION_ERROR', 'caption'],
      ['a reply', () => upload(srv, id, form([['to', to], ['quotedMessageId', 'x']])), 400, 'VALIDATION_ERROR', 'quotedMessageId'],
      ['caption not UTF-8', () => raw(`--${B}\r\nContent-Disposition: form-data; name="caption"\r\n\r\n\xff\xfe\r\n` + whole.slice(2), `multipart/form-data; boundary=${B}`), 400, 'VALIDATION_ERROR', 'caption'],
      ['mimetype field the bytes contradict', () => upload(srv, id, form([['to', to], ['mimetype', 'image/jpeg']])), 400, 'INVALID_MEDIA', 'image.mimetype'],
      ['part type the bytes contradict', () => upload(srv, id, form([['to', to]], png, { type: 'application/pdf' })), 400, 'INVALID_MEDIA', 'document.mimetype'],
      ['a video that is a PNG', () => upload(srv, id, form([['to', to], ['type', 'video']])), 400, 'INVALID_MEDIA', 'video.file'],
      ['bytes nobody can tell, as an image', () => upload(srv, id, form([['to', to], ['type', 'image']], crypto.randomBytes(300))), 400, 'INVALID_MEDIA', 'image.file'],
      ['a sticker over 1 MiB, type first', () => upload(srv, id, form([['type', 'sticker'], ['to', to]], rnd('RIFF\x10\x00\x00\x00WEBPVP8 ', 1100000))), 413, 'MEDIA_TOO_LARGE'],
      ['an image over 16 MiB, type after', () => upload(srv, id, form([['to', to], ['type', 'image']], rnd('\x89PNG\r\n\x1a\n', 17 << 20))), 413, 'MEDIA_TOO_LARGE'],
      ['Content-Length past every limit', () => rawPost(srv, `/api/v1/sessions/${id}/messages/media`, { 'Content-Type': `multipart/form-data; boundary=${B}`, 'Content-Length': String(2100 * 2 ** 20) }), 413, 'MEDIA_TOO_LARGE'],
      ['unknown session', () => req(srv, 'POST', `/api/v1/sessions/${crypto.randomUUID()}/messages/media`, { body: form([['to', to]]) }), 404, 'SESSION_NOT_FOUND'],
      ['no API key', () => req(srv, 'POST', `/api/v1/sessions/${id}/messages/media`, { body: form([['to', to]]), key: null }), 401, 'UNAUTHORIZED'],
    ]) {
      const r = await send();
      assertError(r, status, code);
      if (fieldName) assert.equal(r.body.details.field, fieldName, what);
    }
    const list = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`);
    assert.equal(list.body.data.length, 0, 'nothing was queued');
    await until('no upload file left', () => fs.readdirSync(join(srv.dataDir, 'media', 'out')).length === 0);
    // the server still answers a good one after all that
    const ok = await upload(srv, id, form([['to', to]]));
    assert.equal(ok.status, 202, ok.text);
  } finally {
    await stopServer(srv);
  }
});

// A POST whose head announces a body that is never sent: the answer must come
// from the head alone. A raw socket, so that nothing but the head goes out.
function rawPost(srv, path, headers) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const head = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', `X-API-Key: ${srv.key}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    sock.on('connect', () => sock.write(head));
    sock.on('data', (d) => { got = Buffer.concat([got, d]); });
    sock.on('error', reject);
    sock.on('close', () => {
      const text = got.toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      const hs = new Headers();
      for (const l of text.slice(0, at).split('\r\n').slice(1)) hs.append(l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim());
      const body = text.slice(at + 4);
      if (process.env.MEDIA_DEBUG) console.log(JSON.stringify(text));
      resolve({ status: Number(text.split(' ')[1]), headers: hs, body: JSON.parse(body), text: body });
    });
    setTimeout(() => sock.destroy(), 5000); // no answer from the head alone: the test fails on the status
  });
}

test('multipart upload of 60 MB: streamed to disk (bounded RSS), kill -9 after the 202 loses nothing', async () => {
  const dataDir = tempDir();
  let srv = await serve({}, dataDir);
  const them = newPhone();
  const B = await peer(7, them, 'UBig7');
  try {
    const id = await link(srv, newPhone());
    const f = { kind: 'document', bytes: rnd('%PDF-1.7\n', 60 << 20), filename: 'big.pdf' };
    const rssKiB = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))[1]);
    const before = rssKiB('VmRSS');
    const r = await upload(srv, id, uploadForm(`${them}@s.whatsapp.net`, f));
    assert.equal(r.status, 202, r.text);
    const peak = rssKiB('VmHWM');
    assert.ok(peak - before < 30 * 1024, `peak RSS grew by ${peak - before} KiB while 60 MB came in`);
    if (process.env.MEDIA_DEBUG) console.log(`upload peak RSS growth ${peak - before} KiB`);
    srv.proc.kill('SIGKILL');
    await srv.exited;
    srv = await serve({}, dataDir);
    await assertDecrypts(7, B, r.body.waId, f);
    await status(srv, id, r.body.id, 'sent');
  } finally {
    B.end();
    await stopServer(srv, { removeData: true });
  }
});

test('sending a 100 MB document: the server\'s peak RSS grows < 40 MB from the upload to `sent` (encrypted and uploaded streamed), Baileys 7 decrypts it byte-identical', async () => {
  // ASan's quarantine (256 MB by default) keeps freed blocks: a small one
  // measures our memory, as media.test.mjs's 100 MB download does
  const srv = await serve({ MEDIA_AUTO_DOWNLOAD: 'false', ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || 'detect_leaks=1'}:quarantine_size_mb=4` });
  const them = newPhone();
  const B = await peer(7, them, 'Send100');
  try {
    const id = await link(srv, newPhone());
    const f = { kind: 'document', bytes: rnd('%PDF-1.7\n', 100e6 - 9), filename: 'hundred.pdf' };
    const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))[1]);
    fs.writeFileSync(`/proc/${srv.proc.pid}/clear_refs`, '5'); // VmHWM := the RSS of now
    const before = kib('VmRSS');
    assert.ok(kib('VmHWM') <= before + 1024, 'the peak was reset');
    const r = await upload(srv, id, uploadForm(`${them}@s.whatsapp.net`, f));
    assert.equal(r.status, 202, r.text);
    await until(`the 100 MB document ${r.body.id} sent`, async () => {
      const m = await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${r.body.id}`);
      if (m.body?.status === 'failed') assert.fail(m.text);
      return m.body && m.body.status !== 'pending';
    }, 120000);
    const grew = kib('VmHWM') - before;
    // ~1 MB in release (bench media-send-rss); a copy of the file would be 100 MB
    assert.ok(grew < 40 * 1024, `peak RSS grew by ${grew} KiB while 100 MB were received, encrypted, uploaded and sent`);
    if (process.env.MEDIA_DEBUG) console.log(`send 100 MB: peak RSS growth ${grew} KiB`);
    await assertDecrypts(7, B, r.body.waId, f);
  } finally {
    B.end();
    await stopServer(srv, { removeData: true });
  }
});

test('media by URL: loopback, private, link-local, CGNAT, multicast... hosts are refused unless MEDIA_URL_ALLOW_PRIVATE', async () => {
  const srv = await startServer({ env: { MEDIA_URL_ALLOW_PRIVATE: 'false' } });
  try {
    const s = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'guard' } });
    assert.equal(s.status, 201, s.text);
    const id = s.body.id;
    for (const [host, range] of [
      [webUrl.replace('http://', '').split(':')[0], 'loopback'], ['localhost', 'loopback'], ['[::1]', 'loopback'],
      ['[::ffff:127.0.0.1]', 'loopback'], ['127.1.2.3', 'loopback'], ['0x7f000001', 'loopback'], ['0.0.0.0', 'unspecified'],
      ['10.1.2.3', 'private'], ['192.168.0.10', 'private'], ['172.20.0.1', 'private'], ['[fd00::1]', 'private'],
      ['169.254.169.254', 'link-local'], ['[fe80::1]', 'link-local'], ['100.64.0.1', 'CGNAT'], ['224.0.0.251', 'multicast'],
      ['[64:ff9b::7f00:1]', 'loopback'],
    ]) {
      const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: '15550001111', image: { url: `http://${host}:9/x.png` } } });
      assertError(r, 400, 'MEDIA_URL_NOT_ALLOWED');
      assert.equal(r.body.details.field, 'image.url', host);
      assert.match(r.body.message, new RegExp(`resolves to a ${range} address`), host);
    }
    const list = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`);
    assert.equal(list.body.data.length, 0, 'nothing was queued');
  } finally {
    await stopServer(srv);
  }
  // allowed, the same URL passes the check (and fails later only because the session is not linked)
  const open = await startServer({ env: { MEDIA_URL_ALLOW_PRIVATE: 'true' } });
  try {
    const s = await req(open, 'POST', '/api/v1/sessions', { body: { name: 'open' } });
    const r = await req(open, 'POST', `/api/v1/sessions/${s.body.id}/messages`, { body: { to: '15550001111', image: { url: `${webUrl}/x.png` } } });
    assertError(r, 503, 'SESSION_NOT_CONNECTED');
  } finally {
    await stopServer(open);
  }
});

test('media by URL naming a host: no lookup before the fetch, which refuses its loopback address: 400, nothing stored, nothing fetched', async (t) => {
  const name = await loopbackName();
  if (!name) { t.skip(`${os.hostname()} does not resolve to loopback here`); return; }
  let conns = 0;
  const onConn = () => { conns++; };
  web.on('connection', onConn);
  const srv = await serve({ MEDIA_URL_ALLOW_PRIVATE: 'false' });
  try {
    const id = await link(srv, newPhone());
    files.set('/named.png', rnd('\x89PNG\r\n\x1a\n', 1000));
    const port = new URL(webUrl).port;
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: '15550001111', image: { url: `http://${name}:${port}/named.png` } } });
    assertError(r, 400, 'MEDIA_URL_NOT_ALLOWED');
    assert.match(r.body.message, /^media: fetch failed: not allowed to connect to a loopback address 127\.\d+\.\d+\.\d+$/);
    assert.equal(r.body.details.field, 'image.url');
    // literals and localhost are still refused at once
    for (const host of ['127.0.0.1', 'localhost', 'LocalHost.', 'x.localhost', '[::1]'])
      assertError(await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: '15550001111', image: { url: `http://${host}:${port}/named.png` } } }), 400, 'MEDIA_URL_NOT_ALLOWED');
    assert.equal(conns, 0, 'the file server saw no connection');
    const list = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`);
    assert.equal(list.body.data.length, 0, 'nothing was queued');
  } finally {
    web.off('connection', onConn);
    await stopServer(srv);
  }
});

test('media by URL, the client gone during the fetch: nothing stored, no file left; the same URL waited for is 202 and sent', async () => {
  const png = rnd('\x89PNG\r\n\x1a\n', 5000);
  let served = 0;
  const slow = http.createServer((rq, rs) => setTimeout(() => {
    rs.writeHead(200, { 'Content-Length': png.length });
    rs.end(png, () => { served++; });
  }, 800));
  await new Promise((ok) => slow.listen(0, '127.0.0.1', ok));
  const srv = await serve();
  try {
    const id = await link(srv, newPhone());
    const url = `http://127.0.0.1:${slow.address().port}/slow.png`;
    const body = JSON.stringify({ to: '15550001111', image: { url } });
    const base = new URL(srv.base);
    const cut = http.request({ host: base.hostname, port: base.port, method: 'POST', path: `/api/v1/sessions/${id}/messages`,
      headers: { 'X-API-Key': srv.key, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } });
    let answered = null;
    cut.on('response', (rs) => { answered = rs.statusCode; });
    cut.on('error', () => {});
    cut.end(body);
    await new Promise((ok) => setTimeout(ok, 300));
    cut.destroy(); // gone while the server fetches
    await until('the slow file served', async () => served === 1);
    await new Promise((ok) => setTimeout(ok, 500));
    assert.equal(answered, null, 'no answer came before the fetch ended');
    const list = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`);
    assert.equal(list.body.data.length, 0, 'nothing was queued');
    assert.deepEqual(fs.readdirSync(join(srv.dataDir, 'media', 'out')), [], 'no file left');
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: '15550001111', image: { url } } });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.status, 'pending');
    assert.equal((await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`)).body.data.length, 1);
  } finally {
    await stopServer(srv);
    slow.close();
  }
});
