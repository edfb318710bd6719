/**
 * One-time codes sent by e-mail or SMS: 6 random digits, stored only as an HMAC, one row per device and login
 * attempt (a nonce kept in the flow state; the row holds its SHA-256), expiring, and consumed by a conditional
 * DELETE so a code works once, even under concurrent use. A new code for one login attempt leaves the codes of
 * other attempts working. Failed checks back off like the other code-based devices.
 */
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { DB } from '../db/index.js';
import { takeTurn } from '../db/locks.js';
import { isThrottled, throttleReset, type ThrottleState } from './throttle.js';
import { type DeviceRow, type DeviceTable, type Throttled, unconfirmedDevice } from './device-class.js';

/** the table of a class whose codes are sent (e-mail, SMS): it has the columns of `SideChannelColumns` */
export type SideChannelTable = DeviceTable;

/** the columns the e-mail and SMS device tables share */
export interface SideChannelColumns extends DeviceRow, Throttled {
  /** the setup stage that enrolled the device: its settings send the codes */
  stage: string | null;
  token_hash: string | null;
  valid_until: string | null;
}

export interface SideChannelDevice extends ThrottleState {
  id: number;
}

/**
 * a new unconfirmed device of a side-channel class (`table`: e-mail or SMS) enrolled by `stage`, with the class's own
 * columns (`own`: its address or number); its id
 */
export async function insertUnconfirmedDevice(
  db: DB,
  table: 'email_devices' | 'sms_devices',
  device: { user_id: number; stage: string; name: string },
  own: Record<string, unknown>,
): Promise<number> {
  const now = new Date().toISOString();
  const row = await db
    .insertInto(table)
    .values({ ...device, ...unconfirmedDevice(now), ...throttleReset, token_hash: null, valid_until: null, ...own } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** whether one of `values` is a confirmed device's address (`column`) on `stage` already, whoever has it */
export async function enrolledOnStage(
  db: DB,
  table: 'email_devices' | 'sms_devices',
  stage: string,
  column: 'email' | 'phone_number',
  values: readonly string[],
): Promise<boolean> {
  const row = await db
    .selectFrom(table)
    .select('id')
    .where('stage', '=', stage)
    .where('confirmed', '=', 1)
    .where(column as never, 'in', [...values] as never)
    .executeTakeFirst();
  return row !== undefined;
}

/** how confirming a pending device ended */
export type Confirmation = 'confirmed' | 'mismatch' | 'taken';

/**
 * the pending device `d` confirmed with `code` (its columns then set to `set`), unless its address (`values` in
 * `column`) was enrolled on the stage meanwhile — by another login at the same moment: the check, the code and the
 * confirmation hold one lock on the address, on every node, so an address is confirmed once per stage
 */
export async function confirmDevice(
  db: DB,
  table: 'email_devices' | 'sms_devices',
  d: SideChannelDevice & { stage: string | null },
  address: { column: 'email' | 'phone_number'; values: readonly string[] },
  code: { secretKey: string; nonce: string; code: string },
  set: Record<string, unknown> = {},
): Promise<Confirmation> {
  return db.transaction().execute(async (tx) => {
    await takeTurn(tx, `mfa-address:${table}:${d.stage}:${address.values[0]}`);
    if (await enrolledOnStage(tx, table, d.stage ?? '', address.column, address.values)) return 'taken';
    // the code used up and the device confirmed together (a failure between them would spend the code for nothing)
    if (!(await consumeCode(tx, table, d, code.secretKey, code.nonce, code.code, 1))) return 'mismatch';
    await tx
      .updateTable(table as 'email_devices')
      .set({ confirmed: 1, ...set })
      .where('id', '=', d.id)
      .execute();
    return 'confirmed';
  });
}

/** whether a response body carries `key` at all (an empty field sent, as against one left out) */
export const hasKey = (body: unknown, key: string) => !!body && typeof body === 'object' && Object.hasOwn(body, key);

export const newNonce = () => randomBytes(16).toString('base64url');
export const newCode = () => String(randomInt(0, 1_000_000)).padStart(6, '0');
const hmac = (secret: string, nonce: string, code: string) => createHmac('sha256', secret).update(`${nonce}:${code}`).digest('hex');
/** how a login attempt is named in the database: never the nonce itself */
export const attemptKey = (nonce: string) => createHash('sha256').update(nonce).digest('hex');

/** a fresh code for the device, valid for `ttlMs`, usable only by the flow holding `nonce`; returns it for sending */
export async function issueCode(
  db: DB,
  table: SideChannelTable,
  id: number,
  secretKey: string,
  nonce: string,
  ttlMs: number,
): Promise<string> {
  const code = newCode();
  const now = new Date();
  const row = {
    device_table: table,
    device_id: id,
    attempt: attemptKey(nonce),
    token_hash: hmac(secretKey, nonce, code),
    valid_until: new Date(now.getTime() + ttlMs).toISOString(),
  };
  await db
    .insertInto('mfa_codes')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['device_table', 'device_id', 'attempt']).doUpdateSet({ token_hash: row.token_hash, valid_until: row.valid_until }),
    )
    .execute();
  // expired codes of any device are of no use to anyone
  await db.deleteFrom('mfa_codes').where('valid_until', '<', now.toISOString()).execute();
  return code;
}

/** true when `code` is the device's current code for this flow and unexpired; the code is spent */
export async function consumeCode(
  db: DB,
  table: SideChannelTable,
  d: SideChannelDevice,
  secretKey: string,
  nonce: string,
  code: string,
  factor: number,
): Promise<boolean> {
  const token = code.trim();
  if (!/^\d{6}$/.test(token) || isThrottled(d, factor)) return false;
  const attempt = attemptKey(nonce);
  const stored = await db
    .selectFrom('mfa_codes')
    .select(['token_hash', 'valid_until'])
    .where('device_table', '=', table)
    .where('device_id', '=', d.id)
    .where('attempt', '=', attempt)
    .executeTakeFirst();
  if (!stored) return false;
  const want = Buffer.from(stored.token_hash, 'hex');
  const got = Buffer.from(hmac(secretKey, nonce, token), 'hex');
  const now = new Date().toISOString();
  if (want.length === got.length && timingSafeEqual(want, got) && stored.valid_until > now) {
    const res = await db
      .deleteFrom('mfa_codes')
      .where('device_table', '=', table)
      .where('device_id', '=', d.id)
      .where('attempt', '=', attempt)
      .where('token_hash', '=', stored.token_hash)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) !== 1) return false;
    await db
      .updateTable(table as 'email_devices')
      .set({ last_used: now, last_updated: now, ...throttleReset })
      .where('id', '=', d.id)
      .execute();
    return true;
  }
  if (factor > 0)
    await db
      .updateTable(table as 'email_devices')
      .set((eb) => ({ throttling_failure_timestamp: now, throttling_failure_count: eb('throttling_failure_count', '+', 1) }))
      .where('id', '=', d.id)
      .execute();
  return false;
}

/** authentik's e-mail mask: first character of the local part and of each domain label but the TLD, rest `*` */
export function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  const mask = (s: string) => (s.length <= 2 ? '*'.repeat(s.length) : s[0] + '*'.repeat(s.length - 1));
  const labels = domain.split('.');
  const tld = labels.pop() ?? '';
  return `${mask(local)}@${[...labels.map(mask), tld].join('.')}`;
}
