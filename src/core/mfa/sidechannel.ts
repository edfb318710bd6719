/**
 * One-time codes sent by e-mail or SMS: 6 random digits, stored only as an HMAC bound to the login attempt
 * (a nonce kept in the flow state), expiring, and consumed by a conditional UPDATE so a code works once, even
 * under concurrent use. Failed checks back off like the other code-based devices.
 */
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { DB } from '../../db/index.js';
import { isThrottled, throttleReset, type ThrottleState } from './throttle.js';

export type SideChannelTable = 'email_devices' | 'sms_devices';

export interface SideChannelDevice extends ThrottleState {
  id: number;
  token_hash: string | null;
  valid_until: string | null;
}

export const newNonce = () => randomBytes(16).toString('base64url');
export const newCode = () => String(randomInt(0, 1_000_000)).padStart(6, '0');
const hmac = (secret: string, nonce: string, code: string) => createHmac('sha256', secret).update(`${nonce}:${code}`).digest('hex');

/** a fresh code for the device, valid for `ttlMs`, usable only by the flow holding `nonce`; returns it for sending */
export async function issueCode(db: DB, table: SideChannelTable, id: number, secretKey: string, nonce: string, ttlMs: number): Promise<string> {
  const code = newCode();
  await db
    .updateTable(table)
    .set({ token_hash: hmac(secretKey, nonce, code), valid_until: new Date(Date.now() + ttlMs).toISOString() })
    .where('id', '=', id)
    .execute();
  return code;
}

/** true when `code` is the device's current code for this flow and unexpired; the code is spent */
export async function consumeCode(db: DB, table: SideChannelTable, d: SideChannelDevice, secretKey: string, nonce: string, code: string, factor: number): Promise<boolean> {
  const token = code.trim();
  if (!/^\d{6}$/.test(token) || !d.token_hash || !d.valid_until || isThrottled(d, factor)) return false;
  const want = Buffer.from(d.token_hash, 'hex');
  const got = Buffer.from(hmac(secretKey, nonce, token), 'hex');
  const now = new Date().toISOString();
  if (want.length === got.length && timingSafeEqual(want, got) && d.valid_until > now) {
    const res = await db
      .updateTable(table)
      .set({ token_hash: null, valid_until: null, last_used: now, last_updated: now, ...throttleReset })
      .where('id', '=', d.id)
      .where('token_hash', '=', d.token_hash)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
  if (factor > 0)
    await db
      .updateTable(table)
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
