/** RP-initiated logout's checks (authentik's EndSessionView.validate, test_end_session.py) and the logout token. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { endSessionRequest, logoutTokenClaims } from '../../../src/providers/oauth2/protocol/end-session.js';
import { TokenError } from '../../../src/providers/oauth2/protocol/errors.js';
import { hs256Signer } from '../../../src/providers/oauth2/protocol/sign.js';
import { verificationKeyOf } from '../../../src/providers/oauth2/protocol/verify.js';
import type { RedirectUri } from '../../../src/providers/oauth2/protocol/types.js';

const SECRET = 'client-secret';
const ISS = 'http://testserver/application/o/app/';
const keys = [verificationKeyOf(hs256Signer(SECRET))];
const provider = {
  client_id: 'test',
  redirect_uris: [
    { matching_mode: 'strict', url: 'http://rp/cb', redirect_uri_type: 'authorization' },
    { matching_mode: 'strict', url: 'http://rp/logged-out', redirect_uri_type: 'logout' },
    { matching_mode: 'regex', url: 'https://rp\\.example/bye/.*', redirect_uri_type: 'logout' },
  ] as RedirectUri[],
};
const hint = (claims: Record<string, unknown> = {}) =>
  new SignJWT({ iss: ISS, aud: 'test', sub: 'u', exp: Math.floor(Date.now() / 1000) + 60, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(SECRET));

async function cause(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TokenError);
    assert.equal(e.error, 'invalid_request');
    return e.cause;
  }
  assert.fail('expected a TokenError');
}

describe('end-session request', () => {
  it('no parameters: nothing to check, no redirect', async () => {
    assert.deepEqual(await endSessionRequest({}, provider, keys, ISS), {});
  });

  it('a registered logout URI (strict or regex) with state appended, quoted', async () => {
    const r = await endSessionRequest(
      { id_token_hint: await hint(), post_logout_redirect_uri: 'http://rp/logged-out', state: 'a/b c' },
      provider,
      keys,
      ISS,
    );
    assert.equal(r.postLogoutRedirectUri, 'http://rp/logged-out?state=a%2Fb%20c');
    const q = await endSessionRequest(
      { id_token_hint: await hint(), post_logout_redirect_uri: 'https://rp.example/bye/x?y=1', state: 's' },
      provider,
      keys,
      ISS,
    );
    assert.equal(q.postLogoutRedirectUri, 'https://rp.example/bye/x?y=1&state=s');
  });

  it('an expired ID token is still a valid hint', async () => {
    const r = await endSessionRequest(
      { id_token_hint: await hint({ exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }) },
      provider,
      keys,
      ISS,
    );
    assert.equal(r.hint?.sub, 'u');
  });

  it('refusals: a redirect without a hint, an authorization URI, another client’s or issuer’s hint, a forbidden scheme', async () => {
    assert.equal(
      await cause(endSessionRequest({ post_logout_redirect_uri: 'http://rp/logged-out' }, provider, keys, ISS)),
      'id_token_hint_missing',
    );
    assert.equal(
      await cause(endSessionRequest({ id_token_hint: await hint(), post_logout_redirect_uri: 'http://rp/cb' }, provider, keys, ISS)),
      'invalid_post_logout_redirect_uri',
    );
    assert.equal(
      await cause(endSessionRequest({ id_token_hint: await hint({ aud: 'other' }) }, provider, keys, ISS)),
      'id_token_hint_decode_failed',
    );
    assert.equal(
      await cause(endSessionRequest({ id_token_hint: await hint({ iss: 'http://evil/' }) }, provider, keys, ISS)),
      'id_token_hint_decode_failed',
    );
    assert.equal(await cause(endSessionRequest({ id_token_hint: 'garbage' }, provider, keys, ISS)), 'id_token_hint_decode_failed');
    assert.equal(
      await cause(endSessionRequest({ id_token_hint: await hint(), post_logout_redirect_uri: 'javascript:alert(1)' }, provider, keys, ISS)),
      'post_logout_redirect_uri',
    );
  });

  it('the back-channel logout token’s claims', () => {
    const c = logoutTokenClaims(ISS, 'test', 'u', 'sid-1', new Date(1_000_000_000_000));
    assert.deepEqual(Object.keys(c), ['iss', 'aud', 'iat', 'exp', 'jti', 'events', 'sub', 'sid']);
    assert.equal(c.iat, 1_000_000_000);
    assert.deepEqual(c.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
  });
});
