/** A flow plan: the bindings still to run, in order, and the context. Serialised into the session. */
import type { FlowContext } from './context.js';

export interface PlanBinding {
  fsb_uuid: string;
  stage_uuid: string;
  kind: string;
  invalid_response_action: 'retry' | 'restart' | 'restart_with_context';
  re_evaluate_policies: boolean;
}

export interface Plan {
  flow_uuid: string;
  bindings: PlanBinding[];
  context: FlowContext;
}

/**
 * a binding a provider or source puts into a plan itself, with no row (authentik's `in_memory_stage`): its stage is
 * found by kind (Services.stageType), under a fixed name that keeps its state in the plan
 */
export const inMemoryBinding = (s: { kind: string; stage: string }): PlanBinding => ({
  fsb_uuid: s.stage,
  stage_uuid: s.stage,
  kind: s.kind,
  invalid_response_action: 'retry',
  re_evaluate_policies: false,
});

/**
 * an in-memory stage put into `plan` at `index` (once), `items` added to the list its state keeps under `key` (the
 * front-channel logouts: more providers join the ones it has)
 */
export function insertInMemoryWithItems(
  plan: Plan,
  s: { kind: string; stage: string },
  key: string,
  items: unknown[],
  index: number,
): void {
  if (!items.length) return;
  const states = (plan.context.stages ??= {});
  const state = (states[s.stage] ??= {});
  state[key] = [...((state[key] as unknown[] | undefined) ?? []), ...items];
  if (!plan.bindings.some((b) => b.stage_uuid === s.stage))
    plan.bindings.splice(Math.min(index, plan.bindings.length), 0, inMemoryBinding(s));
}
