/**
 * JWT client assertions from federated providers (authentik's `__post_init_client_credentials_jwt` with
 * `jwt_federation_providers`), on SQLite and PostgreSQL with openid-client: an access token another Keystage OAuth2
 * provider issued is accepted as `client_assertion` for the client_credentials grant, for the user it was issued to;
 * anything else is invalid_grant.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { dialects, startServer, type TestServer } from '../../helpers/server.js';
import { oauth2App } from './apps.js';
import { createUser } from '../../helpers/flows.js';
import { hashOf } from '../../../src/providers/oauth2/tokens/store.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

for (const dialect of dialects()) {
  describe(`OAuth2 JWT federation between providers (${dialect})`, () => {
    let srv: TestServer;
    const providers: Record<string, { pk: number; client_id: string; client_secret: string }> = {};
    const configs: Record<string, client.Configuration> = {};

    async function app(slug: string, extra: Record<string, unknown> = {}) {
      const made = await oauth2App(srv, slug, { extra });
      providers[slug] = made.provider;
      configs[slug] = made.config;
    }

    /** the token endpoint with a client assertion, as a client library sends it (client_id in the form, no secret) */
    async function assertAs(slug: string, assertion: string, type = JWT_BEARER) {
      const r = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: providers[slug]!.client_id,
          client_assertion_type: type,
          client_assertion: assertion,
          scope: 'openid profile',
        }),
      });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    }

    before(async () => {
      srv = await startServer(dialect);
      await createUser(srv, 'alice', 'correct horse battery staple');
      await app('issuer');
      await app('stranger');
      await app('federating', { jwt_federation_providers: [providers.issuer!.pk] });
    });
    after(async () => srv.close());

    it('an access token of a federated provider: tokens for its user; userinfo knows them; a login event with the jwt', async () => {
      const first = await client.clientCredentialsGrant(configs.issuer!, { scope: 'openid profile' });
      const config = await client.discovery(
        new URL(`${srv.url}/application/o/federating/`),
        providers.federating!.client_id,
        undefined,
        client.None(),
        {
          execute: [client.allowInsecureRequests],
        },
      );
      const tokens = await client.clientCredentialsGrant(config, {
        scope: 'openid profile',
        client_assertion_type: JWT_BEARER,
        client_assertion: first.access_token,
      });
      assert.equal(tokens.scope, 'openid profile');
      const info = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(info.status, 200);
      assert.equal(((await info.json()) as { preferred_username: string }).preferred_username, 'ak-p-issuer-client_credentials');
      const ev = await srv.app.store.db
        .selectFrom('events')
        .select(['context'])
        .where('action', '=', 'login')
        .orderBy('created', 'desc')
        .executeTakeFirstOrThrow();
      const ctx = JSON.parse(ev.context);
      assert.equal(ctx.auth_method, 'jwt');
      assert.equal(ctx.auth_method_args.provider.name, 'p-issuer');
      assert.equal(ctx.auth_method_args.jwt.azp, providers.issuer!.client_id);
      assert.equal(ctx.application.name, 'App federating');
      // the assertion may come as client_secret too (authentik)
      const r = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: providers.federating!.client_id,
          client_assertion_type: JWT_BEARER,
          client_secret: first.access_token,
        }),
      });
      assert.equal(r.status, 200);
    });

    it('refused (invalid_grant): a provider not federated, another assertion type, a revoked or expired token, a forged one', async () => {
      const stranger = await client.clientCredentialsGrant(configs.stranger!, { scope: 'openid' });
      assert.deepEqual(await assertAs('federating', stranger.access_token).then((x) => [x.status, x.body.error]), [400, 'invalid_grant']);
      const good = await client.clientCredentialsGrant(configs.issuer!, { scope: 'openid' });
      assert.equal(
        (await assertAs('federating', good.access_token, 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer')).body.error,
        'invalid_grant',
      );
      assert.equal((await assertAs('federating', '')).body.error, 'invalid_grant');
      // a token of the issuer, accepted only by the provider that federates it
      assert.equal((await assertAs('stranger', good.access_token)).body.error, 'invalid_grant');
      assert.equal((await assertAs('federating', good.access_token)).status, 200);
      // forged: the issuer's token with another payload (not a token the issuer stored)
      const [h, , sig] = good.access_token.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url')}.${sig}`;
      assert.equal((await assertAs('federating', forged)).body.error, 'invalid_grant');
      // revoked (deleted) and expired tokens
      const db = srv.app.store.db;
      const expired = await client.clientCredentialsGrant(configs.issuer!, { scope: 'openid' });
      await db
        .updateTable('oauth2_access_tokens')
        .set({ expires: new Date(Date.now() - 1000).toISOString() })
        .where('token_hash', '=', hashOf(expired.access_token))
        .execute();
      assert.equal((await assertAs('federating', expired.access_token)).body.error, 'invalid_grant');
      await client.tokenRevocation(configs.issuer!, good.access_token);
      assert.equal((await assertAs('federating', good.access_token)).body.error, 'invalid_grant');
    });
  });
}
