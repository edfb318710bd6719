/**
 * Role-based access control as authentik's: roles (held directly, through groups and their parents) grant
 * permissions for a whole model or one object; the admin API opens to whoever holds them (ObjectFilter: global ranks
 * above per-object, 403 when nothing is visible, 404 for an object outside what is); initial permissions; and the
 * guards that keep permissions from making anyone a superuser.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { RbacApi } from '@goauthentik/api/dist/apis/RbacApi.js';
import { AdminApi } from '@goauthentik/api/dist/apis/AdminApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { failure } from '../rest/contract/client.js';
import { callAs, createUser, tokenFor } from '../groups/setup.js';

const DENIED = { detail: 'You do not have permission to perform this action.' };

for (const dialect of dialects()) {
  describe(`RBAC (${dialect})`, () => {
    let srv: TestServer;
    let rbac: RbacApi;
    let grace: number;
    let token: string;
    let flows: { pk: string; slug: string }[];
    const as = (method: string, path: string, body?: unknown) => callAs(srv, token, method, path, body);
    const role = async (name: string) => (await rbac.rbacRolesCreate({ roleRequest: { name } })).pk;
    const assign = (uuid: string, body: Record<string, unknown>) =>
      call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${uuid}/assign/`, body);

    before(async () => {
      srv = await startServer(dialect);
      rbac = new RbacApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      grace = await createUser(srv, 'r-grace');
      token = await tokenFor(srv, grace, 'grace-rbac-key-0123456789abcdefghijkl');
      flows = (await call(srv, 'GET', '/flows/instances/?ordering=slug&page_size=100')).body.results;
      assert.ok(flows.length >= 3);
    });
    after(async () => srv.close());

    it('roles and the permission catalogue through the official client', async () => {
      const pk = await role('r-catalogue');
      assert.equal((await rbac.rbacRolesRetrieve({ uuid: pk })).name, 'r-catalogue');
      assert.deepEqual(await failure(rbac.rbacRolesCreate({ roleRequest: { name: 'r-catalogue' } })), {
        status: 400,
        body: { name: ['Role with this name already exists.'] },
      });
      const perms = await rbac.rbacPermissionsList({ codename: 'view_flow' });
      assert.equal(perms.pagination.count, 1);
      const p = perms.results[0]!;
      assert.deepEqual([p.appLabel, p.model, p.name, p.modelVerbose], ['authentik_flows', 'flow', 'Can view Flow', 'Flow']);
      assert.equal((await rbac.rbacPermissionsRetrieve({ id: p.id })).codename, 'view_flow');
      // every served model has its four permissions, and authentik's own where Keystage enforces them
      const users = await rbac.rbacPermissionsList({ contentTypeModel: 'user', contentTypeAppLabel: 'authentik_core', pageSize: 100 });
      assert.deepEqual(users.results.map((x) => x.codename).sort(), [
        'add_user',
        'change_user',
        'delete_user',
        'impersonate',
        'reset_user_password',
        'view_user',
        'view_user_applications',
      ]);
      // anyone logged in reads the catalogue
      assert.equal((await as('GET', '/rbac/permissions/?codename=view_flow')).body.pagination.count, 1);
      // renaming, deleting
      await rbac.rbacRolesPartialUpdate({ uuid: pk, patchedRoleRequest: { name: 'r-catalogue-2' } });
      await rbac.rbacRolesDestroy({ uuid: pk });
      assert.equal((await call(srv, 'GET', `/rbac/roles/${pk}/`)).status, 404);
    });

    it('a global permission opens the whole model; nothing else', async () => {
      assert.deepEqual([(await as('GET', '/flows/instances/')).status, (await as('GET', '/flows/instances/')).body], [403, DENIED]);
      const viewers = await role('r-flow-viewers');
      assert.equal((await call(srv, 'POST', `/rbac/roles/${viewers}/add_user/`, { pk: grace })).status, 204);
      const r = await assign(viewers, { permissions: ['authentik_flows.view_flow'] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.length, 1);
      assert.match(r.body[0].id, /^\d+$/);
      const list = await as('GET', '/flows/instances/?page_size=100');
      assert.equal(list.status, 200);
      assert.equal(list.body.pagination.count, flows.length);
      assert.equal((await as('GET', `/flows/instances/${flows[0]!.slug}/`)).status, 200);
      assert.deepEqual((await as('PATCH', `/flows/instances/${flows[0]!.slug}/`, { title: 'x' })).body, DENIED);
      assert.equal(
        (await as('POST', '/flows/instances/', { name: 'n', slug: 'r-n', title: 't', designation: 'authentication' })).status,
        403,
      );
      assert.equal((await as('DELETE', `/flows/instances/${flows[0]!.slug}/`)).status, 403);
      // other models stay closed; the export needs its own permission
      assert.equal((await as('GET', '/core/groups/')).status, 403);
      assert.equal((await as('GET', `/flows/instances/${flows[0]!.slug}/export/`)).status, 403);
      const roles = await call(srv, 'GET', `/rbac/permissions/?role=${viewers}`);
      assert.deepEqual(
        roles.body.results.map((x: { codename: string }) => x.codename),
        ['view_flow'],
      );
      // the export holds the flow's stages, bindings, prompts and policies: it needs their view permissions too
      const flow = flows.find((f) => f.slug === 'default-authentication-flow')!;
      await assign(viewers, { permissions: ['authentik_flows.export_flow'] });
      assert.deepEqual((await as('GET', `/flows/instances/${flow.slug}/export/`)).body, DENIED);
      const views = [
        'authentik_flows.view_flowstagebinding',
        'authentik_flows.view_stage',
        'authentik_policies.view_policy',
        'authentik_policies.view_policybinding',
        'authentik_stages_prompt.view_prompt',
      ];
      assert.equal((await assign(viewers, { permissions: views })).status, 200);
      const exported = await fetch(`${srv.api}/flows/instances/${flow.slug}/export/`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(exported.status, 200);
      assert.match(await exported.text(), /slug: default-authentication-flow/);
      await call(srv, 'PATCH', `/rbac/permissions/assigned_by_roles/${viewers}/unassign/`, {
        permissions: ['authentik_flows.export_flow', ...views],
      });
      // unassigning closes it again
      assert.equal(
        (
          await call(srv, 'PATCH', `/rbac/permissions/assigned_by_roles/${viewers}/unassign/`, {
            permissions: ['authentik_flows.view_flow'],
          })
        ).status,
        204,
      );
      assert.equal((await as('GET', '/flows/instances/')).status, 403);
      assert.equal((await call(srv, 'POST', `/rbac/roles/${viewers}/remove_user/`, { pk: grace })).status, 204);
    });

    it('object permissions: only that object is visible and changeable', async () => {
      const editors = await role('r-one-flow');
      const [mine, other] = [flows[0]!, flows[1]!];
      const r = await assign(editors, { permissions: ['view_flow', 'change_flow'], model: 'authentik_flows.flow', object_pk: mine.pk });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.length, 2);
      assert.equal((await call(srv, 'POST', `/rbac/roles/${editors}/add_user/`, { pk: grace })).status, 204);
      const list = await as('GET', '/flows/instances/');
      assert.deepEqual(
        list.body.results.map((f: { slug: string }) => f.slug),
        [mine.slug],
      );
      const patched = await as('PATCH', `/flows/instances/${mine.slug}/`, { title: 'Mine' });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.title, 'Mine');
      assert.equal((await as('PATCH', `/flows/instances/${other.slug}/`, { title: 'x' })).status, 404);
      assert.equal((await as('DELETE', `/flows/instances/${mine.slug}/`)).status, 403);
      // who holds what on the object
      const by = await call(srv, 'GET', `/rbac/permissions/assigned_by_roles/?model=authentik_flows.flow&object_pk=${mine.pk}`);
      assert.equal(by.status, 200);
      const row = by.body.results.find((x: { role_pk: string }) => x.role_pk === editors);
      assert.deepEqual(row.object_permissions.map((p: { codename: string }) => p.codename).sort(), ['change_flow', 'view_flow']);
      assert.deepEqual(row.model_permissions, []);
      const objs = await call(srv, 'GET', `/rbac/permissions/roles/?uuid=${editors}`);
      assert.equal(objs.body.pagination.count, 2);
      assert.equal(objs.body.results[0].object_description, (await call(srv, 'GET', `/flows/instances/${mine.slug}/`)).body.name);
      assert.equal(objs.body.results[0].model_verbose, 'Flow');
      // the role deleted: its permissions go with it
      assert.equal((await call(srv, 'DELETE', `/rbac/roles/${editors}/`)).status, 204);
      assert.equal((await as('GET', '/flows/instances/')).status, 403);
    });

    it('object permissions by the pk the API shows: a user (an integer), an application (looked up by slug)', async () => {
      const r = await role('r-pk-kinds');
      const dave = await createUser(srv, 'r-dave');
      await createUser(srv, 'r-erin');
      const app = (await call(srv, 'POST', '/core/applications/', { name: 'R App', slug: 'r-app' })).body;
      await call(srv, 'POST', '/core/applications/', { name: 'R Other', slug: 'r-other' });
      assert.ok(app.pk);
      await assign(r, { permissions: ['view_user', 'change_user'], model: 'authentik_core.user', object_pk: String(dave) });
      await assign(r, { permissions: ['view_application', 'change_application'], model: 'authentik_core.application', object_pk: app.pk });
      await call(srv, 'POST', `/rbac/roles/${r}/add_user/`, { pk: grace });
      assert.deepEqual(
        (await as('GET', '/core/users/')).body.results.map((u: { username: string }) => u.username),
        ['r-dave'],
      );
      assert.equal((await as('PATCH', `/core/users/${dave}/`, { name: 'Dave' })).body.name, 'Dave');
      assert.equal((await as('GET', '/core/users/1/')).status, 404);
      assert.equal((await as('PATCH', '/core/applications/r-app/', { name: 'R App 2' })).body.name, 'R App 2');
      assert.equal((await as('PATCH', '/core/applications/r-other/', { name: 'x' })).status, 404);
      assert.equal((await as('DELETE', '/core/applications/r-app/')).status, 403);
      await call(srv, 'POST', `/rbac/roles/${r}/remove_user/`, { pk: grace });
    });

    it('routes beside the resources: types for anyone, provider URLs and key generation by permission', async () => {
      for (const path of ['/policies/all/types/', '/providers/all/types/', '/sources/all/types/', '/stages/all/types/'])
        assert.equal((await as('GET', path)).status, 200, path);
      const flow = (slug: string) => flows.find((f) => f.slug === slug)!.pk;
      const provider = async (name: string) =>
        (
          await call(srv, 'POST', '/providers/oauth2/', {
            name,
            authorization_flow: flow('default-provider-authorization-implicit-consent'),
            invalidation_flow: flow('default-provider-invalidation-flow'),
            redirect_uris: [{ matching_mode: 'strict', url: 'https://rp.example/cb' }],
          })
        ).body.pk as number;
      const mine = await provider('r-prov-mine');
      const other = await provider('r-prov-other');
      assert.ok(mine && other);
      // the setup URLs are an application's (authentik answers 404 for a provider without one)
      await call(srv, 'POST', '/core/applications/', { name: 'R Prov App', slug: 'r-prov-app', provider: mine });
      await call(srv, 'POST', '/core/applications/', { name: 'R Prov Other', slug: 'r-prov-other', provider: other });
      assert.equal((await as('GET', `/providers/oauth2/${mine}/setup_urls/`)).status, 403);
      const r = await role('r-providers');
      await assign(r, {
        permissions: ['view_oauth2provider'],
        model: 'authentik_providers_oauth2.oauth2provider',
        object_pk: String(mine),
      });
      await call(srv, 'POST', `/rbac/roles/${r}/add_user/`, { pk: grace });
      const urls = await as('GET', `/providers/oauth2/${mine}/setup_urls/`);
      assert.equal(urls.status, 200);
      assert.match(urls.body.token, /\/application\/o\/token\/$/);
      assert.equal((await as('GET', `/providers/oauth2/${other}/setup_urls/`)).status, 404);
      // a preview of her own data, not of someone she may not view
      assert.equal((await as('GET', `/providers/oauth2/${mine}/preview_user/`)).status, 200);
      assert.deepEqual((await as('GET', `/providers/oauth2/${mine}/preview_user/?for_user=1`)).body, { for_user: 'User not found' });
      // key pairs are generated with add_certificatekeypair
      const gen = { common_name: 'r-generated', validity_days: 30, alg: 'ecdsa' };
      assert.equal((await as('POST', '/crypto/certificatekeypairs/generate/', gen)).status, 403);
      await assign(r, { permissions: ['authentik_crypto.add_certificatekeypair'] });
      assert.equal((await as('POST', '/crypto/certificatekeypairs/generate/', gen)).status, 200);
      // testing a policy or a mapping: view permission on it, and view_user on whoever it runs for
      const policy = (await call(srv, 'POST', '/policies/dummy/', { name: 'r-dummy', result: true, wait_min: 0, wait_max: 0 })).body.pk;
      const mapping = (await call(srv, 'GET', '/propertymappings/all/?search=email')).body.results[0].pk;
      assert.equal((await as('POST', `/policies/all/${policy}/test/`, { user: grace })).status, 403);
      await assign(r, { permissions: ['view_policy'], model: 'authentik_policies.policy', object_pk: policy });
      await assign(r, { permissions: ['view_propertymapping'], model: 'authentik_core.propertymapping', object_pk: mapping });
      await assign(r, { permissions: ['view_user'], model: 'authentik_core.user', object_pk: String(grace) });
      const ran = await as('POST', `/policies/all/${policy}/test/`, { user: grace });
      assert.equal(ran.status, 200, JSON.stringify(ran.body));
      assert.equal(ran.body.passing, true);
      assert.deepEqual((await as('POST', `/policies/all/${policy}/test/`, { user: 1 })).body, {
        user: ['Invalid pk "1" - object does not exist.'],
      });
      assert.equal((await as('POST', `/propertymappings/all/${mapping}/test/`, { user: grace })).status, 200);
      assert.deepEqual((await as('POST', `/propertymappings/all/${mapping}/test/`, { user: 1 })).body, {
        user: ['Invalid pk "1" - object does not exist.'],
      });
      await call(srv, 'POST', `/rbac/roles/${r}/remove_user/`, { pk: grace });
    });

    it('roles through groups and their parents', async () => {
      const viewers = await role('r-group-viewers');
      await assign(viewers, { permissions: ['authentik_core.view_group'] });
      const parent = (await call(srv, 'POST', '/core/groups/', { name: 'r-parent', roles: [viewers] })).body;
      const child = (await call(srv, 'POST', '/core/groups/', { name: 'r-child', parents: [parent.pk], users: [grace] })).body;
      assert.equal((await as('GET', '/core/groups/')).status, 200);
      const direct = await call(srv, 'GET', `/rbac/roles/?users=${grace}`);
      assert.equal(direct.body.results.length, 0);
      const inherited = await call(srv, 'GET', `/rbac/roles/?users=${grace}&inherited=true`);
      assert.deepEqual(
        inherited.body.results.map((r: { name: string }) => r.name),
        ['r-group-viewers'],
      );
      assert.equal((await call(srv, 'GET', `/rbac/roles/?groups=${child.pk}&inherited=true`)).body.results.length, 1);
      assert.equal((await call(srv, 'GET', `/rbac/roles/?groups=${child.pk}`)).body.results.length, 0);
      assert.equal((await call(srv, 'POST', `/core/groups/${child.pk}/remove_user/`, { pk: grace })).status, 204);
      assert.equal((await as('GET', '/core/groups/')).status, 403);
    });

    it('permissions never make a superuser, nor act on one', async () => {
      const admins = (await call(srv, 'GET', `/core/groups/?name=${encodeURIComponent('authentik Admins')}`)).body.results[0];
      const managers = await role('r-managers');
      await assign(managers, {
        permissions: [
          'authentik_core.view_group',
          'authentik_core.change_group',
          'authentik_core.add_user_to_group',
          'authentik_core.view_user',
          'authentik_core.change_user',
          'authentik_core.reset_user_password',
          'authentik_rbac.view_role',
          'authentik_rbac.assign_role_permissions',
        ],
      });
      await call(srv, 'POST', `/rbac/roles/${managers}/add_user/`, { pk: grace });
      const plain = (await call(srv, 'POST', '/core/groups/', { name: 'r-plain' })).body;
      const bob = await createUser(srv, 'r-bob');
      // an ordinary group and user: allowed
      assert.equal((await as('POST', `/core/groups/${plain.pk}/add_user/`, { pk: bob })).status, 204);
      assert.equal((await as('PATCH', `/core/groups/${plain.pk}/`, { users: [bob, grace] })).status, 200);
      assert.equal((await as('POST', `/core/users/${bob}/set_password/`, { password: 'another long password 1' })).status, 204);
      // the superuser group, the flag, roles, a superuser account: refused, nothing changed
      const refused: [string, string, unknown][] = [
        ['POST', `/core/groups/${admins.pk}/add_user/`, { pk: grace }],
        ['PATCH', `/core/groups/${admins.pk}/`, { users: [1, grace] }],
        ['PATCH', `/core/groups/${plain.pk}/`, { is_superuser: true }],
        ['PATCH', `/core/groups/${plain.pk}/`, { parents: [admins.pk] }],
        ['PATCH', `/core/groups/${plain.pk}/`, { roles: [managers] }],
        ['PATCH', `/core/users/${grace}/`, { groups: [admins.pk] }],
        ['PATCH', `/core/users/${bob}/`, { roles: [managers] }],
        ['PATCH', '/core/users/1/', { name: 'taken over' }],
        ['POST', '/core/users/1/set_password/', { password: 'another long password 2' }],
      ];
      for (const [method, path, body] of refused) assert.deepEqual((await as(method, path, body)).body, DENIED, `${method} ${path}`);
      assert.equal((await call(srv, 'GET', `/core/groups/${admins.pk}/`)).body.users.length, 1);
      assert.equal((await call(srv, 'GET', `/core/groups/${plain.pk}/`)).body.is_superuser, false);
      assert.equal((await as('GET', '/core/users/me/')).body.user.is_superuser, false);
      // assigning what one does not hold is refused
      const r = await as('POST', `/rbac/permissions/assigned_by_roles/${managers}/assign/`, {
        permissions: ['authentik_flows.delete_flow'],
      });
      assert.deepEqual(
        [r.status, r.body],
        [400, { permissions: ['You cannot assign a permission you do not hold: authentik_flows.delete_flow'] }],
      );
      const ok = await as('POST', `/rbac/permissions/assigned_by_roles/${managers}/assign/`, { permissions: ['authentik_core.view_user'] });
      assert.equal(ok.status, 200);
      await call(srv, 'POST', `/rbac/roles/${managers}/remove_user/`, { pk: grace });
    });

    it('a superuser group: a delegate may take members out and re-add one, not add anyone new (authentik’s delegated member tests)', async () => {
      const supers = (await call(srv, 'POST', '/core/groups/', { name: 'r-supers', is_superuser: true })).body;
      const inside = await createUser(srv, 'r-inside');
      const again = await createUser(srv, 'r-again');
      const outside = await createUser(srv, 'r-outside');
      assert.equal((await call(srv, 'PATCH', `/core/groups/${supers.pk}/`, { users: [inside, again] })).status, 200);
      const delegates = await role('r-delegates');
      for (const permission of ['view_group', 'add_user_to_group', 'remove_user_from_group'])
        await assign(delegates, { permissions: [permission], model: 'authentik_core.group', object_pk: supers.pk });
      await assign(delegates, { permissions: ['authentik_core.view_user'] });
      await call(srv, 'POST', `/rbac/roles/${delegates}/add_user/`, { pk: grace });
      try {
        assert.equal((await as('POST', `/core/groups/${supers.pk}/remove_user/`, { pk: inside })).status, 204);
        assert.equal((await as('POST', `/core/groups/${supers.pk}/add_user/`, { pk: again })).status, 204);
        assert.deepEqual((await as('POST', `/core/groups/${supers.pk}/add_user/`, { pk: outside })).body, DENIED);
        assert.deepEqual((await call(srv, 'GET', `/core/groups/${supers.pk}/`)).body.users, [again]);
      } finally {
        await call(srv, 'POST', `/rbac/roles/${delegates}/remove_user/`, { pk: grace });
      }
    });

    it("membership grants only what the granter holds; an object's permissions end with it", async () => {
      // grace may change roles and groups, and add members, but holds no user permission
      const keeper = await role('r-keeper');
      await assign(keeper, {
        permissions: [
          'authentik_rbac.view_role',
          'authentik_rbac.change_role',
          'authentik_core.view_group',
          'authentik_core.change_group',
          'authentik_core.add_user_to_group',
        ],
      });
      await call(srv, 'POST', `/rbac/roles/${keeper}/add_user/`, { pk: grace });
      // she may see herself only: members are users the caller may view (authentik's add_user)
      await assign(keeper, { permissions: ['view_user'], model: 'authentik_core.user', object_pk: String(grace) });
      const strong = await role('r-strong');
      await assign(strong, { permissions: ['authentik_core.delete_user'] });
      const weak = await role('r-weak');
      await assign(weak, { permissions: ['authentik_core.view_group'] });
      const strongGroup = (await call(srv, 'POST', '/core/groups/', { name: 'r-strong-group', roles: [strong] })).body;
      const weakGroup = (await call(srv, 'POST', '/core/groups/', { name: 'r-weak-group', roles: [weak] })).body;
      const plain = (await call(srv, 'POST', '/core/groups/', { name: 'r-plain-2' })).body;
      // a role or group granting what grace lacks: refused, for herself as for anyone
      assert.deepEqual((await as('POST', `/rbac/roles/${strong}/add_user/`, { pk: grace })).body, DENIED);
      assert.deepEqual((await as('POST', `/core/groups/${strongGroup.pk}/add_user/`, { pk: grace })).body, DENIED);
      assert.deepEqual((await as('PATCH', `/core/groups/${strongGroup.pk}/`, { users: [grace] })).body, DENIED);
      assert.deepEqual((await as('PATCH', `/core/groups/${plain.pk}/`, { parents: [strongGroup.pk] })).body, DENIED);
      assert.equal((await call(srv, 'GET', `/rbac/roles/?users=${grace}&inherited=true&name=r-strong`)).body.results.length, 0);
      // what she holds herself: allowed
      assert.equal((await as('POST', `/rbac/roles/${weak}/add_user/`, { pk: grace })).status, 204);
      assert.equal((await as('POST', `/core/groups/${weakGroup.pk}/add_user/`, { pk: grace })).status, 204);
      // someone she may not view: not found, as for nobody, and not added
      const unseen = await createUser(srv, 'r-unseen');
      const r = await as('POST', `/core/groups/${weakGroup.pk}/add_user/`, { pk: unseen });
      const nobody = await as('POST', `/core/groups/${weakGroup.pk}/add_user/`, { pk: 999_999 });
      assert.deepEqual([r.status, r.body], [404, nobody.body]);
      // as for a role's members
      const viaRole = await as('POST', `/rbac/roles/${weak}/add_user/`, { pk: unseen });
      assert.deepEqual([viaRole.status, viaRole.body], [404, nobody.body]);
      assert.equal((await call(srv, 'GET', `/rbac/roles/?users=${unseen}`)).body.results.length, 0);
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${weakGroup.pk}/`)).body.users, [grace]);
      assert.equal((await as('PATCH', `/core/groups/${plain.pk}/`, { parents: [weakGroup.pk] })).status, 200);
      // a deleted user's object permissions do not pass to a later user given the same pk
      const gone = await createUser(srv, 'r-gone');
      await assign(keeper, { permissions: ['view_user'], model: 'authentik_core.user', object_pk: String(gone) });
      assert.equal((await call(srv, 'DELETE', `/core/users/${gone}/`)).status, 204);
      const left = await srv.app.store.db
        .selectFrom('role_object_permissions')
        .select('id')
        .where('object_pk', '=', String(gone))
        .execute();
      assert.deepEqual(left, []);
      await call(srv, 'POST', `/rbac/roles/${keeper}/remove_user/`, { pk: grace });
      await call(srv, 'POST', `/rbac/roles/${weak}/remove_user/`, { pk: grace });
      await call(srv, 'POST', `/core/groups/${weakGroup.pk}/remove_user/`, { pk: grace });
    });

    it("initial permissions: the creator's role receives them on the new object", async () => {
      const creators = await role('r-creators');
      await assign(creators, { permissions: ['authentik_flows.add_flow'] });
      const ids = (await call(srv, 'GET', '/rbac/permissions/?content_type__model=flow&page_size=50')).body.results
        .filter((p: { codename: string }) => ['view_flow', 'change_flow'].includes(p.codename))
        .map((p: { id: number }) => p.id);
      const ip = await call(srv, 'POST', '/rbac/initial_permissions/', { name: 'r-own-flows', role: creators, permissions: ids });
      assert.equal(ip.status, 201, JSON.stringify(ip.body));
      assert.deepEqual(ip.body.permissions_obj.map((p: { codename: string }) => p.codename).sort(), ['change_flow', 'view_flow']);
      await call(srv, 'POST', `/rbac/roles/${creators}/add_user/`, { pk: grace });
      const created = await as('POST', '/flows/instances/', {
        name: 'Grace flow',
        slug: 'r-grace-flow',
        title: 'G',
        designation: 'authentication',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const list = await as('GET', '/flows/instances/');
      assert.deepEqual(
        list.body.results.map((f: { slug: string }) => f.slug),
        ['r-grace-flow'],
      );
      assert.equal((await as('PATCH', '/flows/instances/r-grace-flow/', { title: 'G2' })).status, 200);
      const held = await call(srv, 'GET', `/rbac/permissions/roles/?uuid=${creators}`);
      assert.deepEqual(
        held.body.results.map((p: { object_pk: string }) => p.object_pk),
        [created.body.pk, created.body.pk],
      );
      // the role is used by the set, and deleting the role takes it
      const usedBy = await call(srv, 'GET', `/rbac/roles/${creators}/used_by/`);
      assert.deepEqual(
        usedBy.body.map((u: { name: string }) => u.name),
        ['r-own-flows'],
      );
      await call(srv, 'POST', `/rbac/roles/${creators}/remove_user/`, { pk: grace });
    });

    it('system permissions: /core/users/me/ lists them, /admin/system/ needs view_system_info', async () => {
      assert.deepEqual((await as('GET', '/core/users/me/')).body.user.system_permissions, []);
      assert.deepEqual((await as('GET', '/admin/system/')).body, DENIED);
      const sys = await role('r-system');
      await assign(sys, { permissions: ['authentik_rbac.view_system_info'] });
      await call(srv, 'POST', `/rbac/roles/${sys}/add_user/`, { pk: grace });
      assert.deepEqual((await as('GET', '/core/users/me/')).body.user.system_permissions, ['view_system_info']);
      // `roles`: every role she holds, directly or through a group, by name (authentik's all_roles)
      const viaGroup = await role('r-system-by-group');
      const g = await call(srv, 'POST', '/core/groups/', { name: 'r-system-group', roles: [viaGroup], users: [grace] });
      assert.equal(g.status, 201, JSON.stringify(g.body));
      const mine = (await as('GET', '/core/users/me/')).body.user.roles as { name: string; pk: string }[];
      assert.deepEqual(
        mine.filter((r) => r.name.startsWith('r-system')),
        [
          { name: 'r-system', pk: sys },
          { name: 'r-system-by-group', pk: viaGroup },
        ],
      );
      assert.equal((await call(srv, 'DELETE', `/core/groups/${g.body.pk}/`)).status, 204);
      // (a superuser holds every system permission)
      assert.deepEqual((await call(srv, 'GET', '/core/users/me/')).body.user.system_permissions, [
        'view_system_info',
        'access_admin_interface',
        'view_system_settings',
        'edit_system_settings',
        'view_media_files',
        'manage_media_files',
      ]);
      const info = await as('GET', '/admin/system/');
      assert.equal(info.status, 200);
      assert.equal(info.body.http_headers.authorization, undefined);
      assert.equal(info.body.runtime.authentik_version, (await call(srv, 'GET', '/admin/version/')).body.version_current);
      assert.equal(info.body.http_is_secure, false);
      assert.ok(Math.abs(Date.parse(info.body.server_time) - Date.now()) < 60_000);
      assert.equal((await as('POST', '/admin/system/')).status, 200);
      // through the official client
      const admin = new AdminApi(new Configuration({ basePath: srv.api, accessToken: token }));
      const viaClient = await admin.adminSystemRetrieve();
      assert.equal(viaClient.runtime.architecture, info.body.runtime.architecture);
      await call(srv, 'POST', `/rbac/roles/${sys}/remove_user/`, { pk: grace });
      assert.equal((await as('GET', '/admin/system/')).status, 403);
    });

    it('the same assignment sent many times at once leaves one row, through the official client too', async () => {
      const r = await role('r-parallel');
      const flow = flows[2]!;
      const sent = Array.from({ length: 8 }, (_, i) =>
        i % 2
          ? assign(r, { permissions: ['authentik_flows.view_flow'] })
          : assign(r, { permissions: ['view_flow'], model: 'authentik_flows.flow', object_pk: flow.pk }),
      );
      const answers = await Promise.all(sent);
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(8).fill(200),
      );
      assert.equal(new Set(answers.filter((_, i) => i % 2).map((a) => a.body[0].id)).size, 1);
      assert.equal(new Set(answers.filter((_, i) => !(i % 2)).map((a) => a.body[0].id)).size, 1);
      const db = srv.app.store.db;
      const model = await db.selectFrom('role_model_permissions').select('id').where('role_uuid', '=', r).execute();
      const objects = await db.selectFrom('role_object_permissions').select('id').where('role_uuid', '=', r).execute();
      assert.deepEqual([model.length, objects.length], [1, 1]);
      const viaClient = await rbac.rbacPermissionsAssignedByRolesAssign({
        uuid: r,
        permissionAssignRequest: { permissions: ['change_flow'], model: 'authentik_flows.flow' as never, objectPk: flow.pk },
      });
      assert.equal(viaClient.length, 1);
      const listed = await rbac.rbacPermissionsAssignedByRolesList({ model: 'authentik_flows.flow', objectPk: flow.pk });
      const mine = listed.results.find((x) => x.rolePk === r)!;
      assert.deepEqual(mine.objectPermissions.map((p) => p.codename).sort(), ['change_flow', 'view_flow']);
      assert.deepEqual(
        mine.modelPermissions.map((p) => p.codename),
        ['view_flow'],
      );
    });

    it('bad input: 400 with field errors, nothing written', async () => {
      const r = await role('r-bad');
      const cases: [unknown, unknown][] = [
        [
          { permissions: ['view_flow'] },
          { permissions: ['When assigning global permissions, codename must be given as app_label.codename'] },
        ],
        [{ permissions: ['view_flow'], model: 'authentik_flows.flow' }, { object_pk: ['This field is required.'] }],
        [{ permissions: ['view_flow'], model: 'nope.nope', object_pk: 'x' }, { model: ['"nope.nope" is not a valid choice.'] }],
        [{ permissions: ['authentik_flows.fly'] }, { permissions: ['Permission "authentik_flows.fly" does not exist.'] }],
        [
          { permissions: ['view_user'], model: 'authentik_flows.flow', object_pk: flows[0]!.pk },
          { permissions: ['Permission "view_user" does not exist.'] },
        ],
        [
          { permissions: ['view_flow'], model: 'authentik_flows.flow', object_pk: '00000000-0000-4000-8000-000000000000' },
          { object_pk: ['Object does not exist.'] },
        ],
        [{}, { permissions: ['This field is required.'] }],
      ];
      for (const [sent, want] of cases) {
        const res = await assign(r, sent as Record<string, unknown>);
        assert.deepEqual([res.status, res.body], [400, want], JSON.stringify(sent));
      }
      assert.deepEqual((await call(srv, 'GET', '/rbac/permissions/assigned_by_roles/')).body, { model: ['This field is required.'] });
      assert.equal((await call(srv, 'GET', '/rbac/permissions/assigned_by_roles/?model=x.y')).status, 400);
      assert.deepEqual((await call(srv, 'GET', '/rbac/permissions/roles/')).body, { uuid: ['This field is required.'] });
      assert.equal((await call(srv, 'GET', `/rbac/permissions/?role=${r}`)).body.pagination.count, 0);
      assert.equal((await call(srv, 'POST', `/rbac/roles/${r}/add_user/`, { pk: 999999 })).status, 404);
    });
  });
}
