// Issue 15, what people do in a chat, end to end through `yesapp sim` with
// unmodified Baileys 6 and 7 peers: replies, reactions, edits, deletes for
// everyone, locations and contact cards, both directions. YesApp -> Baileys
// checks the exact content Baileys decodes; Baileys -> YesApp checks the
// stored message and its event. Bad input gets coded 4xx answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createHash, createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { stopServer, req, assertError } from './lib.mjs';
import { serveOnSim, waitSession } from './engine-lib.mjs';
import { startSim, sleep, loadBaileys, client, textOf, statusAtLeast } from '../interop/sim-lib.mjs';

const Database = createRequire(import.meta.url)('better-sqlite3');
let sim, root;
const libs = {};
before(async () => {
  sim = await startSim();
  root = (await sim.api('GET', '/sim/info')).json.rootPublicKey;
  [libs[6], libs[7]] = [await loadBaileys(6), await loadBaileys(7)];
});
after(() => sim.stop());

let seq = 0;
const newPhone = () => `1557${String(process.pid % 1000).padStart(3, '0')}${String(seq++).padStart(4, '0')}`;
// Resolves with fn's first truthy answer (polled), or rejects after ms.
async function until(what, fn, ms = 20000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    const v = await fn();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A session of `phone` linked through the simulator's phone.
async function link(srv, phone) {
  await sim.api('POST', '/sim/accounts', { phone });
  const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'kinds' } });
  assert.equal(c.status, 201, c.text);
  const s = await waitSession(srv, c.body.id, (x) => x.qrCode, 'a QR');
  assert.equal((await sim.api('POST', '/sim/scan', { phone, qr: s.qrCode })).status, 200);
  await waitSession(srv, s.id, (x) => x.status === 'connected', 'connected', 20000);
  return s.id;
}

async function peer(phone, name, v) {
  const B = client(libs[v], sim, phone, name);
  B.connect();
  await B.until(() => B.opens && B.pending, `${name} open`);
  await B.until(() => B.upserts.some((u) => u.message?.protocolMessage), `${name}: phone protocol messages`);
  return B;
}

const list = async (srv, id) => (await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=200`)).body.data;
const events = async (srv, id, types) =>
  (await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=${types}&limit=500`)).body.data;
// What B received from us (not its own, not the phone's protocol messages)
const got = (B, pred) => B.upserts.find((u) => !u.key.fromMe && u.message && pred(u.message));
const proto = (m) => m.editedMessage?.message?.protocolMessage ?? m.protocolMessage;
const send = (srv, id, body) => req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body });

for (const v of [6, 7]) test(`chat kinds both ways with Baileys ${v}`, async () => {
  const srv = await serveOnSim(sim, root, 'chatkinds-test-key-0123456789', { RATE_LIMIT_MESSAGES: '0' });
  const B = await peer(newPhone(), `K${v}`, v);
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const to = `+${B.phone}`;

    // ---- YesApp -> Baileys ----
    const t1 = await send(srv, id, { to, text: 'original text' });
    assert.equal(t1.status, 202, t1.text);
    await B.until(() => got(B, (m) => textOf(m) === 'original text'), 'B gets the text');

    // a reaction: Baileys decodes the key of our message and the emoji
    const r1 = await req(srv, 'POST', `/api/v1/sessions/${id}/messages/${t1.body.id}/reaction`, { body: { emoji: '👍🏽' } });
    assert.equal(r1.status, 202, r1.text);
    assert.equal(r1.body.type, 'reaction');
    const rx = await B.until(() => got(B, (m) => m.reactionMessage?.text === '👍🏽'), 'B gets the reaction');
    assert.equal(rx.message.reactionMessage.key.id, t1.body.waId);
    // removing it: the same with ""
    const r2 = await req(srv, 'POST', `/api/v1/sessions/${id}/messages/${t1.body.id}/reaction`, { body: { emoji: '' } });
    assert.equal(r2.status, 202, r2.text);
    await B.until(() => got(B, (m) => m.reactionMessage && m.reactionMessage.text === '' &&
      m.reactionMessage.key.id === t1.body.waId), 'B gets the removal');

    // an edit: protocolMessage type 14 naming our message, with the new text
    const e1 = await req(srv, 'PATCH', `/api/v1/sessions/${id}/messages/${t1.body.id}`, { body: { text: 'edited text ✏️' } });
    assert.equal(e1.status, 202, e1.text);
    const ex = await B.until(() => got(B, (m) => proto(m)?.type === 14), 'B gets the edit');
    assert.equal(proto(ex.message).key.id, t1.body.waId);
    assert.equal(textOf(proto(ex.message).editedMessage), 'edited text ✏️');
    const after1 = (await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${t1.body.id}`)).body;
    assert.equal(after1.text, 'edited text ✏️');
    assert.equal(after1.content.edited, true);
    assert.deepEqual(after1.content.history.map((h) => h.text), ['original text']);
    assert.deepEqual(after1.reactions, [], 'our reaction was removed');

    // a reply: extendedTextMessage whose contextInfo quotes our message
    const q1 = await send(srv, id, { to, text: 'a reply', quotedMessageId: t1.body.id });
    assert.equal(q1.status, 202, q1.text);
    assert.equal(q1.body.quotedMessageId, t1.body.waId);
    const qx = await B.until(() => got(B, (m) => m.extendedTextMessage?.text === 'a reply'), 'B gets the reply');
    assert.equal(qx.message.extendedTextMessage.contextInfo.stanzaId, t1.body.waId);
    assert.equal(textOf(qx.message.extendedTextMessage.contextInfo.quotedMessage), 'edited text ✏️');

    // a location and contact cards
    const l1 = await send(srv, id, { to, location: { latitude: 52.52, longitude: 13.405, name: 'Berlin', address: 'Pariser Platz' } });
    assert.equal(l1.status, 202, l1.text);
    const lx = await B.until(() => got(B, (m) => m.locationMessage), 'B gets the location');
    assert.equal(lx.message.locationMessage.degreesLatitude, 52.52);
    assert.equal(lx.message.locationMessage.degreesLongitude, 13.405);
    assert.equal(lx.message.locationMessage.name, 'Berlin');
    assert.equal(lx.message.locationMessage.address, 'Pariser Platz');
    const c1 = await send(srv, id, { to, contacts: [{ name: 'Jane; Doe', phone: '+15551230001' }] });
    assert.equal(c1.status, 202, c1.text);
    const cx = await B.until(() => got(B, (m) => m.contactMessage), 'B gets one card');
    assert.equal(cx.message.contactMessage.displayName, 'Jane; Doe');
    assert.equal(cx.message.contactMessage.vcard,
      'BEGIN:VCARD\nVERSION:3.0\nFN:Jane\\; Doe\nTEL;type=CELL;type=VOICE;waid=15551230001:+15551230001\nEND:VCARD');
    const c2 = await send(srv, id, { to, contacts: [{ name: 'A', phone: '+15551230002' }, { name: 'B', phone: '+15551230003' }] });
    assert.equal(c2.status, 202, c2.text);
    const c2x = await B.until(() => got(B, (m) => m.contactsArrayMessage), 'B gets two cards');
    assert.deepEqual(c2x.message.contactsArrayMessage.contacts.map((c) => c.displayName), ['A', 'B']);

    // delete for everyone: protocolMessage REVOKE naming the message
    const d1 = await req(srv, 'DELETE', `/api/v1/sessions/${id}/messages/${l1.body.id}?forEveryone=true`);
    assert.equal(d1.status, 202, d1.text);
    const dx = await B.until(() => got(B, (m) => proto(m) && proto(m).type === 0 && !proto(m).editedMessage &&
      proto(m).key?.id === l1.body.waId), 'B gets the revoke');
    assert.ok(dx);
    const gone = (await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${l1.body.id}`)).body;
    assert.equal(gone.content.revoked, true);
    assert.equal(gone.content.previous.name, 'Berlin', 'the history is kept');
    assertError(await req(srv, 'DELETE', `/api/v1/sessions/${id}/messages/${l1.body.id}?forEveryone=true`), 409, 'MESSAGE_NOT_REVOCABLE');

    // ---- Baileys -> YesApp ----
    const usJid = `${us}@s.whatsapp.net`;
    const b1 = await B.sock.sendMessage(usJid, { text: 'from Baileys' });
    const in1 = await until('inbound text', async () => (await list(srv, id)).find((m) => m.waId === b1.key.id));
    await B.sock.sendMessage(usJid, { react: { text: '❤️', key: b1.key } });
    await B.sock.sendMessage(usJid, { react: { text: '😂', key: { remoteJid: usJid, fromMe: false, id: t1.body.waId } } });
    const rev = await until('reaction events', async () => {
      const ev = await events(srv, id, 'message.reaction');
      return ev.length >= 2 ? ev : null;
    });
    const onOurs = rev.find((e) => e.waId === t1.body.waId);
    assert.equal(onOurs.emoji, '😂');
    assert.equal(onOurs.messageId, t1.body.id);
    assert.equal(onOurs.from, `+${B.phone}`);
    assert.equal(onOurs.removed, false);
    const reacted = (await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${t1.body.id}`)).body;
    assert.deepEqual(reacted.reactions.map((r) => [r.emoji, r.from]), [['😂', `+${B.phone}`]]);
    assert.deepEqual((await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${in1.id}`)).body.reactions.map((r) => r.emoji), ['❤️']);

    // an edit from Baileys changes the stored text and keeps the old one
    await B.sock.sendMessage(usJid, { text: 'from Baileys, edited', edit: b1.key });
    const edEv = await until('edit event', async () => (await events(srv, id, 'message.edited'))[0]);
    assert.equal(edEv.messageId, in1.id);
    assert.equal(edEv.text, 'from Baileys, edited');
    assert.equal(edEv.previousText, 'from Baileys');
    const in1e = (await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${in1.id}`)).body;
    assert.equal(in1e.text, 'from Baileys, edited');
    assert.deepEqual(in1e.content.history.map((h) => h.text), ['from Baileys']);
    // an edit of OUR message by them is refused (another author)
    await B.sock.sendMessage(usJid, { text: 'hijack', edit: { remoteJid: usJid, fromMe: false, id: t1.body.waId } });

    // a reply, a location, a card, then a delete for everyone
    const b2 = await B.sock.sendMessage(usJid, { text: 'quoting you' }, { quoted: { key: { remoteJid: usJid, fromMe: false, id: t1.body.waId }, message: { conversation: 'edited text ✏️' } } });
    const in2 = await until('inbound reply', async () => (await list(srv, id)).find((m) => m.waId === b2.key.id));
    assert.equal(in2.quotedMessageId, t1.body.waId);
    assert.equal(in2.content.quoted.id, t1.body.waId);
    const b3 = await B.sock.sendMessage(usJid, { location: { degreesLatitude: -33.8688, degreesLongitude: 151.2093, name: 'Sydney' } });
    const in3 = await until('inbound location', async () => (await list(srv, id)).find((m) => m.waId === b3.key.id));
    assert.equal(in3.type, 'location');
    assert.deepEqual([in3.content.latitude, in3.content.longitude, in3.content.name], [-33.8688, 151.2093, 'Sydney']);
    const vcard = 'BEGIN:VCARD\nVERSION:3.0\nFN:Max Muster\nTEL;type=CELL;waid=4915112345678:+49 151 12345678\nEND:VCARD';
    const b4 = await B.sock.sendMessage(usJid, { contacts: { displayName: 'Max', contacts: [{ displayName: 'Max Muster', vcard }] } });
    const in4 = await until('inbound card', async () => (await list(srv, id)).find((m) => m.waId === b4.key.id));
    assert.equal(in4.type, 'contacts');
    assert.deepEqual(in4.content.contacts[0].phones, ['+4915112345678']);
    assert.equal(in4.content.contacts[0].vcard, vcard);
    await B.sock.sendMessage(usJid, { delete: b3.key });
    const rvEv = await until('revoke event', async () => (await events(srv, id, 'message.revoked'))[0]);
    assert.equal(rvEv.messageId, in3.id);
    const in3r = (await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${in3.id}`)).body;
    assert.equal(in3r.content.revoked, true);
    assert.equal(in3r.content.previous.name, 'Sydney');
    // the hijack edit above changed nothing
    assert.equal((await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${t1.body.id}`)).body.text, 'edited text ✏️');
    assert.equal((await events(srv, id, 'message.edited')).length, 1);

    // ---- bad input ----
    const base = `/api/v1/sessions/${id}/messages`;
    const nobody = '00000000-0000-4000-8000-000000000000';
    assertError(await req(srv, 'POST', `${base}/${nobody}/reaction`, { body: { emoji: '👍' } }), 404, 'MESSAGE_NOT_FOUND');
    assertError(await req(srv, 'PATCH', `${base}/${nobody}`, { body: { text: 'x' } }), 404, 'MESSAGE_NOT_FOUND');
    assertError(await req(srv, 'DELETE', `${base}/${nobody}?forEveryone=true`), 404, 'MESSAGE_NOT_FOUND');
    assertError(await req(srv, 'POST', `${base}/${t1.body.id}/reaction`, { body: { emoji: '👍👍' } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'POST', `${base}/${t1.body.id}/reaction`, { body: { emoji: 'ab' } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'POST', `${base}/${t1.body.id}/reaction`, { body: {} }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, location: { latitude: 200, longitude: 0 } }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, location: { latitude: 0, longitude: -180.5 } }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, location: { latitude: 0, longitude: 0 }, text: 'both' }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, contacts: [] }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, contacts: [{ name: 'x', phone: 'nope' }] }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, contacts: [{ vcard: 'not a card' }] }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, text: 'x', quotedMessageId: nobody }), 404, 'MESSAGE_NOT_FOUND');
    assertError(await req(srv, 'PATCH', `${base}/${in1.id}`, { body: { text: 'not mine' } }), 409, 'MESSAGE_NOT_EDITABLE');
    assertError(await req(srv, 'DELETE', `${base}/${t1.body.id}?forEveryone=maybe`), 400, 'VALIDATION_ERROR');
    // past the edit window (15 minutes): 409
    const db = new Database(join(srv.dataDir, 'db.sqlite'));
    try {
      db.prepare('UPDATE messages SET timestamp = timestamp - 16 * 60 * 1000 WHERE id = ?').run(t1.body.id);
    } finally {
      db.close();
    }
    assertError(await req(srv, 'PATCH', `${base}/${t1.body.id}`, { body: { text: 'too late' } }), 409, 'EDIT_WINDOW_EXPIRED');

    // delete for me: gone here only
    const dm = await req(srv, 'DELETE', `${base}/${in2.id}`);
    assert.equal(dm.status, 200, dm.text);
    assertError(await req(srv, 'GET', `${base}/${in2.id}`), 404, 'MESSAGE_NOT_FOUND');
  } finally {
    B.end();
    await stopServer(srv);
  }
});

// Presence and typing through the simulator, judged by Baileys'
// presence.update events one way and our `presence` events the other.
for (const v of [6, 7]) test(`presence and typing both ways with Baileys ${v}`, async () => {
  const srv = await serveOnSim(sim, root, 'chatkinds-test-key-0123456789', { RATE_LIMIT_MESSAGES: '0' });
  const B = await peer(newPhone(), `P${v}`, v);
  const seen = [];
  B.sock.ev.on('presence.update', (u) => { seen.push(u); for (const w of B.waiters.slice()) w(); });
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const usJid = `${us}@s.whatsapp.net`;
    const ours = (state) => seen.find((u) => Object.entries(u.presences).some(([k, p]) =>
      k.startsWith(`${us}@`) && p.lastKnownPresence === state));
    // typing reaches B as a chat state from our bare JID
    const base = `/api/v1/sessions/${id}`;
    for (const [state, bl] of [['composing', 'composing'], ['recording', 'recording'], ['paused', 'available']]) {
      const r = await req(srv, 'POST', `${base}/chats/%2B${B.phone}/typing`, { body: { state } });
      assert.equal(r.status, 202, r.text);
      await B.until(() => ours(bl), `B sees ${state}`);
    }
    // B subscribes to us; our presence reaches it (no push name known: 409 until one is given)
    await B.sock.presenceSubscribe(usJid);
    assertError(await req(srv, 'POST', `${base}/presence`, { body: { state: 'available' } }), 409, 'PUSH_NAME_UNKNOWN');
    const before = seen.length;
    const av = await req(srv, 'POST', `${base}/presence`, { body: { state: 'available', name: 'YesApp Bot' } });
    assert.equal(av.status, 202, av.text);
    await B.until(() => seen.slice(before).some((u) => u.id === usJid &&
      u.presences[usJid]?.lastKnownPresence === 'available'), 'B sees us available');
    const un = await req(srv, 'POST', `${base}/presence`, { body: { state: 'unavailable', name: 'YesApp Bot' } });
    assert.equal(un.status, 202, un.text);
    await B.until(() => seen.some((u) => u.presences[usJid]?.lastKnownPresence === 'unavailable' &&
      u.presences[usJid].lastSeen > 0), 'B sees us unavailable with a last seen');

    // we subscribe to B: a `presence` event now (unavailable), then B's changes and typing
    const sub = await req(srv, 'POST', `${base}/presence/subscribe`, { body: { to: `+${B.phone}` } });
    assert.equal(sub.status, 202, sub.text);
    const pev = (pred) => until('presence event', async () => {
      const r = await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=presence&limit=100`);
      return r.body.data.find(pred);
    });
    await pev((e) => e.from === `+${B.phone}` && e.state === 'unavailable');
    B.state.creds.me.name = 'Bee'; // Baileys announces presence only with a name
    await B.sock.sendPresenceUpdate('available');
    await pev((e) => e.from === `+${B.phone}` && e.state === 'available');
    await B.sock.sendPresenceUpdate('composing', usJid);
    const typing = await pev((e) => e.state === 'composing');
    assert.equal(typing.chat, `${B.phone}@s.whatsapp.net`);
    await B.sock.sendPresenceUpdate('recording', usJid);
    await pev((e) => e.state === 'recording');
    await B.sock.sendPresenceUpdate('paused', usJid);
    await pev((e) => e.state === 'paused');

    // bad input
    assertError(await req(srv, 'POST', `${base}/presence`, { body: { state: 'busy' } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'POST', `${base}/chats/%2B${B.phone}/typing`, { body: { state: 'typing' } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'POST', `${base}/chats/nobody/typing`, { body: { state: 'paused' } }), 400, 'INVALID_PHONE_NUMBER');
    assertError(await req(srv, 'POST', `${base}/presence/subscribe`, { body: { to: 'x' } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'POST', '/api/v1/sessions/00000000-0000-4000-8000-000000000000/presence', { body: { state: 'available' } }), 404, 'SESSION_NOT_FOUND');
  } finally {
    B.end();
    await stopServer(srv);
  }
});

// Marking a chat read up to a message: one read receipt for every unread
// inbound message up to it, which Baileys sees as read (status 4).
for (const v of [6, 7]) test(`mark a chat read up to a message, Baileys ${v} sees the reads`, async () => {
  const srv = await serveOnSim(sim, root, 'chatkinds-test-key-0123456789', { RATE_LIMIT_MESSAGES: '0' });
  const B = await peer(newPhone(), `R${v}`, v);
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const usJid = `${us}@s.whatsapp.net`;
    const sent = [];
    for (const text of ['r1', 'r2', 'r3']) sent.push(await B.sock.sendMessage(usJid, { text }));
    const rows = await until('three inbound', async () => {
      const l = await list(srv, id);
      const r = sent.map((m) => l.find((x) => x.waId === m.key.id));
      return r.every(Boolean) ? r : null;
    });
    const chat = rows[0].chat;
    assert.equal(chat, `${B.phone}@s.whatsapp.net`, 'chats are filed under the phone number');
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/chats/${encodeURIComponent(chat)}/read`, { body: { messageId: rows[1].id } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.read, 2);
    await B.until(() => statusAtLeast(B, sent[0].key.id, 4) && statusAtLeast(B, sent[1].key.id, 4), 'B sees r1, r2 read');
    const st = async () => Object.fromEntries((await list(srv, id)).filter((m) => rows.some((x) => x.id === m.id)).map((m) => [m.text, m.status]));
    assert.deepEqual(await st(), { r1: 'read', r2: 'read', r3: 'received' });
    assert.ok(!statusAtLeast(B, sent[2].key.id, 4), 'r3 not read yet');
    // the rest of the chat, by number
    const all = await req(srv, 'POST', `/api/v1/sessions/${id}/chats/%2B${B.phone}/read`, { body: {} });
    assert.equal(all.status, 200, all.text);
    assert.equal(all.body.read, 1);
    await B.until(() => statusAtLeast(B, sent[2].key.id, 4), 'B sees r3 read');
    const again = await req(srv, 'POST', `/api/v1/sessions/${id}/chats/${encodeURIComponent(chat)}/read`, { body: {} });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.read, 0, 'nothing left to read');
    assertError(await req(srv, 'POST', `/api/v1/sessions/${id}/chats/${encodeURIComponent(chat)}/read`, { body: { messageId: '00000000-0000-4000-8000-000000000000' } }), 404, 'MESSAGE_NOT_FOUND');
    assertError(await req(srv, 'POST', `/api/v1/sessions/${id}/chats/bad/read`, { body: {} }), 400, 'INVALID_PHONE_NUMBER');
  } finally {
    B.end();
    await stopServer(srv);
  }
});

// Polls: YesApp creates one, each of two Baileys peers (6 and 7, in their
// own 1:1 chat: groups are not done) votes on it. Baileys has no vote
// builder, so the test encrypts the vote as protocol-map.md §17.5 says and
// checks first that Baileys' own decryptPollVote opens it; YesApp must then
// decrypt and tally it, the latest vote of a voter replacing the earlier.
test('polls: created by YesApp, voted by Baileys 6 and 7 peers, tallied', async () => {
  const srv = await serveOnSim(sim, root, 'chatkinds-test-key-0123456789', { RATE_LIMIT_MESSAGES: '0' });
  const peers = [await peer(newPhone(), 'V6', 6), await peer(newPhone(), 'V7', 7)];
  const sha = (t) => createHash('sha256').update(t).digest();
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const usJid = `${us}@s.whatsapp.net`;
    const options = ['Red', 'Green', 'Blue 🔵'];
    async function vote(B, lib, poll, msg, names) {
      const secret = Buffer.from(msg.messageContextInfo.messageSecret);
      const voter = `${B.phone}@s.whatsapp.net`;
      const info = Buffer.concat([Buffer.from(poll.waId), Buffer.from(usJid), Buffer.from(voter), Buffer.from('Poll Vote')]);
      const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.concat([Buffer.from(poll.waId), Buffer.from([0]), Buffer.from(voter)]));
      const pt = lib.proto.Message.PollVoteMessage.encode({ selectedOptions: names.map(sha) }).finish();
      const encPayload = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
      // Baileys' decryptor agrees with the encoding
      const back = lib.decryptPollVote({ encPayload, encIv: iv },
        { pollCreatorJid: usJid, pollMsgId: poll.waId, pollEncKey: secret, voterJid: voter });
      assert.deepEqual(back.selectedOptions.map((h) => Buffer.from(h).toString('hex')), names.map((n) => sha(n).toString('hex')));
      await B.sock.relayMessage(usJid, { pollUpdateMessage: {
        pollCreationMessageKey: { remoteJid: usJid, fromMe: false, id: poll.waId },
        vote: { encPayload, encIv: iv }, senderTimestampMs: Date.now() } }, {});
    }
    const lib = {
      0: { ...libs[6], decryptPollVote: createRequire(import.meta.url)('baileys6').decryptPollVote },
      1: { ...libs[7], decryptPollVote: (await import('baileys7')).decryptPollVote },
    };
    const polls = [];
    for (const [i, B] of peers.entries()) {
      const r = await send(srv, id, { to: `+${B.phone}`, poll: { name: 'Colour?', options, selectableCount: i === 0 ? 1 : 0 } });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.type, 'poll');
      assert.equal(r.body.content.secret, undefined, 'the secret is not shown');
      const got = await B.until(() => B.upserts.find((u) => u.key.id === r.body.waId), `${B.name} gets the poll`);
      const pc = got.message.pollCreationMessageV3 || got.message.pollCreationMessage;
      assert.ok(i === 0 ? got.message.pollCreationMessageV3 : got.message.pollCreationMessage, 'V3 for single choice, V1 otherwise');
      assert.equal(pc.name, 'Colour?');
      assert.deepEqual(pc.options.map((o) => o.optionName), options);
      assert.equal(pc.selectableOptionsCount, i === 0 ? 1 : 0);
      assert.equal(got.message.messageContextInfo.messageSecret.length, 32);
      polls.push({ poll: r.body, msg: got.message });
    }
    const tally = async (k) => (await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${polls[k].poll.id}/poll`)).body;
    const counts = (t) => Object.fromEntries(t.options.map((o) => [o.name, o.votes]));
    // V6 votes Red, then changes its mind to Green: one vote, Green
    await vote(peers[0], lib[0], polls[0].poll, polls[0].msg, ['Red']);
    await until('first vote counted', async () => (await tally(0)).voters === 1);
    assert.deepEqual(counts(await tally(0)), { Red: 1, Green: 0, 'Blue 🔵': 0 });
    await sleep(5);
    await vote(peers[0], lib[0], polls[0].poll, polls[0].msg, ['Green']);
    await until('the vote replaced', async () => counts(await tally(0)).Green === 1);
    const t0 = await tally(0);
    assert.deepEqual(counts(t0), { Red: 0, Green: 1, 'Blue 🔵': 0 });
    assert.deepEqual(t0.options[1].voters, [{ from: `+${peers[0].phone}`, fromJid: `${peers[0].phone}@s.whatsapp.net` }]);
    assert.equal(t0.voters, 1);
    // V7 picks two on the multiple-choice poll, its vote reaching us by LID
    // (our account migrated: from=LID:dev@lid with sender_pn): the tally
    // still names it by phone number next to the JID
    const lf = await sim.api('POST', `/sim/accounts/${us}/lid-first`, { on: true });
    assert.equal(lf.status, 200, lf.text);
    await vote(peers[1], lib[1], polls[1].poll, polls[1].msg, ['Green', 'Blue 🔵']);
    await until('multiple choice counted', async () => (await tally(1)).voters === 1);
    const tl = await tally(1);
    assert.deepEqual(counts(tl), { Red: 0, Green: 1, 'Blue 🔵': 1 });
    const v7 = { from: `+${peers[1].phone}`, fromJid: `${peers[1].phone}@s.whatsapp.net` };
    assert.deepEqual(tl.options[1].voters, [v7]);
    assert.deepEqual([tl.votes[0].from, tl.votes[0].fromJid], [v7.from, v7.fromJid]);
    // each vote was an event with the options chosen
    const ev = (await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=message.poll_vote`)).body.data;
    assert.deepEqual(ev.map((e) => e.selected), [['Red'], ['Green'], ['Green', 'Blue 🔵']]);
    assert.equal(ev[2].messageId, polls[1].poll.id);

    // our own votes: sealed with the poll's secret, Baileys decrypts them
    // (its own decryptPollVote), and GET .../poll counts them
    const ourVote = (k, options) => req(srv, 'POST', `/api/v1/sessions/${id}/messages/${polls[k].poll.id}/poll/vote`, { body: { options } });
    const heard = async (k, B, names) => {
      const u = await B.until(() => B.upserts.find((x) => !x.key.fromMe && x.message?.pollUpdateMessage &&
        x.message.pollUpdateMessage.pollCreationMessageKey.id === polls[k].poll.waId && !x.seen && (x.seen = true)), `${B.name} gets our vote`);
      const pu = u.message.pollUpdateMessage;
      assert.equal(pu.pollCreationMessageKey.fromMe, false, 'the poll is ours: not fromMe for the peer');
      const back = lib[k].decryptPollVote(pu.vote, { pollCreatorJid: usJid, pollMsgId: polls[k].poll.waId,
        pollEncKey: Buffer.from(polls[k].msg.messageContextInfo.messageSecret), voterJid: usJid });
      assert.deepEqual(back.selectedOptions.map((h) => Buffer.from(h).toString('hex')), names.map((n) => sha(n).toString('hex')));
    };
    let r = await ourVote(1, ['Red', 'Green']);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.type, 'poll_vote');
    await heard(1, peers[1], ['Red', 'Green']);
    await until('our vote counted', async () => (await tally(1)).voters === 2);
    const t1 = await tally(1);
    assert.deepEqual(counts(t1), { Red: 1, Green: 2, 'Blue 🔵': 1 });
    assert.deepEqual(t1.options[0].voters, [{ from: `+${us}`, fromJid: usJid }]);
    r = await ourVote(0, ['Blue 🔵']);
    assert.equal(r.status, 202, r.text);
    await heard(0, peers[0], ['Blue 🔵']);
    await until('our vote on the single-choice poll', async () => counts(await tally(0))['Blue 🔵'] === 1);
    // withdrawn: [] reaches Baileys as an empty selection and leaves the tally
    await sleep(5);
    r = await ourVote(1, []);
    assert.equal(r.status, 202, r.text);
    await heard(1, peers[1], []);
    await until('our vote withdrawn', async () => (await tally(1)).voters === 1);
    // our own votes are evented as our reactions and edits are: no
    // message.poll_vote (that is a vote of someone else), but message.ack as
    // each of their rows is sent, like every message we send
    const withdrawn = r.body.id;
    const ack = await until('message.ack of our vote', async () =>
      (await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=message.ack&limit=500`)).body.data
        .find((e) => e.messageId === withdrawn));
    assert.equal(ack.type, 'poll_vote');
    assert.equal(ack.direction, 'outbound');
    assert.equal(ack.content.selected.length, 0);
    const rack = (await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=message.ack&limit=500`)).body.data;
    assert.ok(rack.some((e) => e.type === 'poll_vote' && e.messageId !== withdrawn), 'the other votes too');
    assert.equal((await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=message.poll_vote`)).body.data.length, 3);
    // a poll Baileys sent us: the creator is Baileys
    const B7 = peers[1];
    const bj = `${B7.phone}@s.whatsapp.net`;
    await B7.sock.sendMessage(usJid, { poll: { name: 'Tea?', values: ['yes', 'no'], selectableCount: 1 } });
    const theirs = await until('their poll stored', async () =>
      (await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=200`)).body.data.find((m) => m.type === 'poll' && m.direction === 'inbound'));
    const sent = await B7.until(() => B7.upserts.find((x) => x.key.fromMe && x.key.id === theirs.waId), 'Baileys keeps its poll');
    r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages/${theirs.id}/poll/vote`, { body: { options: ['no'] } });
    assert.equal(r.status, 202, r.text);
    const u = await B7.until(() => B7.upserts.find((x) => !x.key.fromMe && x.message?.pollUpdateMessage?.pollCreationMessageKey.id === theirs.waId), 'Baileys gets our vote on its poll');
    assert.equal(u.message.pollUpdateMessage.pollCreationMessageKey.fromMe, true, 'Baileys\' own poll');
    const back = lib[1].decryptPollVote(u.message.pollUpdateMessage.vote, { pollCreatorJid: bj, pollMsgId: theirs.waId,
      pollEncKey: Buffer.from(sent.message.messageContextInfo.messageSecret), voterJid: usJid });
    assert.deepEqual(back.selectedOptions.map((h) => Buffer.from(h).toString('hex')), [sha('no').toString('hex')]);
    await until('our vote on their poll counted', async () =>
      (await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${theirs.id}/poll`)).body.voters === 1);
    // bad votes
    const vote0 = (body, mid = polls[0].poll.id) => req(srv, 'POST', `/api/v1/sessions/${id}/messages/${mid}/poll/vote`, { body });
    for (const body of [{}, { options: 'Red' }, { options: ['Purple'] }, { options: ['Red', 'Green'] }, { options: ['Red', 'Red'] }, { options: [1] }, { options: ['Red'], x: 1 }])
      assertError(await vote0(body), 400, 'VALIDATION_ERROR');
    assertError(await vote0({ options: ['Red'] }, '00000000-0000-4000-8000-000000000000'), 404, 'MESSAGE_NOT_FOUND');
    // bad input
    const to = `+${peers[0].phone}`;
    assertError(await send(srv, id, { to, poll: { name: 'x', options: ['only one'] } }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, poll: { name: 'x', options: Array.from({ length: 13 }, (_, i) => `o${i}`) } }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, poll: { name: 'x', options: ['a', 'a'] } }), 400, 'VALIDATION_ERROR');
    assertError(await send(srv, id, { to, poll: { name: 'x', options: ['a', 'b'], selectableCount: 3 } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'GET', `/api/v1/sessions/${id}/messages/00000000-0000-4000-8000-000000000000/poll`), 404, 'MESSAGE_NOT_FOUND');
  } finally {
    for (const B of peers) B.end();
    await stopServer(srv);
  }
});

// The block list: ours through the API, kept as the simulator answers it;
// a Baileys peer's through Baileys' own calls on the same simulator.
for (const v of [6, 7]) test(`block list: block, list, unblock (Baileys ${v} on the same server)`, async () => {
  const srv = await serveOnSim(sim, root, 'chatkinds-test-key-0123456789', { RATE_LIMIT_MESSAGES: '0' });
  const B = await peer(newPhone(), `B${v}`, v);
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const base = `/api/v1/sessions/${id}/blocklist`;
    const jids = async () => (await req(srv, 'GET', base)).body.data;
    assert.deepEqual(await jids(), []);
    const b = await req(srv, 'POST', base, { body: { jid: `+${B.phone}`, action: 'block' } });
    assert.equal(b.status, 202, b.text);
    await until('blocked', async () => (await jids()).includes(`${B.phone}@s.whatsapp.net`));
    const other = newPhone();
    await sim.api('POST', '/sim/accounts', { phone: other });
    assert.equal((await req(srv, 'POST', base, { body: { jid: `${other}@s.whatsapp.net`, action: 'block' } })).status, 202);
    await until('two blocked', async () => (await jids()).length === 2);
    assert.equal((await req(srv, 'POST', base, { body: { jid: `+${B.phone}`, action: 'unblock' } })).status, 202);
    await until('unblocked', async () => JSON.stringify(await jids()) === JSON.stringify([`${other}@s.whatsapp.net`]));
    // Baileys' own block calls get the simulator's answers
    if (v === 6) {
      await B.sock.updateBlockStatus(`${us}@s.whatsapp.net`, 'block');
      assert.deepEqual(await B.sock.fetchBlocklist(), [`${us}@s.whatsapp.net`]);
      await B.sock.updateBlockStatus(`${us}@s.whatsapp.net`, 'unblock');
      assert.deepEqual(await B.sock.fetchBlocklist(), []);
    }
    assertError(await req(srv, 'POST', base, { body: { jid: `+${B.phone}`, action: 'ban' } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'POST', base, { body: { jid: 'nobody', action: 'block' } }), 400, 'VALIDATION_ERROR');
    // a session that does not exist has no block list (it was [] before)
    const gone = base.replace(id, '00000000-0000-4000-8000-000000000000');
    assertError(await req(srv, 'GET', gone), 404, 'SESSION_NOT_FOUND');
  } finally {
    B.end();
    await stopServer(srv);
  }
});

// Our about text, read back by Baileys' own fetchStatus (usync <status/>).
for (const v of [6, 7]) test(`about text set through the API, read by Baileys ${v}`, async () => {
  const srv = await serveOnSim(sim, root, 'chatkinds-test-key-0123456789', { RATE_LIMIT_MESSAGES: '0' });
  const B = await peer(newPhone(), `A${v}`, v);
  try {
    const us = newPhone();
    const id = await link(srv, us);
    const usJid = `${us}@s.whatsapp.net`;
    const about = async () => (await B.sock.fetchStatus(usJid))?.[0]?.status;
    const r = await req(srv, 'PUT', `/api/v1/sessions/${id}/profile/about`, { body: { text: 'Busy building bots 🤖' } });
    assert.equal(r.status, 202, r.text);
    const st = await until('B reads our about', async () => {
      const s = await about();
      return s?.status === 'Busy building bots 🤖' ? s : null;
    });
    assert.ok(st.setAt instanceof Date && st.setAt.getTime() > 0, JSON.stringify(st));
    assertError(await req(srv, 'PUT', `/api/v1/sessions/${id}/profile/about`, { body: { text: 'x'.repeat(140) } }), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'PUT', `/api/v1/sessions/${id}/profile/about`, { body: {} }), 400, 'VALIDATION_ERROR');
  } finally {
    B.end();
    await stopServer(srv);
  }
});
