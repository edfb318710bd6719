/**
 * Exponential back-off on failed one-time-code checks (authentik's throttling mixin): while
 * now − last_failure < factor × 2^(count−1) seconds, attempts are refused without consuming the code.
 */
import type { Transaction, Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import type { DeviceTable } from './device-class.js';

export interface ThrottleState {
  throttling_failure_timestamp: string | null;
  throttling_failure_count: number;
}

export function isThrottled(d: ThrottleState, factor: number, now = Date.now()): boolean {
  if (factor <= 0 || !d.throttling_failure_count || !d.throttling_failure_timestamp) return false;
  const waitMs = factor * 2 ** (d.throttling_failure_count - 1) * 1000;
  return now - new Date(d.throttling_failure_timestamp).getTime() < waitMs;
}

type Db = Kysely<Database> | Transaction<Database>;

export async function recordFailure(db: Db, table: DeviceTable, id: number) {
  await db
    .updateTable(table as 'totp_devices')
    .set((eb) => ({
      throttling_failure_timestamp: new Date().toISOString(),
      throttling_failure_count: eb('throttling_failure_count', '+', 1),
    }))
    .where('id', '=', id)
    .execute();
}

export const throttleReset = { throttling_failure_timestamp: null, throttling_failure_count: 0 };
