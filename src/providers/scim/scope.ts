/**
 * Which local users and groups a SCIM provider pushes (authentik's get_object_qs): users in primary-key order, without
 * service accounts when `exclude_users_service_account`, and with group filters only the filtered groups and their
 * direct members.
 */
import type { SelectQueryBuilder } from 'kysely';
import type { DB } from '../../db/index.js';
import type { Database, GroupsTable, UsersTable } from '../../db/types.js';
import type { ScimProvider } from './config.js';

const SERVICE_ACCOUNTS = ['service_account', 'internal_service_account'];

function usersOf(db: DB, p: ScimProvider): SelectQueryBuilder<Database, 'users', UsersTable> {
  let q = db.selectFrom('users').selectAll();
  if (p.exclude_users_service_account) q = q.where('type', 'not in', SERVICE_ACCOUNTS);
  if (p.group_filters.length)
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('user_groups as ug')
          .select('ug.user_id')
          .whereRef('ug.user_id', '=', 'users.id')
          .where('ug.group_uuid', 'in', p.group_filters),
      ),
    );
  return q as never;
}

/** a page of the users in scope after `afterId` */
export function usersPage(db: DB, p: ScimProvider, afterId: number, size: number): Promise<UsersTable[]> {
  return usersOf(db, p).where('id', '>', afterId).orderBy('id').limit(size).execute();
}

/** the user when it is in scope */
export function userInScope(db: DB, p: ScimProvider, id: number): Promise<UsersTable | undefined> {
  return usersOf(db, p).where('id', '=', id).executeTakeFirst();
}

function groupsOf(db: DB, p: ScimProvider) {
  let q = db.selectFrom('groups').selectAll();
  if (p.group_filters.length) q = q.where('group_uuid', 'in', p.group_filters);
  return q;
}

export function groupsPage(db: DB, p: ScimProvider, afterUuid: string, size: number): Promise<GroupsTable[]> {
  return groupsOf(db, p).where('group_uuid', '>', afterUuid).orderBy('group_uuid').limit(size).execute();
}

export function groupInScope(db: DB, p: ScimProvider, uuid: string): Promise<GroupsTable | undefined> {
  return groupsOf(db, p).where('group_uuid', '=', uuid).executeTakeFirst();
}

/** the group's direct members that are in scope (their ids) */
export async function membersInScope(db: DB, p: ScimProvider, groupUuid: string): Promise<number[]> {
  const rows = await usersOf(db, p)
    .clearSelect()
    .select('users.id')
    .where((eb) =>
      eb.exists(
        eb.selectFrom('user_groups as m').select('m.user_id').whereRef('m.user_id', '=', 'users.id').where('m.group_uuid', '=', groupUuid),
      ),
    )
    .orderBy('users.id')
    .execute();
  return rows.map((r) => Number(r.id));
}
