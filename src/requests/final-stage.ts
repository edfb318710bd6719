/**
 * The in-memory stage at the end of a request flow (authentik's GrantRequestFinalStageView): the grant request is made
 * for the pending user with what the flow's prompts collected as its justification, the grant's length the shorter of
 * the rules' maximum and the requester's wish — applied here, since a stage of the flow may have changed the wish.
 */
import { inMemoryBinding, type PlanBinding } from '../flows/engine/plan.js';
import { deny, ok, type StageRuntime, type StageType } from '../flows/engine/runtime.js';
import { parseDuration } from '../rest/duration.js';
import { createGrantRequest } from './grants.js';

export const GRANT_REQUEST_FINAL = { kind: 'grantrequestfinalstage', stage: 'requests-grant-request-final' } as const;

export const grantRequestFinalBinding = (): PlanBinding => inMemoryBinding(GRANT_REQUEST_FINAL);

const runtime: StageRuntime<{ name: string }> = {
  component: 'xak-flow-redirect',
  withUserInfo: false,
  async challenge(c) {
    const g = c.ctx.grantRequest;
    const user = await c.pendingUser();
    if (!g || !user) return deny('No access request to make.');
    const max = parseDuration(g.maxExpiry) ?? 3_600_000;
    const wished = g.requestedExpiry ? parseDuration(g.requestedExpiry) : undefined;
    const granted = wished !== undefined && wished < max ? g.requestedExpiry! : g.maxExpiry;
    await createGrantRequest(c.svc, c.req, {
      createdBy: user,
      pbms: g.pbms,
      requesterData: c.ctx.promptData ?? {},
      pendingMs: parseDuration(g.pendingExpiry) ?? 3_600_000,
      grantedExpiry: granted,
    });
    c.ctx.grantRequest = undefined;
    return ok();
  },
  async respond(c) {
    return runtime.challenge(c);
  },
};

export const grantRequestFinalStage: StageType = {
  kind: GRANT_REQUEST_FINAL.kind,
  app: 'authentik_enterprise_requests',
  verboseName: 'Grant request final stage',
  runtime,
};

/** the access requests' in-memory stage by kind (the executor's registry reaches it through Services.stageType) */
export const requestStageByKind = (kind: string): StageType | undefined =>
  kind === GRANT_REQUEST_FINAL.kind ? grantRequestFinalStage : undefined;
