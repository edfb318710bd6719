/**
 * authentik's data exports (SQLite and PostgreSQL): users and events exported as CSV with their lists' filters,
 * search and ordering, through the official client; the file behind a signed URL or the requester's session; the
 * `export_ready` event and the requester's notification; who may ask for, see and delete an export (authentik's
 * reports tests: test_permissions, test_user_export, test_event_export); an export left unmade by a stopped node made
 * by another, and taken by one node only under parallel claims.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { EventsApi } from '@goauthentik/api/dist/apis/EventsApi.js';
import { ReportsApi } from '@goauthentik/api/dist/apis/ReportsApi.js';
import { RbacApi } from '@goauthentik/api/dist/apis/RbacApi.js';
import { EventActions } from '@goauthentik/api/dist/models/EventActions.js';
import { call, dialects, startServer, ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, failure } from '../rest/contract/client.js';
import { callAs, createGroup, createUser, tokenFor } from '../groups/setup.js';
import { loggedIn } from '../helpers/flows.js';
import { csvRecords } from '../helpers/csv.js';
import { askExport, claim } from '../../src/reports/generate.js';
import { FILES_KEY_PURPOSE } from '../../src/reports/routes.js';
import { purposeKey } from '../../src/instance/secrets.js';

const DENIED = { detail: 'You do not have permission to perform this action.' };

for (const dialect of dialects()) {
  describe(`data exports (${dialect})`, () => {
    let srv: TestServer;
    let core: CoreApi;
    let reports: ReportsApi;
    let rbac: RbacApi;

    before(async () => {
      srv = await startServer(dialect, {}, { exportSweepMs: 100 });
      const conf = new Configuration({ basePath: srv.api, accessToken: srv.token });
      core = new CoreApi(conf);
      reports = new ReportsApi(conf);
      rbac = new RbacApi(conf);
    });
    after(async () => srv.close());

    /** the export once made (polled as authentik's documentation says, at most 5 s) */
    const made = async (id: string, token = srv.token) => {
      for (let i = 0; i < 100; i++) {
        const r = await callAs(srv, token, 'GET', `/reports/exports/${id}/`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        if (r.body.completed) return r.body;
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.fail(`export ${id} was not made`);
    };
    const download = async (fileUrl: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${srv.url}${fileUrl}`, { headers });
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        disposition: res.headers.get('content-disposition'),
        text: await res.text(),
      };
    };
    /** a user holding `permissions` through a role of their own, with an API token */
    const withPermissions = async (name: string, permissions: string[]) => {
      const pk = await createUser(srv, name);
      const role = (await rbac.rbacRolesCreate({ roleRequest: { name: `${name}-role` } })).pk;
      if (permissions.length)
        assert.equal((await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, { permissions })).status, 200);
      assert.equal((await call(srv, 'PATCH', `/core/users/${pk}/`, { roles: [role] })).status, 200);
      return { pk, role, token: await tokenFor(srv, pk, `${name}-key-0123456789abcdefghijklmnopqrstuv`) };
    };

    it('users: the list’s filters, the CSV’s columns and groups by name, the event and the notification', async () => {
      const group = await createGroup(srv, { name: 'x-exporters' });
      const b = await createUser(srv, 'x-bea', { path: 'x/exports', groups: [group.pk] });
      await createUser(srv, 'x-abe', { path: 'x/other', attributes: { team: 'blue' } });
      const created = await core.coreUsersExportCreateRaw({ path: 'x/exports' });
      assert.equal(created.raw.status, 201);
      const first = await created.raw.json();
      assertMatches('DataExport', first);
      assert.equal(created.raw.headers.get('location'), `/api/v3/reports/exports/${first.id}/`);
      assert.deepEqual(first.query_params, { path: 'x/exports' });
      assert.deepEqual(first.content_type, {
        id: first.content_type.id,
        app_label: 'authentik_core',
        model: 'user',
        verbose_name_plural: 'Users',
        fully_qualified_model: 'authentik_core.user',
      });
      assert.equal(first.requested_by.username, 'akadmin');

      const done = await made(first.id);
      assertMatches('DataExport', done);
      assert.match(done.file_url, new RegExp(`^/files/reports/public/users_${first.id}\\.csv\\?token=`));
      const file = await download(done.file_url);
      assert.equal(file.status, 200);
      assert.equal(file.type, 'text/csv; charset=utf-8');
      assert.equal(file.disposition, `attachment; filename="users_${first.id}.csv"`);
      const rows = csvRecords(file.text);
      assert.deepEqual(Object.keys(rows[0]!).slice(0, 6), ['ID', 'Username', 'Name', 'Active', 'Last login', 'Date joined']);
      assert.ok(Object.keys(rows[0]!).includes('Email address') && !Object.keys(rows[0]!).includes('Groups obj'));
      assert.ok(!Object.keys(rows[0]!).includes('Is superuser'));
      assert.deepEqual(
        rows.map((r) => [r.ID, r.Username, r.Groups, r.Active, r.Path]),
        [[String(b), 'x-bea', 'x-exporters', 'True', 'x/exports']],
      );

      // the requester is told: an export_ready event and a notification linking to the file
      const events = await call(srv, 'GET', '/events/events/?actions=export_ready&ordering=-created');
      const event = events.body.results.find((e: any) => e.context.export?.pk === first.id);
      assert.equal(event.user.username, 'akadmin');
      assert.equal(event.context.message, 'User export generated successfully');
      const inbox = await call(srv, 'GET', `/events/notifications/?event=${event.pk}`);
      assert.equal(inbox.body.pagination.count, 1);
      assert.deepEqual(
        [inbox.body.results[0].body, inbox.body.results[0].hyperlink, inbox.body.results[0].hyperlink_label],
        ['User export generated successfully', `/files/reports/public/users_${first.id}.csv`, 'Download'],
      );
    });

    it('users: DjangoQL search and ordering (authentik’s test_search_filter, test_ordering)', async () => {
      for (const n of ['x-ord-c', 'x-ord-a', 'x-ord-b']) await createUser(srv, n, { path: 'x/ordered' });
      const searched = await body(core.coreUsersExportCreateRaw({ search: 'username = "x-ord-b"' }));
      const one = csvRecords((await download((await made(searched.id)).file_url)).text);
      assert.deepEqual(
        one.map((r) => r.Username),
        ['x-ord-b'],
      );
      for (const [ordering, expected] of [
        ['-username', ['x-ord-c', 'x-ord-b', 'x-ord-a']],
        ['username', ['x-ord-a', 'x-ord-b', 'x-ord-c']],
      ] as const) {
        const e = await body(core.coreUsersExportCreateRaw({ path: 'x/ordered', ordering }));
        const rows = csvRecords((await download((await made(e.id)).file_url)).text);
        assert.deepEqual(
          rows.map((r) => r.Username),
          expected,
        );
      }
    });

    it('events: the actions filter (authentik’s test_type_filter), the user’s columns; a bad filter is a 400 and no export', async () => {
      const events = new EventsApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const wrong = await createUser(srv, 'x-wrong');
      // the user's creation and its update by the administrator: only the update is exported
      await call(srv, 'PATCH', `/core/users/${wrong}/`, { name: 'x-wrong renamed' });
      const e = await body(events.eventsEventsExportCreateRaw({ actions: [EventActions.ModelUpdated], contextModelPk: String(wrong) }));
      assert.deepEqual(e.query_params, { actions: 'model_updated', context_model_pk: String(wrong) });
      assert.deepEqual(e.content_type.fully_qualified_model, 'authentik_events.event');
      const done = await made(e.id);
      assert.match(done.file_url, /^\/files\/reports\/public\/events_/);
      const rows = csvRecords((await download(done.file_url)).text);
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.Action, 'model_updated');
      assert.equal(JSON.parse(row.Context!).model.name, 'x-wrong renamed');
      assert.deepEqual([row.Username, row.Email, row['User pk']], ['akadmin', 'admin@example.com', row['User pk']]);
      assert.match(row['User pk']!, /^\d+$/);
      assert.ok(Object.keys(row).includes('Event uuid') && !Object.keys(row).includes('User'));

      const before = (await call(srv, 'GET', '/reports/exports/?page_size=100')).body.pagination.count;
      const bad = await call(srv, 'POST', '/events/events/export/?actions=not_an_action');
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { actions: ['Select a valid choice. not_an_action is not one of the available choices.'] });
      assert.equal((await call(srv, 'GET', '/reports/exports/?page_size=100')).body.pagination.count, before);
      assert.equal((await call(srv, 'GET', '/core/users/export/')).status, 405);
    });

    it('who may ask, see and delete (authentik’s test_permissions)', async () => {
      const nothing = await withPermissions('x-none', []);
      assert.deepEqual(await callAs(srv, nothing.token, 'POST', '/core/users/export/').then((r) => [r.status, r.body]), [403, DENIED]);
      const viewOnly = await withPermissions('x-view', ['authentik_core.view_user']);
      assert.equal((await callAs(srv, viewOnly.token, 'POST', '/core/users/export/')).status, 403);
      const asker = await withPermissions('x-asker', ['authentik_core.view_user', 'authentik_reports.add_dataexport']);
      const mine = await callAs(srv, asker.token, 'POST', '/core/users/export/?username=x-asker');
      assert.equal(mine.status, 201);
      assert.equal(mine.body.requested_by.username, 'x-asker');
      await made(mine.body.id, asker.token);
      // only users: events stay closed to them
      assert.equal((await callAs(srv, asker.token, 'POST', '/events/events/export/')).status, 403);

      // another user with the same permissions does not see it
      const other = await withPermissions('x-other', ['authentik_core.view_user', 'authentik_reports.add_dataexport']);
      assert.equal((await callAs(srv, other.token, 'GET', `/reports/exports/${mine.body.id}/`)).status, 404);
      assert.equal((await callAs(srv, other.token, 'DELETE', `/reports/exports/${mine.body.id}/`)).status, 404);
      assert.equal((await callAs(srv, other.token, 'GET', '/reports/exports/')).body.pagination.count, 0);
      // view_dataexport shows everyone's exports of the models one may view, not the others
      const viewer = await withPermissions('x-viewer', ['authentik_core.view_user', 'authentik_reports.view_dataexport']);
      const seen = (await callAs(srv, viewer.token, 'GET', '/reports/exports/?page_size=100')).body.results;
      assert.ok(seen.some((x: any) => x.id === mine.body.id));
      assert.ok(seen.every((x: any) => x.content_type.model === 'user'));
      assert.ok(
        (await call(srv, 'GET', '/reports/exports/?page_size=100')).body.results.some((x: any) => x.content_type.model === 'event'),
      );
      // but deleting someone else's needs delete_dataexport
      assert.deepEqual(await callAs(srv, viewer.token, 'DELETE', `/reports/exports/${mine.body.id}/`).then((r) => [r.status, r.body]), [
        403,
        DENIED,
      ]);

      // without the model's view permission the export is out of sight, even one's own (test_export_access_owner)
      await call(srv, 'PATCH', `/rbac/permissions/assigned_by_roles/${asker.role}/unassign/`, {
        permissions: ['authentik_core.view_user'],
      }).then((r) => assert.equal(r.status, 204));
      assert.equal((await callAs(srv, asker.token, 'GET', `/reports/exports/${mine.body.id}/`)).status, 404);
      assert.equal((await callAs(srv, asker.token, 'GET', '/reports/exports/')).body.pagination.count, 0);
      await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${asker.role}/assign/`, { permissions: ['authentik_core.view_user'] });
      // the requester deletes their own
      assert.equal((await callAs(srv, asker.token, 'DELETE', `/reports/exports/${mine.body.id}/`)).status, 204);
      assert.deepEqual(await failure(reports.reportsExportsRetrieve({ id: mine.body.id })), {
        status: 404,
        body: { detail: 'No Data Export matches the given query.' },
      });
    });

    it('the file: a signed URL for 15 minutes, or the session of someone who may see the export; else 404', async () => {
      const e = await body(core.coreUsersExportCreateRaw({ username: 'akadmin' }));
      const done = await made(e.id);
      const path = `/files/reports/public/users_${e.id}.csv`;
      assert.equal((await download(path)).status, 404);
      assert.equal((await download(`${path}?token=${done.file_url.split('token=')[1]}x`)).status, 404);
      // a token for another file does not open this one
      const other = await made((await body(core.coreUsersExportCreateRaw({ username: 'akadmin' }))).id);
      assert.equal((await download(`${path}?token=${other.file_url.split('token=')[1]}`)).status, 404);
      // signed with the server's key but expired
      const key = purposeKey(srv.app.services.secretKey, FILES_KEY_PURPOSE);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ path: `reports/public/users_${e.id}.csv` })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(now - 60)
        .setNotBefore(now - 1000)
        .sign(key);
      assert.equal((await download(`${path}?token=${expired}`)).status, 404);
      const fresh = await new SignJWT({ path: `reports/public/users_${e.id}.csv` })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(now + 60)
        .sign(key);
      assert.equal((await download(`${path}?token=${fresh}`)).status, 200);

      // the notification's link: the requester's session opens it, another person's does not
      const admin = await loggedIn(srv, 'akadmin', ADMIN_PASSWORD);
      const mine = await download(path, { cookie: `authentik_session=${admin.session}` });
      assert.equal(mine.status, 200);
      assert.equal(csvRecords(mine.text)[0]!.Username, 'akadmin');
      const stranger = await createUser(srv, 'x-stranger');
      assert.equal((await call(srv, 'POST', `/core/users/${stranger}/set_password/`, { password: 'stranger password 1' })).status, 204);
      const theirs = await loggedIn(srv, 'x-stranger', 'stranger password 1');
      assert.equal((await download(path, { cookie: `authentik_session=${theirs.session}` })).status, 404);
      // deleted: gone
      assert.equal((await call(srv, 'DELETE', `/reports/exports/${e.id}/`)).status, 204);
      assert.equal((await download(done.file_url)).status, 404);
    });

    it('a cell that would run as a formula in a spreadsheet is written as text', async () => {
      await createUser(srv, 'x-formula', { name: '=HYPERLINK("http://evil.example","click")', path: 'x/formula' });
      const e = await body(core.coreUsersExportCreateRaw({ path: 'x/formula' }));
      const rows = csvRecords((await download((await made(e.id)).file_url)).text);
      assert.equal(rows[0]!.Name, `'=HYPERLINK("http://evil.example","click")`);
    });

    /** an export row as one being made: claimed for a minute */
    const unfinished = (requester: number) => ({
      id: randomUUID(),
      requested_by: requester,
      requested_on: new Date().toISOString(),
      content_type: 'authentik_core.user',
      query_params: '{}',
      file: '',
      content: null,
      completed: 0,
      claimed_until: new Date(Date.now() + 60_000).toISOString(),
    });

    it('unfinished exports per person are capped: a 429 with Retry-After, nothing written; parallel asks pass one at a time', async () => {
      const { db } = srv.app.services;
      const limit = srv.config.exportsUnfinished;
      assert.equal(limit, 3);
      const asker = await withPermissions('capped', ['authentik_reports.add_dataexport', 'authentik_core.view_user']);
      for (let i = 0; i < limit; i++) await db.insertInto('data_exports').values(unfinished(asker.pk)).execute();
      const count = async () => (await db.selectFrom('data_exports').select('id').where('requested_by', '=', asker.pk).execute()).length;
      const res = await fetch(`${srv.api}/core/users/export/`, { method: 'POST', headers: { authorization: `Bearer ${asker.token}` } });
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '10');
      assert.deepEqual(await res.json(), { detail: 'Request was throttled.' });
      assert.equal(await count(), limit);
      // someone else is not held back by it
      assert.equal((await call(srv, 'POST', '/core/users/export/')).status, 201);
      // one finished: one more may be asked for
      await db
        .deleteFrom('data_exports')
        .where('requested_by', '=', asker.pk)
        .where('id', 'in', db.selectFrom('data_exports').select('id').where('requested_by', '=', asker.pk).limit(1))
        .execute();
      // eight asks at once (PostgreSQL: on as many connections) with one place left: exactly one recorded
      const results = await Promise.all(Array.from({ length: 8 }, () => askExport(db, limit, unfinished(asker.pk))));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await count(), limit);
    });

    it('an export its node left unmade is made by the sweep; parallel claims take it once', async () => {
      const { db } = srv.app.services;
      const admin = await db.selectFrom('users').select('id').where('username', '=', 'akadmin').executeTakeFirstOrThrow();
      // as a node leaves it when it stops after taking the request: claimed, the claim run out
      const left = {
        ...unfinished(admin.id),
        query_params: JSON.stringify({ username: 'akadmin' }),
        claimed_until: new Date(Date.now() - 1000).toISOString(),
      };
      const id = left.id;
      await db.insertInto('data_exports').values(left).execute();
      const done = await made(id);
      assert.equal(csvRecords((await download(done.file_url)).text)[0]!.Username, 'akadmin');

      // eight claims at once (PostgreSQL: on as many connections): one takes it
      const raced = unfinished(admin.id);
      const race = raced.id;
      await db.insertInto('data_exports').values(raced).execute();
      const later = Date.now() + 120_000;
      const taken = await Promise.all(Array.from({ length: 8 }, () => claim(db, race, later)));
      assert.equal(taken.filter((t) => t !== undefined).length, 1);
    });
  });
}
