/**
 * `/tasks/tasks/` (authentik's TaskViewSet): the tasks run and queued, newest first, with their logs; `retry/`
 * queues a done or rejected task again (its logs become `previous_logs`); `status/` counts them by status.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { requirePermission } from '../rbac/check.js';
import { NotFound, ValidationError } from '../rest/errors.js';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { isUuid } from '../rest/validate.js';
import { LOG_EVENT_SCHEMA } from '../events/log-event.js';
import { parseLogs, requeue } from './queue.js';
import { actorNamed } from './registry.js';
import type { Services } from '../services.js';
import type { TasksTable } from './table.js';

export const TASK_STATES = [
  'waiting_for_dependencies',
  'queued',
  'consumed',
  'preprocess',
  'running',
  'postprocess',
  'rejected',
  'done',
] as const;
export const AGGREGATED = [...TASK_STATES, 'info', 'warning', 'error'] as const;

const logEvent = Type.Ref('LogEvent');

const taskProps = {
  message_id: S.ro(S.uuid()),
  queue_name: S.ro(S.text({ description: 'Queue name' })),
  actor_name: S.ro(S.text({ description: 'Dramatiq actor name' })),
  state: S.ro(S.enumOf(TASK_STATES, { description: 'Task status' })),
  mtime: S.ro(S.datetime({ description: 'Task last modified time' })),
  retries: S.ro(S.int({ minimum: 0, description: 'Number of retries' })),
  eta: S.ro(S.nullable(S.datetime({ description: 'Planned execution time' }))),
  rel_obj_app_label: S.ro(S.text()),
  rel_obj_model: S.ro(S.text({ title: 'Python model class name' })),
  rel_obj_id: S.ro(S.nullable(S.text())),
  uid: S.ro(S.text()),
  logs: S.ro(Type.Array(logEvent, { 'x-computed': true })),
  previous_logs: S.ro(Type.Array(logEvent, { 'x-computed': true })),
  aggregated_status: S.ro(Type.Unsafe<string>({ $ref: '#/components/schemas/TaskAggregatedStatusEnum' })),
  description: S.ro(S.nullable(S.text())),
};

const render = (rows: TasksTable[]) =>
  rows.map((t) => ({
    message_id: t.message_id,
    queue_name: t.queue_name,
    actor_name: t.actor_name,
    state: t.state,
    mtime: t.mtime,
    retries: Number(t.retries),
    eta: t.eta,
    rel_obj_app_label: t.rel_obj_app_label,
    rel_obj_model: t.rel_obj_model,
    rel_obj_id: t.rel_obj_id,
    uid: t.uid,
    logs: parseLogs(t.logs),
    previous_logs: parseLogs(t.previous_logs),
    aggregated_status: t.aggregated_status,
    description: actorNamed(t.actor_name)?.description ?? null,
  }));

const taskResource: ResourceDef<TasksTable> = {
  component: 'Task',
  model: 'Task',
  path: '/tasks/tasks',
  opPrefix: 'tasks_tasks',
  tag: 'tasks',
  lookup: { param: 'message_id', column: 't.message_id', rowKey: 'message_id', type: 'uuid' },
  props: taskProps,
  ops: ['list', 'retrieve'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_tasks.task', verbose: 'Task' },
  inBlueprints: false,
  list: {
    filters: {
      queue_name: { type: 'str', column: 't.queue_name' },
      actor_name: { type: 'str', column: 't.actor_name' },
      state: { type: 'enum', column: 't.state', values: TASK_STATES },
      rel_obj_content_type__app_label: { type: 'str', column: 't.rel_obj_app_label' },
      rel_obj_content_type__model: { type: 'str', column: 't.rel_obj_model' },
      rel_obj_id: { type: 'str', column: 't.rel_obj_id' },
      rel_obj_id__isnull: { type: 'isnull', column: 't.rel_obj_id' },
      aggregated_status: {
        type: 'custom',
        explode: true,
        schema: { type: 'array', items: { type: 'string', enum: [...AGGREGATED] } },
        parse: (values) => {
          const bad = values.filter((v) => !(AGGREGATED as readonly string[]).includes(v));
          if (bad.length) return { error: bad.map((v) => `Select a valid choice. ${v} is not one of the available choices.`) };
          return { cond: values.length ? (eb) => eb('t.aggregated_status', 'in', values) : undefined };
        },
      },
    },
    search: [
      't.message_id',
      't.queue_name',
      't.actor_name',
      't.state',
      't.rel_obj_app_label',
      't.rel_obj_model',
      't.rel_obj_id',
      't.uid',
      't.aggregated_status',
    ],
    ordering: { mtime: 't.mtime', actor_name: 't.actor_name', state: 't.state', aggregated_status: 't.aggregated_status' },
    defaultOrdering: ['-mtime'],
    pk: 't.message_id',
  },
  select: (db) => db.selectFrom('tasks as t').selectAll('t'),
  render: async (_db, rows) => render(rows),
};

export function mountTasksResource(router: ApiRouter, svc: Services) {
  const db = svc.db;
  router.component('LogEvent', LOG_EVENT_SCHEMA);
  router.component('TaskAggregatedStatusEnum', { type: 'string', enum: [...AGGREGATED] });
  const counted = ['queued', 'consumed', 'preprocess', 'running', 'postprocess', 'rejected', 'done', 'info', 'warning', 'error'];
  router.component('GlobalTaskStatus', {
    type: 'object',
    properties: Object.fromEntries(counted.map((k) => [k, { type: 'integer', readOnly: true }])),
    required: [...counted].sort(),
  });
  // (before the resource: `status` is not a task's id)
  router.route('/tasks/tasks/status', {
    get: {
      doc: { operationId: 'tasks_tasks_status_retrieve', tag: 'tasks', response: 'GlobalTaskStatus' },
      handler: async (req: FastifyRequest) => {
        await requirePermission(db, req, 'authentik_tasks.view_task');
        const rows = await db
          .selectFrom('tasks')
          .select(['aggregated_status', sql<number>`count(*)`.as('n')])
          .groupBy('aggregated_status')
          .execute();
        const out: Record<string, number> = Object.fromEntries(counted.map((k) => [k, 0]));
        for (const r of rows) if (r.aggregated_status in out) out[r.aggregated_status] = Number(r.n);
        return out;
      },
    },
  });
  mountResource(router, db, taskResource);
  router.route(
    '/tasks/tasks/{message_id}/retry',
    {
      post: {
        doc: { operationId: 'tasks_tasks_retry_create', tag: 'tasks', status: 204 },
        handler: async (req: FastifyRequest, reply: FastifyReply) => {
          await requirePermission(db, req, 'authentik_tasks.retry_task');
          const { message_id } = req.params as { message_id: string };
          const row = isUuid(message_id)
            ? await db.selectFrom('tasks').select(['message_id']).where('message_id', '=', message_id).executeTakeFirst()
            : undefined;
          if (!row) throw NotFound.model('Task');
          if (!(await requeue(db, row.message_id))) throw new ValidationError(['Task is not in a retryable state.']);
          svc.tasks?.kick();
          return reply.code(204).send();
        },
      },
    },
    [{ name: 'message_id', schema: { type: 'string', format: 'uuid' } }],
  );
}
