/**
 * Without a role, a non-superuser holds none of authentik's group permissions (view_group, add_group, change_group,
 * delete_group, add_user_to_group, remove_user_from_group, enable_group_superuser): every operation is a 403, as
 * authentik's ObjectFilter and permission_required answer — including adding oneself to a superuser group.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { clients, failure } from '../rest/contract/client.js';
import { callAs, createGroup, createUser, tokenFor } from './setup.js';

const DENIED = { detail: 'You do not have permission to perform this action.' };

for (const dialect of dialects()) {
  describe(`groups API permissions (${dialect})`, () => {
    let srv: TestServer;
    let token: string;
    let grace: number;
    let admins: string;
    before(async () => {
      srv = await startServer(dialect);
      grace = await createUser(srv, 'p-grace');
      token = await tokenFor(srv, grace, 'grace-key-0123456789abcdefghijklmnopq');
      admins = (await call(srv, 'GET', `/core/groups/?name=${encodeURIComponent('authentik Admins')}`)).body.results[0].pk;
    });
    after(async () => srv.close());

    it('a non-superuser gets 403 on every group operation and changes nothing', async () => {
      const g = await createGroup(srv, { name: 'p-target', users: [grace] });
      const requests: [string, string, unknown?][] = [
        ['GET', '/core/groups/'],
        ['GET', `/core/groups/${g.pk}/`],
        ['GET', `/core/groups/${g.pk}/used_by/`],
        ['POST', '/core/groups/', { name: 'p-new' }],
        ['POST', '/core/groups/', { name: 'p-new-super', is_superuser: true }],
        ['PUT', `/core/groups/${g.pk}/`, { name: 'p-renamed' }],
        ['PATCH', `/core/groups/${g.pk}/`, { is_superuser: true }],
        ['PATCH', `/core/groups/${g.pk}/`, { parents: [admins] }],
        ['DELETE', `/core/groups/${g.pk}/`],
        ['POST', `/core/groups/${admins}/add_user/`, { pk: grace }],
        ['POST', `/core/groups/${g.pk}/remove_user/`, { pk: grace }],
        // the user's own groups are written through /core/users/, which is superuser-only too
        ['PATCH', `/core/users/${grace}/`, { groups: [admins] }],
      ];
      for (const [method, path, sent] of requests) {
        const r = await callAs(srv, token, method, path, sent);
        assert.deepEqual([r.status, r.body], [403, DENIED], `${method} ${path}`);
      }
      const after = (await call(srv, 'GET', `/core/groups/${g.pk}/`)).body;
      assert.deepEqual([after.name, after.is_superuser, after.parents, after.users], ['p-target', false, [], [grace]]);
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${admins}/`)).body.users, [1]);
      assert.equal((await call(srv, 'GET', '/core/groups/?name=p-new')).body.pagination.count, 0);
      // the user sees their own groups in /me, as authentik's UserSelfSerializer shows them
      const me = (await callAs(srv, token, 'GET', '/core/users/me/')).body.user;
      assert.deepEqual(me.groups, [{ name: 'p-target', pk: g.pk }]);
      assert.equal(me.is_superuser, false);
      // through the official client
      const asGrace = clients(srv, token);
      assert.deepEqual(await failure(asGrace.core.coreGroupsListRaw({})), { status: 403, body: DENIED });
      assert.deepEqual(await failure(asGrace.core.coreGroupsAddUserCreateRaw({ groupUuid: admins, userAccountRequest: { pk: grace } })), {
        status: 403,
        body: DENIED,
      });
      assert.deepEqual(await failure(asGrace.core.coreGroupsCreateRaw({ groupRequest: { name: 'p-client', isSuperuser: true } })), {
        status: 403,
        body: DENIED,
      });
    });

    it('without credentials: 403', async () => {
      const r = await fetch(`${srv.api}/core/groups/`);
      assert.equal(r.status, 403);
      assert.deepEqual(await r.json(), { detail: 'Authentication credentials were not provided.' });
      const add = await fetch(`${srv.api}/core/groups/${admins}/add_user/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pk: grace }),
      });
      assert.equal(add.status, 403);
    });
  });
}
