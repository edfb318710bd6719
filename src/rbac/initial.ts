/**
 * authentik's InitialPermissions: when someone creates an object, each role of theirs named by an initial-permissions
 * set receives that set's permissions of the object's model on the new object (`assign_initial_permissions`).
 * Runs inside the creating transaction, so the object and its permissions appear together.
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import { held } from './check.js';
import type {} from './table.js';

type Q = Kysely<Database>;

/** the initial permissions (set's role, permission id) that apply to the user's new object of `label` */
function applicable(q: Q, userId: number, label: string) {
  const [app, model] = label.split('.');
  return sql<{ role_uuid: string; permission_id: number }>`${held(userId)}
    select distinct ip.role_uuid, ipp.permission_id from initial_permissions ip
    inner join initial_permissions_permissions ipp on ipp.ip_id = ip.id
    inner join rbac_permissions p on p.id = ipp.permission_id
    where ip.role_uuid in (select role_uuid from held) and p.app_label = ${app} and p.model = ${model}`.execute(q);
}

export async function hasInitialPermissions(q: Q, userId: number, label: string): Promise<boolean> {
  // most installations have none: a cheap look before the recursive query
  const any = await q.selectFrom('initial_permissions').select('id').limit(1).executeTakeFirst();
  return !!any && (await applicable(q, userId, label)).rows.length > 0;
}

export async function assignInitialPermissions(q: Q, userId: number, label: string, objectPk: string): Promise<void> {
  for (const r of (await applicable(q, userId, label)).rows)
    await q
      .insertInto('role_object_permissions')
      .values({ role_uuid: r.role_uuid, permission_id: Number(r.permission_id), object_pk: objectPk })
      .onConflict((oc) => oc.columns(['role_uuid', 'permission_id', 'object_pk']).doNothing())
      .execute();
}
