/** authentik's OAuth2 error shapes (authentik/common/oauth/errors.py) and the redirect/response encodings. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthorizeError,
  BearerTokenError,
  DeviceCodeError,
  pyQuote,
  schemeOf,
  TokenError,
  TokenRevocationError,
  UserAuthError,
} from '../../../src/providers/oauth2/protocol/errors.js';
import { authorizationResponse, pyUrlencode, withFragment, withQuery } from '../../../src/providers/oauth2/protocol/responses.js';

describe('OAuth2 errors', () => {
  it('token errors: create_dict with authentik’s descriptions (test_token_pkce’s body)', () => {
    assert.deepEqual(new TokenError('invalid_grant').body(), {
      error: 'invalid_grant',
      error_description:
        'The provided authorization grant or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client',
    });
    assert.equal(new TokenError('invalid_client').description.startsWith('Client authentication failed'), true);
    assert.equal(new TokenRevocationError('unsupported_token_type').error, 'unsupported_token_type');
    assert.equal(new DeviceCodeError('authorization_pending').body().error, 'authorization_pending');
    assert.deepEqual(new UserAuthError().body(), {
      error: 'access_denied',
      error_description: 'The resource owner or authorization server denied the request.',
    });
  });

  it('bearer errors carry their status', () => {
    assert.equal(new BearerTokenError('invalid_token').status, 401);
    assert.equal(new BearerTokenError('insufficient_scope').status, 403);
    assert.equal(new BearerTokenError('invalid_request').status, 400);
  });

  it('authorize errors: query for the code flow, fragment for implicit and hybrid, state appended as given', () => {
    const code = new AuthorizeError('http://rp/cb', 'login_required', 'authorization_code', 'abc');
    assert.equal(
      code.createUri(),
      'http://rp/cb?error=login_required&error_description=The%20Authorization%20Server%20requires%20End-User%20authentication&state=abc',
    );
    const implicit = new AuthorizeError('http://rp/cb', 'access_denied', 'implicit', undefined);
    assert.equal(
      implicit.createUri(),
      'http://rp/cb#error=access_denied&error_description=The%20resource%20owner%20or%20authorization%20server%20denied%20the%20request',
    );
    assert.ok(
      new AuthorizeError('http://rp/cb', 'consent_required', 'hybrid', 's').createUri().startsWith('http://rp/cb#error=consent_required&'),
    );
    // no scheme (no redirect URI): a page instead of a redirect
    assert.deepEqual(new AuthorizeError('', 'invalid_request', '', undefined).response(), {
      page: { title: 'invalid_request', description: 'The request is otherwise malformed' },
    });
  });

  it('pyQuote is urllib.parse.quote; schemeOf is urlsplit’s scheme', () => {
    assert.equal(pyQuote("a b/c~d_e.f-g!*'()é"), 'a%20b/c~d_e.f-g%21%2A%27%28%29%C3%A9');
    assert.equal(schemeOf('HTTP://x'), 'http');
    assert.equal(schemeOf('foo://localhost'), 'foo');
    assert.equal(schemeOf('/relative'), '');
    assert.equal(schemeOf('1abc:x'), '');
  });
});

describe('authorization responses', () => {
  it('query mode: code and state after the redirect URI’s own query (test_full_code)', () => {
    assert.equal(
      withQuery('foo://localhost', [
        ['code', 'c0de'],
        ['state', 'st'],
      ]),
      'foo://localhost?code=c0de&state=st',
    );
    assert.equal(
      withQuery('http://rp/cb?x=1&empty=&x=2', [
        ['code', 'c'],
        ['state', ''],
      ]),
      'http://rp/cb?x=1&x=2&code=c&state=',
    );
    assert.equal(
      withQuery('http://rp/cb?state=old&y=1', [
        ['code', 'c'],
        ['state', 'a b'],
      ]),
      'http://rp/cb?state=a+b&y=1&code=c',
    );
  });

  it('fragment mode: appended to the fragment (test_full_fragment_code, test_full_implicit)', () => {
    assert.equal(
      withFragment('http://localhost', [
        ['code', 'c'],
        ['state', 's'],
      ]),
      'http://localhost#code=c&state=s',
    );
    assert.equal(
      withFragment('http://localhost', [
        ['id_token', 'a.b.c'],
        ['token_type', 'Bearer'],
        ['expires_in', '3600'],
        ['state', 's'],
      ]),
      'http://localhost#id_token=a.b.c&token_type=Bearer&expires_in=3600&state=s',
    );
  });

  it('form_post: authentik’s autosubmit attrs (test_full_form_post_code), blank values left out', () => {
    assert.deepEqual(
      authorizationResponse('http://localhost', 'form_post', [
        ['code', 'c'],
        ['state', 's'],
      ]),
      {
        formPost: { url: 'http://localhost', attrs: { code: 'c', state: 's' } },
      },
    );
    assert.deepEqual(
      authorizationResponse('http://localhost', 'form_post', [
        ['code', 'c'],
        ['state', ''],
      ]),
      {
        formPost: { url: 'http://localhost', attrs: { code: 'c' } },
      },
    );
  });

  it('urlencode is quote_plus', () => {
    assert.equal(pyUrlencode([['a b', 'c+d/é~']]), 'a+b=c%2Bd%2F%C3%A9~');
  });
});
