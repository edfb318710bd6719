/**
 * `POST /core/users/account_lockdown/` (authentik's UserAccountLockdownMixin): `{user}` — or nobody, for oneself —
 * chosen before the flow starts. The request's brand's `flow_lockdown` is planned with that user pending, for the
 * caller (its authentication requirement and policies), and `{link}` answers where to run it:
 *
 * - a caller logged in with a browser session gets the plan in that session (authentik's `plan.to_redirect`) and the
 *   flow's page as the link;
 * - a caller with an API token has no session to keep it in: beyond authentik (whose link would start a fresh plan
 *   locking whoever opens it), the plan is saved as a single-use flow token for 30 minutes, which the link carries.
 *   The stage still checks, when it runs, that whoever opens it may lock the account.
 *
 * 400 `non_field_errors` "No lockdown flow configured." / "Lockdown flow is not applicable."; 403 when the caller may
 * not lock that account (target.ts); 400 on `user` for an unknown user or an internal service account.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../flows/engine/runtime.js';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, ValidationError } from '../../rest/errors.js';
import { userById } from '../../users/by-id.js';
import { planFlow } from '../../flows/engine/planner.js';
import type { FlowContext } from '../../flows/engine/context.js';
import type { Plan } from '../../flows/engine/plan.js';
import { createFlowToken, QS_KEY_TOKEN } from '../../flows/engine/tokens.js';
import { flowLink, requestOrigin } from '../../brands/links.js';
import { canLockUser, lockable } from './target.js';

const TOKEN_LIFETIME_MS = 30 * 60_000;

/** the body's `user` (absent or null: the caller) */
async function targetOf(svc: Services, body: unknown, caller: UsersTable): Promise<UsersTable> {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body)))
    throw ValidationError.nonField('Invalid data. Expected a dictionary, but got str.');
  const raw = (body as { user?: unknown } | null | undefined)?.user;
  if (raw === undefined || raw === null) return caller;
  if (typeof raw === 'boolean' || !Number.isSafeInteger(typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw))
    throw ValidationError.field('user', `Incorrect type. Expected pk value, received ${typeof raw === 'string' ? 'str' : typeof raw}.`);
  const user = await userById(svc.db, Number(raw));
  if (!user || !lockable(user)) throw ValidationError.field('user', `Invalid pk "${String(raw)}" - object does not exist.`);
  return user;
}

async function lockdownLink(svc: Services, req: FastifyRequest, reply: FastifyReply): Promise<{ link: string }> {
  const caller = requireCaller(req);
  const target = await targetOf(svc, req.body, caller.user);
  if (!(await canLockUser(svc.db, caller.user, target))) throw Forbidden.permission();
  const brand = await svc.brand(req.host);
  const flowUuid = brand.flows.flow_lockdown;
  const flow = flowUuid
    ? ((await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', flowUuid).executeTakeFirst()) as FlowsTable | undefined)
    : undefined;
  if (!flow) throw ValidationError.nonField('No lockdown flow configured.');
  const context: FlowContext = {
    pendingUser: { id: target.id, username: target.username, email: target.email, name: target.name },
    lockdownRequested: true,
  };
  const r = await planFlow(svc, flow, { user: caller.user, superuser: caller.superuser }, context, { req });
  // (authentik's EmptyFlowException too: a flow without stages locks nothing)
  if (r.type !== 'plan') throw ValidationError.nonField('Lockdown flow is not applicable.');
  const plan: Plan = r.plan;
  if (caller.via === 'session') {
    const session = await svc.sessions.load(req);
    if (session.userId === caller.user.id) {
      session.data.plan = plan;
      session.data.query = {};
      session.dirty = true;
      await svc.sessions.save(session, req, reply);
      return { link: flowLink(requestOrigin(req), flow.slug, {}) };
    }
  }
  const token = await createFlowToken(svc.db, {
    flowUuid: flow.flow_uuid,
    userId: target.id,
    identifier: `${target.uuid}-account-lockdown`,
    plan,
    expires: new Date(Date.now() + TOKEN_LIFETIME_MS),
    revokeOnExecution: true,
  });
  return { link: flowLink(requestOrigin(req), flow.slug, { [QS_KEY_TOKEN]: token.key }) };
}

export function mountAccountLockdown(router: ApiRouter, svc: Services) {
  router.component('UserAccountLockdownRequest', {
    type: 'object',
    description: 'Choose the target account before starting the lockdown flow.',
    properties: {
      user: {
        type: 'integer',
        nullable: true,
        description: 'User to lock. If omitted, locks the current user (self-service).',
      },
    },
  });
  router.route('/core/users/account_lockdown', {
    post: {
      doc: {
        operationId: 'core_users_account_lockdown_create',
        tag: 'core',
        body: 'UserAccountLockdownRequest',
        response: 'Link',
      },
      handler: (req, reply) => lockdownLink(svc, req, reply),
    },
  });
}
