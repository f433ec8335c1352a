// One contestant of bench/messages, in its own `yesapp sim`:
//   node bench/messages/side.mjs ours|peer N SAMPLES
// ours: a `yesapp serve` session (POST /api/v1/sessions/{id}/messages,
// rate limit off); peer: a Baileys 6 socket (sendMessage). Both send to
// another account of the simulator, whose simulated phone decrypts every
// message (its phoneDecrypted count: the receiving cost is the same C code
// for both). Prints
//   rate <messages/s>   N texts sent 25 at a time, from the first send until
//                       the simulator has decrypted them all
//   latency <ms>        median of SAMPLES single sends, each from the send
//                       until the recipient's phone has decrypted it
//   decrypts <k>        the phone decrypts one message causes (the
//                       recipient's, and the sender's own phone's copy)
import { startSim, sleep } from '../../tests/interop/sim-lib.mjs';
import { messaging } from '../../tests/http/msg-lib.mjs';
import { stopServer, req } from '../../tests/http/lib.mjs';

const [side, nArg, sArg] = process.argv.slice(2);
const N = Number(nArg), SAMPLES = Number(sArg);
const sim = await startSim();
const h = await messaging(sim, { prefix: side === 'ours' ? '1561' : '1562' });
const decrypted = async () => (await sim.api('GET', '/sim/stats')).json.phoneDecrypted;
const rcpt = h.newPhone();
await sim.api('POST', '/sim/accounts', { phone: rcpt });
let srv = null, B = null, send;
try {
  if (side === 'ours') {
    srv = await h.serve(undefined, { QUEUE_MAX: String(N + 100), RATE_LIMIT_MESSAGES: '0' });
    const id = await h.link(srv, h.newPhone());
    send = async (text) => {
      const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: `+${rcpt}`, text } });
      if (r.status !== 202) throw new Error(r.text);
    };
  } else {
    B = await h.peer(h.newPhone(), 'Bbench');
    send = (text) => B.sock.sendMessage(`${rcpt}@s.whatsapp.net`, { text });
  }
  const waitFor = async (target, ms = 120000) => {
    const t0 = Date.now();
    for (;;) {
      const v = await decrypted();
      if (v >= target) return v;
      if (Date.now() - t0 > ms) throw new Error(`decrypted ${v} of ${target}`);
      await sleep(2);
    }
  };
  // the first message sets up the sessions (usync, prekeys, pkmsg); it also
  // tells how many phone decrypts one message makes
  let d0 = await decrypted();
  await send('warm-up');
  await sleep(1000);
  const k = (await decrypted()) - d0;
  if (k < 1) throw new Error('the warm-up message was not decrypted');
  for (let i = 0; i < 20; i++) { // warm the path
    d0 = await decrypted();
    await send(`warm ${i}`);
    await waitFor(d0 + k);
  }
  const lat = [];
  for (let i = 0; i < SAMPLES; i++) {
    d0 = await decrypted();
    const t = process.hrtime.bigint();
    await send(`latency ${i}`);
    await waitFor(d0 + k);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  lat.sort((a, b) => a - b);
  d0 = await decrypted();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += 25)
    await Promise.all(Array.from({ length: Math.min(25, N - i) }, (_, j) => send(`burst ${i + j}`)));
  await waitFor(d0 + k * N);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`rate ${(N / s).toFixed(1)}`);
  console.log(`latency ${lat[Math.floor(lat.length / 2)].toFixed(2)}`);
  console.log(`decrypts ${k}`);
} finally {
  if (B) B.end();
  if (srv) await stopServer(srv);
  await sim.stop();
}
process.exit(0);
