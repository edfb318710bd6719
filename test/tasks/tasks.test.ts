/**
 * authentik's tasks: `/tasks/schedules/` (the built-in schedules, crontab and `paused` editable with the next run
 * following, `send/`), `/tasks/tasks/` (a sent schedule's task run with its logs and effect, `retry/`, `status/`),
 * `/tasks/workers/`, permissions; a due schedule queued and run once by two nodes on one database; a paused one not.
 * Driven by the official client where it has the call.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { TasksApi } from '@goauthentik/api/dist/apis/TasksApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { callAs, tokenFor } from '../groups/setup.js';
import { until } from '../helpers/wait.js';

const CLEAN = 'authentik.core.tasks.clean_expired_models';
const BLUEPRINTS = 'authentik.blueprints.v1.tasks.blueprints_discovery';
const WORKERS = 'authentik.tasks.tasks.clean_worker_statuses';
const OFFBOARDINGS = 'authentik.enterprise.lifecycle.offboarding.tasks.execute_due_offboardings';
const REVIEWS = 'authentik.enterprise.lifecycle.review.tasks.apply_lifecycle_rules';
const OIDC_DOCUMENTS = 'authentik.sources.oauth.tasks.update_well_known_jwks';

for (const dialect of dialects()) {
  describe(`tasks and schedules (${dialect})`, () => {
    let srv: TestServer;
    let tasks: TasksApi;
    before(async () => {
      srv = await startServer(dialect, {}, { taskTickMs: 100 });
      tasks = new TasksApi(new Configuration({ basePath: srv.api, headers: { authorization: `Bearer ${srv.token}` } }));
    });
    after(async () => {
      await srv?.close();
    });

    const scheduleOf = async (actor: string) => {
      const list = await tasks.tasksSchedulesList({ actorName: actor });
      assert.equal(list.results.length, 1, actor);
      return list.results[0]!;
    };
    const tasksOf = async (scheduleUid: string) => (await tasks.tasksTasksList({ search: scheduleUid, pageSize: 100 })).results;

    it('lists the built-in schedules with authentik’s actor names, descriptions and a next run by their crontab', async () => {
      const list = await tasks.tasksSchedulesList({});
      assert.deepEqual(
        list.results.map((s) => s.actorName).sort(),
        [CLEAN, BLUEPRINTS, WORKERS, OFFBOARDINGS, REVIEWS, OIDC_DOCUMENTS].sort(),
      );
      for (const s of list.results) {
        assert.equal(s.uid, s.actorName);
        assert.equal(s.identifier, s.actorName);
        assert.equal(s.paused, false);
        assert.equal(s.relObjId, undefined, 'no object (null on the wire)');
        assert.ok(s.description && s.description.length > 5, s.actorName);
        assert.ok(s.nextRun.getTime() > Date.now(), 'the next run is ahead');
        assert.ok(s.nextRun.getTime() <= Date.now() + 86_400_000 + 60_000, 'hourly or daily');
        assert.equal(s.lastTaskStatus, null);
      }
      const clean = await scheduleOf(CLEAN);
      assert.match(clean.crontab, /^\d{1,2} \* \* \* \*$/);
      assert.equal(clean.description, 'Remove expired objects.');
      // ordered by next run
      const runs = list.results.map((s) => s.nextRun.getTime());
      assert.deepEqual(
        runs,
        [...runs].sort((a, b) => a - b),
      );
      assert.equal((await tasks.tasksSchedulesList({ relObjIdIsnull: true })).results.length, 6);
      assert.match((await scheduleOf(OIDC_DOCUMENTS)).crontab, /^\d{1,2} \*\/3 \* \* \*$/);
      // authentik's crontab for the offboarding sweep: every five minutes from a minute below five fixed per install
      assert.match((await scheduleOf(OFFBOARDINGS)).crontab, /^[0-4]-59\/5 \* \* \* \*$/);
      assert.equal((await tasks.tasksSchedulesList({ relObjIdIsnull: false })).results.length, 0);
      assert.equal((await tasks.tasksSchedulesList({ paused: true })).results.length, 0);
      assert.equal((await tasks.tasksSchedulesRetrieve({ id: clean.id })).actorName, CLEAN);
      assert.equal((await call(srv, 'GET', `/tasks/schedules/${randomUUID()}/`)).status, 404);
    });

    it('a crontab edit sets the next run by it; a bad one is a 400 on the field with nothing changed', async () => {
      const before = await scheduleOf(WORKERS);
      for (const bad of ['* * * *', '61 * * * *', '5 * * * mon-', '0 0 31 2 *', 'every hour']) {
        const r = await call(srv, 'PATCH', `/tasks/schedules/${before.id}/`, { crontab: bad });
        assert.equal(r.status, 400, bad);
        assert.ok(Array.isArray(r.body.crontab) && /^Invalid crontab expression/.test(r.body.crontab[0]), JSON.stringify(r.body));
      }
      assert.equal((await scheduleOf(WORKERS)).crontab, before.crontab);
      const moved = await call(srv, 'PATCH', `/tasks/schedules/${before.id}/`, { rel_obj_id: 'x' });
      assert.equal(moved.status, 400);
      assert.ok(moved.body.rel_obj_id);
      // 03:30 UTC on Sundays
      const edited = await tasks.tasksSchedulesPartialUpdate({ id: before.id, patchedScheduleRequest: { crontab: '30 3 * * sun' } });
      assert.equal(edited.crontab, '30 3 * * sun');
      const next = edited.nextRun;
      assert.equal(next.getUTCDay(), 0);
      assert.equal(next.getUTCHours(), 3);
      assert.equal(next.getUTCMinutes(), 30);
      assert.ok(next.getTime() > Date.now() && next.getTime() <= Date.now() + 7 * 86_400_000);
      const paused = await tasks.tasksSchedulesUpdate({ id: before.id, scheduleRequest: { crontab: '*/15 * * * *', paused: true } });
      assert.equal(paused.paused, true);
      assert.equal(paused.nextRun.getUTCMinutes() % 15, 0);
      assert.equal((await tasks.tasksSchedulesList({ paused: true })).results.length, 1);
      await tasks.tasksSchedulesPartialUpdate({ id: before.id, patchedScheduleRequest: { crontab: before.crontab, paused: false } });
    });

    it('send runs the task: expired events and sessions are gone, the task is done with its logs, the schedule shows its status', async () => {
      const db = srv.app.store.db;
      const event = randomUUID();
      await db
        .insertInto('events')
        .values({
          event_uuid: event,
          action: 'login',
          app: 'keystage',
          user: '{}',
          username: 'old',
          context: '{}',
          client_ip: null,
          created: new Date(Date.now() - 2e10).toISOString(),
          expires: new Date(Date.now() - 1000).toISOString(),
        })
        .execute();
      // a task untouched for 31 days (its run failed then)
      const stale = randomUUID();
      await db
        .insertInto('tasks')
        .values({
          message_id: stale,
          queue_name: 'default',
          actor_name: CLEAN,
          state: 'rejected',
          mtime: new Date(Date.now() - 31 * 86_400_000).toISOString(),
          retries: 0,
          eta: null,
          rel_obj_app_label: null,
          rel_obj_model: null,
          rel_obj_id: null,
          uid: CLEAN,
          logs: '[]',
          previous_logs: '[]',
          aggregated_status: 'error',
          schedule_id: null,
        })
        .execute();
      const clean = await scheduleOf(CLEAN);
      await tasks.tasksSchedulesSendCreate({ id: clean.id });
      const task = await until('the task to finish', async () => {
        const t = (await tasksOf(CLEAN))[0];
        return t && (t.state === 'done' || t.state === 'rejected') ? t : undefined;
      });
      assert.equal(task.state, 'done');
      assert.equal(task.aggregatedStatus, 'info');
      assert.equal(task.actorName, CLEAN);
      assert.equal(task.uid, CLEAN);
      assert.equal(task.retries, 0);
      assert.equal(task.description, 'Remove expired objects.');
      const events = task.logs.find((l) => l.event === 'Expired events');
      assert.ok(events && Number(events.attributes.amount) >= 1, JSON.stringify(task.logs));
      assert.equal(events.logLevel, 'info');
      assert.equal(events.logger, CLEAN);
      assert.deepEqual(task.previousLogs, []);
      assert.equal(await db.selectFrom('events').select('event_uuid').where('event_uuid', '=', event).executeTakeFirst(), undefined);
      assert.equal(await db.selectFrom('tasks').select('message_id').where('message_id', '=', stale).executeTakeFirst(), undefined);
      assert.ok(Number(task.logs.find((l) => l.event === 'Expired tasks')?.attributes.amount) >= 1);
      assert.equal((await scheduleOf(CLEAN)).lastTaskStatus, 'info');
      // the schedule's own time did not move
      assert.equal((await scheduleOf(CLEAN)).nextRun.getTime(), clean.nextRun.getTime());
      assert.equal((await tasks.tasksTasksRetrieve({ messageId: task.messageId! })).messageId, task.messageId);
      const status = await tasks.tasksTasksStatusRetrieve();
      assert.ok(status.info >= 1);
      assert.equal(typeof status.error, 'number');
      assert.equal(
        (await tasks.tasksTasksList({ aggregatedStatus: ['info'] })).results.some((t) => t.messageId === task.messageId),
        true,
      );
      assert.equal(
        (await tasks.tasksTasksList({ aggregatedStatus: ['error'] })).results.some((t) => t.messageId === task.messageId),
        false,
      );
      const bad = await call(srv, 'GET', '/tasks/tasks/?aggregated_status=nope');
      assert.equal(bad.status, 400);
      assert.equal((await call(srv, 'POST', `/tasks/schedules/${randomUUID()}/send/`)).status, 404);
    });

    it('retry queues a finished task again with its logs kept as previous ones; a queued or unknown task is refused', async () => {
      const done = (await tasksOf(CLEAN)).find((t) => t.state === 'done');
      assert.ok(done?.messageId);
      const id = done.messageId;
      await tasks.tasksTasksRetryCreate({ messageId: id });
      const again = await until('the retried task to finish', async () => {
        const t = await tasks.tasksTasksRetrieve({ messageId: id });
        return t.state === 'done' && t.retries === 1 ? t : undefined;
      });
      assert.ok(again.previousLogs.some((l) => l.event === 'Expired events'));
      assert.ok(again.logs.some((l) => l.event === 'Expired events'));
      // a task still queued (written as another node would find it) cannot be retried
      const queued = randomUUID();
      await srv.app.store.db
        .insertInto('tasks')
        .values({
          message_id: queued,
          queue_name: 'default',
          actor_name: 'authentik.nothing.here',
          state: 'running',
          mtime: new Date().toISOString(),
          retries: 0,
          eta: null,
          rel_obj_app_label: null,
          rel_obj_model: null,
          rel_obj_id: null,
          uid: 'authentik.nothing.here',
          logs: '[]',
          previous_logs: '[]',
          aggregated_status: 'running',
          schedule_id: null,
        })
        .execute();
      const r = await call(srv, 'POST', `/tasks/tasks/${queued}/retry/`);
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, ['Task is not in a retryable state.']);
      assert.equal((await call(srv, 'POST', `/tasks/tasks/${randomUUID()}/retry/`)).status, 404);
      // an actor Keystage does not have: rejected with the reason
      await srv.app.store.db.updateTable('tasks').set({ state: 'done' }).where('message_id', '=', queued).execute();
      await tasks.tasksTasksRetryCreate({ messageId: queued });
      const rejected = await until('the unknown actor’s task', async () => {
        const t = await tasks.tasksTasksRetrieve({ messageId: queued });
        return t.state === 'rejected' ? t : undefined;
      });
      assert.equal(rejected.aggregatedStatus, 'error');
      assert.equal(rejected.logs[0]?.event, 'No actor named authentik.nothing.here');
    });

    it('workers lists this node with its version', async () => {
      const workers = await tasks.tasksWorkersList();
      assert.ok(workers.length >= 1);
      assert.ok(workers.every((w) => w.versionMatching && w.version && w.workerId));
    });

    it('a user without permissions gets 403; the task permissions open what they name', async () => {
      const id = await createUser(srv, `t-${randomUUID().slice(0, 8)}`, 'user-password-1');
      const key = await tokenFor(srv, id, `tasks-key-${randomUUID()}`);
      const as = (method: string, path: string, b?: unknown) => callAs(srv, key, method, path, b);
      const clean = await scheduleOf(CLEAN);
      for (const [method, path] of [
        ['GET', '/tasks/schedules/'],
        ['GET', '/tasks/tasks/'],
        ['GET', '/tasks/tasks/status/'],
        ['GET', '/tasks/workers/'],
        ['POST', `/tasks/schedules/${clean.id}/send/`],
      ] as const)
        assert.equal((await as(method, path)).status, 403, `${method} ${path}`);
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: `tasks-${id}` })).body.pk as string;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: id })).status, 204);
      const assign = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
        permissions: ['authentik_tasks.view_task', 'authentik_tasks_schedules.send_schedule', 'authentik_tasks_schedules.view_schedule'],
      });
      assert.equal(assign.status, 200, JSON.stringify(assign.body));
      assert.equal((await as('GET', '/tasks/tasks/')).status, 200);
      assert.equal((await as('GET', '/tasks/tasks/status/')).status, 200);
      assert.equal((await as('GET', '/tasks/schedules/')).status, 200);
      assert.equal((await as('POST', `/tasks/schedules/${clean.id}/send/`)).status, 204);
      assert.equal((await as('PATCH', `/tasks/schedules/${clean.id}/`, { paused: true })).status, 403);
    });

    it('a task left running by a node that stopped is ended as failed and can be retried; one on a live node, or taken lately, runs on', async () => {
      const db = srv.app.store.db;
      const live = (await tasks.tasksWorkersList())[0]?.workerId;
      assert.ok(live, 'this node beats');
      const longAgo = new Date(Date.now() - 5 * 60_000).toISOString();
      await db.insertInto('task_workers').values({ worker_id: 'gone-node', version: 'x', last_seen: longAgo }).execute();
      const row = (worker: string | null, mtime: string) => ({
        message_id: randomUUID(),
        queue_name: 'default',
        actor_name: CLEAN,
        state: 'running',
        mtime,
        retries: 0,
        eta: mtime,
        rel_obj_app_label: null,
        rel_obj_model: null,
        rel_obj_id: null,
        uid: 'orphan-test',
        logs: JSON.stringify([{ timestamp: longAgo, log_level: 'info', logger: CLEAN, event: 'started', attributes: {} }]),
        previous_logs: '[]',
        aggregated_status: 'running',
        schedule_id: null,
        worker_id: worker,
      });
      const gone = row('gone-node', longAgo);
      const unknown = row(null, longAgo);
      const onLive = row(live, longAgo);
      const lately = row('not-yet-seen', new Date().toISOString());
      await db.insertInto('tasks').values([gone, unknown, onLive, lately]).execute();
      const ended = await until('the orphaned tasks to end', async () => {
        const t = await Promise.all([gone, unknown].map((x) => tasks.tasksTasksRetrieve({ messageId: x.message_id })));
        return t.every((x) => x.state === 'rejected') ? t : undefined;
      });
      for (const t of ended) {
        assert.equal(t.aggregatedStatus, 'error');
        assert.deepEqual(
          t.logs.map((l) => [l.logLevel, l.event]),
          [
            ['info', 'started'],
            ['error', 'The node running this task stopped before it finished'],
          ],
        );
      }
      assert.equal(ended[0]!.logs[1]!.attributes?.worker, 'gone-node');
      // the others ticks later still run
      await new Promise((r) => setTimeout(r, 300));
      for (const x of [onLive, lately]) assert.equal((await tasks.tasksTasksRetrieve({ messageId: x.message_id })).state, 'running');
      // a retry runs the ended task again, its logs kept as previous ones
      await tasks.tasksTasksRetryCreate({ messageId: gone.message_id });
      const again = await until('the retried task', async () => {
        const t = await tasks.tasksTasksRetrieve({ messageId: gone.message_id });
        return t.state === 'done' ? t : undefined;
      });
      assert.ok(again.logs.some((l) => l.event === 'Expired events'));
      assert.ok(again.previousLogs.some((l) => l.event === 'The node running this task stopped before it finished'));
      assert.equal(
        (await db.selectFrom('tasks').select('worker_id').where('message_id', '=', gone.message_id).executeTakeFirstOrThrow()).worker_id,
        live,
      );
      await db.deleteFrom('tasks').where('uid', '=', 'orphan-test').execute();
      await db.deleteFrom('task_workers').where('worker_id', '=', 'gone-node').execute();
    });

    it('a schedule that came due is queued and run once by two nodes; a paused one is not run', async () => {
      const other = await startServer(
        dialect,
        dialect === 'sqlite' ? { sqlitePath: srv.config.sqlitePath } : { databaseUrl: srv.config.databaseUrl },
        { taskTickMs: 50 },
      );
      try {
        const db = srv.app.store.db;
        const workers = await until('two workers', async () => {
          const w = await tasks.tasksWorkersList();
          return w.length >= 2 ? w : undefined;
        });
        assert.equal(new Set(workers.map((w) => w.workerId)).size, workers.length);
        const blueprints = await scheduleOf(BLUEPRINTS);
        const workersSchedule = await scheduleOf(WORKERS);
        const before = (await tasksOf(BLUEPRINTS)).length;
        const beforePaused = (await tasksOf(WORKERS)).length;
        await tasks.tasksSchedulesPartialUpdate({ id: workersSchedule.id, patchedScheduleRequest: { paused: true } });
        const past = new Date(Date.now() - 60_000).toISOString();
        await db.updateTable('task_schedules').set({ next_run: past }).where('id', 'in', [blueprints.id, workersSchedule.id]).execute();
        const ran = await until('the due schedule’s task', async () => {
          const t = (await tasksOf(BLUEPRINTS)).filter((x) => x.state === 'done');
          return t.length > before ? t : undefined;
        });
        // both nodes ticked many times meanwhile
        await new Promise((r) => setTimeout(r, 600));
        assert.equal((await tasksOf(BLUEPRINTS)).length, before + 1, 'one task for one due time');
        assert.equal(ran[0]!.logs[0]?.event, 'Blueprints discovered');
        const after = await scheduleOf(BLUEPRINTS);
        assert.ok(after.nextRun.getTime() > Date.now(), 'the next run moved on');
        assert.equal((await tasksOf(WORKERS)).length, beforePaused, 'a paused schedule does not run');
        assert.equal((await scheduleOf(WORKERS)).nextRun.toISOString(), past);
      } finally {
        await other.close();
      }
    });
  });
}
