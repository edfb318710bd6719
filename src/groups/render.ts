/** Groups as the API renders them (authentik's GroupSerializer), a page at a time: a handful of statements per page. */
import type { FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import type { GroupsTable, UsersTable } from '../db/types.js';
import { partialUser } from '../users/render.js';
import { ancestorsOf } from './membership.js';

export type GroupRow = GroupsTable;

/** the PartialGroups of these groups, by uuid (one statement; none for an empty list) */
export async function partialGroupsById(db: DB, uuids: readonly string[]): Promise<Map<string, ReturnType<typeof partialGroup>>> {
  const unique = [...new Set(uuids)];
  if (!unique.length) return new Map();
  const rows = await db.selectFrom('groups').selectAll().where('group_uuid', 'in', unique).execute();
  return new Map(rows.map((g) => [g.group_uuid, partialGroup(g)]));
}

/** authentik's PartialGroup, as embedded in bindings and source connections */
export const partialGroup = (g: GroupsTable) => ({
  pk: g.group_uuid,
  num_pk: Number(g.num_pk),
  name: g.name,
  is_superuser: !!g.is_superuser,
  attributes: JSON.parse(g.attributes || '{}'),
});

export interface IncludeFlags {
  users: boolean;
  children: boolean;
  parents: boolean;
  inheritedRoles: boolean;
}

/** authentik reads each flag as `str(value).lower() == "true"`: anything else (`1`, `yes`) is false */
export function includeFlags(req: FastifyRequest): IncludeFlags {
  const q = req.query as Record<string, string | string[] | undefined>;
  const flag = (name: string, dflt: boolean) => {
    const v = q[name];
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    return (last ?? String(dflt)).toLowerCase() === 'true';
  };
  return {
    users: flag('include_users', true),
    children: flag('include_children', false),
    parents: flag('include_parents', false),
    inheritedRoles: flag('include_inherited_roles', false),
  };
}

const related = (g: Pick<GroupsTable, 'group_uuid' | 'name' | 'is_superuser' | 'attributes'>) => ({
  pk: g.group_uuid,
  name: g.name,
  is_superuser: !!g.is_superuser,
  attributes: JSON.parse(g.attributes || '{}'),
  group_uuid: g.group_uuid,
});

function groupBy<T, K>(rows: T[], key: (r: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}

export async function renderGroups(db: DB, rows: GroupRow[], installId: string, flags: IncludeFlags) {
  const ids = rows.map((r) => r.group_uuid);
  if (!ids.length) return [];
  const cols = ['g.group_uuid', 'g.name', 'g.is_superuser', 'g.attributes'] as const;
  const parents = await db
    .selectFrom('group_parents as e')
    .innerJoin('groups as g', 'g.group_uuid', 'e.parent_uuid')
    .select(['e.child_uuid as of', ...cols])
    .where('e.child_uuid', 'in', ids)
    .orderBy('g.name')
    .execute();
  const children = await db
    .selectFrom('group_parents as e')
    .innerJoin('groups as g', 'g.group_uuid', 'e.child_uuid')
    .select(['e.parent_uuid as of', ...cols])
    .where('e.parent_uuid', 'in', ids)
    .orderBy('g.name')
    .execute();
  const members = (await (flags.users
    ? db.selectFrom('user_groups as m').innerJoin('users as u', 'u.id', 'm.user_id').selectAll('u').select('m.group_uuid as of')
    : db.selectFrom('user_groups as m').select(['m.user_id as id', 'm.group_uuid as of'])
  )
    .where('m.group_uuid', 'in', ids)
    .orderBy('m.user_id')
    .execute()) as (UsersTable & { of: string })[];
  const roles = await db
    .selectFrom('group_roles as gr')
    .innerJoin('roles as r', 'r.role_uuid', 'gr.role_uuid')
    .select(['gr.group_uuid as of', 'r.role_uuid', 'r.name'])
    .where('gr.group_uuid', 'in', ids)
    .orderBy('r.name')
    .execute();
  const parentsOf = groupBy(parents, (r) => r.of);
  const childrenOf = groupBy(children, (r) => r.of);
  const membersOf = groupBy(members, (r) => r.of);
  const rolesOf = groupBy(roles, (r) => r.of);
  const inherited = flags.inheritedRoles ? await inheritedRoles(db, ids, rolesOf) : undefined;
  return rows.map((g) => {
    const ps = parentsOf.get(g.group_uuid) ?? [];
    const cs = childrenOf.get(g.group_uuid) ?? [];
    const us = membersOf.get(g.group_uuid) ?? [];
    const rs = rolesOf.get(g.group_uuid) ?? [];
    return {
      pk: g.group_uuid,
      num_pk: Number(g.num_pk),
      name: g.name,
      is_superuser: !!g.is_superuser,
      parents: ps.map((p) => p.group_uuid),
      parents_obj: flags.parents ? ps.map(related) : null,
      users: us.map((u) => Number(u.id)),
      users_obj: flags.users ? us.map((u) => partialUser(u, installId)) : null,
      attributes: JSON.parse(g.attributes || '{}'),
      roles: rs.map((r) => r.role_uuid),
      roles_obj: rs.map((r) => ({ pk: r.role_uuid, name: r.name })),
      inherited_roles_obj: inherited ? (inherited.get(g.group_uuid) ?? []) : null,
      children: cs.map((c) => c.group_uuid),
      children_obj: flags.children ? cs.map(related) : null,
    };
  });
}

/** roles of each group's ancestors that the group does not hold itself (authentik's `inherited_roles_obj`) */
async function inheritedRoles(db: DB, ids: string[], direct: Map<string, { role_uuid: string }[]>) {
  const out = new Map<string, { pk: string; name: string }[]>();
  for (const id of ids) {
    const above = [...(await ancestorsOf(db, [id]))].filter((a) => a !== id);
    if (!above.length) {
      out.set(id, []);
      continue;
    }
    const own = new Set((direct.get(id) ?? []).map((r) => r.role_uuid));
    const rows = await db
      .selectFrom('group_roles as gr')
      .innerJoin('roles as r', 'r.role_uuid', 'gr.role_uuid')
      .select(['r.role_uuid', 'r.name'])
      .distinct()
      .where('gr.group_uuid', 'in', above)
      .orderBy('r.name')
      .execute();
    out.set(
      id,
      rows.filter((r) => !own.has(r.role_uuid)).map((r) => ({ pk: r.role_uuid, name: r.name })),
    );
  }
  return out;
}
