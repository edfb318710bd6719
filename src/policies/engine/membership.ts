/** Group membership for group bindings (until the groups domain's inherited membership replaces it). */
import type { DB } from '../../db/index.js';

export async function isMember(db: DB, userId: number, groupUuid: string): Promise<boolean> {
  const row = await db
    .selectFrom('user_groups')
    .select('group_uuid')
    .where('user_id', '=', userId)
    .where('group_uuid', '=', groupUuid)
    .executeTakeFirst();
  return !!row;
}
