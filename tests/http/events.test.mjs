// Events out: the outbox (GET /api/v1/events), signed webhooks with their
// filters, the global WEBHOOK_URL, retries with backoff from the durable
// outbox (a receiver down then up; down for good, then replayed; yesapp
// killed with -9 mid-retry and started again), the delivery log, and the
// live stream (SSE) with Last-Event-ID. Events come from session status
// changes: `serve --sandbox` shows a QR for a new session and
// POST /api/v1/sandbox/scan links it. Receivers listen on 127.0.0.1 on
// ephemeral ports; signatures are checked here with node:crypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { startServer, stopServer, req, assertError, tempDir, removeDir, BUILD, RELEASE_BIN } from './lib.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const KEY = 'events-test-key-0123456789';

const serve = async ({ env = {}, dataDir, bin } = {}) => {
  const srv = await startServer({ dataDir, bin, args: ['--sandbox'], env: { API_KEY: KEY, ...env } });
  srv.key = KEY;
  return srv;
};

// A webhook receiver: records every POST {headers, raw body, parsed body}.
// status(n) is what it answers (200 unless changed).
async function receiver(port = 0) {
  const got = [];
  const r = { got, answer: 200 };
  r.server = createServer((q, s) => {
    const chunks = [];
    q.on('data', (c) => chunks.push(c));
    q.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body = null;
      try { body = JSON.parse(raw.toString('utf8')); } catch { /* kept raw */ }
      got.push({ method: q.method, url: q.url, headers: q.headers, raw, body });
      s.writeHead(r.answer, { 'Content-Type': 'text/plain' });
      s.end('ok');
    });
  });
  await new Promise((res, rej) => {
    r.server.once('error', rej);
    r.server.listen(port, '127.0.0.1', res);
  });
  r.port = r.server.address().port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  r.close = () => new Promise((res) => { r.server.closeAllConnections(); r.server.close(res); });
  return r;
}

// A port nothing listens on (bound, then released).
async function freePort() {
  const r = await receiver();
  await r.close();
  return r.port;
}

// The receiver's check, as docs/webhooks.md tells receivers to do it.
function verify(d, secret) {
  const sig = d.headers['x-yesapp-signature'];
  assert.match(sig, /^sha256=[0-9a-f]{64}$/);
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(d.raw).digest('hex')}`);
  assert.ok(timingSafeEqual(Buffer.from(sig), want), 'signature matches the raw body');
  const ts = Number(d.headers['x-yesapp-timestamp']);
  assert.ok(Math.abs(Date.now() / 1000 - ts) < 300, 'timestamp within 5 minutes');
  assert.equal(d.body.timestamp, ts, 'the signed body carries the header\'s timestamp');
  assert.equal(d.headers['x-yesapp-event'], d.body.event);
  assert.equal(d.headers['x-yesapp-event-id'], String(d.body.eventId));
  assert.match(d.headers['content-type'], /^application\/json/);
}

async function until(pred, what, ms = 15000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const v = await pred();
    if (v) return v;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sessionIs = async (srv, id, status) => {
  const r = await req(srv, 'GET', `/api/v1/sessions/${id}`);
  return r.status === 200 && r.body.status === status ? r.body : null;
};

async function newSession(srv, name = 'ev') {
  const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name } });
  assert.equal(c.status, 201, c.text);
  return c.body.id;
}

let phoneSeq = 0;
const newPhone = () => `1555${String(process.pid % 1000).padStart(3, '0')}${String(phoneSeq++).padStart(4, '0')}`;

async function linkSandbox(srv, id) {
  await until(() => sessionIs(srv, id, 'qr'), 'a QR');
  const scan = await req(srv, 'POST', '/api/v1/sandbox/scan', { body: { sessionId: id, phone: newPhone() } });
  assert.equal(scan.status, 200, scan.text);
  await until(() => sessionIs(srv, id, 'connected'), 'connected');
}

const logs = async (srv, id, q = '') => {
  const r = await req(srv, 'GET', `/api/v1/sessions/${id}/webhook/logs${q}`);
  assert.equal(r.status, 200, r.text);
  return r.body.data;
};

test('outbox, signed session webhook with a filter, and the global webhook', async () => {
  const own = await receiver();
  const all = await receiver();
  const srv = await serve({
    // at debug level: what is logged then must not hold a secret either
    env: { WEBHOOK_URL: all.url, WEBHOOK_SECRET: 'global-secret', WEBHOOK_EVENTS: 'session.status', LOG_LEVEL: 'debug' },
  });
  try {
    const id = await newSession(srv);
    const other = await newSession(srv, 'filtered');
    const put = await req(srv, 'PUT', `/api/v1/sessions/${id}/webhook`, {
      body: { url: own.url, secret: 'own-secret', events: ['session.status'] },
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.secret, undefined, 'the secret is never returned');
    const got = await req(srv, 'GET', `/api/v1/sessions/${id}/webhook`);
    assert.equal(got.status, 200, got.text);
    assert.ok(!got.text.includes('own-secret'), `GET shows no secret: ${got.text}`);
    // a filter that takes no status events: this session's own hook hears nothing
    const put2 = await req(srv, 'PUT', `/api/v1/sessions/${other}/webhook`, {
      body: { url: own.url, secret: 'own-secret', events: ['message'] },
    });
    assert.equal(put2.status, 200, put2.text);
    await linkSandbox(srv, id);
    await linkSandbox(srv, other);

    const connected = await until(() => own.got.find((d) => d.body.status === 'connected'),
      'the connected event at the session\'s webhook');
    verify(connected, 'own-secret');
    assert.equal(connected.body.event, 'session.status');
    assert.equal(connected.body.sessionId, id);
    assert.equal(typeof connected.body.previousStatus, 'string');
    assert.ok(Number.isInteger(connected.body.eventId) && connected.body.eventId > 0);
    assert.ok(own.got.every((d) => d.body.sessionId === id), 'the filtered session sent nothing');

    // the global hook gets both sessions' events, from the first (the QR) on
    await until(() => all.got.some((d) => d.body.sessionId === other && d.body.status === 'connected'),
      'the other session at the global webhook');
    for (const d of all.got) verify(d, 'global-secret');
    const firstOfId = all.got.find((d) => d.body.sessionId === id);
    assert.equal(firstOfId.body.status, 'qr');
    assert.equal(firstOfId.body.previousStatus, 'pending');

    // the outbox itself: in order, the same ids as the webhooks
    const ev = await req(srv, 'GET', `/api/v1/events?sessionId=${id}&limit=500`);
    assert.equal(ev.status, 200, ev.text);
    const ids = ev.body.data.map((e) => e.eventId);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.ok(ids.includes(connected.body.eventId));
    assert.ok(ev.body.data.every((e) => e.sessionId === id));
    // a linked session also gets `message` events (the phone's own protocol messages)
    assert.ok(ev.body.data.every((e) => e.event === 'session.status' || e.event === 'message'),
      ev.body.data.map((e) => e.event).join());
    // per session and URL in order at the receivers too
    const seen = all.got.filter((d) => d.body.sessionId === id).map((d) => d.body.eventId);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
    const page = await req(srv, 'GET', `/api/v1/events?sessionId=${id}&limit=1`);
    assert.equal(page.body.data.length, 1);
    assert.equal(page.body.nextAfter, page.body.data[0].eventId);
    const rest = await req(srv, 'GET', `/api/v1/events?sessionId=${id}&after=${page.body.nextAfter}&limit=500`);
    assert.deepEqual(rest.body.data.map((e) => e.eventId), ids.slice(1));
    assertError(await req(srv, 'GET', '/api/v1/events?after=x'), 400, 'VALIDATION_ERROR');
    assertError(await req(srv, 'GET', '/api/v1/events?types=nope'), 400, 'VALIDATION_ERROR');

    // the delivery log (both webhooks' rows of the session): all first-time
    // successes, newest first
    const l = await logs(srv, id);
    assert.ok(l.some((x) => x.url === own.url && x.eventId === connected.body.eventId));
    assert.ok(l.every((x) => x.success && x.statusCode === 200 && x.attempt === 1 &&
      [own.url, all.url].includes(x.url)), JSON.stringify(l));
    assert.deepEqual(l.map((x) => x.id), l.map((x) => x.id).sort((a, b) => b - a));
    assert.equal((await logs(srv, id, '?success=false')).length, 0);
    // pages of the log, newest first, by nextCursor: the same rows, none twice
    const paged = [];
    let cursor = null;
    do {
      const p = await req(srv, 'GET', `/api/v1/sessions/${id}/webhook/logs?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(p.status, 200, p.text);
      assert.ok(p.body.data.length <= 2);
      paged.push(...p.body.data.map((x) => x.id));
      cursor = p.body.nextCursor;
    } while (cursor);
    const whole = (await logs(srv, id, '?limit=500')).map((x) => x.id);
    assert.ok(whole.length > 2, `${whole.length} rows`);
    // (rows written meanwhile would be above the first page)
    assert.deepEqual(paged, whole.filter((x) => x <= paged[0]));
    assertError(await req(srv, 'GET', `/api/v1/sessions/${id}/webhook/logs?success=maybe`), 400,
      'VALIDATION_ERROR');
    assert.ok(srv.logs.some((x) => x.level === 'debug' && x.message === 'webhook delivered'), 'debug lines were logged');
    assert.doesNotMatch(srv.lines.join('\n') + srv.stderr, /own-secret|global-secret/, 'secrets never logged');
  } finally {
    await stopServer(srv);
    await own.close();
    await all.close();
  }
});

test('receiver down then up: served by a retry; down for good: 3 failures, then a replay', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/hook`;
  const srv = await serve({ env: { WEBHOOK_URL: url, WEBHOOK_BACKOFF_MS: '400', WEBHOOK_RETRIES: '2' } });
  let r;
  try {
    const id = await newSession(srv);
    await until(() => sessionIs(srv, id, 'qr'), 'a QR');
    // attempt 1 fails at once (refused); the receiver is up before the next
    await until(async () => (await logs(srv, id, '?success=false')).length >= 1, 'a failed attempt');
    r = await receiver(port);
    const d = await until(() => r.got.find((x) => x.body.sessionId === id), 'the retried delivery');
    assert.equal(d.body.status, 'qr');
    assert.equal(d.headers['x-yesapp-signature'], undefined, 'unsigned without a secret');
    const l = await until(async () => {
      const x = await logs(srv, id);
      return x.some((e) => e.success) ? x : null;
    }, 'the success in the log');
    const ok = l.find((e) => e.success);
    assert.ok(ok.attempt >= 2, `served by a retry (attempt ${ok.attempt})`);
    const fails = l.filter((e) => !e.success);
    assert.ok(fails.length >= 1 && fails.every((e) => e.statusCode === 0 && e.error), JSON.stringify(fails));

    // down for good: 1 + WEBHOOK_RETRIES failures, then failed; a replay
    // delivers it once the receiver is back
    await r.close();
    const id2 = await newSession(srv);
    const failed = await until(async () => {
      const x = await logs(srv, id2, '?success=false');
      return x.length >= 3 ? x : null;
    }, 'three failures', 10000);
    await sleep(1200); // nothing more is attempted
    const after = await logs(srv, id2);
    assert.equal(after.length, 3, JSON.stringify(after));
    assert.deepEqual(failed.map((e) => e.attempt), [3, 2, 1]);
    // backoff: WEBHOOK_BACKOFF_MS after the first attempt, twice that after the second
    const at = failed.map((e) => Date.parse(e.createdAt)).reverse();
    assert.ok(at[1] - at[0] >= 390 && at[1] - at[0] < 2000, `first retry after ${at[1] - at[0]} ms`);
    assert.ok(at[2] - at[1] >= 790 && at[2] - at[1] < 3000, `second retry after ${at[2] - at[1]} ms`);
    assert.ok(srv.logs.some((x) => x.level === 'error' && x.message === 'webhook delivery failed' &&
      x.sessionId === id2 && x.attempts === 3));
    const evId = failed[0].eventId;
    r = await receiver(port);
    const rt = await req(srv, 'POST', `/api/v1/sessions/${id2}/webhook/deliveries/${evId}/retry`);
    assert.equal(rt.status, 202, rt.text);
    assert.equal(rt.body.queued, 1);
    await until(() => r.got.find((x) => x.body.eventId === evId), 'the replayed delivery');
    // /metrics counts every attempt: the failures of both sessions, the two successes
    const metric = async (name) => Number(new RegExp(`^${name} (\\d+)$`, 'm')
      .exec(await (await fetch(`${srv.base}/metrics`)).text())?.[1]);
    const failedRows = (await logs(srv, id, '?success=false')).length + 3;
    await until(async () => (await metric('yesapp_webhook_deliveries_total')) >= 2, 'successes counted');
    assert.ok(await metric('yesapp_webhook_failures_total') >= failedRows,
      `failures counted: ${await metric('yesapp_webhook_failures_total')} >= ${failedRows}`);
    assertError(await req(srv, 'POST', `/api/v1/sessions/${id2}/webhook/deliveries/999999/retry`), 404,
      'NOT_FOUND');
    assertError(await req(srv, 'POST', `/api/v1/sessions/${id2}/webhook/deliveries/abc/retry`), 400,
      'VALIDATION_ERROR');
  } finally {
    await stopServer(srv);
    if (r) await r.close();
  }
});

for (const [sig, how] of [['SIGKILL', 'kill -9'], ['SIGTERM', 'a clean shutdown']]) test(`${how} with deliveries pending: delivered after the restart, once per event id`, async () => {
  const dir = tempDir();
  const port = await freePort();
  const env = { WEBHOOK_URL: `http://127.0.0.1:${port}/hook`, WEBHOOK_BACKOFF_MS: '1500', WEBHOOK_RETRIES: '5' };
  let r;
  try {
    let srv = await serve({ dataDir: dir, env });
    const id = await newSession(srv);
    await until(() => sessionIs(srv, id, 'qr'), 'a QR');
    await until(async () => (await logs(srv, id, '?success=false')).length >= 1, 'a failed attempt');
    const pending = (await req(srv, 'GET', `/api/v1/events?sessionId=${id}`)).body.data.map((e) => e.eventId);
    assert.ok(pending.length >= 1);
    srv.proc.kill(sig);
    await srv.exited;
    r = await receiver(port);
    srv = await serve({ dataDir: dir, env });
    try {
      await until(() => pending.every((e) => r.got.some((d) => d.body.eventId === e)),
        'every pending event delivered after the restart');
      await sleep(1000);
      const ids = r.got.map((d) => d.body.eventId);
      assert.equal(new Set(ids).size, ids.length, `each event once: ${ids}`);
    } finally {
      await stopServer(srv, { removeData: false });
    }
  } finally {
    if (r) await r.close();
    removeDir(dir);
  }
});

// An SSE client on fetch: events parsed as they come ({id, event, data}).
async function openStream(srv, path, headers = {}) {
  const ac = new AbortController();
  const res = await fetch(srv.base + path, { headers: { 'X-API-Key': srv.key, ...headers }, signal: ac.signal });
  const s = { res, events: [], comments: 0, close: () => ac.abort() };
  if (res.status !== 200) return s;
  const dec = new TextDecoder();
  let buf = '';
  s.done = (async () => {
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { s.comments++; s.commentAt = Date.now(); continue; }
            const c = line.indexOf(':');
            const k = line.slice(0, c);
            const v = line.slice(c + 1).replace(/^ /, '');
            e[k] = v;
          }
          if (e.data !== undefined) s.events.push({ id: Number(e.id), event: e.event, data: JSON.parse(e.data) });
        }
      }
    } catch { /* aborted */ }
  })();
  return s;
}

test('live stream: events as they happen, resumed from Last-Event-ID without gaps or repeats', async () => {
  const srv = await serve();
  const streams = [];
  try {
    const s1 = await openStream(srv, '/api/v1/events/stream');
    streams.push(s1);
    assert.equal(s1.res.status, 200);
    assert.match(s1.res.headers.get('content-type'), /^text\/event-stream/);
    const id = await newSession(srv);
    const e1 = await until(() => s1.events.find((e) => e.data.sessionId === id), 'the QR event live');
    assert.equal(e1.event, 'session.status');
    assert.equal(e1.id, e1.data.eventId);
    assert.equal(e1.data.status, 'qr');
    s1.close();
    // while nobody listens: more events (a link)
    await linkSandbox(srv, id);
    const all = (await req(srv, 'GET', `/api/v1/events?limit=500`)).body.data.map((e) => e.eventId);
    const s2 = await openStream(srv, '/api/v1/events/stream', { 'Last-Event-ID': String(e1.id) });
    streams.push(s2);
    assert.ok(all.filter((x) => x > e1.id).length >= 1);
    await until(() => s2.events.length >= all.filter((x) => x > e1.id).length, 'the missed events');
    await sleep(500);
    // events may still have come (the linked session's first messages): the
    // stream must hold exactly what the outbox holds after e1, missed and live
    const final = (await req(srv, 'GET', `/api/v1/events?limit=500`)).body.data.map((e) => e.eventId);
    const want = final.filter((x) => x > e1.id);
    assert.deepEqual(s2.events.map((e) => e.id), want, 'resumed: no gap, no repeat');
    // filters: another session's events only, by sessionId and type
    const other = await newSession(srv);
    const s3 = await openStream(srv, `/api/v1/events/stream?sessionId=${other}&types=session.status&after=0`);
    streams.push(s3);
    await until(() => s3.events.length >= 1, 'the filtered stream');
    assert.ok(s3.events.every((e) => e.data.sessionId === other));
    // at most 4 streams per key
    for (let i = 0; i < 2; i++) streams.push(await openStream(srv, '/api/v1/events/stream'));
    const over = await openStream(srv, '/api/v1/events/stream');
    assert.equal(over.res.status, 429);
    assert.equal((await over.res.json()).error, 'TOO_MANY_STREAMS');
    assertError(await req(srv, 'GET', '/api/v1/events/stream', { headers: { 'Last-Event-ID': 'x' } }),
      400, 'VALIDATION_ERROR');
  } finally {
    // streams still open at the stop: the server ends them and exits cleanly
    const t0 = Date.now();
    await stopServer(srv);
    assert.ok(Date.now() - t0 < 8000, `stopped in ${Date.now() - t0} ms with streams open`);
    for (const s of streams) s.close();
  }
});

// The type filter, on a stream and on the outbox: two sandbox sessions, one
// texting the other, make session.status, message (inbound, at B) and
// message.ack (outbound, at A) events; each filtered stream carries its own
// types only, and every one of them the outbox holds.
test('the type filter: a stream of types=message or message.ack carries those and nothing else', async () => {
  const srv = await serve();
  const streams = [];
  try {
    const a = await newSession(srv, 'ev-a');
    const b = await newSession(srv, 'ev-b');
    await linkSandbox(srv, a);
    await until(() => sessionIs(srv, b, 'qr'), 'a QR');
    const phoneB = newPhone();
    assert.equal((await req(srv, 'POST', '/api/v1/sandbox/scan', { body: { sessionId: b, phone: phoneB } })).status, 200);
    await until(() => sessionIs(srv, b, 'connected'), 'connected');
    const inbound = await openStream(srv, '/api/v1/events/stream?types=message&after=0');
    const acks = await openStream(srv, `/api/v1/events/stream?types=message.ack&sessionId=${a}&after=0`);
    const both = await openStream(srv, '/api/v1/events/stream?types=message,message.ack&after=0');
    streams.push(inbound, acks, both);
    const sent = await req(srv, 'POST', `/api/v1/sessions/${a}/messages`, { body: { to: `+${phoneB}`, text: 'filtered hello' } });
    assert.equal(sent.status, 202, sent.text);
    await until(() => inbound.events.some((e) => e.data.text === 'filtered hello'), 'the inbound message on the types=message stream');
    await until(() => acks.events.some((e) => e.data.messageId === sent.body.messageId && e.data.status === 'delivered'), 'the delivered ack');
    await sleep(500);
    const outbox = (await req(srv, 'GET', '/api/v1/events?limit=500')).body.data;
    const types = new Set(outbox.map((e) => e.event));
    assert.ok(types.has('session.status') && types.has('message') && types.has('message.ack'), [...types].join());
    assert.deepEqual([...new Set(inbound.events.map((e) => e.event))], ['message']);
    assert.deepEqual([...new Set(acks.events.map((e) => e.event))], ['message.ack']);
    assert.ok(acks.events.every((e) => e.data.sessionId === a));
    const want = (pred) => outbox.filter(pred).map((e) => e.eventId);
    assert.deepEqual(inbound.events.map((e) => e.id), want((e) => e.event === 'message'));
    assert.deepEqual(acks.events.map((e) => e.id), want((e) => e.event === 'message.ack' && e.sessionId === a));
    assert.deepEqual(both.events.map((e) => e.id), want((e) => e.event === 'message' || e.event === 'message.ack'));
    // the outbox's own filter agrees
    const polled = (await req(srv, 'GET', '/api/v1/events?types=message.ack&limit=500')).body.data;
    assert.deepEqual(polled.map((e) => e.eventId), want((e) => e.event === 'message.ack'));
    assertError(await req(srv, 'GET', '/api/v1/events/stream?types=message.nope'), 400, 'VALIDATION_ERROR');
  } finally {
    for (const s of streams) s.close();
    await stopServer(srv);
  }
});

test('a quiet stream gets a heartbeat comment after 15 s of silence', async () => {
  const srv = await serve();
  const t0 = Date.now();
  const s = await openStream(srv, '/api/v1/events/stream?types=message.poll_vote');
  try {
    assert.equal(s.res.status, 200);
    await until(() => s.comments >= 1, 'a heartbeat', 25000);
    const after = s.commentAt - t0;
    assert.ok(after >= 14000 && after < 20000, `first heartbeat after ${after} ms`);
    assert.equal(s.events.length, 0);
  } finally {
    s.close();
    await stopServer(srv);
  }
});

// The per-host cap (WEBHOOK_HOST_CONNS, 4): a receiver that holds every
// request sees 4 at once however many sessions have deliveries waiting; once
// it answers, the rest go out.
test('at most 4 connections to one receiver at once, the backlog served when it answers', async () => {
  const held = [];
  const got = new Set();
  let open = 0;
  let peak = 0;
  let release = false;
  const hold = createServer((q, s) => {
    const chunks = [];
    q.on('data', (c) => chunks.push(c));
    q.on('end', () => {
      const b = JSON.parse(Buffer.concat(chunks));
      if (b.status === 'qr') got.add(b.sessionId);
      if (release) s.end('ok'); else held.push(s);
    });
  });
  hold.on('connection', (c) => {
    peak = Math.max(peak, ++open);
    c.on('close', () => open--);
  });
  await new Promise((res) => hold.listen(0, '127.0.0.1', res));
  const srv = await serve({ env: { WEBHOOK_URL: `http://127.0.0.1:${hold.address().port}/hold`,
    WEBHOOK_TIMEOUT_MS: '30000', WEBHOOK_EVENTS: 'session.status' } });
  try {
    const ids = [];
    for (let i = 0; i < 8; i++) ids.push(await newSession(srv, `held-${i}`));
    await until(() => held.length >= 4, 'four held requests');
    await sleep(1500);
    assert.equal(held.length, 4, `${held.length} requests at once`);
    assert.equal(peak, 4, `${peak} connections at once`);
    release = true;
    for (const s of held) s.end('ok');
    await until(() => ids.every((id) => got.has(id)), 'every session\'s QR event once answered');
    assert.ok(peak <= 4, `${peak} connections at once`);
  } finally {
    await stopServer(srv);
    hold.closeAllConnections();
    await new Promise((res) => hold.close(res));
  }
});

// The overall cap (WEBHOOK_INFLIGHT_MAX, 32): 36 sessions, each with its own
// webhook on one of 9 receivers (4 each: the per-host cap does not bind),
// all holding every request: 32 are held at once, not 36.
test('at most 32 webhook requests in flight overall', async () => {
  const rx = [];
  let held = 0;
  for (let i = 0; i < 9; i++) {
    const h = createServer((q) => { q.resume(); q.on('end', () => { held++; }); });
    await new Promise((res) => h.listen(0, '127.0.0.1', res));
    rx.push(h);
  }
  const srv = await serve({ env: { WEBHOOK_TIMEOUT_MS: '60000' } });
  try {
    for (let i = 0; i < 36; i++) {
      const id = await newSession(srv, `cap-${i}`);
      const url = `http://127.0.0.1:${rx[i % 9].address().port}/s${i}`;
      assert.equal((await req(srv, 'PUT', `/api/v1/sessions/${id}/webhook`, { body: { url } })).status, 200);
      // a status change after the webhook is set: at least one delivery each
      assert.equal((await req(srv, 'POST', `/api/v1/sessions/${id}/restart`)).status, 200);
    }
    await until(() => held >= 32, '32 held requests', 30000);
    await sleep(2000);
    assert.equal(held, 32, `${held} requests in flight at once`);
  } finally {
    await stopServer(srv);
    for (const h of rx) {
      h.closeAllConnections();
      await new Promise((res) => h.close(res));
    }
  }
});

test('a receiver that never answers is cut at the timeout and holds back no one else; endless bodies capped, no redirects', async () => {
  const hung = [];
  const hang = createServer((q) => { hung.push(q); q.resume(); }); // never answers
  await new Promise((res) => hang.listen(0, '127.0.0.1', res));
  const hangUrl = `http://127.0.0.1:${hang.address().port}/slow`;
  // a 200 whose body never ends: we read 64 KiB of it and call it a success
  // (without the cap the transfer would run into the timeout and fail)
  const big = await receiver();
  const chunk = Buffer.alloc(16384, 'x');
  big.server.removeAllListeners('request');
  big.server.on('request', (q, s) => {
    const chunks = [];
    q.on('data', (c) => chunks.push(c));
    q.on('end', () => {
      big.got.push({ headers: q.headers, raw: Buffer.concat(chunks), body: JSON.parse(Buffer.concat(chunks)) });
      s.writeHead(200, { 'Content-Type': 'text/plain' });
      const pump = () => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
  });
  // a 200 whose body stops halfway: cut at the timeout, a failure
  const stall = await receiver();
  stall.server.removeAllListeners('request');
  stall.server.on('request', (q, s) => {
    q.resume();
    q.on('end', () => { s.writeHead(200, { 'Content-Length': '100' }); s.write('partial'); });
  });
  const target = await receiver();
  const redir = await receiver();
  redir.answer = 302;
  redir.server.prependListener('request', (q, s) => s.setHeader('Location', target.url));
  const srv = await serve({ env: { WEBHOOK_URL: hangUrl, WEBHOOK_TIMEOUT_MS: '1500', WEBHOOK_RETRIES: '0' } });
  try {
    const a = await newSession(srv, 'big');
    const b = await newSession(srv, 'redirected');
    assert.equal((await req(srv, 'PUT', `/api/v1/sessions/${a}/webhook`, { body: { url: big.url } })).status, 200);
    assert.equal((await req(srv, 'PUT', `/api/v1/sessions/${b}/webhook`, { body: { url: redir.url } })).status, 200);
    await linkSandbox(srv, a);
    // a's own webhook is served while the global one still hangs
    await until(() => big.got.some((d) => d.body.status === 'connected'), 'a delivered beside a hung receiver');
    assert.ok(hung.length >= 1, 'the hung receiver holds a request');
    const la = await until(async () => {
      const x = await logs(srv, a);
      return x.some((e) => e.url === big.url && e.success) && x.some((e) => e.url === hangUrl) ? x : null;
    }, 'both rows in the log');
    const capped = la.filter((e) => e.url === big.url);
    assert.ok(capped.every((e) => e.success && e.statusCode === 200 && e.durationMs < 1400),
      `endless bodies cut at the cap, well before the timeout: ${JSON.stringify(capped)}`);
    const cut = la.find((e) => e.url === hangUrl);
    assert.equal(cut.success, false);
    assert.equal(cut.statusCode, 0);
    assert.match(cut.error, /timed out|timeout/i);
    assert.ok(cut.durationMs >= 1400 && cut.durationMs < 5000, `cut at the timeout (${cut.durationMs} ms)`);
    // a 302 is a failure and is not followed
    await linkSandbox(srv, b);
    const lb = await until(async () => {
      const x = await logs(srv, b, '?success=false');
      return x.find((e) => e.url === redir.url);
    }, 'the redirect in the log');
    assert.equal(lb.statusCode, 302);
    assert.equal(lb.error, 'HTTP 302');
    assert.equal(target.got.length, 0, 'the redirect was not followed');
    const c = await newSession(srv, 'stalled');
    assert.equal((await req(srv, 'PUT', `/api/v1/sessions/${c}/webhook`, { body: { url: stall.url } })).status, 200);
    await linkSandbox(srv, c);
    const lc = await until(async () => {
      const x = await logs(srv, c, '?success=false');
      return x.find((e) => e.url === stall.url);
    }, 'the stalled answer in the log');
    assert.equal(lc.statusCode, 200);
    assert.match(lc.error, /timed out|timeout/i);
    assert.ok(!(await logs(srv, c, '?success=true')).some((e) => e.url === stall.url), 'not listed as a success');
  } finally {
    await stopServer(srv);
    for (const q of hung) q.socket.destroy();
    await new Promise((res) => hang.close(res));
    await big.close();
    await stall.close();
    await target.close();
    await redir.close();
  }
});

// 10,000 on the release build (ASan's quarantine would make any memory
// figure meaningless), its peak RSS bounded: the flood waits in the outbox,
// not in memory (bench/webhooks measures the same drain: ~21 MiB).
test('a flood queued in the outbox (10,000 events) drains to one URL in order, once each, in bounded memory', async () => {
  const N = 10000;
  const dir = tempDir();
  const r = await receiver();
  try {
    let srv = await serve({ dataDir: dir });
    const id = await newSession(srv);
    const put = await req(srv, 'PUT', `/api/v1/sessions/${id}/webhook`, { body: { url: r.url, events: ['session.status'] } });
    assert.equal(put.status, 200, put.text);
    await stopServer(srv, { removeData: false });
    const seed = spawnSync(join(BUILD, 'tools', 'seed_events'), [join(dir, 'db.sqlite'), id, String(N)], { encoding: 'utf8' });
    assert.equal(seed.status, 0, seed.stderr);
    srv = await serve({ dataDir: dir, bin: RELEASE_BIN });
    try {
      await until(() => r.got.filter((d) => d.body.seq !== undefined).length >= N, 'the flood', 120000);
      const seqs = r.got.filter((d) => d.body.seq !== undefined).map((d) => d.body.seq);
      assert.deepEqual(seqs, [...Array(N).keys()]);
      const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))[1]);
      assert.ok(hwm < 48 * 1024, `peak RSS ${hwm} kB while draining ${N} events`);
    } finally {
      await stopServer(srv, { removeData: false });
    }
  } finally {
    await r.close();
    removeDir(dir);
  }
});

// A self-signed certificate for `name` and 127.0.0.1 (cert and key files in dir).
function selfSigned(dir, file, name) {
  const cert = join(dir, `${file}.crt`);
  const key = join(dir, `${file}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=DNS:${name},IP:127.0.0.1`], { stdio: 'ignore' });
  return { cert, key };
}

// An https receiver that speaks HTTP/2 (and HTTP/1.1 to clients that do not
// offer h2): records {version, url, headers, raw, body}; counts connections.
async function tlsReceiver(tls) {
  const got = [];
  const r = { got, conns: 0 };
  r.server = createSecureServer({ key: readFileSync(tls.key), cert: readFileSync(tls.cert), allowHTTP1: true },
    (q, s) => {
      const chunks = [];
      q.on('data', (c) => chunks.push(c));
      q.on('end', () => {
        const raw = Buffer.concat(chunks);
        got.push({ version: q.httpVersion, url: q.url, headers: q.headers, raw, body: JSON.parse(raw) });
        s.writeHead(200, { 'content-type': 'text/plain' });
        s.end('ok');
      });
    });
  r.server.on('secureConnection', () => r.conns++);
  await new Promise((res) => r.server.listen(0, '127.0.0.1', res));
  r.port = r.server.address().port;
  r.close = () => new Promise((res) => {
    for (const s of r.sockets) s.destroy();
    r.server.close(res);
  });
  r.sockets = new Set();
  r.server.on('connection', (c) => { r.sockets.add(c); c.on('close', () => r.sockets.delete(c)); });
  return r;
}

test('https receivers: HTTP/2 by ALPN on a reused connection, WA_CA_FILE trusted, an untrusted certificate is a failure', async () => {
  const dir = tempDir();
  const good = await tlsReceiver(selfSigned(dir, 'good', 'localhost'));
  const bad = await tlsReceiver(selfSigned(dir, 'bad', 'localhost'));
  const srv = await serve({ env: { WEBHOOK_URL: `https://127.0.0.1:${good.port}/hook`, WEBHOOK_SECRET: 'h2-secret',
    WA_CA_FILE: join(dir, 'good.crt'), WEBHOOK_RETRIES: '0' } });
  try {
    const a = await newSession(srv, 'untrusted');
    assert.equal((await req(srv, 'PUT', `/api/v1/sessions/${a}/webhook`,
      { body: { url: `https://127.0.0.1:${bad.port}/hook` } })).status, 200);
    await linkSandbox(srv, a);
    await until(() => good.got.some((d) => d.body.sessionId === a && d.body.status === 'connected'), 'connected over https');
    for (const d of good.got) {
      verify(d, 'h2-secret');
      assert.equal(d.version, '2.0', `delivery ${d.body.eventId} in HTTP/${d.version}`);
    }
    assert.ok(good.got.length >= 3, `${good.got.length} deliveries`);
    assert.ok(good.conns < good.got.length, `${good.got.length} deliveries on ${good.conns} connections`);
    // the receiver whose certificate nobody trusts: a TLS failure, nothing sent
    const l = await until(async () => {
      const x = await logs(srv, a, '?success=false');
      return x.length ? x : null;
    }, 'the TLS failure in the log');
    assert.ok(l.every((e) => e.url === `https://127.0.0.1:${bad.port}/hook` && e.statusCode === 0 &&
      /certificate|SSL|TLS/i.test(e.error)), JSON.stringify(l));
    assert.equal(bad.got.length, 0);
  } finally {
    await stopServer(srv);
    await good.close();
    await bad.close();
    removeDir(dir);
  }
});

// libcurl takes https_proxy/no_proxy from the environment (http_proxy too,
// but libwebsockets also reads that one for WhatsApp sockets, so this test
// keeps to https). The proxy tunnels every CONNECT to the one receiver, whose
// certificate names hooks.example.test: a name that resolves nowhere, so a
// delivery can only arrive through the proxy.
test('https_proxy from the environment carries deliveries (CONNECT); no_proxy hosts go direct', async () => {
  const dir = tempDir();
  const rx = await tlsReceiver(selfSigned(dir, 'rx', 'hooks.example.test'));
  const connects = [];
  const tunnels = new Set();
  const proxy = createServer((q, s) => { s.writeHead(405); s.end(); });
  proxy.on('connect', (q, sock, head) => {
    connects.push(q.url);
    const up = netConnect(rx.port, '127.0.0.1', () => {
      sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    for (const x of [up, sock]) {
      tunnels.add(x);
      x.on('error', () => {});
      x.on('close', () => { up.destroy(); sock.destroy(); tunnels.delete(x); });
    }
  });
  await new Promise((res) => proxy.listen(0, '127.0.0.1', res));
  const srv = await serve({ env: {
    https_proxy: `http://127.0.0.1:${proxy.address().port}`, no_proxy: '127.0.0.1',
    WEBHOOK_URL: 'https://hooks.example.test/via-proxy', WA_CA_FILE: join(dir, 'rx.crt'),
  } });
  try {
    const id = await newSession(srv);
    assert.equal((await req(srv, 'PUT', `/api/v1/sessions/${id}/webhook`,
      { body: { url: `https://127.0.0.1:${rx.port}/direct` } })).status, 200);
    await linkSandbox(srv, id);
    const both = (path) => rx.got.some((d) => d.url === path && d.body.sessionId === id && d.body.status === 'connected');
    await until(() => both('/via-proxy') && both('/direct'), 'the connected event by both ways');
    assert.ok(connects.length >= 1);
    assert.ok(connects.every((c) => c === 'hooks.example.test:443'), `CONNECTs: ${connects}`);
    const l = await logs(srv, id);
    assert.ok(l.some((e) => e.url === 'https://hooks.example.test/via-proxy' && e.success), JSON.stringify(l));
  } finally {
    await stopServer(srv);
    for (const t of tunnels) t.destroy();
    await new Promise((res) => proxy.close(res));
    await rx.close();
    removeDir(dir);
  }
});
