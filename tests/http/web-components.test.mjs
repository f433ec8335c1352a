// The dashboard's Vitest component tests (web/src/*.test.tsx), run here so
// that they are part of `make test`: each Vitest test becomes one node:test
// subtest that passes only if it passed there, so the suite's counts are the
// real ones. A Vitest run that does not start, or reports no test, fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const web = resolve('web');
const dir = mkdtempSync(join(tmpdir(), 'yesapp-vitest-'));
const out = join(dir, 'report.json');
const run = spawnSync(join(web, 'node_modules/.bin/vitest'), ['run', '--reporter=json', '--outputFile', out], {
  cwd: web, encoding: 'utf8', timeout: 180000, env: { ...process.env, CI: '1', NO_COLOR: '1' },
});
let report = null;
try { report = JSON.parse(readFileSync(out, 'utf8')); } catch { /* checked below */ }
rmSync(dir, { recursive: true, force: true });

test('vitest ran and found tests', () => {
  assert.ok(report, `no report from vitest (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  assert.ok(report.numTotalTests > 0, 'vitest found no test');
  assert.equal(report.numFailedTestSuites, 0, `a test file failed to load:\n${run.stdout}\n${run.stderr}`);
});

for (const file of report?.testResults ?? []) {
  for (const t of file.assertionResults) {
    test(`web: ${[...t.ancestorTitles, t.title].join(' > ')}`, () => {
      assert.equal(t.status, 'passed', (t.failureMessages || []).join('\n'));
    });
  }
}
