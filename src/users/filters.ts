/** The users list's filters and the DjangoQL fields of its `search`. */
import { sql, type SqlBool } from 'kysely';
import { ValidationError } from '../rest/errors.js';
import { parseBool, type FilterSpec } from '../rest/list.js';
import type { QLField } from '../rest/djangoql.js';
import { jsonPath } from '../rest/json-sql.js';
import { isSuperuserCondition } from '../groups/membership.js';
import { USER_TYPES } from './schema.js';

export const multi = (column: string, values: readonly string[], label = (v: string) => v): FilterSpec => ({
  type: 'custom',
  parse: (vals) => {
    const chosen = vals.filter((v) => v !== '');
    if (!chosen.length) return { cond: undefined };
    const bad = chosen.find((v) => !values.includes(v));
    if (bad !== undefined) return { error: [`Select a valid choice. ${label(bad)} is not one of the available choices.`] };
    return { cond: (eb) => eb(sql.ref(column), 'in', chosen) };
  },
  schema: { type: 'array', items: { type: 'string', enum: [...values] } },
  explode: true,
});

export const membership = (
  junction: 'user_groups' | 'user_roles',
  table: 'groups' | 'roles',
  key: 'group_uuid' | 'role_uuid',
  by: 'name' | 'pk',
): FilterSpec => ({
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
export const attributesFilterOn = (column: 'users.attributes' | 'groups.attributes'): FilterSpec => ({
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
    if (typeof wanted !== 'object' || wanted === null || Array.isArray(wanted))
      throw new ValidationError(['filter: value must be key:value mapping']);
    const pairs = Object.entries(wanted as Record<string, unknown>).map(([k, v]) => ({ path: k.split('__'), json: JSON.stringify(v) }));
    if (!pairs.length) return { cond: undefined };
    return {
      cond: (eb) =>
        eb.and(
          pairs.map(({ path, json }) =>
            dialect === 'postgres'
              ? sql<SqlBool>`(${sql.ref(column)}::jsonb #> ${path}::text[]) = ${json}::jsonb`
              : // json_extract gives SQL scalars, so compare the JSON text of both sides
                sql<SqlBool>`json_quote(json_extract(${sql.ref(column)}, ${jsonPath(path)})) = json_quote(json_extract(${`{"v":${json}}`}, '$.v'))`,
          ),
        ),
    };
  },
});

export const attributesFilter = attributesFilterOn('users.attributes');

export const userFilters: Record<string, FilterSpec> = {
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
      // as the `is_superuser` field: through any group the user is a member of, parent groups included
      return { cond: (eb) => (b ? isSuperuserCondition() : eb.not(isSuperuserCondition())) };
    },
    schema: { type: 'boolean' },
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
export const userQLFields: Record<string, QLField> = {
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
