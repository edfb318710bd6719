/**
 * What an expression policy's Python may ask Keystage (authentik's evaluator functions that need the database):
 * `ak_user_by`, `User.objects…` (`user_query`, user-query.ts), `ak_is_group_member`, `ak_user_has_authenticator`, `ak_call_policy`, `ak_create_event`, a
 * user's groups and their merged attributes, and the settings `authentik.lib.config.CONFIG` answers. Each answers
 * JSON; what it throws reaches Python as a ValueError.
 */
import { systemSettings } from '../../instance/system-settings/store.js';
import type { ExpressionHost, Json, JsonObject } from '../../expressions/index.js';
import type { UsersTable } from '../../db/types.js';
import type { EventAction } from '../../events/events.js';
import { allGroupsOf, groupAttributes } from '../../groups/membership.js';
import { entitlementsOf } from '../../applications/entitlements.js';
import { isUuid, normalizeUuid } from '../../rest/validate.js';
import { deviceClasses } from '../../mfa/registry.js';
import type { Services } from '../../services.js';
import type { PolicyRequest } from '../types.js';
import { eventRequestOf } from '../request.js';
import { policyUser } from '../request.js';
import { userQuery, type UserQuery } from './user-query.js';

/** a user as an expression sees it (authentik's User fields) */
export const pyUser = (u: UsersTable, extra: Record<string, unknown> = {}): JsonObject => policyUser(u, extra) as JsonObject;

const USER_FIELDS: Record<string, string> = {
  pk: 'id',
  id: 'id',
  username: 'username',
  email: 'email',
  uuid: 'uuid',
  name: 'name',
  path: 'path',
  type: 'type',
};

const userIdOf = (user: JsonObject): number | undefined => {
  const pk = user.pk ?? user.id;
  return typeof pk === 'number' ? pk : undefined;
};

export function expressionHost(
  svc: Services,
  request: PolicyRequest,
  runPolicy: (name: string, context: JsonObject) => Promise<unknown>,
  /** the evaluator's filename (authentik: the policy's name): the app of the events ak_create_event writes */
  filename = 'PolicyEvaluator',
): ExpressionHost {
  const db = svc.db;
  return {
    async ak_user_by(filters) {
      let q = db.selectFrom('users').selectAll();
      for (const [key, value] of Object.entries(filters)) {
        const [field, lookup] = key.split('__') as [string, string | undefined];
        const column = USER_FIELDS[field];
        // authentik answers None for a field it does not know (FieldError)
        if (!column || (lookup !== undefined && lookup !== 'iexact' && lookup !== 'exact')) return null;
        if (value === null || typeof value === 'object') return null;
        q =
          lookup === 'iexact'
            ? q.where((eb) => eb(eb.fn('lower', [eb.ref(column as 'username')]), '=', String(value).toLowerCase()))
            : q.where(column as 'username', '=', value as never);
      }
      const u = await q.orderBy('id').limit(1).executeTakeFirst();
      return u ? pyUser(u) : null;
    },
    user_query: (query) => userQuery(db, svc.dialect, query as unknown as UserQuery),
    async ak_is_group_member(user, filters) {
      const id = userIdOf(user);
      if (id === undefined) return false;
      const groups = await allGroupsOf(db, id);
      return groups.some((g) =>
        Object.entries(filters).every(([k, v]) => {
          if (k === 'name') return g.name === v;
          if (k === 'name__iexact') return typeof v === 'string' && g.name.toLowerCase() === v.toLowerCase();
          if (k === 'pk' || k === 'group_uuid') return g.group_uuid === v;
          if (k === 'num_pk') return Number(g.num_pk) === v;
          if (k === 'is_superuser') return !!g.is_superuser === v;
          return false;
        }),
      );
    },
    async ak_user_has_authenticator(user, deviceType) {
      const id = userIdOf(user);
      if (id === undefined) return false;
      for (const k of deviceClasses) {
        if (deviceType && k.id !== deviceType) continue;
        if ((await k.devices(db, id)).length) return true;
      }
      return false;
    },
    ak_call_policy: (name, context) => runPolicy(name, context) as never,
    async ak_create_event(action, context) {
      if (request.debug) return;
      const u = request.user;
      // authentik's Event.new: an action that is no EventAction member (any string from Python) gets `custom_`
      await svc.events.emit(`custom_${action}` as EventAction, {
        app: filename,
        ...(u ? { user: { pk: u.id, username: u.username, email: u.email } } : {}),
        req: eventRequestOf(request.http),
        context: context as Record<string, unknown>,
      });
    },
    async user_groups(user, indirect) {
      const id = userIdOf(user);
      if (id === undefined) return [];
      const groups = await allGroupsOf(db, id);
      const direct = indirect
        ? undefined
        : new Set((await db.selectFrom('user_groups').select('group_uuid').where('user_id', '=', id).execute()).map((r) => r.group_uuid));
      return groups
        .filter((g) => !direct || direct.has(g.group_uuid))
        .map((g) => ({
          pk: g.group_uuid,
          num_pk: Number(g.num_pk),
          name: g.name,
          is_superuser: !!g.is_superuser,
          attributes: JSON.parse(g.attributes || '{}') as Json,
        }));
    },
    // the groups' part of authentik's User.group_attributes (Python adds the user's own attributes as it holds them)
    async group_attributes(user) {
      const id = userIdOf(user);
      return id === undefined ? {} : ((await groupAttributes(db, id, {})) as JsonObject);
    },
    async app_entitlements(user, app) {
      const id = userIdOf(user);
      if (id === undefined || !isUuid(app)) return [];
      return (await entitlementsOf(db, id, normalizeUuid(app))).map((e) => ({ ...e, attributes: e.attributes as Json }));
    },
    // authentik.lib.config.CONFIG: the settings of authentik's that Keystage has (the system settings')
    config: async () => {
      const s = await systemSettings(db);
      return {
        default_user_change_email: s.default_user_change_email,
        default_user_change_name: s.default_user_change_name,
        default_user_change_username: s.default_user_change_username,
      };
    },
  };
}

/** the PolicyRequest as Python's `request` (authentik's PolicyRequest: user, http_request, obj, context, debug) */
export function pyRequest(request: PolicyRequest): JsonObject {
  return {
    ...(request.user ? { user: pyUser(request.user) } : {}),
    ...(request.http
      ? {
          http_request: {
            path: request.http.path,
            method: request.http.method,
            headers: request.http.headers,
            client_ip: request.http.clientIp,
            query: request.http.query,
          },
        }
      : {}),
    obj: (request.obj ?? null) as Json,
    context: request.context as JsonObject,
    debug: request.debug,
  };
}
