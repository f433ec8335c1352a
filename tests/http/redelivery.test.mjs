// A message the server redelivers after we stored it (our ack did not
// reach it: the connection dropped, or kill -9 came first) is acknowledged
// this time and is not stored twice — before the fix it got a receipt and
// no ack, so the simulator, like WhatsApp, redelivered it on every
// connection. The simulator's ignoreAcks fault keeps our first ack from
// counting; its device list shows what it still holds for us (unacked).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopServer, req, tempDir, removeDir } from './lib.mjs';
import { startSim } from '../interop/sim-lib.mjs';
import { messaging } from './msg-lib.mjs';

let sim, h;
before(async () => {
  sim = await startSim();
  h = await messaging(sim, { prefix: '1559' });
});
after(async () => { await sim.stop(); });

const faults = async (body) => {
  const r = await sim.api('POST', '/sim/faults', body);
  assert.equal(r.status, 200, r.text);
};
const storedOnce = async (srv, id, waId) => {
  const rows = (await h.list(srv, id)).filter((m) => m.waId === waId);
  assert.equal(rows.length, 1, `stored once: ${JSON.stringify(rows)}`);
  return rows[0];
};
const unackedIs = async (us, n) => {
  let d;
  await h.until(`${n} unacked for us`, async () => {
    d = await h.ourDevice(us);
    return d.online && d.unacked === n && d.queued === 0;
  }).catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(d)}`); });
};

test('redelivered after a dropped connection: acknowledged, stored once, not redelivered again', async () => {
  const srv = await h.serve();
  const B = await h.peer(h.newPhone(), 'Br');
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const first = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'acked normally' });
    await h.until('first stored', async () => (await h.list(srv, id)).find((m) => m.waId === first.key.id));
    await unackedIs(us, 0);

    await faults({ ignoreAcks: true });
    const m = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'our ack is lost' });
    await h.until('stored', async () => (await h.list(srv, id)).find((x) => x.waId === m.key.id));
    await unackedIs(us, 1);
    // the connection drops; on the next one the simulator redelivers it
    await faults({ ignoreAcks: false, dropAll: true });
    await unackedIs(us, 0); /* online again, the copy redelivered and acknowledged */
    await storedOnce(srv, id, m.key.id);
    // and a later connection has nothing left to redeliver
    await faults({ dropAll: true });
    await h.until('online again', async () => (await h.ourDevice(us)).online);
    await unackedIs(us, 0);
    await storedOnce(srv, id, m.key.id);
    await storedOnce(srv, id, first.key.id);
  } finally {
    await faults({ ignoreAcks: false });
    B.end();
    await stopServer(srv);
  }
});

test('stored, then kill -9 before our ack counted: after the restart acknowledged once, stored once', async () => {
  const dataDir = tempDir();
  let srv = await h.serve(dataDir);
  const B = await h.peer(h.newPhone(), 'Bk');
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    await unackedIs(us, 0); /* the phone's welcome messages acknowledged */
    await faults({ ignoreAcks: true });
    const m = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'stored before the crash' });
    await h.until('stored', async () => (await h.list(srv, id)).find((x) => x.waId === m.key.id));
    // our reply to B goes out only once the Signal session it uses (which
    // the decrypt moved too) is committed: then the message's key is used
    // up in the database, and the redelivery after the restart is a replay
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: `+${B.phone}`, text: 'reply' } });
    assert.equal(r.status, 202, r.text);
    await B.until(() => h.fromUs(B, us).some((x) => x.text === 'reply'), 'B has our reply');
    await unackedIs(us, 1);
    srv.proc.kill('SIGKILL');
    await srv.exited;
    await faults({ ignoreAcks: false });
    srv = await h.serve(dataDir);
    await h.connected(srv, id);
    await h.until('the replay log line', async () =>
      srv.logs.some((l) => l.message === 'client message redelivered after it was stored' && l.id === m.key.id));
    await unackedIs(us, 0);
    const row = await storedOnce(srv, id, m.key.id);
    assert.equal(row.text, 'stored before the crash');
    // a reconnect later: nothing is redelivered
    await faults({ dropAll: true });
    await h.until('online again', async () => (await h.ourDevice(us)).online);
    await unackedIs(us, 0);
    await storedOnce(srv, id, m.key.id);
  } finally {
    await faults({ ignoreAcks: false });
    B.end();
    await stopServer(srv, { removeData: false });
    removeDir(dataDir);
  }
});

// An insert that fails while the process lives on (the database locked
// past the store's 5 s busy timeout) is tried again, and the Signal state
// waits for it: once the lock goes the message is stored and acknowledged
// (before: dropped, and its key flushed as used, so never stored at all).
test('an inbound insert that fails on a locked database is retried: stored and acknowledged once unlocked', { timeout: 90000 }, async () => {
  const { spawn } = await import('node:child_process');
  const { join } = await import('node:path');
  const { BUILD } = await import('./lib.mjs');
  const dataDir = tempDir();
  const srv = await h.serve(dataDir);
  const B = await h.peer(h.newPhone(), 'Bd');
  let lock = null;
  const unlock = async () => {
    if (!lock) return;
    lock.stdin.end();
    await new Promise((r) => (lock.exitCode !== null ? r() : lock.on('close', r)));
    lock = null;
  };
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    await unackedIs(us, 0);
    lock = spawn(join(BUILD, 'tools', 'db_lock'), [join(dataDir, 'db.sqlite')], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      lock.stdout.on('data', (d) => { if (String(d).includes('locked')) resolve(); });
      lock.on('exit', (c) => reject(new Error(`db_lock exited ${c}`)));
    });
    const m = await B.sock.sendMessage(`${us}@s.whatsapp.net`, { text: 'stored after the lock' });
    await h.until('the failed insert', async () => srv.logs.some((l) => l.message === 'engine store write failed'), 30000);
    await unackedIs(us, 1); // not acknowledged while not stored
    await unlock();
    await h.until('stored after the lock', async () => (await h.list(srv, id)).find((x) => x.waId === m.key.id), 30000);
    await unackedIs(us, 0);
    const row = await storedOnce(srv, id, m.key.id);
    assert.equal(row.text, 'stored after the lock');
  } finally {
    await unlock();
    B.end();
    await stopServer(srv, { removeData: false });
    removeDir(dataDir);
  }
});
