/**
 * /core/groups/ through the official client (`@goauthentik/api` CoreApi) and raw HTTP: every operation, authentik's
 * include_* flags, validation errors in authentik's shape, cycles refused, deletes that take their links along.
 * Ports authentik's core/tests/test_groups_api.py (add_user/remove_user, 404s, parent of itself, listing with users).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Group } from '@goauthentik/api';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { assertArrayOf, assertMatches, authentikSchema } from '../helpers/openapi-schema.js';
import { body, clients, failure, status } from '../rest/contract/client.js';
import { createGroup, createUser } from './setup.js';

const MISSING = '00000000-0000-4000-8000-000000000000';
/** authentik's Group.num_pk: the first five decimal digits of the UUID as a 128-bit integer */
const numPk = (uuid: string) =>
  Number(
    BigInt(`0x${uuid.replace(/-/g, '')}`)
      .toString()
      .slice(0, 5),
  );

for (const dialect of dialects()) {
  describe(`groups API (${dialect})`, () => {
    let srv: TestServer;
    let api: ReturnType<typeof clients>;
    before(async () => {
      srv = await startServer(dialect);
      api = clients(srv);
    });
    after(async () => srv.close());

    it('official client: create, list, retrieve, update, partial_update, add_user, remove_user, used_by, destroy', async () => {
      const alice = await createUser(srv, 'g-alice');
      const parent = await body(api.core.coreGroupsCreateRaw({ groupRequest: { name: 'oc-parent', attributes: { level: 1 } } }));
      assertMatches('Group', parent);
      assert.equal(parent.is_superuser, false);
      assert.equal(parent.num_pk, numPk(parent.pk));
      assert.deepEqual(parent.attributes, { level: 1 });
      // the typed call: the client's model reads what Keystage sends
      const typed: Group = await api.core.coreGroupsCreate({
        groupRequest: { name: 'oc-child', parents: [parent.pk], users: [alice], roles: [] },
      });
      assert.deepEqual(typed.parents, [parent.pk]);
      assert.deepEqual(typed.users, [alice]);
      assert.equal(typed.usersObj?.[0]?.username, 'g-alice');
      assert.equal(typed.parentsObj, null, 'include_parents defaults to false');
      assert.equal(typed.childrenObj, null);
      assert.equal(typed.inheritedRolesObj, null);
      assert.deepEqual(typed.rolesObj, []);

      const list = await body(api.core.coreGroupsListRaw({ search: 'oc-' }));
      assertMatches('PaginatedGroupList', list);
      assert.deepEqual(
        list.results.map((g: { name: string }) => g.name),
        ['oc-child', 'oc-parent'],
      );
      const full = await body(
        api.core.coreGroupsRetrieveRaw({ groupUuid: parent.pk, includeChildren: true, includeParents: true, includeInheritedRoles: true }),
      );
      assertMatches('Group', full);
      assert.deepEqual(full.children, [typed.pk]);
      assert.deepEqual(full.children_obj, [{ pk: typed.pk, name: 'oc-child', is_superuser: false, attributes: {}, group_uuid: typed.pk }]);
      assert.deepEqual(full.parents_obj, []);
      assert.deepEqual(full.inherited_roles_obj, []);
      const noUsers = await body(api.core.coreGroupsRetrieveRaw({ groupUuid: typed.pk, includeUsers: false }));
      assert.equal(noUsers.users_obj, null);
      assert.deepEqual(noUsers.users, [alice], '`users` is always there');

      // PUT: `users` and `parents` (default=list) are cleared when left out; `is_superuser` and `attributes` are kept
      const sup = await body(api.core.coreGroupsCreateRaw({ groupRequest: { name: 'oc-sup', isSuperuser: true, attributes: { k: 'v' } } }));
      const put = await body(
        api.core.coreGroupsUpdateRaw({ groupUuid: typed.pk, groupRequest: { name: 'oc-child-renamed', parents: [sup.pk] } }),
      );
      assertMatches('Group', put);
      assert.equal(put.name, 'oc-child-renamed');
      assert.deepEqual(put.users, []);
      assert.deepEqual(put.parents, [sup.pk]);
      const putSup = await body(api.core.coreGroupsUpdateRaw({ groupUuid: sup.pk, groupRequest: { name: 'oc-sup' } }));
      assert.equal(putSup.is_superuser, true);
      assert.deepEqual(putSup.attributes, { k: 'v' });
      assert.deepEqual(putSup.children, [typed.pk]);
      // PATCH: only what is sent
      const patched = await body(
        api.core.coreGroupsPartialUpdateRaw({ groupUuid: typed.pk, patchedGroupRequest: { attributes: { team: 'red' } } }),
      );
      assert.deepEqual(patched.attributes, { team: 'red' });
      assert.deepEqual(patched.parents, [sup.pk]);
      // `children` is read-only: sent, it is ignored (test_groups_api_validation.py)
      const viaChildren = await call(srv, 'PATCH', `/core/groups/${sup.pk}/`, { children: [parent.pk] });
      assert.equal(viaChildren.status, 200);
      assert.deepEqual(viaChildren.body.children, [typed.pk]);
      assert.deepEqual((await body(api.core.coreGroupsRetrieveRaw({ groupUuid: parent.pk }))).parents, []);

      // add_user / remove_user (204, idempotent as Django's .add())
      for (let i = 0; i < 2; i++)
        assert.equal(await status(api.core.coreGroupsAddUserCreateRaw({ groupUuid: parent.pk, userAccountRequest: { pk: alice } })), 204);
      assert.deepEqual((await body(api.core.coreGroupsRetrieveRaw({ groupUuid: parent.pk }))).users, [alice]);
      const user = await body(api.core.coreUsersRetrieveRaw({ id: alice }));
      assert.deepEqual(user.groups, [parent.pk]);
      assert.equal(user.groups_obj[0].name, 'oc-parent');
      const usedBy = await body(api.core.coreGroupsUsedByListRaw({ groupUuid: parent.pk }));
      assertArrayOf('UsedBy', usedBy);
      assert.deepEqual(usedBy, [{ app: 'authentik_core', model_name: 'user', pk: String(alice), name: 'g-alice', action: 'cascade_many' }]);
      assert.equal(await status(api.core.coreGroupsRemoveUserCreateRaw({ groupUuid: parent.pk, userAccountRequest: { pk: alice } })), 204);
      assert.deepEqual((await body(api.core.coreGroupsRetrieveRaw({ groupUuid: parent.pk }))).users, []);

      assert.equal(await status(api.core.coreGroupsDestroyRaw({ groupUuid: parent.pk })), 204);
      assert.deepEqual(await failure(api.core.coreGroupsRetrieveRaw({ groupUuid: parent.pk })), {
        status: 404,
        body: { detail: 'No Group matches the given query.' },
      });
    });

    it('add_user and remove_user: 400 on the body, 404 for an unknown user or group (test_groups_api.py)', async () => {
      const g = await createGroup(srv, { name: 'members-errors' });
      const bob = await createUser(srv, 'g-bob');
      for (const action of ['add_user', 'remove_user']) {
        const path = `/core/groups/${g.pk}/${action}/`;
        assert.deepEqual((await call(srv, 'POST', path, {})).body, { pk: ['This field is required.'] });
        const notInt = await call(srv, 'POST', path, { pk: 'abc' });
        assert.deepEqual([notInt.status, notInt.body], [400, { pk: ['A valid integer is required.'] }]);
        const unknown = await call(srv, 'POST', path, { pk: bob + 3 });
        assert.deepEqual([unknown.status, unknown.body], [404, { detail: 'Not found.' }]);
        const huge = await call(srv, 'POST', path, { pk: 99999999999 });
        assert.deepEqual([huge.status, huge.body], [404, { detail: 'Not found.' }], 'beyond any integer key: unknown, not a 500');
        const noGroup = await call(srv, 'POST', `/core/groups/${MISSING}/${action}/`, { pk: bob });
        assert.deepEqual([noGroup.status, noGroup.body], [404, { detail: 'No Group matches the given query.' }]);
      }
      const added = await call(srv, 'POST', `/core/groups/${g.pk}/add_user/`, { pk: String(bob) });
      assert.equal(added.status, 204, 'a pk sent as a string of digits is an integer, as DRF');
      assert.equal(added.body, undefined);
      // removing a user who is not a member is still a 204
      assert.equal((await call(srv, 'POST', `/core/groups/${g.pk}/remove_user/`, { pk: 1 })).status, 204);
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${g.pk}/`)).body.users, [bob]);
    });

    it('validation errors in authentik shape, and a rejected write leaves nothing behind', async () => {
      const count = async () => (await call(srv, 'GET', '/core/groups/?page_size=1')).body.pagination.count as number;
      const before = await count();
      const existing = await createGroup(srv, { name: 'taken' });
      const cases: [unknown, unknown][] = [
        [{}, { name: ['This field is required.'] }],
        [{ name: '' }, { name: ['This field may not be blank.'] }],
        [{ name: 'taken' }, { name: ['Group with this name already exists.'] }],
        [{ name: 'x', parents: ['nope'] }, { parents: ['“nope” is not a valid UUID.'] }],
        [{ name: 'x', parents: [MISSING] }, { parents: [`Invalid pk "${MISSING}" - object does not exist.`] }],
        [{ name: 'x', parents: 'abc' }, { parents: ['Expected a list of items but got type "str".'] }],
        [{ name: 'x', users: ['bob'] }, { users: ['Incorrect type. Expected pk value, received str.'] }],
        [{ name: 'x', users: [987654] }, { users: ['Invalid pk "987654" - object does not exist.'] }],
        [{ name: 'x', users: [99999999999] }, { users: ['Invalid pk "99999999999" - object does not exist.'] }],
        [{ name: 'x', roles: [MISSING] }, { roles: [`Invalid pk "${MISSING}" - object does not exist.`] }],
        [{ name: 'x', attributes: [] }, { attributes: ['Expected a dictionary of items but got type "list".'] }],
        [{ name: 'x', is_superuser: 'maybe' }, { is_superuser: ['Must be a valid boolean.'] }],
        [[], { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] }],
      ];
      for (const [sent, want] of cases) {
        const r = await call(srv, 'POST', '/core/groups/', sent);
        assert.equal(r.status, 400, JSON.stringify(sent));
        assert.deepEqual(r.body, want, JSON.stringify(sent));
      }
      assert.equal(await count(), before + 1, 'only "taken" was created');
      const other = await createGroup(srv, { name: 'other' });
      const rename = await call(srv, 'PATCH', `/core/groups/${other.pk}/`, { name: 'taken' });
      assert.deepEqual([rename.status, rename.body], [400, { name: ['Group with this name already exists.'] }]);
      assert.equal((await call(srv, 'PATCH', `/core/groups/${existing.pk}/`, { name: 'taken' })).status, 200, 'its own name is fine');
      // an empty list of roles is accepted (what roles grant: test/rbac/)
      assert.deepEqual((await call(srv, 'PATCH', `/core/groups/${other.pk}/`, { roles: [] })).body.roles, []);
      // a lookup that is not a UUID is a 404, as is an unknown one
      assert.equal((await call(srv, 'GET', '/core/groups/not-a-uuid/')).status, 404);
      assert.deepEqual((await call(srv, 'DELETE', `/core/groups/${MISSING}/`)).body, { detail: 'No Group matches the given query.' });
    });

    it('a group cannot be its own ancestor: a cycle in parents is a 400 on parents, diamonds are fine', async () => {
      const a = await createGroup(srv, { name: 'cyc-a' });
      const b = await createGroup(srv, { name: 'cyc-b', parents: [a.pk] });
      const c = await createGroup(srv, { name: 'cyc-c', parents: [b.pk] });
      const self = await call(srv, 'PATCH', `/core/groups/${a.pk}/`, { parents: [a.pk] });
      assert.deepEqual([self.status, self.body], [400, { parents: ['Cannot set group as parent of itself.'] }]);
      const loop = await call(srv, 'PATCH', `/core/groups/${a.pk}/`, { parents: [c.pk] });
      assert.equal(loop.status, 400);
      assert.deepEqual(loop.body, {
        parents: ['Cannot set group "cyc-c" as parent: it is a descendant of this group, which would make the group its own ancestor.'],
      });
      const viaPut = await call(srv, 'PUT', `/core/groups/${b.pk}/`, { name: 'cyc-b', parents: [a.pk, c.pk] });
      assert.equal(viaPut.status, 400, 'one bad parent among good ones');
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${b.pk}/`)).body.parents, [a.pk], 'nothing changed');
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${a.pk}/`)).body.parents, []);
      // a diamond (d under both b and a, c under d) is not a cycle
      const d = await createGroup(srv, { name: 'cyc-d', parents: [b.pk, a.pk] });
      const ok = await call(srv, 'PATCH', `/core/groups/${c.pk}/`, { parents: [b.pk, d.pk] });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual([...ok.body.parents].sort(), [b.pk, d.pk].sort());
    });

    it('include_* flags are read as authentik reads them: only "true" (any case) includes', async () => {
      const p = await createGroup(srv, { name: 'flags-parent' });
      const g = await createGroup(srv, { name: 'flags-child', parents: [p.pk] });
      const get = async (q: string) => (await call(srv, 'GET', `/core/groups/${g.pk}/?${q}`)).body;
      assert.equal((await get('include_users=1')).users_obj, null);
      assert.deepEqual((await get('include_users=TRUE')).users_obj, []);
      assert.equal((await get('include_parents=1')).parents_obj, null);
      assert.equal((await get('include_parents=True')).parents_obj[0].name, 'flags-parent');
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${p.pk}/?include_children=true`)).body.children_obj[0].pk, g.pk);
      const listed = await call(srv, 'GET', '/core/groups/?name=flags-child&include_users=false&include_parents=true');
      assert.equal(listed.body.results[0].users_obj, null);
      assert.equal(listed.body.results[0].parents_obj.length, 1);
    });

    it('roles: stored and shown; inherited_roles_obj lists the ancestors’ roles the group lacks', async () => {
      const db = srv.app.store.db;
      const r1 = '11111111-1111-4111-8111-111111111111';
      const r2 = '22222222-2222-4222-8222-222222222222';
      await db
        .insertInto('roles')
        .values([
          { role_uuid: r1, name: 'role-one' },
          { role_uuid: r2, name: 'role-two' },
        ])
        .execute();
      const top = await createGroup(srv, { name: 'roles-top', roles: [r1, r2] });
      const mid = await createGroup(srv, { name: 'roles-mid', parents: [top.pk], roles: [r2] });
      const low = await createGroup(srv, { name: 'roles-low', parents: [mid.pk] });
      assert.deepEqual(top.roles_obj, [
        { pk: r1, name: 'role-one' },
        { pk: r2, name: 'role-two' },
      ]);
      const lowFull = (await call(srv, 'GET', `/core/groups/${low.pk}/?include_inherited_roles=true`)).body;
      assertMatches('Group', lowFull);
      assert.deepEqual(lowFull.roles_obj, []);
      assert.deepEqual(lowFull.inherited_roles_obj, [
        { pk: r1, name: 'role-one' },
        { pk: r2, name: 'role-two' },
      ]);
      const midFull = (await call(srv, 'GET', `/core/groups/${mid.pk}/?include_inherited_roles=true`)).body;
      assert.deepEqual(midFull.inherited_roles_obj, [{ pk: r1, name: 'role-one' }], 'its own role-two is not inherited');
      // PUT without roles keeps them (no default on `roles`)
      assert.deepEqual((await call(srv, 'PUT', `/core/groups/${mid.pk}/`, { name: 'roles-mid', parents: [top.pk] })).body.roles, [r2]);
      assert.deepEqual(
        (await call(srv, 'GET', `/core/groups/${top.pk}/used_by/`)).body.map((u: { model_name: string; name: string }) => [
          u.model_name,
          u.name,
        ]),
        [
          ['group', 'Group roles-mid'],
          ['role', 'Role role-one'],
          ['role', 'Role role-two'],
        ],
      );
    });

    it('deleting a group removes its parent links both ways and its memberships; deleting a user removes theirs', async () => {
      const db = srv.app.store.db;
      const top = await createGroup(srv, { name: 'del-top' });
      const carol = await createUser(srv, 'g-carol');
      const mid = await createGroup(srv, { name: 'del-mid', parents: [top.pk], users: [carol] });
      const low = await createGroup(srv, { name: 'del-low', parents: [mid.pk], users: [carol] });
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${mid.pk}/used_by/`)).body, [
        { app: 'authentik_core', model_name: 'group', pk: low.pk, name: 'Group del-low', action: 'cascade_many' },
        { app: 'authentik_core', model_name: 'group', pk: top.pk, name: 'Group del-top', action: 'cascade_many' },
        { app: 'authentik_core', model_name: 'user', pk: String(carol), name: 'g-carol', action: 'cascade_many' },
      ]);
      const userUsedBy = (await call(srv, 'GET', `/core/users/${carol}/used_by/`)).body;
      assert.deepEqual(
        userUsedBy.map((u: { name: string }) => u.name),
        ['Group del-low', 'Group del-mid'],
      );
      assert.equal((await call(srv, 'DELETE', `/core/groups/${mid.pk}/`)).status, 204);
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${top.pk}/`)).body.children, []);
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${low.pk}/`)).body.parents, []);
      const edges = await db
        .selectFrom('group_parents')
        .selectAll()
        .where((eb) => eb.or([eb('child_uuid', '=', mid.pk), eb('parent_uuid', '=', mid.pk)]))
        .execute();
      assert.deepEqual(edges, []);
      assert.deepEqual((await call(srv, 'GET', `/core/users/${carol}/`)).body.groups, [low.pk]);
      assert.equal((await call(srv, 'DELETE', `/core/users/${carol}/`)).status, 204);
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${low.pk}/`)).body.users, []);
      assert.deepEqual(await db.selectFrom('user_groups').selectAll().where('user_id', '=', carol).execute(), []);
    });

    it('the served schema documents /core/groups/ with authentik’s operations and list parameters', async () => {
      const served = (await call(srv, 'GET', '/schema/?format=json')).body;
      const authentik = authentikSchema() as unknown as { paths: Record<string, Record<string, { parameters?: unknown[] }>> };
      const paramNames = (op: { parameters?: unknown[] } | undefined, doc: any) =>
        (op?.parameters ?? [])
          .map((p: any) => (p.$ref ? doc.components.parameters[p.$ref.split('/').pop()].name : p.name))
          .filter((n: string) => n !== 'group_uuid')
          .sort();
      for (const path of [
        '/core/groups/',
        '/core/groups/{group_uuid}/',
        '/core/groups/{group_uuid}/add_user/',
        '/core/groups/{group_uuid}/remove_user/',
        '/core/groups/{group_uuid}/used_by/',
      ]) {
        assert.ok(served.paths[path], path);
        for (const method of Object.keys(authentik.paths[path]!)) {
          assert.equal(served.paths[path][method]?.operationId, (authentik.paths[path]![method] as any).operationId, `${method} ${path}`);
          if (method === 'get')
            assert.deepEqual(
              paramNames(served.paths[path][method], served),
              paramNames(authentik.paths[path]![method], authentik),
              `query parameters of GET ${path}`,
            );
        }
      }
      const members = served.paths['/core/groups/'].get.parameters.find((p: { name: string }) => p.name === 'members_by_pk');
      assert.deepEqual(members.schema, { type: 'array', items: { type: 'integer' } });
    });
  });
}
