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
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
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
  db.pragma('foreign_keys = ON'); // as ours (bench/messages writes into our schema)
  const activeKeys = db.prepare('SELECT id, hash FROM api_keys WHERE revoked = 0');
  const touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND last_used_at <= ?');
  const getSession = db.prepare('SELECT * FROM sessions WHERE id = ?');
  const allSessions = db.prepare('SELECT * FROM sessions');
  const insertSession = db.prepare('INSERT INTO sessions (id, name, status, phone, created_at, ' +
    'updated_at) VALUES (?, ?, ?, NULL, ?, ?)');
  return {
    db,
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
  // on our schema (bench/messages' copy of our database): POST .../messages too
  if (same && store.db && store.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' " +
    "AND name = 'messages'").get()) acceptRoute(app, store.db, findSession);
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

// same-work on a database made by `yesapp serve` (bench/messages: a copy of
// our DATA_DIR/db.sqlite, its schema, indexes and triggers): POST
// /api/v1/sessions/:id/messages {"to","text"} as src/api/messages.c
// api_messages_send and src/service/engine.c op_send_msg do it: the same
// validation and codes, the session's linked state from the registry, the
// pending rows held under QUEUE_MAX (env, default 1000) by ours' upper bound
// (a count(*) only when the bound reaches it), the WhatsApp
// id made the same way, the row inserted in its own transaction (committed
// before the answer), put on an in-memory queue for a sender, read back and
// answered 202 with the message object.
function acceptRoute(app, db, findSession) {
  const keys = new Set(['to', 'text', 'quotedMessageId', 'location', 'contacts', 'poll', 'image',
    'video', 'audio', 'document', 'sticker', 'caption', 'ptt']);
  const queueMax = Number(process.env.QUEUE_MAX || 1000);
  const pendingCount = db.prepare("SELECT count(*) FROM messages WHERE session_id = ? AND " +
    "status = 'pending' AND direction = 'outbound'").pluck();
  const add = db.prepare('INSERT INTO messages (id, session_id, wa_id, direction, from_jid, ' +
    'to_jid, chat, type, text, body, quoted_id, status, reason, timestamp, created_at, ' +
    "updated_at) VALUES (?, ?, ?, 'outbound', ?, ?, ?, 'text', ?, ?, NULL, 'pending', NULL, ?, ?, ?)");
  const get = db.prepare('SELECT * FROM messages WHERE session_id = ? AND id = ?');
  const insert = db.transaction((row) => add.run(...row));
  const queue = []; // what a sender would take (nothing sends here)
  // an upper bound of each session's pending rows, as ours keeps (here per
  // worker: the other worker's sends are not in it, so near QUEUE_MAX it
  // could let a few too many through; the benchmark never comes near)
  const pendingBound = new Map();
  const bad = (res, field, message) => res.status(400).json({ error: 'VALIDATION_ERROR',
    message: 'invalid request', details: { field, message } });
  const isStr = (v, max) => typeof v === 'string' && v.length >= 1 && v.length <= max;
  const iso = (ms) => new Date(ms).toISOString();
  const phoneOf = (jid) => {
    const m = jid && /^([0-9]{1,20})(:[0-9]+)?@s\.whatsapp\.net$/.exec(jid);
    return jid ? (m ? `+${m[1]}` : jid) : null;
  };
  const waId = (own) => {
    const t = Buffer.alloc(8);
    t.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000)));
    const user = own ? own.split(/[:@]/)[0] : '';
    const h = createHash('sha256').update(t).update(user).update('@c.us')
      .update(randomBytes(16)).digest();
    return `3EB0${h.subarray(0, 9).toString('hex').toUpperCase()}`;
  };
  app.post('/api/v1/sessions/:id/messages', (req, res) => {
    const sid = req.params.id;
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(sid)) return bad(res, 'id', 'must be a UUID');
    const s = findSession(sid);
    if (!s) return res.status(404).json({ error: 'SESSION_NOT_FOUND', message: 'no such session', details: {} });
    const b = req.body;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return bad(res, 'body', 'must be a JSON object');
    for (const k of Object.keys(b)) if (!keys.has(k)) return bad(res, k, 'unknown field');
    if (!isStr(b.to, 64)) return bad(res, 'to', 'must be a string of 1 to 64 characters');
    if (!isStr(b.text, 65536)) return bad(res, 'text', 'must be a string of 1 to 65536 characters');
    let jid;
    if (b.to.includes('@')) {
      if (!/^[0-9]{1,32}@(s\.whatsapp\.net|lid)$/.test(b.to)) jid = null;
      else jid = b.to;
    } else {
      const m = /^\+?([1-9][0-9]{6,14})$/.exec(b.to);
      jid = m ? `${m[1]}@s.whatsapp.net` : null;
    }
    if (!jid) {
      return res.status(400).json({ error: 'INVALID_PHONE_NUMBER', message: 'to must be an ' +
        'international number or a JID', details: { field: 'to', message: 'not an E.164 number or a JID' } });
    }
    if (!s.device_jid || !['connected', 'connecting', 'disconnected'].includes(s.status)) {
      return res.status(503).json({ error: 'SESSION_NOT_CONNECTED', message: 'the session is not linked to WhatsApp', details: {} });
    }
    // ours' bound (engine.c pend_take): count(*) only when it reaches QUEUE_MAX
    let est = pendingBound.get(sid);
    if (est === undefined || est >= queueMax) pendingBound.set(sid, est = pendingCount.get(sid));
    if (est >= queueMax) {
      res.set('Retry-After', '1');
      return res.status(429).json({ error: 'QUEUE_FULL', message: 'too many messages wait to be sent in this session', details: {} });
    }
    const id = randomUUID(), wa = waId(s.device_jid), now = Date.now();
    const from = `${s.phone || ''}@s.whatsapp.net`;
    pendingBound.set(sid, est + 1);
    insert([id, sid, wa, from[0] !== '@' ? from : null, jid, jid, b.text,
      JSON.stringify({ text: b.text }), now, now, now]);
    queue.push({ id, sid, wa, to: jid, text: b.text });
    if (queue.length > 100000) queue.splice(0, queue.length - 100000);
    const m = get.get(sid, id);
    res.status(202).json({ id: m.id, sessionId: m.session_id, waId: m.wa_id, direction: m.direction,
      from: phoneOf(m.from_jid), fromJid: m.from_jid, to: phoneOf(m.to_jid), toJid: m.to_jid,
      chat: m.chat, type: m.type, text: m.text, content: m.body ? JSON.parse(m.body) : null,
      quotedMessageId: m.quoted_id, status: m.status, reason: m.reason, timestamp: iso(m.timestamp),
      createdAt: iso(m.created_at), updatedAt: iso(m.updated_at), messageId: m.id });
  });
}
