/**
 * The discovery document (authentik's views/provider.py `get_info`, test_provider_info.py) and the JWKS document
 * (views/jwks.py, test_jwks.py).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { claimsSupported, discoveryDocument } from '../../../src/providers/oauth2/protocol/discovery.js';
import { jwksDocument } from '../../../src/providers/oauth2/protocol/jwks.js';
import { createTestCert, provider, type TestKeyPair } from './fixtures.js';

describe('discovery document', () => {
  it('test_info: authentik’s document for a per-provider issuer', () => {
    const claims = claimsSupported([
      {},
      { email: 'x', email_verified: false },
      { name: 'x', given_name: 'x', preferred_username: 'x', nickname: 'x', groups: [] },
    ]);
    const doc = discoveryDocument({
      origin: 'http://testserver',
      provider: provider({ application: { slug: 'my-app' } }),
      appSlug: 'my-app',
      alg: 'RS256',
      scopes: ['email', 'profile'],
      claims,
    });
    assert.deepEqual(doc, {
      issuer: 'http://testserver/application/o/my-app/',
      authorization_endpoint: 'http://testserver/application/o/authorize/',
      token_endpoint: 'http://testserver/application/o/token/',
      userinfo_endpoint: 'http://testserver/application/o/userinfo/',
      end_session_endpoint: 'http://testserver/application/o/my-app/end-session/',
      introspection_endpoint: 'http://testserver/application/o/introspect/',
      revocation_endpoint: 'http://testserver/application/o/revoke/',
      device_authorization_endpoint: 'http://testserver/application/o/device/',
      response_types_supported: ['code', 'id_token', 'id_token token', 'code token', 'code id_token', 'code id_token token'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      jwks_uri: 'http://testserver/application/o/my-app/jwks/',
      grant_types_supported: [
        'authorization_code',
        'refresh_token',
        'implicit',
        'client_credentials',
        'password',
        'urn:ietf:params:oauth:grant-type:device_code',
        // (authentik 2026.8's token exchange, beyond this fixture of an older authentik)
        'urn:ietf:params:oauth:grant-type:token-exchange',
      ],
      id_token_signing_alg_values_supported: ['RS256'],
      subject_types_supported: ['public'],
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      acr_values_supported: ['goauthentik.io/providers/oauth2/default'],
      scopes_supported: ['email', 'profile', 'openid'],
      request_parameter_supported: false,
      claims_supported: [
        'sub',
        'iss',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'acr',
        'amr',
        'nonce',
        'email',
        'email_verified',
        'name',
        'given_name',
        'preferred_username',
        'nickname',
        'groups',
      ],
      claims_parameter_supported: false,
      code_challenge_methods_supported: ['plain', 'S256'],
      // (DPoP, as authentik 2026's validator allows)
      dpop_signing_alg_values_supported: ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
      prompt_values_supported: ['none', 'consent', 'login'],
    });
  });

  it('global issuer; openid listed once; HS256 without a key', () => {
    const doc = discoveryDocument({
      origin: 'https://id.example/',
      provider: provider({ issuer_mode: 'global' }),
      appSlug: 'app',
      alg: 'HS256',
      scopes: ['openid', 'email'],
      claims: claimsSupported([]),
    });
    assert.equal(doc.issuer, 'https://id.example/');
    assert.deepEqual(doc.scopes_supported, ['openid', 'email']);
    assert.deepEqual(doc.id_token_signing_alg_values_supported, ['HS256']);
    assert.deepEqual(doc.claims_supported, ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'amr', 'nonce']);
  });
});

describe('JWKS document', () => {
  let rsa: TestKeyPair;
  let ec: TestKeyPair;
  before(async () => {
    [rsa, ec] = await Promise.all([createTestCert('rsa'), createTestCert('P-384')]);
  });

  it('test_hs256: no keys is an empty object', () => {
    assert.deepEqual(jwksDocument(undefined, undefined), {});
  });

  it('test_rs256 / test_es256: the signing key with use sig and its algorithm', () => {
    const doc = jwksDocument(rsa.signing, undefined) as { keys: Record<string, unknown>[] };
    assert.equal(doc.keys.length, 1);
    const [k] = doc.keys;
    assert.deepEqual(Object.keys(k!).slice(0, 4), ['alg', 'kid', 'kty', 'use']);
    assert.deepEqual([k!.alg, k!.kid, k!.kty, k!.use, k!.e], ['RS256', rsa.signing.kid, 'RSA', 'sig', 'AQAB']);
    assert.equal('d' in k!, false);
    const e = (jwksDocument(ec.signing, undefined) as { keys: Record<string, unknown>[] }).keys[0]!;
    assert.deepEqual([e.alg, e.kty, e.crv], ['ES384', 'EC', 'P-384']);
  });

  it('test_enc: the encryption key with use enc, RSA-OAEP-256 and A256CBC-HS512', () => {
    const doc = jwksDocument(ec.signing, rsa.public) as { keys: Record<string, unknown>[] };
    assert.equal(doc.keys.length, 2);
    const enc = doc.keys[1]!;
    assert.deepEqual([enc.alg, enc.enc, enc.kid, enc.kty, enc.use], ['RSA-OAEP-256', 'A256CBC-HS512', rsa.public.kid, 'RSA', 'enc']);
  });
});
