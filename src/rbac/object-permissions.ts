/** Permissions held on one object end with the object (an integer pk may be given again to a later object). */
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type {} from './table.js';

/** an object's permissions, when the object is deleted */
export async function removeObjectPermissions(q: Kysely<Database>, label: string, objectPk: string): Promise<void> {
  const [app, model] = label.split('.') as [string, string];
  await q
    .deleteFrom('role_object_permissions')
    .where('object_pk', '=', objectPk)
    .where('permission_id', 'in', (eb) =>
      eb.selectFrom('rbac_permissions').select('id').where('app_label', '=', app).where('model', '=', model),
    )
    .execute();
}
