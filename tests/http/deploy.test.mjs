// The deployment files are real: deploy/nginx.conf runs in front of a real
// `yesapp serve` (TLS, forwarded headers, the 413), and deploy/yesapp.service
// passes systemd's own checks. The Dockerfile is built by scripts/docker-check.sh
// where a Docker daemon exists (not in this suite).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { join } from 'node:path';
import { startServer, stopServer, tempDir, removeDir, BIN } from './lib.mjs';

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

function httpsReq(port, method, path, { ca, headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const q = request({ host: '127.0.0.1', port, path, method, ca, servername: 'localhost', headers }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    q.on('error', reject);
    q.end(body);
  });
}

test('deploy/nginx.conf in front of yesapp: TLS, X-Forwarded-*, our 413', async () => {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const srv = await startServer({ env: { TRUST_PROXY: '127.0.0.1', MAX_BODY_BYTES: '8192' } });
  let nginx = null;
  try {
    const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    // the example, with this run's ports and certificate, inside a minimal main config
    let site = readFileSync('deploy/nginx.conf', 'utf8')
      .replace('server 127.0.0.1:3000;', `server 127.0.0.1:${srv.port};`)
      .replace(/listen 443 ssl http2;.*/, `listen 127.0.0.1:${port} ssl http2;`)
      .replace('/etc/ssl/yesapp/fullchain.pem', cert).replace('/etc/ssl/yesapp/privkey.pem', key);
    site = site.slice(0, site.lastIndexOf('server {')); // drop the port-80 redirect
    assert.match(site, new RegExp(`listen 127.0.0.1:${port} ssl`), 'the template still has the lines we replace');
    writeFileSync(join(dir, 'nginx.conf'), `daemon off; master_process off; pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn; events { worker_connections 64; }
http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
${site} }\n`);
    const t = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
    nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    const ca = readFileSync(cert);
    let h;
    for (let i = 0; i < 100; i++) {
      h = await httpsReq(port, 'GET', '/health', { ca }).catch(() => null);
      if (h) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(h, 'nginx answers');
    assert.equal(h.status, 200);
    assert.equal(h.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains',
      'HSTS: YesApp knows from the trusted proxy that the client came over https');
    const u = await httpsReq(port, 'GET', '/api/v1/sessions', { ca, headers: { 'X-Forwarded-For': '203.0.113.9' } });
    assert.equal(u.status, 401);
    assert.equal(JSON.parse(u.text).error, 'UNAUTHORIZED');
    const big = await httpsReq(port, 'POST', '/api/v1/sessions', { ca,
      headers: { 'X-API-Key': srv.key, 'Content-Type': 'application/json' }, body: Buffer.alloc(64 * 1024, 0x61) });
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.text).error, 'PAYLOAD_TOO_LARGE', 'our JSON 413, not nginx\'s page');
    await new Promise((r) => setTimeout(r, 100));
    const ips = srv.logs.filter((l) => l.message === 'request').map((l) => l.ip);
    assert.ok(ips.includes('203.0.113.9'), `the forwarded client reached the log: ${ips}`);
  } finally {
    if (nginx) {
      nginx.kill('SIGTERM');
      await new Promise((r) => (nginx.exitCode !== null ? r() : nginx.on('exit', r)));
    }
    await stopServer(srv);
    removeDir(dir);
  }
});

test('deploy/yesapp.service passes systemd-analyze verify and is locked down', () => {
  const dir = tempDir();
  try {
    const unit = join(dir, 'yesapp.service');
    writeFileSync(unit, readFileSync('deploy/yesapp.service', 'utf8').replace('/usr/local/bin/yesapp', BIN));
    const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stderr.trim(), '', 'no warnings');
    const s = spawnSync('systemd-analyze', ['security', '--offline=yes', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for yesapp\.service: ([\d.]+)/.exec(s.stdout);
    assert.ok(m, s.stdout + s.stderr);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} (systemd: <= 2 is "OK")`);
  } finally {
    removeDir(dir);
  }
});

test('yesapp probe: exit 0 on a 2xx from the local server, 1 otherwise (the Docker HEALTHCHECK)', async () => {
  const srv = await startServer();
  try {
    const env = { PATH: process.env.PATH, PORT: String(srv.port), DATA_DIR: srv.dataDir };
    const ok = spawnSync(BIN, ['probe'], { env, encoding: 'utf8', timeout: 20000 });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /\/health: 200/);
    const nf = spawnSync(BIN, ['probe', '/api/v1/nope'], { env, encoding: 'utf8', timeout: 20000 });
    assert.equal(nf.status, 1, '401/404 is not healthy'); // (GET /nope is the dashboard's page)
    // what scripts/docker-check.sh asks the container: / is the dashboard's index.html
    const dash = spawnSync(BIN, ['probe', '/'], { env, encoding: 'utf8', timeout: 20000 });
    assert.equal(dash.status, 0, dash.stderr);
  } finally {
    await stopServer(srv);
  }
  const port = await freePort();
  const down = spawnSync(BIN, ['probe'], { env: { PATH: process.env.PATH, PORT: String(port) }, encoding: 'utf8', timeout: 20000 });
  assert.equal(down.status, 1, 'nobody listening');
  const df = readFileSync('Dockerfile', 'utf8');
  assert.match(df, /HEALTHCHECK[^\n]*\n?[^\n]*yesapp", "probe", "\/health"/);
  assert.match(df, /^USER yesapp$/m);
  assert.match(df, /^VOLUME \/app\/data$/m);
  // the image carries the dashboard: web/ is copied into the build stage
  // before make, which must build it (WEB=1); node_modules and dist stay out.
  // Only the text is checked here: scripts/docker-check.sh builds the image
  // and asks it for / where a Docker daemon is available.
  const copyWeb = df.search(/^COPY web \.\/web$/m);
  const make = df.search(/^RUN [^\n]*\bmake WEB=1\b/m);
  assert.ok(copyWeb > 0, 'Dockerfile copies web/');
  assert.ok(make > copyWeb, 'web/ is copied before make runs');
  assert.match(df.slice(make).split('\n')[0], /test -f web\/dist\/index\.html/);
  const ignore = readFileSync('.dockerignore', 'utf8').split('\n');
  assert.ok(ignore.includes('web/node_modules/') && ignore.includes('web/dist/'), '.dockerignore keeps web/node_modules and web/dist out');
  assert.ok(!ignore.some((l) => /^web\/?$|^web\/src/.test(l)), 'web/ sources are not ignored');
  assert.match(readFileSync('scripts/docker-check.sh', 'utf8'), /docker exec "\$id" yesapp probe \//);
});
