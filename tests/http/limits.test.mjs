// Rate limiting (429 with Retry-After) and CORS, each on its own server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServer, stopServer, req, assertError } from './lib.mjs';

const run = promisify(execFile);

// Runs a script with the first python3 that has `requests`: its stdout,
// trimmed, or null when there is none.
async function python(script, args) {
  for (const bin of ['python3', '/usr/bin/python3']) {
    try {
      await run(bin, ['-c', 'import requests']);
    } catch { continue; }
    return (await run(bin, ['-c', script, ...args])).stdout.trim();
  }
  return null;
}

test('RATE_LIMIT_GLOBAL: 429 RATE_LIMIT_EXCEEDED with Retry-After, per key and per IP', async () => {
  const srv = await startServer({ env: { RATE_LIMIT_GLOBAL: '5' } });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await req(srv, 'GET', '/api/v1/sessions');
      assert.equal(r.status, 200, `request ${i}`);
      assert.equal(r.headers.get('x-ratelimit-limit'), '5');
      assert.equal(r.headers.get('x-ratelimit-remaining'), String(4 - i));
      // the IETF fields say the same: 5 per 60 s, r left, full again in t s
      assert.equal(r.headers.get('ratelimit-policy'), '"global";q=5;w=60');
      const m = /^"global";r=(\d+);t=(\d+)$/.exec(r.headers.get('ratelimit'));
      assert.ok(m, r.headers.get('ratelimit'));
      assert.equal(Number(m[1]), 4 - i);
      assert.ok(Number(m[2]) >= 12 * (i + 1) - 1 && Number(m[2]) <= 12 * (i + 1), `t=${m[2]}`);
    }
    const r = await req(srv, 'GET', '/api/v1/sessions');
    assertError(r, 429, 'RATE_LIMIT_EXCEEDED');
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 12, `Retry-After ${retry}`);
    assert.equal(r.body.details.limit, 5);
    // Requests without a valid key count against the client IP, separately.
    for (let i = 0; i < 5; i++) {
      assertError(await req(srv, 'GET', '/api/v1/sessions', { key: null }), 401, 'UNAUTHORIZED');
    }
    assertError(await req(srv, 'GET', '/api/v1/sessions', { key: null }), 429, 'RATE_LIMIT_EXCEEDED');
    // Wrong keys count against the IP too: no free brute forcing.
    assertError(await req(srv, 'GET', '/api/v1/sessions', { key: 'guess' }), 429, 'RATE_LIMIT_EXCEEDED');
    // The probes are never limited, for the key or for the address.
    assert.equal((await req(srv, 'GET', '/health')).status, 200);
    assert.equal((await req(srv, 'GET', '/health', { key: null })).status, 200);
    assert.equal((await req(srv, 'GET', '/ready', { key: null })).status, 200);
  } finally {
    await stopServer(srv);
  }
});

test('CORS: allowed origins get headers and preflights, others get none', async () => {
  const srv = await startServer({ env: { CORS_ORIGINS: 'https://app.example,http://localhost:5173' } });
  try {
    const ok = await req(srv, 'GET', '/api/v1/sessions', { headers: { Origin: 'https://app.example' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(ok.headers.get('vary') || '', /Origin/);
    assert.match(ok.headers.get('access-control-expose-headers') || '', /X-Request-Id/);
    const no = await req(srv, 'GET', '/api/v1/sessions', { headers: { Origin: 'https://evil.example' } });
    assert.equal(no.status, 200);
    assert.equal(no.headers.get('access-control-allow-origin'), null);

    const pre = await req(srv, 'OPTIONS', '/api/v1/sessions', {
      key: null,
      headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'x-api-key, content-type' },
    });
    assert.equal(pre.status, 204, pre.text);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
    assert.match(pre.headers.get('access-control-allow-headers'), /X-API-Key/i);
    assert.ok(pre.headers.get('x-request-id'));
    const bad = await req(srv, 'OPTIONS', '/api/v1/sessions', {
      key: null, headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(bad.headers.get('access-control-allow-origin'), null);
    assertError(await req(srv, 'OPTIONS', '/nope', { key: null, headers: { Origin: 'https://app.example' } }),
      404, 'NOT_FOUND');
    const plain = await req(srv, 'OPTIONS', '/health', { key: null });
    assert.equal(plain.status, 204);
    assert.equal(plain.headers.get('allow'), 'GET, HEAD, OPTIONS');
  } finally {
    await stopServer(srv);
  }
});

test('/health and /ready stay 200 through 10,000 requests from one address at 100/min', async () => {
  const srv = await startServer({ env: { RATE_LIMIT_GLOBAL: '100' } });
  try {
    const statuses = new Map();
    let next = 0;
    const worker = async () => {
      while (next < 10000) {
        const i = next++;
        const r = await fetch(srv.base + (i % 2 ? '/health' : '/ready'));
        await r.arrayBuffer();
        statuses.set(r.status, (statuses.get(r.status) || 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.deepEqual([...statuses], [[200, 10000]]);
    // The limit itself still holds for the API from that address.
    let limited = 0;
    for (let i = 0; i < 101 && !limited; i++) {
      if ((await req(srv, 'GET', '/api/v1/sessions', { key: null })).status === 429) limited = i + 1;
    }
    assert.equal(limited, 101, 'the 101st unauthenticated API request is the first limited one');
    // Probes are not logged at info: 10,000 of them would drown the log.
    assert.equal(srv.logs.filter((l) => l.path === '/health' || l.path === '/ready').length, 0,
      'no info log line per probe');
    assert.ok(srv.logs.some((l) => l.message === 'request' && l.path === '/api/v1/sessions'),
      'other requests are still logged');
  } finally {
    await stopServer(srv);
  }
});

// The 413 reaches every common client, also when the body is far bigger than
// the limit and the client is still writing it when the answer is ready.
test('a body over MAX_BODY_BYTES gets a readable 413 in Node fetch, curl and Python requests', async () => {
  const srv = await startServer({ env: { MAX_BODY_BYTES: '8192' } });
  const dir = srv.dataDir;
  const big = Buffer.alloc(8 << 20, 0x61); // 8 MiB: the client is still writing when the 413 is ready
  const file = join(dir, 'big.json');
  writeFileSync(file, big);
  const url = `${srv.base}/api/v1/sessions`;
  try {
    for (let i = 0; i < 5; i++) { // a server that closes early loses this race most times, not always
      const f = await req(srv, 'POST', '/api/v1/sessions', { body: big });
      assertError(f, 413, 'PAYLOAD_TOO_LARGE');
      assert.equal(f.body.details.maxBytes, 8192);
    }

    for (const expect of [[], ['-H', 'Expect:']]) { // with and without 100-continue
      const c = await run('curl', ['-sS', '-X', 'POST', '-H', `X-API-Key: ${srv.key}`, '-H',
        'Content-Type: application/json', ...expect, '--data-binary', `@${file}`,
        '-w', '\n%{http_code}', url]);
      const lines = c.stdout.trimEnd().split('\n');
      assert.equal(lines.at(-1), '413', `curl ${expect.join(' ')}: ${c.stdout} ${c.stderr}`);
      assert.equal(JSON.parse(lines.slice(0, -1).join('\n')).error, 'PAYLOAD_TOO_LARGE');
    }

    const py = 'import json, requests, sys\n' +
      'r = requests.post(sys.argv[1], data=open(sys.argv[2], "rb").read(),\n' +
      '    headers={"X-API-Key": sys.argv[3], "Content-Type": "application/json"})\n' +
      'print(r.status_code, r.json()["error"])\n';
    const out = await python(py, [url, file, srv.key]);
    assert.equal(out, '413 PAYLOAD_TOO_LARGE', 'a python3 with requests (scripts/deps.sh installs it)');
    // And the server still answers on fresh connections.
    assert.equal((await req(srv, 'GET', '/health')).status, 200);
  } finally {
    await stopServer(srv);
  }
});

// Heads past our limits (request target 8 KiB, header lines 16 KiB) get our
// JSON 414 / 431 with X-Request-Id, not libmicrohttpd's own HTML page; a body
// sent with such a head is not waited for.
test('an oversized request target or header block gets a JSON 414 / 431 in Node fetch, curl and Python requests', async () => {
  const srv = await startServer();
  const longPath = `/api/v1/sessions/${'a'.repeat(9000)}`;
  const longQuery = `/api/v1/sessions?limit=1&x=${'b'.repeat(9000)}`;
  const bigHeader = 'c'.repeat(20000);
  try {
    for (const [path, headers, status, code] of [
      [longPath, {}, 414, 'URI_TOO_LONG'],
      [longQuery, {}, 414, 'URI_TOO_LONG'],
      ['/api/v1/sessions', { 'X-Big': bigHeader }, 431, 'HEADERS_TOO_LARGE'],
      ['/health', { 'X-A': bigHeader.slice(0, 9000), 'X-B': bigHeader.slice(0, 9000) }, 431, 'HEADERS_TOO_LARGE'],
    ]) {
      const f = await req(srv, 'GET', path, { headers: { ...headers, 'X-Request-Id': 'head-limit-1' } });
      assertError(f, status, code);
      assert.equal(f.headers.get('x-request-id'), 'head-limit-1');
      assert.ok(f.body.details.maxBytes > 0);
    }
    // within the limits: served as usual
    assert.equal((await req(srv, 'GET', '/api/v1/sessions', { headers: { 'X-Big': 'c'.repeat(15000) } })).status, 200);
    // a POST with a body and a too-large head: answered, not left waiting
    const p = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'x' }, headers: { 'X-Big': bigHeader } });
    assertError(p, 431, 'HEADERS_TOO_LARGE');

    const c = await run('curl', ['-sS', '-H', `X-API-Key: ${srv.key}`, '-H', `X-Big: ${bigHeader}`,
      '-w', '\n%{http_code}', `${srv.base}/api/v1/sessions`]);
    const lines = c.stdout.trimEnd().split('\n');
    assert.equal(lines.at(-1), '431', c.stdout + c.stderr);
    assert.equal(JSON.parse(lines.slice(0, -1).join('\n')).error, 'HEADERS_TOO_LARGE');
    const u = await run('curl', ['-sS', '-H', `X-API-Key: ${srv.key}`, '-w', '\n%{http_code}', srv.base + longPath]);
    assert.equal(u.stdout.trimEnd().split('\n').at(-1), '414', u.stdout + u.stderr);

    const py = 'import requests, sys\n' +
      'r = requests.get(sys.argv[1], headers={"X-API-Key": sys.argv[2], "X-Big": "c" * 20000})\n' +
      'print(r.status_code, r.json()["error"])\n';
    const out = await python(py, [`${srv.base}/api/v1/sessions`, srv.key]);
    assert.equal(out, '431 HEADERS_TOO_LARGE', 'a python3 with requests (scripts/deps.sh installs it)');
    assert.equal((await req(srv, 'GET', '/health')).status, 200);
  } finally {
    await stopServer(srv);
  }
});

// What libmicrohttpd would answer by itself (an HTML page, or silence) is
// answered by the gate in front of it (src/http/gate.h) with our JSON and
// X-Request-Id; read here by raw Node sockets, curl and Python.
test('a broken request line or header, an HTTP/2 preface, a head past 48 KiB: our JSON error in Node, curl and Python', async () => {
  const srv = await startServer();
  const rawReq = (bytes) => new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let data = '';
    s.setEncoding('latin1');
    s.on('connect', () => s.write(bytes, 'latin1'));
    s.on('data', (d) => { data += d; });
    s.on('close', () => resolve(data));
    s.on('error', (e) => (data ? resolve(data) : reject(e)));
    setTimeout(() => { s.destroy(); resolve(data); }, 5000);
  });
  const parse = (text) => {
    const end = text.indexOf('\r\n\r\n');
    return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1]), head: text.slice(0, end),
      body: JSON.parse(text.slice(end + 4)) };
  };
  try {
    for (const [bytes, status, code] of [
      ['GARBAGE\r\n\r\n', 400, 'MALFORMED_REQUEST'],
      ['GET /health\r\nX-Request-Id: mine-1\r\n\r\n', 400, 'MALFORMED_REQUEST'],
      ['GET /health HTTP/1.1\r\nX-Request-Id: mine-1\r\nno colon\r\n\r\n', 400, 'MALFORMED_REQUEST'],
      ['POST /api/v1/sessions HTTP/1.1\r\nX-Request-Id: mine-1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400, 'INVALID_CONTENT_LENGTH'],
      ['GET /health HTTP/1.1\r\nX-Request-Id: mine-1\r\nContent-Length: abc\r\n\r\n', 400, 'INVALID_CONTENT_LENGTH'],
      ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505, 'HTTP_VERSION_NOT_SUPPORTED'],
      [`GET /health HTTP/1.1\r\nX-Request-Id: mine-1\r\nX-Big: ${'q'.repeat(60000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
      [`GET /${'p'.repeat(60000)} HTTP/1.1\r\n\r\n`, 414, 'URI_TOO_LONG'],
    ]) {
      const text = await rawReq(bytes);
      const r = parse(text);
      assert.equal(r.status, status, text.slice(0, 200));
      const headers = new Headers(r.head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
      assertError({ status: r.status, body: r.body, headers, text }, status, code);
      assert.match(r.head, /\r\nContent-Type: application\/json/);
      assert.match(r.head, /\r\nConnection: close/);
      if (bytes.includes('mine-1')) assert.match(r.head, /\r\nX-Request-Id: mine-1\r?$/m);
      else assert.match(r.head, /\r\nX-Request-Id: [0-9a-f-]{36}/);
    }
    // curl: a header name with a space, a target with a space, a 70 KB header
    for (const [args, status, code] of [
      [['-H', 'Bad Name: y', `${srv.base}/health`], 400, 'MALFORMED_REQUEST'],
      [['--request-target', '/he alth', `${srv.base}/health`], 400, 'MALFORMED_REQUEST'],
      [['-H', `X-Big: ${'c'.repeat(70000)}`, `${srv.base}/health`], 431, 'HEADERS_TOO_LARGE'],
    ]) {
      const c = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args]);
      const lines = c.stdout.trimEnd().split('\n');
      assert.equal(lines.at(-1), String(status), c.stdout + c.stderr);
      assert.equal(JSON.parse(lines.slice(0, -1).join('\n')).error, code);
    }
    // Python: http.client reads the answer to raw bytes; requests sends a 70 KB header
    const py = 'import socket, http.client, json, sys, requests\n' +
      'port = int(sys.argv[1])\n' +
      'for raw in (b"GARBAGE\\r\\n\\r\\n", b"GET / HTTP/1.1\\r\\nBad Name: y\\r\\n\\r\\n"):\n' +
      '    s = socket.create_connection(("127.0.0.1", port)); s.sendall(raw)\n' +
      '    r = http.client.HTTPResponse(s); r.begin()\n' +
      '    print(r.status, json.loads(r.read())["error"], bool(r.getheader("X-Request-Id")))\n' +
      '    s.close()\n' +
      'r = requests.get("http://127.0.0.1:%d/health" % port, headers={"X-Big": "c" * 70000})\n' +
      'print(r.status_code, r.json()["error"], bool(r.headers.get("X-Request-Id")))\n';
    const out = await python(py, [String(srv.port)]);
    assert.equal(out, '400 MALFORMED_REQUEST True\n400 MALFORMED_REQUEST True\n431 HEADERS_TOO_LARGE True',
      'a python3 with requests (scripts/deps.sh installs it)');
    // and the server still serves
    assert.equal((await req(srv, 'GET', '/health')).status, 200);
  } finally {
    await stopServer(srv);
  }
});
