// The peer of the webhook drain benchmark (bench/webhooks/drain.mjs peer):
// the same work as our webhook thread, done the way a Node server would do
// it: better-sqlite3 on the same database file (WAL, synchronous NORMAL, as
// our store opens it), the outbox fanned out into durable pending delivery
// rows 100 events per transaction, then each delivery in order: the body
// built with the same fields, signed with HMAC-SHA256, POSTed with fetch
// (undici, keep-alive) with the same four headers, and on the answer one
// transaction that marks the delivery and appends its webhook_log row.
// Usage: node drain-peer.mjs DB_FILE URL SECRET SESSION_ID
// Prints "peak_rss_mib V" (this process's VmHWM) when the outbox is empty.
import { createRequire } from 'node:module';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

const Database = createRequire(import.meta.url)('better-sqlite3');
const [file, url, secret, sessionId] = process.argv.slice(2);
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');

const CURSOR = 'bench-peer';
const now = () => Date.now();
const getCursor = db.prepare('SELECT event_id FROM event_cursors WHERE name = ?').pluck();
const setCursor = db.prepare('INSERT INTO event_cursors (name, event_id) VALUES (?, ?) ' +
  'ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id');
const newEvents = db.prepare('SELECT id, session_id, type, data, created_at FROM events ' +
  'WHERE id > ? ORDER BY id LIMIT 100');
const addDelivery = db.prepare('INSERT OR IGNORE INTO webhook_deliveries ' +
  '(event_id, session_id, url, kind, state, attempts, next_at, updated_at) ' +
  "VALUES (?, ?, ?, 'session', 'pending', 0, ?, ?)");
const pending = db.prepare('SELECT d.id, d.event_id, e.type, e.data, e.created_at, d.attempts ' +
  "FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.state = 'pending' " +
  'AND d.session_id = ? AND d.url = ? ORDER BY d.id LIMIT 100');
const done = db.prepare("UPDATE webhook_deliveries SET state = ?, attempts = ?, updated_at = ? WHERE id = ?");
const log = db.prepare('INSERT INTO webhook_log (session_id, event, url, http_status, attempt, error, ' +
  'created_at, event_id, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');

const fanOut = db.transaction(() => {
  const rows = newEvents.all(getCursor.get(CURSOR) ?? 0);
  for (const e of rows) addDelivery.run(e.id, e.session_id, url, now(), now());
  if (rows.length) setCursor.run(CURSOR, rows[rows.length - 1].id);
  return rows.length;
});
const record = db.transaction((d, status, error, ms) => {
  done.run(status >= 200 && status < 300 ? 'delivered' : 'pending', d.attempts + 1, now(), d.id);
  log.run(sessionId, d.type, url, status, d.attempts + 1, error, now(), d.event_id, ms);
});

for (;;) {
  const fanned = fanOut();
  const batch = pending.all(sessionId, url);
  if (!fanned && !batch.length) break;
  for (const d of batch) {
    const ts = Math.floor(now() / 1000);
    const body = JSON.stringify({
      event: d.type, eventId: d.event_id, sessionId, timestamp: ts,
      occurredAt: new Date(d.created_at).toISOString(), ...JSON.parse(d.data),
    });
    const sig = createHmac('sha256', secret).update(body).digest('hex');
    const t0 = now();
    let status = 0, error = null;
    try {
      const r = await fetch(url, {
        method: 'POST', body,
        headers: {
          'Content-Type': 'application/json', 'X-YesApp-Event': d.type,
          'X-YesApp-Event-Id': String(d.event_id), 'X-YesApp-Timestamp': String(ts),
          'X-YesApp-Signature': `sha256=${sig}`,
        },
      });
      await r.arrayBuffer();
      status = r.status;
    } catch (e) {
      error = String(e.message || e);
    }
    record(d, status, error, now() - t0);
  }
}
db.close();
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(`peak_rss_mib ${(Number(hwm[1]) / 1024).toFixed(1)}`);
