// Peer figure for bench socket-idle-memory: idle websocket client connections
// made the way Baileys makes them (npm `ws`, Origin https://web.whatsapp.com),
// measured like socket_bench: RSS growth per connection after a warm-up
// connection, clients connected in batches of 100, each sending one frame and
// waiting for its echo. The peer is `socket_bench --serve` (our listener).
// Usage: node --expose-gc bench/socket/node_idle.mjs BENCH_BIN N [TLS_DIR]
// TLS_DIR (as socket_bench --tls): wss:// to a TLS listener, trusting TLS_DIR/ca.pem.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const [bin, nArg, tlsDir] = process.argv.slice(2);
const n = Number(nArg || 1000);
const BATCH = 100;

const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const settle = async (ms) => {
	await new Promise((r) => setTimeout(r, ms));
	if (global.gc) global.gc();
	await new Promise((r) => setTimeout(r, 50));
};

const server = spawn(bin, [...(tlsDir ? ['--tls', tlsDir] : []), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
	server.stdout.once('data', (d) => {
		const m = /port (\d+)/.exec(String(d));
		m ? resolve(Number(m[1])) : reject(new Error(`bad server output: ${d}`));
	});
	server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
});
const url = `${tlsDir ? 'wss' : 'ws'}://127.0.0.1:${port}/ws/chat`;
const ca = tlsDir ? readFileSync(`${tlsDir}/ca.pem`) : undefined;
// intro header + one 4-byte frame
const hello = Buffer.from([0x57, 0x41, 0x06, 0x02, 0, 0, 4, 0x70, 0x69, 0x6e, 0x67]);

function open() {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { origin: 'https://web.whatsapp.com', handshakeTimeout: 20000, ca });
		ws.on('open', () => ws.send(hello));
		ws.once('message', () => resolve(ws));
		ws.on('error', reject);
	});
}

const all = [await open()];
await settle(200);
const before = rssKiB();
for (let i = 0; i < n; i += BATCH) {
	const k = Math.min(BATCH, n - i);
	all.push(...(await Promise.all(Array.from({ length: k }, open))));
}
await settle(400);
const after = rssKiB();
console.log(`bench socket-idle-memory${tlsDir ? '-tls' : ''}-peer node-ws=${((after - before) / n).toFixed(2)}KiB/conn n=${n} ` +
	`rss=${before}KiB->${after}KiB ws=${JSON.parse(readFileSync('node_modules/ws/package.json')).version}`);
for (const ws of all) ws.terminate();
server.stdin.end();
await new Promise((r) => server.once('exit', r));
