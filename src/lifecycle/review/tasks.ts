/**
 * authentik's review actors: daily, `apply_lifecycle_rules` queues an `apply_lifecycle_rule` task per rule (the task's
 * object is the rule; a rule's save queues one too, ./rules.ts), which applies it (./reviews.ts `applyRule`).
 */
import type { Actor } from '../../tasks/actor.js';
import { enqueue } from '../../tasks/queue.js';
import { applyRule } from './reviews.js';

export const APPLY_RULE = 'authentik.enterprise.lifecycle.review.tasks.apply_lifecycle_rule';

export const applyLifecycleRules: Actor = {
  name: 'authentik.enterprise.lifecycle.review.tasks.apply_lifecycle_rules',
  description: 'Dispatch tasks to apply lifecycle rules.',
  crontab: '{m} {h} * * *',
  async run({ svc, log }) {
    const rules = await svc.db.selectFrom('lifecycle_rules').select('id').orderBy('name').execute();
    for (const r of rules)
      await enqueue(svc.db, {
        actor: APPLY_RULE,
        uid: `${APPLY_RULE}:${r.id}`,
        relObj: { app_label: 'authentik_lifecycle', model: 'lifecyclerule', id: r.id },
      });
    log('info', 'Queued lifecycle rules', { amount: rules.length });
  },
};

export const applyLifecycleRule: Actor = {
  name: APPLY_RULE,
  description: 'Apply lifecycle rule.',
  async run({ svc, relObjId, log }) {
    const applied = relObjId ? await applyRule(svc, relObjId) : undefined;
    if (!applied) log('info', 'The lifecycle rule is gone: nothing applied', { rule: relObjId });
    else log('info', 'Applied lifecycle rule', { rule: relObjId, ...applied });
  },
};
