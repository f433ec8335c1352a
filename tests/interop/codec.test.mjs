// Interop of the C binary node codec (src/wa/binary.c) with Baileys' WABinary:
// dictionary v2 against baileys6 (Baileys 6.17.16) and v3 against baileys7
// (Baileys 7.0.0-rc14). Talks to build/<flavour>/tools/wa-codec over
// stdin/stdout (one process per dictionary). Seeded, deterministic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.YESAPP_BUILD || join(root, 'build/asan');
const require = createRequire(join(root, 'package.json'));
const NODES = Number(process.env.CODEC_NODES || 1500);

const peers = {
	2: {
		codec: require(join(root, 'node_modules/baileys6/lib/WABinary/index.js')),
		constants: require(join(root, 'node_modules/baileys6/lib/WABinary/constants.js')),
	},
	3: {
		codec: await import(join(root, 'node_modules/baileys7/lib/WABinary/index.js')),
		constants: await import(join(root, 'node_modules/baileys7/lib/WABinary/constants.js')),
	},
};

// ---- the C side ----
class Codec {
	constructor() {
		this.proc = spawn(join(build, 'tools/wa-codec'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
		this.proc.stdin.on('error', () => {}); // a dead helper: seen through `exit`
		this.waiting = [];
		this.exited = null;
		// { code, signal } once it exits; a request still waiting then fails
		this.exit = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
			this.exited = { code, signal };
			for (const w of this.waiting.splice(0)) w.reject(new Error(`wa-codec exited (${code ?? signal}) with a request pending`));
			resolve(this.exited);
		}));
		this.rl = createInterface({ input: this.proc.stdout, crlfDelay: Infinity });
		this.rl.on('line', (l) => {
			const w = this.waiting[0];
			if (!w) return; // after the helper died
			w.lines.push(l);
			if (w.until(l)) {
				this.waiting.shift();
				w.resolve(w.lines);
			}
		});
	}
	request(line, until = () => true) {
		return new Promise((resolve, reject) => {
			if (this.exited) return reject(new Error(`wa-codec exited (${this.exited.code ?? this.exited.signal})`));
			this.waiting.push({ lines: [], until, resolve, reject });
			this.proc.stdin.write(line + '\n');
		});
	}
	async decode(dict, buf) {
		const [l] = await this.request(`D ${dict} ${buf.toString('hex')}`);
		if (l.startsWith('ERR ')) return { err: Number(l.slice(4)) };
		const sp = l.indexOf(' ', 3);
		return { hex: l.slice(3, sp), tree: JSON.parse(l.slice(sp + 1)) };
	}
	async encode(dict, tree) {
		const [l] = await this.request(`E ${dict} ${JSON.stringify(tree)}`);
		return l.startsWith('OK ') ? l.slice(3) : l;
	}
	async generate(dict, seed, n) {
		const lines = await this.request(`G ${dict} ${seed} ${n}`, (l) => l === 'END');
		return lines.slice(0, -1).map((l) => {
			assert.ok(l.startsWith('N '), l);
			const [, exact, hex] = l.split(' ', 3);
			return { exact: exact === '1', hex, tree: JSON.parse(l.slice(4 + hex.length + 1)) };
		});
	}
	// Ends its input; resolves its { code, signal } (a leak report or a
	// crash at exit shows here).
	close() {
		this.proc.stdin.end();
		return this.exit;
	}
}

// ---- canonical tree of a Baileys node ----
function canon(n) {
	let content = null;
	if (Array.isArray(n.content)) content = { list: n.content.map(canon) };
	else if (n.content instanceof Uint8Array) content = { bytes: Buffer.from(n.content).toString('hex') };
	else if (typeof n.content === 'string') content = { str: n.content };
	return { tag: n.tag, attrs: Object.entries(n.attrs || {}), content };
}

// ---- seeded random nodes in Baileys' model ----
function mulberry32(seed) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

// Keys a JS object keeps in insertion order and that are no Object.prototype
// member (Baileys' TOKEN_MAP would map those to garbage).
const usableKey = (k) => !/^(0|[1-9]\d*)$/.test(k) && !(k in {});

function generator(dict, seed) {
	const r = mulberry32(seed);
	const int = (n) => Math.floor(r() * n);
	const pick = (a) => a[int(a.length)];
	const { SINGLE_BYTE_TOKENS: S, DOUBLE_BYTE_TOKENS: D } = peers[dict].constants;
	const tokens = [...S.slice(1), ...D.flat()].filter((t) => !t.includes('@') && usableKey(t));
	const chars = (alphabet, n) => {
		const cps = Array.from(alphabet); // code points, not UTF-16 halves
		return Array.from({ length: n }, () => cps[int(cps.length)]).join('');
	};
	const users = () => pick(['15550001111', '123456789012345', '1234567890-1600000000', '', 'abc', '0', '12']);
	const jid = () => {
		const u = users();
		switch (int(12)) {
		case 0: return `${u}@s.whatsapp.net`;
		case 1: return `${u}:${int(256)}@s.whatsapp.net`;
		case 2: return `${u}:${int(256)}@lid`;
		case 3: return `${u}@lid`;
		case 4: return `${u}@g.us`;
		case 5: return '@s.whatsapp.net';
		case 6: return `${u}_${int(300)}:${1 + int(255)}@s.whatsapp.net`;
		case 7: return `${u}:${1 + int(255)}@hosted`;
		case 8: return `${u}:${int(256)}@hosted.lid`;
		case 9: return `${u}@${pick(['broadcast', 'newsletter', 'c.us', 'hosted', 'msgr', 'interop'])}`;
		case 10: return `${u}:${300 + int(1000)}@s.whatsapp.net`; // masked to a byte
		default: return `${u}@${chars('abc', 1 + int(3))}@${pick(['g.us', 'x'])}`; // nested
		}
	};
	const string = () => {
		switch (int(9)) {
		case 0: case 1: return pick(tokens);
		case 2: return chars('0123456789-.', 1 + int(r() < 0.1 ? 200 : 127));
		case 3: return chars('0123456789ABCDEF', 1 + int(r() < 0.1 ? 200 : 127));
		case 4: return chars('abcdef0123456789', 1 + int(40));
		case 5: return jid();
		case 6: return '';
		case 7: return chars('abcdefghijklmnopqrstuvwxyz _-:.ÄéЖ中✓😀', 1 + int(r() < 0.05 ? 2000 : 60));
		default: return chars('abcdefghijklmnopqrstuvwxyz', 1 + int(12));
		}
	};
	const bytes = () => {
		let n = pick([0, 1, 17, 255, 256, 300, 5000, 70000]);
		if (n === 70000 && r() < 0.7) n = 40;
		if (r() < 0.002) n = (1 << 20) + int(100);
		const b = Buffer.alloc(n);
		for (let i = 0; i < n; i++) b[i] = int(256);
		return b;
	};
	const name = () => (r() < 0.6 ? pick(tokens) : chars('abcdefghijklmnopqrstuvwxyz-_.:', 1 + int(12)));
	const node = (depth = 0) => {
		const attrs = {};
		const na = int(6);
		for (let i = 0; i < na; i++) {
			const k = name();
			if (usableKey(k)) attrs[k] = string();
		}
		let content;
		switch (int(depth >= 4 ? 4 : 5)) {
		case 0: break;
		case 1: content = bytes(); break;
		case 2: content = string(); break;
		case 3: content = []; break;
		default: content = Array.from({ length: 1 + int(5) }, () => node(depth + 1));
		}
		let tag = name();
		if (!usableKey(tag)) tag = 'x' + tag;
		return { tag, attrs, content };
	};
	return node;
}

const codecs = {};
before(() => {
	codecs[2] = new Codec();
	codecs[3] = new Codec();
});
after(async () => {
	await codecs[2].close();
	await codecs[3].close();
});

for (const dict of [2, 3]) {
	const { codec: B } = peers[dict];
	const bdecode = (buf) => B.decodeDecompressedBinaryNode(buf.subarray(1), peers[dict].constants, { index: 0 });
	const label = dict === 2 ? 'v2 / baileys6' : 'v3 / baileys7';

	test(`${label}: protocol-map ping iq`, async () => {
		const iq = { tag: 'iq', attrs: { id: '1', to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] };
		const want = dict === 2 ? '00f80a1e08350efa00030431195ff801f80150' : '00f80a19085511fa000304291657f801f80156';
		assert.equal(B.encodeBinaryNode(iq).toString('hex'), want);
		assert.equal(await codecs[dict].encode(dict, canon(iq)), want);
	});

	test(`${label}: ${NODES} Baileys-encoded nodes decode to the same tree and re-encode to the same bytes`, async () => {
		const gen = generator(dict, 1000 + dict);
		const C = codecs[dict];
		let big = 0, n = 0;
		const jobs = [];
		for (let i = 0; i < NODES; i++) {
			const node = gen();
			if (i === 7) node.content = Buffer.alloc((1 << 20) + 3, 7); // always one BINARY_32
			const buf = B.encodeBinaryNode(node);
			if (buf.length > 1 << 20) big++;
			const want = canon(bdecode(buf));
			jobs.push(C.decode(dict, buf).then((got) => {
				assert.equal(got.err, undefined, `decode failed (${got.err}) for ${buf.toString('hex').slice(0, 200)}`);
				assert.deepEqual(got.tree, want);
				assert.equal(got.hex, buf.toString('hex'));
				n++;
			}));
		}
		await Promise.all(jobs);
		assert.equal(n, NODES);
		assert.ok(big >= 1);
	});

	test(`${label}: ${NODES} nodes given as strings encode exactly as Baileys encodes them`, async () => {
		const gen = generator(dict, 2000 + dict);
		const C = codecs[dict];
		const jobs = [];
		for (let i = 0; i < NODES; i++) {
			const node = gen();
			const want = B.encodeBinaryNode(node).toString('hex');
			jobs.push(C.encode(dict, canon(node)).then((got) => assert.equal(got, want, JSON.stringify(canon(node)).slice(0, 300))));
		}
		await Promise.all(jobs);
	});

	test(`${label}: nodes with typed JIDs encoded in C decode in Baileys to the same tree and re-encode to the same bytes`, async () => {
		const made = await codecs[dict].generate(dict, 77 + dict, NODES);
		assert.equal(made.length, NODES);
		let exact = 0;
		for (const m of made) {
			const buf = Buffer.from(m.hex, 'hex');
			const dec = bdecode(buf);
			assert.deepEqual(canon(dec), m.tree);
			if (m.exact) {
				assert.equal(B.encodeBinaryNode(dec).toString('hex'), m.hex);
				exact++;
			}
		}
		assert.ok(exact > NODES / 3, `only ${exact} exact`);
	});

	test(`${label}: zlib frames (flag 0x02) decode like Baileys' decodeBinaryNode`, async () => {
		const gen = generator(dict, 3000 + dict);
		for (let i = 0; i < 50; i++) {
			const plain = B.encodeBinaryNode(gen());
			const frame = Buffer.concat([Buffer.from([2]), deflateSync(plain.subarray(1))]);
			const want = canon(await B.decodeBinaryNode(frame));
			const got = await codecs[dict].decode(dict, frame);
			assert.deepEqual(got.tree, want);
			assert.equal(got.hex, plain.toString('hex'));
		}
	});

	test(`${label}: every strict prefix of a valid frame is refused`, async () => {
		const gen = generator(dict, 4000 + dict);
		let checked = 0;
		for (let i = 0; i < 40; i++) {
			const buf = B.encodeBinaryNode(gen());
			if (buf.length > 3000) continue;
			for (let cut = 0; cut < buf.length; cut++) {
				const got = await codecs[dict].decode(dict, buf.subarray(0, cut));
				assert.ok(got.err < 0, `prefix ${cut}/${buf.length} accepted`);
				assert.throws(() => bdecode(buf.subarray(0, Math.max(cut, 1))));
				checked++;
			}
		}
		assert.ok(checked > 100);
	});
}

// Last: the helpers must exit cleanly (status 0: no crash, no sanitizer or
// leak report at exit), which a test that only reads their answers misses.
test('wa-codec helpers exit with status 0', async () => {
	for (const dict of [2, 3]) assert.deepEqual(await codecs[dict].close(), { code: 0, signal: null });
});

test('the exit check catches a helper that dies, and its pending request fails', async () => {
	const c = new Codec();
	const pending = c.request('G 2 1 100000000', (l) => l === 'END');
	c.proc.kill('SIGKILL');
	await assert.rejects(pending, /wa-codec exited/);
	assert.notDeepEqual(await c.close(), { code: 0, signal: null });
	await assert.rejects(c.request('D 2 00'), /wa-codec exited/);
});
