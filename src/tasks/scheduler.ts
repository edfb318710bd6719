/**
 * The node's scheduler (authentik's worker scheduler): it marks itself alive every 30 s (a timer of its own, so a long
 * task does not make the node look stopped); every tick it ends the tasks of nodes that stopped while running them,
 * queues a task for each schedule that came due — the node whose UPDATE moves `next_run` on from the value it read is the one that queues it,
 * so several nodes queue one run — and runs the queued tasks it can take (./queue.ts). `send`, `retry` and a
 * schedule's save kick it at once.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DB } from '../db/index.js';
import { startPeriodic } from '../instance/periodic.js';
import { VERSION } from '../version.js';
import type { ActorContext } from './actor.js';
import { nextRun, parseCrontab } from './crontab.js';
import { endOrphanedTasks, enqueue, workQueue } from './queue.js';
import { ACTORS } from './registry.js';
import type { TaskSchedulesTable } from './table.js';

const HEARTBEAT_MS = 30_000;

/** authentik's fqdn_rand: a number below `below` fixed by the name (not all installs and schedules at one instant) */
function fixedRand(name: string, below: number): number {
  return createHash('sha256').update(name).digest().readUInt32BE(0) % below;
}

export function defaultCrontab(actor: string, crontab: string): string {
  return crontab
    .replace('{m}', String(fixedRand(actor, 60)))
    .replace('{m5}', String(fixedRand(actor, 5)))
    .replace('{h}', String(fixedRand(actor, 24)));
}

/** the run after `after` by the schedule's crontab (a crontab that no longer parses: a year on, never sooner) */
export function nextRunOf(crontab: string, after = new Date()): string {
  try {
    const next = nextRun(parseCrontab(crontab), after);
    if (next) return next.toISOString();
  } catch {}
  return new Date(after.getTime() + 366 * 86_400_000).toISOString();
}

/**
 * each actor with a crontab gets its schedule, or one per object for an actor of objects (an existing one keeps what an
 * administrator set); the schedules of objects gone are deleted, a renamed object's follows its name. Writes only what
 * changed (every tick reconciles).
 */
export async function seedSchedules(db: DB): Promise<void> {
  for (const actor of ACTORS) {
    if (!actor.crontab) continue;
    const objects = actor.objects ? await actor.objects.list(db) : [undefined];
    const existing = await db
      .selectFrom('task_schedules')
      .select(['id', 'identifier', 'uid_suffix'])
      .where('actor_name', '=', actor.name)
      .execute();
    const have = new Map(existing.map((e) => [e.identifier, e]));
    const wanted = new Set<string>();
    for (const o of objects) {
      const identifier = o ? `${actor.name}:${o.id}` : actor.name;
      wanted.add(identifier);
      const found = have.get(identifier);
      if (found) {
        if (o && found.uid_suffix !== o.uid)
          await db.updateTable('task_schedules').set({ uid_suffix: o.uid }).where('id', '=', found.id).execute();
        continue;
      }
      const crontab = defaultCrontab(o ? `${actor.name}/${o.id}` : actor.name, actor.crontab);
      await db
        .insertInto('task_schedules')
        .values({
          id: randomUUID(),
          identifier,
          uid_suffix: o?.uid ?? null,
          actor_name: actor.name,
          rel_obj_app_label: o ? actor.objects!.app_label : null,
          rel_obj_model: o ? actor.objects!.model : null,
          rel_obj_id: o?.id ?? null,
          crontab,
          paused: 0,
          next_run: nextRunOf(crontab),
        })
        .onConflict((oc) => oc.column('identifier').doNothing())
        .execute();
    }
    const gone = existing.filter((e) => actor.objects && !wanted.has(e.identifier ?? '')).map((e) => e.id);
    if (gone.length) await db.deleteFrom('task_schedules').where('id', 'in', gone).execute();
  }
}

export const scheduleUid = (s: Pick<TaskSchedulesTable, 'actor_name' | 'uid_suffix'>) =>
  s.uid_suffix ? `${s.actor_name}:${s.uid_suffix}` : s.actor_name;

/** queues a run of the schedule now (its `next_run` untouched) */
export function sendSchedule(db: DB, s: TaskSchedulesTable): Promise<string> {
  return enqueue(db, {
    actor: s.actor_name,
    scheduleId: s.id,
    uid: scheduleUid(s),
    relObj: { app_label: s.rel_obj_app_label, model: s.rel_obj_model, id: s.rel_obj_id },
  });
}

/** the schedules due now, each queued once across the nodes */
export async function queueDue(db: DB, now = new Date()): Promise<number> {
  const due = await db
    .selectFrom('task_schedules')
    .selectAll()
    .where('paused', '=', 0)
    .where('next_run', '<=', now.toISOString())
    .execute();
  let queued = 0;
  for (const s of due) {
    // (the next run moved on and the task queued in one transaction: a node stopping between them loses no run)
    const mine = await db.transaction().execute(async (tx) => {
      const moved = await tx
        .updateTable('task_schedules')
        .set({ next_run: nextRunOf(s.crontab, now) })
        .where('id', '=', s.id)
        .where('next_run', '=', s.next_run)
        .where('paused', '=', 0)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return false;
      await sendSchedule(tx, s);
      return true;
    });
    if (mine) queued++;
  }
  return queued;
}

async function heartbeat(db: DB, workerId: string): Promise<void> {
  const now = new Date().toISOString();
  await db
    .insertInto('task_workers')
    .values({ worker_id: workerId, version: VERSION, last_seen: now })
    .onConflict((oc) => oc.column('worker_id').doUpdateSet({ last_seen: now, version: VERSION }))
    .execute();
}

export interface TaskScheduler {
  /** a tick now (after the one under way): a sent or retried task runs without waiting for the next */
  kick(): void;
  stop(): Promise<void>;
}

export function startTaskScheduler(
  context: Omit<ActorContext, 'relObjId' | 'log'>,
  onError: (err: unknown) => void,
  tickMs = 10_000,
): TaskScheduler {
  const db = context.svc.db;
  // (a node's id: its host, process and start, so two servers in one process are two workers)
  const workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  let beat = 0;
  let beating: Promise<void> | undefined;
  const beatIfDue = async () => {
    if (Date.now() - beat < HEARTBEAT_MS) return;
    beat = Date.now();
    await heartbeat(db, workerId);
  };
  // (while a task runs, the ticks wait for it: the heartbeat does not. The timer looks three times per beat, so a beat
  // is at most a third late — never near the two minutes that make a node look stopped)
  const beatTimer = setInterval(() => {
    beating ??= beatIfDue()
      .catch(onError)
      .finally(() => {
        beating = undefined;
      });
  }, HEARTBEAT_MS / 3).unref();
  const periodic = startPeriodic(
    async (stopped) => {
      await beatIfDue();
      await seedSchedules(db);
      await endOrphanedTasks(db);
      await queueDue(db);
      await workQueue(db, context, workerId, stopped);
    },
    onError,
    tickMs,
    { now: true },
  );
  return {
    kick: () => periodic.kick(),
    async stop() {
      clearInterval(beatTimer);
      await periodic.stop();
      await beating;
      await db
        .deleteFrom('task_workers')
        .where('worker_id', '=', workerId)
        .execute()
        .catch(() => {});
    },
  };
}
