/** /core/users/: users, set_password, me. */
import { createHash, randomUUID } from 'node:crypto';
import { sql, type SqlBool } from 'kysely';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { mountResource, type ResourceDef, type Tx, type UsedBy } from '../api/resource.js';
import type { ApiRouter } from '../api/routes.js';
import { S, type Props } from '../api/schema.js';
import { apiToRow, nowIso, rowToApi } from '../api/serialize.js';
import { ValidationError } from '../api/errors.js';
import { parseBool, type FilterSpec } from '../api/list.js';
import { compileDjangoQL, type QLField } from '../api/djangoql.js';
import { requireCaller, requireSuperuser, superuserIds } from '../api/auth.js';
import { validateBody } from '../api/validate.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import type { Config } from '../config.js';
import { initialsAvatar } from './avatar.js';
import { hashPassword, unusablePassword } from './passwords.js';
import { userDeviceUsedBy } from '../mfa/devices-api/used-by.js';

export const USER_TYPES = ['internal', 'external', 'service_account', 'internal_service_account'] as const;

export const userProps: Props = {
  pk: S.ro(Type.Integer()),
  username: S.str({ maxLength: 150, 'x-unique': { table: 'users', column: 'username', self: 'id', message: 'This field must be unique.' } }),
  name: S.text(),
  is_active: S.bool({ default: true, description: 'Designates whether this user should be treated as active. Unselect this instead of deleting accounts.' }),
  last_login: S.datetime({ nullable: true, default: null }),
  date_joined: S.ro(S.datetime()),
  is_superuser: S.ro(S.bool({ 'x-computed': true })),
  groups: S.m2m({ table: 'groups', column: 'group_uuid' }, { default: [], 'x-m2m-table': true }),
  groups_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/PartialGroup' }), { nullable: true, 'x-computed': true })),
  roles: S.m2m({ table: 'roles', column: 'role_uuid' }, { default: [], 'x-m2m-table': true }),
  roles_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/Role' }), { nullable: true, 'x-computed': true })),
  email: S.text({ format: 'email', maxLength: 254, default: '' }),
  avatar: S.ro(S.text({ 'x-computed': true })),
  attributes: S.obj({ default: {} }),
  uid: S.ro(S.text({ 'x-computed': true })),
  path: S.str({ default: 'users' }),
  type: S.enumOf(USER_TYPES, { default: 'internal' }),
  uuid: S.ro(S.uuid()),
  password_change_date: S.ro(S.datetime()),
  last_updated: S.ro(S.datetime()),
};

type Row = UsersTable & { pk: number };

const uidOf = (id: number, installId: string) => createHash('sha256').update(`${id}-${installId}`).digest('hex');

export async function renderUsers(db: DB, rows: Row[], installId: string, opts: { groups: boolean; roles: boolean } = { groups: true, roles: true }) {
  const ids = rows.map((r) => r.id);
  const supers = await superuserIds(db, ids);
  const groups = ids.length
    ? await db
        .selectFrom('user_groups')
        .innerJoin('groups', 'groups.group_uuid', 'user_groups.group_uuid')
        .select(['user_groups.user_id', 'groups.group_uuid', 'groups.num_pk', 'groups.name', 'groups.is_superuser', 'groups.attributes'])
        .where('user_groups.user_id', 'in', ids)
        .orderBy('groups.name')
        .execute()
    : [];
  const roles = ids.length
    ? await db
        .selectFrom('user_roles')
        .innerJoin('roles', 'roles.role_uuid', 'user_roles.role_uuid')
        .select(['user_roles.user_id', 'roles.role_uuid', 'roles.name'])
        .where('user_roles.user_id', 'in', ids)
        .orderBy('roles.name')
        .execute()
    : [];
  return rows.map((r) => {
    const g = groups.filter((x) => x.user_id === r.id);
    const ro = roles.filter((x) => x.user_id === r.id);
    return {
      ...rowToApi(userProps, r),
      pk: r.id,
      is_superuser: supers.has(r.id),
      groups: g.map((x) => x.group_uuid),
      groups_obj: opts.groups
        ? g.map((x) => ({ pk: x.group_uuid, num_pk: x.num_pk, name: x.name, is_superuser: !!x.is_superuser, attributes: JSON.parse(x.attributes) }))
        : null,
      roles: ro.map((x) => x.role_uuid),
      roles_obj: opts.roles ? ro.map((x) => ({ pk: x.role_uuid, name: x.name })) : null,
      avatar: initialsAvatar(r.name, r.username),
      uid: uidOf(r.id, installId),
    };
  });
}

/** authentik's PartialUser, as embedded in devices */
export function partialUser(r: UsersTable, installId: string) {
  return {
    pk: r.id,
    username: r.username,
    name: r.name,
    is_active: !!r.is_active,
    last_login: rowToApi({ d: S.datetime() }, { d: r.last_login }).d,
    email: r.email,
    attributes: JSON.parse(r.attributes || '{}'),
    uid: uidOf(r.id, installId),
  };
}

function validatePath(path: string | undefined) {
  if (path === undefined) return;
  if (path.startsWith('/') || path.endsWith('/')) throw ValidationError.field('path', 'No leading or trailing slashes allowed.');
  if (path.split('/').some((s) => s === '')) throw ValidationError.field('path', 'No empty segments in user path allowed.');
}

async function writeMemberships(tx: Tx, userId: number, data: Record<string, unknown>) {
  if (Array.isArray(data.groups)) {
    await tx.deleteFrom('user_groups').where('user_id', '=', userId).execute();
    for (const g of new Set(data.groups as string[])) await tx.insertInto('user_groups').values({ user_id: userId, group_uuid: g }).execute();
  }
  if (Array.isArray(data.roles)) {
    await tx.deleteFrom('user_roles').where('user_id', '=', userId).execute();
    for (const r of new Set(data.roles as string[])) await tx.insertInto('user_roles').values({ user_id: userId, role_uuid: r }).execute();
  }
}

export async function insertUser(tx: Tx, data: Record<string, unknown>, password?: string): Promise<number> {
  const now = nowIso();
  const values = {
    uuid: randomUUID(),
    password: password ?? unusablePassword(),
    date_joined: now,
    password_change_date: now,
    last_updated: now,
    name: '',
    email: '',
    is_active: 1,
    last_login: null,
    path: 'users',
    type: 'internal',
    attributes: '{}',
    ...apiToRow(userProps, data),
  };
  const row = await tx.insertInto('users').values(values as never).returning('id').executeTakeFirstOrThrow();
  await writeMemberships(tx, row.id, data);
  return row.id;
}

/**
 * Every place that sets a user's password goes through here (not the transparent re-hash at login): the change date
 * moves (remembered MFA checks are bound to it) and the user's sessions end — all but `keepSession`, the caller's
 * own when they set their own password — as Django's session hash check does when the stored hash changes.
 */
export async function setUserPassword(tx: Tx, userId: number, encoded: string, keepSession?: string): Promise<void> {
  const now = nowIso();
  await tx.updateTable('users').set({ password: encoded, password_change_date: now, last_updated: now }).where('id', '=', userId).execute();
  let q = tx.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepSession) q = q.where('session_key', '<>', keepSession);
  await q.execute();
}

const multi = (column: string, values: readonly string[], label = (v: string) => v): FilterSpec => ({
  type: 'custom',
  parse: (vals) => {
    const chosen = vals.filter((v) => v !== '');
    if (!chosen.length) return { cond: undefined };
    const bad = chosen.find((v) => !values.includes(v));
    if (bad !== undefined) return { error: [`Select a valid choice. ${label(bad)} is not one of the available choices.`] };
    return { cond: (eb) => eb(sql.ref(column), 'in', chosen) };
  },
});

const membership = (junction: 'user_groups' | 'user_roles', table: 'groups' | 'roles', key: 'group_uuid' | 'role_uuid', by: 'name' | 'pk'): FilterSpec => ({
  type: 'm2m',
  ref: { table, column: by === 'pk' ? key : 'name' },
  byName: by === 'name',
  exists: (eb, ids) =>
    eb.exists(
      eb
        .selectFrom(`${junction} as j`)
        .innerJoin(`${table} as x`, `x.${key}`, `j.${key}`)
        .select(sql`1`.as('one'))
        .whereRef('j.user_id', '=', 'users.id')
        .where(by === 'pk' ? `x.${key}` : 'x.name', 'in', ids),
    ),
});

/**
 * `attributes={"key": value, "a__b": value}`: every key (Django's `__` for nesting) equals its JSON value exactly.
 * Invalid JSON is authentik's top-level list error.
 */
const attributesFilter: FilterSpec = {
  type: 'custom',
  parse: (vals, dialect) => {
    const raw = vals[vals.length - 1] ?? '';
    if (raw === '') return { cond: undefined };
    let wanted: unknown;
    try {
      wanted = JSON.parse(raw);
    } catch {
      throw new ValidationError(['filter: failed to parse JSON']);
    }
    if (typeof wanted !== 'object' || wanted === null || Array.isArray(wanted)) throw new ValidationError(['filter: value must be key:value mapping']);
    const pairs = Object.entries(wanted as Record<string, unknown>).map(([k, v]) => ({ path: k.split('__'), json: JSON.stringify(v) }));
    if (!pairs.length) return { cond: undefined };
    return {
      cond: (eb) =>
        eb.and(
          pairs.map(({ path, json }) =>
            dialect === 'postgres'
              ? sql<SqlBool>`(users.attributes::jsonb #> ${path}::text[]) = ${json}::jsonb`
              : // json_extract gives SQL scalars, so compare the JSON text of both sides
                sql<SqlBool>`json_quote(json_extract(users.attributes, ${jsonPath(path)})) = json_quote(json_extract(${`{"v":${json}}`}, '$.v'))`,
          ),
        ),
    };
  },
};

/** a SQLite JSON path with every key quoted */
const jsonPath = (keys: string[]) => '$' + keys.map((k) => `."${k.replace(/["\\]/g, '')}"`).join('');

const userFilters: Record<string, FilterSpec> = {
  username: { type: 'str', column: 'username' },
  email: { type: 'str', column: 'email' },
  name: { type: 'str', column: 'name' },
  path: { type: 'str', column: 'path' },
  path_startswith: { type: 'str', column: 'path', op: 'startswith' },
  uuid: { type: 'uuid', column: 'uuid' },
  type: multi('type', USER_TYPES),
  is_active: { type: 'bool', column: 'is_active' },
  is_superuser: {
    type: 'custom',
    parse: (vals) => {
      const b = parseBool(vals[vals.length - 1] ?? '');
      if (b === undefined) return { cond: undefined };
      return {
        cond: (eb) => {
          const ex = eb.exists(
            eb
              .selectFrom('user_groups as j')
              .innerJoin('groups as g', 'g.group_uuid', 'j.group_uuid')
              .select(sql`1`.as('one'))
              .whereRef('j.user_id', '=', 'users.id')
              .where('g.is_superuser', '=', 1),
          );
          return b ? ex : eb.not(ex);
        },
      };
    },
  },
  date_joined: { type: 'datetime', column: 'date_joined' },
  date_joined__gt: { type: 'datetime', column: 'date_joined', op: '>' },
  date_joined__lt: { type: 'datetime', column: 'date_joined', op: '<' },
  last_login: { type: 'datetime', column: 'last_login' },
  last_login__gt: { type: 'datetime', column: 'last_login', op: '>' },
  last_login__lt: { type: 'datetime', column: 'last_login', op: '<' },
  last_login__isnull: { type: 'isnull', column: 'last_login' },
  last_updated: { type: 'datetime', column: 'last_updated' },
  last_updated__gt: { type: 'datetime', column: 'last_updated', op: '>' },
  last_updated__lt: { type: 'datetime', column: 'last_updated', op: '<' },
  groups_by_name: membership('user_groups', 'groups', 'group_uuid', 'name'),
  groups_by_pk: membership('user_groups', 'groups', 'group_uuid', 'pk'),
  roles_by_name: membership('user_roles', 'roles', 'role_uuid', 'name'),
  roles_by_pk: membership('user_roles', 'roles', 'role_uuid', 'pk'),
  attributes: attributesFilter,
};

/** authentik's `get_ql_fields` for users (plus uuid, date_joined and last_login) */
const userQLFields: Record<string, QLField> = {
  username: { type: 'str', column: 'users.username' },
  name: { type: 'str', column: 'users.name' },
  email: { type: 'str', column: 'users.email' },
  path: { type: 'str', column: 'users.path' },
  is_active: { type: 'bool', column: 'users.is_active', nullable: true },
  type: { type: 'str', column: 'users.type' },
  uuid: { type: 'str', column: 'users.uuid', uuid: true },
  date_joined: { type: 'datetime', column: 'users.date_joined' },
  last_login: { type: 'datetime', column: 'users.last_login', nullable: true },
  attributes: { type: 'json', column: 'users.attributes' },
};

const includeFlags = (req: FastifyRequest) => {
  const q = req.query as Record<string, string | undefined>;
  return { groups: parseBool(q.include_groups ?? 'true') !== false, roles: parseBool(q.include_roles ?? 'true') !== false };
};

export function userResource(installId: string): ResourceDef<Row> {
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
    list: {
      filters: userFilters,
      search: ['email', 'name', 'uuid', 'username'],
      // `?search=` is DjangoQL first; anything that is not falls back to the plain search
      searchQuery: (search, dialect) => {
        const cond = compileDjangoQL(search, userQLFields, dialect);
        return cond && (() => cond);
      },
      ordering: Object.fromEntries(
        ['username', 'date_joined', 'last_updated', 'last_login', 'name', 'email', 'is_active', 'path', 'type', 'uuid'].map((k) => [k, k]).concat([['pk', 'id']]),
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
    },
    insert: (tx, data) => insertUser(tx, data),
    update: async (tx, existing, data) => {
      const values = { ...apiToRow(userProps, data), last_updated: nowIso() };
      await tx.updateTable('users').set(values as never).where('id', '=', existing.id).execute();
      if (data.is_active === false) await tx.deleteFrom('sessions').where('user_id', '=', existing.id).execute();
      await writeMemberships(tx, existing.id, data);
      return existing.id;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('users').where('id', '=', existing.id).execute();
    },
    usedBy: async (db, row): Promise<UsedBy[]> => userDeviceUsedBy(db, row),
  };
}

export function renderUserSelf(u: UsersTable, superuser: boolean, installId: string, groups: { name: string; pk: string }[]) {
  return {
    pk: u.id,
    username: u.username,
    name: u.name,
    is_active: !!u.is_active,
    is_superuser: superuser,
    is_current: true,
    groups,
    roles: [],
    email: u.email,
    avatar: initialsAvatar(u.name, u.username),
    uid: uidOf(u.id, installId),
    settings: JSON.parse(u.attributes || '{}').settings ?? {},
    type: u.type,
    system_permissions: [],
  };
}

export function mountUsers(router: ApiRouter, db: DB, cfg: Config, installId: string) {
  const res = userResource(installId);
  // /me must be registered alongside /{id}; fastify prefers the static segment
  router.route('/core/users/me', {
    get: {
      doc: { operationId: 'core_users_me_retrieve', tag: 'core', response: 'SessionUser' },
      handler: async (req) => {
        const caller = requireCaller(req);
        const groups = await db
          .selectFrom('user_groups')
          .innerJoin('groups', 'groups.group_uuid', 'user_groups.group_uuid')
          .select(['groups.name', 'groups.group_uuid as pk'])
          .where('user_groups.user_id', '=', caller.user.id)
          .execute();
        const self = renderUserSelf(caller.user, caller.superuser, installId, groups);
        return { user: self, users: [self] };
      },
    },
  });
  const { load } = mountResource(router, db, res);
  router.route(
    '/core/users/{id}/set_password',
    {
      post: {
        doc: { operationId: 'core_users_set_password_create', tag: 'core', body: 'UserPasswordSetRequest', bodyRequired: true, status: 204 },
        handler: async (req, reply) => {
          requireSuperuser(req);
          const { row } = await load(req);
          const data = await validateBody({ password: S.wo(S.str({ 'x-no-trim': true, maxLength: 4096 })) }, req.body, { mode: 'create', db });
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
