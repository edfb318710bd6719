/**
 * TOTP (RFC 6238, SHA-1, as authenticator apps implement it) with ±1 step tolerance. A code is accepted once per
 * time step per device: the accepted step is stored with a conditional UPDATE, so a replay — even a concurrent
 * one — is refused.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { generateHOTP } from '@oslojs/otp';
import { encodeBase32NoPadding } from '@oslojs/encoding';
import type { DB } from '../../db/index.js';
import { hotWrite, perDatabase } from '../../db/hot.js';
import { asyncCommit } from '../../db/async-commit.js';
import type { TotpDevicesTable } from './table.js';
import { isThrottled, recordFailure, throttleReset } from '../throttle.js';
import { secretsOf, type Secrets } from '../../instance/secrets.js';

export const newTotpKey = () => randomBytes(20).toString('hex');

/** a new device's clock and throttling columns (30 s steps from the epoch, nothing used or failed yet) */
export const newTotpDeviceState = {
  step: 30,
  t0: 0,
  drift: 0,
  last_t: -1,
  throttling_failure_timestamp: null,
  throttling_failure_count: 0,
} as const;

/** the stored (encrypted) form of a device key, and back (core/secrets.ts) */
export const sealTotpKey = (secrets: Secrets, keyHex: string) => secrets.seal('totp_devices.key', keyHex);
export const totpKey = (db: DB, d: Pick<TotpDevicesTable, 'key'>) => secretsOf(db).open('totp_devices.key', d.key);

export function totpAt(keyHex: string, step: number, digits: number): string {
  return generateHOTP(Buffer.from(keyHex, 'hex'), BigInt(step), digits);
}

export function currentStep(d: Pick<TotpDevicesTable, 't0' | 'step'>, now = Date.now()): number {
  return Math.floor((now / 1000 - d.t0) / d.step);
}

/** the otpauth:// URL of a device; `d.key` is the key in clear */
export function configUrl(d: Pick<TotpDevicesTable, 'key' | 'digits' | 'step'>, username: string, issuer: string): string {
  const secret = encodeBase32NoPadding(Buffer.from(d.key, 'hex'));
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(username)}`;
  return `otpauth://totp/${label}?secret=${secret}&algorithm=SHA1&digits=${d.digits}&period=${d.step}&issuer=${encodeURIComponent(issuer)}`;
}

/**
 * records the accepted step, only if it is newer than the stored one; `later`: committed without waiting for the disk,
 * the request making it durable before it answers (StageCall.durableLater; PostgreSQL)
 */
const stepWrite = (later: boolean) =>
  perDatabase((db) =>
    hotWrite<{ id: number; t: number; drift: number; now: string }>(db, ['id', 't', 'drift', 'now'], (p) =>
      db
        .updateTable('totp_devices')
        .set({ last_t: p.t, drift: p.drift, last_used: p.now, last_updated: p.now, ...throttleReset })
        .where('id', '=', p.id)
        .where('last_t', '<', p.t)
        .$if(later, (q) => q.returning(asyncCommit())),
    ),
  );
const acceptStep = stepWrite(false);
const acceptStepLater = stepWrite(true);

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * true when `code` is valid for the device now and its step had not been used; updates drift, last_t, last_used.
 * `durableLater`: asked just before the step is written whether the write may leave its durability to the request
 * (StageCall.durableLater)
 */
export async function verifyTotp(
  db: DB,
  d: TotpDevicesTable,
  code: string,
  factor: number,
  durableLater?: () => boolean,
): Promise<boolean> {
  const token = code.trim();
  if (!/^\d{1,10}$/.test(token) || isThrottled(d, factor)) return false;
  const padded = token.padStart(d.digits, '0');
  const key = totpKey(db, d);
  const base = currentStep(d) + d.drift;
  for (const offset of [0, -1, 1]) {
    const t = base + offset;
    if (t <= d.last_t) continue;
    if (!same(totpAt(key, t, d.digits), padded)) continue;
    const write = durableLater?.() ? acceptStepLater : acceptStep;
    return (await write(db)({ id: d.id, t, drift: d.drift + offset, now: new Date().toISOString() })) === 1;
  }
  if (factor > 0) await recordFailure(db, 'totp_devices', d.id);
  return false;
}
