/**
 * The planner: checks the flow's authentication requirement and lists its bindings in order.
 * (Keystage has no policy engine yet, so every binding applies; markers are kept for when it does.)
 */
import type { DB } from '../../db/index.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import type { FlowContext } from './context.js';
import type { Plan, PlanBinding } from './plan.js';

export type PlanResult = { type: 'plan'; plan: Plan } | { type: 'not_applicable'; messages: string[] } | { type: 'empty' };

export interface Requester {
  user: UsersTable | undefined;
  superuser: boolean;
}

export function authenticationAllows(flow: FlowsTable, who: Requester): boolean {
  switch (flow.authentication) {
    case 'none':
      return true;
    case 'require_authenticated':
      return !!who.user;
    case 'require_unauthenticated':
      return !who.user;
    case 'require_superuser':
      return who.superuser;
    default:
      // require_redirect / require_outpost / require_token: Keystage has no redirects from sources, outposts or flow tokens yet
      return false;
  }
}

export async function planFlow(db: DB, flow: FlowsTable, who: Requester, context: FlowContext = {}): Promise<PlanResult> {
  if (!authenticationAllows(flow, who)) return { type: 'not_applicable', messages: [] };
  const rows = await cachedAdminData(db, `bindings:${flow.flow_uuid}`, () =>
    db
      .selectFrom('flow_bindings')
      .innerJoin('stages', 'stages.stage_uuid', 'flow_bindings.stage')
      .select([
        'flow_bindings.fsb_uuid',
        'flow_bindings.stage',
        'stages.kind',
        'flow_bindings.invalid_response_action',
        'flow_bindings.re_evaluate_policies',
      ])
      .where('flow_bindings.target', '=', flow.flow_uuid)
      .orderBy('flow_bindings.order')
      .orderBy('flow_bindings.fsb_uuid')
      .execute(),
  );
  if (!rows.length) return { type: 'empty' };
  const bindings: PlanBinding[] = rows.map((r) => ({
    fsb_uuid: r.fsb_uuid,
    stage_uuid: r.stage,
    kind: r.kind,
    invalid_response_action: r.invalid_response_action as PlanBinding['invalid_response_action'],
    re_evaluate_policies: !!r.re_evaluate_policies,
  }));
  return { type: 'plan', plan: { flow_uuid: flow.flow_uuid, bindings, context } };
}
