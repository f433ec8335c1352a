// The REST API against a real server: sessions, pagination, messages,
// webhooks, and one real request for each error code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopServer, req, assertError, UUID_RE, ISO_RE } from './lib.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await stopServer(srv); });

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

async function newSession(name = 'test') {
  const r = await req(srv, 'POST', '/api/v1/sessions', { body: { name } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

test('health and ready are public and well-formed', async () => {
  const h = await req(srv, 'GET', '/health', { key: null });
  assert.equal(h.status, 200);
  assert.equal(h.body.status, 'healthy');
  assert.ok(Number.isInteger(h.body.uptime) && h.body.uptime >= 0);
  const r = await req(srv, 'GET', '/ready', { key: null });
  assert.equal(r.status, 200, r.text);
  const { freeBytes, ...rest } = r.body;
  assert.deepEqual(rest, { ready: true, checks: { database: true, storage: true, whatsapp: true } });
  assert.ok(Number.isInteger(freeBytes) && freeBytes > 64 << 20, `freeBytes ${freeBytes}`);
});

test('every response carries X-Request-Id and security headers; a sane incoming id is echoed', async () => {
  const a = await req(srv, 'GET', '/health');
  const b = await req(srv, 'GET', '/health');
  assert.match(a.headers.get('x-request-id'), UUID_RE);
  assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
  assert.equal(a.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(a.headers.get('x-frame-options'), 'DENY');
  const e = await req(srv, 'GET', '/api/v1/sessions', { headers: { 'X-Request-Id': 'trace-42.a:b_c' } });
  assert.equal(e.headers.get('x-request-id'), 'trace-42.a:b_c');
  const bad = await req(srv, 'GET', '/health', { headers: { 'X-Request-Id': 'has space<>' } });
  assert.match(bad.headers.get('x-request-id'), UUID_RE);
  const err = await req(srv, 'GET', '/nope');
  assert.match(err.headers.get('x-request-id'), UUID_RE);
  const line = srv.logs.find((l) => l.message === 'request' && l.requestId === 'trace-42.a:b_c');
  assert.ok(line, 'access log line with the request id');
  assert.equal(line.method, 'GET');
  assert.equal(line.path, '/api/v1/sessions');
  assert.equal(line.status, 200);
  assert.equal(typeof line.durationMs, 'number');
});

test('create, get, list and delete a session', async () => {
  const s = await newSession('  Office phone ✓ ');
  assert.match(s.id, UUID_RE);
  assert.equal(s.name, '  Office phone ✓ ');
  // the client starts at once; WhatsApp (here: a closed port) is unreachable
  assert.equal(s.status, 'disconnected');
  assert.equal(s.reason, 'connection_lost');
  assert.equal(s.qrCode, null);
  assert.match(s.createdAt, ISO_RE);
  assert.ok(Math.abs(Date.parse(s.createdAt) - Date.now()) < 60000);
  const g = await req(srv, 'GET', `/api/v1/sessions/${s.id}`);
  assert.equal(g.status, 200);
  assert.equal(g.body.id, s.id);
  assert.equal(g.body.name, s.name);
  const l = await req(srv, 'GET', '/api/v1/sessions?limit=500');
  assert.ok(l.body.data.some((x) => x.id === s.id));
  const d = await req(srv, 'DELETE', `/api/v1/sessions/${s.id}`);
  assert.equal(d.status, 204);
  assert.equal(d.text, '');
  assertError(await req(srv, 'GET', `/api/v1/sessions/${s.id}`), 404, 'SESSION_NOT_FOUND');
  assertError(await req(srv, 'DELETE', `/api/v1/sessions/${s.id}`), 404, 'SESSION_NOT_FOUND');
});

test('pagination walks all sessions newest first without gaps or duplicates', async () => {
  const made = [];
  for (let i = 0; i < 23; i++) made.push((await newSession(`page-${i}`)).id);
  const seen = [];
  let cursor = null;
  let pages = 0;
  do {
    const q = cursor ? `?limit=5&cursor=${encodeURIComponent(cursor)}` : '?limit=5';
    const r = await req(srv, 'GET', `/api/v1/sessions${q}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.data.length <= 5);
    seen.push(...r.body.data);
    cursor = r.body.nextCursor;
    assert.ok(cursor === null || typeof cursor === 'string');
    pages++;
    assert.ok(pages < 100);
  } while (cursor);
  const ids = seen.map((s) => s.id);
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  for (const id of made) assert.ok(ids.includes(id), `session ${id} listed`);
  for (let i = 1; i < seen.length; i++) {
    const a = seen[i - 1], b = seen[i];
    assert.ok(a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id), 'newest first');
  }
  // Our 23 sessions appear in reverse creation order.
  const ours = ids.filter((id) => made.includes(id));
  assert.deepEqual(ours, [...made].reverse());
  // Default page size is 50.
  const def = await req(srv, 'GET', '/api/v1/sessions');
  assert.equal(def.body.data.length, Math.min(50, ids.length));
});

test('messages: empty history, send validates then answers 503 SESSION_NOT_CONNECTED', async () => {
  const s = await newSession('msg');
  const l = await req(srv, 'GET', `/api/v1/sessions/${s.id}/messages`);
  assert.equal(l.status, 200, l.text);
  assert.deepEqual(l.body, { data: [], nextCursor: null });
  assertError(await req(srv, 'GET', `/api/v1/sessions/${UNKNOWN}/messages`), 404, 'SESSION_NOT_FOUND');
  const bad = await req(srv, 'POST', `/api/v1/sessions/${s.id}/messages`, { body: { to: '12ab', text: 'hi' } });
  assertError(bad, 400, 'INVALID_PHONE_NUMBER');
  assert.equal(bad.body.details.field, 'to');
  assertError(await req(srv, 'POST', `/api/v1/sessions/${s.id}/messages`, { body: { to: '+4915112345678' } }),
    400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'POST', `/api/v1/sessions/${UNKNOWN}/messages`, { body: { to: '+4915112345678', text: 'hi' } }),
    404, 'SESSION_NOT_FOUND');
  const r = await req(srv, 'POST', `/api/v1/sessions/${s.id}/messages`, { body: { to: '+4915112345678', text: 'hi' } });
  assertError(r, 503, 'SESSION_NOT_CONNECTED');
});

test('webhook: put, get, replace, delete, and URL/events validation', async () => {
  const s = await newSession('hook');
  const base = `/api/v1/sessions/${s.id}/webhook`;
  assertError(await req(srv, 'GET', base), 404, 'NOT_FOUND');
  const p = await req(srv, 'PUT', base, { body: { url: 'https://example.com/hook', secret: 's3cret', events: ['message.received'] } });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(p.body, { url: 'https://example.com/hook', events: ['message.received'], hasSecret: true });
  const g = await req(srv, 'GET', base);
  assert.deepEqual(g.body, p.body);
  assert.ok(!g.text.includes('s3cret'), 'the secret is never returned');
  const sess = await req(srv, 'GET', `/api/v1/sessions/${s.id}`);
  assert.equal(sess.body.webhook.url, 'https://example.com/hook');
  const p2 = await req(srv, 'PUT', base, { body: { url: 'http://127.0.0.1:8080/x' } });
  assert.deepEqual(p2.body, { url: 'http://127.0.0.1:8080/x', events: null, hasSecret: false });
  for (const body of [
    { url: 'ftp://example.com' }, { url: 'https://' }, { url: 'example.com' }, { url: 'https://u:p@example.com' },
    { url: 'https://example.com/' + 'x'.repeat(3000) }, { url: 5 }, {}, { url: 'https://a.example', events: [] },
    { url: 'https://a.example', events: ['nope'] }, { url: 'https://a.example', events: 'message.read' },
    { url: 'https://a.example', events: ['message.read', 'message.read'] }, { url: 'https://a.example', secret: 7 },
    { url: 'https://a.example', secret: '' }, { url: 'https://a.example', extra: 1 },
  ]) {
    assertError(await req(srv, 'PUT', base, { body }), 400, 'VALIDATION_ERROR');
  }
  assertError(await req(srv, 'PUT', `/api/v1/sessions/${UNKNOWN}/webhook`, { body: { url: 'https://a.example' } }),
    404, 'SESSION_NOT_FOUND');
  assert.equal((await req(srv, 'DELETE', base)).status, 204);
  assertError(await req(srv, 'GET', base), 404, 'NOT_FOUND');
  assert.equal((await req(srv, 'DELETE', base)).status, 204);
});

test('auth: 401 without a key and with a wrong key; public routes stay public', async () => {
  assertError(await req(srv, 'GET', '/api/v1/sessions', { key: null }), 401, 'UNAUTHORIZED');
  assertError(await req(srv, 'GET', '/api/v1/sessions', { key: 'f'.repeat(64) }), 401, 'UNAUTHORIZED');
  assertError(await req(srv, 'GET', '/api/v1/sessions', { key: srv.key.slice(0, 63) }), 401, 'UNAUTHORIZED');
  assertError(await req(srv, 'GET', '/api/v1/unknown', { key: null }), 401, 'UNAUTHORIZED');
  assertError(await req(srv, 'POST', '/api/v1/sessions', { key: null, body: { name: 'x' } }), 401, 'UNAUTHORIZED');
  assert.equal((await req(srv, 'GET', '/health', { key: 'wrong' })).status, 200);
});

test('routing errors: 404 NOT_FOUND and 405 METHOD_NOT_ALLOWED with Allow', async () => {
  // GET outside /api/ is the dashboard's (client-side routes get its
  // index.html: docs/dashboard.md); other methods there are 404
  const page = await req(srv, 'GET', '/nope');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assertError(await req(srv, 'POST', '/nope'), 404, 'NOT_FOUND');
  assertError(await req(srv, 'GET', '/api/v1/nope'), 404, 'NOT_FOUND');
  const r = await req(srv, 'PATCH', '/api/v1/sessions');
  assertError(r, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(r.headers.get('allow'), 'GET, HEAD, POST, OPTIONS');
  const h = await req(srv, 'POST', '/health');
  assertError(h, 405, 'METHOD_NOT_ALLOWED');
  assert.equal(h.headers.get('allow'), 'GET, HEAD, OPTIONS');
});

test('concurrent requests: 100 parallel creates all land, with distinct ids', async () => {
  const before = new Set();
  for (let cursor = null, first = true; first || cursor; first = false) {
    const r = await req(srv, 'GET', `/api/v1/sessions?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    r.body.data.forEach((s) => before.add(s.id));
    cursor = r.body.nextCursor;
  }
  const made = await Promise.all(Array.from({ length: 100 }, (_, i) =>
    req(srv, 'POST', '/api/v1/sessions', { body: { name: `parallel-${i}` } })));
  for (const r of made) assert.equal(r.status, 201, r.text);
  const ids = made.map((r) => r.body.id);
  assert.equal(new Set(ids).size, 100);
  const rids = made.map((r) => r.headers.get('x-request-id'));
  assert.equal(new Set(rids).size, 100, 'distinct request ids');
  const gets = await Promise.all(ids.map((id) => req(srv, 'GET', `/api/v1/sessions/${id}`)));
  gets.forEach((g, i) => { assert.equal(g.status, 200); assert.equal(g.body.name, made[i].body.name); });
  assert.ok(before.size + 100 <= 500, 'fits one page');
  const after = await req(srv, 'GET', '/api/v1/sessions?limit=500');
  const listed = new Set(after.body.data.map((s) => s.id));
  assert.equal(listed.size, before.size + 100);
  for (const id of ids) assert.ok(listed.has(id));
});
