/** /core/users/: the resource, `me`, `set_password`, `set_password_hash` (and service-accounts.ts: `service_account`, `paths`). */
import { systemSettings } from '../instance/system-settings/store.js';
import { mountResource } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { requireCaller } from '../rest/auth.js';
import { guardTargetUser } from '../rbac/guards.js';
import { heldRoles, systemPermissions } from '../rbac/check.js';
import { validateBody } from '../rest/validate.js';
import { hashPassword, isPasswordHash } from '../auth/passwords.js';
import { ValidationError } from '../rest/errors.js';
import type { Services } from '../services.js';
import { renderUserSelf } from './render.js';
import { allGroupsOf, groupAttributes, isSuperuser } from '../groups/membership.js';
import { setUserPassword } from './store.js';
import { writePasswordToDirectory } from '../sources/ldap/password.js';
import { userResource } from './resource.js';
import { mountImpersonation } from './impersonation.js';
import { mountUserActions } from './service-accounts.js';
import { heldLogins, reconcile } from '../sessions/user-switching.js';
import type { UsersTable } from '../db/types.js';

export function mountUsers(router: ApiRouter, svc: Services) {
  const { db, config: cfg, installId } = svc;
  const res = userResource(installId, svc.sessions);
  // /me must be registered alongside /{id}; fastify prefers the static segment
  /** authentik's UserSelfSerializer: every group the user is a member of (parents included) by name, and the
   * `settings` of the attributes merged from those groups and the user's own */
  const selfOf = async (user: UsersTable, superuser: boolean, avatars: string, brandAttributes: Record<string, unknown>) => {
    const all = await allGroupsOf(db, user.id);
    return {
      ...renderUserSelf(
        user,
        superuser,
        installId,
        all.map((g) => ({ name: g.name, pk: g.group_uuid })),
        (await groupAttributes(db, user.id, user.attributes, all, brandAttributes)).settings,
        avatars,
        await heldRoles(db, user.id),
      ),
      system_permissions: await systemPermissions(db, { user, superuser }),
    };
  };
  // /me must be registered alongside /{id}; fastify prefers the static segment
  router.route('/core/users/me', {
    get: {
      doc: { operationId: 'core_users_me_retrieve', tag: 'core', response: 'SessionUser' },
      handler: async (req, reply) => {
        const caller = requireCaller(req);
        const { avatars } = await systemSettings(db);
        const brand = await svc.brand(req.host);
        const self = await selfOf(caller.user, caller.superuser, avatars, brand.attributes);
        // authentik's `original`: who is impersonating
        if (caller.impersonator) {
          const who = caller.impersonator;
          return { user: self, original: await selfOf(who, await isSuperuser(db, who.id), avatars, brand.attributes), users: [self] };
        }
        // `users`: the logins this browser holds (user switching, when the brand has a switch flow), this one first
        if (!brand.flows.flow_user_switch || caller.via !== 'session' || !caller.sessionKey) return { user: self, users: [self] };
        const token = await reconcile(db, req, reply, svc.secretKey, caller.sessionKey);
        const users = [self];
        for (const held of await heldLogins(db, token, caller.sessionKey))
          if (held.user.id !== caller.user.id)
            users.push(await selfOf(held.user, await isSuperuser(db, held.user.id), avatars, brand.attributes));
        return { user: self, users };
      },
    },
  });
  const { load } = mountResource(router, db, res);
  mountImpersonation(router, svc, load);
  mountUserActions(router, svc, res.list);
  /**
   * a route that sets a user's password (`reset_user_password` on the user): `encoded` turns the validated body into
   * the stored hash; the user's sessions end — all but the caller's own when `keepOwn` and they set their own
   */
  const passwordRoute = (
    action: string,
    body: string,
    field: import('../rest/schema.js').Props,
    encoded: (password: string) => Promise<string>,
    keepOwn: boolean,
  ) =>
    router.route(
      `/core/users/{id}/${action}`,
      {
        post: {
          doc: { operationId: `core_users_${action}_create`, tag: 'core', body, bodyRequired: true, status: 204 },
          handler: async (req, reply) => {
            const { row, caller: by } = await load(req, 'reset_user_password');
            await guardTargetUser(db, by, row.id);
            const data = await validateBody(field, req.body, { mode: 'create', db });
            // a password (not a hash) goes to the user's LDAP directory first: its refusal is a 400 and no change
            if (action === 'set_password') await writePasswordToDirectory(svc, row, data.password as string);
            const hash = await encoded(data.password as string);
            const caller = req.caller!;
            const keep = keepOwn && caller.via === 'session' && caller.user.id === row.id ? caller.sessionKey : undefined;
            const ended = await db.transaction().execute((tx) => setUserPassword(tx, row.id, hash, keep));
            await svc.sessions.endedAll(ended, { userId: row.id, by: caller.user.id === row.id ? 'user' : 'admin' });
            await router.audit?.(req, 'password_set', { user: { pk: row.id, username: row.username } });
            await svc.signals.credentialChanged({ userId: row.id, credentialType: 'password', changeType: 'update' });
            reply.code(204);
            return reply.send();
          },
        },
      },
      [{ name: 'id', schema: { type: 'integer' } }],
    );
  passwordRoute(
    'set_password',
    'UserPasswordSetRequest',
    { password: S.wo(S.str({ 'x-no-trim': true, maxLength: 4096 })) },
    (password) => hashPassword(password, cfg.argon2),
    true,
  );
  // a hash brought from authentik or Django (what verifyPassword checks); every session of the user ends
  passwordRoute(
    'set_password_hash',
    'UserPasswordHashSetRequest',
    { password: S.str({ 'x-no-trim': true, maxLength: 4096 }) },
    async (hash) => {
      if (!isPasswordHash(hash))
        throw ValidationError.field(
          'password',
          'Not a password hash Keystage can verify: argon2id ($argon2id$… or argon2$argon2id$…) or pbkdf2_sha256$….',
        );
      return hash;
    },
    false,
  );
  router.component('UserPasswordHashSetRequest', {
    type: 'object',
    description: "Payload to set a users' password hash directly",
    properties: { password: { type: 'string', minLength: 1 } },
    required: ['password'],
  });
  router.component('UserPasswordSetRequest', {
    type: 'object',
    properties: { password: { type: 'string', minLength: 1, writeOnly: true } },
    required: ['password'],
  });
}
