/**
 * Device codes (authentik's `DeviceToken`, RFC 8628) in `oauth2_device_tokens`. The device code is kept as its
 * SHA-256 only; the user code (nine digits, authentik's `generate_code_fixed_length`) is what a person types and is
 * looked up as typed. The two races are settled by the database:
 *
 * - approval: `UPDATE … SET user_id WHERE id = ? AND user_id IS NULL AND expires > now` — one person approves a code;
 * - redemption: `DELETE … WHERE id = ? AND user_id IS NOT NULL` in the transaction that writes the tokens — of two
 *   polls at once exactly one deletes the row and gets tokens (authentik deletes the device token when it answers).
 */
import { randomInt } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DB } from '../../../db/index.js';
import type { Database } from '../../../db/types.js';
import { generateClientSecret } from '../protocol/random.js';
import { hashOf } from '../tokens/store.js';
import type {} from '../tokens/table.js';

/** authentik's `generate_code_fixed_length(9)`: 1 … 10⁹−1, zero-padded */
export const newUserCode = () => String(randomInt(1, 1_000_000_000)).padStart(9, '0');

export interface NewDeviceCode {
  deviceCode: string;
  userCode: string;
  expires: Date;
}

export async function createDeviceCode(
  db: DB,
  providerId: number,
  scope: string,
  validityMs: number,
  now = new Date(),
): Promise<NewDeviceCode> {
  const deviceCode = generateClientSecret();
  const userCode = newUserCode();
  const expires = new Date(now.getTime() + validityMs);
  await db
    .insertInto('oauth2_device_tokens')
    .values({
      provider_id: providerId,
      user_id: null,
      device_code_hash: hashOf(deviceCode),
      user_code: userCode,
      scope,
      session_id: null,
      expires: expires.toISOString(),
      expiring: 1,
      created: now.toISOString(),
    })
    .execute();
  return { deviceCode, userCode, expires };
}

/** the device code a client polls with, for its provider */
export const findDeviceCode = (db: DB, providerId: number, deviceCode: string) =>
  db
    .selectFrom('oauth2_device_tokens')
    .selectAll()
    .where('device_code_hash', '=', hashOf(deviceCode))
    .where('provider_id', '=', providerId)
    .executeTakeFirst();

export type DeviceCodeRow = NonNullable<Awaited<ReturnType<typeof findDeviceCode>>>;

/** a code a person typed: not yet approved and not expired */
export function findPendingUserCode(db: DB, userCode: string, now = new Date()) {
  return db
    .selectFrom('oauth2_device_tokens')
    .selectAll()
    .where('user_code', '=', userCode)
    .where('user_id', 'is', null)
    .where('expires', '>', now.toISOString())
    .orderBy('id', 'desc')
    .executeTakeFirst();
}

export const deviceCodeById = (db: DB, id: number) =>
  db.selectFrom('oauth2_device_tokens').selectAll().where('id', '=', id).executeTakeFirst();

/** approve a code for a person, once: false when someone approved it first or it expired */
export async function approveDeviceCode(db: DB, id: number, userId: number, sessionId: string | null, now = new Date()): Promise<boolean> {
  const r = await db
    .updateTable('oauth2_device_tokens')
    .set({ user_id: userId, session_id: sessionId })
    .where('id', '=', id)
    .where('user_id', 'is', null)
    .where('expires', '>', now.toISOString())
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** redeem an approved code once: in one transaction, delete it and (only when this request did) write the tokens */
export async function redeemDeviceCode(db: DB, id: number, produce: (tx: Transaction<Database>) => Promise<void>): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const r = await tx.deleteFrom('oauth2_device_tokens').where('id', '=', id).where('user_id', 'is not', null).executeTakeFirst();
    if (Number(r.numDeletedRows) !== 1) return false;
    await produce(tx);
    return true;
  });
}
