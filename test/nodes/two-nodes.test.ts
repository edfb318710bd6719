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

    it("a role given on one node opens the API on the other at once; a rule made on one acts on the other's events", async () => {
      const api = async (node: Node, method: string, path: string, body?: unknown, token = ADMIN_TOKEN) => {
        const r = await fetch(`${node.url}/api/v3${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await r.text();
        return { status: r.status, body: text ? JSON.parse(text) : undefined };
      };
      const grace = (await api(a, 'POST', '/core/users/', { username: 'n2-grace', name: 'Grace' })).body.pk;
      assert.equal(
        (await api(a, 'POST', '/core/tokens/', { identifier: 'n2-grace-key', intent: 'api', user: grace, expiring: false })).status,
        201,
      );
      const key = 'n2-grace-key-0123456789abcdefghijklmnopqrstuv';
      assert.equal((await api(a, 'POST', '/core/tokens/n2-grace-key/set_key/', { key })).status, 204);
      const role = (await api(a, 'POST', '/rbac/roles/', { name: 'n2-viewers' })).body.pk;
      await api(a, 'POST', `/rbac/roles/${role}/add_user/`, { pk: grace });
      assert.equal((await api(b, 'GET', '/flows/instances/', undefined, key)).status, 403);
      assert.equal(
        (await api(a, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, { permissions: ['authentik_flows.view_flow'] }))
          .status,
        200,
      );
      assert.equal((await api(b, 'GET', '/flows/instances/', undefined, key)).status, 200, 'node B sees the permission at once');
      await api(b, 'PATCH', `/rbac/permissions/assigned_by_roles/${role}/unassign/`, { permissions: ['authentik_flows.view_flow'] });
      assert.equal((await api(a, 'GET', '/flows/instances/', undefined, key)).status, 403, 'and node A its removal');

      // node B records events (and keeps "no rules") before node A makes one
      await api(b, 'POST', '/core/groups/', { name: 'n2-before' });
      const local = (await api(a, 'POST', '/events/transports/', { name: 'n2-local' })).body.pk;
      const matcher = (
        await api(a, 'POST', '/policies/event_matcher/', { name: 'n2-groups', action: 'model_created', model: 'authentik_core.group' })
      ).body.pk;
      const rule = (await api(a, 'POST', '/events/rules/', { name: 'n2-rule', transports: [local], destination_event_user: true })).body.pk;
      assert.equal((await api(a, 'POST', '/policies/bindings/', { target: rule, policy: matcher, order: 0 })).status, 201);
      await api(b, 'POST', '/core/groups/', { name: 'n2-after' });
      const end = Date.now() + 10_000;
      let found: any;
      while (!found && Date.now() < end) {
        const inbox = await api(a, 'GET', '/events/notifications/');
        found = inbox.body.results.find((n: any) => n.event?.context?.model?.name === 'n2-after');
        if (!found) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(found, 'node B acted on the rule node A made');
      const inbox = await api(a, 'GET', '/events/notifications/');
      assert.equal(inbox.body.results.filter((n: any) => n.event?.context?.model?.name === 'n2-before').length, 0);
    });

    it('a system setting changed on one node applies on the other at once', async () => {
      const api = async (node: Node, method: string, path: string, body?: unknown) => {
        const r = await fetch(`${node.url}/api/v3${path}`, {
          method,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: r.status, body: await r.json() };
      };
      for (let i = 0; i < 3; i++) await api(a, 'POST', '/core/groups/', { name: `n2-page-${i}` });
      const before = (await api(b, 'GET', '/core/groups/')).body.results.length;
      assert.ok(before >= 3);
      assert.equal((await api(a, 'PATCH', '/admin/settings/', { pagination_default_page_size: 2 })).status, 200);
      assert.equal((await api(b, 'GET', '/core/groups/')).body.results.length, 2, 'node B pages by the new default at once');
      assert.equal((await api(b, 'GET', '/admin/settings/')).body.pagination_default_page_size, 2);
    });
  },
);
