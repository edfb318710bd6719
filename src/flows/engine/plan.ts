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
