// GET /api/v1/sessions/{id}/contacts/{phone}: a usync contact query run by
// the session's client on the loop, answered to the waiting HTTP thread —
// a Baileys 6 account is on WhatsApp (its JID and LID), a number the
// simulator does not know is not; bad numbers are 400; an unlinked session
// is 503; a simulator that does not answer in time is 504, and the
// waiting requests hold no HTTP thread meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopServer, req, assertError } from './lib.mjs';
import { startSim } from '../interop/sim-lib.mjs';
import { messaging } from './msg-lib.mjs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const Database = createRequire(import.meta.url)('better-sqlite3');

let sim, h;
before(async () => {
  sim = await startSim();
  h = await messaging(sim, { prefix: '1553' });
});
after(async () => { await sim.stop(); });

test('contacts: on WhatsApp with JID and LID, not on WhatsApp, bad input, 503, 504', { timeout: 120000 }, async () => {
  const srv = await h.serve();
  const B = await h.peer(h.newPhone(), 'Bl');
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const get = (phone) => req(srv, 'GET', `/api/v1/sessions/${id}/contacts/${phone}`);
    const lid = (await sim.api('GET', `/sim/accounts/${B.phone}/devices`)).json.lid;
    for (const form of [`%2B${B.phone}`, B.phone]) {
      const r = await get(form);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { phone: `+${B.phone}`, onWhatsApp: true, jid: `${B.phone}@s.whatsapp.net`, lid: `${lid}@lid`, about: null });
    }
    // the LID the lookup gave is kept in the session's LID map
    const lidMap = await h.until('the LID map row', async () => {
      const db = new Database(join(srv.dataDir, 'db.sqlite'), { readonly: true, fileMustExist: true });
      try {
        return db.prepare('SELECT lid, pn FROM wa_lid_map WHERE session_id = ? AND lid = ?').get(id, lid);
      } finally { db.close(); }
    });
    assert.deepEqual({ ...lidMap }, { lid, pn: B.phone });
    const none = await get('+19998887776');
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.body, { phone: '+19998887776', onWhatsApp: false, jid: null, lid: null, about: null });
    for (const bad of ['123', 'abc', '%2B0123456789', '1234567890123456', `${B.phone}@s.whatsapp.net`])
      assertError(await get(bad), 400, 'INVALID_PHONE_NUMBER');
    assertError(await req(srv, 'GET', `/api/v1/sessions/00000000-0000-4000-8000-000000000000/contacts/${B.phone}`), 404, 'SESSION_NOT_FOUND');
    const un = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'unlinked' } });
    assertError(await req(srv, 'GET', `/api/v1/sessions/${un.body.id}/contacts/${B.phone}`), 503, 'SESSION_NOT_CONNECTED');

    // the simulator answers 20 s late: 504 after the wait
    await sim.api('POST', '/sim/faults', { latencyMs: 20000 });
    // while 4 lookups wait (more than the server's 2 HTTP threads), other
    // requests are answered at once: a waiting lookup holds no thread
    const t0 = Date.now();
    const slow = Array.from({ length: 4 }, () => get(B.phone));
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 6; i++) {
      const t = Date.now();
      const hr = await req(srv, 'GET', `/api/v1/sessions/${id}/chats`);
      assert.equal(hr.status, 200, hr.text);
      assert.ok(Date.now() - t < 2000, `answered in ${Date.now() - t} ms while lookups wait`);
    }
    for (const r of await Promise.all(slow)) assertError(r, 504, 'UPSTREAM_TIMEOUT');
    assert.ok(Date.now() - t0 >= 7000, `waited ${Date.now() - t0} ms`);
  } finally {
    await sim.api('POST', '/sim/faults', { latencyMs: 0 });
    B.end();
    await stopServer(srv);
  }
});
