/**
 * PUT /core/transactional/applications/ (SQLite and PostgreSQL): authentik's application wizard through the official
 * client — an OAuth2 provider, its application and a policy binding made together, the application then serving
 * OpenID discovery; a refused provider, a taken slug or an unknown provider model write nothing and answer 400 under
 * the entry's name; a caller without a model's add permission gets 403.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { ProviderModelEnum } from '@goauthentik/api/dist/models/ProviderModelEnum.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { flowPks } from '../helpers/sources.js';
import { createUser, tokenFor } from '../groups/setup.js';

const count = async (srv: TestServer, path: string) => (await call(srv, 'GET', `${path}?page_size=1`)).body.pagination.count as number;

for (const dialect of dialects()) {
  describe(`transactional applications (${dialect})`, () => {
    let srv: TestServer;
    let flows: Record<string, string>;
    let provider: Record<string, unknown>;
    before(async () => {
      srv = await startServer(dialect);
      flows = await flowPks(srv);
      provider = {
        name: 'wizard-provider',
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [{ matching_mode: 'strict', url: 'https://wizard.example/callback' }],
      };
    });
    after(async () => srv.close());

    it('the provider, the application and its policy binding in one go, through the official client', async () => {
      const policy = (await call(srv, 'POST', '/policies/expression/', { name: 'wizard-policy', expression: 'return True' })).body.pk;
      const core = new CoreApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const r = await core.coreTransactionalApplicationsUpdate({
        transactionApplicationRequest: {
          app: { name: 'Wizard', slug: 'wizard' },
          providerModel: ProviderModelEnum.AuthentikProvidersOauth2Oauth2provider,
          provider: {
            providerModel: 'authentik_providers_oauth2.oauth2provider',
            name: 'wizard-provider',
            authorizationFlow: provider.authorization_flow as string,
            invalidationFlow: provider.invalidation_flow as string,
            redirectUris: [{ matchingMode: 'strict', url: 'https://wizard.example/callback' }],
          } as never,
          policyBindings: [{ policy, order: 0, negate: true }],
        },
      });
      assert.deepEqual(r, { applied: true, logs: [] });
      const app = (await call(srv, 'GET', '/core/applications/wizard/')).body;
      const made = (await call(srv, 'GET', `/providers/oauth2/${app.provider}/`)).body;
      assert.deepEqual(
        [made.name, made.assigned_application_slug, made.redirect_uris[0].url],
        ['wizard-provider', 'wizard', 'https://wizard.example/callback'],
      );
      const bindings = (await call(srv, 'GET', `/policies/bindings/?target=${app.pk}`)).body.results;
      assert.deepEqual(
        bindings.map((b: { policy: string; negate: boolean; order: number }) => [b.policy, b.negate, b.order]),
        [[policy, true, 0]],
      );
      const discovery = await fetch(`${srv.url}/application/o/wizard/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      assert.equal((await discovery.json()).issuer, `${srv.url}/application/o/wizard/`);
    });

    it('a refused provider, a taken slug, an unknown model: 400 under the entry, nothing written', async () => {
      const before = await Promise.all([count(srv, '/providers/all/'), count(srv, '/core/applications/')]);
      const noFlow = await call(srv, 'PUT', '/core/transactional/applications/', {
        app: { name: 'Broken', slug: 'broken' },
        provider_model: 'authentik_providers_oauth2.oauth2provider',
        provider: { ...provider, name: 'broken-provider', authorization_flow: undefined },
      });
      assert.deepEqual([noFlow.status, noFlow.body], [400, { provider: { authorization_flow: ['This field is required.'] } }]);
      const taken = await call(srv, 'PUT', '/core/transactional/applications/', {
        app: { name: 'Wizard again', slug: 'wizard' },
        provider_model: 'authentik_providers_oauth2.oauth2provider',
        provider: { ...provider, name: 'second-provider' },
      });
      assert.deepEqual([taken.status, taken.body], [400, { app: ['State is set to must_created and object exists already'] }]);
      const badApp = await call(srv, 'PUT', '/core/transactional/applications/', {
        app: { slug: 'nameless' },
        provider_model: 'authentik_providers_oauth2.oauth2provider',
        provider: { ...provider, name: 'third-provider' },
      });
      assert.deepEqual([badApp.status, badApp.body], [400, { app: { name: ['This field is required.'] } }]);
      const proxy = await call(srv, 'PUT', '/core/transactional/applications/', {
        app: { name: 'Proxy', slug: 'proxy' },
        provider_model: 'authentik_providers_proxy.proxyprovider',
        provider: { name: 'proxy' },
      });
      assert.deepEqual(
        [proxy.status, proxy.body],
        [400, { provider_model: ['"authentik_providers_proxy.proxyprovider" is not a valid choice.'] }],
      );
      // a SAML provider is validated as its own API validates it
      const saml = await call(srv, 'PUT', '/core/transactional/applications/', {
        app: { name: 'SAML', slug: 'saml' },
        provider_model: 'authentik_providers_saml.samlprovider',
        provider: { name: 'saml' },
      });
      assert.deepEqual(
        [saml.status, Object.keys(saml.body.provider).sort()],
        [400, ['acs_url', 'authorization_flow', 'invalidation_flow']],
      );
      const empty = await call(srv, 'PUT', '/core/transactional/applications/', {});
      assert.deepEqual(empty.body, {
        app: ['This field is required.'],
        provider_model: ['This field is required.'],
        provider: ['This field is required.'],
      });
      assert.deepEqual(await Promise.all([count(srv, '/providers/all/'), count(srv, '/core/applications/')]), before);
    });

    it("needs each model's add permission", async () => {
      const user = await createUser(srv, 'wizard-worker');
      const token = await tokenFor(srv, user, 'wizard-worker-key-0123456789abcdefghijklmnop');
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'wizards' })).body.pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: user })).status, 204);
      const assign = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
        permissions: ['authentik_core.add_application'],
      });
      assert.equal(assign.status, 200);
      const body = {
        app: { name: 'Worker app', slug: 'worker-app' },
        provider_model: 'authentik_providers_oauth2.oauth2provider',
        provider: { ...provider, name: 'worker-provider' },
      };
      const denied = await call(srv, 'PUT', '/core/transactional/applications/', body, { authorization: `Bearer ${token}` });
      assert.deepEqual(
        [denied.status, denied.body],
        [403, { provider: 'User lacks permission to create authentik_providers_oauth2.oauth2provider' }],
      );
      assert.equal((await call(srv, 'GET', '/core/applications/worker-app/')).status, 404);
      const more = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
        permissions: ['authentik_providers_oauth2.add_oauth2provider'],
      });
      assert.equal(more.status, 200);
      const ok = await call(srv, 'PUT', '/core/transactional/applications/', body, { authorization: `Bearer ${token}` });
      assert.deepEqual([ok.status, ok.body], [200, { applied: true, logs: [] }]);
    });
  });
}
