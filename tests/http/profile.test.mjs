// Our profile and a contact's, through the simulator with unmodified
// Baileys 6 and 7 peers as the judges: our push name reaches Baileys as the
// pushName of our messages; our picture (PUT .../profile/picture) is what
// Baileys' profilePictureUrl() serves, byte for byte, and Baileys hears of
// the change (contacts.update imgUrl "changed" / "removed"); a picture
// Baileys sets is what GET .../contacts/{phone}/picture points at, and
// Baileys' about text (updateProfileStatus) comes back in GET
// .../contacts/{phone}, both hidden (404 / null) while Baileys' privacy
// settings say "none"; GET .../profile gives name, about and picture; bad
// input is a coded 4xx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import https from 'node:https';
import { stopServer, req, assertError } from './lib.mjs';
import { startSim, loadBaileys, textOf } from '../interop/sim-lib.mjs';
import { messaging } from './msg-lib.mjs';

let sim, h, ca;
before(async () => {
  sim = await startSim();
  ca = (await sim.api('GET', '/sim/info')).json.caCert;
  h = await messaging(sim, { key: 'profile-test-key-0123456789', prefix: '1556' });
  h.libs[7] = await loadBaileys(7);
});
after(async () => { await sim.stop(); });

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
  const srv = await h.serve();
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

    // our picture, read and downloaded by Baileys
    const ours = jpeg(30000);
    r = await req(srv, 'PUT', `${base}/profile/picture`, { body: { base64: ours.toString('base64') } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.pictureId, /^\d+$/);
    const url = await B.sock.profilePictureUrl(usJid, 'image');
    assert.ok(url, 'Baileys gets a URL');
    assert.ok((await fetchBytes(url)).equals(ours), 'Baileys downloads our picture');
    assert.ok(await B.sock.profilePictureUrl(usJid), 'the preview too');
    await h.until('contacts.update changed', () => contactUpdates.find((u) => u.id === usJid && u.imgUrl === 'changed'));
    r = await req(srv, 'PUT', `${base}/profile/about`, { body: { text: 'Open 9-17' } });
    assert.equal(r.status, 202, r.text);
    r = await h.until('our profile with about and picture', async () => {
      const p = await req(srv, 'GET', `${base}/profile`);
      return p.body.about === 'Open 9-17' ? p : null;
    });
    assert.equal(r.body.name, name);
    assert.equal(r.body.pictureId, (await req(srv, 'GET', `${base}/contacts/${us}/picture`)).body.id);
    assert.ok((await fetchBytes(r.body.pictureUrl)).equals(ours), 'GET .../profile points at our picture');

    // Baileys' picture and about, read by us
    const theirs = jpeg(20000);
    await baileysSetPicture(B, theirs);
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
  const srv = await h.serve(undefined, { MAX_BODY_BYTES: String(4 << 20) });
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const base = `/api/v1/sessions/${id}`;
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: 'x'.repeat(26) }, { name: 7 }, { name: 'a', x: 1 }])
      assertError(await req(srv, 'PUT', `${base}/profile/name`, { body }), 400, 'VALIDATION_ERROR');
    const pic = (body) => req(srv, 'PUT', `${base}/profile/picture`, { body });
    for (const body of [{}, { base64: '' }, { base64: 'not base64!' }, { base64: Buffer.from('\x89PNG\r\n\x1a\n0000').toString('base64') },
      { url: 'http://127.0.0.1/x.jpg' }])
      assertError(await pic(body), 400, 'VALIDATION_ERROR');
    assertError(await pic({ base64: jpeg((1 << 20) + 10).toString('base64') }), 413, 'MEDIA_TOO_LARGE');
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
    assertError(await req(srv, 'PUT', `/api/v1/sessions/${un.body.id}/profile/picture`, { body: { base64: jpeg(100).toString('base64') } }), 503, 'SESSION_NOT_CONNECTED');
  } finally {
    await stopServer(srv);
  }
});
