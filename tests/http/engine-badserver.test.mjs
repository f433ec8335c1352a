// Bad servers through the real `yesapp serve` (issue 7, item 10): a server
// that sends garbage after the websocket upgrade, one that closes after the
// ClientHello, one whose certificate chain is signed by another root, and
// one that answers the login with a failure reason nobody knows. Each must
// leave its session with a status and a reason, never crash the server, and
// never touch another session: session A is linked to a good `yesapp sim`
// and stays connected on the same connection throughout.
//
// WA_WS_URL is one URL for the whole server, so it points at a switch (a
// `ws` server in this process) that routes each new websocket by the
// current mode: to the simulator, to a tests/tools/wa-badserver (a Noise
// responder that sends <failure reason=N/>, under the simulator's own root,
// read from its --state file, or under a root of its own), or it misbehaves
// itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocketServer, WebSocket } from 'ws';
import { startServer, stopServer, req, tempDir, removeDir, BUILD } from './lib.mjs';
import { startSim, sleep } from '../interop/sim-lib.mjs';

const KEY = 'engine-badserver-key-0123456789';
let sim, simDir, root, rootPriv, sw, mode = 'sim';
const helpers = {};
const accepted = {};

// A tests/tools/wa-badserver on an ephemeral port; resolves with {proc, url}.
function startHelper(args) {
  const proc = spawn(join(BUILD, 'tools', 'wa-badserver'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`wa-badserver did not start: ${stderr}`)), 10000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^\{"port":(\d+)/m.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ proc, exited, url: `ws://127.0.0.1:${m[1]}/ws/chat`, stderr: () => stderr });
      }
    });
    proc.on('exit', () => reject(new Error(`wa-badserver exited: ${stderr}`)));
  });
}

async function stopHelper(h) {
  h.proc.kill('SIGTERM');
  const { code, signal } = await h.exited;
  assert.equal(signal, null, h.stderr());
  assert.equal(code, 0, h.stderr());
  assert.doesNotMatch(h.stderr(), /AddressSanitizer|runtime error|LeakSanitizer/);
}

// Pipes websocket a to a new websocket at url, both ways, message by message.
function pipeTo(a, url) {
  const b = new WebSocket(url);
  const early = [];
  a.on('message', (m) => (b.readyState === WebSocket.OPEN ? b.send(m) : early.push(m)));
  b.on('open', () => { for (const m of early.splice(0)) b.send(m); });
  b.on('message', (m) => { if (a.readyState === WebSocket.OPEN) a.send(m); });
  const end = () => { a.terminate(); b.terminate(); };
  a.on('close', end); b.on('close', end); a.on('error', end); b.on('error', end);
}

function onConnection(ws) {
  const m = mode;
  accepted[m] = (accepted[m] || 0) + 1;
  ws.on('error', () => {});
  switch (m) {
    case 'sim': pipeTo(ws, sim.wsUrl); break;
    case 'failure': pipeTo(ws, helpers.failure.url); break;
    case 'other-root': pipeTo(ws, helpers.otherRoot.url); break;
    case 'garbage':
      // right after the upgrade: a frame that is no ServerHello, then bytes
      // that are no frame at all, and a text message
      ws.send(Buffer.from([0, 0, 6, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]));
      ws.send(Buffer.from([0xff, 0xff, 0xff, 0x00]));
      ws.send('not binary');
      break;
    case 'close-after-hello':
      ws.once('message', () => ws.terminate());
      break;
    default: ws.terminate();
  }
}

before(async () => {
  simDir = tempDir();
  const stateFile = join(simDir, 'sim-state.json');
  sim = await startSim(['--state', stateFile]);
  root = (await sim.api('GET', '/sim/info')).json.rootPublicKey;
  // the simulator saves its keys once its state changes
  await sim.api('POST', '/sim/accounts', { phone: '15557770001' });
  for (let i = 0; i < 50 && !existsSync(stateFile); i++) await sleep(100);
  const st = JSON.parse(readFileSync(stateFile, 'utf8'));
  assert.equal(st.root.pub, root, 'the state file holds the root /sim/info shows');
  rootPriv = st.root.priv;
  helpers.failure = await startHelper(['--root-priv', rootPriv, '--failure', '999']);
  helpers.otherRoot = await startHelper(['--failure', '999']);
  sw = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/chat' });
  await new Promise((r) => sw.on('listening', r));
  sw.on('connection', onConnection);
});

after(async () => {
  for (const c of sw.clients) c.terminate();
  await new Promise((r) => sw.close(r));
  for (const h of Object.values(helpers)) await stopHelper(h);
  await sim.stop();
  removeDir(simDir);
});

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

// Each bad server: the reason the session must show once it gave up on a
// connection.
const CASES = [
  { mode: 'garbage', reasons: ['connection_lost', 'handshake_failed'] },
  { mode: 'close-after-hello', reasons: ['connection_lost'] },
  { mode: 'other-root', reasons: ['handshake_failed'] },
  { mode: 'failure', reasons: ['login_failure'] },
];

test('bad servers leave a reason, never crash, never touch the linked session', async () => {
  const srv = await startServer({
    env: { WA_WS_URL: `ws://127.0.0.1:${sw.address().port}/ws/chat`, WA_ROOT_KEY: root, API_KEY: KEY },
  });
  srv.key = KEY;
  try {
    // session A, linked through the switch to the good simulator
    mode = 'sim';
    const phone = '15557770002';
    await sim.api('POST', '/sim/accounts', { phone });
    const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'good' } });
    assert.equal(c.status, 201, c.text);
    const a = c.body.qrCode ? c.body : await until(srv, c.body.id, (x) => x.qrCode, 'a QR');
    const scan = await sim.api('POST', '/sim/scan', { phone, qr: a.qrCode });
    assert.equal(scan.status, 200, scan.text);
    const linked = await until(srv, a.id, (x) => x.status === 'connected', 'A connected');
    const simConns = accepted.sim;

    for (const k of CASES) {
      mode = k.mode;
      const before = accepted[k.mode] || 0;
      const b = await req(srv, 'POST', '/api/v1/sessions', { body: { name: k.mode } });
      assert.equal(b.status, 201, b.text);
      const got = await until(srv, b.body.id, (x) => x.status === 'disconnected' && !!x.reason,
        `${k.mode}: a status with a reason`);
      assert.ok(k.reasons.includes(got.reason), `${k.mode}: reason ${got.reason}`);
      assert.ok((accepted[k.mode] || 0) > before, `${k.mode}: the bad server was reached`);
      assert.equal(got.qrCode ?? null, null, `${k.mode}: no QR`);
      // the server is alive and A is untouched: same connection, same time
      const ra = await req(srv, 'GET', `/api/v1/sessions/${a.id}`);
      assert.equal(ra.status, 200);
      assert.equal(ra.body.status, 'connected', `${k.mode}: A still connected`);
      assert.equal(ra.body.connectedAt, linked.connectedAt, `${k.mode}: A did not reconnect`);
      const del = await req(srv, 'DELETE', `/api/v1/sessions/${b.body.id}`);
      assert.ok(del.status === 204 || del.status === 200, del.text);
    }
    assert.equal(accepted.sim, simConns, 'A never needed a new connection');
    mode = 'sim';
  } finally {
    await stopServer(srv);
  }
});

// The control: the same switch in 'failure' mode with the root the server
// does not trust gives handshake_failed, not login_failure, so the failure
// case above did reach the login (the helper's chain was trusted).
test('the failure helper is trusted only under the simulator root', async () => {
  const srv = await startServer({
    env: { WA_WS_URL: `ws://127.0.0.1:${sw.address().port}/ws/chat`, WA_ROOT_KEY: '11'.repeat(32), API_KEY: KEY },
  });
  srv.key = KEY;
  try {
    mode = 'failure';
    const b = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'untrusted' } });
    assert.equal(b.status, 201, b.text);
    const got = await until(srv, b.body.id, (x) => x.status === 'disconnected' && !!x.reason, 'a reason');
    assert.equal(got.reason, 'handshake_failed');
  } finally {
    mode = 'sim';
    await stopServer(srv);
  }
});
