/**
 * authentik's tasks (`/tasks/`): actors (./actor.ts, listed in ./registry.ts), their schedules (crontab, paused,
 * sent by hand), the tasks queued in the database and run by whichever node takes them, and the nodes running them.
 * `startTasks` starts the node's scheduler once the server is ready.
 */
import { registerModel } from '../rbac/catalogue.js';
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import type { ActorContext } from './actor.js';
import { seedSchedules, startTaskScheduler, type TaskScheduler } from './scheduler.js';
import { mountSchedules } from './schedules.js';
import { mountTasksResource } from './tasks.js';
import { mountWorkers } from './workers.js';

export type { TaskScheduler } from './scheduler.js';

export function mountTasks(router: ApiRouter, svc: Services) {
  registerModel({
    label: 'authentik_tasks_schedules.schedule',
    verbose: 'Schedule',
    extra: [['send_schedule', 'Manually trigger a schedule']],
  });
  registerModel({ label: 'authentik_tasks.task', verbose: 'Task', extra: [['retry_task', 'Retry failed task']] });
  registerModel({ label: 'authentik_tasks.workerstatus', verbose: 'Worker Status' });
  mountSchedules(router, svc);
  mountTasksResource(router, svc);
  mountWorkers(router, svc.db);
}

export async function startTasks(
  context: Omit<ActorContext, 'relObjId' | 'log'>,
  onError: (err: unknown) => void,
  tickMs?: number,
): Promise<TaskScheduler> {
  await seedSchedules(context.svc.db);
  return startTaskScheduler(context, onError, tickMs);
}
