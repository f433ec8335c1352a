// Baileys' side of the codec benchmark: decodes every frame of the corpus
// (decodeDecompressedBinaryNode, after the flags byte) and re-encodes the
// decoded nodes (encodeBinaryNode), each for about SECONDS seconds of CPU time
// after an untimed warm-up of SECONDS / 2 (the JIT's), as codec_bench does.
// Usage: node peer_bench.mjs <2|3> <corpus> <seconds>
// Prints on one line: decode_nodes_per_s=.. decode_mb_per_s=..
// encode_nodes_per_s=.. encode_mb_per_s=.. (per CPU second) and the same per
// wall-clock second as decode_wall_nodes_per_s=.. and so on.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const [dict, file, seconds] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const require = createRequire(join(root, 'package.json'));
const dir = join(root, 'node_modules', dict === 2 ? 'baileys6' : 'baileys7', 'lib/WABinary');
const B = dict === 2 ? require(join(dir, 'index.js')) : await import(join(dir, 'index.js'));
const C = dict === 2 ? require(join(dir, 'constants.js')) : await import(join(dir, 'constants.js'));

const data = readFileSync(file);
const frames = [];
for (let off = 0; off < data.length;) {
	const n = data.readUInt32BE(off);
	frames.push(data.subarray(off + 4, off + 4 + n));
	off += 4 + n;
}
const bytes = frames.reduce((a, f) => a + f.length, 0);
const decode = (f) => B.decodeDecompressedBinaryNode(f.subarray(1), C, { index: 0 });
const nodes = frames.map(decode);

function run(fn, secs) {
	let rounds = 0;
	// CPU time of this process (user + system), as codec_bench measures:
	// the machine is shared, wall time would measure the neighbours.
	const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
	const wall = () => performance.now() / 1e3;
	const t0 = cpu(), w0 = wall();
	let dt = 0;
	do {
		fn();
		rounds++;
		dt = cpu() - t0;
	} while (dt < secs);
	const dw = wall() - w0;
	return { nps: (rounds * frames.length) / dt, mbps: (rounds * bytes) / dt / 1e6,
		wnps: (rounds * frames.length) / dw, wmbps: (rounds * bytes) / dw / 1e6 };
}
const ops = {
	decode: () => { for (const f of frames) decode(f); },
	encode: () => { for (const n of nodes) B.encodeBinaryNode(n); },
};
const out = [];
for (const [op, fn] of Object.entries(ops)) {
	run(fn, seconds / 2);
	const r = run(fn, seconds);
	out.push(`${op}_nodes_per_s=${r.nps.toFixed(0)} ${op}_mb_per_s=${r.mbps.toFixed(2)}`,
		`${op}_wall_nodes_per_s=${r.wnps.toFixed(0)} ${op}_wall_mb_per_s=${r.wmbps.toFixed(2)}`);
}
console.log(out.join(' '));
