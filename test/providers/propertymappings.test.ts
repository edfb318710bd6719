/**
 * Property mappings: the seven managed scope mappings from the first start (authentik's managed ids, names, texts),
 * /propertymappings/provider/scope/ and /propertymappings/all/ (types, test, used_by), and scope mapping evaluation —
 * natively for authentik's texts with the same result as the Python runtime, custom ones in Python, a failing one
 * giving no claims and a `property_mapping_exception` event.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { PropertymappingsApi } from '@goauthentik/api/dist/apis/PropertymappingsApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, failure } from '../rest/contract/client.js';
import { MANAGED_SCOPE_MAPPINGS } from '../../src/propertymappings/managed.js';
import { evaluateScopeMapping, scopeMappingsOf } from '../../src/providers/mappings.js';
import { mappingGlobals, mappingHost } from '../../src/propertymappings/scope.js';
import { evaluate } from '../../src/expressions/index.js';
import { userById } from '../../src/users/by-id.js';

for (const dialect of dialects()) {
  describe(`property mappings (${dialect})`, () => {
    let srv: TestServer;
    let api: PropertymappingsApi;
    before(async () => {
      srv = await startServer(dialect);
      api = new PropertymappingsApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
    });
    after(async () => srv.close());

    it('the seven managed scope mappings exist from the first start, as authentik’s (2026.8: with dynamic client registration’s)', async () => {
      const list = await body(api.propertymappingsProviderScopeListRaw({ managedIsnull: false, pageSize: 100 }));
      assertMatches('PaginatedScopeMappingList', list);
      assert.equal(list.results.length, 7);
      for (const m of MANAGED_SCOPE_MAPPINGS) {
        const got = list.results.find((r: { managed: string }) => r.managed === m.managed);
        assert.ok(got, m.managed);
        assert.deepEqual([got.name, got.scope_name, got.description, got.expression], [m.name, m.scope_name, m.description, m.expression]);
        assert.equal(got.component, 'ak-property-mapping-provider-scope-form');
        assert.equal(got.meta_model_name, 'authentik_providers_oauth2.scopemapping');
      }
      assert.deepEqual(list.results.map((r: { scope_name: string }) => r.scope_name).sort(), [
        'email',
        'entitlements',
        'goauthentik.io/api',
        'goauthentik.io/oidc/dcr',
        'offline_access',
        'openid',
        'profile',
      ]);
      const byManaged = await call(srv, 'GET', '/propertymappings/all/?managed=goauthentik.io/providers/oauth2/scope-email');
      assert.deepEqual(
        byManaged.body.results.map((r: { name: string }) => r.name),
        ["authentik default OAuth Mapping: OpenID 'email'"],
      );
      assertMatches('PaginatedPropertyMappingList', byManaged.body);
      // a second start creates no duplicates
      const again = await startServer(
        dialect,
        dialect === 'sqlite' ? { sqlitePath: srv.config.sqlitePath } : { databaseUrl: srv.config.databaseUrl },
      );
      await again.close();
      const n = await srv.app.store.db.selectFrom('property_mappings').select('pm_uuid').where('kind', '=', 'scopemapping').execute();
      assert.equal(n.length, 7);
      // (and authentik's nine managed LDAP source mappings, test/sources/ldap.test.ts, its seven SAML provider
      // mappings, test/providers/saml/sso.test.ts, and its two SCIM provider mappings, test/providers/scim/)
      const all = await srv.app.store.db.selectFrom('property_mappings').select('pm_uuid').execute();
      assert.equal(all.length, 7 + 9 + 7 + 2);
    });

    it('scope mappings: create, validate, update, used_by, delete (official client)', async () => {
      const created = await body(
        api.propertymappingsProviderScopeCreateRaw({
          scopeMappingRequest: { name: 'nickname', scopeName: 'nick', expression: 'return {"nick": request.user.username.upper()}' },
        }),
      );
      assertMatches('ScopeMapping', created);
      assert.deepEqual([created.managed, created.description, created.scope_name], [null, '', 'nick']);
      const req = await call(srv, 'POST', '/propertymappings/provider/scope/', {});
      assert.deepEqual(
        [req.status, req.body],
        [400, { name: ['This field is required.'], expression: ['This field is required.'], scope_name: ['This field is required.'] }],
      );
      const dup = await failure(
        api.propertymappingsProviderScopeCreate({ scopeMappingRequest: { name: 'nickname', scopeName: 'x', expression: 'return {}' } }),
      );
      assert.deepEqual(dup, { status: 400, body: { name: ['Property Mapping with this name already exists.'] } });
      const syntax = await call(srv, 'POST', '/propertymappings/provider/scope/', {
        name: 'broken',
        scope_name: 'b',
        expression: 'return {',
      });
      assert.equal(syntax.status, 400);
      assert.match(syntax.body.expression[0], /^Expression Syntax Error: /);
      const patched = await call(srv, 'PATCH', `/propertymappings/provider/scope/${created.pk}/`, { description: 'Your nickname' });
      assert.equal(patched.body.description, 'Your nickname');
      assert.deepEqual(
        (await call(srv, 'GET', '/propertymappings/provider/scope/?scope_name=nick')).body.results.map((r: { pk: string }) => r.pk),
        [created.pk],
      );

      const flows = (await call(srv, 'GET', '/flows/instances/?designation=authorization')).body.results;
      const inval = (await call(srv, 'GET', '/flows/instances/default-provider-invalidation-flow/')).body.pk;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'uses-nick',
        authorization_flow: flows[0].pk,
        invalidation_flow: inval,
        redirect_uris: [],
        property_mappings: [created.pk],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      const used = await call(srv, 'GET', `/propertymappings/all/${created.pk}/used_by/`);
      assert.deepEqual(
        used.body.map((u: { model_name: string; name: string }) => [u.model_name, u.name]),
        [['provider', 'uses-nick']],
      );
      const types = await call(srv, 'GET', '/propertymappings/all/types/');
      assert.deepEqual(
        types.body.map((t: { model_name: string }) => t.model_name),
        [
          'scopemapping',
          'samlpropertymapping',
          'scimmapping',
          'oauthsourcepropertymapping',
          'ldapsourcepropertymapping',
          'plexsourcepropertymapping',
          'samlsourcepropertymapping',
          'scimsourcepropertymapping',
          'telegramsourcepropertymapping',
          'notificationwebhookmapping',
        ],
      );
      await api.propertymappingsAllDestroy({ pmUuid: created.pk });
      assert.deepEqual((await call(srv, 'GET', `/providers/oauth2/${p.body.pk}/`)).body.property_mappings, []);
      assert.equal((await call(srv, 'GET', `/propertymappings/provider/scope/${created.pk}/`)).status, 404);
    });

    it('test: a mapping’s result for a user, as authentik’s JSON text', async () => {
      const uid = await createUser(srv, 'tester', 'tester-password-1');
      const email = (await call(srv, 'GET', '/propertymappings/provider/scope/?scope_name=email')).body.results[0];
      const r = await body(api.propertymappingsAllTestCreateRaw({ pmUuid: email.pk, propertyMappingTestRequest: { user: uid } }));
      assertMatches('PropertyMappingTestResult', r);
      assert.deepEqual(r, { result: '{"email": "tester@example.com", "email_verified": false}', successful: true });
      const pretty = await call(srv, 'POST', `/propertymappings/all/${email.pk}/test/?format_result=true`, { user: uid });
      assert.equal(pretty.body.result, '{\n    "email": "tester@example.com",\n    "email_verified": false\n}');
      const custom = await call(srv, 'POST', '/propertymappings/provider/scope/', {
        name: 'who',
        scope_name: 'who',
        expression: 'return {"who": user.username, "via": request.user.username, "extra": context_value}',
      });
      assert.equal(custom.status, 201, JSON.stringify(custom.body));
      const ok = await call(srv, 'POST', `/propertymappings/all/${custom.body.pk}/test/`, { user: uid, context: { context_value: 3 } });
      assert.deepEqual(ok.body, { result: '{"who": "tester", "via": "tester", "extra": 3}', successful: true });
      const failing = await call(srv, 'POST', `/propertymappings/all/${custom.body.pk}/test/`, { user: uid });
      assert.equal(failing.body.successful, false);
      assert.match(failing.body.result, /NameError/);
      assert.equal((await call(srv, 'POST', `/propertymappings/all/${custom.body.pk}/test/`, { user: 'x' })).status, 400);
      // a group is given to the expression as `group` (authentik's test_test_call_group)
      const team = await call(srv, 'POST', '/core/groups/', { name: 'mapping-team', attributes: { floor: 3 } });
      const byGroup = await call(srv, 'POST', '/propertymappings/provider/scope/', {
        name: 'team',
        scope_name: 'team',
        expression: 'return {"team": group.name, "floor": group.attributes["floor"]}',
      });
      const grouped = await call(srv, 'POST', `/propertymappings/all/${byGroup.body.pk}/test/`, { group: team.body.pk });
      assert.deepEqual(grouped.body, { result: '{"team": "mapping-team", "floor": 3}', successful: true });
    });

    it('evaluation: native texts agree with Python; a failing mapping gives no claims and an event', async () => {
      const uid = await createUser(srv, 'claims', 'claims-password-1', { name: 'Claire Ims' });
      const g = await call(srv, 'POST', '/core/groups/', { name: 'readers' });
      await call(srv, 'POST', `/core/groups/${g.body.pk}/add_user/`, { pk: uid });
      const user = (await userById(srv.app.store.db, uid))!;
      const svc = srv.app.services;
      const all = (await srv.app.store.db.selectFrom('property_mappings').select('pm_uuid').where('managed', 'is not', null).execute()).map(
        (r) => r.pm_uuid,
      );
      const mappings = await scopeMappingsOf(svc, all);
      const provider = { id: 1, name: 'p', application: { slug: 'app', name: 'App', pbm_uuid: '00000000-0000-4000-8000-000000000001' } };
      for (const m of mappings) {
        const native = await evaluateScopeMapping(svc, m, { user, provider });
        const py = await evaluate({
          source: m.expression,
          globals: mappingGlobals({ user, provider }),
          host: mappingHost(svc, { user, provider }),
          timeoutMs: 30_000,
        });
        assert.ok(py.ok, `${m.scope_name}: ${JSON.stringify(py)}`);
        assert.deepEqual(native, py.ok ? py.value : undefined, m.scope_name);
      }
      const profile = await evaluateScopeMapping(svc, mappings.find((m) => m.scope_name === 'profile')!, { user, provider });
      assert.deepEqual(profile, {
        name: 'Claire Ims',
        given_name: 'Claire Ims',
        preferred_username: 'claims',
        nickname: 'claims',
        groups: ['readers'],
      });

      const broken = {
        pm_uuid: '00000000-0000-4000-8000-0000000000aa',
        name: 'raises',
        scope_name: 'r',
        description: '',
        managed: null,
        expression: 'raise ValueError("no")',
      };
      const before = (
        await srv.app.store.db.selectFrom('events').select('event_uuid').where('action', '=', 'property_mapping_exception').execute()
      ).length;
      assert.deepEqual(await evaluateScopeMapping(svc, broken, { user, provider }), {});
      const notDict = { ...broken, expression: 'return [1, 2]' };
      assert.deepEqual(await evaluateScopeMapping(svc, notDict, { user, provider }), {});
      const events = await srv.app.store.db.selectFrom('events').selectAll().where('action', '=', 'property_mapping_exception').execute();
      assert.equal(events.length, before + 2);
      const ctx = JSON.parse(events.find((e) => e.context.includes('ValueError'))!.context);
      assert.equal(ctx.message, 'ValueError: no');
      assert.equal(ctx.mapping.name, 'raises');
      // a custom Python mapping sees the provider and its application
      const prov = { ...broken, expression: 'return {"app": provider.application.slug, "u": user.email}' };
      assert.deepEqual(await evaluateScopeMapping(svc, prov, { user, provider }), { app: 'app', u: 'claims@example.com' });
    });
  });
}
