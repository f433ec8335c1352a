// The OpenAPI document (src/api/openapi.json): served at
// GET /api/v1/openapi.json (public, ETag/304, gzip), consistent in itself
// (paths' parameters, refs, examples that validate, error codes from the one
// list, the site-wide answers), and true of the server: real answers of the
// main routes, errors included, validate against it (tests/http/openapi-check.mjs).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { startServer, stopServer, req, rawGet, BIN } from './lib.mjs';
import { loadDoc, DOC_PATH, validate, deref, resolveRef, checkResponse, operations, matchPath } from './openapi-check.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const doc = loadDoc();

// A request whose answer must conform to the document.
async function conform(srv, method, path, opts = {}) {
  const r = await req(srv, method, path, opts);
  const problems = checkResponse(doc, { method, path, status: r.status, contentType: r.headers.get('content-type'), body: r.body, text: r.text });
  assert.deepEqual(problems, [], `${method} ${path} -> ${r.status}:\n  ${problems.join('\n  ')}\nbody: ${r.text.slice(0, 300)}`);
  return r;
}

describe('the validator (tests/http/openapi-check.mjs) fails where it should', () => {
  const d = {
    components: { schemas: {
      T: { type: 'object', required: ['a'], additionalProperties: false,
        properties: { a: { type: 'integer', minimum: 1 }, b: { type: ['string', 'null'], format: 'date-time' }, c: { enum: ['x', 'y'] },
          d: { type: 'array', items: { $ref: '#/components/schemas/U' } } } },
      U: { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'number' }] },
      V: { allOf: [{ $ref: '#/components/schemas/T' }, { properties: { c: { const: 'x' } } }] },
    } },
  };
  const T = { $ref: '#/components/schemas/T' };
  test('accepts what conforms', () => {
    assert.deepEqual(validate(d, T, { a: 1 }), []);
    assert.deepEqual(validate(d, T, { a: 2, b: null, c: 'y', d: ['s', 0.5] }), []);
    assert.deepEqual(validate(d, T, { a: 2, b: '2026-01-02T03:04:05.678Z' }), []);
    assert.deepEqual(validate(d, { $ref: '#/components/schemas/V' }, { a: 1, c: 'x' }), []);
  });
  test('rejects each kind of mismatch', () => {
    const one = (schema, v) => validate(d, schema, v);
    assert.match(one(T, {}).join(), /missing required a/);
    assert.match(one(T, { a: 1, z: 1 }).join(), /unexpected property z/);
    assert.match(one(T, { a: 1.5 }).join(), /expected integer/);
    assert.match(one(T, { a: 0 }).join(), /0 < 1/);
    assert.match(one(T, { a: 1, b: 3 }).join(), /expected string or null/);
    assert.match(one(T, { a: 1, b: 'yesterday' }).join(), /not a date-time/);
    assert.match(one(T, { a: 1, c: 'z' }).join(), /not one of/);
    assert.match(one(T, { a: 1, d: [true] }).join(), /matches none of oneOf/);
    assert.match(one(T, { a: 1, d: [3] }).join(), /matches 2 branches of oneOf/); // integer is a number too
    assert.match(one({ $ref: '#/components/schemas/V' }, { a: 1, c: 'y' }).join(), /expected "x"/);
    assert.match(one({ $ref: '#/components/schemas/Nope' }, 1).join(), /does not resolve/);
    assert.match(one(T, null).join(), /expected object, got null/);
    assert.match(one({ type: 'array', maxItems: 1 }, [1, 2]).join(), /more than 1 items/);
    assert.match(one({ type: 'object', propertyNames: { enum: ['x'] } }, { x: 1, y: 2 }).join(), /"y" is not one of/);
    assert.deepEqual(one({ type: 'object', propertyNames: { enum: ['x'] } }, { x: 1 }), []);
  });
  test('the dashboard\'s files outside /api/ pass only while info.description says GET there serves it', () => {
    const doc2 = { info: { description: doc.info.description }, paths: { '/api/v1/x': { get: { responses: {} } } }, components: doc.components };
    const page = { method: 'GET', path: '/sessions/x', status: 200, contentType: 'text/html; charset=utf-8', text: '<!doctype html>' };
    assert.deepEqual(checkResponse(doc2, page), []);
    assert.match(checkResponse(doc2, { ...page, method: 'POST' }).join(), /no path of the document matches/);
    assert.match(checkResponse(doc2, { ...page, path: '/api/v1/nope' }).join(), /no path of the document matches/);
    assert.match(checkResponse({ ...doc2, info: { description: 'nothing about it' } }, page).join(), /no path of the document matches/);
  });
  test('content types: the exact one, else type/*, else */*; JSON validated only under application/json', () => {
    const dd = { paths: { '/f': { get: { operationId: 'f', responses: {
      200: { description: '', content: { 'image/*': {}, '*/*': {} } },
      201: { description: '', content: { 'image/png': {} } },
      202: { description: '', content: { 'application/json': { schema: { type: 'integer' } }, '*/*': {} } } } } } } };
    const chk = (status, contentType, text, body) => checkResponse(dd, { method: 'GET', path: '/f', status, contentType, text, body });
    assert.deepEqual(chk(200, 'image/jpeg', 'x'), []);
    assert.deepEqual(chk(200, 'application/pdf', 'x'), []);
    assert.deepEqual(chk(200, 'application/json', '"s"', 's'), []); // a JSON file under */*: bytes, not checked
    assert.match(chk(200, null, 'x').join(), /content type null/);
    assert.deepEqual(chk(201, 'image/png', 'x'), []);
    assert.match(chk(201, 'image/jpeg', 'x').join(), /not one of image\/png/);
    assert.match(chk(202, 'application/json', '"s"', 's').join(), /expected integer/);
  });
});

describe('the document in itself', () => {
  test('is OpenAPI 3.1 with info, servers "/", and X-API-Key or the sign-in cookie as the default security', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.info.title && doc.info.version);
    assert.deepEqual(doc.servers.map((s) => s.url), ['/']);
    assert.deepEqual(doc.security, [{ apiKey: [] }, { cookieAuth: [] }]);
    assert.deepEqual(doc.components.securitySchemes.apiKey, { ...doc.components.securitySchemes.apiKey, type: 'apiKey', in: 'header', name: 'X-API-Key' });
    assert.deepEqual(doc.components.securitySchemes.cookieAuth, { ...doc.components.securitySchemes.cookieAuth, type: 'apiKey', in: 'cookie', name: 'yesapp_session' });
  });

  test('x-yesapp-role of every operation is the route table\'s role (`yesapp routes`), and its 403 answers follow from it', () => {
    // the table as the binary has it (test_openapi checks the same from C)
    const out = execFileSync(BIN, ['routes'], { encoding: 'utf8', env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1' } });
    const table = new Map();
    for (const r of JSON.parse(out)) for (const m of r.methods) table.set(`${m.toLowerCase()} ${r.pattern}`, r);
    const ops = operations(doc);
    assert.equal(ops.length, table.size, 'one operation per (method, route)');
    const codes403 = (op) => {
      const r = op.responses['403'];
      if (!r) return [];
      const e = deref(doc, deref(doc, r).content['application/json'].schema).allOf[1].properties.error;
      return (e.enum || [e.const]).slice().sort();
    };
    for (const { path, method, op } of ops) {
      const where = `${method.toUpperCase()} ${path}`;
      const row = table.get(`${method} ${path}`);
      assert.ok(row, `${where}: a route of the table`);
      assert.equal(op['x-yesapp-role'], row.role, `${where}: x-yesapp-role`);
      assert.equal(row.role === 'public', row.public, `${where}: public role iff a public route`);
      // FORBIDDEN: a role above the least a caller has; CSRF_FAILED: a
      // state-changing method that takes the cookie
      const want = [];
      if (row.role === 'operator' || row.role === 'admin') want.push('FORBIDDEN');
      if (row.role !== 'public' && method !== 'get') want.push('CSRF_FAILED');
      assert.deepEqual(codes403(op), want.sort(), `${where}: its 403 codes`);
    }
  });

  test('every $ref resolves', () => {
    const bad = [];
    const walk = (n, where) => {
      if (Array.isArray(n)) n.forEach((v, i) => walk(v, `${where}/${i}`));
      else if (n && typeof n === 'object') {
        if (typeof n.$ref === 'string' && resolveRef(doc, n.$ref) === undefined) bad.push(`${where}: ${n.$ref}`);
        for (const [k, v] of Object.entries(n)) walk(v, `${where}/${k}`);
      }
    };
    walk(doc, '#');
    assert.deepEqual(bad, []);
  });

  test('each path placeholder has its path parameter, and no parameter is left over', () => {
    for (const { path, method, op, item } of operations(doc)) {
      const params = [...(item.parameters || []), ...(op.parameters || [])].map((p) => deref(doc, p));
      const inPath = params.filter((p) => p.in === 'path').map((p) => p.name).sort();
      const placeholders = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      assert.deepEqual(inPath, placeholders, `${method} ${path}`);
      for (const p of params) assert.ok(p.schema, `${method} ${path}: parameter ${p.name} has a schema`);
      for (const p of params.filter((x) => x.in === 'path')) assert.equal(p.required, true, `${method} ${path}: ${p.name} required`);
    }
  });

  test('operations: unique operationId, responses, 401 unless public, 429 unless a probe, 413 and a strict schema with a body', () => {
    const ids = new Set();
    const probes = new Set(['/health', '/ready', '/metrics']);
    for (const { path, method, op } of operations(doc)) {
      const where = `${method} ${path}`;
      assert.ok(op.operationId && !ids.has(op.operationId), `${where}: operationId ${op.operationId}`);
      ids.add(op.operationId);
      assert.ok(Object.keys(op.responses).length > 0, where);
      assert.ok(Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)), `${where}: a 2xx answer`);
      assert.ok(op.responses['500'], `${where}: 500`);
      const isPublic = Array.isArray(op.security) && (op.security.length === 0 || op.security.some((s) => Object.keys(s).length === 0));
      if (!isPublic) assert.ok(op.responses['401'], `${where}: 401`);
      if (!probes.has(path)) assert.ok(op.responses['429'], `${where}: 429`);
      else assert.equal(op.responses['429'], undefined, `${where}: a probe is never rate limited`);
      if (op.requestBody) {
        assert.ok(op.responses['413'], `${where}: 413`);
        assert.ok(op.responses['400'], `${where}: 400`);
        const c = op.requestBody.content;
        const schema = deref(doc, (c['application/json'] || c['multipart/form-data']).schema);
        assert.equal(schema.additionalProperties, false, `${where}: the server rejects unknown fields`);
      }
    }
    assert.equal(isPublicOp('/api/v1/openapi.json', 'get'), true);
    assert.equal(isPublicOp('/api/v1/sessions', 'get'), false);
  });

  function isPublicOp(path, method) {
    const op = doc.paths[path][method];
    return Array.isArray(op.security) && (op.security.length === 0 || op.security.some((s) => Object.keys(s).length === 0));
  }

  test('error answers: the Error shape, codes from the one list', () => {
    const codes = new Set(doc.components.schemas.ErrorCode.enum);
    const seen = new Set();
    const responses = [...operations(doc).flatMap(({ op }) => Object.entries(op.responses)),
      ...Object.entries(doc.components.responses)];
    for (const [status, r0] of responses) {
      const r = deref(doc, r0);
      const schema = r.content?.['application/json']?.schema;
      if (!schema || !/^[45]\d\d$|^[A-Z]/.test(status)) continue;
      const s = deref(doc, schema);
      if (!s.allOf) continue; // a 503 of /ready: the Ready object
      assert.equal(s.allOf[0].$ref, '#/components/schemas/Error', `${status}: built on Error`);
      const e = s.allOf[1].properties.error;
      for (const c of e.enum || [e.const]) {
        assert.ok(codes.has(c), `${status}: ${c} is in ErrorCode`);
        seen.add(c);
      }
    }
    // every code of the list is answered somewhere
    assert.deepEqual([...codes].filter((c) => !seen.has(c)), []);
  });

  test('every (status, code) the C sources answer with is documented', () => {
    // http_reply_error(req, STATUS, "CODE", ...) in src/, plus the two helpers
    // api_reply_invalid (400 VALIDATION_ERROR) and api_reply_store_error
    // (404 SESSION_NOT_FOUND, 500 INTERNAL_ERROR)
    const src = join(dirname(DOC_PATH), '..');
    const files = readdirSync(src, { recursive: true }).filter((f) => f.endsWith('.c'));
    const used = new Set(['400 VALIDATION_ERROR', '404 SESSION_NOT_FOUND', '500 INTERNAL_ERROR']);
    let calls = 0;
    for (const f of files) {
      const text = readFileSync(join(src, f), 'utf8');
      for (const m of text.matchAll(/\bhttp_reply_error\(([^;]*)/g)) {
        const lit = /^\s*req\s*,\s*(\d{3})\s*,\s*"([A-Z_]+)"/.exec(m[1]);
        if (/^\s*struct http_req/.test(m[1])) continue; // the definition
        assert.ok(lit, `src/${f}: http_reply_error without a literal status and code: ${m[0].slice(0, 80)}`);
        used.add(`${lit[1]} ${lit[2]}`);
        calls++;
      }
    }
    assert.ok(calls > 40, `${calls} calls found`);
    const site = { Unauthorized: 401, RateLimited: 429, PayloadTooLarge: 413, UriTooLong: 414, HeadersTooLarge: 431,
      MethodNotAllowed: 405, NoSuchRoute: 404, CsrfFailed: 403 };
    const documented = new Set();
    const add = (status, r0) => {
      const sch = deref(doc, deref(doc, r0).content?.['application/json']?.schema);
      const e = sch?.allOf?.[1]?.properties?.error;
      for (const c of e ? e.enum || [e.const] : []) documented.add(`${status} ${c}`);
    };
    for (const { op } of operations(doc)) for (const [st, r] of Object.entries(op.responses)) add(st, r);
    for (const [name, st] of Object.entries(site)) add(st, doc.components.responses[name]);
    assert.deepEqual([...used].filter((u) => !documented.has(u)).sort(), [], 'answered by the code, missing from src/api/openapi.json');
    assert.deepEqual([...documented].filter((d) => !used.has(d)).sort(), [], 'documented, never answered by the code');
  });

  test('every example validates against its schema', () => {
    const problems = [];
    for (const [name, s] of Object.entries(doc.components.schemas)) {
      if (s.example !== undefined) problems.push(...validate(doc, s, s.example).map((e) => `schema ${name}: ${e}`));
    }
    const media = (where, content) => {
      for (const [ct, m] of Object.entries(content || {})) {
        if (m.example === undefined) continue;
        if (ct.startsWith('application/json')) problems.push(...validate(doc, m.schema, m.example).map((e) => `${where} ${ct}: ${e}`));
        else assert.equal(typeof m.example, 'string', `${where} ${ct}`);
      }
    };
    let bodies = 0;
    for (const { path, method, op } of operations(doc)) {
      if (op.requestBody) {
        bodies++;
        const c = deref(doc, op.requestBody).content;
        const m = c['application/json'] || c['multipart/form-data'];
        assert.ok(m.example !== undefined || deref(doc, m.schema).example !== undefined, `${method} ${path}: a body example`);
        media(`${method} ${path} body`, c);
      }
      for (const [st, r] of Object.entries(op.responses)) media(`${method} ${path} ${st}`, deref(doc, r).content);
    }
    for (const [name, r] of Object.entries(doc.components.responses)) media(`response ${name}`, r.content);
    assert.ok(bodies >= 7, `${bodies} operations take a body`);
    assert.deepEqual(problems, []);
  });
});

describe('against a running server', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await stopServer(srv); });

  const raw = (path, headers = {}) => rawGet(srv, path, headers);

  test('GET /api/v1/openapi.json: public, the file as it is, ETag and 304, gzip with a weak ETag', async () => {
    const plain = await raw('/api/v1/openapi.json');
    assert.equal(plain.status, 200);
    assert.match(plain.headers['content-type'], /^application\/json/);
    assert.ok(plain.body.equals(readFileSync(DOC_PATH)), 'the served bytes are src/api/openapi.json');
    assert.equal(JSON.parse(plain.body).openapi, '3.1.0');
    assert.equal(plain.headers['cache-control'], 'no-cache');
    const etag = plain.headers.etag;
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(plain.headers['x-request-id']);

    const again = await raw('/api/v1/openapi.json', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    assert.equal(again.headers.etag, etag);
    assert.equal((await raw('/api/v1/openapi.json', { 'If-None-Match': '"other", ' + etag })).status, 304);
    assert.equal((await raw('/api/v1/openapi.json', { 'If-None-Match': '"other"' })).status, 200);
    assert.equal((await raw('/api/v1/openapi.json', { 'If-None-Match': '*' })).status, 304);
    assert.equal((await raw('/api/v1/openapi.json', { 'If-None-Match': etag.slice(0, -2) + '"' })).status, 200);

    const gz = await raw('/api/v1/openapi.json', { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(gz.headers.vary, /Accept-Encoding/);
    assert.equal(gz.headers.etag, `W/${etag}`);
    assert.ok(gz.body.length < plain.body.length / 4, `${gz.body.length} gzipped vs ${plain.body.length}`);
    assert.ok(gunzipSync(gz.body).equals(plain.body));
    const weak = await raw('/api/v1/openapi.json', { 'Accept-Encoding': 'gzip', 'If-None-Match': `W/${etag}` });
    assert.equal(weak.status, 304);
    assert.equal(weak.headers.etag, `W/${etag}`);

    // with a key too, and through fetch (which decodes)
    const f = await conform(srv, 'GET', '/api/v1/openapi.json');
    assert.deepEqual(f.body, doc);
    // a wrong key on a public route is no 401
    assert.equal((await req(srv, 'GET', '/api/v1/openapi.json', { key: 'wrong' })).status, 200);
  });

  test('health, ready, sessions, webhook, events, errors: real answers validate', async () => {
    await conform(srv, 'GET', '/health', { key: null });
    await conform(srv, 'GET', '/ready', { key: null });
    const m = await conform(srv, 'GET', '/metrics', { key: null });
    assert.match(m.text, /yesapp_sessions_total/);

    const c = await conform(srv, 'POST', '/api/v1/sessions', { body: { name: 'openapi' } });
    assert.equal(c.status, 201);
    const id = c.body.id;
    await conform(srv, 'GET', '/api/v1/sessions?limit=5');
    await conform(srv, 'GET', `/api/v1/sessions/${id}`);
    const hook = await conform(srv, 'PUT', `/api/v1/sessions/${id}/webhook`, { body: { url: 'http://127.0.0.1:1/hook', secret: 's3cret', events: ['message'] } });
    assert.equal(hook.status, 200);
    await conform(srv, 'GET', `/api/v1/sessions/${id}/webhook`);
    await conform(srv, 'GET', `/api/v1/sessions/${id}/webhook/logs`);
    const ev = await conform(srv, 'GET', '/api/v1/events?limit=50');
    assert.ok(ev.body.data.length > 0, 'creating a session wrote events');
    await conform(srv, 'GET', `/api/v1/events?sessionId=${id}&types=session.status`);
    await conform(srv, 'GET', '/api/v1/server/wa-version');
    await conform(srv, 'GET', '/api/v1/sandbox');
    // the dashboard's routes (docs/dashboard.md)
    assert.equal((await conform(srv, 'GET', '/api/v1/logs?level=info&limit=500')).status, 200);
    assert.equal((await conform(srv, 'GET', `/api/v1/logs?sessionId=${id}`)).status, 200);
    assert.equal((await conform(srv, 'GET', '/api/v1/stats')).status, 200);
    assert.equal((await conform(srv, 'GET', `/api/v1/stats?sessionId=${id}`)).status, 200);
    // and the dashboard itself, served outside /api/ (info.description says so)
    const page = await conform(srv, 'GET', '/sessions', { key: null });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    await conform(srv, 'GET', `/api/v1/sessions/${id}/messages`);
    // not linked: the send is refused (linked sends: the sandbox test below)
    assert.equal((await conform(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: '+4915112345678', text: 'hi' } })).status, 503);

    // the errors
    const errs = [
      [400, 'POST', '/api/v1/sessions', { body: '{"name":' }],
      [400, 'POST', '/api/v1/sessions', { body: { name: 'x', extra: 1 } }],
      [400, 'GET', '/api/v1/sessions/not-a-uuid'],
      [400, 'GET', '/api/v1/sessions?limit=0'],
      [400, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: 'nobody', text: 'hi' } }],
      [400, 'PUT', '/api/v1/server/wa-version', { body: { version: 'one' } }],
      [400, 'PUT', `/api/v1/sessions/${id}/webhook`, { body: { url: 'http://x/', events: ['nope'] } }],
      [401, 'GET', '/api/v1/sessions', { key: null }],
      [401, 'GET', '/api/v1/sessions', { key: 'wrong' }],
      [401, 'GET', '/api/v1/nope', { key: null }],
      [404, 'GET', '/api/v1/sessions/00000000-0000-4000-8000-000000000000'],
      [404, 'GET', `/api/v1/sessions/${id}/messages/00000000-0000-4000-8000-000000000000`],
      [404, 'GET', '/api/v1/nope'],
      [404, 'POST', '/nope', { key: null }],
      // GET outside /api/ is the dashboard's: its JSON 404 for a file it does not have
      [404, 'GET', '/assets/nope-123.js', { key: null }],
      [400, 'GET', '/api/v1/logs?level=loud'],
      [400, 'GET', '/api/v1/stats?sessionId=nope'],
      [404, 'GET', '/api/v1/stats?sessionId=00000000-0000-4000-8000-000000000000'],
      [404, 'POST', '/api/v1/sandbox/scan', { body: { sessionId: id, phone: '+15550001111' } }],
      [405, 'PATCH', '/api/v1/sessions'],
      [405, 'DELETE', '/api/v1/openapi.json'],
      [413, 'POST', '/api/v1/sessions', { body: JSON.stringify({ name: 'x'.repeat(1100000) }) }],
      [413, 'PUT', `/api/v1/sessions/${id}/webhook`, { body: 'x'.repeat(1100000) }],
    ];
    for (const [status, method, path, opts] of errs) {
      const r = await conform(srv, method, path, opts);
      assert.equal(r.status, status, `${method} ${path}: ${r.text.slice(0, 200)}`);
    }
    assert.equal((await conform(srv, 'DELETE', `/api/v1/sessions/${id}/webhook`)).status, 204);
    assert.equal((await conform(srv, 'GET', `/api/v1/sessions/${id}/webhook`)).status, 404);
    assert.equal((await conform(srv, 'DELETE', `/api/v1/sessions/${id}`)).status, 204);
  });

  test('users, keys, sign-in, audit: real answers validate, 403 FORBIDDEN and CSRF_FAILED included', async () => {
    const u = await conform(srv, 'POST', '/api/v1/users', { body: { email: 'spec@example.com', role: 'operator', password: 'correct horse battery' } });
    assert.equal(u.status, 201, u.text);
    assert.equal((await conform(srv, 'POST', '/api/v1/users', { body: { email: 'SPEC@example.com', role: 'viewer' } })).status, 409);
    assert.equal((await conform(srv, 'POST', '/api/v1/users', { body: { email: 'spec2@example.com', role: 'root' } })).status, 400);
    await conform(srv, 'GET', '/api/v1/users');
    await conform(srv, 'GET', `/api/v1/users/${u.body.id}`);
    assert.equal((await conform(srv, 'GET', '/api/v1/users/00000000-0000-4000-8000-000000000000')).status, 404);
    assert.equal((await conform(srv, 'PATCH', `/api/v1/users/${u.body.id}`, { body: { displayName: 'Spec', role: null } })).status, 200);

    const k = await conform(srv, 'POST', '/api/v1/keys', { body: { role: 'viewer', userId: u.body.id, name: null, expiresIn: 3600 } });
    assert.equal(k.status, 201, k.text);
    const none = '00000000-0000-4000-8000-000000000000';
    const k404 = [await conform(srv, 'POST', '/api/v1/keys', { body: { role: 'viewer', sessions: [none] } }),
      await conform(srv, 'POST', '/api/v1/keys', { body: { role: 'viewer', userId: u.body.id, sessions: [none] } }),
      await conform(srv, 'POST', '/api/v1/keys', { body: { role: 'viewer', userId: none } })];
    assert.deepEqual(k404.map((r) => `${r.status} ${r.body.error}`), ['404 SESSION_NOT_FOUND', '404 SESSION_NOT_FOUND', '404 USER_NOT_FOUND']);
    await conform(srv, 'GET', '/api/v1/keys');
    const meKey = await conform(srv, 'GET', '/api/v1/auth/me', { key: k.body.key });
    assert.equal(meKey.body.role, 'viewer');
    // a viewer: FORBIDDEN on an operator route and an admin one, as documented
    const f1 = await conform(srv, 'POST', '/api/v1/sessions', { key: k.body.key, body: { name: 'x' } });
    const f2 = await conform(srv, 'GET', '/api/v1/audit', { key: k.body.key });
    assert.deepEqual([f1.status, f1.body.error, f2.status, f2.body.details], [403, 'FORBIDDEN', 403, { required: 'admin', role: 'viewer' }]);

    assert.equal((await conform(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'spec@example.com', password: 'wrong password!' } })).status, 401);
    const li = await conform(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'spec@example.com', password: 'correct horse battery' } });
    assert.equal(li.status, 200, li.text);
    const Cookie = li.headers.get('set-cookie').split(';')[0];
    const csrf = li.body.csrfToken;
    assert.equal((await conform(srv, 'GET', '/api/v1/auth/me', { key: null, headers: { Cookie } })).body.csrfToken, csrf);
    // CSRF_FAILED: on a route, on a viewer's route (logout), on an unknown path and method
    for (const [method, path] of [['POST', '/api/v1/sessions'], ['POST', '/api/v1/auth/logout'], ['POST', '/api/v1/nope'],
      ['PATCH', '/api/v1/sessions']]) {
      const r = await conform(srv, method, path, { key: null, headers: { Cookie }, body: {} });
      assert.deepEqual([r.status, r.body.error], [403, 'CSRF_FAILED'], `${method} ${path}`);
    }
    assert.equal((await conform(srv, 'GET', '/api/v1/audit?limit=5')).status, 200);
    assert.equal((await conform(srv, 'GET', '/api/v1/audit?before=0')).status, 400);
    assert.equal((await conform(srv, 'POST', '/api/v1/auth/logout', { key: null, headers: { Cookie, 'X-CSRF-Token': csrf } })).status, 204);
    assert.equal((await conform(srv, 'DELETE', `/api/v1/keys/${k.body.id}`)).status, 204);
    assert.equal((await conform(srv, 'DELETE', `/api/v1/keys/${k.body.id.replace(/^./, (c) => (c === '0' ? '1' : '0'))}`)).status, 404);
  });

  test('the event stream: text/event-stream as documented, a fifth stream 429 TOO_MANY_STREAMS as documented', async () => {
    const open = [];
    try {
      for (let i = 0; i < 5; i++) {
        const ac = new AbortController();
        const res = await fetch(`${srv.base}/api/v1/events/stream`, { headers: { 'X-API-Key': srv.key }, signal: ac.signal });
        open.push(ac);
        const ct = res.headers.get('content-type');
        if (i < 4) {
          assert.equal(res.status, 200);
          const reader = res.body.getReader();
          const first = new TextDecoder().decode((await reader.read()).value);
          assert.match(first, /^retry: \d+/);
          assert.deepEqual(checkResponse(doc, { method: 'GET', path: '/api/v1/events/stream', status: 200, contentType: ct, text: first }), []);
        } else {
          const text = await res.text();
          const body = JSON.parse(text);
          assert.equal(res.status, 429, text);
          assert.equal(body.error, 'TOO_MANY_STREAMS');
          assert.deepEqual(checkResponse(doc, { method: 'GET', path: '/api/v1/events/stream', status: 429, contentType: ct, body, text }), []);
        }
      }
    } finally {
      for (const ac of open) ac.abort();
    }
  });

  test('a nonconforming answer is caught (the check can fail)', async () => {
    const r = await req(srv, 'GET', '/health', { key: null });
    const base = { method: 'GET', path: '/health', status: 200, contentType: r.headers.get('content-type'), text: r.text };
    assert.deepEqual(checkResponse(doc, { ...base, body: r.body }), []);
    assert.notDeepEqual(checkResponse(doc, { ...base, body: { ...r.body, extra: 1 } }), []);
    assert.notDeepEqual(checkResponse(doc, { ...base, status: 201, body: r.body }), []);
    assert.notDeepEqual(checkResponse(doc, { ...base, contentType: 'text/html', body: r.body }), []);
    assert.notDeepEqual(checkResponse(doc, { ...base, method: 'POST', body: r.body }), []);
    assert.equal(matchPath(doc, '/api/v1/sessions/abc/messages/def'), '/api/v1/sessions/{id}/messages/{mid}');
    assert.equal(matchPath(doc, '/api/v1/events/stream'), '/api/v1/events/stream');
    // decoded as the router sees it: an encoded slash is another segment
    assert.equal(matchPath(doc, '/api/v1/media/abc'), '/api/v1/media/{mid}');
    assert.equal(matchPath(doc, '/api/v1/media/..%2F..%2Fdb.sqlite'), null);
    assert.equal(matchPath(doc, '/api/v1/media/%E0%A4%A'), '/api/v1/media/{mid}');
  });
});

test('429 RATE_LIMIT_EXCEEDED validates; probes are not limited', async () => {
  const srv = await startServer({ env: { RATE_LIMIT_GLOBAL: '3' } });
  try {
    let last;
    for (let i = 0; i < 20; i++) {
      last = await req(srv, 'GET', '/api/v1/sessions');
      if (last.status === 429) break;
    }
    assert.equal(last.status, 429, last.text);
    const problems = checkResponse(doc, { method: 'GET', path: '/api/v1/sessions', status: 429, contentType: last.headers.get('content-type'), body: last.body, text: last.text });
    assert.deepEqual(problems, []);
    assert.ok(Number(last.headers.get('retry-after')) >= 1);
    const h = await conform(srv, 'GET', '/health', { key: null });
    assert.equal(h.status, 200);
  } finally {
    await stopServer(srv);
  }
});

test('sandbox: linked session, sent message, message list and get, sandbox scan validate', async () => {
  const KEY = 'openapi-test-key-0123456789';
  const srv = await startServer({ args: ['--sandbox'], env: { API_KEY: KEY } });
  srv.key = KEY;
  try {
    const c = await conform(srv, 'POST', '/api/v1/sessions', { body: { name: 'openapi sandbox' } });
    const id = c.body.id;
    let s = c.body;
    for (const t0 = Date.now(); !s.qrCode && Date.now() - t0 < 15000; await sleep(50)) {
      s = (await conform(srv, 'GET', `/api/v1/sessions/${id}`)).body;
    }
    assert.ok(s.qrCode, 'a QR');
    const png = await req(srv, 'GET', `/api/v1/sessions/${id}/qr.png`);
    assert.deepEqual(checkResponse(doc, { method: 'GET', path: `/api/v1/sessions/${id}/qr.png`, status: png.status, contentType: png.headers.get('content-type'), body: undefined, text: png.text }), []);
    // the SVG QR (an ETag on a gzipped body): weak when gzipped, either form revalidates
    const svgPath = `/api/v1/sessions/${id}/qr.svg`;
    const plainSvg = await rawGet(srv, svgPath, { 'X-API-Key': KEY });
    const gzSvg = await rawGet(srv, svgPath, { 'X-API-Key': KEY, 'Accept-Encoding': 'gzip' });
    assert.equal(plainSvg.status, 200);
    assert.equal(gzSvg.status, 200);
    assert.equal(gzSvg.headers['content-encoding'], 'gzip', `an SVG of ${plainSvg.body.length} bytes is gzipped`);
    if (plainSvg.headers.etag === gzSvg.headers.etag.replace(/^W\//, '')) { // the QR did not rotate meanwhile
      assert.equal(gzSvg.headers.etag, `W/${plainSvg.headers.etag}`);
      assert.ok(gunzipSync(gzSvg.body).equals(plainSvg.body));
      const r304 = await rawGet(srv, svgPath, { 'X-API-Key': KEY, 'Accept-Encoding': 'gzip', 'If-None-Match': gzSvg.headers.etag });
      const plain304 = await rawGet(srv, svgPath, { 'X-API-Key': KEY, 'If-None-Match': plainSvg.headers.etag });
      // 304 unless the QR rotated in between (it lives 20 s at least)
      assert.ok(r304.status === 304 || r304.headers.etag !== gzSvg.headers.etag, `${r304.status}`);
      assert.ok(plain304.status === 304 || plain304.headers.etag !== plainSvg.headers.etag, `${plain304.status}`);
      if (r304.status === 304) assert.equal(r304.headers.etag, gzSvg.headers.etag);
      if (plain304.status === 304) assert.equal(plain304.headers.etag, plainSvg.headers.etag);
    }
    const phone = `1555${String(process.pid % 10000).padStart(4, '0')}321`;
    const scan = await conform(srv, 'POST', '/api/v1/sandbox/scan', { body: { sessionId: id, phone: `+${phone}` } });
    assert.equal(scan.status, 200, scan.text);
    for (const t0 = Date.now(); s.status !== 'connected' && Date.now() - t0 < 15000; await sleep(50)) {
      s = (await conform(srv, 'GET', `/api/v1/sessions/${id}`)).body;
    }
    assert.equal(s.status, 'connected');
    assert.equal((await conform(srv, 'POST', '/api/v1/sandbox/scan', { body: { sessionId: id, phone } })).status, 409);
    assert.equal((await conform(srv, 'POST', `/api/v1/sessions/${id}/pair-code`, { body: { phoneNumber: '+14155550123' } })).status, 409);

    const sent = await conform(srv, 'POST', `/api/v1/sessions/${id}/messages`, { body: { to: `+${phone}`, text: 'hello from the spec' } });
    assert.equal(sent.status, 202, sent.text);
    const mid = sent.body.messageId;
    const list = await conform(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=10`);
    assert.ok(list.body.data.some((x) => x.id === mid));
    await conform(srv, 'GET', `/api/v1/sessions/${id}/messages/${mid}`);
    // outbound: it cannot be marked read
    assert.equal((await conform(srv, 'POST', `/api/v1/sessions/${id}/messages/${mid}/read`)).status, 400);
    await conform(srv, 'GET', `/api/v1/events?sessionId=${id}`);
    // the overview with a linked session and a sent message in it
    const stats = await conform(srv, 'GET', `/api/v1/stats?sessionId=${id}`);
    assert.equal(stats.body.sessions.byStatus.connected, 1);
    assert.ok(stats.body.messagesToday.sent + stats.body.messagesToday.failed >= 1, JSON.stringify(stats.body.messagesToday));
    await conform(srv, 'GET', `/api/v1/logs?sessionId=${id}&limit=500`);
    await conform(srv, 'GET', `/api/v1/sessions/${id}/passkey`);
    await conform(srv, 'POST', `/api/v1/sessions/${id}/logout`);
  } finally {
    await stopServer(srv);
  }
});

test('lib.mjs req() throws on an answer the document does not allow (the hook can fail)', async () => {
  const { createServer } = await import('node:http');
  const fake = createServer((q, res) => {
    if (q.url === '/health') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status":"healthy","uptime":"long","sandbox":false}');
    } else {
      res.writeHead(418, { 'Content-Type': 'application/json' });
      res.end('{"error":"TEAPOT","message":"x","details":{}}');
    }
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  const srv = { base: `http://127.0.0.1:${fake.address().port}`, key: null, openapi: true };
  try {
    await assert.rejects(req(srv, 'GET', '/health'), /does not match src\/api\/openapi\.json[\s\S]*uptime: expected integer/);
    await assert.rejects(req(srv, 'GET', '/api/v1/sessions'), /status 418 is not documented/);
    srv.openapi = false; // off: the same answers pass through
    assert.equal((await req(srv, 'GET', '/health')).status, 200);
  } finally {
    fake.close();
  }
});
