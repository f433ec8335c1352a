// Users, roles and scoped keys (docs/auth.md): each role against each route
// of the real route table (`yesapp routes`), scoped keys that cannot read,
// send through, list or stream another session, dashboard sign-in with its
// cookie, CSRF check, rate limit and lock-out, key expiry, the audit log and
// the CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { BIN, startServer, stopServer, req, assertError, tempDir, removeDir } from './lib.mjs';

async function waitFor(fn, ms = 5000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function makeKey(srv, body) {
  const r = await req(srv, 'POST', '/api/v1/keys', { body });
  assert.equal(r.status, 201, r.text);
  assert.match(r.body.key, /^[0-9a-f]{64}$/);
  return r.body;
}

const RANK = { public: 1, viewer: 2, operator: 3, admin: 4 };

let srv;
before(async () => { srv = await startServer(); });
after(async () => { if (srv) await stopServer(srv); });

test('every route has a role rule, and each role gets exactly what it may', async () => {
  const out = spawnSync(BIN, ['routes'], { encoding: 'utf8' });
  assert.equal(out.status, 0, `a route lacks a role rule:\n${out.stderr}`);
  const routes = JSON.parse(out.stdout);
  assert.ok(routes.length >= 40, `${routes.length} routes`);
  for (const r of routes) {
    assert.notEqual(r.role, 'unset', `route ${r.methods.join(',')} ${r.pattern} has no role rule`);
    assert.equal(r.public, r.role === 'public', `${r.pattern}: public flag and role agree`);
  }
  const keys = { none: null };
  for (const role of ['viewer', 'operator', 'admin']) keys[role] = (await makeKey(srv, { role, name: role })).key;

  let checked = 0;
  for (const r of routes) {
    const path = r.pattern.replace('{eventId}', '1').replace(/\{[a-z]+\}/g, () => randomUUID());
    for (const method of r.methods) {
      for (const [who, key] of Object.entries(keys)) {
        const body = ['POST', 'PUT', 'PATCH'].includes(method) ? '{}' : undefined;
        let status, resBody = null;
        if (path === '/api/v1/events/stream') {
          const ac = new AbortController();
          const h = key ? { 'X-API-Key': key } : {};
          const res = await fetch(srv.base + path, { headers: h, signal: ac.signal });
          status = res.status;
          if (status !== 200) resBody = await res.json(); else ac.abort();
        } else {
          const res = await req(srv, method, path, { key, body });
          status = res.status;
          resBody = res.body;
        }
        const label = `${who} ${method} ${r.pattern} -> ${status} ${JSON.stringify(resBody)}`;
        if (r.role === 'public') {
          assert.ok(status !== 401 && status !== 403, label);
        } else if (who === 'none') {
          assert.equal(status, 401, label);
        } else if (RANK[who] < RANK[r.role]) {
          assert.equal(status, 403, label);
          assert.equal(resBody.error, 'FORBIDDEN', label);
          assert.equal(resBody.details.required, r.role, label);
          assert.equal(resBody.details.role, who, label);
        } else {
          assert.ok(status !== 401 && status !== 403, label);
        }
        checked++;
      }
    }
  }
  assert.ok(checked >= 160, `${checked} checks`);
});

test('a scoped key sees, reads, sends through and streams only its own sessions', async () => {
  const mk = async (name) => (await req(srv, 'POST', '/api/v1/sessions', { body: { name } })).body.id;
  const a = await mk('client-a');
  const b = await mk('client-b');
  const k = await makeKey(srv, { role: 'operator', sessions: [a], name: 'agency-a' });
  const key = k.key;

  // listing
  const list = await req(srv, 'GET', '/api/v1/sessions?limit=100', { key });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.data.map((s) => s.id), [a]);
  const all = await req(srv, 'GET', '/api/v1/sessions?limit=100');
  assert.ok(all.body.data.some((s) => s.id === b), 'the admin key sees both');

  // another session looks exactly like one that does not exist
  const missing = await req(srv, 'GET', `/api/v1/sessions/${randomUUID()}`, { key });
  assertError(missing, 404, 'SESSION_NOT_FOUND');
  for (const [m, p, body] of [
    ['GET', `/api/v1/sessions/${b}`],
    ['GET', `/api/v1/sessions/${b}/messages`],
    ['POST', `/api/v1/sessions/${b}/messages`, { to: '+15551234567', text: 'hi' }],
    ['GET', `/api/v1/sessions/${b}/messages/${randomUUID()}`],
    ['PATCH', `/api/v1/sessions/${b}/messages/${randomUUID()}`, { text: 'edited' }],
    ['DELETE', `/api/v1/sessions/${b}/messages/${randomUUID()}?forEveryone=true`],
    ['POST', `/api/v1/sessions/${b}/messages/${randomUUID()}/reaction`, { emoji: '👍' }],
    ['GET', `/api/v1/sessions/${b}/messages/${randomUUID()}/poll`],
    ['POST', `/api/v1/sessions/${b}/presence`, { state: 'available' }],
    ['POST', `/api/v1/sessions/${b}/presence/subscribe`, { to: '+15551234567' }],
    ['POST', `/api/v1/sessions/${b}/chats/15551234567@s.whatsapp.net/typing`, { state: 'paused' }],
    ['POST', `/api/v1/sessions/${b}/chats/15551234567@s.whatsapp.net/read`, {}],
    ['GET', `/api/v1/sessions/${b}/blocklist`],
    ['POST', `/api/v1/sessions/${b}/blocklist`, { jid: '+15551234567', action: 'block' }],
    ['PUT', `/api/v1/sessions/${b}/profile/about`, { text: 'hi' }],
    ['GET', `/api/v1/sessions/${b}/webhook`],
    ['PUT', `/api/v1/sessions/${b}/webhook`, { url: 'http://127.0.0.1:9/x' }],
    ['GET', `/api/v1/sessions/${b}/qr.png`],
    ['POST', `/api/v1/sessions/${b}/restart`],
    ['DELETE', `/api/v1/sessions/${b}`],
    ['GET', `/api/v1/events?sessionId=${b}`],
    ['GET', `/api/v1/events/stream?sessionId=${b}`],
  ]) {
    const r = await req(srv, m, p, { key, body });
    assertError(r, 404, 'SESSION_NOT_FOUND');
    assert.deepEqual(r.body, missing.body, `${m} ${p}: same body as a missing session`);
  }
  // b still exists for the admin
  assert.equal((await req(srv, 'GET', `/api/v1/sessions/${b}`)).status, 200);
  // its own session works
  assert.equal((await req(srv, 'GET', `/api/v1/sessions/${a}`, { key })).status, 200);
  assert.equal((await req(srv, 'GET', `/api/v1/sessions/${a}/messages`, { key })).status, 200);

  // events: both sessions have some (each fails to connect), the scoped key sees only a's
  await waitFor(async () => {
    const ev = await req(srv, 'GET', '/api/v1/events?limit=500');
    const ids = new Set(ev.body.data.map((e) => e.sessionId));
    return ids.has(a) && ids.has(b);
  }, 10000, 'events of both sessions');
  const ev = await req(srv, 'GET', '/api/v1/events?limit=500', { key });
  assert.equal(ev.status, 200);
  assert.ok(ev.body.data.length > 0);
  assert.ok(ev.body.data.every((e) => e.sessionId === a), JSON.stringify(ev.body.data));

  // the stream, from the start, shows only a's events too
  const ac = new AbortController();
  const res = await fetch(`${srv.base}/api/v1/events/stream?after=0`, { headers: { 'X-API-Key': key }, signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let text = '';
  const dec = new TextDecoder();
  const deadline = Date.now() + 5000;
  while ((text.match(/^data: /gm) || []).length < ev.body.data.length) {
    assert.ok(Date.now() < deadline, `stream events by the deadline: ${text}`);
    const chunk = await Promise.race([reader.read(), new Promise((r) => setTimeout(() => r({ value: null }), 500))]);
    text += dec.decode(chunk.value || new Uint8Array());
  }
  ac.abort();
  const sids = [...text.matchAll(/"sessionId":"([^"]+)"/g)].map((m) => m[1]);
  assert.ok(sids.length > 0 && sids.every((s) => s === a), `stream shows only ${a}: ${sids}`);

  // a session it creates joins its scope
  const c = await req(srv, 'POST', '/api/v1/sessions', { key, body: { name: 'client-a2' } });
  assert.equal(c.status, 201, c.text);
  const mine = await req(srv, 'GET', '/api/v1/sessions?limit=100', { key });
  assert.deepEqual(mine.body.data.map((s) => s.id).sort(), [a, c.body.id].sort());
  const keys = await req(srv, 'GET', '/api/v1/keys');
  const row = keys.body.data.find((x) => x.id === k.id);
  assert.deepEqual(row.sessions.sort(), [a, c.body.id].sort());

  // a scoped viewer cannot write; a scoped key cannot be admin; sessions must exist
  const v = await makeKey(srv, { role: 'viewer', sessions: [a] });
  assertError(await req(srv, 'POST', '/api/v1/sessions', { key: v.key, body: { name: 'x' } }), 403, 'FORBIDDEN');
  assertError(await req(srv, 'POST', '/api/v1/keys', { body: { role: 'admin', sessions: [a] } }), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'POST', '/api/v1/keys', { body: { role: 'viewer', sessions: [randomUUID()] } }), 404, 'SESSION_NOT_FOUND');
});

test('users: REST create, sign-in cookie, CSRF, logout, disable', async () => {
  const u = await req(srv, 'POST', '/api/v1/users', { body: { email: 'Ops@Example.com', displayName: 'Ops', role: 'operator', password: 'correct horse battery' } });
  assert.equal(u.status, 201, u.text);
  assert.equal(u.body.role, 'operator');
  assert.equal(u.body.hasPassword, true);
  assert.ok(!u.text.includes('argon2'), 'the hash is never shown');
  assertError(await req(srv, 'POST', '/api/v1/users', { body: { email: 'ops@example.com', role: 'viewer' } }), 409, 'EMAIL_TAKEN');
  assertError(await req(srv, 'POST', '/api/v1/users', { body: { email: 'nobody', role: 'viewer' } }), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'POST', '/api/v1/users', { body: { email: 'a@b.c', role: 'root' } }), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'POST', '/api/v1/users', { body: { email: 'a@b.c', role: 'viewer', password: 'short' } }), 400, 'VALIDATION_ERROR');

  const bad = await req(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'ops@example.com', password: 'wrong password!' } });
  assertError(bad, 401, 'INVALID_CREDENTIALS');
  const nobody = await req(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'nobody@example.com', password: 'wrong password!' } });
  assertError(nobody, 401, 'INVALID_CREDENTIALS');
  assert.deepEqual(nobody.body, bad.body, 'an unknown email answers like a wrong password');

  const ok = await req(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'OPS@example.com', password: 'correct horse battery' } });
  assert.equal(ok.status, 200, ok.text);
  const setCookie = ok.headers.get('set-cookie');
  assert.match(setCookie, /^yesapp_session=[0-9a-f]{64};/);
  assert.match(setCookie, /; HttpOnly/);
  assert.match(setCookie, /; SameSite=Strict/);
  assert.doesNotMatch(setCookie, /Secure/, 'no Secure over plain HTTP');
  const cookie = setCookie.split(';')[0];
  const csrf = ok.body.csrfToken;
  assert.match(csrf, /^[0-9a-f]{64}$/);
  assert.ok(!setCookie.includes(csrf), 'the CSRF token is not the cookie');

  const me = await req(srv, 'GET', '/api/v1/auth/me', { key: null, headers: { Cookie: cookie } });
  assert.equal(me.status, 200);
  assert.equal(me.body.kind, 'user');
  assert.equal(me.body.role, 'operator');
  assert.equal(me.body.csrfToken, csrf);
  assert.equal(me.body.maxBodyBytes, 1048576, 'MAX_BODY_BYTES, its default');
  assert.equal((await req(srv, 'GET', '/api/v1/sessions', { key: null, headers: { Cookie: cookie } })).status, 200);
  // role still applies to a signed-in user
  assertError(await req(srv, 'GET', '/api/v1/users', { key: null, headers: { Cookie: cookie } }), 403, 'FORBIDDEN');
  // state-changing requests need the CSRF token
  const body = { name: 'from-dashboard' };
  assertError(await req(srv, 'POST', '/api/v1/sessions', { key: null, body, headers: { Cookie: cookie } }), 403, 'CSRF_FAILED');
  assertError(await req(srv, 'POST', '/api/v1/sessions', { key: null, body, headers: { Cookie: cookie, 'X-CSRF-Token': '0'.repeat(64) } }), 403, 'CSRF_FAILED');
  const made = await req(srv, 'POST', '/api/v1/sessions', { key: null, body, headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
  assert.equal(made.status, 201, made.text);
  // a forged cookie is no sign-in; odd Cookie headers are 401s, never crashes
  for (const c of ['', ';;;', 'yesapp_session', 'yesapp_session=', `yesapp_session=${'g'.repeat(64)}`,
    `yesapp_session=${'a'.repeat(5000)}`, `a=b; yesapp_session=${'A'.repeat(64)}`, `x=${'y'.repeat(8000)}`]) {
    assertError(await req(srv, 'GET', '/api/v1/sessions', { key: null, headers: { Cookie: c } }), 401, 'UNAUTHORIZED');
  }
  // the cookie among others still works
  assert.equal((await req(srv, 'GET', '/api/v1/sessions', { key: null, headers: { Cookie: `a=b; ${cookie}; c=d` } })).status, 200);
  assertError(await req(srv, 'GET', '/api/v1/sessions', { key: null, headers: { Cookie: 'yesapp_session=' + 'a'.repeat(64) } }), 401, 'UNAUTHORIZED');

  // logout ends it
  const out = await req(srv, 'POST', '/api/v1/auth/logout', { key: null, headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
  assertError(await req(srv, 'GET', '/api/v1/sessions', { key: null, headers: { Cookie: cookie } }), 401, 'UNAUTHORIZED');

  // a disabled user's keys stop within the 2 s cache time, and it cannot sign in
  const k = await makeKey(srv, { role: 'viewer', userId: u.body.id });
  assert.equal((await req(srv, 'GET', '/api/v1/sessions', { key: k.key })).status, 200);
  const dis = await req(srv, 'PATCH', `/api/v1/users/${u.body.id}`, { body: { disabled: true } });
  assert.equal(dis.status, 200, dis.text);
  assert.equal(dis.body.disabled, true);
  const t0 = Date.now();
  await waitFor(async () => (await req(srv, 'GET', '/api/v1/sessions', { key: k.key })).status === 401, 3000, 'disabled key refused');
  assert.ok(Date.now() - t0 < 2600, `took ${Date.now() - t0} ms`);
  assertError(await req(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'ops@example.com', password: 'correct horse battery' } }), 401, 'INVALID_CREDENTIALS');
  // a key may not outrank its user
  assertError(await req(srv, 'POST', '/api/v1/keys', { body: { role: 'admin', userId: u.body.id } }), 400, 'VALIDATION_ERROR');

  // lowering a user's role lowers what its keys may do (the lower of the two counts)
  const w = await req(srv, 'POST', '/api/v1/users', { body: { email: 'writer@example.com', role: 'operator' } });
  const wk = await makeKey(srv, { role: 'operator', userId: w.body.id });
  assert.equal((await req(srv, 'POST', '/api/v1/sessions', { key: wk.key, body: { name: 'w' } })).status, 201);
  const down = await req(srv, 'PATCH', `/api/v1/users/${w.body.id}`, { body: { role: 'viewer', displayName: 'Reader' } });
  assert.equal(down.status, 200, down.text);
  assert.equal(down.body.role, 'viewer');
  assert.equal(down.body.displayName, 'Reader');
  await waitFor(async () => (await req(srv, 'POST', '/api/v1/sessions', { key: wk.key, body: { name: 'w' } })).status === 403, 3000, 'demoted key refused');
  assert.equal((await req(srv, 'GET', '/api/v1/sessions', { key: wk.key })).status, 200);
  assertError(await req(srv, 'PATCH', `/api/v1/users/${w.body.id}`, { body: { role: 'owner' } }), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'PATCH', `/api/v1/users/${w.body.id}`, { body: { email: 'x@y.z' } }), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'PATCH', `/api/v1/users/${randomUUID()}`, { body: { role: 'viewer' } }), 404, 'USER_NOT_FOUND');
});

test('keys expire; revocation is effective within 2 s', async () => {
  const k = await makeKey(srv, { role: 'viewer', expiresIn: 1 });
  assert.equal((await req(srv, 'GET', '/api/v1/sessions', { key: k.key })).status, 200);
  await waitFor(async () => (await req(srv, 'GET', '/api/v1/sessions', { key: k.key })).status === 401, 4000, 'expired key refused');
  const r = await makeKey(srv, { role: 'operator' });
  assert.equal((await req(srv, 'GET', '/api/v1/sessions', { key: r.key })).status, 200);
  assert.equal((await req(srv, 'DELETE', `/api/v1/keys/${r.id}`)).status, 204);
  const t0 = Date.now();
  await waitFor(async () => (await req(srv, 'GET', '/api/v1/sessions', { key: r.key })).status === 401, 3000, 'revoked key refused');
  assert.ok(Date.now() - t0 < 2600);
  assertError(await req(srv, 'DELETE', `/api/v1/keys/${randomUUID()}`), 404, 'KEY_NOT_FOUND');
});

test('the audit log names who did what to which session, from where', async () => {
  const k = await makeKey(srv, { role: 'operator', name: 'audited' });
  const s = await req(srv, 'POST', '/api/v1/sessions', { key: k.key, body: { name: 'audited' } });
  const sid = s.body.id;
  await req(srv, 'POST', `/api/v1/sessions/${sid}/restart`, { key: k.key });
  await waitFor(async () => (await req(srv, 'GET', '/api/v1/audit?limit=50')).body.data
    .some((r) => r.route === '/api/v1/sessions' && r.method === 'POST' && r.sessionId === sid), 3000, 'the create row names its session');
  await req(srv, 'PUT', '/api/v1/server/wa-version', { key: k.key, body: {} }); // 403
  const a = await req(srv, 'GET', '/api/v1/audit?limit=50');
  assert.equal(a.status, 200, a.text);
  const rows = a.body.data;
  const restart = rows.find((r) => r.route === '/api/v1/sessions/{id}/restart' && r.sessionId === sid);
  assert.ok(restart, JSON.stringify(rows.slice(0, 5)));
  assert.equal(restart.actor, `key:${k.id}`);
  assert.equal(restart.method, 'POST');
  assert.equal(restart.ip, '127.0.0.1');
  assert.match(restart.at, /^\d{4}-\d\d-\d\dT/);
  const denied = rows.find((r) => r.route === '/api/v1/server/wa-version' && r.actor === `key:${k.id}`);
  assert.equal(denied && denied.status, 403);
  // reads are not audited; newest first; pages
  assert.ok(!rows.some((r) => r.method === 'GET'));
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].id > rows[i].id);
  const p = await req(srv, 'GET', '/api/v1/audit?limit=1');
  assert.equal(p.body.data.length, 1);
  const p2 = await req(srv, 'GET', `/api/v1/audit?limit=1&before=${p.body.nextBefore}`);
  assert.ok(p2.body.data[0].id < p.body.data[0].id);
  // sign-ins: by whom (the user whose email was given) and how they ended
  await req(srv, 'POST', '/api/v1/users', { body: { email: 'aud@example.com', role: 'viewer', password: 'audit password' } });
  const me = (await req(srv, 'GET', '/api/v1/users')).body.data.find((x) => x.email === 'aud@example.com');
  await req(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'aud@example.com', password: 'not the one' } });
  await req(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'aud@example.com', password: 'audit password' } });
  await req(srv, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'ghost@example.com', password: 'audit password' } });
  const logins = (await req(srv, 'GET', '/api/v1/audit?limit=10')).body.data.filter((r) => r.route === '/api/v1/auth/login');
  assert.deepEqual(logins.slice(0, 3).map((r) => [r.actor, r.status]),
    [['anonymous', 401], [`user:${me.id}`, 200], [`user:${me.id}`, 401]]);
  assertError(await req(srv, 'GET', '/api/v1/audit?before=x'), 400, 'VALIDATION_ERROR');
  assertError(await req(srv, 'GET', '/api/v1/audit', { key: k.key }), 403, 'FORBIDDEN');
});

test('the sign-in cookie is Secure behind a trusted TLS proxy, not when the header is untrusted', async () => {
  const body = { email: 'tls@example.com', role: 'viewer', password: 'over tls please' };
  assert.equal((await req(srv, 'POST', '/api/v1/users', { body })).status, 201);
  const login = (s) => req(s, 'POST', '/api/v1/auth/login', { key: null, body: { email: body.email, password: body.password }, headers: { 'X-Forwarded-Proto': 'https' } });
  const plain = await login(srv);
  assert.equal(plain.status, 200);
  assert.doesNotMatch(plain.headers.get('set-cookie'), /Secure/, 'X-Forwarded-Proto from an untrusted peer is ignored');
  const p = await startServer({ env: { TRUST_PROXY: '127.0.0.1' } });
  try {
    assert.equal((await req(p, 'POST', '/api/v1/users', { body })).status, 201);
    const r = await login(p);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('set-cookie'), /; Secure/);
  } finally {
    await stopServer(p);
  }
});

test('sign-in: lock-out after repeated failures, and a rate limit per address', async () => {
  const s2 = await startServer();
  try {
    const u = await req(s2, 'POST', '/api/v1/users', { body: { email: 'lock@example.com', role: 'viewer', password: 'the right one' } });
    assert.equal(u.status, 201);
    const login = (password) => req(s2, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'lock@example.com', password } });
    for (let i = 0; i < 5; i++) assertError(await login('a wrong one'), 401, 'INVALID_CREDENTIALS');
    const locked = await login('the right one');
    assertError(locked, 429, 'ACCOUNT_LOCKED');
    assert.ok(Number(locked.headers.get('retry-after')) > 60);
    const row = await req(s2, 'GET', `/api/v1/users/${u.body.id}`);
    assert.ok(row.body.lockedUntil, 'lockedUntil shown');
    // an admin's new password lifts the lock
    assert.equal((await req(s2, 'PATCH', `/api/v1/users/${u.body.id}`, { body: { password: 'a new right one' } })).status, 200);
    assert.equal((await login('a new right one')).status, 200);
    // 10 attempts a minute from one address (a token bucket: one more every
    // 6 s): that was the 7th; 3 more pass, then 429 even with the right password
    let attempts = 7;
    let limited;
    for (;;) {
      const r = await login(attempts < 10 ? 'x' : 'a new right one');
      if (r.status === 429) { limited = r; break; }
      assert.ok(r.status === 401 || r.status === 200, r.text);
      attempts++;
      assert.ok(attempts <= 11, 'rate limited by the 11th attempt');
    }
    assert.ok(attempts === 10 || attempts === 11, `${attempts} attempts passed`);
    assertError(limited, 429, 'RATE_LIMIT_EXCEEDED');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // malformed bodies are 400s
    assertError(await req(s2, 'POST', '/api/v1/keys', { body: '{"role":' }), 400, 'VALIDATION_ERROR');
  } finally {
    await stopServer(s2);
  }
});

test('CLI: users create (password on stdin), list, passwd, disable; keys create scoped', async () => {
  const data = tempDir();
  const env = { ...process.env, DATA_DIR: data };
  const run = (args, input) => spawnSync(BIN, args, { env, input, encoding: 'utf8', timeout: 20000 });
  try {
    let r = run(['users', 'create', 'cli@example.com', '--role', 'operator', '--name', 'CLI'], 'pass word one\n');
    assert.equal(r.status, 0, r.stderr);
    const uid = r.stdout.trim();
    assert.match(uid, /^[0-9a-f-]{36}$/);
    assert.equal(run(['users', 'create', 'cli@example.com', '--role', 'viewer'], 'pass word one\n').status, 1);
    assert.equal(run(['users', 'create', 'x@example.com', '--role', 'root'], 'pass word one\n').status, 2);
    assert.equal(run(['users', 'create', 'y@example.com', '--role', 'viewer'], '').status, 2, 'no password on stdin');
    assert.equal(run(['users', 'create', 'y@example.com', '--role', 'viewer'], 'short\n').status, 2);
    r = run(['users', 'list']);
    assert.match(r.stdout, /cli@example\.com\s+operator\s+set\s+-\s+no/);
    assert.ok(!r.stdout.includes('argon2'));
    assert.equal(run(['users', 'passwd', 'cli@example.com'], 'pass word two\n').status, 0);
    assert.equal(run(['users', 'disable', uid]).status, 0);
    assert.match(run(['users', 'list']).stdout, /cli@example\.com.*yes$/m);
    assert.equal(run(['users', 'enable', 'cli@example.com']).status, 0);
    assert.equal(run(['users', 'passwd', 'nobody@example.com'], 'pass word two\n').status, 1);
    assert.equal(run(['users', 'frobnicate']).status, 2);
    // keys: role above the user's is refused; scoped needs existing sessions
    assert.equal(run(['keys', 'create', '--role', 'admin', '--user', 'cli@example.com']).status, 1);
    assert.equal(run(['keys', 'create', '--role', 'viewer', '--sessions', randomUUID()]).status, 1);
    assert.equal(run(['keys', 'create', '--role', 'viewer', '--expires', 'soon']).status, 2);
    r = run(['keys', 'create', '--role', 'viewer', '--user', 'cli@example.com', '--expires', '30d', '--name', 'ro']);
    assert.equal(r.status, 0, r.stderr);
    const l = run(['keys', 'list']);
    assert.match(l.stdout, /\bro\b.*\bviewer\s+cli@example\.com\s+all\s+\d{4}-/);

    // the server takes the CLI's users and keys; passwd took effect
    r = run(['keys', 'create', '--name', 'admin']);
    assert.equal(r.status, 0, r.stderr);
    const adminKey = r.stdout.trim();
    const s3 = await startServer({ dataDir: data });
    s3.key = adminKey;
    try {
      const ok = await req(s3, 'POST', '/api/v1/auth/login', { key: null, body: { email: 'cli@example.com', password: 'pass word two' } });
      assert.equal(ok.status, 200, ok.text);
      const sess = await req(s3, 'POST', '/api/v1/sessions', { key: s3.key, body: { name: 'scoped' } });
      assert.equal(sess.status, 201, `${sess.text} ${s3.key}`);
      r = run(['keys', 'create', '--role', 'operator', '--user', 'cli@example.com', '--sessions', sess.body.id]);
      assert.equal(r.status, 0, r.stderr);
      const key = r.stdout.trim();
      const list = await req(s3, 'GET', '/api/v1/sessions', { key });
      assert.deepEqual(list.body.data.map((x) => x.id), [sess.body.id]);
    } finally {
      await stopServer(s3, { removeData: false });
    }
  } finally {
    removeDir(data);
  }
});
