/**
 * Which local users and groups a SCIM provider pushes (authentik's get_object_qs): users in primary-key order, without
 * service accounts when `exclude_users_service_account`, with group filters only the filtered groups and their direct
 * members, and — when the provider is an application's backchannel provider — only the users that application's
 * policies let in (its bindings as the application's own access decides them: groups with their descendants, users,
 * policies, negation, any/all, and `core_default_app_access` without bindings; a policy that fails keeps the user out).
 */
import type { SelectQueryBuilder } from 'kysely';
import type { DB } from '../../db/index.js';
import type { Database, GroupsTable, UsersTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import { applicationAllows } from '../../applications/access.js';
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

/** the backchannel application's policies for the user (none: every user) */
async function applicationLetsIn(svc: Services, p: ScimProvider, user: UsersTable): Promise<boolean> {
  if (!p.application) return true;
  try {
    return (await applicationAllows(svc, { application: p.application }, user, undefined, {})).passing;
  } catch {
    return false;
  }
}

/** a page of the users in scope after `afterId`; `last` is where the next page starts (some of the page may be out) */
export async function usersPage(
  svc: Services,
  p: ScimProvider,
  afterId: number,
  size: number,
): Promise<{ users: UsersTable[]; last?: number }> {
  const page = await usersOf(svc.db, p).where('id', '>', afterId).orderBy('id').limit(size).execute();
  const users: UsersTable[] = [];
  for (const u of page) if (await applicationLetsIn(svc, p, u)) users.push(u);
  return { users, ...(page.length ? { last: page.at(-1)!.id } : {}) };
}

/** the user when it is in scope */
export async function userInScope(svc: Services, p: ScimProvider, id: number): Promise<UsersTable | undefined> {
  const u = await usersOf(svc.db, p).where('id', '=', id).executeTakeFirst();
  return u && (await applicationLetsIn(svc, p, u)) ? u : undefined;
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
export async function membersInScope(svc: Services, p: ScimProvider, groupUuid: string): Promise<number[]> {
  const rows = await usersOf(svc.db, p)
    .where((eb) =>
      eb.exists(
        eb.selectFrom('user_groups as m').select('m.user_id').whereRef('m.user_id', '=', 'users.id').where('m.group_uuid', '=', groupUuid),
      ),
    )
    .orderBy('users.id')
    .execute();
  const out: number[] = [];
  for (const u of rows) if (await applicationLetsIn(svc, p, u)) out.push(Number(u.id));
  return out;
}
