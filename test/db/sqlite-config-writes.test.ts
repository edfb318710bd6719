/**
 * SQLite: this process's own writes to the configuration tables empty the admin cache (src/db/admin-cache.ts) through
 * temporary triggers on its connection (src/db/config-epoch.ts `watchSqliteConfigWrites`), since `PRAGMA
 * data_version` shows only other connections' commits; a login, which writes no configuration, keeps what is cached.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { ADMIN_PASSWORD, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { isConfigTable } from '../../src/db/config-epoch.js';

describe('SQLite: the process sees its own configuration writes', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer('sqlite');
  });
  after(async () => srv.close());

  it('every configuration table has the temporary triggers, no other table has them, and the file stores none', async () => {
    const db = srv.app.store.db;
    const tables = (await sql<{ name: string }>`select name from main.sqlite_master where type = 'table'`.execute(db)).rows.map(
      (r) => r.name,
    );
    const temp = (await sql<{ tbl_name: string }>`select tbl_name from sqlite_temp_master where type = 'trigger'`.execute(db)).rows;
    const watched = new Set(temp.map((r) => r.tbl_name));
    const config = tables.filter(isConfigTable);
    for (const t of ['flows', 'flow_bindings', 'stages', 'stage_identification', 'policy_bindings', 'brands'])
      assert.ok(config.includes(t), t);
    assert.deepEqual(
      config.filter((t) => !watched.has(t)),
      [],
      'configuration tables without triggers',
    );
    assert.deepEqual(
      [...watched].filter((t) => !isConfigTable(t)),
      [],
      'other tables with triggers',
    );
    assert.equal(temp.length, config.length * 3, 'insert, update and delete on each');
    const stored = (
      await sql<{ name: string }>`select name from main.sqlite_master where type = 'trigger' and name like 'keystage_config%'`.execute(db)
    ).rows;
    assert.deepEqual(stored, [], 'nothing in the file that another program writing it would need');
  });

  it("a write made outside an admin request empties the cache; a login doesn't", async () => {
    const cache = srv.app.store.adminCache;
    const login = async () => {
      const c = new FlowClient(srv);
      assert.equal((await c.get()).body.component, 'ak-stage-identification');
      assert.equal((await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' })).body.component, 'ak-stage-password');
      const done = (await c.post({ component: 'ak-stage-password', password: ADMIN_PASSWORD })).body;
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
    };
    await login();
    const before = cache.generation;
    await login();
    assert.equal(cache.generation, before, 'a login writes no configuration');
    // a write straight through the database, as a blueprint file's discovery or a sync makes it
    await srv.app.store.db
      .updateTable('flows')
      .set({ title: 'Changed behind the API' })
      .where('slug', '=', 'default-authentication-flow')
      .execute();
    assert.ok(cache.generation > before, 'the cache was emptied');
    const c = new FlowClient(srv);
    assert.equal((await c.get()).body.flow_info.title, 'Changed behind the API');
  });
});
