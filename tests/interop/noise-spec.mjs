// The Noise XX handshake written from the Noise Protocol Framework
// specification (revision 34, noiseprotocol.org/noise.html §4-§7), with
// node:crypto only: X25519 for DH, AES-256-GCM for the cipher, SHA-256 for
// the hash, HMAC-SHA256 for HKDF (§4.3). It knows nothing of our C code and
// serves as an independent judge of it (and, run against Baileys, of itself).
//
// WhatsApp's use of it, as the names below spell out:
//  - protocol name "Noise_XX_25519_AESGCM_SHA256" (28 bytes, so §5.2 pads it
//    with zeros to HASHLEN instead of hashing it);
//  - prologue = the 4 intro bytes 'W' 'A' 6 DICT;
//  - the tokens of each message travel in separate protobuf fields of
//    HandshakeMessage instead of one concatenated buffer;
//  - ONE DEVIATION from §5.3: message 1 (`-> e`) carries no payload, and
//    WhatsApp does not run EncryptAndHash on the empty payload either, so its
//    h skips the MixHash("") the specification prescribes there. Callers
//    choose with `hashEmptyFirstPayload` (true = the specification, false =
//    WhatsApp); the vector test shows the two give different transcripts.
import crypto from 'node:crypto';

export const PROTOCOL_NAME = 'Noise_XX_25519_AESGCM_SHA256';
const HASHLEN = 32;
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

const HASH = (data) => crypto.createHash('sha256').update(data).digest();
const HMAC = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

// §4.3 HKDF(chaining_key, input_key_material, num_outputs).
export function HKDF(ck, ikm, num) {
	const temp = HMAC(ck, ikm);
	const o1 = HMAC(temp, Buffer.from([1]));
	const o2 = HMAC(temp, Buffer.concat([o1, Buffer.from([2])]));
	if (num === 2) return [o1, o2];
	return [o1, o2, HMAC(temp, Buffer.concat([o2, Buffer.from([3])]))];
}

// §4.1 DH functions for 25519.
export function keyPairFromPrivate(priv) {
	const key = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_X25519, priv]), format: 'der', type: 'pkcs8' });
	const pub = crypto.createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);
	return { priv: Buffer.from(priv), pub: Buffer.from(pub) };
}
export function DH(kp, pub) {
	return crypto.diffieHellman({
		privateKey: crypto.createPrivateKey({ key: Buffer.concat([PKCS8_X25519, kp.priv]), format: 'der', type: 'pkcs8' }),
		publicKey: crypto.createPublicKey({ key: Buffer.concat([SPKI_X25519, pub]), format: 'der', type: 'spki' }),
	});
}

// §4.2 AESGCM: nonce = 32 bits of zeros || 64-bit big-endian n.
function nonce(n) {
	const iv = Buffer.alloc(12);
	iv.writeBigUInt64BE(BigInt(n), 4);
	return iv;
}
export function ENCRYPT(k, n, ad, pt) {
	const c = crypto.createCipheriv('aes-256-gcm', k, nonce(n));
	c.setAAD(ad);
	return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}
export function DECRYPT(k, n, ad, ct) {
	if (ct.length < 16) throw new Error('ciphertext shorter than the tag');
	const d = crypto.createDecipheriv('aes-256-gcm', k, nonce(n));
	d.setAAD(ad);
	d.setAuthTag(ct.subarray(ct.length - 16));
	return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
}

// §5.1 CipherState.
export class CipherState {
	constructor(k = null) {
		this.k = k;
		this.n = 0;
	}
	encryptWithAd(ad, pt) {
		if (!this.k) return Buffer.from(pt);
		return ENCRYPT(this.k, this.n++, ad, pt);
	}
	decryptWithAd(ad, ct) {
		if (!this.k) return Buffer.from(ct);
		const pt = DECRYPT(this.k, this.n, ad, ct);
		this.n++;
		return pt;
	}
}

// §5.2 SymmetricState.
class SymmetricState {
	constructor(name) {
		const nb = Buffer.from(name);
		this.h = nb.length <= HASHLEN ? Buffer.concat([nb, Buffer.alloc(HASHLEN - nb.length)]) : HASH(nb);
		this.ck = Buffer.from(this.h);
		this.cs = new CipherState();
	}
	mixKey(ikm) {
		const [ck, k] = HKDF(this.ck, ikm, 2);
		this.ck = ck;
		this.cs = new CipherState(k);
	}
	mixHash(data) {
		this.h = HASH(Buffer.concat([this.h, data]));
	}
	encryptAndHash(pt) {
		const ct = this.cs.encryptWithAd(this.h, pt);
		this.mixHash(ct);
		return ct;
	}
	decryptAndHash(ct) {
		const pt = this.cs.decryptWithAd(this.h, ct);
		this.mixHash(ct);
		return pt;
	}
	split() {
		const [k1, k2] = HKDF(this.ck, Buffer.alloc(0), 2);
		return [new CipherState(k1), new CipherState(k2)];
	}
}

// §7 pattern XX: -> e; <- e, ee, s, es; -> s, se. No pre-messages.
const XX = [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']];

// §5.3 HandshakeState. A message is { e, s, payload } (the fields of
// WhatsApp's HandshakeMessage); absent tokens are undefined. `log`, when
// given, receives { step, h, ck } after every message.
export class HandshakeState {
	constructor({ initiator, prologue, s, e, hashEmptyFirstPayload = false, log }) {
		this.ss = new SymmetricState(PROTOCOL_NAME);
		this.ss.mixHash(prologue);
		this.initiator = initiator;
		this.s = s;
		this.e = e;
		this.rs = null;
		this.re = null;
		this.msg = 0;
		this.strict = hashEmptyFirstPayload;
		this.log = log;
	}
	get h() {
		return this.ss.h;
	}
	get ck() {
		return this.ss.ck;
	}
	dhToken(t) {
		const I = this.initiator;
		if (t === 'ee') this.ss.mixKey(DH(this.e, this.re));
		else if (t === 'es') this.ss.mixKey(I ? DH(this.e, this.rs) : DH(this.s, this.re));
		else if (t === 'se') this.ss.mixKey(I ? DH(this.s, this.re) : DH(this.e, this.rs));
		else throw new Error('token ' + t);
	}
	// Returns { message, split? }; split = [initiator->responder, responder->initiator].
	writeMessage(payload) {
		const out = {};
		for (const t of XX[this.msg]) {
			if (t === 'e') {
				out.e = this.e.pub;
				this.ss.mixHash(this.e.pub);
			} else if (t === 's') out.s = this.ss.encryptAndHash(this.s.pub);
			else this.dhToken(t);
		}
		if (this.msg > 0 || this.strict) out.payload = this.ss.encryptAndHash(payload ?? Buffer.alloc(0));
		return this.finish(out);
	}
	readMessage(m) {
		const out = {};
		for (const t of XX[this.msg]) {
			if (t === 'e') {
				if (!m.e || m.e.length !== 32) throw new Error('bad e');
				this.re = Buffer.from(m.e);
				this.ss.mixHash(this.re);
			} else if (t === 's') {
				this.rs = this.ss.decryptAndHash(m.s);
				if (this.rs.length !== 32) throw new Error('bad s');
			} else this.dhToken(t);
		}
		if (this.msg > 0 || this.strict) out.payload = this.ss.decryptAndHash(m.payload ?? Buffer.alloc(0));
		return this.finish(out);
	}
	finish(out) {
		this.log?.({ step: this.msg, h: Buffer.from(this.ss.h), ck: Buffer.from(this.ss.ck) });
		this.msg++;
		if (this.msg === 3) {
			const [c1, c2] = this.ss.split();
			out.split = [c1, c2];
		}
		return out;
	}
}

// ---- WhatsApp's carriage of the messages (protobuf HandshakeMessage) ----
// Hand-written protobuf so this file depends on nothing but node:crypto.
function varint(n) {
	const b = [];
	while (n > 127) {
		b.push((n & 127) | 128);
		n >>>= 7;
	}
	b.push(n);
	return Buffer.from(b);
}
function field(no, bytes) {
	return Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes]);
}
function fields(buf) {
	const out = {};
	let i = 0;
	const rd = () => {
		let n = 0,
			s = 0,
			c;
		do {
			if (i >= buf.length) throw new Error('truncated protobuf');
			c = buf[i++];
			n += (c & 127) * 2 ** s;
			s += 7;
		} while (c & 128);
		return n;
	};
	while (i < buf.length) {
		const key = rd();
		if ((key & 7) !== 2) throw new Error('unexpected wire type');
		const len = rd();
		if (i + len > buf.length) throw new Error('truncated field');
		out[key >>> 3] = buf.subarray(i, i + len);
		i += len;
	}
	return out;
}
// HandshakeMessage{clientHello=2{ephemeral=1,static=2,payload=3},
// serverHello=3{same}, clientFinish=4{static=1,payload=2}}.
export function encodeHandshake(which, m) {
	const parts = [];
	if (which === 'clientFinish') {
		if (m.s) parts.push(field(1, m.s));
		if (m.payload) parts.push(field(2, m.payload));
		return field(4, Buffer.concat(parts));
	}
	if (m.e) parts.push(field(1, m.e));
	if (m.s) parts.push(field(2, m.s));
	if (m.payload) parts.push(field(3, m.payload));
	return field(which === 'clientHello' ? 2 : 3, Buffer.concat(parts));
}
export function decodeHandshake(which, bytes) {
	const top = fields(bytes);
	const no = { clientHello: 2, serverHello: 3, clientFinish: 4 }[which];
	if (!top[no]) throw new Error('no ' + which);
	const f = fields(top[no]);
	return which === 'clientFinish' ? { s: f[1], payload: f[2] } : { e: f[1], s: f[2], payload: f[3] };
}

// A length-prefixed frame stream (3-byte big-endian lengths) with the
// client's intro header in front of the first frame.
export function frame(bytes) {
	const h = Buffer.alloc(3);
	h.writeUIntBE(bytes.length, 0, 3);
	return Buffer.concat([h, bytes]);
}
export class FrameReader {
	constructor({ intro = false } = {}) {
		this.buf = Buffer.alloc(0);
		this.wantIntro = intro;
		this.intro = null;
	}
	// Appends bytes and returns the complete frames now available.
	push(data) {
		this.buf = Buffer.concat([this.buf, data]);
		const out = [];
		if (this.wantIntro) {
			if (this.buf.length < 4) return out;
			this.intro = this.buf.subarray(0, 4);
			this.buf = this.buf.subarray(4);
			this.wantIntro = false;
		}
		while (this.buf.length >= 3) {
			const n = this.buf.readUIntBE(0, 3);
			if (this.buf.length < 3 + n) break;
			out.push(this.buf.subarray(3, 3 + n));
			this.buf = this.buf.subarray(3 + n);
		}
		return out;
	}
}

// A fresh X25519 key pair with a clamped private key (as XEdDSA signers
// such as libsignal's calculateSignature expect).
export function randomKeyPair() {
	const k = crypto.randomBytes(32);
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	return keyPairFromPrivate(k);
}

// The responder end over a byte stream: push() the client's bytes (intro
// first) and get back the bytes to send. It serves `cert` as the
// ServerHello payload; after ClientFinish, r.payload is the decrypted
// ClientPayload, r.clientStatic the client's noise key, r.send(pt) returns
// one transport frame and r.frames collects the decrypted ones it received.
export function specResponder({ cert, staticKey }) {
	const fr = new FrameReader({ intro: true });
	const empty = Buffer.alloc(0);
	let hs = null,
		split = null;
	const r = {
		intro: null,
		payload: null,
		clientStatic: null,
		frames: [],
		push(data) {
			const out = [];
			for (const f of fr.push(data)) {
				if (!hs) {
					r.intro = fr.intro;
					hs = new HandshakeState({ initiator: false, prologue: fr.intro, s: staticKey, e: randomKeyPair() });
					hs.readMessage(decodeHandshake('clientHello', f));
					out.push(frame(encodeHandshake('serverHello', hs.writeMessage(cert))));
				} else if (!split) {
					const m = hs.readMessage(decodeHandshake('clientFinish', f));
					r.payload = m.payload;
					r.clientStatic = hs.rs;
					split = m.split;
				} else r.frames.push(split[0].decryptWithAd(empty, f));
			}
			return Buffer.concat(out);
		},
		send(pt) {
			return frame(split[1].encryptWithAd(empty, pt));
		},
	};
	return r;
}
