/**
 * Dynamic client registration (RFC 7591, authentik 2026.8's OAuth2DynamicClientRegistration), on SQLite and
 * PostgreSQL: `/providers/oauth2-dcr/` through the official client; `/application/o/<slug>/register/` with an access
 * token holding `goauthentik.io/oidc/dcr` (authentik's tests/test_dcr.py scenarios), whose registered client then
 * gets tokens with openid-client; the discovery document and setup URLs; policy bindings copied; nothing written on
 * a refused registration; parallel registrations under one name. And the API taking an access token with
 * `goauthentik.io/api` as its bearer credential (authentik's `auth_user_lookup`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ProvidersApi } from '@goauthentik/api/dist/apis/ProvidersApi.js';
import { GrantTypeEnum } from '@goauthentik/api/dist/models/GrantTypeEnum.js';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { body } from '../../rest/contract/client.js';

const DCR_SCOPE = 'goauthentik.io/oidc/dcr';

for (const dialect of dialects()) {
  describe(`OAuth2 dynamic client registration (${dialect})`, () => {
    let srv: TestServer;
    let providers: ProvidersApi;
    let base: { pk: number; client_id: string; client_secret: string };
    let dcrPk: string;
    let baseApp: string;
    let registrar: client.Configuration;
    const flows: Record<string, string> = {};
    const pm: Record<string, string> = {};

    const register = async (meta: unknown, token?: string, slug = 'base') => {
      const r = await fetch(`${srv.url}/application/o/${slug}/register/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: typeof meta === 'string' ? meta : JSON.stringify(meta),
      });
      const text = await r.text();
      let parsed: Record<string, any> = {};
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: r.status, body: parsed, type: r.headers.get('content-type') ?? '' };
    };
    const token = async (scope: string) => (await client.clientCredentialsGrant(registrar, { scope })).access_token;
    const counts = async () => {
      const db = srv.app.store.db;
      const n = async (t: 'providers' | 'applications' | 'policy_bindings') =>
        Number(
          (
            await db
              .selectFrom(t)
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      return { providers: await n('providers'), applications: await n('applications'), bindings: await n('policy_bindings') };
    };
    const dummy = async (name: string, result: boolean) => {
      const r = await call(srv, 'POST', '/policies/dummy/', { name, result, wait_min: 0, wait_max: 0 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const bind = async (policy: string, target: string) => {
      const r = await call(srv, 'POST', '/policies/bindings/', { policy, target, order: 0 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };

    before(async () => {
      srv = await startServer(dialect);
      providers = new ProvidersApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      for (const slug of [
        'default-provider-authorization-implicit-consent',
        'default-provider-invalidation-flow',
        'default-authentication-flow',
      ])
        flows[slug] = (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;
      for (const r of await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute())
        if (r.managed) pm[r.managed.replace('goauthentik.io/providers/oauth2/scope-', '')] = r.pm_uuid;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'mcp-gateway',
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [{ matching_mode: 'strict', url: 'http://127.0.0.1/cb' }],
        property_mappings: [pm.openid, pm.profile, pm.authentik_dcr, pm.authentik_api],
        access_token_validity: 'minutes=5',
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      base = p.body;
      const a = await call(srv, 'POST', '/core/applications/', { name: 'Base', slug: 'base', provider: base.pk });
      assert.equal(a.status, 201);
      baseApp = a.body.pk;
      const dcr = await body(providers.providersOauth2DcrCreateRaw({ oAuth2DynamicClientRegistrationRequest: { provider: base.pk } }));
      assertMatches('OAuth2DynamicClientRegistration', dcr);
      dcrPk = dcr.pbm_uuid;
      registrar = await client.discovery(
        new URL(`${srv.url}/application/o/base/`),
        base.client_id,
        { client_secret: base.client_secret },
        undefined,
        { execute: [client.allowInsecureRequests] },
      );
    });
    after(async () => srv.close());

    it('the settings through the official client: authentik’s defaults, one per provider, filtered by provider', async () => {
      const got = await body(providers.providersOauth2DcrRetrieveRaw({ pbmUuid: dcrPk }));
      assert.deepEqual(
        {
          provider: got.provider,
          group: got.default_application_group,
          flows: [got.override_authorization_flow, got.override_invalidation_flow],
          mappings: got.override_property_mappings,
          validity: [got.access_token_validity, got.refresh_token_validity],
          grants: got.allowed_grant_types,
          mode: got.policy_engine_mode,
        },
        { provider: base.pk, group: '', flows: [null, null], mappings: [], validity: ['hours=1', 'days=30'], grants: [], mode: 'any' },
      );
      const again = await call(srv, 'POST', '/providers/oauth2-dcr/', { provider: base.pk });
      assert.equal(again.status, 400);
      assert.deepEqual(again.body, { provider: ['OAuth2 Dynamic Client Registration with this Provider already exists.'] });
      const bad = await call(srv, 'POST', '/providers/oauth2-dcr/', {
        provider: 999999,
        allowed_grant_types: ['magic'],
        access_token_validity: 'forever',
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(Object.keys(bad.body).sort(), ['access_token_validity', 'allowed_grant_types', 'provider']);
      const list = await body(providers.providersOauth2DcrListRaw({ provider: base.pk }));
      assertMatches('PaginatedOAuth2DynamicClientRegistrationList', list);
      assert.deepEqual(
        list.results.map((r: { pbm_uuid: string }) => r.pbm_uuid),
        [dcrPk],
      );
      assert.equal((await call(srv, 'GET', '/providers/oauth2-dcr/?provider=999999')).body.results.length, 0);
    });

    it('discovery and setup URLs name the registration endpoint only where registration is on', async () => {
      const fetched = await (await fetch(`${srv.url}/application/o/base/.well-known/openid-configuration`)).json();
      assert.equal(fetched.registration_endpoint, `${srv.url}/application/o/base/register/`);
      const setup = await call(srv, 'GET', `/providers/oauth2/${base.pk}/setup_urls/`);
      assert.equal(setup.body.dcr_registration, `${srv.url}/application/o/base/register/`);
      const other = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'closed',
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [],
      });
      await call(srv, 'POST', '/core/applications/', { name: 'Closed', slug: 'closed', provider: other.body.pk });
      const closedDoc = await (await fetch(`${srv.url}/application/o/closed/.well-known/openid-configuration`)).json();
      assert.equal('registration_endpoint' in closedDoc, false);
      assert.equal((await call(srv, 'GET', `/providers/oauth2/${other.body.pk}/setup_urls/`)).body.dcr_registration, null);
      const r = await register({ redirect_uris: ['https://x.example/cb'] }, await token(DCR_SCOPE), 'closed');
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { error: 'not_found', error_description: 'Dynamic client registration is not enabled for this provider.' });
      assert.equal((await register({ redirect_uris: ['https://x.example/cb'] }, undefined, 'no-such-app')).status, 404);
    });

    it('registers a client: a new provider and application from the settings; the client gets tokens with its secret', async () => {
      const before = await counts();
      const r = await register(
        {
          redirect_uris: ['https://client.example/callback'],
          client_name: 'Test Client',
          grant_types: ['client_credentials', 'authorization_code'],
        },
        await token(`openid ${DCR_SCOPE}`),
      );
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.match(r.type, /^application\/json/);
      assert.match(r.body.client_id, /^[A-Za-z0-9]{40}$/);
      assert.match(r.body.client_secret, /^[A-Za-z0-9]{128}$/);
      assert.equal(r.body.client_secret_expires_at, 0);
      assert.equal(typeof r.body.client_id_issued_at, 'number');
      assert.deepEqual(
        [r.body.redirect_uris, r.body.grant_types, r.body.token_endpoint_auth_method, r.body.client_name],
        [['https://client.example/callback'], ['client_credentials', 'authorization_code'], 'client_secret_basic', 'Test Client'],
      );
      const after = await counts();
      assert.deepEqual([after.providers - before.providers, after.applications - before.applications], [1, 1]);
      const made = (await call(srv, 'GET', `/providers/oauth2/?client_id=${r.body.client_id}`)).body.results[0];
      assert.equal(made.name, 'Test Client');
      assert.equal(made.client_type, 'confidential');
      assert.deepEqual(made.redirect_uris, [
        { matching_mode: 'strict', url: 'https://client.example/callback', redirect_uri_type: 'authorization' },
      ]);
      assert.equal(made.authorization_flow, flows['default-provider-authorization-implicit-consent']);
      // the settings' validity (hours=1), not the base provider's (minutes=5); the base provider's mappings
      assert.deepEqual([made.access_token_validity, made.refresh_token_validity], ['hours=1', 'days=30']);
      assert.deepEqual([...made.property_mappings].sort(), [pm.openid, pm.profile, pm.authentik_dcr, pm.authentik_api].sort());
      const app = (await call(srv, 'GET', '/core/applications/test-client/')).body;
      assert.deepEqual([app.name, app.provider, app.group], ['Test Client', made.pk, '']);
      // the registered client is real: client_credentials with the returned secret, at its own issuer
      const cfg = await client.discovery(
        new URL(`${srv.url}/application/o/test-client/`),
        r.body.client_id,
        { client_secret: r.body.client_secret },
        undefined,
        { execute: [client.allowInsecureRequests] },
      );
      const t = await client.clientCredentialsGrant(cfg, { scope: 'openid profile' });
      assert.equal(typeof t.access_token, 'string');
      assert.equal(t.claims()?.aud, r.body.client_id);
      // a second registration under the same name gets its own provider name and slug
      const second = await register({ redirect_uris: ['https://client.example/2'], client_name: 'Test Client' }, await token(DCR_SCOPE));
      assert.equal(second.status, 201);
      const names = (await call(srv, 'GET', `/providers/oauth2/?client_id=${second.body.client_id}`)).body.results.map(
        (p: { name: string }) => p.name,
      );
      assert.deepEqual(names, ['Test Client-1']);
      assert.equal((await call(srv, 'GET', '/core/applications/test-client-1/')).status, 200);
      assert.deepEqual(second.body.grant_types, ['authorization_code']);
      // and the registration is in the event log, by the registering account
      const events = await call(srv, 'GET', '/events/events/?action=model_created&page_size=100');
      const apps = events.body.results.filter(
        (e: { context: { model?: { model_name: string; name: string } } }) =>
          e.context.model?.model_name === 'application' && e.context.model.name === 'Test Client',
      );
      assert.equal(apps.length, 2);
      assert.equal(apps[0].user.username, 'ak-mcp-gateway-client_credentials');
    });

    it('a name whose client_credentials service account is left from a deleted provider is not taken', async () => {
      // (an account a deleted provider "Legacy" left, with whatever roles it was given)
      const left = await call(srv, 'POST', '/core/users/', {
        username: 'ak-Legacy-client_credentials',
        name: 'left over',
        type: 'service_account',
      });
      assert.equal(left.status, 201, JSON.stringify(left.body));
      const r = await register(
        { redirect_uris: ['https://legacy.example/cb'], client_name: 'Legacy', grant_types: ['client_credentials'] },
        await token(DCR_SCOPE),
      );
      assert.equal(r.status, 201);
      const made = (await call(srv, 'GET', `/providers/oauth2/?client_id=${r.body.client_id}`)).body.results[0];
      assert.equal(made.name, 'Legacy-1');
      const cfg = await client.discovery(
        new URL(`${srv.url}/application/o/legacy/`),
        r.body.client_id,
        { client_secret: r.body.client_secret },
        undefined,
        {
          execute: [client.allowInsecureRequests],
        },
      );
      const t = await client.clientCredentialsGrant(cfg, { scope: 'openid profile' });
      const info = await client.fetchUserInfo(cfg, t.access_token, client.skipSubjectCheck);
      assert.equal(info.preferred_username, 'ak-Legacy-1-client_credentials');
    });

    it('refuses without an access token holding the scope, with an expired or revoked one: 401 invalid_token, nothing written', async () => {
      const before = await counts();
      const meta = { redirect_uris: ['https://x.example/cb'] };
      const expect401 = (r: { status: number; body: Record<string, any> }) => {
        assert.equal(r.status, 401);
        assert.equal(r.body.error, 'invalid_token');
      };
      expect401(await register(meta));
      expect401(await register(meta, 'not-a-token'));
      expect401(await register(meta, await token('openid')));
      const expired = await token(DCR_SCOPE);
      const revoked = await token(DCR_SCOPE);
      const { hashOf } = await import('../../../src/providers/oauth2/tokens/store.js');
      const db = srv.app.store.db;
      await db
        .updateTable('oauth2_access_tokens')
        .set({ expires: new Date(Date.now() - 3_600_000).toISOString() })
        .where('token_hash', '=', hashOf(expired))
        .execute();
      await db.updateTable('oauth2_access_tokens').set({ revoked: 1 }).where('token_hash', '=', hashOf(revoked)).execute();
      expect401(await register(meta, expired));
      expect401(await register(meta, revoked));
      const basic = await fetch(`${srv.url}/application/o/base/register/`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${base.client_id}:${base.client_secret}`).toString('base64')}` },
        body: JSON.stringify(meta),
      });
      assert.equal(basic.status, 401);
      assert.deepEqual(await counts(), before);
    });

    it('bad metadata: 400 with RFC 7591’s error codes, nothing written', async () => {
      const t = await token(DCR_SCOPE);
      const before = await counts();
      const cases: [unknown, string][] = [
        ['not-json', 'invalid_client_metadata'],
        ['[1,2]', 'invalid_client_metadata'],
        [{ client_name: 'No URIs' }, 'invalid_redirect_uri'],
        [{ redirect_uris: [] }, 'invalid_redirect_uri'],
        [{ redirect_uris: [42] }, 'invalid_redirect_uri'],
        [{ redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
        [{ redirect_uris: ['https://x.example/cb'], grant_types: 'client_credentials' }, 'invalid_client_metadata'],
        [{ redirect_uris: ['https://x.example/cb'], client_name: 7 }, 'invalid_client_metadata'],
      ];
      for (const [meta, error] of cases) {
        const r = await register(meta, t);
        assert.equal(r.status, 400, JSON.stringify(meta));
        assert.equal(r.body.error, error, JSON.stringify(meta));
        assert.equal(typeof r.body.error_description, 'string');
      }
      assert.deepEqual(await counts(), before);
    });

    it('allowed grant types filter the request; none allowed is refused; a public client gets no secret', async () => {
      const t = await token(DCR_SCOPE);
      await body(
        providers.providersOauth2DcrPartialUpdateRaw({
          pbmUuid: dcrPk,
          patchedOAuth2DynamicClientRegistrationRequest: {
            allowedGrantTypes: [GrantTypeEnum.AuthorizationCode, GrantTypeEnum.RefreshToken],
          },
        }),
      );
      const r = await register(
        { redirect_uris: ['https://x.example/cb'], grant_types: ['authorization_code', 'client_credentials', 'password'] },
        t,
      );
      assert.equal(r.status, 201);
      assert.deepEqual(r.body.grant_types, ['authorization_code']);
      await call(srv, 'PATCH', `/providers/oauth2-dcr/${dcrPk}/`, { allowed_grant_types: ['client_credentials'] });
      const none = await register({ redirect_uris: ['https://x.example/cb'] }, t);
      assert.equal(none.status, 400);
      assert.equal(none.body.error, 'invalid_client_metadata');
      await call(srv, 'PATCH', `/providers/oauth2-dcr/${dcrPk}/`, { allowed_grant_types: [] });
      const pub = await register({ redirect_uris: ['http://127.0.0.1:1234/cb'], token_endpoint_auth_method: 'none' }, t);
      assert.equal(pub.status, 201);
      assert.equal('client_secret' in pub.body, false);
      assert.equal(pub.body.token_endpoint_auth_method, 'none');
      const made = (await call(srv, 'GET', `/providers/oauth2/?client_id=${pub.body.client_id}`)).body.results[0];
      assert.equal(made.client_type, 'public');
      // no name: the application is named after the client id
      assert.equal((await call(srv, 'GET', `/core/applications/${pub.body.client_id.toLowerCase()}/`)).body.name, pub.body.client_id);
    });

    it('overrides apply: flow, mappings, group; the settings’ policy bindings are copied, else the application’s', async () => {
      const t = await token(DCR_SCOPE);
      await call(srv, 'PATCH', `/providers/oauth2-dcr/${dcrPk}/`, {
        override_authorization_flow: flows['default-authentication-flow'],
        override_property_mappings: [pm.email],
        default_application_group: 'registered',
        access_token_validity: 'minutes=10',
      });
      const fromApp = await dummy('allow-from-app', true);
      const appBinding = await bind(fromApp, baseApp);
      const r = await register({ redirect_uris: ['https://x.example/cb'], client_name: 'Overridden' }, t);
      assert.equal(r.status, 201);
      const made = (await call(srv, 'GET', `/providers/oauth2/?client_id=${r.body.client_id}`)).body.results[0];
      assert.equal(made.authorization_flow, flows['default-authentication-flow']);
      assert.deepEqual(made.property_mappings, [pm.email]);
      assert.equal(made.access_token_validity, 'minutes=10');
      const app = (await call(srv, 'GET', '/core/applications/overridden/')).body;
      assert.equal(app.group, 'registered');
      const copied = (await call(srv, 'GET', `/policies/bindings/?target=${app.pk}`)).body.results;
      assert.deepEqual(
        copied.map((b: { policy: string }) => b.policy),
        [fromApp],
      );
      assert.notEqual(copied[0].pk, appBinding);
      // bindings on the settings win over the application's
      const fromDcr = await dummy('allow-from-dcr', true);
      const dcrBinding = await bind(fromDcr, dcrPk);
      assert.equal((await call(srv, 'GET', `/policies/bindings/${dcrBinding}/`)).body.target, dcrPk);
      const r2 = await register({ redirect_uris: ['https://x.example/cb'], client_name: 'From settings' }, t);
      const app2 = (await call(srv, 'GET', '/core/applications/from-settings/')).body;
      assert.equal(r2.status, 201);
      assert.deepEqual(
        (await call(srv, 'GET', `/policies/bindings/?target=${app2.pk}`)).body.results.map((b: { policy: string }) => b.policy),
        [fromDcr],
      );
      await call(srv, 'DELETE', `/policies/bindings/${appBinding}/`);
    });

    it('a policy on the application that fails: 403 access_denied, nothing written', async () => {
      const t = await token(DCR_SCOPE);
      const deny = await bind(await dummy('deny', false), baseApp);
      const before = await counts();
      const r = await register({ redirect_uris: ['https://x.example/cb'] }, t);
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { error: 'access_denied', error_description: 'Policy check failed for client registration.' });
      assert.deepEqual(await counts(), before);
      await call(srv, 'DELETE', `/policies/bindings/${deny}/`);
    });

    it('parallel registrations under one name: each its own provider and application', async () => {
      const t = await token(DCR_SCOPE);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => register({ redirect_uris: [`https://p.example/${i}`], client_name: 'Parallel' }, t)),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(6).fill(201),
      );
      const slugs = (await call(srv, 'GET', '/core/applications/?search=Parallel&page_size=50')).body.results.map(
        (a: { slug: string }) => a.slug,
      );
      assert.deepEqual(slugs.sort(), ['parallel', 'parallel-1', 'parallel-2', 'parallel-3', 'parallel-4', 'parallel-5']);
    });

    it('deleting the provider takes its registration settings and their bindings; used_by says so first', async () => {
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'short-lived',
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [],
      });
      const d = await call(srv, 'POST', '/providers/oauth2-dcr/', { provider: p.body.pk });
      assert.equal(d.status, 201);
      await bind(await dummy('bound-to-short-lived', true), d.body.pbm_uuid);
      const used = await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/used_by/`);
      assert.ok(
        used.body.some(
          (u: { model_name: string; pk: string }) => u.model_name === 'oauth2dynamicclientregistration' && u.pk === d.body.pbm_uuid,
        ),
      );
      assert.equal((await call(srv, 'DELETE', `/providers/oauth2/${p.body.pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/providers/oauth2-dcr/${d.body.pbm_uuid}/`)).status, 404);
      const left = await srv.app.store.db.selectFrom('policy_bindings').select('target').where('target', '=', d.body.pbm_uuid).execute();
      assert.equal(left.length, 0);
    });
  });

  describe(`the API with an OAuth2 access token (${dialect})`, () => {
    let srv: TestServer;
    let cfg: client.Configuration;
    before(async () => {
      srv = await startServer(dialect);
      const flow = (await call(srv, 'GET', '/flows/instances/default-provider-authorization-implicit-consent/')).body.pk;
      const inval = (await call(srv, 'GET', '/flows/instances/default-provider-invalidation-flow/')).body.pk;
      const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      const pm = (s: string) => rows.find((r) => r.managed === `goauthentik.io/providers/oauth2/scope-${s}`)!.pm_uuid;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'cli',
        authorization_flow: flow,
        invalidation_flow: inval,
        redirect_uris: [],
        property_mappings: [pm('openid'), pm('authentik_api')],
      });
      await call(srv, 'POST', '/core/applications/', { name: 'CLI', slug: 'cli', provider: p.body.pk });
      cfg = await client.discovery(
        new URL(`${srv.url}/application/o/cli/`),
        p.body.client_id,
        { client_secret: p.body.client_secret },
        undefined,
        {
          execute: [client.allowInsecureRequests],
        },
      );
    });
    after(async () => srv.close());

    it('with goauthentik.io/api: the API answers as its user; without it, or revoked, or for a disabled user: 403', async () => {
      const me = (t: string) => fetch(`${srv.api}/core/users/me/`, { headers: { authorization: `Bearer ${t}` } });
      const withApi = (await client.clientCredentialsGrant(cfg, { scope: 'openid goauthentik.io/api' })).access_token;
      const r = await me(withApi);
      assert.equal(r.status, 200);
      const who = ((await r.json()) as { user: { username: string; pk: number } }).user;
      assert.equal(who.username, 'ak-cli-client_credentials');
      const without = (await client.clientCredentialsGrant(cfg, { scope: 'openid' })).access_token;
      const denied = await me(without);
      assert.equal(denied.status, 403);
      assert.deepEqual(await denied.json(), { detail: 'Token invalid/expired' });
      const { hashOf } = await import('../../../src/providers/oauth2/tokens/store.js');
      const db = srv.app.store.db;
      const revoked = (await client.clientCredentialsGrant(cfg, { scope: 'openid goauthentik.io/api' })).access_token;
      await db.updateTable('oauth2_access_tokens').set({ revoked: 1 }).where('token_hash', '=', hashOf(revoked)).execute();
      assert.equal((await me(revoked)).status, 403);
      await db.updateTable('users').set({ is_active: 0 }).where('id', '=', who.pk).execute();
      assert.equal((await me(withApi)).status, 403);
      await db.updateTable('users').set({ is_active: 1 }).where('id', '=', who.pk).execute();
      assert.equal((await me(withApi)).status, 200);
    });
  });
}
