// Shared helpers for the HTTP tests: start a real `yesapp serve` on an
// ephemeral port with a temp DATA_DIR, find its port and API key in the JSON
// log, send requests, and stop it with SIGTERM (asserting exit code 0).
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { checkResponse, loadDoc } from './openapi-check.mjs';

export const BUILD = resolve(process.env.YESAPP_BUILD || 'build/asan');
// Every answer req() gets from a server of startServer() is checked against
// the OpenAPI document (src/api/openapi.json): its status must be documented
// for the operation and a JSON body must match the schema, else the request
// throws. YESAPP_OPENAPI_CHECK=0 turns it off.
const OPENAPI_CHECK = process.env.YESAPP_OPENAPI_CHECK !== '0';
export const BIN = join(BUILD, 'yesapp');
// The release build beside the ASan one (make test builds both: build/ and
// build/asan/); BUILD itself when it is not an ASan build.
export const RELEASE_BIN = join(BUILD.replace(/\/asan$/, ''), 'yesapp');
const KEY_RE = /API Key: ([0-9a-f]{64})/;

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'yesapp-http-'));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

// Starts the server. Resolves once it logged {"message":"listening","port":N}.
// args: extra command-line arguments after `serve`; openapiCheck: false to
// skip the OpenAPI check of req() answers (benchmarks, where it would count).
// bin: another yesapp binary (e.g. RELEASE_BIN for a memory figure that
// ASan's quarantine would hide).
export async function startServer({ dataDir, env = {}, args = [], timeoutMs = 15000, openapiCheck = OPENAPI_CHECK,
  bin = BIN } = {}) {
  const ownDir = !dataDir;
  dataDir = dataDir || tempDir();
  const proc = spawn(bin, ['serve', ...args], {
    env: {
      PATH: process.env.PATH,
      ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1',
      UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      RATE_LIMIT_GLOBAL: '100000',
      // Nothing listens on port 1: sessions fail to connect at once and never
      // reach beyond this machine. Engine tests point this at `yesapp sim`.
      WA_WS_URL: 'ws://127.0.0.1:1/ws/chat',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const srv = {
    proc, dataDir, ownDir, lines: [], logs: [], stderr: '', port: 0, key: null,
    keyLines: 0, exited: null, openapi: openapiCheck,
  };
  srv.exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  proc.stderr.on('data', (d) => { srv.stderr += d; });
  let buf = '';
  const ready = new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start:\n${srv.lines.join('\n')}\n${srv.stderr}`)), timeoutMs);
    proc.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        srv.lines.push(line);
        const m = KEY_RE.exec(line);
        if (m) { srv.key = m[1]; srv.keyLines++; }
        let obj = null;
        try { obj = JSON.parse(line); } catch { /* not JSON */ }
        if (obj) srv.logs.push(obj);
        if (obj && obj.message === 'listening' && Number.isInteger(obj.port)) {
          srv.port = obj.port;
          clearTimeout(timer);
          res();
        }
      }
    });
    srv.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`server exited early (${code ?? signal}):\n${srv.lines.join('\n')}\n${srv.stderr}`));
    });
  });
  await ready;
  srv.base = `http://127.0.0.1:${srv.port}`;
  return srv;
}

// SIGTERM, wait, assert a clean exit (code 0, no sanitizer report).
export async function stopServer(srv, { removeData = srv.ownDir } = {}) {
  srv.proc.kill('SIGTERM');
  const { code, signal } = await srv.exited;
  assert.equal(signal, null, `server died of ${signal}\n${srv.stderr}`);
  assert.equal(code, 0, `server exit code ${code}\n${srv.stderr}`);
  assert.doesNotMatch(srv.stderr, /AddressSanitizer|runtime error|LeakSanitizer/);
  if (removeData) removeDir(srv.dataDir);
}

// One request. Returns {status, headers, body (parsed JSON or null), text}.
export async function req(srv, method, path, { body, key = srv.key, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h['X-API-Key'] = key;
  let payload;
  if (body instanceof FormData) {
    payload = body; // fetch writes the multipart body and its Content-Type
  } else if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!h['Content-Type']) h['Content-Type'] = 'application/json';
  }
  const res = await fetch(srv.base + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  if (text.length) {
    try { json = JSON.parse(text); } catch { json = undefined; }
  }
  if (srv.openapi) {
    // the path as fetch sent it: the URL parser resolves dot segments ("%2E%2E" too)
    const sent = new URL(srv.base + path);
    const problems = checkResponse(loadDoc(), { method, path: sent.pathname + sent.search, status: res.status, contentType: res.headers.get('content-type'), body: json, text });
    if (problems.length) {
      throw new assert.AssertionError({
        message: `the answer to ${method} ${path} (${res.status}) does not match src/api/openapi.json:\n  ${problems.join('\n  ')}\nbody: ${text.slice(0, 300)}`,
        actual: problems, expected: [], operator: 'openapi',
      });
    }
  }
  return { status: res.status, headers: res.headers, body: json, text };
}

// A raw GET through node:http, which does not decode: the bytes and headers
// as they came on the wire. Resolves {status, headers, body (a Buffer)}.
export function rawGet(srv, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const q = request({ host: '127.0.0.1', port: srv.port, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    q.on('error', reject);
    q.end();
  });
}

// Asserts a well-formed error body with the given status and code.
export function assertError(r, status, code) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.ok(r.body && typeof r.body === 'object', `error body is JSON: ${r.text}`);
  assert.equal(r.body.error, code);
  assert.equal(typeof r.body.message, 'string');
  assert.ok(r.body.message.length > 0);
  assert.ok(r.body.details && typeof r.body.details === 'object' && !Array.isArray(r.body.details));
  assert.match(r.headers.get('content-type') || '', /^application\/json/);
  assert.ok(r.headers.get('x-request-id'), 'X-Request-Id on error responses');
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// Polls fn (every 50 ms) until it returns something truthy, which it returns;
// throws after ms.
export async function until(what, fn, ms = 20000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
