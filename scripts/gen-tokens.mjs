#!/usr/bin/env node
// Generates src/wa/tokens_gen.inc: the WhatsApp binary-node token tables for
// dictionary v2 (Baileys 6) and v3 (Baileys 7, whatsmeow), plus an
// open-addressing hash index (FNV-1a, linear probing) for string -> token.
//
// The tables are protocol facts read from the installed Baileys packages
// (node_modules/baileys6 and baileys7, lib/WABinary/constants.js). With
// --check-v2 FILE / --check-v3 FILE (whatsmeow binary/token/token.go at the
// matching version) the arrays are cross-checked and the script fails on any
// difference.
//
//   node scripts/gen-tokens.mjs [--check-v2 token.go] [--check-v3 token.go] > src/wa/tokens_gen.inc
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const v2 = require(join(root, 'node_modules/baileys6/lib/WABinary/constants.js'));
const v3 = await import(join(root, 'node_modules/baileys7/lib/WABinary/constants.js'));

const args = process.argv.slice(2);
const HASH_SIZE = 4096;

// Parses the two Go slices out of whatsmeow's token.go (string literals only).
function goTables(file) {
	const src = readFileSync(file, 'utf8');
	const lits = (s) => [...s.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`));
	const single = src.match(/SingleByteTokens = \[\.\.\.\]string\{([^}]*)\}/);
	const dbl = src.match(/DoubleByteTokens = \[\.\.\.\]\[\]string\{([\s\S]*?)\n\t\}/);
	if (!single || !dbl)
		throw new Error(`${file}: token arrays not found`);
	const groups = [...dbl[1].matchAll(/\{([^}]*)\}/g)].map((m) => lits(m[1]));
	return { single: lits(single[1]), double: groups };
}

function check(name, js, file) {
	const go = goTables(file);
	const a = JSON.stringify([js.SINGLE_BYTE_TOKENS, js.DOUBLE_BYTE_TOKENS]);
	const b = JSON.stringify([go.single, go.double]);
	if (a !== b)
		throw new Error(`${name}: Baileys tables differ from ${file}`);
	process.stderr.write(`${name}: identical to ${file}\n`);
}

for (let i = 0; i < args.length; i += 2) {
	if (args[i] === '--check-v2') check('v2', v2, args[i + 1]);
	else if (args[i] === '--check-v3') check('v3', v3, args[i + 1]);
	else throw new Error(`unknown argument ${args[i]}`);
}

function fnv1a(str) {
	let h = 0x811c9dc5;
	for (const b of Buffer.from(str, 'utf8')) {
		h ^= b;
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h;
}

const cstr = (s) => JSON.stringify(s); // tokens are printable ASCII: JSON escaping is valid C

function emit(name, t) {
	const single = t.SINGLE_BYTE_TOKENS, dbl = t.DOUBLE_BYTE_TOKENS;
	if (single.length !== 236 || dbl.length !== 4 || dbl.some((d) => d.length !== 256))
		throw new Error(`${name}: unexpected table shape`);
	for (const s of [...single, ...dbl.flat()])
		if (!/^[\x20-\x7e]*$/.test(s) || s.length > 255)
			throw new Error(`${name}: token ${cstr(s)} is not short printable ASCII`);
	// Same precedence as Baileys' TOKEN_MAP: later entries win, double after single.
	const map = new Map();
	single.forEach((s, i) => map.set(s, i));
	dbl.forEach((d, k) => d.forEach((s, i) => map.set(s, 256 + k * 256 + i)));
	map.delete(''); // the empty string is never looked up (see binary.c)
	const slots = new Uint16Array(HASH_SIZE);
	let maxProbe = 0;
	for (const [s, code] of map) {
		let h = fnv1a(s) & (HASH_SIZE - 1), probe = 1;
		while (slots[h]) { h = (h + 1) & (HASH_SIZE - 1); probe++; }
		slots[h] = code + 1;
		maxProbe = Math.max(maxProbe, probe);
	}
	let out = '';
	out += `static const char *const ${name}_single[236] = {\n`;
	for (let i = 0; i < 236; i += 8) out += '\t' + single.slice(i, i + 8).map(cstr).join(', ') + ',\n';
	out += '};\n\n';
	out += `static const char *const ${name}_double[4][256] = {\n`;
	for (const d of dbl) {
		out += '\t{\n';
		for (let i = 0; i < 256; i += 8) out += '\t\t' + d.slice(i, i + 8).map(cstr).join(', ') + ',\n';
		out += '\t},\n';
	}
	out += '};\n\n';
	const lens = (arr) => arr.map((s) => s.length);
	out += `static const uint8_t ${name}_single_len[236] = {\n`;
	for (let i = 0; i < 236; i += 24) out += '\t' + lens(single.slice(i, i + 24)).join(', ') + ',\n';
	out += '};\n\n';
	out += `static const uint8_t ${name}_double_len[4][256] = {\n`;
	for (const d of dbl) {
		out += '\t{\n';
		for (let i = 0; i < 256; i += 24) out += '\t\t' + lens(d.slice(i, i + 24)).join(', ') + ',\n';
		out += '\t},\n';
	}
	out += '};\n\n';
	out += `/* ${map.size} strings, longest probe ${maxProbe} */\n`;
	out += `static const uint16_t ${name}_hash[${HASH_SIZE}] = {\n`;
	for (let i = 0; i < HASH_SIZE; i += 16) out += '\t' + Array.from(slots.slice(i, i + 16)).join(', ') + ',\n';
	out += '};\n\n';
	const maxlen = Math.max(...[...map.keys()].map((s) => s.length));
	return { out, maxlen, maxProbe };
}

const e2 = emit('v2', v2), e3 = emit('v3', v3);
const bver = (p) => require(join(root, p, 'package.json')).version;
process.stdout.write(`/*
 * GENERATED by scripts/gen-tokens.mjs from node_modules/baileys6 (baileys@${bver('node_modules/baileys6')}, dictionary v2)
 * and node_modules/baileys7 (baileys@${bver('node_modules/baileys7')}, dictionary v3), lib/WABinary/constants.js.
 * Do not edit by hand: run \`node scripts/gen-tokens.mjs > src/wa/tokens_gen.inc\`.
 * Token tables are protocol facts; this file is included only by src/wa/tokens.c (hence .inc, not .c).
 */

#define WA_TOKENS_HASH_SIZE ${HASH_SIZE}
#define WA_TOKENS_V2_MAXLEN ${e2.maxlen}
#define WA_TOKENS_V3_MAXLEN ${e3.maxlen}

${e2.out}${e3.out}`);
