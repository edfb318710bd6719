/**
 * `/tasks/schedules/` (authentik's ScheduleViewSet): the schedules, their crontab and `paused` editable (a save sets
 * the next run by the new crontab from now), `send/` queues a run now. Schedules are made by Keystage (one per actor
 * that has a crontab), never through the API.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { requirePermission } from '../rbac/check.js';
import { NotFound, ValidationError } from '../rest/errors.js';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { isUuid } from '../rest/validate.js';
import { crontabError } from './crontab.js';
import { actorNamed } from './registry.js';
import { nextRunOf, scheduleUid, sendSchedule } from './scheduler.js';
import type { Services } from '../services.js';
import type { TaskSchedulesTable } from './table.js';

export const LAST_STATUSES = ['info', 'warning', 'error'] as const;

const scheduleProps = {
  id: S.ro(S.uuid()),
  identifier: S.ro(S.nullable(S.text({ description: 'Unique schedule identifier' }))),
  uid: S.ro(S.text()),
  actor_name: S.ro(S.text({ description: 'Dramatiq actor to call' })),
  rel_obj_app_label: S.ro(S.text()),
  rel_obj_model: S.ro(S.text({ title: 'Python model class name' })),
  rel_obj_id: S.nullable(S.str({ 'x-optional': true })),
  crontab: S.str({ description: 'When to schedule tasks' }),
  paused: S.bool({ description: 'Pause this schedule', default: false }),
  next_run: S.ro(S.datetime()),
  description: S.ro(S.nullable(S.text())),
  last_task_status: S.ro(Type.Unsafe<string | null>({ type: 'string', enum: [...LAST_STATUSES], nullable: true })),
};

type ScheduleRow = TaskSchedulesTable & { last_status?: string | null };

function render(rows: ScheduleRow[]): Record<string, unknown>[] {
  return rows.map((r) => {
    const s = r.last_status;
    return {
      id: r.id,
      identifier: r.identifier,
      uid: scheduleUid(r),
      actor_name: r.actor_name,
      rel_obj_app_label: r.rel_obj_app_label,
      rel_obj_model: r.rel_obj_model,
      rel_obj_id: r.rel_obj_id,
      crontab: r.crontab,
      paused: !!r.paused,
      next_run: r.next_run,
      description: actorNamed(r.actor_name)?.description ?? null,
      last_task_status: s === undefined || s === null ? null : (LAST_STATUSES as readonly string[]).includes(s) ? s : 'info',
    };
  });
}

export function scheduleResource(svc: Services): ResourceDef<TaskSchedulesTable> {
  return {
    component: 'Schedule',
    model: 'Schedule',
    path: '/tasks/schedules',
    opPrefix: 'tasks_schedules',
    tag: 'tasks',
    lookup: { param: 'id', column: 's.id', rowKey: 'id', type: 'uuid' },
    props: scheduleProps,
    ops: ['list', 'retrieve', 'update', 'partial_update'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_tasks_schedules.schedule', verbose: 'Schedule' },
    inBlueprints: false,
    list: {
      filters: {
        actor_name: { type: 'str', column: 's.actor_name' },
        paused: { type: 'bool', column: 's.paused' },
        rel_obj_content_type__app_label: { type: 'str', column: 's.rel_obj_app_label' },
        rel_obj_content_type__model: { type: 'str', column: 's.rel_obj_model' },
        rel_obj_id: { type: 'str', column: 's.rel_obj_id' },
        rel_obj_id__isnull: { type: 'isnull', column: 's.rel_obj_id' },
      },
      search: ['s.id', 's.actor_name', 's.uid_suffix', 's.rel_obj_app_label', 's.rel_obj_model', 's.rel_obj_id'],
      ordering: { next_run: 's.next_run', uid: 's.actor_name', actor_name: 's.actor_name', paused: 's.paused', id: 's.id' },
      defaultOrdering: ['next_run', 'uid'],
      pk: 's.id',
    },
    // with the status of its latest finished task (the index on tasks (schedule_id, mtime) serves it)
    select: (db) =>
      db
        .selectFrom('task_schedules as s')
        .selectAll('s')
        .select((eb) =>
          eb
            .selectFrom('tasks as t')
            .select('t.aggregated_status')
            .whereRef('t.schedule_id', '=', 's.id')
            .where('t.state', 'in', ['done', 'rejected'])
            .orderBy('t.mtime', 'desc')
            .limit(1)
            .as('last_status'),
        ),
    render: async (_db, rows) => render(rows),
    validate: async (data, _ctx, existing) => {
      const errors: Record<string, string[]> = {};
      if (typeof data.crontab === 'string') {
        const problem = crontabError(data.crontab);
        if (problem) errors.crontab = [`Invalid crontab expression: ${problem}.`];
      }
      if (data.rel_obj_id !== undefined && data.rel_obj_id !== (existing?.rel_obj_id ?? null))
        errors.rel_obj_id = ['The object a schedule belongs to cannot be changed.'];
      if (Object.keys(errors).length) throw new ValidationError(errors);
    },
    update: async (tx, existing, data) => {
      const crontab = typeof data.crontab === 'string' ? data.crontab.trim() : existing.crontab;
      await tx
        .updateTable('task_schedules')
        .set({
          crontab,
          ...(data.paused !== undefined ? { paused: data.paused ? 1 : 0 } : {}),
          next_run: nextRunOf(crontab),
        })
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    },
    afterWrite: async () => svc.tasks?.kick(),
  };
}

export function mountSchedules(router: ApiRouter, svc: Services) {
  const db = svc.db;
  mountResource(router, db, scheduleResource(svc));
  router.route(
    '/tasks/schedules/{id}/send',
    {
      post: {
        doc: {
          operationId: 'tasks_schedules_send_create',
          tag: 'tasks',
          status: 204,
        },
        handler: async (req: FastifyRequest, reply: FastifyReply) => {
          await requirePermission(db, req, 'authentik_tasks_schedules.send_schedule');
          const { id } = req.params as { id: string };
          const row = isUuid(id) ? await db.selectFrom('task_schedules').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
          if (!row) throw NotFound.model('Schedule');
          await sendSchedule(db, row);
          svc.tasks?.kick();
          return reply.code(204).send();
        },
      },
    },
    [{ name: 'id', schema: { type: 'string', format: 'uuid' } }],
  );
}
