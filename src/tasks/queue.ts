/**
 * The task queue in the database (authentik's dramatiq broker on PostgreSQL): a task is queued by a schedule coming
 * due, by `send` or by `retry`; any node may take it, and the node whose UPDATE moved it from `queued` to `running`
 * is the one that runs it (several nodes, one run). What the actor logs is kept with the task, and the gravest level
 * becomes its status; an actor that throws leaves it `rejected` with status `error`. A task whose node stopped while it
 * ran (killed, crashed: its heartbeat stopped) is ended the same way by the other nodes (`endOrphanedTasks`), not left
 * `running`. Tasks are kept 30 days (authentik's `task_expiration`).
 */
import { randomUUID } from 'node:crypto';
import type { DB } from '../db/index.js';
import { refreshAdminCache } from '../db/admin-cache.js';
import { type LogEvent, logEvent } from '../events/log-event.js';
import type { ActorContext, LogLevel } from './actor.js';
import { actorNamed } from './registry.js';
import type { TasksTable } from './table.js';

const KEEP_MS = 30 * 86_400_000;
/** a running task's node not seen for this long (it beats every 30 s, a long task or not) has stopped */
export const ORPHAN_MS = 120_000;
/** at most this many log lines per run */
const MAX_LOGS = 200;

export interface Queued {
  actor: string;
  scheduleId?: string | null;
  uid: string;
  relObj?: { app_label: string | null; model: string | null; id: string | null };
}

export async function enqueue(db: DB, q: Queued): Promise<string> {
  const message_id = randomUUID();
  const now = new Date().toISOString();
  await db
    .insertInto('tasks')
    .values({
      message_id,
      queue_name: 'default',
      actor_name: q.actor,
      state: 'queued',
      mtime: now,
      retries: 0,
      eta: now,
      rel_obj_app_label: q.relObj?.app_label ?? null,
      rel_obj_model: q.relObj?.model ?? null,
      rel_obj_id: q.relObj?.id ?? null,
      uid: q.uid,
      logs: '[]',
      previous_logs: '[]',
      aggregated_status: 'queued',
      schedule_id: q.scheduleId ?? null,
    })
    .execute();
  return message_id;
}

/** a done or rejected task queued again, its logs kept as the previous ones; false when it is in no such state */
export async function requeue(db: DB, messageId: string): Promise<boolean> {
  const task = await db.selectFrom('tasks').selectAll().where('message_id', '=', messageId).executeTakeFirst();
  if (!task || (task.state !== 'done' && task.state !== 'rejected')) return false;
  const previous = [...parseLogs(task.previous_logs), ...parseLogs(task.logs)].slice(-MAX_LOGS);
  const r = await db
    .updateTable('tasks')
    .set({
      state: 'queued',
      aggregated_status: 'queued',
      retries: Number(task.retries) + 1,
      previous_logs: JSON.stringify(previous),
      logs: '[]',
      mtime: new Date().toISOString(),
      eta: new Date().toISOString(),
      worker_id: null,
    })
    .where('message_id', '=', messageId)
    .where('state', '=', task.state)
    .where('mtime', '=', task.mtime)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export function parseLogs(text: string | null | undefined): LogEvent[] {
  try {
    const v = JSON.parse(text || '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

const GRAVITY: Record<string, number> = { debug: 0, info: 1, warning: 2, error: 3 };

/** done: the gravest level logged (info, warning, error), or `done` when nothing was */
function statusOf(logs: LogEvent[]): string {
  let worst = -1;
  for (const l of logs) worst = Math.max(worst, GRAVITY[l.log_level] ?? 0);
  return worst >= 3 ? 'error' : worst === 2 ? 'warning' : worst === 1 ? 'info' : 'done';
}

/**
 * takes the task for the node `workerId` if it is still queued (one node wins) and runs it; false when another node
 * had taken it
 */
export async function runTask(
  db: DB,
  task: TasksTable,
  context: Omit<ActorContext, 'relObjId' | 'log'>,
  workerId: string,
): Promise<boolean> {
  const taken = await db
    .updateTable('tasks')
    .set({ state: 'running', aggregated_status: 'running', mtime: new Date().toISOString(), worker_id: workerId })
    .where('message_id', '=', task.message_id)
    .where('state', '=', 'queued')
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) !== 1) return false;
  const logs: LogEvent[] = [];
  const log = (log_level: LogLevel, event: string, attributes: Record<string, unknown> = {}) => {
    if (logs.length < MAX_LOGS) logs.push(logEvent(task.actor_name, log_level, String(event), attributes));
  };
  let state = 'done';
  try {
    const actor = actorNamed(task.actor_name);
    if (!actor) throw new Error(`No actor named ${task.actor_name}`);
    // (what the task reads through the admin cache as changed on any node until now)
    await refreshAdminCache(db);
    await actor.run({ ...context, relObjId: task.rel_obj_id, log });
  } catch (e) {
    state = 'rejected';
    log('error', (e as Error)?.message ?? String(e));
  }
  await db
    .updateTable('tasks')
    .set({ state, aggregated_status: statusOf(logs), logs: JSON.stringify(logs), mtime: new Date().toISOString() })
    .where('message_id', '=', task.message_id)
    .execute();
  return true;
}

/** every queued task that is due, oldest first, run one after the other on this node (those another node takes are skipped) */
export async function workQueue(
  db: DB,
  context: Omit<ActorContext, 'relObjId' | 'log'>,
  workerId: string,
  stopped: () => boolean,
): Promise<number> {
  let ran = 0;
  for (;;) {
    const due = await db
      .selectFrom('tasks')
      .selectAll()
      .where('state', '=', 'queued')
      .where('eta', '<=', new Date().toISOString())
      .orderBy('mtime')
      .limit(20)
      .execute();
    if (!due.length) return ran;
    for (const task of due) {
      if (stopped()) return ran;
      if (await runTask(db, task, context, workerId)) ran++;
    }
  }
}

/**
 * Tasks still `running` whose node has not been seen for `ORPHAN_MS` (or is gone from the workers), taken at least that
 * long ago: ended as `rejected` with an error saying so, as an actor that threw (a retry, or the schedule's next run,
 * runs them again). Each is ended only if it is still as read (a node finishing it meanwhile wins).
 */
export async function endOrphanedTasks(db: DB, now = Date.now()): Promise<number> {
  const cutoff = new Date(now - ORPHAN_MS).toISOString();
  const orphans = await db
    .selectFrom('tasks as t')
    .select(['t.message_id', 't.actor_name', 't.logs', 't.mtime', 't.worker_id'])
    .where('t.state', '=', 'running')
    .where('t.mtime', '<', cutoff)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('task_workers as w')
            .select('w.worker_id')
            .whereRef('w.worker_id', '=', 't.worker_id')
            .where('w.last_seen', '>=', cutoff),
        ),
      ),
    )
    .execute();
  let ended = 0;
  for (const t of orphans) {
    const logs = parseLogs(t.logs).slice(0, MAX_LOGS - 1);
    logs.push(
      logEvent(t.actor_name, 'error', 'The node running this task stopped before it finished', {
        worker: t.worker_id,
        taken: t.mtime,
      }),
    );
    const r = await db
      .updateTable('tasks')
      .set({ state: 'rejected', aggregated_status: 'error', logs: JSON.stringify(logs), mtime: new Date(now).toISOString() })
      .where('message_id', '=', t.message_id)
      .where('state', '=', 'running')
      .where('mtime', '=', t.mtime)
      .executeTakeFirst();
    ended += Number(r.numUpdatedRows);
  }
  return ended;
}

/** tasks untouched for 30 days (authentik's task expiration), whatever their state */
export async function purgeOldTasks(db: DB, now = Date.now()): Promise<number> {
  const r = await db
    .deleteFrom('tasks')
    .where('mtime', '<', new Date(now - KEEP_MS).toISOString())
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
