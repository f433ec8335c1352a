// yesapp backup / restore: an online snapshot taken while the server writes,
// restored into an empty directory, checked, and served again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { startServer, stopServer, req, tempDir, removeDir, BIN } from './lib.mjs';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

const env = (dataDir) => ({ PATH: process.env.PATH, DATA_DIR: dataDir, LOG_LEVEL: 'warn',
  ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1' });
const run = (args, dataDir) => spawnSync(BIN, args, { env: env(dataDir), encoding: 'utf8', timeout: 60000 });
// the same, without blocking the event loop (the load keeps running)
const runAsync = (args, dataDir) => new Promise((resolve) => {
  const p = spawn(BIN, args, { env: env(dataDir) });
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  p.on('close', (status) => resolve({ status, stderr }));
});

test('a backup taken under write load restores every acknowledged write, checked', async () => {
  const srv = await startServer();
  const work = tempDir();
  const file = join(work, 'backup.tar.gz');
  const target = join(work, 'restored');
  try {
    mkdirSync(join(srv.dataDir, 'media'), { recursive: true }); // the server makes it at start
    const media = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    writeFileSync(join(srv.dataDir, 'media', 'abc.bin'), media);
    // writers: sessions created one after another by 4 loops until told to stop
    const acked = [];
    let stop = false;
    const writer = async (w) => {
      for (let i = 0; !stop; i++) {
        const r = await req(srv, 'POST', '/api/v1/sessions', { body: { name: `w${w}-${i}` } });
        assert.equal(r.status, 201, r.text);
        acked.push(r.body.id);
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    while (acked.length < 40) await new Promise((r) => setTimeout(r, 20));
    const before = [...acked];
    const b = await runAsync(['backup', file], srv.dataDir);
    const during = acked.length;
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(writers);
    assert.equal(b.status, 0, b.stderr);
    assert.ok(during > before.length, `writes went on during the backup (${before.length} -> ${during})`);
    assert.match(b.stderr, /backed up \d+ files/);

    const listing = spawnSync('tar', ['-tzf', file], { encoding: 'utf8' });
    assert.equal(listing.status, 0, 'GNU tar reads it');
    const entries = listing.stdout.trim().split('\n').sort();
    assert.ok(entries.includes('db.sqlite') && entries.includes('yesapp-backup.json') &&
      entries.includes('media/abc.bin'), entries.join());
    assert.ok(!entries.some((e) => /wal|shm/.test(e)), `no WAL of the live database: ${entries.join()}`);

    const r = run(['restore', file], target);
    assert.equal(r.status, 0, r.stderr);
    const db = new Database(join(target, 'db.sqlite'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const ids = new Set(db.prepare('SELECT id FROM sessions').all().map((x) => x.id));
      for (const id of before) assert.ok(ids.has(id), `session ${id}, acknowledged before the backup, is in it`);
    } finally {
      db.close();
    }
    assert.deepEqual(readFileSync(join(target, 'media', 'abc.bin')), media);
    assert.ok(!readdirSync(work).some((n) => n.startsWith('.restore-')), 'the staging directory is gone');

    // a server on the restored directory serves the same data with the same key
    await stopServer(srv, { removeData: false });
    const again = await startServer({ dataDir: target });
    again.key = srv.key;
    const list = await req(again, 'GET', '/api/v1/sessions?limit=100');
    assert.equal(list.status, 200, list.text);
    assert.ok(list.body.data.length >= Math.min(100, before.length));
    await stopServer(again, { removeData: false });

    // not into a directory that holds something, unless --force
    const refused = run(['restore', file], target);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /not empty.*--force/);
    writeFileSync(join(target, 'db.sqlite-wal'), 'stale');
    const forced = run(['restore', file, '--force'], target);
    assert.equal(forced.status, 0, forced.stderr);
    assert.ok(!existsSync(join(target, 'db.sqlite-wal')), 'a stale WAL is removed');
  } finally {
    if (srv.exited && srv.proc.exitCode === null) await stopServer(srv, { removeData: false });
    removeDir(srv.dataDir);
    removeDir(work);
  }
});

test('restore refuses what is not a sound backup of ours, and writes nothing outside', () => {
  const work = tempDir();
  try {
    const garbage = join(work, 'garbage.tar.gz');
    writeFileSync(garbage, Buffer.from('this is not a tar.gz at all'));
    let r = run(['restore', garbage], join(work, 'd1'));
    assert.equal(r.status, 1, r.stderr);
    assert.ok(!existsSync(join(work, 'd1', 'db.sqlite')));

    // an entry that climbs out of the target
    mkdirSync(join(work, 'src'));
    writeFileSync(join(work, 'src', 'evil'), 'x');
    const evil = join(work, 'evil.tar.gz');
    const t = spawnSync('tar', ['-czPf', evil, '-C', join(work, 'src'), '--transform', 's,^,../escaped-,', 'evil']);
    assert.equal(t.status, 0, String(t.stderr));
    r = run(['restore', evil], join(work, 'd2'));
    assert.equal(r.status, 1, r.stderr);
    assert.ok(!existsSync(join(work, 'escaped-evil')), 'nothing written outside DATA_DIR');

    // a tar.gz without our database
    const nodb = join(work, 'nodb.tar.gz');
    assert.equal(spawnSync('tar', ['-czf', nodb, '-C', join(work, 'src'), 'evil']).status, 0);
    r = run(['restore', nodb], join(work, 'd3'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /failed/);

    // a corrupt database inside an otherwise well-formed backup
    mkdirSync(join(work, 'bad'));
    writeFileSync(join(work, 'bad', 'db.sqlite'), Buffer.alloc(8192, 7));
    writeFileSync(join(work, 'bad', 'yesapp-backup.json'), '{}');
    const bad = join(work, 'bad.tar.gz');
    assert.equal(spawnSync('tar', ['-czf', bad, '-C', join(work, 'bad'), 'db.sqlite', 'yesapp-backup.json']).status, 0);
    r = run(['restore', bad], join(work, 'd4'));
    assert.equal(r.status, 1);
    assert.ok(!existsSync(join(work, 'd4', 'db.sqlite')), 'a database that fails its check is not restored');
    assert.equal(run(['backup'], join(work, 'd5')).status, 2, 'backup needs a FILE');
  } finally {
    removeDir(work);
  }
});
