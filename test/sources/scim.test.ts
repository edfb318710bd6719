/**
 * The SCIM source (authentik's, RFC 7643/7644): an identity provider provisions users and groups through
 * /source/scim/<slug>/v2/ with the source's token — scenarios of authentik's test_auth, test_users, test_groups and
 * test_users_patch, and Entra ID's PATCH habits — and the admin API shows what it provisioned; a person it deactivates
 * is logged out.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { loggedIn } from '../helpers/flows.js';

const SCIM = 'application/scim+json';

for (const dialect of dialects()) {
  describe(`SCIM source (${dialect})`, () => {
    let srv: TestServer;
    let base = '';
    let key = '';
    let sourcePk = '';

    const scim = async (method: string, path: string, body?: unknown, token = key) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': SCIM }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : undefined };
    };
    const db = () => srv.app.services.db;

    before(async () => {
      srv = await startServer(dialect);
      const dept = await call(srv, 'POST', '/propertymappings/source/scim/', {
        name: 'scim department',
        expression:
          'ext = data.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", {})\nreturn {"attributes": {"department": ext.get("department")}}',
      });
      assert.equal(dept.status, 201, JSON.stringify(dept.body));
      const r = await call(srv, 'POST', '/sources/scim/', { name: 'Entra', slug: 'entra', user_property_mappings: [dept.body.pk] });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      // (the service account has no e-mail: "" as in authentik, which its schema's format "email" does not allow)
      assert.equal(r.body.token_obj.user_obj.email, '');
      assertMatches('SCIMSource', {
        ...r.body,
        token_obj: { ...r.body.token_obj, user_obj: { ...r.body.token_obj.user_obj, email: 'sa@example.org' } },
      });
      sourcePk = r.body.pk;
      base = r.body.root_url;
      assert.equal(base, `${srv.url}/source/scim/entra/v2`);
      assert.equal(r.body.token_obj.identifier, `ak-source-scim-${sourcePk}`);
      assert.equal(r.body.token_obj.intent, 'api');
      assert.equal(r.body.token_obj.expiring, false);
      assert.equal(r.body.token_obj.user_obj.type, 'internal_service_account');
      const k = await call(srv, 'GET', `/core/tokens/${r.body.token_obj.identifier}/view_key/`);
      assert.equal(k.status, 200);
      key = k.body.key;
    });
    after(async () => srv.close());

    it("authenticates with the source's token only", async () => {
      assert.equal((await scim('GET', '/Users', undefined, '')).status, 401);
      const wrong = await scim('GET', '/Users', undefined, 'not-the-token');
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
      // another source's token does not open this one
      const other = await call(srv, 'POST', '/sources/scim/', { name: 'Okta', slug: 'okta' });
      const otherKey = (await call(srv, 'GET', `/core/tokens/${other.body.token_obj.identifier}/view_key/`)).body.key;
      assert.equal((await scim('GET', '/Users', undefined, otherKey)).status, 401);
      // and an administrator's API token is not a SCIM token
      assert.equal((await scim('GET', '/Users', undefined, srv.token)).status, 401);
      // deleting a source deletes its service account and token
      assert.equal((await call(srv, 'DELETE', '/sources/scim/okta/')).status, 204);
      const left = await db().selectFrom('users').select('id').where('username', '=', `ak-source-scim-${other.body.pk}`).execute();
      assert.deepEqual(left, []);
      const ok = await scim('GET', '/ServiceProviderConfig');
      assert.equal(ok.status, 200);
      assert.match(ok.type, /application\/scim\+json/);
      assert.equal(ok.body.patch.supported, true);
      assert.deepEqual(
        (await scim('GET', '/ResourceTypes')).body.Resources.map((r: { id: string }) => r.id),
        ['User', 'Group'],
      );
      assert.ok(
        (await scim('GET', '/Schemas')).body.Resources.some((s: { id: string }) => s.id === 'urn:ietf:params:scim:schemas:core:2.0:User'),
      );
    });

    it('creates, lists, filters, replaces and patches users', async () => {
      const created = await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
        userName: 'jane@example.org',
        externalId: 'entra-jane',
        name: { formatted: 'Jane Doe', givenName: 'Jane', familyName: 'Doe' },
        emails: [
          { value: 'jd@old.example', type: 'other' },
          { value: 'jane@example.org', type: 'work', primary: true },
        ],
        active: true,
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Research' },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.equal(created.body.externalId, 'entra-jane');
      assert.equal(created.body.meta.location, `${base}/Users/${id}`);
      const jane = await db().selectFrom('users').selectAll().where('username', '=', 'jane@example.org').executeTakeFirstOrThrow();
      assert.equal(jane.name, 'Jane Doe');
      assert.equal(jane.email, 'jane@example.org');
      assert.equal(jane.path, 'goauthentik.io/sources/entra');
      assert.equal(JSON.parse(jane.attributes).department, 'Research');

      assert.equal((await scim('POST', '/Users', { userName: 'jane@example.org' })).status, 409);
      const missing = await scim('POST', '/Users', { name: { formatted: 'Nobody' } });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.scimType, 'invalidValue');
      await scim('POST', '/Users', {
        userName: 'bob@example.org',
        name: { formatted: 'Bob' },
        emails: [{ value: 'bob@example.org' }],
        active: true,
      });

      const listed = await scim('GET', '/Users?filter=' + encodeURIComponent('userName eq "Jane@Example.org"'));
      assert.equal(listed.status, 200);
      assert.equal(listed.body.totalResults, 1);
      assert.equal(listed.body.Resources[0].id, id);
      const both = await scim('GET', '/Users?count=1&startIndex=2');
      assert.equal(both.body.totalResults, 2);
      assert.equal(both.body.Resources.length, 1);
      assert.equal(both.body.startIndex, 2);
      const byExternal = await scim('GET', '/Users?filter=' + encodeURIComponent('externalId eq "entra-jane" and active eq true'));
      assert.equal(byExternal.body.totalResults, 1);
      const bad = await scim('GET', '/Users?filter=' + encodeURIComponent('userName eq'));
      assert.equal(bad.status, 400);
      assert.equal(bad.body.scimType, 'invalidFilter');

      const replaced = await scim('PUT', `/Users/${id}`, {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'jane@example.org',
        name: { formatted: 'Jane Roe' },
        emails: [{ value: 'jane@example.org', primary: true }],
        active: true,
      });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      assert.equal(replaced.body.name.formatted, 'Jane Roe');

      // Entra ID's PATCH: capitalised ops, "False" as a string, an e-mail by value filter
      const patched = await scim('PATCH', `/Users/${id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [
          { op: 'Replace', path: 'active', value: 'False' },
          { op: 'Add', path: 'emails[type eq "work"].value', value: 'jane.roe@example.org' },
          { op: 'replace', value: { 'name.givenName': 'Janet' } },
        ],
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.active, false);
      const after = await db().selectFrom('users').selectAll().where('id', '=', jane.id).executeTakeFirstOrThrow();
      assert.equal(after.is_active, 0);
      assert.equal(after.name, 'Jane Roe');
      const badPatch = await scim('PATCH', `/Users/${id}`, { Operations: [{ op: 'move', path: 'active' }] });
      assert.equal(badPatch.status, 400);
      assert.equal((await scim('GET', '/Users/not-an-id')).status, 404);

      const usedBy = await call(srv, 'GET', '/sources/scim/entra/used_by/');
      assert.deepEqual(usedBy.body.map((u: { model_name: string }) => u.model_name).sort(), ['scimsourceuser', 'scimsourceuser', 'token']);
      const admin = await call(srv, 'GET', '/sources/scim_users/?source__slug=entra');
      assert.equal(admin.status, 200);
      assertMatches('PaginatedSCIMSourceUserList', admin.body);
      assert.deepEqual(admin.body.results.map((u: { user_obj: { username: string } }) => u.user_obj.username).sort(), [
        'bob@example.org',
        'jane@example.org',
      ]);
      // one user is provisioned once per source: a second row for it is a 400 (authentik's unique_together), not a 500
      const [first] = admin.body.results as { user: number; source: string }[];
      const again = await call(srv, 'POST', '/sources/scim_users/', {
        user: first!.user,
        source: first!.source,
        external_id: 'x',
        attributes: {},
      });
      assert.deepEqual([again.status, again.body], [400, { non_field_errors: ['The fields user, source must make a unique set.'] }]);
    });

    it('refuses a write whose mapping fails, and records why', async () => {
      const bad = await call(srv, 'POST', '/propertymappings/source/scim/', {
        name: 'refuses mallory',
        expression: 'if data.get("userName") == "mallory":\n    raise ValueError("no")\nreturn {}',
      });
      assert.equal(bad.status, 201, JSON.stringify(bad.body));
      const before = (await call(srv, 'GET', '/sources/scim/entra/')).body.user_property_mappings;
      assert.equal((await call(srv, 'PATCH', '/sources/scim/entra/', { user_property_mappings: [...before, bad.body.pk] })).status, 200);
      const r = await scim('POST', '/Users', { userName: 'mallory' });
      assert.equal(r.status, 400);
      assert.equal(r.body.scimType, 'invalidValue');
      assert.equal(await db().selectFrom('users').select('id').where('username', '=', 'mallory').executeTakeFirst(), undefined);
      const events = (await call(srv, 'GET', '/events/events/?action=configuration_error')).body.results;
      const e = events.find((x: { context: { mapping?: { name: string } } }) => x.context.mapping?.name === 'refuses mallory');
      assert.equal(e?.context.source.model_name, 'scimsource', JSON.stringify(events));
      assert.equal((await call(srv, 'PATCH', '/sources/scim/entra/', { user_property_mappings: before })).status, 200);
    });

    it('creates groups with members, patches members in and out, and deletes', async () => {
      const users = (await scim('GET', '/Users')).body.Resources as { id: string; userName: string }[];
      const jane = users.find((u) => u.userName === 'jane@example.org')!;
      const bob = users.find((u) => u.userName === 'bob@example.org')!;
      const g = await scim('POST', '/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: 'Engineering',
        externalId: 'entra-eng',
        members: [{ value: jane.id }],
      });
      assert.equal(g.status, 201, JSON.stringify(g.body));
      assert.deepEqual(g.body.members, [{ value: jane.id, display: 'jane@example.org' }]);
      const unknown = await scim('POST', '/Groups', { displayName: 'Ghosts', members: [{ value: 'nobody' }] });
      assert.equal(unknown.status, 400);
      assert.equal((await scim('POST', '/Groups', { displayName: 'Engineering' })).status, 409);

      const added = await scim('PATCH', `/Groups/${g.body.id}`, {
        Operations: [{ op: 'Add', path: 'members', value: [{ value: bob.id }] }],
      });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.deepEqual(added.body.members.map((m: { value: string }) => m.value).sort(), [bob.id, jane.id].sort());
      const group = await db().selectFrom('groups').select('group_uuid').where('name', '=', 'Engineering').executeTakeFirstOrThrow();
      const members = async () =>
        (
          await db()
            .selectFrom('user_groups as m')
            .innerJoin('users as u', 'u.id', 'm.user_id')
            .select('u.username')
            .where('m.group_uuid', '=', group.group_uuid)
            .orderBy('u.username')
            .execute()
        ).map((r) => r.username);
      assert.deepEqual(await members(), ['bob@example.org', 'jane@example.org']);
      const removed = await scim('PATCH', `/Groups/${g.body.id}`, {
        Operations: [{ op: 'Remove', path: `members[value eq "${jane.id}"]` }],
      });
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assert.deepEqual(await members(), ['bob@example.org']);
      const renamed = await scim('PATCH', `/Groups/${g.body.id}`, { Operations: [{ op: 'replace', path: 'displayName', value: 'R&D' }] });
      assert.equal(renamed.body.displayName, 'R&D');
      const filtered = await scim('GET', '/Groups?filter=' + encodeURIComponent('displayName eq "r&d"'));
      assert.equal(filtered.body.totalResults, 1);

      const admin = await call(srv, 'GET', '/sources/scim_groups/?source__slug=entra');
      assertMatches('PaginatedSCIMSourceGroupList', admin.body);
      assert.equal(admin.body.results[0].group_obj.name, 'R&D');

      assert.equal((await scim('DELETE', `/Groups/${g.body.id}`)).status, 204);
      assert.equal(await db().selectFrom('groups').select('group_uuid').where('name', '=', 'R&D').executeTakeFirst(), undefined);
      assert.equal((await scim('DELETE', `/Users/${bob.id}`)).status, 204);
      assert.equal(await db().selectFrom('users').select('id').where('username', '=', 'bob@example.org').executeTakeFirst(), undefined);
      assert.equal((await scim('GET', `/Users/${bob.id}`)).status, 404);
    });

    it('a user the identity provider deactivates (PATCH or PUT active false) is logged out: their sessions end', async () => {
      const made = await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'kim',
        name: { formatted: 'Kim Lee' },
        emails: [{ value: 'kim@example.org', primary: true }],
        active: true,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const kim = await db().selectFrom('users').select('id').where('username', '=', 'kim').executeTakeFirstOrThrow();
      assert.equal((await call(srv, 'POST', `/core/users/${kim.id}/set_password/`, { password: 'kim-password-1' })).status, 204);
      const sessionsOfKim = () => db().selectFrom('sessions').select('session_key').where('user_id', '=', kim.id).execute();

      // Entra ID's PATCH
      const browser = await loggedIn(srv, 'kim', 'kim-password-1');
      assert.equal((await sessionsOfKim()).length, 1);
      const patched = await scim('PATCH', `/Users/${made.body.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.active, false);
      assert.equal((await browser.me()).status, 403, 'the old session no longer works');
      assert.deepEqual(await sessionsOfKim(), []);

      // active again, logged in again; then a PUT without the person active
      const back = await scim('PATCH', `/Users/${made.body.id}`, { Operations: [{ op: 'replace', path: 'active', value: true }] });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(back.body.active, true);
      assert.equal((await browser.me()).status, 403, 'the session ended: reactivating the person does not bring it back');
      const again = await loggedIn(srv, 'kim', 'kim-password-1');
      assert.equal((await sessionsOfKim()).length, 1);
      const replaced = await scim('PUT', `/Users/${made.body.id}`, {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'kim',
        name: { formatted: 'Kim Lee' },
        emails: [{ value: 'kim@example.org', primary: true }],
        active: false,
      });
      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      assert.equal(replaced.body.active, false);
      assert.equal((await again.me()).status, 403, 'the old session no longer works');
      assert.deepEqual(await sessionsOfKim(), []);
    });

    it('writes at the same time (real parallel requests) get the answers of some sequential order, never a 500', async () => {
      const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
      const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
      for (let i = 0; i < 6; i++) {
        // the same user twice at once: one created, one 409 uniqueness
        const u = { schemas: [USER], userName: `twice-${i}`, externalId: `twice-${i}` };
        const made = await Promise.all([scim('POST', '/Users', u), scim('POST', '/Users', u)]);
        assert.deepEqual(made.map((r) => r.status).sort(), [201, 409], JSON.stringify(made.map((r) => r.body)));
        assert.equal(made.find((r) => r.status === 409)!.body.scimType, 'uniqueness');
        const g = { schemas: [GROUP], displayName: `twice-${i}` };
        const groups = await Promise.all([scim('POST', '/Groups', g), scim('POST', '/Groups', g)]);
        assert.deepEqual(groups.map((r) => r.status).sort(), [201, 409], JSON.stringify(groups.map((r) => r.body)));
        const group = groups.find((r) => r.status === 201)!.body;

        // a group replaced naming a member deleted at the same time: 200 (then the membership goes with the user) or
        // 400 (the member is unknown); the deletion 204
        const member = await scim('POST', '/Users', { schemas: [USER], userName: `member-${i}` });
        const [put, del] = await Promise.all([
          scim('PUT', `/Groups/${group.id}`, { ...g, members: [{ value: member.body.id }] }),
          scim('DELETE', `/Users/${member.body.id}`),
        ]);
        assert.ok(put.status === 200 || put.status === 400, `PUT answered ${put.status}: ${JSON.stringify(put.body)}`);
        assert.equal(del.status, 204);
        assert.deepEqual((await scim('GET', `/Groups/${group.id}`)).body.members ?? [], []);

        // a group deleted while patched: the deletion 204, the patch 200 or 404
        const [gone, patched] = await Promise.all([
          scim('DELETE', `/Groups/${group.id}`),
          scim('PATCH', `/Groups/${group.id}`, { Operations: [{ op: 'replace', path: 'displayName', value: `renamed-${i}` }] }),
        ]);
        assert.equal(gone.status, 204, JSON.stringify(gone.body));
        assert.ok(patched.status === 200 || patched.status === 404, `PATCH answered ${patched.status}: ${JSON.stringify(patched.body)}`);
        assert.equal((await scim('GET', `/Groups/${group.id}`)).status, 404);
      }
      const left = await db().selectFrom('users').select('username').where('username', 'like', 'twice-%').execute();
      assert.equal(left.length, 6);
    });
  });
}
