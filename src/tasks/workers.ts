/**
 * `/tasks/workers/` (authentik's WorkerView): the nodes that ran their scheduler lately, each with its version; and
 * authentik's `clean_worker_statuses`, which forgets nodes not seen for a day.
 */
import type { FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import { requirePermission } from '../rbac/check.js';
import type { ApiRouter } from '../rest/routes.js';
import { VERSION } from '../version.js';
import type { Actor } from './actor.js';

/** a node not seen for this long is not listed (it beats every 30 s) */
const ALIVE_MS = 120_000;

export const cleanWorkerStatuses: Actor = {
  name: 'authentik.tasks.tasks.clean_worker_statuses',
  description: 'Remove old worker statuses.',
  crontab: '{m} {h} * * *',
  async run({ svc, log }) {
    const r = await svc.db
      .deleteFrom('task_workers')
      .where('last_seen', '<', new Date(Date.now() - 86_400_000).toISOString())
      .executeTakeFirst();
    log('info', 'Removed old worker statuses', { amount: Number(r.numDeletedRows) });
  },
};

export function mountWorkers(router: ApiRouter, db: DB) {
  router.component('Worker', {
    type: 'object',
    properties: { worker_id: { type: 'string' }, version: { type: 'string' }, version_matching: { type: 'boolean' } },
    required: ['version', 'version_matching', 'worker_id'],
  });
  router.route('/tasks/workers', {
    get: {
      doc: {
        operationId: 'tasks_workers_list',
        tag: 'tasks',
        response: { type: 'array', items: { $ref: '#/components/schemas/Worker' } },
      },
      handler: async (req: FastifyRequest) => {
        await requirePermission(db, req, 'authentik_tasks.view_workerstatus');
        const rows = await db
          .selectFrom('task_workers')
          .selectAll()
          .where('last_seen', '>=', new Date(Date.now() - ALIVE_MS).toISOString())
          .orderBy('worker_id')
          .execute();
        return rows.map((w) => ({ worker_id: w.worker_id, version: w.version, version_matching: w.version === VERSION }));
      },
    },
  });
}
