/**
 * What permissions alone never allow someone who is not a superuser: becoming one, or acting on one. authentik
 * guards the group's superuser flag with `enable_group_superuser`/`disable_group_superuser`; Keystage also keeps
 * the ways around it closed — membership of a group that makes its members superusers (directly, or through a
 * parent) needs `enable_group_superuser` on that group, roles are given to users and groups only by superusers (or
 * through `/rbac/roles/{uuid}/add_user/`), and a superuser account is changed, deleted or given a password only by
 * another superuser. And what a membership grants — a role's permissions, a group's roles (its ancestors' included)
 * — is granted only by someone holding all of it: permissions do not multiply through membership.
 */
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import { Forbidden } from '../rest/errors.js';
import { isSuperuser, selfAndAncestors } from '../groups/membership.js';
import { can, type Subject } from './check.js';

/** whether members of the group are superusers: it, or one of its ancestors, has `is_superuser` */
export async function grantsSuperuser(db: DB, groupUuid: string): Promise<boolean> {
  const { rows } = await sql`${selfAndAncestors(groupUuid)}
    select 1 as one from groups g inner join up on up.group_uuid = g.group_uuid where g.is_superuser = 1 limit 1`.execute(db);
  return rows.length > 0;
}

const sameSet = (a: Iterable<unknown>, b: Iterable<unknown>) => {
  const x = new Set([...a].map(String));
  const y = new Set([...b].map(String));
  return x.size === y.size && [...x].every((v) => y.has(v));
};

async function rolesOfUser(db: DB, userId: number): Promise<string[]> {
  return (await db.selectFrom('user_roles').select('role_uuid').where('user_id', '=', userId).execute()).map((r) => r.role_uuid);
}

/** a superuser account is acted on by superusers only */
export async function guardTargetUser(db: DB, caller: Subject, userId: number): Promise<void> {
  if (!caller.superuser && (await isSuperuser(db, userId))) throw Forbidden.permission();
}

/** the roles a member of the group holds through it: its own and its ancestors' */
async function rolesThrough(db: DB, groupUuid: string): Promise<string[]> {
  const { rows } = await sql<{ role_uuid: string }>`${selfAndAncestors(groupUuid)}
    select distinct gr.role_uuid from group_roles gr inner join up on up.group_uuid = gr.group_uuid`.execute(db);
  return rows.map((r) => r.role_uuid);
}

/** the caller holds every permission of these roles (for the model, or on the object the role holds it on) */
export async function guardHoldsRoles(db: DB, caller: Subject, roleUuids: string[]): Promise<void> {
  if (caller.superuser || !roleUuids.length) return;
  const model = await db
    .selectFrom('role_model_permissions as rp')
    .innerJoin('rbac_permissions as p', 'p.id', 'rp.permission_id')
    .select(['p.app_label', 'p.codename'])
    .where('rp.role_uuid', 'in', roleUuids)
    .execute();
  for (const p of model) if (!(await can(db, caller, `${p.app_label}.${p.codename}`))) throw Forbidden.permission();
  const objects = await db
    .selectFrom('role_object_permissions as o')
    .innerJoin('rbac_permissions as p', 'p.id', 'o.permission_id')
    .select(['p.app_label', 'p.codename', 'o.object_pk'])
    .where('o.role_uuid', 'in', roleUuids)
    .execute();
  for (const p of objects) if (!(await can(db, caller, `${p.app_label}.${p.codename}`, p.object_pk))) throw Forbidden.permission();
}

/**
 * adding someone to (or taking them from) a group that makes superusers needs `enable_group_superuser` on it; adding
 * them to a group whose roles grant what the caller does not hold is refused
 */
export async function guardMembership(db: DB, caller: Subject, groupUuid: string, adding = true): Promise<void> {
  if (caller.superuser) return;
  if ((await grantsSuperuser(db, groupUuid)) && !(await can(db, caller, 'authentik_core.enable_group_superuser', groupUuid)))
    throw Forbidden.permission();
  if (adding) await guardHoldsRoles(db, caller, await rolesThrough(db, groupUuid));
}

export async function guardUserWrite(
  db: DB,
  caller: Subject,
  existingId: number | undefined,
  data: Record<string, unknown>,
): Promise<void> {
  if (caller.superuser) return;
  if (existingId !== undefined) await guardTargetUser(db, caller, existingId);
  if (Array.isArray(data.roles) && !sameSet(data.roles, existingId === undefined ? [] : await rolesOfUser(db, existingId)))
    throw Forbidden.permission();
  if (Array.isArray(data.groups)) {
    const before =
      existingId === undefined
        ? []
        : (await db.selectFrom('user_groups').select('group_uuid').where('user_id', '=', existingId).execute()).map((r) => r.group_uuid);
    const changed = [
      ...(data.groups as string[]).filter((g) => !before.includes(g)),
      ...before.filter((g) => !(data.groups as string[]).includes(g)),
    ];
    for (const g of changed) await guardMembership(db, caller, g);
  }
}

export async function guardGroupWrite(
  db: DB,
  caller: Subject,
  existing: { group_uuid: string; is_superuser: number | boolean } | undefined,
  data: Record<string, unknown>,
): Promise<void> {
  if (caller.superuser) return;
  const pk = existing?.group_uuid;
  const was = !!existing && !!existing.is_superuser;
  if (data.is_superuser !== undefined && !!data.is_superuser !== was) {
    const perm = data.is_superuser ? 'authentik_core.enable_group_superuser' : 'authentik_core.disable_group_superuser';
    if (!(await can(db, caller, perm, pk))) throw Forbidden.permission();
  }
  if (Array.isArray(data.roles)) {
    const before = pk
      ? (await db.selectFrom('group_roles').select('role_uuid').where('group_uuid', '=', pk).execute()).map((r) => r.role_uuid)
      : [];
    if (!sameSet(data.roles, before)) throw Forbidden.permission();
  }
  const parents = Array.isArray(data.parents) ? (data.parents as string[]) : [];
  // what members gain: the group's own roles when members are added, the new parents' roles for every member
  const parentsNow = pk
    ? (await db.selectFrom('group_parents').select('parent_uuid').where('child_uuid', '=', pk).execute()).map((r) => r.parent_uuid)
    : [];
  for (const p of parents.filter((x) => !parentsNow.includes(x))) await guardHoldsRoles(db, caller, await rolesThrough(db, p));
  if (pk && Array.isArray(data.users)) {
    const members = (await db.selectFrom('user_groups').select('user_id').where('group_uuid', '=', pk).execute()).map((r) =>
      Number(r.user_id),
    );
    if ((data.users as number[]).some((u) => !members.includes(Number(u)))) await guardHoldsRoles(db, caller, await rolesThrough(db, pk));
  }
  let grants = data.is_superuser === true || (data.is_superuser === undefined && pk !== undefined && (await grantsSuperuser(db, pk)));
  for (const p of parents) grants ||= await grantsSuperuser(db, p);
  if (!grants) return;
  const usersBefore = pk
    ? (await db.selectFrom('user_groups').select('user_id').where('group_uuid', '=', pk).execute()).map((r) => r.user_id)
    : [];
  const parentsBefore = pk
    ? (await db.selectFrom('group_parents').select('parent_uuid').where('child_uuid', '=', pk).execute()).map((r) => r.parent_uuid)
    : [];
  const usersChanged = Array.isArray(data.users) && !sameSet(data.users, usersBefore);
  const parentsChanged = Array.isArray(data.parents) && !sameSet(data.parents, parentsBefore);
  if ((usersChanged || parentsChanged || !pk) && !(await can(db, caller, 'authentik_core.enable_group_superuser', pk)))
    throw Forbidden.permission();
}
