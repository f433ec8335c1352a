// The comparison peer for bench/http: an Express 4 app with the usual
// middleware stack (helmet, cors, express-rate-limit, an API-key check that
// looks up the SHA-256 of X-API-Key), serving GET /health, POST
// /api/v1/sessions and GET /api/v1/sessions/:id. Two builds (PEER_MODE):
//
//   as-designed (default): one process, every authenticated request queries
//     the keys and the session in SQLite through sql.js (in memory), no
//     access log: the figure bench/http has always reported.
//   same-work: what `yesapp serve` does per request, in Node: the SHA-256
//     of the presented key on every request and a 2-second cache of verified
//     keys (64 slots picked by the digest's first byte; a miss scans the
//     active keys with constant-time compares and touches last_used_at, as
//     src/api/common.c api_auth and src/auth/apikey.c apikey_verify do),
//     sessions read from an in-memory registry loaded at start and written
//     through (src/service/session.c), one JSON access-log line per request
//     on stdout (pino, ours logs at info level by default), an X-Request-Id,
//     SQLite through better-sqlite3 on a WAL file in DATA_DIR, and 2
//     node:cluster workers to match our 2 HTTP threads.
//
// Env: PORT (0 = ephemeral), API_KEY, RATE_LIMIT (requests/min per key/IP),
// PEER_MODE, DATA_DIR (same-work: where peer.sqlite goes), and to take
// pieces of same-work away (tests/http/bench-peer.test.mjs, experiments):
// PEER_WORKERS (default 2), PEER_KEY_CACHE_MS (default 2000, 0 = a query per
// request), PEER_REGISTRY (default 1, 0 = a query per request). Prints one line {"listening":PORT} on stderr when
// every worker listens (stdout carries the access log).
import cluster from 'node:cluster';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const mode = process.env.PEER_MODE || 'as-designed';
if (mode !== 'as-designed' && mode !== 'same-work') {
  console.error(`PEER_MODE must be as-designed or same-work, not ${mode}`);
  process.exit(2);
}
const same = mode === 'same-work';
const sha256 = (s) => createHash('sha256').update(s).digest();
const SCHEMA = `CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, hash BLOB UNIQUE NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0, last_used_at INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
    phone TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);`;
const announce = (port) => console.error(JSON.stringify({ listening: port }));

// same-work: the primary makes the database, forks the workers and
// announces the port once all of them listen; workers share it.
if (same && cluster.isPrimary) {
  const { default: Database } = await import('better-sqlite3');
  if (!process.env.DATA_DIR) {
    console.error('same-work needs DATA_DIR');
    process.exit(2);
  }
  const db = new Database(join(process.env.DATA_DIR, 'peer.sqlite'));
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  db.prepare('INSERT OR IGNORE INTO api_keys (id, hash) VALUES (?, ?)')
    .run(randomUUID(), sha256(process.env.API_KEY || 'bench'));
  db.close();
  const n = Number(process.env.PEER_WORKERS || 2);
  let listening = 0, stopping = false;
  cluster.on('listening', (w, addr) => { if (++listening === n) announce(addr.port); });
  // a session written by one worker goes into the others' registries
  cluster.on('message', (from, msg) => {
    for (const w of Object.values(cluster.workers)) if (w !== from) w.send(msg);
  });
  cluster.on('exit', (w, code, sig) => {
    if (!stopping) { console.error(`worker ${w.process.pid} died (${code ?? sig})`); process.exit(1); }
  });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    cluster.on('exit', () => { if (!Object.keys(cluster.workers).length) process.exit(0); });
  });
  for (let i = 0; i < n; i++) cluster.fork();
} else {
  await serve();
}

// The store: the same four calls on sql.js (as-designed) or better-sqlite3.
async function openStore() {
  if (!same) {
    const { default: initSqlJs } = await import('sql.js');
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    db.run(SCHEMA);
    db.run('INSERT INTO api_keys (id, hash) VALUES (?, ?)', [randomUUID(), sha256(process.env.API_KEY || 'bench')]);
    const findKey = db.prepare('SELECT id FROM api_keys WHERE hash = ? AND revoked = 0');
    const getSession = db.prepare('SELECT * FROM sessions WHERE id = ?');
    const insertSession = db.prepare('INSERT INTO sessions VALUES (?, ?, ?, NULL, ?, ?)');
    const one = (stmt, args) => {
      stmt.bind(args);
      const row = stmt.step() ? stmt.getAsObject() : null;
      stmt.reset();
      return row;
    };
    return {
      keyId: (digest) => one(findKey, [digest])?.id ?? null,
      getSession: (id) => one(getSession, [id]),
      allSessions: () => [],
      insertSession: (s) => insertSession.run([s.id, s.name, s.status, s.created_at, s.updated_at]),
    };
  }
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(process.env.DATA_DIR, 'peer.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const activeKeys = db.prepare('SELECT id, hash FROM api_keys WHERE revoked = 0');
  const touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND last_used_at <= ?');
  const getSession = db.prepare('SELECT * FROM sessions WHERE id = ?');
  const allSessions = db.prepare('SELECT * FROM sessions');
  const insertSession = db.prepare('INSERT INTO sessions VALUES (?, ?, ?, NULL, ?, ?)');
  return {
    // every active key compared in constant time, no early exit (as ours)
    keyId: (digest) => {
      let found = null;
      for (const k of activeKeys.iterate()) {
        if (k.hash.length === 32 && timingSafeEqual(k.hash, digest) && !found) found = k.id;
      }
      if (found) {
        const now = Date.now();
        touch.run(now, found, now - 60000);
      }
      return found;
    },
    getSession: (id) => getSession.get(id) ?? null,
    allSessions: () => allSessions.all(),
    insertSession: (s) => insertSession.run(s.id, s.name, s.status, s.created_at, s.updated_at),
  };
}

async function serve() {
  const { default: express } = await import('express');
  const { default: helmet } = await import('helmet');
  const { default: cors } = await import('cors');
  const { rateLimit } = await import('express-rate-limit');
  const store = await openStore();
  const started = Date.now();

  // same-work: the key cache of src/api/common.c (per worker here)
  const SLOTS = 64, TTL_MS = Number(process.env.PEER_KEY_CACHE_MS ?? 2000);
  const cache = Array.from({ length: SLOTS }, () => ({ digest: Buffer.alloc(32), id: null, expires: 0 }));
  const authCached = (key) => {
    if (key.length > 256) return null;
    const digest = sha256(key);
    const e = cache[digest[0] % SLOTS];
    const now = performance.now();
    if (e.expires > now && timingSafeEqual(e.digest, digest)) return e.id;
    const id = key.length > 512 ? null : store.keyId(sha256(key)); // apikey_verify hashes again
    if (!id || TTL_MS <= 0) return id;
    digest.copy(e.digest);
    e.id = id;
    e.expires = now + TTL_MS;
    return id;
  };
  const authQuery = (key) => store.keyId(sha256(key));

  // same-work: the session registry of src/service/session.c
  const registry = new Map();
  for (const s of store.allSessions()) registry.set(s.id, s);
  if (same) process.on('message', (m) => { if (m && m.session) registry.set(m.session.id, m.session); });
  const findSession = same && process.env.PEER_REGISTRY !== '0'
    ? (id) => {
        let s = registry.get(id);
        // a create on another worker may not have reached this one yet
        if (!s && (s = store.getSession(id))) registry.set(id, s);
        return s ?? null;
      }
    : (id) => store.getSession(id);

  const app = express();
  app.disable('x-powered-by');
  if (same) {
    const { default: pino } = await import('pino');
    const log = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime });
    app.use((req, res, next) => {
      const t0 = process.hrtime.bigint();
      const rid = req.get('x-request-id');
      req.id = rid && /^[\x21-\x7e]{1,64}$/.test(rid) ? rid : randomUUID();
      res.set('X-Request-Id', req.id);
      res.on('close', () => log.info({
        method: req.method, path: req.path, status: res.statusCode,
        durationMs: Number(process.hrtime.bigint() - t0) / 1e6, requestId: req.id,
        completed: res.writableFinished,
      }, 'request'));
      next();
    });
  }
  app.use(helmet());
  app.use(cors());
  app.use((req, res, next) => {
    const key = req.get('x-api-key');
    if (key) req.keyId = (same ? authCached : authQuery)(key);
    next();
  });
  app.use(rateLimit({
    windowMs: 60000,
    limit: Number(process.env.RATE_LIMIT || 100),
    keyGenerator: (req) => req.keyId || req.ip,
    standardHeaders: true,
    legacyHeaders: false,
  }));
  app.use(express.json({ limit: '1mb' }));
  app.get('/health', (req, res) => res.json({ status: 'healthy', uptime: Math.floor((Date.now() - started) / 1000) }));
  app.use('/api', (req, res, next) => {
    if (!req.keyId) return res.status(401).json({ error: 'UNAUTHORIZED', message: 'invalid API key', details: {} });
    next();
  });
  const iso = (ms) => new Date(ms).toISOString();
  const sessionJson = (s) => ({ id: s.id, name: s.name, status: s.status, phone: s.phone, qrCode: null,
    createdAt: iso(s.created_at), updatedAt: iso(s.updated_at) });
  app.post('/api/v1/sessions', (req, res) => {
    const name = req.body && req.body.name;
    if (typeof name !== 'string' || !name.length || name.length > 100) {
      return res.status(400).json({ error: 'VALIDATION_ERROR', message: 'invalid request', details: { field: 'name' } });
    }
    const now = Date.now();
    const s = { id: randomUUID(), name, status: 'pending', phone: null, created_at: now, updated_at: now };
    store.insertSession(s);
    if (same) {
      registry.set(s.id, s);
      if (process.send) process.send({ session: s });
    }
    res.status(201).json(sessionJson(s));
  });
  app.get('/api/v1/sessions/:id', (req, res) => {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(req.params.id)) {
      return res.status(400).json({ error: 'VALIDATION_ERROR', message: 'invalid request', details: { field: 'id' } });
    }
    const row = findSession(req.params.id);
    if (!row) return res.status(404).json({ error: 'SESSION_NOT_FOUND', message: 'no such session', details: {} });
    res.json(sessionJson(row));
  });

  const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
    if (!same) announce(server.address().port);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
