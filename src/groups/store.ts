/**
 * Group writes, each inside the caller's transaction: the row, its parents (refusing a cycle), members and roles.
 * Checks that depend on other rows (name taken, cycle) run here, after the transaction's first statement took the
 * admin-write lock (PostgreSQL) or the writer (SQLite), so two concurrent writes cannot both pass them.
 */
import { newPk } from '../rest/requested-pk.js';
import type { DB } from '../db/index.js';
import type { GroupsTable } from '../db/types.js';
import type { Tx } from '../rest/resource.js';
import { ValidationError } from '../rest/errors.js';
import { apiToRow } from '../rest/serialize.js';
import { selfAndDescendants } from './membership.js';
import { numPkOf } from './num-pk.js';
import { groupProps } from './schema.js';

export const NAME_TAKEN = 'Group with this name already exists.';

/** a new group's UUID whose `num_pk` (authentik's five-digit derivation) no other group has */
export async function newGroupIdentity(db: DB): Promise<{ group_uuid: string; num_pk: number }> {
  for (let attempt = 0; ; attempt++) {
    const group_uuid = newPk();
    const num_pk = numPkOf(group_uuid);
    const clash = await db.selectFrom('groups').select('group_uuid').where('num_pk', '=', num_pk).executeTakeFirst();
    if (!clash || attempt >= 1000) return { group_uuid, num_pk };
  }
}

async function assertNameFree(tx: Tx, name: unknown, self?: string) {
  if (typeof name !== 'string') return;
  let q = tx.selectFrom('groups').select('group_uuid').where('name', '=', name);
  if (self) q = q.where('group_uuid', '<>', self);
  if (await q.executeTakeFirst()) throw ValidationError.field('name', NAME_TAKEN);
}

/**
 * A group may not be its own ancestor: none of the new parents may be the group or one of its descendants.
 * A 400 on `parents` naming the offending group.
 */
async function assertNoCycle(tx: Tx, groupUuid: string, parents: string[]) {
  if (parents.includes(groupUuid)) throw ValidationError.field('parents', 'Cannot set group as parent of itself.');
  if (!parents.length) return;
  const below = await selfAndDescendants(tx, groupUuid);
  const bad = parents.find((p) => below.has(p));
  if (bad === undefined) return;
  const row = await tx.selectFrom('groups').select('name').where('group_uuid', '=', bad).executeTakeFirst();
  throw ValidationError.field(
    'parents',
    `Cannot set group "${row?.name ?? bad}" as parent: it is a descendant of this group, which would make the group its own ancestor.`,
  );
}

/**
 * replaces the relations present in `data` (a list; null or absent leaves that relation as it is); a link another
 * writer without the admin-write lock (add_user, a source's login) made at the same time is not an error
 */
async function writeRelations(tx: Tx, groupUuid: string, data: Record<string, unknown>) {
  if (Array.isArray(data.parents)) {
    const parents = [...new Set(data.parents as string[])];
    await assertNoCycle(tx, groupUuid, parents);
    await tx.deleteFrom('group_parents').where('child_uuid', '=', groupUuid).execute();
    if (parents.length)
      await tx
        .insertInto('group_parents')
        .values(parents.map((parent_uuid) => ({ child_uuid: groupUuid, parent_uuid })))
        .onConflict((oc) => oc.columns(['child_uuid', 'parent_uuid']).doNothing())
        .execute();
  }
  if (Array.isArray(data.users)) {
    const users = [...new Set(data.users as number[])];
    await tx.deleteFrom('user_groups').where('group_uuid', '=', groupUuid).execute();
    if (users.length)
      await tx
        .insertInto('user_groups')
        .values(users.map((user_id) => ({ user_id, group_uuid: groupUuid })))
        .onConflict((oc) => oc.columns(['user_id', 'group_uuid']).doNothing())
        .execute();
  }
  if (Array.isArray(data.roles)) {
    const roles = [...new Set(data.roles as string[])];
    await tx.deleteFrom('group_roles').where('group_uuid', '=', groupUuid).execute();
    if (roles.length)
      await tx
        .insertInto('group_roles')
        .values(roles.map((role_uuid) => ({ group_uuid: groupUuid, role_uuid })))
        .onConflict((oc) => oc.columns(['group_uuid', 'role_uuid']).doNothing())
        .execute();
  }
}

export async function insertGroup(tx: Tx, data: Record<string, unknown>): Promise<string> {
  await assertNameFree(tx, data.name);
  const id = await newGroupIdentity(tx);
  const values: GroupsTable = {
    ...id,
    name: '',
    is_superuser: 0,
    attributes: '{}',
    ...(apiToRow(groupProps, data) as Partial<GroupsTable>),
  };
  await tx.insertInto('groups').values(values).execute();
  await writeRelations(tx, id.group_uuid, data);
  return id.group_uuid;
}

export async function updateGroup(tx: Tx, groupUuid: string, data: Record<string, unknown>): Promise<string> {
  await assertNameFree(tx, data.name, groupUuid);
  const values = apiToRow(groupProps, data);
  if (Object.keys(values).length)
    await tx
      .updateTable('groups')
      .set(values as Partial<GroupsTable>)
      .where('group_uuid', '=', groupUuid)
      .execute();
  await writeRelations(tx, groupUuid, data);
  return groupUuid;
}

/** add_user / remove_user: one statement each; adding a member twice is a no-op, as Django's `.add()` */
export async function addMember(db: DB, groupUuid: string, userId: number): Promise<void> {
  await db
    .insertInto('user_groups')
    .values({ user_id: userId, group_uuid: groupUuid })
    .onConflict((oc) => oc.columns(['user_id', 'group_uuid']).doNothing())
    .execute();
}

export async function removeMember(db: DB, groupUuid: string, userId: number): Promise<void> {
  await db.deleteFrom('user_groups').where('group_uuid', '=', groupUuid).where('user_id', '=', userId).execute();
}

/**
 * Deleting a group takes its memberships, role links and parent links in both directions with it (the foreign keys
 * cascade too; said here so it does not depend on them). Its children stay, without this parent.
 */
export async function deleteGroup(tx: Tx, groupUuid: string): Promise<void> {
  await tx
    .deleteFrom('group_parents')
    .where((eb) => eb.or([eb('child_uuid', '=', groupUuid), eb('parent_uuid', '=', groupUuid)]))
    .execute();
  await tx.deleteFrom('user_groups').where('group_uuid', '=', groupUuid).execute();
  await tx.deleteFrom('group_roles').where('group_uuid', '=', groupUuid).execute();
  await tx.deleteFrom('groups').where('group_uuid', '=', groupUuid).execute();
}
