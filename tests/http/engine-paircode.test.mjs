// Linking by pair code end to end: a real `yesapp serve` asks for a code
// (POST /api/v1/sessions/{id}/pair-code), the simulated phone of a real
// `yesapp sim` enters it (POST /sim/pair-code), and the session connects with
// the number. The simulator checks what our client sends (the wrapped key
// under the code, the noise key, the key bundle under the shared secret)
// and refuses a wrong code; the error answers of the route are checked too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopServer, req, assertError } from './lib.mjs';
import { startSim } from '../interop/sim-lib.mjs';
import { serveOnSim, waitSession } from './engine-lib.mjs';

const KEY = 'paircode-test-key-0123456789';
const CODE_RE = /^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$/;
let sim, root, n = 0;

before(async () => {
  sim = await startSim();
  root = (await sim.api('GET', '/sim/info')).json.rootPublicKey;
});
after(async () => { await sim.stop(); });

const phoneNo = () => `4420${String(process.pid % 10000).padStart(4, '0')}${String(n++).padStart(3, '0')}`;

// A new session on srv showing a QR (so registering), for an account of the sim.
async function registering(srv, phone) {
  assert.ok([200, 201].includes((await sim.api('POST', '/sim/accounts', { phone })).status));
  const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: `pc ${phone}` } });
  assert.equal(c.status, 201, c.text);
  return waitSession(srv, c.body.id, (s) => s.status === 'qr' && s.qrCode, 'a QR');
}

const askCode = (srv, id, phoneNumber) =>
  req(srv, 'POST', `/api/v1/sessions/${id}/pair-code`, { body: { phoneNumber } });

// Runs fn(srv) against a fresh server on the sim, stopped (and checked) after.
async function onSim(fn) {
  const srv = await serveOnSim(sim, root, KEY);
  try {
    await fn(srv);
  } finally {
    await stopServer(srv);
  }
}

async function stats() {
  return (await sim.api('GET', '/sim/stats')).json;
}

test('the phone enters the code: connected with the number; a second code is refused', () => onSim(async (srv) => {
  const phone = phoneNo();
  const s = await registering(srv, phone);
  const r = await askCode(srv, s.id, `+${phone}`);
  assert.equal(r.status, 200, r.text);
  assert.match(r.body.code, CODE_RE);
  // the QR stays on show while the code waits
  const mid = await req(srv, 'GET', `/api/v1/sessions/${s.id}`);
  assert.equal(mid.body.status, 'qr');
  assert.ok(mid.body.qrCode);
  // the phone of another number has no companion waiting
  const other = await sim.api('POST', '/sim/pair-code', { phone: phoneNo(), code: r.body.code });
  assert.equal(other.status, 404, other.text);
  const e = await sim.api('POST', '/sim/pair-code', { phone, code: r.body.code });
  assert.equal(e.status, 200, e.text);
  const done = await waitSession(srv, s.id, (x) => x.status === 'connected', 'connected');
  assert.equal(done.phone, phone);
  assert.ok(done.deviceJid.startsWith(`${phone}:`), done.deviceJid);
  assert.equal(done.qrCode, null);
  const devs = await sim.api('GET', `/sim/accounts/${phone}/devices`);
  assert.equal(devs.json.devices.length, 1);
  assert.equal(devs.json.devices[0].online, true);
  // linked now: no other code
  assertError(await askCode(srv, s.id, phone), 409, 'ALREADY_LINKED');
}));

test('a wrong code fails the link (sim counts it, session stays unlinked) and the QR still links', () => onSim(async (srv) => {
  const phone = phoneNo();
  const s = await registering(srv, phone);
  const r = await askCode(srv, s.id, phone);
  assert.equal(r.status, 200, r.text);
  const right = r.body.code.replace('-', '');
  const wrong = right.slice(0, 7) + (right[7] === 'Z' ? 'Y' : 'Z');
  const before = (await stats()).pairCodeFailed;
  const e = await sim.api('POST', '/sim/pair-code', { phone, code: wrong });
  assert.equal(e.status, 200, e.text);
  const failed = await waitSession(srv, s.id, (x) => x.reason === 'pair_code_failed', 'the refusal');
  assert.equal(failed.status, 'qr');
  assert.equal(failed.phone, null);
  assert.equal((await stats()).pairCodeFailed, before + 1);
  const devs = await sim.api('GET', `/sim/accounts/${phone}/devices`);
  assert.equal(devs.json.devices.length, 0, 'no device made for a wrong code');
  // the right code is spent with that attempt: entering it now finds nobody waiting
  const late = await sim.api('POST', '/sim/pair-code', { phone, code: right });
  assert.equal(late.status, 404, late.text);
  // the QR (and its adv secret, put back) still links
  const cur = await req(srv, 'GET', `/api/v1/sessions/${s.id}`);
  const scan = await sim.api('POST', '/sim/scan', { phone, qr: cur.body.qrCode });
  assert.equal(scan.status, 200, scan.text);
  const done = await waitSession(srv, s.id, (x) => x.status === 'connected', 'connected by QR');
  assert.equal(done.phone, phone);
}));

test('a new code after a wrong one links', () => onSim(async (srv) => {
  const phone = phoneNo();
  const s = await registering(srv, phone);
  const first = await askCode(srv, s.id, phone);
  assert.equal(first.status, 200, first.text);
  await sim.api('POST', '/sim/pair-code', { phone, code: 'ZZZZ-ZZZZ' === first.body.code ? 'YYYY-YYYY' : 'ZZZZ-ZZZZ' });
  await waitSession(srv, s.id, (x) => x.reason === 'pair_code_failed', 'the refusal');
  const again = await askCode(srv, s.id, phone);
  assert.equal(again.status, 200, again.text);
  assert.match(again.body.code, CODE_RE);
  assert.equal((await sim.api('POST', '/sim/pair-code', { phone, code: again.body.code })).status, 200);
  const done = await waitSession(srv, s.id, (x) => x.status === 'connected', 'connected');
  assert.equal(done.phone, phone);
}));

test('errors: unknown session, malformed numbers and bodies, sessions not registering', () => onSim(async (srv) => {
  assertError(await askCode(srv, '00000000-0000-4000-8000-000000000000', '14155550123'), 404, 'SESSION_NOT_FOUND');
  assertError(await req(srv, 'POST', '/api/v1/sessions/not-a-uuid/pair-code', { body: { phoneNumber: '14155550123' } }), 400, 'VALIDATION_ERROR');
  const phone = phoneNo();
  const s = await registering(srv, phone);
  for (const bad of ['0123456789', '1234567', '1234567890123456', '+12ab45678', '+', '', '++14155550123', '1415 555 0123']) {
    assertError(await askCode(srv, s.id, bad), 400, bad === '' ? 'VALIDATION_ERROR' : 'INVALID_PHONE_NUMBER');
  }
  assertError(await req(srv, 'POST', `/api/v1/sessions/${s.id}/pair-code`, { body: {} }), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'POST', `/api/v1/sessions/${s.id}/pair-code`, { body: { phoneNumber: 14155550123 } }), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'POST', `/api/v1/sessions/${s.id}/pair-code`, { body: { phoneNumber: phone, x: 1 } }), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'POST', `/api/v1/sessions/${s.id}/pair-code`, { body: 'nope' }), 400, 'VALIDATION_ERROR');
  // the shortest and longest valid numbers pass the check (then get codes)
  for (const ok of ['+44200000', '123456789012345']) {
    const r = await askCode(srv, s.id, ok);
    assert.equal(r.status, 200, `${ok}: ${r.text}`);
  }
  // logged out: not registering until restarted
  const lo = await req(srv, 'POST', `/api/v1/sessions/${s.id}/logout`);
  assert.equal(lo.status, 200, lo.text);
  await waitSession(srv, s.id, (x) => x.status === 'logged_out', 'logged_out');
  assertError(await askCode(srv, s.id, phone), 409, 'PAIR_CODE_UNAVAILABLE');
  const rs = await req(srv, 'POST', `/api/v1/sessions/${s.id}/restart`);
  assert.equal(rs.status, 200, rs.text);
  await waitSession(srv, s.id, (x) => x.status === 'qr', 'a QR again');
  assert.equal((await askCode(srv, s.id, phone)).status, 200);
}));

test('a session that cannot reach WhatsApp has no pair code to give', async () => {
  // lib.mjs points WA_WS_URL at a closed local port
  const srv = await startServer({ env: { API_KEY: KEY } });
  srv.key = KEY;
  try {
    const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'offline' } });
    assert.equal(c.status, 201, c.text);
    assertError(await askCode(srv, c.body.id, '14155550123'), 409, 'PAIR_CODE_UNAVAILABLE');
  } finally {
    await stopServer(srv);
  }
});

test('the phone\'s PBKDF2 outlives its connection and its simulator without harm', async () => {
  // the sim checks a code on libuv's thread pool (~250 ms under ASan): drop
  // the connection, then stop the simulator, while that runs
  const sim2 = await startSim();
  const root2 = (await sim2.api('GET', '/sim/info')).json.rootPublicKey;
  const srv = await serveOnSim(sim2, root2, KEY);
  try {
    const phone = phoneNo();
    await sim2.api('POST', '/sim/accounts', { phone });
    const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'drop' } });
    const s = await waitSession(srv, c.body.id, (x) => x.status === 'qr' && x.qrCode, 'a QR');
    const r = await askCode(srv, s.id, phone);
    assert.equal(r.status, 200, r.text);
    assert.equal((await sim2.api('POST', '/sim/pair-code', { phone, code: r.body.code })).status, 200);
    const drop = await sim2.api('POST', '/sim/faults', { dropAll: true });
    assert.equal(drop.json.dropped, 1);
    // the simulator lives on, counts no failure, and the session registers again
    const st = (await sim2.api('GET', '/sim/stats')).json;
    assert.equal(st.pairCodeFailed, 0);
    const again = await waitSession(srv, s.id, (x) => x.status === 'qr' && x.qrCode && x.qrCode !== s.qrCode, 'a new QR');
    assert.equal((await sim2.api('POST', '/sim/pair-code', { phone, code: r.body.code })).status, 404, 'the new connection asked for no code');
    const r2 = await askCode(srv, again.id, phone);
    assert.equal(r2.status, 200, r2.text);
    assert.equal((await sim2.api('POST', '/sim/pair-code', { phone, code: r2.body.code })).status, 200);
  } finally {
    const code = await sim2.stop(); // with the second check still running
    await stopServer(srv);
    assert.equal(code, 0, sim2.stderr());
    assert.doesNotMatch(sim2.stderr(), /AddressSanitizer|runtime error|LeakSanitizer/);
  }
});

test('our client\'s PBKDF2 outlives its connection and its engine without harm', async () => {
  const srv = await serveOnSim(sim, root, KEY);
  let stopped = false;
  try {
    const phone = phoneNo();
    const s = await registering(srv, phone);
    // the client unwraps the phone's key on the thread pool after this log line
    const entered = async (id) => {
      const r = await askCode(srv, id, phone);
      assert.equal(r.status, 200, r.text);
      const seen = srv.logs.filter((l) => l.message === 'client pair code entered on the phone').length;
      assert.equal((await sim.api('POST', '/sim/pair-code', { phone, code: r.body.code })).status, 200);
      const end = Date.now() + 10000;
      while (srv.logs.filter((l) => l.message === 'client pair code entered on the phone').length === seen) {
        assert.ok(Date.now() < end, 'the phone\'s primary_hello reached the client');
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    await entered(s.id);
    // the connection goes while the job runs: the session registers again
    const dropped = await sim.api('POST', '/sim/faults', { dropAll: true });
    assert.ok(dropped.json.dropped >= 1);
    const again = await waitSession(srv, s.id, (x) => x.status === 'qr' && x.qrCode && x.qrCode !== s.qrCode, 'a new QR');
    assert.equal(again.phone, null);
    // and the engine stops while the next one runs (stopServer checks a clean exit)
    await entered(s.id);
    stopped = true;
    await stopServer(srv);
  } finally {
    if (!stopped) await stopServer(srv);
  }
});
