// Webhook drain benchmark (bench/webhooks/run.sh): N events seeded into the
// outbox of one session whose webhook (with a secret: every body signed) is
// a keep-alive Node receiver on 127.0.0.1. `node drain.mjs` (ours): `yesapp
// serve` (YESAPP_BUILD, release) starts and delivers them; `node drain.mjs
// peer`: the same database drained by bench/webhooks/drain-peer.mjs (the same
// work in Node) instead. Prints "deliveries_per_s V" (from the start of the
// process that drains until the receiver has all N) and "peak_rss_mib V"
// (that process's VmHWM), and checks every event arrived once, in order,
// with a valid signature.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startServer, stopServer, req, tempDir, removeDir, BUILD } from '../../tests/http/lib.mjs';

const N = Number(process.env.BENCH_EVENTS || 10000);
const PEER = process.argv[2] === 'peer';
const KEY = 'bench-webhooks-key-0123456789';
const SECRET = 'bench-webhooks-secret';
const seen = [];
let badSig = 0;
let done;
const all = new Promise((res) => { done = res; });
const rx = createServer({ keepAlive: true }, (q, s) => {
  const chunks = [];
  q.on('data', (c) => chunks.push(c));
  q.on('end', () => {
    const raw = Buffer.concat(chunks);
    const want = 'sha256=' + createHmac('sha256', SECRET).update(raw).digest('hex');
    if (q.headers['x-yesapp-signature'] !== want) badSig++;
    const b = JSON.parse(raw);
    if (b.seq !== undefined) seen.push(b.seq);
    s.writeHead(200, { 'Content-Length': '0' });
    s.end();
    if (seen.length === N) done();
  });
});
await new Promise((res) => rx.listen(0, '127.0.0.1', res));
const url = `http://127.0.0.1:${rx.address().port}/hook`;
const dir = tempDir();
const env = { API_KEY: KEY };
let srv = await startServer({ dataDir: dir, env, openapiCheck: false });
srv.key = KEY;
const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'bench' } });
await req(srv, 'PUT', `/api/v1/sessions/${c.body.id}/webhook`, { body: { url, secret: SECRET, events: ['session.status'] } });
await stopServer(srv, { removeData: false });
execFileSync(join(BUILD, 'tools', 'seed_events'), [join(dir, 'db.sqlite'), c.body.id, String(N)]);
const t0 = process.hrtime.bigint();
let s, hwm;
if (PEER) {
  const peer = spawn(process.execPath, [join(fileURLToPath(new URL('.', import.meta.url)), 'drain-peer.mjs'),
    join(dir, 'db.sqlite'), url, SECRET, c.body.id], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  peer.stdout.on('data', (d) => { out += d; });
  const code = await new Promise((res) => peer.on('exit', res));
  if (code !== 0) throw new Error(`drain-peer exited ${code}`);
  await all;
  s = Number(process.hrtime.bigint() - t0) / 1e9;
  hwm = /peak_rss_mib (\S+)/.exec(out);
  hwm = hwm && [null, String(Number(hwm[1]) * 1024)];
} else {
  srv = await startServer({ dataDir: dir, env, openapiCheck: false });
  await all;
  s = Number(process.hrtime.bigint() - t0) / 1e9;
  hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'));
  await stopServer(srv, { removeData: false });
}
rx.closeAllConnections();
rx.close();
removeDir(dir);
for (let i = 0; i < N; i++) if (seen[i] !== i) throw new Error(`event ${i} out of order or missing: ${seen[i]}`);
if (seen.length !== N) throw new Error(`${seen.length} deliveries for ${N} events`);
if (badSig) throw new Error(`${badSig} deliveries with a wrong signature`);
console.log(`deliveries_per_s ${(N / s).toFixed(0)}`);
console.log(`peak_rss_mib ${(Number(hwm[1]) / 1024).toFixed(1)}`);
