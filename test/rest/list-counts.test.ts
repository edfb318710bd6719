/**
 * A stage list's `pagination.count` is always the current one: after creates, updates, deletes (also the FK
 * `set null` a flow deletion causes), after a rejected write, and after another database connection committed.
 * (SQLite keeps stage-list counts until the next admin write — src/db/admin-cache.ts; PostgreSQL counts every page.)
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

for (const dialect of dialects()) {
  describe(`stage list counts follow every write (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    const count = async (query: string) => {
      const r = await call(srv, 'GET', `/stages/identification/?search=cnt-&${query}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.pagination.count as number;
    };
    const create = async (name: string, extra: Record<string, unknown> = {}) => {
      const r = await call(srv, 'POST', '/stages/identification/', { name, user_fields: ['username'], ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };

    it('creates, updates and deletes through the API change the count on the next page', async () => {
      const a = await create('cnt-a', { case_insensitive_matching: true });
      await create('cnt-b', { case_insensitive_matching: true });
      assert.equal(await count('case_insensitive_matching=true'), 2);
      assert.equal(await count('case_insensitive_matching=true'), 2, 'asked again, unchanged');
      await create('cnt-c', { case_insensitive_matching: true });
      assert.equal(await count('case_insensitive_matching=true'), 3);
      const page = await call(srv, 'GET', '/stages/identification/?search=cnt-&ordering=-name&page_size=2&page=1');
      assert.deepEqual(
        page.body.results.map((r: { name: string }) => r.name),
        ['cnt-c', 'cnt-b'],
        'the new stage takes its place in the order',
      );
      assert.ok(
        page.body.results.every((r: Record<string, unknown>) => !('__list_key' in r)),
        'no internal key in the results',
      );
      assert.equal(page.body.pagination.next, 2);
      const patched = await call(srv, 'PATCH', `/stages/identification/${a}/`, { case_insensitive_matching: false });
      assert.equal(patched.status, 200);
      assert.equal(await count('case_insensitive_matching=true'), 2);
      assert.equal(await count('case_insensitive_matching=false'), 1);
      assert.equal((await call(srv, 'DELETE', `/stages/identification/${a}/`)).status, 204);
      assert.equal(await count('case_insensitive_matching=false'), 0);
      assert.equal(await count(''), 2);
    });

    it('a rejected write leaves the count as it was', async () => {
      const before = await count('');
      const bad = await call(srv, 'POST', '/stages/identification/', { name: 'cnt-bad', user_fields: ['no-such-field'] });
      assert.equal(bad.status, 400);
      assert.equal(await count(''), before);
    });

    it("deleting a flow (which sets the stages' enrollment_flow to null) changes the filtered count", async () => {
      const flow = await call(srv, 'POST', '/flows/instances/', {
        name: 'cnt',
        slug: 'cnt-enroll',
        title: 'cnt',
        designation: 'enrollment',
      });
      assert.equal(flow.status, 201);
      await create('cnt-enroll', { enrollment_flow: flow.body.pk });
      assert.equal(await count(`enrollment_flow=${flow.body.pk}`), 1);
      assert.equal((await call(srv, 'DELETE', `/flows/instances/cnt-enroll/`)).status, 204);
      const r = await call(srv, 'GET', `/stages/identification/?search=cnt-enroll`);
      assert.equal(r.body.results[0].enrollment_flow, null);
      const filtered = await call(srv, 'GET', `/stages/identification/?enrollment_flow=${flow.body.pk}`);
      // the flow is gone: django-filter refuses the pk, or (if accepted) nothing matches
      assert.ok(filtered.status === 400 || filtered.body.pagination.count === 0, JSON.stringify(filtered.body));
    });

    it('a stage written by another connection to the database is counted', async () => {
      const before = await count('');
      const id = randomUUID();
      if (dialect === 'sqlite') {
        const other = new SQLite(srv.config.sqlitePath);
        other.prepare(`insert into stages (stage_uuid, name, kind) values (?, 'cnt-outside', 'identificationstage')`).run(id);
        other
          .prepare(
            `insert into stage_identification (stage_uuid, user_fields, case_insensitive_matching, show_matched_user, sources, show_source_labels, pretend_user_exists, enable_remember_me)
             values (?, '["username"]', 1, 1, '[]', 0, 1, 0)`,
          )
          .run(id);
        other.close();
      } else {
        const other = new pg.Client({ connectionString: srv.config.databaseUrl });
        await other.connect();
        try {
          await other.query(`insert into stages (stage_uuid, name, kind) values ($1, 'cnt-outside', 'identificationstage')`, [id]);
          await other.query(
            `insert into stage_identification (stage_uuid, user_fields, case_insensitive_matching, show_matched_user, sources, show_source_labels, pretend_user_exists, enable_remember_me)
             values ($1, '["username"]', 1, 1, '[]', 0, 1, 0)`,
            [id],
          );
        } finally {
          await other.end();
        }
      }
      assert.equal(await count(''), before + 1);
    });
  });
}
