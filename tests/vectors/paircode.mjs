// Generates tests/vectors/paircode.txt: the pair-code (link code) crypto of
// protocol-map.md §5.2 computed with node:crypto alone (no line of our C
// code involved), from fixed inputs. tests/unit/test_paircode.c replays it
// against src/wa/paircode.c; tests/interop/paircode-vector.test.mjs checks
// the committed file is what this script computes.
//
//   node tests/vectors/paircode.mjs          print the vector
//   node tests/vectors/paircode.mjs --write  rewrite tests/vectors/paircode.txt
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export const vectorPath = fileURLToPath(new URL('./paircode.txt', import.meta.url));

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTVWXYZ';
const fixed = (name, n = 32) =>
	crypto.createHash('sha256').update('yesapp pair-code vector: ' + name).digest().subarray(0, n);

// RFC 4648 base32 bit order (most significant first) over WhatsApp's alphabet
export function encodeCode(bytes) {
	let bits = '';
	for (const b of bytes) bits += b.toString(2).padStart(8, '0');
	let out = '';
	for (let i = 0; i + 5 <= bits.length; i += 5) out += ALPHABET[parseInt(bits.slice(i, i + 5), 2)];
	return out;
}

const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const privKey = (raw) => crypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw]), format: 'der', type: 'pkcs8' });
const pubOf = (raw) => crypto.createPublicKey(privKey(raw)).export({ format: 'der', type: 'spki' }).subarray(12);
const dh = (priv, pub) => crypto.diffieHellman({
	privateKey: privKey(priv),
	publicKey: crypto.createPublicKey({ key: Buffer.concat([X25519_SPKI, pub]), format: 'der', type: 'spki' }),
});

export function wrap(code, pub, salt, iv) {
	const key = crypto.pbkdf2Sync(Buffer.from(code, 'ascii'), salt, 2 << 16, 32, 'sha256');
	const c = crypto.createCipheriv('aes-256-ctr', key, iv);
	return Buffer.concat([salt, iv, c.update(pub), c.final()]);
}

export function makeVector() {
	const v = {};
	v.code_bytes_0 = Buffer.alloc(5, 0);
	v.code_0_ascii = encodeCode(v.code_bytes_0);
	v.code_bytes_1 = Buffer.alloc(5, 0xff);
	v.code_1_ascii = encodeCode(v.code_bytes_1);
	v.code_bytes_2 = fixed('code', 5);
	v.code_2_ascii = encodeCode(v.code_bytes_2);
	const code = v.code_2_ascii;
	v.companion_eph_priv = fixed('companion ephemeral');
	v.companion_eph_pub = pubOf(v.companion_eph_priv);
	v.primary_eph_priv = fixed('primary ephemeral');
	v.primary_eph_pub = pubOf(v.primary_eph_priv);
	v.companion_ident_priv = fixed('companion identity');
	v.companion_ident_pub = pubOf(v.companion_ident_priv);
	v.primary_ident_priv = fixed('primary identity');
	v.primary_ident_pub = pubOf(v.primary_ident_priv);
	v.wrap_salt = fixed('wrap salt');
	v.wrap_iv = fixed('wrap iv', 16);
	v.wrapped_companion = wrap(code, v.companion_eph_pub, v.wrap_salt, v.wrap_iv);
	v.eph_shared = dh(v.companion_eph_priv, v.primary_eph_pub);
	v.ident_shared = dh(v.companion_ident_priv, v.primary_ident_pub);
	v.bundle_salt = fixed('bundle salt');
	v.bundle_nonce = fixed('bundle nonce', 12);
	v.adv_random = fixed('adv random');
	const bkey = Buffer.from(crypto.hkdfSync('sha256', v.eph_shared, v.bundle_salt,
		Buffer.from('link_code_pairing_key_bundle_encryption_key'), 32));
	const g = crypto.createCipheriv('aes-256-gcm', bkey, v.bundle_nonce);
	const ct = Buffer.concat([g.update(Buffer.concat([v.companion_ident_pub, v.primary_ident_pub, v.adv_random])), g.final()]);
	v.bundle = Buffer.concat([v.bundle_salt, v.bundle_nonce, ct, g.getAuthTag()]);
	v.adv_secret = Buffer.from(crypto.hkdfSync('sha256', Buffer.concat([v.eph_shared, v.ident_shared, v.adv_random]),
		Buffer.alloc(0), Buffer.from('adv_secret'), 32));
	return v;
}

export function vectorText() {
	const v = makeVector();
	let out = '# pair-code crypto vector (protocol-map.md §5.2), made by tests/vectors/paircode.mjs\n';
	for (const [k, x] of Object.entries(v))
		out += `${k} ${Buffer.from(x).toString('hex')}\n`; // codes as hex of their ASCII
	return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	if (process.argv.includes('--write')) fs.writeFileSync(vectorPath, vectorText());
	else process.stdout.write(vectorText());
}
