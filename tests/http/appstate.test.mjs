// App state end to end (docs/appstate.md, issue 15): a YesApp session and
// an unmodified Baileys 6 / 7 socket are both companions of the same
// simulator account (they scan the same phone, which shares one app-state
// key with both). YesApp deletes a message for me and renames itself;
// Baileys gets the server_sync notification, fetches the patches, verifies
// them with its own MAC checks and emits messages.delete and its new name;
// PATCH .../chats/{chat} archives, pins, mutes and marks unread (Baileys'
// chats.update), and undoes it; bad input is a coded 400. The other way:
// Baileys archives the chat and deletes a message for me; we verify its
// patches, show the chat archived, delete our row, and emit chat.updated and
// message.deleted.
// After a restart the key comes from our store (no new share): a rename
// still reaches Baileys.
// A write before our phone has shared its key waits for it (the simulator's
// phone holds the key back, then shares it); a write on a stale version
// (another companion wrote, and the simulator told no one) takes the 409's
// missed patches and is retried once, Baileys verifying the result.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopServer, req, tempDir, removeDir } from './lib.mjs';
import { startSim, loadBaileys, client, textOf, sleep } from '../interop/sim-lib.mjs';
import { messaging } from './msg-lib.mjs';

let sim, h;
before(async () => {
  sim = await startSim();
  h = await messaging(sim, { key: 'appstate-test-key-0123456789', prefix: '1554' });
  h.libs[7] = await loadBaileys(7);
});
after(async () => { await sim.stop(); });

for (const v of [6, 7]) test(`app state: YesApp's delete-for-me and push name reach a Baileys ${v} companion`, { timeout: 150000 }, async () => {
  const dir = tempDir();
  let srv = await h.serve(dir);
  const P = await h.peer(h.newPhone(), `P${v}`, v);
  let C;
  try {
    const us = h.newPhone();
    const id = await h.link(srv, us);
    const base = `/api/v1/sessions/${id}`;
    await h.until('our phone shared its app-state key', () => srv.logs.some((l) => l.message === 'client got app-state keys'));
    // the other companion of our account
    C = client(h.libs[v], sim, us, `C${v}`);
    const deleted = [], names = [], chats = [];
    C.connect();
    await C.until(() => C.opens > 0 && C.state.creds.myAppStateKeyId, `C${v} open with the key`);
    C.sock.ev.on('messages.delete', (d) => deleted.push(...(d.keys || [])));
    C.sock.ev.on('creds.update', (u) => { if (u.me?.name) names.push(u.me.name); });
    C.sock.ev.on('chats.update', (u) => chats.push(...u));

    // a message to P, then deleted for me
    let r = await req(srv, 'POST', `${base}/messages`, { body: { to: `+${P.phone}`, text: `to delete ${v}` } });
    assert.equal(r.status, 202, r.text);
    const mid = r.body.id;
    await P.until(() => P.upserts.find((u) => textOf(u.message) === `to delete ${v}`), 'P got it');
    const row = await h.until('sent', async () => {
      const m = (await req(srv, 'GET', `${base}/messages/${mid}`)).body;
      return m && m.waId && m.status !== 'pending' ? m : null;
    });
    r = await req(srv, 'DELETE', `${base}/messages/${mid}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { id: mid, deleted: true, appState: 'queued' });
    const k = await h.until('C heard of the delete', () => deleted.find((x) => x.id === row.waId));
    assert.equal(k.fromMe, true);
    assert.match(k.remoteJid, new RegExp(`^(${P.phone}@s\\.whatsapp\\.net|\\d+@lid)$`));
    assert.equal((await req(srv, 'GET', `${base}/messages/${mid}`)).status, 404);

    // our push name, twice (the second patch goes on top of the first)
    for (const name of [`Shop ${v}`, `Shop ${v} again`]) {
      r = await req(srv, 'PUT', `${base}/profile/name`, { body: { name } });
      assert.equal(r.status, 202, r.text);
      await h.until(`C learnt the name ${name}`, () => names.includes(name));
    }
    // PATCH .../chats/{chat}: archive, pin, mute until, unread
    const pj = `${P.phone}@s.whatsapp.net`;
    const until = Date.now() + 3600e3;
    r = await req(srv, 'PATCH', `${base}/chats/${P.phone}`, { body: { archived: true, pinned: true, muteUntil: until, read: false } });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.body, { chat: pj, appState: 'queued', archived: true, pinned: true, muted: true, muteUntil: until, read: false });
    await h.until('C: archived', () => chats.find((c) => c.id === pj && c.archived === true));
    await h.until('C: pinned', () => chats.find((c) => c.id === pj && c.pinned));
    await h.until('C: muted until', () => chats.find((c) => c.id === pj && Number(c.muteEndTime) === until));
    await h.until('C: unread', () => chats.find((c) => c.id === pj && c.unreadCount === -1));
    r = await req(srv, 'PATCH', `${base}/chats/${P.phone}`, { body: { archived: false, muted: false } });
    assert.equal(r.status, 202, r.text);
    await h.until('C: unarchived', () => chats.find((c) => c.id === pj && c.archived === false));
    await h.until('C: unmuted', () => chats.find((c) => c.id === pj && c.muteEndTime === null));
    // bad input: coded 400s, nothing written
    for (const [body, field] of [[{}, 'archived'], [{ archived: 'yes' }, 'archived'], [{ muteUntil: 5 }, 'muteUntil'],
      [{ muted: false, muteUntil: until }, 'muteUntil'], [{ starred: true }, 'starred']]) {
      r = await req(srv, 'PATCH', `${base}/chats/${P.phone}`, { body });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.details.field, field, r.text);
    }
    r = await req(srv, 'PATCH', `${base}/chats/not-a-chat`, { body: { archived: true } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error, 'INVALID_PHONE_NUMBER');
    // the read side: C archives the chat and deletes P's message for me; we follow
    await P.sock.sendMessage(`${us}@s.whatsapp.net`, { text: `keep ${v}` });
    await P.sock.sendMessage(`${us}@s.whatsapp.net`, { text: `gone ${v}` });
    const inbound = await h.until('both here', async () => {
      const list = await h.list(srv, id);
      const keep = list.find((m) => m.text === `keep ${v}`), gone = list.find((m) => m.text === `gone ${v}`);
      return keep && gone ? { keep, gone } : null;
    });
    const cGone = await C.until(() => C.upserts.find((u) => textOf(u.message) === `gone ${v}`), 'C has the message');
    await C.sock.chatModify({ archive: true, lastMessages: [] }, pj);
    const chatOf = async () => (await req(srv, 'GET', `${base}/chats`)).body.data.find((c) => c.chat === pj);
    await h.until('our chat archived by C', async () => (await chatOf())?.archived === true);
    await C.sock.chatModify({ deleteForMe: { key: cGone.key, timestamp: Math.floor(Date.now() / 1000), deleteMedia: false } }, cGone.key.remoteJid);
    await h.until('P\'s message deleted here by C', async () =>
      (await req(srv, 'GET', `${base}/messages/${inbound.gone.id}`)).status === 404);
    assert.equal((await req(srv, 'GET', `${base}/messages/${inbound.keep.id}`)).status, 200);
    const evs = (await req(srv, 'GET', `/api/v1/events?sessionId=${id}&limit=200`)).body.data;
    assert.ok(evs.some((e) => e.event === 'chat.updated' && e.chat === pj && e.archived === true && e.source === 'appState'),
      JSON.stringify(evs.slice(-3)));
    assert.ok(evs.some((e) => e.event === 'message.deleted' && e.messageId === inbound.gone.id && e.waId === cGone.key.id &&
      e.fromMe === false), JSON.stringify(evs.slice(-3)));
    // and our own PATCH keeps the flag too
    r = await req(srv, 'PATCH', `${base}/chats/${P.phone}`, { body: { archived: false } });
    assert.equal(r.status, 202, r.text);
    assert.equal((await chatOf()).archived, false);
    await h.until('C: unarchived again', () => chats.filter((c) => c.id === pj && c.archived === false).length >= 2);

    const writes = srv.logs.filter((l) => l.message === 'client app-state written');
    assert.ok(writes.length >= 9, JSON.stringify(writes));
    assert.ok(!srv.logs.some((l) => /app-state (write dropped|patch refused)/.test(l.message || '')),
      JSON.stringify(srv.logs.filter((l) => /app-state/.test(l.message || ''))));

    // a restart: the key comes from the store
    await stopServer(srv, { removeData: false });
    srv = await h.serve(dir);
    await h.connected(srv, id);
    assert.ok(!srv.logs.some((l) => l.message === 'client got app-state keys'), 'no new key share');
    r = await req(srv, 'PUT', `${base}/profile/name`, { body: { name: `After restart ${v}` } });
    assert.equal(r.status, 202, r.text);
    await h.until('C learnt the name after our restart', () => names.includes(`After restart ${v}`));
  } finally {
    C?.end();
    P.end();
    await stopServer(srv, { removeData: false });
    removeDir(dir);
  }
});

for (const v of [6, 7]) test(`app state: a write before our phone's key waits for it; a stale write takes the 409 and is retried (Baileys ${v} companion)`, { timeout: 150000 }, async () => {
  const srv = await h.serve();
  const P = await h.peer(h.newPhone(), `Q${v}`, v);
  let C;
  try {
    const us = h.newPhone();
    await sim.api('POST', '/sim/accounts', { phone: us });
    const knob = async (name, on) => {
      const k = await sim.api('POST', `/sim/accounts/${us}/${name}`, { on });
      assert.equal(k.status, 200, k.text);
    };
    await knob('app-state-key-held', true);
    const id = await h.link(srv, us);
    const base = `/api/v1/sessions/${id}`;
    const pj = `${P.phone}@s.whatsapp.net`;
    const logged = (msg) => srv.logs.filter((l) => l.message === msg).length;
    // a companion of ours, online while the key is held too
    C = client(h.libs[v], sim, us, `D${v}`);
    const names = [];
    C.connect();
    await C.until(() => C.opens > 0, `D${v} open`);
    C.sock.ev.on('creds.update', (u) => { if (u.me?.name) names.push(u.me.name); });

    // no key yet: accepted, and they wait
    let r = await req(srv, 'PATCH', `${base}/chats/${P.phone}`, { body: { pinned: true } });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.appState, 'queued');
    r = await req(srv, 'PUT', `${base}/profile/name`, { body: { name: `Held ${v}` } });
    assert.equal(r.status, 202, r.text);
    await sleep(1000);
    assert.equal(logged('client got app-state keys'), 0, 'the key was held back');
    assert.equal(logged('client app-state written'), 0);
    // the phone shares it: both writes go; D, syncing from scratch with the
    // key, verifies them
    await knob('app-state-key-held', false);
    await h.until('our key', () => logged('client got app-state keys') > 0);
    await h.until('the writes that waited', () => logged('client app-state written') === 2);
    await h.until('D learnt the name that waited', () => names.includes(`Held ${v}`));
    const dver = async () => (await C.state.keys.get('app-state-sync-version', ['regular_low']))?.regular_low?.version;
    await h.until('D verified our pin (regular_low v1)', async () => (await dver()) === 1);

    // D archives while the simulator tells no one: our state is stale
    await knob('app-state-quiet', true);
    await C.sock.chatModify({ archive: true, lastMessages: [] }, pj);
    await knob('app-state-quiet', false);
    assert.equal(await dver(), 2);
    r = await req(srv, 'PATCH', `${base}/chats/${P.phone}`, { body: { pinned: false } });
    assert.equal(r.status, 202, r.text);
    // 409, D's patch taken, ours again on top: D verifies it (its patch and
    // snapshot MACs hold only on a state that has D's archive in it)
    await h.until('D verified our retried patch (regular_low v3)', async () => (await dver()) === 3);
    assert.equal(logged('client app-state conflict, retried'), 1, JSON.stringify(srv.logs.filter((l) => /app-state/.test(l.message || ''))));
    assert.equal(logged('client app-state written'), 3);
    // D's archive, taken from the 409's patches, is ours too
    await h.until('D\'s archive taken from the 409', async () =>
      (await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=chat.updated&limit=100`)).body.data
        .some((e) => e.chat === pj && e.archived === true && e.source === 'appState'));
    // D pins, mutes and marks the chat unread: chat.updated events here
    const muteEnd = Date.now() + 7200e3;
    await C.sock.chatModify({ pin: true }, pj);
    await C.sock.chatModify({ mute: muteEnd }, pj);
    await C.sock.chatModify({ markRead: false, lastMessages: [] }, pj);
    const upd = (pred) => h.until('a chat.updated from D', async () =>
      (await req(srv, 'GET', `/api/v1/events?sessionId=${id}&types=chat.updated&limit=100`)).body.data
        .find((e) => e.chat === pj && e.source === 'appState' && pred(e)));
    await upd((e) => e.pinned === true);
    const mu = await upd((e) => e.muted === true);
    assert.equal(mu.muteUntil, muteEnd);
    await upd((e) => e.read === false);
    assert.ok(!srv.logs.some((l) => /app-state (write dropped|patch refused)/.test(l.message || '')),
      JSON.stringify(srv.logs.filter((l) => /app-state/.test(l.message || ''))));
  } finally {
    C?.end();
    P.end();
    await stopServer(srv);
  }
});
