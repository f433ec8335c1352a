// Behind a reverse proxy (TRUST_PROXY) and over native TLS: whose
// X-Forwarded-For/-Proto is believed, what the rate limit and the access log
// then see, and when Strict-Transport-Security is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { startServer, stopServer, req, assertError, tempDir, removeDir, BIN } from './lib.mjs';

const anon = (srv, headers) => req(srv, 'GET', '/api/v1/sessions', { key: null, headers });
const ipsLogged = (srv) => srv.logs.filter((l) => l.message === 'request').map((l) => l.ip);

test('without TRUST_PROXY, X-Forwarded-For and -Proto are ignored', async () => {
  const srv = await startServer({ env: { RATE_LIMIT_GLOBAL: '3' } });
  try {
    for (let i = 0; i < 3; i++) {
      assertError(await anon(srv, { 'X-Forwarded-For': `203.0.113.${i}` }), 401, 'UNAUTHORIZED');
    }
    assertError(await anon(srv, { 'X-Forwarded-For': '203.0.113.99' }), 429, 'RATE_LIMIT_EXCEEDED');
    const h = await req(srv, 'GET', '/health', { headers: { 'X-Forwarded-Proto': 'https' } });
    assert.equal(h.headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([...new Set(ipsLogged(srv))], ['127.0.0.1']);
  } finally {
    await stopServer(srv);
  }
});

test('with TRUST_PROXY, the client is the first untrusted hop from the right', async () => {
  const srv = await startServer({ env: { RATE_LIMIT_GLOBAL: '3', TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' } });
  try {
    // each forwarded client has its own limit
    for (let i = 0; i < 3; i++) assertError(await anon(srv, { 'X-Forwarded-For': '198.51.100.7' }), 401, 'UNAUTHORIZED');
    assertError(await anon(srv, { 'X-Forwarded-For': '198.51.100.7' }), 429, 'RATE_LIMIT_EXCEEDED');
    assertError(await anon(srv, { 'X-Forwarded-For': '198.51.100.8' }), 401, 'UNAUTHORIZED');
    // a client cannot pick its address by prepending one: the proxy appends the real one
    assertError(await anon(srv, { 'X-Forwarded-For': '198.51.100.8, 198.51.100.7' }), 429, 'RATE_LIMIT_EXCEEDED');
    // trusted hops on the right are skipped
    assertError(await anon(srv, { 'X-Forwarded-For': '198.51.100.9, 10.1.2.3' }), 401, 'UNAUTHORIZED');
    // garbage stops the walk at the last trusted hop (here: the peer itself)
    assertError(await anon(srv, { 'X-Forwarded-For': 'not-an-address' }), 401, 'UNAUTHORIZED');
    assertError(await anon(srv, { 'X-Forwarded-For': '2001:db8::1' }), 401, 'UNAUTHORIZED');
    const https = await req(srv, 'GET', '/health', { headers: { 'X-Forwarded-Proto': 'https' } });
    assert.equal(https.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
    const http = await req(srv, 'GET', '/health', { headers: { 'X-Forwarded-Proto': 'http' } });
    assert.equal(http.headers.get('strict-transport-security'), null);
    await new Promise((r) => setTimeout(r, 100));
    const ips = ipsLogged(srv);
    assert.deepEqual(ips.slice(0, 8), ['198.51.100.7', '198.51.100.7', '198.51.100.7', '198.51.100.7',
      '198.51.100.8', '198.51.100.7', '198.51.100.9', '127.0.0.1']);
    assert.equal(ips[8], '2001:db8::1');
  } finally {
    await stopServer(srv);
  }
});

test('a peer outside TRUST_PROXY is not believed', async () => {
  const srv = await startServer({ env: { TRUST_PROXY: '10.0.0.1' } });
  try {
    const r = await req(srv, 'GET', '/health', { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '8.8.8.8' } });
    assert.equal(r.headers.get('strict-transport-security'), null);
    await anon(srv, { 'X-Forwarded-For': '8.8.8.8' });
    await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual([...new Set(ipsLogged(srv))], ['127.0.0.1']);
  } finally {
    await stopServer(srv);
  }
});

test('helmet-style security headers on every response', async () => {
  const srv = await startServer();
  try {
    const r = await req(srv, 'GET', '/api/v1/sessions');
    for (const [h, v] of [['x-content-type-options', 'nosniff'], ['x-frame-options', 'DENY'],
      ['referrer-policy', 'no-referrer'], ['cross-origin-opener-policy', 'same-origin'],
      ['cross-origin-resource-policy', 'same-origin'], ['origin-agent-cluster', '?1'],
      ['x-dns-prefetch-control', 'off'], ['x-permitted-cross-domain-policies', 'none'],
      ['x-xss-protection', '0']]) {
      assert.equal(r.headers.get(h), v, h);
    }
    assert.match(r.headers.get('content-security-policy'), /default-src 'none'/);
  } finally {
    await stopServer(srv);
  }
});

function httpsGet(port, path, ca, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const q = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', method, headers }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    q.on('error', reject);
    q.end(body);
  });
}

test('TLS_CERT_FILE/TLS_KEY_FILE: the API over HTTPS, with HSTS', async () => {
  const dir = tempDir();
  try {
    const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const srv = await startServer({ env: { TLS_CERT_FILE: cert, TLS_KEY_FILE: key } });
    try {
      assert.ok(srv.logs.some((l) => l.message === 'listening' && l.scheme === 'https'));
      const r = await httpsGet(srv.port, '/health', readFileSync(cert));
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).status, 'healthy');
      assert.equal(r.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
      // the sign-in cookie over our own TLS is Secure
      const json = { 'Content-Type': 'application/json' };
      const user = { email: 'tls@example.com', role: 'viewer', password: 'over native tls' };
      const made = await httpsGet(srv.port, '/api/v1/users', readFileSync(cert),
        { method: 'POST', headers: { ...json, 'X-API-Key': srv.key }, body: JSON.stringify(user) });
      assert.equal(made.status, 201, made.body);
      const login = await httpsGet(srv.port, '/api/v1/auth/login', readFileSync(cert),
        { method: 'POST', headers: json, body: JSON.stringify({ email: user.email, password: user.password }) });
      assert.equal(login.status, 200, login.body);
      assert.match(login.headers['set-cookie'][0], /; Secure(;|$)/);
      await assert.rejects(httpsGet(srv.port, '/health', undefined), /self.signed|certificate/i,
        'a client that does not trust the certificate refuses');
      await assert.rejects(fetch(`http://127.0.0.1:${srv.port}/health`), 'plain HTTP is not served');
    } finally {
      await stopServer(srv);
    }
    // both or neither
    const only = spawnSync(BIN, ['serve'], { env: { PATH: process.env.PATH, DATA_DIR: dir, PORT: '0', TLS_CERT_FILE: cert },
      encoding: 'utf8', timeout: 20000 });
    assert.equal(only.status, 2, only.stderr);
    assert.match(only.stderr + only.stdout, /TLS_KEY_FILE/);
    const badKey = spawnSync(BIN, ['serve'], { env: { PATH: process.env.PATH, DATA_DIR: dir, PORT: '0',
      TLS_CERT_FILE: cert, TLS_KEY_FILE: cert }, encoding: 'utf8', timeout: 20000 });
    assert.equal(badKey.status, 2, badKey.stderr);
    assert.match(badKey.stderr + badKey.stdout, /TLS_KEY_FILE.*private key/);
    const badList = spawnSync(BIN, ['serve'], { env: { PATH: process.env.PATH, DATA_DIR: dir, PORT: '0',
      TRUST_PROXY: '10.0.0.0/33' }, encoding: 'utf8', timeout: 20000 });
    assert.equal(badList.status, 2);
    assert.match(badList.stderr + badList.stdout, /TRUST_PROXY/);
  } finally {
    removeDir(dir);
  }
});
