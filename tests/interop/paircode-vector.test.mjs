// The pair-code vector (tests/vectors/paircode.txt) is what
// tests/vectors/paircode.mjs computes with node:crypto, and its two
// WhatsApp-specific pieces are judged by Baileys 7's own utilities: the code
// alphabet and bit order (bytesToCrockford) and the PBKDF2 key of a code
// (derivePairingCodeKey). tests/unit/test_paircode.c replays the file
// against src/wa/paircode.c.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { vectorText, vectorPath, encodeCode, makeVector, wrap } from '../vectors/paircode.mjs';

const utils = await import('baileys7/lib/Utils/index.js');

test('the committed vector is the script\'s output', () => {
	assert.equal(fs.readFileSync(vectorPath, 'utf8'), vectorText());
});

test('the code encoding is Baileys 7\'s bytesToCrockford', () => {
	for (let i = 0; i < 200; i++) {
		const b = crypto.randomBytes(5);
		assert.equal(encodeCode(b), utils.bytesToCrockford(b));
	}
	const v = makeVector();
	assert.equal(v.code_2_ascii, utils.bytesToCrockford(v.code_bytes_2));
	// a broken encoder (least significant bits first) disagrees
	const lsbFirst = (b) => encodeCode(Buffer.from(b).reverse());
	assert.notEqual(lsbFirst(v.code_bytes_2), utils.bytesToCrockford(v.code_bytes_2));
});

test('the wrapping key is Baileys 7\'s derivePairingCodeKey, and its CTR', async () => {
	const v = makeVector();
	const key = Buffer.from(await utils.derivePairingCodeKey(v.code_2_ascii, v.wrap_salt));
	const ct = utils.aesEncryptCTR(v.companion_eph_pub, key, v.wrap_iv);
	assert.deepEqual(Buffer.concat([v.wrap_salt, v.wrap_iv, ct]), v.wrapped_companion);
	// another code gives another wrapping
	const wrongCode = v.code_2_ascii.slice(0, 7) + (v.code_2_ascii[7] === 'Z' ? 'Y' : 'Z');
	const other = wrap(wrongCode, v.companion_eph_pub, v.wrap_salt, v.wrap_iv);
	assert.notDeepEqual(other, v.wrapped_companion);
});
