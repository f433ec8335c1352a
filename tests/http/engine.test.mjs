// The WhatsApp engine end to end: a real `yesapp serve` whose sessions link
// to a real `yesapp sim` (the simulator that unmodified Baileys 6 and 7
// trust) through the REST API: QR linking, restart without a QR, unlink,
// logout, reconnect after a drop, delete, and many sessions at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopServer, req, assertError, tempDir, removeDir, BIN } from './lib.mjs';
import { spawnSync } from 'node:child_process';
import { startSim, sleep, loadBaileys } from '../interop/sim-lib.mjs';
import { libsignalVerify, advMessages, flipped } from '../interop/judge-lib.mjs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

// The X25519 public key of a raw 32-byte private key, by node:crypto.
function x25519Public(priv) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]);
  return createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }))
    .export({ format: 'der', type: 'spki' }).subarray(-32);
}

let sim, root;

before(async () => {
  sim = await startSim();
  root = (await sim.api('GET', '/sim/info')).json.rootPublicKey;
  assert.match(root, /^[0-9a-f]{64}$/);
});
after(async () => { await sim.stop(); });

const KEY = 'engine-test-key-0123456789';
const serve = async (opts = {}) => {
  const srv = await startServer({
    ...opts,
    env: { WA_WS_URL: sim.wsUrl, WA_ROOT_KEY: root, API_KEY: KEY, ...(opts.env || {}) },
  });
  srv.key = KEY;
  return srv;
};

// Every session of the server, through the pages.
async function allSessions(srv) {
  const out = [];
  let cursor = null;
  do {
    const r = await req(srv, 'GET', `/api/v1/sessions?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    out.push(...r.body.data);
    cursor = r.body.nextCursor;
  } while (cursor);
  return out;
}

// Polls GET /sessions/{id} until pred(session) holds.
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

let phoneSeq = 0;
const newPhone = () => `1555${String(process.pid % 1000).padStart(3, '0')}${String(phoneSeq++).padStart(4, '0')}`;

// Creates a session, scans its QR with the simulated phone, waits for connected.
async function link(srv, phone, name = 'test') {
  await sim.api('POST', '/sim/accounts', { phone });
  const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name } });
  assert.equal(c.status, 201, c.text);
  const s = c.body.qrCode ? c.body : await until(srv, c.body.id, (x) => x.qrCode, 'a QR');
  assert.equal(s.status, 'qr');
  const scan = await sim.api('POST', '/sim/scan', { phone, qr: s.qrCode });
  assert.equal(scan.status, 200, scan.text);
  const done = await until(srv, s.id, (x) => x.status === 'connected', 'connected');
  return { id: s.id, jid: scan.json.jid, session: done };
}

async function simDevices(phone) {
  const r = await sim.api('GET', `/sim/accounts/${phone}/devices`);
  assert.equal(r.status, 200, r.text);
  return r.json.devices;
}

test('QR linking: wa.me QR, images, scan, connected with the number, prekeys uploaded', async () => {
  const srv = await serve();
  try {
    const phone = newPhone();
    await sim.api('POST', '/sim/accounts', { phone });
    const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'Office' } });
    assert.equal(c.status, 201);
    // the first QR is in the creation answer (the simulator answers at once)
    assert.equal(c.body.status, 'qr');
    const m = /^https:\/\/wa\.me\/settings\/linked_devices#([^,]+),([A-Za-z0-9+/=]{44}),([A-Za-z0-9+/=]{44}),([A-Za-z0-9+/=]{44}),1$/.exec(c.body.qrCode);
    assert.ok(m, `QR in the wa.me form: ${c.body.qrCode}`);
    const id = c.body.id;
    const g = await req(srv, 'GET', `/api/v1/sessions/${id}`);
    assert.equal(g.body.qrCode, c.body.qrCode);
    const list = await req(srv, 'GET', '/api/v1/sessions');
    assert.equal(list.body.data.find((x) => x.id === id).qrCode, c.body.qrCode, 'list and GET agree');

    // images of the same QR
    const png = await fetch(`${srv.base}/api/v1/sessions/${id}/qr.png`, { headers: { 'X-API-Key': srv.key } });
    assert.equal(png.status, 200);
    assert.equal(png.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await png.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const etag = png.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}p"$/);
    assert.match(png.headers.get('cache-control'), /max-age=20/);
    const again = await fetch(`${srv.base}/api/v1/sessions/${id}/qr.png`, { headers: { 'X-API-Key': srv.key, 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    const svg = await req(srv, 'GET', `/api/v1/sessions/${id}/qr.svg`);
    assert.equal(svg.status, 200);
    assert.match(svg.headers.get('content-type'), /^image\/svg\+xml/);
    assert.match(svg.text, /^<svg [^>]*viewBox="0 0 \d+ \d+"/);

    // the phone scans it
    const scan = await sim.api('POST', '/sim/scan', { phone, qr: c.body.qrCode });
    assert.equal(scan.status, 200, scan.text);
    const s = await until(srv, id, (x) => x.status === 'connected', 'connected');
    assert.equal(s.phone, phone);
    assert.equal(s.deviceJid, scan.json.jid);
    assert.match(s.lid, /^\d+:\d+@lid$/);
    assert.equal(s.qrCode, null);
    assert.ok(Date.parse(s.connectedAt) > 0);
    assertError(await req(srv, 'GET', `/api/v1/sessions/${id}/qr.png`), 404, 'QR_NOT_AVAILABLE');
    // the device identity we keep, judged by libsignal-node (not by our code):
    // the phone's account signature over our identity, and our device signature
    const db = new Database(join(srv.dataDir, 'db.sqlite'), { readonly: true });
    const row = db.prepare('SELECT account, identity_priv FROM wa_creds WHERE session_id = ?').get(id);
    db.close();
    assert.ok(row && row.account, 'linked credentials stored');
    const { proto } = await loadBaileys(6);
    const creds = {
      account: proto.ADVSignedDeviceIdentity.decode(row.account),
      signedIdentityKey: { public: x25519Public(row.identity_priv) },
    };
    const adv = advMessages(creds);
    for (const [what, sg] of Object.entries(adv)) {
      assert.equal(libsignalVerify(sg.key, sg.msg, sg.sig), true, `${what} signature verifies`);
      assert.equal(libsignalVerify(sg.key, sg.msg, flipped(sg.sig, 9)), false, `${what}: flipped byte`);
    }
    // the simulator holds our device, online, with the prekeys we uploaded
    const dev = (await simDevices(phone)).find((d) => d.jid === scan.json.jid);
    assert.ok(dev, 'device known to the simulator');
    assert.equal(dev.online, true);
    await until(srv, id, () => true, 'noop', 10);
    const t0 = Date.now();
    let prekeys = 0;
    while (Date.now() - t0 < 5000 && !prekeys) {
      prekeys = (await simDevices(phone)).find((d) => d.jid === scan.json.jid).prekeys;
      if (!prekeys) await sleep(50);
    }
    assert.equal(prekeys, 30, 'one batch of 30 one-time prekeys uploaded');
  } finally {
    await stopServer(srv);
  }
});

test('a restarted server logs linked sessions in again without a QR', async () => {
  const dir = tempDir();
  try {
    let srv = await serve({ dataDir: dir });
    const phone = newPhone();
    const { id, jid } = await link(srv, phone);
    await stopServer(srv, { removeData: false });
    const regs = (await sim.api('GET', '/sim/stats')).json.registrations;
    srv = await serve({ dataDir: dir });
    const s = await until(srv, id, (x) => x.status === 'connected', 'connected after restart');
    assert.equal(s.deviceJid, jid);
    assert.equal(s.qrCode, null);
    assert.equal((await sim.api('GET', '/sim/stats')).json.registrations, regs, 'a login, not a new registration');
    assert.equal(srv.logs.some((l) => l.message === 'client state' && l.session === id && l.to === 'qr'), false, 'never showed a QR');
    await stopServer(srv, { removeData: false });
  } finally {
    removeDir(dir);
  }
});

test('unlinked on the phone: logged_out, credentials wiped, restart shows a new QR', async () => {
  const srv = await serve();
  try {
    const phone = newPhone();
    const { id, jid } = await link(srv, phone);
    const dev = Number(/:(\d+)@/.exec(jid)[1]);
    const u = await sim.api('DELETE', `/sim/accounts/${phone}/devices/${dev}`);
    assert.equal(u.status, 200, u.text);
    const s = await until(srv, id, (x) => x.status === 'logged_out', 'logged_out');
    assert.equal(s.reason, 'device_removed');
    assert.equal(s.phone, null);
    assert.equal(s.deviceJid, null);
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/restart`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'qr');
    assert.ok(r.body.qrCode);
    // new keys: the QR names another identity than before (the old ones are gone)
    const scan = await sim.api('POST', '/sim/scan', { phone, qr: r.body.qrCode });
    assert.equal(scan.status, 200);
    assert.notEqual(scan.json.jid, jid);
    await until(srv, id, (x) => x.status === 'connected', 'connected again');
  } finally {
    await stopServer(srv);
  }
});

test('logout through the API unlinks the device on the simulator', async () => {
  const srv = await serve();
  try {
    const phone = newPhone();
    const { id, jid } = await link(srv, phone);
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/logout`);
    assert.equal(r.status, 200, r.text);
    const s = r.body.status === 'logged_out' ? r.body : await until(srv, id, (x) => x.status === 'logged_out', 'logged_out');
    assert.equal(s.deviceJid, null);
    assert.equal((await simDevices(phone)).some((d) => d.jid === jid), false, 'device removed on the server side');
    assertError(await req(srv, 'POST', '/api/v1/sessions/00000000-0000-4000-8000-000000000000/logout'), 404, 'SESSION_NOT_FOUND');
  } finally {
    await stopServer(srv);
  }
});

// A logout (or a delete) while the session is away from WhatsApp must not
// leave the device listed on the phone: the client reconnects at once and
// unlinks when logged in; if WhatsApp stays unreachable it gives up after
// WA_LOGOUT_WAIT_MS (10 s), logged out locally, and says so in the log.
test('logout and delete while disconnected: reconnect and unlink; WhatsApp unreachable: logged out locally by the deadline', async () => {
  const srv = await serve();
  try {
    // 1. away for 1.5 s: the logout waits for the connection, then unlinks
    const a = newPhone();
    const la = await link(srv, a);
    await sim.api('POST', '/sim/faults', { refuseForMs: 1500, dropAll: true });
    await until(srv, la.id, (x) => x.status !== 'connected', 'noticed the drop', 5000);
    const r = await req(srv, 'POST', `/api/v1/sessions/${la.id}/logout`);
    assert.equal(r.status, 200, r.text);
    const s = await until(srv, la.id, (x) => x.status === 'logged_out', 'logged_out', 12000);
    assert.equal(s.deviceJid, null);
    assert.equal((await simDevices(a)).some((d) => d.jid === la.jid), false, 'device removed on the simulator');
    const waits = srv.logs.findIndex((l) => l.message === 'client logout waits for a connection to unlink' &&
      l.session === la.id);
    assert.ok(waits >= 0, 'the logout waited for a connection');
    assert.ok(!srv.logs.slice(waits).some((l) => l.message === 'client state' && l.session === la.id &&
      l.to === 'connected'), 'never announced connected between the logout and the unlink');

    // 2. the same for DELETE
    const b = newPhone();
    const lb = await link(srv, b);
    await sim.api('POST', '/sim/faults', { refuseForMs: 1500, dropAll: true });
    await until(srv, lb.id, (x) => x.status !== 'connected', 'noticed the drop', 5000);
    assert.equal((await req(srv, 'DELETE', `/api/v1/sessions/${lb.id}`)).status, 204);
    const t0 = Date.now();
    while (Date.now() - t0 < 12000 && (await simDevices(b)).some((x) => x.jid === lb.jid)) await sleep(100);
    assert.equal((await simDevices(b)).some((x) => x.jid === lb.jid), false, 'deleted session unlinked on the simulator');

    // 3. unreachable for good: logged out locally within the deadline, and the log says the phone still lists it
    const c = newPhone();
    const lc = await link(srv, c);
    await sim.api('POST', '/sim/faults', { refuseForMs: 60000, dropAll: true });
    try {
      await until(srv, lc.id, (x) => x.status !== 'connected', 'noticed the drop', 5000);
      const t1 = Date.now();
      assert.equal((await req(srv, 'POST', `/api/v1/sessions/${lc.id}/logout`)).status, 200);
      await until(srv, lc.id, (x) => x.status === 'logged_out', 'logged_out by the deadline', 16000);
      assert.ok(Date.now() - t1 >= 9000, 'it kept trying until the deadline');
      assert.ok(srv.logs.some((l) => l.session === lc.id && /without reaching WhatsApp/.test(l.message)));
      assert.equal((await simDevices(c)).some((d) => d.jid === lc.jid), true, 'still listed: WhatsApp was never told');
    } finally {
      await sim.api('POST', '/sim/faults', { refuseForMs: 0 });
    }
  } finally {
    await stopServer(srv);
  }
});

test('every connection dropped: sessions reconnect by themselves', async () => {
  const srv = await serve({ env: {} });
  try {
    const a = await link(srv, newPhone(), 'a');
    const b = await link(srv, newPhone(), 'b');
    const logins = (await sim.api('GET', '/sim/stats')).json.logins;
    const d = await sim.api('POST', '/sim/faults', { dropAll: true });
    assert.ok(d.json.dropped >= 2, d.text);
    for (const { id } of [a, b]) {
      await until(srv, id, (x) => x.status !== 'connected', 'noticed the drop', 5000).catch(() => {});
      await until(srv, id, (x) => x.status === 'connected', 'reconnected', 20000);
    }
    assert.ok((await sim.api('GET', '/sim/stats')).json.logins >= logins + 2, 'logged in again');
    assert.ok(srv.logs.some((l) => l.message === 'client state' && l.session === a.id && l.to === 'waiting'),
      'went through a reconnect wait');
  } finally {
    await stopServer(srv);
  }
});

test('deleting a linked session logs it out first', async () => {
  const srv = await serve();
  try {
    const phone = newPhone();
    const { id, jid } = await link(srv, phone);
    const d = await req(srv, 'DELETE', `/api/v1/sessions/${id}`);
    assert.equal(d.status, 204);
    const t0 = Date.now();
    while (Date.now() - t0 < 5000 && (await simDevices(phone)).some((x) => x.jid === jid)) await sleep(50);
    assert.equal((await simDevices(phone)).some((x) => x.jid === jid), false, 'unlinked on the simulator');
    assertError(await req(srv, 'GET', `/api/v1/sessions/${id}`), 404, 'SESSION_NOT_FOUND');
  } finally {
    await stopServer(srv);
  }
});

test('many sessions linked and connected in one process', async () => {
  const n = Number(process.env.ENGINE_SESSIONS || 200);
  const srv = await serve();
  try {
    const ids = [];
    for (let i = 0; i < n; i += 20) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 20); j++) batch.push(link(srv, newPhone(), `s${j}`));
      for (const r of await Promise.all(batch)) ids.push(r.id);
    }
    assert.equal(new Set(ids).size, n);
    const all = await allSessions(srv);
    const connected = all.filter((x) => ids.includes(x.id) && x.status === 'connected');
    assert.equal(connected.length, n, 'all connected at once');
  } finally {
    await stopServer(srv);
  }
});

test('client outdated: sessions fail as client_outdated and come back once the version is raised', async () => {
  const dir = tempDir();
  let srv = await serve({ dataDir: dir });
  try {
    let v = await req(srv, 'GET', '/api/v1/server/wa-version');
    assert.equal(v.status, 200);
    assert.equal(v.body.source, 'built-in');
    assert.match(v.body.version, /^2\.\d+\.\d+$/);
    const builtIn = v.body.version;
    const { id } = await link(srv, newPhone());
    // WhatsApp starts refusing our version: every connection ends, logins get 405
    const minor = Number(builtIn.split('.')[1]) + 1;
    let r = await sim.api('POST', '/sim/config', { minVersion: `2.${minor}.0` });
    assert.equal(r.status, 200, r.text);
    await sim.api('POST', '/sim/faults', { dropAll: true });
    const failed = await until(srv, id, (x) => x.status === 'failed', 'failed', 20000);
    assert.equal(failed.reason, 'client_outdated');
    // a fresh session fails the same way (registration refused)
    const fresh = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'new' } });
    await until(srv, fresh.body.id, (x) => x.status === 'failed' && x.reason === 'client_outdated', 'new one outdated');
    // bad versions are refused with a code
    for (const bad of ['2.3000', 'x.y.z', '2.3000.99999999999', '0.1.2', '2..1', '']) {
      assertError(await req(srv, 'PUT', '/api/v1/server/wa-version', { body: { version: bad } }), 400,
        bad === '' ? 'VALIDATION_ERROR' : 'INVALID_VERSION');
    }
    assertError(await req(srv, 'PUT', '/api/v1/server/wa-version', { body: { nope: 1 } }), 400, 'VALIDATION_ERROR');
    // raised through the API: both come back by themselves
    v = await req(srv, 'PUT', '/api/v1/server/wa-version', { body: { version: `2.${minor}.7` } });
    assert.equal(v.status, 200, v.text);
    assert.deepEqual([v.body.version, v.body.source, v.body.default], [`2.${minor}.7`, 'api', builtIn]);
    await until(srv, id, (x) => x.status === 'connected', 'connected with the new version', 20000);
    await until(srv, fresh.body.id, (x) => x.status === 'qr', 'the new one shows a QR');
    // the stored version wins after a restart
    await stopServer(srv, { removeData: false });
    srv = await serve({ dataDir: dir });
    v = await req(srv, 'GET', '/api/v1/server/wa-version');
    assert.deepEqual([v.body.version, v.body.source], [`2.${minor}.7`, 'api']);
    await until(srv, id, (x) => x.status === 'connected', 'connected after restart', 20000);
    // back to the default: DELETE
    r = await sim.api('POST', '/sim/config', { minVersion: null });
    assert.equal(r.status, 200);
    v = await req(srv, 'DELETE', '/api/v1/server/wa-version');
    assert.deepEqual([v.body.version, v.body.source], [builtIn, 'built-in']);
  } finally {
    await sim.api('POST', '/sim/config', { minVersion: null });
    await stopServer(srv, { removeData: false });
    removeDir(dir);
  }
});

test('prekeys running low: the server notification makes the session upload a new batch', async () => {
  const srv = await serve();
  try {
    const phone = newPhone();
    const { jid } = await link(srv, phone);
    const dev = Number(/:(\d+)@/.exec(jid)[1]);
    const held = async () => (await simDevices(phone)).find((d) => d.jid === jid).prekeys;
    let t0 = Date.now();
    while (Date.now() - t0 < 5000 && (await held()) !== 30) await sleep(50);
    assert.equal(await held(), 30);
    const before = (await sim.api('GET', '/sim/stats')).json.prekeyUploads;
    // 5 left: not low (the client uploads below 5), nothing happens
    let r = await sim.api('POST', '/sim/prekey-low', { phone, device: dev, count: 5 });
    assert.equal(r.status, 200, r.text);
    await sleep(500);
    assert.equal(await held(), 5);
    assert.equal((await sim.api('GET', '/sim/stats')).json.prekeyUploads, before);
    // 2 left: a new batch of 30 arrives
    r = await sim.api('POST', '/sim/prekey-low', { phone, device: dev, count: 2 });
    assert.equal(r.status, 200, r.text);
    t0 = Date.now();
    while (Date.now() - t0 < 5000 && (await held()) !== 32) await sleep(50);
    assert.equal(await held(), 32);
    assert.equal((await sim.api('GET', '/sim/stats')).json.prekeyUploads, before + 1);
    // every prekey made was kept before it was uploaded (two batches of 30)
    const db = new Database(join(srv.dataDir, 'db.sqlite'), { readonly: true });
    const n = db.prepare('SELECT count(*) AS n, sum(uploaded) AS up FROM wa_prekeys').get();
    db.close();
    assert.deepEqual([n.n, n.up], [60, 60]);
  } finally {
    await stopServer(srv);
  }
});

test('over wss:// as against WhatsApp: WA_CA_FILE trusts the simulator, system CAs do not', async () => {
  const tls = await startSim(['--tls']);
  const dir = tempDir();
  try {
    const info = (await tls.api('GET', '/sim/info')).json;
    assert.match(info.wssUrl, /^wss:\/\/127\.0\.0\.1:\d+\/ws\/chat$/);
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, info.caCert);
    const env = { WA_WS_URL: info.wssUrl, WA_ROOT_KEY: info.rootPublicKey, API_KEY: KEY };
    // without the CA the TLS handshake fails: the session never shows a QR
    let srv = await startServer({ env });
    srv.key = KEY;
    try {
      const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'no ca' } });
      const s = await until(srv, c.body.id, (x) => x.status === 'disconnected', 'TLS refused');
      assert.equal(s.qrCode, null);
      assert.equal((await tls.api('GET', '/sim/stats')).json.registrations, 0);
    } finally {
      await stopServer(srv);
    }
    // with it, linking works over TLS
    srv = await startServer({ env: { ...env, WA_CA_FILE: ca } });
    srv.key = KEY;
    try {
      const phone = newPhone();
      await tls.api('POST', '/sim/accounts', { phone });
      const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'tls' } });
      const q = await until(srv, c.body.id, (x) => x.qrCode, 'a QR over wss');
      const scan = await tls.api('POST', '/sim/scan', { phone, qr: q.qrCode });
      assert.equal(scan.status, 200, scan.text);
      const s = await until(srv, c.body.id, (x) => x.status === 'connected', 'connected over wss');
      assert.equal(s.phone, phone);
    } finally {
      await stopServer(srv);
    }
  } finally {
    await tls.stop();
    removeDir(dir);
  }
});

test('IDLE_DISCONNECT_HOURS: an unused session is disconnected, its next use reconnects it', async () => {
  const dir = tempDir();
  // 0.0005 h = 1.8 s (decimals are allowed for this setting)
  let srv = await serve({ dataDir: dir, env: { IDLE_DISCONNECT_HOURS: '0.0005' } });
  try {
    const { id } = await link(srv, newPhone());
    const busy = await link(srv, newPhone(), 'busy');
    // watched through the list, which is not a use of a session
    const listed = async (sid) => (await allSessions(srv)).find((x) => x.id === sid);
    const t0 = Date.now();
    let s;
    while (Date.now() - t0 < 10000) {
      await req(srv, 'GET', `/api/v1/sessions/${busy.id}`); // kept in use
      s = await listed(id);
      if (s.status === 'disconnected') break;
      await sleep(200);
    }
    assert.equal(s.status, 'disconnected');
    assert.equal(s.reason, 'idle');
    assert.ok(Date.now() - t0 >= 1000, 'not before the idle time');
    assert.equal((await listed(busy.id)).status, 'connected', 'the session in use stays');
    // it stays down across a restart, until used
    await stopServer(srv, { removeData: false });
    srv = await serve({ dataDir: dir, env: { IDLE_DISCONNECT_HOURS: '0.0005' } });
    await sleep(500);
    assert.equal((await listed(id)).reason, 'idle');
    // a use wakes it
    const g = await req(srv, 'GET', `/api/v1/sessions/${id}`);
    assert.equal(g.status, 200);
    const t1 = Date.now();
    while (Date.now() - t1 < 10000 && (await listed(id)).status !== 'connected') await sleep(50);
    assert.equal((await listed(id)).status, 'connected');
    // bad values are refused at start
    for (const bad of ['-1', '1e3', 'abc', '8761', '.5', '1.']) {
      const r = spawnSync(BIN, ['serve', '--idle-disconnect-hours', bad, '--data-dir', join(dir, 'unused')], { encoding: 'utf8', timeout: 10000 });
      assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--idle-disconnect-hours: invalid value/);
    }
  } finally {
    await stopServer(srv, { removeData: false });
    removeDir(dir);
  }
});
