/** PKCE at the token endpoint, ported from authentik's test_token_pkce.py. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { s256, verifyPkce } from '../../../src/providers/oauth2/protocol/pkce.js';
import { generateId } from '../../../src/providers/oauth2/protocol/random.js';

describe('PKCE', () => {
  it('RFC 7636 appendix B: the S256 example', () => {
    assert.equal(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('test_pkce_missing_in_authorize: a code with a challenge needs a verifier', () => {
    assert.equal(verifyPkce({ code_challenge: generateId(), code_challenge_method: 'S256' }, undefined), false);
    assert.equal(verifyPkce({ code_challenge: generateId(), code_challenge_method: 'S256' }, ''), false);
  });

  it('test_pkce_missing_in_token: a verifier for a code without a challenge is refused (no downgrade)', () => {
    assert.equal(verifyPkce({ code_challenge: null, code_challenge_method: null }, generateId()), false);
    assert.equal(verifyPkce({ code_challenge: null, code_challenge_method: null }, undefined), true);
  });

  it('test_pkce_correct_s256', () => {
    const verifier = generateId();
    const challenge = createHash('sha256')
      .update(verifier, 'ascii')
      .digest('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=/g, '');
    assert.equal(verifyPkce({ code_challenge: challenge, code_challenge_method: 'S256' }, verifier), true);
    assert.equal(verifyPkce({ code_challenge: challenge, code_challenge_method: 'S256' }, `${verifier}x`), false);
    // S256 challenge presented as plain does not match
    assert.equal(verifyPkce({ code_challenge: challenge, code_challenge_method: 'plain' }, verifier), false);
  });

  it('test_pkce_correct_plain: the method stored as plain (the default) compares verbatim', () => {
    const verifier = generateId();
    assert.equal(verifyPkce({ code_challenge: verifier, code_challenge_method: 'plain' }, verifier), true);
    assert.equal(verifyPkce({ code_challenge: verifier, code_challenge_method: null }, verifier), true);
    assert.equal(verifyPkce({ code_challenge: verifier, code_challenge_method: 'plain' }, verifier.slice(1)), false);
  });

  it('a non-ASCII verifier never matches', () => {
    assert.equal(verifyPkce({ code_challenge: 'é', code_challenge_method: 'plain' }, 'é'), false);
  });
});
