/**
 * Two Keystage processes on one PostgreSQL database: a login started on one finishes on the other, and the
 * session then works on both. Only with KEYSTAGE_TEST_DATABASE_URL (SQLite is one process by design), so the suite
 * is not registered otherwise.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, ADMIN_TOKEN, ADMIN_PASSWORD } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { describePostgres } from '../helpers/postgres.js';
import { type Node, startNode } from '../helpers/process.js';

describePostgres(
  'two Keystage processes on one PostgreSQL database',
  'two processes share one PostgreSQL database (SQLite is one process by design)',
  () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let a: Node;
    let b: Node;
    before(async () => {
      db = await freshDatabase('postgres');
      // both start at once: migrations and first-start seeding must not collide
      // (the shared start: ready within 60 s on a loaded machine, another port if a parallel file took this one)
      const env = { KEYSTAGE_DATABASE_URL: db.overrides.databaseUrl!, KEYSTAGE_SECRET_KEY: 'two-nodes-shared-secret-' + 'z'.repeat(24) };
      [a, b] = await Promise.all([startNode(env), startNode(env)]);
    });
    after(async () => {
      for (const n of [a, b]) n?.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      await db?.drop();
    });

    it('a login started on node A finishes on node B; the session is valid on both', async () => {
      const flow = '/api/v3/flows/executor/default-authentication-flow/?query=';
      const jar = new CookieJar();
      const ident = await jar.json(`${a.url}${flow}`, 'GET');
      assert.equal(ident.body.component, 'ak-stage-identification');
      const pw = await jar.json(`${b.url}${flow}`, 'POST', { component: 'ak-stage-identification', uid_field: 'akadmin' });
      assert.equal(pw.body.component, 'ak-stage-password', 'node B continues the plan node A made');
      const done = await jar.json(`${a.url}${flow}`, 'POST', { component: 'ak-stage-password', password: ADMIN_PASSWORD });
      assert.equal(done.body.component, 'xak-flow-redirect');
      for (const node of [a, b]) {
        const me = await jar.json(`${node.url}/api/v3/core/users/me/`);
        assert.equal(me.status, 200);
        assert.equal(me.body.user.username, 'akadmin');
      }
      // both nodes created the default flows exactly once
      const flows = await fetch(`${b.url}/api/v3/flows/instances/?slug=default-authentication-flow`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      assert.equal(((await flows.json()) as { pagination: { count: number } }).pagination.count, 1);
    });
  },
);
