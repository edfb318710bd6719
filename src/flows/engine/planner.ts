/**
 * The planner: checks the flow's authentication requirement and its policies (does the flow apply to this person?),
 * then lists its stage bindings in order, leaving out those whose policies fail at plan time (`evaluate_on_plan`).
 * Bindings with `re_evaluate_policies` are checked again when their stage comes up (executor, `stillApplies`).
 */
import type { FastifyRequest } from 'fastify';
import type { DB } from '../../db/index.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import type { PolicyEngine, PolicyVerdict } from '../../policies/engine/engine.js';
import type { FlowContext } from './context.js';
import { takePlanRedirects } from './plan-redirect.js';
import type { Plan, PlanBinding } from './plan.js';
import { flowObject, lazyRequest, policyUserOf } from './policy-request.js';

export type PlanResult = { type: 'plan'; plan: Plan } | { type: 'not_applicable'; messages: string[] } | { type: 'empty' };

export interface Requester {
  user: UsersTable | undefined;
  superuser: boolean;
}

/** what planning needs of the services */
export interface PlanServices {
  db: DB;
  policies: PolicyEngine;
}

/** what planning found, for an explanation (flows/rest `explain`): each check and its verdict */
export interface PlanTrace {
  flow?: PolicyVerdict;
  bindings: { fsb_uuid: string; stage_uuid: string; kind: string; evaluated: 'plan' | 'run' | 'never'; verdict?: PolicyVerdict }[];
}

export interface PlanOptions {
  req?: FastifyRequest;
  /** no side effects (events): an explanation */
  debug?: boolean;
  trace?: PlanTrace;
}

export function authenticationAllows(flow: FlowsTable, who: Requester, context: FlowContext = {}): boolean {
  switch (flow.authentication) {
    case 'none':
      return true;
    case 'require_authenticated':
      return !!who.user;
    case 'require_unauthenticated':
      return !who.user;
    case 'require_superuser':
      return who.superuser;
    case 'require_redirect':
      // authentik: only a flow another one sent the person to (a redirect stage in flow mode, a source stage resuming)
      return context.isRedirected !== undefined;
    default:
      // require_outpost / require_token: Keystage has no outposts, and no flow-token-only flows yet
      return false;
  }
}

export interface BindingRow {
  fsb_uuid: string;
  pbm_uuid: string;
  stage: string;
  kind: string;
  invalid_response_action: string;
  re_evaluate_policies: number | boolean;
  evaluate_on_plan: number | boolean;
  policy_engine_mode: string;
}

/** a flow's stage bindings in order, kept until the next admin write */
export function flowBindings(db: DB, flowUuid: string): Promise<BindingRow[]> {
  return cachedAdminData(
    db,
    `bindings:${flowUuid}`,
    () =>
      db
        .selectFrom('flow_bindings')
        .innerJoin('stages', 'stages.stage_uuid', 'flow_bindings.stage')
        .select([
          'flow_bindings.fsb_uuid',
          'flow_bindings.pbm_uuid',
          'flow_bindings.stage',
          'stages.kind',
          'flow_bindings.invalid_response_action',
          'flow_bindings.re_evaluate_policies',
          'flow_bindings.evaluate_on_plan',
          'flow_bindings.policy_engine_mode',
        ])
        .where('flow_bindings.target', '=', flowUuid)
        .orderBy('flow_bindings.order')
        .orderBy('flow_bindings.fsb_uuid')
        .execute() as Promise<BindingRow[]>,
  );
}

const modeOf = (m: string): 'any' | 'all' => (m === 'all' ? 'all' : 'any');

export async function planFlow(
  svc: PlanServices,
  flow: FlowsTable,
  who: Requester,
  context: FlowContext = {},
  opts: PlanOptions = {},
): Promise<PlanResult> {
  if (!authenticationAllows(flow, who, context)) return { type: 'not_applicable', messages: [] };
  const trace = opts.trace;
  // the person policies are about: who the context names, else who is logged in (fetched only when a policy asks)
  let user: UsersTable | undefined | null = null;
  const userOf = async () => (user === null ? (user = await policyUserOf(svc.db, context, who.user)) : user);
  if (await svc.policies.hasBindings(flow.pbm_uuid)) {
    const verdict = await svc.policies.check({
      target: flow.pbm_uuid,
      mode: modeOf(flow.policy_engine_mode),
      ...lazyRequest(context, userOf, undefined, flowObject(flow), opts.req, opts.debug),
    });
    if (trace) trace.flow = verdict;
    if (!verdict.passing) return { type: 'not_applicable', messages: verdict.messages };
  }
  const rows = await flowBindings(svc.db, flow.flow_uuid);
  if (!rows.length) return { type: 'empty' };
  const bindings: PlanBinding[] = [];
  for (const r of rows) {
    const onPlan = r.evaluate_on_plan === true || r.evaluate_on_plan === 1;
    const onRun = r.re_evaluate_policies === true || r.re_evaluate_policies === 1;
    let verdict: PolicyVerdict | undefined;
    if (onPlan && (await svc.policies.hasBindings(r.pbm_uuid))) {
      verdict = await svc.policies.check({
        target: r.pbm_uuid,
        mode: modeOf(r.policy_engine_mode),
        ...lazyRequest(context, userOf, { flow, bindings }, bindingObject(r), opts.req, opts.debug),
      });
    }
    trace?.bindings.push({
      fsb_uuid: r.fsb_uuid,
      stage_uuid: r.stage,
      kind: r.kind,
      evaluated: onPlan ? 'plan' : onRun ? 'run' : 'never',
      verdict,
    });
    // a policy's flow_plan.redirect(url): a redirect stage after this binding, or in its place (plan-redirect.ts)
    const redirects = takePlanRedirects(context);
    if (!verdict || verdict.passing)
      bindings.push({
        fsb_uuid: r.fsb_uuid,
        stage_uuid: r.stage,
        kind: r.kind,
        invalid_response_action: r.invalid_response_action as PlanBinding['invalid_response_action'],
        re_evaluate_policies: onRun,
      });
    bindings.push(...redirects);
  }
  if (!bindings.length) return { type: 'empty' };
  return { type: 'plan', plan: { flow_uuid: flow.flow_uuid, bindings, context } };
}

export const bindingObject = (r: { fsb_uuid: string; pbm_uuid: string }) => ({
  app: 'authentik_flows',
  model_name: 'flowstagebinding',
  pk: r.fsb_uuid,
  name: `Flow-stage binding ${r.fsb_uuid}`,
});

/**
 * A binding with `re_evaluate_policies`, as its stage comes up: do its policies still pass, with the plan as it is
 * now and `person` (the pending user, else the logged-in user: the executor's lookup, shared with the stage)? A binding deleted meanwhile has no policies left: it passes.
 */
export async function stillApplies(
  svc: PlanServices,
  flow: FlowsTable,
  plan: Plan,
  fsbUuid: string,
  person: () => Promise<UsersTable | undefined>,
  req: FastifyRequest | undefined,
): Promise<boolean> {
  const row = (await flowBindings(svc.db, flow.flow_uuid)).find((r) => r.fsb_uuid === fsbUuid);
  if (!row || !(await svc.policies.hasBindings(row.pbm_uuid))) return true;
  const verdict = await svc.policies.check({
    target: row.pbm_uuid,
    mode: modeOf(row.policy_engine_mode),
    ...lazyRequest(plan.context, person, { flow, bindings: plan.bindings }, bindingObject(row), req),
  });
  return verdict.passing;
}
