/**
 * Redirect URI matching (authentik's views/authorize.py `check_redirect_uri`, test_authorize.py's redirect cases):
 * strict equality, regex full match on re2js, an invalid regex compared strictly, forbidden schemes refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkRedirectUri,
  entriesOfType,
  entryMatches,
  isInvalidRegex,
  originMatches,
} from '../../../src/providers/oauth2/protocol/redirect-uri.js';
import type { RedirectUri } from '../../../src/providers/oauth2/protocol/types.js';

const strict = (url: string, type: RedirectUri['redirect_uri_type'] = 'authorization'): RedirectUri => ({
  matching_mode: 'strict',
  url,
  redirect_uri_type: type,
});
const regex = (url: string, type: RedirectUri['redirect_uri_type'] = 'authorization'): RedirectUri => ({
  matching_mode: 'regex',
  url,
  redirect_uri_type: type,
});

describe('redirect URI matching', () => {
  it('test_invalid_redirect_uri_missing: no redirect_uri is redirect_uri_missing', () => {
    assert.deepEqual(checkRedirectUri(undefined, [strict('http://local.invalid')]), { ok: false, cause: 'redirect_uri_missing' });
    assert.deepEqual(checkRedirectUri('', [strict('http://local.invalid')]), { ok: false, cause: 'redirect_uri_missing' });
  });

  it('test_invalid_redirect_uri: strict entries compare the whole string', () => {
    assert.deepEqual(checkRedirectUri('http://localhost', [strict('http://local.invalid')]), { ok: false, cause: 'redirect_uri_no_match' });
    assert.deepEqual(checkRedirectUri('http://local.invalid/', [strict('http://local.invalid')]), {
      ok: false,
      cause: 'redirect_uri_no_match',
    });
    assert.deepEqual(checkRedirectUri('http://local.invalid', [strict('http://local.invalid')]), { ok: true });
    // strict means strict: no regex meaning, no prefix, no case folding
    assert.equal(entryMatches(strict('http://local.invalid/.*'), 'http://local.invalid/foo'), false);
    assert.equal(entryMatches(strict('http://local.invalid/foo'), 'http://local.invalid/foo/bar'), false);
    assert.equal(entryMatches(strict('http://local.invalid/Foo'), 'http://local.invalid/foo'), false);
  });

  it('test_blocked_redirect_uri: data:, javascript: and vbscript: are refused even when an entry matches', () => {
    assert.deepEqual(checkRedirectUri('data:localhost', [strict('data:localhost')]), { ok: false, cause: 'redirect_uri_forbidden_scheme' });
    assert.deepEqual(checkRedirectUri('javascript:alert(1)', [regex('.*')]), { ok: false, cause: 'redirect_uri_forbidden_scheme' });
    assert.deepEqual(checkRedirectUri('JavaScript:alert(1)', [regex('.*')]), { ok: false, cause: 'redirect_uri_forbidden_scheme' });
    assert.deepEqual(checkRedirectUri('vbscript:msgbox', [regex('.*')]), { ok: false, cause: 'redirect_uri_forbidden_scheme' });
    // as Python's urlsplit (and browsers) read them: leading controls and spaces stripped, tabs and newlines removed
    assert.deepEqual(checkRedirectUri(' \x01java\tscript:alert(1)', [regex('.*')]), { ok: false, cause: 'redirect_uri_forbidden_scheme' });
    // other custom schemes are fine (native apps)
    assert.deepEqual(checkRedirectUri('foo://localhost', [strict('foo://localhost')]), { ok: true });
  });

  it('test_invalid_redirect_uri_regex: a regex must match the whole URI', () => {
    assert.deepEqual(checkRedirectUri('http://localhost', [regex('http://local.invalid?')]), { ok: false, cause: 'redirect_uri_no_match' });
    assert.equal(entryMatches(regex('http://local\\.invalid'), 'http://local.invalid/extra'), false);
    assert.equal(entryMatches(regex('http://local\\.invalid'), 'xhttp://local.invalid'), false);
    assert.equal(entryMatches(regex('http://local.invalid?'), 'http://local.invali'), true);
  });

  it('test_redirect_uri_regex: a matching regex allows the URI', () => {
    assert.deepEqual(checkRedirectUri('http://foo.bar.baz', [regex('.+')]), { ok: true });
    const app = regex('https://[\\d\\w]+\\.pr\\.test\\.goauthentik\\.io/source/oauth/callback/authentik/');
    assert.equal(entryMatches(app, 'https://pr42.pr.test.goauthentik.io/source/oauth/callback/authentik/'), true);
    assert.equal(entryMatches(app, 'https://pr42.pr.test.goauthentik.io.evil/source/oauth/callback/authentik/'), false);
  });

  it('test_redirect_uri_invalid_regex: an invalid regex is compared strictly', () => {
    assert.equal(isInvalidRegex(regex('+')), true);
    assert.deepEqual(checkRedirectUri('http://localhost', [regex('+')]), { ok: false, cause: 'redirect_uri_no_match' });
    assert.deepEqual(checkRedirectUri('+', [regex('+')]), { ok: true });
    // Python-only syntax RE2 does not run (back-references, look-arounds) falls back the same way
    assert.equal(isInvalidRegex(regex('(a)\\1')), true);
    assert.equal(entryMatches(regex('(?=http).*'), 'http://x'), false);
    assert.equal(entryMatches(regex('(?=http).*'), '(?=http).*'), true);
  });

  it('matches in linear time: a catastrophic-backtracking pattern is harmless', () => {
    const started = process.hrtime.bigint();
    assert.equal(entryMatches(regex('(a+)+$'), `${'a'.repeat(50_000)}!`), false);
    assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000);
  });

  it('logout entries are not authorization entries', () => {
    const all = [strict('http://rp/logout', 'logout'), strict('http://rp/cb')];
    assert.deepEqual(entriesOfType(all, 'authorization'), [all[1]]);
    assert.deepEqual(entriesOfType(all, 'logout'), [all[0]]);
    assert.deepEqual(checkRedirectUri('http://rp/logout', entriesOfType(all, 'authorization')), {
      ok: false,
      cause: 'redirect_uri_no_match',
    });
  });
});

describe('CORS origins from redirect URIs (authentik’s test_cors.py)', () => {
  it('test_origin_matches_redirect_uri_strict: the scheme, host and port of the URI', () => {
    const r = strict('https://preview-skypilot-pr-69-fundash.g3rg.org/auth/callback');
    assert.equal(originMatches(r, 'https://preview-skypilot-pr-69-fundash.g3rg.org'), true);
    assert.equal(originMatches(r, 'https://preview-other-pr-1-fundash.g3rg.org'), false);
    assert.equal(originMatches(r, 'http://preview-skypilot-pr-69-fundash.g3rg.org'), false);
    assert.equal(originMatches(r, 'https://preview-skypilot-pr-69-fundash.g3rg.org:8443'), false);
  });

  it('test_origin_matches_redirect_uri_regex(_no_match): the pattern up to its path matches the whole origin', () => {
    const r = regex('https://preview-.*-fundash\\.g3rg\\.org/auth/callback');
    assert.equal(originMatches(r, 'https://preview-skypilot-pr-69-fundash.g3rg.org'), true);
    assert.equal(originMatches(r, 'https://malicious.example.org'), false);
    // the whole origin: a look-alike host that merely starts or ends like it is refused
    assert.equal(originMatches(r, 'https://preview-x-fundash.g3rg.org.evil.example'), false);
    assert.equal(originMatches(regex('https?://app\\.example\\.com(:\\d+)?/cb'), 'http://app.example.com:8080'), true);
    // a pattern whose host part does not compile admits nothing
    assert.equal(originMatches(regex('https://a\\.com[/x]'), 'https://a.com'), false);
  });
});
