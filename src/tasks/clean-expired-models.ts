/**
 * authentik's `clean_expired_models`, hourly on its schedule (`/tasks/schedules/`): what logins and password changes
 * leave behind (src/auth/housekeeping.ts), expired events, sessions and old tasks, and each provider type's expired
 * objects (`ProviderDef.purgeExpired`: a Shared Signals provider's sent events past its `event_retention`). Each kind's
 * count is a line of the task's log.
 */
import { authHousekeeping } from '../auth/housekeeping.js';
import { providerHousekeeping } from '../providers/registry.js';
import type { Actor } from './actor.js';
import { purgeOldTasks } from './queue.js';

export const cleanExpiredModels: Actor = {
  name: 'authentik.core.tasks.clean_expired_models',
  description: 'Remove expired objects.',
  crontab: '{m} * * * *',
  async run({ svc, log }) {
    const counts = {
      ...(await authHousekeeping(svc.db)),
      ...(await providerHousekeeping(svc.db)),
      events: await svc.events.purgeExpired(),
      sessions: await svc.sessions.purgeExpired(),
      tasks: await purgeOldTasks(svc.db),
    };
    for (const [model, amount] of Object.entries(counts)) log('info', `Expired ${model}`, { amount });
  },
};
