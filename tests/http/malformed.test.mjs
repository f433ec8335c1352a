// A table of malformed requests: each must get a 4xx with a well-formed
// error body, never a 500, a hang or a crash (the server must still answer
// and exit 0 at the end). Also body caps, rate limiting and CORS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, stopServer, req, assertError } from './lib.mjs';

let srv, sid;
before(async () => {
  srv = await startServer({ env: { MAX_BODY_BYTES: '8192' } });
  const r = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'target' } });
  sid = r.body.id;
});
after(async () => { await stopServer(srv); });

const S = () => `/api/v1/sessions/${sid}`;
const V = 'VALIDATION_ERROR';

// [description, method, path (function), body (string|Buffer|object|undefined), status, code, headers?]
const cases = [
  ['broken JSON', 'POST', () => '/api/v1/sessions', '{"name": "x"', 400, V],
  ['empty body', 'POST', () => '/api/v1/sessions', '', 400, V],
  ['JSON array body', 'POST', () => '/api/v1/sessions', '[{"name":"x"}]', 400, V],
  ['JSON string body', 'POST', () => '/api/v1/sessions', '"x"', 400, V],
  ['JSON null body', 'POST', () => '/api/v1/sessions', 'null', 400, V],
  ['trailing garbage', 'POST', () => '/api/v1/sessions', '{"name":"x"} {}', 400, V],
  ['duplicate keys', 'POST', () => '/api/v1/sessions', '{"name":"a","name":"b"}', 400, V],
  ['bad UTF-8 in a string', 'POST', () => '/api/v1/sessions', Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 400, V],
  ['overlong UTF-8', 'POST', () => '/api/v1/sessions', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 400, V],
  ['NUL escape', 'POST', () => '/api/v1/sessions', '{"name":"a\\u0000b"}', 400, V],
  ['lone surrogate escape', 'POST', () => '/api/v1/sessions', '{"name":"\\ud800"}', 400, V],
  ['name wrong type', 'POST', () => '/api/v1/sessions', { name: 42 }, 400, V],
  ['name null', 'POST', () => '/api/v1/sessions', { name: null }, 400, V],
  ['name missing', 'POST', () => '/api/v1/sessions', {}, 400, V],
  ['name empty', 'POST', () => '/api/v1/sessions', { name: '' }, 400, V],
  ['name too long', 'POST', () => '/api/v1/sessions', { name: 'x'.repeat(101) }, 400, V],
  ['name control char', 'POST', () => '/api/v1/sessions', { name: 'a\nb' }, 400, V],
  ['unknown field', 'POST', () => '/api/v1/sessions', { name: 'a', admin: true }, 400, V],
  ['deeply nested', 'POST', () => '/api/v1/sessions', '{"name":"a","x":' + '['.repeat(1500) + ']'.repeat(1500) + '}', 400, V],
  ['id not a UUID', 'GET', () => '/api/v1/sessions/123', undefined, 400, V],
  ['id upper-case', 'GET', () => `/api/v1/sessions/${sid.toUpperCase()}`, undefined, 400, V],
  ['id too long', 'GET', () => `/api/v1/sessions/${sid}0`, undefined, 400, V],
  ['id with encoded bytes', 'GET', () => '/api/v1/sessions/%ff%fe', undefined, 400, V],
  ['id SQL-ish', 'DELETE', () => "/api/v1/sessions/'%20OR%201=1--", undefined, 400, V],
  ['bad id on messages', 'GET', () => '/api/v1/sessions/x/messages', undefined, 400, V],
  ['bad id on webhook', 'PUT', () => '/api/v1/sessions/x/webhook', { url: 'https://a.example' }, 400, V],
  ['limit zero', 'GET', () => '/api/v1/sessions?limit=0', undefined, 400, V],
  ['limit too big', 'GET', () => '/api/v1/sessions?limit=501', undefined, 400, V],
  ['limit negative', 'GET', () => '/api/v1/sessions?limit=-1', undefined, 400, V],
  ['limit not a number', 'GET', () => '/api/v1/sessions?limit=ten', undefined, 400, V],
  ['limit empty', 'GET', () => '/api/v1/sessions?limit=', undefined, 400, V],
  ['limit huge', 'GET', () => '/api/v1/sessions?limit=99999999999999999999999', undefined, 400, V],
  ['cursor garbage', 'GET', () => '/api/v1/sessions?cursor=abc', undefined, 400, V],
  ['cursor empty', 'GET', () => '/api/v1/sessions?cursor=', undefined, 400, V],
  ['cursor forged', 'GET', () => '/api/v1/sessions?cursor=' + 'A'.repeat(50), undefined, 400, V],
  ['cursor with padding', 'GET', () => '/api/v1/sessions?cursor=' + 'A'.repeat(48) + '==', undefined, 400, V],
  ['messages limit', 'GET', () => `${S()}/messages?limit=1000`, undefined, 400, V],
  ['messages cursor', 'GET', () => `${S()}/messages?cursor=%00`, undefined, 400, V],
  ['send: to missing', 'POST', () => `${S()}/messages`, { text: 'hi' }, 400, V],
  ['send: to number type', 'POST', () => `${S()}/messages`, { to: 4915112345678, text: 'hi' }, 400, V],
  ['send: text empty', 'POST', () => `${S()}/messages`, { to: '+4915112345678', text: '' }, 400, V],
  ['send: text above the body cap (65,537 chars: messages.test.mjs checks it under the default cap)', 'POST', () => `${S()}/messages`, { to: '+4915112345678', text: 'x'.repeat(65537) }, 413, 'PAYLOAD_TOO_LARGE'],
  ['send: bad phone letters', 'POST', () => `${S()}/messages`, { to: '+49abc', text: 'hi' }, 400, 'INVALID_PHONE_NUMBER'],
  ['send: phone too short', 'POST', () => `${S()}/messages`, { to: '12345', text: 'hi' }, 400, 'INVALID_PHONE_NUMBER'],
  ['send: phone too long', 'POST', () => `${S()}/messages`, { to: '1234567890123456', text: 'hi' }, 400, 'INVALID_PHONE_NUMBER'],
  ['send: leading zero', 'POST', () => `${S()}/messages`, { to: '01511234567', text: 'hi' }, 400, 'INVALID_PHONE_NUMBER'],
  ['webhook: javascript URL', 'PUT', () => `${S()}/webhook`, { url: 'javascript:alert(1)' }, 400, V],
  ['webhook: no host', 'PUT', () => `${S()}/webhook`, { url: 'http:///x' }, 400, V],
  ['webhook: bad port', 'PUT', () => `${S()}/webhook`, { url: 'http://a.example:99999/' }, 400, V],
  ['webhook: space', 'PUT', () => `${S()}/webhook`, { url: 'http://a.example/a b' }, 400, V],
  ['webhook: events not strings', 'PUT', () => `${S()}/webhook`, { url: 'http://a.example', events: [1] }, 400, V],
  ['webhook: array body', 'PUT', () => `${S()}/webhook`, '[]', 400, V],
  ['oversized body', 'POST', () => '/api/v1/sessions', JSON.stringify({ name: 'x'.repeat(9000) }), 413, 'PAYLOAD_TOO_LARGE'],
  ['unknown route', 'GET', () => '/api/v2/sessions', undefined, 404, 'NOT_FOUND'],
  ['trailing slash', 'GET', () => '/api/v1/sessions/', undefined, 404, 'NOT_FOUND'],
  // (a GET there is the dashboard's: docs/dashboard.md)
  ['unknown public route', 'DELETE', () => '/admin', undefined, 404, 'NOT_FOUND'],
  ['wrong method', 'PUT', () => '/api/v1/sessions', { name: 'x' }, 405, 'METHOD_NOT_ALLOWED'],
  ['wrong method on id', 'POST', () => S(), { name: 'x' }, 405, 'METHOD_NOT_ALLOWED'],
  ['wrong method on health', 'DELETE', () => '/health', undefined, 405, 'METHOD_NOT_ALLOWED'],
];

test('malformed inputs all get a 4xx with a well-formed error body', async () => {
  for (const [what, method, path, body, status, code] of cases) {
    const r = await req(srv, method, path(), { body });
    try {
      assertError(r, status, code);
    } catch (e) {
      e.message = `${what}: ${e.message}`;
      throw e;
    }
    if (code === V) assert.ok(Object.keys(r.body.details).length > 0, `${what}: details explain the error`);
  }
  // Still healthy after all of it.
  assert.equal((await req(srv, 'GET', '/health')).status, 200);
});

// Sends raw bytes (latin1: one byte per char); resolves the whole response
// text and whether the server closed or answered in full (closed: true) or
// we gave up waiting (closed: false).
function rawClosed(bytes, { waitMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let data = '';
    const done = (closed) => { clearTimeout(t); s.destroy(); resolve({ text: data, closed }); };
    const t = setTimeout(() => done(false), waitMs);
    s.setEncoding('latin1');
    s.on('connect', () => s.write(bytes, 'latin1'));
    s.on('data', (d) => {
      data += d;
      const m = /\r\ncontent-length: (\d+)\r\n/i.exec(data);
      const end = data.indexOf('\r\n\r\n');
      if (m && end >= 0 && data.length >= end + 4 + Number(m[1])) done(true);
    });
    s.on('end', () => done(true));
    s.on('close', () => done(true));
    s.on('error', (e) => { if (data || e.code === 'ECONNRESET') done(true); else { clearTimeout(t); reject(e); } });
  });
}

async function raw(bytes, opts) {
  return (await rawClosed(bytes, opts)).text;
}

function parseRaw(text) {
  const end = text.indexOf('\r\n\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]);
  let body = null;
  try { body = JSON.parse(text.slice(end + 4)); } catch { /* none */ }
  return { status, head: text.slice(0, end), body };
}

test('a Content-Length above MAX_BODY_BYTES is refused before the body is read', async () => {
  const t = await raw(`POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nX-API-Key: ${srv.key}\r\n` +
    'Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"name":');
  const r = parseRaw(t);
  assert.equal(r.status, 413, t);
  assert.equal(r.body.error, 'PAYLOAD_TOO_LARGE');
  assert.equal(r.body.details.maxBytes, 8192);
  assert.match(r.head, /\r\nX-Request-Id: /i);
});

test('a chunked body that grows past the cap gets 413', async () => {
  const chunk = 'a'.repeat(1000);
  let msg = `POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nX-API-Key: ${srv.key}\r\n` +
    'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (let i = 0; i < 10; i++) msg += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  msg += '0\r\n\r\n';
  const r = parseRaw(await raw(msg));
  assert.equal(r.status, 413);
  assert.equal(r.body.error, 'PAYLOAD_TOO_LARGE');
});

test('a chunked body far past the cap is cut off: the connection closes, no hang', async () => {
  const chunk = 'a'.repeat(1000);
  let msg = `POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nX-API-Key: ${srv.key}\r\n` +
    'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (let i = 0; i < 60; i++) msg += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  const t0 = Date.now();
  const t = await raw(msg, { waitMs: 5000 }); // never sends the final chunk
  assert.ok(Date.now() - t0 < 4000, 'closed by the server, not by our timeout');
  assert.doesNotMatch(t, /^HTTP\/1\.1 2/);
  assert.equal((await req(srv, 'GET', '/health')).status, 200);
});

// A refusal: a 4xx, a 505, or the server closing without an answer. Never a
// 2xx/3xx, a 5xx other than 505, or a hang (our timeout).
function assertRefused({ text, closed }, what) {
  if (!text) {
    assert.ok(closed, `${what}: no answer and no close (a hang)`);
    return;
  }
  const { status } = parseRaw(text);
  assert.ok((status >= 400 && status < 500) || status === 505, `${what}: status ${status}`);
}

test('assertRefused itself fails on an answer that accepts, and on a hang', () => {
  assert.throws(() => assertRefused({ text: 'HTTP/1.1 200 OK\r\n\r\n', closed: true }, 'ok'));
  assert.throws(() => assertRefused({ text: 'HTTP/1.1 500 Oops\r\n\r\n', closed: true }, '500'));
  assert.throws(() => assertRefused({ text: '', closed: false }, 'hang'));
  assertRefused({ text: 'HTTP/1.1 400 Bad\r\n\r\n', closed: true }, '400');
  assertRefused({ text: '', closed: true }, 'close');
});

test('protocol garbage is refused (4xx, 505 or a close) and does not crash the server', async () => {
  for (const bytes of [
    'GARBAGE\r\n\r\n',
    'GET /health HTTP/9.9\r\n\r\n',
    'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
    // a key that is not ours, on a route that needs one (on /health, which
    // needs none, a 200 would be right)
    'GET /api/v1/sessions HTTP/1.1\r\nHost: x\r\nX-API-Key: \xff\xfe\r\n\r\n',
    `GET /api/v1/sessions HTTP/1.1\r\nHost: x\r\nX-API-Key: ${'k'.repeat(5000)}\r\n\r\n`,
    'GET /' + 'a'.repeat(20000) + ' HTTP/1.1\r\nHost: x\r\n\r\n',
    'BREW /health HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /health\r\n\r\n',
    'GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n',
    'POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
    'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'z'.repeat(70000)}\r\n\r\n`,
  ]) {
    const what = JSON.stringify(bytes.slice(0, 40));
    const got = await rawClosed(bytes, { waitMs: 1500 });
    assertRefused(got, what);
    // every one answered (the gate: docs/http.md), as our JSON error with an id
    const r = parseRaw(got.text);
    assert.ok(r.body && typeof r.body.error === 'string' && typeof r.body.message === 'string' &&
      typeof r.body.details === 'object', `${what}: a JSON error body: ${got.text.slice(0, 300)}`);
    assert.match(r.head, /\r\nX-Request-Id: \S+/i, what);
  }
  assert.equal((await req(srv, 'GET', '/health')).status, 200);
});

test('wrong-key header variants are 401, never 500', async () => {
  for (const key of ['', ' ', 'x'.repeat(300), 'ä', srv.key.toUpperCase()]) {
    const r = await req(srv, 'GET', '/api/v1/sessions', { key: key || null, headers: key ? {} : { 'X-API-Key': '' } });
    assertError(r, 401, 'UNAUTHORIZED');
  }
});
