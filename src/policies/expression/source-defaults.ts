/**
 * authentik's default source flows (blueprints/default/flow-default-source-authentication.yaml and
 * flow-default-source-enrollment.yaml), which an OAuth source names as its authentication and enrollment flows:
 * `default-source-authentication` logs in the user a source vouched for; `default-source-enrollment` asks for a
 * username only when the source gave none, creates the user and logs them in. Each flow applies only in a flow a
 * source started (`return ak_is_sso_flow`, bound to the flow). The expressions run natively (native.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import { IF_NO_USERNAME, IF_SSO } from './native.js';

async function ensurePolicy(db: Kysely<Database>, name: string, expression: string): Promise<string> {
  const existing = await db.selectFrom('policies').select('policy_uuid').where('name', '=', name).executeTakeFirst();
  if (existing) return existing.policy_uuid;
  const policy = randomUUID();
  const now = new Date().toISOString();
  await db
    .insertInto('policies')
    .values({ policy_uuid: policy, name, kind: 'expressionpolicy', execution_logging: 0, created: now, last_updated: now })
    .execute();
  await db
    .insertInto('policy_expression' as 'policies')
    .values({ policy_uuid: policy, expression } as never)
    .execute();
  return policy;
}

async function bind(db: Kysely<Database>, target: string, policy: string, order: number) {
  const bound = await db
    .selectFrom('policy_bindings')
    .select('policy_binding_uuid')
    .where('target', '=', target)
    .where('policy', '=', policy)
    .executeTakeFirst();
  if (bound) return;
  await db
    .insertInto('policy_bindings')
    .values({
      policy_binding_uuid: randomUUID(),
      target,
      policy,
      group: null,
      user: null,
      negate: 0,
      enabled: 1,
      order,
      timeout: 30,
      failure_result: 0,
    })
    .execute();
}

/** the if-sso policy on the flow `slug` */
export async function bindIfSso(db: Kysely<Database>, slug: string, policyName: string): Promise<void> {
  const flow = await db.selectFrom('flows').select('pbm_uuid').where('slug', '=', slug).executeTakeFirst();
  if (!flow) return;
  await bind(db, flow.pbm_uuid, await ensurePolicy(db, policyName, IF_SSO), 0);
}

/** the if-username policy on the username prompt's binding, evaluated when the stage comes up (not at planning) */
export async function bindIfNoUsername(db: Kysely<Database>, slug: string, promptStage: string): Promise<void> {
  const binding = await db
    .selectFrom('flow_bindings')
    .innerJoin('flows', 'flows.flow_uuid', 'flow_bindings.target')
    .innerJoin('stages', 'stages.stage_uuid', 'flow_bindings.stage')
    .select(['flow_bindings.pbm_uuid', 'flow_bindings.fsb_uuid'])
    .where('flows.slug', '=', slug)
    .where('stages.name', '=', promptStage)
    .executeTakeFirst();
  if (!binding) return;
  await bind(db, binding.pbm_uuid, await ensurePolicy(db, 'default-source-enrollment-if-username', IF_NO_USERNAME), 0);
  await db
    .updateTable('flow_bindings')
    .set({ evaluate_on_plan: 0, re_evaluate_policies: 1 } as never)
    .where('fsb_uuid', '=', binding.fsb_uuid)
    .execute();
}
