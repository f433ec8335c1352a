// brotli or gzip for JSON when the client accepts it (and only then;
// brotli when weighed at least as gzip), Vary on every response that could
// have been compressed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { startServer, stopServer, req, rawGet } from './lib.mjs';

let srv;
before(async () => {
  srv = await startServer();
  for (let i = 0; i < 12; i++) {
    assert.equal((await req(srv, 'POST', '/api/v1/sessions', { body: { name: `compress me ${i}` } })).status, 201);
  }
});
after(async () => { await stopServer(srv); });

// Raw GET (node:http does not decode), so we see the bytes on the wire.
const get = (path, headers = {}) => rawGet(srv, path, { 'X-API-Key': srv.key, ...headers });

test('a large JSON body is gzipped for a client that accepts gzip', async () => {
  const plain = await get('/api/v1/sessions?limit=100');
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(plain.headers.vary, /Accept-Encoding/);
  assert.ok(plain.body.length > 1024, `big enough to compress: ${plain.body.length}`);

  const gz = await get('/api/v1/sessions?limit=100', { 'Accept-Encoding': 'gzip;q=1.0, br;q=0.8' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.match(gz.headers.vary, /Accept-Encoding/);
  assert.ok(gz.body.length < plain.body.length / 2, `${gz.body.length} vs ${plain.body.length}`);
  const a = JSON.parse(gunzipSync(gz.body)), b = JSON.parse(plain.body);
  assert.deepEqual(a.data.map((s) => s.id), b.data.map((s) => s.id));
  assert.equal(Number(gz.headers['content-length']), gz.body.length);

  const br = await get('/api/v1/sessions?limit=100', { 'Accept-Encoding': 'br;q=1.0, gzip;q=0.8' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.match(br.headers.vary, /Accept-Encoding/);
  assert.ok(br.body.length < gz.body.length, `brotli ${br.body.length} vs gzip ${gz.body.length}`);
  assert.deepEqual(JSON.parse(brotliDecompressSync(br.body)).data.map((s) => s.id), b.data.map((s) => s.id));
  assert.equal(Number(br.headers['content-length']), br.body.length);

  for (const [accept, want] of [['gzip', 'gzip'], ['gzip;q=0.000, br', 'br'], ['*', 'br'], ['br;q=0, *', 'gzip'],
    ['gzip, br;q=0.5', 'gzip'], ['gzip, br', 'br']]) {
    assert.equal((await get('/api/v1/sessions?limit=100', { 'Accept-Encoding': accept })).headers['content-encoding'],
      want, accept);
  }
  for (const refuse of ['gzip;q=0', 'identity', 'deflate', 'br;q=0, gzip;q=0', '*;q=0']) {
    const r = await get('/api/v1/sessions?limit=100', { 'Accept-Encoding': refuse });
    assert.equal(r.headers['content-encoding'], undefined, refuse);
  }
});

test('small bodies are sent as they are; fetch and curl decode the large ones', async () => {
  const small = await get('/health', { 'Accept-Encoding': 'gzip' });
  assert.equal(small.headers['content-encoding'], undefined);
  assert.equal(JSON.parse(small.body).status, 'healthy');
  const f = await req(srv, 'GET', '/api/v1/sessions?limit=100'); // fetch asks for gzip, br, deflate
  assert.equal(f.status, 200);
  assert.equal(f.body.data.length, 12);
  const out = execFileSync('curl', ['-sS', '--compressed', '-H', `X-API-Key: ${srv.key}`,
    '-w', '\n%{size_download}', `${srv.base}/api/v1/sessions?limit=100`], { encoding: 'utf8' });
  const lines = out.trimEnd().split('\n');
  assert.equal(JSON.parse(lines.slice(0, -1).join('\n')).data.length, 12);
  assert.ok(Number(lines.at(-1)) < out.length / 2, 'curl downloaded the compressed size');
});
