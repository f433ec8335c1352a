// GET /api/v1/sessions/{id}/chats and the filters of GET .../messages,
// through `yesapp serve` linked to `yesapp sim` with two Baileys 6 peers:
// chats come latest activity first with their latest message and how many
// inbound messages we have not read (POST .../read lowers it), pages by
// cursor; chat=, direction=, status=, since=, until= narrow the messages,
// and bad values are 400 VALIDATION_ERROR naming the field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopServer, req, assertError, ISO_RE } from './lib.mjs';
import { startSim } from '../interop/sim-lib.mjs';
import { messaging } from './msg-lib.mjs';

let sim, h;
before(async () => {
  sim = await startSim();
  h = await messaging(sim, { prefix: '1558' });
});
after(async () => { await sim.stop(); });

test('chats: latest activity first, last message, unread; message filters', async () => {
  const srv = await h.serve();
  const B = await h.peer(h.newPhone(), 'Bc');
  const C = await h.peer(h.newPhone(), 'Cc');
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const chats = async (q = '') => {
      const r = await req(srv, 'GET', `/api/v1/sessions/${id}/chats${q}`);
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    assert.deepEqual(await chats(), { data: [], nextCursor: null });
    const stored = async (m) => h.until(`${m.key.id} stored`, async () =>
      (await h.list(srv, id)).find((x) => x.waId === m.key.id));
    const b1 = await stored(await B.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'b1' }));
    const b2 = await stored(await B.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'b2' }));
    const c1 = await stored(await C.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'c1' }));
    // ours to B, a moment later than C's (inbound times have second precision)
    await h.until('a new second', async () => Date.now() >= Date.parse(c1.timestamp) + 1000);
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: `+${B.phone}`, text: 'to B' } });
    assert.equal(r.status, 202, r.text);
    // B has it before the test ends (its first decrypt under our LID may go
    // through a retry receipt)
    await B.until(() => h.fromUs(B, us).some((x) => x.text === 'to B'), 'B has "to B"', 30000);

    let page = await chats();
    assert.equal(page.nextCursor, null);
    assert.deepEqual(page.data.map((c) => c.phone), [`+${B.phone}`, `+${C.phone}`]);
    const [cb, cc] = page.data;
    assert.equal(cb.chat, `${B.phone}@s.whatsapp.net`);
    assert.equal(cb.name, null);
    assert.equal(cb.unread, 2);
    assert.equal(cb.lastMessage.id, r.body.id);
    assert.equal(cb.lastMessage.text, 'to B');
    assert.equal(cb.lastMessage.direction, 'outbound');
    assert.match(cb.lastMessageAt, ISO_RE);
    assert.equal(cb.lastMessageAt, cb.lastMessage.timestamp);
    assert.equal(cc.unread, 1);
    assert.equal(cc.lastMessage.id, c1.id);
    assert.equal(cc.lastMessage.from, `+${C.phone}`);

    // reading one of B's: unread 1; reading it again changes nothing
    for (let i = 0; i < 2; i++) {
      const rd = await req(srv, 'POST', `/api/v1/sessions/${id}/messages/${b1.id}/read`);
      assert.equal(rd.status, 200, rd.text);
    }
    assert.equal((await chats()).data[0].unread, 1);

    // pages of one
    const p1 = await chats('?limit=1');
    assert.equal(p1.data.length, 1);
    assert.equal(p1.data[0].phone, `+${B.phone}`);
    assert.equal(typeof p1.nextCursor, 'string');
    const p2 = await chats(`?limit=1&cursor=${p1.nextCursor}`);
    assert.deepEqual(p2.data.map((c) => c.phone), [`+${C.phone}`]);
    assert.equal(p2.nextCursor, null);
    assertError(await req(srv, 'GET', `/api/v1/sessions/${id}/chats?cursor=nope`), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'GET', `/api/v1/sessions/${id}/chats?limit=0`), 400, 'VALIDATION_ERROR');
    // a messages cursor is not a chats cursor
    const mp = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=1`);
    assertError(await req(srv, 'GET', `/api/v1/sessions/${id}/chats?cursor=${mp.body.nextCursor}`), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'GET', '/api/v1/sessions/00000000-0000-4000-8000-000000000000/chats'), 404, 'SESSION_NOT_FOUND');

    // filters on the messages
    const all = await h.list(srv, id);
    const ids = (list) => list.map((m) => m.id).sort();
    const want = (pred) => ids(all.filter(pred));
    assert.deepEqual(ids(await h.list(srv, id, `chat=%2B${B.phone}`)), ids([b1, b2, r.body]));
    assert.deepEqual(ids(await h.list(srv, id, `chat=${B.phone}@s.whatsapp.net`)), ids([b1, b2, r.body]));
    assert.deepEqual(ids(await h.list(srv, id, `chat=${C.phone}`)), [c1.id]);
    assert.deepEqual(ids(await h.list(srv, id, 'direction=in')), want((m) => m.direction === 'inbound'));
    assert.deepEqual(ids(await h.list(srv, id, 'direction=out')), want((m) => m.direction === 'outbound'));
    assert.ok(all.some((m) => m.direction === 'outbound') && all.some((m) => m.direction === 'inbound'));
    assert.deepEqual(ids(await h.list(srv, id, 'status=received')), [b2.id, c1.id].sort());
    assert.deepEqual(ids(await h.list(srv, id, 'status=read&direction=in')), [b1.id]);
    assert.deepEqual(ids(await h.list(srv, id, `direction=in&chat=%2B${B.phone}&status=received`)), [b2.id]);
    const t = Date.parse(c1.timestamp);
    const iso = (ms) => new Date(ms).toISOString();
    assert.deepEqual(ids(await h.list(srv, id, `since=${iso(t)}`)), want((m) => Date.parse(m.timestamp) >= t));
    assert.deepEqual(ids(await h.list(srv, id, `until=${iso(t)}`)), want((m) => Date.parse(m.timestamp) <= t));
    assert.deepEqual(ids(await h.list(srv, id, `since=${iso(t)}&until=${iso(t)}`)), want((m) => Date.parse(m.timestamp) === t));
    assert.ok(ids(await h.list(srv, id, `since=${iso(t)}`)).includes(r.body.id));
    // an offset time is the same instant
    const plus2 = new Date(t + 2 * 3600e3).toISOString().replace('Z', '+02:00');
    assert.deepEqual(ids(await h.list(srv, id, `since=${encodeURIComponent(plus2)}`)), want((m) => Date.parse(m.timestamp) >= t));
    // filtered pages carry on with the same filter
    const f1 = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?direction=in&limit=2`);
    assert.equal(f1.status, 200, f1.text);
    assert.equal(f1.body.data.length, 2);
    const f2 = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?direction=in&limit=2&cursor=${f1.body.nextCursor}`);
    assert.equal(f2.status, 200, f2.text);
    assert.deepEqual(ids([...f1.body.data, ...f2.body.data]), want((m) => m.direction === 'inbound'));

    for (const [q, field] of [['chat=abc', 'chat'], ['chat=123@example.com', 'chat'], ['chat=', 'chat'],
      ['direction=sideways', 'direction'], ['direction', 'direction'], ['status=queued', 'status'],
      ['since=yesterday', 'since'], ['since=2026-02-30', 'since'], ['until=2026-01-02T03:04:05', 'until'],
      [`since=${iso(t)}&until=${iso(t - 1000)}`, 'until']]) {
      const bad = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?${q}`);
      assertError(bad, 400, 'VALIDATION_ERROR');
      assert.equal(bad.body.details.field, field, `${q}: ${bad.text}`);
    }
  } finally {
    B.end();
    C.end();
    await stopServer(srv);
  }
});
