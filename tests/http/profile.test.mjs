// Our profile and a contact's, through the simulator with unmodified
// Baileys 6 and 7 peers as the judges: our push name reaches Baileys as the
// pushName of our messages; our picture (PUT .../profile/picture: a JPEG,
// PNG or WebP, base64 or by URL, made its centre square of at most 640 px as
// Baileys' generateProfilePicture does) is what Baileys'
// profilePictureUrl() serves, and Baileys hears of the change
// (contacts.update imgUrl "changed" / "removed"); Baileys' own changes reach
// us as contact.picture events; a picture
// Baileys sets is what GET .../contacts/{phone}/picture points at, and
// Baileys' about text (updateProfileStatus) comes back in GET
// .../contacts/{phone}, both hidden (404 / null) while Baileys' privacy
// settings say "none"; GET .../profile gives name, about and picture; bad
// input is a coded 4xx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import os from 'node:os';
import https from 'node:https';
import { stopServer, req, assertError } from './lib.mjs';
import { startSim, loadBaileys, textOf } from '../interop/sim-lib.mjs';
import { messaging, mkmedia, jpegSize, fileServer, loopbackName } from './msg-lib.mjs';

let sim, h, ca, web, webUrl;
const files = new Map();
before(async () => {
  sim = await startSim();
  ca = (await sim.api('GET', '/sim/info')).json.caCert;
  h = await messaging(sim, { key: 'profile-test-key-0123456789', prefix: '1556' });
  h.libs[7] = await loadBaileys(7);
  // a local web server for pictures given by URL
  ({ web, url: webUrl } = await fileServer(files));
});
after(async () => { await sim.stop(); await new Promise((ok) => web.close(ok)); });


// a JPEG as far as both ends look: SOI and a JFIF segment first, EOI last
const jpeg = (n) => Buffer.concat([Buffer.from('\xff\xd8\xff\xe0\x00\x10JFIF\x00', 'binary'),
  crypto.randomBytes(n), Buffer.from([0xff, 0xd9])]);
const fetchBytes = (url) => new Promise((ok, fail) => {
  https.get(url, { ca }, (rs) => {
    const parts = [];
    rs.on('data', (d) => parts.push(d));
    rs.on('end', () => (rs.statusCode === 200 ? ok(Buffer.concat(parts)) : fail(new Error(`GET ${url}: ${rs.statusCode}`))));
  }).on('error', fail);
});
// Baileys' updateProfilePicture needs sharp or jimp (neither installed) to
// scale the image first; this is the iq it then sends, through its own query
const baileysSetPicture = (B, img) => B.sock.query({
  tag: 'iq', attrs: { to: '@s.whatsapp.net', type: 'set', xmlns: 'w:profile:picture' },
  content: [{ tag: 'picture', attrs: { type: 'image' }, content: img }],
});

for (const v of [6, 7]) test(`profile: push name, about and picture both ways with Baileys ${v}`, { timeout: 120000 }, async () => {
  const srv = await h.serve(undefined, { MEDIA_URL_ALLOW_PRIVATE: 'true' });
  const B = await h.peer(h.newPhone(), `P${v}`, v);
  const contactUpdates = []; // polled (h.until): B.until wakes only on sim-lib's own events
  B.sock.ev.on('contacts.update', (u) => contactUpdates.push(...u));
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const usJid = `${us}@s.whatsapp.net`;
    const base = `/api/v1/sessions/${id}`;

    // push name: kept, then the pushName of what we send
    const name = `Shop ${v} ✓`;
    let r = await req(srv, 'PUT', `${base}/profile/name`, { body: { name } });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.body, { name });
    await h.until('the session has the new push name', async () =>
      (await req(srv, 'GET', `/api/v1/sessions/${id}`)).body.pushName === name);
    r = await req(srv, 'POST', `${base}/messages`, { body: { to: `+${B.phone}`, text: 'named' } });
    assert.equal(r.status, 202, r.text);
    const got = await B.until(() => B.upserts.find((u) => !u.key.fromMe && textOf(u.message) === 'named'), 'our message');
    assert.equal(got.pushName, name);

    // no picture yet: Baileys is told 404, our profile says null
    await assert.rejects(B.sock.profilePictureUrl(usJid, 'image'));
    r = await req(srv, 'GET', `${base}/profile`);
    assert.equal(r.status, 200, r.text + JSON.stringify(srv.logs.filter((l) => l.level !== 'info' && l.level !== 'debug').slice(-5)));
    assert.deepEqual(r.body, { phone: `+${us}`, name, about: null, pictureUrl: null, pictureId: null });

    // our picture: a PNG by URL, 1000 x 1500, sent as its centre square
    // scaled to 640, read and downloaded by Baileys
    files.set('/pic.png', mkmedia('png', 1000, 1500));
    r = await req(srv, 'PUT', `${base}/profile/picture`, { body: { url: `${webUrl}/pic.png` } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.pictureId, /^\d+$/);
    const url = await B.sock.profilePictureUrl(usJid, 'image');
    assert.ok(url, 'Baileys gets a URL');
    assert.deepEqual(jpegSize(await fetchBytes(url)), { width: 640, height: 640 }, 'Baileys downloads a 640 px JPEG');
    // the preview WhatsApp serves: 96 px
    assert.deepEqual(jpegSize(await fetchBytes(await B.sock.profilePictureUrl(usJid))), { width: 96, height: 96 });
    await h.until('contacts.update changed', () => contactUpdates.find((u) => u.id === usJid && u.imgUrl === 'changed'));
    // a URL that does not answer 200: 422, the picture unchanged
    assertError(await req(srv, 'PUT', `${base}/profile/picture`, { body: { url: `${webUrl}/none.png` } }), 422, 'MEDIA_FETCH_FAILED');
    files.set('/junk.png', Buffer.from('\x89PNG\r\n\x1a\nnot a png at all', 'binary'));
    assertError(await req(srv, 'PUT', `${base}/profile/picture`, { body: { url: `${webUrl}/junk.png` } }), 400, 'VALIDATION_ERROR');
    assert.equal(await B.sock.profilePictureUrl(usJid, 'image'), url);
    // a WebP given in base64, smaller than 640: its square, not scaled up
    r = await req(srv, 'PUT', `${base}/profile/picture`, { body: { base64: mkmedia('webp', 300, 200).toString('base64') } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(jpegSize(await fetchBytes(await B.sock.profilePictureUrl(usJid, 'image'))), { width: 200, height: 200 });
    // and a JPEG photo, 800 x 600
    const ours = mkmedia('jpeg', 800, 600);
    r = await req(srv, 'PUT', `${base}/profile/picture`, { body: { base64: ours.toString('base64') } });
    assert.equal(r.status, 200, r.text);
    const oursSent = await fetchBytes(await B.sock.profilePictureUrl(usJid, 'image'));
    assert.deepEqual(jpegSize(oursSent), { width: 600, height: 600 });
    r = await req(srv, 'PUT', `${base}/profile/about`, { body: { text: 'Open 9-17' } });
    assert.equal(r.status, 202, r.text);
    r = await h.until('our profile with about and picture', async () => {
      const p = await req(srv, 'GET', `${base}/profile`);
      return p.body.about === 'Open 9-17' ? p : null;
    });
    assert.equal(r.body.name, name);
    assert.equal(r.body.pictureId, (await req(srv, 'GET', `${base}/contacts/${us}/picture`)).body.id);
    assert.ok((await fetchBytes(r.body.pictureUrl)).equals(oursSent), 'GET .../profile points at our picture');

    // Baileys' picture and about, read by us
    const theirs = jpeg(20000);
    const bJid = `${B.phone}@s.whatsapp.net`;
    const picEvents = async () => (await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=contact.picture&limit=100`)).body.data;
    const setRes = await baileysSetPicture(B, theirs);
    const theirId = setRes.content?.find?.((c) => c.tag === 'picture')?.attrs?.id;
    assert.match(String(theirId), /^\d+$/);
    // Baileys changed its picture: a contact.picture event with its id
    const ev = await h.until('contact.picture event (set)', async () =>
      (await picEvents()).find((e) => e.jid === bJid && !e.removed));
    assert.equal(ev.phone, `+${B.phone}`);
    assert.equal(ev.pictureId, theirId);
    await B.sock.updateProfileStatus(`about B${v}`);
    r = await req(srv, 'GET', `${base}/contacts/%2B${B.phone}/picture?type=image`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.phone, `+${B.phone}`);
    assert.equal(r.body.type, 'image');
    assert.ok((await fetchBytes(r.body.url)).equals(theirs), 'we point at Baileys\' picture');
    r = await req(srv, 'GET', `${base}/contacts/${B.phone}/picture`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.type, 'preview');
    r = await req(srv, 'GET', `${base}/contacts/${B.phone}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.about, `about B${v}`);
    // hidden by Baileys' privacy settings: none for us, then shown again
    await B.sock.updateProfilePicturePrivacy('none');
    await B.sock.updateStatusPrivacy('none');
    assertError(await req(srv, 'GET', `${base}/contacts/${B.phone}/picture`), 404, 'PICTURE_NOT_FOUND');
    assert.equal((await req(srv, 'GET', `${base}/contacts/${B.phone}`)).body.about, null);
    await B.sock.updateProfilePicturePrivacy('all');
    await B.sock.updateStatusPrivacy('all');
    assert.equal((await req(srv, 'GET', `${base}/contacts/${B.phone}/picture`)).status, 200);
    assert.equal((await req(srv, 'GET', `${base}/contacts/${B.phone}`)).body.about, `about B${v}`);
    // and removed: 404 for us, Baileys hears of ours
    await B.sock.query({ tag: 'iq', attrs: { to: '@s.whatsapp.net', type: 'set', xmlns: 'w:profile:picture' } });
    assertError(await req(srv, 'GET', `${base}/contacts/${B.phone}/picture`), 404, 'PICTURE_NOT_FOUND');
    const gone = await h.until('contact.picture event (removed)', async () =>
      (await picEvents()).find((e) => e.jid === bJid && e.removed));
    assert.equal(gone.pictureId, null);
    r = await req(srv, 'DELETE', `${base}/profile/picture`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { pictureId: null });
    await h.until('contacts.update removed', () => contactUpdates.find((u) => u.id === usJid && u.imgUrl === 'removed'));
    await assert.rejects(B.sock.profilePictureUrl(usJid, 'image'));
    assert.equal((await req(srv, 'GET', `${base}/profile`)).body.pictureUrl, null);
  } finally {
    B.end();
    await stopServer(srv);
  }
});

test('profile: bad input is a coded 4xx, an unlinked session 503', { timeout: 60000 }, async () => {
  const srv = await h.serve(undefined, { MAX_BODY_BYTES: String(8 << 20) });
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const base = `/api/v1/sessions/${id}`;
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(26) }, { name: 7 }, { name: 'a', x: 1 }])
      assertError(await req(srv, 'PUT', `${base}/profile/name`, { body }), 400, 'VALIDATION_ERROR');
    const pic = (body) => req(srv, 'PUT', `${base}/profile/picture`, { body });
    for (const body of [{}, { base64: '' }, { base64: 'not base64!' }, { base64: Buffer.from('\x89PNG\r\n\x1a\n0000').toString('base64') },
      { base64: jpeg(100).toString('base64') }, { url: 'ftp://example.com/x.jpg' }, { url: 7 },
      { url: 'https://example.com/x.jpg', base64: jpeg(100).toString('base64') }, { base64: jpeg(100).toString('base64'), x: 1 }])
      assertError(await pic(body), 400, 'VALIDATION_ERROR');
    // without MEDIA_URL_ALLOW_PRIVATE a loopback URL is refused before any fetch
    assertError(await pic({ url: 'http://127.0.0.1/x.jpg' }), 400, 'MEDIA_URL_NOT_ALLOWED');
    // a name is not looked up on the HTTP thread: the fetch's thread refuses the loopback
    // address it would connect to, and the answer is the same 400
    const name = await loopbackName();
    if (name) {
      const r = await pic({ url: `http://${name}:9/x.jpg` });
      assertError(r, 400, 'MEDIA_URL_NOT_ALLOWED');
      assert.match(r.body.message, /not allowed to connect to a loopback address 127\./);
    } else console.log(`# ${os.hostname()} does not resolve to loopback here: the name case is not run`);
    assertError(await pic({ base64: jpeg((5 << 20) + 10).toString('base64') }), 413, 'MEDIA_TOO_LARGE');
    assertError(await req(srv, 'GET', `${base}/contacts/19998887776/picture`), 404, 'PICTURE_NOT_FOUND');
    assertError(await req(srv, 'GET', `${base}/contacts/${us}/picture?type=huge`), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'GET', `${base}/contacts/12ab/picture`), 400, 'INVALID_PHONE_NUMBER');
    const none = '/api/v1/sessions/00000000-0000-4000-8000-000000000000';
    assertError(await req(srv, 'GET', `${none}/profile`), 404, 'SESSION_NOT_FOUND');
    assertError(await req(srv, 'DELETE', `${none}/profile/picture`), 404, 'SESSION_NOT_FOUND');
    assertError(await req(srv, 'PUT', `${none}/profile/name`, { body: { name: 'x' } }), 404, 'SESSION_NOT_FOUND');
    const un = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'unlinked' } });
    assertError(await req(srv, 'GET', `/api/v1/sessions/${un.body.id}/profile`), 503, 'SESSION_NOT_CONNECTED');
    assertError(await req(srv, 'PUT', `/api/v1/sessions/${un.body.id}/profile/name`, { body: { name: 'x' } }), 503, 'SESSION_NOT_CONNECTED');
    assertError(await req(srv, 'PUT', `/api/v1/sessions/${un.body.id}/profile/picture`, { body: { base64: mkmedia('jpeg', 50, 50).toString('base64') } }), 503, 'SESSION_NOT_CONNECTED');
  } finally {
    await stopServer(srv);
  }
});
