// Rate limiting (429 with Retry-After) and CORS, each on its own server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopServer, req, assertError } from './lib.mjs';

test('RATE_LIMIT_GLOBAL: 429 RATE_LIMIT_EXCEEDED with Retry-After, per key and per IP', async () => {
  const srv = await startServer({ env: { RATE_LIMIT_GLOBAL: '5' } });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await req(srv, 'GET', '/api/v1/sessions');
      assert.equal(r.status, 200, `request ${i}`);
      assert.equal(r.headers.get('x-ratelimit-limit'), '5');
      assert.equal(r.headers.get('x-ratelimit-remaining'), String(4 - i));
    }
    const r = await req(srv, 'GET', '/api/v1/sessions');
    assertError(r, 429, 'RATE_LIMIT_EXCEEDED');
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 12, `Retry-After ${retry}`);
    assert.equal(r.body.details.limit, 5);
    // Requests without a valid key count against the client IP, separately.
    for (let i = 0; i < 5; i++) assert.equal((await req(srv, 'GET', '/health', { key: null })).status, 200);
    assertError(await req(srv, 'GET', '/health', { key: null }), 429, 'RATE_LIMIT_EXCEEDED');
    // Wrong keys count against the IP too: no free brute forcing.
    assertError(await req(srv, 'GET', '/api/v1/sessions', { key: 'guess' }), 429, 'RATE_LIMIT_EXCEEDED');
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
