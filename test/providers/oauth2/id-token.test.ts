/**
 * ID token and access-token claims as authentik's `IDToken` (id_token.py) — the claim set `OAuthTestCase.validate_jwt`
 * requires (exp, iat, auth_time, acr, sub, iss), sub_mode, issuer_mode, amr, sid, hashes — and their stored form.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  accessTokenClaims,
  amrOf,
  idTokenClaims,
  issuerOf,
  newIdToken,
  parseIdToken,
  serializeIdToken,
  subjectOf,
} from '../../../src/providers/oauth2/protocol/id-token.js';
import { atHash, cHash } from '../../../src/providers/oauth2/protocol/hashes.js';
import { uidOf } from '../../../src/users/render.js';
import { provider, user } from './fixtures.js';
import { sessionKeyOf } from '../../../src/sessions/session-hash.js';

const INSTALL = 'install-id-1';
const now = new Date('2026-12-02T01:00:00Z');
const authTime = new Date('2026-12-02T00:59:30Z');

describe('ID token claims', () => {
  it('the claims validate_jwt requires, in authentik’s order, none null', () => {
    const t = newIdToken({
      provider: provider(),
      origin: 'http://testserver',
      installId: INSTALL,
      user,
      expires: new Date(now.getTime() + 3600_000),
      authTime,
      now,
    });
    const claims = idTokenClaims(t);
    assert.deepEqual(Object.keys(claims), ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'acr']);
    assert.deepEqual(claims, {
      iss: 'http://testserver/application/o/app/',
      sub: uidOf(7, INSTALL),
      aud: 'test',
      exp: Math.floor(now.getTime() / 1000) + 3600,
      iat: Math.floor(now.getTime() / 1000),
      auth_time: Math.floor(authTime.getTime() / 1000),
      acr: 'goauthentik.io/providers/oauth2/default',
    });
  });

  it('issuer_mode: per_provider is the application’s root, global the instance’s root (test_api preview/setup_urls)', () => {
    assert.equal(issuerOf(provider(), 'http://testserver'), 'http://testserver/application/o/app/');
    assert.equal(issuerOf(provider({ application: { slug: 'test' } }), 'http://testserver/'), 'http://testserver/application/o/test/');
    assert.equal(issuerOf(provider({ issuer_mode: 'global' }), 'https://id.example'), 'https://id.example/');
    // a provider without an application has no per-provider issuer: iss is left out
    assert.equal(issuerOf(provider({ application: null }), 'http://testserver'), undefined);
    const t = newIdToken({
      provider: provider({ application: null }),
      origin: 'http://x',
      installId: INSTALL,
      user,
      expires: null,
      authTime,
      now,
    });
    assert.equal('iss' in idTokenClaims(t), false);
    // no expiry: authentik's default token duration (30 minutes)
    assert.equal(t.exp, Math.floor(now.getTime() / 1000) + 1800);
  });

  it('sub_mode: hashed user id (Keystage’s uid), id, uuid, username, email, upn with the uid as fallback', () => {
    assert.equal(subjectOf('hashed_user_id', user, INSTALL), createHash('sha256').update(`7-${INSTALL}`).digest('hex'));
    assert.equal(subjectOf('user_id', user, INSTALL), '7');
    assert.equal(subjectOf('user_uuid', user, INSTALL), user.uuid);
    assert.equal(subjectOf('user_username', user, INSTALL), 'akadmin');
    assert.equal(subjectOf('user_email', user, INSTALL), 'admin@example.com');
    assert.equal(subjectOf('user_upn', user, INSTALL), 'admin@corp.example');
    assert.equal(subjectOf('user_upn', { ...user, attributes: '{}' }, INSTALL), uidOf(7, INSTALL));
    assert.equal(subjectOf('user_upn', { ...user, attributes: { upn: 'x@y' } }, INSTALL), 'x@y');
  });

  it('amr from the login event (test_full_implicit: password → ["pwd"])', () => {
    assert.deepEqual(amrOf({ context: { auth_method: 'password' } }), ['pwd']);
    assert.deepEqual(amrOf({ context: { auth_method: 'password', auth_method_args: { mfa_devices: [{ pk: 1 }] } } }), ['pwd', 'mfa']);
    assert.deepEqual(amrOf({ context: { auth_method: 'auth_webauthn_pwl', auth_method_args: {} } }), ['user']);
    assert.deepEqual(amrOf({ context: { auth_method: 'token', auth_method_args: { certificate: {} } } }), ['sc']);
    assert.equal(amrOf({ context: { auth_method: 'token' } }), undefined);
    assert.equal(amrOf(undefined), undefined);
    const t = newIdToken({
      provider: provider(),
      origin: 'http://testserver',
      installId: INSTALL,
      user,
      expires: null,
      authTime,
      now,
      loginEvent: { context: { auth_method: 'password' } },
      // (a session's stored key: the hash of its cookie's token)
      sessionKey: sessionKeyOf('sess-key'),
    });
    assert.deepEqual(t.amr, ['pwd']);
    assert.equal(t.sid, createHash('sha256').update('sess-key').digest('hex'));
  });

  it('the mappings’ claims go on top, replacing authentik’s own in place (test_full_implicit: a mapping returning sub)', () => {
    const t = newIdToken({
      provider: provider(),
      origin: 'http://testserver',
      installId: INSTALL,
      user,
      expires: null,
      authTime,
      now,
      claims: { sub: 'foo', email: 'admin@example.com', email_verified: false },
    });
    t.nonce = 'n0nce';
    const claims = idTokenClaims(t);
    assert.equal(claims.sub, 'foo');
    assert.deepEqual(Object.keys(claims), ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'email', 'email_verified']);
  });

  it('access tokens: the ID token’s claims plus azp and a 40-character uid', () => {
    const t = newIdToken({ provider: provider(), origin: 'http://testserver', installId: INSTALL, user, expires: null, authTime, now });
    const at = accessTokenClaims(t, 'test');
    assert.equal(at.azp, 'test');
    assert.match(String(at.uid), /^[A-Za-z0-9]{40}$/);
    assert.notEqual(accessTokenClaims(t, 'test').uid, at.uid);
    assert.equal(at.sub, t.sub);
  });

  it('at_hash and c_hash: left half of SHA-256, base64url (OIDC core 3.1.3.6)', () => {
    const token = 'jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y';
    const full = createHash('sha256').update(token).digest();
    assert.equal(atHash(token), full.subarray(0, 16).toString('base64url'));
    assert.equal(cHash('Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk'), 'LDktKdoQak3Pk0cnXxCltA');
  });

  it('the stored form round-trips (refresh tokens keep their ID token)', () => {
    const t = newIdToken({
      provider: provider(),
      origin: 'http://testserver',
      installId: INSTALL,
      user,
      expires: null,
      authTime,
      now,
      claims: { a: 1 },
    });
    t.at_hash = 'h';
    assert.deepEqual(parseIdToken(serializeIdToken(t)), t);
  });
});
