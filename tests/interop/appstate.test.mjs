// src/wa/appstate.c (through build/<flavour>/tools/wa-appstate) against
// Baileys 6 and 7's own app-state functions (docs/appstate.md):
//  - patches our C encodes (a SET, then a SET over the same index and a
//    REMOVE) are accepted by Baileys' decodePatches with MAC validation on,
//    which reads back the very actions and reaches the same LTHash; a
//    snapshot made of our records is accepted by decodeSyncdSnapshot;
//  - patches Baileys' encodeSyncdPatch makes are decoded and verified by our
//    C, chained, to the same hash;
//  - either way a flipped patch-MAC, snapshot-MAC, value-MAC or index-MAC
//    byte, or another key under the same key id, is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const build = process.env.YESAPP_BUILD || join(root, 'build/asan');
const tool = join(build, 'tools/wa-appstate');
const protoOf = (m) => m.proto || m.default.proto; // Baileys 6 is CommonJS
const peers = {
  baileys6: { chat: await import('baileys6/lib/Utils/chat-utils.js'), proto: protoOf(await import('baileys6/WAProto/index.js')) },
  baileys7: { chat: await import('baileys7/lib/Utils/chat-utils.js'), proto: protoOf(await import('baileys7/WAProto/index.js')) },
};
const run = (...args) => {
  const r = spawnSync(tool, args.map(String), { encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr };
};
const ok = (...args) => {
  const r = run(...args);
  assert.equal(r.code, 0, r.out + r.err);
  return JSON.parse(r.out);
};
const hex = (b) => Buffer.from(b).toString('hex');
const flip = (buf, at) => { const b = Buffer.from(buf); b[at < 0 ? b.length + at : at] ^= 1; return b; };

// A logger that keeps Baileys 7's warnings (it logs, not throws, an LTHash mismatch).
const recorder = () => {
  const warns = [];
  const l = { warn: (o, m) => warns.push(m || o), info() {}, debug() {}, trace() {}, error: (o, m) => warns.push(m || o), child: () => l };
  return { l, warns };
};

for (const [peer, { chat, proto }] of Object.entries(peers)) {
  const keyId = crypto.randomBytes(6);
  const keyData = crypto.randomBytes(32);
  const getKey = (k) => async (id) => (id === keyId.toString('base64') ? { keyData: k } : undefined);
  const chatJid = '15550001111@s.whatsapp.net';
  const packed = (v) => hex(proto.SyncActionValue.encode(v).finish());

  // Baileys decodes our patches (versions set as the server would).
  const baileysDecode = async (patches, k = keyData, initial = chat.newLTHashState()) => {
    const { l, warns } = recorder();
    const syncds = patches.map((p, i) => ({ ...proto.SyncdPatch.decode(Buffer.from(p, 'hex')), version: { version: initial.version + i + 1 } }));
    let out, error;
    try {
      out = await chat.decodePatches('regular_high', syncds, initial, getKey(k), undefined, undefined, l, true);
    } catch (e) { error = e; }
    return { out, error, warns };
  };
  const accepted = (r, n) => !r.error && r.warns.length === 0 && Object.keys(r.out.mutationMap).length === n;

  test(`${peer} decodePatches accepts our patches and reads back the actions`, async () => {
    const ts = Date.now();
    const idx = ['deleteMessageForMe', chatJid, '3EB0AA11', '1', '0'];
    const e1 = ok('encode', 'regular_high', hex(keyId), hex(keyData), '-', JSON.stringify([
      { op: 'set', index: idx, version: 3, value: packed({ timestamp: ts, deleteMessageForMeAction: { deleteMedia: false, messageTimestamp: 1700000000 } }) },
      { op: 'set', index: ['mute', chatJid], version: 2, value: packed({ timestamp: ts, muteAction: { muted: true, muteEndTimestamp: -1 } }) },
    ]));
    assert.equal(e1.version, 1);
    // patch 2: the mute index again (LTHash subtracts the old value) and a REMOVE of the delete
    const e2 = ok('encode', 'regular_high', hex(keyId), hex(keyData), e1.state, JSON.stringify([
      { op: 'set', index: ['mute', chatJid], version: 2, value: packed({ timestamp: ts + 1, muteAction: { muted: false } }) },
      { op: 'remove', index: idx, version: 3, value: packed({ timestamp: ts + 1, deleteMessageForMeAction: {} }) },
    ]));
    assert.equal(e2.version, 2);
    const r = await baileysDecode([e1.patch, e2.patch]);
    assert.ok(accepted(r, 2), String(r.error || r.warns));
    assert.equal(r.out.state.version, 2);
    assert.equal(hex(r.out.state.hash), e2.hash, 'the same LTHash');
    const mute = r.out.mutationMap[JSON.stringify(['mute', chatJid])];
    assert.deepEqual(mute.index, ['mute', chatJid]);
    assert.equal(mute.syncAction.value.muteAction.muted, false);
    assert.equal(Number(mute.syncAction.value.timestamp), ts + 1);
    const del = r.out.mutationMap[JSON.stringify(idx)];
    assert.deepEqual(del.index, idx);
    // one patch: the delete-for-me action as written
    const r1 = await baileysDecode([e1.patch]);
    assert.ok(accepted(r1, 2), String(r1.error || r1.warns));
    assert.equal(Number(r1.out.mutationMap[JSON.stringify(idx)].syncAction.value.deleteMessageForMeAction.messageTimestamp), 1700000000);
    assert.equal(r1.out.mutationMap[JSON.stringify(idx)].syncAction.version, 3);
    assert.equal(hex(r1.out.state.hash), e1.hash);

    // refused: every MAC byte we can flip, and another key under the same id
    const p = proto.SyncdPatch.decode(Buffer.from(e1.patch, 'hex'));
    const reenc = (f) => { const q = proto.SyncdPatch.decode(proto.SyncdPatch.encode(p).finish()); f(q); return hex(proto.SyncdPatch.encode(q).finish()); };
    const bad = {
      patchMac: reenc((q) => { q.patchMac = flip(q.patchMac, 5); }),
      snapshotMac: reenc((q) => { q.snapshotMac = flip(q.snapshotMac, 0); }),
      valueMac: reenc((q) => { q.mutations[0].record.value.blob = flip(q.mutations[0].record.value.blob, -1); }),
      indexMac: reenc((q) => { q.mutations[1].record.index.blob = flip(q.mutations[1].record.index.blob, 7); }),
      ciphertext: reenc((q) => { q.mutations[0].record.value.blob = flip(q.mutations[0].record.value.blob, 20); }),
    };
    for (const [what, hx] of Object.entries(bad)) {
      const rb = await baileysDecode([hx]);
      assert.ok(!accepted(rb, 2), `${what} flipped: refused`);
    }
    const rk = await baileysDecode([e1.patch], crypto.randomBytes(32));
    assert.ok(!accepted(rk, 2), 'another key: refused');
    // and our own decoder refuses the same
    for (const [what, hx] of Object.entries(bad)) {
      const rr = run('decode', 'regular_high', hex(keyId), hex(keyData), '-', hx);
      assert.equal(rr.code, 1, `${what}: ${rr.out}`);
      assert.match(rr.out, /^error: /);
    }
    const rr = run('decode', 'regular_high', hex(keyId), hex(crypto.randomBytes(32)), '-', e1.patch);
    assert.equal(rr.code, 1, rr.out);
    // another collection name is another MAC
    assert.equal(run('decode', 'regular_low', hex(keyId), hex(keyData), '-', e1.patch).code, 1);
    // ours reads its own chain back too
    const d1 = ok('decode', 'regular_high', hex(keyId), hex(keyData), '-', e1.patch);
    const d2 = ok('decode', 'regular_high', hex(keyId), hex(keyData), d1.state, e2.patch);
    assert.equal(d2.hash, e2.hash);
    assert.deepEqual(d2.mutations.map((m) => m.op), ['set', 'remove']);
  });

  test(`${peer} decodeSyncdSnapshot accepts a snapshot of our records`, async () => {
    const e = ok('encode', 'regular_low', hex(keyId), hex(keyData), '-', JSON.stringify([
      { op: 'set', index: ['archive', chatJid], version: 3, value: packed({ timestamp: 5, archiveChatAction: { archived: true, messageRange: { lastMessageTimestamp: 4 } } }) },
      { op: 'set', index: ['pin_v1', chatJid], version: 5, value: packed({ timestamp: 5, pinAction: { pinned: false } }) },
    ]));
    const p = proto.SyncdPatch.decode(Buffer.from(e.patch, 'hex'));
    const snap = (mac, k = keyData) => ({ snap: proto.SyncdSnapshot.encode({ version: { version: 7 }, records: p.mutations.map((m) => m.record), mac, keyId: { id: keyId } }).finish(), k });
    const good = snap(p.snapshotMac);
    // the snapshot MAC covers the version: ours is made at version 1
    const mac7 = ok('decode-snapshot', 'regular_low', hex(keyId), hex(keyData),
      hex(proto.SyncdSnapshot.encode({ version: { version: 1 }, records: p.mutations.map((m) => m.record), mac: p.snapshotMac, keyId: { id: keyId } }).finish()));
    assert.equal(mac7.version, 1);
    assert.equal(mac7.hash, e.hash);
    assert.deepEqual(mac7.mutations.map((m) => m.index[0]).sort(), ['archive', 'pin_v1']);
    assert.equal(run('decode-snapshot', 'regular_low', hex(keyId), hex(keyData), hex(good.snap)).code, 1, 'version 7 under a version-1 MAC');
    const v1 = proto.SyncdSnapshot.decode(Buffer.from(proto.SyncdSnapshot.encode({ version: { version: 1 }, records: p.mutations.map((m) => m.record), mac: p.snapshotMac, keyId: { id: keyId } }).finish()));
    const { l, warns } = recorder();
    const r = await chat.decodeSyncdSnapshot('regular_low', v1, getKey(keyData), undefined, true, l);
    assert.equal(warns.length, 0, String(warns));
    assert.equal(hex(r.state.hash), e.hash);
    const arch = r.mutationMap[JSON.stringify(['archive', chatJid])];
    assert.equal(arch.syncAction.value.archiveChatAction.archived, true);
    // a flipped snapshot MAC: Baileys 6 throws, Baileys 7 warns; ours refuses
    const badSnap = proto.SyncdSnapshot.decode(proto.SyncdSnapshot.encode({ ...v1, mac: flip(v1.mac, 3) }).finish());
    const rec2 = recorder();
    let threw = false;
    try { await chat.decodeSyncdSnapshot('regular_low', badSnap, getKey(keyData), undefined, true, rec2.l); } catch { threw = true; }
    assert.ok(threw || rec2.warns.length > 0, 'a flipped snapshot MAC is noticed');
    assert.equal(run('decode-snapshot', 'regular_low', hex(keyId), hex(keyData), hex(proto.SyncdSnapshot.encode(badSnap).finish())).code, 1);
    assert.equal(run('decode-snapshot', 'regular_low', hex(keyId), hex(crypto.randomBytes(32)), hex(proto.SyncdSnapshot.encode(v1).finish())).code, 1);
  });

  test(`${peer} encodeSyncdPatch: our C verifies and reads Baileys' patches`, async () => {
    const OP = proto.SyncdMutation.SyncdOperation;
    const k = getKey(keyData);
    const mods = [
      { type: 'critical_block', index: ['setting_pushName'], syncAction: { timestamp: 11, pushNameSetting: { name: 'Zoë "q"' } }, apiVersion: 1, operation: OP.SET },
      { type: 'critical_block', index: ['setting_pushName'], syncAction: { timestamp: 12, pushNameSetting: { name: 'Second' } }, apiVersion: 1, operation: OP.SET },
    ];
    let state = chat.newLTHashState();
    let ours = '-';
    for (const [i, mod] of mods.entries()) {
      const { patch, state: next } = await chat.encodeSyncdPatch(mod, keyId.toString('base64'), state, k);
      const bytes = hex(proto.SyncdPatch.encode({ ...patch, version: { version: next.version } }).finish());
      const d = ok('decode', 'critical_block', hex(keyId), hex(keyData), ours, bytes);
      assert.equal(d.version, i + 1);
      assert.equal(d.hash, hex(next.hash), 'the same LTHash as Baileys');
      assert.equal(d.mutations.length, 1);
      assert.deepEqual(d.mutations[0].index, ['setting_pushName']);
      assert.equal(d.mutations[0].version, 1);
      const v = proto.SyncActionValue.decode(Buffer.from(d.mutations[0].value, 'hex'));
      assert.equal(v.pushNameSetting.name, mod.syncAction.pushNameSetting.name);
      // refused: flipped MACs, another key
      const q = proto.SyncdPatch.decode(Buffer.from(bytes, 'hex'));
      const variants = [
        { ...q, patchMac: flip(q.patchMac, 31) },
        { ...q, snapshotMac: flip(q.snapshotMac, 10) },
        { ...q, mutations: [{ ...q.mutations[0], record: { ...q.mutations[0].record, value: { blob: flip(q.mutations[0].record.value.blob, -32) } } }] },
        { ...q, mutations: [{ ...q.mutations[0], record: { ...q.mutations[0].record, index: { blob: flip(q.mutations[0].record.index.blob, 0) } } }] },
      ];
      for (const vq of variants) {
        const rr = run('decode', 'critical_block', hex(keyId), hex(keyData), ours, hex(proto.SyncdPatch.encode(vq).finish()));
        assert.equal(rr.code, 1, rr.out);
        assert.match(rr.out, /^error: ECRYPTO|^error: /);
      }
      assert.equal(run('decode', 'critical_block', hex(keyId), hex(crypto.randomBytes(32)), ours, bytes).code, 1);
      assert.equal(run('decode', 'critical_block', hex(crypto.randomBytes(6)), hex(keyData), ours, bytes).code, 1, 'unknown key id');
      ours = d.state;
      state = next;
    }
  });
}
