/**
 * Membership is inherited as authentik's `User.all_groups()` / `Group.is_member()`: a user in a group is a member of
 * it and of all its ancestors (several parents, transitively). Ports authentik's core/tests/test_groups.py, checks
 * the exported API (src/groups/membership.ts) on each database, and a superuser made so by a grandparent group —
 * who then may call superuser-only endpoints, and may not once the link or membership is gone.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { groupsOf, isMember } from '../../src/groups/membership.js';
import { Browser } from '../helpers/browser.js';
import { createStage, createUser as createUserWithPassword, flowOf } from '../helpers/flows.js';
import { callAs, createGroup, createUser, tokenFor } from './setup.js';

for (const dialect of dialects()) {
  describe(`group membership (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());
    const db = () => srv.app.store.db;

    it('simple: a member of the group only (test_group_membership_simple)', async () => {
      const user = await createUser(srv, 'm-simple');
      const user2 = await createUser(srv, 'm-simple2');
      const group = await createGroup(srv, { name: 'm-simple-g', users: [user] });
      const other = await createGroup(srv, { name: 'm-simple-other', users: [user] });
      assert.equal(await isMember(db(), user, group.pk), true);
      assert.equal(await isMember(db(), user2, group.pk), false);
      assert.deepEqual(await groupsOf(db(), user), new Set([group.pk, other.pk]));
      assert.deepEqual(await groupsOf(db(), user2), new Set());
      assert.equal(await isMember(db(), user, 'not-a-uuid'), false);
      assert.equal(await isMember(db(), user, group.pk.toUpperCase()), true, 'any spelling of the UUID');
    });

    it('parent: a member of the child is a member of the parent (test_group_membership_parent)', async () => {
      const user = await createUser(srv, 'm-parent');
      const user2 = await createUser(srv, 'm-parent2');
      const parent = await createGroup(srv, { name: 'm-p-parent' });
      const child = await createGroup(srv, { name: 'm-p-child', parents: [parent.pk], users: [user] });
      assert.equal(await isMember(db(), user, child.pk), true);
      assert.equal(await isMember(db(), user, parent.pk), true);
      assert.equal(await isMember(db(), user2, child.pk), false);
      assert.equal(await isMember(db(), user2, parent.pk), false);
    });

    it('grandparent: up the chain, never down (test_group_membership_parent_extra)', async () => {
      const user = await createUser(srv, 'm-extra');
      const user2 = await createUser(srv, 'm-extra2');
      const parent = await createGroup(srv, { name: 'm-x-parent' });
      const second = await createGroup(srv, { name: 'm-x-second', parents: [parent.pk], users: [user] });
      const third = await createGroup(srv, { name: 'm-x-third', parents: [second.pk] });
      assert.equal(await isMember(db(), user, parent.pk), true);
      assert.equal(await isMember(db(), user2, parent.pk), false);
      assert.equal(await isMember(db(), user, second.pk), true);
      assert.equal(await isMember(db(), user2, second.pk), false);
      assert.equal(await isMember(db(), user, third.pk), false, 'a child group is not inherited');
      assert.equal(await isMember(db(), user2, third.pk), false);
      assert.deepEqual(await groupsOf(db(), user), new Set([second.pk, parent.pk]));
    });

    it('two parents, and a diamond: each ancestor once', async () => {
      const user = await createUser(srv, 'm-two');
      const top = await createGroup(srv, { name: 'm-2-top' });
      const left = await createGroup(srv, { name: 'm-2-left', parents: [top.pk] });
      const right = await createGroup(srv, { name: 'm-2-right', parents: [top.pk] });
      const other = await createGroup(srv, { name: 'm-2-other' });
      const child = await createGroup(srv, { name: 'm-2-child', parents: [left.pk, right.pk], users: [user] });
      assert.deepEqual(await groupsOf(db(), user), new Set([child.pk, left.pk, right.pk, top.pk]));
      for (const g of [child, left, right, top]) assert.equal(await isMember(db(), user, g.pk), true, g.name);
      assert.equal(await isMember(db(), user, other.pk), false);
      // /core/users/me lists every group the user is a member of, by name (authentik's UserSelfSerializer)
      const token = await tokenFor(srv, user, 'm-two-key-0123456789abcdefghijklmnop');
      const me = (await callAs(srv, token, 'GET', '/core/users/me/')).body;
      assert.deepEqual(
        me.user.groups.map((g: { name: string }) => g.name),
        ['m-2-child', 'm-2-left', 'm-2-right', 'm-2-top'],
      );
    });

    it('a cycle written behind the API’s back ends the recursion (test_group_membership_recursive)', async () => {
      const user = await createUser(srv, 'm-rec');
      const group = await createGroup(srv, { name: 'm-rec-1', users: [user] });
      const group2 = await createGroup(srv, { name: 'm-rec-2', parents: [group.pk] });
      await db().insertInto('group_parents').values({ child_uuid: group.pk, parent_uuid: group2.pk }).execute();
      assert.equal(await isMember(db(), user, group.pk), true);
      assert.equal(await isMember(db(), user, group2.pk), true);
      assert.deepEqual(await groupsOf(db(), user), new Set([group.pk, group2.pk]));
      // the API still answers, and refuses to make it worse
      assert.equal((await call(srv, 'GET', `/core/users/${user}/`)).body.is_superuser, false);
      assert.equal((await call(srv, 'PATCH', `/core/groups/${group2.pk}/`, { is_superuser: true })).status, 200);
      assert.equal((await call(srv, 'GET', `/core/users/${user}/`)).body.is_superuser, true);
      await db().deleteFrom('group_parents').where('child_uuid', '=', group.pk).execute();
    });

    it('attributes merge over all groups by name, then the user’s own (group_attributes)', async () => {
      const user = await createUser(srv, 'm-attrs', { attributes: { settings: { theme: 'dark' } } });
      const top = await createGroup(srv, { name: 'm-a-top', attributes: { settings: { locale: 'de', list: [1] } } });
      await createGroup(srv, { name: 'm-a-child', parents: [top.pk], users: [user], attributes: { settings: { list: [2] } } });
      const token = await tokenFor(srv, user, 'm-attrs-key-0123456789abcdefghijklmno');
      const me = (await callAs(srv, token, 'GET', '/core/users/me/')).body;
      assert.deepEqual(me.user.settings, { list: [2, 1], locale: 'de', theme: 'dark' });
      // with the request: the brand's attributes first (authentik's group_attributes(request))
      const brand = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0];
      const setBrand = (attributes: Record<string, unknown>) => call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { attributes });
      assert.equal((await setBrand({ settings: { locale: 'fr', navbar: { userDisplay: 'name' }, list: [0] } })).status, 200);
      try {
        const branded = (await callAs(srv, token, 'GET', '/core/users/me/')).body;
        assert.deepEqual(branded.user.settings, { list: [0, 2, 1], locale: 'de', navbar: { userDisplay: 'name' }, theme: 'dark' });
      } finally {
        await setBrand({});
      }
    });

    it('superuser through a grandparent group: allowed while the chain holds, refused once it breaks', async () => {
      const frank = await createUser(srv, 'm-frank');
      const token = await tokenFor(srv, frank, 'frank-key-0123456789abcdefghijklmnopq');
      const admins = await createGroup(srv, { name: 'm-su-admins', is_superuser: true });
      const ops = await createGroup(srv, { name: 'm-su-ops', parents: [admins.pk] });
      const oncall = await createGroup(srv, { name: 'm-su-oncall', parents: [ops.pk] });
      const superOnly = () => callAs(srv, token, 'GET', '/flows/instances/');
      const me = async () => (await callAs(srv, token, 'GET', '/core/users/me/')).body.user.is_superuser;
      assert.equal((await superOnly()).status, 403);
      assert.equal(await me(), false);

      assert.equal((await call(srv, 'POST', `/core/groups/${oncall.pk}/add_user/`, { pk: frank })).status, 204);
      assert.equal((await superOnly()).status, 200);
      assert.equal(await me(), true);
      assert.equal((await call(srv, 'GET', `/core/users/${frank}/`)).body.is_superuser, true);
      // the user may now do what superusers do, creating a group among others
      assert.equal((await callAs(srv, token, 'POST', '/core/groups/', { name: 'm-su-made-by-frank' })).status, 201);

      // the middle link goes: no longer a superuser, on the next request
      assert.equal((await call(srv, 'PATCH', `/core/groups/${ops.pk}/`, { parents: [] })).status, 200);
      assert.equal((await superOnly()).status, 403);
      assert.equal(await me(), false);
      // back, then the membership goes
      assert.equal((await call(srv, 'PATCH', `/core/groups/${ops.pk}/`, { parents: [admins.pk] })).status, 200);
      assert.equal((await superOnly()).status, 200);
      assert.equal((await call(srv, 'POST', `/core/groups/${oncall.pk}/remove_user/`, { pk: frank })).status, 204);
      assert.equal((await superOnly()).status, 403);
      // and the flag on the top group counts too
      assert.equal((await call(srv, 'POST', `/core/groups/${oncall.pk}/add_user/`, { pk: frank })).status, 204);
      assert.equal((await call(srv, 'PATCH', `/core/groups/${admins.pk}/`, { is_superuser: false })).status, 200);
      assert.equal((await superOnly()).status, 403);
    });

    it('a flow that requires a superuser runs for a superuser through a parent group, in a logged-in session', async () => {
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'm-flow-dummy' });
      const slug = await flowOf(srv, 'm-superuser-only', [dummy], {
        designation: 'stage_configuration',
        authentication: 'require_superuser',
      });
      const gina = await createUserWithPassword(srv, 'm-gina', 'gina-password-1');
      const top = await createGroup(srv, { name: 'm-flow-top', is_superuser: true });
      const team = await createGroup(srv, { name: 'm-flow-team', parents: [top.pk] });
      const b = new Browser(srv.api);
      await b.get('default-authentication-flow');
      await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'm-gina' });
      const done = await b.solve('default-authentication-flow', { component: 'ak-stage-password', password: 'gina-password-1' });
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.equal((await b.get(slug)).body.component, 'ak-stage-access-denied', 'not yet a member');
      assert.equal((await call(srv, 'POST', `/core/groups/${team.pk}/add_user/`, { pk: gina })).status, 204);
      const ok = await b.get(slug);
      assert.equal(ok.body.component, 'ak-stage-dummy', 'a member of a child of a superuser group');
    });
  });
}
