/** used_by of a user: its devices of every class (cascade). Tokens are not listed, as upstream. */
import type { UsedBy } from '../../rest/resource.js';
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';
import { deviceClassesByApp } from '../registry.js';

export async function userDeviceUsedBy(db: DB, user: UsersTable): Promise<UsedBy[]> {
  const out: UsedBy[] = [];
  for (const k of deviceClassesByApp) {
    const rows = await db.selectFrom(k.table).select(['id', 'name']).where('user_id', '=', user.id).orderBy('id').execute();
    for (const r of rows)
      out.push({
        app: k.app,
        model_name: k.model.toLowerCase(),
        pk: String(r.id),
        name: k.api.usedByName ? k.api.usedByName(r, user) : `${r.name} (${user.username})`,
        action: 'cascade',
      });
  }
  return out;
}
