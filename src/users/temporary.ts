/**
 * Temporary users (authentik's clean_temporary_users): users a login made for one occasion — a SAML source's
 * transient NameID without an identifying attribute, a federated JWT's subject — carry
 * `goauthentik.io/user/generated` and `goauthentik.io/user/expires` (seconds since the epoch); the hourly
 * housekeeping deletes them, with their sessions, once that time has passed.
 */
import type { DB } from '../db/index.js';
import { lockConfigEpoch } from '../db/config-epoch.js';

export const USER_ATTRIBUTE_EXPIRES = 'goauthentik.io/user/expires';
export const USER_ATTRIBUTE_GENERATED = 'goauthentik.io/user/generated';

export async function purgeExpiredTemporaryUsers(db: DB, now = Date.now()): Promise<number> {
  const rows = await db
    .selectFrom('users')
    .select(['id', 'attributes'])
    .where('attributes', 'like', `%${USER_ATTRIBUTE_EXPIRES}%`)
    .execute();
  const expired = rows
    .filter((r) => {
      try {
        const a = JSON.parse(String(r.attributes)) as Record<string, unknown>;
        return (
          a[USER_ATTRIBUTE_GENERATED] === true && typeof a[USER_ATTRIBUTE_EXPIRES] === 'number' && a[USER_ATTRIBUTE_EXPIRES] * 1000 <= now
        );
      } catch {
        return false;
      }
    })
    .map((r) => Number(r.id));
  for (const id of expired)
    await db.transaction().execute(async (tx) => {
      // (a user's, group's or token's deletion reaches configuration tables through their foreign keys: the admin-write lock first)
      await lockConfigEpoch(tx);
      await tx.deleteFrom('sessions').where('user_id', '=', id).execute();
      await tx.deleteFrom('users').where('id', '=', id).execute();
    });
  return expired.length;
}
