// The runner cannot pass by omission: tests/promised.sh (which tests/run.sh
// runs first, counting each missing binary as a failure) must fail when a
// binary that a source file promises is absent from the build directory.
// Runs it against a scratch build directory of stub executables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const promised = join(root, 'tests/promised.sh');

function check(dir) {
  const r = spawnSync(promised, [dir], { encoding: 'utf8' });
  assert.equal(r.error, undefined);
  const missing = r.stdout.split('\n').filter((l) => l.startsWith('missing: ')).map((l) => l.slice(9));
  return { status: r.status, missing };
}

test('promised.sh: an empty build dir misses every promised unit, tool and fuzz binary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yesapp-promised-'));
  try {
    const { status, missing } = check(dir);
    assert.equal(status, 1);
    // one name per source, derived here from the tree, not from the script
    const names = (sub, re) => readdirSync(join(root, sub)).filter((f) => re.test(f)).map((f) => f.slice(0, -2));
    const want = [
      ...names('tests/unit', /^test_.*\.c$/).flatMap((n) => [`${dir}/tests/${n}`, `${dir}/asan/tests/${n}`]),
      ...names('tests/tools', /\.c$/).map((n) => `${dir}/asan/tools/${n}`),
      ...names('tests/fuzz', /^fuzz_.*\.c$/).map((n) => `${dir}/fuzz/${n}`),
    ];
    assert.ok(want.some((p) => p.endsWith('/fuzz/fuzz_sim_node')), 'the tree has fuzz_sim_node');
    assert.deepEqual([...missing].sort(), [...want].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('promised.sh: a complete build dir passes; one binary missing or not executable fails and is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yesapp-promised-'));
  try {
    const all = check(dir).missing;
    assert.ok(all.length > 10);
    for (const p of all) {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, '#!/bin/sh\nexit 0\n');
      chmodSync(p, 0o755);
    }
    assert.deepEqual(check(dir), { status: 0, missing: [] });

    const gone = all.find((p) => p.includes('/fuzz/'));
    rmSync(gone);
    assert.deepEqual(check(dir), { status: 1, missing: [gone] });
    writeFileSync(gone, '#!/bin/sh\nexit 0\n');
    chmodSync(gone, 0o755);

    const unit = all.find((p) => p.includes('/asan/tests/'));
    chmodSync(unit, 0o644);
    assert.deepEqual(check(dir), { status: 1, missing: [unit] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tests/run.sh fails when a promised binary is missing, even from a part it does not run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yesapp-promised-'));
  const run = () => spawnSync(join(root, 'tests/run.sh'), [dir], {
    encoding: 'utf8', env: { ...process.env, YESAPP_TEST_PARTS: 'unit' },
  });
  try {
    const all = check(dir).missing;
    for (const p of all) {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, '#!/bin/sh\necho "1 passed, 0 failed"\n');
      chmodSync(p, 0o755);
    }
    const units = all.filter((p) => /\/tests\/test_/.test(p)).length;
    let r = run();
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`\\n${units} passed, 0 failed\\n$`));

    const gone = all.find((p) => p.includes('/fuzz/'));
    rmSync(gone);
    r = run();
    assert.equal(r.status, 1, r.stdout);
    assert.ok(r.stdout.includes(`FAILED: missing: ${gone}\n`), r.stdout);
    assert.match(r.stdout, new RegExp(`\\n${units} passed, 1 failed\\n$`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
