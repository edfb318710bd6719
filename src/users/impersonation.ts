/**
 * Impersonation (authentik's `impersonate` and `impersonate_end`): someone holding `authentik_core.impersonate` (on
 * the user, or for all) acts as another user in their own browser session until they end it. Events of that time
 * name the impersonator as the user and the impersonated one as `on_behalf_of`, as authentik records them.
 *
 * authentik's answers are kept: 401 with no body when impersonation is off (the system setting `impersonation`), for
 * oneself; 400 on `reason` without one while one is required (`impersonation_require_reason`).
 * Keystage adds: a session is needed (an API token has none to change; 400), an impersonation does not nest (400),
 * a superuser is impersonated only by a superuser (rbac/guards.ts), and it ends when the impersonator is deactivated.
 */
import { systemSettings } from '../instance/system-settings/store.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiRouter } from '../rest/routes.js';
import { requireCaller, type Caller } from '../rest/auth.js';
import { ValidationError } from '../rest/errors.js';
import { S } from '../rest/schema.js';
import { validateBody } from '../rest/validate.js';
import type { UsersTable } from '../db/types.js';
import type { EventUser } from '../events/events.js';
import type { Services } from '../services.js';
import { guardTargetUser } from '../rbac/guards.js';

const ref = (u: UsersTable) => ({ pk: u.id, username: u.username, email: u.email });

/** who an event names: the caller, or during an impersonation the impersonator acting on behalf of the caller */
export function eventUserOf(caller: Caller | undefined): EventUser | null {
  if (!caller) return null;
  if (!caller.impersonator) return ref(caller.user);
  return { ...ref(caller.impersonator), on_behalf_of: ref(caller.user) };
}

type Load = (req: FastifyRequest, action?: string) => Promise<{ row: UsersTable; caller: Caller }>;

export function mountImpersonation(router: ApiRouter, svc: Services, load: Load) {
  const { db } = svc;
  const denied = (reply: FastifyReply) => reply.code(401).send();
  router.component('ImpersonationRequest', {
    type: 'object',
    properties: { reason: { type: 'string', minLength: 1 } },
    required: ['reason'],
  });
  router.route(
    '/core/users/{id}/impersonate',
    {
      post: {
        doc: { operationId: 'core_users_impersonate_create', tag: 'core', body: 'ImpersonationRequest', bodyRequired: true, status: 204 },
        handler: async (req, reply) => {
          const settings = await systemSettings(db);
          if (!settings.impersonation) return denied(reply);
          const { row: target, caller } = await load(req, 'impersonate');
          if (target.id === caller.user.id) return denied(reply);
          const data = await validateBody({ reason: S.text({ 'x-optional': true }) }, req.body ?? {}, { mode: 'create', db });
          // (as sent: authentik reads request.data, so only an empty or missing reason is none)
          const sent = (req.body as Record<string, unknown> | undefined)?.reason;
          const reason = typeof sent === 'string' ? sent : ((data.reason as string | null | undefined) ?? '');
          // authentik's: ValidationError({"reason": "This field is required."})
          if (!reason && settings.impersonation_require_reason) throw ValidationError.bare('reason', 'This field is required.');
          await guardTargetUser(db, caller, target.id);
          if (caller.via !== 'session' || !caller.sessionKey)
            throw ValidationError.nonField('Impersonation needs a browser session: an API token has none to change.');
          if (caller.impersonator) throw ValidationError.nonField('End the current impersonation first.');
          if (!(await svc.sessions.impersonate(caller.sessionKey, { userId: target.id, impersonator: caller.user.id })))
            throw ValidationError.nonField('The session changed meanwhile; try again.');
          await svc.events.emit('impersonation_started', {
            user: { ...ref(caller.user), on_behalf_of: ref(target) },
            req,
            context: { reason },
          });
          reply.code(204);
          return reply.send();
        },
      },
    },
    [{ name: 'id', schema: { type: 'integer', description: 'A unique integer value identifying this User.' } }],
  );
  router.route('/core/users/impersonate_end', {
    get: {
      doc: { operationId: 'core_users_impersonate_end_retrieve', tag: 'core', status: 204 },
      handler: async (req, reply) => {
        const caller = requireCaller(req);
        if (caller.impersonator && caller.sessionKey && (await svc.sessions.impersonate(caller.sessionKey, undefined)))
          await svc.events.emit('impersonation_ended', { user: ref(caller.impersonator), req, context: {} });
        reply.code(204);
        return reply.send();
      },
    },
  });
}
