/**
 * The OAuth2/OIDC endpoints against a running Keystage, with `openid-client` as the relying party, on SQLite and
 * PostgreSQL: discovery, jwks, the token endpoint's grants (client_credentials, password with an app password,
 * authorization_code with PKCE and single redemption, refresh_token with rotation), userinfo with the JWT access
 * token, introspection and revocation. (Codes are written straight into the grant table until authorize/ exists.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { insertCode, hashOf } from '../../../src/providers/oauth2/tokens/store.js';
import { s256 } from '../../../src/providers/oauth2/protocol/pkce.js';
import { atHash } from '../../../src/providers/oauth2/protocol/hashes.js';
import { uidOf } from '../../../src/users/render.js';

const REDIRECT = 'http://127.0.0.1:9/cb';

for (const dialect of dialects()) {
  describe(`OAuth2 endpoints with openid-client (${dialect})`, () => {
    let srv: TestServer;
    let provider: { pk: number; client_id: string; client_secret: string; name: string };
    let config: client.Configuration;
    let userId: number;
    const slug = 'rp-app';

    before(async () => {
      srv = await startServer(dialect);
      const db = srv.app.store.db;
      const flows = await call(srv, 'GET', '/flows/instances/?ordering=slug&page_size=100');
      const flowPk = (s: string) => flows.body.results.find((f: { slug: string }) => f.slug === s).pk;
      const mappings = await db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      const managed = (id: string) => mappings.find((m) => m.managed === `goauthentik.io/providers/oauth2/scope-${id}`)!.pm_uuid;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'RP',
        authorization_flow: flowPk('default-authentication-flow'),
        invalidation_flow: flowPk('default-invalidation-flow'),
        redirect_uris: [{ matching_mode: 'strict', url: REDIRECT }],
        property_mappings: [managed('openid'), managed('email'), managed('profile'), managed('offline_access')],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      provider = p.body;
      const now = new Date().toISOString();
      await db
        .insertInto('applications')
        .values({
          pbm_uuid: crypto.randomUUID(),
          name: 'RP app',
          slug,
          provider: provider.pk,
          meta_launch_url: '',
          meta_icon: '',
          meta_description: '',
          meta_publisher: '',
          meta_hide: 0,
          open_in_new_tab: 0,
          group: '',
          policy_engine_mode: 'any',
          created: now,
          last_updated: now,
        } as never)
        .execute();
      userId = await createUser(srv, 'alice', 'correct horse battery staple');
      config = await client.discovery(
        new URL(`${srv.url}/application/o/${slug}/`),
        provider.client_id,
        { client_secret: provider.client_secret, id_token_signed_response_alg: 'HS256' },
        undefined,
        { execute: [client.allowInsecureRequests] },
      );
    });
    after(async () => srv.close());

    /** a code for alice as the authorization endpoint issues it */
    async function code(scope: string, extra: { verifier?: string; nonce?: string } = {}) {
      const value = randomBytes(16).toString('hex');
      await insertCode(srv.app.store.db, {
        provider_id: provider.pk,
        user_id: userId,
        scope,
        auth_time: new Date(),
        session_id: hashOf('a-session'),
        expires: new Date(Date.now() + 60_000),
        code: value,
        nonce: extra.nonce ?? null,
        code_challenge: extra.verifier ? s256(extra.verifier) : null,
        code_challenge_method: extra.verifier ? 'S256' : null,
        redirect_uri: REDIRECT,
        amr: ['pwd'],
      });
      return value;
    }

    it('discovery: authentik’s document, issuer per application, jwks and the root redirect', async () => {
      const meta = config.serverMetadata();
      assert.equal(meta.issuer, `${srv.url}/application/o/${slug}/`);
      assert.equal(meta.token_endpoint, `${srv.url}/application/o/token/`);
      assert.deepEqual(meta.id_token_signing_alg_values_supported, ['HS256']);
      assert.deepEqual(meta.code_challenge_methods_supported, ['plain', 'S256']);
      for (const s of ['openid', 'email', 'profile', 'offline_access']) assert.ok((meta.scopes_supported as string[]).includes(s), s);
      for (const c of ['sub', 'email', 'preferred_username']) assert.ok((meta.claims_supported as string[]).includes(c), c);
      const jwks = await fetch(`${srv.url}/application/o/${slug}/jwks/`);
      assert.equal(jwks.status, 200);
      assert.deepEqual(await jwks.json(), {});
      const root = await fetch(`${srv.url}/application/o/${slug}/`, { redirect: 'manual' });
      assert.equal(root.status, 302);
      assert.equal(root.headers.get('location'), `/application/o/${slug}/.well-known/openid-configuration`);
      assert.equal((await fetch(`${srv.url}/application/o/nope/.well-known/openid-configuration`)).status, 404);
    });

    it('CORS: an Origin a redirect URI allows (strict: scheme, host, port; regex: its pattern up to the path) gets credentials', async () => {
      const discovery = (origin: string) =>
        fetch(`${srv.url}/application/o/${slug}/.well-known/openid-configuration`, { headers: { origin } });
      const allowed = async (origin: string) => (await discovery(origin)).headers.get('access-control-allow-origin');
      assert.equal(await allowed(new URL(REDIRECT).origin), new URL(REDIRECT).origin);
      assert.equal(await allowed('https://preview-7.apps.example'), null);
      const patch = (redirect_uris: unknown[]) => call(srv, 'PATCH', `/providers/oauth2/${provider.pk}/`, { redirect_uris });
      assert.equal(
        (
          await patch([
            { matching_mode: 'strict', url: REDIRECT },
            { matching_mode: 'regex', url: 'https://preview-\\d+\\.apps\\.example/cb' },
          ])
        ).status,
        200,
      );
      try {
        const r = await discovery('https://preview-7.apps.example');
        assert.equal(r.headers.get('access-control-allow-origin'), 'https://preview-7.apps.example');
        assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
        assert.equal(await allowed('https://preview-x.apps.example'), null);
        assert.equal(await allowed('https://evil.example'), null);
      } finally {
        await patch([{ matching_mode: 'strict', url: REDIRECT }]);
      }
    });

    it('webfinger: {} until the brand’s default application signs in through OAuth2, then its issuer (authentik’s brands tests)', async () => {
      const finger = async () => {
        const r = await fetch(`${srv.url}/.well-known/webfinger?resource=acct:alice@example.com`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('access-control-allow-origin'), '*');
        assert.match(r.headers.get('content-type')!, /^application\/jrd\+json/);
        return r.json();
      };
      assert.deepEqual(await finger(), {});
      const brand = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0];
      const app = (await call(srv, 'GET', `/core/applications/${slug}/`)).body;
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { default_application: app.pk })).status, 200);
      try {
        assert.deepEqual(await finger(), {
          subject: 'acct:alice@example.com',
          links: [{ rel: 'http://openid.net/specs/connect/1.0/issuer', href: `${srv.url}/application/o/${slug}/` }],
        });
      } finally {
        await call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { default_application: null });
      }
      assert.deepEqual(await finger(), {});
    });

    it('client_credentials: a JWT access token for the provider’s service account, userinfo accepts it', async () => {
      const tokens = await client.clientCredentialsGrant(config, { scope: 'openid email unknown' });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.scope, 'openid email');
      assert.equal(tokens.expires_in, 3600);
      const header = decodeProtectedHeader(tokens.access_token);
      assert.equal(header.alg, 'HS256');
      const { payload } = await jwtVerify(tokens.access_token, new TextEncoder().encode(provider.client_secret), {
        audience: provider.client_id,
      });
      assert.equal(payload.iss, `${srv.url}/application/o/${slug}/`);
      assert.equal(payload.azp, provider.client_id);
      assert.match(String(payload.uid), /^[A-Za-z0-9]{40}$/);
      const sa = await srv.app.store.db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', 'ak-RP-client_credentials')
        .executeTakeFirstOrThrow();
      assert.equal(sa.type, 'service_account');
      assert.equal(payload.sub, uidOf(sa.id, srv.app.services.installId));
      const info = await client.fetchUserInfo(config, tokens.access_token, String(payload.sub));
      assert.equal(info.sub, payload.sub);
      assert.equal(info.email, '');
      // oidcc-userinfo-post-header / post-body: the token in a POST's header or its form body
      for (const init of <RequestInit[]>[
        { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } },
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ access_token: tokens.access_token }),
        },
      ]) {
        const r = await fetch(`${srv.url}/application/o/userinfo/`, init);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('cache-control'), 'no-store');
        assert.equal((await r.json()).sub, payload.sub);
      }
      // stored as a hash only
      const rows = await srv.app.store.db.selectFrom('oauth2_access_tokens').selectAll().execute();
      assert.ok(rows.length >= 1);
      assert.ok(rows.every((r) => !JSON.stringify(r).includes(tokens.access_token)));
    });

    it('client_credentials refused: a wrong secret, a revoked or unknown client', async () => {
      const bad = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: provider.client_id, client_secret: 'wrong' }),
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('cache-control'), 'no-store');
      assert.equal((await bad.json()).error, 'invalid_grant');
      const unknown = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' }),
      });
      assert.deepEqual(await unknown.json(), {
        error: 'invalid_client',
        error_description:
          'Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)',
      });
      const unsupported = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'foo', client_id: provider.client_id, client_secret: provider.client_secret }),
      });
      assert.equal((await unsupported.json()).error, 'unsupported_grant_type');
    });

    it('password grant: a user’s app password', async () => {
      const t = await call(srv, 'POST', '/core/tokens/', {
        identifier: 'alice-app',
        intent: 'app_password',
        user: userId,
        expiring: false,
      });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      const key = (await call(srv, 'GET', '/core/tokens/alice-app/view_key/')).body.key;
      const tokens = await client.genericGrantRequest(config, 'password', { username: 'alice', password: key, scope: 'openid profile' });
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.sub, uidOf(userId, srv.app.services.installId));
      assert.equal(claims.preferred_username, 'alice');
      await assert.rejects(
        client.genericGrantRequest(config, 'password', { username: 'alice', password: 'correct horse battery staple' }),
        (e: any) => {
          assert.equal(e.error, 'invalid_grant');
          return true;
        },
      );
    });

    it('authorization_code with PKCE: tokens once; the second redemption revokes them', async () => {
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const c = await code('openid email profile', { verifier, nonce });
      const tokens = await client.authorizationCodeGrant(config, new URL(`${REDIRECT}?code=${c}&state=st`), {
        pkceCodeVerifier: verifier,
        expectedState: 'st',
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      const id = tokens.claims()!;
      assert.equal(id.sub, uidOf(userId, srv.app.services.installId));
      assert.equal(id.nonce, nonce);
      assert.deepEqual(id.amr, ['pwd']);
      assert.equal(id.email, 'alice@example.com');
      assert.equal(id.acr, 'goauthentik.io/providers/oauth2/default');
      assert.equal(typeof id.auth_time, 'number');
      assert.equal(id.sid, hashOf('a-session'));
      const info = await client.fetchUserInfo(config, tokens.access_token, id.sub);
      assert.equal(info.email, 'alice@example.com');
      assert.equal(info.nonce, nonce);
      await assert.rejects(
        client.authorizationCodeGrant(config, new URL(`${REDIRECT}?code=${c}&state=st`), {
          pkceCodeVerifier: verifier,
          expectedState: 'st',
          expectedNonce: nonce,
        }),
        (e: any) => e.error === 'invalid_grant',
      );
      // oidcc-codereuse: the access token of the first redemption no longer works
      const after = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(after.status, 401);
      assert.match(after.headers.get('www-authenticate') ?? '', /^error="invalid_token"/);
    });

    it('a code raced across two nodes (two servers on one database) is redeemed once, the loser revoking the winner’s tokens', async () => {
      // a second node on the same database (PostgreSQL; on SQLite the same server answers both)
      const other = dialect === 'postgres' ? await startServer(dialect, { databaseUrl: srv.config.databaseUrl }) : srv;
      try {
        for (let round = 0; round < 3; round++) {
          const c = await code('openid offline_access');
          const redeem = (node: TestServer) =>
            fetch(`${node.url}/application/o/token/`, {
              method: 'POST',
              headers: {
                'content-type': 'application/x-www-form-urlencoded',
                authorization: `Basic ${Buffer.from(`${provider.client_id}:${provider.client_secret}`).toString('base64')}`,
              },
              body: new URLSearchParams({ grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT }),
            }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
          const results = await Promise.all([redeem(srv), redeem(other), redeem(srv), redeem(other)]);
          const won = results.filter((r) => r.status === 200);
          assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
          for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.body.error, 'invalid_grant');
          // the winner's tokens were revoked by the losers
          const info = await fetch(`${srv.url}/application/o/userinfo/`, {
            headers: { authorization: `Bearer ${won[0]!.body.access_token}` },
          });
          assert.equal(info.status, 401);
          const refreshed = await fetch(`${other.url}/application/o/token/`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'refresh_token',
              refresh_token: won[0]!.body.refresh_token,
              client_id: provider.client_id,
              client_secret: provider.client_secret,
            }),
          });
          assert.equal((await refreshed.json()).error, 'invalid_grant');
        }
      } finally {
        if (other !== srv) await other.close();
      }
    });

    it('authorization_code refused: PKCE mismatch or downgrade, another redirect URI, an unknown code', async () => {
      const verifier = client.randomPKCECodeVerifier();
      const c1 = await code('openid', { verifier });
      await assert.rejects(
        client.authorizationCodeGrant(config, new URL(`${REDIRECT}?code=${c1}`), {
          pkceCodeVerifier: `${verifier}x`,
          idTokenExpected: true,
        }),
        (e: any) => e.error === 'invalid_grant',
      );
      const c2 = await code('openid');
      await assert.rejects(
        client.authorizationCodeGrant(config, new URL(`${REDIRECT}?code=${c2}`), { pkceCodeVerifier: verifier }),
        (e: any) => e.error === 'invalid_grant',
      );
      const other = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${provider.client_id}:${provider.client_secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: await code('openid'),
          redirect_uri: 'http://127.0.0.1:9/other',
        }),
      });
      assert.equal(other.status, 400);
      assert.equal((await other.json()).error, 'invalid_client');
      const wrongSecret = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: await code('openid'),
          redirect_uri: REDIRECT,
          client_id: provider.client_id,
          client_secret: 'x',
        }),
      });
      assert.equal((await wrongSecret.json()).error, 'invalid_client');
    });

    it('refresh_token: rotation, the old one refused and flagged', async () => {
      const c = await code('openid offline_access email');
      const first = await client.authorizationCodeGrant(config, new URL(`${REDIRECT}?code=${c}`), { idTokenExpected: true });
      assert.equal(typeof first.refresh_token, 'string');
      assert.equal(first.refresh_token!.length, 128);
      const second = await client.refreshTokenGrant(config, first.refresh_token!);
      assert.notEqual(second.refresh_token, first.refresh_token);
      assert.equal(second.scope, 'openid offline_access email');
      assert.equal(second.claims()!.sub, uidOf(userId, srv.app.services.installId));
      await assert.rejects(client.refreshTokenGrant(config, first.refresh_token!), (e: any) => e.error === 'invalid_grant');
      const flagged = await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'suspicious_request').execute();
      assert.ok(flagged.some((e) => e.context.includes('Revoked refresh token was used')));
      await assert.rejects(
        client.refreshTokenGrant(config, second.refresh_token!, { scope: 'openid profile' }),
        (e: any) => e.error === 'invalid_scope',
      );
      const third = await client.refreshTokenGrant(config, second.refresh_token!, { scope: 'openid offline_access' });
      assert.equal(third.scope, 'openid offline_access email');
    });

    it('refresh_token: the new refresh token’s stored ID token has the scopes’ claims and the new access token’s at_hash', async () => {
      const first = await client.authorizationCodeGrant(
        config,
        new URL(`${REDIRECT}?code=${await code('openid offline_access email profile')}`),
        {
          idTokenExpected: true,
        },
      );
      const second = await client.refreshTokenGrant(config, first.refresh_token!);
      const access = decodeJwt(second.access_token);
      const row = await srv.app.store.db
        .selectFrom('oauth2_refresh_tokens')
        .select('id_token')
        .where('token_hash', '=', hashOf(second.refresh_token!))
        .executeTakeFirstOrThrow();
      const stored = JSON.parse(row.id_token);
      assert.equal(stored.at_hash, atHash(second.access_token));
      for (const claims of [stored.claims, access])
        assert.deepEqual(
          [claims.email, claims.email_verified, claims.preferred_username, claims.nickname, claims.groups],
          ['alice@example.com', false, 'alice', 'alice', []],
        );
    });

    it('refresh_token_threshold: a refresh token valid for longer than the threshold is kept, not rotated', async () => {
      assert.equal((await call(srv, 'PATCH', `/providers/oauth2/${provider.pk}/`, { refresh_token_threshold: 'days=1' })).status, 200);
      try {
        const c = await code('openid offline_access');
        const first = await client.authorizationCodeGrant(config, new URL(`${REDIRECT}?code=${c}`), { idTokenExpected: true });
        const kept = await client.refreshTokenGrant(config, first.refresh_token!);
        assert.equal(kept.refresh_token, undefined);
        assert.ok(kept.access_token);
        // still usable
        assert.ok((await client.refreshTokenGrant(config, first.refresh_token!)).access_token);
      } finally {
        assert.equal((await call(srv, 'PATCH', `/providers/oauth2/${provider.pk}/`, { refresh_token_threshold: 'seconds=0' })).status, 200);
      }
    });

    it('introspection and revocation', async () => {
      const tokens = await client.clientCredentialsGrant(config, { scope: 'openid' });
      const live = await client.tokenIntrospection(config, tokens.access_token);
      assert.equal(live.active, true);
      assert.equal(live.client_id, provider.client_id);
      assert.equal(live.scope, 'openid');
      assert.equal(live.iss, `${srv.url}/application/o/${slug}/`);
      await client.tokenRevocation(config, tokens.access_token);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
      const unauth = await fetch(`${srv.url}/application/o/revoke/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: 'x', client_id: provider.client_id, client_secret: 'wrong' }),
      });
      assert.equal(unauth.status, 401);
      assert.equal((await unauth.json()).error, 'invalid_client');
      const noClient = await fetch(`${srv.url}/application/o/introspect/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: tokens.access_token }),
      });
      assert.deepEqual(await noClient.json(), { active: false });
    });

    it('the admin API lists grants with authentik’s serializers, never their secrets', async () => {
      await client.authorizationCodeGrant(config, new URL(`${REDIRECT}?code=${await code('openid offline_access')}`), {
        idTokenExpected: true,
      });
      await code('openid email');
      const codes = await call(srv, 'GET', `/oauth2/authorization_codes/?user=${userId}`);
      assert.equal(codes.status, 200);
      assert.ok(codes.body.results.length >= 1);
      const c = codes.body.results[0];
      assert.deepEqual(Object.keys(c), ['pk', 'provider', 'user', 'is_expired', 'expires', 'scope']);
      assert.equal(c.provider.pk, provider.pk);
      assert.equal(c.provider.meta_model_name, 'authentik_providers_oauth2.oauth2provider');
      assert.equal(c.user.username, 'alice');
      const refresh = await call(srv, 'GET', `/oauth2/refresh_tokens/?provider=${provider.pk}&user=${userId}`);
      const r = refresh.body.results.at(-1);
      assert.deepEqual(Object.keys(r), ['pk', 'provider', 'user', 'is_expired', 'expires', 'scope', 'id_token', 'revoked']);
      assert.deepEqual(r.scope, ['openid', 'offline_access']);
      const idToken = JSON.parse(r.id_token);
      assert.deepEqual(Object.keys(idToken), [
        'iss',
        'sub',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'acr',
        'amr',
        'c_hash',
        'nonce',
        'at_hash',
        'sid',
        'claims',
      ]);
      assert.equal(idToken.c_hash, null);
      assert.match(r.id_token, /^{\n {4}"iss"/);
      const access = await call(srv, 'GET', '/oauth2/access_tokens/');
      assert.ok(access.body.results.length >= 1);
      const one = access.body.results[0];
      assert.equal((await call(srv, 'GET', `/oauth2/access_tokens/${one.pk}/`)).body.pk, one.pk);
      assert.equal((await call(srv, 'DELETE', `/oauth2/access_tokens/${one.pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/oauth2/access_tokens/${one.pk}/`)).status, 404);
      assert.deepEqual((await call(srv, 'GET', `/oauth2/refresh_tokens/${r.pk}/used_by/`)).body, []);
    });

    it('userinfo refuses no token, an unknown one, and a token without openid', async () => {
      const none = await fetch(`${srv.url}/application/o/userinfo/`);
      assert.equal(none.status, 401);
      assert.equal(
        none.headers.get('www-authenticate'),
        'error="invalid_token", error_description="The access token provided is expired, revoked, malformed, or invalid for other reasons"',
      );
      const noOpenid = await client.clientCredentialsGrant(config, { scope: 'email' });
      const r = await fetch(`${srv.url}/application/o/userinfo/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${noOpenid.access_token}` },
      });
      assert.equal(r.status, 403);
      assert.match(r.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    });
  });
}
