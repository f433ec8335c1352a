// Privacy tokens (tctoken, docs/engine.md "Privacy tokens") end to end: a
// real `yesapp serve` linked to `yesapp sim`, judged by unmodified Baileys 7
// (which issues and attaches tokens) and Baileys 6 (which does neither).
// The simulator mints each token, tells the contact's devices, and checks
// every 1:1 message's <tctoken> against what the recipient issued the
// sender (GET /sim/stats tctoken: valid / invalid / missing / refused).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { stopServer, req, tempDir, removeDir } from './lib.mjs';
import { startSim, textOf } from '../interop/sim-lib.mjs';
import { messaging } from './msg-lib.mjs';

const Database = createRequire(import.meta.url)('better-sqlite3');

let sim, h;
before(async () => {
  sim = await startSim();
  h = await messaging(sim, { key: 'tctoken-test-key-0123456789', prefix: '1559' });
});
after(async () => { await sim.stop(); });

const tc = async () => (await sim.api('GET', '/sim/stats')).json.tctoken;
const lidOf = async (phone) => (await sim.api('POST', '/sim/accounts', { phone })).json.lid;
const byWaId = (srv, id, waId) => h.until(`message ${waId} listed`, async () =>
  (await h.list(srv, id)).find((m) => m.waId === waId));
const statusOf = (srv, id, mid, want) => h.until(`${mid} ${want.join('|')}`, async () => {
  const m = (await h.list(srv, id)).find((x) => x.id === mid);
  return m && want.includes(m.status) ? m : null;
});
const gotFromUs = (B, us, usLid, text) => B.upserts.find((u) => !u.key.fromMe &&
  (u.key.remoteJid === `${us}@s.whatsapp.net` || u.key.remoteJid === `${usLid}@lid`) &&
  textOf(u.message) === text);

async function apiSend(srv, id, phone, text) {
  const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: `+${phone}`, text } });
  assert.equal(r.status, 202, r.text);
  return r.body;
}

// the rows of wa_tctokens for session id
const tokenRows = (dir, id) => {
  const db = new Database(join(dir, 'db.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT jid, length(token) AS len, t, sender_t FROM wa_tctokens WHERE session_id = ?').all(id);
  } finally { db.close(); }
};

test('tokens both ways with Baileys 7: issued after a send, kept, attached and valid; they survive a restart', async () => {
  const dir = tempDir();
  const us = h.newPhone();
  const B7 = await h.peer(h.newPhone(), 'B7t', 7);
  let srv;
  try {
    const usLid = await lidOf(us);
    const b7Lid = await lidOf(B7.phone);
    srv = await h.serve(dir);
    const id = await h.link(srv, us);

    // 1. Baileys 7 writes first: it issues us a token, which we keep under its LID
    const s0 = await tc();
    const m1 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 first' });
    await byWaId(srv, id, m1.key.id);
    await h.until('our token row for B7', async () =>
      tokenRows(dir, id).find((r) => r.jid === `${b7Lid}@lid` && r.len === 32 && r.t > 0));
    assert.ok((await tc()).issued > s0.issued, 'Baileys 7 issued a token');

    // 2. our next message to it carries that token: the simulator finds it valid
    const s1 = await tc();
    const a1 = await apiSend(srv, id, B7.phone, 'our answer with a token');
    await B7.until(() => gotFromUs(B7, us, usLid, a1.text), 'B7 gets our answer');
    const s2 = await tc();
    assert.equal(s2.valid - s1.valid, 1, `our message carried a valid token: ${JSON.stringify(s2)}`);
    assert.equal(s2.invalid - s1.invalid, 0);

    // 3. that send issued Baileys 7 our token (once: the bucket rule), which it keeps
    await h.until('B7 holds our token', async () => {
      const got = await B7.state.keys.get('tctoken', [`${usLid}@lid`]);
      return got[`${usLid}@lid`]?.token?.length === 32;
    });
    const row = await h.until('sender_t kept', async () =>
      tokenRows(dir, id).find((r) => r.jid === `${b7Lid}@lid` && r.sender_t > 0));
    assert.ok(Math.abs(row.sender_t - Date.now() / 1000) < 120, `sender_t ${row.sender_t} is now`);

    // 4. its reply carries our token: valid
    const s3 = await tc();
    const m2 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 replies with our token' });
    await byWaId(srv, id, m2.key.id);
    const s4 = await tc();
    assert.equal(s4.valid - s3.valid, 1, `Baileys 7's reply carried a valid token: ${JSON.stringify(s4)}`);

    // 4b. a token the simulator did not mint for this pair is invalid (and
    //     the message, from an account that is not restricted, still goes)
    const held = (await B7.state.keys.get('tctoken', [`${usLid}@lid`]))[`${usLid}@lid`];
    await B7.state.keys.set({ tctoken: { [`${usLid}@lid`]: { ...held, token: Buffer.alloc(32, 1) } } });
    const m3 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 with a forged token' });
    await byWaId(srv, id, m3.key.id);
    const s4b = await tc();
    assert.equal(s4b.invalid - s4.invalid, 1, `a forged token is invalid: ${JSON.stringify(s4b)}`);
    assert.equal(s4b.valid, s4.valid);
    await B7.state.keys.set({ tctoken: { [`${usLid}@lid`]: held } });

    // 5. a second message in the same bucket issues nothing new
    const a2 = await apiSend(srv, id, B7.phone, 'second in the bucket');
    await B7.until(() => gotFromUs(B7, us, usLid, a2.text), 'B7 gets the second');
    const s5 = await tc();
    assert.equal(s5.issued, s4b.issued, 'no second issue within the 7-day bucket');
    assert.equal(s5.valid - s4b.valid, 1);

    // 6. after a restart of yesapp the token is still attached
    await stopServer(srv, { removeData: false });
    srv = await h.serve(dir);
    await h.connected(srv, id);
    const s6 = await tc();
    const a3 = await apiSend(srv, id, B7.phone, 'after a restart');
    await B7.until(() => gotFromUs(B7, us, usLid, a3.text), 'B7 gets the message after the restart');
    const s7 = await tc();
    assert.equal(s7.valid - s6.valid, 1, `the token survived the restart: ${JSON.stringify(s7)}`);
    assert.equal(s7.issued, s6.issued, 'and when we last issued one survived too');
  } finally {
    B7.end();
    if (srv) await stopServer(srv, { removeData: false });
    removeDir(dir);
  }
});

test('a restricted account: a send without a token fails with ack_error_463; once the peer issued one it goes through', async () => {
  const dir = tempDir();
  const srv = await h.serve(dir);
  const us = h.newPhone();
  const B7 = await h.peer(h.newPhone(), 'B7r', 7);
  try {
    const usLid = await lidOf(us);
    const b7Lid = await lidOf(B7.phone);
    const id = await h.link(srv, us);
    assert.equal((await sim.api('POST', `/sim/accounts/${us}/restricted`, { on: 1 })).status, 400);
    const sw = await sim.api('POST', `/sim/accounts/${us}/restricted`, { on: true });
    assert.equal(sw.status, 200, sw.text);
    assert.equal(sw.json.restricted, true);

    // 1. no token from Baileys 7 yet: refused
    const s0 = await tc();
    const a1 = await apiSend(srv, id, B7.phone, 'reaching out');
    const f = await statusOf(srv, id, a1.id, ['failed', 'sent', 'delivered']);
    assert.equal(f.status, 'failed');
    assert.equal(f.reason, 'ack_error_463');
    assert.equal((await tc()).refused - s0.refused, 1);
    assert.ok(!gotFromUs(B7, us, usLid, a1.text), 'nothing reached Baileys 7');

    // 2. Baileys 7 writes to us (and issues us a token): our next send goes through
    const m1 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 writes first' });
    await byWaId(srv, id, m1.key.id);
    await h.until('our token row for B7', async () =>
      tokenRows(dir, id).find((r) => r.jid === `${b7Lid}@lid` && r.len === 32));
    const a2 = await apiSend(srv, id, B7.phone, 'answer with its token');
    const ok = await statusOf(srv, id, a2.id, ['failed', 'delivered', 'read']);
    assert.equal(ok.status, 'delivered', JSON.stringify(ok));
    await B7.until(() => gotFromUs(B7, us, usLid, a2.text), 'B7 gets the answer');
    assert.equal((await tc()).refused - s0.refused, 1, 'no second refusal');
  } finally {
    B7.end();
    await sim.api('POST', `/sim/accounts/${us}/restricted`, { on: false });
    await stopServer(srv, { removeData: false });
    removeDir(dir);
  }
});

test('Baileys 6 peers (no tokens) still talk both ways; our messages to them carry none', async () => {
  const srv = await h.serve();
  const us = h.newPhone();
  const B6 = await h.peer(h.newPhone(), 'B6t', 6);
  try {
    const usLid = await lidOf(us);
    const id = await h.link(srv, us);
    const m1 = await B6.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B6 first' });
    assert.equal((await byWaId(srv, id, m1.key.id)).text, 'B6 first');
    const s0 = await tc();
    const a1 = await apiSend(srv, id, B6.phone, 'to B6');
    await B6.until(() => gotFromUs(B6, us, usLid, a1.text), 'B6 gets ours');
    await statusOf(srv, id, a1.id, ['delivered', 'read']);
    const s1 = await tc();
    // (a retry answered for Baileys 6 is a message too: at least one)
    assert.ok(s1.missing - s0.missing >= 1, `no token to attach: counted missing ${JSON.stringify(s1)}`);
    assert.equal(s1.valid - s0.valid, 0);
    assert.equal(s1.invalid - s0.invalid, 0);
  } finally {
    B6.end();
    await stopServer(srv);
  }
});

test('the server\'s prop 10518 off: our messages carry no token though one is held', async () => {
  const dir = tempDir();
  const us = h.newPhone();
  const B7 = await h.peer(h.newPhone(), 'B7p', 7);
  let srv;
  try {
    const usLid = await lidOf(us);
    const b7Lid = await lidOf(B7.phone);
    assert.equal((await sim.api('POST', '/sim/config', { privacyTokens: 'no' })).status, 400);
    const off = await sim.api('POST', '/sim/config', { privacyTokens: false });
    assert.equal(off.json.privacyTokens, false, off.text);
    srv = await h.serve(dir);
    const id = await h.link(srv, us); // reads the props at login
    const m1 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 issues a token' });
    await byWaId(srv, id, m1.key.id);
    await h.until('our token row for B7', async () =>
      tokenRows(dir, id).find((r) => r.jid === `${b7Lid}@lid` && r.len === 32));
    const s0 = await tc();
    const a1 = await apiSend(srv, id, B7.phone, 'no token with 10518 off');
    await B7.until(() => gotFromUs(B7, us, usLid, a1.text), 'B7 gets it');
    const s1 = await tc();
    assert.equal(s1.valid - s0.valid, 0, JSON.stringify(s1));
    assert.equal(s1.missing - s0.missing, 1);
    // on again: read at the next login (a restart), the held token goes out
    assert.equal((await sim.api('POST', '/sim/config', { privacyTokens: true })).json.privacyTokens, true);
    await stopServer(srv, { removeData: false });
    srv = await h.serve(dir);
    await h.connected(srv, id);
    const a2 = await apiSend(srv, id, B7.phone, 'token with 10518 on');
    await B7.until(() => gotFromUs(B7, us, usLid, a2.text), 'B7 gets the second');
    assert.equal((await tc()).valid - s1.valid, 1);
  } finally {
    await sim.api('POST', '/sim/config', { privacyTokens: true });
    B7.end();
    if (srv) await stopServer(srv, { removeData: false });
    removeDir(dir);
  }
});
