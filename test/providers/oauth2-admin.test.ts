/**
 * /providers/oauth2/ through the official client and raw HTTP: authentik's fields and defaults, generated client
 * credentials, the secret sealed at rest, validation messages, filters, setup_urls and preview_user.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ProvidersApi } from '@goauthentik/api/dist/apis/ProvidersApi.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { ClientTypeEnum } from '@goauthentik/api/dist/models/ClientTypeEnum.js';
import { MatchingModeEnum } from '@goauthentik/api/dist/models/MatchingModeEnum.js';
import { SubModeEnum } from '@goauthentik/api/dist/models/SubModeEnum.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { oauth2ProviderByAppSlug, oauth2ProviderByClientId, oauth2ProviderById } from '../../src/providers/oauth2/config.js';

async function flowPk(srv: TestServer, slug: string): Promise<string> {
  const r = await call(srv, 'GET', `/flows/instances/${slug}/`);
  assert.equal(r.status, 200, slug);
  return r.body.pk;
}

for (const dialect of dialects()) {
  describe(`OAuth2 providers API (${dialect})`, () => {
    let srv: TestServer;
    let providers: ProvidersApi;
    let core: CoreApi;
    let authz: string;
    let inval: string;
    before(async () => {
      srv = await startServer(dialect);
      const cfg = new Configuration({ basePath: srv.api, accessToken: srv.token });
      providers = new ProvidersApi(cfg);
      core = new CoreApi(cfg);
      authz = await flowPk(srv, 'default-provider-authorization-implicit-consent');
      inval = await flowPk(srv, 'default-provider-invalidation-flow');
    });
    after(async () => srv.close());

    it('creates with authentik’s defaults and generated credentials (official client); the secret is sealed at rest', async () => {
      const created = await body(
        providers.providersOauth2CreateRaw({
          oAuth2ProviderRequest: {
            name: 'grafana',
            authorizationFlow: authz,
            invalidationFlow: inval,
            redirectUris: [{ matchingMode: MatchingModeEnum.Strict, url: 'https://grafana.example.com/login/generic_oauth' }],
          },
        }),
      );
      assertMatches('OAuth2Provider', created);
      assert.equal(typeof created.pk, 'number');
      assert.equal(created.client_type, 'confidential');
      assert.match(created.client_id, /^[A-Za-z0-9]{40}$/);
      assert.match(created.client_secret, /^[A-Za-z0-9]{128}$/);
      assert.equal(created.access_code_validity, 'minutes=1');
      assert.equal(created.access_token_validity, 'hours=1');
      assert.equal(created.refresh_token_validity, 'days=30');
      assert.equal(created.refresh_token_threshold, 'seconds=0');
      assert.equal(created.include_claims_in_id_token, true);
      assert.equal(created.sub_mode, 'hashed_user_id');
      assert.equal(created.issuer_mode, 'per_provider');
      assert.equal(created.logout_method, 'backchannel');
      assert.equal(created.logout_uri, '');
      assert.equal(created.signing_key, null);
      assert.equal(created.encryption_key, null);
      assert.deepEqual(created.redirect_uris, [
        { matching_mode: 'strict', url: 'https://grafana.example.com/login/generic_oauth', redirect_uri_type: 'authorization' },
      ]);
      assert.deepEqual(created.property_mappings, []);
      assert.equal(created.component, 'ak-provider-oauth2-form');
      assert.equal(created.meta_model_name, 'authentik_providers_oauth2.oauth2provider');
      assert.equal(created.verbose_name, 'OAuth2/OpenID Provider');
      assert.equal(created.verbose_name_plural, 'OAuth2/OpenID Providers');
      assert.equal(created.assigned_application_slug, null);
      assert.equal(created.authorization_flow, authz);
      assert.equal(created.invalidation_flow, inval);
      assert.equal(created.authentication_flow, null);
      assert.ok(created.grant_types.includes('authorization_code'));
      assert.ok(created.grant_types.includes('refresh_token'));

      const row = await srv.app.store.db
        .selectFrom('provider_oauth2')
        .selectAll()
        .where('provider_id', '=', created.pk)
        .executeTakeFirstOrThrow();
      assert.ok(row.client_secret.startsWith('enc:v1:'), 'sealed');
      assert.ok(!row.client_secret.includes(created.client_secret));
      const base = await srv.app.store.db.selectFrom('providers').selectAll().where('id', '=', created.pk).executeTakeFirstOrThrow();
      assert.equal(base.kind, 'oauth2provider');

      // read back through the typed client
      const got = await providers.providersOauth2Retrieve({ id: created.pk });
      assert.equal(got.clientSecret, created.client_secret);
      assert.equal(got.clientType, ClientTypeEnum.Confidential);
    });

    it('validation: required fields, choices, durations, regex redirect URIs, unique client_id, flows that exist', async () => {
      const r = await call(srv, 'POST', '/providers/oauth2/', {});
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, {
        name: ['This field is required.'],
        authorization_flow: ['This field is required.'],
        invalidation_flow: ['This field is required.'],
        redirect_uris: ['This field is required.'],
      });
      const base = { name: 'x', authorization_flow: authz, invalidation_flow: inval, redirect_uris: [] };
      const bad = await call(srv, 'POST', '/providers/oauth2/', {
        ...base,
        client_type: 'secret',
        sub_mode: 'nope',
        access_code_validity: 'minutes',
        authentication_flow: '00000000-0000-4000-8000-000000000000',
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, {
        client_type: ['"secret" is not a valid choice.'],
        sub_mode: ['"nope" is not a valid choice.'],
        access_code_validity: ["minutes is not in the correct format of 'hours=3;minutes=1'."],
        authentication_flow: ['Invalid pk "00000000-0000-4000-8000-000000000000" - object does not exist.'],
      });
      const regex = await call(srv, 'POST', '/providers/oauth2/', {
        ...base,
        redirect_uris: [{ matching_mode: 'regex', url: 'https://(' }],
      });
      assert.deepEqual([regex.status, regex.body], [400, { redirect_uris: ['Invalid Regex Pattern: https://('] }]);
      const missing = await call(srv, 'POST', '/providers/oauth2/', {
        ...base,
        redirect_uris: [{ url: 'https://a' }, { matching_mode: 'strict' }],
      });
      assert.deepEqual(
        [missing.status, missing.body],
        [400, { redirect_uris: [{ matching_mode: ['This field is required.'] }, { url: ['This field is required.'] }] }],
      );
      const logout = await call(srv, 'POST', '/providers/oauth2/', { ...base, logout_uri: 'not a url' });
      assert.deepEqual([logout.status, logout.body], [400, { logout_uri: ['Enter a valid URL.'] }]);
      const one = await call(srv, 'POST', '/providers/oauth2/', { ...base, name: 'fixed-id', client_id: 'my-client' });
      assert.equal(one.status, 201, JSON.stringify(one.body));
      assert.equal(one.body.client_id, 'my-client');
      const dup = await call(srv, 'POST', '/providers/oauth2/', { ...base, name: 'fixed-id-2', client_id: 'my-client' });
      assert.deepEqual([dup.status, dup.body], [400, { client_id: ['OAuth2/OpenID Provider with this Client ID already exists.'] }]);
      const dupName = await call(srv, 'POST', '/providers/oauth2/', { ...base, name: 'fixed-id' });
      assert.deepEqual([dupName.status, dupName.body], [400, { name: ['provider with this name already exists.'] }]);
      // the same client_id on update of the same provider is fine
      const put = await call(srv, 'PATCH', `/providers/oauth2/${one.body.pk}/`, { client_id: 'my-client', client_secret: 'rotated' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.client_secret, 'rotated');
      assert.equal((await call(srv, 'DELETE', `/providers/oauth2/${one.body.pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/providers/oauth2/${one.body.pk}/`)).status, 404);
      assert.equal(
        await srv.app.store.db
          .selectFrom('provider_oauth2')
          .select('provider_id')
          .where('provider_id', '=', one.body.pk)
          .executeTakeFirst(),
        undefined,
      );
    });

    it('jwt_federation_providers: OAuth2 providers only (DRF’s message otherwise); jwt_federation_sources: sources only', async () => {
      const base = { authorization_flow: authz, invalidation_flow: inval, redirect_uris: [] };
      const other = await call(srv, 'POST', '/providers/oauth2/', { ...base, name: 'federated-from' });
      assert.equal(other.status, 201);
      const r = await call(srv, 'POST', '/providers/oauth2/', { ...base, name: 'federating', jwt_federation_providers: [other.body.pk] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(r.body.jwt_federation_providers, [other.body.pk]);
      const bad = await call(srv, 'PATCH', `/providers/oauth2/${r.body.pk}/`, { jwt_federation_providers: [other.body.pk, 99999] });
      assert.deepEqual([bad.status, bad.body], [400, { jwt_federation_providers: ['Invalid pk "99999" - object does not exist.'] }]);
      assert.deepEqual((await call(srv, 'GET', `/providers/oauth2/${r.body.pk}/`)).body.jwt_federation_providers, [other.body.pk]);
      const noSource = await call(srv, 'PATCH', `/providers/oauth2/${r.body.pk}/`, {
        jwt_federation_sources: ['00000000-0000-4000-8000-000000000000'],
      });
      assert.equal(noSource.status, 400);
      assert.ok(Array.isArray(noSource.body.jwt_federation_sources), JSON.stringify(noSource.body));
      await call(srv, 'DELETE', `/providers/oauth2/${r.body.pk}/`);
      await call(srv, 'DELETE', `/providers/oauth2/${other.body.pk}/`);
    });

    it('filters and search', async () => {
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'public-spa',
        client_type: 'public',
        sub_mode: 'user_email',
        authorization_flow: authz,
        invalidation_flow: inval,
        redirect_uris: [{ matching_mode: 'regex', url: 'https://spa\\.example\\.com/.*' }],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      const names = async (q: string) =>
        (await call(srv, 'GET', `/providers/oauth2/?${q}`)).body.results.map((x: { name: string }) => x.name);
      assert.deepEqual(await names('client_type=public'), ['public-spa']);
      assert.deepEqual(await names(`client_id=${p.body.client_id}`), ['public-spa']);
      assert.deepEqual(await names('sub_mode=user_email'), ['public-spa']);
      assert.deepEqual(await names('search=public'), ['public-spa']);
      assert.equal((await call(srv, 'GET', '/providers/oauth2/?client_type=nope')).status, 400);
      const list = await body(providers.providersOauth2ListRaw({ ordering: 'name' }));
      assertMatches('PaginatedOAuth2ProviderList', list);
    });

    it('setup_urls at authentik’s paths; 404 without an application', async () => {
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'urls',
        authorization_flow: authz,
        invalidation_flow: inval,
        redirect_uris: [],
      });
      assert.equal((await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/setup_urls/`)).status, 404);
      const app = await call(srv, 'POST', '/core/applications/', { name: 'Urls', slug: 'urls-app', provider: p.body.pk });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const u = await body(providers.providersOauth2SetupUrlsRetrieveRaw({ id: p.body.pk }));
      assertMatches('OAuth2ProviderSetupURLs', u);
      const base = srv.url;
      assert.deepEqual(u, {
        issuer: `${base}/application/o/urls-app/`,
        authorize: `${base}/application/o/authorize/`,
        token: `${base}/application/o/token/`,
        user_info: `${base}/application/o/userinfo/`,
        provider_info: `${base}/application/o/urls-app/.well-known/openid-configuration`,
        logout: `${base}/application/o/urls-app/end-session/`,
        jwks: `${base}/application/o/urls-app/jwks/`,
        dcr_registration: null,
      });
      await call(srv, 'PATCH', `/providers/oauth2/${p.body.pk}/`, { issuer_mode: 'global' });
      assert.equal((await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/setup_urls/`)).body.issuer, `${base}/`);
    });

    it('preview_user: the claims of every mapped scope for a user', async () => {
      const uid = await createUser(srv, 'preview', 'pw-preview-1234');
      const mappings = (await call(srv, 'GET', '/propertymappings/provider/scope/?managed__isnull=false')).body.results;
      const pick = (scope: string) => mappings.find((m: { scope_name: string }) => m.scope_name === scope).pk;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'preview',
        authorization_flow: authz,
        invalidation_flow: inval,
        redirect_uris: [],
        sub_mode: SubModeEnum.UserUsername,
        property_mappings: [pick('openid'), pick('email'), pick('profile')],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.equal(p.body.property_mappings.length, 3);
      const r = await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/preview_user/?for_user=${uid}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assertMatches('PropertyMappingPreview', r.body);
      const t = r.body.preview;
      assert.equal(t.sub, 'preview');
      assert.equal(t.aud, p.body.client_id);
      assert.equal(t.email, 'preview@example.com');
      assert.equal(t.email_verified, false);
      assert.equal(t.preferred_username, 'preview');
      assert.equal(t.name, 'preview Example');
      assert.deepEqual(t.groups, []);
      assert.equal(t.iss, undefined, 'no application: no issuer');
      assert.deepEqual((await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/preview_user/?for_user=abc`)).body, {
        for_user: 'input must be numerical',
      });
      assert.deepEqual((await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/preview_user/?for_user=999999`)).body, {
        for_user: 'User not found',
      });
      void core;
    });

    it('signing and encryption keys reference certificate-key pairs: the pair’s used_by lists the provider; deleting it unsets them', async () => {
      const gen = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', {
        common_name: 'oauth2-signing',
        subject_alt_name: 'keystage.test',
        validity_days: 30,
        alg: 'ecdsa',
      });
      assert.equal(gen.status, 200, JSON.stringify(gen.body));
      const kp = gen.body.pk as string;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'signed',
        authorization_flow: authz,
        invalidation_flow: inval,
        redirect_uris: [],
        signing_key: kp,
        encryption_key: kp,
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.deepEqual([p.body.signing_key, p.body.encryption_key], [kp, kp]);
      assert.deepEqual(
        (await call(srv, 'GET', `/providers/oauth2/?signing_key=${kp}`)).body.results.map((x: { name: string }) => x.name),
        ['signed'],
      );
      const usedBy = (await call(srv, 'GET', `/crypto/certificatekeypairs/${kp}/used_by/`)).body;
      assert.deepEqual(
        usedBy.map((u: Record<string, unknown>) => [u.app, u.model_name, u.pk, u.name, u.action]),
        [
          ['authentik_providers_oauth2', 'oauth2provider', String(p.body.pk), 'signed', 'set_null'],
          ['authentik_providers_oauth2', 'oauth2provider', String(p.body.pk), 'signed', 'set_null'],
        ],
      );
      const none = '00000000-0000-4000-8000-00000000dead';
      const bad = await call(srv, 'PATCH', `/providers/oauth2/${p.body.pk}/`, { signing_key: none });
      assert.deepEqual([bad.status, bad.body], [400, { signing_key: [`Invalid pk "${none}" - object does not exist.`] }]);
      assert.equal((await call(srv, 'DELETE', `/crypto/certificatekeypairs/${kp}/`)).status, 204);
      const after = await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/`);
      assert.equal(after.status, 200, 'the provider stays');
      assert.deepEqual([after.body.signing_key, after.body.encryption_key], [null, null]);
    });

    it('config.ts: the provider as the protocol reads it, secret decrypted, with its application; current after a write', async () => {
      const openid = (await call(srv, 'GET', '/propertymappings/provider/scope/?scope_name=openid')).body.results[0].pk;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'loader',
        authorization_flow: authz,
        invalidation_flow: inval,
        client_id: 'loader-client',
        client_secret: 's3cret',
        client_type: 'public',
        redirect_uris: [
          { matching_mode: 'regex', url: 'https://app\\.example\\.com/.*' },
          { matching_mode: 'strict', url: 'https://app.example.com/bye', redirect_uri_type: 'logout' },
        ],
        property_mappings: [openid],
        logout_uri: 'https://app.example.com/backchannel',
        grant_types: ['authorization_code', 'refresh_token'],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      const svc = srv.app.services;
      const byId = await oauth2ProviderById(svc, p.body.pk);
      assert.deepEqual(byId, {
        id: p.body.pk,
        name: 'loader',
        authentication_flow: null,
        authorization_flow: authz,
        invalidation_flow: inval,
        client_type: 'public',
        client_id: 'loader-client',
        client_secret: 's3cret',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: [
          { matching_mode: 'regex', url: 'https://app\\.example\\.com/.*', redirect_uri_type: 'authorization' },
          { matching_mode: 'strict', url: 'https://app.example.com/bye', redirect_uri_type: 'logout' },
        ],
        include_claims_in_id_token: true,
        signing_key: null,
        encryption_key: null,
        access_code_validity: 'minutes=1',
        access_token_validity: 'hours=1',
        refresh_token_validity: 'days=30',
        refresh_token_threshold: 'seconds=0',
        sub_mode: 'hashed_user_id',
        issuer_mode: 'per_provider',
        logout_uri: 'https://app.example.com/backchannel',
        logout_method: 'backchannel',
        property_mappings: [openid],
        jwt_federation_providers: [],
        jwt_federation_sources: [],
        application: null,
      });
      assert.equal(await oauth2ProviderByAppSlug(svc, 'loader-app'), undefined);
      const app = await call(srv, 'POST', '/core/applications/', {
        name: 'Loader',
        slug: 'loader-app',
        provider: p.body.pk,
        policy_engine_mode: 'all',
      });
      assert.equal(app.status, 201);
      const bySlug = await oauth2ProviderByAppSlug(svc, 'loader-app');
      assert.deepEqual(bySlug?.application, { slug: 'loader-app', name: 'Loader', pbm_uuid: app.body.pk, policy_engine_mode: 'all' });
      assert.equal((await oauth2ProviderByClientId(svc, 'loader-client'))?.id, p.body.pk);
      assert.equal(await oauth2ProviderByClientId(svc, 'nobody'), undefined);
      // launch URL from the first authorization redirect URI (a regex here, as authentik takes it)
      assert.equal(app.body.launch_url, 'https://app\\.example\\.com');
      await call(srv, 'PATCH', `/providers/oauth2/${p.body.pk}/`, { client_secret: 'rotated' });
      assert.equal((await oauth2ProviderByClientId(svc, 'loader-client'))?.client_secret, 'rotated');
    });
  });
}
