// Server lifecycle: the API key is printed once across restarts, data
// persists, shutdown is graceful with a request in flight, and real internal
// failures (a locked database, a vanished DATA_DIR) are reported honestly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { startServer, stopServer, req, assertError, tempDir, removeDir, BUILD } from './lib.mjs';

test('the key is printed once and only once; data persists across restarts', async () => {
  const dir = tempDir();
  try {
    const a = await startServer({ dataDir: dir });
    assert.equal(a.keyLines, 1, 'first start prints the key once');
    assert.match(a.key, /^[0-9a-f]{64}$/);
    const s = await req(a, 'POST', '/api/v1/sessions', { body: { name: 'persist me' } });
    assert.equal(s.status, 201);
    await stopServer(a);

    const b = await startServer({ dataDir: dir });
    assert.equal(b.keyLines, 0, 'a restart prints no key');
    assert.ok(!b.lines.some((l) => l.includes(a.key)), 'the key appears in no log line');
    const g = await req(b, 'GET', `/api/v1/sessions/${s.body.id}`, { key: a.key });
    assert.equal(g.status, 200, g.text);
    assert.equal(g.body.name, 'persist me');
    assert.equal(g.body.createdAt, s.body.createdAt);
    await stopServer(b);

    const c = await startServer({ dataDir: dir });
    assert.equal(c.keyLines, 0);
    await stopServer(c);
  } finally {
    removeDir(dir);
  }
});

test('a configured API_KEY is accepted and suppresses the generated one', async () => {
  const key = 'configured-key-0123456789abcdef';
  const srv = await startServer({ env: { API_KEY: key } });
  try {
    assert.equal(srv.keyLines, 0);
    assert.equal((await req(srv, 'GET', '/api/v1/sessions', { key })).status, 200);
    assertError(await req(srv, 'GET', '/api/v1/sessions', { key: key + 'x' }), 401, 'UNAUTHORIZED');
  } finally {
    await stopServer(srv);
  }
});

function readUntil(sock, pattern) {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (d) => {
      data += d;
      if (pattern.test(data)) { cleanup(); resolve(data); }
    };
    const onEnd = () => { cleanup(); resolve(data); };
    const onErr = (e) => { cleanup(); reject(e); };
    const cleanup = () => { sock.off('data', onData); sock.off('end', onEnd); sock.off('error', onErr); };
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onErr);
  });
}

function connectOk(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

test('SIGTERM with a request in flight: stop accepting, finish it, exit 0', async () => {
  const srv = await startServer();
  const body = JSON.stringify({ name: 'in flight' });
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.setEncoding('latin1');
  // Headers only; the body follows after the signal. The server's
  // "100 Continue" proves it has the request.
  sock.write('POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
    `X-API-Key: ${srv.key}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
  const cont = await readUntil(sock, /\r\n\r\n/);
  assert.match(cont, /^HTTP\/1\.1 100 Continue/);

  srv.proc.kill('SIGTERM');
  // New connections are refused once the server stops accepting.
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    refused = !(await connectOk(srv.port));
    if (!refused) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(refused, 'listening socket closed after SIGTERM');
  assert.equal(srv.proc.exitCode, null, 'still running while the request is in flight');

  sock.write(body);
  const resp = await readUntil(sock, /\r\n\r\n[\s\S]*\}/);
  assert.match(resp, /^HTTP\/1\.1 201 /);
  assert.match(resp, /"name":"in flight"/);
  assert.match(resp, /\r\nConnection: close\r\n/i);
  sock.destroy();
  await stopServer(srv); // asserts exit code 0 (SIGTERM again is harmless: already exiting)
  assert.ok(srv.logs.some((l) => l.message === 'shutting down'));
});

test('SIGINT also stops cleanly', async () => {
  const srv = await startServer();
  srv.proc.kill('SIGINT');
  const { code, signal } = await srv.exited;
  assert.equal(signal, null);
  assert.equal(code, 0);
  removeDir(srv.dataDir);
});

// Holds the write lock of srv's database (tests/tools/db_lock) until the
// returned release() is awaited; release asserts the helper's clean exit.
async function lockDatabase(srv) {
  const lock = spawn(join(BUILD, 'tools', 'db_lock'), [join(srv.dataDir, 'db.sqlite')],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    lock.stdout.on('data', (d) => { if (String(d).includes('locked')) resolve(); });
    lock.on('exit', (c) => reject(new Error(`db_lock exited ${c}`)));
  });
  return async () => {
    lock.stdin.end();
    const code = lock.exitCode ?? await new Promise((r) => lock.on('close', r));
    assert.equal(code, 0, 'db_lock exits 0 once released');
  };
}

test('a locked database gives 500 INTERNAL_ERROR, and the server recovers', async () => {
  const srv = await startServer();
  const release = await lockDatabase(srv);
  try {
    const r = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'blocked' } });
    assertError(r, 500, 'INTERNAL_ERROR');
    assert.ok(!/sqlite|SQL/i.test(r.text), 'no internals leak into the body');
  } finally {
    await release();
  }
  const ok = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'after' } });
  assert.equal(ok.status, 201);
  await stopServer(srv);
});

test('/ready turns 503 while the database cannot be written, and back once it can', async () => {
  const srv = await startServer();
  assert.equal((await req(srv, 'GET', '/ready')).status, 200);
  const release = await lockDatabase(srv);
  try {
    const r = await req(srv, 'GET', '/ready');
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.checks.database, false);
    assert.equal(r.body.checks.storage, true);
    assert.equal((await req(srv, 'GET', '/health')).status, 200, 'liveness does not depend on the database');
  } finally {
    await release();
  }
  const ok = await req(srv, 'GET', '/ready');
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.checks.database, true);
  await stopServer(srv);
});

test('/ready turns 503 when DATA_DIR disappears', async () => {
  const srv = await startServer();
  assert.equal((await req(srv, 'GET', '/ready')).status, 200);
  rmSync(srv.dataDir, { recursive: true, force: true });
  const r = await req(srv, 'GET', '/ready');
  assert.equal(r.status, 503);
  assert.deepEqual({ ...r.body, freeBytes: undefined },
    { ready: false, checks: { database: true, storage: false, whatsapp: true }, freeBytes: undefined });
  assert.equal((await req(srv, 'GET', '/health')).status, 200);
  await stopServer(srv);
});

// With the WhatsApp engine, /ready's whatsapp check is the engine's health
// (its loop runs and turns): one session that failed (a QR nobody scanned, a
// number WhatsApp banned) is that session's state, shown on the session, and
// must not make the whole server unready (an orchestrator would restart it).
// The unit test test_session shows whatsapp false for an unhealthy engine.
test('/ready stays ready with a failed session; the session shows failed, not restarted', async () => {
  const dir = tempDir();
  const status = (...args) => spawnSync(join(BUILD, 'tools', 'session_status'),
    [join(dir, 'db.sqlite'), ...args], { encoding: 'utf8' });
  try {
    const a = await startServer({ dataDir: dir });
    const s = await req(a, 'POST', '/api/v1/sessions', { body: { name: 'will fail' } });
    assert.equal(s.status, 201);
    assert.equal((await req(a, 'GET', '/ready')).body.checks.whatsapp, true);
    await stopServer(a, { removeData: false });

    const r = status(s.body.id, 'failed');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(status(s.body.id, 'no-such-status').status, 1, 'the helper refuses a bad status');
    const b = await startServer({ dataDir: dir });
    const ready = await req(b, 'GET', '/ready');
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.body.checks, { database: true, storage: true, whatsapp: true });
    assert.equal(ready.body.ready, true);
    await new Promise((res) => setTimeout(res, 300));
    const g = await req(b, 'GET', `/api/v1/sessions/${s.body.id}`, { key: a.key });
    assert.equal(g.body.status, 'failed', 'a failed session is not started again by itself');
    assert.equal(b.logs.some((l) => l.message === 'client state' && l.session === s.body.id), false);
    await stopServer(b, { removeData: false });
  } finally {
    removeDir(dir);
  }
});

test('message history pages newest first across equal timestamps', async () => {
  const srv = await startServer();
  try {
    const s = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'history' } });
    execFileSync(join(BUILD, 'tools', 'seed_messages'), [join(srv.dataDir, 'db.sqlite'), s.body.id, '37']);
    const seen = [];
    let cursor = null;
    do {
      const q = cursor ? `?limit=4&cursor=${cursor}` : '?limit=4';
      const r = await req(srv, 'GET', `/api/v1/sessions/${s.body.id}/messages${q}`);
      assert.equal(r.status, 200, r.text);
      seen.push(...r.body.data);
      cursor = r.body.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 37);
    assert.equal(new Set(seen.map((m) => m.id)).size, 37);
    const texts = new Set(seen.map((m) => m.content.text));
    assert.equal(texts.size, 37);
    for (let i = 1; i < seen.length; i++) {
      const a = seen[i - 1], b = seen[i];
      assert.ok(a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.id > b.id));
    }
    assert.equal(seen[0].sessionId, s.body.id);
    assert.equal(seen[0].type, 'text');
    // A cursor of this list is refused by another session's list.
    const first = await req(srv, 'GET', `/api/v1/sessions/${s.body.id}/messages?limit=1`);
    const other = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'other' } });
    assertError(await req(srv, 'GET', `/api/v1/sessions/${other.body.id}/messages?cursor=${first.body.nextCursor}`),
      400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'GET', `/api/v1/sessions?cursor=${first.body.nextCursor}`), 400, 'VALIDATION_ERROR');
  } finally {
    await stopServer(srv);
  }
});

test('a key revoked by `yesapp keys revoke` stops working within the 2 s auth cache TTL', async () => {
  const srv = await startServer();
  try {
    const env = { PATH: process.env.PATH, DATA_DIR: srv.dataDir, ASAN_OPTIONS: 'detect_leaks=1' };
    const r = spawnSync(join(BUILD, 'yesapp'), ['keys', 'create', '--name', 'temp'], { env, encoding: 'utf8' });
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    const id = /created API key ([0-9a-f-]{36})/.exec(out)?.[1];
    const key = /^([0-9a-f]{64})$/m.exec(out)?.[1];
    assert.ok(id && key, out);
    assert.equal((await req(srv, 'GET', '/api/v1/sessions', { key })).status, 200);
    execFileSync(join(BUILD, 'yesapp'), ['keys', 'revoke', id], { env });
    const t0 = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - t0 < 5000) {
      status = (await req(srv, 'GET', '/api/v1/sessions', { key })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401);
    assert.ok(Date.now() - t0 < 3000, `revocation took ${Date.now() - t0} ms`);
    assert.equal((await req(srv, 'GET', '/api/v1/sessions')).status, 200, 'the other key still works');
  } finally {
    await stopServer(srv);
  }
});
