/**
 * authentik's admin lists (SQLite and PostgreSQL): `/admin/apps/` and `/admin/models/` through the official client
 * (the event matcher's choices; models with attributes), and `/admin/version/history/`: a row per version started,
 * not repeated by another node of the same version, filtered, ordered, retrieved, and for administrators only.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { AdminApi } from '@goauthentik/api/dist/apis/AdminApi.js';
import { call, dialects, startServer, type TestServer, sameDatabase } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { callAs, tokenFor } from '../groups/setup.js';
import { VERSION } from '../../src/version.js';

for (const dialect of dialects()) {
  describe(`admin apps, models and version history (${dialect})`, () => {
    let srv: TestServer;
    let admin: AdminApi;
    before(async () => {
      srv = await startServer(dialect);
      admin = new AdminApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
    });
    after(async () => srv.close());

    it('apps and models: the event matcher’s choices, named as authentik names them', async () => {
      const apps = await body(admin.adminAppsListRaw());
      for (const a of apps) assertMatches('App', a);
      assert.deepEqual(
        apps.find((a: { name: string }) => a.name === 'authentik.core'),
        { name: 'authentik.core', label: 'authentik Core' },
      );
      assert.ok(apps.some((a: { name: string }) => a.name === 'authentik.stages.identification'));
      const models = await body(admin.adminModelsListRaw({}));
      assert.deepEqual(
        models.find((m: { name: string }) => m.name === 'authentik_core.user'),
        { name: 'authentik_core.user', label: 'User' },
      );
      assert.ok(models.some((m: { name: string }) => m.name === 'authentik_flows.flow'));
      assert.ok(!models.some((m: { name: string }) => m.name === 'authentik_rbac.systempermission'));
      const withAttributes = (await body(admin.adminModelsListRaw({ filterHasAttributes: true }))).map((m: { name: string }) => m.name);
      assert.ok(withAttributes.includes('authentik_core.user') && withAttributes.includes('authentik_core.group'));
      assert.ok(!withAttributes.includes('authentik_flows.flow'));
      const without = (await body(admin.adminModelsListRaw({ filterHasAttributes: false }))).map((m: { name: string }) => m.name);
      assert.ok(without.includes('authentik_flows.flow') && !without.includes('authentik_core.user'));
    });

    it('version history: this version once, however many nodes start it; a new version adds a row', async () => {
      const first = await body(admin.adminVersionHistoryListRaw({}));
      for (const r of first) assertMatches('VersionHistory', r);
      assert.deepEqual(
        first.map((r: { version: string; build: string }) => [r.version, r.build]),
        [[VERSION, '']],
      );
      // another node on the same database, same version: nothing new
      const second = await startServer(dialect, sameDatabase(srv));
      await second.close();
      assert.equal((await call(srv, 'GET', '/admin/version/history/')).body.length, 1);
      // after an older version's row, starting this version records it again
      await srv.app.store.db
        .insertInto('version_history')
        .values({ timestamp: new Date().toISOString(), version: '2026.2.0', build: 'abc' } as never)
        .execute();
      const third = await startServer(dialect, sameDatabase(srv));
      await third.close();
      const all = (await call(srv, 'GET', '/admin/version/history/?ordering=id')).body;
      assert.deepEqual(
        all.map((r: { version: string }) => r.version),
        [VERSION, '2026.2.0', VERSION],
      );
      assert.deepEqual(
        (await call(srv, 'GET', '/admin/version/history/?version=2026.2.0')).body.map((r: { build: string }) => r.build),
        ['abc'],
      );
      assert.equal((await call(srv, 'GET', '/admin/version/history/?search=abc')).body.length, 1);
      const one = await call(srv, 'GET', `/admin/version/history/${all[1].id}/`);
      assert.deepEqual([one.status, one.body.version], [200, '2026.2.0']);
      assert.equal((await call(srv, 'GET', '/admin/version/history/99999/')).status, 404);
      const uid = await createUser(srv, 'not-admin', 'not-admin-pass-1');
      const token = await tokenFor(srv, uid, 'not-admin-key-0123456789abcdefghijklmnop');
      assert.equal((await callAs(srv, token, 'GET', '/admin/version/history/')).status, 403);
      assert.equal((await callAs(srv, token, 'GET', '/admin/apps/')).status, 200);
    });
  });
}
