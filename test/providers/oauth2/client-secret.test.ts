/** The client secret check (`secretMatches`): as sent, or form-encoded first (RFC 6749 §2.3.1); anything else refused. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { secretMatches } from '../../../src/providers/oauth2/endpoints/http.js';

describe('client secret comparison', () => {
  it('the secret as sent, or form-encoded, matches; anything else does not', () => {
    const secret = 'a b/c+d%é';
    assert.equal(secretMatches(secret, secret), true);
    assert.equal(secretMatches('a+b%2Fc%2Bd%25%C3%A9', secret), true);
    for (const wrong of ['', 'a b/c+d%', `${secret} `, 'A B/C+D%É', '%E0%A4%A']) assert.equal(secretMatches(wrong, secret), false, wrong);
    assert.equal(secretMatches('', ''), true);
  });
});
