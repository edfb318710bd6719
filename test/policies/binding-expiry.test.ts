/**
 * Expiring policy bindings (authentik's PolicyBinding as an ExpiringModel, what access requests grant): a user bound to
 * an application until a time has access until then and not after — also when the admin cache still holds the
 * binding —; an application whose bindings have all expired answers as one without bindings
 * (`core_default_app_access`); /policies/bindings/ shows `expiring`/`expires` as stored and never writes them; the
 * hourly housekeeping deletes the expired rows.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { invalidateAdminCache } from '../../src/db/admin-cache.js';
import { authHousekeeping } from '../../src/auth/housekeeping.js';
import { purgeExpiredBindings } from '../../src/policies/bindings/expiry.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const dialect of dialects()) {
  describe(`expiring policy bindings (${dialect})`, () => {
    let srv: TestServer;
    const db = () => srv.app.store.db;

    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    const newApp = async (slug: string): Promise<string> => {
      const r = await call(srv, 'POST', '/core/applications/', { name: slug, slug });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk;
    };
    /** a user bound to a target as an access request binds them (the API cannot set expiring/expires) */
    const grant = async (target: string, user: number, expires: Date | null, expiring = true): Promise<string> => {
      const uuid = randomUUID();
      await db()
        .insertInto('policy_bindings')
        .values({
          policy_binding_uuid: uuid,
          target,
          policy: null,
          group: null,
          user,
          negate: 0,
          enabled: 1,
          order: 1000,
          timeout: 30,
          failure_result: 0,
          expiring: expiring ? 1 : 0,
          expires: expires?.toISOString() ?? null,
        })
        .execute();
      // (a writer's request makes this node forget what it kept; on PostgreSQL the epoch moves as well)
      invalidateAdminCache(db());
      return uuid;
    };
    const setExpires = async (uuid: string, expires: Date) => {
      await db().updateTable('policy_bindings').set({ expires: expires.toISOString() }).where('policy_binding_uuid', '=', uuid).execute();
      invalidateAdminCache(db());
    };
    const access = async (slug: string, user: number) => {
      const r = await call(srv, 'GET', `/core/applications/${slug}/check_access/?for_user=${user}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assertMatches('PolicyTestResult', r.body);
      return r.body.passing as boolean;
    };
    const listed = async (slug: string, user: number) => {
      const r = await call(srv, 'GET', `/core/applications/?for_user=${user}&page_size=100`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.results.some((a: { slug: string }) => a.slug === slug);
    };
    const bindingRow = (uuid: string) =>
      db().selectFrom('policy_bindings').selectAll().where('policy_binding_uuid', '=', uuid).executeTakeFirst();

    it('a grant until a time opens the application until then; revoked (expires in the past) it is closed', async () => {
      const app = await newApp('granted-app');
      const alice = await createUser(srv, 'exp-alice', 'exp-alice-password');
      const bob = await createUser(srv, 'exp-bob', 'exp-bob-password');
      // bob's permanent binding keeps the application closed to everyone else
      await grant(app, bob, null, false);
      assert.equal(await access('granted-app', alice), false);
      assert.equal(await listed('granted-app', alice), false);

      const binding = await grant(app, alice, new Date(Date.now() + 3_600_000));
      assert.equal(await access('granted-app', alice), true);
      assert.equal(await listed('granted-app', alice), true);
      assert.equal(await access('granted-app', bob), true);

      // revoked as an access request does it: expires = now
      await setExpires(binding, new Date());
      assert.equal(await access('granted-app', alice), false);
      assert.equal(await listed('granted-app', alice), false);
      assert.equal(await access('granted-app', bob), true, 'the permanent binding still applies');
      assert.ok(await bindingRow(binding), 'the row stays until the sweep');
    });

    it('a binding stops applying at its expiry even though the kept bindings were never invalidated', async () => {
      const app = await newApp('timed-app');
      const carol = await createUser(srv, 'exp-carol', 'exp-carol-password');
      const dave = await createUser(srv, 'exp-dave', 'exp-dave-password');
      await grant(app, dave, null, false);
      await grant(app, carol, new Date(Date.now() + 1500));
      // this read keeps every binding in the admin cache; nothing writes a configuration table until the next check
      assert.equal(await access('timed-app', carol), true);
      assert.equal(await srv.app.services.policies.hasBindings(app), true);
      await sleep(1700);
      assert.equal(await access('timed-app', carol), false);
      assert.equal(await listed('timed-app', carol), false);
      assert.equal(await access('timed-app', dave), true);
    });

    it('an application whose bindings have all expired answers as one without bindings (core_default_app_access)', async () => {
      const app = await newApp('lapsed-app');
      const erin = await createUser(srv, 'exp-erin', 'exp-erin-password');
      const frank = await createUser(srv, 'exp-frank', 'exp-frank-password');
      const binding = await grant(app, erin, new Date(Date.now() + 3_600_000));
      assert.equal(await access('lapsed-app', erin), true);
      assert.equal(await access('lapsed-app', frank), false, 'frank is not bound');
      await setExpires(binding, new Date(Date.now() - 1000));
      // no binding applies: the flag's default (open) decides, for everyone, as after the binding's deletion
      assert.equal(await srv.app.services.policies.hasBindings(app), false);
      assert.equal(await access('lapsed-app', frank), true);
      assert.equal(await access('lapsed-app', erin), true);
      const off = await call(srv, 'PATCH', '/admin/settings/', { flags: { core_default_app_access: false } });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      try {
        assert.equal(await access('lapsed-app', erin), false);
        assert.equal(await listed('lapsed-app', erin), false);
      } finally {
        assert.equal((await call(srv, 'PATCH', '/admin/settings/', { flags: {} })).status, 200);
      }
      // a flow's expired binding no longer applies either (the planner asks the same engine)
      const flow = await call(srv, 'POST', '/flows/instances/', {
        name: 'exp-flow',
        slug: 'exp-flow',
        title: 'x',
        designation: 'authentication',
      });
      assert.equal(flow.status, 201, JSON.stringify(flow.body));
      const flowPbm = flow.body.policybindingmodel_ptr_id as string;
      const flowBinding = await grant(flowPbm, erin, new Date(Date.now() + 3_600_000));
      assert.equal(await srv.app.services.policies.hasBindings(flowPbm), true);
      await setExpires(flowBinding, new Date(Date.now() - 1));
      assert.equal(await srv.app.services.policies.hasBindings(flowPbm), false);
    });

    it('/policies/bindings/ shows expiring and expires as stored; a client cannot write them', async () => {
      const app = await newApp('shown-app');
      const gina = await createUser(srv, 'exp-gina', 'exp-gina-password');
      const until = new Date(Date.UTC(2031, 4, 6, 7, 8, 9, 123));
      const uuid = await grant(app, gina, until);
      const one = await call(srv, 'GET', `/policies/bindings/${uuid}/`);
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assertMatches('PolicyBinding', one.body);
      assert.equal(one.body.expiring, true);
      assert.equal(one.body.expires, '2031-05-06T07:08:09.123000Z');
      assert.equal(one.body.target, app);
      assert.equal(one.body.user, gina);
      assert.equal(one.body.order, 1000);
      const list = await call(srv, 'GET', `/policies/bindings/?target=${app}`);
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assertMatches('PaginatedPolicyBindingList', list.body);
      assert.deepEqual(
        list.body.results.map((b: { pk: string; expiring: boolean; expires: string | null }) => [b.pk, b.expiring, b.expires]),
        [[uuid, true, '2031-05-06T07:08:09.123000Z']],
      );

      // read-only: sent values are ignored on update and on create
      const patched = await call(srv, 'PATCH', `/policies/bindings/${uuid}/`, { expiring: false, expires: null, order: 1001 });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual([patched.body.expiring, patched.body.expires, patched.body.order], [true, '2031-05-06T07:08:09.123000Z', 1001]);
      const stored = await bindingRow(uuid);
      assert.deepEqual([Number(stored?.expiring), stored?.expires, Number(stored?.order)], [1, until.toISOString(), 1001]);

      const created = await call(srv, 'POST', '/policies/bindings/', {
        target: app,
        user: gina,
        order: 5,
        expiring: true,
        expires: '2030-01-01T00:00:00Z',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual([created.body.expiring, created.body.expires], [false, null]);
      const row = await bindingRow(created.body.pk);
      assert.deepEqual([Number(row?.expiring), row?.expires], [0, null]);
    });

    it('the housekeeping deletes expired bindings only; with none expired it writes nothing', async () => {
      const app = await newApp('swept-app');
      const hank = await createUser(srv, 'exp-hank', 'exp-hank-password');
      const expired = await grant(app, hank, new Date(Date.now() - 60_000));
      const future = await grant(app, hank, new Date(Date.now() + 3_600_000));
      const permanent = await grant(app, hank, null, false);
      // not expiring: its expires means nothing
      const notExpiring = await grant(app, hank, new Date(Date.now() - 60_000), false);
      const remaining = async () =>
        (await db().selectFrom('policy_bindings').select('policy_binding_uuid').where('target', '=', app).execute())
          .map((r) => r.policy_binding_uuid)
          .sort();

      await authHousekeeping(db());
      assert.deepEqual(await remaining(), [future, permanent, notExpiring].sort());
      assert.equal(await bindingRow(expired), undefined);
      // the earlier tests' expired bindings went too
      const left = await db().selectFrom('policy_bindings').select('policy_binding_uuid').where('expiring', '=', 1).execute();
      for (const r of left) assert.ok(new Date(String((await bindingRow(r.policy_binding_uuid))?.expires)).getTime() > Date.now());

      // nothing expired: no statement writes (PostgreSQL: the configuration epoch stays)
      const epoch = async () =>
        dialect === 'postgres'
          ? Number((await sql<{ epoch: number }>`select epoch from keystage_config_epoch where id = 1`.execute(db())).rows[0]?.epoch)
          : 0;
      const before = await epoch();
      assert.equal(await purgeExpiredBindings(db()), 0);
      assert.equal(await epoch(), before);
      // a later sweep takes the next one once its time has passed
      assert.equal(await purgeExpiredBindings(db(), new Date(Date.now() + 7_200_000)), 1);
      assert.deepEqual(await remaining(), [permanent, notExpiring].sort());
      assert.equal(await access('swept-app', hank), true, 'the permanent binding still lets hank in');
    });
  });
}
