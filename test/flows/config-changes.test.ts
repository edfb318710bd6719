/**
 * Admin changes reach the executor at once: a stage's settings, a flow's bindings and title, changed through the API
 * or by another connection to the database, apply to the next executor request — also to a plan already running.
 * (With SQLite the executor keeps these until the next admin write — src/db/admin-cache.ts.)
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { createStage, flowOf } from '../helpers/flows.js';

for (const dialect of dialects()) {
  describe(`executor: admin changes apply to the next request (${dialect})`, () => {
    let srv: TestServer;
    let ident: string;
    before(async () => {
      srv = await startServer(dialect);
      ident = await createStage(srv, '/stages/identification/', { name: 'cc-ident', user_fields: ['username'] });
      await flowOf(srv, 'cc-flow', [ident]);
    });
    after(async () => srv.close());

    it('a stage’s settings changed through the API apply to a plan already running', async () => {
      const browser = new FlowClient(srv, 'cc-flow');
      assert.deepEqual((await browser.get()).body.user_fields, ['username']);
      const patched = await call(srv, 'PATCH', `/stages/identification/${ident}/`, { user_fields: ['email'] });
      assert.equal(patched.status, 200);
      assert.deepEqual((await browser.get()).body.user_fields, ['email']);
      await call(srv, 'PATCH', `/stages/identification/${ident}/`, { user_fields: ['username'] });
      assert.deepEqual((await browser.get()).body.user_fields, ['username']);
    });

    it('a flow’s title and a new binding apply to the next plan', async () => {
      const first = new FlowClient(srv, 'cc-flow');
      assert.equal((await first.get()).body.flow_info.title, 'cc-flow');
      const flow = await call(srv, 'PATCH', '/flows/instances/cc-flow/', { title: 'Renamed' });
      assert.equal(flow.status, 200);
      assert.equal((await first.get()).body.flow_info.title, 'Renamed');

      const deny = await createStage(srv, '/stages/deny/', { name: 'cc-deny', deny_message: 'Closed for maintenance' });
      const binding = await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: deny, order: 0 });
      assert.equal(binding.status, 201);
      const second = new FlowClient(srv, 'cc-flow');
      const denied = (await second.get()).body;
      assert.equal(denied.component, 'ak-stage-access-denied');
      assert.equal(denied.error_message, 'Closed for maintenance');
      assert.equal((await call(srv, 'DELETE', `/flows/bindings/${binding.body.pk}/`)).status, 204);
      assert.equal((await new FlowClient(srv, 'cc-flow').get()).body.component, 'ak-stage-identification');
    });

    it('a stage changed by another connection to the database applies to the next request', async () => {
      const browser = new FlowClient(srv, 'cc-flow');
      assert.deepEqual((await browser.get()).body.user_fields, ['username']);
      if (dialect === 'sqlite') {
        const other = new SQLite(srv.config.sqlitePath);
        other.prepare(`update stage_identification set user_fields = '["upn"]' where stage_uuid = ?`).run(ident);
        other.close();
      } else {
        const other = new pg.Client({ connectionString: srv.config.databaseUrl });
        await other.connect();
        try {
          await other.query(`update stage_identification set user_fields = '["upn"]' where stage_uuid = $1`, [ident]);
        } finally {
          await other.end();
        }
      }
      // another connection's commit is noticed within a millisecond
      await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual((await browser.get()).body.user_fields, ['upn']);
    });
  });
}
