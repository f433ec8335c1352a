// The comparison peer for bench/http: an Express 4 app with the usual
// middleware stack (helmet, cors, express-rate-limit, an API-key check that
// looks up the SHA-256 of X-API-Key), serving GET /health, POST
// /api/v1/sessions and GET /api/v1/sessions/:id from SQLite through sql.js.
// Env: PORT (0 = ephemeral), API_KEY, RATE_LIMIT (requests/min per key/IP).
// Prints one line {"listening":PORT} on stdout when ready.
import express from 'express';
import helmet from 'helmet';
import cors from 'cors';
import { rateLimit } from 'express-rate-limit';
import initSqlJs from 'sql.js';
import { createHash, randomUUID } from 'node:crypto';

const SQL = await initSqlJs();
const db = new SQL.Database();
db.run(`CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT UNIQUE NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE sessions (id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
          phone TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);`);
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
db.run('INSERT INTO api_keys (id, hash) VALUES (?, ?)', [randomUUID(), sha256(process.env.API_KEY || 'bench')]);
const findKey = db.prepare('SELECT id FROM api_keys WHERE hash = ? AND revoked = 0');
const getSession = db.prepare('SELECT * FROM sessions WHERE id = ?');
const insertSession = db.prepare('INSERT INTO sessions VALUES (?, ?, ?, NULL, ?, ?)');
const started = Date.now();

const app = express();
app.disable('x-powered-by');
app.use(helmet());
app.use(cors());
app.use((req, res, next) => {
  const key = req.get('x-api-key');
  if (key) {
    findKey.bind([sha256(key)]);
    if (findKey.step()) req.keyId = findKey.getAsObject().id;
    findKey.reset();
  }
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
  const id = randomUUID();
  insertSession.run([id, name, 'pending', now, now]);
  res.status(201).json(sessionJson({ id, name, status: 'pending', phone: null, created_at: now, updated_at: now }));
});
app.get('/api/v1/sessions/:id', (req, res) => {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(req.params.id)) {
    return res.status(400).json({ error: 'VALIDATION_ERROR', message: 'invalid request', details: { field: 'id' } });
  }
  getSession.bind([req.params.id]);
  const row = getSession.step() ? getSession.getAsObject() : null;
  getSession.reset();
  if (!row) return res.status(404).json({ error: 'SESSION_NOT_FOUND', message: 'no such session', details: {} });
  res.json(sessionJson(row));
});

const server = app.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
