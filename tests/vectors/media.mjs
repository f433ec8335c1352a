// Generates tests/vectors/media.txt: WhatsApp media crypto (protocol-map.md
// §9.1-§9.2) from fixed inputs, the keys expanded by Baileys 7's own
// getMediaKeys and the encryption done with node:crypto the way Baileys'
// encryptedStream does it (no line of our C code involved).
// tests/unit/test_media.c replays it against src/wa/media.c;
// tests/http/media-crypto.test.mjs checks the committed file is what this
// script computes, and compares our C with Baileys' encryptedStream itself.
//
//   node tests/vectors/media.mjs          print the vector
//   node tests/vectors/media.mjs --write  rewrite tests/vectors/media.txt
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getMediaKeys } from 'baileys7/lib/Utils/messages-media.js';

export const vectorPath = fileURLToPath(new URL('./media.txt', import.meta.url));

const fixed = (name, n) => {
	const out = [];
	for (let i = 0; out.length * 32 < n; i++)
		out.push(crypto.createHash('sha256').update(`yesapp media vector: ${name} ${i}`).digest());
	return Buffer.concat(out).subarray(0, n);
};

// plaintext lengths: empty, under a block, one block exactly, odd sizes
const CASES = [
	['image', 0],
	['video', 15],
	['audio', 16],
	['document', 1000],
	['sticker', 33],
	['ptt', 257]
];

export async function compute() {
	const lines = ['# WhatsApp media crypto vector (protocol-map.md §9), made by tests/vectors/media.mjs'];
	for (const [type, len] of CASES) {
		const key = fixed(`key ${type}`, 32);
		const plain = fixed(`plain ${type}`, len);
		const keys = await getMediaKeys(key, type);
		const [iv, cipherKey, macKey] = [keys.iv, keys.cipherKey, keys.macKey].map(b => Buffer.from(b));
		const aes = crypto.createCipheriv('aes-256-cbc', cipherKey, iv);
		const enc = Buffer.concat([aes.update(plain), aes.final()]);
		const mac = crypto.createHmac('sha256', macKey).update(iv).update(enc).digest().subarray(0, 10);
		const upload = Buffer.concat([enc, mac]);
		const t = type;
		lines.push(`${t}_key ${key.toString('hex')}`);
		lines.push(`${t}_iv ${iv.toString('hex')}`);
		lines.push(`${t}_cipherkey ${cipherKey.toString('hex')}`);
		lines.push(`${t}_mackey ${macKey.toString('hex')}`);
		lines.push(`${t}_plain ${plain.toString('hex')}`);
		lines.push(`${t}_upload ${upload.toString('hex')}`);
		lines.push(`${t}_sha256 ${crypto.createHash('sha256').update(plain).digest('hex')}`);
		lines.push(`${t}_encsha256 ${crypto.createHash('sha256').update(upload).digest('hex')}`);
	}
	return lines.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const text = await compute();
	if (process.argv.includes('--write')) fs.writeFileSync(vectorPath, text);
	else process.stdout.write(text);
}
