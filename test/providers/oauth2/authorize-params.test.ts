/**
 * The authorization request's checks, ported from authentik's test_authorize.py (`OAuthAuthorizationParams`):
 * client, redirect URI, grant, scope, nonce, PKCE method and request objects, and where each error goes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authorizeParams, policyContextOf, type RawParams } from '../../../src/providers/oauth2/protocol/authorize-params.js';
import { AuthorizeError, ClientIdError, RedirectUriError } from '../../../src/providers/oauth2/protocol/errors.js';
import { provider } from './fixtures.js';

const FOO = 'http://local.invalid/Foo';
const MANAGED = new Set(['openid', 'email', 'profile']);

function throwsWith<E extends Error>(fn: () => unknown, type: new (...a: any[]) => E): E {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof type, `expected ${type.name}, got ${(e as Error).constructor.name}`);
    return e as E;
  }
  assert.fail(`expected ${type.name}`);
}

describe('authorization request parameters', () => {
  it('test_disallowed_grant_type: a grant the provider does not allow is invalid_request', () => {
    const e = throwsWith(
      () => authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: FOO }, provider({ grant_types: [] }), MANAGED),
      AuthorizeError,
    );
    assert.equal(e.error, 'invalid_request');
  });

  it('test_invalid_grant_type: an unknown response_type is unsupported_response_type, sent to the redirect URI with "?"', () => {
    const e = throwsWith(
      () => authorizeParams({ response_type: 'invalid', client_id: 'test', redirect_uri: FOO, state: 's1' }, provider(), MANAGED),
      AuthorizeError,
    );
    assert.equal(e.error, 'unsupported_response_type');
    assert.deepEqual(e.response(), {
      redirect: `${FOO}?error=unsupported_response_type&error_description=The%20authorization%20server%20does%20not%20support%20obtaining%20an%20authorization%20code%20using%20this%20method&state=s1`,
    });
  });

  it('test_invalid_client_id: an unknown client is a ClientIdError page', () => {
    const e = throwsWith(() => authorizeParams({ response_type: 'code', client_id: 'invalid' }, undefined, MANAGED), ClientIdError);
    assert.equal(e.error, 'Client ID Error');
    assert.equal(e.description, 'The client identifier (client_id) is missing or invalid.');
  });

  it('test_request: request objects are request_not_supported', () => {
    const e = throwsWith(
      () => authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: FOO, request: 'foo' }, provider(), MANAGED),
      AuthorizeError,
    );
    assert.equal(e.error, 'request_not_supported');
  });

  it('test_invalid_redirect_uri_*: redirect URI errors are pages with their cause, never redirects', () => {
    const p = provider({ redirect_uris: [{ matching_mode: 'strict', url: 'http://local.invalid', redirect_uri_type: 'authorization' }] });
    const missing = throwsWith(() => authorizeParams({ response_type: 'code', client_id: 'test' }, p, MANAGED), RedirectUriError);
    assert.equal(missing.cause, 'redirect_uri_missing');
    const wrong = throwsWith(
      () => authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: 'http://localhost' }, p, MANAGED),
      RedirectUriError,
    );
    assert.equal(wrong.cause, 'redirect_uri_no_match');
    assert.equal(wrong.error, 'Redirect URI Error');
    const blocked = provider({ redirect_uris: [{ matching_mode: 'strict', url: 'data:localhost', redirect_uri_type: 'authorization' }] });
    const data = throwsWith(
      () => authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: 'data:localhost' }, blocked, MANAGED),
      RedirectUriError,
    );
    assert.equal(data.cause, 'redirect_uri_forbidden_scheme');
    const invalid = provider({ redirect_uris: [{ matching_mode: 'regex', url: '+', redirect_uri_type: 'authorization' }] });
    const inv = throwsWith(
      () => authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: 'http://localhost' }, invalid, MANAGED),
      RedirectUriError,
    );
    assert.equal(inv.cause, 'redirect_uri_no_match');
    // a bad redirect URI wins over every later check: nothing is ever sent to an unverified URI
    const both = throwsWith(
      () => authorizeParams({ response_type: 'invalid', client_id: 'test', redirect_uri: 'http://evil' }, p, MANAGED),
      RedirectUriError,
    );
    assert.equal(both.cause, 'redirect_uri_no_match');
  });

  it('test_redirect_uri_regex: a regex entry allows matching URIs', () => {
    const p = provider({
      redirect_uris: [{ matching_mode: 'regex', url: '.+', redirect_uri_type: 'authorization' }],
      grant_types: ['authorization_code'],
    });
    assert.equal(
      authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: 'http://foo.bar.baz' }, p, MANAGED).redirect_uri,
      'http://foo.bar.baz',
    );
  });

  it('a provider without authorization redirect URIs learns the first one, strictly', () => {
    const p = provider({ redirect_uris: [{ matching_mode: 'strict', url: 'http://rp/logout', redirect_uri_type: 'logout' }] });
    const params = authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: 'http://rp/cb' }, p, MANAGED);
    assert.equal(params.learnRedirectUri, true);
    const known = authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: FOO }, provider(), MANAGED);
    assert.equal(known.learnRedirectUri, false);
    // a forbidden scheme is not learnt
    const e = throwsWith(
      () => authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: 'javascript:alert(1)' }, p, MANAGED),
      RedirectUriError,
    );
    assert.equal(e.cause, 'redirect_uri_forbidden_scheme');
  });

  it('test_response_type: response types map to grants; implicit needs openid; modes default by grant', () => {
    const code = authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: FOO }, provider(), MANAGED);
    assert.equal(code.grant_type, 'authorization_code');
    assert.equal(code.response_mode, 'query');
    const implicit = authorizeParams(
      { response_type: 'id_token', client_id: 'test', redirect_uri: FOO, scope: 'openid', state: 'foo', nonce: 'n' },
      provider({ grant_types: ['implicit'] }),
      MANAGED,
    );
    assert.equal(implicit.grant_type, 'implicit');
    assert.equal(implicit.response_mode, 'fragment');
    // implicit without the openid scope (an empty scope means all of the provider's, which here lack openid)
    const e = throwsWith(
      () =>
        authorizeParams(
          { response_type: 'id_token', client_id: 'test', redirect_uri: FOO, state: 'foo' },
          provider({ grant_types: ['implicit'] }),
          new Set(['email']),
        ),
      AuthorizeError,
    );
    assert.equal(e.error, 'invalid_scope');
    assert.equal(e.cause, 'scope_openid_missing');
    // implicit errors go in the fragment
    const r = e.response();
    assert.ok('redirect' in r && r.redirect.startsWith(`${FOO}#error=invalid_scope&`));
    const hybrid = authorizeParams(
      { response_type: 'code token', client_id: 'test', redirect_uri: FOO, scope: 'openid', state: 'foo' },
      provider({ grant_types: ['hybrid'] }),
      MANAGED,
    );
    assert.equal(hybrid.grant_type, 'hybrid');
    assert.equal(hybrid.response_mode, 'fragment');
    const formPost = authorizeParams(
      { response_type: 'code', response_mode: 'form_post', client_id: 'test', redirect_uri: FOO },
      provider(),
      MANAGED,
    );
    assert.equal(formPost.response_mode, 'form_post');
    const bogusMode = authorizeParams(
      { response_type: 'code', response_mode: 'bogus', client_id: 'test', redirect_uri: FOO },
      provider(),
      MANAGED,
    );
    assert.equal(bogusMode.response_mode, 'query');
  });

  it('test_openid_missing_invalid: id_token with an empty scope is invalid_scope', () => {
    const e = throwsWith(
      () =>
        authorizeParams(
          { response_type: 'id_token', client_id: 'test', redirect_uri: FOO, scope: '' },
          provider({ grant_types: ['implicit'] }),
          new Set(),
        ),
      AuthorizeError,
    );
    assert.equal(e.cause, 'scope_openid_missing');
  });

  it('scopes: none asked means all of the provider’s; unknown ones are intersected away silently', () => {
    const all = authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: FOO }, provider(), MANAGED);
    assert.deepEqual([...all.scope].sort(), ['email', 'openid', 'profile']);
    const some = authorizeParams(
      { response_type: 'code', client_id: 'test', redirect_uri: FOO, scope: 'openid  unknown\temail' },
      provider(),
      MANAGED,
    );
    assert.deepEqual([...some.scope], ['openid', 'email']);
    const none = authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: FOO, scope: 'unknown' }, provider(), MANAGED);
    assert.deepEqual([...none.scope], []);
  });

  it('test_offline_access_invalid: offline_access forces consent and is dropped without a code', () => {
    const scopes = new Set(['openid', 'offline_access']);
    const implicit = authorizeParams(
      {
        response_type: 'id_token',
        client_id: 'test',
        redirect_uri: 'http://local.invalid/Foo',
        scope: 'openid offline_access',
        nonce: 'n',
      },
      provider({ grant_types: ['implicit'] }),
      scopes,
    );
    assert.equal(implicit.scope.has('offline_access'), false);
    assert.equal(implicit.prompt.has('consent'), true);
    const code = authorizeParams(
      { response_type: 'code', client_id: 'test', redirect_uri: FOO, scope: 'openid offline_access' },
      provider(),
      scopes,
    );
    assert.equal(code.scope.has('offline_access'), true);
    assert.deepEqual([...code.prompt], ['consent']);
  });

  it('nonce: required when the authorization endpoint returns an ID token', () => {
    for (const rt of ['id_token', 'id_token token', 'code id_token', 'code id_token token']) {
      const e = throwsWith(
        () =>
          authorizeParams({ response_type: rt, client_id: 'test', redirect_uri: FOO, scope: 'openid', state: 'st' }, provider(), MANAGED),
        AuthorizeError,
      );
      assert.equal(e.error, 'invalid_request', rt);
    }
    // not for the code flow (oidcc-ensure-request-without-nonce-succeeds-for-code-flow)
    assert.equal(
      authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: FOO, scope: 'openid' }, provider(), MANAGED).nonce,
      undefined,
    );
    assert.equal(
      authorizeParams({ response_type: 'code token', client_id: 'test', redirect_uri: FOO, scope: 'openid' }, provider(), MANAGED)
        .grant_type,
      'hybrid',
    );
  });

  it('PKCE: the method defaults to plain; only plain and S256 are accepted', () => {
    const plain = authorizeParams(
      { response_type: 'code', client_id: 'test', redirect_uri: FOO, code_challenge: 'abc' },
      provider(),
      MANAGED,
    );
    assert.equal(plain.code_challenge_method, 'plain');
    const s256 = authorizeParams(
      { response_type: 'code', client_id: 'test', redirect_uri: FOO, code_challenge: 'abc', code_challenge_method: 'S256' },
      provider(),
      MANAGED,
    );
    assert.equal(s256.code_challenge_method, 'S256');
    const e = throwsWith(
      () =>
        authorizeParams(
          { response_type: 'code', client_id: 'test', redirect_uri: FOO, code_challenge: 'abc', code_challenge_method: 'S512', state: 'x' },
          provider(),
          MANAGED,
        ),
      AuthorizeError,
    );
    assert.equal(e.error, 'invalid_request');
    assert.equal(e.description, 'Unsupported challenge method S512');
    assert.deepEqual(e.response(), {
      redirect: `${FOO}?error=invalid_request&error_description=Unsupported%20challenge%20method%20S512&state=x`,
    });
  });

  it('prompt keeps none/consent/login only; max_age is an integer or absent', () => {
    const p = authorizeParams(
      { response_type: 'code', client_id: 'test', redirect_uri: FOO, prompt: 'login select_account none', max_age: ' 10 ' },
      provider(),
      MANAGED,
    );
    assert.deepEqual([...p.prompt].sort(), ['login', 'none']);
    assert.equal(p.max_age, 10);
    assert.equal(
      authorizeParams({ response_type: 'code', client_id: 'test', redirect_uri: FOO, max_age: 'x' }, provider(), MANAGED).max_age,
      undefined,
    );
  });

  it('application policies see authentik’s oauth_* context', () => {
    const q: RawParams = {
      response_type: 'code',
      client_id: 'test',
      redirect_uri: FOO,
      scope: 'openid',
      code_challenge: 'c',
      max_age: '5',
    };
    assert.deepEqual(policyContextOf(authorizeParams(q, provider(), MANAGED)), {
      oauth_scopes: ['openid'],
      oauth_grant_type: 'authorization_code',
      oauth_code_challenge: 'c',
      oauth_code_challenge_method: 'plain',
      oauth_max_age: 5,
      oauth_redirect_uri: FOO,
      oauth_response_type: 'code',
    });
  });
});
