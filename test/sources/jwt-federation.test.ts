/**
 * An OAuth2 provider's `jwt_federation_sources` (authentik's `__validate_jwt_from_source`): a machine holding a JWT
 * its identity provider signed gets Keystage tokens through the client_credentials grant, the JWT verified with the
 * source's stored JWKS (fetched from the fake provider on 127.0.0.1 when the source is saved), for a service account
 * `<provider>-<sub>` under the source's user path. Refused as invalid_grant: an expired JWT, an unknown kid, another
 * key under the same kid, HS256 "signed" with the RSA public key (algorithm confusion), `alg: none`, and a provider
 * that does not federate the source. Deleting the source takes it off the provider.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KeyObject } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FakeOidc } from '../helpers/fake-oidc.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

for (const dialect of dialects()) {
  describe(`OAuth2 JWT federation with sources (${dialect})`, () => {
    let srv: TestServer;
    let fake: FakeOidc;
    let key: CryptoKey;
    let publicKey: CryptoKey;
    let otherKey: CryptoKey;
    let sourcePk: string;
    const clients: Record<string, string> = {};

    const sign = (claims: Record<string, unknown>, opts: { kid?: string; key?: CryptoKey; exp?: string } = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'fed-1' })
        .setIssuedAt()
        .setIssuer(fake.url)
        .setSubject(String(claims.sub ?? 'svc-7'))
        .setExpirationTime(opts.exp ?? '5m')
        .sign(opts.key ?? key);

    async function token(slug: string, assertion: string) {
      const r = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: clients[slug]!,
          client_assertion_type: JWT_BEARER,
          client_assertion: assertion,
          scope: 'openid',
        }),
      });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    }

    before(async () => {
      [srv, fake] = await Promise.all([startServer(dialect), new FakeOidc().start()]);
      ({ privateKey: key, publicKey } = await generateKeyPair('RS256'));
      ({ privateKey: otherKey } = await generateKeyPair('RS256', { extractable: true }));
      const pub = await exportJWK(publicKey);
      // the JWKS has the signing key, and a private JWK that must never be used
      fake.jwks = {
        keys: [
          { ...pub, kid: 'fed-1', use: 'sig' },
          { ...(await exportJWK(otherKey)), kid: 'fed-private' },
        ],
      };
      const source = await call(srv, 'POST', '/sources/oauth/', {
        name: 'Machines',
        slug: 'machines',
        provider_type: 'openidconnect',
        consumer_key: fake.clientId,
        consumer_secret: fake.clientSecret,
        oidc_well_known_url: `${fake.url}/.well-known/openid-configuration`,
      });
      assert.equal(source.status, 201, JSON.stringify(source.body));
      sourcePk = source.body.pk;
      assert.equal(source.body.oidc_jwks.keys[0].kid, 'fed-1');
      const f = await call(srv, 'GET', '/flows/instances/?page_size=100');
      const flow = (s: string) => f.body.results.find((x: { slug: string }) => x.slug === s).pk;
      const openid = (
        await srv.app.store.db
          .selectFrom('property_mappings')
          .select('pm_uuid')
          .where('managed', '=', 'goauthentik.io/providers/oauth2/scope-openid')
          .executeTakeFirstOrThrow()
      ).pm_uuid;
      for (const [slug, extra] of [
        ['federating', { jwt_federation_sources: [sourcePk] }],
        ['stranger', {}],
      ] as const) {
        const p = await call(srv, 'POST', '/providers/oauth2/', {
          name: `p-${slug}`,
          authorization_flow: flow('default-provider-authorization-implicit-consent'),
          invalidation_flow: flow('default-provider-invalidation-flow'),
          redirect_uris: [],
          property_mappings: [openid],
          ...extra,
        });
        assert.equal(p.status, 201, JSON.stringify(p.body));
        assert.equal((await call(srv, 'POST', '/core/applications/', { name: `App ${slug}`, slug, provider: p.body.pk })).status, 201);
        clients[slug] = p.body.client_id;
      }
    });
    after(async () => Promise.all([srv.close(), fake.close()]));

    it('a JWT the source’s provider signed: tokens for the service account <provider>-<sub>, a login event naming the source', async () => {
      const r = await token('federating', await sign({ sub: 'svc-7' }));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.token_type, 'Bearer');
      const user = await srv.app.store.db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', 'p-federating-svc-7')
        .executeTakeFirstOrThrow();
      assert.equal(user.type, 'service_account');
      assert.equal(user.path, 'goauthentik.io/sources/machines');
      assert.equal(user.name, 'Autogenerated user from application App federating (client credentials JWT)');
      const attrs = JSON.parse(user.attributes);
      assert.equal(attrs['goauthentik.io/user/generated'], true);
      assert.equal(typeof attrs['goauthentik.io/user/expires'], 'number');
      const info = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${r.body.access_token}` } });
      assert.equal(info.status, 200, await info.clone().text());
      assert.equal(((await info.json()) as { sub: string }).sub !== undefined, true);
      const ev = await srv.app.store.db
        .selectFrom('events')
        .select('context')
        .where('action', '=', 'login')
        .where('username', '=', 'p-federating-svc-7')
        .executeTakeFirstOrThrow();
      const ctx = JSON.parse(ev.context);
      assert.equal(ctx.auth_method, 'jwt');
      assert.equal(ctx.auth_method_args.source.slug, 'machines');
      assert.equal(ctx.auth_method_args.jwt.sub, 'svc-7');
      // the same subject again: the same account
      assert.equal((await token('federating', await sign({ sub: 'svc-7' }))).status, 200);
      assert.equal(
        (await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'p-federating-svc-7').execute()).length,
        1,
      );
    });

    it('refuses expired, unknown-kid, wrong-key, private-key, algorithm-confused and unsigned JWTs, and providers not federating', async () => {
      const refused = async (slug: string, assertion: string) => {
        const r = await token(slug, assertion);
        return [r.status, r.body.error];
      };
      const bad: [string, string][] = [
        ['expired', await sign({ sub: 'x' }, { exp: '-1m' })],
        ['unknown kid', await sign({ sub: 'x' }, { kid: 'nope' })],
        ['another key under the kid', await sign({ sub: 'x' }, { key: otherKey })],
        ['the private JWK in the set', await sign({ sub: 'x' }, { key: otherKey, kid: 'fed-private' })],
      ];
      // HS256 keyed with the RSA public key's PEM (RFC 9700 §4.5 algorithm confusion)
      const pem = KeyObject.from(publicKey).export({ type: 'spki', format: 'pem' });
      bad.push([
        'HS256 with the public key',
        await new SignJWT({ sub: 'x' })
          .setProtectedHeader({ alg: 'HS256', kid: 'fed-1' })
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(String(pem))),
      ]);
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      bad.push(['alg none', `${enc({ alg: 'none', kid: 'fed-1' })}.${enc({ sub: 'x', exp: Math.floor(Date.now() / 1000) + 300 })}.`]);
      for (const [label, jwt] of bad) assert.deepEqual(await refused('federating', jwt), [400, 'invalid_grant'], label);
      assert.deepEqual(await refused('stranger', await sign({ sub: 'svc-8' })), [400, 'invalid_grant']);
      assert.equal((await srv.app.store.db.selectFrom('users').select('id').where('username', 'like', '%-x').execute()).length, 0);
    });

    it('deleting the source takes it off the provider', async () => {
      assert.equal((await call(srv, 'DELETE', '/sources/oauth/machines/')).status, 204);
      const p = await call(srv, 'GET', '/providers/oauth2/?name=p-federating');
      assert.deepEqual(p.body.results[0].jwt_federation_sources, []);
      assert.deepEqual(await token('federating', await sign({ sub: 'svc-7' })).then((r) => [r.status, r.body.error]), [
        400,
        'invalid_grant',
      ]);
    });
  });
}
