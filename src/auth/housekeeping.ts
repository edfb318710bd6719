/**
 * Hourly clean-up of what logins and password changes leave behind (authentik's scheduled tasks): expired
 * reputation scores, the password history once no uniqueness policy is left, and send/request counters a week
 * old. Unref'd: never keeps the process alive.
 */
import type { DB } from '../db/index.js';
import { purgeExpiredReputation } from './reputation.js';
import { purgeUnusedPasswordHistory } from './password-history.js';
import { sweepSendCounters } from '../mfa/send-limit.js';

export async function authHousekeeping(db: DB): Promise<void> {
  await purgeExpiredReputation(db);
  await purgeUnusedPasswordHistory(db);
  await sweepSendCounters(db);
}

export function startAuthHousekeeping(db: DB, log: (err: unknown) => void, everyMs = 3_600_000): () => void {
  const timer = setInterval(() => void authHousekeeping(db).catch(log), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
