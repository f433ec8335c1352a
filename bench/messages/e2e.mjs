// One contestant of bench messages-e2e, against the `yesapp sim --tls` at
// SIM_BASE (started by bench/messages/run.sh, the same one for both):
//   node bench/messages/e2e.mjs ours|peer SIM_BASE SESSIONS M
// ours: one `yesapp serve` (YESAPP_BUILD) with SESSIONS sessions linked by
// QR over wss:// (rate limit off, the default access log on), sending with
// POST /api/v1/sessions/{id}/messages;
// peer: SESSIONS Baileys 6 sockets in this Node process, over wss:// to the
// same simulator, sending with sendMessage. Session i writes to its own
// simulated account, whose phone decrypts every message (the simulator's
// phoneDecrypted count: the receiving cost is the same C code for both).
// Every session first sends one message (setting up its Signal sessions:
// usync, prekeys, pkmsg), which also tells how many phone decrypts one
// message makes (the recipient's, the sender's own phone's copy), and five
// more to warm the path; then each sends M texts, 10 at a time. Prints
//   rate <messages/s>   SESSIONS * M from the first send until the
//                       simulator has decrypted them all
//   sent <s>            until the last send returned (ours: its 202; the
//                       peer: sendMessage resolved, the stanza written)
//   decrypts <k>        phone decrypts a message
//   link <s>            linking the SESSIONS (not a compared figure)
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { startServer, stopServer, req, tempDir, removeDir } from '../../tests/http/lib.mjs';
import { client, loadBaileys, sleep } from '../../tests/interop/sim-lib.mjs';
import { linkAll, linkOurs, simApi, watchRaces } from '../sessions/lib.mjs';

const [side, base, nArg, mArg] = process.argv.slice(2);
const N = Number(nArg), M = Number(mArg);
const api = simApi(base);
const info = (await api('GET', '/sim/info')).json;
const tag = `${side === 'ours' ? 5 : 6}${String(process.pid % 1000).padStart(3, '0')}`;
const phone = (i) => `1664${tag}${String(i).padStart(4, '0')}`; // senders
const rcpt = (i) => `1665${tag}${String(i).padStart(4, '0')}`;  // their recipients
const decrypted = async () => (await api('GET', '/sim/stats')).json.phoneDecrypted;
const dir = tempDir();
const counts = { races: 0, pending: 0 };
let rejections = 0;
process.on('unhandledRejection', (e) => { // Baileys under load (bench/sessions/peer.mjs)
  if (counts.pending > 0 && /unable to authenticate data/.test(String(e?.message))) {
    counts.pending--;
    return;
  }
  if (++rejections <= 3) console.error(`${side}: unhandled rejection:`, e?.message || e);
});

let srv = null;
const socks = [];
let send;
try {
  for (let i = 0; i < N; i++) await api('POST', '/sim/accounts', { phone: rcpt(i) });
  const tl = performance.now();
  if (side === 'ours') {
    const ca = join(dir, 'sim-ca.pem');
    writeFileSync(ca, info.caCert);
    const key = 'bench-e2e-key-0123456789abcdef';
    srv = await startServer({
      dataDir: join(dir, 'data'), timeoutMs: 60000, openapiCheck: false,
      env: { WA_WS_URL: info.wssUrl, WA_ROOT_KEY: info.rootPublicKey, WA_CA_FILE: ca, API_KEY: key,
        RATE_LIMIT_GLOBAL: '1000000', RATE_LIMIT_MESSAGES: '0', QUEUE_MAX: '1000000' },
    });
    srv.key = key;
    const ids = [];
    await linkAll(0, N, async (i) => { ids[i] = await linkOurs(srv, api, phone(i), `e${i}`); });
    send = async (i, text) => {
      const r = await req(srv, 'POST', `/api/v1/sessions/${ids[i]}/messages`, { body: { to: `+${rcpt(i)}`, text } });
      if (r.status !== 202) throw new Error(`send: ${r.status} ${r.text}`);
    };
  } else {
    const lib = await loadBaileys(6);
    const sim = { wsUrl: info.wssUrl, api };
    const opts = { wsUrl: info.wssUrl, agent: new https.Agent({ ca: info.caCert }) };
    await linkAll(0, N, async (i) => {
      await api('POST', '/sim/accounts', { phone: phone(i) });
      const c = client(lib, sim, phone(i), `b${i}`, opts);
      socks[i] = c;
      watchRaces(c, counts);
      c.connect();
      await c.until(() => c.opens > 0, 'linked and open', 120000);
    });
    send = (i, text) => socks[i].sock.sendMessage(`${rcpt(i)}@s.whatsapp.net`, { text });
  }
  const link = (performance.now() - tl) / 1000;
  const waitFor = async (target, ms = 300000) => {
    const t0 = Date.now();
    for (;;) {
      const v = await decrypted();
      if (v >= target) return v;
      if (Date.now() - t0 > ms) throw new Error(`decrypted ${v} of ${target}`);
      await sleep(5);
    }
  };
  const all = (fn) => Promise.all(Array.from({ length: N }, (_, i) => fn(i)));
  // one message each: Signal sessions set up; then the count settles
  let d0 = await decrypted();
  await all((i) => send(i, `warm-up ${i}`));
  await waitFor(d0 + N);
  let last = -1, now = await decrypted();
  while (now !== last) {
    await sleep(1000);
    last = now;
    now = await decrypted();
  }
  const k = Math.round((now - d0) / N);
  if (k < 1 || now - d0 !== k * N) throw new Error(`${now - d0} phone decrypts for ${N} messages`);
  d0 = await decrypted();
  await all(async (i) => { for (let j = 0; j < 5; j++) await send(i, `warm ${i}.${j}`); });
  await waitFor(d0 + k * N * 5);
  d0 = await decrypted();
  const t0 = process.hrtime.bigint();
  await all(async (i) => {
    for (let j = 0; j < M; j += 10)
      await Promise.all(Array.from({ length: Math.min(10, M - j) }, (_, x) => send(i, `burst ${i}.${j + x}`)));
  });
  const sent = Number(process.hrtime.bigint() - t0) / 1e9;
  await waitFor(d0 + k * N * M);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`rate ${(N * M / s).toFixed(1)}`);
  console.log(`sent ${sent.toFixed(2)}`);
  console.log(`decrypts ${k}`);
  console.log(`link ${link.toFixed(2)}`);
  if (side === 'peer') console.log(`races ${counts.races}`);
  console.log(`rejections ${rejections}`);
} finally {
  for (const c of socks) if (c) c.end();
  if (srv) await stopServer(srv, { removeData: false });
  removeDir(dir);
}
process.exit(0);
