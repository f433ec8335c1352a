// Logs carry the session: a `yesapp serve` on `yesapp sim` (LOG_LEVEL=debug)
// drives one session through link (QR scan), an outbound and an inbound
// message with a Baileys 6 peer, logout and restart; then every log line
// between start-up and shutdown that is not an HTTP thread's (the WhatsApp
// client's and the engine's work, on the loop thread and the worker) must
// carry the session's id as `session`, set at the dispatch points, not
// passed by each call site. Lines that are about no one session are listed
// by name below (ENGINE_WIDE) and must not name a session either.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopServer, req } from './lib.mjs';
import { startSim } from '../interop/sim-lib.mjs';
import { messaging } from './msg-lib.mjs';

let sim, h;
before(async () => {
  sim = await startSim();
  h = await messaging(sim, { prefix: '1561' });
});
after(async () => { await sim.stop(); });

// Lines of the client and engine that are about the whole engine, not one
// session; none shows up in this run today, but one that does must be
// listed here and then must not name a session.
const ENGINE_WIDE = new Set([
  'engine cannot write Signal state',
  'engine: WhatsApp Web version changed',
  'engine: sockets still open at shutdown',
  'engine cannot write Signal state at stop',
]);

// Lines written by the HTTP threads (one per request), which work for a
// request, not on the loop or the worker.
const HTTP_LINES = new Set(['request']);

test('every client/engine log line of a session carries its id as `session`', async () => {
  const srv = await h.serve(undefined, { LOG_LEVEL: 'debug' });
  const B = await h.peer(h.newPhone(), 'Blog');
  let id;
  try {
    const us = h.newPhone();
    id = await h.link(srv, us);
    // outbound: API -> B
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: `+${B.phone}`, text: 'log me' } });
    assert.equal(r.status, 202, r.text);
    await B.until(() => B.upserts.some((u) => !u.key.fromMe && u.key.id === r.body.waId), 'B receives ours');
    await h.until('ours delivered', async () =>
      (await h.list(srv, id)).some((m) => m.id === r.body.id && m.status === 'delivered'));
    // inbound: B -> us
    const m = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'log you' });
    await h.until('B\'s stored', async () => (await h.list(srv, id)).some((x) => x.waId === m.key.id));
    // logout
    const lo = await req(srv, 'POST', `/api/v1/sessions/${id}/logout`);
    assert.equal(lo.status, 200, lo.text);
    await h.until('logged_out', async () =>
      (await req(srv, 'GET', `/api/v1/sessions/${id}`)).body.status === 'logged_out');
    // and linking again: the restart frees the logged-out client (its
    // connection dropped inside the engine's command) and shows a QR
    const rs = await req(srv, 'POST', `/api/v1/sessions/${id}/restart`);
    assert.equal(rs.status, 200, rs.text);
    await h.until('a new QR', async () => {
      const g = (await req(srv, 'GET', `/api/v1/sessions/${id}`)).body;
      return g.status === 'qr' && g.qrCode;
    });
  } finally {
    B.end();
    await stopServer(srv);
  }
  // every line between start-up and shutdown is the loop's or the worker's
  // work for this one session, except the HTTP threads' and the allow-list
  const from = srv.logs.findIndex((l) => l.message === 'listening');
  const to = srv.logs.findIndex((l) => l.message === 'shutting down');
  assert.ok(from >= 0 && to > from, 'start-up and shutdown lines');
  const about = srv.logs.slice(from + 1, to).filter((l) => !HTTP_LINES.has(l.message));
  // the run went through each phase, on the loop and on the worker, and
  // logged it (else this test would check nothing)
  const phases = [
    (l) => l.message === 'client paired',
    (l) => l.message === 'client prekeys uploaded',
    (l) => l.message === 'client state' && l.to === 'connected',
    (l) => l.message === 'client state' && l.to === 'logged_out',
    (l) => l.message === 'client state' && l.from === 'connecting' && l.to === 'qr',
    (l) => l.message === 'engine command done', // the loop's command dispatch
    (l) => l.message === 'engine job done',     // the worker's job dispatch
  ];
  for (const p of phases) assert.ok(about.some(p), `a line for ${p}`);
  const missing = about.filter((l) => !ENGINE_WIDE.has(l.message) && l.session !== id);
  assert.deepEqual(missing.map((l) => `${l.message} (session ${l.session})`), [],
    'loop/worker lines without the session');
  const wide = about.filter((l) => ENGINE_WIDE.has(l.message) && l.session !== undefined);
  assert.deepEqual(wide.map((l) => l.message), [], 'engine-wide lines that name a session');
});
