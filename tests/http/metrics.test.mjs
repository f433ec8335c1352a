// GET /metrics: Prometheus text format, counters that move when their event
// happens, the optional bearer token, and never rate limited.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopServer, req, assertError } from './lib.mjs';
import { serveOnSim, waitSession } from './engine-lib.mjs';
import { startSim } from '../interop/sim-lib.mjs';
import { spawnSync } from 'node:child_process';

// A strict reader of the text exposition format (version 0.0.4): every line
// is a HELP, a TYPE or a sample; every sample belongs to a TYPE'd family
// declared before it; label values are quoted with \\, \" and \n escapes;
// values are floats. Returns Map(name -> {type, help, samples: [{name, labels, value}]}).
export function parseProm(text) {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const fams = new Map();
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const famOf = (sample) => {
    if (fams.has(sample)) return fams.get(sample);
    const m = /^(.*)_(bucket|sum|count|total)$/.exec(sample);
    return m && fams.get(m[1]) && fams.get(m[1]).type === 'histogram' ? fams.get(m[1]) : null;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line))) {
      const f = fams.get(m[1]) || { samples: [] };
      assert.equal(f.help, undefined, `one HELP for ${m[1]}`);
      f.help = m[2];
      fams.set(m[1], f);
    } else if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      const f = fams.get(m[1]) || { samples: [] };
      assert.equal(f.type, undefined, `one TYPE for ${m[1]}`);
      assert.equal(f.samples.length, 0, `TYPE before samples of ${m[1]}`);
      f.type = m[2];
      fams.set(m[1], f);
    } else if ((m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`).exec(line))) {
      const labels = {};
      if (m[2] !== undefined) {
        const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
        let lm;
        while (re.lastIndex < m[2].length && (lm = re.exec(m[2]))) {
          labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        }
        assert.equal(re.lastIndex, m[2].length, `labels parse: ${line}`);
      }
      const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
      assert.ok(!Number.isNaN(value), `value of ${line}`);
      const f = famOf(m[1]);
      assert.ok(f && f.type, `sample ${m[1]} has a TYPE'd family`);
      f.samples.push({ name: m[1], labels, value });
    } else {
      assert.fail(`not a Prometheus line: ${JSON.stringify(line)}`);
    }
  }
  return fams;
}

function value(fams, name, labels = {}) {
  for (const [, f] of fams) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}

async function scrape(srv, headers = {}) {
  const r = await fetch(`${srv.base}/metrics`, { headers });
  const text = await r.text();
  return { r, text, fams: r.status === 200 ? parseProm(text) : null };
}

test('the reader above rejects what is not the format', () => {
  assert.throws(() => parseProm('foo 1\n'), /TYPE/);
  assert.throws(() => parseProm('# TYPE foo counter\nfoo{a="x} 1\n'));
  assert.throws(() => parseProm('# TYPE foo counter\nfoo one\n'));
  assert.throws(() => parseProm('# TYPE foo counter\nfoo 1'), /newline/);
  assert.equal(parseProm('# TYPE foo counter\nfoo{a="q\\"x"} 2\n').get('foo').samples[0].labels.a, 'q"x');
});

test('/metrics: families, request histograms and session gauges move with what happens', async () => {
  const srv = await startServer({ env: { RATE_LIMIT_GLOBAL: '20' } });
  try {
    let { r, fams } = await scrape(srv);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    for (const [name, type] of [
      ['yesapp_sessions_total', 'gauge'], ['yesapp_sessions_active', 'gauge'], ['yesapp_sessions', 'gauge'],
      ['yesapp_messages_sent_total', 'counter'], ['yesapp_messages_received_total', 'counter'],
      ['yesapp_messages_failed_total', 'counter'], ['yesapp_webhook_deliveries_total', 'counter'],
      ['yesapp_webhook_failures_total', 'counter'], ['yesapp_reconnects_total', 'counter'],
      ['yesapp_noise_handshakes_total', 'counter'],
      ['yesapp_loop_late_milliseconds_total', 'counter'], ['yesapp_http_request_duration_seconds', 'histogram'],
      ['process_resident_memory_bytes', 'gauge'], ['process_open_fds', 'gauge'], ['process_threads', 'gauge'],
      ['process_start_time_seconds', 'gauge'], ['yesapp_uptime_seconds', 'gauge'], ['yesapp_build_info', 'gauge'],
    ]) {
      assert.equal(fams.get(name)?.type, type, `${name} is a ${type}`);
    }
    assert.ok(value(fams, 'process_resident_memory_bytes') > 1 << 20);
    assert.ok(value(fams, 'process_threads') >= 3);
    assert.match(Object.keys(fams.get('yesapp_build_info').samples[0].labels).join(), /version/);
    const sessions0 = value(fams, 'yesapp_sessions_total');

    const route = { route: '/api/v1/sessions', method: 'GET', status: '2xx' };
    const before = value(fams, 'yesapp_http_request_duration_seconds_count', route) || 0;
    for (let i = 0; i < 3; i++) assert.equal((await req(srv, 'GET', '/api/v1/sessions')).status, 200);
    assert.equal((await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'm' } })).status, 201);
    assertError(await req(srv, 'GET', '/api/v1/nope'), 404, 'NOT_FOUND');
    ({ fams } = await scrape(srv));
    assert.equal(value(fams, 'yesapp_http_request_duration_seconds_count', route), before + 3);
    const inf = value(fams, 'yesapp_http_request_duration_seconds_bucket', { ...route, le: '+Inf' });
    assert.equal(inf, before + 3, '+Inf bucket = count');
    const b = fams.get('yesapp_http_request_duration_seconds').samples
      .filter((s) => s.name.endsWith('_bucket') && s.labels.route === route.route && s.labels.status === '2xx');
    for (let i = 1; i < b.length; i++) assert.ok(b[i].value >= b[i - 1].value, 'buckets are cumulative');
    assert.equal(value(fams, 'yesapp_http_request_duration_seconds_count',
      { route: 'unmatched', status: '4xx' }), 1);
    assert.equal(value(fams, 'yesapp_http_request_duration_seconds_count',
      { route: '/api/v1/sessions', method: 'POST', status: '2xx' }), 1);
    assert.equal(value(fams, 'yesapp_sessions_total'), sessions0 + 1);

    // Scrapes are probes: past the limit (20/min here) they still answer.
    for (let i = 0; i < 30; i++) assert.equal((await scrape(srv)).r.status, 200);
  } finally {
    await stopServer(srv);
  }
});

// The Prometheus project's own parser (its Python client, Debian's
// python3-prometheus-client, installed by scripts/deps.sh) reads the same
// scrape as the reader above, sample for sample; and it refuses a broken
// exposition, so its agreement means something.
const PROM_PY = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type,
                "samples": [[s.name, s.labels, s.value] for s in f.samples]})
print(json.dumps(out))
`;
function promPy(text) {
  const r = spawnSync('/usr/bin/python3', ['-c', PROM_PY], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prometheus_client refused the text: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('/metrics parses with the Prometheus project\'s parser, sample for sample as ours', async () => {
  assert.throws(() => promPy('# TYPE foo counter\nfoo{a="x} 1\n'), /refused/);
  const srv = await startServer();
  try {
    assert.equal((await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'p' } })).status, 201);
    assertError(await req(srv, 'GET', '/api/v1/nope'), 404, 'NOT_FOUND');
    const { text, fams } = await scrape(srv);
    const theirs = promPy(text);
    const key = (name, labels, v) => `${name}${JSON.stringify(Object.entries(labels).sort())}=${v}`;
    const a = [], b = [];
    for (const f of theirs) {
      const ours = fams.get(f.name) || fams.get(`${f.name}_total`);
      assert.ok(ours, `their family ${f.name} is ours too`);
      assert.equal(ours.type, f.type, `${f.name}: the same type`);
      for (const [n, l, v] of f.samples) a.push(key(n, l, v));
    }
    for (const [, f] of fams) for (const x of f.samples) b.push(key(x.name, x.labels, x.value));
    assert.ok(b.length > 50, `a real scrape (${b.length} samples)`);
    assert.deepEqual(a.sort(), b.sort());
  } finally {
    await stopServer(srv);
  }
});

test('METRICS_TOKEN: /metrics wants the bearer token', async () => {
  const srv = await startServer({ env: { METRICS_TOKEN: 'scrape-secret-1' } });
  try {
    assert.equal((await scrape(srv)).r.status, 401);
    assert.equal((await scrape(srv, { Authorization: 'Bearer wrong' })).r.status, 401);
    assert.equal((await scrape(srv, { Authorization: 'Bearer scrape-secret-1x' })).r.status, 401);
    const ok = await scrape(srv, { Authorization: 'Bearer scrape-secret-1' });
    assert.equal(ok.r.status, 200);
    assert.ok(ok.fams.get('yesapp_sessions_total'));
    const r = await req(srv, 'GET', '/metrics', { key: null });
    assertError(r, 401, 'UNAUTHORIZED');
  } finally {
    await stopServer(srv);
  }
});

let sim;
before(async () => { sim = await startSim(); });
after(async () => { await sim.stop(); });

test('handshakes, reconnects and sessions by status follow the engine', async () => {
  const root = (await sim.api('GET', '/sim/info')).json.rootPublicKey;
  const srv = await serveOnSim(sim, root, 'metrics-test-key-0123456789');
  try {
    const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'm' } });
    assert.equal(c.status, 201, c.text);
    const id = c.body.id;
    const s = await waitSession(srv, id, (x) => x.qrCode, 'a QR');
    const phone = `1555${String(process.pid % 10000).padStart(4, '0')}77`;
    await sim.api('POST', '/sim/accounts', { phone });
    assert.equal((await sim.api('POST', '/sim/scan', { phone, qr: s.qrCode })).status, 200);
    await waitSession(srv, id, (x) => x.status === 'connected', 'connected');
    let { fams } = await scrape(srv);
    assert.equal(value(fams, 'yesapp_sessions_active'), 1);
    assert.equal(value(fams, 'yesapp_sessions', { status: 'connected' }), 1);
    assert.equal(value(fams, 'yesapp_sessions', { status: 'qr' }), 0);
    const hs = value(fams, 'yesapp_noise_handshakes_total');
    assert.ok(hs >= 2, `registration and login handshakes: ${hs}`);
    const rc = value(fams, 'yesapp_reconnects_total');

    const d = await sim.api('POST', '/sim/faults', { dropAll: true });
    assert.ok(d.json.dropped >= 1, d.text);
    await waitSession(srv, id, (x) => x.status !== 'connected', 'noticed the drop', 5000).catch(() => {});
    await waitSession(srv, id, (x) => x.status === 'connected', 'connected again');
    ({ fams } = await scrape(srv));
    assert.ok(value(fams, 'yesapp_reconnects_total') >= rc + 1, 'a reconnect counted');
    assert.ok(value(fams, 'yesapp_noise_handshakes_total') >= hs + 1, 'a new handshake counted');
  } finally {
    await stopServer(srv);
  }
});
