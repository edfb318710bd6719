/**
 * Expiring policy bindings (authentik's PolicyBinding is an ExpiringModel; migration 0039): a binding with `expiring`
 * whose `expires` has come no longer applies anywhere — as if it did not exist — and the hourly housekeeping
 * deletes it. Access requests grant an application this way until a time, and revoke by setting `expires` to now.
 *
 * The check is made when deciding, against the current time: the engine keeps the bindings in the admin cache
 * (nothing invalidates it when a time passes), so it filters what it kept (`liveBindings`); statements that read
 * policy_bindings to decide add `liveBinding()` to their conditions.
 */
import { sql, type RawBuilder } from 'kysely';
import type { DB } from '../../db/index.js';
import { invalidateAdminCache } from '../../db/admin-cache.js';
import { lockConfigEpoch } from '../../db/config-epoch.js';

/**
 * when a binding row stops applying, in epoch milliseconds; null: never (not expiring, or no time set). An
 * expiry that cannot be read counts as past: such a binding grants nothing.
 */
export function expiryOf(row: { expiring: unknown; expires: unknown }): number | null {
  if (!(row.expiring === true || row.expiring === 1 || row.expiring === '1')) return null;
  if (row.expires === null || row.expires === undefined) return null;
  const t = Date.parse(String(row.expires));
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

/** whether a binding that stops at `expiresAt` (expiryOf) still applies at `now` */
export const applies = (expiresAt: number | null, now: number): boolean => expiresAt === null || expiresAt > now;

/**
 * the bindings that still apply at `now`, in their order: the list itself when none of them expires (the common
 * case costs one pass over a target's few bindings, no allocation)
 */
export function liveBindings<T extends { expiresAt: number | null }>(list: readonly T[], now = Date.now()): readonly T[] {
  return list.some((b) => b.expiresAt !== null) ? list.filter((b) => applies(b.expiresAt, now)) : list;
}

/**
 * SQL: the binding row still applies (`alias` names policy_bindings in the statement; none: unqualified columns).
 * Timestamps are ISO text in both dialects, so they compare as text.
 */
export function liveBinding(alias?: string, now = new Date()): RawBuilder<boolean> {
  const col = (c: string) => sql.ref(alias ? `${alias}.${c}` : c);
  return sql<boolean>`(${col('expiring')} = 0 or ${col('expires')} is null or ${col('expires')} > ${now.toISOString()})`;
}

/**
 * Deletes the bindings that expired before `now` (authentik's clean_expired_models); returns how many. Nothing is
 * written (and the configuration epoch stays) when none has; a deletion takes the epoch's row lock first, as every
 * configuration write does, and this node forgets what it kept.
 */
export async function purgeExpiredBindings(db: DB, now = new Date()): Promise<number> {
  const iso = now.toISOString();
  const any = await db
    .selectFrom('policy_bindings')
    .select('policy_binding_uuid')
    .where('expiring', '=', 1)
    .where('expires', '<', iso)
    .limit(1)
    .executeTakeFirst();
  if (!any) return 0;
  const deleted = await db.transaction().execute(async (tx) => {
    await lockConfigEpoch(tx);
    const r = await tx.deleteFrom('policy_bindings').where('expiring', '=', 1).where('expires', '<', iso).executeTakeFirst();
    return Number(r.numDeletedRows);
  });
  invalidateAdminCache(db);
  return deleted;
}
