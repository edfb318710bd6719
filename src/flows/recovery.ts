/**
 * An administrator's recovery link for a user (authentik's UserViewSet `_create_recovery_link`): the request's
 * brand's `flow_recovery`, planned for nobody logged in with the user pending, saved as a flow token that the first
 * opening of the link uses up — or, for a link sent by e-mail, the person's confirmation (a mail scanner opening it
 * spends nothing); it lasts the system's `default_token_duration` unless `token_duration` says. The identifier is put in the plan as if typed, so an identification stage that asks
 * for nothing else passes on its own and the person continues with the next stage (in the default recovery flow:
 * the e-mail stage, which lets a token's own user through, then the new password).
 * `POST /core/users/{id}/recovery/` answers the link; the e-mail stage's `recovery_email` sends it.
 */
import type { FastifyRequest } from 'fastify';
import type { ApiRouter } from '../rest/routes.js';
import { requireCaller } from '../rest/auth.js';
import { Forbidden, NotFound, ValidationError } from '../rest/errors.js';
import { can, hasGlobal, objectsWith } from '../rbac/check.js';
import { guardTargetUser } from '../rbac/guards.js';
import { durationError, parseDuration } from '../rest/duration.js';
import { validateBody } from '../rest/validate.js';
import { S } from '../rest/schema.js';
import type { UsersTable } from '../db/types.js';
import { userById } from '../users/by-id.js';
import { flowLink, linkBase } from '../brands/links.js';
import type { Services } from './engine/runtime.js';
import { planFlow } from './engine/planner.js';
import { createFlowToken, QS_KEY_TOKEN } from './engine/tokens.js';
import { linkConfirmBinding } from './engine/link-confirm.js';
import type { Plan } from './engine/plan.js';
import { defaultTokenDurationMs } from '../tokens/tokens.js';

export interface RecoveryLink {
  link: string;
  expires: Date;
}

/** the user of `/core/users/{id}/…`, or DRF's 404 */
/**
 * The user named in the URL, for whoever may reset their password (authentik's `reset_user_password`, for the whole
 * model or on that user): 403 before 404 for a caller holding it on no one, and never a superuser for someone who is
 * not one (rbac/guards.ts).
 */
export async function recoveryTarget(svc: Services, req: FastifyRequest): Promise<UsersTable> {
  const caller = requireCaller(req);
  const perm = 'authentik_core.reset_user_password';
  if (!(await hasGlobal(svc.db, caller, perm)) && !(await objectsWith(svc.db, caller, perm)).size) throw Forbidden.permission();
  const id = Number((req.params as { id: string }).id);
  const user = Number.isSafeInteger(id) ? await userById(svc.db, id) : undefined;
  if (!user || !(await can(svc.db, caller, perm, user.id))) throw NotFound.model('User');
  await guardTargetUser(svc.db, caller, user.id);
  return user;
}

/** the body's `token_duration` as milliseconds (400 on the field when it is no duration); else the system settings' `default_token_duration` */
export async function tokenDuration(svc: Services, raw: unknown): Promise<number> {
  if (typeof raw !== 'string' || raw === '') return defaultTokenDurationMs(svc.db);
  const ms = parseDuration(raw);
  if (ms === undefined || ms <= 0) throw ValidationError.field('token_duration', durationError(raw));
  return ms;
}

export async function createRecoveryLink(
  svc: Services,
  req: FastifyRequest,
  user: UsersTable,
  durationMs: number,
  /** a link to be e-mailed: confirmed before it is used up, so a mail scanner opening it does not spend it */
  forEmail = false,
): Promise<RecoveryLink> {
  const brand = await svc.brand(req.host);
  const flowUuid = brand.flows.flow_recovery;
  const flow = flowUuid ? await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', flowUuid).executeTakeFirst() : undefined;
  if (!flow) throw ValidationError.bare('non_field_errors', 'No recovery flow set.');
  const base = await linkBase(svc, req);
  if (!base) throw ValidationError.nonField('Recovery links cannot be built: set KEYSTAGE_EXTERNAL_URL or give the brand its domain.');
  const context = {
    pendingUser: { id: user.id, username: user.username, email: user.email, name: user.name },
    pendingUserIdentifier: user.username,
  };
  const r = await planFlow(svc, flow, { user: undefined, superuser: false }, context, { req });
  if (r.type === 'not_applicable') throw ValidationError.bare('non_field_errors', 'Recovery flow not applicable to user');
  const plan: Plan = r.type === 'plan' ? r.plan : { flow_uuid: flow.flow_uuid, bindings: [], context };
  // (authentik's _create_recovery_link(for_email=True): revoke_on_execution off, a consent first)
  if (forEmail) plan.bindings.unshift(linkConfirmBinding());
  const expires = new Date(Date.now() + durationMs);
  const token = await createFlowToken(svc.db, {
    flowUuid: flow.flow_uuid,
    userId: user.id,
    identifier: `${user.uuid}-password-reset`,
    plan,
    expires,
    revokeOnExecution: !forEmail,
  });
  return { link: flowLink(base, flow.slug, { [QS_KEY_TOKEN]: token.key }), expires };
}

export function mountRecoveryLink(router: ApiRouter, svc: Services) {
  router.route(
    '/core/users/{id}/recovery',
    {
      post: {
        doc: { operationId: 'core_users_recovery_create', tag: 'core', body: 'UserRecoveryLinkRequest', response: 'Link' },
        handler: async (req) => {
          const user = await recoveryTarget(svc, req);
          const data = await validateBody({ token_duration: S.str({ 'x-optional': true }) }, req.body ?? {}, {
            mode: 'create',
            db: svc.db,
          });
          const r = await createRecoveryLink(svc, req, user, await tokenDuration(svc, data.token_duration));
          return { link: r.link };
        },
      },
    },
    [{ name: 'id', schema: { type: 'integer' } }],
  );
  router.component('UserRecoveryLinkRequest', {
    type: 'object',
    description: 'Payload to create a recovery link',
    properties: { token_duration: { type: 'string', minLength: 1 } },
  });
  router.component('Link', {
    type: 'object',
    description: 'Returns a single link',
    properties: { link: { type: 'string' } },
    required: ['link'],
  });
}
