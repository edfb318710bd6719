/** /core/users/ as a REST resource: validation, writes and rendering through the shared resource machinery. */
import { checkAttributes } from '../attributes/validate.js';
import { systemSettings } from '../instance/system-settings/store.js';
import { deleteEventsOfUser } from '../events/events.js';
import { guardTargetUser, guardUserWrite } from '../rbac/guards.js';
import type { FastifyRequest } from 'fastify';
import type { ResourceDef, UsedBy } from '../rest/resource.js';
import type { DB } from '../db/index.js';
import { apiToRow, nowIso } from '../rest/serialize.js';
import { ValidationError } from '../rest/errors.js';
import { compileDjangoQL } from '../rest/djangoql.js';
import { userDeviceUsedBy } from '../mfa/devices-api/used-by.js';
import { subjectUsedBy } from '../policies/base.js';
import { userProps } from './schema.js';
import { type Row, renderUsers } from './render.js';
import { deleteSessionsOf, insertUser, validatePath, writeMemberships } from './store.js';
import type { Sessions } from '../sessions/sessions.js';
import { userFilters, userQLFields } from './filters.js';

/** authentik reads each flag as `str(value).lower() == "true"`: anything else (`false`, `0`, `1`, `yes`) leaves it out */
export const includeFlags = (req: FastifyRequest) => {
  const q = req.query as Record<string, string | string[] | undefined>;
  const flag = (name: string) => {
    const v = q[name];
    return ((Array.isArray(v) ? v[v.length - 1] : v) ?? 'true').toLowerCase() === 'true';
  };
  return { groups: flag('include_groups'), roles: flag('include_roles') };
};

/** sessions a deactivation deleted, by request and user (a blueprint writes several): told to `ended` after the commit */
const endedBy = new WeakMap<object, Map<number, string[]>>();

/**
 * `sessions`: told of the sessions of a user the write deactivated (`endedAll`, after the commit), and ends a user's
 * sessions before their deletion (`endAllOf`): what they signed into ends with them; the export reads only
 */
export function userResource(installId: string, sessions?: Pick<Sessions, 'endedAll' | 'endAllOf'>): ResourceDef<Row> {
  return {
    component: 'User',
    model: 'User',
    path: '/core/users',
    opPrefix: 'core_users',
    tag: 'core',
    lookup: { param: 'id', column: 'id', type: 'int' },
    props: userProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_core.user', verbose: 'User' },
    list: {
      filters: userFilters,
      search: ['email', 'name', 'uuid', 'username'],
      // `?search=` is DjangoQL first; anything that is not falls back to the plain search
      searchQuery: (search, dialect) => {
        const cond = compileDjangoQL(search, userQLFields, dialect);
        return cond && (() => cond);
      },
      ordering: Object.fromEntries(
        ['username', 'date_joined', 'last_updated', 'last_login', 'name', 'email', 'is_active', 'path', 'type', 'uuid']
          .map((k) => [k, k])
          .concat([['pk', 'id']]),
      ),
      defaultOrdering: ['username'],
      pk: 'id',
    },
    extraQuery: [
      { name: 'include_groups', schema: { type: 'boolean', default: true } },
      { name: 'include_roles', schema: { type: 'boolean', default: true } },
    ],
    select: (db) => db.selectFrom('users').selectAll().select('id as pk'),
    render: (db, rows, req) => renderUsers(db, rows, installId, includeFlags(req)),
    validate: async (data, ctx, existing) => {
      validatePath(data.path as string | undefined);
      if (existing?.type === 'internal_service_account') throw ValidationError.nonField("Can't modify internal service account users");
      if (!existing && data.type === 'internal_service_account')
        throw ValidationError.field('type', 'Setting a user to internal service account is not allowed.');
      // DRF's serializer default: a PUT without groups/roles clears them
      if (ctx.mode === 'update') {
        data.groups ??= [];
        data.roles ??= [];
      }
      await guardUserWrite(ctx.db, ctx.caller, existing?.id, data);
    },
    // the object attributes of users (src/attributes/), when attributes are written: checked in the write's transaction,
    // which admin writes take in turn, so two writes cannot both take a unique value
    insert: async (tx, data) => {
      await checkAttributes(tx, 'authentik_core.user', data.attributes ?? {});
      return insertUser(tx, data);
    },
    update: async (tx, existing, data, ctx) => {
      if (data.attributes !== undefined) await checkAttributes(tx, 'authentik_core.user', data.attributes, existing.id);
      const values = { ...apiToRow(userProps, data), last_updated: nowIso() };
      await tx
        .updateTable('users')
        .set(values as never)
        .where('id', '=', existing.id)
        .execute();
      if (data.is_active === false) {
        const byUser = endedBy.get(ctx.req) ?? new Map<number, string[]>();
        byUser.set(existing.id, await deleteSessionsOf(tx, existing.id));
        endedBy.set(ctx.req, byUser);
      }
      await writeMemberships(tx, existing.id, data);
      return existing.id;
    },
    async afterWrite(key, ctx) {
      const byUser = endedBy.get(ctx.req);
      const keys = byUser?.get(Number(key));
      byUser?.delete(Number(key));
      if (keys && sessions) await sessions.endedAll(keys, { userId: Number(key), by: 'admin' });
    },
    // the user's sessions end first, as a logout's (their providers told while the user and their tokens still exist)
    async beforeRemove(existing, ctx) {
      await guardTargetUser(ctx.db, ctx.caller, existing.id);
      await sessions?.endAllOf(existing.id, 'admin');
    },
    remove: async (tx, existing, ctx) => {
      // (through the transaction: with SQLite a read outside it would wait for it)
      await guardTargetUser(tx, ctx.caller, existing.id);
      if ((await systemSettings(tx)).gdpr_compliance) await deleteEventsOfUser(tx, existing.id);
      await tx.deleteFrom('users').where('id', '=', existing.id).execute();
    },
    usedBy: async (db, row): Promise<UsedBy[]> => [
      ...(await userDeviceUsedBy(db, row)),
      ...(await userLinksUsedBy(db, row.id)),
      ...(await subjectUsedBy(db, { user: row.id }, row.name)),
    ],
  };
}

/** the user's groups and roles: deleting the user removes only the links (cascade_many, as authentik's managers) */
async function userLinksUsedBy(db: DB, userId: number): Promise<UsedBy[]> {
  const groups = await db
    .selectFrom('user_groups as m')
    .innerJoin('groups as g', 'g.group_uuid', 'm.group_uuid')
    .select(['g.group_uuid', 'g.name'])
    .where('m.user_id', '=', userId)
    .orderBy('g.name')
    .execute();
  const roles = await db
    .selectFrom('user_roles as m')
    .innerJoin('roles as r', 'r.role_uuid', 'm.role_uuid')
    .select(['r.role_uuid', 'r.name'])
    .where('m.user_id', '=', userId)
    .orderBy('r.name')
    .execute();
  return [
    ...groups.map(
      (g): UsedBy => ({ app: 'authentik_core', model_name: 'group', pk: g.group_uuid, name: `Group ${g.name}`, action: 'cascade_many' }),
    ),
    ...roles.map(
      (r): UsedBy => ({ app: 'authentik_rbac', model_name: 'role', pk: r.role_uuid, name: `Role ${r.name}`, action: 'cascade_many' }),
    ),
  ];
}
