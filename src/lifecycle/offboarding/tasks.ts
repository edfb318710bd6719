/**
 * authentik's offboarding actors: every five minutes `execute_due_offboardings` queues an `execute_offboarding` task
 * for each pending offboarding whose time has come (the task's object is the offboarding); any node may run it, and
 * ./execute.ts makes a second run of one a no-op. A failed run is queued again by the next sweep, until it completes
 * or has failed MAX_ATTEMPTS times.
 */
import type { Actor } from '../../tasks/actor.js';
import { enqueue } from '../../tasks/queue.js';
import { dueOffboardings, executeOffboarding } from './execute.js';

const EXECUTE = 'authentik.enterprise.lifecycle.offboarding.tasks.execute_offboarding';

export const executeDueOffboardings: Actor = {
  name: 'authentik.enterprise.lifecycle.offboarding.tasks.execute_due_offboardings',
  description: 'Execute due user offboardings.',
  crontab: '{m5}-59/5 * * * *',
  async run({ svc, log }) {
    const due = await dueOffboardings(svc.db);
    for (const id of due)
      await enqueue(svc.db, {
        actor: EXECUTE,
        uid: `${EXECUTE}:${id}`,
        relObj: { app_label: 'authentik_lifecycle', model: 'useroffboarding', id },
      });
    log('info', 'Queued due offboardings', { amount: due.length });
  },
};

export const executeOffboardingActor: Actor = {
  name: EXECUTE,
  description: 'Execute a single user offboarding.',
  async run({ svc, relObjId, log }) {
    if (!relObjId) throw new Error('No offboarding given');
    const outcome = await executeOffboarding(svc, relObjId);
    log('info', outcome === 'completed' ? 'Offboarding completed' : 'Offboarding not pending and due: nothing done', {
      offboarding: relObjId,
    });
  },
};
