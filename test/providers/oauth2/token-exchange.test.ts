/**
 * The token exchange grant (RFC 8693, impersonation), on SQLite and PostgreSQL with openid-client's generic grant
 * request: a confidential client exchanges a person's access token from a provider it federates for a token of its
 * own for that person; everything else is refused with RFC 8693's and RFC 6749's errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { oauth2App } from './apps.js';
import { createUser } from '../../helpers/flows.js';
import { hashOf } from '../../../src/providers/oauth2/tokens/store.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';

for (const dialect of dialects()) {
  describe(`OAuth2 token exchange (${dialect})`, () => {
    let srv: TestServer;
    const providers: Record<string, { pk: number; client_id: string; client_secret: string }> = {};
    const configs: Record<string, client.Configuration> = {};
    let appPassword: string;

    async function app(slug: string, extra: Record<string, unknown> = {}) {
      const made = await oauth2App(srv, slug, { extra });
      providers[slug] = made.provider;
      configs[slug] = made.config;
    }

    /** alice's access token at `slug` (client_credentials with her app password, as authentik allows) */
    const aliceToken = async (slug: string, scope = 'openid profile email') =>
      (await client.clientCredentialsGrant(configs[slug]!, { scope, username: 'alice', password: appPassword })).access_token;

    /** the token endpoint as a client sends it, for the refusals' bodies */
    async function exchange(slug: string, params: Record<string, string>, secret = providers[slug]!.client_secret) {
      const r = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${providers[slug]!.client_id}:${secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: EXCHANGE, ...params }),
      });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    }

    before(async () => {
      srv = await startServer(dialect);
      const alice = await createUser(srv, 'alice', 'correct horse battery staple');
      const t = await call(srv, 'POST', '/core/tokens/', {
        identifier: 'alice-app',
        intent: 'app_password',
        user: alice,
        expiring: false,
      });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      appPassword = (await call(srv, 'GET', '/core/tokens/alice-app/view_key/')).body.key;
      await app('portal');
      await app('stranger');
      const grants = ['authorization_code', 'refresh_token', 'client_credentials', EXCHANGE];
      await app('backend', { jwt_federation_providers: [providers.portal!.pk], grant_types: grants });
      await app('closed', { jwt_federation_providers: [providers.portal!.pk] });
      await app('public-backend', { jwt_federation_providers: [providers.portal!.pk], grant_types: grants, client_type: 'public' });
    });
    after(async () => srv.close());

    it('a person’s access token from a federated provider becomes the client’s own token for that person (openid-client)', async () => {
      const subject = await aliceToken('portal');
      const tokens = await client.genericGrantRequest(configs.backend!, EXCHANGE, {
        subject_token: subject,
        subject_token_type: ACCESS,
        requested_token_type: ACCESS,
        scope: 'openid email',
      });
      assert.equal((tokens as unknown as { issued_token_type: string }).issued_token_type, ACCESS);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.scope, 'openid email');
      assert.equal(tokens.refresh_token, undefined);
      assert.equal(tokens.claims()?.aud, providers.backend!.client_id);
      const info = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      const claims = (await info.json()) as { email: string };
      assert.equal(info.status, 200);
      assert.equal(claims.email, 'alice@example.com');
      const row = await srv.app.store.db
        .selectFrom('oauth2_access_tokens')
        .select(['provider_id', 'user_id'])
        .where('token_hash', '=', hashOf(tokens.access_token))
        .executeTakeFirstOrThrow();
      const alice = (await call(srv, 'GET', '/core/users/?username=alice')).body.results[0];
      assert.deepEqual([row.provider_id, row.user_id], [providers.backend!.pk, alice.pk]);
      const discovery = await (await fetch(`${srv.url}/application/o/backend/.well-known/openid-configuration`)).json();
      assert.ok(discovery.grant_types_supported.includes(EXCHANGE));
    });

    it('refused: the grant not configured, a wrong secret or a public client, bad parameters, actor tokens', async () => {
      const subject = await aliceToken('portal');
      const ok = { subject_token: subject, subject_token_type: ACCESS };
      const err = async (slug: string, params: Record<string, string>, secret?: string) => {
        const r = await exchange(slug, params, secret);
        return [r.status, r.body.error];
      };
      assert.deepEqual(await err('closed', ok), [400, 'invalid_grant']);
      assert.deepEqual(await err('backend', ok, 'wrong'), [400, 'invalid_client']);
      assert.deepEqual(await err('public-backend', ok), [400, 'invalid_client']);
      assert.deepEqual(await err('backend', { subject_token_type: ACCESS }), [400, 'invalid_request']);
      assert.deepEqual(await err('backend', { ...ok, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), [
        400,
        'invalid_request',
      ]);
      assert.deepEqual(await err('backend', { ...ok, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), [
        400,
        'invalid_request',
      ]);
      assert.deepEqual(await err('backend', { ...ok, actor_token: subject, actor_token_type: ACCESS }), [400, 'invalid_request']);
      // and the untouched request still works
      assert.equal((await exchange('backend', ok)).status, 200);
    });

    it('refused (invalid_grant): a token of a provider not federated, revoked, expired or forged; a policy that denies', async () => {
      const grant = async (subject: string) =>
        (await exchange('backend', { subject_token: subject, subject_token_type: ACCESS })).body.error;
      assert.equal(await grant(await aliceToken('stranger')), 'invalid_grant');
      assert.equal(await grant('not-a-token'), 'invalid_grant');
      const good = await aliceToken('portal');
      const [h, , sig] = good.split('.');
      assert.equal(await grant(`${h}.${Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url')}.${sig}`), 'invalid_grant');
      const db = srv.app.store.db;
      const expired = await aliceToken('portal');
      await db
        .updateTable('oauth2_access_tokens')
        .set({ expires: new Date(Date.now() - 1000).toISOString() })
        .where('token_hash', '=', hashOf(expired))
        .execute();
      assert.equal(await grant(expired), 'invalid_grant');
      await db.updateTable('oauth2_access_tokens').set({ revoked: 1 }).where('token_hash', '=', hashOf(good)).execute();
      assert.equal(await grant(good), 'invalid_grant');
      // a DPoP-bound token of the person: only good with a proof by its key, so not here
      const bound = await aliceToken('portal');
      await db
        .updateTable('oauth2_access_tokens')
        .set({ dpop_jkt: 'x'.repeat(43) })
        .where('token_hash', '=', hashOf(bound))
        .execute();
      assert.equal(await grant(bound), 'invalid_grant');
      // the backend application's policies decide, with the grant type in their context
      const policy = await call(srv, 'POST', '/policies/expression/', {
        name: 'no-exchange',
        expression: 'return context["oauth_grant_type"] != "urn:ietf:params:oauth:grant-type:token-exchange"',
      });
      assert.equal(policy.status, 201, JSON.stringify(policy.body));
      const app = (await call(srv, 'GET', '/core/applications/backend/')).body;
      const b = await call(srv, 'POST', '/policies/bindings/', { policy: policy.body.pk, target: app.pk, order: 0 });
      assert.equal(b.status, 201);
      assert.equal(await grant(await aliceToken('portal')), 'invalid_grant');
      // client_credentials at the same application still passes the same policy
      assert.equal(typeof (await client.clientCredentialsGrant(configs.backend!, { scope: 'openid' })).access_token, 'string');
      await call(srv, 'DELETE', `/policies/bindings/${b.body.pk}/`);
      assert.equal((await exchange('backend', { subject_token: await aliceToken('portal'), subject_token_type: ACCESS })).status, 200);
    });
  });
}
