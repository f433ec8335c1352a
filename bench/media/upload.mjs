// Sending media, end to end: `yesapp serve` (YESAPP_BUILD, default build)
// linked to `yesapp sim`; a 20 MB video posted as base64, timed from the
// 202 to the message's status leaving `pending` (read by polling every
// 10 ms): the upload thread's two encryption passes, the HTTPS upload to
// the simulator's media host (in memory, same machine) and the send.
//   YESAPP_BUILD=build node bench/media/upload.mjs [rounds]
// Prints: bench media-send-e2e ours=<MB/s> spread_ours=<min>..<max> n=<rounds>
// No peer figure: Baileys' upload needs its own socket's media_conn, and
// its encryption alone is media-encrypt in run.sh.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { stopServer, req, tempDir, removeDir } from '../../tests/http/lib.mjs';
import { messaging } from '../../tests/http/msg-lib.mjs';
import { startSim, sleep } from '../../tests/interop/sim-lib.mjs';

const rounds = Number(process.argv[2] || 3);
const MB = 20000000;
const sim = await startSim();
const info = (await sim.api('GET', '/sim/info')).json;
const caDir = tempDir();
fs.writeFileSync(join(caDir, 'ca.pem'), info.caCert);
const h = await messaging(sim, { prefix: '1556' });
const srv = await h.serve(undefined, { WA_CA_FILE: join(caDir, 'ca.pem'), MAX_BODY_BYTES: String(40 << 20) });
const rates = [];
try {
  const them = h.newPhone();
  const B = await h.peer(them, 'Bench');
  const id = await h.link(srv, h.newPhone());
  for (let i = 0; i < rounds; i++) {
    const bytes = Buffer.concat([Buffer.from('\x00\x00\x00\x18ftypmp42', 'binary'), crypto.randomBytes(MB - 12)]);
    const r = await req(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: `${them}@s.whatsapp.net`, video: { base64: bytes.toString('base64') } } });
    if (r.status !== 202) throw new Error(r.text);
    const t0 = process.hrtime.bigint();
    for (;;) {
      const m = await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${r.body.id}`);
      if (m.body.status === 'failed') throw new Error(m.text);
      if (m.body.status !== 'pending') break;
      await sleep(10);
    }
    rates.push(MB / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  B.end();
} finally {
  await stopServer(srv);
  await sim.stop();
  removeDir(caDir);
}
rates.sort((a, b) => a - b);
console.log(`bench media-send-e2e ours=${rates[rates.length >> 1].toFixed(1)}MB/s spread_ours=${rates[0].toFixed(1)}..${rates[rates.length - 1].toFixed(1)} n=${rates.length}`);
