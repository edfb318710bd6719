/**
 * authentik's SessionEndStage as the SAML provider's in-memory stage: a service provider's logout request ends the
 * Keystage session at this point of the invalidation flow (as the user logout stage does), whatever stages that flow
 * has. No challenge; its configuration is its name.
 */
import { inMemoryBinding, type Plan } from '../../../flows/engine/plan.js';
import { ok, type StageCall, type StageRuntime } from '../../../flows/engine/runtime.js';
import type { ProviderStage } from '../../types.js';

export const SESSION_END = { kind: 'samlsessionendstage', stage: 'saml-session-end' } as const;

async function end(c: StageCall<unknown>) {
  const user = c.requestUser;
  await c.svc.sessions.destroy(c.session, c.reply);
  if (user) await c.svc.events.emit('logout', { user: { pk: user.id, username: user.username, email: user.email }, req: c.req });
  return ok();
}

const runtime: StageRuntime<unknown> = { component: 'ak-stage-session-end', withUserInfo: false, challenge: end, respond: end };

export const sessionEndStage: ProviderStage = {
  kind: SESSION_END.kind,
  app: 'authentik_flows',
  verboseName: 'Session end stage',
  runtime,
  challenges: [],
};

/** the session's end appended to a plan (once) */
export function appendSessionEnd(plan: Plan): void {
  if (!plan.bindings.some((b) => b.stage_uuid === SESSION_END.stage)) plan.bindings.push(inMemoryBinding(SESSION_END));
}
