/**
 * The groups list's filters as authentik's GroupFilter and schema.yml document them — each one narrows the list —
 * its search (plain and DjangoQL), ordering, and django-filter's 400s.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { clients, body } from '../rest/contract/client.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { createGroup, createUser, names } from './setup.js';

for (const dialect of dialects()) {
  describe(`groups list filters (${dialect})`, () => {
    let srv: TestServer;
    let dave: number;
    let erin: number;
    const list = (q: string) => call(srv, 'GET', `/core/groups/?page_size=100&${q}`);
    before(async () => {
      srv = await startServer(dialect);
      dave = await createUser(srv, 'f-dave');
      erin = await createUser(srv, 'f-erin');
      const red = await createGroup(srv, { name: 'f-red', attributes: { team: 'red', office: { city: 'Berlin' }, n: 3 }, users: [dave] });
      await createGroup(srv, { name: 'f-blue', attributes: { team: 'blue', n: '3' }, users: [dave, erin] });
      await createGroup(srv, { name: 'f-root', is_superuser: true, parents: [], users: [erin] });
      await createGroup(srv, { name: 'f-child', parents: [red.pk] });
    });
    after(async () => srv.close());

    it('name, is_superuser and attributes each narrow the list', async () => {
      assert.deepEqual(names(await list('name=f-red')), ['f-red']);
      assert.deepEqual(names(await list('name=f-re')), [], 'name is exact');
      assert.deepEqual(names(await list('is_superuser=true')), ['authentik Admins', 'f-root']);
      assert.deepEqual(names(await list('is_superuser=false&search=f-')), ['f-blue', 'f-child', 'f-red']);
      const attrs = (o: unknown) => list(`attributes=${encodeURIComponent(JSON.stringify(o))}`);
      assert.deepEqual(names(await attrs({ team: 'red' })), ['f-red']);
      assert.deepEqual(names(await attrs({ office__city: 'Berlin' })), ['f-red']);
      assert.deepEqual(names(await attrs({ n: 3 })), ['f-red'], 'the number 3 is not the string "3"');
      assert.deepEqual(names(await attrs({ team: 'red', n: 4 })), []);
      const bad = await list('attributes=%7Bnope');
      assert.deepEqual([bad.status, bad.body], [400, ['filter: failed to parse JSON']]);
      const notMapping = await list('attributes=%5B1%5D');
      assert.deepEqual([notMapping.status, notMapping.body], [400, ['filter: value must be key:value mapping']]);
    });

    it('members_by_pk and members_by_username: direct members, any of several; unknown values are 400s', async () => {
      assert.deepEqual(names(await list(`members_by_pk=${dave}`)), ['f-blue', 'f-red']);
      assert.deepEqual(names(await list(`members_by_pk=${dave}&members_by_pk=${erin}`)), ['f-blue', 'f-red', 'f-root']);
      assert.deepEqual(names(await list('members_by_username=f-erin')), ['f-blue', 'f-root']);
      assert.deepEqual(names(await list(`members_by_username=f-erin&members_by_pk=${dave}`)), ['f-blue'], 'filters combine with and');
      const notInt = await list('members_by_pk=abc');
      assert.deepEqual([notInt.status, notInt.body], [400, { members_by_pk: ['“abc” is not a valid value.'] }]);
      const unknown = await list('members_by_pk=987654');
      assert.deepEqual(unknown.body, { members_by_pk: ['Select a valid choice. 987654 is not one of the available choices.'] });
      const huge = await list('members_by_pk=99999999999');
      assert.deepEqual(huge.body, { members_by_pk: ['Select a valid choice. 99999999999 is not one of the available choices.'] });
      const nobody = await list('members_by_username=nobody');
      assert.deepEqual(nobody.body, { members_by_username: ['Select a valid choice. nobody is not one of the available choices.'] });
    });

    it('search: name or is_superuser as text, every term; DjangoQL over name, is_superuser and attributes', async () => {
      assert.deepEqual(names(await list('search=F-R')), ['f-red', 'f-root'], 'case-insensitive');
      assert.deepEqual(names(await list('search=f- true')), ['f-root'], 'is_superuser reads as "true"');
      assert.deepEqual(names(await list('search=%25')), [], '% is not a wildcard');
      const ql = (q: string) => list(`search=${encodeURIComponent(q)}`);
      assert.deepEqual(names(await ql('name = "f-blue"')), ['f-blue']);
      assert.deepEqual(names(await ql('is_superuser = True and name startswith "f-"')), ['f-root']);
      assert.deepEqual(names(await ql('attributes.team = "red" or attributes.team = "blue"')), ['f-blue', 'f-red']);
    });

    it('ordering by name (default), -name and num_pk; the official client’s list with every filter', async () => {
      assert.deepEqual(names(await list('search=f-&ordering=-name')), ['f-root', 'f-red', 'f-child', 'f-blue']);
      const byNum = (await list('ordering=num_pk')).body.results.map((g: { num_pk: number }) => g.num_pk);
      assert.deepEqual(
        byNum,
        [...byNum].sort((a, b) => a - b),
      );
      const api = clients(srv);
      const r = await body(
        api.core.coreGroupsListRaw({
          attributes: JSON.stringify({ team: 'blue' }),
          includeChildren: true,
          includeInheritedRoles: true,
          includeParents: true,
          includeUsers: true,
          isSuperuser: false,
          membersByPk: [dave, erin],
          membersByUsername: ['f-dave'],
          name: 'f-blue',
          ordering: 'name',
          page: 1,
          pageSize: 10,
          search: 'blue',
        }),
      );
      assertMatches('PaginatedGroupList', r);
      assert.deepEqual(
        r.results.map((g: { name: string }) => g.name),
        ['f-blue'],
      );
      assert.deepEqual(r.results[0].users, [dave, erin]);
    });

    it('the users list: groups_by_name and groups_by_pk are direct memberships; is_superuser follows parent groups', async () => {
      const users = async (q: string) =>
        ((await call(srv, 'GET', `/core/users/?${q}`)).body.results as { username: string }[]).map((u) => u.username);
      assert.deepEqual(await users('groups_by_name=f-red'), ['f-dave']);
      assert.deepEqual(await users('groups_by_name=f-red&groups_by_name=f-root'), ['f-dave', 'f-erin']);
      const root = (await list('name=f-root')).body.results[0];
      assert.deepEqual(await users(`groups_by_pk=${root.pk}`), ['f-erin']);
      const child = (await list('name=f-child')).body.results[0];
      // a member of a child of a superuser group is a superuser
      assert.equal((await call(srv, 'PATCH', `/core/groups/${child.pk}/`, { parents: [root.pk], users: [dave] })).status, 200);
      assert.deepEqual(await users('is_superuser=true'), ['akadmin', 'f-dave', 'f-erin']);
      assert.deepEqual(await users('is_superuser=false&username=f-dave'), []);
      assert.equal((await call(srv, 'PATCH', `/core/groups/${child.pk}/`, { parents: [] })).status, 200);
      assert.deepEqual(await users('is_superuser=true'), ['akadmin', 'f-erin']);
      assert.deepEqual(await users('is_superuser=false&search=f-'), ['f-dave']);
    });
  });
}
