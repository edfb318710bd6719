/**
 * Per-request secrets (session keys, CSRF tokens, CSP nonces) come from a pooled CSPRNG draw: every token has the
 * asked number of bytes, and no bytes are handed out twice, across many refills of the pool.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomToken } from '../../src/crypto/random.js';

describe('randomToken', () => {
  it('gives tokens of the asked size and encoding, never the same twice across pool refills', () => {
    const seen = new Set<string>();
    // 32 + 16 + 20 bytes a round: 68 bytes × 2,000 rounds is some thirty refills of a 4 KiB pool
    for (let i = 0; i < 2000; i++) {
      const key = randomToken(32, 'base64url');
      const nonce = randomToken(16, 'base64');
      const hex = randomToken(20, 'hex');
      assert.equal(Buffer.from(key, 'base64url').length, 32);
      assert.match(key, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(nonce, 'base64').length, 16);
      assert.match(hex, /^[0-9a-f]{40}$/);
      for (const t of [key, nonce, hex]) {
        assert.ok(!seen.has(t), 'a token was handed out twice');
        seen.add(t);
      }
    }
  });

  it('spreads its bytes evenly (no zeroed or repeated pool handed out)', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4000; i++) for (const b of Buffer.from(randomToken(32, 'hex'), 'hex')) counts[b]!++;
    // 128,000 bytes: 500 expected per value; a zeroed pool would pile thousands on 0
    assert.ok(Math.max(...counts) < 650 && Math.min(...counts) > 350, `byte counts ${Math.min(...counts)}–${Math.max(...counts)}`);
  });

  it('refuses more than a pool at once', () => {
    assert.throws(() => randomToken(4097, 'hex'), RangeError);
  });
});
