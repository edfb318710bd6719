/**
 * PostgreSQL: several nodes keep flows, bindings and stage settings in memory (src/db/admin-cache.ts) and still apply
 * a change everywhere at once, because every configuration table's trigger advances one counter in the writing
 * transaction and each request reads it (src/db/config-epoch.ts). Only with KEYSTAGE_TEST_DATABASE_URL.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { call, startServer, ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { createStage, flowOf } from '../helpers/flows.js';
import { isConfigTable } from '../../src/db/config-epoch.js';
import { describePostgres } from '../helpers/postgres.js';

describePostgres(
  'PostgreSQL: the configuration epoch keeps every node current',
  'the epoch is a PostgreSQL trigger and counter (SQLite uses PRAGMA data_version)',
  () => {
    let a: TestServer;
    let b: TestServer;
    let sql: pg.Client;
    const epoch = async () => Number((await sql.query('select epoch from keystage_config_epoch where id = 1')).rows[0].epoch);

    before(async () => {
      a = await startServer('postgres');
      b = await startServer('postgres', { databaseUrl: a.config.databaseUrl });
      sql = new pg.Client({ connectionString: a.config.databaseUrl });
      await sql.connect();
    });
    after(async () => {
      await sql?.end();
      await b?.close();
      await a?.close();
    });

    it('every configuration table carries the trigger, and no other table does', async () => {
      const { rows } = await sql.query<{ name: string; has: boolean }>(
        `select c.relname as name, exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = 'keystage_config_epoch') as has
         from pg_class c where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace`,
      );
      const config = rows.filter((r) => isConfigTable(r.name)).map((r) => r.name);
      for (const t of ['flows', 'flow_bindings', 'stages', 'stage_identification', 'stage_password', 'stage_authenticator_validate'])
        assert.ok(config.includes(t), `${t} is a configuration table`);
      assert.deepEqual(
        rows.filter((r) => isConfigTable(r.name) && !r.has).map((r) => r.name),
        [],
        'configuration tables without the trigger',
      );
      assert.deepEqual(
        rows.filter((r) => !isConfigTable(r.name) && r.has).map((r) => r.name),
        [],
        'runtime tables with the trigger',
      );
    });

    it('a stage changed through node A applies to the very next request on node B, in a plan already running', async () => {
      const ident = await createStage(a, '/stages/identification/', { name: 'epoch-ident', user_fields: ['username'] });
      await flowOf(a, 'epoch-flow', [ident]);
      const browser = new FlowClient(b, 'epoch-flow');
      assert.deepEqual((await browser.get()).body.user_fields, ['username']);
      // node B has now kept the flow and the stage; node A changes the stage
      assert.equal((await call(a, 'PATCH', `/stages/identification/${ident}/`, { user_fields: ['email'] })).status, 200);
      assert.deepEqual((await browser.get()).body.user_fields, ['email']);
      assert.equal((await call(a, 'PATCH', '/flows/instances/epoch-flow/', { title: 'Renamed on A' })).status, 200);
      assert.equal((await browser.get()).body.flow_info.title, 'Renamed on A');
      // and the stage list on node B counts the stage node A deletes
      const before = (await call(b, 'GET', '/stages/identification/?search=epoch-')).body.pagination.count;
      const extra = await createStage(a, '/stages/identification/', { name: 'epoch-extra', user_fields: ['username'] });
      assert.equal((await call(b, 'GET', '/stages/identification/?search=epoch-')).body.pagination.count, before + 1);
      assert.equal((await call(a, 'DELETE', `/stages/identification/${extra}/`)).status, 204);
      assert.equal((await call(b, 'GET', '/stages/identification/?search=epoch-')).body.pagination.count, before);
    });

    it('a change written outside Keystage (psql) applies to the next request; the epoch moves with it', async () => {
      const ident = await createStage(a, '/stages/identification/', { name: 'epoch-psql', user_fields: ['username'] });
      await flowOf(a, 'epoch-psql-flow', [ident]);
      const browser = new FlowClient(b, 'epoch-psql-flow');
      assert.deepEqual((await browser.get()).body.user_fields, ['username']);
      const e0 = await epoch();
      await sql.query(`update stage_identification set user_fields = '["upn"]' where stage_uuid = $1`, [ident]);
      assert.ok((await epoch()) > e0, 'the trigger advanced the epoch');
      assert.deepEqual((await browser.get()).body.user_fields, ['upn']);
    });

    it('a node serves what it kept while the epoch stands still, and reloads when it moves', async () => {
      const ident = await createStage(a, '/stages/identification/', { name: 'epoch-kept', user_fields: ['username'] });
      await flowOf(a, 'epoch-kept-flow', [ident]);
      const browser = new FlowClient(b, 'epoch-kept-flow');
      assert.deepEqual((await browser.get()).body.user_fields, ['username']);
      // a write that fires no trigger (replication mode): node B must not notice — it answers from memory
      await sql.query(`set session_replication_role = replica`);
      try {
        await sql.query(`update stage_identification set user_fields = '["email"]' where stage_uuid = $1`, [ident]);
      } finally {
        await sql.query(`set session_replication_role = origin`);
      }
      assert.deepEqual((await browser.get()).body.user_fields, ['username'], 'kept, not read again');
      await sql.query('update keystage_config_epoch set epoch = epoch + 1 where id = 1');
      assert.deepEqual((await browser.get()).body.user_fields, ['email'], 'the epoch moved: read again');
    });

    it('concurrent admin writes on both nodes all succeed, each advancing the epoch', async () => {
      const ident = await createStage(a, '/stages/identification/', { name: 'epoch-busy', user_fields: ['username'] });
      const flow = await call(a, 'POST', '/flows/instances/', {
        name: 'epoch-busy',
        slug: 'epoch-busy',
        title: 't',
        designation: 'authentication',
      });
      const e0 = await epoch();
      const writes = Array.from({ length: 24 }, (_, i) => {
        const node = i % 2 ? a : b;
        return i % 3 === 0
          ? call(node, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: ident, order: 100 + i })
          : call(node, 'PATCH', `/stages/identification/${ident}/`, {
              user_fields: i % 2 ? ['email'] : ['username'],
              name: `epoch-busy-${i}`,
            });
      });
      const statuses = (await Promise.all(writes)).map((r) => r.status);
      assert.deepEqual(
        statuses,
        statuses.map((_, i) => (i % 3 === 0 ? 201 : 200)),
      );
      assert.ok((await epoch()) >= e0 + 24, 'every write advanced the epoch');
      assert.equal((await call(b, 'GET', `/flows/bindings/?target=${flow.body.pk}`)).body.pagination.count, 8);
    });

    it('with the epoch row deleted, nothing is kept: logins work and changes apply; a start puts the row back', async () => {
      const ident = await createStage(a, '/stages/identification/', { name: 'epoch-gone', user_fields: ['username'] });
      await flowOf(a, 'epoch-gone-flow', [ident]);
      const browser = new FlowClient(b, 'epoch-gone-flow');
      assert.deepEqual((await browser.get()).body.user_fields, ['username']);
      await sql.query('delete from keystage_config_epoch');
      try {
        // a change with no counter to advance still applies: the node reads afresh
        await sql.query(`update stage_identification set user_fields = '["email"]' where stage_uuid = $1`, [ident]);
        assert.deepEqual((await browser.get()).body.user_fields, ['email']);
        const login = new FlowClient(b);
        assert.equal((await login.get()).body.component, 'ak-stage-identification');
        assert.equal(
          (await login.post({ component: 'ak-stage-identification', uid_field: 'akadmin' })).body.component,
          'ak-stage-password',
        );
        assert.equal((await login.post({ component: 'ak-stage-password', password: ADMIN_PASSWORD })).body.component, 'xak-flow-redirect');
        const me = await login.api('GET', '/core/users/me/');
        assert.equal(me.status, 200);
        assert.equal(me.body.user.username, 'akadmin');
      } finally {
        // another node starting on the database restores the row
        const c = await startServer('postgres', { databaseUrl: a.config.databaseUrl });
        await c.close();
      }
      assert.equal((await sql.query('select count(*)::int as n from keystage_config_epoch')).rows[0].n, 1);
    });

    it('a full login leaves the epoch where it was (the executor writes no configuration), on either node', async () => {
      const e0 = await epoch();
      const browser = new FlowClient(a);
      assert.equal((await browser.get()).body.component, 'ak-stage-identification');
      const browserB = new FlowClient(b);
      // the plan lives in the session: continue node A's login on node B via the same cookies is covered elsewhere;
      // here each node runs one whole login
      for (const c of [browser, browserB]) {
        if (c === browserB) assert.equal((await c.get()).body.component, 'ak-stage-identification');
        assert.equal((await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' })).body.component, 'ak-stage-password');
        const done = (await c.post({ component: 'ak-stage-password', password: ADMIN_PASSWORD })).body;
        assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      }
      assert.equal(await epoch(), e0);
    });
  },
);
