/**
 * Hourly clean-up of what logins and password changes leave behind (authentik's scheduled tasks): expired
 * reputation scores, and the password history once no uniqueness policy is left. Unref'd: never keeps the process
 * alive.
 */
import type { DB } from '../db/index.js';
import { purgeExpiredReputation } from './reputation.js';
import { purgeUnusedPasswordHistory } from './password-history.js';

export async function authHousekeeping(db: DB): Promise<void> {
  await purgeExpiredReputation(db);
  await purgeUnusedPasswordHistory(db);
}

export function startAuthHousekeeping(db: DB, log: (err: unknown) => void, everyMs = 3_600_000): () => void {
  const timer = setInterval(() => void authHousekeeping(db).catch(log), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
