// Webhook drain benchmark (bench/webhooks/run.sh): N events seeded into the
// outbox of one session whose webhook is a keep-alive Node receiver on
// 127.0.0.1; `yesapp serve` (YESAPP_BUILD, release) starts and delivers
// them. Prints "deliveries_per_s V", "peak_rss_mib V" (the server's VmHWM)
// and checks every event arrived once, in order.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, stopServer, req, tempDir, removeDir, BUILD } from '../../tests/http/lib.mjs';

const N = Number(process.env.BENCH_EVENTS || 10000);
const KEY = 'bench-webhooks-key-0123456789';
const seen = [];
let done;
const all = new Promise((res) => { done = res; });
const rx = createServer({ keepAlive: true }, (q, s) => {
  const chunks = [];
  q.on('data', (c) => chunks.push(c));
  q.on('end', () => {
    const b = JSON.parse(Buffer.concat(chunks));
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
await req(srv, 'PUT', `/api/v1/sessions/${c.body.id}/webhook`, { body: { url, events: ['session.status'] } });
await stopServer(srv, { removeData: false });
execFileSync(join(BUILD, 'tools', 'seed_events'), [join(dir, 'db.sqlite'), c.body.id, String(N)]);
const t0 = process.hrtime.bigint();
srv = await startServer({ dataDir: dir, env, openapiCheck: false });
await all;
const s = Number(process.hrtime.bigint() - t0) / 1e9;
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'));
await stopServer(srv, { removeData: false });
rx.closeAllConnections();
rx.close();
removeDir(dir);
for (let i = 0; i < N; i++) if (seen[i] !== i) throw new Error(`event ${i} out of order or missing: ${seen[i]}`);
console.log(`deliveries_per_s ${(N / s).toFixed(0)}`);
console.log(`peak_rss_mib ${(Number(hwm[1]) / 1024).toFixed(1)}`);
