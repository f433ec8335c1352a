// Retention: at start the server deletes messages older than RETENTION_DAYS
// (0 keeps everything) and logs how many rows went; sessions stay. Old rows
// are written through the store API by tools/seed_messages (timestamps in
// November 2023) into a stopped server's database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, stopServer, req, tempDir, removeDir, BUILD } from './lib.mjs';

const pruneLogs = (srv) => srv.logs.filter((l) => l.message === 'retention: pruned old rows');

async function messageCount(srv, key, id) {
  const r = await req(srv, 'GET', `/api/v1/sessions/${id}/messages?limit=100`, { key });
  assert.equal(r.status, 200, r.text);
  return r.body.data.length;
}

test('RETENTION_DAYS prunes old messages at start; 0 keeps them', async () => {
  const dir = tempDir();
  try {
    const a = await startServer({ dataDir: dir, env: { RETENTION_DAYS: '1' } });
    const key = a.key;
    const s = await req(a, 'POST', '/api/v1/sessions', { body: { name: 'old history' } });
    assert.equal(s.status, 201);
    await stopServer(a);
    execFileSync(join(BUILD, 'tools', 'seed_messages'), [join(dir, 'db.sqlite'), s.body.id, '25']);

    const keep = await startServer({ dataDir: dir, env: { RETENTION_DAYS: '0' } });
    assert.equal(pruneLogs(keep).length, 0, 'RETENTION_DAYS=0 prunes nothing');
    assert.equal(await messageCount(keep, key, s.body.id), 25);
    await stopServer(keep);

    const prune = await startServer({ dataDir: dir, env: { RETENTION_DAYS: '1' } });
    const logs = pruneLogs(prune);
    assert.equal(logs.length, 1, prune.lines.join('\n'));
    assert.equal(logs[0].deleted, 25);
    assert.equal(logs[0].retentionDays, 1);
    assert.equal(await messageCount(prune, key, s.body.id), 0);
    const g = await req(prune, 'GET', `/api/v1/sessions/${s.body.id}`, { key });
    assert.equal(g.status, 200, 'the session itself stays');
    await stopServer(prune);

    // Nothing left to prune: the next start logs zero.
    const again = await startServer({ dataDir: dir, env: { RETENTION_DAYS: '1' } });
    assert.equal(pruneLogs(again)[0].deleted, 0);
    await stopServer(again);
  } finally {
    removeDir(dir);
  }
});
