/**
 * /core/applications/ and /providers/all/: authentik's fields, defaults, messages and filters; launch URLs; access by
 * policy bindings (check_access, the list); what deleting an application or a provider does to the database.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { ProvidersApi } from '@goauthentik/api/dist/apis/ProvidersApi.js';
import { PolicyEngineMode } from '@goauthentik/api/dist/models/PolicyEngineMode.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, failure } from '../rest/contract/client.js';

async function flowPk(srv: TestServer, slug: string): Promise<string> {
  return (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;
}

async function userToken(srv: TestServer, username: string, uid: number): Promise<string> {
  const t = await call(srv, 'POST', '/core/tokens/', { identifier: `${username}-api`, intent: 'api', user: uid, expiring: false });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  return (await call(srv, 'GET', `/core/tokens/${username}-api/view_key/`)).body.key;
}

for (const dialect of dialects()) {
  describe(`applications API (${dialect})`, () => {
    let srv: TestServer;
    let core: CoreApi;
    let providers: ProvidersApi;
    let authz: string;
    let inval: string;
    before(async () => {
      srv = await startServer(dialect);
      const cfg = new Configuration({ basePath: srv.api, accessToken: srv.token });
      core = new CoreApi(cfg);
      providers = new ProvidersApi(cfg);
      authz = await flowPk(srv, 'default-provider-authorization-explicit-consent');
      inval = await flowPk(srv, 'default-provider-invalidation-flow');
    });
    after(async () => srv.close());

    const provider = async (name: string, url = `https://${name}.example.com/oauth/callback?x=1`) =>
      (
        await call(srv, 'POST', '/providers/oauth2/', {
          name,
          authorization_flow: authz,
          invalidation_flow: inval,
          redirect_uris: [{ matching_mode: 'strict', url }],
        })
      ).body.pk as number;

    it('creates with a provider through the official client: defaults, provider_obj, launch URL from the provider', async () => {
      const pk = await provider('wiki');
      const app = await body(core.coreApplicationsCreateRaw({ applicationRequest: { name: 'Wiki', slug: 'wiki', provider: pk } }));
      assertMatches('Application', app);
      assert.equal(app.pk, app.pbm_uuid);
      assert.equal(app.provider, pk);
      assert.equal(app.provider_obj.pk, pk);
      assert.equal(app.provider_obj.name, 'wiki');
      assert.equal(app.provider_obj.assigned_application_slug, 'wiki');
      assert.equal(app.provider_obj.component, 'ak-provider-oauth2-form');
      assert.equal(app.provider_obj.meta_model_name, 'authentik_providers_oauth2.oauth2provider');
      assert.equal(app.launch_url, 'https://wiki.example.com?x=1');
      assert.deepEqual(
        [
          app.open_in_new_tab,
          app.meta_launch_url,
          app.meta_description,
          app.meta_publisher,
          app.group,
          app.meta_hide,
          app.policy_engine_mode,
        ],
        [false, '', '', '', '', false, 'any'],
      );
      assert.deepEqual(app.backchannel_providers, []);
      assert.equal(app.meta_icon_url, null);
      const row = await srv.app.store.db.selectFrom('applications').selectAll().where('slug', '=', 'wiki').executeTakeFirstOrThrow();
      assert.equal(row.pbm_uuid, app.pk);
      assert.equal(Number(row.provider), pk);
      // the provider now shows its application
      const p = await body(providers.providersOauth2RetrieveRaw({ id: pk }));
      assert.deepEqual([p.assigned_application_slug, p.assigned_application_name], ['wiki', 'Wiki']);
      // meta_launch_url wins, formatted with the user's fields
      const patched = await body(
        core.coreApplicationsPartialUpdateRaw({
          slug: 'wiki',
          patchedApplicationRequest: { metaLaunchUrl: 'https://wiki.example.com/u/%(username)s', policyEngineMode: PolicyEngineMode.All },
        }),
      );
      assert.equal(patched.launch_url, 'https://wiki.example.com/u/akadmin');
      assert.equal(patched.policy_engine_mode, 'all');
      await call(srv, 'PATCH', '/core/applications/wiki/', { meta_launch_url: '' });
    });

    it('validation: slug, unique slug and provider, providers that exist, URLs', async () => {
      const r = await call(srv, 'POST', '/core/applications/', { name: '', slug: 'not a slug' });
      assert.deepEqual(
        [r.status, r.body],
        [
          400,
          {
            name: ['This field may not be blank.'],
            slug: ['Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.'],
          },
        ],
      );
      const pk = await provider('dup');
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'A', slug: 'dup-a', provider: pk })).status, 201);
      const dup = await failure(core.coreApplicationsCreate({ applicationRequest: { name: 'B', slug: 'dup-a', provider: pk } }));
      assert.deepEqual(dup, {
        status: 400,
        body: { slug: ['Application with this slug already exists.'], provider: ['Application with this provider already exists.'] },
      });
      const missing = await call(srv, 'POST', '/core/applications/', {
        name: 'C',
        slug: 'c',
        provider: 99999,
        backchannel_providers: [88888],
      });
      assert.deepEqual(
        [missing.status, missing.body],
        [
          400,
          {
            provider: ['Invalid pk "99999" - object does not exist.'],
            backchannel_providers: ['Invalid pk "88888" - object does not exist.'],
          },
        ],
      );
      const url = await call(srv, 'POST', '/core/applications/', {
        name: 'C',
        slug: 'c',
        meta_launch_url: 'nope',
        policy_engine_mode: 'some',
      });
      assert.deepEqual(
        [url.status, url.body],
        [400, { meta_launch_url: ['Enter a valid URL.'], policy_engine_mode: ['"some" is not a valid choice.'] }],
      );
      // renaming the slug moves the URL; the old one is gone
      assert.equal((await call(srv, 'PATCH', '/core/applications/dup-a/', { slug: 'dup-b' })).status, 200);
      assert.equal((await call(srv, 'GET', '/core/applications/dup-a/')).status, 404);
      assert.equal((await call(srv, 'GET', '/core/applications/dup-b/')).body.name, 'A');
      // the OAuth2 endpoints' names are reserved (authentik's test_applications_reserved_slugs.py), on create and update
      for (const slug of ['authorize', 'token', 'userinfo', 'revoke']) {
        const taken = await call(srv, 'POST', '/core/applications/', { name: `R ${slug}`, slug });
        assert.deepEqual(
          [taken.status, taken.body],
          [400, { slug: [`The slug '${slug}' is reserved and cannot be used for applications.`] }],
        );
      }
      const renamed = await call(srv, 'PATCH', '/core/applications/dup-b/', { slug: 'authorize' });
      assert.deepEqual([renamed.status, Object.keys(renamed.body)], [400, ['slug']]);
      assert.equal((await call(srv, 'GET', '/core/applications/dup-b/')).status, 200);
      assert.equal((await srv.app.store.db.selectFrom('applications').select('slug').where('slug', '=', 'authorize').execute()).length, 0);
    });

    it('access: bindings decide check_access and the list; superuser_full_list shows all; for_user', async () => {
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'Open', slug: 'open' })).status, 201);
      const closed = await call(srv, 'POST', '/core/applications/', { name: 'Closed', slug: 'closed' });
      assert.equal(closed.status, 201);
      const deny = await call(srv, 'POST', '/policies/dummy/', { name: 'never', result: false, wait_min: 0, wait_max: 0 });
      const b = await call(srv, 'POST', '/policies/bindings/', { target: closed.body.pk, policy: deny.body.pk, order: 0 });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      const access = await body(core.coreApplicationsCheckAccessRetrieveRaw({ slug: 'closed' }));
      assertMatches('PolicyTestResult', access);
      assert.equal(access.passing, false);
      assert.equal((await body(core.coreApplicationsCheckAccessRetrieveRaw({ slug: 'open' }))).passing, true);

      // a user allowed by a user binding on "closed" (any mode: one passing binding is enough)
      const uid = await createUser(srv, 'alice', 'alice-password-1');
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: closed.body.pk, user: uid, order: 1 })).status, 201);
      assert.equal((await call(srv, 'GET', `/core/applications/closed/check_access/?for_user=${uid}`)).body.passing, true);
      assert.deepEqual((await call(srv, 'GET', '/core/applications/closed/check_access/?for_user=x')).body, {
        for_user: 'for_user must be numerical',
      });
      assert.deepEqual((await call(srv, 'GET', '/core/applications/closed/check_access/?for_user=424242')).body, {
        for_user: 'User not found',
      });

      const slugs = async (q: string, token = srv.token) => {
        const r = await call({ ...srv, token }, 'GET', `/core/applications/?${q}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assertMatches('PaginatedApplicationList', r.body);
        return r.body.results.map((a: { slug: string }) => a.slug).filter((s: string) => s === 'open' || s === 'closed');
      };
      assert.deepEqual(await slugs('superuser_full_list=true'), ['closed', 'open']);
      assert.deepEqual(await slugs(''), ['open'], 'the admin is not bound to "closed"');
      assert.deepEqual(await slugs(`for_user=${uid}`), ['closed', 'open']);
      // a plain user lists what they may use; superuser_full_list is not theirs
      const token = await userToken(srv, 'alice', uid);
      assert.deepEqual(await slugs('superuser_full_list=true', token), ['closed', 'open']);
      const bob = await createUser(srv, 'bob', 'bob-password-12');
      const bobToken = await userToken(srv, 'bob', bob);
      assert.deepEqual(await slugs('superuser_full_list=true', bobToken), ['open']);
      assert.equal((await call({ ...srv, token: bobToken }, 'POST', '/core/applications/', { name: 'x', slug: 'x' })).status, 403);
      // anyone logged in asks about themselves (authentik: no view_application needed); for_user is a superuser's
      const bobAsks = await call({ ...srv, token: bobToken }, 'GET', `/core/applications/closed/check_access/?for_user=${uid}`);
      assert.deepEqual([bobAsks.status, bobAsks.body], [200, { passing: false, messages: [], log_messages: [] }]);
      assert.equal((await call({ ...srv, token: bobToken }, 'GET', '/core/applications/no-such-app/check_access/')).status, 404);
      // another user's list takes view_user_applications, for every user or that one
      assert.deepEqual((await call({ ...srv, token: bobToken }, 'GET', `/core/applications/?for_user=${uid}`)).body, {
        for_user: 'User not found',
      });
      const helpdesk = (await call(srv, 'POST', '/rbac/roles/', { name: 'app-helpdesk' })).body.pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${helpdesk}/add_user/`, { pk: bob })).status, 204);
      const granted = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${helpdesk}/assign/`, {
        permissions: ['authentik_core.view_user_applications'],
        model: 'authentik_core.user',
        object_pk: String(uid),
      });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      assert.deepEqual(await slugs(`for_user=${uid}`, bobToken), ['closed', 'open']);
      const requestable = await call(srv, 'GET', '/core/applications/requestable/');
      assert.equal(requestable.status, 200);
      assert.deepEqual(requestable.body.results, []);

      // used_by lists the bindings; deleting the application deletes them
      const used = await call(srv, 'GET', '/core/applications/closed/used_by/');
      assert.equal(used.status, 200);
      assert.equal(used.body.length, 2);
      assert.ok(used.body.every((u: { model_name: string; action: string }) => u.model_name === 'policybinding' && u.action === 'cascade'));
      assert.equal((await call(srv, 'DELETE', '/core/applications/closed/')).status, 204);
      const left = await srv.app.store.db
        .selectFrom('policy_bindings')
        .select('policy_binding_uuid')
        .where('target', '=', closed.body.pk)
        .execute();
      assert.equal(left.length, 0);
      assert.equal((await call(srv, 'GET', '/core/applications/closed/')).status, 404);
    });

    it('/providers/all/: base objects, types, application__isnull; deleting a provider leaves its application without one', async () => {
      const pk = await provider('orphan');
      const used = await provider('used');
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'Used', slug: 'used', provider: used })).status, 201);
      const all = await body(providers.providersAllListRaw({}));
      assertMatches('PaginatedProviderList', all);
      const names = (q: string) =>
        call(srv, 'GET', `/providers/all/?${q}`).then((r) => r.body.results.map((p: { name: string }) => p.name));
      assert.ok((await names('application__isnull=true')).includes('orphan'));
      assert.ok(!(await names('application__isnull=true')).includes('used'));
      assert.ok((await names('application__isnull=false')).includes('used'));
      assert.deepEqual(await names('backchannel=true'), []);
      const one = await body(providers.providersAllRetrieveRaw({ id: pk }));
      assertMatches('Provider', one);
      assert.equal(one.verbose_name, 'OAuth2/OpenID Provider');
      const types = await call(srv, 'GET', '/providers/all/types/');
      assert.deepEqual(
        types.body.map((t: { model_name: string; component: string }) => [t.model_name, t.component]),
        [
          ['oauth2provider', 'ak-provider-oauth2-form'],
          ['samlprovider', 'ak-provider-saml-form'],
          ['scimprovider', 'ak-provider-scim-form'],
          ['ssfprovider', 'ak-provider-ssf-form'],
          ['wsfederationprovider', 'ak-provider-wsfed-form'],
        ],
      );
      for (const t of types.body) assertMatches('TypeCreate', t);
      const usedBy = await call(srv, 'GET', `/providers/all/${used}/used_by/`);
      assert.deepEqual(
        usedBy.body.map((u: { model_name: string; action: string; name: string }) => [u.model_name, u.action, u.name]),
        [['application', 'set_null', 'Used']],
      );
      assert.equal((await call(srv, 'DELETE', `/providers/all/${used}/`)).status, 204);
      const app = await call(srv, 'GET', '/core/applications/used/');
      assert.equal(app.body.provider, null);
      assert.equal(app.body.provider_obj, null);
      assert.equal(app.body.launch_url, null);
      assert.equal(
        await srv.app.store.db.selectFrom('provider_oauth2').select('provider_id').where('provider_id', '=', used).executeTakeFirst(),
        undefined,
      );
    });

    it('deleting the authorization flow deletes its providers (authentik: on_delete CASCADE)', async () => {
      const f = await call(srv, 'POST', '/flows/instances/', { name: 'authz2', slug: 'authz2', title: 't', designation: 'authorization' });
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'cascade',
        authorization_flow: f.body.pk,
        invalidation_flow: inval,
        redirect_uris: [],
      });
      assert.equal(p.status, 201);
      const used = await call(srv, 'GET', '/flows/instances/authz2/used_by/');
      assert.deepEqual(
        used.body.filter((u: { model_name: string }) => u.model_name === 'oauth2provider'),
        [
          {
            app: 'authentik_providers_oauth2',
            model_name: 'oauth2provider',
            pk: String(p.body.pk),
            name: 'OAuth2 Provider cascade',
            action: 'cascade',
          },
        ],
      );
      const inv = await call(srv, 'GET', '/flows/instances/default-provider-invalidation-flow/used_by/');
      assert.ok(inv.body.some((u: { name: string; action: string }) => u.name === 'OAuth2 Provider cascade' && u.action === 'set_null'));
      assert.equal((await call(srv, 'DELETE', '/flows/instances/authz2/')).status, 204);
      assert.equal((await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/`)).status, 404);
    });
  });
}
