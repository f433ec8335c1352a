// Messaging through `yesapp sim` between two unmodified Baileys 6 sockets:
// usync device lists, prekey bundle fetches (the phone's too), per-device
// <enc> fan-out, server acks, delivery and read receipts back to the sender,
// and the offline queue delivered on reconnect. Every text is decrypted by
// Baileys itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { createRequire } from 'node:module';
import { startSim, loadBaileys, client, textOf, sleep } from './sim-lib.mjs';

const pino = createRequire(import.meta.url)('pino');

const A_PHONE = '15550001111';
const B_PHONE = '15550002222';

test('baileys 6 <-> baileys 6: text both ways, delivery and read receipts, offline queue', async () => {
	const lib = await loadBaileys(6);
	const sim = await startSim();
	// the media host's certificate chains to the CA the simulator made at start
	const info = (await sim.api('GET', '/sim/info')).json;
	assert.match(info.caCert, /^-----BEGIN CERTIFICATE-----/);
	assert.match(info.mediaHost, /^127\.0\.0\.1:\d+$/);
	const agent = new https.Agent({ ca: info.caCert });
	const A = client(lib, sim, A_PHONE, 'A', { fetchAgent: agent });
	const B = client(lib, sim, B_PHONE, 'B', { fetchAgent: agent });
	const textFrom = (c, jid, text) => c.upserts.find((u) => !u.key.fromMe && u.key.remoteJid === jid && textOf(u.message) === text);
	const statusOf = (c, id, min) => c.updates.find((u) => u.key.id === id && u.status >= min);
	try {
		A.connect();
		B.connect();
		await A.until(() => A.opens && A.pending, 'A open');
		await B.until(() => B.opens && B.pending, 'B open');
		// the phone's key share and history notification unlock Baileys' event buffer
		await A.until(() => A.upserts.some((u) => u.message?.protocolMessage), 'A: phone protocol messages');

		const aJid = `${A_PHONE}@s.whatsapp.net`;
		const bJid = `${B_PHONE}@s.whatsapp.net`;
		const m1 = await A.sock.sendMessage(bJid, { text: 'hello from A' });
		const got1 = await B.until(() => textFrom(B, aJid, 'hello from A'), 'B receives A text');
		assert.equal(got1.key.id, m1.key.id);
		// B's inactive delivery receipt reaches A as DELIVERY_ACK (3)
		await A.until(() => statusOf(A, m1.key.id, 3), 'A sees delivery');
		await B.sock.readMessages([got1.key]);
		await A.until(() => statusOf(A, m1.key.id, 4), 'A sees read');

		const m2 = await B.sock.sendMessage(aJid, { text: 'reply from B' });
		const got2 = await A.until(() => textFrom(A, bJid, 'reply from B'), 'A receives B text');
		assert.equal(got2.key.id, m2.key.id);
		await B.until(() => statusOf(B, m2.key.id, 3), 'B sees delivery');

		// media: A uploads an encrypted document over HTTPS (media_conn, /mms),
		// B downloads it by its URL and Baileys decrypts and checks it
		const doc = Buffer.from('%PDF-1.4 simulated document '.repeat(64));
		const m4 = await A.sock.sendMessage(bJid, { document: doc, mimetype: 'application/pdf', fileName: 'x.pdf' });
		const got4 = await B.until(() => B.upserts.find((u) => u.key.id === m4.key.id && u.message?.documentMessage), 'B receives the document');
		assert.match(got4.message.documentMessage.url, new RegExp('^https://' + info.mediaHost.replace(/\./g, '\\.') + '/'));
		const bytes = await lib.downloadMediaMessage({ key: got4.key, message: got4.message }, 'buffer', { options: { httpsAgent: agent } }, { logger: pino({ level: 'silent' }), reuploadRequest: B.sock.updateMediaMessage });
		assert.ok(Buffer.from(bytes).equals(doc), 'downloaded and decrypted bytes equal the original');
		const untrusted = await fetch(`https://${info.mediaHost}/v/none`).then(() => 'ok', (e) => String(e.cause?.code || e));
		assert.notEqual(untrusted, 'ok', 'without the CA the media host is not trusted');

		// B goes offline; A's message waits in B's queue and arrives on reconnect
		B.end();
		await sleep(300);
		const m3 = await A.sock.sendMessage(bJid, { text: 'while you were away' });
		await sleep(300);
		let st = await sim.api('GET', '/sim/stats');
		assert.ok(st.json.messagesQueued >= 1, 'queued for the offline device');
		const opensBefore = B.opens;
		B.connect();
		await B.until(() => B.opens > opensBefore, 'B reopens');
		const got3 = await B.until(() => textFrom(B, aJid, 'while you were away'), 'B receives the queued text');
		assert.equal(got3.key.id, m3.key.id);
		await A.until(() => statusOf(A, m3.key.id, 3), 'A sees delivery of the queued text');
		st = await sim.api('GET', '/sim/stats');
		assert.equal(st.json.errors, 0);
		// Baileys encrypts every message to the peer's phone and its own too
		// (device 0); the simulated phones decrypt each of them
		assert.ok(st.json.phoneDecrypted >= 6, `phone decrypted ${JSON.stringify(st.json)}`);
		assert.equal(st.json.phoneDecryptFailed, 0);
	} finally {
		A.end();
		B.end();
		assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
	}
});
