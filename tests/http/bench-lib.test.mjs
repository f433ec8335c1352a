// bench/lib.sh, the interleave/median helper every bench/<name>/run.sh uses:
// the order of runs (warm-up, then A B A B ...), medians (odd and even
// counts), spreads, ratio orientation, wall-time fields, and failures. Fake
// contestants print figures from fixed lists, so every expected number is
// worked out here by hand. The same checks run against a copy of the helper
// with a deliberately broken median (the mean instead), which they must
// reject.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIB = join(import.meta.dirname, '../../bench/lib.sh');

// Runs a bash script that sources `lib`, with fake contestants: each call
// of contestant X prints "rate <next value of X's list>" (and "wall <2x>"),
// and appends "X<warmup flag>" to a log. Returns { status, out, err, log }.
function run(body, { lib = LIB, lists = {}, reps = 3 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-lib-'));
  try {
    const fakes = Object.entries(lists).map(([name, vals]) => `
${name}_vals=(${vals.join(' ')})
${name}() {
  local i; i=$(cat "$T/${name}.n" 2>/dev/null || echo 0)
  echo "${name}$BENCH_WARMUP" >>"$T/log"
  [ "$BENCH_WARMUP" = 1 ] && { echo "rate 999999"; return; }
  echo $((i + 1)) >"$T/${name}.n"
  [ -n "\${${name}_vals[i]:-}" ] || return 0
  echo "rate \${${name}_vals[i]}"; echo "wall $((2 * \${${name}_vals[i]}))"
}`).join('\n');
    const script = `set -euo pipefail\nT=${dir}\nBENCH_REPS=${reps}\n. ${lib}\nbench_reps quick\n${fakes}\n${body}\n`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    let log = '';
    try { log = readFileSync(join(dir, 'log'), 'utf8').trim().split('\n').join(' '); } catch {}
    return { status: r.status, out: r.stdout.trim(), err: r.stderr, log };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The checks, against a given copy of the helper; throws on the first wrong figure.
function checkLib(lib) {
  // warm-up of each first (flag 1, discarded), then A B A B A B (flag 0)
  let r = run('bench_interleave ours=a peer=b; bench_line x rate req/s fmt=%.0f', {
    lib, lists: { a: [5, 1, 100], b: [2, 4, 1] },
  });
  assert.equal(r.status, 0, r.err);
  assert.equal(r.log, 'a1 b1 a0 b0 a0 b0 a0 b0');
  // medians 5 and 2 (the means would be 35.33 and 2.33), per-round ratios 2.5 0.25 100
  assert.equal(r.out, 'bench x ours=5req/s peer=2req/s ratio=2.50 spread_ours=1..100 spread_peer=1..4 ' +
    'spread_ratio=0.25..100.00 n=3');

  // even count: the median is the mean of the middle two; lower is better: ratio peer/ours
  r = run('bench_interleave ours=a peer=b; bench_line y rate ms lower fmt=%.1f wall=wall', {
    lib, reps: 4, lists: { a: [1, 2, 3, 10], b: [8, 8, 9, 40] },
  });
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, 'bench y ours=2.5ms peer=8.5ms ratio=3.40 spread_ours=1.0..10.0 spread_peer=8.0..40.0 ' +
    'spread_ratio=3.00..8.00 n=4 wall_ours=5.0ms wall_peer=17.0ms wall_ratio=3.40');

  // three contestants, lines for two pairs, labels chosen per line
  r = run('bench_interleave o=a p=b q=c; bench_line z1 rate x fmt=%.0f ours=o peer=p; ' +
    'bench_line z2 rate x fmt=%.0f ours=o peer=q', {
    lib, reps: 1, lists: { a: [10], b: [5], c: [20] },
  });
  assert.equal(r.status, 0, r.err);
  assert.equal(r.log, 'a1 b1 c1 a0 b0 c0');
  assert.deepEqual(r.out.split('\n'), [
    'bench z1 ours=10x peer=5x ratio=2.00 spread_ours=10..10 spread_peer=5..5 spread_ratio=2.00..2.00 n=1',
    'bench z2 ours=10x peer=20x ratio=0.50 spread_ours=10..10 spread_peer=20..20 spread_ratio=0.50..0.50 n=1',
  ]);
}

test('bench/lib.sh: interleaving, medians, spreads and ratios', () => {
  checkLib(LIB);
});

test('the same checks reject a helper whose median is the mean', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-lib-broken-'));
  try {
    const src = readFileSync(LIB, 'utf8');
    const median = 'm = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2';
    assert.ok(src.includes(median), 'the median line moved: update this test');
    const broken = join(dir, 'lib.sh');
    writeFileSync(broken, src.replace(median, 'for (i = 1; i <= NR; i++) m += v[i] / NR'));
    assert.throws(() => checkLib(broken), assert.AssertionError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a contestant that prints no figure, or fails, fails the benchmark', () => {
  // b has one value for three rounds: rounds 2 and 3 print nothing
  let r = run('bench_interleave ours=a peer=b; echo unreachable', { lists: { a: [1, 2, 3], b: [1] } });
  assert.notEqual(r.status, 0);
  assert.match(r.err, /peer printed no figures \(round 2\)/);
  assert.doesNotMatch(r.out, /unreachable/);

  // fails in a measured round (not in its warm-up), before it prints a figure
  const bad = 'bad() { [ "$BENCH_WARMUP" = 1 ] && return; false; echo "rate 1"; }';
  r = run(`${bad}; bench_interleave ours=a peer=bad; echo unreachable`, { lists: { a: [1, 2, 3] } });
  assert.notEqual(r.status, 0, 'a failing command inside a contestant must stop the run');
  assert.doesNotMatch(r.out, /unreachable/);

  // a figure nobody printed
  r = run('bench_interleave ours=a peer=b; bench_line x nope req/s', { lists: { a: [1, 2, 3], b: [1, 2, 3] } });
  assert.notEqual(r.status, 0);
  assert.match(r.err, /no nope figure/);
});
