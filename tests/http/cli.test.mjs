// The `yesapp` command line: help, version, config errors, and the keys
// subcommands against a temporary DATA_DIR. No server is started: every
// command here either exits before serving or is a non-serving subcommand.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, process.env.YESAPP_BUILD || 'build/asan', 'yesapp');
const dir = mkdtempSync(join(tmpdir(), 'yesapp-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SETTINGS = ['PORT', 'HOST', 'DATA_DIR', 'DATABASE_URL', 'LOG_LEVEL', 'API_KEY', 'METRICS_TOKEN', 'TRUST_PROXY', 'TLS_CERT_FILE', 'TLS_KEY_FILE',
  'CORS_ORIGINS', 'RATE_LIMIT_GLOBAL', 'RATE_LIMIT_MESSAGES', 'QUEUE_MAX', 'RETENTION_DAYS',
  'MEDIA_AUTO_DOWNLOAD', 'MEDIA_DOWNLOAD_MAX_MB', 'MEDIA_BACKOFF_MS', 'MEDIA_RETRY_TIMEOUT_MS', 'MEDIA_URL_ALLOW_PRIVATE', 'WA_WS_URL', 'WA_ROOT_KEY', 'WA_CA_FILE', 'WA_VERSION', 'IDLE_DISCONNECT_HOURS', 'MAX_BODY_BYTES',
  'WEBHOOK_URL', 'WEBHOOK_SECRET', 'WEBHOOK_EVENTS', 'WEBHOOK_RETRIES', 'WEBHOOK_BACKOFF_MS',
  'WEBHOOK_TIMEOUT_MS', 'SANDBOX', 'SANDBOX_STATE', 'DURABILITY'];

// Runs yesapp with the settings' variables cleared (plus `env`), bounded in time.
function run(args, env = {}) {
  const clean = { ...process.env };
  for (const k of SETTINGS) delete clean[k];
  const r = spawnSync(bin, args, { env: { ...clean, ...env }, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.error, undefined, `spawn ${args.join(' ')}: ${r.error}`);
  return r;
}

test('version and help', () => {
  const v = run(['version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^yesapp \d+\.\d+\.\d+\n$/);
  for (const h of [['--help'], ['help'], ['-h'], ['serve', '--help'], ['keys', 'list', '-h']]) {
    const r = run(h);
    assert.equal(r.status, 0, h.join(' '));
    for (const cmd of ['serve', 'keys create', 'keys list', 'keys revoke', 'users create', 'users list',
      'users disable', 'users passwd', 'routes', 'version'])
      assert.ok(r.stdout.includes(cmd), `help lists ${cmd}`);
    for (const name of SETTINGS) {
      assert.ok(r.stdout.includes(name), `help lists ${name}`);
      const flag = '--' + name.toLowerCase().replaceAll('_', '-');
      assert.ok(r.stdout.includes(flag), `help lists ${flag}`);
    }
  }
  const u = run(['frobnicate']);
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command "frobnicate"/);
});

test('docs/configuration.md holds the generated settings table', () => {
  const r = run(['config-table']);
  assert.equal(r.status, 0);
  const doc = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');
  assert.ok(doc.includes(r.stdout), 'docs/configuration.md is stale: regenerate it with yesapp config-table');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(readme.includes(r.stdout), 'README.md settings table is stale: regenerate it with yesapp config-table');
  assert.equal(r.stdout.trim().split('\n').length, SETTINGS.length + 2);
});

const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'hello\n');

test('invalid settings exit 2 naming the variable or flag', () => {
  const cases = [
    [{ PORT: 'abc' }, [], /PORT/],
    [{}, ['--port', '70000'], /--port/],
    [{}, ['--port=-1'], /--port/],
    [{ LOG_LEVEL: 'loud' }, [], /LOG_LEVEL/],
    [{ DURABILITY: 'fsync' }, [], /DURABILITY: invalid value "fsync": expected normal or full/],
    [{}, ['--durability=none'], /--durability: invalid value "none"/],
    [{ WA_WS_URL: 'http://example.com/ws' }, [], /WA_WS_URL/],
    [{ DATABASE_URL: 'postgres://u@127.0.0.1/db' }, [], /DATABASE_URL: PostgreSQL is not supported/],
    [{ MAX_BODY_BYTES: '12' }, [], /MAX_BODY_BYTES/],
    [{ QUEUE_MAX: '0' }, [], /QUEUE_MAX/],
    [{ CORS_ORIGINS: 'javascript:alert(1)' }, [], /CORS_ORIGINS/],
    [{}, ['--no-such-flag'], /unknown option "--no-such-flag"/],
    [{ WA_ROOT_KEY: 'ab'.repeat(31) }, [], /WA_ROOT_KEY: .*64 hex digits/],
    [{}, ['--wa-root-key', 'zz'.repeat(32)], /--wa-root-key: .*64 hex digits/],
    [{ WA_CA_FILE: join(dir, 'no-such.pem') }, [], /WA_CA_FILE: .*not a readable PEM certificate file/],
    [{ WA_VERSION: '2.3000' }, [], /WA_VERSION: .*expected a version P\.S\.T/],
    [{}, ['--wa-version', '0.1.2'], /--wa-version: .*expected a version P\.S\.T/],
    [{}, ['--wa-ca-file', dir], /--wa-ca-file: .*not a readable PEM/],
    [{}, ['--wa-ca-file', notPem], /--wa-ca-file: .*not a readable PEM/],
    [{ SANDBOX: 'maybe' }, [], /SANDBOX: invalid value "maybe": expected true or false/],
    [{}, ['--sandbox=2'], /--sandbox: invalid value "2"/],
  ];
  for (const [env, flags, re] of cases) {
    for (const cmd of [['serve'], ['keys', 'list']]) {
      const r = run([...cmd, ...flags, '--data-dir', join(dir, 'unused')], env);
      assert.equal(r.status, 2, `${cmd} ${JSON.stringify(env)} ${flags}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  }
  assert.equal(existsSync(join(dir, 'unused')), false, 'nothing created on a config error');
});

test('WA_ROOT_KEY and WA_CA_FILE accept a 32-byte hex key and a PEM certificate file', () => {
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const data = join(dir, 'data-wa');
  let r = run(['keys', 'list', '--data-dir', data], { WA_ROOT_KEY: 'aB'.repeat(32), WA_CA_FILE: ca });
  assert.equal(r.status, 0, r.stderr);
  r = run(['keys', 'list', '--data-dir', data, '--wa-root-key', '0f'.repeat(32), '--wa-ca-file=' + ca]);
  assert.equal(r.status, 0, r.stderr);
});

test('keys create, list and revoke against a data dir', () => {
  const data = join(dir, 'data');
  const a = run(['keys', 'create', '--name', 'ci', '--data-dir', data]);
  assert.equal(a.status, 0, a.stderr);
  const keyA = a.stdout.trim();
  assert.match(keyA, /^[0-9a-f]{64}$/);
  assert.ok(existsSync(join(data, 'db.sqlite')), 'database created under DATA_DIR');

  // the environment works as well as the flag
  const b = run(['keys', 'create', '--name=deploy'], { DATA_DIR: data });
  assert.equal(b.status, 0, b.stderr);
  const keyB = b.stdout.trim();
  assert.match(keyB, /^[0-9a-f]{64}$/);
  assert.notEqual(keyA, keyB);

  let l = run(['keys', 'list', '--data-dir', data]);
  assert.equal(l.status, 0, l.stderr);
  let rows = l.stdout.trim().split('\n');
  assert.match(rows[0], /^ID\s+NAME\s+PREFIX\s+CREATED\s+LAST USED\s+ROLE\s+USER\s+SESSIONS\s+EXPIRES\s+REVOKED$/);
  assert.equal(rows.length, 3);
  assert.ok(!l.stdout.includes(keyA) && !l.stdout.includes(keyB), 'list never shows a key');
  const rowA = rows.find((r) => r.includes(keyA.slice(0, 8)));
  assert.ok(rowA && /\bci\b/.test(rowA) && /\bno$/.test(rowA), rowA);
  const idA = rowA.split(/\s+/)[0];
  assert.match(idA, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const rv = run(['keys', 'revoke', idA, '--data-dir', data]);
  assert.equal(rv.status, 0, rv.stderr);
  l = run(['keys', 'list', '--data-dir', data]);
  rows = l.stdout.trim().split('\n');
  assert.ok(/\byes$/.test(rows.find((r) => r.startsWith(idA))));
  assert.ok(/\bno$/.test(rows.find((r) => r.includes(keyB.slice(0, 8)))));

  const missing = run(['keys', 'revoke', '00000000-0000-4000-8000-000000000000', '--data-dir', data]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no API key/);
  assert.equal(run(['keys', 'revoke', '--data-dir', data]).status, 2);
  assert.equal(run(['keys', 'rotate', '--data-dir', data]).status, 2);
  assert.equal(run(['keys', 'create', '--name']).status, 2);
});

test('keys revoke takes its id after flags given as "--flag value"', () => {
  const data = join(dir, 'data-order');
  const a = run(['keys', 'create', '--data-dir', data]);
  assert.equal(a.status, 0, a.stderr);
  const l = run(['keys', 'list', '--data-dir', data]);
  const id = l.stdout.trim().split('\n')[1].split(/\s+/)[0];
  assert.match(id, /^[0-9a-f-]{36}$/);

  // the flag's value must not be taken for the id (nor the id for a path)
  const rv = run(['keys', 'revoke', '--data-dir', data, id]);
  const stray0 = existsSync(id);
  rmSync(id, { recursive: true, force: true });
  assert.equal(rv.status, 0, rv.stderr);
  assert.match(rv.stdout, new RegExp(`revoked ${id}`));
  assert.equal(stray0, false, 'no database created under a directory named after the id');
  const listed = run(['keys', 'list', '--log-level', 'error', '--data-dir', data]);
  assert.equal(listed.status, 0, listed.stderr);
  assert.ok(/\byes$/.test(listed.stdout.trim().split('\n')[1]), listed.stdout);
});

test('a boolean flag (--sandbox) takes no value: the id after it stays the id', () => {
  const data = join(dir, 'data-bool');
  assert.equal(run(['keys', 'create', '--data-dir', data]).status, 0);
  const id = run(['keys', 'list', '--data-dir', data]).stdout.trim().split('\n')[1].split(/\s+/)[0];
  assert.match(id, /^[0-9a-f-]{36}$/);
  const rv = run(['keys', 'revoke', '--sandbox', id, '--data-dir', data]);
  assert.equal(rv.status, 0, rv.stderr);
  assert.match(rv.stdout, new RegExp(`revoked ${id}`));
  const bad = run(['keys', 'list', '--sandbox=maybe', '--data-dir', data]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--sandbox: invalid value "maybe"/);
});
