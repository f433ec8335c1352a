// `yesapp sim` app state (docs/appstate.md), judged by Baileys 6 and 7: two
// Baileys sockets scan the same phone (two companions of one account) and
// get the same app-state sync key from it; one archives a chat and
// renames itself through chatModify (Baileys' own patches, uploaded to the
// simulator); the other gets the server_sync notification, fetches the
// patches, verifies them (MACs on) and emits chats.update archived and its
// new name. An upload at a stale version is refused with 409 and the
// patches the device missed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, loadBaileys, client, sleep } from './sim-lib.mjs';

const kid = (n, tag) => (Array.isArray(n?.content) ? n.content.find((c) => c.tag === tag) : undefined);
const kids = (n, tag) => (Array.isArray(n?.content) ? n.content.filter((c) => c.tag === tag) : []);

for (const v of [6, 7]) {
  test(`sim app state: baileys ${v} companions of one account sync archive and push name`, async () => {
    const lib = await loadBaileys(v);
    const sim = await startSim();
    const phone = `155500${v}7001`;
    const A = client(lib, sim, phone, `A${v}`);
    const B = client(lib, sim, phone, `B${v}`);
    const peer = '15550009999@s.whatsapp.net';
    const chats = [];
    let names = [];
    try {
      A.connect();
      await A.until(() => A.opens > 0 && A.state.creds.myAppStateKeyId, 'A key');
      B.connect();
      await B.until(() => B.opens > 0 && B.state.creds.myAppStateKeyId, 'B key');
      assert.equal(A.state.creds.myAppStateKeyId, B.state.creds.myAppStateKeyId, 'one key per account');
      B.sock.ev.on('chats.update', (u) => chats.push(...u));
      B.sock.ev.on('creds.update', (u) => { if (u.me?.name) names.push(u.me.name); });
      await sleep(500); // both past their login-time syncs
      await A.sock.chatModify({ archive: true, lastMessages: [] }, peer);
      const got = await B.until(() => chats.find((c) => c.id === peer && c.archived === true), 'B chats.update archived');
      assert.equal(got.archived, true);
      await A.sock.chatModify({ pushNameSetting: `Renamed ${v}` }, '');
      await B.until(() => names.includes(`Renamed ${v}`), 'B push name');
      // a stale upload: 409 with what the device missed (version 0: both patches)
      const stale = await A.sock.query({
        tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'set', xmlns: 'w:sync:app:state' },
        content: [{ tag: 'sync', attrs: {}, content: [{ tag: 'collection', attrs: { name: 'regular_low', version: '0', return_snapshot: 'false' },
          content: [{ tag: 'patch', attrs: {}, content: Buffer.from([0x22, 0x00]) }] }] }],
      });
      const col = kid(kid(stale, 'sync'), 'collection');
      assert.equal(col.attrs.type, 'error');
      assert.equal(col.attrs.version, '1');
      assert.equal(kid(col, 'error').attrs.code, '409');
      assert.equal(kids(kid(col, 'patches'), 'patch').length, 1);
      // a fetch after version 1 has nothing more; the collection is at 1
      const f = await A.sock.query({
        tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'set', xmlns: 'w:sync:app:state' },
        content: [{ tag: 'sync', attrs: {}, content: [{ tag: 'collection', attrs: { name: 'regular_low', version: '1', return_snapshot: 'false' } }] }],
      });
      const fc = kid(kid(f, 'sync'), 'collection');
      assert.equal(fc.attrs.version, '1');
      assert.equal(kids(kid(fc, 'patches'), 'patch').length, 0);
    } finally {
      A.end();
      B.end();
      await sim.stop();
    }
  });
}
