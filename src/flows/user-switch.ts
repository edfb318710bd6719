/**
 * `POST /core/users/switch/` (authentik 2026.8's browser user switching): `{action: "add"}` plans the brand's
 * authentication flow to log another person in beside the caller; `{action: "switch", user_pk}` plans the brand's
 * `flow_user_switch` for the newest live login of that user this browser holds, with the user pending and their
 * username as the identifier. The plan goes into the caller's session and `{redirect}` is the flow's page (with
 * `?next=`); the user login stage at the flow's end keeps the caller's login for the browser to switch back to
 * (src/stages/user_login/stage.ts). Which logins a browser holds: src/sessions/user-switching.ts.
 *
 * 400 "User switching is disabled." without a `flow_user_switch`; a switch flow the caller may not run, a user the
 * browser holds no live login of, or the caller themselves is a 404, as authentik's. Beyond authentik: it needs a
 * browser session (an API token holds no logins) and is refused while impersonating.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FlowsTable } from '../db/types.js';
import { flowLink, requestOrigin } from '../brands/links.js';
import { requireCaller } from '../rest/auth.js';
import { NotFound, ValidationError } from '../rest/errors.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { validateBody } from '../rest/validate.js';
import { heldLogins, reconcile } from '../sessions/user-switching.js';
import type { Services } from '../services.js';
import { defaultFlow } from './browser/urls.js';
import { isRelative } from './engine/challenge.js';
import type { FlowContext } from './engine/context.js';
import { planFlow } from './engine/planner.js';

const ACTIONS = ['add', 'switch'] as const;
const bodyProps = {
  action: S.enumOf(ACTIONS, { default: 'switch' }),
  user_pk: S.int({ 'x-optional': true }),
};

async function startSwitch(svc: Services, req: FastifyRequest, reply: FastifyReply): Promise<{ redirect: string }> {
  const caller = requireCaller(req);
  const brand = await svc.brand(req.host);
  if (!brand.flows.flow_user_switch) throw ValidationError.nonField('User switching is disabled.');
  if (caller.via !== 'session' || !caller.sessionKey) throw ValidationError.nonField('User switching needs a browser session.');
  if (caller.impersonator) throw ValidationError.nonField('User switching is not available while impersonating.');
  const data = await validateBody(bodyProps, req.body ?? {}, { mode: 'create', db: svc.db });
  const action = (data.action ?? 'switch') as (typeof ACTIONS)[number];
  const userPk = (data.user_pk ?? undefined) as number | undefined;
  if (action === 'switch' && userPk === undefined) throw ValidationError.field('user_pk', 'This field is required.');
  if (userPk === caller.user.id) throw NotFound.plain();
  const token = await reconcile(svc.db, req, reply, svc.secretKey, caller.sessionKey);
  const who = { user: caller.user, superuser: caller.superuser };

  let flow: FlowsTable | undefined;
  let context: FlowContext;
  if (action === 'add') {
    const f = await defaultFlow(svc, req, 'authentication');
    flow =
      f &&
      ((await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', f.flow_uuid).executeTakeFirst()) as FlowsTable | undefined);
    context = { userSwitch: { add: true, from: caller.user.id } };
  } else {
    flow = (await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', brand.flows.flow_user_switch).executeTakeFirst()) as
      | FlowsTable
      | undefined;
    // the switch flow's policies decide for the person switching (authentik: the flow applies to the current user)
    if (!flow || (await planFlow(svc, flow, who, {}, { req })).type === 'not_applicable') throw NotFound.plain();
    const target = (await heldLogins(svc.db, token, caller.sessionKey)).find((l) => l.user.id === userPk);
    if (!target) throw NotFound.plain();
    const u = target.user;
    context = {
      pendingUser: { id: u.id, username: u.username, email: u.email, name: u.name },
      pendingUserIdentifier: u.username,
      userSwitch: { from: caller.user.id, target: target.sessionKey },
    };
  }
  if (!flow) throw NotFound.plain();
  const r = await planFlow(svc, flow, who, context, { req });
  if (r.type !== 'plan') throw NotFound.plain();
  const next = (req.query as { next?: unknown }).next;
  const query: Record<string, string> = typeof next === 'string' && isRelative(next) ? { next } : {};
  const session = await svc.sessions.load(req);
  if (session.key !== caller.sessionKey) throw NotFound.plain();
  session.data.plan = r.plan;
  session.data.query = query;
  session.dirty = true;
  await svc.sessions.save(session, req, reply);
  return { redirect: flowLink(requestOrigin(req), flow.slug, query) };
}

export function mountUserSwitch(router: ApiRouter, svc: Services) {
  router.component('UserSwitchActionEnum', { enum: [...ACTIONS], type: 'string' });
  router.component('UserSwitchRequest', {
    type: 'object',
    description: 'Request to add or switch users in the current browser.',
    properties: {
      action: { allOf: [{ $ref: '#/components/schemas/UserSwitchActionEnum' }], default: 'switch' },
      user_pk: { type: 'integer' },
    },
  });
  router.component('UserSwitchResponse', {
    type: 'object',
    description: 'Redirect returned after planning a user switch.',
    properties: { redirect: { type: 'string', readOnly: true } },
    required: ['redirect'],
  });
  router.route('/core/users/switch', {
    post: {
      doc: {
        operationId: 'core_users_switch_create',
        tag: 'core',
        query: [{ name: 'next', schema: { type: 'string' } }],
        body: 'UserSwitchRequest',
        response: 'UserSwitchResponse',
      },
      handler: (req, reply) => startSwitch(svc, req, reply),
    },
  });
}
