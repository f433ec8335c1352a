// Messaging through `yesapp sim` between two unmodified Baileys 6 sockets:
// usync device lists, prekey bundle fetches (the phone's too), per-device
// <enc> fan-out, server acks, delivery and read receipts back to the sender,
// and the offline queue delivered on reconnect. Every text is decrypted by
// Baileys itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, loadBaileys, client, textOf, sleep } from './sim-lib.mjs';

const A_PHONE = '15550001111';
const B_PHONE = '15550002222';

test('baileys 6 <-> baileys 6: text both ways, delivery and read receipts, offline queue', async () => {
	const lib = await loadBaileys(6);
	const sim = await startSim();
	const A = client(lib, sim, A_PHONE, 'A');
	const B = client(lib, sim, B_PHONE, 'B');
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
	} finally {
		A.end();
		B.end();
		assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
	}
});
