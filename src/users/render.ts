/** Users as the API renders them: list/detail objects, the partial user of other objects, the session user. */
import { createHash } from 'node:crypto';
import { S } from '../rest/schema.js';
import { rowToApi } from '../rest/serialize.js';
import { superuserIds } from '../rest/auth.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import { avatarOf } from './avatar.js';
import { systemSettings } from '../instance/system-settings/store.js';
import { userProps } from './schema.js';

export type Row = UsersTable & { pk: number };

export const uidOf = (id: number, installId: string) => createHash('sha256').update(`${id}-${installId}`).digest('hex');

export async function renderUsers(
  db: DB,
  rows: Row[],
  installId: string,
  opts: { groups: boolean; roles: boolean } = { groups: true, roles: true },
) {
  const ids = rows.map((r) => r.id);
  const supers = await superuserIds(db, ids);
  const { avatars } = await systemSettings(db);
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
        ? g.map((x) => ({
            pk: x.group_uuid,
            num_pk: x.num_pk,
            name: x.name,
            is_superuser: !!x.is_superuser,
            attributes: JSON.parse(x.attributes),
          }))
        : null,
      roles: ro.map((x) => x.role_uuid),
      roles_obj: opts.roles ? ro.map((x) => ({ pk: x.role_uuid, name: x.name })) : null,
      avatar: avatarOf({ ...r, attributes: JSON.parse(r.attributes || '{}') }, avatars),
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

export function renderUserSelf(
  u: UsersTable,
  superuser: boolean,
  installId: string,
  groups: { name: string; pk: string }[],
  settings: unknown,
  avatars: string,
  /** every role held, directly or through groups, by name (authentik's all_roles) */
  roles: { name: string; pk: string }[] = [],
) {
  return {
    pk: u.id,
    username: u.username,
    name: u.name,
    is_active: !!u.is_active,
    is_superuser: superuser,
    is_current: true,
    groups,
    roles,
    email: u.email,
    avatar: avatarOf({ ...u, attributes: JSON.parse(u.attributes || '{}') }, avatars),
    uid: uidOf(u.id, installId),
    settings: settings ?? {},
    type: u.type,
    system_permissions: [],
  };
}

/** the PartialUsers of these ids, by id (one statement; none for an empty list) */
export async function partialUsersById(
  db: DB,
  ids: readonly number[],
  installId: string,
): Promise<Map<number, ReturnType<typeof partialUser>>> {
  const unique = [...new Set(ids)];
  if (!unique.length) return new Map();
  const rows = (await db.selectFrom('users').selectAll().where('id', 'in', unique).execute()) as UsersTable[];
  return new Map(rows.map((u) => [u.id, partialUser(u, installId)]));
}
