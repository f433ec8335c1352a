// Messaging through `yesapp sim` between two unmodified Baileys sockets of
// the same version (6, then 7; Baileys 7 addresses chats by LID): usync
// device lists, prekey bundle fetches (the phone's too), per-device <enc>
// fan-out, server acks, delivery and read receipts back to the sender,
// media over the simulator's HTTPS media host, and the offline queue
// delivered on reconnect. Every text is decrypted by Baileys itself. One
// simulator serves both versions (stats compared before and after).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { createRequire } from 'node:module';
import { sharedSim, loadBaileys, client, textFrom, statusAtLeast, mediaOptions, sleep } from './sim-lib.mjs';

const pino = createRequire(import.meta.url)('pino');

const sim = sharedSim();

for (const v of [6, 7]) {
	test(`baileys ${v} <-> baileys ${v}: text both ways, delivery and read receipts, media, offline queue`, async () => {
		const lib = await loadBaileys(v);
		const st0 = (await sim.api('GET', '/sim/stats')).json;
		// the media host's certificate chains to the CA the simulator made at start
		const info = (await sim.api('GET', '/sim/info')).json;
		assert.match(info.caCert, /^-----BEGIN CERTIFICATE-----/);
		assert.match(info.mediaHost, /^127\.0\.0\.1:\d+$/);
		const agent = new https.Agent({ ca: info.caCert });
		const A = client(lib, sim, `155500${v}1111`, `A${v}`, { fetchAgent: agent });
		const B = client(lib, sim, `155500${v}2222`, `B${v}`, { fetchAgent: agent });
		try {
			A.connect();
			B.connect();
			await A.until(() => A.opens && A.pending, 'A open');
			await B.until(() => B.opens && B.pending, 'B open');
			// the phone's key share and history notification unlock Baileys' event buffer
			await A.until(() => A.upserts.some((u) => u.message?.protocolMessage), 'A: phone protocol messages');
			await B.until(() => B.upserts.some((u) => u.message?.protocolMessage), 'B: phone protocol messages');

			const aJid = `${A.phone}@s.whatsapp.net`;
			const bJid = `${B.phone}@s.whatsapp.net`;
			const m1 = await A.sock.sendMessage(bJid, { text: 'hello from A' });
			const got1 = await B.until(() => textFrom(B, A, 'hello from A'), 'B receives A text');
			assert.equal(got1.key.id, m1.key.id);
			// B's inactive delivery receipt reaches A as DELIVERY_ACK (3)
			await A.until(() => statusAtLeast(A, m1.key.id, 3), 'A sees delivery');
			assert.ok(!statusAtLeast(A, m1.key.id, 4), 'not read before B reads it');
			await B.sock.readMessages([got1.key]);
			await A.until(() => statusAtLeast(A, m1.key.id, 4), 'A sees read');

			const m2 = await B.sock.sendMessage(aJid, { text: 'reply from B' });
			const got2 = await A.until(() => textFrom(A, B, 'reply from B'), 'A receives B text');
			assert.equal(got2.key.id, m2.key.id);
			await B.until(() => statusAtLeast(B, m2.key.id, 3), 'B sees delivery');

			// media: A uploads an encrypted document over HTTPS (media_conn, /mms),
			// B downloads it by its URL and Baileys decrypts and checks it
			const doc = Buffer.from(`%PDF-1.4 simulated document v${v} `.repeat(64));
			const m4 = await A.sock.sendMessage(bJid, { document: doc, mimetype: 'application/pdf', fileName: 'x.pdf' });
			const got4 = await B.until(() => B.upserts.find((u) => u.key.id === m4.key.id && u.message?.documentMessage), 'B receives the document');
			assert.match(got4.message.documentMessage.url, new RegExp('^https://' + info.mediaHost.replace(/\./g, '\\.') + '/'));
			const dl = (options) => lib.downloadMediaMessage({ key: got4.key, message: got4.message }, 'buffer', options, { logger: pino({ level: 'silent' }), reuploadRequest: B.sock.updateMediaMessage });
			const bytes = await dl(await mediaOptions(lib, info.caCert));
			assert.ok(Buffer.from(bytes).equals(doc), 'downloaded and decrypted bytes equal the original');
			// without the CA Baileys' own download does not trust the media host
			await assert.rejects(dl(await mediaOptions(lib, undefined)), (e) => {
				const why = `${e.message} ${e.code} ${e.cause?.code} ${e.cause?.message}`;
				assert.match(why, /certificate|self[- ]signed|unable to verify/i);
				return true;
			});

			// B goes offline; A's message waits in B's queue and arrives on reconnect
			B.end();
			await sleep(300);
			const q0 = (await sim.api('GET', '/sim/stats')).json.messagesQueued;
			const m3 = await A.sock.sendMessage(bJid, { text: 'while you were away' });
			await sleep(300);
			let st = (await sim.api('GET', '/sim/stats')).json;
			assert.ok(st.messagesQueued > q0, 'queued for the offline device');
			assert.ok(!textFrom(B, A, 'while you were away'), 'not delivered while offline');
			const opensBefore = B.opens;
			B.connect();
			await B.until(() => B.opens > opensBefore, 'B reopens');
			const got3 = await B.until(() => textFrom(B, A, 'while you were away'), 'B receives the queued text');
			assert.equal(got3.key.id, m3.key.id);
			await A.until(() => statusAtLeast(A, m3.key.id, 3), 'A sees delivery of the queued text');
			st = (await sim.api('GET', '/sim/stats')).json;
			assert.equal(st.errors - st0.errors, 0);
			// Baileys encrypts every message to the peer's phone and its own too
			// (device 0); the simulated phones decrypt each of them
			assert.ok(st.phoneDecrypted - st0.phoneDecrypted >= 6, `phone decrypted ${JSON.stringify(st)}`);
			assert.equal(st.phoneDecryptFailed - st0.phoneDecryptFailed, 0);
		} finally {
			A.end();
			B.end();
		}
	});
}
