/**
 * The one entry point to start a flow from outside the executor — a stage's `configure_flow`
 * (/flows/-/configure/{stage}/), the `execute` API action, and next a provider's authorization request: the flow is
 * planned with initial context into the request's session, where the flow interface continues it, and `then` is
 * where the person goes when the plan is done (the continuation; it overrides `next`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DB } from '../../db/index.js';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import type { Session, Sessions } from '../../sessions/sessions.js';
import type { PolicyEngine } from '../../policies/engine/engine.js';
import { isSuperuser } from '../../rest/auth.js';
import type { FlowContext } from './context.js';
import { planFlow } from './planner.js';
import type { Plan } from './plan.js';

export interface FlowStart {
  /** who runs it: a logged-in user becomes the pending user */
  user?: UsersTable;
  /** initial context (shared facts only) */
  context?: FlowContext;
  /** where to send the person when the flow is done */
  then?: string;
  /** change the plan before it is stored: a provider's in-memory stages (authentik's `plan.append_stage`) */
  amend?(plan: Plan): void;
  /** the request's session, when the caller has loaded (and maybe changed) it already: saved with the plan */
  session?: Session;
  /**
   * A plan without stages is done at once: end the session's flow and answer 'done' without saving the session
   * (the caller goes on to `then` itself and saves), instead of storing the plan for the flow interface to finish —
   * which would cost the person's browser two more requests (the flow page, then `then`) for the same outcome.
   */
  finishEmpty?: boolean;
  /** told the messages of the policies that made the flow not apply (authentik's FlowNonApplicableException) */
  denied?(messages: string[]): void;
}

/**
 * false when the flow does not apply to the person (its authentication requirement); 'done' (with `finishEmpty`)
 * when the plan has no stages
 */
export async function startFlow(
  svc: { db: DB; sessions: Sessions; policies: PolicyEngine },
  flow: FlowsTable,
  start: FlowStart,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<boolean | 'done'> {
  const { user } = start;
  const context: FlowContext = {
    ...(user ? { pendingUser: { id: user.id, username: user.username, email: user.email, name: user.name } } : {}),
    ...start.context,
    ...(start.then !== undefined ? { redirect: start.then } : {}),
  };
  const r = await planFlow(svc, flow, { user, superuser: user ? await isSuperuser(svc.db, user.id) : false }, context, { req });
  if (r.type === 'not_applicable') {
    start.denied?.(r.messages);
    return false;
  }
  const session = start.session ?? (await svc.sessions.load(req));
  // a flow without stages still carries its context: the executor finishes it at once, with the continuation
  const plan: Plan = r.type === 'plan' ? r.plan : { flow_uuid: flow.flow_uuid, bindings: [], context };
  start.amend?.(plan);
  if (start.finishEmpty && plan.bindings.length === 0) {
    // (what the executor's end of a flow does to the session)
    session.data.plan = undefined;
    session.data.query = undefined;
    session.dirty = true;
    return 'done';
  }
  session.data.plan = plan;
  session.data.query = {};
  session.dirty = true;
  await svc.sessions.save(session, req, reply);
  return true;
}
