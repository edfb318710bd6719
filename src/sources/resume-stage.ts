/**
 * The in-memory stage that ends a source's flow started while a source stage had suspended another flow (authentik's
 * SourceStageFinal): the suspended flow is put back into the session and the person sent to it. Beyond authentik: if
 * the suspended flow already had a user (an identification and a password before the source stage) and the source
 * vouched for someone else, the flow is not resumed — the source stage is there to confirm that user, not to switch.
 */
import { deny, show, type StageRuntime, type StageType } from '../flows/engine/runtime.js';
import { inMemoryBinding, type PlanBinding } from '../flows/engine/plan.js';
import { resumeSuspendedFlow } from './suspended-flow.js';

export const RESUME_SUSPENDED = { kind: 'sourcestagefinal', stage: 'source-stage-final' } as const;

export const resumeBinding = (): PlanBinding => inMemoryBinding(RESUME_SUSPENDED);

export const NOT_THE_SAME = 'The account the source signed in is not the one this flow was signing in.';
export const EXPIRED = 'The flow you started is no longer waiting for you (it took too long). Please start again.';

const runtime: StageRuntime<{ name: string }> = {
  component: 'xak-flow-redirect',
  withUserInfo: false,
  async challenge(c) {
    const vouched = await c.pendingUser();
    const r = await resumeSuspendedFlow(c.svc, c.session, {}, (plan) => {
      const earlier = plan.context.pendingUser;
      return !earlier || earlier.id === null || earlier.id === vouched?.id;
    });
    if ('to' in r) return show({ component: 'xak-flow-redirect', to: r.to });
    return deny('refused' in r ? NOT_THE_SAME : EXPIRED);
  },
  async respond(c) {
    return runtime.challenge(c);
  },
};

export const resumeSuspendedStage: StageType = {
  kind: RESUME_SUSPENDED.kind,
  app: 'authentik_stages_source',
  verboseName: 'Source stage final',
  runtime,
};
