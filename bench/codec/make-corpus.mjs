// Writes the codec benchmark corpus: a seeded, realistic mix of stanzas
// (outgoing messages with enc bytes, incoming messages, receipts, acks, iqs,
// usync results, notifications), encoded by Baileys with the chosen
// dictionary. Format: for each node, a 4-byte big-endian length and the
// frame (flags byte 0x00 + node). Usage: node make-corpus.mjs <2|3> <count> <out>
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const [dict, count, out] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const require = createRequire(join(root, 'package.json'));
const B = dict === 2
	? require(join(root, 'node_modules/baileys6/lib/WABinary/index.js'))
	: await import(join(root, 'node_modules/baileys7/lib/WABinary/index.js'));

let seed = 12345;
const r = () => {
	seed = (seed + 0x6d2b79f5) | 0;
	let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
	t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n) => Math.floor(r() * n);
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(256)));
const phone = () => '1555' + String(1000000 + int(8999999));
const msgId = () => '3EB0' + Array.from({ length: 16 }, () => '0123456789ABCDEF'[int(16)]).join('');
const ts = () => String(1700000000 + int(10000000));

const make = {
	outMessage: () => ({ tag: 'message', attrs: { id: msgId(), to: phone() + '@s.whatsapp.net', type: 'text' }, content: [
		{ tag: 'participants', attrs: {}, content: Array.from({ length: 1 + int(4) }, (_, i) => ({
			tag: 'to', attrs: { jid: `${phone()}:${i}@s.whatsapp.net` },
			content: [{ tag: 'enc', attrs: { v: '2', type: r() < 0.3 ? 'pkmsg' : 'msg' }, content: bytes(150 + int(450)) }] })) },
		{ tag: 'device-identity', attrs: {}, content: bytes(150) }] }),
	inMessage: () => ({ tag: 'message', attrs: { from: phone() + '@s.whatsapp.net', id: msgId(), t: ts(), notify: 'Alice', type: 'text' },
		content: [{ tag: 'enc', attrs: { v: '2', type: 'msg' }, content: bytes(100 + int(200)) }] }),
	receipt: () => ({ tag: 'receipt', attrs: { id: msgId(), [r() < 0.5 ? 'to' : 'from']: `${phone()}:${int(5)}@s.whatsapp.net`, t: ts(), ...(r() < 0.5 ? { type: 'read' } : {}) } }),
	ack: () => ({ tag: 'ack', attrs: { class: 'receipt', id: msgId(), from: phone() + '@s.whatsapp.net', type: 'read' } }),
	ping: () => ({ tag: 'iq', attrs: { id: String(int(100000)), to: '@s.whatsapp.net', type: 'get', xmlns: 'w:p' }, content: [{ tag: 'ping', attrs: {} }] }),
	iqResult: () => ({ tag: 'iq', attrs: { from: '@s.whatsapp.net', id: String(int(100000)), type: 'result', t: ts() } }),
	usync: () => ({ tag: 'iq', attrs: { from: '@s.whatsapp.net', id: String(int(100000)), type: 'result' }, content: [
		{ tag: 'usync', attrs: { sid: msgId(), mode: 'query', last: 'true', index: '0', context: 'message' }, content: [
			{ tag: 'result', attrs: {}, content: [{ tag: 'devices', attrs: {} }] },
			{ tag: 'list', attrs: {}, content: Array.from({ length: 1 + int(10) }, () => ({
				tag: 'user', attrs: { jid: phone() + '@s.whatsapp.net' }, content: [
					{ tag: 'devices', attrs: {}, content: [
						{ tag: 'device-list', attrs: {}, content: Array.from({ length: 1 + int(4) }, (_, d) => ({ tag: 'device', attrs: d ? { id: String(d), 'key-index': String(d) } : { id: '0' } })) },
						{ tag: 'key-index-list', attrs: { ts: ts() }, content: bytes(60) }] },
					{ tag: 'lid', attrs: { val: String(100000000000000 + int(1e9)) + '@lid' } }] })) }] }] }),
	notification: () => ({ tag: 'notification', attrs: { from: phone() + '@s.whatsapp.net', type: 'devices', id: String(int(1e9)), t: ts() },
		content: [{ tag: 'add', attrs: { device_hash: '2:abcdEFGH' }, content: [{ tag: 'device', attrs: { jid: `${phone()}:${1 + int(9)}@s.whatsapp.net`, 'key-index': '3' } }] }] }),
};
const mix = [['outMessage', 20], ['inMessage', 20], ['receipt', 15], ['ack', 10], ['ping', 5], ['iqResult', 10], ['usync', 10], ['notification', 10]];
const total = mix.reduce((a, [, w]) => a + w, 0);
const parts = [];
for (let i = 0; i < count; i++) {
	let x = int(total), kind;
	for (const [k, w] of mix) { if (x < w) { kind = k; break; } x -= w; }
	const frame = B.encodeBinaryNode(make[kind]());
	const len = Buffer.alloc(4);
	len.writeUInt32BE(frame.length);
	parts.push(len, frame);
}
writeFileSync(out, Buffer.concat(parts));
