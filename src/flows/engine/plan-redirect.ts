/**
 * authentik's `FlowPlan.redirect(url)` (an expression policy's `context["flow_plan"].redirect(…)`, its documented
 * "redirect current flow to another URL"): an in-memory redirect stage inserted as the next stage (authentik's
 * `insert_stage`, in-memory RedirectStage): after the binding whose policy asked for it when its policies pass, in
 * its place when they do not — as its stage runs (the executor) or as the flow is planned (the planner). Its URL is
 * the stage's state in the plan.
 */
import { randomUUID } from 'node:crypto';
import type { FlowContext } from './context.js';
import type { PlanBinding } from './plan.js';
import { ok, show, type StageRuntime, type StageType } from './runtime.js';
import { linkConfirmStage } from './link-confirm.js';

const KIND = 'flowplanredirectstage';

interface State {
  to?: string;
}

const runtime: StageRuntime<{ name: string }, State> = {
  component: 'xak-flow-redirect',
  withUserInfo: false,
  async challenge(c) {
    return c.state.to ? show({ component: 'xak-flow-redirect', to: c.state.to }) : ok();
  },
  // a response (the client followed the redirect and came back): authentik's RedirectStage passes
  respond: async () => ok(),
};

export const planRedirectStage: StageType = { kind: KIND, app: 'authentik_flows', verboseName: 'Redirect stage', runtime };

/** the engine's own in-memory stages by kind (Services.stageType reaches them) */
export const engineStageByKind = (kind: string) =>
  kind === KIND ? planRedirectStage : kind === linkConfirmStage.kind ? linkConfirmStage : undefined;

/** the redirect stages policies asked for (FlowContext.planRedirects), in the order asked, taken from the context */
export function takePlanRedirects(ctx: FlowContext): PlanBinding[] {
  const urls = ctx.planRedirects;
  if (!urls?.length) return [];
  delete ctx.planRedirects;
  return urls.map((to) => {
    const id = randomUUID();
    (ctx.stages ??= {})[id] = { to };
    return { fsb_uuid: id, stage_uuid: id, kind: KIND, invalid_response_action: 'retry', re_evaluate_policies: false };
  });
}
