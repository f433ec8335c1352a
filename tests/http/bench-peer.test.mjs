// bench/http's same-work peer (bench/http/peer.mjs, PEER_MODE=same-work)
// must do the work `yesapp serve` does, or the comparison is not on the same
// work. One scenario runs against both, editing each one's SQLite file
// behind its back, and both must answer alike:
//   - a session whose row is deleted is still served (both read sessions
//     from memory, not the database, per request), an id never created is
//     404 (the registry does not answer everything);
//   - a revoked key is still accepted right after the revocation (the
//     2-second key cache) and refused once 2 s have passed (the cache
//     expires); a wrong key is refused at once.
// Every request opens its own connection, so the peer's two cluster workers
// both answer (their registries and caches are each checked). The scenario
// must also tell a peer without the cache and the registry apart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { startServer, stopServer, tempDir, removeDir } from './lib.mjs';

const root = join(import.meta.dirname, '../..');
const require = createRequire(join(root, 'package.json'));
let Database;
try {
  Database = require('better-sqlite3');
} catch (e) {
  throw new Error(`better-sqlite3 is missing from node_modules (scripts/deps.sh test installs it): ${e.message}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One request on a fresh connection -> { status, body }.
function call(base, method, path, key, body) {
  return new Promise((resolve, reject) => {
    const headers = { Connection: 'close' };
    if (key) headers['X-API-Key'] = key;
    if (body) headers['Content-Type'] = 'application/json';
    const r = request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    r.on('error', reject);
    r.end(body ? JSON.stringify(body) : undefined);
  });
}
const statuses = async (n, ...args) => {
  const out = [];
  for (let i = 0; i < n; i++) out.push((await call(...args)).status);
  return out;
};

async function startPeer(key, env = {}) {
  const dataDir = tempDir();
  const proc = spawn(process.execPath, [join(root, 'bench/http/peer.mjs')], {
    env: { PATH: process.env.PATH, PEER_MODE: 'same-work', PORT: '0', API_KEY: key, DATA_DIR: dataDir, RATE_LIMIT: '100000', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`peer did not start: ${err}`)), 15000);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /^\{"listening":(\d+)\}$/m.exec(err);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (c) => { clearTimeout(timer); reject(new Error(`peer exited ${c}: ${err}`)); });
  });
  return { proc, dataDir, base: `http://127.0.0.1:${port}`, key, db: join(dataDir, 'peer.sqlite') };
}

// The scenario; `db` is the subject's SQLite file. Returns what it saw.
async function scenario({ base, key, db }) {
  const seen = {};
  const created = await call(base, 'POST', '/api/v1/sessions', key, { name: 'judge' });
  seen.create = created.status;
  const id = JSON.parse(created.text).id;
  const path = `/api/v1/sessions/${id}`;
  seen.get = await statuses(4, base, 'GET', path, key);
  const d = new Database(db, { timeout: 5000 });
  try {
    seen.rowDeleted = d.prepare('DELETE FROM sessions WHERE id = ?').run(id).changes;
    seen.getAfterRowDeleted = await statuses(4, base, 'GET', path, key);
    seen.neverCreated = (await call(base, 'GET', '/api/v1/sessions/00000000-0000-4000-8000-000000000000', key)).status;
    seen.wrongKey = (await call(base, 'GET', path, key.replace(/^./, (c) => (c === '0' ? '1' : '0')))).status;
    // warm every worker's cache, revoke, ask again at once; a pass that
    // took too long for "at once" (a loaded machine) is tried again
    for (let attempt = 0; ; attempt++) {
      d.prepare('UPDATE api_keys SET revoked = 0').run();
      await sleep(2100); // no cached entry left from earlier
      const t0 = Date.now();
      await statuses(4, base, 'GET', path, key);
      seen.revoked = d.prepare('UPDATE api_keys SET revoked = 1').run().changes;
      seen.revokedAtOnce = await statuses(4, base, 'GET', path, key);
      if (Date.now() - t0 < 1500 || attempt === 2) break;
    }
    await sleep(2100);
    seen.revokedLater = await statuses(4, base, 'GET', path, key);
  } finally {
    d.close();
  }
  return seen;
}

const EXPECTED = {
  create: 201,
  get: [200, 200, 200, 200],
  rowDeleted: 1,
  getAfterRowDeleted: [200, 200, 200, 200],
  neverCreated: 404,
  wrongKey: 401,
  revoked: 1,
  revokedAtOnce: [200, 200, 200, 200],
  revokedLater: [401, 401, 401, 401],
};

const stops = [];
after(async () => { for (const s of stops) await s(); });

test('ours: sessions from memory, a 2-second key cache', async () => {
  const srv = await startServer();
  stops.push(() => stopServer(srv));
  assert.ok(srv.key);
  assert.deepEqual(await scenario({ base: srv.base, key: srv.key, db: join(srv.dataDir, 'db.sqlite') }), EXPECTED);
});

async function peerScenario(env) {
  const peer = await startPeer('a'.repeat(64), env);
  stops.push(async () => {
    const exited = new Promise((r) => peer.proc.on('exit', r));
    peer.proc.kill('SIGTERM');
    await exited;
    removeDir(peer.dataDir);
  });
  return scenario(peer);
}

test('the same-work peer answers as ours does', async () => {
  assert.deepEqual(await peerScenario({}), EXPECTED);
});

test('the scenario catches a peer that queries SQLite per request', async () => {
  const seen = await peerScenario({ PEER_KEY_CACHE_MS: '0', PEER_REGISTRY: '0' });
  assert.deepEqual(seen, {
    ...EXPECTED,
    getAfterRowDeleted: [404, 404, 404, 404],
    revokedAtOnce: [401, 401, 401, 401],
  });
});
