/**
 * A flow suspended while the person visits a source (authentik's source stage: `SESSION_KEY_OVERRIDE_FLOW_TOKEN`
 * and SourceStageFinal). The source stage saves the running plan in a flow token that expires after its
 * `resume_timeout`, and notes the token in the session (never in a URL: only this browser session can resume it).
 * When the source's own flow for that source has run — or the person was linked without a flow — the suspended plan
 * is restored into the session (the token used up, the plan marked restored) and the person is sent back to it, where
 * the source stage sees its own token restored and passes.
 */
import type { Services } from '../services.js';
import type { Session } from '../sessions/sessions.js';
import type { FlowContext } from '../flows/engine/context.js';
import type { Plan } from '../flows/engine/plan.js';
import { createFlowToken, takeFlowToken } from '../flows/engine/tokens.js';

// beside the OAuth logins kept by source slug: a space is in no slug
const KEY = 'suspended flow';

export interface SuspendedFlow {
  /** the flow token holding the plan */
  token: string;
  flowUuid: string;
  slug: string;
  /** the flow page's query when it was suspended */
  query: Record<string, string>;
  /** the source the person was sent to */
  source: string;
  /** the matching failures that resume the flow instead of ending at the source (`resume_on_match_failures`) */
  resumeOn: string[];
}

export const suspendedFlow = (session: Session): SuspendedFlow | undefined => session.data.sources?.[KEY] as SuspendedFlow | undefined;

export function forgetSuspendedFlow(session: Session): void {
  if (!session.data.sources?.[KEY]) return;
  const { [KEY]: _gone, ...rest } = session.data.sources;
  session.data.sources = rest;
  session.dirty = true;
}

/** saves `plan` in a token valid for `timeoutMs` and notes it in the session (the caller's request saves the session) */
export async function suspendFlow(
  svc: Pick<Services, 'db'>,
  session: Session,
  s: {
    plan: Plan;
    flow: { flow_uuid: string; slug: string };
    query: Record<string, string>;
    userId: number | null;
    identifier: string;
    timeoutMs: number;
    source: string;
    resumeOn: string[];
  },
): Promise<void> {
  const previous = suspendedFlow(session);
  // one suspended flow per session: an earlier one's token goes
  if (previous) await svc.db.deleteFrom('flow_tokens').where('id', '=', previous.token).execute();
  const { id } = await createFlowToken(svc.db, {
    flowUuid: s.flow.flow_uuid,
    userId: s.userId,
    identifier: s.identifier,
    plan: s.plan,
    expires: new Date(Date.now() + s.timeoutMs),
    revokeOnExecution: true,
  });
  const marker: SuspendedFlow = {
    token: id,
    flowUuid: s.flow.flow_uuid,
    slug: s.flow.slug,
    query: s.query,
    source: s.source,
    resumeOn: s.resumeOn,
  };
  session.data.sources = { ...session.data.sources, [KEY]: marker };
  session.dirty = true;
}

export type Resumed = { to: string } | { gone: true } | { refused: true };

/**
 * Puts the suspended flow back into the session, with `extra` added to its context: `to` is the flow page to send
 * the person to; `gone` when there is none, or its token has expired or been used; `refused` when `accept` refused
 * the restored plan (its user is not the source's). Either way the token is used up and the note dropped.
 */
export async function resumeSuspendedFlow(
  svc: Pick<Services, 'db'>,
  session: Session,
  extra: Partial<FlowContext> = {},
  accept: (plan: Plan) => boolean = () => true,
): Promise<Resumed> {
  const marker = suspendedFlow(session);
  if (!marker) return { gone: true };
  const plan = await takeFlowToken(svc.db, marker.token);
  if (!plan || !accept(plan)) {
    forgetSuspendedFlow(session);
    return plan ? { refused: true } : { gone: true };
  }
  Object.assign(plan.context, extra);
  session.data.plan = plan;
  session.data.query = marker.query;
  session.dirty = true;
  const qs = new URLSearchParams(marker.query).toString();
  return { to: `/if/flow/${encodeURIComponent(marker.slug)}/${qs ? `?${qs}` : ''}` };
}
