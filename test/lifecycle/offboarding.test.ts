/**
 * User offboarding (authentik 2026.8's `/lifecycle/user_offboarding/`, ported from its
 * enterprise/lifecycle/offboarding tests): scheduling through the official client with authentik's checks and
 * messages (also two requests racing for one user), cancelling (kept as a record), no edits; execution by
 * authentik's sweeper task at the scheduled time — the user deactivated or deleted, sessions and tokens revoked as
 * asked, one `user_offboarded` event for who scheduled it, a second run doing nothing; a failing execution (the
 * database refusing the user's update) rolled back, counted, and `failed` after five attempts — on both databases.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { LifecycleApi } from '@goauthentik/api/dist/apis/LifecycleApi.js';
import { TasksApi } from '@goauthentik/api/dist/apis/TasksApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser, loggedIn } from '../helpers/flows.js';
import { callAs, tokenFor } from '../groups/setup.js';
import { until } from '../helpers/wait.js';
import { executeOffboarding } from '../../src/lifecycle/offboarding/execute.js';

const SWEEP = 'authentik.enterprise.lifecycle.offboarding.tasks.execute_due_offboardings';
const EXECUTE = 'authentik.enterprise.lifecycle.offboarding.tasks.execute_offboarding';
const PATH = '/lifecycle/user_offboarding/';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inSeconds = (s: number) => new Date(Date.now() + s * 1000);

for (const dialect of dialects()) {
  describe(`user offboarding (${dialect})`, () => {
    let srv: TestServer;
    let lifecycle: LifecycleApi;
    let tasks: TasksApi;
    let adminPk: number;
    const db = () => srv.app.store.db;

    const count = async (table: 'sessions' | 'tokens', pk: number) =>
      (await db().selectFrom(table).select('user_id').where('user_id', '=', pk).execute()).length;
    const offboardedEvents = async (userPk: number) =>
      (await db().selectFrom('events').select(['user', 'context']).where('action', '=', 'user_offboarded').execute())
        .map((e) => ({ user: JSON.parse(e.user), context: JSON.parse(e.context) }))
        .filter((e) => e.context.user_pk === userPk);
    const row = (id: string) => db().selectFrom('user_offboardings').selectAll().where('id', '=', id).executeTakeFirst();

    /** a user with two browser sessions and two tokens */
    async function victim(username: string) {
      const pk = await createUser(srv, username, `${username}-pass-1`);
      const browsers = [await loggedIn(srv, username, `${username}-pass-1`), await loggedIn(srv, username, `${username}-pass-1`)];
      for (const intent of ['api', 'app_password'])
        assert.equal((await call(srv, 'POST', '/core/tokens/', { identifier: `${username}-${intent}`, intent, user: pk })).status, 201);
      assert.equal(await count('sessions', pk), 2);
      assert.equal(await count('tokens', pk), 2);
      return { pk, browsers };
    }

    /** the sweeper run once (as its schedule would), and the execution tasks it queued finished */
    async function sweep(id: string, finished = 1) {
      const schedule = (await tasks.tasksSchedulesList({ actorName: SWEEP })).results[0]!;
      await tasks.tasksSchedulesSendCreate({ id: schedule.id });
      return until(`the execution of ${id}`, async () => {
        const runs = (await tasks.tasksTasksList({ search: `${EXECUTE}:${id}`, pageSize: 100 })).results;
        const ended = runs.filter((t) => t.state === 'done' || t.state === 'rejected');
        return ended.length >= finished ? ended : undefined;
      });
    }

    before(async () => {
      srv = await startServer(dialect);
      const headers = { authorization: `Bearer ${srv.token}` };
      lifecycle = new LifecycleApi(new Configuration({ basePath: srv.api, headers }));
      tasks = new TasksApi(new Configuration({ basePath: srv.api, headers }));
      adminPk = (await call(srv, 'GET', '/core/users/me/')).body.user.pk;
      // the sweep runs when a test sends it, never on its own five-minute crontab in the middle of one (which made a
      // failed execution's attempts 2 where a test counts 1)
      const schedule = (await tasks.tasksSchedulesList({ actorName: SWEEP })).results[0]!;
      assert.equal((await call(srv, 'PATCH', `/tasks/schedules/${schedule.id}/`, { paused: true })).status, 200);
    });
    after(async () => srv?.close());

    it('schedules through the official client, lists, filters and retrieves; records cannot be edited', async () => {
      const pk = await createUser(srv, 'leaver-a', 'leaver-a-pass-1');
      const at = inSeconds(3600);
      const created = await lifecycle.lifecycleUserOffboardingCreate({
        userOffboardingRequest: { user: pk, scheduledAt: at, action: 'delete' },
      });
      assert.equal(created.status, 'pending');
      assert.equal(created.user, pk);
      assert.equal(created.userObj.username, 'leaver-a');
      assert.equal(created.createdByObj.pk, adminPk);
      assert.equal(created.action, 'delete');
      assert.equal(created.revokeSessions, true);
      assert.equal(created.revokeTokens, true);
      assert.equal(created.executedAt, null);
      assert.equal(created.scheduledAt.getTime(), at.getTime());
      assert.equal((await lifecycle.lifecycleUserOffboardingRetrieve({ id: created.id })).id, created.id);

      const other = await createUser(srv, 'leaver-b', 'leaver-b-pass-1');
      await lifecycle.lifecycleUserOffboardingCreate({
        userOffboardingRequest: { user: other, scheduledAt: inSeconds(60), revokeTokens: false },
      });
      const ids = async (q: Parameters<LifecycleApi['lifecycleUserOffboardingList']>[0]) =>
        (await lifecycle.lifecycleUserOffboardingList(q)).results.map((o) => o.userObj.username);
      // by scheduled time by default
      assert.deepEqual((await ids({})).slice(0, 2), ['leaver-b', 'leaver-a']);
      assert.deepEqual(await ids({ action: 'delete' }), ['leaver-a']);
      assert.deepEqual(await ids({ search: 'leaver-b' }), ['leaver-b']);
      const uuid = (await call(srv, 'GET', `/core/users/${pk}/`)).body.uuid;
      assert.deepEqual(await ids({ userUuid: uuid }), ['leaver-a']);
      assert.deepEqual(await ids({ status: 'canceled' }), []);
      assert.equal((await call(srv, 'GET', `${PATH}?status=nope`)).status, 400);

      // records are immutable
      for (const method of ['PUT', 'PATCH'])
        assert.equal((await call(srv, method, `${PATH}${created.id}/`, { action: 'deactivate' })).status, 405);
      assert.equal((await row(created.id))?.action, 'delete');

      // without the model's permissions: nothing
      const plainPk = await createUser(srv, 'plain-offboarder', 'plain-offboarder-1');
      const plain = await tokenFor(srv, plainPk, 'plain-offboarder-token-'.padEnd(40, 'x'));
      assert.equal((await callAs(srv, plain, 'GET', PATH)).status, 403);
      assert.equal((await callAs(srv, plain, 'POST', PATH, { user: other, scheduled_at: inSeconds(60) })).status, 403);
    });

    it("refuses authentik's cases with its messages, and a second pending one also when two requests race", async () => {
      const pk = await createUser(srv, 'leaver-c', 'leaver-c-pass-1');
      const post = (body: Record<string, unknown>) => call(srv, 'POST', PATH, body);
      const past = await post({ user: pk, scheduled_at: inSeconds(-60).toISOString() });
      assert.equal(past.status, 400);
      assert.deepEqual(past.body, { scheduled_at: ['Offboarding must be scheduled in the future.'] });
      const self = await post({ user: adminPk, scheduled_at: inSeconds(60).toISOString() });
      assert.deepEqual([self.status, self.body], [400, { user: ['You cannot offboard your own account.'] }]);
      const missing = await post({ user: 999_999, scheduled_at: inSeconds(60).toISOString() });
      assert.equal(missing.status, 400);
      assert.ok(missing.body.user, JSON.stringify(missing.body));
      const noTime = await post({ user: pk });
      assert.equal(noTime.status, 400);
      assert.ok(noTime.body.scheduled_at, JSON.stringify(noTime.body));
      const internal = await createUser(srv, 'internal-service', 'internal-service-1');
      // (the API creates no internal service account: authentik's outposts have them)
      await db().updateTable('users').set({ type: 'internal_service_account' }).where('id', '=', internal).execute();
      const service = await post({ user: internal, scheduled_at: inSeconds(60).toISOString() });
      assert.deepEqual([service.status, service.body], [400, { user: ['Internal service accounts cannot be offboarded.'] }]);

      // two at once for one user: one is scheduled, the other refused (by the check or by the unique index)
      const racing = await Promise.all(
        Array.from({ length: 4 }, (_, i) => post({ user: pk, scheduled_at: inSeconds(600 + i).toISOString() })),
      );
      assert.deepEqual(racing.map((r) => r.status).sort(), [201, 400, 400, 400]);
      for (const r of racing.filter((x) => x.status === 400))
        assert.deepEqual(r.body, { user: ['This user already has a pending offboarding scheduled.'] });
      const pending = await db()
        .selectFrom('user_offboardings')
        .select('id')
        .where('user_id', '=', pk)
        .where('status', '=', 'pending')
        .execute();
      assert.equal(pending.length, 1);
      const again = await post({ user: pk, scheduled_at: inSeconds(60).toISOString() });
      assert.deepEqual([again.status, again.body], [400, { user: ['This user already has a pending offboarding scheduled.'] }]);
    });

    it('cancelling keeps the row as canceled, frees the user for another, and is refused for one’s own or once ended', async () => {
      const pk = await createUser(srv, 'leaver-d', 'leaver-d-pass-1');
      const o = await lifecycle.lifecycleUserOffboardingCreate({ userOffboardingRequest: { user: pk, scheduledAt: inSeconds(3600) } });
      await lifecycle.lifecycleUserOffboardingDestroy({ id: o.id });
      const kept = await lifecycle.lifecycleUserOffboardingRetrieve({ id: o.id });
      assert.equal(kept.status, 'canceled');
      assert.ok(kept.executedAt instanceof Date);
      const audit = await db().selectFrom('events').select('context').where('action', '=', 'model_updated').execute();
      assert.ok(
        audit.some((e) => JSON.parse(e.context).model?.pk === o.id),
        'the cancellation is recorded',
      );
      const twice = await call(srv, 'DELETE', `${PATH}${o.id}/`);
      assert.deepEqual([twice.status, twice.body], [400, ['Only a pending offboarding can be cancelled.']]);
      // the user may be scheduled again
      const next = await lifecycle.lifecycleUserOffboardingCreate({ userOffboardingRequest: { user: pk, scheduledAt: inSeconds(3600) } });
      assert.equal(next.status, 'pending');

      // someone allowed to cancel offboardings may not cancel their own
      const role = await call(srv, 'POST', '/rbac/roles/', { name: 'offboarders' });
      assert.equal(role.status, 201, JSON.stringify(role.body));
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role.body.pk}/add_user/`, { pk })).status, 204);
      const assign = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role.body.pk}/assign/`, {
        permissions: ['authentik_lifecycle.view_useroffboarding', 'authentik_lifecycle.delete_useroffboarding'],
      });
      assert.equal(assign.status, 200, JSON.stringify(assign.body));
      const token = await tokenFor(srv, pk, 'leaver-d-token-'.padEnd(40, 'y'));
      const own = await callAs(srv, token, 'DELETE', `${PATH}${next.id}/`);
      assert.deepEqual([own.status, own.body], [403, { detail: 'You cannot cancel your own offboarding.' }]);
      assert.equal((await row(next.id))?.status, 'pending');
    });

    it('deactivates at the scheduled time: sessions and tokens revoked, one event for who scheduled it, a second run does nothing', async () => {
      const { pk, browsers } = await victim('leaver-e');
      const o = await lifecycle.lifecycleUserOffboardingCreate({ userOffboardingRequest: { user: pk, scheduledAt: inSeconds(1.5) } });
      // not yet due: the sweep leaves it
      const schedule = (await tasks.tasksSchedulesList({ actorName: SWEEP })).results[0]!;
      assert.equal(schedule.description, 'Execute due user offboardings.');
      await tasks.tasksSchedulesSendCreate({ id: schedule.id });
      await sleep(300);
      assert.equal((await row(o.id))?.status, 'pending');
      assert.equal(
        Number((await db().selectFrom('users').select('is_active').where('id', '=', pk).executeTakeFirstOrThrow()).is_active),
        1,
      );
      for (const b of browsers) assert.equal((await b.me()).status, 200);

      await sleep(Math.max(0, o.scheduledAt.getTime() - Date.now() + 50));
      const [run] = await sweep(o.id);
      assert.equal(run!.state, 'done', JSON.stringify(run!.logs));
      const done = await lifecycle.lifecycleUserOffboardingRetrieve({ id: o.id });
      assert.equal(done.status, 'completed');
      assert.ok(done.executedAt instanceof Date);
      assert.equal(
        Number((await db().selectFrom('users').select('is_active').where('id', '=', pk).executeTakeFirstOrThrow()).is_active),
        0,
      );
      for (const b of browsers) assert.equal((await b.me()).status, 403);
      assert.equal(await count('sessions', pk), 0);
      assert.equal(await count('tokens', pk), 0);
      const events = await offboardedEvents(pk);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.user.pk, adminPk, 'the event names who scheduled it');
      assert.deepEqual(
        {
          message: events[0]!.context.message,
          action: events[0]!.context.offboarding_action,
          sessions: events[0]!.context.revoke_sessions,
          tokens: events[0]!.context.revoke_tokens,
        },
        // (revoke_tokens names a token: cleansed, as every event context is — authentik's cleanse_dict)
        { message: 'User leaver-e was offboarded (deactivate)', action: 'deactivate', sessions: true, tokens: '********************' },
      );

      // a completed one is not cancelled, and running it again does nothing
      assert.equal((await call(srv, 'DELETE', `${PATH}${o.id}/`)).status, 400);
      await db().updateTable('users').set({ is_active: 1 }).where('id', '=', pk).execute();
      await tasks.tasksTasksRetryCreate({ messageId: run!.messageId! });
      const again = await until('the run again', async () => {
        const t = await tasks.tasksTasksRetrieve({ messageId: run!.messageId! });
        return t.retries === 1 && t.state === 'done' ? t : undefined;
      });
      assert.ok(
        again.logs.some((l) => l.event === 'Offboarding not pending and due: nothing done'),
        JSON.stringify(again.logs),
      );
      assert.equal((await offboardedEvents(pk)).length, 1);
      assert.equal(
        Number((await db().selectFrom('users').select('is_active').where('id', '=', pk).executeTakeFirstOrThrow()).is_active),
        1,
      );
    });

    it('revokes only what was asked: sessions kept without revoke_sessions, tokens kept without revoke_tokens', async () => {
      const kept = await victim('leaver-f');
      const a = await lifecycle.lifecycleUserOffboardingCreate({
        userOffboardingRequest: { user: kept.pk, scheduledAt: inSeconds(1), revokeSessions: false, revokeTokens: false },
      });
      const partly = await victim('leaver-g');
      const b = await lifecycle.lifecycleUserOffboardingCreate({
        userOffboardingRequest: { user: partly.pk, scheduledAt: inSeconds(1), revokeSessions: true, revokeTokens: false },
      });
      await sleep(Math.max(a.scheduledAt.getTime(), b.scheduledAt.getTime()) - Date.now() + 50);
      await sweep(a.id);
      await sweep(b.id);
      assert.equal((await row(a.id))?.status, 'completed');
      assert.equal((await row(b.id))?.status, 'completed');
      assert.equal(await count('sessions', kept.pk), 2);
      assert.equal(await count('tokens', kept.pk), 2);
      assert.equal(await count('sessions', partly.pk), 0);
      assert.equal(await count('tokens', partly.pk), 2);
      for (const pk of [kept.pk, partly.pk])
        assert.equal(
          Number((await db().selectFrom('users').select('is_active').where('id', '=', pk).executeTakeFirstOrThrow()).is_active),
          0,
        );
    });

    it('deletes the user (the offboarding goes with them; the event stays)', async () => {
      const { pk } = await victim('leaver-h');
      const o = await lifecycle.lifecycleUserOffboardingCreate({
        userOffboardingRequest: { user: pk, scheduledAt: inSeconds(1), action: 'delete' },
      });
      await sleep(o.scheduledAt.getTime() - Date.now() + 50);
      const [run] = await sweep(o.id);
      assert.equal(run!.state, 'done', JSON.stringify(run!.logs));
      assert.equal(await db().selectFrom('users').select('id').where('id', '=', pk).executeTakeFirst(), undefined);
      assert.equal(await row(o.id), undefined);
      assert.equal(await count('sessions', pk), 0);
      const events = await offboardedEvents(pk);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.context.message, 'User leaver-h was offboarded (delete)');
    });

    it('run at once by two nodes (PostgreSQL) or twice on one (SQLite): completed once, one event', async () => {
      const { pk } = await victim('leaver-j');
      const o = await lifecycle.lifecycleUserOffboardingCreate({ userOffboardingRequest: { user: pk, scheduledAt: inSeconds(1) } });
      const other = dialect === 'postgres' ? await startServer(dialect, { databaseUrl: srv.config.databaseUrl }) : undefined;
      try {
        await sleep(o.scheduledAt.getTime() - Date.now() + 50);
        const nodes = [srv, other ?? srv, srv, other ?? srv];
        const outcomes = await Promise.all(nodes.map((n) => executeOffboarding(n.app.services, o.id)));
        assert.deepEqual(outcomes.sort(), ['completed', 'skipped', 'skipped', 'skipped']);
        assert.equal((await row(o.id))?.status, 'completed');
        assert.equal((await offboardedEvents(pk)).length, 1);
        assert.equal(await count('sessions', pk), 0);
        assert.equal(await count('tokens', pk), 0);
      } finally {
        await other?.close();
      }
    });

    it('a failure after the access was cut: no longer cancellable, completed by the next run', async () => {
      const { pk, browsers } = await victim('leaver-k');
      const o = await lifecycle.lifecycleUserOffboardingCreate({ userOffboardingRequest: { user: pk, scheduledAt: inSeconds(1) } });
      // the database refuses to complete it (the second transaction)
      if (dialect === 'sqlite')
        await sql
          .raw(
            "create trigger refuse_completion before update of status on user_offboardings when new.status = 'completed' begin select raise(abort, 'refused by the test'); end",
          )
          .execute(db());
      else {
        await sql
          .raw(
            `create function refuse_completion() returns trigger as $$ begin raise exception 'refused by the test'; end $$ language plpgsql`,
          )
          .execute(db());
        await sql
          .raw(
            "create trigger refuse_completion before update of status on user_offboardings for each row when (new.status = 'completed') execute function refuse_completion()",
          )
          .execute(db());
      }
      try {
        await sleep(o.scheduledAt.getTime() - Date.now() + 50);
        const [first] = await sweep(o.id);
        assert.equal(first!.state, 'rejected');
        const r = await row(o.id);
        assert.deepEqual([r?.status, Number(r?.attempts)], ['pending', 1]);
        assert.ok(r?.started_at, 'under way');
        // the cut held: the user cannot log in, their sessions are gone; their tokens are not yet revoked
        assert.equal(
          Number((await db().selectFrom('users').select('is_active').where('id', '=', pk).executeTakeFirstOrThrow()).is_active),
          0,
        );
        for (const b of browsers) assert.equal((await b.me()).status, 403);
        assert.equal(await count('tokens', pk), 2);
        const cancel = await call(srv, 'DELETE', `${PATH}${o.id}/`);
        assert.deepEqual([cancel.status, cancel.body], [400, ['Only a pending offboarding can be cancelled.']]);
      } finally {
        await sql.raw('drop trigger refuse_completion' + (dialect === 'postgres' ? ' on user_offboardings' : '')).execute(db());
        if (dialect === 'postgres') await sql.raw('drop function refuse_completion()').execute(db());
      }
      await sweep(o.id, 2);
      assert.equal((await row(o.id))?.status, 'completed');
      assert.equal(await count('tokens', pk), 0);
      assert.equal((await offboardedEvents(pk)).length, 1);
    });

    it('a failing execution changes nothing, is counted, and is failed after five attempts', async () => {
      const { pk } = await victim('leaver-i');
      const o = await lifecycle.lifecycleUserOffboardingCreate({ userOffboardingRequest: { user: pk, scheduledAt: inSeconds(1) } });
      // the database refuses to change this user (a fault in the database, not in Keystage's code)
      if (dialect === 'sqlite')
        await sql
          .raw(
            `create trigger refuse_leaver before update of is_active on users when new.id = ${pk} begin select raise(abort, 'refused by the test'); end`,
          )
          .execute(db());
      else {
        await sql
          .raw(`create function refuse_leaver() returns trigger as $$ begin raise exception 'refused by the test'; end $$ language plpgsql`)
          .execute(db());
        await sql
          .raw(
            `create trigger refuse_leaver before update of is_active on users for each row when (new.id = ${pk}) execute function refuse_leaver()`,
          )
          .execute(db());
      }
      try {
        await sleep(o.scheduledAt.getTime() - Date.now() + 50);
        const [first] = await sweep(o.id);
        assert.equal(first!.state, 'rejected');
        assert.equal(first!.aggregatedStatus, 'error');
        let r = await row(o.id);
        assert.deepEqual([r?.status, Number(r?.attempts), r?.started_at], ['pending', 1, null], 'rolled back, counted');
        assert.equal(
          Number((await db().selectFrom('users').select('is_active').where('id', '=', pk).executeTakeFirstOrThrow()).is_active),
          1,
        );
        assert.equal(await count('sessions', pk), 2);
        assert.equal(await count('tokens', pk), 2);
        for (let n = 2; n <= 5; n++) await sweep(o.id, n);
        r = await row(o.id);
        assert.deepEqual([r?.status, Number(r?.attempts)], ['failed', 5]);
        assert.ok(r?.executed_at);
        assert.equal(await count('sessions', pk), 2);
        assert.deepEqual(await offboardedEvents(pk), []);
        // a failed one is neither run again nor cancelled
        await sweep(o.id, 5);
        assert.equal(Number((await row(o.id))?.attempts), 5);
        assert.equal((await call(srv, 'DELETE', `${PATH}${o.id}/`)).status, 400);
      } finally {
        await sql.raw('drop trigger refuse_leaver' + (dialect === 'postgres' ? ' on users' : '')).execute(db());
        if (dialect === 'postgres') await sql.raw('drop function refuse_leaver()').execute(db());
      }
    });
  });
}
