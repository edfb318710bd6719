/**
 * How many e-mail and SMS codes may be sent: per device, per login attempt, per client IP and per identifier, each
 * within a window, counted in the database so every node sees the same counts. A send is reserved on each counter
 * with one atomic upsert that only counts while the counter is under its limit (or its window has passed); the
 * returned row decides, so concurrent requests cannot all pass. When one counter refuses, the counters already
 * reserved are given back and nothing is sent.
 */
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import type { MfaSendConfig } from '../config.js';
import { normalizeIdentifier } from '../auth/lockout.js';
import { attemptKey, type SideChannelTable } from './sidechannel.js';

export const SEND_LIMIT_MESSAGE = 'Too many codes were sent. Please wait a while before requesting another one.';

export interface SendRequest {
  table: SideChannelTable;
  deviceId: number;
  /** the login attempt's nonce */
  nonce: string;
  ip: string;
  identifier: string;
}

/** the MFA counters; other senders (the e-mail stage) count under scopes of their own */
type Scope = 'device' | 'attempt' | 'ip' | 'account' | (string & {});

/** one atomic reservation on a counter: false when it is at its limit within the window */
export async function reserve(db: DB, scope: Scope, key: string, limit: number, windowMs: number): Promise<boolean> {
  const now = Date.now();
  const nowIso = new Date(now).toISOString();
  const cutoff = new Date(now - windowMs).toISOString();
  const row = await db
    .insertInto('mfa_sends')
    .values({ scope, key, count: 1, window_start: nowIso })
    .onConflict((oc) =>
      oc
        .columns(['scope', 'key'])
        .doUpdateSet({
          count: sql<number>`CASE WHEN mfa_sends.window_start < ${cutoff} THEN 1 ELSE mfa_sends.count + 1 END`,
          window_start: sql<string>`CASE WHEN mfa_sends.window_start < ${cutoff} THEN ${nowIso} ELSE mfa_sends.window_start END`,
        })
        .where((eb) => eb.or([eb('mfa_sends.window_start', '<', cutoff), eb('mfa_sends.count', '<', limit)])),
    )
    .returning('count')
    .executeTakeFirst();
  return row !== undefined && Number(row.count) <= limit;
}

/** gives a reservation back */
export async function release(db: DB, scope: Scope, key: string): Promise<void> {
  await db
    .updateTable('mfa_sends')
    .set((eb) => ({ count: eb('count', '-', 1) }))
    .where('scope', '=', scope)
    .where('key', '=', key)
    .where('count', '>', 0)
    .execute();
}

/** reserves one send on every limited counter; false (nothing reserved) when any of them is at its limit */
export async function reserveSend(db: DB, cfg: MfaSendConfig, r: SendRequest): Promise<boolean> {
  const counters: [Scope, string, number][] = [
    ['attempt', attemptKey(r.nonce), cfg.attempt],
    ['device', `${r.table}:${r.deviceId}`, cfg.device],
    ['account', normalizeIdentifier(r.identifier), cfg.account],
    ['ip', r.ip, cfg.ip],
  ];
  const taken: [Scope, string][] = [];
  for (const [scope, key, limit] of counters) {
    if (limit <= 0) continue;
    if (!(await reserve(db, scope, key, limit, cfg.windowMs))) {
      for (const [s, k] of taken) await release(db, s, k);
      return false;
    }
    taken.push([scope, key]);
  }
  // these counters whose window has long passed are of no use (other scopes have windows of their own: the hourly
  // housekeeping removes those, sweepSendCounters)
  await db
    .deleteFrom('mfa_sends')
    .where('scope', 'in', ['device', 'attempt', 'ip', 'account'])
    .where('window_start', '<', new Date(Date.now() - 2 * cfg.windowMs).toISOString())
    .execute();
  return true;
}

/** counters of any scope untouched for a week (longer than any window Keystage or an admin sets in practice) */
export async function sweepSendCounters(db: DB, maxAgeMs = 7 * 24 * 3_600_000): Promise<void> {
  await db
    .deleteFrom('mfa_sends')
    .where('window_start', '<', new Date(Date.now() - maxAgeMs).toISOString())
    .execute();
}

/**
 * The first code of a new unconfirmed device (`r.deviceId` in `r.table`): the send limits reserved for it, then
 * `send(device)`. The device goes again when a limit is reached (undefined) or the send fails (its error), so no try
 * leaves an unconfirmed device behind in the device lists.
 */
export async function sendFirstCode<T>(
  db: DB,
  cfg: MfaSendConfig,
  r: SendRequest,
  send: (device: T) => Promise<void>,
): Promise<T | undefined> {
  const table = r.table as 'email_devices';
  const drop = () => db.deleteFrom(table).where('id', '=', r.deviceId).execute();
  try {
    if (!(await reserveSend(db, cfg, r))) {
      await drop();
      return undefined;
    }
    const device = (await db.selectFrom(table).selectAll().where('id', '=', r.deviceId).executeTakeFirstOrThrow()) as unknown as T;
    await send(device);
    return device;
  } catch (e) {
    await drop().catch(() => {});
    throw e;
  }
}
