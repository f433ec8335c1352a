// LID-first addressing end to end (protocol-map.md §13-§14): a real
// `yesapp serve` linked to `yesapp sim`, Baileys 7 and Baileys 6 peers.
// A conversation begun by phone number moves to the peer's LID once:
// its session is moved, not rebuilt (no prekey fetch on the simulator);
// with the simulator's LID-first switch on for our account every message
// reaches us by LID, and the API still shows `from`/`to` as phone numbers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopServer, req, tempDir, removeDir } from './lib.mjs';
import { startSim, textOf } from '../interop/sim-lib.mjs';
import { messaging } from './msg-lib.mjs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const Database = createRequire(import.meta.url)('better-sqlite3');

let sim, h;
before(async () => {
  sim = await startSim();
  h = await messaging(sim, { key: 'lid-test-key-0123456789', prefix: '1558' });
});
after(async () => { await sim.stop(); });

const lidOf = async (phone) => (await sim.api('POST', '/sim/accounts', { phone })).json.lid;
const stats = async () => (await sim.api('GET', '/sim/stats')).json;
const byWaId = (srv, id, waId) => h.until(`message ${waId} listed`, async () =>
  (await h.list(srv, id)).find((m) => m.waId === waId));
const statusAtLeast = (srv, id, mid, want) => h.until(`${mid} ${want}`, async () => {
  const order = ['pending', 'sent', 'delivered', 'read'];
  const m = (await h.list(srv, id)).find((x) => x.id === mid);
  return m && order.indexOf(m.status) >= order.indexOf(want) ? m : null;
});
// B received `text` from us (under our number or our LID)
const gotFromUs = (B, usPhone, usLid, text) => B.upserts.find((u) => !u.key.fromMe &&
  (u.key.remoteJid === `${usPhone}@s.whatsapp.net` || u.key.remoteJid === `${usLid}@lid`) &&
  textOf(u.message) === text);

async function apiSend(srv, id, phone, text) {
  const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: `+${phone}`, text } });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.body.to, `+${phone}`);
  return r.body;
}

test('a phone-number session from before LIDs moves to the LID once: no prekey fetch, Baileys 7 goes on', async () => {
  const dir = tempDir();
  const B7 = await h.peer(h.newPhone(), 'B7m', 7);
  const us = h.newPhone();
  let srv;
  try {
    // 1. our client as it was before LIDs (the simulator hides them from
    //    our account: no <lid> in usync, no sender_lid): the conversation
    //    with Baileys 7 is set up both ways, our sessions by phone number
    const usLid = await lidOf(us);
    const b7Lid = await lidOf(B7.phone);
    assert.equal((await sim.api('POST', `/sim/accounts/${us}/lid-hidden`, { on: 'x' })).status, 400);
    assert.equal((await sim.api('POST', `/sim/accounts/${us}/lid-hidden`, { on: true })).json.lidHidden, true);
    srv = await h.serve(dir);
    const id = await h.link(srv, us);
    const a0 = await apiSend(srv, id, B7.phone, 'before LIDs');
    await B7.until(() => gotFromUs(B7, us, usLid, a0.text), 'B7 gets the first');
    await statusAtLeast(srv, id, a0.id, 'delivered');
    const m0 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 before LIDs' });
    assert.equal((await byWaId(srv, id, m0.key.id)).from, `+${B7.phone}`);
    assert.ok(!srv.logs.some((l) => l.message === 'client session moved to the LID address'));
    await stopServer(srv, { removeData: false });
    srv = null;

    // 2. LIDs arrive (and a fresh server asks usync again): the next
    //    message goes by LID on the moved sessions, no bundle fetched
    assert.equal((await sim.api('POST', `/sim/accounts/${us}/lid-hidden`, { on: false })).json.lidHidden, false);
    srv = await h.serve(dir);
    await h.connected(srv, id);
    const f0 = (await stats()).prekeyFetches;
    const a1 = await apiSend(srv, id, B7.phone, 'after LIDs');
    const g1 = await B7.until(() => gotFromUs(B7, us, usLid, a1.text), 'B7 gets our LID message');
    assert.equal(g1.key.id, a1.waId);
    await statusAtLeast(srv, id, a1.id, 'delivered');
    assert.equal((await stats()).prekeyFetches - f0, 0, 'the sessions were moved, not rebuilt');
    assert.ok(srv.logs.some((l) => l.message === 'client session moved to the LID address' &&
      l.from === B7.phone && l.to === `${b7Lid}_1` && l.device === 1), 'the move is logged');
    const out1 = (await h.list(srv, id)).find((m) => m.id === a1.id);
    assert.equal(out1.to, `+${B7.phone}`, 'the API shows the phone number, not the LID');
    // and Baileys 7 answers on the same conversation
    const m1 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 answers' });
    const in1 = await byWaId(srv, id, m1.key.id);
    assert.equal(in1.from, `+${B7.phone}`);
    assert.equal(in1.text, 'B7 answers');
    assert.equal((await stats()).prekeyFetches - f0, 0, 'still no bundle');
  } finally {
    B7.end();
    if (srv) await stopServer(srv, { removeData: false });
    removeDir(dir);
  }
});

test('a LID-first account talks both ways with Baileys 7 and 6; from/to stay phone numbers; the LID map is kept', async () => {
  const srv = await h.serve();
  const us = h.newPhone();
  const B7 = await h.peer(h.newPhone(), 'B7', 7);
  const B6 = await h.peer(h.newPhone(), 'B6', 6);
  try {
    const id = await h.link(srv, us);
    const usLid = await lidOf(us);
    const b7Lid = await lidOf(B7.phone);
    const b6Lid = await lidOf(B6.phone);

    // 1. Baileys 7 begins the conversation by phone number (with sender_lid)
    const m1 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 by phone' });
    const in1 = await byWaId(srv, id, m1.key.id);
    assert.equal(in1.from, `+${B7.phone}`);
    assert.equal(in1.to, `+${us}`);

    // warm-up: a first message to Baileys 6 builds our sessions with our own
    // devices under our LID, so what follows counts only the peer's bundles
    const w = await apiSend(srv, id, B6.phone, 'warm-up to B6');
    await B6.until(() => gotFromUs(B6, us, usLid, w.text), 'B6 gets the warm-up');

    // 2. our answer goes by LID (the usync answer gives Baileys 7's LID)
    const a1 = await apiSend(srv, id, B7.phone, 'answer by LID');
    const g1 = await B7.until(() => gotFromUs(B7, us, usLid, a1.text), 'B7 gets our answer');
    assert.equal(g1.key.id, a1.waId);
    await statusAtLeast(srv, id, a1.id, 'delivered');
    const out1 = (await h.list(srv, id)).find((m) => m.id === a1.id);
    assert.equal(out1.to, `+${B7.phone}`, 'the API shows the phone number, not the LID');

    // 3. our account becomes LID-first on the simulator: everything reaching
    //    us names the peer by LID; the API still shows phone numbers
    const sw = await sim.api('POST', `/sim/accounts/${us}/lid-first`, { on: true });
    assert.equal(sw.status, 200, sw.text);
    const m2 = await B7.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B7 to a LID-first account' });
    const in2 = await byWaId(srv, id, m2.key.id);
    assert.equal(in2.from, `+${B7.phone}`);
    assert.equal(in2.text, 'B7 to a LID-first account');
    const a2 = await apiSend(srv, id, B7.phone, 'LID-first -> B7');
    await B7.until(() => gotFromUs(B7, us, usLid, a2.text), 'B7 gets a2');
    await statusAtLeast(srv, id, a2.id, 'delivered');

    // 4. Baileys 6, both ways, with our account LID-first
    const m3 = await B6.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'B6 to a LID-first account' });
    const in3 = await byWaId(srv, id, m3.key.id);
    assert.equal(in3.from, `+${B6.phone}`, 'the sender by phone although it came by LID');
    assert.equal(in3.text, 'B6 to a LID-first account');
    const a3 = await apiSend(srv, id, B6.phone, 'LID-first -> B6');
    await B6.until(() => gotFromUs(B6, us, usLid, a3.text), 'B6 gets a3', 30000);
    await statusAtLeast(srv, id, a3.id, 'delivered');

    // the map is kept (wa_lid_map), from usync answers and sender_pn
    const db = new Database(join(srv.dataDir, 'db.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const map = await h.until('both LIDs mapped', async () => {
        const rows = db.prepare('SELECT lid, pn FROM wa_lid_map WHERE session_id = ?').all(id);
        return rows.some((r) => r.lid === b7Lid && r.pn === B7.phone) &&
          rows.some((r) => r.lid === b6Lid && r.pn === B6.phone) ? rows : null;
      });
      assert.ok(map.length >= 2);
    } finally {
      db.close();
    }
    assert.equal((await stats()).errors, 0);
  } finally {
    B7.end();
    B6.end();
    await stopServer(srv);
  }
});
