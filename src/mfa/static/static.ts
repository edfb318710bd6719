/**
 * Static recovery codes: stored as HMAC-SHA256 under the instance secret (never in clear), single use — the
 * DELETE of the matched row decides, so two racing requests cannot both spend one code.
 */
import { createHmac, randomInt } from 'node:crypto';
import type { DB } from '../../db/index.js';
import type { StaticDevicesTable } from './table.js';
import { isThrottled, recordFailure, throttleReset } from '../throttle.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function generateStaticToken(length = 12): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export const hashStaticToken = (secretKey: string, token: string) => createHmac('sha256', secretKey).update(token, 'utf8').digest('hex');

/** true when `code` is one of the device's remaining tokens; the token is consumed */
export async function verifyStatic(db: DB, secretKey: string, d: StaticDevicesTable, code: string, factor: number): Promise<boolean> {
  const token = code.trim();
  if (!token || token.length > 100 || isThrottled(d, factor)) return false;
  const hit = await db
    .selectFrom('static_tokens')
    .select('id')
    .where('device_id', '=', d.id)
    .where('token', '=', hashStaticToken(secretKey, token))
    .executeTakeFirst();
  if (hit) {
    const res = await db.deleteFrom('static_tokens').where('id', '=', hit.id).executeTakeFirst();
    if (Number(res.numDeletedRows) === 1) {
      const now = new Date().toISOString();
      await db
        .updateTable('static_devices')
        .set({ last_used: now, last_updated: now, ...throttleReset })
        .where('id', '=', d.id)
        .execute();
      return true;
    }
    return false;
  }
  if (factor > 0) await recordFailure(db, 'static_devices', d.id);
  return false;
}
