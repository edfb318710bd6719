/**
 * A blueprint role entry's `permissions` (authentik's RoleSerializer in blueprint context: global permissions as
 * `app_label.codename`, assigned to the role). Keystage's catalogue holds the permissions it enforces: one authentik
 * has and Keystage does not is left out, said in the import's log, so authentik's shipped role files apply. Assigning
 * asks what the API's assign asks: the caller holds each permission (a superuser holds all); a refusal is the entry's
 * serializer error on `permissions`.
 */
import type { Caller } from '../rest/auth.js';
import type { Tx } from '../rest/resource.js';
import { ValidationError } from '../rest/errors.js';
import { can } from './check.js';

/** assigns `wanted` to the role (kept ones stay); returns the permissions Keystage does not have */
export async function assignBlueprintPermissions(tx: Tx, caller: Caller, roleUuid: string, wanted: unknown): Promise<string[]> {
  if (!Array.isArray(wanted)) throw ValidationError.field('permissions', `Expected a list of items but got type "${typeof wanted}".`);
  const unknown: string[] = [];
  for (const w of wanted) {
    if (typeof w !== 'string' || !w.includes('.')) throw ValidationError.field('permissions', `"${String(w)}" is not a valid choice.`);
    const [app, codename] = w.split('.', 2) as [string, string];
    const row = await tx
      .selectFrom('rbac_permissions')
      .select('id')
      .where('app_label', '=', app)
      .where('codename', '=', codename)
      .executeTakeFirst();
    if (!row) {
      unknown.push(w);
      continue;
    }
    if (!caller.superuser && !(await can(tx, caller, w)))
      throw ValidationError.field('permissions', `You cannot assign a permission you do not hold: ${w}`);
    await tx
      .insertInto('role_model_permissions')
      .values({ role_uuid: roleUuid, permission_id: row.id })
      .onConflict((oc) => oc.columns(['role_uuid', 'permission_id']).doNothing())
      .execute();
  }
  return unknown;
}
