// Sandbox mode: `yesapp serve --sandbox` runs the simulator in-process and
// POST /api/v1/sandbox/scan plays the phone. A session is linked with no
// phone and no separate simulator; the simulator's own control API (its
// controlUrl) confirms the device from the other side; a restart on the same
// DATA_DIR logs in again without a QR because sandbox.json kept the
// simulator's keys and devices (and with a fresh state file it does not);
// without the sandbox the routes answer 404 SANDBOX_DISABLED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, stopServer, req, assertError, tempDir, removeDir } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const KEY = 'sandbox-test-key-0123456789';
// WA_WS_URL (lib.mjs: a closed port) and this root would make every session
// fail: the sandbox must override both.
const WRONG_ROOT = 'ab'.repeat(32);

const serve = async ({ args = ['--sandbox'], env = {}, dataDir } = {}) => {
  const srv = await startServer({ dataDir, args, env: { API_KEY: KEY, WA_ROOT_KEY: WRONG_ROOT, ...env } });
  srv.key = KEY;
  return srv;
};

async function until(srv, id, pred, what, ms = 15000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    last = await req(srv, 'GET', `/api/v1/sessions/${id}`);
    if (last.status === 200 && pred(last.body)) return last.body;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}: ${last && last.text}`);
}

const phone = `1555${String(process.pid % 10000).padStart(4, '0')}123`;

test('serve --sandbox: warned, reported, a session linked by /sandbox/scan, kept across a restart', async () => {
  const dir = tempDir();
  try {
    let srv = await serve({ dataDir: dir });
    const warn = srv.logs.find((l) => l.level === 'warn' && /SANDBOX MODE/.test(l.message));
    assert.ok(warn, 'a warn line says sandbox mode');
    assert.equal(warn.sandbox, true);
    assert.equal(warn.ignoredWaWsUrl, 'ws://127.0.0.1:1/ws/chat');
    assert.equal(warn.ignoredWaRootKey, WRONG_ROOT);
    assert.equal(warn.stateFile, join(dir, 'sandbox.json'));
    const h = await req(srv, 'GET', '/health', { key: null });
    assert.equal(h.status, 200);
    assert.equal(h.body.sandbox, true);
    const info = await req(srv, 'GET', '/api/v1/sandbox');
    assert.equal(info.status, 200, info.text);
    assert.equal(info.body.enabled, true);
    const m = /^ws:\/\/127\.0\.0\.1:(\d+)\/ws\/chat$/.exec(info.body.wsUrl);
    assert.ok(m && Number(m[1]) > 0, info.body.wsUrl);
    assert.equal(info.body.wsUrl, warn.wsUrl);
    assert.equal(info.body.controlUrl, `http://127.0.0.1:${m[1]}/sim`);
    assert.match(info.body.rootPublicKey, /^[0-9a-f]{64}$/);
    assert.notEqual(info.body.rootPublicKey, WRONG_ROOT);
    // the in-process simulator answers its own control API with that root
    const simInfo = await (await fetch(`${info.body.controlUrl}/info`)).json();
    assert.equal(simInfo.rootPublicKey, info.body.rootPublicKey);

    const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'Sandbox' } });
    assert.equal(c.status, 201, c.text);
    const s = c.body.qrCode ? c.body : await until(srv, c.body.id, (x) => x.qrCode, 'a QR');
    assert.equal(s.status, 'qr');
    const id = s.id;

    // bad inputs first (the session keeps its QR)
    const scan = (body, opts = {}) => req(srv, 'POST', '/api/v1/sandbox/scan', { body, ...opts });
    assertError(await scan({ sessionId: id, phone: '12345' }), 400, 'INVALID_PHONE_NUMBER');
    assertError(await scan({ sessionId: id, phone: '+0155500011' }), 400, 'INVALID_PHONE_NUMBER');
    assertError(await scan({ sessionId: id, phone: '1555abc0000' }), 400, 'INVALID_PHONE_NUMBER');
    assertError(await scan({ sessionId: 'not-a-uuid', phone }), 400, 'VALIDATION_ERROR');
    assertError(await scan({ sessionId: id }), 400, 'VALIDATION_ERROR');
    assertError(await scan({ sessionId: id, phone: 15550001111 }), 400, 'VALIDATION_ERROR');
    assertError(await scan({ sessionId: id, phone, qr: 'x' }), 400, 'VALIDATION_ERROR');
    assertError(await scan('{"sessionId":'), 400, 'VALIDATION_ERROR');
    assertError(await scan({ sessionId: '00000000-0000-4000-8000-000000000000', phone }), 404, 'SESSION_NOT_FOUND');
    assertError(await scan({ sessionId: id, phone }, { key: null }), 401, 'UNAUTHORIZED');
    assertError(await req(srv, 'GET', '/api/v1/sandbox/scan'), 405, 'METHOD_NOT_ALLOWED');
    const still = await req(srv, 'GET', `/api/v1/sessions/${id}`);
    assert.equal(still.body.status, 'qr', 'no bad input linked anything');

    // the phone scans: connected with that number
    const r = await scan({ sessionId: id, phone: `+${phone}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.sessionId, id);
    assert.equal(r.body.phone, phone);
    assert.match(r.body.deviceJid, new RegExp(`^${phone}:\\d+@s\\.whatsapp\\.net$`));
    const done = r.body.status === 'connected' ? (await req(srv, 'GET', `/api/v1/sessions/${id}`)).body
      : await until(srv, id, (x) => x.status === 'connected', 'connected');
    assert.equal(done.status, 'connected');
    assert.equal(done.phone, phone);
    assert.equal(done.deviceJid, r.body.deviceJid);
    assert.equal(done.qrCode, null);
    // the simulator holds the device, online (its side, not ours)
    const devs = await (await fetch(`${info.body.controlUrl}/accounts/${phone}/devices`)).json();
    const dev = devs.devices.find((d) => d.jid === r.body.deviceJid);
    assert.ok(dev, `device known to the simulator: ${JSON.stringify(devs)}`);
    assert.equal(dev.online, true);
    // scanned already: no QR left to scan
    assertError(await scan({ sessionId: id, phone }), 409, 'QR_NOT_AVAILABLE');

    await stopServer(srv, { removeData: false });
    assert.ok(existsSync(join(dir, 'sandbox.json')), 'the simulator saved its state');

    // SANDBOX=1 this time, the same DATA_DIR: logged in again, never a QR
    srv = await serve({ dataDir: dir, args: [], env: { SANDBOX: '1' } });
    const info2 = await req(srv, 'GET', '/api/v1/sandbox');
    assert.equal(info2.body.rootPublicKey, info.body.rootPublicKey, 'the same simulator keys');
    const again = await until(srv, id, (x) => x.status === 'connected', 'connected after restart');
    assert.equal(again.deviceJid, r.body.deviceJid);
    assert.equal(again.qrCode, null);
    assert.equal(srv.logs.some((l) => l.message === 'client state' && l.session === id && l.to === 'qr'), false,
      'never showed a QR');
    await stopServer(srv, { removeData: false });

    // the control: the same database against a fresh simulator state never
    // connects (other root key, unknown device), so the file is what held it
    srv = await serve({ dataDir: dir, env: { SANDBOX_STATE: join(dir, 'fresh.json') } });
    const t0 = Date.now();
    let last;
    while (Date.now() - t0 < 3000) {
      last = (await req(srv, 'GET', `/api/v1/sessions/${id}`)).body;
      assert.notEqual(last.status, 'connected', 'a fresh simulator cannot know the device');
      await sleep(100);
    }
    await stopServer(srv, { removeData: false });
  } finally {
    removeDir(dir);
  }
});

test('without the sandbox: 404 SANDBOX_DISABLED, /health says so, no sandbox file', async () => {
  for (const args of [[], ['--sandbox=false']]) {
    const srv = await serve({ args });
    try {
      assertError(await req(srv, 'POST', '/api/v1/sandbox/scan',
        { body: { sessionId: '00000000-0000-4000-8000-000000000000', phone } }), 404, 'SANDBOX_DISABLED');
      const info = await req(srv, 'GET', '/api/v1/sandbox');
      assert.equal(info.status, 200);
      assert.deepEqual(info.body, { enabled: false, wsUrl: null, controlUrl: null, rootPublicKey: null });
      assert.equal((await req(srv, 'GET', '/health', { key: null })).body.sandbox, false);
      assert.equal(srv.logs.some((l) => /SANDBOX/.test(l.message)), false);
      assertError(await req(srv, 'GET', '/api/v1/sandbox', { key: null }), 401, 'UNAUTHORIZED');
      assert.equal(existsSync(join(srv.dataDir, 'sandbox.json')), false);
    } finally {
      await stopServer(srv);
    }
  }
});
