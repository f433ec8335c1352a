// Peer figures for bench sessions-*: Baileys 6 sockets in this one Node
// process, over wss:// to the same `yesapp sim --tls` as ours.
//   node --expose-gc bench/sessions/peer.mjs link SIM_BASE N1 N2 CREDS_FILE
//     links N2 sockets by QR (/sim/scan), N1 first; prints
//     "link <seconds to link N2>", "rss1 <KiB at N1>", "rss2 <KiB at N2>",
//     "rss <(rss2 - rss1) / (N2 - N1) KiB>", and writes every socket's creds
//     (Baileys' BufferJSON) to CREDS_FILE
//   node --expose-gc bench/sessions/peer.mjs restore SIM_BASE CREDS_FILE
//     a fresh process: from process start until every socket of CREDS_FILE
//     is open again ("restore <seconds>")
// RSS is read after a garbage collection and a settle, as ours is.
//
// Baileys 6 races its own handshake: after sending ClientFinish it derives
// the transport keys with WebCrypto's asynchronous HKDF and does not wait
// for it (socket.js validateConnection: noise.finishInit() unawaited), so a
// server frame that arrives before the keys are ready is taken for a raw
// handshake frame and dropped, and the next one fails AES-GCM (an unhandled
// rejection that ends the process). The simulator answers 100 ms after
// ClientFinish, which hides it until the Node process is busy with hundreds
// of sockets. Here a dropped frame is detected (a second raw frame on one
// socket), that socket is ended and connected again, the rejection it causes
// is ignored, and the count is printed ("races <n>").
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import { client, loadBaileys, sleep } from '../../tests/interop/sim-lib.mjs';
import { linkAll, rssKiB, settle, simApi, watchRaces } from './lib.mjs';

const require = createRequire(import.meta.url);
const { BufferJSON } = require('baileys6');
const [mode, base, ...rest] = process.argv.slice(2);
const api = simApi(base);
const info = (await api('GET', '/sim/info')).json;
const sim = { wsUrl: info.wssUrl, api };
const agent = new https.Agent({ ca: info.caCert });
const lib = await loadBaileys(6);
const opts = { wsUrl: info.wssUrl, agent };

const counts = { races: 0, pending: 0 };
// Baileys also leaves other promises unhandled under load (e.g. a query
// "Timed Out" after 8 s); an application keeps running past them, and so
// does this one: they are counted ("rejections <n>", the first few on
// stderr). A socket they break never opens, and its link or restore fails.
let rejections = 0;
process.on('unhandledRejection', (e) => {
	if (counts.pending > 0 && /unable to authenticate data/.test(String(e?.message))) {
		counts.pending--;
		return;
	}
	if (++rejections <= 3) console.error('peer: unhandled rejection:', e?.message || e);
});

function openOne(c, what, ms) {
	watchRaces(c, counts);
	c.connect();
	return c.until(() => c.opens > 0, what, ms);
}

if (mode === 'link') {
	const [n1, n2] = rest.slice(0, 2).map(Number);
	const file = rest[2];
	const all = [];
	const phone = (i) => `1777${String(process.pid % 1000).padStart(3, '0')}${String(i).padStart(5, '0')}`;
	const linkOne = async (i) => {
		await api('POST', '/sim/accounts', { phone: phone(i) });
		const c = client(lib, sim, phone(i), `b${i}`, opts);
		all.push(c);
		await openOne(c, 'linked and open', 120000);
	};
	const tl = performance.now();
	await linkAll(0, n1, linkOne);
	await settle();
	const rss1 = rssKiB();
	await linkAll(n1, n2, linkOne);
	const link = (performance.now() - tl) / 1000;
	await settle();
	const rss2 = rssKiB();
	console.log(`link ${link.toFixed(2)}`);
	console.log(`rss1 ${rss1}`);
	console.log(`rss2 ${rss2}`);
	console.log(`rss ${((rss2 - rss1) / (n2 - n1)).toFixed(2)}`);
	console.log(`races ${counts.races}`);
	console.log(`rejections ${rejections}`);
	writeFileSync(file, JSON.stringify(all.map((c) => ({ phone: c.phone, creds: c.state.creds })), BufferJSON.replacer));
	for (const c of all) c.end();
	await sleep(200);
	process.exit(0);
} else if (mode === 'restore') {
	const saved = JSON.parse(readFileSync(rest[0], 'utf8'), BufferJSON.reviver);
	const all = saved.map((s, i) => {
		const c = client(lib, sim, s.phone, `r${i}`, opts);
		Object.assign(c.state.creds, s.creds);
		return c;
	});
	// every socket at once, as a restarted process does
	await Promise.all(all.map((c) => openOne(c, 'open again', 300000)));
	// performance.now() counts from the process' start
	console.log(`restore ${(performance.now() / 1000).toFixed(2)}`);
	console.log(`races ${counts.races}`);
	console.log(`rejections ${rejections}`);
	for (const c of all) c.end();
	await sleep(200);
	process.exit(0);
} else {
	console.error('usage: peer.mjs link SIM_BASE N1 N2 CREDS_FILE | restore SIM_BASE CREDS_FILE');
	process.exit(2);
}
