// What a slow webhook receiver costs the message path (bench/webhooks/run.sh).
// One `yesapp sim` and one `yesapp serve` (YESAPP_BUILD, release) linked to
// it; an unmodified Baileys 6 peer sends BENCH_MESSAGES texts to our number,
// one at a time; each is timed from Baileys' sendMessage until its `message`
// event reaches a client of our live event stream (GET /api/v1/events/stream,
// written in the same transaction that stores the message). The session's
// webhook takes every event and answers after DELAY_MS (env; 0 or 1000), so
// with 1000 the webhook thread has a growing backlog while we measure.
// Prints "p50_ms V", "p90_ms V" and checks every message was stored once.
import { createServer } from 'node:http';
import { startServer, stopServer, req, BUILD } from '../../tests/http/lib.mjs';
import { startSim, loadBaileys, client, sleep } from '../../tests/interop/sim-lib.mjs';

process.env.YESAPP_BUILD = BUILD;
const K = Number(process.env.BENCH_MESSAGES || 30);
const DELAY = Number(process.env.DELAY_MS || 0);
const KEY = 'bench-webhooks-slow-key-0123456789';

async function until(what, fn, ms = 30000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let hooks = 0;
const rx = createServer({ keepAlive: true }, (q, s) => {
  q.resume();
  q.on('end', () => setTimeout(() => { hooks++; s.writeHead(200, { 'Content-Length': '0' }); s.end(); }, DELAY));
});
await new Promise((res) => rx.listen(0, '127.0.0.1', res));

const sim = await startSim();
const root = (await sim.api('GET', '/sim/info')).json.rootPublicKey;
const srv = await startServer({
  env: { WA_WS_URL: sim.wsUrl, WA_ROOT_KEY: root, API_KEY: KEY }, openapiCheck: false,
});
srv.key = KEY;
const lib = await loadBaileys(6);
const us = `1557${String(process.pid % 10000).padStart(4, '0')}001`;
const them = `1557${String(process.pid % 10000).padStart(4, '0')}002`;
let B, stream;
try {
  await sim.api('POST', '/sim/accounts', { phone: us });
  const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'bench' } });
  const id = c.body.id;
  const s = await until('a QR', async () => {
    const r = await req(srv, 'GET', `/api/v1/sessions/${id}`);
    return r.body.qrCode ? r.body : null;
  });
  await sim.api('POST', '/sim/scan', { phone: us, qr: s.qrCode });
  await until('connected', async () => (await req(srv, 'GET', `/api/v1/sessions/${id}`)).body.status === 'connected');
  await req(srv, 'PUT', `/api/v1/sessions/${id}/webhook`,
    { body: { url: `http://127.0.0.1:${rx.address().port}/hook`, secret: 'bench' } });

  // the live stream: message events by text, with the time they arrived
  const arrived = new Map();
  const ac = new AbortController();
  const res = await fetch(`${srv.base}/api/v1/events/stream?sessionId=${id}&types=message`,
    { headers: { 'X-API-Key': KEY }, signal: ac.signal });
  stream = { ac };
  (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('\n');
          if (!data) continue;
          const j = JSON.parse(data);
          if (j.text && !arrived.has(j.text)) arrived.set(j.text, process.hrtime.bigint());
        }
      }
    } catch { /* aborted at the end */ }
  })();

  B = client(lib, sim, them, 'B');
  B.connect();
  await B.until(() => B.opens && B.pending, 'B open', 30000);
  const to = `${us}@s.whatsapp.net`;
  // warm-up: the first message sets up the Signal session (prekey fetch)
  await B.sock.sendMessage(to, { text: 'warm-up' });
  await until('the warm-up message', () => arrived.has('warm-up'));

  const lat = [];
  for (let i = 0; i < K; i++) {
    const text = `bench ${i} ${process.pid}`;
    const t0 = process.hrtime.bigint();
    await B.sock.sendMessage(to, { text });
    await until(`message ${i}`, () => arrived.has(text));
    lat.push(Number(arrived.get(text) - t0) / 1e6);
  }
  const r = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=500`);
  const stored = (r.body.data || []).filter((m) => m.text && m.text.endsWith(` ${process.pid}`));
  if (stored.length !== K) throw new Error(`${stored.length} messages stored for ${K} sent`);
  if (DELAY > 0 && hooks >= K + 1) throw new Error('the slow receiver kept up: the backlog this measures did not form');
  lat.sort((a, b) => a - b);
  console.log(`p50_ms ${lat[Math.floor(K / 2)].toFixed(2)}`);
  console.log(`p90_ms ${lat[Math.floor(K * 0.9)].toFixed(2)}`);
} finally {
  stream?.ac.abort();
  B?.end();
  await stopServer(srv);
  await sim.stop();
  rx.closeAllConnections();
  rx.close();
}
