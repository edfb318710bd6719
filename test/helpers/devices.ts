/** Inserting MFA devices straight into the database, as enrolment would leave them (keys sealed, as in production). */
import type { DB } from '../../src/db/index.js';
import { secretsOf } from '../../src/instance/secrets.js';
import { newTotpDeviceState, newTotpKey, sealTotpKey } from '../../src/mfa/totp/totp.js';

export interface TotpDeviceOptions {
  /** the device name (default 'phone') */
  name?: string;
  /** whether enrolment was finished (default true) */
  confirmed?: boolean;
  /** the key in clear, hex (default a new random key) */
  key?: string;
  /** created and last_updated (default now) */
  created?: string;
}

/** a TOTP device of `userId` (6 digits, 30 s steps from the epoch, unused): its id and its key in clear */
export async function addTotpDevice(db: DB, userId: number, opts: TotpDeviceOptions = {}): Promise<{ id: number; key: string }> {
  const key = opts.key ?? newTotpKey();
  const created = opts.created ?? new Date().toISOString();
  const row = await db
    .insertInto('totp_devices')
    .values({
      ...newTotpDeviceState,
      user_id: userId,
      name: opts.name ?? 'phone',
      confirmed: (opts.confirmed ?? true) ? 1 : 0,
      created,
      last_updated: created,
      last_used: null,
      key: sealTotpKey(secretsOf(db), key),
      digits: 6,
    } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: Number(row.id), key };
}
