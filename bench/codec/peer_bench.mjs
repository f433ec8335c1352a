// Baileys' side of the codec benchmark: decodes every frame of the corpus
// (decodeDecompressedBinaryNode, after the flags byte) and re-encodes the
// decoded nodes (encodeBinaryNode), each for about SECONDS seconds of CPU time.
// Usage: node peer_bench.mjs <2|3> <corpus> <seconds>
// Prints: decode_nodes_per_s=.. decode_mb_per_s=.. encode_nodes_per_s=.. encode_mb_per_s=..
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

function run(fn) {
	let rounds = 0;
	// CPU time of this process (user + system), as codec_bench measures:
	// the machine is shared, wall time would measure the neighbours.
	const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
	const t0 = cpu();
	let dt = 0;
	do {
		fn();
		rounds++;
		dt = cpu() - t0;
	} while (dt < seconds);
	return { nps: (rounds * frames.length) / dt, mbps: (rounds * bytes) / dt / 1e6 };
}
run(() => { for (const f of frames) decode(f); }); // warm-up is cheap to skip, but keep JIT fair
const d = run(() => { for (const f of frames) decode(f); });
const e = run(() => { for (const n of nodes) B.encodeBinaryNode(n); });
console.log(`decode_nodes_per_s=${d.nps.toFixed(0)} decode_mb_per_s=${d.mbps.toFixed(2)} encode_nodes_per_s=${e.nps.toFixed(0)} encode_mb_per_s=${e.mbps.toFixed(2)}`);
