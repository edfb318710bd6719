/**
 * authentik's default authentication flow binds two expression policies (blueprints/default/
 * flow-default-authentication-flow.yaml): the password stage is skipped when the pending user was already proven
 * (a password typed into the identification stage, a passkey), and the MFA validation stage when a passkey was the
 * first factor. Both bindings fail closed to `failure_result: true` — the stage runs.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import { PASSWORD_STAGE, VALIDATE_STAGE } from './native.js';

const DEFAULTS = [
  { name: 'default-authentication-flow-password-stage', expression: PASSWORD_STAGE, stage: 'default-authentication-password' },
  {
    name: 'default-authentication-flow-authenticator-validate-stage',
    expression: VALIDATE_STAGE,
    stage: 'default-authentication-mfa-validation',
  },
];

/**
 * Creates the two policies (unless policies of these names exist) and binds them to the default flow's password and
 * MFA bindings (unless already bound). Does nothing when the default flow or those stages are missing.
 */
export async function bindDefaultAuthenticationPolicies(db: Kysely<Database>): Promise<void> {
  const flow = await db.selectFrom('flows').select('flow_uuid').where('slug', '=', 'default-authentication-flow').executeTakeFirst();
  if (!flow) return;
  for (const d of DEFAULTS) {
    const binding = await db
      .selectFrom('flow_bindings')
      .innerJoin('stages', 'stages.stage_uuid', 'flow_bindings.stage')
      .select(['flow_bindings.pbm_uuid', 'flow_bindings.fsb_uuid'])
      .where('flow_bindings.target', '=', flow.flow_uuid)
      .where('stages.name', '=', d.stage)
      .executeTakeFirst();
    if (!binding) continue;
    let policy = (await db.selectFrom('policies').select('policy_uuid').where('name', '=', d.name).executeTakeFirst())?.policy_uuid;
    if (!policy) {
      policy = randomUUID();
      const now = new Date().toISOString();
      await db
        .insertInto('policies')
        .values({ policy_uuid: policy, name: d.name, kind: 'expressionpolicy', execution_logging: 0, created: now, last_updated: now })
        .execute();
      await db
        .insertInto('policy_expression' as 'policies')
        .values({ policy_uuid: policy, expression: d.expression } as never)
        .execute();
    }
    const bound = await db
      .selectFrom('policy_bindings')
      .select('policy_binding_uuid')
      .where('target', '=', binding.pbm_uuid)
      .where('policy', '=', policy)
      .executeTakeFirst();
    if (bound) continue;
    await db
      .insertInto('policy_bindings')
      .values({
        policy_binding_uuid: randomUUID(),
        target: binding.pbm_uuid,
        policy,
        group: null,
        user: null,
        negate: 0,
        enabled: 1,
        order: 10,
        timeout: 30,
        failure_result: 1,
      })
      .execute();
    // authentik's blueprint: the binding is re-evaluated when its stage comes up
    await db
      .updateTable('flow_bindings')
      .set({ re_evaluate_policies: 1 } as never)
      .where('fsb_uuid', '=', binding.fsb_uuid)
      .execute();
  }
}
