/** /core/users/: the resource, `me`, `set_password` (and service-accounts.ts: `service_account`, `paths`, `set_password_hash`). */
import { systemSettings } from '../instance/system-settings/store.js';
import { mountResource } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { requireCaller } from '../rest/auth.js';
import { guardTargetUser } from '../rbac/guards.js';
import { systemPermissions } from '../rbac/check.js';
import { validateBody } from '../rest/validate.js';
import { hashPassword } from '../auth/passwords.js';
import type { Services } from '../services.js';
import { renderUserSelf } from './render.js';
import { allGroupsOf, groupAttributes, isSuperuser } from '../groups/membership.js';
import { setUserPassword } from './store.js';
import { userResource } from './resource.js';
import { mountImpersonation } from './impersonation.js';
import { mountUserActions } from './service-accounts.js';

export function mountUsers(router: ApiRouter, svc: Services) {
  const { db, config: cfg, installId } = svc;
  const res = userResource(installId);
  // /me must be registered alongside /{id}; fastify prefers the static segment
  router.route('/core/users/me', {
    get: {
      doc: { operationId: 'core_users_me_retrieve', tag: 'core', response: 'SessionUser' },
      handler: async (req) => {
        const caller = requireCaller(req);
        // authentik's UserSelfSerializer: every group the user is a member of (parents included) by name, and the
        // `settings` of the attributes merged from those groups and the user's own
        const all = await allGroupsOf(db, caller.user.id);
        const groups = all.map((g) => ({ name: g.name, pk: g.group_uuid }));
        const settings = (await groupAttributes(db, caller.user.id, caller.user.attributes, all)).settings;
        const { avatars } = await systemSettings(db);
        const self = {
          ...renderUserSelf(caller.user, caller.superuser, installId, groups, settings, avatars),
          system_permissions: await systemPermissions(db, caller),
        };
        if (!caller.impersonator) return { user: self, users: [self] };
        // authentik's `original`: who is impersonating
        const who = caller.impersonator;
        const whoGroups = await allGroupsOf(db, who.id);
        const whoSuper = await isSuperuser(db, who.id);
        const original = {
          ...renderUserSelf(
            who,
            whoSuper,
            installId,
            whoGroups.map((g) => ({ name: g.name, pk: g.group_uuid })),
            (await groupAttributes(db, who.id, who.attributes, whoGroups)).settings,
            avatars,
          ),
          system_permissions: await systemPermissions(db, { user: who, superuser: whoSuper }),
        };
        return { user: self, original, users: [self] };
      },
    },
  });
  const { load } = mountResource(router, db, res);
  mountImpersonation(router, svc, load);
  mountUserActions(router, svc, load, res.list);
  router.route(
    '/core/users/{id}/set_password',
    {
      post: {
        doc: {
          operationId: 'core_users_set_password_create',
          tag: 'core',
          body: 'UserPasswordSetRequest',
          bodyRequired: true,
          status: 204,
        },
        handler: async (req, reply) => {
          const { row, caller: by } = await load(req, 'reset_user_password');
          await guardTargetUser(db, by, row.id);
          const data = await validateBody({ password: S.wo(S.str({ 'x-no-trim': true, maxLength: 4096 })) }, req.body, {
            mode: 'create',
            db,
          });
          const encoded = await hashPassword(data.password as string, cfg.argon2);
          const caller = req.caller!;
          // a caller setting their own password through a session keeps that session; every other one ends
          const keep = caller.via === 'session' && caller.user.id === row.id ? caller.sessionKey : undefined;
          await db.transaction().execute((tx) => setUserPassword(tx, row.id, encoded, keep));
          await router.audit?.(req, 'password_set', { user: { pk: row.id, username: row.username } });
          reply.code(204);
          return reply.send();
        },
      },
    },
    [{ name: 'id', schema: { type: 'integer' } }],
  );
  router.component('UserPasswordSetRequest', {
    type: 'object',
    properties: { password: { type: 'string', minLength: 1, writeOnly: true } },
    required: ['password'],
  });
}
