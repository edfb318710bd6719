/**
 * Providers with key pairs (from /crypto/certificatekeypairs/generate/), against a running Keystage with openid-client
 * as the relying party, on SQLite and PostgreSQL: RS256 and ES256 ID and access tokens verified through the
 * application's jwks/, the discovery document naming the key's algorithm, and JWE tokens (RSA-OAEP-256,
 * A256CBC-HS512) for a provider with an encryption key, which userinfo still accepts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createPrivateKey } from 'node:crypto';
import { compactDecrypt, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';

for (const dialect of dialects()) {
  describe(`OAuth2 providers with key pairs (${dialect})`, () => {
    let srv: TestServer;
    let flows: Record<string, string>;
    let pm: string[];

    async function pair(alg: 'rsa' | 'ecdsa', name: string) {
      const r = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { common_name: name, validity_days: 30, alg });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as { pk: string };
    }

    async function app(slug: string, extra: Record<string, unknown>) {
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: `p-${slug}`,
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [],
        property_mappings: pm,
        ...extra,
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: slug, slug, provider: p.body.pk })).status, 201);
      return p.body as { client_id: string; client_secret: string };
    }

    before(async () => {
      srv = await startServer(dialect);
      const f = await call(srv, 'GET', '/flows/instances/?page_size=100');
      flows = Object.fromEntries(f.body.results.map((x: { slug: string; pk: string }) => [x.slug, x.pk]));
      const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      pm = rows.filter((r) => r.managed).map((r) => r.pm_uuid);
    });
    after(async () => srv.close());

    for (const [alg, jws] of [
      ['rsa', 'RS256'],
      ['ecdsa', 'ES256'],
    ] as const) {
      it(`${jws}: tokens signed by the key pair, verified through jwks/`, async () => {
        const kp = await pair(alg, `signing-${alg}`);
        const slug = `signed-${alg}`;
        const p = await app(slug, { signing_key: kp.pk });
        const config = await client.discovery(
          new URL(`${srv.url}/application/o/${slug}/`),
          p.client_id,
          { client_secret: p.client_secret, id_token_signed_response_alg: jws },
          undefined,
          { execute: [client.allowInsecureRequests] },
        );
        assert.deepEqual(config.serverMetadata().id_token_signing_alg_values_supported, [jws]);
        const jwks = await (await fetch(`${srv.url}/application/o/${slug}/jwks/`)).json();
        assert.equal(jwks.keys.length, 1);
        const kid = jwks.keys[0].kid as string;
        assert.deepEqual([jwks.keys[0].alg, typeof kid, jwks.keys[0].use], [jws, 'string', 'sig']);
        const tokens = await client.clientCredentialsGrant(config, { scope: 'openid email' });
        assert.deepEqual(decodeProtectedHeader(tokens.access_token), { alg: jws, kid, typ: 'JWT' });
        const keys = createLocalJWKSet(jwks);
        const access = await jwtVerify(tokens.access_token, keys, { issuer: `${srv.url}/application/o/${slug}/`, audience: p.client_id });
        assert.equal(access.payload.azp, p.client_id);
        const id = await jwtVerify(tokens.id_token!, keys, { audience: p.client_id });
        assert.equal(id.payload.sub, access.payload.sub);
        // a forgery signed HS256 with the client secret is not accepted by a relying party pinned to the key
        await assert.rejects(jwtVerify(tokens.id_token!, keys, { algorithms: ['HS256'] }));
        const info = await client.fetchUserInfo(config, tokens.access_token, String(access.payload.sub));
        assert.equal(info.sub, access.payload.sub);
      });
    }

    it('encryption_key: tokens are JWEs for the pair, userinfo accepts the encrypted access token', async () => {
      const signing = await pair('rsa', 'sign-for-jwe');
      const enc = await pair('rsa', 'encrypt');
      const p = await app('encrypted', { signing_key: signing.pk, encryption_key: enc.pk });
      const jwks = await (await fetch(`${srv.url}/application/o/encrypted/jwks/`)).json();
      assert.deepEqual(
        jwks.keys.map((k: { use: string; alg: string }) => [k.use, k.alg]),
        [
          ['sig', 'RS256'],
          ['enc', 'RSA-OAEP-256'],
        ],
      );
      const res = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: p.client_id,
          client_secret: p.client_secret,
          scope: 'openid',
        }),
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.access_token.split('.').length, 5);
      assert.deepEqual(decodeProtectedHeader(body.id_token), {
        alg: 'RSA-OAEP-256',
        enc: 'A256CBC-HS512',
        typ: 'JWE',
        kid: jwks.keys[1].kid,
      });
      const pem = (await call(srv, 'GET', `/crypto/certificatekeypairs/${enc.pk}/view_private_key/`)).body.data as string;
      const { plaintext } = await compactDecrypt(body.id_token, createPrivateKey(pem));
      const inner = new TextDecoder().decode(plaintext);
      const { payload } = await jwtVerify(inner, createLocalJWKSet({ keys: [jwks.keys[0]] }), { audience: p.client_id });
      assert.equal(payload.aud, p.client_id);
      const info = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${body.access_token}` } });
      assert.equal(info.status, 200);
      assert.equal((await info.json()).sub, payload.sub);
    });
  });
}
