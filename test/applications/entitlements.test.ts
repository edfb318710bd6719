/**
 * Application entitlements (authentik's ApplicationEntitlement and `User.app_entitlements`): the API through the
 * official client (unique name per application, used_by, deleted with the application and its bindings), who has an
 * entitlement by user and group bindings — inherited groups, negated and disabled bindings — the same answer from the
 * managed `entitlements` scope natively and from its Python text, `app_entitlements_attributes` in an expression, and
 * the claims a relying party receives from userinfo for a password grant with `scope=entitlements`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, failure } from '../rest/contract/client.js';
import { evaluateScopeMapping, scopeMappingsOf } from '../../src/providers/mappings.js';
import { mappingGlobals, mappingHost } from '../../src/propertymappings/scope.js';
import { evaluate } from '../../src/expressions/index.js';
import { userById } from '../../src/users/by-id.js';

for (const dialect of dialects()) {
  describe(`application entitlements (${dialect})`, () => {
    let srv: TestServer;
    let core: CoreApi;
    let app: { pk: string; slug: string; name: string };
    const users: Record<string, number> = {};
    const ent: Record<string, string> = {};

    const bind = async (target: string, who: { user?: number; group?: string }, extra: Record<string, unknown> = {}) => {
      const r = await call(srv, 'POST', '/policies/bindings/', { target, order: 0, ...who, ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    };
    const group = async (name: string, extra: Record<string, unknown> = {}) => {
      const g = await call(srv, 'POST', '/core/groups/', { name, ...extra });
      assert.equal(g.status, 201, JSON.stringify(g.body));
      return g.body.pk as string;
    };

    before(async () => {
      srv = await startServer(dialect);
      core = new CoreApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const a = await call(srv, 'POST', '/core/applications/', { name: 'Wiki', slug: 'wiki' });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      app = { pk: a.body.pk, slug: 'wiki', name: 'Wiki' };
      for (const u of ['alice', 'bob', 'carol']) users[u] = await createUser(srv, u, `${u}-password-1`);
      // bob is in staff through a child group; carol is a contractor
      const staff = await group('staff');
      const team = await group('staff-team', { parents: [staff] });
      const contractors = await group('contractors');
      await call(srv, 'POST', `/core/groups/${team}/add_user/`, { pk: users.bob });
      await call(srv, 'POST', `/core/groups/${contractors}/add_user/`, { pk: users.carol });
      for (const [name, attributes] of [
        ['admin', { wiki: { can: ['delete'] } }],
        ['editor', { wiki: { can: ['edit'] } }],
        ['viewer', { wiki: { can: ['read'] }, theme: 'light' }],
        ['retired', {}],
      ] as const) {
        const created = await body(
          core.coreApplicationEntitlementsCreateRaw({ applicationEntitlementRequest: { name, app: app.pk, attributes } }),
        );
        ent[name] = created.pbm_uuid;
      }
      await bind(ent.admin!, { user: users.alice });
      await bind(ent.editor!, { group: staff });
      // everyone who is not a contractor
      await bind(ent.viewer!, { group: contractors }, { negate: true });
      // a disabled binding grants nothing
      await bind(ent.retired!, { user: users.alice }, { enabled: false });
    });
    after(async () => srv.close());

    it('API: the official client; one name per application; filters; used_by lists its bindings', async () => {
      const got = await body(core.coreApplicationEntitlementsRetrieveRaw({ pbmUuid: ent.admin! }));
      assertMatches('ApplicationEntitlement', got);
      assert.deepEqual(got, { pbm_uuid: ent.admin, name: 'admin', app: app.pk, attributes: { wiki: { can: ['delete'] } } });
      const list = await body(core.coreApplicationEntitlementsListRaw({ app: app.pk }));
      assertMatches('PaginatedApplicationEntitlementList', list);
      assert.deepEqual(
        list.results.map((e: { name: string }) => e.name),
        ['admin', 'editor', 'retired', 'viewer'],
      );
      const dup = await failure(
        core.coreApplicationEntitlementsCreateRaw({ applicationEntitlementRequest: { name: 'admin', app: app.pk } }),
      );
      assert.deepEqual(dup, { status: 400, body: { non_field_errors: ['The fields app, name must make a unique set.'] } });
      const noApp = await call(srv, 'POST', '/core/application_entitlements/', { name: 'orphan' });
      assert.equal(noApp.status, 400);
      assert.ok(noApp.body.app);
      const usedBy = await call(srv, 'GET', `/core/application_entitlements/${ent.admin}/used_by/`);
      assert.equal(usedBy.status, 200);
      assert.deepEqual(
        usedBy.body.map((u: { model_name: string }) => u.model_name),
        ['policybinding'],
      );
      const bindings = await call(srv, 'GET', `/policies/bindings/?target=${ent.admin}`);
      assert.equal(bindings.body.results[0].user, users.alice);
      // an entitlement is bound to users and groups only (authentik's supported_policy_binding_targets)
      const policy = await call(srv, 'POST', '/policies/dummy/', { name: 'ent-policy', result: true });
      const refused = await call(srv, 'POST', '/policies/bindings/', { target: ent.admin, policy: policy.body.pk, order: 5 });
      assert.deepEqual([refused.status, refused.body], [400, { non_field_errors: ["One of 'group', 'user' must be set."] }]);
      const two = await call(srv, 'POST', '/policies/bindings/', { target: ent.admin, user: users.alice, group: null, order: 6 });
      assert.equal(two.status, 201, JSON.stringify(two.body));
      const patched = await call(srv, 'PATCH', `/policies/bindings/${two.body.pk}/`, { user: null, policy: policy.body.pk });
      assert.deepEqual([patched.status, patched.body], [400, { non_field_errors: ["One of 'group', 'user' must be set."] }]);
      await call(srv, 'DELETE', `/policies/bindings/${two.body.pk}/`);
    });

    it('who has which: user and (inherited) group bindings, negated ones, disabled ones — natively as in Python', async () => {
      const svc = srv.app.services;
      const managed = await srv.app.store.db
        .selectFrom('property_mappings')
        .select('pm_uuid')
        .where('managed', '=', 'goauthentik.io/providers/oauth2/scope-entitlements')
        .executeTakeFirstOrThrow();
      const [mapping] = await scopeMappingsOf(svc, [managed.pm_uuid]);
      const provider = { id: 1, name: 'p', application: { slug: app.slug, name: app.name, pbm_uuid: app.pk } };
      const expected: Record<string, string[]> = { alice: ['admin', 'viewer'], bob: ['editor', 'viewer'], carol: [] };
      for (const [name, names] of Object.entries(expected)) {
        const user = (await userById(srv.app.store.db, users[name]!))!;
        const native = await evaluateScopeMapping(svc, mapping!, { user, provider });
        assert.deepEqual(native, { entitlements: names, roles: names }, name);
        const py = await evaluate({
          source: mapping!.expression,
          globals: mappingGlobals({ user, provider }),
          host: mappingHost(svc, { user, provider }),
          timeoutMs: 30_000,
        });
        assert.ok(py.ok, JSON.stringify(py));
        assert.deepEqual(py.ok && py.value, native, `${name} (Python)`);
      }
      const alice = (await userById(srv.app.store.db, users.alice!))!;
      const merged = await evaluate({
        source: 'return request.user.app_entitlements_attributes(provider.application)',
        globals: mappingGlobals({ user: alice, provider }),
        host: mappingHost(svc, { user: alice, provider }),
        timeoutMs: 30_000,
      });
      assert.ok(merged.ok, JSON.stringify(merged));
      assert.deepEqual(merged.ok && merged.value, { wiki: { can: ['delete', 'read'] }, theme: 'light' });
    });

    it('a relying party gets the entitlements from userinfo (password grant, scope entitlements)', async () => {
      const flows = await call(srv, 'GET', '/flows/instances/?ordering=slug&page_size=100');
      const flowPk = (s: string) => flows.body.results.find((f: { slug: string }) => f.slug === s).pk;
      const mappings = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      const managed = (id: string) => mappings.find((m) => m.managed === `goauthentik.io/providers/oauth2/scope-${id}`)!.pm_uuid;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'Wiki provider',
        authorization_flow: flowPk('default-provider-authorization-implicit-consent'),
        invalidation_flow: flowPk('default-provider-invalidation-flow'),
        redirect_uris: [{ matching_mode: 'strict', url: 'https://wiki.example/cb' }],
        property_mappings: [managed('openid'), managed('entitlements')],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.equal((await call(srv, 'PATCH', `/core/applications/${app.slug}/`, { provider: p.body.pk })).status, 200);
      const t = await call(srv, 'POST', '/core/tokens/', {
        identifier: 'bob-app',
        intent: 'app_password',
        user: users.bob,
        expiring: false,
      });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      const key = (await call(srv, 'GET', '/core/tokens/bob-app/view_key/')).body.key;
      const token = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'password',
          client_id: p.body.client_id,
          client_secret: p.body.client_secret,
          username: 'bob',
          password: key,
          scope: 'openid entitlements',
        }),
      });
      assert.equal(token.status, 200);
      const { access_token } = (await token.json()) as { access_token: string };
      const info = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${access_token}` } });
      const claims = (await info.json()) as Record<string, unknown>;
      assert.deepEqual(
        [claims.entitlements, claims.roles],
        [
          ['editor', 'viewer'],
          ['editor', 'viewer'],
        ],
      );
    });

    it('deleting the application deletes its entitlements and their bindings', async () => {
      const a = await call(srv, 'POST', '/core/applications/', { name: 'Doomed', slug: 'doomed' });
      const e = await call(srv, 'POST', '/core/application_entitlements/', { name: 'x', app: a.body.pk });
      await bind(e.body.pbm_uuid, { user: users.alice });
      assert.equal((await call(srv, 'DELETE', '/core/applications/doomed/')).status, 204);
      assert.equal((await call(srv, 'GET', `/core/application_entitlements/${e.body.pbm_uuid}/`)).status, 404);
      const left = await srv.app.store.db
        .selectFrom('policy_bindings')
        .select('policy_binding_uuid')
        .where('target', '=', e.body.pbm_uuid)
        .execute();
      assert.equal(left.length, 0);
    });
  });
}
