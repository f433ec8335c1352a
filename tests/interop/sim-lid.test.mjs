// LID addressing through `yesapp sim`, judged by Baileys 7 (dictionary v3,
// LID-first: it resolves phone numbers to LIDs by usync <lid/> and fetches
// prekeys by LID, so it cannot send at all without S1-S3; the stanzas it
// sends to a phone-number chat stay in the phone-number namespace, answered
// with sender_lid): Baileys 7 <-> Baileys 7 and
// Baileys 7 <-> Baileys 6, both directions, each text decrypted by the
// receiving Baileys and each delivery receipt reaching the sender.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, loadBaileys, client, textOf } from './sim-lib.mjs';

// Baileys 7 buffers events: a receipt that arrives before the sender's own
// message event is flushed is folded into it (status on the upsert).
function delivered(c, id) {
	return (
		c.updates.some((u) => u.key.id === id && u.status >= 3) ||
		c.upserts.some((u) => u.key.id === id && u.key.fromMe && u.status >= 3)
	);
}

async function exchange(X, Y, yPhone, text, server = 's.whatsapp.net') {
	const sent = await X.sock.sendMessage(`${yPhone}@${server}`, { text });
	const got = await Y.until(() => Y.upserts.find((u) => u.key.id === sent.key.id && !u.key.fromMe), `${Y.name} receives "${text}"`);
	assert.equal(textOf(got.message), text);
	await X.until(() => delivered(X, sent.key.id), `${X.name} sees delivery of "${text}"`);
	return got;
}

test('baileys 7 <-> baileys 7 and baileys 7 <-> baileys 6 exchange text with delivery receipts (LID)', async () => {
	const b7 = await loadBaileys(7);
	const b6 = await loadBaileys(6);
	const sim = await startSim();
	const P = client(b7, sim, '15550005555', 'P7');
	const Q = client(b7, sim, '15550006666', 'Q7');
	const R = client(b6, sim, '15550007777', 'R6');
	try {
		for (const c of [P, Q, R]) c.connect();
		for (const c of [P, Q, R]) await c.until(() => c.opens && c.pending, `${c.name} open`, 40000);
		for (const c of [P, Q, R]) await c.until(() => c.upserts.some((u) => u.message?.protocolMessage), `${c.name}: phone key share`);
		const got = await exchange(P, Q, '15550006666', 'hello P7->Q7');
		assert.match(got.key.remoteJid, /@lid$|@s\.whatsapp\.net$/);
		await exchange(Q, P, '15550005555', 'reply Q7->P7');
		// a chat addressed by LID: the stanza, its fan-out and the delivery stay
		// in the LID namespace (from=LID:dev@lid, sender_pn)
		const qLid = (await sim.api('POST', '/sim/accounts', { phone: '15550006666' })).json.lid;
		const got2 = await exchange(P, Q, qLid, 'hello P7->Q7 by LID', 'lid');
		assert.match(got2.key.remoteJid, /@lid$/);
		await exchange(P, R, '15550007777', 'hello P7->R6');
		await exchange(R, P, '15550005555', 'hello R6->P7');
		const st = await sim.api('GET', '/sim/stats');
		assert.equal(st.json.errors, 0);
		assert.ok(st.json.phoneDecrypted >= 4, `phone decrypted ${st.json.phoneDecrypted}`);
		assert.equal(st.json.phoneDecryptFailed, 0, 'the phones decrypt what Baileys 7 sends them (sessions by LID)');
	} finally {
		for (const c of [P, Q, R]) c.end();
		assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
	}
});

// The per-account LID-first switch: every message and receipt reaching a
// migrated account names the other party by LID (from=LID:dev@lid with
// sender_pn), even when the sender addressed it by phone number.
test('a LID-first account hears of Baileys 7 and Baileys 6 peers by LID, both ways', async () => {
	const b7 = await loadBaileys(7);
	const b6 = await loadBaileys(6);
	const sim = await startSim();
	const L = client(b7, sim, '15550008881', 'L7');
	const Q = client(b7, sim, '15550008882', 'Q7');
	const R = client(b6, sim, '15550008883', 'R6');
	try {
		const lids = {};
		for (const p of ['15550008881', '15550008882', '15550008883']) lids[p] = (await sim.api('POST', '/sim/accounts', { phone: p })).json.lid;
		const bad = await sim.api('POST', '/sim/accounts/15550008881/lid-first', { on: 'yes' });
		assert.equal(bad.status, 400);
		assert.equal((await sim.api('POST', '/sim/accounts/15559999999/lid-first', { on: true })).status, 404);
		const sw = await sim.api('POST', '/sim/accounts/15550008881/lid-first', { on: true });
		assert.equal(sw.status, 200);
		assert.equal(sw.json.lidFirst, true);
		assert.equal((await sim.api('GET', '/sim/accounts/15550008881/lid-first')).json.lidFirst, true);
		for (const c of [L, Q, R]) c.connect();
		for (const c of [L, Q, R]) await c.until(() => c.opens && c.pending, `${c.name} open`, 40000);
		for (const c of [L, Q, R]) await c.until(() => c.upserts.some((u) => u.message?.protocolMessage), `${c.name}: phone key share`);
		// Q7 and R6 address L by phone number; L hears of them by LID
		const g1 = await exchange(Q, L, '15550008881', 'Q7 -> lid-first L7');
		assert.equal(g1.key.remoteJid, `${lids['15550008882']}@lid`);
		const g2 = await exchange(R, L, '15550008881', 'R6 -> lid-first L7');
		assert.equal(g2.key.remoteJid, `${lids['15550008883']}@lid`);
		// and L answers both in the chat it got (by LID)
		await exchange(L, Q, lids['15550008882'], 'L7 -> Q7 by LID', 'lid');
		const g4 = await exchange(L, R, '15550008883', 'L7 -> R6 by phone');
		assert.match(g4.key.remoteJid, /^15550008881@s\.whatsapp\.net$|@lid$/);
		const st = await sim.api('GET', '/sim/stats');
		assert.equal(st.json.errors, 0);
		assert.ok(st.json.prekeyFetches >= 1, 'prekeyFetches counted');
	} finally {
		for (const c of [L, Q, R]) c.end();
		assert.equal(await sim.stop(), 0, 'sim exits cleanly: ' + sim.stderr());
	}
});
