// The passkey step of linking end to end: a real `yesapp serve` linked to a
// real `yesapp sim` whose account requires the step. The assertion is made
// here with node:crypto, as an authenticator would (ES256 over
// authenticatorData || SHA-256(clientDataJSON)), with the test key the sim
// hands out; the sim verifies it with OpenSSL. Nothing here reaches WhatsApp.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, stopServer, req } from './lib.mjs';
import { startSim, sleep } from '../interop/sim-lib.mjs';

let sim, root;
before(async () => {
  sim = await startSim();
  root = (await sim.api('GET', '/sim/info')).json.rootPublicKey;
});
after(async () => { await sim.stop(); });

const KEY = 'passkey-test-key-0123456789';
const serve = async () => {
  const srv = await startServer({ env: { WA_WS_URL: sim.wsUrl, WA_ROOT_KEY: root, API_KEY: KEY } });
  srv.key = KEY;
  return srv;
};

async function until(srv, id, pred, what, ms = 15000) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < ms) {
    last = await req(srv, 'GET', `/api/v1/sessions/${id}`);
    if (last.status === 200 && pred(last.body)) return last.body;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}: ${last && last.text}`);
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');

// An assertion as PublicKeyCredential.toJSON() gives it on web.whatsapp.com.
function makeAssertion(options, { privateKeyPem, credentialId }, tweak = {}) {
  const clientData = Buffer.from(JSON.stringify({
    type: 'webauthn.get',
    challenge: tweak.challenge ?? options.challenge,
    origin: tweak.origin ?? 'https://web.whatsapp.com',
    crossOrigin: false,
  }));
  const rpIdHash = crypto.createHash('sha256').update(options.rpId).digest();
  const authData = Buffer.concat([rpIdHash, Buffer.from([0x05]), Buffer.from([0, 0, 0, 1])]);
  const signed = Buffer.concat([authData, crypto.createHash('sha256').update(clientData).digest()]);
  let sig = crypto.sign('sha256', signed, crypto.createPrivateKey(privateKeyPem)); // DER
  if (tweak.flipSig) { sig = Buffer.from(sig); sig[sig.length - 1] ^= 1; }
  // the same check the sim makes, here with node:crypto: true, and false once flipped
  const pub = crypto.createPublicKey(privateKeyPem);
  assert.equal(crypto.verify('sha256', signed, pub, sig), !tweak.flipSig);
  return {
    id: credentialId, rawId: credentialId, type: 'public-key',
    response: { clientDataJSON: b64u(clientData), authenticatorData: b64u(authData), signature: b64u(sig), userHandle: null },
    authenticatorAttachment: 'platform', clientExtensionResults: {},
  };
}

let phoneSeq = 0;
const newPhone = () => `1556${String(process.pid % 1000).padStart(3, '0')}${String(phoneSeq++).padStart(4, '0')}`;

// A session scanned by an account that requires the passkey.
async function toPasskey(srv) {
  const phone = newPhone();
  assert.equal((await sim.api('POST', '/sim/accounts', { phone })).status, 201);
  const pk = await sim.api('POST', `/sim/accounts/${phone}/passkey`, { required: true });
  assert.equal(pk.status, 200, pk.text);
  assert.match(pk.json.privateKeyPem, /BEGIN PRIVATE KEY/);
  const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'pk' } });
  assert.equal(c.status, 201, c.text);
  const s = c.body.qrCode ? c.body : await until(srv, c.body.id, (x) => x.qrCode, 'a QR');
  const scan = await sim.api('POST', '/sim/scan', { phone, qr: s.qrCode });
  assert.equal(scan.status, 200, scan.text);
  assert.equal(scan.json.passkeyRequired, true);
  assert.equal(scan.json.jid, null);
  const held = await until(srv, s.id, (x) => x.status === 'passkey_required', 'passkey_required');
  assert.equal(held.qrCode, null, 'the QR stops while the passkey is pending');
  return { phone, id: s.id, key: pk.json };
}

test('passkey flow: passkey_required with options, assertion, code, connected', async () => {
  const srv = await serve();
  try {
    const { phone, id, key } = await toPasskey(srv);
    const g = await req(srv, 'GET', `/api/v1/sessions/${id}/passkey`);
    assert.equal(g.status, 200, g.text);
    const opts = g.body.publicKey;
    assert.equal(opts.rpId, 'whatsapp.com');
    assert.equal(opts.timeout, 600000);
    assert.equal(opts.userVerification, 'required');
    assert.equal(Buffer.from(opts.challenge, 'base64url').length, 32);
    assert.equal(g.body.confirmationCode, null);
    // the QR timer stopped: no new QR and still held after the first QR's 60 s would not be
    // testable quickly; at least no QR comes back while waiting
    await sleep(300);
    assert.equal((await req(srv, 'GET', `/api/v1/sessions/${id}`)).body.qrCode, null);

    const a = makeAssertion(opts, key);
    const p = await req(srv, 'POST', `/api/v1/sessions/${id}/passkey`, { body: { assertion: a } });
    assert.equal(p.status, 202, p.text);
    const done = await until(srv, id, (x) => x.status === 'connected', 'connected');
    assert.equal(done.phone, phone);
    const st = await sim.api('GET', `/sim/accounts/${phone}/passkey`);
    assert.equal(st.json.accepted, 1);
    assert.equal(st.json.handoffProof, true, 'the client proved the handoff (assertion within 5 min)');
    assert.match(st.json.confirmationCode, /^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$/);
    const devs = (await sim.api('GET', `/sim/accounts/${phone}/devices`)).json.devices;
    assert.equal(devs.length, 1);
    assert.equal((await req(srv, 'GET', `/api/v1/sessions/${id}/passkey`)).status, 404);
    assert.equal(done.confirmationCode, null, 'the code goes once linked');
  } finally { await stopServer(srv); }
});

test('passkey: malformed assertions are 400; a wrong signature is refused by the sim and reported', async () => {
  const srv = await serve();
  try {
    const { phone, id, key } = await toPasskey(srv);
    const opts = (await req(srv, 'GET', `/api/v1/sessions/${id}/passkey`)).body.publicKey;
    const good = makeAssertion(opts, key);
    const bad = [
      {},
      { assertion: 'not json' },
      { assertion: { ...good, type: 'password' } },
      { assertion: { ...good, rawId: 'a+b/' } },
      { assertion: { ...good, response: { ...good.response, signature: '' } } },
      { assertion: { ...good, response: { ...good.response, authenticatorData: b64u(Buffer.alloc(10)) } } },
    ];
    for (const body of bad) {
      const r = await req(srv, 'POST', `/api/v1/sessions/${id}/passkey`, { body });
      assert.equal(r.status, 400, JSON.stringify(body) + ' ' + r.text);
      assert.ok(['INVALID_PASSKEY_ASSERTION', 'VALIDATION_ERROR'].includes(r.body.error), r.text);
    }
    // well formed, but the signature is wrong: the sim refuses, the session says so
    const flipped = makeAssertion(opts, key, { flipSig: true });
    let r = await req(srv, 'POST', `/api/v1/sessions/${id}/passkey`, { body: { assertion: flipped } });
    assert.equal(r.status, 202, r.text);
    let s = await until(srv, id, (x) => x.reason === 'passkey_rejected', 'passkey_rejected');
    assert.equal(s.status, 'passkey_required');
    let st = (await sim.api('GET', `/sim/accounts/${phone}/passkey`)).json;
    assert.equal(st.refused, 1);
    assert.equal(st.lastError, 'bad signature');
    // another challenge signed correctly: refused for the challenge
    r = await req(srv, 'POST', `/api/v1/sessions/${id}/passkey`,
      { body: { assertion: JSON.stringify(makeAssertion(opts, key, { challenge: b64u(crypto.randomBytes(32)) })) } });
    assert.equal(r.status, 202, r.text);
    for (let i = 0; i < 200 && (await sim.api('GET', `/sim/accounts/${phone}/passkey`)).json.refused < 2; i++) await sleep(25);
    st = (await sim.api('GET', `/sim/accounts/${phone}/passkey`)).json;
    assert.equal(st.refused, 2);
    assert.equal(st.lastError, 'challenge mismatch');
    // and the right one (pasted as a string) still links within the window
    r = await req(srv, 'POST', `/api/v1/sessions/${id}/passkey`, { body: { assertion: JSON.stringify(good) } });
    assert.equal(r.status, 202, r.text);
    s = await until(srv, id, (x) => x.status === 'connected', 'connected');
    assert.equal(s.phone, phone);
    // nothing pending any more: 409
    r = await req(srv, 'POST', `/api/v1/sessions/${id}/passkey`, { body: { assertion: good } });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.error, 'PASSKEY_NOT_REQUIRED');
  } finally { await stopServer(srv); }
});

test('passkey: unknown session 404, a session not asked 404/409, the sim control call validates', async () => {
  const srv = await serve();
  try {
    assert.equal((await req(srv, 'GET', '/api/v1/sessions/00000000-0000-4000-8000-000000000000/passkey')).status, 404);
    const c = await req(srv, 'POST', '/api/v1/sessions', { body: { name: 'nopk' } });
    const g = await req(srv, 'GET', `/api/v1/sessions/${c.body.id}/passkey`);
    assert.equal(g.status, 404);
    assert.equal(g.body.error, 'PASSKEY_NOT_REQUIRED');
    const phone = newPhone();
    await sim.api('POST', '/sim/accounts', { phone });
    assert.equal((await sim.api('POST', `/sim/accounts/${phone}/passkey`, { required: 'yes' })).status, 400);
    assert.equal((await sim.api('POST', `/sim/accounts/${phone}/passkey`, { required: true, publicKeyPem: 'nope' })).status, 400);
    // a caller's own key (an Ed25519 key is not ES256: refused)
    const ed = crypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    assert.equal((await sim.api('POST', `/sim/accounts/${phone}/passkey`, { required: true, publicKeyPem: ed })).status, 400);
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    const ok = await sim.api('POST', `/sim/accounts/${phone}/passkey`, { required: true, publicKeyPem: ec, credentialId: 'AAEC' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.credentialId, 'AAEC');
    assert.equal(ok.json.privateKeyPem, undefined);
    const off = await sim.api('POST', `/sim/accounts/${phone}/passkey`, { required: false });
    assert.equal(off.json.required, false);
  } finally { await stopServer(srv); }
});
