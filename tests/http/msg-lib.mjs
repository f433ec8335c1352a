// Helpers for the messaging tests that run `yesapp serve` against
// `yesapp sim` with Baileys peers (chats, redelivery, burst): a server on
// the simulator, a session linked by QR, a Baileys peer, polling with a
// deadline, and what a peer received from us.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import dns from 'node:dns/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, req, tempDir, removeDir, BUILD } from './lib.mjs';
import { sleep, loadBaileys, client, textOf, startSim } from '../interop/sim-lib.mjs';

// a real media file from tests/tools/wa-mkmedia (images: a gradient)
export const mkmedia = (...args) => {
  const dir = tempDir();
  try {
    execFileSync(join(BUILD, 'tools/wa-mkmedia'), [...args.map(String), join(dir, 'f')]);
    return fs.readFileSync(join(dir, 'f'));
  } finally { removeDir(dir); }
};
// a JPEG decoded by libjpeg (tests/tools/wa-mkmedia jpegpx): { width, height,
// px(x, y) -> [r, g, b] }
export const jpegPixels = (bytes) => {
  const dir = tempDir();
  try {
    fs.writeFileSync(join(dir, 'j'), bytes);
    const [size, hex] = execFileSync(join(BUILD, 'tools/wa-mkmedia'), ['jpegpx', join(dir, 'j')]).toString().split('\n');
    const [width, height] = size.split(' ').map(Number);
    const rgb = Buffer.from(hex, 'hex');
    assert.equal(rgb.length, width * height * 3, 'every pixel decoded');
    return { width, height, px: (x, y) => [...rgb.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)] };
  } finally { removeDir(dir); }
};
// A local web server for media given by URL: serves files (a Map of path
// to bytes, filled later), 404 for the rest; { web, url }.
export async function fileServer(files) {
  const web = http.createServer((rq, rs) => {
    const f = files.get(rq.url);
    if (!f) { rs.writeHead(404); rs.end('no'); return; }
    rs.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': f.length });
    rs.end(f);
  });
  await new Promise((ok) => web.listen(0, '127.0.0.1', ok));
  return { web, url: `http://127.0.0.1:${web.address().port}` };
}
// A name this machine's resolver maps to loopback only (its own host name, from
// /etc/hosts), or null; no DNS server is asked (tests stay on this machine).
export async function loopbackName() {
  const name = os.hostname();
  const all = await dns.lookup(name, { all: true }).catch(() => []);
  return all.length && all.every((a) => a.address.startsWith('127.') || a.address === '::1') ? name : null;
}
// `yesapp sim` with its media CA in a file (for WA_CA_FILE): { sim, info, caFile, stop }
export async function simWithCa() {
  const sim = await startSim();
  const info = (await sim.api('GET', '/sim/info')).json;
  const caDir = tempDir();
  const caFile = join(caDir, 'ca.pem');
  fs.writeFileSync(caFile, info.caCert);
  return { sim, info, caFile, stop: async () => { await sim.stop(); removeDir(caDir); } };
}
// a JPEG's size from its SOF marker
export function jpegSize(b) {
  assert.equal(b[0], 0xff); assert.equal(b[1], 0xd8);
  for (let i = 2; i + 9 < b.length;) {
    assert.equal(b[i], 0xff, 'a JPEG marker');
    const mk = b[i + 1], len = b.readUInt16BE(i + 2);
    if (mk >= 0xc0 && mk <= 0xc3) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  assert.fail('no SOF in the JPEG');
}

export async function messaging(sim, { key = 'msg-lib-test-key-0123456789', prefix = '1557' } = {}) {
  const root = (await sim.api('GET', '/sim/info')).json.rootPublicKey;
  const libs = { 6: await loadBaileys(6) };
  let seq = 0;
  const h = {
    sim,
    deviceJids: new Map(),
    lids: new Map(), // our LID user by our phone (a send by LID files under it)
    libs,
    serve: (dataDir, env = {}) => startServer({
      dataDir,
      env: { WA_WS_URL: sim.wsUrl, WA_ROOT_KEY: root, API_KEY: key, RATE_LIMIT_MESSAGES: '0', ...env },
    }).then((srv) => { srv.key = key; return srv; }),
    newPhone: () => `${prefix}${String(process.pid % 1000).padStart(3, '0')}${String(seq++).padStart(4, '0')}`,
    async until(what, fn, ms = 20000) {
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        const v = await fn();
        if (v) return v;
        await sleep(50);
      }
      throw new Error(`timed out waiting for ${what}`);
    },
    connected: (srv, id) => h.until('connected', async () => {
      const r = await req(srv, 'GET', `/api/v1/sessions/${id}`);
      return r.body && r.body.status === 'connected' ? r.body : null;
    }),
    async link(srv, phone) {
      await sim.api('POST', '/sim/accounts', { phone });
      const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'msg' } });
      assert.equal(c.status, 201, c.text);
      const s = c.body.qrCode ? c.body : await h.until('a QR', async () => {
        const r = await req(srv, 'GET', `/api/v1/sessions/${c.body.id}`);
        return r.body.qrCode ? r.body : null;
      });
      const scan = await sim.api('POST', '/sim/scan', { phone, qr: s.qrCode });
      assert.equal(scan.status, 200, scan.text);
      const done = await h.connected(srv, s.id);
      h.deviceJids.set(phone, done.deviceJid);
      if (done.lid) h.lids.set(phone, done.lid.split(/[:@]/)[0]);
      return s.id;
    },
    async peer(phone, name, v = 6) {
      if (!libs[v]) libs[v] = await loadBaileys(v);
      const B = client(libs[v], sim, phone, name);
      B.connect();
      await B.until(() => B.opens && B.pending, `${name} open`);
      await B.until(() => B.upserts.some((u) => u.message?.protocolMessage), `${name}: phone protocol messages`);
      return B;
    },
    // GET .../messages with a query string; asserts 200
    async list(srv, id, query = 'limit=500') {
      const r = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?${query}`);
      assert.equal(r.status, 200, r.text);
      return r.body.data;
    },
    // what B received from us (under our phone-number JID, or our LID: we
    // write by LID when the usync answer gives the peer's) with each text
    fromUs: (B, usPhone) => B.upserts.filter((u) => !u.key.fromMe &&
      (u.key.remoteJid === `${usPhone}@s.whatsapp.net` ||
       (h.lids.get(usPhone) && u.key.remoteJid === `${h.lids.get(usPhone)}@lid`)))
      .map((u) => ({ id: u.key.id, text: textOf(u.message) })),
    // our device's row in /sim/accounts/{phone}/devices (unacked, queued, online)
    async ourDevice(phone) {
      const r = await sim.api('GET', `/sim/accounts/${phone}/devices`);
      assert.equal(r.status, 200, r.text);
      const d = r.json.devices.find((x) => x.jid === h.deviceJids.get(phone));
      assert.ok(d, `our device ${h.deviceJids.get(phone)} in ${r.text}`);
      return d;
    },
  };
  return h;
}
