// Peak RSS while sending a 100 MB document, ours beside Baileys 7's, through
// the same simulator (`yesapp sim`, HTTPS media host in memory):
//   YESAPP_BUILD=build node bench/media/send-rss.mjs [rounds]
// ours: `yesapp serve` linked to the simulator; the document is uploaded by
//   curl as multipart/form-data (POST .../messages/media, streamed from disk)
//   and sent to a Baileys peer; the figure is the server's peak RSS growth
//   (/proc/PID/clear_refs "5" resets VmHWM to the RSS of the moment, then
//   VmHWM once the message left `pending`: received, encrypted twice,
//   uploaded, sent).
// peer: a Node process running Baileys 7 linked to the same simulator that
//   sendMessage()s the same file ({document: {url: FILE}}: read, encrypted
//   into a temp file, uploaded with Node https, sent) to our number; its
//   figure is process.resourceUsage().maxRSS minus its RSS before the send.
// Prints: bench media-send-rss ours=<KiB> peer=<KiB> ratio=... (lower is better)
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopServer, req, tempDir, removeDir } from '../../tests/http/lib.mjs';
import { messaging } from '../../tests/http/msg-lib.mjs';
import { startSim, client, loadBaileys, sleep } from '../../tests/interop/sim-lib.mjs';

const SIZE = 100000000;
const kib = (pid, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

if (process.argv[2] === 'peer') {
  // child: WS_URL CA_FILE PHONE TO FILE
  const [wsUrl, caFile, phone, to, file] = process.argv.slice(3);
  const lib = await loadBaileys(7);
  const api = async (method, p, body) => {
    const r = await fetch(wsUrl.replace('ws://', 'http://').replace(/\/ws\/chat$/, '') + p, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, json: await r.json().catch(() => null) };
  };
  const B = client(lib, { wsUrl, api }, phone, 'RssPeer', { fetchAgent: new https.Agent({ ca: fs.readFileSync(caFile) }) });
  B.connect();
  await B.until(() => B.opens && B.pending, 'peer open', 30000);
  await sleep(500);
  const before = process.memoryUsage().rss >> 10;
  const m = await B.sock.sendMessage(to, { document: { url: file }, mimetype: 'application/pdf', fileName: 'big.pdf' });
  if (!m?.message?.documentMessage?.directPath) throw new Error('peer: no document sent');
  console.log(`rss_growth_kib ${process.resourceUsage().maxRSS - before}`);
  B.end();
  process.exit(0);
}

const rounds = Number(process.argv[2] || 3);
const sim = await startSim();
const info = (await sim.api('GET', '/sim/info')).json;
const dir = tempDir();
const caFile = join(dir, 'ca.pem');
fs.writeFileSync(caFile, info.caCert);
const file = join(dir, 'big.pdf');
{
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, Buffer.from('%PDF-1.7\n'));
  for (let n = 9; n < SIZE; n += 1 << 20) fs.writeSync(fd, crypto.randomBytes(Math.min(1 << 20, SIZE - n)));
  fs.closeSync(fd);
}
const h = await messaging(sim, { prefix: '1558' });
const srv = await h.serve(undefined, { WA_CA_FILE: caFile, MEDIA_AUTO_DOWNLOAD: 'false' });
const ours = [], peer = [];
try {
  const them = h.newPhone();
  const B = await h.peer(them, 'Bench');
  const usPhone = h.newPhone();
  const id = await h.link(srv, usPhone);
  const self = fileURLToPath(import.meta.url);
  for (let i = 0; i < rounds; i++) {
    await sleep(300);
    fs.writeFileSync(`/proc/${srv.proc.pid}/clear_refs`, '5');
    const before = kib(srv.proc.pid, 'VmRSS');
    // the reset must have worked, else VmHWM is the lifetime peak
    if (kib(srv.proc.pid, 'VmHWM') > before + 1024) throw new Error('VmHWM was not reset by clear_refs');
    const out = execFileSync('curl', ['-sS', '-H', `X-API-Key: ${srv.key}`, '-F', `to=${them}@s.whatsapp.net`,
      '-F', 'type=document', '-F', `file=@${file};type=application/pdf`, `${srv.base}/api/v1/sessions/${id}/messages/media`], { encoding: 'utf8' });
    const r = JSON.parse(out);
    if (!r.id) throw new Error(out);
    for (;;) {
      const m = await req(srv, 'GET', `/api/v1/sessions/${id}/messages/${r.id}`);
      if (m.body.status === 'failed') throw new Error(m.text);
      if (m.body.status !== 'pending') break;
      await sleep(20);
    }
    ours.push(kib(srv.proc.pid, 'VmHWM') - before);
    const child = spawn(process.execPath, [self, 'peer', sim.wsUrl, caFile, h.newPhone(), `${usPhone}@s.whatsapp.net`, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    const code = await new Promise((res) => child.on('exit', res));
    const g = /rss_growth_kib (\d+)/.exec(text);
    if (code !== 0 || !g) throw new Error(`peer failed (${code}): ${text}`);
    peer.push(Number(g[1]));
  }
  B.end();
} finally {
  await stopServer(srv);
  await sim.stop();
  removeDir(dir);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const ratios = ours.map((o, i) => peer[i] / Math.max(o, 1));
console.log(`bench media-send-rss ours=${med(ours)}KiB peer=${med(peer)}KiB ratio=${(med(peer) / Math.max(med(ours), 1)).toFixed(2)} ` +
  `spread_ours=${Math.min(...ours)}..${Math.max(...ours)} spread_peer=${Math.min(...peer)}..${Math.max(...peer)} ` +
  `spread_ratio=${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)} n=${ours.length}`);
