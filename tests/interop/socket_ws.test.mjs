// Interop of the frame socket (src/wa/socket.c) with Node's `ws`, the
// websocket package Baileys uses: our client against a ws server, and a
// Baileys-style ws client (intro header, ED prefix, frames split and
// coalesced across messages) against our listener. Uses the helper binary
// $YESAPP_BUILD/tools/wa_socket_peer; everything on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import WebSocket, { WebSocketServer } from 'ws';

const build = process.env.YESAPP_BUILD || 'build/asan';
const tool = `${build}/tools/wa_socket_peer`;

// Runs the tool; returns {proc, lines: async iterator of stdout lines, all: [] }.
function run(args) {
	const proc = spawn(tool, args, { stdio: ['pipe', 'pipe', 'inherit'] });
	const all = [];
	const rl = createInterface({ input: proc.stdout });
	const waiters = [];
	rl.on('line', (l) => {
		all.push(l);
		for (const w of waiters.splice(0)) w();
	});
	// Resolves with the first line (from the start) matching re; fails after 10 s.
	const waitFor = (re) => new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re}; got ${JSON.stringify(all)}`)), 10000);
		const check = () => {
			const l = all.find((x) => re.test(x));
			if (l !== undefined) { clearTimeout(timer); resolve(l); } else waiters.push(check);
		};
		check();
	});
	return { proc, all, waitFor };
}

const frame = (payload) => {
	const b = Buffer.alloc(3 + payload.length);
	b.writeUIntBE(payload.length, 0, 3);
	payload.copy(b, 3);
	return b;
};

test('our client against a ws server: headers, intro, frames both ways, close', async () => {
	const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
	await once(wss, 'listening');
	const port = wss.address().port;
	let headers, url, replied = false;
	const got = [];
	wss.on('connection', (ws, req) => {
		headers = req.headers;
		url = req.url;
		ws.on('message', (data, isBinary) => {
			assert.equal(isBinary, true);
			got.push(Buffer.from(data));
			const stream = Buffer.concat(got);
			// intro (4) + frame aa (4) + frame bbbb (5)
			if (stream.length >= 13 && !replied) {
				replied = true;
				assert.equal(stream.toString('hex'), '57410602' + '000001aa' + '000002bbbb');
				// two frames coalesced in one message, then one split over two
				ws.send(Buffer.concat([frame(Buffer.from('x')), frame(Buffer.from('yy'))]));
				const big = frame(Buffer.alloc(70000, 0x42));
				ws.send(big.subarray(0, 2));
				ws.send(big.subarray(2));
			}
		});
	});
	const c = run(['client', `ws://127.0.0.1:${port}/ws/chat`, '2', '3', 'aa', 'bbbb']);
	const timer = setTimeout(() => c.proc.kill(), 10000);
	const [code] = await once(c.proc, 'exit');
	clearTimeout(timer);
	wss.close();
	assert.equal(code, 0, `client output: ${c.all.map((l) => l.slice(0, 80)).join(' | ')}`);
	assert.equal(url, '/ws/chat');
	assert.equal(headers.origin, 'https://web.whatsapp.com');
	assert.equal(headers['cache-control'], 'no-cache');
	assert.equal(headers.pragma, 'no-cache');
	assert.equal(headers['sec-websocket-protocol'], undefined);
	const frames = c.all.filter((l) => l.startsWith('frame '));
	assert.deepEqual(frames.slice(0, 2), ['frame hex=78', 'frame hex=7979']);
	assert.equal(frames[2], 'frame hex=' + '42'.repeat(70000));
	assert.equal(c.all[0], 'open');
	// we closed gracefully: the close callback reports 0
	assert.match(c.all.at(-1), /^close err=0 /);
});

test('a Baileys-style ws client against our listener: ED prefix, intro, split and coalesced frames', async () => {
	const s = run(['server']);
	const port = Number((await s.waitFor(/^port /)).split(' ')[1]);
	const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/chat`, { origin: 'https://web.whatsapp.com' });
	await once(ws, 'open');
	const routing = Buffer.from([0x08, 0x08, 0x08, 0x02]);
	const ed = Buffer.concat([Buffer.from([0x45, 0x44, 0, 1, 0, 0, routing.length]), routing]);
	const intro = Buffer.from([0x57, 0x41, 0x06, 0x02]);
	const stream = Buffer.concat([ed, intro, frame(Buffer.from('hello')), frame(Buffer.from('world')),
		frame(Buffer.alloc(20000, 7))]);
	// cut inside the ED prefix, inside the intro, and inside a length
	const cuts = [3, 13, 16, stream.length];
	let from = 0;
	for (const to of cuts) { ws.send(stream.subarray(from, to)); from = to; }
	const echoed = [];
	ws.on('message', (d) => echoed.push(Buffer.from(d)));
	await s.waitFor(/^frame .* hex=(07){20000}$/);
	const want = Buffer.concat([frame(Buffer.from('hello')), frame(Buffer.from('world')), frame(Buffer.alloc(20000, 7))]);
	for (let i = 0; i < 100 && Buffer.concat(echoed).length < want.length; i++) await new Promise((r) => setTimeout(r, 20));
	assert.equal(Buffer.concat(echoed).toString('hex'), want.toString('hex')); // server frames carry no intro
	assert.ok(s.all.includes('open origin=https://web.whatsapp.com path=/ws/chat'));
	assert.ok(s.all.includes('frame dict=2 routing=08080802 hex=68656c6c6f'));
	ws.close(1000);
	await s.waitFor(/^close err=/);
	assert.ok(s.all.includes('close err=-11'));
	// a text message is ignored, and a bad intro closes with a protocol error
	const ws2 = new WebSocket(`ws://127.0.0.1:${port}/ws/chat`);
	await once(ws2, 'open');
	ws2.send('text is ignored');
	ws2.send(Buffer.from('XA\x06\x02', 'latin1'));
	const [code] = await once(ws2, 'close');
	assert.equal(code, 1002);
	s.proc.stdin.end();
	const [exit] = await once(s.proc, 'exit');
	assert.equal(exit, 0);
});

// Our listener closes by the websocket closing handshake (RFC 6455 §7.1.1):
// it sends its last frame and a close (1000), then reads until the peer's
// close, so a peer still sending does not make the kernel reset the
// connection (a close with unread bytes sends RST, which throws away what
// the peer had not read yet: Baileys 7 lost the 515 after pair-code linking
// that way). A peer that never answers is dropped after a few seconds.
test('our listener closes by handshake: the last frame and close 1000 reach a peer still sending; a silent peer is dropped', async () => {
	const s = run(['server']);
	const port = Number((await s.waitFor(/^port /)).split(' ')[1]);
	const url = `ws://127.0.0.1:${port}/ws/chat`;
	const intro = Buffer.from([0x57, 0x41, 0x06, 0x02]);
	try {
		for (let round = 0; round < 5; round++) {
			const ws = new WebSocket(url);
			await once(ws, 'open');
			const got = [];
			ws.on('message', (d) => got.push(Buffer.from(d)));
			ws.send(Buffer.concat([intro, frame(Buffer.from('bye'))]));
			// keep sending while the server closes: 4 MiB it will not read as frames
			for (let i = 0; i < 64; i++) ws.send(frame(Buffer.alloc(65536, i)));
			const [code] = await once(ws, 'close');
			assert.equal(Buffer.concat(got).toString('hex'), frame(Buffer.from('bye')).toString('hex'), `round ${round}: the last frame arrives`);
			assert.equal(code, 1000, `round ${round}: the server's close arrives (1006: the connection was reset)`);
		}
		// the server's lines come through a pipe, the close through the socket:
		// the fifth line may still be on its way when the fifth close arrives
		for (let i = 0; i < 50 && s.all.filter((l) => l === 'close err=0').length < 5; i++) {
			await new Promise((r) => setTimeout(r, 20));
		}
		assert.equal(s.all.filter((l) => l === 'close err=0').length, 5);

		// a peer that stops reading never answers the close: dropped anyway
		const ws = new WebSocket(url);
		await once(ws, 'open');
		ws._socket.pause();
		const t0 = Date.now();
		ws.send(Buffer.concat([intro, frame(Buffer.from('bye'))]));
		for (let i = 0; i < 100 && s.all.filter((l) => l === 'close err=0').length < 6; i++) await new Promise((r) => setTimeout(r, 100));
		const waited = Date.now() - t0;
		assert.equal(s.all.filter((l) => l === 'close err=0').length, 6, 'the silent peer is dropped');
		assert.ok(waited >= 1500, `the server waited for the close answer (${waited} ms)`);
		ws._socket.resume();
		await once(ws, 'close');
	} finally {
		s.proc.stdin.end();
	}
	const [exit] = await once(s.proc, 'exit');
	assert.equal(exit, 0);
});
