/**
 * Group membership as authentik defines it (`User.all_groups`, `Group.is_member`, `User.is_superuser`): a user is a
 * member of the groups they were added to and of every ancestor of those (parents, transitively; a group may have
 * several parents). A user is a superuser when any group of that set has `is_superuser`.
 *
 * Each question is one statement with a recursive common table expression over `group_parents`, the same text on
 * SQLite and PostgreSQL; `UNION` (not `UNION ALL`) makes the recursion stop even if a cycle was written to the table
 * behind the API's back. This module is the API other domains and plug-ins (the policy engine) use.
 */
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { hot, perDatabase } from '../db/hot.js';
import type { DB } from '../db/index.js';
import type { GroupsTable } from '../db/types.js';
import { isUuid, normalizeUuid } from '../rest/validate.js';

/** the user's groups and all their ancestors, as a CTE named `member_of(group_uuid)` */
export const memberOf = (userId: unknown) => sql`with recursive member_of(group_uuid) as (
    select ug.group_uuid from user_groups ug where ug.user_id = ${userId}
    union
    select gp.parent_uuid from group_parents gp inner join member_of m on gp.child_uuid = m.group_uuid
  )`;

/** UUIDs of every group `userId` is a member of, ancestors included */
export async function groupsOf(db: DB, userId: number): Promise<Set<string>> {
  const { rows } = await sql<{ group_uuid: string }>`${memberOf(userId)} select group_uuid from member_of`.execute(db);
  return new Set(rows.map((r) => r.group_uuid));
}

/** whether `userId` is a member of `groupUuid`: in it, or in one of its descendants */
export async function isMember(db: DB, userId: number, groupUuid: string): Promise<boolean> {
  if (!isUuid(groupUuid)) return false;
  const { rows } =
    await sql`${memberOf(userId)} select 1 as one from member_of where group_uuid = ${normalizeUuid(groupUuid)} limit 1`.execute(db);
  return rows.length > 0;
}

/** every group the user is a member of (ancestors included), ordered by name, as authentik's `all_groups()` */
export async function allGroupsOf(db: DB, userId: number): Promise<GroupsTable[]> {
  const { rows } = await sql<GroupsTable>`${memberOf(userId)}
    select g.group_uuid, g.num_pk, g.name, g.is_superuser, g.attributes
    from groups g inner join member_of m on m.group_uuid = g.group_uuid
    order by g.name, g.group_uuid`.execute(db);
  return rows;
}

/** asked on every authenticated API request and every logged-in executor request: compiled once per database */
const superuserQuery = perDatabase((db) =>
  hot<{ userId: number }, { one: number }>(db, ['userId'], (p) => ({
    compile: () =>
      sql<{ one: number }>`${memberOf(p.userId)}
        select 1 as one from groups g inner join member_of m on m.group_uuid = g.group_uuid
        where g.is_superuser = 1 limit 1`.compile(db),
  })),
);

/** whether the user is a member (directly or through a child group) of a superuser group */
export async function isSuperuser(db: DB, userId: number): Promise<boolean> {
  return (await superuserQuery(db)({ userId })).length > 0;
}

/** of these users, those who are superusers (one statement for a page of users) */
export async function superuserIds(db: DB, ids: number[]): Promise<Set<number>> {
  if (!ids.length) return new Set();
  const { rows } = await sql<{ user_id: number }>`with recursive member_of(user_id, group_uuid) as (
      select ug.user_id, ug.group_uuid from user_groups ug where ug.user_id in (${sql.join(ids)})
      union
      select m.user_id, gp.parent_uuid from group_parents gp inner join member_of m on gp.child_uuid = m.group_uuid
    )
    select distinct m.user_id from member_of m inner join groups g on g.group_uuid = m.group_uuid
    where g.is_superuser = 1`.execute(db);
  return new Set(rows.map((r) => Number(r.user_id)));
}

/**
 * A condition on `users.id` (the users list): true for superusers. It walks down from the superuser groups to their
 * descendants (few rows) instead of up from every user.
 */
export function isSuperuserCondition(userIdColumn = 'users.id'): RawBuilder<SqlBool> {
  return sql<SqlBool>`${sql.ref(userIdColumn)} in (
    with recursive grants(group_uuid) as (
      select g.group_uuid from groups g where g.is_superuser = 1
      union
      select gp.child_uuid from group_parents gp inner join grants s on gp.parent_uuid = s.group_uuid
    )
    select ug.user_id from user_groups ug where ug.group_uuid in (select group_uuid from grants)
  )`;
}

/** the group and its ancestors (parents, transitively), as a CTE named `up(group_uuid)` */
export const selfAndAncestors = (groupUuid: string) => sql`with recursive up(group_uuid) as (
    select cast(${groupUuid} as text)
    union
    select gp.parent_uuid from group_parents gp inner join up on gp.child_uuid = up.group_uuid
  )`;

/** the group and all its descendants (children, transitively) */
export async function selfAndDescendants(db: DB, groupUuid: string): Promise<Set<string>> {
  const { rows } = await sql<{ group_uuid: string }>`with recursive below(group_uuid) as (
      select cast(${groupUuid} as text)
      union
      select gp.child_uuid from group_parents gp inner join below b on gp.parent_uuid = b.group_uuid
    )
    select group_uuid from below`.execute(db);
  return new Set(rows.map((r) => r.group_uuid));
}

/** the groups' strict ancestors (parents, transitively), the groups themselves excluded unless on a cycle */
export async function ancestorsOf(db: DB, groupUuids: string[]): Promise<Set<string>> {
  if (!groupUuids.length) return new Set();
  const { rows } = await sql<{ group_uuid: string }>`with recursive above(group_uuid) as (
      select gp.parent_uuid from group_parents gp where gp.child_uuid in (${sql.join(groupUuids)})
      union
      select gp.parent_uuid from group_parents gp inner join above a on gp.child_uuid = a.group_uuid
    )
    select group_uuid from above`.execute(db);
  return new Set(rows.map((r) => r.group_uuid));
}

type Json = unknown;

/** deepmerge's `always_merger`, as authentik merges attributes: mappings recursively, lists appended, else replaced */
export function mergeAttributes(target: Record<string, Json>, source: Record<string, Json>): Record<string, Json> {
  for (const [k, v] of Object.entries(source)) {
    const have = target[k];
    if (isPlainObject(have) && isPlainObject(v)) mergeAttributes(have, v);
    else if (Array.isArray(have) && Array.isArray(v)) target[k] = [...have, ...structuredClone(v)];
    else target[k] = structuredClone(v);
  }
  return target;
}

const isPlainObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * authentik's `User.group_attributes(request)`: the request's brand's attributes first (with a request), then the
 * attributes of every group the user is a member of (ancestors included), merged in name order, then the user's own
 * on top.
 */
export async function groupAttributes(
  db: DB,
  userId: number,
  userAttributes: string | Record<string, Json>,
  /** the user's `allGroupsOf`, when the caller has them already */
  groups?: GroupsTable[],
  /** the request's brand's attributes (authentik merges them first when it has the request) */
  brandAttributes?: Record<string, unknown>,
): Promise<Record<string, Json>> {
  const out: Record<string, Json> = {};
  if (brandAttributes) mergeAttributes(out, structuredClone(brandAttributes) as Record<string, Json>);
  for (const g of groups ?? (await allGroupsOf(db, userId))) mergeAttributes(out, parseObject(g.attributes));
  return mergeAttributes(out, typeof userAttributes === 'string' ? parseObject(userAttributes) : userAttributes);
}

function parseObject(raw: string): Record<string, Json> {
  try {
    const v = JSON.parse(raw || '{}');
    return isPlainObject(v) ? v : {};
  } catch {
    return {};
  }
}
