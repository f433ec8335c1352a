// Media benchmark, the peer's side: Baileys 7's own media functions on the
// same file and URL as bench_media (bench/media/run.sh).
//   node bench/media/peer.mjs encrypt FILE
//       encryptedStream (Baileys writes the upload to a temp file)
//   node bench/media/peer.mjs upload FILE HOST AUTH CAFILE
//       encryptedStream, then Baileys' own getWAUploadToServer posting the
//       encrypted file to https://HOST (a media_conn of that one host, the CA
//       trusted through its fetchAgent): the same work as bench_media upload
//   node bench/media/peer.mjs download URL KEYHEX LEN OUT
//       downloadContentFromMessage piped into OUT (Baileys checks neither
//       the mac nor the hashes: protocol-map.md §9.2)
// Prints "<figure> <MB/s>" and "rss_kib <peak RSS>".
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import https from 'node:https';
import { encryptedStream, downloadContentFromMessage, getWAUploadToServer } from 'baileys7/lib/Utils/messages-media.js';

const [mode, ...a] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
const secs = () => Number(process.hrtime.bigint() - t0) / 1e9;
if (mode === 'encrypt') {
	const r = await encryptedStream({ url: a[0] }, 'document');
	console.log(`encrypt ${(r.fileLength / 1e6 / secs()).toFixed(2)}`);
	fs.rmSync(r.encFilePath, { force: true });
} else if (mode === 'upload') {
	const [file, hostname, auth, caFile] = a;
	const fetchAgent = new https.Agent({ ca: fs.readFileSync(caFile) });
	const quiet = { debug() {}, info() {}, warn(...w) { console.error(...w); }, error(...e) { console.error(...e); } };
	const up = getWAUploadToServer({ customUploadHosts: [], fetchAgent, logger: quiet, options: {} },
		async () => ({ auth, ttl: 300, hosts: [{ hostname, maxContentLengthBytes: 2 ** 31 }] }));
	const t1 = process.hrtime.bigint();
	const r = await encryptedStream({ url: file }, 'document');
	const got = await up(r.encFilePath, { mediaType: 'document', fileEncSha256B64: r.fileEncSha256.toString('base64') });
	const s = Number(process.hrtime.bigint() - t1) / 1e9;
	fs.rmSync(r.encFilePath, { force: true });
	if (!got?.directPath?.startsWith('/')) throw new Error(`peer upload: ${JSON.stringify(got)}`);
	console.log(`upload ${(r.fileLength / 1e6 / s).toFixed(2)}`);
} else if (mode === 'download') {
	const stream = await downloadContentFromMessage({ mediaKey: Buffer.from(a[1], 'hex'), url: a[0] }, 'document');
	await pipeline(stream, fs.createWriteStream(a[3]));
	const got = fs.statSync(a[3]).size;
	if (got !== Number(a[2])) throw new Error(`peer download: ${got} bytes, expected ${a[2]}`);
	console.log(`download ${(got / 1e6 / secs()).toFixed(2)}`);
} else {
	console.error('usage: peer.mjs encrypt FILE | upload FILE HOST AUTH CAFILE | download URL KEYHEX LEN OUT');
	process.exit(2);
}
console.log(`rss_kib ${process.resourceUsage().maxRSS}`);
